"""Shock cost by counterfactual: the same run without its shocks, and the difference.

`treasury_loss_usd` of a stressed run mixes what the shocks did with the drift of prices
before and after them. Running the same scenario and seed with the `shocks` list emptied -
everything else unchanged: price processes, historical data, assets' own `depegs`, agents,
treasury - and subtracting separates the two: `shock_cost_KEY = KEY(with shocks) -
KEY(without)`. Positive for a loss-like key (bad debt, `treasury_loss_usd`), negative for
a value-like one (`treasury_nav_end_usd`).

This means something only with common random numbers: both runs must share every random
draw the shocks do not cause. Exogenous paths come from per-purpose streams whose draws do
not depend on shocks (`sim.paths`: a crash scales the drawn path after the draws); the
model's generators are consumed in state-independent amounts (agent orders shuffle fixed
agent sets), and borrowers' reaction draws are keyed by (cohort, step, position), not by
how many positions reacted before (`agents.borrowers`). `tests/sim/test_counterfactual.py`
checks both.

Non-finite values: when the two runs agree (an infinite runway in both) the cost is 0.0;
otherwise the difference as IEEE arithmetic gives it (inf - finite = inf), and a NaN or a
missing or null value on either side gives None (null in `summary.json`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import replace
from typing import Any

from sim.outputs import RunResult
from sim.runner import run_scenario
from spec import Scenario

#: summary keys that are not outcomes of the run: identity, clock and provenance
NOT_OUTCOMES = frozenset({"runtime_s", "seed", "steps", "daosim_version", "scenario_sha256"})
PREFIX = "shock_cost_"


def without_shocks(config: Scenario) -> Scenario:
    """`config` with its `shocks` list emptied, validated again; nothing else changes."""
    return Scenario.model_validate({**config.model_dump(), "shocks": []})


def shock_cost(shocked: dict[str, Any], calm: dict[str, Any]) -> dict[str, float | None]:
    """`shock_cost_KEY` for every numeric summary key of `shocked` (not `NOT_OUTCOMES`,
    not text or booleans): `shocked[KEY] - calm[KEY]`, with the rules in the module doc."""
    costs: dict[str, float | None] = {}
    for key, value in shocked.items():
        if key in NOT_OUTCOMES or not _number(value):
            continue
        other = calm.get(key)
        costs[PREFIX + key] = _difference(value, other) if _number(other) else None
    return costs


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _difference(a: float, b: float) -> float | None:
    if a == b:  # an int key stays an int; two equal infinities cost nothing
        return a - a if math.isfinite(a) else 0.0
    d = a - b
    return None if isinstance(d, float) and math.isnan(d) else d


def run_counterfactual(config: Scenario, *, data_dir: str | None = None,
                       graph: bool = False) -> tuple[RunResult, RunResult, Scenario]:
    """(the run with its `shock_cost_*` keys added to its summary, the run without shocks,
    the scenario without shocks). Both runs use `config.seed`; `runtime_s` is the shocked
    run's."""
    calm_config = without_shocks(config)
    shocked = run_scenario(config, data_dir=data_dir, graph=graph)
    calm = run_scenario(calm_config, data_dir=data_dir, graph=graph)
    runtime = shocked.summary.get("runtime_s")
    summary = {k: v for k, v in shocked.summary.items() if k != "runtime_s"}
    summary.update(shock_cost(shocked.summary, calm.summary))
    summary["runtime_s"] = runtime
    return replace(shocked, summary=summary), calm, calm_config

