"""What the public API hands back: a `Run`, a `Comparison`, a `Sweep`.

Each is a frozen record of plain pandas / networkx objects, the same whether it was just
computed or read back from its folder by `daosim.open`, so a notebook can run once and
reopen the folder later without rerunning anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from protocols.errors import ConfigError
from spec import Scenario


class _Folder:
    """A result kept in an output folder: it can write its report there."""

    folder: Path | None

    def report(self) -> Path:
        """Write `report.html` and `figures/` into the folder; returns the HTML file."""
        from reports.build import build_report

        if self.folder is None:
            raise ConfigError("report: this run was kept in memory only; run it with "
                              "out=FOLDER to write its outputs and report")
        return build_report(self.folder)

    def query(self, sql: str) -> pd.DataFrame:
        """DuckDB SQL over the folder's views `runs`, `points` (sweeps), `timeseries` and
        `events` (`daosim.query`): aggregates over many runs without loading them all."""
        from experiments.query import query

        if self.folder is None:
            raise ConfigError("query: this run was kept in memory only; run it with "
                              "out=FOLDER, or use pandas on its tables")
        return query(self.folder, sql)


@dataclass(frozen=True, eq=False)
class Run(_Folder):
    """One scenario run on one seed.

    `summary`: every summary key (README, "Summary keys"); `timeseries`: one row per step;
    `events`: one row per event (`step`, `kind`, then the kind's fields); `graph`: the
    protocol-dependency graph annotated with the spread; `health`: health factors before and
    after the first shock; `liquidation_curve`: liquidations at risk by price drop;
    `counterfactual`: the same seed without shocks, when asked for; `health_steps`: every
    step's health-factor histogram (sim.health.HF_EDGES; None in older folders)."""

    scenario: Scenario
    summary: dict[str, Any]
    timeseries: pd.DataFrame
    events: pd.DataFrame
    graph: nx.DiGraph | None = None
    health: pd.DataFrame | None = None
    liquidation_curve: pd.DataFrame | None = None
    counterfactual: Run | None = None
    folder: Path | None = None
    health_steps: pd.DataFrame | None = None

    def __repr__(self) -> str:
        where = f", folder={str(self.folder)!r}" if self.folder else ""
        return (f"Run(scenario={self.scenario.name!r}, seed={self.scenario.seed}, "
                f"steps={self.scenario.steps}, events={len(self.events)}{where})")


@dataclass(frozen=True, eq=False)
class Comparison(_Folder):
    """A proposal against its baseline on common seeds.

    `table`: one row per judged metric - arm means, `diff_mean` (proposal - baseline) with
    its interval `ci_low`..`ci_high`, `status`, `judgement` and a plain-language `verdict`;
    `runs`: one row per run (`variant` names the arm, `replicate` pairs the runs);
    `tails`: loss quantiles per arm; `about`: names, description, changes and settings."""

    baseline: str
    proposal: str
    table: pd.DataFrame
    runs: pd.DataFrame
    tails: pd.DataFrame
    about: dict[str, Any]
    folder: Path

    @property
    def headline(self) -> str:
        """The opening of `text`: what the proposal changes and its material changes, on
        the risk and capital-efficiency sides."""
        from reports.compare_text import headline_lines

        return "\n".join(headline_lines(self.about, self.table))

    @property
    def text(self) -> str:
        """The whole comparison as `daosim compare` prints it (comparison.txt): headline,
        statuses, the judged metrics that differ, tail losses, verdicts."""
        from reports.compare_text import comparison_text

        return comparison_text(self.about, self.table, self.tails, self.runs)

    def verdict(self, metric: str) -> str:
        """The plain-language verdict on one metric."""
        rows = self.table[self.table["metric"] == metric]
        if rows.empty:
            raise ConfigError(f"verdict: {metric!r} is not a judged metric of this comparison "
                              f"(judged: {', '.join(self.table['metric'])})")
        return str(rows["verdict"].iloc[0])

    def differences(self, metric: str) -> pd.Series:
        """Per replicate, proposal - baseline (the paired differences the intervals are
        taken over; replicates where either run failed are left out)."""
        if metric not in self.runs.columns:
            raise ConfigError(f"differences: no metric {metric!r} in runs "
                              "(see comparison.runs.columns)")
        ok = self.runs[self.runs["error"].isna()]
        arms = ok.pivot(index="replicate", columns="point", values=metric)
        return (arms[1] - arms[0]).dropna().rename(metric)

    def timeseries(self) -> pd.DataFrame:
        """Every run's time series as one table (`run_key` names the run: baseline-r0000,
        proposal-r0000, ...)."""
        return _series(self.folder)


@dataclass(frozen=True, eq=False)
class Sweep(_Folder):
    """A parameter sweep: `runs` (one row per run: parameters, seed, summary metrics),
    `points` (per-point means), `tails` (loss quantiles per point), `sensitivity` (Sobol
    indices, Sobol designs only) and the end-of-sweep `summary` text."""

    name: str
    runs: pd.DataFrame
    points: pd.DataFrame
    tails: pd.DataFrame
    summary: str
    folder: Path
    sensitivity: pd.DataFrame | None = None
    about: dict[str, Any] = field(default_factory=dict)

    def timeseries(self) -> pd.DataFrame:
        """Every run's time series as one table (`run_key` names the run); for large sweeps
        prefer `daosim.query`, which never loads them all."""
        return _series(self.folder)


def _series(folder: Path) -> pd.DataFrame:
    path = folder / "timeseries"
    if not path.is_dir() or not any(path.glob("*.parquet")):
        raise ConfigError(f"timeseries: {folder} keeps no time series of its runs")
    return pd.read_parquet(path)
