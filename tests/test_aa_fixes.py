"""AA102's unsafe fixes (rflint/checks/aa_fix.py): a strided max pool becomes a dense max
and a box blur with the stride; an average pool narrower than its stride widens. Each
fixed file parses, no longer raises AA102 on that line, and the real module (torch)
gives the same output shapes at several input sizes. Where the call is not written with
literals by a dotted name, no fix is offered."""

from __future__ import annotations

import ast
import importlib.util
import textwrap
from pathlib import Path

import pytest

from rflint.api import check_text
from rflint.checks.aa_fix import box_for
from rflint.fixes import apply_edits

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def _module(layer: str, forward: str = "return self.pool(self.conv(x))") -> str:
    return HEAD + textwrap.dedent(f"""

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 3, padding=1)
                self.pool = {layer}

            def forward(self, x):
                {forward}
    """)


def _aa102(src: str) -> list:
    return [d for d in check_text("m.py", src) if d.code == "AA102"]


def _fixed(src: str) -> str:
    (d,) = _aa102(src)
    assert d.fix is not None and not d.fix.safe
    return apply_edits(src, d.fix.edits)


def _shapes(tmp: Path, src: str, name: str) -> list[tuple[int, ...]]:
    path = tmp / f"{name}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the test, not rflint, runs the model
    net = module.Net()
    import torch

    return [tuple(net(torch.zeros(1, 3, n, n + 5)).shape) for n in (5, 6, 7, 8, 15, 32)]


def test_box_for_strides() -> None:
    assert [box_for(s) for s in (2, 3, 4, 5)] == [(3, 1), (3, 1), (5, 2), (5, 2)]


CASES = {
    "keywords": ("nn.MaxPool2d(kernel_size=3, stride=2, padding=1)",
                 ("nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1), "
                 "nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False))")),
    "positional": ("nn.MaxPool2d(3, 2, 1)",
                   "nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False))"),
    "stride from the kernel": ("torch.nn.MaxPool2d(2)",
                               ("torch.nn.Sequential(torch.nn.MaxPool2d(2, stride=1), "
                               "torch.nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False))")),
    "stride 3, dilation": ("nn.MaxPool2d(kernel_size=3, stride=3, dilation=2)",
                           ("nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, dilation=2), "
                           "nn.AvgPool2d(kernel_size=3, stride=3, padding=1, count_include_pad=False))")),
    "stride 4": ("nn.MaxPool2d(4, stride=4)",
                 "nn.Sequential(nn.MaxPool2d(4, stride=1), nn.AvgPool2d(kernel_size=5, stride=4, padding=2, count_include_pad=False))"),
    "narrow average": ("nn.AvgPool2d(kernel_size=1, stride=2)",
                       "nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False)"),
    "narrow average, padded": ("nn.AvgPool2d(2, 4, 1, count_include_pad=False)",
                               "nn.AvgPool2d(4, 4, 2, count_include_pad=False)"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fix_keeps_output_sizes_and_clears_the_finding(tmp_path: Path, name: str) -> None:
    layer, expected = CASES[name]
    src = _module(layer)
    fixed = _fixed(src)
    assert f"self.pool = {expected}\n" in fixed
    ast.parse(fixed)
    assert _aa102(fixed) == []
    assert not [d for d in check_text("m.py", fixed) if d.code.startswith("AA")]
    assert _shapes(tmp_path, src, "before") == _shapes(tmp_path, fixed, "after")


def test_functional_max_pool_fix(tmp_path: Path) -> None:
    src = _module("nn.Identity()", "return F.max_pool2d(self.conv(x), 3, 2, 1)")
    fixed = _fixed(src)
    assert ("return F.avg_pool2d(F.max_pool2d(self.conv(x), 3, 1, 1), "
            "kernel_size=3, stride=2, padding=1, count_include_pad=False)") in fixed
    assert _aa102(fixed) == []
    assert _shapes(tmp_path, src, "f_before") == _shapes(tmp_path, fixed, "f_after")


def test_fix_over_several_lines_with_a_trailing_comma(tmp_path: Path) -> None:
    src = _module("nn.MaxPool2d(\n            kernel_size=3,\n            stride=2,\n        )")
    fixed = _fixed(src)
    ast.parse(fixed)
    assert _aa102(fixed) == []
    assert _shapes(tmp_path, src, "t_before") == _shapes(tmp_path, fixed, "t_after")


@pytest.mark.parametrize(
    "layer",
    [
        "MaxPool2d(3, stride=2)",  # a bare name: Sequential may not be imported
        "nn.MaxPool2d(3, stride=2, ceil_mode=True)",  # another output size rule
        "nn.MaxPool2d(3, stride=2, return_indices=True)",  # a tuple result
        "nn.MaxPool2d(3, stride=(2, 1))",  # strides that differ per axis
        "nn.AvgPool2d(1, stride=2, count_include_pad=True)",  # zeros counted in on purpose
        "nn.AvgPool2d(1, stride=2, divisor_override=1)",
    ],
)
def test_no_fix_where_the_rewrite_is_not_mechanical(layer: str) -> None:
    src = _module(layer).replace("import torch.nn.functional as F\n", "import torch.nn.functional as F\nfrom torch.nn import MaxPool2d\n")
    found = _aa102(src)
    assert found and all(d.fix is None for d in found)


def test_no_fix_through_a_helper_parameter_or_differing_uses() -> None:
    src = HEAD + textwrap.dedent("""

        def pool(s):
            return nn.MaxPool2d(3, stride=s, padding=1)


        def pool2(k):
            return nn.MaxPool2d(k, stride=2)


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = pool(2), pool2(2)
                self.c = pool2(3)

            def forward(self, x):
                return self.c(self.b(self.a(x)))
    """)
    found = _aa102(src)
    assert len(found) == 2 and all(d.fix is None for d in found)


def test_the_rule_page_shows_what_the_fix_makes_of_its_example() -> None:
    from rflint import pages

    (bad,), good = pages.examples("AA102")
    assert apply_edits(bad, _aa102(bad)[0].fix.edits) == good[-1]


def test_the_reader_records_count_include_pad() -> None:
    """PD103 counts an AvgPool's padding as zeros unless ``count_include_pad=False``: the box
    the fix adds must be read as averaging real values only."""
    from rflint.readers.python import read_python

    src = _module("nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)")
    (model,) = read_python("m.py", src).models
    (pool,) = [n for n in model.graph.nodes if n.type_name == "AvgPool2d"]
    assert pool.attrs["count_include_pad"] is False
