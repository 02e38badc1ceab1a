"""Unit tests of the layer and model rules CB101, CB102, ST101, AA101, AA102, RF101.

Graphs are built by hand with GraphBuilder; every number a message must carry
is derived here by hand from the rule's definition in RULES.md.
"""

from __future__ import annotations

import ast
from fractions import Fraction

import pytest
from graphs import FILE, TYPE, loc, tconv
from graphs import window as conv

from rflint.analysis import analyse
from rflint.checks.base import ModelContext, Rule, all_rules, run_rules
from rflint.checks.cb import resize_kernel
from rflint.checks.layers import (
    comes_straight_from_blur,
    direct_inputs,
    is_blur,
    residue_counts,
    unused_fraction,
)
from rflint.diagnostics import Diagnostic, Edit, Severity
from rflint.fixes import apply_edits
from rflint.ir import (
    Global,
    GraphBuilder,
    Location,
    Merge,
    Pointwise,
    TransposedConv,
    Window,
)
from rflint.rf import transposed_out_size
from rflint.settings import ModelSettings


def chain(*ops, settings_input=None, complete=True, attrs=None):
    """A sequential graph of the given ops, one per line starting at line 10."""
    b = GraphBuilder()
    x = b.input()
    ids = []
    for i, op in enumerate(ops):
        if isinstance(op, Window):
            type_name = TYPE.get(op.kind, "Window")
        elif isinstance(op, TransposedConv):
            type_name = "ConvTranspose2d"
        else:
            type_name = type(op).__name__
        x = b.add(op, [x], type_name, loc=loc(10 + i), attrs=(attrs or {}).get(i))
        ids.append(x)
    return b.build("Net", [("out", x)], loc=loc(1, 1), complete=complete), ids


def run(graph, rule: str | type[Rule], settings: ModelSettings = ModelSettings()) -> list[Diagnostic]:
    cls = all_rules()[rule] if isinstance(rule, str) else rule
    ctx = ModelContext(graph, analyse(graph, settings.input_size), settings)
    found, errors = run_rules(ctx, [cls()])
    assert not errors, errors
    return found


def ctx_of(graph, settings: ModelSettings = ModelSettings()) -> ModelContext:
    return ModelContext(graph, analyse(graph, settings.input_size), settings)


# --------------------------------------------------------------------------- registry


def test_rules_registered_with_catalogue_names_and_severities():
    rules = all_rules()
    expected = {
        "CB101": ("transposed-conv-gaps", Severity.ERROR),
        "CB102": ("transposed-conv-uneven-overlap", Severity.WARNING),
        "ST101": ("stride-skips-input", Severity.WARNING),
        "AA101": ("aliased-strided-conv", Severity.WARNING),
        "AA102": ("aliased-pooling", Severity.WARNING),
        "RF101": ("rf-smaller-than-object", Severity.WARNING),
    }
    for code, (name, severity) in expected.items():
        assert rules[code].name == name
        assert rules[code].severity == severity
        assert rules[code].summary
        assert rules[code].enabled_by_default
    assert rules["RF101"].needs_complete_graph
    assert not any(rules[c].needs_complete_graph for c in expected if c != "RF101")


# --------------------------------------------------------------------------- shared helpers


def test_residue_counts_by_hand():
    assert residue_counts(3, 2, 1) == [2, 1]  # t = 0, 1, 2 -> 0, 1, 0
    assert residue_counts(4, 2, 1) == [2, 2]
    assert residue_counts(3, 2, 2) == [3, 0]  # 0, 2, 4 all even
    assert residue_counts(3, 2, 3) == [2, 1]  # 0, 3, 6 -> 0, 1, 0
    assert residue_counts(5, 3, 1) == [2, 2, 1]
    assert residue_counts(1, 2, 1) == [1, 0]


def test_unused_fraction_by_hand():
    assert unused_fraction(conv(1, 2)) == Fraction(3, 4)  # reads 1/2 per axis
    assert unused_fraction(conv(3, 4, kind="max_pool")) == 1 - Fraction(3, 4) ** 2
    assert unused_fraction(conv((1, 3), (2, 2))) == Fraction(1, 2)
    assert unused_fraction(conv(2, 2)) == 0


