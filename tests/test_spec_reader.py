"""Tests of the YAML/JSON layer-spec reader (rflint.readers.spec).

Expected values are worked out by hand in the comments (the DESIGN.md
conventions: a conv/pool with kernel k, stride s, padding p on a frame
(r, j, u) gives r' = r + (k-1)*j, j' = j*s, u' = u - p*j, and P = -u), and
expected line numbers are found in the spec text the test wrote, never
taken from the reader's own output.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest

from rflint.analysis import Analysis, analyse
from rflint.diagnostics import Severity
from rflint.ir import EndSpatial, Global, Graph, Merge, Pointwise, Resample, TransposedConv, Window
from rflint.readers.base import PARSE_ERROR, ReadModel, ReadResult
from rflint.readers.spec import json_schema, read_spec
from rflint.rf import AxisFrame

ROOT = Path(__file__).resolve().parent.parent
F = Fraction


# --------------------------------------------------------------------------- helpers


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based number of the ``nth`` line of ``text`` that contains ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} not in the test's own spec text"
    return hits[nth - 1]


def col_of(text: str, needle: str) -> int:
    """1-based column where ``needle`` starts on its (first) line."""
    return text.splitlines()[line_of(text, needle) - 1].index(needle) + 1


def model_of(text: str, path: str = "nets/model.rflint.yaml") -> ReadModel:
    result = read_spec(path, text)
    assert result.diagnostics == (), [d.message for d in result.diagnostics]
    assert len(result.models) == 1
    return result.models[0]


def by_name(graph: Graph, name: str) -> int:
    ids = [n.id for n in graph.nodes if n.name == name]
    assert len(ids) == 1, name
    return ids[0]


def frame(analysis: Analysis, node_id: int, axis: int = 0) -> AxisFrame:
    info = analysis.info(node_id)
    assert info.status == "local" and info.frames is not None, info
    return info.frames[axis]


# --------------------------------------------------------------------------- valid specs: structure

CHAIN = """\
rflint-spec: 1
name: chain
input-size: 32
in-channels: 3
layers:
  - {name: c1, type: conv, kernel: 3, padding: 1, channels: 8}
  - name: c2
    type: conv
    kernel: 3
    padding: 1
  - {name: p, type: max-pool, kernel: 2}
"""


def test_chain_ops_wiring_and_locations() -> None:
    m = model_of(CHAIN)
    g = m.graph
    assert g.name == "chain" and g.ndim == 2 and g.complete
    assert [n.name for n in g.nodes] == ["input", "c1", "c2", "p"]
    assert [n.inputs for n in g.nodes] == [(), (0,), (1,), (2,)]
    assert [n.type_name for n in g.nodes] == ["input", "Conv2d", "Conv2d", "MaxPool2d"]
    assert g.nodes[1].op == Window("conv", (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))
    assert g.nodes[2].op == Window("conv", (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))
    # max-pool: stride defaults to the kernel, as in PyTorch
    assert g.nodes[3].op == Window("max_pool", (2, 2), (2, 2), (1, 1), ((0, 0), (0, 0)))
    assert g.outputs == (("p", 3),)
    # locations: the line of each layer's list item, in the file given
    for node, needle in zip(g.nodes[1:], ["name: c1", "name: c2", "name: p"]):
        assert node.loc is not None
        assert node.loc.file == "nets/model.rflint.yaml"
        assert node.loc.line == line_of(CHAIN, needle)
    assert g.nodes[1].loc.col == col_of(CHAIN, "{name: c1")
    assert g.nodes[2].loc.col == col_of(CHAIN, "name: c2")
    assert g.nodes[1].attrs["out_channels"] == 8
    assert g.nodes[0].attrs["out_channels"] == 3
    assert m.overrides == {"input_size": (32, 32)}


def test_chain_receptive_field_by_hand() -> None:
    m = model_of(CHAIN)
    a = analyse(m.graph, m.overrides["input_size"])
    # input: r=1, j=1, u=0
    # c1 conv k3 s1 p1: r = 1 + 2*1 = 3, j = 1, u = 0 - 1 = -1      -> P = 1
    # c2 conv k3 s1 p1: r = 3 + 2*1 = 5, j = 1, u = -1 - 1 = -2     -> P = 2
    # p  pool k2 s2 p0: r = 5 + 1*1 = 6, j = 2, u = -2              -> P = 2
    # centre of p: (alpha + beta)/2 = (-2 + (-2 + 6 - 1))/2 = 1/2
    for axis in (0, 1):
        assert (frame(a, 1, axis).r, frame(a, 1, axis).j, frame(a, 1, axis).padding) == (3, 1, 1)
        assert (frame(a, 2, axis).r, frame(a, 2, axis).j, frame(a, 2, axis).padding) == (5, 1, 2)
        f = frame(a, 3, axis)
        assert (f.r, f.j, f.padding, f.centre, f.q) == (6, 2, 2, F(1, 2), 1)
    # sizes at 32: the convs keep 32 (32 + 2 - 3 + 1), the pool halves it
    assert [a.info(i).sizes for i in range(4)] == [(32, 32)] * 3 + [(16, 16)]
    assert a.spatial_outputs() == [("p", 3)]


RESIDUAL = """\
rflint-spec: 1
name: residual
layers:
  - {name: stem, type: conv, kernel: 3, stride: 2, padding: 1}
  - {name: a, type: conv, kernel: 3, padding: 1}
  - {name: b, type: conv, kernel: 3, padding: 1}
  - {name: res, type: add, input: [stem, b]}
  - {name: side, type: conv, kernel: 1, input: stem}
