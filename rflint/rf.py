"""Receptive-field algebra: periodic frames, index maps, sizes and the analytic ERF.

Conventions are those of ../shared/DESIGN.md. Per spatial axis, output ``o``
of a feature map depends on model-input pixels
``[o*j + alpha[o mod q], o*j + beta[o mod q]]``. Every operator is an
*index map*: output ``o = m*period + r`` reads input indices
``taps[r] + m*shift``. Composing a frame with an index map gives a frame, so
convs, pools, transposed convs, upsampling and pixel shuffles are all one
computation, exact in fractions. Pure arithmetic: no torch, no IR.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import floor, gcd, lcm
from typing import Callable, Sequence

# --------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class AxisFrame:
    """Periodic frame ``(j, q, alpha, beta)`` along one axis. ``None`` in a phase is a gap."""

    j: Fraction
    alpha: tuple[Fraction | None, ...]
    beta: tuple[Fraction | None, ...]

    @staticmethod
    def identity() -> "AxisFrame":
        return AxisFrame(Fraction(1), (Fraction(0),), (Fraction(0),))

    @property
    def q(self) -> int:
        return len(self.alpha)

    def interval(self, o: int) -> tuple[int, int] | None:
        """Input pixels output ``o`` depends on, or None for a gap."""
        a, b = self.alpha[o % self.q], self.beta[o % self.q]
        if a is None or b is None:
            return None
        return int(o * self.j + a), int(o * self.j + b)

    def _filled(self) -> list[tuple[Fraction, Fraction]]:
        return [(a, b) for a, b in zip(self.alpha, self.beta) if a is not None and b is not None]

    @property
    def has_gaps(self) -> bool:
        return any(a is None for a in self.alpha)

    @property
    def r(self) -> int:
        """Receptive field size (``r_max``): the widest interval of any phase."""
        filled = self._filled()
        return int(max(b - a for a, b in filled)) + 1 if filled else 0

    @property
    def r_min(self) -> int:
        filled = self._filled()
        return int(min(b - a for a, b in filled)) + 1 if filled else 0

    @property
    def padding(self) -> Fraction:
        """Effective padding ``P = -min(alpha)``."""
        filled = self._filled()
        return -min(a for a, _ in filled) if filled else Fraction(0)

    @property
    def centre(self) -> Fraction:
        """Mean centre offset ``mean((alpha + beta) / 2)`` over the filled phases."""
        filled = self._filled()
        if not filled:
            return Fraction(0)
        return sum(((a + b) / 2 for a, b in filled), Fraction(0)) / len(filled)


def _canonical(j: Fraction, alpha: list[Fraction | None], beta: list[Fraction | None]) -> AxisFrame:
    """Shrink the period to the smallest one the phases actually repeat with."""
    q = len(alpha)
    for p in range(1, q + 1):
        if q % p == 0 and all(alpha[i] == alpha[i % p] and beta[i] == beta[i % p] for i in range(q)):
            return AxisFrame(j, tuple(alpha[:p]), tuple(beta[:p]))
    raise AssertionError("unreachable: p == q always matches")


# --------------------------------------------------------------------------- index maps


@dataclass(frozen=True)
class IndexMap:
    """Output ``o = m*period + r`` reads ``[t + m*shift for t in taps[r]]``.

    ``weights[r]`` are the interpolation weights of the taps when the operator
    has fixed ones (linear resampling); None means uniform, as for a learned
    kernel under the ERF convention.
    """

    period: int
    shift: int
    taps: tuple[tuple[int, ...], ...]
    weights: tuple[tuple[Fraction, ...], ...] | None = None

    @property
    def jump(self) -> Fraction:
        return Fraction(self.shift, self.period)


IDENTITY_MAP = IndexMap(1, 1, ((0,),))


def window_map(k: int, s: int, d: int, p_before: int) -> IndexMap:
    """Conv, pool, pad: output ``o`` reads ``o*s - p + t*d`` for ``t < k``."""
    return IndexMap(1, s, (tuple(-p_before + t * d for t in range(k)),))


def transposed_map(k: int, s: int, d: int, p: int) -> IndexMap:
    """Transposed conv: output ``o`` reads ``i = (o + p - t*d) / s`` where that is whole.
    Tap ``t`` serves phase ``r = (t*d - p) mod s`` alone, so the map takes ``k + s`` steps."""
    taps: list[set[int]] = [set() for _ in range(s)]
    for t in range(k):
        r = (t * d - p) % s
        taps[r].add((r + p - t * d) // s)
    return IndexMap(s, 1, tuple(tuple(sorted(phase)) for phase in taps))


def nearest_map(ratio: Fraction, exact: bool = False) -> IndexMap:
    """Nearest resampling with ``ratio = input/output``: ``o`` reads ``floor(o*ratio)``.

    ``nearest-exact`` reads ``floor((o + 1/2)*ratio)``. PyTorch uses
    ``1/scale_factor`` as the ratio when a scale factor is given, and
    ``n_in/n_out`` when a size is.
    """
    b, a = ratio.numerator, ratio.denominator  # ratio = b/a: period a, shift b
    taps = []
    for r in range(a):
        src = (r + Fraction(1, 2)) * ratio if exact else r * ratio
        taps.append((floor(src),))
    return IndexMap(a, b, tuple(taps))


def _interpolation_map(ratio: Fraction, align_corners: bool,
                       taps_at: Callable[[int, Fraction], tuple[tuple[int, ...], tuple[Fraction, ...]]]) -> IndexMap:
    """Resampling along one axis with ``ratio = input/output``: per output phase the source
    coordinate (``(o + 1/2)*ratio - 1/2``, or ``o*ratio`` with ``align_corners``, the
    caller then passing ``(n_in - 1)/(n_out - 1)``), read at ``floor(src)`` alone when it
    is whole, else at the taps ``taps_at(floor(src), fraction)`` gives."""
    b, a = ratio.numerator, ratio.denominator
    taps, weights = [], []
    for r in range(a):
        src = r * ratio if align_corners else (r + Fraction(1, 2)) * ratio - Fraction(1, 2)
        i0 = floor(src)
        lam = src - i0
        if lam == 0:
            taps.append((i0,))
            weights.append((Fraction(1),))
        else:
            t, w = taps_at(i0, lam)
            taps.append(t)
            weights.append(w)
    return IndexMap(a, b, tuple(taps), tuple(weights))


def linear_map(ratio: Fraction, align_corners: bool) -> IndexMap:
    """Linear resampling: ``o`` reads ``floor(src)`` and, unless ``src`` is whole,
    ``floor(src) + 1``."""
    return _interpolation_map(ratio, align_corners, lambda i0, lam: ((i0, i0 + 1), (1 - lam, lam)))


CUBIC_A = Fraction(-3, 4)  # PyTorch's cubic convolution coefficient (upsample_bicubic2d)


def _cubic_weights(lam: Fraction) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    """Keys' cubic convolution weights of taps ``-1, 0, 1, 2`` at fraction ``lam``."""
    a = CUBIC_A

    def near(x: Fraction) -> Fraction:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Fraction) -> Fraction:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(lam + 1), near(lam), near(1 - lam), far(2 - lam)


