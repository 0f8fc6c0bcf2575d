"""Paired statistics of a comparison: per metric the arm means, the mean paired difference
with its BCa bootstrap interval, how many runs would resolve a given difference, and a
verdict by the metric catalogue's direction (`sim.metrics`).

Intervals: `scipy.stats.bootstrap` with the bias-corrected and accelerated method (Efron &
Tibshirani 1993, ch. 14) on the paired differences d_k = proposal_k - baseline_k (a
one-sample bootstrap of d is the paired bootstrap of the two arms), a fixed number of
resamples, a resampling stream per metric seeded from the comparison's seed. Fallbacks,
named in each row's `interval` column: fewer than MIN_PAIRS pairs get no interval; a
difference equal in every pair is its own exact interval; when BCa is degenerate anyway
(every resample on one side of the estimate, as with a few distinct values) the percentile
interval from the same resamples is given.

Runs to resolve a difference delta at two-sided level 1 - alpha with power 1 - beta (normal
approximation for a paired mean; e.g. Julious 2004, Stat. Med. 23:1921):
n = ((z_{1-alpha/2} + z_{1-beta}) * sd(d) / delta)^2, with delta = RESOLVE (10 %) of the
baseline mean unless the caller says otherwise.
"""

from __future__ import annotations

import inspect
import math
import warnings
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sim import metrics

#: fewest pairs for an interval: with fewer, the resampled means take a handful of values
#: and the "interval" says nothing about the proposal (with 1 pair it has width 0).
MIN_PAIRS = 5
#: bootstrap resamples per metric (fixed, so an interval depends only on data and seed).
RESAMPLES = 9999
#: a clear change under this share of the baseline mean is called negligible.
NEGLIGIBLE = 1e-3
#: a clear change of at least this share of the baseline mean (or any clear change from a
#: zero baseline) is material: it goes into the report's headline.
MATERIAL = 0.01
#: default difference to resolve, as a share of the baseline mean (`--resolve`).
RESOLVE = 0.10
POWER = 0.8
#: scipy >= 1.15 takes `rng`, older versions `random_state` (pyproject allows >= 1.11).
_RNG = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
EFFECTS = {"lower": ("better", "worse"), "higher": ("worse", "better")}


def paired_interval(d: np.ndarray, confidence: float, seed: int | Sequence[int],
                    resamples: int = RESAMPLES) -> tuple[float, float, str]:
    """(low, high, method) of the mean of `d`: BCa, or the fallback the docstring names."""
    if d.size < MIN_PAIRS:
        return math.nan, math.nan, f"none (fewer than {MIN_PAIRS} pairs)"
    if np.all(d == d[0]):
        return float(d[0]), float(d[0]), "exact (the same difference in every pair)"
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a degenerate BCa warns and returns NaN
            ci = stats.bootstrap((d,), np.mean, n_resamples=resamples, method=method,
                                 confidence_level=confidence,
                                 **{_RNG: np.random.default_rng(seed)}).confidence_interval
        if math.isfinite(ci.low) and math.isfinite(ci.high):
            return float(ci.low), float(ci.high), (
                "BCa" if method == "BCa" else "percentile (BCa degenerate)")
    return math.nan, math.nan, "none (bootstrap degenerate)"


def runs_needed(sd: float, delta: float, confidence: float = 0.95,
                power: float = POWER) -> float:
    """Paired runs to detect a mean difference `delta` given the differences' standard
    deviation `sd` (normal approximation, rounded up); nan without a delta."""
    if not (math.isfinite(delta) and delta != 0 and math.isfinite(sd)):
        return math.nan
    z = stats.norm.ppf(1 - (1 - confidence) / 2) + stats.norm.ppf(power)
    return float(math.ceil((z * sd / abs(delta)) ** 2))


