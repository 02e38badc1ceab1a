"""DL: dilation.

A serial chain of stride-1 convs (a maximal run between strided layers,
upsampling and merges; norms, activations and explicit padding in between
are stepped over) sees, per axis, the offsets of the Minkowski sum of its
members' tap sets ``{0, d, 2d, ..., (k-1)d}``. When that set has holes,
neighbouring outputs of the chain read disjoint sub-lattices of its input:
the gridding of Wang et al., "Understanding Convolution for Semantic
Segmentation", WACV 2018 (who propose rates like [1, 2, 5] whose taps leave
no holes). The test is exact: convolve the boolean tap masks.

Parallel branches (an ASPP's atrous branches, merged by concat) are not a
chain: each branch is one sparse sampler among several rates, by design.
A chain with a residual path around it whose own taps are dense (the
identity, a 1x1 shortcut) is reported as info: positions in the holes
still reach the output through the shortcut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..diagnostics import Diagnostic, Severity
from ..ir import Merge, Node, Pointwise, Window
from .base import ModelContext, Rule, register
from .layers import fmt_axes

SEARCH_BUDGET = 4000  # node visits when looking for routes around a chain
MAX_SPAN = 1 << 14  # offsets tracked along a route; longer routes are not followed

Masks = tuple[frozenset[int], ...]


def is_chain_conv(node: Node) -> bool:
    """A stride-1 conv (a chain member)."""
    op = node.op
    return isinstance(op, Window) and op.kind == "conv" and all(s == 1 for s in op.stride)


def _ended(ctx: ModelContext, nid: int) -> bool:
    """A tensor with no local frame (a global pooling and what follows: an SE squeeze)."""
    return ctx.analysis.info(nid).status == "ended"


def _local_consumers(ctx: ModelContext, nid: int) -> list[int]:
    """Consumers that keep a spatial map: an SE gate's squeeze branch does not count."""
    return [c for c in ctx.consumers.get(nid, []) if not _ended(ctx, c)]


def _through(ctx: ModelContext, node: Node) -> int | None:
    """For a node the chain walk steps over, the input it passes on; else None.

    Pointwise layers, explicit padding (a shift, not a tap), and a merge whose
    other inputs are all global (an SE or attention gate multiplying the map).
    """
    op = node.op
    if isinstance(op, Pointwise) and len(node.inputs) == 1:
        return node.inputs[0]
    if isinstance(op, Window) and op.kind == "pad" and len(node.inputs) == 1:
        return node.inputs[0]
    if isinstance(op, Merge):
        spatial = [i for i in node.inputs if not _ended(ctx, i)]
        if len(spatial) == 1 and len(node.inputs) > 1:
            return spatial[0]
    return None


def _previous_member(ctx: ModelContext, node: Node) -> Node | None:
    """The chain member right before ``node``: walking back over stepped-over nodes that
    feed nothing else, the first stride-1 conv; None at a boundary or a fan-out."""
    if len(node.inputs) != 1:
        return None
    cur = node.inputs[0]
    while True:
        if len(_local_consumers(ctx, cur)) != 1:
            return None
        prev = ctx.graph.nodes[cur]
        if is_chain_conv(prev):
            return prev
        nxt = _through(ctx, prev)
        if nxt is None:
            return None
        cur = nxt


def chains(ctx: ModelContext) -> list[list[Node]]:
    """The maximal serial chains of stride-1 convs, in graph order."""
    previous: dict[int, int] = {}
    for node in ctx.graph.nodes:
        if is_chain_conv(node):
            prev = _previous_member(ctx, node)
            if prev is not None:
                previous[node.id] = prev.id
    following = {p: n for n, p in previous.items()}
    result = []
    for node in ctx.graph.nodes:
        if is_chain_conv(node) and node.id not in previous:
            chain = [node]
            while chain[-1].id in following:
                chain.append(ctx.graph.nodes[following[chain[-1].id]])
            result.append(chain)
    return result


