"""A recommendation from a sweep: the best point whose tail risk stays within a budget.

`daosim recommend SWEEP_DIR --risk bad_debt_usd --budget 1e6 --maximize METRIC` reads the
sweep's `runs.parquet` and, per sweep point (its parameters), takes over the point's
successful replicates the `quantile` (default 0.95) of the risk metric - its value at risk,
`numpy.quantile`'s linear interpolation as in `experiments.tails` - and the mean of the
metric to maximize. A point is feasible when its risk quantile is <= the budget; the
recommendation is the feasible point with the highest objective (ties: lower risk, then
the lower point number). The Pareto frontier is the points no other point dominates (risk
quantile as low or lower and objective as high or higher, one of them strictly): the
trade-off a governance forum chooses on - the risk/capital-efficiency frontier Gauntlet and
Chaos Labs recommend parameters from. The pick is always on it.

With few replicates the p95 is close to the worst run (with R = 20, it interpolates between
the two worst): the table says R per point so a reader can judge. Points without a valid
value of either metric (every run failed) are left out and counted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.sweep import metric_columns
from experiments.tails import min_runs, with_losses
from protocols.errors import ConfigError
from sim.outputs import atomic_write_text

FILE = "recommendation.json"


@dataclass(frozen=True)
class Recommendation:
    risk: str
    objective: str
    budget: float
    quantile: float
    params: list[str]
    #: one row per point: point, parameters, replicates, risk_q, objective_mean,
    #: feasible, frontier - sorted by point
    table: pd.DataFrame
    pick: int | None  # the recommended point, None when no point is feasible
    least_risky: int  # the point with the lowest risk quantile (what to say when none is)
    skipped: int  # points without a valid value of both metrics

    def row(self, point: int) -> dict[str, Any]:
        return self.table.set_index("point").loc[point].to_dict() | {"point": point}

    @property
    def frontier(self) -> pd.DataFrame:
        """The frontier points, by increasing risk."""
        return self.table[self.table["frontier"]].sort_values(["risk_q", "point"])


def recommend(runs: pd.DataFrame, params: list[str], *, risk: str, maximize: str,
              budget: float, quantile: float = 0.95) -> Recommendation:
    """The recommendation from a sweep's runs table (see the module doc)."""
    if not 0.0 <= quantile <= 1.0:
        raise ConfigError(f"--quantile: must be in [0, 1], got {quantile}")
    if not math.isfinite(budget):
        raise ConfigError(f"--budget: must be a finite number, got {budget}")
    runs = with_losses(runs)
    known = metric_columns(runs, params)
    for option, metric in (("--risk", risk), ("--maximize", maximize)):
        if metric not in known:
            raise ConfigError(f"{option} {metric}: not a metric of this sweep; known metrics: "
                              f"{', '.join(known)}")
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    rows = []
    for point, frame in ok.groupby("point", sort=True):
        risk_values = _finite(frame[risk])
        objective = _finite(frame[maximize])
        if risk_values.size == 0 or objective.size == 0:
            continue
        rows.append({"point": int(point), **{p: frame[p].iloc[0] for p in params},
                     "replicates": int(min(risk_values.size, objective.size)),
                     "risk_q": float(np.quantile(risk_values, quantile)),
                     "objective_mean": float(objective.mean())})
    points = runs["point"].nunique()
    if not rows:
        raise ConfigError(f"no point of this sweep has a successful run with both {risk} and "
                          f"{maximize} ({points} points)")
    table = pd.DataFrame(rows)
    table["feasible"] = table["risk_q"] <= budget
    table["frontier"] = pareto_frontier(table["risk_q"].to_numpy(),
                                        table["objective_mean"].to_numpy())
    by_risk = table.sort_values(["risk_q", "objective_mean", "point"],
                                ascending=[True, False, True])
    feasible = table[table["feasible"]].sort_values(
        ["objective_mean", "risk_q", "point"], ascending=[False, True, True])
    return Recommendation(risk, maximize, float(budget), float(quantile), list(params), table,
                          int(feasible["point"].iloc[0]) if len(feasible) else None,
                          int(by_risk["point"].iloc[0]), points - len(table))


