"""Functions and tensor methods that ``forward`` code calls, modelled on symbolic tensors.

A handler receives the evaluator, the call's positional and keyword
arguments and the call's AST node, and returns a TensorValue (a new graph
node, or the same tensor for operations that keep every position), or an
Unknown that says why.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Callable

from ...ir import Global, Opaque, PixelShuffle, PixelUnshuffle, Resample, TransposedConv, Window
from . import consttensor
from . import layout as lay
from .consttensor import ConstTensor
from .layout import Dim, Factor
from .torch_nn import LAYERS, BadArgument, LayerSpec, conv_padding, ntuple, pad_spec, resample, unfold_window
from .values import Builtin, ExternalRef, ParamValue, SizeValue, SymSize, TensorValue, Unknown

if TYPE_CHECKING:
    from .evaluator import Evaluator

Handler = Callable[["Evaluator", list[Any], dict[str, Any], ast.Call], Any]

FUNCTIONS: dict[str, Handler] = {}
METHODS: dict[str, Handler] = {}

# Operations that keep every spatial position where it is: no node is needed.
_POINTWISE_FUNCTIONS = """
relu relu_ relu6 elu elu_ selu celu gelu silu mish hardswish hardsigmoid hardtanh hardtanh_ leaky_relu leaky_relu_
prelu rrelu glu sigmoid tanh softplus softsign logsigmoid softmax log_softmax dropout dropout1d dropout2d dropout3d
alpha_dropout feature_alpha_dropout batch_norm instance_norm group_norm layer_norm local_response_norm normalize
threshold clamp clamp_ clip abs exp log neg sqrt rsqrt square pow channel_shuffle native_channel_shuffle
rms_norm softmin erf erfc tanhshrink hardshrink softshrink sign reciprocal nan_to_num sin cos tan
""".split()
_SAME_TENSOR_METHODS = """
contiguous clone float half double bfloat16 to type type_as detach cpu cuda requires_grad_ relu relu_ sigmoid
sigmoid_ tanh tanh_ clamp clamp_ clip abs exp log neg sqrt rsqrt pow softmax log_softmax mul_ add_ div_ sub_
square square_ reciprocal sign erf gelu silu exp_ log_ abs_ neg_ masked_fill masked_fill_ nan_to_num clamp_min
clamp_max pow_ sqrt_ fill_ zero_ float_power sin cos tan sin_ cos_
""".split()


def _tensor(ev: "Evaluator", value: Any, node: ast.AST) -> TensorValue | Unknown:
    return ev.as_tensor(value, node)


def as_map(ev: "Evaluator", x: TensorValue, node: ast.AST, name: str) -> TensorValue:
    """``x`` itself when it is arranged as a map (N, C, spatial axes), which is what
    convolutions, pooling and resampling read; else an Opaque node that says so."""
    if x.layout is None or lay.is_standard(x.layout, ev.ndim):
        return x
    return ev.opaque(x, f"{name} of a tensor that is not arranged as a map (N, C, spatial...)", node, name)


def channels_kept(op: Any, x: TensorValue) -> "lay.Layout | None":
    """The arrangement of a pooling's (or padding's) output: its input's, whose channel
    count a layer over the channels-last tokens may have set (MViTv2's pooled shortcut
    after a linear projection), where the graph alone would give the map's first count."""
    if isinstance(op, Window) and op.kind != "conv" and x.layout is not None and lay.is_standard(x.layout, op.spatial_ndim):
        return x.layout
    return None


