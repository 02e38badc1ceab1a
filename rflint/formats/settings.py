"""``rflint check --show-settings``: the configuration that applies to one file, resolved.

As ruff's ``--show-settings``: which file the settings are for, which configuration
file they came from, then every setting (command-line flags applied) as ``key = value``
lines in TOML's spelling, starting with what matters most: the rules that run on this
file (selection, then per-file-ignores) and the model settings the rules read::

    Resolved settings for: "/home/me/proj/nets/unet.py"
    Settings path: "/home/me/proj/pyproject.toml"

    # Rules
    rules.enabled = [
    	"AA101",
    	...
    ]
    ...

Standard library only (the configuration is passed in).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["render"]


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _list(key: str, values: list[str]) -> list[str]:
    if not values:
        return [f"{key} = []"]
    return [f"{key} = [", *(f"\t{json.dumps(v)}," for v in values), "]"]


def render(config: "Config", file: str) -> str:
    """The report, without a trailing newline."""
    from ..checks.base import all_rules

    rules = all_rules()
    selected = [code for code, cls in rules.items() if config.is_enabled(code, None, cls.enabled_by_default)]
    enabled = [code for code in selected if config.is_enabled(code, file, rules[code].enabled_by_default)]
    ignored_here = [code for code in selected if code not in enabled]
    lines = [f"Resolved settings for: {json.dumps(os.path.abspath(file))}"]
    if config.path is not None:
        lines.append(f"Settings path: {json.dumps(os.path.abspath(config.path))}")
    else:
        lines.append("Settings path: none (no rflint.toml or [tool.rflint] found; defaults)")
    lines += ["", "# Rules"]
    lines += _list("rules.enabled", enabled)
    lines += _list("rules.per-file-ignored", ignored_here)
    lines += _list("rules.not-selected", [code for code in rules if code not in selected])
    lines.append(f"select = {_value(config.select)}")
    lines.append(f"extend-select = {_value(config.extend_select)}")
    lines.append(f"ignore = {_value(config.ignore)}")
    lines.append(f"per-file-ignores = {_value(config.per_file_ignores)}")
    lines += ["", "# Models"]
    lines.append(f"input-size = {_value(config.input_size)}")
    lines.append(f"object-size = {_value(config.object_size)}")
    lines.append(f"task = {_value(config.task)}")
    lines.append(f"batch-size = {_value(config.batch_size)}")
    lines.append(f"models = {_value([m.table() for m in config.models])}")
    for code, options in sorted(config.rules.items()):
        lines.append(f"rules.{code} = {_value(options)}")
    lines += ["", "# Files"]
    lines.append(f"root = {_value(str(config.root))}")
    lines.append(f"exclude = {_value(config.exclude)}")
    lines.append(f"extend-exclude = {_value(config.extend_exclude)}")
    lines.append(f"respect-gitignore = {_value(config.respect_gitignore)}")
    return "\n".join(lines)
