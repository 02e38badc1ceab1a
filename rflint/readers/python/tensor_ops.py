"""Functions and tensor methods that ``forward`` code calls, modelled on symbolic tensors.

A handler receives the evaluator, the call's positional and keyword
arguments and the call's AST node, and returns a TensorValue (a new graph
node, or the same tensor for operations that keep every position), or an
Unknown that says why.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any, Callable

from ...ir import EndSpatial, Global, Merge, Opaque, PixelShuffle, PixelUnshuffle, Resample, Window
from . import consttensor
from .consttensor import ConstTensor
from .torch_nn import LAYERS, BadArgument, LayerSpec, conv_padding, ntuple, pad_spec, resample
from .values import Builtin, ParamValue, SymDim, SymShape, TensorValue, Unknown

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
""".split()
_SAME_TENSOR_METHODS = """
contiguous clone float half double bfloat16 to type type_as detach cpu cuda requires_grad_ relu relu_ sigmoid
sigmoid_ tanh tanh_ clamp clamp_ clip abs exp log neg sqrt rsqrt pow softmax log_softmax mul_ add_ div_ sub_
""".split()


def _tensor(ev: "Evaluator", value: Any, node: ast.AST) -> TensorValue | Unknown:
    return ev.as_tensor(value, node)


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
        try:
            bound = spec.bind(list(args[1:]), dict(kwargs))
            op, attrs = spec.build(bound, spec.ndim)
        except BadArgument as exc:
            op, attrs = Opaque(f"{type_name}: {exc}"), {}
            ev.unknown(f"{type_name}: {exc}", node)
        attrs.update(ev.call_spans(node, spec.params, offset=1))
        out = ev.add_node(op, [x.node], type_name, node, attrs)
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
for _name in _SAME_TENSOR_METHODS:
    METHODS[_name] = _same


def conv_window(weight: Any, bound: dict[str, Any], n: int) -> tuple[Window, dict[str, Any]]:
    """The Window of ``F.conv{n}d(x, weight, bias, stride, padding, dilation, groups)``: the
    kernel size from the weight's shape, the rest from the call. A fixed weight (a
    constant or a buffer) that is a normalised non-negative depthwise kernel marks the
    layer a blur (RULES.md); a learnable one never is. Raises BadArgument."""
    shape = consttensor.shape_of(weight)
    if shape is None:
        why = f" ({weight.reason})" if isinstance(weight, Unknown) else ""
        raise BadArgument(f"the weight's shape is not known{why}")
    if len(shape) != n + 2:
        raise BadArgument(f"a weight of shape {shape} for a {n}-D convolution")
    kernel = shape[2:]
    stride = ntuple(bound.get("stride", 1), n, "stride")
    dilation = ntuple(bound.get("dilation", 1), n, "dilation")
    window = Window("conv", kernel, stride, dilation, conv_padding(bound.get("padding", 0), kernel, stride, dilation))
    attrs: dict[str, Any] = {"out_channels": shape[0]}
    groups = bound.get("groups", 1)
    if isinstance(groups, int) and not isinstance(groups, bool):
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
        try:
            op, attrs = conv_window(bound.get("weight"), bound, n)
        except BadArgument as exc:
            reason = f"{name}: {exc}"
            ev.unknown(reason, node)
            return ev.add_node(Opaque(reason), [x.node], name, node)
        return ev.add_node(op, [x.node], name, node, attrs)

    return handler


for _n in (1, 2, 3):
    FUNCTIONS[f"torch.nn.functional.conv{_n}d"] = _functional_conv(_n)
    FUNCTIONS[f"torch.conv{_n}d"] = FUNCTIONS[f"torch.nn.functional.conv{_n}d"]


def _interpolate(default_mode: str | None = None, default_align: bool | None = None) -> Handler:
    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        params = ("input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias")
        if default_mode is not None:
            params = ("input", "size", "scale_factor")
        bound = dict(zip(params, args))
        bound.update(kwargs)
        x = _tensor(ev, bound.get("input"), node)
        if isinstance(x, Unknown):
            return x
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
    """``size=x.shape[-2:]`` (the trailing sizes of one tensor): that tensor's node."""
    if isinstance(size, (tuple, list)) and size and all(isinstance(d, SymDim) for d in size):
        nodes = {d.node for d in size}
        ends = [d.from_end() for d in size]
        if len(nodes) == 1 and ends == list(range(-len(size), 0)):
            return size[0].node
    return None


FUNCTIONS["torch.nn.functional.interpolate"] = _interpolate()
FUNCTIONS["torch.nn.functional.upsample"] = _interpolate()
FUNCTIONS["torch.nn.functional.upsample_nearest"] = _interpolate("nearest", False)
FUNCTIONS["torch.nn.functional.upsample_bilinear"] = _interpolate("bilinear", True)


