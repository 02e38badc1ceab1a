"""Hostile and sloppy input: a file anyone can write never freezes or exhausts the reader.

Each case is a constant a model's geometry depends on, computed with a primitive that
Python would run for minutes or gigabytes. The reader refuses it before it runs: the
kernel size becomes Unknown with a reason that says so, and the read ends at once in
bounded memory. Each case runs in its own process, with a deadline and its peak
memory measured, so a regression is a failed test, not a frozen suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

TEMPLATE = """
import math, operator, re
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        k = 3 if ({expr}) else 5
        self.c = nn.Conv2d(3, 8, k)

    def forward(self, x):
        return self.c(x)
"""

PROBE = """
import json, resource, sys, time
from rflint.readers.python import build_entry


def peak_mb():
    # This process's own high-water mark: ru_maxrss would include the parent's at fork.
    try:
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


start = time.monotonic()
graph = build_entry("m.py", sys.stdin.read(), "M").graph
print(json.dumps({"seconds": time.monotonic() - start, "complete": graph.complete,
                  "reasons": [u.reason for u in graph.unresolved], "peak_mb": peak_mb()}))
"""

# (expression, a word the reason must contain); each took minutes or gigabytes before.
CASES = {
    "sum of a huge range": ("sum(range(10**12)) > 0", "larger than rflint computes"),
    "max of a huge range": ("max(range(10**12)) > 0", "larger than rflint computes"),
    "a product of 300,000 numbers": ("math.prod(range(1, 300000)) > 0", "larger than rflint computes"),
    "a factorial": ("math.factorial(10**6) > 0", "larger than rflint computes"),
    "a gigabyte string": ("len('x' * 10**9) > 0", "larger than rflint computes"),
    "a billion-item list": ("len([0] * 10**9) > 0", "larger than rflint computes"),
    "a materialised range": ("len(list(range(10**9))) > 0", "larger than rflint computes"),
    "a huge shift": ("(1 << 10**9) > 0", "larger than rflint computes"),
    "a format width": ("len('{:>1000000000}'.format(1)) > 0", "larger than rflint computes"),
    "an f-string width": ("len(f'{1:>{10**9}}') > 0", "larger than rflint computes"),
    "a %-format width": ("len('%1000000000d' % 1) > 0", "larger than rflint computes"),
    "a padded string": ("len('x'.ljust(10**9)) > 0", "larger than rflint computes"),
    "a joined string": ("len(''.join(['x' * 10**6] * 1000)) > 0", "larger than rflint computes"),
    "a power": ("pow(7, 10**8) > 0", "larger than rflint computes"),
    "operator.pow": ("operator.pow(7, 10**8) > 0", "larger than rflint computes"),
    "operator.mul of a string": ("len(operator.mul('x', 10**9)) > 0", "larger than rflint computes"),
    "operator.lshift": ("operator.lshift(1, 10**9) > 0", "larger than rflint computes"),
}


def _probe(source: str) -> dict:
    # -P: the working directory (another test's tmp dir, say) is not on the path.
    out = subprocess.run([sys.executable, "-P", "-c", PROBE], input=source, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(CASES))
def test_a_primitive_on_hostile_constants_is_refused_at_once(name: str) -> None:
    expr, word = CASES[name]
    got = _probe(textwrap.dedent(TEMPLATE.format(expr=expr)))
    assert not got["complete"]
    assert any(word in r for r in got["reasons"]), got["reasons"]
    assert got["seconds"] < 5, got
    assert got["peak_mb"] < 300, got


@pytest.mark.parametrize("expr, want", [
    ("re.match(r'(a+)+$', 'a' * 34 + 'b') is None", 3),       # catastrophic in re: minutes
    ("re.compile(r'(x+x+)+y').search('x' * 40) is None", 3),
    ("re.fullmatch(r'ir_r(\\d+)_k(\\d)', 'ir_r1_k3') is not None", 3),  # what model code does
    ("re.sub(r'_k\\d', '', 'ir_k3_s2') == 'ir_s2'", 3),
])
def test_patterns_are_matched_by_a_bounded_engine_and_still_answer(expr: str, want: int) -> None:
    """The file's own patterns run with a timeout (the ``regex`` library); ordinary ones
    give their answer, the backtracking ones do not freeze the reader."""
    got = _probe(textwrap.dedent(TEMPLATE.format(expr=expr)))
    assert got["complete"], got["reasons"]
    assert got["seconds"] < 5, got


@pytest.mark.parametrize("expr", ["pow(2, 2000) % 7 == 2 ** 2000 % 7", "operator.pow(3, 1500) % 5 == 3 ** 1500 % 5",
                                  "pow(7, 10**8, 13) == 9"])
def test_powers_within_the_bound_are_computed_as_the_operator_computes_them(expr: str) -> None:
    """``pow``, ``operator.pow`` and ``**`` share one bound (the result's size), so a
    power of a few thousand bits, or a modular one, is a number, not an unknown."""
    got = _probe(textwrap.dedent(TEMPLATE.format(expr=expr).replace("else 5", "else 'a kernel torch refuses'")))
    assert got["complete"], got["reasons"]  # the expression was known, and true


def test_a_long_loop_does_not_materialise_its_range() -> None:
    """``for i in range(5 * 10**7)`` took 1.9 GB as a list: the loop takes the range one
    value at a time, and the step budget ends it."""
    source = textwrap.dedent("""
        import torch.nn as nn


        class M(nn.Module):
            def __init__(self):
                super().__init__()
                t = 0
                for i in range(5 * 10**7):
                    t += i
                self.c = nn.Conv2d(3, 8, 3)

            def forward(self, x):
                return self.c(x)
    """)
    got = _probe(source)
    assert got["seconds"] < 10, got
    assert got["peak_mb"] < 300, got


def test_the_limits_leave_ordinary_constants_alone() -> None:
    """Sizes model code really computes stay numbers: a 2**20-entry table, a 4,096-bit
    integer, a 1,000-wide format."""
    expr = "len([0] * 2**20) == 2**20 and (7 ** 1000).bit_length() > 0 and len(f'{1:>1000}') == 1000"
    got = _probe(textwrap.dedent(TEMPLATE.format(expr=expr)))
    assert got["complete"], got["reasons"]



LAYER = """
import torch.nn as nn


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3)
        self.c = {layer}

    def forward(self, x):
        return self.c(self.a(x))
