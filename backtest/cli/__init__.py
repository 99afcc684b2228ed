"""Command line: ``python -m backtest run --variant relatives`` and friends.

The only layer that sees ``argparse``: it turns flags into typed configs, calls the library,
and prints what the library returns. Each command's module is imported when it runs, so
``--help`` stays cheap.
"""

from __future__ import annotations

import sys
import time

from backtest.cli.args import resolve_config
from backtest.cli.console import NORMAL, QUIET, VERBOSE, Console, quiet_tensorflow
from backtest.cli.packages import check_own_packages
from backtest.cli.parser import build_parser

__all__ = ["build_parser", "main", "resolve_config"]


def _dispatch(args) -> None:
    match args.command:
        case "run":
            from backtest.cli.run import run_command

            run_command(args, *resolve_config(args))
        case "forecast":
            from backtest.cli.forecast import forecast_command

            forecast_command(args, *resolve_config(args))
        case "compare":
            from backtest.cli.compare import compare_command

            compare_command(args.run_dirs, args.out)
        case "report":
            from backtest.cli.report import report_command

            report_command(args.run_dir)
        case "simulate":
            from backtest.cli.simulate import simulate_command

            simulate_command(args, resolve_config(args)[0])


def _failure_log(console: Console, args) -> str:
    """Keep what libraries said during a failed command; the path, for the error line."""
    if not console.log.lines:
        return ""
    from backtest.data.yahoo import default_cache_dir

    try:
        root = getattr(args, "cache_dir", None) or default_cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        return f" (log: {console.write_log(root / 'last-run.log')})"
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m backtest`` and the ``backtest`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_own_packages()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    level = QUIET if args.quiet else VERBOSE if args.verbose else NORMAL
    quiet_tensorflow(verbose=level >= VERBOSE)
    console = Console(level, animate=not getattr(args, "no_progress", False))
    started = time.perf_counter()
    with console.capture():
        try:
            _dispatch(args)
        except (ValueError, OSError) as exc:
            console.finish(failed=True)
            print(f"error: {exc}{_failure_log(console, args)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            console.finish(failed=True)
            print(
                "interrupted: finished windows are cached; rerun the same command to resume",
                file=sys.stderr,
            )
            return 130
    if level >= NORMAL:
        print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0
