"""Unit tests of RF102, RF103, RF104, AA103, CB103, NM101, NM102 and CC101.

Each rule: a case that fires, a case at the boundary of its condition that does
not, and the false-positive cases its page names. Graphs are built by hand with
GraphBuilder (or read from source with check_text where the reader's view is the
point); every number a message must carry is derived here by hand, in the
comments, from the rule's definition in RULES.md and DESIGN.md.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from graphs import TYPE, loc
from graphs import window as conv

from rflint.analysis import analyse
from rflint.api import check_text
from rflint.checks.base import ModelContext, Rule, all_rules, run_rules
from rflint.checks.rf import min_path_frames
from rflint.config import default_config
from rflint.diagnostics import Diagnostic, Severity
from rflint.ir import (
    EndSpatial,
    Global,
    GraphBuilder,
    Merge,
    Mix,
    PixelShuffle,
    Pointwise,
    Resample,
    Window,
)
from rflint.settings import ModelSettings


class Net:
    """A tiny graph builder: each added node sits on its own line (10, 11, ...)."""

    def __init__(self) -> None:
        self.b = GraphBuilder()
        self.x = self.b.input()
        self.line = 10

    def add(self, op, inputs, type_name=None, name="", attrs=None, line=None) -> int:
        if type_name is None:
            type_name = TYPE.get(op.kind, "Window") if isinstance(op, Window) else type(op).__name__
        if line is None:
            line = self.line
            self.line += 1
        return self.b.add(op, list(inputs), type_name, name, loc(line), attrs)

    def seq(self, start: int, *ops, names=()) -> list[int]:
        ids, x = [], start
        for i, op in enumerate(ops):
            x = self.add(op, [x], name=names[i] if i < len(names) else "")
            ids.append(x)
        return ids

    def build(self, out: int | list[tuple[str, int]], complete: bool = True):
        outputs = [("out", out)] if isinstance(out, int) else out
        return self.b.build("Net", outputs, loc=loc(1, 1), complete=complete)


def run(graph, rule: str | type[Rule], settings: ModelSettings = ModelSettings()) -> list[Diagnostic]:
    cls = all_rules()[rule] if isinstance(rule, str) else rule
    ctx = ModelContext(graph, analyse(graph, settings.input_size), settings)
    found, errors = run_rules(ctx, [cls()])
    assert not errors, errors
    return found


def lines(found: list[Diagnostic]) -> list[int]:
    return sorted(d.loc.line for d in found)


# --------------------------------------------------------------------------- registry


def test_catalogue_names_severities_and_defaults():
    rules = all_rules()
    expected = {
        "RF102": ("erf-smaller-than-object", Severity.INFO, False),
        "RF103": ("unproductive-layer", Severity.WARNING, True),
        "RF104": ("misaligned-branches", Severity.WARNING, True),
        "AA103": ("misplaced-blur", Severity.WARNING, True),
        "CB103": ("pixel-shuffle-without-icnr", Severity.INFO, False),
        "NM101": ("batchnorm-small-batch", Severity.WARNING, True),
        "NM102": ("batchnorm-single-value", Severity.ERROR, True),
        "CC101": ("position-task-without-coordinates", Severity.INFO, True),
    }
    for code, (name, severity, on) in expected.items():
        cls = rules[code]
        assert (cls.name, cls.severity, cls.enabled_by_default) == (name, severity, on), code
        assert cls.summary


def test_rules_that_need_a_number_are_quiet_without_it():
    rules = all_rules()
    nothing = ModelSettings()
    for code in ("RF102", "RF103", "NM101", "NM102", "CC101"):
        assert not rules[code]().applicable(nothing), code
    assert rules["RF102"]().applicable(ModelSettings(object_size=(8, 64)))
    assert rules["RF103"]().applicable(ModelSettings(input_size=(224,)))
    assert rules["NM101"]().applicable(ModelSettings(batch_size=4))
    assert rules["NM102"]().applicable(ModelSettings(batch_size=1))
    assert rules["CC101"]().applicable(ModelSettings(task="keypoints"))
    assert rules["CC101"]().applicable(ModelSettings(task="regression"))
    assert not rules["CC101"]().applicable(ModelSettings(task="classification"))
    assert not rules["CC101"]().applicable(ModelSettings(task="segmentation"))
    for code in ("RF104", "AA103", "CB103"):  # layer rules: nothing to configure
        assert rules[code]().applicable(nothing)


def test_off_by_default_rules_are_not_in_the_default_selection():
    from rflint.api import enabled_rules

    default = {r.code for r in enabled_rules(None, None)}
    assert "RF102" not in default and "CB103" not in default
    assert {"RF103", "RF104", "AA103", "NM101", "NM102", "CC101"} <= default
    selected = {r.code for r in enabled_rules(default_config().with_overrides(extend_select=["RF102", "CB103"]), "m.py")}
    assert {"RF102", "CB103"} <= selected


# --------------------------------------------------------------------------- RF102


def test_rf102_chain_erf_below_object():
    # Six 3x3 stride-1 convs: per layer sigma^2 += (k^2 - 1)/12 = 2/3, so sigma^2 = 4,
    # 4 sigma = 8.0 px; the theoretical RF is 1 + 6*2 = 13 px.
    n = Net()
    ids = n.seq(n.x, *[conv(3, p=1)] * 6)
    g = n.build(ids[-1])
    [d] = run(g, "RF102", ModelSettings(object_size=(4, 9)))
    assert d.code == "RF102" and d.severity == Severity.INFO
    assert d.loc == loc(1, 1)
    assert d.message.startswith("Output ERF 8.0 px < object size 9 px (theoretical RF 13 px)")
    assert "4 sigma" in d.message
    # RF101 (the theoretical RF, 13 >= 9) is quiet: the ERF is the stricter test.
    assert run(g, "RF101", ModelSettings(object_size=(4, 9))) == []


def test_rf102_boundary_equal_width_does_not_fire():
    n = Net()
    ids = n.seq(n.x, *[conv(3, p=1)] * 6)
    g = n.build(ids[-1])
    assert run(g, "RF102", ModelSettings(object_size=(4, 8))) == []  # 8.0 < 8 is false


def test_rf102_mixes_branches_at_merges():
    # conv3 -> conv3 beside an identity, added: branch variances 4/3 and 0, masses 1 and 1,
    # means 0: the mixture has sigma^2 = (4/3 + 0)/2 = 2/3, 4 sigma = 4*sqrt(2/3) = 3.27 px
    # (adding the variances along the longest path would say 4*sqrt(4/3) = 4.62 px).
    n = Net()
    a, b = n.seq(n.x, conv(3, p=1), conv(3, p=1))
    s = n.add(Merge("add"), [b, n.x], "add")
    g = n.build(s)
    [d] = run(g, "RF102", ModelSettings(object_size=(2, 4)))
    assert f"{4 * math.sqrt(2 / 3):.1f}" == "3.3"
    assert d.message.startswith("Output ERF 3.3 px < object size 4 px")
    assert "theoretical RF 5 px" in d.message
    assert run(g, "RF102", ModelSettings(object_size=(2, 3))) == []  # 3.27 >= 3


def test_rf102_object_capped_at_input_and_needs_object_size():
    n = Net()
    ids = n.seq(n.x, *[conv(3, p=1)] * 6)
    g = n.build(ids[-1])
    # An object cannot be larger than a 6 px input: 8.0 >= 6, quiet.
    assert run(g, "RF102", ModelSettings(input_size=(6,), object_size=(4, 100))) == []
    [d] = run(g, "RF102", ModelSettings(input_size=(10,), object_size=(4, 100)))
    assert "object size 100 px (capped at the input, 10 px) at input 10 px" in d.message
    assert run(g, "RF102", ModelSettings()) == []
    assert run(n.build(ids[-1], complete=False), "RF102", ModelSettings(object_size=(4, 100))) == []


# --------------------------------------------------------------------------- RF103


def _plain_chain(count: int):
    """``count`` 3x3 stride-1 convs then a 1x1 head; conv m (1-based) has RF 2m + 1."""
    n = Net()
    ids = n.seq(n.x, *[conv(3, p=1)] * count, names=[f"c{i + 1}" for i in range(count)])
    head = n.add(conv(1), [ids[-1]], name="head")
    return n.build(head), ids, head


def test_rf103_chain_fires_where_inputs_already_cover_the_input():
    # n = 17: conv m's input has min RF 2m - 1 and its own is 2m + 1; both >= 17 from m = 9.
    g, ids, head = _plain_chain(10)
    found = run(g, "RF103", ModelSettings(input_size=(17,)))
    assert lines(found) == [18, 19]  # c9 and c10 (lines 10 + 8, 10 + 9)
    d = next(d for d in found if d.loc.line == 18)
    assert d.code == "RF103" and d.severity == Severity.WARNING
    assert "Conv2d(kernel_size=3, stride=1) ('c9') is unproductive at input 17 px" in d.message
    assert "over all paths into it is already 17 px, and its own is 19 px" in d.message
    assert "2 such layer(s)" in d.message


def test_rf103_boundary_one_pixel_short():
    # n = 19: c10's input has RF 19 >= 19 (fires); c9's has 17 < 19 (does not).
    g, ids, _ = _plain_chain(10)
    assert lines(run(g, "RF103", ModelSettings(input_size=(19,)))) == [19]
    # n = 20: c10's input 19 < 20: nothing.
    assert run(g, "RF103", ModelSettings(input_size=(20,))) == []


def test_rf103_passes_global_attention_as_global_context_not_an_error():
    # torchvision's vit_b_16: patch conv 16/16, attention over every token (a global Mix),
    # the residual around it, and a 1x1 head. The attention ends every local path through
    # it; the residual path keeps the patch's frame (RF 16 < 17): nothing fires, no error.
    n = Net()
    patch = n.add(conv(16, s=16, nd=1), [n.x], name="patch")
    attn = n.add(Mix((None,), (0,)), [patch], name="attn")
    res = n.add(Merge("add"), [patch, attn])
    head = n.add(conv(1, nd=1), [res], name="head")
    assert run(n.build(head), "RF103", ModelSettings(input_size=(17 * 16,))) == []


ECA = """
import torch.nn as nn


