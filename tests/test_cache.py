"""The result cache: hits for unchanged input, misses for any change, and never unsafe."""

from __future__ import annotations

import json
from pathlib import Path

from rflint import api
from rflint.cache import CACHE_DIR
from rflint.config import default_config

SRC = """\
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(4, 4, kernel_size=3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(x)
"""


def test_second_run_is_served_from_cache_and_a_change_is_not(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SRC)
    config = default_config(tmp_path)
    first = api.check_paths(["m.py"], config)
    assert [d.code for d in first.diagnostics] == ["CB102"]
    entries = list((tmp_path / CACHE_DIR).rglob("*.json"))
    assert len(entries) == 1
    assert (tmp_path / CACHE_DIR / ".gitignore").read_text().strip().endswith("*")

    calls = []
    monkeypatch.setattr(api, "check_text", lambda *a, **k: calls.append(a) or [])
    again = api.check_paths(["m.py"], config)
    assert not calls, "unchanged file should come from the cache"
    assert again.diagnostics == first.diagnostics
    assert again.diagnostics[0].fix == first.diagnostics[0].fix  # fixes survive the round trip

    (tmp_path / "m.py").write_text(SRC.replace("kernel_size=3", "kernel_size=5"))
    api.check_paths(["m.py"], config)
    assert len(calls) == 1, "a changed file must be checked again"


def test_a_corrupt_or_hostile_cache_entry_is_a_miss(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(SRC)
    config = default_config(tmp_path)
    api.check_paths(["m.py"], config)
    (entry,) = (tmp_path / CACHE_DIR).rglob("*.json")
    entry.write_text(json.dumps({"dependencies": {}, "diagnostics": [{"code": "CB102"}]}))  # missing fields
    result = api.check_paths(["m.py"], config)
    assert [d.code for d in result.diagnostics] == ["CB102"]
    entry.write_bytes(b"\x80\x04cos\nsystem\n.")  # a pickle: never loaded as one
    result = api.check_paths(["m.py"], config)
    assert [d.code for d in result.diagnostics] == ["CB102"]
