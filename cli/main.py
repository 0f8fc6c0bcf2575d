"""`daosim`'s parser and entry point: which commands exist, in the order `--help` lists them.

Each command module registers its own arguments and handler; `main` only parses and hands
the handler to `exit_code`, so every command fails and stops the same way.
"""

from __future__ import annotations

import argparse
import warnings

from cli import dashboard, experiments, query, recommend, report, run
from cli.exits import exit_code

#: one function per subcommand, each adding its parser with `set_defaults(handler=...)`
COMMANDS = (run.add_run, report.add_report, run.add_check, run.add_schema,
            experiments.add_sweep, experiments.add_compare, recommend.add_recommend,
            query.add_query, dashboard.add_dashboard)


def build_parser() -> argparse.ArgumentParser:
    """The `daosim` parser with every subcommand registered."""
    from daosim import __version__

    parser = argparse.ArgumentParser(
        prog="daosim", description="DAO treasury contagion simulator"
    )
    parser.add_argument("--version", action="version", version=f"daosim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one `daosim` command; returns its exit code (0, 2 on a refused input, 130 on
    Ctrl-C)."""
    args = build_parser().parse_args(argv)
    # a warning is one line, like an error (Python's format adds the warning's source line)
    warnings.formatwarning = lambda message, *_, **__: f"daosim: warning: {message}\n"
    return exit_code(args.handler, args)


if __name__ == "__main__":
    raise SystemExit(main())
