"""Small constant tensors computed from configuration numbers (RegNet's widths).

``torch.arange(depth) * w_a + w_0`` and friends, evaluated exactly as torch
would: 1-D, elementwise, with torch's dtype rules for the two dtypes that
matter here (int64, and float32 as the default float dtype). float32 results
are rounded to float32 after every operation, since a width quantised with
``round`` can differ between float32 and float64.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, Callable


def f32(x: float) -> float:
    """Round a Python float to the nearest float32, as torch stores it."""
    return struct.unpack("f", struct.pack("f", x))[0]


@dataclass(frozen=True)
class ConstTensor:
    values: tuple[float | int, ...]
    dtype: str  # "int64" or "float32"

    def _cast(self, v: float | int) -> float | int:
        return int(v) if self.dtype == "int64" else f32(float(v))

    @staticmethod
    def of(values: list[Any] | tuple[Any, ...]) -> "ConstTensor":
        is_int = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        dtype = "int64" if is_int else "float32"
        return ConstTensor(tuple(int(v) if is_int else f32(float(v)) for v in values), dtype)

    def tolist(self) -> list[float | int]:
        return list(self.values)

    def as_int(self) -> "ConstTensor":
        return ConstTensor(tuple(int(v) for v in self.values), "int64")  # truncation, as .int() does


def _result_dtype(a: Any, b: Any, op: str) -> str:
    kinds = []
    for x in (a, b):
        if isinstance(x, ConstTensor):
            kinds.append(x.dtype)
        elif isinstance(x, float):
            kinds.append("float32")  # a Python float scalar promotes an int tensor to the default float dtype
        else:
            kinds.append("int64")
    if op == "truediv" or "float32" in kinds:
        return "float32"
    return "int64"


def elementwise(op: str, a: Any, b: Any) -> ConstTensor:
    fns: dict[str, Callable[[Any, Any], Any]] = {
        "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
        "truediv": lambda x, y: x / y, "floordiv": lambda x, y: x // y, "pow": lambda x, y: x**y,
    }
    fn = fns[op]
    n = max(len(x.values) if isinstance(x, ConstTensor) else 1 for x in (a, b))
    xs = a.values if isinstance(a, ConstTensor) else (a,) * n
    ys = b.values if isinstance(b, ConstTensor) else (b,) * n
    dtype = _result_dtype(a, b, op)
    out = ConstTensor((), dtype)
    return ConstTensor(tuple(out._cast(fn(x, y)) for x, y in zip(xs, ys)), dtype)


def unary(fn: str, a: ConstTensor) -> ConstTensor:
    if fn == "round":
        return ConstTensor(tuple(float(round(v)) if a.dtype == "float32" else v for v in a.values), a.dtype)  # half to even, as torch
    if fn == "log":
        return ConstTensor(tuple(f32(math.log(v)) if v > 0 else float("-inf") for v in a.values), "float32")
    if fn == "diff":
        vals = a.values
        return ConstTensor(tuple(a._cast(vals[i + 1] - vals[i]) for i in range(len(vals) - 1)), a.dtype)
    raise ValueError(fn)
