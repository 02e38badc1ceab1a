"""Where a feature map's positions are in a tensor's dimensions.

A tensor made from a map (N, C, H, W) by ``view``, ``reshape``, ``permute``,
``flatten`` and ``transpose`` still holds every position, arranged otherwise:
channels-last (N, H, W, C), tokens (N, H*W, C), heads (N, heads, H*W, d), windows
(N*nH*nW, w*w, C). Rearranging moves no value, so the receptive field of every
element is its position's: the graph needs no node for it. What matters is which
positions an operation then combines, and that depends on the arrangement:
attention over the tokens of a window mixes within the window; over all tokens,
globally; a linear layer over the channels of a channels-last tensor mixes
nothing (a 1x1 conv).

A *layout* records the arrangement: per dimension, the *factors* it is made of,
outermost first. A factor is the batch, a channel-like part (channels, heads,
head width, the 3 of a fused qkv), or a part of one spatial axis: the positions
of axis ``a`` with ``stride`` between neighbours, ``count`` of them (None: the
rest of the axis). The axis ``H`` of a map is one factor ``S(0, stride 1, rest)``;
``view(B, H // 7, 7, ...)`` splits it into ``S(0, 7, rest)`` and ``S(0, 1, 7)``.

Sizes are matched symbolically (``x.shape[2]`` is "all of axis 0", ``H // 7`` is
"axis 0 at stride 7") and, when the input size is configured, by number. A
rearrangement rflint cannot relate to the positions is an Opaque node, said.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

Atom = tuple  # ("N",) | ("S", axis, stride) | ("C", key) | ("X", ...) : a symbolic size


@dataclass(frozen=True)
class Factor:
    kind: str  # "N" batch, "C" channel-like, "S" part of a spatial axis
    axis: int = -1
    stride: int = 1
    count: int | None = None  # S: None is the rest of the axis; C: None is not known
    key: object = None  # C with no count: what identifies it (its size is a symbol of its own)


@dataclass(frozen=True)
class Dim:
    """One dimension: a product of factors, outermost first. ``extra`` tokens (a class
    token concatenated in front) come before the positions; such a dimension is kept
    whole by every rearrangement."""

    factors: tuple[Factor, ...]
    extra: int = 0


Layout = tuple[Dim, ...]

BATCH = Factor("N")


def standard(ndim: int, channels: int | None = None, key: object = "C") -> Layout:
    """(N, C, S0, S1, ...): the arrangement convolutions read. ``key`` names an unknown
    channel count (the node's), so that two maps' counts are not taken for one."""
    c = Factor("C", count=channels) if channels is not None else Factor("C", key=("map", key))
    return (Dim((BATCH,)), Dim((c,))) + tuple(Dim((Factor("S", a),)) for a in range(ndim))


def is_standard(layout: Layout, ndim: int) -> bool:
    """Batch, then channels only, then each spatial axis whole and in order: a map."""
    if len(layout) != ndim + 2 or any(d.extra for d in layout):
        return False
    if any(f.kind != "N" for f in layout[0].factors) or any(f.kind != "C" for f in layout[1].factors):
        return False
    return all(d.factors == (Factor("S", a),) for a, d in zip(range(ndim), layout[2:]))


def batch_in_channels(layout: Layout, ndim: int) -> bool:
    """``x.reshape(1, B * C, H, W)`` (CondConv's per-sample kernels as one grouped conv):
    a unit first dimension, the batch folded in front of the channels, then the spatial
    axes whole and in order. Convolutions read it as a map."""
    if len(layout) != ndim + 2 or any(d.extra for d in layout) or layout[0].factors:
        return False
    folded = layout[1].factors
    if not folded or folded[0].kind != "N" or any(f.kind != "C" for f in folded[1:]):
        return False
    return all(d.factors == (Factor("S", a),) for a, d in zip(range(ndim), layout[2:]))


def batched_map(layout: Layout, ndim: int) -> bool:
    """A map whose first dimension holds more than the batch (MViTv2 pools each head's
    queries: ``(B * heads, head_dim, H, W)``): channels in the second, the spatial axes
    whole and in order. Convolutions and pooling read it as a map of that batch."""
    if len(layout) != ndim + 2 or any(d.extra for d in layout):
        return False
    if any(f.kind == "S" for f in layout[0].factors) or any(f.kind != "C" for f in layout[1].factors):
        return False
    return all(d.factors == (Factor("S", a),) for a, d in zip(range(ndim), layout[2:]))


def windowed_map(layout: Layout, ndim: int, stride: Sequence[int]) -> Layout | None:
    """A map cut into windows with the windows folded into the batch (``(B * nW, C, w, w)``,
    SAM2-Hiera's pooled queries): a window op with kernel = stride = ``s`` (no padding)
    reads each window as it reads the whole map, when ``s`` divides ``w``. Returns the
    layout of its output (every part of an axis at ``1 / s`` the stride, the windows ``w / s``
    wide), or None when ``layout`` is not such a map."""
    if len(layout) != ndim + 2 or any(d.extra for d in layout) or spatial_factors(layout[1]):
        return None
    inner: list[int] = []
    for a, d in zip(range(ndim), layout[2:]):
        if len(d.factors) != 1 or d.factors[0].kind != "S" or d.factors[0].axis != a or d.factors[0].stride != 1:
            return None
        w = d.factors[0].count
        if w is None or w % stride[a]:
            return None
        inner.append(w // stride[a])
    outer = []
    for f in layout[0].factors:
        if f.kind == "S":
            if f.stride % stride[f.axis]:
                return None
            f = Factor("S", f.axis, f.stride // stride[f.axis], f.count)
        outer.append(f)
    return (Dim(tuple(outer)), layout[1]) + tuple(Dim((Factor("S", a, 1, w),)) for a, w in enumerate(inner))


def spatial_factors(dim: Dim) -> list[Factor]:
    return [f for f in dim.factors if f.kind == "S"]


def has_positions(layout: Layout) -> bool:
    return any(spatial_factors(d) for d in layout)


# --------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Size:
    """A size as a symbol (``coef`` times the product of ``atoms``) and, where the input
    size is configured, as a number. ``coef`` is a fraction when an unknown channel count
    was divided (``channels // 2``)."""

    coef: Fraction
    atoms: tuple[Atom, ...]
    value: int | None = None

    def __post_init__(self) -> None:
        if not self.atoms and self.value is None and Fraction(self.coef).denominator == 1:
            object.__setattr__(self, "value", int(self.coef))  # a plain number knows its value

    def times(self, other: "Size") -> "Size":
        value = self.value * other.value if self.value is not None and other.value is not None else None
        return Size(Fraction(self.coef) * other.coef, tuple(sorted(self.atoms + other.atoms, key=repr)), value)

    def over(self, other: "Size") -> "Size | None":
        """``self / other`` when it divides exactly (by symbol, else by number)."""
        remaining = list(self.atoms)
        for atom in other.atoms:
            if atom not in remaining:
                break
            remaining.remove(atom)
        else:
            coef = Fraction(self.coef) / other.coef if other.coef else None
            if coef is not None and (coef.denominator == 1 or remaining):
                value = self.value // other.value if self.value is not None and other.value else None
                return Size(coef, tuple(remaining), value)
        if self.value is not None and other.value and self.value % other.value == 0:
            return Size(Fraction(self.value // other.value), (), self.value // other.value)
        return None

    @property
    def is_one(self) -> bool:
        return (self.coef == 1 and not self.atoms) or self.value == 1

    def same(self, other: "Size") -> bool:
        if self.coef == other.coef and self.atoms == other.atoms:
            return True
        return self.value is not None and self.value == other.value


def concrete(s: Size, sizes: Sequence[int | None]) -> Size:
    """``s`` with the parts of spatial axes whose sizes are known as numbers: a reshape's
    target written with constants (``view(B, 14, 14, C)``) matches the positions then."""
    coef, atoms = Fraction(s.coef), []
    for atom in s.atoms:
        if atom[0] == "S" and atom[1] < len(sizes) and sizes[atom[1]] is not None and sizes[atom[1]] % atom[2] == 0:
            coef *= sizes[atom[1]] // atom[2]
        else:
            atoms.append(atom)
    if len(atoms) == len(s.atoms):
        return s
    return Size(coef, tuple(atoms), s.value)


def number(n: int) -> Size:
    return Size(n, (), n)


def factor_size(f: Factor, sizes: Sequence[int | None]) -> Size:
    """The size of one factor, given the spatial sizes of the map (None where not known)."""
    if f.kind == "N":
        return Size(1, (("N",),))
    if f.kind == "C":
        if f.count is not None:
            return number(f.count)
        if isinstance(f.key, tuple) and f.key[:1] == ("part",):  # a part of an unknown channel count
            return Size(Fraction(1, f.key[2]), (("C", f.key[1]),))
        if isinstance(f.key, tuple) and f.key[:1] == ("keys",):  # the key positions of a pairwise product
            return factor_size(f.key[1], sizes)
        return Size(Fraction(1), (("C", f.key),))
    if f.count is not None:
        return number(f.count)
    n = sizes[f.axis] if f.axis < len(sizes) else None
    return Size(1, (("S", f.axis, f.stride),), n // f.stride if n is not None and n % f.stride == 0 else None)


def dim_size(d: Dim, sizes: Sequence[int | None]) -> Size:
    out = number(1)
    for f in d.factors:
        out = out.times(factor_size(f, sizes))
    if d.extra:
        value = out.value + d.extra if out.value is not None else None
        return Size(1, (("X", d),), value)
    return out


# --------------------------------------------------------------------------- rearrangements


def normalise(d: Dim) -> Dim:
    """Merge neighbouring factors that are the outer and inner parts of one axis."""
    out: list[Factor] = []
    for f in d.factors:
        if f.kind == "S" and f.count == 1:
            continue
        if f.kind == "C" and f.count == 1:
            continue
        if out and f.kind == "S" and out[-1].kind == "S" and out[-1].axis == f.axis and f.count is not None \
                and out[-1].stride == f.stride * f.count:
            prev = out.pop()
            out.append(Factor("S", f.axis, f.stride, prev.count * f.count if prev.count is not None else None))
            continue
        out.append(f)
    return Dim(tuple(out), d.extra)


def permute(layout: Layout, order: Sequence[int]) -> Layout | None:
    if sorted(order) != list(range(len(layout))):
        return None
    return tuple(layout[i] for i in order)


def flatten(layout: Layout, start: int, end: int) -> Layout | None:
    n = len(layout)
    start, end = start % n if n else 0, end % n if n else 0
    if start > end:
        return None
    merged = layout[start:end + 1]
    if any(d.extra for d in merged) and len(merged) > 1:
        return None
    dim = normalise(Dim(tuple(f for d in merged for f in d.factors), merged[0].extra if len(merged) == 1 else 0))
    return layout[:start] + (dim,) + layout[end + 1:]


def _split(f: Factor, need: Size, sizes: Sequence[int | None]) -> tuple[Factor, Factor] | None:
    """Split ``f`` into an outer factor of size ``need`` and the inner rest."""
    if f.kind == "S" and f.count is None:
        for atom in need.atoms:
            if atom[0] == "S" and atom[1] == f.axis and atom[2] % f.stride == 0 and atom[2] > f.stride:
                k = atom[2] // f.stride
                return Factor("S", f.axis, atom[2], None), Factor("S", f.axis, f.stride, k)
        have = factor_size(f, sizes).value
        if have is not None and need.value and have % need.value == 0:
            k = have // need.value
            return Factor("S", f.axis, f.stride * k, None), Factor("S", f.axis, f.stride, k)
        return None
    if f.kind == "C" and f.count is None and not need.atoms and need.coef.denominator == 1 and not isinstance(f.key, tuple):
        k = int(need.coef)
        return Factor("C", count=k), Factor("C", key=("part", f.key, k))
    if f.kind in ("S", "C") and f.count is not None and need.value and f.count % need.value == 0:
        k = f.count // need.value
        if f.kind == "S":
            return Factor("S", f.axis, f.stride * k, need.value), Factor("S", f.axis, f.stride, k)
        return Factor("C", count=need.value), Factor("C", count=k)
    return None


def reshape(layout: Layout, sizes: Sequence[int | None], targets: Sequence[Size | None]) -> Layout | None:
    """The layout after ``view``/``reshape`` to ``targets`` (None is ``-1``), or None when the
    new shape cannot be related to the old one's factors."""
    pieces: list[Dim | Factor] = []
    for d in layout:
        if d.extra:
            pieces.append(d)  # kept whole
        else:
            pieces.extend(f for f in d.factors)
    total = number(1)
    for p in pieces:
        total = total.times(dim_size(p, sizes) if isinstance(p, Dim) else factor_size(p, sizes))
    total = concrete(total, sizes)
    written = list(targets)  # before sizes became numbers: which axis a size-1 target names
    targets = [concrete(t, sizes) if t is not None else None for t in targets]
    if sum(t is None for t in targets) > 1:
        return None
    if None in targets:
        known = number(1)
        for t in targets:
            if t is not None:
                known = known.times(t)
        rest = total.over(known)
        if rest is None:
            return None
        targets = [rest if t is None else t for t in targets]
    queue = list(pieces)
    out: list[Dim] = []
    for target, asked in zip(targets, written):
        need: Size = target  # type: ignore[assignment]
        taken: list[Factor] = []
        extra_dim: Dim | None = None
        if need.is_one and asked is not None and queue and isinstance(queue[0], Factor) and queue[0].kind == "S" \
                and (("S", queue[0].axis, queue[0].stride),) == asked.atoms:
            # ``reshape(B, C, H, W)`` with H == 1: the height (by name) takes axis 0, not a unit dim
            taken.append(queue.pop(0))  # type: ignore[arg-type]
        while not need.is_one:
            if not queue:
                return None
            piece = queue[0]
            if isinstance(piece, Dim):
                if taken or not dim_size(piece, sizes).same(need):
                    return None
                extra_dim = queue.pop(0)  # type: ignore[assignment]
                need = number(1)
                break
            size = concrete(factor_size(piece, sizes), sizes)
            rest = need.over(size)
            if rest is not None:
                taken.append(queue.pop(0))  # type: ignore[arg-type]
                need = rest
                continue
            parts = _split(piece, need, sizes)
            if parts is None:
                return None
            taken.append(parts[0])
            queue[0] = parts[1]
            need = number(1)
        out.append(extra_dim if extra_dim is not None else normalise(Dim(tuple(taken))))
    for piece in queue:  # what is left must be of size one
        if isinstance(piece, Dim) or not factor_size(piece, sizes).is_one:
            return None
    return tuple(out)


# --------------------------------------------------------------------------- mixing


def mixing_windows(layout: Layout, dims: Sequence[int], ndim: int) -> tuple[int | None, ...] | None:
    """The window per spatial axis within which an operation over ``dims`` (attention over
    tokens, a linear layer over positions) mixes: 1 where it mixes nothing, None where it
    mixes the whole axis (also across windows, as grid attention does). None when the
    dims hold no position at all."""
    mixed = [f for i in dims for f in spatial_factors(layout[i])]
    if not mixed:
        return None
    out: list[int | None] = []
    for a in range(ndim):
        mine = sorted((f for f in mixed if f.axis == a), key=lambda f: f.stride)
        if not mine:
            out.append(1)
            continue
        stride, window = 1, 1
        for f in mine:
            if f.stride != stride or f.count is None:
                window = None  # type: ignore[assignment]
                break
            window *= f.count
            stride *= f.count
        out.append(window)
    return tuple(out)


def inner_blocks(layout: Layout, dims: Sequence[int], ndim: int) -> tuple[tuple[int, ...], Layout] | None:
    """Space-to-depth: when the positions in ``dims`` are exactly the offsets within
    ``w`` x ``w`` blocks (per axis, stride-1 parts of ``w`` positions in all; an axis absent
    has ``w = 1``) and every other part of each axis steps over whole blocks (a stride ``w``
    divides), an operation over ``dims`` reads one block per output: a window with kernel
    = stride = ``w`` (Swin's patch merging as a linear layer, Hiera's ``amax`` over the
    unrolled 2 x 2 offsets). Returns ``w`` and the layout of the result's map, the block
    parts at strides divided by ``w``; the positions of ``dims`` are dropped."""
    inner = [f for i in dims for f in spatial_factors(layout[i])]
    if not inner:
        return None
    w: list[int] = []
    for a in range(ndim):
        window = 1
        for f in sorted((f for f in inner if f.axis == a), key=lambda f: f.stride):
            if f.stride != window or f.count is None:
                return None
            window *= f.count
        w.append(window)
    out = []
    for i, d in enumerate(layout):
        factors = []
        for f in d.factors:
            if f.kind == "S" and i in dims:
                continue
            if f.kind == "S":
                if f.stride % w[f.axis]:
                    return None
                f = Factor("S", f.axis, f.stride // w[f.axis], f.count)
            factors.append(f)
        out.append(Dim(tuple(factors), d.extra))
    return tuple(w), tuple(out)


def positions_of(layout: Layout) -> dict[int, list[Factor]]:
    """The factors of each spatial axis, wherever they are."""
    out: dict[int, list[Factor]] = {}
    for d in layout:
        for f in spatial_factors(d):
            out.setdefault(f.axis, []).append(f)
    return out


def complete_axes(layout: Layout, ndim: int) -> bool:
    """Whether every spatial axis is held whole (all its positions, once)."""
    found = positions_of(layout)
    for a in range(ndim):
        factors = sorted(found.get(a, []), key=lambda f: f.stride)
        stride = 1
        for f in factors:
            if f.stride != stride:
                return False
            if f.count is None:
                stride = 0
                break
            stride *= f.count
        if stride != 0:
            return False
    return True


def unit(layout: Layout, at: int) -> Layout:
    """``unsqueeze(at)``."""
    at = at % (len(layout) + 1)
    return layout[:at] + (Dim(()),) + layout[at:]


def remove(layout: Layout, at: int) -> Layout:
    return layout[:at] + layout[at + 1:]


def forget_positions(layout: Layout, sizes: Sequence[int | None]) -> Layout:
    """The same dimensions once the map has ended (flattened into a vector, a class token
    picked): parts of spatial axes become channel-like parts of the same size."""
    out = []
    for d in layout:
        factors = []
        for f in d.factors:
            if f.kind == "S":
                n = factor_size(f, sizes).value
                f = Factor("C", count=n) if n is not None else Factor("C", key=("ended", f))
            factors.append(f)
        if d.extra:
            positions = dim_size(Dim(tuple(factors)), sizes).value
            factors = [Factor("C", count=positions + d.extra if positions is not None else None, key=("ended", d))]
        out.append(Dim(tuple(factors)))
    return tuple(out)
