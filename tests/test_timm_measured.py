"""rflint's static read of timm's installed source against the measured ground truth.

``tests/data/timm_measured.json`` holds, per timm model, the receptive field
measured on the instantiated model (``tests/measure_timm.py``, which documents the
method and regenerates the file): ``r``, ``j``, ``P`` and per-phase ``alpha``/``beta``
along the width, of the last spatial feature map (``what: last_spatial_map``), or,
for a model whose final features are global (attention over all tokens), of its
patch embedding (``what: patch_embed``, at the module ``module``).

For every record, ``rflint.api.explain`` reads the model's file (never importing
it) at the recorded input size; the graph must be complete and the static frame
of the same tensor must equal the measured one exactly. Many of these fail while
rflint's reader cannot yet follow timm's code: that is what they are for (no xfail).

The slow test re-measures a few cheap models with torch and checks that the data
file still says what the measurement says.
"""

from __future__ import annotations

import importlib.util
import json
from fractions import Fraction
from pathlib import Path

import pytest

from rflint.api import explain

DATA = Path(__file__).resolve().parent / "data" / "timm_measured.json"
RECORDS: list[dict] = json.loads(DATA.read_text())["models"]

_SPEC = importlib.util.find_spec("timm")
#: The installed timm's ``models/`` directory, read statically (timm is not imported here).
TIMM = Path(_SPEC.origin).parent / "models" if _SPEC is not None and _SPEC.origin else None

#: timm model files whose models hold no convolution, hence no record.
NO_CONVOLUTION = {
    "gemma4_vit.py": "patches are cut by reshaping and embedded by a Linear layer",
    "naflexvit.py": "NaFlex embeds pre-cut patches with a Linear layer (the image path patchifies by reshaping)",
}


#: Models the reader does not yet follow to the end, with the first thing it says it could
#: not resolve. For these the test holds that the graph says so (complete=False): never a
#: number it does not have. A model that starts to resolve fails here until it is taken off
#: the list, and is then held to its measurement like every other.
KNOWN_UNRESOLVED: dict[str, str] = {
    "botnet26t_256": "bottleneck_attn.py:88: reshape to a shape rflint cannot relate to the input's positions",
    "csatv2": "csatv2.py:287: reshape to a shape rflint cannot relate to the input's positions",
    "efficientvit_m0": "efficientvit_msra.py:294: Conv2d of a tensor that is not arranged as a map (N, C, spatial...)",
    "ghostnetv2_100": "ghostnet.py:121: merged branches have different jumps (32, 192/7)",
    "ghostnetv3_050": "ghostnet.py:217: merged branches have different jumps (32, 192/7)",
    "halonet26t": "halo_attn.py:228: tensor method 'unfold' is not modelled",
    "lambda_resnet26t": "lambda_layer.py:153: reshape to a shape that is not known (cannot unpack 5 values into 4)",
    "nextvit_small": "nextvit.py:297: AvgPool1d of a tensor that is not arranged as a map (N, C, spatial...)",
    "samvit_base_patch16_224": "vision_transformer_sam.py:118: an index with more entries than the tensor has dimensions",
    "sequencer2d_s": "sequencer.py:183: call to torch.nn.LSTM is not modelled",
    "tnt_s_patch16_224": "tnt.py:206: call to torch.nn.Unfold is not modelled",
}


def _measured(rec: dict) -> tuple:
    return (Fraction(rec["j"]), tuple(Fraction(a) for a in rec["alpha"]), tuple(Fraction(b) for b in rec["beta"]))


def _fmt(j: object, alpha: tuple, beta: tuple) -> str:
    return f"j={j} alpha=({', '.join(map(str, alpha))}) beta=({', '.join(map(str, beta))})"


@pytest.mark.skipif(TIMM is None, reason="timm is not installed (its source is what is read)")
@pytest.mark.parametrize("rec", RECORDS, ids=[r["name"] for r in RECORDS])
def test_static_frame_matches_measurement(rec: dict) -> None:
    target = f"{TIMM / rec['file']}::{rec['name']}"
    exp = explain(target, input_size=tuple(rec["input_size"]))
    graph = exp.model.graph
    reasons = "; ".join(dict.fromkeys(
        f"{Path(u.loc.file).name}:{u.loc.line}: {u.reason}" if u.loc is not None else u.reason for u in graph.unresolved
    ))
    want = _measured(rec)
    context = (f"{rec['file']}::{rec['name']} at {tuple(rec['input_size'])}: measured {rec['what']}"
               f"{' at ' + rec['module'] if rec['what'] == 'patch_embed' else ''}: r={rec['r']} P={rec['P']} "
               f"{_fmt(*want)}; complete={graph.complete}; unresolved: {reasons or 'none'}")
    if rec["name"] in KNOWN_UNRESOLVED:
        assert not graph.complete, f"{rec['name']} now resolves: take it off KNOWN_UNRESOLVED; {context}"
        assert reasons, context
        return
    assert graph.complete, context
    analysis = exp.analysis
    # "complete" is a promise: every node of the forward pass has a frame (local or ended).
    unknown = [n.name or n.type_name for n in graph.nodes if analysis.info(n.id).status == "unknown"]
    assert not unknown, f"complete, yet without a frame: {unknown[:5]}; {context}"
    if rec["what"] == "last_spatial_map":
        outputs = analysis.spatial_outputs()
        assert outputs, f"no spatial output; {context}"
        if len(outputs) > 1:
            outputs = [o for o in outputs if o[0] == "output"] or outputs
        assert len(outputs) == 1, f"several spatial outputs {analysis.spatial_outputs()}; {context}"
        nid = outputs[0][1]
    else:
        named = [n for n in graph.nodes if n.name == rec["module"]]
        assert named, f"no node named {rec['module']}; {context}"
        nid = named[-1].id
        finals = [i for _, i in analysis.spatial_outputs()] or [i for _, i in graph.outputs]
        assert any(analysis.info(i).is_global for i in finals), f"the final output is not global; {context}"
    info = analysis.info(nid)
    where = graph.nodes[nid].name or f"node {nid}"
    assert info.status == "local" and info.frames, f"{where}: {info.status} ({info.reason}); {context}"
    f = info.frames[-1]
    got = (f.j, tuple(f.alpha), tuple(f.beta))
    assert got == want, f"static at {where}: r={f.r} P={f.padding} {_fmt(*got)}; {context}"
    assert (f.r, f.padding) == (rec["r"], Fraction(rec["P"])), context


