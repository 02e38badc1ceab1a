"""rflint: exact receptive fields and architecture lint for convolutional models, statically."""

__version__ = "0.1.0"
