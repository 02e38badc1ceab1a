"""``enum``: classes derived from ``Enum`` (and its kin) whose class attributes are
members with a ``name`` and a ``value``, one object per member (``is`` works)."""

from __future__ import annotations

from typing import Any

from ..values import Builtin, ClassValue, Record, Unknown
from ._support import constant, model

_AUTO = Record("enum.auto", ())

ENUM_BASES = ("enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag")


def is_enum_class(cls: ClassValue) -> bool:
    return any(isinstance(b, Builtin) and b.name in ENUM_BASES for c in cls.mro() for b in c.bases)


def member(cls: ClassValue, name: str, value: Any, members: dict[str, Record]) -> Record:
    """The member ``cls.name`` (``members`` keeps one object per name)."""
    if name not in members:
        if value is _AUTO:
            value = list(members).index(name) + 1 if name in members else len(members) + 1
        members[name] = Record(f"{cls.name}", (("name", name), ("value", value)))
    return members[name]


MEMBERS: dict[str, Any] = {
    name.split(".")[1]: model(name, constant(Unknown(f"{name}() lookup by value")), lambda v: Unknown("isinstance against an enum"))
    for name in ENUM_BASES
}
MEMBERS["auto"] = model("enum.auto", constant(_AUTO))
MEMBERS["unique"] = model("enum.unique", lambda ev, a, k, n: a[0] if a else None)
