"""Attention and token mixing: products that combine positions.

``q @ k.transpose(-2, -1)``, ``attn @ v``, ``F.scaled_dot_product_attention``,
``einsum``, ``nn.MultiheadAttention`` and a linear layer over a dimension that holds
positions (MLP-Mixer's token MLP) make an output depend on every position of the
dimension they contract. Which positions that is comes from the layout: all of
them (global attention: the local frame ends, the output carries global
context, as an SE gate's does), or those of a window (Swin, MaxViT's block
attention: a ``Mix`` with the window's size, exact per position).

A product over channels only (``q @ k^T`` contracts the head width) mixes no
positions; its result holds the query positions and the key positions, and the
key positions are mixed when it is contracted with the values.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from ...ir import Merge, Pointwise, Window
from . import consttensor
from . import layout as lay
from .layout import Dim, Factor, Layout
from .tensor_ops import FUNCTIONS, METHODS
from .values import ParamValue, TensorValue, Unknown

if TYPE_CHECKING:
    from .evaluator import Evaluator


def contract(ev: "Evaluator", a: Any, b: Any, node: ast.AST, name: str) -> Any:
    """``a @ b`` (batched): contracts the last dimension of ``a`` with the second to last of
    ``b``."""
    ta, tb = isinstance(a, TensorValue), isinstance(b, TensorValue)
    if not ta and not tb:
        return ev.unknown(f"{name} of values that are not tensors", node)
    if not (ta and tb):
        t, other = (a, b) if ta else (b, a)
        if isinstance(other, Unknown):
            return ev.opaque([t, ev.as_tensor(other, node)], other.reason, node, name)
        # A weight (a parameter, a constant): a linear map of one dimension of ``t``.
        layout = ev.layout_of(t)
        mixed = len(layout) - 1 if ta else max(len(layout) - 2, 0)
        shape = getattr(other, "shape", None)
        features = shape[-1] if ta and shape else shape[-2] if shape and len(shape) > 1 else None
        return linear_over(ev, t, mixed, node, name, features=features if isinstance(features, int) else None)
    la, lb = ev.layout_of(a), ev.layout_of(b)
    if len(la) < 2 or len(lb) < 2:
        return ev.opaque([a, b], f"{name} of vectors", node, name)
    contracted = la[-1]
    windows = lay.mixing_windows((contracted,), [0], ev.ndim)
    out_layout = la[:-1] + lb[-1:]
    if windows is None:
        if lay.spatial_factors(lb[-1]) or lb[-1].extra:
            # Over channels only, keys in the last dimension: a pairwise product, query
            # positions by key positions. Its node is the queries'; the keys are in its
            # layout, and are mixed when it is contracted with the values.
            return ev.tensor(a.node, _dedupe(out_layout))
        return ev.add_node(Merge("mul"), _nodes(a, b), name, node, layout=_dedupe(out_layout))
    # ``v @ attn^T``: the positions left are the queries', in ``b``; with global mixing the
    # result is made from ``b``'s node, whose map they are (LeViT's queries subsampled by 2).
    queries_in_b = lay.has_positions(lb[-1:]) and not lay.has_positions(la[:-1])
    return _mixed(ev, [b, a] if queries_in_b else [a, b], windows, out_layout, node, name)


def _dedupe(layout: Layout) -> Layout:
    """A pairwise tensor holds the same positions twice (queries and keys): the second
    copy is kept as a *keys* dimension of channel-like factors marked with them, so the
    layout still says each position once, and contracting it later mixes them."""
    seen: set[tuple[int, int, int | None]] = set()
    out = []
    for d in layout:
        factors = []
        for f in d.factors:
            key = (f.axis, f.stride, f.count) if f.kind == "S" else None
            if key is not None and key in seen:
                factors.append(Factor("C", count=None, key=("keys", f)))
            else:
                if key is not None:
                    seen.add(key)
                factors.append(f)
        out.append(Dim(tuple(factors), d.extra))
    return tuple(out)


def _keys(d: Dim) -> list[Factor]:
    return [f.key[1] for f in d.factors if f.kind == "C" and isinstance(f.key, tuple) and f.key[:1] == ("keys",)]


def _mixed(ev: "Evaluator", xs: list[TensorValue], windows: tuple[int | None, ...], out_layout: Layout,
           node: ast.AST, name: str) -> TensorValue:
    return ev.mix(xs, windows, node, name, out_layout)


def _nodes(*xs: TensorValue) -> list[int]:
    return list(dict.fromkeys(x.node for x in xs))


def contract_keys(ev: "Evaluator", a: TensorValue, b: TensorValue, node: ast.AST, name: str) -> Any:
    """``attn @ v`` where ``attn``'s last dimension is the keys of a pairwise product."""
    la, lb = ev.layout_of(a), ev.layout_of(b)
    keys = _keys(la[-1])
    if not keys:
        return None
    windows = lay.mixing_windows((Dim(tuple(keys)),), [0], ev.ndim)
    return _mixed(ev, [a, b], windows or (1,) * ev.ndim, la[:-1] + lb[-1:], node, name)


