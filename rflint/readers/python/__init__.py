"""The static Python reader (see reader.py). It never imports or runs the code it reads."""

from .reader import build_entry, read_python

__all__ = ["build_entry", "read_python"]
