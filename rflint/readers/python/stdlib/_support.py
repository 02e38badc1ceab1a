"""What the standard-library models share: turning Python's own functions into the
evaluator's ``Builtin``s, iterating the evaluator's values, and calling back into
the evaluator from Python code (a ``key=`` function, a ``defaultdict`` factory).

Python's real functions run here only on the evaluator's plain values (numbers,
strings, containers of them): that is pure and safe. Anything that would reach
the user's code does so through the evaluator, which interprets it.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Callable

from .. import limits
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
    Unknown,
    first_unknown,
)

if TYPE_CHECKING:
    from ..evaluator import Evaluator

Impl = Callable[["Evaluator", list[Any], dict[str, Any], ast.AST], Any]
MODULE_VALUES = (LayerValue, ModuleInstance, ContainerValue)
CALLABLES = (FunctionValue, BoundMethod, Builtin, ClassValue, Partial, ExternalRef, *MODULE_VALUES)

_VIEWS = (type({}.keys()), type({}.values()), type({}.items()), map, filter, zip, reversed, enumerate)


class NotKnown(Exception):
    """Raised inside a model when one of its inputs is an Unknown: the call's result is
    that Unknown (``Builtin`` calls turn it back into a value)."""

    def __init__(self, unknown: Unknown) -> None:
        super().__init__(unknown.reason)
        self.unknown = unknown


Bound = Callable[[list[Any], dict[str, Any]], "str | None"]
"""Why a call on these arguments would freeze or exhaust the reader (None: it would not)."""


def function(name: str, fn: Callable[..., Any], bound: Bound | None = None) -> Builtin:
    """Python's ``fn`` on plain values; an Unknown argument makes the result that Unknown.
    Views and iterators come back as lists, which is how the evaluator holds them.
    Arguments and results above the reader's limits (``limits.py``) are refused, and so
    is what ``bound`` says would grow past them (``math.prod`` of a long range)."""

    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        u = first_unknown(*args, *kwargs.values())
        if u:
            return u
        why = limits.first_too_large(*args, *kwargs.values()) or (bound(args, kwargs) if bound is not None else None)
        if why:
            return ev.unknown(limits.limited(f"{name}() of {why}"), node)
        result = plain(fn(*args, **kwargs))
        why = limits.too_large(result)
        return ev.unknown(limits.limited(f"{name}() giving {why}"), node) if why else result

    return Builtin(name, impl)


def plain(result: Any) -> Any:
    return list(result) if isinstance(result, _VIEWS) else result


def model(name: str, impl: Impl, check: Callable[[Any], Any] | None = None,
          members: dict[str, Any] | None = None) -> Builtin:
    """A model written against the evaluator (it may call back into it)."""

    def guarded(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        try:
            return impl(ev, args, kwargs, node)
        except NotKnown as exc:
            return exc.unknown

    return Builtin(name, guarded, check, members)


def items(ev: "Evaluator", value: Any, node: ast.AST) -> list[Any]:
    """The items of an iterable value, as ``for`` would see them; raises NotKnown."""
    out = ev.iterate(value, node)
    if isinstance(out, Unknown):
        raise NotKnown(out)
    return out


def known(value: Any) -> Any:
    """``value`` itself, or NotKnown when it is (or holds) an Unknown."""
    u = first_unknown(value)
    if u:
        raise NotKnown(u)
    return value


def as_python(ev: "Evaluator", fn: Any, node: ast.AST) -> Any:
    """A Python callable that calls ``fn`` through the evaluator (None stays None), for
    Python's own ``sorted``, ``map``, ``functools.reduce`` to call."""
    if fn is None:
        return None
    if isinstance(fn, Unknown):
        raise NotKnown(fn)

    def call(*args: Any, **kwargs: Any) -> Any:
        result = ev.call(fn, list(args), kwargs, node)  # type: ignore[arg-type]
        if isinstance(result, Unknown):
            raise NotKnown(result)
        return result

    return call


def bind(params: str, args: list[Any], kwargs: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Bind a call to named parameters (``"obj, /, *, key"`` style is not needed here:
    every parameter may be given by position or by name). Raises TypeError as Python would."""
    names = [p.strip() for p in params.split(",") if p.strip()]
    if len(args) > len(names):
        raise TypeError(f"takes {len(names)} arguments, got {len(args)}")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"unexpected keyword argument '{key}'")
        if key in bound:
            raise TypeError(f"multiple values for argument '{key}'")
        bound[key] = value
    for key, value in (defaults or {}).items():
        bound.setdefault(key, value)
    missing = [n for n in names if n not in bound]
    if missing:
        raise TypeError(f"missing argument '{missing[0]}'")
    return bound


def no_value(reason: str) -> Impl:
    """A call the static reader never makes (``open``, ``eval``, network, clocks): its result
    is an Unknown that says so."""

    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        return Unknown(reason)

    return impl


def constant(result: Any) -> Impl:
    """A call that does nothing the geometry can see (logging, warnings): ``result``."""

    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        return result

    return impl
