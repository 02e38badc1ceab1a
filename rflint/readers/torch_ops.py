"""The aten operator table: how each call of a torch graph maps to the Graph IR.

Used by the converter of ``torch_graph`` for ``.pt2`` programs, ``--trace``
and its ``torch.fx`` fallback. Each handler reads the arguments it needs by
schema position or name and returns the output value(s). This module imports
no torch.

Decisions, and why:

- Shapes decide what a reshape does: the frame stays when the spatial sizes
  are kept as the trailing axes (ShuffleNet's channel shuffle), ends when the
  result has at most two dimensions (flatten), and is Opaque otherwise.
- A binary op merges when two operands depend on the input; with a constant
  it is pointwise, unless the constant varies over the spatial axes (a
  positional embedding, CoordConv's coordinates): then the node says
  ``positional`` for the CC rules.
- ``torch.export`` lowers ``Conv2d(padding_mode='reflect')`` and timm's
  ``Conv2dSame`` to a pad followed by an unpadded conv. A pad made inside the
  same module and read only by that conv is folded back into it (with its
  ``padding_mode``), as the source reader sees it; otherwise layer keys would
  differ between source and trace for every later layer.
- An operator this table does not know is reported by name (RL002) and, when
  it touches a tensor with spatial axes, becomes ``Opaque``: it might move,
  mix or crop positions, so it is never treated as identity.
- ``batch_norm`` is pointwise; its node keeps the module's class name
  (``BatchNorm2d``) and ``num_features`` for the NM rules. Elementwise
  activations leave no node, as in the source reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from typing import Any

from ..ir import (
    EndSpatial,
    Global,
    Graph,
    Merge,
    Op,
    PixelShuffle,
    PixelUnshuffle,
    Pointwise,
    Resample,
    TransposedConv,
    Window,
)
from .torch_graph import (
    Args,
    Call,
    Converter,
    Handler,
    Locate,
    Program,
    Ref,
    Shape,
    Unsupported,
    Val,
    _Pad,
    constant,
    flat_vals,
    module_path,
)

# --------------------------------------------------------------------------- helpers for handlers


def _src(a: Args, i: int = 0, name: str = "self") -> Val:
    v = a.val(i, name)
    if v is None:
        raise Unsupported(f"argument {name} is not a tensor of the graph")
    return v


def _spatial_src(cv: Converter, a: Args, what: str) -> Val | None:
    """The input of a layer that works on the spatial axes, or None when it is a constant."""
    v = _src(a, 0, "input")
    if not v.derived:
        return None
    if v.spatial is None:
        raise Unsupported(f"{what} on a tensor without spatial axes")
    return v


def _same(v: Val, a: Args) -> Val:
    """The same positions, with the call's output shape."""
    shape = a.out_shape()
    if v.spatial is not None and shape is not None and v.shape is not None and len(shape) != len(v.shape):
        shift = len(shape) - len(v.shape)
        spatial = tuple(s + shift for s in v.spatial)
        return Val(v.node, shape, spatial if all(0 <= s < len(shape) for s in spatial) else None, v.pad)
    return Val(v.node, shape if shape is not None else v.shape, v.spatial, v.pad)


def _out(cv: Converter, a: Args, v: Val, node: int) -> Val:
    return Val(node, a.out_shape(), v.spatial)


def _n(v: Val) -> int:
    return len(v.spatial or ())


# --------------------------------------------------------------------------- convolutions and pooling