def pareto_frontier(risk: np.ndarray, objective: np.ndarray) -> np.ndarray:
    """Which points no other point dominates (risk <= and objective >=, one strictly)."""
    risk, objective = np.asarray(risk, float), np.asarray(objective, float)
    no_worse = (risk[None, :] <= risk[:, None]) & (objective[None, :] >= objective[:, None])
    better = (risk[None, :] < risk[:, None]) | (objective[None, :] > objective[:, None])
    return ~(no_worse & better).any(axis=1)


def _finite(column: pd.Series) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def load_runs(sweep_dir: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """A sweep folder's runs table and its parameter columns (plan.json's `axes`)."""
    folder = Path(sweep_dir)
    runs_file, plan_file = folder / "runs.parquet", folder / "plan.json"
    if not runs_file.is_file() or not plan_file.is_file():
        raise ConfigError(f"{folder}: not a sweep's results folder (no runs.parquet and "
                          "plan.json); run `daosim sweep FILE --out` into it first")
    plan = json.loads(plan_file.read_text())
    if plan.get("kind") != "sweep":
        raise ConfigError(f"{folder}: holds a {plan.get('kind', 'unknown')} folder, not a "
                          "sweep's; recommend needs sweep points")
    return pd.read_parquet(runs_file), list(plan.get("axes", []))


def to_json(rec: Recommendation) -> dict[str, Any]:
    """What `recommendation.json` holds (the sweep report draws it)."""
    def point(p: int | None) -> dict[str, Any] | None:
        return None if p is None else _plain(rec.row(p))

    return {"risk": rec.risk, "maximize": rec.objective, "budget": rec.budget,
            "quantile": rec.quantile, "params": rec.params, "pick": point(rec.pick),
            "least_risky": point(rec.least_risky), "skipped_points": rec.skipped,
            "frontier": [int(p) for p in rec.frontier["point"]],
            "points": [_plain(r) for r in rec.table.to_dict("records")]}


def write_recommendation(sweep_dir: str | Path, rec: Recommendation) -> Path:
    path = Path(sweep_dir) / FILE
    atomic_write_text(path, json.dumps(to_json(rec), indent=2))
    return path


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}


def text(rec: Recommendation) -> str:
    """The answer in words, then the frontier."""
    q = f"p{rec.quantile * 100:g}"
    head = (f"{q} of {rec.risk} over each point's replicates, budget {_num(rec.budget)}; "
            f"maximizing the mean of {rec.objective}.")
    lines = [head]
    if rec.pick is not None:
        lines.append(f"recommended: point {rec.pick}  {_describe(rec, rec.row(rec.pick))}")
    else:
        low = rec.row(rec.least_risky)
        lines.append(f"no point is feasible: every point's {q} of {rec.risk} exceeds "
                     f"{_num(rec.budget)}. The least risky is point {rec.least_risky} "
                     f"({q} {_num(low['risk_q'])}): {_describe(rec, low)}")
    if rec.skipped:
        lines.append(f"({rec.skipped} point(s) without a successful run left out)")
    fewest = int(rec.table["replicates"].min()) if len(rec.table) else 0
    if 0 < rec.quantile < 1 and fewest < min_runs(rec.quantile):
        lines.append(f"caution: {fewest} replicates per point; a {q} rests on at least one run "
                     f"beyond it only from {min_runs(rec.quantile)} (with fewer it is an "
                     "interpolation between the worst runs, not a tail estimate)")
    lines.append(f"Pareto frontier ({len(rec.frontier)} of {len(rec.table)} points; low "
                 f"{q} {rec.risk}, high mean {rec.objective}):")
    for row in rec.frontier.to_dict("records"):
        mark = " <- recommended" if row["point"] == rec.pick else ""
        mark += "" if row["feasible"] else " (over budget)"
        lines.append(f"  point {row['point']}  {_describe(rec, row)}{mark}")
    return "\n".join(lines)


def _describe(rec: Recommendation, row: dict[str, Any]) -> str:
    params = ", ".join(f"{p} = {_num(row[p])}" for p in rec.params)
    return (f"{params}; {rec.risk} p{rec.quantile * 100:g} {_num(row['risk_q'])}, "
            f"mean {rec.objective} {_num(row['objective_mean'])} "
            f"({row['replicates']} replicates)")


def _num(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)
