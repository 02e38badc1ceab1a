"""User-written blur layers (RULES.md, "A blur is: ... a user module that is a depthwise
conv with a fixed, non-negative, normalised kernel"): the static evaluator computes the
kernel a module builds in ``__init__`` (constant n-D tensors), ``F.conv2d`` with that
kernel becomes a conv Window marked ``blur``, and the AA rules treat it as they treat
antialiased-cnns' ``BlurPool``. A learnable or otherwise unfit kernel is never a blur.
Receptive fields through ``F.conv2d`` are checked against measurement on the real module.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rflint.analysis import analyse
from rflint.api import check_text
from rflint.ir import Opaque, Window
from rflint.readers.python import build_entry, read_python
from rflint.readers.python.consttensor import (
    ConstTensor,
    elementwise,
    index,
    reduce_sum,
)

HEAD = """\
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

"""

# The BlurPool of the issue: binomial [1, 2, 1] outer product, normalised, in a buffer.
BLUR = """\
class BlurPool(nn.Module):
    def __init__(self, channels, stride=2):
        super().__init__()
        a = torch.tensor([1., 2., 1.])
        k = a[:, None] * a[None, :]
        k = k / k.sum()
        self.register_buffer("filt", k[None, None, :, :].repeat(channels, 1, 1, 1))
        self.stride = stride
        self.channels = channels

    def forward(self, x):
        x = F.pad(x, [1, 1, 1, 1], mode="reflect")
        return F.conv2d(x, self.filt, stride=self.stride, groups=x.shape[1])