outputs: [res, side]
"""


def test_merge_wiring_and_outputs() -> None:
    g = model_of(RESIDUAL).graph
    stem, b, res, side = (by_name(g, n) for n in ("stem", "b", "res", "side"))
    assert g.nodes[res].op == Merge("add") and g.nodes[res].inputs == (stem, b)
    assert g.nodes[side].inputs == (stem,)
    assert g.outputs == (("res", res), ("side", side))
    assert g.nodes[res].loc.line == line_of(RESIDUAL, "{name: res,")
    a = analyse(g)
    # stem k3 s2 p1: r = 3, j = 2, u = -1 (alpha -1, beta 1)
    # a    k3 s1 p1: r = 3 + 2*2 = 7,  u = -1 - 1*2 = -3
    # b    k3 s1 p1: r = 7 + 2*2 = 11, u = -3 - 2 = -5 (alpha -5, beta 5)
    # res = union of [-1, 1] and [-5, 5] -> r = 11, j = 2, P = 5
    # side k1 on stem: r = 3, j = 2, P = 1
    assert (frame(a, res).r, frame(a, res).j, frame(a, res).padding) == (11, 2, 5)
    assert (frame(a, side).r, frame(a, side).j, frame(a, side).padding) == (3, 2, 1)


def test_input_reference_and_concat() -> None:
    text = """\
rflint-spec: 1
layers:
  - {name: a, type: conv, kernel: 3, padding: 1, channels: 4}
  - {name: b, type: conv, kernel: 5, padding: 2, channels: 6, input: input}
  - {name: cat, type: concat, input: [a, b]}
"""
    g = model_of(text).graph
    assert g.nodes[by_name(g, "b")].inputs == (0,)
    assert g.nodes[by_name(g, "cat")].inputs == (by_name(g, "a"), by_name(g, "b"))
    assert g.nodes[by_name(g, "cat")].type_name == "cat"
    a = analyse(g)
    # union of [-1, 1] and [-2, 2]: r = 5, P = 2; channels 4 + 6
    cat = by_name(g, "cat")
    assert (frame(a, cat).r, frame(a, cat).padding) == (5, 2)
    assert a.info(cat).channels == 10


def test_transposed_conv_frame_by_hand() -> None:
    text = """\
rflint-spec: 1
ndim: 1
input-size: 8
layers:
  - {name: up, type: conv-transpose, kernel: 3, stride: 2, padding: 1, output-padding: 1}
"""
    m = model_of(text)
    g = m.graph
    assert g.ndim == 1
    assert g.nodes[1].op == TransposedConv((3,), (2,), (1,), (1,), (1,))
    assert g.nodes[1].type_name == "ConvTranspose1d"
    a = analyse(g, m.overrides["input_size"])
    # output o reads input i = (o + 1 - t)/2 for the taps t in {0, 1, 2} that make it whole:
    #   o = 2m:   t = 1 -> i = m                 : [m, m]
    #   o = 2m+1: t = 0 -> m + 1, t = 2 -> m     : [m, m + 1]
    # with j = 1/2: alpha = (m - m, m - (2m+1)/2) = (0, -1/2), beta = (0, 1/2)
    # r_max = 1 + (ceil(3/2) - 1)*1 = 2, r_min = 1; size (8-1)*2 - 2 + 2 + 1 + 1 = 16
    f = frame(a, 1)
    assert (f.j, f.q, f.alpha, f.beta) == (F(1, 2), 2, (F(0), F(-1, 2)), (F(0), F(1, 2)))
    assert (f.r, f.r_min) == (2, 1)
    assert a.info(1).sizes == (16,)


def test_padding_forms() -> None:
    text = """\
rflint-spec: 1
layers:
  - {name: same4, type: conv, kernel: 4, padding: same}
  - {name: same-dil, type: conv, kernel: 3, dilation: 2, padding: same}
  - {name: same-axes, type: conv, kernel: [3, 5], padding: same}
  - {name: valid, type: conv, kernel: 3, padding: valid}
  - {name: per-axis, type: conv, kernel: 3, padding: [1, 2]}
  - {name: pairs, type: conv, kernel: 3, stride: 2, padding: [[0, 1], [2, 3]]}
  - {name: crop, type: pad, padding: [[-1, -1], 2]}
  - {name: pool, type: max-pool, kernel: [2, 3], padding: [0, 1]}
  - {name: avg, type: avg-pool, kernel: 3, stride: 1, padding: 1, ceil-mode: true}
