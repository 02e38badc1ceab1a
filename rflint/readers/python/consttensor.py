"""Small constant tensors computed from literals and configuration numbers.

Two uses: RegNet's widths (``torch.arange(depth) * w_a + w_0``, rounded and
quantised) and the fixed kernels of user-written blur layers
(``a = torch.tensor([1., 2., 1.]); k = a[:, None] * a[None, :]; k / k.sum()``,
held in a buffer and applied with ``F.conv2d``), whose values decide whether
the layer is a low-pass filter. Both are evaluated exactly as torch (or
numpy) would: n-D, row-major, with broadcasting and basic indexing, and
torch's dtype rules for the dtypes that matter (int64; float32, the default
float dtype, rounded after every operation, since a width quantised with
``round`` can differ between float32 and float64; numpy's float64).

A 0-d result (``k.sum()``, ``a[0]``) is a plain Python number, so that the
model code's own arithmetic on it (``int(w[0])``) works. Tensors larger than
``MAX_ELEMENTS`` are not materialised: the caller gets None and says so.
"""

from __future__ import annotations

import math
from array import array
import struct
from dataclasses import dataclass
from itertools import product
from typing import Any, Callable, Iterable, Sequence

from .values import Builtin, ExternalRef, ParamValue, Unknown, first_unknown

MAX_ELEMENTS = 1 << 16  # a 5x5 blur buffer over 2,621 channels; larger constants are not kernels

Shape = tuple[int, ...]
Number = float | int
DTYPES = ("int64", "float32", "float64")  # in promotion order


def f32(x: float) -> float:
    """Round a Python float to the nearest float32, as torch stores it."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def _cast(v: Number, dtype: str) -> Number:
    if dtype == "int64":
        return int(v)
    return f32(float(v)) if dtype == "float32" else float(v)


def cast_all(values: Iterable[Number], dtype: str) -> tuple[Number, ...]:
    """Every value as ``dtype`` stores it, in one pass (a float32 array rounds as torch does,
    overflow included): the per-value cast was a third of a build of torchvision's zoo."""
    if dtype == "int64":
        return tuple(int(v) for v in values)
    if dtype == "float32":
        return tuple(array("f", [float(v) for v in values]))
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class ConstTensor:
    """A constant tensor: row-major ``values`` of ``shape`` (``()`` is never built: 0-d
    results are Python numbers)."""

    values: tuple[Number, ...]
    dtype: str  # "int64", "float32" or "float64"
    shape: Shape

    @staticmethod
    def of(data: Any, dtype: str | None = None) -> "ConstTensor":
        """From (nested) lists or tuples of numbers (or a constant tensor); raises
        ValueError for ragged data, TypeError for non-numeric data. Without ``dtype``:
        the tensor's own, else int64 when every value is an int, else float32."""
        shape, flat = _flatten(data)
        if dtype is None and isinstance(data, ConstTensor):
            dtype = data.dtype
        if dtype is None:
            dtype = "int64" if all(isinstance(v, int) for v in flat) else "float32"
        return ConstTensor(cast_all(flat, dtype), dtype, shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def cast(self, dtype: str) -> "ConstTensor":
        """``.float()``, ``.int()`` (truncation, as torch does), ``.double()``."""
        return ConstTensor(cast_all(self.values, dtype), dtype, self.shape)

    def tolist(self) -> Any:
        return _nest(list(self.values), self.shape)

    def rows(self) -> list[Any]:
        """Iteration over the first axis, as ``for row in t`` does."""
        return [index(self, i) for i in range(self.shape[0])] if self.shape else []

    def slices(self, axis: int = 0) -> list[tuple[Number, ...]]:
        """The values of each index along ``axis`` (``axis=0`` of a conv weight: one
        output channel's kernel each), in row-major order."""
        moved = permute(self, [axis, *(a for a in range(self.ndim) if a != axis)])
        size = math.prod(self.shape[:axis] + self.shape[axis + 1:])
        return [moved.values[i * size:(i + 1) * size] for i in range(self.shape[axis])]

    def __iter__(self) -> Any:
        return iter(self.rows())

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __float__(self) -> float:
        if len(self.values) != 1:
            raise TypeError("only one-element tensors can be converted to Python scalars")
        return float(self.values[0])

    def __int__(self) -> int:
        return int(float(self))


def _flatten(data: Any) -> tuple[Shape, list[Number]]:
    if isinstance(data, ConstTensor):
        return data.shape, list(data.values)
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return (), [data]
    if not isinstance(data, (list, tuple)):
        raise TypeError(f"not numeric data: {type(data).__name__}")
    parts = [_flatten(item) for item in data]
    if len({s for s, _ in parts}) > 1:
        raise ValueError("ragged nested sequence")
    inner = parts[0][0] if parts else ()
    return (len(data), *inner), [v for _, vals in parts for v in vals]


def _nest(flat: list[Number], shape: Shape) -> Any:
    if len(shape) <= 1:
        return flat if shape else flat[0]
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _strides(shape: Shape) -> list[int]:
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return out[::-1]


def _result(t: ConstTensor) -> ConstTensor | Number:
    return t.values[0] if t.shape == () else t


def _gather(t: ConstTensor, shape: Shape, source: Callable[[tuple[int, ...]], Sequence[int]]) -> ConstTensor | None:
    """A tensor of ``shape`` whose element at each index is ``t``'s at ``source(index)``:
    the one loop behind broadcasting, repeat, expand, indexing and permute."""
    if math.prod(shape) > MAX_ELEMENTS:
        return None
    strides = _strides(t.shape)
    values = tuple(t.values[sum(i * s for i, s in zip(source(idx), strides))] for idx in product(*map(range, shape)))
    return ConstTensor(values, t.dtype, shape)


# --------------------------------------------------------------------------- shapes
#
# Shape arithmetic alone, shared with parameters whose values are not known
# (``nn.Parameter(torch.randn(c, 1, 3, 3)).repeat(...)``: a conv's kernel size).


def broadcast_shapes(a: Shape, b: Shape) -> Shape | None:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        return None
    return tuple(max(x, y) if 0 not in (x, y) else 0 for x, y in zip(a, b))


def sizes_arg(args: Sequence[Any]) -> list[Any]:
    """``f(2, 3)`` or ``f((2, 3))``: the sizes a shape method was given."""
    return list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)


