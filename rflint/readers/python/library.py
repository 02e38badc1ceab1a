"""Python's builtins and the standard-library functions model code computes with.

Values here are the evaluator's own (plain data, or the classes of values.py):
calling Python's real ``len``, ``max``, ``re.match`` or ``itertools.repeat`` on
them is pure and safe, and a function that could reach the user's code or the
outside world is not here. Anything else is an Unknown that says so.
"""

from __future__ import annotations

import ast
import math
import re
from typing import TYPE_CHECKING, Any

from .torch_nn import canonical_nn_name
from .values import (
    BoundMethod,
    Builtin,
    ClassValue,
    ContainerValue,
    ExternalRef,
    FunctionValue,
    LayerValue,
    ModuleInstance,
    Partial,
    SourceModule,
    TensorValue,
    Unknown,
    first_unknown,
)

if TYPE_CHECKING:
    from .evaluator import Evaluator

PLAIN = (int, float, str, bool, type(None), tuple, list, dict, range, slice, bytes, complex, frozenset, set,
          re.Match, re.Pattern)

# Methods of plain data that are pure and safe to call on the evaluator's own values.
SAFE_METHODS = {
    list: {"append", "extend", "insert", "pop", "index", "count", "copy", "reverse", "remove", "sort"},
    dict: {"get", "items", "keys", "values", "copy", "update", "pop", "setdefault"},
    str: {"format", "join", "split", "rsplit", "upper", "lower", "strip", "lstrip", "rstrip", "startswith",
          "endswith", "replace", "count", "find", "index", "isdigit", "isalpha", "partition", "rpartition",
          "title", "capitalize", "zfill"},
    tuple: {"index", "count"},
    set: {"issubset", "issuperset", "union", "intersection", "difference", "add", "update", "discard", "copy"},
    frozenset: {"issubset", "issuperset", "union", "intersection", "difference", "copy"},
    int: {"bit_length"},
    float: {"is_integer"},
    re.Match: {"group", "groups", "groupdict", "start", "end", "span"},
    re.Pattern: {"match", "fullmatch", "search", "findall", "split", "sub"},
}


_VIEWS = (type({}.keys()), type({}.values()), type({}.items()), map, filter, zip, reversed, enumerate)


def builtin_function(name: str, fn: Any) -> Builtin:
    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        u = first_unknown(*args, *kwargs.values())
        if u:
            return u
        result = fn(*args, **kwargs)
        return list(result) if isinstance(result, _VIEWS) else result  # views and iterators as lists

    return Builtin(name, impl)


_BUILTIN_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (float, int), "complex": (complex,), "str": (str,), "bool": (bool,), "list": (list,),
    "tuple": (tuple,), "dict": (dict,), "set": (set,), "frozenset": (frozenset,), "bytes": (bytes,),
    "range": (range,), "slice": (slice,),
}
_ABSTRACT_TYPES: dict[str, tuple[type, ...]] = {
    "Sequence": (list, tuple, str, range), "MutableSequence": (list,), "List": (list,), "Tuple": (tuple,),
    "Iterable": (list, tuple, str, dict, set, frozenset, range), "Collection": (list, tuple, str, dict, set, frozenset, range),
    "Mapping": (dict,), "MutableMapping": (dict,), "Dict": (dict,), "Set": (set, frozenset), "Number": (int, float, complex),
    "Integral": (int,), "Real": (int, float), "Sized": (list, tuple, str, dict, set, frozenset, range),
}
_MODULE_VALUES = (LayerValue, ModuleInstance, ContainerValue)


