"""The result cache: hits for unchanged input, misses for any change, and never unsafe."""

from __future__ import annotations

import json
from pathlib import Path

from rflint import api
from rflint.cache import CACHE_DIR
from rflint.config import default_config

SRC = """\
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 4, kernel_size=3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(x)
"""


def test_second_run_is_served_from_cache_and_a_change_is_not(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SRC)
    config = default_config(tmp_path)
    first = api.check_paths(["m.py"], config)
    assert [d.code for d in first.diagnostics] == ["CB102"]
    entries = list((tmp_path / CACHE_DIR).rglob("*.json"))
    assert len(entries) == 1
    assert (tmp_path / CACHE_DIR / ".gitignore").read_text().strip().endswith("*")

    calls = []
    monkeypatch.setattr(api, "check_text", lambda *a, **k: calls.append(a) or [])
    again = api.check_paths(["m.py"], config)
    assert not calls, "unchanged file should come from the cache"
    assert again.diagnostics == first.diagnostics
    assert again.diagnostics[0].fix == first.diagnostics[0].fix  # fixes survive the round trip

    (tmp_path / "m.py").write_text(SRC.replace("kernel_size=3", "kernel_size=5"))
    api.check_paths(["m.py"], config)
    assert len(calls) == 1, "a changed file must be checked again"


def test_a_corrupt_or_hostile_cache_entry_is_a_miss(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SRC)
    config = default_config(tmp_path)
    api.check_paths(["m.py"], config)
    (entry,) = (tmp_path / CACHE_DIR).rglob("*.json")
    entry.write_text(json.dumps({"dependencies": {}, "diagnostics": [{"code": "CB102"}]}))  # missing fields
    result = api.check_paths(["m.py"], config)
    assert [d.code for d in result.diagnostics] == ["CB102"]
    entry.write_bytes(b"\x80\x04cos\nsystem\n.")  # a pickle: never loaded as one
    result = api.check_paths(["m.py"], config)
    assert [d.code for d in result.diagnostics] == ["CB102"]


# ----------------------------------------------------------------------------- the warm path


