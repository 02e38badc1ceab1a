"""rflint's own family: unreadable files, unresolved constructs on request, unused noqa."""

from __future__ import annotations

import textwrap

from rflint.api import check_text
from rflint.config import default_config
from rflint.fixes import apply_fixes

SRC = textwrap.dedent("""\
    import torch.nn as nn
    from mylib import make_block


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)  # noqa: CB102
            self.up = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1)  # noqa: CB102, E501, AA101
            self.b = nn.Conv2d(3, 8, 3, padding=1)  # noqa
            self.other = make_block(8)

        def forward(self, x):
            return self.up(self.conv(x))
""")


def codes(diags):
    return sorted((d.code, d.loc.line) for d in diags)


def test_unused_noqa_is_off_by_default_and_precise_when_on() -> None:
    assert codes(check_text("net.py", SRC)) == []
    config = default_config().with_overrides(extend_select=["RL003"])
    found = [d for d in check_text("net.py", SRC, config) if d.code == "RL003"]
    # Line 8 suppresses nothing; line 9's CB102 is used, AA101 is not, E501 is another tool's;
    # line 10 is a bare noqa (maybe another linter's): left alone.
    assert codes(found) == [("RL003", 8), ("RL003", 9)]
    assert "AA101" in found[1].message and "CB102" not in found[1].message
    fixed = apply_fixes(SRC, found).text.splitlines()
    assert fixed[7] == "        self.conv = nn.Conv2d(3, 8, 3, padding=1)"
    assert fixed[8].endswith("# noqa: CB102, E501")
    assert codes([d for d in check_text("net.py", "\n".join(fixed) + "\n", config) if d.code == "RL003"]) == []


def test_unresolved_constructs_on_request() -> None:
    # `make_block` cannot be read; once forward applies it, the graph needs it.
    src = SRC.replace("return self.up(self.conv(x))", "return self.other(self.up(self.conv(x)))")
    assert not [d for d in check_text("net.py", src) if d.code == "RL002"]
    shown = [d for d in check_text("net.py", src, default_config().with_overrides(extend_select=["RL002"]))
             if d.code == "RL002"]
    assert any(d.loc.line == 11 and "make_block" in d.message for d in shown), shown
    assert shown == [d for d in check_text("net.py", src, show_unresolved=True) if d.code == "RL002"]


def test_what_no_layer_needs_is_not_unresolved() -> None:
    """An attribute built from code rflint cannot read, that forward never uses, leaves the
    model complete and is not an RL002 finding (issue: code that builds no layer never
    breaks a graph)."""
    shown = [d for d in check_text("net.py", SRC, show_unresolved=True) if d.code == "RL002"]
    assert shown == []


def test_unreadable_file_is_reported_even_when_not_selected() -> None:
    config = default_config().with_overrides(select=["CB"])
    (d,) = check_text("bad.py", "class (:\n", config)
    assert d.code == "RL001" and d.loc.line == 1


def test_form_feed_does_not_shift_lines() -> None:
    """Python numbers lines by \\n, \\r\\n and \\r only; a form feed in a comment must not
    move the line a finding or a # noqa is on."""
    src = SRC.replace("from mylib import make_block\n", "from mylib import make_block  # page\x0cbreak\n")
    up = next(i for i, line in enumerate(src.split("\n"), 1) if "ConvTranspose2d" in line)
    plain = src.replace("  # noqa: CB102, E501, AA101", "")
    (d,) = [d for d in check_text("net.py", plain) if d.code == "CB102"]
    assert d.loc.line == up
    assert not [d for d in check_text("net.py", src) if d.code == "CB102"]  # its noqa still works


def test_add_noqa_suppresses_everything_in_place(tmp_path, monkeypatch) -> None:
    from rflint import api

    monkeypatch.chdir(tmp_path)
    src = SRC.replace("  # noqa: CB102, E501, AA101", "").replace("  # noqa: CB102\n", "  # noqa: E501\n")
    (tmp_path / "net.py").write_bytes(src.replace("\n", "\r\n").encode())
    assert [d.code for d in api.check_paths(["net.py"], use_cache=False).diagnostics] == ["CB102"]
    assert api.add_noqa(["net.py"]) == {"net.py": 1}
    text = (tmp_path / "net.py").read_bytes().decode()
    assert "output_padding=1)  # noqa: CB102\r\n" in text and "\n" not in text.replace("\r\n", "")
    assert "# noqa: E501\r\n" in text  # another tool's noqa left as it was
    assert api.check_paths(["net.py"], use_cache=False).diagnostics == ()
