"""Builders the rule tests share: IR operators with one geometry on every axis, and
locations in a pretend model file."""

from __future__ import annotations

from rflint.ir import Location, TransposedConv, Window

FILE = "model.py"
TYPE = {"conv": "Conv2d", "max_pool": "MaxPool2d", "avg_pool": "AvgPool2d", "pad": "ZeroPad2d"}
"""The class name a reader gives a Window of each kind."""


def loc(line: int, col: int = 9, chain: tuple[str, ...] = ()) -> Location:
    return Location(FILE, line, col, chain=chain)


def _axes(v, nd: int) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def window(k, s=1, d=1, p=0, kind="conv", nd=2) -> Window:
    """A window op with the same geometry on every axis (tuples pass through; ``p`` may be
    an int, a per-axis tuple of ints, or a per-axis tuple of (before, after) pairs)."""
    pads = tuple(pp if isinstance(pp, tuple) else (pp, pp) for pp in _axes(p, nd))
    return Window(kind, _axes(k, nd), _axes(s, nd), _axes(d, nd), pads)


def tconv(k, s, p=0, op=0, d=1, nd=2) -> TransposedConv:
    return TransposedConv(_axes(k, nd), _axes(s, nd), _axes(d, nd), _axes(p, nd), _axes(op, nd))
