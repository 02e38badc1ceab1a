"""Issue 3's differential test: rflint's static read of the installed torchvision
source against a measurement on the instantiated model.

For each model of the issue's list, ``rflint.api.explain`` reads the model's
file (never importing it) and gives the frame of the last spatial feature map;
the same model, instantiated by torchvision with ``weights=None``, is measured
with DESIGN.md's gradient method (``measure.measure_whole``: positive
averaging weights, max pools as average pools, norms, activations and
squeeze-and-excitation gates as identities, a thin input long along the
width, the support of the input gradient of an interior output and its shift
between neighbouring outputs). ``j``, ``alpha`` and ``beta`` along the width
(hence ``r`` and the effective padding ``P``) must agree exactly. Every expected
number comes from the measurement.

The dilated backbones of ``fcn_resnet50`` and ``deeplabv3_resnet50`` are
measured on ``model.backbone(x)["out"]`` of the segmentation model, and
compared both with ``resnet.py::resnet50(replace_stride_with_dilation=[False,
True, True])`` (the backbone those factories build) and, separately, with the
``backbone.`` part of the static read of the segmentation factories themselves.

Cases whose static read does not resolve yet, or disagrees, are marked
``xfail(strict=True)`` with the reason: they fail the moment they pass.
Measurements are cached for one run only (in memory).
"""

from __future__ import annotations

import functools
import importlib.util
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from measure import Measured, WholeModel, last_spatial_map, measure_whole, neutralise_gates  # noqa: E402

from rflint import api  # noqa: E402
from rflint.rf import AxisFrame  # noqa: E402

#: The installed torchvision's ``models/`` directory: read statically, instantiated by torch.
TV = Path(importlib.util.find_spec("torchvision").origin).parent / "models"

DILATED = "resnet50(replace_stride_with_dilation=[False, True, True])"


@functools.cache  # one builder per model, so that the measurement cache below is shared
def _classifier(name: str) -> Callable[[], "torch.nn.Module"]:
    def build() -> "torch.nn.Module":
        return getattr(torchvision.models, name)(weights=None)
    return build


@functools.cache
def _segmentation(name: str) -> Callable[[], "torch.nn.Module"]:
    def build() -> "torch.nn.Module":
        return getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None)
    return build


def _backbone_out(model: "torch.nn.Module", x: "torch.Tensor") -> "torch.Tensor":
    return model.backbone(x)["out"]


@dataclass(frozen=True)
class Case:
    """One model: what to read statically and what to instantiate and measure."""

    id: str
    file: str  # under TV
    entry: str  # FILE::entry for rflint
    build: Callable[[], "torch.nn.Module"]
    output: Callable[["torch.nn.Module", "torch.Tensor"], "torch.Tensor"] = last_spatial_map
    node: str | None = None  # static node to compare (else the last spatial map of the output)


def _classification(file: str, name: str) -> Case:
    return Case(name, file, name, _classifier(name))


CLASSIFIERS = [
    _classification("alexnet.py", "alexnet"),
    _classification("vgg.py", "vgg11"),
    _classification("vgg.py", "vgg16"),
    _classification("vgg.py", "vgg19_bn"),
    _classification("resnet.py", "resnet18"),
    _classification("resnet.py", "resnet34"),
    _classification("resnet.py", "resnet50"),
    _classification("resnet.py", "resnet101"),
    _classification("resnet.py", "resnet152"),
    _classification("resnet.py", "resnext50_32x4d"),
    _classification("resnet.py", "wide_resnet50_2"),
    _classification("densenet.py", "densenet121"),
    _classification("googlenet.py", "googlenet"),
    _classification("inception.py", "inception_v3"),
    _classification("mobilenetv2.py", "mobilenet_v2"),
    _classification("mobilenetv3.py", "mobilenet_v3_large"),
    _classification("mnasnet.py", "mnasnet1_0"),
    _classification("shufflenetv2.py", "shufflenet_v2_x1_0"),
    _classification("squeezenet.py", "squeezenet1_0"),
    _classification("efficientnet.py", "efficientnet_b0"),
    _classification("efficientnet.py", "efficientnet_v2_s"),
    _classification("regnet.py", "regnet_y_400mf"),
    _classification("convnext.py", "convnext_tiny"),
]

