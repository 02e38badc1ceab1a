"""Editor latency: time from ``didChange`` to ``publishDiagnostics`` for a 1,000-line model file.

Run: ``python benchmarks/bench_lsp.py`` (``--edits N``, ``--lines N``; ``--installed
torchvision/models/resnet.py`` edits a copy of a real model file, in its package). It starts
``rflint server`` as an editor would (a subprocess on stdio, driven by pygls'
LSP client), opens a generated model file of about 1,000 lines (helpers,
blocks, a dozen model classes, one transposed conv with a finding), then makes
N single-character edits, one at a time, and for each measures the wall time
from sending the change to receiving the diagnostics of that version.

Printed: the median and the spread with the server's default (no debounce: the
cost of the lint itself), and with ``--debounce-ms 150`` (a pause for more typing,
for slow machines), which adds the pause. DESIGN.md's target is <= 100 ms. No assertion:
the numbers are for the notes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

BLOCK = '''

def conv_bn_{i}(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Block{i}(nn.Module):
    def __init__(self, channels: int = {c}) -> None:
        super().__init__()
        self.a = conv_bn_{i}(channels, channels)
        self.b = conv_bn_{i}(channels, channels)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x):
        return self.pool(self.b(self.a(x)) + x)


# rflint: input-size=224 object-size=16..96
class Net{i}(nn.Module):
    def __init__(self, width: int = {c}) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, width, kernel_size=3, padding=1)
        self.blur = nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
        self.down = nn.Conv2d(width, width, kernel_size=3, stride=2, padding=1)
        self.stage1 = Block{i}(width)
        self.stage2 = Block{i}(width)
        self.head = nn.Conv2d(width, 10, kernel_size=1)

    def forward(self, x):
        x = self.down(self.blur(self.stem(x)))
        x = self.stage2(self.stage1(x))
        return self.head(x)
'''

DECODER = '''

class Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(32, 16, kernel_size=3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(x)
'''


def model_file(lines: int) -> str:
    parts = ['"""A generated model file for the editor latency benchmark."""\n\nimport torch\nfrom torch import nn\n', DECODER]
    i = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(BLOCK.format(i=i, c=16 + 8 * (i % 4)))
        i += 1
    return "".join(parts)


def installed_copy(relative: str, into: Path) -> Path:
    """Copy an installed package (``torchvision/models/resnet.py`` names torchvision) into
    ``into``, so the document is edited in its package and its relative imports resolve."""
    import importlib.util
    import shutil

    package = relative.split("/", 1)[0]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed")
    shutil.copytree(Path(spec.origin).parent, into / package,
                    ignore=shutil.ignore_patterns("*.so", "*.pyc", "__pycache__", "*.pyd", "*.dll"))
    return into / relative


async def measure(text: str | None, edits: int, debounce_ms: int | None, installed: str | None = None,
                  at: str = "kernel_size=1)") -> list[float]:
    client = LanguageClient("rflint-bench", "1")
    arrived: dict[int, float] = {}
    event = asyncio.Event()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def published(params: types.PublishDiagnosticsParams) -> None:
        if params.version is not None:
            arrived[params.version] = time.perf_counter()
            event.set()

    command = [sys.executable, "-m", "rflint", "server"]
    if debounce_ms is not None:
        command += ["--debounce-ms", str(debounce_ms)]
    await client.start_io(*command)
    with tempfile.TemporaryDirectory() as tmp:
        if installed:
            path = installed_copy(installed, Path(tmp))
            text = path.read_text(encoding="utf-8")
        else:
            path = Path(tmp) / "models.py"
            path.write_text(text or "")
        (Path(tmp) / "rflint.toml").write_text("")
        await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=Path(tmp).as_uri()))
        client.initialized(types.InitializedParams())
        uri = path.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=0, text=text)))
        await wait_for(arrived, event, 0)
        lines = text.split("\n")
        target = next(i for i, line in enumerate(lines) if at in line)
        col = len(lines[target]) - 1  # just before the call's closing parenthesis
        times = []
        for version in range(1, edits + 1):
            # a keystroke: type a space, then delete it again
            here = types.Position(target, col)
            if version % 2:
                change = types.TextDocumentContentChangePartial(range=types.Range(here, here), text=" ")
            else:
                change = types.TextDocumentContentChangePartial(
                    range=types.Range(here, types.Position(target, col + 1)), text="")
            start = time.perf_counter()
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version), [change]))
            await wait_for(arrived, event, version)
            times.append(arrived[version] - start)
        await client.shutdown_async(None)
        client.exit(None)
    await client.stop()
    return times


async def wait_for(arrived: dict[int, float], event: asyncio.Event, version: int) -> None:
    async def wait() -> None:
        while version not in arrived:
            event.clear()
            await event.wait()
    await asyncio.wait_for(wait(), 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--installed", metavar="PACKAGE/PATH.py",
                        help="edit a copy of an installed file in its package instead, e.g. torchvision/models/resnet.py")
    parser.add_argument("--at", default=None, help="edit at the end of the first line containing this text")
    args = parser.parse_args()
    text = None if args.installed else model_file(args.lines)
    at = args.at or ("nn.Conv2d(" if args.installed else "kernel_size=1)")
    if text is not None:
        print(f"model file: {text.count(chr(10))} lines, {text.count('class ')} classes; {args.edits} edits")
    else:
        print(f"model file: a copy of the installed {args.installed}; {args.edits} edits")
    for label, debounce in (("change -> diagnostics, default (no debounce)", None),
                            ("change -> diagnostics, --debounce-ms 150", 150)):
        times = asyncio.run(measure(text, args.edits, debounce, args.installed, at))
        ms = sorted(t * 1000 for t in times)
        print(f"{label:<44} median {statistics.median(ms):7.1f} ms   "
              f"min {ms[0]:.1f}  p90 {ms[int(0.9 * (len(ms) - 1))]:.1f}  max {ms[-1]:.1f} ms   target <= 100 ms")


if __name__ == "__main__":
    main()
