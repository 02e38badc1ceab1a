"""Calls: argument binding, user functions and methods, classes and their instances.

A call to something rflint reads runs its body here; a call to a library it
models goes to that library's model (``torch_nn``, ``tensor_ops``, the standard
library); anything else is an Unknown that names it.
"""

from __future__ import annotations

import ast
from typing import Any

from ...ir import Location, Opaque
from . import consttensor, tensor_ops
from .control import (
    MAX_DEPTH,
    Break,
    BudgetExceeded,
    Continue,
    Raised,
    Return,
    Scope,
    normalise_path,
)
from .stdlib import dataclasses
from .stdlib.enum import is_enum_class
from .stdlib.enum import lookup as enum_lookup
from .torch_nn import (LAYERS, BadArgument, canonical_nn_name, external_layer, layer_attribute, parameter_shapes,
                       weight_kernel)
from .values import (
    Builtin,
    BoundMethod,
    ClassValue,
    ExternalRef,
    FunctionValue,
    ModuleInstance,
    ParamValue,
    Partial,
    SuperProxy,
    TensorValue,
    Unknown,
    is_module,
)


class Calls:
    """Calling functions and instantiating classes. A part of :class:`Evaluator`."""

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
                if isinstance(value, Unknown):
                    return value
                if not isinstance(value, dict):
                    return Unknown(f"** of a {type(value).__name__}, not a dict")
                kwargs.update(value)
            else:
                kwargs[kw.arg] = value
        return self.call(func, args, kwargs, node)

    def call(self, func: Any, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        self.tick()
        if isinstance(func, Unknown):
            tensors = [a.node for a in args if isinstance(a, TensorValue)]
            if tensors and self.builder is not None:
                # An unknown layer applied to a feature map: its output is a map whose frame is
                # not known, and the layers after it are still seen.
                return self.add_node(Opaque(func.reason), tensors, "unknown", node, origin=func.loc)
            return func
        if isinstance(func, Builtin):
            try:
                return func.impl(self, args, kwargs, node)
            except (Return, Break, Continue, BudgetExceeded, Raised):
                raise
            except Exception as exc:  # noqa: BLE001  (the model's own arithmetic failing)
                return self.fail(type(exc).__name__, f"{func.name}(): {type(exc).__name__}: {exc}", node)
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
        if isinstance(func, ModuleInstance) and func.cls.lookup("__call__") is not None:
            return self.call(self.get_attr(func, "__call__", node), args, kwargs, node)  # an object with __call__
        if is_module(func):
            return self.apply_module(func, args, kwargs, node)
        return self.unknown(f"cannot call {type(func).__name__}", node)

    def call_external(self, path: str, args: list[Any], kwargs: dict[str, Any], node: ast.Call) -> Any:
        path = normalise_path(path)
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
            if path not in _PARAMETER_AWARE:
                derived = tensor_ops.of_parameters(path, args, kwargs)
                if derived is not None:
                    return derived
            return handler(self, args, kwargs, node)
        if path.startswith("torch.nn.init."):
            return None  # weight initialisation does not change the geometry
        return self.unknown(f"call to {path} is not modelled", node)

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
                return self.fail("TypeError", f"{func.name}() takes {len(positional)} positional arguments, got {len(args)}", node)
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
                return self.fail("TypeError", f"{func.name}() got an unexpected keyword argument '{key}'", node)
        if spec.kwarg is not None:
            bound[spec.kwarg.arg] = rest
        for name in [*positional, *(a.arg for a in spec.kwonlyargs)]:
            if name not in bound:
                if name in func.defaults:
                    bound[name] = func.defaults[name]
                else:
                    return self.fail("TypeError", f"{func.name}() missing argument '{name}'", node)
        return bound

    def call_function(self, func: FunctionValue, args: list[Any], kwargs: dict[str, Any], node: ast.AST,
                      self_obj: Any) -> Any:
        if self_obj is not None:
            args = [self_obj, *args]
        bound = self.bind_arguments(func, args, kwargs, node)
        if isinstance(bound, Unknown):
            return bound
        if self.depth >= MAX_DEPTH:
            self.memo.spoil()  # a limit of where this runs, not of what it builds
            return self.unknown(f"call depth limit reached in {func.name}()", node)
        key = id(func.node)
        if self.active.get(key) and any(isinstance(v, Unknown) for v in bound.values()):
            # Recursion whose base case cannot be decided (DLA's tree built without its
            # `levels`): both branches would recurse again, doubling the work per level.
            self.memo.spoil()
            return self.unknown(f"{func.name}() calls itself with an argument that is not known", node)
        if func.owner is not None:
            bound["__class__"] = func.owner
        if func.module.path not in self.read_files:
            self.depend(func.module)
        if self.def_owner:
            self.touch(func.node)
        scope = Scope(func.env, bound)
        self.active[key] = self.active.get(key, 0) + 1
        self.depth += 1
        pushed = self_obj is None  # a helper function: findings inside it name the call chain
        if pushed:
            self.chain.append(self.frame(node, func.name))
        saved_module = self.module
        self.module = func.module
        generator = is_generator(func.node)
        if generator:
            self.yielded.append([])
        try:
            if isinstance(func.node, ast.Lambda):
                return self.eval(func.node.body, scope)
            self.exec_body(func.node.body, scope)
            return self.yielded[-1] if generator else None
        except Return as ret:
            return self.yielded[-1] if generator else ret.value
        finally:
            if generator:
                self.yielded.pop()
            self.module = saved_module
            self.depth -= 1
            self.active[key] -= 1
            if pushed:
                self.chain.pop()

    def is_module_class(self, cls: ClassValue) -> bool:
        return any(canonical_nn_name(p) is not None for p in cls.external_bases())

    def instantiate(self, cls: ClassValue, args: list[Any], kwargs: dict[str, Any], node: ast.AST | None) -> Any:
        if is_enum_class(cls) and len(args) == 1:
            return enum_lookup(self, cls, args[0], node)  # Format('NHWC'): a member by value
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
        if cls.module.path not in self.read_files:
            self.depend(cls.module)
        if self.def_owner:
            for c in cls.mro():  # their text decides what is built (a dataclass's fields too)
                self.touch(c.node)
        init = cls.lookup("__init__")
        if init is None:
            data_cls = next((c for c in cls.mro() if c.is_dataclass()), None)
            if data_cls is not None:
                result = dataclasses.init(self, data_cls, instance, args, kwargs, node or cls.node)
                return result if isinstance(result, Unknown) else instance
            self._external_init(instance, args, kwargs, node or cls.node)
            return instance
        # A class built with the same arguments before: a copy of what it built (memo.py).
        key = self.memo.key(self, cls, args, kwargs)
        if key is not None:
            entry = self.memo.entries.get(key, False)
            if entry:
                return self.memo.replay(self, entry, loc)  # type: ignore[arg-type]
            if entry is None:
                key = None  # tried before: cannot be remembered
        recording = self.memo.begin(self, key, (*args, *kwargs.values())) if key is not None else None
        self.constructing.append(instance)
        try:
            owner = next(c for c in cls.mro() if init in c.node.body)
            func = self._define_function(init, Scope(owner.module.globals), owner)  # type: ignore[arg-type]
            result = self.call_function(func, args, kwargs, node or cls.node, instance)
        except BaseException:
            if recording is not None:
                self.memo.abandon()
            raise
        finally:
            self.constructing.pop()
        if isinstance(result, Unknown):
            instance = result  # type: ignore[assignment]
        if recording is not None:
            self.memo.end(self, recording, instance)
        return instance

    def _external_init(self, obj: Any, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> None:
        """``super().__init__(...)`` into torch.nn: Sequential/ModuleList subclasses keep their children."""
        if not isinstance(obj, ModuleInstance):
            return None
        bases = [canonical_nn_name(p) for p in obj.cls.external_bases()]
        for base in bases:
            if base in LAYERS:  # class LayerNorm2d(nn.LayerNorm): the layer's attributes and parameters
                try:
                    bound = LAYERS[base].bind(list(args), dict(kwargs))
                except BadArgument:
                    continue
                obj.attrs.update({k: layer_attribute(base, bound, k) for k in bound})
                shapes = parameter_shapes(base, bound)
                for name, shape in shapes.items():
                    obj.attrs[name] = ParamValue(f"{obj.cls.name}.{name}", shape) if shape is not None else None
                kernel = weight_kernel(base, bound)
                if "weight" not in shapes and kernel is not None:
                    obj.attrs["weight"] = ParamValue(f"{obj.cls.name}.weight", None, kernel)
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


#: Functions whose handlers take parameters as they are (they make them, or give the shape
#: of what they join or resize).
_PARAMETER_AWARE = frozenset(("torch.nn.Parameter", "torch.nn.parameter.Parameter", "torch.where", "torch.cat",
                              "torch.concat", "torch.concatenate", "torch.stack", "torch.nn.functional.interpolate"))

_GENERATOR = "_rflint_generator"
"""The attribute of a function's node that remembers the answer of ``is_generator``: on the
node, it lives and dies with it (a table by ``id`` would answer for a later node that
reuses a freed one's address)."""


def is_generator(fn: ast.AST) -> bool:
    """Whether a function's own body yields (not a nested function's): calling it runs the
    body to the end and gives what it yielded, as a list."""
    found = getattr(fn, _GENERATOR, None)
    if found is None:
        found = False
        stack = list(getattr(fn, "body", []) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) else [])
        while stack and not found:
            n = stack.pop()
            if isinstance(n, (ast.Yield, ast.YieldFrom)):
                found = True
            elif not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                stack.extend(ast.iter_child_nodes(n))
        setattr(fn, _GENERATOR, found)
    return found