def test_is_blur():
    b = GraphBuilder()
    x = b.input()
    blur = b.add(conv(4, 2), [x], "BlurPool", attrs={"blur": True})
    box = b.add(conv(2, 2, kind="avg_pool"), [x], "AvgPool2d")
    box_s1 = b.add(conv(3, 1, kind="avg_pool"), [x], "AvgPool2d")
    narrow = b.add(conv(1, 2, kind="avg_pool"), [x], "AvgPool2d")
    one = b.add(conv(1, 1, kind="avg_pool"), [x], "AvgPool2d")
    plain = b.add(conv(3, 1), [x], "Conv2d")
    g = b.build("m", [("out", plain)])
    n = g.nodes
    assert is_blur(n[blur]) and is_blur(n[box]) and is_blur(n[box_s1])
    assert not is_blur(n[narrow]) and not is_blur(n[one]) and not is_blur(n[plain])


def test_direct_inputs_steps_over_pointwise_and_pads_only():
    b = GraphBuilder()
    x = b.input()
    blur = b.add(conv(3, 1), [x], "BlurPool", attrs={"blur": True})
    bn = b.add(Pointwise(), [blur], "BatchNorm2d")
    act = b.add(Pointwise(), [bn], "ReLU")
    pad = b.add(conv(1, p=1, kind="pad"), [act], "ReflectionPad2d")  # a border, no mixing
    c1 = b.add(conv(3, 2), [pad], "Conv2d")
    other = b.add(conv(3, 1), [x], "Conv2d")
    add = b.add(Merge("add"), [blur, other], "add")
    c2 = b.add(conv(3, 2), [add], "Conv2d")
    c3 = b.add(conv(3, 2), [x], "Conv2d")
    g = b.build("m", [("out", c2)])
    ctx = ctx_of(g)
    assert [n.id for n in direct_inputs(ctx, g.nodes[c1])] == [blur]
    assert comes_straight_from_blur(ctx, g.nodes[c1])
    assert [n.id for n in direct_inputs(ctx, g.nodes[c2])] == [add]
    assert not comes_straight_from_blur(ctx, g.nodes[c2])
    assert [n.id for n in direct_inputs(ctx, g.nodes[c3])] == [x]  # the model input
    assert not comes_straight_from_blur(ctx, g.nodes[c3])


# --------------------------------------------------------------------------- CB101


def test_cb101_kernel_smaller_than_stride():
    g, ids = chain(tconv(1, 2, op=1))
    [d] = run(g, "CB101")
    assert d.code == "CB101" and d.severity == Severity.ERROR
    assert d.loc == loc(10)
    # c = [1, 0] per axis: 1 of 2 outputs per axis empty; 2-D: 1 - (1/2)^2 = 3/4 bias only.
    assert "ConvTranspose2d(kernel_size=1, stride=2)" in d.message
    assert "1 of every 2 outputs along each axis" in d.message
    assert "kernel_size 1 < stride 2" in d.message
    assert "3/4 (75%)" in d.message
    assert "kernel_size=2" in d.message and "Upsample + Conv2d" in d.message
    assert run(g, "CB102") == []  # gaps are CB101's, not also CB102's


def test_cb101_boundary_kernel_equal_to_stride():
    g, _ = chain(tconv(2, 2))
    assert run(g, "CB101") == []
    assert run(g, "CB102") == []  # c = [1, 1]: even, no overlap at all


def test_cb101_dilation_sharing_a_factor_with_the_stride():
    g, _ = chain(tconv(3, 2, p=2, op=1, d=2))
    [d] = run(g, "CB101")
    # taps 0, 2, 4 are all even: odd outputs get nothing.
    assert "dilation 2 and stride 2 share the factor 2" in d.message
    assert "dilation=2" in d.message
    assert "3/4 (75%)" in d.message


def test_cb101_coprime_dilation_has_no_gap():
    g, _ = chain(tconv(3, 2, p=3, op=1, d=3))  # taps 0, 3, 6 -> residues 0, 1, 0
    assert run(g, "CB101") == []
    [d] = run(g, "CB102")
    assert "[2, 1]" in d.message