def reshape_shape(shape: Shape, new: Sequence[Any]) -> Shape | None:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in new) or list(new).count(-1) > 1:
        return None
    known = math.prod(v for v in new if v != -1)
    total = math.prod(shape)
    if -1 in new:
        if known == 0 or total % known:
            return None
        new = [total // known if v == -1 else v for v in new]
    return tuple(new) if math.prod(new) == total and all(v >= 0 for v in new) else None


def repeat_shape(shape: Shape, reps: Sequence[Any]) -> Shape | None:
    if len(reps) < len(shape) or not all(isinstance(r, int) and r >= 0 for r in reps):
        return None
    padded = (1,) * (len(reps) - len(shape)) + shape
    return tuple(s * r for s, r in zip(padded, reps))


def expand_shape(shape: Shape, sizes: Sequence[Any]) -> Shape | None:
    """The shape after ``expand(*sizes)``. A size that is not a number (the batch,
    ``x.shape[0]``) keeps the dimension's own size: only a tensor's other dimensions are
    read from such a shape (how many class tokens it adds)."""
    if len(sizes) < len(shape):
        return None
    padded0 = (1,) * (len(sizes) - len(shape)) + tuple(shape)
    sizes = [v if isinstance(v, int) and not isinstance(v, bool) else (-1 if i >= len(sizes) - len(shape) else 1)
             for i, v in enumerate(sizes)]
    del padded0
    padded = (1,) * (len(sizes) - len(shape)) + shape
    out = []
    for i, (s, v) in enumerate(zip(padded, sizes)):
        if v == -1 and i >= len(sizes) - len(shape):
            out.append(s)
        elif s in (1, v) and v >= 0:
            out.append(v)
        else:
            return None
    return tuple(out)


IndexPlan = tuple[list[tuple[int | None, list[int]]], dict[int, int]]


def index_plan(shape: Shape, key: Any) -> IndexPlan | None:
    """Basic indexing (ints, slices, None, Ellipsis): per output axis, the source axis
    (None for a new one) and the indices it takes; and the source axes an int fixes."""
    keys = list(key) if isinstance(key, tuple) else [key]
    if any(isinstance(k, bool) or not (k is None or k is Ellipsis or isinstance(k, (int, slice))) for k in keys):
        return None
    consumed = sum(1 for k in keys if k is not None and k is not Ellipsis)
    if keys.count(Ellipsis) > 1 or consumed > len(shape):
        return None
    rest = [slice(None)] * (len(shape) - consumed)
    if Ellipsis in keys:
        at = keys.index(Ellipsis)
        keys[at:at + 1] = rest
    else:
        keys += rest
    out: list[tuple[int | None, list[int]]] = []
    fixed: dict[int, int] = {}
    axis = 0
    for k in keys:
        if k is None:
            out.append((None, [0]))
            continue
        n = shape[axis]
        if isinstance(k, int):
            if not -n <= k < n:
                return None
            fixed[axis] = k % n
        else:
            out.append((axis, list(range(*k.indices(n)))))
        axis += 1
    return out, fixed


def index_shape(shape: Shape, key: Any) -> Shape | None:
    plan = index_plan(shape, key)
    return None if plan is None else tuple(len(ix) for _, ix in plan[0])


# --------------------------------------------------------------------------- operations


def promote(a: Any, b: Any, op: str) -> str:
    kinds = []
    for x in (a, b):
        if isinstance(x, ConstTensor):
            kinds.append(x.dtype)
        elif isinstance(x, float):
            kinds.append("float32")  # a Python float scalar promotes an int tensor to the default float dtype
        else:
            kinds.append("int64")
    tensors = [x.dtype for x in (a, b) if isinstance(x, ConstTensor)]
    best = max(kinds, key=DTYPES.index)
    if best == "float32" and "float64" in tensors:
        best = "float64"
    if op == "truediv" and best == "int64":
        best = "float32"
    return best


def _broadcast_to(t: ConstTensor | Number, shape: Shape) -> ConstTensor | None:
    if not isinstance(t, ConstTensor):
        return ConstTensor((t,) * math.prod(shape), "float32" if isinstance(t, float) else "int64", shape)
    lead = len(shape) - t.ndim
    return _gather(t, shape, lambda idx: [0 if n == 1 else i for i, n in zip(idx[lead:], t.shape)])


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "truediv": lambda x, y: x / y, "floordiv": lambda x, y: x // y, "pow": lambda x, y: x**y,
    "mod": lambda x, y: x % y,  # the sign of the divisor, as torch.remainder and numpy.mod
    "eq": lambda x, y: int(x == y), "ne": lambda x, y: int(x != y), "lt": lambda x, y: int(x < y),
    "le": lambda x, y: int(x <= y), "gt": lambda x, y: int(x > y), "ge": lambda x, y: int(x >= y),
}
_COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge"}  # a bool tensor, held as int64 0/1


