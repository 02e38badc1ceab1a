"""RF: receptive field against the objects the model must see.

The "RF of a model" is the local frame of its last spatial feature map, with
global gates left out (DESIGN.md); squeeze-and-excitation and attention
gates give global context, which the message mentions rather than counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

from ..analysis import index_maps
from ..diagnostics import Diagnostic, Severity
from ..ir import EndSpatial, Global, Merge, Mix, Node, Opaque, Pointwise, TransposedConv, Window
from ..rf import AxisFrame, compose
from ..settings import ModelSettings
from .base import ModelContext, Rule, register
from .layers import axis_names, describe, fmt_num


def _px(values: list[int]) -> str:
    return (str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))) + " px"


@register
class RfSmallerThanObject(Rule):
    code = "RF101"
    name = "rf-smaller-than-object"
    severity = Severity.WARNING
    summary = "A model output's receptive field is smaller than the largest configured object"
    needs_complete_graph = True

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.has_object_size()

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        short: list[Short] = []
        gates = False
        for name, nid in ctx.analysis.spatial_outputs():
            info = ctx.analysis.info(nid)
            need = _need_for(ctx, name)
            if info.frames is None or need is None:
                continue
            r = [f.r for f in info.frames]
            if any(r[a] < need[1][a] for a in range(ctx.graph.ndim)):
                short.append(Short(name, _px(r), *need))
                gates = gates or info.is_global
        if not short:
            return
        message = (
            f"{_headline(ctx, 'RF', short)}: the largest objects do not fit in what one output position sees "
            f"(local receptive field, per axis). Grow it with more stride or depth, dilation or larger "
            f"kernels, or lower the configured object-size."
        )
        if gates:
            message += (
                " The output also has global context through a squeeze-and-excitation or attention gate, "
                "which is not counted as receptive field."
            )
        yield self.diagnostic(ctx, ctx.graph.loc, message)


def _input_sizes(ctx: ModelContext) -> tuple[int, ...] | None:
    """The input size per axis, from the analysis or the settings."""
    sizes = ctx.analysis.input_size
    if sizes is None and ctx.settings.input_size is not None:
        given = tuple(ctx.settings.input_size)
        ndim = ctx.graph.ndim
        sizes = given if len(given) == ndim else given[-1:] * ndim
    return sizes


@dataclass(frozen=True)
class Short:
    """One model output whose field falls short of its object size: its name, the
    measure as the message prints it, and what it is compared with."""

    name: str
    value: str
    largest: int
    need: list[int]


def _need_for(ctx: ModelContext, output: str) -> tuple[int, list[int]] | None:
    """The largest object size for one output (its own, else the model's) and the extent to
    compare with per axis, capped at the input: an object cannot be larger than the image
    it is in. None when neither the output nor the model has an object size."""
    size = ctx.settings.object_size_for(output)
    if size is None:
        return None
    largest = max(size)
    sizes = _input_sizes(ctx)
    return largest, [min(largest, sizes[a]) if sizes else largest for a in range(ctx.graph.ndim)]


def _object_text(ctx: ModelContext, largest: int, need: list[int]) -> str:
    text = f"object size {largest} px"
    if need != [largest] * ctx.graph.ndim:
        text += f" (capped at the input, {_px(need)})"
    return text


def _headline(ctx: ModelContext, what: str, short: list[Short]) -> str:
    """``Output RF 68 px < object size 128 px at input 256 px``, naming the outputs when the
    model has several, and each output's own object size when they differ (RF101, RF102)."""
    sizes = _input_sizes(ctx)
    at = f" at input {_px(list(sizes))}" if sizes else ""
    first = short[0]
    if len(short) == 1 and len(ctx.graph.outputs) == 1:
        return f"Output {what} {first.value} < {_object_text(ctx, first.largest, first.need)}{at}"
    if len({(s.largest, tuple(s.need)) for s in short}) == 1:
        listed = ", ".join(f"'{s.name}' {s.value}" for s in short)
        return f"Output {what} < {_object_text(ctx, first.largest, first.need)}{at} for {listed}"
    listed = ", ".join(f"'{s.name}' {s.value} < {_object_text(ctx, s.largest, s.need)}" for s in short)
    return f"Output {what} < object size{at}: {listed}"


def _fmt_px(values: list[float]) -> str:
    """``51.2 px`` or ``51.2x40.0 px`` (one decimal: ERF widths are not whole pixels)."""
    texts = [f"{v:.1f}" for v in values]
    return (texts[0] if len(set(texts)) == 1 else "x".join(texts)) + " px"


# --------------------------------------------------------------------------- RF102


@register
class ErfSmallerThanObject(Rule):
    """The analytic ERF (DESIGN.md: uniform weights, variances add along a chain and
    mix at merges) of each model output, 4 sigma wide, against the largest object."""

    code = "RF102"
    name = "erf-smaller-than-object"
    severity = Severity.INFO
    enabled_by_default = False
    summary = "A model output's effective receptive field (4 sigma) is smaller than the largest configured object"
    needs_complete_graph = True
    needs_erf = True

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.has_object_size()

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        short: list[Short] = []
        alone = len(ctx.graph.outputs) == 1
        theoretical = ""  # with one output, its theoretical RF follows the headline
        for name, nid in ctx.analysis.spatial_outputs():
            info = ctx.analysis.info(nid)
            need = _need_for(ctx, name)
            if info.moments is None or info.frames is None or need is None:
                continue
            widths = [m.width for m in info.moments]
            if any(widths[a] < need[1][a] for a in range(ctx.graph.ndim)):
                r = _px([f.r for f in info.frames])
                short.append(Short(name, _fmt_px(widths) if alone else f"{_fmt_px(widths)} (RF {r})", *need))
                theoretical = f" (theoretical RF {r})" if alone else ""
        if not short:
            return
        yield self.diagnostic(
            ctx,
            ctx.graph.loc,
            f"{_headline(ctx, 'ERF', short)}{theoretical}: the effective receptive field (4 sigma of the "
            f"impact of input pixels under uniform weights, about 95% of it; branches mixed at merges) covers "
            f"less than the largest objects, so their far parts barely influence an output even where the "
            f"theoretical RF reaches them. Grow it with more stride or depth before the head, dilation or "
            f"larger kernels, or lower the configured object-size.",
        )


# --------------------------------------------------------------------------- RF103

MAX_CANDIDATES = 8  # per node and axis, frames of distinct paths kept after upsampling

Candidates = frozenset  # of AxisFrame: the frames of the narrowest paths (empty: only global paths)


def _normalised(frame: AxisFrame) -> AxisFrame:
    """The frame shifted so that its smallest start is 0: widths, and every later width,
    do not depend on where the interval sits."""
    starts = [a for a in frame.alpha if a is not None]
    shift = min(starts) if starts else 0
    return AxisFrame(
        frame.j,
        tuple(None if a is None else a - shift for a in frame.alpha),
        tuple(None if b is None else b - shift for b in frame.beta),
    )


def _prune(frames: set[AxisFrame]) -> Candidates:
    """Keep the paths that can stay narrowest. With one phase (no upsampling on the path),
    a path's width grows by ``(K - 1) * j`` at every later layer whatever its offset, so
    per jump the narrowest path dominates every other; with several phases keep the
    ``MAX_CANDIDATES`` narrowest."""
    best: dict[tuple, AxisFrame] = {}
    rest: list[AxisFrame] = []
    for f in frames:
        f = _normalised(f)
        if f.q == 1:
            key = (f.j,)
            if key not in best or f.r < best[key].r:
                best[key] = f
        else:
            rest.append(f)
    rest = sorted(set(rest), key=lambda f: (f.r_min, f.r, str(f.j)))[:MAX_CANDIDATES]
    return frozenset([*best.values(), *rest])


def min_path_frames(ctx: ModelContext) -> list[tuple[Candidates, ...] | None]:
    """Per node, per axis, the frames of the paths from the model input that give it its
    minimum-over-paths receptive field; None where a frame is unknown.

    The same index maps as the analysis (rflint.analysis.index_maps), composed along each
    path; at a merge the branches' paths are collected rather than unioned into one
    interval (the analysis's frame is the union, i.e. the maximum over paths). Paths
    through a global operation (SE gates, global pooling) see the whole input and are
    left out of the minimum; a node reached only through such paths has no candidates.
    """
    graph = ctx.graph
    ndim = graph.ndim
    out: list[tuple[Candidates, ...] | None] = []
    for node in graph.nodes:
        info = ctx.analysis.info(node.id)
        if not node.inputs:
            out.append(tuple(frozenset([AxisFrame.identity()]) for _ in range(ndim)))
            continue
        ins = [out[i] for i in node.inputs]
        op = node.op
        if isinstance(op, (Global, EndSpatial)) or (isinstance(op, Mix) and op.is_global):
            out.append(tuple(frozenset() for _ in range(ndim)))  # global context: no local path goes on
            continue
        if isinstance(op, Opaque) or info.status == "unknown":
            out.append(None)
            continue
        if isinstance(op, Merge):
            known = [c for c in ins if c is not None]
            if len(known) < len(ins):
                out.append(None)
                continue
            out.append(tuple(_prune(set().union(*(c[a] for c in known))) for a in range(ndim)))
            continue
        src = ins[0]
        if src is None:
            out.append(None)
            continue
        if info.status != "local":
            # No positions here (an ECA gate's Conv1d on pooled channels): what reaches it
            # went through a global operation, as the analysis says.
            out.append(tuple(frozenset() for _ in range(ndim)))
            continue
        sizes_in = ctx.analysis.info(node.inputs[0]).sizes or (None,) * ndim
        maps = index_maps(node, sizes_in, ndim)
        if isinstance(maps, str):
            out.append(None)
            continue
        out.append(tuple(_prune({compose(f, maps[a]) for f in src[a]}) for a in range(ndim)))
    return out


def _min_rf(cands: tuple[Candidates, ...]) -> list[float]:
    """Per axis, the smallest RF of any path (the narrowest phase of the narrowest path);
    infinity when every path goes through a global operation."""
    return [min((f.r_min for f in c), default=math.inf) for c in cands]


def _convs_before_outputs(ctx: ModelContext) -> set[int]:
    """Convs from which a model output is reached on the feature grid without another conv
    on the way: the heads that map features to outputs (a segmenter's classifier, a
    detector's box conv), which are needed whatever their RF. An output that ended
    (global pooling, flatten) has a Linear head, and no conv is exempt for it."""
    heads: set[int] = set()
    stack = [nid for _, nid in ctx.graph.outputs]
    seen: set[int] = set()
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        node = ctx.graph.nodes[nid]
        if isinstance(node.op, (Window, TransposedConv)) and (
            isinstance(node.op, TransposedConv) or node.op.kind == "conv"
        ):
            heads.add(nid)
            continue
        if isinstance(node.op, (Global, EndSpatial)):
            continue  # a classifier's head is its Linear; the convs before global pooling are not heads
        stack.extend(node.inputs)
    return heads


def _has_weights_and_span(node) -> bool:
    """A conv or transposed conv whose kernel spans more than one pixel on some axis."""
    op = node.op
    if isinstance(op, TransposedConv):
        return any(k > 1 for k in op.kernel)
    return isinstance(op, Window) and op.kind == "conv" and not node.attrs.get("blur") and any(
        op.span(a) > 1 for a in range(len(op.kernel))
    )


@register
class UnproductiveLayer(Rule):
    """Richter et al. (ICMLA 2021), as rfa-toolbox decides it (``is_border``): a layer is
    unproductive at input size ``n`` when the minimum-over-paths RF of each of its
    inputs is at least ``n`` and so is its own."""

    code = "RF103"
    name = "unproductive-layer"
    severity = Severity.WARNING
    summary = "Layer whose inputs already have a minimum receptive field of at least the input size"
    needs_complete_graph = True

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.input_size is not None

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        sizes = ctx.analysis.input_size
        if sizes is None:
            return
        ndim = ctx.graph.ndim
        cands = min_path_frames(ctx)
        heads = _convs_before_outputs(ctx)
        groups: dict[tuple, list[tuple[Node, list[float], list[float]]]] = {}
        total = 0
        for node in ctx.graph.nodes:
            if not _has_weights_and_span(node) or node.id in heads or cands[node.id] is None:
                continue
            if ctx.analysis.info(node.id).status != "local":
                continue
            own = _min_rf(cands[node.id])  # type: ignore[arg-type]
            if not all(own[a] >= sizes[a] for a in range(ndim)):
                continue
            preds = []
            for i in node.inputs:
                c = cands[i]
                if c is None:
                    break
                preds.append(_min_rf(c))
            else:
                if not preds or not all(p[a] >= sizes[a] for p in preds for a in range(ndim)):
                    continue
                smallest = [min(p[a] for p in preds) for a in range(ndim)]
                key = node.loc.place if node.loc else (node.id,)
                groups.setdefault(key, []).append((node, own, smallest))
                total += 1
        for members in groups.values():
            node, own, smallest = members[0]
            names = [m[0].name for m in members if m[0].name]
            uses = ""
            if len(members) > 1:
                shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
                uses = f" ({len(members)} layers built here: {shown})"
            elif node.name:
                uses = f" ('{node.name}')"
            yield self.diagnostic(
                ctx,
                node,
                f"{describe(node)}{uses} is unproductive at input {_px(list(sizes))}: the minimum receptive "
                f"field over all paths into it is already {_px_num(smallest)}, and its own is {_px_num(own)}, "
                f"both at least the input size, so it cannot combine anything the layers before it have not "
                f"already seen (Richter et al., 2021; {total} such layer(s) in this model). Remove it, move "
                f"some downsampling later, or train at a larger input size.",
            )


def _px_num(values: list[float]) -> str:
    """Minimum RFs for a message; a path set that is only global reads the whole input."""
    if any(v == math.inf for v in values):
        return "the whole input"
    return _px([int(v) for v in values])


# --------------------------------------------------------------------------- RF104


def _producer(ctx: ModelContext, nid: int) -> Node:
    """The nearest layer that is not pointwise on the way back from ``nid``: what a
    person calls the branch."""
    node = ctx.graph.nodes[nid]
    while isinstance(node.op, Pointwise) and len(node.inputs) == 1:
        node = ctx.graph.nodes[node.inputs[0]]
    return node


def _label(node: Node) -> str:
    name = f"'{node.name}'" if node.name else (node.type_name or type(node.op).__name__)
    if not node.inputs:
        return "the model input"
    return f"{name} (line {node.loc.line})" if node.loc else name


@register
class MisalignedBranches(Rule):
    """Branches merged by add/mul/concat must sample the input on the same grid: equal
    jumps, and mean centres less than one jump apart (Araujo et al., Distill 2019)."""

    code = "RF104"
    name = "misaligned-branches"
    severity = Severity.WARNING
    summary = "Branches merged by add/mul/concat have different jumps, or centres a whole jump apart"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        names = axis_names(ctx.graph.ndim)
        for node in ctx.graph.nodes:
            op = node.op
            if not isinstance(op, Merge) or node.attrs.get("alternatives") or len(node.inputs) < 2:
                continue
            infos = [ctx.analysis.info(i) for i in node.inputs]
            if any(i.status == "unknown" for i in infos):
                continue
            # Branches that ended (an SE gate's pooled vector broadcast over the map) have no grid.
            branches = [(i, inf.frames) for i, inf in zip(node.inputs, infos) if inf.status == "local" and inf.frames]
            if len(branches) < 2:
                continue
            labels = [_label(_producer(ctx, i)) for i, _ in branches]
            where = f"{op.kind} at line {node.loc.line}" if node.loc else op.kind
            jumps_differ = [
                a for a in range(ctx.graph.ndim) if len({frames[a].j for _, frames in branches}) > 1
            ]
            if jumps_differ:
                a = jumps_differ[0]
                per = ", ".join(f"{lab} j={fmt_num(frames[a].j)}" for lab, (_, frames) in zip(labels, branches))
                axes = "each axis" if len(jumps_differ) == ctx.graph.ndim and ctx.graph.ndim > 1 else names[a]
                yield self.diagnostic(
                    ctx,
                    node,
                    f"The {where} merges branches with different jumps along {axes}: {per}. Their feature "
                    f"maps are sampled on different grids (and have different sizes), so position o of one "
                    f"is not position o of the other. Resample one branch to the other's stride before "
                    f"merging (an extra stride, or Upsample by the ratio).",
                )
                continue
            off: list[int] = []
            for a in range(ctx.graph.ndim):
                centres = [frames[a].centre for _, frames in branches]
                if max(centres) - min(centres) >= branches[0][1][a].j:
                    off.append(a)
            if not off:
                continue
            a = off[0]
            j = branches[0][1][a].j
            centres = [frames[a].centre for _, frames in branches]
            spread = max(centres) - min(centres)
            per = ", ".join(f"{lab} centre {fmt_num(c)}" for lab, c in zip(labels, centres))
            axes = "each axis" if len(off) == ctx.graph.ndim and ctx.graph.ndim > 1 else names[a]
            yield self.diagnostic(
                ctx,
                node,
                f"The {where} merges branches whose mean centres differ by {fmt_num(spread)} input px along "
                f"{axes}, at least one jump (j={fmt_num(j)}): {per} (offsets of output 0 in model-input "
                f"px), so the branches are {fmt_num(spread / j)} output "
                f"position{'' if spread == j else 's'} out of register. Make the branches' paddings agree (for a conv, "
                f"padding = dilation*(kernel_size-1)/2), or crop the larger map symmetrically before merging.",
            )
