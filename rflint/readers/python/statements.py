"""Statements: assignment, control flow, and the definitions of classes and functions.

Undecidable conditions run both branches and join what they leave; loops run
under the step budget, and a long loop that builds nothing is stopped.
"""

from __future__ import annotations

import ast
import copy
import weakref
from typing import Any

from . import limits
from .consttensor import ConstTensor
from .active import active
from .control import (
    Raised,
    IDLE_REASON,
    IDLE_LOOP_STEPS,
    NO_RETURN,
    Break,
    ClassNamespace,
    Continue,
    Deferred,
    Return,
    Scope,
    safe_eq,
)
from .stdlib.builtins import PLAIN as _PLAIN
from .stdlib.enum import EnumMember, is_enum_class
from .weight_init import is_weight_init_loop
from .values import (
    ParamValue,
    BoundMethod,
    Builtin,
    ClassValue,
    ContainerValue,
    ExternalRef,
    FunctionValue,
    ModuleInstance,
    Partial,
    Record,
    SourceModule,
    TensorValue,
    Unknown,
    is_module,
)


class Statements:
    """Executing statements in a scope. A part of :class:`Evaluator`."""

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
            func = scope.locals[stmt.name] = self._define_function(stmt, scope, None)
            if top:
                self._run_registering_decorators(stmt, func, scope)
        elif isinstance(stmt, ast.Assign):
            if top and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id not in scope.locals:
                # Module constants are evaluated when first read (see Deferred).
                scope.locals[stmt.targets[0].id] = Deferred(stmt.value, self.module)
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
        elif isinstance(stmt, ast.Expr) and _copy_into_attribute(stmt.value):
            # self.filt.copy_(blur_filter): a buffer filled in place holds the new values.
            call = stmt.value
            target = call.func.value  # type: ignore[attr-defined]
            if isinstance(target, ast.Attribute) and target.attr == "data":
                target = target.value
            value = self.eval(call.args[0], scope)  # type: ignore[attr-defined]
            owner = self.eval(target.value, scope)  # type: ignore[attr-defined]
            if isinstance(value, (ConstTensor, ParamValue)):
                self.set_attr(owner, target.attr, value)  # type: ignore[attr-defined]
        elif isinstance(stmt, ast.Expr):
            if not top or isinstance(stmt.value, ast.Call):
                self.eval(stmt.value, scope)  # at module level: calls (a registration) run when the module is read
        elif isinstance(stmt, ast.Return):
            raise Return(self.eval(stmt.value, scope) if stmt.value is not None else None)
        elif isinstance(stmt, ast.If):
            self._if(stmt, scope)
        elif isinstance(stmt, ast.For):
            self._for(stmt, scope)
        elif isinstance(stmt, ast.While):
            self._while(stmt, scope)
        elif isinstance(stmt, ast.Break):
            raise Break()
        elif isinstance(stmt, ast.Continue):
            raise Continue()
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            self.exec_body(stmt.body, scope)
        elif isinstance(stmt, ast.Try):
            self._try(stmt, scope)
        elif isinstance(stmt, ast.Raise):
            if not top:
                kind = self._exception_name(stmt.exc, scope) if stmt.exc is not None else "Exception"
                raise Return(self.fail(kind, f"the code raises {kind} here", stmt))
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    scope.locals.pop(target.id, None)
                elif isinstance(target, ast.Subscript):
                    obj, key = self.eval(target.value, scope), self.eval(target.slice, scope)
                    self.memo.written(self, obj)
                    if isinstance(obj, (dict, list)) and not isinstance(key, Unknown):
                        try:
                            del obj[key]
                        except (KeyError, IndexError, TypeError):
                            pass

    def _define_class(self, stmt: ast.ClassDef, scope: Scope) -> None:
        """Class attributes are evaluated when first read: model files declare weight
        enums and metadata in class bodies that a receptive field never needs."""
        module = self.module
        # The names the bases use, bound as they are now (Python evaluates bases when the
        # class is created): ``class Dataset(Dataset)`` after ``from torch.utils.data import
        # Dataset`` derives from the import, not from itself. The values stay lazy.
        bound: dict[str, Any] = {}
        for n in (n for b in stmt.bases for n in ast.walk(b) if isinstance(n, ast.Name)):
            try:
                bound[n.id] = scope.lookup(n.id)
            except KeyError:
                pass
        base_scope = Scope(scope.globals, bound)
        maker = weakref.ref(self)

        def bases() -> list[Any]:
            # The evaluator reading when the bases are first needed, not the one that read
            # the class (control.active): a module's classes serve every file of a run.
            ev = active() or maker()
            if ev is None:
                return []
            saved, saved_try = ev.module, ev.try_depth
            ev.module, ev.try_depth = module, 0  # evaluated lazily: not inside the reader's try
            try:
                return [ev.eval(b, base_scope) for b in stmt.bases]
            finally:
                ev.module, ev.try_depth = saved, saved_try

        cls = ClassValue(stmt.name, stmt, self.module, bases)
        for item in stmt.body:
            if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
                cls.class_attrs[item.targets[0].id] = Deferred(item.value, self.module)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                cls.class_attrs[item.target.id] = Deferred(item.value, self.module)
        scope.locals[stmt.name] = cls

    def force(self, deferred: "Deferred", name: str, namespace: dict[str, Any]) -> Any:
        """Evaluate a deferred module constant in its own module, once."""
        module = deferred.module or self.module
        namespace[name] = Unknown(f"{name} refers to itself")
        saved, saved_try = self.module, self.try_depth
        self.module, self.try_depth = module, 0  # evaluated lazily: not inside the reader's try
        try:
            value = self.eval(deferred.expr, Scope(module.globals))
        finally:
            self.module, self.try_depth = saved, saved_try
        # Modules are shared by the files of a run: an Unknown (an import cycle met half-way)
        # is not kept, so that what a file reads does not depend on the files read before it.
        namespace[name] = deferred if isinstance(value, Unknown) else value
        return value

    def class_attr(self, cls: ClassValue, name: str) -> Any:
        """A class attribute by name, evaluating it on first use in the class body's scope."""
        value = cls.class_attrs[name]
        if isinstance(value, Deferred):
            cls.class_attrs[name] = Unknown(f"{cls.name}.{name} refers to itself")
            saved = self.module
            self.module = cls.module
            try:
                value = self.eval(value.expr, Scope(cls.module.globals, ClassNamespace(self, cls)))
            finally:
                self.module = saved
            cls.class_attrs[name] = value
        return value

    def _run_registering_decorators(self, stmt: ast.FunctionDef | ast.AsyncFunctionDef, func: FunctionValue,
                                    scope: Scope) -> None:
        """Run a module-level decorator that is a method of an object the same module made
        (``@Conv.factory_function("conv")`` adds the function to MONAI's layer factory,
        which that module's ``Conv[Conv.CONV, 2]`` then reads). The name keeps the function
        itself. Other decorators (an imported registry: timm's ``register_model``) are not
        run: what they record is never read by a model's geometry, and reading a model
        file must not run a thousand of them."""
        for d in reversed(stmt.decorator_list):
            target = d.func if isinstance(d, ast.Call) else d
            if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
                continue
            owner = scope.locals.get(target.value.id)
            if not isinstance(owner, (Deferred, ModuleInstance)):
                continue  # an import, a module, a class: not this module's registry object
            decorator = self.eval(d, scope)
            if isinstance(decorator, (FunctionValue, BoundMethod, Builtin)):
                self.call(decorator, [func], {}, d)

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
        func = FunctionValue(name, stmt, module, env, defaults, owner)  # type: ignore[arg-type]
        if env is not scope.globals and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and owner is None:
            env[name] = func  # a nested function that calls itself (MONAI's recursive _create_block)
        return func

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
            self.memo.written(self, obj)
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
        # A dict, list or set the branches may change in place (``kw["num_channels"] = c``):
        # each branch starts from its contents before, and one that ends different is Unknown.
        containers = {id(v): (v, copy.copy(v)) for v in before.values() if type(v) in (dict, list, set)}
        built = self.built
        results = []
        contents = []
        for body in (stmt.body, stmt.orelse):
            scope.locals.clear()
            scope.locals.update(before)
            for value, saved in containers.values():
                _restore(value, saved)
            returned: Any = NO_RETURN
            try:
                self.exec_body(body, scope)
            except Return as ret:
                returned = ret.value
            except (Break, Continue):
                # A loop that may or may not stop here: its later iterations still run.
                self.unknown(f"break/continue under an undecidable condition ({cond.reason})", stmt)
            results.append((dict(scope.locals), returned))
            contents.append({key: copy.copy(value) for key, (value, _) in containers.items()})
        changed = {key for key in containers if not safe_eq(contents[0][key], contents[1][key])}
        for key, (value, _) in containers.items():
            _restore(value, contents[1][key])  # the same in both branches, or changed (then Unknown below)
        (then_locals, then_ret), (else_locals, else_ret) = results
        if changed:
            why = Unknown(f"changed differently by the branches of an undecidable condition ({cond.reason})")
            for branch_locals in (then_locals, else_locals):
                for key, value in branch_locals.items():
                    if id(value) in changed:
                        branch_locals[key] = why
        if self.builder is None and self.built != built:
            # Both branches built layers, where only one would: what is built depends on it.
            self.taint(f"what is built depends on an undecidable condition ({cond.reason})", stmt)
        scope.locals.clear()
        for key in then_locals.keys() | else_locals.keys():
            a = then_locals.get(key, NO_RETURN)
            b = else_locals.get(key, NO_RETURN)
            scope.locals[key] = self.join(a, b, stmt, cond)
        if then_ret is not NO_RETURN or else_ret is not NO_RETURN:
            if then_ret is NO_RETURN or else_ret is NO_RETURN:
                raise Return(self.unknown(f"returns only when an undecidable condition holds ({cond.reason})", stmt))
            raise Return(self.join(then_ret, else_ret, stmt, cond))

    def join(self, a: Any, b: Any, node: ast.AST, cond: Unknown) -> Any:
        if a is b or (type(a) is type(b) and isinstance(a, _PLAIN) and safe_eq(a, b)):
            return a
        if isinstance(a, TensorValue) and isinstance(b, TensorValue) and self.builder is not None:
            if a.node == b.node and a.layout == b.layout:
                return a
            out = self.binary_tensor_op("add", a, b, node, "if/else")  # either branch's positions: their union
            if isinstance(out, TensorValue):
                self.builder.node(out.node).attrs["alternatives"] = True
            return out
        if a is NO_RETURN or b is NO_RETURN:
            return Unknown(f"bound in one branch of an undecidable condition ({cond.reason})")
        return Unknown(f"differs between branches of an undecidable condition ({cond.reason})")

    def _for(self, stmt: ast.For, scope: Scope) -> None:
        skipped = _weight_init(stmt)
        if skipped is not None:
            not_run = Unknown("set by a weight-initialisation loop, which rflint does not run")
            for name in skipped:
                scope.locals[name] = not_run
            return
        items = self.iterate(self.eval(stmt.iter, scope), stmt.iter, lazy=True)
        if isinstance(items, Unknown):
            self._skip(stmt, scope, self.unknown(f"loop over a value that is not known ({items.reason})", stmt.iter))
            return
        start = (self.steps, self.built, self._yields())
        for item in items:
            self.tick()
            if self._idle_loop(stmt, scope, start):
                return
            self.assign(stmt.target, item, scope)
            try:
                self.exec_body(stmt.body, scope)
            except Break:
                return
            except Continue:
                continue
        self.exec_body(stmt.orelse, scope)

    def _try(self, stmt: ast.Try, scope: Scope) -> None:
        """``try``: an error raised in the body (a layer refusing an argument, a missing key,
        a ``raise``) runs the first ``except`` clause that names its class or a base of it."""
        caught: Raised | None = None
        depth = self.try_depth
        self.try_depth += 1
        try:
            self.exec_body(stmt.body, scope)
        except Raised as exc:
            caught = exc
        finally:
            self.try_depth = depth  # also when the body returns or breaks
        try:
            if caught is None:
                self.exec_body(stmt.orelse, scope)
                return
            handler = next((h for h in stmt.handlers if self._catches(h, caught.kind, scope)), None)
            if handler is None:
                if self.try_depth:
                    raise caught
                raise Return(self.unknown(caught.reason, stmt))
            if handler.name:
                scope.locals[handler.name] = Unknown(f"the {caught.kind} caught here")
            self.exec_body(handler.body, scope)
        finally:
            if stmt.finalbody:
                self.exec_body(stmt.finalbody, scope)

    def _exception_name(self, expr: ast.expr, scope: Scope) -> str:
        value = self.eval(expr.func if isinstance(expr, ast.Call) else expr, scope)
        return getattr(value, "name", None) or getattr(value, "path", "Exception").rsplit(".", 1)[-1]

    def _catches(self, handler: ast.ExceptHandler, kind: str, scope: Scope) -> bool:
        if handler.type is None:
            return True
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        caught = {self._exception_name(n, scope) for n in names}
        return bool(caught & ({kind} | _EXCEPTION_BASES.get(kind, set()) | {"Exception", "BaseException"}))

    def _skip(self, stmt: ast.For | ast.While, scope: Scope, why: Unknown) -> None:
        """A loop that cannot run: every name it would assign becomes Unknown (a tensor that
        would have gone through its layers is not passed on as if it had), and an instance
        under construction may lack the layers it would have built."""
        for name in {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}:
            scope.locals[name] = why
        self.taint(why.reason, stmt)

    def _yields(self) -> int:
        """How many values the generator being run has yielded (0 outside one)."""
        return len(self.yielded[-1]) if self.yielded else 0

    def _idle_loop(self, stmt: ast.For | ast.While, scope: Scope, start: tuple[int, int, int]) -> bool:
        """Stop a loop that has long built nothing (IDLE_LOOP_STEPS); every local name it
        touches becomes Unknown, so that no partial value passes for a whole one."""
        if self.steps - start[0] <= IDLE_LOOP_STEPS or self.built != start[1] or self._yields() != start[2]:
            return False  # a loop that builds, or a generator's loop that yields, is working
        gone = self.unknown(IDLE_REASON, stmt)
        # The names the loop assigns or fills in place (``idxs.append(...)``, ``table[k] = v``):
        # a partial value never passes for a whole one. The ones it only reads (the module it
        # iterates over, the function it calls) are what they were.
        for name in _changed_names(stmt):
            if name in scope.locals:
                scope.locals[name] = gone
        return True

    def _while(self, stmt: ast.While, scope: Scope) -> None:
        start = (self.steps, self.built, self._yields())
        while True:
            self.tick()
            if self._idle_loop(stmt, scope, start):
                return
            cond = self.truth(self.eval(stmt.test, scope))
            if isinstance(cond, Unknown):
                self._skip(stmt, scope, self.unknown(f"while condition is not known ({cond.reason})", stmt.test))
                return
            if not cond:
                break
            try:
                self.exec_body(stmt.body, scope)
            except Break:
                return
            except Continue:
                continue
        self.exec_body(stmt.orelse, scope)

    def iterate(self, value: Any, node: ast.AST, lazy: bool = False) -> list[Any] | range | Unknown:
        """The items of ``value``, as a list. ``lazy``: a ``for`` loop's, which takes them
        one at a time: a long range stays a range (the step budget stops the loop, not
        the memory a list of it would take)."""
        if isinstance(value, Unknown):
            return value
        if lazy and isinstance(value, range):
            return value
        if isinstance(value, (list, tuple, range, str, set, frozenset)):
            bound = limits.too_large(value)
            if bound:
                return Unknown(limits.limited(f"iterating over {bound}"))
            return list(value)
        if isinstance(value, dict):
            return list(value.keys())
        if isinstance(value, ConstTensor):
            return value.rows()
        if isinstance(value, ContainerValue):
            return list(value.children) if value.kind == "ModuleDict" else list(value.children.values())
        if isinstance(value, ModuleInstance) and value.children:
            return list(value.children.values())
        if isinstance(value, ClassValue) and is_enum_class(value):
            return self.enum_members_of(value, node)
        return Unknown(f"cannot iterate over {type(value).__name__}")

    def enum_members_of(self, cls: ClassValue, node: ast.AST) -> list[Any]:
        """An enum class's members in definition order (``for m in Color``)."""
        members = [self.get_attr(cls, name, node) for name in cls.class_attrs if not name.startswith("_")]
        return [m for m in members if isinstance(m, EnumMember)]

    def truth(self, value: Any) -> bool | Unknown:
        if isinstance(value, Unknown):
            return value
        if isinstance(value, _PLAIN):
            try:
                return bool(value)  # a container's truth is its length, whatever it holds
            except Exception:  # noqa: BLE001
                return Unknown("condition cannot be decided")
        if isinstance(value, TensorValue):
            return Unknown("condition on tensor values")
        if isinstance(value, ContainerValue):
            return bool(value.children)  # an empty ModuleList is false, as its len() is 0
        if isinstance(value, ModuleInstance) and self.container_kind(value.cls):
            return bool(value.children)
        if is_module(value) or isinstance(value, (FunctionValue, ClassValue, ExternalRef, BoundMethod, Builtin, Partial,
                                                  Record, SourceModule)):
            return True  # objects without __bool__ or __len__ are true
        return Unknown("condition cannot be decided")


