"""The torch reader: ``.pt2`` programs (``read_program``) and ``--trace`` (``trace_target``).

Small models are exported with ``torch.export`` inside the tests and read back;
expected geometry comes from the layers' own arguments (DESIGN.md's index maps,
derived in each test's docstring), never from rflint's output. The bad-file
tests build each broken archive by hand, and the hostile one carries pickles
and a size expression that would create a file if anything ran them.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import time
import zipfile
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from rflint import api  # noqa: E402
from rflint.analysis import analyse  # noqa: E402
from rflint.ir import (  # noqa: E402
    EndSpatial,
    Global,
    Merge,
    Opaque,
    Pointwise,
    Resample,
    TransposedConv,
    Window,
)
from rflint.readers.base import ReaderError  # noqa: E402
from rflint.readers.torch import read_program, trace_target  # noqa: E402


def _pt2(model: nn.Module, shape: tuple[int, ...], **export: object) -> bytes:
    with torch.no_grad():
        ep = torch.export.export(model.eval(), (torch.zeros(shape),), **export)
    buf = io.BytesIO()
    torch.export.save(ep, buf)
    return buf.getvalue()


def _graph(model: nn.Module, shape: tuple[int, ...] = (1, 3, 32, 32), **export: object):
    result = read_program("model.pt2", _pt2(model, shape, **export))
    assert [d for d in result.diagnostics if d.code == "RL001"] == [], result.diagnostics
    (m,) = result.models
    return m.graph


def _ops(graph, kind: type) -> list:
    return [n for n in graph.nodes if isinstance(n.op, kind)]


def _frame(graph, size: tuple[int, ...] | None = None):
    a = analyse(graph, size)
    (out,) = a.spatial_outputs()
    return a.info(out[1]).frames[-1]


# ----------------------------------------------------------------------------- geometry


class _Stem(nn.Module):
    """conv 7/2 pad 3, BN, ReLU, max pool 3/2 pad 1, global average, linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def test_a_resnet_stem_reads_with_the_layers_attributes() -> None:
    """conv: r = 7, j = 2, u = -3; pool at j = 2: r = 7 + 2*2 = 11, j = 4, u = -3 - 1*2 = -5."""
    g = _graph(_Stem())
    conv, pool = _ops(g, Window)
    assert (conv.op.kind, conv.op.kernel, conv.op.stride, conv.op.padding) == ("conv", (7, 7), (2, 2), ((3, 3),) * 2)
    assert (conv.type_name, conv.name) == ("Conv2d", "conv")
    assert {k: conv.attrs[k] for k in ("in_channels", "out_channels", "groups", "bias", "padding_mode")} == {
        "in_channels": 3, "out_channels": 8, "groups": 1, "bias": False, "padding_mode": "zeros"}
    assert (pool.op.kind, pool.op.kernel, pool.op.stride, pool.op.padding) == ("max_pool", (3, 3), (2, 2), ((1, 1),) * 2)
    (bn,) = [n for n in g.nodes if n.type_name == "BatchNorm2d"]
    assert isinstance(bn.op, Pointwise) and bn.attrs["num_features"] == 8  # what the NM rules read
    assert len(_ops(g, Global)) == 1 and [n.type_name for n in _ops(g, EndSpatial)] == ["flatten", "Linear"]
    f = _frame(g)
    assert (f.r, f.j, f.padding) == (11, 4, 5)
    assert g.complete and g.unresolved == ()
    # The program was traced at 32x32: that is its input size. The file itself is the model's place.
    assert read_program("m.pt2", _pt2(_Stem(), (1, 3, 32, 48))).models[0].overrides == {"input_size": (32, 48)}
    assert (g.loc.file, g.loc.line, g.loc.node) == ("model.pt2", 1, None)
    # A .pt2 has no lines: findings point at the node (module path, operator, index).
    assert conv.loc.node.name == "conv" and conv.loc.node.op_type == "aten.conv2d.default"


