"""Rules of the NM family (see ../shared/RULES.md)."""