# The dilated backbones, read through the backbone the factories build.
BACKBONES = [
    Case("fcn_resnet50-backbone", "resnet.py", DILATED, _segmentation("fcn_resnet50"), _backbone_out),
    Case("deeplabv3_resnet50-backbone", "resnet.py", DILATED, _segmentation("deeplabv3_resnet50"), _backbone_out),
]

# The same backbones, read through the segmentation factories themselves.
FACTORIES = [
    Case("fcn_resnet50", "segmentation/fcn.py", "fcn_resnet50(weights_backbone=None)",
         _segmentation("fcn_resnet50"), _backbone_out, node="backbone.layer4.2.relu"),
    Case("deeplabv3_resnet50", "segmentation/deeplabv3.py", "deeplabv3_resnet50(weights_backbone=None)",
         _segmentation("deeplabv3_resnet50"), _backbone_out, node="backbone.layer4.2.relu"),
]

#: Cases whose static read does not resolve yet or disagrees with the measurement
#: (strict: each turns into a failure the moment it passes; then remove it here).
XFAIL: dict[str, str] = {}  # every case resolves and agrees; a case that stops doing so is a failure


def _params(cases: list[Case]) -> list:
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=XFAIL[c.id])] if c.id in XFAIL else [])
        for c in cases
    ]


# ---------------------------------------------------------------------- the two sides


@pytest.fixture(scope="module", autouse=True)
def _two_threads():
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(saved)


@dataclass(frozen=True)
class Measurement:
    whole: WholeModel
    seconds: float


