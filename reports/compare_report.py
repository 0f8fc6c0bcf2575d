"""The report of a proposal comparison (`daosim compare` outputs): a headline (the proposal,
what it changes, the metrics that changed materially, risk and capital efficiency side by
side; `reports.compare_text`), the paired difference of every metric that differs with its
bootstrap interval, each arm's distribution of the loss metrics, and the treasury's NAV and
drawdown under the baseline and under the proposal."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.compare_text import (
    folded_lines,
    headline_frame,
    judged_table,
    material_rule,
    proposal_lines,
    tails_shown,
)
from reports.figures import (
    ReportFigure,
    boxes,
    draw_caption,
    hide_unused,
    label,
    legend_if_several,
    new_figure,
    usd_axis,
)
from reports.html import Table, provenance_line, write_report
from reports.inputs import read_csv, read_json, read_parquet
from sim import columns
from sim.treasury import drawdowns

DISTRIBUTION_METRICS = ("treasury_loss_usd", "bad_debt_usd", "shortfall_peak_usd",
                        "liquidations", "protocols_distressed")
#: a clear change with no better/worse direction ("changed") is not an unclear one
VERDICT_COLOURS = {"better": "#1e8449", "worse": "#c0392b", "changed": "#2471a3",
                   "negligible": "#b7950b", "unclear": "#7f8c8d"}
ARM_PALETTE = ("#5d6d7e", "#d35400")


@dataclass(frozen=True)
class CompareFolder:
    path: Path
    plan: dict[str, Any]
    runs: pd.DataFrame
    table: pd.DataFrame
    series: pd.DataFrame | None  # every run's time series, with `run_key`
    about: dict[str, Any] = field(default_factory=dict)  # comparison.json (older: absent)

    @property
    def arms(self) -> list[str]:
        return list(self.runs.sort_values("point")["variant"].drop_duplicates())

    @property
    def pairs(self) -> int:
        return int(self.table["pairs"].max()) if len(self.table) else 0

    @property
    def caption(self) -> str:
        base, prop = self.arms
        return (f"Proposal {prop!r} against baseline {base!r}: {self.pairs} paired runs on "
                f"common seeds (root seed {self.plan.get('root_seed', '?')}).")


def load_compare(folder: str | Path) -> CompareFolder:
    path = Path(folder)
    series = path / "timeseries"
    about = path / "comparison.json"
    return CompareFolder(
        path=path, plan=read_json(path / "plan.json"),
        runs=read_parquet(path / "runs.parquet"),
        table=read_csv(path / "comparison.csv"),
        series=read_parquet(series) if series.is_dir() and any(series.iterdir()) else None,
        about=read_json(about) if about.exists() else {},
    )


def compare_report(folder: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write `report.html` (and `figures/`) for the comparison in `folder`."""
    cmp = load_compare(folder)
    figures = [f for f in (difference_figure(cmp), distribution_figure(cmp),
                           treasury_figure(cmp)) if f is not None]
    about = {"baseline": cmp.arms[0], "proposal": cmp.arms[1], **cmp.about}
    resolve = float(about.get("resolve", 0.1))
    tables = [Table("Headline: what changed materially", headline_frame(cmp.table),
                    material_rule(about, cmp.pairs)),
              Table("Every judged metric that differs (proposal - baseline)",
                    judged_table(cmp.table, resolve),
                    ". ".join(folded_lines(about, cmp.table))
                    + f". half_width: of the interval; runs_for_{resolve:.0%}: paired runs "
                    f"that would resolve a change of {resolve:.0%} of the baseline mean with "
                    "80 % power (normal approximation from the paired differences' standard "
                    "deviation).")]
    tails = cmp.path / "tails.csv"
    if tails.exists():
        tables.append(Table("Tail losses per arm (VaR-style quantiles over runs)",
                            tails_shown(read_csv(tails), cmp.runs),
                            "A q-quantile is shown from 1/(1-q) runs per arm (one run beyond "
                            "it): p95 and es95 from 20, p99 from 100; below that only the mean "
                            "and the worst run."))
    base, prop = cmp.arms
    return write_report(out_dir or cmp.path, f"Proposal report: {prop} vs {base}",
                        [cmp.caption, *proposal_lines(about), *provenance_line(cmp.path)],
                        tables, figures)


def judgements(table: pd.DataFrame) -> list[str]:
    """Each metric's judgement (`experiments.compare.verdict`); a folder written before the
    table had that column gets it read back from the verdict's wording."""
    if "judgement" in table:
        return list(table["judgement"])
    def parsed(verdict: str) -> str:
        for word in ("negligible", "better", "worse"):
            if word in verdict:
                return word
        return "unclear" if "no clear change" in verdict else "changed"
    return [parsed(v) for v in table["verdict"]]


