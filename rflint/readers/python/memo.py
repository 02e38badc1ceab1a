"""Module constructions remembered: a class built with the same arguments is run once.

A model file builds the same blocks over and over: torchvision's factories build
``Conv2dNormActivation`` about 2,700 times, for about 850 distinct argument
lists; resnet50, resnet101 and resnet152 build the same ``Bottleneck``. Running
each constructor's body again is most of a check's time. So the first build of
``Cls(args)`` is recorded: a snapshot of the module tree it made, and what it
reported on the way. A later build with equal arguments gets a fresh copy of the
snapshot, its locations moved to the new call chain, and the reports replayed.

A copy is exactly what the constructor would have built again when:

- the arguments are equal: compared by value (numbers, strings, tuples, lists
  and dicts of them) or by identity (classes, functions, enum members);
- the evaluator state it may read is in the key (input size, dimensionality,
  whether a ``try`` is catching errors);
- it changed nothing outside what it built. Writes to a mutable value of a
  module's globals (a registry, a counter) or to one of its own arguments (the
  caller would see them), a call-depth or recursion limit, or a graph node made
  on the way, *spoil* the recording, and that call is not remembered;
- everything it built can be copied: a function whose closure holds the
  constructor's locals (a lambda over ``self``) cannot, and is not remembered.

The memory is per evaluator (one file's reading), so results never depend on
which worker read which file, or in which order.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...ir import Location, Op, Unresolved
from .consttensor import ConstTensor
from .stdlib.enum import EnumMember
from .values import (BoundMethod, Builtin, ClassValue, ContainerValue, ExternalRef, FunctionValue, LayerValue, LazyImport,
                     ModuleInstance, ParamValue, Partial, Record, SourceModule, Unknown)

if TYPE_CHECKING:
    from .evaluator import Evaluator

MAX_ENTRIES = 4096
"""Distinct constructions remembered per file; beyond it, new ones are not recorded."""
UNUSED_RECORDINGS = 16
"""A class recorded this many times and never copied is not recorded any more: a copy
costs about as much as a snapshot, and a snapshot that is never used is pure cost."""

_NUMBERS = (bool, int, float, complex)
_BY_VALUE = (str, bytes, type(None))
_ATOMS = frozenset((*_NUMBERS, *_BY_VALUE))
_SHARED = (ClassValue, Builtin, ExternalRef, LazyImport, SourceModule, EnumMember, Op, ConstTensor, ParamValue)
"""Values a copy shares with the original: immutable, or identities (a class is itself)."""
MUTATING_METHODS = frozenset(("append", "extend", "insert", "pop", "remove", "sort", "clear", "reverse", "update",
                              "setdefault", "popitem", "add", "discard"))


class NotCopyable(Exception):
    """A value in a built tree that a copy cannot stand for (a closure over the constructor)."""


def freeze(value: Any, depth: int = 0) -> Hashable:
    """A hashable key that equal arguments share; raises NotCopyable for anything the
    constructor could change or that compares by more than it shows."""
    kind = type(value)
    if kind in _NUMBERS:
        return (kind, value)  # 1, 1.0 and True are equal in Python, not to a constructor
    if kind in _BY_VALUE:
        return value
    if depth > 8:
        raise NotCopyable("nested too deeply")
    if kind is tuple:
        return ("tuple", *(freeze(v, depth + 1) for v in value))
    if kind is frozenset:
        return ("frozenset", frozenset(freeze(v, depth + 1) for v in value))
    if kind is list:  # the constructor may change it: a recording treats it as outside (``written``)
        return ("list", *(freeze(v, depth + 1) for v in value))
    if kind is dict:
        return ("dict", *((freeze(k, depth + 1), freeze(v, depth + 1)) for k, v in value.items()))
    if kind is ExternalRef or kind is LazyImport:
        return value  # frozen dataclasses, equal by what they name
    if isinstance(value, (ClassValue, Builtin, EnumMember)):
        return ("id", id(value))
    if kind is FunctionValue and value.env is value.module.globals:
        return ("id", id(value))
    if kind is Partial:
        return ("partial", freeze(value.func, depth + 1), freeze(tuple(value.args), depth + 1),
                tuple(sorted((k, freeze(v, depth + 1)) for k, v in value.kwargs.items())))
    if kind is Record:
        return ("record", value.type_name, tuple((k, freeze(v, depth + 1)) for k, v in value.fields))
    raise NotCopyable(kind.__name__)


class Copier:
    """Copies a built module tree, keeping its aliasing (a layer that is both an
    attribute and a child stays one object), with its locations' call chains moved
    from ``old`` to ``new``."""

    def __init__(self, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        self.old, self.new = old, new
        self.done: dict[int, Any] = {}

    def loc(self, loc: Location | None) -> Location | None:
        if loc is None or self.old == self.new:
            return loc
        n = len(self.old)
        if loc.chain[:n] != self.old:
            return loc  # made outside this construction
        return Location(loc.file, loc.line, loc.col, loc.end_line, loc.end_col, self.new + loc.chain[n:], loc.node)

    def unresolved(self, item: Unresolved) -> Unresolved:
        return Unresolved(item.reason, self.loc(item.loc))

    def copy(self, value: Any) -> Any:
        kind = type(value)
        if kind in _NUMBERS or kind in _BY_VALUE or isinstance(value, _SHARED):
            return value
        key = id(value)
        if key in self.done:
            return self.done[key]
        if kind is tuple or kind is frozenset:
            if all(type(v) in _ATOMS for v in value):
                return value  # spans, sizes: the common case
            items = [self.copy(v) for v in value]
            return value if all(a is b for a, b in zip(items, value)) else kind(items)
        if kind is list:
            out: Any = []
            self.done[key] = out
            out.extend(self.copy(v) for v in value)
            return out
        if kind is dict:
            out = {}
            self.done[key] = out
            out.update((k, self.copy(v)) for k, v in value.items())
            return out
        if kind is set:
            out = set()
            self.done[key] = out
            out.update(self.copy(v) for v in value)
            return out
        if kind is ModuleInstance:
            out = ModuleInstance(value.cls, {}, self.loc(value.loc), value.path)
            self.done[key] = out
            out.attrs.update((k, self.copy(v)) for k, v in value.attrs.items())
            out.children.update((k, self.copy(v)) for k, v in value.children.items())
            out.taint.extend(self.unresolved(u) for u in value.taint)
            return out
        if kind is LayerValue:
            out = LayerValue(value.type_name, value.op, self.loc(value.loc), {}, value.path, {})
            self.done[key] = out
            out.attrs.update((k, self.copy(v)) for k, v in value.attrs.items())
            out.bound.update((k, self.copy(v)) for k, v in value.bound.items())
            return out
        if kind is ContainerValue:
            out = ContainerValue(value.kind, {}, self.loc(value.loc), value.path, {})
            self.done[key] = out
            out.children.update((k, self.copy(v)) for k, v in value.children.items())
            out.attrs.update((k, self.copy(v)) for k, v in value.attrs.items())
            return out
        if kind is Unknown:
            return Unknown(value.reason, self.loc(value.loc))
        if kind is Location:
            return self.loc(value)
        if kind is Unresolved:
            return self.unresolved(value)
        if kind is FunctionValue:
            if value.env is not value.module.globals:
                raise NotCopyable("a closure")
            return value
        if kind is BoundMethod:
            return BoundMethod(self.copy(value.func), self.copy(value.self_obj))
        if kind is Partial:
            return Partial(self.copy(value.func), self.copy(tuple(value.args)), self.copy(dict(value.kwargs)))
        if kind is Record:
            return Record(value.type_name, tuple((k, self.copy(v)) for k, v in value.fields))
        raise NotCopyable(kind.__name__)


@dataclass(frozen=True)
class Recorded:
    """One construction: what it built (never handed out: only copies are), where it
    was built (the call chain its locations start with), and what it said."""

    snapshot: ModuleInstance
    head: tuple[str, ...]
    events: tuple[tuple[str, Any, Any], ...]
    built: int
    steps: int
    keep: tuple[Any, ...]  # the arguments, alive: keys hold the ids of some of them


@dataclass
class Recording:
    """A construction being recorded (they nest)."""

    key: Hashable
    head: tuple[str, ...]
    spoils: int
    events: int
    built: int
    steps: int
    nodes: int
    args: tuple[Any, ...]


class ConstructionMemo:
    """The per-evaluator memory of constructions, and the journal the evaluator writes
    while one is being recorded."""

    def __init__(self) -> None:
        self.entries: dict[Hashable, Recorded | None] = {}  # None: tried, cannot be remembered
        self.active = 0  # recordings running
        self.spoils = 0  # things done that a copy could not repeat, counted
        self.events: list[tuple[str, Any, Any]] = []  # reports, assumptions and definitions run while recording
        self.recorded: dict[int, int] = {}  # recordings made, per class (by id: classes live as long as this)
        self.hits: dict[int, int] = {}  # constructions answered by a copy, per class
        self.outside: list[frozenset[int]] = []  # per running recording, its arguments' containers
        self._global_ids: set[int] = set()
        self._globals_seen: tuple[int, int] = (-1, -1)

    def key(self, ev: Evaluator, cls: ClassValue, args: list[Any], kwargs: dict[str, Any]) -> Hashable | None:
        if self.recorded.get(id(cls), 0) >= UNUSED_RECORDINGS and not self.hits.get(id(cls)):
            return None  # built with new arguments every time (a whole model, blocks with their own drop rate)
        try:
            frozen = (id(cls), freeze(tuple(args)), tuple(sorted((k, freeze(v)) for k, v in kwargs.items())))
        except NotCopyable:
            return None
        # What else a constructor may read of the evaluator's state.
        return (frozen, ev.try_depth > 0, repr(ev.default_input_size), ev.ndim, ev.input_size, ev.builder is None)

    def replay(self, ev: Evaluator, entry: Recorded, loc: Location | None) -> ModuleInstance:
        """A fresh copy of a recorded construction, as if it had been run here."""
        cls_id = id(entry.snapshot.cls)
        self.hits[cls_id] = self.hits.get(cls_id, 0) + 1
        copier = Copier(entry.head, tuple(ev.chain))
        instance = copier.copy(entry.snapshot)
        instance.loc = loc
        for kind, a, b in entry.events:
            if kind == "report":
                ev.report(a, copier.loc(b))
            elif kind == "assume":
                ev.assume_at(a, copier.loc(b))
            elif ev.touched is not None:  # "touch": the definitions the constructor ran
                ev.touched.add(a)
                self.note(kind, a, b)
        ev.built += entry.built
        ev.steps += entry.steps
        ev.check_budget()  # the budget a real run would have spent
        return instance

    def begin(self, ev: Evaluator, key: Hashable, args: tuple[Any, ...]) -> Recording:
        if self.active == 0:
            self.events.clear()
        self.active += 1
        nodes = len(ev.builder.nodes) if ev.builder is not None else 0
        self.outside.append(frozenset(_containers(args)))
        return Recording(key, tuple(ev.chain), self.spoils, len(self.events), ev.built, ev.steps, nodes, args)

    def end(self, ev: Evaluator, rec: Recording, instance: Any) -> None:
        """Remember the construction, unless something spoiled it."""
        self.active -= 1
        self.outside.pop()
        cls_id = rec.key[0][0]  # type: ignore[index]
        self.recorded[cls_id] = self.recorded.get(cls_id, 0) + 1
        nodes = len(ev.builder.nodes) if ev.builder is not None else 0
        if rec.spoils != self.spoils or nodes != rec.nodes or not isinstance(instance, ModuleInstance):
            self.entries[rec.key] = None
            return
        if len(self.entries) >= MAX_ENTRIES:
            return
        try:
            snapshot = Copier((), ()).copy(instance)
        except NotCopyable:
            self.entries[rec.key] = None
            return
        events = tuple(dict.fromkeys(self.events[rec.events:]))  # each said once: replaying is idempotent
        self.entries[rec.key] = Recorded(snapshot, rec.head, events, ev.built - rec.built, ev.steps - rec.steps, rec.args)

    def abandon(self) -> None:
        """A recording ended by an exception (a budget, an error a ``try`` catches)."""
        self.active -= 1
        self.outside.pop()
        self.spoils += 1

    def spoil(self) -> None:
        if self.active:
            self.spoils += 1

    def note(self, kind: str, a: Any, b: Any) -> None:
        if self.active:
            self.events.append((kind, a, b))

    def written(self, ev: Evaluator, target: Any) -> None:
        """``target`` is being changed in place: if it is a mutable value of a module's
        globals, the construction being recorded has an effect a copy would not have."""
        if not self.active:
            return
        if isinstance(target, (ClassValue, SourceModule)):
            self.spoils += 1
            return
        if any(target is c for c in ev.constructing):
            return  # ``self.conv = ...``: what is being built
        if any(id(target) in ids for ids in self.outside):
            self.spoils += 1  # an argument, changed: the caller would see it
            return
        seen = (len(ev.modules), len(ev.main.globals))
        if seen != self._globals_seen:
            self._globals_seen = seen
            modules = [ev.main, *ev.modules.values()]
            self._global_ids = {id(v) for m in modules for v in m.globals.values()
                                if isinstance(v, (list, dict, set, ModuleInstance, ContainerValue, LayerValue))}
        if id(target) in self._global_ids:
            self.spoils += 1


def _containers(value: Any, depth: int = 0) -> list[int]:
    """The ids of the lists, dicts and sets in (frozen) arguments."""
    kind = type(value)
    if depth > 8 or kind in _ATOMS:
        return []
    if kind is list or kind is dict or kind is set:
        items = list(value.items()) if kind is dict else value
        return [id(value), *(i for v in items for i in _containers(v, depth + 1))]
    if kind is tuple or kind is frozenset:
        return [i for v in value for i in _containers(v, depth + 1)]
    if kind is Partial:
        return _containers((value.args, value.kwargs), depth + 1)
    return []
