"""rflint's one small API: the CLI and the language server both call it.

``check_paths`` lints files and directories; ``check_text`` lints one buffer
(editors, tests, the rule pages' examples); ``explain`` builds one model and
returns its per-layer receptive fields. Readers, rules and formats are
reached only from here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from .analysis import Analysis, analyse, settled
from .checks.base import BeyondLimits, ModelContext, Rule, all_rules, run_rules
from .diagnostics import LINE_BREAK, Diagnostic, Severity, source_lines
from .ir import Graph, Location
from .readers.base import PARSE_ERROR, UNRESOLVED, ReaderError, ReadModel, ReadResult
from .settings import ModelSettings

if TYPE_CHECKING:
    from .config import Config

INTERNAL_ERROR = "RL000"
UNUSED_NOQA = "RL003"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
EXPORT_SUFFIXES = (".onnx", ".pt2")
"""Exported models: binary files, read by readers that need an optional extra."""
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle")
"""Pickled checkpoints: refused, since unpickling runs code."""
READ_SUFFIXES = (".py", ".pyi", *SPEC_SUFFIXES, *EXPORT_SUFFIXES, *PICKLE_SUFFIXES)
"""What a named file must end with to be read (pickles are read only to be refused, said)."""
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)


@dataclass(frozen=True)
class CheckResult:
    """Findings of a run, the files read, and errors that are not about one file's content."""

    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...]
    errors: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Explanation:
    """One model, analysed: what ``rflint explain`` prints."""

    model: ReadModel
    analysis: Analysis
    settings: ModelSettings


# ---------------------------------------------------------------------- reading


def read_source(path: str, text: str, entries: Sequence[str] = (), session: object | None = None,
                input_size: Sequence[int] | None = None) -> ReadResult:
    """Pick the reader by file type. Readers are imported lazily: each costs start-up time."""
    if path.endswith(SPEC_SUFFIXES):
        from .readers.spec import read_spec

        return read_spec(path, text)
    from .readers.python import read_python

    return read_python(path, text, entries=entries, session=session, input_size=input_size)  # type: ignore[arg-type]


def is_binary_model(path: str) -> bool:
    """Files read as bytes (exported models) or refused (pickles), never as text."""
    return path.lower().endswith(EXPORT_SUFFIXES + PICKLE_SUFFIXES)




def read_binary(path: str, data: bytes) -> ReadResult:
    """Read an exported model (ONNX, torch.export ``.pt2``), or refuse a pickle.
    Without the onnx package, an ONNX file is a finding that says what to install."""
    lower = path.lower()
    if lower.endswith(PICKLE_SUFFIXES):
        return _error(path, "refusing to read a pickled checkpoint: unpickling runs arbitrary code. "
                            "Export the model instead (torch.onnx.export(model, x, 'model.onnx') or "
                            "torch.export.save(torch.export.export(model, (x,)), 'model.pt2')), "
                            "or lint its source: rflint check model.py, or --trace module:factory")
    if not lower.endswith(".onnx"):
        # A .pt2 is read from its JSON graph, without torch (see readers/torch.py): a
        # pre-commit environment without torch reads it too.
        from .readers.torch import read_program

        return read_program(path, data)
    from importlib.util import find_spec

    if find_spec("onnx") is None:
        return _error(path, "reading ONNX files needs the onnx package: pip install 'rflint[onnx]'")
    from .readers.onnx import read_onnx

    return read_onnx(path, data)


def _error(path: str, message: str) -> ReadResult:
    return ReadResult(diagnostics=(Diagnostic(PARSE_ERROR, message, Location(path, 1, 1), Severity.ERROR),))


def too_large(path: str, size: int, limit: int) -> Diagnostic:
    """The finding for a file above ``max-file-size``: Python's parser alone would take
    some 400 bytes of memory per byte of it."""
    return Diagnostic(PARSE_ERROR, f"file is {size:,} bytes, more than max-file-size ({limit:,}): skipped "
                                   "(raise max-file-size to check it)", Location(path, 1, 1), Severity.ERROR)


def _read_bytes(path: str, limit: int | None = None) -> bytes | Diagnostic:
    """A file's bytes, when it is a regular file (a FIFO would block, a device never end)
    of at most ``limit`` bytes; else a finding that says why it was skipped."""
    where = Location(path, 1, 1)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return Diagnostic(PARSE_ERROR, f"cannot read file: {exc.strerror or exc}", where, Severity.ERROR)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return Diagnostic(PARSE_ERROR, "not a regular file (a pipe, device or socket): skipped", where, Severity.ERROR)
        if limit is not None and info.st_size > limit:
            return too_large(path, info.st_size, limit)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    except OSError as exc:
        return Diagnostic(PARSE_ERROR, f"cannot read file: {exc.strerror or exc}", where, Severity.ERROR)
    finally:
        os.close(fd)


