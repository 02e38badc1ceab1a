"""Small predicates and helpers the layer rules share.

They look at a node's operator (its geometry), never at its class name: a
reader decides what a layer *is*; the rules only ask what it *does*. The one
exception is ``Node.attrs["blur"]``, which a reader sets on layers it knows
to be fixed low-pass filters (antialiased_cnns ``BlurPool``, timm
``BlurPool2d``, kornia ``BlurPool2D`` ...): that fact is not geometry.

"Straight from" (``direct_inputs``): walking back from a layer, nodes whose
operator is ``Pointwise`` (norms, activations, dropout, channel shuffles,
``.contiguous()``) are stepped over, because they keep every position where
it is and do not subsample; so are pads (``F.pad``, ``ReflectionPad2d``),
which only add a border: a user-written blur pads its input right before
its ``F.conv2d``, and the layer it protects may pad in front of itself. A ``Blur -> ReLU -> Conv(stride=2)`` therefore
counts as blurred. Strictly, a nonlinearity between the blur and the
subsampling brings some high frequencies back (Zhang 2019 puts the blur
right before the subsampling, after the ReLU), but the signal it acts on is
already low-passed, and a linter that flags deliberate anti-aliasing designs
loses its users; where the blur sits relative to the nonlinearity is a
placement question, not "no blur at all". Merges, resampling and every
other operator stop the walk, and so does the model input (a node without
inputs), so a layer at the start of a model, or one whose producer the
reader did not see, counts as not blurred.
"""

from __future__ import annotations

from fractions import Fraction
from math import prod
from typing import Callable, Sequence

from ..ir import Node, Pointwise, TransposedConv, Window
from .base import ModelContext, Option

# --------------------------------------------------------------------------- predicates


def window(node: Node) -> Window | None:
    return node.op if isinstance(node.op, Window) else None


def is_conv(node: Node) -> bool:
    w = window(node)
    return w is not None and w.kind == "conv"


def is_strided(node: Node) -> bool:
    """A window layer with stride > 1 on some axis."""
    w = window(node)
    return w is not None and any(s > 1 for s in w.stride)


def is_strided_conv(node: Node) -> bool:
    return is_conv(node) and is_strided(node)


def is_max_pool(node: Node) -> bool:
    w = window(node)
    return w is not None and w.kind == "max_pool"


def is_avg_pool(node: Node) -> bool:
    w = window(node)
    return w is not None and w.kind == "avg_pool"


def is_transposed_conv(node: Node) -> bool:
    return isinstance(node.op, TransposedConv)


def is_known_blur(node: Node, ctx: ModelContext | None = None) -> bool:
    """A layer the reader knows to be a fixed low-pass filter (BlurPool and friends), or,
    given the model's context, one built inside a class the configuration names as a
    blur (``blur-classes``, see :func:`user_blurs`)."""
    return bool(node.attrs.get("blur")) or (ctx is not None and node.id in user_blurs(ctx))


BLUR_CLASSES_RULES = ("AA101", "AA102", "AA103")
"""The rules whose tables take ``blur-classes``; the option applies to the whole family."""


def _class_names(value: object) -> str | None:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return f"must be a list of class names, got {value!r}"
    return None


BLUR_CLASSES = Option(_class_names, "classes that are blurs, by name (['mylib.MyBlur']): what they build is not aliasing")


def blur_classes(ctx: ModelContext) -> frozenset[str]:
    """The class names configured as blurs (``blur-classes = ["mylib.MyBlur"]`` in any AA
    rule's table), compared by their last dotted part as code writes them."""
    names: set[str] = set()
    for code in BLUR_CLASSES_RULES:
        value = ctx.option(code, "blur-classes", ())
        problem = _class_names(value)
        if problem:  # the configuration checks it at load; a settings object built by hand may not
            raise ValueError(f"{code}: blur-classes {problem}")
        names.update(v.rpartition(".")[2] for v in value)
    return frozenset(names)


def user_blurs(ctx: ModelContext) -> frozenset[int]:
    """Ids of the nodes built inside a configured blur class: every layer whose construction
    passed through it (its call chain), or the whole graph when the class is the model
    itself; and an unread external layer of that class. Computed once per model."""
    cached = ctx.__dict__.get("_user_blurs")
    if cached is not None:
        return cached
    names = blur_classes(ctx)
    ids: frozenset[int] = frozenset()
    if names:
        if _class_of(ctx.graph.name) in names:
            ids = frozenset(n.id for n in ctx.graph.nodes)
        else:
            ids = frozenset(
                n.id for n in ctx.graph.nodes
                if _class_of(n.type_name) in names
                or (n.loc is not None and any(_class_of(step) in names for step in n.loc.chain))
            )
    ctx.__dict__["_user_blurs"] = ids
    return ids


def _class_of(text: str) -> str:
    """``'nets.py:17:21 MyBlur()'``, ``'MyBlur(c=8)'`` or ``'blur.MyBlur'`` -> ``'MyBlur'``."""
    return text.rsplit(" ", 1)[-1].split("(", 1)[0].rpartition(".")[2]


def is_box_blur(node: Node) -> bool:
    """AvgPool with kernel >= stride on every axis, averaging more than one pixel:
    a box low-pass (RULES.md). A 1x1 average pool is an identity, not a blur."""
    w = window(node)
    if w is None or w.kind != "avg_pool":
        return False
    return all(k >= s for k, s in zip(w.kernel, w.stride)) and any(k > 1 for k in w.kernel)


def is_blur(node: Node, ctx: ModelContext | None = None) -> bool:
    """A known blur layer (``attrs['blur']``, or a configured blur class given ``ctx``) or a
    box-filter AvgPool (kernel >= stride)."""
    return is_known_blur(node, ctx) or is_box_blur(node)


