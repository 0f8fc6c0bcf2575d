"""The run explorer: a time slider (and Play) over a run's steps, showing at the chosen step
the dependency graph's node states, prices with a cursor and the shocks, the lending book's
health-factor distribution, the step's events, and the treasury's NAV and runway.

Everything is prepared once when the folder opens (`dashboard.run_data`); a move of the
slider only assigns a few ColumnDataSources' `data`, the cursors' locations and three small
HTML panes, inside one `hold` so the browser gets them as one message (issue 20: under
200 ms a move). The node states are also written as an HTML table with stable classes
(`daosim-node-states`, a row per node not healthy: `node-state <state>`, `data-node`,
`data-cause`) - what a browser test reads, since the graph itself is canvas pixels.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
from bokeh.models import ColumnDataSource, HoverTool, Label, LinearAxis, Range1d, Span
from bokeh.plotting import figure

from dashboard.run_data import DISTRESSED, ORIGIN, STATES, RunData, load

HEALTHY_COLOR, ORIGIN_COLOR = "#aab7c4", "#6c3483"
#: distressed nodes by the family of their (first) cause, sim.distress's causes
CAUSE_COLORS = {
    "bad_debt": "#c0392b", "shortfall": "#e74c3c", "utilization_pinned": "#d35400",
    "price_deviation": "#f39c12", "tvl_drop": "#e67e22", "nav_drop": "#a04000",
    "depeg": "#b9770e", "backing": "#943126", "drawdown": "#cb4335", "runway": "#784212",
}
OTHER_CAUSE = "#7b241c"
SHOCK_COLOR = "#c0392b"
PLOT_WIDTH = 680


def cause_family(cause: str) -> str:
    """'utilization_pinned:USDC,bad_debt' -> 'utilization_pinned' (the first cause)."""
    return cause.split(",")[0].split(":")[0]


def node_colors(states: np.ndarray, causes: np.ndarray) -> list[str]:
    colors = []
    for state, cause in zip(states, causes, strict=True):
        if state == DISTRESSED:
            colors.append(CAUSE_COLORS.get(cause_family(cause), OTHER_CAUSE))
        else:
            colors.append(ORIGIN_COLOR if state == ORIGIN else HEALTHY_COLOR)
    return colors


def view(folder: Path, board: Any) -> Any:
    """The run explorer of `folder` (module doc)."""
    return RunExplorer(load(folder), board).layout


class RunExplorer:
    """The plots, their sources and the slider of one opened run folder."""

    def __init__(self, data: RunData, board: Any) -> None:
        self.data = data
        self.cursors: list[Span] = []
        self.slider = pn.widgets.IntSlider(label="Step", start=0, end=max(data.horizon, 1),
                                           value=0, sizing_mode="stretch_width",
                                           css_classes=["daosim-step-slider"])
        self.player = pn.widgets.Player(start=0, end=max(data.horizon, 1), value=0,
                                        interval=300, loop_policy="once",
                                        show_loop_controls=False, show_value=False,
                                        width=300, css_classes=["daosim-player"],
                                        # its own slider would repeat the step slider
                                        stylesheets=["input[type='range'] {display: none}"])
        self.slider.jslink(self.player, value="value", bidirectional=True)
        self.step_label = pn.pane.HTML("", css_classes=["daosim-step"])
        self.states = pn.pane.HTML("", css_classes=["daosim-node-states"], width=420)
        self.hf_text = pn.pane.HTML("", css_classes=["daosim-hf"], width=PLOT_WIDTH)
        self.counts = pn.pane.HTML("", css_classes=["daosim-event-counts"])
        self.table = pn.widgets.Tabulator(
            data.events_at(0).iloc[:0].pipe(_event_rows), disabled=True, show_index=False,
            height=300, width=620, layout="fit_data_stretch", css_classes=["daosim-events"])
        graph = self._graph()
        prices = self._prices()
        health = self._health()
        treasury = self._treasury()
        notes = [pn.pane.Alert(text, alert_type="warning", css_classes=[css],
                               sizing_mode="stretch_width") for css, text in _notes(data)]
        self.slider.param.watch(board.guard(lambda event: self.show(event.new)), "value")
        self.layout = pn.Column(
            pn.Row(self.player, self.slider, sizing_mode="stretch_width"),
            self.step_label, *notes,
            pn.Row(graph, pn.Column(self.states, _legend())),
            pn.Row(prices, pn.Column(self.hf_text, health)),
            pn.Row(treasury, pn.Column(self.counts, self.table)),
            sizing_mode="stretch_width", css_classes=["daosim-run-explorer"])
        self.show(0)

    # -- a step --------------------------------------------------------------------------
    def show(self, step: int) -> None:
        """Show step `step`: only sources' data, cursors and small panes change."""
        data = self.data
        t = data.clamp(step)
        with pn.io.hold():
            self.nodes.data = self._node_data(t)
            self.hf.data = self._hf_data(t)
            for cursor in self.cursors:
                cursor.location = t
            self.step_label.object = (f'<b class="daosim-step-number" data-step="{t}">Step {t}'
                                      f"</b> of {data.horizon}")
            self.states.object = states_table(data, t)
            self.hf_text.object = self._hf_summary(t)
            events = data.events_at(t)
            self.counts.object = event_counts(events, t)
            self.table.value = _event_rows(events)

    # -- the dependency graph --------------------------------------------------------------
    def _node_data(self, t: int) -> dict[str, Any]:
        data = self.data
        state, cause, since = data.state[t], data.cause[t], data.since[t]
        return {
            **self._node_static, "color": node_colors(state, cause),
            "state": np.array(STATES, dtype=object)[state].tolist(), "cause": cause.tolist(),
            "since": [str(s) if k else "" for s, k in zip(since, state, strict=True)],
            "ring": np.where(data.nodes["origin_step"].between(0, t), 1.0, 0.0).tolist(),
        }

    def _graph(self) -> Any:
        data = self.data
        nodes, edges = data.nodes, data.edges
        value = nodes["value_usd"].to_numpy()
        top = max(float(value.max()) if len(value) else 0.0, 1.0)
        self._node_static = {
            "x": nodes["x"].tolist(), "y": nodes["y"].tolist(), "id": nodes["id"].tolist(),
            "kind": nodes["kind"].tolist(), "value": [f"${v:,.0f}" for v in value],
            "size": (12 + 38 * np.sqrt(np.maximum(value, 0) / top)).tolist(),
            "ring_size": (22 + 38 * np.sqrt(np.maximum(value, 0) / top)).tolist(),
        }
        weight = edges["weight"].to_numpy()
        heaviest = max(float(weight.max()) if len(weight) else 0.0, 1.0)
        lines = ColumnDataSource({
            "xs": edges["xs"].tolist(), "ys": edges["ys"].tolist(),
            "source": edges["source"].tolist(), "target": edges["target"].tolist(),
            "weight": [f"${w:,.0f}" for w in weight], "channels": edges["channels"].tolist(),
            "width": (0.5 + 7 * np.sqrt(np.maximum(weight, 0) / heaviest)).tolist(),
        })
        self.nodes = ColumnDataSource(self._node_data(0))
        fig = figure(width=PLOT_WIDTH, height=520, title="Dependency graph (graph.json)",
                     tools="pan,wheel_zoom,reset,save", toolbar_location="above")
        fig.axis.visible = False
        fig.grid.visible = False
        edge_glyph = fig.multi_line("xs", "ys", source=lines, line_width="width",
                                    line_color="#7f8c8d", line_alpha=0.35)
        fig.scatter("x", "y", source=self.nodes, size="ring_size", fill_alpha=0,
                    line_color=ORIGIN_COLOR, line_width=3, line_alpha="ring")
        node_glyph = fig.scatter("x", "y", source=self.nodes, size="size", color="color",
                                 line_color="#2c3e50")
        fig.text("x", "y", text="id", source=self.nodes, text_font_size="9px",
                 x_offset=8, y_offset=-6, text_color="#2c3e50")
        fig.add_tools(HoverTool(renderers=[node_glyph], tooltips=[
            ("node", "@id"), ("kind", "@kind"), ("value", "@value"), ("state", "@state"),
            ("cause", "@cause"), ("since step", "@since")]),
            HoverTool(renderers=[edge_glyph], line_policy="interp", tooltips=[
                ("exposure", "@source -> @target"), ("weight", "@weight"),
                ("channels", "@channels")]))
        pad = 0.25
        fig.x_range = Range1d(min(self._node_static["x"], default=-1) - pad,
                              max(self._node_static["x"], default=1) + pad)
        fig.y_range = Range1d(min(self._node_static["y"], default=-1) - pad,
                              max(self._node_static["y"], default=1) + pad)
        return pn.Column(pn.pane.Bokeh(fig), css_classes=["daosim-graph"])

    # -- prices, health factors, treasury --------------------------------------------------
    def _cursor(self, fig: Any) -> None:
        span = Span(location=0, dimension="height", line_color="#2c3e50", line_width=2)
        fig.add_layout(span)
        self.cursors.append(span)
        for k, (step, label) in enumerate(self.data.shocks.itertuples(index=False)):
            fig.add_layout(Span(location=step, dimension="height", line_color=SHOCK_COLOR,
                                line_dash="dashed", line_width=1))
            fig.add_layout(Label(x=step, y=4 + 14 * k, y_units="screen", text=label,
                                 text_font_size="9px", text_color=SHOCK_COLOR, x_offset=3))

    def _prices(self) -> Any:
        data = self.data
        ts = data.timeseries
        fig = figure(width=PLOT_WIDTH, height=360, x_axis_label="step",
                     y_axis_label="price / price at step 0",
                     title="Prices: off-chain (solid), pools (dotted), oracles (dashed)",
                     tools="pan,xwheel_zoom,box_zoom,reset,save", toolbar_location="above")
        palette = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                   "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
        renderers = []
        steps = ts["step"].to_numpy()
        for k, column in enumerate(data.prices):
            values = ts[column].to_numpy(dtype=float)
            first = values[np.isfinite(values) & (values > 0)]
            base = first[0] if len(first) else 1.0
            dash = "dashed" if column.startswith("oracle:") else (
                "dotted" if column.startswith("pool_price:") else "solid")
            # float32: 7 digits are plenty on screen and halve what the page loads
            source = ColumnDataSource({"step": steps, "relative": (values / base)
                                       .astype(np.float32), "price": values.astype(np.float32)})
            # the hover names the series by its renderer's name (`$name`), not by a column
            # of 721 copies of it
            renderers.append(fig.line("step", "relative", source=source, line_dash=dash,
                                      color=palette[k % len(palette)], line_width=1.5,
                                      legend_label=column, name=column))
        if renderers:
            fig.legend.click_policy = "hide"
            fig.legend.label_text_font_size = "8px"
            fig.legend.spacing = 0
            fig.add_layout(fig.legend[0], "right")
            fig.add_tools(HoverTool(renderers=renderers, tooltips=[
                ("series", "$name"), ("step", "@step"), ("price", "@price{0,0.0000}"),
                ("vs step 0", "@relative{0.000}")]))
        self._cursor(fig)
        return pn.Column(pn.pane.Bokeh(fig), css_classes=["daosim-prices"])

    def _health(self) -> Any:
        data = self.data
        self.hf = ColumnDataSource(self._hf_data(0))
        fig = figure(x_range=data.hf_labels, width=PLOT_WIDTH, height=300,
                     title="Health factors of the lending book's indebted positions",
                     x_axis_label="health factor", y_axis_label="positions",
                     tools="save", toolbar_location="above")
        bars = fig.vbar(x="bin", top="positions", width=0.85, color="color", source=self.hf)
        fig.xaxis.major_label_orientation = 0.6
        fig.add_tools(HoverTool(renderers=[bars], tooltips=[
            ("HF", "@bin"), ("positions", "@positions"), ("debt", "@debt")]))
        return pn.Column(pn.pane.Bokeh(fig), css_classes=["daosim-health"])

    def _hf_data(self, t: int) -> dict[str, Any]:
        data = self.data
        debt = data.hf_debt[t]
        return {"bin": data.hf_labels, "positions": data.hf_positions[t].tolist(),
                "debt": ["n/a" if np.isnan(d) else f"${d:,.0f}" for d in debt],
                "color": ["#c0392b" if low < 1.0 else "#2e86c1" for low in data.hf_low]}

    def _hf_summary(self, t: int) -> str:
        data = self.data
        positions = data.hf_positions[t]
        below = positions[data.hf_low < 1.0].sum()
        debt = data.hf_debt[t]
        owed = "" if np.isnan(debt).all() else f", ${np.nansum(debt):,.0f} debt"
        note = f" ({html.escape(data.hf_note[t])})" if data.hf_note[t] else ""
        return (f'<span class="daosim-hf-total" data-positions="{int(positions.sum())}">'
                f"{int(positions.sum())} indebted positions{owed}; {int(below)} below HF 1 "
                f"(liquidatable){note}</span>")

    def _treasury(self) -> Any:
        ts = self.data.timeseries
        fig = figure(width=PLOT_WIDTH, height=300, x_axis_label="step",
                     y_axis_label="NAV (USD)", title="Treasury: NAV and runway",
                     tools="pan,xwheel_zoom,reset,save", toolbar_location="above")
        renderers = []
        if "treasury_nav_usd" in ts:
            source = ColumnDataSource({"step": ts["step"].to_numpy(),
                                       "nav": ts["treasury_nav_usd"].to_numpy()})
            renderers.append(fig.line("step", "nav", source=source, color="#1f618d",
                                      line_width=2, legend_label="NAV (USD)"))
            fig.add_tools(HoverTool(renderers=renderers[-1:], tooltips=[
                ("step", "@step"), ("NAV", "$@nav{0,0}")]))
        if "runway_months" in ts:
            runway = ts["runway_months"].to_numpy(dtype=float)
            finite = runway[np.isfinite(runway)]
            top = float(finite.max()) * 1.1 if len(finite) else 1.0
            fig.extra_y_ranges = {"runway": Range1d(0, max(top, 1.0))}
            fig.add_layout(LinearAxis(y_range_name="runway", axis_label="runway (months)"),
                           "right")
            source = ColumnDataSource({"step": ts["step"].to_numpy(), "runway": runway})
            line = fig.line("step", "runway", source=source, y_range_name="runway",
                            color="#b9770e", line_width=2, line_dash="dashed",
                            legend_label="runway (months)")
            fig.add_tools(HoverTool(renderers=[line], tooltips=[
                ("step", "@step"), ("runway", "@runway{0.0} months")]))
        if renderers:
            fig.legend.location = "bottom_left"
        self._cursor(fig)
        return pn.Column(pn.pane.Bokeh(fig), css_classes=["daosim-treasury"])


