"""ST: strides that skip input.

A conv or pool with kernel ``k``, stride ``s`` and dilation ``d`` reads, per
axis, the input residues ``{t*d mod s : t < k}``; when they do not cover all
of ``[0, s)`` some rows and columns are never read by any output (with
``d = 1``: ``K < s``). ResNet's 1x1 stride-2 shortcut ignores 3/4 of its
input (He et al., "Bag of Tricks for Image Classification with
Convolutional Neural Networks", CVPR 2019, ResNet-D).
"""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, Severity
from ..ir import Merge, Node, PixelUnshuffle, Pointwise, Window
from .base import ModelContext, Rule, register
from .layers import axis_names, covered_residues, describe, fmt_frac, unused_fraction

KINDS = ("conv", "max_pool", "avg_pool", "lp_pool")
SEARCH_BUDGET = 4000  # node visits when looking for a parallel path

AxisState = tuple[int, frozenset[int]]  # (jump S, offsets): output o reads o*S + offset


@register
class StrideSkipsInput(Rule):
    code = "ST101"
    name = "stride-skips-input"
    severity = Severity.WARNING
    summary = "Conv or pool whose stride steps over input rows and columns that no tap reads"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        for node in ctx.graph.nodes:
            op = node.op
            if not isinstance(op, Window) or op.kind not in KINDS:
                continue
            covered = [covered_residues(k, s, d) for k, s, d in zip(op.kernel, op.stride, op.dilation)]
            if all(c == s for c, s in zip(covered, op.stride)):
                continue
            parallel = covered_by_parallel_path(ctx, node)
            message = self._message(node, op, covered)
            if parallel:
                message += " A parallel path reads the skipped positions before the branches merge, so information is not lost, only this branch's share of it."
            yield self.diagnostic(ctx, node, message, severity=Severity.INFO if parallel else None)

    @staticmethod
    def _message(node: Node, op: Window, covered: list[int]) -> str:
        names = axis_names(len(covered))
        skipping = [a for a, (c, s) in enumerate(zip(covered, op.stride)) if c < s]
        dilated = any(op.dilation[a] != 1 for a in skipping)

        def taps(a: int) -> str:
            k, s, d = op.kernel[a], op.stride[a], op.dilation[a]
            residues = sorted({(t * d) % s for t in range(k)})
            return "{" + ", ".join(map(str, residues)) + "}"

        if len(skipping) == len(covered) and len({(covered[a], op.stride[a]) for a in skipping}) == 1:
            a = skipping[0]
            where = f"{covered[a]} of every {op.stride[a]} input positions along each axis"
            if dilated:
                where += f" (taps t*dilation mod stride = {taps(a)})"
        else:
            where = " and ".join(
                f"{covered[a]} of every {op.stride[a]} along {names[a]}"
                + (f" (taps mod stride = {taps(a)})" if dilated else "")
                for a in skipping
            )
        unused = unused_fraction(op)
        nd = len(op.kernel)
        strides = [op.stride[a] for a in range(nd)]
        if op.kind == "conv":
            pool = f"AvgPool{nd}d(kernel_size={_fmt(strides)}, stride={_fmt(strides)})"
            advice = (
                f"Average first and then use a stride-1 conv ({pool} + Conv{nd}d(stride=1), as ResNet-D's "
                f"shortcut), or make the kernel span at least the stride."
            )
        else:
            advice = f"Use kernel_size >= stride (kernel_size={_fmt(strides)})."
        return f"{describe(node)} reads only {where}: {fmt_frac(unused)} of its input is never read. {advice}"


def _fmt(values: list[int]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "(" + ", ".join(map(str, values)) + ")"


def _step(state: tuple[AxisState, ...], node: Node) -> tuple[AxisState, ...] | None:
    """Carry (jump, offsets) per axis through one node; None when the geometry does not
    keep a plain index map (resampling, global, ...) or the node is not spatial-preserving."""
    op = node.op
    if isinstance(op, (Pointwise, Merge)):
        return state
    if isinstance(op, PixelUnshuffle):
        op = Window("conv", (op.factor,) * len(state), (op.factor,) * len(state), (1,) * len(state), ((0, 0),) * len(state))
    if not isinstance(op, Window) or len(op.kernel) != len(state):
        return None
    out = []
    for a, (jump, offsets) in enumerate(state):
        k, s, d, p = op.kernel[a], op.stride[a], op.dilation[a], op.padding[a][0]
        out.append((jump * s, frozenset((t * d - p) * jump + off for t in range(k) for off in offsets)))
    return tuple(out)


def _reads_everything(state: tuple[AxisState, ...]) -> bool:
    return all(len({off % jump for off in offsets}) == jump for jump, offsets in state)


def covered_by_parallel_path(ctx: ModelContext, node: Node) -> bool:
    """Whether another path from the node's input reads every pixel of that input and
    joins the node's branch at the first merge(s) after it (ResNet's main path beside a
    1x1 stride-2 shortcut)."""
    if len(node.inputs) != 1:
        return False
    consumers = ctx.consumers
    # The merges where this node's branch first joins another.
    targets: set[int] = set()
    stack, seen = [node.id], {node.id}
    while stack:
        for c in consumers.get(stack.pop(), []):
            if c in seen:
                continue
            seen.add(c)
            if isinstance(ctx.graph.nodes[c].op, Merge):
                targets.add(c)
            else:
                stack.append(c)
    if not targets:
        return False
    ndim = len(node.op.kernel)  # type: ignore[attr-defined]
    start: tuple[AxisState, ...] = tuple((1, frozenset({0})) for _ in range(ndim))
    budget = SEARCH_BUDGET
    work: list[tuple[int, tuple[AxisState, ...]]] = [(node.inputs[0], start)]
    visited: set[tuple[int, tuple[AxisState, ...]]] = set()
    while work and budget > 0:
        nid, state = work.pop()
        for c in consumers.get(nid, []):
            if c == node.id:
                continue
            budget -= 1
            if c in targets:
                if _reads_everything(state):
                    return True
                continue
            nxt = _step(state, ctx.graph.nodes[c])
            if nxt is None or (c, nxt) in visited:
                continue
            visited.add((c, nxt))
            work.append((c, nxt))
    return False
