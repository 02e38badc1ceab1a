"""Configuration: ``[tool.rflint]`` in pyproject.toml, or a standalone ``rflint.toml``.

The schema is strict pydantic v2 models with ruff's hyphenated key names, so
a misspelt or misplaced key is an error that names the file and the key, not
something silently ignored. Everything the rules read leaves this module as
plain frozen data (:class:`rflint.settings.ModelSettings`), so the rules and
the analysis never depend on pydantic.

Rule selection follows ruff: ``select`` replaces the default set,
``extend-select`` adds to it, ``ignore`` removes from it; selectors are
``ALL``, a family (``CB``), a prefix (``CB1``) or a code (``CB102``), and when
a code is matched by both a selector and an ignore, the more specific one
wins (on a tie, ``ignore`` wins). ``per-file-ignores`` then removes codes
for matching files regardless of selection.

Validation lives in :mod:`rflint.config_schema` (pydantic), imported only when
a configuration file's validated form is not cached yet, or when command-line
values need checking. This module is plain Python: a run served from the result
cache imports no pydantic. The validated form of a file is cached under
``.rflint_cache`` keyed by the file's bytes and rflint's code, like results.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .settings import ModelSettings

__all__ = [
    "CONFIG_FILENAMES",
    "FAMILIES",
    "Config",
    "ConfigError",
    "ModelEntry",
    "find_config",
    "load_config",
]

CONFIG_FILENAMES = ("rflint.toml", "pyproject.toml")
"""Looked for in this order in each directory: the first that applies wins."""

FAMILIES = ("RF", "AA", "CB", "PD", "DL", "ST", "NM", "CC", "RL")
"""Rule families. A selector with another prefix is a mistake (often a ruff code pasted in)."""

TASKS = ("classification", "detection", "segmentation", "dense", "keypoints", "regression")

_SELECTOR_RE = re.compile(r"^(?:ALL|[A-Z]{2}[0-9]{0,3})$")
_CODE_RE = re.compile(r"^[A-Z]{2}[0-9]{3}$")
_ENTRY_RE = re.compile(
    r"^(?P<file>[^:]+?)::(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"(?P<args>\(.*\))?$",
    re.DOTALL,
)
_MAX_SPATIAL_AXES = 3


class ConfigError(Exception):
    """Bad configuration. The message is ready to print: one line per problem, each
    naming the file and the key path (the CLI prints it and exits with code 2)."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)


# --------------------------------------------------------------------------- selectors


def selector_problem(value: object) -> str | None:
    """What is wrong with a rule selector (ruff's spellings: ``ALL``, ``CB``, ``CB1``,
    ``CB102``), or None. Shared by the schema and the command-line flags."""
    if not isinstance(value, str):
        return "Input should be a string such as 'CB102'"
    if not _SELECTOR_RE.match(value) and re.fullmatch(r"[A-Z]+[0-9]*", value):
        return f"'{value}' is not an rflint rule selector: families are {', '.join(FAMILIES)}"
    if not _SELECTOR_RE.match(value):
        hint = f" (did you mean '{value.upper()}'?)" if _SELECTOR_RE.match(value.upper()) else ""
        return (f"'{value}' is not a rule selector: expected ALL, a family such as 'CB', "
                f"a prefix such as 'CB1' or a code such as 'CB102'{hint}")
    if value != "ALL" and value[:2] not in FAMILIES:
        return f"'{value}' is not an rflint rule selector: families are {', '.join(FAMILIES)}"
    return None


def code_problem(value: str) -> str | None:
    """What is wrong with a full rule code (``AA101``: per-rule option tables name one
    rule, not a prefix), or None."""
    if not _CODE_RE.match(value):
        hint = f" (did you mean '{value.upper()}'?)" if _CODE_RE.match(value.upper()) else ""
        return f"'{value}' is not a rule code such as 'AA101'{hint}"
    if value[:2] not in FAMILIES:
        return f"'{value}' is not an rflint rule code: families are {', '.join(FAMILIES)}"
    return None


