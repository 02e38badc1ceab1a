"""Rules of the CC family (see ../shared/RULES.md)."""
