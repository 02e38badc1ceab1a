"""AA102's mechanical fixes: pure token edits of a pooling call written with literals.

Zhang (ICML 2019) separates the max from the subsampling: ``MaxPool(k, s)``
becomes ``MaxPool(k, 1)`` and a blur with stride ``s``. Which blur is the
question: antialiased-cnns' ``BlurPool`` needs the channel count and an
import the file may not have, so the one rewrite that is always available
and always valid uses ``torch.nn`` alone: an ``AvgPool`` with an odd kernel
``>= s``, padded symmetrically, which RULES.md counts as a (box) blur:

    nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    -> nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
                     nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False))

For any input size ``n``, with ``m`` the dense max's output size, the strided
max had ``floor((m - 1)/s) + 1`` outputs, and so has the box with kernel
``2q + 1`` and padding ``q`` (``floor((m + 2q - 2q - 1)/s) + 1``); its taps
are centred on the samples the strided max kept, so every output keeps its
centre (no misaligned skip connection), and ``count_include_pad=False``
averages only real values at the border. A pool has no parameters, so the
state dict is unchanged. An ``AvgPool`` narrower than its stride grows by
``2t`` taps and ``t`` padding, which keeps both its size and its centre.

The fix is unsafe (the model computes something else) and offered only when
the call is written with literal arguments, by a dotted name whose module
also has ``Sequential``/``AvgPool`` (``nn.``, ``torch.nn.``, ``F.``), and the
same line builds no other geometry elsewhere in the model.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import Edit, Fix
from ..ir import Node, Window
from .base import ModelContext
from .edits import after_last_arg, one_geometry_per_line, set_arg

GEOMETRY = ("kernel_size", "stride", "padding", "dilation")
REFUSED = ("return_indices", "divisor_override")  # a tuple result, or a sum that is no average


def box_for(stride: int) -> tuple[int, int]:
    """The box blur for a stride: the smallest odd kernel ``>= stride`` and the padding
    that centres it (``(3, 1)`` for stride 2)."""
    kernel = stride if stride % 2 else stride + 1
    return kernel, (kernel - 1) // 2


def _uniform(values: tuple[int, ...]) -> int | None:
    return values[0] if len(set(values)) == 1 else None


def _written(ctx: ModelContext, node: Node, extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The argument spans of a call whose geometry is written as literals and that builds
    one geometry in this model; None when it is not ours to rewrite."""
    spans, literal, call = node.attrs.get("args"), node.attrs.get("literal", frozenset()), node.attrs.get("call")
    if not isinstance(spans, dict) or "kernel_size" not in spans or call is None or node.loc is None:
        return None
    if any(p in spans for p in REFUSED) or not all(p in literal for p in (*GEOMETRY, *extra) if p in spans):
        return None  # a helper's parameter or an expression: the call site is not the place to decide
    return spans if one_geometry_per_line(ctx, node) else None


def _module_prefix(node: Node, functional: str, layer: str) -> tuple[str, bool] | None:
    """``('nn', False)`` for ``nn.MaxPool2d(...)``, ``('F', True)`` for ``F.max_pool2d(...)``:
    the module the callee was named through, where its siblings are found too. None for a
    bare name (``MaxPool2d`` imported alone: ``Sequential`` may not be) or a module that
    lacks them (``torch.max_pool2d``: torch has no ``avg_pool2d``)."""
    prefix, _, name = str(node.attrs.get("func", "")).rpartition(".")
    if not prefix or prefix.rsplit(".", 1)[-1] in ("torch", "pooling"):
        return None
    if name == layer:
        return prefix, False
    if name == functional:
        return prefix, True
    return None


def dense_max_then_box(ctx: ModelContext, node: Node) -> Fix | None:
    """``MaxPool(k, s)`` -> ``MaxPool(k, 1)`` then a box blur with stride ``s`` (module form in
    an ``nn.Sequential``, functional form nested in ``F.avg_pool``)."""
    op = node.op
    if not isinstance(op, Window) or op.ceil_mode:
        return None
    nd, stride = len(op.kernel), _uniform(op.stride)
    named = _module_prefix(node, f"max_pool{nd}d", f"MaxPool{nd}d")
    spans = _written(ctx, node, ("ceil_mode",))
    if stride is None or stride < 2 or named is None or spans is None:
        return None
    prefix, functional = named
    k, p = box_for(stride)
    box = f"kernel_size={k}, stride={stride}, padding={p}, count_include_pad=False"
    line, col, end_line, end_col = node.attrs["call"]
    if functional:
        opening, closing = f"{prefix}.avg_pool{nd}d(", f", {box})"
    else:
        opening, closing = f"{prefix}.Sequential(", f", {prefix}.AvgPool{nd}d({box}))"
    edits = _merge_inserts([
        Edit(line, col, line, col, opening), set_arg(spans, "stride", "1"), Edit(end_line, end_col, end_line, end_col, closing),
    ])
    return Fix(
        f"Take the max at stride 1 and subsample with a {k}x{k} box blur (AvgPool{nd}d({box})): same output "
        f"size and centres, {stride}^{nd} times the max-pool compute, no new parameters",
        edits,
        safe=False,
    )


def widen_avg_pool(ctx: ModelContext, node: Node) -> Fix | None:
    """``AvgPool(k, s)`` with ``k < s`` -> kernel ``k + 2t >= s`` and padding ``p + t``."""
    op = node.op
    if not isinstance(op, Window) or op.ceil_mode:
        return None
    nd = len(op.kernel)
    k, s, (p, after) = _uniform(op.kernel), _uniform(op.stride), op.padding[0]
    named = _module_prefix(node, f"avg_pool{nd}d", f"AvgPool{nd}d")
    spans = _written(ctx, node, ("ceil_mode", "count_include_pad"))
    if None in (k, s) or p != after or _uniform(tuple(op.padding)) is None or named is None or spans is None:
        return None
    assert k is not None and s is not None
    t = -(-(s - k) // 2)
    if t <= 0 or ("count_include_pad" in spans and node.attrs.get("count_include_pad") is not False):
        return None  # zeros counted in on purpose: widening would average more of them
    edits = [set_arg(spans, "kernel_size", str(k + 2 * t)), set_arg(spans, "padding", str(p + t))]
    if "count_include_pad" not in spans:
        edits.append(after_last_arg(spans, ", count_include_pad=False"))
    merged = _merge_inserts(edits)
    return Fix(
        f"Use kernel_size={k + 2 * t}, padding={p + t}, count_include_pad=False: the box covers the stride, "
        f"with the same output size and centres",
        merged,
        safe=False,
    )


def _merge_inserts(edits: list[Edit]) -> tuple[Edit, ...]:
    """Insertions at one point become one edit (in order), so that they never overlap."""
    out: list[Edit] = []
    for e in sorted(edits, key=lambda e: (e.line, e.col)):
        prev = out[-1] if out else None
        point = (e.line, e.col) == (e.end_line, e.end_col)
        if prev is not None and point and (prev.line, prev.col, prev.end_line, prev.end_col) == (e.line, e.col) * 2:
            out[-1] = Edit(e.line, e.col, e.end_line, e.end_col, prev.replacement + e.replacement)
        else:
            out.append(e)
    return tuple(out)
