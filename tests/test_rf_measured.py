"""rflint's receptive-field algebra against measurement on real torch networks.

Every expected value here comes from the oracle (tests/oracle.py): the
support of the input gradient of a float64 network with positive weights.
Nothing is copied from rflint's own output.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from oracle import Stack, compare, compare_sizes, measure  # noqa: E402

SMALL_SIZES = list(range(1, 41))


def check(stack: Stack, *, sizes=None, size_range=SMALL_SIZES, quantum: int = 1, margin: int = 2, outputs=None):
    """Measured frame == rflint's frame for every output; sizes == torch's for every node."""
    nodes = outputs if outputs is not None else [i for _, i in stack._outputs()]
    for node in nodes:
        compare(stack, node, sizes=sizes, quantum=quantum, margin=margin)
    net = stack.module(measure=False)
    if sizes is None:
        checked = 0
        for n in size_range:
            checked += compare_sizes(stack, (n,) * stack.ndim, net)
        assert checked, "torch refused every input size"
    else:
        assert compare_sizes(stack, sizes, net)


# --------------------------------------------------------------------------- convolutions


@pytest.mark.parametrize(
    "k,s,d,p",
    [(3, 1, 1, 1), (5, 2, 1, 2), (3, 2, 2, 0), (4, 3, 1, 3), (1, 2, 1, 0), (7, 1, 3, 9), (2, 2, 1, 0)],
)
def test_conv_1d_ints(k, s, d, p):
    st = Stack(1, f"conv k{k} s{s} d{d} p{p}")
    x = st.input(1)
    x = st.conv(x, 2, k=k, s=s, d=d, p=p)
    x = st.conv(x, 1, k=3, s=2, p=1)
    x = st.conv(x, 2, k=k, s=s, d=d, p=p)
    check(st)


def test_conv_2d_tuples():
    st = Stack(2, "conv tuples")
    x = st.input(2)
    x = st.conv(x, 2, k=(3, 5), s=(1, 2), d=(2, 1), p=(1, 3))
    x = st.conv(x, 1, k=(1, 3), s=(2, 1), d=(1, 2), p=(0, 1))
    x = st.conv(x, 2, k=(4, 2), s=(3, 2), d=(1, 3), p=(2, 0))
    check(st)


@pytest.mark.parametrize("k,d", [(3, 1), (4, 1), (4, 2), (2, 3), (5, 2), (6, 1)])
def test_conv_same(k, d):
    # torch pads d*(k-1) in total, total//2 before and the rest after
    st = Stack(1, f"same k{k} d{d}")
    x = st.input(1)
    x = st.conv(x, 2, k=k, d=d, p="same")
    x = st.conv(x, 2, k=3, s=2, p=0)
    x = st.conv(x, 1, k=k, d=d, p="same")
    check(st)


def test_conv_same_2d_and_valid():
    st = Stack(2, "same/valid 2d")
    x = st.input(1)
    x = st.conv(x, 2, k=(4, 3), d=(1, 2), p="same")
    x = st.conv(x, 2, k=(2, 5), s=(2, 1), p="valid")
    x = st.conv(x, 1, k=(6, 2), d=(3, 1), p="same")
    check(st)


@pytest.mark.parametrize("pads", [((3, 0),), ((0, 4),), ((2, 5),), ((-3, 1),), ((4, -2),)])
def test_asymmetric_pad_1d(pads):
    st = Stack(1, f"pad {pads}")
    x = st.input(1)
    x = st.pad(x, pads)
    x = st.conv(x, 2, k=3, s=2)
    x = st.pad(x, [(p[1], p[0]) for p in pads])
    x = st.conv(x, 1, k=4, s=2, d=2)
    check(st, size_range=range(8, 41))


def test_asymmetric_pad_2d_then_strided_conv():
    # the TF-style 'SAME' for stride 2: pad (0, 1) then a valid conv
    st = Stack(2, "tf same")
    x = st.input(1)
    x = st.pad(x, [(0, 1), (1, 2)])
    x = st.conv(x, 2, k=3, s=2)
    x = st.pad(x, [(1, 1), (0, 1)])
    x = st.conv(x, 2, k=(3, 2), s=2)
    check(st)


# --------------------------------------------------------------------------- pooling


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("k,s,p,d", [(3, 2, 1, 1), (2, 2, 0, 1), (2, 2, 1, 1), (3, 3, 1, 1), (3, 2, 0, 2), (5, 3, 2, 1), (4, 3, 2, 2)])
def test_pool_ceil_mode(k, s, p, d, ceil_mode):
    st = Stack(1, f"pool k{k} s{s} p{p} d{d} ceil{ceil_mode}")
    x = st.input(1)
    x = st.conv(x, 2, k=3, p=1)
    x = st.max_pool(x, k, s, p, d, ceil_mode)
    x = st.conv(x, 1, k=3, p=1)
    x = st.avg_pool(x, 2, 2, 1, ceil_mode=ceil_mode)
    check(st, size_range=range(1, 60))


def test_pool_2d_ceil_sizes_both_axes():
    st = Stack(2, "pool 2d")
    x = st.input(1)
    x = st.max_pool(x, (3, 2), (2, 2), (1, 0), ceil_mode=True)
    x = st.avg_pool(x, (2, 3), (2, 3), (1, 1), ceil_mode=True)
    x = st.max_pool(x, 3, 2, 1, d=(1, 2), ceil_mode=True)
    check(st, size_range=range(5, 40))


# --------------------------------------------------------------------------- transposed convolutions


@pytest.mark.parametrize(
    "k,s,p,op,d",
    [
        (2, 2, 0, 0, 1),
        (3, 2, 1, 1, 1),
        (4, 2, 1, 0, 1),
        (3, 2, 0, 0, 1),  # the checkerboard case: phases of different width
        (1, 2, 0, 0, 1),  # gaps: odd outputs read only the bias
        (1, 3, 0, 2, 1),
        (3, 2, 1, 0, 2),
        (3, 3, 2, 1, 2),
        (5, 3, 2, 2, 1),
        (3, 1, 1, 0, 1),
        (2, 3, 1, 1, 3),
    ],
)
def test_transposed_conv(k, s, p, op, d):
    st = Stack(1, f"convT k{k} s{s} p{p} op{op} d{d}")
    x = st.input(1)
    x = st.conv(x, 2, k=3, s=2, p=1)
    x = st.conv_t(x, 2, k=k, s=s, p=p, output_padding=op, d=d)
    x = st.conv(x, 1, k=3, p=1)
    x = st.conv_t(x, 1, k=k, s=s, p=p, output_padding=op, d=d)
    check(st)


def test_transposed_conv_2d_tuples():
    st = Stack(2, "convT 2d")
    x = st.input(1)
    x = st.conv_t(x, 2, k=(3, 4), s=(2, 3), p=(1, 0), output_padding=(1, 2), d=(1, 1))
    x = st.conv(x, 2, k=(2, 3), s=(1, 2))
    x = st.conv_t(x, 1, k=(2, 3), s=(2, 2), p=(0, 1), output_padding=(0, 1), d=(2, 1))
    check(st)


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
@pytest.mark.parametrize("scale", [2, 3, 4, 1.5, 2.5, 0.5, 0.75])
def test_upsample_scale(mode, scale):
    st = Stack(1, f"{mode} x{scale}")
    x = st.input(1)
    x = st.conv(x, 2, k=3, s=2, p=1)
    x = st.upsample(x, mode, scale=scale, align_corners=False if mode == "linear" else None)
    x = st.conv(x, 1, k=3, p=1)
    x = st.upsample(x, mode, scale=scale, align_corners=False if mode == "linear" else None)
    check(st)


def test_bilinear_2d_then_conv_then_upsample():
    st = Stack(2, "bilinear 2d")
    x = st.input(1)
    x = st.conv(x, 2, k=3, s=2, p=1)
    x = st.upsample(x, "linear", scale=(2, 3), align_corners=False)
    x = st.conv(x, 2, k=3, s=(1, 2), p=1)
    x = st.upsample(x, "nearest", scale=(3, 2))
    x = st.conv(x, 1, k=2)
    check(st)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
@pytest.mark.parametrize("n_in,n_out", [(200, 300), (200, 500), (201, 402), (300, 200), (120, 280)])
def test_upsample_size(mode, n_in, n_out):
    st = Stack(1, f"{mode} size {n_in}->{n_out}")
    x = st.input(1)
    x = st.conv(x, 2, k=3, p=1)
    x = st.upsample(x, mode, size=n_out, align_corners=False if mode == "linear" else None)
    x = st.conv(x, 1, k=3, s=2, p=1)
    check(st, sizes=(n_in,))


@pytest.mark.parametrize("scale", [2, 3, 1.5, 0.5])
def test_bicubic_scale(scale):
    """Bicubic (PyTorch's cubic convolution): four taps per axis, one where the source is whole."""
    st = Stack(2, f"bicubic x{scale}")
    x = st.input(1)
    x = st.conv(x, 2, k=3, s=2, p=1)
    x = st.upsample(x, "cubic", scale=(scale, 2), align_corners=False)
    x = st.conv(x, 1, k=3, p=1)
    check(st)


@pytest.mark.parametrize("n_in,n_out,align", [(40, 60, False), (40, 100, False), (41, 81, True), (51, 76, True)])
def test_bicubic_size(n_in, n_out, align):
    st = Stack(2, f"bicubic size {n_in}->{n_out} align_corners={align}")
    x = st.input(1)
    x = st.conv(x, 2, k=3, p=1)
    x = st.upsample(x, "cubic", size=(n_out, n_out), align_corners=align)
    x = st.conv(x, 1, k=3, p=1)
    check(st, sizes=(n_in, n_in))


@pytest.mark.parametrize("n_in,n_out", [(101, 201), (101, 301), (151, 226), (100, 199), (201, 101)])
def test_bilinear_align_corners_size(n_in, n_out):
    # (n_in - 1)/(n_out - 1) with a small denominator: a short period, measurable in the interior
    st = Stack(1, f"align_corners size {n_in}->{n_out}")
    x = st.input(1)
    x = st.conv(x, 2, k=3, p=1)
    x = st.upsample(x, "linear", size=n_out, align_corners=True)
    x = st.conv(x, 1, k=3, p=1)
    check(st, sizes=(n_in,))


def test_bilinear_align_corners_size_2d():
    st = Stack(2, "align_corners 2d")
    x = st.input(1)
    x = st.upsample(x, "linear", size=(121, 91), align_corners=True)
    x = st.conv(x, 1, k=3, p=1)
    check(st, sizes=(61, 61))


@pytest.mark.parametrize("n,scale", [(5, 2), (7, 2), (6, 3), (8, 1.5)])
def test_bilinear_align_corners_scale_whole_map(n, scale):
    """With a scale factor the period is about the map's length: no interior. The
    network reads no padding at all (valid convs only), so every output's interval is
    exact; compare them all, and the jump from the only pair of outputs q apart."""
    st = Stack(1, f"align_corners x{scale} n{n}")
    x = st.input(1)
    x = st.upsample(x, "linear", scale=scale, align_corners=True)
    x = st.conv(x, 1, k=2)
    x2 = st.upsample(st.inputs[0], "linear", scale=scale, align_corners=True)
    for node in (x2, x):
        m = measure(st, node, sizes=(n,), margin=0, whole_map=True)
        ax = m.axes[0]
        an = st.analyse((n,))
        fr = an.info(node).frames[0]
        assert len(ax.intervals) == an.info(node).sizes[0]
        for k, iv in enumerate(ax.intervals):
            assert fr.interval(ax.start + k) == iv, (node, ax.start + k)
        if node == x2:
            # outputs 0 and n_out - 1 are q = n_out - 1 apart: they read pixels 0 and n-1
            assert ax.intervals[0] == (0, 0) and ax.intervals[-1] == (n - 1, n - 1)
            from fractions import Fraction

            assert fr.j == Fraction(n - 1, len(ax.intervals) - 1)
    assert compare_sizes(st, (n,))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
def test_downsample_resample(mode):
    st = Stack(1, f"{mode} down")
    x = st.input(1)
    x = st.upsample(x, mode, scale=0.5, align_corners=False if mode == "linear" else None)
    x = st.conv(x, 2, k=3, p=1)
    x = st.upsample(x, mode, scale=2, align_corners=False if mode == "linear" else None)
    check(st)


# --------------------------------------------------------------------------- pixel shuffle


def test_pixel_shuffle_unshuffle_2d():
    st = Stack(2, "shuffle")
    x = st.input(1)
    x = st.pixel_unshuffle(x, 2)  # 4 channels
    x = st.conv(x, 4, k=3, p=1)
    x = st.pixel_shuffle(x, 2)  # 1 channel
    x = st.conv(x, 9, k=3, s=2, p=1)
    x = st.pixel_shuffle(x, 3)
    x = st.conv(x, 1, k=(1, 3), p=(0, 1))
    check(st, quantum=2, size_range=range(2, 41, 2))


def test_pixel_shuffle_1d():
    st = Stack(1, "shuffle 1d")
    x = st.input(1)
    x = st.conv(x, 3, k=3, s=2, p=1)
    x = st.pixel_shuffle(x, 3)
    x = st.conv(x, 2, k=4, p="same")
    x = st.pixel_unshuffle(x, 2)
    check(st, quantum=4)


# --------------------------------------------------------------------------- merges


def test_add_branches_misaligned():
    st = Stack(2, "add")
    x = st.input(1)
    a = st.conv(x, 2, k=3, p=1)
    a = st.conv(a, 2, k=3, s=2, p=1)
    b = st.pad(x, [(1, 3), (3, 1)])
    b = st.conv(b, 2, k=5, s=2)
    c = st.pad(x, [(1, 0), (0, 1)])
    c = st.avg_pool(c, 2, 2)
    y = st.add(a, b, c)
    y = st.conv(y, 1, k=3, p=1)
    check(st, quantum=2, size_range=range(2, 41, 2))


def test_add_periodic_branches():
    """Two upsampling branches of different period merge: per phase min/max."""
    st = Stack(1, "add periodic")
    x = st.input(1)
    x = st.conv(x, 2, k=3, s=6, p=1)
    a = st.conv_t(x, 2, k=3, s=2, p=1, output_padding=1)
    a = st.conv_t(a, 2, k=3, s=3, p=1, output_padding=2)
    b = st.upsample(x, "nearest", scale=6)
    c = st.upsample(x, "linear", scale=6, align_corners=False)
    y = st.add(a, b, c)
    check(st, quantum=6, size_range=range(6, 121, 6))


def test_concat_branches():
    st = Stack(1, "concat")
    x = st.input(2)
    a = st.conv(x, 1, k=7, d=2, p=6)
    b = st.conv(x, 3, k=2, p=0)
    b = st.pad(b, [(0, 1)])
    y = st.cat(a, b, x)
    y = st.conv(y, 2, k=3, s=2, p=1)
    check(st)


def test_gap_filled_by_merge():
    st = Stack(1, "gap merge")
    x = st.input(1)
    a = st.conv_t(x, 1, k=1, s=2, output_padding=1)  # odd outputs: gaps
    b = st.conv_t(x, 1, k=2, s=2)
    y = st.add(a, b)  # the gaps are filled by the other branch
    check(st, outputs=[a, y])


# --------------------------------------------------------------------------- other dimensions


@pytest.mark.slow
def test_3d_stack():
    st = Stack(3, "3d")
    x = st.input(1)
    x = st.conv(x, 2, k=(3, 1, 2), s=(1, 2, 1), p=(1, 0, 1))
    x = st.max_pool(x, 2, 2, ceil_mode=True)
    x = st.conv_t(x, 2, k=(2, 3, 1), s=(2, 1, 2), p=(0, 1, 0))
    x = st.upsample(x, "linear", scale=(1, 2, 1), align_corners=False)
    x = st.pad(x, [(1, 0), (0, 0), (0, 2)])
    x = st.conv(x, 1, k=(1, 2, 3), p="same")
    check(st, size_range=range(3, 17))


def test_1d_long_stack():
    st = Stack(1, "1d deep")
    x = st.input(1)
    for i in range(4):
        x = st.conv(x, 2, k=3, p=1)
        x = st.conv(x, 2, k=3, s=2, p=1, d=1 + i % 2)
    x = st.max_pool(x, 3, 2, 1)
    x = st.conv(x, 2, k=1)
    check(st, size_range=range(1, 200, 7))


# --------------------------------------------------------------------------- networks


def _unet(ndim: int, depth: int, up: str) -> Stack:
    st = Stack(ndim, f"unet-{depth}-{up}")
    x = st.input(1)
    skips = []
    for lv in range(depth):
        x = st.conv(x, 2, k=3, p=1)
        x = st.pointwise(x)
        x = st.conv(x, 2, k=3, p=1)
        skips.append(x)
        x = st.max_pool(x, 2)
    x = st.conv(x, 2, k=3, p=1)
    for lv in reversed(range(depth)):
        if up == "convT":
            x = st.conv_t(x, 2, k=2, s=2)
        elif up == "nearest":
            x = st.upsample(x, "nearest", scale=2)
        else:
            x = st.upsample(x, "linear", scale=2, align_corners=False)
        x = st.cat(x, skips[lv])
        x = st.conv(x, 2, k=3, p=1)
        x = st.conv(x, 2, k=3, p=1)
    x = st.conv(x, 1, k=1)
    return st


@pytest.mark.slow
@pytest.mark.parametrize("up", ["convT", "nearest", "linear"])
def test_unet_skip_concat_every_node(up):
    st = _unet(1, 4, up)
    # every node: the encoder, the bottleneck and every decoder stage is measured
    interior = [i for i, l in enumerate(st.layers) if l.kind in ("conv", "cat", "conv_t", "upsample", "max_pool")]
    check(st, quantum=16, outputs=interior, size_range=range(16, 129, 16))


@pytest.mark.slow
@pytest.mark.parametrize("up", ["convT", "linear"])
def test_unet_skip_concat_2d(up):
    st = _unet(2, 2, up)
    check(st, quantum=4, size_range=range(4, 41, 4))


def test_unet_1d_valid_convs():
    # the original U-Net: valid convs, the skip cropped to the decoder's size
    st = Stack(1, "unet valid")
    x = st.input(1)
    e1 = st.conv(st.conv(x, 2, k=3), 2, k=3)
    x = st.max_pool(e1, 2)
    x = st.conv(st.conv(x, 2, k=3), 2, k=3)
    x = st.conv_t(x, 2, k=2, s=2)
    skip = st.pad(e1, [(-4, -4)])
    x = st.cat(x, skip)
    x = st.conv(st.conv(x, 2, k=3), 1, k=3)
    check(st, quantum=2, size_range=range(14, 60))


def test_multiple_outputs_fpn():
    st = Stack(1, "fpn")
    x = st.input(1)
    c2 = st.conv(x, 2, k=3, s=2, p=1)
    c3 = st.conv(c2, 2, k=3, s=2, p=1)
    c4 = st.conv(c3, 2, k=3, s=2, p=1)
    p4 = st.conv(c4, 2, k=1)
    p3 = st.add(st.conv(c3, 2, k=1), st.upsample(p4, "nearest", scale=2))
    p2 = st.add(st.conv(c2, 2, k=1), st.upsample(p3, "nearest", scale=2))
    st.output(st.conv(p4, 1, k=3, p=1), "p4")
    st.output(st.conv(p3, 1, k=3, p=1), "p3")
    st.output(st.conv(p2, 1, k=3, p=1), "p2")
    check(st, quantum=8, size_range=range(8, 65, 8))


def test_two_inputs():
    st = Stack(1, "two inputs")
    x1 = st.input(1)
    x2 = st.input(2)
    a = st.conv(x1, 2, k=3, p=1)
    b = st.conv(x2, 2, k=5, s=1, p=0)
    b = st.pad(b, [(3, 1)])
    y = st.add(a, b)
    y = st.conv(y, 1, k=3, s=2)
    check(st, size_range=range(5, 30))


# --------------------------------------------------------------------------- the oracle itself can fail


def test_oracle_detects_a_wrong_frame():
    """A wrong expectation must fail: rflint's frame of a conv misread as padding 0."""
    import oracle
    from rflint.rf import AxisFrame, window_map, compose

    st = Stack(1, "k3 p1")
    x = st.input(1)
    st.conv(x, 1, k=3, p=1)
    m = measure(st)
    wrong = compose(AxisFrame.identity(), window_map(3, 1, 1, 0))
    assert oracle.as_frame(m.axes[0]) != wrong
    assert oracle.as_frame(m.axes[0]) == compose(AxisFrame.identity(), window_map(3, 1, 1, 1))


# --------------------------------------------------------------------------- far-side padding, input sizes


@pytest.mark.parametrize(
    "n,k,s,d,pb,pa",
    [(10, 3, 1, 1, 1, 1), (10, 3, 2, 1, 1, 1), (11, 3, 2, 1, 1, 1), (12, 2, 3, 1, 0, 2), (13, 5, 4, 1, 2, 2),
     (9, 3, 2, 2, 2, 2), (16, 1, 3, 1, 0, 0), (7, 4, 1, 1, 3, 0), (20, 3, 5, 3, 0, 4)],
)
def test_far_padding_used(n, k, s, d, pb, pa):
    """The far-side padding actually read (negative: real rows never read), measured as
    the last index of a padded tensor that any output's gradient reaches."""
    import torch
    import torch.nn.functional as F

    from rflint import ir
    from rflint.analysis import analyse

    b = ir.GraphBuilder()
    x = b.input()
    w = b.add(ir.Window("conv", (k,), (s,), (d,), ((pb, pa),)), (x,), "conv")
    info = analyse(b.build("window", [("out", w)]), (n,)).info(w)
    padded = torch.zeros(1, 1, n + pb + pa, dtype=torch.float64, requires_grad=True)
    out = F.conv1d(padded, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    (grad,) = torch.autograd.grad(out.sum(), padded)
    last = int(torch.nonzero(grad[0, 0]).max())
    assert info.sizes == (out.shape[-1],)
    assert info.far_pad == (last - (pb + n - 1),)


def test_input_size_with_channels():
    """input-size given as (C, H, W) or (N, C, H, W): the spatial tail, not the last number twice."""
    st = Stack(2, "rect")
    x = st.input(3)
    x = st.conv(x, 2, k=3, s=2, p=1)
    x = st.upsample(x, "linear", size=(40, 30), align_corners=True)
    from oracle import torch_sizes

    want = torch_sizes(st, (24, 36))
    for given in [(24, 36), (3, 24, 36), (1, 3, 24, 36)]:
        an = st.analyse(given)
        assert [an.info(i).sizes for i in range(len(st.layers))] == want
