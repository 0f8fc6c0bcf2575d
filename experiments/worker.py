"""One run as a self-contained task: what an executor ships to a worker and gets back.

A task carries the raw scenario dict (not a file path), so a worker on another machine
needs the package but not the sweep's files. `execute` never raises: a run that fails is
returned with its error text, so one bad point never stops a sweep.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from spec import Scenario


@dataclass(frozen=True)
class RunTask:
    key: str  # unique within a sweep, e.g. "p00012-r003"
    point: int
    replicate: int
    seed: int
    params: dict[str, Any]  # recorded in the row (the point's parameters or labels)
    scenario: dict[str, Any]  # raw scenario dict, before `overrides` and `seed`
    overrides: dict[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    #: keep the run's time series and events (`RunOutcome.timeseries` / `.events`)
    timeseries: bool = False


@dataclass(frozen=True)
class RunOutcome:
    key: str
    metrics: dict[str, Any] | None  # flat scalars; None if the run failed
    error: str | None
    runtime_s: float
    timeseries: pd.DataFrame | None = None
    #: the run's events as `sim.outputs.events_frame` writes a run folder's events.parquet
    events: pd.DataFrame | None = None


def execute(task: RunTask) -> RunOutcome:
    """Run one task; any exception becomes the outcome's `error` ("Type: message")."""
    from sim.outputs import events_frame
    from sim.runner import run_scenario

    started = time.perf_counter()
    try:
        result = run_scenario(task_scenario(task), data_dir=task.data_dir)
    except Exception as exc:  # noqa: BLE001 - a failed run is data, recorded with its reason
        return RunOutcome(task.key, None, f"{type(exc).__name__}: {exc}",
                          round(time.perf_counter() - started, 3))
    metrics = flatten(result.summary)
    runtime = float(metrics.pop("runtime_s", time.perf_counter() - started))
    if not task.timeseries:
        return RunOutcome(task.key, metrics, None, runtime)
    return RunOutcome(task.key, metrics, None, runtime, result.timeseries,
                      events_frame(result.events))


def task_scenario(task: RunTask) -> Scenario:
    """The validated scenario a task runs: its scenario dict with its overrides and seed
    applied. The one place this is built, so a run re-run alone (the dashboard's sweep
    explorer) is the run the sweep made."""
    from sim.scenario import apply_overrides, parse_scenario

    raw = apply_overrides(task.scenario, {**task.overrides, "seed": task.seed})
    return parse_scenario(raw, source=f"run {task.key}")


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalars as they are (numpy scalars as Python ones), nested dicts as dotted keys,
    anything else as JSON text: a summary row must fit one Parquet row."""
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            flat[name] = value.item()
        elif value is None or isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = json.dumps(value, default=str)
    return flat


