"""PD: padding and borders.

Per spatial axis, a window layer (conv or pool) with kernel ``k``, stride
``s``, dilation ``d``, padding before ``p_l`` and span ``K = d*(k-1) + 1``
on an input of ``n`` rows produces ``n_out`` rows and reads, on the far
side, ``(n_out - 1)*s + K - n - p_l`` rows of padding (DESIGN.md; the
analysis keeps it as ``NodeInfo.far_pad``). When that differs from
``p_l`` the layer uses its two borders unevenly (PD101, Alsallakh et al.,
"Mind the Pad", ICLR 2021); when it is negative, real rows at the far
border are never read (PD102). PD103 measures how much of the output's
impact (the analytic ERF of DESIGN.md) falls on zero padding; PD104 flags
stride-1 convs with an even span, whose outputs sit half a pixel off the
input grid (Wu et al., NeurIPS 2019).

PD101, PD102 and PD103 need ``input-size`` (they are silent without it)
and the whole forward pass (sizes at a layer depend on everything before
it).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import prod
from typing import Callable, Iterable, Iterator, Sequence

from ..analysis import NodeInfo, index_maps
from ..diagnostics import Diagnostic, Fix, Severity
from ..ir import (
    EndSpatial,
    Global,
    Graph,
    Merge,
    Node,
    Opaque,
    PixelShuffle,
    PixelUnshuffle,
    Pointwise,
    Resample,
    TransposedConv,
    Window,
)
from ..rf import IndexMap, far_padding_used, transposed_out_size, window_out_size
from ..settings import ModelSettings
from .base import BeyondLimits, ModelContext, Option, Rule, register
from .edits import set_arg
from .layers import axis_names, describe, fmt_axes, fmt_num

WINDOW_KINDS = ("conv", "max_pool", "avg_pool", "lp_pool")
DENSE_TASKS = frozenset({"segmentation", "dense", "keypoints"})
"""Tasks whose output is a map read at every position, border included: PD101 and
PD103 warn there (info otherwise). Detection stays at info: its boxes come from
anchors and pooled regions rather than from every border pixel."""

Key = tuple[str, int, int]
_LINE_NAMES = {"H": "row", "W": "column", "D": "slice", "L": "position"}


def _dense(ctx: ModelContext) -> bool:
    return (ctx.settings.task or "") in DENSE_TASKS


def _key(node: Node) -> Key | None:
    loc = node.loc
    return None if loc is None else loc.place


def _source_info(ctx: ModelContext, node: Node) -> NodeInfo | None:
    """The analysis of a layer's (single) input, when its frame and sizes are known.

    A frame that is not local (after an operator the analysis could not
    follow) means the sizes may be wrong too: such layers are left alone.
    """
    if len(node.inputs) != 1:
        return None
    info = ctx.analysis.info(node.inputs[0])
    if info.status != "local" or info.frames is None or info.sizes is None:
        return None
    return info


def _size_text(sizes: Sequence[int | None]) -> str:
    """``56x56``; ``length-8`` for one axis."""
    text = "x".join("?" if s is None else str(s) for s in sizes)
    return f"length-{text}" if len(sizes) == 1 else text


def _join(items: Sequence[str], last: str = "and") -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


# --------------------------------------------------------------------------- sizes along one axis


def symmetric_axes(ctx: ModelContext) -> bool:
    """Whether every axis sees the same input size and the same geometry at every node,
    so that a per-axis computation done for one axis holds for all (the common square case)."""
    sizes = ctx.analysis.input_size
    if not sizes or len(set(sizes)) != 1:
        return False
    for node in ctx.graph.nodes:
        op = node.op
        if isinstance(op, Window):
            fields = (op.kernel, op.stride, op.dilation, op.padding)
        elif isinstance(op, TransposedConv):
            fields = (op.kernel, op.stride, op.dilation, op.padding, op.output_padding)
        elif isinstance(op, Resample):
            fields = tuple(f for f in (op.scale, op.size) if f is not None)
        elif isinstance(op, Global):
            fields = (op.output_size,) if op.output_size else ()
        else:
            continue
        if any(len(set(f)) > 1 for f in fields):
            return False
    return True



class AxisSizes:
    """Output sizes of every node along one axis for any input size: the same arithmetic
    as the analysis, without frames, so that many input sizes can be tried cheaply."""

    def __init__(self, graph: Graph, axis: int) -> None:
        self.graph = graph
        self.axis = axis
        self.plan = [self._step(node) for node in graph.nodes]

    def _step(self, node: Node) -> tuple:
        """``(kind, inputs, params)`` for one node along this axis."""
        a = self.axis
        op = node.op
        if not node.inputs:
            return ("input", (), None)
        if isinstance(op, Merge):
            return ("merge", node.inputs, None)
        src = node.inputs[0]
        if isinstance(op, Resample):
            if op.size is not None and a < len(op.size):
                return ("const", src, op.size[a])
            if op.scale is not None and a < len(op.scale):
                return ("scale", src, op.scale[a])
            return ("none", src, None)
        if isinstance(op, Global):
            return ("const", src, op.output_size[a] if op.output_size and a < len(op.output_size) else 1)
        if isinstance(op, (EndSpatial, Opaque)):
            return ("none", src, None)
        if isinstance(op, Window):
            if a >= len(op.kernel):
                return ("none", src, None)
            pb, pa = op.padding[a]
            return ("window", src, (op.kernel[a], op.stride[a], op.dilation[a], pb, pa, op.ceil_mode))
        if isinstance(op, TransposedConv):
            if a >= len(op.kernel):
                return ("none", src, None)
            return ("tconv", src, (op.kernel[a], op.stride[a], op.dilation[a], op.padding[a], op.output_padding[a]))
        if isinstance(op, PixelShuffle):
            return ("mul", src, op.factor)
        if isinstance(op, PixelUnshuffle):
            return ("div", src, op.factor)
        return ("same", src, None)

    def run(self, n: int) -> list[int | None] | None:
        """Sizes per node id, None for a node whose size is not known; None overall when
        some layer would produce an empty output (the input is too small)."""
        sizes: list[int | None] = []
        for kind, src, arg in self.plan:
            if kind == "input":
                sizes.append(n)
                continue
            if kind == "merge":
                known = [sizes[i] for i in src if sizes[i] is not None]
                sizes.append(known[0] if known else None)
                continue
            m = sizes[src]
            out: int | None
            if kind == "const":
                out = arg
            elif m is None or kind == "none":
                out = None
            elif kind == "window":
                out = window_out_size(m, *arg)
            elif kind == "same":
                out = m
            elif kind == "scale":
                out = int(m * arg)
            elif kind == "tconv":
                out = transposed_out_size(m, *arg)
            elif kind == "mul":
                out = m * arg
            else:
                out = m // arg
            if out is not None and out < 1:
                return None
            sizes.append(out)
        return sizes


def far_pads(sizes: Sequence[int | None], node: Node, axis: int) -> int | None:
    """Far-side padding a window layer uses along ``axis``, given every node's size."""
    op = node.op
    assert isinstance(op, Window)
    n_in, n_out = sizes[node.inputs[0]], sizes[node.id]
    if n_in is None or n_out is None:
        return None
    return far_padding_used(n_in, n_out, op.kernel[axis], op.stride[axis], op.dilation[axis], op.padding[axis][0])


