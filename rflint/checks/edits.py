"""Token edits of a layer's call, for fixes: from the argument spans the reader records.

A reader puts in ``Node.attrs`` the source span of each argument written
(``"args"``, by parameter name), which of them are literals (``"literal"``),
the call's span (``"call"``) and the callee as written (``"func"``). A fix
rewrites only literals: an argument that is a name or an expression is a
helper's parameter, and the call site is not the place to decide it.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import Edit
from ..ir import Node
from .base import ModelContext


def after_last_arg(spans: dict[str, Any], text: str) -> Edit:
    """An insertion after the last argument written: robust to a trailing comma before ')'."""
    line, col = max((int(v[2]), int(v[3])) for v in spans.values() if isinstance(v, (tuple, list)) and len(v) == 4)
    return Edit(line, col, line, col, text)


def set_arg(spans: dict[str, Any], param: str, value: str) -> Edit:
    """Replace an argument's value, or add it as a keyword when it is not written."""
    if param in spans:
        line, col, end_line, end_col = spans[param]
        return Edit(line, col, end_line, end_col, value)
    return after_last_arg(spans, f", {param}={value}")


def one_geometry_per_line(ctx: ModelContext, node: Node) -> bool:
    """False when the line that built ``node`` builds other geometries elsewhere in the
    model (a loop over kernel sizes, a parameter): rewriting it for one would break the others."""
    if node.loc is None:
        return False
    here = node.loc.place
    return not any(
        other.loc is not None and other.op != node.op and other.loc.place == here
        for other in ctx.graph.nodes
    )
