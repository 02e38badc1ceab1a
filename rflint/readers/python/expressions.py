"""Expressions: names, literals, operators, subscripts and comprehensions.

One method per ``ast`` expression type (``_e_BinOp`` for ``ast.BinOp``), dispatched
by ``eval``; an expression type without one is an Unknown that says so.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

from . import attention, consttensor, limits, tensor_shape
from .layout import Size as LayoutSize
from .consttensor import ConstTensor, elementwise, matmul, unary
from .control import (
    Return,
    Deferred,
    Scope,
)
from .stdlib.builtins import PLAIN as _PLAIN
from .stdlib.enum import is_enum_class
from .values import (
    Builtin,
    ClassValue,
    ContainerValue,
    LazyImport,
    ModuleInstance,
    ParamValue,
    SizeValue,
    SymSize,
    as_size,
    size_value,
    TensorValue,
    Unknown,
    first_unknown,
    is_pure,
)

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


def _not_modelled(ev: Any, node: ast.expr, scope: Scope) -> Any:
    return ev.unknown(f"{type(node).__name__} expressions are not modelled", node)


_EVALUATORS: dict[type, Any] = {}
"""``_e_<NodeType>`` by node type, looked up once per type instead of once per evaluation."""


class Expressions:
    """Evaluating expressions to values. A part of :class:`Evaluator`."""

    def eval(self, node: ast.expr, scope: Scope) -> Any:
        self.steps += 1  # tick(), inlined: this is the evaluator's hottest path
        if not self.steps & 15:
            self.check_budget()
        method = _EVALUATORS.get(type(node))
        if method is None:
            method = _EVALUATORS[type(node)] = getattr(type(self), f"_e_{type(node).__name__}", _not_modelled)
        return method(self, node, scope)

    def _e_Constant(self, node: ast.Constant, scope: Scope) -> Any:
        return node.value

    def _e_Name(self, node: ast.Name, scope: Scope) -> Any:
        try:
            value = scope.lookup(node.id)
            if isinstance(value, Deferred):
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
            if not is_pure(v):
                return Unknown("f-string of a value that is not plain data")
            if value.conversion == ord("r"):
                v = repr(v)
            elif value.conversion == ord("s"):
                v = str(v)
            spec = self.eval(value.format_spec, scope) if value.format_spec is not None else ""
            if isinstance(spec, Unknown):
                return spec
            if isinstance(spec, str) and limits.wide_format(spec):
                return self.unknown(limits.limited(limits.wide_format(spec) or ""), value)
            try:
                parts.append(format(v, spec))
            except (ValueError, TypeError):
                return self.unknown("bad format spec", value)
        return "".join(parts)

    def _e_BinOp(self, node: ast.BinOp, scope: Scope) -> Any:
        return self.binop(node.op, self.eval(node.left, scope), self.eval(node.right, scope), node)

    def binop(self, op: ast.operator, a: Any, b: Any, node: ast.AST) -> Any:
        if isinstance(a, TensorValue) or isinstance(b, TensorValue):
            if isinstance(op, ast.MatMult):
                return attention.matmul(self, a, b, node)
            kind = "add" if isinstance(op, (ast.Add, ast.Sub)) else "mul"
            return self.binary_tensor_op(kind, a, b, node, type(op).__name__.lower())
        if isinstance(a, ConstTensor) or isinstance(b, ConstTensor):
            if isinstance(a, ParamValue) or isinstance(b, ParamValue):
                return _param_binop(a, b)
            return _const_binop(op, a, b)
        if isinstance(a, ParamValue) or isinstance(b, ParamValue):
            return _param_binop(a, b)
        if isinstance(a, (SizeValue, SymSize)) or isinstance(b, (SizeValue, SymSize)):
            return _size_arithmetic(op, a, b)
        u = first_unknown(a, b)
        if u:
            return u
        fn = _BINOPS.get(type(op))
        if fn is None or not isinstance(a, _PLAIN) or not isinstance(b, _PLAIN):
            return Unknown(f"operator {type(op).__name__} on {type(a).__name__} and {type(b).__name__}")
        try:
            bound = limits.product_bound(_BOUNDED.get(type(op), ""), a, b) or (
                limits.wide_format(a) if isinstance(op, ast.Mod) and isinstance(a, str) else None)
            if bound:
                return self.unknown(limits.limited(bound), node)
            return fn(a, b)
        except Exception as exc:  # noqa: BLE001  (ZeroDivisionError, TypeError... in the model's arithmetic)
            return self.fail(type(exc).__name__, f"{type(exc).__name__}: {exc}", node)

    def _e_UnaryOp(self, node: ast.UnaryOp, scope: Scope) -> Any:
        v = self.eval(node.operand, scope)
        if isinstance(node.op, ast.Not):
            t = self.truth(v)
            return t if isinstance(t, Unknown) else not t
        if isinstance(v, (TensorValue, ParamValue)):
            return v  # -x, ~mask: every value changes, none moves
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
                if isinstance(left, (ConstTensor, ParamValue)) or isinstance(right, (ConstTensor, ParamValue)):
                    if len(node.ops) > 1 or type(op) not in _CMP_NAMES:
                        return Unknown("a chained comparison of tensors")
                    if isinstance(left, ParamValue) or isinstance(right, ParamValue):
                        return _param_binop(left, right)
                    return elementwise(_CMP_NAMES[type(op)], left, right)  # a mask: elementwise
                if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, ClassValue) and is_enum_class(right):
                    members = self.enum_members_of(right, node)
                    result = any(m is left or m == left for m in members) == isinstance(op, ast.In)
                elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, _PLAIN):
                    try:  # membership of a class, a layer... in a table: identity, as Python
                        result = (left in right) == isinstance(op, ast.In)
                    except TypeError as exc:
                        return self.unknown(f"TypeError: {exc}", node)
                elif not isinstance(left, _PLAIN) or not isinstance(right, _PLAIN):
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

    def _e_Yield(self, node: ast.Yield, scope: Scope) -> Any:
        """``yield v`` in a generator the evaluator runs to the end (see ``call_function``)."""
        value = self.eval(node.value, scope) if node.value is not None else None
        if self.yielded:
            self.yielded[-1].append(value)
        return None  # what ``send`` would give: model code does not send

    def _e_YieldFrom(self, node: ast.YieldFrom, scope: Scope) -> Any:
        items = self.iterate(self.eval(node.value, scope), node)
        if isinstance(items, Unknown):
            raise Return(items)  # the generator's items are not known: its result is not either
        if self.yielded:
            self.yielded[-1].extend(items)
        return None

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
            return tensor_shape.index(self, obj, key, node)
        if isinstance(obj, Builtin) and obj.members and "__getitem__" in obj.members:
            return self.call(obj.members["__getitem__"], [key], {}, node)  # type: ignore[arg-type]
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
        if isinstance(obj, ModuleInstance) and not self.is_module_class(obj.cls) and obj.cls.lookup("__getitem__") is not None:
            return self.call(self.get_attr(obj, "__getitem__", node), [key], {}, node)  # a registry, a factory
        if isinstance(obj, ModuleInstance) and obj.children:
            try:
                return list(obj.children.values())[key]
            except (IndexError, TypeError):
                return self.unknown(f"index {key!r} out of range", node)
        if isinstance(obj, _PLAIN):
            try:
                return obj[key]
            except Exception as exc:  # noqa: BLE001
                return self.fail(type(exc).__name__, f"{type(exc).__name__}: {exc}", node)
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
            items = self.iterate(self.eval(gen.iter, inner), gen.iter, lazy=True)
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


_BOUNDED = {ast.Mult: "mul", ast.LShift: "lshift", ast.Pow: "pow"}
_CMP_NAMES = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_CONST_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv", ast.FloorDiv: "floordiv",
                 ast.Pow: "pow", ast.Mod: "mod"}


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


def _size_arithmetic(op: ast.operator, a: Any, b: Any) -> Any:
    """Arithmetic on tensor sizes: products and exact divisions keep what the size counts
    (``H * W`` is the positions of both axes, ``H // 7`` axis 0 at stride 7); anything else
    is the number, when the input size is configured."""
    sa, sb = as_size(a), as_size(b)
    if sa is not None and sb is not None:
        node = _common_node(a, b)
        if isinstance(op, ast.Mult):
            return size_value(sa.times(sb), node)
        if isinstance(op, ast.FloorDiv) and not sb.atoms and sb.coef > 0:
            k = int(sb.coef)
            value = sa.value // k if sa.value is not None else None
            if sa.coef % k == 0:
                return size_value(LayoutSize(sa.coef / k, sa.atoms, value), node)
            if sa.coef == 1 and len(sa.atoms) == 1 and sa.atoms[0][0] == "S" and (value is None or sa.value % k == 0):
                axis, stride = sa.atoms[0][1], sa.atoms[0][2]
                return size_value(LayoutSize(1, (("S", axis, stride * k),), value), node)
            if len(sa.atoms) == 1 and sa.atoms[0][0] == "C" and value is None:
                return size_value(LayoutSize(sa.coef / k, sa.atoms, None), node)  # channels // groups
    numeric = [v.numeric if isinstance(v, SymSize) and v.numeric is not None and v.numeric != v.size else None for v in (a, b)]
    if any(n is not None for n in numeric):  # retry with the spatial parts as numbers
        return _size_arithmetic(op, SymSize(numeric[0]) if numeric[0] is not None else a,
                                SymSize(numeric[1]) if numeric[1] is not None else b)
    va = int(a) if isinstance(a, SizeValue) else a
    vb = int(b) if isinstance(b, SizeValue) else b
    if isinstance(va, SymSize) or isinstance(vb, SymSize):
        return Unknown("arithmetic on tensor sizes that are not known (give input-size)")
    fn = _BINOPS.get(type(op))
    if fn is None:
        return Unknown(f"operator {type(op).__name__} on tensor sizes")
    try:
        return fn(va, vb)
    except Exception as exc:  # noqa: BLE001
        return Unknown(f"{type(exc).__name__}: {exc}")


def _common_node(a: Any, b: Any) -> int | None:
    """The map whose positions a product or quotient of sizes counts: that of its operands
    that count positions (a number or the batch counts none), None when they are of two."""
    nodes = {v.node for v in (a, b) if isinstance(v, (SizeValue, SymSize)) and any(t[0] == "S" for t in v.size.atoms)} - {None}
    return nodes.pop() if len(nodes) == 1 else None


def _param_binop(a: Any, b: Any) -> Any:
    """Arithmetic with a tensor whose values are not known (a parameter, ``q_latent * scale``):
    such a tensor, of the broadcast shape where both are known."""
    u = first_unknown(a, b)
    if u:
        return u
    shapes = [consttensor.shape_of(v) if not isinstance(v, (int, float)) else () for v in (a, b)]
    shape = consttensor.broadcast_shapes(*shapes) if all(s is not None for s in shapes) else None  # type: ignore[arg-type]
    what = a.what if isinstance(a, ParamValue) else b.what
    return ParamValue(what, shape)
