"""Tail (value-at-risk style) figures of the loss metrics over many runs.

For a loss L observed over the runs of one point (or one arm of a comparison), the
q-quantile is its value at risk VaR_q (the loss exceeded in a share 1 - q of runs) and
ES_q = mean(L | L >= VaR_q) its expected shortfall (Acerbi & Tasche 2002). With R runs
per point, VaR_0.99 needs R >= 100 to mean more than "the worst run": the table reports
R so a reader can judge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: substrings naming a loss-like USD metric (more is worse, tails matter): debt written off
#: (bad_debt), insolvent debt not yet written off (the shortfall's peak and end), losses.
_LOSS_WORDS = ("bad_debt", "shortfall_peak", "shortfall_end", "insolvent", "loss")
QUANTILES = (0.5, 0.95, 0.99)


def min_runs(q: float) -> int:
    """Fewest runs for a q-quantile (or the ES beyond it) to rest on at least one run beyond
    it: R (1 - q) >= 1, so 20 for p95 and ES95, 100 for p99. With fewer, the figure is an
    interpolation between the worst runs, not a tail estimate."""
    return math.ceil(round(1 / (1 - q), 9))


def with_losses(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` plus `treasury_loss_usd` (start minus end value) when the summary has the
    treasury's start and end values but no loss column of its own."""
    if "treasury_loss_usd" in runs or not {"treasury_start_usd", "treasury_end_usd"} <= set(
        runs.columns
    ):
        return runs
    return runs.assign(treasury_loss_usd=runs["treasury_start_usd"] - runs["treasury_end_usd"])


def loss_metrics(columns: Sequence[str]) -> list[str]:
    """The loss-like USD metrics among `columns` (bad debt, shortfall and other insolvent
    debt, losses)."""
    return [c for c in columns if c.endswith("_usd") and any(w in c for w in _LOSS_WORDS)]


def tail_table(runs: pd.DataFrame, by: str, metrics: Sequence[str] | None = None,
               quantiles: Sequence[float] = QUANTILES) -> pd.DataFrame:
    """One row per (group, metric): runs, mean, p50/p95/p99 (VaR) and es95."""
    runs = with_losses(runs)
    if "error" in runs:
        runs = runs[runs["error"].isna()]
    metrics = list(metrics) if metrics is not None else loss_metrics(list(runs.columns))
    rows = []
    for group, frame in runs.groupby(by, sort=True):
        for metric in metrics:
            values = frame[metric].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            row = {by: group, "metric": metric, "runs": int(values.size),
                   "mean": float(values.mean())}
            for q in quantiles:
                row[f"p{round(q * 100)}"] = float(np.quantile(values, q))
            var95 = np.quantile(values, 0.95)
            row["es95"] = float(values[values >= var95].mean())
            rows.append(row)
    return pd.DataFrame(rows)
