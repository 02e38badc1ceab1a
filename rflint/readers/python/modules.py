"""``torch.nn`` at run time: building layers and containers, and applying modules
to symbolic tensors (``forward``), which appends nodes to the graph.
"""

from __future__ import annotations

import ast
from typing import Any, Iterator

from ...ir import Opaque, Pointwise, Window
from . import attention, tensor_ops, tensor_shape
from . import layout as lay
from .tensor_ops import as_map
from .control import (
    Scope,
)
from .torch_nn import LAYERS, BadArgument, LayerSpec, UnknownArgument, canonical_nn_name
from .consttensor import ConstTensor
from .values import (
    ParamValue,
    ContainerValue,
    LayerValue,
    ModuleInstance,
    TensorValue,
    Unknown,
)


class Modules:
    """Layers and containers, built and applied. A part of :class:`Evaluator`."""

    def construct_layer(self, spec: LayerSpec, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> LayerValue:
        self.built += 1
        name = spec.name
        attrs: dict[str, Any] = self.call_spans(node, spec.params)
        bound: dict[str, Any] = {}
        try:
            bound = spec.bind(args, kwargs)
            op, extra = spec.build(bound, spec.ndim)
            attrs.update(extra)
        except UnknownArgument as exc:
            op = Opaque(f"{name}: {exc}")
        except BadArgument as exc:
            self.fail("TypeError", f"{name}: {exc}", node)
            op = Opaque(f"{name}: {exc}")
        return LayerValue(name, op, self.loc(node), attrs, bound=bound)

    def _sequential_children(self, args: list[Any], node: ast.AST) -> dict[str, Any] | Unknown:
        if len(args) == 1 and isinstance(args[0], dict):
            return {str(k): v for k, v in args[0].items()}
        return {str(i): a for i, a in enumerate(args)}

    def _container(self, kind: str, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        if kind == "Sequential":
            children = self._sequential_children(args, node)
        else:
            items = args[0] if args else kwargs.get("modules", [])
            if items is None:
                items = []
            if kind == "ModuleDict":
                children = {str(k): v for k, v in items.items()} if isinstance(items, dict) else self.unknown(
                    "ModuleDict of items that are not known", node)
            else:
                seq = self.iterate(items, node)
                children = {str(i): v for i, v in enumerate(seq)} if not isinstance(seq, Unknown) else seq
        if isinstance(children, Unknown):
            return children
        return ContainerValue(kind, children, self.loc(node))

    def apply_module(self, module: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        if isinstance(module, LayerValue):
            if not args:
                return self.unknown(f"{module.type_name} called without an input", node)
            if isinstance(args[0], (ConstTensor, ParamValue)):
                # A layer on a constant (a position encoding projected by a conv): still a
                # constant, whose values depend on the weights.
                return ParamValue(f"{module.type_name} of a constant")
            x = self.as_tensor(args[0], node)
            if isinstance(x, Unknown):
                return x
            self.applied.add(id(module))
            return self._apply_layer(module, x, args, kwargs, node)
        if isinstance(module, ContainerValue):
            if module.kind != "Sequential":
                return self.unknown(f"{module.kind} is not callable", node)
            return self._chain(list(module.children.values()), args, node)
        if isinstance(module, ModuleInstance):
            for why in module.taint:
                self.report(why.reason, why.loc)
            if "forward" in module.attrs:  # self.forward = self.forward_slicing
                return self.call(module.attrs["forward"], args, kwargs, node)  # type: ignore[arg-type]
            forward = module.cls.lookup("forward")
            if forward is None:
                if module.children:
                    return self._chain(list(module.children.values()), args, node)
                layer = self._as_layer(module)
                if layer is not None:  # class Conv3DSimple(nn.Conv3d) with only an __init__
                    return self.apply_module(layer, args, kwargs, node)
                return self.unknown(f"{module.cls.name} has no forward that rflint can see", node)
            owner = next(c for c in module.cls.mro() if forward in c.node.body)
            func = self._define_function(forward, Scope(owner.module.globals), owner)  # type: ignore[arg-type]
            return self.call_function(func, args, kwargs, node, module)
        return self.unknown("not a module", node)

    def _apply_layer(self, module: LayerValue, x: TensorValue, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        """A modelled layer on a tensor, wherever its positions are: a linear layer maps the
        last dimension (channels-last features: a 1x1 conv; positions: token mixing), a
        pointwise layer keeps the arrangement, and the others read a map."""
        name, op, layout = module.type_name, module.op, self.layout_of(x)
        if name == "MultiheadAttention":
            return attention.multihead(self, module, args, kwargs, node)
        if name in ("Linear", "LazyLinear") and x.layout is not None and lay.has_positions(layout):
            features = module.bound.get("out_features")
            return attention.linear_over(self, x, len(layout) - 1, node, name, module.attrs, module.loc, module.path,
                                         features if isinstance(features, int) and not isinstance(features, bool) else None)
        if name == "Unfold":
            return tensor_ops.unfolded(self, x, module.op, node, name, module.attrs, module.path, module.loc)
        if name == "Flatten" and x.layout is not None:
            return tensor_shape.relaid(self, x, lay.flatten(layout, module.bound.get("start_dim", 1), module.bound.get("end_dim", -1)),
                                       node, name, targets=None)
        if isinstance(op, Pointwise) or not lay.has_positions(layout):
            out = self.add_node(op, [x.node], name, None, module.attrs, module.path, module.loc, layout=x.layout)
        elif x.layout is not None and _pointwise_window(op) and len(layout) >= 3 and not lay.spatial_factors(layout[1]):
            # A 1x1 conv reads one position: it mixes the channels (dimension 1) however the
            # other dimensions hold the positions (MobileViT-v2's patches; EfficientViM's
            # Conv1d over flattened tokens, which is a pointwise op on this map).
            out_c = module.attrs.get("out_channels")
            channels = lay.Dim((lay.Factor("C", count=out_c) if isinstance(out_c, int) else lay.Factor("C", key=("conv", id(module))),))
            new = (layout[0], channels) + layout[2:]
            used = op if op.spatial_ndim == self.ndim else Pointwise()
            out = self.add_node(used, [x.node], name, None, module.attrs, module.path, module.loc, layout=new)
        elif isinstance(op, Window) and x.layout is not None and not lay.is_standard(layout, self.ndim) \
                and (folded := _folded_map(op, layout, self.ndim)) is not None:
            # Heads or windows folded into the batch: the layer reads each as a map and the
            # result keeps them there; a conv sets the channels, a pooling keeps them.
            out_c = module.attrs.get("out_channels")
            channels = folded[1] if op.kind != "conv" else \
                lay.Dim((lay.Factor("C", count=out_c) if isinstance(out_c, int) else lay.Factor("C", key=("conv", id(module))),))
            new = (folded[0], channels) + folded[2:]
            out = self.add_node(op, [x.node], name, None, module.attrs, module.path, module.loc, layout=new)
        else:
            x = as_map(self, x, node, name)
            out = self.add_node(op, [x.node], name, None, module.attrs, module.path, module.loc,
                                layout=tensor_ops.channels_kept(op, x))
        if module.bound.get("return_indices") is True:
            return (out, Unknown("pooling indices are not modelled"))
        return out

    def _as_layer(self, module: ModuleInstance) -> LayerValue | None:
        """A user subclass of a modelled layer that keeps the layer's forward: the layer,
        built from the arguments its ``super().__init__`` received."""
        for base in module.cls.external_bases():
            name = canonical_nn_name(base)
            if name in LAYERS:
                spec = LAYERS[name]
                bound = {p: module.attrs[p] for p in spec.params if p in module.attrs}
                try:
                    op, attrs = spec.build(bound, spec.ndim)
                except (BadArgument, KeyError) as exc:
                    op, attrs = Opaque(f"{module.cls.name}: {exc}"), {}
                layer = LayerValue(module.cls.name, op, module.loc, attrs, module.path, bound)
                return layer
        return None

    def _chain(self, modules: list[Any], args: list[Any], node: ast.AST) -> Any:
        x: Any = args[0] if args else self.unknown("Sequential called without an input", node)
        for m in modules:
            x = self.call(m, [x], {}, node)  # type: ignore[arg-type]
        return x

    def iter_layers(self, value: Any, seen: set[int] | None = None) -> Iterator[tuple[LayerValue, ContainerValue | None]]:
        """Every layer below a module, with the Sequential that holds it (if any)."""
        seen = seen if seen is not None else set()
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, LayerValue):
            yield value, None
        elif isinstance(value, ContainerValue):
            for child in value.children.values():
                for layer, parent in self.iter_layers(child, seen):
                    yield layer, parent if parent is not None or value.kind != "Sequential" else value
        elif isinstance(value, ModuleInstance):
            for child in [*value.attrs.values(), *value.children.values()]:
                yield from self.iter_layers(child, seen)
        elif isinstance(value, (list, tuple)):
            for child in value:
                yield from self.iter_layers(child, seen)
        elif isinstance(value, dict):
            for child in value.values():
                yield from self.iter_layers(child, seen)


def _pointwise_window(op: Any) -> bool:
    """A conv or pool that reads exactly its own position (kernel 1, stride 1, no padding)."""
    return isinstance(op, Window) and all(k == 1 for k in op.kernel) and all(s == 1 for s in op.stride) \
        and all(p == (0, 0) for p in op.padding)


def _folded_map(op: Window, layout: lay.Layout, ndim: int) -> lay.Layout | None:
    """The layout of ``op``'s output on a map with more than the batch in its first
    dimension: heads (any window op; MViTv2's pooled queries) or windows of the map (an op
    that stays inside each window: kernel = stride, no padding; SAM2-Hiera's q pooling).
    None when ``op`` cannot read it so."""
    if lay.batched_map(layout, ndim):
        return layout[:2] + tuple(lay.Dim((lay.Factor("S", a),)) for a in range(ndim))
    if op.kernel == op.stride and all(d == 1 for d in op.dilation) and all(p == (0, 0) for p in op.padding):
        return lay.windowed_map(layout, ndim, op.stride)
    return None
