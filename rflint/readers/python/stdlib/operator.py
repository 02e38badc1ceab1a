"""``operator``: the functions of Python's ``operator`` on plain values, and
``itemgetter``/``attrgetter``, which read through the evaluator."""

from __future__ import annotations

import ast
import operator
from typing import TYPE_CHECKING, Any

from .. import limits
from ._support import function, model

if TYPE_CHECKING:
    from ..evaluator import Evaluator

_PURE = """add sub mul truediv floordiv mod pow neg pos abs eq ne lt le gt ge not_ truth and_ or_ xor invert inv
lshift rshift concat contains countOf indexOf index""".split()


def _itemgetter(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    keys = list(args)

    def get(ev: "Evaluator", a: list[Any], k: dict[str, Any], n: ast.AST) -> Any:
        values = [ev.subscript(a[0], key, n) for key in keys]
        return values[0] if len(values) == 1 else tuple(values)

    return model("itemgetter()", get)


def _attrgetter(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    names = list(args)

    def get(ev: "Evaluator", a: list[Any], k: dict[str, Any], n: ast.AST) -> Any:
        values = []
        for dotted in names:
            obj = a[0]
            for part in str(dotted).split("."):
                obj = ev.get_attr(obj, part, n)
            values.append(obj)
        return values[0] if len(values) == 1 else tuple(values)

    return model("attrgetter()", get)


# The functions whose result grows past the limits from small arguments, bounded before
# they run as their operators are (``expressions.py``): ``operator.pow(7, 10**8)`` would hang.
_GROWING = {"mul": "mul", "pow": "pow", "lshift": "lshift"}

MEMBERS: dict[str, Any] = {
    name: function(f"operator.{name}", getattr(operator, name),
                   (lambda args, kwargs, op=_GROWING[name]: limits.product_bound(op, *args[:2]) if len(args) == 2 else None)
                   if name in _GROWING else None)
    for name in _PURE
}
MEMBERS["itemgetter"] = model("operator.itemgetter", _itemgetter)
MEMBERS["attrgetter"] = model("operator.attrgetter", _attrgetter)
