"""Per-model settings the rules read: plain frozen data, built from configuration at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class ModelSettings:
    """``input_size`` and ``object_size`` are in input pixels, one value per spatial axis
    (a single value means every axis). ``object_size`` is ``(min, max)`` extent."""

    input_size: tuple[int, ...] | None = None
    object_size: tuple[int, int] | None = None
    # Per output (detector heads, FPN levels): output name or its key/index -> (min, max).
    output_object_size: Mapping[str, tuple[int, int]] = field(default_factory=dict, compare=False, hash=False)
    task: str | None = None
    batch_size: int | None = None
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, hash=False)

    def merged(self, **overrides: Any) -> "ModelSettings":
        """A copy with the given non-None values replacing ours (pragmas, model tables)."""
        values = {k: v for k, v in overrides.items() if v is not None}
        if not values:
            return self
        return ModelSettings(
            input_size=values.get("input_size", self.input_size),
            object_size=values.get("object_size", self.object_size),
            output_object_size=values.get("output_object_size", self.output_object_size),
            task=values.get("task", self.task),
            batch_size=values.get("batch_size", self.batch_size),
            rule_options=values.get("rule_options", self.rule_options),
        )

    def has_object_size(self) -> bool:
        return self.object_size is not None or bool(self.output_object_size)

    def object_size_for(self, output: str) -> tuple[int, int] | None:
        """The object size for one model output: its own (by full name such as
        ``output['p3']``, or by the key or index inside the brackets, ``p3``), else the
        model's."""
        own = self.output_object_size
        if own:
            if output in own:
                return own[output]
            inner = output[output.rfind("[") + 1 : -1].strip("'\"") if output.endswith("]") else ""
            if inner in own:
                return own[inner]
        return self.object_size