def test_cb101_both_reasons():
    g, _ = chain(tconv(2, 4, d=2))  # taps 0, 2 mod 4: c = [1, 0, 1, 0]; 1 - (2/4)^2 = 3/4
    [d] = run(g, "CB101")
    assert "2 of every 4 outputs along each axis" in d.message
    assert "kernel_size 2 < stride 4; dilation 2 and stride 4 share the factor 2" in d.message
    assert "3/4 (75%)" in d.message and "kernel_size=4 with dilation=1" in d.message


def test_cb101_one_axis():
    g, _ = chain(tconv((1, 2), (2, 2)))
    [d] = run(g, "CB101")
    assert "1 of every 2 outputs along H" in d.message
    assert "1/2 (50%)" in d.message
    assert "kernel_size=2" in d.message


def test_cb101_stride_three():
    g, _ = chain(tconv(2, 3))  # c = [1, 1, 0]: 1 of 3 empty; 1 - (2/3)^2 = 5/9
    [d] = run(g, "CB101")
    assert "1 of every 3 outputs along each axis" in d.message
    assert "5/9" in d.message
    assert "kernel_size=3" in d.message


# --------------------------------------------------------------------------- CB102


def test_cb102_kernel3_stride2():
    g, _ = chain(tconv(3, 2, p=1, op=1))
    [d] = run(g, "CB102")
    assert d.code == "CB102" and d.severity == Severity.WARNING
    assert d.loc == loc(10)
    assert d.message.startswith(
        "ConvTranspose2d(kernel_size=3, stride=2) overlaps unevenly (3 % 2 != 0): outputs alternate "
        "between 1 and 2 contributing inputs per axis, a checkerboard pattern (2-D overlap ratio 4:1). "
        "Use kernel_size=4 or Upsample + Conv2d."
    )
    assert d.fix is None  # no argument spans: no fix


def test_cb102_boundary_kernel_multiple_of_stride():
    for k, s in ((4, 2), (6, 3), (2, 2), (8, 4)):
        g, _ = chain(tconv(k, s))
        assert run(g, "CB102") == [], (k, s)
        assert run(g, "CB101") == [], (k, s)


def test_cb102_stride_one_never_uneven():
    g, _ = chain(tconv(3, 1, p=1))
    assert run(g, "CB102") == [] and run(g, "CB101") == []


def test_cb102_kernel5_stride3():
    g, _ = chain(tconv(5, 3, p=1))  # c = [2, 2, 1]
    [d] = run(g, "CB102")
    assert "(5 % 3 != 0)" in d.message
    assert "vary between 1 and 2" in d.message and "4:1" in d.message
    assert "kernel_size=6" in d.message


def test_cb102_one_axis_uneven():
    g, _ = chain(tconv((3, 4), (2, 2)))  # H: [2, 1], W: [2, 2]
    [d] = run(g, "CB102")
    assert "along H outputs alternate between 1 and 2" in d.message
    assert "2-D overlap ratio 2:1" in d.message
    assert "kernel_size=4" in d.message


def test_cb102_1d():
    g, _ = chain(tconv(3, 2, nd=1))
    [d] = run(g, "CB102")
    assert "ConvTranspose2d(kernel_size=3, stride=2)" in d.message
    assert "overlap ratio 2:1" in d.message and "2-D" not in d.message
    assert "Upsample + Conv1d" in d.message


# --------------------------------------------------------------------------- CB102 fix


def spans_of(source: str, params: tuple[str, ...] = ("in_channels", "out_channels", "kernel_size", "stride",
                                                    "padding", "output_padding", "groups", "bias", "dilation")):
    """What the Python reader gives: 1-based (line, col, end_line, end_col) per argument."""
    tree = ast.parse(source)
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "ConvTranspose2d")
    span = lambda n: (n.lineno, n.col_offset + 1, n.end_lineno, n.end_col_offset + 1)  # noqa: E731
    args = {params[i]: span(a) for i, a in enumerate(call.args)}
    args.update({kw.arg: span(kw.value) for kw in call.keywords})
    written = [*zip(params, call.args), *((kw.arg, kw.value) for kw in call.keywords)]
    literal = frozenset(name for name, node in written if isinstance(node, (ast.Constant, ast.Tuple)))
    return {"args": args, "literal": literal, "call": span(call)}, Location(FILE, call.lineno, call.col_offset + 1)


def apply(source: str, edits: tuple[Edit, ...]) -> str:
    return apply_edits(source, edits)


