"""Configuration: ``[tool.rflint]`` in pyproject.toml, or a standalone ``rflint.toml``.

The models are strict pydantic v2 models with ruff's hyphenated key names, so
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
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Sequence

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

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

Task = Literal["classification", "detection", "segmentation", "dense", "keypoints", "regression"]

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


# --------------------------------------------------------------------------- value checks


def _check_selector(value: str) -> str:
    """A rule selector as ruff spells them: ``ALL``, ``CB``, ``CB1``, ``CB102``."""
    if not isinstance(value, str):
        raise PydanticCustomError("rule_selector", "Input should be a string such as 'CB102'")
    if not _SELECTOR_RE.match(value) and re.fullmatch(r"[A-Z]+[0-9]*", value):
        raise PydanticCustomError(
            "rule_selector",
            "'{value}' is not an rflint rule selector: families are {families}",
            {"value": value, "families": ", ".join(FAMILIES)},
        )
    if not _SELECTOR_RE.match(value):
        hint = ""
        if _SELECTOR_RE.match(value.upper()):
            hint = f" (did you mean '{value.upper()}'?)"
        raise PydanticCustomError(
            "rule_selector",
            "'{value}' is not a rule selector: expected ALL, a family such as 'CB', "
            "a prefix such as 'CB1' or a code such as 'CB102'{hint}",
            {"value": value, "hint": hint},
        )
    if value != "ALL" and value[:2] not in FAMILIES:
        raise PydanticCustomError(
            "rule_selector",
            "'{value}' is not an rflint rule selector: families are {families}",
            {"value": value, "families": ", ".join(FAMILIES)},
        )
    return value


def _check_code(value: str) -> str:
    """A full rule code (``AA101``): per-rule option tables name one rule, not a prefix."""
    if not _CODE_RE.match(value):
        hint = f" (did you mean '{value.upper()}'?)" if _CODE_RE.match(value.upper()) else ""
        raise PydanticCustomError(
            "rule_code",
            "'{value}' is not a rule code such as 'AA101'{hint}",
            {"value": value, "hint": hint},
        )
    if value[:2] not in FAMILIES:
        raise PydanticCustomError(
            "rule_code",
            "'{value}' is not an rflint rule code: families are {families}",
            {"value": value, "families": ", ".join(FAMILIES)},
        )
    return value


def _is_int(value: object) -> bool:
    # TOML booleans are Python bools, and bool is an int subclass: `input-size = true` is a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def _input_size(value: object) -> tuple[int, ...]:
    """``512`` (every axis) or ``[512, 768]`` (one per spatial axis) -> a tuple."""
    if _is_int(value):
        items: list[object] = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
        if not 1 <= len(items) <= _MAX_SPATIAL_AXES:
            raise PydanticCustomError(
                "input_size",
                "expected 1 to {n} spatial sizes (such as [512, 512]), got {got}; "
                "leave out the batch and channel dimensions",
                {"n": _MAX_SPATIAL_AXES, "got": len(items)},
            )
    else:
        raise PydanticCustomError(
            "input_size",
            "Input should be a valid integer or a list of integers, got {value}",
            {"value": repr(value)},
        )
    for i, item in enumerate(items):
        if not _is_int(item):
            raise PydanticCustomError(
                "input_size", "item {i}: Input should be a valid integer, got {value}", {"i": i, "value": repr(item)}
            )
        if item <= 0:
            raise PydanticCustomError(
                "input_size", "sizes should be positive, got {value}", {"value": item}
            )
    return tuple(items)  # type: ignore[arg-type]


def _object_size(value: object) -> tuple[int, int]:
    """``[16, 320]`` (min, max), ``320`` (max only) or ``"16..320"`` (the pragma's spelling)."""
    if _is_int(value):
        lo, hi = 1, value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*\.\.\s*\d+\s*", value):
        lo, hi = (int(v) for v in value.split(".."))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) for v in value):
        lo, hi = value
    else:
        raise PydanticCustomError(
            "object_size",
            "Input should be [min, max] (two integers) or a single integer (the max), got {value}",
            {"value": repr(value)},
        )
    if lo <= 0 or hi <= 0:  # type: ignore[operator]
        raise PydanticCustomError("object_size", "sizes should be positive, got {value}", {"value": repr(value)})
    if lo > hi:  # type: ignore[operator]
        raise PydanticCustomError(
            "object_size", "min should be at most max, got [{lo}, {hi}]", {"lo": lo, "hi": hi}
        )
    return (lo, hi)  # type: ignore[return-value]


