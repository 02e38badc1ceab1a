"""The language server's linting and hover, in child processes it can abandon.

The server (``lsp.py``) answers the editor; everything that reads a document runs
here, in a child process per lane that holds its reader session from one keystroke to
the next (imported modules read once, unchanged models reused). Reading is
cooperative under a document budget (the evaluator stops at ``stop_at`` and the
unfinished models say so), and a request that still outlives its deadline (a hang
no budget reaches) gets the child killed: the editor is told, the next request
starts a fresh child, and no document, shutdown or other request waits on it.

Nothing here imports pygls: the children never talk LSP, only answer
``(kind, args)`` requests over a pipe with ``("ok", value)`` or ``("error", text)``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .diagnostics import Diagnostic, Severity
from .ir import Location

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from .config import Config

log = logging.getLogger("rflint.lsp")

_AXES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
_MAX_HOVER_INSTANCES = 6

DOCUMENT_BUDGET = 10.0
"""Seconds one read of a document may take in the editor, all its models together: the
models not built by then are said as incomplete (RL004), and those that were are reused
by the next read, which goes further."""
GRACE = 5.0
"""Seconds past the document budget after which the child is killed: only a hang that no
budget reaches (none is known) gets there."""


# ---------------------------------------------------------------------- linting (in the child)


LINT_TIME_BUDGET = 5.0
"""Seconds one model of a document may take to read in the editor (the CLI allows 60)."""


_SESSIONS: dict[tuple[str, ...], tuple[Any, dict[str, tuple[int, int] | None]]] = {}
"""Reader sessions by source roots, with the state of each file they read: kept from one
keystroke to the next, so imported modules are read once and unchanged models reused."""


def _stat(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def reader_session(config: "Config") -> Any:
    """The session for documents under ``config``: the last one, unless a file it read
    (an imported module) has changed on disk since, which starts a new one."""
    from .readers.python.reader import ReaderSession

    roots = tuple(config.source_roots())
    held = _SESSIONS.get(roots)
    if held is not None:
        session, seen = held
        _note_files(session, seen)
        if all(_stat(p) == state for p, state in seen.items()):
            return session
    # A short time budget per model: a slow document must not hold the worker that
    # every other document's diagnostics wait for.
    session = ReaderSession(roots, time_budget=LINT_TIME_BUDGET, reuse_models=True)
    _SESSIONS[roots] = (session, {})
    return session


def _budgeted(session: Any) -> Any:
    """The session, its reads to end within the document budget from now."""
    session.stop_at = time.monotonic() + DOCUMENT_BUDGET
    return session


def _note_files(session: Any, seen: dict[str, tuple[int, int] | None]) -> None:
    """The state of the files the session read since the last look."""
    for mod in list(session.modules.values()):
        if mod.path and mod.path not in seen:
            seen[mod.path] = _stat(mod.path)


def lint(path: str, text: str, config: "Config") -> list[Diagnostic]:
    """Findings in this document. Never raises: whatever goes wrong is a finding at 1:1."""
    from .api import INTERNAL_ERROR, check_text, too_large
    from .readers.base import PARSE_ERROR

    size = len(text.encode("utf-8", "surrogatepass"))
    if size > config.max_file_size:
        return [too_large(path, size, config.max_file_size)]
    try:
        session = reader_session(config)
        found = check_text(path, text, config, session=_budgeted(session))
        _note_files(session, _SESSIONS[tuple(config.source_roots())][1])  # right after they were read
    except RecursionError:
        return [Diagnostic(PARSE_ERROR, "too deeply nested to read", Location(path, 1, 1), Severity.ERROR)]
    except Exception as exc:  # noqa: BLE001  (the server must outlive any document)
        log.exception("internal error on %s", path)
        return [Diagnostic(INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}", Location(path, 1, 1), Severity.ERROR)]
    here = os.path.abspath(path)
    return [d for d in found if os.path.abspath(d.loc.file) == here]



def read_models(path: str, text: str, config: "Config") -> list[tuple[Any, Any, Any]]:
    """Every model of the document with its analysis at its configured input size:
    (ReadModel, Analysis, ModelSettings). Never raises."""
    from .analysis import analyse
    from .api import read_source

    if len(text.encode("utf-8", "surrogatepass")) > config.max_file_size:
        return []
    try:  # the lint's session: imports read once, models reused
        result = read_source(path, text, session=_budgeted(reader_session(config)))
    except Exception:  # noqa: BLE001
        log.exception("reading %s for hover", path)
        return []
    out = []
    base = config.settings()
    for model in result.models:
        settings = base.merged(**model.overrides)
        try:
            out.append((model, analyse(model.graph, settings.input_size), settings))
        except Exception:  # noqa: BLE001
            log.exception("analysing %s", model.graph.name)
    return out


def _node_span(node: Any) -> tuple[int, int, int, int] | None:
    call = node.attrs.get("call") if node.attrs else None
    if call:
        return tuple(call)  # type: ignore[return-value]
    loc = node.loc
    if loc is None:
        return None
    if loc.end_line is not None and loc.end_col is not None:
        return (loc.line, loc.col, loc.end_line, loc.end_col)
    return (loc.line, 1, loc.line, 1 << 30)  # a spec layer: its line


def hover_hits(path: str, models: list[tuple[Any, Any, Any]], line: int, col: int) -> list[tuple[Any, Any, Any, Any]]:
    """(model, analysis, settings, node) for every layer whose constructor call contains
    (line, col), innermost call first."""
    here = os.path.abspath(path)
    hits = []
    for model, analysis, settings in models:
        for node in model.graph.nodes[1:]:
            if node.loc is None or os.path.abspath(node.loc.file) != here:
                continue
            span = _node_span(node)
            if span is None:
                continue
            l0, c0, l1, c1 = span
            if (l0, c0) <= (line, col) <= (l1, c1):
                hits.append((span, model, analysis, settings, node))
    if not hits:
        return []
    innermost = min(((s[2] - s[0], s[3] - s[1] if s[2] == s[0] else 0) for s, *_ in hits))
    best = [h for h in hits if (h[0][2] - h[0][0], h[0][3] - h[0][1] if h[0][2] == h[0][0] else 0) == innermost]
    span = best[0][0]
    return [(m, a, s, n) for sp, m, a, s, n in best if sp == span]


def _frac(x: Fraction | int) -> str:
    return str(Fraction(x))


def hover_markdown(hits: list[tuple[Any, Any, Any, Any]]) -> str:
    """A Markdown table per layer instance: its frame per axis, at the configured input size."""
    parts: list[str] = []
    unique = list({(m.graph.name, n.name, n.id): (m, a, s, n) for m, a, s, n in hits}.values())
    if len(unique) > 1:
        parts.append(f"This call builds {len(unique)} layers:")
    sizes_note = ""
    for shown, (model, analysis, settings, node) in enumerate(unique):
        if shown == _MAX_HOVER_INSTANCES:
            parts.append(f"_… and {len(unique) - shown} more_")
            break
        info = analysis.info(node.id)
        title = f"**{node.type_name}** `{node.name or '(unnamed)'}` in model **{model.graph.name}**"
        if not model.graph.complete:
            title += " _(partly resolved)_"
        parts.append(title)
        if info.status != "local" or info.frames is None:
            if info.status == "ended":
                parts.append("No local frame: the spatial dimensions have ended here (flattened or globally pooled).")
            else:
                parts.append(f"Receptive field unknown: {info.reason or 'not resolved statically'}.")
            continue
        names = _AXES.get(len(info.frames), tuple(str(i) for i in range(len(info.frames))))
        with_size = analysis.input_size is not None and info.sizes is not None
        header = "| axis | r | j | P |" + (" out |" if with_size else "") + " ERF |"
        rule = "|:--|--:|--:|--:|" + ("--:|" if with_size else "") + "--:|"
        rows = [header, rule]
        for axis, frame in enumerate(info.frames):
            r = str(frame.r) if frame.r == frame.r_min else f"{frame.r_min}-{frame.r}"
            if frame.has_gaps:
                r += " (gaps)"
            cells = [names[axis], r, _frac(frame.j), _frac(frame.padding)]
            if with_size:
                size = info.sizes[axis] if axis < len(info.sizes) else None
                cells.append("?" if size is None else str(size))
            erf = f"{info.moments[axis].width:.1f}" if info.moments and axis < len(info.moments) else ""
            cells.append(erf)
            rows.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(rows))
        if info.is_global:
            parts.append("Also sees the whole input through a global operation (a gate or attention).")
        if with_size:
            sizes_note = "x".join(str(n) for n in analysis.input_size)
    legend = ("r: receptive field in input pixels (r_min-r_max when output phases differ) · j: jump · "
              "P: effective padding")
    legend += f" · out: output size at input {sizes_note}" if sizes_note else " · out: set `input-size` to see output sizes"
    legend += " · ERF: effective receptive field, 4σ width"
    parts.append(f"_{legend}_")
    return "\n\n".join(parts)



# ---------------------------------------------------------------------- the child


_HOVER_MODELS: dict[str, tuple[str, list[tuple[Any, Any, Any]]]] = {}
"""The models last read for hover, per path, with the text they were read from."""


def hover(path: str, text: str, config: "Config", line: int, col: int) -> tuple[str, tuple[int, int, int, int]] | None:
    """Hover at (line, col), 1-based code points: its Markdown and the span of the call
    it describes (end column ``1 << 30`` for "the end of the line")."""
    held = _HOVER_MODELS.get(path)
    if held is None or held[0] != text:
        held = (text, read_models(path, text, config))
        _HOVER_MODELS[path] = held
    hits = hover_hits(path, held[1], line, col)
    if not hits:
        return None
    return hover_markdown(hits), _node_span(hits[0][3]) or (line, col, line, col)


REQUESTS = {"lint": lint, "hover": hover, "sleep": time.sleep}
"""What a child answers. ``sleep`` stands for a request that never ends, in the tests."""


def _child_main(conn: "Connection") -> None:
    """Answer requests until the server goes away."""
    logging.basicConfig(level=logging.WARNING, format="rflint server (worker): %(levelname)s: %(message)s")
    while True:
        try:
            kind, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            answer: tuple[str, Any] = ("ok", REQUESTS[kind](*args))
        except Exception as exc:  # noqa: BLE001  (lint and hover never raise; this is the net under them)
            log.exception("%s request", kind)
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(answer)
        except (OSError, ValueError):
            return


# ---------------------------------------------------------------------- the server's side


class Abandoned(Exception):
    """The child did not answer in time (it was killed), or died."""


class Worker:
    """One child process that answers one request at a time. A request that outlives its
    deadline gets the child killed; the next request starts a new one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._context = multiprocessing.get_context("spawn")  # the server has threads: never fork it
        self._process: Any = None
        self._conn: "Connection | None" = None
        self._lock = threading.Lock()

    def request(self, kind: str, args: tuple[Any, ...], timeout: float) -> Any:
        """The child's answer; raises Abandoned when it took longer than ``timeout``
        seconds (the child is killed) or died."""
        with self._lock:
            conn = self._connection()
            try:
                conn.send((kind, args))
                ready = conn.poll(timeout)
            except (OSError, EOFError, ValueError) as exc:
                self._kill()
                raise Abandoned(f"the worker process failed ({exc})") from None
            if not ready:
                self._kill()
                raise Abandoned(f"no answer within {timeout:g} s")
            try:
                status, value = conn.recv()
            except (OSError, EOFError) as exc:
                self._kill()
                raise Abandoned(f"the worker process died ({type(exc).__name__})") from None
        if status != "ok":
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        """Kill the child at once (shutdown): nothing it does is worth waiting for. A thread
        waiting on it sees the pipe end and clears up."""
        process = self._process
        if process is not None:
            process.kill()

    def _connection(self) -> "Connection":
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._kill()
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_child_main, args=(child,), name=f"rflint-{self.name}", daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent
        return parent

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None and process.is_alive():
            process.kill()
            process.join(1.0)


def abandoned_finding(path: str, why: str) -> Diagnostic:
    """What the editor shows for a document whose read was abandoned."""
    from .api import INCOMPLETE_MODEL

    return Diagnostic(INCOMPLETE_MODEL, f"not checked: reading this document was abandoned ({why}); "
                      f"`rflint check {os.path.basename(path)}` reads it without the editor's time limit",
                      Location(path, 1, 1), Severity.WARNING)