def matmul(ev: "Evaluator", a: Any, b: Any, node: ast.AST, name: str = "matmul") -> Any:
    if isinstance(a, TensorValue) and isinstance(b, TensorValue):
        done = contract_keys(ev, a, b, node, name)
        if done is not None:
            return done
    return contract(ev, a, b, node, name)


def linear_over(ev: "Evaluator", x: TensorValue, dim: int, node: ast.AST, name: str,
                attrs: dict[str, Any] | None = None, loc: Any = None, path: str = "",
                features: int | None = None) -> TensorValue:
    """A linear map of one dimension of ``x`` (``nn.Linear`` on the last, a weight matrix)
    to ``features`` outputs: over channels it moves no position (a 1x1 conv); over
    positions it mixes them."""
    layout = ev.layout_of(x)
    d = layout[dim]
    keys = _keys(d)
    windows = lay.mixing_windows((Dim(tuple(lay.spatial_factors(d) + keys)),), [0], ev.ndim) if (lay.spatial_factors(d) or keys) else None
    channel = Factor("C", count=features) if features is not None else Factor("C", key=("linear", id(node)))
    out = layout[:dim] + (Dim((channel,)),) + layout[dim + 1:]
    if windows is None and not d.extra:
        return ev.add_node(Pointwise(), [x.node], name, node, attrs, path, loc, layout=out)
    blocks = lay.inner_blocks(layout, [dim], ev.ndim)
    if blocks is not None and not d.extra and not keys:
        # The positions of each w x w block were moved into this dimension (Swin's patch
        # merging): a linear layer over it is a conv with kernel = stride = w.
        w, rest = blocks
        n = ev.ndim
        new = rest[:dim] + (Dim((channel,)),) + rest[dim + 1:]
        return ev.add_node(Window("conv", w, w, (1,) * n, ((0, 0),) * n), [x.node], name, node, attrs, path, loc, layout=new)
    if windows is None:
        windows = (None,) * ev.ndim  # class tokens mixed in: every position reads them
    return ev.mix(x, windows, node, name, out)


