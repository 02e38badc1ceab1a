"""The values of the static evaluator.

Plain Python objects stand for themselves (ints, strings, tuples, lists,
dicts of them). Everything else the model code can hold is one of the
classes below: an explicit ``Unknown`` that records why and where, imported
names that are only paths, modelled ``torch.nn`` layers, containers, user
classes, functions and module instances, and symbolic tensors (a node id in
the graph being built).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Callable

from ...ir import Location, Op, Unresolved
from .layout import Layout
from .layout import Size as LayoutSize


@dataclass(frozen=True)
class Unknown:
    """A value the evaluator could not determine; never guessed, always said."""

    reason: str
    loc: Location | None = None


@dataclass(eq=False, repr=False)
class SourceModule:
    """A Python module rflint reads: its file, lines (for columns) and evaluated globals.

    ``name`` is the absolute dotted name (``torchvision.models.resnet``);
    ``package`` the package relative imports start from.
    """

    name: str
    path: str
    lines: list[str]
    globals: dict[str, Any]
    package: str
    is_package: bool = False
    state: str = "new"  # new, loading, loaded
    # The files its top level read (its imports, theirs...): whoever uses this module
    # depends on them too, also when another file of the run loaded it first.
    deps: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class LazyImport:
    """``from module import name``: resolved when first used, so that reading one file
    does not evaluate every module its imports could reach."""

    module: str
    name: str


@dataclass(frozen=True)
class ExternalRef:
    """A name imported from a module rflint does not read (``torch.nn.Conv2d``)."""

    path: str


@dataclass(eq=False, repr=False)
class LayerValue:
    """An instance of a modelled ``torch.nn`` layer (or a well-known block)."""

    type_name: str
    op: Op
    loc: Location | None
    attrs: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    bound: dict[str, Any] = field(default_factory=dict)  # constructor arguments by name


@dataclass(eq=False, repr=False)
class ContainerValue:
    """``nn.Sequential``, ``nn.ModuleList`` or ``nn.ModuleDict``: ordered named children."""

    kind: str
    children: dict[str, Any]
    loc: Location | None
    path: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)  # plain attributes set on it (not children)


@dataclass(eq=False, repr=False)
class ClassValue:
    """A class defined in the file being read."""

    name: str
    node: ast.ClassDef
    module: SourceModule
    base_thunk: Callable[[], list[Any]]
    class_attrs: dict[str, Any] = field(default_factory=dict)
    _bases: list[Any] | None = None
    _mro: list["ClassValue"] | None = None

    @property
    def bases(self) -> list[Any]:
        """Evaluated on first use: a library's classes on unrelated bases (PIL's) cost nothing."""
        if self._bases is None:
            self._bases = []  # a class that names itself among its bases sees none
            try:
                self._bases = self.base_thunk()
            except BaseException:
                self._bases = None  # interrupted (a budget ran out): evaluated again at the next use
                raise
        return self._bases

    def mro(self) -> list["ClassValue"]:
        """The user classes in lookup order (depth-first, which serves single inheritance)."""
        if self._mro is None:
            out: list[ClassValue] = [self]
            for base in self.bases:
                if isinstance(base, ClassValue):
                    out.extend(c for c in base.mro() if c not in out)
            self._mro = out
        return self._mro

    def external_bases(self) -> list[str]:
        return [b.path for c in self.mro() for b in c.bases if isinstance(b, ExternalRef)]

    def lookup(self, name: str) -> ast.FunctionDef | ast.stmt | None:
        """The method ``name``: the last definition in the class body wins, as in Python
        (``@overload`` stubs come first)."""
        for cls in self.mro():
            found = None
            for stmt in cls.node.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
                    found = stmt
            if found is not None:
                return found
        return None

    def is_dataclass(self) -> bool:
        return any(
            (isinstance(d, ast.Name) and d.id == "dataclass")
            or (isinstance(d, ast.Attribute) and d.attr == "dataclass")
            or (isinstance(d, ast.Call) and getattr(d.func, "id", getattr(d.func, "attr", None)) == "dataclass")
            for d in self.node.decorator_list
        )


@dataclass(eq=False, repr=False)
class FunctionValue:
    """A function or method defined in a module rflint reads; defaults are evaluated at
    definition. ``env`` is what its names resolve in: the module's globals, overlaid
    with the enclosing function's locals for a closure."""

    name: str
    node: ast.FunctionDef | ast.Lambda
    module: SourceModule
    env: dict[str, Any]
    defaults: dict[str, Any]
    owner: ClassValue | None = None


@dataclass(eq=False, repr=False)
class Partial:
    """``functools.partial(func, *args, **kwargs)``."""

    func: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(eq=False, repr=False)
class BoundMethod:
    func: FunctionValue
    self_obj: Any


@dataclass(eq=False, repr=False)
class ModuleInstance:
    """An instance of a user ``nn.Module`` subclass, with the attributes ``__init__`` set."""

    cls: ClassValue
    attrs: dict[str, Any]
    loc: Location | None
    path: str = ""
    children: dict[str, Any] = field(default_factory=dict)  # Sequential subclasses
    taint: list[Unresolved] = field(default_factory=list)  # why its __init__ may have missed layers