def _run_check(cwd: Path) -> tuple[int, list[str]]:
    """`rflint check .` in a fresh interpreter; which heavy modules it imported."""
    import subprocess
    import sys

    heavy = ("pydantic", "rflint.config_schema", "rflint.readers.python.reader", "rflint.checks.pd")
    script = (
        "import sys\nfrom rflint.cli import main\ncode = main(['check', '.'])\n"
        f"print(code, [m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, check=True)
    code, loaded = out.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(code), json.loads(loaded.replace("'", '"'))


def test_a_warm_run_imports_no_pydantic_no_rule_and_no_reader(tmp_path: Path) -> None:
    """A run served from the cache only hashes files: the configuration's validated form
    and the findings are cached, so neither pydantic, the rules nor the reader load."""
    (tmp_path / "pyproject.toml").write_text("[tool.rflint]\ninput-size = 64\nignore = ['RF']\n")
    (tmp_path / "m.py").write_text(SRC)
    cold_code, cold = _run_check(tmp_path)
    assert cold_code == 1 and "pydantic" in cold and "rflint.checks.pd" in cold  # the test can tell
    warm_code, warm = _run_check(tmp_path)
    assert (warm_code, warm) == (1, [])


def test_the_validated_configuration_follows_the_file(tmp_path: Path) -> None:
    from rflint.config import ConfigError, load_config

    path = tmp_path / "rflint.toml"
    path.write_text("input-size = 64\n")
    fresh = load_config(path, cache=False)
    assert load_config(path).input_size == (64,)  # stores
    cached = load_config(path)  # served from the store
    assert cached.fingerprint() == fresh.fingerprint() and cached.input_size == (64,)
    assert list((tmp_path / CACHE_DIR).rglob("config/*.json"))
    path.write_text("input-size = [32, 48]\nobject-size = [8, 16]\n")
    assert (load_config(path).input_size, load_config(path).object_size) == ((32, 48), (8, 16))
    path.write_text("input-size = 'big'\n")
    for _ in range(2):  # an invalid file is never stored: it is reported every time
        try:
            load_config(path)
        except ConfigError as exc:
            assert "input-size" in str(exc)
        else:
            raise AssertionError("invalid configuration accepted")


def test_a_crafted_config_store_entry_is_a_miss_not_a_crash(tmp_path: Path) -> None:
    from rflint.config import load_config

    path = tmp_path / "rflint.toml"
    path.write_text("input-size = 64\n")
    load_config(path)
    (entry,) = (tmp_path / CACHE_DIR).rglob("config/*.json")
    entry.write_text('{"input_size": "not validated"}')
    assert load_config(path).input_size == (64,)


# ----------------------------------------------------------------------------- the in-process model memo

PADDED = """\
import torch.nn as nn


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=3, padding=1{mode})

    def forward(self, x):
        return self.conv(x)
"""


def test_the_model_memo_never_serves_a_stale_finding(tmp_path: Path) -> None:
    """An edit that changes only a layer's attributes (padding_mode), not its geometry,
    must change the findings: the memo's key covers attributes, not only the hash."""
    (tmp_path / "rflint.toml").write_text("input-size = 8\nselect = ['PD103']\n")
    path = str(tmp_path / "m.py")
    api._MODEL_MEMO.clear()
    zeros = api.check_buffer(path, PADDED.format(mode=""))
    assert [d.code for d in zeros.diagnostics] == ["PD103"]
    assert len(api._MODEL_MEMO) == 1
    again = api.check_buffer(path, PADDED.format(mode=""))
    assert again.diagnostics == zeros.diagnostics and len(api._MODEL_MEMO) == 1  # served
    reflect = api.check_buffer(path, PADDED.format(mode=", padding_mode='reflect'"))
    assert reflect.diagnostics == ()
    moved = api.check_buffer(path, "\n" + PADDED.format(mode=""))  # a line above: the finding moves
    assert [d.loc.line for d in moved.diagnostics] == [zeros.diagnostics[0].loc.line + 1]


# ----------------------------------------------------------------------------- forged and escaping caches


def _forge(tmp_path: Path, config, payload: dict) -> Path:
    """An entry where the current key scheme puts one for ``m.py``: what anyone who knows
    the rflint install can compute, and ship in a repository's ``.rflint_cache``."""
    from rflint import __version__
    from rflint.cache import key

    text = (tmp_path / "m.py").read_text()
    k = key("m.py", text, config.fingerprint(), "unresolved=False entries=[]")
    target = tmp_path / CACHE_DIR / __version__ / k[:2] / f"{k}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload))
    return target


def _evil_fix() -> dict:
    return {"dependencies": {}, "diagnostics": [{
        "code": "CB102", "message": "planted", "severity": 2, "model": None, "name": None, "layer": None,
        "loc": ["m.py", 1, 1, 1, 1, [], None],
        "fix": {"description": "x", "safe": True, "edits": [[1, 1, 1, 1, "import os; os.system('touch PWNED')\n"]]},
    }]}


def test_a_forged_entry_is_never_served_and_never_fixes(tmp_path: Path, monkeypatch) -> None:
    """A planted entry, in the old plain form or wrapped with a MAC of another secret, is a
    miss: the findings are the file's own, and ``--fix`` writes none of its edits."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SRC)
    config = default_config(tmp_path)
    entry = _forge(tmp_path, config, _evil_fix())
    result = api.check_paths(["m.py"], config)
    assert [d.message for d in result.diagnostics if d.message == "planted"] == []
    assert [d.code for d in result.diagnostics] == ["CB102"]

    body = json.dumps(_evil_fix())
    entry.write_text(json.dumps({"mac": "0" * 64, "body": body}))  # sealed with a secret it does not have
    api.fix_paths(["m.py"], config)
    assert "PWNED" not in (tmp_path / "m.py").read_text()
    assert [d.message for d in api.check_paths(["m.py"], config).diagnostics] != ["planted"]


def test_entries_are_sealed_with_a_secret_outside_the_repository(tmp_path: Path, monkeypatch) -> None:
    """The secret is in the user's cache directory, readable by the user only; with a
    different secret (another user, another machine) the same entries are misses."""
    from rflint import cache

    home = tmp_path / "home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    (project / "m.py").write_text(SRC)
    config = default_config(project)
    api.check_paths(["m.py"], config)
    secret = home / "rflint" / "secret"
    assert secret.is_file() and secret.stat().st_mode & 0o077 == 0
    assert not list(project.rglob("secret"))

    calls = []
    real = api.check_text
    monkeypatch.setattr(api, "check_text", lambda *a, **k: calls.append(a) or real(*a, **k))
    api.check_paths(["m.py"], config)
    assert not calls  # served: sealed with this secret
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-home"))
    assert [d.code for d in api.check_paths(["m.py"], config).diagnostics] == ["CB102"]
    assert len(calls) == 1  # another secret: a miss
    assert cache.secret() != secret.read_bytes().strip()


def test_nothing_is_written_through_a_symlinked_cache(tmp_path: Path, monkeypatch) -> None:
    """A shipped ``.rflint_cache/.gitignore`` linked to the user's global ignore file, or
    a ``.rflint_cache`` linked elsewhere: the targets are left as they were."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SRC)
    config = default_config(tmp_path)
    outside = tmp_path / "global-gitignore"
    outside.write_text("*.log\n")
    (tmp_path / CACHE_DIR).mkdir()
    (tmp_path / CACHE_DIR / ".gitignore").symlink_to(outside)
    assert [d.code for d in api.check_paths(["m.py"], config).diagnostics] == ["CB102"]
    assert outside.read_text() == "*.log\n"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for p in (tmp_path / CACHE_DIR).iterdir():
        p.unlink() if p.is_symlink() or p.is_file() else None
    import shutil

    shutil.rmtree(tmp_path / CACHE_DIR)
    (tmp_path / CACHE_DIR).symlink_to(elsewhere, target_is_directory=True)
    assert [d.code for d in api.check_paths(["m.py"], config).diagnostics] == ["CB102"]
    assert list(elsewhere.iterdir()) == []


def test_a_dependency_that_is_a_fifo_or_a_device_is_not_read(tmp_path: Path) -> None:
    """A planted dependency path naming a FIFO (which would block) or ``/dev/zero`` (which
    never ends) hashes to '' at once: the entry is stale, nothing is read."""
    import os
    import time

    from rflint.cache import content_hash

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    start = time.monotonic()
    assert content_hash(str(fifo)) == ""
    assert content_hash("/dev/zero") == ""
    assert time.monotonic() - start < 5
    (tmp_path / "dep.py").write_text("x = 1\n")
    assert len(content_hash(str(tmp_path / "dep.py"))) == 64


HELPERS = """
import torch.nn as nn


def down(c):
    return nn.Conv2d(c, c, 3, stride=1, padding=1)
"""

USER = """
import torch.nn as nn
from helpers import down


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.d = down(8)

    def forward(self, x):
        return self.d(x)
"""


def test_a_helper_another_file_loaded_first_is_a_dependency_of_both(tmp_path: Path, monkeypatch) -> None:
    """a.py and b.py import helpers.py, read once for the run (by a.py, first). b.py's
    entry must depend on it too: after helpers.py changes, b.py alone is checked again."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "helpers.py").write_text(HELPERS)
    (tmp_path / "a.py").write_text(USER)
    (tmp_path / "b.py").write_text(USER)
    config = default_config(tmp_path)
    assert not api.check_paths(["a.py", "b.py"], config, jobs=1).diagnostics
    (tmp_path / "helpers.py").write_text(HELPERS.replace("stride=1", "stride=2"))
    assert "AA101" in [d.code for d in api.check_paths(["b.py"], config, jobs=1).diagnostics]
