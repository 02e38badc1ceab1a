"""``rflint server``: rflint as a language server (pygls 2), for any editor with an LSP client.

What it does, per open document (``.py`` files and layer specs):

- publishes diagnostics on open, on save and on every change (optionally
  debounced; the latest version wins: a result computed for an older text is
  dropped), with
  the configuration that applies to the document's path, as ``rflint check``
  would find it;
- offers quick fixes for findings that carry a fix (preferred when the fix is
  safe), and a "Disable CODE for this line (# noqa: CODE)" action;
- on hover over a layer's constructor call, shows that layer's frame per
  axis: receptive field, jump, effective padding, output size at the
  configured input size, ERF width, with the model and the layer path.

The DESIGN calls the server "just another format plus a loop": all the work
is rflint.api's ``check_text`` and the analysis; this module converts
positions (rflint's 1-based code-point columns to the client's 0-based
UTF-16, UTF-8 or UTF-32 units) and schedules. Reading runs in child processes
(``lsp_worker.py``), so the event loop stays free to answer and to receive newer
text, a document that outlives its deadline is abandoned, and a slow document
holds one lane while the others' go on in the second.

Only ``rflint server`` imports this module (pygls is an optional extra).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from . import __version__
from .diagnostics import Diagnostic, Severity
from .ir import Location
from .lsp_worker import DOCUMENT_BUDGET, GRACE, Abandoned, Worker, abandoned_finding

if TYPE_CHECKING:
    from .config import Config

log = logging.getLogger("rflint.lsp")

DEBOUNCE_SECONDS = 0.0
"""Wait this long after a change before linting; a newer change restarts the wait. None by
default, as ruff's server: a lint of a 1,000-line file takes ~90 ms (models unchanged by
the edit come from api's memo), a newer change cancels a lint that has not started, and
the single worker never queues more than one."""
SOURCE = "rflint"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_SPEC_MARK = re.compile(r"""(?:^|[{,])\s*["']?rflint-spec["']?\s*:""", re.MULTILINE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# The same pattern ``check`` honours (api._filter), so the action writes what suppresses.
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


# ---------------------------------------------------------------------- positions


def split_lines(text: str) -> list[str]:
    """The document's lines as LSP counts them (``\\n``, ``\\r\\n`` and ``\\r`` end a line;
    ``str.splitlines`` would also split at form feeds and other separators)."""
    return _LINE_BREAK.split(text)


class Positions:
    """Conversion between rflint's 1-based (line, code-point column) and LSP positions
    in the encoding negotiated with the client, for one snapshot of a document."""

    def __init__(self, lines: Sequence[str], units: Any) -> None:
        self.lines = lines
        self.units = units  # pygls PositionCodec: client_num_units(str) -> int

    def to_lsp(self, line: int, col: int) -> types.Position:
        index = line - 1
        if index < 0:
            return types.Position(0, 0)
        if index >= len(self.lines):
            last = len(self.lines) - 1
            return types.Position(last, self.units.client_num_units(self.lines[last]))
        text = self.lines[index]
        return types.Position(index, self.units.client_num_units(text[: max(col - 1, 0)]))

    def from_lsp(self, position: types.Position) -> tuple[int, int]:
        """(line, column), 1-based, in code points."""
        if position.line >= len(self.lines):
            return len(self.lines), len(self.lines[-1]) + 1
        text = self.lines[position.line]
        units = 0
        for i, ch in enumerate(text):
            if units >= position.character:
                return position.line + 1, i + 1
            units += self.units.client_num_units(ch)
        return position.line + 1, len(text) + 1

    def range(self, loc: Location) -> types.Range:
        start = self.to_lsp(loc.line, loc.col)
        if loc.end_line is not None and loc.end_col is not None and (loc.end_line, loc.end_col) > (loc.line, loc.col):
            end = self.to_lsp(loc.end_line, loc.end_col)
        else:  # a point (a file that does not parse, a spec key): underline to the end of its line
            index = min(max(loc.line - 1, 0), len(self.lines) - 1)
            end = types.Position(index, self.units.client_num_units(self.lines[index]))
            if (end.line, end.character) <= (start.line, start.character):
                end = start
        return types.Range(start, end)


def _overlaps(a: types.Range, b: types.Range) -> bool:
    """Whether two ranges share a position (a cursor touching a range counts)."""
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and \
        (b.start.line, b.start.character) <= (a.end.line, a.end.character)


# ---------------------------------------------------------------------- documents


def document_path(uri: str, language_id: str | None, root: str | None) -> str:
    """The file a document is linted as: its path, or for an unsaved buffer a name in
    the workspace root (so that the workspace's configuration applies)."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    if path is None:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", uri.rsplit("/", 1)[-1].split(":")[-1]) or "untitled"
        if language_id == "python" and not name.endswith(".py"):
            name += ".py"
        path = os.path.join(root or os.getcwd(), name)
    return path


def lintable(path: str, text: str) -> bool:
    """Python files, and layer specs: ``*.rflint.yaml|yml|json``, or a YAML/JSON file that
    declares ``rflint-spec``. Other YAML and JSON (CI files, package.json) are not specs
    and are left alone (``rflint check`` would call them unreadable)."""
    lower = path.lower()
    if lower.endswith((".py", ".pyi")):
        return True
    if lower.endswith(SPEC_SUFFIXES):
        return ".rflint." in os.path.basename(lower) or bool(_SPEC_MARK.search(text[:4000]))
    return False


@dataclass
class Snapshot:
    """One version of a document and what rflint found in it."""

    version: int | None
    text: str
    path: str
    findings: list[tuple[Diagnostic, types.Diagnostic]] = field(default_factory=list)
    config: "Config | None" = None


# ---------------------------------------------------------------------- linting


class Configs:
    """The configuration for each document path, re-read when its file changes on disk."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, int, int], tuple["Config", str | None]] = {}

    def for_path(self, path: str, root: str | None) -> tuple["Config", str | None]:
        """(configuration, error message or None). A broken configuration is reported
        and the defaults are used, so the editor still shows findings."""
        from .config import ConfigError, default_config, find_config, load_config

        found = find_config(Path(path))
        if found is None:
            base = root if root and os.path.abspath(path).startswith(os.path.abspath(root) + os.sep) else os.path.dirname(path)
            return default_config(Path(base or ".")), None
        try:
            stat = found.stat()
            stamp = (str(found), stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = (str(found), 0, 0)
        if stamp not in self._loaded:
            try:
                from .api import _check_codes

                config = load_config(found, cache=False)  # an editor writes nothing to the project
                _check_codes(config)
                self._loaded[stamp] = (config, None)
            except ConfigError as exc:
                self._loaded[stamp] = (default_config(found.parent), f"rflint: configuration error, using the defaults:\n{exc}")
        return self._loaded[stamp]


def to_lsp_diagnostic(d: Diagnostic, positions: Positions) -> types.Diagnostic:
    notes = []
    if d.model and d.name:
        notes.append(f"in model `{d.model}`, layer `{d.name}`")
    elif d.model:
        notes.append(f"in model `{d.model}`")
    if d.loc.chain:
        notes.append("via " + " -> ".join(d.loc.chain))
    if d.fix is not None:
        notes.append(f"fix ({'safe' if d.fix.safe else 'unsafe'}): {d.fix.description}")
    message = d.message + "".join(f"\n{n}" for n in notes)
    return types.Diagnostic(
        range=positions.range(d.loc), message=message, severity=_SEVERITY.get(d.severity, types.DiagnosticSeverity.Warning),
        code=d.code, source=SOURCE,
    )


# ---------------------------------------------------------------------- code actions


def noqa_edit(line_text: str, code: str) -> tuple[int, int, str] | None:
    """The edit that makes ``# noqa`` on this line cover ``code``, as (start, end, text) in
    0-based code points of the line; None when the line already suppresses it."""
    match = _NOQA.search(line_text)
    if match is None:
        kept = line_text.rstrip()
        return len(kept), len(line_text), f"  # noqa: {code}"
    codes = match.group("codes")
    if codes is None:
        return None  # a bare ``# noqa`` already suppresses every code
    if code.upper() in {c.strip().upper() for c in codes.split(",")}:
        return None
    end = match.end("codes")
    return end, end, f", {code}"


def _workspace_edit(uri: str, version: int | None, edits: list[types.TextEdit], versioned: bool) -> types.WorkspaceEdit:
    if versioned:
        doc = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=doc, edits=edits)])
    return types.WorkspaceEdit(changes={uri: edits})


