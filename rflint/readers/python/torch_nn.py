"""``torch.nn`` layers, modelled exactly: constructor signatures and their geometry.

Each layer is a name, its constructor's parameters in order with their
defaults (as in PyTorch), and a function from the bound arguments to the IR
operator. Binding follows Python's rules, so positional and keyword forms,
and defaults, give the same layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

from ...ir import (
    EndSpatial,
    Global,
    Op,
    Opaque,
    PixelShuffle,
    PixelUnshuffle,
    Pointwise,
    Resample,
    TransposedConv,
    Window,
)
from .values import Unknown, first_unknown

_REQUIRED = object()


class BadArgument(Exception):
    """An argument the layer cannot take; the message names the parameter (torch raises a
    TypeError or ValueError there)."""


class UnknownArgument(BadArgument):
    """An argument whose value is not known: the layer's geometry is not either (not an
    error of the model's code)."""


@dataclass(frozen=True)
class LayerSpec:
    name: str
    params: tuple[str, ...]
    defaults: dict[str, Any]
    build: Callable[[dict[str, Any], int], tuple[Op, dict[str, Any]]]
    ndim: int = 0
    var_args: bool = False  # nn.Identity(*args, **kwargs)

    def bind(self, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Bind call arguments as Python would; raises BadArgument naming the parameter."""
        if len(args) > len(self.params) and not self.var_args:
            raise BadArgument(f"{self.name}() takes {len(self.params)} positional arguments, got {len(args)}")
        bound: dict[str, Any] = dict(zip(self.params, args))
        for key, value in kwargs.items():
            if key not in self.params:
                if self.var_args:
                    continue
                raise BadArgument(f"{self.name}() got an unexpected keyword argument '{key}'")
            if key in bound:
                raise BadArgument(f"{self.name}() got multiple values for argument '{key}'")
            bound[key] = value
        for name in self.params:
            if name not in bound:
                default = self.defaults.get(name, _REQUIRED)
                if default is _REQUIRED:
                    raise BadArgument(f"{self.name}() missing required argument '{name}'")
                bound[name] = default
        return bound


def ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """An int or a sequence of n ints, as PyTorch's ``_ntuple`` accepts."""
    if isinstance(value, Unknown):
        raise UnknownArgument(f"{name} is not known ({value.reason})")
    if isinstance(value, bool):
        raise BadArgument(f"{name} must be an int, got {value!r}")
    if isinstance(value, int):
        return (value,) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return tuple(value)
    u = first_unknown(value)
    if u:
        raise UnknownArgument(f"{name} is not known ({u.reason})")
    raise BadArgument(f"{name} must be an int or {n} ints, got {value!r}")


def _positive(values: tuple[int, ...], name: str, allow_zero: bool = False) -> tuple[int, ...]:
    for v in values:
        if v < 0 or (v == 0 and not allow_zero):
            raise BadArgument(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {v}")
    return values


def _channel_attrs(b: dict[str, Any], *names: tuple[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, param in names:
        v = b.get(param)
        if isinstance(v, int) and not isinstance(v, bool):
            out[attr] = v
    return out


def conv_padding(padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Resolve ``'same'``, ``'valid'``, an int or a tuple to (before, after) per axis.

    ``'same'`` pads ``d*(k-1)`` in all, the extra pixel on the far side, as
    PyTorch's ``Conv._conv_forward`` does; it requires stride 1.
    """
    n = len(kernel)
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        if any(s != 1 for s in stride):
            raise BadArgument("padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, str):
        raise BadArgument(f"padding must be 'same', 'valid' or ints, got {padding!r}")
    p = _positive(ntuple(padding, n, "padding"), "padding", allow_zero=True)
    return tuple((v, v) for v in p)


def _conv(n: int) -> Callable[[dict[str, Any], int], tuple[Op, dict[str, Any]]]:
    def build(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
        k = _positive(ntuple(b["kernel_size"], n, "kernel_size"), "kernel_size")
        s = _positive(ntuple(b["stride"], n, "stride"), "stride")
        d = _positive(ntuple(b["dilation"], n, "dilation"), "dilation")
        pads = conv_padding(b["padding"], k, s, d)
        attrs = _channel_attrs(b, ("in_channels", "in_channels"), ("out_channels", "out_channels"), ("groups", "groups"))
        if isinstance(b["padding_mode"], str):
            attrs["padding_mode"] = b["padding_mode"]
        return Window("conv", k, s, d, pads), attrs

    return build


def _conv_transpose(n: int) -> Callable[[dict[str, Any], int], tuple[Op, dict[str, Any]]]:
    def build(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
        k = _positive(ntuple(b["kernel_size"], n, "kernel_size"), "kernel_size")
        s = _positive(ntuple(b["stride"], n, "stride"), "stride")
        d = _positive(ntuple(b["dilation"], n, "dilation"), "dilation")
        p = _positive(ntuple(b["padding"], n, "padding"), "padding", allow_zero=True)
        op = _positive(ntuple(b["output_padding"], n, "output_padding"), "output_padding", allow_zero=True)
        for a in range(n):
            if op[a] >= max(s[a], d[a]):
                raise BadArgument("output_padding must be smaller than either stride or dilation")
        attrs = _channel_attrs(b, ("in_channels", "in_channels"), ("out_channels", "out_channels"), ("groups", "groups"))
        return TransposedConv(k, s, d, p, op), attrs

    return build


def _pool(kind: str, n: int, has_dilation: bool) -> Callable[[dict[str, Any], int], tuple[Op, dict[str, Any]]]:
    def build(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
        k = _positive(ntuple(b["kernel_size"], n, "kernel_size"), "kernel_size")
        stride = b["stride"]
        s = k if stride is None or stride == [] or stride == () else _positive(ntuple(stride, n, "stride"), "stride")
        d = _positive(ntuple(b["dilation"], n, "dilation"), "dilation") if has_dilation else (1,) * n
        p = _positive(ntuple(b.get("padding", 0), n, "padding"), "padding", allow_zero=True)
        for a in range(n):
            if p[a] > k[a] // 2:
                raise BadArgument("pad should be at most half of effective kernel size")
        ceil = b.get("ceil_mode", False)
        if not isinstance(ceil, bool):
            raise BadArgument(f"ceil_mode must be a bool, got {ceil!r}")
        attrs = {"count_include_pad": b["count_include_pad"]} if isinstance(b.get("count_include_pad"), bool) else {}
        return Window(kind, k, s, d, tuple((v, v) for v in p), ceil), attrs  # type: ignore[arg-type]

    return build


def _adaptive(b: dict[str, Any], n: int) -> tuple[Op, dict[str, Any]]:
    size = b["output_size"]
    out = None
    try:
        out = tuple(v if isinstance(v, int) else 0 for v in ((size,) * n if isinstance(size, int) else size))
    except TypeError:
        pass
    return Global(out), {}


def pad_spec(pad: Any, n: int, name: str = "padding") -> tuple[tuple[int, int], ...]:
    """PyTorch's pad order: an int for every side, or (left, right, top, bottom, ...)
    from the last axis backwards. Returns (before, after) per axis, first axis first."""
    if isinstance(pad, int) and not isinstance(pad, bool):
        return ((pad, pad),) * n
    u = first_unknown(pad)
    if u:
        raise UnknownArgument(f"{name} is not known ({u.reason})")
    if not isinstance(pad, (list, tuple)) or len(pad) % 2 or not all(isinstance(v, int) for v in pad):
        raise BadArgument(f"{name} must be an int or pairs of ints, got {pad!r}")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]  # last axis first
    if len(pairs) > n:
        raise BadArgument(f"{name} pads {len(pairs)} axes, the layer has {n}")
    pairs = pairs + [(0, 0)] * (n - len(pairs))
    return tuple(reversed(pairs))


def _pad(n: int) -> Callable[[dict[str, Any], int], tuple[Op, dict[str, Any]]]:
    def build(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
        pads = pad_spec(b["padding"], n)
        return Window("pad", (1,) * n, (1,) * n, (1,) * n, pads), {}

    return build


def resample(size: Any, scale: Any, mode: Any, align_corners: Any, n: int | None) -> Op:
    """Upsample / interpolate: the operator for a scale factor or a target size."""
    if not isinstance(mode, str):
        raise UnknownArgument(f"mode is not known ({getattr(mode, 'reason', mode)})")
    modes = {"nearest": "nearest", "nearest-exact": "nearest-exact", "linear": "linear", "bilinear": "linear",
             "trilinear": "linear", "bicubic": "cubic", "area": None}
    if mode not in modes:
        raise BadArgument(f"unknown interpolation mode {mode!r}")
    kind = modes[mode]
    if kind is None:
        return Opaque(f"interpolation mode {mode!r} is not modelled")
    if isinstance(align_corners, Unknown):
        raise UnknownArgument(f"align_corners is not known ({align_corners.reason})")
    ac = bool(align_corners) if kind in ("linear", "cubic") else False
    ndim = n or {"bilinear": 2, "trilinear": 3, "linear": 1}.get(mode, 2)
    if size is not None:
        return Resample(kind, size=ntuple(size, ndim, "size"), align_corners=ac)  # type: ignore[arg-type]
    if scale is None:
        raise BadArgument("either size or scale_factor must be given")
    u = first_unknown(scale)
    if u:
        raise UnknownArgument(f"scale_factor is not known ({u.reason})")
    scales = (scale,) * ndim if isinstance(scale, (int, float)) else tuple(scale)
    if len(scales) != ndim or not all(isinstance(v, (int, float)) and v > 0 for v in scales):
        raise BadArgument(f"scale_factor must be positive numbers, got {scale!r}")
    return Resample(kind, scale=tuple(Fraction(v).limit_denominator(1000) for v in scales), align_corners=ac)  # type: ignore[arg-type]


def _upsample(b: dict[str, Any], n: int) -> tuple[Op, dict[str, Any]]:
    return resample(b["size"], b["scale_factor"], b["mode"], b["align_corners"], None), {}


def _upsampling_nearest(b: dict[str, Any], n: int) -> tuple[Op, dict[str, Any]]:
    return resample(b["size"], b["scale_factor"], "nearest", False, 2), {}


def _upsampling_bilinear(b: dict[str, Any], n: int) -> tuple[Op, dict[str, Any]]:
    return resample(b["size"], b["scale_factor"], "bilinear", True, 2), {}


def _factor(param: str, cls: type) -> Callable[[dict[str, Any], int], tuple[Op, dict[str, Any]]]:
    def build(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
        f = ntuple(b[param], 1, param)[0]
        _positive((f,), param)
        return cls(f), {}

    return build


def _pointwise(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
    return Pointwise(), {}


def _end(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
    return EndSpatial(), {}


def _norm(channel_param: str) -> Callable[[dict[str, Any], int], tuple[Op, dict[str, Any]]]:
    def build(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
        return Pointwise(), _channel_attrs(b, ("num_features", channel_param))

    return build


LAYERS: dict[str, LayerSpec] = {}


def _add(name: str, params: str, defaults: dict[str, Any], build: Callable[..., Any], ndim: int = 0, var_args: bool = False) -> None:
    LAYERS[name] = LayerSpec(name, tuple(p.strip() for p in params.split(",") if p.strip()), defaults, build, ndim, var_args)


for _n in (1, 2, 3):
    _add(
        f"Conv{_n}d",
        "in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype",
        dict(stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode="zeros", device=None, dtype=None),
        _conv(_n), _n,
    )
    _add(
        f"ConvTranspose{_n}d",
        "in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation, padding_mode, device, dtype",
        dict(stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None),
        _conv_transpose(_n), _n,
    )
    _add(f"MaxPool{_n}d", "kernel_size, stride, padding, dilation, return_indices, ceil_mode",
         dict(stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False), _pool("max_pool", _n, True), _n)
    _add(f"AvgPool{_n}d", "kernel_size, stride, padding, ceil_mode, count_include_pad" + (", divisor_override" if _n > 1 else ""),
         dict(stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None), _pool("avg_pool", _n, False), _n)
    _add(f"LPPool{_n}d", "norm_type, kernel_size, stride, ceil_mode", dict(stride=None, ceil_mode=False), _pool("lp_pool", _n, False), _n)
    _add(f"AdaptiveAvgPool{_n}d", "output_size", {}, _adaptive, _n)
    _add(f"AdaptiveMaxPool{_n}d", "output_size, return_indices", dict(return_indices=False), _adaptive, _n)
    for _pad_name in ("ZeroPad", "ReflectionPad", "ReplicationPad", "CircularPad"):
        _add(f"{_pad_name}{_n}d", "padding", {}, _pad(_n), _n)
    _add(f"ConstantPad{_n}d", "padding, value", {}, _pad(_n), _n)
    _add(f"BatchNorm{_n}d", "num_features, eps, momentum, affine, track_running_stats, device, dtype",
         dict(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None), _norm("num_features"))
    _add(f"InstanceNorm{_n}d", "num_features, eps, momentum, affine, track_running_stats, device, dtype",
         dict(eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None, dtype=None), _norm("num_features"))
    _add(f"LazyConv{_n}d", "out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device, dtype",
         dict(stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode="zeros", device=None, dtype=None), _conv(_n), _n)

_add("SyncBatchNorm", "num_features, eps, momentum, affine, track_running_stats, process_group, device, dtype",
     dict(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, process_group=None, device=None, dtype=None), _norm("num_features"))
_add("GroupNorm", "num_groups, num_channels, eps, affine, device, dtype", dict(eps=1e-5, affine=True, device=None, dtype=None), _norm("num_channels"))
_add("LayerNorm", "normalized_shape, eps, elementwise_affine, bias, device, dtype",
     dict(eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None), _pointwise)
_add("LocalResponseNorm", "size, alpha, beta, k", dict(alpha=1e-4, beta=0.75, k=1.0), _pointwise)
_add("Upsample", "size, scale_factor, mode, align_corners, recompute_scale_factor",
     dict(size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None), _upsample)
_add("UpsamplingNearest2d", "size, scale_factor", dict(size=None, scale_factor=None), _upsampling_nearest, 2)
_add("UpsamplingBilinear2d", "size, scale_factor", dict(size=None, scale_factor=None), _upsampling_bilinear, 2)
_add("PixelShuffle", "upscale_factor", {}, _factor("upscale_factor", PixelShuffle), 2)
_add("PixelUnshuffle", "downscale_factor", {}, _factor("downscale_factor", PixelUnshuffle), 2)


def unfold_window(b: dict[str, Any], n: int = 2) -> tuple[Op, dict[str, Any]]:
    """``nn.Unfold`` / ``F.unfold``: every output position holds the k x k window it reads,
    its offsets as channels: as a whole, a window of the conv's geometry."""
    k = ntuple(b.get("kernel_size"), n, "kernel_size")
    d = ntuple(b.get("dilation", 1), n, "dilation")
    p = ntuple(b.get("padding", 0), n, "padding")
    s = ntuple(b.get("stride", 1), n, "stride")
    return Window("conv", k, s, d, tuple((v, v) for v in p)), {"unfold": True}


_add("Unfold", "kernel_size, dilation, padding, stride", dict(dilation=1, padding=0, stride=1), unfold_window, 2)
_add("Identity", "", {}, _pointwise, var_args=True)
_add("Flatten", "start_dim, end_dim", dict(start_dim=1, end_dim=-1), _end)
_add("Linear", "in_features, out_features, bias, device, dtype", dict(bias=True, device=None, dtype=None), _end)
_add("LazyLinear", "out_features, bias, device, dtype", dict(bias=True, device=None, dtype=None), _end)
_add("ChannelShuffle", "groups", {}, _pointwise)
_add("MultiheadAttention", "embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim, batch_first, device, dtype",
     dict(dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False,
          device=None, dtype=None), _pointwise)  # applied as attention (attention.multihead)

for _act in ("ReLU", "ReLU6", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid",
             "Hardtanh", "LeakyReLU", "PReLU", "ELU", "Softplus", "Softsign", "Tanhshrink", "LogSigmoid", "Softmax",
             "Softmax2d", "LogSoftmax", "Threshold", "RReLU", "GLU", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
             "AlphaDropout", "FeatureAlphaDropout"):
    _add(_act, "", {}, _pointwise, var_args=True)


def canonical_nn_name(path: str) -> str | None:
    """``torch.nn.Conv2d``, ``torch.nn.modules.conv.Conv2d`` -> ``Conv2d``; else None."""
    if not path.startswith("torch.nn."):
        return None
    name = path.rsplit(".", 1)[-1]
    return name if name in LAYERS or name in ("Sequential", "ModuleList", "ModuleDict", "Module") else None


# --------------------------------------------------------------------------- well-known blur layers
#
# Anti-aliasing layers from other packages, modelled here so that an isolated
# pre-commit environment without them gives the same answers. Each is a fixed,
# normalised low-pass filter: a Window conv marked ``blur``.


def _blur(kernel_param: str, default_stride: int, pads: Callable[[int, int, dict[str, Any]], tuple[int, int]]) -> Callable[[dict[str, Any], int], tuple[Op, dict[str, Any]]]:
    def build(b: dict[str, Any], _: int) -> tuple[Op, dict[str, Any]]:
        k = _positive(ntuple(b[kernel_param], 1, kernel_param), kernel_param)[0]
        s = _positive(ntuple(b.get("stride", default_stride), 1, "stride"), "stride")[0]
        before, after = pads(k, s, b)
        attrs: dict[str, Any] = {"blur": True}
        channels = b.get("channels")
        if isinstance(channels, int):
            attrs.update(in_channels=channels, out_channels=channels, groups=channels)
        return Window("conv", (k, k), (s, s), (1, 1), ((before, after),) * 2), attrs

    return build


def _antialiased_pads(k: int, s: int, b: dict[str, Any]) -> tuple[int, int]:
    """adobe/antialiased-cnns BlurPool: pad ``(k-1)//2`` before, ``ceil((k-1)/2)`` after, plus ``pad_off``."""
    off = b.get("pad_off", 0)
    if not isinstance(off, int):
        raise UnknownArgument(f"pad_off is not known ({off!r})")
    return (k - 1) // 2 + off, -(-(k - 1) // 2) + off


def _timm_pads(k: int, s: int, b: dict[str, Any]) -> tuple[int, int]:
    """timm BlurPool2d: ``get_padding(k, s) = ((s - 1) + (k - 1)) // 2`` on both sides."""
    p = ((s - 1) + (k - 1)) // 2
    return p, p


def _kornia_pads(k: int, s: int, b: dict[str, Any]) -> tuple[int, int]:
    """kornia BlurPool2D: zero padding ``(k - 1) // 2`` on both sides."""
    p = (k - 1) // 2
    return p, p


EXTERNAL_LAYERS: dict[str, LayerSpec] = {
    "antialiased_cnns.BlurPool": LayerSpec(
        "BlurPool", ("channels", "pad_type", "filt_size", "stride", "pad_off"),
        dict(pad_type="reflect", filt_size=4, stride=2, pad_off=0), _blur("filt_size", 2, _antialiased_pads), 2),
    "timm.layers.BlurPool2d": LayerSpec(
        "BlurPool2d", ("channels", "filt_size", "stride", "pad_mode"),
        dict(channels=None, filt_size=3, stride=2, pad_mode="reflect"), _blur("filt_size", 2, _timm_pads), 2),
    "kornia.filters.BlurPool2D": LayerSpec(
        "BlurPool2D", ("kernel_size", "stride"), dict(stride=2), _blur("kernel_size", 2, _kornia_pads), 2),
    # Quantization stubs (torchvision's quantizable models): observers of the values,
    # each position to itself.
    "torch.ao.quantization.QuantStub": LayerSpec("QuantStub", ("qconfig",), dict(qconfig=None), _pointwise),
    "torch.ao.quantization.DeQuantStub": LayerSpec("DeQuantStub", ("qconfig",), dict(qconfig=None), _pointwise),
}
_EXTERNAL_ALIASES = {
    "torch.quantization.QuantStub": "torch.ao.quantization.QuantStub",
    "torch.ao.quantization.stubs.QuantStub": "torch.ao.quantization.QuantStub",
    "torch.quantization.DeQuantStub": "torch.ao.quantization.DeQuantStub",
    "torch.ao.quantization.stubs.DeQuantStub": "torch.ao.quantization.DeQuantStub",
    "antialiased_cnns.blurpool.BlurPool": "antialiased_cnns.BlurPool",
    "timm.layers.blur_pool.BlurPool2d": "timm.layers.BlurPool2d",
    "timm.models.layers.BlurPool2d": "timm.layers.BlurPool2d",
    "kornia.filters.blur_pool.BlurPool2D": "kornia.filters.BlurPool2D",
    "kornia.filters.BlurPool2d": "kornia.filters.BlurPool2D",
}


def external_layer(path: str) -> LayerSpec | None:
    """The spec of a well-known layer from another package, by its import path."""
    return EXTERNAL_LAYERS.get(_EXTERNAL_ALIASES.get(path, path))


# --------------------------------------------------------------------------- the class hierarchy
#
# ``isinstance(m, nn.modules.batchnorm._BatchNorm)`` and ``issubclass(norm_layer,
# nn.BatchNorm2d)`` are how model code asks what a layer is (timm's norm and
# activation factories, weight initialisation). The bases are torch's own.

_BASES: dict[str, tuple[str, ...]] = {}
for _n in (1, 2, 3):
    _BASES[f"Conv{_n}d"] = ("_ConvNd",)
    _BASES[f"LazyConv{_n}d"] = (f"Conv{_n}d", "_ConvNd")
    _BASES[f"ConvTranspose{_n}d"] = ("_ConvTransposeNd", "_ConvNd")
    _BASES[f"BatchNorm{_n}d"] = ("_BatchNorm", "_NormBase")
    _BASES[f"InstanceNorm{_n}d"] = ("_InstanceNorm", "_NormBase")
    _BASES[f"MaxPool{_n}d"] = ("_MaxPoolNd",)
    _BASES[f"AvgPool{_n}d"] = ("_AvgPoolNd",)
    _BASES[f"AdaptiveAvgPool{_n}d"] = ("_AdaptiveAvgPoolNd",)
    _BASES[f"AdaptiveMaxPool{_n}d"] = ("_AdaptiveMaxPoolNd",)
    _BASES[f"Dropout{_n}d"] = ("_DropoutNd",)
    _BASES[f"ConstantPad{_n}d"] = ("_ConstantPadNd",)
    _BASES[f"ZeroPad{_n}d"] = (f"ConstantPad{_n}d", "_ConstantPadNd")
    _BASES[f"ReflectionPad{_n}d"] = ("_ReflectionPadNd",)
    _BASES[f"ReplicationPad{_n}d"] = ("_ReplicationPadNd",)
    _BASES[f"CircularPad{_n}d"] = ("_CircularPadNd",)
_BASES.update({
    "SyncBatchNorm": ("_BatchNorm", "_NormBase"), "_BatchNorm": ("_NormBase",), "_InstanceNorm": ("_NormBase",),
    "Dropout": ("_DropoutNd",), "AlphaDropout": ("_DropoutNd",), "FeatureAlphaDropout": ("_DropoutNd",),
    "LazyLinear": ("Linear",), "_ConvTransposeNd": ("_ConvNd",),
})


def is_torch_subclass(name: str, base: str) -> bool:
    """Whether torch.nn class ``name`` is ``base`` or derives from it (every one derives
    from ``Module``)."""
    return name == base or base == "Module" or base in _BASES.get(name, ())


# --------------------------------------------------------------------------- attributes of a built layer
#
# Model code reads a layer's attributes (``conv.kernel_size[0]``, ``conv.weight.shape``,
# ``bn.num_features``, ``conv.stride == (2, 2)``): torch stores some of the constructor's
# arguments normalised (a conv's ``kernel_size=3`` is ``(3, 3)``), and the parameters
# have shapes the constructor decides.

_TUPLED = {"kernel_size", "stride", "padding", "dilation", "output_padding"}
_MISSING = object()


def _conv_family(name: str) -> int | None:
    """The spatial rank of a conv or transposed conv layer name, else None."""
    for prefix in ("LazyConv", "ConvTranspose", "Conv"):
        if name.startswith(prefix) and name.endswith("d") and name[len(prefix):-1].isdigit():
            return int(name[len(prefix):-1])
    return None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parameter_shapes(name: str, bound: dict[str, Any]) -> dict[str, tuple[int, ...] | None]:
    """The shapes of a layer's parameters and buffers (None: the layer has none by that name)."""
    n = _conv_family(name)
    if n is not None:
        try:
            k = ntuple(bound.get("kernel_size"), n, "kernel_size")
        except BadArgument:
            return {}
        cin, cout, groups = bound.get("in_channels"), bound.get("out_channels"), bound.get("groups", 1)
        if not (_int(cout) and _int(groups) and (_int(cin) or name.startswith("Lazy"))):
            return {}
        if name.startswith("ConvTranspose"):
            weight = (cin, cout // groups, *k)
        else:
            weight = (cout, cin // groups if _int(cin) else 0, *k)
        return {"weight": weight, "bias": (cout,) if bound.get("bias", True) else None}
    if name in ("Linear", "LazyLinear"):
        cin, cout = bound.get("in_features"), bound.get("out_features")
        if not _int(cout):
            return {}
        return {"weight": (cout, cin if _int(cin) else 0), "bias": (cout,) if bound.get("bias", True) else None}
    c = bound.get("num_features", bound.get("num_channels"))
    if _int(c) and ("Norm" in name):
        affine = bound.get("affine", True) is not False
        shapes: dict[str, tuple[int, ...] | None] = {"weight": (c,) if affine else None, "bias": (c,) if affine else None}
        if bound.get("track_running_stats", "Instance" not in name) is not False:
            shapes.update(running_mean=(c,), running_var=(c,))
        return shapes
    if name == "LayerNorm":
        shape = bound.get("normalized_shape")
        shape = (shape,) if _int(shape) else tuple(shape) if isinstance(shape, (list, tuple)) else None
        if shape is None:
            return {}
        affine = bound.get("elementwise_affine", True) is not False
        return {"weight": shape if affine else None, "bias": shape if affine and bound.get("bias", True) else None}
    return {}


def weight_kernel(name: str, bound: dict[str, Any]) -> tuple[int, ...] | None:
    """A conv layer's kernel size, which its weight's trailing dimensions are even when
    its channel counts are not known (``F.conv2d(x, self.weight, ...)`` of a Conv2d
    subclass with symbolic channels)."""
    n = _conv_family(name)
    if n is None:
        return None
    try:
        return ntuple(bound.get("kernel_size"), n, "kernel_size")
    except BadArgument:
        return None


def layer_attribute(name: str, bound: dict[str, Any], attr: str) -> Any:
    """``layer.attr`` of a modelled layer as torch stores it; ``_MISSING`` when it has none
    the model knows of (parameters are handled by the caller, from ``parameter_shapes``)."""
    spec = LAYERS.get(name)
    n = _conv_family(name)
    if attr in bound:
        value = bound[attr]
        if n is not None and attr in _TUPLED and not isinstance(value, str):
            try:
                return ntuple(value, n, attr)
            except BadArgument:
                return value
        if attr == "stride" and name.startswith(("MaxPool", "AvgPool")) and value in (None, (), []):
            return bound.get("kernel_size")
        if attr == "normalized_shape" and _int(value):
            return (value,)
        return value
    if n is not None and attr == "transposed":
        return name.startswith("ConvTranspose")
    if attr == "inplace" and spec is not None and spec.var_args:
        return False
    if attr == "training":
        return False
    return _MISSING


MISSING_ATTRIBUTE = _MISSING