"""


@pytest.mark.parametrize("layer, word", [
    ("nn.Conv2d(8, 8, 10**7)", "kernel size 10000000 is larger than rflint analyses"),
    ("nn.MaxPool2d(10**40)", "kernel size ~2**132 is larger than rflint analyses"),
    ("nn.Conv2d(8, 8, 3, stride=10**40)", "stride ~2**132"),
    ("nn.Conv2d(8, 8, 3, padding=10**40)", "padding ~2**132"),
    ("nn.Conv2d(8, 8, 3, dilation=10**40)", "dilation ~2**132"),
    ("nn.ConvTranspose2d(8, 8, 3, stride=10**40)", "stride ~2**132"),
    ("nn.Upsample(scale_factor=10**6)", "scale factor term 1000000"),
    ("nn.Upsample(scale_factor=1e-300)", "it must be positive"),
    ("nn.PixelShuffle(10**40)", "factor ~2**132"),
])
def test_layer_geometry_beyond_any_real_layer_is_said_not_computed(layer: str, word: str) -> None:
    """The receptive-field algebra works per tap and per phase: a 10**40 kernel, stride or
    scale is an unknown layer that says why (every reader builds its graph through the
    same builder), and every rule runs on the rest without an internal error."""
    source = textwrap.dedent(LAYER.format(layer=layer))
    got = _probe(source)
    assert not got["complete"] and any(word in r for r in got["reasons"]), got["reasons"]
    assert got["seconds"] < 5 and got["peak_mb"] < 300, got
    import tempfile
    from pathlib import Path

    from rflint import api
    from rflint.config import default_config

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.py"
        path.write_text(source)
        config = default_config(Path(tmp)).with_overrides(input_size=224, object_size=(32, 64))
        found = api.check_paths([str(path)], config, use_cache=False)
    assert not [d for d in found.diagnostics if d.code == "RL000"], found.diagnostics


@pytest.mark.parametrize("layers, input_size, word", [
    # Each layer is within MAX_GEOMETRY; together they ask for a million phases (two of
    # stride 4096 hung at 740 MB)...
    ("nn.ConvTranspose2d(8, 8, 1024, stride=1024), nn.ConvTranspose2d(8, 8, 1024, stride=1024)", 64,
     "RL002 M: ConvTranspose2d: the frame would have 1,048,576 phases per axis, more than rflint analyses"),
    ("nn.Upsample(scale_factor=64), nn.Upsample(scale_factor=64), nn.Upsample(scale_factor=64)", 64,
     "phases per axis, more than rflint analyses"),
    # ... a 256-tap kernel over 1,024 phases (20 s of Fraction arithmetic) ...
    ("nn.Upsample(scale_factor=1024), nn.Conv2d(8, 8, 256)", 64,
     "RL002 M: Conv2d: the layer would read 262,144 taps over its phases, more than rflint analyses"),
    # ... and a padding trace over a map upsampled 1,024 times from the largest input allowed.
    ("nn.Upsample(scale_factor=1024), nn.Conv2d(8, 8, 3)", 1 << 24,
     "RL002 M: PD103 did not run: the padding trace would read"),
])
def test_layers_within_the_bound_that_together_explode_are_refused(tmp_path, layers: str, input_size: int, word: str) -> None:
    """The bound on one layer's numbers does not bound their product: the analysis bounds
    the frame's phases and the taps one layer reads, and PD103 its trace, each said."""
    (tmp_path / "m.py").write_text(textwrap.dedent(LAYER.format(layer=f"nn.Sequential({layers})")))
    start = time.monotonic()
    out = _check(tmp_path, "m.py", "--input-size", str(input_size), "--object-size", "32,320", "--show-unresolved")
    assert time.monotonic() - start < 15, "the analysis ran for as long as the numbers asked"
    assert word in out.stdout, out.stdout
    assert "RL000" not in out.stdout and out.returncode == 1, out.stdout + out.stderr


