"""rflint's analytic ERF (Moments) against the measured input-gradient distribution.

Uniform weights, normalised so that every kernel sums to 1 over
in_channels*taps (then a branch's mass is its path count, see rf.mix_moments):
the gradient of one interior output with respect to the input is the composed
kernel. Its mean (offset from ``o*j``), variance and total mass along each axis
are measured on the torch network and compared with rflint's Moments.
"""

from __future__ import annotations

import math
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from hypothesis import assume, event, given, settings  # noqa: E402
from oracle import NotInterior, Stack, measure, measure_moments  # noqa: E402
from test_rf_property import PROFILE, stacks  # noqa: E402

REL = 1e-6


def check_erf(st: Stack, sizes, out_node=None, check_mass=True, frame=None):
    """Per output phase and on average over the phases: rflint's Moments == measured."""
    if out_node is None:
        out_node = st._outputs()[0][1]
    # the jump, and how many consecutive outputs cover every phase, from measurement too
    frame = frame or measure(st, out_node)
    count = math.lcm(*st.period_bounds())  # a whole number of periods on every axis
    measured = measure_moments(st, sizes, out_node, count=count)
    info = st.analyse(sizes).info(out_node)
    assert info.moments is not None
    for a, (row, mo, ax) in enumerate(zip(measured, info.moments, frame.axes)):
        where = f"{st.name} axis {a}"
        phases = mo.phase_list
        got = []
        for mm in row:
            if mm is None:
                continue
            o = mm.pos[a]
            mass, mean, var = phases[o % len(phases)]
            offset = mm.mean - o * float(ax.j)
            got.append((mm.mass, offset, mm.var))
            assert float(var) == pytest.approx(mm.var, rel=REL, abs=1e-9), f"{where} output {o}: var rflint {float(var)}, measured {mm.var}"
            assert float(mean) == pytest.approx(offset, rel=REL, abs=1e-9), f"{where} output {o}: mean rflint {float(mean)}, measured {offset}"
            if check_mass:
                # total mass = product of the axes' masses at this output (separable)
                expect = 1.0
                for b, mb in enumerate(info.moments):
                    pb = mb.phase_list
                    expect *= float(pb[mm.pos[b] % len(pb)][0]) if b == a or len(pb) > 1 else 1.0
                if st.ndim == 1 or all(len(mb.phase_list) == 1 for mb in info.moments):
                    expect = float(mass)
                assert expect == pytest.approx(mm.mass, rel=REL), f"{where} output {o}: mass rflint {expect}, measured {mm.mass}"
        assert None not in row or any(p[0] == 0 for p in phases)
        # the summary (what `width` reports) is the average over the phases that read anything
        n = len(got)
        assert float(mo.var) == pytest.approx(sum(g[2] for g in got) / n, rel=REL, abs=1e-9), where
        assert float(mo.mean) == pytest.approx(sum(g[1] for g in got) / n, rel=REL, abs=1e-9), where
    return measured


def test_plain_conv_stack_1d():
    st = Stack(1, "plain 1d")
    x = st.input(1)
    x = st.conv(x, 2, k=3, p=1)
    x = st.conv(x, 3, k=5, s=2, p=2)
    x = st.conv(x, 2, k=3, d=2, p=1)
    x = st.avg_pool(x, 2, 2)
    x = st.conv(x, 2, k=4, s=1, p=0)
    x = st.max_pool(x, 3, 2, 1)  # an average pool when measuring
    x = st.conv(x, 1, k=3, d=3, p=5)
    check_erf(st, (600,))


def test_plain_conv_stack_2d():
    st = Stack(2, "plain 2d")
    x = st.input(2)
    x = st.conv(x, 2, k=(3, 5), s=(2, 1), p=(1, 0))
    x = st.conv(x, 2, k=3, d=(1, 2), p=1)
    x = st.max_pool(x, 2, 2)
    x = st.conv(x, 1, k=(1, 3), s=2, p=(0, 1))
    x = st.pad(x, [(2, 0), (0, 3)])
    x = st.conv(x, 2, k=2)
    check_erf(st, (160, 160))


def test_residual_stack():
    st = Stack(1, "residual")
    x = st.input(2)
    x = st.conv(x, 2, k=3, p=1)
    for i in range(3):
        y = st.conv(x, 2, k=3, p=1)
        y = st.pointwise(y)
        y = st.conv(y, 2, k=3, d=1 + i, p=1 + i)
        x = st.add(x, y)
    # a downsampling block with a projection shortcut
    y = st.conv(x, 2, k=3, s=2, p=1)
    y = st.conv(y, 2, k=3, p=1)
    sc = st.conv(x, 2, k=1, s=2)
    x = st.add(y, sc)
    # a block whose branch is off-centre
    y = st.pad(x, [(2, 0)])
    y = st.conv(y, 2, k=3)
    x = st.add(x, y)
    x = st.conv(x, 1, k=1)
    measured = check_erf(st, (400,))
    assert measured[0][0].mass > 1  # path counts, not 1


def test_residual_stack_2d():
    st = Stack(2, "residual 2d")
    x = st.input(1)
    x = st.conv(x, 2, k=3, p=1)
    for i in range(2):
        y = st.conv(x, 2, k=(3, 1), p=(1, 0))
        y = st.conv(y, 2, k=(1, 5), p=(0, 2))
        x = st.add(x, y, st.conv(x, 2, k=3, s=1, p=1))
    x = st.max_pool(x, 2, 2)
    x = st.add(x, st.conv(x, 2, k=3, p=1))
    check_erf(st, (96, 96))


