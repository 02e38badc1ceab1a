"""``re``: Python's regular expressions on strings. Model code decodes architecture
strings with them (timm's ``"ir_r1_k3_s1_e1_c16"``); the patterns and strings are
the file's own constants."""

from __future__ import annotations

import re
from typing import Any

from ._support import function

MEMBERS: dict[str, Any] = {
    name: function(f"re.{name}", getattr(re, name))
    for name in ("match", "fullmatch", "search", "findall", "finditer", "split", "sub", "subn", "compile", "escape")
}
for _flag in ("IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S", "VERBOSE", "X", "ASCII", "A"):
    MEMBERS[_flag] = getattr(re, _flag)