Condition = Callable[[int, int], bool]
"""``ok(p_l, far)``: whether a layer uses its borders acceptably along one axis."""


def nearest_sizes(
    graph: Graph, axis: int, n: int, layers: Sequence[Node], ok: Condition, reach: int
) -> tuple[int | None, int | None]:
    """The nearest input sizes below and above ``n`` (within ``reach``) at which
    ``ok(pl, far)`` holds for every listed layer along ``axis``; ``(n, n)`` when ``n``
    itself does."""
    runner = AxisSizes(graph, axis)

    def good(m: int) -> bool:
        sizes = runner.run(m)
        if sizes is None:
            return False
        for node in layers:
            far = far_pads(sizes, node, axis)
            if far is None or not ok(node.op.padding[axis][0], far):  # type: ignore[attr-defined]
                return False
        return True

    if good(n):
        return n, n
    below = above = None
    for delta in range(1, reach + 1):
        if below is None and n - delta >= 1 and good(n - delta):
            below = n - delta
        if above is None and good(n + delta):
            above = n + delta
        if below is not None and above is not None:
            break
    return below, above


def _reach(ctx: ModelContext, layers: Iterable[Node]) -> int:
    """How far to look for a better input size: a few times the largest jump."""
    jumps = [1]
    for node in layers:
        info = ctx.analysis.info(node.id)
        if info.frames:
            jumps.extend(int(f.j) for f in info.frames if f.j >= 1)
    return min(1024, max(64, 4 * max(jumps)))