def fixed(source: str, op: TransposedConv, before: tuple = ()) -> tuple[Diagnostic, str]:
    attrs, where = spans_of(source)
    b = GraphBuilder()
    x = b.input()
    for pre in before:
        x = b.add(pre, [x], "Conv2d")
    x = b.add(op, [x], "ConvTranspose2d", loc=where, attrs=attrs)
    g = b.build("Net", [("out", x)])
    [d] = run(g, "CB102")
    assert d.fix is not None and d.fix.safe is False
    out = apply(source, d.fix.edits)
    ast.parse(out)
    return d, out


def test_cb102_fix_common_case():
    src = "self.up = nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1, output_padding=1)\n"
    d, out = fixed(src, tconv(3, 2, p=1, op=1))
    assert out == "self.up = nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1, output_padding=0)\n"
    # centre: (p' - (k'-1)/2) - (p - (k-1)/2) = (1 - 3/2) - (1 - 1) = -1/2, times j/s = 1/2: -1/4 px
    assert "moves the output's mean centre by -0.25 model-input px" in d.message
    assert "misalign a skip connection" in d.message
    assert "kernel_size=4, padding=1, output_padding=0" in d.fix.description


def test_cb102_fix_positional_and_inserted_output_padding():
    src = "up = nn.ConvTranspose2d(64, 32, 3, 2, 1)\n"
    # k=3, p=1, op=0: 2p' - op' = 2 - 0 + (4 - 3) = 3 -> p' = 2, op' = 1
    d, out = fixed(src, tconv(3, 2, p=1, op=0))
    assert out == "up = nn.ConvTranspose2d(64, 32, 4, 2, 2, output_padding=1)\n"
    # (2 - 3/2) - (1 - 1) = 1/2, times 1/2: +1/4
    assert "by 0.25 model-input px" in d.message


def test_cb102_fix_inserts_padding_with_trailing_comma():
    src = "up = nn.ConvTranspose2d(\n    64,\n    32,\n    kernel_size=3,\n    stride=2,\n)\n"
    # p=0, op=0: 2p' - op' = 1 -> p' = 1, op' = 1
    _, out = fixed(src, tconv(3, 2))
    assert out == "up = nn.ConvTranspose2d(\n    64,\n    32,\n    kernel_size=4,\n    stride=2, padding=1, output_padding=1,\n)\n"


def test_cb102_fix_centre_in_model_input_pixels():
    # After a stride-4 conv the input jump is j = 4: the quarter pixel becomes -1/2 * 4/2 = -1 px.
    src = "up = nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1, output_padding=1)\n"
    d, _ = fixed(src, tconv(3, 2, p=1, op=1), before=(conv(4, 4),))
    assert "by -1 model-input px" in d.message


@pytest.mark.parametrize(
    "k,s,d,p,op",
    [(3, 2, 1, 1, 1), (3, 2, 1, 1, 0), (3, 2, 1, 0, 0), (3, 2, 1, 0, 1), (5, 2, 1, 2, 1), (5, 3, 1, 1, 2),
     (7, 4, 1, 3, 1), (3, 2, 3, 3, 1), (5, 4, 1, 0, 3), (2, 3, 1, 0, 0)],
)
def test_resize_kernel_keeps_output_size(k, s, d, p, op):
    new = resize_kernel(tconv(k, s, p=p, op=op, d=d))
    assert new is not None
    k2, p2, op2 = new
    assert k2 % s == 0 and k2 > k and k2 - k < s
    assert p2 >= 0 and 0 <= op2 < max(s, d)
    for n in range(1, 40):
        assert transposed_out_size(n, k, s, d, p, op) == transposed_out_size(n, k2, s, d, p2, op2)


def test_resize_kernel_refuses_invalid_rewrites():
    assert resize_kernel(tconv(7, 4, p=0, op=3)) is None  # 2p' - op' = -3 + 1 < 0: p' would be negative
    assert resize_kernel(tconv((3, 1), (2, 1))) is None  # not the same on every axis
    assert resize_kernel(tconv(4, 2, p=1)) is None  # already a multiple
    assert resize_kernel(tconv(3, 2, d=2)) is None  # gcd(d, s) > 1: no kernel size fixes that


