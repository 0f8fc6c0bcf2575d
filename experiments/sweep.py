"""Run a sweep: plan its tasks, execute the missing ones, consolidate and summarize.

`run_plan` is shared with comparisons: given tasks and a results folder it runs only the
tasks without a part file (so re-running an interrupted command finishes it), shows a
progress bar, and returns the consolidated `runs.parquet` table. `run_sweep` adds the
sweep's end products: `points.parquet` (per-point means), `tails.parquet` (VaR-style
loss quantiles per point), `sensitivity.parquet` (Sobol designs) and `summary.txt`.
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from experiments import design, seeds
from experiments.executors import run_tasks
from experiments.store import ID_COLUMNS, WALL_CLOCK_COLUMNS, RunStore
from experiments.sweepfile import Sweep, sample_warning
from experiments.worker import RunOutcome, RunTask
from protocols.errors import ConfigError
from sim import provenance
from sim.folders import locked, output_folder
from sim.outputs import atomic_write_text, write_parquet


@dataclass(frozen=True)
class PlanResult:
    runs: pd.DataFrame
    ran: int  # runs executed by this call (the rest were already in the folder)
    failed: int  # rows with an error, in the whole table
    elapsed_s: float


@dataclass(frozen=True)
class SweepResult(PlanResult):
    points: pd.DataFrame
    tails: pd.DataFrame
    sensitivity: pd.DataFrame | None
    summary: str


def plan(sweep: Sweep, data_dir: str | None = None) -> list[RunTask]:
    """Every (point, replicate) task of the sweep, points in design order."""
    tasks = []
    for point, params in enumerate(design.points(sweep)):
        for rep in range(sweep.replicates):
            seed = seeds.run_seed(sweep.seed, rep,
                                  None if sweep.common_random_numbers else point)
            tasks.append(RunTask(key=f"p{point:05d}-r{rep:04d}", point=point, replicate=rep,
                                 seed=seed, params=params, scenario=sweep.base,
                                 overrides=params, data_dir=data_dir,
                                 timeseries=sweep.timeseries))
    return tasks


def fingerprint(tasks: Sequence[RunTask]) -> str:
    """Hash of everything that decides the runs' results (not where they run)."""
    digest = hashlib.sha256()
    scenarios: dict[int, str] = {}  # tasks share a few scenario dicts: hash each once
    for t in tasks:
        if id(t.scenario) not in scenarios:
            scenarios[id(t.scenario)] = hashlib.sha256(
                json.dumps(t.scenario, sort_keys=True, default=str).encode()).hexdigest()
        digest.update(json.dumps([t.key, t.point, t.replicate, t.seed, t.params, t.overrides,
                                  scenarios[id(t.scenario)], t.timeseries], sort_keys=True,
                                 default=str).encode())
    return digest.hexdigest()


def run_plan(tasks: Sequence[RunTask], out: str | Path, *, description: dict[str, Any],
             workers: int = 1, scheduler: str | None = None, progress: bool = True,
             param_columns: Sequence[str] = (), dask_processes: bool = True,
             scenarios: dict[str, dict[str, Any]] | None = None) -> PlanResult:
    """Run the tasks that have no result in `out` yet; consolidate and return them all.
    `out` is checked, and locked against a second command, before anything is written.

    `scenarios` (label -> raw scenario dict: a sweep's base, a comparison's arms) are
    hashed as resolved scenarios (`sim.provenance.scenario_sha256`) into the provenance
    recorded in `plan.json` (of the command that made the plan) and `provenance.json` (of
    the latest command that ran in the folder); each run's own hash is its row's
    `scenario_sha256`."""
    if workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {workers}")
    hashes = {label: scenario_sha256(raw) for label, raw in (scenarios or {}).items()}
    with locked(output_folder(out)):
        description = {**description, "provenance": provenance.record(hashes)}
        return _run_plan(tasks, out, description, workers, scheduler, progress,
                         param_columns, dask_processes)


