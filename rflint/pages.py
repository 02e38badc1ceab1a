"""The rule reference pages: one Markdown file per rule code.

An installed wheel ships them as package data, ``rflint/_rules/CODE.md``
(pyproject's force-include of ``rules/``); in a source checkout they are
``<repo>/rules/CODE.md``. A page looks like ruff's rule pages::

    # CB102: transposed-conv-uneven-overlap
    ## What it does
    ## Why is this bad?
    ## Example            (```python blocks that must raise the code)
    ## Use instead        (```python blocks that must not)
    ## Fix safety
    ## Options
    ## References
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

REQUIRED_SECTIONS = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Options",
    "References",
)

_CODE = re.compile(r"^[A-Z]{2,4}\d{3}$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


@lru_cache(maxsize=1)
def pages_dir() -> Path | None:
    """Where the pages are: the packaged copy first, then a source checkout's ``rules/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    return None


def page_path(code: str) -> Path | None:
    """The page of a rule code (case-insensitive), or None when there is none."""
    base = pages_dir()
    if base is None:
        return None
    path = base / f"{code.upper()}.md"
    return path if path.is_file() else None


def page_text(code: str) -> str:
    """The Markdown text of a rule's page. KeyError when the code has no page."""
    path = page_path(code)
    if path is None:
        raise KeyError(f"no rule page for {code!r}")
    return path.read_text(encoding="utf-8")


def all_page_codes() -> list[str]:
    """Every code that has a page, sorted."""
    base = pages_dir()
    if base is None:
        return []
    return sorted(p.stem for p in base.glob("*.md") if _CODE.match(p.stem))


def title(text: str) -> tuple[str, str] | None:
    """``(code, name)`` from the page's first ``# CODE: name`` heading."""
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m and len(m.group(1)) == 1:
            code, sep, name = m.group(2).partition(":")
            return (code.strip(), name.strip()) if sep else None
    return None


def sections(text: str) -> dict[str, str]:
    """The body of each ``## Section`` of a page, by heading text (fenced code is not
    mistaken for headings)."""
    result: dict[str, list[str]] = {}
    current: list[str] | None = None
    fence: str | None = None
    for line in text.splitlines():
        m = _FENCE.match(line)
        if m:
            marker = m.group(2)
            if fence is None:
                fence = marker
            elif marker.startswith(fence[0]) and len(marker) >= len(fence) and not m.group(3):
                fence = None
        elif fence is None:
            h = _HEADING.match(line)
            if h and len(h.group(1)) == 2:
                current = result.setdefault(h.group(2), [])
                continue
            if h and len(h.group(1)) == 1:
                current = None
                continue
        if current is not None:
            current.append(line)
    return {k: "\n".join(v).strip("\n") for k, v in result.items()}


def code_blocks(markdown: str, language: str = "python") -> list[str]:
    """The fenced code blocks of a language, dedented to their fence's indentation."""
    blocks: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, marker, lang = m.group(1), m.group(2), m.group(3).lower()
        body: list[str] = []
        i += 1
        while i < len(lines):
            end = _FENCE.match(lines[i])
            if end and end.group(2).startswith(marker[0]) and len(end.group(2)) >= len(marker) and not end.group(3):
                break
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        if lang in (language, "py" if language == "python" else language):
            blocks.append("\n".join(body) + "\n")
    return blocks


def examples(code: str) -> tuple[list[str], list[str]]:
    """``(bad, good)``: the ```python blocks under "Example" and under "Use instead"."""
    parts = sections(page_text(code))
    return code_blocks(parts.get("Example", "")), code_blocks(parts.get("Use instead", ""))
