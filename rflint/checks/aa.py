"""AA: anti-aliasing of subsampling layers.

Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019
(adobe/antialiased-cnns): subsampling without a low-pass filter in front
aliases, and the network's output changes when its input shifts by a pixel.
The remedy is blur, then subsample: ``MaxPool(k, s=2)`` becomes
``MaxPool(k, s=1) + BlurPool(s=2)`` and ``Conv(s=2) + ReLU`` becomes
``Conv(s=1) + ReLU + BlurPool(s=2)`` (or ``BlurPool(s=2)`` then
``Conv(s=1)``). What counts as a blur and as "straight from" a blur is in
``layers.py``.
"""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, Severity
from ..ir import Window
from .base import ModelContext, Rule, register
from .layers import (
    comes_straight_from_blur,
    describe,
    fmt_axes,
    is_avg_pool,
    is_known_blur,
    is_max_pool,
    is_strided,
    is_strided_conv,
)


def _pool_only(ctx: ModelContext) -> bool:
    for code in ("AA101", "AA"):
        for key in ("pool-only", "pool_only"):
            value = ctx.option(code, key, None)
            if value is not None:
                return bool(value)
    return False


@register
class AliasedStridedConv(Rule):
    code = "AA101"
    name = "aliased-strided-conv"
    severity = Severity.WARNING
    summary = "Strided conv whose input does not come straight from a blur: it aliases"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        if _pool_only(ctx):
            return
        for node in ctx.graph.nodes:
            if not is_strided_conv(node) or is_known_blur(node):
                continue
            if comes_straight_from_blur(ctx, node):
                continue
            op = node.op
            assert isinstance(op, Window)
            nd = len(op.kernel)
            stride = fmt_axes(op.stride)
            yield self.diagnostic(
                ctx,
                node,
                f"{describe(node)} subsamples by {stride} without a low-pass filter in front: "
                f"patterns with a period under {_nyquist(op)} of its input samples alias, so the output "
                f"changes when the input shifts by one pixel. Use Conv{nd}d(stride=1) + activation + BlurPool(stride={stride}), or "
                f"BlurPool(stride={stride}) before a stride-1 conv (antialiased-cnns).",
            )


def _nyquist(op: Window) -> str:
    """The shortest period the subsampled output can represent: twice the stride."""
    return fmt_axes([2 * s for s in op.stride])


@register
class AliasedPooling(Rule):
    code = "AA102"
    name = "aliased-pooling"
    severity = Severity.WARNING
    summary = "MaxPool with stride > 1, or AvgPool with kernel < stride: pooling that aliases"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        for node in ctx.graph.nodes:
            if is_known_blur(node) or not is_strided(node):
                continue
            op = node.op
            assert isinstance(op, Window)
            nd = len(op.kernel)
            stride = fmt_axes(op.stride)
            if is_max_pool(node):
                kernel = fmt_axes(op.kernel)
                yield self.diagnostic(
                    ctx,
                    node,
                    f"{describe(node)} takes a max and subsamples by {stride} in one step: the max creates "
                    f"high frequencies that the subsampling then aliases. Use "
                    f"MaxPool{nd}d(kernel_size={kernel}, stride=1) followed by BlurPool(stride={stride}) "
                    f"(antialiased-cnns).",
                )
            elif is_avg_pool(node) and any(k < s for k, s in zip(op.kernel, op.stride)):
                narrow = [a for a, (k, s) in enumerate(zip(op.kernel, op.stride)) if k < s]
                why = ", ".join(dict.fromkeys(f"{op.kernel[a]} < {op.stride[a]}" for a in narrow))
                kernel = fmt_axes([max(k, s) for k, s in zip(op.kernel, op.stride)])
                yield self.diagnostic(
                    ctx,
                    node,
                    f"{describe(node)} averages a window narrower than its stride ({why}): the box filter "
                    f"does not low-pass enough for the subsampling, which aliases. Use "
                    f"AvgPool{nd}d(kernel_size={kernel}, stride={stride}) (kernel_size >= stride).",
                )
