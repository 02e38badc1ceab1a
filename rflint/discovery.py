"""Which files ``rflint check PATH...`` reads.

Explicit files are always read (the caller picks the reader by suffix).
Directories are walked for model source (``*.py``) and layer specs
(``*.rflint.yaml``/``.yml``/``.json``), skipping what a linter run on a
project should never read: hidden directories, caches, installed packages
and virtual environments (DESIGN.md: "Installed packages ... are never linted
by a directory walk"), the configuration's ``exclude`` globs, and, by
default, whatever ``.gitignore`` files ignore. Explicitly named directories
are walked even when a pattern would exclude them, as ruff does without
``--force-exclude``.

Standard library only: this runs on every pre-commit invocation.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .config import Config

__all__ = ["SOURCE_SUFFIXES", "SKIPPED_DIRS", "GitIgnore", "compile_glob", "iter_files", "is_source_file"]

SOURCE_SUFFIXES = (".py", ".rflint.yaml", ".rflint.yml", ".rflint.json")
"""File names a directory walk picks up."""

SKIPPED_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages", "node_modules", "venv", ".venv"})
"""Directory names never walked into (hidden directories are skipped too)."""


def is_source_file(name: str) -> bool:
    """Whether a directory walk reads a file of this name."""
    return name.endswith(SOURCE_SUFFIXES)


# --------------------------------------------------------------------------- globs


def _class(pattern: str, i: int) -> tuple[str, int] | None:
    """Translate the bracket expression starting at ``pattern[i] == '['``; None if unclosed.

    A class never matches ``/``: in paths it only ever stands for one character of a name.
    """
    j = i + 1
    negate = j < len(pattern) and pattern[j] in "!^"
    if negate:
        j += 1
    items: list[str] = []
    first = True
    while j < len(pattern) and (pattern[j] != "]" or first):
        c = pattern[j]
        if c == "\\" and j + 1 < len(pattern):
            items.append(re.escape(pattern[j + 1]))
            j += 2
        elif c == "-" and items and j + 1 < len(pattern) and pattern[j + 1] != "]":
            items.append("-")
            j += 1
        else:
            items.append(re.escape(c) if c in "\\^[]-" else c)
            j += 1
        first = False
    if j >= len(pattern):
        return None
    body = "".join(items)
    return (f"[^/{body}]" if negate else f"(?!/)[{body}]"), j + 1


def _translate(pattern: str, *, star_crosses_slash: bool) -> str:
    """A glob as a regular expression over ``/``-separated relative paths.

    ``**`` as a whole path component matches any number of directories
    (``**/x``, ``a/**/b``, ``a/**``); elsewhere it is ``*``. ``?`` is one
    character, ``[...]``/``[!...]`` a class, ``\\`` escapes. With
    ``star_crosses_slash`` (ruff's globs, like globset's default) ``*``
    also matches ``/``; in gitignore files it does not, and ``{a,b}`` is
    literal there but an alternation in ruff's globs.
    """
    star = ".*" if star_crosses_slash else "[^/]*"
    one = "." if star_crosses_slash else "[^/]"
    out: list[str] = []
    i, n = 0, len(pattern)
    depth = 0  # open `{` alternations (ruff-style globs only)
    while i < n:
        c = pattern[i]
        if c == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            if j - i >= 2 and (i == 0 or pattern[i - 1] == "/") and (j == n or pattern[j] == "/"):
                if j == n:
                    # trailing `/**`: everything inside (a bare `**` matches everything)
                    out.append(".*")
                    i = j
                else:
                    # `**/`: zero or more whole directories
                    out.append("(?:.*/)?")
                    i = j + 1
            else:
                out.append(star)
                i = j
        elif c == "?":
            out.append(one)
            i += 1
        elif c == "[":
            translated = _class(pattern, i)
            if translated is None:
                out.append(re.escape(c))
                i += 1
            else:
                out.append(translated[0])
                i = translated[1]
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif star_crosses_slash and c == "{":
            depth += 1
            out.append("(?:")
            i += 1
        elif star_crosses_slash and c == "}" and depth:
            depth -= 1
            out.append(")")
            i += 1
        elif star_crosses_slash and c == "," and depth:
            out.append("|")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    if depth:  # an unclosed `{` is literal after all
        return _translate(pattern.replace("{", "\\{"), star_crosses_slash=star_crosses_slash)
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_glob(pattern: str, *, star_crosses_slash: bool = True) -> re.Pattern[str]:
    """Compile a configuration glob (``exclude``, ``per-file-ignores``) to match a whole
    ``/``-separated path. As in ruff (globset's defaults), ``*`` also crosses ``/``,
    so ``tests/*`` covers nested test directories; ``**/`` matches zero or more directories."""
    return re.compile(_translate(pattern, star_crosses_slash=star_crosses_slash), re.DOTALL)


# --------------------------------------------------------------------------- gitignore


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


class GitIgnore:
    """The patterns of one ``.gitignore`` file, relative to its directory.

    Supports what git documents: comments, ``\\#``/``\\!`` escapes, trailing
    spaces, ``!`` negation (the last matching pattern wins), a trailing ``/``
    for directories only, a ``/`` at the start or in the middle anchoring the
    pattern to this directory (otherwise it matches at any depth), ``*``,
    ``?``, ``[...]`` within one path component, and ``**``.
    """

    def __init__(self, base: str, lines: Iterable[str]) -> None:
        self.base = base
        self.rules: list[_Rule] = []
        for raw in lines:
            rule = self._parse(raw)
            if rule is not None:
                self.rules.append(rule)

    @classmethod
    def from_file(cls, path: str) -> "GitIgnore":
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            text = ""
        return cls(os.path.dirname(path), text.splitlines())

    @staticmethod
    def _parse(raw: str) -> _Rule | None:
        line = raw.rstrip("\n\r")
        if not line or line.startswith("#"):
            return None
        # Trailing spaces are ignored unless escaped with a backslash.
        stripped = line.rstrip(" ")
        if stripped.endswith("\\") and len(stripped) < len(line):
            stripped += " "
        line = stripped
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        dir_only = line.endswith("/") and not line.endswith("\\/")
        line = line.rstrip("/") if dir_only else line
        if not line:
            return None
        anchored = "/" in line
        line = line.lstrip("/") if line.startswith("/") else line
        if not line:
            return None
        body = _translate(line, star_crosses_slash=False)
        if not anchored:
            body = "(?:.*/)?" + body
        return _Rule(re.compile(body, re.DOTALL), negated, dir_only)

    def match(self, rel: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by ``!``) or None (no pattern matches ``rel``)."""
        result: bool | None = None
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.fullmatch(rel):
                result = not rule.negated
        return result


def _ignored(stack: list[GitIgnore], path: str, is_dir: bool) -> bool:
    """Whether the ``.gitignore`` files in ``stack`` (outermost first) ignore ``path``;
    deeper files override shallower ones, and within a file the last match wins."""
    result = False
    for gi in stack:
        if not gi.rules:
            continue
        rel = _rel(path, gi.base)
        if rel is None:
            continue
        verdict = gi.match(rel, is_dir)
        if verdict is not None:
            result = verdict
    return result


# --------------------------------------------------------------------------- walking


class _Walker:
    def __init__(self, config: "Config | None") -> None:
        self.respect_gitignore = True if config is None else bool(config.respect_gitignore)
        self.root = os.path.abspath(config.root) if config is not None else os.getcwd()
        patterns = [] if config is None else [*config.exclude, *config.extend_exclude]
        self.excludes: list[tuple[re.Pattern[str], re.Pattern[str] | None]] = []
        for pattern in patterns:
            body = pattern.removeprefix("./").rstrip("/")
            if not body:
                continue
            # Like ruff: the pattern against the path from the root, and, without a slash,
            # against the bare name too (`exclude = ["build"]` skips every build/).
            self.excludes.append((compile_glob(body.lstrip("/")), compile_glob(body) if "/" not in body else None))
        self.gitignores: dict[str, GitIgnore | None] = {}
        self.errors: list[str] = []

    def _gitignore(self, directory: str, names: Iterable[str] | None = None) -> GitIgnore | None:
        if directory not in self.gitignores:
            present = (".gitignore" in names) if names is not None else os.path.isfile(
                os.path.join(directory, ".gitignore")
            )
            self.gitignores[directory] = (
                GitIgnore.from_file(os.path.join(directory, ".gitignore")) if present else None
            )
        return self.gitignores[directory]

    def _outer_stack(self, directory: str) -> list[GitIgnore]:
        """``.gitignore`` files above a walked directory that still apply to it: up to the
        repository root (the nearest directory holding ``.git``), or, outside a
        repository, up to the configuration root when the directory is below it."""
        if not self.respect_gitignore:
            return []
        ancestors: list[str] = []
        current = directory
        repo_root = None
        while True:
            parent = os.path.dirname(current)
            if os.path.exists(os.path.join(current, ".git")):
                repo_root = current
                break
            if parent == current:
                break
            current = parent
            ancestors.append(current)
        if repo_root is None:
            if not _is_below(directory, self.root):
                return []
            ancestors = [a for a in ancestors if _is_below(a, self.root)]
        stack = [gi for a in reversed(ancestors) if (gi := self._gitignore(a)) is not None]
        return stack

    def _excluded(self, path: str) -> bool:
        if not self.excludes:
            return False
        rel = _rel(path, self.root)
        if rel is None:
            rel = path.replace(os.sep, "/")
        name = os.path.basename(path)
        for full, base in self.excludes:
            if full.fullmatch(rel) or (base is not None and base.fullmatch(name)):
                return True
        return False

    def excluded_with_parents(self, path: str) -> bool:
        """Whether ``path`` or a directory above it (up to the project root) is excluded."""
        here = path
        while True:
            if self._excluded(here):
                return True
            parent = os.path.dirname(here)
            if parent == here or not _is_below(parent, self.root) or parent == self.root:
                return False
            here = parent

    def walk(self, top: str, out: dict[str, Path], shown: Path) -> None:
        """Collect source files below ``top`` (absolute) into ``out``; ``shown`` is ``top``
        as the user spelled it, so results keep the user's (relative) spelling."""
        stack = self._outer_stack(top)
        self._walk_dir(top, shown, stack, out, is_root=True)

    def _walk_dir(self, directory: str, shown: Path, stack: list[GitIgnore], out: dict[str, Path], is_root: bool) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.errors.append(f"{shown}: {exc.strerror or exc}")
            return
        names = [e.name for e in entries]
        if not is_root and "pyvenv.cfg" in names:
            return  # a virtual environment, whatever its name
        if self.respect_gitignore:
            gi = self._gitignore(directory, names)
            if gi is not None:
                stack = [*stack, gi]
        for entry in entries:
            path = os.path.join(directory, entry.name)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
                    continue
                if self._excluded(path) or (stack and _ignored(stack, path, True)):
                    continue
                self._walk_dir(path, shown / entry.name, stack, out, is_root=False)
                continue
            if not is_source_file(entry.name):
                continue
            try:
                if not entry.is_file():  # follows symlinks: a link to a file counts, a broken one not
                    continue
            except OSError:
                continue
            if self._excluded(path) or (stack and _ignored(stack, path, False)):
                continue
            out.setdefault(os.path.normpath(path), shown / entry.name)


def _rel(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` with ``/`` separators (both absolute and normalised),
    or None when it is not below it. String slicing: this runs for every walked entry."""
    if base.endswith(os.sep):  # the filesystem root
        prefix = base
    else:
        prefix = base + os.sep
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix) :]
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


def _is_below(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


def iter_files(paths: list[Path], config: "Config | None" = None) -> tuple[list[Path], list[str]]:
    """The files to check for ``paths``, and one error message per path that does not exist.

    Explicit files are always included, whatever their suffix and whatever
    would exclude them. Directories are walked (see the module docstring).
    The result is sorted, without duplicates, and keeps the user's spelling
    of the paths (relative stays relative).
    """
    walker = _Walker(config)
    found: dict[str, Path] = {}
    for given in paths:
        given = Path(given)
        absolute = os.path.normpath(os.path.abspath(given))
        if os.path.isdir(absolute):
            walker.walk(absolute, found, given)
        elif os.path.exists(absolute):
            if config is not None and config.force_exclude and walker.excluded_with_parents(absolute):
                continue  # pre-commit names every staged file: force-exclude keeps excludes working
            found.setdefault(absolute, given)
        else:
            walker.errors.append(f"{given}: No such file or directory")
    return sorted(found.values(), key=lambda p: (p.parts, str(p))), walker.errors
