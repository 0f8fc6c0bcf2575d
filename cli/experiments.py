"""`daosim sweep` and `daosim compare`: many runs into one results folder.

Argument parsing and terminal output only; the work is in `experiments.sweep` and
`experiments.compare`. Both keep each finished run on disk, so a Ctrl-C loses only the runs
in flight and the same command finishes the rest.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.exits import on_interrupt
from cli.report import comparison_text, write_report


def add_sweep(commands: Any) -> None:
    """Register `daosim sweep FILE`."""
    sweep = commands.add_parser(
        "sweep", help="run a parameter sweep (grid, Latin hypercube or Sobol) into a folder",
        description="Run every (point, replicate) of a sweep file. Re-running the same "
                    "command after an interruption runs only the missing runs.")
    sweep.add_argument("file", type=Path, help="sweep TOML file")
    sweep.add_argument("--out", type=Path, default=None,
                       help="results folder (default out/sweeps/NAME)")
    _execution_options(sweep)
    sweep.set_defaults(handler=_sweep)


def add_compare(commands: Any) -> None:
    """Register `daosim compare BASELINE PROPOSAL`."""
    compare = commands.add_parser(
        "compare", help="compare a proposal with a baseline scenario on common seeds",
        description="Run baseline and proposal on the same N seeds and report paired "
                    "differences with bootstrap confidence intervals.")
    compare.add_argument("baseline", type=Path, help="baseline scenario TOML")
    compare.add_argument("proposal", type=Path,
                         help="proposal: a scenario TOML, or a TOML with an [overrides] table "
                              "of dotted paths applied to the baseline")
    compare.add_argument("--runs", type=int, default=20, help="paired runs (default 20)")
    compare.add_argument("--seed", type=int, default=None,
                         help="root seed of the run seeds (default: the baseline's seed)")
    compare.add_argument("--out", type=Path, default=None,
                         help="results folder (default out/compare/BASELINE-vs-PROPOSAL)")
    compare.add_argument("--set", dest="overrides", action="append", default=[],
                         metavar="PATH=VALUE",
                         help="set one field in both arms by dotted path, under the "
                              "proposal's own changes, e.g. --set steps=168 (repeatable)")
    compare.add_argument("--resolve", type=float, default=0.1, metavar="SHARE",
                         help="report the paired runs that would resolve a change of this "
                              "share of each metric's baseline mean with 80%% power "
                              "(default 0.1)")
    _execution_options(compare)
    compare.set_defaults(handler=_compare)


def _execution_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel runs: local worker processes, or Dask workers with "
                             "--scheduler local (default 1 = in this process)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on Dask: 'local' starts a LocalCluster of --workers "
                             "processes; tcp://host:port uses an existing cluster")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder of historical data files (default $DAOSIM_DATA_DIR or "
                             "../shared/data)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-report", action="store_true",
                        help="skip report.html and figures/ (written by default)")


def _sweep(args: argparse.Namespace) -> int:
    import daosim
    from experiments.sweepfile import load_sweep

    out = args.out or Path("out") / "sweeps" / load_sweep(args.file).name
    with on_interrupt(_resumable(out)):
        result = daosim.sweep(args.file, out=out, workers=args.workers,
                              scheduler=args.scheduler, data_dir=args.data_dir,
                              progress=not args.no_progress)
    print(result.summary)
    print(f"results in {out}/ (runs.parquet, points.parquet, tails.parquet"
          f"{', sensitivity.parquet' if result.sensitivity is not None else ''}, summary.txt)")
    return 0 if args.no_report else write_report(out)


def _compare(args: argparse.Namespace) -> int:
    import daosim
    from cli.run import parse_assignment
    from daosim.api import default_compare_folder

    out = args.out or default_compare_folder(args.baseline, args.proposal)
    settings = dict(parse_assignment(text) for text in args.overrides)
    with on_interrupt(_resumable(out)):
        daosim.compare(args.baseline, args.proposal, runs=args.runs, out=out, seed=args.seed,
                       overrides=settings, workers=args.workers, scheduler=args.scheduler,
                       data_dir=args.data_dir, progress=not args.no_progress,
                       resolve=args.resolve)
    print(comparison_text(out))
    print(f"tables in {out}/ (comparison.csv, tails.csv, comparison.txt, runs.parquet)")
    return 0 if args.no_report else write_report(out)


def _resumable(out: Path) -> str:
    """What a Ctrl-C leaves of a sweep or comparison: its finished runs, which the same
    command skips when run again."""
    return (f"interrupted: finished runs are kept in {out}/; run the same command again "
            "to finish the rest")

