"""What every exported-model reader relies on, independent of the readers themselves:
pickles refused, a missing extra named, findings on nodes shown, cached and
suppressed by node pattern, and the layer key that matches findings across readers."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from rflint import api
from rflint.cache import _from_json, _to_json
from rflint.config import load_config
from rflint.diagnostics import Diagnostic, Severity
from rflint.formats import json as json_format
from rflint.formats import text as text_format
from rflint.ir import GraphBuilder, Location, Merge, NodeRef, Pointwise, Resample, TransposedConv, Window
from rflint.layer_key import layer_keys, op_signature

GOOD_MODEL = """\
import torch.nn as nn

class Up(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(8, 8, kernel_size=3, stride=2)

    def forward(self, x):
        return self.up(x)
"""


def _node_finding(index: int = 3, name: str = "/layer1/conv/Conv", code: str = "PD101") -> Diagnostic:
    loc = Location("model.onnx", 1, 1, node=NodeRef(name, "Conv", index))
    return Diagnostic(code, "uneven padding", loc, Severity.WARNING, model="model", name=name, layer="conv k3x3 s2x2 @1")


# ----------------------------------------------------------------------------- pickles and extras


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".PTH"])
def test_pickled_checkpoints_are_refused_and_other_files_still_checked(tmp_path: Path, suffix: str) -> None:
    checkpoint = tmp_path / f"weights{suffix}"
    # A real pickle: reading it would run code. rflint must not even try.
    checkpoint.write_bytes(b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00.")
    model = tmp_path / "up.py"
    model.write_text(GOOD_MODEL)
    result = api.check_paths([checkpoint, model], use_cache=False, discover_config=False)
    by_file = {Path(d.loc.file).name: d for d in result.diagnostics}
    refusal = by_file[checkpoint.name]
    assert refusal.code == "RL001" and refusal.severity is Severity.ERROR
    assert "unpickling runs arbitrary code" in refusal.message
    assert "torch.onnx.export" in refusal.message and "torch.export.save" in refusal.message
    assert by_file["up.py"].code == "CB102"  # the model file beside it is still checked


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("onnx", "torch") else real(name, *a))
    (onnx_error,) = api.check_data("net.onnx", b"\x08\x07")
    assert onnx_error.code == "RL001" and "pip install 'rflint[onnx]'" in onnx_error.message
    # A .pt2 is read from its JSON graph without torch: a bad one is a plain read error.
    (pt2_error,) = api.check_data("net.pt2", b"PK")
    assert pt2_error.code == "RL001" and "rflint[torch]" not in pt2_error.message
    with pytest.raises(api.ReaderError, match=r"rflint\[torch\]"):
        api.read_trace("nets:build")


def test_directory_walks_do_not_pick_up_exported_models_or_pickles(tmp_path: Path) -> None:
    """Exported models and checkpoints are artifacts: they are linted when named, not by a walk
    (a walk over a repository with checkpoints would otherwise be a wall of refusals)."""
    (tmp_path / "net.onnx").write_bytes(b"")
    (tmp_path / "net.pt2").write_bytes(b"")
    (tmp_path / "weights.pth").write_bytes(b"")
    (tmp_path / "up.py").write_text(GOOD_MODEL)
    result = api.check_paths([tmp_path], use_cache=False, discover_config=False)
    assert [Path(f).name for f in result.files] == ["up.py"]


# ----------------------------------------------------------------------------- findings on nodes


def test_text_output_names_the_node_and_shows_no_source_snippet() -> None:
    d = _node_finding()
    line = text_format.render_concise([d])
    assert line == "model.onnx:1:1: PD101 uneven padding [node Conv #3 '/layer1/conv/Conv']"
    full = text_format.render_full([d], {"model.onnx": "binary junk"})
    assert "binary junk" not in full and "|" not in full.splitlines()[1]


def test_json_output_carries_the_node_and_the_layer_key() -> None:
    (entry,) = json.loads(json_format.render_json([_node_finding()]))
    assert entry["node"] == {"name": "/layer1/conv/Conv", "op_type": "Conv", "index": 3}
    assert entry["layer"] == "conv k3x3 s2x2 @1"
    json_format.parse_json(json_format.render_json([_node_finding()]))  # valid against its own schema


def test_findings_on_different_nodes_of_one_file_are_all_kept_in_node_order() -> None:
    found = [_node_finding(7, "b"), _node_finding(3, "a"), _node_finding(3, "a")]
    kept = api._filter(found, None, None, "model.onnx")
    assert [d.loc.node.index for d in sorted(kept, key=Diagnostic.sort_key)] == [3, 7]


def test_the_cache_keeps_node_and_layer() -> None:
    d = _node_finding()
    back = _from_json(json.loads(json.dumps(_to_json(d))))
    assert back == d and back.loc.node == d.loc.node and back.layer == d.layer


def test_per_file_ignores_with_a_node_pattern(tmp_path: Path) -> None:
    (tmp_path / "rflint.toml").write_text(
        '[per-file-ignores]\n"model.onnx::/layer1/*" = ["PD101"]\n"other.onnx" = ["CB102"]\n'
    )
    config = load_config(tmp_path / "rflint.toml")
    onnx = str(tmp_path / "model.onnx")
    assert not config.is_enabled("PD101", onnx, True, node="/layer1/conv/Conv")
    assert config.is_enabled("PD101", onnx, True, node="/layer2/conv/Conv")
    assert config.is_enabled("PD101", onnx, True)  # a node pattern never matches a finding without a node
    assert config.is_enabled("CB102", onnx, True, node="/layer1/conv/Conv")
    assert not config.is_enabled("CB102", str(tmp_path / "other.onnx"), True, node="/anything")
    kept = api._filter([_node_finding(3, "/layer1/conv/Conv"), _node_finding(4, "/layer2/conv/Conv")],
                       None, config, onnx)
    assert [d.loc.node.name for d in kept] == ["/layer2/conv/Conv"]


# ----------------------------------------------------------------------------- the layer key


def _conv(b: GraphBuilder, x: int, k: int = 3, s: int = 1, p: int = 1) -> int:
    return b.add(Window("conv", (k, k), (s, s), (1, 1), ((p, p), (p, p))), (x,), "Conv2d")


def test_layer_key_ignores_pointwise_nodes_and_names() -> None:
    """Export folds BatchNorm into the conv before it: the keys of what remains must not move."""
    source = GraphBuilder()
    x = source.input()
    a = _conv(source, x, s=2)
    bn = source.add(Pointwise(), (a,), "BatchNorm2d")
    b = _conv(source, bn)
    merged = source.add(Merge("add"), (b, bn), "add")
    up = source.add(TransposedConv((4, 4), (2, 2), (1, 1), (1, 1), (0, 0)), (merged,), "ConvTranspose2d")
    exported = GraphBuilder()
    y = exported.input()
    a2 = _conv(exported, y, s=2)
    b2 = _conv(exported, a2)
    merged2 = exported.add(Merge("add"), (b2, a2), "Add")
    up2 = exported.add(TransposedConv((4, 4), (2, 2), (1, 1), (1, 1), (0, 0)), (merged2,), "ConvTranspose")
    keys, keys2 = layer_keys(source.build("m", [("out", up)])), layer_keys(exported.build("m", [("out", up2)]))
    assert [keys[i] for i in (a, b, merged, up)] == [keys2[i] for i in (a2, b2, merged2, up2)]
    assert keys[a] == "conv k3x3 s2x2 d1x1 p1,1/1,1 @0"
    assert keys[b] == "conv k3x3 s1x1 d1x1 p1,1/1,1 @1"
    # The merge sits after two convolutions on its longest path; the residual path has one.
    assert keys[merged] == "merge:add @2"
    assert keys[up] == "conv_transpose k4x4 s2x2 d1x1 p1x1 op0x0 @2"


def test_op_signature_tells_resampling_modes_and_scales_apart() -> None:
    nearest = Resample("nearest", scale=(Fraction(2), Fraction(2)))
    linear = Resample("linear", scale=(Fraction(2), Fraction(2)), align_corners=True)
    assert op_signature(nearest) == "resample:nearest scale2x2"
    assert op_signature(linear) == "resample:linear scale2x2 align_corners"
    assert op_signature(Resample("nearest", size=(7, 7))) == "resample:nearest size7x7"


def test_rule_findings_carry_the_layer_key() -> None:
    (finding,) = [d for d in api.check_text("up.py", GOOD_MODEL) if d.code == "CB102"]
    assert finding.layer == "conv_transpose k3x3 s2x2 d1x1 p0x0 op0x0 @0"
