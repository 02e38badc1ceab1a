"""A layer's identity that survives export: the key that matches findings across readers.

The same model read from source, from an ONNX export and from a trace gives
graphs that differ in everything a reader can choose: node names
(``layer1.0.conv1`` against ``/layer1/layer1.0/conv1/Conv``), node order among
parallel branches, and the pointwise nodes (export folds BatchNorm into the
convolution before it and drops Dropout). What survives is the geometry: the
operator kind, its spatial hyper-parameters, and how far along the spatial path
it sits. The key is exactly that:

    conv k3x3 s2x2 d1x1 p1,1/1,1 @4

- kind: ``conv``, ``max_pool``, ``avg_pool``, ``lp_pool``, ``pad``,
  ``conv_transpose``, ``resample:<mode>``, ``pixel_shuffle``, ``pixel_unshuffle``,
  ``merge:<kind>``, ``global``, ``end_spatial``, ``opaque``, ``pointwise``;
- the spatial hyper-parameters per axis (kernel, stride, dilation, padding as
  ``before,after`` per axis; output padding for transposed convolutions; scale
  or size for resampling; the factor for pixel shuffles);
- ``@depth``: the number of geometric operators (windows, transposed
  convolutions, resampling, pixel shuffles) on the longest path from the model
  input to this node, the node itself not counted. Pointwise nodes and merges
  do not count, so folding a BatchNorm or adding a residual does not move it.

Two layers with the same key are interchangeable for every rule that reports on
layers, which is why the differential tests compare findings as multisets of
``(code, key)``. Core module: it reads the IR only.
"""

from __future__ import annotations

from .ir import (
    Constant,
    SideInput,
    EndSpatial,
    Global,
    Graph,
    Merge,
    Mix,
    Opaque,
    Op,
    PixelShuffle,
    PixelUnshuffle,
    Resample,
    Shift,
    TransposedConv,
    Window,
)

_GEOMETRIC = (Window, TransposedConv, Resample, PixelShuffle, PixelUnshuffle, Mix, Shift)


def _axes(values: tuple) -> str:
    return "x".join(str(v) for v in values)


def op_signature(op: Op) -> str:
    """The operator kind and its spatial hyper-parameters, without the depth."""
    if isinstance(op, Window):
        pads = "/".join(f"{a},{b}" for a, b in op.padding)
        text = f"{op.kind} k{_axes(op.kernel)} s{_axes(op.stride)} d{_axes(op.dilation)} p{pads}"
        return text + " ceil" if op.ceil_mode else text
    if isinstance(op, TransposedConv):
        return (f"conv_transpose k{_axes(op.kernel)} s{_axes(op.stride)} d{_axes(op.dilation)} "
                f"p{_axes(op.padding)} op{_axes(op.output_padding)}")
    if isinstance(op, Resample):
        if op.scale is not None:
            how = f"scale{_axes(op.scale)}"
        elif op.size is not None:
            how = f"size{_axes(op.size)}"
        else:
            how = "like"
        return f"resample:{op.mode} {how}" + (" align_corners" if op.align_corners else "")
    if isinstance(op, PixelShuffle):
        return f"pixel_shuffle f{op.factor}"
    if isinstance(op, PixelUnshuffle):
        return f"pixel_unshuffle f{op.factor}"
    if isinstance(op, Merge):
        return f"merge:{op.kind}"
    if isinstance(op, Mix):
        windows = _axes(tuple("all" if w is None else w for w in op.window))
        return f"mix w{windows} o{_axes(op.offset)}"
    if isinstance(op, Shift):
        return f"shift {_axes(op.amount)}"
    if isinstance(op, Global):
        return "global"
    if isinstance(op, EndSpatial):
        return "end_spatial"
    if isinstance(op, Constant):
        return "constant"
    if isinstance(op, SideInput):
        return "side_input"
    if isinstance(op, Opaque):
        return "opaque"
    return "pointwise"


def layer_keys(graph: Graph) -> tuple[str, ...]:
    """Every node's key, by node id: ``op_signature`` and ``@depth`` (see the module
    docstring). ``@depth`` counts the geometric operators on the longest path from the
    input, the node itself not counted."""
    depth = [0] * len(graph.nodes)
    for node in graph.nodes:  # topological order
        for i in node.inputs:
            step = 1 if isinstance(graph.nodes[i].op, _GEOMETRIC) else 0
            depth[node.id] = max(depth[node.id], depth[i] + step)
    return tuple(f"{op_signature(n.op)} @{depth[n.id]}" for n in graph.nodes)