def _pad(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    bound = dict(zip(("input", "pad", "mode", "value"), args))
    bound.update(kwargs)
    x = _tensor(ev, bound.get("input"), node)
    if isinstance(x, Unknown):
        return x
    pad = bound.get("pad")
    n = len(pad) // 2 if isinstance(pad, (list, tuple)) else 2
    try:
        pads = pad_spec(pad, n, "pad")
        op: Any = Window("pad", (1,) * n, (1,) * n, (1,) * n, pads)
    except BadArgument as exc:
        op = Opaque(f"F.pad: {exc}")
        ev.unknown(f"F.pad: {exc}", node)
    return ev.add_node(op, [x.node], "F.pad", node)


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


def _cat(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    tensors = args[0] if args else kwargs.get("tensors")
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    if not isinstance(tensors, (list, tuple)) or not tensors:
        return ev.unknown("torch.cat of a sequence that is not known", node)
    xs = [_tensor(ev, t, node) for t in tensors]
    bad = next((x for x in xs if isinstance(x, Unknown)), None)
    if bad:
        return bad
    inputs = [x.node for x in xs if isinstance(x, TensorValue)]
    if dim == 1:
        return ev.add_node(Merge("concat"), inputs, "torch.cat", node)
    return ev.add_node(Opaque(f"torch.cat along dim {dim!r} (only channel concat keeps the frame)"), inputs, "torch.cat", node)


FUNCTIONS["torch.cat"] = _cat
FUNCTIONS["torch.concat"] = _cat
FUNCTIONS["torch.concatenate"] = _cat


def _merge(kind: str, name: str) -> Handler:
    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        return ev.binary_tensor_op(kind, args[0], args[1] if len(args) > 1 else kwargs.get("other"), node, name)

    return handler


FUNCTIONS["torch.add"] = _merge("add", "torch.add")
FUNCTIONS["torch.sub"] = _merge("add", "torch.sub")
FUNCTIONS["torch.mul"] = _merge("mul", "torch.mul")
FUNCTIONS["torch.div"] = _merge("mul", "torch.div")
METHODS["add"] = _merge("add", "add")
METHODS["sub"] = _merge("add", "sub")
METHODS["mul"] = _merge("mul", "mul")
METHODS["div"] = _merge("mul", "div")


def _end(name: str) -> Handler:
    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        x = _tensor(ev, args[0] if args else None, node)
        if isinstance(x, Unknown):
            return x
        return ev.add_node(EndSpatial(), [x.node], name, node)

    return handler


FUNCTIONS["torch.flatten"] = _end("torch.flatten")
METHODS["flatten"] = _end("flatten")


def _keeps_spatial(shape: list[Any], source: TensorValue) -> int:
    """How many trailing entries of a new shape are the source's own trailing sizes
    (``x.view(b, g, c // g, h, w)`` with ``h, w`` from ``x.size()``); 0 when none."""
    k = 0
    for dim in reversed(shape):
        if isinstance(dim, SymDim) and dim.node == source.node and dim.from_end() == -(k + 1):
            k += 1
        else:
            break
    return k


def _reshape(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _tensor(ev, args[0], node)
    if isinstance(x, Unknown):
        return x
    shape = list(args[1:])
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = list(shape[0])
    kept = _keeps_spatial(shape, x)
    if kept >= 1:
        # Batch and channel dimensions regrouped, the spatial ones untouched: the frame stays.
        layout = ("N",) + ("C",) * (len(shape) - 1 - kept) + tuple(f"S{i}" for i in range(kept))
        return TensorValue(x.node, layout)
    if len(shape) <= 2:
        return ev.add_node(EndSpatial(), [x.node], "reshape", node)
    return ev.add_node(Opaque("view/reshape to a shape rflint cannot relate to the input's"), [x.node], "reshape", node)


def _roles(x: TensorValue, rank: int) -> tuple[str, ...]:
    if x.layout is not None and len(x.layout) == rank:
        return x.layout
    return ("N", "C") + tuple(f"S{i}" for i in range(rank - 2))


def _reorder(ev: "Evaluator", x: TensorValue, order: list[int], node: ast.Call, name: str) -> Any:
    """permute/transpose: a new layout; the frame stays unless spatial axes change order."""
    rank = len(order)
    roles = _roles(x, rank)
    try:
        new = tuple(roles[i] for i in order)
    except (IndexError, TypeError):
        return ev.add_node(Opaque(f"{name} with dimensions rflint cannot read"), [x.node], name, node)
    if [r for r in new if r.startswith("S")] != [r for r in roles if r.startswith("S")]:
        return ev.add_node(Opaque(f"{name} reorders the spatial axes"), [x.node], name, node)
    return TensorValue(x.node, new)


def _permute(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _tensor(ev, args[0], node)
    if isinstance(x, Unknown):
        return x
    dims = args[1:] or [kwargs.get("dims")]
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = list(dims[0])
    if not all(isinstance(d, int) for d in dims):
        return ev.add_node(Opaque("permute with dimensions that are not known"), [x.node], "permute", node)
    rank = len(dims)
    return _reorder(ev, x, [d % rank for d in dims], node, "permute")


def _transpose(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _tensor(ev, args[0], node)
    if isinstance(x, Unknown):
        return x
    a, b = (args[1:3] + [kwargs.get("dim0"), kwargs.get("dim1")])[:2]
    if not (isinstance(a, int) and isinstance(b, int)):
        return ev.add_node(Opaque("transpose of dimensions that are not known"), [x.node], "transpose", node)
    rank = len(x.layout) if x.layout is not None else None
    if rank is None:
        if a in (0, 1) and b in (0, 1):
            return x  # batch and channels
        return ev.add_node(Opaque("transpose involving a spatial axis"), [x.node], "transpose", node)
    order = list(range(rank))
    order[a % rank], order[b % rank] = order[b % rank], order[a % rank]
    return _reorder(ev, x, order, node, "transpose")


def _chunk(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``x.chunk(2, dim=1)`` / ``x.split(c, dim=1)``: channel groups keep every position."""
    x = _tensor(ev, args[0], node)
    if isinstance(x, Unknown):
        return x
    spec = args[1] if len(args) > 1 else kwargs.get("chunks", kwargs.get("split_size_or_sections"))
    dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    if dim not in (0, 1):
        return ev.unknown(f"split along dim {dim!r} (only channel splits keep the frame)", node)
    if isinstance(spec, (list, tuple)):
        return tuple(x for _ in spec)
    if isinstance(spec, int) and node.func is not None and getattr(node.func, "attr", getattr(node.func, "id", "")) == "chunk":
        return tuple(x for _ in range(spec))
    return ev.unknown("split into a number of parts that depends on the channel count", node)


for _name, _handler in (("permute", _permute), ("transpose", _transpose), ("chunk", _chunk), ("split", _chunk)):
    METHODS[_name] = _handler
    FUNCTIONS[f"torch.{_name}"] = _handler
METHODS["swapaxes"] = METHODS["transpose"]


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
}


def param_attribute(p: ParamValue, name: str) -> Any:
    """``weight.shape``, ``weight.size(0)``, ``weight.repeat(c, 1, 1, 1)`` ... of a tensor whose
    values are not known: its shape where that is known, else the same tensor (combining
    it with a feature map keeps every position where it is)."""
    if name == "shape":
        return p.shape if p.shape is not None else Unknown("shape of a parameter")
    if name == "size":
        return Builtin("Tensor.size", lambda ev, args, kwargs, n: _param_size(p, args))
    reshape = _SHAPE_METHODS.get(name)
    if reshape is not None:
        def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> Any:
            return ParamValue(p.what, reshape(p.shape, list(args)) if p.shape is not None else None)

        return Builtin(f"Tensor.{name}", impl)
    return Builtin(f"Tensor.{name}", lambda ev, args, kwargs, n: p)


def _param_size(p: ParamValue, args: list[Any]) -> Any:
    if p.shape is None:
        return Unknown("shape of a parameter")
    return p.shape[args[0]] if args and isinstance(args[0], int) else p.shape


METHODS["view"] = _reshape
METHODS["reshape"] = _reshape


def _reduce(name: str) -> Handler:
    """``x.mean((2, 3))``: a reduction over the spatial axes is global pooling."""

    def handler(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        x = _tensor(ev, args[0] if args else None, node)
        if isinstance(x, Unknown):
            return x
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        dims = dim if isinstance(dim, (list, tuple)) else (dim,)
        if dim is None or any(isinstance(d, int) and (d >= 2 or d < 0) for d in dims):
            return ev.add_node(Global(), [x.node], name, node)
        if all(isinstance(d, int) for d in dims):
            return x  # a channel or batch reduction keeps positions
        return ev.add_node(Opaque(f"{name} over dims that are not known"), [x.node], name, node)

    return handler


for _name in ("mean", "sum", "amax", "amin", "max", "min", "std", "var", "logsumexp"):
    METHODS[_name] = _reduce(_name)
    FUNCTIONS[f"torch.{_name}"] = _reduce(f"torch.{_name}")


def _size(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = args[0]
    if not isinstance(x, TensorValue):
        return Unknown("size of a value that is not a tensor")
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if isinstance(dim, int):
        return SymDim(x.node, dim)
    return SymShape(x.node)


METHODS["size"] = _size
METHODS["dim"] = lambda ev, args, kwargs, node: Unknown("tensor rank is symbolic")



def _constant(value: Any) -> Handler:
    return lambda ev, args, kwargs, node: value


# torch's questions about how it runs, answered for the eager model at inference (what
# rflint reads), and calls that do nothing to the geometry.
for _path, _value in {
    "torch._assert": None, "torch._C._log_api_usage_once": None, "torch.jit.is_scripting": False,
    "torch.jit.is_tracing": False, "torch._dynamo.is_compiling": False, "torch.compiler.is_compiling": False,
    "torch.is_grad_enabled": False, "torch.is_autocast_enabled": False, "torch.set_grad_enabled": None,
    "torch.manual_seed": None,
}.items():
    FUNCTIONS[_path] = _constant(_value)
FUNCTIONS["torch.jit.annotate"] = lambda ev, args, kwargs, node: args[1] if len(args) > 1 else None
