"""Analysis of a Graph: per node, the periodic frame per axis, sizes, ERF moments.

Pure arithmetic over the IR (rflint.ir) with the algebra of rflint.rf; no
torch and nothing from readers or rules. The result is what every rule and
``explain`` read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from math import lcm
from typing import Literal, Sequence

from .ir import (
    Constant,
    SideInput,
    EndSpatial,
    Global,
    Graph,
    Merge,
    Mix,
    Node,
    Opaque,
    PixelShuffle,
    PixelUnshuffle,
    Resample,
    Shift,
    TransposedConv,
    Unresolved,
    Window,
)
from .rf import (
    IDENTITY_MAP,
    MAX_PHASES,
    AxisFrame,
    IndexMap,
    Moments,
    compose,
    compose_moments,
    cubic_map,
    far_padding_used,
    linear_map,
    merge,
    mix_map,
    mix_moments,
    nearest_map,
    shift_map,
    shuffle_map,
    transposed_map,
    too_costly,
    transposed_out_size,
    window_map,
    window_out_size,
)

Status = Literal["local", "ended", "unknown"]


@dataclass(frozen=True)
class NodeInfo:
    """What the analysis knows about one node's output tensor.

    ``status``: ``local`` (``frames`` hold the local frame per axis), ``ended``
    (flattened or globally pooled: no local frame), ``unknown`` (``reason``
    says why). ``is_global`` is set when some path through a global operation
    (an SE gate, attention) reaches this tensor, beside any local frame.
    """

    status: Status
    frames: tuple[AxisFrame, ...] | None = None
    is_global: bool = False
    reason: str = ""
    sizes: tuple[int | None, ...] | None = None
    far_pad: tuple[int | None, ...] | None = None
    moments: tuple[Moments, ...] | None = None
    channels: int | None = None
    misaligned: bool = False
    constant: bool = False  # a Constant or SideInput: no frame, and no global context either


@dataclass(frozen=True)
class Analysis:
    graph: Graph
    input_size: tuple[int, ...] | None
    infos: tuple[NodeInfo, ...]

    def info(self, node_id: int) -> NodeInfo:
        return self.infos[node_id]

    def spatial_outputs(self) -> list[tuple[str, int]]:
        """Per named output, the node of the last spatial feature map before it.

        The "RF of a model" people quote is the local frame of that map, with
        global gates left out: walk back from an output whose frame has ended
        to the last node that still had a local frame.
        """
        result = []
        for name, nid in self.graph.outputs:
            found = self._last_local(nid)
            if found is not None:
                result.append((name, found))
        return result

    def _last_local(self, nid: int) -> int | None:
        seen: set[int] = set()
        stack = [nid]
        best: int | None = None
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            info = self.infos[cur]
            if info.status == "local":
                best = cur if best is None or cur > best else best
                continue
            if info.status == "unknown":
                continue
            stack.extend(self.graph.nodes[cur].inputs)
        return best


def settled(analysis: Analysis) -> Analysis:
    """The analysis of a graph that says it is complete only if every node has a frame: a
    node whose frame the analysis could not give (branches merged with different jumps,
    resampling to a size the input size decides) makes it incomplete, with the reason,
    so that model-level rules skip it as they skip what a reader could not follow."""
    graph = analysis.graph
    if not graph.complete:
        return analysis
    infos = analysis.infos
    # Where each reason starts: a node whose unknown frame its input passed on says nothing new.
    unknown = [(n, infos[n.id]) for n in graph.nodes if infos[n.id].status == "unknown"]
    if not unknown:
        return analysis
    # Said once, where it starts: not again for a node the reader already said (an opaque
    # layer), nor for one whose unknown frame its input passed on.
    known = {u.loc for u in graph.unresolved}
    said = tuple(dict.fromkeys(
        Unresolved(info.reason, node.loc) for node, info in unknown
        if node.loc not in known and not any(infos[i].status == "unknown" and infos[i].reason == info.reason for i in node.inputs)
    ))
    return dataclasses.replace(analysis, graph=dataclasses.replace(graph, complete=False, unresolved=graph.unresolved + said))


def index_maps(node: Node, in_sizes: Sequence[int | None], ndim: int) -> tuple[IndexMap, ...] | str:
    """The per-axis index maps of a node's operator, or a reason why they are unknown."""
    op = node.op
    if isinstance(op, Window):
        return tuple(
            window_map(op.kernel[a], op.stride[a], op.dilation[a], op.padding[a][0]) for a in range(ndim)
        )
    if isinstance(op, TransposedConv):
        return tuple(transposed_map(op.kernel[a], op.stride[a], op.dilation[a], op.padding[a]) for a in range(ndim))
    if isinstance(op, Mix):
        if op.is_global:
            return "global mixing: every output reads every position"
        return tuple(IDENTITY_MAP if op.window[a] == 1 else mix_map(op.window[a], op.offset[a])  # type: ignore[arg-type]
                     for a in range(ndim))
    if isinstance(op, Shift):
        return tuple(shift_map(op.amount[a]) for a in range(ndim))
    if isinstance(op, PixelShuffle):
        return tuple(shuffle_map(op.factor) for _ in range(ndim))
    if isinstance(op, PixelUnshuffle):
        return tuple(window_map(op.factor, op.factor, 1, 0) for _ in range(ndim))
    if isinstance(op, Resample):
        maps = []
        for a in range(ndim):
            n_in = in_sizes[a] if a < len(in_sizes) else None
            n_out = _resample_out(op, a, n_in)
            interpolate = cubic_map if op.mode == "cubic" else linear_map
            if op.mode in ("linear", "cubic") and op.align_corners:
                if n_in is None or n_out is None:
                    return "align_corners=True resampling depends on the input size; give input-size"
                if n_out < 2 or n_in < 2:
                    return "align_corners=True resampling to or from a single pixel"
                maps.append(interpolate(Fraction(n_in - 1, n_out - 1), True))
                continue
            if op.scale is not None:
                ratio = 1 / op.scale[a]
            elif n_in is not None and op.size is not None:
                ratio = Fraction(n_in, op.size[a])
            else:
                return "resampling to a fixed size depends on the input size; give input-size"
            if op.mode in ("linear", "cubic"):
                maps.append(interpolate(ratio, False))
            else:
                maps.append(nearest_map(ratio, exact=op.mode == "nearest-exact"))
        return tuple(maps)
    return tuple(IDENTITY_MAP for _ in range(ndim))


