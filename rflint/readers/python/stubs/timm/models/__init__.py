"""rflint stand-in for timm.models (only its layers are provided)."""
