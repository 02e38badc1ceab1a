"""Attribute access on every kind of value: modules, classes, instances, layers,
containers and tensors; and the ``nn.Module`` attribute protocol (registration of
children, ``children()``, ``add_module``, ``register_buffer``).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from . import consttensor, tensor_ops
from .consttensor import ConstTensor
from .control import (
    Scope,
    decorated,
)
from .library import MATH as _MATH
from .library import SAFE_METHODS as _SAFE_METHODS
from .library import builtin_function as _builtin
from .torch_nn import canonical_nn_name
from .values import (
    Builtin,
    BoundMethod,
    ClassValue,
    ContainerValue,
    ExternalRef,
    FunctionValue,
    LayerValue,
    ModuleInstance,
    ParamValue,
    SourceModule,
    SuperProxy,
    SymShape,
    TensorValue,
    Unknown,
    is_module,
)

if TYPE_CHECKING:
    from .evaluator import Evaluator

_CONTAINER_METHODS = {"append", "extend", "add_module", "items", "keys", "values"}
_MODULE_ITERATORS = {"modules", "children", "named_modules", "named_children", "parameters", "named_parameters",
                     "buffers", "named_buffers"}
_MODULE_INTROSPECTION = _MODULE_ITERATORS | {
    "apply", "to", "cuda", "cpu", "half", "float", "double", "eval", "train", "requires_grad_", "zero_grad",
    "load_state_dict", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
}


class Attributes:
    """``obj.name``, ``hasattr`` and ``setattr`` on the evaluator's values. A part of :class:`Evaluator`."""

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
                return BoundMethod(func, obj) if decorated(fn, "classmethod") else func
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
            if decorated(fn, "staticmethod"):
                return func
            if decorated(fn, "classmethod"):
                return BoundMethod(func, obj.cls)
            if decorated(fn, "property"):
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

    def container_kind(self, cls: ClassValue) -> str | None:
        """``Sequential``, ``ModuleList`` or ``ModuleDict`` when a user class derives from one."""
        for base in cls.external_bases():
            kind = canonical_nn_name(base)
            if kind in ("Sequential", "ModuleList", "ModuleDict"):
                return kind
        return None
