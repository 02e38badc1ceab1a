"""The torch doors: ``torch.export`` programs (``.pt2``) and the opt-in ``--trace``.

``read_program`` reads a ``.pt2`` written by ``torch.export.save``;
``trace_target`` imports the user's ``module.path:factory``, builds the model
and traces it with ``torch.export.export``. Both produce the neutral Program of
``readers/torch_ops.py`` and go through its one converter, so geometry cannot
differ between them; they differ only in where findings point.

Safe loading: what was verified (torch 2.14.1), and why ``torch.export.load``
is not used. ``torch.export.load`` -> ``pt2_archive._package.load_pt2`` reads
``models/<name>.json`` and then, for the same program:

- weights and constants whose payload config says ``use_pickle`` are loaded
  with ``torch.load(..., weights_only=False)`` (``_load_state_dict``,
  ``_load_constants``): a full unpickle of bytes from the file;
- "opaque" constants are loaded with ``pickle.loads`` and torchbind objects
  with ``torch._C._pickle_load_obj``;
- the example inputs go through ``serialize.deserialize_torch_artifact``,
  which tries ``torch.load(weights_only=True)`` and, when that fails, retries
  with ``weights_only=False``, so a crafted pickle is run after all;
- the graph's symbolic sizes (``as_expr.expr_str``) are turned into
  expressions with ``sympy.sympify``, which evaluates Python text;
- the pre-2.8 layout (``serialized_exported_program.json``) goes through the
  same deserialiser.

So loading a ``.pt2`` with torch runs code from the file. rflint needs only
the graph and the parameter shapes, and the JSON has both (``tensor_values``
gives every tensor's sizes), so ``read_program`` opens the zip with
``zipfile``, parses the program with ``json`` (``readers/torch_program.py``),
and never reads another member: no pickle, no ``torch.load``, no sympy,
and no torch import at all, so it is also fast. Symbolic sizes stay text. The
tests include a ``.pt2`` whose pickles and size expressions would create a
file if run, and check that ``torch.export.load`` does create it and
``read_program`` does not.

Where findings point. A ``.pt2`` has no source lines: its findings carry the
node (``Location.node``: name, operator, index), and the node's name is the
module path (``layer1.0.conv1``) when the call is a torch.nn layer's own. For a
trace, a layer made by a module points at the line that constructed the
module (recorded while the factory runs, with the call chain from the
factory, as the static reader reports it), and any other call at the
innermost frame of its recorded ``stack_trace`` outside torch; the factory's
definition line is the last resort. Lines are what both readers agree on; the
column of a forward-pass call is found by reading that line.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import linecache
import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice, pairwise
from types import FrameType
from typing import Any

from ..diagnostics import Diagnostic, Severity
from ..ir import Graph, Location, NodeRef
from .base import PARSE_ERROR, UNRESOLVED, ReaderError, ReadModel, ReadResult
from .torch_graph import Call, Program, Ref, op_name
from .torch_ops import convert

# --------------------------------------------------------------------------- .pt2


def read_program(path: str, data: bytes) -> ReadResult:
    """Read a ``.pt2`` program (see the module docstring for why it is safe).
    Never raises: a bad file is an RL001 error naming the file and the problem."""
    from .torch_program import BadProgram, programs

    stem = os.path.splitext(os.path.basename(path))[0] or "model"
    try:
        found = programs(data, stem)
        models: list[ReadModel] = []
        notes: list[Diagnostic] = []
        for program, note in found:
            graph = convert(program, _node_locator(path))
            graph = Graph(graph.name, graph.nodes, graph.outputs, graph.ndim, Location(path, 1, 1), graph.complete,
                          graph.unresolved)
            models.append(ReadModel(graph, _size_of(program)))
            if note:
                notes.append(Diagnostic(UNRESOLVED, f"{path}: {note}", Location(path, 1, 1), Severity.INFO))
        return ReadResult(models=tuple(models), diagnostics=tuple(notes))
    except BadProgram as exc:
        return _error(path, f"not a readable torch.export program: {exc}")
    except RecursionError:
        return _error(path, "not a readable torch.export program: nested too deeply")
    except Exception as exc:  # noqa: BLE001  (the reliability contract: report, never raise)
        return _error(path, f"internal error reading the torch.export program: {type(exc).__name__}: {exc}")


def _size_of(program: Program) -> dict[str, Any]:
    """The exported input's spatial size, as ``input-size``: the program was traced at it."""
    shape = next((program.input_shapes.get(n) for n in program.inputs if len(program.input_shapes.get(n) or ()) >= 3), None)
    if shape is None or not all(isinstance(d, int) for d in shape[2:]):
        return {}
    return {"input_size": tuple(shape[2:])}