# -- HTML panes -------------------------------------------------------------------------
def _notes(data: RunData) -> list[tuple[str, str]]:
    """(css class, text) of what this folder lacks that the page would show."""
    notes = []
    if data.hf_source == "snapshots":
        notes.append(("daosim-hf-fallback", "This run folder has no per-step health factors "
                      "(health_steps.parquet, written by daosim runs since issue 20): the "
                      "distribution shows the snapshots of health.parquet (start or before and "
                      "after the first shock, end of run), the latest one taken at or before "
                      "the step."))
    elif data.hf_source == "none":
        notes.append(("daosim-hf-fallback", "This run folder has no health factors "
                      "(health_steps.parquet or health.parquet): no distribution to show."))
    if data.nodes.empty:
        notes.append(("daosim-no-graph", "This run folder has no graph.json: no dependency "
                      "graph to show."))
    return notes


def states_table(data: RunData, t: int) -> str:
    """The nodes not healthy at step `t`, as a table with stable classes (module doc), under
    a one-line count."""
    state, cause, since = data.state[t], data.cause[t], data.since[t]
    rows, counts = [], {s: int((state == k).sum()) for k, s in enumerate(STATES)}
    for j in np.flatnonzero(state):
        node = html.escape(str(data.nodes["id"].iat[j]))
        name = STATES[state[j]]
        why = html.escape(str(cause[j]))
        rows.append(f'<tr class="node-state {name}" data-node="{node}" data-cause="{why}">'
                    f"<td>{node}</td><td>{name}</td><td>{why}</td><td>{since[j]}</td></tr>")
    head = (f'<p class="daosim-node-counts">Nodes at step {t}: '
            f'<span class="count-distressed">{counts["distressed"]}</span> distressed, '
            f'<span class="count-origin">{counts["origin"]}</span> origin, '
            f'<span class="count-healthy">{counts["healthy"]}</span> healthy</p>')
    if not rows:
        return head
    return (head + '<table class="daosim-node-table"><tr><th>node</th><th>state</th>'
            "<th>cause</th><th>since step</th></tr>" + "".join(rows) + "</table>")


