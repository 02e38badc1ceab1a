"""``--output-format github``: GitHub Actions workflow commands, one per finding, which
the runner turns into annotations on the pull request's diff::

    ::warning file=nets/unet.py,line=34,col=20,endLine=34,endColumn=95,title=rflint (CB102)::ConvTranspose2d(...) overlaps unevenly ...

The command is ``error``, ``warning`` or ``notice`` after the finding's severity.
Values are escaped as GitHub's toolkit (``@actions/core``) escapes them: in the
message ``%`` -> ``%25``, ``\\r`` -> ``%0D``, ``\\n`` -> ``%0A``; in property values
also ``:`` -> ``%3A`` and ``,`` -> ``%2C`` (a path or title holding those would
otherwise end the property). Paths are relative to ``GITHUB_WORKSPACE`` when rflint
runs inside it (Actions resolves annotation paths against the checkout), else to the
working directory.

Standard library only.
"""

from __future__ import annotations

import os
from typing import Iterable

from ..diagnostics import Diagnostic, Severity
from .common import ordered, relative_path

__all__ = ["COMMANDS", "escape_data", "escape_property", "render"]

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """A workflow command's message (after ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _base() -> str | None:
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return None
    root, cwd = os.path.abspath(workspace), os.path.abspath(os.getcwd())
    return root if cwd == root or cwd.startswith(root.rstrip(os.sep) + os.sep) else None


def annotation(d: Diagnostic, base: str | None = None) -> str:
    """One finding as one workflow command line (without the newline)."""
    loc = d.loc
    props = [("file", relative_path(loc.file, base)), ("line", str(loc.line)), ("col", str(loc.col))]
    if loc.end_line is not None:
        props.append(("endLine", str(loc.end_line)))
        if loc.end_col is not None:
            props.append(("endColumn", str(loc.end_col)))
    props.append(("title", f"rflint ({d.code})"))
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in props)
    return f"::{COMMANDS.get(d.severity, 'warning')} {rendered}::{escape_data(d.message)}"


def render(diags: Iterable[Diagnostic], base: str | None = None) -> str:
    """Every finding as a workflow command, one per line, in file order; '' when there are none."""
    root = base if base is not None else _base()
    return "\n".join(annotation(d, root) for d in ordered(diags))
