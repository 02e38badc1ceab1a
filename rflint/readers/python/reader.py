"""The Python reader: from a model file to Graph IR models, statically.

Every ``nn.Module`` class of the file is a candidate. A class whose
constructor can run on its defaults is built as a model; one that needs
arguments is built with those arguments Unknown, so that the layers whose
geometry is written literally still reach the layer-level rules (its graph
is marked incomplete and model-level rules skip it).
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
from typing import Any, Callable, Sequence

from ...diagnostics import Diagnostic, Severity
from ...ir import GraphBuilder, Location, Opaque, SideInput, Unresolved
from ..base import PARSE_ERROR, UNRESOLVED, ReaderError, ReadModel, ReadResult
from ..pragma import pragma_settings
from . import layout as lay
from .control import TIME_BUDGET, Raised, Scope
from .evaluator import BudgetExceeded, Evaluator
from .torch_nn import LAYERS
from .loader import Finder, parse_text
from .reuse import Fingerprints, ModelCache, Reusable
from .values import (BoundMethod, Builtin, ClassValue, ContainerValue, FunctionValue, LayerValue, ModuleInstance, SourceModule,
                     TensorValue, Unknown)



def parse(path: str, text: str) -> ast.Module:
    """Parse or raise ReaderError with the file, line and column of the syntax error."""
    try:
        return parse_text(os.path.abspath(path), text)
    except SyntaxError as exc:
        line = exc.lineno or 1
        col = exc.offset or 1
        raise ReaderError(f"{path}:{line}:{col}: syntax error: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # null bytes, absurd nesting
        raise ReaderError(f"{path}:1:1: cannot parse: {exc}") from None
    except MemoryError:  # Python's parser gives up on thousands of nested brackets so
        raise ReaderError(f"{path}:1:1: cannot parse: nested too deeply for Python's parser") from None


class ReaderSession:
    """What the files of one run share: where imports are found, and the modules
    already read for them (torchvision's ``ops/misc.py`` is read once, not per model)."""

    def __init__(self, extra_roots: tuple[str, ...] = (), use_installed: bool = True,
                 time_budget: float | None = TIME_BUDGET, reuse_models: bool = False) -> None:
        self.finder = Finder(extra_roots, use_installed)
        self.modules: dict[str, SourceModule] = {}
        self.time_budget = time_budget  # seconds per model (the language server's is short)
        self.stop_at: float | None = None  # time.monotonic() by which a read must end, whatever its models
        # Models of earlier reads of a file, reused while what they read is unchanged
        # (reuse.py): for a session that reads the same file again and again (an editor's).
        self.models: ModelCache | None = ModelCache() if reuse_models else None


def read_python(path: str, text: str, *, entries: Sequence[str] = (), session: ReaderSession | None = None,
                input_size: Sequence[int] | None = None) -> ReadResult:
    """All models and layers of one Python file.

    Every ``nn.Module`` class is built (from its defaults, or with Unknown for the
    arguments it needs), and so is every factory function that builds from its
    defaults: a block's strided layers often exist only as its factory builds it
    (ResNet's ``_make_layer`` passes ``stride=2``), so a check that skipped the
    factories would miss them. ``entries`` (``Name(args)``) are built as well, as
    the configuration's ``[[models]]`` ask.
    """
    try:
        tree = parse(path, text)
    except ReaderError as exc:
        line, col = _position(str(exc), path)
        return ReadResult(diagnostics=(Diagnostic(PARSE_ERROR, str(exc).split(": ", 1)[1], Location(path, line, col), Severity.ERROR),))
    session = session or ReaderSession()
    ev = Evaluator(path, text, tree, session.finder, session.modules)
    ev.default_input_size = input_size
    ev.time_budget = session.time_budget
    ev.stop_at = session.stop_at
    ev.run_module()
    diagnostics: list[Diagnostic] = []
    models: list[ReadModel] = []
    partial: list[ReadModel] = []
    blocks = _used_by_other_definitions(tree)
    prints = Fingerprints(tree, ev.lines) if session.models is not None else None
    for name, value in list(ev.globals.items()):
        ev.restart_budget()  # each candidate model has the whole budget
        try:
            candidate = isinstance(value, ClassValue) and value.node in tree.body and ev.is_module_class(value)
        except BudgetExceeded as exc:
            diagnostics.append(Diagnostic(UNRESOLVED, f"{name}: {exc.what} exhausted reading its bases",
                                          ev.loc(value.node), Severity.INFO))
            continue
        if candidate:
            overrides, errors = pragma_settings(path, ev.lines, value.node)
            diagnostics.extend(errors)
            model = _build_reusing(ev, session, prints, name, ("class", repr(overrides), input_size),
                                   lambda: _build_class(ev, value, overrides))
            if name in blocks and not (overrides or errors):  # a pragma says it is a model
                model = ReadModel(model.graph, model.overrides, block=True)
        elif isinstance(value, FunctionValue) and value.node in tree.body and _is_factory(value.node):
            overrides, errors = pragma_settings(path, ev.lines, value.node)
            diagnostics.extend(errors)
            model = _build_reusing(ev, session, prints, name, ("factory", repr(overrides), input_size),
                                   lambda: _build_factory(ev, value, value.name, value.node, overrides, [], {}))
            if not model.graph.nodes[1:] and not _ran_out(model):
                continue  # not a model factory after all (one that ran out of budget is said: RL004)
        else:
            continue
        (models if model.graph.complete else partial).append(model)
    for entry in entries:
        try:
            models.insert(0, _build_named(ev, entry))
        except ReaderError as exc:
            diagnostics.append(Diagnostic(PARSE_ERROR, str(exc), Location(path, 1, 1), Severity.ERROR))
    # Complete models first: when one line is reached from several models, the
    # complete one's finding is the one kept.
    deps = tuple(sorted(f for f in ev.read_files if f != path))
    return ReadResult(models=tuple(models + partial), diagnostics=tuple(diagnostics), dependencies=deps)


def _build_reusing(ev: Evaluator, session: ReaderSession, prints: Fingerprints | None, name: str,
                   key: tuple[Any, ...], build: Callable[[], ReadModel]) -> ReadModel:
    """``build()``, or the model an earlier read of this file built when nothing it read
    has changed since (reuse.py). Builds are tracked for that when the session keeps models;
    one that ran out of its budget is not kept (the next read may have the time)."""
    cache = session.models
    if cache is None or prints is None:
        return build()
    path = ev.main.path
    hit = cache.get(path, name, key, prints)
    if hit is not None:
        ev.read_files |= hit.read_files
        return hit.model
    ev.touched, ev.def_owner = set(), prints.owner
    read_before = set(ev.read_files)
    try:
        model = build()
    finally:
        touched, ev.touched, ev.def_owner = ev.touched, None, {}
    if not _ran_out(model):
        cache.put(path, name, Reusable(key, prints.top, prints.of(touched), model,
                                       frozenset(ev.read_files - read_before)))
    return model


def _ran_out(model: ReadModel) -> bool:
    """Whether the build ran out of its step or time budget (the reasons say "exhausted")."""
    return any("exhausted" in u.reason for u in model.graph.unresolved)


def _used_by_other_definitions(tree: ast.Module) -> set[str]:
    """Top-level classes that another top-level class or function of the file refers to:
    the file's building blocks (and the model class its factories build, which the
    factories then stand for)."""
    defs = {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))}
    used: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            used.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in defs and n.id != node.name)
    return used


