"""Issue 5's differential tests for the torch doors: torchvision models exported with
``torch.export`` (and saved with ``torch.export.save``) or traced with ``--trace``,
against the static read of their source and against measurement; and the bundled
examples' findings from source, from a trace and from a ``.pt2``.

Receptive fields: for each model, ``r``, ``j`` and the effective padding ``P``
(with ``alpha`` and ``beta``) of the last spatial map along the width must equal
those of the static read (``test_torchvision._static``) and, for the models that
are cheap to measure here, the measurement (``test_torchvision._measured``, the
gradient method of DESIGN.md, cached across both files in one run). The other
models' static reads are tied to measurement by ``tests/test_torchvision.py``;
measuring them again here would cost a minute and a half (ConvNeXt alone 70 s).

Findings: matched as multisets of ``(code, Diagnostic.layer)`` (``rflint/layer_key.py``),
which ignores node names. Where reads legitimately differ, the difference is
listed with its reason.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import warnings
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

import test_torchvision as tv  # noqa: E402  (its cases, static reads and measurement cache)
from test_torchvision import _two_threads  # noqa: E402, F401  (the same autouse fixture: two threads)

from rflint import api  # noqa: E402
from rflint.analysis import analyse  # noqa: E402
from rflint.readers.base import ReadModel, ReadResult  # noqa: E402
from rflint.readers.pragma import pragma_settings  # noqa: E402
from rflint.readers.torch import read_program, trace_target  # noqa: E402

CASES = {c.id: c for c in tv.CLASSIFIERS + tv.BACKBONES}
MODELS = ["resnet18", "vgg11", "mobilenet_v3_large", "densenet121", "efficientnet_b0", "convnext_tiny",
          "fcn_resnet50-backbone"]
MEASURED = {"resnet18", "vgg11", "mobilenet_v3_large", "fcn_resnet50-backbone"}  # a few seconds each
TRACED = {
    "resnet18": "torchvision.models.resnet18(weights=None)",
    "mobilenet_v3_large": "torchvision.models.mobilenet_v3_large(weights=None)",
    "fcn_resnet50-backbone": "torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None).backbone",
}
SIZE = 64  # small exports; the frame does not depend on the size for these models


def _module(case_id: str) -> torch.nn.Module:
    """The model on the meta device: the graph does not depend on the weights' values, and
    nothing is allocated (VGG's 500 MB of weights would dominate the test's time)."""
    case = CASES[case_id]
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = case.build()
    return (model.backbone if case.output is tv._backbone_out else model).eval()


def _frame_of(graph) -> tuple:
    a = analyse(graph, (SIZE, SIZE))
    outputs = a.spatial_outputs()
    assert len(outputs) == 1, outputs
    f = a.info(outputs[0][1]).frames[-1]
    return (f.j, tuple(f.alpha), tuple(f.beta), f.r, f.padding)


def _expected(case_id: str) -> tuple:
    static = tv._static(CASES[case_id])
    assert static.frame is not None
    f = static.frame
    want = (f.j, tuple(f.alpha), tuple(f.beta), f.r, f.padding)
    if case_id in MEASURED:
        m = tv._measured(CASES[case_id].build, CASES[case_id].output).whole.frame
        assert (m.j, m.alpha, m.beta, m.r, m.padding) == want, f"static read and measurement disagree: {tv._fmt(m)}"
    return want


@pytest.mark.slow
@pytest.mark.parametrize("case_id", MODELS)
def test_exported_program_matches_source_and_measurement(case_id: str) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(_module(case_id), (torch.zeros(1, 3, SIZE, SIZE, device="meta"),))
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    del ep
    result = read_program(f"{case_id}.pt2", buf.getvalue())
    assert result.diagnostics == ()
    (model,) = result.models
    assert model.graph.complete, model.graph.unresolved
    assert model.overrides == {"input_size": (SIZE, SIZE)}
    assert _frame_of(model.graph) == _expected(case_id)


@pytest.mark.slow
@pytest.mark.parametrize("case_id", sorted(TRACED))
def test_traced_factory_matches_source_and_measurement(case_id: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"factories_{case_id.replace('-', '_')}"  # a module of its own: imports are cached
    path = tmp_path / f"{module}.py"
    path.write_text(f"import torchvision\n\n\ndef build():\n    return {TRACED[case_id]}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = trace_target(f"{module}:build", (SIZE, SIZE))
    assert result.diagnostics == ()  # torch.export, no fallback
    (model,) = result.models
    assert model.graph.complete, model.graph.unresolved
    assert _frame_of(model.graph) == _expected(case_id)
    # Layers built inside torchvision are placed at the user's line that led there.
    found = api.check_result(str(path), result, path.read_text())
    assert found and {(Path(d.loc.file).name, d.loc.line) for d in found} == {(path.name, 5)}


# ----------------------------------------------------------------------------- the examples

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLASSES = {"classifier": "SmallNet", "autoencoder": "AutoEncoder", "clean": "CleanSegmenter", "unet": "UNet"}

SOURCE_LINE_ONCE = (
    "the source reports a line once however many layers it builds (DESIGN.md); BasicBlock's shortcut line "
    "builds layer2's and layer3's 1x1 stride-2 convs, and a .pt2 has a node for each, so each is reported"
)
PT2_ONLY = {"classifier": {("AA101", "conv k1x1 s2x2"): (1, SOURCE_LINE_ONCE),
                           ("ST101", "conv k1x1 s2x2"): (1, SOURCE_LINE_ONCE)}}
SOURCE_NOT_PT2: dict[str, dict[tuple[str, str], tuple[int, str]]] = {}


def _example(name: str):
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_rflint_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path


def _pragma(path: Path, cls: str) -> dict:
    text = path.read_text()
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.ClassDef) and n.name == cls)
    settings, errors = pragma_settings(str(path), text.splitlines(), node)
    assert errors == []
    return settings


def _keys(found) -> Counter:
    return Counter((d.code, d.layer) for d in found)


def _by_prefix(diff: Counter, expected: dict) -> dict:
    got: dict = {}
    for (code, key), count in diff.items():
        match = [p for p in expected if p[0] == code and key.startswith(p[1])]
        k = match[0] if match else (code, key)
        got[k] = got.get(k, 0) + count
    return got


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_example_findings_from_source_and_trace_agree_to_the_line(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trace runs the factory the static reader reads: the same findings, at the same
    lines and columns (layers at the line that constructed them, functional calls at
    the line of the call)."""
    monkeypatch.chdir(EXAMPLES.parent)
    path = EXAMPLES / f"{name}.py"
    source = api.check_text(str(path), path.read_text())
    traced = trace_target(f"examples/{name}.py:{CLASSES[name]}", None)
    (model,) = traced.models
    assert (model.graph.loc.file, model.graph.loc.line) == (str(path), _class_line(path, CLASSES[name]))
    found = api.check_result(str(path), traced, path.read_text())
    assert _keys(found) == _keys(source)
    assert sum(_keys(source).values()) > 0 or name == "clean"
    place = lambda ds: sorted((d.code, d.layer, d.loc.file, d.loc.line, d.loc.col) for d in ds)  # noqa: E731
    assert place(found) == place(source)


