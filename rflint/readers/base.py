"""What every reader returns: the models it built and what it could not read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..diagnostics import Diagnostic
from ..ir import Graph

PARSE_ERROR = "RL001"
"""A file that could not be read or parsed at all."""
UNRESOLVED = "RL002"
"""A construct the reader could not resolve (shown on request)."""


@dataclass(frozen=True)
class ReadModel:
    """A model a reader built. ``overrides`` are settings written where the model is
    (a pragma comment, the spec's ``input-size``): keys of ModelSettings.

    ``block`` marks a building block rather than a model: a class that other code of
    the same file builds (a ResNet's Bottleneck, a UNet's DoubleConv). Its layers get the
    layer rules, but not the model-level ones: its real input is a feature map of a size
    the model decides, not the configured input size, and its receptive field is a part
    of the model's, not something to hold an object."""

    graph: Graph
    overrides: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    block: bool = False


@dataclass(frozen=True)
class ReadResult:
    models: tuple[ReadModel, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    # Files beyond the one asked for whose content the result depends on (imports).
    dependencies: tuple[str, ...] = ()


class ReaderError(Exception):
    """A whole file or entry point could not be read; the message names file and line or key."""
