"""rflint stand-in package for timm (see ../README.md)."""
