"""Measurement oracle for rflint's receptive-field algebra (a helper module, not a test file).

A :class:`Stack` describes a small network once and turns it into both

* an rflint :class:`rflint.ir.Graph` (one graph node per layer, same ids), and
* a real torch ``nn.Module`` (1-D, 2-D or 3-D).

The receptive field is then *measured* on the torch network, never taken from
rflint, as ../shared/DESIGN.md prescribes: float64, positive weights, zero
biases, max pools replaced by average pools (a dilated max pool by a depthwise
all-positive convolution: ``AvgPool`` has no dilation), activations and norms
are identities. We backpropagate from a window of ``2*Q`` consecutive output
positions in the middle of the map along each axis (``Q``: a multiple of any
period the stack can produce, from its description), one batch entry per
output, read the support (nonzero set) of the input gradient, project it on
the axis, and take its min/max as the interval. From the intervals of
consecutive outputs the minimal period ``q``, the jump ``j`` (the shift
between outputs ``q`` apart, divided by ``q``) and per phase
``alpha = start - o*j``, ``beta = end - o*j`` follow. "Interior" is checked,
not assumed: the window stays a window's length away from the map's ends, the
supports must stay off the input's borders, and (unless the test fixes the
input size) the derived frame must be identical at two input sizes, ``L`` and
``2L``.

Output sizes are compared with the real network (real max pools), node by node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rflint import ir
from rflint.analysis import Analysis, analyse
from rflint.rf import AxisFrame

DT = torch.float64


def single_threaded(fn):
    """Run ``fn`` with one intra-op thread, restoring the setting after. The tensors
    here are small; on a busy 2-core machine torch's thread pool makes them up to
    ~100x slower (spin-waiting), and the results do not depend on it."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*a, **kw)
        finally:
            torch.set_num_threads(n)

    return wrapper

Interval = tuple[int, int] | None


def _tup(v: Any, nd: int) -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) != nd:
            raise ValueError(f"expected {nd} values, got {v!r}")
        return tuple(v)
    return (v,) * nd


def _frac(v: Any) -> Fraction:
    return v if isinstance(v, Fraction) else Fraction(v).limit_denominator(1000)


# --------------------------------------------------------------------------- description


@dataclass
class Layer:
    kind: str
    inputs: tuple[int, ...]
    channels: int
    p: dict[str, Any] = field(default_factory=dict)


