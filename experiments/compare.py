"""Compare a governance proposal with the baseline on the same seeds.

A proposal is either a full scenario file, or (the usual case: a proposal is a diff) a
small TOML of dotted-path overrides on the baseline:

    name = "gov-lt-50"
    description = "Lower GOV's liquidation threshold on the lending market to 0.50"
    [overrides]
    "protocols[aave].reserves.GOV.liquidation_threshold" = 0.5

(`extends = "..."` in a proposal makes it a scenario built on that file instead.) Both
arms run replicate k with the same seed (common random numbers), so run k of the
proposal differs from run k of the baseline only by the proposal: the paired differences
d_k = proposal_k - baseline_k have far less noise than two independent samples. Each
metric gets the two means, the mean paired difference with its BCa bootstrap interval, the
runs a difference of a given size would need, and a verdict by the metric catalogue's
direction (`experiments.paired`); loss metrics also get VaR-style tail figures per arm.
The numbers go to `comparison.csv`, `tails.csv` and `comparison.json` (the proposal's name,
description and resolved diff against the baseline); `reports.compare_text` writes them as
`comparison.txt` and the HTML report. Every run's time series is kept (`timeseries/`) for
the report's NAV-per-arm figure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from experiments import seeds
from experiments.paired import MATERIAL, MIN_PAIRS, RESAMPLES, RESOLVE, paired_table
from experiments.proposal_diff import Change, resolved_diff
from experiments.sweep import metric_columns, run_plan
from experiments.tails import loss_metrics, tail_table, with_losses
from experiments.worker import RunTask
from protocols.errors import ConfigError
from sim.outputs import atomic_write_text, write_csv
from sim.scenario import (
    apply_overrides,
    parse_scenario,
    proposal_scenario,
    read_scenario,
    read_toml,
)

__all__ = ["MIN_PAIRS", "Comparison", "compare", "load_arms", "paired_table"]


@dataclass(frozen=True)
class Comparison:
    baseline: str
    proposal: str
    runs: pd.DataFrame
    table: pd.DataFrame  # one row per judged metric (`experiments.paired.paired_table`)
    tails: pd.DataFrame  # loss quantiles per arm
    about: dict[str, Any]  # comparison.json: names, description, changes, settings


def load_arms(baseline: str | Path, proposal: str | Path,
              settings: Mapping[str, Any] | None = None
              ) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    """(name, raw scenario dict) of the baseline and the proposal, both validated;
    `settings` (dotted paths: a shorter horizon, moved shocks) apply to both arms, under the
    proposal's own changes."""
    baseline, proposal = Path(baseline), Path(proposal)
    base_raw = read_scenario(baseline)
    if settings:
        base_raw = apply_overrides(base_raw, settings, source="overrides")
    parse_scenario(base_raw, source=str(baseline))
    name, prop_raw = proposal_scenario(base_raw, proposal, settings)
    parse_scenario(prop_raw, source=str(proposal))
    base_name = str(base_raw.get("name", baseline.stem))
    if name == base_name:
        name = f"{name} (proposal)"
    return (base_name, base_raw), (name, prop_raw)


def proposal_description(proposal: str | Path, base_raw: dict[str, Any],
                         prop_raw: dict[str, Any]) -> str:
    """The proposal file's own `description`; a whole-scenario proposal's scenario
    description; never the baseline's (which a diff file inherits)."""
    own = read_toml(Path(proposal), "proposal").get("description")
    if own:
        return str(own)
    inherited = prop_raw.get("description")
    return str(inherited) if inherited and inherited != base_raw.get("description") else ""


def compare(baseline: str | Path, proposal: str | Path, runs: int, out: str | Path, *,
            seed: int | None = None, workers: int = 1, scheduler: str | None = None,
            data_dir: str | None = None, progress: bool = True, resamples: int = RESAMPLES,
            confidence: float = 0.95, resolve: float = RESOLVE,
            settings: Mapping[str, Any] | None = None) -> Comparison:
    """Run both arms on `runs` common seeds into `out` (resumable) and compare them;
    `resolve` is the difference, as a share of the baseline mean, whose runs-needed each
    metric reports; `settings`: dotted-path overrides of both arms (`load_arms`)."""
    if runs < 1:
        raise ConfigError(f"--runs: must be >= 1, got {runs}")
    if seed is not None and seed < 0:
        raise ConfigError(f"--seed: must be >= 0, got {seed}")
    if not resolve > 0:
        raise ConfigError(f"--resolve: must be > 0 (a share of the baseline mean), got "
                          f"{resolve}")
    (base_name, base_raw), (prop_name, prop_raw) = load_arms(baseline, proposal, settings)
    changes = resolved_diff(base_raw, prop_raw)
    root = int(base_raw.get("seed", 0)) if seed is None else seed
    tasks = [RunTask(key=f"{arm}-r{k:04d}", point=point, replicate=k,
                     seed=seeds.run_seed(root, k), params={"variant": name}, scenario=raw,
                     data_dir=data_dir, timeseries=True)
             for point, (arm, name, raw) in enumerate(
                 (("baseline", base_name, base_raw), ("proposal", prop_name, prop_raw)))
             for k in range(runs)]
    description = {"kind": "compare", "baseline": str(baseline), "proposal": str(proposal),
                   "root_seed": root, "runs": len(tasks),
                   "step_hours": parse_scenario(base_raw, source=str(baseline)).step_hours}
    result = run_plan(tasks, out, description=description, workers=workers,
                      scheduler=scheduler, progress=progress, param_columns=["variant"],
                      scenarios={"baseline": base_raw, "proposal": prop_raw})
    frame = with_losses(result.runs)
    table = paired_table(frame, metric_columns(frame, ["variant"]), resamples=resamples,
                         confidence=confidence, seed=seeds.int_seed(root, seeds.BOOTSTRAP),
                         resolve=resolve)
    tails = tail_table(frame, by="variant", metrics=loss_metrics(list(frame.columns)))
    about = {"baseline": base_name, "proposal": prop_name,
             "description": proposal_description(proposal, base_raw, prop_raw),
             "baseline_file": str(baseline), "proposal_file": str(proposal),
             "changes": [_change(c) for c in changes], "root_seed": root,
             "settings": dict(settings or {}), "runs_per_arm": runs,
             "failed": int(frame["error"].notna().sum()),
             "confidence": confidence, "resamples": resamples, "resolve": resolve,
             "material": MATERIAL, "min_pairs": MIN_PAIRS}
    out = Path(out)
    write_csv(out / "comparison.csv", table)
    write_csv(out / "tails.csv", tails)
    atomic_write_text(out / "comparison.json", json.dumps(about, indent=2, default=str) + "\n")
    return Comparison(base_name, prop_name, frame, table, tails, about)


def _change(change: Change) -> dict[str, Any]:
    return {"path": change.path, "kind": change.kind, "base": change.base,
            "proposal": change.proposal, "line": change.line()}
