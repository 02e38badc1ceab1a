"""rflint stand-in: timm's old import path for its layers."""

from timm.layers import *  # noqa: F401,F403