@dataclass(eq=False, repr=False)
class SuperProxy:
    """``super()`` inside a method: attribute lookups skip the current class."""

    self_obj: Any
    after: ClassValue


@dataclass(frozen=True)
class TensorValue:
    """A symbolic tensor: the id of the graph node that produces it.

    ``layout`` says where the map's positions are in its dimensions after ``view``,
    ``permute``, ``flatten`` (see ``layout.py``); None is the map's own arrangement
    (N, C, spatial axes...), which is what every layer produces.
    """

    node: int
    layout: Layout | None = None


class SizeValue(int):
    """A tensor size (``x.shape[2]``, ``H * W``) whose number is known (the input size is
    configured): an int everywhere, and also what it counts (``size``), so that a
    reshape built from it is related to the positions."""

    size: LayoutSize
    node: int | None

    def __new__(cls, size: LayoutSize, node: int | None = None) -> "SizeValue":
        assert size.value is not None
        obj = super().__new__(cls, size.value)
        obj.size, obj.node = size, node
        return obj


@dataclass(frozen=True)
class SymSize:
    """A tensor size whose number is not known (the batch; or no input size is configured):
    what it counts, for reshapes; arithmetic that needs the number is an Unknown.
    ``numeric``: the same with the spatial parts of known size as numbers (the number of
    windows times the batch, which ``Bw // num_windows`` divides)."""

    size: LayoutSize
    node: int | None = None
    numeric: LayoutSize | None = None


def size_value(size: LayoutSize, node: int | None = None, numeric: LayoutSize | None = None) -> "SizeValue | SymSize":
    return SizeValue(size, node) if size.value is not None else SymSize(size, node, numeric)


def as_size(value: Any) -> LayoutSize | None:
    """The symbolic size of a shape entry: a size value's own, a plain int's number."""
    if isinstance(value, (SizeValue, SymSize)):
        return value.size
    if isinstance(value, int) and not isinstance(value, bool):
        return LayoutSize(value, (), value)
    return None


@dataclass(frozen=True)
class ParamValue:
    """A parameter or a tensor whose values are not known (``nn.Parameter``,
    ``torch.randn``): combining it with a feature map keeps every position where it
    is. ``shape`` when known: a conv weight's gives ``F.conv2d`` its kernel size.
    Constant tensors whose values are known are ``consttensor.ConstTensor``."""

    what: str
    shape: tuple[int, ...] | None = None
    kernel: tuple[int, ...] | None = None  # a conv weight's kernel when its channel counts are not known


@dataclass(frozen=True, eq=False)
class Builtin:
    """A builtin or library function (or type) the evaluator models in Python.

    ``impl(ev, args, kwargs, node)`` is the call. A type (``int``, ``functools.partial``,
    ``collections.OrderedDict``) also has ``check``, the ``isinstance`` test on the
    evaluator's values (True, False, or an Unknown when it cannot say), and may have
    ``members``: its class attributes (``dict.fromkeys``, ``itertools.chain.from_iterable``).
    """

    name: str
    impl: Callable[..., Any]
    check: Callable[[Any], Any] | None = None
    members: dict[str, Any] | None = None

    @property
    def is_type(self) -> bool:
        return self.check is not None


@dataclass(eq=False)
class AutogradContext:
    """The ``ctx`` a ``torch.autograd.Function``'s ``forward`` is given: the forward pass
    only stores on it (``ctx.save_for_backward(x)``, ``ctx.scale = s``), which is kept."""

    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    """A small read-only object of a modelled library whose attributes are plain fields
    (``dataclasses.fields()``' ``Field``s, an ``inspect.Parameter``): ``obj.name`` reads
    ``fields[name]``."""

    type_name: str
    fields: tuple[tuple[str, Any], ...]

    def get(self, name: str) -> Any:
        for key, value in self.fields:
            if key == name:
                return value
        return Unknown(f"{self.type_name} has no attribute '{name}'")


MODULE_TYPES = (LayerValue, ContainerValue, ModuleInstance)


def is_module(value: Any) -> bool:
    return isinstance(value, MODULE_TYPES)


def is_pure(value: Any, budget: int = 10_000) -> bool:
    """Plain data through and through (numbers, strings, None and containers of them, not
    too many): what ``str()``, ``repr()`` and f-strings may render as Python would."""
    stack = [value]
    while stack:
        budget -= 1
        if budget < 0:
            return False
        v = stack.pop()
        if isinstance(v, (int, float, str, bool, bytes, complex, type(None), range, slice)):
            continue
        if isinstance(v, (list, tuple, set, frozenset)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        else:
            return False
    return True


def first_unknown(*values: Any) -> Unknown | None:
    """The first Unknown among values, looking inside lists, tuples and dicts."""
    for v in values:
        if isinstance(v, Unknown):
            return v
        if isinstance(v, (list, tuple)):
            u = first_unknown(*v)
            if u:
                return u
        elif isinstance(v, dict):
            u = first_unknown(*v.values())
            if u:
                return u
    return None
