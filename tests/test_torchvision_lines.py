"""Findings in the installed torchvision source point at the line that built the layer.

ResNet-50's stem max pool (``MaxPool2d(kernel_size=3, stride=2)``) takes a max
and subsamples in one step: AA102. The expected line is found by searching the
installed ``resnet.py`` for the constructor's text, never written down, so the
test survives a torchvision upgrade. Nothing here imports torch or torchvision:
rflint reads the file, and ``find_spec`` only locates it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rflint import api

CONSTRUCTOR = "self.maxpool = nn.MaxPool2d("


def _resnet_py() -> Path:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        pytest.skip("torchvision is not installed")
    return Path(spec.origin).parent / "models" / "resnet.py"


@pytest.fixture(scope="module")
def resnet() -> tuple[str, str, int, int]:
    """(path, text, line, column) of the max pool's constructor in the installed resnet.py."""
    path = _resnet_py()
    text = path.read_text(encoding="utf-8")
    hits = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if CONSTRUCTOR in line]
    assert len(hits) == 1, f"{path}: expected one {CONSTRUCTOR!r}, found {len(hits)}"
    line_no, line = hits[0]
    col = line.index("nn.MaxPool2d(") + 1  # the call expression, 1-based as editors show it
    return str(path), text, line_no, col


def _aa102_at(diagnostics, path: str, line: int) -> list:
    """AA102 findings at ``path:line`` (shown paths may be relative to the working directory)."""
    return [d for d in diagnostics
            if d.code == "AA102" and d.loc.line == line and Path(d.loc.file).resolve() == Path(path).resolve()]


def _show(diagnostics) -> str:
    return "\n".join(f"{d.code} {d.loc.file}:{d.loc.line}:{d.loc.col} [{d.model}] {d.message[:80]}" for d in diagnostics)


def test_check_text_reports_the_stem_max_pool_at_its_line(resnet) -> None:
    path, text, line, col = resnet
    found = api.check_text(path, text)
    hits = _aa102_at(found, path, line)
    assert len(hits) == 1, _show(found)
    assert hits[0].loc.col == col, _show(hits)


def test_check_text_of_resnet50_reports_it_once_at_its_line(resnet) -> None:
    """The resnet50 factory named as an entry (as ``[[models]]`` or ``FILE::resnet50`` do):
    the finding is resnet50's, at the constructor's line, reported once."""
    path, text, line, col = resnet
    found = api.check_text(path, text, entries=[("resnet50", {})])
    hits = _aa102_at(found, path, line)
    assert len(hits) == 1, _show(found)
    assert (hits[0].loc.col, hits[0].model) == (col, "resnet50"), _show(hits)
    assert [d for d in found if d.code == "AA102"] == hits, _show(found)


def test_check_paths_of_resnet50_reports_it_at_its_line(resnet) -> None:
    """The same through ``check_paths`` with default settings (no configuration file,
    no cache): the installed file named explicitly, and as ``resnet.py::resnet50``."""
    path, _, line, col = resnet
    plain = api.check_paths([path], discover_config=False, use_cache=False)
    assert len(_aa102_at(plain.diagnostics, path, line)) == 1, _show(plain.diagnostics)
    named = api.check_paths([f"{path}::resnet50"], discover_config=False, use_cache=False)
    hits = _aa102_at(named.diagnostics, path, line)
    assert len(hits) == 1, _show(named.diagnostics)
    assert (hits[0].loc.col, hits[0].model) == (col, "resnet50"), _show(hits)


def _line_after(text: str, start: str, needle: str) -> tuple[int, int]:
    """(line, column) of the first ``needle`` after the line that starts with ``start``."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    i = next(i for i in range(first, len(lines)) if needle in lines[i])
    return i + 1, lines[i].index(needle) + 1


def test_block_strides_set_by_the_factories_are_found_without_sizes(resnet) -> None:
    """The blocks' strided convolutions exist only once ``_make_layer`` passes
    ``stride=2``: a plain check (no configuration, no sizes) builds the factories and
    reports the 3x3 convolution (AA101) and the 1x1 stride-2 shortcut (ST101), each once."""
    path, text, _, _ = resnet
    found = api.check_paths([path], discover_config=False, use_cache=False).diagnostics
    for code, helper in (("AA101", "def conv3x3("), ("ST101", "def conv1x1(")):
        line, col = _line_after(text, helper, "nn.Conv2d(")
        hits = [d for d in found if d.code == code and d.loc.line == line
                and Path(d.loc.file).resolve() == Path(path).resolve()]
        assert len(hits) == 1, f"{code} at {line}:\n{_show(found)}"
        assert hits[0].loc.col == col, _show(hits)
