"""RL: rflint's own findings, as ruff's RUF family. Registered so that they can be
selected, ignored and documented like any rule; their findings come from the readers
(RL001, RL002, RL004) and from the API's ``# noqa`` bookkeeping (RL003), not from a graph."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, Severity
from .base import ModelContext, Rule, register


class _MetaRule(Rule):
    def check(self, ctx: ModelContext) -> Iterator[Diagnostic]:
        return iter(())


@register
class ParseError(_MetaRule):
    code = "RL001"
    name = "unreadable-file"
    severity = Severity.ERROR
    summary = "A file (or a pragma in it) that rflint could not read or parse"


@register
class Unresolved(_MetaRule):
    code = "RL002"
    name = "unresolved-construct"
    severity = Severity.INFO
    enabled_by_default = False
    summary = "A construct the static reader could not resolve (shown on request)"


@register
class UnusedNoqa(_MetaRule):
    code = "RL003"
    name = "unused-noqa"
    severity = Severity.WARNING
    enabled_by_default = False
    summary = "A # noqa comment naming rflint codes that suppress nothing on its line"


@register
class IncompleteModel(_MetaRule):
    code = "RL004"
    name = "incomplete-model"
    severity = Severity.INFO
    summary = "A model the reader could not follow to the end: its receptive field is not known"
