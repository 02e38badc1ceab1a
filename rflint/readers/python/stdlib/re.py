"""``re``: regular expressions on strings. Model code decodes architecture strings with
them (timm's ``"ir_r1_k3_s1_e1_c16"``); the patterns and strings are the file's own
constants, so a pattern anyone can write must not freeze the reader
(``(a+)+$`` on ``'a' * 34 + 'b'`` backtracks for minutes in ``re``). They are
matched by the ``regex`` library, which is compatible with ``re`` (its VERSION0) and
stops a call after a timeout: the result is then Unknown, with the reason."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

import regex

from .. import limits
from ..values import Builtin, first_unknown
from ._support import plain

if TYPE_CHECKING:
    from ..evaluator import Evaluator

PATTERN = type(regex.compile(""))
MATCH = type(regex.match("", ""))
_TIMED = ("match", "fullmatch", "search", "findall", "finditer", "split", "sub", "subn")


def _call(name: str, fn: Any) -> Builtin:
    def impl(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
        u = first_unknown(*args, *kwargs.values())
        if u:
            return u
        bound = limits.first_too_large(*args, *kwargs.values())
        if bound:
            return ev.unknown(limits.limited(f"{name}() of {bound}"), node)
        timed = {"timeout": limits.REGEX_TIMEOUT} if name.rsplit(".", 1)[-1] in _TIMED else {}
        try:
            return plain(fn(*args, **kwargs, **timed))
        except TimeoutError:
            return ev.unknown(f"{name}() took longer than {limits.REGEX_TIMEOUT} s (a pattern that backtracks)", node)
        except (regex.error, TypeError, ValueError) as exc:
            return ev.unknown(f"{name}(): {type(exc).__name__}: {exc}", node)

    return Builtin(name, impl)


def pattern_method(obj: Any, name: str) -> Builtin | None:
    """A compiled pattern's method, bounded like the module's functions."""
    if isinstance(obj, PATTERN) and name in _TIMED:
        return _call(f"Pattern.{name}", getattr(obj, name))
    return None


MEMBERS: dict[str, Any] = {
    name: _call(f"re.{name}", getattr(regex, name))
    for name in ("match", "fullmatch", "search", "findall", "finditer", "split", "sub", "subn", "compile", "escape")
}
for _flag in ("IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S", "VERBOSE", "X", "ASCII", "A"):
    MEMBERS[_flag] = getattr(regex, _flag)
