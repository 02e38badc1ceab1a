"""CB: checkerboard artifacts of upsampling layers.

For a transposed conv with kernel ``k``, stride ``s`` and dilation ``d``,
per axis and output phase ``rho`` in ``[0, s)``, ``c_rho = #{t < k : (t*d)
mod s = rho}`` kernel taps (hence input pixels) feed the outputs of that
phase (Odena, Dumoulin & Olah, "Deconvolution and Checkerboard Artifacts",
Distill 2016). A phase with no tap is a gap (CB101); phases with different
counts are uneven overlap (CB102).
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd, prod
from typing import Iterator

from ..diagnostics import Diagnostic, Edit, Fix, Severity
from ..ir import Node, PixelShuffle, TransposedConv, Window
from ..rf import AxisFrame, compose, transposed_map, transposed_out_size
from .base import ModelContext, Rule, register
from .edits import after_last_arg, one_geometry_per_line
from .layers import axis_names, describe, direct_inputs, fmt_axes, fmt_frac, fmt_num, residue_counts


def _plain_conv(node: Node) -> str:
    """``Conv2d`` for a ``ConvTranspose2d``: the layer to put after an Upsample."""
    return f"Conv{len(node.op.kernel)}d"  # type: ignore[attr-defined]


def _vary(op: TransposedConv, axes: list[int]) -> str:
    """Two phases alternate; more phases vary."""
    return "alternate" if all(op.stride[a] == 2 for a in axes) else "vary"


def _next_multiple(k: int, s: int) -> int:
    return max(s, -(-k // s) * s)


def phase_counts(op: TransposedConv) -> list[list[int]]:
    """Per axis, ``c_rho`` for ``rho`` in ``[0, s)``."""
    return [residue_counts(k, s, d) for k, s, d in zip(op.kernel, op.stride, op.dilation)]


# --------------------------------------------------------------------------- CB101


@register
class TransposedConvGaps(Rule):
    code = "CB101"
    name = "transposed-conv-gaps"
    severity = Severity.ERROR
    summary = "Transposed conv whose kernel taps miss some output phases: those outputs are only the bias"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        for node in ctx.graph.nodes:
            op = node.op
            if not isinstance(op, TransposedConv):
                continue
            counts = phase_counts(op)
            if all(min(c) > 0 for c in counts):
                continue
            yield self.diagnostic(ctx, node, self._message(node, op, counts))

    @staticmethod
    def _message(node: Node, op: TransposedConv, counts: list[list[int]]) -> str:
        names = axis_names(len(counts))
        per_axis: list[str] = []
        reasons: list[str] = []
        for a, c in enumerate(counts):
            empty = sum(1 for x in c if x == 0)
            if not empty:
                continue
            k, s, d = op.kernel[a], op.stride[a], op.dilation[a]
            per_axis.append(f"{empty} of every {s} outputs along {names[a]}")
            g = gcd(d, s)
            if k < s:
                reasons.append(f"kernel_size {k} < stride {s}")
            if g > 1 and k > 1:
                reasons.append(f"dilation {d} and stride {s} share the factor {g}, so taps reach only every {g}-th phase")
        if len(per_axis) == len(counts) and len({tuple(c) for c in counts}) == 1:
            c = counts[0]
            where = f"{sum(1 for x in c if x == 0)} of every {len(c)} outputs along each axis"
        else:
            where = " and ".join(per_axis)
        bias_only = 1 - prod(Fraction(sum(1 for x in c if x), len(c)) for c in counts)
        reason = "; ".join(dict.fromkeys(reasons))
        k_new = fmt_axes([_next_multiple(k, s) for k, s in zip(op.kernel, op.stride)])
        return (
            f"{describe(node)} leaves gaps: {where} get no input ({reason}), "
            f"so {fmt_frac(bias_only)} of its output is only the bias, a fixed grid pattern. "
            f"Use kernel_size={k_new} with dilation=1 (a multiple of the stride), "
            f"or Upsample + {_plain_conv(node)}."
        )


# --------------------------------------------------------------------------- CB102


@register
class TransposedConvUnevenOverlap(Rule):
    code = "CB102"
    name = "transposed-conv-uneven-overlap"
    severity = Severity.WARNING
    summary = "Transposed conv whose kernel is not divisible by its stride: uneven overlap paints a checkerboard"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        for node in ctx.graph.nodes:
            op = node.op
            if not isinstance(op, TransposedConv):
                continue
            counts = phase_counts(op)
            if any(min(c) == 0 for c in counts):
                continue  # gaps: CB101 says it, and more strongly
            if all(max(c) == min(c) for c in counts):
                continue
            fix, fix_note = self._fix(ctx, node, op)
            message = self._message(node, op, counts)
            if fix_note:
                message += " " + fix_note
            yield self.diagnostic(ctx, node, message, fix)

    @staticmethod
    def _message(node: Node, op: TransposedConv, counts: list[list[int]]) -> str:
        names = axis_names(len(counts))
        uneven = [a for a, c in enumerate(counts) if max(c) != min(c)]
        if all(d == 1 for d in op.dilation):
            why = " and ".join(
                dict.fromkeys(f"{op.kernel[a]} % {op.stride[a]} != 0" for a in uneven)
            )
        else:
            why = "; ".join(
                dict.fromkeys(
                    f"taps per output phase {counts[a]} with dilation {op.dilation[a]}" for a in uneven
                )
            )
        spreads = {(min(counts[a]), max(counts[a])) for a in uneven}
        if len(uneven) == len(counts) and len(spreads) == 1:
            lo, hi = next(iter(spreads))
            alternate = f"outputs {_vary(op, uneven)} between {lo} and {hi} contributing inputs per axis"
        else:
            alternate = ", ".join(
                f"along {names[a]} outputs {_vary(op, [a])} between {min(counts[a])} and {max(counts[a])} "
                f"contributing inputs"
                for a in uneven
            )
        ratio = prod(Fraction(max(c), min(c)) for c in counts)
        nd = len(counts)
        ratio_text = f" ({nd}-D overlap ratio {fmt_num(ratio)}:1)" if nd > 1 else f" (overlap ratio {fmt_num(ratio)}:1)"
        k_new = fmt_axes([_next_multiple(k, s) for k, s in zip(op.kernel, op.stride)])
        return (
            f"{describe(node)} overlaps unevenly ({why}): {alternate}, a checkerboard pattern{ratio_text}. "
            f"Use kernel_size={k_new} or Upsample + {_plain_conv(node)}."
        )

    # ------------------------------------------------------------------ the fix

    def _fix(self, ctx: ModelContext, node: Node, op: TransposedConv) -> tuple[Fix | None, str]:
        new = resize_kernel(op)
        if new is None:
            return None, ""
        k2, p2, op2 = new
        k, p, opad = op.kernel[0], op.padding[0], op.output_padding[0]
        shift = centre_shift(ctx, node, op, k2, p2)
        unit = "model-input px" if _input_frames(ctx, node) is not None else "px of this layer's input"
        shift_text = fmt_num(shift)
        note = (
            f"Unsafe fix: kernel_size={k2}, padding={p2}, output_padding={op2} keeps the output size "
            f"but changes the weight shape and moves the output's mean centre by {shift_text} {unit}, "
            f"which can misalign a skip connection."
        )
        edits = self._edits(ctx, node, k, p, opad, k2, p2, op2)
        if edits is None:
            return None, ""
        description = (
            f"Use kernel_size={k2}, padding={p2}, output_padding={op2} (same output size; "
            f"new weight shape; mean centre moves by {shift_text} {unit})"
        )
        return Fix(description, edits, safe=False), note

    @staticmethod
    def _edits(
        ctx: ModelContext, node: Node, k: int, p: int, opad: int, k2: int, p2: int, op2: int
    ) -> tuple[Edit, ...] | None:
        spans = node.attrs.get("args")
        if not isinstance(spans, dict) or "kernel_size" not in spans:
            return None
        loc = node.loc
        literal = node.attrs.get("literal", frozenset())
        if loc is None or not all(p in literal for p in ("kernel_size", "stride", "padding", "output_padding", "dilation") if p in spans):
            return None  # an argument that is a name or an expression (a helper's parameter): not ours to rewrite
        if not one_geometry_per_line(ctx, node):
            return None
        edits: list[Edit] = []

        def replace(param: str, value: int) -> None:
            line, col, end_line, end_col = spans[param]
            edits.append(Edit(line, col, end_line, end_col, str(value)))

        inserts: list[str] = []
        replace("kernel_size", k2)
        if p2 != p:
            if "padding" in spans:
                replace("padding", p2)
            else:
                inserts.append(f"padding={p2}")
        if op2 != opad:
            if "output_padding" in spans:
                replace("output_padding", op2)
            else:
                inserts.append(f"output_padding={op2}")
        if inserts:
            edits.append(after_last_arg(spans, "".join(f", {t}" for t in inserts)))
        return tuple(sorted(edits, key=lambda e: (e.line, e.col)))


def resize_kernel(op: TransposedConv) -> tuple[int, int, int] | None:
    """``(k', p', output_padding')`` with ``k'`` the next multiple of the stride and the
    same output size, or None when no such plain-int rewrite is valid.

    Same size: ``d*(k' - k) = 2*(p' - p) - (op' - op)``, so ``2p' - op' = 2p - op + d*(k' - k)``;
    ``p' = ceil(D / 2)`` and ``op' = 2p' - D`` (0 or 1).
    """
    for values in (op.kernel, op.stride, op.dilation, op.padding, op.output_padding):
        if len(set(values)) != 1:
            return None
    k, s, d, p, opad = op.kernel[0], op.stride[0], op.dilation[0], op.padding[0], op.output_padding[0]
    if s < 2 or gcd(d, s) != 1:
        return None
    k2 = _next_multiple(k, s)
    if k2 == k:
        return None
    total = 2 * p - opad + d * (k2 - k)
    p2 = -(-total // 2)
    op2 = 2 * p2 - total
    if p2 < 0 or not 0 <= op2 < max(s, d) or p2 > d * (k2 - 1):
        return None
    if any(transposed_out_size(n, k, s, d, p, opad) != transposed_out_size(n, k2, s, d, p2, op2) for n in (1, 2, 7)):
        return None  # unreachable by the algebra above; never offer a size-changing fix
    return k2, p2, op2


def _input_frames(ctx: ModelContext, node: Node) -> tuple[AxisFrame, ...] | None:
    if len(node.inputs) != 1:
        return None
    info = ctx.analysis.info(node.inputs[0])
    if info.status != "local" or info.frames is None:
        return None
    return info.frames


def centre_shift(ctx: ModelContext, node: Node, op: TransposedConv, k2: int, p2: int) -> Fraction:
    """How far the output's mean centre moves (in model-input pixels when the layer's
    input frame is known, else in pixels of the layer's input), on the first axis.

    Computed on the actual frames; for a plain input frame it is
    ``((p' - d(k'-1)/2) - (p - d(k-1)/2)) * j / s``.
    """
    frames = _input_frames(ctx, node)
    frame = frames[0] if frames else AxisFrame.identity()
    s, d = op.stride[0], op.dilation[0]
    before = compose(frame, transposed_map(op.kernel[0], s, d, op.padding[0]))
    after = compose(frame, transposed_map(k2, s, d, p2))
    return after.centre - before.centre


# --------------------------------------------------------------------------- CB103


def _icnr(node: Node) -> bool:
    """Whether a reader saw ICNR-style initialisation for this layer (``attrs['icnr']``).
    The static reader does not follow initialisation code, so today this is only set by
    readers that know it (a layer spec, a traced model)."""
    return bool(node.attrs.get("icnr"))


@register
class PixelShuffleWithoutIcnr(Rule):
    code = "CB103"
    name = "pixel-shuffle-without-icnr"
    severity = Severity.INFO
    enabled_by_default = False
    summary = "PixelShuffle after a conv with no ICNR initialisation in sight: checkerboard artifacts at start"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        for node in ctx.graph.nodes:
            op = node.op
            if not isinstance(op, PixelShuffle) or _icnr(node):
                continue
            convs = [
                p for p in direct_inputs(ctx, node)
                if isinstance(p.op, Window) and p.op.kind == "conv" and not p.attrs.get("blur")
            ]
            if not convs or any(_icnr(c) for c in convs):
                continue
            conv = convs[0]
            r = op.factor
            sub = r**op.ndim
            where = f" '{conv.name}'" if conv.name else ""
            line = f" (line {conv.loc.line})" if conv.loc else ""
            out = conv.attrs.get("out_channels")
            shape = f"its {out} output channels" if isinstance(out, int) else "its output channels"
            yield self.diagnostic(
                ctx,
                node,
                f"PixelShuffle({r}) rearranges {shape} from {describe(conv)}{where}{line} into {r}x{r} "
                f"blocks: with the conv's default random initialisation the {sub} sub-pixel outputs of each "
                f"input pixel start out unrelated, a checkerboard the network must first learn away. Initialise "
                f"the conv with ICNR (Aitken et al. 2017: initialise {sub}x fewer kernels and repeat each "
                f"{sub} times, so that the layer starts as nearest upsampling + conv). rflint does not read "
                f"initialisation code: if you already do this, add `# noqa: CB103`.",
            )
