"""``importlib``: which packages are installed, their versions, and ``import_module``.

Model libraries choose code paths by what is installed (diffusers' ``is_xformers_available()``
is ``importlib.util.find_spec("xformers") is not None`` and a version read from
``importlib.metadata``). rflint answers as the environment it runs in would, without
importing anything: a package whose source rflint reads is found, a top-level name the
interpreter can locate is found (``find_spec`` on a top-level name imports nothing), and
a version is read from the installed distribution's metadata. torch, which rflint models,
is always there. An isolated reader (tests) cannot tell, and says so.
"""

from __future__ import annotations

import ast
import importlib.metadata
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..loader import MODELLED, environment_has
from ..values import Builtin, Record, Unknown
from ._support import NotKnown, model

if TYPE_CHECKING:
    from ..evaluator import Evaluator


def _installed(ev: "Evaluator", name: str, node: ast.AST) -> bool | Unknown:
    top = name.split(".", 1)[0]
    if top in MODELLED:
        return True
    if ev.finder.find(name, ev.root) is not None:
        return True
    if "." in name:  # find_spec("a.b") imports a: rflint never does
        return ev.unknown(f"whether {name} is installed (a submodule) is not known to rflint", node)
    if not ev.finder.use_installed:
        return ev.unknown(f"whether {name} is installed is not known in an isolated read", node)
    return environment_has(top)


def _find_spec(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    name = args[0] if args else kwargs.get("name")
    if not isinstance(name, str):
        raise NotKnown(ev.unknown("find_spec of a name that is not known", node))
    found = _installed(ev, name, node)
    if isinstance(found, Unknown):
        raise NotKnown(found)
    return Record("ModuleSpec", (("name", name), ("origin", None))) if found else None


@lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    return {k: list(v) for k, v in importlib.metadata.packages_distributions().items()}


def _version(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    name = args[0] if args else kwargs.get("distribution_name")
    if not isinstance(name, str):
        raise NotKnown(ev.unknown("the version of a distribution that is not known", node))
    if not ev.finder.use_installed:
        raise NotKnown(ev.unknown(f"the version of {name} is not known in an isolated read", node))
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ev.fail("PackageNotFoundError", f"No package metadata was found for {name}", node)
    except ValueError as exc:
        return ev.fail("ValueError", str(exc), node)


def _packages(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    if not ev.finder.use_installed:
        raise NotKnown(ev.unknown("the installed distributions are not known in an isolated read", node))
    return {k: list(v) for k, v in _packages_distributions().items()}


def _import_module(ev: "Evaluator", args: list[Any], kwargs: dict[str, Any], node: ast.AST) -> Any:
    name, package = (args + [None, None])[:2]
    if not isinstance(name, str):
        raise NotKnown(ev.unknown("import_module of a name that is not known", node))
    if name.startswith("."):
        from ..loader import resolve_relative

        level = len(name) - len(name.lstrip("."))
        resolved = resolve_relative(package or "", name.lstrip(".") or None, level)
        if resolved is None:
            return ev.fail("ImportError", f"cannot resolve {name} relative to {package}", node)
        name = resolved
    if ev.finder.is_absent(name, ev.root):
        return ev.fail("ModuleNotFoundError", f"No module named '{name.split('.')[0]}'", node)
    return ev.module_value(name)


def _exception(name: str) -> Builtin:
    short = name.rsplit(".", 1)[-1]  # what an except clause matches on
    return Builtin(short, lambda ev, a, k, n: Unknown(f"{name}()"), lambda v: False)


UTIL: dict[str, Any] = {"find_spec": model("importlib.util.find_spec", _find_spec)}

METADATA: dict[str, Any] = {
    "version": model("importlib.metadata.version", _version),
    "packages_distributions": model("importlib.metadata.packages_distributions", _packages),
    "PackageNotFoundError": _exception("importlib.metadata.PackageNotFoundError"),
}

MEMBERS: dict[str, Any] = {"import_module": model("importlib.import_module", _import_module)}
