"""Benchmarks of DESIGN.md's performance contract, as ratios against the alternatives.

Run: ``python benchmarks/bench_check.py`` (add ``--repeat N``, ``--timm``). Every
figure is the median wall time of whole processes, as a user or pre-commit meets
them. No assertion: the numbers are printed, next to their targets, for the notes.

rflint's bytecode is compiled first, as ``pip install`` does: with
``PYTHONDONTWRITEBYTECODE`` set (these machines set it) a development checkout
would otherwise recompile every module in every run, which a user never pays.

- the floor: a process that ``ast.parse``-s every file of the same directory;
- ``rflint check`` over torchvision's ``models/``, every model built (the default),
  cold (fresh process, no cache): target <= 1.2 s and <= 6x the floor;
- the same over timm's ``models/`` with ``--timm`` (a minute or two per run):
  target <= 10 s, and the peak memory of the largest process, target <= 300 MB;
- either warm (nothing changed, the cache answers): target <= 0.2 s;
- ``rflint --version``, target <= 0.1 s, against ``python -c pass``;
- one torchvision model's receptive field from source (``rflint explain
  resnet.py::resnet50``), target <= 0.2 s and >= 20x faster than a dynamic tool on
  the same model: torchscan when installed (``pip install torchscan``), else the
  same gradient measurement by hand, both of which import torch and build it.
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

DYNAMIC_TORCHSCAN = """
import torch, torchvision
from torchscan import crawl_module
info = crawl_module(torchvision.models.resnet50().eval(), (3, 224, 224))
print(info["layers"][-1]["rf"])
"""

DYNAMIC_GRADIENT = """
import torch, torchvision
net = torchvision.models.resnet50().eval()
x = torch.ones(1, 3, 224, 224, requires_grad=True)
features = torch.nn.Sequential(*list(net.children())[:-2])
y = features(x)
y[0, 0, 3, 3].backward()
cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero().flatten()
print(int(cols[-1] - cols[0] + 1))
"""

FLOOR = """
import ast, pathlib, sys
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    ast.parse(p.read_bytes())
"""


def timed(cmd: list[str], repeat: int, cwd: Path | None = None) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def installed_models(package: str) -> Path | None:
    """``<package>/models`` of the installed package, found without importing it."""
    try:
        out = subprocess.run(
            [sys.executable, "-c", f"import importlib.util as u, os; s = u.find_spec({package!r}); print(os.path.dirname(s.origin))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except subprocess.CalledProcessError:
        return None
    path = Path(out) / "models"
    return path if path.is_dir() else None


def peak_memory_mb(cmd: list[str]) -> float:
    """Peak resident memory of the largest process of a run (the parent or a worker), in MB."""
    script = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
              "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", script, *cmd], capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


def zoo(name: str, models: Path, base: list[str], repeat: int, target: str, cwd: Path) -> None:
    """The floor, cold and warm runs over one model zoo's ``models/`` directory."""
    n_files = sum(1 for _ in models.rglob("*.py"))
    n_lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in models.rglob("*.py"))
    floor = timed([sys.executable, "-c", FLOOR, str(models)], repeat)
    row(f"ast.parse of {name}/models ({n_files} files, {n_lines} lines)", floor, "(the floor)")
    cmd = [*base, "check", str(models), "--exit-zero", "--output-format", "concise"]
    cold = timed([*cmd, "--no-cache"], repeat, cwd)
    row(f"rflint check {name}/models, every model built, cold", cold, f"{target}   ({cold / floor:.1f}x the floor)")
    timed(cmd, 1, cwd)  # fill the cache
    row(f"rflint check {name}/models, warm (cache hit)", timed(cmd, repeat, cwd), "<= 0.2 s")
    if name == "timm":
        print(f"{'peak memory, ' + name + '/models, cold':<60} {peak_memory_mb([*cmd, '--no-cache']):7.0f} MB  target <= 300 MB")


def row(what: str, seconds: float, target: str, versus: tuple[str, float] | None = None) -> None:
    line = f"{what:<60} {seconds:7.3f} s   target {target}"
    if versus:
        name, other = versus
        line += f"   {name}: {other:.3f} s, ratio {other / seconds:.1f}x"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timm", action="store_true", help="also timm's models/ (a minute or more per run)")
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

    import tempfile

    with tempfile.TemporaryDirectory() as work:  # the cache lives here, not in site-packages
        cwd = Path(work)
        tv = installed_models("torchvision")
        if tv is None:
            print("torchvision is not installed: skipping its models/ benchmark")
        else:
            zoo("torchvision", tv, base, args.repeat, "<= 1.2 s, <= 6x", cwd)
        if args.timm:
            tm = installed_models("timm")
            if tm is None:
                print("timm is not installed: skipping its models/ benchmark")
            else:
                zoo("timm", tm, base, 1, "<= 10 s", cwd)

    if tv is not None:
        static = timed([*base, "explain", f"{tv / 'resnet.py'}::resnet50", "--output-format", "json"], args.repeat)
        try:
            import torchscan  # noqa: F401

            dynamic, name = timed([sys.executable, "-c", DYNAMIC_TORCHSCAN], args.repeat), "torchscan"
        except ImportError:
            dynamic, name = timed([sys.executable, "-c", DYNAMIC_GRADIENT], args.repeat), "torch gradient"
        row("resnet50's RF from source (rflint explain)", static, "<= 0.2 s, >= 20x", (name, dynamic))

if __name__ == "__main__":
    main()
