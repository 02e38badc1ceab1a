"""Command line: argument parsing only; the work is done by rflint.api.

Exit codes, as ruff's: 0 nothing found, 1 findings, 2 usage, configuration
or internal error. Imports are lazy so that ``rflint --version`` and the
check path stay fast (pre-commit runs rflint on every commit).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import Sequence, TextIO

from . import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
OUTPUT_FORMATS = ("full", "concise", "json", "json-lines", "junit", "github", "gitlab", "sarif")


def _sizes(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 224 or 512,256, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


class Progress:
    """``checked 37/119 files`` on standard error, for a person waiting at a terminal: only
    when it is one, and only once the run has taken ``after`` seconds (a quick check, a
    pre-commit hook, a CI log stay as they were). The line is cleared at the end."""

    def __init__(self, stream: TextIO, after: float = 1.0) -> None:
        self.stream, self.after = stream, after
        self.start = time.monotonic()
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.start < self.after or (now - self.last < 0.1 and done < total):
            return
        if not self.shown and not _is_terminal(self.stream):
            return
        self.shown, self.last = True, now
        self.stream.write(f"\rrflint: checked {done}/{total} files")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


JOBS_VARIABLE = "RFLINT_JOBS"
"""The environment's default for ``--jobs``: a CI machine's share of its cores."""


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def _patterns(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _ignores(text: str) -> dict[str, list[str]]:
    """``--per-file-ignores 'tests/*:RF101,AA'`` (ruff's spelling): a pattern and its codes."""
    pattern, sep, codes = text.rpartition(":")
    if not sep or not pattern.strip() or not _codes(codes):
        raise argparse.ArgumentTypeError(f"expected PATTERN:CODES such as 'tests/*:RF101,AA', got {text!r}")
    return {pattern.strip(): _codes(codes)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rflint",
        description="Exact receptive fields and architecture lint for convolutional models, read statically.",
    )
    parser.add_argument("--version", action="version", version=f"rflint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="lint model files and directories")
    check.add_argument("paths", nargs="*", default=[], metavar="PATH",
                       help="files or directories (default: .); - reads standard input")
    check.add_argument("--trace", action="append", default=[], metavar="MODULE:FACTORY",
                       help="ALSO RUNS CODE: import MODULE (from the working directory), call FACTORY() and trace "
                            "the model with torch; findings point at the source lines the trace recorded. "
                            "Only for models too dynamic to read statically. Needs rflint[torch]")
    check.add_argument("--output-format", choices=OUTPUT_FORMATS, default="full",
                       help="full (default), concise, json, json-lines, junit, github (Actions annotations), "
                            "gitlab (Code Quality), sarif (code scanning)")
    check.add_argument("-o", "--output-file", metavar="PATH", help="write the report to this file instead of standard output")
    check.add_argument("--config", metavar="FILE", help="use this rflint.toml or pyproject.toml instead of discovery")
    check.add_argument("--select", type=_codes, metavar="CODES", help="rule codes or prefixes to enable (replaces the configured selection)")
    check.add_argument("--extend-select", type=_codes, default=[], metavar="CODES",
                       help="rule codes or prefixes to enable on top of the configured selection")
    check.add_argument("--ignore", type=_codes, default=[], metavar="CODES", help="rule codes or prefixes to disable")
    check.add_argument("--exclude", type=_patterns, action="extend", metavar="PATTERNS",
                       help="glob patterns of files and directories not to check (replaces the configured exclude)")
    check.add_argument("--extend-exclude", type=_patterns, action="extend", metavar="PATTERNS",
                       help="more glob patterns not to check, on top of the configured ones")
    check.add_argument("--per-file-ignores", type=_ignores, action="append", metavar="PATTERN:CODES",
                       help="ignore these codes in the files matching PATTERN (repeatable), e.g. 'tests/*:RF101'")
    check.add_argument("--force-exclude", action="store_true",
                       help="apply the excludes to files named on the command line too (for pre-commit)")
    check.add_argument("--input-size", type=_sizes, metavar="N[,N]", help="model input size per spatial axis")
    check.add_argument("--object-size", type=_sizes, metavar="MIN,MAX", help="object extent in input pixels")
    check.add_argument("--show-unresolved", action="store_true", help="also report what the static reader could not resolve (RL002)")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the result cache (.rflint_cache)")
    check.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                       help=f"worker processes (default: ${JOBS_VARIABLE}, else one per CPU); 1 checks in this process")
    check.add_argument("--fail-on", choices=("info", "warning", "error"), default=None,
                       help="the least severe finding that makes the exit code 1 (default: fail-on in the configuration, else info)")
    check.add_argument("--add-noqa", action="store_true", help="suppress every current finding with a # noqa comment on its line")
    check.add_argument("--fix", action="store_true", help="apply safe fixes to the files")
    check.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff, apply unsafe fixes too")
    check.add_argument("--diff", action="store_true", help="print the fixes as a diff instead of writing them")
    check.add_argument("--statistics", action="store_true", help="count the findings of each rule instead of listing them")
    check.add_argument("--show-settings", action="store_true", help="print the settings that apply to the first file, and exit")
    check.add_argument("--show-files", action="store_true", help="print the files that would be checked, and exit")
    check.add_argument("--stdin-filename", metavar="NAME",
                       help="read the source from standard input and check it as the file NAME (its configuration applies)")

    explain = sub.add_parser("explain", help="per-layer receptive fields of one model")
    explain.add_argument("target", metavar="FILE[::MODEL]", help="e.g. nets/unet.py::UNet or nets/unet.py::UNet(depth=5)")
    explain.add_argument("--trace", action="store_true",
                         help="RUNS CODE: the target is MODULE:FACTORY, imported from the working directory, "
                              "built and traced with torch (needs rflint[torch])")
    explain.add_argument("--input-size", type=_sizes, metavar="N[,N]",
                         help="model input size per spatial axis (default: the configuration's)")
    explain.add_argument("--output-format", choices=("full", "json"), default="full",
                         help="full (a table per layer, default) or json")
    explain.add_argument("--config", metavar="FILE", help="use this rflint.toml or pyproject.toml instead of discovery")

    rule = sub.add_parser("rule", help="show a rule's documentation")
    rule.add_argument("code", nargs="?", help="e.g. CB102")
    rule.add_argument("--all", action="store_true", help="list every rule")

    server = sub.add_parser("server", help="run the language server (LSP over standard input/output; needs rflint[lsp])")
    server.add_argument("--stdio", action="store_true", help="talk LSP over standard input/output (the default)")
    server.add_argument("--debounce-ms", type=int, default=None, metavar="MS",
                        help="after a change, wait this long for more typing before linting (default: 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "server":
            return _server(args)
        return _rule(args)
    except BrokenPipeError:
        return EXIT_CLEAN
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001  (exit 1 means findings to CI: an internal failure is 2)
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"rflint: error: internal error: {type(exc).__name__}: {exc} (please report it with the traceback above)",
              file=sys.stderr)
        return EXIT_ERROR


def _error(message: str) -> int:
    print(f"rflint: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _load_config(path: str | None, cache: bool = True):  # -> Config | None
    from pathlib import Path

    from .config import load_config

    return load_config(Path(path), cache=cache) if path else None


def _check(args: argparse.Namespace) -> int:
    from .config import ConfigError

    overrides: dict = {}
    if args.select is not None:
        overrides["select"] = args.select
    if args.extend_select:
        overrides["extend_select"] = args.extend_select
    if args.ignore:
        overrides["ignore"] = args.ignore
    if args.exclude:
        overrides["exclude"] = args.exclude
    if args.extend_exclude:
        overrides["extend_exclude"] = args.extend_exclude
    if args.per_file_ignores:
        overrides["per_file_ignores"] = {k: v for entry in args.per_file_ignores for k, v in entry.items()}
    if args.force_exclude:
        overrides["force_exclude"] = True
    if args.input_size:
        overrides["input_size"] = args.input_size if len(args.input_size) > 1 else args.input_size[0]
    if args.object_size:
        overrides["object_size"] = args.object_size if len(args.object_size) > 1 else args.object_size[0]
    if args.statistics and args.output_format not in _STATISTICS_FORMATS:
        return _error(f"--statistics works with --output-format {', '.join(_STATISTICS_FORMATS)}, "
                      f"not {args.output_format}")
    if args.jobs is None and os.environ.get(JOBS_VARIABLE, "").strip():
        try:
            args.jobs = _jobs(os.environ[JOBS_VARIABLE].strip())
        except argparse.ArgumentTypeError as exc:
            return _error(f"environment variable {JOBS_VARIABLE}: {exc}")
    stdin_name = _stdin_name(args, warn=True)
    args.paths = args.paths or ([] if args.trace else ["."])
    try:
        out = _open_output(args.output_file)
    except OSError as exc:
        return _error(f"cannot write {args.output_file}: {exc.strerror or exc}")
    try:
        return _check_into(args, overrides, stdin_name, out)
    except ConfigError as exc:
        return _error(str(exc))
    finally:
        if out is not sys.stdout:
            out.close()


_STATISTICS_FORMATS = ("full", "concise", "json")


def _stdin_name(args: argparse.Namespace, warn: bool = False) -> str | None:
    """The name standard input is checked as (ruff's rules): ``--stdin-filename NAME``, or
    ``-`` as the only path. Other paths the user gave with ``--stdin-filename`` are
    ignored, with a warning (``warn``: once, before the default path is filled in)."""
    if args.stdin_filename is not None:
        for path in args.paths if warn else ():
            if path != "-":
                print(f"rflint: warning: ignoring {path} in favor of standard input", file=sys.stderr)
        return args.stdin_filename
    if args.paths == ["-"]:
        return "-"
    return None


def _open_output(path: str | None):  # -> TextIO
    """Where the report goes: the ``--output-file`` (its directory made) or standard output.
    Everything the check prints on standard output goes there, summary included (ruff's way)."""
    if not path:
        return sys.stdout
    import os

    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    return open(path, "w", encoding="utf-8", newline="\n")


def _emit(out, text: str) -> None:  # noqa: ANN001
    """Write ``text`` and a newline, unless there is nothing to write."""
    if text:
        out.write(text.rstrip("\n") + "\n")


def _read_stdin() -> str:
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    return data.decode("utf-8-sig")


def _check_into(args: argparse.Namespace, overrides: dict, stdin_name: str | None, out) -> int:  # noqa: ANN001
    from . import api

    config = _load_config(args.config, cache=not args.no_cache and stdin_name is None)
    if config is not None and overrides:
        config = config.with_overrides(**overrides)
    if args.show_files:
        return _show_files(args, config, overrides, stdin_name, out)
    if args.show_settings:
        return _show_settings(args, config, overrides, stdin_name, out)
    if stdin_name is not None:
        try:
            text = _read_stdin()
        except UnicodeDecodeError as exc:
            return _error(f"standard input is not UTF-8 text (byte {exc.start})")
        if args.fix or args.diff:
            return _fix_stdin(args, config, overrides, stdin_name, text, out)
        result = api.check_buffer(stdin_name, text, config, show_unresolved=args.show_unresolved, overrides=overrides)
    else:
        if args.add_noqa:
            added = api.add_noqa(args.paths, config, overrides)
            total = sum(added.values())
            _emit(out, f"Added {total} noqa directive{'s' if total != 1 else ''}.")
            return EXIT_CLEAN
        if args.fix or args.diff:
            return _fix(args, config, overrides, out)
        progress = Progress(sys.stderr)
        try:
            result = api.check_paths(args.paths, config, show_unresolved=args.show_unresolved, overrides=overrides,
                                     use_cache=not args.no_cache, jobs=args.jobs,
                                     progress=progress) if args.paths or not args.trace else None
        finally:
            progress.close()
        if args.trace:
            traced = api.check_trace(args.trace, config, overrides)
            result = traced if result is None else dataclasses.replace(
                result, diagnostics=result.diagnostics + traced.diagnostics, files=result.files + traced.files,
                errors=result.errors + traced.errors, sources={**result.sources, **traced.sources})
    for message in result.errors:
        print(f"rflint: error: {message}", file=sys.stderr)
    diags = sorted(result.diagnostics, key=lambda d: d.sort_key())
    if args.statistics:
        _write_statistics(args, diags, out)
    else:
        _write_report(args, diags, result, out)
    if result.errors or any(d.code == api.INTERNAL_ERROR for d in diags):
        return EXIT_ERROR
    threshold = _fail_on(args, config, overrides)
    if any(d.severity >= threshold for d in diags) and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _fail_on(args: argparse.Namespace, config, overrides: dict):  # noqa: ANN001
    """The least severe finding that fails the run: the flag, else the configuration's fail-on."""
    from . import api
    from .diagnostics import Severity

    name = args.fail_on
    if name is None:
        stdin_name = _stdin_name(args)
        root = (stdin_name or (args.paths or ["."])[0]).split("::")[0]
        name = api.resolve_config(root, config, overrides, cache=not args.no_cache and stdin_name is None).fail_on
    return {"info": Severity.INFO, "warning": Severity.WARNING, "error": Severity.ERROR}[name]


def _run_summary(diags: list, result) -> str:  # noqa: ANN001
    """The last line of a check, except that a run that read nothing never passes: a path
    that does not exist was said on standard error, and no summary follows it."""
    if not diags and result.errors:
        return ""
    if not diags and not result.files:
        return "No files to check."
    return _summary(diags)


def _summary(diags: list) -> str:
    from .formats.text import summary

    safe = sum(1 for d in diags if d.fix is not None and d.fix.safe)
    unsafe = sum(1 for d in diags if d.fix is not None and not d.fix.safe)
    return summary(diags, safe, unsafe)


def _write_report(args: argparse.Namespace, diags: list, result, out) -> None:  # noqa: ANN001
    """The findings in the chosen format. Each format lives in its own module, imported
    only when chosen; the text formats end with the summary line."""
    fmt = args.output_format
    if fmt != "sarif":  # SARIF percent-encodes a file's own bytes in its URIs, then does the same
        from .formats.common import printable, printable_findings

        diags = printable_findings(diags)
        result = dataclasses.replace(result, sources={printable(k): v for k, v in result.sources.items()},
                                     errors=tuple(printable(e) for e in result.errors))
    if fmt == "json":
        from .formats.json import render_json

        _emit(out, render_json(diags))
    elif fmt == "json-lines":
        from .formats import json_lines

        _emit(out, json_lines.render(diags))
    elif fmt == "junit":
        from .formats import junit

        _emit(out, junit.render(diags))
    elif fmt == "github":
        from .formats import github

        _emit(out, github.render(diags))
    elif fmt == "gitlab":
        from .formats import gitlab

        _emit(out, gitlab.render(diags, result.sources))
    elif fmt == "sarif":
        from .formats import sarif

        _emit(out, sarif.render(diags, result.sources, result.errors))
    else:
        from .formats.text import render_concise, render_full

        unsafe = bool(getattr(args, "unsafe_fixes", False))
        _emit(out, render_full(diags, result.sources, unsafe) if fmt == "full" else render_concise(diags, unsafe))
        _emit(out, _run_summary(diags, result))


def _write_statistics(args: argparse.Namespace, diags: list, out) -> None:  # noqa: ANN001
    """ruff's ``--statistics``: the table and the summary line, or a JSON list; nothing
    in the text formats when there are no findings."""
    from .formats import statistics
    from .formats.common import printable_findings

    rows = statistics.statistics(printable_findings(diags), unsafe=bool(getattr(args, "unsafe_fixes", False)))
    if args.output_format == "json":
        _emit(out, statistics.render_json(rows))
    elif rows:
        _emit(out, statistics.render_text(rows))
        _emit(out, _summary(diags))


def _targets(args: argparse.Namespace) -> list:
    from pathlib import Path

    from .api import split_target

    return [Path(split_target(p)[0]) for p in args.paths]


def _show_files(args: argparse.Namespace, config, overrides: dict, stdin_name: str | None, out) -> int:  # noqa: ANN001
    """The files ``check`` would read, absolute and sorted (ruff's ``--show-files``)."""
    import os

    from . import api
    from .discovery import iter_files

    if stdin_name is not None:
        _emit(out, os.path.abspath(stdin_name))
        return EXIT_CLEAN
    targets = _targets(args)
    files, errors = iter_files(targets, api.resolve_config(targets[0], config, overrides))
    for message in errors:
        print(f"rflint: error: {message}", file=sys.stderr)
    if not files and not errors:
        print("rflint: warning: no files found under the given path(s)", file=sys.stderr)
    _emit(out, "\n".join(sorted(os.path.abspath(f) for f in files)))
    return EXIT_ERROR if errors else EXIT_CLEAN


def _show_settings(args: argparse.Namespace, config, overrides: dict, stdin_name: str | None, out) -> int:  # noqa: ANN001
    """The resolved settings of the first file ``check`` would read (ruff's ``--show-settings``),
    or of the ``--stdin-filename``."""
    import os

    from . import api
    from .discovery import iter_files
    from .formats.settings import render

    if stdin_name is not None:
        first = stdin_name
    else:
        targets = _targets(args)
        files, errors = iter_files(targets, api.resolve_config(targets[0], config, overrides))
        for message in errors:
            print(f"rflint: error: {message}", file=sys.stderr)
        if not files:
            return _error("no files found under the given path(s)")
        first = min(os.path.abspath(f) for f in files)
    _emit(out, render(api.resolve_config(first, config, overrides), first))
    return EXIT_CLEAN


def _fix(args: argparse.Namespace, config, overrides: dict, out=None) -> int:  # noqa: ANN001
    from . import api
    from .fixes import unified_diff
    from .formats.text import render_concise

    out = out if out is not None else sys.stdout
    outcome = api.fix_paths(args.paths, config, unsafe=args.unsafe_fixes, write=not args.diff, overrides=overrides)
    fixed = sum(n for _, _, n in outcome.changed.values())
    remaining = sorted(outcome.remaining.diagnostics, key=lambda d: d.sort_key())
    if args.diff:
        for file, (before, after, _) in sorted(outcome.changed.items()):
            out.write(unified_diff(file, before, after))
        print(f"Would fix {fixed} issue{'s' if fixed != 1 else ''}.", file=sys.stderr)
        return EXIT_FINDINGS if fixed and not args.exit_zero else EXIT_CLEAN
    left = len(remaining)
    # What remains, in the format asked for (and as --statistics), as check shows it; the
    # text formats end with how many were fixed.
    if args.statistics:
        _write_statistics(args, remaining, out)
    elif args.output_format in ("full", "concise"):
        from .formats.text import render_full

        unsafe = bool(args.unsafe_fixes)
        shown = render_full(remaining, outcome.remaining.sources, unsafe) if args.output_format == "full" \
            else render_concise(remaining, unsafe)
        _emit(out, shown)
        _emit(out, f"Found {fixed + left} issue{'s' if fixed + left != 1 else ''} ({fixed} fixed, {left} remaining).")
    else:
        _write_report(args, remaining, outcome.remaining, out)
    if outcome.remaining.errors or any(d.code == api.INTERNAL_ERROR for d in remaining):
        return EXIT_ERROR
    threshold = _fail_on(args, config, overrides)
    return EXIT_FINDINGS if any(d.severity >= threshold for d in remaining) and not args.exit_zero else EXIT_CLEAN


def _fix_stdin(args: argparse.Namespace, config, overrides: dict, name: str, text: str, out) -> int:  # noqa: ANN001
    """``--fix`` or ``--diff`` on standard input, as ruff: the fixed source (or the diff) goes
    to the output, what remains and the summary to standard error."""
    from . import api
    from .fixes import unified_diff
    from .formats.text import render_concise

    fixed_text, fixed, result = api.fix_buffer(name, text, config, unsafe=args.unsafe_fixes, overrides=overrides)
    if args.diff:
        out.write(unified_diff(name, text, fixed_text))
        print(f"Would fix {fixed} issue{'s' if fixed != 1 else ''}.", file=sys.stderr)
        return EXIT_FINDINGS if fixed and not args.exit_zero else EXIT_CLEAN
    out.write(fixed_text)
    remaining = sorted(result.diagnostics, key=lambda d: d.sort_key())
    _emit(sys.stderr, render_concise(remaining, args.unsafe_fixes))
    left = len(remaining)
    print(f"Found {fixed + left} issue{'s' if fixed + left != 1 else ''} ({fixed} fixed, {left} remaining).",
          file=sys.stderr)
    if any(d.code == api.INTERNAL_ERROR for d in remaining):
        return EXIT_ERROR
    return EXIT_FINDINGS if left and not args.exit_zero else EXIT_CLEAN


def _explain(args: argparse.Namespace) -> int:
    from . import api
    from .config import ConfigError, default_config, find_config, load_config
    from .readers.base import ReaderError

    try:
        config = _load_config(args.config)
        if config is None:
            from pathlib import Path

            found = find_config(Path.cwd() if args.trace else Path(api.split_target(args.target)[0]))
            config = load_config(found) if found else default_config()
        explanation = api.explain(args.target, config, args.input_size, trace=args.trace)
    except ConfigError as exc:
        return _error(str(exc))
    except ReaderError as exc:
        return _error(str(exc))
    from .formats import explain as fmt

    if args.output_format == "json":
        print(fmt.render_json(explanation.analysis))
    else:
        print(fmt.render_table(explanation.analysis))
    return EXIT_CLEAN


def _server(args: argparse.Namespace) -> int:
    try:
        from .lsp import serve
    except ImportError as exc:
        return _error(f"`rflint server` needs pygls ({exc}); install it with: pip install 'rflint[lsp]'")
    return serve(None if args.debounce_ms is None else max(args.debounce_ms, 0) / 1000)


def _rule(args: argparse.Namespace) -> int:
    from . import pages
    from .checks.base import all_rules

    rules = all_rules()
    if args.all or not args.code:
        width = max(len(cls.name) for cls in rules.values())
        for code, cls in rules.items():
            default = "" if cls.enabled_by_default else "  (off by default)"
            print(f"{code}  {cls.name.ljust(width)}  {cls.severity}{default}")
        return EXIT_CLEAN
    code = args.code.upper()
    if code not in rules:
        return _error(f"unknown rule code {code!r}; `rflint rule --all` lists them")
    print(pages.page_text(code).rstrip("\n"))
    return EXIT_CLEAN


if __name__ == "__main__":
    raise SystemExit(main())