_EXCEPTION_BASES = {
    "KeyError": {"LookupError"}, "IndexError": {"LookupError"}, "ZeroDivisionError": {"ArithmeticError"},
    "OverflowError": {"ArithmeticError"}, "ModuleNotFoundError": {"ImportError"},
    "PackageNotFoundError": {"ModuleNotFoundError", "ImportError"},
    "FileNotFoundError": {"OSError", "IOError", "EnvironmentError"}, "NotImplementedError": {"RuntimeError"},
    "RecursionError": {"RuntimeError"}, "UnboundLocalError": {"NameError"},
}


def _copy_into_attribute(expr: ast.expr) -> bool:
    """``obj.name.copy_(value)`` or ``obj.name.data.copy_(value)`` with one argument."""
    if not (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "copy_"
            and len(expr.args) == 1 and not expr.keywords):
        return False
    target = expr.func.value
    if isinstance(target, ast.Attribute) and target.attr == "data":
        target = target.value
    return isinstance(target, ast.Attribute)


def _restore(container: Any, contents: Any) -> None:
    """Put ``contents`` back into ``container`` in place (other references see it too)."""
    if isinstance(container, dict):
        container.clear()
        container.update(contents)
    elif isinstance(container, list):
        container[:] = contents
    else:
        container.clear()
        container.update(contents)


_FILLING = frozenset(("append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "remove", "clear",
                      "appendleft", "extendleft", "popleft", "discard", "sort", "reverse"))


_WEIGHT_INIT = "_rflint_weight_init"


def _weight_init(stmt: ast.For) -> frozenset[str] | None:
    """The names a loop that only initialises weights (weight_init.py) would bind, else None;
    decided once per loop, and remembered on its node (which a table by ``id`` could confuse
    with a later node at a freed one's address)."""
    found = getattr(stmt, _WEIGHT_INIT, False)
    if found is False:
        found = frozenset(_changed_names(stmt)) if is_weight_init_loop(stmt) else None
        setattr(stmt, _WEIGHT_INIT, found)
    return found  # type: ignore[return-value]


def _changed_names(stmt: ast.AST) -> set[str]:
    """Names a statement rebinds, or whose list, dict or set it changes in place."""
    names: set[str] = set()
    for n in ast.walk(stmt):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, ast.Subscript) and isinstance(n.ctx, (ast.Store, ast.Del)) and isinstance(n.value, ast.Name):
            names.add(n.value.id)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _FILLING \
                and isinstance(n.func.value, ast.Name):
            names.add(n.func.value.id)
    return names
