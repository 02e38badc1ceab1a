"""rflint stand-in: BlurPool2d is modelled by rflint itself (a fixed low-pass filter)."""
