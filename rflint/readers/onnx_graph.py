"""Loading an ONNX file for the reader: parse with caps, inline, order, infer shapes.

What comes out is a :class:`Loaded` model: one flat list of nodes in
topological order (model-local functions and ``If`` nodes with a constant
condition inlined, every node keeping a :class:`NodeRef` to the node of the
file's graph it came from), the initializers (small ones as values, the rest
by shape only), the model inputs, the outputs and the inferred shape of every
value. Everything wrong with the file is a :class:`BadModel` whose message
names the node, attribute or value, so the reader can turn it into one RL001.

Why the care:

- ``onnx.load_from_string`` on the bytes, never ``onnx.load(path)``: loading
  by path resolves external data, which reads arbitrary files next to the
  model and can be gigabytes. External initializers are kept by shape only.
- Shape inference runs on a skeleton: the nodes, the small initializers, and
  every large initializer turned into a typed graph input. Inference needs
  only the shapes of weights, and serialising 100 MB of weights into the C++
  inference and back would cost more than the whole read.
- The graph is ordered here (Kahn) rather than trusted: ONNX requires
  topological order, but a file that breaks it, has a cycle, or reads a value
  nothing produces must give a clear error, not a confused read.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir import NodeRef
from .onnx_fold import MAX_ELEMENTS

MAX_FILE_BYTES = (1 << 31) - 1
"""Protobuf cannot parse a message of 2 GiB or more; larger files are refused up front."""
MAX_DEPTH = 16
"""Nesting of function calls and inlined ``If`` branches followed before giving up."""
MAX_NODES = 1 << 20
"""Nodes after inlining (a recursive function would otherwise expand without end)."""

DEFAULT_DOMAINS = ("", "ai.onnx")


class BadModel(Exception):
    """The file cannot be read as a model; the message names where (node, attribute, value)."""


@dataclass
class OnnxNode:
    """One node to map, after inlining: the proto's fields with values renamed, and
    where it is in the file (``ref``)."""

    op_type: str
    domain: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    ref: NodeRef
    proto: Any = field(repr=False, default=None)  # the original NodeProto (subgraphs of If/Loop)
    inlined: bool = False  # from a function body or an If branch: attributes were resolved

    def __str__(self) -> str:
        return f"node {self.ref}"


@dataclass
class Loaded:
    """A parsed, flattened, ordered and shape-inferred model."""

    name: str
    opset: int
    nodes: list[OnnxNode]
    inputs: list[str]  # model inputs: graph inputs that are not initializers
    outputs: list[str]
    constants: dict[str, np.ndarray | None]  # initializers: the value when small and stored inline
    shapes: dict[str, tuple[int | None, ...]]  # inferred shapes (rank known), by value name
    elem_types: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- parsing


def parse(data: bytes) -> Any:
    """The ModelProto in ``data``; BadModel when it is empty, too large or not a model."""
    import onnx
    from google.protobuf.message import DecodeError

    if not data:
        raise BadModel("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise BadModel(f"the file is {len(data)} bytes, over protobuf's 2 GiB limit for one message")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError, TypeError) as exc:
        raise BadModel(f"not an ONNX model (protobuf parse failed: {str(exc) or type(exc).__name__})") from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.input):
        raise BadModel("not an ONNX model: no graph (is this an ONNX file, or was it truncated?)")
    return model


def default_opset(model: Any) -> int:
    """The version of the default (``ai.onnx``) operator set the model imports."""
    for op in model.opset_import:
        if op.domain in DEFAULT_DOMAINS:
            return int(op.version)
    if model.ir_version and model.ir_version < 3:
        return 1
    raise BadModel("the model imports no version of the default ONNX operator set (opset_import)")


# --------------------------------------------------------------------------- initializers


def _expected_bytes(tensor: Any) -> int | None:
    from onnx import helper

    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
    except (KeyError, TypeError, ValueError):
        return None
    if dtype.kind in "OUS":
        return None
    return int(np.prod([int(d) for d in tensor.dims], dtype=object)) * dtype.itemsize


def _typed_count(tensor: Any) -> int:
    return max(len(tensor.float_data), len(tensor.int32_data), len(tensor.int64_data), len(tensor.double_data),
               len(tensor.uint64_data), len(tensor.string_data))


def check_initializer(tensor: Any) -> None:
    """Dims non-negative and the stored data as long as they say (without decoding it)."""
    from onnx import TensorProto

    dims = [int(d) for d in tensor.dims]
    if any(d < 0 for d in dims):
        raise BadModel(f"initializer {tensor.name!r} has a negative dimension {dims}")
    if tensor.data_location == TensorProto.EXTERNAL:
        return  # never loaded: only its shape is used
    count = int(np.prod(dims, dtype=object)) if dims else 1
    if tensor.HasField("raw_data"):
        want = _expected_bytes(tensor)
        if want is not None and want != len(tensor.raw_data):
            raise BadModel(f"initializer {tensor.name!r} of shape {dims} needs {want} bytes but holds "
                           f"{len(tensor.raw_data)} (truncated or corrupt)")
    elif count and _typed_count(tensor) not in (count, 2 * count):  # complex types store pairs
        raise BadModel(f"initializer {tensor.name!r} of shape {dims} holds {_typed_count(tensor)} values")


def initializer_value(tensor: Any) -> np.ndarray | None:
    """The value of a small initializer stored inline; None for large or external ones."""
    from onnx import TensorProto, numpy_helper

    if tensor.data_location == TensorProto.EXTERNAL:
        return None
    count = int(np.prod([int(d) for d in tensor.dims], dtype=object)) if tensor.dims else 1
    if count > MAX_ELEMENTS:
        return None
    try:
        return numpy_helper.to_array(tensor)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise BadModel(f"initializer {tensor.name!r} cannot be decoded: {exc}") from None


# --------------------------------------------------------------------------- inlining


def _attrs(proto: Any, bindings: dict[str, Any] | None = None) -> dict[str, Any]:
    """A node's attributes as Python values; inside a function, ``ref_attr_name``
    attributes take the caller's value (or are left out, for the op's default)."""
    from onnx import helper

    out: dict[str, Any] = {}
    for a in proto.attribute:
        if a.ref_attr_name:
            if bindings is not None and a.ref_attr_name in bindings:
                out[a.name] = bindings[a.ref_attr_name]
            continue
        try:
            out[a.name] = helper.get_attribute_value(a)
        except (ValueError, TypeError) as exc:
            raise BadModel(f"node {proto.name!r} ({proto.op_type}): attribute {a.name!r} cannot be read: {exc}") from None
    return out


class _Inliner:
    """Expands model-local function calls and ``If`` nodes whose condition is a constant."""

    def __init__(self, model: Any, constants: dict[str, Any]) -> None:
        self.functions = {(f.domain, f.name): f for f in model.functions}
        self.constants = constants  # initializer values and Constant outputs seen so far (for If)
        self.branch_initializers: dict[str, Any] = {}  # initializers of inlined If branches, renamed
        self.out: list[OnnxNode] = []
        self.counter = 0

    def fresh(self, prefix: str, name: str) -> str:
        self.counter += 1
        return f"{prefix}/{name}#{self.counter}"

    def expand(self, protos: Iterable[Any], rename: dict[str, str], outer: NodeRef | None, depth: int,
               bindings: dict[str, Any] | None = None, scope: str = "") -> None:
        if depth > MAX_DEPTH:
            raise BadModel(f"{outer}: functions or branches nested more than {MAX_DEPTH} deep (recursive?)")
        for index, proto in enumerate(protos):
            if len(self.out) > MAX_NODES:
                raise BadModel(f"more than {MAX_NODES} nodes after inlining functions (recursive?)")
            ref = outer if outer is not None else NodeRef(proto.name, proto.op_type, index)
            if outer is not None:
                ref = NodeRef(f"{outer.name}/{proto.name}" if proto.name else outer.name, proto.op_type, outer.index)
            attrs = _attrs(proto, bindings)
            key = (proto.domain, proto.op_type)
            if key in self.functions and proto.domain not in DEFAULT_DOMAINS:
                self.call(proto, attrs, rename, ref, depth, scope)
                continue
            inputs = [rename.get(v, v) if v else "" for v in proto.input]
            if proto.op_type == "If" and proto.domain in DEFAULT_DOMAINS and self.branch(proto, attrs, inputs, rename, ref, depth, scope):
                continue
            outputs = [self.local(v, rename, scope) for v in proto.output]
            node = OnnxNode(proto.op_type, proto.domain, proto.name, inputs, outputs, attrs, ref, proto, outer is not None)
            if proto.op_type == "Constant" and outputs and outputs[0]:
                self.constants.setdefault(outputs[0], attrs)
            self.out.append(node)

    def local(self, name: str, rename: dict[str, str], scope: str) -> str:
        if not name:
            return ""
        if name in rename:
            return rename[name]
        if scope:
            rename[name] = self.fresh(scope, name)
            return rename[name]
        return name

    def call(self, proto: Any, attrs: dict[str, Any], rename: dict[str, str], ref: NodeRef, depth: int, scope: str) -> None:
        fn = self.functions[(proto.domain, proto.op_type)]
        bindings = {a.name: _attr_default(a) for a in fn.attribute_proto}
        bindings.update(attrs)
        inner: dict[str, str] = {}
        for formal, actual in zip(fn.input, proto.input):
            inner[formal] = rename.get(actual, actual) if actual else ""
        for formal, actual in zip(fn.output, proto.output):
            inner[formal] = self.local(actual, rename, scope) if actual else self.fresh(ref.name, formal)
        call_scope = self.fresh(ref.name or proto.op_type, "fn")
        self.expand(fn.node, inner, ref, depth + 1, bindings, call_scope)

    def branch(self, proto: Any, attrs: dict[str, Any], inputs: list[str], rename: dict[str, str], ref: NodeRef,
               depth: int, scope: str) -> bool:
        """Inline the branch an ``If`` takes when its condition is a constant; False otherwise."""
        cond = self.constant_value(inputs[0] if inputs else "")
        if cond is None or cond.size != 1:
            return False
        graph = attrs.get("then_branch" if bool(cond.reshape(-1)[0]) else "else_branch")
        if graph is None or len(graph.output) != len(proto.output):
            return False
        inner = dict(rename)  # the branch sees the enclosing scope
        branch_scope = self.fresh(ref.name or "If", "branch")
        for init in graph.initializer:
            check_initializer(init)
            inner[init.name] = self.fresh(branch_scope, init.name)
            self.constants[inner[init.name]] = initializer_value(init)
            self.branch_initializers[inner[init.name]] = init
        before = len(self.out)
        self.expand(graph.node, inner, ref, depth + 1, None, branch_scope)
        for formal, actual in zip(graph.output, proto.output):
            src = inner.get(formal.name, formal.name)
            target = self.local(actual, rename, scope)
            self.out.append(OnnxNode("Identity", "", proto.name, [src], [target], {}, ref, None, True))
        return len(self.out) >= before

    def constant_value(self, name: str) -> np.ndarray | None:
        v = self.constants.get(name)
        if isinstance(v, dict):
            from .onnx_ops import constant_attr_value  # the Constant node's value

            try:
                return constant_attr_value(v)
            except BadModel:
                return None
        return v if isinstance(v, np.ndarray) else None


def _attr_default(a: Any) -> Any:
    from onnx import helper

    try:
        return helper.get_attribute_value(a)
    except (ValueError, TypeError):
        return None


# --------------------------------------------------------------------------- order and shapes


def order(nodes: list[OnnxNode], available: set[str]) -> list[OnnxNode]:
    """The nodes in topological order. BadModel for a value read but never produced,
    a value produced twice, or a cycle (naming a node on it)."""
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for v in n.outputs:
            if not v:
                continue
            if v in producer or v in available:
                first = nodes[producer[v]].ref if v in producer else "a graph input or initializer"
                raise BadModel(f"{n}: output {v!r} is also produced by {first} (a value has one producer)")
            producer[v] = i
    indegree = [0] * len(nodes)
    readers: dict[int, list[int]] = {}
    for i, n in enumerate(nodes):
        for v in _reads(n):
            if v in available:
                continue
            if v not in producer:
                raise BadModel(f"{n}: input {v!r} is never produced (not a graph input, initializer or node output)")
            indegree[i] += 1
            readers.setdefault(producer[v], []).append(i)
    queue = deque(i for i in range(len(nodes)) if indegree[i] == 0)
    out: list[OnnxNode] = []
    while queue:
        i = queue.popleft()
        out.append(nodes[i])
        for j in readers.get(i, ()):
            indegree[j] -= 1
            if indegree[j] == 0:
                queue.append(j)
    if len(out) < len(nodes):
        stuck = next(nodes[i] for i in range(len(nodes)) if indegree[i] > 0)
        raise BadModel(f"the graph has a cycle: {stuck} depends on its own output")
    return out


def _reads(n: OnnxNode) -> list[str]:
    """Values a node reads: its inputs, and the outer values its subgraphs capture."""
    reads = [v for v in n.inputs if v]
    for key in ("then_branch", "else_branch", "body"):
        graph = n.attrs.get(key)
        if graph is not None:
            reads.extend(captured(graph))
    return reads


def captured(graph: Any) -> list[str]:
    """Names a subgraph reads from the enclosing scope."""
    local = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    out: list[str] = []
    for node in graph.node:
        for v in node.input:
            if v and v not in local:
                out.append(v)
        for a in node.attribute:
            if a.g is not None and a.HasField("g"):
                out.extend(v for v in captured(a.g) if v not in local)
        local.update(node.output)
    return list(dict.fromkeys(out))


def fold_constants(nodes: list[OnnxNode], constants: dict[str, Any], shapes: dict[str, tuple]) -> dict[str, Any]:
    """Values of node outputs computable from constants and static shapes (``Shape``
    of a feature map whose shape inference gave), by name: what exporters compute
    Resize sizes, Slice bounds and Reshape targets with."""
    from .onnx_fold import FoldError, fold
    from .onnx_ops import constant_attr_value

    known: dict[str, Any] = {k: v for k, v in constants.items() if v is not None}
    out: dict[str, Any] = {}
    for n in nodes:
        if n.domain not in DEFAULT_DOMAINS or not n.outputs or not n.outputs[0]:
            continue
        value = None
        try:
            if n.op_type == "Constant":
                value = constant_attr_value(n.attrs)
            elif n.op_type in ("Shape", "Size") and n.inputs:
                shape = shapes.get(n.inputs[0])
                if shape is not None and all(d is not None for d in shape):
                    if n.op_type == "Size":
                        value = np.asarray(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
                    else:
                        dims = list(shape)[slice(int(n.attrs.get("start", 0)), int(n.attrs.get("end", len(shape))))]
                        value = np.asarray(dims, dtype=np.int64)
            elif all(not v or v in known for v in n.inputs):
                value = fold(n.op_type, n.attrs, [known[v] if v else None for v in n.inputs])
        except (BadModel, FoldError):
            value = None
        if value is not None:
            known[n.outputs[0]] = out[n.outputs[0]] = value
    return out


def infer_shapes(model: Any, nodes: list[OnnxNode], small: dict[str, Any], extra: dict[str, Any],
                 folded: dict[str, Any] | None = None) -> tuple[dict[str, tuple], dict[str, int]]:
    """Shapes (rank known; a dim is an int or None) and element types of every value
    onnx's shape inference can type, run on a skeleton of the flattened graph.
    ``folded`` values replace the nodes that computed them (as initializers), which
    lets inference through the shape arithmetic it does not propagate itself."""
    import onnx
    from onnx import helper, numpy_helper

    folded = dict(folded or {})

    graph = model.graph
    skeleton = helper.make_graph([], graph.name or "g", [], [])
    seen: set[str] = set()
    for vi in graph.input:
        if vi.name not in seen:
            skeleton.input.append(vi)
            seen.add(vi.name)
    for t in graph.initializer:
        if t.name in small:
            skeleton.initializer.append(t)
        elif t.name not in seen:
            skeleton.input.append(helper.make_tensor_value_info(t.name, t.data_type, [int(d) for d in t.dims]))
            seen.add(t.name)
    for name, t in extra.items():  # initializers of inlined If branches
        renamed = onnx.TensorProto()
        renamed.CopyFrom(t)
        renamed.name = name
        if name in small or initializer_value(t) is not None:
            skeleton.initializer.append(renamed)
        else:
            skeleton.input.append(helper.make_tensor_value_info(name, t.data_type, [int(d) for d in t.dims]))
    for name, value in list(folded.items()):
        try:
            skeleton.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        except (ValueError, TypeError, KeyError):
            del folded[name]  # a type ONNX tensors cannot hold: leave the node to compute it
    for n in nodes:
        if n.outputs and all(not v or v in folded for v in n.outputs):
            continue
        p = onnx.NodeProto()
        if n.proto is not None:
            p.CopyFrom(n.proto)
            del p.input[:]
            del p.output[:]
            if n.inlined:
                del p.attribute[:]
                for k, v in n.attrs.items():
                    try:
                        p.attribute.append(helper.make_attribute(k, v))
                    except (ValueError, TypeError):
                        pass
        else:
            p.op_type, p.domain = n.op_type, n.domain
        p.input.extend(n.inputs)
        p.output.extend(n.outputs)
        skeleton.node.append(p)
    for vi in graph.output:
        skeleton.output.append(vi)
    for vi in graph.value_info:
        skeleton.value_info.append(vi)
    flat = helper.make_model(skeleton, opset_imports=list(model.opset_import))
    try:
        inferred = onnx.shape_inference.infer_shapes(flat, check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001  (inference is a help, not a requirement: go on without it)
        inferred = flat
    shapes: dict[str, tuple] = {}
    types: dict[str, int] = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            continue
        if tt.elem_type:
            types[vi.name] = tt.elem_type
        if tt.HasField("shape"):
            shapes[vi.name] = tuple(int(d.dim_value) if d.HasField("dim_value") else None for d in tt.shape.dim)
    for name, t in [(t.name, t) for t in graph.initializer] + list(extra.items()):
        shapes[name] = tuple(int(d) for d in t.dims)
        types[name] = t.data_type
    return shapes, types


# --------------------------------------------------------------------------- the whole load


def load(path: str, data: bytes) -> Loaded:
    """Parse, check the initializers, inline, order and infer shapes."""
    model = parse(data)
    opset = default_opset(model)
    graph = model.graph
    constants: dict[str, Any] = {}
    small: dict[str, Any] = {}
    for t in graph.initializer:
        check_initializer(t)
        value = initializer_value(t)
        constants[t.name] = value
        if value is not None:
            small[t.name] = t
    for t in graph.sparse_initializer:
        constants[t.values.name] = None
    inputs = [vi.name for vi in graph.input if vi.name not in constants]
    inliner = _Inliner(model, dict(constants))
    inliner.expand(graph.node, {}, None, 0)
    for name, t in inliner.branch_initializers.items():  # If branches inlined above carry their own
        constants[name] = initializer_value(t)
    available = set(constants) | {vi.name for vi in graph.input}
    nodes = order(inliner.out, available)
    produced = {v for n in nodes for v in n.outputs}
    for name in (vi.name for vi in graph.output):
        if name not in available and name not in produced:
            raise BadModel(f"graph output {name!r} is never produced")
    shapes, types = infer_shapes(model, nodes, small, inliner.branch_initializers)
    folded: dict[str, Any] = {}
    for _ in range(4):  # each round may fix shapes that let more arithmetic fold
        more = fold_constants(nodes, constants, shapes)
        if len(more) == len(folded):
            break
        folded = more
        shapes, types = infer_shapes(model, nodes, small, inliner.branch_initializers, folded)
    name = graph.name or os.path.splitext(os.path.basename(path))[0] or "model"
    return Loaded(name, opset, nodes, inputs, [vi.name for vi in graph.output], constants, shapes, types)
