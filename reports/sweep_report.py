"""The report of a sweep (`daosim sweep` outputs): heat maps of contagion and cost metrics
over two parameter axes of a grid (a scatter of the sampled points, coloured by the metric,
for a Latin hypercube or Sobol design), their distribution over runs at each point, and
Sobol index bars and a table of the indices with their confidence intervals for
sensitivity designs (with the warning of a design with too few samples, whose indices are
mostly noise)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import Normalize
from matplotlib.ticker import FuncFormatter

from experiments.sweep import metric_columns
from experiments.sweepfile import sample_warning
from reports.figures import (
    ReportFigure,
    boxes,
    compact,
    draw_caption,
    hide_unused,
    label,
    legend_if_several,
    new_figure,
    usd,
    usd_axis,
)
from reports.frontier import frontier_figure
from reports.html import Table, provenance_line, write_report
from reports.inputs import read_json, read_parquet

#: what a sweep's figures show first, when the runs have them: reach, depth, cost (debt
#: written off, and the peak shortfall marked to market, which counts insolvent debt that
#: nobody liquidated as well).
HEADLINE_METRICS = ("protocols_distressed_share", "cascade_depth", "treasury_loss_usd",
                    "bad_debt_usd", "shortfall_peak_usd", "debtrank", "liquidations")
MAX_PANELS = 5
MAX_BOX_POINTS = 40
SUMMARY_ROWS = 40


@dataclass(frozen=True)
class SweepFolder:
    path: Path
    plan: dict[str, Any]
    runs: pd.DataFrame
    points: pd.DataFrame
    sensitivity: pd.DataFrame | None
    params: list[str]

    @property
    def caption(self) -> str:
        ok = int(self.runs["error"].isna().sum())
        failed = len(self.runs) - ok
        return (f"Sweep {self.plan.get('name', self.path.name)!r}, {self.plan.get('design', '')} "
                f"design: {ok} runs ({len(self.points)} points x "
                f"{self.plan.get('replicates', '?')} common-seed replicates, root seed "
                f"{self.plan.get('root_seed', '?')})" + (f", {failed} failed." if failed else "."))

    @property
    def png_caption(self) -> str:
        """What a PNG of this sweep says about itself: the caption and its base scenario."""
        base = self.plan.get("base")
        return self.caption + (f" Base scenario {Path(base).name}." if base else "")

    @property
    def design(self) -> str:
        """'grid', 'lhs' or 'sobol', as the plan records it (a plan without it: a grid when
        the points are every combination of the axes' values, as only a grid's are)."""
        if design := self.plan.get("design"):
            return str(design)
        combinations = np.prod([self.runs[p].nunique() for p in self.params])
        return "grid" if combinations == self.runs["point"].nunique() else "lhs"

    @property
    def sample_warning(self) -> str | None:
        """The warning of a sobol design with too few base samples N (its runs are
        N * (D + 2) * replicates), or None."""
        if self.plan.get("design") != "sobol":
            return None
        runs, replicates = self.plan.get("runs"), self.plan.get("replicates")
        points = runs // replicates if runs and replicates else len(self.points)
        return sample_warning("sobol", points // (len(self.params) + 2))

    @property
    def metrics(self) -> list[str]:
        available = metric_columns(self.runs, self.params)
        return [m for m in HEADLINE_METRICS if m in available][:MAX_PANELS]


def load_sweep(folder: str | Path) -> SweepFolder:
    path = Path(folder)
    plan = read_json(path / "plan.json")
    runs = read_parquet(path / "runs.parquet")
    columns = list(runs.columns)
    # runs.parquet: ids, then the point's parameters, then the summary (from `scenario`)
    fallback = columns[columns.index("seed") + 1:columns.index("scenario")] \
        if "scenario" in columns else []
    sensitivity = path / "sensitivity.parquet"
    return SweepFolder(
        path=path, plan=plan, runs=runs, points=read_parquet(path / "points.parquet"),
        sensitivity=read_parquet(sensitivity) if sensitivity.exists() else None,
        params=list(plan.get("axes", fallback)),
    )


def sweep_report(folder: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write `report.html` (and `figures/`) for the sweep in `folder`; returns its path."""
    sweep = load_sweep(folder)
    figures = [f for f in (heatmap_figure(sweep), distribution_figure(sweep),
                           sobol_figure(sweep), frontier_figure(sweep.path, sweep.caption,
                                                           sweep.png_caption))
               if f is not None]
    names = abbreviations(sweep.params)
    shown = sweep.points[["point", *sweep.params, "runs", "failed", *sweep.metrics]] \
        .rename(columns=names)
    note = "Mean of each metric over the point's successful runs"
    if renamed := [f"{n} = {p}" for p, n in names.items() if n != p]:
        note += f" (parameters: {'; '.join(renamed)})"
    if len(shown) > SUMMARY_ROWS:
        note += f"; the first {SUMMARY_ROWS} of {len(shown)} points (all in points.parquet)"
    tables = [Table("Summary: per-point means", shown.head(SUMMARY_ROWS), note + ".")]
    if (sobol := sobol_table(sweep)) is not None:
        tables.append(sobol)
    meta = [sweep.plan.get("description", ""), sweep.caption, *provenance_line(sweep.path)]
    if sweep.sample_warning:
        meta.append(f"Warning: {sweep.sample_warning}.")
    return write_report(out_dir or sweep.path,
                        f"Sweep report: {sweep.plan.get('name', sweep.path.name)}", meta,
                        tables, figures)