def _size_suggestion(ctx: ModelContext, layers: Sequence[tuple[Node, list[int]]], ok: Condition, what: str) -> str:
    """'The nearest input sizes with ...: 193 and 225', per axis (one phrase when the
    axes agree). ``layers`` are the judged layers with the axes they are judged on."""
    sizes = ctx.analysis.input_size
    if not sizes or not layers:
        return ""
    ndim = ctx.graph.ndim
    per_axis: list[tuple[int | None, int | None]] = []
    same = symmetric_axes(ctx)
    for a in range(ndim):
        on_axis = [n for n, axes in layers if a in axes]
        if not on_axis:
            per_axis.append((None, None))
        elif a > 0 and same:
            per_axis.append(per_axis[0])  # every axis alike: the same answer
        else:
            per_axis.append(nearest_sizes(ctx.graph, a, sizes[a], on_axis, ok, _reach(ctx, on_axis)))

    def phrase(pair: tuple[int | None, int | None]) -> str:
        if pair[0] is not None and pair[0] == pair[1]:
            return f"{pair[0]} (as configured)"
        found = [str(v) for v in pair if v is not None]
        return " and ".join(found) if found else ""

    names = axis_names(ndim)
    if len(set(per_axis)) == 1 and len(set(sizes)) == 1:
        text = phrase(per_axis[0])
        if not text:
            return f" No input size within {_reach(ctx, [n for n, _ in layers])} px of {sizes[0]} has {what}."
        plural = "s" if " and " in text else ""
        return f" The nearest input size{plural} with {what}: {text}."
    parts = []
    for a in range(ndim):
        if per_axis[a] == (None, None) and not any(a in axes for _, axes in layers):
            continue  # no strided layer along this axis
        text = phrase(per_axis[a])
        parts.append(f"{names[a]} {text or 'none nearby'}")
    return f" The nearest input sizes with {what}: {', '.join(parts)}."


# --------------------------------------------------------------------------- PD101 / PD102


@dataclass
class _Use:
    node: Node
    n_in: tuple[int | None, ...]
    pads: dict[int, tuple[int, int]]  # axis -> (p_l, far)


def _strided_window_uses(ctx: ModelContext) -> Iterator[tuple[Node, NodeInfo, NodeInfo, list[int]]]:
    """Window layers with a known input, and the strided axes with ``K >= s`` on which
    PD101/PD102 judge them (``K < s`` skips input by construction: ST101)."""
    for node in ctx.graph.nodes:
        op = node.op
        if not isinstance(op, Window) or op.kind not in WINDOW_KINDS:
            continue
        src = _source_info(ctx, node)
        info = ctx.analysis.info(node.id)
        if src is None or info.far_pad is None:
            continue
        axes = [
            a for a in range(min(len(op.kernel), ctx.graph.ndim))
            if op.stride[a] > 1 and op.span(a) >= op.stride[a]
            and info.far_pad[a] is not None and src.sizes[a] is not None  # type: ignore[index]
        ]
        if axes:
            yield node, src, info, axes


def _pads_text(pads: dict[int, tuple[int, int]], ndim: int) -> str:
    """``(3, 2)`` when every axis agrees, ``H (3, 2)``, ``H and W (1, 0)``, ``H (3, 2), W (1, 0)``."""
    names = axis_names(ndim)
    values = list(pads.values())
    if len(pads) == ndim and len(set(values)) == 1:
        return str(values[0])
    by_value: dict[tuple[int, int], list[str]] = {}
    for a in sorted(pads):
        by_value.setdefault(pads[a], []).append(names[a])
    return ", ".join(f"{_join(axes)} {value}" for value, axes in by_value.items())


def _at_input(ctx: ModelContext) -> str:
    sizes = ctx.analysis.input_size or ()
    return str(sizes[0]) if len(set(sizes)) == 1 else _size_text(sizes)


def _group(uses: list[_Use]) -> dict[Key, list[_Use]]:
    groups: dict[Key, list[_Use]] = {}
    for use in uses:
        key = _key(use.node)
        if key is not None:
            groups.setdefault(key, []).append(use)
    return groups


def _uses_text(uses: list[_Use], ndim: int) -> str:
    """'(3, 2) on its 224x224 input' or '(1, 0) on its 56x56, 28x28 and 14x14 inputs'."""
    by_pads: dict[str, list[str]] = {}
    for use in uses:
        by_pads.setdefault(_pads_text(use.pads, ndim), []).append(_size_text(use.n_in))
    parts = []
    for pads, maps in by_pads.items():
        maps = list(dict.fromkeys(maps))
        noun = "input" if len(maps) == 1 else "inputs"
        parts.append(f"{pads} on its {_join(maps)} {noun}")
    return "; ".join(parts)