def _error(path: str, message: str) -> ReadResult:
    return ReadResult(diagnostics=(Diagnostic(PARSE_ERROR, message, Location(path, 1, 1), Severity.ERROR),))


def _node_locator(path: str):  # type: ignore[no-untyped-def]
    def locate(call: Call, leaf: bool) -> Location:
        path_name = call.module_stack[-1][0].split("@", 1)[0] if leaf and call.module_stack else ""
        return Location(path, 1, 1, node=NodeRef(path_name or call.name, call.target, call.index))

    return locate


# --------------------------------------------------------------------------- --trace


def trace_target(target: str, input_size: tuple[int, ...] | None) -> ReadResult:
    """Import ``module.path:factory`` (or ``path/to/file.py:factory``) from the working
    directory, build the model, and trace it with ``torch.export`` (``torch.fx`` when
    export fails). This runs the user's code. Raises ReaderError naming the target."""
    try:
        import torch
    except ImportError:
        raise ReaderError(f"--trace {target}: tracing needs torch: pip install 'rflint[torch]'") from None
    factory = _import_factory(target)
    file, line, col, overrides, errors = _definition(factory, target)
    if errors:
        raise ReaderError(f"--trace {target}: {errors[0].message}")
    sites = _Sites()
    try:
        with sites.recording(torch), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = _call_factory(factory)
    except ReaderError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001  (the user's code: any failure is theirs)
        raise ReaderError(f"--trace {target}: calling {_name(factory)}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise ReaderError(f"--trace {target}: {_name(factory)}() returned {type(model).__name__}, not a torch.nn.Module")
    model.eval()
    size = input_size or overrides.get("input_size")
    x = _example_input(torch, model, tuple(size) if size else None, target)
    diagnostics: list[Diagnostic] = []
    graph_loc = Location(file, line, col) if file else None
    try:
        program = _export(torch, model, x, _name(factory))
    except Exception as exc:  # noqa: BLE001  (any export failure: try torch.fx)
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        try:
            program = _fx_program(torch, model, x, _name(factory))
        except Exception as fx_exc:  # noqa: BLE001
            raise ReaderError(f"--trace {target}: torch.export failed ({reason}) and so did torch.fx "
                              f"({type(fx_exc).__name__}: {fx_exc})") from None
        where = graph_loc or Location(target, 1, 1)
        diagnostics.append(Diagnostic(UNRESOLVED, f"{_name(factory)}: torch.export failed ({reason}); traced with "
                                      "torch.fx.symbolic_trace instead (layers only as precise as their modules)",
                                      where, Severity.INFO))
    locate = _SourceLocator(model, sites, graph_loc)
    graph = convert(program, locate)
    graph = Graph(graph.name, graph.nodes, graph.outputs, graph.ndim, graph_loc, graph.complete, graph.unresolved)
    return ReadResult(models=(ReadModel(graph, overrides),), diagnostics=tuple(diagnostics))


def _name(factory: Any) -> str:
    return getattr(factory, "__qualname__", None) or getattr(factory, "__name__", None) or repr(factory)


def _import_factory(target: str) -> Any:
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise ReaderError(f"--trace {target}: expected module.path:factory or path/to/file.py:factory")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
            file = os.path.abspath(module_part)
            if not os.path.isfile(file):
                raise ReaderError(f"--trace {target}: no file {module_part}")
            name = "_rflint_trace_" + re.sub(r"\W", "_", os.path.splitext(os.path.relpath(file, cwd))[0])
            spec = importlib.util.spec_from_file_location(name, file)
            if spec is None or spec.loader is None:
                raise ReaderError(f"--trace {target}: cannot import {module_part}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_part)
    except ReaderError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001  (the user's module: any failure is theirs)
        raise ReaderError(f"--trace {target}: importing {module_part} failed: {type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ReaderError(f"--trace {target}: {module_part} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ReaderError(f"--trace {target}: {attr} is not callable")
    return obj


def _definition(factory: Any, target: str) -> tuple[str, int, int, dict[str, Any], list[Diagnostic]]:
    """The factory's file, the line and column of its ``def``/``class``, and the settings
    of the ``# rflint:`` pragma above it (as the static reader reads them)."""
    import inspect

    try:
        file = inspect.getsourcefile(factory) or ""
    except TypeError:
        return "", 1, 1, {}, []
    file = os.path.abspath(file) if file else ""
    if not file or not os.path.isfile(file):
        return file, 1, 1, {}, []
    try:
        with open(file, encoding="utf-8-sig") as fh:
            text = fh.read()
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return file, 1, 1, {}, []
    names = _name(factory).split(".")
    body: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for part in names:
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            break
        body = node.body  # type: ignore[attr-defined]
    if node is None:
        return file, getattr(getattr(factory, "__code__", None), "co_firstlineno", 1), 1, {}, []
    from .pragma import pragma_settings

    overrides, errors = pragma_settings(file, text.splitlines(), node)
    return file, node.lineno, node.col_offset + 1, overrides, errors  # type: ignore[attr-defined]


def _call_factory(factory: Any) -> Any:
    """Calls the factory; construction sites are recorded up to this frame (see _Sites)."""
    return factory()


def _example_input(torch: Any, model: Any, size: tuple[int, ...] | None, target: str) -> Any:
    """A batch of one: channels from the first conv (or linear) layer, spatial axes from the
    first conv's dimensionality, sizes from ``input-size`` or 224 per axis."""
    from torch.nn.modules.conv import _ConvNd

    first = next((m for m in model.modules() if isinstance(m, (_ConvNd, torch.nn.Linear))), None)
    if first is None or not isinstance(first, _ConvNd):
        raise ReaderError(f"--trace {target}: the model has no convolution to take the input shape from "
                          "(rflint lints convolutional models)")
    ndim = len(first.kernel_size)
    channels = first.in_channels or 3
    if first.transposed:
        channels = first.in_channels
    if size is None:
        spatial = (224,) * ndim
    elif len(size) == 1:
        spatial = size * ndim
    elif len(size) >= ndim:
        spatial = tuple(size[len(size) - ndim:])
    else:
        raise ReaderError(f"--trace {target}: input-size {list(size)} does not fit a {ndim}-D model")
    return torch.zeros((1, channels, *spatial))


def _export(torch: Any, model: Any, x: Any, name: str) -> Program:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(model, (x,))
    sig = ep.graph_signature
    user = set(sig.user_inputs)
    return _graph_program(ep.graph, name, [n for n in sig.user_inputs], user)


def _shape(val: Any) -> Any:
    """A FakeTensor's shape as ints (symbolic sizes as their text), tuples for tuples."""
    if isinstance(val, (list, tuple)):
        return tuple(_shape(v) for v in val)
    shape = getattr(val, "shape", None)
    if shape is None:
        meta = getattr(val, "tensor_meta", None)
        shape = getattr(val, "shape", None) if meta is None else meta.shape
    if shape is None:
        return None
    return tuple(int(d) if isinstance(d, int) or str(d).isdigit() else str(d) for d in shape)


def _target(t: Any) -> str:
    if isinstance(t, str):
        return t
    if hasattr(t, "_schema") or type(t).__name__ in ("OpOverload", "OpOverloadPacket"):
        return str(t)
    return f"{getattr(t, '__module__', '') or ''}.{getattr(t, '__name__', repr(t))}".lstrip(".")


def _graph_program(graph: Any, name: str, inputs: list[str], user: set[str]) -> Program:
    """The neutral Program of an FX graph (from torch.export, or torch.fx with shapes)."""
    constants: dict[str, Any] = {}
    calls: list[Call] = []
    outputs: list[str | None] = []
    shapes: dict[str, Any] = {}
    for index, node in enumerate(graph.nodes):
        val = node.meta.get("val", node.meta.get("tensor_meta"))
        if node.op == "placeholder":
            shapes[node.name] = _shape(val)
            if node.name not in user:
                constants[node.name] = shapes[node.name]
            continue
        if node.op == "output":
            outs = node.args[0]
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            outputs = [o.name if hasattr(o, "name") else None for o in _flatten(outs)]
            continue
        if node.op == "get_attr":
            constants[node.name] = _shape(val)
            continue
        shape = _shape(val)
        calls.append(Call(index, node.name, _target(node.target), tuple(_fx_arg(a) for a in node.args),
                          {k: _fx_arg(v) for k, v in node.kwargs.items()}, (node.name,), (shape,),
                          _stack(node.meta.get("nn_module_stack")), node.meta.get("stack_trace")))
    return Program(name, inputs, constants, calls, outputs, {n: shapes.get(n) for n in inputs})


def _flatten(items: Any) -> Iterator[Any]:
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def _fx_arg(a: Any) -> Any:
    if hasattr(a, "op") and hasattr(a, "name") and hasattr(a, "meta"):
        return Ref(a.name)
    if isinstance(a, (list, tuple)):
        return [_fx_arg(x) for x in a]
    if isinstance(a, (int, float, bool, str)) or a is None:
        return a
    if type(a).__name__ in ("SymInt", "SymFloat", "SymBool"):
        return str(a)
    return f"<{type(a).__name__}>"


def _stack(stack: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(stack, dict):
        return ()
    out = []
    for path, cls in stack.values():
        qual = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
        out.append((str(path), qual))
    return tuple(out)


# --------------------------------------------------------------------------- torch.fx fallback


def _fx_program(torch: Any, model: Any, x: Any, name: str) -> Program:
    """``torch.fx.symbolic_trace`` with shapes from one run (``ShapeProp``): torch.nn
    layers stay whole modules, which this maps to the aten calls torch.export makes."""
    from torch.fx.passes.shape_prop import ShapeProp

    from .torch_fx import fx_program

    tracer = torch.fx.Tracer()
    tracer.record_stack_traces = True
    graph = tracer.trace(model)
    gm = torch.fx.GraphModule(tracer.root, graph)
    with torch.no_grad():
        ShapeProp(gm).propagate(x)
    return fx_program(torch, gm, name)


# --------------------------------------------------------------------------- source locations


_TORCH_DIR = ""


def _torch_dir() -> str:
    global _TORCH_DIR
    if not _TORCH_DIR:
        import torch

        _TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
    return _TORCH_DIR


def _is_library(file: str) -> bool:
    parts = file.replace("\\", "/").split("/")
    return "site-packages" in parts or "dist-packages" in parts or file.startswith(sys.prefix + os.sep + "lib")


@dataclass(frozen=True)
class _Frame:
    file: str
    line: int
    col: int
    func: str


def _frame_of(f: FrameType) -> _Frame:
    line, col = f.f_lineno, 1
    try:
        pos = next(iter(_islice(f.f_code.co_positions(), f.f_lasti // 2)), None)
        if pos is not None and pos[0] is not None:
            line, col = pos[0], (pos[2] or 0) + 1
    except (AttributeError, ValueError):
        pass
    return _Frame(os.path.abspath(f.f_code.co_filename), line, col, getattr(f.f_code, "co_qualname", f.f_code.co_name))


def _islice(it: Any, start: int) -> Iterator[Any]:
    return islice(it, start, None)


def _callee(func: str) -> str:
    name = func.removesuffix(".__init__")
    return f"{name.split('<locals>.')[-1]}()"


class _Sites:
    """Where each module was constructed: recorded by wrapping ``nn.Module.__init__``
    while the factory runs (the static reader points at the same lines)."""

    def __init__(self) -> None:
        self.locations: dict[int, Location] = {}
        self.keep: list[Any] = []  # the modules, so that ids stay theirs

    @contextmanager
    def recording(self, torch: Any) -> Iterator[None]:
        module_cls = torch.nn.Module
        original = module_cls.__init__
        sites = self

        def init(module: Any, *args: Any, **kwargs: Any) -> None:
            if id(module) not in sites.locations:
                try:
                    sites.locations[id(module)] = _construction(module, sys._getframe(1))
                    sites.keep.append(module)
                except Exception:  # noqa: BLE001, S110  (recording must never break the user's model)
                    pass
            original(module, *args, **kwargs)

        module_cls.__init__ = init  # type: ignore[method-assign]
        try:
            yield
        finally:
            module_cls.__init__ = original  # type: ignore[method-assign]


def _construction(module: Any, frame: FrameType | None) -> Location:
    """The frame that called the module's constructor (outside its own ``__init__``
    chain), and the calls from the factory down to it as the chain."""
    while frame is not None and frame.f_locals.get("self") is module:
        frame = frame.f_back
    frames: list[_Frame] = []
    stop = _call_factory.__code__
    while frame is not None and frame.f_code is not stop:
        frames.append(_frame_of(frame))
        frame = frame.f_back
    if frame is None:  # constructed outside the factory (at import): the line alone
        frames = frames[:1]
    if not frames:
        raise ValueError("no frame")
    site = frames[0]
    chain = tuple(f"{outer.file}:{outer.line}:{outer.col} {_callee(inner.func)}"
                  for inner, outer in pairwise(frames))[::-1]
    return Location(site.file, site.line, site.col, chain=chain)


_TRACE_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.*)$')


def _stack_frames(text: str) -> list[_Frame]:
    out = []
    for line in text.splitlines():
        m = _TRACE_FRAME.match(line)
        if m:
            out.append(_Frame(os.path.abspath(m.group("file")), int(m.group("line")), 1, m.group("func")))
    return out


class _SourceLocator:
    """Where a traced call's node is: the module's construction site for a layer, else
    the innermost recorded frame outside torch, else the factory's definition."""

    def __init__(self, model: Any, sites: _Sites, fallback: Location | None) -> None:
        self.model, self.sites, self.fallback = model, sites, fallback

    def __call__(self, call: Call, leaf: bool) -> Location | None:
        if leaf and call.module_stack:
            path = call.module_stack[-1][0].split("@", 1)[0]
            try:
                module = self.model.get_submodule(path) if path else self.model
            except AttributeError:
                module = None
            if module is not None and id(module) in self.sites.locations:
                return self.sites.locations[id(module)]
        if call.stack_trace:
            frames = [f for f in _stack_frames(call.stack_trace) if not f.file.startswith(_torch_dir())]
            if frames:
                inner = frames[-1]
                chain: tuple[str, ...] = ()
                if _is_library(inner.file):
                    chain = tuple(f"{f.file}:{f.line}:1 {_callee(g.func)}" for f, g in pairwise(frames))
                return Location(inner.file, inner.line, _column(inner.file, inner.line, op_name(call.target)),
                                chain=chain)
        return self.fallback


_SOURCE_NAMES = {
    "add": ast.Add, "sub": ast.Sub, "mul": ast.Mult, "div": ast.Div,
}
_ALIASES = {
    "cat": ("cat", "concat", "concatenate"), "upsample_nearest2d": ("interpolate", "upsample"),
    "upsample_bilinear2d": ("interpolate", "upsample"), "_upsample_nearest_exact2d": ("interpolate",),
    "view": ("view", "reshape", "flatten"), "reshape": ("reshape", "view", "flatten"),
    "constant_pad_nd": ("pad",), "slice": (), "max_pool2d_with_indices": ("max_pool2d",),
}


def _column(file: str, line: int, op: str) -> int:
    """The column of the call or operator on ``line`` that made ``op`` (the stack trace
    gives lines only): the first matching call by name, or the first matching binary
    operator; else the first non-blank character."""
    text = linecache.getline(file, line)
    if not text.strip():
        return 1
    indent = len(text) - len(text.lstrip())
    first = indent + 1
    try:
        tree = ast.parse(text.strip())
    except SyntaxError:
        return first
    names = set(_ALIASES.get(op, (op, op.lstrip("_").rstrip("_"))))
    binop = _SOURCE_NAMES.get(op.rstrip("_"))
    best: tuple[int, int] | None = None
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.Call):
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            hit = called in names
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and binop is not None:
            hit = isinstance(node.op, binop)
        if hit:
            key = (node.lineno, node.col_offset)
            best = key if best is None or key < best else best
    if best is None or best[0] != 1:
        return first
    return indent + best[1] + 1
