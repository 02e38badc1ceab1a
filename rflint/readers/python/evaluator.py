"""The static evaluator: a small abstract interpreter over the Python that models are written in.

It runs a module's top level (imports, classes, functions, constants), then
constructors with concrete arguments, then ``forward`` on a symbolic tensor,
appending a graph node for every layer application. It never imports or
executes the code it reads: every operation is interpreted here, on values
from ``values.py``. What it cannot determine becomes an ``Unknown`` that
records why and where; loops and calls run under a step budget.
"""

from __future__ import annotations

import ast
import operator
from typing import Any, Iterator

from ...diagnostics import source_lines
from ...ir import GraphBuilder, Location, Merge, Op, Opaque, Pointwise, Unresolved
from . import tensor_ops
from . import consttensor
from .consttensor import ConstTensor, elementwise, matmul, unary
from .library import BUILTINS, SILENT_CALLS
from .library import MATH as _MATH
from .library import PLAIN as _PLAIN
from .library import PURE_LIBRARY as _PURE_LIBRARY
from .library import SAFE_METHODS as _SAFE_METHODS
from .library import builtin_function as _builtin
from .library import copy_value as _copy
from .loader import STUBS, Finder, module_identity, parse_file, resolve_relative
from .torch_nn import LAYERS, BadArgument, LayerSpec, canonical_nn_name, external_layer
from .values import (
    Builtin,
    BoundMethod,
    ClassValue,
    ContainerValue,
    ExternalRef,
    FunctionValue,
    LayerValue,
    LazyImport,
    ModuleInstance,
    Partial,
    ParamValue,
    SourceModule,
    SuperProxy,
    SymDim,
    SymShape,
    TensorValue,
    Unknown,
    first_unknown,
    is_module,
)

STEP_BUDGET = 200_000
STAR_IMPORTS = "\0star-imports"
"""The key, in a module's globals, of the modules its ``from m import *`` name: no Python
name can collide with it."""
IDLE_LOOP_STEPS = 20_000
"""A loop that has run this many steps without building a layer or a graph node is not
run to the end: it computes values that do not shape the model (timm's attention-bias
index tables, resolution**4 iterations), and the names it touches become Unknown."""
MAX_DEPTH = 60


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class BudgetExceeded(Exception):
    pass


class Scope:
    """Local names of one function call, falling back to the module's globals."""

    __slots__ = ("locals", "globals")

    def __init__(self, globals_: dict[str, Any], locals_: dict[str, Any] | None = None) -> None:
        self.globals = globals_
        self.locals = locals_ if locals_ is not None else globals_

    def lookup(self, name: str) -> Any:
        if name in self.locals:
            return self.locals[name]
        if name in self.globals:
            return self.globals[name]
        if name in BUILTINS:
            return BUILTINS[name]
        raise KeyError(name)


