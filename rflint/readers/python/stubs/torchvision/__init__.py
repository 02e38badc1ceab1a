"""rflint stand-in package (see ../README.md)."""
