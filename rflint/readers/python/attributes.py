"""Attribute access on every kind of value: modules, classes, instances, layers,
containers and tensors; and the ``nn.Module`` attribute protocol (registration of
children, ``children()``, ``add_module``, ``register_buffer``).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from . import consttensor, stdlib, tensor_ops, tensor_shape, torch_api
from .consttensor import ConstTensor
from .control import Scope, decorated
from .stdlib import dataclasses
from .stdlib import re as regex_model
from .stdlib._support import function
from .memo import MUTATING_METHODS
from .stdlib.builtins import PLAIN, SAFE_METHODS, method_bound
from .stdlib.collections import NOT_A_FIELD, NamedTupleNew, namedtuple_attribute
from .stdlib.enum import is_enum_class
from .stdlib.enum import EnumMember
from .stdlib.enum import member as enum_member
from .stdlib.enum import member_attribute as enum_member_attribute
from .stdlib.functools import partial_attribute
from .torch_nn import MISSING_ATTRIBUTE, canonical_nn_name, layer_attribute, parameter_shapes
from .values import (
    AutogradContext,
    Builtin,
    BoundMethod,
    ClassValue,
    ContainerValue,
    ExternalRef,
    FunctionValue,
    LayerValue,
    ModuleInstance,
    ParamValue,
    Partial,
    Record,
    SourceModule,
    SuperProxy,
    TensorValue,
    Unknown,
    first_unknown,
    is_module,
)

if TYPE_CHECKING:
    from .evaluator import Evaluator

_CONTAINER_METHODS = {"append", "extend", "insert", "add_module", "items", "keys", "values", "pop", "update"}
_MODULE_RETURNS_SELF = {"to", "cuda", "cpu", "half", "float", "double", "bfloat16", "eval", "train", "requires_grad_",
                        "apply", "type", "share_memory", "to_empty"}
_MODULE_RETURNS_NOTHING = {"zero_grad", "load_state_dict", "register_forward_hook", "register_forward_pre_hook",
                           "register_full_backward_hook", "register_backward_hook", "register_state_dict_pre_hook",
                           "register_load_state_dict_post_hook", "reset_parameters", "state_dict"}
_AUTOGRAD_FUNCTIONS = {"torch.autograd.Function", "torch.autograd.function.Function",
                       "torch.autograd.function.InplaceFunction"}
_CONTEXT_METHODS = {"save_for_backward", "mark_dirty", "mark_non_differentiable", "set_materialize_grads",
                    "save_for_forward"}
_MODULE_API = _MODULE_RETURNS_SELF | _MODULE_RETURNS_NOTHING | {
    "training", "children", "named_children", "modules", "named_modules", "parameters", "named_parameters",
    "buffers", "named_buffers", "add_module", "register_module", "register_buffer", "register_parameter",
    "get_submodule", "forward", "extra_repr", "_modules"}

class Attributes:
    """``obj.name``, ``hasattr`` and ``setattr`` on the evaluator's values. A part of :class:`Evaluator`."""

    def get_attr(self, obj: Any, name: str, node: ast.AST) -> Any:
        if isinstance(obj, Unknown):
            return obj
        if isinstance(obj, SourceModule):
            return self.module_attr(obj, name, node)
        if isinstance(obj, ExternalRef):
            if name in ("__name__", "__qualname__"):
                return obj.path.rsplit(".", 1)[-1]
            if name == "__module__":
                return obj.path.rpartition(".")[0]
            return self.external(f"{obj.path}.{name}")
        if isinstance(obj, ModuleInstance):
            return self._instance_attr(obj, name, node)
        if isinstance(obj, SuperProxy):
            return self._super_attr(obj, name, node)
        if isinstance(obj, ContainerValue):
            if name in MUTATING_METHODS:
                self.memo.written(self, obj)
            return self._container_attr(obj, name, node)
        if isinstance(obj, LayerValue):
            return self._layer_attr(obj, name, node)
        if isinstance(obj, ClassValue):
            if self.def_owner:
                self.touch(obj.node)
            return self._class_attr_of(obj, name, node)
        if isinstance(obj, ConstTensor):
            if name == "device":
                return tensor_shape.DEVICE
            value = consttensor.attribute(obj, name)
            return value if value is not None else self.unknown(f"constant-tensor method '{name}' is not modelled", node)
        if isinstance(obj, ParamValue):
            return tensor_ops.param_attribute(obj, name)
        if isinstance(obj, Builtin):
            if obj.members is not None and name in obj.members:
                return obj.members[name]
            if name == "__name__":
                return obj.name.rsplit(".", 1)[-1]
            if obj.is_type and name in ("__init__", "__new__"):
                return obj
            return self.unknown(f"{obj.name} has no attribute '{name}' that rflint models", node)
        if isinstance(obj, Record):
            return obj.get(name)
        if isinstance(obj, EnumMember):
            value = enum_member_attribute(obj, name)
            if value is not None:
                return value
            obj = obj.value  # a str/int enum member has its value's methods
        if isinstance(obj, Partial):
            value = partial_attribute(obj, name)
            return value if value is not None else self.unknown(f"functools.partial has no attribute '{name}'", node)
        if isinstance(obj, (FunctionValue, BoundMethod)):
            return self._function_attr(obj, name, node)
        if isinstance(obj, AutogradContext):
            if name in obj.attrs:
                return obj.attrs[name]
            if name in _CONTEXT_METHODS:
                return Builtin(f"ctx.{name}", lambda ev, args, kwargs, n: None)
            return self.fail("AttributeError", f"the autograd context has no attribute '{name}' set", node)
        if isinstance(obj, TensorValue):
            value = tensor_shape.tensor_attribute(self, obj, name)
            if value is not None:
                return value
            handler = tensor_ops.METHODS.get(name)
            if handler is not None:
                return Builtin(f"Tensor.{name}", lambda ev, args, kwargs, n, h=handler, t=obj: h(ev, [t, *args], kwargs, n))
            return self.unknown(f"tensor method '{name}' is not modelled", node)
        if isinstance(obj, (int, float)) and not isinstance(obj, bool) and name in ("item", "tolist"):
            return Builtin(f"Tensor.{name}", lambda ev, args, kwargs, n: obj)  # a 0-d result is a number
        if isinstance(obj, tuple):
            value = namedtuple_attribute(obj, name)
            if value is not NOT_A_FIELD:
                return value
        timed = regex_model.pattern_method(obj, name)
        if timed is not None:
            return timed
        for typ, allowed in SAFE_METHODS.items():
            if isinstance(obj, typ) and name in allowed:
                if name in MUTATING_METHODS:
                    self.memo.written(self, obj)
                return function(f"{typ.__name__}.{name}", getattr(obj, name), method_bound(obj, name))
        if name.startswith("__") and name.endswith("__"):
            return Unknown(f"{name} is not modelled")  # reprs and telemetry; not reported
        return self.unknown(f"attribute '{name}' of {type(obj).__name__} is not modelled", node)

    def external(self, path: str) -> Any:
        """What a name in a module rflint does not read stands for: the standard library's
        model of it, else a reference by path (torch's layers and functions)."""
        modelled = stdlib.lookup(path)
        return modelled if modelled is not None else ExternalRef(path)

    def _class_attr_of(self, obj: ClassValue, name: str, node: ast.AST) -> Any:
        if name in obj.class_attrs:
            value = self.class_attr(obj, name)
            if is_enum_class(obj) and not name.startswith("_"):
                return enum_member(obj, name, value, self.enum_members.setdefault(id(obj), {}))
            return value
        for base in obj.mro()[1:]:
            if name in base.class_attrs:
                return self.class_attr(base, name)
        fn = obj.lookup(name)
        if fn is not None:
            owner = next(c for c in obj.mro() if fn in c.node.body)
            func = self._define_function(fn, Scope(owner.module.globals), owner)  # type: ignore[arg-type]
            return BoundMethod(func, obj) if decorated(fn, "classmethod") else func
        if name == "__name__":
            return obj.name
        if name == "__qualname__":
            return obj.name
        if name == "__module__":
            return obj.module.name
        if name == "__mro__":
            return tuple(obj.mro())
        for base in (b for c in obj.mro() for b in c.bases):
            if isinstance(base, Builtin) and base.members is not None and name in base.members:
                return base.members[name]
        if name == "apply" and _AUTOGRAD_FUNCTIONS.intersection(obj.external_bases()):
            return Builtin(f"{obj.name}.apply", lambda ev, args, kwargs, n: ev._autograd_apply(obj, args, kwargs, n))
        return self.fail("AttributeError", f"class {obj.name} has no attribute '{name}'", node)

    def _autograd_apply(self, cls: ClassValue, args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        """``MyFunction.apply(x)`` runs the static ``forward(ctx, x)``: what it computes is
        the forward pass (``backward`` only changes gradients)."""
        forward = self._class_attr_of(cls, "forward", node)
        if not isinstance(forward, FunctionValue):
            return self.unknown(f"{cls.name}.forward is not a function rflint can read", node)
        return self.call(forward, [AutogradContext(), *args], kwargs, node)  # type: ignore[attr-defined]

    def _function_attr(self, obj: FunctionValue | BoundMethod, name: str, node: ast.AST) -> Any:
        func = obj.func if isinstance(obj, BoundMethod) else obj
        if name in ("__name__", "__qualname__"):
            return func.name
        if name == "__module__":
            return func.module.name
        if name == "__self__" and isinstance(obj, BoundMethod):
            return obj.self_obj
        if name == "__func__" and isinstance(obj, BoundMethod):
            return func
        if name == "__doc__":
            return ast.get_docstring(func.node) if isinstance(func.node, ast.FunctionDef) else None
        if name.startswith("__") and name.endswith("__"):
            return Unknown(f"{name} is not modelled")
        return self.unknown(f"function {func.name} has no attribute '{name}'", node)

    def _layer_attr(self, obj: LayerValue, name: str, node: ast.AST) -> Any:
        """A modelled layer's attribute as torch stores it, its parameters (with their shapes),
        and the ``nn.Module`` methods every layer has."""
        value = layer_attribute(obj.type_name, obj.bound, name)
        if value is not MISSING_ATTRIBUTE:
            return value
        shapes = parameter_shapes(obj.type_name, obj.bound)
        if name in shapes:
            shape = shapes[name]
            return ParamValue(f"{obj.type_name}.{name}", shape) if shape is not None else None
        if name in ("weight", "bias"):
            return ParamValue(f"{obj.type_name}.{name}")
        method = self._module_method(obj, name)
        if method is not None:
            return method
        return self.unknown(f"{obj.type_name} has no modelled attribute '{name}'", node)

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
            if decorated(fn, "staticmethod"):
                return func
            if decorated(fn, "classmethod"):
                return BoundMethod(func, obj.cls)
            if decorated(fn, "property"):
                return self.call_function(func, [], {}, node, obj)
            return BoundMethod(func, obj)
        if name == "__class__":
            return obj.cls
        kind = self.container_kind(obj.cls)
        if kind is not None and name in _CONTAINER_METHODS:
            if name in MUTATING_METHODS:
                self.memo.written(self, obj)
            return self._container_attr(ContainerValue(kind, obj.children, obj.loc, obj.path), name, node)
        if self.is_module_class(obj.cls) or kind is not None:
            if name in ("weight", "bias"):
                return ParamValue(f"{obj.cls.name}.{name}")
            method = self._module_method(obj, name)
            if method is not None:
                return method
        for base in (b for c in obj.cls.mro() for b in c.bases):
            if isinstance(base, Builtin) and base.members is not None and name in base.members:
                member = base.members[name]  # object.__setattr__, a typing base's method
                return Builtin(member.name, lambda ev, args, kwargs, n, m=member: ev.call(m, [obj, *args], kwargs, n)) \
                    if isinstance(member, Builtin) else member
        if name.startswith("__") and name.endswith("__"):
            return Unknown(f"{name} of an instance is not modelled")  # telemetry and reprs; not reported
        hook = obj.cls.lookup("__getattr__")
        if hook is not None and not self.is_module_class(obj.cls):
            # Python calls __getattr__ when the normal lookup fails (MONAI's LayerFactory
            # answers ``Conv.CONV`` with the factory name).
            return self.call(self._instance_attr(obj, "__getattr__", node), [name], {}, node)  # type: ignore[attr-defined]
        return self.fail("AttributeError", f"{obj.cls.name} has no attribute '{name}' that rflint can see", node)

    def _object_getattribute(self, obj: Any, name: str, node: ast.AST) -> Any:
        """``object.__getattribute__(self, name)`` (as ``super().__getattribute__(name)``):
        the normal lookup, without the class's ``__getattr__``; AttributeError if it fails."""
        if isinstance(obj, ModuleInstance):
            if name in obj.attrs:
                return obj.attrs[name]
            if any(name in c.class_attrs for c in obj.cls.mro()) or obj.cls.lookup(name) is not None:
                return self._instance_attr(obj, name, node)
            return self.fail("AttributeError", f"{obj.cls.name} has no attribute '{name}'", node)
        return self.get_attr(obj, name, node)

    def _module_method(self, obj: Any, name: str) -> Any:
        """What every ``nn.Module`` has: ``training`` (False: rflint reads the model at
        inference), the traversals (``children()``, ``named_modules()``, ``parameters()``),
        registration (``add_module``, ``register_buffer``), and the methods that do not
        change the geometry (``apply``, ``to``, ``eval``, hooks), which return the module
        or nothing. None for any other name."""
        if name == "training":
            return False
        if name in ("children", "named_children", "modules", "named_modules"):
            return Builtin(name, lambda ev, args, kwargs, n: ev.submodules(obj, name))
        if name in ("parameters", "named_parameters", "buffers", "named_buffers"):
            return Builtin(name, lambda ev, args, kwargs, n: ev.parameters(obj, name))
        if name in ("add_module", "register_module"):
            return Builtin(name, lambda ev, args, kwargs, n: ev.set_attr(obj, str(args[0]), args[1]))
        if name in ("register_buffer", "register_parameter") and isinstance(obj, ModuleInstance):
            return Builtin(name, lambda ev, args, kwargs, n: ev._register(obj, args, kwargs))
        if name == "get_submodule":
            return Builtin(name, lambda ev, args, kwargs, n: ev._get_submodule(obj, args[0] if args else "", n))
        if name in ("forward", "__call__"):
            return Builtin(f"{name}", lambda ev, args, kwargs, n: ev.apply_module(obj, args, kwargs, n))
        if name == "_modules":
            return dict(self.submodules(obj, "named_children"))
        if name in _MODULE_RETURNS_SELF:
            return Builtin(name, lambda ev, args, kwargs, n: obj)
        if name in _MODULE_RETURNS_NOTHING:
            return Builtin(name, lambda ev, args, kwargs, n: None)
        if name == "extra_repr":
            return Builtin(name, lambda ev, args, kwargs, n: "")
        return None

    def _get_submodule(self, obj: Any, target: Any, node: ast.AST) -> Any:
        if not isinstance(target, str):
            return Unknown("get_submodule() of a name that is not known")
        for part in [p for p in target.split(".") if p]:
            obj = self.get_attr(obj, part, node)
        return obj

    def parameters(self, obj: Any, how: str) -> list[Any]:
        """``parameters()`` and kin: every parameter (or buffer) below a module, with its
        shape where the constructor decides it (``next(m.parameters())`` reads one)."""
        want_buffers = "buffers" in how
        out: list[tuple[str, Any]] = []
        for prefix, module in self.submodules(obj, "named_modules"):
            names: list[tuple[str, Any]] = []
            if isinstance(module, LayerValue):
                for pname, shape in parameter_shapes(module.type_name, module.bound).items():
                    is_buffer = pname.startswith("running_")
                    if shape is not None and is_buffer == want_buffers:
                        names.append((pname, ParamValue(f"{module.type_name}.{pname}", shape)))
            elif isinstance(module, ModuleInstance) and not want_buffers:
                names = [(k, v) for k, v in module.attrs.items() if isinstance(v, ParamValue)]
            out.extend((f"{prefix}.{k}" if prefix else k, v) for k, v in names)
        return out if how.startswith("named") else [v for _, v in out]

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
                return Builtin("super().__init__", lambda ev, args, kwargs, n: dataclasses.init(ev, data_cls, proxy.self_obj, args, kwargs, n))
            return Builtin("super().__init__", lambda ev, args, kwargs, n: ev._external_init(proxy.self_obj, args, kwargs, n))
        if name == "__getattribute__":
            return Builtin("super().__getattribute__",
                           lambda ev, args, kwargs, n: ev._object_getattribute(proxy.self_obj, str(args[0]), n))
        return self.unknown(f"super().{name} is not modelled", node)

    def _container_attr(self, obj: ContainerValue, name: str, node: ast.AST) -> Any:
        """``Sequential``, ``ModuleList`` and ``ModuleDict``: their children by name, their
        list or dict methods, and what every module has."""
        children = obj.children

        def renumber(values: list[Any]) -> None:
            children.clear()
            children.update((str(i), v) for i, v in enumerate(values))

        def named(key: str, child: Any) -> None:
            children[key] = child
            if obj.path and is_module(child):  # appended after the container got its name
                self.repath(child, f"{obj.path}.{key}")

        def append(ev: Evaluator, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> Any:
            named(str(len(children)), args[0])
            return obj

        def extend(ev: Evaluator, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> Any:
            items = ev.iterate(args[0], n)
            for item in items if not isinstance(items, Unknown) else []:
                named(str(len(children)), item)
            return obj

        def insert(ev: Evaluator, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> None:
            values = list(children.values())
            values.insert(args[0], args[1])
            renumber(values)

        def pop(ev: Evaluator, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> Any:
            if obj.kind == "ModuleDict":
                return children.pop(str(args[0]))
            values = list(children.values())
            item = values.pop(args[0] if args else -1)
            renumber(values)
            return item

        def update(ev: Evaluator, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> None:
            source = args[0] if args else {}
            pairs = source.items() if isinstance(source, dict) else ev.iterate(source, n)
            for key, value in pairs if not isinstance(pairs, Unknown) else []:
                children[str(key)] = value

        methods = {
            "append": append, "extend": extend, "insert": insert, "pop": pop, "update": update,
            "add_module": lambda ev, a, k, n: children.__setitem__(str(a[0]), a[1]),
            "items": lambda ev, a, k, n: list(children.items()),
            "keys": lambda ev, a, k, n: list(children.keys()),
            "values": lambda ev, a, k, n: list(children.values()),
        }
        if name in methods:
            return Builtin(f"{obj.kind}.{name}", methods[name])
        if name in children:
            return children[name]
        if name in obj.attrs:
            return obj.attrs[name]
        method = self._module_method(obj, name)
        if method is not None:
            return method
        return self.unknown(f"{obj.kind} has no attribute '{name}' that rflint can see", node)

    def has_attr(self, obj: Any, name: str) -> bool | Unknown:
        """``hasattr(obj, name)`` for every kind of value, as Python would answer it."""
        names = self.attribute_names(obj)
        if isinstance(names, Unknown):
            return names
        if name in names:
            return True
        if isinstance(obj, (ModuleInstance, ClassValue)) and name.startswith("__") and name.endswith("__"):
            return Unknown(f"hasattr of {name}")  # object's own dunders: rflint does not list them
        return False

    def attribute_names(self, obj: Any) -> set[str] | Unknown:
        """The attribute names of a value: what ``dir`` lists and ``hasattr`` finds."""
        if isinstance(obj, Unknown):
            return obj
        if isinstance(obj, ModuleInstance):
            names = set(obj.attrs) | set(obj.children) | self._class_names(obj.cls)
            if self.is_module_class(obj.cls) or self.container_kind(obj.cls):
                names |= _MODULE_API
            return names
        if isinstance(obj, ClassValue):
            return self._class_names(obj)
        if isinstance(obj, LayerValue):
            names = set(obj.bound) | set(parameter_shapes(obj.type_name, obj.bound)) | _MODULE_API
            return names | ({"transposed"} if "kernel_size" in obj.bound else set())
        if isinstance(obj, ContainerValue):
            return set(obj.children) | _MODULE_API | set(_CONTAINER_METHODS)
        if isinstance(obj, SourceModule):
            if not self.load(obj):
                return Unknown(f"cannot read {obj.path}")
            return {k for k in obj.globals if not k.startswith("\0")}
        if isinstance(obj, ExternalRef):
            listed = torch_api.names(obj.path)
            if listed is None:
                listed = stdlib.module_names(obj.path)  # type: ignore[assignment]
            if listed is None:
                return Unknown(f"the attributes of {obj.path}, which rflint does not read")
            return set(listed)
        if isinstance(obj, Builtin):
            return set(obj.members or ()) | {"__name__"}
        if isinstance(obj, Record):
            return {k for k, _ in obj.fields}
        if isinstance(obj, Partial):
            return {"func", "args", "keywords"}
        if isinstance(obj, (FunctionValue, BoundMethod)):
            return {"__name__", "__qualname__", "__module__", "__doc__"}
        if isinstance(obj, TensorValue):
            return set(tensor_ops.METHODS) | set(torch_api.names("torch.Tensor") or ())
        if isinstance(obj, (ParamValue, ConstTensor)):
            return set(torch_api.names("torch.Tensor") or ())
        if isinstance(obj, PLAIN) and first_unknown(obj) is None:
            return set(dir(obj))
        return Unknown(f"the attributes of a {type(obj).__name__}")

    def _class_names(self, cls: ClassValue) -> set[str]:
        names: set[str] = set()
        for c in cls.mro():
            names |= set(c.class_attrs)
            names |= {s.name for s in c.node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
        return names

    def set_attr(self, obj: Any, name: str, value: Any) -> None:
        self.memo.written(self, obj)
        if isinstance(obj, SourceModule):
            if self.load(obj):
                obj.globals[name] = value  # mod.__all__ = [...]
            return
        if isinstance(obj, ModuleInstance):
            obj.attrs[name] = value
            if self._is_nn_module(value):
                if self.container_kind(obj.cls):
                    obj.children[name] = value  # nn.Module.__setattr__ registers it; Sequential runs it in order
                self.repath(value, f"{obj.path}.{name}" if obj.path else name)
        elif isinstance(obj, AutogradContext):
            obj.attrs[name] = value
        elif isinstance(obj, NamedTupleNew):
            obj.set(name, value)  # anything but __defaults__ changes nothing the model reads
        elif isinstance(obj, ContainerValue):
            if self._is_nn_module(value) or isinstance(value, Unknown):
                obj.children[name] = value  # a module set on a container is one of its children
            else:
                obj.attrs[name] = value  # a plain attribute (grad_checkpointing = False) is not

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

    def submodules(self, obj: Any, how: str) -> list[Any]:
        """``children()``, ``named_children()``, ``modules()``, ``named_modules()`` in
        registration order (``IntermediateLayerGetter`` rebuilds a backbone from them)."""
        def direct(m: Any) -> list[tuple[str, Any]]:
            if isinstance(m, ModuleInstance):
                items = {**{k: v for k, v in m.attrs.items() if self._is_nn_module(v)}, **m.children}
                return list(items.items())
            if isinstance(m, ContainerValue):
                return list(m.children.items())
            return []  # a layer has no children

        if how in ("children", "named_children"):
            pairs = direct(obj)
        else:
            pairs, stack = [], [("", obj)]
            while stack:
                prefix, m = stack.pop(0)
                pairs.append((prefix, m))
                stack[0:0] = [(f"{prefix}.{k}" if prefix else k, v) for k, v in direct(m)]
        return [(k, v) for k, v in pairs] if how.startswith("named") else [v for _, v in pairs]

    def _is_nn_module(self, value: Any) -> bool:
        """A torch module (a layer, a container, an instance of an nn.Module subclass), not an
        instance of any other class the model keeps (a config, an enum member)."""
        if isinstance(value, ModuleInstance):
            return self.is_module_class(value.cls) or self.container_kind(value.cls) is not None
        return is_module(value)

    def container_kind(self, cls: ClassValue) -> str | None:
        """``Sequential``, ``ModuleList`` or ``ModuleDict`` when a user class derives from one."""
        for base in cls.external_bases():
            kind = canonical_nn_name(base)
            if kind in ("Sequential", "ModuleList", "ModuleDict"):
                return kind
        return None
