"""Property: on random stacks, rflint's frame equals the one measured on the torch network.

Random 1-D and 2-D stacks of convolutions, pools, transposed convolutions,
nearest and linear resampling (up and down, anywhere in the stack), pixel
shuffles, explicit asymmetric padding and cropping, and shape-keeping residual
or concat branches, with random kernel, stride, dilation and padding per axis.
The expected frame comes from the support of the input gradient (tests/oracle.py),
never from rflint. Output sizes are compared with torch's at a few small inputs.
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

from oracle import NotInterior, Stack, compare, compare_sizes, measure  # noqa: E402

settings.register_profile(
    "rf-oracle",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# a longer run on demand: RFLINT_ORACLE_PROFILE=rf-oracle-long
settings.register_profile("rf-oracle-long", parent=settings.get_profile("rf-oracle"), max_examples=3000)
PROFILE = settings.get_profile(os.environ.get("RFLINT_ORACLE_PROFILE", "rf-oracle"))

KINDS = ["conv", "max_pool", "avg_pool", "conv_t", "nearest", "nearest-exact", "linear", "shuffle", "pad", "residual", "concat"]
UP_KINDS = {"conv_t", "nearest", "nearest-exact", "linear", "shuffle"}
SCALES = [Fraction(2), Fraction(3), Fraction(3, 2), Fraction(5, 2), Fraction(1, 2), Fraction(3, 4)]


def per_axis(draw, strat, nd):
    return tuple(draw(strat) for _ in range(nd))


@st.composite
def stacks(draw, ndims=(1, 2)):
    nd = draw(st.sampled_from(ndims))
    n_layers = draw(st.integers(1, 6))
    s = Stack(nd, "random")
    x = s.input(draw(st.integers(1, 2)))
    kinds = []
    quantum = 1
    if draw(st.integers(0, 7)) == 0:  # pixel unshuffle needs a divisible input: first layer only
        x = s.pixel_unshuffle(x, 2)
        x = s.conv(x, draw(st.integers(1, 2)), k=1)
        kinds.append("unshuffle")
        quantum = 2
    jump = Fraction(1)  # a rough bound, to keep the fields (and so the inputs) small
    period = 1
    for _ in range(n_layers):
        kind = draw(st.sampled_from(KINDS))
        c = draw(st.integers(1, 2))
        if kind == "conv":
            k = per_axis(draw, st.integers(1, 5), nd)
            sd = per_axis(draw, st.integers(1, 3), nd)
            d = per_axis(draw, st.integers(1, 3), nd)
            pad_kind = draw(st.sampled_from(["int", "int", "same", "valid"]))
            if pad_kind == "same":
                sd = (1,) * nd
                p = "same"
            elif pad_kind == "valid":
                p = "valid"
            else:
                p = per_axis(draw, st.integers(0, 4), nd)
            x = s.conv(x, c, k=k, s=sd, d=d, p=p)
            jump *= max(sd)
        elif kind in ("max_pool", "avg_pool"):
            k = per_axis(draw, st.integers(1, 4), nd)
            sd = per_axis(draw, st.integers(1, 3), nd)
            p = tuple(draw(st.integers(0, kk // 2)) for kk in k)
            ceil_mode = draw(st.booleans())
            if kind == "max_pool":
                d = per_axis(draw, st.integers(1, 2), nd)
                x = s.max_pool(x, k, sd, p, d, ceil_mode)
            else:
                x = s.avg_pool(x, k, sd, p, ceil_mode)
            jump *= max(sd)
        elif kind == "conv_t":
            k = per_axis(draw, st.integers(1, 4), nd)
            sd = per_axis(draw, st.integers(1, 3), nd)
            d = per_axis(draw, st.integers(1, 2), nd)
            p = tuple(draw(st.integers(0, dd * (kk - 1))) for kk, dd in zip(k, d))
            op = tuple(draw(st.integers(0, max(ss, dd) - 1)) for ss, dd in zip(sd, d))
            x = s.conv_t(x, c, k=k, s=sd, p=p, output_padding=op, d=d)
            period *= max(sd)
        elif kind in ("nearest", "nearest-exact", "linear"):
            scale = per_axis(draw, st.sampled_from(SCALES), nd)
            x = s.upsample(x, kind, scale=scale, align_corners=False if kind == "linear" else None)
            period *= max(v.numerator for v in scale)
            jump *= max(v.denominator for v in scale)
        elif kind == "shuffle":
            f = draw(st.sampled_from([2, 3] if nd == 1 else [2]))
            x = s.conv(x, f**nd, k=1)
            x = s.pixel_shuffle(x, f)
            period *= f
        elif kind == "pad":
            pads = [(draw(st.integers(-2, 3)), draw(st.integers(-2, 3))) for _ in range(nd)]
            x = s.pad(x, pads)
        elif kind == "residual":
            k = per_axis(draw, st.sampled_from([1, 3, 5]), nd)
            d = per_axis(draw, st.integers(1, 2), nd)
            y = s.conv(x, s.ch(x), k=k, d=d, p=tuple(dd * (kk - 1) // 2 for kk, dd in zip(k, d)))
            x = s.add(x, y)
        elif kind == "concat":
            k = per_axis(draw, st.integers(1, 4), nd)
            y = s.conv(x, c, k=k, p="same")
            x = s.cat(y, x)
        kinds.append(kind)
    assume(jump <= 16 and period <= 12)
    return s, kinds, quantum


def record_events(kinds: list[str], nd: int) -> None:
    event(f"ndim={nd}")
    event(f"layers={len(kinds)}")
    for kind in sorted(set(kinds)):
        event(f"op {kind}")
    ups = [i for i, k in enumerate(kinds) if k in UP_KINDS]
    for i in ups:
        where = "first" if i == 0 else "last" if i == len(kinds) - 1 else "middle"
        event(f"upsampling at {where}")
    if len(ups) >= 2:
        event("two or more upsamplings")
    if ups and ups[-1] != len(kinds) - 1:
        event("layers after an upsampling")


@pytest.mark.slow
@settings(PROFILE)
@given(stacks(), st.lists(st.integers(1, 24), min_size=3, max_size=3, unique=True))
def test_random_stack_matches_measurement(drawn, size_list):
    s, kinds, quantum = drawn
    record_events(kinds, s.ndim)
    try:
        m = measure(s, quantum=quantum, start=32, max_len={1: 8192, 2: 512}[s.ndim])
    except NotInterior:
        # torch refused every size, or the network reads nothing from the input
        event("not measurable (rejected)")
        assume(False)
        raise
    q = max(ax.q for ax in m.axes)  # type: ignore[type-var]
    event(f"measured period q={q}" if q <= 4 else "measured period q>4")
    if any(None in ax.alpha for ax in m.axes):  # type: ignore[operator]
        event("frame with gaps")
    event(f"measured at input length {m.sizes[0]}")
    compare(s, m=m)
    for n in size_list:
        compare_sizes(s, (n * quantum,) * s.ndim)


# --------------------------------------------------------------------------- size-dependent resampling


def _simple_layer(draw, s: Stack, x: int) -> int:
    nd = s.ndim
    kind = draw(st.sampled_from(["conv", "max_pool", "pad"]))
    if kind == "conv":
        k = per_axis(draw, st.integers(1, 4), nd)
        return s.conv(x, draw(st.integers(1, 2)), k=k, s=per_axis(draw, st.integers(1, 2), nd),
                      d=per_axis(draw, st.integers(1, 2), nd), p=per_axis(draw, st.integers(0, 2), nd))
    if kind == "max_pool":
        k = per_axis(draw, st.integers(1, 3), nd)
        return s.max_pool(x, k, per_axis(draw, st.integers(1, 2), nd), tuple(kk // 2 for kk in k),
                          ceil_mode=draw(st.booleans()))
    return s.pad(x, [(draw(st.integers(-2, 3)), draw(st.integers(-2, 3))) for _ in range(nd)])


def _divisors(n: int, limit: int) -> list[int]:
    return [a for a in range(1, limit + 1) if n % a == 0]


@st.composite
def size_dependent_stacks(draw):
    """A resampling to a fixed size (or with align_corners=True) between random
    layers; the output size is drawn so that the ratio has a small denominator
    (the frame's period), so that the interior shows every phase."""
    from oracle import torch_sizes

    nd = draw(st.sampled_from([1, 2]))
    length = draw(st.integers(120, 260)) if nd == 1 else draw(st.integers(60, 90))
    s = Stack(nd, "size-dependent")
    x = s.input(1)
    for _ in range(draw(st.integers(0, 2))):
        x = _simple_layer(draw, s, x)
    sizes = torch_sizes(s, (length,) * nd)
    assume(sizes is not None and min(sizes[x]) >= 8)
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear", "linear-ac"]))
    out = []
    for n_in in sizes[x]:  # type: ignore[index]
        b = draw(st.integers(1, 4))
        if mode == "linear-ac":
            a = draw(st.sampled_from(_divisors(n_in - 1, 4)))
            out.append((n_in - 1) // a * b + 1)
        else:
            a = draw(st.sampled_from(_divisors(n_in, 4)))
            out.append(n_in // a * b)
    if mode == "linear-ac":
        x = s.upsample(x, "linear", size=tuple(out), align_corners=True)
    else:
        x = s.upsample(x, mode, size=tuple(out), align_corners=False if mode == "linear" else None)
    for _ in range(draw(st.integers(0, 2))):
        x = _simple_layer(draw, s, x)
    return s, mode, (length,) * nd


@pytest.mark.slow
@settings(PROFILE)
@given(size_dependent_stacks())
def test_size_dependent_resampling_matches_measurement(drawn):
    s, mode, sizes = drawn
    event(f"mode {mode}")
    event(f"ndim={s.ndim}")
    try:
        m = measure(s, sizes=sizes)
    except (NotInterior, ValueError):
        assume(False)
        raise
    q = max(ax.q or 0 for ax in m.axes)
    event(f"measured period q={q}" if q <= 4 else "measured period q>4")
    compare(s, m=m)
    assert compare_sizes(s, sizes)