def _same(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    if not args:
        return ev.unknown("call without a tensor argument", node)
    return args[0]


def _spec_call(spec: LayerSpec, type_name: str) -> Handler:
    """A functional form (``F.max_pool2d(x, ...)``) built from the layer's own spec."""

    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        if not args:
            return ev.unknown(f"{type_name}() without an input tensor", node)
        x = _tensor(ev, args[0], node)
        if isinstance(x, Unknown):
            return x
        x = as_map(ev, x, node, type_name)
        try:
            bound = spec.bind(list(args[1:]), dict(kwargs))
            op, attrs = spec.build(bound, spec.ndim)
        except BadArgument as exc:
            op, attrs = Opaque(f"{type_name}: {exc}"), {}
            ev.unknown(f"{type_name}: {exc}", node)
        attrs.update(ev.call_spans(node, spec.params, offset=1))
        out = ev.add_node(op, [x.node], type_name, node, attrs, layout=channels_kept(op, x))
        return (out, Unknown("pooling indices are not modelled")) if bound_flag(kwargs, "return_indices") else out

    return handler


def bound_flag(kwargs: dict[str, Any], name: str) -> bool:
    return kwargs.get(name) is True


def _functional_spec(name: str, params: str, defaults: dict[str, Any], layer: str) -> LayerSpec:
    base = LAYERS[layer]
    return LayerSpec(name, tuple(p.strip() for p in params.split(",")), defaults, base.build, base.ndim)


for _n in (1, 2, 3):
    FUNCTIONS[f"torch.nn.functional.max_pool{_n}d"] = _spec_call(
        _functional_spec(f"max_pool{_n}d", "kernel_size, stride, padding, dilation, ceil_mode, return_indices",
                         dict(stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False), f"MaxPool{_n}d"),
        f"F.max_pool{_n}d",
    )
    FUNCTIONS[f"torch.nn.functional.avg_pool{_n}d"] = _spec_call(
        _functional_spec(f"avg_pool{_n}d", "kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override",
                         dict(stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None), f"AvgPool{_n}d"),
        f"F.avg_pool{_n}d",
    )
    FUNCTIONS[f"torch.nn.functional.adaptive_avg_pool{_n}d"] = _spec_call(LAYERS[f"AdaptiveAvgPool{_n}d"], f"F.adaptive_avg_pool{_n}d")
    FUNCTIONS[f"torch.nn.functional.adaptive_max_pool{_n}d"] = _spec_call(LAYERS[f"AdaptiveMaxPool{_n}d"], f"F.adaptive_max_pool{_n}d")
    FUNCTIONS[f"torch.max_pool{_n}d"] = FUNCTIONS[f"torch.nn.functional.max_pool{_n}d"]
    FUNCTIONS[f"torch.avg_pool{_n}d"] = FUNCTIONS[f"torch.nn.functional.avg_pool{_n}d"]

for _name in _POINTWISE_FUNCTIONS:
    FUNCTIONS[f"torch.nn.functional.{_name}"] = _same
    FUNCTIONS[f"torch.{_name}"] = _same

#: Functions that keep the shape of their tensor (what a function of parameters alone keeps).
SHAPE_KEEPING = frozenset(f"torch.{n}" for n in _POINTWISE_FUNCTIONS) | frozenset(
    f"torch.nn.functional.{n}" for n in _POINTWISE_FUNCTIONS)


def of_parameters(path: str, args: list[Any], kwargs: dict[str, Any]) -> ParamValue | None:
    """A tensor function applied to parameters alone (``torch.exp(self.lambda_a)``,
    ``F.pad(relative_position_bias, ...)``): a tensor of unknown values that holds no
    position of the input, its shape kept by a pointwise function; None when a feature
    map, or no parameter, is among the arguments."""
    values = [*args, *kwargs.values()]
    flat = [v for a in values for v in (a if isinstance(a, (list, tuple)) else (a,))]
    if any(isinstance(v, (TensorValue, Unknown)) for v in flat):
        return None
    params = [v for v in flat if isinstance(v, ParamValue)]
    if not params:
        return None
    return ParamValue(f"{path} of parameters", params[0].shape if path in SHAPE_KEEPING else None)
for _name in _SAME_TENSOR_METHODS:
    METHODS[_name] = _same


def conv_window(weight: Any, bound: dict[str, Any], n: int) -> tuple[Window, dict[str, Any]]:
    """The Window of ``F.conv{n}d(x, weight, bias, stride, padding, dilation, groups)``: the
    kernel size from the weight's shape, the rest from the call. A fixed weight (a
    constant or a buffer) that is a normalised non-negative depthwise kernel marks the
    layer a blur (RULES.md); a learnable one never is. Raises BadArgument."""
    shape = consttensor.shape_of(weight)
    if shape is None and isinstance(weight, ParamValue) and weight.kernel is not None and len(weight.kernel) == n:
        shape = (None, None, *weight.kernel)  # channel counts not known: the kernel is
    if shape is None:
        why = f" ({weight.reason})" if isinstance(weight, Unknown) else ""
        raise BadArgument(f"the weight's shape is not known{why}")
    if len(shape) != n + 2:
        raise BadArgument(f"a weight of shape {shape} for a {n}-D convolution")
    kernel = shape[2:]
    stride = ntuple(bound.get("stride", 1), n, "stride")
    dilation = ntuple(bound.get("dilation", 1), n, "dilation")
    window = Window("conv", kernel, stride, dilation, conv_padding(bound.get("padding", 0), kernel, stride, dilation))
    attrs: dict[str, Any] = {"out_channels": shape[0]} if shape[0] is not None else {}
    groups = bound.get("groups", 1)
    if isinstance(groups, int) and not isinstance(groups, bool) and shape[1] is not None:
        attrs.update(groups=groups, in_channels=groups * shape[1])
    if isinstance(weight, ConstTensor):
        verdict = consttensor.blur_kernel_verdict(weight)
        if verdict is None:
            attrs["blur"] = True
        else:
            attrs["not_blur"] = verdict  # a fixed kernel meant as a blur, perhaps: the AA messages say why not
    return window, attrs


def _functional_conv(n: int) -> Handler:
    name = f"F.conv{n}d"

    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        bound = dict(zip(("input", "weight", "bias", "stride", "padding", "dilation", "groups"), args))
        bound.update(kwargs)
        x = _tensor(ev, bound.get("input"), node)
        if isinstance(x, Unknown):
            return x
        layout = ev.layout_of(x)
        folded = lay.batch_in_channels(layout, ev.ndim)
        if lay.has_positions(layout) and not folded:
            x = as_map(ev, x, node, name)
        weight = bound.get("weight")
        inputs = [x.node]
        per_sample: tuple[Any, ...] = (lay.Factor("C", key=("folded", id(node))),)
        if isinstance(weight, TensorValue):
            counts = tuple(f for f in ev.layout_of(weight)[0].factors if f.kind == "C")
            per_sample = counts or per_sample  # (B * out) kernels: out per sample
            # A kernel computed from the input (CondConv's routing, dynamic convolution): its
            # size is the weight tensor's trailing dimensions, and what it was computed from
            # (a pooled, global context) reaches every output.
            trailing = [s.value for s in ev.dim_sizes(weight)[-n:]]
            inputs.append(weight.node)
            weight = ParamValue("a kernel computed from the input", None,
                                tuple(trailing) if all(isinstance(v, int) for v in trailing) else None)
        try:
            op, attrs = conv_window(weight, bound, n)
        except BadArgument as exc:
            reason = f"{name}: {exc}"
            ev.unknown(reason, node)
            return ev.add_node(Opaque(reason), [x.node], name, node)
        if not lay.has_positions(layout):  # a pooled vector (an SE gate's 1x1 conv): it keeps its arrangement
            return ev.add_node(op, inputs, name, node, attrs, layout=x.layout)
        if folded:  # per-sample kernels as one grouped conv: the batch stays folded in front of the channels
            out = Dim((lay.BATCH, *per_sample))
            return ev.add_node(op, inputs, name, node, attrs, layout=(layout[0], out) + layout[2:])
        return ev.add_node(op, inputs, name, node, attrs)

    return handler


for _n in (1, 2, 3):
    FUNCTIONS[f"torch.nn.functional.conv{_n}d"] = _functional_conv(_n)
    FUNCTIONS[f"torch.conv{_n}d"] = FUNCTIONS[f"torch.nn.functional.conv{_n}d"]


def unfolded(ev: "Evaluator", x: TensorValue, op: Any, node: ast.AST, name: str, attrs: dict[str, Any] | None = None,
             path: str = "", loc: Any = None) -> Any:
    """``unfold(x)``: (N, C * k * k, L), the window offsets after each channel, the output
    positions (a grid of the window's stride) flattened into the last dimension."""
    if not isinstance(op, Window):
        return ev.add_node(op, [x.node], name, node, attrs, path, loc)
    x = as_map(ev, x, node, name)
    channels = ev.layout_of(x)[1].factors
    offsets = Factor("C", count=1)
    for k in op.kernel:
        offsets = Factor("C", count=offsets.count * k)
    grid = Dim(tuple(Factor("S", a) for a in range(ev.ndim)))
    layout = (Dim((lay.BATCH,)), Dim((*channels, offsets)), grid)
    return ev.add_node(op, [x.node], name, node, attrs, path, loc, layout=layout)


def _functional_unfold(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    bound = dict(zip(("input", "kernel_size", "dilation", "padding", "stride"), args))
    bound.update(kwargs)
    x = _tensor(ev, bound.get("input"), node)
    if isinstance(x, Unknown):
        return x
    try:
        op, attrs = unfold_window(bound, ev.ndim)
    except BadArgument as exc:
        return ev.opaque(x, f"F.unfold: {exc}", node, "F.unfold")
    return unfolded(ev, x, op, node, "F.unfold", attrs)


def fold(ev: "Evaluator", x: Any, bound: dict[str, Any], node: ast.AST, name: str) -> Any:
    """``F.fold(x, output_size, kernel_size, dilation, padding, stride)``: the inverse
    arrangement of unfold, summing overlapping windows: output ``o`` reads the window
    positions ``i`` with ``o = i*s - p + t*d``, a transposed convolution's geometry."""
    x = _tensor(ev, x, node)
    if isinstance(x, Unknown):
        return x
    n = ev.ndim
    layout = ev.layout_of(x)
    grid = layout[-1] if layout else None
    if len(layout) != 3 or grid is None or grid.extra or grid.factors != tuple(Factor("S", a) for a in range(n)) \
            or lay.spatial_factors(layout[1]):
        return ev.opaque(x, f"{name} of a tensor that is not (N, C * k * k, L) over a map's positions", node, name)
    try:
        k = ntuple(bound.get("kernel_size"), n, "kernel_size")
        d = ntuple(bound.get("dilation", 1), n, "dilation")
        p = ntuple(bound.get("padding", 0), n, "padding")
        s = ntuple(bound.get("stride", 1), n, "stride")
        size = ntuple(bound.get("output_size"), n, "output_size")
    except BadArgument as exc:
        return ev.opaque(x, f"{name}: {exc}", node, name)
    sizes = ev.map_sizes(x.node)
    if any(v is None for v in sizes):
        return ev.opaque(x, f"{name}: the window grid's size is not known (give input-size)", node, name)
    natural = [(m - 1) * st - 2 * pp + dd * (kk - 1) + 1 for m, st, pp, dd, kk in zip(sizes, s, p, d, k)]
    extra = tuple(o - nat for o, nat in zip(size, natural))
    if any(e < 0 for e in extra):
        return ev.opaque(x, f"{name}: output_size {size} smaller than the windows cover", node, name)
    return ev.add_node(TransposedConv(k, s, d, p, extra), [x.node], name, node, {"fold": True})


def _functional_fold(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    bound = dict(zip(("input", "output_size", "kernel_size", "dilation", "padding", "stride"), args))
    bound.update(kwargs)
    return fold(ev, bound.get("input"), bound, node, "F.fold")


FUNCTIONS["torch.nn.functional.unfold"] = _functional_unfold
FUNCTIONS["torch.nn.functional.fold"] = _functional_fold


def _resized_constant(t: Any, size: Any, scale: Any) -> ParamValue:
    """``F.interpolate`` of a position embedding (a parameter, not a map of the input): a
    tensor of unknown values whose shape is the resized one where it can be said."""
    shape = consttensor.shape_of(t)
    if shape is None or len(shape) < 3:
        return ParamValue("a resized tensor")
    n = len(shape) - 2
    if size is not None:
        sizes = (size,) * n if isinstance(size, int) else tuple(size) if isinstance(size, (list, tuple)) else None
    elif scale is not None:
        scales = (scale,) * n if isinstance(scale, (int, float)) else tuple(scale) if isinstance(scale, (list, tuple)) else None
        sizes = tuple(int(d * f) for d, f in zip(shape[2:], scales)) if scales is not None and len(scales) == n else None
    else:
        sizes = None
    if sizes is None or len(sizes) != n or not all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
        return ParamValue("a resized tensor")
    return ParamValue("a resized tensor", shape[:2] + tuple(sizes))


def _interpolate(default_mode: str | None = None, default_align: bool | None = None) -> Handler:
    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        params = ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias")
        if default_mode is not None:
            params = ("input", "size", "scale_factor")
        bound = dict(zip(params, args))
        bound.update(kwargs)
        if isinstance(bound.get("input"), (ParamValue, ConstTensor)):
            return _resized_constant(bound["input"], bound.get("size"), bound.get("scale_factor"))
        x = _tensor(ev, bound.get("input"), node)
        if isinstance(x, Unknown):
            return x
        x = as_map(ev, x, node, "F.interpolate")
        mode = default_mode or bound.get("mode", "nearest")
        align = default_align if default_align is not None else bound.get("align_corners")
        like = _size_of(bound.get("size"))
        if like is not None:
            bound["size"] = None
            bound["scale_factor"] = 1  # placeholder: the analysis takes the size from ``like``
        try:
            op = resample(bound.get("size"), bound.get("scale_factor"), mode, align, None)
            if like is not None and isinstance(op, Resample):  # an unmodelled mode is Opaque already
                op = Resample(op.mode, align_corners=op.align_corners, like=like)
        except BadArgument as exc:
            op = Opaque(f"interpolate: {exc}")
            ev.unknown(f"interpolate: {exc}", node)
        return ev.add_node(op, [x.node], "F.interpolate", node)

    return handler


def _size_of(size: Any) -> int | None:
    """``size=x.shape[-2:]`` (the spatial sizes of one map): that map's node, so that the
    resampling follows it whatever the input size."""
    if isinstance(size, (tuple, list)) and size and all(isinstance(d, (SizeValue, SymSize)) for d in size):
        nodes = {d.node for d in size}
        axes = [d.size.atoms for d in size]
        if len(nodes) == 1 and axes == [(("S", a, 1),) for a in range(len(size))] and all(d.size.coef == 1 for d in size):
            return size[0].node
    return None


FUNCTIONS["torch.nn.functional.interpolate"] = _interpolate()
FUNCTIONS["torch.nn.functional.upsample"] = _interpolate()
FUNCTIONS["torch.nn.functional.upsample_nearest"] = _interpolate("nearest", False)
FUNCTIONS["torch.nn.functional.upsample_bilinear"] = _interpolate("bilinear", True)


def _pad(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``F.pad``: pairs from the last dimension backwards. Padding a whole spatial axis (in
    whatever dimension the layout holds it: channels-last too) is a pad window on it;
    padding channels moves no position."""
    bound = dict(zip(("input", "pad", "mode", "value"), args))
    bound.update(kwargs)
    x = _tensor(ev, bound.get("input"), node)
    if isinstance(x, Unknown):
        return x
    pad = bound.get("pad")
    layout = ev.layout_of(x)
    n = ev.ndim
    try:
        pairs = pad_spec(pad, len(pad) // 2 if isinstance(pad, (list, tuple)) else n, "pad")  # first padded dim first
        per_axis = [(0, 0)] * n
        for dim, pair in zip(layout[len(layout) - len(pairs):], pairs):
            if pair == (0, 0):
                continue
            factors = dim.factors
            if len(factors) == 1 and factors[0].kind == "S" and factors[0].stride == 1 and factors[0].count is None and not dim.extra:
                per_axis[factors[0].axis] = pair
            elif lay.spatial_factors(dim) or dim.extra:
                raise BadArgument("pads part of a spatial axis")
        op: Any = Window("pad", (1,) * n, (1,) * n, (1,) * n, tuple(per_axis))
    except BadArgument as exc:
        op = Opaque(f"F.pad: {exc}")
    if isinstance(op, Window) and not any(any(p) for p in op.padding):
        return x
    return ev.add_node(op, [x.node], "F.pad", node, layout=x.layout)


FUNCTIONS["torch.nn.functional.pad"] = _pad


def _shuffle(cls: type, name: str) -> Handler:
    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        x = _tensor(ev, args[0] if args else kwargs.get("input"), node)
        if isinstance(x, Unknown):
            return x
        f = args[1] if len(args) > 1 else next(iter(kwargs.values()), None)
        if not isinstance(f, int):
            ev.unknown(f"{name}: factor is not known", node)
            return ev.add_node(Opaque(f"{name}: factor is not known"), [x.node], name, node)
        return ev.add_node(cls(f), [x.node], name, node)

    return handler


FUNCTIONS["torch.nn.functional.pixel_shuffle"] = _shuffle(PixelShuffle, "F.pixel_shuffle")
FUNCTIONS["torch.nn.functional.pixel_unshuffle"] = _shuffle(PixelUnshuffle, "F.pixel_unshuffle")
FUNCTIONS["torch.pixel_shuffle"] = FUNCTIONS["torch.nn.functional.pixel_shuffle"]
FUNCTIONS["torch.pixel_unshuffle"] = FUNCTIONS["torch.nn.functional.pixel_unshuffle"]


def _merge(kind: str, name: str) -> Handler:
    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        return ev.binary_tensor_op(kind, args[0], args[1] if len(args) > 1 else kwargs.get("other"), node, name)

    return handler


def _addcmul(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``torch.addcmul(a, b, c)`` is ``a + b * c``."""
    a, b, c = (list(args) + [kwargs.get("tensor1"), kwargs.get("tensor2")])[:3]
    return ev.binary_tensor_op("add", a, ev.binary_tensor_op("mul", b, c, node, "addcmul"), node, "addcmul")


FUNCTIONS["torch.addcmul"] = _addcmul
METHODS["addcmul"] = _addcmul
FUNCTIONS["torch.add"] = _merge("add", "torch.add")
FUNCTIONS["torch.sub"] = _merge("add", "torch.sub")
FUNCTIONS["torch.mul"] = _merge("mul", "torch.mul")
FUNCTIONS["torch.div"] = _merge("mul", "torch.div")
METHODS["add"] = _merge("add", "add")
METHODS["sub"] = _merge("add", "sub")
METHODS["mul"] = _merge("mul", "mul")
METHODS["div"] = _merge("mul", "div")


def _param(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``torch.randn(64, 3, 7, 7)``: a tensor whose values are not known, with its shape when
    the sizes are (constant ones, ``torch.ones(3, 3)``, are ``ConstTensor``s before this)."""
    sizes = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    known = sizes and all(isinstance(n, int) and not isinstance(n, bool) for n in sizes)
    return ParamValue("a tensor", tuple(sizes) if known else None)


for _name in ("ones", "zeros", "randn", "rand", "empty", "full", "ones_like", "zeros_like", "eye", "linspace"):
    FUNCTIONS[f"torch.{_name}"] = _param
FUNCTIONS["torch.full"] = lambda ev, args, kwargs, node: _param(ev, list(args[:1]), kwargs, node)


def _parameter(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``nn.Parameter(data, requires_grad=True)``. A learnable parameter keeps only its
    shape: its values change in training. With ``requires_grad=False`` it is the fixed
    tensor itself (a blur kernel held as a frozen parameter)."""
    bound = dict(zip(("data", "requires_grad"), args))
    bound.update(kwargs)
    data = bound.get("data")
    if bound.get("requires_grad", True) is False and isinstance(data, (ConstTensor, ParamValue)):
        return data
    return ParamValue("a parameter", consttensor.shape_of(data))


FUNCTIONS["torch.nn.Parameter"] = _parameter
FUNCTIONS["torch.nn.parameter.Parameter"] = _parameter

_SHAPE_METHODS: dict[str, Callable[[tuple[int, ...], list[Any]], tuple[int, ...] | None]] = {
    "view": lambda shape, a: consttensor.reshape_shape(shape, consttensor.sizes_arg(a)),
    "reshape": lambda shape, a: consttensor.reshape_shape(shape, consttensor.sizes_arg(a)),
    "repeat": lambda shape, a: consttensor.repeat_shape(shape, consttensor.sizes_arg(a)),
    "expand": lambda shape, a: consttensor.expand_shape(shape, consttensor.sizes_arg(a)),
    "unsqueeze": lambda shape, a: shape[: a[0] % (len(shape) + 1)] + (1,) + shape[a[0] % (len(shape) + 1):]
    if a and isinstance(a[0], int) else None,
    "repeat_interleave": lambda shape, a: _interleaved(shape, a),
    "flatten": lambda shape, a: _flattened_shape(shape, a),
}


def _interleaved(shape: tuple[int, ...], a: list[Any]) -> tuple[int, ...] | None:
    """The shape after ``repeat_interleave(r, dim)`` (an int ``r`` and a ``dim`` given)."""
    if len(a) < 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in a[:2]) or not shape:
        return None
    r, d = a[0], a[1] % len(shape)
    return shape[:d] + (shape[d] * r,) + shape[d + 1:]


def _flattened_shape(shape: tuple[int, ...], a: list[Any]) -> tuple[int, ...] | None:
    start = a[0] if a else 0
    end = a[1] if len(a) > 1 else -1
    if not shape or not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        return None
    s, e = start % len(shape), end % len(shape)
    if s > e:
        return None
    merged = 1
    for v in shape[s:e + 1]:
        merged *= v
    return shape[:s] + (merged,) + shape[e + 1:]


def param_attribute(p: ParamValue, name: str) -> Any:
    """``weight.shape``, ``weight.size(0)``, ``weight.repeat(c, 1, 1, 1)`` ... of a tensor whose
    values are not known: its shape where that is known, else the same tensor (combining
    it with a feature map keeps every position where it is)."""
    if name == "shape":
        return p.shape if p.shape is not None else _partial_shape(p)
    if name == "device":
        return tensor_shape.DEVICE
    if name == "dtype":
        return ExternalRef("torch.float32")
    if name == "size":
        return Builtin("Tensor.size", lambda ev, args, kwargs, n: _param_size(p, args))
    if name in ("reshape_as", "view_as", "expand_as"):
        return Builtin(f"Tensor.{name}", lambda ev, args, kwargs, n: ParamValue(p.what, consttensor.shape_of(args[0]) if args else None))
    if name in ("chunk", "split", "tensor_split", "unbind"):
        return Builtin(f"Tensor.{name}", lambda ev, args, kwargs, n: _param_pieces(p, name, list(args), kwargs))
    reshape = _SHAPE_METHODS.get(name)
    if reshape is not None:
        def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> Any:
            shape = reshape(p.shape, list(args)) if p.shape is not None else None
            if shape is None and name in ("view", "reshape"):
                return ParamValue(p.what, None, _kernel_of(consttensor.sizes_arg(list(args))))
            return ParamValue(p.what, shape)

        return Builtin(f"Tensor.{name}", impl)
    return Builtin(f"Tensor.{name}", lambda ev, args, kwargs, n: p)


def _param_pieces(p: ParamValue, how: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """``emb.chunk(2, -1)``, ``w.split(c, dim)``, ``t.unbind(0)`` of a tensor whose values are
    not known: the pieces, each with its shape (``sin, cos = emb.chunk(2, -1)``)."""
    if p.shape is None:
        count = args[0] if args else kwargs.get("chunks")
        if how == "chunk" and isinstance(count, int) and not isinstance(count, bool) and count > 0:
            return tuple(ParamValue(p.what) for _ in range(count))  # the pieces' shapes are not known either
        return Unknown(f"{how} of a tensor whose shape is not known")
    rank = len(p.shape)
    dim = (args[0] if args else kwargs.get("dim", 0)) if how == "unbind" else (args[1] if len(args) > 1 else kwargs.get("dim", 0))
    if not isinstance(dim, int) or isinstance(dim, bool) or not -rank <= dim < rank:
        return Unknown(f"{how} along a dimension that is not known")
    dim %= rank
    size = p.shape[dim]
    if how == "unbind":
        return tuple(ParamValue(p.what, p.shape[:dim] + p.shape[dim + 1:]) for _ in range(size))
    first = args[0] if args else kwargs.get("chunks", kwargs.get("split_size_or_sections", kwargs.get("sections")))
    if how == "chunk" and isinstance(first, int) and first > 0:
        step = -(-size // first)
        sizes = [min(step, size - i) for i in range(0, size, step)]
    elif how == "split" and isinstance(first, int) and first > 0:
        sizes = [min(first, size - i) for i in range(0, size, first)]
    elif how == "split" and isinstance(first, (list, tuple)) and all(isinstance(v, int) for v in first) and sum(first) == size:
        sizes = list(first)
    else:
        return Unknown(f"{how} with arguments rflint does not model")
    return tuple(ParamValue(p.what, p.shape[:dim] + (k,) + p.shape[dim + 1:]) for k in sizes)


def _kernel_of(sizes: list[Any]) -> tuple[int, ...] | None:
    """A conv weight reshaped to ``(B * out, in // groups, kh, kw)`` with a batch-sized
    first entry (CondConv's per-sample kernels): its kernel is the trailing numbers."""
    tail = sizes[2:]
    if tail and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in tail):
        return tuple(tail)
    return None


def _partial_shape(p: ParamValue) -> Any:
    """A conv weight's shape whose channel counts are not known: the counts are Unknown,
    the kernel is known (``weight.shape[-2:]`` for 'same' padding)."""
    if p.kernel is None:
        return Unknown("shape of a parameter")
    channels = Unknown(f"the channel counts of {p.what}")
    return (channels, channels, *p.kernel)


def _param_size(p: ParamValue, args: list[Any]) -> Any:
    shape = p.shape if p.shape is not None else _partial_shape(p)
    if isinstance(shape, Unknown):
        return shape
    if args and isinstance(args[0], int) and not isinstance(args[0], bool):
        return shape[args[0]] if -len(shape) <= args[0] < len(shape) else Unknown(f"dimension {args[0]} of {p.what}")
    return shape


_MAX_LIKE = frozenset({"amax", "amin", "max", "min"})


def _reduce(name: str) -> Handler:
    """``x.mean((2, 3))``: a reduction over every position is global pooling; over channels
    it keeps every position; over the offsets within blocks, pooling; over other parts of
    the positions, Opaque."""

    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        x = _tensor(ev, args[0] if args else None, node)
        if isinstance(x, Unknown):
            return x
        layout = ev.layout_of(x)
        rank = len(layout)
        dim = args[1] if len(args) > 1 else kwargs.get("dim", kwargs.get("axis"))
        keepdim = kwargs.get("keepdim", args[2] if len(args) > 2 and isinstance(args[2], bool) else False) is True
        dims = list(range(rank)) if dim is None else list(dim) if isinstance(dim, (list, tuple)) else [dim]
        if not all(isinstance(d, int) and not isinstance(d, bool) and -rank <= d < rank for d in dims):
            return ev.opaque(x, f"{name} over dims that are not known", node, name)
        dims = sorted({d % rank for d in dims})
        rest = tuple(Dim(()) if i in dims else d for i, d in enumerate(layout)) if keepdim else \
            tuple(d for i, d in enumerate(layout) if i not in dims)
        reduced = [f for i in dims for f in lay.spatial_factors(layout[i])]
        if not reduced and not any(layout[i].extra for i in dims):
            return ev.tensor(x.node, rest)
        if lay.complete_axes(tuple(layout[i] for i in dims), ev.ndim):
            if x.layout is None:
                return ev.add_node(Global(), [x.node], name, node)
            return ev.add_node(Global(), [x.node], name, node, layout=rest)
        blocks = lay.inner_blocks(layout, dims, ev.ndim)
        if blocks is not None and not any(layout[i].extra for i in dims):
            # Over the offsets within blocks whose positions are elsewhere (Hiera's unrolled
            # tokens, ``view(B, 4, -1, C).amax(1)``): a pooling with kernel = stride = w.
            w, relabelled = blocks
            rest = tuple(Dim(()) if i in dims else d for i, d in enumerate(relabelled)) if keepdim else \
                tuple(d for i, d in enumerate(relabelled) if i not in dims)
            n = ev.ndim
            kind = "max_pool" if name.rsplit(".", 1)[-1] in _MAX_LIKE else "avg_pool"
            return ev.add_node(Window(kind, w, w, (1,) * n, ((0, 0),) * n), [x.node], name, node, layout=rest)
        windows = lay.mixing_windows(layout, dims, ev.ndim)
        if windows is not None and any(w is None for w in windows):
            # Over the patches at each offset within them (MobileViT-v2's context): each value
            # reads positions across whole axes, a statistic like a gate's.
            return ev.mix(x, windows, node, name, rest)
        return ev.opaque(x, f"{name} over part of the positions", node, name)

    return handler


for _name in ("maximum", "minimum"):
    FUNCTIONS[f"torch.{_name}"] = _merge("add", f"torch.{_name}")
    METHODS[_name] = _merge("add", _name)


def _where(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``torch.where(cond, a, b)``: every output reads the same position of each."""
    out: Any = None
    for value in args[:3]:
        if isinstance(value, TensorValue):
            out = value if out is None else ev.binary_tensor_op("add", out, value, node, "torch.where")
    return out if out is not None else ev.unknown("torch.where of values that are not tensors", node)


FUNCTIONS["torch.where"] = _where


def _norm(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``x.norm(p, dim)``: a reduction like ``sum`` (its ``p`` comes first)."""
    dim = kwargs.pop("dim", args[2] if len(args) > 2 else None)
    return _reduce("norm")(ev, [args[0], dim] if dim is not None else [args[0]], kwargs, node)


for _name in ("mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp", "prod"):
    METHODS[_name] = _reduce(_name)
    FUNCTIONS[f"torch.{_name}"] = _reduce(f"torch.{_name}")





def _constant(value: Any) -> Handler:
    return lambda ev, args, kwargs, node: value


# torch's questions about how it runs, answered for the eager model at inference (what
# rflint reads), and calls that do nothing to the geometry.
for _path, _value in {
    "torch._assert": None, "torch._C._log_api_usage_once": None, "torch.jit.is_scripting": False,
    "torch.jit.is_tracing": False, "torch._dynamo.is_compiling": False, "torch.compiler.is_compiling": False,
    "torch.compiler.is_exporting": False, "torch.compiler.is_dynamo_compiling": False,
    "torch.is_grad_enabled": False, "torch.is_autocast_enabled": False, "torch.set_grad_enabled": None,
    "torch.manual_seed": None,
}.items():
    FUNCTIONS[_path] = _constant(_value)
FUNCTIONS["torch.jit.annotate"] = lambda ev, args, kwargs, node: args[1] if len(args) > 1 else None


def _is_tensor(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``torch.is_tensor(x)``: tensors of every kind the evaluator holds; not numbers or lists."""
    x = args[0] if args else kwargs.get("obj")
    if isinstance(x, Unknown):
        return x
    return isinstance(x, (TensorValue, ConstTensor, ParamValue))


FUNCTIONS["torch.is_tensor"] = _is_tensor

# The shape and layout operations, and attention and token mixing, register their handlers
# in FUNCTIONS and METHODS too.
from . import attention, tensor_shape  # noqa: E402,F401
METHODS["norm"] = _norm
FUNCTIONS["torch.norm"] = _norm
FUNCTIONS["torch.linalg.vector_norm"] = _norm
