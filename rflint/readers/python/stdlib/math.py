"""``math`` on plain numbers: every function of Python's ``math``, as Python computes it."""

from __future__ import annotations

import math
from typing import Any

from ._support import function

MEMBERS: dict[str, Any] = {}
for _name in dir(math):
    if _name.startswith("_"):
        continue
    _value = getattr(math, _name)
    MEMBERS[_name] = function(f"math.{_name}", _value) if callable(_value) else _value