def test_concat():
    st = Stack(1, "concat")
    x = st.input(1)
    x = st.conv(x, 2, k=3, p=1)
    a = st.conv(x, 2, k=3, p=1)
    b = st.conv(x, 1, k=7, d=2, p=6)
    c = st.pad(st.conv(x, 3, k=2), [(1, 0)])
    y = st.cat(a, b, c, x)  # x: an identity branch of 2 channels
    y = st.conv(y, 2, k=3, p=1)
    y = st.cat(y, st.conv(y, 1, k=5, s=1, p=2))
    y = st.conv(y, 1, k=3, s=2, p=1)
    check_erf(st, (300,))


def test_inception_like_2d():
    st = Stack(2, "inception")
    x = st.input(1)
    x = st.conv(x, 3, k=3, s=2, p=1)
    b1 = st.conv(x, 1, k=1)
    b2 = st.conv(st.conv(x, 2, k=1), 2, k=3, p=1)
    b3 = st.conv(st.conv(x, 1, k=1), 3, k=5, p=2)
    b4 = st.conv(st.max_pool(x, 3, 1, 1), 2, k=1)
    y = st.cat(b1, b2, b3, b4)
    y = st.conv(y, 1, k=3, p=1)
    check_erf(st, (96, 96))


def test_erf_oracle_can_fail():
    """The plain sum of variances (no mixture) would be wrong at a residual add."""
    st = Stack(1, "residual")
    x = st.input(1)
    y = st.conv(x, 1, k=9, p=4)
    x = st.add(x, y)
    x = st.conv(x, 1, k=1)
    measured = measure_moments(st, (200,))[0][0]
    plain_sum = (9**2 - 1) / 12
    assert measured.var != pytest.approx(plain_sum, rel=1e-3)
    assert measured.var == pytest.approx(plain_sum / 2, rel=1e-9)  # half the mass has variance 0


# --------------------------------------------------------------------------- after upsampling: per phase


@pytest.mark.parametrize("up", ["nearest", "linear", "convT", "convT-k3", "shuffle"])
def test_decoder_per_phase(up):
    """After upsampling, outputs of different phases have different ERFs, and a conv
    that reads several phases mixes them: the variances do not simply add."""
    st = Stack(1, f"decoder {up}")
    x = st.input(1)
    x = st.conv(x, 2, k=3, s=2, p=1)
    x = st.conv(x, 4, k=3, s=2, p=1)
    for _ in range(2):
        if up == "nearest":
            x = st.upsample(x, "nearest", scale=2)
        elif up == "linear":
            x = st.upsample(x, "linear", scale=3, align_corners=False)
        elif up == "convT":
            x = st.conv_t(x, 2, k=2, s=2)
        elif up == "convT-k3":
            x = st.conv_t(x, 2, k=3, s=2, p=1, output_padding=1)
        else:
            x = st.conv(x, 4, k=1)
            x = st.pixel_shuffle(x, 2)
        x = st.conv(x, 2, k=2 if up == "linear" else 3, p="same")
    check_erf(st, (400,))


def test_decoder_2d_chain():
    st = Stack(2, "decoder 2d")
    x = st.input(1)
    x = st.conv(x, 2, k=3, s=2, p=1)
    x = st.conv_t(x, 2, k=(3, 2), s=(2, 3), p=(1, 0), output_padding=(1, 0))
    x = st.conv(x, 2, k=3, p=1)
    x = st.upsample(x, "linear", scale=(2, 1), align_corners=False)
    x = st.conv(x, 1, k=(3, 1), p=(1, 0))
    check_erf(st, (96, 96))


def test_decoder_with_skips():
    """UNet-like: an upsampled path added to and concatenated with skips (1-D)."""
    st = Stack(1, "unet erf")
    x = st.input(1)
    e1 = st.conv(x, 2, k=3, p=1)
    e2 = st.conv(st.max_pool(e1, 2), 2, k=3, p=1)
    b = st.conv(st.max_pool(e2, 2), 2, k=3, p=1)
    d2 = st.cat(st.conv_t(b, 2, k=3, s=2, p=1, output_padding=1), e2)
    d2 = st.conv(d2, 2, k=3, p=1)
    d1 = st.add(st.upsample(d2, "linear", scale=2, align_corners=False), e1)
    d1 = st.conv(d1, 1, k=3, p=1)
    check_erf(st, (320,))


def test_transposed_conv_gaps():
    st = Stack(1, "convT gaps")
    x = st.input(1)
    x = st.conv(x, 2, k=3, p=1)
    x = st.conv_t(x, 2, k=1, s=3)  # two phases out of three read nothing
    check_erf(st, (200,))


# --------------------------------------------------------------------------- random stacks


@pytest.mark.slow
@settings(PROFILE)
@given(stacks(ndims=(1,)))
def test_random_stack_erf(drawn):
    """Random 1-D stacks (those of test_rf_property) ending in a 1x1 conv, which
    averages the channels as the ERF convention at a concat assumes."""
    s, kinds, quantum = drawn
    x = s.conv(len(s.layers) - 1, 1, k=1)
    try:
        frame = measure(s, x, quantum=quantum, start=64, max_len=8192)
    except NotInterior:
        assume(False)
        raise
    for kind in set(kinds):
        event(f"op {kind}")
    sizes = tuple(2 * n for n in frame.sizes)  # room for the ERF's tails on both sides
    check_erf(s, sizes, x, frame=frame)
