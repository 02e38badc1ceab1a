"""``re``: regular expressions on strings. Model code decodes architecture strings with
them (timm's ``"ir_r1_k3_s1_e1_c16"``); the patterns and strings are the file's own
constants, so a pattern anyone can write must not freeze the reader
(``(a+)+$`` on ``'a' * 34 + 'b'`` backtracks for minutes in ``re``). They are
matched by the ``regex`` library, which is compatible with ``re`` (its VERSION0) and
stops a call after a timeout: the call fails as a builtin's does (Unknown, with the reason)."""

from __future__ import annotations

from functools import partial
from typing import Any

import regex

from .. import limits
from ..values import Builtin
from ._support import function

PATTERN = type(regex.compile(""))
MATCH = type(regex.match("", ""))
_TIMED = ("match", "fullmatch", "search", "findall", "finditer", "split", "sub", "subn")


def _bounded(name: str, fn: Any) -> Builtin:
    """``fn`` with the timeout when it matches (a TimeoutError is then the call's error,
    said as any failing builtin's is)."""
    return function(name, partial(fn, timeout=limits.REGEX_TIMEOUT) if name.rsplit(".", 1)[-1] in _TIMED else fn)


def pattern_method(obj: Any, name: str) -> Builtin | None:
    """A compiled pattern's method, bounded like the module's functions."""
    if isinstance(obj, PATTERN) and name in _TIMED:
        return _bounded(f"Pattern.{name}", getattr(obj, name))
    return None


MEMBERS: dict[str, Any] = {
    name: _bounded(f"re.{name}", getattr(regex, name))
    for name in ("match", "fullmatch", "search", "findall", "finditer", "split", "sub", "subn", "compile", "escape")
}
for _flag in ("IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S", "VERBOSE", "X", "ASCII", "A"):
    MEMBERS[_flag] = getattr(regex, _flag)
