"""Python's builtins, with their real semantics on the evaluator's values.

On plain values (numbers, strings, containers of them) a builtin is Python's
own. Where a builtin meets the evaluator's other values it is modelled here:
``len`` of a ``ModuleList``, ``list()`` of a ``Sequential``, ``sorted`` with a
``key=`` the model code wrote (called through the evaluator), ``isinstance``
against a torch class, ``dir`` of ``torch.nn.functional``. A builtin that would
reach outside the file (``open``, ``eval``, ``input``) is never run: its value
is an Unknown that says so.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from ..consttensor import ConstTensor
from .. import limits
from . import re as regex_model
from .enum import EnumMember
from ..torch_nn import canonical_nn_name, is_torch_subclass
from ..values import (
    BoundMethod,
    Builtin,
    ClassValue,
    ContainerValue,
    ExternalRef,
    FunctionValue,
    LayerValue,
    ModuleInstance,
    Partial,
    Record,
    SourceModule,
    TensorValue,
    Unknown,
    first_unknown,
    is_pure,
)
from ._support import CALLABLES, MODULE_VALUES, Bound, NotKnown, as_python, bind, function, items, known, model, no_value

if TYPE_CHECKING:
    from ..evaluator import Evaluator

PLAIN = (int, float, str, bool, type(None), tuple, list, dict, range, slice, bytes, complex, frozenset, set,
         re.Match, re.Pattern, regex_model.MATCH, regex_model.PATTERN, EnumMember)
"""Values that stand for themselves: Python's own operations on them are the program's."""

# Methods of plain data that are pure and safe to call on the evaluator's own values.
SAFE_METHODS = {
    list: {"append", "extend", "insert", "pop", "index", "count", "copy", "reverse", "remove", "sort", "clear"},
    dict: {"get", "items", "keys", "values", "copy", "update", "pop", "setdefault", "clear", "popitem"},
    str: {"format", "join", "split", "rsplit", "upper", "lower", "strip", "lstrip", "rstrip", "startswith",
          "endswith", "replace", "count", "find", "rfind", "index", "rindex", "isdigit", "isalpha", "isalnum",
          "isnumeric", "isdecimal", "isupper", "islower", "isidentifier", "isspace", "partition", "rpartition",
          "title", "capitalize", "zfill", "casefold", "swapcase", "ljust", "rjust", "center", "splitlines",
          "removeprefix", "removesuffix", "encode", "expandtabs"},
    bytes: {"decode"},
    tuple: {"index", "count"},
    set: {"issubset", "issuperset", "union", "intersection", "difference", "symmetric_difference", "add", "update",
          "discard", "remove", "copy", "isdisjoint", "pop", "clear"},
    frozenset: {"issubset", "issuperset", "union", "intersection", "difference", "symmetric_difference", "copy",
                "isdisjoint"},
    int: {"bit_length", "to_bytes", "conjugate"},
    float: {"is_integer", "as_integer_ratio", "conjugate"},
    range: {"index", "count"},
    slice: {"indices"},
    re.Match: {"group", "groups", "groupdict", "start", "end", "span"},
    regex_model.MATCH: {"group", "groups", "groupdict", "start", "end", "span"},
}


def method_bound(obj: Any, name: str) -> "Bound | None":
    """What would make a string method of ``obj`` build a string past the reader's limits:
    a width (``ljust(10**9)``), a format spec inside ``obj`` (``'{:>1000000000}'.format``),
    a join of long parts."""
    if not isinstance(obj, (str, bytes)):
        return None

    def bound(args: list[Any], kwargs: dict[str, Any]) -> str | None:
        if name == "format" and isinstance(obj, str) and limits.wide_format(obj):
            return limits.wide_format(obj)
        if any(isinstance(v, int) and not isinstance(v, bool) and v > limits.MAX_ITEMS for v in [*args, *kwargs.values()]):
            return "a width above the limit"
        if name == "join" and args and isinstance(args[0], (list, tuple)):
            total = sum(len(v) for v in args[0] if isinstance(v, (str, bytes)))
            return f"a string of {total:,} characters" if total > limits.MAX_ITEMS else None
        return None

    return bound


# ---------------------------------------------------------------------- types


def _plain_type(name: str, py: type, construct: Any) -> Builtin:
    """``int``, ``list``...: calling converts, ``isinstance`` is Python's."""

    def check(v: Any) -> bool:
        return isinstance(v, py)

    return model(name, construct, check)


