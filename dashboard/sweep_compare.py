"""A comparison's paired differences, interactive: choose a judged metric (or click its row
in the table) and see each replicate's difference proposal - baseline on common seeds, with
the mean difference and its interval from comparison.csv marked, and the verdict."""

from __future__ import annotations

import math
from typing import Any

import panel as pn
from bokeh.models import BoxAnnotation, ColumnDataSource, HoverTool, Span
from bokeh.plotting import figure

from dashboard import sweep_data as data


class CompareExplorer:
    def __init__(self, comparison: Any, board: Any) -> None:
        self.comparison, self.board = comparison, board
        self.table = data.judged_table(comparison)
        metrics = list(self.table["metric"])
        first = next((m for m in data.HEADLINE if m in metrics), metrics[0])
        self.metric = pn.widgets.Select(label="Metric", options=metrics, value=first,
                                        width=320)
        self.source = ColumnDataSource({k: [] for k in ("replicate", "baseline", "proposal",
                                                        "difference")})
        self.figure = self._strip()
        self.stats = pn.pane.Markdown("", css_classes=["daosim-diff-stats"])
        self.verdict = pn.pane.Alert("", alert_type="info", css_classes=["daosim-verdict"])
        self.judged = pn.widgets.Tabulator(self.table, selectable=1, disabled=True,
                                           formatters=data.formatters(self.table),
                                           show_index=False, height=320,
                                           sizing_mode="stretch_width",
                                           css_classes=["daosim-judged"])
        self.judged.param.watch(board.guard(self._row), "selection")
        # a Panel event changes Bokeh models: on the server, under the document's lock
        redraw = board.guard(self.redraw)
        self.metric.param.watch(lambda _: pn.state.execute(redraw, schedule=True), "value")
        self.redraw()
        about = comparison.about
        self.panel = pn.Column(
            pn.pane.Markdown(f"**{comparison.proposal}** against **{comparison.baseline}** "
                             f"on {about.get('runs_per_arm', '?')} common seeds "
                             f"({about.get('failed', 0)} runs failed). Folder: "
                             f"`{comparison.folder}`"),
            pn.pane.Str(comparison.headline, sizing_mode="stretch_width"),
            self.metric, pn.pane.Bokeh(self.figure), self.stats, self.verdict,
            "**Judged metrics** (click a row to show its differences)", self.judged,
            sizing_mode="stretch_width", css_classes=["daosim-compare"])

    def _strip(self) -> Any:
        fig = figure(width=700, height=300, tools="pan,wheel_zoom,reset,save",
                     toolbar_location="right", y_axis_label="replicate")
        fig.scatter(x="difference", y="replicate", size=11, source=self.source,
                    fill_color="#1f77b4", line_color="black")
        fig.add_tools(HoverTool(tooltips=[("replicate", "@replicate"),
                                          ("baseline", "@baseline{0,0.[0000]}"),
                                          ("proposal", "@proposal{0,0.[0000]}"),
                                          ("difference", "@difference{0,0.[0000]}")]))
        self.zero = Span(location=0, dimension="height", line_color="grey",
                         line_dash="dashed")
        self.mean = Span(location=0, dimension="height", line_color="#d62728", line_width=2)
        self.band = BoxAnnotation(fill_color="#d62728", fill_alpha=0.15)
        for mark in (self.zero, self.mean, self.band):
            fig.add_layout(mark)
        return fig

    def redraw(self) -> None:
        """Show the chosen metric's paired differences (data only; the figure stays)."""
        metric = self.metric.value
        pairs = data.paired_points(self.comparison, metric)
        stats = data.interval(self.comparison, metric)
        self.source.data = {c: pairs[c].to_numpy() for c in pairs.columns}
        self.mean.location = stats["diff_mean"]
        has_interval = not (math.isnan(stats["ci_low"]) or math.isnan(stats["ci_high"]))
        self.band.left = stats["ci_low"] if has_interval else 0
        self.band.right = stats["ci_high"] if has_interval else 0
        self.band.visible = has_interval
        interval = (f"{stats['ci_low']:,.4g} .. {stats['ci_high']:,.4g} (shaded)"
                    if has_interval else "none (too few pairs)")
        self.figure.title.text = f"{data.metric_label(metric)}: proposal - baseline"
        self.stats.object = (f"{stats['pairs']} paired runs; mean difference "
                             f"{stats['diff_mean']:,.4g} (red line), interval {interval}; "
                             "dashed: no difference.")
        self.figure.xaxis.axis_label = f"difference in {metric}"
        self.verdict.object = stats["verdict"]

    def _row(self, event: Any) -> None:
        if event.new:
            self.metric.value = str(self.judged.value.iloc[event.new[0]]["metric"])
