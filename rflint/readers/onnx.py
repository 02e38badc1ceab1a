"""The ONNX reader: an exported model file into the Graph IR.

``read_onnx(path, data)`` parses the bytes with the ``onnx`` package (no
onnxruntime, no torch), flattens and orders the graph and infers shapes
(``onnx_graph``), then walks the nodes in order, keeping for every value
whether it is a feature map (an IR node, with where its spatial axes are), a
constant, or neither, and maps each node that reads a feature map through the
op table (``onnx_ops``, ``onnx_tensor``). Nodes that only compute on constants
(the ``Shape -> Gather -> Concat`` chains exporters emit for Resize sizes) are
evaluated (``onnx_fold``), so that their values are known where the geometry
needs them.

Every IR node points back at its ONNX node: ``Location(path, 1, 1,
node=NodeRef(name, op_type, index))``, index being the node's position in the
file's graph (a node inlined from a function reports the call's index). The
file's problems are one RL001 error naming the file and the node, attribute
or value; the function never raises, so one bad file does not stop a run. A
node it cannot map is an RL002 (shown on request) and, when it could change
the spatial frame, an ``Opaque`` node: never a silent identity.
"""

from __future__ import annotations

import os
from typing import Any

from ..diagnostics import Diagnostic, Severity
from ..ir import (
    EndSpatial,
    Global,
    GraphBuilder,
    Location,
    Op,
    Opaque,
    Pointwise,
    Unresolved,
)
from .base import PARSE_ERROR, UNRESOLVED, ReadModel, ReadResult
from .onnx_fold import FoldError, fold
from .onnx_graph import DEFAULT_DOMAINS, BadModel, Loaded, OnnxNode, captured, load
from .onnx_ops import Const, Feat, Other, Value, constant_attr_value
from .onnx_tensor import HANDLERS


class _Unresolvable(Exception):
    """A value the geometry needs (pads, scales, slice bounds) is not a constant."""


