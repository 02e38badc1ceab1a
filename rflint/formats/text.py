"""Text output for people, shaped like ruff's so that editors, terminals and habits carry over.

``concise`` is one ``path:line:col: CODE [*] message`` line per finding (the
``[*]`` when a fix exists), which editors and ``grep`` parse. ``full`` adds
ruff's snippet: the source line with a caret under the column, then the fix
as ``help`` and the model, layer and helper call chain as ``note`` lines.

Every render function returns text without a trailing newline ('' when there
is nothing to show); the caller prints it. Standard library only.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Iterable, Mapping, Sequence

from ..diagnostics import Diagnostic, source_lines

__all__ = ["display_path", "render_concise", "render_full", "summary"]


def display_path(file: str, cwd: str | None = None) -> str:
    """``file`` relative to ``cwd`` when it lies below it, else as given.

    Pseudo-files (``<stdin>``) and paths outside the working directory are
    left alone: a path that needs ``../`` is not shorter to read.
    """
    if not file or file.startswith("<"):
        return file
    base = os.path.abspath(cwd if cwd is not None else os.getcwd())
    absolute = os.path.abspath(file)
    prefix = base if base.endswith(os.sep) else base + os.sep
    if absolute.startswith(prefix):
        return absolute[len(prefix) :]
    return file


def _sorted(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """File, line, column, code order (ruff's), then model and message for a total order."""
    return sorted(diags, key=lambda d: (*d.sort_key(), d.model, d.message))


def applies(d: Diagnostic, unsafe: bool = False) -> bool:
    """Whether ``--fix`` (with ``--unsafe-fixes`` when ``unsafe``) would apply the finding's
    fix: what ``[*]`` marks, as in ruff; an unsafe fix alone is not marked."""
    return d.fix is not None and (d.fix.safe or unsafe)


def _header(d: Diagnostic, shown: str, unsafe: bool = False) -> str:
    """``path:line:col: CODE [*] message``; a finding on an exported model's node (whose
    file has no lines: line 1, column 1) ends with the node, ``[node Conv #12 '/conv1/Conv']``."""
    marker = " [*]" if applies(d, unsafe) else ""
    node = f" [node {d.loc.node}]" if d.loc.node is not None else ""
    return f"{shown}:{d.loc.line}:{d.loc.col}: {d.code}{marker} {d.message}{node}"


def render_concise(diags: Iterable[Diagnostic], unsafe: bool = False) -> str:
    """One line per finding: ``path:line:col: CODE [*] message``."""
    paths: dict[str, str] = {}
    lines = []
    for d in _sorted(diags):
        shown = paths.get(d.loc.file)
        if shown is None:
            shown = paths[d.loc.file] = display_path(d.loc.file)
        lines.append(_header(d, shown, unsafe))
    return "\n".join(lines)


def _width(ch: str) -> int:
    """Terminal columns a character takes: wide East Asian characters take two."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _pad_to(text: str, col: int) -> str:
    """Whitespace that brings the cursor under character ``col`` (1-based) of ``text``:
    tabs are copied so the caret lines up however the terminal sets tab stops."""
    pad = []
    for ch in text[: max(col - 1, 0)]:
        pad.append("\t" if ch == "\t" else " " * _width(ch))
    # Past the end of the line (a column at the newline): plain spaces.
    pad.append(" " * max(col - 1 - len(text), 0))
    return "".join(pad)


def _carets(d: Diagnostic, text: str) -> int:
    """How many carets: the span on this line, at least one."""
    loc = d.loc
    if loc.end_line == loc.line and loc.end_col is not None and loc.end_col > loc.col:
        span = text[loc.col - 1 : loc.end_col - 1]
        return max(sum(_width(ch) for ch in span), 1) if span else loc.end_col - loc.col
    if loc.end_line is not None and loc.end_line > loc.line:
        span = text[loc.col - 1 :].rstrip()
        return max(sum(_width(ch) for ch in span), 1)
    return 1


_CHAIN_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?P<rest>.*)$")


def _chain_step(step: str) -> str:
    """A ``file:line name`` chain entry with its file shown like the finding's."""
    m = _CHAIN_RE.match(step)
    if m is None:
        return step
    return f"{display_path(m.group('file'))}:{m.group('line')}{m.group('rest')}"


def _notes(d: Diagnostic) -> list[str]:
    notes = []
    if d.fix is not None:
        safety = "" if d.fix.safe else " (unsafe)"
        notes.append(f"help: {d.fix.description}{safety}")
    if d.model and d.name:
        notes.append(f"note: in model `{d.model}`, layer `{d.name}`")
    elif d.model:
        notes.append(f"note: in model `{d.model}`")
    elif d.name:
        notes.append(f"note: layer `{d.name}`")
    if d.loc.chain:
        notes.append("note: via " + " -> ".join(_chain_step(s) for s in d.loc.chain))
    return notes


def _snippet(d: Diagnostic, source_lines: Sequence[str] | None) -> list[str]:
    line_no = d.loc.line
    gutter = " " * len(str(line_no))
    out: list[str] = []
    if source_lines is not None and 1 <= line_no <= len(source_lines) and d.loc.node is None:
        text = source_lines[line_no - 1].rstrip("\r\n")
        out += [
            f"{gutter} |",
            f"{line_no} | {text}".rstrip(),
            f"{gutter} | {_pad_to(text, d.loc.col)}{'^' * _carets(d, text)} {d.code}",
            f"{gutter} |",
        ]
    out += [f"{gutter} = {note}" for note in _notes(d)]
    return out


def render_full(diags: Iterable[Diagnostic], sources: Mapping[str, str], unsafe: bool = False) -> str:
    """Each finding as its concise line, then (like ruff's ``full`` format) the source line
    with a caret under the column, and ``help``/``note`` lines; a blank line between findings.

    ``sources`` maps ``loc.file`` to the file's text; a finding whose file or
    line is not there still gets its header and notes.
    """
    paths: dict[str, str] = {}
    split: dict[str, list[str] | None] = {}
    blocks = []
    for d in _sorted(diags):
        file = d.loc.file
        if file not in paths:
            paths[file] = display_path(file)
            text = sources.get(file)
            split[file] = source_lines(text) if text is not None else None
        blocks.append("\n".join([_header(d, paths[file], unsafe), *_snippet(d, split[file])]))
    return "\n\n".join(blocks)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(diags: Sequence[Diagnostic] | Iterable[Diagnostic], fix_safe_count: int = 0, fix_unsafe_count: int = 0) -> str:
    """The last line: ``All checks passed!``, ``Found 1 issue.``, or
    ``Found 3 issues (1 fixable with --fix, 1 more with --unsafe-fixes).``; a model the
    reader could not follow (RL004) is counted there too: such a run never passes.

    The fix counts are the caller's (it knows which fixes were already
    applied or are hidden), not recomputed from ``diags``.
    """
    diags = list(diags)
    count = len(diags)
    if count == 0:
        return "All checks passed!"
    fixable = []
    incomplete = sum(1 for d in diags if d.code == "RL004")
    if incomplete:
        fixable.append(f"{_plural(incomplete, 'model')} not read completely")
    if fix_safe_count:
        fixable.append(f"{fix_safe_count} fixable with --fix")
    if fix_unsafe_count:
        more = "more" if fix_safe_count else "fixable"
        fixable.append(f"{fix_unsafe_count} {more} with --unsafe-fixes")
    tail = f" ({', '.join(fixable)})" if fixable else ""
    return f"Found {_plural(count, 'issue')}{tail}."
