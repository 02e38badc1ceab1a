"""Weight-initialisation loops are recognised by their text (weight_init.py) and not
run; every other loop over a module's parts runs as written."""

from __future__ import annotations

import ast
import textwrap

import pytest

from rflint.readers.python.weight_init import is_weight_init_loop

SKIPPED = {
    "torchvision's ResNet": """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
    """,
    "a fan computed on the way (torchvision's EfficientNet)": """
        for m in self.modules():
            if isinstance(m, nn.Linear):
                init_range = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -init_range, init_range)
                if m.bias is not None:
                    m.bias.data.zero_()
    """,
    "timm's named_modules": """
        for n, m in self.named_modules():
            if isinstance(m, nn.Conv2d):
                trunc_normal_(m.weight, std=.02)
    """,
}

RUN = {
    "a forward over the children": """
        for block in self.children():
            x = block(x)
    """,
    "a geometry change": """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                m.stride = (2, 2)
    """,
    "a method of each module": """
        for m in self.modules():
            if hasattr(m, "zero_init_last"):
                m.zero_init_last()
    """,
    "a list filled": """
        for n, _ in self.named_parameters():
            if "bias" in n:
                names.append(n)
    """,
    "an initialiser on a value a call makes": """
        for m in self.modules():
            nn.init.zeros_(build(m).weight)
    """,
    "a loop over something else": """
        for m in layers:
            nn.init.zeros_(m.weight)
    """,
}


def _loop(source: str) -> ast.For:
    node = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(node, ast.For)
    return node


@pytest.mark.parametrize("name", list(SKIPPED))
def test_initialisation_loops_are_recognised(name: str) -> None:
    assert is_weight_init_loop(_loop(SKIPPED[name]))


@pytest.mark.parametrize("name", list(RUN))
def test_other_loops_over_modules_are_run(name: str) -> None:
    assert not is_weight_init_loop(_loop(RUN[name]))