def code_actions(uri: str, snap: Snapshot, positions: Positions, wanted: types.Range,
                 versioned: bool) -> list[types.CodeAction]:
    """Quick fixes and noqa actions for the findings that touch ``wanted``."""
    fixes: list[types.CodeAction] = []
    noqas: list[types.CodeAction] = []
    noqa_done: set[tuple[int, str]] = set()
    comments = not snap.path.lower().endswith(".json")  # JSON has no comments
    for d, item in snap.findings:
        if not _overlaps(item.range, wanted):
            continue
        if d.fix is not None and d.fix.edits:
            edits = [types.TextEdit(range=types.Range(positions.to_lsp(e.line, e.col), positions.to_lsp(e.end_line, e.end_col)),
                                    new_text=e.replacement) for e in d.fix.edits]
            title = f"{d.fix.description} ({d.code})" if d.fix.safe else f"{d.fix.description} ({d.code}, unsafe fix)"
            fixes.append(types.CodeAction(
                title=title, kind=types.CodeActionKind.QuickFix, diagnostics=[item], is_preferred=d.fix.safe,
                edit=_workspace_edit(uri, snap.version, edits, versioned),
            ))
        line = d.loc.line
        if comments and (line, d.code) not in noqa_done and 0 < line <= len(positions.lines):
            noqa_done.add((line, d.code))
            edit = noqa_edit(positions.lines[line - 1], d.code)
            if edit is not None:
                start, end, new_text = edit
                text_edit = types.TextEdit(types.Range(positions.to_lsp(line, start + 1), positions.to_lsp(line, end + 1)), new_text)
                noqas.append(types.CodeAction(
                    title=f"Disable {d.code} for this line (# noqa: {d.code})", kind=types.CodeActionKind.QuickFix,
                    diagnostics=[item], edit=_workspace_edit(uri, snap.version, [text_edit], versioned),
                ))
    return fixes + noqas