# ---------------------------------------------------------------------- the data file itself (fast)


def test_records_are_consistent() -> None:
    """Sorted, unique, and r/P agree with alpha/beta (the file is edited by the script only)."""
    names = [r["name"] for r in RECORDS]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert len(RECORDS) >= 150
    for rec in RECORDS:
        _, alpha, beta = _measured(rec)
        assert rec["r"] == int(max(b - a for a, b in zip(alpha, beta))) + 1, rec["name"]
        assert Fraction(rec["P"]) == -min(alpha), rec["name"]
        assert rec["what"] in ("last_spatial_map", "patch_embed"), rec["name"]
        assert rec["global"] == (rec["what"] == "patch_embed"), rec["name"]


def test_every_convolutional_model_file_is_covered() -> None:
    """One record at least per timm model file whose models hold a convolution."""
    timm = pytest.importorskip("timm")
    from timm.models import _registry

    files = {_registry._model_to_module[n].rsplit(".", 1)[-1] + ".py" for n in timm.list_models()}
    covered = {r["file"] for r in RECORDS}
    assert not covered & set(NO_CONVOLUTION)
    assert files - set(NO_CONVOLUTION) <= covered, sorted(files - set(NO_CONVOLUTION) - covered)


# ---------------------------------------------------------------------- the data against a new measurement


#: Cheap models, one per kind of handling: plain, gates detached (SE), 'same' padding, an embedding.
REMEASURED = ["resnet18", "mobilenetv3_small_050", "tf_mobilenetv3_small_minimal_100", "vit_tiny_patch16_224"]


@pytest.mark.slow
@pytest.mark.parametrize("name", REMEASURED)
def test_data_matches_a_new_measurement(name: str) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("timm")
    import measure_timm

    spec = next(s for s in measure_timm.MODELS if s.key == name)
    threads, dtype = torch.get_num_threads(), torch.get_default_dtype()
    torch.set_num_threads(2)
    torch.set_default_dtype(torch.float64)
    try:
        fresh = measure_timm.measure_spec(spec)
    finally:
        torch.set_num_threads(threads)
        torch.set_default_dtype(dtype)
    recorded = next(r for r in RECORDS if r["name"] == name)
    keys = ("file", "input_size", "what", "global", "module", "where", "r", "j", "P", "alpha", "beta", "same_padding")
    assert {k: fresh.get(k) for k in keys} == {k: recorded.get(k) for k in keys}


# ---------------------------------------------------------------------- the harness itself (fast)


def _gated():
    """conv3 (pad 1), an SE-style gate ``x * sigmoid(conv1(mean(x)))``, conv5 (pad 2):
    the local frame is r=7, j=1, alpha=-3, beta=3; the gate's global path reads everything."""
    torch = pytest.importorskip("torch")

    class Gated(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.fc = torch.nn.Conv2d(4, 4, 1)
            self.c2 = torch.nn.Conv2d(4, 4, 5, padding=2)

        def forward(self, x):
            x = self.c1(x)
            x = x * torch.sigmoid(self.fc(x.mean((2, 3), keepdim=True)))
            return self.c2(x)

    return Gated()


def test_detached_statistics_leave_the_local_frame() -> None:
    from measure import detach_global_statistics, measure_whole

    def out(m, x):
        with detach_global_statistics():
            return m(x)

    f = measure_whole(_gated(), out, gates=False).frame
    assert (f.j, f.alpha, f.beta, f.r, f.padding) == (1, (-3,), (3,), 7, 3)


def test_a_live_gate_has_no_finite_field() -> None:
    """Without the detach, the gate's mean makes every output read the whole input."""
    from measure import measure_whole

    with pytest.raises(AssertionError, match="borders"):
        measure_whole(_gated(), lambda m, x: m(x), gates=False, limit=2048)


def test_a_period_two_frame_is_settled() -> None:
    """A 2x2/2 average pool, a nearest upsampling x2 and a 3x3 convolution: even outputs
    2m read [2m-2, 2m+1], odd ones 2m+1 read [2m, 2m+3]: j=1, alpha=(-2, -1), beta=(1, 2).
    Two neighbouring outputs alone read j=2 or j=0."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("timm")
    import measure_timm
    from measure import measure_whole

    model = torch.nn.Sequential(torch.nn.AvgPool2d(2, 2), torch.nn.Upsample(scale_factor=2, mode="nearest"),
                                torch.nn.Conv2d(3, 3, 3, padding=1))
    whole = measure_whole(model, lambda m, x: m(x), gates=False, height=2)
    f, _ = measure_timm.settle_period(model, lambda m, x: m(x), whole)
    assert (f.j, f.alpha, f.beta, f.r, f.padding) == (1, (-2, -1), (1, 2), 4, 2)
