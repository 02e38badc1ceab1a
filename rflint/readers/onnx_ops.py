"""The ONNX op table: what each operator does to the spatial frame.

Each handler gets the mapping context (``rflint.readers.onnx._Mapper``), the
node, and the feature-map inputs it reads, and returns the value of the
node's first output (or of each output). A *feature map* (:class:`Feat`) is a
tensor computed from a model input: it is an IR node, and it knows where its
spatial axes are (``axes``: tensor positions, in the model's axis order), so
that a ``Transpose`` to channels-last and back (ConvNeXt) or a ``Reshape``
that keeps H and W (ShuffleNet's channel shuffle) keeps the frame. A reshape
that merges the spatial axes gives a *flat* map, which a later reshape can
restore (GroupNorm exports as reshape, InstanceNormalization, reshape); any
other use of a flat map ends the frame.

Values that are not feature maps are constants (:class:`Const`: initializers,
``Constant`` nodes, folded shape arithmetic) or :class:`Other` (a shape that is
not static, a second input that is not an image). An elementwise op with one
feature map and constants is pointwise; with two or more feature maps it is a
merge. An op not in the table is reported (RL002) and becomes ``Opaque``
unless the frame has already ended, never a silent identity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir import (
    Global,
    Pads,
    PixelShuffle,
    PixelUnshuffle,
    Resample,
    TransposedConv,
    Window,
)
from .onnx_graph import BadModel, OnnxNode

if TYPE_CHECKING:
    from .onnx import _Mapper

MAX_EXTENT = 1 << 24
"""Largest kernel, stride, dilation or padding accepted: anything larger is a corrupt file."""


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Feat:
    """A feature map: IR node ``node``; ``axes`` are the tensor positions of the spatial
    axes (empty once the frame has ended); ``flat`` is (shape, axes) before a reshape
    merged the spatial axes, for a later reshape to restore."""

    node: int
    axes: tuple[int, ...]
    flat: tuple[tuple[int | None, ...], tuple[int, ...]] | None = None
    split: tuple[int, tuple[int, ...], tuple[int, ...]] | None = None
    """(factor, coarse positions, fine positions): each spatial axis reshaped into
    (n/factor, factor), the first half of PixelUnshuffle as exporters write it."""
    ended: bool = False
    """Computed only from globally pooled or flattened values (an SE gate): its axes are
    kept so that the 1x1 convs of a gate map, but it has no local frame."""

    @property
    def local(self) -> bool:
        return not self.ended and (bool(self.axes) or self.flat is not None or self.split is not None)


@dataclass(frozen=True)
class Const:
    """A constant: ``value`` when small and stored in the file, else only its shape."""

    value: np.ndarray | None
    dims: tuple[int, ...] | None


@dataclass(frozen=True)
class Other:
    """Neither a feature map nor known: a symbolic shape, an input that is not an image."""

    reason: str


Value = Feat | Const | Other
Result = Value | Sequence[Value]
Handler = Callable[["_Mapper", OnnxNode, list[Feat]], Result]


def constant_attr_value(attrs: dict[str, Any]) -> np.ndarray:
    """The value of a ``Constant`` node, from whichever attribute holds it."""
    from onnx import numpy_helper

    if "value" in attrs:
        t = attrs["value"]
        count = math.prod(int(d) for d in t.dims)
        if count > (1 << 16):
            raise BadModel("a Constant larger than the reader evaluates")
        return numpy_helper.to_array(t)
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                       ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dtype=dtype)
    raise BadModel("a Constant node without a value attribute (value, value_float(s), value_int(s))")


# --------------------------------------------------------------------------- helpers


def _mode(cx: _Mapper, n: OnnxNode, name: str, default: str) -> str:
    v = n.attrs.get(name, default)
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _int(cx: _Mapper, n: OnnxNode, name: str, default: int, minimum: int = 0) -> int:
    v = n.attrs.get(name, default)
    if not isinstance(v, int) or isinstance(v, bool):
        raise cx.bad(n, f"attribute {name!r} must be an integer, got {_show(v)}")
    if v < minimum or v > MAX_EXTENT:
        raise cx.bad(n, f"attribute {name!r} = {v} is out of range ({minimum}..{MAX_EXTENT})")
    return v


def _ints(cx: _Mapper, n: OnnxNode, name: str, count: int, default: int | None, minimum: int,
          maximum: int = MAX_EXTENT) -> tuple[int, ...]:
    """An INTS attribute with ``count`` entries in [minimum, maximum]; ``default`` fills a
    missing one (None: required)."""
    v = n.attrs.get(name)
    if v is None:
        if default is None:
            raise cx.bad(n, f"missing required attribute {name!r}")
        return (default,) * count
    values = list(v) if isinstance(v, (list, tuple)) else [v]
    if len(values) != count or not all(isinstance(x, int) for x in values):
        raise cx.bad(n, f"attribute {name!r} must have {count} integers, got {_show(v)}")
    for x in values:
        if x < minimum or x > maximum:
            raise cx.bad(n, f"attribute {name!r} = {_show(values)} is out of range ({minimum}..{maximum})")
    return tuple(int(x) for x in values)


def _show(v: Any) -> str:
    text = repr(list(v) if isinstance(v, tuple) else v)
    return text if len(text) <= 60 else text[:57] + "..."


def _standard(cx: _Mapper, n: OnnxNode, x: Feat, nd: int) -> str | None:
    """Why a layer that reads N, C, spatial... cannot map ``x``; None when it can."""
    if nd != cx.ndim:
        return f"a {nd}-D {n.op_type} in a model with {cx.ndim} spatial axes"
    if x.flat is not None:
        return f"{n.op_type} reads a tensor whose spatial axes were merged by a reshape"
    if x.axes and x.axes != tuple(range(2, 2 + nd)):
        return f"{n.op_type} reads a tensor whose spatial axes are at positions {list(x.axes)}, not {list(range(2, 2 + nd))}"
    return None


def _in_sizes(cx: _Mapper, n: OnnxNode, x: Feat) -> list[int | None]:
    shape = cx.shape(n.inputs[0])
    if shape is None or not x.axes:
        return [None] * cx.ndim
    return [shape[a] if a < len(shape) else None for a in x.axes]


def _pads(cx: _Mapper, n: OnnxNode, x: Feat, k: tuple[int, ...], s: tuple[int, ...], d: tuple[int, ...]) -> Pads | str:
    """Explicit (before, after) per axis from ``pads`` or ``auto_pad``; a reason string
    when ``SAME`` with a stride needs an input size that is not known."""
    nd = len(k)
    auto = _mode(cx, n, "auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        p = _ints(cx, n, "pads", 2 * nd, 0, 0)
        return tuple((p[a], p[a + nd]) for a in range(nd))
    if auto == "VALID":
        return ((0, 0),) * nd
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise cx.bad(n, f"attribute 'auto_pad' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {auto!r}")
    sizes = _in_sizes(cx, n, x)
    out = []
    for a in range(nd):
        span = d[a] * (k[a] - 1) + 1
        if s[a] == 1:
            total = span - 1
        elif sizes[a] is None:
            return f"auto_pad={auto} with stride {s[a]} depends on the input size, which the file does not fix"
        else:
            size = sizes[a]
            total = max(0, (-(-size // s[a]) - 1) * s[a] + span - size)
        small, big = total // 2, total - total // 2
        out.append((small, big) if auto == "SAME_UPPER" else (big, small))
    return tuple(out)


def _kernel(cx: _Mapper, n: OnnxNode, weight: tuple[int | None, ...] | None) -> tuple[int, ...]:
    if "kernel_shape" in n.attrs:
        count = len(n.attrs["kernel_shape"]) if isinstance(n.attrs["kernel_shape"], (list, tuple)) else 1
        if count < 1:
            raise cx.bad(n, "attribute 'kernel_shape' is empty")
        return _ints(cx, n, "kernel_shape", count, None, 1)
    if n.op_type not in ("Conv", "ConvTranspose"):
        raise cx.bad(n, "missing required attribute 'kernel_shape'")
    if weight is not None and len(weight) >= 3 and all(isinstance(v, int) for v in weight[2:]):
        for v in weight[2:]:
            if not 1 <= v <= MAX_EXTENT:  # type: ignore[operator]
                raise cx.bad(n, f"weight {n.inputs[1]!r} has kernel dims {list(weight[2:])} out of range")
        return tuple(int(v) for v in weight[2:])  # type: ignore[arg-type]
    raise cx.bad(n, "missing attribute 'kernel_shape', and the weight's shape is not known")


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class _ConvParts:
    """What Conv and ConvTranspose read alike: data, weight shape and the geometry."""

    x: Feat
    weight: tuple[int | None, ...] | None
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    group: int


def _conv_parts(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> _ConvParts | Feat:
    """The parts, or the Opaque node when the data is not a feature map in N, C, spatial layout."""
    x = cx.value(n.inputs[0])
    if not isinstance(x, Feat):
        return cx.opaque(n, feats, f"a {n.op_type} whose weights, not its data, come from the model input")
    w = cx.shape(n.inputs[1]) if len(n.inputs) > 1 and n.inputs[1] else None
    k = _kernel(cx, n, w)
    parts = _ConvParts(x, w, k, _ints(cx, n, "strides", len(k), 1, 1), _ints(cx, n, "dilations", len(k), 1, 1),
                       _int(cx, n, "group", 1, 1))
    why = _standard(cx, n, x, len(k))
    return cx.opaque(n, feats, why) if why else parts


def _channels(n: OnnxNode, parts: _ConvParts, c_in: int, c_out: int) -> dict[str, Any]:
    """groups, bias and the channels from the weight's dims ``c_in`` and ``c_out`` (per group)."""
    w, g = parts.weight, parts.group
    attrs: dict[str, Any] = {"groups": g, "bias": len(n.inputs) > 2 and bool(n.inputs[2])}
    if w and len(w) > max(c_in, c_out):
        if isinstance(w[c_out], int):
            attrs["out_channels"] = w[c_out] * (g if c_out == 1 else 1)
        if isinstance(w[c_in], int):
            attrs["in_channels"] = w[c_in] * (g if c_in == 1 else 1)
    return attrs


