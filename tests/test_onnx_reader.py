"""The ONNX reader (issue 5): op by op against measurement, and every way a file can be bad.

Expected frames come from measurement on the torch network (``oracle.measure``,
``measure.measure``: DESIGN.md's gradient method) or are derived by hand in the
test's comment from the ONNX operator's definition; never from rflint's output.
The ONNX side is either ``torch.onnx.export`` of the measured network (the
TorchScript exporter, ``dynamo=False``, opset 17: it still exists in torch 2.14
and takes about a second where the dynamo exporter takes five), or a graph built
with ``onnx.helper`` where torch exports something else or nothing (``auto_pad``,
``nearest-exact``, old opsets, functions, ``If``).
"""

from __future__ import annotations

import time
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

from onnx import TensorProto, helper, numpy_helper
from oracle import Stack, measure

from rflint import api, ir
from rflint.analysis import analyse
from rflint.readers.onnx import read_onnx

F = TensorProto.FLOAT


# --------------------------------------------------------------------------- helpers


def export(module: torch.nn.Module, x: torch.Tensor, path: Path, opset: int = 17) -> bytes:
    """``torch.onnx.export`` with the TorchScript exporter (see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=opset)
    return path.read_bytes()


def read(data: bytes, path: str = "model.onnx") -> ir.Graph:
    result = read_onnx(path, data)
    assert result.diagnostics == (), [d.message for d in result.diagnostics]
    (model,) = result.models
    return model.graph


def out_info(data: bytes, sizes=None, output: int = 0):
    result = read_onnx("model.onnx", data)
    assert not any(d.code == "RL001" for d in result.diagnostics), result.diagnostics
    model = result.models[0]
    an = analyse(model.graph, sizes or model.overrides.get("input_size"))
    return model.graph, an.info(model.graph.outputs[output][1])


def vi(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, F, shape)


def weight(name: str, shape) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, np.float32), name)


def ints(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


def floats(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, np.float32), name)


def build(nodes, shape=(1, 1, 16, 16), inits=(), opset: int = 17, functions=(), out_shape=None,
          extra_opsets=(), inputs=None) -> bytes:
    graph = helper.make_graph(list(nodes), "g", inputs or [vi("x", list(shape))], [vi("y", out_shape)],
                              initializer=list(inits))
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in extra_opsets]
    return helper.make_model(graph, opset_imports=opsets, functions=list(functions)).SerializeToString()


def axis_frame(info, axis: int = -1) -> tuple:
    f = info.frames[axis]
    return (f.j, f.alpha, f.beta)


# --------------------------------------------------------------------------- torch export vs measurement


def _stacks() -> dict[str, Stack]:
    out: dict[str, Stack] = {}
    s = Stack(2, "conv-pool-dilated")
    x = s.input()
    x = s.conv(x, 2, k=3, s=2, p=1)
    x = s.max_pool(x, 3, 2, p=1)
    x = s.pointwise(x)
    x = s.conv(x, 2, k=3, d=2, p=2)
    s.avg_pool(x, 2, 2, ceil_mode=True)
    out[s.name] = s
    s = Stack(2, "same-even-kernel")
    x = s.input()
    x = s.conv(x, 2, k=4, p="same")
    s.conv(x, 2, k=(3, 5), s=(1, 2), p="valid")
    out[s.name] = s
    s = Stack(2, "transposed")
    x = s.input()
    x = s.conv(x, 2, k=3, s=2, p=1)
    x = s.conv_t(x, 2, k=3, s=2, p=1, output_padding=1)
    s.conv_t(x, 2, k=4, s=2, p=1)
    out[s.name] = s
    s = Stack(2, "nearest-x2-and-x1.5")
    x = s.input()
    x = s.conv(x, 1, k=3, s=2, p=1)
    x = s.upsample(x, "nearest", scale=2)
    x = s.conv(x, 1, k=3, p=1)
    x = s.upsample(x, "nearest", scale=Fraction(3, 2))
    s.conv(x, 1, k=3, p=1)
    out[s.name] = s
    s = Stack(2, "bilinear-x2")
    x = s.input()
    x = s.conv(x, 1, k=3, s=2, p=1)
    x = s.upsample(x, "linear", scale=2, align_corners=False)
    s.conv(x, 1, k=3, p=1)
    out[s.name] = s
    s = Stack(2, "pixel-shuffle")
    x = s.input()
    x = s.conv(x, 4, k=3, p=1)
    x = s.pixel_unshuffle(x, 2)
    x = s.conv(x, 16, k=3, p=1)
    x = s.pixel_shuffle(x, 2)
    s.conv(x, 1, k=3, p=1)
    out[s.name] = s
    s = Stack(2, "crop-cat-add")
    x = s.input()
    a = s.conv(x, 2, k=3, p=0)
    b = s.pad(s.conv(x, 2, k=3, p=1), [(-1, -1), (-1, -1)])
    c = s.cat(a, b)
    d = s.conv(c, 4, k=3, p=1)
    s.add(c, d)
    out[s.name] = s
    s = Stack(1, "1d")
    x = s.input()
    x = s.conv(x, 2, k=5, s=3, p=2)
    s.max_pool(x, 2)
    out[s.name] = s
    s = Stack(3, "3d")
    x = s.input()
    x = s.conv(x, 2, k=3, s=2, p=1)
    s.conv(x, 2, k=3, p=1)
    out[s.name] = s
    return out


STACKS = _stacks()


def _onnx_of_stack(stack: Stack, sizes, tmp_path: Path) -> bytes:
    net = stack.module(measure=False).float()
    x = torch.zeros(1, stack.ch(stack.inputs[0]), *sizes)
    return export(net, x, tmp_path / f"{stack.name}.onnx")


@pytest.mark.parametrize("name", list(STACKS))
def test_exported_stack_matches_measurement(name: str, tmp_path: Path) -> None:
    """The network, measured in torch (max pools as average pools, positive weights),
    and its ONNX export read by rflint: j, alpha, beta (so r, P) per axis agree."""
    stack = STACKS[name]
    m = measure(stack)
    _, info = out_info(_onnx_of_stack(stack, m.sizes, tmp_path), m.sizes)
    assert info.status == "local", info.reason
    for a, (ax, fr) in enumerate(zip(m.axes, info.frames)):
        got = (fr.j, fr.alpha, fr.beta, fr.r, fr.padding)
        assert got == (ax.j, ax.alpha, ax.beta, ax.r, ax.padding), f"{name} axis {a} at {m.sizes}"


def test_exported_align_corners_resize_matches_measurement(tmp_path: Path) -> None:
    """align_corners=True to a fixed size depends on the input size: measured at one size."""
    s = Stack(2, "bilinear-align-corners")
    x = s.input()
    x = s.conv(x, 1, k=3, s=2, p=1)
    x = s.upsample(x, "linear", size=(63, 63), align_corners=True)  # ratio 31/62: period 2
    s.conv(x, 1, k=3, p=1)
    m = measure(s, sizes=(64, 64))
    graph, info = out_info(_onnx_of_stack(s, (64, 64), tmp_path))
    resize = [n for n in graph.nodes if n.type_name == "Resize"]
    assert resize and resize[0].op.align_corners
    for ax, fr in zip(m.axes, info.frames):
        assert (fr.j, fr.alpha, fr.beta) == (ax.j, ax.alpha, ax.beta)


class _Strided(torch.nn.Module):
    """conv3 (pad 1), a strided crop ``x[..., 1:-1:2, 2::3]``, conv3 (pad 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Conv2d(1, 1, 3, padding=1)
        self.b = torch.nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        return self.b(self.a(x)[:, :, 1:-1:2, 2::3])


def test_strided_slice_matches_measurement(tmp_path: Path) -> None:
    """A slice with steps is a window k=1, stride=step, cropping ``start`` in front."""
    from measure import measure as measure_model

    shape = (1, 1, 9, 61)
    want = measure_model(_Strided(), shape)  # along the width: 2::3
    graph, info = out_info(export(_Strided(), torch.zeros(shape), tmp_path / "s.onnx"))
    assert any(n.type_name == "Slice" for n in graph.nodes)
    assert axis_frame(info, -1) == (want.j, want.alpha, want.beta)
    # Height, by hand: conv3 gives [-1, 1] at j=1; output o of 1:-1:2 reads 2o+1, so [2o, 2o+2];
    # conv3 at j=2 adds 2 each side: j=2, alpha=-2, beta=4.
    assert axis_frame(info, 0) == (2, (-2,), (4,))


# --------------------------------------------------------------------------- hand-built graphs


def _conv(x: str, y: str, name: str = "c", **attrs) -> onnx.NodeProto:
    return helper.make_node("Conv", [x, "w"], [y], name=name, **attrs)


@pytest.mark.parametrize("auto_pad, pads", [("SAME_UPPER", ((0, 1),)), ("SAME_LOWER", ((1, 0),)), ("VALID", ((0, 0),))])
def test_auto_pad_is_resolved_with_the_input_size(auto_pad: str, pads) -> None:
    """k3 s2 on 16: SAME gives ceil(16/2)=8 outputs, total padding (8-1)*2+3-16 = 1,
    the extra pixel after (UPPER) or before (LOWER), as PyTorch's 'same' and ONNX define."""
    data = build([_conv("x", "y", kernel_shape=[3, 3], strides=[2, 2], auto_pad=auto_pad)],
                 inits=[weight("w", [1, 1, 3, 3])])
    graph = read(data)
    (conv,) = [n for n in graph.nodes if n.type_name == "Conv"]
    assert conv.op.padding == pads * 2
    assert conv.loc.node == ir.NodeRef("c", "Conv", 0)


def test_auto_pad_same_with_stride_needs_the_size() -> None:
    data = build([_conv("x", "y", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")],
                 shape=("N", 1, "H", "W"), inits=[weight("w", [1, 1, 3, 3])])
    result = read_onnx("m.onnx", data)
    graph = result.models[0].graph
    assert isinstance(graph.nodes[-1].op, ir.Opaque) and "input size" in graph.nodes[-1].op.reason
    assert result.models[0].overrides == {}  # symbolic dims: no input size


def _resize(ctm: str, nearest: str, scale: float, mode: str = "nearest", opset: int = 17) -> bytes:
    return build([helper.make_node("Resize", ["x", "", "s"], ["r"], name="up", mode=mode,
                                   coordinate_transformation_mode=ctm, nearest_mode=nearest),
                  _conv("r", "y", kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                 inits=[floats("s", [1, 1, scale, scale]), weight("w", [1, 1, 3, 3])], opset=opset)


@pytest.mark.parametrize("nearest", ["round_prefer_ceil", "round_prefer_floor"])
def test_resize_half_pixel_nearest_is_torch_nearest_exact(nearest: str) -> None:
    """Measured: torch's nearest-exact x2 then conv3. ONNX half_pixel with either
    rounding equals it for x2 (src (o+1/2)/2 - 1/2 is never a tie)."""
    s = Stack(2, "nearest-exact")
    x = s.input()
    x = s.upsample(x, "nearest-exact", scale=2)
    s.conv(x, 1, k=3, p=1)
    m = measure(s)
    graph, info = out_info(_resize("half_pixel", nearest, 2.0), m.sizes)
    assert graph.nodes[1].op.mode == "nearest-exact"
    for ax, fr in zip(m.axes, info.frames):
        assert (fr.j, fr.alpha, fr.beta) == (ax.j, ax.alpha, ax.beta)


@pytest.mark.parametrize("ctm, nearest, scale, mode", [
    ("half_pixel", "round_prefer_floor", 0.5, "nearest"),  # src 2o+1/2 ties: floor reads 2o, torch 2o+1
    ("asymmetric", "round_prefer_floor", 2.0, "nearest"),  # rounds o/2: not torch's floor
    ("tf_half_pixel_for_nn", "floor", 2.0, "nearest"),
    ("asymmetric", "floor", 2.0, "linear"),  # src = o/2: no torch mode samples so
    ("half_pixel", "floor", 2.0, "cubic"),
])
def test_resize_without_an_ir_equivalent_is_opaque_and_reported(ctm, nearest, scale, mode) -> None:
    result = read_onnx("m.onnx", _resize(ctm, nearest, scale, mode))
    graph = result.models[0].graph
    (up,) = [n for n in graph.nodes if n.type_name == "Resize"]
    assert isinstance(up.op, ir.Opaque)
    assert [u.loc.node for u in graph.unresolved] == [ir.NodeRef("up", "Resize", 0)]


def test_upsample_opset9_and_resize_opset10_are_torch_nearest() -> None:
    """Upsample (opset 7-9) and Resize-10 sample asymmetric + floor: torch's nearest."""
    up9 = build([helper.make_node("Upsample", ["x", "s"], ["y"], mode="nearest")],
                inits=[floats("s", [1, 1, 2, 2])], opset=9)
    up7 = build([helper.make_node("Upsample", ["x"], ["y"], mode="nearest", scales=[1.0, 1.0, 2.0, 2.0])], opset=7)
    r10 = build([helper.make_node("Resize", ["x", "s"], ["y"], mode="nearest")], inits=[floats("s", [1, 1, 2, 2])],
                opset=10)
    for data in (up9, up7, r10):
        op = read(data).nodes[-1].op
        assert op == ir.Resample("nearest", scale=(Fraction(2), Fraction(2)))


def test_resize_sizes_folded_from_a_shape_chain() -> None:
    """Exporters compute sizes as Shape -> Slice -> Mul -> Concat -> Cast: evaluated."""
    nodes = [
        helper.make_node("Shape", ["x"], ["sh"]),
        helper.make_node("Slice", ["sh", "two", "four"], ["hw"]),
        helper.make_node("Mul", ["hw", "k"], ["hw2"]),
        helper.make_node("Slice", ["sh", "zero", "two"], ["nc"]),
        helper.make_node("Concat", ["nc", "hw2"], ["cat"], axis=0),
        helper.make_node("Cast", ["cat"], ["sizes"], to=TensorProto.INT64),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
    ]
    data = build(nodes, inits=[ints("zero", [0]), ints("two", [2]), ints("four", [4]), ints("k", [3, 3])])
    assert read(data).nodes[-1].op == ir.Resample("nearest", size=(48, 48))


@pytest.mark.parametrize("opset", [2, 11, 18])
def test_pad_by_opset_and_negative_crop(opset: int) -> None:
    """pads: [begin per axis..., end per axis...]; here H (1, -2) and W (2, 0), reflect."""
    amounts = [0, 0, 1, 2, 0, 0, -2, 0]
    if opset == 2:
        node = helper.make_node("Pad", ["x"], ["y"], mode="reflect", pads=amounts)
        inits = []
    elif opset == 11:
        node = helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect")
        inits = [ints("p", amounts)]
    else:  # opset 18: only the listed axes
        node = helper.make_node("Pad", ["x", "p", "", "axes"], ["y"], mode="reflect")
        inits = [ints("p", [1, 2, -2, 0]), ints("axes", [2, 3])]
    (pad,) = [n for n in read(build([node], inits=inits, opset=opset)).nodes if n.type_name == "Pad"]
    assert pad.op == ir.Window("pad", (1, 1), (1, 1), (1, 1), ((1, -2), (2, 0)))
    assert pad.attrs["padding_mode"] == "reflect"


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space_both_modes_and_space_to_depth(mode: str) -> None:
    """Both channel orders move pixels alike: output row h reads input row h // b."""
    nodes = [helper.make_node("SpaceToDepth", ["x"], ["s"], blocksize=2),
             helper.make_node("DepthToSpace", ["s"], ["y"], blocksize=2, mode=mode)]
    graph = read(build(nodes, shape=(1, 4, 16, 16)))
    assert [n.op for n in graph.nodes[1:]] == [ir.PixelUnshuffle(2, 2), ir.PixelShuffle(2, 2)]


@pytest.mark.parametrize("opset, axes_as_input", [(13, False), (18, True)])
def test_reduce_mean_over_space_is_global_over_channels_pointwise(opset: int, axes_as_input: bool) -> None:
    def reduce(axes, out, name):
        if axes_as_input:
            return helper.make_node("ReduceMean", ["c", name], [out], keepdims=1)
        return helper.make_node("ReduceMean", ["c"], [out], axes=axes, keepdims=1)

    nodes = [_conv("x", "c", kernel_shape=[3, 3]), reduce([2, 3], "g", "a23"), reduce([1], "m", "a1"),
             helper.make_node("Mul", ["c", "g"], ["cg"]), helper.make_node("Add", ["cg", "m"], ["y"])]
    inits = [weight("w", [1, 1, 3, 3]), ints("a23", [2, 3]), ints("a1", [1])]
    graph, info = out_info(build(nodes, inits=inits, opset=opset))
    ops = [type(n.op).__name__ for n in graph.nodes]
    assert ops == ["Pointwise", "Window", "Global", "Pointwise", "Merge", "Merge"]
    assert info.is_global and axis_frame(info) == (1, (0,), (2,))  # the conv's [0, 2], gate beside


def test_channels_last_round_trip_and_channel_shuffle_keep_the_frame() -> None:
    """Transpose to NHWC and back (ConvNeXt) and reshape (N,C,H,W)->(N,2,C/2,H,W)->
    transpose->reshape back (ShuffleNet) keep H and W: the conv after still sees
    conv3 then conv3 = [-2, 2] at j=1 (padding 1 each)."""
    nodes = [
        _conv("x", "a", "c1", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Transpose", ["a"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("LayerNormalization", ["t", "g"], ["ln"], axis=-1),
        helper.make_node("MatMul", ["ln", "m"], ["mm"]),
        helper.make_node("Transpose", ["mm"], ["b"], perm=[0, 3, 1, 2]),
        helper.make_node("Reshape", ["b", "s5"], ["r5"]),
        helper.make_node("Transpose", ["r5"], ["t5"], perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t5", "s4"], ["r4"]),
        helper.make_node("Conv", ["r4", "w4"], ["y"], name="c2", kernel_shape=[3, 3], pads=[1] * 4),
    ]
    inits = [weight("w", [4, 4, 3, 3]), floats("g", [1] * 4), weight("m", [4, 4]), ints("s5", [1, 2, 2, 16, 16]),
             ints("s4", [1, 4, 16, 16]), weight("w4", [4, 4, 3, 3])]
    graph, info = out_info(build(nodes, shape=(1, 4, 16, 16), inits=inits))
    assert info.status == "local" and not graph.unresolved
    assert axis_frame(info, 0) == axis_frame(info, 1) == (1, (-2,), (2,))


def test_groupnorm_export_pattern_is_restored() -> None:
    """GroupNorm as exported by older torch: reshape (N, G, -1), InstanceNormalization,
    reshape back: the frame survives (norms are pointwise, as in the source reader)."""
    nodes = [
        _conv("x", "a", kernel_shape=[3, 3], pads=[1] * 4),
        helper.make_node("Reshape", ["a", "flat"], ["f"]),
        helper.make_node("InstanceNormalization", ["f", "g", "b"], ["n"]),
        helper.make_node("Reshape", ["n", "back"], ["y"]),
    ]
    inits = [weight("w", [4, 4, 3, 3]), ints("flat", [1, 2, -1]), floats("g", [1, 1]), floats("b", [0, 0]),
             ints("back", [1, 4, 16, 16])]
    _, info = out_info(build(nodes, shape=(1, 4, 16, 16), inits=inits))
    assert info.status == "local" and axis_frame(info) == (1, (-1,), (1,))


def test_flatten_and_gemm_end_the_frame() -> None:
    nodes = [_conv("x", "a", kernel_shape=[3, 3]), helper.make_node("Flatten", ["a"], ["f"]),
             helper.make_node("Gemm", ["f", "fc"], ["y"], transB=1)]
    graph, info = out_info(build(nodes, inits=[weight("w", [1, 1, 3, 3]), weight("fc", [10, 196])]))
    assert info.status == "ended" and isinstance(graph.nodes[-1].op, ir.EndSpatial)
    an = analyse(graph, (16, 16))
    (_, last), = an.spatial_outputs()
    assert axis_frame(an.info(last)) == (1, (0,), (2,))


def test_constant_operands_are_pointwise_and_a_positional_constant_is_marked() -> None:
    """x + bias vector is pointwise (not a merge); x + a (1,1,16,16) table is a
    positional embedding (CC101's evidence)."""
    nodes = [helper.make_node("Add", ["x", "bias"], ["a"], name="bias"),
             helper.make_node("Add", ["a", "pos"], ["y"], name="pos")]
    graph = read(build(nodes, inits=[floats("bias", np.zeros((1, 1, 1, 1))), floats("pos", np.zeros((1, 1, 16, 16)))]))
    assert [type(n.op) for n in graph.nodes] == [ir.Pointwise] * 3
    assert not graph.nodes[1].attrs.get("positional") and graph.nodes[2].attrs["positional"]


def test_model_local_function_is_inlined_and_points_at_the_call() -> None:
    body = [helper.make_node("Relu", ["i"], ["r"], name="act"),
            helper.make_node("MaxPool", ["r"], ["o"], name="pool", kernel_shape=[2, 2], strides=[2, 2])]
    fn = helper.make_function("local", "Down", ["i"], ["o"], body, [helper.make_opsetid("", 17)])
    nodes = [helper.make_node("Down", ["x"], ["d"], domain="local", name="down1"),
             helper.make_node("Down", ["d"], ["y"], domain="local", name="down2")]
    graph, info = out_info(build(nodes, functions=[fn], extra_opsets=["local"]))
    pools = [n for n in graph.nodes if n.type_name == "MaxPool"]
    assert [n.loc.node for n in pools] == [ir.NodeRef("down1/pool", "MaxPool", 0), ir.NodeRef("down2/pool", "MaxPool", 1)]
    assert axis_frame(info) == (4, (0,), (3,))  # two 2x2 stride-2 pools: r = 4, j = 4


def _if(cond) -> tuple[list, list]:
    then = helper.make_graph([helper.make_node("MaxPool", ["x"], ["t"], kernel_shape=[2, 2], strides=[2, 2])],
                             "then", [], [vi("t", None)])
    other = helper.make_graph([helper.make_node("Identity", ["x"], ["e"])], "else", [], [vi("e", None)])
    node = helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then, else_branch=other)
    return [node], [cond]


def test_if_with_a_constant_condition_is_inlined() -> None:
    nodes, inits = _if(numpy_helper.from_array(np.array(True), "cond"))
    graph, info = out_info(build(nodes, inits=inits))
    assert not graph.unresolved and axis_frame(info) == (2, (0,), (1,))


def test_if_with_a_runtime_condition_and_an_unknown_op_are_reported_and_opaque() -> None:
    nodes, _ = _if(None)
    data = build(nodes, inputs=[vi("x", [1, 1, 16, 16]), helper.make_tensor_value_info("cond", TensorProto.BOOL, [])])
    graph, info = out_info(data)
    assert info.status == "unknown" and [u.loc.node.op_type for u in graph.unresolved] == ["If"]
    custom = build([helper.make_node("FancyConv", ["x"], ["y"], domain="acme", name="fc")], extra_opsets=["acme"])
    graph, info = out_info(custom)
    assert info.status == "unknown"
    (u,) = graph.unresolved
    assert "acme::FancyConv" in u.reason and u.loc.node == ir.NodeRef("fc", "FancyConv", 0)
    # The model's receptive field is then not known, which a plain check says (RL004, once
    # for the model), and the unknown operator is an RL002 finding when asked for.
    plain = api.check_data("m.onnx", custom)
    assert [d.code for d in plain] == ["RL004"] and "1 unresolved construct;" in plain[0].message
    shown = api.check_data("m.onnx", custom, show_unresolved=True)
    assert [d.code for d in shown] == ["RL004", "RL002"] and "[node" not in shown[1].message


def test_unknown_op_after_the_frame_ended_is_reported_but_harmless() -> None:
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["g"]),
             helper.make_node("Mystery", ["g"], ["y"], domain="acme")]
    graph, info = out_info(build(nodes, extra_opsets=["acme"]))
    assert isinstance(graph.nodes[-1].op, ir.Pointwise) and info.status == "ended" and len(graph.unresolved) == 1


def test_attrs_the_rules_read() -> None:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], group=2),
             helper.make_node("BatchNormalization", ["c", "s", "s", "s", "s"], ["n"]),
             helper.make_node("AveragePool", ["n"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[1] * 4)]
    inits = [weight("w", [6, 2, 3, 3]), floats("b", [0] * 6), floats("s", [1] * 6)]
    graph = read(build(nodes, shape=(1, 4, 16, 16), inits=inits))
    conv, bn, pool = graph.nodes[1:]
    assert conv.attrs == {"in_channels": 4, "out_channels": 6, "groups": 2, "bias": True, "padding_mode": "zeros"}
    assert (conv.name, conv.type_name) == ("", "Conv") and bn.attrs["num_features"] == 6
    assert pool.attrs["count_include_pad"] is False  # ONNX's default, unlike PyTorch's
    assert graph.nodes[0].attrs["out_channels"] == 4 and graph.name == "g"


def test_input_size_override_from_static_dims() -> None:
    result = read_onnx("dir/net.onnx", build([helper.make_node("Relu", ["x"], ["y"])], shape=(1, 3, 32, 48)))
    assert result.models[0].overrides == {"input_size": (32, 48)}


# --------------------------------------------------------------------------- bad files


def _good() -> bytes:
    return build([_conv("x", "y", "conv", kernel_shape=[3, 3], strides=[2, 2])], inits=[weight("w", [1, 1, 3, 3])])


def _bad_files() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, a phrase the message must contain)."""
    good = _good()
    cycle = build([helper.make_node("Relu", ["x2"], ["x1"], name="r1"), helper.make_node("Relu", ["x1"], ["x2"], name="r2"),
                   helper.make_node("Add", ["x", "x2"], ["y"])])
    external = weight("w", [1, 1, 3, 3])
    huge = onnx.TensorProto()
    huge.name, huge.data_type = "w", F
    huge.dims.extend([1 << 20, 1 << 20, 3, 3])
    huge.raw_data = b"\0" * 1024
    ext = onnx.TensorProto()
    ext.CopyFrom(external)
    ext.ClearField("raw_data")
    ext.data_location = TensorProto.EXTERNAL
    ext.external_data.add(key="location", value="../../etc/passwd")
    del ext.dims[:]
    ext.dims.extend([1 << 30, 1, 3, 3])
    return {
        "empty": (b"", "empty"),
        "truncated": (good[: len(good) // 2], "protobuf"),
        "not-protobuf": (b"def forward(x):\n    return x\n" * 10, "not an ONNX model"),
        "text-with-onnx-magic": (b"\x08\x07\x12\x04junk", "not an ONNX model"),
        "cycle": (cycle, "cycle"),
        "missing-attribute": (build([helper.make_node("MaxPool", ["x"], ["y"], name="pool")]), "'kernel_shape'"),
        "absurd-kernel": (build([_conv("x", "y", "big", kernel_shape=[10**12, 3])], inits=[weight("w", [1, 1, 3, 3])]),
                          "'kernel_shape'"),
        "negative-stride": (build([_conv("x", "y", "neg", kernel_shape=[3, 3], strides=[-2, 1])],
                                  inits=[weight("w", [1, 1, 3, 3])]), "'strides'"),
        "huge-initializer": (build([_conv("x", "y", kernel_shape=[3, 3])], inits=[huge]), "initializer 'w'"),
        "dangling-input": (build([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")]), "'ghost'"),
        "external-data-conv-ok": (build([_conv("x", "y", "ext", kernel_shape=[3, 3])], inits=[ext]), ""),
    }


BAD = _bad_files()


@pytest.mark.parametrize("name", list(BAD))
def test_bad_file_gives_one_clear_error_quickly(name: str) -> None:
    data, phrase = BAD[name]
    start = time.perf_counter()
    result = read_onnx(f"models/{name}.onnx", data)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{name}: {elapsed:.2f}s"  # generous: each takes milliseconds
    if not phrase:  # external data is never loaded, but the shape suffices
        assert result.diagnostics == () and result.models[0].graph.nodes[1].attrs["out_channels"] == 1 << 30
        return
    (d,) = result.diagnostics
    assert result.models == ()
    assert d.code == "RL001" and d.severity.name == "ERROR" and d.loc == ir.Location(f"models/{name}.onnx", 1, 1)
    assert f"{name}.onnx" in d.message and phrase in d.message, d.message


def test_a_large_valid_initializer_reads_fast_without_decoding_it(tmp_path: Path) -> None:
    """64 MiB of conv weights: only the shape is used; shape inference runs on a skeleton."""
    w = numpy_helper.from_array(np.zeros((256, 256, 16, 16), np.float32), "w")  # 64 MiB
    data = build([_conv("x", "y", kernel_shape=[16, 16])], shape=(1, 256, 32, 32), inits=[w])
    start = time.perf_counter()
    graph = read(data)
    assert time.perf_counter() - start < 1.0
    assert graph.nodes[1].attrs["out_channels"] == 256


def test_check_paths_reports_the_good_file_beside_the_bad(tmp_path: Path) -> None:
    """The bad file is one RL001; the good one is still checked (ST101: k3 s2 skips
    no input, so use a 1x1 stride-2 conv, which reads a quarter of its input)."""
    (tmp_path / "bad.onnx").write_bytes(BAD["truncated"][0])
    good = build([_conv("x", "y", "skip", kernel_shape=[1, 1], strides=[2, 2])], inits=[weight("w", [1, 1, 1, 1])])
    (tmp_path / "good.onnx").write_bytes(good)
    # A directory walk picks up sources and specs only (tests/test_discovery.py), so name the files.
    result = api.check_paths([tmp_path / "bad.onnx", tmp_path / "good.onnx"], use_cache=False)
    by_file = {}
    for d in result.diagnostics:
        by_file.setdefault(Path(d.loc.file).name, []).append(d.code)
    assert by_file["bad.onnx"] == ["RL001"]
    assert "ST101" in by_file["good.onnx"]


def test_reader_does_not_import_torch(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from rflint.readers.onnx import read_onnx; "
            "read_onnx('m.onnx', open(sys.argv[1], 'rb').read()); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    path = tmp_path / "good.onnx"
    path.write_bytes(_good())
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, timeout=60)


# --------------------------------------------------------------------------- findings on nodes


def _two_shortcuts() -> bytes:
    """Two 1x1 stride-2 convs (ST101: each reads a quarter of its input), one under /layer1/."""
    nodes = [_conv("x", "a", "/layer1/down/Conv", kernel_shape=[1, 1], strides=[2, 2]),
             _conv("a", "y", "/layer2/down/Conv", kernel_shape=[1, 1], strides=[2, 2])]
    return build(nodes, shape=(1, 1, 32, 32), inits=[weight("w", [1, 1, 1, 1])])


def _cli(*args: str, cwd: Path):
    from test_formats_ci import run

    return run(*args, cwd=cwd)


def test_findings_show_the_node_in_text_json_and_sarif(tmp_path: Path) -> None:
    import json

    from test_formats_ci import schema_errors

    (tmp_path / "model.onnx").write_bytes(_two_shortcuts())
    text = _cli("check", "model.onnx", "--no-cache", "--output-format", "concise", cwd=tmp_path)
    st = [line for line in text.stdout.splitlines() if " ST101 " in line]
    assert st[0].startswith("model.onnx:1:1: ST101") and st[0].endswith("[node Conv #0 '/layer1/down/Conv']"), st
    assert st[1].endswith("[node Conv #1 '/layer2/down/Conv']")
    found = json.loads(_cli("check", "model.onnx", "--no-cache", "--output-format", "json", cwd=tmp_path).stdout)
    nodes = [d["node"] for d in found if d["code"] == "ST101"]
    assert nodes == [{"name": "/layer1/down/Conv", "op_type": "Conv", "index": 0},
                     {"name": "/layer2/down/Conv", "op_type": "Conv", "index": 1}]
    doc = json.loads(_cli("check", "model.onnx", "--no-cache", "--output-format", "sarif", cwd=tmp_path).stdout)
    assert schema_errors(doc) == []
    logical = [r["locations"][0]["logicalLocations"][0] for r in doc["runs"][0]["results"] if r["ruleId"] == "ST101"]
    assert [(x["name"], x["properties"]) for x in logical] == [
        ("/layer1/down/Conv", {"opType": "Conv", "nodeIndex": 0}), ("/layer2/down/Conv", {"opType": "Conv", "nodeIndex": 1})]


def test_per_file_ignores_with_a_node_pattern(tmp_path: Path) -> None:
    from rflint.config import load_config

    (tmp_path / "model.onnx").write_bytes(_two_shortcuts())
    (tmp_path / "rflint.toml").write_text('per-file-ignores = {"model.onnx::/layer1/*" = ["ST101"]}\n')
    config = load_config(tmp_path / "rflint.toml")
    found = api.check_data(str(tmp_path / "model.onnx"), _two_shortcuts(), config)
    assert [d.loc.node.name for d in found if d.code == "ST101"] == ["/layer2/down/Conv"]
    unfiltered = api.check_data(str(tmp_path / "model.onnx"), _two_shortcuts())
    assert [d.loc.node.name for d in unfiltered if d.code == "ST101"] == ["/layer1/down/Conv", "/layer2/down/Conv"]


# --------------------------------------------------------------------------- the examples, from source and from ONNX


EXAMPLES = {  # file: (class, input size, channels, the pragma's other settings as configuration)
    "classifier": ("SmallNet", 224, 3, {"object-size": [32, 160]}),
    "autoencoder": ("AutoEncoder", 64, 1, {}),
    "clean": ("CleanSegmenter", 128, 3, {"object-size": [8, 24], "task": "segmentation"}),
    "unet": ("UNet", 256, 3, {"object-size": [8, 40], "task": "segmentation"}),
}

# Where the two reads legitimately differ, by (code, layer-key prefix), and why.
SOURCE_LINE_ONCE = (
    "the source reports a line once however many layers it builds (DESIGN.md: a shared line is reported "
    "once): BasicBlock's shortcut line builds layer2's and layer3's 1x1 stride-2 convs; the ONNX file has "
    "a node for each, so each is reported"
)
ONNX_ONLY: dict[str, dict[tuple[str, str], tuple[int, str]]] = {
    "classifier": {("AA101", "conv k1x1 s2x2"): (1, SOURCE_LINE_ONCE), ("ST101", "conv k1x1 s2x2"): (1, SOURCE_LINE_ONCE)},
}
SOURCE_ONLY: dict[str, dict[tuple[str, str], tuple[int, str]]] = {}


def _example_model(name: str) -> torch.nn.Module:
    import importlib.util

    path = Path(__file__).parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, EXAMPLES[name][0])().eval()


def _both(name: str, tmp_path: Path):
    import json
    from collections import Counter

    from rflint.config import load_config

    _, size, channels, keys = EXAMPLES[name]
    (tmp_path / "rflint.toml").write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items()))
    source_path = Path(__file__).parent.parent / "examples" / f"{name}.py"
    source = api.check_text(str(source_path), source_path.read_text())
    data = export(_example_model(name), torch.zeros(1, channels, size, size), tmp_path / f"{name}.onnx")
    exported = api.check_data(str(tmp_path / f"{name}.onnx"), data, load_config(tmp_path / "rflint.toml"))
    assert not [d for d in exported if d.code in ("RL001", "RL000")]
    return Counter((d.code, d.layer) for d in source), Counter((d.code, d.layer) for d in exported)


def _by_prefix(diff, expected: dict) -> dict:
    got: dict = {}
    for (code, key), count in diff.items():
        match = [p for p in expected if p[0] == code and key.startswith(p[1])]
        got[match[0] if match else (code, key)] = got.get(match[0] if match else (code, key), 0) + count
    return got


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_findings_match_between_source_and_onnx(name: str, tmp_path: Path) -> None:
    """Matched as multisets of (code, layer key): export folds BatchNorm and renames
    nodes, which the key ignores. Differences are listed above, each with its reason."""
    source, exported = _both(name, tmp_path)
    assert sum(source.values()) > 0 or name == "clean"
    only_onnx = _by_prefix(exported - source, ONNX_ONLY.get(name, {}))
    only_source = _by_prefix(source - exported, SOURCE_ONLY.get(name, {}))
    assert only_onnx == {k: v[0] for k, v in ONNX_ONLY.get(name, {}).items()}
    assert only_source == {k: v[0] for k, v in SOURCE_ONLY.get(name, {}).items()}


def test_pd101_reports_every_onnx_node(tmp_path: Path) -> None:
    """Every node of an ONNX file sits on line 1: the checks tell places apart by node too."""
    source, exported = _both("classifier", tmp_path)
    assert sorted(k for c, k in exported if c == "PD101") == sorted(k for c, k in source if c == "PD101")
