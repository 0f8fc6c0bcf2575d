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
metric gets the two means, the mean paired difference and its percentile bootstrap
confidence interval (Efron & Tibshirani 1993, ch. 13; resampling pairs, seeded), and a
plain-language verdict; loss metrics also get VaR-style tail figures per arm. Every run's time
series is kept (`timeseries/`) for the report's NAV-per-arm figure.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments import seeds
from experiments.sweep import metric_columns, run_plan
from experiments.tails import loss_metrics, tail_table, with_losses
from experiments.worker import RunTask
from protocols.errors import ConfigError
from sim.outputs import atomic_write_text, write_csv
from sim.scenario import parse_scenario, proposal_scenario, read_scenario

#: words marking metrics where lower is better / higher is better (for verdict wording).
_LOWER_BETTER = ("bad_debt", "shortfall", "insolvent", "loss", "drawdown", "distress",
                 "liquidation", "cascade", "depth", "debtrank", "var_")
_HIGHER_BETTER = ("treasury_end", "runway", "survival", "value_end")
#: relative changes below this are called negligible even when the CI excludes zero.
NEGLIGIBLE = 1e-3
#: fewest pairs for a bootstrap interval: with fewer, the resampled means take a handful of
#: values and the "interval" says nothing about the proposal (with 1 pair it has width 0).
MIN_PAIRS = 5


@dataclass(frozen=True)
class Comparison:
    baseline: str
    proposal: str
    runs: pd.DataFrame
    table: pd.DataFrame  # one row per metric
    tails: pd.DataFrame  # loss quantiles per arm
    text: str


def load_arms(baseline: str | Path, proposal: str | Path) -> tuple[tuple[str, dict[str, Any]],
                                                                  tuple[str, dict[str, Any]]]:
    """(name, raw scenario dict) of the baseline and the proposal, both validated."""
    baseline, proposal = Path(baseline), Path(proposal)
    base_raw = read_scenario(baseline)
    parse_scenario(base_raw, source=str(baseline))
    name, prop_raw = proposal_scenario(base_raw, proposal)
    parse_scenario(prop_raw, source=str(proposal))
    base_name = str(base_raw.get("name", baseline.stem))
    if name == base_name:
        name = f"{name} (proposal)"
    return (base_name, base_raw), (name, prop_raw)


def compare(baseline: str | Path, proposal: str | Path, runs: int, out: str | Path, *,
            seed: int | None = None, workers: int = 1, scheduler: str | None = None,
            data_dir: str | None = None, progress: bool = True, boot: int = 4000,
            confidence: float = 0.95) -> Comparison:
    """Run both arms on `runs` common seeds into `out` (resumable) and compare them."""
    if runs < 1:
        raise ConfigError(f"--runs: must be >= 1, got {runs}")
    if seed is not None and seed < 0:
        raise ConfigError(f"--seed: must be >= 0, got {seed}")
    (base_name, base_raw), (prop_name, prop_raw) = load_arms(baseline, proposal)
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
    table = paired_table(frame, metric_columns(frame, ["variant"]), boot=boot,
                         confidence=confidence, seed=seeds.int_seed(root, seeds.BOOTSTRAP))
    tails = tail_table(frame, by="variant", metrics=loss_metrics(list(frame.columns)))
    text = report(base_name, prop_name, table, tails, frame, root, confidence)
    out = Path(out)
    write_csv(out / "comparison.csv", table)
    write_csv(out / "tails.csv", tails)
    atomic_write_text(out / "comparison.txt", text + "\n")
    return Comparison(base_name, prop_name, frame, table, tails, text)