def _is_factory(node: ast.AST) -> bool:
    """A public top-level function callable without arguments that returns something."""
    if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
        return False
    spec = node.args
    positional = [*spec.posonlyargs, *spec.args]
    if len(spec.defaults) < len(positional) or any(d is None for d in spec.kw_defaults):
        return False
    return any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(node))


def build_entry(path: str, text: str, entry: str, session: ReaderSession | None = None,
                input_size: Sequence[int] | None = None) -> ReadModel:
    """Build one named entry: ``Name``, ``Name(args)`` (a class or a factory function).
    ``input_size``: sizes read in ``forward`` (``x.shape``) are numbers at it."""
    tree = parse(path, text)
    session = session or ReaderSession()
    ev = Evaluator(path, text, tree, session.finder, session.modules)
    ev.default_input_size = input_size
    ev.time_budget = session.time_budget
    ev.stop_at = session.stop_at
    ev.run_module()
    return _build_named(ev, entry)


def _build_named(ev: Evaluator, entry: str) -> ReadModel:
    path = ev.main.path
    try:
        call = ast.parse(entry.strip(), mode="eval").body
    except SyntaxError:
        raise ReaderError(f"{path}::{entry}: not a valid entry (expected NAME or NAME(args))") from None
    func, arg_nodes, kw_nodes = (call.func, call.args, call.keywords) if isinstance(call, ast.Call) else (call, [], [])
    dotted = _dotted(func)
    if dotted is None:
        raise ReaderError(f"{path}::{entry}: not a valid entry (expected NAME, NAME(args) or CLASS.METHOD(args))")
    name, *members = dotted
    target = ev.globals.get(name)
    if members and isinstance(target, ClassValue):
        # A classmethod or staticmethod factory (``EfficientNet.from_name('efficientnet-b0')``).
        target = ev.get_attr(target, members[0], func) if len(members) == 1 else None
        if not isinstance(target, (FunctionValue, BoundMethod)):
            raise ReaderError(f"{path}: '{'.'.join(dotted)}' is not a method rflint can call")
        name = ".".join(dotted)
    elif members:
        raise ReaderError(f"{path}: no class named '{name}' (an entry CLASS.METHOD names a class of the file)")
    if not isinstance(target, (ClassValue, FunctionValue, BoundMethod)):
        known = sorted(n for n, v in ev.globals.items() if isinstance(v, ClassValue) and ev.is_module_class(v))
        hint = f"; module classes here: {', '.join(known)}" if known else ""
        raise ReaderError(f"{path}: no class or function named '{name}'{hint}")
    try:
        args = [ast.literal_eval(a) for a in arg_nodes]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in kw_nodes if k.arg}
    except ValueError:
        raise ReaderError(f"{path}::{entry}: arguments must be literals") from None
    node = target.func.node if isinstance(target, BoundMethod) else target.node
    overrides, errors = pragma_settings(path, ev.lines, node)  # type: ignore[arg-type]
    if errors:
        raise ReaderError(errors[0].message)
    if isinstance(target, ClassValue):
        model = _build_class(ev, target, overrides, args, kwargs)
    else:
        model = _build_factory(ev, target, name, node, overrides, args, kwargs)
    label = entry.strip()
    graph = model.graph
    return ReadModel(dataclasses.replace(graph, name=label), model.overrides)