def event_counts(events: Any, t: int) -> str:
    counts = events["kind"].value_counts()
    text = ", ".join(f'<span class="kind" data-kind="{html.escape(str(k))}">{n} '
                     f"{html.escape(str(k))}</span>" for k, n in counts.items())
    return f'<p class="daosim-kinds" data-step="{t}">Events at step {t}: {text or "none"}</p>'


def _legend() -> Any:
    items = [(HEALTHY_COLOR, "healthy"), (ORIGIN_COLOR, "origin (hit by a shock; ring)")]
    items += [(color, f"distressed: {cause}") for cause, color in CAUSE_COLORS.items()]
    cells = "".join(f'<div><span style="display:inline-block;width:10px;height:10px;'
                    f'background:{color};margin-right:6px"></span>{html.escape(text)}</div>'
                    for color, text in items)
    return pn.pane.HTML(f'<div class="daosim-legend" style="font-size:11px">{cells}</div>')


#: the event fields named in the table's "who" column, first present wins
WHO = ("node", "market", "pool", "actor")


def _event_rows(events: Any) -> Any:
    """A step's events as table rows: kind, who, and the event's other fields as text."""
    import pandas as pd

    rows = []
    for record in events.to_dict("records"):
        who = next((str(record[k]) for k in WHO if isinstance(record.get(k), str)), "")
        details = ", ".join(f"{k}={_fmt(v)}" for k, v in record.items()
                            if k not in ("step", "kind", *WHO) and _present(v))
        rows.append({"kind": record["kind"], "who": who, "details": details})
    return pd.DataFrame(rows, columns=["kind", "who", "details"])


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float):
        return not np.isnan(value)
    return True


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)
