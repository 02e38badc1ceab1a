"""The ``--trace`` fallback: a ``torch.fx.symbolic_trace`` graph in the converter's terms.

When ``torch.export`` cannot trace a model, ``torch.fx`` sometimes can: it
keeps torch.nn layers as whole modules (``call_module``) and records
functions and tensor methods by name. This module rewrites each into the
aten call ``torch.export`` would have made (a ``Conv2d`` module into
``aten.convolution`` with the module's stride, padding and groups; a
``padding_mode`` into the pad ``torch.export`` puts in front), so that the
one converter of ``torch_ops`` reads both. Shapes come from ``ShapeProp``
(one run of the model on the example input). Whatever it cannot map keeps
its own name, and the converter reports it as an unknown operator.
"""

from __future__ import annotations

import operator
from typing import Any

from .torch_graph import Call, Program, Ref

_BINARY = {operator.add: "add.Tensor", operator.iadd: "add.Tensor", operator.sub: "sub.Tensor",
           operator.mul: "mul.Tensor", operator.imul: "mul.Tensor", operator.truediv: "div.Tensor",
           operator.getitem: "getitem"}


def fx_program(torch: Any, gm: Any, name: str) -> Program:
    """The neutral Program of a symbolic-traced GraphModule whose nodes carry
    ``tensor_meta`` (run ``ShapeProp`` first)."""
    nn = torch.nn
    constants: dict[str, Any] = {}
    calls: list[Call] = []
    inputs: list[str] = []
    input_shapes: dict[str, Any] = {}
    outputs: list[str | None] = []
    for index, node in enumerate(gm.graph.nodes):
        shape = _shape(node.meta.get("tensor_meta"))
        trace = node.meta.get("stack_trace")
        if node.op == "placeholder":
            if not inputs:
                inputs.append(node.name)
                input_shapes[node.name] = shape
            else:
                constants[node.name] = shape
            continue
        if node.op == "get_attr":
            constants[node.name] = shape
            continue
        if node.op == "output":
            outs = node.args[0] if isinstance(node.args[0], (list, tuple)) else [node.args[0]]
            outputs = [o.name if hasattr(o, "meta") else None for o in outs]
            continue
        args = tuple(_arg(a) for a in node.args)
        kwargs = {k: _arg(v) for k, v in node.kwargs.items()}
        stack: tuple[tuple[str, str], ...] = ()
        if node.op == "call_module":
            module = gm.get_submodule(node.target)
            cls = type(module)
            stack = ((str(node.target), f"{cls.__module__}.{cls.__qualname__}"),)
            for call in _module(nn, module, str(node.target), node.name, args, constants):
                calls.append(Call(index, call[0], call[1], call[2], {}, (call[0],), (shape,), stack, trace))
            if calls and calls[-1].name != node.name:  # renamed: the last call makes the node's value
                last = calls[-1]
                calls[-1] = Call(last.index, node.name, last.target, last.args, {}, (node.name,), (shape,), stack, trace)
            continue
        target = _function(node, args, kwargs)
        calls.append(Call(index, node.name, target, args, kwargs, (node.name,), (shape,), stack, trace))
    return Program(name, inputs, constants, calls, outputs, input_shapes)


def _shape(meta: Any) -> Any:
    if meta is None:
        return None
    if isinstance(meta, (list, tuple)) and not hasattr(meta, "shape"):
        return tuple(_shape(m) for m in meta)
    shape = getattr(meta, "shape", None)
    return tuple(int(d) for d in shape) if shape is not None else None


def _arg(a: Any) -> Any:
    if hasattr(a, "op") and hasattr(a, "meta"):
        return Ref(a.name)
    if isinstance(a, (list, tuple)):
        return [_arg(x) for x in a]
    if isinstance(a, slice):
        return f"<slice {a.start}:{a.stop}:{a.step}>"
    return a


