"""`daosim dashboard`: the interactive page over a run, sweep or comparison folder, or a
scenario's what-if form (`dashboard/`, the optional extra `daosim[dashboard]`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_dashboard(commands: Any) -> None:
    """Register `daosim dashboard [FOLDER | SCENARIO.toml] [--port N] [--no-browser]`."""
    from dashboard.serve import DEFAULT_PORT

    about = ("serve an interactive page on this machine: scrub a run, try a what-if, explore "
             "a sweep (needs the extra daosim[dashboard])")
    board = commands.add_parser("dashboard", help=about, description=about)
    board.add_argument("target", nargs="?", type=Path, default=None,
                       help="a run, sweep or compare folder, or a scenario file (default: "
                            "the page's open box)")
    board.add_argument("--port", type=int, default=DEFAULT_PORT,
                       help=f"the local port to serve on (default {DEFAULT_PORT})")
    board.add_argument("--out", type=Path, default=Path("out") / "dashboard",
                       help="where what-if runs and re-runs are written (default "
                            "out/dashboard)")
    board.add_argument("--no-browser", dest="browser", action="store_false",
                       help="do not open a browser tab")
    board.set_defaults(handler=_dashboard)


def _dashboard(args: argparse.Namespace) -> int:
    from dashboard.serve import server

    server(args.target, args.out, args.port, browser=args.browser)  # until Ctrl-C
    print("dashboard: stopped")
    return 0