def conv(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    parts = _conv_parts(cx, n, feats)
    if isinstance(parts, Feat):
        return parts
    x = parts.x
    pads = _pads(cx, n, x, parts.kernel, parts.stride, parts.dilation)
    if isinstance(pads, str):
        return cx.opaque(n, feats, pads)
    attrs = {**_channels(n, parts, 1, 0), "padding_mode": "zeros"}  # weight: (C_out, C_in / group, k...)
    op = Window("conv", parts.kernel, parts.stride, parts.dilation, pads)
    return cx.feat(n, op, [x] + [f for f in feats if f is not x], x.axes, attrs)


def conv_transpose(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    parts = _conv_parts(cx, n, feats)
    if isinstance(parts, Feat):
        return parts
    x, k, s, d = parts.x, parts.kernel, parts.stride, parts.dilation
    nd = len(k)
    op = _ints(cx, n, "output_padding", nd, 0, 0)
    auto = _mode(cx, n, "auto_pad", "NOTSET")
    spans = [d[a] * (k[a] - 1) + 1 for a in range(nd)]
    if "output_shape" in n.attrs:
        target = _ints(cx, n, "output_shape", nd, None, 1)
        sizes = _in_sizes(cx, n, x)
        if any(v is None for v in sizes):
            return cx.opaque(n, feats, "ConvTranspose output_shape with an input size the file does not fix")
        totals = [s[a] * (sizes[a] - 1) + op[a] + spans[a] - target[a] for a in range(nd)]  # type: ignore[operator]
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        totals = [op[a] + spans[a] - s[a] for a in range(nd)]  # output = input * stride
    elif auto in ("NOTSET", "", "VALID"):
        p = _ints(cx, n, "pads", 2 * nd, 0, 0) if auto != "VALID" else (0,) * (2 * nd)
        pairs = [(p[a], p[a + nd]) for a in range(nd)]
        totals = []
    else:
        raise cx.bad(n, f"attribute 'auto_pad' must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got {auto!r}")
    if totals:
        upper = auto == "SAME_UPPER"
        pairs = [(t // 2, t - t // 2) if upper else (t - t // 2, t // 2) for t in totals]
    # The IR pads both sides by p; asymmetric pads move the far side into output_padding.
    ir = TransposedConv(k, s, d, tuple(b for b, _ in pairs), tuple(op[a] + pairs[a][0] - pairs[a][1] for a in range(nd)))
    attrs = _channels(n, parts, 0, 1)  # weight: (C_in, C_out / group, k...)
    return cx.feat(n, ir, [x] + [f for f in feats if f is not x], x.axes, attrs)


_POOL_KIND = {"MaxPool": "max_pool", "AveragePool": "avg_pool", "LpPool": "lp_pool"}


def pool(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = feats[0]
    k = _kernel(cx, n, None)
    nd = len(k)
    s = _ints(cx, n, "strides", nd, 1, 1)
    d = _ints(cx, n, "dilations", nd, 1, 1)
    ceil = bool(_int(cx, n, "ceil_mode", 0, 0))
    why = _standard(cx, n, x, nd)
    if why:
        return cx.opaque(n, feats, why)
    pads = _pads(cx, n, x, k, s, d)
    if isinstance(pads, str):
        return cx.opaque(n, feats, pads)
    attrs: dict[str, Any] = {}
    if n.op_type == "AveragePool":
        attrs["count_include_pad"] = bool(_int(cx, n, "count_include_pad", 0, 0))  # ONNX's default: 0
    if n.op_type == "LpPool":
        attrs["p"] = _int(cx, n, "p", 2, 1)
    y = cx.feat(n, Window(_POOL_KIND[n.op_type], k, s, d, pads, ceil), [x], x.axes, attrs)  # type: ignore[arg-type]
    return [y, Other("MaxPool indices are positions, not a feature map")]


def global_pool(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = feats[0]
    return cx.feat(n, Global((1,) * cx.ndim), [x], x.axes if not x.flat else ())


def _axes_of(cx: _Mapper, n: OnnxNode, position: int) -> list[int] | None:
    """Reduction axes from the attribute (older opsets) or the input (newer)."""
    if "axes" in n.attrs:
        return [int(v) for v in n.attrs["axes"]]
    if len(n.inputs) > position and n.inputs[position]:
        value = cx.array(n, position)
        if value is None:
            raise cx.unknown_value(n, position)
        return [int(v) for v in value.reshape(-1)]
    return None


def reduce(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = feats[0]
    rank = cx.rank(n.inputs[0])
    axes = _axes_of(cx, n, 1)
    if axes is None and _int(cx, n, "noop_with_empty_axes", 0, 0):
        return x
    if rank is None:
        return cx.opaque(n, feats, f"{n.op_type} on a tensor of unknown rank")
    reduced = set(range(rank)) if not axes else {a % rank for a in axes}
    keep = bool(_int(cx, n, "keepdims", 1, 0))
    if x.flat is not None:
        return cx.end(n, feats)
    spatial = set(x.axes)
    if spatial and spatial <= reduced:
        return cx.feat(n, Global((1,) * cx.ndim), [x], x.axes if keep else ())
    if spatial & reduced:
        return cx.opaque(n, feats, f"{n.op_type} reduces some spatial axes but not all")
    return cx.pointwise(n, x, x.axes if keep else tuple(a - sum(r < a for r in reduced) for a in x.axes))


# --------------------------------------------------------------------------- resampling


def _fraction(v: float) -> Fraction:
    return Fraction(float(v)).limit_denominator(1000)


def _resample_mode(n: OnnxNode, mode: str, ctm: str, nearest: str, ratios: list[Fraction] | None) -> tuple[str, bool] | str:
    """(IR mode, align_corners) for ONNX's (mode, coordinate_transformation_mode,
    nearest_mode), or the reason the combination has no IR equivalent.

    PyTorch ``nearest`` is asymmetric + floor; ``nearest-exact`` is half_pixel +
    round_prefer_ceil (round_prefer_floor agrees whenever no source coordinate is a
    tie, i.e. when the numerator of the ratio in/out is odd); ``bilinear`` is
    half_pixel (or pytorch_half_pixel) or align_corners."""
    if mode == "nearest":
        if ctm == "asymmetric" and nearest == "floor":
            return "nearest", False
        if ctm in ("half_pixel", "pytorch_half_pixel"):
            if nearest == "round_prefer_ceil":
                return "nearest-exact", False
            if nearest == "round_prefer_floor" and ratios is not None and all(r.numerator % 2 for r in ratios):
                return "nearest-exact", False
        return (f"nearest resize with coordinate_transformation_mode={ctm!r} and nearest_mode={nearest!r} "
                "matches no PyTorch mode rflint models (nearest = asymmetric+floor, nearest-exact = "
                "half_pixel+round_prefer_ceil)")
    if mode == "linear":
        if ctm in ("half_pixel", "pytorch_half_pixel"):
            return "linear", False
        if ctm == "align_corners":
            return "linear", True
        return f"linear resize with coordinate_transformation_mode={ctm!r} matches no PyTorch mode rflint models"
    return f"{mode} interpolation is not modelled"


def resize(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = cx.value(n.inputs[0])
    if not isinstance(x, Feat):
        return cx.opaque(n, feats, f"{n.op_type} of a constant to a size computed from the model input")
    if not x.axes and x.flat is None:
        return cx.pointwise(n, x, x.axes)
    why = _standard(cx, n, x, len(x.axes)) if x.axes else "resizes a tensor whose spatial axes were merged"
    if why:
        return cx.opaque(n, feats, why)
    shape = cx.shape(n.inputs[0])
    rank = len(shape) if shape is not None else 2 + cx.ndim
    upsample = n.op_type == "Upsample"
    mode = _mode(cx, n, "mode", "nearest").lower()
    if upsample or cx.opset < 11:
        ctm, nearest = "asymmetric", "floor"  # Upsample and Resize-10 sample like PyTorch's nearest
        mode = "linear" if mode == "bilinear" else mode
    else:
        ctm = _mode(cx, n, "coordinate_transformation_mode", "half_pixel")
        nearest = _mode(cx, n, "nearest_mode", "round_prefer_floor")
    scales, sizes = _scales_sizes(cx, n, upsample)
    axes = [int(a) % rank for a in n.attrs.get("axes", range(rank))]
    full_scales = {a: v for a, v in zip(axes, scales)} if scales is not None else None
    full_sizes = {a: v for a, v in zip(axes, sizes)} if sizes is not None else None
    for a in range(rank):
        if a in x.axes:
            continue
        if full_scales is not None and float(full_scales.get(a, 1.0)) != 1.0:
            return cx.opaque(n, feats, f"{n.op_type} scales axis {a}, which is not spatial")
        if full_sizes is not None and shape is not None and shape[a] is not None and full_sizes.get(a, shape[a]) != shape[a]:
            return cx.opaque(n, feats, f"{n.op_type} resizes axis {a}, which is not spatial")
    if _int(cx, n, "antialias", 0, 0) and full_scales is not None and any(full_scales.get(a, 1) < 1 for a in x.axes):
        return cx.opaque(n, feats, "antialiased downsampling is not modelled")
    policy = _mode(cx, n, "keep_aspect_ratio_policy", "stretch")
    if full_sizes is not None and policy != "stretch":
        return cx.opaque(n, feats, f"keep_aspect_ratio_policy={policy!r} is not modelled")
    in_sizes = _in_sizes(cx, n, x)
    if full_scales is not None:
        scale = tuple(_fraction(full_scales.get(a, 1.0)) for a in x.axes)
        if any(v <= 0 for v in scale):
            raise cx.bad(n, f"scales must be positive, got {[float(v) for v in scale]}")
        ratios: list[Fraction] | None = [1 / v for v in scale]
    else:
        size = tuple(int(full_sizes[a]) if a in full_sizes else None for a in x.axes)  # type: ignore[index]
        if any(v is None or v < 1 or v > MAX_EXTENT for v in size):
            raise cx.bad(n, f"sizes must be positive, got {list(size)}")
        ratios = ([Fraction(i, o) for i, o in zip(in_sizes, size)]  # type: ignore[arg-type]
                  if all(v is not None for v in in_sizes) else None)
    how = _resample_mode(n, mode, ctm, nearest, ratios)
    if isinstance(how, str):
        return cx.opaque(n, feats, how)
    kind, align = how
    op = Resample(kind, scale=scale, align_corners=align) if full_scales is not None else \
        Resample(kind, size=size, align_corners=align)  # type: ignore[arg-type]
    return cx.feat(n, op, [x], x.axes, {"mode": mode, "coordinate_transformation_mode": ctm})


def _scales_sizes(cx: _Mapper, n: OnnxNode, upsample: bool) -> tuple[list[float] | None, list[int] | None]:
    if upsample and "scales" in n.attrs:
        return [float(v) for v in n.attrs["scales"]], None
    positions = (1, None) if (upsample or cx.opset < 11) else (2, 3)
    values: list[np.ndarray | None] = []
    for pos in positions:
        if pos is None or len(n.inputs) <= pos or not n.inputs[pos]:
            values.append(None)
            continue
        v = cx.array(n, pos)
        if v is None:
            raise cx.unknown_value(n, pos)
        values.append(v if v.size else None)
    scales, sizes = values
    if scales is None and sizes is None:
        raise cx.bad(n, "needs scales or sizes (neither is given)")
    if sizes is not None:
        return None, [int(v) for v in sizes.reshape(-1)]
    return [float(v) for v in scales.reshape(-1)], None  # type: ignore[union-attr]


def depth_to_space(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = feats[0]
    b = _int(cx, n, "blocksize", 0, 1) if "blocksize" in n.attrs else None
    if b is None:
        raise cx.bad(n, "missing required attribute 'blocksize'")
    why = _standard(cx, n, x, 2)
    if why:
        return cx.opaque(n, feats, why)
    if n.op_type == "DepthToSpace":  # DCR and CRD order channels differently, pixels alike
        return cx.feat(n, PixelShuffle(b, 2), [x], x.axes, {"mode": _mode(cx, n, "mode", "DCR")})
    return cx.feat(n, PixelUnshuffle(b, 2), [x], x.axes)


# --------------------------------------------------------------------------- padding and slicing


_PAD_MODES = {"constant": "zeros", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def pad(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = cx.value(n.inputs[0])
    if not isinstance(x, Feat):
        return cx.opaque(n, feats, "a Pad whose amounts come from the model input")
    mode = _mode(cx, n, "mode", "constant")
    if mode not in _PAD_MODES:
        raise cx.bad(n, f"attribute 'mode' must be constant, reflect, edge or wrap, got {mode!r}")
    if cx.opset < 11:
        count = len(n.attrs.get("pads", ()))
        amounts = list(_ints(cx, n, "pads", count, None, -MAX_EXTENT))
    else:
        value = cx.array(n, 1) if len(n.inputs) > 1 and n.inputs[1] else None
        if value is None:
            raise cx.unknown_value(n, 1) if len(n.inputs) > 1 and n.inputs[1] else cx.bad(n, "missing input 'pads'")
        amounts = [int(v) for v in value.reshape(-1)]
    rank = cx.rank(n.inputs[0]) or len(amounts) // 2
    axes = list(range(rank))
    if cx.opset >= 18 and len(n.inputs) > 3 and n.inputs[3]:
        value = cx.array(n, 3)
        if value is None:
            raise cx.unknown_value(n, 3)
        axes = [int(a) % rank for a in value.reshape(-1)]
    if len(amounts) != 2 * len(axes):
        raise cx.bad(n, f"pads has {len(amounts)} values for {len(axes)} axes (needs two per axis)")
    if any(abs(v) > MAX_EXTENT for v in amounts):
        raise cx.bad(n, f"pads {amounts} out of range")
    per_axis = {a: (amounts[i], amounts[i + len(axes)]) for i, a in enumerate(axes)}
    if not x.axes or x.flat is not None:
        return cx.pointwise(n, x, x.axes) if x.flat is None else cx.end(n, feats)
    pairs = tuple(per_axis.get(a, (0, 0)) for a in x.axes)
    if all(p == (0, 0) for p in pairs):
        return cx.pointwise(n, x, x.axes)
    ones = (1,) * len(pairs)
    return cx.feat(n, Window("pad", ones, ones, ones, pairs), [x], x.axes, {"padding_mode": _PAD_MODES[mode]})


_END = (1 << 31) - 1  # exporters write INT_MAX or INT64_MAX for "to the end"


def slice_(cx: _Mapper, n: OnnxNode, feats: list[Feat]) -> Result:
    x = cx.value(n.inputs[0])
    if not isinstance(x, Feat):
        return cx.opaque(n, feats, "a Slice whose bounds come from the model input")
    if cx.opset < 10:
        starts, ends = list(n.attrs.get("starts", ())), list(n.attrs.get("ends", ()))
        axes = list(n.attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        arrays = []
        for pos in (1, 2, 3, 4):
            if len(n.inputs) > pos and n.inputs[pos]:
                v = cx.array(n, pos)
                if v is None:
                    raise cx.unknown_value(n, pos)
                arrays.append([int(a) for a in v.reshape(-1)])
            else:
                arrays.append(None)
        if arrays[0] is None or arrays[1] is None:
            raise cx.bad(n, "missing input 'starts' or 'ends'")
        starts, ends = arrays[0], arrays[1]
        axes = arrays[2] if arrays[2] is not None else list(range(len(starts)))
        steps = arrays[3] if arrays[3] is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise cx.bad(n, "starts, ends, axes and steps differ in length")
    if x.flat is not None:
        return cx.end(n, feats)
    rank = cx.rank(n.inputs[0]) or (max(x.axes) + 1 if x.axes else 0)
    sliced = {a % rank if rank else a: (st, en, sp) for st, en, a, sp in zip(starts, ends, axes, steps)}
    if not any(a in sliced for a in x.axes):
        return cx.pointwise(n, x, x.axes)
    sizes = _in_sizes(cx, n, x)
    pairs, strides = [], []
    for i, a in enumerate(x.axes):
        start, end, step = sliced.get(a, (0, _END, 1))
        got = _crop(start, end, step, sizes[i])
        if isinstance(got, str):
            return cx.opaque(n, feats, f"Slice on spatial axis {a}: {got}")
        pairs.append(got)
        strides.append(step)
    if any(abs(v) > MAX_EXTENT for p in pairs for v in p) or any(s > MAX_EXTENT for s in strides):
        raise cx.bad(n, "slice bounds out of range")
    ones = (1,) * len(pairs)
    return cx.feat(n, Window("pad", ones, tuple(strides), ones, tuple(pairs)), [x], x.axes, {"padding_mode": "zeros"})


def _crop(start: int, end: int, step: int, size: int | None) -> tuple[int, int] | str:
    """(before, after) padding (negative: cropped) of ``start:end:step`` on an axis of ``size``:
    a window with k=1 and stride ``step`` whose first tap is ``start``."""
    if step <= 0:
        return "a reversed or zero-step slice flips the axis" if step < 0 else "step 0"
    if size is not None:
        s = max(0, min(size, start + size if start < 0 else start))
        e = max(0, min(size, end + size if end < 0 else end))
        if e <= s:
            return "the slice is empty"
        return (-s, e - size)
    if start < 0:
        return "a start counted from the end needs the input size, which the file does not fix"
    if end >= _END:
        return (-start, 0)
    if end < 0:
        return (-start, end)
    return "an end counted from the start needs the input size, which the file does not fix"