class _Mapper:
    """Walks a loaded model's nodes and builds the IR; the handlers' context."""

    def __init__(self, path: str, loaded: Loaded) -> None:
        self.path = path
        self.loaded = loaded
        self.opset = loaded.opset
        self.builder = GraphBuilder()
        self.env: dict[str, Value] = {}
        self.ndim = 2
        self.producer: dict[int, OnnxNode] = {}

    # ----------------------------------------------------------------- what handlers read

    def value(self, name: str) -> Value | None:
        return self.env.get(name) if name else None

    def shape(self, name: str) -> tuple[int | None, ...] | None:
        return self.loaded.shapes.get(name) if name else None

    def rank(self, name: str) -> int | None:
        shape = self.shape(name)
        return len(shape) if shape is not None else None

    def array(self, n: OnnxNode, position: int) -> Any:
        """The value of input ``position`` when it is a known constant, else None."""
        v = self.value(n.inputs[position]) if position < len(n.inputs) else None
        return v.value if isinstance(v, Const) else None

    def name_of(self, n: OnnxNode, x: Feat) -> str:
        for name in n.inputs:
            if name and self.env.get(name) is x:
                return name
        return n.inputs[0]

    # ----------------------------------------------------------------- what handlers make

    def bad(self, n: OnnxNode, message: str) -> BadModel:
        return BadModel(f"{n}: {message}")

    def unknown_value(self, n: OnnxNode, position: int) -> _Unresolvable:
        v = self.value(n.inputs[position])
        why = f" ({v.reason})" if isinstance(v, Other) else ""
        return _Unresolvable(f"input {position} ({n.inputs[position]!r}) is not a constant rflint can evaluate{why}")

    def loc(self, n: OnnxNode) -> Location:
        return Location(self.path, 1, 1, node=n.ref)

    def feat(self, n: OnnxNode, op: Op, inputs: list[Feat], axes: tuple[int, ...],
             attrs: dict[str, Any] | None = None, flat: Any = None, split: Any = None) -> Feat:
        name = n.ref.name if n.inlined else n.name
        nid = self.builder.add(op, [f.node for f in inputs], n.op_type, name, self.loc(n), attrs or {})
        self.producer[nid] = n
        ended = isinstance(op, (Global, EndSpatial)) or (bool(inputs) and all(f.ended for f in inputs))
        return Feat(nid, axes, flat, split, ended)

    def pointwise(self, n: OnnxNode, x: Feat, axes: tuple[int, ...], flat: Any = None,
                  attrs: dict[str, Any] | None = None) -> Feat:
        return self.feat(n, Pointwise(), [x], axes, attrs, flat)

    def end(self, n: OnnxNode, feats: list[Feat]) -> Feat:
        return self.feat(n, EndSpatial(), feats, ())

    def opaque(self, n: OnnxNode, feats: list[Feat], reason: str) -> Feat:
        self.builder.unresolved.append(Unresolved(f"{n}: {reason}", self.loc(n)))
        keep = feats[0].axes if feats and self.rank(n.outputs[0]) == self.rank(self.name_of(n, feats[0])) else ()
        return self.feat(n, Opaque(reason), feats, keep if not (feats[0].flat or feats[0].split) else ())

    def other(self, reason: str) -> Other:
        return Other(reason)

    # ----------------------------------------------------------------- the walk

    def inputs(self) -> None:
        first = True
        for name in self.loaded.inputs:
            shape = self.shape(name)
            if shape is None or len(shape) < 3:
                rank = "unknown rank" if shape is None else f"rank {len(shape)}"
                self.env[name] = Other(f"model input {name!r} has {rank}, not N, C and spatial axes")
                continue
            nd = len(shape) - 2
            if first:
                self.ndim, first = nd, False
            attrs = {"out_channels": shape[1]} if isinstance(shape[1], int) else {}
            nid = self.builder.add(Pointwise(), (), "input", name, Location(self.path, 1, 1), attrs)
            self.env[name] = Feat(nid, tuple(range(2, 2 + nd)))
        for name, value in self.loaded.constants.items():
            self.env[name] = Const(value, self.shape(name))

    def run(self) -> ReadModel | None:
        self.inputs()
        if not any(isinstance(v, Feat) for v in self.env.values()):
            return None
        for n in self.loaded.nodes:
            self.node(n)
        outputs: list[tuple[str, int]] = []
        for name in self.loaded.outputs:
            v = self.env.get(name)
            if isinstance(v, Feat):
                nid = v.node
                if v.flat is not None:  # a flattened map as the model's output: its frame ends there
                    n = self.producer.get(nid)
                    nid = self.builder.add(EndSpatial(), [nid], n.op_type if n else "Flatten",
                                           (n.name if n else name), self.loc(n) if n else Location(self.path, 1, 1))
                outputs.append((name, nid))
        graph = self.builder.build(self.loaded.name, outputs, self.ndim, Location(self.path, 1, 1))
        return ReadModel(graph, self.overrides())

    def overrides(self) -> dict[str, Any]:
        """``input_size`` from the first image input's static spatial dims."""
        for name in self.loaded.inputs:
            shape = self.shape(name)
            if shape is not None and len(shape) >= 3:
                dims = shape[2:]
                if all(isinstance(d, int) and d >= 1 for d in dims):
                    return {"input_size": tuple(dims)}
                return {}
        return {}

    def node(self, n: OnnxNode) -> None:
        values = [self.value(v) for v in n.inputs]
        if n.proto is not None and n.op_type in ("If", "Loop", "Scan"):  # outer values the bodies read
            values += [self.value(v) for key in ("then_branch", "else_branch", "body")
                       if key in n.attrs for v in captured(n.attrs[key])]
        feats = [v for v in values if isinstance(v, Feat)]
        default = n.domain in DEFAULT_DOMAINS
        if default and n.op_type == "Constant":
            result: Any = self.constant(n)
        elif default and n.op_type in ("Shape", "Size"):
            result = self.shape_of(n)
        elif not feats:
            result = self.fold(n, values)
        elif any(f.split for f in feats) and not (default and n.op_type in ("Reshape", "Transpose")):
            result = self.opaque(n, feats, f"{n.op_type} of a tensor whose spatial axes were split by a reshape")
        elif default and n.op_type in HANDLERS:
            try:
                result = HANDLERS[n.op_type](self, n, feats)
            except _Unresolvable as exc:
                result = self.opaque(n, feats, str(exc))
        else:
            result = self.unknown(n, feats)
        results = list(result) if isinstance(result, (list, tuple)) else [result]
        for i, out in enumerate(n.outputs):
            if out:
                self.env[out] = results[i] if i < len(results) else Other(f"output {i} of {n}")

    def unknown(self, n: OnnxNode, feats: list[Feat]) -> Feat:
        what = f"{n.domain}::{n.op_type}" if n.domain not in DEFAULT_DOMAINS else n.op_type
        reason = f"unknown ONNX operator {what}: its effect on the spatial frame is not known"
        if not any(f.local for f in feats):
            self.builder.unresolved.append(Unresolved(f"{n}: {reason} (after the frame ended)", self.loc(n)))
            return self.feat(n, Pointwise(), feats, ())
        return self.opaque(n, feats, reason)

    def constant(self, n: OnnxNode) -> Const:
        attrs = n.attrs
        if "value" in attrs:
            dims = tuple(int(d) for d in attrs["value"].dims)
            if len(dims) and int(__import__("math").prod(dims)) > (1 << 16):
                return Const(None, dims)
        try:
            value = constant_attr_value(attrs)
        except BadModel as exc:
            raise self.bad(n, str(exc)) from None
        except (ValueError, TypeError) as exc:
            raise self.bad(n, f"its value cannot be read: {exc}") from None
        return Const(value, tuple(value.shape))

    def shape_of(self, n: OnnxNode) -> Value:
        import numpy as np

        shape = self.shape(n.inputs[0]) if n.inputs else None
        if shape is None or any(d is None for d in shape):
            return Other(f"the shape of {n.inputs[0]!r} is not static")
        if n.op_type == "Size":
            return Const(np.asarray(int(np.prod(shape, dtype=np.int64)), dtype=np.int64), ())
        rank = len(shape)
        start = int(n.attrs.get("start", 0))
        end = int(n.attrs.get("end", rank))
        dims = list(shape)[slice(start, end)]
        return Const(np.asarray(dims, dtype=np.int64), (len(dims),))

    def fold(self, n: OnnxNode, values: list[Value | None]) -> Value:
        if n.domain not in DEFAULT_DOMAINS:
            return Other(f"output of {n}")
        arrays = [v.value if isinstance(v, Const) else None for v in values]
        if any(a is None and name for a, name in zip(arrays, n.inputs)):
            return Other(f"{n} reads a value that is not known")
        try:
            out = fold(n.op_type, n.attrs, arrays)
        except FoldError as exc:
            return Other(f"{n} cannot be evaluated: {exc}")
        if out is None:
            return Other(f"{n} is not evaluated by rflint")
        return Const(out, tuple(out.shape))


