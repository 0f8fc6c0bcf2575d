"""The sweep and comparison explorer: `view(folder, board)` for a sweep or compare folder.

A sweep: choose two parameters and a metric; a grid design is a heat map of the points'
means (other parameters held at a value or averaged over, as the page says), an LHS or Sobol
design a scatter of its points coloured by the mean. Clicking a cell or point (or a row of
the points table) lists its runs; a selected run can be run again, alone, into the run
explorer (`dashboard.sweep_rerun`). A comparison: `dashboard.sweep_compare`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    FactorRange,
    HoverTool,
    LinearColorMapper,
    NumeralTickFormatter,
    TapTool,
)
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from dashboard import sweep_data as data
from dashboard.sweep_rerun import ReRun, rerun_folder, rerun_scenario
from protocols.errors import ConfigError


def view(folder: Path, board: Any) -> Any:
    """The explorer of a sweep or comparison folder (`reports.build.kind_of` says which)."""
    from reports.build import kind_of

    kind = kind_of(folder, command="dashboard")
    if kind == "sweep":
        from daosim.api import open_sweep

        return SweepExplorer(open_sweep(folder), board).panel
    if kind == "compare":
        from daosim.api import open_comparison
        from dashboard.sweep_compare import CompareExplorer

        return CompareExplorer(open_comparison(folder), board).panel
    raise ConfigError(f"dashboard: {folder} is a {kind} folder, not a sweep or comparison")


class SweepExplorer:
    """One sweep's page: axis and metric selects, the figure, the points and runs tables."""

    def __init__(self, sweep: Any, board: Any) -> None:
        self.sweep, self.board = sweep, board
        self.params = data.sweep_params(sweep)
        self.metrics = data.sweep_metrics(sweep, self.params)
        self.grid = sweep.about.get("design", "grid") == "grid"
        guard = board.guard
        self.metric = pn.widgets.Select(label="Metric (colour: its mean per point)",
                                        options=self.metrics,
                                        value=data.default_metric(self.metrics), width=320)
        ys = self.params[1:2] or [None]
        self.x = pn.widgets.Select(label="x axis", options=self.params, value=self.params[0],
                                   width=260)
        self.y = pn.widgets.Select(label="y axis", options=self.params if len(self.params) > 1
                                   else {"(none)": None}, value=ys[0], width=260)
        self.others = pn.Column()
        self.note = pn.pane.Markdown("", css_classes=["daosim-sweep-note"])
        self.source = ColumnDataSource(self._empty())
        self.cells = pd.DataFrame()
        self.figure = self._heatmap() if self.grid else self._scatter()
        self.source.selected.on_change("indices", guard(self._tapped))
        self.points_table = pn.widgets.Tabulator(
            pd.DataFrame(), selectable=1, disabled=True, show_index=False, height=220,
            sizing_mode="stretch_width", css_classes=["daosim-points"])
        self.points_table.param.watch(self._locked(self._point_row), "selection")
        self.runs_title = pn.pane.Markdown("Click a cell or point (or a row of the points "
                                           "table) to list its runs.",
                                           css_classes=["daosim-runs-title"])
        self.runs_table = pn.widgets.Tabulator(
            pd.DataFrame(), selectable=1, disabled=True, show_index=False, height=220,
            sizing_mode="stretch_width", css_classes=["daosim-runs"])
        self.runs_table.param.watch(guard(self._run_row), "selection")
        self.run_error = pn.pane.Alert("", alert_type="warning", visible=False,
                                       css_classes=["daosim-run-error"])
        self.rerun = ReRun(self._opened, guard)
        self.rerun.button.on_click(guard(lambda _: self.start_rerun()))
        for widget in (self.metric, self.x, self.y):
            widget.param.watch(self._locked(self._changed), "value")
        self._build_others()
        self.redraw()
        self.panel = pn.Column(
            pn.pane.Markdown(data.sweep_caption(sweep, self.params)),
            pn.Row(self.metric, self.x, self.y, self.others),
            self.note,
            pn.Row(pn.pane.Bokeh(self.figure), pn.Column(
                "**Points** (means over their successful runs)", self.points_table,
                sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            self.runs_title, self.runs_table, self.run_error, self.rerun.panel,
            sizing_mode="stretch_width", css_classes=["daosim-sweep"])

    def _locked(self, callback: Any) -> Any:
        """A Panel event's callback that changes Bokeh models: on the server it runs as the
        document's next tick, under its lock (Bokeh refuses changes without it)."""
        guarded = self.board.guard(callback)
        return lambda event: pn.state.execute(lambda: guarded(event), schedule=True)

    # -- the figure ----------------------------------------------------------------------
    @staticmethod
    def _empty() -> dict[str, list]:
        return {k: [] for k in ("x", "y", "x_label", "y_label", "mean", "runs", "failed",
                                "point_text")}

    def _mapper(self) -> LinearColorMapper:
        self.colours = LinearColorMapper(palette=Viridis256, nan_color="#cccccc")
        return self.colours

    def _hover(self, xs: str, ys: str) -> HoverTool:
        self.hover = HoverTool(tooltips=[("x", xs), ("y", ys), ("mean", "@mean{0,0.[0000]}"),
                                         ("runs", "@runs"), ("failed", "@failed"),
                                         ("points", "@point_text")])
        return self.hover

    def _heatmap(self) -> Any:
        fig = figure(x_range=FactorRange(), y_range=FactorRange(), width=620, height=440,
                     tools="tap,reset,save", toolbar_location="right")
        fig.add_tools(self._hover("@x_label", "@y_label"))
        fig.rect(x="x_label", y="y_label", width=1, height=1, source=self.source,
                 fill_color={"field": "mean", "transform": self._mapper()},
                 line_color="white", line_width=2, selection_line_color="#d62728",
                 selection_line_width=4, nonselection_fill_alpha=0.55)
        fig.add_layout(ColorBar(color_mapper=self.colours, width=12,
                                formatter=NumeralTickFormatter(format="0,0.[0000]")), "right")
        fig.grid.grid_line_color = None
        fig.select_one(TapTool).mode = "replace"
        return fig

    def _scatter(self) -> Any:
        fig = figure(width=620, height=440, tools="tap,pan,wheel_zoom,reset,save",
                     toolbar_location="right")
        fig.add_tools(self._hover("@x{0.[0000]}", "@y{0.[0000]}"))
        fig.scatter(x="x", y="y", size=16, source=self.source, line_color="black",
                    fill_color={"field": "mean", "transform": self._mapper()},
                    selection_line_color="#d62728", selection_line_width=3,
                    nonselection_fill_alpha=0.5)
        fig.add_layout(ColorBar(color_mapper=self.colours, width=12,
                                formatter=NumeralTickFormatter(format="0,0.[0000]")), "right")
        return fig

    def _build_others(self) -> None:
        """A select per parameter on neither axis (grids only): a value or the average."""
        self.held: dict[str, pn.widgets.Select] = {}
        if not self.grid:
            self.others.objects = []
            return
        for param in self.params:
            if param in (self.x.value, self.y.value):
                continue
            values = sorted(self.sweep.points[param].unique())
            select = pn.widgets.Select(label=param, width=200, value=data.AVERAGE,
                                       options=[data.AVERAGE, *map(data.value_text, values)])
            select.param.watch(self._locked(self._changed), "value")
            self.held[param] = select
        self.others.objects = list(self.held.values())

    def _changed(self, event: Any) -> None:
        if event.obj in (self.x, self.y):
            if self.x.value == self.y.value:
                raise ConfigError("dashboard: choose two different parameters for x and y")
            self._build_others()
        self.redraw()

    def redraw(self) -> None:
        """Recompute the cells or points and replace the figure's data (never the figure)."""
        metric, x, y = self.metric.value, self.x.value, self.y.value
        points = self.sweep.points
        if self.grid:
            held = {p: s.value for p, s in self.held.items()}
            self.cells = data.grid_cells(points, x, y, metric, held)
            self.figure.x_range.factors = list(dict.fromkeys(self.cells["x_label"]))
            self.figure.y_range.factors = list(dict.fromkeys(self.cells["y_label"]))
            kept = [f"`{p}` = {v}" for p, v in held.items() if v != data.AVERAGE]
            averaged = [f"`{p}`" for p, v in held.items() if v == data.AVERAGE]
            self.note.object = ("Heat map: each cell is the mean of " + data.metric_label(
                metric) + " over its runs that succeeded" + (
                "; held: " + ", ".join(kept) if kept else "") + (
                "; averaged over (each cell averages its points' means): " + ", ".join(
                    averaged) if averaged else "") + ". Grey: every run failed.")
        else:
            self.cells = data.scatter_points(points, x, y, metric)
            self.cells["x_label"] = self.cells["x"].map(data.value_text)
            self.cells["y_label"] = self.cells["y"].map(data.value_text)
            self.note.object = (f"Scatter of the {self.sweep.about.get('design')} design's "
                                f"sampled points, colour: {data.metric_label(metric)} (mean "
                                "over the point's successful runs); the other parameters "
                                "vary from point to point (points table).")
        cells = self.cells
        finite = cells["mean"].dropna()
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        self.colours.low, self.colours.high = low, high if high > low else low + 1
        self.note.object += (f" Colours span {low:,.6g} .. {high:,.6g}." if len(finite) else
                             " No point has a successful run.")
        self.figure.xaxis.axis_label = x
        self.figure.yaxis.axis_label = y or ""
        self.figure.title.text = data.metric_label(metric)
        self.hover.tooltips = [(x, "@x_label"), (y or "-", "@y_label"),
                               (metric, "@mean{0,0.[0000]}"), ("runs", "@runs"),
                               ("failed", "@failed"), ("points", "@point_text")]
        self.source.selected.indices = []
        self.source.data = {
            "x": (cells["x_label"] if self.grid else cells["x"]).tolist(),
            "y": (cells["y_label"] if self.grid else cells["y"]).tolist(),
            "x_label": cells["x_label"].tolist(), "y_label": cells["y_label"].tolist(),
            "mean": cells["mean"].astype(float).to_numpy(),
            "runs": cells["runs"].astype(int).tolist(),
            "failed": cells["failed"].astype(int).tolist(),
            "point_text": [", ".join(map(str, p)) for p in cells["points"]]}
        shown = points[["point", metric, "runs", "failed", *self.params]]
        self.points_table.formatters = data.formatters(shown)
        self.points_table.value = shown.sort_values(metric, ascending=False,
                                                    na_position="first")

    # -- clicks ----------------------------------------------------------------------------
    def _tapped(self, _attr: str, _old: list[int], new: list[int]) -> None:
        if new:
            self.show_runs(list(self.cells["points"].iloc[new[0]]))

    def _point_row(self, event: Any) -> None:
        if not event.new:
            return
        point = int(self.points_table.value.iloc[event.new[0]]["point"])
        cell = [i for i, ids in enumerate(self.cells["points"]) if point in ids]
        self.show_runs([point])
        if len(cell) == 1 and self.source.selected.indices != cell:
            self.source.selected.indices = cell

    def show_runs(self, point_ids: list[int]) -> None:
        """List the runs of these points (a cell's), with any run's error."""
        runs = data.point_runs(self.sweep.runs, point_ids, self.metric.value)
        self.runs_table.formatters = data.formatters(runs)
        self.runs_table.value = runs
        failed = int((runs["error"] != "").sum())
        what = f"point {point_ids[0]}" if len(point_ids) == 1 else \
            f"points {', '.join(map(str, point_ids))}"
        self.runs_title.object = (f"**Runs of {what}** ({len(runs)} runs, {failed} failed): "
                                  "select one to re-run it alone.")
        self.run_error.visible = False
        self.rerun.button.disabled = True

    def _run_row(self, event: Any) -> None:
        if not event.new:
            self.rerun.button.disabled = True
            return
        row = self.runs_table.value.iloc[event.new[0]]
        self.run_error.object = f"{row['run_key']} failed: {row['error']}"
        self.run_error.visible = bool(row["error"])
        self.rerun.button.disabled = False

    def selected_run(self) -> str:
        rows = self.runs_table.selection
        if not rows:
            raise ConfigError("re-run: select a run in the runs table first")
        return str(self.runs_table.value.iloc[rows[0]]["run_key"])

    def start_rerun(self) -> Any:
        key = self.selected_run()
        scenario = rerun_scenario(self.sweep, key)
        return self.rerun.start(scenario, rerun_folder(self.board.out, self.sweep.name, key))

    def _opened(self, folder: Path) -> None:
        try:
            self.board.open_run(folder)
        except ImportError as exc:
            raise ConfigError(f"re-run written to {folder}, but the run explorer is not "
                              f"available in this installation ({exc}); open the folder with "
                              f"`daosim report {folder}`") from None