def paired_table(runs: pd.DataFrame, metrics_: Sequence[str], *, confidence: float, seed: int,
                 resamples: int = RESAMPLES, resolve: float = RESOLVE) -> pd.DataFrame:
    """Per metric: catalogue unit/direction/group, arm means, mean paired difference
    (proposal - baseline) with its interval, half-width, runs needed to resolve `resolve` x
    the baseline mean, status, verdict; pairs are replicates where both runs succeeded.
    Aliases and `info` metrics are left out (they are not outcomes to judge)."""
    ok = runs[runs["error"].isna()]
    base = ok[ok["point"] == 0].set_index("replicate")
    prop = ok[ok["point"] == 1].set_index("replicate")
    pairs = base.index.intersection(prop.index).sort_values()
    rows = []
    for metric in metrics_:
        row = metrics.lookup(metric)
        if row is not None and (row.alias_of or row.direction == "info"):
            continue
        b = base.loc[pairs, metric].to_numpy(dtype=float)
        p = prop.loc[pairs, metric].to_numpy(dtype=float)
        keep = np.isfinite(b) & np.isfinite(p)  # e.g. time to distress: none in some runs
        b, p = b[keep], p[keep]
        d = p - b
        if d.size == 0:
            continue
        # a resampling stream per metric name: adding a metric never changes another's CI
        low, high, method = paired_interval(d, confidence, [seed, zlib.crc32(metric.encode())],
                                            resamples)
        b_mean, p_mean, d_mean = float(b.mean()), float(p.mean()), float(d.mean())
        sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
        delta = resolve * abs(b_mean) if b_mean else math.nan
        status, judged, effect, text = verdict(metric, d, low, high, b_mean, confidence)
        rel = d_mean / abs(b_mean) if b_mean else math.nan
        rows.append({
            "metric": metric, "unit": row.unit if row else "",
            "direction": row.direction if row else "uncatalogued",
            "group": metrics.group(metric) or "", "pairs": int(d.size),
            "baseline_mean": b_mean, "proposal_mean": p_mean, "diff_mean": d_mean,
            "ci_low": low, "ci_high": high, "half_width": (high - low) / 2,
            "interval": method, "sd_diff": sd, "resolve_delta": delta,
            "runs_needed": runs_needed(sd, delta, confidence), "rel_change": rel,
            "status": status, "judgement": judged, "effect": effect,
            "material": bool(status == "changed" and (not b_mean or abs(rel) >= MATERIAL)),
            "same_as": _same_total(metric, base.loc[pairs], prop.loc[pairs]),
            "verdict": text})
    return pd.DataFrame(rows)


def verdict(metric: str, d: np.ndarray, low: float, high: float, base_mean: float,
            confidence: float) -> tuple[str, str, str, str]:
    """(status, judgement, effect, one plain-language line).

    status: `identical` (equal in every pair), `changed` (the interval excludes 0),
    `unclear` (it does not), `no interval` (too few pairs). judgement, one word for figures:
    `identical`, `too few pairs`, `unclear`, `negligible` (a clear change under 0.1 % of the
    baseline), `better` / `worse` by the catalogue's direction, or `changed` (a clear change
    of a trade-off or uncatalogued metric). effect: better / worse / trade-off, or ''."""
    level = f"{confidence:.0%}"
    mean = float(d.mean())
    if np.all(d == 0):
        return "identical", "identical", "", f"{metric}: identical in all {d.size} paired runs"
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval", "too few pairs", "", (
            f"{metric}: mean difference {num(mean)} over {d.size} paired runs; no {level} "
            f"interval (it needs at least {MIN_PAIRS} pairs)")
    if low <= 0 <= high:
        return "unclear", "unclear", "", (
            f"{metric}: no clear change (mean difference {num(mean)}, {level} CI "
            f"{num(low)} to {num(high)} includes 0)")
    direction = "raises" if mean > 0 else "lowers"
    rel = mean / abs(base_mean) if base_mean else math.nan
    size = f" ({rel * 100:+.3g}%)" if base_mean else ""
    way = metrics.direction(metric)
    effect = (EFFECTS[way][mean > 0] if way in EFFECTS
              else "trade-off" if way == "tradeoff" else "")
    judged = effect if effect in ("better", "worse") else "changed"
    said = f" - {effect}" if effect else " - direction not catalogued"
    if abs(rel) < NEGLIGIBLE:
        judged, said = "negligible", said + " (but negligible: under 0.1 % of the baseline)"
    return "changed", judged, effect, (
        f"{metric}: the proposal {direction} it by {num(abs(mean))}{size} ({level} CI "
        f"{num(low)} to {num(high)}){said}")


def _same_total(metric: str, base: pd.DataFrame, prop: pd.DataFrame) -> str:
    """The all-markets key a per-market key equals in every run of both arms (one market
    holds all of it), else ''."""
    stem, colon, _ = metric.rpartition(":")
    if not colon or stem not in base:
        return ""
    same = all(np.array_equal(arm[metric].to_numpy(dtype=float), arm[stem].to_numpy(dtype=float),
                              equal_nan=True) for arm in (base, prop))
    return stem if same else ""


def num(x: float) -> str:
    """A number for a line of text: thousands separators from 10,000, 4 digits below."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"