def _cubic_taps(i0: int, lam: Fraction) -> tuple[tuple[int, ...], tuple[Fraction, ...]]:
    magnitudes = tuple(abs(w) for w in _cubic_weights(lam))
    total = sum(magnitudes)
    return (i0 - 1, i0, i0 + 1, i0 + 2), tuple(w / total for w in magnitudes)


def cubic_map(ratio: Fraction, align_corners: bool) -> IndexMap:
    """Bicubic resampling: ``o`` reads ``floor(src) - 1 .. floor(src) + 2``, and only
    ``floor(src)`` when ``src`` is whole (the other weights are exactly zero). Two of the
    four weights are negative; the frame holds the support, and the moments (the ERF, a
    distribution of gradient magnitudes) take the weights' magnitudes, normalised."""
    return _interpolation_map(ratio, align_corners, _cubic_taps)


def mix_map(window: int, offset: int) -> IndexMap:
    """Mixing within windows of ``window`` positions that start at ``-offset``: output
    ``o = m*w + r`` reads the whole window holding ``o`` (one of two, shared by the phases)."""
    windows: dict[int, tuple[int, ...]] = {}
    taps = []
    for r in range(window):
        q = (r + offset) // window
        if q not in windows:
            windows[q] = tuple(q * window - offset + t for t in range(window))
        taps.append(windows[q])
    return IndexMap(window, window, tuple(taps))


