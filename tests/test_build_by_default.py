"""A plain ``rflint check`` builds every model: factory functions too.

A block's strided layers often exist only as its factory builds it: ResNet's
``_make_layer`` passes ``stride=2`` to a block whose default is ``stride=1``.
Analysed alone, the block has no strided layer; built by its factory, it has
two (the 3x3 convolution and the 1x1 shortcut). No configuration, no sizes.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from rflint import api
from rflint.cli import main

SOURCE = textwrap.dedent('''\
    import torch.nn as nn


    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
            self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride)

        def forward(self, x):
            return self.conv(x) + self.shortcut(x)


    class Net(nn.Module):
        def __init__(self, strides) -> None:
            super().__init__()
            self.blocks = nn.Sequential(*[Block(8, 8, s) for s in strides])

        def forward(self, x):
            return self.blocks(x)


    def net():
        return Net((1, 2))
''')

CONV_LINE = 7  # self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1)
SHORTCUT_LINE = 8  # self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride)


def _at(diagnostics, code: str, line: int) -> list:
    return [d for d in diagnostics if d.code == code and d.loc.line == line]


def test_the_lines_are_the_ones_named() -> None:
    lines = SOURCE.splitlines()
    assert "nn.Conv2d(cin, cout, 3" in lines[CONV_LINE - 1]
    assert "nn.Conv2d(cin, cout, 1" in lines[SHORTCUT_LINE - 1]


def test_a_plain_check_finds_the_strides_only_the_factory_sets(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(SOURCE, encoding="utf-8")
    result = api.check_paths([tmp_path / "model.py"], discover_config=False, use_cache=False)
    found = result.diagnostics
    shown = "\n".join(f"{d.code} {d.loc.line} [{d.model}] {d.message[:70]}" for d in found)
    aa101 = _at(found, "AA101", CONV_LINE)
    st101 = _at(found, "ST101", SHORTCUT_LINE)
    assert len(aa101) == 1 and len(st101) == 1, shown
    # Reported once, as the factory's model, with the chain of calls that built the layer.
    assert aa101[0].model == "net" and st101[0].model == "net", shown
    assert any("Block()" in frame for frame in aa101[0].loc.chain), aa101[0].loc.chain


def test_the_command_line_reports_them_without_configuration(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "model.py").write_text(SOURCE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code = main(["check", "model.py", "--no-cache", "--output-format", "concise"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"model.py:{CONV_LINE}:" in out and "AA101" in out, out
    assert f"model.py:{SHORTCUT_LINE}:" in out and "ST101" in out, out