def elementwise(op: str, a: Any, b: Any) -> ConstTensor | Number | Unknown:
    """``a op b`` with broadcasting; at least one of them a ConstTensor, the other one or a number."""
    shapes = [x.shape if isinstance(x, ConstTensor) else () for x in (a, b)]
    shape = broadcast_shapes(*shapes)
    if shape is None:
        return Unknown(f"shapes {shapes[0]} and {shapes[1]} do not broadcast")
    xs, ys = _broadcast_to(a, shape), _broadcast_to(b, shape)
    if xs is None or ys is None:
        return ParamValue(f"a constant too large to hold ({shape})", shape)  # its shape is still known
    dtype = "int64" if op in _COMPARISONS else promote(a, b, op)
    try:
        values = cast_all((_BINARY[op](x, y) for x, y in zip(xs.values, ys.values)), dtype)
    except (ZeroDivisionError, OverflowError, ValueError) as exc:
        return Unknown(f"{type(exc).__name__} in constant-tensor arithmetic")
    return _result(ConstTensor(values, dtype, shape))


def matmul(a: Any, b: Any) -> ConstTensor | Number | Unknown:
    """``a @ b`` for 1-D and 2-D operands (``a[:, None] @ a[None, :]``, an outer product)."""
    if not (isinstance(a, ConstTensor) and isinstance(b, ConstTensor)) or not {a.ndim, b.ndim} <= {1, 2}:
        return Unknown("matmul of operands that are not 1-D or 2-D constant tensors")
    left = a.tolist() if a.ndim == 2 else [a.tolist()]
    right = b.tolist() if b.ndim == 2 else [[v] for v in b.tolist()]
    if len(left[0]) != len(right):
        return Unknown("matmul of mismatched shapes")
    rows = [[sum(x * right[k][j] for k, x in enumerate(row)) for j in range(len(right[0]))] for row in left]
    dtype = promote(a, b, "mul")
    if a.ndim == 1 and b.ndim == 1:
        return _cast(rows[0][0], dtype)
    data = rows[0] if a.ndim == 1 else [r[0] for r in rows] if b.ndim == 1 else rows
    return ConstTensor.of(data, dtype)


def index(t: ConstTensor, key: Any) -> ConstTensor | Number | Unknown:
    plan = index_plan(t.shape, key)
    if plan is None:
        return Unknown(f"index {key!r} of a constant tensor of shape {t.shape}")
    out, fixed = plan

    def source(idx: tuple[int, ...]) -> list[int]:
        src = [fixed.get(a, 0) for a in range(t.ndim)]
        for (axis, taken), i in zip(out, idx):
            if axis is not None:
                src[axis] = taken[i]
        return src

    result = _gather(t, tuple(len(ix) for _, ix in out), source)
    return _result(result) if result is not None else Unknown("indexing result too large to evaluate")


def permute(t: ConstTensor, order: Sequence[int]) -> ConstTensor:
    inverse = [order.index(a) for a in range(t.ndim)]
    result = _gather(t, tuple(t.shape[a] for a in order), lambda idx: [idx[inverse[a]] for a in range(t.ndim)])
    assert result is not None  # the same number of elements
    return result


def flip(t: ConstTensor, *dims: Any) -> ConstTensor | Unknown:
    """``t.flip(dims)`` / ``torch.flip(t, dims)``: the order reversed along ``dims``."""
    axes = sizes_arg(dims)
    if not all(isinstance(a, int) and not isinstance(a, bool) and -t.ndim <= a < t.ndim for a in axes):
        return Unknown("flip along dimensions that are not known")
    flipped = {a % t.ndim for a in axes}
    result = _gather(t, t.shape, lambda idx: [t.shape[a] - 1 - i if a in flipped else i for a, i in enumerate(idx)])
    return result if result is not None else Unknown("flip of a constant too large to hold")