def support(members: list[Node], ndim: int) -> list[list[int]]:
    """Per axis, the offsets the chain's output reads (relative to its first tap): the
    Minkowski sum of the members' tap sets ``{t*d : t < k}``."""
    out = []
    for a in range(ndim):
        offsets = {0}
        for m in members:
            op = m.op
            assert isinstance(op, Window)
            if a >= len(op.kernel):
                continue
            taps = {t * op.dilation[a] for t in range(op.kernel[a])}
            offsets = {o + t for o in offsets for t in taps}
        out.append(sorted(offsets))
    return out


def holes(offsets: list[int]) -> list[int]:
    present = set(offsets)
    return [o for o in range(offsets[0], offsets[-1] + 1) if o not in present]


def _dense(masks: Masks) -> bool:
    return all(len(m) == max(m) - min(m) + 1 for m in masks)


@dataclass
class _Routes:
    dense: bool = False  # a route around the chain with no holes reaches its merge
    dilated: bool = False  # a route around it holds a dilated conv: parallel branches


def _chain_input(ctx: ModelContext, head: Node) -> tuple[int, int]:
    """Where the chain's branch leaves the rest of the graph: ``(fan-out node, first node of
    the path from it into the chain)``."""
    path_first = head.id
    cur = head.inputs[0]
    while len(_local_consumers(ctx, cur)) == 1:
        nxt = _through(ctx, ctx.graph.nodes[cur])
        if nxt is None:
            break
        path_first, cur = cur, nxt
    return cur, path_first


def _merges_after(ctx: ModelContext, last: Node) -> set[int]:
    """The merges the chain's output flows into, past stepped-over nodes."""
    found: set[int] = set()
    stack, seen = [last.id], {last.id}
    while stack:
        for c in _local_consumers(ctx, stack.pop()):
            if c in seen:
                continue
            seen.add(c)
            node = ctx.graph.nodes[c]
            if isinstance(node.op, Merge) and _through(ctx, node) is None:
                found.add(c)
            elif _through(ctx, node) is not None:
                stack.append(c)
    return found


def routes_around(ctx: ModelContext, chain: list[Node]) -> _Routes:
    """Routes from where the chain's branch starts to the merge it ends in that avoid it."""
    result = _Routes()
    merges = _merges_after(ctx, chain[-1])
    if not merges:
        return result
    start, into_chain = _chain_input(ctx, chain[0])
    ndim = ctx.graph.ndim
    members = {m.id for m in chain}
    first: Masks = tuple(frozenset({0}) for _ in range(ndim))
    work: list[tuple[int, Masks, bool]] = [
        (c, first, False) for c in _local_consumers(ctx, start) if c != into_chain and c not in members
    ]
    seen: set[tuple[int, Masks, bool]] = set()
    budget = SEARCH_BUDGET
    while work and budget > 0:
        nid, masks, dilated = work.pop()
        budget -= 1
        if (nid, masks, dilated) in seen or nid in members:
            continue
        seen.add((nid, masks, dilated))
        if nid in merges:
            result.dense |= _dense(masks)
            result.dilated |= dilated
            continue
        node = ctx.graph.nodes[nid]
        op = node.op
        if isinstance(op, (Pointwise, Merge)):
            pass
        elif isinstance(op, Window) and all(s == 1 for s in op.stride) and len(op.kernel) == ndim:
            if op.kind == "conv" and any(d > 1 for d in op.dilation) and any(k > 1 for k in op.kernel):
                dilated = True
            if op.kind != "pad":
                masks = tuple(
                    frozenset(o + t * op.dilation[a] for o in masks[a] for t in range(op.kernel[a]))
                    for a in range(ndim)
                )
                if any(max(m) - min(m) > MAX_SPAN for m in masks):
                    continue
        else:
            continue
        for c in _local_consumers(ctx, nid):
            work.append((c, masks, dilated))
    return result


def _fmt_list(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _offsets_text(offsets: list[int]) -> str:
    gaps = holes(offsets)
    if len(offsets) <= 10:
        shown = "{" + ", ".join(map(str, offsets)) + "}"
    else:
        shown = f"{len(offsets)} of the {offsets[-1] - offsets[0] + 1} offsets from {offsets[0]} to {offsets[-1]}"
    listed = ", ".join(map(str, gaps[:6])) + (", ..." if len(gaps) > 6 else "")
    return f"{shown} (holes at {listed})"


@dataclass
class _Finding:
    chain: list[Node]
    dilations: str
    kernels: str
    text: str
    residual: bool


@register
class DilationGridding(Rule):
    code = "DL101"
    name = "dilation-gridding"
    severity = Severity.WARNING
    summary = "Serial chain of dilated convs whose combined taps leave holes (gridding)"

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        ndim = ctx.graph.ndim
        by_line: dict[tuple[str, int, int], list[_Finding]] = {}
        anchors: dict[tuple[str, int, int], Node] = {}
        for chain in chains(ctx):
            dilated = [
                m for m in chain
                if any(d > 1 and k > 1 for d, k in zip(m.op.dilation, m.op.kernel))  # type: ignore[attr-defined]
            ]
            if not dilated:
                continue
            if ctx.analysis.info(chain[0].inputs[0]).status != "local":
                continue  # fed by something the reader could not follow: the branches around it are unknown
            offsets = support(chain, ndim)
            gappy = [a for a in range(ndim) if holes(offsets[a])]
            if not gappy:
                continue
            around = routes_around(ctx, chain)
            if around.dilated:
                continue  # parallel branches of several rates (ASPP): not a chain
            anchor = dilated[0]
            if anchor.loc is None:
                continue
            key = anchor.loc.place
            texts = {_offsets_text(offsets[a]) for a in gappy}
            if len(gappy) == ndim and len(texts) == 1:
                where = f"along each axis it reads only the offsets {next(iter(texts))} of its input"
            else:
                names = ("H", "W") if ndim == 2 else tuple(f"axis {a}" for a in range(ndim))
                where = "it reads only the offsets " + "; ".join(
                    f"{_offsets_text(offsets[a])} along {names[a]}" for a in gappy
                ) + " of its input"
            finding = _Finding(
                chain,
                _fmt_list([fmt_axes(m.op.dilation) for m in chain]),  # type: ignore[attr-defined]
                _fmt_list([fmt_axes(m.op.kernel) for m in chain]),  # type: ignore[attr-defined]
                where,
                around.dense,
            )
            by_line.setdefault(key, []).append(finding)
            anchors.setdefault(key, anchor)
        for key, findings in by_line.items():
            yield self._report(ctx, anchors[key], findings)

    def _report(self, ctx: ModelContext, anchor: Node, findings: list[_Finding]) -> Diagnostic | None:
        # The most severe chain through this line speaks; the others are counted.
        findings = sorted(findings, key=lambda f: f.residual)
        main = findings[0]
        residual = all(f.residual for f in findings)
        message = (
            f"Serial chain of stride-1 convs with dilations {main.dilations} (kernel sizes {main.kernels}) "
            f"has holes: {main.text}, so neighbouring outputs see disjoint sub-grids of the input "
            f"(gridding). Choose rates whose combined taps leave no holes (hybrid dilated convolution, "
            f"e.g. [1, 2, 5] for 3x3 convs), or put a dense conv into the chain."
        )
        counts: dict[str, int] = {}
        for f in findings:
            counts[f.dilations] = counts.get(f.dilations, 0) + 1
        if len(findings) > 1:
            listed = ", ".join(f"{d} x{n}" for d, n in counts.items())
            message += f" {len(findings)} such chains go through this line: {listed}."
        if residual:
            message += (
                " A residual path gives a dense route around the chain, so the positions in the holes "
                "still reach the output through it."
            )
        elif any(f.residual for f in findings):
            message += " Some of these chains have a dense residual route around them; this one does not."
        return self.diagnostic(ctx, anchor, message, severity=Severity.INFO if residual else None)
