"""NM: normalisation layers against the batch they will be trained with.

BatchNorm normalises each channel with the mean and variance of the current
batch (over N, H and W). With few samples per device those statistics are
noisy and differ from the running averages used at inference (Wu & He, "Group
Normalization", ECCV 2018); with a single value per channel PyTorch refuses to
train ("Expected more than 1 value per channel when training").

Which layers count: the reader's ``Node.type_name`` is the torch class name,
so ``BatchNorm1d/2d/3d`` and ``LazyBatchNorm*``. ``SyncBatchNorm`` computes
its statistics over every device's batch, and ``FrozenBatchNorm2d``
(torchvision's detection backbones) uses fixed statistics: neither is
flagged. The functional ``F.batch_norm`` leaves no node in the graph (the
reader treats it as pointwise), so it is not seen.
"""

from __future__ import annotations

import re
from math import prod
from typing import Iterator

from ..diagnostics import Diagnostic, Severity
from ..ir import EndSpatial, Global, Node, Pointwise
from ..settings import ModelSettings
from .base import ModelContext, Rule, register

_BATCHNORM = re.compile(r"(?:Lazy)?BatchNorm([123])d")


def batchnorm_dims(node: Node) -> int | None:
    """1, 2 or 3 for a (non-synchronised, non-frozen) BatchNorm layer; None otherwise."""
    m = _BATCHNORM.fullmatch(node.type_name or "")
    return int(m.group(1)) if m else None


def _features(node: Node) -> str:
    n = node.attrs.get("num_features")
    return str(n) if isinstance(n, int) else ""


def _replacement(node: Node) -> str:
    """What to normalise with instead. For feature maps ``nn.GroupNorm(G, C)``, G the
    largest group count <= 32 (Wu & He's default) that divides C and leaves at least two
    channels per group; for BatchNorm1d (usually on vectors) ``nn.LayerNorm(C)``."""
    channels = node.attrs.get("num_features")
    known = isinstance(channels, int) and channels > 0
    if batchnorm_dims(node) == 1:
        return f"nn.LayerNorm({channels if known else 'num_features'})"
    if not known:
        return "nn.GroupNorm(32, num_channels)"
    groups = max([g for g in range(1, 33) if channels % g == 0 and channels // g >= 2] or [1])
    return f"nn.GroupNorm({groups}, {channels})"


@register
class BatchNormSmallBatch(Rule):
    code = "NM101"
    name = "batchnorm-small-batch"
    severity = Severity.WARNING
    summary = "BatchNorm trained with a per-device batch smaller than 8: noisy batch statistics"

    THRESHOLD = 8

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.batch_size is not None

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        batch = ctx.settings.batch_size
        if batch is None or batch >= self.THRESHOLD:
            return
        for node in ctx.graph.nodes:
            if batchnorm_dims(node) is None:
                continue
            ws = " (with Weight Standardization in the convs, Qiao et al. 2019)" if batchnorm_dims(node) != 1 else ""
            yield self.diagnostic(
                ctx,
                node,
                f"{node.type_name}({_features(node)}) normalises with the statistics of a per-device batch of "
                f"{batch} (batch-size {batch} < {self.THRESHOLD}): means and variances from so few samples are "
                f"noisy and differ from the running averages used at inference (Wu & He 2018: ResNet-50 on "
                f"ImageNet at 2 images per GPU, GroupNorm's error is 10.6 points lower than BatchNorm's). "
                f"Use {_replacement(node)}{ws}, nn.SyncBatchNorm across devices, or frozen statistics "
                f"when fine-tuning.",
            )


def _values_per_channel(ctx: ModelContext, node: Node) -> int | None:
    """How many values per sample and channel a BatchNorm normalises over (its input's
    H*W...), or None when the sizes are not known.

    On a spatial map: the product of the analysed sizes (needs input-size). After
    global pooling (sizes 1) or a reshape to ``(N, C)``: 1. After ``flatten`` of a map
    larger than 1x1 the result depends on ``start_dim``, which the graph does not keep:
    unknown, unless a ``Linear`` follows (a Linear after a flatten reads ``(N, features)``).
    """
    if not node.inputs:
        return None
    info = ctx.analysis.info(node.inputs[0])
    if info.status == "local":
        if info.sizes is None or any(n is None for n in info.sizes):
            return None
        return prod(info.sizes)  # type: ignore[arg-type]
    if info.status != "ended":
        return None
    # Walk back over pointwise layers and the layers that ended the frame.
    cur = ctx.graph.nodes[node.inputs[0]]
    through_linear = False
    while True:
        if isinstance(cur.op, Global):
            sizes = ctx.analysis.info(cur.id).sizes
            if sizes and all(n == 1 for n in sizes):
                return 1
            return 1 if through_linear else None
        if isinstance(cur.op, EndSpatial):
            if cur.type_name in ("Linear", "LazyLinear"):
                through_linear = True
            elif cur.type_name == "reshape":
                return 1  # the reader ends the frame only for a view to at most 2 dimensions
            elif through_linear:
                return 1
            else:
                src = ctx.analysis.info(cur.inputs[0]) if cur.inputs else None
                if src is not None and src.sizes and all(n == 1 for n in src.sizes):
                    return 1
                if src is not None and src.status == "ended":
                    cur = ctx.graph.nodes[cur.inputs[0]]
                    continue
                return None
        elif not isinstance(cur.op, Pointwise):
            return None
        if len(cur.inputs) != 1:
            return None
        cur = ctx.graph.nodes[cur.inputs[0]]


@register
class BatchNormSingleValue(Rule):
    code = "NM102"
    name = "batchnorm-single-value"
    severity = Severity.ERROR
    summary = "BatchNorm that sees one value per channel in training (N*H*W = 1): PyTorch raises"

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.batch_size is not None

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        batch = ctx.settings.batch_size
        if batch != 1:
            return  # N*H*W >= N >= 2
        for node in ctx.graph.nodes:
            dims = batchnorm_dims(node)
            if dims is None:
                continue
            per = _values_per_channel(ctx, node)
            if per != 1:
                continue
            info = ctx.analysis.info(node.inputs[0])
            if info.status == "local":
                shape = "x".join(str(n) for n in info.sizes or ())
                where = f"a {shape} feature map"
            else:
                where = "a pooled or flattened vector"
            yield self.diagnostic(
                ctx,
                node,
                f"{node.type_name}({_features(node)}) gets {where} at batch-size 1: N*H*W = 1 value per "
                f"channel, and BatchNorm in training raises 'Expected more than 1 value per channel when "
                f"training'. Train with batch-size >= 2 per device, drop the norm at this point, or use a "
                f"norm that does not reduce over the batch (nn.GroupNorm with several channels per group, or "
                f"nn.LayerNorm).",
            )
