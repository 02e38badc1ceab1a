"""The Graph IR: the one data model every reader produces and every rule reads.

A graph is a list of nodes in topological order; node 0 is the model input.
Each node carries an operator (pure geometry, per spatial axis), the ids of
its inputs, and where it was written. Everything is immutable and hashable so
that analyses can be cached and graphs shared between threads.

The operators describe only what the receptive-field algebra needs; facts a
rule may want about the layer but the algebra does not (channels, groups,
padding mode, the class name) live in ``Node.attrs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, Mapping

Pads = tuple[tuple[int, int], ...]
"""Per spatial axis, (padding before, padding after). Negative values crop."""


@dataclass(frozen=True)
class NodeRef:
    """A node of an exported graph (ONNX, torch.export): where a finding is in a file
    that has no source lines. ``index`` is the node's position in the file's graph."""

    name: str
    op_type: str
    index: int

    def __str__(self) -> str:
        return f"{self.op_type} #{self.index} {self.name!r}" if self.name else f"{self.op_type} #{self.index}"


@dataclass(frozen=True)
class Location:
    """Where a node was written. Lines and columns are 1-based, as editors show them.

    ``chain`` lists the call sites that led to ``line`` when the line is a
    shared helper (``conv3x3``): outermost first, each as ``file:line name``.
    ``node`` is set for exported models (ONNX, ``.pt2``), whose files have no lines:
    ``line`` and ``col`` are then 1 and the node is the place.
    """

    file: str
    line: int
    col: int = 1
    end_line: int | None = None
    end_col: int | None = None
    chain: tuple[str, ...] = ()
    node: NodeRef | None = None

    def __str__(self) -> str:
        if self.node is not None:
            return f"{self.file}::{self.node}"
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def place(self) -> tuple[str, int, int, int]:
        """What makes two locations one place for reporting: file, line and column, and the
        node's index for exported models (whose nodes all sit at line 1, column 1)."""
        return (self.file, self.line, self.col, self.node.index if self.node is not None else -1)


# --------------------------------------------------------------------------- operators


@dataclass(frozen=True)
class Op:
    """Base class of the operators. Subclasses are plain frozen records."""

    @property
    def spatial_ndim(self) -> int | None:
        """How many spatial axes the operator fixes (None: works for any)."""
        return None


WindowKind = Literal["conv", "max_pool", "avg_pool", "lp_pool", "pad"]


@dataclass(frozen=True)
class Window(Op):
    """Conv, pooling, padding and cropping: output ``o`` reads ``o*s - p + t*d``, ``t < k``.

    ``padding`` is explicit per axis (before, after); readers resolve
    ``'same'`` and ``'valid'``. ``ceil_mode`` only affects output sizes.
    """

    kind: WindowKind
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: Pads
    ceil_mode: bool = False

    @property
    def spatial_ndim(self) -> int:
        return len(self.kernel)

    def span(self, axis: int) -> int:
        """Effective kernel span ``K = d*(k-1) + 1``."""
        return self.dilation[axis] * (self.kernel[axis] - 1) + 1