class Stack:
    """A DAG of layers; every method appends one layer and returns its id."""

    def __init__(self, ndim: int, name: str = "stack") -> None:
        if ndim not in (1, 2, 3):
            raise ValueError("ndim must be 1, 2 or 3")
        self.ndim = ndim
        self.name = name
        self.layers: list[Layer] = []
        self.outputs: list[tuple[str, int]] = []

    # ---- construction
    def _add(self, kind: str, inputs: Sequence[int], channels: int, **p: Any) -> int:
        for i in inputs:
            if not 0 <= i < len(self.layers):
                raise ValueError(f"bad input id {i}")
        self.layers.append(Layer(kind, tuple(inputs), channels, p))
        return len(self.layers) - 1

    def ch(self, x: int) -> int:
        return self.layers[x].channels

    def input(self, channels: int = 1) -> int:
        return self._add("input", (), channels)

    def conv(self, x: int, out: int | None = None, k: Any = 3, s: Any = 1, d: Any = 1, p: Any = 0, groups: int = 1) -> int:
        """``p``: int, tuple of ints (symmetric, as torch), 'same' or 'valid'."""
        nd = self.ndim
        return self._add(
            "conv", (x,), out or self.ch(x), k=_tup(k, nd), s=_tup(s, nd), d=_tup(d, nd),
            p=p if isinstance(p, str) else _tup(p, nd), groups=groups,
        )

    def max_pool(self, x: int, k: Any, s: Any = None, p: Any = 0, d: Any = 1, ceil_mode: bool = False) -> int:
        nd = self.ndim
        return self._add(
            "max_pool", (x,), self.ch(x), k=_tup(k, nd), s=_tup(k if s is None else s, nd),
            p=_tup(p, nd), d=_tup(d, nd), ceil_mode=ceil_mode,
        )

    def avg_pool(self, x: int, k: Any, s: Any = None, p: Any = 0, ceil_mode: bool = False) -> int:
        nd = self.ndim
        return self._add(
            "avg_pool", (x,), self.ch(x), k=_tup(k, nd), s=_tup(k if s is None else s, nd),
            p=_tup(p, nd), d=(1,) * nd, ceil_mode=ceil_mode,
        )

    def pad(self, x: int, pads: Sequence[tuple[int, int]]) -> int:
        """Zero padding (negative: cropping); ``pads`` per spatial axis, (before, after)."""
        if len(pads) != self.ndim:
            raise ValueError("one (before, after) pair per axis")
        return self._add("pad", (x,), self.ch(x), pads=tuple((int(a), int(b)) for a, b in pads))

    def conv_t(self, x: int, out: int | None = None, k: Any = 2, s: Any = 2, p: Any = 0, output_padding: Any = 0, d: Any = 1) -> int:
        nd = self.ndim
        return self._add(
            "conv_t", (x,), out or self.ch(x), k=_tup(k, nd), s=_tup(s, nd), p=_tup(p, nd),
            op=_tup(output_padding, nd), d=_tup(d, nd),
        )

    def upsample(self, x: int, mode: str = "nearest", scale: Any = None, size: Any = None, align_corners: bool | None = None) -> int:
        """``mode``: 'nearest', 'nearest-exact', 'linear' (linear/bilinear/trilinear by ndim)
        or 'cubic' (bicubic: 2-D only, as in PyTorch)."""
        if (scale is None) == (size is None):
            raise ValueError("exactly one of scale and size")
        if mode not in ("nearest", "nearest-exact", "linear", "cubic"):
            raise ValueError(mode)
        if mode == "cubic" and self.ndim != 2:
            raise ValueError("bicubic resampling is 2-D")
        if mode not in ("linear", "cubic") and align_corners is not None:
            raise ValueError("align_corners only with linear and cubic")
        nd = self.ndim
        return self._add(
            "upsample", (x,), self.ch(x), mode=mode,
            scale=None if scale is None else tuple(_frac(v) for v in _tup(scale, nd)),
            size=None if size is None else _tup(size, nd), align_corners=align_corners,
        )

    def pixel_shuffle(self, x: int, f: int) -> int:
        c = self.ch(x)
        if c % f**self.ndim:
            raise ValueError(f"{c} channels not divisible by {f}**{self.ndim}")
        return self._add("shuffle", (x,), c // f**self.ndim, f=f)

    def pixel_unshuffle(self, x: int, f: int) -> int:
        return self._add("unshuffle", (x,), self.ch(x) * f**self.ndim, f=f)

    def pointwise(self, x: int) -> int:
        """A ReLU in the real network (an identity when measuring)."""
        return self._add("pointwise", (x,), self.ch(x))

    def add(self, *xs: int) -> int:
        return self._add("add", xs, self.ch(xs[0]))

    def cat(self, *xs: int) -> int:
        return self._add("cat", xs, sum(self.ch(x) for x in xs))

    def output(self, x: int, name: str | None = None) -> int:
        self.outputs.append((name or f"out{len(self.outputs)}", x))
        return x

    @property
    def inputs(self) -> list[int]:
        return [i for i, l in enumerate(self.layers) if l.kind == "input"]

    def _outputs(self) -> list[tuple[str, int]]:
        return self.outputs or [("out", len(self.layers) - 1)]

    def size_dependent(self) -> bool:
        """True when the index maps depend on the input size (size=, align_corners=True)."""
        return any(l.kind == "upsample" and (l.p["size"] is not None or l.p["align_corners"]) for l in self.layers)

    # ---- the rflint side
    def graph(self) -> ir.Graph:
        nd = self.ndim
        b = ir.GraphBuilder()
        for i, l in enumerate(self.layers):
            attrs = {"out_channels": l.channels}
            p = l.p
            if l.kind == "input":
                op: ir.Op = ir.Pointwise()
            elif l.kind == "conv":
                pad = p["p"]
                if pad == "valid":
                    pads = ((0, 0),) * nd
                elif pad == "same":
                    tot = [p["d"][a] * (p["k"][a] - 1) for a in range(nd)]
                    pads = tuple((t // 2, t - t // 2) for t in tot)
                else:
                    pads = tuple((v, v) for v in pad)
                op = ir.Window("conv", p["k"], p["s"], p["d"], pads)
            elif l.kind in ("max_pool", "avg_pool"):
                op = ir.Window(l.kind, p["k"], p["s"], p["d"], tuple((v, v) for v in p["p"]), p["ceil_mode"])
            elif l.kind == "pad":
                op = ir.Window("pad", (1,) * nd, (1,) * nd, (1,) * nd, p["pads"])
            elif l.kind == "conv_t":
                op = ir.TransposedConv(p["k"], p["s"], p["d"], p["p"], p["op"])
            elif l.kind == "upsample":
                op = ir.Resample(p["mode"], p["scale"], p["size"], bool(p["align_corners"]))
            elif l.kind == "shuffle":
                op = ir.PixelShuffle(p["f"], nd)
            elif l.kind == "unshuffle":
                op = ir.PixelUnshuffle(p["f"], nd)
            elif l.kind == "pointwise":
                op = ir.Pointwise()
            elif l.kind == "add":
                op = ir.Merge("add")
            elif l.kind == "cat":
                op = ir.Merge("concat")
            else:  # pragma: no cover
                raise ValueError(l.kind)
            b.add(op, l.inputs, l.kind, name=f"n{i}", attrs=attrs)
        return b.build(self.name, self._outputs(), ndim=nd)

    def analyse(self, input_size: Sequence[int] | None = None) -> Analysis:
        return analyse(self.graph(), input_size)

    # ---- the torch side
    def module(self, measure: bool = True, weights: str = "normalised") -> "TorchStack":
        """The torch network. ``measure``: pools become average pools, ReLUs identities,
        weights positive (``weights``: 'normalised' = each kernel sums to 1 over
        in_channels*taps, 'ones'), biases zero."""
        return TorchStack(self, measure, weights)

    def period_bound(self, sizes: Sequence[Sequence[int]] | None = None) -> int:
        """An upper bound of the period of any frame in the stack along any one axis."""
        return max(self.period_bounds(sizes))

    def period_bounds(self, sizes: Sequence[Sequence[int]] | None = None) -> list[int]:
        """Per axis, a multiple of the period of any frame (or ERF) in the stack: the
        product of the upsampling periods, from the description alone. ``sizes``
        (per node, from torch) is needed for size-dependent resampling."""
        bounds = [1] * self.ndim
        for i, l in enumerate(self.layers):
            for a in range(self.ndim):
                if l.kind == "conv_t":
                    bounds[a] *= l.p["s"][a]
                elif l.kind == "shuffle":
                    bounds[a] *= l.p["f"]
                elif l.kind == "upsample":
                    if l.p["align_corners"] or l.p["scale"] is None:
                        if sizes is None:
                            raise ValueError("size-dependent resampling needs sizes")
                        n_in, n_out = sizes[l.inputs[0]][a], sizes[i][a]
                        ratio = Fraction(n_in - 1, n_out - 1) if l.p["align_corners"] else Fraction(n_in, n_out)
                    else:
                        ratio = 1 / l.p["scale"][a]
                    bounds[a] *= ratio.denominator
        return bounds


# --------------------------------------------------------------------------- torch modules


class _Pad(nn.Module):
    def __init__(self, pads: Sequence[tuple[int, int]]) -> None:
        super().__init__()
        self.flat = tuple(v for pair in reversed(pads) for v in pair)  # torch: last axis first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.flat)


class _ShuffleND(nn.Module):
    """PixelShuffle / PixelUnshuffle for any number of spatial axes (torch's are 2-D)."""

    def __init__(self, f: int, nd: int, inverse: bool) -> None:
        super().__init__()
        self.f, self.nd, self.inverse = f, nd, inverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, nd = self.f, self.nd
        n, c = x.shape[:2]
        sp = x.shape[2:]
        if not self.inverse:
            co = c // f**nd
            x = x.reshape(n, co, *([f] * nd), *sp)  # (n, co, f.., s..)
            perm = [0, 1] + [ax for a in range(nd) for ax in (2 + nd + a, 2 + a)]
            return x.permute(perm).reshape(n, co, *(s * f for s in sp))
        x = x.reshape(n, c, *[v for s in sp for v in (s // f, f)])  # (n, c, s0, f, s1, f, ..)
        perm = [0, 1] + [3 + 2 * a for a in range(nd)] + [2 + 2 * a for a in range(nd)]
        return x.permute(perm).reshape(n, c * f**nd, *(s // f for s in sp))


def _cls(base: str, nd: int) -> type[nn.Module]:
    return getattr(nn, f"{base}{nd}d")


class TorchStack(nn.Module):
    def __init__(self, stack: Stack, measure: bool, weights: str) -> None:
        super().__init__()
        self.stack = stack
        nd = stack.ndim
        mods: list[nn.Module] = []
        for l in stack.layers:
            p = l.p
            cin = stack.ch(l.inputs[0]) if l.inputs else l.channels
            m: nn.Module
            if l.kind == "conv":
                m = _cls("Conv", nd)(cin, l.channels, p["k"], p["s"], p["p"], p["d"], groups=p["groups"])
            elif l.kind == "max_pool" and measure:
                if all(v == 1 for v in p["d"]):
                    m = _cls("AvgPool", nd)(p["k"], p["s"], p["p"], ceil_mode=p["ceil_mode"])
                else:  # AvgPool has no dilation: a depthwise positive conv reads the same taps
                    m = _cls("Conv", nd)(cin, cin, p["k"], p["s"], p["p"], p["d"], groups=cin)
            elif l.kind == "max_pool":
                m = _cls("MaxPool", nd)(p["k"], p["s"], p["p"], p["d"], ceil_mode=p["ceil_mode"])
            elif l.kind == "avg_pool":
                m = _cls("AvgPool", nd)(p["k"], p["s"], p["p"], ceil_mode=p["ceil_mode"])
            elif l.kind == "pad":
                m = _Pad(p["pads"])
            elif l.kind == "conv_t":
                m = _cls("ConvTranspose", nd)(
                    cin, l.channels, p["k"], p["s"], p["p"], p["op"], dilation=p["d"]
                )
            elif l.kind == "upsample":
                mode = {"linear": {1: "linear", 2: "bilinear", 3: "trilinear"}[nd], "cubic": "bicubic"}.get(p["mode"], p["mode"])
                scale = None if p["scale"] is None else tuple(float(v) for v in p["scale"])
                m = nn.Upsample(size=p["size"], scale_factor=scale, mode=mode, align_corners=p["align_corners"])
            elif l.kind == "shuffle":
                m = nn.PixelShuffle(p["f"]) if nd == 2 else _ShuffleND(p["f"], nd, False)
            elif l.kind == "unshuffle":
                m = nn.PixelUnshuffle(p["f"]) if nd == 2 else _ShuffleND(p["f"], nd, True)
            elif l.kind == "pointwise":
                m = nn.Identity() if measure else nn.ReLU()
            else:
                m = nn.Identity()  # input, add, cat: handled in forward
            mods.append(m)
        self.mods = nn.ModuleList(mods)
        self.to(torch.float64)
        with torch.no_grad():
            for m in self.mods:
                if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                    w = m.weight
                    if weights == "ones":
                        w.fill_(1.0)
                    elif isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                        w.fill_(1.0 / w[0].numel())  # sums to 1 over in_channels/groups * taps
                    else:  # transposed: the phases' masses average to 1 (rflint.rf._tap_weights)
                        w.fill_(math.prod(m.stride) / (w.shape[0] * w[0, 0].numel()))
                    if m.bias is not None:
                        m.bias.zero_()

    def forward(self, *xs: torch.Tensor, all_nodes: bool = False):  # type: ignore[override]
        vals: list[torch.Tensor] = []
        it = iter(xs)
        for l, m in zip(self.stack.layers, self.mods):
            if l.kind == "input":
                vals.append(next(it))
            elif l.kind == "add":
                v = vals[l.inputs[0]]
                for i in l.inputs[1:]:
                    v = v + vals[i]
                vals.append(v)
            elif l.kind == "cat":
                vals.append(torch.cat([vals[i] for i in l.inputs], dim=1))
            else:
                vals.append(m(vals[l.inputs[0]]))
        if all_nodes:
            return vals
        return [vals[i] for _, i in self.stack._outputs()]


@single_threaded
def torch_sizes(stack: Stack, sizes: Sequence[int], net: TorchStack | None = None) -> list[tuple[int, ...]] | None:
    """Spatial size of every node of the real network (real max pools), or None if torch refuses."""
    net = net or stack.module(measure=False)
    xs = [torch.zeros(1, stack.ch(i), *sizes, dtype=DT) for i in stack.inputs]
    try:
        with torch.no_grad():
            vals = net(*xs, all_nodes=True)
    except RuntimeError:
        return None
    return [tuple(v.shape[2:]) for v in vals]


# --------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class MeasuredAxis:
    """What the gradient support says along one axis, for outputs ``start .. start+len-1``."""

    start: int
    intervals: tuple[Interval, ...]
    j: Fraction | None = None
    alpha: tuple[Fraction | None, ...] | None = None
    beta: tuple[Fraction | None, ...] | None = None

    @property
    def q(self) -> int | None:
        return None if self.alpha is None else len(self.alpha)

    def _filled(self) -> list[tuple[Fraction, Fraction]]:
        assert self.alpha is not None and self.beta is not None
        return [(a, b) for a, b in zip(self.alpha, self.beta) if a is not None and b is not None]

    @property
    def r(self) -> int:
        return int(max(b - a for a, b in self._filled())) + 1

    @property
    def r_min(self) -> int:
        return int(min(b - a for a, b in self._filled())) + 1

    @property
    def padding(self) -> Fraction:
        return -min(a for a, _ in self._filled())

    @property
    def centre(self) -> Fraction:
        f = self._filled()
        return sum(((a + b) / 2 for a, b in f), Fraction(0)) / len(f)

    def frame_key(self) -> tuple:
        return (self.j, self.alpha, self.beta)


def derive_frame(start: int, intervals: Sequence[Interval]) -> tuple[Fraction, tuple, tuple] | None:
    """Minimal period p (at most half the window, so that every phase is seen twice),
    jump and per-phase alpha/beta from the intervals of consecutive outputs."""
    w = len(intervals)
    for p in range(1, w // 2 + 1):
        shift: int | None = None
        ok = True
        for k in range(w - p):
            a, b = intervals[k], intervals[k + p]
            if (a is None) != (b is None):
                ok = False
                break
            if a is None or b is None:
                continue
            ds, de = b[0] - a[0], b[1] - a[1]
            if ds != de or (shift is not None and ds != shift):
                ok = False
                break
            shift = ds
        if not ok:
            continue
        if shift is None:
            return None  # nothing depends on the input at all
        j = Fraction(shift, p)
        alpha: list[Fraction | None] = [None] * p
        beta: list[Fraction | None] = [None] * p
        for k in range(p):
            o = start + k
            iv = intervals[k]
            if iv is not None:
                alpha[o % p] = iv[0] - o * j
                beta[o % p] = iv[1] - o * j
        return j, tuple(alpha), tuple(beta)
    return None


class NotInterior(Exception):
    pass


def _measure_once(
    net: TorchStack, stack: Stack, out_node: int, sizes: Sequence[int], window: int, segment: int, margin: int,
    whole_map: bool = False, fixed: bool = False,
) -> list[MeasuredAxis]:
    """One backward pass. Batch entry ``(a, k)`` selects the outputs whose index along
    axis ``a`` is ``start_a + k`` and whose index along every other axis ``b`` lies
    in ``[start_b, start_b + segment)``: the sum of their gradients has the union of
    their supports (positive weights: nothing cancels), so its projection on axis
    ``a`` is what output ``start_a + k`` reads along ``a`` at any phase of the other
    axes. (Selecting a single position would turn a gap along one axis into an
    empty support along all of them.)"""
    nd = stack.ndim
    with torch.no_grad():
        shapes = [tuple(v.shape[2:]) for v in net(*[torch.zeros(1, stack.ch(i), *sizes, dtype=DT) for i in stack.inputs], all_nodes=True)]
    n_out = shapes[out_node]
    if not whole_map and min(n_out) < 3 * window:
        # keep the window a window's length away from either end of the map
        raise NotInterior(f"output map {n_out} too short for a window of {window}")
    w = min([window] + list(n_out))
    seg = min([segment] + list(n_out))
    starts = [n // 2 - w // 2 for n in n_out]
    mask = torch.zeros(nd * w, *n_out, dtype=DT)
    for a in range(nd):
        for k in range(w):
            idx: list[Any] = [a * w + k]
            for b in range(nd):
                idx.append(starts[b] + k if b == a else slice(starts[b], starts[b] + seg))
            mask[tuple(idx)] = 1.0
    xs = [torch.zeros(nd * w, stack.ch(i), *sizes, dtype=DT, requires_grad=True) for i in stack.inputs]
    out = net(*xs, all_nodes=True)[out_node]
    grads = torch.autograd.grad((out.sum(dim=1) * mask).sum(), xs, allow_unused=True)
    support = torch.zeros(nd * w, *sizes, dtype=torch.bool)
    for g in grads:
        if g is not None:
            support |= (g != 0).any(dim=1)
    result = []
    for a in range(nd):
        other = tuple(1 + b for b in range(nd) if b != a)
        sup = support[a * w : (a + 1) * w]
        proj = sup.any(dim=other) if other else sup  # (w, L_a)
        ivs: list[Interval] = []
        for k in range(w):
            nz = torch.nonzero(proj[k]).flatten()
            if len(nz) == 0:
                ivs.append(None)
                continue
            lo, hi = int(nz.min()), int(nz.max())
            if lo < margin or hi > sizes[a] - 1 - margin:
                raise NotInterior(f"axis {a}: output {starts[a] + k} reads [{lo}, {hi}] of {sizes[a]}")
            ivs.append((lo, hi))
        fr = derive_frame(starts[a], ivs)
        if fr is None:
            if not whole_map:
                raise NotInterior(f"axis {a}: no period in the window {ivs}")
            result.append(MeasuredAxis(starts[a], tuple(ivs)))
            continue
        ax = MeasuredAxis(starts[a], tuple(ivs), *fr)
        if fixed and not whole_map:
            # An output whose whole field is zero padding reads nothing, like a gap.
            # With a fixed input size (no second size to compare with), keep the
            # fields a window's span of fields away from the borders, so that no
            # such output can sit among the measured ones.
            room = w * ax.j + ax.r
            lo = min(iv[0] for iv in ivs if iv is not None)
            hi = max(iv[1] for iv in ivs if iv is not None)
            if lo < room or hi > sizes[a] - 1 - room:
                raise NotInterior(f"axis {a}: fields [{lo}, {hi}] within {room} of the borders of {sizes[a]}")
        result.append(ax)
    return result


@dataclass(frozen=True)
class Measurement:
    sizes: tuple[int, ...]
    axes: tuple[MeasuredAxis, ...]


@single_threaded
def measure(
    stack: Stack,
    out_node: int | None = None,
    sizes: Sequence[int] | None = None,
    *,
    start: int = 32,
    quantum: int = 1,
    max_len: int | None = None,
    margin: int = 2,
    whole_map: bool = False,
) -> Measurement:
    """Measure the frame of ``out_node`` (default: the first output) on the torch network.

    With ``sizes`` the input size is fixed (required when resampling depends on
    it); otherwise the input length starts at ``start`` (a multiple of
    ``quantum``, for pixel-unshuffle and merges that need divisibility) and
    doubles until the frame is measured off the borders and is identical at
    two consecutive lengths. ``whole_map`` (fixed sizes only) allows the window
    to cover a map shorter than three windows, for networks that read no padding.
    """
    nd = stack.ndim
    if out_node is None:
        out_node = stack._outputs()[0][1]
    net = stack.module(measure=True)
    if sizes is not None:
        sizes = tuple(sizes)
        node_sizes = torch_sizes(stack, sizes, net)
        if node_sizes is None:
            raise ValueError(f"torch refuses input size {sizes}")
        bound = stack.period_bound(node_sizes)
        axes = _measure_once(net, stack, out_node, sizes, 2 * bound, bound, margin, whole_map, fixed=True)
        return Measurement(sizes, tuple(axes))
    if stack.size_dependent():
        raise ValueError("size-dependent resampling: give sizes")
    bound = stack.period_bound()
    window = 2 * bound
    max_len = max_len or {1: 1 << 14, 2: 1024, 3: 160}[nd]
    n = -(-start // quantum) * quantum
    prev: tuple | None = None
    last_err = ""
    while n <= max_len:
        szs = (n,) * nd
        try:
            if torch_sizes(stack, szs, net) is None:
                raise NotInterior("torch refuses the size")
            axes = _measure_once(net, stack, out_node, szs, window, bound, margin)
            if any(ax.j is None for ax in axes) or any(len(ax.intervals) < window for ax in axes):
                raise NotInterior("output map shorter than the window")
            key = tuple(ax.frame_key() for ax in axes)
            if key == prev:
                return Measurement(szs, tuple(axes))
            prev = key
        except NotInterior as e:
            prev = None
            last_err = str(e)
        n *= 2
    raise NotInterior(f"no stable interior measurement up to {max_len}: {last_err}")


# --------------------------------------------------------------------------- comparison


def compare(stack: Stack, out_node: int | None = None, m: Measurement | None = None, **kw: Any) -> Measurement:
    """Assert that rflint's frame of ``out_node`` equals the measured one, axis by axis."""
    if out_node is None:
        out_node = stack._outputs()[0][1]
    m = m or measure(stack, out_node, **kw)
    an = stack.analyse(m.sizes)
    info = an.info(out_node)
    assert info.status == "local", f"rflint: {info.status} {info.reason}"
    assert info.frames is not None
    for a, (ax, fr) in enumerate(zip(m.axes, info.frames)):
        where = f"{stack.name} node {out_node} axis {a} (input {m.sizes})"
        # every measured output's interval, through rflint's own frame
        for k, iv in enumerate(ax.intervals):
            o = ax.start + k
            assert fr.interval(o) == iv, f"{where}: output {o}: rflint {fr.interval(o)}, measured {iv}"
        assert ax.j is not None, f"{where}: window too short to derive the frame"
        assert fr.j == ax.j, f"{where}: j rflint {fr.j}, measured {ax.j}"
        assert fr.q == ax.q, f"{where}: q rflint {fr.q}, measured {ax.q}"
        assert fr.alpha == ax.alpha, f"{where}: alpha rflint {fr.alpha}, measured {ax.alpha}"
        assert fr.beta == ax.beta, f"{where}: beta rflint {fr.beta}, measured {ax.beta}"
        assert fr.r == ax.r and fr.r_min == ax.r_min, f"{where}: r rflint {fr.r}/{fr.r_min}, measured {ax.r}/{ax.r_min}"
        assert fr.padding == ax.padding, f"{where}: P rflint {fr.padding}, measured {ax.padding}"
        assert fr.centre == ax.centre, f"{where}: centre rflint {fr.centre}, measured {ax.centre}"
        assert fr.has_gaps == any(a is None for a in ax.alpha)  # type: ignore[union-attr]
    return m


@single_threaded
def compare_sizes(stack: Stack, sizes: Sequence[int], net: TorchStack | None = None) -> bool:
    """Assert rflint's output size of every node equals torch's (real network). False if torch refuses."""
    ts = torch_sizes(stack, sizes, net)
    if ts is None:
        return False
    an = stack.analyse(tuple(sizes))
    for i, t in enumerate(ts):
        got = an.info(i).sizes
        assert got is not None and tuple(got) == t, f"{stack.name} node {i} ({stack.layers[i].kind}) at input {tuple(sizes)}: rflint {got}, torch {t}"
    return True


def as_frame(ax: MeasuredAxis) -> AxisFrame:
    assert ax.j is not None and ax.alpha is not None and ax.beta is not None
    return AxisFrame(ax.j, ax.alpha, ax.beta)


# --------------------------------------------------------------------------- ERF


@dataclass(frozen=True)
class MeasuredMoments:
    pos: tuple[int, ...]  # the output position
    mean: float  # absolute input index
    var: float
    mass: float  # total mass (all axes)


@single_threaded
def measure_moments(
    stack: Stack, sizes: Sequence[int], out_node: int | None = None, count: int = 1
) -> list[list[MeasuredMoments | None]]:
    """ERF of outputs of ``out_node`` (normalised positive weights: every conv kernel
    sums to 1 over in_channels*taps, a transposed conv's to stride**ndim).

    Per axis ``a``: for the outputs ``centre + k*e_a`` (``k < count``, the other
    axes at the map's centre), the marginal along ``a`` of the input-gradient
    distribution of output channel 0: mean (absolute input index), variance and
    total mass. None where the output reads nothing (a gap)."""
    if out_node is None:
        out_node = stack._outputs()[0][1]
    nd = stack.ndim
    net = stack.module(measure=True, weights="normalised")
    xs = [torch.zeros(nd * count, stack.ch(i), *sizes, dtype=DT, requires_grad=True) for i in stack.inputs]
    out = net(*xs, all_nodes=True)[out_node]
    centre = [n // 2 for n in out.shape[2:]]
    sel = out.new_zeros(())
    positions = []
    for a in range(nd):
        for k in range(count):
            pos = list(centre)
            pos[a] += k
            sel = sel + out[a * count + k, 0][tuple(pos)]
            positions.append(tuple(pos))
    grads = torch.autograd.grad(sel, xs, allow_unused=True)
    g = sum(gr.sum(1) for gr in grads if gr is not None)  # (batch, *sizes)
    res: list[list[MeasuredMoments | None]] = []
    for a in range(nd):
        row: list[MeasuredMoments | None] = []
        other = tuple(1 + b for b in range(nd) if b != a)
        for k in range(count):
            e = a * count + k
            marg = g[e].sum(dim=tuple(b - 1 for b in other)) if other else g[e]
            mass = float(marg.sum())
            if mass == 0:
                row.append(None)
                continue
            if float(marg[0]) != 0 or float(marg[-1]) != 0:
                raise NotInterior(f"ERF of axis {a} touches the border")
            x = torch.arange(len(marg), dtype=DT)
            mu = float((marg * x).sum() / mass)
            var = float((marg * (x - mu) ** 2).sum() / mass)
            row.append(MeasuredMoments(positions[e], mu, var, mass))
        res.append(row)
    return res
