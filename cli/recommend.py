"""`daosim recommend SWEEP_DIR`: the sweep point to propose, under a risk budget.

Argument parsing and terminal output only; the work is in `experiments.recommend`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.exits import NO_ANSWER


def add_recommend(commands: Any) -> None:
    """Register `daosim recommend SWEEP_DIR --risk M --budget X --maximize M`."""
    recommend = commands.add_parser(
        "recommend", help="pick the sweep point that maximizes a metric within a risk budget",
        description="Per sweep point: the --quantile (default 0.95) of the --risk metric over "
                    "its replicates and the mean of the --maximize metric. Prints the point "
                    "with the highest mean among those whose quantile is <= --budget, and "
                    "the Pareto frontier; writes recommendation.json into the folder (the "
                    "sweep report draws it). Exit 3 when no point is within the budget.")
    recommend.add_argument("sweep", type=Path, help="the --out folder of `daosim sweep`")
    recommend.add_argument("--risk", required=True, metavar="METRIC",
                           help="risk metric, e.g. bad_debt_usd (lower is better)")
    recommend.add_argument("--budget", required=True, type=float,
                           help="largest acceptable quantile of the risk metric")
    recommend.add_argument("--maximize", required=True, metavar="METRIC",
                           help="metric whose mean over replicates to maximize")
    recommend.add_argument("--quantile", type=float, default=0.95,
                           help="quantile of the risk metric over replicates (default 0.95)")
    recommend.set_defaults(handler=_recommend)


def _recommend(args: argparse.Namespace) -> int:
    from experiments.recommend import load_runs, recommend, text, write_recommendation

    runs, params = load_runs(args.sweep)
    rec = recommend(runs, params, risk=args.risk, maximize=args.maximize, budget=args.budget,
                    quantile=args.quantile)
    print(text(rec))
    print(f"written to {write_recommendation(args.sweep, rec)} (`daosim report "
          f"{args.sweep}` draws the frontier)")
    return 0 if rec.pick is not None else NO_ANSWER