class _Reflect(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")

    def forward(self, x):
        return self.conv(x)


def test_a_padding_mode_conv_is_one_layer_again() -> None:
    """torch.export writes pad(reflect) + conv(padding=0); the source has one Conv2d with
    padding=1, padding_mode='reflect', and so must the graph (else layer keys drift)."""
    g = _graph(_Reflect())
    (conv,) = _ops(g, Window)
    assert conv.op.padding == ((1, 1), (1, 1)) and conv.attrs["padding_mode"] == "reflect"


class _Shuffle(nn.Module):
    """ShuffleNet's channel shuffle (view to 5-D, transpose channels, view back), a
    strided subsampling by slicing, and a spatial crop."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        b, c, h, w = x.shape
        x = self.conv(x).view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
        return x[:, :, 1:, ::2]


def test_reshapes_that_keep_h_and_w_keep_the_frame_and_slices_subsample() -> None:
    """conv 3 pad 1: [-1, 1]. The shuffle keeps it. ``::2`` on W: output o reads 2o, so
    [2o-1, 2o+1]: j = 2, r = 3, P = 1. ``1:`` on H crops one row: o reads o+1, [o, o+2]."""
    g = _graph(_Shuffle(), (1, 4, 16, 16))
    assert _ops(g, Opaque) == []
    a = analyse(g, (16, 16))
    (out,) = a.spatial_outputs()
    h, w = a.info(out[1]).frames
    assert (w.j, w.alpha, w.beta) == (2, (-1,), (1,))
    assert (h.j, h.alpha, h.beta) == (1, (0,), (2,))


class _Position(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.pos = nn.Parameter(torch.zeros(1, 4, 8, 8))
        self.scale = nn.Parameter(torch.ones(1, 4, 1, 1))

    def forward(self, x):
        y = self.conv(x) * self.scale
        return y + self.pos


def test_a_constant_that_varies_over_space_is_positional_and_a_per_channel_one_is_not() -> None:
    g = _graph(_Position(), (1, 3, 8, 8))
    marked = [n for n in g.nodes if n.attrs.get("positional")]
    assert len(marked) == 1 and marked[0].type_name == "add"
    assert _ops(g, Merge) == []  # neither constant is a second feature map


class _Roll(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.roll(self.conv(x), 1, dims=3)


def test_an_unknown_operator_is_named_and_opaque_never_identity() -> None:
    g = _graph(_Roll())
    (opaque,) = _ops(g, Opaque)
    assert "aten.roll" in opaque.op.reason
    assert any("aten.roll" in u.reason for u in g.unresolved)
    assert not g.complete
    assert analyse(g, (32, 32)).info(opaque.id).status == "unknown"


class _Decoder(nn.Module):
    """Transposed conv (k4 s2 p1, groups 2), bilinear upsampling with align_corners,
    pixel shuffle, concat with a skip, and a cat along W that no frame survives."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1, groups=2)
        self.conv = nn.Conv2d(4, 16, 1)

    def forward(self, x):
        y = self.up(x)
        z = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        s = F.pixel_shuffle(self.conv(x), 2)
        return torch.cat([y, z, s], 1), torch.cat([y, z], 3)


def test_decoder_operators() -> None:
    g = _graph(_Decoder(), (1, 4, 8, 8))
    (tconv,) = _ops(g, TransposedConv)
    assert (tconv.op.kernel, tconv.op.stride, tconv.op.padding, tconv.op.output_padding) == ((4, 4), (2, 2), (1, 1), (0, 0))
    assert (tconv.attrs["groups"], tconv.attrs["out_channels"]) == (2, 4)
    (resample,) = _ops(g, Resample)
    assert resample.op.mode == "linear" and resample.op.scale == (Fraction(2),) * 2 and resample.op.align_corners
    assert [n.op.kind for n in _ops(g, Merge)] == ["concat"]
    (opaque,) = _ops(g, Opaque)
    assert "spatial axis" in opaque.op.reason


class _OneD(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv1d(2, 4, 5, stride=2, dilation=2, padding=4)
        self.b = nn.AvgPool1d(2)

    def forward(self, x):
        return self.b(self.a(x))


class _ThreeD(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv3d(1, 2, 3, stride=(1, 2, 2), padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        return self.up(self.a(x))


def test_one_and_three_spatial_axes() -> None:
    """1-D: K = 2*(5-1)+1 = 9, j = 2, u = -4; then avg 2/2: r = 9 + 1*2 = 11, j = 4."""
    g = _graph(_OneD(), (1, 2, 64))
    assert g.ndim == 1
    f = _frame(g)
    assert (f.r, f.j, f.padding) == (11, 4, 4)
    g3 = _graph(_ThreeD(), (1, 1, 8, 16, 16))
    assert g3.ndim == 3
    (conv,) = _ops(g3, Window)
    assert conv.op.stride == (1, 2, 2)
    (up,) = _ops(g3, Resample)
    assert up.op.mode == "nearest" and up.op.scale == (Fraction(2),) * 3


def test_symbolic_sizes_stay_text() -> None:
    """A program exported with a dynamic width: its sizes are expressions, read as text."""
    dim = torch.export.Dim("w", min=8, max=512)
    g = _graph(_Stem(), (1, 3, 32, 64), dynamic_shapes={"x": {3: dim}})
    f = _frame(g)
    assert (f.r, f.j, f.padding) == (11, 4, 5)


def test_the_argument_positions_the_handlers_read_are_the_schemas() -> None:
    """Handlers read arguments by schema position (both graph forms omit trailing
    defaults); a torch that reorders a schema must fail here, not misread layers."""
    positions = {
        "conv2d.default": {3: "stride", 4: "padding", 5: "dilation", 6: "groups"},
        "convolution.default": {3: "stride", 4: "padding", 5: "dilation", 6: "transposed", 7: "output_padding", 8: "groups"},
        "conv_transpose2d.input": {3: "stride", 4: "padding", 5: "output_padding", 6: "groups", 7: "dilation"},
        "max_pool2d.default": {1: "kernel_size", 2: "stride", 3: "padding", 4: "dilation", 5: "ceil_mode"},
        "avg_pool2d.default": {1: "kernel_size", 2: "stride", 3: "padding", 4: "ceil_mode", 5: "count_include_pad"},
        "upsample_bilinear2d.vec": {1: "output_size", 2: "align_corners", 3: "scale_factors"},
        "upsample_nearest2d.vec": {1: "output_size", 2: "scale_factors"},
        "upsample_bilinear2d.default": {1: "output_size", 2: "align_corners", 3: "scales_h", 4: "scales_w"},
        "pad.default": {1: "pad", 2: "mode", 3: "value"},
        "constant_pad_nd.default": {1: "pad", 2: "value"},
        "slice.Tensor": {1: "dim", 2: "start", 3: "end", 4: "step"},
        "mean.dim": {1: "dim", 2: "keepdim"},
        "cat.default": {0: "tensors", 1: "dim"},
        "addmm.default": {1: "mat1"},
    }
    for op, args in positions.items():
        name, overload = op.split(".")
        schema = getattr(getattr(torch.ops.aten, name), overload)._schema
        for i, arg in args.items():
            assert schema.arguments[i].name == arg, (op, i, str(schema))


# ----------------------------------------------------------------------------- bad files


def _good_archive() -> bytes:
    return _pt2(_Stem(), (1, 3, 32, 32))


def _rewrite(data: bytes, change) -> bytes:
    """A copy of the archive with ``change(name, bytes) -> bytes | None`` applied (None drops)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            new = change(info.filename, src.read(info))
            if new is not None:
                dst.writestr(info.filename, new)
    return out.getvalue()


def _bad_cases() -> dict[str, tuple[bytes, str]]:
    good = _good_archive()
    no_program = _rewrite(good, lambda n, b: None if n.endswith("models/model.json") else b)
    corrupt = _rewrite(good, lambda n, b: b[: len(b) // 2] if n.endswith("models/model.json") else b)
    not_program = _rewrite(good, lambda n, b: b'{"hello": 1}' if n.endswith("models/model.json") else b)
    return {
        "empty": (b"", "empty file"),
        "truncated": (good[: len(good) // 3], "truncated or corrupt zip"),
        "not a zip": (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a zip archive"),
        "no program": (no_program, "without a torch.export program"),
        "corrupt JSON": (corrupt, "invalid JSON at line"),
        "not a program": (not_program, "not a serialised ExportedProgram"),
    }


def test_bad_archives_are_one_clear_error_each_quickly() -> None:
    for label, (data, expected) in _bad_cases().items():
        start = time.perf_counter()
        result = read_program("bad.pt2", data)
        assert time.perf_counter() - start < 1.0, label
        assert result.models == (), label
        (d,) = result.diagnostics
        assert d.code == "RL001" and d.loc.file == "bad.pt2" and d.severity.name == "ERROR", label
        assert expected in d.message, (label, d.message)


class _Touch:
    """Unpickling this creates ``path``: the stand-in for any code a pickle can run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _hostile(data: bytes, marker: Path) -> bytes:
    """The archive with every place torch.export.load runs file content poisoned: a weight
    marked as a pickle, the example inputs, and a symbolic size expression."""
    payload = pickle.dumps(_Touch(str(marker)), protocol=2)
    expr = f"__import__('pathlib').Path({str(marker)!r}).touch()"

    def change(name: str, body: bytes) -> bytes:
        if name.endswith("model_weights_config.json"):
            config = json.loads(body)
            for entry in config["config"].values():
                entry["use_pickle"] = True
            return json.dumps(config).encode()
        if "/data/weights/weight_" in name or name.endswith("sample_inputs/model.pt"):
            return payload
        if name.endswith("models/model.json"):
            doc = json.loads(body)
            values = doc["graph_module"]["graph"]["tensor_values"]
            values["x"]["sizes"][3] = {"as_expr": {"expr_str": expr, "hint": {"as_int": 32}}}
            return json.dumps(doc).encode()
        return body

    return _rewrite(data, change)


@pytest.mark.slow
def test_a_hostile_archive_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hostile = _hostile(_good_archive(), marker)
    result = read_program("hostile.pt2", hostile)
    assert not marker.exists()
    assert [d for d in result.diagnostics if d.code == "RL001"] == []  # the graph itself is still read
    # The file is really hostile: torch's own loader runs it (in a subprocess, to keep this one clean).
    (tmp_path / "hostile.pt2").write_bytes(hostile)
    code = "import torch, sys\ntry:\n    torch.export.load(sys.argv[1])\nexcept Exception:\n    pass\n"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "hostile.pt2")], capture_output=True, timeout=120)
    assert marker.exists(), "torch.export.load did not run the payload: the test no longer proves anything"


def test_bad_archives_through_the_cli_leave_other_files_checked(tmp_path: Path) -> None:
    for label, (data, _) in _bad_cases().items():
        (tmp_path / f"{label.replace(' ', '_')}.pt2").write_bytes(data)
    (tmp_path / "stem.pt2").write_bytes(_good_archive())
    result = _rflint("check", *sorted(p.name for p in tmp_path.glob("*.pt2")), "--output-format", "json", cwd=tmp_path)
    found = json.loads(result.stdout)
    errors = {Path(d["filename"]).name for d in found if d["code"] == "RL001"}
    assert errors == {f"{label.replace(' ', '_')}.pt2" for label in _bad_cases()}, result.stdout
    assert any(Path(d["filename"]).name == "stem.pt2" and d["code"] == "AA101" for d in found), result.stdout


# ----------------------------------------------------------------------------- --trace


def _module(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


TRACED = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = conv3x3(3, 8, stride=2)
        self.b = conv3x3(8, 8)

    def forward(self, x):
        x = F.max_pool2d(self.a(x), 2)
        return self.b(x) + x


# rflint: input-size=64 object-size=4..8
def build():
    return Net()
"""


def test_trace_points_at_construction_lines_and_forward_calls(in_tmp: Path) -> None:
    path = _module(in_tmp, "traced_net", TRACED)
    lines = path.read_text().splitlines()
    result = trace_target("traced_net:build", None)
    (model,) = result.models
    g = model.graph
    assert model.overrides == {"input_size": (64,), "object_size": (4, 8)}
    assert (g.loc.file, g.loc.line) == (str(path), lines.index("def build():") + 1)
    a, _ = [n for n in g.nodes if isinstance(n.op, Window) and n.op.kind == "conv"]
    helper = lines.index("    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)") + 1
    assert (a.loc.file, a.loc.line, a.loc.col, a.name) == (str(path), helper, 12, "a")
    # The helper's line, with the call that reached it from the factory, as the static reader says.
    assert a.loc.chain[-1].startswith(f"{path}:{lines.index('        self.a = conv3x3(3, 8, stride=2)') + 1}:18 ")
    (pool,) = [n for n in g.nodes if isinstance(n.op, Window) and n.op.kind == "max_pool"]
    assert (pool.loc.line, pool.loc.col) == (lines.index("        x = F.max_pool2d(self.a(x), 2)") + 1, 13)
    (add,) = _ops(g, Merge)
    assert (add.loc.line, add.loc.col) == (lines.index("        return self.b(x) + x") + 1, 16)


def test_trace_input_size_from_the_argument_and_the_first_conv(in_tmp: Path) -> None:
    _module(in_tmp, "traced_net", TRACED)
    g = trace_target("traced_net:build", (40, 48)).models[0].graph
    assert g.nodes[0].attrs["out_channels"] == 3
    a = analyse(g, (40, 48))
    (out,) = a.spatial_outputs()
    assert a.info(out[1]).sizes == (10, 12)  # conv /2, pool /2


def test_trace_a_file_path_and_a_class(in_tmp: Path) -> None:
    _module(in_tmp, "traced_net", TRACED)
    (in_tmp / "sub").mkdir()
    (in_tmp / "sub" / "net.py").write_text(TRACED)
    for target in ("sub/net.py:Net", "traced_net:Net"):
        (model,) = trace_target(target, (32, 32)).models
        assert model.graph.name == "Net" and len(_ops(model.graph, Window)) == 3


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        ("import nosuchpackage\n", "m:f", "importing m failed: ModuleNotFoundError"),
        ("def f():\n    raise RuntimeError('boom')\n", "m:f", "calling f() failed: RuntimeError: boom"),
        ("def f():\n    return 3\n", "m:f", "returned int, not a torch.nn.Module"),
        ("import torch.nn as nn\ndef f():\n    return nn.Linear(3, 4)\n", "m:f", "no convolution"),
        ("x = 1\n", "m:g", "has no attribute 'g'"),
        ("x = 1\n", "m", "expected module.path:factory"),
    ],
)
def test_trace_failures_name_the_target(in_tmp: Path, text: str, target: str, expected: str) -> None:
    (in_tmp / "m.py").write_text(text)
    sys.modules.pop("m", None)
    with pytest.raises(ReaderError) as info:
        trace_target(target, None)
    assert target in str(info.value) and expected in str(info.value)


def test_trace_falls_back_to_torch_fx_and_says_so(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same model through the fallback: the same layers and the same frame."""
    _module(in_tmp, "traced_net", TRACED)
    direct = trace_target("traced_net:build", None).models[0].graph

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("export refuses this model")

    monkeypatch.setattr(torch.export, "export", refuse)
    result = trace_target("traced_net:build", None)
    (note,) = result.diagnostics
    assert note.code == "RL002" and note.severity.name == "INFO"
    assert "torch.export failed (RuntimeError: export refuses this model)" in note.message
    assert "torch.fx.symbolic_trace" in note.message
    fallback = result.models[0].graph
    windows = lambda g: [(n.op, n.name, n.loc.line) for n in _ops(g, Window)]  # noqa: E731
    assert windows(fallback) == windows(direct)
    assert _frame(fallback, (64, 64)) == _frame(direct, (64, 64))


# ----------------------------------------------------------------------------- the CLI


def _rflint(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    import shutil

    exe = shutil.which("rflint")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "rflint", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_cli_check_and_explain_trace(tmp_path: Path) -> None:
    path = _module(tmp_path, "traced_net", TRACED)
    lines = path.read_text().splitlines()
    check = _rflint("check", "--trace", "traced_net:build", "--output-format", "concise", cwd=tmp_path)
    assert check.returncode == 1, check.stderr + check.stdout
    helper = lines.index("    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)") + 1
    pool = lines.index("        x = F.max_pool2d(self.a(x), 2)") + 1
    out = check.stdout.splitlines()
    assert any(line.startswith(f"traced_net.py:{helper}:12: AA101 ") for line in out), check.stdout
    assert any(line.startswith(f"traced_net.py:{pool}:13: AA102 ") for line in out), check.stdout
    explain = _rflint("explain", "--trace", "traced_net:build", cwd=tmp_path)
    assert explain.returncode == 0, explain.stderr
    # conv 3/2 pad 1: r=3 j=2 P=1; max pool 2/2: r=5 j=4 P=1; conv 3 pad 1: r=5+2*4=13, P=1+4=5.
    assert "r=13  j=4  P=5" in explain.stdout, explain.stdout


def test_cli_help_says_trace_runs_code(tmp_path: Path) -> None:
    for command in ("check", "explain"):
        text = " ".join(_rflint(command, "--help", cwd=tmp_path).stdout.split())
        assert "--trace" in text and "RUNS CODE" in text.upper(), (command, text)


WITHOUT_TORCH = """
import importlib.util, sys
real = importlib.util.find_spec
def find_spec(name, package=None):
    return None if name.split('.')[0] == 'torch' else real(name, package)
importlib.util.find_spec = find_spec
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'torch':
            raise ModuleNotFoundError("No module named 'torch'", name='torch')
        return None
sys.meta_path.insert(0, Block())
from rflint.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_cli_without_torch_names_the_extra(tmp_path: Path) -> None:
    _module(tmp_path, "traced_net", TRACED)
    run = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, "check", "--trace", "traced_net:build"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "rflint[torch]" in run.stderr + run.stdout


def test_cli_refuses_pickles_and_checks_the_rest(tmp_path: Path) -> None:
    for name in ("weights.pt", "weights.pth"):
        (tmp_path / name).write_bytes(pickle.dumps(_Touch(str(tmp_path / "ran"))))
    _module(tmp_path, "traced_net", TRACED)
    result = _rflint("check", "weights.pt", "weights.pth", "traced_net.py", "--output-format", "concise", cwd=tmp_path)
    out = result.stdout.splitlines()
    for name in ("weights.pt", "weights.pth"):
        assert any(line.startswith(f"{name}:1:1: RL001 refusing to read a pickled checkpoint: unpickling runs "
                                   "arbitrary code") for line in out), result.stdout
    assert any(line.startswith("traced_net.py:") and " AA101 " in line for line in out), result.stdout
    assert not (tmp_path / "ran").exists()
    assert os.listdir(tmp_path)  # (the directory is the test's own)


def test_per_file_ignores_take_module_paths_of_a_pt2(tmp_path: Path) -> None:
    """Nodes of a torch.nn layer are named by module path, so a glob on it suppresses."""
    from rflint.config import load_config

    data = _pt2(_Stem(), (1, 3, 32, 32))
    found = api.check_data(str(tmp_path / "stem.pt2"), data)
    assert {(d.code, d.loc.node.name) for d in found if d.code in ("AA101", "AA102")} == {("AA101", "conv"), ("AA102", "pool")}
    (tmp_path / "rflint.toml").write_text('per-file-ignores = {"stem.pt2::po*" = ["AA102"]}\n')
    config = load_config(tmp_path / "rflint.toml")
    kept = api.check_data(str(tmp_path / "stem.pt2"), data, config)
    assert {d.code for d in kept if d.code in ("AA101", "AA102")} == {"AA101"}


class _Reduce(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        gate = y.mean((2, 3), keepdim=True)  # global, broadcast back: an SE-style gate
        channels = y.sum(1, keepdim=True)  # over channels: every position stays
        return y * gate + channels, y.max(dim=3)[0], torch.max(y)


def test_reductions_over_space_are_global_and_over_channels_pointwise() -> None:
    g = _graph(_Reduce())
    assert [n.type_name for n in _ops(g, Global)] == ["torch.mean", "torch.max", "torch.max"]
    assert [n.op.kind for n in _ops(g, Merge)] == ["mul", "add"]
    a = analyse(g, (32, 32))
    first = g.outputs[0][1]
    assert a.info(first).status == "local" and a.info(first).is_global  # the gate: frame kept, marked global
    assert len(g.outputs) == 3 and all(a.info(n).status == "ended" for _, n in g.outputs[1:])