def _resample_out(op: Resample, axis: int, n: int | None) -> int | None:
    if op.size is not None:
        return op.size[axis]
    if n is None or op.scale is None:
        return None
    return int(n * op.scale[axis])  # PyTorch: floor(n * scale_factor)


def out_sizes(node: Node, sizes: tuple[int | None, ...], ndim: int) -> tuple[tuple[int | None, ...], tuple[int | None, ...] | None]:
    """Output sizes per axis, and for windows the far-side padding actually used."""
    op = node.op
    out: list[int | None] = []
    far: list[int | None] = []
    for a in range(ndim):
        n = sizes[a]
        if isinstance(op, Resample):
            out.append(_resample_out(op, a, n))
            continue
        if isinstance(op, Global):
            out.append(op.output_size[a] if op.output_size and a < len(op.output_size) else 1)
            continue
        if n is None:
            out.append(None)
            far.append(None)
            continue
        if isinstance(op, Window):
            pb, pa = op.padding[a]
            n_out = window_out_size(n, op.kernel[a], op.stride[a], op.dilation[a], pb, pa, op.ceil_mode)
            out.append(n_out)
            far.append(far_padding_used(n, n_out, op.kernel[a], op.stride[a], op.dilation[a], pb))
        elif isinstance(op, TransposedConv):
            out.append(
                transposed_out_size(n, op.kernel[a], op.stride[a], op.dilation[a], op.padding[a], op.output_padding[a])
            )
        elif isinstance(op, PixelShuffle):
            out.append(n * op.factor)
        elif isinstance(op, PixelUnshuffle):
            out.append(n // op.factor)
        else:
            out.append(n)
    return tuple(out), (tuple(far) if isinstance(op, Window) else None)


def _channels(node: Node, inputs: list[NodeInfo]) -> int | None:
    declared = node.attrs.get("out_channels")
    if isinstance(declared, int):
        return declared
    if isinstance(node.op, Merge) and node.op.kind == "concat":
        chans = [i.channels for i in inputs]
        return sum(c for c in chans if c is not None) if all(c is not None for c in chans) else None
    if isinstance(node.op, PixelShuffle) and inputs and inputs[0].channels:
        return inputs[0].channels // node.op.factor**node.op.ndim
    if isinstance(node.op, PixelUnshuffle) and inputs and inputs[0].channels:
        return inputs[0].channels * node.op.factor**node.op.ndim
    return inputs[0].channels if inputs else None


def analyse(graph: Graph, input_size: Sequence[int] | None = None, erf: bool = True) -> Analysis:
    """Propagate frames, sizes and ERF moments through the graph in node order.
    ``erf=False`` leaves the moments out (None): a check whose rules do not read them."""
    ndim = graph.ndim
    in_size: tuple[int, ...] | None = None
    if input_size is not None and len(input_size) > 0:
        sizes = tuple(input_size)
        if len(sizes) >= ndim:
            in_size = sizes[len(sizes) - ndim :]  # (C, H, W) or (N, C, H, W): the spatial tail
        else:
            in_size = sizes[-1:] * ndim  # one number: a square (cube) input
    infos: list[NodeInfo] = []
    for node in graph.nodes:
        if not node.inputs:
            infos.append(
                NodeInfo(
                    "local",
                    tuple(AxisFrame.identity() for _ in range(ndim)),
                    sizes=in_size if in_size is not None else (None,) * ndim,
                    moments=tuple(Moments(Fraction(0), Fraction(0)) for _ in range(ndim)) if erf else None,
                    channels=node.attrs.get("out_channels"),
                )
            )
            continue
        op = node.op
        if isinstance(op, Resample) and op.like is not None:
            # size=x.shape[-2:]: the target size is another tensor's, known when the input size is.
            target = infos[op.like].sizes
            if not target or any(n is None for n in target):
                infos.append(NodeInfo("unknown", reason="resampling to another tensor's size depends on the input size; give input-size"))
                continue
            node = dataclasses.replace(node, op=dataclasses.replace(op, size=tuple(target), like=None))  # type: ignore[arg-type]
        infos.append(_analyse_node(node, [infos[i] for i in node.inputs], ndim))
    return Analysis(graph, in_size, tuple(infos))


def _analyse_node(node: Node, inputs: list[NodeInfo], ndim: int) -> NodeInfo:
    op = node.op
    channels = _channels(node, inputs)
    is_global = any(i.is_global for i in inputs)
    if isinstance(op, Merge):
        return _merge(op, inputs, ndim, channels)
    src = inputs[0]
    if src.constant:  # computed from a constant or a side input alone (a timestep's MLP)
        return NodeInfo("ended", channels=channels, constant=True)
    axes = op.spatial_ndim if isinstance(op, (Window, TransposedConv, Resample, Mix, Shift)) else None
    if axes is not None and axes < ndim:  # Conv1d on a 2-D map: say so, never index past
        if src.status != "local":  # on pooled features (an ECA gate's Conv1d): nothing to index
            return NodeInfo(src.status, is_global=is_global, reason=src.reason, channels=channels)
        return NodeInfo("unknown", is_global=is_global, channels=channels,
                        reason=f"{node.type_name} works on {axes} spatial axes, its input has {ndim}")
    sizes_in = src.sizes or (None,) * ndim
    sizes, far = out_sizes(node, sizes_in, ndim)
    if isinstance(op, Global) or (isinstance(op, Mix) and op.is_global):
        return NodeInfo("ended", is_global=True, sizes=sizes, channels=channels)
    if isinstance(op, (Constant, SideInput)):
        return NodeInfo("ended", channels=channels, constant=True)
    if isinstance(op, EndSpatial):
        return NodeInfo("ended", is_global=is_global, channels=channels)
    if isinstance(op, Opaque):
        return NodeInfo("unknown", is_global=is_global, reason=op.reason, channels=channels)
    if src.status != "local" or src.frames is None:
        return NodeInfo(src.status, is_global=is_global, reason=src.reason, sizes=sizes, far_pad=far, channels=channels)
    maps = index_maps(node, sizes_in, ndim)
    if isinstance(maps, str):
        return NodeInfo("unknown", is_global=is_global, reason=maps, sizes=sizes, channels=channels)
    for frame, imap in zip(src.frames, maps):
        costly = too_costly(max(frame.q, len(src.moments[0].phase_list) if src.moments else 1), imap)
        if costly is not None:
            return NodeInfo("unknown", is_global=is_global, reason=f"{node.type_name}: {costly}", sizes=sizes, channels=channels)
    frames = tuple(compose(f, m) for f, m in zip(src.frames, maps))
    moments = None
    if src.moments is not None:
        moments = tuple(compose_moments(mo, m, f.j) for mo, m, f in zip(src.moments, maps, src.frames))
    return NodeInfo("local", frames, is_global, sizes=sizes, far_pad=far, moments=moments, channels=channels)


def _merge(op: Merge, inputs: list[NodeInfo], ndim: int, channels: int | None) -> NodeInfo:
    is_global = any(i.is_global for i in inputs)
    unknown = [i for i in inputs if i.status == "unknown"]
    if unknown:
        return NodeInfo("unknown", is_global=is_global, reason=unknown[0].reason, channels=channels)
    local = [i for i in inputs if i.status == "local" and i.frames is not None]
    if not local:
        return NodeInfo("ended", is_global=is_global, channels=channels, constant=all(i.constant for i in inputs))
    if any(i.status != "local" and not i.constant for i in inputs):
        is_global = True  # a gate or a pooled context broadcast over the map
    sizes = local[0].sizes
    frames: list[AxisFrame] = []
    for a in range(ndim):
        aligned = len({i.frames[a].j for i in local}) == 1  # type: ignore[index]
        phases = lcm(*(i.frames[a].q for i in local), *(len(i.moments[a].phase_list) for i in local if i.moments))  # type: ignore[index]
        if aligned and phases > MAX_PHASES:
            return NodeInfo("unknown", is_global=is_global, channels=channels, sizes=sizes,
                            reason=f"merged branches would have {phases:,} phases per axis, more than rflint analyses ({MAX_PHASES:,})")
        merged = merge([i.frames[a] for i in local])  # type: ignore[index]
        if merged is None:
            jumps = ", ".join(str(i.frames[a].j) for i in local)  # type: ignore[index]
            return NodeInfo(
                "unknown",
                is_global=is_global,
                reason=f"merged branches have different jumps ({jumps})",
                sizes=sizes,
                channels=channels,
                misaligned=True,
            )
        frames.append(merged)
    moments = None
    if all(i.moments is not None for i in local):
        chans = None
        if op.kind == "concat" and all(i.channels for i in local):
            chans = [i.channels for i in local]
        moments = tuple(
            mix_moments([i.moments[a] for i in local], chans) for a in range(ndim)  # type: ignore[index]
        )
    return NodeInfo("local", tuple(frames), is_global, sizes=sizes, moments=moments, channels=channels)