def _read_text(path: str, limit: int | None = None) -> str | Diagnostic:
    data = _read_bytes(path, limit)
    if isinstance(data, Diagnostic):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Diagnostic(PARSE_ERROR, f"not UTF-8 text (byte {exc.start})", Location(path, 1, 1), Severity.ERROR)


# ---------------------------------------------------------------------- checking


def enabled_rules(config: "Config | None", path: str | None) -> list[Rule]:
    """Instances of the rules that apply to ``path`` under ``config``."""
    rules = all_rules()
    if config is None:
        return [cls() for cls in rules.values() if cls.enabled_by_default]
    return [cls() for code, cls in rules.items() if config.is_enabled(code, path, cls.enabled_by_default)]


def check_text(path: str, text: str, config: "Config | None" = None, show_unresolved: bool = False,
               entries: Sequence[tuple[str, dict]] = (), session: object | None = None,
               dependencies: list[str] | None = None) -> list[Diagnostic]:
    """Lint one buffer as if it were the file ``path``: every enabled rule's findings,
    with the configuration's settings and the pragmas written in the text.

    ``entries`` are models named for this file (``Name(args)``, from the command
    line or the configuration's ``[[models]]``) with their own settings, which
    win over a pragma; ``dependencies`` receives the other files read.
    """
    base = config.settings() if config is not None else ModelSettings()
    rules = enabled_rules(config, path)
    result = read_source(path, text, [name for name, _ in entries], session, base.input_size)
    if dependencies is not None:
        dependencies.extend(result.dependencies)
    return check_result(path, result, text, config, show_unresolved, entries, rules)


def check_data(path: str, data: bytes, config: "Config | None" = None, show_unresolved: bool = False) -> list[Diagnostic]:
    """Lint an exported model file (ONNX, ``.pt2``) given its bytes; refuse a pickle."""
    return check_result(path, read_binary(path, data), None, config, show_unresolved)


def check_result(path: str, result: ReadResult, text: str | None, config: "Config | None" = None,
                 show_unresolved: bool = False, entries: Sequence[tuple[str, dict]] = (),
                 rules: list[Rule] | None = None) -> list[Diagnostic]:
    """Run the enabled rules on what a reader read from ``path`` (``text`` is the file's
    source, for ``# noqa``; None for files without lines, whose findings carry a node)."""
    base = config.settings() if config is not None else ModelSettings()
    if rules is None:
        rules = enabled_rules(config, path)
    show_unresolved = show_unresolved or any(r.code == UNRESOLVED for r in rules)
    entry_settings = {name: keys for name, keys in entries}
    found: list[Diagnostic] = [d for d in result.diagnostics if d.code != UNRESOLVED or show_unresolved]
    for model in result.models:
        settings = base.merged(**model.overrides).merged(**entry_settings.get(model.graph.name, {}))
        own = [r for r in rules if not r.needs_complete_graph] if model.block else rules
        diags, errors, graph = _model_findings(model.graph, settings, own)
        found.extend(diags)
        for code, exc in errors:
            if isinstance(exc, BeyondLimits):
                if show_unresolved:
                    found.append(Diagnostic(UNRESOLVED, f"{model.graph.name}: {code} did not run: {exc}",
                                            model.graph.loc or Location(path, 1, 1), Severity.INFO, model=model.graph.name))
                continue
            found.append(Diagnostic(
                INTERNAL_ERROR, f"internal error in rule {code} on model {model.graph.name}: {type(exc).__name__}: {exc}",
                Location(path, 1, 1), Severity.ERROR, model=model.graph.name,
            ))
        if show_unresolved:
            found.extend(
                Diagnostic(UNRESOLVED, f"{graph.name}: {u.reason}", u.loc, Severity.INFO, model=graph.name)
                for u in graph.unresolved if u.loc is not None and u.loc.file == path
            )
        if not model.block and not graph.complete and any(r.code == INCOMPLETE_MODEL for r in rules):
            found.append(_incomplete(graph, path, show_unresolved))
    kept = _filter([_place(d, path) for d in found], text, config, path,
                   unused_noqa=text is not None and any(r.code == UNUSED_NOQA for r in rules))
    return sorted(kept, key=Diagnostic.sort_key)


INCOMPLETE_MODEL = "RL004"


def _incomplete(graph: Graph, path: str, shown: bool) -> Diagnostic:
    """RL004: a model the reader could not follow to the end. Its receptive field and the
    model-level rules are not known, which a run must say rather than pass."""
    reasons = list(dict.fromkeys(graph.unresolved))
    said = f"{len(reasons)} unresolved construct{'s' if len(reasons) != 1 else ''}"
    if reasons:
        u = reasons[0]
        where = f"{_shown_path(u.loc.file)}:{u.loc.line}: " if u.loc is not None else ""
        said += f"; the first: {where}{u.reason}"
    hint = "" if shown else " --show-unresolved lists them."
    loc = graph.loc if graph.loc is not None else Location(path, 1, 1)
    return Diagnostic(INCOMPLETE_MODEL, f"{graph.name} was not read completely ({said}): its receptive field is not known "
                      f"and the model-level rules did not run.{hint}", loc, Severity.INFO, model=graph.name)


