"""The static Python reader: language constructs, name resolution, and whole example
models whose receptive fields are checked against measurement on the real network."""

from __future__ import annotations

import importlib.util
import textwrap
from fractions import Fraction
from pathlib import Path

import pytest

from rflint.analysis import analyse
from rflint.ir import EndSpatial, Global, Graph, Merge, Node, Opaque, Resample, TransposedConv, Window
from rflint.readers.python import build_entry, read_python

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def read(src: str, path: str = "m.py"):
    return read_python(path, textwrap.dedent(src))


def model(src: str, name: str | None = None):
    result = read(src)
    models = [m for m in result.models if name is None or m.graph.name == name]
    assert models, result
    return models[0].graph


def layers(graph, kind=Window):
    return [n for n in graph.nodes if isinstance(n.op, kind)]


# ---------------------------------------------------------------------- names and arguments


@pytest.mark.parametrize(
    "imports, ctor",
    [
        ("import torch.nn as nn", "nn.Conv2d"),
        ("import torch", "torch.nn.Conv2d"),
        ("from torch import nn", "nn.Conv2d"),
        ("from torch.nn import Conv2d as C", "C"),
        ("import torch.nn.modules.conv as convs", "convs.Conv2d"),
    ],
)
def test_layer_names_resolve_through_imports(imports: str, ctor: str) -> None:
    g = model(f"""
        {imports}
        import torch.nn as _nn
        class M(_nn.Module):
            def __init__(self):
                super().__init__()
                self.c = {ctor}(3, 8, 5, 2, 2)
            def forward(self, x):
                return self.c(x)
    """)
    (conv,) = layers(g)
    assert conv.op == Window("conv", (5, 5), (2, 2), (1, 1), ((2, 2), (2, 2)))
    assert conv.name == "c" and conv.type_name == "Conv2d"


def test_unimported_name_is_not_a_layer() -> None:
    g = model("""
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = Conv2d(3, 8, 3)
            def forward(self, x):
                return self.c(x)
    """)
    assert not layers(g)
    assert not g.complete
    assert any("Conv2d" in u.reason for u in g.unresolved)


def test_positional_and_keyword_arguments_bind_alike() -> None:
    g = model("""
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(3, 8, (3, 5), (1, 2), (1, 2), (1, 2))
                self.b = nn.Conv2d(in_channels=3, out_channels=8, dilation=(1, 2), padding=(1, 2), stride=(1, 2), kernel_size=(3, 5))
            def forward(self, x):
                return self.b(self.a(x))
    """)
    a, b = layers(g)
    assert a.op == b.op == Window("conv", (3, 5), (1, 2), (1, 2), ((1, 1), (2, 2)))
    assert a.attrs["out_channels"] == 8


def test_same_and_valid_padding_resolve_as_torch_does() -> None:
    g = model("""
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv1d(1, 1, 4, padding="same", dilation=3)
                self.b = nn.Conv1d(1, 1, 3, padding="valid")
            def forward(self, x):
                return self.b(self.a(x))
    """)
    a, b = layers(g)
    # 'same': total d*(k-1) = 9, before 9 // 2 = 4, the extra one after.
    assert a.op.padding == ((4, 5),)
    assert b.op.padding == ((0, 0),)
    assert g.ndim == 1


def test_bad_layer_arguments_are_reported_with_their_line() -> None:
    result = read("""
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(3, 8)
            def forward(self, x):
                return self.c(x)
    """)
    g = result.models[0].graph
    (bad,) = [u for u in g.unresolved if "kernel_size" in u.reason]
    assert bad.loc is not None and bad.loc.line == 6
    assert isinstance(layers(g, Opaque)[0].op, Opaque)


# ---------------------------------------------------------------------- containers and forward


def test_sequential_with_ordered_dict_names_layers() -> None:
    g = model("""
        from collections import OrderedDict
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(OrderedDict([
                    ("conv", nn.Conv2d(3, 8, 3)),
                    ("pool", nn.MaxPool2d(2)),
                ]))
                self.tail = nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU())
            def forward(self, x):
                return self.tail(self.features(x))
    """)
    names = [n.name for n in g.nodes[1:]]
    assert names == ["features.conv", "features.pool", "tail.0", "tail.1"]
    assert [n.inputs for n in g.nodes[1:]] == [(0,), (1,), (2,), (3,)]
    assert g.nodes[2].op == Window("max_pool", (2, 2), (2, 2), (1, 1), ((0, 0), (0, 0)))


