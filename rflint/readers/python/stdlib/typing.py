"""``typing``, ``typing_extensions``, ``types``, ``numbers`` and ``abc``: annotations
and the types ``isinstance`` is asked about.

Annotations do not run (a function's are never evaluated); a type alias at module
level (``LayerType = Union[str, Callable, Type[nn.Module]]``) is a value, and
subscripting a typing construct gives the construct back.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from ..values import BoundMethod, Builtin, FunctionValue, Unknown
from ._support import model
from .collections import ABC

if TYPE_CHECKING:
    from ..evaluator import Evaluator


def _marker(name: str, check: Any = None) -> Builtin:
    """``Optional``, ``Any``, ``Protocol``...: usable in annotations and as bases; calling
    one is not something model code does."""
    return model(name, lambda ev, a, k, n: Unknown(f"{name}() is a typing construct"), check or (lambda v: Unknown(f"isinstance against {name}")))


def _type_var(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return _marker(f"TypeVar({args[0]!r})" if args else "TypeVar")


def _new_type(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return model(f"NewType({args[0]!r})", lambda ev, a, k, n: a[0] if a else None)


_NUMBERS = {"Number": (int, float, complex), "Complex": (int, float, complex), "Real": (int, float),
            "Rational": (int,), "Integral": (int,)}
_ALIASES = {"List": list, "Dict": dict, "Tuple": tuple, "Set": set, "FrozenSet": frozenset, "Type": type,
            "Text": str, "DefaultDict": dict, "OrderedDict": dict}

TYPING: dict[str, Any] = {
    "TYPE_CHECKING": False,
    "cast": model("typing.cast", lambda ev, a, k, n: a[1] if len(a) > 1 else None),
    "TypeVar": model("typing.TypeVar", _type_var),
    "NewType": model("typing.NewType", _new_type),
    "overload": model("typing.overload", lambda ev, a, k, n: a[0] if a else None),
    "final": model("typing.final", lambda ev, a, k, n: a[0] if a else None),
    "no_type_check": model("typing.no_type_check", lambda ev, a, k, n: a[0] if a else None),
    "runtime_checkable": model("typing.runtime_checkable", lambda ev, a, k, n: a[0] if a else None),
    "get_type_hints": model("typing.get_type_hints", lambda ev, a, k, n: Unknown("type hints are not evaluated")),
    **{name: _marker(f"typing.{name}") for name in (
        "Any", "Optional", "Union", "Literal", "ClassVar", "Final", "Annotated", "Generic", "Protocol", "NoReturn",
        "Never", "Self", "TypeAlias", "ParamSpec", "Concatenate", "TypeGuard", "Unpack", "Required", "NotRequired",
        "SupportsInt", "SupportsFloat", "SupportsIndex", "Awaitable", "Coroutine", "AsyncIterator", "IO", "Pattern",
        "Match", "ForwardRef")},
    "NamedTuple": _marker("typing.NamedTuple", lambda v: isinstance(v, tuple) and hasattr(type(v), "_fields")),
    "TypedDict": _marker("typing.TypedDict", lambda v: isinstance(v, dict)),
    **ABC,
}
for _alias, _py in _ALIASES.items():
    TYPING[_alias] = _marker(f"typing.{_alias}", lambda v, _py=_py: isinstance(v, _py))

TYPES: dict[str, Any] = {
    "FunctionType": _marker("types.FunctionType", lambda v: isinstance(v, FunctionValue)),
    "LambdaType": _marker("types.LambdaType", lambda v: isinstance(v, FunctionValue)),
    "MethodType": _marker("types.MethodType", lambda v: isinstance(v, BoundMethod)),
    "BuiltinFunctionType": _marker("types.BuiltinFunctionType", lambda v: isinstance(v, Builtin) and not v.is_type),
    "SimpleNamespace": _marker("types.SimpleNamespace", lambda v: False),
    "ModuleType": _marker("types.ModuleType", lambda v: False),
}
NUMBERS: dict[str, Any] = {name: _marker(f"numbers.{name}", lambda v, t=t: isinstance(v, t))
                           for name, t in _NUMBERS.items()}
ABC_MODULE: dict[str, Any] = {
    "ABC": _marker("abc.ABC", lambda v: Unknown("isinstance against abc.ABC")),
    "ABCMeta": _marker("abc.ABCMeta"),
    "abstractmethod": model("abc.abstractmethod", lambda ev, a, k, n: a[0] if a else None),
}