@register
class UnevenPadding(Rule):
    code = "PD101"
    name = "uneven-padding"
    severity = Severity.INFO
    summary = "Strided layer that uses its padding unevenly at the configured input size (Mind the Pad)"
    needs_complete_graph = True

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.input_size is not None

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        if ctx.analysis.input_size is None:
            return
        ndim = ctx.graph.ndim
        checked: list[tuple[Node, list[int]]] = []
        uneven: list[_Use] = []
        for node, src, info, axes in _strided_window_uses(ctx):
            checked.append((node, axes))
            op = node.op
            assert isinstance(op, Window)
            pads = {}
            for a in axes:
                pl, far = op.padding[a][0], info.far_pad[a]  # type: ignore[index]
                if far is not None and far >= 0 and far != pl:  # negative: PD102 says it
                    pads[a] = (pl, far)
            if pads:
                uneven.append(_Use(node, src.sizes, pads))  # type: ignore[arg-type]
        if not uneven:
            return
        suggestion = _size_suggestion(
            ctx, checked, lambda pl, far: far == pl, "every strided layer using its padding evenly"
        )
        severity = Severity.WARNING if _dense(ctx) else None
        for uses in _group(uneven).values():
            node = uses[0].node
            op = node.op
            assert isinstance(op, Window)
            pairs = [pair for use in uses for pair in use.pads.values()]
            shifts = {abs(Fraction(pl - far, 2)) for pl, far in pairs}
            shift = _join([fmt_num(v) for v in sorted(shifts)], "or")
            if all(far < pl for pl, far in pairs):
                how = ("The last window stops short of the far border's padding, so the near border gets "
                       "more padding than the far one")
            elif all(far > pl for pl, far in pairs):
                how = ("The last window reaches further into the far border's padding than the first "
                       "does into the near border's")
            else:
                how = "The two borders get different amounts of padding"
            message = (
                f"{describe(node, padding=True)} uses its padding unevenly at input {_at_input(ctx)}: "
                f"(left, used-right) = {_uses_text(uses, ndim)}. {how}, and the sampling grid sits "
                f"{shift} px (of its input) off-centre (Mind the Pad).{suggestion}"
            )
            yield self.diagnostic(ctx, node, message, severity=severity)


@register
class InputRowsNeverRead(Rule):
    code = "PD102"
    name = "input-rows-never-read"
    severity = Severity.WARNING
    summary = "Strided layer that never reads the last rows or columns of its input at the configured input size"
    needs_complete_graph = True

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.input_size is not None

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        if ctx.analysis.input_size is None:
            return
        ndim = ctx.graph.ndim
        names = axis_names(ndim)
        checked: list[tuple[Node, list[int]]] = []
        dropping: list[_Use] = []
        for node, src, info, axes in _strided_window_uses(ctx):
            checked.append((node, axes))
            op = node.op
            assert isinstance(op, Window)
            pads = {a: (op.padding[a][0], info.far_pad[a]) for a in axes if info.far_pad[a] < 0}  # type: ignore[index,operator]
            if pads:
                dropping.append(_Use(node, src.sizes, pads))  # type: ignore[arg-type]
        if not dropping:
            return
        suggestion = _size_suggestion(ctx, checked, lambda pl, far: far >= 0, "every strided layer reading its whole input")
        for uses in _group(dropping).values():
            node = uses[0].node
            op = node.op
            assert isinstance(op, Window)
            lost: list[str] = []
            for use in uses:
                for a, (_, far) in sorted(use.pads.items()):
                    what = _LINE_NAMES.get(names[a], "position")
                    lost.append(f"the last {what}" if far == -1 else f"the last {-far} {what}s")
            if op.kind == "conv":
                advice = "Pad so that the last window reaches the border, or choose the input size."
            else:
                advice = "Use ceil_mode=True, or choose the input size."
            message = (
                f"{describe(node, padding=True)} never reads {_join(lost)} of its input at input "
                f"{_at_input(ctx)}: (left, used-right) padding = {_uses_text(uses, ndim)}, so whatever "
                f"falls only there is lost to every later layer. {advice}{suggestion}"
            )
            yield self.diagnostic(ctx, node, message)


# --------------------------------------------------------------------------- PD103


ZERO, RENORM, CLAMP, REFLECT, CIRCULAR = "zeros", "renorm", "replicate", "reflect", "circular"


def border_mode(node: Node) -> str:
    """What a layer reads beyond its input's border, for the impact computation.

    ``zeros``: constant padding (conv ``padding_mode='zeros'``, ``ZeroPad``,
    ``ConstantPad``, ``F.pad``'s default, AvgPool counting the pad, and the
    implicit zeros of a transposed conv); ``reflect``/``replicate``/``circular``:
    image content; ``renorm``: the padded taps never contribute (MaxPool pads
    with -inf; AvgPool with ``count_include_pad=False``).
    """
    op = node.op
    mode = node.attrs.get("padding_mode")
    if isinstance(op, Window):
        if op.kind == "max_pool":
            return RENORM
        if op.kind == "avg_pool":
            return RENORM if node.attrs.get("count_include_pad") is False else ZERO
        if op.kind == "pad":
            if isinstance(mode, str):
                return _canonical_mode(mode)
            name = node.type_name
            for prefix, m in (("Reflection", REFLECT), ("Replication", CLAMP), ("Circular", CIRCULAR)):
                if name.startswith(prefix):
                    return m
            return ZERO
        if op.kind == "conv":
            if isinstance(mode, str):
                return _canonical_mode(mode)
            if node.attrs.get("blur"):
                # antialiased-cnns BlurPool and timm BlurPool2d reflect by default; kornia pads zeros.
                return ZERO if node.type_name == "BlurPool2D" else REFLECT
            return ZERO
        return ZERO
    if isinstance(op, TransposedConv):
        return ZERO
    return CLAMP  # resampling clamps at the border; shuffles never leave it