def test_an_input_size_beyond_any_real_input_is_a_configuration_error(tmp_path) -> None:
    """``input-size = 10**17`` ended in a MemoryError inside a rule: it is now refused
    where it is written, naming the key, with exit 2."""
    (tmp_path / "m.py").write_text(textwrap.dedent(LAYER.format(layer="nn.Conv2d(8, 8, 3)")))
    (tmp_path / "rflint.toml").write_text("input-size = 100000000000000000\n")
    out = subprocess.run([sys.executable, "-m", "rflint", "check", "m.py", "--no-cache"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "rflint.toml: input-size: sizes should be at most 16,777,216" in out.stderr


# ----------------------------------------------------------------------------- inputs with limits


def _check(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rflint", "check", *args, "--no-cache", "--output-format", "concise"],
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def test_a_file_larger_than_max_file_size_is_skipped_and_said(tmp_path) -> None:
    """A 5 MB ``.py`` took 1.6 GB (Python's own parser); a file above ``max-file-size``
    (default 1 MiB) is skipped with a finding naming the limit, and the rest is checked."""
    (tmp_path / "big.py").write_text("x = 1\n" * 400_000)  # 2.4 MB
    (tmp_path / "m.py").write_text(textwrap.dedent(LAYER.format(layer="nn.ConvTranspose2d(8, 8, 3, stride=2)")))
    out = _check(tmp_path, ".")
    assert "big.py:1:1: RL001 file is 2,400,000 bytes, more than max-file-size (1,048,576): skipped" in out.stdout
    assert "m.py:" in out.stdout and "CB10" in out.stdout  # the other file is still checked
    (tmp_path / "rflint.toml").write_text("max-file-size = 4000000\n")
    assert "max-file-size" not in _check(tmp_path, "big.py").stdout


def test_a_fifo_is_refused_not_read(tmp_path) -> None:
    """A named pipe called ``model.py`` would block the run forever when opened to read."""
    import os

    os.mkfifo(tmp_path / "model.py")
    out = _check(tmp_path, "model.py")
    assert "model.py:1:1: RL001 not a regular file" in out.stdout


def test_yaml_aliases_that_expand_to_a_billion_values_are_refused(tmp_path) -> None:
    """486 bytes of nested aliases hung at 3.3 GB: the expanded size is counted first."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    (tmp_path / "laughs.yaml").write_text("\n".join(lines) + "\n")
    out = _check(tmp_path, "laughs.yaml")
    assert "RL001 invalid YAML: its aliases expand to more than 100,000 values" in out.stdout


def test_a_zip_bomb_pt2_is_refused_while_it_is_read(tmp_path) -> None:
    """A 400 KB ``.pt2`` whose program member expands to hundreds of MB: it is read
    through a bounded stream, whatever size its entry claims."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/models/model.json", b"[" + b" " * (40 * 1024 * 1024) + b"]")
    (tmp_path / "bomb.pt2").write_bytes(buffer.getvalue())
    assert len(buffer.getvalue()) < 1_000_000
    out = _check(tmp_path, "bomb.pt2")
    assert "expands to more than 33,554,432 bytes" in out.stdout or "more than a program's JSON can be" in out.stdout


def test_a_slow_model_stops_at_the_time_budget_and_the_rest_of_the_file_is_read() -> None:
    """Work the step budget does not count (a bounded primitive called many times) stops
    at the time budget: the slow model says so, and the next model of the file is read.
    The editor uses a budget of a few seconds; here one second."""
    import time

    from rflint.readers.python import read_python
    from rflint.readers.python.reader import ReaderSession

    source = textwrap.dedent("""
        import torch.nn as nn


        class Slow(nn.Module):
            def __init__(self):
                super().__init__()
                for i in range(100000):
                    t = sorted(range(10**6), reverse=True)
                self.c = nn.Conv2d(3, 8, 3)

            def forward(self, x):
                return self.c(x)


        class Fast(nn.Module):
            def __init__(self):
                super().__init__()
                self.c = nn.Conv2d(3, 8, 5)

            def forward(self, x):
                return self.c(x)
    """)
    start = time.monotonic()
    result = read_python("m.py", source, session=ReaderSession(time_budget=1.0))
    assert time.monotonic() - start < 10
    graphs = {m.graph.name: m.graph for m in result.models}
    assert not graphs["Slow"].complete
    assert any("time budget (1 s) exhausted" in u.reason for u in graphs["Slow"].unresolved)
    assert graphs["Fast"].complete


def test_found_by_the_fuzzer_deep_brackets_and_a_functional_stride_of_zero(tmp_path) -> None:
    """Two crashes the fuzzing campaign found: 5,000 nested brackets make Python's parser
    raise MemoryError (now a parse finding), and ``F.conv2d(..., stride=0)`` reached the
    rules (ST101 divided by it; now an unknown layer in torch's words)."""
    (tmp_path / "deep.py").write_text("y = (1,\nx = " + "[" * 5000 + "]" * 5000 + "\n)\n")  # inside a call
    out = _check(tmp_path, "deep.py")
    assert "deep.py:1:1: RL001 cannot parse: nested too deeply" in out.stdout, out.stdout + out.stderr
    (tmp_path / "zero.py").write_text(textwrap.dedent("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("filt", torch.ones(3, 1, 3, 3) / 9)

            def forward(self, x):
                return F.conv2d(x, self.filt, stride=0, groups=3)
    """))
    out = _check(tmp_path, "zero.py", "--input-size", "32", "--show-unresolved")
    assert "RL000" not in out.stdout and "stride (0, 0) must be positive" in out.stdout, out.stdout