def reduce_sum(t: ConstTensor, dim: Any = None, keepdim: bool = False) -> ConstTensor | Number | Unknown:
    """``t.sum()`` (a number) or ``t.sum(dim, keepdim)``."""
    if dim is None:
        dims = list(range(t.ndim))
    else:
        dims = [d % t.ndim for d in (dim if isinstance(dim, (list, tuple)) else [dim]) if isinstance(d, int)]
        if len(dims) != (len(dim) if isinstance(dim, (list, tuple)) else 1):
            return Unknown("sum over dimensions that are not known")
    kept = [a for a in range(t.ndim) if a not in dims]
    totals: dict[tuple[int, ...], Number] = {}
    for idx, v in zip(product(*map(range, t.shape)), t.values):
        key = tuple(idx[a] for a in kept)
        totals[key] = totals.get(key, 0) + v
    shape = tuple(t.shape[a] if a in kept else 1 for a in range(t.ndim)) if keepdim else tuple(t.shape[a] for a in kept)
    values = tuple(_cast(totals[k], t.dtype) for k in product(*(range(t.shape[a]) for a in kept)))
    return _result(ConstTensor(values, t.dtype, shape))


_UNARY: dict[str, Callable[[Number], Number]] = {
    "log": lambda v: math.log(v) if v > 0 else -math.inf, "exp": math.exp, "sqrt": math.sqrt,
    "abs": abs, "neg": lambda v: -v, "log2": lambda v: math.log2(v) if v > 0 else -math.inf,
    "sign": lambda v: (v > 0) - (v < 0), "floor": math.floor, "ceil": math.ceil, "trunc": math.trunc,
    "sin": math.sin, "cos": math.cos, "tanh": math.tanh, "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
    "rsqrt": lambda v: 1 / math.sqrt(v) if v > 0 else math.inf if v == 0 else math.nan,
    "reciprocal": lambda v: 1 / v if v else math.inf,
}


def unary(fn: str, a: ConstTensor) -> ConstTensor:
    if fn == "round":
        return ConstTensor(tuple(float(round(v)) if a.dtype != "int64" else v for v in a.values), a.dtype, a.shape)  # half to even, as torch
    if fn == "diff":
        vals = a.values
        return ConstTensor(tuple(_cast(vals[i + 1] - vals[i], a.dtype) for i in range(len(vals) - 1)), a.dtype, (len(vals) - 1,))
    dtype = a.dtype if fn in ("abs", "neg", "sign", "floor", "ceil", "trunc") else ("float64" if a.dtype == "float64" else "float32")
    return ConstTensor(cast_all((_UNARY[fn](v) for v in a.values), dtype), dtype, a.shape)


def _reshaped(t: ConstTensor, shape: Shape | None) -> ConstTensor | Unknown:
    return ConstTensor(t.values, t.dtype, shape) if shape is not None else Unknown(f"cannot reshape a tensor of shape {t.shape}")


def _repeat(t: ConstTensor, reps: list[Any]) -> ConstTensor | Unknown:
    """``t.repeat(*reps)``. A count that is not a number (a kernel repeated over the
    channels of a map whose channel count is not known) is taken as 1: every copy holds
    the same values, which is what a fixed kernel's verdict reads."""
    reps = [r if isinstance(r, int) and not isinstance(r, bool) else 1 for r in reps]
    shape = repeat_shape(t.shape, reps)
    if shape is None:
        return Unknown(f"repeat{tuple(reps)!r} of a constant tensor of shape {t.shape}")
    lead = len(shape) - t.ndim
    out = _gather(t, shape, lambda idx: [i % n for i, n in zip(idx[lead:], t.shape)])
    return out if out is not None else ParamValue(f"a constant too large to hold ({shape})", shape)


def _expand(t: ConstTensor, sizes: list[Any]) -> ConstTensor | Unknown:
    shape = expand_shape(t.shape, sizes)
    out = _broadcast_to(t, shape) if shape is not None else None
    return out if out is not None else Unknown(f"expand{tuple(sizes)!r} of a constant tensor of shape {t.shape}")


def _flattened(t: ConstTensor, start: int = 0, end: int = -1) -> ConstTensor:
    if not t.shape:
        return ConstTensor(t.values, t.dtype, (1,))
    start, end = start % t.ndim, end % t.ndim
    merged = math.prod(t.shape[start:end + 1])
    return ConstTensor(t.values, t.dtype, t.shape[:start] + (merged,) + t.shape[end + 1:])


def _unsqueeze(t: ConstTensor, dim: int) -> ConstTensor:
    dim = dim % (t.ndim + 1)
    return ConstTensor(t.values, t.dtype, t.shape[:dim] + (1,) + t.shape[dim:])


def _squeeze(t: ConstTensor, dim: int | None = None) -> ConstTensor | Number:
    if dim is None:
        shape = tuple(n for n in t.shape if n != 1)
    else:
        dim %= max(t.ndim, 1)
        shape = t.shape[:dim] + t.shape[dim + 1:] if t.shape[dim] == 1 else t.shape
    return _result(ConstTensor(t.values, t.dtype, shape))


def _size(t: ConstTensor, dim: int | None = None) -> Any:
    return t.shape if dim is None else t.shape[dim]