def scenario_sha256(raw: dict[str, Any]) -> str:
    """sha256 of a raw scenario dict resolved and validated as a run would see it: the
    bytes of the `scenario.json` a `daosim run` of it writes."""
    from sim.scenario import parse_scenario

    return provenance.scenario_sha256(parse_scenario(raw))


def _run_plan(tasks: Sequence[RunTask], out: str | Path, description: dict[str, Any],
              workers: int, scheduler: str | None, progress: bool,
              param_columns: Sequence[str], dask_processes: bool) -> PlanResult:
    store = RunStore(out, fingerprint(tasks), description)
    atomic_write_text(Path(out) / "provenance.json",
                      json.dumps(description["provenance"], indent=2))
    done = store.done_keys()
    todo = [t for t in tasks if t.key not in done]
    started = time.perf_counter()
    bar = _progress_bar(len(tasks), len(tasks) - len(todo), enabled=progress and bool(todo))
    ran = 0

    def on_done(task: RunTask, outcome: RunOutcome) -> None:
        nonlocal ran
        store.record(task, outcome)
        ran += 1
        if bar is not None:
            bar.update(1)

    try:
        run_tasks(todo, on_done, workers=workers, scheduler=scheduler,
                  dask_processes=dask_processes)
    finally:
        if bar is not None:
            bar.close()
        runs = store.consolidate(param_columns)
    failed = int(runs["error"].notna().sum()) if len(runs) else 0
    return PlanResult(runs, ran, failed, time.perf_counter() - started)


def run_sweep(sweep: Sweep, out: str | Path, *, workers: int = 1, scheduler: str | None = None,
              data_dir: str | None = None, progress: bool = True,
              dask_processes: bool = True) -> SweepResult:
    """Run (or finish) a sweep into `out` and write its end-of-sweep tables."""
    out = Path(out)
    tasks = plan(sweep, data_dir)
    params = [a.path for a in sweep.axes]
    description = {"kind": "sweep", "name": sweep.name, "source": str(sweep.source),
                   "base": str(sweep.base_path), "design": sweep.design,
                   "replicates": sweep.replicates, "root_seed": sweep.seed,
                   "overrides": sweep.overrides, "runs": len(tasks), "axes": params}
    result = run_plan(tasks, out, description=description, workers=workers,
                      scheduler=scheduler, progress=progress, param_columns=params,
                      dask_processes=dask_processes, scenarios={"base": sweep.base})
    runs = result.runs
    points = point_means(runs, params)
    from experiments.tails import tail_table

    tails = tail_table(runs, by="point")
    write_parquet(out / "points.parquet", points)
    write_parquet(out / "tails.parquet", tails)
    sensitivity = None
    if sweep.design == "sobol" and len(runs) == len(tasks):
        from experiments.sensitivity import sweep_indices

        n_points = len(tasks) // sweep.replicates
        sensitivity = sweep_indices(runs, sweep.axes, n_points, metric_columns(runs, params),
                                    seeds.int_seed(sweep.seed, seeds.BOOTSTRAP))
        write_parquet(out / "sensitivity.parquet", sensitivity)
    text = summary_text(sweep, result, points, tails, sensitivity, len(tasks))
    atomic_write_text(out / "summary.txt", text + "\n")
    return SweepResult(runs, result.ran, result.failed, result.elapsed_s, points, tails,
                       sensitivity, text)


def metric_columns(runs: pd.DataFrame, params: Sequence[str]) -> list[str]:
    """Numeric summary metrics: everything numeric except ids, parameters, wall clock."""
    skip = {*ID_COLUMNS, *params, *WALL_CLOCK_COLUMNS, "steps"}
    return [c for c in runs.columns if c not in skip and pd.api.types.is_numeric_dtype(runs[c])
            and not pd.api.types.is_bool_dtype(runs[c])]


def point_means(runs: pd.DataFrame, params: Sequence[str]) -> pd.DataFrame:
    """One row per point: its parameters, runs, failures and each metric's mean over the
    runs that succeeded."""
    if runs.empty:
        return pd.DataFrame(columns=["point", *params, "runs", "failed"])
    ok = runs[runs["error"].isna()]
    grouped = runs.groupby("point", sort=True)
    table = grouped[list(params)].first() if params else pd.DataFrame(index=grouped.size().index)
    table["runs"] = grouped.size()
    table["failed"] = grouped["error"].count()
    means = ok.groupby("point")[metric_columns(runs, params)].mean()
    return table.join(means).reset_index()


