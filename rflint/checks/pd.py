"""Rules of the PD family (see ../shared/RULES.md)."""