def _hyphenate(name: str) -> str:
    return name.replace("_", "-")


# --------------------------------------------------------------------------- the validated configuration


@dataclass(frozen=True)
class ModelEntry:
    """A model the configuration names: ``entry = "nets/unet.py::UNet(depth=5)"`` and its settings.

    ``file`` is relative to the configuration's directory; ``args`` (with the
    parentheses, or '') is left for the API to evaluate like call arguments.
    """

    entry: str
    input_size: tuple[int, ...] | None = None
    object_size: tuple[int, int] | None = None
    output_object_size: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    task: str | None = None
    batch_size: int | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> "ModelEntry":
        """From validated (or cached, JSON-shaped) data."""
        return cls(
            entry=data["entry"], input_size=_tuple(data.get("input_size")), object_size=_tuple(data.get("object_size")),
            output_object_size={k: _tuple(v) for k, v in (data.get("output_object_size") or {}).items()},
            task=data.get("task"), batch_size=data.get("batch_size"),
        )

    @property
    def file(self) -> str:
        return _ENTRY_RE.match(self.entry).group("file")  # type: ignore[union-attr]

    @property
    def name(self) -> str:
        return _ENTRY_RE.match(self.entry).group("name")  # type: ignore[union-attr]

    @property
    def args(self) -> str:
        return _ENTRY_RE.match(self.entry).group("args") or ""  # type: ignore[union-attr]

    def table(self) -> dict[str, Any]:
        """As written in TOML (hyphenated keys, lists), without the keys left unset."""
        out: dict[str, Any] = {"entry": self.entry}
        for key in ("input_size", "object_size", "task", "batch_size"):
            value = getattr(self, key)
            if value is not None:
                out[_hyphenate(key)] = list(value) if isinstance(value, tuple) else value
        if self.output_object_size:
            out["output-object-size"] = {k: list(v) for k, v in self.output_object_size.items()}
        return out

    def settings(self, base: ModelSettings) -> ModelSettings:
        """The project settings with this model's own keys on top."""
        return base.merged(
            input_size=self.input_size, object_size=self.object_size, task=self.task, batch_size=self.batch_size,
            output_object_size=self.output_object_size or None,
        )


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


_DEFAULTS: dict[str, Any] = {
    "select": None, "extend_select": [], "ignore": [], "per_file_ignores": {}, "exclude": [], "extend_exclude": [],
    "respect_gitignore": True, "src": [], "input_size": None, "object_size": None, "output_object_size": {},
    "task": None, "batch_size": None, "models": [], "rules": {}, "fail_on": "info", "max_file_size": 1 << 20,
    "force_exclude": False,
}
"""Every key's default, by field name (the schema in config_schema.py has the same)."""


@dataclass(frozen=True)
class _Layer:
    """One level of rule selection (the file, then command-line flags), as in ruff."""

    select: tuple[str, ...] | None
    extend_select: tuple[str, ...]
    ignore: tuple[str, ...]


def _specificity(selector: str) -> int:
    return 0 if selector == "ALL" else len(selector)


def _best(selectors: Sequence[str], code: str) -> int:
    """Specificity of the most specific selector matching ``code``; -1 when none does."""
    best = -1
    for sel in selectors:
        if sel == "ALL" or code.startswith(sel):
            best = max(best, _specificity(sel))
    return best


def _codes_match(selectors: Sequence[str], code: str) -> bool:
    return any(sel == "ALL" or code.startswith(sel) for sel in selectors)


