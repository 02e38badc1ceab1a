"""The YAML/JSON layer-spec reader: lint an architecture by writing it down.

Users of Keras, JAX, MXNet or a paper's table have no PyTorch source for the
static evaluator to read. A spec file lists the layers with their geometry
(kernel, stride, dilation, padding, upsampling ...) and how they are wired;
this module validates it and builds the same Graph IR the other readers
build, so every rule works on it unchanged. The schema is documented in
``docs/spec.md``; ``json_schema()`` returns it for editors.

Design choices, and why:

- The schema is pydantic (v2) models with ``extra="forbid"``: a typo such as
  ``strid: 2`` must be an error, not a silently default stride. Keys are
  written with hyphens (``input-size``), as in ``[tool.rflint]``; the
  underscore spelling is accepted too.
- Values that may be "an int or one per axis" use one validator each, not a
  pydantic union, so that a wrong value gives one clear message instead of
  one per union member.
- Checks that need more than one key (``'same'`` with a stride, a list that
  does not have one entry per axis, ``input`` references) run after the
  schema, with the key path said explicitly.
- Every problem is a ``RL001`` diagnostic at the file and line of the key
  (YAML: from the composed node marks; JSON: from a small token walk over
  the text that ``json`` already accepted), never an exception: a broken
  spec must not stop the other files of a run from being checked.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Annotated, Any, Callable, Iterator, Literal, Union, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WithJsonSchema

from ..diagnostics import Diagnostic, Severity
from ..ir import (
    EndSpatial,
    Global,
    GraphBuilder,
    MAX_INPUT_SIZE,
    Location,
    Merge,
    Op,
    Pads,
    PixelShuffle,
    PixelUnshuffle,
    Pointwise,
    Resample,
    TransposedConv,
    Window,
)
from .base import PARSE_ERROR, ReadModel, ReadResult

SPEC_VERSION = 1
"""The value of ``rflint-spec`` this reader understands."""

INPUT_NAME = "input"
"""The reserved name by which a layer's ``input`` refers to the model input."""

Path = tuple[Union[str, int], ...]

# --------------------------------------------------------------------------- value validators
#
# Each returns the value in a normal form (an int, or a tuple with one entry
# per axis) or raises ValueError with a message that reads well after the key
# path: "layers[3].kernel: must be >= 1, got 0".


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _show(v: Any) -> str:
    """A short rendering of a user value for messages."""
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _int_at_least(v: Any, minimum: int | None) -> int:
    if not _is_int(v):
        raise ValueError(f"expected an integer, got {_show(v)}")
    if minimum is not None and v < minimum:
        raise ValueError(f"must be >= {minimum}, got {v}")
    return int(v)


def _per_axis(minimum: int) -> Callable[[Any], int | tuple[int, ...]]:
    """An int for every axis, or a list with one int per axis."""

    def check(v: Any) -> int | tuple[int, ...]:
        if _is_int(v):
            return _int_at_least(v, minimum)
        if isinstance(v, list) and v and all(_is_int(x) for x in v):
            return tuple(_int_at_least(x, minimum) for x in v)
        raise ValueError(f"expected an integer or a list of integers (one per axis), got {_show(v)}")

    return check


def _padding(minimum: int | None, words: bool) -> Callable[[Any], Any]:
    """Padding: an int, 'same'/'valid' (when ``words``), or per axis an int or a [before, after] pair."""

    def one(x: Any) -> int | tuple[int, int]:
        if _is_int(x):
            return _int_at_least(x, minimum)
        if isinstance(x, list) and len(x) == 2 and all(_is_int(y) for y in x):
            return (_int_at_least(x[0], minimum), _int_at_least(x[1], minimum))
        raise ValueError(f"each axis takes an integer or a [before, after] pair, got {_show(x)}")

    def check(v: Any) -> Any:
        if words and v in ("same", "valid"):
            return v
        if _is_int(v):
            return _int_at_least(v, minimum)
        if isinstance(v, list) and v:
            return tuple(one(x) for x in v)
        allowed = "an integer, 'same', 'valid'" if words else "an integer"
        raise ValueError(f"expected {allowed}, or a list with one entry per axis, got {_show(v)}")

    return check


def _fraction(x: Any) -> Fraction:
    if _is_int(x) or isinstance(x, float):
        f = Fraction(repr(x)) if isinstance(x, float) else Fraction(x)
    elif isinstance(x, str):
        try:
            f = Fraction(x.strip())
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a number or a fraction like '3/2', got {_show(x)}") from None
    else:
        raise ValueError(f"expected a number or a fraction like '3/2', got {_show(x)}")
    if f <= 0:
        raise ValueError(f"must be > 0, got {_show(x)}")
    return f


def _scale(v: Any) -> Fraction | tuple[Fraction, ...]:
    """A positive scale factor (2, 1.5, '3/2'), or one per axis."""
    if isinstance(v, list) and v:
        return tuple(_fraction(x) for x in v)
    return _fraction(v)


def _names(v: Any) -> tuple[str, ...]:
    """A layer name, or a non-empty list of them."""
    if isinstance(v, str) and v:
        return (v,)
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return tuple(v)
    raise ValueError(f"expected a layer name or a list of layer names, got {_show(v)}")


