"""Bounds on what the reader computes with values from the file.

The evaluator runs Python's own primitives on the file's constants (``sum``,
``range``, ``*``, ``re.match``), and a file anyone can write must not make that
freeze or exhaust the machine: ``sum(range(10**12))``, ``'x' * 10**9`` or
``math.prod(range(1, 300000))`` are refused before they run, and the value
becomes Unknown with the reason (the model says it, as RL002). Model code never
needs containers of a million items or numbers of ten thousand bits: the
limits sit far above what the files rflint reads use, and far below what would
hurt.
"""

from __future__ import annotations

import re
from typing import Any

MAX_ITEMS = 1 << 20
"""Items in a container, characters in a string, iterations materialised at once."""

MAX_INT_BITS = 1 << 14
"""Bits of an integer (a number of about 5,000 digits)."""

REGEX_TIMEOUT = 0.25
"""Seconds one regular-expression call on the file's pattern and string may take."""

_WIDTH = re.compile(r"\d+")


def too_large(value: Any) -> str | None:
    """Why ``value`` is larger than the reader builds, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"an integer of {value.bit_length()} bits" if value.bit_length() > MAX_INT_BITS else None
    if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, range)):
        try:
            n = len(value)
        except OverflowError:  # a range longer than sys.maxsize
            return "a range too long to count"
        return f"{n:,} items" if n > MAX_ITEMS else None
    return None


def first_too_large(*values: Any) -> str | None:
    for v in values:
        reason = too_large(v)
        if reason:
            return reason
    return None


def product_bound(op: str, a: Any, b: Any) -> str | None:
    """Why ``a op b`` on plain values would be too large to compute, before computing it:
    repetition (``'x' * n``), big products, shifts and powers."""
    if op == "mul":
        for seq, n in ((a, b), (b, a)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int) and not isinstance(n, bool):
                return f"a sequence of {len(seq) * max(n, 0):,} items" if len(seq) * n > MAX_ITEMS else None
        if _int(a) and _int(b) and a.bit_length() + b.bit_length() > MAX_INT_BITS:
            return f"a product of {a.bit_length() + b.bit_length()} bits"
    if op == "lshift" and _int(a) and _int(b) and b > MAX_INT_BITS:
        return f"a shift by {b}"
    if op == "pow" and _int(a) and _int(b) and b > 0 and abs(a) > 1 and a.bit_length() * b > MAX_INT_BITS:
        return f"a power of about {a.bit_length() * b} bits"
    return None


def wide_format(spec: str) -> str | None:
    """A format spec (``'{:>1000000000}'``, ``'%1000000000d'``) asking for a width or
    precision larger than any string the reader builds."""
    for m in _WIDTH.finditer(spec):
        if len(m.group()) > 7 or int(m.group()) > MAX_ITEMS:
            return f"a format width of {m.group()[:12]}"
    return None


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def limited(reason: str) -> str:
    return f"{reason}: larger than rflint computes (a bound against hostile input)"
