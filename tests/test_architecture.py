"""The import graph is one-way, and the check path stays light: read from the source, not run.

CLI and language server -> API -> readers, rules, formats -> the core (IR and
receptive-field algebra). The core imports none of the others, readers and rules
never import each other (nor one reader another), and no module of rflint
imports torch, onnx, pygls or libcst at module level.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rflint"
CORE = {"rflint.ir", "rflint.rf", "rflint.analysis", "rflint.diagnostics", "rflint.settings", "rflint.layer_key",
        "rflint"}
HEAVY = {"torch", "torchvision", "onnx", "onnxscript", "pygls", "lsprotocol", "libcst", "rich", "numpy"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module imported, whether at module level) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = set(map(id, tree.body))
    # `if TYPE_CHECKING:` blocks never run.
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            top -= {id(s) for s in ast.walk(stmt)}
    top_level = {id(s) for stmt in tree.body if id(stmt) in top and isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Try, ast.If))
                 for s in ast.walk(stmt)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if node.module is None or node.level and not node.module:
                found += [(f"{module}.{alias.name}", id(node) in top_level) for alias in node.names]
            else:
                found.append((module, id(node) in top_level))
    return found


# The stand-ins under readers/python/stubs are model *source* the evaluator reads, never imports.
MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "stubs" not in p.relative_to(PACKAGE).parts}


def _layer(module: str) -> str:
    if module in CORE:
        return "core"
    for prefix, layer in (("rflint.readers.", "readers"), ("rflint.checks", "rules"), ("rflint.formats", "formats"),
                          ("rflint.api", "api"), ("rflint.cli", "cli"), ("rflint.lsp", "cli"), ("rflint.__main__", "cli")):
        if module == prefix.rstrip(".") or module.startswith(prefix):
            return layer
    return "support"  # config, discovery, cache, fixes, pages: used by the API and the front ends


ALLOWED = {
    "core": {"core"},
    "readers": {"core", "readers"},
    "rules": {"core", "rules"},
    "formats": {"core", "formats", "rules", "support"},  # SARIF lists the rules' metadata
    "support": {"core", "support"},
    "api": {"core", "readers", "rules", "formats", "support", "api"},
    "cli": {"core", "readers", "rules", "formats", "support", "api", "cli"},
}


def _reader_family(module: str) -> str:
    """Which reader a module belongs to: python/, spec, onnx*, torch*; base and pragma are shared."""
    rest = module.removeprefix("rflint.readers.")
    head = rest.split(".")[0]
    for family in ("python", "spec", "onnx", "torch"):
        if head.startswith(family):
            return family
    return head


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module: str) -> None:
    layer = _layer(module)
    for imported, _ in _imports(MODULES[module]):
        if not imported.startswith("rflint"):
            continue
        target = imported
        while target not in MODULES and "." in target:
            target = target.rpartition(".")[0]  # `from .x import name` names a symbol
        assert _layer(target) in ALLOWED[layer], f"{module} ({layer}) imports {target} ({_layer(target)})"
        if layer == "readers" and _layer(target) == "readers":
            family = _reader_family(module)
            assert _reader_family(target) in (family, "base", "pragma"), f"reader {module} imports reader {target}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_heavy_imports_at_module_level(module: str) -> None:
    heavy = sorted({name for name, top in _imports(MODULES[module]) if top and name.split(".")[0] in HEAVY})
    if module in ("rflint.lsp", "rflint.readers.onnx") or module.startswith(("rflint.readers.onnx_", "rflint.readers.torch")):
        # Reached only lazily, by the server command or for the file types that need them
        # (tests/test_cli.py checks the check path under an import guard).
        heavy = [h for h in heavy if h.split(".")[0] not in {"pygls", "lsprotocol", "onnx", "numpy"}]
    assert heavy == [], f"{module} imports {heavy} at module level"


def test_the_layers_are_found() -> None:
    """The test above must see real modules of every layer, or it proves nothing."""
    layers = {_layer(m) for m in MODULES}
    assert layers >= {"core", "readers", "rules", "formats", "support", "api", "cli"}
    assert any(imported == "rflint.ir" for imported, _ in _imports(MODULES["rflint.analysis"]))


def test_no_two_parts_of_the_evaluator_define_the_same_method() -> None:
    """The evaluator is one class composed of mixins (statements, expressions, attributes,
    calls...): a method two of them define is silently shadowed by the first in the MRO
    (a decorator runner once named ``_register`` replaced ``register_buffer``'s)."""
    from rflint.readers.python.evaluator import Evaluator

    owners: dict[str, list[str]] = {}
    for part in Evaluator.__mro__:
        for name, value in vars(part).items():
            if callable(value) and not (name.startswith("__") and name.endswith("__")):
                owners.setdefault(name, []).append(part.__name__)
    assert {name: parts for name, parts in owners.items() if len(parts) > 1} == {}