def shift_map(amount: int) -> IndexMap:
    """``roll`` by ``amount``: output ``o`` reads ``o - amount``."""
    return IndexMap(1, 1, ((-amount,),))


def shuffle_map(factor: int) -> IndexMap:
    """PixelShuffle: output ``o`` reads input ``floor(o / factor)`` (across channels)."""
    return IndexMap(factor, 1, tuple((0,) for _ in range(factor)))


MAX_PHASES = 1 << 14
"""The most output phases per axis a frame may have. Convolutional models stay far below
it, but resampling with ``align_corners=True`` has up to ``n_out - 1`` phases at its output
size (an FPN at 2,144 pixels: 2,140), so the bound is above real input sizes. Each layer
multiplies the phases by its own period: two ``ConvTranspose2d(stride=4096)`` in a row
would ask for 16 million, which the analysis refuses (the node's frame is unknown, and
says why) instead of computing for minutes. The work per layer is bounded by
``MAX_TAP_READS``."""
MAX_TAP_READS = 1 << 15
"""The most (phase, tap) pairs one composition may read (a 4,096-tap kernel over a frame of
1,024 phases would be 4 million). Each read is a dozen Fraction operations for the frame
and the ERF, and RF103 composes again: 32,768 reads take about a second in all. Real
layers read far fewer: SLaK's 51-tap kernel 51 per phase, a Swin window of 7 49."""


