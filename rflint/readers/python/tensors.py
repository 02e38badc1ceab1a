"""Symbolic tensors in ``forward``: the graph nodes they come from, the arrangement of
their dimensions (``layout.py``) and their sizes.

Every operation that moves information between positions is a node; a
rearrangement (``view``, ``permute``) is not, it only changes the tensor's layout.
When the input size is configured, each node's spatial size is known as the
graph grows, so that sizes read in ``forward`` (``x.shape[-2:]``, 'same' padding
computed from ``x.size()``) are numbers.
"""

from __future__ import annotations

import ast
from typing import Any, Callable

from ...analysis import out_sizes
from ...ir import (Constant, EndSpatial, Global, Location, Merge, Mix, Op, Opaque, PixelShuffle, PixelUnshuffle, Resample,
                   SideInput, Window)
from . import consttensor
from . import layout as lay
from .layout import Layout
from .values import ParamValue, SizeValue, SymSize, TensorValue, Unknown, size_value


class Tensors:
    """Graph nodes, layouts and sizes of symbolic tensors. A part of :class:`Evaluator`."""

    def add_node(self, op: Op, inputs: list[int], type_name: str, node: ast.AST | None, attrs: dict[str, Any] | None = None,
                 name: str = "", loc: Location | None = None, origin: Location | None = None,
                 layout: Layout | None = None) -> TensorValue:
        """Append a node. An Opaque one is reported (``origin``: where its reason arose)."""
        assert self.builder is not None, "tensor operation outside forward"
        self.built += 1
        loc = loc or (self.loc(node) if node is not None else None)
        if isinstance(op, Opaque):
            self.report(op.reason, origin or loc)
        nid = self.builder.add(op, inputs, type_name, name, loc, attrs)
        return self.tensor(nid, layout)

    def tensor(self, nid: int, layout: Layout | None) -> TensorValue:
        """A tensor of node ``nid`` arranged as ``layout`` (None when that is the map's own)."""
        if layout is not None and lay.is_standard(layout, self.ndim) \
                and layout[1] == lay.standard(self.ndim, self.map_channels(nid), nid)[1]:
            layout = None  # the map's own arrangement (a part of its channels keeps its own count)
        return TensorValue(nid, layout)

    def layout_of(self, x: TensorValue) -> Layout:
        if x.layout is not None:
            return x.layout
        if self.is_ended(x.node):  # pooled to (N, C, 1, 1): no position left
            return (lay.Dim((lay.BATCH,)), lay.standard(self.ndim, self.map_channels(x.node), x.node)[1]) + (lay.Dim(()),) * self.ndim
        return lay.standard(self.ndim, self.map_channels(x.node), x.node)

    def is_ended(self, nid: int) -> bool:
        """Whether node ``nid``'s output holds no positions (global pooling, a flattened
        vector, a constant, and what is computed from them alone)."""
        if nid in self.ended:
            return self.ended[nid]
        assert self.builder is not None
        self._upstream_first(nid, self.ended, self.is_ended)
        node = self.builder.node(nid)
        op = node.op
        if isinstance(op, (Global, EndSpatial, Constant)) or (isinstance(op, Mix) and op.is_global):
            result = True
        elif not node.inputs or isinstance(op, Opaque):
            result = False
        else:
            result = all(self.is_ended(i) for i in node.inputs)
        self.ended[nid] = result
        return result

    def map_channels(self, nid: int) -> int | None:
        """The channel count of node ``nid``'s map, where the layers say it."""
        if nid in self.channels:
            return self.channels[nid]
        assert self.builder is not None
        self._upstream_first(nid, self.channels, self.map_channels)
        node = self.builder.node(nid)
        declared = node.attrs.get("out_channels")
        if isinstance(declared, int) and not isinstance(declared, bool):
            count: int | None = declared
        elif not node.inputs:
            count = None
        elif isinstance(node.op, Merge) and node.op.kind == "concat":
            parts = [self.map_channels(i) for i in node.inputs]
            count = sum(parts) if all(c is not None for c in parts) else None  # type: ignore[misc]
        elif isinstance(node.op, (PixelShuffle, PixelUnshuffle)):
            c = self.map_channels(node.inputs[0])
            f = node.op.factor ** node.op.ndim
            count = None if c is None else c // f if isinstance(node.op, PixelShuffle) else c * f
        elif isinstance(node.op, (Opaque, Global, Mix, EndSpatial, Constant, SideInput)) or node.type_name == "F.conv2d":
            count = None
        elif isinstance(node.op, Merge):
            # add/mul broadcast: the counts are equal or 1 (a gate, a per-channel bias)
            parts = [c for c in (self.map_channels(i) for i in node.inputs) if c is not None]
            count = max(parts) if parts else None
        else:
            count = self.map_channels(node.inputs[0])
        self.channels[nid] = count
        return count

    def as_tensor(self, value: Any, node: ast.AST) -> TensorValue | Unknown:
        """A tensor to apply an operation to; an Unknown becomes an Opaque node so that the
        layers after it are still seen (their frames are Unknown)."""
        if isinstance(value, TensorValue):
            return value
        if self.builder is None:
            return Unknown("not a tensor")
        reason = value.reason if isinstance(value, Unknown) else f"expected a tensor, got {type(value).__name__}"
        return self.add_node(Opaque(reason), [0], "unknown", node, origin=value.loc if isinstance(value, Unknown) else None)

    def opaque(self, x: TensorValue | list[TensorValue], reason: str, node: ast.AST, name: str) -> TensorValue:
        """An operation rflint cannot relate to the positions: its output keeps the first
        input's arrangement, so that the code after it still runs (its frames are unknown)."""
        xs = x if isinstance(x, list) else [x]
        return self.add_node(Opaque(reason), [t.node for t in xs], name, node, layout=xs[0].layout if xs else None)

    def binary_tensor_op(self, kind: str, a: Any, b: Any, node: ast.AST, name: str) -> Any:
        """``a + b`` etc. with at least one tensor: a merge, or a pointwise op with a constant.
        Two maps arranged differently (both holding positions) cannot be related: Opaque."""
        ta, tb = isinstance(a, TensorValue), isinstance(b, TensorValue)
        if ta and tb:
            la, lb = self.layout_of(a), self.layout_of(b)
            out = la if lay.has_positions(la) or not lay.has_positions(lb) else lb
            if lay.has_positions(la) and lay.has_positions(lb) and not (self.is_ended(a.node) or self.is_ended(b.node)) \
                    and not _broadcastable(la, lb):
                return self.opaque([a, b], f"{name} of maps arranged differently", node, name)
            return self.add_node(Merge(kind), [a.node, b.node], name, node, layout=out)  # type: ignore[arg-type]
        if ta or tb:
            t, other = (a, b) if ta else (b, a)
            if isinstance(other, Unknown):
                other_t = self.as_tensor(other, node)
                return self.add_node(Merge(kind), [t.node, other_t.node], name, node, layout=t.layout)  # type: ignore[union-attr]
            constant = self.constant_operand(t, other, node)
            if constant is not None:  # a position embedding, a coordinate grid
                return self.add_node(Merge(kind), [t.node, constant.node], name, node, layout=t.layout)
            return t
        return self.unknown(f"{name} of values that are not known", node)

    def constant_operand(self, x: TensorValue, value: Any, node: ast.AST) -> TensorValue | None:
        """A Constant node for a parameter or constant tensor combined with ``x`` whose shape
        varies along a dimension where ``x`` holds positions (a position embedding, a
        coordinate grid); None for one that does not (a per-channel scale, a number)."""
        shape = consttensor.shape_of(value)
        if not shape:
            return None
        layout = self.layout_of(x)
        for size, dim in zip(reversed(shape), reversed(layout)):
            if size > 1 and (lay.spatial_factors(dim) or dim.extra):
                return self.add_node(Constant(), [0], "constant", node, {"constant": True})
        return None

    # ------------------------------------------------------------------ sizes

    def _upstream_first(self, nid: int, cache: dict[int, Any], compute: Callable[[int], Any]) -> None:
        """Fill ``cache`` for the nodes ``nid`` depends on, sources first, without recursion:
        a deep network (ResNet-50x64, thousands of nodes in a chain) would exceed Python's
        recursion limit walking back one input at a time."""
        assert self.builder is not None
        stack, order, seen = [nid], [], set()
        while stack:
            n = stack.pop()
            if n in cache or n in seen:
                continue
            seen.add(n)
            order.append(n)
            node = self.builder.node(n)
            stack.extend(node.inputs)
            like = getattr(node.op, "like", None)
            if isinstance(like, int):
                stack.append(like)
        for n in sorted(order[1:]):  # node ids grow along edges: a source is computed before its users
            if n not in cache:
                compute(n)

    def map_sizes(self, nid: int) -> tuple[int | None, ...]:
        """The spatial sizes of node ``nid``'s map (None where not known)."""
        if nid in self.sizes:
            return self.sizes[nid]
        assert self.builder is not None
        self._upstream_first(nid, self.sizes, self.map_sizes)
        node = self.builder.node(nid)
        if not node.inputs:
            sizes = self.input_size if self.input_size is not None else (None,) * self.ndim
        elif isinstance(node.op, Merge):
            # The map's sizes, not those of a pooled gate broadcast into it (SwiftFormer's
            # additive attention sums the tokens to one before multiplying them back).
            maps = [i for i in node.inputs if not self.is_ended(i)] or list(node.inputs)
            known = [self.map_sizes(i) for i in maps]
            sizes = next((s for s in known if all(v is not None for v in s)), known[0])
        elif isinstance(node.op, Resample) and node.op.like is not None:
            sizes = self.map_sizes(node.op.like)
        elif isinstance(node.op, (Opaque,)):
            sizes = (None,) * self.ndim
        else:
            source = self.map_sizes(node.inputs[0])
            try:
                sizes = out_sizes(node, source, self.ndim)[0] if node.op.spatial_ndim in (None, self.ndim) else (None,) * self.ndim
            except (ValueError, ZeroDivisionError, IndexError):
                sizes = (None,) * self.ndim
            sizes = tuple(s if s is None or s > 0 else None for s in sizes)
        self.sizes[nid] = sizes
        return sizes

    def dim_sizes(self, x: TensorValue) -> list[lay.Size]:
        sizes = self.map_sizes(x.node)
        return [lay.dim_size(d, sizes) for d in self.layout_of(x)]

    def shape_of(self, x: TensorValue) -> tuple[Any, ...]:
        """``x.shape``: per dimension a size that knows what it counts (and its number when
        the input size is configured)."""
        sizes = self.map_sizes(x.node)
        return tuple(size_value(s, x.node, lay.concrete(s, sizes)) for s in self.dim_sizes(x))

    def mix(self, x: TensorValue | list[TensorValue], windows: tuple[int | None, ...], node: ast.AST, name: str,
            out_layout: Layout | None) -> TensorValue:
        """Mixing within windows (or globally) of one or more tensors of the same positions."""
        xs = x if isinstance(x, list) else [x]
        inputs = list(dict.fromkeys(t.node for t in xs))
        pooled = self._pooled_queries(inputs, windows)
        if pooled is not None:
            return self._mix_pooled_queries(inputs, pooled, windows, node, name, out_layout)
        windows = _whole_axis_global(windows, self.map_sizes(inputs[0]))
        if any(w is None for w in windows):
            inputs = inputs[:1]  # global: every output reads every key, whatever their jump; the frame ends
        if len(inputs) > 1:
            merged = self.add_node(Merge("mul"), inputs, name, node)
            inputs = [merged.node]
        op = Mix(tuple(windows), (0,) * len(windows))
        return self.add_node(op, inputs, name, node, layout=out_layout)

    def _pooled_queries(self, inputs: list[int], windows: tuple[int | None, ...]) -> tuple[int, ...] | None:
        """Per axis, how many key positions one query covers, when the queries (the first
        input) are the keys' map pooled by whole numbers that divide every window (Hiera's
        mask-unit attention with q pooling); None otherwise. Needs the sizes as numbers."""
        if len(inputs) < 2 or any(w is None for w in windows):
            return None
        queries = self.map_sizes(inputs[0])
        keys = {self.map_sizes(i) for i in inputs[1:]}
        if len(keys) != 1:
            return None
        (fine,) = keys
        if not all(isinstance(n, int) and n > 0 for n in queries + fine):
            return None
        ratio = tuple(f // q for f, q in zip(fine, queries))
        if any(f % q or w % r for f, q, w, r in zip(fine, queries, windows, ratio)) or all(r == 1 for r in ratio):  # type: ignore[operator]
            return None
        return ratio

    def _mix_pooled_queries(self, inputs: list[int], ratio: tuple[int, ...], windows: tuple[int | None, ...],
                            node: ast.AST, name: str, out_layout: Layout | None) -> TensorValue:
        """Queries pooled by ``ratio`` over keys mixed within windows: each query reads the
        window (in the keys' positions) that holds its pooled block, so the keys are mixed
        at their resolution, then taken at the queries' grid, then met with the queries."""
        keys = inputs[1:]
        key = keys[0] if len(keys) == 1 else self.add_node(Merge("mul"), keys, name, node).node
        windows = _whole_axis_global(windows, self.map_sizes(key))
        mixed = self.add_node(Mix(tuple(windows), (0,) * len(windows)), [key], name, node)
        n = len(ratio)
        at_queries = self.add_node(Window("avg_pool", (1,) * n, ratio, (1,) * n, ((0, 0),) * n), [mixed.node],
                                   "subsample", node)
        return self.add_node(Merge("mul"), [inputs[0], at_queries.node], name, node, layout=out_layout)


def _whole_axis_global(windows: tuple[int | None, ...], sizes: tuple[int | None, ...]) -> tuple[int | None, ...]:
    """A window as large as the map (Swin's last stage) mixes the whole axis: global."""
    return tuple(None if w is not None and w > 1 and n is not None and w >= n else w for w, n in zip(windows, sizes))


def _broadcastable(a: Layout, b: Layout) -> bool:
    """Whether two arrangements put the same positions in the same places (dimensions of
    size one broadcast: an SE gate's (N, C, 1, 1) against a map)."""
    pa = [d for d in a if lay.spatial_factors(d)]
    pb = [d for d in b if lay.spatial_factors(d)]
    if pa == pb:
        return True
    for da, db in zip(reversed(a), reversed(b)):  # aligned from the last dimension, as torch broadcasts
        if not (da.factors or da.extra) or not (db.factors or db.extra):
            continue
        if (lay.spatial_factors(da) or lay.spatial_factors(db)) and (da.factors, da.extra) != (db.factors, db.extra):
            return False
    return True


def is_size(value: Any) -> bool:
    return isinstance(value, (SizeValue, SymSize))


__all__ = ["Tensors", "ParamValue", "is_size"]