class Eca(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)
        y = self.conv(y).view(x.shape[0], -1, 1, 1).sigmoid()
        return x * y.expand_as(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, stride=2, padding=1)
        self.eca = Eca()
        self.conv = nn.Conv2d(64, 64, 3, padding=1)

    def forward(self, x):
        return self.conv(self.eca(self.stem(x)))
"""


def test_rf103_passes_an_eca_gate_conv1d_on_pooled_channels_not_an_error():
    # timm's ECA models (ecaresnet26t, eca_nfnet_l0...): the gate's Conv1d works on the
    # pooled channels of a 2-D map. It has no positions: no path through it is local.
    config = default_config().with_overrides(input_size=224, object_size=[32, 320], select=["RF103", "RL000"])
    assert check_text("eca.py", ECA, config) == []


def test_rf103_uses_the_minimum_over_paths_not_the_union():
    # Stem 7x7 (RF 7), then three residual blocks conv3 -> conv3 (+ identity), 1x1 head.
    # The shortest path skips every block: the min RF into each block stays 7; the
    # union frame (max over paths) grows to 7 + 3*4 = 19.
    n = Net()
    x = n.add(conv(7, p=3), [n.x], name="stem")
    block_convs = []
    for b in range(3):
        c1, c2 = n.seq(x, conv(3, p=1), conv(3, p=1), names=[f"b{b}.c1", f"b{b}.c2"])
        block_convs += [c1, c2]
        x = n.add(Merge("add"), [c2, x], "add")
    head = n.add(conv(1), [x], name="head")
    g = n.build(head)
    ctx = ModelContext(g, analyse(g, (9, 9)), ModelSettings(input_size=(9,)))
    mins = min_path_frames(ctx)
    assert min(f.r for f in mins[x][0]) == 7  # the last add: min over paths 7
    assert ctx.analysis.info(x).frames[0].r == 19  # the union, for contrast
    # n = 9: each block's c1 reads a min RF of 7 < 9 (quiet, although the union RF into
    # blocks 1 and 2 is 11 and 15 >= 9); each c2 reads c1's 9 >= 9 and has 11: fires.
    found = run(g, "RF103", ModelSettings(input_size=(9,)))
    assert lines(found) == sorted(g.nodes[i].loc.line for i in block_convs[1::2])
    # n = 10: c2 reads 9 < 10: nothing, where the union (11, 13, 15, ... >= 10) would flag most.
    assert run(g, "RF103", ModelSettings(input_size=(10,))) == []
    # n = 7: each block conv reads min RF >= 7 (7 into c1, 9 into c2): all six fire;
    # the stem reads the input (RF 1) and does not.
    found = run(g, "RF103", ModelSettings(input_size=(7,)))
    assert lines(found) == sorted(g.nodes[i].loc.line for i in block_convs)


def test_rf103_heads_and_1x1_convs_are_not_reported():
    # Ten 3x3 convs straight to the output: c10 is the head (nothing after it but the output).
    n = Net()
    ids = n.seq(n.x, *[conv(3, p=1)] * 10)
    g = n.build(ids[-1])
    assert lines(run(g, "RF103", ModelSettings(input_size=(17,)))) == [18]  # c9 only
    # 1x1 convs deep in the unproductive tail add no context at any depth: not reported.
    n = Net()
    ids = n.seq(n.x, *[conv(3, p=1)] * 9, conv(1), conv(1), conv(3, p=1), conv(1))
    g = n.build(ids[-1])
    # c9 reads RF 17 (fires); the 1x1s at lines 19, 20 are skipped; the 3x3 at line 21 fires.
    assert lines(run(g, "RF103", ModelSettings(input_size=(17,)))) == [18, 21]


def test_rf103_global_gate_paths_do_not_lower_the_minimum():
    # An SE gate multiplies the map by a pooled vector: that path sees the whole input and
    # is left out of the minimum, so c3 still reads min RF 5 (c1, c2) and at n = 5 fires.
    n = Net()
    c1, c2 = n.seq(n.x, conv(3, p=1), conv(3, p=1))
    pooled = n.add(Global((1, 1)), [c2], "AdaptiveAvgPool2d")
    gate = n.add(Pointwise(), [pooled], "Sigmoid")
    mul = n.add(Merge("mul"), [c2, gate], "mul")
    c3 = n.add(conv(3, p=1), [mul])
    head = n.add(conv(1), [c3])
    g = n.build(head)
    assert lines(run(g, "RF103", ModelSettings(input_size=(5,)))) == [g.nodes[c3].loc.line]
    assert run(g, "RF103", ModelSettings(input_size=(6,))) == []


def test_rf103_strided_and_upsampled_paths():
    # conv(3, s=2, p=1): RF 3, j = 2; conv3: RF 7; nearest x2 (j = 1, phases [-3, 3] and
    # [-4, 2]: both 7 wide); conv3 at j = 1: RF 9 on both phases; 1x1 head.
    n = Net()
    a, b = n.seq(n.x, conv(3, s=2, p=1), conv(3, p=1))
    up = n.add(Resample("nearest", scale=(Fraction(2), Fraction(2))), [b], "Upsample")
    c = n.add(conv(3, p=1), [up])
    head = n.add(conv(1), [c])
    g = n.build(head)
    ctx = ModelContext(g, analyse(g, (8, 8)), ModelSettings(input_size=(8,)))
    mins = min_path_frames(ctx)
    assert min(f.r_min for f in mins[up][0]) == 7 and min(f.r_min for f in mins[c][0]) == 9
    assert lines(run(g, "RF103", ModelSettings(input_size=(7,)))) == [g.nodes[c].loc.line]
    assert run(g, "RF103", ModelSettings(input_size=(8,))) == []


def test_rf103_needs_input_size_and_complete_graph():
    g, ids, head = _plain_chain(10)
    assert run(g, "RF103", ModelSettings()) == []
    n = Net()
    ids = n.seq(n.x, *[conv(3, p=1)] * 10)
    head = n.add(conv(1), [ids[-1]])
    assert run(n.build(head, complete=False), "RF103", ModelSettings(input_size=(17,))) == []


# --------------------------------------------------------------------------- RF104


def test_rf104_different_jumps():
    n = Net()
    a = n.add(conv(3, s=2, p=1), [n.x], name="down")  # j = 2
    b = n.add(conv(3, p=1), [n.x], name="same")  # j = 1
    m = n.add(Merge("add"), [a, b], "add", line=20)
    g = n.build(m)
    [d] = run(g, "RF104")
    assert d.code == "RF104" and d.severity == Severity.WARNING and d.loc.line == 20
    assert d.message.startswith("The add at line 20 merges branches with different jumps along each axis")
    assert "'down' (line 10) j=2, 'same' (line 11) j=1" in d.message


def test_rf104_centres_a_whole_jump_apart():
    # 'padded' conv3 p=1: [-1, 1], centre 0. 'valid' conv3 p=0: [0, 2], centre 1.
    # Both j = 1: the centres differ by 1 >= j.
    n = Net()
    a = n.add(conv(3, p=1), [n.x], name="padded")
    b = n.add(conv(3, p=0), [n.x], name="valid")
    m = n.add(Merge("concat"), [a, b], "cat", line=30)
    [d] = run(n.build(m), "RF104")
    assert "The concat at line 30 merges branches whose mean centres differ by 1 input px along each axis" in d.message
    assert "at least one jump (j=1)" in d.message
    assert "'padded' (line 10) centre 0, 'valid' (line 11) centre 1" in d.message


def test_rf104_boundary_half_a_jump_is_normal():
    # conv2 p=0: [0, 1], centre 1/2 against 0: 1/2 < 1, quiet.
    n = Net()
    a = n.add(conv(3, p=1), [n.x])
    b = n.add(conv(2, p=0), [n.x])
    assert run(n.build(n.add(Merge("add"), [a, b], "add")), "RF104") == []
    # At j = 2: conv(3, s=2, p=0) is [0, 2], centre 1, against conv(3, s=2, p=1)'s 0:
    # 1 < 2, quiet; conv(5, s=2, p=0) is [0, 4], centre 2 >= 2: fires.
    n = Net()
    a = n.add(conv(3, s=2, p=1), [n.x])
    b = n.add(conv(3, s=2, p=0), [n.x])
    assert run(n.build(n.add(Merge("add"), [a, b], "add")), "RF104") == []
    n = Net()
    a = n.add(conv(3, s=2, p=1), [n.x])
    b = n.add(conv(5, s=2, p=0), [n.x])
    [d] = run(n.build(n.add(Merge("add"), [a, b], "add")), "RF104")
    assert "differ by 2 input px" in d.message and "(j=2)" in d.message
    assert "1 output position out of register" in d.message


def test_rf104_fpn_top_down_is_not_flagged():
    # c2 = conv(3, s=2, p=1): j = 2, [-1, 1]; c3 = conv(3, s=2, p=1) on c2: j = 4, [-3, 3].
    # Nearest x2 of c3: j = 2, phase 0 reads i = 0: [-3, 3]; phase 1 reads i = 0 from
    # o*j = 2: [-5, 1]; mean centre (0 + -2)/2 = -1. The 1x1 lateral on c2: centre 0.
    # |-1 - 0| = 1 < j = 2: the usual FPN half-cell offset, quiet.
    n = Net()
    c2 = n.add(conv(3, s=2, p=1), [n.x])
    c3 = n.add(conv(3, s=2, p=1), [c2])
    up = n.add(Resample("nearest", scale=(Fraction(2), Fraction(2))), [c3], "Upsample")
    lat = n.add(conv(1), [c2])
    m = n.add(Merge("add"), [up, lat], "add")
    g = n.build(m)
    ctx_info = analyse(g, None)
    assert ctx_info.info(up).frames[0].centre == -1 and ctx_info.info(lat).frames[0].centre == 0
    assert run(g, "RF104") == []


def test_rf104_gates_alternatives_and_unknowns_are_not_branches():
    # SE gate: the pooled branch has no grid.
    n = Net()
    c = n.add(conv(3, p=1), [n.x])
    gate = n.add(Pointwise(), [n.add(Global((1, 1)), [c], "AdaptiveAvgPool2d")], "Sigmoid")
    assert run(n.build(n.add(Merge("mul"), [c, gate], "mul")), "RF104") == []
    # The reader's join of if/else alternatives is not a merge in the network.
    n = Net()
    a = n.add(conv(3, s=2, p=1), [n.x])
    b = n.add(conv(3, p=1), [n.x])
    m = n.add(Merge("add"), [a, b], "if/else", attrs={"alternatives": True})
    assert run(n.build(m), "RF104") == []
    # Same jumps and centres (a ResNet downsampling block: 3x3 s2 p1 beside 1x1 s2): quiet.
    n = Net()
    a = n.add(conv(3, s=2, p=1), [n.x])
    b = n.add(conv(1, s=2), [n.x])
    assert run(n.build(n.add(Merge("add"), [a, b], "add")), "RF104") == []


# --------------------------------------------------------------------------- AA103

BLUR = {"blur": True}


def test_aa103_blur_after_strided_conv():
    n = Net()
    c = n.add(conv(3, s=2, p=1), [n.x], name="down")
    r = n.add(Pointwise(), [c], "ReLU")
    blur = n.add(conv(3, s=1, p=1), [r], "BlurPool", name="blur", attrs=BLUR)
    out = n.add(conv(3, p=1), [blur])
    [d] = run(n.build(out), "AA103")
    assert d.code == "AA103" and d.severity == Severity.WARNING
    assert d.loc.line == 12  # the blur
    assert "BlurPool(kernel_size=3, stride=1) blurs after Conv2d(kernel_size=3, stride=2) 'down' (line 10)" in d.message
    assert "already subsampled by 2" in d.message
    assert "stride-1 Conv2d followed by this blur with stride=2" in d.message


def test_aa103_box_blur_after_strided_max_pool():
    n = Net()
    p = n.add(conv(2, s=2, kind="max_pool"), [n.x])
    avg = n.add(conv(3, s=1, p=1, kind="avg_pool"), [p])
    out = n.add(conv(3, p=1), [avg])
    [d] = run(n.build(out), "AA103")
    assert d.loc.line == 11
    assert "AvgPool2d(kernel_size=3, stride=1) blurs after MaxPool2d(kernel_size=2, stride=2)" in d.message
    assert "MaxPool2d(kernel_size=2, stride=1) followed by this blur with stride=2" in d.message


def test_aa103_boundary_producer_not_strided():
    n = Net()
    c = n.add(conv(3, s=1, p=1), [n.x])
    blur = n.add(conv(3, s=1, p=1), [c], "BlurPool", attrs=BLUR)
    assert run(n.build(n.add(conv(3, p=1), [blur])), "AA103") == []


def test_aa103_right_orders_are_quiet():
    # antialiased-cnns: MaxPool(s=1) then BlurPool(s=2); Conv(s=1) + ReLU + BlurPool(s=2).
    n = Net()
    p = n.add(conv(2, s=1, kind="max_pool"), [n.x])
    b1 = n.add(conv(4, s=2, p=1), [p], "BlurPool", attrs=BLUR)
    c = n.add(conv(3, s=1, p=1), [b1])
    b2 = n.add(conv(4, s=2, p=1), [n.add(Pointwise(), [c], "ReLU")], "BlurPool", attrs=BLUR)
    assert run(n.build(b2), "AA103") == []
    # A stride-1 blur after one subsampling and in front of the next protects the next one.
    n = Net()
    c1 = n.add(conv(3, s=2, p=1), [n.x])
    blur = n.add(conv(3, s=1, p=1), [c1], "BlurPool", attrs=BLUR)
    assert run(n.build(n.add(conv(3, s=2, p=1), [blur])), "AA103") == []
    # The strided layer was itself blurred first: the extra smoothing is not misplaced.
    n = Net()
    b0 = n.add(conv(4, s=1, p=1), [n.x], "BlurPool", attrs=BLUR)
    c1 = n.add(conv(3, s=2, p=1), [b0])
    blur = n.add(conv(3, s=1, p=1), [c1], "BlurPool", attrs=BLUR)
    assert run(n.build(n.add(conv(3, p=1), [blur])), "AA103") == []


def test_aa103_inception_pool_branch_and_global_avg_are_not_blurs():
    # Inception: a strided max pool feeds four branches, one of which is AvgPool(3, s=1):
    # a pooling branch, not an anti-aliasing blur placed after the subsampling.
    n = Net()
    p = n.add(conv(3, s=2, kind="max_pool"), [n.x])
    b1 = n.add(conv(1), [p])
    avg = n.add(conv(3, s=1, p=1, kind="avg_pool"), [p])
    b2 = n.add(conv(1), [avg])
    assert run(n.build(n.add(Merge("concat"), [b1, b2], "cat")), "AA103") == []
    # An AvgPool as wide as its 7x7 input after a strided conv is global pooling.
    n = Net()
    c = n.add(conv(2, s=2), [n.x])  # 14 -> 7
    avg = n.add(conv(7, s=1, kind="avg_pool"), [c])
    assert run(n.build(avg), "AA103", ModelSettings(input_size=(14,))) == []


def test_aa103_blur_before_strided_max_pool():
    n = Net()
    c = n.add(conv(3, p=1), [n.x])
    blur = n.add(conv(3, s=1, p=1), [c], "BlurPool", attrs=BLUR)
    relu = n.add(Pointwise(), [blur], "ReLU")
    pool = n.add(conv(3, s=2, p=1, kind="max_pool"), [relu])
    [d] = run(n.build(pool), "AA103")
    assert d.loc.line == 11
    assert "blurs before MaxPool2d(kernel_size=3, stride=2) (line 13)" in d.message
    assert "MaxPool2d(kernel_size=3, stride=1) + BlurPool(stride=2)" in d.message
    # Boundary: a stride-1 max after the blur does not subsample.
    n = Net()
    blur = n.add(conv(3, s=1, p=1), [n.add(conv(3, p=1), [n.x])], "BlurPool", attrs=BLUR)
    assert run(n.build(n.add(conv(3, s=1, p=1, kind="max_pool"), [blur])), "AA103") == []


# --------------------------------------------------------------------------- CB103


def test_cb103_pixel_shuffle_after_conv():
    n = Net()
    c = n.add(conv(3, p=1), [n.x], name="expand", attrs={"out_channels": 256})
    act = n.add(Pointwise(), [c], "ReLU")
    ps = n.add(PixelShuffle(2), [act], "PixelShuffle")
    [d] = run(n.build(ps), "CB103")
    assert d.code == "CB103" and d.severity == Severity.INFO and d.loc.line == 12
    # factor 2 in 2-D: 2^2 = 4 sub-pixel outputs per input pixel.
    assert "PixelShuffle(2) rearranges its 256 output channels from Conv2d(kernel_size=3, stride=1) 'expand' (line 10)" in d.message
    assert "the 4 sub-pixel outputs" in d.message and "ICNR" in d.message
    assert "# noqa: CB103" in d.message


def test_cb103_boundary_and_false_positives():
    # Not after a conv (the model input, a merge): nothing to initialise.
    n = Net()
    assert run(n.build(n.add(PixelShuffle(2), [n.x], "PixelShuffle")), "CB103") == []
    n = Net()
    a, b = n.add(conv(3, p=1), [n.x]), n.add(conv(1), [n.x])
    m = n.add(Merge("add"), [a, b], "add")
    assert run(n.build(n.add(PixelShuffle(2), [m], "PixelShuffle")), "CB103") == []
    # A reader that saw ICNR initialisation says so.
    n = Net()
    c = n.add(conv(3, p=1), [n.x], attrs={"icnr": True})
    assert run(n.build(n.add(PixelShuffle(2), [c], "PixelShuffle")), "CB103") == []


# --------------------------------------------------------------------------- NM101


def _bn_net(type_name: str = "BatchNorm2d", channels: int = 64):
    n = Net()
    c = n.add(conv(3, p=1), [n.x])
    bn = n.add(Pointwise(), [c], type_name, name="bn", attrs={"num_features": channels})
    return n.build(bn)


def test_nm101_small_batch():
    [d] = run(_bn_net(), "NM101", ModelSettings(batch_size=7))
    assert d.code == "NM101" and d.severity == Severity.WARNING and d.loc.line == 11
    assert d.message.startswith("BatchNorm2d(64) normalises with the statistics of a per-device batch of 7 (batch-size 7 < 8)")
    assert "10.6 points" in d.message
    # 64 channels: 32 groups of 2 channels (Wu & He's default G = 32).
    assert "nn.GroupNorm(32, 64)" in d.message and "nn.SyncBatchNorm" in d.message


def test_nm101_boundary_batch_of_eight():
    assert run(_bn_net(), "NM101", ModelSettings(batch_size=8)) == []
    assert run(_bn_net(), "NM101", ModelSettings()) == []


def test_nm101_not_for_sync_frozen_or_other_norms():
    for name in ("SyncBatchNorm", "FrozenBatchNorm2d", "GroupNorm", "InstanceNorm2d", "LayerNorm"):
        assert run(_bn_net(name), "NM101", ModelSettings(batch_size=2)) == [], name
    for name in ("BatchNorm1d", "BatchNorm3d", "LazyBatchNorm2d"):
        assert len(run(_bn_net(name), "NM101", ModelSettings(batch_size=2))) == 1, name


def test_nm101_replacement_fits_the_channels():
    # 48 channels: the largest G <= 32 dividing 48 with >= 2 channels per group is 24.
    [d] = run(_bn_net(channels=48), "NM101", ModelSettings(batch_size=2))
    assert "nn.GroupNorm(24, 48)" in d.message
    # BatchNorm1d (usually on vectors): LayerNorm over the features.
    [d] = run(_bn_net("BatchNorm1d", 10), "NM101", ModelSettings(batch_size=2))
    assert "Use nn.LayerNorm(10), nn.SyncBatchNorm" in d.message and "nn.GroupNorm" not in d.message


# --------------------------------------------------------------------------- NM102


def test_nm102_batchnorm1d_after_global_pooling_at_batch_one():
    n = Net()
    c = n.add(conv(3, p=1), [n.x])
    pool = n.add(Global((1, 1)), [c], "AdaptiveAvgPool2d")
    flat = n.add(EndSpatial(), [pool], "flatten")
    bn = n.add(Pointwise(), [flat], "BatchNorm1d", attrs={"num_features": 64})
    g = n.build(bn)
    [d] = run(g, "NM102", ModelSettings(batch_size=1))
    assert d.code == "NM102" and d.severity == Severity.ERROR and d.loc.line == 13
    assert "BatchNorm1d(64) gets a pooled or flattened vector at batch-size 1: N*H*W = 1" in d.message
    assert "Expected more than 1 value per channel when training" in d.message
    # Boundary: batch 2 gives N*H*W = 2.
    assert run(g, "NM102", ModelSettings(batch_size=2)) == []
    assert run(g, "NM102", ModelSettings()) == []


def test_nm102_batchnorm2d_on_a_one_by_one_map():
    # 32 -> 16 -> 8 -> 4 -> 2 -> 1 through five conv(3, s=2, p=1): floor((n + 2 - 3)/2) + 1.
    n = Net()
    ids = n.seq(n.x, *[conv(3, s=2, p=1)] * 5)
    bn2 = n.add(Pointwise(), [ids[3]], "BatchNorm2d", attrs={"num_features": 8})  # on the 2x2 map
    bn1 = n.add(Pointwise(), [ids[4]], "BatchNorm2d", attrs={"num_features": 8})  # on the 1x1 map
    g = n.build([("a", bn2), ("b", bn1)])
    [d] = run(g, "NM102", ModelSettings(input_size=(32,), batch_size=1))
    assert d.loc.line == g.nodes[bn1].loc.line
    assert "gets a 1x1 feature map at batch-size 1" in d.message
    # Without input-size the map sizes are not known: quiet rather than guessing.
    assert run(g, "NM102", ModelSettings(batch_size=1)) == []


def test_nm102_flatten_of_a_larger_map_is_not_guessed():
    # BatchNorm1d right after flatten of a 7x7 map: (N, C*49) with flatten(1) raises at
    # batch 1, (N, C, 49) with flatten(2) does not; the graph does not keep start_dim.
    n = Net()
    c = n.add(conv(2, s=2), [n.x])  # 14 -> 7
    flat = n.add(EndSpatial(), [c], "flatten")
    bn = n.add(Pointwise(), [flat], "BatchNorm1d")
    assert run(n.build(bn), "NM102", ModelSettings(input_size=(14,), batch_size=1)) == []
    # ... but a Linear after the flatten reads (N, features): its output is (N, F).
    n = Net()
    c = n.add(conv(2, s=2), [n.x])
    fc = n.add(EndSpatial(), [n.add(EndSpatial(), [c], "flatten")], "Linear")
    bn = n.add(Pointwise(), [fc], "BatchNorm1d")
    assert len(run(n.build(bn), "NM102", ModelSettings(input_size=(14,), batch_size=1))) == 1
    # SyncBatchNorm is not flagged (its statistics span every device's batch).
    n = Net()
    pool = n.add(Global((1, 1)), [n.add(conv(3, p=1), [n.x])], "AdaptiveAvgPool2d")
    bn = n.add(Pointwise(), [pool], "SyncBatchNorm")
    assert run(n.build(bn), "NM102", ModelSettings(batch_size=1)) == []


def test_nm102_from_source_through_the_reader():
    src = (
        "import torch\n"
        "import torch.nn as nn\n"
        "\n"
        "\n"
        "class Embed(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n"
        "        self.pool = nn.AdaptiveAvgPool2d(1)\n"
        "        self.fc = nn.Linear(16, 8)\n"
        "        self.bn = nn.BatchNorm1d(8)\n"
        "\n"
        "    def forward(self, x):\n"
        "        x = torch.flatten(self.pool(self.conv(x)), 1)\n"
        "        return self.bn(self.fc(x))\n"
    )
    one = default_config().with_overrides(select=["NM102"], batch_size=1)
    [d] = check_text("embed.py", src, one)
    assert (d.code, d.loc.line) == ("NM102", 11)
    two = default_config().with_overrides(select=["NM102"], batch_size=2)
    assert check_text("embed.py", src, two) == []


# --------------------------------------------------------------------------- CC101

REGRESSOR = """\
import torch
import torch.nn as nn


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(IN, 32, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 2)

    def forward(self, x):
        x = PRE
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))
"""


def _regressor(coords: bool) -> str:
    if coords:
        pre = (
            "torch.cat([x, torch.linspace(-1, 1, 64).view(1, 1, 1, 64).expand(1, 1, 64, 64), "
            "torch.linspace(-1, 1, 64).view(1, 1, 64, 1).expand(1, 1, 64, 64)], dim=1)"
        )
        return REGRESSOR.replace("IN", "5").replace("PRE", pre)
    return REGRESSOR.replace("IN", "3").replace("PRE", "x")


def _cc(src: str, task: str | None) -> list[Diagnostic]:
    cfg = default_config().with_overrides(select=["CC101"], task=task)
    return check_text("regressor.py", src, cfg)


def test_cc101_coordinate_regression_without_coordinates():
    [d] = _cc(_regressor(False), "regression")
    assert d.code == "CC101" and d.severity == Severity.INFO
    assert d.loc.line == 5  # the model's class
    assert "task 'regression' regresses positions, and output 'output' is a vector" in d.message
    assert "CoordConv" in d.message
    assert len(_cc(_regressor(False), "keypoints")) == 1


def test_cc101_boundary_tasks_that_are_not_about_positions():
    assert _cc(_regressor(False), "classification") == []
    assert _cc(_regressor(False), "detection") == []
    assert _cc(_regressor(False), None) == []


def test_cc101_coordinate_channels_are_seen():
    assert _cc(_regressor(True), "regression") == []
    # It is the concat with the constant grids that counts: the static reader shows each
    # torch.linspace grid as a non-tensor operand of the channel concat on line 14.
    from rflint.api import read_source
    from rflint.checks.cc import coordinate_evidence

    [model] = read_source("regressor.py", _regressor(True)).models
    ctx = ModelContext(model.graph, analyse(model.graph, None), ModelSettings(task="regression"))
    found = coordinate_evidence(ctx)
    assert found is not None and isinstance(found.op, Merge) and found.op.kind == "concat"
    assert found.loc.line == 14
    [plain] = read_source("regressor.py", _regressor(False)).models
    ctx = ModelContext(plain.graph, analyse(plain.graph, None), ModelSettings(task="regression"))
    assert coordinate_evidence(ctx) is None


def test_cc101_heatmap_outputs_and_named_positional_layers():
    # Keypoint heatmaps: every output is a feature map, translation-equivariant by design.
    n = Net()
    ids = n.seq(n.x, conv(3, s=2, p=1), conv(1))
    g = n.build(ids[-1])
    assert run(g, "CC101", ModelSettings(task="keypoints")) == []
    # A vector output fires; a layer named as a positional encoding silences it.
    n = Net()
    c = n.add(conv(3, s=2, p=1), [n.x])
    vec = n.add(EndSpatial(), [n.add(Global((1, 1)), [c], "AdaptiveAvgPool2d")], "flatten")
    assert len(run(n.build(vec), "CC101", ModelSettings(task="keypoints"))) == 1
    n = Net()
    c = n.add(conv(3, s=2, p=1), [n.x], name="coord_conv.conv")
    vec = n.add(EndSpatial(), [n.add(Global((1, 1)), [c], "AdaptiveAvgPool2d")], "flatten")
    assert run(n.build(vec), "CC101", ModelSettings(task="keypoints")) == []
    # A reader that marks a positional encoding.
    n = Net()
    c = n.add(conv(3, s=2, p=1), [n.x], attrs={"positional": True})
    vec = n.add(EndSpatial(), [n.add(Global((1, 1)), [c], "AdaptiveAvgPool2d")], "flatten")
    assert run(n.build(vec), "CC101", ModelSettings(task="regression")) == []


def test_cc101_incomplete_graph_is_not_judged():
    n = Net()
    c = n.add(conv(3, s=2, p=1), [n.x])
    vec = n.add(EndSpatial(), [n.add(Global((1, 1)), [c], "AdaptiveAvgPool2d")], "flatten")
    assert run(n.build(vec, complete=False), "CC101", ModelSettings(task="keypoints")) == []


@pytest.mark.parametrize("task", ["Keypoints", "coordinate_regression", "landmarks", "pose"])
def test_cc101_task_spellings(task):
    assert all_rules()["CC101"]().applicable(ModelSettings(task=task))


PER_OUTPUT = """
import torch.nn as nn


