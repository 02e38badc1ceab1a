"""Census: how much of timm rflint reads, model by model, from its installed source.

Run: ``python benchmarks/census_timm.py`` (``--jobs N``, ``--filter REGEX``,
``--limit N``, ``--json FILE`` for the per-model records, ``--timeout S``).

Each of ``timm.list_models()`` is built as ``rflint explain FILE::name`` would
build it (``rflint.api.explain``, a fresh reader session per model, at the
model's pretrained input size), in worker processes, and sorted into:

- ``complete``: the forward pass was followed to the end and every node of it
  has a frame (local or ended); the model's receptive field is a number;
- ``complete-but-partial``: the graph says complete, yet some node's frame is
  unknown. This is a lie the tests forbid, counted separately so it shows;
- ``partial``: not complete, with layers; ``empty``: not even one layer;
- ``error``: rflint raised (an internal error); ``timeout``.

What remains unresolved is counted by cause: every unresolved construct of a
model that is not complete, as ``file:line: reason`` with the file relative to
the package and the numbers in the reason masked, counted once per model.

timm is imported here, by the census (never by rflint), to list its models and
find the file each is registered in.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import signal
import sys
import time
from typing import Any


def list_models(pattern: str | None) -> list[tuple[str, str, tuple[int, int]]]:
    """(name, file, input size) of every timm model, in registry order."""
    import timm
    from timm.models import _registry

    root = os.path.dirname(timm.__file__)
    out = []
    for name in timm.list_models():
        if pattern and not re.search(pattern, name):
            continue
        module = _registry._model_to_module[name]
        path = os.path.join(root, "models", module.rsplit(".", 1)[-1] + ".py")
        size = (224, 224)
        try:
            cfg = timm.models.get_pretrained_cfg(name)
            if cfg is not None and getattr(cfg, "input_size", None):
                size = tuple(cfg.input_size[-2:])
        except Exception:  # noqa: BLE001 - a model without a pretrained config keeps 224
            pass
        out.append((name, path, size))
    return out


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def census_one(job: tuple[str, str, tuple[int, int], float]) -> dict[str, Any]:
    """Build one model and classify it. Runs in a worker process."""
    name, path, size, timeout = job
    from rflint.api import explain
    from rflint.readers.base import ReaderError

    record: dict[str, Any] = {"model": name, "file": os.path.basename(path)}
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.perf_counter()
    try:
        exp = explain(f"{path}::{name}", input_size=size)
    except _Timeout:
        record.update(status="timeout")
        return record
    except ReaderError as exc:
        record.update(status="empty", unresolved=[str(exc)])
        return record
    except Exception as exc:  # noqa: BLE001 - an internal error is what the census counts
        record.update(status="error", error=f"{type(exc).__name__}: {exc}")
        return record
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        record["seconds"] = round(time.perf_counter() - start, 3)
    record.update(classify(exp))
    return record


def classify(exp: Any) -> dict[str, Any]:
    """The census class of one explained model, its receptive field and what blocked it."""
    graph, analysis = exp.model.graph, exp.analysis
    unknown = [n.id for n in graph.nodes if analysis.info(n.id).status == "unknown"]
    outputs = analysis.spatial_outputs()
    rf = None
    if outputs:
        info = analysis.info(outputs[-1][1])
        if info.frames:
            rf = [[f.r, str(f.j), str(f.padding)] for f in info.frames]
    if graph.complete:
        status = "complete" if not unknown and rf is not None else "complete-but-partial"
    else:
        status = "partial" if len(graph.nodes) > 1 else "empty"
    reasons = sorted({_cause(u.reason, u.loc) for u in graph.unresolved}) if status != "complete" else []
    return {"status": status, "nodes": len(graph.nodes), "unknown_nodes": len(unknown), "rf": rf, "unresolved": reasons}


_NUMBER = re.compile(r"\b\d+\b")


def _cause(reason: str, loc: Any) -> str:
    where = ""
    if loc is not None:
        parts = loc.file.replace(os.sep, "/").split("/")
        tail = "/".join(parts[parts.index("timm"):]) if "timm" in parts else parts[-1]
        where = f"{tail}:{loc.line}: "
    return where + _NUMBER.sub("N", reason)[:160]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--filter", help="only models whose name matches this regular expression")
    parser.add_argument("--limit", type=int, help="only the first N models (after --filter)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per model")
    parser.add_argument("--json", help="write the per-model records here")
    parser.add_argument("--top", type=int, default=40, help="causes to print")
    args = parser.parse_args(argv)

    models = list_models(args.filter)
    if args.limit:
        models = models[: args.limit]
    jobs = [(name, path, size, args.timeout) for name, path, size in models]
    start = time.perf_counter()
    # Each worker builds 20 models, then a new one starts: memory stays bounded.
    with multiprocessing.get_context("spawn").Pool(args.jobs, maxtasksperchild=20) as pool:
        records = []
        for i, record in enumerate(pool.imap_unordered(census_one, jobs, chunksize=1), 1):
            records.append(record)
            if i % 50 == 0:
                print(f"  {i}/{len(jobs)} ...", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start
    records.sort(key=lambda r: r["model"])
    report(records, wall, args.top)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(records, fh, indent=1)
    return 0


def report(records: list[dict[str, Any]], wall: float, top: int) -> None:
    counts = collections.Counter(r["status"] for r in records)
    total = len(records)
    print(f"timm census: {total} models in {wall:.0f} s")
    for status in ("complete", "complete-but-partial", "partial", "empty", "error", "timeout"):
        n = counts.get(status, 0)
        print(f"  {status:22} {n:5}  {100 * n / max(total, 1):5.1f}%")
    causes: collections.Counter[str] = collections.Counter()
    for r in records:
        if r["status"] != "complete":
            causes.update(set(r.get("unresolved", [])))
    errors = collections.Counter(r["error"].split("\n")[0][:160] for r in records if r["status"] == "error")
    if errors:
        print("\ninternal errors:")
        for text, n in errors.most_common(top):
            print(f"  {n:5}  {text}")
    print(f"\nwhat remains unresolved (models blocked, top {top}):")
    for text, n in causes.most_common(top):
        print(f"  {n:5}  {text}")
    lying = [r["model"] for r in records if r["status"] == "complete-but-partial"]
    if lying:
        print(f"\ncomplete but partial: {', '.join(lying[:30])}{' ...' if len(lying) > 30 else ''}")


if __name__ == "__main__":
    sys.exit(main())
