"""Diagnostics: what rules find, readers fail on, and formats print. Core, no dependencies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum

from .ir import Location


class Severity(IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Edit:
    """Replace the text from (line, col) up to, not including, (end_line, end_col). 1-based."""

    line: int
    col: int
    end_line: int
    end_col: int
    replacement: str


@dataclass(frozen=True)
class Fix:
    """A rewrite that resolves a finding. ``safe`` as in ruff: unsafe fixes may change behaviour."""

    description: str
    edits: tuple[Edit, ...]
    safe: bool = False


@dataclass(frozen=True)
class Diagnostic:
    """One finding: a code, a message a person can act on, and where.

    ``model`` names the model the finding was computed in, for model-level
    rules; layer-level findings are the same whichever model contains them.
    """

    code: str
    message: str
    loc: Location
    severity: Severity = Severity.WARNING
    fix: Fix | None = None
    model: str = ""
    name: str = field(default="", compare=False)
    # The layer's key across readers (source, ONNX, trace): ``rflint.layer_key``.
    layer: str = field(default="", compare=False)

    @property
    def file(self) -> str:
        return self.loc.file

    def sort_key(self) -> tuple[str, int, int, int, str]:
        """File, line, column (for exported models, the node's index), code."""
        node = self.loc.node.index if self.loc.node is not None else -1
        return (self.loc.file, self.loc.line, self.loc.col, node, self.code)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


LINE_BREAK = _LINE_BREAK


def newline_of(text: str) -> str:
    """The file's line ending (its first one; ``\\n`` when it has none): what a fix or a
    ``# noqa`` comment that adds a line writes, so an old Mac or Windows file keeps its."""
    match = _LINE_BREAK.search(text)
    return match.group(0) if match else "\n"


def source_lines(text: str) -> list[str]:
    """Lines as Python numbers them: only ``\\n``, ``\\r\\n`` and ``\\r`` end a line.
    (``str.splitlines`` also splits at form feeds and other separators, which would
    shift every line number after one.)"""
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines
