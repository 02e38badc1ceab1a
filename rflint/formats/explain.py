"""``rflint explain``: the per-layer table for a person, and JSON for scripts."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Sequence

import json

from ..analysis import Analysis, NodeInfo
from ..ir import Node, PixelShuffle, PixelUnshuffle, Resample, TransposedConv, Window
from ..rf import AxisFrame


def _num(x: Fraction | int) -> int | float:
    x = Fraction(x)
    return int(x) if x.denominator == 1 else float(x)


def _axes(values: Sequence[Any]) -> str:
    """One value when every axis agrees, else ``3x5``."""
    texts = [str(v) for v in values]
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


def geometry(node: Node) -> dict[str, Sequence[Any]]:
    """Kernel, stride, dilation and padding per axis, for the operators that have them."""
    op = node.op
    if isinstance(op, Window):
        return {"kernel": op.kernel, "stride": op.stride, "dilation": op.dilation,
                "padding": [p[0] if p[0] == p[1] else f"{p[0]},{p[1]}" for p in op.padding]}
    if isinstance(op, TransposedConv):
        return {"kernel": op.kernel, "stride": [f"1/{s}" for s in op.stride], "dilation": op.dilation, "padding": op.padding}
    if isinstance(op, (PixelShuffle, PixelUnshuffle)):
        f = op.factor if isinstance(op, PixelUnshuffle) else f"1/{op.factor}"
        return {"kernel": [op.factor] * op.ndim if isinstance(op, PixelUnshuffle) else [1] * op.ndim, "stride": [f] * op.ndim}
    if isinstance(op, Resample) and op.scale is not None:
        return {"stride": [str(1 / s) for s in op.scale]}
    return {}


def _frame_cells(info: NodeInfo) -> tuple[str, str, str, str]:
    if info.status != "local" or info.frames is None:
        text = "global" if info.is_global and info.status == "ended" else info.status
        return text, "", "", ""
    r = _axes([f.r if f.r == f.r_min else f"{f.r_min}-{f.r}" for f in info.frames])
    j = _axes([str(f.j) for f in info.frames])
    p = _axes([str(f.padding) for f in info.frames])
    erf = _axes([f"{m.width:.1f}" for m in info.moments]) if info.moments else ""
    return r + ("+g" if info.is_global else ""), j, p, erf


def render_table(analysis: Analysis) -> str:
    """A fixed-width table, one row per operation after the input."""
    graph = analysis.graph
    header = ("layer", "where", "kernel", "stride", "dil", "pad", "out", "r", "j", "P", "ERF")
    rows: list[tuple[str, ...]] = []
    for node in graph.nodes[1:]:
        info = analysis.info(node.id)
        geo = geometry(node)
        where = f"{node.loc.file.rsplit('/', 1)[-1]}:{node.loc.line}" if node.loc else ""
        out = _axes(info.sizes) if info.sizes and all(s is not None for s in info.sizes) else ""
        r, j, p, erf = _frame_cells(info)
        rows.append((
            node.name or node.type_name, where, _axes(geo["kernel"]) if "kernel" in geo else "",
            _axes(geo["stride"]) if "stride" in geo else "", _axes(geo["dilation"]) if "dilation" in geo else "",
            _axes(geo["padding"]) if "padding" in geo else "", out, r, j, p, erf,
        ))
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.append("")
    lines.extend(_summary_lines(analysis))
    return "\n".join(lines)


def _summary_lines(analysis: Analysis) -> list[str]:
    graph = analysis.graph
    size = f" at input {_axes(analysis.input_size)}" if analysis.input_size else ""
    out = [f"{graph.name}{size}:"]
    for name, nid in analysis.spatial_outputs():
        info = analysis.info(nid)
        node = graph.nodes[nid]
        assert info.frames is not None
        f = info.frames
        parts = [f"r={_axes([x.r for x in f])}", f"j={_axes([x.j for x in f])}", f"P={_axes([x.padding for x in f])}"]
        if info.moments:
            parts.append(f"ERF={_axes([f'{m.width:.1f}' for m in info.moments])} (4 sigma)")
        gate = ", plus global context through a gate" if info.is_global else ""
        out.append(f"  {name}: last spatial map {node.name or node.type_name}: {'  '.join(parts)}{gate}")
    if not graph.complete:
        out.append("  (the forward pass could not be followed completely; see the unresolved list)")
    for label, items in (("assumed", graph.assumptions), ("unresolved", graph.unresolved)):
        for u in items:
            where = f"{u.loc.file}:{u.loc.line}: " if u.loc else ""
            out.append(f"  {label}: {where}{u.reason}")
    legend = "r: receptive field (r_min-r_max when phases differ; +g: global context), j: jump, P: effective padding, ERF: 4 sigma"
    return out + [legend]


# ---------------------------------------------------------------------- JSON


def _frame_json(axis: int, f: AxisFrame, width: float | None) -> dict[str, Any]:
    def opt(v: Fraction | None) -> float | None:
        return None if v is None else _num(v)

    return dict(
        axis=axis, r=f.r, r_min=f.r_min, j=_num(f.j), q=f.q, effective_padding=_num(f.padding), centre=_num(f.centre),
        alpha=[opt(a) for a in f.alpha], beta=[opt(b) for b in f.beta],
        exact={"j": str(f.j), "alpha": [None if a is None else str(a) for a in f.alpha],
               "beta": [None if b is None else str(b) for b in f.beta]},
        erf_width=width,
    )


def render_json(analysis: Analysis) -> str:
    """The analysis as JSON; ``explain_schema.ExplainJson`` is its schema (the tests validate
    the output against it). Plain dicts here: a script calling ``rflint explain`` should
    not wait for pydantic to import."""
    graph = analysis.graph
    layers = []
    for node in graph.nodes:
        info = analysis.info(node.id)
        frames = None
        if info.frames is not None:
            widths = [m.width for m in info.moments] if info.moments else [None] * len(info.frames)
            frames = [_frame_json(a, f, w) for a, (f, w) in enumerate(zip(info.frames, widths))]
        layers.append(dict(
            index=node.id, name=node.name, type=node.type_name, inputs=list(node.inputs),
            filename=node.loc.file if node.loc else None, row=node.loc.line if node.loc else None,
            column=node.loc.col if node.loc else None,
            geometry={k: list(v) for k, v in geometry(node).items()},
            output_size=list(info.sizes) if info.sizes else None, status=info.status, reason=info.reason,
            is_global=info.is_global, frames=frames,
        ))
    outputs = []
    for name, nid in analysis.spatial_outputs():
        info = analysis.info(nid)
        assert info.frames is not None
        outputs.append(dict(
            name=name, node=nid, r=[f.r for f in info.frames], j=[_num(f.j) for f in info.frames],
            effective_padding=[_num(f.padding) for f in info.frames], is_global=info.is_global,
        ))
    doc = dict(
        model=graph.name, filename=graph.loc.file if graph.loc else None,
        input_size=list(analysis.input_size) if analysis.input_size else None, complete=graph.complete,
        layers=layers, outputs=outputs,
        unresolved=[_said(u) for u in graph.unresolved],
        assumptions=[_said(u) for u in graph.assumptions],
    )
    return json.dumps(doc, indent=2)


def _said(u: Any) -> dict[str, Any]:
    return {"reason": u.reason, "filename": u.loc.file if u.loc else None, "row": u.loc.line if u.loc else None}