# ---------------------------------------------------------------------- hover


# ---------------------------------------------------------------------- the server


@dataclass(frozen=True)
class _Refused:
    """A message whose params do not have the shape its method needs."""

    id: Any  # None for a notification
    method: str
    why: str
    jsonrpc: str = "2.0"


def _why(exc: Exception) -> str:
    """What is wrong with the params, in cattrs' words (``required field missing @ $.params.position``)."""
    from cattrs import transform_error
    from cattrs.errors import ClassValidationError

    if isinstance(exc, ClassValidationError):
        return "; ".join(transform_error(exc, path="$")[:3])
    return f"{type(exc).__name__}: {exc}"


class Protocol(LanguageServerProtocol):
    """pygls's protocol, but a request whose params do not fit its method is answered with
    an InvalidParams error, as JSON-RPC asks; pygls logs it and never answers, so the
    client waits for ever. A notification with bad params is logged in one line."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        method = data.get("method") if "jsonrpc" in data else None
        message_type = self.get_message_type(method) if isinstance(method, str) else None
        if message_type is None:
            return super().structure_message(data)
        try:
            return self._converter.structure(data, message_type)
        except Exception as exc:  # noqa: BLE001  (whatever the client sent, it gets an answer)
            return _Refused(data.get("id"), method, _why(exc))  # type: ignore[arg-type]

    def handle_message(self, message: Any) -> None:
        if not isinstance(message, _Refused):
            super().handle_message(message)
            return
        log.warning("invalid params for %s: %s", message.method, message.why)
        if message.id is not None:
            self._send_response(message.id, None, types.ResponseError(
                code=types.ErrorCodes.InvalidParams, message=f"invalid params for {message.method}: {message.why}"))


class Lanes:
    """Two child processes that read documents. A document goes to the lane that read it
    last (its models and imports are there), unless that lane is busy with another
    document: then to the free one, so a slow document never holds up the rest. A
    second request for a busy document waits for its own lane."""

    def __init__(self) -> None:
        self.workers = [Worker("main"), Worker("spare")]
        self.busy: list[str | None] = [None] * len(self.workers)
        self.last: dict[str, int] = {}
        self.threads = ThreadPoolExecutor(max_workers=len(self.workers), thread_name_prefix="rflint")
        self._changed: asyncio.Condition | None = None

    async def run(self, uri: str, kind: str, args: tuple[Any, ...]) -> Any:
        """The answer of a lane's child (raises Abandoned when it was killed at the deadline)."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            while (lane := self._choose(uri)) is None:
                await self._changed.wait()
            self.busy[lane] = uri
            self.last[uri] = lane
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.threads, self.workers[lane].request, kind, args, DOCUMENT_BUDGET + GRACE)
        finally:
            async with self._changed:
                self.busy[lane] = None
                self._changed.notify_all()

    def _choose(self, uri: str) -> int | None:
        own = self.last.get(uri, 0)
        if self.busy[own] is None:
            return own
        if self.busy[own] == uri:
            return None
        return next((i for i, held in enumerate(self.busy) if held is None), None)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.threads.shutdown(wait=False, cancel_futures=True)


class RflintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("rflint", __version__, protocol_cls=Protocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.snapshots: dict[str, Snapshot] = {}
        self.pending: dict[str, asyncio.Task[None]] = {}
        self.configs = Configs()
        self.lanes = Lanes()
        self.config_errors_shown: set[str] = set()
        self.debounce = DEBOUNCE_SECONDS

    # -- helpers

    @property
    def root(self) -> str | None:
        try:
            return self.workspace.root_path
        except Exception:  # noqa: BLE001  (before initialize)
            return None

    def positions(self, lines: Sequence[str]) -> Positions:
        return Positions(lines, self.workspace.position_codec)

    def open_document(self, uri: str) -> Any | None:
        return self.workspace.text_documents.get(uri)

    def versioned_edits(self) -> bool:
        caps = self.client_capabilities
        edit = caps.workspace.workspace_edit if caps and caps.workspace else None
        return bool(edit and edit.document_changes)

    async def snapshot(self, uri: str, force: bool = False) -> Snapshot | None:
        """The linted snapshot of the document's current text (linting it if needed)."""
        doc = self.open_document(uri)
        if doc is None:
            return None
        version, text = doc.version, doc.source
        snap = self.snapshots.get(uri)
        if snap is not None and not force and snap.version == version and snap.text == text:
            return snap
        path = document_path(uri, doc.language_id, self.root)
        if not lintable(path, text):
            snap = Snapshot(version, text, path)
        else:
            config, error = self.configs.for_path(path, self.root)
            if error and error not in self.config_errors_shown:
                self.config_errors_shown.add(error)
                self.window_show_message(types.ShowMessageParams(types.MessageType.Error, error))
            try:
                found = await self.lanes.run(uri, "lint", (path, text, config))
            except Abandoned as exc:
                found = [abandoned_finding(path, str(exc))]
            except RuntimeError:
                log.exception("linting %s", uri)
                found = []
            positions = self.positions(split_lines(text))
            snap = Snapshot(version, text, path, [(d, to_lsp_diagnostic(d, positions)) for d in found], config)
        current = self.snapshots.get(uri)
        if current is None or current.version is None or snap.version is None or snap.version >= current.version:
            self.snapshots[uri] = snap
        return snap

    def schedule(self, uri: str, delay: float, force: bool = False) -> None:
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        self.pending[uri] = asyncio.get_running_loop().create_task(self._lint_later(uri, delay, force))

    async def _lint_later(self, uri: str, delay: float, force: bool) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            snap = await self.snapshot(uri, force)
            doc = self.open_document(uri)
            if snap is None or doc is None or doc.version != snap.version:
                return  # closed, or changed meanwhile: the newer change publishes
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=uri, version=snap.version, diagnostics=[item for _, item in snap.findings],
            ))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.exception("linting %s", uri)
        finally:
            if self.pending.get(uri) is asyncio.current_task():
                del self.pending[uri]


def create_server() -> RflintServer:
    server = RflintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: RflintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: RflintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    async def did_save(ls: RflintServer, params: types.DidSaveTextDocumentParams) -> None:
        # Saving can change what other documents see (a configuration, an imported
        # block): re-read this one now and the others after the usual pause.
        ls.schedule(params.text_document.uri, 0, force=True)
        for uri in list(ls.snapshots):
            if uri != params.text_document.uri:
                ls.schedule(uri, ls.debounce, force=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: RflintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        task = ls.pending.pop(uri, None)
        if task is not None:
            task.cancel()
        ls.snapshots.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix], resolve_provider=False),
    )
    async def code_action(ls: RflintServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        only = params.context.only
        if only and not any(k == types.CodeActionKind.QuickFix or types.CodeActionKind.QuickFix.startswith(f"{k}.")
                            or k == types.CodeActionKind.Empty for k in only):
            return None
        snap = await ls.snapshot(params.text_document.uri)
        if snap is None or not snap.findings:
            return None
        positions = ls.positions(split_lines(snap.text))
        return code_actions(params.text_document.uri, snap, positions, params.range, ls.versioned_edits()) or None

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: RflintServer, params: types.HoverParams) -> types.Hover | None:
        snap = await ls.snapshot(params.text_document.uri)
        if snap is None or snap.config is None:
            return None
        positions = ls.positions(split_lines(snap.text))
        line, col = positions.from_lsp(params.position)
        try:
            found = await ls.lanes.run(params.text_document.uri, "hover", (snap.path, snap.text, snap.config, line, col))
        except (Abandoned, RuntimeError):
            log.exception("hover in %s", snap.path)
            return None
        if found is None:
            return None
        markdown, (l0, c0, l1, c1) = found
        if c1 >= 1 << 30:
            c1 = len(positions.lines[l1 - 1]) + 1 if 0 < l1 <= len(positions.lines) else c0
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=types.Range(positions.to_lsp(l0, c0), positions.to_lsp(l1, c1)),
        )

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: RflintServer, params: None) -> None:
        for task in ls.pending.values():
            task.cancel()
        ls.lanes.close()

    return server


def serve(debounce: float | None = None) -> int:
    """Run the server on standard input and output until the client says exit."""
    logging.basicConfig(level=logging.WARNING, format="rflint server: %(levelname)s: %(message)s")
    server = create_server()
    if debounce is not None:
        server.debounce = debounce
    server.start_io()
    return 0


__all__ = ["RflintServer", "create_server", "serve", "noqa_edit", "split_lines", "Positions", "lintable"]