def _object_size(v: Any) -> tuple[int, int]:
    """``[min, max]`` object extent in input pixels (a single int means min = max)."""
    if _is_int(v):
        n = _int_at_least(v, 1)
        return (n, n)
    if isinstance(v, list) and len(v) == 2 and all(_is_int(x) for x in v):
        lo, hi = _int_at_least(v[0], 1), _int_at_least(v[1], 1)
        if lo > hi:
            raise ValueError(f"min {lo} is larger than max {hi}")
        return (lo, hi)
    raise ValueError(f"expected [min, max] in input pixels, got {_show(v)}")


def _one_or_list(item: dict[str, Any], **list_keys: Any) -> dict[str, Any]:
    """JSON Schema for "an item, or a list of items"."""
    return {"anyOf": [item, {"type": "array", "items": item, **list_keys}]}


_INT: dict[str, Any] = {"type": "integer"}
_PAIR: dict[str, Any] = {"type": "array", "items": _INT, "minItems": 2, "maxItems": 2}
_PAD_ITEM: dict[str, Any] = {"anyOf": [_INT, _PAIR]}
_NUMBER: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "string"}]}


def _field(check: Callable[[Any], Any], schema: dict[str, Any]) -> Any:
    """A field type validated by ``check`` alone, with the JSON Schema the docs describe."""
    return Annotated[Any, PlainValidator(check), WithJsonSchema(schema)]


PosAxes = _field(_per_axis(1), {**_one_or_list(_INT, minItems=1), "description": "int >= 1, or one per axis"})
NonNegAxes = _field(_per_axis(0), {**_one_or_list(_INT, minItems=1), "description": "int >= 0, or one per axis"})
PosInt = _field(lambda v: _int_at_least(v, 1), {"type": "integer", "minimum": 1})
Padding = _field(
    _padding(0, words=True),
    {"anyOf": [{"type": "integer", "minimum": 0}, {"enum": ["same", "valid"]}, {"type": "array", "items": _PAD_ITEM}]},
)
PadAmounts = _field(_padding(None, words=False), {**_one_or_list(_PAD_ITEM), "description": "negative amounts crop"})
Scale = _field(_scale, _one_or_list(_NUMBER))
Names = _field(_names, _one_or_list({"type": "string"}))
ObjectSize = _field(_object_size, {"anyOf": [_INT, _PAIR]})

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]

# --------------------------------------------------------------------------- schema


def _hyphenate(name: str) -> str:
    return name.replace("_", "-")


class _Model(BaseModel):
    """Strict and closed: a typo or a quoted number is an error, not a default."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=_hyphenate,
        validate_by_name=True,
        validate_by_alias=True,
        defer_build=True,
    )


class LayerBase(_Model):
    """Keys every layer takes."""

    name: str | None = Field(None, min_length=1, description="unique; how other layers' `input` refer to it")
    input: Names | None = Field(None, description="the layer(s) it reads; default: the previous layer")
    module: str | None = Field(None, min_length=1, description="class name in your framework, shown in messages")


class ConvLayer(LayerBase):
    """A learned convolution (Conv1d/2d/3d)."""

    type: Literal["conv"]
    kernel: PosAxes
    stride: PosAxes = 1
    dilation: PosAxes = 1
    padding: Padding = 0
    padding_mode: PaddingMode | None = None
    in_channels: PosInt | None = None
    out_channels: PosInt | None = None
    channels: PosInt | None = Field(None, description="shorthand for out-channels")
    groups: PosInt | None = None


class ConvTransposeLayer(LayerBase):
    """A transposed convolution (ConvTranspose1d/2d/3d): PyTorch's symmetric integer padding."""

    type: Literal["conv-transpose"]
    kernel: PosAxes
    stride: PosAxes = 1
    dilation: PosAxes = 1
    padding: NonNegAxes = 0
    output_padding: NonNegAxes = 0
    in_channels: PosInt | None = None
    out_channels: PosInt | None = None
    channels: PosInt | None = Field(None, description="shorthand for out-channels")
    groups: PosInt | None = None


class MaxPoolLayer(LayerBase):
    """Max pooling; ``stride`` defaults to ``kernel`` as in PyTorch."""

    type: Literal["max-pool"]
    kernel: PosAxes
    stride: PosAxes | None = None
    dilation: PosAxes = 1
    padding: Padding = 0
    ceil_mode: bool = False


class AvgPoolLayer(LayerBase):
    """Average pooling; ``stride`` defaults to ``kernel`` as in PyTorch."""

    type: Literal["avg-pool"]
    kernel: PosAxes
    stride: PosAxes | None = None
    padding: Padding = 0
    ceil_mode: bool = False


class PadLayer(LayerBase):
    """Explicit padding (negative amounts crop)."""

    type: Literal["pad"]
    padding: PadAmounts
    padding_mode: PaddingMode | Literal["constant"] = "zeros"


class BlurLayer(LayerBase):
    """A fixed low-pass filter (BlurPool): a depthwise conv with a fixed, normalised kernel.

    Padding defaults to BlurPool's ``[(k-1)//2, k//2]`` per axis, reflected.
    """

    type: Literal["blur"]
    kernel: PosAxes = 3
    stride: PosAxes = 1
    padding: Padding | None = None
    padding_mode: PaddingMode = "reflect"
    channels: PosInt | None = None


class UpsampleLayer(LayerBase):
    """Upsample / interpolate by ``scale`` or to ``size`` (exactly one)."""

    type: Literal["upsample"]
    mode: Literal["nearest", "nearest-exact", "linear", "bilinear", "trilinear"] = "nearest"
    scale: Scale | None = None
    size: PosAxes | None = None
    align_corners: bool | None = None


