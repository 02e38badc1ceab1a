"""``math`` on plain numbers: every function of Python's ``math``, as Python computes it."""

from __future__ import annotations

import math
from typing import Any

from .. import limits
from ._support import Bound, function


def _prod(args: list[Any], kwargs: dict[str, Any]) -> str | None:
    bits = sum(abs(v).bit_length() for v in args[0] if isinstance(v, int)) if args and isinstance(args[0], (list, tuple, range)) else 0
    return f"a product of about {bits} bits" if bits > limits.MAX_INT_BITS else None


def _factorial(args: list[Any], kwargs: dict[str, Any]) -> str | None:
    return f"{args[0]}!" if args and isinstance(args[0], int) and args[0] > 1500 else None


def _comb(args: list[Any], kwargs: dict[str, Any]) -> str | None:
    return f"binomials of {args[0]}" if args and isinstance(args[0], int) and args[0] > limits.MAX_INT_BITS else None


# The functions whose result grows past the limits from small arguments.
_BOUNDS: dict[str, Bound] = {"prod": _prod, "factorial": _factorial, "perm": _factorial, "comb": _comb}

MEMBERS: dict[str, Any] = {}
for _name in dir(math):
    if _name.startswith("_"):
        continue
    _value = getattr(math, _name)
    MEMBERS[_name] = function(f"math.{_name}", _value, _BOUNDS.get(_name)) if callable(_value) else _value