Selector = Annotated[str, AfterValidator(_check_selector)]
RuleCode = Annotated[str, AfterValidator(_check_code)]
InputSize = Annotated[tuple[int, ...], BeforeValidator(_input_size)]
ObjectSize = Annotated[tuple[int, int], BeforeValidator(_object_size)]
PositiveInt = Annotated[int, Field(gt=0)]


def _hyphenate(name: str) -> str:
    return name.replace("_", "-")


class _Model(BaseModel):
    """Strict (TOML is typed: ``"3"`` is not 3), closed (unknown keys are errors), immutable."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=_hyphenate, populate_by_name=False, defer_build=True
    )


class _ModelKeys(_Model):
    """The per-model keys, shared by the top level and each ``[[tool.rflint.models]]``."""

    input_size: InputSize | None = None
    object_size: ObjectSize | None = None
    output_object_size: dict[str, ObjectSize] = Field(default_factory=dict)
    task: Task | None = None
    batch_size: PositiveInt | None = None


class ModelEntry(_ModelKeys):
    """A model the configuration names: ``entry = "nets/unet.py::UNet(depth=5)"`` and its settings.

    ``file`` is relative to the configuration's directory; ``args`` (with the
    parentheses, or '') is left for the API to evaluate like call arguments.
    """

    entry: str

    @field_validator("entry")
    @classmethod
    def _entry_shape(cls, value: str) -> str:
        if not _ENTRY_RE.match(value.strip()):
            raise PydanticCustomError(
                "model_entry",
                "expected 'path/to/file.py::Name' or 'path/to/file.py::Factory(args)', got {value}",
                {"value": repr(value)},
            )
        return value.strip()

    @property
    def file(self) -> str:
        return _ENTRY_RE.match(self.entry).group("file")  # type: ignore[union-attr]

    @property
    def name(self) -> str:
        return _ENTRY_RE.match(self.entry).group("name")  # type: ignore[union-attr]

    @property
    def args(self) -> str:
        return _ENTRY_RE.match(self.entry).group("args") or ""  # type: ignore[union-attr]

    def settings(self, base: ModelSettings) -> ModelSettings:
        """The project settings with this model's own keys on top."""
        return base.merged(
            input_size=self.input_size, object_size=self.object_size, task=self.task, batch_size=self.batch_size,
            output_object_size=self.output_object_size or None,
        )


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