def _canonical_mode(mode: str) -> str:
    return {"zeros": ZERO, "constant": ZERO, "reflect": REFLECT, "replicate": CLAMP, "circular": CIRCULAR}.get(mode, ZERO)


def _inside(i: int, n: int, mode: str) -> int | None:
    if 0 <= i < n:
        return i
    if mode == CLAMP:
        return 0 if i < 0 else n - 1
    if mode == CIRCULAR:
        return i % n
    if mode == REFLECT:
        if n == 1:
            return 0
        period = 2 * (n - 1)
        i %= period
        return i if i < n else period - i
    return None


def _weights(imap: IndexMap) -> list[list[float]]:
    """Tap weights under the ERF convention of rflint.rf: fixed ones as they are, a
    learned kernel uniform with the phases' masses averaging to 1."""
    if imap.weights is not None:
        return [[float(w) for w in ws] for ws in imap.weights]
    total = sum(len(t) for t in imap.taps)
    w = imap.period / total if total else 0.0
    return [[w] * len(t) for t in imap.taps]


@dataclass
class Impact:
    """Where the model output's impact goes, as shares of the total (over every axis).

    ``lost[node_id]``: the share that lands on the border values (zeros) a node reads
    beyond its input; ``reached``: the share that reaches the image.
    """

    lost: dict[int, float]
    reached: float


def _merge_weights(ctx: ModelContext, node: Node, local: list[int]) -> list[float]:
    """How a merge passes impact back to its branches, as the analytic ERF mixes them:
    add and mul by path counts (each branch in full), concat by channel count."""
    op = node.op
    assert isinstance(op, Merge)
    if op.kind == "concat":
        chans = [ctx.analysis.info(i).channels for i in local]
        if all(isinstance(c, int) and c > 0 for c in chans):
            total = sum(chans)  # type: ignore[arg-type]
            return [c / total for c in chans]  # type: ignore[operator]
    return [1.0] * len(local)


def impact(ctx: ModelContext) -> Impact | None:
    """Backpropagate the model output's impact, per axis, exactly.

    Every spatial output position gets the same weight (outputs share equally);
    each layer passes an output's weight to the input positions its taps read,
    with the ERF convention's uniform tap weights (rflint.rf); weight that a tap
    sends beyond the input's border is lost to zero padding at that layer (or
    folded back in, for reflect/replicate/circular padding and max pools). Merges
    pass it to their branches as the analytic ERF mixes them.

    Per axis this is exact. Several axes combine as a product: the share of a
    node's incoming impact that survives it is the product of the per-axis
    survivals, which is exact for separable layers along a chain and a mean-field
    approximation where branches merge.
    """
    graph = ctx.graph
    ndim = graph.ndim
    outputs = [nid for _, nid in ctx.analysis.spatial_outputs()]
    outputs = [o for o in dict.fromkeys(outputs) if _known_sizes(ctx.analysis.info(o), ndim)]
    if not outputs:
        return None
    consumers_mass: dict[int, float] = {}
    for o in outputs:
        consumers_mass[o] = consumers_mass.get(o, 0.0) + 1.0 / len(outputs)
    # Lossless mass per node (path counts), axis-independent: single-input operators
    # keep it (their phases' masses average to 1), merges pass it as they mix.
    mass: dict[int, float] = dict(consumers_mass)
    for node in reversed(graph.nodes):
        m = mass.get(node.id, 0.0)
        if m == 0.0 or not node.inputs:
            continue
        for i, w in _back_edges(ctx, node):
            mass[i] = mass.get(i, 0.0) + m * w
    arriving: list[dict[int, float]] = []
    lost_axes: list[dict[int, float]] = []
    reached_axes: list[float] = []
    same = symmetric_axes(ctx)
    for a in range(ndim):
        result = _impact_axis(ctx, a, outputs) if a == 0 or not same else (arriving[0], lost_axes[0], reached_axes[0])
        arr, lost, reached = result
        arriving.append(arr)
        lost_axes.append(lost)
        reached_axes.append(reached)
    lossy = set().union(*(set(k for k, v in lost.items() if v > 0) for lost in lost_axes))
    lost_nd: dict[int, float] = {}
    for nid in lossy:
        m = mass.get(nid, 0.0)
        if m <= 0:
            continue
        before = prod(arriving[a].get(nid, 0.0) for a in range(ndim))
        after = prod(arriving[a].get(nid, 0.0) - lost_axes[a].get(nid, 0.0) for a in range(ndim))
        # Impact lost here would have reached the image along every path from the
        # input to this layer: weigh it by that path mass (the ERF's forward mass).
        lost_nd[nid] = (before - after) / m ** (ndim - 1) * _forward_mass(ctx, graph.nodes[nid].inputs[0])
    input_ids = [n.id for n in graph.nodes if not n.inputs]
    reached = 0.0
    m0 = sum(mass.get(i, 0.0) for i in input_ids)
    if m0 > 0:
        reached = prod(reached_axes) / m0 ** (ndim - 1)
    total = reached + sum(lost_nd.values())
    if total <= 0:
        return None
    return Impact({k: v / total for k, v in lost_nd.items()}, reached / total)


