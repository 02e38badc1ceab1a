"""``inspect``: the signatures of the functions and classes the evaluator holds, and the
``is*`` predicates.

Layer factories ask a constructor which keywords it takes before passing them (MONAI's
``has_option(norm_type, "num_channels")`` is ``"num_channels" in
inspect.signature(norm_type).parameters``): a user function's signature is read from its
source, a torch layer's from rflint's model of its constructor.
"""

from __future__ import annotations

import ast
import inspect
from typing import TYPE_CHECKING, Any

from ..torch_nn import LAYERS, canonical_nn_name
from ..values import BoundMethod, Builtin, ClassValue, ExternalRef, FunctionValue, Partial, Record
from ._support import NotKnown, model

if TYPE_CHECKING:
    from ..evaluator import Evaluator

EMPTY = Record("inspect.Parameter.empty", ())
_KIND = inspect.Parameter  # the kinds are IntEnum members: plain numbers the evaluator compares
_KINDS = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "VAR_POSITIONAL", "KEYWORD_ONLY", "VAR_KEYWORD")


def _parameter(name: str, kind: Any, default: Any = EMPTY) -> Record:
    return Record("Parameter", (("name", name), ("kind", int(kind)), ("default", default), ("annotation", EMPTY)))


def _signature(params: list[Record]) -> Record:
    return Record("Signature", (("parameters", {p.get("name"): p for p in params}), ("return_annotation", EMPTY)))


def _of_function(func: FunctionValue, drop_first: bool) -> list[Record]:
    spec = func.node.args
    params: list[Record] = []
    for arg in spec.posonlyargs:
        params.append(_parameter(arg.arg, _KIND.POSITIONAL_ONLY, func.defaults.get(arg.arg, EMPTY)))
    for arg in spec.args:
        params.append(_parameter(arg.arg, _KIND.POSITIONAL_OR_KEYWORD, func.defaults.get(arg.arg, EMPTY)))
    if spec.vararg is not None:
        params.append(_parameter(spec.vararg.arg, _KIND.VAR_POSITIONAL))
    for arg in spec.kwonlyargs:
        params.append(_parameter(arg.arg, _KIND.KEYWORD_ONLY, func.defaults.get(arg.arg, EMPTY)))
    if spec.kwarg is not None:
        params.append(_parameter(spec.kwarg.arg, _KIND.VAR_KEYWORD))
    return params[1:] if drop_first else params


def _of_layer(path: str) -> list[Record] | None:
    name = canonical_nn_name(path)
    spec = LAYERS.get(name) if name is not None else None
    if spec is None:
        return None
    params = [_parameter(p, _KIND.POSITIONAL_OR_KEYWORD, spec.defaults.get(p, EMPTY)) for p in spec.params]
    if spec.var_args:
        params += [_parameter("args", _KIND.VAR_POSITIONAL), _parameter("kwargs", _KIND.VAR_KEYWORD)]
    return params


def _params(ev: "Evaluator", obj: Any, node: ast.AST) -> list[Record] | None:
    """The parameters Python's ``inspect.signature`` gives; None when rflint cannot say."""
    if isinstance(obj, FunctionValue):
        return _of_function(obj, drop_first=False)
    if isinstance(obj, BoundMethod):
        return _of_function(obj.func, drop_first=True)
    if isinstance(obj, ExternalRef):
        return _of_layer(obj.path)
    if isinstance(obj, ClassValue):
        init = obj.lookup("__init__")
        if isinstance(init, ast.FunctionDef):
            method = ev.get_attr(obj, "__init__", node)
            return _of_function(method, drop_first=True) if isinstance(method, FunctionValue) else None
        for base in obj.external_bases():  # class LayerNorm2d(nn.LayerNorm) without its own __init__
            params = _of_layer(base)
            if params is not None:
                return params
        return None
    if isinstance(obj, Partial):
        inner = _params(ev, obj.func, node)
        if inner is None:
            return None
        positional = [p for p in inner if p.get("kind") in (_KIND.POSITIONAL_ONLY, _KIND.POSITIONAL_OR_KEYWORD)]
        bound = {p.get("name") for p in positional[:len(obj.args)]}
        out = []
        for p in inner:
            name = p.get("name")
            if name in bound:
                continue
            if name in obj.kwargs:  # a keyword given to partial becomes keyword-only with that default
                p = _parameter(name, _KIND.KEYWORD_ONLY, obj.kwargs[name])
            out.append(p)
        return out
    return None


def _signature_call(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    params = _params(ev, args[0], node) if args else None
    if params is None:
        what = getattr(args[0], "name", None) or getattr(args[0], "path", None) or type(args[0]).__name__ if args else "nothing"
        raise NotKnown(ev.unknown(f"the signature of {what} is not known to rflint", node))
    return _signature(params)


def _is(check: Any) -> Builtin:
    return model("inspect.is", lambda ev, a, k, n: bool(check(a[0])) if a else False)


MEMBERS: dict[str, Any] = {
    "signature": model("inspect.signature", _signature_call),
    "Parameter": Builtin("inspect.Parameter", lambda ev, a, k, n: ev.unknown("inspect.Parameter() is not modelled", n),
                         lambda v: isinstance(v, Record) and v.type_name == "Parameter",
                         {"empty": EMPTY, **{kind: int(getattr(_KIND, kind)) for kind in _KINDS}}),
    "isclass": _is(lambda v: isinstance(v, ClassValue) or (isinstance(v, ExternalRef) and canonical_nn_name(v.path) is not None)),
    "isfunction": _is(lambda v: isinstance(v, FunctionValue)),
    "ismethod": _is(lambda v: isinstance(v, BoundMethod)),
}
