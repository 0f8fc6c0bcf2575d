"""`daosim run`, `check` and `schema`: one scenario file at a time.

Argument parsing and terminal output only; the work is in `sim.runner` and `sim.outputs`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.exits import on_interrupt
from cli.report import write_report
from protocols.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

#: Distress transitions printed by `daosim run` (all of them are in events.parquet).
SPREAD_LINES = 30


def add_run(commands: Any) -> None:
    """Register `daosim run SCENARIO` with its overrides."""
    run = commands.add_parser("run", help="run one scenario and write its outputs")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    _scenario_options(run)
    run.add_argument("--out", type=Path, default=None, help="output folder (default out/NAME)")
    run.add_argument("--no-report", action="store_true",
                     help="skip report.html and figures/ (written by default)")
    run.add_argument("--counterfactual", action="store_true",
                     help="also run the same seed without the scenario's shocks (outputs in "
                          "OUT/counterfactual/) and add shock_cost_KEY = KEY with shocks - "
                          "KEY without to the summary")
    run.set_defaults(handler=_run)


def add_check(commands: Any) -> None:
    """Register `daosim check SCENARIO`, with the same overrides as `run`."""
    check = commands.add_parser(
        "check", help="validate a scenario (or a proposal with --base) and build its world",
        description="Validate a scenario file with the overrides `run` would apply, then build "
                    "its world at step 0 (market paths, pools, lending book, treasury): a "
                    "scenario that passes `check` runs.")
    check.add_argument("scenario", type=Path, help="scenario TOML file, or a proposal with --base")
    check.add_argument("--base", type=Path, default=None,
                       help="check SCENARIO as a proposal on this baseline, as `compare` would")
    _scenario_options(check)
    check.set_defaults(handler=_check)


def _scenario_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--steps", type=int, help="override the scenario's horizon in steps")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder of historical data files (default $DAOSIM_DATA_DIR or "
                             "../shared/data)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE",
                        help="override one field by dotted path, e.g. "
                             "protocols.aave.reserves.GOV.liquidation_threshold=0.5 "
                             "(repeatable; VALUE is read as TOML, else as text)")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The `--set`, `--seed` and `--steps` of the command line as dotted-path overrides."""
    overrides = dict(parse_assignment(text) for text in args.overrides)
    for key in ("seed", "steps"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    return overrides


def add_schema(commands: Any) -> None:
    """Register `daosim schema`."""
    schema = commands.add_parser(
        "schema", help="print every scenario field: path, type, bounds, default")
    schema.add_argument("--json", action="store_true",
                        help="print the JSON Schema of a scenario file instead, for an "
                             "editor's TOML language server (README, \"Editor support\")")
    schema.add_argument("--out", type=Path, default=None,
                        help="with --json: write it to this file instead of printing it")
    schema.set_defaults(handler=_schema)


def _run(args: argparse.Namespace) -> int:
    import daosim

    scenario = daosim.load(args.scenario, **_overrides(args))
    out = args.out or Path("out") / scenario.name
    with on_interrupt(f"interrupted: {out}/ is as it was (a run writes all its outputs at "
                      "its end); run the command again"):
        run = daosim.run(scenario, out=out, counterfactual=args.counterfactual,
                         data_dir=args.data_dir)
    print(f"scenario {scenario.name!r}, seed {scenario.seed}, {scenario.steps} steps")
    _print_summary(run.summary)
    if run.counterfactual is not None:
        _print_shock_cost(run.summary, run.counterfactual.summary, len(scenario.shocks))
    _print_spread(run.events)
    print(f"outputs written to {run.folder}/ (graph.json: the dependency graph and the spread"
          + ("; counterfactual/: the run without shocks)" if args.counterfactual else ")"))
    return 0 if args.no_report else write_report(run.folder)


def _print_summary(summary: dict[str, Any]) -> None:
    """Each key with its value and unit (`sim.metrics`); old alias names, the shock costs
    (printed apart) and per-market keys equal to their all-market total are left out."""
    from sim import metrics

    folded = [k for k, v in summary.items()
              if ":" in k and summary.get(k.rpartition(":")[0]) == v]
    shown = {k: v for k, v in summary.items() if not k.startswith("shock_cost_")
             and not metrics.is_alias(k) and k not in folded}
    width = max(len(k) for k in shown)
    for key, value in shown.items():
        unit = metrics.lookup(key).unit if metrics.lookup(key) else ""
        print(f"  {key:<{width}}  {_shown(value):>22}  {'' if unit == 'text' else unit}"
              .rstrip())
    if folded:
        markets = sorted({k.rpartition(":")[2] for k in folded})
        print(f"  ({len(folded)} per-market keys of {', '.join(markets)} equal the totals "
              "and are not repeated; all keys are in summary.json)")


def _shown(value: object) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def _print_shock_cost(summary: dict[str, Any], calm: dict[str, Any], shocks: int) -> None:
    """The keys the shocks changed: with shocks, without, and the cost (with - without)."""
    prefix = "shock_cost_"
    changed = [k[len(prefix):] for k, v in summary.items() if k.startswith(prefix) and v != 0]
    print(f"shock cost (the same seed without its {shocks} shock(s); cost = with - without; "
          f"{len(changed)} key(s) changed, the rest are 0):")
    if changed:
        width = max(len(k) for k in changed)
        print(f"  {'key':<{width}}  {'with':>18}  {'without':>18}  {'cost':>18}")
    for key in changed:
        print(f"  {key:<{width}}  {_shown(summary[key]):>18}  {_shown(calm.get(key)):>18}  "
              f"{_shown(summary[prefix + key]):>18}")


def _check(args: argparse.Namespace) -> int:
    from sim.runner import check_buildable
    from sim.scenario import load_proposal, load_scenario

    if args.base is not None:
        scenario = load_proposal(args.base, args.scenario, _overrides(args))
    else:
        scenario = load_scenario(args.scenario, _overrides(args))
    check_buildable(scenario, data_dir=_dir(args.data_dir), source=str(args.scenario))
    kind = f"proposal on {args.base}" if args.base is not None else f"scenario {scenario.name!r}"
    print(f"{args.scenario}: valid {kind} ({scenario.steps} steps); its world builds at step 0")
    return 0


def _dir(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _schema(args: argparse.Namespace) -> int:
    if args.out is not None and not args.json:
        raise ConfigError("--out: only with --json (the field list goes to the terminal)")
    if not args.json:
        from spec.doc import field_reference

        print("\n".join(field_reference()))
        return 0
    import json

    from spec.json_schema import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2, sort_keys=True, allow_nan=False) + "\n"
    if args.out is None:
        print(text, end="")
        return 0
    from sim.outputs import atomic_write_text

    try:
        atomic_write_text(args.out, text)
    except OSError as exc:
        raise ConfigError(f"--out: cannot write {args.out}: {exc.strerror}") from None
    print(f"JSON Schema of scenario files written to {args.out}")
    return 0


def _print_spread(events: pd.DataFrame) -> None:
    """The distress event log of the run, one line per transition: when it was logged,
    when its cause began, and for a new distress the neighbour the chain reached it from."""
    import pandas as pd

    from agents import event_kinds

    if events.empty:
        return
    contagion = events[events["kind"] == event_kinds.CONTAGION]
    parents = dict(zip(contagion["node"], contagion["parent"], strict=True)) \
        if len(contagion) else {}
    spread = events[events["kind"].isin(event_kinds.SPREAD)]
    if len(spread):
        print("distress transitions (step logged, step begun, node, cause, reached from):")
    seen: set[str] = set()
    for event in spread.head(SPREAD_LINES).to_dict("records"):
        node = event["node"]
        since = event.get("since")
        begun = event["step"] if since is None or pd.isna(since) else int(since)
        reached = ""
        if event["kind"] == event_kinds.DISTRESS and node not in seen:
            seen.add(node)
            reached = f"  <- {parents[node]}" if node in parents else ""
        print(f"  {event['step']:>6}  {begun:>6}  "
              f"{event['kind']:<9}  {node:<28}  {event['cause']}{reached}")
    if len(spread) > SPREAD_LINES:
        print(f"  ... {len(spread) - SPREAD_LINES} more in events.parquet")


def parse_assignment(text: str) -> tuple[str, object]:
    """`a.b=0.5` -> ("a.b", 0.5): the value is a TOML literal (number, bool, string, array,
    inline table) or, failing that, plain text."""
    import tomllib

    path, sep, value = text.partition("=")
    if not sep or not path.strip():
        raise ConfigError(f"--set {text!r}: expected PATH=VALUE")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return path.strip(), parsed
