"""Text and JSON output: exact lines, caret placement, summary wording, JSON schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rflint.diagnostics import Diagnostic, Edit, Fix, Severity
from rflint.formats.json import JsonDiagnostic, JsonReport, parse_json, render_json
from rflint.formats.text import display_path, render_concise, render_full, summary
from rflint.ir import Location

SOURCE = """import torch.nn as nn

up = nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1, output_padding=1)
\tpool = nn.MaxPool2d(2)
"""

FIX = Fix(
    "Use kernel_size=4, output_padding=0",
    (Edit(3, 45, 3, 46, "4"), Edit(3, 80, 3, 81, "0")),
    safe=False,
)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def diags(root: Path) -> list[Diagnostic]:
    file = str(root / "nets" / "unet.py")
    return [
        Diagnostic("AA102", "MaxPool2d with stride 2 aliases", Location(file, 4, 9, 4, 24), Severity.WARNING),
        Diagnostic(
            "CB102",
            "ConvTranspose2d(k=3, s=2) overlaps unevenly",
            Location(file, 3, 6, 3, 86, chain=(f"{file}:40 UNet.__init__",)),
            Severity.WARNING,
            FIX,
            model="UNet",
            name="up",
        ),
    ]


def test_concise_lines_sorted_with_fix_marker(in_tmp: Path) -> None:
    # FIX is unsafe: [*] (what --fix applies) only with --unsafe-fixes, as ruff marks it.
    assert render_concise(diags(in_tmp), unsafe=True) == (
        f"nets{os.sep}unet.py:3:6: CB102 [*] ConvTranspose2d(k=3, s=2) overlaps unevenly\n"
        f"nets{os.sep}unet.py:4:9: AA102 MaxPool2d with stride 2 aliases"
    )
    assert render_concise(diags(in_tmp)).split("\n")[0] == (
        f"nets{os.sep}unet.py:3:6: CB102 ConvTranspose2d(k=3, s=2) overlaps unevenly")


def test_full_format_snippet_and_carets(in_tmp: Path) -> None:
    file = str(in_tmp / "nets" / "unet.py")
    shown = f"nets{os.sep}unet.py"
    out = render_full(diags(in_tmp), {file: SOURCE}, unsafe=True)
    assert out.split("\n") == [
        f"{shown}:3:6: CB102 [*] ConvTranspose2d(k=3, s=2) overlaps unevenly",
        "  |",
        "3 | up = nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1, output_padding=1)",
        "  |      " + "^" * 80 + " CB102",
        "  |",
        "  = help: Use kernel_size=4, output_padding=0 (unsafe)",
        "  = note: in model `UNet`, layer `up`",
        f"  = note: via {shown}:40 UNet.__init__",
        "",
        f"{shown}:4:9: AA102 MaxPool2d with stride 2 aliases",
        "  |",
        "4 | \tpool = nn.MaxPool2d(2)",
        "  | \t       " + "^" * 15 + " AA102",
        "  |",
    ]


def test_caret_column_matches_source_column(in_tmp: Path) -> None:
    src = "x = 1\nyy = nn.Conv2d(3, 3, 3)\n"
    d = Diagnostic("ST101", "msg", Location("m.py", 2, 6))
    lines = render_full([d], {"m.py": src}).split("\n")
    code_line, caret_line = lines[2], lines[3]
    assert code_line[code_line.index("|") + 2 :][5] == "n"  # column 6, 1-based
    assert caret_line.index("^") == code_line.index("n")
    assert caret_line.endswith("^ ST101")


def test_caret_multiline_span_and_wide_chars() -> None:
    src = "a = nn.Sequential(\n    nn.Conv2d(1, 1, 1),\n)\n# 日本 = nn.Conv2d(3, 3, 3)\n"
    multi = Diagnostic("ST101", "m", Location("m.py", 1, 5, 3, 2))
    lines = render_full([multi], {"m.py": src}).split("\n")
    assert lines[3] == "  |     " + "^" * len("nn.Sequential(") + " ST101"
    wide = Diagnostic("ST101", "m", Location("m.py", 4, 8, 4, 10))
    lines = render_full([wide], {"m.py": src}).split("\n")
    # "# 日本 = " is 7 characters but 9 terminal columns wide
    assert lines[3] == "  | " + " " * 9 + "^^ ST101"


def test_full_without_source_or_past_the_end(in_tmp: Path) -> None:
    d = Diagnostic("RL001", "file could not be parsed: invalid syntax", Location("bad.py", 7, 1), Severity.ERROR)
    assert render_full([d], {}) == "bad.py:7:1: RL001 file could not be parsed: invalid syntax"
    assert render_full([d], {"bad.py": "x = (\n"}) == "bad.py:7:1: RL001 file could not be parsed: invalid syntax"
    # a column past the end of the line (the error is at the newline)
    d = Diagnostic("RL001", "unexpected EOF", Location("bad.py", 1, 6))
    assert render_full([d], {"bad.py": "x = (\n"}).split("\n")[3] == "  |      ^ RL001"


def test_gutter_width_follows_line_number() -> None:
    src = "\n" * 119 + "net = Net()\n"
    d = Diagnostic("RF101", "m", Location("m.py", 120, 1, 120, 4))
    assert render_full([d], {"m.py": src}).split("\n")[1:4] == ["    |", "120 | net = Net()", "    | ^^^ RF101"]


def test_empty_output() -> None:
    assert render_concise([]) == ""
    assert render_full([], {}) == ""


def test_display_path(tmp_path: Path) -> None:
    cwd = str(tmp_path)
    assert display_path(str(tmp_path / "a" / "b.py"), cwd) == os.path.join("a", "b.py")
    outside = str(tmp_path.parent / "elsewhere.py")
    assert display_path(outside, cwd) == outside
    assert display_path("<stdin>", cwd) == "<stdin>"


@pytest.mark.parametrize(
    ("count", "safe", "unsafe", "expected"),
    [
        (0, 0, 0, "All checks passed!"),
        (1, 0, 0, "Found 1 issue."),
        (2, 0, 0, "Found 2 issues."),
        (2, 0, 1, "Found 2 issues (1 fixable with --unsafe-fixes)."),
        (2, 1, 0, "Found 2 issues (1 fixable with --fix)."),
        (3, 2, 1, "Found 3 issues (2 fixable with --fix, 1 more with --unsafe-fixes)."),
    ],
)
def test_summary(count: int, safe: int, unsafe: int, expected: str) -> None:
    found = [Diagnostic("CB102", "m", Location("a.py", i + 1)) for i in range(count)]
    assert summary(found, safe, unsafe) == expected
    assert summary(iter(found), safe, unsafe) == expected


# --------------------------------------------------------------------------- JSON


def test_json_fields_mirror_ruff(in_tmp: Path) -> None:
    data = json.loads(render_json(diags(in_tmp)))
    assert [d["code"] for d in data] == ["CB102", "AA102"]
    first = data[0]
    assert first == {
        "code": "CB102",
        "message": "ConvTranspose2d(k=3, s=2) overlaps unevenly",
        "severity": "warning",
        "filename": str(in_tmp / "nets" / "unet.py"),
        "location": {"row": 3, "column": 6},
        "end_location": {"row": 3, "column": 86},
        "fix": {
            "applicability": "unsafe",
            "message": "Use kernel_size=4, output_padding=0",
            "edits": [
                {"content": "4", "location": {"row": 3, "column": 45}, "end_location": {"row": 3, "column": 46}},
                {"content": "0", "location": {"row": 3, "column": 80}, "end_location": {"row": 3, "column": 81}},
            ],
        },
        "model": "UNet",
        "layer": None,  # the cross-reader layer key and the exported-model node: none on a hand-made finding
        "node": None,
    }
    assert data[1]["fix"] is None and data[1]["model"] is None


def test_json_relative_file_becomes_absolute_and_end_defaults_to_start(in_tmp: Path) -> None:
    d = Diagnostic("PD101", "m", Location("nets/a.py", 2, 3), Severity.INFO, Fix("pad", (), safe=True))
    (item,) = json.loads(render_json([d]))
    assert item["filename"] == str(in_tmp / "nets" / "a.py")
    assert item["end_location"] == item["location"] == {"row": 2, "column": 3}
    assert item["severity"] == "info" and item["fix"]["applicability"] == "safe"


def test_json_validates_and_round_trips(in_tmp: Path) -> None:
    text = render_json(diags(in_tmp))
    parsed = parse_json(text)
    assert all(isinstance(d, JsonDiagnostic) for d in parsed)
    assert JsonReport.dump_json(parsed, indent=2).decode() == text
    assert parse_json(render_json([])) == [] and render_json([]) == "[]"


def test_json_rejects_wrong_shape() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        parse_json('[{"code": "CB102"}]')
    with pytest.raises(ValidationError):
        parse_json(
            '[{"code": "X", "message": "", "severity": "fatal", "filename": "a", "location": {"row": 1, "column": 1},'
            ' "end_location": {"row": 1, "column": 1}, "fix": null, "model": null}]'
        )


def test_json_schema_is_available() -> None:
    schema = JsonReport.json_schema()
    assert schema["type"] == "array"