def _number(py: type) -> Any:
    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        known(args)
        known(kwargs)
        return py(*args, **kwargs)

    return impl


def _collection(py: type) -> Any:
    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        if not args:
            return py()
        return py(items(ev, args[0], node))

    return impl


def _dict(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    out: dict[Any, Any] = {}
    if args:
        source = args[0]
        if isinstance(source, Unknown):
            raise NotKnown(source)
        if isinstance(source, dict):
            out.update(source)
        elif isinstance(source, ContainerValue) and source.kind == "ModuleDict":
            out.update(source.children)
        else:
            for pair in items(ev, source, node):
                pair = items(ev, pair, node)
                if len(pair) != 2:
                    raise TypeError("dictionary update sequence element has the wrong length")
                out[known(pair[0])] = pair[1]
    out.update(kwargs)
    return out


def _str(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if not args:
        return ""
    v = args[0]
    if is_pure(v):
        return str(v)
    if isinstance(v, (FunctionValue, ClassValue)):
        return f"<{v.name}>"
    if isinstance(v, Record) and v.type_name == "torch.device":
        return str(v.get("type"))  # a cache key (LeViT's attention biases per device)
    raise NotKnown(Unknown(f"str() of a {type(v).__name__}"))


def _bool(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if not args:
        return False
    t = ev.truth(args[0])
    if isinstance(t, Unknown):
        raise NotKnown(t)
    return t


def _type(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """``type(obj)``: the class it was made from, as the evaluator holds classes."""
    if len(args) != 1:
        return Unknown("type() with three arguments creates a class dynamically, which rflint does not model")
    obj = args[0]
    if isinstance(obj, ModuleInstance):
        return obj.cls
    if isinstance(obj, LayerValue):
        return ExternalRef(f"torch.nn.{obj.type_name}")
    if isinstance(obj, ContainerValue):
        return ExternalRef(f"torch.nn.{obj.kind}")
    if isinstance(obj, TensorValue):
        return ExternalRef("torch.Tensor")
    if isinstance(obj, (ClassValue, ExternalRef)) or (isinstance(obj, Builtin) and obj.is_type):
        return BUILTINS["type"]
    if isinstance(obj, (FunctionValue, BoundMethod, Builtin, Partial)):
        return {FunctionValue: _FUNCTION_TYPE, BoundMethod: _METHOD_TYPE, Partial: _PARTIAL_TYPE()}.get(type(obj), _BUILTIN_FUNCTION_TYPE)
    for name in ("bool", "int", "float", "complex", "str", "bytes", "list", "tuple", "dict", "set", "frozenset",
                 "range", "slice"):
        if type(obj) is _PY_TYPES[name]:
            return BUILTINS[name]
    if obj is None:
        return _NONE_TYPE
    if isinstance(obj, Unknown):
        raise NotKnown(obj)
    return Unknown(f"type() of a {type(obj).__name__}")


def is_type(value: Any) -> bool | Unknown:
    """Whether a value is a class, as ``isinstance(value, type)`` says."""
    if isinstance(value, ClassValue):
        return True
    if isinstance(value, Builtin):
        return value.is_type
    if isinstance(value, ExternalRef):
        if canonical_nn_name(value.path) is not None or value.path in ("torch.Tensor", "torch.nn.Parameter"):
            return True
        last = value.path.rsplit(".", 1)[-1]
        if last[:1].islower() and value.path.startswith("torch."):
            return False  # torch's functions are lower case, its classes are not
        return Unknown(f"whether {value.path} is a class (rflint does not read it)")
    if isinstance(value, Unknown):
        return value
    return False


def instance_of(ev: "Evaluator", obj: Any, t: Any) -> bool | Unknown:
    """``isinstance(obj, t)`` for one type ``t``; Unknown when it cannot say."""
    if isinstance(t, Unknown):
        return t
    if isinstance(t, Builtin) and t.check is not None:
        return t.check(obj)
    if isinstance(t, ClassValue):
        if isinstance(obj, ModuleInstance):
            return t in obj.cls.mro()
        return False
    if isinstance(t, ExternalRef):
        if t.path in ("torch.Tensor", "torch.nn.Parameter", "torch.nn.parameter.Parameter"):
            return isinstance(obj, TensorValue)
        nn_name = canonical_nn_name(t.path)
        if nn_name is not None or t.path.startswith("torch.nn."):
            target = nn_name or t.path.rsplit(".", 1)[-1]
            if isinstance(obj, LayerValue):
                return is_torch_subclass(obj.type_name, target)
            if isinstance(obj, ContainerValue):
                return is_torch_subclass(obj.kind, target)
            if isinstance(obj, ModuleInstance):
                return any(is_torch_subclass(p.rsplit(".", 1)[-1], target) for p in obj.cls.external_bases()
                           if p.startswith("torch.nn."))
            return False
        if isinstance(obj, ModuleInstance) and t.path in obj.cls.external_bases():
            return True
        if isinstance(obj, PLAIN) or isinstance(obj, (FunctionValue, ClassValue, TensorValue)):
            return False  # a class rflint does not read was not made from plain data or from code it reads
        return Unknown(f"isinstance against {t.path}, which rflint does not model")
    if isinstance(t, tuple):
        return _any_of(ev, obj, t)
    return Unknown("isinstance against a value that is not a type")


def _any_of(ev: "Evaluator", obj: Any, types: tuple[Any, ...]) -> bool | Unknown:
    unknown: Unknown | None = None
    for t in types:
        verdict = instance_of(ev, obj, t)
        if verdict is True:
            return True
        if isinstance(verdict, Unknown):
            unknown = verdict
    return unknown if unknown is not None else False


def _isinstance(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj, types = args
    if isinstance(obj, Unknown):
        return obj
    return instance_of(ev, obj, types)


def subclass_of(ev: "Evaluator", cls: Any, base: Any) -> bool | Unknown:
    """``issubclass(cls, base)`` for one base."""
    if isinstance(base, tuple):
        unknown: Unknown | None = None
        for b in base:
            verdict = subclass_of(ev, cls, b)
            if verdict is True:
                return True
            if isinstance(verdict, Unknown):
                unknown = verdict
        return unknown if unknown is not None else False
    if isinstance(cls, Unknown) or isinstance(base, Unknown):
        return first_unknown(cls, base)  # type: ignore[return-value]
    if base is BUILTINS["object"]:
        return True
    if isinstance(cls, ClassValue):
        if isinstance(base, ClassValue):
            return base in cls.mro()
        if isinstance(base, ExternalRef):
            if base.path.startswith("torch.nn."):
                target = base.path.rsplit(".", 1)[-1]
                return any(is_torch_subclass(p.rsplit(".", 1)[-1], target) for p in cls.external_bases()
                           if p.startswith("torch.nn."))
            return base.path in cls.external_bases() or Unknown(f"issubclass against {base.path}")
        return False
    if isinstance(cls, ExternalRef) and isinstance(base, ExternalRef):
        if cls.path.startswith("torch.nn.") and base.path.startswith("torch.nn."):
            return is_torch_subclass(cls.path.rsplit(".", 1)[-1], base.path.rsplit(".", 1)[-1])
        return cls.path == base.path or Unknown(f"issubclass of {cls.path} against {base.path}")
    if isinstance(cls, ExternalRef):
        return False  # a class rflint does not read cannot derive from one it does
    if isinstance(cls, Builtin) and isinstance(base, Builtin):
        return cls is base or Unknown(f"issubclass of {cls.name} against {base.name}")
    return Unknown("issubclass of a value that is not a class")


def _issubclass(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    cls, base = args
    verdict = is_type(cls)
    if verdict is False:
        raise TypeError("issubclass() arg 1 must be a class")
    return subclass_of(ev, cls, base)


def _callable(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj = known(args[0]) if isinstance(args[0], Unknown) else args[0]
    if isinstance(obj, CALLABLES):
        return True
    return False if isinstance(obj, PLAIN) or isinstance(obj, (TensorValue, Record)) else Unknown("callable() of a value rflint does not model")


def _getattr(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj, name = args[0], args[1]
    if isinstance(name, Unknown):
        return name
    if not isinstance(name, str):
        raise TypeError("attribute name must be string")
    if len(args) > 2:
        present = ev.has_attr(obj, name)
        if present is False:
            return args[2]
        if isinstance(present, Unknown):
            return present
    return ev.get_attr(obj, name, node)


def _hasattr(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj, name = args
    if isinstance(name, Unknown):
        return name
    return ev.has_attr(obj, name)


def _setattr(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj, name, value = args
    if not isinstance(name, str):
        return ev.unknown("setattr with a name that is not known", node)
    ev.set_attr(obj, name, value)
    return None


def _delattr(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj, name = args
    if isinstance(obj, ModuleInstance) and isinstance(name, str):
        obj.attrs.pop(name, None)
        obj.children.pop(name, None)
    return None


def _dir(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if not args:
        return Unknown("dir() of the calling scope")
    names = ev.attribute_names(args[0])
    return sorted(names) if not isinstance(names, Unknown) else names


def _vars(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """The live attribute dict of an instance (changing it changes the instance)."""
    obj = args[0] if args else None
    if isinstance(obj, ModuleInstance):
        return obj.attrs
    if isinstance(obj, SourceModule) and ev.load(obj):
        return {k: ev.module_attr(obj, k, node) for k in list(obj.globals) if not k.startswith("\0")}
    return Unknown("vars() of a value rflint does not model")


def _len(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    obj = args[0]
    if isinstance(obj, (ContainerValue, ModuleInstance)) and (not isinstance(obj, ModuleInstance) or obj.children):
        return len(obj.children)
    if isinstance(obj, Unknown):
        return obj
    if isinstance(obj, (list, tuple, dict, str, set, frozenset, range, bytes)):
        return len(obj)
    if isinstance(obj, ConstTensor) and obj.shape:
        return obj.shape[0]
    if isinstance(obj, ModuleInstance) and ev.has_attr(obj, "__len__") is True:
        return ev.call(ev.get_attr(obj, "__len__", node), [], {}, node)  # type: ignore[arg-type]
    return ev.unknown(f"len() of {type(obj).__name__}", node)


def _enumerate(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = bind("iterable, start", args, kwargs, {"start": 0})
    return list(enumerate(items(ev, b["iterable"], node), known(b["start"])))


def _zip(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    seqs = [items(ev, a, node) for a in args]
    if kwargs.get("strict") is True and len({len(s) for s in seqs}) > 1:
        raise ValueError("zip() arguments have different lengths")
    return list(zip(*seqs))


def _reversed(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return list(reversed(items(ev, args[0], node)))


def _sorted(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = bind("iterable, key, reverse", args, kwargs, {"key": None, "reverse": False})
    values = items(ev, b["iterable"], node)
    if b["key"] is None:
        known(values)
    return sorted(values, key=as_python(ev, b["key"], node), reverse=bool(known(b["reverse"])))


def _extreme(fn: Any) -> Any:
    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        values = items(ev, args[0], node) if len(args) == 1 else list(args)
        key = kwargs.get("key")
        if key is None:
            known(values)
        extra = {"default": kwargs["default"]} if "default" in kwargs else {}
        return fn(values, key=as_python(ev, key, node), **extra)

    return impl


def _sum(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    b = bind("iterable, start", args, kwargs, {"start": 0})
    values = known(items(ev, b["iterable"], node))
    start = known(b["start"])
    if all(isinstance(v, (int, float, complex)) for v in values) and isinstance(start, (int, float, complex)):
        return sum(values, start)
    total = start  # sum of lists, tuples, constant tensors: the evaluator's own addition
    for v in values:
        total = ev.binop(ast.Add(), total, v, node)
        if isinstance(total, Unknown):
            return total
    return total


def _truths(name: str, stop_on: bool) -> Any:
    """``any`` (stops at the first True) and ``all`` (stops at the first False)."""

    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        unknown: Unknown | None = None
        for v in items(ev, args[0], node):
            t = ev.truth(v)
            if t is stop_on:
                return stop_on
            if isinstance(t, Unknown):
                unknown = t
        if unknown is not None:
            raise NotKnown(unknown)
        return not stop_on

    return impl


def _map(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    fn, *iterables = args
    seqs = [items(ev, it, node) for it in iterables]
    return [ev.call(fn, list(xs), {}, node) for xs in zip(*seqs)]  # type: ignore[arg-type]


def _filter(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    fn, iterable = args
    out = []
    for v in items(ev, iterable, node):
        keep = ev.truth(v if fn is None else ev.call(fn, [v], {}, node))  # type: ignore[arg-type]
        if isinstance(keep, Unknown):
            raise NotKnown(keep)
        if keep:
            out.append(v)
    return out


def _iter(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return list(items(ev, args[0], node))  # iterators are lists: ``next`` takes from the front


def _next(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    it = args[0]
    if isinstance(it, Unknown):
        return it
    if isinstance(it, list):
        if it:
            return it.pop(0)
        if len(args) > 1:
            return args[1]
        return Unknown("next() of an exhausted iterator")
    return Unknown(f"next() of a {type(it).__name__}")


def _pow(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    known(args)
    why = limits.product_bound("pow", *args) if len(args) == 2 else None  # with a modulus it stays small
    if why:
        return ev.unknown(limits.limited(f"pow() giving {why}"), node)
    return pow(*args)


def _format(ev: "Evaluator", args: list[Any], node: ast.AST) -> Any:
    if not is_pure(list(args)):
        return Unknown("format() of an object")
    spec = args[1] if len(args) > 1 else ""
    if isinstance(spec, str) and limits.wide_format(spec):
        return ev.unknown(limits.limited(limits.wide_format(spec) or ""), node)
    return format(*args)


def _object_setattr(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """``object.__setattr__(self, name, value)``: how a frozen dataclass sets a field."""
    return _setattr(ev, args, kwargs, node)


def _identity(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return args[0] if args else None


def _exception(name: str) -> Builtin:
    """An exception class: raising it is a statement the evaluator handles; a value of it
    is never built, so ``isinstance`` against it is False."""
    return Builtin(name, lambda ev, a, k, n: Unknown(f"{name} instance"), lambda v: False)


_PY_TYPES: dict[str, type] = {
    "bool": bool, "int": int, "float": float, "complex": complex, "str": str, "bytes": bytes, "list": list,
    "tuple": tuple, "dict": dict, "set": set, "frozenset": frozenset, "range": range, "slice": slice,
}
_EXCEPTIONS = """Exception BaseException ValueError TypeError RuntimeError KeyError IndexError AttributeError
NotImplementedError AssertionError ImportError ModuleNotFoundError OSError ZeroDivisionError StopIteration Warning
UserWarning DeprecationWarning FutureWarning RuntimeWarning LookupError ArithmeticError OverflowError
FileNotFoundError PermissionError EnvironmentError IOError NameError UnboundLocalError RecursionError""".split()

BUILTINS: dict[str, Any] = {
    "bool": _plain_type("bool", bool, _bool),
    "int": _plain_type("int", int, _number(int)),
    "float": _plain_type("float", float, _number(float)),
    "complex": _plain_type("complex", complex, _number(complex)),
    "str": _plain_type("str", str, _str),
    "bytes": _plain_type("bytes", bytes, _number(bytes)),
    "list": _plain_type("list", list, _collection(list)),
    "tuple": _plain_type("tuple", tuple, _collection(tuple)),
    "set": _plain_type("set", set, _collection(set)),
    "frozenset": _plain_type("frozenset", frozenset, _collection(frozenset)),
    "dict": _plain_type("dict", dict, _dict),
    "range": _plain_type("range", range, _number(range)),
    "slice": _plain_type("slice", slice, _number(slice)),
    "type": model("type", _type, lambda v: is_type(v)),
    "object": model("object", lambda ev, a, k, n: Unknown("a bare object()"), lambda v: True,
                    {"__setattr__": model("object.__setattr__", _object_setattr),
                     "__init__": model("object.__init__", lambda ev, a, k, n: None)}),
    "len": model("len", _len),
    "enumerate": model("enumerate", _enumerate),
    "zip": model("zip", _zip),
    "reversed": model("reversed", _reversed),
    "sorted": model("sorted", _sorted),
    "min": model("min", _extreme(min)),
    "max": model("max", _extreme(max)),
    "sum": model("sum", _sum),
    "any": model("any", _truths("any", True)),
    "all": model("all", _truths("all", False)),
    "map": model("map", _map),
    "filter": model("filter", _filter),
    "iter": model("iter", _iter),
    "next": model("next", _next),
    "isinstance": model("isinstance", _isinstance),
    "issubclass": model("issubclass", _issubclass),
    "callable": model("callable", _callable),
    "getattr": model("getattr", _getattr),
    "hasattr": model("hasattr", _hasattr),
    "setattr": model("setattr", _setattr),
    "delattr": model("delattr", _delattr),
    "dir": model("dir", _dir),
    "vars": model("vars", _vars),
    "pow": model("pow", _pow),
    "property": model("property", _identity),
    "staticmethod": model("staticmethod", _identity),
    "classmethod": model("classmethod", _identity),
    "print": model("print", lambda ev, a, k, n: None),
    "id": model("id", no_value("id() of an object at run time")),
    "hash": function("hash", hash),
    "repr": model("repr", lambda ev, a, k, n: repr(a[0]) if is_pure(a[0]) else Unknown("repr() of an object")),
    "ascii": model("ascii", lambda ev, a, k, n: ascii(a[0]) if is_pure(a[0]) else Unknown("ascii() of an object")),
    "format": model("format", lambda ev, a, k, n: _format(ev, a, n)),
    "NotImplemented": NotImplemented,
    "Ellipsis": Ellipsis,
    "None": None,
    "True": True,
    "False": False,
    "__debug__": True,
}
for _name, _fn in {"abs": abs, "round": round, "divmod": divmod, "chr": chr, "ord": ord, "bin": bin,
                   "hex": hex, "oct": oct}.items():
    BUILTINS[_name] = function(_name, _fn)
for _name in ("open", "input", "exec", "eval", "compile", "__import__", "globals", "locals", "breakpoint", "exit",
              "quit", "memoryview", "bytearray"):
    BUILTINS[_name] = model(_name, no_value(f"{_name}() is never run by the static reader"))
for _exc in _EXCEPTIONS:
    BUILTINS[_exc] = _exception(_exc)

_NONE_TYPE = Builtin("NoneType", lambda ev, a, k, n: None, lambda v: v is None)
_FUNCTION_TYPE = Builtin("function", lambda ev, a, k, n: Unknown("function()"), lambda v: isinstance(v, FunctionValue))
_METHOD_TYPE = Builtin("method", lambda ev, a, k, n: Unknown("method()"), lambda v: isinstance(v, BoundMethod))
_BUILTIN_FUNCTION_TYPE = Builtin("builtin_function_or_method", lambda ev, a, k, n: Unknown("builtin()"),
                                 lambda v: isinstance(v, Builtin) and not v.is_type)


def _PARTIAL_TYPE() -> Any:
    from .functools import PARTIAL

    return PARTIAL


MODULE_TYPES = MODULE_VALUES

MEMBERS = BUILTINS
"""``import builtins; builtins.len``: the same table."""
