"""``--output-format sarif``: a SARIF 2.1.0 log (OASIS), what GitHub code scanning and
other code-scanning dashboards import.

One run, whose tool is rflint with every rule it knows: id, name, a short description
(the rule's summary), a full description (the page's "What it does") and the whole rule
page as help, in text and Markdown, and the default level. Each finding is a result with
its rule's id and index, a level (error, warning, note), the message, and where it is:

- a physical location: the file relative to ``%SRCROOT%`` (the working directory, given
  in ``originalUriBaseIds``; files outside it get an absolute ``file:`` URI) and the
  region, lines and columns 1-based, columns in Unicode code points as rflint counts
  them, the end exclusive;
- a logical location: the model and the layer (``UNet.up``), when the finding has them;
- related locations: the call chain that built the layer, when it was built by a helper;
- ``partialFingerprints`` (``rflintFindingHash/v1``): a hash of the code, the relative
  path, the normalised text of the finding's line and the layer name, with the line
  number left out, so that code scanning keeps tracking a finding when lines above it
  move (see :func:`rflint.formats.common.fingerprints`);
- ``fixes``, when the finding has a fix: its edits as replacements of regions
  (``properties.applicability`` says whether it is safe, as in the json format).

Errors that are about no file (a path that does not exist) are tool execution
notifications of the run's invocation, which then did not succeed.

Standard library only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote

from .. import __version__
from ..diagnostics import Diagnostic, Edit, Severity
from .common import FINGERPRINT_KEY, fingerprints, is_below, ordered, printable, relative_path

__all__ = ["LEVELS", "SCHEMA_URI", "render", "rule_descriptors", "to_sarif"]

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

# Codes the API reports that are not rules of the registry.
_PSEUDO_RULES = {
    "RL000": ("internal-error", Severity.ERROR,
              "rflint failed on a file or in a rule: a bug in rflint, reported so that it hides nothing"),
}
_CHAIN = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<col>\d+))?(?:\s+(?P<name>.*))?$")


def _information_uri() -> str | None:
    """The project's home page from rflint's installed metadata (``[project.urls]``), if any."""
    try:
        from importlib.metadata import PackageNotFoundError, metadata
    except ImportError:  # pragma: no cover
        return None
    try:
        meta = metadata("rflint")
    except PackageNotFoundError:
        return None
    urls = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls[label.strip().lower()] = url.strip()
    for label in ("homepage", "home", "repository", "source", "documentation"):
        if urls.get(label):
            return urls[label]
    home = meta.get("Home-page")
    return home or None


def _page_parts(code: str) -> tuple[str | None, str | None]:
    """``(what it does, whole page)`` of a rule's page, or Nones when it has none."""
    from .. import pages

    try:
        text = pages.page_text(code)
    except KeyError:
        return None, None
    what = pages.sections(text).get("What it does")
    return (what.strip() if what else None), text.strip()


def rule_descriptors() -> list[dict]:
    """A ``reportingDescriptor`` for every rule rflint knows, sorted by code."""
    from ..checks.base import all_rules

    known = {code: (cls.name, cls.severity, cls.summary, cls.enabled_by_default) for code, cls in all_rules().items()}
    for code, (name, severity, summary) in _PSEUDO_RULES.items():
        known.setdefault(code, (name, severity, summary, True))
    out = []
    for code in sorted(known):
        name, severity, summary, enabled = known[code]
        short = summary or name
        what, page = _page_parts(code)
        descriptor: dict = {
            "id": code,
            "name": name,
            "shortDescription": {"text": short},
            "fullDescription": {"text": what or short},
            "help": {"text": page or short, "markdown": page or short},
            "defaultConfiguration": {"enabled": bool(enabled), "level": LEVELS.get(severity, "warning")},
            "properties": {"tags": [code[:2]]},
        }
        out.append(descriptor)
    return out


def _artifact(file: str, base: str | None) -> dict:
    """A file's URI, percent-encoding its bytes (a name that is not UTF-8 included)."""
    if is_below(file, base):
        return {"uri": quote(os.fsencode(relative_path(file, base))), "uriBaseId": SRCROOT}
    if file.startswith("<") or not file:
        return {"uri": quote(os.fsencode(file))}
    return {"uri": Path(os.path.abspath(file)).as_uri()}


