"""``contextlib``: ``nullcontext``, ``suppress``, ``contextmanager``, ``ExitStack``.

A ``with`` statement runs its body; the value bound by ``as`` is the context
manager's ``__enter__`` result, which these models know."""

from __future__ import annotations

from typing import Any

from ..values import Builtin, Unknown
from ._support import constant, model


def context(name: str, entered: Any) -> Builtin:
    """A context manager whose ``__enter__`` gives ``entered`` and whose exit does nothing."""
    return Builtin(name, constant(Unknown(f"{name}()")), None, {
        "__enter__": model(f"{name}.__enter__", constant(entered)),
        "__exit__": model(f"{name}.__exit__", constant(None)),
    })


MEMBERS: dict[str, Any] = {
    "nullcontext": model("contextlib.nullcontext", lambda ev, a, k, n: context("nullcontext", a[0] if a else k.get("enter_result"))),
    "suppress": model("contextlib.suppress", constant(context("suppress", None))),
    "contextmanager": model("contextlib.contextmanager", lambda ev, a, k, n: a[0] if a else None),
    "ExitStack": model("contextlib.ExitStack", constant(context("ExitStack", Unknown("an ExitStack")))),
    "redirect_stdout": model("contextlib.redirect_stdout", constant(context("redirect_stdout", None))),
}
