"""The neutral form of a torch graph, and the converter's core (values, nodes, driving).

The two torch doors into rflint produce the same kind of graph: a list of
aten operator calls (``aten.conv2d.default(x, w, b, [2, 2], [1, 1])``) with a
shape for every tensor, the module path that made each call
(``nn_module_stack``) and the source lines that led to it (``stack_trace``).
A ``.pt2`` holds that graph as JSON (``torch_program``); ``torch.export.export``
holds it as an FX graph with FakeTensor values (``torch``); the ``torch.fx``
fallback holds modules (``torch_fx``). Each turns its form into the ``Program``
below, and one ``Converter`` maps it to the IR with the operator table of
``torch_ops``, so the doors can only disagree in where findings point, never
in geometry.

Why a neutral form and not FX nodes: reading a ``.pt2`` must not run torch's
deserialiser (it unpickles and ``sympify``-s strings from the file, see
``readers/torch.py``), so the program reader never has FX nodes to give.

How values are tracked: every tensor is a ``Val``: the IR node it came from
(None for parameters and constants that do not depend on the model input),
its shape, and where the model's spatial axes sit in it (``spatial``; None
once they are gone). Arguments are read by position or by name exactly as
the aten schema orders them (both forms omit trailing defaults), so no
signature table is needed: each handler names the few arguments it reads.
This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..ir import (
    Graph,
    GraphBuilder,
    Location,
    Op,
    Opaque,
    Pointwise,
    Unresolved,
    Window,
)

Dim = int | str
"""A tensor dimension: an int, or a symbolic size by its expression (``s0``)."""
Shape = tuple[Dim, ...]


@dataclass(frozen=True)
class Ref:
    """An argument that is a tensor of the graph, by name."""

    name: str


@dataclass(frozen=True)
class Call:
    """One operator call. ``target`` is ``aten.conv2d.default`` (or ``_operator.getitem``).

    ``outputs`` has one entry per returned value: a tensor name, None (not a
    tensor), or a tuple of names (an op returning a list, as in a ``.pt2``).
    ``out_shapes`` is parallel to it. ``module_stack`` lists (module path,
    class qualified name) from the model down to the innermost module.
    """

    index: int
    name: str
    target: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: tuple[Any, ...]
    out_shapes: tuple[Any, ...]
    module_stack: tuple[tuple[str, str], ...] = ()
    stack_trace: str | None = None


@dataclass
class Program:
    """A whole graph in the neutral form: user inputs, constants (parameters,
    buffers, lifted tensors) with their shapes, the calls in order, user outputs."""

    name: str
    inputs: list[str]
    constants: dict[str, Shape | None]
    calls: list[Call]
    outputs: list[str | None]
    input_shapes: dict[str, Shape | None] = field(default_factory=dict)


Locate = Callable[[Call, bool], Location | None]
"""Where a call's node is (the reader's choice): ``(call, is_module_layer)``."""

BLUR_CLASSES = frozenset({"BlurPool", "BlurPool2d", "BlurPool2D"})
"""Anti-aliasing modules (antialiased_cnns, timm, kornia): their conv is a fixed blur."""


@dataclass
class _Pad:
    """A padding not emitted yet: folded into the conv that reads it, else emitted once."""

    src: Val
    pads: tuple[tuple[int, int], ...]
    mode: str
    call: Call
    node: int | None = None


@dataclass(frozen=True)
class Val:
    node: int | None
    shape: Shape | None
    spatial: tuple[int, ...] | None
    pad: _Pad | None = None

    @property
    def derived(self) -> bool:
        """Depends on the model input (else a parameter or a constant)."""
        return self.node is not None or self.pad is not None


class Unsupported(Exception):
    """A known operator used in a way the IR cannot express; the message says how."""


# --------------------------------------------------------------------------- arguments


class Args:
    """A call's arguments, read by schema position or name (trailing defaults omitted)."""

    def __init__(self, cv: Converter, call: Call) -> None:
        self.cv, self.call = cv, call

    def get(self, i: int, name: str, default: Any = None) -> Any:
        args, kw = self.call.args, self.call.kwargs
        if i < len(args):
            return args[i]
        for n in (name, "input" if name == "self" else "self" if name == "input" else name):
            if n in kw:
                return kw[n]
        return default

    def val(self, i: int = 0, name: str = "self") -> Val | None:
        v = self.get(i, name)
        return self.cv.value(v) if isinstance(v, Ref) else None

    def ints(self, i: int, name: str, n: int, default: Any = None) -> tuple[int, ...]:
        v = self.get(i, name, default)
        if isinstance(v, int) and not isinstance(v, bool):
            return (v,) * n
        if isinstance(v, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            if len(v) == n:
                return tuple(v)
            if len(v) == 1:
                return (v[0],) * n
        raise Unsupported(f"{name} must be {n} integers, got {v!r}")

    def out_shape(self, k: int = 0) -> Shape | None:
        s = self.call.out_shapes[k] if k < len(self.call.out_shapes) else None
        return s if isinstance(s, tuple) and (not s or not isinstance(s[0], tuple)) else None

    @property
    def op(self) -> str:
        return op_name(self.call.target)


def op_name(target: str) -> str:
    """``aten.conv2d.default`` -> ``conv2d``; ``aten.relu_.default`` -> ``relu_``."""
    parts = target.split(".")
    if parts[0] in ("aten", "prims", "_operator", "operator") and len(parts) >= 2:
        return parts[1]
    return parts[-1] if len(parts) > 1 and parts[0] != "aten" else target


# --------------------------------------------------------------------------- the converter


class Converter:
    """Builds one Graph from a Program. ``locate`` decides where each node is."""

    def __init__(self, program: Program, locate: Locate, ops: dict[str, Handler], ignored: frozenset[str]) -> None:
        self.program = program
        self.locate = locate
        self.ops, self.ignored = ops, ignored
        self.builder = GraphBuilder()
        self.env: dict[str, Any] = {}
        self.ndim = 2
        self.opaque = False  # an unknown operator made the frame unknown somewhere

    # ---------------------------------------------------------------- values

    def value(self, ref: Ref) -> Val | None:
        v = self.env.get(ref.name)
        return v if isinstance(v, Val) else None

    def node_of(self, v: Val) -> int:
        """The IR node of a derived value; a pending pad is emitted on first use."""
        if v.node is not None:
            return v.node
        assert v.pad is not None
        p = v.pad
        if p.node is None:
            n = len(p.pads)
            attrs = {"padding_mode": p.mode}
            op = Window("pad", (1,) * n, (1,) * n, (1,) * n, p.pads)
            p.node = self.emit(op, [self.node_of(p.src)], p.call, self.type_name(p.call, "F.pad"), attrs)
        return p.node

    def materialize(self, v: Val) -> Val:
        return v if v.pad is None else Val(self.node_of(v), v.shape, v.spatial)

    # ---------------------------------------------------------------- nodes

    def leaf_class(self, call: Call) -> str | None:
        """The class name of the innermost module when it is a torch.nn layer or a known
        blur (the op is that layer's own computation), else None."""
        if not call.module_stack:
            return None
        qual = call.module_stack[-1][1]
        short = qual.rsplit(".", 1)[-1]
        if qual.startswith("torch.nn.") or short in BLUR_CLASSES:
            return short
        return None

    def blur_class(self, call: Call) -> tuple[str, str] | None:
        """(path, class) of an enclosing anti-aliasing module, if any."""
        for path, qual in reversed(call.module_stack):
            short = qual.rsplit(".", 1)[-1]
            if short in BLUR_CLASSES:
                return path, short
        return None

    def type_name(self, call: Call, default: str) -> str:
        return self.leaf_class(call) or default

    def emit(self, op: Op, inputs: list[int], call: Call, type_name: str, attrs: dict[str, Any] | None = None) -> int:
        leaf = self.leaf_class(call) is not None
        name = module_path(call) if leaf else ""
        return self.builder.add(op, inputs, type_name, name, self.locate(call, leaf), attrs)

    def unresolved(self, call: Call, reason: str) -> None:
        self.builder.unresolved.append(Unresolved(reason, self.locate(call, self.leaf_class(call) is not None)))

    def opaque_node(self, call: Call, sources: list[Val], reason: str, report: bool = True) -> Val:
        """An Opaque node (the frame becomes unknown), reported with the reason."""
        if report:
            self.unresolved(call, reason)
        self.opaque = True
        nid = self.emit(Opaque(reason), [self.node_of(s) for s in sources], call, op_name(call.target))
        a = Args(self, call)
        return Val(nid, a.out_shape(), None)

    # ---------------------------------------------------------------- driving

    def run(self) -> Graph:
        prog = self.program
        image = next((n for n in prog.inputs if len(prog.input_shapes.get(n) or ()) >= 3), None)
        for name in prog.inputs:
            shape = prog.input_shapes.get(name)
            if name == image and shape is not None:
                self.ndim = len(shape) - 2
                attrs = {"out_channels": shape[1]} if isinstance(shape[1], int) else {}
                nid = self.builder.add(Pointwise(), (), "input", name, None, attrs)
                self.env[name] = Val(nid, shape, tuple(range(2, len(shape))))
            else:
                self.env[name] = Val(None, shape, None)
        if image is None:
            self.builder.input()
        for name, shape in prog.constants.items():
            self.env[name] = Val(None, shape, None)
        for call in prog.calls:
            self.step(call)
        outputs: list[tuple[str, int]] = []
        user = [o for o in prog.outputs if o is not None]
        for k, name in enumerate(user):
            v = self.env.get(name)
            if isinstance(v, Val) and v.derived:
                outputs.append(("output" if len(user) == 1 else f"output[{k}]", self.node_of(v)))
        return self.builder.build(prog.name, outputs, self.ndim, complete=not self.opaque and bool(outputs))

    def step(self, call: Call) -> None:
        name = op_name(call.target)
        handler = self.ops.get(name) or self.ops.get(name.rstrip("_"))
        a = Args(self, call)
        vals = [v for v in flat_vals(self, call) if v is not None]
        try:
            if handler is not None:
                result = handler(self, a)
            elif name in self.ignored or not vals:
                result = constant(a) if any(_flat_names(call.outputs)) else None
            else:
                result = self.unknown(call, a, vals)
        except Unsupported as exc:
            derived = [v for v in vals if v.derived]
            if not derived:
                result = constant(a)
            else:
                result = self.opaque_node(call, derived[:1], f"{name}: {exc}")
        self.assign(call, result)

    def unknown(self, call: Call, a: Args, vals: list[Val]) -> Any:
        """An operator the table does not know: Opaque on spatial tensors, reported by name."""
        derived = [v for v in vals if v.derived]
        if not derived:
            return constant(a)
        target = call.target
        if any(v.spatial is not None for v in derived):
            return self.opaque_node(call, derived, f"operator {target} is not modelled (the frame is unknown after it)")
        self.unresolved(call, f"operator {target} is not modelled (after the spatial part; ignored)")
        return replace(derived[0], shape=a.out_shape())

    def assign(self, call: Call, result: Any) -> None:
        outs = call.outputs
        if result is None:
            return
        if len(outs) == 1 and isinstance(outs[0], str):
            self.env[outs[0]] = result
            return
        items = result if isinstance(result, list) else [result] * len(outs)
        for out, item in zip(outs, items):
            if isinstance(out, str):
                self.env[out] = item
            elif isinstance(out, tuple) and isinstance(item, list):
                for n, v in zip(out, item):
                    if isinstance(n, str):
                        self.env[n] = v


def module_path(call: Call) -> str:
    """``layer1.0.conv1`` of the innermost module (export marks repeated calls ``@1``)."""
    if not call.module_stack:
        return ""
    return call.module_stack[-1][0].split("@", 1)[0]


def _flat_names(outputs: tuple[Any, ...]) -> list[str]:
    out: list[str] = []
    for o in outputs:
        if isinstance(o, str):
            out.append(o)
        elif isinstance(o, tuple):
            out.extend(n for n in o if isinstance(n, str))
    return out


def flat_vals(cv: Converter, call: Call) -> list[Val | None]:
    found: list[Val | None] = []

    def walk(x: Any) -> None:
        if isinstance(x, Ref):
            found.append(cv.value(x))
        elif isinstance(x, (list, tuple)):
            for y in x:
                walk(y)

    for x in call.args:
        walk(x)
    for x in call.kwargs.values():
        walk(x)
    return found


def constant(a: Args) -> Val | list[Val]:
    """Outputs of a call that does not depend on the model input."""
    shapes = a.call.out_shapes
    if len(shapes) == 1 and isinstance(shapes[0], tuple) and shapes[0] and isinstance(shapes[0][0], tuple):
        return [Val(None, s, None) for s in shapes[0]]
    if len(shapes) > 1:
        return [Val(None, s if isinstance(s, tuple) else None, None) for s in shapes]
    return Val(None, a.out_shape(), None)


Handler = Callable[[Converter, Args], Any]
"""An operator's handler: its result (a Val, a list of them, or None for no tensor)."""
