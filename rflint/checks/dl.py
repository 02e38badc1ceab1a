"""Rules of the DL family (see ../shared/RULES.md)."""
