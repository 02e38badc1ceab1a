"""Applying fixes: text edits at 1-based (line, column) spans, never overlapping.

Fixes carry exact spans taken from the parsed source, so applying one is a
splice; the result must still parse before it is written (a fix never breaks
a file). Nothing is written except through ``--fix``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable

from .diagnostics import LINE_BREAK, Diagnostic, Edit, newline_of


@dataclass(frozen=True)
class FixResult:
    text: str
    applied: tuple[Diagnostic, ...]


def _offsets(text: str) -> list[int]:
    """Character offset of the start of each line (1-based lines at index line-1), the
    lines as Python numbers them (``\\n``, ``\\r\\n`` and a lone ``\\r`` end one)."""
    return [0, *(m.end() for m in LINE_BREAK.finditer(text))]


def _in_style(replacement: str, newline: str) -> str:
    """A replacement's new lines written with the file's own line ending."""
    return replacement if newline == "\n" else LINE_BREAK.sub(newline, replacement)


def _offset(starts: list[int], line: int, col: int) -> int:
    return starts[line - 1] + col - 1


def write_source(path: str, text: str) -> None:
    """Write a fixed source back as it was stored: a UTF-8 BOM kept when the file had one
    (the text was read without it), line endings untouched (no newline translation)."""
    with open(path, "rb") as fh:
        bom = fh.read(3) == b"\xef\xbb\xbf"
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        fh.write(text)


def applicable(diags: Iterable[Diagnostic], unsafe: bool) -> list[Diagnostic]:
    return [d for d in diags if d.fix is not None and (d.fix.safe or unsafe)]


def apply_fixes(text: str, diags: Iterable[Diagnostic], unsafe: bool = False) -> FixResult:
    """Apply every applicable fix whose edits do not overlap an earlier one's.

    A fix whose result would not parse is left out (the file stays valid).
    """
    starts, newline = _offsets(text), newline_of(text)
    chosen: list[tuple[int, int, str]] = []
    applied: list[Diagnostic] = []
    for d in sorted(applicable(diags, unsafe), key=Diagnostic.sort_key):
        assert d.fix is not None
        spans = [(_offset(starts, e.line, e.col), _offset(starts, e.end_line, e.end_col), _in_style(e.replacement, newline))
                 for e in d.fix.edits]
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
    starts, newline = _offsets(text), newline_of(text)
    return _splice(text, [(_offset(starts, e.line, e.col), _offset(starts, e.end_line, e.end_col),
                           _in_style(e.replacement, newline)) for e in edits])


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


__all__ = ["Edit", "FixResult", "apply_edits", "apply_fixes", "applicable", "unified_diff", "write_source"]