def heatmap_figure(sweep: SweepFolder) -> ReportFigure | None:
    """Each headline metric's mean over the first two varying axes (averaged over the
    others); with one axis, the metric against it."""
    varying = [p for p in sweep.params
               if pd.api.types.is_numeric_dtype(sweep.runs[p]) and sweep.runs[p].nunique() > 1]
    metrics = sweep.metrics
    if not varying or not metrics:
        return None
    ok = sweep.runs[sweep.runs["error"].isna()]
    cols = min(2, len(metrics))
    rows = -(-len(metrics) // cols)
    if len(varying) == 1:
        title = f"Contagion and cost against {varying[0]}"
        fig, axes = new_figure(title, rows, cols)
        for ax, metric in zip(axes, metrics, strict=False):
            sns.lineplot(ok, x=varying[0], y=metric, ax=ax, marker="o", errorbar=("pi", 90),
                         label="mean over runs (band: 5-95 % of runs)")
            if metric.endswith("_usd"):
                usd_axis(ax)
            label(ax, metric, short(varying[0]), _unit(metric))
            legend_if_several(ax)
        hide_unused(axes, len(metrics))
        draw_caption(fig, sweep.png_caption)
        return ReportFigure("response", title, sweep.caption, fig)
    if sweep.design != "grid":
        return scatter_figure(sweep, ok, varying, metrics)
    x, y = varying[0], varying[1]
    title = f"Contagion and cost over {short(x)} x {short(y)}"
    fig, axes = new_figure(title, rows, cols, height=3.6)
    for ax, metric in zip(axes, metrics, strict=False):
        grid = ok.pivot_table(index=y, columns=x, values=metric, aggfunc="mean",
                                  observed=False).sort_index(ascending=False)
        grid.index = [compact(v) for v in grid.index]
        grid.columns = [compact(v) for v in grid.columns]
        cells = grid.map(usd) if metric.endswith("_usd") else grid.map(lambda v: f"{v:.3g}")
        sns.heatmap(grid, ax=ax, annot=cells, fmt="", annot_kws={"fontsize": "x-small"},
                    cmap="rocket_r", cbar_kws={"label": f"{metric} ({_unit(metric)})"})
        if metric.endswith("_usd"):
            ax.collections[0].colorbar.formatter = FuncFormatter(lambda v, _: usd(v))
            ax.collections[0].colorbar.update_ticks()
        label(ax, f"mean {metric}", short(x), short(y))
    hide_unused(axes, len(metrics))
    rest = varying[2:]
    caption = sweep.caption + f" x: {x}; y: {y}." + (
        f" Averaged over {', '.join(rest)}." if rest else "")
    draw_caption(fig, sweep.png_caption)
    return ReportFigure("heatmap", title, caption, fig)


def scatter_figure(sweep: SweepFolder, ok: pd.DataFrame, varying: list[str],
                   metrics: list[str]) -> ReportFigure:
    """A sampled design (Latin hypercube, Sobol) has one value per point on each axis, so a
    grid of bins over it is mostly empty: each point is drawn where it was sampled on the
    first two varying axes, coloured by its mean of the metric over its runs."""
    x, y = varying[0], varying[1]
    means = ok.groupby("point")[[x, y, *metrics]].mean()
    cols = min(2, len(metrics))
    title = f"Contagion and cost over the sampled {short(x)} x {short(y)}"
    fig, axes = new_figure(title, -(-len(metrics) // cols), cols, height=3.4)
    palette = mpl.colormaps["rocket_r"]
    for ax, metric in zip(axes, metrics, strict=False):
        values = means[metric].to_numpy(dtype=float)
        norm = Normalize(np.nanmin(values), np.nanmax(values)) if np.isfinite(values).any() \
            else Normalize(0.0, 1.0)
        ax.scatter(means[x], means[y], c=values, cmap=palette, norm=norm, s=46,
                   edgecolors="#1c2833", linewidths=0.5)
        bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=palette), ax=ax,
                           label=f"{metric} ({_unit(metric)})")
        if metric.endswith("_usd"):
            bar.formatter = FuncFormatter(lambda v, _: usd(v))
            bar.update_ticks()
        for axis, path in ((ax.xaxis, x), (ax.yaxis, y)):
            axis.set_major_formatter(FuncFormatter(
                (lambda v, _: usd(v)) if path.endswith("_usd") else (lambda v, _: compact(v))))
        label(ax, f"mean {metric}", short(x), short(y))
    hide_unused(axes, len(metrics))
    rest = varying[2:]
    caption = (sweep.caption + f" One dot per sampled point, coloured by its mean over its "
               f"runs. x: {x}; y: {y}." + (f" {', '.join(rest)} vary too (not shown)."
                                         if rest else ""))
    draw_caption(fig, sweep.png_caption)
    return ReportFigure("scatter", title, caption, fig)


def distribution_figure(sweep: SweepFolder) -> ReportFigure | None:
    """Each headline metric's spread over the runs of every point."""
    metrics = sweep.metrics
    ok = sweep.runs[sweep.runs["error"].isna()]
    if not metrics or ok.empty:
        return None
    points = sorted(ok["point"].unique())[:MAX_BOX_POINTS]
    ok = ok[ok["point"].isin(points)]
    title = "Distribution over runs at each point"
    fig, axes = new_figure(title, len(metrics), 1, height=2.6)
    for ax, metric in zip(axes, metrics, strict=True):
        groups = [ok.loc[ok["point"] == p, metric].to_numpy() for p in points]
        boxes(ax, groups, [str(p) for p in points], ["#85c1e9"] * len(points))
        if metric.endswith("_usd"):
            usd_axis(ax)
        label(ax, metric, "point (parameters in the summary table)", _unit(metric))
    caption = sweep.caption + (" Boxes: quartiles over replicates; whiskers: 1.5 IQR; "
                               "dots: single runs.")
    if sweep.runs["point"].nunique() > MAX_BOX_POINTS:
        caption += f" The first {MAX_BOX_POINTS} points."
    draw_caption(fig, sweep.png_caption)
    return ReportFigure("distributions", title, caption, fig)


def _sobol_metrics(sweep: SweepFolder) -> list[str]:
    """The metrics whose indices are shown: the headline ones, else the first few."""
    assert sweep.sensitivity is not None
    table = sweep.sensitivity
    return [m for m in sweep.metrics if m in set(table["metric"])] or \
        list(dict.fromkeys(table["metric"]))[:MAX_PANELS]


def sobol_table(sweep: SweepFolder) -> Table | None:
    """The figure's indices as numbers, each with its interval: the bars alone hide how
    little a small design pins them down."""
    table = sweep.sensitivity
    if table is None or table.empty:
        return None
    rows = table[table["metric"].isin(_sobol_metrics(sweep))]
    note = ("S1_conf and ST_conf: half-width of each index's 95 % bootstrap confidence "
            "interval. All metrics are in sensitivity.parquet.")
    if sweep.sample_warning:
        note += f" Warning: {sweep.sample_warning}."
    return Table("Sobol indices with 95 % confidence intervals",
                 rows[["metric", "parameter", "S1", "S1_conf", "ST", "ST_conf"]], note)


def sobol_figure(sweep: SweepFolder) -> ReportFigure | None:
    """First-order and total Sobol indices per parameter, with their confidence intervals."""
    table = sweep.sensitivity
    if table is None or table.empty:
        return None
    metrics = _sobol_metrics(sweep)
    title = "Sobol sensitivity indices"
    fig, axes = new_figure(title, len(metrics), 1, height=2.4)
    for ax, metric in zip(axes, metrics, strict=True):
        rows = table[table["metric"] == metric]
        at = np.arange(len(rows))
        ax.barh(at - 0.2, rows["S1"], height=0.4, xerr=rows["S1_conf"], color="#2e86c1",
                label="first order S1")
        ax.barh(at + 0.2, rows["ST"], height=0.4, xerr=rows["ST_conf"], color="#f5b041",
                label="total ST")
        ax.set_yticks(at, rows["parameter"])
        ax.invert_yaxis()
        label(ax, metric, "share of the metric's variance", "parameter")
        legend_if_several(ax, loc="lower right")
    caption = sweep.caption + " Whiskers: 95 % bootstrap confidence intervals."
    if sweep.sample_warning:
        caption += f" Warning: {sweep.sample_warning}."
    draw_caption(fig, sweep.png_caption)
    return ReportFigure("sobol", title, caption, fig)


def short(path: str) -> str:
    """The last two parts of a dotted path: enough to name an axis on a figure."""
    return ".".join(path.split(".")[-2:])


def abbreviations(paths: list[str]) -> dict[str, str]:
    """Each parameter path's shortest tail of at least two dotted parts that no other path
    ends with, its leading `list[name]` selector shortened to the name, for a table header:
    `protocols[aave].reserves.GOV.liquidation_threshold` -> `GOV.liquidation_threshold`,
    `protocols[univ2-ETH-USDC].fee` -> `univ2-ETH-USDC.fee` (a list index such as
    `shocks[2]` stays whole)."""
    def tail(path: str, n: int) -> str:
        parts = path.split(".")[-n:]
        parts[0] = re.sub(r"^\w+\[([^\]]*[^\d\]][^\]]*)\]$", r"\1", parts[0])
        return ".".join(parts)
    names = {}
    for path in paths:
        n = 2
        while n < path.count(".") + 1 and any(
                tail(other, n) == tail(path, n) for other in paths if other != path):
            n += 1
        names[path] = tail(path, n)
    return names


def _unit(metric: str) -> str:
    if metric.endswith("_usd"):
        return "USD"
    if metric.endswith("_share") or "drawdown" in metric:
        return "share, 0-1"
    if metric.endswith("_step") or metric.startswith("time_to"):
        return "steps"
    if "depth" in metric:
        return "hops"
    return "count" if metric in ("liquidations", "protocols_distressed") else "value"
