"""The standard library, modelled: one module here per standard module, one table.

The evaluator consults ``lookup("dataclasses.replace")`` before anything else when
code names a member of a module it does not read (the standard library is never
read: it is modelled). A newcomer who wants ``itertools.accumulate`` opens
``itertools.py`` and sees where it goes. (The layout follows pytype's overlays:
``functools_overlay.py``, ``dataclass_overlay.py``, and one table from module
name to overlay.)

``None`` from ``lookup`` means "not modelled": the name stays an external
reference, and calling it is an Unknown that says which function it was.
"""

from __future__ import annotations

from typing import Any

from . import (builtins, collections, contextlib, copy, dataclasses, enum, functools, importlib, inspect, itertools, keyword,
               logging, math, operator, os, re)
from . import typing as typing_

MODULES: dict[str, dict[str, Any]] = {
    "builtins": builtins.MEMBERS,
    "collections": collections.MEMBERS,
    "collections.abc": collections.ABC,
    "contextlib": contextlib.MEMBERS,
    "copy": copy.MEMBERS,
    "dataclasses": dataclasses.MEMBERS,
    "enum": enum.MEMBERS,
    "functools": functools.MEMBERS,
    "importlib": importlib.MEMBERS,
    "importlib.util": importlib.UTIL,
    "importlib.metadata": importlib.METADATA,
    "inspect": inspect.MEMBERS,
    "itertools": itertools.MEMBERS,
    "keyword": keyword.MEMBERS,
    "logging": logging.LOGGING,
    "warnings": logging.WARNINGS,
    "math": math.MEMBERS,
    "operator": operator.MEMBERS,
    "os": os.MEMBERS,
    "os.path": os.PATH,
    "sys": os.SYS,
    "re": re.MEMBERS,
    "typing": typing_.TYPING,
    "typing_extensions": typing_.TYPING,
    "types": typing_.TYPES,
    "numbers": typing_.NUMBERS,
    "abc": typing_.ABC_MODULE,
}


def lookup(path: str) -> Any | None:
    """The model of ``module.member`` (``"os.path.join"``), or None when it is not modelled."""
    module, _, name = path.rpartition(".")
    members = MODULES.get(module)
    if members is None or name not in members:
        return None
    return members[name]


def module_names(module: str) -> list[str] | None:
    """What ``dir(module)`` lists for a modelled standard module."""
    members = MODULES.get(module)
    return list(members) if members is not None else None