def test_cb102_no_fix_through_a_shared_helper_or_differing_uses():
    # A helper's parameters (kernel_size=k): the values are not written at the call, so not rewritten.
    helper_src = "up = nn.ConvTranspose2d(64, 32, kernel_size=k, stride=2, padding=1, output_padding=1)\n"
    helper_attrs, helper = spans_of(helper_src)
    b = GraphBuilder()
    x = b.input()
    b.add(tconv(3, 2, p=1, op=1), [x], "ConvTranspose2d", loc=helper, attrs=helper_attrs)
    [d] = run(b.build("Net", [("out", 1)]), "CB102")
    assert d.fix is None and "Unsafe fix" not in d.message

    src = "up = nn.ConvTranspose2d(64, 32, kernel_size=3, stride=2, padding=1, output_padding=1)\n"
    attrs, where = spans_of(src)
    b = GraphBuilder()
    x = b.input()
    y = b.add(tconv(3, 2, p=1, op=1), [x], "ConvTranspose2d", loc=where, attrs=attrs)
    z = b.add(tconv(5, 2, p=2, op=1), [y], "ConvTranspose2d", loc=where, attrs=attrs)  # same line, other values
    found = run(b.build("Net", [("out", z)]), "CB102")
    assert len(found) == 2 and all(f.fix is None for f in found)


def test_cb102_no_fix_when_values_not_valid():
    src = "up = nn.ConvTranspose2d(64, 32, kernel_size=7, stride=4, output_padding=3)\n"
    attrs, where = spans_of(src)
    b = GraphBuilder()
    x = b.add(tconv(7, 4, op=3), [b.input()], "ConvTranspose2d", loc=where, attrs=attrs)
    [d] = run(b.build("Net", [("out", x)]), "CB102")
    assert d.fix is None


# --------------------------------------------------------------------------- ST101


def test_st101_1x1_stride2():
    g, _ = chain(conv(1, 2))
    [d] = run(g, "ST101")
    assert d.code == "ST101" and d.severity == Severity.WARNING and d.loc == loc(10)
    assert "Conv2d(kernel_size=1, stride=2) reads only 1 of every 2 input positions along each axis" in d.message
    assert "3/4 (75%) of its input is never read" in d.message
    assert "AvgPool2d(kernel_size=2, stride=2)" in d.message


def test_st101_boundary_kernel_equal_to_stride():
    g, _ = chain(conv(2, 2), conv(3, 3, kind="max_pool"), conv(4, 2, kind="avg_pool"))
    assert run(g, "ST101") == []


def test_st101_dilation():
    g, _ = chain(conv(2, 2, d=2))  # taps 0, 2: only even residues
    [d] = run(g, "ST101")
    assert "(taps t*dilation mod stride = {0})" in d.message
    assert "3/4 (75%)" in d.message
    g, _ = chain(conv(2, 2, d=3))  # taps 0, 3: both residues
    assert run(g, "ST101") == []


def test_st101_pool_and_one_axis():
    g, _ = chain(conv(3, 4, kind="max_pool"))  # 3 of 4 per axis: 1 - 9/16 = 7/16
    [d] = run(g, "ST101")
    assert "MaxPool2d(kernel_size=3, stride=4) reads only 3 of every 4" in d.message
    assert "7/16 (43.75%)" in d.message
    assert "kernel_size >= stride (kernel_size=4)" in d.message
    g, _ = chain(conv((1, 2), (2, 2)))
    [d] = run(g, "ST101")
    assert "1 of every 2 along H" in d.message and "1/2 (50%)" in d.message


def _bottleneck(main_first_stride: int):
    """ResNet downsampling block: main path 1x1 -> 3x3 -> 1x1, shortcut 1x1 stride 2."""
    b = GraphBuilder()
    x = b.input()
    s1, s2 = (2, 1) if main_first_stride == 2 else (1, 2)
    m = b.add(conv(1, s1), [x], "Conv2d", loc=loc(20))
    m = b.add(Pointwise(), [m], "ReLU")
    m = b.add(conv(3, s2, p=1), [m], "Conv2d", loc=loc(21))
    m = b.add(conv(1, 1), [m], "Conv2d", loc=loc(22))
    sc = b.add(conv(1, 2), [x], "Conv2d", loc=loc(23))
    sc = b.add(Pointwise(), [sc], "BatchNorm2d")
    out = b.add(Merge("add"), [m, sc], "add")
    return b.build("Block", [("out", out)])


