"""What the CI formats (github, gitlab, sarif, junit, json-lines) share: the order of
findings, paths relative to a project root, the source line of a finding, a
fingerprint that identifies a finding across commits, and file names that are not
UTF-8 made printable.

Standard library only: these run on the check path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping

from ..diagnostics import Diagnostic, source_lines

__all__ = [
    "FINGERPRINT_KEY", "SourceLines", "fingerprints", "is_below", "normalise_line", "ordered", "printable",
    "printable_findings", "relative_path", "source_line",
]

FINGERPRINT_KEY = "rflintFindingHash/v1"
"""The SARIF ``partialFingerprints`` key (SARIF's ``name/version`` convention)."""


def printable(text: str) -> str:
    """``text`` as valid UTF-8. A file name's bytes that are not UTF-8 reach Python as lone
    surrogates (``bad\\xff.py`` is ``'bad\\udcff.py'``), which no UTF-8 report can hold:
    they are written as ``\\xff``, the way Python shows such bytes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate no file name makes: shown as its code point
            return text.encode("utf-8", "backslashreplace").decode("utf-8")


def printable_findings(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The findings with printable file names and messages (see :func:`printable`)."""
    out = []
    for d in diags:
        loc = d.loc
        if printable(loc.file) != loc.file or printable(d.message) != d.message or any(printable(c) != c for c in loc.chain):
            loc = dataclasses.replace(loc, file=printable(loc.file), chain=tuple(printable(c) for c in loc.chain))
            d = dataclasses.replace(d, loc=loc, message=printable(d.message))
        out.append(d)
    return out


def ordered(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """File, line, column, code order (ruff's, and the text formats'), then model and message."""
    return sorted(diags, key=lambda d: (*d.sort_key(), d.model, d.message))


def relative_path(file: str, base: str | None = None) -> str:
    """``file`` relative to ``base`` (default: the working directory) with ``/`` separators,
    when it lies below it; otherwise absolute (with ``/``). Pseudo-files (``<stdin>``)
    are returned as given."""
    if not file or file.startswith("<"):
        return file
    root = os.path.abspath(base if base else os.getcwd())
    absolute = os.path.abspath(file)
    prefix = root if root.endswith(os.sep) else root + os.sep
    if absolute.startswith(prefix):
        return Path(absolute[len(prefix):]).as_posix()
    return Path(absolute).as_posix()


def is_below(file: str, base: str | None = None) -> bool:
    """Whether ``relative_path`` gives a relative path for ``file``."""
    rel = relative_path(file, base)
    return bool(rel) and not rel.startswith("<") and not PurePosixPath(rel).is_absolute()


class SourceLines:
    """Lines of the files findings point at: from ``sources`` (what the run read), else
    read from disk once; a file that cannot be read has no lines."""

    def __init__(self, sources: Mapping[str, str] | None = None) -> None:
        self._sources = sources or {}
        self._lines: dict[str, list[str]] = {}

    def lines(self, file: str) -> list[str]:
        hit = self._lines.get(file)
        if hit is None:
            text = self._sources.get(file)
            if text is None:
                try:
                    with open(file, encoding="utf-8-sig") as fh:
                        text = fh.read()
                except (OSError, UnicodeDecodeError, ValueError):
                    text = ""
            hit = self._lines[file] = source_lines(text)
        return hit

    def line(self, file: str, number: int) -> str | None:
        lines = self.lines(file)
        return lines[number - 1] if 1 <= number <= len(lines) else None


def source_line(file: str, number: int, sources: Mapping[str, str] | None = None) -> str | None:
    """Line ``number`` (1-based) of ``file``, or None when it is not there."""
    return SourceLines(sources).line(file, number)


def normalise_line(text: str) -> str:
    """A source line with its indentation and runs of whitespace collapsed, so that
    re-indenting or re-spacing a line does not change the identity of what is on it."""
    return " ".join(text.split())


def fingerprints(diags: Iterable[Diagnostic], sources: Mapping[str, str] | None = None,
                 base: str | None = None) -> list[str]:
    """A stable identity for each finding, in the order given: a hash of the rule code,
    the file's path relative to ``base``, the normalised text of the finding's line and
    the layer's name; *not* the line number, so that a finding keeps its fingerprint
    when lines above it are added or removed. Findings that would hash alike (the
    same line text twice in a file) are told apart by their occurrence, counted in
    file order: ``<hash>:1``, ``<hash>:2``, as GitHub's own line hashes do.
    """
    lines = SourceLines(sources)
    seen: dict[str, int] = {}
    out = []
    for d in diags:
        text = lines.line(d.loc.file, d.loc.line)
        # Without the source, the line number is the best identity left.
        if d.loc.node is not None:  # an exported model: the node is the place
            where = f"node {d.loc.node.name or d.loc.node.index} {d.loc.node.op_type}"
        else:
            where = normalise_line(text) if text is not None else f"line {d.loc.line}"
        parts = (d.code, relative_path(d.loc.file, base), where, d.name)
        digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        seen[digest] = seen.get(digest, 0) + 1
        out.append(f"{digest}:{seen[digest]}")
    return out