def _shown_path(file: str) -> str:
    try:
        return os.path.relpath(file)
    except ValueError:
        return file


_MODEL_MEMO: "OrderedDict[bytes, tuple[list[Diagnostic], list[tuple[str, Exception]], Graph]]" = OrderedDict()
_MODEL_MEMO_SIZE = 512


def _model_findings(graph: Graph, settings: ModelSettings,
                    rules: list[Rule]) -> tuple[list[Diagnostic], list[tuple[str, Exception]], Graph]:
    """The rules' findings on one model, and the graph as the analysis settled it (a node
    the analysis could not give a frame makes it incomplete, with the reason), remembered
    by the model's whole content.

    An editor re-lints a file on every keystroke, and most of its models come out of
    the reader unchanged: same operators, attributes, places and settings, hence the
    same findings. The key is a digest of the graph's ``repr`` (which, unlike its hash,
    includes every node's attributes and location), the settings' and the rule codes.
    """
    key = hashlib.blake2b(
        "\0".join((repr(graph), repr(settings), ",".join(r.code for r in rules))).encode("utf-8", "surrogatepass"),
        digest_size=20,
    ).digest()
    hit = _MODEL_MEMO.get(key)
    if hit is not None:
        _MODEL_MEMO.move_to_end(key)
        return hit
    erf = any(r.needs_erf and r.applicable(settings) for r in rules)
    analysis = settled(analyse(graph, settings.input_size, erf=erf))
    ctx = ModelContext(analysis.graph, analysis, settings)
    found = (*run_rules(ctx, rules), analysis.graph)
    _MODEL_MEMO[key] = found
    if len(_MODEL_MEMO) > _MODEL_MEMO_SIZE:
        _MODEL_MEMO.popitem(last=False)
    return found


def _is_library(file: str) -> bool:
    """Installed packages and rflint's bundled stand-ins: not the user's to edit."""
    parts = Path(file).parts
    return "site-packages" in parts or "dist-packages" in parts or file.startswith(_STUBS)


_STUBS = str(Path(__file__).resolve().parent / "readers" / "python" / "stubs")
_FRAME = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+) (?P<name>.*)$")


def _place(d: Diagnostic, path: str) -> Diagnostic:
    """Where a finding is shown. A layer built inside an installed package (a torchvision
    block a user model instantiates) is reported at the innermost call in the user's own
    code that led there, with the rest of the chain kept as the note; paths are shown
    relative to the working directory."""
    loc = d.loc
    if loc.file != path and _is_library(loc.file):
        frames = [(_FRAME.match(step), step) for step in loc.chain]
        for i in range(len(frames) - 1, -1, -1):
            m = frames[i][0]
            if m and not _is_library(m.group("file")):
                file = path if os.path.abspath(m.group("file")) == os.path.abspath(path) else _display(m.group("file"))
                chain = tuple(step for _, step in frames[:i]) + (f"{loc.file}:{loc.line}:{loc.col} {d.name or 'layer'}",)
                loc = Location(file, int(m.group("line")), int(m.group("col")), chain=chain)
                return dataclasses.replace(d, loc=loc, fix=None)
    if loc.file != path:
        shown = path if os.path.abspath(loc.file) == os.path.abspath(path) else _display(loc.file)
        if shown != loc.file:
            return dataclasses.replace(d, loc=dataclasses.replace(loc, file=shown))
    return d


def place_key(d: Diagnostic) -> tuple:
    """Where a finding is, for reporting each place once: the line and column, or the
    node of an exported model (whose findings all sit on line 1)."""
    return (*d.loc.place, d.code)


def _filter(found: Iterable[Diagnostic], text: str | None, config: "Config | None", path: str,
            unused_noqa: bool = False) -> list[Diagnostic]:
    """Report each place and code once, drop what ``# noqa`` and the configuration
    switch off (for an exported model's nodes, ``per-file-ignores`` with a node
    pattern). The first finding at a place wins: readers list complete models first,
    whose messages have the most to say. With RL003 on, ``# noqa`` comments of this
    file that suppressed none of the rflint codes they name are reported."""
    lines = source_lines(text) if text is not None else []
    seen: set[tuple] = set()
    kept: list[Diagnostic] = []
    used: dict[int, set[str]] = {}
    for d in found:
        key = place_key(d)
        if key in seen:
            continue
        seen.add(key)
        node = d.loc.node.name if d.loc.node else None
        if config is not None and d.code not in (PARSE_ERROR, INTERNAL_ERROR) and not config.is_enabled(d.code, d.loc.file, True, node):
            continue
        if d.loc.node is not None:
            kept.append(d)
            continue
        if _suppressed(d, lines if d.loc.file == path else _lines_of(d.loc.file)):
            if d.loc.file == path:
                used.setdefault(d.loc.line, set()).add(d.code)
            continue
        kept.append(d)
    if unused_noqa:
        kept.extend(_unused_noqa(path, lines, used))
    return kept