def test_st101_parallel_path_covers_shortcut():
    [d] = run(_bottleneck(main_first_stride=1), "ST101")  # v1.5: main path reads everything
    assert d.loc == loc(23) and d.severity == Severity.INFO
    assert "parallel path" in d.message


def test_st101_parallel_path_that_skips_too():
    found = run(_bottleneck(main_first_stride=2), "ST101")  # v1: both 1x1 stride 2
    assert sorted(f.loc.line for f in found) == [20, 23]
    assert all(f.severity == Severity.WARNING for f in found)


# --------------------------------------------------------------------------- AA101


def test_aa101_strided_conv_from_model_input():
    g, _ = chain(conv(3, 2, p=1))
    [d] = run(g, "AA101")
    assert d.code == "AA101" and d.severity == Severity.WARNING and d.loc == loc(10)
    assert "Conv2d(kernel_size=3, stride=2) subsamples by 2 without a low-pass filter" in d.message
    assert "period under 4" in d.message
    assert "BlurPool(stride=2)" in d.message


def test_aa101_boundary_stride_one():
    g, _ = chain(conv(3, 1, p=1))
    assert run(g, "AA101") == []


def test_aa101_after_blur_and_pointwise():
    blur = conv(4, 2, p=1)
    g, _ = chain(blur, Pointwise(), Pointwise(), conv(3, 2, p=1), attrs={0: {"blur": True}})
    assert run(g, "AA101") == []  # the BlurPool itself is not flagged, nor the conv after it
    g, _ = chain(conv(2, 2, kind="avg_pool"), conv(3, 2, p=1))
    assert run(g, "AA101") == []
    g, _ = chain(conv(1, 2, kind="avg_pool"), conv(3, 2, p=1))  # kernel < stride: not a blur
    assert [d.loc.line for d in run(g, "AA101")] == [11]


def test_aa101_after_merge_fires():
    b = GraphBuilder()
    x = b.input()
    blur = b.add(conv(3, 1, p=1), [x], "BlurPool", attrs={"blur": True})
    c = b.add(conv(3, 1, p=1), [x], "Conv2d")
    add = b.add(Merge("add"), [blur, c], "add")
    s = b.add(conv(3, 2, p=1), [add], "Conv2d", loc=loc(30))
    [d] = run(b.build("m", [("out", s)]), "AA101")
    assert d.loc == loc(30)


def test_aa101_node_without_inputs_fires():
    b = GraphBuilder()
    b.add(conv(3, 2, p=1), [], "Conv2d", loc=loc(5))
    [d] = run(b.build("m", [("out", 0)], complete=False), "AA101")
    assert d.loc == loc(5)


def test_aa101_pool_only_option():
    g, _ = chain(conv(3, 2, p=1))
    settings = ModelSettings(rule_options={"AA101": {"pool-only": True}})
    assert run(g, "AA101", settings) == []


# --------------------------------------------------------------------------- AA102


def test_aa102_max_pool_stride2():
    g, _ = chain(conv(3, 2, p=1, kind="max_pool"))
    [d] = run(g, "AA102")
    assert d.code == "AA102" and d.severity == Severity.WARNING
    assert "MaxPool2d(kernel_size=3, stride=2) takes a max and subsamples by 2" in d.message
    assert "MaxPool2d(kernel_size=3, stride=1) followed by BlurPool(stride=2)" in d.message


def test_aa102_boundary():
    g, _ = chain(conv(3, 1, p=1, kind="max_pool"), conv(2, 2, kind="avg_pool"), conv(3, 2, kind="avg_pool"))
    assert run(g, "AA102") == []
    g, _ = chain(conv(2, 2, kind="max_pool"), attrs={0: {"blur": True}})  # MaxBlurPool
    assert run(g, "AA102") == []


def test_aa102_narrow_avg_pool():
    g, _ = chain(conv(1, 2, kind="avg_pool"))
    [d] = run(g, "AA102")
    assert "AvgPool2d(kernel_size=1, stride=2) averages a window narrower than its stride (1 < 2)" in d.message
    assert "AvgPool2d(kernel_size=2, stride=2)" in d.message


