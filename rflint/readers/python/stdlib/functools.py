"""``functools``: ``partial`` (and what model code asks of one: ``func``, ``args``,
``keywords``), ``reduce``, and the decorators that do not change what a function
computes (``wraps``, ``lru_cache``, ``cache``, ``cached_property``).

timm's norm and activation factories unbind a ``partial`` to rebind its keywords
(``isinstance(layer, functools.partial)``, ``layer.keywords``, ``layer.func``).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from ..values import Partial, Unknown
from ._support import NotKnown, as_python, items, model

if TYPE_CHECKING:
    from ..evaluator import Evaluator


def _partial(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if not args:
        raise TypeError("partial() needs a function")
    func, rest = args[0], tuple(args[1:])
    if isinstance(func, Unknown):
        raise NotKnown(func)
    if isinstance(func, Partial):  # Python flattens nested partials
        return Partial(func.func, func.args + rest, {**func.kwargs, **kwargs})
    return Partial(func, rest, dict(kwargs))


PARTIAL = model("functools.partial", _partial, lambda v: isinstance(v, Partial))


def partial_attribute(p: Partial, name: str) -> Any:
    """``p.func``, ``p.args``, ``p.keywords``; None for any other name."""
    if name == "func":
        return p.func
    if name == "args":
        return p.args
    if name == "keywords":
        return p.kwargs
    return None


def _reduce(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    fn, iterable, *initial = args
    values = items(ev, iterable, node)
    if initial:
        acc = initial[0]
    elif values:
        acc, values = values[0], values[1:]
    else:
        raise TypeError("reduce() of empty iterable with no initial value")
    for v in values:
        acc = ev.call(fn, [acc, v], {}, node)  # type: ignore[arg-type]
    return acc


def _decorator_factory(name: str) -> Any:
    """``@lru_cache(maxsize=None)``, ``@wraps(fn)``: a decorator that hands the function back.
    (Decorators are not applied by the evaluator; this serves code that calls them.)"""

    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        if len(args) == 1 and not kwargs and name in ("lru_cache", "cache", "cached_property"):
            return args[0]  # used bare: @lru_cache
        return model(f"functools.{name}()", lambda ev, a, k, n: a[0] if a else None)

    return impl


MEMBERS: dict[str, Any] = {
    "partial": PARTIAL,
    "reduce": model("functools.reduce", _reduce),
    "wraps": model("functools.wraps", _decorator_factory("wraps")),
    "lru_cache": model("functools.lru_cache", _decorator_factory("lru_cache")),
    "cache": model("functools.cache", _decorator_factory("cache")),
    "cached_property": model("functools.cached_property", _decorator_factory("cached_property")),
    "update_wrapper": model("functools.update_wrapper", lambda ev, a, k, n: a[0] if a else None),
    "cmp_to_key": model("functools.cmp_to_key", lambda ev, a, k, n: _cmp_to_key(ev, a[0], n)),
}


def _cmp_to_key(ev: "Evaluator", cmp: Any, node: ast.AST) -> Any:
    import functools

    key = functools.cmp_to_key(as_python(ev, cmp, node))
    return model("cmp_to_key()", lambda ev, a, k, n: key(a[0]))
