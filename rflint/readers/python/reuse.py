"""Models reused across reads of a changing file: an edit rebuilds only the models it touches.

An editor re-reads the document on every keystroke, and most of its models come out
the same: a keystroke in one factory does not change the others. A model's build
depends on the file's top-level statements (constants, imports), on the text of
every top-level definition its build ran (functions called, classes built or
read, with their positions, since locations are part of the graph), on the
settings it was built with, and on the imported files, which the session holds
fixed (the language server starts a new session when one of them changes). When
none of these changed, the model read before is the model: graphs are immutable.

The evaluator records the definitions a build ran (``Evaluator.touch``, including
those a copied construction ran, see memo.py), and this module keeps, per file
and model, what it saw.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from typing import Any

from ..base import ReadModel

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class Fingerprints:
    """The text of a parsed file, by top-level definition, as digests that include where
    each one starts; and one digest of everything else at the top level."""

    def __init__(self, tree: ast.Module, lines: list[str]) -> None:
        self.definitions: dict[str, bytes] = {}
        self.owner: dict[int, str] = {}  # id of every def, class and lambda node -> its top-level definition
        rest = hashlib.blake2b(digest_size=16)
        for stmt in tree.body:
            start = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
            text = "\n".join(lines[start - 1:stmt.end_lineno or stmt.lineno])
            if isinstance(stmt, _DEFINITIONS):
                self.definitions[stmt.name] = hashlib.blake2b(f"{start}:{stmt.col_offset}\n{text}".encode(
                    "utf-8", "surrogatepass"), digest_size=16).digest()
                for node in ast.walk(stmt):
                    if isinstance(node, (*_DEFINITIONS, ast.Lambda)):
                        self.owner[id(node)] = stmt.name
            else:
                rest.update(f"{start}\n{text}\n".encode("utf-8", "surrogatepass"))
        self.top = rest.digest()

    def of(self, names: set[str] | frozenset[str]) -> tuple[tuple[str, bytes | None], ...]:
        return tuple(sorted((n, self.definitions.get(n)) for n in names))


@dataclass(frozen=True)
class Reusable:
    """A model as read, and what its reading depended on."""

    key: tuple[Any, ...]  # settings and pragmas it was built with
    top: bytes
    definitions: tuple[tuple[str, bytes | None], ...]
    model: ReadModel
    read_files: frozenset[str]  # the files its build loaded first (the others are the top level's)


class ModelCache:
    """Per file and model, the last reading; bounded, oldest first out."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.entries: dict[tuple[str, str], Reusable] = {}

    def get(self, path: str, name: str, key: tuple[Any, ...], prints: Fingerprints) -> Reusable | None:
        entry = self.entries.get((path, name))
        if entry is None or entry.key != key or entry.top != prints.top:
            return None
        if any(prints.definitions.get(n) != digest for n, digest in entry.definitions):
            return None
        return entry

    def put(self, path: str, name: str, entry: Reusable) -> None:
        self.entries.pop((path, name), None)
        self.entries[(path, name)] = entry
        while len(self.entries) > self.size:
            del self.entries[next(iter(self.entries))]
