"""One run = one scenario + one seed -> summary, time series, event log.

The single entry point the CLI, sweeps and comparisons call, so every executor runs a
scenario the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import mesa

from protocols.errors import ConfigError, DaosimError
from sim import provenance
from sim.model import TreasuryModel
from sim.outputs import RunResult
from sim.paths import ExogenousPaths
from spec import Scenario


def run_scenario(
    config: Scenario,
    *,
    data_dir: str | None = None,
    paths: ExogenousPaths | None = None,
    graph: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Build the model, run every step, and return its outputs (`runtime_s` and the
    deterministic provenance keys `daosim_version`, `scenario_sha256` included; the
    annotated dependency graph with `graph=True`); `progress(done, horizon)` is called after
    every step."""
    started = time.perf_counter()
    model = TreasuryModel(config, data_dir=data_dir, paths=paths)
    try:
        model.run(progress)
        summary = {**model.summary(), **provenance.summary_keys(config),
                   "runtime_s": round(time.perf_counter() - started, 3)}
        return RunResult(
            summary, model.timeseries(), model.events,
            model.contagion_graph() if graph else None, model.health.frame(),
            model.curves.frame(), model.health.steps_frame(),
        )
    finally:
        release(model)


def check_buildable(config: Scenario, *, data_dir: str | None = None,
                    source: str = "scenario") -> None:
    """Build `config`'s model at step 0 (paths, pools, lending book, agents, treasury) and
    throw it away, so that `daosim check` refuses what `daosim run` could not start."""
    try:
        model = TreasuryModel(config, data_dir=data_dir)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except DaosimError as exc:
        raise ConfigError(f"{source}: its world cannot be built at step 0: {exc}") from None
    release(model)


def release(model: mesa.Model) -> None:
    """Forget `model` in Mesa 3.3's class-level id counter (`Agent._ids`, keyed by model),
    which otherwise keeps every finished model alive in a process that runs many."""
    ids = getattr(mesa.Agent, "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)
