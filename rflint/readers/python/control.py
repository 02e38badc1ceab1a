"""What the parts of the evaluator share: scopes, the exceptions that carry control
flow (``return``, ``break``, ``continue``, an exhausted budget), the budgets
themselves, and deferred expressions.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from .stdlib.builtins import BUILTINS
from .loader import STUBS
from .values import ClassValue, SourceModule

if TYPE_CHECKING:
    from .evaluator import Evaluator

STEP_BUDGET = 1_000_000
STAR_IMPORTS = "\0star-imports"
"""The key, in a module's globals, of the modules its ``from m import *`` name: no Python
name can collide with it."""
IDLE_LOOP_STEPS = 60_000
"""A loop that has run this many steps without building a layer or a graph node is not
run to the end: it computes values that do not shape the model (timm's attention-bias
index tables, resolution**4 iterations), and the names it touches become Unknown."""
IDLE_REASON = "computed by a long loop that builds no layer, which rflint does not run to the end"
MAX_DEPTH = 60
STUBS_DIR = str(STUBS)
NO_RETURN = object()
"""A branch that did not return (distinct from one that returned None)."""


class Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class Break(Exception):
    pass


class Continue(Exception):
    pass


TIME_BUDGET = 60.0
"""Seconds one model (or one module's top level) may take to read. The step budget bounds
the evaluator's own work; this bounds everything else a hostile file could make slow.
The language server passes a shorter one (each keystroke re-reads the document)."""


class BudgetExceeded(Exception):
    """The step or time budget ran out; ``what`` says which, for the message."""

    def __init__(self, what: str = "step budget") -> None:
        super().__init__(what)
        self.what = what


class Raised(Exception):
    """An exception the model's code raises, inside a ``try`` (only there: elsewhere an
    error is an Unknown value and the reading goes on). ``kind`` is the exception class's
    name, matched against the ``except`` clauses."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason


class Scope:
    """Local names of one function call, falling back to the module's globals."""

    __slots__ = ("locals", "globals")

    def __init__(self, globals_: dict[str, Any], locals_: dict[str, Any] | None = None) -> None:
        self.globals = globals_
        self.locals = locals_ if locals_ is not None else globals_

    def lookup(self, name: str) -> Any:
        if name in self.locals:
            return self.locals[name]
        if name in self.globals:
            return self.globals[name]
        if name in BUILTINS:
            return BUILTINS[name]
        raise KeyError(name)


class Deferred:
    """A module constant's or class attribute's expression, not evaluated yet: model
    files and the libraries they import declare weights, metadata and registries at
    module level that a receptive field never needs, so reading them waits for a use."""

    __slots__ = ("expr", "module")

    def __init__(self, expr: ast.expr, module: SourceModule | None = None) -> None:
        self.expr = expr
        self.module = module


def is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(is_literal(e) for e in node.elts)
    return isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)


def dotted(node: ast.expr) -> str:
    """``nn.MaxPool2d`` for a callee written as a dotted name; '' for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def decorated(fn: ast.AST, name: str) -> bool:
    return any(
        (isinstance(d, ast.Name) and d.id == name) or (isinstance(d, ast.Attribute) and d.attr == name)
        for d in getattr(fn, "decorator_list", [])
    )


class ClassNamespace(dict):  # type: ignore[type-arg]
    """The class body's names as seen from a deferred class attribute's expression."""

    def __init__(self, ev: "Evaluator", cls: ClassValue) -> None:
        super().__init__()
        self.ev, self.cls = ev, cls

    def __contains__(self, name: object) -> bool:
        return name in self.cls.class_attrs

    def __getitem__(self, name: str) -> Any:
        return self.ev.class_attr(self.cls, name)


def safe_eq(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def normalise_path(path: str) -> str:
    """Canonical dotted path: ``torch.nn.modules.conv.Conv2d`` -> ``torch.nn.Conv2d``."""
    if path.startswith("torch.nn.modules."):
        return "torch.nn." + path.rsplit(".", 1)[-1]
    if path.startswith("torch.functional."):
        return "torch." + path.rsplit(".", 1)[-1]
    return path
