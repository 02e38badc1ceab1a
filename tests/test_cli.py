"""The installed ``rflint`` command, run as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from import_guard import BLOCKER

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
RFLINT = shutil.which("rflint")


def run(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [RFLINT, *args] if RFLINT else [sys.executable, "-m", "rflint", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, input=stdin, timeout=120)


def line_of(path: Path, needle: str) -> int:
    """The 1-based line where ``needle`` first appears: expected lines come from the text."""
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


TINY = """\
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, 4, kernel_size=3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(self.b(self.a(x)))
"""


def test_version_is_printed() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("rflint ")


def test_check_examples_reports_each_rule_at_its_line() -> None:
    result = run("check", ".", "--output-format", "concise", cwd=EXAMPLES)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    unet_line = line_of(EXAMPLES / "unet.py", "nn.ConvTranspose2d(")
    # CB102's fix is unsafe: not marked [*], which says what --fix applies (ruff's convention)
    assert any(l.startswith(f"unet.py:{unet_line}:") and " CB102 Conv" in l for l in lines), lines
    pool_line = line_of(EXAMPLES / "classifier.py", "nn.MaxPool2d(")
    assert any(l.startswith(f"classifier.py:{pool_line}:") and " AA102 " in l for l in lines), lines
    gap_line = line_of(EXAMPLES / "autoencoder.py", "kernel_size=1, stride=2")
    assert any(l.startswith(f"autoencoder.py:{gap_line}:") and " CB101 " in l for l in lines), lines
    shortcut_line = line_of(EXAMPLES / "classifier.py", "kernel_size=1, stride=stride")
    assert any(l.startswith(f"classifier.py:{shortcut_line}:") and " ST101 " in l for l in lines), lines
    assert any(" RF101 " in l and l.startswith("classifier.py:") for l in lines), lines
    assert not any(l.startswith("clean.py") for l in lines), lines
    assert lines[-1].startswith("Found ") and "fixable with --unsafe-fixes" in lines[-1]


def test_clean_model_passes() -> None:
    result = run("check", "clean.py", cwd=EXAMPLES)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("All checks passed!")


def test_full_format_shows_source_and_caret(tmp_path: Path) -> None:
    write(tmp_path, "tiny.py", TINY)
    result = run("check", "tiny.py", cwd=tmp_path)
    assert result.returncode == 1
    up_line = TINY.splitlines().index(next(l for l in TINY.splitlines() if "ConvTranspose2d" in l)) + 1
    col = TINY.splitlines()[up_line - 1].index("nn.ConvTranspose2d") + 1
    assert f"tiny.py:{up_line}:{col}: CB102 ConvTranspose2d" in result.stdout  # an unsafe fix: no [*]
    assert "^" in result.stdout
    marked = run("check", "tiny.py", "--unsafe-fixes", cwd=tmp_path)
    assert f"tiny.py:{up_line}:{col}: CB102 [*] " in marked.stdout
    assert "Found 2 issues (1 fixable with --unsafe-fixes)." in result.stdout  # CB102 and AA101 on self.b


def test_json_output(tmp_path: Path) -> None:
    write(tmp_path, "tiny.py", TINY)
    result = run("check", "tiny.py", "--output-format", "json", cwd=tmp_path)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    codes = sorted(d["code"] for d in data)
    assert codes == ["AA101", "CB102"]
    cb = next(d for d in data if d["code"] == "CB102")
    assert cb["fix"]["applicability"] == "unsafe"
    assert cb["location"]["row"] == 9


def test_noqa_suppresses_only_the_named_code(tmp_path: Path) -> None:
    text = TINY.replace("output_padding=1)", "output_padding=1)  # noqa: CB102").replace(
        "stride=2, padding=1)\n", "stride=2, padding=1)  # noqa: ST101\n"
    )
    write(tmp_path, "tiny.py", text)
    result = run("check", "tiny.py", "--output-format", "concise", cwd=tmp_path)
    assert "CB102" not in result.stdout
    assert "AA101" in result.stdout  # a noqa for another code does not hide it
    write(tmp_path, "tiny.py", text.replace("# noqa: ST101", "# noqa"))
    result = run("check", "tiny.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout


def test_select_and_ignore_flags(tmp_path: Path) -> None:
    write(tmp_path, "tiny.py", TINY)
    only_cb = run("check", "tiny.py", "--select", "CB", "--output-format", "concise", cwd=tmp_path)
    assert "CB102" in only_cb.stdout and "AA101" not in only_cb.stdout
    no_cb = run("check", "tiny.py", "--ignore", "CB102", "--output-format", "concise", cwd=tmp_path)
    assert "CB102" not in no_cb.stdout and "AA101" in no_cb.stdout


def test_config_in_pyproject_is_used(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.rflint]\nignore = ["AA"]\n')
    write(tmp_path, "models/tiny.py", TINY)
    result = run("check", "models", "--output-format", "concise", cwd=tmp_path)
    assert "AA101" not in result.stdout and "CB102" in result.stdout


def test_nearest_config_wins(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.rflint]\nignore = ["AA"]\n')
    write(tmp_path, "sub/rflint.toml", 'ignore = ["CB"]\n')
    write(tmp_path, "sub/tiny.py", TINY)
    result = run("check", "sub/tiny.py", "--output-format", "concise", cwd=tmp_path)
    assert "CB102" not in result.stdout and "AA101" in result.stdout


def test_broken_config_is_exit_2_naming_key_and_file(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.rflint]\nselct = ["CB"]\n')
    write(tmp_path, "tiny.py", TINY)
    result = run("check", "tiny.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "pyproject.toml" in result.stderr and "selct" in result.stderr
    write(tmp_path, "pyproject.toml", '[tool.rflint]\ninput-size = "big"\n')
    result = run("check", "tiny.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "pyproject.toml" in result.stderr and "input-size" in result.stderr


def test_syntax_error_is_reported_and_other_files_still_checked(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "import torch.nn as nn\n\nclass Broken(nn.Module:\n    pass\n")
    write(tmp_path, "tiny.py", TINY)
    result = run("check", ".", "--output-format", "concise", cwd=tmp_path)
    assert result.returncode == 1
    assert any(l.startswith("broken.py:3:") and " RL001 " in l for l in result.stdout.splitlines()), result.stdout
    assert "tiny.py:9:" in result.stdout


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run("check", "empty", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == "No files to check."  # nothing read: nothing passed either


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = run("check", "nope.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.py" in result.stderr


def test_gitignored_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "generated/\n")
    write(tmp_path, "generated/tiny.py", TINY)
    result = run("check", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout


def test_bad_pragma_is_reported(tmp_path: Path) -> None:
    text = TINY.replace("class Tiny", "# rflint: input-size=big\nclass Tiny")
    write(tmp_path, "tiny.py", text)
    result = run("check", "tiny.py", "--output-format", "concise", cwd=tmp_path)
    assert "tiny.py:4:1: RL001" in result.stdout and "input-size" in result.stdout


def test_explain_table_and_json(tmp_path: Path) -> None:
    write(tmp_path, "tiny.py", TINY.replace("return self.up(self.b(self.a(x)))", "return self.b(self.a(x))"))
    table = run("explain", "tiny.py::Tiny", "--input-size", "32", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "layer" in table.stdout.splitlines()[0] and "ERF" in table.stdout.splitlines()[0]
    result = run("explain", "tiny.py::Tiny", "--input-size", "32", "--output-format", "json", cwd=tmp_path)
    data = json.loads(result.stdout)
    from rflint.formats.explain_schema import ExplainJson

    ExplainJson.model_validate(data)  # the documented schema (extra keys forbidden)
    # By hand: conv 3/1/1 gives r=3, j=1, P=1; conv 3/2/1 on it: r = 3 + 2*1 = 5, j = 2, P = 1 + 1*1 = 2;
    # sizes 32 -> 32 -> floor((32 + 2 - 3)/2) + 1 = 16.
    (out,) = data["outputs"]
    assert out["r"] == [5, 5] and out["j"] == [2, 2] and out["effective_padding"] == [2, 2]
    b = next(l for l in data["layers"] if l["name"] == "b")
    assert b["output_size"] == [16, 16]
    assert b["frames"][0]["alpha"] == [-2] and b["frames"][0]["beta"] == [2]


def test_explain_unknown_model_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "tiny.py", TINY)
    result = run("explain", "tiny.py::Nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "Nope" in result.stderr and "Tiny" in result.stderr


def test_rule_page() -> None:
    result = run("rule", "CB102")
    assert result.returncode == 0
    assert result.stdout.startswith("# CB102")
    assert run("rule", "XX999").returncode == 2
    listing = run("rule", "--all")
    assert all(code in listing.stdout for code in ("CB101", "CB102", "ST101", "AA101", "AA102", "RF101"))


def test_python_dash_m() -> None:
    result = subprocess.run([sys.executable, "-m", "rflint", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("rflint ")




def test_check_does_not_import_heavy_packages() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCKER, "check", ".", "--output-format", "json"],
        cwd=EXAMPLES, capture_output=True, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 1, result.stderr
    assert "must not import" not in result.stderr
    assert {d["code"] for d in json.loads(result.stdout)} >= {"CB101", "CB102", "AA101", "AA102", "ST101", "RF101"}


def test_blocker_really_blocks() -> None:
    """The import hook above is able to fail: importing torch under it raises."""
    code = BLOCKER.split("from rflint.cli")[0] + "import torch\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0 and "must not import torch" in result.stderr


def test_diff_and_safe_fix_leave_the_file_alone(tmp_path: Path) -> None:
    path = write(tmp_path, "tiny.py", TINY)
    diff = run("check", "tiny.py", "--diff", "--unsafe-fixes", cwd=tmp_path)
    assert diff.returncode == 1
    assert "-        self.up = nn.ConvTranspose2d(4, 4, kernel_size=3, stride=2, padding=1, output_padding=1)" in diff.stdout
    assert "+        self.up = nn.ConvTranspose2d(4, 4, kernel_size=4, stride=2, padding=1, output_padding=0)" in diff.stdout
    safe_only = run("check", "tiny.py", "--fix", cwd=tmp_path)  # CB102's fix is unsafe: not applied
    assert "(0 fixed, 2 remaining)" in safe_only.stdout
    assert path.read_text() == TINY


def test_unsafe_fix_keeps_output_size_and_clears_the_finding(tmp_path: Path) -> None:
    import importlib.util

    import torch

    path = write(tmp_path, "tiny.py", TINY)
    result = run("check", "tiny.py", "--fix", "--unsafe-fixes", cwd=tmp_path)
    assert "(1 fixed, 1 remaining)" in result.stdout, result.stdout
    fixed = path.read_text()
    assert "kernel_size=4, stride=2, padding=1, output_padding=0" in fixed
    again = run("check", "tiny.py", "--output-format", "concise", cwd=tmp_path)
    assert "CB102" not in again.stdout and "AA101" in again.stdout

    def shapes(text: str, name: str) -> list[tuple[int, ...]]:
        mod_path = tmp_path / f"{name}.py"
        mod_path.write_text(text)
        spec = importlib.util.spec_from_file_location(name, mod_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        net = module.Tiny()
        return [tuple(net(torch.zeros(1, 1, n, n + 3)).shape) for n in (8, 9, 16, 31)]

    assert shapes(TINY, "before") == shapes(fixed, "after")


def test_explain_imports_no_pydantic_and_no_rule(tmp_path: Path) -> None:
    """`explain` is the quick question (one model's receptive field): the JSON is written
    with plain dicts and no rule is needed, so neither pydantic nor the rules load."""
    write(tmp_path, "tiny.py", TINY)
    script = ("import sys\nfrom rflint.cli import main\n"
              "code = main(['explain', 'tiny.py::Tiny', '--output-format', 'json'])\n"
              "print(code, 'pydantic' in sys.modules, 'rflint.checks.pd' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stderr.split() == ["0", "False", "False"]
    json.loads(out.stdout)


UNREADABLE = """\
import torch.nn as nn
from some_unreadable_library import Block


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.block = Block(8)

    def forward(self, x):
        return self.block(self.conv(x))
"""


@pytest.mark.parametrize("fmt", ["full", "concise", "json", "json-lines", "junit", "github", "gitlab", "sarif"])
def test_a_model_that_was_not_read_never_passes(tmp_path: Path, fmt: str) -> None:
    """A run whose model the reader could not follow to the end says so (RL004, on the
    class line, naming the first unresolved construct) in every output format, and never
    ends with "All checks passed!" or exit code 0 on it."""
    (tmp_path / "net.py").write_text(UNREADABLE)
    result = run("check", "net.py", "--output-format", fmt, "--no-cache", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "RL004" in result.stdout and "some_unreadable_library" in result.stdout, result.stdout
    if fmt in ("full", "concise"):
        assert "All checks passed" not in result.stdout
        assert "net.py:5:1: RL004 Net was not read completely" in result.stdout
        assert result.stdout.rstrip().endswith("Found 1 issue (1 model not read completely).")


@pytest.mark.parametrize("fmt", ["full", "concise", "json", "json-lines", "junit", "github", "gitlab", "sarif"])
def test_a_file_name_that_is_not_utf8_does_not_lose_the_report(tmp_path: Path, fmt: str) -> None:
    """``bad\\xff name.py`` beside a model: every format, to standard output and with ``-o``,
    ends with its report (exit 1 for the findings, not a traceback). The name is written
    as ``bad\\xff name.py``; SARIF's URI percent-encodes the byte itself."""
    import os

    name = os.fsdecode(b"bad\xff name.py")
    (tmp_path / name).write_text(TINY)
    for extra in ([], ["-o", "report.out"]):
        result = subprocess.run([*([RFLINT] if RFLINT else [sys.executable, "-m", "rflint"]), "check", ".", "--no-cache",
                                 "--output-format", fmt, *extra], cwd=tmp_path, capture_output=True, timeout=120)
        assert result.returncode == 1, result.stderr.decode(errors="replace")[-2000:]
        assert b"Traceback" not in result.stderr
        text = (tmp_path / "report.out").read_bytes() if extra else result.stdout
        text.decode("utf-8")  # valid UTF-8 throughout
        if fmt == "sarif":
            assert b'"uri": "bad%FF%20name.py"' in text
        elif fmt in ("json", "json-lines", "gitlab"):  # a JSON string escapes the backslash
            assert b"bad\\\\xff name.py" in text
        else:
            assert b"bad\\xff name.py" in text
        if fmt in ("json", "gitlab", "sarif"):
            json.loads(text)


@pytest.mark.parametrize("newline, bom", [("\r", False), ("\r\n", True), ("\r", True), ("\n", True)])
def test_fix_and_add_noqa_keep_line_endings_and_the_bom(tmp_path: Path, newline: str, bom: bool) -> None:
    """Old Mac (``\\r``), Windows (``\\r\\n``) and a UTF-8 BOM: ``--fix`` and ``--add-noqa``
    change the lines they mean to and keep every byte of the file's style (a lone ``\\r``
    once crashed both with an IndexError)."""
    raw = ("\ufeff" if bom else "") + TINY.replace("\n", newline)
    lf_lines = TINY.count("\n")
    for args in (["--fix", "--unsafe-fixes"], ["--add-noqa"]):
        path = tmp_path / "tiny.py"
        path.write_bytes(raw.encode("utf-8"))
        result = run("check", "tiny.py", "--no-cache", *args, cwd=tmp_path)
        assert "Traceback" not in result.stderr, result.stderr
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == bom
        text = data.decode("utf-8-sig")
        assert text != raw.lstrip("\ufeff")  # something was fixed or marked
        other = {"\r": ["\n"], "\r\n": ["\n", "\r"], "\n": ["\r"]}[newline]
        stripped = text.replace(newline, "")
        assert not any(o in stripped for o in other), repr(text[:200])
        assert text.count(newline) == lf_lines
        marker = "kernel_size=4" if "--fix" in args else "# noqa: "
        assert marker in text


def test_a_run_that_read_nothing_never_says_all_checks_passed(tmp_path: Path) -> None:
    """A path that does not exist is an error (exit 2) with no summary after it; a named
    file rflint does not read is a finding saying so; an empty directory has no files."""
    missing = run("check", "nonexistent.py", cwd=tmp_path)
    assert missing.returncode == 2 and "nonexistent.py: No such file or directory" in missing.stderr
    assert "All checks passed!" not in missing.stdout
    (tmp_path / "notes.txt").write_text("hello\n")
    notes = run("check", "notes.txt", "--no-cache", cwd=tmp_path)
    assert notes.returncode == 1 and "notes.txt:1:1: RL001 not a file rflint reads" in notes.stdout
    (tmp_path / "empty").mkdir()
    empty = run("check", "empty", cwd=tmp_path)
    assert (empty.returncode, empty.stdout.strip()) == (0, "No files to check.")


def test_fix_honours_the_other_flags_and_counts_what_the_next_check_finds(tmp_path: Path) -> None:
    """``--fix`` with ``--output-format json`` prints JSON, with ``--statistics`` the table,
    with ``--fail-on error`` the exit code check gives; its remaining count is what the
    next check finds (it double-counted findings shared across files)."""
    for name in ("unet.py", "classifier.py", "autoencoder.py"):
        (tmp_path / name).write_text((EXAMPLES / name).read_text())
    as_json = run("check", ".", "--fix", "--unsafe-fixes", "--no-cache", "--output-format", "json", cwd=tmp_path)
    remaining = json.loads(as_json.stdout)
    after = run("check", ".", "--no-cache", "--output-format", "json", cwd=tmp_path)
    assert len(remaining) == len(json.loads(after.stdout)) > 0
    stats = run("check", ".", "--fix", "--no-cache", "--statistics", cwd=tmp_path)
    assert stats.stdout.splitlines()[0].split("\t")[1].startswith(("AA", "PD", "CB", "RF", "ST", "RL"))
    for flags in (["--fail-on", "error"], ["--fail-on", "info"]):
        fixed = run("check", ".", "--fix", "--no-cache", *flags, cwd=tmp_path)
        checked = run("check", ".", "--no-cache", *flags, cwd=tmp_path)
        assert fixed.returncode == checked.returncode, (flags, fixed.stdout[-300:], checked.stdout[-300:])


def test_stdin_filename_alone_warns_about_nothing_and_every_flag_has_help(tmp_path: Path) -> None:
    """``--stdin-filename NAME`` with no path warned 'ignoring . in favor of standard
    input' (a path the user never gave); every option of check and explain says what
    it does in ``--help``."""
    result = run("check", "--stdin-filename", "m.py", cwd=tmp_path, stdin="import torch.nn as nn\n")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    named = run("check", "other.py", "--stdin-filename", "m.py", cwd=tmp_path, stdin="import torch.nn as nn\n")
    assert "ignoring other.py in favor of standard input" in named.stderr
    import argparse

    from rflint.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("check", "explain"):
        for action in commands.choices[name]._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help text"


def test_excludes_reach_named_files_with_force_exclude_and_the_command_line_sets_them(tmp_path: Path) -> None:
    """``extend-exclude = ["models/big.py"]`` was ignored for files passed by name (what
    pre-commit does); with ``--force-exclude`` (the hooks pass it) or ``force-exclude =
    true`` it applies, as in ruff; ``--exclude``, ``--extend-exclude`` and
    ``--per-file-ignores`` set the same keys from the command line."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "big.py").write_text((EXAMPLES / "unet.py").read_text())
    (tmp_path / "models" / "small.py").write_text(TINY)
    (tmp_path / "pyproject.toml").write_text('[tool.rflint]\nextend-exclude = ["models/big.py"]\n')

    def files(*args: str) -> set[str]:
        out = run("check", *args, "--no-cache", "--output-format", "concise", cwd=tmp_path)
        return {line.split(":")[0] for line in out.stdout.splitlines() if ".py:" in line}

    both = ("models/big.py", "models/small.py")
    assert files(*both) == {"models/big.py", "models/small.py"}  # named files are checked, as ruff
    assert files(*both, "--force-exclude") == {"models/small.py"}
    assert files(".", "--extend-exclude", "models/small.py") == set()
    assert files(".", "--exclude", "models/small.py") == set()  # with the file's extend-exclude: nothing left
    ignored = run("check", "models/small.py", "--no-cache", "--output-format", "concise",
                  "--per-file-ignores", "models/*:CB,AA", cwd=tmp_path)
    assert "CB102" not in ignored.stdout and "AA101" not in ignored.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.rflint]\nextend-exclude = ["models/big.py"]\nforce-exclude = true\n')
    assert files(*both) == {"models/small.py"}


def test_an_internal_failure_exits_2_never_1(tmp_path: Path, monkeypatch, capsys) -> None:
    """CI reads exit 1 as 'findings': a failure anywhere in a run (here, writing the report)
    is exit 2 with a message, not Python's default exit 1 for an uncaught exception."""
    from rflint import cli

    (tmp_path / "tiny.py").write_text(TINY)
    monkeypatch.chdir(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "_write_report", broken)
    assert cli.main(["check", "tiny.py", "--no-cache"]) == 2
    assert "rflint: error: internal error: RuntimeError: disk on fire" in capsys.readouterr().err
