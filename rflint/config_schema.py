"""The configuration's schema: strict pydantic models that validate a ``[tool.rflint]``
table and the command-line values that override it.

Imported only when something has to be validated: a configuration file whose
validated form is not in the cache yet, or command-line values. Everything else
(rule selection, settings, the check path) reads the plain
:class:`rflint.config.Config`, so that a run served from the cache does not pay for
importing pydantic and building these models (about half of a warm run's time).
Errors leave as :class:`rflint.config.ConfigError`, naming the file and key path.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal, Mapping, Sequence

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .config import (
    _ENTRY_RE,
    _MAX_SPATIAL_AXES,
    TASKS,
    ConfigError,
    _toml_key,
    code_problem,
    selector_problem,
)
from .ir import MAX_INPUT_SIZE

# --------------------------------------------------------------------------- value checks


def _check_selector(value: str) -> str:
    """A rule selector as ruff spells them: ``ALL``, ``CB``, ``CB1``, ``CB102``."""
    problem = selector_problem(value)
    if problem is not None:
        raise PydanticCustomError("rule_selector", "{problem}", {"problem": problem})
    return value


def _check_code(value: str) -> str:
    """A full rule code (``AA101``): per-rule option tables name one rule, not a prefix."""
    problem = code_problem(value)
    if problem is not None:
        raise PydanticCustomError("rule_code", "{problem}", {"problem": problem})
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
        if item > MAX_INPUT_SIZE:
            raise PydanticCustomError(
                "input_size", "sizes should be at most {limit}, got {value}", {"limit": f"{MAX_INPUT_SIZE:,}", "value": item}
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
Task = Literal[TASKS]  # type: ignore[valid-type]
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


class ModelEntrySchema(_ModelKeys):
    """A ``[[models]]`` table: ``entry = "nets/unet.py::UNet(depth=5)"`` and its settings."""

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


class ConfigSchema(_Model):
    """The whole ``[tool.rflint]`` table (or ``rflint.toml``)."""

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
    models: list[ModelEntrySchema] = Field(default_factory=list)
    rules: dict[RuleCode, dict[str, Any]] = Field(default_factory=dict)
    fail_on: Literal["info", "warning", "error"] = "info"  # the least severe finding that fails the run
    max_file_size: PositiveInt = 1 << 20  # bytes; larger source and spec files are skipped, said
    force_exclude: bool = False  # exclude applies to files named on the command line too


def validate_table(table: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Validate a configuration table; the result is plain data by field name (tuples for
    sizes), as :class:`rflint.config.Config` takes it. ``where`` prefixes each problem
    (``pyproject.toml: [tool.rflint] ``). Raises ConfigError, never a pydantic error."""
    try:
        return _plain(ConfigSchema.model_validate(table))
    except ValidationError as exc:
        problems = [f"{where}{_describe(err, table)}" for err in exc.errors()]
        raise ConfigError("\n".join(problems), problems) from None


def validate_overrides(table: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Validate a table with command-line values in it: the plain data, or the problems,
    each naming its flag (``--input-size: ...``)."""
    try:
        return _plain(ConfigSchema.model_validate(table)), []
    except ValidationError as exc:
        return {}, [f"--{'.'.join(str(p) for p in err['loc'])}: {_error_text(err)}" for err in exc.errors()]


def _plain(validated: ConfigSchema) -> dict[str, Any]:
    data = {name: getattr(validated, name) for name in ConfigSchema.model_fields}
    data["models"] = [{name: getattr(m, name) for name in ModelEntrySchema.model_fields} for m in validated.models]
    return data


# --------------------------------------------------------------------------- error messages


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
    model: type[BaseModel] = ConfigSchema
    for part in loc:
        if part == "models":
            model = ModelEntrySchema
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
