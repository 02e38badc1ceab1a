"""A per-file result cache, so that an unchanged tree is checked in a blink.

The key is a hash of rflint's version and code, the configuration's fingerprint, the
file's path and content, and the content of every other file the analysis
read (none yet: readers report them as ``ReadResult.dependencies``). Entries
are JSON, never pickle.

A repository (or a CI image) can ship a crafted ``.rflint_cache``, and anyone who knows
the rflint install can compute the keys. So an entry is trusted only when it carries a
MAC made with a secret that lives outside every repository, in the user's cache
directory (``$XDG_CACHE_HOME/rflint/secret``, created on first use, readable by the
user only); without that secret nothing is cached. Every entry is also checked
against its schema (any failure is a miss), dependencies are read only when they are
regular files of bounded size, and nothing is written through a symbolic link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
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


MAX_DEPENDENCY_BYTES = 64 * 1024 * 1024


@lru_cache(maxsize=4096)
def content_hash(path: str) -> str:
    """Hash of a file's bytes; '' when it cannot be read, is not a regular file (a FIFO,
    ``/dev/zero``) or is larger than any source file (then any cached entry is stale).
    Memoised: one run reads a shared dependency (torchvision's ops/misc.py) once."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return ""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_DEPENDENCY_BYTES:
            return ""
        h = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    except OSError:
        return ""
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the secret


def secret_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rflint" / "secret"


@lru_cache(maxsize=4)
def _secret_at(path: Path) -> bytes | None:
    """The user's cache secret, created on first use; None when it cannot be had safely
    (then nothing is cached): it must be a regular file of the user's, not a link, that
    no one else can write."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o022:
                return None
            if hasattr(os, "getuid") and info.st_uid != os.getuid():
                return None
            value = fh.read(256).strip()
    except OSError:
        return None
    return value if len(value) >= 32 else None


def secret() -> bytes | None:
    return _secret_at(secret_path())


def seal(body: str) -> str | None:
    """``body`` with a MAC of the user's secret, as the text of a cache file; None when
    there is no secret (nothing is cached)."""
    key_ = secret()
    if key_ is None:
        return None
    mac = hmac.new(key_, body.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return json.dumps({"mac": mac, "body": body})


def unseal(text: str) -> str | None:
    """The body of a cache file when its MAC is the user's secret's; None otherwise."""
    key_ = secret()
    if key_ is None:
        return None
    try:
        outer = json.loads(text)
        body, mac = outer["body"], outer["mac"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(body, str) or not isinstance(mac, str):
        return None
    want = hmac.new(key_, body.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return body if hmac.compare_digest(want, mac) else None


def write_entry(cache_root: Path, target: Path, text: str) -> None:
    """Write ``text`` to ``target`` below ``cache_root`` (``.rflint_cache``) without
    following a symbolic link anywhere below the project: every directory on the way must
    be a real one, and files are created, never opened through a link. Raises OSError."""
    parts = target.relative_to(cache_root.parent).parts[:-1]
    here = cache_root.parent
    for part in parts:
        here = here / part
        try:
            info = os.lstat(here)
        except FileNotFoundError:
            os.mkdir(here)
            info = os.lstat(here)
        if not stat.S_ISDIR(info.st_mode):  # a link (or a file) where a directory must be
            raise OSError(f"{here} is not a directory")
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    ignore = cache_root / ".gitignore"
    try:
        fd = os.open(ignore, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o644)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write("# Created by rflint automatically.\n*\n")
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, target)  # replaces a link at ``target`` itself, never what it points to


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


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _from_json(data: Any) -> Diagnostic:
    """A finding from its JSON form, every field checked (TypeError/ValueError otherwise):
    an entry is read back only if it could have been written by :func:`_to_json`."""
    if not isinstance(data, dict):
        raise TypeError("not an object")
    file, line, col, end_line, end_col, chain, node = data["loc"]
    if not (_is(file, str) and _is(line, int) and _is(col, int) and all(v is None or _is(v, int) for v in (end_line, end_col))
            and isinstance(chain, list) and all(_is(c, str) for c in chain)):
        raise TypeError("bad location")
    for field in ("code", "message"):
        if not _is(data[field], str):
            raise TypeError(field)
    for field in ("model", "name", "layer"):
        if data[field] is not None and not _is(data[field], str):
            raise TypeError(field)
    if not _is(data["severity"], int):
        raise TypeError("severity")
    fix = None
    if data["fix"] is not None:
        f = data["fix"]
        if not (isinstance(f, dict) and _is(f["description"], str) and isinstance(f["safe"], bool)
                and isinstance(f["edits"], list)):
            raise TypeError("bad fix")
        edits = []
        for e in f["edits"]:
            if not (isinstance(e, list) and len(e) == 5 and all(_is(v, int) for v in e[:4]) and _is(e[4], str)):
                raise TypeError("bad edit")
            edits.append(Edit(*e))
        fix = Fix(f["description"], tuple(edits), f["safe"])
    ref = None
    if node is not None:
        if not (isinstance(node, list) and len(node) == 3 and _is(node[0], str) and _is(node[1], str) and _is(node[2], int)):
            raise TypeError("bad node")
        ref = NodeRef(*node)
    return Diagnostic(data["code"], data["message"], Location(file, line, col, end_line, end_col, tuple(chain), ref),
                      Severity(data["severity"]), fix, data["model"], data["name"], data["layer"])


class ResultCache:
    """Cache entries under ``root/.rflint_cache``; any failure to read or write is a miss,
    and so is an entry not sealed with the user's secret (see the module's docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root / CACHE_DIR
        self.dir = self.root / __version__

    def get(self, k: str) -> list[Diagnostic] | None:
        """The cached findings, when every other file the analysis read is unchanged too."""
        try:
            with open(self.dir / k[:2] / f"{k}.json", encoding="utf-8") as fh:
                body = unseal(fh.read(MAX_DEPENDENCY_BYTES))
            if body is None:
                return None
            entry = json.loads(body)
            deps = entry["dependencies"]
            if not isinstance(deps, dict) or not all(_is(p, str) and _is(d, str) for p, d in deps.items()):
                return None
            if any(content_hash(path) != digest for path, digest in deps.items()):
                return None
            return [_from_json(d) for d in entry["diagnostics"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, k: str, diags: list[Diagnostic], dependencies: dict[str, str] | None = None) -> None:
        entry = {"dependencies": dependencies or {}, "diagnostics": [_to_json(d) for d in diags]}
        text = seal(json.dumps(entry))
        if text is None:
            return
        try:
            write_entry(self.root, self.dir / k[:2] / f"{k}.json", text)
        except OSError:
            pass