"""


def _blur_class(kernel_lines: str, store: str, groups: str = "x.shape[1]", pad: int = 1) -> str:
    """A user BlurPool whose kernel ``k`` (shape (c, 1, kh, kw)) is built by ``kernel_lines``
    and stored by ``store`` (a statement that sets ``self.filt`` from ``k``)."""
    body = textwrap.indent(kernel_lines.strip() + "\n" + store.strip() + "\n", " " * 8)
    return (
        "class BlurPool(nn.Module):\n"
        "    def __init__(self, channels, stride=2):\n"
        "        super().__init__()\n"
        f"{body}"
        "        self.stride = stride\n"
        "        self.channels = channels\n\n"
        "    def forward(self, x):\n"
        f"        x = F.pad(x, [{pad}, {pad}, {pad}, {pad}], mode='reflect')\n"
        f"        return F.conv2d(x, self.filt, stride=self.stride, groups={groups})\n"
    )


def _net(blur_class: str, stride: int = 2) -> str:
    """conv -> dense max pool -> the user blur (Zhang 2019's MaxBlurPool), or with
    ``stride=1`` the blur in front of a strided conv."""
    if stride == 2:
        layers = "self.pool = nn.MaxPool2d(3, stride=1, padding=1)\n        self.blur = BlurPool(8)\n"
        body = "return self.blur(self.pool(self.conv(x)))"
    else:
        layers = "self.blur = BlurPool(8, stride=1)\n        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)\n"
        body = "return self.down(self.blur(self.conv(x)))"
    return (
        HEAD + blur_class + "\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 8, 3, padding=1)\n        " + layers + "\n"
        "    def forward(self, x):\n        " + body + "\n"
    )


def _graph(src: str, name: str = "Net"):
    result = read_python("m.py", src)
    (model,) = [m for m in result.models if m.graph.name == name]
    return model.graph


def _fconv(graph):
    (node,) = [n for n in graph.nodes if n.type_name == "F.conv2d"]
    return node


def _line(src: str, needle: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if needle in line)


# ---------------------------------------------------------------------- constant tensors


def test_const_tensor_broadcasting_indexing_and_sum_by_hand() -> None:
    a = ConstTensor.of([1.0, 2.0, 1.0])
    col, row = index(a, (slice(None), None)), index(a, (None, slice(None)))
    assert col.shape == (3, 1) and row.shape == (1, 3)
    k = elementwise("mul", col, row)
    assert k.shape == (3, 3) and k.tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    assert reduce_sum(k) == 16.0
    assert reduce_sum(k, 0).tolist() == [4, 8, 4] and reduce_sum(k, 1, keepdim=True).shape == (3, 1)
    assert index(k, (1, 1)) == 4.0 and index(k, (Ellipsis, 0)).tolist() == [1, 2, 1]
    assert index(k, (slice(None, None, 2),)).tolist() == [[1, 2, 1], [1, 2, 1]]


# ---------------------------------------------------------------------- recognised blurs

KERNELS = {
    # The issue's own code: torch.tensor, a[:, None] * a[None, :], / k.sum(), register_buffer, repeat.
    "tensor-buffer-repeat": (("a = torch.tensor([1., 2., 1.])\nk = a[:, None] * a[None, :]\nk = k / k.sum()\n"
                             "k = k[None, None, :, :].repeat(channels, 1, 1, 1)"),
                             "self.register_buffer('filt', k)", 3),
    # adobe/antialiased-cnns: np.array, torch.Tensor(a[:,None]*a[None,:]), / torch.sum, repeat((c,1,1,1)).
    "numpy-Tensor-torch.sum": (("a = np.array([1., 3., 3., 1.])\nfilt = torch.Tensor(a[:, None] * a[None, :])\n"
                               "filt = filt / torch.sum(filt)\nk = filt[None, None, :, :].repeat((channels, 1, 1, 1))"),
                               "self.register_buffer('filt', k)", 4),
    "outer-expand-frozen-parameter": (("a = torch.tensor([1., 4., 6., 4., 1.])\nk = torch.outer(a, a)\n"
                                      "k = (k / k.sum()).expand(channels, 1, -1, -1)"),
                                      "self.filt = nn.Parameter(k, requires_grad=False)", 5),
    "literal-2d-plain-attribute": (("k = torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16\n"
                                   "k = k.view(1, 1, 3, 3).repeat(channels, 1, 1, 1)"),
                                   "self.filt = k", 3),
    "gaussian-exp-unsqueeze": (("x = torch.arange(5) - 2\ng = torch.exp(-(x ** 2) / (2 * 1.0 ** 2))\ng = g / g.sum()\n"
                               "k = (g[:, None] @ g[None, :]).unsqueeze(0).unsqueeze(0).repeat(channels, 1, 1, 1)"),
                               "self.register_buffer('filt', k, persistent=False)", 5),
    "box-ones": ("k = torch.ones(channels, 1, 2, 2) / 4", "self.register_buffer('filt', k)", 2),
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_user_blur_variants_are_blurs(name: str) -> None:
    lines, store, size = KERNELS[name]
    g = _graph(_net(_blur_class(lines, store)))
    node = _fconv(g)
    assert node.op == Window("conv", (size, size), (2, 2), (1, 1), ((0, 0), (0, 0)))
    assert node.attrs["blur"] is True
    assert node.attrs["out_channels"] == 8
    assert g.complete, g.unresolved


def test_groups_from_the_channel_count_and_1d() -> None:
    g = _graph(_net(_blur_class(*KERNELS["tensor-buffer-repeat"][:2], groups="self.channels")))
    node = _fconv(g)
    assert node.attrs["blur"] is True and node.attrs["groups"] == 8 and node.attrs["in_channels"] == 8
    src = HEAD + textwrap.dedent("""
        class Blur1d(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("k", torch.tensor([[[0.25, 0.5, 0.25]]]).repeat(4, 1, 1))
                self.c = nn.Conv1d(1, 4, 3)

            def forward(self, x):
                return F.conv1d(self.c(x), self.k, stride=2, padding=1, groups=4)
    """)
    (node,) = [n for n in _graph(src, "Blur1d").nodes if n.type_name == "F.conv1d"]
    assert node.op == Window("conv", (3,), (2,), (1,), ((1, 1),)) and node.attrs["blur"] is True


# ---------------------------------------------------------------------- not blurs

NOT_BLURS = {
    "not normalised": ("a = torch.tensor([1., 2., 1.])\nk = (a[:, None] * a[None, :])[None, None].repeat(channels, 1, 1, 1)",
                       "self.register_buffer('filt', k)", "sums to 16"),
    "negative entry": ("k = torch.tensor([[0., -1., 0.], [-1., 5., -1.], [0., -1., 0.]])[None, None].repeat(channels, 1, 1, 1)",
                       "self.register_buffer('filt', k)", "negative"),
    "learnable parameter": (("a = torch.tensor([1., 2., 1.])\nk = a[:, None] * a[None, :]\n"
                            "k = (k / k.sum())[None, None].repeat(channels, 1, 1, 1)"),
                            "self.filt = nn.Parameter(k)", None),
    "requires_grad=True": ("k = torch.ones(channels, 1, 3, 3) / 9",
                           "self.filt = nn.Parameter(k, requires_grad=True)", None),
    "channel-mixing": ("k = torch.ones(channels, channels, 3, 3) / (9 * channels)",
                       "self.register_buffer('filt', k)", "mixes 8 input channels"),
    "single tap": ("k = torch.ones(channels, 1, 1, 1)", "self.register_buffer('filt', k)", "single-tap"),
}


@pytest.mark.parametrize("name", list(NOT_BLURS))
def test_unfit_or_learnable_kernels_are_not_blurs(name: str) -> None:
    lines, store, why = NOT_BLURS[name]
    groups = "1" if name == "channel-mixing" else "x.shape[1]"
    g = _graph(_net(_blur_class(lines, store, groups=groups, pad=0 if name == "single tap" else 1)))
    node = _fconv(g)
    assert isinstance(node.op, Window) and node.op.kind == "conv"  # still a conv, with its kernel size
    assert not node.attrs.get("blur")
    if why is not None:  # a fixed kernel: the reason it is not a low-pass filter, for the message
        assert why in node.attrs["not_blur"]
    else:
        assert "not_blur" not in node.attrs  # a learnable conv is an ordinary conv


def test_functional_conv_with_an_unknown_weight() -> None:
    """A learnable weight of known shape gives the conv its kernel size; a weight whose
    shape cannot be seen gives an Opaque node that says why."""
    src = HEAD + textwrap.dedent("""
        class Net(nn.Module):
            def __init__(self, w):
                super().__init__()
                self.w = nn.Parameter(torch.randn(8, 3, 5, 5))
                self.v = w

            def forward(self, x):
                return F.conv2d(F.conv2d(x, self.w, stride=2, padding=2), self.v)
    """)
    g = build_entry("m.py", src, "Net(w=None)").graph
    first, second = [n for n in g.nodes if n.type_name == "F.conv2d"]
    assert first.op == Window("conv", (5, 5), (2, 2), (1, 1), ((2, 2), (2, 2))) and not first.attrs.get("blur")
    assert isinstance(second.op, Opaque) and "weight's shape is not known" in second.op.reason


# ---------------------------------------------------------------------- the AA rules


def _codes(src: str) -> list[tuple[str, int]]:
    return sorted((d.code, d.loc.line) for d in check_text("m.py", src) if d.code.startswith("AA"))


def test_aa102_fires_on_a_strided_max_pool_and_not_when_a_user_blur_replaces_its_stride() -> None:
    plain = HEAD + textwrap.dedent("""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3, padding=1)
                self.pool = nn.MaxPool2d(3, stride=2, padding=1)

            def forward(self, x):
                return self.pool(self.conv(x))
    """)
    assert _codes(plain) == [("AA102", _line(plain, "nn.MaxPool2d("))]
    fixed = _net(BLUR)
    assert _codes(fixed) == []
    assert _fconv(_graph(fixed)).attrs["blur"] is True


def test_aa101_fires_on_a_strided_conv_and_not_behind_a_user_blur() -> None:
    src = _net(BLUR, stride=1)
    assert _codes(src) == []
    bare = src.replace("return self.down(self.blur(self.conv(x)))", "return self.down(self.conv(x))")
    assert _codes(bare) == [("AA101", _line(bare, "self.down = nn.Conv2d("))]


@pytest.mark.parametrize("name", ["not normalised", "negative entry", "learnable parameter"])
def test_aa_rules_still_fire_when_the_kernel_is_not_a_blur(name: str) -> None:
    lines, store, _ = NOT_BLURS[name]
    blur = _blur_class(lines, store)
    # In place of the pool's stride: the strided F.conv2d is itself an unprotected strided conv.
    src = _net(blur)
    assert _codes(src) == [("AA101", _line(src, "return F.conv2d("))]
    if name != "learnable parameter":
        (d,) = [d for d in check_text("m.py", src) if d.code == "AA101"]
        assert "It has a fixed kernel that is not a blur" in d.message
    # In front of a strided conv: that conv is not protected.
    src = _net(blur, stride=1)
    assert ("AA101", _line(src, "self.down = nn.Conv2d(")) in _codes(src)
    (d,) = [d for d in check_text("m.py", src) if d.loc.line == _line(src, "self.down = nn.Conv2d(")]
    if name == "learnable parameter":
        assert "fixed kernel" not in d.message
    else:  # the message says why the kernel in front is no blur
        why = NOT_BLURS[name][2]
        at = _line(src, "return F.conv2d(")
        assert f"The F.conv2d(kernel_size=3, stride=1) (line {at}) in front has a fixed kernel that is not a blur" in d.message
        assert why in d.message


def test_aa103_sees_a_user_blur_after_the_subsampling() -> None:
    """A stride-1 user blur right after a strided max pool is misplaced (AA103), as
    antialiased-cnns' BlurPool(stride=1) there is."""
    src = _net(BLUR).replace("nn.MaxPool2d(3, stride=1, padding=1)", "nn.MaxPool2d(3, stride=2, padding=1)").replace(
        "BlurPool(8)", "BlurPool(8, stride=1)")
    found = _codes(src)
    assert ("AA102", _line(src, "nn.MaxPool2d(")) in found
    assert ("AA103", _line(src, "return F.conv2d(")) in found


# ---------------------------------------------------------------------- measured


def test_receptive_field_through_a_buffer_conv_matches_measurement(tmp_path: Path) -> None:
    """conv3 -> BlurPool (reflect pad 1, 3x3 stride 2) -> conv3 -> BlurPool -> conv3: static
    frame of the output against the gradient support on the real module (torch)."""
    from measure import import_file, measure

    src = HEAD + BLUR + textwrap.dedent("""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(3, 8, 3, padding=1)
                self.b1 = BlurPool(8)
                self.b = nn.Conv2d(8, 8, 3, padding=1)
                self.b2 = BlurPool(8)
                self.c = nn.Conv2d(8, 4, 3, padding=1)

            def forward(self, x):
                return self.c(self.b2(self.b(self.b1(self.a(x)))))
    """)
    g = _graph(src)
    assert [n.attrs.get("blur") for n in g.nodes if n.type_name == "F.conv2d"] == [True, True]
    a = analyse(g)
    ((_, out),) = a.spatial_outputs()
    frame = a.info(out).frames[-1]
    path = tmp_path / "user_blur_net.py"
    path.write_text(src)
    got = measure(import_file(path, "user_blur_net").Net(), (1, 3, 16, 256), period=1)
    assert (got.j, got.alpha, got.beta) == (frame.j, tuple(frame.alpha), tuple(frame.beta))
    # By hand: r = 1 + 2 + 2*1 + 2*2 + 2*2 + 2*4 = 21 (jumps 1, 1, 2, 2, 4), j = 4.
    assert frame.j == 4 and frame.r == 21


# ----------------------------------------------------------------------------- blur-classes

LEARNED_BLUR = """\
import torch.nn as nn


class MyBlur(nn.Module):
    \"\"\"A learned depthwise low-pass: not a fixed kernel, so only the user can vouch for it.\"\"\"

    def __init__(self, c=8, stride=2):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=c, bias=False)

    def forward(self, x):
        return self.conv(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blur = MyBlur(8, stride=1)
        self.down = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.pool_blur = MyBlur(8)

    def forward(self, x):
        return self.pool_blur(self.down(self.blur(self.stem(x))))
"""


def _aa(tmp_path, options: str) -> list[tuple[str, int]]:
    from rflint.api import check_text
    from rflint.config import load_config

    (tmp_path / "rflint.toml").write_text("select = ['AA']\n" + options)
    config = load_config(tmp_path / "rflint.toml", cache=False)
    return sorted((d.code, d.loc.line) for d in check_text(str(tmp_path / "m.py"), LEARNED_BLUR, config))


def test_blur_classes_names_user_blurs_the_reader_cannot_prove(tmp_path) -> None:
    # Without the option: MyBlur's strided conv (line 9) and Net's strided conv (line 20), whose
    # input comes from MyBlur at stride 1, are both unprotected.
    assert _aa(tmp_path, "") == [("AA101", 9), ("AA101", 20)]
    # Named as a blur (qualified or not, in any AA rule's table): both are protected.
    assert _aa(tmp_path, "[rules.AA101]\nblur-classes = ['mylib.MyBlur']\n") == []
    assert _aa(tmp_path, "[rules.AA103]\nblur-classes = ['MyBlur']\n") == []
    # Another class named: nothing changes.
    assert _aa(tmp_path, "[rules.AA101]\nblur-classes = ['OtherBlur']\n") == [("AA101", 9), ("AA101", 20)]


def test_blur_classes_must_be_a_list_of_names(tmp_path) -> None:
    found = _aa(tmp_path, "[rules.AA101]\nblur-classes = 'MyBlur'\n")
    assert ("RL000", 1) in found  # the rule says what is wrong instead of guessing
