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
            task=values.get("task", self.task),
            batch_size=values.get("batch_size", self.batch_size),
            rule_options=values.get("rule_options", self.rule_options),
        )
