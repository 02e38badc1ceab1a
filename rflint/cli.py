"""Command line: argument parsing only; the work is done by rflint.api.

Exit codes, as ruff's: 0 nothing found, 1 findings, 2 usage, configuration
or internal error. Imports are lazy so that ``rflint --version`` and the
check path stay fast (pre-commit runs rflint on every commit).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from . import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _sizes(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 224 or 512,256, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rflint",
        description="Exact receptive fields and architecture lint for convolutional models, read statically.",
    )
    parser.add_argument("--version", action="version", version=f"rflint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="lint model files and directories")
    check.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files or directories (default: .)")
    check.add_argument("--output-format", choices=("full", "concise", "json"), default="full")
    check.add_argument("--config", metavar="FILE", help="use this rflint.toml or pyproject.toml instead of discovery")
    check.add_argument("--select", type=_codes, metavar="CODES", help="rule codes or prefixes to enable (replaces the configured selection)")
    check.add_argument("--extend-select", type=_codes, default=[], metavar="CODES")
    check.add_argument("--ignore", type=_codes, default=[], metavar="CODES")
    check.add_argument("--input-size", type=_sizes, metavar="N[,N]", help="model input size per spatial axis")
    check.add_argument("--object-size", type=_sizes, metavar="MIN,MAX", help="object extent in input pixels")
    check.add_argument("--show-unresolved", action="store_true", help="also report what the static reader could not resolve (RL002)")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    check.add_argument("--no-cache", action="store_true", help="do not read or write the result cache (.rflint_cache)")
    check.add_argument("--fix", action="store_true", help="apply safe fixes to the files")
    check.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff, apply unsafe fixes too")
    check.add_argument("--diff", action="store_true", help="print the fixes as a diff instead of writing them")

    explain = sub.add_parser("explain", help="per-layer receptive fields of one model")
    explain.add_argument("target", metavar="FILE[::MODEL]", help="e.g. nets/unet.py::UNet or nets/unet.py::UNet(depth=5)")
    explain.add_argument("--input-size", type=_sizes, metavar="N[,N]")
    explain.add_argument("--output-format", choices=("full", "json"), default="full")
    explain.add_argument("--config", metavar="FILE")

    rule = sub.add_parser("rule", help="show a rule's documentation")
    rule.add_argument("code", nargs="?", help="e.g. CB102")
    rule.add_argument("--all", action="store_true", help="list every rule")
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
        return _rule(args)
    except BrokenPipeError:
        return EXIT_CLEAN
    except KeyboardInterrupt:
        return 130


def _error(message: str) -> int:
    print(f"rflint: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _load_config(path: str | None):  # -> Config | None
    from pathlib import Path

    from .config import load_config

    return load_config(Path(path)) if path else None


def _check(args: argparse.Namespace) -> int:
    from . import api
    from .config import ConfigError

    overrides: dict = {}
    if args.select is not None:
        overrides["select"] = args.select
    if args.extend_select:
        overrides["extend_select"] = args.extend_select
    if args.ignore:
        overrides["ignore"] = args.ignore
    if args.input_size:
        overrides["input_size"] = args.input_size if len(args.input_size) > 1 else args.input_size[0]
    if args.object_size:
        overrides["object_size"] = args.object_size if len(args.object_size) > 1 else args.object_size[0]
    try:
        config = _load_config(args.config)
        if config is not None and overrides:
            config = config.with_overrides(**overrides)
        if args.fix or args.diff:
            return _fix(args, config, overrides)
        result = api.check_paths(args.paths, config, show_unresolved=args.show_unresolved, overrides=overrides,
                                 use_cache=not args.no_cache)
    except ConfigError as exc:
        return _error(str(exc))
    for message in result.errors:
        print(f"rflint: error: {message}", file=sys.stderr)
    diags = sorted(result.diagnostics, key=lambda d: d.sort_key())
    if args.output_format == "json":
        from .formats.json import render_json

        print(render_json(diags))
    else:
        from .formats.text import render_concise, render_full, summary

        body = render_full(diags, result.sources) if args.output_format == "full" else render_concise(diags)
        if body:
            print(body.rstrip("\n"))
        safe = sum(1 for d in diags if d.fix is not None and d.fix.safe)
        unsafe = sum(1 for d in diags if d.fix is not None and not d.fix.safe)
        print(summary(diags, safe, unsafe))
    if result.errors or any(d.code == api.INTERNAL_ERROR for d in diags):
        return EXIT_ERROR
    if diags and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _fix(args: argparse.Namespace, config, overrides: dict) -> int:  # noqa: ANN001
    from . import api
    from .fixes import unified_diff
    from .formats.text import render_concise

    outcome = api.fix_paths(args.paths, config, unsafe=args.unsafe_fixes, write=not args.diff, overrides=overrides)
    fixed = sum(n for _, _, n in outcome.changed.values())
    remaining = sorted(outcome.remaining.diagnostics, key=lambda d: d.sort_key())
    if args.diff:
        for file, (before, after, _) in sorted(outcome.changed.items()):
            print(unified_diff(file, before, after), end="")
        print(f"Would fix {fixed} issue{'s' if fixed != 1 else ''}.", file=sys.stderr)
        return EXIT_FINDINGS if fixed and not args.exit_zero else EXIT_CLEAN
    body = render_concise(remaining)
    if body:
        print(body)
    left = len(remaining)
    print(f"Found {fixed + left} issue{'s' if fixed + left != 1 else ''} ({fixed} fixed, {left} remaining).")
    if outcome.remaining.errors or any(d.code == api.INTERNAL_ERROR for d in remaining):
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

            found = find_config(Path(api.split_target(args.target)[0]))
            config = load_config(found) if found else default_config()
        explanation = api.explain(args.target, config, args.input_size)
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
