"""``collections`` and ``collections.abc``: ``OrderedDict`` (a dict), ``defaultdict``
(whose factory the evaluator calls), ``namedtuple`` (Python's own, on the names the
code gives), ``Counter``, ``deque``, and the abstract types ``isinstance`` checks
against.

Model registries are often ``defaultdict(set)`` (timm's ``_module_to_models``).
"""

from __future__ import annotations

import ast
import collections
import weakref
from typing import TYPE_CHECKING, Any

from ..active import active
from ..values import BoundMethod, Builtin, ClassValue, ExternalRef, FunctionValue, Partial, Unknown
from ._support import MODULE_VALUES, NotKnown, items, known, model
from .builtins import SAFE_METHODS

if TYPE_CHECKING:
    from ..evaluator import Evaluator


class DefaultDict(dict):  # type: ignore[type-arg]
    """``collections.defaultdict``: a missing key calls the factory through the evaluator."""

    def __init__(self, ev: "Evaluator", factory: Any, node: ast.AST, *args: Any) -> None:
        super().__init__(*args)
        self.factory, self.node = factory, node
        self._maker = weakref.ref(ev)  # a module's registry outlives the file that made it

    @property
    def ev(self) -> "Evaluator | None":
        """The evaluator reading now (control.active), else the one that made it."""
        return active() or self._maker()

    def __missing__(self, key: Any) -> Any:
        ev = self.ev
        if self.factory is None or ev is None:
            raise KeyError(key)
        value = ev.call(self.factory, [], {}, self.node)  # type: ignore[arg-type]
        self[key] = value
        return value

    def copy(self) -> "DefaultDict":
        return DefaultDict(self.ev, self.factory, self.node, self)

    def __copy__(self) -> "DefaultDict":
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> "DefaultDict":
        import copy

        return DefaultDict(self.ev, self.factory, self.node, {k: copy.deepcopy(v, memo) for k, v in self.items()})


def _mapping_items(ev: "Evaluator", source: Any, node: ast.AST) -> list[tuple[Any, Any]]:
    if isinstance(source, Unknown):
        raise NotKnown(source)
    if isinstance(source, dict):
        return list(source.items())
    pairs = []
    for pair in items(ev, source, node):
        pair = items(ev, pair, node)
        if len(pair) != 2:
            raise TypeError("need pairs to build a mapping")
        pairs.append((known(pair[0]), pair[1]))
    return pairs


