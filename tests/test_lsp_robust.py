"""The language server stays responsive whatever it is sent (issue 14): a request with
invalid params gets an error response, a slow document holds one lane while another
document's diagnostics go on in the other, a shutdown never waits for a read, a read
has a document budget that the next read goes beyond, and a request that outlives its
deadline gets its worker process killed and replaced.

The server tests talk JSON-RPC over the real server's standard input and output: a
client library would refuse to send the malformed requests."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

from rflint import lsp_worker  # noqa: E402
from rflint.config import default_config  # noqa: E402

FAST = '''\
import torch.nn as nn


class Fast(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 8, 3, stride=2)

    def forward(self, x):
        return self.c(x)
'''


def slow_source(classes: int, steps: int = 50_000) -> str:
    """Classes that each take the reader some 0.7 s (a loop of ``steps`` iterations that
    has built a layer, so it is not stopped as idle) and then make one strided conv."""
    parts = ["import torch.nn as nn\n"]
    for k in range(classes):
        parts.append(f'''

class Slow{k}(nn.Module):
    def __init__(self):
        super().__init__()
        n = 0
        while n < {steps}:
            if n == 0:
                self.first = nn.Identity()
            n = n + 1
        self.c = nn.Conv2d(3, 8, 3, stride=2)

    def forward(self, x):
        return self.c(self.first(x))
''')
    return "".join(parts)


class RawClient:
    """A JSON-RPC client that sends whatever it is given, and keeps what arrives."""

    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "rflint", "server"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root)
        self.arrived: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.kept: list[tuple[float, dict[str, Any]]] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.request(1, "initialize", {"processId": None, "rootUri": root.as_uri(), "capabilities": {}})
        self.notify("initialized", {})

    def _read(self) -> None:
        out = self.process.stdout
        assert out is not None
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = out.read(1)
                if not byte:
                    return
                header += byte
            length = next(int(line.split(b":")[1]) for line in header.split(b"\r\n") if line.lower().startswith(b"content-length"))
            self.arrived.put((time.monotonic(), json.loads(out.read(length))))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, id_: int, method: str, params: Any, timeout: float = 30.0) -> dict[str, Any]:
        self.send({"id": id_, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == id_ and "method" not in m, timeout)[1]

    def wait(self, wanted: Any, timeout: float = 60.0) -> tuple[float, dict[str, Any]]:
        """The first message (kept or new) that ``wanted`` accepts, with when it arrived."""
        for item in self.kept:
            if wanted(item[1]):
                return item
        deadline = time.monotonic() + timeout
        while True:
            item = self.arrived.get(timeout=max(deadline - time.monotonic(), 0.01))
            self.kept.append(item)
            if wanted(item[1]):
                return item

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        return uri

    def diagnostics(self, uri: str, timeout: float = 60.0) -> tuple[float, list[dict[str, Any]]]:
        when, message = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                                  and m["params"]["uri"] == uri, timeout)
        return when, message["params"]["diagnostics"]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def raw(tmp_path: Path):
    (tmp_path / "rflint.toml").write_text("")
    client = RawClient(tmp_path)
    yield client
    client.close()


def test_invalid_params_get_an_error_response(raw: RawClient, tmp_path: Path) -> None:
    uri = raw.open(tmp_path / "fast.py", FAST)
    for id_, method, params in [(2, "textDocument/hover", {"textDocument": {"uri": uri}}),
                                (3, "textDocument/hover", {"textDocument": {"uri": uri}, "position": "here"}),
                                (4, "textDocument/codeAction", {}),
                                (5, "textDocument/hover", 5)]:
        answer = raw.request(id_, method, params)
        assert answer["error"]["code"] == -32602, answer  # InvalidParams
        assert method in answer["error"]["message"]
    assert "position" in raw.request(6, "textDocument/hover", {"textDocument": {"uri": uri}})["error"]["message"]
    # A notification with bad params is no reason to stop: the server still works.
    raw.notify("textDocument/didChange", {"contentChanges": 3})
    _, found = raw.diagnostics(uri)
    assert [d["code"] for d in found] == ["AA101"]
    hover = raw.request(7, "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 6, "character": 20}})
    assert "Conv2d" in hover["result"]["contents"]["value"]


@pytest.mark.slow
def test_a_slow_document_does_not_hold_up_another(raw: RawClient, tmp_path: Path) -> None:
    slow = raw.open(tmp_path / "slow.py", slow_source(8))  # some 5 s, within the document budget
    time.sleep(0.5)
    fast = raw.open(tmp_path / "fast.py", FAST)
    fast_at, fast_found = raw.diagnostics(fast)
    slow_at, slow_found = raw.diagnostics(slow)
    assert [d["code"] for d in fast_found] == ["AA101"]
    assert fast_at < slow_at, "the fast document waited for the slow one"
    assert [d["code"] for d in slow_found] == ["AA101"] * 8  # and the slow one was read whole


@pytest.mark.slow
def test_shutdown_does_not_wait_for_a_read(raw: RawClient, tmp_path: Path) -> None:
    raw.open(tmp_path / "slow.py", slow_source(14))  # as long as the document budget allows
    time.sleep(1.0)
    start = time.monotonic()
    assert raw.request(2, "shutdown", None)["result"] is None
    raw.notify("exit", None)
    assert raw.process.wait(timeout=30) == 0
    assert time.monotonic() - start < 4.0, "the exit waited for the read"


def test_a_read_has_a_document_budget_and_the_next_read_goes_further(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(lsp_worker, "_SESSIONS", {})
    monkeypatch.setattr(lsp_worker, "DOCUMENT_BUDGET", 1.0)
    path = tmp_path / "slow.py"
    text = slow_source(4)
    path.write_text(text)
    config = default_config(tmp_path)
    complete: list[int] = []
    for _ in range(8):
        start = time.monotonic()
        found = lsp_worker.lint(str(path), text, config)
        assert time.monotonic() - start < 4.0  # one class may run at most to the budget's end
        cut = [d for d in found if d.code == "RL004"]
        assert all("the document's time budget" in d.message for d in cut), cut
        complete.append(sum(d.code == "AA101" for d in found))
        if not cut:
            break
    assert complete[0] < 4 and complete[-1] == 4, complete  # cut at first, whole in the end
    assert complete == sorted(complete)


def test_a_document_above_max_file_size_is_not_read(tmp_path: Path) -> None:
    text = FAST + "\n".join(f"x{i} = {i}" for i in range(200_000))  # ~2.5 MB
    found = lsp_worker.lint(str(tmp_path / "big.py"), text, default_config(tmp_path))
    assert [d.code for d in found] == ["RL001"] and "max-file-size" in found[0].message


def test_a_request_past_its_deadline_kills_the_worker_and_the_next_starts_afresh(tmp_path: Path) -> None:
    worker = lsp_worker.Worker("test")
    try:
        path = tmp_path / "fast.py"
        path.write_text(FAST)
        config = default_config(tmp_path)
        assert [d.code for d in worker.request("lint", (str(path), FAST, config), 60.0)] == ["AA101"]
        first = worker._process
        start = time.monotonic()
        with pytest.raises(lsp_worker.Abandoned, match="no answer within 1 s"):
            worker.request("sleep", (600,), 1.0)  # a request that would never end
        assert time.monotonic() - start < 10.0
        assert not first.is_alive()
        assert [d.code for d in worker.request("lint", (str(path), FAST, config), 60.0)] == ["AA101"]
        assert worker._process is not first
    finally:
        worker.close()
