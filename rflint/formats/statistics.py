"""``rflint check --statistics``: how many findings of each rule, instead of the findings.

Like ruff's (and flake8's) table: count, code and name, tab-separated, the counts
right-aligned, most frequent first (then by code), and ``[*]`` before the name of a
rule whose findings have a fix (rflint's ``[*]``, as in the concise format) when any
has one::

    2	CB102	[*] transposed-conv-uneven-overlap
    1	AA102	[ ] aliased-pooling

``--output-format json`` gives the same rows as a JSON list of ``{code, name, count,
fixable}``, ruff's keys. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable

from ..diagnostics import Diagnostic

__all__ = ["Statistic", "render_json", "render_text", "statistics"]

_PSEUDO_NAMES = {"RL000": "internal-error"}


@dataclass(frozen=True)
class Statistic:
    code: str
    name: str
    count: int
    fixable: bool


def _names() -> dict[str, str]:
    from ..checks.base import all_rules

    return {**_PSEUDO_NAMES, **{code: cls.name for code, cls in all_rules().items()}}


def statistics(diags: Iterable[Diagnostic], unsafe: bool = False) -> list[Statistic]:
    """One row per code: most findings first, then by code. ``fixable``: some finding has a
    fix ``--fix`` applies (with ``--unsafe-fixes`` when ``unsafe``), as ruff counts it."""
    counts: dict[str, int] = {}
    fixable: dict[str, bool] = {}
    for d in diags:
        counts[d.code] = counts.get(d.code, 0) + 1
        fixable[d.code] = fixable.get(d.code, False) or (d.fix is not None and (d.fix.safe or unsafe))
    names = _names() if counts else {}
    rows = [Statistic(code, names.get(code, ""), n, fixable[code]) for code, n in counts.items()]
    return sorted(rows, key=lambda s: (-s.count, s.code))


def render_text(rows: list[Statistic]) -> str:
    """The table, without a trailing newline; '' when there are no rows."""
    if not rows:
        return ""
    count_width = max(len(str(s.count)) for s in rows)
    code_width = max(len(s.code) for s in rows)
    any_fixable = any(s.fixable for s in rows)
    lines = []
    for s in rows:
        marker = ("[*] " if s.fixable else "[ ] ") if any_fixable else ""
        lines.append(f"{s.count:>{count_width}}\t{s.code:<{code_width}}\t{marker}{s.name}")
    return "\n".join(lines)


def render_json(rows: list[Statistic]) -> str:
    """The rows as a JSON list (``[]`` when there are none), indented by 2."""
    return json.dumps([asdict(s) for s in rows], indent=2)
