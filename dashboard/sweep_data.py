"""What the sweep and comparison explorer draws, as plain tables (no Panel, no Bokeh), so it
is tested with real numbers without a browser.

A grid sweep's heat map is over two of its parameters; every other parameter is either held
at one of its values (the cells are single points) or averaged over (a cell is the mean of
its points' means, and lists all their runs). An LHS or Sobol design has no grid: its points
are drawn as a scatter of two parameters. The colour is always the point's mean of one metric
over the runs that succeeded (`points.parquet`, `experiments.sweep.point_means`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from daosim.results import Comparison, Sweep
from experiments.store import ID_COLUMNS
from experiments.sweep import metric_columns
from protocols.errors import ConfigError
from sim import metrics as catalogue

#: a parameter that is averaged over rather than held at one value
AVERAGE = "(average)"
#: the metric shown first: the first of these a sweep has (reach, depth, cost), as the
#: sweep report's heat maps (`reports.sweep_report.HEADLINE_METRICS`)
HEADLINE = ("bad_debt_usd", "treasury_loss_usd", "shortfall_peak_usd",
            "protocols_distressed_share", "cascade_depth", "liquidations", "debtrank")
#: metrics listed beside each run of a point
RUN_METRICS = ("bad_debt_usd", "treasury_loss_usd", "shortfall_peak_usd", "liquidations",
               "protocols_distressed")


def sweep_params(sweep: Sweep) -> list[str]:
    """The swept parameters, in the sweep file's order (plan.json's `axes`)."""
    params = [str(p) for p in sweep.about.get("axes", [])]
    missing = [p for p in params if p not in sweep.points.columns]
    if missing or not params:
        raise ConfigError(f"dashboard: {sweep.folder}: points.parquet lacks the swept "
                          f"parameter(s) {', '.join(missing) or '(none recorded)'}")
    return params


def sweep_metrics(sweep: Sweep, params: Sequence[str]) -> list[str]:
    """Every numeric summary metric a point has a mean of, not aliases of another key."""
    table = sweep.points.drop(columns=["runs", "failed"], errors="ignore")
    return [m for m in metric_columns(table, params) if not catalogue.is_alias(m)]


def default_metric(metrics: Sequence[str]) -> str:
    """The first headline metric the sweep has, else its first metric."""
    if not metrics:
        raise ConfigError("dashboard: the sweep's points have no numeric metric to show")
    return next((m for m in HEADLINE if m in metrics), metrics[0])


def metric_label(metric: str) -> str:
    """'bad_debt_usd (USD, lower is better)' from the metric catalogue."""
    row = catalogue.lookup(metric)
    if row is None:
        return metric
    good = {"lower": ", lower is better", "higher": ", higher is better"}.get(row.direction, "")
    return f"{metric} ({row.unit}{good})"


def value_text(value: Any) -> str:
    """A parameter value as it is shown on an axis and in a select: short and exact enough
    to tell grid values apart."""
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return str(value)


def grid_cells(points: pd.DataFrame, x: str, y: str | None, metric: str,
               others: Mapping[str, Any]) -> pd.DataFrame:
    """The heat map's cells: one row per (x, y) value pair with `x_label`, `y_label`,
    `mean` (the metric), `runs`, `failed` and `points` (the point ids in the cell).

    `others` says, for each other parameter, the value it is held at, or `AVERAGE`: then a
    cell's mean is the mean of its points' means (each point weighs the same, as each grid
    point has the same replicates) and its runs are all theirs. `y` None: one row."""
    table = points
    for param, held in others.items():
        if param in (x, y) or held == AVERAGE:
            continue
        table = table[table[param].map(value_text) == value_text(held)]
    keys = [x] if y is None else [x, y]
    if table.empty:
        raise ConfigError(f"dashboard: no point of the sweep has {dict(others)}")
    grouped = table.groupby(keys, sort=True, dropna=False)
    cells = grouped.agg(mean=(metric, "mean"), runs=("runs", "sum"), failed=("failed", "sum"),
                        points=("point", lambda p: sorted(int(v) for v in p))).reset_index()
    cells["x_label"] = cells[x].map(value_text)
    cells["y_label"] = cells[y].map(value_text) if y is not None else "all"
    return cells


def scatter_points(points: pd.DataFrame, x: str, y: str | None, metric: str) -> pd.DataFrame:
    """One row per sampled point: `x`, `y` (0 when there is one parameter), `mean`, `runs`,
    `failed`, `points` ([the point id])."""
    frame = pd.DataFrame({"x": points[x].astype(float),
                          "y": points[y].astype(float) if y is not None else 0.0,
                          "mean": points[metric].astype(float), "runs": points["runs"],
                          "failed": points["failed"],
                          "points": [[int(p)] for p in points["point"]]})
    return frame.reset_index(drop=True)


def point_runs(runs: pd.DataFrame, point_ids: Sequence[int], metric: str) -> pd.DataFrame:
    """The runs of some points: key, point, replicate, seed, the chosen metric, a few
    headline metrics and the error of a run that failed (empty when it did not)."""
    chosen = runs[runs["point"].isin(list(point_ids))]
    shown = [metric, *(m for m in RUN_METRICS if m in runs.columns and m != metric)]
    table = chosen[[*ID_COLUMNS, *shown, "error"]].copy()
    table["error"] = table["error"].astype(object).where(table["error"].notna(), "")
    return table.reset_index(drop=True)


def formatters(frame: pd.DataFrame) -> dict[str, Any]:
    """Tabulator formatters: numbers with thousands separators and at most 4 decimals, ids
    (seeds) as plain integers."""
    from bokeh.models.widgets.tables import NumberFormatter

    return {c: NumberFormatter(format="0" if c in ID_COLUMNS else "0,0.[0000]")
            for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])}


def judged_table(comparison: Comparison) -> pd.DataFrame:
    """The comparison's judged metrics as the explorer's table lists them."""
    columns = ["metric", "unit", "direction", "baseline_mean", "proposal_mean", "diff_mean",
               "ci_low", "ci_high", "status", "judgement"]
    return comparison.table[[c for c in columns if c in comparison.table.columns]]


def paired_points(comparison: Comparison, metric: str) -> pd.DataFrame:
    """One row per replicate with both arms' values and their difference (proposal -
    baseline, `Comparison.differences`; a replicate where either run failed is left out)."""
    diffs = comparison.differences(metric)
    ok = comparison.runs[comparison.runs["error"].isna()]
    arms = ok.pivot(index="replicate", columns="point", values=metric).loc[diffs.index]
    return pd.DataFrame({"replicate": diffs.index.astype(int), "baseline": arms[0].to_numpy(),
                         "proposal": arms[1].to_numpy(),
                         "difference": diffs.to_numpy(dtype=float)})


def interval(comparison: Comparison, metric: str) -> dict[str, Any]:
    """comparison.csv's row of `metric`: mean difference, interval ends (NaN when too few
    pairs for one) and the verdict."""
    rows = comparison.table[comparison.table["metric"] == metric]
    if rows.empty:
        raise ConfigError(f"dashboard: {metric!r} is not a judged metric of this comparison")
    row = rows.iloc[0]
    return {"diff_mean": float(row["diff_mean"]), "ci_low": float(row["ci_low"]),
            "ci_high": float(row["ci_high"]), "verdict": str(row["verdict"]),
            "pairs": int(row["pairs"])}


def sweep_caption(sweep: Sweep, params: Sequence[str]) -> str:
    about = sweep.about
    return (f"**{sweep.name}**: {about.get('design', '?')} design over "
            f"{', '.join(f'`{p}`' for p in params)}; {len(sweep.points)} points x "
            f"{about.get('replicates', '?')} replicates = {len(sweep.runs)} runs "
            f"({int(sweep.runs['error'].notna().sum())} failed). Folder: "
            f"`{Path(sweep.folder)}`")
