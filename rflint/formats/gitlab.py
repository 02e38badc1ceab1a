"""``--output-format gitlab``: a GitLab Code Quality report (the CodeClimate subset GitLab
reads), for a job's ``artifacts:reports:codequality``::

    [
      {
        "description": "CB102: ConvTranspose2d(...) overlaps unevenly ...",
        "check_name": "CB102",
        "fingerprint": "5f0c...:1",
        "severity": "minor",
        "location": {"path": "nets/unet.py",
                     "positions": {"begin": {"line": 34, "column": 20}, "end": {"line": 34, "column": 95}}}
      }
    ]

As in ruff, the description starts with the code (GitLab shows the description and
not ``check_name``), and the path is relative to ``CI_PROJECT_DIR`` when GitLab sets
it, else to the working directory. Severities: info -> ``info``, warning ->
``minor``, error -> ``major`` (GitLab's ``critical`` and ``blocker`` are left for
tools whose findings are security holes). The fingerprint is the content hash
SARIF's ``partialFingerprints`` carry (see :mod:`rflint.formats.common`): stable
when lines move, unique within the report, so GitLab's merge-request widget shows
a finding as new only when it is.

Standard library only.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Mapping

from ..diagnostics import Diagnostic, Severity
from .common import fingerprints, ordered, relative_path

__all__ = ["SEVERITIES", "render", "to_gitlab"]

SEVERITIES = {Severity.INFO: "info", Severity.WARNING: "minor", Severity.ERROR: "major"}


def _position(line: int, column: int) -> dict:
    return {"line": line, "column": column}


def to_gitlab(d: Diagnostic, fingerprint: str, base: str | None = None) -> dict:
    """One finding as a Code Quality issue."""
    loc = d.loc
    end_line = loc.end_line if loc.end_line is not None else loc.line
    end_col = loc.end_col if loc.end_col is not None else loc.col
    return {
        "description": f"{d.code}: {d.message}",
        "check_name": d.code,
        "fingerprint": fingerprint,
        "severity": SEVERITIES.get(d.severity, "minor"),
        "location": {
            "path": relative_path(loc.file, base),
            "positions": {"begin": _position(loc.line, loc.col), "end": _position(end_line, end_col)},
        },
    }


def render(diags: Iterable[Diagnostic], sources: Mapping[str, str] | None = None, base: str | None = None) -> str:
    """The report: a JSON list (``[]`` when clean), indented by 2 like rflint's json."""
    root = base if base is not None else os.environ.get("CI_PROJECT_DIR") or None
    found = ordered(diags)
    prints = fingerprints(found, sources, root)
    return json.dumps([to_gitlab(d, fp, root) for d, fp in zip(found, prints)], indent=2, ensure_ascii=False)
