"""JSON output of ``rflint check --output-format json``.

A list of findings with ruff's field names where ruff has the same notion
(``code``, ``message``, ``filename``, ``location``/``end_location`` as
``{row, column}``, ``fix`` with ``applicability``/``message``/``edits``), so
tools that already read ``ruff check --output-format json`` need little
change; rflint adds ``severity`` and ``model``. Like ruff, ``filename`` is
absolute (a consumer may run elsewhere than the working directory), rows and
columns are 1-based, and an edit's ``end_location`` is exclusive.

The pydantic models are the schema: :func:`parse_json` validates a report,
and ``JsonReport.json_schema()`` documents it.
"""

from __future__ import annotations

import os
from typing import Iterable, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

from ..diagnostics import Diagnostic, Edit, Fix

__all__ = ["JsonDiagnostic", "JsonEdit", "JsonFix", "JsonLocation", "JsonReport", "parse_json", "render_json", "to_json"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JsonLocation(_Strict):
    """A position, 1-based, as editors show it."""

    row: int
    column: int


class JsonEdit(_Strict):
    """Replace ``location`` up to (not including) ``end_location`` with ``content``."""

    content: str
    location: JsonLocation
    end_location: JsonLocation


class JsonFix(_Strict):
    """``unsafe`` fixes may change behaviour (ruff's meaning): applied only with --unsafe-fixes."""

    applicability: Literal["safe", "unsafe"]
    message: str | None
    edits: list[JsonEdit]


class JsonNode(_Strict):
    """A node of an exported model's graph: its name, operator type and index in the file."""

    name: str
    op_type: str
    index: int


class JsonDiagnostic(_Strict):
    """One finding. ``model`` is the model it was computed in (null for layer-level findings)."""

    code: str
    message: str
    severity: Literal["info", "warning", "error"]
    filename: str
    location: JsonLocation
    end_location: JsonLocation
    fix: JsonFix | None
    model: str | None
    layer: str | None = None
    """The layer's key across readers (``rflint.layer_key``), to match findings between
    a model's source, its ONNX export and a trace."""
    node: JsonNode | None = None
    """For an exported model (ONNX, ``.pt2``), the node the finding is on."""


JsonReport = TypeAdapter(list[JsonDiagnostic])
"""The whole output: a list of findings."""


def _filename(file: str) -> str:
    if not file or file.startswith("<"):
        return file  # pseudo-files such as <stdin> have no absolute form
    return os.path.abspath(file)


def _edit(edit: Edit) -> JsonEdit:
    return JsonEdit(
        content=edit.replacement,
        location=JsonLocation(row=edit.line, column=edit.col),
        end_location=JsonLocation(row=edit.end_line, column=edit.end_col),
    )


def _fix(fix: Fix | None) -> JsonFix | None:
    if fix is None:
        return None
    return JsonFix(
        applicability="safe" if fix.safe else "unsafe",
        message=fix.description or None,
        edits=[_edit(e) for e in fix.edits],
    )


def to_json(d: Diagnostic) -> JsonDiagnostic:
    """One diagnostic as its JSON model. Without an end position, the end is the start."""
    loc = d.loc
    end_row = loc.end_line if loc.end_line is not None else loc.line
    end_col = loc.end_col if loc.end_col is not None else loc.col
    return JsonDiagnostic(
        code=d.code,
        message=d.message,
        severity=str(d.severity),  # type: ignore[arg-type]
        filename=_filename(loc.file),
        location=JsonLocation(row=loc.line, column=loc.col),
        end_location=JsonLocation(row=end_row, column=end_col),
        fix=_fix(d.fix),
        model=d.model or None,
        layer=d.layer or None,
        node=JsonNode(name=loc.node.name, op_type=loc.node.op_type, index=loc.node.index) if loc.node else None,
    )


def render_json(diags: Iterable[Diagnostic]) -> str:
    """The report as pretty-printed JSON (ruff's indent of 2), sorted like the text
    output; no trailing newline."""
    ordered = sorted(diags, key=lambda d: (*d.sort_key(), d.model, d.message))
    return JsonReport.dump_json([to_json(d) for d in ordered], indent=2).decode()


def parse_json(text: str | bytes) -> list[JsonDiagnostic]:
    """Validate a JSON report (raises ``pydantic.ValidationError`` when it is not one)."""
    return JsonReport.validate_json(text)