Method = Callable[..., Any]
_SAME = ("clone", "detach", "contiguous", "cpu", "cuda", "requires_grad_", "to", "type", "numpy", "copy")
_METHODS: dict[str, Method] = {
    **{name: (lambda t, *a, **k: t) for name in _SAME},
    "float": lambda t: t.cast("float32"), "double": lambda t: t.cast("float64"), "half": lambda t: t.cast("float32"),
    "int": lambda t: t.cast("int64"), "long": lambda t: t.cast("int64"), "astype": lambda t, *a, **k: t,
    "tolist": lambda t: t.tolist(), "item": lambda t: float(t) if t.dtype != "int64" else int(t),
    "split": lambda t, s, dim=0: split(t, s, dim), "unique": lambda t, *a, **k: _unique(t),
    "chunk": lambda t, chunks, dim=0: chunk(t, chunks, dim),
    "flip": lambda t, *dims, **k: flip(t, *(dims or (k.get("dims", ()),))),
    "masked_fill": lambda t, m, v: masked_fill(t, m, v), "masked_fill_": lambda t, m, v: masked_fill(t, m, v),
    "max": lambda t, dim=None: _extreme(t, max, dim), "min": lambda t, dim=None: _extreme(t, min, dim),
    "amax": lambda t, dim=None: _extreme(t, max, dim), "amin": lambda t, dim=None: _extreme(t, min, dim),
    "size": _size, "dim": lambda t: t.ndim, "numel": lambda t: len(t.values),
    "sum": reduce_sum, "view": lambda t, *s: _reshaped(t, reshape_shape(t.shape, sizes_arg(s))),
    "reshape": lambda t, *s: _reshaped(t, reshape_shape(t.shape, sizes_arg(s))),
    "flatten": lambda t, start=0, end=-1: _flattened(t, start, end),
    "repeat": lambda t, *r: _repeat(t, sizes_arg(r)), "expand": lambda t, *s: _expand(t, sizes_arg(s)),
    "unsqueeze": _unsqueeze, "squeeze": _squeeze, "outer": lambda t, o: outer(t, o), "ger": lambda t, o: outer(t, o),
    "permute": lambda t, *d: permute(t, [a % t.ndim for a in sizes_arg(d)]),
    **{fn: (lambda t, _fn=fn: unary(_fn, t)) for fn in ("round", "log", "exp", "sqrt", "abs", "neg", "diff", "log2",
                                                          "sign", "floor", "ceil", "sin", "cos", "tanh", "trunc",
                                                          "rsqrt", "reciprocal", "sigmoid")},
    **{name: (lambda t, o, _op=op: elementwise(_op, t, o)) for name, op in (
        ("add", "add"), ("sub", "sub"), ("mul", "mul"), ("div", "truediv"), ("true_divide", "truediv"),
        ("pow", "pow"), ("add_", "add"), ("sub_", "sub"), ("mul_", "mul"), ("div_", "truediv"))},
}


def attribute(t: ConstTensor, name: str) -> Any:
    """``t.name``: a value (``shape``, ``ndim``, ``T``) or a Builtin for a method; None when
    the attribute is not modelled."""
    if name == "shape":
        return t.shape
    if name == "ndim":
        return t.ndim
    if name == "T" and t.ndim <= 2:
        return permute(t, list(range(t.ndim))[::-1])
    if name == "dtype":
        return ExternalRef(f"torch.{t.dtype}")
    method = _METHODS.get(name)
    if method is None:
        return None

    def impl(ev: Any, args: list[Any], kwargs: dict[str, Any], node: Any) -> Any:
        u = first_unknown(*args, *kwargs.values())
        return u if u is not None else method(t, *args, **kwargs)

    return Builtin(f"Tensor.{name}", impl)


def outer(a: Any, b: Any) -> ConstTensor | Number | Unknown:
    if not (isinstance(a, ConstTensor) and isinstance(b, ConstTensor) and a.ndim == b.ndim == 1):
        return Unknown("outer product of values that are not 1-D constant tensors")
    return elementwise("mul", index(a, (slice(None), None)), index(b, (None, slice(None))))


# --------------------------------------------------------------------------- torch and numpy functions


def dtype_of(value: Any) -> str | None:
    """``torch.float32``, ``np.float64``, ``float``, ``"int64"`` ... as one of DTYPES; None if not known."""
    name = value.path.rsplit(".", 1)[-1] if isinstance(value, ExternalRef) else getattr(value, "name", value)
    if not isinstance(name, str):
        return None
    if name in ("float64", "double"):
        return "float64"
    if name.startswith(("float", "half", "bfloat")):
        return "float32"
    if name.startswith(("int", "long", "uint")):
        return "int64"
    return None


def _data(args: list[Any], kwargs: dict[str, Any], default_dtype: str | None) -> ConstTensor | Number | None:
    """``torch.tensor(data, dtype=...)`` and friends."""
    data = args[0] if args else kwargs.get("data")
    dtype = dtype_of(kwargs["dtype"]) if kwargs.get("dtype") is not None else default_dtype
    try:
        return _result(ConstTensor.of(data, dtype))
    except (TypeError, ValueError, IndexError):
        return None