_RFLINT_CODE = re.compile(r"^(RF|AA|CB|PD|DL|ST|NM|CC|RL)[0-9]{3}$")


def _unused_noqa(path: str, lines: Sequence[str], used: dict[int, set[str]]) -> list[Diagnostic]:
    """RL003: ``# noqa: CODES`` naming rflint codes, some of which suppressed nothing."""
    from .diagnostics import Edit, Fix

    out = []
    for number, line in enumerate(lines, 1):
        match = _NOQA.search(line)
        if not match or match.group("codes") is None:
            continue
        codes = [c.strip().upper() for c in match.group("codes").split(",")]
        ours = [c for c in codes if _RFLINT_CODE.match(c)]
        unused = [c for c in ours if c not in used.get(number, set())]
        if not unused:
            continue
        keep = [c for c in codes if c not in unused]
        start, end = match.start(), match.end()
        if keep:
            replacement = line[start:match.start("codes")] + ", ".join(keep)
        else:
            while start > 0 and line[start - 1] in " \t":
                start -= 1  # the comment and the spaces before it
            replacement = ""
        fix = Fix(f"Remove unused {', '.join(unused)}", (Edit(number, start + 1, number, end + 1, replacement),), safe=True)
        out.append(Diagnostic(UNUSED_NOQA, f"Unused `noqa` directive (unused: {', '.join(unused)})",
                              Location(path, number, match.start() + 1), Severity.WARNING, fix))
    return out


def _lines_of(file: str) -> list[str]:
    """Another file's lines, for its ``# noqa`` comments."""
    text = _read_text(file)
    return [] if isinstance(text, Diagnostic) else source_lines(text)


def _suppressed(d: Diagnostic, lines: Sequence[str]) -> bool:
    if not 0 < d.loc.line <= len(lines):
        return False
    match = _NOQA.search(lines[d.loc.line - 1])
    if not match:
        return False
    codes = match.group("codes")
    if codes is None:
        return True
    return d.code in {c.strip().upper() for c in codes.split(",")}


def check_paths(paths: Sequence[str | Path], config: "Config | None" = None, show_unresolved: bool = False,
                discover_config: bool = True, overrides: dict | None = None, use_cache: bool = True,
                jobs: int | None = None, progress: Callable[[int, int], None] | None = None) -> CheckResult:
    """Lint files and directories. Each file uses the nearest configuration file
    (``config`` when given), with command-line ``overrides`` applied on top.
    Unchanged files come from the cache; the rest are checked in parallel, and
    ``progress(done, total)`` hears of each one checked."""
    from .cache import ResultCache, content_hash, key

    content_hash.cache_clear()  # files may have changed since an earlier run in this process
    from .config import default_config, find_config, load_config
    from .discovery import iter_files

    configs: dict[Path, "Config"] = {}
    found_in: dict[Path, Path | None] = {}  # directory -> its configuration file, for this run

    def config_for(target: Path) -> "Config":
        if config is not None:
            return config
        found = find_config(target, found_in) if discover_config else None
        cache_key = found or Path("<defaults>")
        if cache_key not in configs:
            loaded = load_config(found, cache=use_cache) if found else default_config()
            loaded = loaded.with_overrides(**(overrides or {})) if overrides else loaded
            _check_codes(loaded)
            configs[cache_key] = loaded
        return configs[cache_key]

    if config is not None:
        _check_codes(config)
    targets: dict[str, list[str]] = {}  # FILE::ENTRY on the command line
    plain: list[Path] = []
    for p in paths:
        file, entry = split_target(str(p))
        plain.append(Path(file))
        if entry:
            targets.setdefault(os.path.abspath(file), []).append(entry)
    root_config = config_for(plain[0] if plain else Path.cwd())
    files, errors = iter_files(plain, root_config)
    results: list[list[Diagnostic]] = [[] for _ in files]
    sources: dict[str, str] = {}
    todo: list[tuple[int, str, str, "Config", str]] = []
    caches: dict[Path, ResultCache] = {}
    for i, file in enumerate(files):
        path = _display(file)
        file_config = config_for(file)
        if not path.lower().endswith(READ_SUFFIXES):
            readable = ", ".join((".py", ".pyi", *SPEC_SUFFIXES, *EXPORT_SUFFIXES))
            results[i] = [Diagnostic(PARSE_ERROR, f"not a file rflint reads (it reads {readable}): skipped",
                                     Location(path, 1, 1), Severity.ERROR)]
            continue
        binary = is_binary_model(path)
        text = _read_bytes(str(file)) if binary else _read_text(str(file), file_config.max_file_size)
        if isinstance(text, Diagnostic):
            results[i] = [Diagnostic(text.code, text.message, Location(path, 1, 1), text.severity)]
            continue
        if isinstance(text, str):
            sources[path] = text
        entries = _entries_for(file, file_config, targets.get(os.path.abspath(file), []))
        content = hashlib.sha256(text).hexdigest() if isinstance(text, bytes) else text
        k = key(path, content, file_config.fingerprint(), f"unresolved={show_unresolved} entries={entries!r}")
        if use_cache:
            cache = caches.setdefault(file_config.root, ResultCache(file_config.root))
            hit = cache.get(k)
            if hit is not None:
                results[i] = hit
                continue
        todo.append((i, path, text, file_config, k, entries))
    session = None
    if any(isinstance(job[2], str) for job in todo):  # a warm run never loads the Python reader
        from .readers.python.reader import ReaderSession

        session = ReaderSession(root_config.source_roots())
    for job, (diags, deps) in zip(todo, _check_many(todo, show_unresolved, jobs, session, progress)):
        i, _, _, file_config, k, _ = job
        results[i] = diags
        if use_cache and not any(d.code == INTERNAL_ERROR for d in diags):
            caches[file_config.root].put(k, diags, deps)
    seen: set[tuple] = set()
    diagnostics = []
    for d in (d for r in results for d in r):  # one finding per place, across files too
        place = place_key(d)
        if place not in seen:
            seen.add(place)
            diagnostics.append(d)
    return CheckResult(tuple(diagnostics), tuple(_display(f) for f in files), tuple(errors), sources)