class PixelShuffleLayer(LayerBase):
    """Depth to space by ``factor`` on every spatial axis."""

    type: Literal["pixel-shuffle"]
    factor: PosInt


class PixelUnshuffleLayer(LayerBase):
    """Space to depth by ``factor`` on every spatial axis."""

    type: Literal["pixel-unshuffle"]
    factor: PosInt


class PointwiseLayer(LayerBase):
    """Keeps every position where it is: norms, activations, dropout, 1-channel-mixing ops."""

    type: Literal["norm", "act", "pointwise", "dropout"]
    kind: Literal["batch", "sync-batch", "group", "instance", "layer"] | None = Field(
        None, description="norm only: which normalisation (BatchNorm is what NM rules look for)"
    )
    channels: PosInt | None = None


class GlobalPoolLayer(LayerBase):
    """Global or adaptive pooling: every output depends on the whole input."""

    type: Literal["global-pool"]
    mode: Literal["avg", "max"] = "avg"
    output_size: PosAxes | None = None


class FlattenLayer(LayerBase):
    """Flatten, or a fully connected layer: the spatial frame ends here."""

    type: Literal["flatten", "linear"]
    out_features: PosInt | None = None


class MergeLayer(LayerBase):
    """Elementwise add/mul, or channel concat, of two or more layers (``input`` is a list)."""

    type: Literal["add", "mul", "concat"]


Layer = Annotated[
    Union[
        ConvLayer,
        ConvTransposeLayer,
        MaxPoolLayer,
        AvgPoolLayer,
        PadLayer,
        BlurLayer,
        UpsampleLayer,
        PixelShuffleLayer,
        PixelUnshuffleLayer,
        PointwiseLayer,
        GlobalPoolLayer,
        FlattenLayer,
        MergeLayer,
    ],
    Field(discriminator="type"),
]

LAYER_CLASSES: dict[str, type[LayerBase]] = {
    tag: cls for cls in get_args(get_args(Layer)[0]) for tag in get_args(cls.model_fields["type"].annotation)
}
"""Layer ``type`` -> the model that validates it."""
LAYER_TYPES: tuple[str, ...] = tuple(LAYER_CLASSES)


class Spec(_Model):
    """One model. ``rflint-spec: 1`` marks the file as a spec (and its version)."""

    rflint_spec: Literal[1] = Field(description="spec format version; must be 1")
    name: str | None = Field(None, min_length=1, description="model name; default: the file name")
    ndim: int | None = Field(None, ge=1, le=3, description="spatial axes; default: len(input-size), else 2")
    input_size: PosAxes | None = Field(None, description="input extent in pixels, one value or one per axis")
    in_channels: PosInt | None = Field(None, description="channels of the model input (e.g. 3)")
    object_size: ObjectSize | None = Field(None, description="[min, max] object extent in input pixels")
    task: str | None = Field(None, min_length=1, description="classification, detection, segmentation, dense ...")
    batch_size: PosInt | None = Field(None, description="per-device batch size")
    layers: list[Layer] = Field(min_length=1)
    outputs: Names | None = Field(None, description="names of the output layers; default: the last layer")


def json_schema() -> dict[str, Any]:
    """The spec's JSON Schema (hyphenated keys), for editors' YAML/JSON language servers."""
    return Spec.model_json_schema(by_alias=True)


# --------------------------------------------------------------------------- source positions


@dataclass
class _Document:
    """One parsed document: its data and, per key path, the (line, col) where it is written.

    Paths use the hyphenated spelling of keys, so a lookup does not depend on
    whether the user wrote ``input_size`` or ``input-size``.
    """

    data: Any
    start: tuple[int, int]
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # (path of the repeated key, the first key as written, its line, where the repeat is)
    duplicates: list[tuple[Path, str, int, tuple[int, int]]] = field(default_factory=list)

    def where(self, path: Path) -> tuple[int, int]:
        """The position of the longest prefix of ``path`` that is written in the file."""
        norm = _norm_path(path)
        for cut in range(len(norm), 0, -1):
            pos = self.positions.get(norm[:cut])
            if pos is not None:
                return pos
        return self.start


def _norm_path(path: Path) -> Path:
    return tuple(_hyphenate(p) if isinstance(p, str) else p for p in path)


def _record_key(
    doc: _Document, path: Path, raw_key: str, pos: tuple[int, int], seen: dict[str, tuple[str, int]]
) -> Path:
    """Note where a key is written (or that it repeats one) and return its path."""
    key = _hyphenate(raw_key)
    if key in seen:
        doc.duplicates.append((path + (raw_key,), seen[key][0], seen[key][1], pos))
    else:
        seen[key] = (raw_key, pos[0])
        doc.positions[path + (key,)] = pos
    return path + (key,)