"""
    g = model_of(text).graph

    def op(name: str) -> Window:
        o = g.nodes[by_name(g, name)].op
        assert isinstance(o, Window)
        return o

    # 'same' splits d*(k-1) as PyTorch does: the odd pixel after
    assert op("same4").padding == ((1, 2), (1, 2))
    assert op("same-dil").padding == ((2, 2), (2, 2))
    assert op("same-axes").padding == ((1, 1), (2, 2))
    assert op("valid").padding == ((0, 0), (0, 0))
    assert op("per-axis").padding == ((1, 1), (2, 2))
    assert op("pairs").padding == ((0, 1), (2, 3)) and op("pairs").stride == (2, 2)
    assert op("crop") == Window("pad", (1, 1), (1, 1), (1, 1), ((-1, -1), (2, 2)))
    assert g.nodes[by_name(g, "crop")].type_name == "ZeroPad2d"
    assert op("pool") == Window("max_pool", (2, 3), (2, 3), (1, 1), ((0, 0), (1, 1)))
    assert op("avg") == Window("avg_pool", (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), ceil_mode=True)


def test_upsample_variants() -> None:
    text = """\
rflint-spec: 1
layers:
  - {name: near, type: upsample, scale: 2}
  - {name: bil, type: upsample, mode: bilinear, scale: "3/2", input: input}
  - {name: dec, type: upsample, mode: linear, scale: 1.5, input: input}
  - {name: sized, type: upsample, mode: bilinear, size: [10, 20], align-corners: true, input: input}
  - {name: axes, type: upsample, mode: nearest-exact, scale: [2, 4], input: input}
"""
    g = model_of(text).graph
    ops = {n.name: n.op for n in g.nodes}
    assert ops["near"] == Resample("nearest", scale=(F(2), F(2)))
    assert ops["bil"] == Resample("linear", scale=(F(3, 2), F(3, 2)))
    assert ops["dec"] == Resample("linear", scale=(F(3, 2), F(3, 2)))
    assert ops["sized"] == Resample("linear", size=(10, 20), align_corners=True)
    assert ops["axes"] == Resample("nearest-exact", scale=(F(2), F(4)))
    a = analyse(g)
    # nearest x2: o reads floor(o/2): j = 1/2, phases o = 2m -> [m, m], o = 2m+1 -> [m, m]
    f = frame(a, by_name(g, "near"))
    assert (f.j, f.r, f.alpha) == (F(1, 2), 1, (F(0), F(-1, 2)))


def test_blur_is_a_fixed_window_conv() -> None:
    text = """\
rflint-spec: 1
layers:
  - {name: bp, type: blur, kernel: 4, stride: 2, channels: 16}
  - {name: b3, type: blur}
"""
    g = model_of(text).graph
    bp, b3 = g.nodes[1], g.nodes[2]
    # BlurPool's padding: [(k-1)//2, k//2] -> (1, 2) for k = 4, reflected
    assert bp.op == Window("conv", (4, 4), (2, 2), (1, 1), ((1, 2), (1, 2)))
    assert bp.type_name == "BlurPool"
    assert bp.attrs["blur"] is True and bp.attrs["padding_mode"] == "reflect"
    assert (bp.attrs["in_channels"], bp.attrs["out_channels"], bp.attrs["groups"]) == (16, 16, 16)
    assert b3.op == Window("conv", (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))
    assert b3.attrs["blur"] is True


def test_global_flatten_linear_end_the_frame() -> None:
    text = """\
rflint-spec: 1
layers:
  - {name: conv, type: conv, kernel: 3}
  - {name: gap, type: global-pool}
  - {type: flatten}
  - {name: fc, type: linear, out-features: 10}
"""
    g = model_of(text).graph
    assert g.nodes[2].op == Global(None) and g.nodes[2].type_name == "AdaptiveAvgPool2d"
    assert g.nodes[3].op == EndSpatial() and g.nodes[3].type_name == "Flatten"
    assert g.nodes[3].name == "layers[2]"  # unnamed layers are named by position
    assert g.nodes[4].op == EndSpatial() and g.nodes[4].type_name == "Linear"
    a = analyse(g)
    assert a.info(4).status == "ended" and a.info(4).channels == 10
    assert a.spatial_outputs() == [("fc", 1)]  # the RF people quote: the last spatial map


def test_type_names_attrs_and_module() -> None:
    text = """\
rflint-spec: 1
layers:
  - {type: conv, kernel: 3, in-channels: 8, out-channels: 16, groups: 8, padding-mode: circular}
  - {type: norm, kind: batch, channels: 16}
  - {type: norm, kind: group}
  - {type: act, module: nn.SiLU}
  - {type: dropout}
  - {type: pointwise}
  - {type: pixel-shuffle, factor: 2}
  - {type: pixel-unshuffle, factor: 2}
  - {type: global-pool, mode: max, output-size: [2, 3]}
