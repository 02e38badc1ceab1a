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
import time
from typing import Any

from ...diagnostics import source_lines
from ...ir import GraphBuilder, Location, Unresolved
from .active import set_active
from .attributes import Attributes
from .calls import Calls
from .control import STEP_BUDGET, TIME_BUDGET, Break, BudgetExceeded, Continue, Raised, Return, Scope, dotted, is_literal
from .expressions import Expressions
from .imports import Imports
from .loader import Finder, module_identity
from .memo import ConstructionMemo
from .modules import Modules
from .statements import Statements
from .tensors import Tensors
from .values import SourceModule, Unknown

__all__ = ["BudgetExceeded", "Evaluator", "Scope"]


class Evaluator(Statements, Expressions, Attributes, Calls, Modules, Tensors, Imports):
    """Interprets one file. ``builder`` is set while a model's graph is being built.

    The interpreter is split along the language: ``statements``, ``expressions``,
    ``attributes``, ``calls`` (functions and classes), ``modules`` (``torch.nn`` at run
    time) and ``imports``; the libraries it models live in ``torch_nn``,
    ``tensor_ops``, ``consttensor`` and ``library``. This class holds what they share:
    the file, locations, the budget and the graph being built.
    """

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
        self.unresolved: list[Unresolved] = []  # what the graph needed and could not have (see report)
        self._reported: set[Unresolved] = set()
        self.constructing: list[Any] = []  # instances whose __init__ is running, innermost last
        self.yielded: list[list[Any]] = []  # what each running generator has yielded
        self.try_depth = 0  # try statements being run: errors in them are raised (see fail)
        self.steps = 0
        self.time_budget: float | None = TIME_BUDGET
        self.deadline: float | None = None  # set per model by restart_budget
        self.stop_at: float | None = None  # when the whole read must end (the editor's document budget)
        self.depth = 0
        self.built = 0  # layers, module instances and graph nodes made: tells idle loops apart
        self.active: dict[int, int] = {}  # functions being run, by their node: recursion detection
        self.chain: list[str] = []
        self.applied: set[int] = set()
        self.ndim = 2  # spatial axes of the model being traced
        self.input_size: tuple[int, ...] | None = None  # its spatial input size, when configured
        self.default_input_size: Any = None  # the configured input size (a pragma may set a model's own)
        self.sizes: dict[int, tuple[int | None, ...]] = {}  # per graph node, when the input size is known
        self.channels: dict[int, int | None] = {}  # per graph node, where the layers say it
        self.ended: dict[int, bool] = {}  # per graph node: holds no positions
        self.enum_members: dict[int, dict[str, Any]] = {}  # one object per enum member, per class
        self.assumptions: dict[str, Location] = {}  # what was assumed, said once each
        self.memo = ConstructionMemo()  # constructions already run, by class and arguments
        set_active(self)
        # The main file's top-level definitions a model's build ran (reuse.py), when tracked:
        self.touched: set[str] | None = None
        self.def_owner: dict[int, str] = {}  # id of a def, class or lambda node -> its top-level definition

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
                if is_literal(arg):
                    literal.add(params[i - offset])
        for kw in call.keywords:
            if kw.arg:
                spans[kw.arg] = self.span(kw.value)
                if is_literal(kw.value):
                    literal.add(kw.arg)
        # "literal": the arguments written as constants here, so a fix may rewrite them;
        # "func": the callee as written (``nn.MaxPool2d``), so a fix may name its siblings.
        return {"args": spans, "literal": frozenset(literal), "call": self.span(call), "func": dotted(call.func)}

    def frame(self, node: ast.AST, name: str) -> str:
        """A call-chain entry, ``path:line:col name()``, for the call at ``node``."""
        loc = self.loc(node)
        return f"{loc.file}:{loc.line}:{loc.col} {name}()"

    def unknown(self, reason: str, node: ast.AST | None) -> Unknown:
        """An Unknown that remembers where it arose. It is reported only where the model
        needs it (``report``): code that builds no layer (pretrained configurations,
        registries, weight initialisation) may leave Unknowns behind without harm."""
        return Unknown(reason, self.loc(node) if node is not None else None)

    def fail(self, kind: str, reason: str, node: ast.AST | None) -> Unknown:
        """An error of the model's code (a TypeError, a KeyError): raised where a ``try`` may
        catch it, else the Unknown the reading goes on with."""
        if self.try_depth:
            raise Raised(kind, reason)
        return self.unknown(reason, node)

    def report(self, reason: str, loc: Location | None) -> None:
        """Something the model's graph needed and could not have: it makes the graph
        incomplete and is said (``--show-unresolved``), once per reason and place."""
        item = Unresolved(reason, loc)
        self.memo.note("report", reason, loc)
        if item not in self._reported:
            self._reported.add(item)
            self.unresolved.append(item)

    def taint(self, reason: str, node: ast.AST | None) -> None:
        """An instance under construction may be missing layers (a loop over a value that is
        not known was skipped, or an undecidable condition chose what to build): if its
        forward runs, the graph is incomplete for this reason."""
        if self.constructing:
            self.constructing[-1].taint.append(Unresolved(reason, self.loc(node) if node is not None else None))

    def assume(self, what: str, node: ast.AST | None) -> None:
        """Record an assumption the reading rests on (an environment variable read as unset),
        once: it is said with the model, not treated as unresolved."""
        self.assume_at(what, self.loc(node) if node is not None else Location(self.path, 1))

    def assume_at(self, what: str, loc: Location) -> None:
        self.memo.note("assume", what, loc)
        if what not in self.assumptions:
            self.assumptions[what] = loc

    def touch(self, node: ast.AST) -> None:
        """The build being tracked ran ``node`` (a function's or class's): it depends on the
        text of the top-level definition holding it."""
        owner = self.def_owner.get(id(node))
        if owner is not None:
            self.touched.add(owner)  # type: ignore[union-attr]  (def_owner is filled only when tracking)
            self.memo.note("touch", owner, None)

    def tick(self) -> None:
        """One step of work. The budgets are checked every 16 steps: a step is cheap,
        reading the clock is not."""
        self.steps += 1
        if not self.steps & 15:
            self.check_budget()

    def check_budget(self) -> None:
        if self.steps > STEP_BUDGET:
            raise BudgetExceeded()
        if self.deadline is not None and time.monotonic() > self.deadline:
            if self.stop_at is not None and self.deadline >= self.stop_at:
                raise BudgetExceeded("the document's time budget")
            raise BudgetExceeded(f"time budget ({self.time_budget:g} s)")

    def restart_budget(self) -> None:
        """Each model (and the module's top level) starts with the whole step and time budget,
        but none runs past ``stop_at``."""
        self.steps = 0
        self.deadline = time.monotonic() + self.time_budget if self.time_budget is not None else None
        if self.stop_at is not None and (self.deadline is None or self.stop_at < self.deadline):
            self.deadline = self.stop_at

    # ------------------------------------------------------------------ module level

    def run_module(self) -> None:
        self.restart_budget()
        for stmt in self.tree.body:
            try:
                self.exec_stmt(stmt, Scope(self.globals), top=True)
            except (Return, Break, Continue):
                pass
            except BudgetExceeded as exc:
                self.unknown(f"{exc.what} exhausted at module level", stmt)
                return