class Config:
    """The whole ``[tool.rflint]`` table (or ``rflint.toml``), validated; plain data.

    ``root`` is the directory of the file it came from (or the working
    directory when there is none); paths and globs in it are relative to that.
    Build one with :func:`load_config` or :func:`default_config` (``Config()`` is
    the defaults), never from unvalidated data.
    """

    select: list[str] | None
    extend_select: list[str]
    ignore: list[str]
    per_file_ignores: dict[str, list[str]]
    exclude: list[str]
    extend_exclude: list[str]
    respect_gitignore: bool
    src: list[str]  # extra source roots imports are looked up in (ruff's ``src``)
    input_size: tuple[int, ...] | None
    object_size: tuple[int, int] | None
    output_object_size: dict[str, tuple[int, int]]  # per output: detector heads
    task: str | None
    batch_size: int | None
    models: list[ModelEntry]
    rules: dict[str, dict[str, Any]]
    fail_on: str  # the least severe finding that fails the run
    max_file_size: int  # bytes: a larger source or spec file is skipped with a finding (its parse alone would take GBs)
    force_exclude: bool  # exclude files named explicitly too (pre-commit names every file), as ruff's

    def __init__(self, data: Mapping[str, Any] | None = None, *, path: Path | None = None, root: Path | None = None,
                 cli: tuple[_Layer, ...] = ()) -> None:
        values = {k: v.copy() if isinstance(v, (list, dict)) else v for k, v in _DEFAULTS.items()} | dict(data or {})
        self._data = values
        for key in _DEFAULTS:
            setattr(self, key, values[key])
        self.input_size = _tuple(values["input_size"])
        self.object_size = _tuple(values["object_size"])
        self.output_object_size = {k: _tuple(v) for k, v in values["output_object_size"].items()}
        self.models = [m if isinstance(m, ModelEntry) else ModelEntry.parse(m) for m in values["models"]]
        self._path = path
        # Snapshot the working directory now, so that a later chdir does not move the root.
        self._root = root if root is not None else Path.cwd()
        self._cli = cli
        self._selected: dict[str, bool] = {}
        self._pfi: list[tuple[re.Pattern[str], re.Pattern[str] | None, bool, tuple[str, ...], re.Pattern[str] | None]] | None = None
        self._pfi_cache: dict[tuple[str, str | None], tuple[tuple[str, ...], ...]] = {}

    def table(self, defaults: bool = False) -> dict[str, Any]:
        """The configuration as TOML would hold it (hyphenated keys, lists); without the
        keys left at their defaults unless ``defaults``."""
        out: dict[str, Any] = {}
        for key, default in _DEFAULTS.items():
            value = getattr(self, key)
            if value == default and not defaults:
                continue
            if key == "models":
                value = [m.table() for m in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif key == "output_object_size":
                value = {k: list(v) for k, v in value.items()}
            out[_hyphenate(key)] = value
        return out

    # ----------------------------------------------------------------- where it came from

    @property
    def path(self) -> Path | None:
        """The file this configuration was read from, or None for the defaults."""
        return self._path

    def source_roots(self) -> tuple[str, ...]:
        """``src`` entries as absolute directories (relative ones are relative to :attr:`root`)."""
        return tuple(str((self.root / p).resolve()) for p in self.src)

    @property
    def root(self) -> Path:
        """The directory globs, ``exclude`` and model entries are relative to."""
        return self._root

    # ----------------------------------------------------------------- what the rules read

    def settings(self) -> ModelSettings:
        """Project-wide model settings, as plain frozen data for the rules."""
        return ModelSettings(
            input_size=self.input_size,
            object_size=self.object_size,
            output_object_size=dict(self.output_object_size),
            task=self.task,
            batch_size=self.batch_size,
            rule_options={code: dict(opts) for code, opts in self.rules.items()},
        )

    # ----------------------------------------------------------------- rule selection

    def _layers(self) -> tuple[_Layer, ...]:
        base = _Layer(
            tuple(self.select) if self.select is not None else None, tuple(self.extend_select), tuple(self.ignore)
        )
        return (base, *self._cli)

    def _selected_by_flags(self, code: str, default_enabled: bool) -> bool:
        key = f"{code}:{int(default_enabled)}"
        hit = self._selected.get(key)
        if hit is not None:
            return hit
        enabled = default_enabled
        for layer in self._layers():
            on = _best((layer.select or ()) + layer.extend_select, code)
            off = _best(layer.ignore, code)
            if layer.select is not None:
                enabled = False  # `select` replaces whatever the level below chose
            if on > off:
                enabled = True
            elif off >= 0:
                enabled = False  # equally specific: ignore wins, as in ruff
        self._selected[key] = enabled
        return enabled

    def _compiled_per_file_ignores(self) -> list[tuple[re.Pattern[str], re.Pattern[str] | None, bool, tuple[str, ...], re.Pattern[str] | None]]:
        if self._pfi is None:
            from .discovery import compile_glob

            compiled = []
            for pattern, codes in self.per_file_ignores.items():
                negated = pattern.startswith("!")
                body = pattern[1:] if negated else pattern
                body, _, node = body.removeprefix("./").partition("::")
                full = compile_glob(body)
                # A pattern without a slash also matches the bare file name anywhere (ruff).
                base = compile_glob(body) if "/" not in body else None
                nodes = re.compile(fnmatch.translate(node)) if node else None
                compiled.append((full, base, negated, tuple(codes), nodes))
            self._pfi = compiled
        return self._pfi

    def ignored_for(self, path: str | os.PathLike[str], node: str | None = None) -> tuple[tuple[str, ...], ...]:
        """The per-file-ignores selector lists that apply to ``path`` (and, for a finding
        on a node of an exported model, to that node: ``"model.onnx::/head/*"``; a
        pattern with a node part never applies to a finding without a node)."""
        key = (os.fspath(path), node)
        hit = self._pfi_cache.get(key)
        if hit is not None:
            return hit
        rel = self.relative(key[0])
        name = rel.rsplit("/", 1)[-1]
        found = []
        for full, base, negated, codes, nodes in self._compiled_per_file_ignores():
            matched = bool(full.fullmatch(rel)) or bool(base is not None and base.fullmatch(name))
            if nodes is not None:
                matched = matched and node is not None and bool(nodes.fullmatch(node))
            if matched != negated:
                found.append(codes)
        result = tuple(found)
        self._pfi_cache[key] = result
        return result

    def is_enabled(self, code: str, path: str | os.PathLike[str] | None, default_enabled: bool,
                   node: str | None = None) -> bool:
        """Whether ``code`` is reported for ``path``: selection (ruff's precedence), then
        per-file-ignores. ``default_enabled`` is the rule's own default, which applies
        when no selector says otherwise. ``path=None`` asks about selection only.
        ``node`` names the exported-model node a finding is on (ONNX, ``.pt2``)."""
        if not self._selected_by_flags(code, default_enabled):
            return False
        if path is None or not self.per_file_ignores:
            return True
        return not any(_codes_match(codes, code) for codes in self.ignored_for(path, node))

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` relative to :attr:`root` with ``/`` separators, or absolute when outside it."""
        absolute = os.path.abspath(os.fspath(path))
        root = str(self.root)
        try:
            if os.path.commonpath([absolute, root]) == root:
                return Path(os.path.relpath(absolute, root)).as_posix()
        except ValueError:  # different drives on Windows
            pass
        return Path(absolute).as_posix()

    # ----------------------------------------------------------------- command-line overrides

    def with_overrides(
        self,
        *,
        select: Sequence[str] | None = None,
        extend_select: Sequence[str] = (),
        ignore: Sequence[str] = (),
        **keys: Any,
    ) -> "Config":
        """A copy with command-line flags applied on top, as ruff does: ``select`` given
        on the command line replaces the file's selection, ``extend-select`` and ``ignore``
        adjust it. Other keyword arguments (``input_size=...``, ``exclude=[...]``) are
        values for the keys of the same name, validated as if they were in the file.

        Raises :class:`ConfigError` naming the flag (``--select: ...``) on a bad value.
        """
        problems: list[str] = []
        for flag, values in (("--select", select or ()), ("--extend-select", extend_select), ("--ignore", ignore)):
            for value in values:
                problem = selector_problem(value)
                if problem is not None:
                    problems.append(f"{flag}: {problem}")
        data = self._data
        if keys.get("extend_exclude"):  # the command line adds to the file's
            keys["extend_exclude"] = [*self.extend_exclude, *keys["extend_exclude"]]
        if keys.get("per_file_ignores"):
            keys["per_file_ignores"] = {**self.per_file_ignores, **keys["per_file_ignores"]}
        if keys:
            from .config_schema import validate_overrides

            table = self.table()
            table.update({_hyphenate(k): v for k, v in keys.items() if v is not None})
            data, more = validate_overrides(table)
            problems.extend(more)
        if problems:
            raise ConfigError("\n".join(problems), problems)
        layer = _Layer(tuple(select) if select is not None else None, tuple(extend_select), tuple(ignore))
        cli = (*self._cli, layer) if (select is not None or extend_select or ignore) else self._cli
        return Config(data, path=self._path, root=self._root, cli=cli)

    def unknown_codes(self, known: Sequence[str]) -> list[str]:
        """Messages for selectors that match no registered rule (``CB999``), naming the key.

        Kept apart from validation so that loading a configuration does not
        import the rules; the API calls this once it has the registry.
        """
        known_set = list(known)
        where = self._where()
        found: list[str] = []

        def check(key: str, values: Sequence[str], what: str = "rule selector", where: str = where) -> None:
            for value in values:
                if value != "ALL" and not any(code.startswith(value) for code in known_set):
                    close = difflib.get_close_matches(value, known_set, n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    found.append(f"{where}{key}: unknown {what} '{value}'{hint}")

        check("select", self.select or ())
        check("extend-select", self.extend_select)
        check("ignore", self.ignore)
        for pattern, codes in self.per_file_ignores.items():
            check(f"per-file-ignores.{_toml_key(pattern)}", codes)
        for code in self.rules:
            check(f"rules.{code}", [code], "rule code")
        for layer in self._cli:  # command-line flags name themselves
            check("--select", layer.select or (), where="")
            check("--extend-select", layer.extend_select, where="")
            check("--ignore", layer.ignore, where="")
        return found

    def where(self) -> str:
        """The prefix of a problem in this configuration: its file, and the table in a pyproject."""
        return self._where()

    def _where(self) -> str:
        if self._path is None:
            return ""
        prefix = "[tool.rflint] " if self._path.name == "pyproject.toml" else ""
        return f"{_display(self._path)}: {prefix}"

    def fingerprint(self) -> str:
        """A stable hash of everything that can change results, for the result cache."""
        payload = {
            "config": self.table(defaults=True),
            "root": str(self.root),
            "cli": [[l.select, l.extend_select, l.ignore] for l in self._cli],
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()




# --------------------------------------------------------------------------- finding and loading


def _pyproject_has_table(path: Path) -> bool:
    """Whether a pyproject.toml is ours. A broken one counts only if it mentions rflint,
    so that load_config reports its syntax error rather than rflint silently using
    a configuration further up."""
    try:
        text = path.read_bytes()
    except OSError:
        return False
    if b"rflint" not in text:
        return False  # fast path: most pyproject.toml files are not ours
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return True
    tool = data.get("tool")
    return isinstance(tool, dict) and "rflint" in tool


def find_config(start: Path, memo: dict[Path, Path | None] | None = None) -> Path | None:
    """The configuration that applies to ``start`` (a file or directory): walking up,
    the first directory with an ``rflint.toml``, or a ``pyproject.toml`` that has a
    ``[tool.rflint]`` table, wins ("nearest file wins", as in ruff). ``memo`` keeps
    the answer per directory across the calls of one run (one walk per directory,
    not per file)."""
    here = Path(os.path.abspath(start))
    if not here.is_dir():
        here = here.parent
    visited: list[Path] = []
    found: Path | None = None
    for directory in (here, *here.parents):
        if memo is not None and directory in memo:
            found = memo[directory]
            break
        visited.append(directory)
        candidate = directory / "rflint.toml"
        if candidate.is_file():
            found = candidate
            break
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and _pyproject_has_table(candidate):
            found = candidate
            break
    if memo is not None:
        memo.update(dict.fromkeys(visited, found))
    return found


def load_config(path: Path, cache: bool = True) -> Config:
    """Read and validate one configuration file.

    Raises :class:`ConfigError` (never a pydantic error) for a TOML syntax
    error, an unknown key (with a did-you-mean suggestion) or a bad value,
    naming the file and the key path of each problem. With ``cache``, the
    validated form is kept beside the result cache, keyed by the file's bytes
    and rflint's code, so that an unchanged file is not validated again.
    """
    path = Path(path)
    root = Path(os.path.abspath(path)).parent
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{_display(path)}: cannot read: {exc.strerror or exc}") from None
    store = _ValidatedStore(root, path, raw) if cache else None
    data = store.get() if store is not None else None
    if data is None:
        data = _validate_file(path, raw)
        if store is not None:
            store.put(data)
    return Config(data, path=path, root=root)


def _validate_file(path: Path, raw: bytes) -> dict[str, Any]:
    from .config_schema import validate_table

    display = _display(path)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{display}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{display}: not UTF-8 text: {exc.reason}") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("rflint", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise ConfigError(f"{display}: [tool.rflint] should be a table")
        prefix = "[tool.rflint] "
    else:
        table, prefix = data, ""
    return validate_table(table, f"{display}: {prefix}")


class _ValidatedStore:
    """A validated configuration as JSON under ``.rflint_cache``; any failure is a miss.
    Sealed with the user's secret, like the result cache: a repository could ship a
    crafted cache directory."""

    def __init__(self, root: Path, path: Path, raw: bytes) -> None:
        from . import __version__
        from .cache import CACHE_DIR, code_fingerprint

        digest = hashlib.sha256(b"\0".join([code_fingerprint().encode(), os.fsencode(path.name), raw])).hexdigest()
        self.file = root / CACHE_DIR / __version__ / "config" / f"{digest}.json"

    def get(self) -> dict[str, Any] | None:
        from .cache import unseal

        try:
            with open(self.file, encoding="utf-8") as fh:
                body = unseal(fh.read(1 << 20))
            data = json.loads(body) if body is not None else None
            return data if isinstance(data, dict) and set(data) == set(_DEFAULTS) else None
        except (OSError, ValueError):
            return None

    def put(self, data: dict[str, Any]) -> None:
        from .cache import seal, write_entry

        try:
            text = seal(json.dumps(data))
            if text is not None:
                write_entry(self.file.parents[2], self.file, text)
        except (OSError, TypeError, ValueError):
            pass


def default_config(root: Path | None = None) -> Config:
    """The configuration used when no file is found: every default, rooted at ``root`` (cwd)."""
    return Config(root=Path(os.path.abspath(root)) if root is not None else None)


# --------------------------------------------------------------------------- paths and keys


def _display(path: Path) -> str:
    """The path as the user would type it: relative to cwd when below it."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    try:
        if os.path.commonpath([absolute, cwd]) == cwd:
            return os.path.relpath(absolute, cwd)
    except ValueError:
        pass
    return absolute


def _toml_key(key: object) -> str:
    """A key as it would be written in TOML: bare when it can be, quoted otherwise."""
    text = str(key)
    if re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return text
    return json.dumps(text)


def _toml_key(key: object) -> str:
    """A key as it would be written in TOML: bare when it can be, quoted otherwise."""
    text = str(key)
    if re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return text
    return json.dumps(text)