def _function(node: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if node.op == "call_method":
        name = str(node.target)
    else:
        fn = node.target
        if fn in _BINARY:
            return f"aten.{_BINARY[fn]}"
        name = getattr(fn, "__name__", str(fn))
    if name == "interpolate":
        return "interpolate"
    if name in ("mean", "sum", "amax", "amin") and len(args) < 2 and "dim" not in kwargs:
        return f"aten.{name}.default"
    return f"aten.{name}.fx"


def _module(nn: Any, m: Any, path: str, out: str, args: tuple[Any, ...], constants: dict[str, Any]) -> list[tuple[str, str, tuple[Any, ...]]]:
    """(value name, aten target, args) calls that compute the module, the last one
    producing ``out``."""
    x = args[0] if args else None
    conv = nn.modules.conv
    if isinstance(m, conv._ConvNd):
        weight = f"{path}.weight"
        constants[weight] = tuple(m.weight.shape)
        bias = Ref(weight) if m.bias is not None else None  # only whether there is one matters
        padding: Any = list(m.padding) if not isinstance(m.padding, str) else m.padding
        calls = []
        if m.padding_mode != "zeros" and not m.transposed:
            pad_name = f"{out}__pad"
            calls.append((pad_name, "aten.pad.default", (x, list(m._reversed_padding_repeated_twice), m.padding_mode)))
            x, padding = Ref(pad_name), [0] * len(m.kernel_size)
        calls.append((out, "aten.convolution.default", (x, Ref(weight), bias, list(m.stride), padding,
                                                        list(m.dilation), m.transposed, list(m.output_padding),
                                                        m.groups)))
        return calls
    name = type(m).__name__
    if name.startswith("MaxPool"):
        return [(out, f"aten.max_pool{name[-2]}d.default", (x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode))]
    if name.startswith("AvgPool"):
        return [(out, f"aten.avg_pool{name[-2]}d.default", (x, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                                            m.count_include_pad))]
    if name.startswith(("AdaptiveAvgPool", "AdaptiveMaxPool")):
        size = m.output_size if isinstance(m.output_size, (list, tuple)) else [m.output_size] * int(name[-2])
        return [(out, f"aten.adaptive_{'avg' if 'Avg' in name else 'max'}_pool{name[-2]}d.default", (x, list(size)))]
    if name in ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"):
        mode = {"UpsamplingNearest2d": "nearest", "UpsamplingBilinear2d": "bilinear"}.get(name, m.mode)
        align = True if name == "UpsamplingBilinear2d" else bool(getattr(m, "align_corners", False))
        return [(out, "interpolate", (x, m.size, m.scale_factor, mode, align))]
    if name in ("PixelShuffle", "PixelUnshuffle"):
        factor = m.upscale_factor if name == "PixelShuffle" else m.downscale_factor
        return [(out, f"aten.{name[:5].lower()}_{name[5:].lower()}.default", (x, factor))]
    if name.endswith(("Pad1d", "Pad2d", "Pad3d")):
        mode = {"Reflection": "reflect", "Replication": "replicate", "Circular": "circular"}.get(
            name.split("Pad")[0], "constant")
        return [(out, "aten.pad.default", (x, list(m.padding), mode, float(getattr(m, "value", 0.0))))]
    if "Norm" in name:
        return [(out, "aten.batch_norm.default", (x,))]
    if name in ("Linear", "LazyLinear"):
        weight = f"{path}.weight"
        constants[weight] = tuple(m.weight.shape)
        return [(out, "aten.linear.default", (x, Ref(weight)))]
    if name == "Flatten":
        return [(out, "aten.flatten.using_ints", (x, m.start_dim, m.end_dim))]
    if name in ("Identity",) or name.startswith("Dropout") or m.__class__.__module__.startswith("torch.nn.modules.activation"):
        return [(out, "aten.alias.default", (x,))]
    return [(out, f"module {type(m).__module__}.{name}", args)]