def _entries_for(file: Path, config: "Config", named: list[str]) -> list[tuple[str, dict]]:
    """Models to build in this file: named on the command line, or in ``[[models]]``."""
    entries: list[tuple[str, dict]] = [(e, {}) for e in named]
    here = os.path.abspath(file)
    for model in config.models:
        if os.path.abspath(config.root / model.file) == here:
            keys = {"input_size": model.input_size, "object_size": model.object_size, "task": model.task,
                    "batch_size": model.batch_size, "output_object_size": model.output_object_size or None}
            entries.append((f"{model.name}{model.args}", {k: v for k, v in keys.items() if v is not None}))
    return entries


Job = tuple[int, str, "str | bytes", "Config", str, list[tuple[str, dict]]]
"""(index, displayed path, text or an exported model's bytes, configuration, cache key, entries)."""


def _check_one(job: Job, show_unresolved: bool, session: object | None) -> tuple[list[Diagnostic], dict[str, str]]:
    """One file's findings and the files it read (with their content hashes, for the cache);
    whatever goes wrong inside stays a finding about that file."""
    from .cache import content_hash

    _, path, text, config, _, entries = job
    deps: list[str] = []
    try:
        if isinstance(text, bytes):
            diags = check_data(path, text, config, show_unresolved)
        else:
            diags = check_text(path, text, config, show_unresolved, entries, session, deps)
    except RecursionError:
        diags = [Diagnostic(PARSE_ERROR, "too deeply nested to read", Location(path, 1, 1), Severity.ERROR)]
    except Exception as exc:  # noqa: BLE001  (one file's internal error must not stop the run)
        diags = [Diagnostic(INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}", Location(path, 1, 1), Severity.ERROR)]
    return diags, {d: content_hash(d) for d in deps}


_JOBS: list[Job] = []
_SHOW_UNRESOLVED = False
_SESSION: object | None = None
_PARALLEL_MIN_BYTES = 64_000


def _run_job(index: int) -> tuple[int, tuple[list[Diagnostic], dict[str, str]]]:
    return index, _check_one(_JOBS[index], _SHOW_UNRESOLVED, _SESSION)


def _check_many(todo: list[Job], show_unresolved: bool, jobs: int | None, session: object | None = None,
                progress: Callable[[int, int], None] | None = None) -> list[tuple[list[Diagnostic], dict[str, str]]]:
    """Check files, across processes when there is enough work to pay for them.

    Workers are forked after the rules are imported, so they start warm and
    take their jobs from memory; only findings travel back, each to its file's
    place (the order they finish in changes nothing).
    """
    global _JOBS, _SHOW_UNRESOLVED, _SESSION
    workers = min(jobs or os.cpu_count() or 1, len(todo))
    total = sum(len(t[2]) for t in todo)
    out: list[tuple[list[Diagnostic], dict[str, str]]] = [([], {}) for _ in todo]
    if workers < 2 or total < _PARALLEL_MIN_BYTES or not hasattr(os, "fork"):
        for i, job in enumerate(todo):
            out[i] = _check_one(job, show_unresolved, session)
            if progress is not None:
                progress(i + 1, len(todo))
        return out
    import multiprocessing

    all_rules()
    from .readers.python import read_python  # noqa: F401  (imported once, before forking)

    _JOBS, _SHOW_UNRESOLVED, _SESSION = todo, show_unresolved, session
    order = sorted(range(len(todo)), key=lambda i: -len(todo[i][2]))  # big files first balance the load
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for done, (i, diags) in enumerate(pool.imap_unordered(_run_job, order, chunksize=1), start=1):
                out[i] = diags
                if progress is not None:
                    progress(done, len(todo))
    finally:
        _JOBS, _SESSION = [], None
    return out


def _known_codes() -> list[str]:
    """Every rule code. The shipped rule pages list them without importing the rules, which a
    run served from the cache never needs (tests/test_rule_pages.py keeps pages and registry
    equal both ways)."""
    from .pages import all_page_codes

    return all_page_codes() or list(all_rules())


def _check_codes(config: "Config") -> None:
    """What the configuration names must exist: selecting a code that no rule has is an
    error, as in ruff, and so is a ``[[models]]`` entry whose file is missing or lies
    outside the project (a path from a configuration anyone can write)."""
    from .config import ConfigError

    known = [*_known_codes(), PARSE_ERROR, UNRESOLVED, INTERNAL_ERROR]
    problems = config.unknown_codes(known)
    root = os.path.realpath(config.root)
    for i, model in enumerate(config.models):
        target = os.path.realpath(os.path.join(root, model.file))
        if os.path.commonpath([root, target]) != root:
            problems.append(f"{config.where()}models[{i}].entry: {model.file} is outside the project ({config.root})")
        elif not os.path.isfile(target):
            problems.append(f"{config.where()}models[{i}].entry: {model.file} does not exist")
    if config.rules and not problems:
        # Each rule declares its options (Rule.options): a misspelt key or a bad value is
        # named here, at load, not an internal error on every model. Only a configuration
        # with rule tables imports the rules for it.
        from .checks.base import option_problems

        where = config.where()
        problems = [f"{where}rules.{selector}.{problem}"
                    for selector, table in config.rules.items() for problem in option_problems(selector, table)]
    if problems:
        raise ConfigError("\n".join(problems), problems)


def _display(path: Path | str) -> str:
    """Paths as the user typed them relative to the working directory, when below it."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute.startswith(cwd + os.sep):
        return os.path.relpath(absolute, cwd)
    return str(path)


# ---------------------------------------------------------------------- one buffer, as a file


def resolve_config(target: str | Path, config: "Config | None" = None, overrides: dict | None = None,
                   discover_config: bool = True, cache: bool = False) -> "Config":
    """The configuration ``check_paths`` would use for ``target`` (a file, which need not
    exist, or a directory): ``config`` when given, else the nearest configuration file
    (or the defaults), with command-line ``overrides`` on top. Raises ConfigError, also
    for selectors that match no rule. Writes nothing unless ``cache`` (buffers and
    editors leave the project as it is); with it, uses ``load_config``'s store."""
    from .config import default_config, find_config, load_config

    if config is None:
        found = find_config(Path(target)) if discover_config else None
        config = load_config(found, cache=cache) if found else default_config()
        if overrides:
            config = config.with_overrides(**overrides)
    _check_codes(config)
    return config


def check_buffer(path: str, text: str, config: "Config | None" = None, show_unresolved: bool = False,
                 overrides: dict | None = None, discover_config: bool = True) -> CheckResult:
    """Lint a buffer (standard input, an editor's unsaved text) as if it were the file
    ``path``: with the configuration that applies to ``path`` (see :func:`resolve_config`),
    its per-file-ignores, and the ``[[models]]`` entries naming it. Nothing is cached;
    an internal error is a finding about ``path``, as for files."""
    config = resolve_config(path, config, overrides, discover_config)
    entries = _entries_for(Path(path), config, [])
    diags, _ = _check_one((0, path, text, config, "", entries), show_unresolved, None)
    return CheckResult(tuple(diags), (path,), (), {path: text})


def fix_buffer(path: str, text: str, config: "Config | None" = None, unsafe: bool = False,
               overrides: dict | None = None, rounds: int = 4) -> tuple[str, int, CheckResult]:
    """Apply fixes to a buffer checked as the file ``path`` (``--fix`` on standard input),
    until none applies, at most ``rounds`` times: the fixed text, how many findings
    were fixed, and the check of the fixed text."""
    from .fixes import apply_fixes

    config = resolve_config(path, config, overrides)
    result = check_buffer(path, text, config)
    fixed = 0
    for _ in range(rounds):
        outcome = apply_fixes(text, [d for d in result.diagnostics if d.loc.file == path], unsafe)
        if not outcome.applied or outcome.text == text:
            break
        text, fixed = outcome.text, fixed + len(outcome.applied)
        result = check_buffer(path, text, config)
    return text, fixed, result


# ---------------------------------------------------------------------- the opt-in trace


def read_trace(target: str, input_size: Sequence[int] | None = None) -> ReadResult:
    """Import the user's ``module.path:factory``, build the model and trace it into the
    Graph IR. This runs the user's code, which is why only ``--trace`` reaches it.
    Raises ReaderError naming the target when it cannot be imported, built or traced."""
    from importlib.util import find_spec

    if find_spec("torch") is None:
        raise ReaderError(f"--trace {target}: tracing needs torch: pip install 'rflint[torch]'")
    from .readers.torch import trace_target

    return trace_target(target, tuple(input_size) if input_size else None)


def check_trace(targets: Sequence[str], config: "Config | None" = None, overrides: dict | None = None) -> CheckResult:
    """Lint models built by running the user's factories (``--trace``). Findings point at
    the source lines the trace recorded; configuration is the one for the factory's file."""
    diagnostics: list[Diagnostic] = []
    errors: list[str] = []
    files: list[str] = []
    sources: dict[str, str] = {}
    for target in targets:
        try:
            settings_config = resolve_config(Path.cwd(), config, overrides)
            result = read_trace(target, settings_config.settings().input_size)
        except ReaderError as exc:
            errors.append(str(exc))
            continue
        graph_loc = next((m.graph.loc for m in result.models if m.graph.loc is not None), None)
        path = _display(graph_loc.file) if graph_loc is not None else target
        text = _read_text(path) if graph_loc is not None else None
        text = text if isinstance(text, str) else None
        file_config = resolve_config(path, config, overrides) if graph_loc is not None else settings_config
        diagnostics.extend(check_result(path, result, text, file_config))
        files.append(path)
        if text is not None:
            sources[path] = text
    return CheckResult(tuple(sorted(diagnostics, key=Diagnostic.sort_key)), tuple(files), tuple(errors), sources)


# ---------------------------------------------------------------------- explain


def split_target(target: str) -> tuple[str, str | None]:
    """``path.py::Name(args)`` -> (``path.py``, ``Name(args)``); without ``::`` the entry is None."""
    path, sep, entry = target.partition("::")
    return path, (entry or None) if sep else None


def explain(target: str, config: "Config | None" = None, input_size: Sequence[int] | None = None,
            trace: bool = False) -> Explanation:
    """Build and analyse one model. Raises ReaderError with a message naming file and entry.
    With ``trace``, ``target`` is ``module.path:factory`` and the user's code is run."""
    if trace:
        base = config.settings() if config is not None else ModelSettings()
        size = tuple(input_size) if input_size is not None else base.input_size
        traced = read_trace(target, size)
        if not traced.models:
            raise ReaderError("\n".join(f"{d.loc}: {d.message}" for d in traced.diagnostics) or f"{target}: no model")
        settings = base.merged(**traced.models[0].overrides).merged(input_size=size)
        analysis = settled(analyse(traced.models[0].graph, settings.input_size))
        return Explanation(dataclasses.replace(traced.models[0], graph=analysis.graph), analysis, settings)
    path, entry = split_target(target)
    binary = is_binary_model(path)
    text = _read_bytes(path) if binary else _read_text(path)
    if isinstance(text, Diagnostic):
        raise ReaderError(f"{path}: {text.message}")
    base = config.settings() if config is not None else ModelSettings()
    if isinstance(text, bytes) or path.endswith(SPEC_SUFFIXES):
        result = read_binary(path, text) if isinstance(text, bytes) else read_source(path, text)
        if not result.models:
            raise ReaderError("\n".join(f"{d.loc}: {d.message}" for d in result.diagnostics) or f"{path}: no model")
        model = result.models[0]
    else:
        from .readers.python import build_entry, read_python
        from .readers.python.reader import ReaderSession

        session = ReaderSession(config.source_roots() if config is not None else ())

        size = tuple(input_size) if input_size is not None else base.input_size
        if entry is None:
            result = read_python(path, text, session=session, input_size=size)
            complete = [m for m in result.models if m.graph.complete]
            if len(complete) != 1:
                names = ", ".join(m.graph.name for m in complete) or "none"
                raise ReaderError(f"{path}: name the model as {path}::NAME (models that build from defaults: {names})")
            model = complete[0]
        else:
            model = build_entry(path, text, entry, session, size)
    settings = base.merged(**model.overrides)
    if input_size is not None:
        settings = settings.merged(input_size=tuple(input_size))
    analysis = settled(analyse(model.graph, settings.input_size))
    return Explanation(dataclasses.replace(model, graph=analysis.graph), analysis, settings)


# ---------------------------------------------------------------------- fixing


@dataclass(frozen=True)
class FixOutcome:
    """What ``--fix`` did: per file the text before and after and how many findings it fixed,
    and the check of the result (what remains)."""

    changed: dict[str, tuple[str, str, int]]
    remaining: CheckResult


def fix_paths(paths: Sequence[str | Path], config: "Config | None" = None, unsafe: bool = False,
              write: bool = True, overrides: dict | None = None, rounds: int = 4) -> FixOutcome:
    """Apply fixes until none applies (a fix can make room for another), at most ``rounds`` times.

    With ``write=False`` nothing is written (``--diff``); the texts are kept in memory.
    """
    from .fixes import apply_fixes

    texts: dict[str, str] = {}
    originals: dict[str, str] = {}
    counts: dict[str, int] = {}
    # Fixes rewrite the user's files: they come from this run's analysis, never from the cache.
    result = check_paths(paths, config, overrides=overrides, use_cache=False)
    for _ in range(rounds):
        by_file: dict[str, list[Diagnostic]] = {}
        for d in result.diagnostics:
            if d.fix is not None and (d.fix.safe or unsafe):
                by_file.setdefault(d.loc.file, []).append(d)
        progressed = False
        for file, diags in by_file.items():
            text = texts.get(file, result.sources.get(file))
            if text is None:
                continue
            fixed = apply_fixes(text, diags, unsafe)
            if fixed.applied and fixed.text != text:
                originals.setdefault(file, text)
                texts[file] = fixed.text
                counts[file] = counts.get(file, 0) + len(fixed.applied)
                progressed = True
        if not progressed:
            break
        result = _recheck(result, texts, config, overrides)
    if write:
        from .fixes import write_source

        for file, text in texts.items():
            write_source(file, text)
    changed = {f: (originals[f], texts[f], counts[f]) for f in texts}
    return FixOutcome(changed, result)


def _recheck(previous: CheckResult, texts: dict[str, str], config: "Config | None", overrides: dict | None) -> CheckResult:
    """The check result with the fixed files re-checked from their new text."""
    diagnostics = [d for d in previous.diagnostics if d.loc.file not in texts]
    sources = dict(previous.sources)
    for file, text in texts.items():
        diagnostics.extend(check_text(file, text, resolve_config(file, config, overrides)))
        sources[file] = text
    seen: set[tuple] = set()
    unique = []
    for d in diagnostics:  # one finding per place, as check_paths reports them
        place = place_key(d)
        if place not in seen:
            seen.add(place)
            unique.append(d)
    return CheckResult(tuple(unique), previous.files, previous.errors, sources)


# ---------------------------------------------------------------------- adopting rflint


def add_noqa(paths: Sequence[str | Path], config: "Config | None" = None, overrides: dict | None = None) -> dict[str, int]:
    """Suppress every current finding in place with ``# noqa: CODE`` on its line (adopting
    rflint on a large codebase, as ruff's ``--add-noqa``): per file, how many lines were
    marked. A line that ends in a backslash continuation is skipped, and a file is
    written only if it still parses."""
    import ast as _ast

    result = check_paths(paths, config, overrides=overrides, use_cache=False)
    by_file: dict[str, dict[int, set[str]]] = {}
    for d in result.diagnostics:
        if d.code in (PARSE_ERROR, INTERNAL_ERROR) or not d.loc.file.endswith(".py") or d.loc.file not in result.sources:
            continue
        by_file.setdefault(d.loc.file, {}).setdefault(d.loc.line, set()).add(d.code)
    added: dict[str, int] = {}
    for file, lines_codes in by_file.items():
        text = result.sources[file]
        pieces = LINE_BREAK.split(text)  # lines as Python numbers them; their endings are kept
        endings = LINE_BREAK.findall(text) + [""]
        lines = pieces
        count = 0
        for number, codes in lines_codes.items():
            if not 0 < number <= len(lines):
                continue
            line = lines[number - 1]
            if line.rstrip().endswith("\\"):
                continue
            match = _NOQA.search(line)
            if match and match.group("codes") is None:
                continue  # a bare noqa already suppresses everything
            if match:
                have = [c.strip().upper() for c in match.group("codes").split(",")]
                new = have + sorted(codes - set(have))
                line = line[: match.start("codes")] + ", ".join(new) + line[match.end("codes"):]
            else:
                line = line.rstrip() + f"  # noqa: {', '.join(sorted(codes))}"
            lines[number - 1] = line
            count += 1
        new_text = "".join(line + ending for line, ending in zip(lines, endings))
        try:
            _ast.parse(new_text)
        except SyntaxError:
            continue
        if count:
            from .fixes import write_source

            write_source(file, new_text)
            added[file] = count
    return added
