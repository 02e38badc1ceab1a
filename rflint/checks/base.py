"""The rule engine: a registry of rules and the context they read a model through.

A rule is a small class with its code, name, default severity and a
``check(ctx)`` generator. Rules know nothing about where a graph came from.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping

from ..analysis import Analysis, NodeInfo
from ..diagnostics import Diagnostic, Fix, Severity
from ..ir import Graph, Location, Node
from ..layer_key import layer_keys
from ..settings import ModelSettings


@dataclass
class ModelContext:
    """One analysed model and its settings, as the rules see it."""

    graph: Graph
    analysis: Analysis
    settings: ModelSettings

    @cached_property
    def consumers(self) -> dict[int, list[int]]:
        return self.graph.consumers()

    @cached_property
    def layer_keys(self) -> tuple[str, ...]:
        """Per node, the key that matches it across readers (``rflint.layer_key``)."""
        return layer_keys(self.graph)

    def info(self, node: Node) -> NodeInfo:
        return self.analysis.info(node.id)

    def inputs(self, node: Node) -> list[Node]:
        return [self.graph.nodes[i] for i in node.inputs]

    def option(self, code: str, key: str, default: object) -> object:
        return self.settings.rule_options.get(code, {}).get(key, default)


class BeyondLimits(Exception):
    """A rule's computation would go past what rflint computes (a bound against hostile
    input: a trace over billions of pixels). The rule did not run on that model; the API
    says so as RL002, with this reason, never as an internal error."""


@dataclass(frozen=True)
class Option:
    """A per-rule option (``[tool.rflint.rules.PD103] threshold = 0.2``): ``problem(value)``
    says what is wrong with a value, None when it is fine. Checked when the configuration
    is loaded, so a misspelt key or a bad value is a configuration error naming the key,
    not an internal error on every model."""

    problem: Callable[[Any], str | None]
    help: str


def is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"expected true or false, got {value!r}"


class Rule:
    """Base class. Subclasses set the class attributes and implement ``check``."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    enabled_by_default: ClassVar[bool] = True
    summary: ClassVar[str] = ""
    # Layer rules look at each node alone and may run on graphs the reader could
    # not complete; model rules need the whole forward pass.
    needs_complete_graph: ClassVar[bool] = False
    # The analytic ERF (Gaussian moments per node) costs as much as the frames and
    # only a few rules read it: the analysis computes it when one of them runs.
    needs_erf: ClassVar[bool] = False
    options: ClassVar[dict[str, Option]] = {}  # the keys of its table in [tool.rflint.rules]

    def applicable(self, settings: ModelSettings) -> bool:
        """Whether the rule can say anything under these settings (RF101 needs an
        object size)."""
        return True

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic]:
        raise NotImplementedError

    def diagnostic(
        self, ctx: ModelContext, where: Node | Location | None, message: str, fix: Fix | None = None,
        severity: Severity | None = None,
    ) -> Diagnostic | None:
        """A finding at a node's construction site; None when the node has no location."""
        loc = where.loc if isinstance(where, Node) else where
        if loc is None:
            loc = ctx.graph.loc
        if loc is None:
            return None
        node = where if isinstance(where, Node) else None
        return Diagnostic(
            self.code, message, loc, severity or self.severity, fix, ctx.graph.name,
            node.name if node is not None else "", ctx.layer_keys[node.id] if node is not None else "",
        )


_REGISTRY: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: add a rule to the registry (codes are unique)."""
    if cls.code in _REGISTRY:
        raise ValueError(f"rule code {cls.code} registered twice")
    _REGISTRY[cls.code] = cls
    return cls


def all_rules() -> dict[str, type[Rule]]:
    """Every registered rule by code, in code order."""
    import importlib

    from . import FAMILIES

    for family in FAMILIES:
        importlib.import_module(f"{__package__}.{family}")  # registers the family's rules
    return dict(sorted(_REGISTRY.items()))


def run_rules(ctx: ModelContext, rules: Iterable[Rule]) -> tuple[list[Diagnostic], list[tuple[str, Exception]]]:
    """Run rules on one model. An exception in one rule is returned, not raised,
    so that it never hides the other rules' findings."""
    found: list[Diagnostic] = []
    errors: list[tuple[str, Exception]] = []
    for rule in rules:
        if rule.needs_complete_graph and not ctx.graph.complete:
            continue
        try:
            found.extend(d for d in rule.check(ctx) if d is not None)
        except Exception as exc:  # noqa: BLE001  (reported per rule, by design)
            errors.append((rule.code, exc))
    return found, errors


def option_problems(selector: str, table: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``[tool.rflint.rules.<selector>]`` (a code, or a prefix whose
    rules share the table): each problem as ``key: message``, with a suggestion for a
    misspelt key. Options of every rule the selector covers are known there."""
    known: dict[str, Option] = {}
    for code, cls in all_rules().items():
        if code.startswith(selector) or selector == "ALL":
            known.update(cls.options)
    problems = []
    for key, value in table.items():
        option = known.get(key) or known.get(key.replace("_", "-"))
        if option is None:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            names = ", ".join(sorted(known)) or "none"
            problems.append(f"{key}: unknown option for {selector} (its options: {names}){hint}")
            continue
        problem = option.problem(value)
        if problem:
            problems.append(f"{key}: {problem}")
    return problems