def _conv(cv: Converter, a: Args, transposed: bool | None = None) -> Val | None:
    x = _spatial_src(cv, a, "convolution")
    if x is None:
        return constant(a)  # type: ignore[return-value]
    n = _n(x)
    w = _src(a, 1, "weight")
    if w.shape is None or len(w.shape) != n + 2 or not all(isinstance(k, int) for k in w.shape):
        raise Unsupported("the weight's shape is not known")
    name = a.op
    if transposed is None:  # aten.convolution / _convolution
        transposed = bool(a.get(6, "transposed", False))
        stride_i, pad_i, dil_i, opad_i, groups_i = 3, 4, 5, 7, 8
    elif transposed:  # conv_transposeNd(input, weight, bias, stride, padding, output_padding, groups, dilation)
        stride_i, pad_i, opad_i, groups_i, dil_i = 3, 4, 5, 6, 7
    else:  # convNd(input, weight, bias, stride, padding, dilation, groups)
        stride_i, pad_i, dil_i, groups_i, opad_i = 3, 4, 5, 6, -1
    kernel = tuple(int(k) for k in w.shape[2:])
    stride = a.ints(stride_i, "stride", n, 1)
    dilation = a.ints(dil_i, "dilation", n, 1)
    groups = a.get(groups_i, "groups", 1)
    groups = groups if isinstance(groups, int) else 1
    raw_pad = a.get(pad_i, "padding", 0)
    bias = a.get(2, "bias") is not None
    attrs: dict[str, Any] = {"groups": groups, "bias": bias}
    call = a.call
    if transposed:
        padding = a.ints(pad_i, "padding", n, 0)
        opad = a.ints(opad_i, "output_padding", n, 0)
        attrs.update(in_channels=w.shape[0], out_channels=int(w.shape[1]) * groups)
        nid = cv.emit(TransposedConv(kernel, stride, dilation, padding, opad), [cv.node_of(x)], call,
                      cv.type_name(call, f"F.conv_transpose{n}d"), attrs)
        return _out(cv, a, x, nid)
    if isinstance(raw_pad, str):
        pads = _conv_padding(raw_pad, kernel, stride, dilation)
    else:
        pads = tuple((p, p) for p in a.ints(pad_i, "padding", n, 0))
    attrs.update(in_channels=int(w.shape[1]) * groups, out_channels=w.shape[0], padding_mode="zeros")
    type_name = cv.type_name(call, f"F.{name}" if name.startswith("conv") else f"F.conv{n}d")
    blur = cv.blur_class(call)
    if blur is not None:
        attrs["blur"] = True
        type_name = blur[1]
    src = x
    if x.pad is not None and x.pad.node is None and all(p == (0, 0) for p in pads) and _fold(call, x.pad, blur):
        pads, src = x.pad.pads, x.pad.src
        attrs["padding_mode"] = x.pad.mode
    nid = cv.emit(Window("conv", kernel, stride, dilation, pads), [cv.node_of(src)], call, type_name, attrs)
    return _out(cv, a, x, nid)


def _fold(call: Call, pad: _Pad, blur: tuple[str, str] | None) -> bool:
    """A pad made inside the conv's own module (Conv2d with padding_mode, Conv2dSame),
    or inside the blur module that owns the conv, belongs to the conv."""
    owner = blur[0] if blur is not None else module_path(call)
    where = module_path(pad.call)
    if not owner and not where:
        return False
    return where == owner or (blur is not None and where.startswith(owner + "."))


