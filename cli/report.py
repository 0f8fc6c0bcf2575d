"""`daosim report`, and the report that `run`, `sweep` and `compare` write at their end.

The one place the command line reaches into `reports/`; `build_report` decides from the
folder's files which kind of report to write.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.exits import on_interrupt


def add_report(commands: Any) -> None:
    """Register `daosim report FOLDER [--out DIR]`."""
    report = commands.add_parser(
        "report", help="write report.html and figures/ for a run, sweep or comparison folder")
    report.add_argument("folder", type=Path, help="the --out folder of run, sweep or compare")
    report.add_argument("--out", type=Path, default=None,
                        help="where to write the report (default: the folder itself)")
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    return write_report(args.folder, args.out)


def comparison_text(folder: Path) -> str:
    """Write a comparison folder's `comparison.txt` (headline, folded statuses, table,
    tails) and return it for the terminal."""
    from reports.compare_text import write_comparison_text

    return write_comparison_text(folder)


def write_report(folder: Path, out: Path | None = None) -> int:
    """Write the report of the results in `folder` into `out` (default `folder`) and say
    where; a Ctrl-C meanwhile says how to write it again."""
    again = f"daosim report {folder}" + (f" --out {out}" if out is not None else "")
    with on_interrupt(f"interrupted: the report in {out or folder}/ may be incomplete; "
                      f"`{again}` writes it again"):
        from reports.build import build_report
        from sim.folders import output_folder

        if out is not None:
            output_folder(out)
        print(f"report: {build_report(folder, out)}")
    return 0