def difference_figure(cmp: CompareFolder) -> ReportFigure | None:
    """Forest plot: each metric's mean paired difference and its interval, as a share of
    the baseline mean (so metrics of different units share one axis)."""
    changed = ~cmp.table["verdict"].str.contains("identical in all")
    # a market's copy of its all-market total is drawn once, as the total
    copies = (cmp.table["same_as"].notna() if "same_as" in cmp.table
              else pd.Series(False, index=cmp.table.index))
    table = cmp.table[changed & ~copies & (cmp.table["baseline_mean"] != 0)
                      & np.isfinite(cmp.table["ci_low"])]
    if table.empty:
        return None
    title = "What the proposal changes: paired differences"
    fig, (ax,) = new_figure(title, height=max(2.5, 0.28 * len(table) + 1.0))
    base = table["baseline_mean"].abs()
    mean = 100 * table["diff_mean"] / base
    low, high = 100 * table["ci_low"] / base, 100 * table["ci_high"] / base
    at = np.arange(len(table))
    kinds = judgements(table)
    for kind, colour in VERDICT_COLOURS.items():
        mask = np.array([k == kind for k in kinds])
        if mask.any():
            ax.errorbar(mean[mask], at[mask], xerr=[(mean - low)[mask], (high - mean)[mask]],
                        fmt="o", color=colour, capsize=3,
                        label="trade-off" if kind == "changed" else kind)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(at, table["metric"])
    ax.invert_yaxis()
    label(ax, "Mean difference with its 95 % bootstrap interval (BCa)",
          "proposal - baseline (% of the baseline mean)", "metric")
    legend_if_several(ax, loc="best")
    same, folded = int((~changed).sum()), int((changed & copies).sum())
    zero = len(cmp.table) - len(table) - same - folded
    draw_caption(fig, cmp.caption)
    caption = cmp.caption + (f" {same} metrics identical in every pair are left out." if same
                             else "") + (f" {zero} metrics with a zero baseline mean are in "
                                         "the table only." if zero else "") + (
        f" {folded} per-market metrics equal to their all-market total in every pair are "
        "drawn once, as the total." if folded else "")
    return ReportFigure("differences", title, caption, fig)


def distribution_figure(cmp: CompareFolder) -> ReportFigure | None:
    """Each arm's distribution of the loss and reach metrics over runs."""
    ok = cmp.runs[cmp.runs["error"].isna()]
    metrics = [m for m in DISTRIBUTION_METRICS if m in ok]
    if not metrics or ok.empty:
        return None
    title = "Losses and reach per arm"
    cols = min(2, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = new_figure(title, rows, cols)
    for ax, metric in zip(axes, metrics, strict=False):
        groups = [ok.loc[ok["variant"] == arm, metric].to_numpy() for arm in cmp.arms]
        boxes(ax, groups, cmp.arms, ARM_PALETTE)
        if metric.endswith("_usd"):
            usd_axis(ax)
        label(ax, metric, "arm", "USD" if metric.endswith("_usd") else "count")
    hide_unused(axes, len(metrics))
    draw_caption(fig, cmp.caption)
    return ReportFigure("arm_distributions", title,
                        cmp.caption + " Boxes: quartiles; dots: single runs.", fig)


def treasury_figure(cmp: CompareFolder) -> ReportFigure | None:
    """Mean treasury NAV and drawdown per step under each arm, with the 10-90 % band."""
    series = cmp.series
    if series is None or columns.TREASURY_NAV not in series:
        return None
    arm_of = dict(zip(cmp.runs["run_key"], cmp.runs["variant"], strict=True))
    series = series.assign(variant=series["run_key"].map(arm_of))
    nav = series.pivot_table(index="step", columns="run_key", values=columns.TREASURY_NAV)
    drawdown = 100 * nav.apply(drawdowns)
    # days when the plan recorded the step length, else steps
    per_step, unit = ((cmp.plan["step_hours"] / 24.0, "time (days)")
                      if "step_hours" in cmp.plan else (1.0, "time (steps)"))
    title = "Treasury NAV and drawdown under each arm"
    fig, (top, bottom) = new_figure(title, 2, 1, sharex=True)
    for arm, colour, style in zip(cmp.arms, ARM_PALETTE, ("-", "--"), strict=True):
        keys = [k for k in nav.columns if arm_of.get(k) == arm]
        days = nav.index.to_numpy() * per_step
        for ax, frame in ((top, nav[keys]), (bottom, drawdown[keys])):
            ax.plot(days, frame.mean(axis=1), color=colour, linewidth=1.5, linestyle=style,
                    label=f"{arm} (mean of {len(keys)} runs)")
            ax.fill_between(days, frame.quantile(0.1, axis=1), frame.quantile(0.9, axis=1),
                            color=colour, alpha=0.2)
    usd_axis(top)
    label(top, "Net asset value at reference prices", unit, "NAV (USD)")
    label(bottom, "Drawdown from the running peak", unit, "drawdown (%)")
    legend_if_several(top, loc="best")
    legend_if_several(bottom, loc="best")
    draw_caption(fig, cmp.caption)
    return ReportFigure("treasury", title, cmp.caption + " Bands: 10-90 % of runs.", fig)