# rflint: input-size=256 output-object-size=fine:8..16,coarse:64..128
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.fine = nn.Conv2d(3, 8, 3, padding=1)
        self.coarse = nn.Conv2d(8, 8, 5, stride=4, padding=2)

    def forward(self, x):
        fine = self.fine(x)
        return {"fine": fine, "coarse": self.coarse(fine)}
"""


def test_rf101_object_size_per_output() -> None:
    """A detector's heads see objects of different sizes. By hand: 'fine' (conv 3/1/1) has r = 3,
    'coarse' (conv 5/4/2 on it) r = 3 + 4 = 7. With 'fine' for objects up to 16 px and 'coarse' up to
    128 px both are short; with the fine head's objects at 3 px, only 'coarse' is."""
    from rflint.api import check_text
    from rflint.config import default_config

    (d,) = [d for d in check_text("heads.py", PER_OUTPUT) if d.code == "RF101"]
    assert "'output['fine']' 3 px < object size 16 px" in d.message
    assert "'output['coarse']' 7 px < object size 128 px" in d.message
    src = PER_OUTPUT.replace("fine:8..16", "fine:1..3")
    (d,) = [d for d in check_text("heads.py", src) if d.code == "RF101"]
    assert "coarse" in d.message and "'output['fine']'" not in d.message
    # A model-wide object size applies to the outputs that have none of their own.
    config = default_config().with_overrides(object_size=[1, 5])
    src = PER_OUTPUT.replace(",coarse:64..128", "")
    (d,) = [d for d in check_text("heads.py", src, config) if d.code == "RF101"]
    assert "fine" in d.message and "coarse" not in d.message  # coarse: 7 >= 5