def _build_class(ev: Evaluator, cls: ClassValue, overrides: dict[str, Any], args: list[Any] | None = None,
                 kwargs: dict[str, Any] | None = None) -> ReadModel:
    """Build a class and trace it. A constructor argument without a default (and not given)
    is symbolic: channel and class counts do not move a receptive field, so the model
    resolves when its geometry does not depend on them (and says what it assumed)."""
    _start(ev)
    args, kwargs = list(args or []), dict(kwargs or {})
    init = cls.lookup("__init__")
    if init is not None:
        for p in _required_params(init, len(args), kwargs):  # type: ignore[arg-type]
            kwargs[p] = Unknown(f"argument '{p}' of {cls.name} has no default (taken as symbolic)")
            ev.assume(f"{cls.name}: argument '{p}' has no default and is taken as symbolic", init)
    try:
        instance = ev.instantiate(cls, args, kwargs, None)
    except BudgetExceeded as exc:
        instance = ev.unknown(f"{exc.what} exhausted building {cls.name}", cls.node)
    except Raised as exc:  # not caught by the model's own try (a safety net: try statements catch theirs)
        instance = ev.unknown(exc.reason, cls.node)
    return _trace(ev, cls.name, instance, cls.node, overrides)


def _build_factory(ev: Evaluator, func: FunctionValue | BoundMethod, name: str, node: ast.AST,
                   overrides: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> ReadModel:
    _start(ev)
    if isinstance(func, FunctionValue):
        _run_own_decorators(ev, func)
    try:
        instance = ev.call(func, args, kwargs, node)  # type: ignore[arg-type]
    except BudgetExceeded as exc:
        instance = ev.unknown(f"{exc.what} exhausted in {name}()", node)
    except Raised as exc:
        instance = ev.unknown(exc.reason, node)
    return _trace(ev, name, instance, node, overrides)


def _run_own_decorators(ev: Evaluator, func: FunctionValue) -> None:
    """The decorators of the factory being built run first, as they did when its module
    was imported: timm's ``@register_model`` records the model's pretrained configuration,
    whose input size the factory's builder then passes on (``swinv2_*_256`` is built for
    256). Only this function's: a model file registers hundreds. What they do builds no
    layer, so what they cannot resolve is not the model's (it is not reported)."""
    saved = (list(ev.unresolved), set(ev._reported), dict(ev.assumptions))
    scope = Scope(func.module.globals)
    try:
        for d in reversed(getattr(func.node, "decorator_list", [])):
            decorator = ev.eval(d, scope)
            if isinstance(decorator, (FunctionValue, BoundMethod, Builtin)):
                ev.call(decorator, [func], {}, d)  # type: ignore[arg-type]
    except (BudgetExceeded, Raised):
        pass
    finally:
        ev.unresolved, ev._reported, ev.assumptions = saved
        ev.restart_budget()


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``['a', 'b', 'c']``; None for anything but names and attributes."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _start(ev: Evaluator) -> None:
    """Each model starts with the whole step budget and says only what it needed."""
    ev.restart_budget()
    ev.unresolved = []
    ev._reported = set()
    ev.assumptions = {}


def _trace(ev: Evaluator, name: str, instance: Any, def_node: ast.AST, overrides: dict[str, Any]) -> ReadModel:
    """Run ``forward`` on a symbolic input and collect the graph.

    The graph is complete when ``forward`` returned tensors and every node it made has
    a frame: nothing the model needed was unresolved (an Opaque node is reported when
    it is made, and so is a layer built under an assumption that failed)."""
    builder = GraphBuilder()
    ev.builder = builder
    ev.applied = set()
    ev.ndim = _spatial_rank(ev, instance)
    ev.input_size = _spatial_size(overrides.get("input_size", ev.default_input_size), ev.ndim)
    ev.sizes, ev.channels, ev.ended = {}, {}, {}
    x = builder.input()
    outputs: list[tuple[str, int]] = []
    if isinstance(instance, Unknown) or not isinstance(instance, (ModuleInstance, ContainerValue, LayerValue)):
        reason = instance.reason if isinstance(instance, Unknown) else f"{name} did not build a module"
        ev.report(reason, instance.loc if isinstance(instance, Unknown) and instance.loc else ev.loc(def_node))
    else:
        try:
            result = ev.apply_module(instance, [TensorValue(x)], _side_inputs(ev, instance, x), def_node)
        except BudgetExceeded as exc:
            result = ev.unknown(f"{exc.what} exhausted running {name}.forward", def_node)
        except Raised as exc:
            result = ev.unknown(exc.reason, def_node)
        outputs = _outputs(result)
        if not outputs:
            why = result.reason if isinstance(result, Unknown) else f"forward returned no tensor ({type(result).__name__})"
            ev.report(why, result.loc if isinstance(result, Unknown) and result.loc else ev.loc(def_node))
    complete = not ev.unresolved
    _add_unapplied(ev, instance, x)
    ev.builder = None
    builder.unresolved.extend(ev.unresolved)
    loc = ev.loc(def_node)
    loc = Location(loc.file, loc.line, loc.col)
    assumed = tuple(Unresolved(what, where) for what, where in ev.assumptions.items())
    graph = builder.build(name, outputs, loc=loc, complete=complete, assumptions=assumed)
    return ReadModel(graph, overrides)


def _spatial_rank(ev: Evaluator, instance: Any) -> int:
    """The model's spatial axes: the most any of its layers has (an ECA gate's Conv1d in a
    2-D network does not make it 1-D), counting subclasses of torch's layers (timm's
    StdConv2d); 2 when no layer says."""
    ranks = {n for layer, _ in ev.iter_layers(instance) if (n := layer.op.spatial_ndim)}
    for sub in ev.submodules(instance, "modules") if isinstance(instance, (ModuleInstance, ContainerValue)) else []:
        if isinstance(sub, ModuleInstance):
            for base in sub.cls.external_bases():
                spec = LAYERS.get(base.rsplit(".", 1)[-1])
                if spec is not None and spec.ndim:
                    ranks.add(spec.ndim)
    return max(ranks) if ranks else 2


def _spatial_size(size: Any, ndim: int) -> tuple[int, ...] | None:
    """The configured input size as spatial sizes, as the analysis reads it: the spatial
    tail of (C, H, W), or one number for every axis."""
    if not size:
        return None
    sizes = tuple(size)
    return sizes[len(sizes) - ndim:] if len(sizes) >= ndim else sizes[-1:] * ndim


def _outputs(result: Any, prefix: str = "output") -> list[tuple[str, int]]:
    if isinstance(result, TensorValue):
        return [(prefix, result.node)]
    if isinstance(result, (tuple, list)):
        out: list[tuple[str, int]] = []
        for i, item in enumerate(result):
            out.extend(_outputs(item, f"{prefix}[{i}]"))
        return out
    if isinstance(result, dict):
        out = []
        for key, item in result.items():
            out.extend(_outputs(item, f"{prefix}[{key!r}]"))
        return out
    if isinstance(result, ModuleInstance) and any(c.is_dataclass() for c in result.cls.mro()):
        # A dataclass of outputs (diffusers' UNet2DOutput(sample=...), a mapping too: output['sample']).
        mapping = any(isinstance(b, Builtin) and b.name in ("dict", "collections.OrderedDict")
                      for c in result.cls.mro() for b in c.bases)
        out = []
        for key, item in result.attrs.items():
            out.extend(_outputs(item, f"{prefix}[{key!r}]" if mapping else f"{prefix}.{key}"))
        return out
    return []


def _add_unapplied(ev: Evaluator, instance: Any, x: int) -> None:
    """Layers built but never reached by ``forward`` (or all of them, when it failed) still
    get a node each, so that layer-level rules see them. Layers of one Sequential are
    chained in order, since that order is known."""
    assert ev.builder is not None
    prev_in: dict[int, int] = {}
    for layer, parent in ev.iter_layers(instance):
        if id(layer) in ev.applied:
            continue
        src = prev_in.get(id(parent), x) if parent is not None else x
        node = ev.builder.add(layer.op, [src], layer.type_name, layer.path, layer.loc, {**layer.attrs, "unapplied": True})
        if parent is not None:
            prev_in[id(parent)] = node


def _side_inputs(ev: Evaluator, instance: Any, x: int) -> dict[str, TensorValue]:
    """``forward(self, sample, timestep, encoder_hidden_states)``: a required argument after
    the image is an input that holds no image positions (a SideInput per argument, shaped
    (batch,)), and the model is read with it as an assumption it says."""
    if not isinstance(instance, ModuleInstance):
        return {}
    forward = instance.cls.lookup("forward")
    if not isinstance(forward, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {}
    missing = _required_params(forward, 1, {})
    out: dict[str, TensorValue] = {}
    for name in missing:
        ev.assume(f"{instance.cls.name}.forward: argument '{name}' has no default and is taken as an input that holds "
                  f"no image positions", forward)
        out[name] = ev.add_node(SideInput(), [x], name, forward, layout=(lay.Dim((lay.BATCH,)),))
    return out


def _required_params(init: ast.FunctionDef, n_args: int, kwargs: dict[str, Any]) -> list[str]:
    spec = init.args
    positional = [a.arg for a in (*spec.posonlyargs, *spec.args)][1:]  # drop self
    with_default = set(positional[len(positional) - len(spec.defaults):]) if spec.defaults else set()
    missing = [p for p in positional[n_args:] if p not in with_default and p not in kwargs]
    missing += [a.arg for a, d in zip(spec.kwonlyargs, spec.kw_defaults) if d is None and a.arg not in kwargs]
    return missing


def _position(message: str, path: str) -> tuple[int, int]:
    m = re.match(re.escape(path) + r":(\d+):(\d+):", message)
    return (int(m.group(1)), int(m.group(2))) if m else (1, 1)


__all__ = ["read_python", "build_entry", "parse", "Opaque"]
