"""``copy``: ``copy`` and ``deepcopy``. Plain data is copied as Python does; an instance
of a class the evaluator reads gets its own attribute dict; modules and tensors are
shared, which is what a receptive field needs of them."""

from __future__ import annotations

import ast
import copy
from typing import TYPE_CHECKING, Any

from ..values import ModuleInstance, Unknown, first_unknown
from ._support import model

if TYPE_CHECKING:
    from ..evaluator import Evaluator


def copy_value(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    from .builtins import PLAIN

    obj = args[0]
    if isinstance(obj, ModuleInstance):
        return ModuleInstance(obj.cls, dict(obj.attrs), obj.loc, obj.path, dict(obj.children))
    if isinstance(obj, PLAIN):
        return copy.deepcopy(obj) if first_unknown(obj) is None else Unknown("copy of a value that is not known")
    return obj


MEMBERS: dict[str, Any] = {"copy": model("copy.copy", copy_value), "deepcopy": model("copy.deepcopy", copy_value)}