def _class_line(path: Path, cls: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(f"class {cls}("))


def _pt2_findings(name: str) -> tuple[Counter, Counter]:
    module, path = _example(name)
    settings = _pragma(path, CLASSES[name])
    model = getattr(module, CLASSES[name])().eval()
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    size = settings["input_size"][0]
    with torch.no_grad():
        ep = torch.export.export(model, (torch.zeros(1, first.in_channels, size, size),))
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    read = read_program(f"{name}.pt2", buf.getvalue())
    # A .pt2 has no pragma: the source's settings come as configuration would (its size is the file's own).
    other = {k: v for k, v in settings.items() if k != "input_size"}
    read = ReadResult(tuple(ReadModel(m.graph, {**m.overrides, **other}) for m in read.models), read.diagnostics)
    assert read.models[0].overrides["input_size"] == (size, size)
    exported = api.check_result(f"{name}.pt2", read, None)
    assert not [d for d in exported if d.code in ("RL000", "RL001")]
    assert all(d.loc.node is not None for d in exported if d.layer)  # findings on layers name the node
    return _keys(api.check_text(str(path), path.read_text())), _keys(exported)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_example_findings_from_source_and_pt2_agree(name: str) -> None:
    """Differences are listed above, each with its reason."""
    source, exported = _pt2_findings(name)
    assert _by_prefix(exported - source, PT2_ONLY.get(name, {})) == {k: v[0] for k, v in PT2_ONLY.get(name, {}).items()}
    assert _by_prefix(source - exported, SOURCE_NOT_PT2.get(name, {})) == {
        k: v[0] for k, v in SOURCE_NOT_PT2.get(name, {}).items()}


@pytest.mark.slow
def test_pd101_reports_every_pt2_node() -> None:
    """Every node of a .pt2 sits on line 1: the checks tell places apart by node too."""
    source, exported = _pt2_findings("classifier")
    assert sorted(k for c, k in exported if c == "PD101") == sorted(k for c, k in source if c == "PD101")
