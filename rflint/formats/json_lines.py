"""``--output-format json-lines``: one finding per line, each the same JSON object as an
item of ``--output-format json`` (see :mod:`rflint.formats.json`), compact, in the same
order. Nothing at all when there are no findings, as in ruff; a consumer can read the
stream line by line (``jq -c``, ``grep CB102``) without parsing a whole document.
"""

from __future__ import annotations

from typing import Iterable

from ..diagnostics import Diagnostic
from .common import ordered
from .json import to_json

__all__ = ["render"]


def render(diags: Iterable[Diagnostic]) -> str:
    """One JSON object per line, without a trailing newline; '' when there are none."""
    return "\n".join(to_json(d).model_dump_json() for d in ordered(diags))
