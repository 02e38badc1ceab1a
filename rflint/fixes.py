"""Applying fixes: text edits at 1-based (line, column) spans, never overlapping.

Fixes carry exact spans taken from the parsed source, so applying one is a
splice; the result must still parse before it is written (a fix never breaks
a file). Nothing is written except through ``--fix``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable

from .diagnostics import Diagnostic, Edit


@dataclass(frozen=True)
class FixResult:
    text: str
    applied: tuple[Diagnostic, ...]


def _offsets(text: str) -> list[int]:
    """Character offset of the start of each line (1-based lines at index line-1)."""
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def _offset(starts: list[int], line: int, col: int) -> int:
    return starts[line - 1] + col - 1


def applicable(diags: Iterable[Diagnostic], unsafe: bool) -> list[Diagnostic]:
    return [d for d in diags if d.fix is not None and (d.fix.safe or unsafe)]


def apply_fixes(text: str, diags: Iterable[Diagnostic], unsafe: bool = False) -> FixResult:
    """Apply every applicable fix whose edits do not overlap an earlier one's.

    A fix whose result would not parse is left out (the file stays valid).
    """
    starts = _offsets(text)
    chosen: list[tuple[int, int, str]] = []
    applied: list[Diagnostic] = []
    for d in sorted(applicable(diags, unsafe), key=Diagnostic.sort_key):
        assert d.fix is not None
        spans = [(_offset(starts, e.line, e.col), _offset(starts, e.end_line, e.end_col), e.replacement) for e in d.fix.edits]
        if any(a < e2 and s2 < b for a, b, _ in spans for s2, e2, _ in chosen):
            continue  # overlaps a fix already taken; the next run picks it up
        candidate = _splice(text, [*chosen, *spans])
        if not _parses(candidate):
            continue
        chosen.extend(spans)
        applied.append(d)
    return FixResult(_splice(text, chosen), tuple(applied))


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """Apply non-overlapping edits (1-based line/column spans) to a text."""
    starts = _offsets(text)
    return _splice(text, [(_offset(starts, e.line, e.col), _offset(starts, e.end_line, e.end_col), e.replacement)
                          for e in edits])


def _splice(text: str, spans: list[tuple[int, int, str]]) -> str:
    out = text
    for start, end, replacement in sorted(spans, key=lambda s: s[0], reverse=True):
        out = out[:start] + replacement + out[end:]
    return out


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def unified_diff(path: str, before: str, after: str) -> str:
    import difflib

    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    ))


__all__ = ["Edit", "FixResult", "apply_edits", "apply_fixes", "applicable", "unified_diff"]