"""
    g = model_of(text).graph
    assert [n.type_name for n in g.nodes[1:]] == [
        "Conv2d", "BatchNorm2d", "GroupNorm", "nn.SiLU", "Dropout", "pointwise",
        "PixelShuffle", "PixelUnshuffle", "AdaptiveMaxPool2d",
    ]
    conv = g.nodes[1].attrs
    assert (conv["in_channels"], conv["out_channels"], conv["groups"], conv["padding_mode"]) == (8, 16, 8, "circular")
    assert all(isinstance(n.op, Pointwise) for n in g.nodes[2:7])
    assert g.nodes[7].op.factor == 2 and g.nodes[7].op.ndim == 2  # type: ignore[attr-defined]
    assert g.nodes[9].op == Global((2, 3))


@pytest.mark.parametrize(
    ("header", "ndim", "kernel", "type_name", "size"),
    [
        ("input-size: [16]", 1, (3,), "Conv1d", (16,)),
        ("input-size: [8, 8, 8]", 3, (3, 3, 3), "Conv3d", (8, 8, 8)),
        ("ndim: 3\ninput-size: 8", 3, (3, 3, 3), "Conv3d", (8, 8, 8)),
        ("input-size: 64", 2, (3, 3), "Conv2d", (64, 64)),
    ],
)
def test_ndim_default_and_inference(header: str, ndim: int, kernel: tuple[int, ...], type_name: str, size: tuple[int, ...]) -> None:
    m = model_of(f"rflint-spec: 1\n{header}\nlayers:\n  - {{type: conv, kernel: 3}}\n")
    assert m.graph.ndim == ndim
    assert m.graph.nodes[1].op.kernel == kernel  # type: ignore[attr-defined]
    assert m.graph.nodes[1].type_name == type_name
    assert m.overrides["input_size"] == size


def test_overrides() -> None:
    text = """\
rflint-spec: 1
input-size: [256, 128]
object-size: [16, 320]
task: detection
batch-size: 4
layers: [{type: act}]
"""
    assert model_of(text).overrides == {
        "input_size": (256, 128), "object_size": (16, 320), "task": "detection", "batch_size": 4,
    }
    one = model_of("rflint-spec: 1\nobject-size: 20\nlayers: [{type: act}]\n")
    assert one.overrides == {"object_size": (20, 20)}
    assert model_of("rflint-spec: 1\nlayers: [{type: act}]\n").overrides == {}


def test_underscore_keys_are_accepted() -> None:
    hyphen = model_of("rflint-spec: 1\ninput-size: 9\nlayers:\n  - {type: conv-transpose, kernel: 4, stride: 2, output-padding: 1}\n")
    under = model_of("rflint_spec: 1\ninput_size: 9\nlayers:\n  - {type: conv-transpose, kernel: 4, stride: 2, output_padding: 1}\n")
    assert hyphen.graph.nodes[1].op == under.graph.nodes[1].op
    assert hyphen.overrides == under.overrides


def test_default_name_and_several_documents() -> None:
    text = """\
rflint-spec: 1
layers: [{type: act}]
---
rflint-spec: 1
name: second
layers:
  - {name: c, type: conv, kernel: 3}
"""
    result = read_spec("nets/unet.rflint.yaml", text)
    assert result.diagnostics == ()
    assert [m.graph.name for m in result.models] == ["unet", "second"]
    assert result.models[1].graph.nodes[1].loc.line == line_of(text, "name: c,")



def test_yaml_anchors_merge_keys_and_x_keys() -> None:
    text = """\
rflint-spec: 1
x-blocks:
  conv3: &conv3 {type: conv, kernel: 3, padding: 1}
layers:
  - {<<: *conv3, name: a}
  - {<<: *conv3, name: b, kernel: 5, padding: 2}
