"""`daosim`: the command line. The only layer that knows about files and terminals.

Heavy imports (Mesa, pandas) happen inside the commands, so `daosim --help` and scenario
validation stay fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from protocols.errors import DaosimError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="daosim", description="DAO treasury contagion simulator"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one scenario and write its outputs")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--steps", type=int, help="override the scenario's horizon in steps")
    run.add_argument("--out", type=Path, default=None, help="output folder (default out/NAME)")
    run.add_argument("--data-dir", type=Path, default=None,
                     help="folder of historical data files (default $DAOSIM_DATA_DIR or "
                          "../shared/data)")
    check = commands.add_parser("check", help="validate a scenario file and exit")
    check.add_argument("scenario", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return _check(args)
        return _run(args)
    except DaosimError as exc:
        print(f"daosim: {exc}", file=sys.stderr)
        return 2


def _check(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    print(f"{args.scenario}: valid scenario {scenario.name!r} ({scenario.steps} steps)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from sim.scenario import load_scenario

    overrides = {k: v for k, v in (("seed", args.seed), ("steps", args.steps)) if v is not None}
    scenario = load_scenario(args.scenario, overrides)
    from sim.outputs import write_run
    from sim.runner import run_scenario

    result = run_scenario(scenario, data_dir=str(args.data_dir) if args.data_dir else None)
    summary = result.summary
    out = write_run(args.out or Path("out") / scenario.name, result.timeseries, result.events,
                    summary)
    width = max(len(k) for k in summary)
    print(f"scenario {scenario.name!r}, seed {scenario.seed}, {scenario.steps} steps")
    for key, value in summary.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"  {key:<{width}}  {shown}")
    print(f"outputs written to {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
