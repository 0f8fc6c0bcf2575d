"""The public functions: load a scenario, run it, compare a proposal, sweep, reopen results.

They do what the `daosim` commands do (the commands are built on them) and print nothing:
what they find comes back as a `Run`, `Comparison` or `Sweep` (`daosim.results`). Bad input
raises `ConfigError` with the same one-line, field-named message the command line prints.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daosim.results import Comparison, Run, Sweep
from protocols.errors import ConfigError
from spec import Scenario

if TYPE_CHECKING:
    from sim.outputs import RunResult

with warnings.catch_warnings():
    # Mesa imports tqdm.auto, which in a Jupyter kernel without ipywidgets warns that it
    # falls back to a text bar; daosim never shows Mesa's bar, so the warning says nothing
    warnings.filterwarnings("ignore", message="IProgress not found")
    import mesa  # noqa: F401

#: where results go when no folder is given: the command line's defaults
OUT = Path("out")


def load(path: str | Path, **overrides: Any) -> Scenario:
    """Read and validate a scenario file, with fields overridden by dotted path.

    `load("baseline.toml", steps=168, seed=7)`; nested fields as
    `**{"protocols[aave].reserves.GOV.liquidation_threshold": 0.5}` (the paths of
    `daosim run --set`)."""
    from sim.scenario import load_scenario

    return load_scenario(_existing(path, "scenario"), overrides)


def run(scenario: Scenario | str | Path, *, seed: int | None = None, steps: int | None = None,
        out: str | Path | None = None, counterfactual: bool = False,
        data_dir: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None) -> Run:
    """Run a scenario (a file, or one `load` returned) on its seed, or `seed`, for its
    horizon, or `steps`.

    With `out`, the outputs are also written to that folder (as `daosim run --out` does;
    `Run.report()` then writes the HTML report there). With `counterfactual`, the same seed
    also runs without the scenario's shocks (`Run.counterfactual`) and the summary gains
    `shock_cost_KEY` = KEY with shocks - KEY without. `progress(done, horizon)` is called
    after every step of the (shocked) run."""
    from sim.folders import replaceable_run_folder
    from sim.outputs import COUNTERFACTUAL, write_run
    from sim.runner import run_scenario

    config = _scenario(scenario, {k: v for k, v in (("seed", seed), ("steps", steps))
                                  if v is not None})
    folder = replaceable_run_folder(out) if out is not None else None
    where = _dir(data_dir)
    calm = None
    if counterfactual:
        from sim.counterfactual import run_counterfactual

        result, calm_result, calm_config = run_counterfactual(config, data_dir=where,
                                                              graph=True)
        calm = (calm_result, calm_config)
    else:
        result = run_scenario(config, data_dir=where, graph=True, progress=progress)
    if folder is not None:
        folder = write_run(folder, result, config, calm)

    calm_run = None
    if calm is not None:
        calm_run = _run_of(*calm, None, None if folder is None else folder / COUNTERFACTUAL)
    return _run_of(result, config, calm_run, folder)


def compare(baseline: str | Path, proposal: str | Path, *, runs: int = 20,
            seed: int | None = None, workers: int = 1, out: str | Path | None = None,
            overrides: Mapping[str, Any] | None = None, scheduler: str | None = None,
            data_dir: str | Path | None = None, progress: bool = True,
            resolve: float = 0.1) -> Comparison:
    """Run a proposal (a diff of dotted-path overrides, or a scenario of its own) and its
    baseline on the same `runs` seeds and judge every metric's paired difference.

    Results go to `out` (default out/compare/BASELINE-vs-PROPOSAL); an interrupted
    comparison called again runs only its missing runs. `seed`: the root of the run seeds
    (default the baseline's). `overrides`: dotted paths set in both arms, under the
    proposal's own changes - a shorter experiment, e.g. `{"steps": 168, "shocks[0].step":
    72}`. `workers` > 1 runs in parallel processes; `scheduler` "local" or a tcp:// address
    runs on Dask. `resolve`: the change, as a share of the baseline mean, whose runs-needed
    each metric reports."""
    from experiments.compare import compare as compare_arms

    baseline = _existing(baseline, "baseline")
    proposal = _existing(proposal, "proposal")
    folder = Path(out) if out is not None else default_compare_folder(baseline, proposal)
    compare_arms(baseline, proposal, runs, folder, seed=seed, workers=workers,
                 scheduler=scheduler, data_dir=_dir(data_dir), progress=progress,
                 resolve=resolve, settings=overrides)
    return open_comparison(folder)


def sweep(path: str | Path, *, workers: int = 1, out: str | Path | None = None,
          scheduler: str | None = None, data_dir: str | Path | None = None,
          progress: bool = True) -> Sweep:
    """Run (or finish) every (point, replicate) of a sweep file (README, "Sweeps and
    comparisons") into `out` (default out/sweeps/NAME)."""
    from experiments.sweep import run_sweep
    from experiments.sweepfile import load_sweep

    plan = load_sweep(_existing(path, "sweep"))
    folder = Path(out) if out is not None else OUT / "sweeps" / plan.name
    run_sweep(plan, folder, workers=workers, scheduler=scheduler, data_dir=_dir(data_dir),
              progress=progress)
    return open_sweep(folder)


def open(folder: str | Path) -> Run | Comparison | Sweep:  # noqa: A001 - the API's verb
    """Read an output folder of `daosim run`, `compare` or `sweep` back into the object the
    function of that name returns."""
    from reports.build import kind_of

    kind = kind_of(folder, command="open")
    return {"run": open_run, "compare": open_comparison, "sweep": open_sweep}[kind](folder)


def default_compare_folder(baseline: Path, proposal: Path) -> Path:
    """out/compare/BASELINE-vs-PROPOSAL, by the files' stems."""
    return OUT / "compare" / f"{baseline.stem}-vs-{proposal.stem}"


def open_run(folder: str | Path) -> Run:
    """A run folder (`daosim run --out`) as a `Run`."""
    from reports.inputs import read_json, read_parquet
    from sim.outputs import COUNTERFACTUAL, from_node_link
    from sim.scenario import parse_scenario

    path = Path(folder)
    optional = {name: read_parquet(path / f"{name}.parquet")
                if (path / f"{name}.parquet").exists() else None
                for name in ("health", "liquidation_curve", "health_steps")}
    graph = from_node_link(read_json(path / "graph.json")) \
        if (path / "graph.json").exists() else None
    calm = open_run(path / COUNTERFACTUAL) if (path / COUNTERFACTUAL).is_dir() else None
    return Run(parse_scenario(read_json(path / "scenario.json"),
                              source=str(path / "scenario.json")),
               read_json(path / "summary.json"), read_parquet(path / "timeseries.parquet"),
               read_parquet(path / "events.parquet"), graph, optional["health"],
               optional["liquidation_curve"], calm, path, optional["health_steps"])


def open_comparison(folder: str | Path) -> Comparison:
    """A comparison folder (`daosim compare --out`) as a `Comparison`."""
    from reports.inputs import read_csv, read_json, read_parquet

    path = Path(folder)
    about = read_json(path / "comparison.json")
    tails = path / "tails.csv"
    return Comparison(str(about.get("baseline")), str(about.get("proposal")),
                      read_csv(path / "comparison.csv"), read_parquet(path / "runs.parquet"),
                      read_csv(tails) if tails.exists() else _empty(), about, path)


def open_sweep(folder: str | Path) -> Sweep:
    """A sweep folder (`daosim sweep --out`) as a `Sweep`."""
    from reports.inputs import read_json, read_parquet

    path = Path(folder)
    about = read_json(path / "plan.json")
    sensitivity = path / "sensitivity.parquet"
    tails = path / "tails.parquet"
    summary = path / "summary.txt"
    return Sweep(str(about.get("name", path.name)), read_parquet(path / "runs.parquet"),
                 read_parquet(path / "points.parquet"),
                 read_parquet(tails) if tails.exists() else _empty(),
                 summary.read_text().rstrip("\n") if summary.exists() else "", path,
                 read_parquet(sensitivity) if sensitivity.exists() else None, about)


def _run_of(result: RunResult, config: Scenario, counterfactual: Run | None,
            folder: Path | None) -> Run:
    from sim.outputs import events_frame

    return Run(config, result.summary, result.timeseries, events_frame(result.events),
               result.graph, result.health, result.liquidation_curve, counterfactual, folder,
               result.health_steps)


def _scenario(scenario: Scenario | str | Path, overrides: Mapping[str, Any]) -> Scenario:
    """`scenario` validated with `overrides` applied: a file is loaded, a `Scenario` is
    validated again with its changed fields (a changed `steps` can break a shock's step)."""
    from sim.scenario import apply_overrides, parse_scenario

    if isinstance(scenario, Scenario):
        if not overrides:
            return scenario
        return parse_scenario(apply_overrides(scenario.model_dump(), overrides),
                              source=f"scenario {scenario.name!r}")
    if isinstance(scenario, str | Path):
        return load(scenario, **overrides)
    raise ConfigError(f"run: scenario: expected a scenario file's path or a Scenario from "
                      f"daosim.load, got {type(scenario).__name__}")


def _existing(path: str | Path, what: str) -> Path:
    """`path` as a Path; a clear error for what is not a path at all (a file that is missing
    gets its message where it is read)."""
    if not isinstance(path, str | Path):
        raise ConfigError(f"{what}: expected a file path, got {type(path).__name__}")
    return Path(path)


def _dir(path: str | Path | None) -> str | None:
    return None if path is None else str(path)


def _empty() -> Any:
    import pandas as pd

    return pd.DataFrame()