def _matmul(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    return matmul(ev, args[0], args[1] if len(args) > 1 else kwargs.get("other", kwargs.get("mat2")), node)


def _baddbmm(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    bias, a, b = (list(args) + [kwargs.get("batch1"), kwargs.get("batch2")])[:3]
    out = matmul(ev, a, b, node, "baddbmm")
    return ev.binary_tensor_op("add", out, bias, node, "baddbmm") if isinstance(bias, TensorValue) else out


def _sdpa(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``F.scaled_dot_product_attention(q, k, v)``: every query reads every key position."""
    q, k, v = (list(args) + [kwargs.get("query"), kwargs.get("key"), kwargs.get("value")])[:3]
    tensors = [t for t in (q, k, v) if isinstance(t, TensorValue)]
    bad = next((t for t in (q, k, v) if isinstance(t, Unknown)), None)
    if bad is None and isinstance(q, ParamValue) and isinstance(k, TensorValue) and isinstance(v, TensorValue):
        # Learned queries (attention pooling): each reads every key position; no position is left.
        lv = ev.layout_of(v)
        return ev.mix(v, (None,) * ev.ndim, node, "attention", lay.forget_positions(lv, ev.map_sizes(v.node)))
    if bad is not None or len(tensors) < 3:
        reason = bad.reason if bad is not None else "attention of values that are not tensors"
        return ev.opaque(tensors or [ev.as_tensor(bad, node)], reason, node, "attention")  # type: ignore[list-item]
    lq, lk = ev.layout_of(q), ev.layout_of(k)
    if len(lk) < 2:
        return ev.opaque(tensors, "attention of vectors", node, "attention")
    windows = lay.mixing_windows(lk, [len(lk) - 2], ev.ndim)
    out_layout = lq[:-1] + ev.layout_of(v)[-1:]
    if windows is None:
        return ev.add_node(Merge("mul"), _nodes(q, k, v), "attention", node, layout=out_layout)
    return _mixed(ev, tensors, windows, out_layout, node, "attention")


FUNCTIONS["torch.matmul"] = _matmul
FUNCTIONS["torch.bmm"] = _matmul
FUNCTIONS["torch.mm"] = _matmul
FUNCTIONS["torch.baddbmm"] = _baddbmm
METHODS["matmul"] = _matmul
METHODS["bmm"] = _matmul
METHODS["mm"] = _matmul
FUNCTIONS["torch.nn.functional.scaled_dot_product_attention"] = _sdpa


def _linear(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``F.linear(x, weight, bias)``: a linear map of the last dimension."""
    x = ev.as_tensor(args[0] if args else kwargs.get("input"), node)
    if isinstance(x, Unknown):
        return x
    weight = args[1] if len(args) > 1 else kwargs.get("weight")
    shape = getattr(weight, "shape", None)
    features = shape[0] if shape and isinstance(shape[0], int) else None
    return linear_over(ev, x, len(ev.layout_of(x)) - 1, node, "F.linear", features=features)


FUNCTIONS["torch.nn.functional.linear"] = _linear


# ---------------------------------------------------------------------- einsum

_SPEC = re.compile(r"^\s*([a-zA-Z.,\s]+)->\s*([a-zA-Z.\s]*)$")


def _einsum(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``torch.einsum('bhnd,bhmd->bhnm', q, k)``: an index that appears in an operand and
    not in the result is contracted; contracting positions mixes them."""
    if not args or not isinstance(args[0], str):
        return ev.unknown("einsum with an equation that is not known", node)
    operands = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else list(args[1:])
    m = _SPEC.match(args[0])
    if m is None or "." in args[0]:
        return ev.unknown(f"einsum equation {args[0]!r} (without '->' or with '...') is not modelled", node)
    inputs = [s.strip().replace(" ", "") for s in m.group(1).split(",")]
    result = m.group(2).replace(" ", "")
    tensors = [t for t in operands if isinstance(t, TensorValue)]
    if len(inputs) != len(operands):
        return ev.unknown("einsum of operands rflint cannot match to its equation", node)
    if not tensors:  # parameters and constants (a relative-position table): a parameter
        sizes: dict[str, int] = {}
        for spec, t in zip(inputs, operands):
            shape = consttensor.shape_of(t)
            if shape is not None and len(shape) == len(spec):
                sizes.update(zip(spec, shape))
        shape = tuple(sizes[c] for c in result) if all(c in sizes for c in result) else None
        return ParamValue("einsum of parameters", shape)
    letters: dict[str, Dim] = {}
    for spec, t in zip(inputs, operands):
        if not isinstance(t, TensorValue):
            continue
        layout = ev.layout_of(t)
        if len(layout) != len(spec):
            return ev.opaque(tensors, "einsum equation and operand ranks differ", node, "einsum")
        for letter, d in zip(spec, layout):
            if letter not in letters or not (lay.spatial_factors(letters[letter]) or letters[letter].extra):
                letters[letter] = d
    contracted = [letters[c] for c in letters if c not in result]
    out_layout = _dedupe(tuple(letters[c] for c in result if c in letters))
    mixed = [f for d in contracted for f in lay.spatial_factors(d) + _keys(d)]
    if not mixed:
        return ev.add_node(Merge("mul"), [t.node for t in tensors], "einsum", node, layout=out_layout) if len(set(
            t.node for t in tensors)) > 1 else ev.tensor(tensors[0].node, out_layout)
    windows = lay.mixing_windows((Dim(tuple(mixed)),), [0], ev.ndim)
    return _mixed(ev, tensors, windows or (None,) * ev.ndim, out_layout, node, "einsum")


FUNCTIONS["torch.einsum"] = _einsum


# ---------------------------------------------------------------------- nn.MultiheadAttention


def multihead(ev: "Evaluator", module: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    """``nn.MultiheadAttention(q, k, v)``: every query reads every key of its sequence
    (dimension 1 with ``batch_first``, else 0). Returns ``(output, weights)``."""
    q, k, v = (list(args) + [kwargs.get("query"), kwargs.get("key"), kwargs.get("value")])[:3]
    tensors = [t for t in (q, k, v) if isinstance(t, TensorValue)]
    if len(tensors) < 3:
        bad = next((t for t in (q, k, v) if isinstance(t, Unknown)), None)
        reason = bad.reason if bad is not None else "attention of values that are not tensors"
        return (ev.opaque(tensors or [ev.as_tensor(bad, node)], reason, node, "MultiheadAttention"),  # type: ignore[list-item]
                Unknown("attention weights"))
    seq = 1 if module.bound.get("batch_first") is True else 0
    lk = ev.layout_of(k)
    windows = lay.mixing_windows(lk, [seq], ev.ndim) if seq < len(lk) else None
    if windows is None:
        out = ev.add_node(Merge("mul"), _nodes(q, k, v), "MultiheadAttention", node, layout=q.layout)
    else:
        out = _mixed(ev, tensors, windows, ev.layout_of(q), node, "MultiheadAttention")
    return out, Unknown("attention weights are not modelled")


__all__ = ["contract", "matmul", "linear_over", "multihead", "ParamValue", "Layout"]
