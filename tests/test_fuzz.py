"""A short run of the fuzzing campaign (``benchmarks/fuzz.py``) in CI: mutated real model
files through ``rflint check``, each in its own process, never a crash, a hang or a
memory blow-up. The long run's figures are in the notes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"


@pytest.mark.slow
def test_a_short_fuzz_run_has_no_crash_hang_or_memory_blowup(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("rflint_fuzz", FUZZ)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    summary = fuzz.campaign(mutants=40, seed=7, jobs=2, timeout=60, memory_mb=500, out_dir=tmp_path)
    assert summary["bad"] == [], summary["bad"]
    assert sum(summary["counts"].values()) == 40
