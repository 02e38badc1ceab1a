"""Which evaluator is reading now, in this thread.

Values that outlive the file that made them (the classes and registries of a module
shared by every file of a run) evaluate lazily with the evaluator reading now: the
one that made them has finished, its budget spent, and must not be kept alive by them
(it holds the whole file's reading).
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .evaluator import Evaluator

_ACTIVE = threading.local()


def set_active(ev: "Evaluator") -> None:
    """``ev`` is the evaluator reading now (in this thread)."""
    _ACTIVE.ref = weakref.ref(ev)


def active() -> "Evaluator | None":
    """The evaluator reading now, if it is still alive."""
    ref = getattr(_ACTIVE, "ref", None)
    return ref() if ref is not None else None