def is_pad(node: Node) -> bool:
    """Padding (or cropping) alone: ``F.pad``, ``nn.ReflectionPad2d`` ..."""
    w = window(node)
    return w is not None and w.kind == "pad"


def keeps_positions(node: Node) -> bool:
    """A node the "straight from" walks step over: pointwise, or a pad."""
    return isinstance(node.op, Pointwise) or is_pad(node)


def direct_inputs(ctx: ModelContext, node: Node) -> list[Node]:
    """The producers of a node's input, stepping back over ``Pointwise`` nodes and pads.

    The model input (a node with no inputs) is returned as a producer, not
    stepped over. A node the reader gave no inputs returns ``[]``. Each
    producer appears once, in the order found.
    """
    return _step_over_positions(ctx, node.inputs, lambda cur: cur.inputs, keep_ends=True)


def direct_consumers(ctx: ModelContext, node: Node) -> list[Node]:
    """The layers that read a node's output, stepping forward over ``Pointwise`` nodes and
    pads (the mirror of :func:`direct_inputs`). A pointwise node nothing reads is no consumer."""
    return _step_over_positions(ctx, ctx.consumers.get(node.id, []), lambda cur: ctx.consumers.get(cur.id, []),
                                keep_ends=False)


def _step_over_positions(ctx: ModelContext, first: Sequence[int], onward: Callable[[Node], Sequence[int]],
                         keep_ends: bool) -> list[Node]:
    """The nodes reached from ``first`` along ``onward`` (inputs or consumers), stepping over
    nodes that keep positions; such a node with nowhere onward is kept when ``keep_ends``.
    Each node appears once, in depth-first order."""
    found: list[Node] = []
    seen: set[int] = set()
    stack = list(reversed(first))
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        cur = ctx.graph.nodes[nid]
        onward_ids = onward(cur)
        if keeps_positions(cur) and (onward_ids or not keep_ends):
            stack.extend(reversed(onward_ids))
        else:
            found.append(cur)
    return found


def comes_straight_from_blur(ctx: ModelContext, node: Node) -> bool:
    """True when every producer of the node's input (past pointwise layers) is a blur."""
    producers = direct_inputs(ctx, node)
    return bool(producers) and all(is_blur(p, ctx) for p in producers)


# --------------------------------------------------------------------------- tap arithmetic


def residue_counts(k: int, s: int, d: int) -> list[int]:
    """``c_rho = #{t < k : (t*d) mod s = rho}`` for ``rho`` in ``[0, s)``.

    For a transposed conv, the number of kernel taps (hence of input pixels)
    that feed the outputs of each phase; for a conv or pool, which residues
    of the input its taps touch.
    """
    counts = [0] * s
    for t in range(k):
        counts[(t * d) % s] += 1
    return counts


def covered_residues(k: int, s: int, d: int) -> int:
    """How many residues mod ``s`` the taps ``{t*d}`` of a window reach."""
    return sum(1 for c in residue_counts(k, s, d) if c)


def unused_fraction(w: Window) -> Fraction:
    """Share of a window layer's input it never reads (over all axes)."""
    used = prod(Fraction(covered_residues(k, s, d), s) for k, s, d in zip(w.kernel, w.stride, w.dilation))
    return 1 - used


# --------------------------------------------------------------------------- message helpers

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def axis_names(ndim: int) -> tuple[str, ...]:
    """How messages name the spatial axes: H and W in 2-D."""
    return AXIS_NAMES.get(ndim, tuple(f"axis {a}" for a in range(ndim)))



def fmt_axes(values: Sequence[object]) -> str:
    """``3`` when every axis agrees, ``(3, 1)`` otherwise."""
    vals = list(values)
    if vals and all(v == vals[0] for v in vals):
        return str(vals[0])
    return "(" + ", ".join(str(v) for v in vals) + ")"


def fmt_num(x: Fraction | float | int) -> str:
    """A number for a message: integers plain, simple fractions as decimals, else ``a/b``."""
    f = Fraction(x)
    if f.denominator == 1:
        return str(f.numerator)
    den = f.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den == 1:
        return f"{float(f):g}"
    return f"{f.numerator}/{f.denominator}"


def fmt_frac(f: Fraction) -> str:
    """A share as ``3/4`` (and ``75%``)."""
    return f"{f.numerator}/{f.denominator} ({fmt_num(f * 100)}%)" if f.denominator != 1 else str(f.numerator)


def describe(node: Node, *, dilation: bool = True, padding: bool = False) -> str:
    """``Conv2d(kernel_size=3, stride=2)``: the layer as a person wrote it, from its geometry."""
    op = node.op
    parts: list[str] = []
    if isinstance(op, (Window, TransposedConv)):
        parts.append(f"kernel_size={fmt_axes(op.kernel)}")
        parts.append(f"stride={fmt_axes(op.stride)}")
        if padding:
            if isinstance(op, Window):
                pads = [p for p in op.padding]
                if all(b == a for b, a in pads):
                    parts.append(f"padding={fmt_axes([b for b, _ in pads])}")
                else:
                    parts.append(f"padding={fmt_axes(pads)}")
            else:
                parts.append(f"padding={fmt_axes(op.padding)}")
                if any(op.output_padding):
                    parts.append(f"output_padding={fmt_axes(op.output_padding)}")
        if dilation and any(d != 1 for d in op.dilation):
            parts.append(f"dilation={fmt_axes(op.dilation)}")
    name = node.type_name or type(op).__name__
    return f"{name}({', '.join(parts)})"