@functools.lru_cache(maxsize=None)
def _measured(build: Callable[[], "torch.nn.Module"], output: Callable) -> Measurement:
    """The measured frame of one instantiated model (once per run: the fcn and
    deeplabv3 backbones are asked for twice)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # googlenet/inception: init_weights default notices
        model = build()
    whole = measure_whole(model, output)
    return Measurement(whole, time.perf_counter() - start)


@dataclass(frozen=True)
class Static:
    frame: AxisFrame | None
    node: str
    complete: bool
    unresolved: tuple[str, ...]


def _static(case: Case) -> Static:
    """rflint's frame (last axis) of the last spatial feature map, or of ``case.node``. At
    224 pixels: the segmentation heads resample to the input's size, which only an input
    size makes a frame (without one the model is rightly incomplete)."""
    e = api.explain(f"{TV}/{case.file}::{case.entry}", input_size=(224, 224))
    graph = e.model.graph
    reasons = tuple(dict.fromkeys(
        f"{_short(u.loc.file)}:{u.loc.line}: {u.reason}" if u.loc is not None else u.reason for u in graph.unresolved
    ))
    if case.node is not None:
        named = [n for n in graph.nodes if n.name == case.node]
        under = [n for n in graph.nodes if n.name.startswith(case.node.split(".")[0] + ".")]
        chosen = (named or under or [None])[-1]
        if chosen is None:
            return Static(None, f"no node named {case.node} nor under {case.node.split('.')[0]}.", graph.complete, reasons)
        nid, where = chosen.id, chosen.name
    else:
        outputs = e.analysis.spatial_outputs()
        if not outputs:
            return Static(None, "no spatial output", graph.complete, reasons)
        if len(outputs) > 1:
            outputs = [o for o in outputs if o[0] == "output"] or outputs
            assert len(outputs) == 1, f"several spatial outputs: {e.analysis.spatial_outputs()}"
        nid = outputs[0][1]
        where = graph.nodes[nid].name or f"node {nid} ({type(graph.nodes[nid].op).__name__})"
    frames = e.analysis.info(nid).frames
    return Static(frames[-1] if frames else None, where, graph.complete, reasons)


def _short(file: str) -> str:
    path = Path(file)
    return path.relative_to(TV).as_posix() if path.is_relative_to(TV) else str(path)


def _fmt(f: AxisFrame | Measured) -> str:
    alpha = ", ".join(str(a) for a in f.alpha)
    beta = ", ".join(str(b) for b in f.beta)
    return f"r={f.r} j={f.j} P={f.padding} alpha=({alpha}) beta=({beta})"


def _compare(case: Case) -> None:
    m = _measured(case.build, case.output)
    want = m.whole.frame
    got = _static(case)
    context = (
        f"{case.file}::{case.entry}: measured {_fmt(want)} on input {m.whole.shape} ({m.seconds:.1f}s); "
        f"static at {got.node}: {_fmt(got.frame) if got.frame is not None else 'no frame'}; "
        f"complete={got.complete}; unresolved: {'; '.join(got.unresolved) or 'none'}"
    )
    assert got.frame is not None, context
    assert (got.frame.j, tuple(got.frame.alpha), tuple(got.frame.beta)) == (want.j, want.alpha, want.beta), context
    assert (got.frame.r, got.frame.padding) == (want.r, want.padding), context
    assert got.complete, context


# ---------------------------------------------------------------------- tests


@pytest.mark.slow
@pytest.mark.parametrize("case", _params(CLASSIFIERS))
def test_last_spatial_map_matches_measurement(case: Case) -> None:
    _compare(case)


@pytest.mark.slow
@pytest.mark.parametrize("case", _params(BACKBONES))
def test_dilated_backbone_matches_measurement(case: Case) -> None:
    _compare(case)


@pytest.mark.slow
@pytest.mark.parametrize("case", _params(FACTORIES))
def test_segmentation_factory_backbone_matches_measurement(case: Case) -> None:
    _compare(case)


def test_the_table_has_the_issue_list() -> None:
    """The issue's list, no model dropped (an xfail is not a removal)."""
    issue = ("alexnet vgg11 vgg16 vgg19_bn resnet18 resnet34 resnet50 resnet101 resnet152 resnext50_32x4d "
             "wide_resnet50_2 densenet121 googlenet inception_v3 mobilenet_v2 mobilenet_v3_large mnasnet1_0 "
             "shufflenet_v2_x1_0 squeezenet1_0 efficientnet_b0 efficientnet_v2_s regnet_y_400mf convnext_tiny").split()
    assert [c.id for c in CLASSIFIERS] == issue
    assert {c.id for c in FACTORIES} == {"fcn_resnet50", "deeplabv3_resnet50"}
    assert set(XFAIL) <= {c.id for c in CLASSIFIERS + BACKBONES + FACTORIES}


# ---------------------------------------------------------------------- the harness itself (fast)


class _Tiny(torch.nn.Module):
    """conv3 (pad 1), BN, ReLU, MaxPool(2, 2), an SE gate, conv5 (pad 2), global mean.

    By DESIGN.md's index maps: conv3 gives [-1, 1] at j=1; the pool [-1, 2] at j=2;
    conv5 at j=2 adds 2*2 on each side: [-5, 6], so r=12, j=2, P=5.
    """

    def __init__(self) -> None:
        super().__init__()
        from torchvision.ops.misc import SqueezeExcitation

        self.c1 = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.pool = torch.nn.MaxPool2d(2, 2)
        self.se = SqueezeExcitation(4, 2)
        self.c2 = torch.nn.Conv2d(4, 4, 5, padding=2)

    def forward(self, x):
        x = self.pool(torch.nn.functional.relu(self.bn(self.c1(x))))
        return self.c2(self.se(x)).mean([2, 3])


def test_harness_measures_the_last_map_with_gates_neutral() -> None:
    """Without the gate neutralised, the SE's own global pool would be taken for the
    last spatial map (r=4); without the stop at ``mean``, nothing would be captured."""
    whole = measure_whole(_Tiny())
    f = whole.frame
    assert (f.j, f.alpha, f.beta, f.r, f.padding) == (2, (-5,), (6,), 12, 5)
    assert whole.shape[2] == 2  # the smallest height the pool accepts


def test_gates_become_identities() -> None:
    model = neutralise_gates(_Tiny())
    assert isinstance(model.se, torch.nn.Identity)