def _instance_of(obj: Any, t: Any) -> bool | Unknown:
    """``isinstance(obj, t)`` for the evaluator's values; Unknown when it cannot say."""
    if isinstance(t, Builtin) and t.name in _BUILTIN_TYPES:
        t = _BUILTIN_TYPES[t.name]
    if isinstance(t, type):
        t = (t,)
    if isinstance(t, tuple) and all(isinstance(x, type) for x in t):
        if isinstance(obj, (TensorValue, *_MODULE_VALUES, FunctionValue, ClassValue, Builtin, ExternalRef, SourceModule)):
            return False
        return isinstance(obj, t)
    if isinstance(t, ExternalRef):
        name = t.path.rsplit(".", 1)[-1]
        if t.path.startswith(("typing.", "collections.", "numbers.")) and name in _ABSTRACT_TYPES:
            return _instance_of(obj, _ABSTRACT_TYPES[name])
        if t.path.startswith(("typing.", "collections.")) and name == "Callable":
            return isinstance(obj, (FunctionValue, BoundMethod, Builtin, ClassValue, Partial, ExternalRef, *_MODULE_VALUES))
        if t.path in ("torch.Tensor", "torch.nn.Parameter"):
            return isinstance(obj, TensorValue)
        nn_name = canonical_nn_name(t.path)
        if nn_name is not None:
            if nn_name == "Module":
                return isinstance(obj, _MODULE_VALUES)
            if isinstance(obj, LayerValue):
                return obj.type_name == nn_name
            if isinstance(obj, ContainerValue):
                return obj.kind == nn_name
            if isinstance(obj, ModuleInstance):
                return any(canonical_nn_name(p) == nn_name for p in obj.cls.external_bases())
            return False
        if isinstance(obj, ModuleInstance) and t.path in obj.cls.external_bases():
            return True
        return Unknown(f"isinstance against {t.path}, which rflint does not model")
    if isinstance(t, ClassValue):
        return isinstance(obj, ModuleInstance) and t in obj.cls.mro()
    return Unknown("isinstance against a type that is not known")


