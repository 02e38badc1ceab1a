"""Shape and layout operations on symbolic tensors: ``shape``, ``size``, ``view``,
``reshape``, ``permute``, ``transpose``, ``flatten``, ``unflatten``, ``squeeze``,
``unsqueeze``, ``chunk``, ``split``, ``unbind``, ``cat``, ``stack``, ``roll``,
``expand`` and indexing.

A rearrangement makes no graph node: the tensor keeps its node and gets a new
layout (``layout.py``). Splitting a spatial axis into windows and joining it back
is exact; a space-to-depth rearrangement is a PixelUnshuffle node; what cannot be
related to the positions is an Opaque node that says so.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from ...ir import Constant, EndSpatial, Merge, PixelUnshuffle, Shift
from . import consttensor
from . import layout as lay
from .consttensor import ConstTensor
from .layout import Dim, Factor, Layout
from .tensor_ops import FUNCTIONS, METHODS, Handler
from .values import ExternalRef, ParamValue, Record, SizeValue, SymSize, TensorValue, Unknown, as_size, size_value

DEVICE = Record("torch.device", (("type", "cpu"), ("index", None)))

if TYPE_CHECKING:
    from .evaluator import Evaluator


def _x(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST, key: str = "input") -> TensorValue | Unknown:
    value = args[0] if args else kwargs.get(key, kwargs.get("self"))
    return ev.as_tensor(value, node)


def _dim(d: Any, rank: int) -> int | None:
    if isinstance(d, bool) or not isinstance(d, int):
        return None
    return d % rank if -rank <= d < rank else None


def _sizes_arg(args: list[Any]) -> list[Any]:
    """``view(a, b, c)`` or ``view((a, b, c))``."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return list(args[0])
    return list(args)


def relaid(ev: "Evaluator", x: TensorValue, new: Layout | None, node: ast.AST, name: str, *, targets: int | None = None) -> Any:
    """The tensor with a new layout; a space-to-depth arrangement becomes a PixelUnshuffle
    node; positions merged with channels into a vector (``flatten(1)``) end the map;
    anything else that cannot be related is Opaque."""
    if new is None:
        if targets is not None and targets <= 2:
            return ev.add_node(EndSpatial(), [x.node], name, node, layout=(Dim((lay.BATCH,)), Dim((Factor("C", key=("ended", x.node)),)))[:targets])
        return ev.opaque(x, f"{name} to a shape rflint cannot relate to the input's positions", node, name)
    factor = _space_to_depth(new, ev.ndim)
    if factor is not None:
        return ev.add_node(PixelUnshuffle(factor, ev.ndim), [x.node], name, node)
    if len(new) <= 2 and any(lay.spatial_factors(d) and any(f.kind == "C" for f in d.factors) for d in new):
        return ended(ev, x, new, node, name)
    return ev.tensor(x.node, new)


def ended(ev: "Evaluator", x: TensorValue, layout: Layout, node: ast.AST, name: str) -> TensorValue:
    """The map ends here (flattened into a vector, a class token picked): an EndSpatial node
    whose tensor keeps its dimensions, now without positions."""
    return ev.add_node(EndSpatial(), [x.node], name, node, layout=lay.forget_positions(layout, ev.map_sizes(x.node)))


def _space_to_depth(layout: Layout, ndim: int) -> int | None:
    """``f`` when the layout is a map downsampled by ``f`` whose channels hold the
    ``f x f`` positions of each block (what PixelUnshuffle makes)."""
    if len(layout) != ndim + 2 or layout[0].factors != (lay.BATCH,):
        return None
    inner = [f for f in layout[1].factors if f.kind == "S"]
    if not inner:
        return None
    factor = None
    for a, d in enumerate(layout[2:]):
        if len(d.factors) != 1 or d.factors[0].kind != "S" or d.factors[0].axis != a or d.factors[0].count is not None:
            return None
        f = d.factors[0].stride
        mine = [g for g in inner if g.axis == a]
        if len(mine) != 1 or mine[0].stride != 1 or mine[0].count != f or (factor is not None and f != factor):
            return None
        factor = f
    # torch's PixelUnshuffle orders channels as (C, f, f); TResNet's SpaceToDepth as (f, f, C).
    # The order of the channels moves no position: either is a PixelUnshuffle for the frame.
    return factor