def test_functional_ops_merges_and_concat() -> None:
    g = model("""
        import torch
        import torch.nn as nn
        from torch.nn import functional as F
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(3, 8, 3, padding=1)
                self.b = nn.Conv2d(3, 8, 1)
            def forward(self, x):
                y = F.max_pool2d(self.a(x), 3, stride=2, padding=1, ceil_mode=True)
                y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
                z = torch.cat([y, self.b(x)], dim=1)
                return F.relu(z + self.b(x))
    """)
    kinds = [type(n.op).__name__ for n in g.nodes[1:]]
    assert kinds == ["Window", "Window", "Resample", "Window", "Merge", "Window", "Merge"]
    pool = g.nodes[2].op
    assert pool == Window("max_pool", (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)), ceil_mode=True)
    assert g.nodes[3].op == Resample("linear", scale=(Fraction(2), Fraction(2)), align_corners=False)
    assert g.nodes[5].op == Merge("concat") and g.nodes[7].op == Merge("add")
    assert g.complete and g.outputs == (("output", 7),)


def test_flatten_and_global_pool_end_the_spatial_part() -> None:
    g = model("""
        import torch
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(3, 8, 3)
                self.pool = nn.AdaptiveAvgPool2d((1, 1))
                self.fc = nn.Linear(8, 2)
            def forward(self, x):
                x = self.pool(self.c(x))
                return self.fc(x.view(x.size(0), -1))
    """)
    assert isinstance(g.nodes[2].op, Global) and isinstance(g.nodes[3].op, EndSpatial)
    a = analyse(g)
    ((_, last),) = a.spatial_outputs()
    assert g.nodes[last].name == "c"


def test_class_needing_arguments_still_exposes_literal_layers() -> None:
    result = read("""
        import torch.nn as nn
        class Up(nn.Module):
            def __init__(self, channels):
                super().__init__()
                self.up = nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1, output_padding=1)
            def forward(self, x):
                return self.up(x)
    """)
    (m,) = result.models
    # A channel count moves no receptive field: `channels` is symbolic, the model resolves
    # and says what it assumed.
    assert m.graph.complete
    assert [a.reason for a in m.graph.assumptions] == ["Up: argument 'channels' has no default and is taken as symbolic"]
    (up,) = layers(m.graph, TransposedConv)
    assert up.op == TransposedConv((3, 3), (2, 2), (1, 1), (1, 1), (1, 1))


def test_a_symbolic_argument_that_shapes_the_geometry_leaves_the_model_unresolved() -> None:
    result = read("""
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self, kernel, depth):
                super().__init__()
                self.first = nn.Conv2d(3, 8, kernel)
                self.blocks = nn.ModuleList()
                for _ in range(depth):
                    self.blocks.append(nn.Conv2d(8, 8, 3))
            def forward(self, x):
                x = self.first(x)
                for b in self.blocks:
                    x = b(x)
                return x
    """)
    (m,) = result.models
    assert not m.graph.complete
    reasons = " | ".join(u.reason for u in m.graph.unresolved)
    # The kernel is needed by a layer; the skipped loop may have built layers of `blocks`.
    assert "kernel_size is not known (argument 'kernel'" in reasons and "loop over a value that is not known" in reasons


def test_undecidable_branch_joins_tensors() -> None:
    g = model("""
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(3, 3, 3)
                self.b = nn.Conv2d(3, 3, 5)
            def forward(self, x):
                if self.training:
                    x = self.a(x)
                else:
                    x = self.b(x)
                return x
    """)
    a = analyse(g)
    ((_, out),) = a.spatial_outputs()
    # Either branch: conv 3 (alpha 0, beta 2) or conv 5 (alpha 0, beta 4); joined as at an add: [0, 4].
    assert a.info(out).frames[0].alpha == (0,) and a.info(out).frames[0].beta == (4,)


