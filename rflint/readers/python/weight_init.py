"""Weight-initialisation loops, recognised by their text and not run.

Nearly every model ends its constructor with a loop over its own modules that
initialises weights::

    for m in self.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)

Weights never move a receptive field, and the evaluator already treats each such
call as doing nothing; but running the loop visits every module of the network
and tests each against every branch: a tenth of the time of building a timm
ResNet. A loop is skipped only when its text proves it changes nothing the
reader sees: it iterates over a module's own ``modules()``-like listing, its
tests only ask what a module is, and its statements only call initialisers,
assign local names or leave the iteration. Anything else (``m.stride = 2``, a
method called on each module) and the loop runs as written.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

LISTINGS = frozenset(("modules", "named_modules", "children", "named_children", "parameters", "named_parameters"))
"""Methods whose loop visits the network's own parts."""

INITIALISERS = frozenset((
    "normal_", "uniform_", "zeros_", "ones_", "constant_", "fill_", "zero_", "eye_", "dirac_", "orthogonal_",
    "sparse_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_",
    "trunc_normal_tf_", "lecun_normal_", "variance_scaling_", "uniform", "normal", "constant", "xavier_uniform",
    "xavier_normal", "kaiming_uniform", "kaiming_normal", "clamp_", "mul_", "add_", "div_",
))
"""In-place fills of a tensor's values (``torch.nn.init``'s and timm's), by their last name."""

QUESTIONS = frozenset(("isinstance", "hasattr", "getattr", "type", "len", "callable", "issubclass"))
"""Calls a test may make: they ask what something is, and change nothing."""


def is_weight_init_loop(stmt: ast.For) -> bool:
    """Whether ``stmt`` is a loop over a module's parts that only initialises weights."""
    it = stmt.iter
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr in LISTINGS):
        return False
    if stmt.orelse or not _names_only(stmt.target):
        return False
    return all(_inert(s) for s in stmt.body)


def _names_only(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, (ast.Tuple, ast.List)) and all(_names_only(e) for e in target.elts)


def _inert(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Pass, ast.Continue)):
        return True
    if isinstance(stmt, ast.If):
        return _question(stmt.test) and all(_inert(s) for s in stmt.body) and all(_inert(s) for s in stmt.orelse)
    if isinstance(stmt, ast.Expr):
        return isinstance(stmt.value, ast.Constant) or _initialiser(stmt.value)
    if isinstance(stmt, ast.Assign):
        return all(isinstance(t, ast.Name) for t in stmt.targets) and _question(stmt.value, calls=_initialiser)
    return False


def _initialiser(expr: ast.expr) -> bool:
    """``nn.init.kaiming_normal_(m.weight, ...)``, ``m.bias.data.zero_()``: a call whose
    callee's last name is an initialiser, on arguments that call nothing else."""
    if not isinstance(expr, ast.Call):
        return False
    func = expr.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name not in INITIALISERS:
        return False
    parts = [*expr.args, *(k.value for k in expr.keywords)]
    if isinstance(func, ast.Attribute):
        parts.append(func.value)
    return all(_question(p) for p in parts)


def _question(expr: ast.expr, calls: Callable[[ast.Call], bool] | None = None) -> bool:
    """An expression that changes nothing: names, attributes, constants, arithmetic,
    comparisons and the calls of QUESTIONS (or those ``calls`` accepts)."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in QUESTIONS:
                continue
            if isinstance(func, ast.Attribute) and func.attr in ("sqrt", "log", "prod", "startswith", "endswith", "numel",
                                                                  "size", "dim"):
                continue  # math.sqrt, fan computations, name tests
            if calls is not None and calls(node):
                continue
            return False
        if isinstance(node, (ast.NamedExpr, ast.Lambda, ast.Yield, ast.YieldFrom, ast.Await,
                             ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return False
    return True
