"""Benchmarks of DESIGN.md's performance contract, as ratios against the alternatives.

Run: ``python benchmarks/bench_check.py`` (add ``--repeat N``). Every figure is
the median wall time of whole processes, as a user or pre-commit meets them.
No assertion: the numbers are printed, next to their targets, for the notes.

rflint's bytecode is compiled first, as ``pip install`` does: with
``PYTHONDONTWRITEBYTECODE`` set (these machines set it) a development checkout
would otherwise recompile every module in every run, which a user never pays.

- ``rflint check`` over torchvision's ``models/`` (cold: fresh process), target <= 1.0 s;
- ``rflint --version``, target <= 0.1 s, against ``python -c pass``;
- one model's receptive field from source (``rflint explain``), target <= 0.3 s and
  >= 15x faster than a dynamic tool on the same model: torchscan when installed
  (``pip install torchscan``), else the same gradient measurement by hand, both
  of which must import torch and build the model.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "classifier.py"

DYNAMIC_TORCHSCAN = f"""
import importlib.util, torch
from torchscan import crawl_module
spec = importlib.util.spec_from_file_location("classifier", {str(EXAMPLE)!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
info = crawl_module(m.SmallNet().eval(), (3, 224, 224))
print(info["layers"][-1]["rf"])
"""

DYNAMIC_GRADIENT = f"""
import importlib.util, torch, torchvision
spec = importlib.util.spec_from_file_location("classifier", {str(EXAMPLE)!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
net = m.SmallNet().eval()
x = torch.ones(1, 3, 224, 224, requires_grad=True)
y = net.layer3(net.layer2(net.layer1(net.pool(net.bn(net.stem(x))))))
y[0, 0, 7, 7].backward()
cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero().flatten()
print(int(cols[-1] - cols[0] + 1))
"""


def timed(cmd: list[str], repeat: int, cwd: Path | None = None) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torchvision_models() -> Path | None:
    try:
        out = subprocess.run(
            [sys.executable, "-c", "import importlib.util as u, os; s = u.find_spec('torchvision'); print(os.path.dirname(s.origin))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except subprocess.CalledProcessError:
        return None
    path = Path(out) / "models"
    return path if path.is_dir() else None


def row(what: str, seconds: float, target: str, versus: tuple[str, float] | None = None) -> None:
    line = f"{what:<52} {seconds:7.3f} s   target {target}"
    if versus:
        name, other = versus
        line += f"   {name}: {other:.3f} s, ratio {other / seconds:.1f}x"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import compileall

    import rflint as package

    compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    # The console script of this interpreter's environment, as a venv or pre-commit runs
    # it; not whatever `rflint` is first on PATH (a pyenv shim adds a shell and ~0.1 s).
    beside = Path(sys.executable).parent / "rflint"
    rflint = str(beside) if beside.exists() else shutil.which("rflint")
    base = [rflint] if rflint else [sys.executable, "-m", "rflint"]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.repeat} runs\n")

    python_startup = timed([sys.executable, "-c", "pass"], args.repeat)
    row("rflint --version", timed([*base, "--version"], args.repeat), "<= 0.1 s", ("python -c pass", python_startup))

    models = torchvision_models()
    if models is None:
        print("torchvision is not installed: skipping the models/ benchmark")
    else:
        n_files = sum(1 for _ in models.rglob("*.py"))
        n_lines = sum(len(p.read_text().splitlines()) for p in models.rglob("*.py"))
        cmd = [*base, "check", str(models), "--exit-zero", "--output-format", "concise"]
        cold = timed([*cmd, "--no-cache"], args.repeat)
        row(f"rflint check torchvision/models, cold ({n_files} files, {n_lines} lines)", cold, "<= 1.0 s")
        timed(cmd, 1)  # fill the cache
        row("rflint check torchvision/models, warm (cache hit)", timed(cmd, args.repeat), "<= 0.2 s")

    static = timed([*base, "explain", f"{EXAMPLE}::SmallNet", "--output-format", "json"], args.repeat)
    try:
        import torchscan  # noqa: F401

        dynamic, name = timed([sys.executable, "-c", DYNAMIC_TORCHSCAN], args.repeat), "torchscan"
    except ImportError:
        dynamic, name = timed([sys.executable, "-c", DYNAMIC_GRADIENT], args.repeat), "torch gradient"
    row("one model's RF from source (rflint explain)", static, "<= 0.3 s, >= 15x", (name, dynamic))


if __name__ == "__main__":
    main()