def test_build_entry_with_arguments_and_pragma() -> None:
    src = textwrap.dedent("""
        import torch.nn as nn
        # rflint: input-size=64 object-size=8..32 task=detection
        class M(nn.Module):
            def __init__(self, k):
                super().__init__()
                self.c = nn.Conv2d(3, 3, k)
            def forward(self, x):
                return self.c(x)
    """)
    m = build_entry("m.py", src, "M(k=7)")
    (conv,) = layers(m.graph)
    assert conv.op.kernel == (7, 7)
    assert m.overrides == {"input_size": (64,), "object_size": (8, 32), "task": "detection"}


def test_reading_never_imports_or_runs_the_model(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    src = f"""
        import pathlib
        pathlib.Path({str(sentinel)!r}).write_text("imported")
        import torch.nn as nn
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                pathlib.Path({str(sentinel)!r}).write_text("constructed")
                self.c = nn.Conv2d(3, 3, 3)
            def forward(self, x):
                open({str(sentinel)!r}, "w").write("ran")
                return self.c(x)
    """
    result = read(src)
    build_entry("m.py", textwrap.dedent(src), "M")
    assert result.models and not sentinel.exists()


def test_syntax_error_is_one_diagnostic() -> None:
    result = read("class (:\n")
    (d,) = result.diagnostics
    assert d.code == "RL001" and d.loc.line == 1 and "syntax" in d.message


# ---------------------------------------------------------------------- examples, measured


def _load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the test, not rflint, runs the example
    return module


@pytest.mark.slow
@pytest.mark.parametrize(
    "file, cls, shape, output",
    [
        ("classifier", "SmallNet", (1, 3, 64, 640), lambda m, x: m.layer3(m.layer2(m.layer1(m.pool(m.bn(m.stem(x))))))),
        ("unet", "UNet", (1, 3, 32, 256), None),
        ("clean", "CleanSegmenter", (1, 3, 32, 256), None),
    ],
)
def test_example_frames_match_measurement(file: str, cls: str, shape, output) -> None:
    from measure import measure

    path = EXAMPLES / f"{file}.py"
    read_model = build_entry(str(path), path.read_text(), cls)
    a = analyse(read_model.graph)
    ((_, out),) = a.spatial_outputs()
    frame = a.info(out).frames[-1]
    net = getattr(_load_example(file), cls)()
    period = 4
    got = measure(net, shape, period=period, output=output)
    assert got.j == frame.j
    assert got.alpha == tuple(frame.alpha[p % frame.q] for p in range(period))
    assert got.beta == tuple(frame.beta[p % frame.q] for p in range(period))


@pytest.mark.parametrize(
    "imports, ctor, window",
    [
        # antialiased-cnns: filt_size 4 pads (4-1)//2 = 1 before and ceil(3/2) = 2 after.
        ("import antialiased_cnns", "antialiased_cnns.BlurPool(8, stride=2)", ((4, 4), (2, 2), ((1, 2), (1, 2)))),
        ("from antialiased_cnns.blurpool import BlurPool", "BlurPool(8, filt_size=3, stride=2)", ((3, 3), (2, 2), ((1, 1), (1, 1)))),
        # timm: get_padding(3, 2) = ((2 - 1) + (3 - 1)) // 2 = 1.
        ("from timm.layers import BlurPool2d", "BlurPool2d(8)", ((3, 3), (2, 2), ((1, 1), (1, 1)))),
        ("import kornia", "kornia.filters.BlurPool2D(5)", ((5, 5), (2, 2), ((2, 2), (2, 2)))),
    ],
)
@pytest.mark.parametrize("installed", [True, False], ids=["real source", "stand-in"])
def test_known_blur_layers_are_modelled(imports: str, ctor: str, window, installed: bool) -> None:
    """A blur from antialiased-cnns, timm or kornia is a blur, read from the package's real
    source when it is installed (its pad and fixed-kernel conv) and from the model of it
    when not (an isolated pre-commit environment): the same frame and no AA finding."""
    from rflint.readers.python.reader import ReaderSession

    src = textwrap.dedent(f"""
        import torch.nn as nn
        {imports}
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.blur = {ctor}
                self.conv = nn.Conv2d(8, 8, 3, stride=2, padding=1)
            def forward(self, x):
                return self.conv(self.blur(x))
    """)
    if installed:
        package = imports.split()[1].split(".")[0]
        pytest.importorskip(package)
    g = build_entry("m.py", src, "M", ReaderSession(use_installed=installed)).graph
    assert g.complete, g.unresolved
    blurs = [n for n in g.nodes if n.attrs.get("blur")]
    assert len(blurs) == 1, [(n.type_name, n.attrs) for n in g.nodes]
    kernel, stride, pads = window
    # The frame of the blur's output equals that of one window with the stated padding.
    expected = analyse(Graph("w", (g.nodes[0], Node(1, Window("conv", kernel, stride, (1, 1), pads), (0,), "blur")),
                             (("output", 1),), 2))
    got = analyse(g)
    assert got.info(blurs[0].id).frames == expected.info(1).frames


BLOCKS_USER = """
import torch.nn as nn
from torchvision.ops import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from torchvision.ops.misc import Permute


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Conv2dNormActivation(3, 16, kernel_size=3, stride=2)
        self.dw = Conv2dNormActivation(16, 16, kernel_size=5, groups=16, dilation=2)
        self.se = SqueezeExcitation(16, 4)
        self.drop = StochasticDepth(0.1, "row")
        self.tail = Conv2dNormActivation(16, 32, kernel_size=(3, 1), stride=(2, 1))

    def forward(self, x):
        x = self.stem(x)
        x = x + self.drop(self.se(self.dw(x)))
        return self.tail(x)
"""


def test_torchvision_blocks_read_the_same_without_torchvision_installed() -> None:
    """An isolated pre-commit environment has no torchvision: the bundled stand-ins give
    the same graph geometry and frames as the installed source."""
    from rflint.readers.python.reader import ReaderSession

    installed = build_entry("net.py", BLOCKS_USER, "Net", ReaderSession())
    isolated_session = ReaderSession(use_installed=False)
    isolated = build_entry("net.py", BLOCKS_USER, "Net", isolated_session)
    stub = isolated_session.modules["torchvision.ops.misc"].path
    assert "stubs" in stub and "site-packages" not in stub
    assert installed.graph.complete and isolated.graph.complete
    ops = lambda g: [(n.op, n.inputs) for n in g.nodes]  # noqa: E731
    assert ops(installed.graph) == ops(isolated.graph)
    a, b = analyse(installed.graph), analyse(isolated.graph)
    (_, out_a), = a.spatial_outputs()
    (_, out_b), = b.spatial_outputs()
    assert a.info(out_a).frames == b.info(out_b).frames and a.info(out_a).is_global
    # By hand, along W: stem 3/2/1 -> r=3, j=2, P=1; dw k=5 d=2 (span 9, pad 4): r=3+8*2=19, P=1+4*2=9;
    # tail (3,1)/(2,1): W kernel 1, stride 1 -> unchanged.
    f = a.info(out_a).frames[1]
    assert (f.r, f.j, f.padding) == (19, 2, 9)


def test_feature_getter_rebuilds_a_backbone_from_named_children() -> None:
    """torchvision's IntermediateLayerGetter: set.issubset, dict views, del d[k], named_children,
    a ModuleDict subclass initialised with an OrderedDict, a dict of outputs; then an interpolation
    back to the input's own size (size=x.shape[-2:]), which needs the input size."""
    src = """
        import torch.nn as nn
        import torch.nn.functional as F
        from collections import OrderedDict


        class Getter(nn.ModuleDict):
            def __init__(self, model, return_layers):
                if not set(return_layers).issubset([name for name, _ in model.named_children()]):
                    raise ValueError("return_layers are not present in model")
                orig = return_layers
                return_layers = {str(k): str(v) for k, v in return_layers.items()}
                layers = OrderedDict()
                for name, module in model.named_children():
                    layers[name] = module
                    if name in return_layers:
                        del return_layers[name]
                    if not return_layers:
                        break
                super().__init__(layers)
                self.return_layers = orig

            def forward(self, x):
                out = OrderedDict()
                for name, module in self.items():
                    x = module(x)
                    if name in self.return_layers:
                        out[self.return_layers[name]] = x
                return out


        class Back(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Conv2d(3, 3, 3, stride=2, padding=1)
                self.b = nn.Conv2d(3, 3, 3, padding=1)
                self.c = nn.Conv2d(3, 3, 3)


        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.g = Getter(Back(), {"b": "out"})

            def forward(self, x):
                size = x.shape[-2:]
                y = self.g(x)["out"]
                return F.interpolate(y, size=size, mode="nearest")
    """
    g = model(src, "M")
    assert [n.name for n in layers(g)] == ["g.a", "g.b"]  # c is after the returned layer: not kept
    assert g.complete, g.unresolved
    resample = next(n for n in g.nodes if isinstance(n.op, Resample))
    assert resample.op.like == 0  # the input's own size
    assert analyse(g).info(resample.id).status == "unknown"  # without an input size, not known
    # With 32: a (3/2/1) r=3 j=2 P=1; b (3/1/1): r=3+2*2=7, P=1+1*2=3, size 16: b's output m reads
    # [2m-3, 2m+3]. Nearest 16 -> 32 (ratio 1/2): output o reads m = floor(o/2), new j = 1.
    # o = 2m: [2m-3, 2m+3] - 2m -> (-3, 3); o = 2m+1: [2m-3, 2m+3] - (2m+1) -> (-4, 2).
    f = analyse(g, (32, 32)).info(resample.id).frames[0]
    assert f.j == 1 and f.alpha == (-3, -4) and f.beta == (3, 2)


def test_subclass_of_a_layer_without_forward_is_that_layer() -> None:
    g = model("""
        import torch.nn as nn


        class Conv3DSimple(nn.Conv3d):
            def __init__(self, in_planes, out_planes, stride=1, padding=1):
                super().__init__(in_channels=in_planes, out_channels=out_planes, kernel_size=(3, 3, 3),
                                 stride=stride, padding=padding, bias=False)


        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = Conv3DSimple(3, 8, stride=2)

            def forward(self, x):
                return self.c(x)
    """, "M")
    (conv,) = layers(g)
    assert conv.op == Window("conv", (3, 3, 3), (2, 2, 2), (1, 1, 1), ((1, 1),) * 3)
    assert conv.type_name == "Conv3DSimple" and g.complete
    assert conv.loc.line == 14 and not conv.loc.chain  # the line that builds it: self.c = Conv3DSimple(...)


TIMM_USER = """
import torch.nn as nn
from timm.layers import ConvNormAct, SqueezeExcite, DropPath, create_conv2d, BatchNormAct2d


# rflint: input-size=64
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvNormAct(3, 16, kernel_size=3, stride=2, aa_layer="blur")
        self.dw = create_conv2d(16, 16, 5, depthwise=True, dilation=2)
        self.bn = BatchNormAct2d(16)
        self.se = SqueezeExcite(16)
        self.drop = DropPath(0.1)

    def forward(self, x):
        x = self.stem(x)
        return x + self.drop(self.se(self.bn(self.dw(x))))
"""


def test_timm_blocks_have_stand_ins_when_timm_is_not_installed() -> None:
    from rflint.api import check_text
    from rflint.readers.python.reader import ReaderSession

    m = build_entry("net.py", TIMM_USER, "Net", ReaderSession(use_installed=False))
    assert m.graph.complete, m.graph.unresolved
    blur = next(n for n in m.graph.nodes if n.attrs.get("blur"))
    # timm's ConvNormAct with aa_layer: the conv at stride 1, then BlurPool2d(stride=2) (filt 3, pad 1).
    assert blur.op == Window("conv", (3, 3), (2, 2), (1, 1), ((1, 1), (1, 1)))
    a = analyse(m.graph)
    ((_, out),) = a.spatial_outputs()
    # By hand along W: conv 3/1/1 r=3 P=1; blur 3/2/1: r=5, j=2, P=2; dw 5 d=2 (span 9, pad get_padding=4): r=5+8*2=21, P=2+4*2=10.
    f = a.info(out).frames[1]
    assert (f.r, f.j, f.padding) == (21, 2, 10) and a.info(out).is_global
    # The blur-first downsampling is not aliased: no AA finding.
    assert not [d for d in check_text("net.py", TIMM_USER) if d.code.startswith("AA")]