def _forward_mass(ctx: ModelContext, node_id: int) -> float:
    """Path mass from the model input to a node under the analytic ERF (``Moments.mass``):
    1 along a chain, the sum of the branches' at an add."""
    moments = ctx.analysis.info(node_id).moments
    return float(moments[0].mass) if moments else 1.0


def _known_sizes(info: NodeInfo, ndim: int) -> bool:
    return info.status == "local" and info.sizes is not None and all(
        isinstance(s, int) and s > 0 for s in info.sizes[:ndim]
    ) and len(info.sizes) >= ndim


def _back_edges(ctx: ModelContext, node: Node) -> list[tuple[int, float]]:
    """The inputs a node passes impact back to, with their weights."""
    op = node.op
    if isinstance(op, (Global, EndSpatial, Opaque)):
        return []
    local = [i for i in node.inputs if ctx.analysis.info(i).status == "local"]
    if isinstance(op, Merge):
        return list(zip(local, _merge_weights(ctx, node, local)))
    return [(node.inputs[0], 1.0)] if local[:1] == [node.inputs[0]] else []


MAX_TRACE_READS = 1 << 23
"""The most (position, tap) pairs the impact trace reads along one axis, some two seconds:
a real model at a real input size reads far fewer (ResNet-50 at 224: about 30,000), a map
upsampled 1,024 times from a large input billions."""


def _trace_cost(ctx: ModelContext, a: int) -> int:
    """The (position, tap) pairs the trace along axis ``a`` would read, at most."""
    reads = 0
    for node in ctx.graph.nodes:
        info = ctx.analysis.info(node.id)
        n = info.sizes[a] if info.sizes is not None and a < len(info.sizes) else None
        if not isinstance(n, int):
            continue
        taps = 1
        if node.inputs and not isinstance(node.op, (Pointwise, Merge)):
            src = ctx.analysis.info(node.inputs[0])
            maps = index_maps(node, src.sizes, ctx.graph.ndim) if src.sizes is not None else "unknown"
            taps = max((len(t) for t in maps[a].taps), default=1) if not isinstance(maps, str) else 1
        reads += max(n, 1) * max(taps, len(node.inputs), 1)
    return reads


def _impact_axis(
    ctx: ModelContext, a: int, outputs: list[int]
) -> tuple[dict[int, float], dict[int, float], float] | None:
    graph = ctx.graph
    ndim = graph.ndim
    cost = _trace_cost(ctx, a)
    if cost > MAX_TRACE_READS:
        raise BeyondLimits(f"the padding trace would read {cost:,} taps along an axis, more than rflint traces "
                           f"({MAX_TRACE_READS:,})")
    g: dict[int, list[float]] = {}
    for o in outputs:
        n = ctx.analysis.info(o).sizes[a]  # type: ignore[index]
        vec = g.setdefault(o, [0.0] * n)
        for i in range(n):
            vec[i] += 1.0 / (n * len(outputs))
    arriving: dict[int, float] = {}
    lost: dict[int, float] = {}
    reached = 0.0
    for node in reversed(graph.nodes):
        vec = g.pop(node.id, None)
        if vec is None:
            continue
        arriving[node.id] = sum(vec)
        if not node.inputs:
            reached += arriving[node.id]
            continue
        op = node.op
        if isinstance(op, Merge):
            for i, w in _back_edges(ctx, node):
                src = ctx.analysis.info(i)
                if not _known_sizes(src, ndim) or src.sizes[a] != len(vec):  # type: ignore[index]
                    continue
                acc = g.setdefault(i, [0.0] * len(vec))
                for k, v in enumerate(vec):
                    acc[k] += w * v
            continue
        edges = _back_edges(ctx, node)
        if not edges:
            continue
        src_id = edges[0][0]
        src = ctx.analysis.info(src_id)
        if not _known_sizes(src, ndim):
            continue
        n_in = src.sizes[a]  # type: ignore[index]
        if isinstance(op, Pointwise):
            if n_in != len(vec):
                continue
            acc = g.setdefault(src_id, [0.0] * n_in)
            for k, v in enumerate(vec):
                acc[k] += v
            continue
        maps = index_maps(node, src.sizes, ndim)  # type: ignore[arg-type]
        if isinstance(maps, str):
            continue
        imap = maps[a]
        weights = _weights(imap)
        mode = border_mode(node)
        acc = g.setdefault(src_id, [0.0] * n_in)
        spent = 0.0
        for o, v in enumerate(vec):
            if v == 0.0:
                continue
            m, r = divmod(o, imap.period)
            taps, ws = imap.taps[r], weights[r]
            base = m * imap.shift
            if mode == RENORM:
                inside = [(t + base, w) for t, w in zip(taps, ws) if 0 <= t + base < n_in]
                full = sum(ws)
                part = sum(w for _, w in inside)
                if part <= 0:
                    spent += v * full
                    continue
                for i, w in inside:
                    acc[i] += v * w * full / part
                continue
            for t, w in zip(taps, ws):
                i = _inside(t + base, n_in, mode)
                if i is None:
                    spent += v * w
                else:
                    acc[i] += v * w
        if spent > 0:
            lost[node.id] = lost.get(node.id, 0.0) + spent
    return arriving, lost, reached