def test_output_object_size_in_the_configuration(tmp_path) -> None:
    from rflint.config import load_config

    (tmp_path / "rflint.toml").write_text('output-object-size = { p3 = [8, 64], p4 = 256 }\n')
    settings = load_config(tmp_path / "rflint.toml").settings()
    assert settings.object_size_for("output['p3']") == (8, 64)
    assert settings.object_size_for("output['p4']") == (1, 256)
    assert settings.object_size_for("output['p5']") is None


def test_rf102_object_size_per_output() -> None:
    """RF102 reads each output's own object size, as RF101 does. By hand (DESIGN.md's ERF,
    sigma^2 += (j*d)^2 (k^2 - 1)/12): 'fine' is one 3x3 conv, sigma^2 = 8/12, 4 sigma =
    3.27 px; 'coarse' adds a 5x5 stride-4 conv at jump 1, sigma^2 = 8/12 + 24/12 = 8/3,
    4 sigma = 6.53 px."""
    n = Net()
    fine = n.add(conv(3, p=1), [n.x])
    coarse = n.add(conv(5, s=4, p=2), [fine])
    g = n.build([("fine", fine), ("coarse", coarse)])
    assert f"{4 * math.sqrt(8 / 12):.1f}" == "3.3" and f"{4 * math.sqrt(8 / 3):.1f}" == "6.5"
    own = {"fine": (1, 3), "coarse": (8, 16)}
    # 'fine' 3.27 >= 3 is quiet under its own size, though short of the model-wide 5 px;
    # 'coarse' 6.53 >= 5 would pass the model-wide size, but not its own 16 px.
    [d] = run(g, "RF102", ModelSettings(object_size=(1, 5), output_object_size=own))
    assert d.message.startswith("Output ERF < object size 16 px for 'coarse' 6.5 px (RF 7 px):")
    assert "'fine'" not in d.message
    # Both short, each under its own size: each named with its own.
    [d] = run(g, "RF102", ModelSettings(output_object_size={"fine": (1, 4), "coarse": (8, 16)}))
    assert "'fine' 3.3 px (RF 3 px) < object size 4 px, 'coarse' 6.5 px (RF 7 px) < object size 16 px" in d.message
    # Per-output sizes alone (no model-wide one) are enough for the rule to apply.
    settings = ModelSettings(output_object_size={"fine": (1, 4)})
    assert all_rules()["RF102"]().applicable(settings)
    [d] = run(g, "RF102", settings)
    assert d.message.startswith("Output ERF < object size 4 px for 'fine' 3.3 px (RF 3 px):")
    assert "coarse" not in d.message