# ---------------------------------------------------------------------- sizes


def _shape(ev: "Evaluator", x: TensorValue) -> tuple[Any, ...]:
    return ev.shape_of(x)


def _size(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = args[0]
    if not isinstance(x, TensorValue):
        return Unknown("size of a value that is not a tensor")
    shape = ev.shape_of(x)
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if dim is None:
        return shape
    d = _dim(dim, len(shape))
    return shape[d] if d is not None else Unknown(f"size({dim!r}) of a tensor of rank {len(shape)}")


def _rank(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = args[0]
    return len(ev.layout_of(x)) if isinstance(x, TensorValue) else Unknown("rank of a value that is not a tensor")


METHODS["size"] = _size
METHODS["dim"] = _rank
METHODS["ndimension"] = _rank
METHODS["numel"] = lambda ev, args, kwargs, node: Unknown("numel() counts the batch, which is not known")


def tensor_attribute(ev: "Evaluator", x: TensorValue, name: str) -> Any:
    """``x.shape``, ``x.ndim``, ``x.T``...; None for a name that is a method."""
    if name == "shape":
        return _shape(ev, x)
    if name == "ndim":
        return len(ev.layout_of(x))
    if name in ("device", "dtype", "is_cuda", "requires_grad", "grad", "data", "layout", "names"):
        if name == "data":
            return x
        if name == "device":
            return DEVICE
        if name == "dtype":
            return ExternalRef("torch.float32")  # the default float dtype: what rflint reads models at
        if name == "is_cuda":
            return False
        return Unknown(f"Tensor.{name} (not modelled)")
    if name == "mT":
        rank = len(ev.layout_of(x))
        return _reorder(ev, x, [*range(rank - 2), rank - 1, rank - 2], ast.Name("mT"), "mT")
    return None


# ---------------------------------------------------------------------- rearrangements


def _targets(ev: "Evaluator", values: list[Any], nid: int | None = None) -> list[lay.Size | None] | Unknown:
    """The sizes of a reshape (None for ``-1``); with ``nid``, as sizes of node ``nid``'s
    map (see :func:`_read_here`)."""
    out: list[lay.Size | None] = []
    for v in values:
        if isinstance(v, Unknown):
            return v
        if isinstance(v, int) and not isinstance(v, bool) and v == -1:
            out.append(None)
            continue
        size = as_size(v)
        if size is None:
            return Unknown(f"a shape entry that is not a size ({type(v).__name__})")
        out.append(_read_here(ev, size, getattr(v, "node", None), nid) if nid is not None else size)
    return out


def _read_here(ev: "Evaluator", size: lay.Size, source: int | None, nid: int) -> lay.Size:
    """``size`` read from node ``source``'s map, as a size of node ``nid``'s: its spatial
    parts name ``source``'s axes, so where the two maps differ in size (Hiera's
    ``H // 8`` of the stem, used to roll back a map pooled twice) they are numbers. When
    these do not fit, the sizes as read are tried: a windowed batch size read from another
    map (GCViT's global queries repeated over its windows) is matched by what it counts."""
    if source is None or source == nid or not any(a[0] == "S" for a in size.atoms):
        return size
    theirs, mine = ev.map_sizes(source), ev.map_sizes(nid)
    if theirs == mine or None in theirs or None in mine:
        return size
    numeric = lay.concrete(size, theirs)
    return size if any(a[0] == "S" for a in numeric.atoms) else numeric


def _reshape(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    shape = _sizes_arg(args[1:]) if len(args) > 1 else list(kwargs.get("shape", ()))
    targets = _targets(ev, shape)
    if isinstance(targets, Unknown):
        return ev.opaque(x, f"reshape to a shape that is not known ({targets.reason})", node, "reshape")
    layout = ev.layout_of(x)
    here = _targets(ev, shape, x.node)
    new = None
    if not isinstance(here, Unknown) and here != targets:
        new = lay.reshape(layout, ev.map_sizes(x.node), here)
        targets = here if new is not None else targets
    if new is None:
        new = lay.reshape(layout, ev.map_sizes(x.node), targets)
    if new is None and not lay.has_positions(layout):
        # Without positions any shape will do: channel-like dimensions of the sizes asked.
        new = tuple(Dim((Factor("C", count=t.value) if t is not None and t.value is not None else Factor("C", key=("reshape", id(node), i)),))
                    for i, t in enumerate(targets))
        return ev.tensor(x.node, new)
    return relaid(ev, x, new, node, "reshape", targets=len(targets))


def _reorder(ev: "Evaluator", x: TensorValue, order: list[int], node: ast.AST, name: str) -> Any:
    new = lay.permute(ev.layout_of(x), order)
    if new is None:
        return ev.opaque(x, f"{name} with dimensions rflint cannot read", node, name)
    return relaid(ev, x, new, node, name)


def _permute(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    dims = _sizes_arg(args[1:]) if len(args) > 1 else list(kwargs.get("dims", ()))
    rank = len(ev.layout_of(x))
    order = [_dim(d, rank) for d in dims]
    if len(order) != rank or any(d is None for d in order):
        return ev.opaque(x, "permute with dimensions that are not known", node, "permute")
    return _reorder(ev, x, order, node, "permute")  # type: ignore[arg-type]


def _transpose(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    rank = len(ev.layout_of(x))
    a, b = (list(args[1:3]) + [kwargs.get("dim0"), kwargs.get("dim1")])[:2]
    a, b = _dim(a, rank), _dim(b, rank)
    if a is None or b is None:
        return ev.opaque(x, "transpose of dimensions that are not known", node, "transpose")
    order = list(range(rank))
    order[a], order[b] = order[b], order[a]
    return _reorder(ev, x, order, node, "transpose")


def _movedim(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    rank = len(ev.layout_of(x))
    src, dst = _dim(args[1], rank) if len(args) > 1 else None, _dim(args[2], rank) if len(args) > 2 else None
    if src is None or dst is None:
        return ev.opaque(x, "movedim of dimensions that are not known", node, "movedim")
    order = [d for d in range(rank) if d != src]
    order.insert(dst, src)
    return _reorder(ev, x, order, node, "movedim")


def _flatten(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call, default_start: int = 0) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    start = args[1] if len(args) > 1 else kwargs.get("start_dim", default_start)
    end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
    if not isinstance(start, int) or not isinstance(end, int):
        return ev.opaque(x, "flatten of dimensions that are not known", node, "flatten")
    layout = ev.layout_of(x)
    new = lay.flatten(layout, start, end)
    return relaid(ev, x, new, node, "flatten", targets=len(new) if new is not None else None)


def _unflatten(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    layout = ev.layout_of(x)
    d = _dim(args[1] if len(args) > 1 else kwargs.get("dim"), len(layout))
    sizes = args[2] if len(args) > 2 else kwargs.get("sizes")
    if d is None or not isinstance(sizes, (list, tuple)):
        return ev.opaque(x, "unflatten with arguments that are not known", node, "unflatten")
    shape = ev.shape_of(x)
    return _reshape(ev, [x, *shape[:d], *sizes, *shape[d + 1:]], {}, node)


def _squeeze(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    layout = ev.layout_of(x)
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    sizes = ev.dim_sizes(x)
    dims = range(len(layout)) if dim is None else [_dim(d, len(layout)) for d in (dim if isinstance(dim, (list, tuple)) else [dim])]
    keep = [i for i in range(len(layout)) if not (i in dims and sizes[i].is_one)]
    return ev.tensor(x.node, tuple(layout[i] for i in keep))


def _unsqueeze(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if not isinstance(dim, int):
        return ev.opaque(x, "unsqueeze of a dimension that is not known", node, "unsqueeze")
    return ev.tensor(x.node, lay.unit(ev.layout_of(x), dim))


for _name, _handler in (("view", _reshape), ("reshape", _reshape), ("permute", _permute), ("transpose", _transpose),
                        ("swapaxes", _transpose), ("swapdims", _transpose), ("movedim", _movedim),
                        ("moveaxis", _movedim), ("unflatten", _unflatten), ("squeeze", _squeeze),
                        ("unsqueeze", _unsqueeze)):
    METHODS[_name] = _handler
    FUNCTIONS[f"torch.{_name}"] = _handler
METHODS["flatten"] = _flatten
FUNCTIONS["torch.flatten"] = _flatten
METHODS["view_as"] = lambda ev, args, kwargs, node: _reshape(ev, [args[0], *ev.shape_of(args[1])], {}, node) \
    if len(args) > 1 and isinstance(args[1], TensorValue) else Unknown("view_as of a value that is not a tensor")
METHODS["reshape_as"] = METHODS["view_as"]


def _expand(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``expand``/``expand_as`` broadcast dimensions of size one: no position moves."""
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    return x


METHODS["expand"] = _expand
METHODS["expand_as"] = _expand


def _repeat(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    reps = _sizes_arg(args[1:])
    layout = ev.layout_of(x)
    if len(reps) == len(layout) and all(r == 1 or not lay.spatial_factors(d) for r, d in zip(reps, layout)):
        # copies along batch or channels: every position keeps its field
        if all(r == 1 for r in reps):
            return x
        sizes = ev.map_sizes(x.node)
        new = tuple(d if r == 1 else _times(d, r, sizes, (id(node), i)) for i, (r, d) in enumerate(zip(reps, layout)))
        return ev.tensor(x.node, new)
    return ev.opaque(x, "repeat along a spatial dimension", node, "repeat")


def _times(d: Dim, r: Any, sizes: tuple[int | None, ...], key: object) -> Dim:
    """A dimension without positions repeated ``r`` times: its count times ``r``."""
    if any(f.kind == "N" for f in d.factors):
        return d
    size = lay.dim_size(d, sizes)
    if size.value is not None and isinstance(r, int) and not isinstance(r, bool):
        return Dim((Factor("C", count=size.value * r),))
    return Dim((Factor("C", key=("repeat", key)),))


def _repeat_interleave(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``k.repeat_interleave(heads // kv_heads, dim=1)`` (grouped-query attention): along a
    dimension without positions every position keeps its field; the count grows."""
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    repeats = args[1] if len(args) > 1 else kwargs.get("repeats")
    dim = args[2] if len(args) > 2 else kwargs.get("dim")
    if dim is None:
        return ev.opaque(x, "repeat_interleave of the flattened tensor", node, "repeat_interleave")
    found = _along(ev, x, dim, node, "repeat_interleave")
    if not isinstance(found, tuple):
        return found
    layout, d = found
    if lay.spatial_factors(layout[d]) or layout[d].extra:
        return ev.opaque(x, "repeat_interleave along a dimension holding positions", node, "repeat_interleave")
    new = layout[:d] + (_times(layout[d], repeats, ev.map_sizes(x.node), id(node)),) + layout[d + 1:]
    return ev.tensor(x.node, new)


METHODS["repeat"] = _repeat
METHODS["repeat_interleave"] = _repeat_interleave
FUNCTIONS["torch.repeat_interleave"] = _repeat_interleave


# ---------------------------------------------------------------------- splitting and joining


def _along(ev: "Evaluator", x: TensorValue, dim: Any, node: ast.AST, name: str) -> tuple[Layout, int] | Any:
    layout = ev.layout_of(x)
    d = _dim(dim, len(layout))
    if d is None:
        return ev.opaque(x, f"{name} along a dimension that is not known", node, name)
    return layout, d


def _chunk(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``x.chunk(n, dim)`` / ``x.split(size, dim)``: parts along a dimension without positions
    keep every position; along positions they are cropped maps (said, not modelled)."""
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    spec = args[1] if len(args) > 1 else kwargs.get("chunks", kwargs.get("split_size_or_sections", kwargs.get("split_size")))
    dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    found = _along(ev, x, dim, node, "split")
    if not isinstance(found, tuple):
        return found
    layout, d = found
    chunk = getattr(node, "func", None) is not None and getattr(node.func, "attr", getattr(node.func, "id", "")) == "chunk"
    if isinstance(spec, (list, tuple)):
        n: Any = len(spec)
    elif chunk and isinstance(spec, int):
        n = spec
    else:
        size = ev.dim_sizes(x)[d]
        n = -(-size.value // spec) if isinstance(spec, int) and spec > 0 and size.value is not None else None
    if n is None:
        return ev.unknown("split into a number of parts that depends on a size that is not known", node)
    if lay.spatial_factors(layout[d]) or layout[d].extra:
        parts = [ev.opaque(x, f"split along a dimension holding positions ({d})", node, "split") for _ in range(n)]
        return tuple(parts)
    if any(f.kind == "N" for f in layout[d].factors):
        return tuple(x for _ in range(n))  # parts of the batch: the batch size stays symbolic
    total = ev.dim_sizes(x)[d].value
    counts: list[int | None]
    if isinstance(spec, (list, tuple)):
        counts = [v if isinstance(v, int) and not isinstance(v, bool) else None for v in spec]
    elif total is not None:
        step = -(-total // n) if chunk else spec
        counts = [min(step, total - i) for i in range(0, total, step)] if isinstance(step, int) and step > 0 else [None] * n
    else:
        counts = [None] * n
    parts = []
    for i, count in enumerate(counts):
        if count is not None:
            piece = Dim((Factor("C", count=count),))
        elif chunk and len(layout[d].factors) == 1 and layout[d].factors[0].key is not None \
                and not isinstance(layout[d].factors[0].key, tuple):
            piece = Dim((Factor("C", key=("part", layout[d].factors[0].key, n)),))  # equal parts of an unknown count
        else:
            piece = Dim((Factor("C", key=("split", id(node), i)),))
        parts.append(ev.tensor(x.node, layout[:d] + (piece,) + layout[d + 1:]))
    return tuple(parts)


def _unbind(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    found = _along(ev, x, args[1] if len(args) > 1 else kwargs.get("dim", 0), node, "unbind")
    if not isinstance(found, tuple):
        return found
    layout, d = found
    size = ev.dim_sizes(x)[d]
    if size.value is None:
        return ev.unknown("unbind of a dimension whose size is not known", node)
    if lay.spatial_factors(layout[d]) or layout[d].extra:
        return ev.unknown("unbind along a dimension holding positions", node)
    return tuple(ev.tensor(x.node, lay.remove(layout, d)) for _ in range(size.value))


for _name, _handler in (("chunk", _chunk), ("split", _chunk), ("tensor_split", _chunk), ("unbind", _unbind)):
    METHODS[_name] = _handler
    FUNCTIONS[f"torch.{_name}"] = _handler


class _Empty:
    """A slice that selects nothing along a dimension holding positions (``x[:, :0]``)."""

    def __repr__(self) -> str:
        return "<empty slice>"


EMPTY = _Empty()


def _join_values(tensors: Any, dim: Any, stack: bool) -> ParamValue:
    """cat/stack of tensors whose values are not all held: a tensor of the joined shape."""
    shapes = [consttensor.shape_of(t) for t in tensors]
    if any(s is None for s in shapes) or not isinstance(dim, int) or isinstance(dim, bool):
        return ParamValue("a joined tensor")
    first = shapes[0]
    rank = len(first) + (1 if stack else 0)
    if not -rank <= dim < rank or any(len(s) != len(first) for s in shapes):
        return ParamValue("a joined tensor")
    d = dim % rank
    if stack:
        return ParamValue("a stacked tensor", first[:d] + (len(shapes),) + first[d:])
    return ParamValue("a concatenated tensor", first[:d] + (sum(s[d] for s in shapes),) + first[d + 1:])


def _join(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call, stack: bool) -> Any:
    """``torch.cat``/``torch.stack``: along channels a concat; a class token put in front of
    the tokens (a tensor without positions) makes extra tokens; along positions, Opaque."""
    name = "torch.stack" if stack else "torch.cat"
    tensors = args[0] if args else kwargs.get("tensors")
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    if isinstance(tensors, (list, tuple)) and not stack:
        tensors = [t for t in tensors if t is not EMPTY]  # concatenating nothing adds nothing
    if not isinstance(tensors, (list, tuple)) or not tensors:
        return ev.unknown(f"{name} of a sequence that is not known", node)
    if len(tensors) == 1 and isinstance(tensors[0], TensorValue):
        return tensors[0]
    maps = [t for t in tensors if isinstance(t, TensorValue)]
    others = [t for t in tensors if not isinstance(t, TensorValue)]
    bad = next((t for t in others if isinstance(t, Unknown)), None)
    if bad is not None or not maps:
        if bad is not None and maps:
            return ev.opaque(maps + [ev.as_tensor(bad, node)], bad.reason, node, name)  # type: ignore[list-item]
        if bad is None and all(isinstance(t, (ParamValue, ConstTensor)) for t in tensors):
            return _join_values(tensors, dim, stack)  # constants too large to hold, or mixed with held ones
        return bad if bad is not None else ev.unknown(f"{name} of values that are not tensors", node)
    layout = ev.layout_of(maps[0])
    rank = len(layout) + (1 if stack else 0)
    d = _dim(dim, rank)
    if d is None:
        return ev.opaque(maps, f"{name} along a dimension that is not known", node, name)
    positional = [m for m in maps if lay.has_positions(ev.layout_of(m))]
    if stack:
        new = lay.unit(layout, d)
        new = new[:d] + (Dim((Factor("C", count=len(tensors)),)),) + new[d + 1:]
        return ev.add_node(Merge("concat"), [m.node for m in maps], name, node, layout=new)
    if not lay.spatial_factors(layout[d]) and not layout[d].extra:
        # Along channels, a constant (a coordinate grid) spans the positions of the map it
        # joins, whatever its shape says: it joins as a Constant node.
        constants = [ev.add_node(Constant(), [0], "constant", node, {"constant": True})
                     for t in others if isinstance(t, (ParamValue, ConstTensor))]
        counts = [ev.dim_sizes(m)[d].value if d < len(ev.layout_of(m)) else None for m in maps]
        attrs: dict[str, Any] = {}
        if not constants and all(isinstance(c, int) for c in counts) and not any(f.kind == "N" for f in layout[d].factors):
            # The parts' own counts (a chunk of a map has half its channels), not their nodes'
            joined = Dim((Factor("C", count=sum(counts)),))  # type: ignore[arg-type]
            layout = layout[:d] + (joined,) + layout[d + 1:]
            if d == 1:
                attrs["out_channels"] = sum(counts)  # type: ignore[arg-type]
        return ev.add_node(Merge("concat"), [m.node for m in maps] + [c.node for c in constants], name, node, attrs,
                           layout=layout)
    if len(positional) == 1 and all(_token_count(ev, t, d) is not None for t in tensors if t is not positional[0]):
        # Class or register tokens put before (or after) the positions: extra tokens.
        before = sum(_token_count(ev, t, d) or 0 for t in tensors[: tensors.index(positional[0])])
        after = sum(_token_count(ev, t, d) or 0 for t in tensors[tensors.index(positional[0]) + 1:])
        if after == 0:
            inputs = [m.node for m in maps]
            target = layout[d]
            new = layout[:d] + (Dim(target.factors, target.extra + before),) + layout[d + 1:]
            if len(inputs) == 1:
                return ev.tensor(inputs[0], new)
            return ev.add_node(Merge("concat"), inputs, name, node, layout=new)
    return ev.opaque(maps, f"{name} along a dimension holding positions", node, name)


def _token_count(ev: "Evaluator", t: Any, d: int) -> int | None:
    """How many tokens a tensor without positions adds along ``d`` (a class token: 1)."""
    if isinstance(t, ParamValue) and t.shape is not None and d < len(t.shape):
        return t.shape[d]
    if isinstance(t, TensorValue) and not lay.has_positions(ev.layout_of(t)):
        size = ev.dim_sizes(t)[d] if d < len(ev.layout_of(t)) else None
        return size.value if size is not None else None
    if isinstance(t, ConstTensor) and d < len(t.shape):
        return t.shape[d]
    return None


FUNCTIONS["torch.cat"] = lambda ev, args, kwargs, node: _join(ev, args, kwargs, node, False)
FUNCTIONS["torch.concat"] = FUNCTIONS["torch.cat"]
FUNCTIONS["torch.concatenate"] = FUNCTIONS["torch.cat"]
FUNCTIONS["torch.stack"] = lambda ev, args, kwargs, node: _join(ev, args, kwargs, node, True)


def _roll(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
    """``torch.roll`` along whole spatial axes: a shift of the positions (Swin's shifted windows)."""
    x = _x(ev, args, kwargs, node)
    if isinstance(x, Unknown):
        return x
    shifts = args[1] if len(args) > 1 else kwargs.get("shifts")
    dims = args[2] if len(args) > 2 else kwargs.get("dims")
    shifts = list(shifts) if isinstance(shifts, (list, tuple)) else [shifts]
    dims = list(dims) if isinstance(dims, (list, tuple)) else [dims]
    layout = ev.layout_of(x)
    amount = [0] * ev.ndim
    for s, d in zip(shifts, dims):
        i = _dim(d, len(layout))
        if i is None or not isinstance(s, int):
            return ev.opaque(x, "roll by an amount that is not known", node, "roll")
        factors = layout[i].factors
        if len(factors) != 1 or factors[0].kind != "S" or factors[0].stride != 1 or factors[0].count is not None:
            if lay.spatial_factors(layout[i]):
                return ev.opaque(x, "roll along part of a spatial axis", node, "roll")
            continue  # a roll of channels moves no position
        amount[factors[0].axis] += s
    if not any(amount):
        return x
    return ev.add_node(Shift(tuple(amount)), [x.node], "roll", node, layout=x.layout)


FUNCTIONS["torch.roll"] = _roll
METHODS["roll"] = _roll


# ---------------------------------------------------------------------- indexing


def index(ev: "Evaluator", x: TensorValue, key: Any, node: ast.AST) -> Any:
    """``x[...]``: integers and slices along dimensions. Along batch or channels they keep
    every position; ``x[:, 0]`` of tokens with a class token picks it (no position left:
    the map ends); ``x[:, 1:]`` drops it again; a crop of a spatial axis to its own size
    (after padding) is exact when sizes are known."""
    keys = list(key) if isinstance(key, tuple) else [key]
    layout = list(ev.layout_of(x))
    if any(k is Ellipsis for k in keys):
        at = keys.index(Ellipsis)
        fill = len(layout) - (len(keys) - 1 - sum(k is None for k in keys))
        keys = keys[:at] + [slice(None)] * fill + keys[at + 1:]
    out: list[Dim] = []
    crops: list[tuple[int, int, int]] = []  # (axis, start, stop) of spatial crops
    i = 0
    sizes = ev.map_sizes(x.node)
    for k in keys:
        if k is None:
            out.append(Dim(()))
            continue
        if i >= len(layout):
            return ev.opaque(x, "an index with more entries than the tensor has dimensions", node, "index")
        d = layout[i]
        i += 1
        if isinstance(k, slice) and k.start in (None, 0) and k.stop is None and k.step in (None, 1):
            out.append(d)
            continue
        positions = lay.spatial_factors(d)
        if not positions and not d.extra:
            if isinstance(k, int) or _is_size(k):
                continue  # one channel (or one batch element): positions kept
            if isinstance(k, slice):
                out.append(_sliced(d, k, sizes, (id(node), i)))  # some channels
                continue
            return ev.opaque(x, "indexing channels with a value rflint does not model", node, "index")
        if d.extra and isinstance(k, int) and not isinstance(k, bool):
            continue  # one token (a class token): no position left along this dimension
        if d.extra and isinstance(k, slice) and k.step in (None, 1) and k.stop is None and _int(k.start) == d.extra:
            out.append(Dim(d.factors))  # the class tokens dropped
            continue
        if d.extra and isinstance(k, slice) and k.step in (None, 1) and k.start in (None, 0) and _int(k.stop) == d.extra:
            out.append(Dim((Factor("C", count=d.extra),)))  # the class tokens alone: no position
            continue
        if isinstance(k, slice) and k.step in (None, 1) and _int(k.start) in (None, 0) and _int(k.stop) == 0:
            return EMPTY  # x[:, :, :npt] with no prefix tokens: nothing (what torch.cat then skips)
        crop = _crop(d, k, sizes)
        if crop is None:
            return ev.opaque(x, "indexing along a dimension holding positions", node, "index")
        crops.append(crop)
        out.append(d)
    out.extend(layout[i:])
    result = ev.tensor(x.node, tuple(out))
    if crops:
        from ...ir import Window

        pads = [(0, 0)] * ev.ndim
        strides = [1] * ev.ndim
        for axis, start, stop, step in crops:
            n = sizes[axis]
            pads[axis] = (-start, stop - n)  # type: ignore[operator]
            strides[axis] = step
        n = ev.ndim
        # A crop is a padding by negative amounts; a strided slice (``x[:, ::2, ::2]``,
        # LeViT's subsampling) is exactly AvgPool(kernel_size=1, stride=2): it aliases.
        kind, name = ("pad", "crop") if all(st == 1 for st in strides) else ("avg_pool", "subsample")
        result = ev.add_node(Window(kind, (1,) * n, tuple(strides), (1,) * n, tuple(pads)), [x.node], name, node,
                             layout=tuple(out) if x.layout is not None else None)
    if not lay.has_positions(tuple(out)) and lay.has_positions(tuple(layout)):
        return ended(ev, x, tuple(out), node, "index")
    return result


def _sliced(d: Dim, k: slice, sizes: tuple[int | None, ...], key: object) -> Dim:
    """Some channels of a dimension without positions (``x[..., 1::2]``), with their count:
    the same dimension when the slice keeps it whole, half of it for a step of 2 from 0 or 1
    (the interleaved halves of a rotary embedding), else a count of its own."""
    if any(f.kind == "N" for f in d.factors):
        return d  # part of the batch: the batch size stays symbolic
    size = lay.dim_size(d, sizes)
    if size.value is not None and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (k.start, k.stop, k.step)):
        return Dim((Factor("C", count=len(range(*k.indices(size.value)))),))
    if k.stop is None and k.step == 2 and k.start in (None, 0, 1) and len(d.factors) == 1 and d.factors[0].key is not None \
            and not isinstance(d.factors[0].key, tuple):
        return Dim((Factor("C", key=("part", d.factors[0].key, 2)),))
    return Dim((Factor("C", key=("slice", key)),))


def _crop(d: Dim, k: Any, sizes: tuple[int | None, ...]) -> tuple[int, int, int, int] | None:
    """A slice of a whole spatial axis whose size is known: (axis, start, stop, step)."""
    if not isinstance(k, slice) or d.extra:
        return None
    step = 1 if k.step is None else _int(k.step)
    if not isinstance(step, int) or isinstance(step, bool) or step < 1:
        return None
    if len(d.factors) != 1 or d.factors[0].kind != "S" or d.factors[0].stride != 1 or d.factors[0].count is not None:
        return None
    axis = d.factors[0].axis
    n = sizes[axis] if axis < len(sizes) else None
    if n is None:
        return None
    start, stop, _ = slice(_int(k.start), _int(k.stop)).indices(n)
    return (axis, start, stop, step) if stop > start else None


def _int(v: Any) -> Any:
    if isinstance(v, SizeValue):
        return int(v)
    return v


def _is_size(v: Any) -> bool:
    return isinstance(v, (SizeValue, SymSize))


__all__ = ["index", "relaid", "tensor_attribute", "size_value", "Handler"]
