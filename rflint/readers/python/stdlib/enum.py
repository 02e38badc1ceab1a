"""``enum``: classes derived from ``Enum`` (and its kin) whose class attributes are
members with a ``name`` and a ``value``, one object per member (``is`` works).
``Format('NHWC')`` looks a member up by value; a member of a ``str`` or ``int``
enum (``class Format(str, Enum)``) equals its value, as in Python.
"""

from __future__ import annotations

from typing import Any

from ..values import Builtin, ClassValue, Record, Unknown
from ._support import constant, model

_AUTO = Record("enum.auto", ())

ENUM_BASES = ("enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag")


class EnumMember:
    """One member of an enum class the evaluator reads."""

    __slots__ = ("cls", "name", "value", "mixed")

    def __init__(self, cls: ClassValue, name: str, value: Any, mixed: bool) -> None:
        self.cls, self.name, self.value, self.mixed = cls, name, value, mixed

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EnumMember):
            return self is other
        return self.mixed and self.value == other  # a str/int enum member equals its value

    def __hash__(self) -> int:
        return hash(self.value) if self.mixed else id(self)

    def __repr__(self) -> str:
        return f"<{self.cls.name}.{self.name}: {self.value!r}>"


def is_enum_class(cls: ClassValue) -> bool:
    return any(isinstance(b, Builtin) and b.name in ENUM_BASES for c in cls.mro() for b in c.bases)


def _mixed(cls: ClassValue) -> bool:
    """A member is also a str or int (``class Format(str, Enum)``, ``IntEnum``)."""
    return any(isinstance(b, Builtin) and b.name in ("str", "int", "enum.IntEnum", "enum.StrEnum", "enum.IntFlag")
               for c in cls.mro() for b in c.bases)


def member(cls: ClassValue, name: str, value: Any, members: dict[str, EnumMember]) -> EnumMember:
    """The member ``cls.name`` (``members`` keeps one object per name)."""
    if name not in members:
        if value is _AUTO:
            value = len(members) + 1
        members[name] = EnumMember(cls, name, value, _mixed(cls))
    return members[name]


def lookup(ev: Any, cls: ClassValue, value: Any, node: Any) -> Any:
    """``Cls(value)``: the member with that value (or the member itself)."""
    if isinstance(value, EnumMember) and value.cls is cls:
        return value
    for name in cls.class_attrs:
        if name.startswith("_"):
            continue
        m = ev.get_attr(cls, name, node)
        if isinstance(m, EnumMember) and (m.value == value or m is value):
            return m
    return ev.fail("ValueError", f"{value!r} is not a valid {cls.name}", node)


def member_attribute(m: EnumMember, name: str) -> Any:
    if name == "name":
        return m.name
    if name == "value":
        return m.value
    return None


def _instance_of(base: str) -> Any:
    """``isinstance(v, enum.Enum)`` (or IntEnum...): a member of an enum class derived from it."""
    def check(v: Any) -> bool:
        if not isinstance(v, EnumMember):
            return False
        return base == "enum.Enum" or any(isinstance(b, Builtin) and b.name == base for c in v.cls.mro() for b in c.bases)
    return check


MEMBERS: dict[str, Any] = {
    name.split(".")[1]: model(name, constant(Unknown(f"{name}() lookup by value")), _instance_of(name))
    for name in ENUM_BASES
}
MEMBERS["auto"] = model("enum.auto", constant(_AUTO))
MEMBERS["unique"] = model("enum.unique", lambda ev, a, k, n: a[0] if a else None)
MEMBERS["EnumMeta"] = MEMBERS["EnumType"] = model(
    "enum.EnumMeta", lambda ev, a, k, n: ev.unknown("creating an enum class with EnumMeta() is not modelled", n),
    lambda v: isinstance(v, ClassValue) and is_enum_class(v))
