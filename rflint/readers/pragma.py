"""The settings pragma, ``# rflint: input-size=512 object-size=16..320 task=detection``,
written on the line above a model class or factory. Shared by the readers that see
source: the static Python reader and the trace (which finds the factory's source)."""

from __future__ import annotations

import ast
import re
from typing import Any

from ..diagnostics import Diagnostic, Severity
from ..ir import MAX_INPUT_SIZE, Location
from .base import PARSE_ERROR

_PRAGMA = re.compile(r"^\s*#\s*rflint:\s*(?P<body>.*)$")


def pragma_settings(path: str, lines: list[str], node: ast.AST) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Settings from ``# rflint: input-size=512 object-size=16..320 task=detection``
    on the line directly above a class or function (or above its decorators)."""
    first = min([getattr(node, "lineno", 1), *(d.lineno for d in getattr(node, "decorator_list", []))])
    if first < 2:
        return {}, []
    match = _PRAGMA.match(lines[first - 2])
    if not match:
        return {}, []
    out: dict[str, Any] = {}
    errors: list[Diagnostic] = []
    for item in match.group("body").split():
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError("expected key=value")
            out.update(_pragma_value(key, value))
        except ValueError as exc:
            errors.append(Diagnostic(PARSE_ERROR, f"rflint pragma: {key}: {exc}", Location(path, first - 1, 1), Severity.ERROR))
    return out, errors


def _ints(value: str) -> tuple[int, ...]:
    parts = [p for p in re.split(r"[x,]", value) if p]
    nums = tuple(int(p) for p in parts)
    if not nums or any(n <= 0 for n in nums):
        raise ValueError(f"expected positive integers, got {value!r}")
    if any(n > MAX_INPUT_SIZE for n in nums):
        raise ValueError(f"sizes should be at most {MAX_INPUT_SIZE:,}, got {value!r}")
    return nums


def _pragma_value(key: str, value: str) -> dict[str, Any]:
    try:
        if key == "input-size":
            return {"input_size": _ints(value)}
        if key == "object-size":
            lo, sep, hi = value.partition("..")
            nums = _ints(lo) + (_ints(hi) if sep else ())
            pair = (nums[0], nums[-1])
            if pair[0] > pair[1]:
                raise ValueError(f"min {pair[0]} is larger than max {pair[1]}")
            return {"object_size": pair}
        if key == "output-object-size":  # p3:8..64,p4:32..256
            per: dict[str, tuple[int, int]] = {}
            for item in value.split(","):
                name, sep, size = item.partition(":")
                if not sep or not name:
                    raise ValueError(f"expected output:min..max, got {item!r}")
                per[name] = _pragma_value("object-size", size)["object_size"]
            return {"output_object_size": per}
        if key == "task":
            return {"task": value}
        if key == "batch-size":
            return {"batch_size": _ints(value)[0]}
    except ValueError as exc:
        if "invalid literal" in str(exc):
            raise ValueError(f"expected an integer, got {value!r}") from None
        raise
    raise ValueError("unknown key (known: input-size, object-size, output-object-size, task, batch-size)")