def paired_table(runs: pd.DataFrame, metrics: Sequence[str], *, boot: int, confidence: float,
                 seed: int) -> pd.DataFrame:
    """Per metric: arm means, mean paired difference (proposal - baseline) with its
    bootstrap CI, relative change and verdict; pairs are replicates where both succeeded."""
    ok = runs[runs["error"].isna()]
    base = ok[ok["point"] == 0].set_index("replicate")
    prop = ok[ok["point"] == 1].set_index("replicate")
    pairs = base.index.intersection(prop.index).sort_values()
    rows = []
    for metric in metrics:
        b = base.loc[pairs, metric].to_numpy(dtype=float)
        p = prop.loc[pairs, metric].to_numpy(dtype=float)
        keep = np.isfinite(b) & np.isfinite(p)  # e.g. time to distress: none in some runs
        b, p = b[keep], p[keep]
        d = p - b
        n = d.size
        if n == 0:
            continue
        low = high = math.nan
        if n >= MIN_PAIRS:
            # a resampling stream per metric name: adding a metric never changes another's CI
            rng = np.random.default_rng([seed, zlib.crc32(metric.encode())])
            low, high = bootstrap_ci(d, rng.integers(0, n, size=(boot, n)), confidence)
        b_mean, p_mean, d_mean = float(b.mean()), float(p.mean()), float(d.mean())
        judged, text = verdict(metric, d, low, high, b_mean, confidence)
        rows.append({"metric": metric, "pairs": n, "baseline_mean": b_mean,
                     "proposal_mean": p_mean, "diff_mean": d_mean, "ci_low": low,
                     "ci_high": high,
                     "rel_change": d_mean / abs(b_mean) if b_mean else math.nan,
                     "judgement": judged, "verdict": text})
    return pd.DataFrame(rows)


def bootstrap_ci(d: np.ndarray, resample: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(d) from resampled index rows."""
    if d.size == 0:
        return math.nan, math.nan
    means = d[resample].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    # An interval of a constant difference is that constant, not rounding noise around it.
    return float(min(low, d.mean())), float(max(high, d.mean()))


def verdict(metric: str, d: np.ndarray, low: float, high: float, base_mean: float,
            confidence: float) -> tuple[str, str]:
    """(judgement, one plain-language line): direction, size, whether the CI excludes zero,
    and whether that is better or worse when the metric's name says which way is good.

    The judgement is one word for figures and tables: `identical`, `too few pairs` (no
    interval), `unclear` (the CI includes 0), `negligible` (a clear change under 0.1 % of the
    baseline), `better` / `worse`, or `changed` (a clear change of a metric with no good
    direction)."""
    level = f"{confidence:.0%}"
    mean = float(d.mean())
    if np.all(d == 0):
        return "identical", f"{metric}: identical in all {d.size} paired runs"
    if not (math.isfinite(low) and math.isfinite(high)):
        return "too few pairs", (
            f"{metric}: mean difference {_num(mean)} over {d.size} paired runs; no {level} "
            f"interval (it needs at least {MIN_PAIRS} pairs)")
    if low <= 0 <= high:
        return "unclear", (f"{metric}: no clear change (mean difference {_num(mean)}, "
                           f"{level} CI {_num(low)} to {_num(high)} includes 0)")
    direction = "raises" if mean > 0 else "lowers"
    rel = mean / abs(base_mean) if base_mean else math.nan
    size = f" ({rel * 100:+.3g}%)" if base_mean else ""
    judged = "changed"
    if any(w in metric for w in _LOWER_BETTER):
        judged = "better" if mean < 0 else "worse"
    elif any(w in metric for w in _HIGHER_BETTER):
        judged = "better" if mean > 0 else "worse"
    said = f" - {judged}" if judged != "changed" else ""
    if abs(rel) < NEGLIGIBLE:
        judged, said = "negligible", said + " (but negligible: under 0.1 % of the baseline)"
    return judged, (f"{metric}: the proposal {direction} it by {_num(abs(mean))}{size} "
                    f"({level} CI {_num(low)} to {_num(high)}){said}")


def report(base: str, prop: str, table: pd.DataFrame, tails: pd.DataFrame, runs: pd.DataFrame,
           root: int, confidence: float) -> str:
    failed = int(runs["error"].notna().sum())
    pairs = int(table["pairs"].max()) if len(table) else 0
    lines = [f"compare {prop!r} against {base!r}: {pairs} paired runs (common seeds from "
             f"root {root}){f', {failed} runs failed' if failed else ''}", ""]
    if pairs < MIN_PAIRS:
        lines[-1:] = [f"only {pairs} paired runs: no confidence intervals and no verdicts "
                      f"(they need at least {MIN_PAIRS}; use --runs 20 or more)", ""]
    if len(table):
        shown = table[["metric", "baseline_mean", "proposal_mean", "diff_mean", "ci_low",
                       "ci_high"]]
        lines.append(shown.to_string(index=False, float_format=_num))
    if len(tails):
        lines += ["", "tail losses per arm (VaR-style quantiles over runs):",
                  tails[["variant", "metric", "runs", "mean", "p95", "p99", "es95"]]
                  .to_string(index=False, float_format=_num)]
    lines += ["", "verdicts:"] + [f"  {v}" for v in table.get("verdict", [])]
    return "\n".join(lines)


def _num(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"
