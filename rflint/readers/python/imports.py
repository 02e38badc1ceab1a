"""Imports, resolved lazily to source rflint reads or to modelled libraries.

``from m import n`` binds a lazy reference that is resolved on first use, so
reading one model file does not evaluate everything its imports could reach;
modules are shared by the files of a run and loaded once.
"""

from __future__ import annotations

import ast
from typing import Any

from ...diagnostics import source_lines
from .control import (
    STAR_IMPORTS,
    STUBS_DIR,
    Break,
    BudgetExceeded,
    Continue,
    Deferred,
    Raised,
    Return,
    Scope,
)
from .loader import parse_file, resolve_relative
from .values import (
    Builtin,
    ExternalRef,
    LazyImport,
    SourceModule,
    Unknown,
)


class Imports:
    """What ``import`` and ``from ... import`` bind, and reading the modules they name. A part of :class:`Evaluator`."""

    def _import(self, stmt: ast.Import | ast.ImportFrom, scope: Scope) -> None:
        if self.try_depth:
            self._raise_if_absent(stmt)
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

    def _raise_if_absent(self, stmt: ast.Import | ast.ImportFrom) -> None:
        """Inside ``try``, importing a package that is not installed raises ModuleNotFoundError
        (an optional dependency's fallback runs). Outside one the import stays lazy: a name
        that is never used costs nothing, and one that is says it is not known."""
        names = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else \
            [resolve_relative(self.module.package, stmt.module, stmt.level) or ""]
        for name in names:
            if name and self.finder.is_absent(name, self.root):
                raise Raised("ModuleNotFoundError", f"No module named '{name.split('.')[0]}'")

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

    def depend(self, mod: SourceModule) -> None:
        """What is being read uses ``mod``: its file, and the files its top level read, are
        dependencies (the cache must see a change in any of them)."""
        if mod.path not in self.read_files:
            self.read_files.add(mod.path)
            self.read_files |= mod.deps

    def load(self, mod: SourceModule) -> bool:
        """Run a module's top level once (in its own context); False when it cannot be read.
        Either way, the reading that asks depends on the module (``depend``)."""
        if mod.state != "new":
            if mod.state != "broken":
                self.depend(mod)
            return mod.state != "broken"
        mod.state = "loading"
        parsed = parse_file(mod.path)
        if parsed is None:
            mod.state = "broken"
            return False
        tree, text = parsed
        mod.lines = source_lines(text)
        outer, self.read_files = self.read_files, {mod.path}  # what this module's top level reads
        saved_module, saved_steps, saved_chain, saved_try = self.module, self.steps, self.chain, self.try_depth
        self.module, self.chain, self.try_depth = mod, [], 0  # read lazily: not inside the reader's try
        try:
            for stmt in tree.body:
                try:
                    self.exec_stmt(stmt, Scope(mod.globals), top=True)
                except (Return, Break, Continue):
                    pass
        except BudgetExceeded as exc:
            self.unknown(f"{exc.what} exhausted reading {mod.name}", None)
        finally:
            self.module, self.steps, self.chain, self.try_depth = saved_module, saved_steps, saved_chain, saved_try
            mod.deps = self.read_files - {mod.path}
            self.read_files = outer | self.read_files
        mod.state = "loaded"
        return True

    def _namespace(self, mod: SourceModule) -> Builtin:
        """``module.__dict__``: its names, looked up as ``module.name`` is (torchvision's
        detection backbones build ``resnet.__dict__[backbone_name](...)``)."""
        def getitem(ev: Any, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> Any:
            if not isinstance(args[0], str):
                return ev.fail("KeyError", f"KeyError: {args[0]!r}", n)
            value = ev.module_attr(mod, args[0], n)
            return value

        def get(ev: Any, args: list[Any], kwargs: dict[str, Any], n: ast.AST) -> Any:
            key, default = args[0], args[1] if len(args) > 1 else None
            return ev.module_attr(mod, key, n) if isinstance(key, str) and key in mod.globals else default

        return Builtin(f"{mod.name}.__dict__", lambda ev, a, k, n: ev.unknown("calling a module's __dict__", n), None,
                       {"__getitem__": Builtin("__getitem__", getitem), "get": Builtin("get", get),
                        "keys": Builtin("keys", lambda ev, a, k, n: [key for key in mod.globals if key != STAR_IMPORTS])})

    def resolve(self, value: Any, node: ast.AST | None = None) -> Any:
        """The value behind a lazy ``from m import n``."""
        if not isinstance(value, LazyImport):
            return value
        mod = self.module_value(value.module)
        if isinstance(mod, ExternalRef):
            return self.external(f"{value.module}.{value.name}")
        return self.module_attr(mod, value.name, node)

    def module_attr(self, mod: SourceModule, name: str, node: ast.AST | None) -> Any:
        if not self.load(mod) and not mod.is_package:
            return self.unknown(f"cannot read {mod.path}", node)
        if name == "__dict__":
            return self._namespace(mod)
        if name in mod.globals:
            value = mod.globals[name]
            if isinstance(value, Deferred):
                value = self.force(value, name, mod.globals)
            if isinstance(value, LazyImport):
                if value == LazyImport(mod.name, name):
                    # ``from . import filters`` in package ``kornia``: the submodule kornia.filters.
                    sub = self.module_value(f"{mod.name}.{name}")
                    if isinstance(sub, SourceModule):
                        mod.globals[name] = sub
                        return sub
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