def _share(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        return f"must be a share between 0 and 1 (0.1 is 10%), got {value!r}"
    return None


def _threshold(ctx: ModelContext) -> float:
    value = ctx.option("PD103", "threshold", 0.1)
    problem = _share(value)
    if problem:  # the configuration checks it at load; a settings object built by hand may not
        raise ValueError(f"[tool.rflint.rules.PD103] threshold {problem}")
    return float(value)  # type: ignore[arg-type]


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


@register
class ZeroPaddingBorder(Rule):
    code = "PD103"
    name = "zero-padding-border"
    severity = Severity.INFO
    summary = "A large share of the output's impact falls on zero padding rather than on the image"
    needs_complete_graph = True
    needs_erf = True  # the impact is weighed by the ERF's path mass
    options = {"threshold": Option(_share, "the share of the impact on padding that is reported (default 0.1)")}

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.input_size is not None

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        if ctx.analysis.input_size is None:
            return
        threshold = _threshold(ctx)
        result = impact(ctx)
        if result is None or not result.lost:
            return
        nodes = ctx.graph.nodes
        # Stages: the resolution whose border the padding is added to (the layer's input grid).
        stage_of: dict[int, tuple[Fraction, ...]] = {}
        stage_share: dict[tuple[Fraction, ...], float] = {}
        stage_sizes: dict[tuple[Fraction, ...], tuple[int | None, ...]] = {}
        for nid, share in result.lost.items():
            src = ctx.analysis.info(nodes[nid].inputs[0])
            if src.frames is None:
                continue
            stage = tuple(f.j for f in src.frames)
            stage_of[nid] = stage
            stage_share[stage] = stage_share.get(stage, 0.0) + share
            stage_sizes.setdefault(stage, tuple(src.sizes or ()))
        over = {s for s, v in stage_share.items() if v > threshold}
        if not over:
            return
        lines: dict[Key, list[int]] = {}
        for nid, stage in stage_of.items():
            key = _key(nodes[nid])
            if stage in over and key is not None:
                lines.setdefault(key, []).append(nid)
        severity = Severity.WARNING if _dense(ctx) else None
        for ids in lines.values():
            node = nodes[ids[0]]
            own = sum(result.lost[i] for i in ids)
            stages = sorted({stage_of[i] for i in ids}, key=lambda s: -stage_share[s])
            parts = [
                f"{_pct(stage_share[s])} {'falls ' if k == 0 else ''}on the zero padding of the "
                f"{_size_text(stage_sizes[s])} feature maps (stride {fmt_axes([fmt_num(j) for j in s])})"
                for k, s in enumerate(stages)
            ]
            message = (
                f"{describe(node, padding=True)} pads with zeros: at input {_at_input(ctx)}, of the model "
                f"output's impact (analytic ERF, over all output positions), {_join(parts)}, above the "
                f"{threshold * 100:g}% threshold; the padding of this line's layers takes {_pct(own)} of it. "
                f"Zero borders tell the network where the image ends, which it learns to use as a position "
                f"cue, and weaken what it sees near the edges. {self._advice(node)}"
            )
            fix = self._fix(ctx, node, ids) if self._is_zero_conv(node) else None
            yield self.diagnostic(ctx, node, message, fix, severity)

    @staticmethod
    def _is_zero_conv(node: Node) -> bool:
        op = node.op
        return isinstance(op, Window) and op.kind == "conv" and not node.attrs.get("blur")

    def _advice(self, node: Node) -> str:
        op = node.op
        if isinstance(op, TransposedConv):
            return (
                "ConvTranspose does not accept padding_mode: resize (Upsample) and then a stride-1 "
                "conv with padding_mode='replicate' avoids the zero border."
            )
        if isinstance(op, Window) and op.kind == "avg_pool":
            return "Use count_include_pad=False, so that the pool averages only real pixels."
        if isinstance(op, Window) and op.kind == "pad":
            nd = len(op.kernel)
            return f"Use ReflectionPad{nd}d or ReplicationPad{nd}d (or F.pad(mode='reflect'))."
        if isinstance(op, Window) and op.kind == "conv":
            return "Use padding_mode='reflect' (or 'replicate', 'circular') so that the border carries image content."
        return "Pad with image content (reflect or replicate) instead of zeros."

    def _fix(self, ctx: ModelContext, node: Node, ids: list[int]) -> Fix | None:
        spans = node.attrs.get("args")
        literal = node.attrs.get("literal", frozenset())
        if not isinstance(spans, dict) or "kernel_size" not in spans or node.loc is None:
            return None
        if not all(p in literal for p in ("kernel_size", "stride", "padding", "dilation", "padding_mode") if p in spans):
            return None  # a helper's parameters: the call is not the place to decide
        # reflect needs padding < input size on every axis, at every use of the line.
        mode = "reflect"
        for nid in ids:
            op = ctx.graph.nodes[nid].op
            src = ctx.analysis.info(ctx.graph.nodes[nid].inputs[0])
            assert isinstance(op, Window)
            for a, (pb, pa) in enumerate(op.padding):
                n = (src.sizes or (None,) * len(op.padding))[a]
                if n is None or max(pb, pa) >= n:
                    mode = "replicate"
        text = f'"{mode}"'
        edit = set_arg(spans, "padding_mode", text)
        return Fix(
            f"Use padding_mode={text} (changes what the layer computes at the border)", (edit,), safe=False
        )


# --------------------------------------------------------------------------- PD104


@register
class EvenKernelShift(Rule):
    code = "PD104"
    name = "even-kernel-shift"
    severity = Severity.WARNING
    summary = "Stride-1 conv with an even kernel span: its outputs sit half a pixel off the input grid"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        ndim = ctx.graph.ndim
        names = axis_names(ndim)
        reported: set[Key] = set()
        for node in ctx.graph.nodes:
            op = node.op
            if isinstance(op, Window) and op.kind == "conv":
                spans = [op.span(a) for a in range(len(op.kernel))]
            elif isinstance(op, TransposedConv):
                spans = [op.dilation[a] * (op.kernel[a] - 1) + 1 for a in range(len(op.kernel))]
            else:
                continue
            axes = [a for a in range(len(spans)) if op.stride[a] == 1 and spans[a] % 2 == 0]
            # A layer whose output is one position along an axis reads the whole map: it
            # leaves no grid to be off (SSD's last 4x4 extra layer on a 4x4 map).
            sizes = ctx.analysis.info(node.id).sizes
            if sizes is not None and ctx.graph.complete:
                axes = [a for a in axes if a >= len(sizes) or sizes[a] != 1]
            if not axes:
                continue
            key = _key(node)
            if key in reported:
                continue
            if key is not None:
                reported.add(key)
            # Half a pixel of this layer's input, in model-input pixels: j/2.
            own = ""
            src = ctx.analysis.info(node.inputs[0]) if len(node.inputs) == 1 else None
            if src is not None and src.status == "local" and src.frames is not None:
                px = [fmt_num(src.frames[a].j / 2) for a in axes]
                own = f" ({fmt_axes(px)} model-input px)" if any(p != "0.5" for p in px) else ""
            along = "along each axis" if len(axes) == len(spans) else "along " + _join([names[a] for a in axes])
            message = (
                f"{describe(node, padding=True)} has an even kernel span ({fmt_axes([spans[a] for a in axes])}) "
                f"at stride 1: whatever the padding, its outputs sit half a pixel{own} off its input's grid "
                f"{along}, and such shifts accumulate over layers.{self._accumulated(ctx, node, axes)} "
                f"Use an odd kernel size, or pair even kernels so that their shifts cancel."
            )
            yield self.diagnostic(ctx, node, message)

    @staticmethod
    def _accumulated(ctx: ModelContext, node: Node, axes: list[int]) -> str:
        """The model output's centre offset (frame centre, model-input px) for outputs fed by the node."""
        if not ctx.graph.complete:
            return ""
        reach = _downstream(ctx, node.id)
        found: list[tuple[str, str]] = []
        for name, nid in ctx.analysis.spatial_outputs():
            if nid not in reach:
                continue
            info = ctx.analysis.info(nid)
            if info.frames is None:
                continue
            found.append((name, fmt_axes([fmt_num(info.frames[a].centre) for a in axes])))
        if not found:
            return ""
        values = {v for _, v in found}
        if len(values) == 1:
            value = next(iter(values))
            tail = " (the shifts cancel there, but the maps in between are off the grid)" if value == "0" else ""
            return f" Accumulated shift at the model output (its frame's centre): {value} px{tail}."
        listed = ", ".join(f"'{n}' {v} px" for n, v in found)
        return f" Accumulated shift at the model outputs (their frames' centres): {listed}."


def _downstream(ctx: ModelContext, start: int) -> set[int]:
    seen = {start}
    stack = [start]
    consumers = ctx.consumers
    while stack:
        for c in consumers.get(stack.pop(), []):
            if c not in seen:
                seen.add(c)
                stack.append(c)
    return seen
