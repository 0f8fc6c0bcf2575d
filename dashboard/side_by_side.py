"""Two runs of the what-if view side by side: their headline summary keys with the difference
(B - A) and which way is better (`sim.metrics`), and treasury NAV and bad debt over time for
both on one chart each. The runs are read back from their folders, as any run folder is."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
from bokeh.plotting import figure

from reports.inputs import read_json, read_parquet
from reports.summary_table import summary_table
from sim import metrics

#: the keys a what-if is judged by first: losses, liquidations, the treasury, the spread
HEADLINE = (
    "bad_debt_usd", "shortfall_peak_usd", "liquidations", "liquidation_volume_usd",
    "treasury_nav_end_usd", "treasury_nav_max_drawdown", "treasury_loss_usd",
    "treasury_runway_months_min", "treasury_forced_sales_usd", "protocols_distressed",
    "cascade_depth", "debtrank", "max_gas_gwei", "borrowed_usd_mean", "seed", "steps",
)
#: the time series drawn for both runs: column (or column prefix, summed) -> title
SERIES = {"treasury_nav_usd": "Treasury NAV (USD)", "bad_debt_usd:": "Bad debt, all markets (USD)"}
COLOURS = ("#1f77b4", "#d62728")
#: columns of the difference table shown as written (numbers formatted by `shown`)
TEXT = ("A", "B", "B - A")


def shown(value: Any) -> str:
    """A summary value as the command line prints it."""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:,.4g}" if abs(value) < 10 \
            else f"{value:,.0f}"
    return str(value)


def headline_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The run's headline keys with value, unit and meaning, grouped as reports show them
    (`reports.summary_table`)."""
    frame = summary_table({k: v for k, v in summary.items() if k in HEADLINE}).frame
    frame["value"] = [shown(v) for v in frame["value"]]
    return frame.reset_index(drop=True)


def difference_frame(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    """The headline keys of two runs: A, B, B - A, the unit, which direction is better and
    the verdict on B (better / worse / same; blank where neither way is better)."""
    rows = []
    for key in HEADLINE:
        if key not in a or key not in b:
            continue
        metric = metrics.lookup(key)
        way = metric.direction if metric else "info"
        delta = b[key] - a[key] if _number(a[key]) and _number(b[key]) else None
        if delta is None or way in ("info", "tradeoff") or (isinstance(delta, float)
                                                             and math.isnan(delta)):
            verdict = "" if delta != 0 else "same"
        elif delta == 0:
            verdict = "same"
        else:
            verdict = "better" if (delta < 0) == (way == "lower") else "worse"
        rows.append({"metric": key, "unit": metric.unit if metric else "",
                     "better": way if way in ("lower", "higher") else "",
                     "A": shown(a[key]), "B": shown(b[key]),
                     "B - A": "" if delta is None else shown(delta), "verdict": verdict})
    return pd.DataFrame(rows, columns=["metric", "unit", "better", "A", "B", "B - A",
                                       "verdict"])


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(value)


def series(folder: Path) -> dict[str, list[float]]:
    """A run folder's step and the SERIES columns (bad debt summed over markets)."""
    frame = read_parquet(Path(folder) / "timeseries.parquet")
    data = {"step": frame["step"].astype(float).tolist()}
    for column in SERIES:
        if column.endswith(":"):
            parts = [c for c in frame.columns if c.startswith(column)]
            values = frame[parts].sum(axis=1) if parts else pd.Series(0.0, index=frame.index)
        else:
            values = frame[column] if column in frame else pd.Series(0.0, index=frame.index)
        data[column] = values.astype(float).tolist()
    return data


def summary_of(folder: Path) -> dict[str, Any]:
    return read_json(Path(folder) / "summary.json")


class SideBySide:
    """Two Selects over the runs made (default: the base against the latest what-if), the
    difference table and the two overlaid charts; `update(runs)` when a run is added."""

    def __init__(self) -> None:
        self.runs: dict[str, Path] = {}
        self.a = pn.widgets.Select(label="Run A", options=[], width=260)
        self.b = pn.widgets.Select(label="Run B", options=[], width=260)
        self.table = pn.widgets.Tabulator(difference_frame({}, {}), disabled=True,
                                          formatters={c: "plaintext" for c in TEXT},
                                          show_index=False, sizing_mode="stretch_width",
                                          css_classes=["whatif-differences"])
        self.sources = {side: ColumnDataSource({"step": [], **{c: [] for c in SERIES}})
                        for side in ("A", "B")}
        self.figures = [self._figure(column, title) for column, title in SERIES.items()]
        self.note = pn.pane.Markdown("Run the base scenario and a what-if to compare them.",
                                     css_classes=["whatif-compare-note"])
        self.a.param.watch(lambda _: self.refresh(), "value")
        self.b.param.watch(lambda _: self.refresh(), "value")
        self.layout = pn.Column("### Side by side", self.note, pn.Row(self.a, self.b),
                                self.table, pn.Row(*self.figures),
                                sizing_mode="stretch_width", visible=False)

    def _figure(self, column: str, title: str) -> Any:
        fig = figure(title=title, height=260, width=520, x_axis_label="step",
                     tools="pan,wheel_zoom,box_zoom,reset")
        for (side, source), colour in zip(self.sources.items(), COLOURS, strict=True):
            line = fig.line("step", column, source=source, color=colour, line_width=2,
                            legend_label=side)
            fig.add_tools(HoverTool(renderers=[line], tooltips=[
                ("run", side), ("step", "@step{0}"), ("USD", f"@{{{column}}}{{0,0}}")]))
        fig.yaxis.formatter = NumeralTickFormatter(format="$0.0a")
        fig.legend.location = "bottom_left"
        return pn.pane.Bokeh(fig)

    def update(self, runs: Mapping[str, Path], latest: str | None = None) -> None:
        """The runs to choose from; A stays the base (or the first run), B the latest."""
        self.runs = dict(runs)
        self.layout.visible = True
        names = list(self.runs)
        self.a.options, self.b.options = names, names
        if self.a.value not in names or self.a.value is None:
            self.a.value = next((n for n in names if "base" in n), names[0])
        self.b.value = latest or names[-1]
        self.refresh()

    def refresh(self) -> None:
        if not self.runs or self.a.value is None or self.b.value is None:
            return
        a, b = (summary_of(self.runs[n]) for n in (self.a.value, self.b.value))
        self.table.value = difference_frame(a, b)
        for side, name in (("A", self.a.value), ("B", self.b.value)):
            self.sources[side].data = series(self.runs[name])
        seeds = "the same seed" if a.get("seed") == b.get("seed") else \
            f"different seeds ({a.get('seed')} and {b.get('seed')})"
        self.note.object = (f"A = **{self.a.value}**, B = **{self.b.value}**, {seeds}. "
                            "`better`: the direction in which a key is better (sim/metrics.py).")
