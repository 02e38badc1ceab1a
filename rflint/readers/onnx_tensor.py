"""The ONNX op table, second half: layout, merges, pointwise ops, and the table itself.

Layout ops move the spatial axes around without reading neighbours:
``Transpose`` permutes them, ``Reshape``/``Squeeze``/``Unsqueeze`` keep them when
the reshape leaves each spatial axis whole (found by matching the products of
the dimensions on either side of it, which a reshape preserves), and merge them
(a *flat* map) otherwise. Merges, pointwise ops and matrix products follow;
``HANDLERS`` at the end maps each op type to its handler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..ir import Global, Merge, PixelUnshuffle, Pointwise
from .onnx_graph import OnnxNode
from .onnx_ops import (
    Const,
    Feat,
    Handler,
    Result,
    _int,
    conv,
    conv_transpose,
    depth_to_space,
    global_pool,
    pad,
    pool,
    reduce,
    resize,
    slice_,
)

if TYPE_CHECKING:
    from .onnx import _Mapper

Shape = Sequence["int | None"]


def _prod(dims: Shape) -> int | None:
    if any(d is None for d in dims):
        return None
    return math.prod(dims)  # type: ignore[arg-type]


def map_axes(src: Shape, axes: Sequence[int], dst: Shape) -> tuple[int, ...] | None:
    """Where the spatial ``axes`` of a tensor of shape ``src`` are after a reshape to
    ``dst``, or None when the reshape merges or splits one of them. An axis survives
    when ``dst`` has an axis of the same size with the same product of the dimensions
    after it (or, when that is symbolic, before it)."""
    out: list[int] = []
    for a in axes:
        if a >= len(src) or src[a] is None:
            return None
        after, before = _prod(src[a + 1:]), _prod(src[:a])
        found = [k for k in range(len(dst)) if dst[k] == src[a]
                 and ((after is not None and _prod(dst[k + 1:]) == after)
                      or (after is None and before is not None and _prod(dst[:k]) == before))]
        if not found:
            return None
        out.append(found[-1])
    if len(set(out)) != len(out) or list(out) != sorted(out):
        return None
    return tuple(out)


# --------------------------------------------------------------------------- layout


def space_split(src: Shape, axes: Sequence[int], dst: Shape) -> tuple[int, tuple[int, ...], tuple[int, ...]] | None:
    """(f, coarse, fine) when ``dst`` is ``src`` with each spatial axis of size n
    replaced by (n/f, f), one f for all: how exporters begin a PixelUnshuffle."""
    if len(dst) != len(src) + len(axes):
        return None
    k, factor, coarse, fine = 0, None, [], []
    for i, d in enumerate(src):
        if i in axes:
            c, f = dst[k], dst[k + 1]
            if d is None or c is None or f is None or c * f != d or f < 2 or factor not in (None, f):
                return None
            factor = f
            coarse.append(k)
            fine.append(k + 1)
            k += 2
        else:
            if dst[k] != d:
                return None
            k += 1
    return (factor, tuple(coarse), tuple(fine)) if factor else None


def _unshuffle(cx: _Mapper, n: OnnxNode, x: Feat, src: Shape | None, dst: Shape | None) -> Result:
    """The reshape that ends a PixelUnshuffle: the fine factors merged into the channels
    (in any order: DCR and CRD differ only in channel order), the coarse axes last."""
    factor, coarse, fine = x.split  # type: ignore[misc]
    nd = len(coarse)
    ok = (src is not None and dst is not None and len(dst) == len(src) - nd and coarse == tuple(range(2 + nd, 2 + 2 * nd))
          and 0 not in fine and dst[0] == src[0] and dst[1] == _prod(src[1:2 + nd]) and tuple(dst[2:]) == tuple(src[2 + nd:]))
    if not ok or nd != cx.ndim:
        return cx.opaque(n, [x], "a reshape of a tensor whose spatial axes were split, not a PixelUnshuffle")
    return cx.feat(n, PixelUnshuffle(factor, nd), [x], tuple(range(2, 2 + nd)))


def reshape(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    """Reshape, Flatten, Squeeze, Unsqueeze: keep, merge (flat) or restore the spatial axes."""
    x = cx.value(n.inputs[0])
    if not isinstance(x, Feat):
        return cx.opaque(n, feats, f"a {n.op_type} whose target shape comes from the model input")
    if not x.local:
        return cx.pointwise(n, x, ())
    dst = cx.shape(n.outputs[0])
    if x.split is not None:
        return _unshuffle(cx, n, x, cx.shape(n.inputs[0]), dst)
    src, axes = x.flat if x.flat is not None else (cx.shape(n.inputs[0]), x.axes)
    if src is None or dst is None:
        return cx.opaque(n, feats, f"{n.op_type} of a tensor whose shape shape inference could not give")
    mapped = map_axes(src, axes, dst) if n.op_type != "Flatten" else None
    if mapped is not None:
        return cx.pointwise(n, x, mapped)
    split = space_split(src, axes, dst) if x.flat is None and n.op_type == "Reshape" else None
    if split is not None:
        return cx.feat(n, Pointwise(), [x], (), split=split)
    return cx.pointwise(n, x, (), flat=(tuple(src), tuple(axes)))


def transpose(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = feats[0]
    if x.flat is not None:
        return cx.end(n, feats)
    rank = cx.rank(n.inputs[0])
    perm = n.attrs.get("perm")
    if x.split is not None and perm is not None:
        p = [int(v) for v in perm]
        f, coarse, fine = x.split
        if sorted(p) == list(range(len(p))) and max(coarse + fine) < len(p):
            return cx.feat(n, Pointwise(), [x], (), split=(f, tuple(p.index(a) for a in coarse),
                                                           tuple(p.index(a) for a in fine)))
    if perm is None:
        if rank is None:
            return cx.opaque(n, feats, "Transpose without perm of a tensor of unknown rank")
        perm = list(reversed(range(rank)))
    perm = [int(p) for p in perm]
    if sorted(perm) != list(range(len(perm))) or any(a >= len(perm) for a in x.axes):
        raise cx.bad(n, f"attribute 'perm' = {perm} is not a permutation of the input's axes")
    return cx.pointwise(n, x, tuple(perm.index(a) for a in x.axes))


def split(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = feats[0]
    rank = cx.rank(n.inputs[0])
    axis = int(n.attrs.get("axis", 0))
    if x.flat is not None:
        return cx.end(n, feats)
    if rank is not None and axis % rank in x.axes:
        return cx.opaque(n, feats, "Split along a spatial axis")
    y = cx.pointwise(n, x, x.axes)
    return [y] * len(n.outputs)


def expand(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    """Expand and Tile: pointwise when they leave the spatial sizes as they are."""
    x = cx.value(n.inputs[0])
    if not isinstance(x, Feat):
        return cx.opaque(n, feats, f"{n.op_type} to a shape computed from the model input")
    return _same_size(cx, n, x, feats)


def _same_size(cx: _Mapper, n: OnnxNode, x: Feat, feats: list[Feat], attrs: dict | None = None) -> Feat:
    if x.flat is not None or not x.axes:
        return cx.pointwise(n, x, x.axes, flat=x.flat, attrs=attrs)
    before, after = cx.shape(cx.name_of(n, x)), cx.shape(n.outputs[0])
    if before is None or after is None:
        return cx.pointwise(n, x, x.axes, attrs=attrs)
    shift = len(after) - len(before)
    axes = tuple(a + shift for a in x.axes)
    if any(before[a] is not None and after[b] is not None and before[a] != after[b] for a, b in zip(x.axes, axes)):
        old = [before[a] for a in x.axes]
        new = [after[b] for b in axes]
        return cx.opaque(n, feats, f"{n.op_type} changes the spatial size from {old} to {new}")
    return cx.pointwise(n, x, axes, attrs=attrs)


# --------------------------------------------------------------------------- pointwise and merges


def pointwise(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    """A known elementwise or normalising op of one feature map (and constants)."""
    if len(feats) > 1:
        return merge(cx, n, feats)
    x = feats[0]
    attrs = {}
    if n.op_type in ("BatchNormalization", "InstanceNormalization") and len(n.inputs) > 1:
        scale = cx.shape(n.inputs[1])
        if scale and isinstance(scale[0], int):
            attrs["num_features"] = scale[0]
    y = _same_size(cx, n, x, feats, attrs)
    if n.op_type in ("Dropout", "BatchNormalization") and len(n.outputs) > 1:
        return [y] + [cx.other("a mask or running statistic")] * (len(n.outputs) - 1)
    return y


_MERGE_KIND = {"Add": "add", "Sub": "add", "Sum": "add", "Mean": "add", "Max": "add", "Min": "add",
               "Where": "add", "Mul": "mul", "Div": "mul", "Pow": "mul", "PRelu": "mul", "Concat": "concat"}


def merge(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    """Two or more feature maps: a merge. One feature map and constants: pointwise,
    marked ``positional`` (``coords`` for a concat) when a constant varies over space."""
    shaped = [f for f in feats if f.local]
    layouts = {(f.axes, f.flat) for f in shaped}
    if len(layouts) > 1:
        return cx.opaque(n, feats, f"{n.op_type} of feature maps whose spatial axes are laid out differently")
    x = shaped[0] if shaped else feats[0]
    axes, flat = x.axes, x.flat
    if n.op_type == "Concat":
        rank = cx.rank(n.outputs[0]) or cx.rank(n.inputs[0])
        if "axis" not in n.attrs:
            raise cx.bad(n, "missing required attribute 'axis'")
        axis = int(n.attrs["axis"])
        if flat is not None:
            return cx.end(n, feats)
        if rank is not None and axis % rank in axes:
            return cx.opaque(n, feats, "Concat along a spatial axis")
    shift = 0
    out_rank, in_rank = cx.rank(n.outputs[0]), cx.rank(cx.name_of(n, x))
    if out_rank is not None and in_rank is not None and flat is None:
        shift = out_rank - in_rank
    axes = tuple(a + shift for a in axes)
    if len(feats) >= 2:
        kind = _MERGE_KIND.get(n.op_type, "add")
        return cx.feat(n, Merge(kind), feats, axes, flat=flat)  # type: ignore[arg-type]
    attrs = {}
    if _varies_over_space(cx, n, x):
        attrs["coords" if n.op_type == "Concat" else "positional"] = True
    return cx.pointwise(n, x, axes, flat=flat, attrs=attrs)


def _varies_over_space(cx: _Mapper, n: OnnxNode, x: Feat) -> bool:
    """Whether a constant operand has more than one value along a spatial axis (a
    positional embedding, a coordinate map), judged by its shape, right-aligned."""
    shape = cx.shape(cx.name_of(n, x))
    if shape is None or not x.axes:
        return False
    for name in n.inputs:
        v = cx.value(name) if name else None
        if not isinstance(v, Const) or v.dims is None:
            continue
        offset = len(shape) - len(v.dims)
        if any(0 <= a - offset < len(v.dims) and v.dims[a - offset] > 1 for a in x.axes):
            return True
    return False


def gemm(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    return cx.end(n, feats)


def matmul(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    """A product with a constant matrix is pointwise when it contracts the channels
    (a linear layer applied at every position, ConvNeXt); contracting a spatial axis
    ends the frame. Two feature maps (attention) are not modelled."""
    a, b = cx.value(n.inputs[0]), cx.value(n.inputs[1])
    if isinstance(a, Feat) and isinstance(b, Feat):
        if not a.local and not b.local:
            return cx.pointwise(n, a, ())
        return cx.opaque(n, feats, "MatMul of two feature maps (attention) is not modelled")
    x = a if isinstance(a, Feat) else b
    if x.flat is not None or not x.axes:
        return cx.end(n, feats) if x.flat is not None else cx.pointwise(n, x, ())
    rank = cx.rank(n.inputs[0] if x is a else n.inputs[1])
    if rank is None or rank < 2:
        return cx.end(n, feats)
    contracted = rank - 1 if x is a else rank - 2
    if contracted in x.axes:
        return cx.end(n, feats)
    return _same_size(cx, n, x, feats)


def softmax(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    """Softmax over the channels is pointwise; over a spatial axis every output depends
    on the whole axis: global."""
    x = feats[0]
    rank = cx.rank(n.inputs[0])
    if x.flat is not None or rank is None:
        return cx.end(n, feats) if x.flat is not None else cx.opaque(n, feats, "Softmax of unknown rank")
    default = 1 if cx.opset < 13 else -1
    axis = int(n.attrs.get("axis", default)) % rank
    axes = set(range(axis, rank)) if cx.opset < 13 else {axis}
    if n.op_type == "LpNormalization":
        axes = {int(n.attrs.get("axis", -1)) % rank}
    if axes & set(x.axes):
        return cx.feat(n, Global(None), [x], x.axes)
    return cx.pointwise(n, x, x.axes)


def arg_reduce(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    """ArgMax/ArgMin: over the channels pointwise (a segmentation map's labels)."""
    x = feats[0]
    rank = cx.rank(n.inputs[0])
    if x.flat is not None or rank is None:
        return cx.end(n, feats) if x.flat is not None else cx.opaque(n, feats, f"{n.op_type} of unknown rank")
    axis = int(n.attrs.get("axis", 0)) % rank
    if axis in x.axes:
        return cx.feat(n, Global(None), [x], ())
    keep = bool(_int(cx, n, "keepdims", 1, 0))
    return cx.pointwise(n, x, x.axes if keep else tuple(a - (a > axis) for a in x.axes))


def subgraph(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    """If (condition not constant), Loop, Scan: not followed."""
    y = cx.opaque(n, feats, f"{n.op_type} runs a subgraph rflint does not follow")
    return [y] * len(n.outputs)


def identity(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = cx.value(n.inputs[0])
    return x if isinstance(x, Feat) else cx.opaque(n, feats, "Identity of a non-feature")


POINTWISE = (
    "Relu LeakyRelu Sigmoid HardSigmoid HardSwish Tanh Elu Selu Celu Gelu Mish Softplus Softsign Erf Exp Log "
    "Abs Neg Sqrt Reciprocal Clip Cast CastLike Dropout BatchNormalization InstanceNormalization "
    "LayerNormalization GroupNormalization LRN MeanVarianceNormalization Floor Ceil Round Sign Not IsNaN IsInf "
    "Sin Cos Tan Asin Acos Atan Sinh Cosh Shrink ThresholdedRelu QuantizeLinear DequantizeLinear Swish "
    "BitwiseNot"
).split()
"""Elementwise or normalising ops: each output position reads the same position of its
input (norms' statistics are left out, as DESIGN.md's measurement makes norms identities)."""

MERGES = ("Add Sub Mul Div Pow Sum Mean Max Min Where PRelu And Or Xor Equal Greater Less GreaterOrEqual "
          "LessOrEqual Mod BitwiseAnd BitwiseOr BitwiseXor BitShift").split()

HANDLERS: dict[str, Handler] = {
    "Conv": conv,
    "ConvTranspose": conv_transpose,
    "MaxPool": pool,
    "AveragePool": pool,
    "LpPool": pool,
    "GlobalAveragePool": global_pool,
    "GlobalMaxPool": global_pool,
    "GlobalLpPool": global_pool,
    "Resize": resize,
    "Upsample": resize,
    "DepthToSpace": depth_to_space,
    "SpaceToDepth": depth_to_space,
    "Pad": pad,
    "Slice": slice_,
    "Reshape": reshape,
    "Flatten": reshape,
    "Squeeze": reshape,
    "Unsqueeze": reshape,
    "Transpose": transpose,
    "Split": split,
    "Expand": expand,
    "Tile": expand,
    "Concat": merge,
    "Gemm": gemm,
    "MatMul": matmul,
    "Softmax": softmax,
    "LogSoftmax": softmax,
    "Hardmax": softmax,
    "LpNormalization": softmax,
    "ArgMax": arg_reduce,
    "ArgMin": arg_reduce,
    "If": subgraph,
    "Loop": subgraph,
    "Scan": subgraph,
    "Identity": identity,
    **{op: reduce for op in ("ReduceMean ReduceMax ReduceMin ReduceSum ReduceProd ReduceL1 ReduceL2 "
                             "ReduceLogSum ReduceLogSumExp ReduceSumSquare").split()},
    **{op: pointwise for op in POINTWISE},
    **{op: merge for op in MERGES},
}
"""Op type (default domain) -> handler. Anything else reading a feature map is unresolved."""
