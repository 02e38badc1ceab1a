"""``itertools`` on the evaluator's values. Infinite iterators (``count``, ``cycle``, a
``repeat`` without a count) have no list to stand for them: they are Unknown."""

from __future__ import annotations

import ast
import itertools
from typing import TYPE_CHECKING, Any

from ..values import Unknown
from ._support import as_python, items, known, model

if TYPE_CHECKING:
    from ..evaluator import Evaluator


def _over_items(name: str, fn: Any, keywords: tuple[str, ...] = ()) -> Any:
    """``fn`` with every positional argument an iterable of the evaluator's values."""

    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        opts = {k: known(v) for k, v in kwargs.items() if k in keywords}
        return list(fn(*(items(ev, a, node) for a in args), **opts))

    return model(f"itertools.{name}", impl)


def _repeat(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    times = args[1] if len(args) > 1 else kwargs.get("times")
    if times is None:
        return Unknown("an endless itertools.repeat")
    return [args[0]] * known(times)


def _accumulate(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    values = items(ev, args[0], node)
    func = args[1] if len(args) > 1 else kwargs.get("func")
    initial = kwargs.get("initial")
    if func is None:
        known(values)
        return list(itertools.accumulate(values, initial=known(initial)))
    return list(itertools.accumulate(values, as_python(ev, func, node), initial=initial))


def _islice(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return list(itertools.islice(items(ev, args[0], node), *known(args[1:])))


def _starmap(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return [ev.call(args[0], list(items(ev, xs, node)), {}, node) for xs in items(ev, args[1], node)]  # type: ignore[arg-type]


def _predicate(name: str, fn: Any) -> Any:
    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        return list(fn(as_python(ev, args[0], node), items(ev, args[1], node)))

    return model(f"itertools.{name}", impl)


def _groupby(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    key = args[1] if len(args) > 1 else kwargs.get("key")
    values = items(ev, args[0], node)
    return [(k, list(g)) for k, g in itertools.groupby(values, as_python(ev, key, node))]


def _chain_from_iterable(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return [x for it in items(ev, args[0], node) for x in items(ev, it, node)]


MEMBERS: dict[str, Any] = {
    "repeat": model("itertools.repeat", _repeat),
    "chain": model("itertools.chain", lambda ev, a, k, n: [x for it in a for x in items(ev, it, n)], None,
                   {"from_iterable": model("itertools.chain.from_iterable", _chain_from_iterable)}),
    "product": _over_items("product", itertools.product, ("repeat",)),
    "accumulate": model("itertools.accumulate", _accumulate),
    "islice": model("itertools.islice", _islice),
    "combinations": model("itertools.combinations", lambda ev, a, k, n: list(itertools.combinations(items(ev, a[0], n), known(a[1])))),
    "combinations_with_replacement": model("itertools.combinations_with_replacement",
                                           lambda ev, a, k, n: list(itertools.combinations_with_replacement(items(ev, a[0], n), known(a[1])))),
    "permutations": model("itertools.permutations",
                          lambda ev, a, k, n: list(itertools.permutations(items(ev, a[0], n), *known(a[1:])))),
    "zip_longest": _over_items("zip_longest", itertools.zip_longest, ("fillvalue",)),
    "pairwise": _over_items("pairwise", itertools.pairwise),
    "compress": _over_items("compress", itertools.compress),
    "starmap": model("itertools.starmap", _starmap),
    "takewhile": _predicate("takewhile", itertools.takewhile),
    "dropwhile": _predicate("dropwhile", itertools.dropwhile),
    "filterfalse": _predicate("filterfalse", itertools.filterfalse),
    "groupby": model("itertools.groupby", _groupby),
    "tee": model("itertools.tee", lambda ev, a, k, n: tuple(list(items(ev, a[0], n)) for _ in range(known(a[1]) if len(a) > 1 else 2))),
    "count": model("itertools.count", lambda ev, a, k, n: Unknown("an endless itertools.count")),
    "cycle": model("itertools.cycle", lambda ev, a, k, n: Unknown("an endless itertools.cycle")),
}