# --------------------------------------------------------------------------- RF101


SMALL = (conv(3, 2, p=1), conv(3, 2, p=1), conv(3, 1, p=1), conv(1, 1))  # r = 3, 7, 15, 15


def test_rf101_fires_with_numbers():
    g, _ = chain(*SMALL)
    settings = ModelSettings(input_size=(224, 224), object_size=(32, 200))
    [d] = run(g, "RF101", settings)
    assert d.code == "RF101" and d.severity == Severity.WARNING
    assert d.loc == loc(1, 1)  # the model, not a layer
    assert d.message.startswith("Output RF 15 px < object size 200 px at input 224 px")
    assert "global context" not in d.message


def test_rf101_boundary():
    g, _ = chain(*SMALL)
    assert run(g, "RF101", ModelSettings(object_size=(8, 15))) == []
    [d] = run(g, "RF101", ModelSettings(object_size=(8, 16)))
    assert "Output RF 15 px < object size 16 px" in d.message and "at input" not in d.message


def test_rf101_needs_object_size_and_complete_graph():
    g, _ = chain(*SMALL)
    assert run(g, "RF101", ModelSettings(input_size=(224, 224))) == []
    g, _ = chain(*SMALL, complete=False)
    assert run(g, "RF101", ModelSettings(object_size=(32, 200))) == []


def test_rf101_object_capped_at_input():
    g, _ = chain(*SMALL)
    [d] = run(g, "RF101", ModelSettings(input_size=(64, 64), object_size=(16, 200)))
    assert "object size 200 px (capped at the input, 64 px)" in d.message
    # r = 3 + 2*2 + 2*4 + 2*8 = 31, then 31 + 2*8 = 47, 63, 79 >= 64: no finding
    big, _ = chain(conv(3, 2, p=1), conv(3, 2, p=1), conv(3, 2, p=1), *(conv(3, 1, p=1) for _ in range(4)))
    assert run(big, "RF101", ModelSettings(input_size=(64, 64), object_size=(16, 200))) == []


def test_rf101_axes_differ():
    g, _ = chain(conv((3, 7), 1, p=(1, 3)))
    [d] = run(g, "RF101", ModelSettings(object_size=(1, 5)))
    assert "Output RF 3x7 px" in d.message


def test_rf101_global_gate_mentioned():
    b = GraphBuilder()
    x = b.input()
    f = b.add(conv(3, 1, p=1), [x], "Conv2d")
    gate = b.add(Global((1, 1)), [f], "AdaptiveAvgPool2d")
    gate = b.add(Pointwise(), [gate], "Sigmoid")
    out = b.add(Merge("mul"), [f, gate], "mul")
    g = b.build("SE", [("out", out)], loc=loc(1, 1))
    [d] = run(g, "RF101", ModelSettings(object_size=(8, 32)))
    assert "Output RF 3 px < object size 32 px" in d.message
    assert "global context through a squeeze-and-excitation or attention gate" in d.message


def test_rf101_heads_listed():
    b = GraphBuilder()
    x = b.input()
    p3 = b.add(conv(3, 2, p=1), [x], "Conv2d")  # r = 3
    p4 = b.add(conv(3, 2, p=1), [p3], "Conv2d")  # r = 7
    p5 = b.add(conv(7, 2, p=3), [p4], "Conv2d")  # r = 7 + 6*4 = 31
    g = b.build("Det", [("p3", p3), ("p4", p4), ("p5", p5)], loc=loc(1, 1))
    [d] = run(g, "RF101", ModelSettings(object_size=(4, 16)))
    assert "Output RF < object size 16 px for 'p3' 3 px, 'p4' 7 px" in d.message
    assert "'p5'" not in d.message


def test_rf101_ended_output_uses_last_spatial_map():
    b = GraphBuilder()
    x = b.input()
    f = b.add(conv(5, 1, p=2), [x], "Conv2d")
    pooled = b.add(Global((1, 1)), [f], "AdaptiveAvgPool2d")
    g = b.build("Cls", [("logits", pooled)], loc=loc(1, 1))
    [d] = run(g, "RF101", ModelSettings(object_size=(4, 16)))
    assert "Output RF 5 px" in d.message
