"""rflint stand-in for timm.layers: the building blocks model code imports, with timm's
constructor signatures and layer geometry (never imported; read by rflint only).
BlurPool2d comes from rflint's own model of the blur layers."""


import torch
import torch.nn as nn

from .blur_pool import BlurPool2d

_ACTS = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
    "silu": nn.SiLU, "swish": nn.SiLU, "mish": nn.Mish, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
    "hard_sigmoid": nn.Hardsigmoid, "hard_swish": nn.Hardswish, "prelu": nn.PReLU, "identity": nn.Identity,
}


def to_2tuple(x):
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x, x)


def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def get_act_layer(name="relu"):
    if name is None:
        return None
    if isinstance(name, str):
        return _ACTS[name] if name in _ACTS else nn.ReLU
    return name


def create_act_layer(name, inplace=None, **kwargs):
    act = get_act_layer(name)
    if act is None:
        return None
    return act()


def get_padding(kernel_size, stride=1, dilation=1):
    return ((stride - 1) + dilation * (kernel_size - 1)) // 2


def create_conv2d(in_channels, out_channels, kernel_size, **kwargs):
    """timm's factory: symmetric padding by default ('' or None); 'valid'; 'same' at stride 1
    is static. TF-style dynamic 'same' at stride > 1 depends on the input size."""
    depthwise = kwargs.pop("depthwise", False)
    groups = in_channels if depthwise else kwargs.pop("groups", 1)
    stride = kwargs.pop("stride", 1)
    dilation = kwargs.pop("dilation", 1)
    padding = kwargs.pop("padding", "")
    bias = kwargs.pop("bias", False)
    if isinstance(kernel_size, list):
        return MixedConv2d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation,
                           padding=padding, depthwise=depthwise)
    if padding == "" or padding is None:
        padding = get_padding(kernel_size, stride, dilation)
    elif padding == "valid":
        padding = 0
    elif padding == "same":
        if stride == 1:
            padding = get_padding(kernel_size, stride, dilation)
        else:
            return Conv2dSame(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation,
                              groups=groups, bias=bias)
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                     groups=groups, bias=bias)


class Conv2dSame(nn.Module):
    """TF 'same' padding at stride > 1: the padding depends on the input size, which a
    static read does not know."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__()
        self.kernel_size = kernel_size

    def forward(self, x):
        return tf_same_padding_depends_on_input_size(x)


class MixedConv2d(nn.ModuleDict):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding="", dilation=1, depthwise=False):
        super().__init__()
        for idx, k in enumerate(kernel_size):
            self.add_module(str(idx), create_conv2d(in_channels, out_channels, k, stride=stride, padding=padding,
                                                    dilation=dilation, depthwise=depthwise))

    def forward(self, x):
        outs = [conv(x) for conv in self.values()]
        return torch.cat(outs, 1)


class BatchNormAct2d(nn.Sequential):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 apply_act=True, act_layer=nn.ReLU, act_kwargs=None, inplace=True, drop_layer=None, device=None,
                 dtype=None):
        act = get_act_layer(act_layer)
        super().__init__(nn.BatchNorm2d(num_features, eps, momentum, affine, track_running_stats),
                         act() if apply_act and act is not None else nn.Identity())


def create_aa(aa_layer, channels, stride=2, enable=True, noop=nn.Identity):
    if not aa_layer or not enable:
        return noop() if noop is not None else None
    if isinstance(aa_layer, str):
        if aa_layer in ("avg", "avgpool"):
            return nn.AvgPool2d(2, stride)
        return BlurPool2d(channels, stride=stride)
    return aa_layer(channels=channels, stride=stride)


class ConvNormAct(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=1, stride=1, padding="", dilation=1, groups=1,
                 bias=False, apply_norm=True, apply_act=True, norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU,
                 aa_layer=None, drop_layer=None, conv_kwargs=None, norm_kwargs=None, act_kwargs=None):
        super().__init__()
        use_aa = aa_layer is not None and stride > 1
        self.conv = create_conv2d(in_channels, out_channels, kernel_size, stride=1 if use_aa else stride,
                                  padding=padding, dilation=dilation, groups=groups, bias=bias)
        self.bn = norm_layer(out_channels) if apply_norm else nn.Identity()
        act = get_act_layer(act_layer)
        self.act = act() if apply_act and act is not None else nn.Identity()
        self.aa = create_aa(aa_layer, out_channels, stride=stride, enable=use_aa)

    def forward(self, x):
        return self.aa(self.act(self.bn(self.conv(x))))


ConvBnAct = ConvNormAct


class SEModule(nn.Module):
    """Squeeze-and-excitation: a global gate; the output keeps the input's local frame."""

    def __init__(self, channels, rd_ratio=1.0 / 16, rd_channels=None, rd_divisor=8, add_maxpool=False, bias=True,
                 act_layer=nn.ReLU, norm_layer=None, gate_layer="sigmoid"):
        super().__init__()
        rd_channels = rd_channels or make_divisible(channels * rd_ratio, rd_divisor, round_limit=0.0)
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=bias)
        self.act = create_act_layer(act_layer)
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=bias)
        self.gate = create_act_layer(gate_layer)

    def forward(self, x):
        x_se = x.mean((2, 3), keepdim=True)
        x_se = self.fc2(self.act(self.fc1(x_se)))
        return x * self.gate(x_se)


SqueezeExcite = SEModule


class DropPath(nn.Module):
    """Stochastic depth: the identity at inference."""

    def __init__(self, drop_prob=0.0, scale_by_keep=True):
        super().__init__()

    def forward(self, x):
        return x


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    return tensor