def _conv_padding(mode: str, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """``'same'``: ``d*(k-1)`` in all, the extra pixel after, as ATen's ``_convolution_mode``."""
    if mode == "valid":
        return tuple((0, 0) for _ in kernel)
    if mode != "same":
        raise Unsupported(f"padding {mode!r}")
    if any(s != 1 for s in stride):
        raise Unsupported("padding='same' with a stride")
    return tuple(((d * (k - 1)) // 2, d * (k - 1) - (d * (k - 1)) // 2) for k, d in zip(kernel, dilation))


def _pool(kind: str) -> Callable[[Converter, Args], Any]:
    def handler(cv: Converter, a: Args) -> Any:
        x = _spatial_src(cv, a, "pooling")
        if x is None:
            return constant(a)
        n = _n(x)
        kernel = a.ints(1, "kernel_size", n)
        stride_raw = a.get(2, "stride", [])
        stride = kernel if stride_raw in (None, [], ()) else a.ints(2, "stride", n)
        padding = a.ints(3, "padding", n, 0)
        attrs: dict[str, Any] = {}
        if kind == "max_pool":
            dilation, ceil = a.ints(4, "dilation", n, 1), a.get(5, "ceil_mode", False)
        else:
            dilation, ceil = (1,) * n, a.get(4, "ceil_mode", False)
            attrs["count_include_pad"] = bool(a.get(5, "count_include_pad", True))
        op = Window(kind, kernel, stride, dilation, tuple((p, p) for p in padding), bool(ceil))  # type: ignore[arg-type]
        default = f"F.{kind.replace('_', '')}{n}d".replace("maxpool", "max_pool").replace("avgpool", "avg_pool")
        nid = cv.emit(op, [cv.node_of(x)], a.call, cv.type_name(a.call, default), attrs)
        out = _out(cv, a, x, nid)
        return [out, out] if a.op.endswith("with_indices") else out

    return handler


def _adaptive(cv: Converter, a: Args) -> Any:
    x = _spatial_src(cv, a, "adaptive pooling")
    if x is None:
        return constant(a)
    size = a.get(1, "output_size")
    out_size = tuple(v if isinstance(v, int) else 0 for v in size) if isinstance(size, (list, tuple)) else None
    nid = cv.emit(Global(out_size), [cv.node_of(x)], a.call, cv.type_name(a.call, f"F.{a.op.lstrip('_')}"))
    out = _out(cv, a, x, nid)
    return [out, out] if "max" in a.op else out


def _reduce(cv: Converter, a: Args) -> Any:
    """mean/sum/amax... over dims: a reduction over a spatial axis is global pooling."""
    if a.call.target.endswith(".other"):  # max(x, y): elementwise
        return _merge("add")(cv, a)
    x = _src(a, 0, "self")
    if not x.derived or x.spatial is None:
        return _same(x, a) if x.derived else constant(a)
    rank = len(x.shape) if x.shape is not None else None
    dim = a.get(1, "dim")
    if a.op in ("mean", "sum") and a.call.target.endswith(".default"):
        dim = None  # mean(x): every dimension
    dims = dim if isinstance(dim, (list, tuple)) else ([] if dim is None else [dim])
    keep = bool(a.get(2, "keepdim", False))
    if rank is None or not all(isinstance(d, int) for d in dims):
        raise Unsupported("reduction over dims that are not known")
    dims = [d % rank for d in dims] or list(range(rank))
    if not set(dims) & set(x.spatial):
        kept = [i for i in range(rank) if keep or i not in dims]
        return Val(x.node, a.out_shape(), tuple(kept.index(s) for s in x.spatial), x.pad)
    nid = cv.emit(Global(), [cv.node_of(x)], a.call, f"torch.{a.op}")
    out = Val(nid, a.out_shape(), x.spatial if keep else None)
    return [out, out] if a.call.target.endswith(".dim") and a.op in ("max", "min") else out  # (values, indices)


# --------------------------------------------------------------------------- resampling and shuffles


def _upsample(mode: str) -> Callable[[Converter, Args], Any]:
    def handler(cv: Converter, a: Args) -> Any:
        x = _spatial_src(cv, a, "upsampling")
        if x is None:
            return constant(a)
        n = _n(x)
        vec = a.call.target.endswith(".vec") or "scale_factors" in a.call.kwargs
        linear = mode == "linear"
        align = bool(a.get(2, "align_corners", False)) if linear else False
        size = a.get(1, "output_size")
        if vec:
            scales = a.get(3 if linear else 2, "scale_factors")
        else:
            first = 3 if linear else 2
            scales = [a.get(first + i, "scales") for i in range(n)]
            scales = None if any(s is None for s in scales) else scales
        if scales is not None and all(isinstance(s, (int, float)) and s > 0 for s in scales):
            fr = tuple(Fraction(s).limit_denominator(1000) for s in scales)
            op: Op = Resample(mode, scale=fr if len(fr) == n else (fr[0],) * n, align_corners=align)  # type: ignore[arg-type]
        elif isinstance(size, (list, tuple)) and all(isinstance(s, int) for s in size):
            op = Resample(mode, size=tuple(size) if len(size) == n else (size[0],) * n, align_corners=align)  # type: ignore[arg-type]
        else:
            raise Unsupported("neither a scale nor a size that is known")
        nid = cv.emit(op, [cv.node_of(x)], a.call, cv.type_name(a.call, "F.interpolate"))
        return _out(cv, a, x, nid)

    return handler


def _interpolate(cv: Converter, a: Args) -> Any:
    """``F.interpolate`` as traced by torch.fx (the fallback): mode chooses the operator."""
    mode = a.get(3, "mode", "nearest")
    kinds = {"nearest": "nearest", "nearest-exact": "nearest-exact", "linear": "linear", "bilinear": "linear",
             "trilinear": "linear"}
    if mode not in kinds:
        raise Unsupported(f"interpolation mode {mode!r} is not modelled")
    x = _spatial_src(cv, a, "interpolate")
    if x is None:
        return constant(a)
    n = _n(x)
    size, scale = a.get(1, "size"), a.get(2, "scale_factor")
    align = bool(a.get(4, "align_corners", False)) and kinds[mode] == "linear"
    if scale is not None:
        scales = (scale,) * n if isinstance(scale, (int, float)) else tuple(scale)
        op: Op = Resample(kinds[mode], scale=tuple(Fraction(s).limit_denominator(1000) for s in scales), align_corners=align)  # type: ignore[arg-type]
    elif size is not None:
        sizes = (size,) * n if isinstance(size, int) else tuple(size)
        op = Resample(kinds[mode], size=sizes, align_corners=align)  # type: ignore[arg-type]
    else:
        raise Unsupported("neither size nor scale_factor")
    nid = cv.emit(op, [cv.node_of(x)], a.call, "F.interpolate")
    return _out(cv, a, x, nid)


def _opaque_known(reason: str) -> Callable[[Converter, Args], Any]:
    def handler(cv: Converter, a: Args) -> Any:
        x = a.val(0, "self")
        if x is None or not x.derived:
            return constant(a)
        return cv.opaque_node(a.call, [x], reason, report=False)

    return handler


def _shuffle(cls: type) -> Callable[[Converter, Args], Any]:
    def handler(cv: Converter, a: Args) -> Any:
        x = _spatial_src(cv, a, "pixel shuffle")
        if x is None:
            return constant(a)
        f = a.get(1, "upscale_factor" if cls is PixelShuffle else "downscale_factor")
        if not isinstance(f, int) or f < 1:
            raise Unsupported(f"factor {f!r}")
        nid = cv.emit(cls(f, _n(x)), [cv.node_of(x)], a.call, cv.type_name(a.call, f"F.{a.op}"))
        return _out(cv, a, x, nid)

    return handler


# --------------------------------------------------------------------------- padding and slicing


def _pad(mode: str | None) -> Callable[[Converter, Args], Any]:
    def handler(cv: Converter, a: Args) -> Any:
        x = _spatial_src(cv, a, "padding")
        if x is None:
            return constant(a)
        amounts = a.get(1, "pad" if a.op in ("pad", "constant_pad_nd", "_pad_circular") else "padding")
        if not isinstance(amounts, (list, tuple)) or len(amounts) % 2 or not all(isinstance(p, int) for p in amounts):
            raise Unsupported(f"padding amounts {amounts!r}")
        m = mode
        if m is None:  # aten.pad(self, pad, mode, value) / constant_pad_nd(self, pad, value)
            m = a.get(2, "mode", "constant") if a.op == "pad" else "constant"
            value = a.get(3, "value") if a.op == "pad" else a.get(2, "value", 0)
            if m == "constant":
                m = "zeros" if not value else "constant"
        rank = len(x.shape) if x.shape is not None else None
        pairs = [(amounts[i], amounts[i + 1]) for i in range(0, len(amounts), 2)]  # last axis first
        if rank is None:
            raise Unsupported("the input's rank is not known")
        per_axis = {rank - 1 - k: p for k, p in enumerate(pairs)}
        if any(ax not in x.spatial and p != (0, 0) for ax, p in per_axis.items()):  # type: ignore[operator]
            if all(per_axis.get(s, (0, 0)) == (0, 0) for s in x.spatial):  # type: ignore[union-attr]
                return _same(x, a)  # pads only channels
            raise Unsupported("padding of spatial and other axes at once")
        pads = tuple(per_axis.get(s, (0, 0)) for s in x.spatial)  # type: ignore[union-attr]
        src = cv.materialize(x)
        return Val(None, a.out_shape(), x.spatial, _Pad(src, pads, str(m), a.call))

    return handler


def _slice(cv: Converter, a: Args) -> Any:
    """``x[:, :, ::2]``: on a spatial axis a crop and a subsampling (a window of 1 with a stride)."""
    x = _src(a, 0, "self")
    if not x.derived or x.spatial is None or x.shape is None:
        return _same(x, a) if x.derived else constant(a)
    rank = len(x.shape)
    dim = a.get(1, "dim", 0)
    if not isinstance(dim, int):
        raise Unsupported("slice along a dimension that is not known")
    dim %= rank
    if dim not in x.spatial:
        return _same(x, a)
    start, step = a.get(2, "start"), a.get(4, "step", 1)  # the end follows from the output size
    n = x.shape[dim]
    out = a.out_shape()
    if not isinstance(n, int) or out is None or not isinstance(out[dim], int) or not isinstance(step, int):
        raise Unsupported("slice of a spatial axis whose size is not known")
    start = 0 if start is None else start
    if not isinstance(start, int):
        raise Unsupported("slice start is not known")
    start = max(0, min(n, start + n if start < 0 else start))
    m = out[dim]
    if m == n and step == 1:
        return _same(x, a)
    last = start + (m - 1) * step
    axes = x.spatial
    k = axes.index(dim)
    pads = tuple((-start, -(n - 1 - last)) if i == k else (0, 0) for i in range(len(axes)))
    stride = tuple(step if i == k else 1 for i in range(len(axes)))
    ones = (1,) * len(axes)
    nid = cv.emit(Window("pad", ones, stride, ones, pads), [cv.node_of(x)], a.call, "slice",
                  {"padding_mode": "zeros"})
    return Val(nid, out, x.spatial)


def _select(cv: Converter, a: Args) -> Any:
    x = _src(a, 0, "self")
    if not x.derived or x.spatial is None or x.shape is None:
        return _same(x, a) if x.derived else constant(a)
    dim = a.get(1, "dim") % len(x.shape)
    if dim in x.spatial:
        raise Unsupported("indexing a single position of a spatial axis")
    return Val(x.node, a.out_shape(), tuple(s - (s > dim) for s in x.spatial), x.pad)


def _split(cv: Converter, a: Args) -> Any:
    """split/chunk/unbind: parts along a channel axis keep every position."""
    x = _src(a, 0, "self")
    dim = a.get(1 if a.op == "unbind" else 2, "dim", 0)
    parts = a.call.out_shapes[0] if a.call.out_shapes else None
    shapes = list(parts) if isinstance(parts, tuple) and parts and isinstance(parts[0], tuple) else list(a.call.out_shapes)
    if not x.derived:
        return [Val(None, s if isinstance(s, tuple) else None, None) for s in shapes]
    if x.spatial is not None and x.shape is not None and isinstance(dim, int) and dim % len(x.shape) in x.spatial:
        raise Unsupported("split along a spatial axis")
    x = cv.materialize(x)
    if a.op == "unbind" and x.spatial is not None:
        d = dim % len(x.shape)  # type: ignore[arg-type]
        return [Val(x.node, s if isinstance(s, tuple) else None, tuple(p - (p > d) for p in x.spatial)) for s in shapes]
    return [Val(x.node, s if isinstance(s, tuple) else None, x.spatial) for s in shapes]


# --------------------------------------------------------------------------- layout: views, permutes


def _reshape(cv: Converter, a: Args) -> Any:
    x = _src(a, 0, "self")
    if not x.derived:
        return constant(a)
    out = a.out_shape()
    if x.spatial is None:
        return _same(x, a)
    if out is None or x.shape is None:
        raise Unsupported("the shapes are not known")
    k = len(x.spatial)
    tail = tuple(range(len(x.shape) - k, len(x.shape)))
    sizes = tuple(x.shape[s] for s in x.spatial)
    if x.spatial == tail and len(out) > k and tuple(out[len(out) - k:]) == sizes:
        return Val(x.node, out, tuple(range(len(out) - k, len(out))), x.pad)
    if len(out) <= 2:
        name = "flatten" if a.op == "flatten" else "reshape"
        nid = cv.emit(EndSpatial(), [cv.node_of(x)], a.call, cv.type_name(a.call, name))
        return Val(nid, out, None)
    if a.op == "unsqueeze" or a.op == "squeeze":
        return _squeeze(cv, a, x, out)
    return cv.opaque_node(a.call, [x], f"{a.op} from {_show(x.shape)} to {_show(out)} does not keep the spatial axes")


def _squeeze(cv: Converter, a: Args, x: Val, out: Shape) -> Any:
    """Dimensions of size 1 added or removed: the spatial axes move with them."""
    assert x.shape is not None and x.spatial is not None
    if a.op == "unsqueeze":
        d = a.get(1, "dim") % len(out)
        return Val(x.node, out, tuple(s + (s >= d) for s in x.spatial), x.pad)
    dims = a.get(1, "dim")
    rank = len(x.shape)
    dims = [i for i in range(rank) if x.shape[i] == 1] if dims is None else (dims if isinstance(dims, (list, tuple)) else [dims])
    gone = {d % rank for d in dims if x.shape[d % rank] == 1}
    if gone & set(x.spatial):
        return cv.opaque_node(a.call, [x], "squeeze removes a spatial axis")
    return Val(x.node, out, tuple(s - sum(1 for g in gone if g < s) for s in x.spatial), x.pad)


def _permute(cv: Converter, a: Args) -> Any:
    x = _src(a, 0, "self")
    if not x.derived or x.spatial is None or x.shape is None:
        return _same(x, a) if x.derived else constant(a)
    rank = len(x.shape)
    if a.op == "permute":
        order = [d % rank for d in a.get(1, "dims")]
    elif a.op in ("transpose", "swapaxes", "swapdims"):
        order = list(range(rank))
        i, j = a.get(1, "dim0") % rank, a.get(2, "dim1") % rank
        order[i], order[j] = order[j], order[i]
    else:  # t / numpy_T
        order = list(reversed(range(rank)))
    new = [order.index(s) for s in x.spatial]
    if new != sorted(new):
        return cv.opaque_node(a.call, [x], f"{a.op} reorders the spatial axes")
    return Val(x.node, a.out_shape(), tuple(new), x.pad)


def _expand(cv: Converter, a: Args) -> Any:
    x = _src(a, 0, "self")
    return _same(x, a) if x.derived else constant(a)


def _show(shape: Shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


# --------------------------------------------------------------------------- merges and elementwise


def _merge(kind: str) -> Callable[[Converter, Args], Any]:
    def handler(cv: Converter, a: Args) -> Any:
        operands = [a.val(i, n) for i, n in ((0, "self"), (1, "other"))] if kind != "where" else \
            [a.val(1, "self"), a.val(2, "other")]
        return _combine(cv, a, [v for v in operands if v is not None], "add" if kind == "where" else kind)

    return handler


def _combine(cv: Converter, a: Args, operands: list[Val], kind: str) -> Any:
    derived = [cv.materialize(v) for v in operands if v.derived]
    if not derived:
        return constant(a)
    out = a.out_shape()
    nodes = list(dict.fromkeys(v.node for v in derived))
    base = max(derived, key=lambda v: (v.spatial is not None, len(v.shape or ())))
    result = _same(base, a)
    if len(nodes) > 1:
        spatial = [v for v in derived if v.spatial is not None]
        type_name = {"add": "add", "mul": "mul", "concat": "torch.cat"}[kind]
        nid = cv.emit(Merge(kind), nodes, a.call, type_name)  # type: ignore[arg-type]
        result = Val(nid, out, result.spatial if spatial else None)
    constants = [v for v in operands if not v.derived]
    if result.spatial is not None and any(_varies(c, result) for c in constants):
        nid = cv.emit(Pointwise(), [result.node], a.call, a.op,  # type: ignore[list-item]
                      {"positional": True, "constant": True})
        result = Val(nid, out, result.spatial)
    return result


def _varies(c: Val, x: Val) -> bool:
    """A constant that takes different values along the spatial axes of ``x`` (after broadcasting)."""
    if c.shape is None or x.shape is None or x.spatial is None:
        return False
    shift = len(x.shape) - len(c.shape)
    for s in x.spatial:
        i = s - shift
        if 0 <= i < len(c.shape) and c.shape[i] != 1 and x.shape[s] != 1:
            return True
    return False


def _cat(cv: Converter, a: Args) -> Any:
    tensors = a.get(0, "tensors") or []
    vals = [cv.value(t) for t in tensors if isinstance(t, Ref)]
    vals = [v for v in vals if v is not None]
    dim = a.get(1, "dim", 0)
    derived = [v for v in vals if v.derived and v.spatial is not None]
    out = a.out_shape()
    if derived and isinstance(dim, int) and out is not None:
        d = dim % len(out)
        first = derived[0]
        shift = len(out) - len(first.shape or out)
        if a.op == "stack":
            if d <= min(first.spatial):  # type: ignore[type-var,arg-type]
                return _combine_stack(cv, a, vals, d)
            raise Unsupported("stack along a spatial axis")
        if d in {s + shift for s in first.spatial}:  # type: ignore[union-attr]
            raise Unsupported("concatenation along a spatial axis (only channel concat keeps the frame)")
    return _combine(cv, a, vals, "concat")


def _combine_stack(cv: Converter, a: Args, vals: list[Val], d: int) -> Any:
    r = _combine(cv, a, vals, "concat")
    if isinstance(r, Val) and r.spatial is not None and r.shape is not None:
        return replace(r, spatial=tuple(s for s in range(len(r.shape)) if s in {p + (p >= d) for p in vals[0].spatial or ()}))
    return r


def _pointwise(cv: Converter, a: Args) -> Any:
    """Activations, dropout, casts, copies: every position stays where it is; no node.
    Two operands that both depend on the input (``masked_fill(x, mask_of_x)``) merge."""
    if a.op in _LIKE:
        return constant(a)
    vals = [cv.materialize(v) if i else v for i, v in enumerate(v for v in flat_vals(cv, a.call) if v is not None and v.derived)]
    if not vals:
        return constant(a)
    if len({v.node for v in vals[1:]} | {cv.materialize(vals[0]).node}) > 1:
        return _combine(cv, a, vals, "mul")
    return _same(vals[0], a)


_LIKE = frozenset({"zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "new_zeros",
                   "new_ones", "new_empty", "new_full", "sym_size", "size"})


def _norm(cv: Converter, a: Args) -> Any:
    """batch_norm and friends: pointwise; BatchNorm keeps its class name and num_features."""
    x = _src(a, 0, "input")
    if not x.derived:
        return constant(a)
    attrs: dict[str, Any] = {}
    if x.shape is not None and len(x.shape) >= 2 and isinstance(x.shape[1], int):
        attrs["num_features"] = x.shape[1]
    default = "F.batch_norm" if "batch_norm" in a.op else f"F.{a.op}"
    nid = cv.emit(Pointwise(), [cv.node_of(x)], a.call, cv.type_name(a.call, default), attrs)
    out = Val(nid, a.out_shape(), x.spatial if x.shape is None or a.out_shape() is None or len(a.out_shape() or ()) == len(x.shape) else None)
    return [out, out, out] if a.op.startswith(("native_batch_norm", "_native_batch_norm")) else out


def _linear(cv: Converter, a: Args) -> Any:
    """linear/addmm: on the channels of a channels-last map it is pointwise (ConvNeXt);
    on flattened features it ends the spatial part; over a spatial axis it is Opaque."""
    x = a.val(1, "mat1") if a.op == "addmm" else _src(a, 0, "input")
    if x is None or not x.derived:
        return constant(a)
    type_name = cv.type_name(a.call, "F.linear")
    if x.spatial is not None and x.shape is not None:
        last = len(x.shape) - 1
        if last in x.spatial:
            if all(x.shape[s] == 1 for s in x.spatial):
                nid = cv.emit(EndSpatial(), [cv.node_of(x)], a.call, type_name)
                return Val(nid, a.out_shape(), None)
            return cv.opaque_node(a.call, [x], "linear layer over a spatial axis")
        nid = cv.emit(Pointwise(), [cv.node_of(x)], a.call, type_name)
        return Val(nid, a.out_shape(), x.spatial)
    nid = cv.emit(EndSpatial(), [cv.node_of(x)], a.call, type_name)
    return Val(nid, a.out_shape(), None)


def _softmax(cv: Converter, a: Args) -> Any:
    x = _src(a, 0, "self")
    if not x.derived:
        return constant(a)
    dim = a.get(1, "dim")
    if x.spatial is not None and x.shape is not None and isinstance(dim, int) and dim % len(x.shape) in x.spatial:
        nid = cv.emit(Global(), [cv.node_of(x)], a.call, f"F.{a.op.lstrip('_')}")
        return Val(nid, a.out_shape(), x.spatial)
    return _same(x, a)


def _getitem(cv: Converter, a: Args) -> Any:
    src, i = a.get(0, "self"), a.get(1, "index")
    if isinstance(src, Ref):
        v = cv.env.get(src.name)
        if isinstance(v, list) and isinstance(i, int) and -len(v) <= i < len(v):
            return v[i]
        if isinstance(v, Val):
            return v
    return constant(a)


# --------------------------------------------------------------------------- the table

OPS: dict[str, Handler] = {}

for _name in ("conv1d", "conv2d", "conv3d"):
    OPS[_name] = lambda cv, a: _conv(cv, a, False)
for _name in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
    OPS[_name] = lambda cv, a: _conv(cv, a, True)
for _name in ("convolution", "_convolution"):
    OPS[_name] = lambda cv, a: _conv(cv, a, None)
for _d in (1, 2, 3):
    OPS[f"max_pool{_d}d"] = OPS[f"max_pool{_d}d_with_indices"] = _pool("max_pool")
    OPS[f"avg_pool{_d}d"] = _pool("avg_pool")
    OPS[f"adaptive_avg_pool{_d}d"] = OPS[f"_adaptive_avg_pool{_d}d"] = OPS[f"adaptive_max_pool{_d}d"] = _adaptive
    OPS[f"upsample_nearest{_d}d"] = _upsample("nearest")
    OPS[f"_upsample_nearest_exact{_d}d"] = _upsample("nearest-exact")
    OPS[f"reflection_pad{_d}d"] = _pad("reflect")
    OPS[f"replication_pad{_d}d"] = _pad("replicate")
OPS["upsample_bilinear2d"] = OPS["upsample_linear1d"] = OPS["upsample_trilinear3d"] = _upsample("linear")
OPS["upsample_bicubic2d"] = _opaque_known("interpolation mode 'bicubic' is not modelled")
OPS["_upsample_bilinear2d_aa"] = OPS["_upsample_bicubic2d_aa"] = _opaque_known("antialiased interpolation is not modelled")
OPS["interpolate"] = _interpolate
OPS["pixel_shuffle"] = _shuffle(PixelShuffle)
OPS["pixel_unshuffle"] = _shuffle(PixelUnshuffle)
OPS["pad"] = OPS["constant_pad_nd"] = _pad(None)
OPS["_pad_circular"] = _pad("circular")
OPS["slice"] = _slice
OPS["select"] = _select
for _name in ("split", "split_with_sizes", "chunk", "unbind", "tensor_split", "unsafe_split", "unsafe_chunk"):
    OPS[_name] = _split
for _name in ("view", "reshape", "_unsafe_view", "flatten", "unflatten", "squeeze", "unsqueeze", "_reshape_alias"):
    OPS[_name] = _reshape
for _name in ("permute", "transpose", "swapaxes", "swapdims", "t", "numpy_T"):
    OPS[_name] = _permute
OPS["expand"] = OPS["expand_as"] = OPS["repeat"] = _expand
OPS["add"] = OPS["sub"] = OPS["rsub"] = OPS["maximum"] = OPS["minimum"] = _merge("add")
OPS["mul"] = OPS["div"] = _merge("mul")
OPS["where"] = _merge("where")
OPS["cat"] = OPS["concat"] = OPS["concatenate"] = OPS["stack"] = _cat
OPS["getitem"] = _getitem
for _name in ("mean", "sum", "amax", "amin", "max", "min", "var", "std", "logsumexp", "var_mean", "std_mean"):
    OPS[_name] = _reduce
OPS["softmax"] = OPS["_softmax"] = OPS["log_softmax"] = OPS["_log_softmax"] = _softmax
OPS["linear"] = OPS["addmm"] = _linear
for _name in ("batch_norm", "_native_batch_norm_legit_no_training", "_native_batch_norm_legit", "native_batch_norm",
              "_batch_norm_with_update", "_batch_norm_no_update", "group_norm", "native_group_norm", "layer_norm",
              "native_layer_norm", "instance_norm", "rms_norm", "local_response_norm"):
    OPS[_name] = _norm
for _name in (
    "relu", "relu6", "hardtanh", "hardswish", "hardsigmoid", "silu", "gelu", "sigmoid", "tanh", "leaky_relu", "elu",
    "selu", "celu", "mish", "softplus", "prelu", "_prelu_kernel", "glu", "log_sigmoid", "threshold", "rrelu",
    "hardshrink", "softshrink", "dropout", "native_dropout", "feature_dropout", "alpha_dropout",
    "feature_alpha_dropout", "clone", "contiguous", "alias", "detach", "lift_fresh_copy", "_to_copy", "to", "type_as",
    "_assert_tensor_metadata", "clamp", "clamp_min", "clamp_max", "abs", "neg", "exp", "log", "sqrt", "rsqrt",
    "pow", "reciprocal", "sign", "floor", "ceil", "round", "square", "erf", "sin", "cos", "channel_shuffle",
    "native_channel_shuffle", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
    "new_zeros", "new_ones", "new_empty", "new_full", "masked_fill", "nan_to_num", "identity", "copy", "copy_",
    "bitwise_not", "logical_not", "eq", "ne", "gt", "ge", "lt", "le", "float", "half", "double", "bfloat16",
):
    OPS[_name] = _pointwise

IGNORED = frozenset({
    "sym_size", "sym_numel", "sym_stride", "sym_storage_offset", "_assert_async", "_assert_scalar",
    "sym_constrain_range", "sym_constrain_range_for_size", "_local_scalar_dense", "item", "scalar_tensor",
    "arange", "zeros", "ones", "full", "empty", "linspace", "rand", "randn", "eye", "tensor", "_assert",
    "size", "dim", "_set_grad_enabled", "_enter_autocast", "_exit_autocast",
})
"""Calls that compute no feature map: shape queries, asserts, and tensors built from nothing."""


def convert(program: Program, locate: Locate) -> Graph:
    """The Graph IR of a program; unknown operators are in ``graph.unresolved``."""
    return Converter(program, locate, OPS, IGNORED).run()
