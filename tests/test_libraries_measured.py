"""rflint's static read of the model libraries people use against measured ground truth.

``tests/data/libraries_measured.json`` holds one record per (model, output) of
segmentation-models-pytorch, MONAI, diffusers, efficientnet_pytorch and torchvision's
detection and segmentation models, measured on the instantiated models
(``tests/measure_libraries.py`` documents the method, how each model is built, which
file and entry rflint reads, how outputs are named, and regenerates the file): per
output, the frame along the width, ``j`` and per phase ``alpha``/``beta`` (output ``o``
reads input pixels ``[o*j + alpha[o mod q], o*j + beta[o mod q]]``), and whether a global
path (attention, a squeeze-and-excitation gate, image pooling) reaches it.

For every record, ``rflint.api.explain`` reads the installed library's file (never
importing it) at the recorded input size; the graph must be complete, the output must be
there under the recorded name, and its frame (or, for ``what: last_spatial_map``, the
frame of the last spatial map before it) must equal the measured one exactly, with the
same global flag. Records with ``periodic: false`` (smp's FPN and DeepLabV3+, whose
pyramid levels are upsampled with ``align_corners=True`` and merged: no periodic frame
exists at any size) expect the read to follow the whole model and the analysis to say
that the output's frame is unknown because merged branches have different jumps, and
nothing else. Records the reader cannot yet follow are listed in ``KNOWN_UNRESOLVED``:
for them the read must say that it is incomplete (no xfail, and never a number).

The slow test re-measures two cheap records with torch and checks that the data file
still says what the measurement says.
"""

from __future__ import annotations

import importlib.util
import json
from fractions import Fraction
from pathlib import Path

import pytest

from rflint.api import explain

DATA = Path(__file__).resolve().parent / "data" / "libraries_measured.json"
RECORDS: list[dict] = json.loads(DATA.read_text())["records"]

MISALIGNED = "merged branches have different jumps"

#: Records the reader does not yet follow to the end, with what it first says it could not
#: resolve. For these the test holds that the read says so (an incomplete graph, or a missing
#: output): never a number it does not have. A record that starts to resolve fails here until
#: it is taken off the list, and is then held to its measurement like every other.
KNOWN_UNRESOLVED: dict[str, str] = {
}


def _installed(file: str) -> Path | None:
    """The installed file ``file`` (relative to site-packages), found without importing its package."""
    spec = importlib.util.find_spec(file.split("/")[0])
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent.parent / file


def _measured(rec: dict) -> tuple:
    return (Fraction(rec["j"]), tuple(Fraction(a) for a in rec["alpha"]), tuple(Fraction(b) for b in rec["beta"]))


def _fmt(j: object, alpha: tuple, beta: tuple) -> str:
    return f"j={j} alpha=({', '.join(map(str, alpha))}) beta=({', '.join(map(str, beta))})"


@pytest.mark.parametrize("rec", RECORDS, ids=[r["name"] for r in RECORDS])
def test_static_frame_matches_measurement(rec: dict) -> None:
    path = _installed(rec["file"])
    if path is None:
        pytest.skip(f"{rec['library']} is not installed (its source is what is read)")
    exp = explain(f"{path}::{rec['entry']}", input_size=tuple(rec["input_size"]))
    graph = exp.model.graph
    analysis = exp.analysis
    reasons = list(dict.fromkeys(
        f"{Path(u.loc.file).name}:{u.loc.line}: {u.reason}" if u.loc is not None else u.reason for u in graph.unresolved
    ))
    names = [name for name, _ in graph.outputs]
    if rec["periodic"]:
        measured = f"r={rec['r']} P={rec['P']} {_fmt(*_measured(rec))}"
    else:
        measured = f"no periodic frame ({rec['why']})"
    context = (f"{rec['file']}::{rec['entry']} -> {rec['output']}{' (last spatial map)' if rec['what'] != 'output' else ''} "
               f"at {tuple(rec['input_size'])}: measured {measured}, global={rec['global']}; "
               f"outputs read: {names}; complete={graph.complete}; unresolved: {'; '.join(reasons) or 'none'}")
    if rec["name"] in KNOWN_UNRESOLVED:
        assert not graph.complete or rec["output"] not in dict(graph.outputs), (
            f"{rec['name']} now resolves: take it off KNOWN_UNRESOLVED; {context}")
        assert any(MISALIGNED not in r for r in reasons), context
        return
    outputs = dict(graph.outputs)
    assert rec["output"] in outputs, f"no output named {rec['output']}; {context}"
    nid = outputs[rec["output"]]

    if not rec["periodic"]:
        assert reasons, f"the read is complete, but the measured output has no periodic frame; {context}"
        assert all(MISALIGNED in r for r in reasons), f"unresolved for another reason than misalignment; {context}"
        info = analysis.info(nid)
        assert info.status == "unknown" and MISALIGNED in info.reason, f"{info.status} ({info.reason}); {context}"
        assert info.is_global == rec["global"], f"static global={info.is_global}; {context}"
        return

    assert graph.complete, context
    if rec["what"] == "last_spatial_map":
        spatial = dict(analysis.spatial_outputs())
        assert rec["output"] in spatial, f"no spatial map before {rec['output']} ({analysis.spatial_outputs()}); {context}"
        nid = spatial[rec["output"]]
    info = analysis.info(nid)
    where = graph.nodes[nid].name or f"node {nid}"
    assert info.status == "local" and info.frames, f"{where}: {info.status} ({info.reason}); {context}"
    f = info.frames[-1]
    got = (f.j, tuple(f.alpha), tuple(f.beta))
    assert got == _measured(rec), f"static at {where}: r={f.r} P={f.padding} {_fmt(*got)}; {context}"
    assert (f.r, f.padding) == (rec["r"], Fraction(rec["P"])), context
    assert info.is_global == rec["global"], f"static global={info.is_global} at {where}; {context}"


