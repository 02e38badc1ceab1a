"""``dataclasses``: the ``__init__`` that ``@dataclass`` writes, ``field``, ``replace``,
``asdict``, ``astuple``, ``fields`` and ``is_dataclass``.

Model configurations are often dataclasses (timm's ``ByoModelCfg``, ``NfCfg``,
``PretrainedCfg``), copied with ``replace`` and walked with ``fields``. An
instance of a dataclass is a ``ModuleInstance`` (the evaluator's instance of any
class it reads) whose attributes are the fields.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from ..values import ClassValue, ModuleInstance, Record, Unknown
from ._support import NotKnown, model

if TYPE_CHECKING:
    from ..evaluator import Evaluator


class FieldSpec:
    """``dataclasses.field(default=..., default_factory=..., init=...)``."""

    __slots__ = ("default", "factory", "init")

    def __init__(self, default: Any, factory: Any, init: bool = True) -> None:
        self.default, self.factory, self.init = default, factory, init


MISSING = Record("dataclasses.MISSING", ())


def is_dataclass_class(cls: ClassValue) -> bool:
    """Decorated with ``@dataclass`` (or ``@dataclasses.dataclass(...)``) itself or in a base."""
    return any(c.is_dataclass() for c in cls.mro())


def _annotation_is_classvar(stmt: ast.AnnAssign) -> bool:
    text = ast.unparse(stmt.annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "InitVar", "dataclasses.InitVar", "KW_ONLY"))


def field_specs(ev: "Evaluator", cls: ClassValue) -> list[tuple[str, Any]]:
    """(name, default) of every field in definition order, base classes' first; the default
    is a FieldSpec, a plain value, or MISSING."""
    out: dict[str, Any] = {}
    for c in reversed(cls.mro()):
        if not c.is_dataclass():
            continue
        for stmt in c.node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and not _annotation_is_classvar(stmt):
                name = stmt.target.id
                out[name] = ev.class_attr(c, name) if stmt.value is not None else MISSING
    return list(out.items())


def _default(ev: "Evaluator", spec: Any, node: ast.AST) -> Any:
    if isinstance(spec, FieldSpec):
        if spec.factory is not None:
            return ev.call(spec.factory, [], {}, node)  # type: ignore[arg-type]
        return spec.default
    return spec


def init(ev: "Evaluator", cls: ClassValue, instance: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """The ``__init__`` that ``@dataclass`` writes: fields in order (``init=False`` ones take
    their default), then ``__post_init__``. Returns None, or an Unknown for a bad call."""
    specs = field_specs(ev, cls)
    params = [name for name, spec in specs if not (isinstance(spec, FieldSpec) and not spec.init)]
    if len(args) > len(params):
        return ev.unknown(f"{cls.name}() takes {len(params)} arguments, got {len(args)}", node)
    bound = dict(zip(params, args))
    for key, value in kwargs.items():
        if key not in params:
            return ev.unknown(f"{cls.name}() got an unexpected keyword argument '{key}'", node)
        bound[key] = value
    for name, spec in specs:
        if name in bound:
            continue
        if spec is MISSING or (isinstance(spec, FieldSpec) and spec.factory is None and spec.default is MISSING):
            if name in params:
                return ev.unknown(f"{cls.name}() missing argument '{name}'", node)
            continue
        bound[name] = _default(ev, spec, node)
    if isinstance(instance, ModuleInstance):
        instance.attrs.update(bound)
        post = instance.cls.lookup("__post_init__")
        if post is not None:
            ev.call(ev.get_attr(instance, "__post_init__", node), [], {}, node)  # type: ignore[arg-type]
    return None


def _instance(value: Any, what: str) -> ModuleInstance:
    if isinstance(value, Unknown):
        raise NotKnown(value)
    if not isinstance(value, ModuleInstance) or not is_dataclass_class(value.cls):
        raise TypeError(f"{what}() should be called on dataclass instances")
    return value


def _field(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return FieldSpec(kwargs.get("default", MISSING), kwargs.get("default_factory"), kwargs.get("init", True) is not False)


def _replace(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """A new instance from the old one's init fields and the changes (``__post_init__`` runs
    again, as in Python)."""
    obj = _instance(args[0], "replace")
    params = {}
    for name, spec in field_specs(ev, obj.cls):
        if isinstance(spec, FieldSpec) and not spec.init:
            if name in kwargs:
                raise ValueError(f"field {name} is declared with init=False, it cannot be specified with replace()")
            continue
        params[name] = obj.attrs.get(name, Unknown(f"field {name} was never set"))
    params.update(kwargs)
    return ev.instantiate(obj.cls, [], params, node)


def _to_plain(ev: "Evaluator", value: Any, node: ast.AST, as_tuple: bool) -> Any:
    if isinstance(value, ModuleInstance) and is_dataclass_class(value.cls):
        pairs = [(name, _to_plain(ev, value.attrs.get(name, MISSING), node, as_tuple)) for name, _ in field_specs(ev, value.cls)]
        return tuple(v for _, v in pairs) if as_tuple else dict(pairs)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(ev, v, node, as_tuple) for v in value)
    if isinstance(value, dict):
        return {k: _to_plain(ev, v, node, as_tuple) for k, v in value.items()}
    return value


def _asdict(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return _to_plain(ev, _instance(args[0], "asdict"), node, False)


def _astuple(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return _to_plain(ev, _instance(args[0], "astuple"), node, True)


def _fields(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    target = args[0]
    if isinstance(target, Unknown):
        raise NotKnown(target)
    cls = target.cls if isinstance(target, ModuleInstance) else target
    if not isinstance(cls, ClassValue) or not is_dataclass_class(cls):
        raise TypeError("must be called with a dataclass type or instance")
    out = []
    for name, spec in field_specs(ev, cls):
        default = spec.default if isinstance(spec, FieldSpec) else spec
        factory = spec.factory if isinstance(spec, FieldSpec) and spec.factory is not None else MISSING
        out.append(Record("Field", (("name", name), ("default", default), ("default_factory", factory),
                                    ("init", not isinstance(spec, FieldSpec) or spec.init))))
    return tuple(out)


def _is_dataclass(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    target = args[0]
    if isinstance(target, ModuleInstance):
        return is_dataclass_class(target.cls)
    if isinstance(target, ClassValue):
        return is_dataclass_class(target)
    return False


def _dataclass(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """``@dataclass`` is read from the class's decorators; called as a function it hands the
    class back (``dataclass(frozen=True)`` returns a decorator that does)."""
    if args:
        return args[0]
    return model("dataclass", lambda ev, a, k, n: a[0] if a else None)


MEMBERS: dict[str, Any] = {
    "dataclass": model("dataclasses.dataclass", _dataclass),
    "field": model("dataclasses.field", _field),
    "replace": model("dataclasses.replace", _replace),
    "asdict": model("dataclasses.asdict", _asdict),
    "astuple": model("dataclasses.astuple", _astuple),
    "fields": model("dataclasses.fields", _fields),
    "is_dataclass": model("dataclasses.is_dataclass", _is_dataclass),
    "MISSING": MISSING,
    "InitVar": model("dataclasses.InitVar", lambda ev, a, k, n: None, lambda v: False),
    "KW_ONLY": Record("dataclasses.KW_ONLY", ()),
}
