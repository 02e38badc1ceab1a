"""Fuzzing campaign: mutated model files through ``rflint check``, each in its own process.

Run: ``python benchmarks/fuzz.py`` (``--mutants N``, ``--seed S``, ``--jobs J``,
``--timeout S``, ``--out DIR`` for the reproducers, ``--memory-mb M``).

Seeds are real model files: the bundled examples and layer specs, and, when
installed, torchvision's and timm's model sources. Each mutant changes one thing a
hostile or careless user could write: a number in a layer call becomes 0, -1,
10**7, 10**40, 1e-300, a string or None; a line is deleted, duplicated or cut in
half; a hostile expression (``sum(range(10**12))``, a backtracking pattern, a
gigabyte string) replaces a constant; several numbers become one at the bounds of a
layer (4096, 1024: each layer allowed, their composition too much); bytes that are not
UTF-8, a lone ``\\r`` line ending, a BOM or deep nesting are put in. Every mutant is checked with
``rflint check FILE --no-cache --output-format json`` and classified:

- ``ok``: exit 0 or 1 and a valid JSON report;
- ``handled``: exit 2 with a message and no traceback (an error rflint reports);
- ``crash``: a traceback, an internal error finding (RL000), or a report that is not JSON;
- ``hang``: still running after ``--timeout`` seconds;
- ``memory``: a peak above ``--memory-mb``.

Crashes, hangs and memory blow-ups are written to ``--out`` as reproducers, with the
command that shows them. Prints the counts, the slowest mutant and the peak memory.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HOSTILE_NUMBERS = ["0", "-1", "-3", "10**7", "10**40", "1e-300", "1e300", "'x'", "None", "2.5", "True", "[3, 3]"]
HOSTILE_EXPRESSIONS = [
    "sum(range(10**12))", "max(range(10**12))", "len('x' * 10**9)", "len([0] * 10**9)", "math.prod(range(1, 300000))",
    "(3 if __import__('re').match(r'(a+)+$', 'a' * 34 + 'b') is None else 5)", "len(list(range(10**9)))",
    "(1 << 10**9)", "len('{:>1000000000}'.format(1))", "pow(7, 10**8)", "int('9' * 5000)",
    "__import__('operator').pow(7, 10**8)", "len(__import__('operator').mul('x', 10**9))",
]
# Numbers at the bounds of one layer (ir.MAX_GEOMETRY, rf.MAX_PHASES), put in several places
# at once: each layer is then allowed, and only their composition is too much.
AT_THE_BOUNDS = ["4096", "4095", "1024", "16384", "1000"]
_NUMBER_ARG = re.compile(r"(?<=[(,=\s])(\d+)(?=\s*[,)])")


def seeds() -> list[Path]:
    """Real model files to mutate: the examples, and torchvision's and timm's sources."""
    out = sorted(p for p in (REPO / "examples").iterdir() if p.suffix in (".py", ".yaml", ".json"))
    for package, names in (("torchvision", ["models/resnet.py", "models/vgg.py", "models/mobilenetv2.py",
                                            "models/densenet.py", "models/segmentation/fcn.py"]),
                           ("timm", ["models/resnet.py", "models/efficientnet.py", "layers/blur_pool.py"])):
        try:
            root = Path(__import__(package).__file__).parent
        except ImportError:
            continue
        out.extend(root / n for n in names if (root / n).is_file())
    return out


def mutate(text: str, rng: random.Random) -> tuple[str, str]:
    """One mutation of ``text`` and what it was."""
    lines = text.split("\n")
    kind = rng.choice(["number", "number", "number", "expression", "bounds", "bounds", "delete", "duplicate", "cut",
                       "bytes", "cr", "bom", "nest", "truncate"])
    if kind == "bounds":
        spots = list(_NUMBER_ARG.finditer(text))
        if spots:
            chosen = sorted(rng.sample(spots, min(len(spots), rng.randint(2, 6))), key=lambda m: m.start(), reverse=True)
            new = rng.choice(AT_THE_BOUNDS)
            for m in chosen:
                text = text[:m.start()] + new + text[m.end():]
            return text, f"bounds: {len(chosen)} numbers -> {new}"
        kind = "delete"
    if kind in ("number", "expression"):
        spots = list(_NUMBER_ARG.finditer(text))
        if spots:
            m = rng.choice(spots)
            new = rng.choice(HOSTILE_NUMBERS if kind == "number" else HOSTILE_EXPRESSIONS)
            prefix = "import math\n" if kind == "expression" and text.lstrip().startswith(("import", "from", '"""', "#")) else ""
            return prefix + text[:m.start()] + new + text[m.end():], f"{kind}: {m.group()} -> {new} at {m.start()}"
        kind = "delete"
    if kind == "delete" and lines:
        i = rng.randrange(len(lines))
        return "\n".join(lines[:i] + lines[i + 1:]), f"delete line {i + 1}"
    if kind == "duplicate" and lines:
        i = rng.randrange(len(lines))
        return "\n".join(lines[:i + 1] + lines[i:]), f"duplicate line {i + 1}"
    if kind == "cut" and lines:
        i = rng.randrange(len(lines))
        return "\n".join(lines[:i] + [lines[i][: len(lines[i]) // 2]] + lines[i + 1:]), f"cut line {i + 1}"
    if kind == "bytes":
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(["\udcff", "\x00", "\u2028", "\ufeff", "\x0c"]) + text[i:], f"odd character at {i}"
    if kind == "cr":
        return text.replace("\n", "\r"), "line endings \\r"
    if kind == "bom":
        return "\ufeff" + text.replace("\n", "\r\n"), "BOM and CRLF"
    if kind == "nest":
        i = rng.randrange(len(lines) or 1)
        return "\n".join(lines[:i] + ["x = " + "[" * 5000 + "]" * 5000] + lines[i:]), f"deep nesting at line {i + 1}"
    cut = rng.randrange(len(text) + 1)
    return text[:cut], f"truncate at {cut}"


def _limit_memory(mb: int) -> None:
    limit = mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# ``rflint check`` as its console script runs it, then its own peak memory (VmHWM: the
# child's high-water mark, which ru_maxrss would mix with the parent's) on stderr.
_CHILD = """
import atexit, sys
def _peak():
    try:
        with open('/proc/self/status') as fh:
            kb = next(int(l.split()[1]) for l in fh if l.startswith('VmHWM:'))
        sys.stderr.write(f'\\nrflint-fuzz-peak-kb {kb}\\n')
    except (OSError, StopIteration):
        pass
atexit.register(_peak)
from rflint.cli import main
sys.exit(main(sys.argv[1:]))
"""
_PEAK = re.compile(r"\nrflint-fuzz-peak-kb (\d+)\n")


def run_one(path: Path, timeout: float, memory_mb: int) -> dict:
    """``rflint check`` on one mutant, classified."""
    start = time.monotonic()
    cmd = [sys.executable, "-c", _CHILD, "check", path.name, "--no-cache", "--output-format", "json"]
    try:
        out = subprocess.run(cmd, cwd=path.parent, capture_output=True, timeout=timeout,
                             preexec_fn=lambda: _limit_memory(memory_mb * 4))
    except subprocess.TimeoutExpired:
        return {"status": "hang", "seconds": timeout}
    seconds = time.monotonic() - start
    stderr = out.stderr.decode("utf-8", "replace")
    peak = _PEAK.search(stderr)
    peak_mb = int(peak.group(1)) / 1024 if peak else 0.0
    stderr = _PEAK.sub("", stderr)
    if peak_mb > memory_mb:
        return {"status": "memory", "seconds": seconds, "peak_mb": peak_mb, "detail": f"peak {peak_mb:.0f} MB"}
    result = _classify(out, stderr, seconds)
    result["peak_mb"] = peak_mb
    return result


def _classify(out: subprocess.CompletedProcess, stderr: str, seconds: float) -> dict:
    if "MemoryError" in stderr or "Cannot allocate memory" in stderr:
        return {"status": "memory", "seconds": seconds, "detail": stderr[-400:]}
    if "Traceback" in stderr:
        return {"status": "crash", "seconds": seconds, "detail": stderr[-800:]}
    if out.returncode == 2 and not out.stdout.strip():
        return {"status": "handled", "seconds": seconds, "detail": stderr[-200:]}
    try:
        report = json.loads(out.stdout.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {"status": "crash", "seconds": seconds, "detail": "report is not JSON: " + out.stdout[:200].decode("utf-8", "replace")}
    internal = [d["message"] for d in report if d.get("code") == "RL000"]
    if internal:
        return {"status": "crash", "seconds": seconds, "detail": internal[0][:400]}
    return {"status": "ok" if out.returncode in (0, 1) else "handled", "seconds": seconds}


def campaign(mutants: int, seed: int, jobs: int, timeout: float, memory_mb: int, out_dir: Path | None) -> dict:
    rng = random.Random(seed)
    sources = [(p, p.read_text(encoding="utf-8")) for p in seeds()]
    work = Path(tempfile.mkdtemp(prefix="rflint-fuzz-"))
    cases = []
    for i in range(mutants):
        origin, text = rng.choice(sources)
        mutant, what = mutate(text, rng)
        case_dir = work / f"m{i:05d}"
        case_dir.mkdir()
        path = case_dir / f"mutant{origin.suffix}"
        path.write_bytes(mutant.encode("utf-8", "surrogateescape"))
        cases.append((path, f"{origin.name}: {what}"))
    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(lambda c: run_one(c[0], timeout, memory_mb), cases))
    counts = collections.Counter(r["status"] for r in results)
    bad = [(c, r) for c, r in zip(cases, results) if r["status"] in ("crash", "hang", "memory")]
    if out_dir is not None and bad:
        out_dir.mkdir(parents=True, exist_ok=True)
        for (path, what), r in bad:
            target = out_dir / f"{r['status']}-{path.parent.name}{path.suffix}"
            target.write_bytes(path.read_bytes())
            target.with_suffix(target.suffix + ".txt").write_text(
                f"{what}\n{r.get('detail', '')}\nreproduce: rflint check {target.name} --no-cache\n")
    slowest = max(zip(cases, results), key=lambda cr: cr[1]["seconds"]) if results else None
    return {
        "mutants": mutants, "counts": dict(counts), "bad": [(what, r["status"], r.get("detail", "")[:300]) for (_, what), r in bad],
        "slowest": (slowest[0][1], round(slowest[1]["seconds"], 2)) if slowest else None,
        "peak_mb": round(max((r.get("peak_mb", 0.0) for r in results), default=0.0)),
        "largest": max(zip(cases, results), key=lambda cr: cr[1].get("peak_mb", 0.0))[0][1] if results else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--memory-mb", type=int, default=500, help="a peak above this is counted as 'memory'")
    parser.add_argument("--out", type=Path, help="write crash, hang and memory reproducers here")
    args = parser.parse_args(argv)
    start = time.monotonic()
    summary = campaign(args.mutants, args.seed, args.jobs, args.timeout, args.memory_mb, args.out)
    print(f"fuzz: {summary['mutants']} mutants in {time.monotonic() - start:.0f} s (seed {args.seed})")
    for status in ("ok", "handled", "crash", "hang", "memory"):
        print(f"  {status:8} {summary['counts'].get(status, 0):6}")
    print(f"  slowest: {summary['slowest']}")
    print(f"  peak memory of one check: {summary['peak_mb']} MB ({summary['largest']})")
    for what, status, detail in summary["bad"][:20]:
        print(f"  {status}: {what}\n    {detail.splitlines()[-1] if detail else ''}")
    return 1 if summary["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