def _printable(value: Any) -> Any:
    """Every string of the log made valid UTF-8 (the URIs are already ASCII)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


def _region(line: int, col: int, end_line: int | None, end_col: int | None) -> dict:
    region = {"startLine": max(line, 1), "startColumn": max(col, 1)}
    if end_line is not None and end_line >= line:
        region["endLine"] = end_line
        if end_col is not None and (end_line > line or end_col >= col):
            region["endColumn"] = max(end_col, 1)
    return region


def _logical(d: Diagnostic) -> list[dict]:
    node = d.loc.node
    if node is not None:  # an exported model's node: its name, op type and index in the graph
        qualified = f"{d.model}/{node.name}" if d.model and node.name else node.name or f"{node.op_type}#{node.index}"
        return [{"name": node.name or f"{node.op_type}#{node.index}", "fullyQualifiedName": qualified,
                 "kind": "function",
                 "properties": {"opType": node.op_type, "nodeIndex": node.index}}]
    if d.model and d.name:
        return [{"name": d.name, "fullyQualifiedName": f"{d.model}.{d.name}", "kind": "member"}]
    if d.model:
        return [{"name": d.model, "fullyQualifiedName": d.model, "kind": "type"}]
    if d.name:
        return [{"name": d.name, "kind": "member"}]
    return []


def _related(d: Diagnostic, base: str | None) -> list[dict]:
    out = []
    for i, step in enumerate(d.loc.chain):
        m = _CHAIN.match(step)
        if m is None:
            continue
        line = int(m.group("line"))
        col = int(m.group("col")) if m.group("col") else 1
        name = (m.group("name") or "").strip()
        out.append({
            "id": i,
            "physicalLocation": {"artifactLocation": _artifact(m.group("file"), base), "region": _region(line, col, None, None)},
            "message": {"text": f"via {name}" if name else "via this call"},
        })
    return out


def _replacement(edit: Edit) -> dict:
    replacement: dict = {"deletedRegion": _region(edit.line, edit.col, edit.end_line, edit.end_col)}
    if edit.replacement:
        replacement["insertedContent"] = {"text": edit.replacement}
    return replacement


def _fixes(d: Diagnostic, base: str | None) -> list[dict]:
    if d.fix is None or not d.fix.edits:
        return []
    return [{
        "description": {"text": d.fix.description or f"Fix {d.code}"},
        "artifactChanges": [{
            "artifactLocation": _artifact(d.loc.file, base),
            "replacements": [_replacement(e) for e in d.fix.edits],
        }],
        "properties": {"applicability": "safe" if d.fix.safe else "unsafe"},
    }]


def to_sarif(d: Diagnostic, rule_index: int | None, fingerprint: str, base: str | None = None) -> dict:
    """One finding as a SARIF ``result``."""
    loc = d.loc
    location: dict = {
        "physicalLocation": {
            "artifactLocation": _artifact(loc.file, base),
            "region": _region(loc.line, loc.col, loc.end_line, loc.end_col),
        },
    }
    logical = _logical(d)
    if logical:
        location["logicalLocations"] = logical
    result: dict = {"ruleId": d.code}
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    result.update({
        "level": LEVELS.get(d.severity, "warning"),
        "message": {"text": d.message},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    })
    related = _related(d, base)
    if related:
        result["relatedLocations"] = related
    fixes = _fixes(d, base)
    if fixes:
        result["fixes"] = fixes
    return result


def render(diags: Iterable[Diagnostic], sources: Mapping[str, str] | None = None, errors: Sequence[str] = (),
           base: str | None = None) -> str:
    """The SARIF log as JSON, indented by 2, without a trailing newline.

    ``sources`` maps a finding's file to its text (for the fingerprints; files not
    in it are read from disk); ``base`` is ``%SRCROOT%`` (default: the working
    directory); ``errors`` become tool execution notifications.
    """
    root = os.path.abspath(base if base else os.getcwd())
    rules = rule_descriptors()
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    found = ordered(diags)
    prints = fingerprints(found, sources, root)
    driver: dict = {"name": "rflint", "version": __version__, "semanticVersion": __version__}
    uri = _information_uri()
    if uri:
        driver["informationUri"] = uri
    driver["rules"] = rules
    run: dict = {
        "tool": {"driver": driver},
        "invocations": [{
            "executionSuccessful": not errors,
            **({"toolExecutionNotifications": [{"level": "error", "message": {"text": e}} for e in errors]}
               if errors else {}),
        }],
        "originalUriBaseIds": {SRCROOT: {"uri": Path(root).as_uri().rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": [to_sarif(d, index.get(d.code), fp, root) for d, fp in zip(found, prints)],
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(_printable(log), indent=2, ensure_ascii=False)
