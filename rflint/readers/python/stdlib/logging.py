"""``logging`` and ``warnings``: nothing they do changes a model's geometry."""

from __future__ import annotations

from typing import Any

from ..values import Builtin
from ._support import constant, model

_SILENT = ("debug", "info", "warning", "warn", "error", "exception", "critical", "log", "setLevel", "addHandler",
           "removeHandler", "isEnabledFor", "propagate")
LOGGER = Builtin("logging.Logger", constant(None), None, {name: model(f"Logger.{name}", constant(None)) for name in _SILENT})
LOGGER.members["isEnabledFor"] = model("Logger.isEnabledFor", constant(False))  # type: ignore[index]

LOGGING: dict[str, Any] = {
    "getLogger": model("logging.getLogger", constant(LOGGER)),
    **{name: model(f"logging.{name}", constant(None)) for name in ("debug", "info", "warning", "error", "basicConfig")},
    **{level: value for level, value in (("DEBUG", 10), ("INFO", 20), ("WARNING", 30), ("ERROR", 40), ("CRITICAL", 50))},
}
WARNINGS: dict[str, Any] = {
    name: model(f"warnings.{name}", constant(None)) for name in ("warn", "filterwarnings", "simplefilter", "resetwarnings")
}
WARNINGS["catch_warnings"] = model("warnings.catch_warnings", constant(None))
