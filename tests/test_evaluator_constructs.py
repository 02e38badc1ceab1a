"""The static evaluator, one language construct at a time.

Each case builds a model whose layer geometry depends on the construct being
evaluated correctly: if the construct were not modelled, the layer would be
missing, Unknown (Opaque) or have other numbers, and the assertion fails.
Expected values are written by hand in each case.
"""

from __future__ import annotations

import textwrap

import pytest

from rflint.analysis import analyse
from rflint.ir import Opaque, Window
from rflint.readers.python import build_entry

HEADER = """\
import math
import re
import torch
import torch.nn as nn
import torch.nn.functional as F
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
"""


def build(body: str, entry: str = "M"):
    src = HEADER + textwrap.dedent(body)
    return build_entry("m.py", src, entry).graph


def kernels(g) -> list[tuple[int, ...]]:
    """Kernel sizes of the conv layers, in forward order (fails on an Opaque layer)."""
    assert not [n for n in g.nodes if isinstance(n.op, Opaque)], [n.op for n in g.nodes if isinstance(n.op, Opaque)]
    return [n.op.kernel for n in g.nodes if isinstance(n.op, Window) and n.op.kind == "conv"]


CASES = {
    "assignment forms and augmented assignment": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                a, (b, *rest) = 1, (3, 5, 7)
                k = a
                k += b * 2          # 7
                self.c = nn.Conv2d(1, 1, k)
                self.d = nn.Conv2d(1, 1, rest[-1])   # 7
            def forward(self, x):
                return self.d(self.c(x))
    """, [(7, 7), (7, 7)]),
    "if / elif / else on constructor arguments": ("""
        class M(nn.Module):
            def __init__(self, mode="b"):
                super().__init__()
                if mode == "a":
                    k = 1
                elif mode == "b":
                    k = 5
                else:
                    k = 9
                self.c = nn.Conv2d(1, 1, k)
            def forward(self, x):
                return self.c(x)
    """, [(5, 5)]),
    "for over range, zip, enumerate, dict items; list append/extend/insert": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                layers = []
                for i, (k, d) in enumerate(zip([3, 5], [1, 2])):
                    layers.append(nn.Conv2d(1, 1, k, dilation=d))
                for name, k in {"x": 7}.items():
                    layers.extend([nn.Conv2d(1, 1, k)])
                layers.insert(0, nn.Conv2d(1, 1, 1))
                for _ in range(2):
                    layers.append(nn.Conv2d(1, 1, 9))
                self.body = nn.Sequential(*layers)
            def forward(self, x):
                return self.body(x)
    """, [(1, 1), (3, 3), (5, 5), (7, 7), (9, 9), (9, 9)]),
    "comprehensions and while under a budget": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                sizes = [k for k in range(1, 8) if k % 2 == 1 and k > 1]     # 3, 5, 7
                n = 1
                while n < 100:
                    n *= 3                                                   # 243
                self.convs = nn.ModuleList([nn.Conv2d(1, 1, k) for k in sizes])
                self.last = nn.Conv2d(1, 1, n % 10)                          # 3
            def forward(self, x):
                for conv in self.convs:
                    x = conv(x)
                return self.last(x)
    """, [(3, 3), (5, 5), (7, 7), (3, 3)]),
    "functions with defaults, keyword-only parameters, *args and **kwargs": ("""
        def make(*ks, scale=1, **extra):
            return [nn.Conv2d(1, 1, k * scale, **extra) for k in ks]

        def pick(a, b=2, *, c):
            return a + b + c

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                opts = {"padding": 1}
                self.body = nn.Sequential(*make(1, 2, scale=pick(1, c=0), **opts))   # scale 3: 3, 6
            def forward(self, x):
                return self.body(x)
    """, [(3, 3), (6, 6)]),
    "functools.partial norm layers and helper factories": ("""
        def conv_bn(cin, cout, k, norm=partial(nn.BatchNorm2d, eps=1e-3)):
            return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), norm(cout))

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = conv_bn(3, 8, 5)
            def forward(self, x):
                return self.a(x)
    """, [(5, 5)]),
    "add_module, setattr and f-string names; ModuleDict": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                for i, k in enumerate((3, 5)):
                    setattr(self, f"stage{i + 1}", nn.Conv2d(1, 1, k))
                self.add_module("extra", nn.Conv2d(1, 1, 7))
                self.heads = nn.ModuleDict({"cls": nn.Conv2d(1, 1, 1)})
            def forward(self, x):
                x = getattr(self, "stage1")(x)
                x = self.stage2(x)
                return self.heads["cls"](self.extra(x))
    """, [(3, 3), (5, 5), (7, 7), (1, 1)]),
    "math, builtins and make_divisible": ("""
        def make_divisible(v, divisor=8, min_value=None):
            min_value = min_value or divisor
            new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
            if new_v < 0.9 * v:
                new_v += divisor
            return new_v

        class M(nn.Module):
            def __init__(self, width=1.4):
                super().__init__()
                c = make_divisible(32 * width)                      # int(44.8 + 4) // 8 * 8 = 48
                k = int(math.sqrt(c - 23)) + round(0.6) + len([1, 2]) - min(2, 3) + sum([0])  # 5 + 1 + 2 - 2 = 6
                self.c = nn.Conv2d(3, c, k)
            def forward(self, x):
                return self.c(x)
    """, [(6, 6)]),
    "string methods and re to decode an architecture string": ("""
        def decode(arch):
            kernels = []
            for block in arch.split("__"):
                ops = block.split("_")
                m = re.match(r"k(\\d+)", ops[1])
                kernels.append(int(m.group(1)))
            return kernels

        class M(nn.Module):
            def __init__(self, arch="ir_k3_s1__ir_k5_s2"):
                super().__init__()
                self.body = nn.Sequential(*[nn.Conv2d(1, 1, k, padding=k // 2) for k in decode(arch.lower())])
            def forward(self, x):
                return self.body(x)
    """, [(3, 3), (5, 5)]),
    "@dataclass configs with field() and __post_init__": ("""
        @dataclass
        class Cfg:
            kernel: int
            depth: int = 2
            dils: list = field(default_factory=lambda: [1, 2])

            def __post_init__(self):
                self.kernel = self.kernel + 2

        class M(nn.Module):
            def __init__(self, cfg=Cfg(3)):
                super().__init__()
                self.body = nn.Sequential(*[nn.Conv2d(1, 1, cfg.kernel, dilation=d) for d in cfg.dils[:cfg.depth]])
            def forward(self, x):
                return self.body(x)
    """, [(5, 5), (5, 5)]),
    "module-level constants and config dicts (vgg's cfgs)": ("""
        CFGS = {"A": [8, "M", 16, "M"]}

        def make_layers(cfg):
            layers = []
            cin = 3
            for v in cfg:
                if v == "M":
                    layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
                else:
                    layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                    cin = v
            return nn.Sequential(*layers)

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = make_layers(CFGS["A"])
            def forward(self, x):
                return self.features(x)
    """, [(3, 3), (3, 3)]),
    "torch.arange, round and log on constants (RegNet's widths)": ("""
        class M(nn.Module):
            def __init__(self, depth=4, w_0=8, w_a=3.0, w_m=2.0):
                super().__init__()
                widths = torch.arange(depth) * w_a + w_0                              # 8, 11, 14, 17
                caps = torch.round(torch.log(widths / w_0) / math.log(w_m))          # 0, 0, 1, 1
                ks = (torch.round(torch.pow(w_m, caps)) * 2 + 1).int().tolist()       # 3, 3, 5, 5
                self.body = nn.Sequential(*[nn.Conv2d(1, 1, k) for k in ks])
            def forward(self, x):
                return self.body(x)
    """, [(3, 3), (3, 3), (5, 5), (5, 5)]),
    "forward helpers, residual adds, OrderedDict and several outputs": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(OrderedDict([("a", nn.Conv2d(1, 1, 3, padding=1))]))
                self.head = nn.Conv2d(1, 1, 5, padding=2)
            def _forward_impl(self, x):
                y = self.body(x)
                y += x
                return {"feat": y, "out": self.head(y)}
            def forward(self, x):
                return self._forward_impl(x)
    """, [(3, 3), (5, 5)]),
    "chunk and channel shuffle keep the frame; flatten ends it": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(4, 4, 3, padding=1)
                self.b = nn.Conv2d(2, 2, 5, padding=2)
            def forward(self, x):
                x = self.a(x)
                x1, x2 = x.chunk(2, dim=1)
                x = torch.cat((x1, self.b(x2)), dim=1)
                batch, channels, height, width = x.size()
                x = x.view(batch, 2, channels // 2, height, width)
                x = torch.transpose(x, 1, 2).contiguous()
                return x.view(batch, -1, height, width)
    """, [(3, 3), (5, 5)]),
    "namedtuple defaults set through __new__.__defaults__, and a field that is None": ("""
        from collections import namedtuple
        Params = namedtuple("Params", ["width", "depth", "k"])
        Params.__new__.__defaults__ = (None,) * len(Params._fields)

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                p = Params(width=4)
                k = p.k or 5                 # None, the default set above
                self.c = nn.Conv2d(1, p.width, k)
            def forward(self, x):
                return self.c(x)
    """, [(5, 5)]),
    "a torch.autograd.Function's apply runs its static forward": ("""
        class Swish(torch.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                ctx.save_for_backward(i)
                ctx.k = 3
                return i * torch.sigmoid(i)
            @staticmethod
            def backward(ctx, grad):
                return grad

        class Pad(torch.autograd.Function):
            @staticmethod
            def forward(ctx, i):
                return F.pad(i, (1, 1, 1, 1))

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(1, 1, 3)
            def forward(self, x):
                return self.c(Pad.apply(Swish.apply(x)))
    """, [(3, 3)]),
    "F.conv2d on a pooled vector (a squeeze-and-excitation gate written functionally)": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(4, 4, 3)
                self.w_reduce = nn.Parameter(torch.randn(2, 4, 1, 1))
                self.w_expand = nn.Parameter(torch.randn(4, 2, 1, 1))
            def forward(self, x):
                x = self.c(x)
                s = F.adaptive_avg_pool2d(x, 1)
                s = F.conv2d(s, self.w_reduce)
                s = s * torch.sigmoid(s)
                s = F.conv2d(s, self.w_expand)
                return torch.sigmoid(s) * x
    """, [(3, 3), (1, 1), (1, 1)]),
    "an optional dependency that is not installed: the except ImportError branch runs": ("""
        try:
            from rflint_test_no_such_package import FancyNorm
        except ImportError:
            FancyNorm = None

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                k = 3 if FancyNorm is None else 5
                self.c = nn.Conv2d(1, 1, k)
                self.n = nn.BatchNorm2d(1) if FancyNorm is None else FancyNorm(1)
            def forward(self, x):
                x = self.n(self.c(x))
                if FancyNorm is not None and isinstance(self.n, FancyNorm):
                    x = x * 2
                return x
    """, [(3, 3)]),
    "a layer factory: __getattr__, __getitem__, registration by a module-level decorator, a recursive closure": ("""
        from keyword import iskeyword

        class Factory:
            def __init__(self):
                self.components = {}
            def add(self, name, fn):
                if not name.isidentifier() or iskeyword(name):
                    raise ValueError(name)
                self.components[name.upper()] = fn
            def register(self, name):
                def deco(fn):
                    self.add(name, fn)
                    return fn
                return deco
            def __getattr__(self, key):
                if key in self.components:
                    return key
                return super().__getattribute__(key)
            def __getitem__(self, args):
                name, *rest = (args,) if isinstance(args, str) else args
                return self.components[name.upper()](*rest)

        Conv = Factory()

        @Conv.register("conv")
        def conv_factory(dim):
            return {1: nn.Conv1d, 2: nn.Conv2d}[dim]

        class M(nn.Module):
            def __init__(self, depth=2):
                super().__init__()
                def block(d):
                    if d == 0:
                        return nn.Identity()
                    return nn.Sequential(Conv[Conv.CONV, 2](1, 1, 2 * d + 1), block(d - 1))
                self.body = block(depth)
            def forward(self, x):
                return self.body(x)
    """, [(5, 5), (3, 3)]),
    "numpy on constant arrays: atleast_1d, %, any, min": ("""
        import numpy as np

        def same_padding(kernel_size, dilation=1):
            k = np.atleast_1d(kernel_size)
            if np.any((k - 1) * dilation % 2 == 1):
                raise NotImplementedError(kernel_size)
            p = (k - 1) // 2 * dilation
            if np.min(p) < 0:
                raise AssertionError(p)
            return tuple(int(v) for v in p)

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                try:
                    self.even = nn.Conv2d(1, 1, 4, padding=same_padding(4))
                except NotImplementedError:
                    self.even = nn.Conv2d(1, 1, 1)
                self.c = nn.Conv2d(1, 1, 5, padding=same_padding((5, 5)))
            def forward(self, x):
                return self.c(self.even(x))
    """, [(1, 1), (5, 5)]),
    "inspect.signature of torch layers, user classes and partials": ("""
        import inspect

        class Norm(nn.Module):
            def __init__(self, num_channels, eps=1e-5):
                super().__init__()
                self.n = nn.GroupNorm(1, num_channels, eps)
            def forward(self, x):
                return self.n(x)

        def make(norm_type, channels):
            kw = {}
            if "num_features" in inspect.signature(norm_type).parameters:
                kw["num_features"] = channels
            if "num_channels" in inspect.signature(norm_type).parameters:
                kw["num_channels"] = channels
            return norm_type(**kw)

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                eps = inspect.signature(partial(nn.Conv2d, 1, 1)).parameters["kernel_size"].default
                k = 3 if eps is inspect.Parameter.empty else 9
                self.c = nn.Conv2d(1, 1, k)
                self.a = make(nn.BatchNorm2d, 1)
                self.b = make(Norm, 1)
            def forward(self, x):
                return self.b(self.a(self.c(x)))
    """, [(3, 3)]),
    "enums: iteration, membership, isinstance against Enum and EnumMeta": ("""
        import enum
        from collections.abc import Hashable

        class Mode(str, enum.Enum):
            SMALL = "small"
            LARGE = "large"

        def look_up(opt, supported):
            if not isinstance(opt, Hashable):
                raise ValueError(opt)
            if isinstance(supported, enum.EnumMeta):
                if isinstance(opt, str) and opt in {item.value for item in supported}:
                    return supported(opt)
                if isinstance(opt, enum.Enum) and opt in supported:
                    return opt
            raise ValueError(opt)

        class M(nn.Module):
            def __init__(self, a="large", b=Mode.SMALL):
                super().__init__()
                ks = {Mode.SMALL: 3, Mode.LARGE: 7}
                self.a = nn.Conv2d(1, 1, ks[look_up(a, Mode)])
                self.b = nn.Conv2d(1, 1, ks[look_up(b, Mode)])
                self.n = len([m for m in Mode])
            def forward(self, x):
                return self.b(self.a(x))
    """, [(7, 7), (3, 3)]),
    "a frozen batch norm: buffers registered from constants, rsqrt of a constant": ("""
        class FrozenBN(nn.Module):
            def __init__(self, n, eps=1e-5):
                super().__init__()
                self.eps = eps
                self.register_buffer("weight", torch.ones(n))
                self.register_buffer("running_var", torch.ones(n))
            def forward(self, x):
                w = self.weight.reshape(1, -1, 1, 1)
                rv = self.running_var.reshape(1, -1, 1, 1)
                return x * (w * (rv + self.eps).rsqrt())

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(1, 4, 3)
                self.n = FrozenBN(4)
            def forward(self, x):
                return self.n(self.c(x))
    """, [(3, 3)]),
    "a class named after its own base (class Conv2d(Conv2d)) derives from the import": ("""
        from torch.nn import Conv2d

        class Conv2d(Conv2d):
            def __init__(self, channels):
                super().__init__(channels, channels, 5, padding=2)

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = Conv2d(1)
            def forward(self, x):
                return self.c(x)
    """, [(5, 5)]),
    "a deque's left end (timm's pretrained tags put the default first)": ("""
        from collections import deque

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                tags = deque(["in1k"])
                tags.appendleft("")
                first = tags.popleft()
                k = 7 if first == "" and list(tags) == ["in1k"] else 3
                self.c = nn.Conv2d(1, 1, k)
            def forward(self, x):
                return self.c(x)
    """, [(7, 7)]),
    "grouped-query attention: keys repeated over heads with repeat_interleave": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 16, 4, stride=4)
                self.q = nn.Linear(16, 16)
                self.kv = nn.Linear(16, 8)
            def forward(self, x):
                x = self.conv(x)
                B, C, H, W = x.shape
                t = x.flatten(2).transpose(1, 2)
                q = self.q(t).reshape(B, -1, 4, 4).transpose(1, 2)
                k, v = self.kv(t).reshape(B, -1, 2, 2, 2).permute(2, 0, 3, 1, 4).unbind(0)
                k = k.repeat_interleave(2, dim=1)
                v = torch.repeat_interleave(v, 2, dim=1)
                o = F.scaled_dot_product_attention(q, k, v)
                return o.transpose(1, 2).reshape(B, H, W, 8).permute(0, 3, 1, 2)
    """, [(4, 4)]),
    "flip of a constant tensor (NesT's block-index tables)": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                order = torch.arange(4).flip(0)                  # 3, 2, 1, 0
                grid = torch.flip(torch.arange(6).reshape(2, 3), dims=(1,))
                self.c = nn.Conv2d(1, 1, int(order[0]) + int(grid[1, 0]) - 3)   # 3 + 5 - 3
            def forward(self, x):
                return self.c(x)
    """, [(5, 5)]),
    "functions of parameters alone (differential attention's lambdas, a padded bias table)": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3, padding=1)
                self.lambda_q = nn.Parameter(torch.zeros(4))
                self.lambda_k = nn.Parameter(torch.zeros(4))
                self.bias = nn.Parameter(torch.zeros(4, 1, 1))
            def forward(self, x):
                lam = torch.exp(torch.sum(self.lambda_q * self.lambda_k, dim=-1).float())
                bias = torch.sigmoid(F.pad(self.bias, [0, 0, 0, 0]))
                return self.conv(x) * lam + bias
    """, [(3, 3)]),
    "a sine position encoding from an inverted mask of unknown values (EdgeNeXt, DETR)": ("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3, padding=1)
                self.proj = nn.Conv2d(16, 8, 1)
            def forward(self, x):
                x = self.conv(x)
                B, C, H, W = x.shape
                inv_mask = ~torch.zeros(B, H, W).to(dtype=torch.bool)
                y = inv_mask.cumsum(1, dtype=torch.float32)
                pos = torch.stack((y.sin(), -y.cos()), dim=3).flatten(3).permute(0, 3, 1, 2)
                return x + self.proj(pos.repeat(1, 8, 1, 1))
    """, [(3, 3), (1, 1)]),
    "quantization stubs (torchvision's quantizable models) keep every position": ("""
        from torch.ao.quantization import QuantStub, DeQuantStub

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.quant = QuantStub()
                self.conv = nn.Conv2d(3, 8, 3)
                self.dequant = torch.quantization.DeQuantStub()
            def forward(self, x):
                return self.dequant(self.conv(self.quant(x)))
    """, [(3, 3)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_construct(name: str) -> None:
    body, expected = CASES[name]
    g = build(body)
    assert kernels(g) == expected
    assert g.complete, [u.reason for u in g.unresolved]
    assert analyse(g).spatial_outputs(), "the model's frame is not known"


def test_several_outputs_each_get_a_frame() -> None:
    g = build(CASES["forward helpers, residual adds, OrderedDict and several outputs"][0])
    a = analyse(g)
    outs = dict(a.spatial_outputs())
    # feat: conv 3 (+ identity) -> r = 3; out: conv 5 on it -> r = 3 + 4 = 7.
    assert sorted(outs) == ["output['feat']", "output['out']"]
    assert a.info(outs["output['feat']"]).frames[0].r == 3
    assert a.info(outs["output['out']"]).frames[0].r == 7


def test_channel_shuffle_keeps_the_frame() -> None:
    g = build(CASES["chunk and channel shuffle keep the frame; flatten ends it"][0])
    ((_, out),) = analyse(g).spatial_outputs()
    # a: 3/1/1 r=3; b on half the channels: r = 3 + 4 = 7; concat: union = 7; the shuffle keeps it.
    assert analyse(g).info(out).frames[1].r == 7


def test_unknown_is_reported_with_line_and_reason_and_never_crashes() -> None:
    g = build("""
        from somewhere_unknown import mystery

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(1, 1, mystery(3))
            def forward(self, x):
                return self.c(x)
    """)
    (u,) = [u for u in g.unresolved if "kernel_size" in u.reason]
    assert u.loc is not None and u.loc.line == len(HEADER.splitlines()) + 7
    assert isinstance(g.nodes[1].op, Opaque)


def test_recursion_and_loops_stay_under_the_budget() -> None:
    g = build("""
        def forever(n):
            return forever(n + 1)

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                k = 1
                while True:
                    k += 2
                self.c = nn.Conv2d(1, 1, forever(0))
                self.d = nn.Conv2d(1, 1, k)
            def forward(self, x):
                return self.d(self.c(x))
    """)
    # Said, not hung and not crashed: the idle loop is stopped (k unknown), the recursion
    # cut at the depth limit, and the convs whose kernels came from them are opaque; each
    # is said because a layer needed it.
    reasons = " | ".join(u.reason for u in g.unresolved)
    assert "long loop that builds no layer" in reasons and "depth limit" in reasons
    assert not g.complete
    assert [n.op for n in g.nodes if n.type_name == "Conv2d"] and all(
        isinstance(n.op, Opaque) for n in g.nodes if n.type_name == "Conv2d")


def test_a_1d_conv_on_a_map_read_as_2d_is_unknown_not_a_crash() -> None:
    """timm's CoaT and EfficientViM flatten H and W and run Conv1d over the tokens in ways
    the reader keeps as a 2-D map; the analysis must say it cannot follow, not index past
    the kernel's one axis (it raised IndexError, an internal error, on those files)."""
    g = build("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(3, 8, 3, padding=1)
                self.t = nn.Conv1d(8, 8, 3, padding=1)
            def forward(self, x):
                return self.t(self.c(x))
    """)
    a = analyse(g, (16, 16))
    t = next(n for n in g.nodes if n.type_name == "Conv1d")
    assert a.info(t.id).status == "unknown" and "1 spatial axes, its input has 2" in a.info(t.id).reason


def test_interpolate_to_another_size_in_an_unmodelled_mode_is_opaque_not_a_crash() -> None:
    """timm's NaFlexViT: F.interpolate(x, size=y.shape[-2:], mode='bicubic') crashed the
    reader (AttributeError on the Opaque it had already made). Bicubic is modelled now;
    'area' is not."""
    g = build("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            def forward(self, x):
                return F.interpolate(self.c(x), size=x.shape[-2:], mode="area")
    """)
    (op,) = [n.op for n in g.nodes if n.type_name == "F.interpolate"]
    assert isinstance(op, Opaque) and "area" in op.reason


def _findings(source: str) -> list[tuple[str, int]]:
    from rflint.api import check_text

    return [(d.code, d.loc.line) for d in check_text("m.py", textwrap.dedent(source))]


def test_recursion_with_an_undecidable_base_case_is_cut_not_explored() -> None:
    """timm's DLA builds its tree recursively on `levels`. Built without arguments (the
    partial build that lets literal layers reach the layer rules), `levels == 1` cannot be
    decided, both branches recurse, and the work doubled per level until the step budget
    ran out, losing the whole class (2.3 s on dla.py, and its AA102 missed). What is built
    depends on `levels`, so the model also says it was not read completely (RL004)."""
    assert _findings("""
        import torch.nn as nn

        class Tree(nn.Module):
            def __init__(self, levels, channels):
                super().__init__()
                if levels == 1:
                    self.conv = nn.Conv2d(channels, channels, 3, padding=1)
                else:
                    self.left = Tree(levels - 1, channels)
                    self.right = Tree(levels - 1, channels)
                self.down = nn.MaxPool2d(2, stride=2)

            def forward(self, x):
                return self.down(x)
    """) == [("RL004", 4), ("AA102", 12)]


def test_a_long_loop_that_builds_no_layer_is_stopped_and_its_names_are_unknown() -> None:
    """LeViT-style attention-bias tables: resolution**4 iterations of plain arithmetic in
    __init__. They used to exhaust the step budget, losing the layers built after them."""
    source = """
        import itertools
        import torch.nn as nn

        class Attn(nn.Module):
            def __init__(self, resolution=16):
                super().__init__()
                points = list(itertools.product(range(resolution), range(resolution)))
                offsets = {}
                idxs = []
                for p1 in points:
                    for p2 in points:
                        off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                        if off not in offsets:
                            offsets[off] = len(offsets)
                        idxs.append(offsets[off])
                self.stem = nn.Conv2d(3, 8, 3 if len(idxs) else 5, stride=2, padding=1)

            def forward(self, x):
                return self.stem(x)
    """
    # The stem's kernel depends on the abandoned table: unknown, never a guess (3 or 5).
    g = build_entry("m.py", textwrap.dedent(source), "Attn").graph
    assert any("long loop" in u.reason or "builds no layer" in u.reason for u in g.unresolved)
    assert not [n for n in g.nodes if isinstance(n.op, Window) and n.op.kind == "conv"]
    assert _findings(source.replace("3 if len(idxs) else 5", "3")) == [("AA101", 17)]


def test_an_entry_can_be_a_classmethod_factory() -> None:
    """``EfficientNet.from_name('efficientnet-b0')``: a class's classmethod builds the model."""
    src = HEADER + textwrap.dedent("""
        class M(nn.Module):
            def __init__(self, k):
                super().__init__()
                self.c = nn.Conv2d(1, 1, k)
            def forward(self, x):
                return self.c(x)
            @classmethod
            def from_name(cls, name):
                return cls({"small": 3, "large": 7}[name])
    """)
    g = build_entry("m.py", src, "M.from_name('large')").graph
    assert kernels(g) == [(7, 7)]
    assert g.complete and g.name == "M.from_name('large')"


def test_a_dict_changed_by_an_undecidable_branch_is_unknown_not_the_branch_that_ran_last() -> None:
    """Both branches of an undecidable ``if`` run; a dict one of them fills in place would
    otherwise carry that branch's key into the layer built after it."""
    g = build("""
        import some_unreadable_library as lib

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                kw = {}
                if lib.wants_num_channels():
                    kw["num_channels"] = 1
                self.n = nn.InstanceNorm2d(num_features=1, **kw)
            def forward(self, x):
                return self.n(x)
    """)
    reasons = [u.reason for u in g.unresolved]
    assert not g.complete
    assert any("changed differently by the branches of an undecidable condition" in r for r in reasons), reasons
    assert not any("unexpected keyword argument" in r for r in reasons), reasons


DIFFUSION = """
    from dataclasses import dataclass

    @dataclass
    class Output(OrderedDict):
        sample: torch.Tensor

    def timestep_embedding(t, dim, max_period=10000):
        half = dim // 2
        exponent = -math.log(max_period) * torch.arange(start=0, end=half, dtype=torch.float32, device=t.device)
        emb = torch.exp(exponent / half)
        emb = t[:, None].float() * emb[None, :]
        return torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)

    class M(nn.Module):
        def __init__(self, c=8):
            super().__init__()
            self.conv_in = nn.Conv2d(3, c, 3, padding=1)
            self.time = nn.Linear(16, c)
            self.conv_out = nn.Conv2d(c, 3, 5, padding=2)
        def forward(self, sample, timestep, class_labels=None):
            if not torch.is_tensor(timestep):
                timestep = torch.tensor([timestep])
            elif len(timestep.shape) == 0:
                timestep = timestep[None]
            temb = self.time(timestep_embedding(timestep, 16))
            h = self.conv_in(sample)
            b, c, height, width = h.shape
            h = h + temb[:, :, None, None]
            seq = h.view(b, c, height * width).transpose(1, 2)      # tokens, and back
            h = seq.transpose(-1, -2).reshape(b, c, height, width)
            return Output(sample=self.conv_out(h))
"""


@pytest.mark.parametrize("size", [(16, 16), (1, 24)])
def test_a_required_forward_argument_is_a_side_input_without_positions(size) -> None:
    """``forward(self, sample, timestep)``: the timestep is an input that holds no image
    positions (diffusers' UNet2DModel); its embedding broadcast into the map adds no
    receptive field, no global context and no coordinate; the model says what it assumed,
    and a dataclass of outputs names them as a mapping (``output['sample']``). At height 1,
    ``reshape(b, c, height, width)`` still puts the height on axis 0."""
    src = HEADER + textwrap.dedent(DIFFUSION)
    model = build_entry("m.py", src, "M", input_size=size)
    g = model.graph
    assert g.complete, [u.reason for u in g.unresolved]
    assert [name for name, _ in g.outputs] == ["output['sample']"]
    assert any("argument 'timestep' has no default" in a.reason for a in g.assumptions), g.assumptions
    assert not any("class_labels" in a.reason for a in g.assumptions)
    info = analyse(g).info(dict(g.outputs)["output['sample']"])
    assert info.status == "local" and not info.is_global
    assert [(f.r, f.j) for f in info.frames] == [(7, 1), (7, 1)]


def test_installed_packages_and_versions_are_read_from_the_environment() -> None:
    """``importlib.util.find_spec`` and ``importlib.metadata.version`` answer as the
    environment rflint runs in (nothing imported); a missing distribution raises
    PackageNotFoundError where a ``try`` catches it."""
    import importlib.metadata

    g = build("""
        import importlib.util
        import importlib.metadata as importlib_metadata

        def available(name):
            found = importlib.util.find_spec(name) is not None
            try:
                version = importlib_metadata.version(name)
            except (ImportError, importlib_metadata.PackageNotFoundError):
                found, version = False, "N/A"
            return found, version

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                ok, v = available("pytest")
                missing, _ = available("rflint_test_no_such_package")
                k = 3 if ok and not missing else 9
                self.c = nn.Conv2d(1, 1, k)
                self.version = v
            def forward(self, x):
                return self.c(x)
    """)
    assert kernels(g) == [(3, 3)]
    assert g.complete
    assert importlib.metadata.version("pytest")  # what the model read


def test_rotary_embeddings_interleave_channels_and_split_a_table() -> None:
    """EVA's rotary position embedding: a table of unknown values split in two
    (``sin, cos = emb.chunk(2, -1)``), and the interleaved halves of the channels
    (``x[..., 1::2]``, ``x[..., ::2]``) stacked and reshaped back to ``x.shape``."""
    src = HEADER + textwrap.dedent("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 4, stride=4)
                self.register_buffer("emb", torch.randn(64, 16))
            def forward(self, x):
                x = self.conv(x)
                B, C, H, W = x.shape
                t = x.flatten(2).transpose(1, 2)
                sin, cos = self.emb.chunk(2, -1)
                rot = torch.stack([-t[..., 1::2], t[..., ::2]], -1).reshape(t.shape)
                t = t * cos + rot * sin
                return t.transpose(1, 2).reshape(B, C, H, W)
    """)
    g = build_entry("m.py", src, "M", input_size=(32, 32)).graph
    assert g.complete, [u.reason for u in g.unresolved]
    assert kernels(g) == [(4, 4)]
    info = analyse(g).info(dict(g.outputs)["output"])
    assert info.status == "local" and [(f.r, f.j) for f in info.frames] == [(4, 4), (4, 4)]


def test_a_strided_slice_subsamples_and_a_channel_split_has_its_parts_counts() -> None:
    """LeViT: ``x[:, ::2, ::2]`` of a channels-last map subsamples it (exactly what
    AvgPool2d(kernel_size=1, stride=2) does: it aliases), and ``split([16, 64], dim=3)`` of
    the channels gives parts of 16 and 64 channels, which the reshape after it relies on."""
    src = HEADER + textwrap.dedent("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(3, 80, 3, padding=1)
                self.b = nn.Conv2d(64, 8, 3, padding=1)
            def forward(self, x):
                x = self.a(x)
                B, C, H, W = x.shape
                x = x.permute(0, 2, 3, 1)[:, ::2, ::2]
                k, v = x.split([16, 64], dim=3)
                v = v.reshape(B, -1, 64).transpose(1, 2).reshape(B, 64, H // 2, W // 2)
                return self.b(v)
    """)
    g = build_entry("m.py", src, "M", input_size=(16, 16)).graph
    assert g.complete, [u.reason for u in g.unresolved]
    (sub,) = [n for n in g.nodes if n.type_name == "subsample"]
    assert sub.op == Window("avg_pool", (1, 1), (2, 2), (1, 1), ((0, 0), (0, 0)))
    info = analyse(g).info(dict(g.outputs)["output"])
    assert [(f.r, f.j, f.padding) for f in info.frames] == [(7, 2, 3), (7, 2, 3)]


def test_the_factory_being_built_runs_its_own_decorators_first() -> None:
    """timm's ``@register_model`` records the pretrained configuration (input size 256 for
    ``swinv2_*_256``) that the factory's builder then passes on: the entry's decorators run
    before it is called, as when its module was imported."""
    src = HEADER + textwrap.dedent("""
        _sizes = {}

        def register_model(fn):
            _sizes[fn.__name__] = 7
            return fn

        class M(nn.Module):
            def __init__(self, k=3):
                super().__init__()
                self.c = nn.Conv2d(1, 1, k)
            def forward(self, x):
                return self.c(x)

        @register_model
        def large():
            return M(_sizes.get("large", 3))
    """)
    g = build_entry("m.py", src, "large").graph
    assert g.complete and kernels(g) == [(7, 7)]


def test_a_very_deep_chain_is_read_without_recursion() -> None:
    """ResNet-50x64 (CLIP) has thousands of nodes in a chain: sizes, channel counts and
    whether a map has ended are computed without walking back one input per Python frame."""
    g = build("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(*[nn.Conv2d(1, 1, 1) for _ in range(1500)])
            def forward(self, x):
                x = self.body(x)
                b, c, h, w = x.shape
                return x.view(b, c, h * w).transpose(1, 2).reshape(b, h, w, c).permute(0, 3, 1, 2)
    """)
    assert g.complete, [u.reason for u in g.unresolved][:3]
    assert len(g.nodes) > 1500


def test_constants_too_large_to_hold_keep_their_shapes_when_joined() -> None:
    """Rotary tables: ``torch.cat([x, x], -1)`` and ``x.repeat_interleave(2, -1)`` of a
    tensor whose values rflint does not hold keep a known shape, and a constant's
    ``device``/``dtype`` are what ``.to(...)`` needs."""
    g = build("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("periods", torch.arange(4, dtype=torch.float32))
                self.register_buffer("table", torch.randn(64, 300))
                self.c = nn.Conv2d(1, 1, 3)
            def forward(self, x):
                p = self.periods.to(device=self.periods.device, dtype=self.periods.dtype)
                a = torch.cat([self.table, self.table], dim=-1)
                b = self.table.repeat_interleave(2, -1)
                if a.shape == b.shape == (64, 600) and p.shape == (4,):
                    x = self.c(x)
                return x
    """)
    assert g.complete, [u.reason for u in g.unresolved]
    out = g.nodes[dict(g.outputs)["output"]]
    assert out.name == "c" and not out.attrs.get("alternatives"), out  # the condition was decided


def test_a_module_appended_to_a_named_container_is_named_after_it() -> None:
    """``self.patch_embed = nn.ModuleList()`` then ``self.patch_embed.append(PatchEmbed())``
    (CrossViT): the layer is ``patch_embed.0.proj``, as ``named_modules()`` says."""
    g = build("""
        class Embed(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Conv2d(1, 1, 4, stride=4)
            def forward(self, x):
                return self.proj(x)

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.patch_embed = nn.ModuleList()
                self.patch_embed.append(Embed())
                self.patch_embed.extend([Embed()])
            def forward(self, x):
                return [e(x) for e in self.patch_embed]
    """)
    assert [n.name for n in g.nodes if n.name and n.inputs] == ["patch_embed.0.proj", "patch_embed.1.proj"]


def test_prefix_tokens_that_are_none_and_a_resized_position_embedding() -> None:
    """ViT code written for prefix (class) tokens: ``torch.cat([q[:, :, :npt], rot(q[:, :, npt:])], 2)``
    with ``npt = 0`` concatenates nothing in front; a rotary table small enough to hold is
    split with ``chunk``; a position embedding resized with ``F.interpolate`` (NaFlexViT)
    keeps its shape."""
    g = build("""
        class M(nn.Module):
            def __init__(self, npt=0):
                super().__init__()
                self.npt = npt
                self.conv = nn.Conv2d(3, 8, 4, stride=4)
                self.pos_embed = nn.Parameter(torch.zeros(1, 8, 4, 4))
                self.register_buffer("rope", torch.ones(16, 16))
            def forward(self, x):
                x = self.conv(x)
                B, C, H, W = x.shape
                pos = F.interpolate(self.pos_embed, size=(H, W), mode="bilinear", align_corners=False)
                x = x + pos
                t = x.flatten(2).transpose(1, 2)[:, None]
                sin, cos = self.rope.chunk(2, -1)
                npt = self.npt
                t = torch.cat([t[:, :, :npt, :], t[:, :, npt:, :] * cos + t[:, :, npt:, :] * sin], dim=2)
                return t[:, 0].transpose(1, 2).reshape(B, C, H, W)
    """)
    assert g.complete, [u.reason for u in g.unresolved]
    info = analyse(g).info(dict(g.outputs)["output"])
    assert info.status == "local" and [(f.r, f.j) for f in info.frames] == [(4, 4), (4, 4)]


def test_a_conv_subclass_with_symbolic_channels_still_has_its_kernel() -> None:
    """timm's Conv2dSame (``F.conv2d(pad_same(x, self.weight.shape[-2:], ...), self.weight)``)
    built with channel counts that are not known (a pruned EfficientNet's): the weight's
    kernel is still the layer's, so 'same' padding and the conv resolve."""
    src = HEADER + textwrap.dedent("""
        class Conv2dSame(nn.Conv2d):
            def forward(self, x):
                kh, kw = self.weight.shape[-2:]
                ih, iw = x.size()[-2:]
                pad_h = max((math.ceil(ih / self.stride[0]) - 1) * self.stride[0] + kh - ih, 0)
                pad_w = max((math.ceil(iw / self.stride[1]) - 1) * self.stride[1] + kw - iw, 0)
                x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
                return F.conv2d(x, self.weight, self.bias, self.stride, (0, 0), self.dilation, self.groups)

        class M(nn.Module):
            def __init__(self, channels):
                super().__init__()
                self.c = Conv2dSame(3, channels, 3, stride=2)
            def forward(self, x):
                return self.c(x)
    """)
    g = build_entry("m.py", src, "M", input_size=(32, 32)).graph
    assert g.complete, [u.reason for u in g.unresolved]
    assert kernels(g) == [(3, 3)]


def test_a_pointwise_conv1d_over_flattened_tokens_keeps_the_positions() -> None:
    """EfficientViM: ``Conv1d(kernel_size=1)`` on ``x.flatten(2)`` mixes channels at every
    position of the 2-D map; the tokens reshape back to it."""
    src = HEADER + textwrap.dedent("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3, padding=1)
                self.proj = nn.Conv1d(8, 16, 1)
            def forward(self, x):
                x = self.conv(x)
                B, C, H, W = x.shape
                t = self.proj(x.flatten(2))
                return t.reshape(B, -1, H, W)
    """)
    g = build_entry("m.py", src, "M", input_size=(16, 16)).graph
    assert g.complete, [u.reason for u in g.unresolved]
    info = analyse(g).info(dict(g.outputs)["output"])
    assert [(f.r, f.j) for f in info.frames] == [(3, 1), (3, 1)]


def test_per_sample_kernels_computed_from_the_input_as_one_grouped_conv() -> None:
    """CondConv: routing weights from a pooled input mix expert kernels per sample, the
    batch is folded into the channels (``x.reshape(1, B * C, H, W)``) for one grouped
    ``F.conv2d``, and unfolded after. The kernel's size is the weight tensor's trailing
    dimensions, and the routing's global context reaches every output."""
    src = HEADER + textwrap.dedent("""
        class CondConv(nn.Module):
            def __init__(self, cin=4, cout=4, k=3, experts=2):
                super().__init__()
                self.cin, self.cout, self.k = cin, cout, k
                self.weight = nn.Parameter(torch.zeros(experts, cout * cin * k * k))
                self.route = nn.Linear(cin, experts)
            def forward(self, x):
                B, C, H, W = x.shape
                routing = torch.sigmoid(self.route(F.adaptive_avg_pool2d(x, 1).flatten(1)))
                weight = torch.matmul(routing, self.weight).view(B * self.cout, self.cin, self.k, self.k)
                x = x.reshape(1, B * C, H, W)
                out = F.conv2d(x, weight, None, stride=1, padding=1, groups=B)
                return out.permute([1, 0, 2, 3]).view(B, self.cout, out.shape[-2], out.shape[-1])

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Conv2d(3, 4, 3, padding=1)
                self.cc = CondConv()
            def forward(self, x):
                return self.cc(self.stem(x))
    """)
    g = build_entry("m.py", src, "M", input_size=(16, 16)).graph
    assert g.complete, [u.reason for u in g.unresolved]
    info = analyse(g).info(dict(g.outputs)["output"])
    assert info.status == "local" and info.is_global
    assert [(f.r, f.j, f.padding) for f in info.frames] == [(5, 1, 2), (5, 1, 2)]


OUTLOOK = """
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


class Outlook(nn.Module):
    \"\"\"VOLO's outlook attention: unfold the map into k x k windows on a stride-s grid,
    weight each window's values by attention computed from the pooled map, fold back.\"\"\"

    def __init__(self, dim=4, k=3, padding=1, stride=2):
        super().__init__()
        self.k, self.padding, self.stride = k, padding, stride
        self.v = nn.Linear(dim, dim)
        self.attn = nn.Linear(dim, k ** 4)
        self.unfold = nn.Unfold(kernel_size=k, padding=padding, stride=stride)
        self.pool = nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True)

    def forward(self, x):
        B, H, W, C = x.shape
        v = self.v(x).permute(0, 3, 1, 2)
        h, w = math.ceil(H / self.stride), math.ceil(W / self.stride)
        v = self.unfold(v).reshape(B, 1, C, self.k * self.k, h * w).permute(0, 1, 4, 3, 2)
        attn = self.pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        attn = self.attn(attn).reshape(B, h * w, 1, self.k * self.k, self.k * self.k).permute(0, 2, 1, 3, 4)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).permute(0, 1, 4, 3, 2).reshape(B, C * self.k * self.k, h * w)
        return F.fold(x, output_size=(H, W), kernel_size=self.k, padding=self.padding, stride=self.stride)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.outlook = Outlook()

    def forward(self, x):
        return self.outlook(self.stem(x).permute(0, 2, 3, 1))
"""


def assert_frame_is_measured(tmp_path, source: str, module: str, period: int = 1, size: tuple[int, int] = (16, 64)):
    """Build ``Net`` of ``source`` statically at ``size`` and measure the real module: the
    frame of its output equals the gradient support, every phase. Returns the graph."""
    pytest.importorskip("torch")
    from measure import import_file, measure

    g = build_entry("net.py", source, "Net", input_size=size).graph
    assert g.complete, [u.reason for u in g.unresolved]
    frame = analyse(g, size).info(dict(g.outputs)["output"]).frames[-1]
    path = tmp_path / f"{module}.py"
    path.write_text(source)
    got = measure(import_file(path, module).Net(), (1, 3, *size), period=period)
    assert (got.j, got.alpha, got.beta) == (frame.j, tuple(frame.alpha), tuple(frame.beta))
    return g


def test_unfold_and_fold_match_measurement(tmp_path) -> None:
    """VOLO's outlook attention (``nn.Unfold``, attention over each window, ``F.fold``): the
    static frame of the output equals the gradient support measured on the real module,
    every phase (fold sums windows on a stride-2 grid: outputs alternate)."""
    assert_frame_is_measured(tmp_path, OUTLOOK, "outlook_net", period=2)


def test_a_part_of_a_maps_channels_keeps_its_count() -> None:
    """SHViT: ``q, k, v = torch.split(qkv, [16, 16, 48], dim=1)`` of a map, then
    ``(v @ attn.T).reshape(B, 48, H, W)``: each part is a map with its own channel count
    (not the whole map's 80), and the reshape relies on it."""
    src = HEADER + textwrap.dedent("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.qkv = nn.Conv2d(3, 80, 3, padding=1)
                self.proj = nn.Conv2d(48, 8, 1)
            def forward(self, x):
                B, _, H, W = x.shape
                q, k, v = torch.split(self.qkv(x), [16, 16, 48], dim=1)
                q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)
                attn = (q.transpose(-2, -1) @ k).softmax(dim=-1)
                return self.proj((v @ attn.transpose(-2, -1)).reshape(B, 48, H, W))
    """)
    g = build_entry("m.py", src, "M", input_size=(8, 8)).graph
    assert g.complete, [u.reason for u in g.unresolved]
    assert analyse(g).info(dict(g.outputs)["output"]).is_global  # attention over every position


def test_a_long_idle_loop_forgets_what_it_changed_not_what_it_read() -> None:
    """An idle loop (weight init over every module of EfficientNet-L2) is stopped: the names
    it assigns or fills in place become Unknown, and the ones it only reads (the model it
    walks, the function it calls) stay what they were, so the loop after it still runs."""
    g = build("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                layer = nn.Conv2d(1, 1, 3)
                table = []
                for i in range(100000):
                    table.append(layer.kernel_size[0] * i)
                self.d = layer
                self.size = len(table)
            def forward(self, x):
                return self.d(x)
    """)
    assert g.complete, [u.reason for u in g.unresolved]
    assert kernels(g) == [(3, 3)]


def test_a_side_input_concatenated_with_the_image_is_said_and_does_not_break_the_read() -> None:
    """``forward(self, x, mask)`` with ``torch.cat([x, mask], 1)``: the mask is taken as an
    input without image positions (the model says so); the frame is the image's."""
    src = HEADER + textwrap.dedent("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(4, 8, 3, padding=1)
            def forward(self, x, mask):
                return self.c(torch.cat([x, mask], dim=1))
    """)
    g = build_entry("m.py", src, "M", input_size=(16, 16)).graph
    assert g.complete, [u.reason for u in g.unresolved]
    assert any("argument 'mask'" in a.reason for a in g.assumptions)
    info = analyse(g).info(dict(g.outputs)["output"])
    assert [(f.r, f.j) for f in info.frames] == [(3, 1), (3, 1)]


def test_attention_whose_queries_are_a_subsampled_map_has_the_queries_positions() -> None:
    """LeViT's attention downsampling: queries from the map subsampled by 2, keys and values
    at full resolution. ``v @ attn^T`` holds the query positions (every one reads every key:
    global), so its reshape to ``(B, C, HH, WW)`` is the half-resolution map a conv reads.
    (``(H - 1) // 2 + 1`` is a number only at a configured input size.)"""
    src = HEADER + textwrap.dedent("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Conv2d(3, 8, 3, padding=1)
                self.kv = nn.Conv2d(8, 16, 1)
                self.q = nn.Sequential(nn.AvgPool2d(1, stride=2), nn.Conv2d(8, 4, 1))
                self.proj = nn.Conv2d(12, 8, 3, padding=1)
            def forward(self, x):
                x = self.stem(x)
                B, C, H, W = x.shape
                HH, WW = (H - 1) // 2 + 1, (W - 1) // 2 + 1
                k, v = self.kv(x).view(B, 1, -1, H * W).split([4, 12], dim=2)
                q = self.q(x).view(B, 1, 4, -1)
                attn = (q.transpose(-2, -1) @ k).softmax(dim=-1)
                x = (v @ attn.transpose(-2, -1)).reshape(B, 12, HH, WW)
                return self.proj(x)
    """)
    g = build_entry("m.py", src, "M", input_size=(16, 16)).graph
    assert g.complete, [u.reason for u in g.unresolved]
    a = analyse(g, (16, 16))
    out = dict(g.outputs)["output"]
    assert a.info(out).is_global
    assert kernels(g) == [(3, 3), (1, 1), (1, 1), (3, 3)]
    assert a.info(out).sizes == (8, 8)


MASK_UNITS = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    \"\"\"Hiera's mask-unit attention in small: tokens unrolled so that the 2 x 2 offsets are
    outermost, then the 4 x 4 tokens of each mask unit, then the units; the queries and the
    residual are max-pooled over the offsets (``amax(1)``), the keys are every token of the
    unit; the result is rolled back into a map at half the resolution.\"\"\"

    def __init__(self, dim=8):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 3, stride=2, padding=1)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        x = self.stem(x)
        B, C, H, W = x.shape
        t = x.view(B, C, H // 8, 4, 2, W // 8, 4, 2).permute(0, 4, 7, 3, 6, 2, 5, 1)
        t = t.reshape(B, 4, 16, -1, C)                         # offsets, unit tokens, units, C
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        q = q.amax(dim=1).permute(0, 2, 1, 3)                  # B, units, 16, C
        k = k.flatten(1, 2).permute(0, 2, 1, 3)                # B, units, 64, C
        v = v.flatten(1, 2).permute(0, 2, 1, 3)
        a = F.scaled_dot_product_attention(q, k, v)
        y = t.amax(dim=1).permute(0, 2, 1, 3) + self.proj(a)   # B, units, 16, C
        y = y.reshape(B, H // 8, W // 8, 4, 4, C).permute(0, 5, 1, 3, 2, 4)
        return y.reshape(B, C, H // 2, W // 2)
"""


def test_pooling_over_unrolled_offsets_and_attention_with_pooled_queries_match_measurement(tmp_path) -> None:
    """A reduction over the dimension that holds the offsets within 2 x 2 blocks is a 2 x 2
    stride-2 pooling; attention whose queries are so pooled reads, for each query, the
    keys of its mask unit at their own resolution. The static frame of the rolled-back
    map equals the gradient support measured on the real module, every phase."""
    g = assert_frame_is_measured(tmp_path, MASK_UNITS, "mask_units", period=4, size=(32, 128))
    assert [n.op.kind for n in g.nodes if isinstance(n.op, Window) and n.op.stride == (2, 2)].count("max_pool") == 2


POOLED_HEADS = """
import torch
import torch.nn as nn


class Net(nn.Module):
    \"\"\"MViTv2's pooling in small: each head's queries pooled by a depthwise conv with the
    heads folded into the batch, ``(B * heads, head_dim, H, W)``; the shortcut projected
    to twice the channels over the tokens, max-pooled as a map, and read back with that
    channel count.\"\"\"

    def __init__(self, dim=8, heads=2):
        super().__init__()
        self.heads = heads
        self.stem = nn.Conv2d(3, dim, 3, padding=1)
        self.q = nn.Linear(dim, dim)
        self.pool_q = nn.Conv2d(dim // heads, dim // heads, 3, stride=2, padding=1, groups=dim // heads)
        self.proj = nn.Linear(dim, 2 * dim)
        self.pool_skip = nn.MaxPool2d(3, 2, 1)

    def forward(self, x):
        x = self.stem(x)
        B, C, H, W = x.shape
        t = x.flatten(2).transpose(1, 2)
        q = self.q(t).reshape(B, H * W, self.heads, -1).permute(0, 2, 1, 3)
        q = q.reshape(-1, H, W, q.shape[-1]).permute(0, 3, 1, 2)
        q = self.pool_q(q)
        h, w = q.shape[2], q.shape[3]
        q = q.reshape(-1, self.heads, q.shape[1], h * w).transpose(2, 3)
        q = q.transpose(1, 2).reshape(B, h * w, C)
        s = self.proj(t).reshape(B, H, W, 2 * C).permute(0, 3, 1, 2)
        s = self.pool_skip(s).reshape(B, 2 * C, -1).transpose(1, 2)
        y = s + torch.cat([q, q], dim=-1)
        return y.transpose(1, 2).reshape(B, 2 * C, h, w)
"""


def test_a_conv_over_heads_folded_into_the_batch_and_a_pooled_projection_match_measurement(tmp_path) -> None:
    """A conv of ``(B * heads, head_dim, H, W)`` reads each head as a map and keeps the heads
    in the batch; a max pool of a map whose channels a linear layer set keeps that count
    (the ``reshape(B, 2 * C, -1)`` after it relies on it). The static frame equals the
    gradient support measured on the real module, every phase."""
    assert_frame_is_measured(tmp_path, POOLED_HEADS, "pooled_heads")


POOLED_WINDOWS = """
import torch
import torch.nn as nn
import torch.nn.functional as F


def window_partition(x, w):
    B, H, W, C = x.shape
    x = x.view(B, H // w, w, W // w, w, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, w, w, C)


def window_unpartition(windows, w, hw):
    H, W = hw
    B = windows.shape[0] // (H * W // w // w)
    x = windows.view(B, H // w, W // w, w, w, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, -1)


class Net(nn.Module):
    \"\"\"SAM2-Hiera's stage change in small: windows folded into the batch, the queries of
    each window max-pooled as a map ``(B * nW, C, w, w)``, attention within the window,
    the windows put back at half the size, a pooled shortcut added.\"\"\"

    def __init__(self, dim=8, w=4):
        super().__init__()
        self.w = w
        self.stem = nn.Conv2d(3, dim, 3, padding=1)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        x = self.stem(x).permute(0, 2, 3, 1)                   # B, H, W, C
        shortcut = self.pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        H, W = shortcut.shape[1:3]
        t = window_partition(x, self.w)                         # B*nW, w, w, C
        B, h, w, _ = t.shape
        q, k, v = self.qkv(t).reshape(B, h * w, 3, -1).unbind(2)
        q = self.pool(q.reshape(B, h, w, -1).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        h, w = q.shape[1:3]
        q = q.reshape(B, h * w, -1)
        y = F.scaled_dot_product_attention(q, k, v).reshape(B, h, w, -1)
        y = window_unpartition(y, self.w // 2, (H, W))
        return (shortcut + y).permute(0, 3, 1, 2)
"""


def test_pooling_the_windows_of_a_map_folded_into_the_batch_matches_measurement(tmp_path) -> None:
    """A 2 x 2 stride-2 max pool of ``(B * nW, C, w, w)`` pools each window as it pools the
    map; the batch size read before the pooling (``B`` of the windows) reshapes the pooled
    queries; the windows put back at half their size make the map. The static frame equals
    the gradient support measured on the real module, every phase."""
    assert_frame_is_measured(tmp_path, POOLED_WINDOWS, "pooled_windows", period=2)
