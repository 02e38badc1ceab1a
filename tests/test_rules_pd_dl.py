"""Unit tests of the padding rules PD101-PD104 and the dilation rule DL101, and their
verdicts on torchvision's ResNet source.

Graphs are built by hand with GraphBuilder (or read from small sources through
``rflint.api.check_text``). Every expected number is derived by hand in the
comment next to it, from the definitions of RULES.md and DESIGN.md:

- output size ``n_out = floor((n + p_l + p_r - K)/s) + 1``; far-side padding used
  ``far = (n_out - 1)*s + K - n - p_l``;
- the frame centre of a stride-1 layer's output ``o`` is ``o - p_l + (K - 1)/2``
  in its input's pixels;
- the impact of the model output (the analytic ERF): every output position
  weighs the same, a layer with ``k`` taps passes ``1/k`` of an output's weight
  to each input position it reads; what a tap sends into zero padding is lost.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
from graphs import TYPE, loc
from graphs import window as win

from rflint.analysis import analyse
from rflint.api import check_text
from rflint.checks.base import ModelContext, Rule, all_rules, run_rules
from rflint.checks.dl import holes, support
from rflint.checks.pd import impact
from rflint.config import default_config
from rflint.diagnostics import Diagnostic, Edit, Severity
from rflint.fixes import apply_edits
from rflint.ir import (
    Global,
    GraphBuilder,
    Merge,
    Pointwise,
    Resample,
    TransposedConv,
    Window,
)
from rflint.settings import ModelSettings


def seq(*ops, lines=None, attrs=None, complete=True):
    """A sequential graph, one op per line from line 10 (or at the given lines)."""
    b = GraphBuilder()
    x = b.input()
    for i, op in enumerate(ops):
        if isinstance(op, Window):
            type_name = TYPE[op.kind]
        elif isinstance(op, TransposedConv):
            type_name = "ConvTranspose2d"
        else:
            type_name = type(op).__name__
        line = lines[i] if lines else 10 + i
        x = b.add(op, [x], type_name, loc=loc(line), attrs=(attrs or {}).get(i))
    return b.build("Net", [("out", x)], loc=loc(1, 1), complete=complete)


def run(graph, code: str, settings: ModelSettings = ModelSettings()) -> list[Diagnostic]:
    cls = all_rules()[code]
    ctx = ModelContext(graph, analyse(graph, settings.input_size), settings)
    found, errors = run_rules(ctx, [cls()])
    assert not errors, errors
    return sorted(found, key=Diagnostic.sort_key)


def at(n, **kw) -> ModelSettings:
    return ModelSettings(input_size=n if isinstance(n, tuple) else (n,), **kw)


def apply(source: str, edits: tuple[Edit, ...]) -> str:
    return apply_edits(source, edits)


def config(*codes: str, **keys):
    return default_config().with_overrides(select=list(codes), **keys)


# --------------------------------------------------------------------------- registry


def test_registered_with_catalogue_names_and_severities():
    rules = all_rules()
    expected = {
        "PD101": ("uneven-padding", Severity.INFO, True),
        "PD102": ("input-rows-never-read", Severity.WARNING, True),
        "PD103": ("zero-padding-border", Severity.INFO, True),
        "PD104": ("even-kernel-shift", Severity.WARNING, False),
        "DL101": ("dilation-gridding", Severity.WARNING, False),
    }
    for code, (name, severity, complete) in expected.items():
        cls: type[Rule] = rules[code]
        assert (cls.name, cls.severity, cls.needs_complete_graph) == (name, severity, complete)
        assert cls.summary and cls.enabled_by_default
    # The rules that need a number the user did not give stay quiet without it.
    for code in ("PD101", "PD102", "PD103"):
        assert not rules[code]().applicable(ModelSettings())
        assert rules[code]().applicable(ModelSettings(input_size=(224,)))
    assert rules["PD104"]().applicable(ModelSettings())
    assert rules["DL101"]().applicable(ModelSettings())


# --------------------------------------------------------------------------- PD101


def test_pd101_fires_with_pads_and_nearest_sizes():
    # k=3, s=2, p=1 at n=8: n_out = (8+2-3)//2 + 1 = 4, far = 3*2 + 3 - 8 - 1 = 0: (1, 0).
    # Odd n: n_out = (n+1)/2, far = (n-1) + 3 - n - 1 = 1 = p_l, even; even n gives 0. Nearest odd: 7, 9.
    g = seq(win(3, 2, p=1))
    [d] = run(g, "PD101", at(8))
    assert d.code == "PD101" and d.severity == Severity.INFO and d.loc == loc(10)
    assert "Conv2d(kernel_size=3, stride=2, padding=1) uses its padding unevenly at input 8" in d.message
    assert "(left, used-right) = (1, 0) on its 8x8 input" in d.message
    assert "0.5 px (of its input) off-centre" in d.message  # (1 - 0)/2
    assert "The nearest input sizes with every strided layer using its padding evenly: 7 and 9." in d.message


def test_pd101_boundary_odd_input_is_even():
    assert run(seq(win(3, 2, p=1)), "PD101", at(9)) == []  # far = 8 + 3 - 9 - 1 = 1 = p_l


def test_pd101_needs_input_size():
    assert run(seq(win(3, 2, p=1)), "PD101") == []


def test_pd101_dense_tasks_warn():
    g = seq(win(3, 2, p=1))
    for task in ("segmentation", "dense", "keypoints"):
        [d] = run(g, "PD101", at(8, task=task))
        assert d.severity == Severity.WARNING
    for task in ("classification", "detection"):
        [d] = run(g, "PD101", at(8, task=task))
        assert d.severity == Severity.INFO


def test_pd101_resnet_stack_suggests_32m_plus_1():
    # conv7 s2 p3, maxpool3 s2 p1, three conv3 s2 p1 (the last three on one helper line, 20).
    # At 224: conv1 n_out = (224+6-7)//2+1 = 112, far = 111*2+7-224-3 = 2 -> (3, 2);
    # maxpool on 112: 56, far = 55*2+3-112-1 = 0 -> (1, 0); convs on 56, 28, 14: far = 0 -> (1, 0).
    # Each layer k = 2p+1, s = 2 is even iff its input is odd (far = p, else p - 1); the chain
    # n -> (n+1)/2 stays odd five times iff n = 32m + 1: the nearest are 193 and 225.
    ops = (win(7, 2, p=3), win(3, 2, p=1, kind="max_pool"), win(3, 2, p=1), win(3, 2, p=1), win(3, 2, p=1))
    g = seq(*ops, lines=[10, 11, 20, 20, 20])
    found = run(g, "PD101", at(224))
    assert [d.loc.line for d in found] == [10, 11, 20]
    conv1, pool, helper = found
    assert "(left, used-right) = (3, 2) on its 224x224 input" in conv1.message
    assert "MaxPool2d(kernel_size=3, stride=2, padding=1)" in pool.message
    assert "(left, used-right) = (1, 0) on its 112x112 input" in pool.message
    assert "(1, 0) on its 56x56, 28x28 and 14x14 inputs" in helper.message  # one finding per line
    for d in found:
        assert "The nearest input sizes with every strided layer using its padding evenly: 193 and 225." in d.message
    assert run(g, "PD101", at(225)) == []
    assert run(g, "PD101", at(193)) == []


def test_pd101_per_axis_sizes():
    # H = 224 is uneven at conv1 (3, 2); W = 225 is even everywhere (see above).
    g = seq(win(7, 2, p=3), win(3, 2, p=1))
    [d, e] = run(g, "PD101", at((224, 225)))
    assert "(left, used-right) = H (3, 2) on its 224x225 input" in d.message
    # conv2 on H: 112 -> far = 55*2+3-112-1 = 0: (1, 0); on W: 113 -> 57, far = 56*2+3-113-1 = 1.
    assert "H (1, 0) on its 112x113 input" in e.message
    # H: n and (n+1)/2 odd: n = 4m + 1 -> 221, 225. W is even as configured.
    assert "H 221 and 225, W 225 (as configured)" in d.message
    # The near border gets more padding than the far one: (3 - 2)/2 = 0.5 px off-centre.
    assert "the near border gets more padding than the far one, and the sampling grid sits 0.5 px" in d.message


def test_pd101_far_border_padded_more():
    # maxpool k3 s2 p0 ceil_mode at 8: n_out = (8-3+1)//2+1 = 4 (last start 6 < 8), far = 6+3-8 = 1: (0, 1).
    g = seq(Window("max_pool", (3, 3), (2, 2), (1, 1), ((0, 0), (0, 0)), ceil_mode=True))
    [d] = run(g, "PD101", at(8))
    assert "(left, used-right) = (0, 1) on its 8x8 input" in d.message
    assert "reaches further into the far border's padding" in d.message and "0.5 px" in d.message


def test_pd101_axes_grouped_in_3d():
    # (1, 3, 3) stride (1, 2, 2) padding (0, 1, 1) on 8x8x8: D is not strided; H and W use (1, 0).
    g = seq(win((1, 3, 3), (1, 2, 2), p=(0, 1, 1), nd=3))
    [d] = run(g, "PD101", at(8))
    assert "(left, used-right) = H and W (1, 0) on its 8x8x8 input" in d.message


def test_pd101_false_positives():
    # Kernel narrower than the stride (ST101's business): 1x1 stride 2, p=1 at 8:
    # n_out = (8+2-1)//2+1 = 5, far = 8+1-8-1 = 0 != 1, but K = 1 < s = 2.
    assert run(seq(win(1, 2, p=1)), "PD101", at(8)) == []
    # Stride 1 with asymmetric explicit padding ('same' for an even kernel): not a strided layer.
    assert run(seq(win(2, 1, p=((0, 1), (0, 1)))), "PD101", at(8)) == []
    # Negative far padding (real rows never read) is PD102's, not reported twice:
    # maxpool k3 s2 p0 at 8: n_out = 3, far = 4+3-8 = -1.
    assert run(seq(win(3, 2, kind="max_pool")), "PD101", at(8)) == []
    # An incomplete graph: sizes after a layer the reader could not follow are not trusted.
    assert run(seq(win(3, 2, p=1), complete=False), "PD101", at(8)) == []


# --------------------------------------------------------------------------- PD102


def test_pd102_fires_on_unread_rows():
    # maxpool k3 s2 p0 at n=8: n_out = (8-3)//2+1 = 3, windows [0,2], [2,4], [4,6]: row 7 is
    # never read, far = 2*2 + 3 - 8 - 0 = -1. Odd n: n_out = (n-1)/2, far = n-3+3-n = 0: 7 and 9.
    g = seq(win(3, 2, kind="max_pool"))
    [d] = run(g, "PD102", at(8))
    assert d.severity == Severity.WARNING and d.loc == loc(10)
    assert "MaxPool2d(kernel_size=3, stride=2, padding=0) never reads the last row and the last column" in d.message
    assert "(left, used-right) padding = (0, -1) on its 8x8 input" in d.message
    assert "ceil_mode=True" in d.message
    assert "The nearest input sizes with every strided layer reading its whole input: 7 and 9." in d.message


def test_pd102_boundary():
    assert run(seq(win(3, 2, kind="max_pool")), "PD102", at(9)) == []  # far = 3*2+3-9 = 0
    assert run(seq(win(3, 2, kind="max_pool")), "PD102") == []  # no input size


def test_pd102_patchify_at_odd_size():
    # A 2x2 stride-2 patchify conv at 9: n_out = (9-2)//2+1 = 4, far = 3*2+2-9 = -1 (K = s: judged).
    [d] = run(seq(win(2, 2)), "PD102", at(9))
    assert "the last row and the last column" in d.message and "pad so that" in d.message.lower()
    # Two rows: k=2 s=4 is K < s (ST101); k=4 s=4 at 10: n_out = 2, far = 4 + 4 - 10 = -2.
    [d] = run(seq(win(4, 4)), "PD102", at(10))
    assert "the last 2 rows and the last 2 columns" in d.message


def test_pd102_false_positives():
    # K < s: the 1x1 stride-2 shortcut skips rows by construction (ST101 says it).
    assert run(seq(win(1, 2)), "PD102", at(8)) == []
    # Stride 1 never leaves rows unread (far = p_r); explicit cropping is deliberate.
    assert run(seq(win(3, 1), win(1, p=-1, kind="pad")), "PD102", at(8)) == []


# --------------------------------------------------------------------------- PD103


def test_pd103_single_conv_share_and_boundary():
    # One conv k3 p1 on n x n: per axis the two border outputs each send 1/3 of their weight
    # 1/n into the padding: 2/(3n) lost; in 2-D the surviving share is (1 - 2/(3n))^2.
    # n = 12: 1 - (17/18)^2 = 35/324 = 10.80% > 10%; n = 13: 1 - (37/39)^2 = 152/1521 = 9.99%.
    g = seq(win(3, p=1))
    [d] = run(g, "PD103", at(12))
    assert d.severity == Severity.INFO and d.loc == loc(10)
    assert "Conv2d(kernel_size=3, stride=1, padding=1) pads with zeros: at input 12" in d.message
    assert "10.8% falls on the zero padding of the 12x12 feature maps (stride 1)" in d.message
    assert "above the 10% threshold" in d.message and "takes 10.8% of it" in d.message
    assert "padding_mode='reflect'" in d.message
    assert run(g, "PD103", at(13)) == []
    share = impact(ModelContext(g, analyse(g, (13,)), at(13))).lost
    assert share[1] == pytest.approx(152 / 1521)


def test_pd103_needs_input_size_and_task_severity():
    g = seq(win(3, p=1))
    assert run(g, "PD103") == []
    [d] = run(g, "PD103", at(12, task="segmentation"))
    assert d.severity == Severity.WARNING


def test_pd103_per_stage_and_threshold_option():
    # 1-D, n = 8: A = conv k3 p1 (8 -> 8), B = conv k3 s2 p1 (8 -> 4), C = conv k3 p1 (4 -> 4).
    # Back from C's 4 outputs (1/4 each): C loses 2 * (1/4)(1/3) = 1/6.
    # Into B's outputs: [1/6, 1/4, 1/4, 1/6]; B's output 0 reads -1, 0, 1: loses (1/6)/3 = 1/18.
    # Into A's outputs: [1/18, 5/36, 1/12, 1/6, 1/12, 5/36, 1/18, 1/18] (sum 7/9);
    # A loses (1/18)/3 at each end: 1/27. Reached: 7/9 - 1/27 = 20/27; total 1.
    # Stages by the map the padding is added to: stride 1 (A, B): 1/18 + 1/27 = 5/54 = 9.26%;
    # stride 2 (C): 1/6 = 16.67%.
    g = seq(win(3, p=1, nd=1), win(3, 2, p=1, nd=1), win(3, p=1, nd=1))
    ctx = ModelContext(g, analyse(g, (8,)), at(8))
    result = impact(ctx)
    assert result.lost == pytest.approx({1: 1 / 27, 2: 1 / 18, 3: 1 / 6})
    assert result.reached == pytest.approx(20 / 27)
    [d] = run(g, "PD103", at(8))
    assert d.loc == loc(12)
    assert "16.7% falls on the zero padding of the length-4 feature maps (stride 2)" in d.message
    low = at(8, rule_options={"PD103": {"threshold": 0.05}})
    found = run(g, "PD103", low)
    assert [f.loc.line for f in found] == [10, 11, 12]
    assert "9.3% falls on the zero padding of the length-8 feature maps (stride 1)" in found[0].message
    assert "takes 3.7% of it" in found[0].message and "takes 5.6% of it" in found[1].message  # 1/27, 1/18
    assert run(g, "PD103", at(8, rule_options={"PD103": {"threshold": 0.2}})) == []


def test_pd103_threshold_from_pyproject(tmp_path):
    # The single conv at 12x12 loses 10.8% (above): silent at threshold 0.2, reported at 0.1.
    from rflint.config import load_config

    (tmp_path / "pyproject.toml").write_text("[tool.rflint]\ninput-size = 12\n\n[tool.rflint.rules.PD103]\nthreshold = 0.2\n")
    src = SOURCE.format(extra="").replace("# rflint: input-size=12\n", "")
    cfg = load_config(tmp_path / "pyproject.toml").with_overrides(select=["PD103"])
    assert check_text(str(tmp_path / "net.py"), src, cfg) == []
    (tmp_path / "pyproject.toml").write_text("[tool.rflint]\ninput-size = 12\n")
    cfg = load_config(tmp_path / "pyproject.toml").with_overrides(select=["PD103"])
    assert [d.code for d in check_text(str(tmp_path / "net.py"), src, cfg)] == ["PD103"]


def test_pd103_bad_threshold_is_a_clear_error():
    g = seq(win(3, p=1))
    ctx = ModelContext(g, analyse(g, (12,)), at(12, rule_options={"PD103": {"threshold": "high"}}))
    _, errors = run_rules(ctx, [all_rules()["PD103"]()])
    assert errors and "threshold must be a share between 0 and 1" in str(errors[0][1])


def test_pd103_residual_halves_the_share():
    # 1-D, n = 4: x + conv(x) with conv k3 p1. Back from the add (1/4 per output): the identity
    # passes 1, the conv 1, losing 2*(1/4)(1/3) = 1/6 of it. Reached: 1 + 5/6; total 2:
    # share (1/6)/2 = 1/12 = 8.3% (the plain conv alone: 1/6 = 16.7%).
    b = GraphBuilder()
    x = b.input()
    c = b.add(win(3, p=1, nd=1), [x], "Conv1d", loc=loc(10))
    y = b.add(Merge("add"), [x, c], "add")
    g = b.build("Net", [("out", y)])
    result = impact(ModelContext(g, analyse(g, (4,)), at(4)))
    assert result.lost == pytest.approx({1: 1 / 12})
    assert run(g, "PD103", at(4)) == []
    assert len(run(seq(win(3, p=1, nd=1)), "PD103", at(4))) == 1


def test_pd103_false_positives_reflect_max_pool_and_count_include_pad():
    # Reflect/replicate/circular padding repeats image content: nothing is lost.
    for mode in ("reflect", "replicate", "circular"):
        g = seq(win(3, p=1), attrs={0: {"padding_mode": mode}})
        assert run(g, "PD103", at(4)) == []
    # A max pool pads with -inf: the padding never wins, nothing is lost.
    assert run(seq(win(3, p=1, kind="max_pool")), "PD103", at(4)) == []
    # ReflectionPad2d before an unpadded conv.
    b = GraphBuilder()
    x = b.input()
    x = b.add(win(1, p=1, kind="pad"), [x], "ReflectionPad2d", loc=loc(10))
    x = b.add(win(3), [x], "Conv2d", loc=loc(11))
    assert run(b.build("Net", [("out", x)]), "PD103", at(4)) == []
    # AvgPool counts the zeros by default (count_include_pad=True): 1 - (1 - 2/(3*4))^2 = 11/36.
    [d] = run(seq(win(3, p=1, kind="avg_pool")), "PD103", at(4))
    assert "30.6%" in d.message and "count_include_pad=False" in d.message and d.fix is None
    assert run(seq(win(3, p=1, kind="avg_pool"), attrs={0: {"count_include_pad": False}}), "PD103", at(4)) == []


def test_pd103_transposed_conv_gets_no_padding_mode():
    # 1-D ConvTranspose k4 s2 p1 on 4 -> (4-1)*2 - 2 + 4 = 8 outputs; tap weight s/k = 1/2.
    # Output o reads i = (o + 1 - t)/2 where whole: o = 0 reads 0 (t=1) and -1 (t=3);
    # o = 7 reads 4 (t=0) and 3 (t=2). Lost: 2 * (1/8)(1/2) = 1/8 = 12.5%.
    g = seq(TransposedConv((4,), (2,), (1,), (1,), (0,)))
    [d] = run(g, "PD103", at(4))
    assert "12.5% falls on the zero padding" in d.message
    assert "ConvTranspose does not accept padding_mode" in d.message
    assert "padding_mode='reflect'" not in d.message and d.fix is None


SOURCE = '''\
import torch.nn as nn


# rflint: input-size=12
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=3, padding=1{extra})

    def forward(self, x):
        return self.conv(x)
'''


@pytest.mark.parametrize("extra,expected", [
    ("", 'nn.Conv2d(3, 8, kernel_size=3, padding=1, padding_mode="reflect")'),
    (', padding_mode="zeros"', 'nn.Conv2d(3, 8, kernel_size=3, padding=1, padding_mode="reflect")'),
    (",\n        ", 'nn.Conv2d(3, 8, kernel_size=3, padding=1, padding_mode="reflect",\n        )'),
])
def test_pd103_fix_adds_padding_mode(extra, expected):
    src = SOURCE.format(extra=extra)
    [d] = check_text("net.py", src, config("PD103"))
    assert d.fix is not None and not d.fix.safe
    assert "changes what the layer computes" in d.fix.description
    out = apply(src, d.fix.edits)
    ast.parse(out)
    assert expected in out
    assert check_text("net.py", out, config("PD103")) == []


def test_pd103_fix_only_for_literal_calls_and_replicate_when_reflect_cannot():
    helper = SOURCE.replace("kernel_size=3, padding=1{extra}", "kernel_size=k, padding=k // 2").replace(
        "def __init__(self):", "def __init__(self, k=3):")
    [d] = check_text("net.py", helper, config("PD103"))
    assert d.fix is None  # a parameter decides the geometry: not rewritten at the call
    # A 1x1 map padded by 1: reflect needs padding < input size, so the fix uses replicate.
    one = SOURCE.format(extra="").replace("input-size=12", "input-size=1")
    [d] = check_text("net.py", one, config("PD103"))
    assert 'padding_mode="replicate"' in apply(one, d.fix.edits)


# --------------------------------------------------------------------------- PD104


def test_pd104_even_kernel_with_accumulated_shift():
    # k=2, p=0: output o reads o, o+1, centre o + 1/2; a k3 p1 after it keeps the centre: 0.5 px.
    [d] = run(seq(win(2), win(3, p=1)), "PD104")
    assert d.severity == Severity.WARNING and d.loc == loc(10)
    assert "Conv2d(kernel_size=2, stride=1, padding=0) has an even kernel span (2) at stride 1" in d.message
    assert "half a pixel off its input's grid along each axis" in d.message
    assert "Accumulated shift at the model output (its frame's centre): 0.5 px." in d.message


def test_pd104_shifts_accumulate_and_scale_with_the_jump():
    # Two k2 convs: centres o + 1/2 + 1/2 = o + 1: 1 px at the output, both reported.
    found = run(seq(win(2), win(2)), "PD104")
    assert [d.loc.line for d in found] == [10, 11]
    assert all("model output (its frame's centre): 1 px." in d.message for d in found)
    # After a k3 s2 p1 conv (j = 2, centre 0), a k2 conv: half a pixel of its input is 1 model-input
    # pixel; frame: alpha = -1 (tap 0), beta = 2 + 1 (tap 1): centre 1.
    [d] = run(seq(win(3, 2, p=1), win(2)), "PD104")
    assert "half a pixel (1 model-input px) off" in d.message and "centre): 1 px." in d.message


def test_pd104_shifts_that_cancel():
    # k2 p0 (centre +1/2) then k2 padded (1, 0) (taps -1, 0: centre -1/2): the output is back on grid.
    [d, e] = run(seq(win(2), win(2, p=((1, 0), (1, 0)))), "PD104")
    assert "0 px (the shifts cancel there" in e.message


def test_pd104_boundary_and_false_positives():
    assert run(seq(win(3, p=1)), "PD104") == []  # odd
    assert run(seq(win(4, d=2, p=3)), "PD104") == []  # K = 2*3 + 1 = 7, odd
    assert run(seq(win(2, d=2, p=1)), "PD104") == []  # K = 3, odd (taps 0, 2: centre on a pixel)
    assert len(run(seq(win(2, d=3)), "PD104")) == 1  # K = 4, even
    # Patchify layers (kernel == stride) are strided: not PD104.
    assert run(seq(win(4, 4), win(2, 2)), "PD104") == []
    assert run(seq(win(2, 1, kind="max_pool")), "PD104") == []  # a pool, not a conv
    # One axis even: (1, 2).
    [d] = run(seq(win((1, 2), p=0)), "PD104")
    assert "along W" in d.message and "span (2)" in d.message


def test_pd104_whole_map_layer_has_no_grid_to_be_off():
    # k=2 on a 2x2 map (input size 2): one output position, reading everything.
    assert run(seq(win(2)), "PD104", at(2)) == []
    assert len(run(seq(win(2)), "PD104", at(3))) == 1  # two outputs: off the grid
    assert len(run(seq(win(2)), "PD104")) == 1  # size unknown: judged by its geometry


def test_pd104_one_finding_per_line():
    assert len(run(seq(win(2), win(2), lines=[30, 30]), "PD104")) == 1


# --------------------------------------------------------------------------- DL101


def dilated_chain(dilations, k=3, residual=False, relu=True):
    """3x3 convs with the given dilations in series (ReLU in between), each on its own line."""
    b = GraphBuilder()
    x = b.input()
    y = x
    for i, d in enumerate(dilations):
        ks = k[i] if isinstance(k, (list, tuple)) else k
        y = b.add(win(ks, d=d, p=d * (ks - 1) // 2), [y], "Conv2d", loc=loc(10 + i))
        if relu:
            y = b.add(Pointwise(), [y], "ReLU")
    if residual:
        y = b.add(Merge("add"), [y, x], "add")
    return b.build("Net", [("out", y)])


def test_dl101_support_by_hand():
    # Minkowski sums of {0, d, 2d} (3x3 convs).
    assert support(dilated_chain([2, 2, 2]).nodes[1::2], 2)[0] == [0, 2, 4, 6, 8, 10, 12]
    assert holes([0, 2, 4, 6, 8, 10, 12]) == [1, 3, 5, 7, 9, 11]
    # [2, 4, 8]: all even offsets 0..28 -> holes at every odd offset.
    assert holes(support(dilated_chain([2, 4, 8]).nodes[1::2], 2)[0]) == list(range(1, 28, 2))
    # [1, 2, 5]: {0,1,2} + {0,2,4} = 0..6; + {0,5,10} = 0..16, dense.
    assert support(dilated_chain([1, 2, 5]).nodes[1::2], 2)[0] == list(range(17))
    # [1, 2, 4, 8]: 0..6, + {0,4,8} = 0..14, + {0,8,16} = 0..30, dense.
    assert support(dilated_chain([1, 2, 4, 8]).nodes[1::2], 2)[0] == list(range(31))


def test_dl101_fires_on_gridding_chains():
    [d] = run(dilated_chain([2, 2, 2]), "DL101")
    assert d.severity == Severity.WARNING and d.loc == loc(10)  # the first dilated member
    assert "dilations [2, 2, 2] (kernel sizes [3, 3, 3]) has holes" in d.message
    assert "along each axis it reads only the offsets {0, 2, 4, 6, 8, 10, 12} (holes at 1, 3, 5, 7, 9, 11)" in d.message
    assert "[1, 2, 5]" in d.message
    [d] = run(dilated_chain([2, 4, 8]), "DL101")
    assert "15 of the 29 offsets from 0 to 28 (holes at 1, 3, 5, 7, 9, 11, ...)" in d.message


def test_dl101_dense_chains_and_boundary():
    assert run(dilated_chain([1, 2, 5]), "DL101") == []
    assert run(dilated_chain([1, 2, 4, 8]), "DL101") == []
    # One dense 3x3 fills dilation 3 ({0,1,2} + {0,3,6} = 0..8) but not 4 ({0,1,2,4,5,6,8,9,10}).
    assert run(dilated_chain([1, 3]), "DL101") == []
    [d] = run(dilated_chain([1, 4]), "DL101")
    assert d.loc == loc(11) and "{0, 1, 2, 4, 5, 6, 8, 9, 10} (holes at 3, 7)" in d.message
    assert run(dilated_chain([1, 1, 1]), "DL101") == []  # no dilation


def test_dl101_chains_end_at_strided_layers_and_merges():
    # [1, 2] is dense; split by a stride-2 conv, the lone [2] after it has holes {0, 2, 4}.
    b = GraphBuilder()
    x = b.input()
    y = b.add(win(3, p=1), [x], "Conv2d", loc=loc(10))
    s = b.add(win(3, 2, p=1), [y], "Conv2d", loc=loc(11))
    z = b.add(win(3, d=2, p=2), [s], "Conv2d", loc=loc(12))
    [d] = run(b.build("Net", [("out", z)]), "DL101")
    assert d.loc == loc(12) and "dilations [2]" in d.message
    # The same with a merge in between (a skip from elsewhere): the chain restarts after it.
    b = GraphBuilder()
    x = b.input()
    y = b.add(win(3, p=1), [x], "Conv2d", loc=loc(10))
    other = b.add(win(1), [x], "Conv2d", loc=loc(11))
    m = b.add(Merge("concat"), [y, other], "cat")
    z = b.add(win(3, d=2, p=2), [m], "Conv2d", loc=loc(12))
    [d] = run(b.build("Net", [("out", z)]), "DL101")
    assert d.loc == loc(12) and "dilations [2]" in d.message


def test_dl101_aspp_branches_are_not_chains():
    b = GraphBuilder()
    x = b.input()
    x = b.add(Pointwise(), [x], "ReLU")
    branches = [b.add(win(1), [x], "Conv2d", loc=loc(10))]
    for i, rate in enumerate((6, 12, 18)):
        c = b.add(win(3, d=rate, p=rate), [x], "Conv2d", loc=loc(11 + i))
        branches.append(b.add(Pointwise(), [c], "ReLU"))
    pooled = b.add(Global((1, 1)), [x], "AdaptiveAvgPool2d")
    branches.append(b.add(Resample("nearest", size=(8, 8)), [pooled], "interpolate"))
    cat = b.add(Merge("concat"), branches, "cat")
    out = b.add(win(1), [cat], "Conv2d", loc=loc(20))
    assert run(b.build("ASPP", [("out", out)]), "DL101") == []


def test_dl101_residual_route_makes_it_info():
    # Bottleneck: 1x1 -> 3x3 dilation 2 -> 1x1 with the identity around it: {0} + {0,2,4} + {0}.
    g = dilated_chain([1, 2, 1], k=[1, 3, 1], residual=True)
    [d] = run(g, "DL101")
    assert d.severity == Severity.INFO and d.loc == loc(11)
    assert "dilations [1, 2, 1] (kernel sizes [1, 3, 1])" in d.message
    assert "{0, 2, 4} (holes at 1, 3)" in d.message and "residual path" in d.message
    [d] = run(dilated_chain([1, 2, 1], k=[1, 3, 1]), "DL101")  # the same chain without the shortcut
    assert d.severity == Severity.WARNING and "residual" not in d.message


def test_dl101_residual_route_must_be_dense():
    # A shortcut that is itself a dilated conv is a parallel multi-rate structure: not a chain.
    b = GraphBuilder()
    x = b.input()
    y = b.add(win(3, d=2, p=2), [x], "Conv2d", loc=loc(10))
    sc = b.add(win(3, d=3, p=3), [x], "Conv2d", loc=loc(11))
    assert run(b.build("Net", [("out", b.add(Merge("add"), [y, sc], "add"))]), "DL101") == []
    # A shortcut through a dense 3x3 is a dense route: info.
    b = GraphBuilder()
    x = b.input()
    y = b.add(win(3, d=2, p=2), [x], "Conv2d", loc=loc(10))
    y = b.add(win(3, d=2, p=2), [y], "Conv2d", loc=loc(11))
    sc = b.add(win(3, p=1), [x], "Conv2d", loc=loc(12))
    [d] = run(b.build("Net", [("out", b.add(Merge("add"), [y, sc], "add"))]), "DL101")
    assert d.severity == Severity.INFO and "[2, 2]" in d.message


def test_dl101_squeeze_excitation_gate_does_not_cut_the_chain():
    # MobileNetV3-style: 1x1 -> depthwise 3x3 d2 -> SE gate (global) -> 1x1, identity around.
    b = GraphBuilder()
    x = b.input()
    y = b.add(win(1), [x], "Conv2d", loc=loc(10))
    y = b.add(win(3, d=2, p=2), [y], "Conv2d", loc=loc(11))
    gate = b.add(Global((1, 1)), [y], "AdaptiveAvgPool2d")
    gate = b.add(win(1), [gate], "Conv2d", loc=loc(12))
    y = b.add(Merge("mul"), [gate, y], "mul")
    y = b.add(win(1), [y], "Conv2d", loc=loc(13))
    out = b.add(Merge("add"), [y, x], "add")
    [d] = run(b.build("Net", [("out", out)]), "DL101")
    assert d.loc == loc(11) and "dilations [1, 2, 1]" in d.message and d.severity == Severity.INFO


def test_dl101_one_finding_per_line():
    # Two chains built by the same line (a block class used twice): one finding, counted.
    b = GraphBuilder()
    x = b.input()
    for _ in range(2):
        y = b.add(win(1), [x], "Conv2d", loc=loc(10))
        y = b.add(win(3, d=2, p=2), [y], "Conv2d", loc=loc(11))
        y = b.add(win(1), [y], "Conv2d", loc=loc(12))
        x = b.add(Merge("add"), [y, x], "add")
    [d] = run(b.build("Net", [("out", x)]), "DL101")
    assert "2 such chains go through this line: [1, 2, 1] x2" in d.message


# --------------------------------------------------------------------------- torchvision's resnet.py


def _resnet_py() -> tuple[str, str]:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        pytest.skip("torchvision is not installed")
    path = Path(spec.origin).parent / "models" / "resnet.py"
    return str(path), path.read_text(encoding="utf-8")


def _line_of(text: str, needle: str, after: str | None = None) -> int:
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    hits = [i + 1 for i, line in enumerate(lines) if i >= start and needle in line]
    assert hits, needle
    return hits[0]


@pytest.fixture(scope="module")
def resnet():
    from rflint.readers.python.reader import ReaderSession

    path, text = _resnet_py()
    return path, text, ReaderSession()


@pytest.mark.slow
def test_resnet50_pd101_at_224_and_none_at_225(resnet):
    path, text, session = resnet
    conv1 = _line_of(text, "self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7")
    maxpool = _line_of(text, "self.maxpool = nn.MaxPool2d(")
    cfg = default_config().with_overrides(input_size=224, select=["PD101"])
    found = check_text(path, text, cfg, entries=[("resnet50", {})], session=session)
    by_line = {d.loc.line: d for d in found if d.code == "PD101"}
    # By hand (see test_pd101_resnet_stack_suggests_32m_plus_1): conv1 (3, 2), maxpool (1, 0).
    assert "(left, used-right) = (3, 2) on its 224x224 input" in by_line[conv1].message
    assert "(left, used-right) = (1, 0) on its 112x112 input" in by_line[maxpool].message
    assert "193 and 225" in by_line[conv1].message
    cfg = default_config().with_overrides(input_size=225, select=["PD101"])
    assert [d for d in check_text(path, text, cfg, entries=[("resnet50", {})], session=session)
            if d.code == "PD101"] == []


@pytest.mark.slow
def test_dilated_resnet50_chains_have_holes_behind_a_residual(resnet):
    # resnet50(replace_stride_with_dilation=[False, True, True]): layer3 becomes dilation 2,
    # layer4 dilation 4, and the first block of each keeps the previous dilation (1, then 2).
    # Each Bottleneck is conv1x1 -> conv3x3(dilation d) -> conv1x1, between two adds: chain
    # [1, d, 1], support {0} + {0, d, 2d} + {0}: holes for d > 1. layer3: blocks 1-5 d = 2;
    # layer4: block 0 d = 2, blocks 1-2 d = 4: [1, 2, 1] x6 and [1, 4, 1] x2, all through
    # the conv3x3 helper's line, each with the identity (or a 1x1 shortcut) around it: info.
    path, text, session = resnet
    helper = _line_of(text, "return nn.Conv2d(", after="def conv3x3(")
    entry = "resnet50(replace_stride_with_dilation=[False, True, True])"
    found = [d for d in check_text(path, text, config("DL101"), entries=[(entry, {})], session=session)
             if d.code == "DL101"]
    assert [d.loc.line for d in found] == [helper]
    [d] = found
    assert d.severity == Severity.INFO
    assert "dilations [1, 2, 1] (kernel sizes [1, 3, 1])" in d.message
    assert "{0, 2, 4} (holes at 1, 3)" in d.message
    assert "8 such chains go through this line: [1, 2, 1] x6, [1, 4, 1] x2" in d.message
    assert "residual path" in d.message
    # The plain resnet50 has no dilation at all.
    assert [d for d in check_text(path, text, config("DL101"), entries=[("resnet50", {})], session=session)
            if d.code == "DL101"] == []