_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift, ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
class Evaluator:
    """Interprets one file. ``builder`` is set while a model's graph is being built."""

    def __init__(self, path: str, text: str, tree: ast.Module, finder: Finder | None = None,
                 modules: dict[str, SourceModule] | None = None) -> None:
        name, root, is_package = module_identity(path)
        package = name if is_package else name.rpartition(".")[0]
        self.main = SourceModule(name, path, source_lines(text), {}, package, is_package, "loaded")
        self.main.globals["__name__"] = Unknown("__name__ is not '__main__' when linting")
        self.module = self.main
        self.root = root
        self.tree = tree
        self.globals = self.main.globals
        self.finder = finder or Finder()
        # Modules read for imports, by absolute name; shared between the files of a run.
        self.modules: dict[str, SourceModule] = modules if modules is not None else {}
        self.read_files: set[str] = set()
        self.builder: GraphBuilder | None = None
        self.unresolved: list[Unresolved] = []
        self.steps = 0
        self.depth = 0
        self.built = 0  # layers, module instances and graph nodes made: tells idle loops apart
        self.active: dict[int, int] = {}  # functions being run, by their node: recursion detection
        self.chain: list[str] = []
        self.applied: set[int] = set()

    # ------------------------------------------------------------------ helpers

    @property
    def path(self) -> str:
        return self.module.path

    @property
    def lines(self) -> list[str]:
        return self.module.lines

    def loc(self, node: ast.AST) -> Location:
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        return Location(
            self.path, line, self._char_col(line, getattr(node, "col_offset", 0)) + 1,
            end_line, self._char_col(end_line, getattr(node, "end_col_offset", 0) or 0) + 1, tuple(self.chain),
        )

    def _char_col(self, line: int, byte_col: int) -> int:
        """ast columns count UTF-8 bytes; editors and ruff count characters."""
        if 0 < line <= len(self.lines):
            text = self.lines[line - 1]
            if not text.isascii():
                return len(text.encode()[:byte_col].decode(errors="ignore"))
        return byte_col

    def span(self, node: ast.AST) -> tuple[int, int, int, int]:
        loc = self.loc(node)
        return (loc.line, loc.col, loc.end_line or loc.line, loc.end_col or loc.col)

    def call_spans(self, call: ast.Call, params: tuple[str, ...], offset: int = 0) -> dict[str, Any]:
        """Source spans of a call's arguments by parameter name, for fixes that rewrite them."""
        spans: dict[str, tuple[int, int, int, int]] = {}
        literal: set[str] = set()
        for i, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                break
            if offset <= i < offset + len(params):
                spans[params[i - offset]] = self.span(arg)
                if _is_literal(arg):
                    literal.add(params[i - offset])
        for kw in call.keywords:
            if kw.arg:
                spans[kw.arg] = self.span(kw.value)
                if _is_literal(kw.value):
                    literal.add(kw.arg)
        # "literal": the arguments written as constants here, so a fix may rewrite them;
        # "func": the callee as written (``nn.MaxPool2d``), so a fix may name its siblings.
        return {"args": spans, "literal": frozenset(literal), "call": self.span(call), "func": _dotted(call.func)}

    def frame(self, node: ast.AST, name: str) -> str:
        """A call-chain entry, ``path:line:col name()``, for the call at ``node``."""
        loc = self.loc(node)
        return f"{loc.file}:{loc.line}:{loc.col} {name}()"

    def unknown(self, reason: str, node: ast.AST | None) -> Unknown:
        """An Unknown that is also reported (``--show-unresolved``)."""
        loc = self.loc(node) if node is not None else None
        u = Unknown(reason, loc)
        self.unresolved.append(Unresolved(reason, loc))
        return u

    def tick(self) -> None:
        self.steps += 1
        if self.steps > STEP_BUDGET:
            raise BudgetExceeded()

    # ------------------------------------------------------------------ graph

    def add_node(self, op: Op, inputs: list[int], type_name: str, node: ast.AST | None, attrs: dict[str, Any] | None = None,
                 name: str = "", loc: Location | None = None) -> TensorValue:
        assert self.builder is not None, "tensor operation outside forward"
        self.built += 1
        nid = self.builder.add(op, inputs, type_name, name, loc or (self.loc(node) if node is not None else None), attrs)
        return TensorValue(nid)

    def as_tensor(self, value: Any, node: ast.AST) -> TensorValue | Unknown:
        """A tensor to apply an operation to; an Unknown becomes an Opaque node so that the
        layers after it are still seen (their frames are Unknown)."""
        if isinstance(value, TensorValue):
            return value
        if self.builder is None:
            return Unknown("not a tensor")
        reason = value.reason if isinstance(value, Unknown) else f"expected a tensor, got {type(value).__name__}"
        return self.add_node(Opaque(reason), [0], "unknown", node)

    def binary_tensor_op(self, kind: str, a: Any, b: Any, node: ast.AST, name: str) -> Any:
        """``a + b`` etc. with at least one tensor: a merge, or a pointwise op with a constant."""
        ta, tb = isinstance(a, TensorValue), isinstance(b, TensorValue)
        if ta and tb:
            return self.add_node(Merge(kind), [a.node, b.node], name, node)  # type: ignore[arg-type]
        if ta or tb:
            other = b if ta else a
            if isinstance(other, Unknown):
                other = self.as_tensor(other, node)
                return self.add_node(Merge(kind), [(a if ta else other).node, (other if ta else b).node], name, node)  # type: ignore[union-attr]
            return a if ta else b
        return self.unknown(f"{name} of values that are not known", node)

    # ------------------------------------------------------------------ module level

    def run_module(self) -> None:
        for stmt in self.tree.body:
            try:
                self.exec_stmt(stmt, Scope(self.globals), top=True)
            except (_Return, _Break, _Continue):
                pass
            except BudgetExceeded:
                self.unknown("step budget exhausted at module level", stmt)
                return

    # ------------------------------------------------------------------ statements

    def exec_body(self, body: list[ast.stmt], scope: Scope) -> None:
        for stmt in body:
            self.exec_stmt(stmt, scope)

    def exec_stmt(self, stmt: ast.stmt, scope: Scope, top: bool = False) -> None:
        self.tick()
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._import(stmt, scope)
        elif isinstance(stmt, ast.ClassDef):
            self._define_class(stmt, scope)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope.locals[stmt.name] = self._define_function(stmt, scope, None)
        elif isinstance(stmt, ast.Assign):
            if top and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id not in scope.locals:
                # Module constants are evaluated when first read (see _Deferred).
                scope.locals[stmt.targets[0].id] = _Deferred(stmt.value, self.module)
                return
            value = self.eval(stmt.value, scope)
            for target in stmt.targets:
                self.assign(target, value, scope)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value, scope), scope)
        elif isinstance(stmt, ast.AugAssign):
            current = self.eval(stmt.target, scope)  # the target, read
            self.assign(stmt.target, self.binop(stmt.op, current, self.eval(stmt.value, scope), stmt), scope)
        elif isinstance(stmt, ast.Expr):
            if not top:
                self.eval(stmt.value, scope)
        elif isinstance(stmt, ast.Return):
            raise _Return(self.eval(stmt.value, scope) if stmt.value is not None else None)
        elif isinstance(stmt, ast.If):
            self._if(stmt, scope)
        elif isinstance(stmt, ast.For):
            self._for(stmt, scope)
        elif isinstance(stmt, ast.While):
            self._while(stmt, scope)
        elif isinstance(stmt, ast.Break):
            raise _Break()
        elif isinstance(stmt, ast.Continue):
            raise _Continue()
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            self.exec_body(stmt.body, scope)
        elif isinstance(stmt, ast.Try):
            self.exec_body(stmt.body, scope)
            self.exec_body(stmt.orelse, scope)
            self.exec_body(stmt.finalbody, scope)
        elif isinstance(stmt, ast.Raise):
            if not top:
                raise _Return(self.unknown("the code raises here", stmt))
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    scope.locals.pop(target.id, None)
                elif isinstance(target, ast.Subscript):
                    obj, key = self.eval(target.value, scope), self.eval(target.slice, scope)
                    if isinstance(obj, (dict, list)) and not isinstance(key, Unknown):
                        try:
                            del obj[key]
                        except (KeyError, IndexError, TypeError):
                            pass
        # pass, assert, global, nonlocal: nothing to do

    def _import(self, stmt: ast.Import | ast.ImportFrom, scope: Scope) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    scope.locals[alias.asname] = self.module_value(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    scope.locals[top] = self.module_value(top)
            return
        module = resolve_relative(self.module.package, stmt.module, stmt.level)
        if module is None:
            self.unknown("relative import beyond the top-level package", stmt)
            return
        for alias in stmt.names:
            if alias.name == "*":
                self._import_star(module, scope, stmt)
                continue
            scope.locals[alias.asname or alias.name] = LazyImport(module, alias.name)

    def _import_star(self, module: str, scope: Scope, stmt: ast.stmt) -> None:
        """``from m import *``, lazily: ``m`` is read when a name this module does not
        define is looked up. A package ``__init__.py`` that re-exports a hundred model
        files (timm's) then costs nothing until one of its names is used."""
        scope.locals.setdefault(STAR_IMPORTS, []).append(module)

    def star_lookup(self, globals_: dict[str, Any], name: str, seen: frozenset[str] = frozenset()) -> LazyImport | None:
        """Which star-imported module provides ``name`` (the first, as Python's last-wins
        rebinding would only differ for a name defined twice), as a lazy import."""
        if name.startswith("_"):
            return None
        for module in globals_.get(STAR_IMPORTS, ()):
            if module in seen:
                continue
            mod = self.module_value(module)
            if isinstance(mod, SourceModule) and self.load(mod) and (
                    name in mod.globals or self.star_lookup(mod.globals, name, seen | {module}) is not None):
                return LazyImport(module, name)
        return None

    def module_value(self, name: str) -> SourceModule | ExternalRef:
        """The module an import names: source rflint reads, or an external reference."""
        if name in self.modules:
            return self.modules[name]
        path = self.finder.find(name, self.root)
        if path is None:
            return ExternalRef(name)
        is_package = path.endswith("__init__.py")
        mod = SourceModule(name, path, [], {"__name__": name}, name if is_package else name.rpartition(".")[0], is_package)
        self.modules[name] = mod
        return mod

    def load(self, mod: SourceModule) -> bool:
        """Run a module's top level once (in its own context); False when it cannot be read."""
        if mod.state != "new":
            return mod.state != "broken"
        mod.state = "loading"
        parsed = parse_file(mod.path)
        if parsed is None:
            mod.state = "broken"
            return False
        tree, text = parsed
        mod.lines = source_lines(text)
        self.read_files.add(mod.path)
        saved_module, saved_steps, saved_chain = self.module, self.steps, self.chain
        self.module, self.chain = mod, []
        try:
            for stmt in tree.body:
                try:
                    self.exec_stmt(stmt, Scope(mod.globals), top=True)
                except (_Return, _Break, _Continue):
                    pass
        except BudgetExceeded:
            self.unknown(f"step budget exhausted reading {mod.name}", None)
        finally:
            self.module, self.steps, self.chain = saved_module, saved_steps, saved_chain
        mod.state = "loaded"
        return True

    def resolve(self, value: Any, node: ast.AST | None = None) -> Any:
        """The value behind a lazy ``from m import n``."""
        if not isinstance(value, LazyImport):
            return value
        mod = self.module_value(value.module)
        if isinstance(mod, ExternalRef):
            return ExternalRef(f"{value.module}.{value.name}")
        return self.module_attr(mod, value.name, node)

    def module_attr(self, mod: SourceModule, name: str, node: ast.AST | None) -> Any:
        if not self.load(mod) and not mod.is_package:
            return self.unknown(f"cannot read {mod.path}", node)
        if name in mod.globals:
            value = mod.globals[name]
            if isinstance(value, _Deferred):
                value = self.force(value, name, mod.globals)
            if isinstance(value, LazyImport):
                if value == LazyImport(mod.name, name):
                    return self.unknown(f"import cycle on {mod.name}.{name}", node)
                resolved = self.resolve(value, node)
                if not isinstance(resolved, Unknown):
                    mod.globals[name] = resolved  # an Unknown (a cycle) may resolve later: not cached
                return resolved
            return value
        star = self.star_lookup(mod.globals, name, frozenset({mod.name}))
        if star is not None:
            return self.resolve(star, node)
        sub = self.module_value(f"{mod.name}.{name}")
        if isinstance(sub, SourceModule):
            return sub
        if mod.state == "loading":
            return self.unknown(f"{mod.name}.{name} is used before it is defined (import cycle)", node)
        if mod.path.startswith(STUBS_DIR):
            return ExternalRef(f"{mod.name}.{name}")  # a stand-in covers part of a package: the rest is external
        return self.unknown(f"module {mod.name} has no '{name}' that rflint can see", node)

    def _define_class(self, stmt: ast.ClassDef, scope: Scope) -> None:
        """Class attributes are evaluated when first read: model files declare weight
        enums and metadata in class bodies that a receptive field never needs."""
        module = self.module

        def bases() -> list[Any]:
            saved, self.module = self.module, module
            try:
                return [self.eval(b, scope) for b in stmt.bases]
            finally:
                self.module = saved

        cls = ClassValue(stmt.name, stmt, self.module, bases)
        for item in stmt.body:
            if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
                cls.class_attrs[item.targets[0].id] = _Deferred(item.value, self.module)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                cls.class_attrs[item.target.id] = _Deferred(item.value, self.module)
        scope.locals[stmt.name] = cls

    def force(self, deferred: "_Deferred", name: str, namespace: dict[str, Any]) -> Any:
        """Evaluate a deferred module constant in its own module, once."""
        module = deferred.module or self.module
        namespace[name] = Unknown(f"{name} refers to itself")
        saved = self.module
        self.module = module
        try:
            value = self.eval(deferred.expr, Scope(module.globals))
        finally:
            self.module = saved
        # Modules are shared by the files of a run: an Unknown (an import cycle met half-way)
        # is not kept, so that what a file reads does not depend on the files read before it.
        namespace[name] = deferred if isinstance(value, Unknown) else value
        return value

    def class_attr(self, cls: ClassValue, name: str) -> Any:
        """A class attribute by name, evaluating it on first use in the class body's scope."""
        value = cls.class_attrs[name]
        if isinstance(value, _Deferred):
            cls.class_attrs[name] = Unknown(f"{cls.name}.{name} refers to itself")
            saved = self.module
            self.module = cls.module
            try:
                value = self.eval(value.expr, Scope(cls.module.globals, _ClassNamespace(self, cls)))
            finally:
                self.module = saved
            cls.class_attrs[name] = value
        return value

    def _define_function(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, scope: Scope,
                         owner: ClassValue | None) -> FunctionValue:
        args = stmt.args
        defaults: dict[str, Any] = {}
        positional = [*args.posonlyargs, *args.args]
        for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
            defaults[arg.arg] = self.eval(default, scope)
        for arg, default in zip(args.kwonlyargs, args.kw_defaults):
            if default is not None:
                defaults[arg.arg] = self.eval(default, scope)
        # Closures: a nested function sees the enclosing locals as its globals' overlay.
        env = scope.globals if scope.locals is scope.globals else {**scope.globals, **scope.locals}
        name = getattr(stmt, "name", "<lambda>")
        module = owner.module if owner is not None else self.module
        return FunctionValue(name, stmt, module, env, defaults, owner)  # type: ignore[arg-type]

    def assign(self, target: ast.expr, value: Any, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            scope.locals[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            self._unpack(target, value, scope)
        elif isinstance(target, ast.Attribute):
            obj = self.eval(target.value, scope)
            self.set_attr(obj, target.attr, value)
        elif isinstance(target, ast.Subscript):
            obj = self.eval(target.value, scope)
            key = self.eval(target.slice, scope)
            if isinstance(obj, (list, dict)) and not isinstance(key, Unknown):
                try:
                    obj[key] = value
                except (IndexError, TypeError, KeyError):
                    pass
            elif isinstance(obj, ContainerValue) and not isinstance(key, Unknown):
                obj.children[str(key)] = value
        elif isinstance(target, ast.Starred):
            self.assign(target.value, value, scope)

    def _unpack(self, target: ast.Tuple | ast.List, value: Any, scope: Scope) -> None:
        if isinstance(value, SymShape):
            rank = len(target.elts)
            value = tuple(SymDim(value.node, i, rank) for i in range(rank))
        items = self.iterate(value, target)
        if isinstance(items, Unknown):
            for elt in target.elts:
                self.assign(elt, items, scope)
            return
        items = list(items)
        starred = [i for i, e in enumerate(target.elts) if isinstance(e, ast.Starred)]
        if starred:
            s = starred[0]
            after = len(target.elts) - s - 1
            parts = items[:s] + [items[s:len(items) - after]] + items[len(items) - after:]
        else:
            parts = items
        if len(parts) != len(target.elts):
            u = self.unknown(f"cannot unpack {len(items)} values into {len(target.elts)}", target)
            parts = [u] * len(target.elts)
        for elt, part in zip(target.elts, parts):
            self.assign(elt, part, scope)

    def container_kind(self, cls: ClassValue) -> str | None:
        """``Sequential``, ``ModuleList`` or ``ModuleDict`` when a user class derives from one."""
        for base in cls.external_bases():
            kind = canonical_nn_name(base)
            if kind in ("Sequential", "ModuleList", "ModuleDict"):
                return kind
        return None

    def submodules(self, obj: Any, how: str) -> list[Any]:
        """``children()``, ``named_children()``, ``modules()``, ``named_modules()`` in
        registration order (``IntermediateLayerGetter`` rebuilds a backbone from them)."""
        def direct(m: Any) -> list[tuple[str, Any]]:
            if isinstance(m, ModuleInstance):
                items = {**{k: v for k, v in m.attrs.items() if is_module(v)}, **m.children}
                return list(items.items())
            if isinstance(m, ContainerValue):
                return list(m.children.items())
            return []

        if how in ("children", "named_children"):
            pairs = direct(obj)
        else:
            pairs, stack = [], [("", obj)]
            while stack:
                prefix, m = stack.pop(0)
                pairs.append((prefix, m))
                stack[0:0] = [(f"{prefix}.{k}" if prefix else k, v) for k, v in direct(m)]
        return [(k, v) for k, v in pairs] if how.startswith("named") else [v for _, v in pairs]

    def has_attr(self, obj: Any, name: str) -> bool | Unknown:
        if isinstance(obj, ModuleInstance):
            return (name in obj.attrs or name in obj.children or obj.cls.lookup(name) is not None
                    or any(name in c.class_attrs for c in obj.cls.mro()))
        if isinstance(obj, LayerValue):
            return name in obj.bound or name in ("weight", "bias")
        if isinstance(obj, ContainerValue):
            return name in obj.children
        if isinstance(obj, ClassValue):
            return obj.lookup(name) is not None or any(name in c.class_attrs for c in obj.mro())
        return Unknown("hasattr on a value rflint does not model")

    def set_attr(self, obj: Any, name: str, value: Any) -> None:
        if isinstance(obj, ModuleInstance):
            obj.attrs[name] = value
            if is_module(value):
                if self.container_kind(obj.cls):
                    obj.children[name] = value  # nn.Module.__setattr__ registers it; Sequential runs it in order
                self.repath(value, f"{obj.path}.{name}" if obj.path else name)
        elif isinstance(obj, ContainerValue):
            obj.children[name] = value

    def repath(self, value: Any, path: str) -> None:
        """Give a module and everything below it their dotted names (``layer1.0.conv1``)."""
        if isinstance(value, LayerValue):
            value.path = path
        elif isinstance(value, ContainerValue):
            value.path = path
            for key, child in value.children.items():
                self.repath(child, f"{path}.{key}")
        elif isinstance(value, ModuleInstance):
            value.path = path
            for key, child in {**value.attrs, **value.children}.items():
                if is_module(child):
                    self.repath(child, f"{path}.{key}")

    def _if(self, stmt: ast.If, scope: Scope) -> None:
        cond = self.truth(self.eval(stmt.test, scope))
        if cond is True:
            self.exec_body(stmt.body, scope)
        elif cond is False:
            self.exec_body(stmt.orelse, scope)
        else:
            self._both_branches(stmt, scope, cond)

    def _both_branches(self, stmt: ast.If, scope: Scope, cond: Unknown) -> None:
        """An undecidable condition: run both branches and join what they leave behind.

        A name bound to different values becomes Unknown, except tensors: their
        alternatives merge as at an add, which is what the receptive field of
        "either branch" is.
        """
        before = dict(scope.locals)
        results = []
        for body in (stmt.body, stmt.orelse):
            scope.locals.clear()
            scope.locals.update(before)
            returned: Any = _NO_RETURN
            try:
                self.exec_body(body, scope)
            except _Return as ret:
                returned = ret.value
            except (_Break, _Continue):
                # A loop that may or may not stop here: its later iterations still run.
                self.unknown(f"break/continue under an undecidable condition ({cond.reason})", stmt)
            results.append((dict(scope.locals), returned))
        (then_locals, then_ret), (else_locals, else_ret) = results
        scope.locals.clear()
        for key in then_locals.keys() | else_locals.keys():
            a = then_locals.get(key, _NO_RETURN)
            b = else_locals.get(key, _NO_RETURN)
            scope.locals[key] = self.join(a, b, stmt, cond)
        if then_ret is not _NO_RETURN or else_ret is not _NO_RETURN:
            if then_ret is _NO_RETURN or else_ret is _NO_RETURN:
                raise _Return(self.unknown(f"returns only when an undecidable condition holds ({cond.reason})", stmt))
            raise _Return(self.join(then_ret, else_ret, stmt, cond))

    def join(self, a: Any, b: Any, node: ast.AST, cond: Unknown) -> Any:
        if a is b or (type(a) is type(b) and isinstance(a, _PLAIN) and _safe_eq(a, b)):
            return a
        if isinstance(a, TensorValue) and isinstance(b, TensorValue) and self.builder is not None:
            return self.add_node(Merge("add"), [a.node, b.node], "if/else", node, {"alternatives": True})
        if a is _NO_RETURN or b is _NO_RETURN:
            return Unknown(f"bound in one branch of an undecidable condition ({cond.reason})")
        return Unknown(f"differs between branches of an undecidable condition ({cond.reason})")

    def _for(self, stmt: ast.For, scope: Scope) -> None:
        items = self.iterate(self.eval(stmt.iter, scope), stmt.iter)
        if isinstance(items, Unknown):
            self.unknown(f"loop over a value that is not known ({items.reason})", stmt.iter)
            return
        start = (self.steps, self.built)
        for item in items:
            self.tick()
            if self._idle_loop(stmt, scope, start):
                return
            self.assign(stmt.target, item, scope)
            try:
                self.exec_body(stmt.body, scope)
            except _Break:
                return
            except _Continue:
                continue
        self.exec_body(stmt.orelse, scope)

    def _idle_loop(self, stmt: ast.For | ast.While, scope: Scope, start: tuple[int, int]) -> bool:
        """Stop a loop that has long built nothing (IDLE_LOOP_STEPS); every local name it
        touches becomes Unknown, so that no partial value passes for a whole one."""
        if self.steps - start[0] <= IDLE_LOOP_STEPS or self.built != start[1]:
            return False
        gone = Unknown("computed by a long loop that builds no layer, which rflint does not run to the end")
        for name in {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}:
            if name in scope.locals:
                scope.locals[name] = gone
        self.unknown(f"loop stopped after {IDLE_LOOP_STEPS} steps that built no layer", stmt)
        return True

    def _while(self, stmt: ast.While, scope: Scope) -> None:
        start = (self.steps, self.built)
        while True:
            self.tick()
            if self._idle_loop(stmt, scope, start):
                return
            cond = self.truth(self.eval(stmt.test, scope))
            if isinstance(cond, Unknown):
                self.unknown(f"while condition is not known ({cond.reason})", stmt.test)
                return
            if not cond:
                break
            try:
                self.exec_body(stmt.body, scope)
            except _Break:
                return
            except _Continue:
                continue
        self.exec_body(stmt.orelse, scope)

    def iterate(self, value: Any, node: ast.AST) -> list[Any] | Unknown:
        if isinstance(value, Unknown):
            return value
        if isinstance(value, (list, tuple, range, str, set, frozenset)):
            return list(value)
        if isinstance(value, dict):
            return list(value.keys())
        if isinstance(value, ConstTensor):
            return value.rows()
        if isinstance(value, ContainerValue):
            return list(value.children) if value.kind == "ModuleDict" else list(value.children.values())
        if isinstance(value, ModuleInstance) and value.children:
            return list(value.children.values())
        return Unknown(f"cannot iterate over {type(value).__name__}")

    def truth(self, value: Any) -> bool | Unknown:
        if isinstance(value, Unknown):
            return value
        if isinstance(value, _PLAIN):
            try:
                return bool(value) if first_unknown(value) is None else Unknown("condition contains unknown values")
            except Exception:  # noqa: BLE001
                return Unknown("condition cannot be decided")
        if isinstance(value, TensorValue):
            return Unknown("condition on tensor values")
        if is_module(value) or isinstance(value, (FunctionValue, ClassValue, ExternalRef, BoundMethod)):
            return True
        return Unknown("condition cannot be decided")

    # ------------------------------------------------------------------ expressions

    def eval(self, node: ast.expr, scope: Scope) -> Any:
        self.tick()
        method = getattr(self, f"_e_{type(node).__name__}", None)
        if method is None:
            return self.unknown(f"{type(node).__name__} expressions are not modelled", node)
        return method(node, scope)

    def _e_Constant(self, node: ast.Constant, scope: Scope) -> Any:
        return node.value

    def _e_Name(self, node: ast.Name, scope: Scope) -> Any:
        try:
            value = scope.lookup(node.id)
            if isinstance(value, _Deferred):
                value = self.force(value, node.id, scope.globals if node.id in scope.globals else scope.locals)
            if isinstance(value, LazyImport):
                value = self.resolve(value, node)
                if node.id in scope.globals and not isinstance(value, Unknown):
                    scope.globals[node.id] = value
            return value
        except KeyError:
            star = self.star_lookup(scope.globals, node.id)
            if star is None:
                return self.unknown(f"name '{node.id}' is not defined here", node)
            value = self.resolve(star, node)
            if not isinstance(value, Unknown):
                scope.globals[node.id] = value
            return value

    def _e_Attribute(self, node: ast.Attribute, scope: Scope) -> Any:
        return self.get_attr(self.eval(node.value, scope), node.attr, node)

    def _e_Tuple(self, node: ast.Tuple, scope: Scope) -> Any:
        return tuple(self._elements(node.elts, scope))

    def _e_List(self, node: ast.List, scope: Scope) -> Any:
        return self._elements(node.elts, scope)

    def _e_Set(self, node: ast.Set, scope: Scope) -> Any:
        items = self._elements(node.elts, scope)
        try:
            return set(items)
        except TypeError:
            return self.unknown("set of unhashable values", node)

    def _elements(self, elts: list[ast.expr], scope: Scope) -> list[Any]:
        out: list[Any] = []
        for e in elts:
            if isinstance(e, ast.Starred):
                items = self.iterate(self.eval(e.value, scope), e)
                if isinstance(items, Unknown):
                    out.append(items)
                else:
                    out.extend(items)
            else:
                out.append(self.eval(e, scope))
        return out

    def _e_Dict(self, node: ast.Dict, scope: Scope) -> Any:
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                sub = self.eval(v, scope)
                if isinstance(sub, dict):
                    out.update(sub)
                continue
            key = self.eval(k, scope)
            try:
                out[key] = self.eval(v, scope)
            except TypeError:
                return self.unknown("dict key is not hashable", k)
        return out

    def _e_JoinedStr(self, node: ast.JoinedStr, scope: Scope) -> Any:
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
                continue
            assert isinstance(value, ast.FormattedValue)
            v = self.eval(value.value, scope)
            if not isinstance(v, _PLAIN) or first_unknown(v):
                return Unknown("f-string of a value that is not known")
            if value.conversion == ord("r"):
                v = repr(v)
            elif value.conversion == ord("s"):
                v = str(v)
            spec = self.eval(value.format_spec, scope) if value.format_spec is not None else ""
            if isinstance(spec, Unknown):
                return spec
            try:
                parts.append(format(v, spec))
            except (ValueError, TypeError):
                return self.unknown("bad format spec", value)
        return "".join(parts)

    def _e_BinOp(self, node: ast.BinOp, scope: Scope) -> Any:
        return self.binop(node.op, self.eval(node.left, scope), self.eval(node.right, scope), node)

    def binop(self, op: ast.operator, a: Any, b: Any, node: ast.AST) -> Any:
        if isinstance(a, TensorValue) or isinstance(b, TensorValue):
            kind = "add" if isinstance(op, (ast.Add, ast.Sub)) else "mul"
            return self.binary_tensor_op(kind, a, b, node, type(op).__name__.lower())
        if isinstance(a, ConstTensor) or isinstance(b, ConstTensor):
            return _const_binop(op, a, b)
        if isinstance(a, (SymDim, SymShape)) or isinstance(b, (SymDim, SymShape)):
            return Unknown("arithmetic on symbolic tensor sizes")
        u = first_unknown(a, b)
        if u:
            return u
        fn = _BINOPS.get(type(op))
        if fn is None or not isinstance(a, _PLAIN) or not isinstance(b, _PLAIN):
            return Unknown(f"operator {type(op).__name__} on {type(a).__name__} and {type(b).__name__}")
        try:
            if isinstance(op, ast.Pow) and isinstance(b, int) and b > 64:
                return Unknown("power too large to evaluate")
            return fn(a, b)
        except Exception as exc:  # noqa: BLE001  (ZeroDivisionError, TypeError... in the model's arithmetic)
            return self.unknown(f"{type(exc).__name__}: {exc}", node)

    def _e_UnaryOp(self, node: ast.UnaryOp, scope: Scope) -> Any:
        v = self.eval(node.operand, scope)
        if isinstance(node.op, ast.Not):
            t = self.truth(v)
            return t if isinstance(t, Unknown) else not t
        if isinstance(v, TensorValue):
            return v
        if isinstance(v, ConstTensor) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return unary("neg", v) if isinstance(node.op, ast.USub) else v
        if isinstance(v, Unknown) or not isinstance(v, (int, float, complex)):
            return v if isinstance(v, Unknown) else Unknown("unary operator on a non-number")
        return {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}[type(node.op)](v)

    def _e_BoolOp(self, node: ast.BoolOp, scope: Scope) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = None
        for expr in node.values:
            value = self.eval(expr, scope)
            t = self.truth(value)
            if isinstance(t, Unknown):
                return t
            if is_and and not t:
                return value
            if not is_and and t:
                return value
        return value

    def _e_Compare(self, node: ast.Compare, scope: Scope) -> Any:
        left = self.eval(node.left, scope)
        for op, comp in zip(node.ops, node.comparators):
            right = self.eval(comp, scope)
            if isinstance(op, (ast.Is, ast.IsNot)):
                if isinstance(left, Unknown) or isinstance(right, Unknown):
                    return first_unknown(left, right)
                result = (left is right) if isinstance(op, ast.Is) else (left is not right)
            else:
                u = first_unknown(left, right)
                if u:
                    return u
                if not isinstance(left, _PLAIN) or not isinstance(right, _PLAIN):
                    if isinstance(op, (ast.Eq, ast.NotEq)):
                        result = (left is right) == isinstance(op, ast.Eq)
                    else:
                        return Unknown("comparison of values that are not plain data")
                else:
                    try:
                        result = _CMPOPS[type(op)](left, right)
                    except Exception as exc:  # noqa: BLE001
                        return self.unknown(f"{type(exc).__name__}: {exc}", node)
            if not result:
                return False
            left = right
        return True

    def _e_IfExp(self, node: ast.IfExp, scope: Scope) -> Any:
        cond = self.truth(self.eval(node.test, scope))
        if isinstance(cond, Unknown):
            a, b = self.eval(node.body, scope), self.eval(node.orelse, scope)
            return self.join(a, b, node, cond)
        return self.eval(node.body if cond else node.orelse, scope)

    def _e_Subscript(self, node: ast.Subscript, scope: Scope) -> Any:
        obj = self.eval(node.value, scope)
        key = self.eval(node.slice, scope)
        return self.subscript(obj, key, node)

    def subscript(self, obj: Any, key: Any, node: ast.AST) -> Any:
        if isinstance(obj, Unknown):
            return obj
        # Only the key: an Unknown elsewhere in a list or dict does not make this item
        # unknown (scanning the container made each index O(len), loops over tables quadratic).
        u = first_unknown(key)
        if u:
            return u
        if isinstance(obj, TensorValue):
            return self.unknown("tensor indexing is not modelled", node)
        if isinstance(obj, SymShape):
            if isinstance(key, int):
                return SymDim(obj.node, key)
            if isinstance(key, slice) and key.step is None and (key.start or 0) < 0 and key.stop is None:
                return tuple(SymDim(obj.node, a) for a in range(key.start, 0))
            return Unknown("a slice of a symbolic shape")
        if isinstance(obj, ConstTensor):
            return consttensor.index(obj, key)
        if isinstance(obj, ParamValue):
            shape = consttensor.index_shape(obj.shape, key) if obj.shape is not None else None
            return ParamValue(obj.what, shape)
        if isinstance(obj, ContainerValue):
            if obj.kind == "ModuleDict":
                return obj.children[str(key)] if str(key) in obj.children else self.unknown(f"no module '{key}'", node)
            values = list(obj.children.values())
            if isinstance(key, slice):
                keys = list(obj.children)[key]
                return ContainerValue(obj.kind, {k: obj.children[k] for k in keys}, obj.loc, obj.path)
            try:
                return values[key]
            except (IndexError, TypeError):
                return self.unknown(f"index {key!r} out of range", node)
        if isinstance(obj, ModuleInstance) and obj.children:
            try:
                return list(obj.children.values())[key]
            except (IndexError, TypeError):
                return self.unknown(f"index {key!r} out of range", node)
        if isinstance(obj, _PLAIN):
            try:
                return obj[key]
            except Exception as exc:  # noqa: BLE001
                return self.unknown(f"{type(exc).__name__}: {exc}", node)
        return Unknown(f"cannot index {type(obj).__name__}")

    def _e_Slice(self, node: ast.Slice, scope: Scope) -> Any:
        parts = [self.eval(p, scope) if p is not None else None for p in (node.lower, node.upper, node.step)]
        u = first_unknown(*parts)
        return u if u else slice(*parts)

    def _e_Starred(self, node: ast.Starred, scope: Scope) -> Any:
        return self.eval(node.value, scope)

    def _e_Lambda(self, node: ast.Lambda, scope: Scope) -> Any:
        return self._define_function(node, scope, None)

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.SetComp | ast.DictComp, scope: Scope) -> list[Any] | Unknown:
        results: list[Any] = []
        inner = Scope(scope.globals, dict(scope.locals) if scope.locals is not scope.globals else {})

        def loop(i: int) -> Unknown | None:
            if i == len(node.generators):
                if isinstance(node, ast.DictComp):
                    results.append((self.eval(node.key, inner), self.eval(node.value, inner)))
                else:
                    results.append(self.eval(node.elt, inner))
                return None
            gen = node.generators[i]
            items = self.iterate(self.eval(gen.iter, inner), gen.iter)
            if isinstance(items, Unknown):
                return items
            for item in items:
                self.tick()
                self.assign(gen.target, item, inner)
                conds = [self.truth(self.eval(c, inner)) for c in gen.ifs]
                bad = next((c for c in conds if isinstance(c, Unknown)), None)
                if bad:
                    return bad
                if all(conds):
                    u = loop(i + 1)
                    if u:
                        return u
            return None

        u = loop(0)
        return u if u else results

    def _e_ListComp(self, node: ast.ListComp, scope: Scope) -> Any:
        return self._comprehension(node, scope)

    def _e_GeneratorExp(self, node: ast.GeneratorExp, scope: Scope) -> Any:
        return self._comprehension(node, scope)

    def _e_SetComp(self, node: ast.SetComp, scope: Scope) -> Any:
        r = self._comprehension(node, scope)
        return r if isinstance(r, Unknown) else set(r)

    def _e_DictComp(self, node: ast.DictComp, scope: Scope) -> Any:
        r = self._comprehension(node, scope)
        return r if isinstance(r, Unknown) else dict(r)

    # ------------------------------------------------------------------ attributes

    def get_attr(self, obj: Any, name: str, node: ast.AST) -> Any:
        if isinstance(obj, Unknown):
            return obj
        if isinstance(obj, SourceModule):
            return self.module_attr(obj, name, node)
        if isinstance(obj, ExternalRef):
            if obj.path == "math" and name in _MATH:
                value = _MATH[name]
                return _builtin(f"math.{name}", value) if callable(value) else value
            return ExternalRef(f"{obj.path}.{name}")
        if isinstance(obj, ModuleInstance):
            return self._instance_attr(obj, name, node)
        if isinstance(obj, SuperProxy):
            return self._super_attr(obj, name, node)
        if isinstance(obj, ContainerValue):
            return self._container_attr(obj, name, node)
        if isinstance(obj, LayerValue):
            if name in obj.bound:
                return obj.bound[name]
            if name in ("weight", "bias"):
                return ParamValue(f"{obj.type_name}.{name}")
            return self.unknown(f"{obj.type_name} has no modelled attribute '{name}'", node)
        if isinstance(obj, ClassValue):
            if name in obj.class_attrs:
                return self.class_attr(obj, name)
            fn = obj.lookup(name)
            if fn is not None:
                owner = next(c for c in obj.mro() if fn in c.node.body)
                func = self._define_function(fn, Scope(owner.module.globals), owner)  # type: ignore[arg-type]
                return BoundMethod(func, obj) if _decorated(fn, "classmethod") else func
            return self.unknown(f"class {obj.name} has no attribute '{name}'", node)
        if isinstance(obj, ConstTensor):
            value = consttensor.attribute(obj, name)
            return value if value is not None else self.unknown(f"constant-tensor method '{name}' is not modelled", node)
        if isinstance(obj, ParamValue):
            return tensor_ops.param_attribute(obj, name)
        if name.startswith("__") and name.endswith("__"):
            if name == "__name__" and isinstance(obj, (FunctionValue, ClassValue)):
                return obj.name
            if name == "__class__" and isinstance(obj, ModuleInstance):
                return obj.cls
            return Unknown(f"{name} is not modelled")  # reprs and telemetry; not reported
        if isinstance(obj, TensorValue):
            if name == "shape":
                return SymShape(obj.node)
            handler = tensor_ops.METHODS.get(name)
            if handler is not None:
                return Builtin(f"Tensor.{name}", lambda ev, args, kwargs, n, h=handler, t=obj: h(ev, [t, *args], kwargs, n))
            if name == "shape":
                return Unknown("tensor sizes are symbolic")
            return self.unknown(f"tensor method '{name}' is not modelled", node)
        for typ, allowed in _SAFE_METHODS.items():
            if isinstance(obj, typ) and name in allowed:
                method = getattr(obj, name)
                return _builtin(f"{typ.__name__}.{name}", method)
        return self.unknown(f"attribute '{name}' of {type(obj).__name__} is not modelled", node)

    def _instance_attr(self, obj: ModuleInstance, name: str, node: ast.AST) -> Any:
        if name in obj.attrs:
            return obj.attrs[name]
        if name in obj.children:
            return obj.children[name]
        for cls in obj.cls.mro():
            if name in cls.class_attrs:
                return self.class_attr(cls, name)
        fn = obj.cls.lookup(name)
        if fn is not None:
            owner = next(c for c in obj.cls.mro() if fn in c.node.body)
            func = self._define_function(fn, Scope(owner.module.globals), owner)  # type: ignore[arg-type]
            if _decorated(fn, "staticmethod"):
                return func
            if _decorated(fn, "classmethod"):
                return BoundMethod(func, obj.cls)
            if _decorated(fn, "property"):
                return self.call_function(func, [], {}, node, obj)
            return BoundMethod(func, obj)
        if name == "training":
            return False  # rflint analyses the model as it runs at inference (eval mode)
        if name in ("children", "named_children", "modules", "named_modules"):
            return Builtin(name, lambda ev, args, kwargs, n: ev.submodules(obj, name))
        if name in _MODULE_INTROSPECTION:
            # Weight initialisation, device moves and hooks do not change the geometry.
            result: Any = [] if name in _MODULE_ITERATORS else obj
            return Builtin(name, lambda ev, args, kwargs, n: result)
        if name.startswith("__") and name.endswith("__"):
            return Unknown(f"{name} of a module is not modelled")  # telemetry and reprs; not reported
        if name in ("weight", "bias"):
            return ParamValue(f"{obj.cls.name}.{name}")
        if name in ("add_module", "register_module"):
            return Builtin("add_module", lambda ev, args, kwargs, n: ev.set_attr(obj, str(args[0]), args[1]))
        if name in ("register_buffer", "register_parameter"):
            return Builtin(name, lambda ev, args, kwargs, n: ev._register(obj, args, kwargs))
        kind = self.container_kind(obj.cls)
        if kind is not None and name in _CONTAINER_METHODS:
            return self._container_attr(ContainerValue(kind, obj.children, obj.loc, obj.path), name, node)
        return self.unknown(f"{obj.cls.name} has no attribute '{name}' that rflint can see", node)

    def _register(self, obj: ModuleInstance, args: list[Any], kwargs: dict[str, Any]) -> None:
        """``register_buffer(name, tensor)`` / ``register_parameter(name, param)``: the tensor
        becomes an attribute, as ``nn.Module`` makes it one (a fixed blur kernel lives there)."""
        bound = dict(zip(("name", "tensor"), args))
        bound.update(kwargs)
        name = bound.get("name")
        value = bound.get("tensor", bound.get("param"))
        if isinstance(name, str):
            obj.attrs[name] = value

    def _super_attr(self, proxy: SuperProxy, name: str, node: ast.AST) -> Any:
        mro = proxy.self_obj.cls.mro() if isinstance(proxy.self_obj, ModuleInstance) else []
        later = mro[mro.index(proxy.after) + 1:] if proxy.after in mro else []
        for cls in later:
            for stmt in cls.node.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
                    return BoundMethod(self._define_function(stmt, Scope(cls.module.globals), cls), proxy.self_obj)
        if name == "__init__":
            data_cls = next((c for c in later if c.is_dataclass()), None)
            if data_cls is not None:
                return Builtin("super().__init__", lambda ev, args, kwargs, n: ev.dataclass_init(data_cls, proxy.self_obj, args, kwargs, n))
            return Builtin("super().__init__", lambda ev, args, kwargs, n: ev._external_init(proxy.self_obj, args, kwargs, n))
        return self.unknown(f"super().{name} is not modelled", node)

    def _external_init(self, obj: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> None:
        """``super().__init__(...)`` into torch.nn: Sequential/ModuleList subclasses keep their children."""
        if not isinstance(obj, ModuleInstance):
            return None
        bases = [canonical_nn_name(p) for p in obj.cls.external_bases()]
        for base in bases:
            if base in LAYERS:  # class LayerNorm2d(nn.LayerNorm): its constructor's arguments become attributes
                try:
                    obj.attrs.update(LAYERS[base].bind(list(args), dict(kwargs)))
                except BadArgument:
                    pass
        if "ModuleDict" in bases and args and isinstance(args[0], dict):
            for key, child in args[0].items():
                obj.children[str(key)] = child
                if is_module(child):
                    self.repath(child, f"{obj.path}.{key}" if obj.path else str(key))
        elif "Sequential" in bases or "ModuleList" in bases:
            items = self._sequential_children(args, node)
            if isinstance(items, dict):
                obj.children.update(items)
                for key, child in items.items():
                    if is_module(child):
                        self.repath(child, f"{obj.path}.{key}" if obj.path else key)
        return None

    def dataclass_init(self, cls: ClassValue, instance: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        """The ``__init__`` that ``@dataclass`` writes: fields in order, defaults, ``__post_init__``."""
        fields = cls.dataclass_fields()
        if len(args) > len(fields):
            return self.unknown(f"{cls.name}() takes {len(fields)} arguments, got {len(args)}", node)
        bound = dict(zip(fields, args))
        for key, value in kwargs.items():
            if key not in fields:
                return self.unknown(f"{cls.name}() got an unexpected keyword argument '{key}'", node)
            bound[key] = value
        for name in fields:
            if name not in bound:
                owner = next((c for c in cls.mro() if name in c.class_attrs), None)
                if owner is None:
                    return self.unknown(f"{cls.name}() missing argument '{name}'", node)
                default = self.class_attr(owner, name)
                if isinstance(default, _FieldSpec):
                    default = self.call(default.factory, [], {}, node) if default.factory is not None else default.default  # type: ignore[arg-type]
                bound[name] = default
        if isinstance(instance, ModuleInstance):
            instance.attrs.update(bound)
            post = instance.cls.lookup("__post_init__")
            if post is not None:
                owner = next(c for c in instance.cls.mro() if post in c.node.body)
                self.call_function(self._define_function(post, Scope(owner.module.globals), owner), [], {}, node, instance)  # type: ignore[arg-type]
        return None

    def _container_attr(self, obj: ContainerValue, name: str, node: ast.AST) -> Any:
        def append(ev: Evaluator, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> None:
            obj.children[str(len(obj.children))] = args[0]

        def extend(ev: Evaluator, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> None:
            items = ev.iterate(args[0], n)
            for item in items if not isinstance(items, Unknown) else []:
                obj.children[str(len(obj.children))] = item

        def add_module(ev: Evaluator, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> None:
            obj.children[str(args[0])] = args[1]

        methods = {
            "append": append, "extend": extend, "add_module": add_module,
            "items": lambda ev, a, k, n: list(obj.children.items()),
            "keys": lambda ev, a, k, n: list(obj.children.keys()),
            "values": lambda ev, a, k, n: list(obj.children.values()),
        }
        if name in methods:
            return Builtin(f"{obj.kind}.{name}", methods[name])
        if name in obj.children:
            return obj.children[name]
        return self.unknown(f"{obj.kind} has no attribute '{name}' that rflint can see", node)

    # ------------------------------------------------------------------ calls

    def _e_Call(self, node: ast.Call, scope: Scope) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id == "super" and "super" not in scope.locals:
            self_obj = scope.locals.get("self")
            owner = scope.locals.get("__class__")
            if isinstance(owner, ClassValue) and self_obj is not None:
                return SuperProxy(self_obj, owner)
            return self.unknown("super() outside a method", node)
        func = self.eval(node.func, scope)
        args: list[Any] = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                items = self.iterate(self.eval(a.value, scope), a)
                if isinstance(items, Unknown):
                    return items
                args.extend(items)
            else:
                args.append(self.eval(a, scope))
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            value = self.eval(kw.value, scope)
            if kw.arg is None:
                if not isinstance(value, dict):
                    return Unknown("**kwargs that are not known")
                kwargs.update(value)
            else:
                kwargs[kw.arg] = value
        return self.call(func, args, kwargs, node)

    def call(self, func: Any, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        self.tick()
        if isinstance(func, Unknown):
            return func
        if isinstance(func, Builtin):
            try:
                return func.impl(self, args, kwargs, node)
            except (_Return, _Break, _Continue, BudgetExceeded):
                raise
            except Exception as exc:  # noqa: BLE001  (the model's own arithmetic failing)
                return self.unknown(f"{func.name}(): {type(exc).__name__}: {exc}", node)
        if isinstance(func, ExternalRef):
            return self.call_external(func.path, args, kwargs, node)
        if isinstance(func, ClassValue):
            return self.instantiate(func, args, kwargs, node)
        if isinstance(func, FunctionValue):
            return self.call_function(func, args, kwargs, node, None)
        if isinstance(func, BoundMethod):
            return self.call_function(func.func, args, kwargs, node, func.self_obj)
        if isinstance(func, Partial):
            return self.call(func.func, [*func.args, *args], {**func.kwargs, **kwargs}, node)
        if is_module(func):
            return self.apply_module(func, args, kwargs, node)
        return self.unknown(f"cannot call {type(func).__name__}", node)

    def call_external(self, path: str, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        path = _normalise(path)
        layer = canonical_nn_name(path)
        if layer in ("Sequential", "ModuleList", "ModuleDict"):
            return self._container(layer, args, kwargs, node)
        if layer is not None and layer in LAYERS:
            return self.construct_layer(LAYERS[layer], args, kwargs, node)
        known = external_layer(path)
        if known is not None:
            return self.construct_layer(known, args, kwargs, node)
        const = consttensor.call(path, args, kwargs)
        if const is not None:
            return const
        handler = tensor_ops.FUNCTIONS.get(path)
        if handler is not None:
            return handler(self, args, kwargs, node)
        if path in SILENT_CALLS:
            return SILENT_CALLS[path]
        if path.startswith("torch.nn.init."):
            return None  # weight initialisation does not change the geometry
        pure = _PURE_LIBRARY.get(path)
        if pure is not None:
            return self.call(_builtin(path, pure), args, kwargs, node)
        if path == "dataclasses.field":
            return _FieldSpec(kwargs.get("default", Unknown("field without a default")), kwargs.get("default_factory"))
        if path in ("copy.copy", "copy.deepcopy"):
            return _copy(self, args, kwargs, node)
        if path in ("torch.jit.annotate", "typing.cast") and len(args) == 2:
            return args[1]
        if path in ("collections.OrderedDict", "OrderedDict"):
            if not args:
                return dict(kwargs)
            items = args[0]
            if isinstance(items, dict):
                return dict(items)
            if isinstance(items, (list, tuple)) and all(isinstance(i, tuple) and len(i) == 2 for i in items):
                return dict(items)
            return self.unknown("OrderedDict of items that are not known", node)
        if path == "functools.partial":
            if not args:
                return self.unknown("partial() without a function", node)
            return Partial(args[0], tuple(args[1:]), kwargs)
        if path.startswith("math."):
            fn = _MATH.get(path[5:])
            if fn is not None and callable(fn):
                return self.call(_builtin(path, fn), args, kwargs, node)
        return self.unknown(f"call to {path} is not modelled", node)

    def construct_layer(self, spec: LayerSpec, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> LayerValue:
        self.built += 1
        name = spec.name
        attrs: dict[str, Any] = self.call_spans(node, spec.params)
        bound: dict[str, Any] = {}
        try:
            bound = spec.bind(args, kwargs)
            op, extra = spec.build(bound, spec.ndim)
            attrs.update(extra)
        except BadArgument as exc:
            op = Opaque(f"{name}: {exc}")
            self.unknown(f"{name}: {exc}", node)
        return LayerValue(name, op, self.loc(node), attrs, bound=bound)

    def _sequential_children(self, args: list[Any], node: ast.AST) -> dict[str, Any] | Unknown:
        if len(args) == 1 and isinstance(args[0], dict):
            return {str(k): v for k, v in args[0].items()}
        return {str(i): a for i, a in enumerate(args)}

    def _container(self, kind: str, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        if kind == "Sequential":
            children = self._sequential_children(args, node)
        else:
            items = args[0] if args else kwargs.get("modules", [])
            if items is None:
                items = []
            if kind == "ModuleDict":
                children = {str(k): v for k, v in items.items()} if isinstance(items, dict) else self.unknown(
                    "ModuleDict of items that are not known", node)
            else:
                seq = self.iterate(items, node)
                children = {str(i): v for i, v in enumerate(seq)} if not isinstance(seq, Unknown) else seq
        if isinstance(children, Unknown):
            return children
        return ContainerValue(kind, children, self.loc(node))

    def bind_arguments(self, func: FunctionValue, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> dict[str, Any] | Unknown:
        """Bind a call to a user function's parameters as Python would."""
        spec = func.node.args
        positional = [a.arg for a in (*spec.posonlyargs, *spec.args)]
        bound: dict[str, Any] = {}
        for name, value in zip(positional, args):
            bound[name] = value
        extra = args[len(positional):]
        if extra:
            if spec.vararg is None:
                return self.unknown(f"{func.name}() takes {len(positional)} positional arguments, got {len(args)}", node)
            bound[spec.vararg.arg] = tuple(extra)
        elif spec.vararg is not None:
            bound[spec.vararg.arg] = ()
        rest: dict[str, Any] = {}
        keyword_names = set(positional[len(spec.posonlyargs):]) | {a.arg for a in spec.kwonlyargs}
        for key, value in kwargs.items():
            if key in keyword_names and key not in bound:
                bound[key] = value
            elif spec.kwarg is not None:
                rest[key] = value
            else:
                return self.unknown(f"{func.name}() got an unexpected keyword argument '{key}'", node)
        if spec.kwarg is not None:
            bound[spec.kwarg.arg] = rest
        for name in [*positional, *(a.arg for a in spec.kwonlyargs)]:
            if name not in bound:
                if name in func.defaults:
                    bound[name] = func.defaults[name]
                else:
                    return self.unknown(f"{func.name}() missing argument '{name}'", node)
        return bound

    def call_function(self, func: FunctionValue, args: list[Any], kwargs: dict[str, Any], node: ast.AST,
                      self_obj: Any) -> Any:
        if self_obj is not None:
            args = [self_obj, *args]
        bound = self.bind_arguments(func, args, kwargs, node)
        if isinstance(bound, Unknown):
            return bound
        if self.depth >= MAX_DEPTH:
            return self.unknown(f"call depth limit reached in {func.name}()", node)
        key = id(func.node)
        if self.active.get(key) and any(isinstance(v, Unknown) for v in bound.values()):
            # Recursion whose base case cannot be decided (DLA's tree built without its
            # `levels`): both branches would recurse again, doubling the work per level.
            return self.unknown(f"{func.name}() calls itself with an argument that is not known", node)
        if func.owner is not None:
            bound["__class__"] = func.owner
        scope = Scope(func.env, bound)
        self.active[key] = self.active.get(key, 0) + 1
        self.depth += 1
        pushed = self_obj is None  # a helper function: findings inside it name the call chain
        if pushed:
            self.chain.append(self.frame(node, func.name))
        saved_module = self.module
        self.module = func.module
        try:
            if isinstance(func.node, ast.Lambda):
                return self.eval(func.node.body, scope)
            self.exec_body(func.node.body, scope)
            return None
        except _Return as ret:
            return ret.value
        finally:
            self.module = saved_module
            self.depth -= 1
            self.active[key] -= 1
            if pushed:
                self.chain.pop()

    def is_module_class(self, cls: ClassValue) -> bool:
        return any(canonical_nn_name(p) is not None for p in cls.external_bases())

    def instantiate(self, cls: ClassValue, args: list[Any], kwargs: dict[str, Any], node: ast.AST | None) -> Any:
        loc = self.loc(node) if node is not None else None  # where it is built, before entering it
        if node is not None:
            self.chain.append(self.frame(node, cls.name))
            try:
                return self._instantiate(cls, args, kwargs, node, loc)
            finally:
                self.chain.pop()
        return self._instantiate(cls, args, kwargs, node, loc)

    def _instantiate(self, cls: ClassValue, args: list[Any], kwargs: dict[str, Any], node: ast.AST | None,
                     loc: Location | None) -> Any:
        self.built += 1
        instance = ModuleInstance(cls, {}, loc)
        init = cls.lookup("__init__")
        if init is None:
            data_cls = next((c for c in cls.mro() if c.is_dataclass()), None)
            if data_cls is not None:
                result = self.dataclass_init(data_cls, instance, args, kwargs, node or cls.node)
                return result if isinstance(result, Unknown) else instance
            self._external_init(instance, args, kwargs, node or cls.node)
            return instance
        owner = next(c for c in cls.mro() if init in c.node.body)
        func = self._define_function(init, Scope(owner.module.globals), owner)  # type: ignore[arg-type]
        result = self.call_function(func, args, kwargs, node or cls.node, instance)
        if isinstance(result, Unknown):
            return result
        return instance

    # ------------------------------------------------------------------ forward

    def apply_module(self, module: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        if isinstance(module, LayerValue):
            if not args:
                return self.unknown(f"{module.type_name} called without an input", node)
            x = self.as_tensor(args[0], node)
            if isinstance(x, Unknown):
                return x
            self.applied.add(id(module))
            op = module.op
            if x.layout is not None and x.layout[-1] == "C" and module.type_name in ("Linear", "LazyLinear"):
                op = Pointwise()  # a Linear over channels-last features is a 1x1 conv (ConvNeXt's MLP)
            out = self.add_node(op, [x.node], module.type_name, None, module.attrs, module.path, module.loc)
            if x.layout is not None and isinstance(op, Pointwise):
                out = TensorValue(out.node, x.layout)
            if module.bound.get("return_indices") is True:
                return (out, Unknown("pooling indices are not modelled"))
            return out
        if isinstance(module, ContainerValue):
            if module.kind != "Sequential":
                return self.unknown(f"{module.kind} is not callable", node)
            return self._chain(list(module.children.values()), args, node)
        if isinstance(module, ModuleInstance):
            forward = module.cls.lookup("forward")
            if forward is None:
                if module.children:
                    return self._chain(list(module.children.values()), args, node)
                layer = self._as_layer(module)
                if layer is not None:  # class Conv3DSimple(nn.Conv3d) with only an __init__
                    return self.apply_module(layer, args, kwargs, node)
                return self.unknown(f"{module.cls.name} has no forward that rflint can see", node)
            owner = next(c for c in module.cls.mro() if forward in c.node.body)
            func = self._define_function(forward, Scope(owner.module.globals), owner)  # type: ignore[arg-type]
            return self.call_function(func, args, kwargs, node, module)
        return self.unknown("not a module", node)

    def _as_layer(self, module: ModuleInstance) -> LayerValue | None:
        """A user subclass of a modelled layer that keeps the layer's forward: the layer,
        built from the arguments its ``super().__init__`` received."""
        for base in module.cls.external_bases():
            name = canonical_nn_name(base)
            if name in LAYERS:
                spec = LAYERS[name]
                bound = {p: module.attrs[p] for p in spec.params if p in module.attrs}
                try:
                    op, attrs = spec.build(bound, spec.ndim)
                except (BadArgument, KeyError) as exc:
                    op, attrs = Opaque(f"{module.cls.name}: {exc}"), {}
                layer = LayerValue(module.cls.name, op, module.loc, attrs, module.path, bound)
                return layer
        return None

    def _chain(self, modules: list[Any], args: list[Any], node: ast.AST) -> Any:
        x: Any = args[0] if args else self.unknown("Sequential called without an input", node)
        for m in modules:
            x = self.call(m, [x], {}, node)  # type: ignore[arg-type]
        return x

    def iter_layers(self, value: Any, seen: set[int] | None = None) -> Iterator[tuple[LayerValue, ContainerValue | None]]:
        """Every layer below a module, with the Sequential that holds it (if any)."""
        seen = seen if seen is not None else set()
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, LayerValue):
            yield value, None
        elif isinstance(value, ContainerValue):
            for child in value.children.values():
                for layer, parent in self.iter_layers(child, seen):
                    yield layer, parent if parent is not None or value.kind != "Sequential" else value
        elif isinstance(value, ModuleInstance):
            for child in [*value.attrs.values(), *value.children.values()]:
                yield from self.iter_layers(child, seen)
        elif isinstance(value, (list, tuple)):
            for child in value:
                yield from self.iter_layers(child, seen)
        elif isinstance(value, dict):
            for child in value.values():
                yield from self.iter_layers(child, seen)


_NO_RETURN = object()
STUBS_DIR = str(STUBS)
_CONTAINER_METHODS = {"append", "extend", "add_module", "items", "keys", "values"}
_MODULE_ITERATORS = {"modules", "children", "named_modules", "named_children", "parameters", "named_parameters",
                     "buffers", "named_buffers"}
_MODULE_INTROSPECTION = _MODULE_ITERATORS | {
    "apply", "to", "cuda", "cpu", "half", "float", "double", "eval", "train", "requires_grad_", "zero_grad",
    "load_state_dict", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
}


class _FieldSpec:
    """``dataclasses.field(default=..., default_factory=...)``."""

    __slots__ = ("default", "factory")

    def __init__(self, default: Any, factory: Any) -> None:
        self.default, self.factory = default, factory


class _Deferred:
    """A module constant's or class attribute's expression, not evaluated yet: model
    files and the libraries they import declare weights, metadata and registries at
    module level that a receptive field never needs, so reading them waits for a use."""

    __slots__ = ("expr", "module")

    def __init__(self, expr: ast.expr, module: SourceModule | None = None) -> None:
        self.expr = expr
        self.module = module


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_is_literal(e) for e in node.elts)
    return isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)


def _dotted(node: ast.expr) -> str:
    """``nn.MaxPool2d`` for a callee written as a dotted name; '' for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    return ".".join([node.id, *reversed(parts)])


def _decorated(fn: ast.AST, name: str) -> bool:
    return any(
        (isinstance(d, ast.Name) and d.id == name) or (isinstance(d, ast.Attribute) and d.attr == name)
        for d in getattr(fn, "decorator_list", [])
    )


class _ClassNamespace(dict):  # type: ignore[type-arg]
    """The class body's names as seen from a deferred class attribute's expression."""

    def __init__(self, ev: "Evaluator", cls: ClassValue) -> None:
        super().__init__()
        self.ev, self.cls = ev, cls

    def __contains__(self, name: object) -> bool:
        return name in self.cls.class_attrs

    def __getitem__(self, name: str) -> Any:
        return self.ev.class_attr(self.cls, name)


def _safe_eq(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def _normalise(path: str) -> str:
    """Canonical dotted path: ``torch.nn.modules.conv.Conv2d`` -> ``torch.nn.Conv2d``."""
    if path.startswith("torch.nn.modules."):
        return "torch.nn." + path.rsplit(".", 1)[-1]
    if path.startswith("torch.functional."):
        return "torch." + path.rsplit(".", 1)[-1]
    return path


_CONST_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv", ast.FloorDiv: "floordiv",
                 ast.Pow: "pow"}


def _const_binop(op: ast.operator, a: Any, b: Any) -> Any:
    """Arithmetic with a constant tensor (a width formula, a blur kernel)."""
    u = first_unknown(a, b)
    if u:
        return u
    if not all(isinstance(x, (ConstTensor, int, float)) and not isinstance(x, bool) for x in (a, b)):
        return Unknown("operation on a constant tensor that is not modelled")
    if isinstance(op, ast.MatMult):
        return matmul(a, b)
    name = _CONST_BINOPS.get(type(op))
    return elementwise(name, a, b) if name is not None else Unknown("operation on a constant tensor that is not modelled")
