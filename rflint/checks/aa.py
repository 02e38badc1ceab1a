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
from ..ir import Node, Window
from .aa_fix import dense_max_then_box, widen_avg_pool
from .base import ModelContext, Option, Rule, is_bool, register
from .layers import (
    BLUR_CLASSES,
    comes_straight_from_blur,
    describe,
    direct_consumers,
    direct_inputs,
    fmt_axes,
    is_avg_pool,
    is_blur,
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
    options = {"blur-classes": BLUR_CLASSES,
               "pool-only": Option(is_bool, "report only strided pooling, not strided convolutions")}
    summary = "Strided conv whose input does not come straight from a blur: it aliases"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        if _pool_only(ctx):
            return
        for node in ctx.graph.nodes:
            if not is_strided_conv(node) or is_known_blur(node, ctx):
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
                f"BlurPool(stride={stride}) before a stride-1 conv (antialiased-cnns).{_unfit_blurs(ctx, node)}",
            )


def _unfit_blurs(ctx: ModelContext, node: Node) -> str:
    """Why a fixed kernel (a user's blur, perhaps) at or in front of a layer is not a blur:
    the reader records it in ``attrs['not_blur']`` (unnormalised, negative, channel-mixing)."""
    notes = []
    for where in [node, *direct_inputs(ctx, node)]:
        reason = where.attrs.get("not_blur")
        if reason:
            who = "It has" if where is node else f"The {describe(where)} {_line(where)} in front has"
            notes.append(f" {who} a fixed kernel that is not a blur: {reason}.")
    return "".join(notes)


def _nyquist(op: Window) -> str:
    """The shortest period the subsampled output can represent: twice the stride."""
    return fmt_axes([2 * s for s in op.stride])


@register
class AliasedPooling(Rule):
    code = "AA102"
    name = "aliased-pooling"
    severity = Severity.WARNING
    options = {"blur-classes": BLUR_CLASSES}
    summary = "MaxPool with stride > 1, or AvgPool with kernel < stride: pooling that aliases"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        for node in ctx.graph.nodes:
            if is_known_blur(node, ctx) or not is_strided(node):
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
                    dense_max_then_box(ctx, node),
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
                    widen_avg_pool(ctx, node),
                )


# --------------------------------------------------------------------------- AA103

SUBSAMPLING_KINDS = ("conv", "max_pool", "avg_pool", "lp_pool")


def _stride_one_blur(ctx: ModelContext, node: Node) -> bool:
    """A blur that does not subsample: a known blur layer with stride 1, or an AvgPool with
    stride 1 and a kernel wider than one pixel. An AvgPool as wide as its input (the
    ``AvgPool2d(7, stride=1)`` of old classifiers) is global pooling, not a blur."""
    if is_strided(node) or not is_blur(node, ctx):
        return False
    if is_known_blur(node, ctx):
        return True
    op = node.op
    assert isinstance(op, Window)
    sizes = ctx.analysis.info(node.inputs[0]).sizes if node.inputs else None
    if sizes and all(n is not None for n in sizes) and all(
        k >= n for k, n in zip(op.kernel, sizes)  # type: ignore[operator]
    ):
        return False
    return True


def _unprotected_subsampling(ctx: ModelContext, node: Node) -> bool:
    """A strided conv or pool that is not itself a blur and has no blur in front."""
    w = node.op
    return (
        isinstance(w, Window)
        and w.kind in SUBSAMPLING_KINDS
        and is_strided(node)
        and not is_blur(node, ctx)
        and not comes_straight_from_blur(ctx, node)
    )


def _line(node: Node) -> str:
    name = f"'{node.name}' " if node.name else ""
    return f"{name}(line {node.loc.line})" if node.loc else name.strip()


@register
class MisplacedBlur(Rule):
    code = "AA103"
    name = "misplaced-blur"
    severity = Severity.WARNING
    options = {"blur-classes": BLUR_CLASSES}
    summary = "Stride-1 blur placed after the subsampling it should protect, or before a strided max pool"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        for node in ctx.graph.nodes:
            if not node.inputs or not _stride_one_blur(ctx, node):
                continue
            consumers = direct_consumers(ctx, node)
            strided_max = [c for c in consumers if is_max_pool(c) and is_strided(c)]
            if strided_max:
                pool = strided_max[0]
                op = pool.op
                assert isinstance(op, Window)
                nd = len(op.kernel)
                stride = fmt_axes(op.stride)
                yield self.diagnostic(
                    ctx,
                    node,
                    f"{describe(node)} blurs before {describe(pool)} {_line(pool)}: the max after the blur "
                    f"creates new high frequencies, and its stride {stride} aliases them, so the blur protects "
                    f"nothing. Take the max densely and blur while subsampling: "
                    f"MaxPool{nd}d(kernel_size={fmt_axes(op.kernel)}, stride=1) + BlurPool(stride={stride}) "
                    f"(antialiased-cnns' MaxBlurPool order).",
                )
                continue
            if any(is_strided(c) for c in consumers):
                continue  # it low-passes the input of a later subsampling: it is protecting that one
            for producer in direct_inputs(ctx, node):
                if not _unprotected_subsampling(ctx, producer):
                    continue
                if not is_known_blur(node, ctx) and direct_consumers(ctx, producer) != [node]:
                    continue  # an AvgPool(s=1) in one of several branches (Inception's pool branch) is no anti-aliasing blur
                op = producer.op
                assert isinstance(op, Window)
                nd = len(op.kernel)
                stride = fmt_axes(op.stride)
                if op.kind == "max_pool":
                    fix = (
                        f"MaxPool{nd}d(kernel_size={fmt_axes(op.kernel)}, stride=1) followed by this blur with "
                        f"stride={stride}"
                    )
                else:
                    fix = (
                        f"a stride-1 {describe(producer).split('(')[0]} followed by this blur with stride={stride}, "
                        f"or put the blur in front of the strided layer"
                    )
                yield self.diagnostic(
                    ctx,
                    node,
                    f"{describe(node)} blurs after {describe(producer)} {_line(producer)} has already "
                    f"subsampled by {stride}: what aliased in the subsampling cannot be filtered out afterwards, "
                    f"so this blur only smooths. Use {fix} (Zhang 2019: blur, then subsample).",
                )
                break