def _filled(args: list[Any], kwargs: dict[str, Any], fill: Callable[[tuple[int, ...]], Number] | Number) -> ConstTensor | None:
    """``torch.ones(3, 3)``, ``torch.eye(3)``: only with sizes given as ints, and small.
    ``fill`` is the value at each index, or one value for all."""
    sizes = sizes_arg(args)
    if not sizes or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes):
        return None
    shape = tuple(sizes)
    if math.prod(shape) > MAX_ELEMENTS:
        return None
    dtype = dtype_of(kwargs["dtype"]) if kwargs.get("dtype") is not None else "float32"
    dtype = dtype or "float32"
    if not callable(fill):
        return ConstTensor((_cast(fill, dtype),) * math.prod(shape), dtype, shape)
    return ConstTensor(cast_all((fill(idx) for idx in product(*map(range, shape))), dtype), dtype, shape)


def _full(args: list[Any], kwargs: dict[str, Any]) -> ConstTensor | None:
    value = args[1] if len(args) > 1 else kwargs.get("fill_value")
    if not isinstance(value, (int, float)) or not args:
        return None
    return _filled([args[0]], kwargs, value)


def _arange(args: list[Any], kwargs: dict[str, Any]) -> ConstTensor | None:
    """``arange(end)``, ``arange(start, end[, step])``, also by keyword and with floats:
    ``ceil((end - start) / step)`` values ``start + i * step``, int64 when all are ints."""
    if len(args) > 3:
        return None
    bound = dict(zip(("end",) if len(args) == 1 else ("start", "end", "step"), args))
    bound.update({k: v for k, v in kwargs.items() if k in ("start", "end", "step")})
    start, end, step = bound.get("start", 0), bound.get("end"), bound.get("step", 1)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, end, step)) or step == 0:
        return None
    count = max(0, math.ceil((end - start) / step))
    if not count or count > MAX_ELEMENTS:
        return None
    given = kwargs.get("dtype")
    dtype = dtype_of(given) if given is not None else (
        "int64" if all(isinstance(v, int) for v in (start, end, step)) else "float32")
    if dtype is None:
        return None
    return ConstTensor(cast_all((start + i * step for i in range(count)), dtype), dtype, (count,))


def _linspace(args: list[Any], kwargs: dict[str, Any]) -> ConstTensor | None:
    """``torch.linspace(start, end, steps)`` in float32, computed as torch's kernel does:
    from the start for the first half, from the end for the second."""
    bound = dict(zip(("start", "end", "steps"), args))
    bound.update({k: v for k, v in kwargs.items() if k in ("start", "end", "steps")})
    start, end, steps = bound.get("start"), bound.get("end"), bound.get("steps")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, end)) or not isinstance(steps, int):
        return None
    if steps < 1 or steps > MAX_ELEMENTS:
        return None
    if steps == 1:
        return ConstTensor((f32(float(start)),), "float32", (1,))  # type: ignore[arg-type]
    step = f32((end - start) / (steps - 1))  # type: ignore[operator]
    half = steps // 2
    values = [f32(start + step * i) if i < half else f32(end - step * (steps - 1 - i)) for i in range(steps)]  # type: ignore[operator]
    return ConstTensor(tuple(values), "float32", (steps,))


