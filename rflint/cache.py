"""A per-file result cache, so that an unchanged tree is checked in a blink.

The key is a hash of rflint's version and code, the configuration's fingerprint, the
file's path and content, and the content of every other file the analysis
read (none yet: readers report them as ``ReadResult.dependencies``). Entries
are JSON, never pickle: a repository could ship a crafted cache directory, and
reading an untrusted repository with rflint must stay safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import __version__
from .diagnostics import Diagnostic, Edit, Fix, Severity
from .ir import Location, NodeRef

CACHE_DIR = ".rflint_cache"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """rflint's own code, by file size and modification time: a development checkout
    whose rules changed must not be served results of the old rules."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for dirpath, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if name.endswith(".py"):
                st = os.stat(os.path.join(dirpath, name))
                h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


@lru_cache(maxsize=4096)
def content_hash(path: str) -> str:
    """Hash of a file's bytes; '' when it cannot be read (then any cached entry is stale).
    Memoised: one run reads a shared dependency (torchvision's ops/misc.py) once."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""


def key(path: str, text: str, config_fingerprint: str, flags: str = "") -> str:
    h = hashlib.sha256()
    for part in (code_fingerprint(), config_fingerprint, flags, path, text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def _to_json(d: Diagnostic) -> dict[str, Any]:
    loc = d.loc
    fix = None
    if d.fix is not None:
        fix = {"description": d.fix.description, "safe": d.fix.safe,
               "edits": [[e.line, e.col, e.end_line, e.end_col, e.replacement] for e in d.fix.edits]}
    node = [loc.node.name, loc.node.op_type, loc.node.index] if loc.node is not None else None
    return {"code": d.code, "message": d.message, "severity": int(d.severity), "model": d.model, "name": d.name,
            "layer": d.layer, "loc": [loc.file, loc.line, loc.col, loc.end_line, loc.end_col, list(loc.chain), node],
            "fix": fix}


def _from_json(data: dict[str, Any]) -> Diagnostic:
    file, line, col, end_line, end_col, chain, node = data["loc"]
    fix = None
    if data["fix"] is not None:
        f = data["fix"]
        fix = Fix(f["description"], tuple(Edit(*e) for e in f["edits"]), bool(f["safe"]))
    ref = NodeRef(*node) if node is not None else None
    return Diagnostic(data["code"], data["message"], Location(file, line, col, end_line, end_col, tuple(chain), ref),
                      Severity(data["severity"]), fix, data["model"], data["name"], data["layer"])


class ResultCache:
    """Cache entries under ``root/.rflint_cache``; any failure to read or write is a miss."""

    def __init__(self, root: Path) -> None:
        self.dir = root / CACHE_DIR / __version__

    def get(self, k: str) -> list[Diagnostic] | None:
        """The cached findings, when every other file the analysis read is unchanged too."""
        try:
            with open(self.dir / k[:2] / f"{k}.json", encoding="utf-8") as fh:
                entry = json.load(fh)
            deps = entry["dependencies"]
            if any(content_hash(path) != digest for path, digest in deps.items()):
                return None
            return [_from_json(d) for d in entry["diagnostics"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, k: str, diags: list[Diagnostic], dependencies: dict[str, str] | None = None) -> None:
        target = self.dir / k[:2] / f"{k}.json"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            ignore = self.dir.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Created by rflint automatically.\n*\n")
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            entry = {"dependencies": dependencies or {}, "diagnostics": [_to_json(d) for d in diags]}
            tmp.write_text(json.dumps(entry), encoding="utf-8")
            os.replace(tmp, target)
        except OSError:
            pass