def compose_cost(q: int, imap: IndexMap) -> tuple[int, int]:
    """What composing a frame of ``q`` phases with ``imap`` would take: the result's
    phases before it is shrunk, and the (phase, tap) pairs read."""
    period = imap.period * (q // gcd(q, imap.shift))
    return period, (period // imap.period) * sum(len(t) for t in imap.taps)


def too_costly(q: int, imap: IndexMap) -> str | None:
    """Why composing with ``imap`` is beyond what rflint computes, or None."""
    period, reads = compose_cost(q, imap)
    if period > MAX_PHASES:
        return f"the frame would have {period:,} phases per axis, more than rflint analyses ({MAX_PHASES:,})"
    if reads > MAX_TAP_READS:
        return f"the layer would read {reads:,} taps over its phases, more than rflint analyses ({MAX_TAP_READS:,})"
    return None


@lru_cache(maxsize=16384)
def compose(frame: AxisFrame, imap: IndexMap) -> AxisFrame:
    """The frame of a layer's output, given the frame of its input and its index map.

    For ``o = m*P + r`` the taps are ``i = t + m*S``; the new phase depends on
    ``r`` and on ``m*S mod q``, so the new period is ``P * q / gcd(q, S)``.
    """
    q = frame.q
    period = imap.period * (q // gcd(q, imap.shift))
    j_new = frame.j * imap.jump
    alpha: list[Fraction | None] = []
    beta: list[Fraction | None] = []
    for o in range(period):
        m, r = divmod(o, imap.period)
        lo: Fraction | None = None
        hi: Fraction | None = None
        for t in imap.taps[r]:
            i = t + m * imap.shift
            a, b = frame.alpha[i % q], frame.beta[i % q]
            if a is None or b is None:
                continue
            start, end = i * frame.j + a, i * frame.j + b
            lo = start if lo is None or start < lo else lo
            hi = end if hi is None or end > hi else hi
        if lo is None or hi is None:
            alpha.append(None)
            beta.append(None)
        else:
            alpha.append(lo - o * j_new)
            beta.append(hi - o * j_new)
    return _canonical(j_new, alpha, beta)


def merge(frames: Sequence[AxisFrame]) -> AxisFrame | None:
    """Add/mul/concat: per phase the union of the branches. None when the jumps differ."""
    if not frames:
        raise ValueError("merge needs at least one frame")
    j = frames[0].j
    if any(f.j != j for f in frames):
        return None
    q = lcm(*(f.q for f in frames))
    alpha: list[Fraction | None] = []
    beta: list[Fraction | None] = []
    for ph in range(q):
        starts = [a for f in frames if (a := f.alpha[ph % f.q]) is not None]
        ends = [b for f in frames if (b := f.beta[ph % f.q]) is not None]
        alpha.append(min(starts) if starts else None)
        beta.append(max(ends) if ends else None)
    return _canonical(j, alpha, beta)


# --------------------------------------------------------------------------- sizes


def window_out_size(n: int, k: int, s: int, d: int, p_before: int, p_after: int, ceil_mode: bool = False) -> int:
    """``floor((n + p_b + p_a - K)/s) + 1``; with ``ceil_mode`` PyTorch's rounding up,
    minus one when the last window would start in the far padding."""
    span = d * (k - 1) + 1
    if not ceil_mode:
        return (n + p_before + p_after - span) // s + 1
    out = (n + p_before + p_after - span + s - 1) // s + 1
    if (out - 1) * s >= n + p_before:
        out -= 1
    return out


def far_padding_used(n: int, n_out: int, k: int, s: int, d: int, p_before: int) -> int:
    """Padding actually read on the far side, ``(n_out - 1)*s + K - n - p_before``.

    Negative: that many real rows at the far end are never read.
    """
    return (n_out - 1) * s + d * (k - 1) + 1 - n - p_before


def transposed_out_size(n: int, k: int, s: int, d: int, p: int, output_padding: int) -> int:
    return (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


# --------------------------------------------------------------------------- ERF


Phase = tuple[Fraction, Fraction, Fraction]
"""One output phase of an ERF: (mass, mean offset from ``o*j``, variance)."""


@dataclass(frozen=True)
class Moments:
    """Mean and variance (in input pixels) of the impact of input pixels on one output.

    With uniform (normalised) kernels the impact is the composed kernel (Luo et
    al., NeurIPS 2016): along a chain of windows means and variances add; at a
    merge it is the mixture of the branches, weighted by ``mass`` (path counts).

    After upsampling, outputs of different phases have different ERFs, and a
    later layer that reads several phases mixes them. ``phases`` then holds,
    per output phase ``o mod len(phases)``, the exact ``(mass, mean, var)``;
    ``mean``, ``var`` and ``mass`` are their averages over the phases that read
    anything (as the frame's centre averages over phases). Empty ``phases``
    means one phase, ``(mass, mean, var)``.
    """

    mean: Fraction
    var: Fraction
    mass: Fraction = Fraction(1)
    phases: tuple[Phase, ...] = ()

    @staticmethod
    def from_phases(phases: Sequence[Phase]) -> "Moments":
        if len(phases) == 1:
            mass, mean, var = phases[0]
            return Moments(mean, var, mass)
        phases = _canonical_phases(list(phases))
        filled = [p for p in phases if p[0] != 0]
        if not filled:
            return Moments(Fraction(0), Fraction(0), Fraction(0), tuple(phases) if len(phases) > 1 else ())
        n = len(filled)
        mean = sum((p[1] for p in filled), Fraction(0)) / n
        var = sum((p[2] for p in filled), Fraction(0)) / n
        mass = sum((p[0] for p in phases), Fraction(0)) / len(phases)
        return Moments(mean, var, mass, tuple(phases) if len(phases) > 1 else ())

    @property
    def phase_list(self) -> tuple[Phase, ...]:
        return self.phases or ((self.mass, self.mean, self.var),)

    @property
    def width(self) -> float:
        """ERF width under rflint's convention: 4 sigma (about 95% of the mass)."""
        return 4 * float(self.var) ** 0.5


def _canonical_phases(phases: list[Phase]) -> list[Phase]:
    q = len(phases)
    for p in range(1, q + 1):
        if q % p == 0 and all(phases[i] == phases[i % p] for i in range(q)):
            return phases[:p]
    raise AssertionError("unreachable")


def _tap_weights(imap: IndexMap) -> list[tuple[Fraction, ...]]:
    """Per output phase, the weight of each tap under the ERF convention.

    Fixed weights (linear resampling) are used as they are. A learned kernel
    has the same weight on every tap, chosen so that the phases' masses
    average to 1: ``period / (taps over all phases)``. For a window that is
    ``1/k`` (the kernel sums to 1); for a transposed conv ``s/k``, so a phase
    that reads fewer taps carries less mass, as it does in the network.
    """
    if imap.weights is not None:
        return list(imap.weights)
    total = sum(len(t) for t in imap.taps)
    w = Fraction(imap.period, total) if total else Fraction(0)
    return [tuple(w for _ in taps) for taps in imap.taps]


@lru_cache(maxsize=4096)
def _map_phases(imap: IndexMap) -> tuple[Phase, ...]:
    """The map alone, per output phase ``r``: the taps' mass, and the weighted mean
    and variance of their offsets from where the output sits, ``r*shift/period``
    (input units). Zero mass for a phase that reads nothing."""
    out: list[Phase] = []
    for r, (w, taps) in enumerate(zip(_tap_weights(imap), imap.taps)):
        total = sum(w, Fraction(0))
        if total == 0:
            out.append((Fraction(0), Fraction(0), Fraction(0)))
            continue
        base = Fraction(r * imap.shift, imap.period)
        mu = sum((wi * (t - base) for wi, t in zip(w, taps)), Fraction(0)) / total
        var = sum((wi * (t - base - mu) ** 2 for wi, t in zip(w, taps)), Fraction(0)) / total
        out.append((total, mu, var))
    return tuple(out)


@lru_cache(maxsize=4096)
def map_moments(imap: IndexMap) -> tuple[Fraction, Fraction]:
    """Mean and variance of the taps' offsets (input units), averaged over output phases.

    Offsets are taken relative to where the output sits, ``o * shift/period``.
    """
    m = Moments.from_phases(_map_phases(imap))
    return m.mean, m.var


def compose_moments(m: Moments, imap: IndexMap, j: Fraction) -> Moments:
    """The ERF after one layer, given the ERF of its input (whose jump is ``j``).

    Output ``o = k*period + r`` reads taps ``i = t + k*shift`` with weights
    ``w_t``; its ERF is the mixture of the taps' ERFs, each sitting at
    ``i*j + mean[i mod q]``. Exact per phase. With one phase in, every tap
    carries the same ERF and this is the familiar ``mean += j*mean(taps)``,
    ``var += j^2*var(taps)`` per output phase of the map.
    """
    if not m.phases:
        mp = _map_phases(imap)
        if len(mp) == 1 and mp[0][0] != 0:  # a window: the common case, kept cheap
            pm, pmu, pvar = mp[0]
            return Moments(m.mean + j * pmu, m.var + j * j * pvar, m.mass if pm == 1 else m.mass * pm)
        out = [
            (m.mass * pm, m.mean + j * pmu, m.var + j * j * pvar) if pm != 0 and m.mass != 0 else (Fraction(0),) * 3
            for pm, pmu, pvar in mp
        ]
        return Moments.from_phases(out)
    ph = m.phases
    q = len(ph)
    period = imap.period * (q // gcd(q, imap.shift))
    j_new = j * imap.jump
    weights = _tap_weights(imap)
    out = []
    for o in range(period):
        k, r = divmod(o, imap.period)
        total = s1 = s2 = Fraction(0)
        for w, t in zip(weights[r], imap.taps[r]):
            i = t + k * imap.shift
            mass, mu, var = ph[i % q]
            wm = w * mass
            if wm == 0:
                continue
            pos = i * j + mu - o * j_new
            total += wm
            s1 += wm * pos
            s2 += wm * (var + pos * pos)
        if total == 0:
            out.append((Fraction(0), Fraction(0), Fraction(0)))
        else:
            mean = s1 / total
            out.append((total, mean, s2 / total - mean * mean))
    return Moments.from_phases(out)


def mix_moments(branches: Sequence[Moments], channels: Sequence[int] | None = None) -> Moments:
    """Mixture at a merge, per phase: ``sigma^2 = sum w_i (sigma_i^2 + mu_i^2) / W - mu^2``.

    For add/mul (``channels`` None) the weights are the branches' masses and
    the masses add. For concat the next layer averages over channels, so
    branch ``i`` weighs ``c_i * m_i`` and the result's mass is their mean.
    """
    lists = [b.phase_list for b in branches]
    q = lcm(*(len(p) for p in lists))
    out: list[Phase] = []
    for r in range(q):
        parts = [p[r % len(p)] for p in lists]
        if channels is None:
            w = [p[0] for p in parts]
            mass = sum(w, Fraction(0))
        else:
            w = [c * p[0] for c, p in zip(channels, parts)]
            mass = sum(w, Fraction(0)) / sum(channels)
        total = sum(w, Fraction(0))
        if total == 0:
            out.append((Fraction(0), Fraction(0), Fraction(0)))
            continue
        mu = sum((wi * p[1] for wi, p in zip(w, parts)), Fraction(0)) / total
        second = sum((wi * (p[2] + p[1] ** 2) for wi, p in zip(w, parts)), Fraction(0)) / total
        out.append((mass, mu, second - mu * mu))
    return Moments.from_phases(out)
