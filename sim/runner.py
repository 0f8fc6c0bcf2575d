"""One run = one scenario + one seed -> summary, time series, event log.

The single entry point the CLI, sweeps and comparisons call, so every executor runs a
scenario the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import mesa
import pandas as pd

from sim import schema
from sim.model import TreasuryModel
from sim.paths import ExogenousPaths


@dataclass(frozen=True)
class RunResult:
    summary: dict[str, Any]
    timeseries: pd.DataFrame
    events: list[dict[str, Any]]


def run_scenario(
    config: schema.Scenario,
    *,
    data_dir: str | None = None,
    paths: ExogenousPaths | None = None,
) -> RunResult:
    """Build the model, run every step, and return its outputs (`runtime_s` included)."""
    started = time.perf_counter()
    model = TreasuryModel(config, data_dir=data_dir, paths=paths)
    try:
        model.run()
        summary = {**model.summary(), "runtime_s": round(time.perf_counter() - started, 3)}
        return RunResult(summary, model.timeseries(), model.events)
    finally:
        release(model)


def release(model: mesa.Model) -> None:
    """Forget `model` in Mesa 3.3's class-level id counter (`Agent._ids`, keyed by model),
    which otherwise keeps every finished model alive in a process that runs many."""
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)