def chunk(t: ConstTensor, chunks: Any, dim: int = 0) -> tuple[ConstTensor, ...] | Unknown:
    """``t.chunk(n, dim)``: parts of ``ceil(size / n)`` along ``dim`` (the last one smaller)."""
    if not t.shape or not isinstance(chunks, int) or isinstance(chunks, bool) or chunks < 1:
        return Unknown("chunk of a 0-d tensor or into a number of parts that is not known")
    n = t.shape[dim % t.ndim]
    return split(t, max(1, -(-n // chunks)), dim)


def split(t: ConstTensor, sizes: Any, dim: int = 0) -> tuple[ConstTensor, ...] | Unknown:
    """``t.split(size)`` / ``t.split([sizes])`` along ``dim``."""
    if not t.shape:
        return Unknown("split of a 0-d tensor")
    dim %= t.ndim
    n = t.shape[dim]
    if isinstance(sizes, int) and sizes > 0:
        sizes = [min(sizes, n - i) for i in range(0, n, sizes)]
    if not isinstance(sizes, (list, tuple)) or sum(sizes) != n:
        return Unknown("split sizes that do not add up to the dimension")
    out, start = [], 0
    for s in sizes:
        key = tuple(slice(None) for _ in range(dim)) + (slice(start, start + s),)
        part = index(t, key)
        if not isinstance(part, ConstTensor):
            return Unknown("split into parts rflint cannot hold")
        out.append(part)
        start += s
    return tuple(out)


def _unique(t: ConstTensor) -> ConstTensor:
    values = sorted(set(t.values))
    return ConstTensor(tuple(values), t.dtype, (len(values),))


def _unique_call(t: ConstTensor, kwargs: dict[str, Any]) -> Any:
    """``torch.unique(t, sorted=True, return_inverse=..., return_counts=...)`` of a flat tensor."""
    values = _unique(t)
    out: list[Any] = [values]
    if kwargs.get("return_inverse"):
        out.append(ConstTensor(tuple(values.values.index(v) for v in t.values), "int64", t.shape))
    if kwargs.get("return_counts"):
        out.append(ConstTensor(tuple(t.values.count(v) for v in values.values), "int64", values.shape))
    return out[0] if len(out) == 1 else tuple(out)


def masked_fill(t: ConstTensor, mask: Any, value: Any) -> ConstTensor | Unknown:
    """``t.masked_fill(mask, value)``: ``value`` where the (broadcast) mask is true."""
    if not isinstance(mask, ConstTensor) or not isinstance(value, (int, float)):
        return Unknown("masked_fill with a mask or value that is not a constant")
    m = _broadcast_to(mask, t.shape)
    if m is None:
        return Unknown("masked_fill with a mask that does not broadcast")
    return ConstTensor(tuple(_cast(value, t.dtype) if k else v for v, k in zip(t.values, m.values)), t.dtype, t.shape)


def _extreme(t: ConstTensor, fn: Callable[..., Number], dim: Any = None) -> Any:
    if dim is None:
        return fn(t.values)
    return Unknown("max/min along a dimension of a constant tensor is not modelled")


def _join(tensors: Any, dim: int, new_axis: bool) -> ConstTensor | None:
    parts = [ConstTensor.of(x) if not isinstance(x, ConstTensor) else x for x in tensors]
    if not parts:
        return None
    if new_axis:
        parts = [_unsqueeze(p, dim) for p in parts]
    dim %= parts[0].ndim
    shape = list(parts[0].shape)
    shape[dim] = sum(p.shape[dim] for p in parts)
    if math.prod(shape) > MAX_ELEMENTS:
        return None
    offsets = [0]
    for p in parts:
        offsets.append(offsets[-1] + p.shape[dim])
    values = []
    for idx in product(*map(range, shape)):
        which = next(i for i in range(len(parts)) if idx[dim] < offsets[i + 1])
        local = idx[:dim] + (idx[dim] - offsets[which],) + idx[dim + 1:]
        src = parts[which]
        values.append(src.values[sum(i * s for i, s in zip(local, _strides(src.shape)))])
    dtype = max((p.dtype for p in parts), key=DTYPES.index)
    return ConstTensor(cast_all(values, dtype), dtype, tuple(shape))


def _meshgrid(args: list[Any], kwargs: dict[str, Any]) -> tuple[ConstTensor, ...] | None:
    """``torch.meshgrid(a, b, indexing='ij')`` (torch's default is 'ij')."""
    tensors = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
    if not tensors or not all(isinstance(x, ConstTensor) and x.ndim == 1 for x in tensors):
        return None
    xy = kwargs.get("indexing", "ij") == "xy"
    if xy and len(tensors) >= 2:
        tensors = [tensors[1], tensors[0], *tensors[2:]]
    shape = tuple(x.shape[0] for x in tensors)
    if math.prod(shape) > MAX_ELEMENTS:
        return None
    grids = []
    for k, x in enumerate(tensors):
        grids.append(ConstTensor(tuple(x.values[idx[k]] for idx in product(*map(range, shape))), x.dtype, shape))
    if xy and len(grids) >= 2:
        grids = [permute(g, [1, 0, *range(2, len(shape))]) for g in grids]
        grids = [grids[1], grids[0], *grids[2:]]
    return tuple(grids)


_CONSTRUCTORS: dict[str, Callable[[list[Any], dict[str, Any]], Any]] = {
    "torch.tensor": lambda a, k: _data(a, k, None), "torch.as_tensor": lambda a, k: _data(a, k, None),
    "torch.from_numpy": lambda a, k: _data(a, k, None),
    "torch.Tensor": lambda a, k: _data(a, k, "float32") if a and isinstance(a[0], (list, tuple, ConstTensor)) else None,
    "torch.FloatTensor": lambda a, k: _data(a, k, "float32") if a and isinstance(a[0], (list, tuple, ConstTensor)) else None,
    "torch.DoubleTensor": lambda a, k: _data(a, k, "float64") if a and isinstance(a[0], (list, tuple, ConstTensor)) else None,
    "numpy.array": lambda a, k: _data(a, k, None if not a or _all_ints(a[0]) else "float64"),
    "numpy.asarray": lambda a, k: _data(a, k, None if not a or _all_ints(a[0]) else "float64"),
    "torch.arange": _arange, "numpy.arange": _arange,
    "torch.ones": lambda a, k: _filled(a, k, 1), "numpy.ones": lambda a, k: _filled(a, k, 1),
    "torch.zeros": lambda a, k: _filled(a, k, 0),
    "torch.eye": lambda a, k: _filled(a * 2 if len(a) == 1 else a, k, lambda idx: int(idx[0] == idx[1])),
    "torch.full": _full,
    "torch.linspace": _linspace, "numpy.linspace": _linspace,
    "torch.meshgrid": _meshgrid,
    "torch.flip": lambda a, k: flip(a[0], *(a[1:] or (k.get("dims", ()),))) if a and isinstance(a[0], ConstTensor) else None,
    "torch.stack": lambda a, k: _join(a[0], a[1] if len(a) > 1 else k.get("dim", 0), True)
    if a and isinstance(a[0], (list, tuple)) and all(isinstance(x, ConstTensor) for x in a[0]) else None,
    "torch.cat": lambda a, k: _join(a[0], a[1] if len(a) > 1 else k.get("dim", 0), False)
    if a and isinstance(a[0], (list, tuple)) and a[0] and all(isinstance(x, ConstTensor) for x in a[0]) else None,
    "torch.unique": lambda a, k: _unique_call(a[0], k) if a and isinstance(a[0], ConstTensor) else None,
    "torch.get_default_dtype": lambda a, k: ExternalRef("torch.float32"),
    "numpy.atleast_1d": lambda a, k: _data([a[0] if isinstance(a[0], (list, tuple, ConstTensor)) else [a[0]]], {},
                                           None if _all_ints(a[0]) else "float64") if len(a) == 1 and not k else None,
}


def _all_ints(data: Any) -> bool:
    try:
        return all(isinstance(v, int) and not isinstance(v, bool) for v in _flatten(data)[1])
    except (TypeError, ValueError):
        return False


_ON_TENSORS: dict[str, Callable[..., Any]] = {
    "outer": outer, "ger": outer, "matmul": matmul, "sum": reduce_sum,
    **{fn: (lambda t, _fn=fn: unary(_fn, t)) for fn in ("round", "log", "exp", "sqrt", "abs", "neg", "diff", "log2",
                                                          "sign", "floor", "ceil", "sin", "cos", "tanh", "trunc")},
    "unique": lambda t, *a, **k: _unique(t),
    "any": lambda t: any(t.values), "all": lambda t: all(t.values),  # a truth, as ``if`` reads it
    **{name: (lambda t, _fn=fn: _extreme(t, _fn)) for name, fn in (("min", min), ("max", max), ("amin", min), ("amax", max))},
    **{name: (lambda x, y, _op=op: elementwise(_op, x, y)) for name, op in (
        ("divide", "truediv"), ("div", "truediv"), ("true_divide", "truediv"), ("pow", "pow"), ("power", "pow"),
        ("mul", "mul"), ("multiply", "mul"), ("add", "add"), ("sub", "sub"), ("subtract", "sub"))},
}


_SCALAR: dict[str, Callable[..., Number]] = {
    "ceil": lambda v: float(math.ceil(v)), "floor": lambda v: float(math.floor(v)), "sqrt": math.sqrt,
    "log": math.log, "log2": math.log2, "exp": math.exp, "abs": abs, "round": lambda v, n=0: round(v, n),
    "maximum": max, "minimum": min, "power": pow, "int64": int, "float32": f32, "float64": float,
}


def call(path: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """A torch or numpy function on constant data; None when the call is not one
    (the caller then models it otherwise, e.g. on symbolic tensors)."""
    if first_unknown(*args, *kwargs.values()) is not None:
        return None
    make = _CONSTRUCTORS.get(path)
    if make is not None:
        return make(args, kwargs)
    module, _, name = path.rpartition(".")
    if module == "numpy" and name in _SCALAR and args and all(
            isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        return _SCALAR[name](*args)  # numpy on plain numbers: a float, as numpy gives it
    if module not in ("torch", "numpy") or name not in _ON_TENSORS:
        return None
    if not any(isinstance(a, ConstTensor) for a in args):
        return None
    if not all(isinstance(a, (ConstTensor, int, float)) and not isinstance(a, bool) for a in args):
        return None
    if name in ("div", "divide") and kwargs.get("rounding_mode") in ("floor", "trunc"):
        op = "floordiv" if kwargs.pop("rounding_mode") == "floor" else "truncdiv"
        return elementwise(op, *args) if op == "floordiv" else unary("trunc", elementwise("truediv", *args))  # type: ignore[arg-type]
    try:
        return _ON_TENSORS[name](*args, **kwargs)
    except TypeError:
        return Unknown(f"{path} with arguments rflint does not model")


def shape_of(value: Any) -> Shape | None:
    """The shape of a constant tensor or of a parameter whose shape is known."""
    if isinstance(value, ConstTensor):
        return value.shape
    if isinstance(value, ParamValue):
        return value.shape
    return None


# --------------------------------------------------------------------------- fixed low-pass kernels

SUM_TOLERANCE = 1e-5  # float32 keeps ~7 digits; 1/3 + 1/3 + 1/3 is 1 + 3e-8


def blur_kernel_verdict(weight: ConstTensor) -> str | None:
    """Why a fixed conv weight of shape (out, in/groups, *kernel) is not a blur, or None
    when it is one: each output channel reads one input channel (depthwise:
    ``in/groups == 1``), through a non-negative kernel of more than one tap that sums
    to 1 (a normalised low-pass filter, as antialiased-cnns' BlurPool holds)."""
    if weight.ndim < 3:
        return f"a weight of rank {weight.ndim} is not a conv kernel"
    if weight.shape[1] != 1:
        return f"each output channel mixes {weight.shape[1]} input channels (not depthwise)"
    if math.prod(weight.shape[2:]) <= 1:
        return "a single-tap kernel does not filter"
    if any(v < 0 for v in weight.values):
        return "the kernel has negative entries (not a low-pass filter)"
    for taps in weight.slices(0):
        if abs(sum(taps) - 1) > SUM_TOLERANCE:
            return f"the kernel sums to {sum(taps):g}, not 1 (not normalised)"
    return None
