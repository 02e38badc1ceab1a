"""Constant evaluation for the ONNX reader: the small integer chains exporters emit.

Exporters compute the sizes a Resize, Pad, Slice or Reshape needs with chains
such as ``Shape -> Gather -> Unsqueeze -> Concat -> Cast``, or write them as
``Constant`` nodes and small initializers. The reader needs those values to
know the geometry, so this module evaluates the handful of ops such chains
use, with numpy, on values it already knows. It evaluates nothing large:
every result is capped at ``MAX_ELEMENTS`` elements (a folded value is a
shape or a list of pads, never a weight), and an op it does not know, or
whose inputs are not all known, gives ``None`` and the caller says why it
could not resolve what needed the value.

No torch, no onnxruntime: numpy is what ``onnx`` itself depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MAX_ELEMENTS = 1 << 16
"""Largest constant the reader evaluates or loads from an initializer."""


class FoldError(Exception):
    """A foldable op whose inputs do not fit it (the model is malformed there)."""


Arrays = Sequence["np.ndarray | None"]
Attrs = dict[str, Any]


def _small(a: np.ndarray) -> np.ndarray | None:
    return a if a.size <= MAX_ELEMENTS else None


def _int_list(a: np.ndarray | None) -> list[int] | None:
    if a is None:
        return None
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _axes(attrs: Attrs, inputs: Arrays, position: int) -> list[int] | None:
    """``axes`` from the attribute (older opsets) or the input at ``position`` (newer)."""
    if "axes" in attrs:
        return [int(v) for v in attrs["axes"]]
    if len(inputs) > position and inputs[position] is not None:
        return _int_list(inputs[position])
    return None


def _gather(attrs: Attrs, x: Arrays) -> np.ndarray:
    return np.take(x[0], x[1].astype(np.int64), axis=int(attrs.get("axis", 0)))


def _unsqueeze(attrs: Attrs, x: Arrays) -> np.ndarray:
    axes = _axes(attrs, x, 1)
    if axes is None:
        raise FoldError("Unsqueeze without axes")
    out = x[0]
    rank = out.ndim + len(axes)
    for a in sorted(v % rank for v in axes):
        out = np.expand_dims(out, a)
    return out


def _squeeze(attrs: Attrs, x: Arrays) -> np.ndarray:
    axes = _axes(attrs, x, 1)
    if axes is None:
        return np.squeeze(x[0])
    return np.squeeze(x[0], axis=tuple(v % x[0].ndim for v in axes))


def _concat(attrs: Attrs, x: Arrays) -> np.ndarray:
    return np.concatenate([np.asarray(v) for v in x], axis=int(attrs.get("axis", 0)))


def _slice(attrs: Attrs, x: Arrays) -> np.ndarray:
    data = x[0]
    if "starts" in attrs:  # opset < 10
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = _int_list(x[1]) or [], _int_list(x[2]) or []
        axes = _int_list(x[3]) if len(x) > 3 and x[3] is not None else list(range(len(starts)))
        steps = _int_list(x[4]) if len(x) > 4 and x[4] is not None else [1] * len(starts)
    index: list[slice] = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st == 0:
            raise FoldError("Slice step 0")
        index[a % data.ndim] = slice(int(s), int(e), int(st))
    return data[tuple(index)]


def _div(attrs: Attrs, x: Arrays) -> np.ndarray:
    a, b = x[0], x[1]
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        if np.any(b == 0):
            raise FoldError("integer division by zero")
        return (np.trunc(a / b)).astype(np.result_type(a, b))  # ONNX integer Div truncates, as C
    return a / b


def _cast(attrs: Attrs, x: Arrays) -> np.ndarray:
    from onnx import helper

    to = int(attrs["to"])
    dtype = helper.tensor_dtype_to_np_dtype(to)
    return x[0].astype(dtype)


def _reshape(attrs: Attrs, x: Arrays) -> np.ndarray:
    target = _int_list(x[1]) or []
    allowzero = int(attrs.get("allowzero", 0))
    shape = [x[0].shape[i] if (v == 0 and not allowzero) else v for i, v in enumerate(target)]
    return x[0].reshape(shape)


def _constant_of_shape(attrs: Attrs, x: Arrays) -> np.ndarray:
    shape = _int_list(x[0]) or []
    if any(v < 0 for v in shape) or int(np.prod(shape, dtype=object)) > MAX_ELEMENTS:
        raise FoldError(f"ConstantOfShape of shape {shape}")
    value = attrs.get("value")
    if value is None:
        return np.zeros(shape, dtype=np.float32)
    from onnx import numpy_helper

    v = numpy_helper.to_array(value).reshape(-1)
    return np.full(shape, v[0], dtype=v.dtype)


def _range(attrs: Attrs, x: Arrays) -> np.ndarray:
    start, limit, delta = (np.asarray(v).reshape(-1)[0] for v in x[:3])
    if delta == 0 or abs((limit - start) / delta) > MAX_ELEMENTS:
        raise FoldError("Range too long")
    return np.arange(start, limit, delta)


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[Attrs, Arrays], np.ndarray]:
    return lambda attrs, x: fn(x[0], x[1])


def _variadic(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[Attrs, Arrays], np.ndarray]:
    def run(attrs: Attrs, x: Arrays) -> np.ndarray:
        out = x[0]
        for v in x[1:]:
            out = fn(out, v)
        return out

    return run


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Attrs, Arrays], np.ndarray]:
    return lambda attrs, x: fn(x[0])


def _transpose(attrs: Attrs, x: Arrays) -> np.ndarray:
    perm = attrs.get("perm")
    return np.transpose(x[0], [int(p) for p in perm] if perm is not None else None)


def _reduce(fn: Callable[..., np.ndarray]) -> Callable[[Attrs, Arrays], np.ndarray]:
    def run(attrs: Attrs, x: Arrays) -> np.ndarray:
        axes = _axes(attrs, x, 1)
        keep = bool(attrs.get("keepdims", 1))
        return fn(x[0], axis=tuple(axes) if axes else None, keepdims=keep)

    return run


FOLDERS: dict[str, Callable[[Attrs, Arrays], np.ndarray]] = {
    "Identity": lambda attrs, x: x[0],
    "Cast": _cast,
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Slice": _slice,
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _div,
    "Mod": _binary(np.mod),
    "Pow": _binary(np.power),
    "Max": _variadic(np.maximum),
    "Min": _variadic(np.minimum),
    "Sum": _variadic(np.add),
    "Floor": _unary(np.floor),
    "Ceil": _unary(np.ceil),
    "Round": _unary(np.round),
    "Neg": _unary(np.negative),
    "Abs": _unary(np.abs),
    "Sqrt": _unary(np.sqrt),
    "Reciprocal": _unary(np.reciprocal),
    "Not": _unary(np.logical_not),
    "Equal": _binary(np.equal),
    "Less": _binary(np.less),
    "Greater": _binary(np.greater),
    "LessOrEqual": _binary(np.less_equal),
    "GreaterOrEqual": _binary(np.greater_equal),
    "And": _binary(np.logical_and),
    "Or": _binary(np.logical_or),
    "Where": lambda attrs, x: np.where(x[0], x[1], x[2]),
    "Reshape": _reshape,
    "Flatten": lambda attrs, x: x[0].reshape(int(np.prod(x[0].shape[: int(attrs.get("axis", 1)) % max(x[0].ndim, 1)] or [1])), -1),
    "Transpose": _transpose,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Expand": lambda attrs, x: x[0] * np.ones([int(v) for v in x[1]], dtype=x[0].dtype),
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min),
}
"""The ops this module evaluates. Inputs after the first may be None (optional, absent)."""


def fold(op_type: str, attrs: Attrs, inputs: Arrays) -> np.ndarray | None:
    """The value of ``op_type`` on known inputs, or None when it cannot or should not be
    evaluated (unknown op, result too large). Raises FoldError for inputs the op rejects."""
    fn = FOLDERS.get(op_type)
    if fn is None:
        return None
    required = [v for v in inputs[:1]]
    if any(v is None for v in required):
        return None
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(fn(attrs, inputs))
    except FoldError:
        raise
    except (ValueError, IndexError, TypeError, KeyError, ZeroDivisionError, OverflowError, MemoryError) as exc:
        raise FoldError(f"{type(exc).__name__}: {exc}") from None
    return _small(out)