@dataclass(frozen=True)
class TransposedConv(Op):
    """Transposed convolution: output ``o`` reads input ``i`` where ``o = i*s - p + t*d``."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...]

    @property
    def spatial_ndim(self) -> int:
        return len(self.kernel)


ResampleMode = Literal["nearest", "nearest-exact", "linear", "cubic"]


@dataclass(frozen=True)
class Resample(Op):
    """Upsample / interpolate. Exactly one of ``scale``, ``size`` and ``like`` is set.

    ``linear`` covers linear, bilinear and trilinear (one axis at a time); ``cubic`` is
    bicubic (four taps per axis, PyTorch's cubic convolution with A = -0.75).
    """

    mode: ResampleMode
    scale: tuple[Fraction, ...] | None = None
    size: tuple[int, ...] | None = None
    align_corners: bool = False
    like: int | None = None  # resample to the spatial size of this node's output (``size=x.shape[-2:]``)

    @property
    def spatial_ndim(self) -> int | None:
        return len(self.scale if self.scale is not None else self.size or ()) or None


@dataclass(frozen=True)
class PixelShuffle(Op):
    """Depth to space by ``factor`` on every spatial axis (2-D in PyTorch)."""

    factor: int
    ndim: int = 2

    @property
    def spatial_ndim(self) -> int:
        return self.ndim


@dataclass(frozen=True)
class PixelUnshuffle(Op):
    """Space to depth by ``factor``: per axis a window with ``k = s = factor``."""

    factor: int
    ndim: int = 2

    @property
    def spatial_ndim(self) -> int:
        return self.ndim


@dataclass(frozen=True)
class Pointwise(Op):
    """Keeps every spatial position where it is: norms, activations, dropout, channel ops."""


MergeKind = Literal["add", "mul", "concat"]


@dataclass(frozen=True)
class Merge(Op):
    """Elementwise add/mul or channel concat of two or more tensors."""

    kind: MergeKind


@dataclass(frozen=True)
class Global(Op):
    """Every output value depends on the whole input: global or adaptive pooling, attention.

    The local frame ends here; the result carries the global flag.
    """

    output_size: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Mix(Op):
    """Token mixing (attention, an MLP over positions): each output depends on every input
    position of its window, per axis. ``window[a]`` is the window's size along axis ``a``
    (1: no mixing along it; None: the whole axis, global), ``offset[a]`` where windows
    start (a shifted window starts at ``-offset``): output ``o`` reads the ``i`` with
    ``floor((i + offset) / window) == floor((o + offset) / window)``. Sizes are kept.
    Mixing over a whole axis ends the local frame, as a global operation does."""

    window: tuple[int | None, ...]
    offset: tuple[int, ...]

    @property
    def spatial_ndim(self) -> int:
        return len(self.window)

    @property
    def is_global(self) -> bool:
        return any(w is None for w in self.window)


@dataclass(frozen=True)
class Shift(Op):
    """``torch.roll`` along spatial axes: output ``o`` reads ``o - amount`` (cyclically;
    the frame describes the interior, as for every operator)."""

    amount: tuple[int, ...]

    @property
    def spatial_ndim(self) -> int:
        return len(self.amount)


@dataclass(frozen=True)
class Constant(Op):
    """A tensor that does not depend on the model input but varies over positions (a
    coordinate grid, a position embedding), combined with a map: it adds no receptive
    field and no global context, and says the model knows where it is (CC101)."""


@dataclass(frozen=True)
class SideInput(Op):
    """An input of the model that holds no image positions (a diffusion timestep, a class
    label, a text embedding), broadcast into maps: it adds no receptive field, no global
    image context, and is not a coordinate. Its one input is the image input, which it
    does not read (the graph keeps one source)."""


@dataclass(frozen=True)
class EndSpatial(Op):
    """Flatten, reshape that merges spatial axes, linear on flattened features."""


@dataclass(frozen=True)
class Opaque(Op):
    """An operation whose effect on the spatial frame is not known: the frame becomes Unknown."""

    reason: str


# --------------------------------------------------------------------------- graph


@dataclass(frozen=True)
class Node:
    """One operator application. ``name`` is the module path (``layer1.0.conv1``) or ''."""

    id: int
    op: Op
    inputs: tuple[int, ...]
    type_name: str
    name: str = ""
    loc: Location | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Unresolved:
    """Something a reader could not resolve, said with where and why (never guessed)."""

    reason: str
    loc: Location | None = None


@dataclass(frozen=True)
class Graph:
    """A model as a DAG. ``nodes[0]`` is the input; ``outputs`` name the result tensors.

    ``complete`` is False when the reader could not follow the whole forward
    pass: the nodes are then the layers it saw, and model-level rules skip it.
    """

    name: str
    nodes: tuple[Node, ...]
    outputs: tuple[tuple[str, int], ...]
    ndim: int
    loc: Location | None = None
    complete: bool = True
    unresolved: tuple[Unresolved, ...] = ()
    assumptions: tuple[Unresolved, ...] = ()
    """What the reading assumed and says so (an environment variable unset, a constructor
    argument without a default taken as symbolic): not unresolved, but not silent."""

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id]

    def consumers(self) -> dict[int, list[int]]:
        """Map from node id to the ids of the nodes that read it."""
        out: dict[int, list[int]] = {n.id: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.id)
        return out


MAX_GEOMETRY = 4096
"""The largest kernel, stride, dilation, padding, window, shuffle factor and resampling
ratio term rflint analyses. Real layers stay far below it (RepLKNet's 31, SLaK's 51, an
audio front end's 400); a file that asks for ``Conv2d(8, 8, 10**40)`` gets an unknown
layer that says so, never an algebra that works per tap or per phase until memory runs
out."""

MAX_INPUT_SIZE = 1 << 24
"""The largest input size per axis (16,777,216: a 6-minute 44.1 kHz recording)."""


def geometry_bound(op: "Op") -> str | None:
    """Why ``op``'s numbers are larger than rflint analyses (or a kernel, stride, dilation
    or scale is not positive, which torch rejects), or None."""
    geometry: list[tuple[str, int]] = []  # bounded by MAX_GEOMETRY
    sizes: list[tuple[str, int]] = []  # bounded by MAX_INPUT_SIZE
    if isinstance(op, (Window, TransposedConv)):
        for what, values in (("kernel size", op.kernel), ("stride", op.stride), ("dilation", op.dilation)):
            if any(not isinstance(v, int) or v <= 0 for v in values):
                return f"{what} {tuple(values)} must be positive (torch rejects it)"
            geometry += [(what, v) for v in values]
        pads = [p for pad in op.padding for p in pad] if isinstance(op, Window) else [*op.padding, *op.output_padding]
        geometry += [("padding", abs(p)) for p in pads]
    elif isinstance(op, (PixelShuffle, PixelUnshuffle)):
        geometry = [("factor", op.factor)]
    elif isinstance(op, Resample):
        if any(f <= 0 for f in op.scale or ()):
            return "a scale factor that rounds to zero or less (torch: it must be positive)"
        geometry = [("scale factor term", abs(t)) for f in (op.scale or ()) for t in (f.numerator, f.denominator)]
        sizes = [("output size", n) for n in (op.size or ()) if isinstance(n, int)]
    elif isinstance(op, Mix):
        geometry = [("window", w) for w in op.window if w is not None] + [("window offset", abs(o)) for o in op.offset]
    elif isinstance(op, Shift):
        sizes = [("shift", abs(a)) for a in op.amount]
    for numbers, limit in ((geometry, MAX_GEOMETRY), (sizes, MAX_INPUT_SIZE)):
        for what, n in numbers:
            if isinstance(n, int) and n > limit:
                return f"{what} {_short(n)} is larger than rflint analyses ({limit:,})"
    return None


def _short(n: int) -> str:
    return str(n) if n.bit_length() < 64 else f"~2**{n.bit_length() - 1}"


class GraphBuilder:
    """Appends nodes in order and hands out their ids; readers share it. A node whose
    numbers are beyond :data:`MAX_GEOMETRY` is kept as an Opaque one, said as unresolved:
    the graph is then incomplete, whatever its reader thought."""

    def __init__(self) -> None:
        self._nodes: list[Node] = []
        self.unresolved: list[Unresolved] = []
        self._refused = False

    def add(
        self,
        op: Op,
        inputs: tuple[int, ...] | list[int],
        type_name: str,
        name: str = "",
        loc: Location | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> int:
        bound = geometry_bound(op)
        if bound is not None:
            op = Opaque(f"{type_name}: {bound}")
            self.unresolved.append(Unresolved(op.reason, loc))
            self._refused = True
        node = Node(len(self._nodes), op, tuple(inputs), type_name, name, loc, dict(attrs or {}))
        self._nodes.append(node)
        return node.id

    def node(self, node_id: int) -> Node:
        return self._nodes[node_id]

    def input(self, name: str = "input") -> int:
        return self.add(Pointwise(), (), "input", name)

    def build(
        self,
        name: str,
        outputs: list[tuple[str, int]],
        ndim: int | None = None,
        loc: Location | None = None,
        complete: bool = True,
        assumptions: tuple[Unresolved, ...] = (),
    ) -> Graph:
        dims = {d for n in self._nodes if (d := n.op.spatial_ndim)}
        if ndim is None:
            ndim = max(dims) if dims else 2
        return Graph(name, tuple(self._nodes), tuple(outputs), ndim, loc, complete and not self._refused,
                     tuple(self.unresolved), assumptions)