class Config(_Model):
    """The whole ``[tool.rflint]`` table (or ``rflint.toml``), validated.

    ``root`` is the directory of the file it came from (or the working
    directory when there is none); paths and globs in it are relative to that.
    """

    select: list[Selector] | None = None
    extend_select: list[Selector] = Field(default_factory=list)
    ignore: list[Selector] = Field(default_factory=list)
    per_file_ignores: dict[str, list[Selector]] = Field(default_factory=dict)
    exclude: list[str] = Field(default_factory=list)
    extend_exclude: list[str] = Field(default_factory=list)
    respect_gitignore: bool = True
    src: list[str] = Field(default_factory=list)  # extra source roots imports are looked up in (ruff's ``src``)
    input_size: InputSize | None = None
    object_size: ObjectSize | None = None
    output_object_size: dict[str, ObjectSize] = Field(default_factory=dict)  # per output: detector heads
    task: Task | None = None
    batch_size: PositiveInt | None = None
    models: list[ModelEntry] = Field(default_factory=list)
    rules: dict[RuleCode, dict[str, Any]] = Field(default_factory=dict)
    fail_on: Literal["info", "warning", "error"] = "info"  # the least severe finding that fails the run

    _path: Path | None = PrivateAttr(default=None)
    _root: Path | None = PrivateAttr(default=None)
    _cli: tuple[_Layer, ...] = PrivateAttr(default=())
    _selected: dict[str, bool] = PrivateAttr(default_factory=dict)
    _pfi: list[tuple[re.Pattern[str], re.Pattern[str] | None, bool, tuple[str, ...]]] | None = PrivateAttr(
        default=None
    )
    _pfi_cache: dict[tuple[str, str | None], tuple[tuple[str, ...], ...]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        # Snapshot the working directory now, so that a later chdir does not move the root.
        if self._root is None:
            self._root = Path.cwd()

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
        assert self._root is not None
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
                try:
                    _check_selector(value)
                except PydanticCustomError as exc:
                    problems.append(f"{flag}: {exc.message()}")
        update: dict[str, Any] = {}
        if keys:
            data = self.model_dump(by_alias=True, exclude_unset=True)
            data.update({_hyphenate(k): v for k, v in keys.items() if v is not None})
            try:
                update = dict(type(self).model_validate(data))
            except ValidationError as exc:
                problems.extend(
                    f"--{'.'.join(str(p) for p in err['loc'])}: {_error_text(err)}" for err in exc.errors()
                )
        if problems:
            raise ConfigError("\n".join(problems), problems)
        clone = self.model_copy(update=update)
        clone._path, clone._root = self._path, self._root
        layer = _Layer(tuple(select) if select is not None else None, tuple(extend_select), tuple(ignore))
        clone._cli = (*self._cli, layer) if (select is not None or extend_select or ignore) else self._cli
        clone._selected, clone._pfi, clone._pfi_cache = {}, None, {}
        return clone

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

    def _where(self) -> str:
        if self._path is None:
            return ""
        prefix = "[tool.rflint] " if self._path.name == "pyproject.toml" else ""
        return f"{_display(self._path)}: {prefix}"

    def fingerprint(self) -> str:
        """A stable hash of everything that can change results, for the result cache."""
        payload = {
            "config": self.model_dump(mode="json", by_alias=True),
            "root": str(self.root),
            "cli": [[l.select, l.extend_select, l.ignore] for l in self._cli],
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


# --------------------------------------------------------------------------- finding and loading


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_display(path)}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{_display(path)}: not UTF-8 text: {exc.reason}") from None
    except OSError as exc:
        raise ConfigError(f"{_display(path)}: cannot read: {exc.strerror or exc}") from None


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


def find_config(start: Path) -> Path | None:
    """The configuration that applies to ``start`` (a file or directory): walking up,
    the first directory with an ``rflint.toml``, or a ``pyproject.toml`` that has a
    ``[tool.rflint]`` table, wins ("nearest file wins", as in ruff)."""
    here = Path(os.path.abspath(start))
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / "rflint.toml"
        if candidate.is_file():
            return candidate
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and _pyproject_has_table(candidate):
            return candidate
    return None


def load_config(path: Path) -> Config:
    """Read and validate one configuration file.

    Raises :class:`ConfigError` (never a pydantic error) for a TOML syntax
    error, an unknown key (with a did-you-mean suggestion) or a bad value,
    naming the file and the key path of each problem.
    """
    path = Path(path)
    data = _read_toml(path)
    display = _display(path)
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("rflint", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise ConfigError(f"{display}: [tool.rflint] should be a table")
        prefix = "[tool.rflint] "
    else:
        table, prefix = data, ""
    try:
        config = Config.model_validate(table)
    except ValidationError as exc:
        problems = [f"{display}: {prefix}{_describe(err, table)}" for err in exc.errors()]
        raise ConfigError("\n".join(problems), problems) from None
    config._path = path
    config._root = Path(os.path.abspath(path)).parent
    return config


def default_config(root: Path | None = None) -> Config:
    """The configuration used when no file is found: every default, rooted at ``root`` (cwd)."""
    config = Config()
    if root is not None:
        config._root = Path(os.path.abspath(root))
    return config


# --------------------------------------------------------------------------- error messages


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


def _key_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _toml_key(part)
    return out


def _error_text(err: Mapping[str, Any]) -> str:
    # Custom errors carry our full sentence; pydantic's own start with a capital already.
    return str(err["msg"])


def _known_keys(root: dict[str, Any], loc: Sequence[int | str]) -> list[str]:
    """The keys a table at ``loc`` accepts, for did-you-mean suggestions."""
    model: type[BaseModel] = Config
    for part in loc:
        if part == "models":
            model = ModelEntry
        elif isinstance(part, int):
            continue
        else:
            return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _describe(err: Mapping[str, Any], table: dict[str, Any]) -> str:
    """One pydantic error as ``key.path: message``, the way a TOML user reads it."""
    loc = tuple(err["loc"])
    # dict[...] keys validated by a key validator show up as `[key, '[key]']`; drop the marker
    loc = tuple(p for p in loc if not (isinstance(p, str) and p == "[key]"))
    if err["type"] == "extra_forbidden":
        parent, key = loc[:-1], loc[-1]
        known = _known_keys(table, parent)
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        where = f"{_key_path(parent)}: " if parent else ""
        return f"{where}unknown key '{key}'{hint}"
    return f"{_key_path(loc)}: {_error_text(err)}"
