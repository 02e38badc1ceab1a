"""``os``, ``os.path`` and ``sys``: what model code reads of its environment.

``os.environ.get(name, default)`` and ``os.getenv`` give the default: rflint reads
the code as it runs with the variable unset, and says so once per variable (an
assumption, reported with ``--show-unresolved``). Paths are strings; nothing on
the file system is looked at.
"""

from __future__ import annotations

import ast
import posixpath
import sys
from typing import TYPE_CHECKING, Any

from ..values import Builtin, ExternalRef, Unknown
from ._support import function, model

if TYPE_CHECKING:
    from ..evaluator import Evaluator


def _getenv(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    name = args[0] if args else kwargs.get("key")
    default = args[1] if len(args) > 1 else kwargs.get("default")
    ev.assume(f"environment variable {name} is unset (its default is used)", node)
    return default


def _environ_item(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    return Unknown(f"environment variable {args[0]!r} (not read by the static reader)")


ENVIRON = Builtin("os.environ", lambda ev, a, k, n: Unknown("os.environ()"), None, {
    "get": model("os.environ.get", _getenv),
    "__getitem__": model("os.environ[]", _environ_item),
    "__contains__": model("in os.environ", lambda ev, a, k, n: False),
    "setdefault": model("os.environ.setdefault", lambda ev, a, k, n: a[1] if len(a) > 1 else None),
})

_PATH_PURE = ("join", "basename", "dirname", "splitext", "split", "normpath", "splitdrive")
PATH: dict[str, Any] = {name: function(f"os.path.{name}", getattr(posixpath, name)) for name in _PATH_PURE}
for _name in ("exists", "isfile", "isdir", "getsize", "abspath", "realpath", "expanduser", "getmtime"):
    PATH[_name] = model(f"os.path.{_name}", lambda ev, a, k, n, _n=_name: Unknown(f"os.path.{_n} looks at the file system"))
PATH["sep"] = "/"

MEMBERS: dict[str, Any] = {
    "environ": ENVIRON,
    "getenv": model("os.getenv", _getenv),
    "sep": "/",
    "name": "posix",
    "path": ExternalRef("os.path"),
}

SYS: dict[str, Any] = {
    "version_info": sys.version_info[:3],
    "version": sys.version.split()[0],
    "platform": "linux",
    "maxsize": sys.maxsize,
    "byteorder": sys.byteorder,
    "modules": Builtin("sys.modules", lambda ev, a, k, n: Unknown("sys.modules()"), None, {
        "__getitem__": model("sys.modules[]", lambda ev, a, k, n: ev.module_value(a[0]) if isinstance(a[0], str) else Unknown("sys.modules[?]")),
        "get": model("sys.modules.get", lambda ev, a, k, n: ev.module_value(a[0]) if a and isinstance(a[0], str) else Unknown("sys.modules.get")),
    }),
}