def _fail(path: str, detail: str) -> ReadResult:
    message = f"cannot read ONNX model {os.path.basename(path)}: {detail}"
    return ReadResult(diagnostics=(Diagnostic(PARSE_ERROR, message, Location(path, 1, 1), Severity.ERROR),))


def read_onnx(path: str, data: bytes) -> ReadResult:
    """Read an ONNX model from its bytes: one model, or one RL001 naming what is wrong.

    Never raises. ``path`` is only used for locations and messages; nothing
    else is read from disk (external data is never loaded).
    """
    try:
        loaded = load(path, data)
        model = _Mapper(path, loaded).run()
    except BadModel as exc:
        return _fail(path, str(exc))
    except RecursionError:
        return _fail(path, "the model is nested too deeply to read")
    except MemoryError:
        return _fail(path, "the model is too large to read")
    except Exception as exc:  # noqa: BLE001  (the reliability contract: report, never raise)
        return _fail(path, f"internal error: {type(exc).__name__}: {exc}")
    if model is None:
        note = Diagnostic(UNRESOLVED, f"{os.path.basename(path)}: no model input has N, C and spatial axes; "
                                      "nothing to analyse", Location(path, 1, 1), Severity.INFO)
        return ReadResult(diagnostics=(note,))
    return ReadResult(models=(model,))
