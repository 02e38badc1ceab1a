"""The schema of ``rflint explain --output-format json``: pydantic models that document
and validate it (``ExplainJson.model_json_schema()``). ``formats.explain`` writes the
JSON with plain dicts, so that ``explain`` does not import pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrameJson(_Strict):
    axis: int
    r: int
    r_min: int
    j: float
    q: int
    effective_padding: float
    centre: float
    alpha: list[float | None]
    beta: list[float | None]
    exact: dict[str, Any]
    erf_width: float | None = None


class LayerJson(_Strict):
    index: int
    name: str
    type: str
    inputs: list[int]
    filename: str | None
    row: int | None
    column: int | None
    geometry: dict[str, list[Any]]
    output_size: list[int | None] | None
    status: str
    reason: str = ""
    is_global: bool
    frames: list[FrameJson] | None


class OutputJson(_Strict):
    name: str
    node: int
    r: list[int]
    j: list[float]
    effective_padding: list[float]
    is_global: bool


class ExplainJson(_Strict):
    model: str
    filename: str | None
    input_size: list[int] | None
    complete: bool
    layers: list[LayerJson]
    outputs: list[OutputJson]
    unresolved: list[dict[str, Any]]
    assumptions: list[dict[str, Any]] = []