"""
    g = model_of(text).graph
    # overriding a merged key is not a duplicate key; the x- key is ignored
    assert g.nodes[1].op == Window("conv", (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)))
    assert g.nodes[2].op == Window("conv", (5, 5), (1, 1), (1, 1), ((2, 2), (2, 2)))
    assert [n.loc.line for n in g.nodes[1:]] == [line_of(text, "name: a}"), line_of(text, "name: b,")]


JSON_SPEC = """\
{
  "rflint-spec": 1,
  "name": "json-chain",
  "input-size": [32, 32],
  "layers": [
    {"name": "c1", "type": "conv", "kernel": 3, "padding": 1},
    {
      "name": "c2",
      "type": "conv", "kernel": 3, "padding": 1
    },
    {"name": "p", "type": "max-pool", "kernel": 2}
  ]
}
"""


def test_json_spec_matches_yaml_and_has_lines() -> None:
    j = model_of(JSON_SPEC, "model.rflint.json")
    y = model_of(CHAIN)
    assert [n.op for n in j.graph.nodes] == [n.op for n in y.graph.nodes]
    assert [n.inputs for n in j.graph.nodes] == [n.inputs for n in y.graph.nodes]
    assert j.overrides == {"input_size": (32, 32)}
    c1, c2, p = j.graph.nodes[1:]
    assert (c1.loc.line, c1.loc.col) == (line_of(JSON_SPEC, '"c1"'), col_of(JSON_SPEC, '{"name": "c1"'))
    assert c2.loc.line == line_of(JSON_SPEC, '"c2"') - 1  # the line of the layer's opening brace
    assert p.loc.line == line_of(JSON_SPEC, '"p"')
    assert all(n.loc.file == "model.rflint.json" for n in j.graph.nodes)


# --------------------------------------------------------------------------- the shipped examples and docs


def test_encoder_decoder_example() -> None:
    path = ROOT / "examples" / "encoder_decoder.rflint.yaml"
    text = path.read_text()
    m = model_of(text, str(path))
    g = m.graph
    assert m.overrides == {"input_size": (256, 256), "object_size": (8, 96), "task": "segmentation"}
    transposed = [n for n in g.nodes if isinstance(n.op, TransposedConv)]
    assert len(transposed) == 1
    up2 = transposed[0]
    # the checkerboard condition: kernel 3 is not a multiple of stride 2
    assert up2.op.kernel == (3, 3) and up2.op.stride == (2, 2)
    assert up2.loc.line == line_of(text, "name: up2")
    cat2 = g.nodes[by_name(g, "cat2")]
    assert cat2.inputs == (by_name(g, "enc2"), up2.id)
    a = analyse(g, m.overrides["input_size"])
    # conv3, conv3: r 3, 5 (j 1); pool2: r 6, j 2; conv3, conv3: r 10, 14; pool2: r 16, j 4;
    # conv3, conv3: r 24, 32 (j 4) at "mid".
    mid = frame(a, by_name(g, "mid"))
    assert (mid.r, mid.j) == (32, 4)
    # up2 (k3 s2): j = 4/2 = 2; even outputs read one input (r 32), odd ones two (32 + 4 = 36)
    f = frame(a, up2.id)
    assert (f.r, f.r_min, f.j, f.q) == (36, 32, 2, 2)
    assert g.outputs == (("head", by_name(g, "head")),)
    assert a.info(by_name(g, "head")).sizes == (256, 256)


def test_clean_example() -> None:
    path = ROOT / "examples" / "clean.rflint.json"
    text = path.read_text()
    m = model_of(text, str(path))
    g = m.graph
    assert not any(isinstance(n.op, TransposedConv) for n in g.nodes)
    for n in g.nodes:
        if isinstance(n.op, Window) and n.op.kind == "max_pool":
            assert n.op.stride == (1, 1)  # a dense max, then a blur that subsamples
        if isinstance(n.op, Window) and n.op.kind == "conv" and max(n.op.stride) > 1 and not n.attrs.get("blur"):
            assert g.nodes[n.inputs[0]].attrs.get("blur") is True, n.name  # blur first
    a = analyse(g, m.overrides["input_size"])
    # stem conv3: r 3 (j 1, u -1); max-pool 3/s1/p1: r 5 (u -2); blur 3/s2/p1: r 7, j 2 (u -3);
    # stage1 conv3: r 11 (u -5); blur 3/s1: r 15 (u -7); stage2 conv3/s2: r 19, j 4 (u -9);
    # blur 3/s1: r 27 (u -13); stage3 conv3/s2: r 35, j 8 (u -17): P = 17, centred (r = 2P + 1).
    (name, last), = a.spatial_outputs()
    assert name == "fc"
    f = frame(a, last)
    assert (f.r, f.j, f.padding, f.centre) == (35, 8, 17, 0)
    # 225 = 8*28 + 1: every stride-2 layer uses its padding evenly, 225 -> 113 -> 57 -> 29
    assert a.info(by_name(g, "stage3")).sizes == (29, 29)
    for n in g.nodes:
        if isinstance(n.op, Window) and max(n.op.stride) > 1:
            assert a.info(n.id).far_pad == (1, 1), n.name


def _run_registered_rules(model: ReadModel, codes: set[str]) -> list[tuple[str, int]] | None:
    """(code, line) found by the registered rules among ``codes``; None if none of them exists yet."""
    from rflint.checks.base import ModelContext, all_rules
    from rflint.settings import ModelSettings

    rules = [cls() for code, cls in all_rules().items() if code in codes]
    if not rules:
        return None
    settings = ModelSettings().merged(**model.overrides)
    ctx = ModelContext(model.graph, analyse(model.graph, settings.input_size), settings)
    found: list[tuple[str, int]] = []
    for rule in rules:
        found.extend((d.code, d.loc.line) for d in rule.check(ctx) if d is not None)
    return found


def test_examples_with_registered_rules() -> None:
    """Once the checkerboard and anti-aliasing rules exist, the examples must show them."""
    unet_text = (ROOT / "examples" / "encoder_decoder.rflint.yaml").read_text()
    unet = model_of(unet_text)
    clean = model_of((ROOT / "examples" / "clean.rflint.json").read_text(), "clean.rflint.json")
    found = _run_registered_rules(unet, {"CB102"})
    if found is None:
        pytest.skip("CB102 is not registered yet")
    assert found == [("CB102", line_of(unet_text, "name: up2"))]
    quiet = {"CB101", "CB102", "CB103", "AA101", "AA102", "AA103", "ST101", "PD101", "PD104", "RF101", "RF104"}
    assert _run_registered_rules(clean, quiet) == []


def _doc_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "spec.md").read_text()
    return [(lang, body) for lang, body in re.findall(r"```(yaml|json)\n(.*?)```", text, re.S)]


def test_docs_examples_read_cleanly() -> None:
    blocks = _doc_blocks()
    assert {lang for lang, _ in blocks} == {"yaml", "json"}
    for lang, body in blocks:
        m = model_of(body, f"doc.rflint.{lang}")
        assert len(m.graph.nodes) > 2


def test_json_schema_is_available() -> None:
    schema = json_schema()
    assert "layers" in schema["required"] and "rflint-spec" in schema["required"]
    assert "input-size" in schema["properties"]
    text = json.dumps(schema)
    for layer_type in ("conv-transpose", "pixel-unshuffle", "blur", "global-pool", "concat"):
        assert f'"{layer_type}"' in text


# --------------------------------------------------------------------------- bad input: one RL001 each

HEAD = "rflint-spec: 1\nname: bad\nlayers:\n"

BAD: list[tuple[str, str, str, str, str]] = [
    # (id, file, text, words the message must contain, text on the line it must point at)
    ("yaml-syntax", "m.rflint.yaml", HEAD + "  - {type: conv, kernel: 3]\n  - {type: act}\n",
     "invalid YAML", "kernel: 3]"),
    ("yaml-indent", "m.rflint.yaml", HEAD + "  - type: conv\n   kernel: 3\n", "invalid YAML", "   kernel: 3"),
    ("json-syntax", "m.rflint.json",
     '{\n  "rflint-spec": 1,\n  "layers": [\n    {"type": "act"}\n    {"type": "conv", "kernel": 3}\n  ]\n}\n',
     "invalid JSON", '"kernel": 3'),
    ("wrong-type", "m.rflint.yaml", HEAD + "  - {type: act}\n  - {type: conv, kernel: three}\n",
     "layers[1].kernel", "kernel: three"),
    ("quoted-number", "m.rflint.yaml", HEAD + "  - {type: conv, kernel: 3, stride: '2'}\n",
     "layers[0].stride", "stride: '2'"),
    ("unknown-key", "m.rflint.yaml", HEAD + "  - type: conv\n    kernel: 3\n    strid: 2\n",
     "layers[0].strid: unknown key 'strid' (did you mean 'stride'?)", "strid: 2"),
    ("unknown-top-key", "m.rflint.yaml", "rflint-spec: 1\ninput-sise: 3\nlayers: [{type: act}]\n",
     "input-sise: unknown key", "input-sise"),
    ("unknown-type", "m.rflint.yaml", HEAD + "  - {type: act}\n  - {type: convolution, kernel: 3}\n",
     "layers[1].type: unknown layer type 'convolution'", "convolution"),
    ("missing-type", "m.rflint.yaml", HEAD + "  - {type: act}\n  - {kernel: 3}\n",
     "layers[1].type: missing", "{kernel: 3}"),
    ("missing-kernel", "m.rflint.yaml", HEAD + "  - {type: act}\n  - {type: conv, stride: 2}\n",
     "layers[1].kernel: missing required key", "stride: 2"),
    ("layer-not-mapping", "m.rflint.yaml", HEAD + "  - conv\n", "layers[0]: expected a mapping", "- conv"),
    ("unknown-input", "m.rflint.yaml", HEAD + "  - {name: enc, type: conv, kernel: 3}\n  - {type: add, input: [enc, dec]}\n",
     "layers[1].input[1]: unknown layer 'dec'", "[enc, dec]"),
    ("unknown-input-scalar", "m.rflint.yaml", HEAD + "  - {name: enc, type: conv, kernel: 3}\n  - {type: act, input: ecn}\n",
     "layers[1].input: unknown layer 'ecn' (did you mean 'enc'?)", "input: ecn"),
    ("duplicate-name", "m.rflint.yaml", HEAD + "  - {name: a, type: act}\n  - {name: a, type: pointwise}\n",
     "layers[1].name: duplicate layer name 'a' (first used by layers[0], line 4)", "pointwise"),
    ("forward-reference", "m.rflint.yaml", HEAD + "  - {name: a, type: act, input: b}\n  - {name: b, type: act, input: a}\n",
     "layers[0].input: 'b' is defined later", "input: b"),
    ("self-cycle", "m.rflint.yaml", HEAD + "  - {name: a, type: act, input: a}\n", "layers[0].input: layer 'a' reads itself", "input: a"),
    ("stride-0", "m.rflint.yaml", HEAD + "  - {type: act}\n  - {type: conv, kernel: 3, stride: 0}\n",
     "layers[1].stride: must be >= 1, got 0", "stride: 0"),
    ("negative-kernel", "m.rflint.yaml", HEAD + "  - type: max-pool\n    kernel: -2\n",
     "layers[0].kernel: must be >= 1, got -2", "kernel: -2"),
    ("negative-conv-padding", "m.rflint.yaml", HEAD + "  - {type: conv, kernel: 3, padding: -1}\n",
     "layers[0].padding: must be >= 0", "padding: -1"),
    ("axis-count", "m.rflint.yaml", HEAD + "  - {type: conv, kernel: [3, 3, 3]}\n",
     "layers[0].kernel: has 3 entries but the model has 2 spatial axes", "[3, 3, 3]"),
    ("input-size-axes", "m.rflint.yaml", "rflint-spec: 1\nndim: 2\ninput-size: [8, 8, 8]\nlayers: [{type: act}]\n",
     "input-size: has 3 entries", "input-size"),
    ("same-with-stride", "m.rflint.yaml", HEAD + "  - {type: conv, kernel: 3, stride: 2, padding: same}\n",
     "layers[0].padding: 'same' needs stride 1", "padding: same"),
    ("output-padding", "m.rflint.yaml", HEAD + "  - {type: conv-transpose, kernel: 4, stride: 2, output-padding: 2}\n",
     "layers[0].output-padding: must be smaller than stride", "output-padding: 2"),
    ("merge-one-input", "m.rflint.yaml", HEAD + "  - {type: act}\n  - {type: add, input: [input]}\n",
     "layers[1].input: an add layer reads two or more layers", "input: [input]"),
    ("merge-no-input", "m.rflint.yaml", HEAD + "  - {type: act}\n  - {type: concat}\n",
     "layers[1]: missing key: a concat layer needs input", "type: concat"),
    ("list-input-to-conv", "m.rflint.yaml", HEAD + "  - {name: a, type: act}\n  - {type: conv, kernel: 1, input: [a, input]}\n",
     "layers[1].input: a conv layer reads one layer", "input: [a, input]"),
    ("unknown-output", "m.rflint.yaml", HEAD + "  - {name: a, type: act}\noutputs: [a, head]\n",
     "outputs[1]: unknown layer 'head'", "outputs:"),
    ("output-twice", "m.rflint.yaml", HEAD + "  - {name: a, type: act}\noutputs: [a,\n  a]\n",
     "outputs[1]: 'a' is listed twice", "  a]"),
    ("scale-and-size", "m.rflint.yaml", HEAD + "  - type: upsample\n    scale: 2\n    size: 64\n",
     "layers[0].size: give scale or size, not both", "size: 64"),
    ("align-corners-nearest", "m.rflint.yaml", HEAD + "  - {type: upsample, scale: 2, align-corners: true}\n",
     "layers[0].align-corners: only linear modes", "align-corners"),
    ("bad-mode", "m.rflint.yaml", HEAD + "  - {type: upsample, scale: 2, mode: bicubic}\n",
     "layers[0].mode: must be one of", "bicubic"),
    ("bad-scale", "m.rflint.yaml", HEAD + "  - {type: upsample, scale: 0}\n", "layers[0].scale: must be > 0", "scale: 0"),
    ("groups", "m.rflint.yaml", HEAD + "  - {type: conv, kernel: 3, in-channels: 6, out-channels: 4, groups: 3}\n",
     "layers[0].groups: 3 does not divide out-channels 4", "groups: 3"),
    ("reserved-name", "m.rflint.yaml", HEAD + "  - {name: input, type: act}\n", "layers[0].name: 'input' is reserved", "name: input"),
    ("duplicate-key", "m.rflint.yaml", HEAD + "  - type: conv\n    kernel: 3\n    kernel: 5\n",
     "layers[0].kernel: duplicate key", "kernel: 5"),
    ("hyphen-and-underscore", "m.rflint.yaml", "rflint-spec: 1\ninput_size: 8\ninput-size: 9\nlayers: [{type: act}]\n",
     "input-size: duplicate key (also written 'input_size'", "input-size: 9"),
    ("version", "m.rflint.yaml", "rflint-spec: 2\nlayers: [{type: act}]\n", "unsupported spec version 2", "rflint-spec"),
    ("no-version", "m.rflint.yaml", "name: x\nlayers: [{type: act}]\n", "rflint-spec: missing key", "name: x"),
    ("no-layers", "m.rflint.yaml", "rflint-spec: 1\nlayers: []\n", "layers: a spec needs at least one layer", "layers"),
    ("not-a-mapping", "m.rflint.yaml", "- rflint-spec: 1\n", "a spec is a mapping", "rflint-spec"),
    ("empty", "m.rflint.yaml", "# nothing here\n", "empty spec", "# nothing"),
    ("python-tag", "m.rflint.yaml", HEAD + "  - !!python/object/apply:os.system [echo hi]\n", "invalid YAML", "python/object"),
    ("ndim-range", "m.rflint.yaml", "rflint-spec: 1\nndim: 4\nlayers: [{type: act}]\n", "ndim", "ndim: 4"),
    ("kind-on-act", "m.rflint.yaml", HEAD + "  - {type: act, kind: batch}\n", "layers[0].kind: only norm layers", "kind: batch"),
    ("object-size-order", "m.rflint.yaml", "rflint-spec: 1\nobject-size: [300, 20]\nlayers: [{type: act}]\n",
     "object-size: min 300 is larger than max 20", "object-size"),
    ("json-unknown-key", "m.rflint.json",
     '{\n  "rflint-spec": 1,\n  "layers": [\n    {"type": "act"},\n    {"type": "conv",\n     "kernal": 3}\n  ]\n}\n',
     "layers[1].kernal: unknown key 'kernal' (did you mean 'kernel'?)", '"kernal"'),
    ("json-unknown-input", "m.rflint.json",
     '{"rflint-spec": 1,\n "layers": [\n  {"name": "a", "type": "act"},\n  {"type": "add", "input": ["a",\n    "b"]}]}\n',
     "layers[1].input[1]: unknown layer 'b'", '"b"]'),
    ("json-duplicate-key", "m.rflint.json", '{"rflint-spec": 1,\n "layers": [{"type": "act"}],\n "layers": []}\n',
     "layers: duplicate key", '"layers": []'),
]


@pytest.mark.parametrize(("file", "text", "words", "needle"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_gives_one_parse_error(file: str, text: str, words: str, needle: str) -> None:
    result = read_spec(file, text)
    assert result.models == ()
    assert len(result.diagnostics) == 1, [d.message for d in result.diagnostics]
    d = result.diagnostics[0]
    assert d.code == PARSE_ERROR == "RL001"
    assert d.severity == Severity.ERROR
    assert d.loc.file == file
    assert words in d.message, d.message
    assert d.loc.line == line_of(text, needle), (d.loc, d.message)


def test_errors_do_not_cascade() -> None:
    # layer 0 is wrong; layer 1 reads it by name and layer 2 by default: one error only
    text = HEAD + "  - {name: a, type: conv, kernel: 3, stride: 2, padding: same}\n  - {type: act, input: a}\n  - {type: act}\n"
    result = read_spec("m.rflint.yaml", text)
    assert result.models == ()
    assert [d.loc.line for d in result.diagnostics] == [line_of(text, "padding: same")]


def test_several_problems_are_all_reported() -> None:
    text = HEAD + "  - {type: conv, kernel: 0}\n  - {type: conv, kernel: 3, dilation: 0}\n  - {type: nope}\n"
    result = read_spec("m.rflint.yaml", text)
    assert [(d.loc.line, d.message.split(":")[0]) for d in result.diagnostics] == [
        (line_of(text, "kernel: 0"), "layers[0].kernel"),
        (line_of(text, "dilation: 0"), "layers[1].dilation"),
        (line_of(text, "nope"), "layers[2].type"),
    ]


GARBAGE: list[tuple[str, str, str]] = [
    ("yaml-deep-flow", "g.rflint.yaml", "[" * 3000),
    ("yaml-deep-closed", "g.rflint.yaml", "a: " + "[" * 900 + "]" * 900),
    ("yaml-deep-block", "g.rflint.yaml", "- " * 100000),
    ("yaml-control-chars", "g.rflint.yaml", "\x00\x01"),
    ("yaml-recursive-alias", "g.rflint.yaml", "rflint-spec: 1\nlayers: &a\n  - *a\n"),
    ("yaml-layers-mapping", "g.rflint.yaml", "rflint-spec: 1\nlayers: {a: 1}\n"),
    ("yaml-huge-numbers", "g.rflint.yaml",
     "rflint-spec: 1\nlayers:\n  - {type: conv, kernel: 99999999999999999999999, stride: 1e400}\n"),
    ("yaml-complex-key", "g.rflint.yaml", "rflint-spec: 1\n? [a, b]\n: 1\nlayers: [{type: act}]\n"),
    ("json-deep", "g.rflint.json", "[" * 3000),
    ("json-nan", "g.rflint.json", '{"rflint-spec": 1, "layers": [{"type": "upsample", "scale": NaN}]}'),
    ("json-string", "g.rflint.json", '"just a string"'),
    ("json-empty", "g.rflint.json", ""),
]


@pytest.mark.parametrize(("file", "text"), [g[1:] for g in GARBAGE], ids=[g[0] for g in GARBAGE])
def test_garbage_never_raises(file: str, text: str) -> None:
    result = read_spec(file, text)
    assert isinstance(result, ReadResult)
    assert result.models == ()
    assert result.diagnostics and all(d.code == PARSE_ERROR and d.severity == Severity.ERROR for d in result.diagnostics)