def _walk_yaml(node: yaml.Node, path: Path, doc: _Document, active: set[int]) -> None:
    if id(node) in active:  # a recursive alias: its value is reported by the schema
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, tuple[str, int]] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                continue
            pos = (k.start_mark.line + 1, k.start_mark.column + 1)
            _walk_yaml(v, _record_key(doc, path, str(k.value), pos, seen), doc, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            doc.positions[path + (i,)] = (v.start_mark.line + 1, v.start_mark.column + 1)
            _walk_yaml(v, path + (i,), doc, active)
    active.discard(id(node))


# The pure-Python loader on purpose: libyaml's composer recurses on the C stack
# and crashes the process on deeply nested input ("[" * 100000), where the
# Python one raises RecursionError, which is reported. Specs are small.
_Loader: type = yaml.SafeLoader


MAX_FLOW_DEPTH = 100
"""Deeper ``[``/``{`` nesting is refused before parsing: PyYAML's scanner is
quadratic in it (900 levels take a second), and no spec needs more than a few."""


def _too_deep(text: str) -> int | None:
    """The offset where bracket nesting first exceeds MAX_FLOW_DEPTH (quotes ignored: a cheap bound)."""
    depth = 0
    for m in re.finditer(r"[\[\]{}]", text):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_FLOW_DEPTH:
            return m.start()
    return None


MAX_EXPANDED_NODES = 100_000
"""A document whose aliases expand to more nodes is refused before it is walked or
constructed: 486 bytes of nested aliases (a "billion laughs") expand to 10**9."""


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (each shared node
    counted once per use), computed once per node; capped just above the limit."""
    if id(node) in memo:
        return memo[id(node)]
    if id(node) in active:  # a recursive alias: reported by the schema, not expanded here
        return 1
    active.add(id(node))
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    total = 1
    for child in children:
        total = min(total + _expanded_size(child, memo, active), MAX_EXPANDED_NODES + 1)
    active.discard(id(node))
    memo[id(node)] = total
    return total


class _TooLarge(yaml.YAMLError):
    pass


def _parse_yaml(text: str) -> list[_Document]:
    """Every document of the stream, constructed from the same nodes whose marks give lines."""
    loader = _Loader(text)
    docs: list[_Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if _expanded_size(node, {}, set()) > MAX_EXPANDED_NODES:
                raise _TooLarge(f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values (a spec has a few hundred)")
            doc = _Document(None, (node.start_mark.line + 1, node.start_mark.column + 1))
            # Walk before constructing: construction flattens ``<<: *anchor`` merges
            # into the node, which would make overridden keys look duplicated.
            _walk_yaml(node, (), doc, set())
            doc.data = loader.construct_document(node)
            if doc.data is not None:
                docs.append(doc)
    finally:
        loader.dispose()
    return docs


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.S)


def _parse_json(text: str) -> list[_Document]:
    """``json.loads`` for the values; a token walk over the (now known valid) text for positions."""
    data = json.loads(text)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def pos(offset: int) -> tuple[int, int]:
        line = bisect_right(line_starts, offset)
        return line, offset - line_starts[line - 1] + 1

    tokens = [(m.group(), m.start()) for m in _JSON_TOKEN.finditer(text)]
    doc = _Document(data, pos(tokens[0][1]) if tokens else (1, 1))
    it = iter(tokens)

    def value(tok: tuple[str, int], path: Path) -> None:
        if tok[0] == "{":
            seen: dict[str, tuple[str, int]] = {}
            t = next(it)
            while t[0] != "}":
                if t[0] == ",":
                    t = next(it)
                    continue
                key = json.loads(t[0])
                next(it)  # ':'
                value(next(it), _record_key(doc, path, key, pos(t[1]), seen))
                t = next(it)
        elif tok[0] == "[":
            i = 0
            t = next(it)
            while t[0] != "]":
                if t[0] == ",":
                    t = next(it)
                    continue
                doc.positions[path + (i,)] = pos(t[1])
                value(t, path + (i,))
                i += 1
                t = next(it)

    if tokens:
        value(next(it), ())
    return [doc]


# --------------------------------------------------------------------------- errors


class _Problems:
    """Collects RL001 diagnostics for one file, each at the line of the key it names."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.items: list[Diagnostic] = []

    def add(self, doc: _Document | None, key_path: Path, message: str, line: tuple[int, int] | None = None) -> None:
        where = line or (doc.where(key_path) if doc else (1, 1))
        prefix = _format_path(key_path)
        text = f"{prefix}: {message}" if prefix else message
        self.items.append(
            Diagnostic(PARSE_ERROR, text, Location(self.path, where[0], where[1]), Severity.ERROR)
        )


def _format_path(path: Path) -> str:
    out = ""
    for p in _norm_path(path):
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _a(word: str) -> str:
    """``word`` with its indefinite article: "an add layer", "a conv layer"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _suggest(word: str, choices: Iterator[str] | tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _keys_of(cls: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in cls.model_fields.items()]


def _all_keys() -> list[str]:
    keys = set(_keys_of(Spec))
    for cls in LAYER_CLASSES.values():
        keys.update(_keys_of(cls))
    return sorted(keys)


def _layer_type(data: Any, index: Any) -> str | None:
    layers = data.get("layers") if isinstance(data, dict) else None
    if isinstance(layers, list) and isinstance(index, int) and 0 <= index < len(layers):
        layer = layers[index]
        if isinstance(layer, dict) and isinstance(layer.get("type"), str):
            return layer["type"]
    return None


def _schema_problems(exc: ValidationError, doc: _Document, problems: _Problems) -> None:
    """Turn pydantic's errors into one message per problem, at the key's line.

    A misspelt required key (``kernal: 3``) is both unknown and missing; it is
    reported once, as the unknown key with its suggestion.
    """
    errors = []
    for err in exc.errors(include_url=False):
        loc: list[Any] = list(err["loc"])
        ltype = None
        if len(loc) >= 2 and loc[0] == "layers" and isinstance(loc[1], int):
            ltype = _layer_type(doc.data, loc[1])
            if len(loc) >= 3 and loc[2] == ltype:
                del loc[2]  # the discriminator's branch name, not a key
        errors.append((err, loc, ltype))
    misspelt = {
        (tuple(loc[:-1]), close[0])
        for err, loc, _ in errors
        if err["type"] == "extra_forbidden"
        and (close := difflib.get_close_matches(_hyphenate(str(loc[-1])), _all_keys(), n=1, cutoff=0.6))
    }
    for err, loc, ltype in errors:
        kind = err["type"]
        if kind == "missing" and (tuple(loc[:-1]), _hyphenate(str(loc[-1]))) in misspelt:
            continue
        value = err.get("input")
        if kind == "missing":
            msg = "missing required key" + (f" for {_a(ltype)} layer" if ltype and len(loc) == 3 else "")
            if loc == ["rflint-spec"] or loc == ["rflint_spec"]:
                msg = f"missing key: a spec starts with `rflint-spec: {SPEC_VERSION}`"
        elif kind == "extra_forbidden":
            key = str(loc[-1])
            cls = LAYER_CLASSES.get(ltype or "") if len(loc) == 3 else (Spec if len(loc) == 1 else None)
            allowed = [k for k in _keys_of(cls) if k != "type"] if cls else []
            owner = f"{_a(str(ltype))} layer" if len(loc) == 3 else "the spec"
            msg = f"unknown key {key!r}{_suggest(_hyphenate(key), allowed)}"
            if allowed:
                msg += f"; {owner} takes: {', '.join(allowed)}"
        elif kind == "union_tag_invalid":
            tag = err.get("ctx", {}).get("tag", value)
            loc.append("type")
            msg = f"unknown layer type {tag!r}{_suggest(str(tag), LAYER_TYPES)}; known types: {', '.join(LAYER_TYPES)}"
        elif kind == "union_tag_not_found":
            loc.append("type")
            msg = f"missing key: every layer needs a type, one of {', '.join(LAYER_TYPES)}"
        elif kind in ("model_attributes_type", "model_type", "dict_type"):
            msg = f"expected a mapping of keys, got {_show(value)}"
        elif kind == "literal_error":
            if loc in (["rflint-spec"], ["rflint_spec"]):
                msg = f"unsupported spec version {_show(value)}; this rflint reads version {SPEC_VERSION}"
            else:
                msg = f"must be one of {err.get('ctx', {}).get('expected', '')}, got {_show(value)}"
        elif kind == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
        elif kind == "too_short" and loc == ["layers"]:
            msg = "a spec needs at least one layer"
        else:
            msg = f"{err['msg'][:1].lower()}{err['msg'][1:]}, got {_show(value)}"
        problems.add(doc, tuple(loc), msg)


# --------------------------------------------------------------------------- graph building


class _Invalid(Exception):
    """A layer that cannot be built; already reported."""


class _Build:
    """Turns a validated Spec into a Graph; every check names the key it is about."""

    def __init__(self, spec: Spec, ndim: int, doc: _Document, file: str, problems: _Problems) -> None:
        self.spec, self.ndim, self.doc, self.file, self.problems = spec, ndim, doc, file, problems

    def fail(self, path: Path, message: str) -> _Invalid:
        self.problems.add(self.doc, path, message)
        return _Invalid()

    def loc(self, path: Path) -> Location:
        line, col = self.doc.where(path)
        return Location(self.file, line, col)

    def axes(self, value: Any, path: Path) -> tuple[int, ...]:
        """One value per spatial axis; a list must have exactly ``ndim`` entries."""
        if not isinstance(value, tuple):
            return (value,) * self.ndim
        if len(value) != self.ndim:
            raise self.fail(path, f"has {len(value)} entries but the model has {self.ndim} spatial axes")
        return value

    def pads(
        self, value: Any, path: Path, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
    ) -> Pads:
        """Explicit (before, after) per axis; 'same' as PyTorch resolves it (extra on the far side)."""
        if value == "valid":
            return tuple((0, 0) for _ in range(self.ndim))
        if value == "same":
            if any(s != 1 for s in stride):
                raise self.fail(path, "'same' needs stride 1 (as in PyTorch); write the padding explicitly")
            spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in spans)
        per_axis = self.axes(value, path)
        return tuple(p if isinstance(p, tuple) else (p, p) for p in per_axis)

    # ------------------------------------------------------------------ layers

    def op(self, layer: Any, path: Path) -> tuple[Op, str, dict[str, Any]]:
        """The operator, the type name and the attrs of one layer."""
        n = self.ndim
        attrs: dict[str, Any] = {"spec_type": layer.type}
        for key in ("in_channels", "groups", "padding_mode"):
            if getattr(layer, key, None) is not None:
                attrs[key] = getattr(layer, key)
        out_ch = getattr(layer, "out_channels", None)
        ch = getattr(layer, "channels", None)
        if out_ch is not None and ch is not None:
            raise self.fail(path + ("channels",), "give channels or out-channels, not both")
        if out_ch is None:
            out_ch = ch if ch is not None else getattr(layer, "out_features", None)
        if out_ch is not None:
            attrs["out_channels"] = out_ch

        t = layer.type
        if t == "conv":
            k = self.axes(layer.kernel, path + ("kernel",))
            s = self.axes(layer.stride, path + ("stride",))
            d = self.axes(layer.dilation, path + ("dilation",))
            self.check_groups(layer, path)
            return Window("conv", k, s, d, self.pads(layer.padding, path + ("padding",), k, s, d)), f"Conv{n}d", attrs
        if t == "conv-transpose":
            k = self.axes(layer.kernel, path + ("kernel",))
            s = self.axes(layer.stride, path + ("stride",))
            d = self.axes(layer.dilation, path + ("dilation",))
            p = self.axes(layer.padding, path + ("padding",))
            op_ = self.axes(layer.output_padding, path + ("output-padding",))
            for a in range(n):
                if op_[a] >= max(s[a], d[a]):
                    raise self.fail(
                        path + ("output-padding",),
                        f"must be smaller than stride or dilation (as in PyTorch), got {op_[a]} with stride {s[a]}",
                    )
            self.check_groups(layer, path)
            return TransposedConv(k, s, d, p, op_), f"ConvTranspose{n}d", attrs
        if t in ("max-pool", "avg-pool"):
            k = self.axes(layer.kernel, path + ("kernel",))
            s = self.axes(layer.stride, path + ("stride",)) if layer.stride is not None else k
            d = self.axes(getattr(layer, "dilation", 1), path + ("dilation",))
            if layer.stride is None and layer.padding == "same" and any(kk != 1 for kk in k):
                raise self.fail(
                    path + ("padding",), "'same' needs stride 1, and a pool's stride defaults to its kernel"
                )
            pads = self.pads(layer.padding, path + ("padding",), k, s, d)
            kind = "max_pool" if t == "max-pool" else "avg_pool"
            name = f"MaxPool{n}d" if t == "max-pool" else f"AvgPool{n}d"
            return Window(kind, k, s, d, pads, layer.ceil_mode), name, attrs
        if t == "pad":
            ones = (1,) * n
            pads = self.pads(layer.padding, path + ("padding",), ones, ones, ones)
            mode = layer.padding_mode
            name = {"zeros": "ZeroPad", "constant": "ConstantPad", "reflect": "ReflectionPad",
                    "replicate": "ReplicationPad", "circular": "CircularPad"}[mode] + f"{n}d"
            attrs["padding_mode"] = mode
            return Window("pad", ones, ones, ones, pads), name, attrs
        if t == "blur":
            k = self.axes(layer.kernel, path + ("kernel",))
            s = self.axes(layer.stride, path + ("stride",))
            ones = (1,) * n
            if layer.padding is None:
                pads: Pads = tuple(((kk - 1) // 2, kk // 2) for kk in k)
            else:
                pads = self.pads(layer.padding, path + ("padding",), k, s, ones)
            attrs["blur"] = True
            attrs["padding_mode"] = layer.padding_mode
            if out_ch is not None:
                attrs["in_channels"] = attrs["groups"] = out_ch
            return Window("conv", k, s, ones, pads), "BlurPool", attrs
        if t == "upsample":
            return self.upsample(layer, path), "Upsample", attrs
        if t in ("pixel-shuffle", "pixel-unshuffle"):
            if t == "pixel-shuffle":
                return PixelShuffle(layer.factor, n), "PixelShuffle", attrs
            return PixelUnshuffle(layer.factor, n), "PixelUnshuffle", attrs
        if t in ("norm", "act", "pointwise", "dropout"):
            if layer.kind is not None and t != "norm":
                raise self.fail(path + ("kind",), "only norm layers take a kind")
            names = {"batch": f"BatchNorm{n}d", "sync-batch": "SyncBatchNorm", "group": "GroupNorm",
                     "instance": f"InstanceNorm{n}d", "layer": "LayerNorm"}
            name = names[layer.kind] if layer.kind else ("Dropout" if t == "dropout" else t)
            if layer.kind:
                attrs["norm"] = layer.kind
            return Pointwise(), name, attrs
        if t == "global-pool":
            size = self.axes(layer.output_size, path + ("output-size",)) if layer.output_size is not None else None
            name = ("AdaptiveAvgPool" if layer.mode == "avg" else "AdaptiveMaxPool") + f"{n}d"
            return Global(size), name, attrs
        if t in ("flatten", "linear"):
            if t == "flatten" and layer.out_features is not None:
                raise self.fail(path + ("out-features",), "only linear layers take out-features")
            return EndSpatial(), "Flatten" if t == "flatten" else "Linear", attrs
        if t in ("add", "mul", "concat"):
            return Merge(t), "cat" if t == "concat" else t, attrs
        raise self.fail(path + ("type",), f"unknown layer type {t!r}")  # unreachable: the schema checks it

    def check_groups(self, layer: Any, path: Path) -> None:
        groups = layer.groups
        if groups is None:
            return
        for key in ("in_channels", "out_channels", "channels"):
            value = getattr(layer, key)
            if value is not None and value % groups:
                raise self.fail(path + ("groups",), f"{groups} does not divide {_hyphenate(key)} {value}")

    def upsample(self, layer: UpsampleLayer, path: Path) -> Resample:
        if layer.scale is None and layer.size is None:
            raise self.fail(path, "missing key: an upsample layer needs scale or size")
        if layer.scale is not None and layer.size is not None:
            raise self.fail(path + ("size",), "give scale or size, not both")
        linear = layer.mode in ("linear", "bilinear", "trilinear")
        if layer.align_corners is not None and not linear:
            raise self.fail(path + ("align-corners",), f"only linear modes take align-corners, not {layer.mode!r}")
        mode = "linear" if linear else layer.mode
        if layer.scale is not None:
            scale = self.axes(layer.scale, path + ("scale",))
            return Resample(mode, scale=scale, align_corners=bool(layer.align_corners))
        size = self.axes(layer.size, path + ("size",))
        return Resample(mode, size=size, align_corners=bool(layer.align_corners))

    # ------------------------------------------------------------------ wiring

    def build(self, default_name: str) -> ReadModel | None:
        """The model, or None when any layer, name or reference was reported as wrong."""
        spec = self.spec
        reported = len(self.problems.items)
        first: dict[str, int] = {}
        for i, layer in enumerate(spec.layers):
            if layer.name is None:
                continue
            if layer.name == INPUT_NAME:
                self.fail(("layers", i, "name"), f"{INPUT_NAME!r} is reserved for the model input")
            elif layer.name in first:
                line = self.doc.where(("layers", first[layer.name]))[0]
                j = first[layer.name]
                message = f"duplicate layer name {layer.name!r} (first used by layers[{j}], line {line})"
                self.fail(("layers", i, "name"), message)
            else:
                first[layer.name] = i

        overrides: dict[str, Any] = {}
        try:
            if spec.input_size is not None:
                sizes = tuple(self.axes(spec.input_size, ("input-size",)))
                if any(n > MAX_INPUT_SIZE for n in sizes):
                    self.fail(("input-size",), f"sizes should be at most {MAX_INPUT_SIZE:,}, got {list(sizes)}")
                else:
                    overrides["input_size"] = sizes
        except _Invalid:
            pass
        if spec.object_size is not None:
            overrides["object_size"] = spec.object_size
        if spec.task is not None:
            overrides["task"] = spec.task
        if spec.batch_size is not None:
            overrides["batch_size"] = spec.batch_size

        builder = GraphBuilder()
        in_attrs = {"out_channels": spec.in_channels} if spec.in_channels is not None else {}
        input_id = builder.add(Pointwise(), (), "input", INPUT_NAME, self.loc(()), in_attrs)
        ids: dict[str, int] = {INPUT_NAME: input_id}
        prev, ok = input_id, True
        for i, layer in enumerate(spec.layers):
            path: Path = ("layers", i)
            try:
                inputs = self.inputs(layer, path, ids, first, prev)
                op, type_name, attrs = self.op(layer, path)
            except _Invalid:
                ok = False
                prev = -1
                if layer.name:
                    ids[layer.name] = -1  # reported once; later references do not cascade
                continue
            if any(x < 0 for x in inputs):  # reads a layer that failed: already reported
                ok = False
                prev = -1
                if layer.name:
                    ids[layer.name] = -1
                continue
            if layer.module:
                type_name = layer.module
            name = layer.name or f"layers[{i}]"
            prev = builder.add(op, inputs, type_name, name, self.loc(path), attrs)
            if layer.name:
                ids[layer.name] = prev
        outputs = self.outputs(ids, first, prev)
        if not ok or outputs is None or len(self.problems.items) > reported:
            return None
        graph = builder.build(spec.name or default_name, outputs, self.ndim, self.loc(()))
        return ReadModel(graph, overrides)

    def ref(self, name: str, path: Path, ids: dict[str, int], first: dict[str, int], here: int | None) -> int:
        """The node id a name refers to; forward references and cycles are errors."""
        if name in ids:
            return ids[name]
        if name in first:
            j = first[name]
            if here is not None and j == here:
                raise self.fail(path, f"layer {name!r} reads itself (cycles are not allowed)")
            line = self.doc.where(("layers", j))[0]
            raise self.fail(
                path,
                f"{name!r} is defined later (layers[{j}], line {line}); list every layer after the layers it reads "
                "(cycles are not allowed)",
            )
        raise self.fail(path, f"unknown layer {name!r}{_suggest(name, list(first) + [INPUT_NAME])}")

    def inputs(self, layer: Any, path: Path, ids: dict[str, int], first: dict[str, int], prev: int) -> tuple[int, ...]:
        """Node ids the layer reads: its ``input`` names, else the previous layer (or the model input)."""
        merge = layer.type in ("add", "mul", "concat")
        refs = layer.input
        if refs is None:
            if merge:
                raise self.fail(
                    path, f"missing key: {_a(layer.type)} layer needs input: a list of two or more layer names"
                )
            return (prev,)
        if merge and len(refs) < 2:
            raise self.fail(path + ("input",), f"{_a(layer.type)} layer reads two or more layers, got {len(refs)}")
        if not merge and len(refs) > 1:
            raise self.fail(
                path + ("input",), f"{_a(layer.type)} layer reads one layer; only add, mul and concat take a list"
            )
        here = path[1] if isinstance(path[1], int) else None
        single = isinstance(self.doc.data, dict) and _is_scalar_input(self.doc.data, here)
        return tuple(
            self.ref(r, path + ("input",) if single else path + ("input", k), ids, first, here)
            for k, r in enumerate(refs)
        )

    def outputs(self, ids: dict[str, int], first: dict[str, int], last: int) -> list[tuple[str, int]] | None:
        names = self.spec.outputs
        if names is None:
            if last < 0:
                return None
            layer = self.spec.layers[-1]
            return [(layer.name or "output", last)]
        out: list[tuple[str, int]] = []
        single = isinstance(self.doc.data, dict) and isinstance(self.doc.data.get("outputs"), str)
        for k, name in enumerate(names):
            path: Path = ("outputs",) if single else ("outputs", k)
            try:
                if name in names[:k]:
                    raise self.fail(path, f"{name!r} is listed twice")
                nid = self.ref(name, path, ids, first, None)
            except _Invalid:
                return None
            if nid < 0:
                return None
            out.append((name, nid))
        return out


def _is_scalar_input(data: dict[str, Any], index: int | None) -> bool:
    layers = data.get("layers")
    if index is None or not isinstance(layers, list):
        return False
    layer = layers[index]
    return isinstance(layer, dict) and isinstance(layer.get("input"), str)


# --------------------------------------------------------------------------- entry point

_SUFFIXES = (".rflint.yaml", ".rflint.yml", ".rflint.json", ".yaml", ".yml", ".json")


def _default_name(path: str) -> str:
    """The model name when the spec gives none: the file name without its spec suffix."""
    base = os.path.basename(path)
    for suffix in _SUFFIXES:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base or "spec"


def _parse(path: str, text: str, problems: _Problems) -> list[_Document] | None:
    """The file's documents, or None after reporting why it does not parse."""
    if path.lower().endswith(".json"):
        try:
            return _parse_json(text)
        except json.JSONDecodeError as exc:
            problems.add(None, (), f"invalid JSON: {exc.msg}", (exc.lineno, exc.colno))
        except RecursionError:
            problems.add(None, (), "invalid JSON: nested too deeply")
        return None
    deep = _too_deep(text)
    if deep is not None:
        line = text.count("\n", 0, deep) + 1
        problems.add(None, (), f"invalid YAML: nested more than {MAX_FLOW_DEPTH} levels deep", (line, 1))
        return None
    try:
        return _parse_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        detail = exc.problem or exc.context or "cannot parse"
        if exc.context and exc.problem:
            detail = f"{exc.problem} ({exc.context})"
        problems.add(None, (), f"invalid YAML: {detail}", where)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character
        code = ord(char) if isinstance(char, str) else char
        shown = f"U+{code:04X}" if isinstance(code, int) else repr(char)
        problems.add(None, (), f"invalid YAML: {exc.reason} ({shown})", (line, 1))
    except yaml.YAMLError as exc:
        problems.add(None, (), f"invalid YAML: {exc}")
    except RecursionError:
        problems.add(None, (), "invalid YAML: nested too deeply")
    return None


def _ndim(data: dict[str, Any]) -> int:
    """``ndim`` if given, else the length of an ``input-size`` list, else 2.

    Only a guess to build with: the schema reports a bad ``ndim``, and the
    builder reports every list whose length disagrees.
    """
    explicit = data.get("ndim")
    if _is_int(explicit) and 1 <= explicit <= 3:
        return int(explicit)
    size = data.get("input-size", data.get("input_size"))
    if isinstance(size, list) and 1 <= len(size) <= 3:
        return len(size)
    return 2


def _read_document(doc: _Document, path: str, name: str, problems: _Problems) -> ReadModel | None:
    if not isinstance(doc.data, dict):
        kind = type(doc.data).__name__
        problems.add(doc, (), f"a spec is a mapping with keys rflint-spec, name, layers ...; got a {kind}")
        return None
    if doc.duplicates:
        for key_path, first_key, first_line, where in doc.duplicates:
            same = first_key == key_path[-1]
            also = f"first on line {first_line}" if same else f"also written {first_key!r} on line {first_line}"
            problems.add(doc, key_path, f"duplicate key ({also})", where)
        return None
    # Top-level ``x-`` keys are free, as in docker-compose: a place for YAML anchors.
    data = {k: v for k, v in doc.data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        _schema_problems(exc, doc, problems)
        return None
    return _Build(spec, _ndim(doc.data), doc, path, problems).build(name)


def read_spec(path: str, text: str) -> ReadResult:
    """Read a YAML or JSON layer spec (JSON when ``path`` ends in ``.json``).

    Returns one model per YAML document (a JSON file holds one), with the
    spec's ``input-size``, ``object-size``, ``task`` and ``batch-size`` as
    ModelSettings overrides. Any problem is an RL001 error diagnostic at the
    key's line; the function does not raise, so one bad file never stops a run.
    """
    problems = _Problems(path)
    models: list[ReadModel] = []
    try:
        docs = _parse(path, text.lstrip("\ufeff"), problems)
        if docs is not None and not docs:
            problems.add(None, (), f"empty spec: write `rflint-spec: {SPEC_VERSION}`, a name and layers")
        base = _default_name(path)
        for k, doc in enumerate(docs or ()):
            model = _read_document(doc, path, base if k == 0 else f"{base}.{k}", problems)
            if model is not None:
                models.append(model)
    except RecursionError:
        problems.add(None, (), "the spec is nested too deeply to read")
    except Exception as exc:  # noqa: BLE001  (the reliability contract: report, never raise)
        problems.add(None, (), f"internal error reading the spec: {type(exc).__name__}: {exc}")
    return ReadResult(models=tuple(models), diagnostics=tuple(problems.items))