def _ordered_dict(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    out = dict(_mapping_items(ev, args[0], node)) if args else {}
    out.update(kwargs)
    return out


def _defaultdict(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    factory = args[0] if args else None
    initial = _mapping_items(ev, args[1], node) if len(args) > 1 else []
    out = DefaultDict(ev, factory, node, initial)
    out.update(kwargs)
    return out


def _namedtuple(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """Python's ``namedtuple`` on the given names (validated identifiers): its instances
    are tuples, plain values; ``obj.field`` reads them."""
    name, fields = known(args[0]), known(args[1] if len(args) > 1 else kwargs.get("field_names"))
    options = {k: known(v) for k, v in kwargs.items() if k in ("defaults", "rename")}
    cls = collections.namedtuple(name, fields, **options)
    return Builtin(name, lambda ev, a, k, n: cls(*known(a), **known(k)), lambda v: isinstance(v, cls),
                   {"_fields": cls._fields, "_make": model(f"{name}._make", lambda ev, a, k, n: cls._make(items(ev, a[0], n))),
                    "__new__": NamedTupleNew(cls)})


class NamedTupleNew:
    """``Point.__new__`` of a namedtuple: the pre-3.7 idiom for field defaults is
    ``Point.__new__.__defaults__ = (None,) * len(Point._fields)`` (efficientnet_pytorch)."""

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def set(self, name: str, value: Any) -> bool:
        """Set ``__defaults__`` (a tuple of plain values); False for anything else."""
        if name != "__defaults__" or not (value is None or isinstance(value, tuple)):
            return False
        self.cls.__new__.__defaults__ = value
        return True


NOT_A_FIELD = object()


def namedtuple_attribute(value: tuple, name: str) -> Any:  # type: ignore[type-arg]
    """``point.x``, ``point._replace(x=1)``, ``point._asdict()`` of a namedtuple;
    ``NOT_A_FIELD`` if not one (a field's value may be None)."""
    fields = getattr(type(value), "_fields", None)
    if fields is None:
        return NOT_A_FIELD
    if name in fields:
        return getattr(value, name)
    if name == "_fields":
        return fields
    if name == "_replace":
        return model("_replace", lambda ev, a, k, n: value._replace(**k))  # type: ignore[attr-defined]
    if name == "_asdict":
        return model("_asdict", lambda ev, a, k, n: dict(value._asdict()))  # type: ignore[attr-defined]
    return NOT_A_FIELD


class Deque(list):  # type: ignore[type-arg]
    """``collections.deque``: a list with the left-end methods (timm's pretrained-config
    tags are a deque, the default tag put first with ``appendleft``)."""

    def appendleft(self, x: Any) -> None:
        self.insert(0, x)

    def popleft(self) -> Any:
        return self.pop(0)

    def extendleft(self, values: Any) -> None:
        for x in values:
            self.insert(0, x)

    def rotate(self, n: int = 1) -> None:
        if self:
            n %= len(self)
            self[:] = self[-n:] + self[:-n]


SAFE_METHODS[Deque] = {"appendleft", "popleft", "extendleft", "rotate"}  # and a list's, found before


def _abstract(name: str, *types: type) -> Builtin:
    return model(f"collections.abc.{name}", lambda ev, a, k, n: Unknown(f"{name}() is abstract"),
                 lambda v: isinstance(v, types))


def _is_callable(v: Any) -> bool:
    return isinstance(v, (FunctionValue, BoundMethod, Builtin, ClassValue, Partial, ExternalRef, *MODULE_VALUES))


_SEQUENCES = (list, tuple, str, range, bytes)
_ITERABLES = (list, tuple, str, dict, set, frozenset, range, bytes)
ABC: dict[str, Any] = {
    "Sequence": _abstract("Sequence", *_SEQUENCES), "MutableSequence": _abstract("MutableSequence", list),
    "Iterable": _abstract("Iterable", *_ITERABLES), "Iterator": _abstract("Iterator"),
    "Collection": _abstract("Collection", *_ITERABLES), "Container": _abstract("Container", *_ITERABLES),
    "Sized": _abstract("Sized", *_ITERABLES), "Mapping": _abstract("Mapping", dict),
    "MutableMapping": _abstract("MutableMapping", dict), "Set": _abstract("Set", set, frozenset),
    "MutableSet": _abstract("MutableSet", set), "Hashable": model("collections.abc.Hashable", lambda ev, a, k, n: Unknown("Hashable() is abstract"),
                      lambda v: not isinstance(v, (list, dict, set))),
    "Callable": model("collections.abc.Callable", lambda ev, a, k, n: Unknown("Callable() is abstract"), _is_callable),
    "Generator": _abstract("Generator"),
}

MEMBERS: dict[str, Any] = {
    "OrderedDict": model("collections.OrderedDict", _ordered_dict, lambda v: isinstance(v, dict)),
    "defaultdict": model("collections.defaultdict", _defaultdict, lambda v: isinstance(v, DefaultDict)),
    "namedtuple": model("collections.namedtuple", _namedtuple),
    "Counter": model("collections.Counter", lambda ev, a, k, n: dict(collections.Counter(known(items(ev, a[0], n)))) if a else {},
                     lambda v: isinstance(v, dict)),
    "deque": model("collections.deque", lambda ev, a, k, n: Deque(items(ev, a[0], n)) if a else Deque(),
                   lambda v: isinstance(v, Deque)),
    "abc": ExternalRef("collections.abc"),
    **ABC,
}