def _isinstance(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj, types = args[0], args[1]
    if isinstance(obj, Unknown):
        return obj
    unknown: Unknown | None = None
    for t in types if isinstance(types, tuple) else (types,):
        verdict = _instance_of(obj, t)
        if verdict is True:
            return True
        if isinstance(verdict, Unknown):
            unknown = verdict
    return unknown if unknown is not None else False


def copy_value(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """copy.copy / deepcopy: plain data as Python does; instances get their own attribute dict."""
    import copy as _copy_module

    obj = args[0]
    if isinstance(obj, ModuleInstance):
        return ModuleInstance(obj.cls, dict(obj.attrs), obj.loc, obj.path, dict(obj.children))
    if isinstance(obj, PLAIN):
        return _copy_module.deepcopy(obj) if first_unknown(obj) is None else Unknown("copy of a value that is not known")
    return obj


def _getattr(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj, name = args[0], args[1]
    if not isinstance(name, str):
        return Unknown("getattr with a name that is not known")
    if len(args) > 2 and not ev.has_attr(obj, name):
        return args[2]
    return ev.get_attr(obj, name, node)


def _hasattr(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return ev.has_attr(args[0], args[1]) if isinstance(args[1], str) else Unknown("hasattr with a name that is not known")


def _setattr(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if not isinstance(args[1], str):
        return ev.unknown("setattr with a name that is not known", node)
    ev.set_attr(args[0], args[1], args[2])
    return None


def _type(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj = args[0]
    if isinstance(obj, ModuleInstance):
        return obj.cls
    if isinstance(obj, PLAIN) and not isinstance(obj, Unknown):
        return type(obj)
    return Unknown("type() of a value rflint does not model")


def _silent(name: str, result: Any = None) -> Builtin:
    """A call that does nothing to the architecture (warnings, logging, telemetry)."""
    return Builtin(name, lambda ev, args, kwargs, node: result)


def _pure_library() -> dict[str, Any]:
    """Standard-library functions on plain data that model code uses to compute its
    configuration: safe to call on the evaluator's own values (lists of numbers)."""
    import functools
    import itertools
    import operator as op

    out: dict[str, Any] = {
        "itertools.repeat": lambda x, n=None: [x] * n if n is not None else Unknown("an endless repeat"),
        "itertools.chain": lambda *its: list(itertools.chain(*its)),
        "itertools.product": lambda *its, **k: list(itertools.product(*its, **k)),
        "itertools.accumulate": lambda *a, **k: list(itertools.accumulate(*a, **k)),
        "itertools.islice": lambda *a: list(itertools.islice(*a)),
        "itertools.combinations": lambda *a: list(itertools.combinations(*a)),
        "itertools.zip_longest": lambda *a, **k: list(itertools.zip_longest(*a, **k)),
        "functools.reduce": None,  # calls a user function: not on plain data alone
        "collections.namedtuple": None,
    }
    for name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "eq", "ne", "lt", "le", "gt", "ge"):
        out[f"operator.{name}"] = getattr(op, name)
    import re as _re

    # Architecture strings (timm's "ir_r1_k3_s1_e1_c16") are decoded with re: pure on strings.
    for name in ("match", "fullmatch", "search", "findall", "split", "sub", "compile", "escape"):
        out[f"re.{name}"] = getattr(_re, name)
    out["functools.lru_cache"] = None
    del functools
    return {k: v for k, v in out.items() if v is not None}


PURE_LIBRARY = _pure_library()
_EXCEPTIONS = """Exception BaseException ValueError TypeError RuntimeError KeyError IndexError AttributeError
NotImplementedError AssertionError ImportError ModuleNotFoundError OSError ZeroDivisionError StopIteration Warning
UserWarning DeprecationWarning FutureWarning RuntimeWarning""".split()


BUILTINS: dict[str, Any] = {
    name: builtin_function(name, fn)
    for name, fn in {
        "int": int, "float": float, "str": str, "bool": bool, "len": len, "abs": abs, "round": round, "max": max,
        "min": min, "sum": sum, "sorted": sorted, "reversed": lambda x: list(reversed(x)), "list": list, "tuple": tuple,
        "dict": dict, "set": set, "range": range, "zip": lambda *a: list(zip(*a)), "enumerate": lambda *a, **k: list(enumerate(*a, **k)),
        "divmod": divmod, "pow": pow, "any": any, "all": all, "map": None, "repr": repr, "hasattr": None, "getattr": None,
        "print": lambda *a, **k: None, "frozenset": frozenset,
    }.items()
    if fn is not None
}
BUILTINS["isinstance"] = Builtin("isinstance", _isinstance)


def _len(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj = args[0]
    if isinstance(obj, (ContainerValue, ModuleInstance)):
        return len(obj.children)
    if isinstance(obj, Unknown):
        return obj
    if isinstance(obj, (list, tuple, dict, str, set, frozenset, range)):
        return len(obj)
    return ev.unknown(f"len() of {type(obj).__name__}", node)


BUILTINS["len"] = Builtin("len", _len)
BUILTINS["getattr"] = Builtin("getattr", _getattr)
BUILTINS["hasattr"] = Builtin("hasattr", _hasattr)
BUILTINS["setattr"] = Builtin("setattr", _setattr)
BUILTINS["type"] = Builtin("type", _type)
BUILTINS["callable"] = Builtin("callable", lambda ev, a, k, n: isinstance(
    a[0], (FunctionValue, BoundMethod, Builtin, ClassValue, Partial, ExternalRef, *_MODULE_VALUES)))
BUILTINS["iter"] = builtin_function("iter", lambda x: list(x))
BUILTINS["next"] = builtin_function("next", lambda x, *d: x.pop(0) if x else (d[0] if d else Unknown("next() of an empty iterator")))
BUILTINS["NotImplemented"] = NotImplemented
BUILTINS["Ellipsis"] = Ellipsis
for _exc in _EXCEPTIONS:
    BUILTINS[_exc] = _silent(_exc, Unknown(f"{_exc} instance"))

# Library calls that do nothing to the architecture, and torch.jit queries with fixed answers
# (rflint reads the eager, inference-mode model).
SILENT_CALLS: dict[str, Any] = {
    "warnings.warn": None, "warnings.filterwarnings": None, "logging.getLogger": Unknown("a logger"),
    "torch._assert": None, "torch._C._log_api_usage_once": None, "torch.jit.is_scripting": False,
    "torch.jit.is_tracing": False, "torch.nn.init": None, "torch._dynamo.is_compiling": False, "torch.compiler.is_compiling": False,
}
BUILTINS["None"] = None
BUILTINS["True"] = True
BUILTINS["False"] = False

MATH = {name: getattr(math, name) for name in (
    "ceil", "floor", "sqrt", "log", "log2", "log10", "exp", "pow", "gcd", "isclose", "inf", "pi", "e", "prod", "trunc",
)}