# ---------------------------------------------------------------------- the data file itself (fast)


#: What the data file must cover: per library, the models of the issue (record name prefixes).
COVERED = {
    "segmentation-models-pytorch": ["smp-unet-resnet34", "smp-fpn-resnet34", "smp-deeplabv3plus-resnet34",
                                    "smp-unet-efficientnet-b0", "smp-fpn-efficientnet-b0", "smp-deeplabv3plus-efficientnet-b0"],
    "monai": ["monai-unet", "monai-basicunet", "monai-segresnet", "monai-dynunet", "monai-attentionunet"],
    "diffusers": ["diffusers-unet2dmodel", "diffusers-autoencoderkl-encoder", "diffusers-autoencoderkl-decoder"],
    "efficientnet_pytorch": ["efficientnet_pytorch-efficientnet-b0"],
    "torchvision": [*(f"torchvision-fasterrcnn_resnet50_fpn-backbone-{k}" for k in ("0", "1", "2", "3", "pool")),
                    "torchvision-deeplabv3_resnet50"],
}


def test_records_are_consistent() -> None:
    """Unique names, every model of the list, r/P agreeing with alpha/beta, one period per
    record, and the fields the static test reads (the file is written by the script only)."""
    names = [r["name"] for r in RECORDS]
    assert len(set(names)) == len(names)
    for library, wanted in COVERED.items():
        assert [r["name"] for r in RECORDS if r["library"] == library] == wanted, library
    for rec in RECORDS:
        assert rec["what"] in ("output", "last_spatial_map"), rec["name"]
        assert rec["output"] == "output" or rec["output"].startswith("output["), rec["name"]
        assert "::" not in rec["file"] and not rec["file"].startswith("/"), rec["name"]
        assert len(rec["input_size"]) == 2 and rec["measured_on"][2:] == rec["input_size"], rec["name"]
        assert isinstance(rec["global"], bool), rec["name"]
        if not rec["periodic"]:
            assert rec["why"] and rec["spans"] and "alpha" not in rec, rec["name"]
            continue
        j, alpha, beta = _measured(rec)
        assert j > 0 and len(alpha) == len(beta) >= 1, rec["name"]
        assert rec["r"] == int(max(b - a for a, b in zip(alpha, beta))) + 1, rec["name"]
        assert Fraction(rec["P"]) == -min(alpha), rec["name"]


# ---------------------------------------------------------------------- the data against a new measurement


#: Cheap records: a periodic UNet output (q=8) and the VAE decoder (attention detached, global, j=1/2).
REMEASURED = ["monai-unet", "diffusers-autoencoderkl-decoder"]


@pytest.mark.slow
@pytest.mark.parametrize("name", REMEASURED)
def test_data_matches_a_new_measurement(name: str) -> None:
    torch = pytest.importorskip("torch")
    import measure_libraries

    spec = next(s for s in measure_libraries.SPECS if s.name == name)
    pytest.importorskip(spec.file.split("/")[0])
    threads = torch.get_num_threads()
    measure_libraries.setup()
    try:
        fresh = measure_libraries.measure_spec(spec)
    finally:
        torch.set_num_threads(threads)
    recorded = next(r for r in RECORDS if r["name"] == name)
    keys = ("file", "entry", "output", "what", "input_size", "measured_on", "periodic", "r", "j", "P", "alpha", "beta",
            "global", "global_checked_at", "local_context", "outputs_measured")
    assert {k: fresh.get(k) for k in keys} == {k: recorded.get(k) for k in keys}


# ---------------------------------------------------------------------- the harness itself (fast)


def _toy(kind: str):
    """Two toys with known answers.

    ``period``: a 2x2/2 average pool, a nearest upsampling x2, a 3x3 convolution (padding 1):
    outputs 2m read [2m-2, 2m+1], outputs 2m+1 read [2m, 2m+3]: j=1, alpha=(-2, -1), beta=(1, 2).
    ``gated``: a 3x3 convolution, then ``x * sigmoid(mean(x))`` (an SE-style gate), then a 5x5:
    the local frame is j=1, alpha=(-3,), beta=(3,), and the gate's mean reads everything."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    if kind == "period":
        return nn.Sequential(nn.AvgPool2d(2, 2), nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(3, 3, 3, padding=1))

    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(3, 4, 3, padding=1)
            self.c2 = nn.Conv2d(4, 4, 5, padding=2)

        def forward(self, x):
            x = self.c1(x)
            return self.c2(x * torch.sigmoid(x.mean((2, 3), keepdim=True)))

    return Gated()


@pytest.mark.parametrize("kind, want", [
    ("period", (1, (-2, -1), (1, 2), False)),
    ("gated", (1, (-3,), (3,), True)),
])
def test_the_harness_settles_periods_and_detects_global_paths(kind: str, want: tuple) -> None:
    pytest.importorskip("torch")
    import measure_libraries

    spec = measure_libraries.Spec(kind, "torch", lambda: _toy(kind), "a toy", "toy.py", "Toy()", height=2, qmax=4)
    rec = measure_libraries.measure_spec(spec)
    j, alpha, beta, is_global = want
    assert (rec["j"], rec["alpha"], rec["beta"], rec["global"]) == (str(j), [str(a) for a in alpha], [str(b) for b in beta],
                                                                    is_global)