def summary_text(sweep: Sweep, result: PlanResult, points: pd.DataFrame, tails: pd.DataFrame,
                 sensitivity: pd.DataFrame | None, total: int, max_points: int = 12) -> str:
    """The one-screen end-of-sweep summary."""
    runs = result.runs
    rate = result.ran / result.elapsed_s if result.elapsed_s > 0 else 0.0
    lines = [f"sweep {sweep.name!r}: {sweep.design} design, {len(points)} points x "
             f"{sweep.replicates} replicates = {total} runs; {len(runs)} done, "
             f"{result.failed} failed; {result.ran} ran now in {result.elapsed_s:.1f} s "
             f"({rate:.2f} runs/s)"]
    if note := sample_warning(sweep.design, sweep.samples):
        lines.append(f"  warning: {note}")
    if len(runs) < total:
        lines.append(f"  incomplete: re-run the same command to finish the "
                     f"{total - len(runs)} missing runs")
    params = [a.path for a in sweep.axes]
    shown = [m for m in ("bad_debt_usd", "shortfall_peak_usd", "liquidation_volume_usd",
                         "treasury_nav_max_drawdown", "protocols_distressed",
                         "treasury_nav_end_usd")
             if m in points]
    if not shown:
        shown = metric_columns(points.drop(columns=["runs", "failed"], errors="ignore"),
                               params)[:4]
    if not points.empty:
        lines.append("")
        lines.append("per point (means over replicates):")
        table = points[["point", *params, *shown, "failed"]].head(max_points)
        lines.append(_format(table).rstrip())
        if len(points) > max_points:
            lines.append(f"  ... {len(points) - max_points} more points in points.parquet")
    if not tails.empty:
        worst = (tails.sort_values("p95", ascending=False).groupby("metric").head(3)
                 .sort_values(["metric", "p95"], ascending=[True, False]))
        lines.append("")
        lines.append("tail losses (worst 3 points by p95 per metric, VaR-style):")
        lines.append(_format(worst[["metric", "point", "runs", "mean", "p95", "p99",
                                    "es95"]]).rstrip())
    if sensitivity is not None and not sensitivity.empty:
        lines.append("")
        lines.append("Sobol indices (first-order S1, total ST; _conf: half-width of the "
                     "95 % bootstrap confidence interval):")
        lines.append(_format(sensitivity[["metric", "parameter", "S1", "S1_conf", "ST",
                                          "ST_conf"]]).rstrip())
    errors = runs[runs["error"].notna()] if len(runs) else runs
    if len(errors):
        lines.append("")
        first = errors.iloc[0]
        lines.append(f"{len(errors)} runs failed; first ({first['run_key']}): "
                     f"{str(first['error']).splitlines()[0][:200]}")
    if len(runs):
        row = runs.iloc[0]
        sets = {**sweep.overrides, **{p: row[p] for p in params}}
        args = " ".join(f"--set {shlex.quote(f'{k}={_toml(v)}')}" for k, v in sets.items())
        lines.append("")
        lines.append(f"re-run one run alone, e.g. {row['run_key']}: daosim run "
                     f"{_shown_path(sweep.base_path)} --seed {int(row['seed'])} {args}".rstrip())
    return "\n".join(lines)


def _shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        return shlex.quote(str(path.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(path))


def _toml(value: Any) -> str:
    """A value as a TOML literal, as `daosim run --set PATH=VALUE` reads it."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}"
                                for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return repr(value)


def _format(frame: pd.DataFrame) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"
        return str(v)

    return frame.to_string(index=False, formatters={c: cell for c in frame.columns})


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: it would stop worker pools from forking
    return tqdm(total=total, initial=initial, unit="run", dynamic_ncols=True,
                desc="runs", smoothing=0.1)
