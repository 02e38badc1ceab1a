"""Finding the source of imported modules, without importing anything.

``importlib.util.find_spec`` would execute parent packages' ``__init__``
(torchvision's imports torch), so modules are found the way Python's path
finder would, by looking at files: the importing file's own project first,
then configured source roots, then the installed packages on ``sys.path``.
``torch`` and the standard library are modelled, never read; bundled
stand-ins for well-known building blocks (``stubs/``) serve when the real
package is not installed, so an isolated pre-commit environment gives the
same answers.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import sysconfig
from functools import lru_cache
from pathlib import Path

STUBS = Path(__file__).resolve().parent / "stubs"
MODELLED = {"torch", "numpy", "typing_extensions"}


def is_modelled(name: str) -> bool:
    """Modules rflint models instead of reading: torch and the standard library."""
    top = name.split(".", 1)[0]
    return top in MODELLED or top in sys.stdlib_module_names


@lru_cache(maxsize=1)
def _installed_roots() -> tuple[str, ...]:
    """sys.path entries that hold installed packages (not the stdlib, not the cwd)."""
    stdlib = {os.path.realpath(p) for p in (sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("platstdlib")) if p}
    roots = []
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        if real in stdlib or real.endswith(".zip") or "lib-dynload" in real:
            continue
        roots.append(entry)
    return tuple(roots)


def module_identity(path: str) -> tuple[str, str, bool]:
    """(absolute dotted name, source root, is a package) of a file, from its ``__init__.py`` chain."""
    p = Path(os.path.abspath(path))
    is_package = p.name == "__init__.py"
    parts = [] if is_package else [p.stem]
    d = p.parent
    while (d / "__init__.py").is_file():
        parts.insert(0, d.name)
        if d.parent == d:
            break
        d = d.parent
    return ".".join(parts) or p.stem, str(d), is_package


def _find_in(root: str, name: str) -> str | None:
    base = Path(root, *name.split("."))
    init = base / "__init__.py"
    if init.is_file():
        return str(init)
    module = base.with_suffix(".py")
    if module.is_file():
        return str(module)
    return None


def resolve_relative(package: str, module: str | None, level: int) -> str | None:
    """``from ..ops.misc import X`` inside package ``torchvision.models`` -> ``torchvision.ops.misc``."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None


class Finder:
    """Maps absolute module names to source files, for one run."""

    def __init__(self, extra_roots: tuple[str, ...] = (), use_installed: bool = True) -> None:
        self.extra_roots = extra_roots
        self.use_installed = use_installed  # False: as in an isolated environment (tests)
        self._cache: dict[tuple[str, str], str | None] = {}

    def find(self, name: str, importer_root: str) -> str | None:
        key = (name, importer_root)
        if key not in self._cache:
            self._cache[key] = self._find(name, importer_root)
        return self._cache[key]

    def _find(self, name: str, importer_root: str) -> str | None:
        if is_modelled(name):
            return None
        for root in (importer_root, *self.extra_roots, *(_installed_roots() if self.use_installed else ())):
            found = _find_in(root, name)
            if found:
                return found
        return _find_in(str(STUBS), name)

    def is_absent(self, name: str, importer_root: str) -> bool:
        """Whether importing ``name`` would fail here: a third-party package found in no
        root, whose top-level name the environment rflint runs in cannot find either
        (``try: from inplace_abn import InPlaceABN / except ImportError: InPlaceABN = None``).
        Never True in an isolated finder (tests), which cannot tell."""
        top = name.split(".", 1)[0]
        if not self.use_installed or is_modelled(top) or self.find(top, importer_root) is not None:
            return False
        return not environment_has(top)


@lru_cache(maxsize=256)
def environment_has(top: str) -> bool:
    """A top-level module the running interpreter can find (``find_spec`` on a top-level
    name locates it without importing anything): compiled and namespace packages too."""
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


_PARSED: dict[str, tuple[str, ast.Module]] = {}
_PARSED_LIMIT = 512


def parse_text(path: str, text: str) -> ast.Module:
    """Parse, reusing the tree when this path was parsed with the same text before
    (a checked file that another checked file imports is parsed once). Raises SyntaxError."""
    cached = _PARSED.get(path)
    if cached is not None and cached[0] == text:
        return cached[1]
    tree = ast.parse(text, filename=path)
    if len(_PARSED) >= _PARSED_LIMIT:
        _PARSED.pop(next(iter(_PARSED)))
    _PARSED[os.path.abspath(path)] = (text, tree)
    return tree


def parse_file(path: str) -> tuple[ast.Module, str] | None:
    """Parse a module rflint resolved an import to; None when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
        return parse_text(os.path.abspath(path), text), text
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None
