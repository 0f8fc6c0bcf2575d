"""The report of one run (`daosim run` outputs): prices with shock markers, health factors
before and after the shock, liquidations with the bad debt written off and the shortfall
marked to market, the dependency graph with the chain of distress and the systemic DebtRank
over time, and the treasury's NAV and drawdown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize

from agents import event_kinds
from reports.bridge_figure import bridge_figure
from reports.buffer_figure import buffer_figure
from reports.figures import (
    NEVER_COLOR,
    SHOCK_COLOR,
    ReportFigure,
    draw_caption,
    label,
    legend_beside,
    legend_if_several,
    mark_shocks,
    new_figure,
    shock_key,
    text_colour,
    usd,
    usd_axis,
)
from reports.greeks_figure import greeks_figure
from reports.html import Table, provenance_line, write_report
from reports.inputs import read_json, read_parquet
from reports.liquidity_figure import liquidity_figure
from reports.regime_figure import regime_figure
from reports.summary_table import summary_table
from sim import columns
from sim.outputs import from_node_link
from sim.treasury import drawdowns

POOL_KINDS = ("uniswap_v2", "uniswap_v3", "curve")
MAX_PRICE_PANELS = 6
PRICE_ROW_HEIGHT = 2.3  # inches: one full-width panel per asset, legend beside it
#: health factors above this are drawn at it (a position with tiny debt has HF ~ 1e6)
HF_CAP = 10.0
SPREAD_ROWS = 60
TIME = "time (days)"
#: a graph column of more nodes than this zig-zags by +-GRAPH_ZIGZAG (x units: one depth)
GRAPH_COLUMN = 8
GRAPH_ZIGZAG = 0.22


@dataclass(frozen=True)
class RunFolder:
    path: Path
    summary: dict[str, Any]
    scenario: dict[str, Any]
    timeseries: pd.DataFrame
    events: pd.DataFrame
    health: pd.DataFrame | None
    graph: nx.DiGraph | None

    @property
    def days(self) -> np.ndarray:
        return self.timeseries["step"].to_numpy() * self.scenario["step_hours"] / 24.0

    def day(self, step: float) -> float:
        return step * self.scenario["step_hours"] / 24.0

    @property
    def caption(self) -> str:
        s = self.scenario
        return (f"Scenario {s['name']!r}, seed {s['seed']}, {s['steps']} steps of "
                f"{s['step_hours']:g} h.")

    @property
    def png_caption(self) -> str:
        """What a PNG of this run says about itself: the caption and the shocks' key."""
        return f"{self.caption}\n{shock_key(self.shocks)}".strip()

    @property
    def shocks(self) -> list[tuple[float, str]]:
        marks = []
        for shock in self.scenario.get("shocks", []):
            where = (shock.get("asset") or shock.get("protocol") or shock.get("market")
                     or "")
            marks.append((self.day(shock["step"]), f"{shock['kind']} {where}".strip()))
        return marks


def load_run(folder: str | Path) -> RunFolder:
    path = Path(folder)
    health = path / "health.parquet"
    graph = path / "graph.json"
    return RunFolder(
        path=path,
        summary=read_json(path / "summary.json"),
        scenario=read_json(path / "scenario.json"),
        timeseries=read_parquet(path / "timeseries.parquet"),
        events=read_parquet(path / "events.parquet"),
        health=read_parquet(health) if health.exists() else None,
        graph=from_node_link(read_json(graph)) if graph.exists() else None,
    )


def run_report(folder: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write `report.html` (and `figures/`) for the run in `folder`; returns its path."""
    run = load_run(folder)
    figures = [f for f in (price_figure(run), health_figure(run), liquidation_figure(run),
                           graph_figure(run), systemic_figure(run), treasury_figure(run),
                           liquidation_curve_figure(run), greeks_figure(run),
                           regime_figure(run), liquidity_figure(run), buffer_figure(run),
                           bridge_figure(run))
               if f is not None]
    s = run.scenario
    meta = [s.get("description") or "", run.caption, *provenance_line(run.path)]
    return write_report(out_dir or run.path, f"Run report: {s['name']}", meta,
                        [summary_table(run.summary), chain_table(run), spread_table(run)],
                        figures)


def spread_table(run: RunFolder) -> Table:
    events = run.events
    # a calm run has no distress event, so its log may lack the "cause" field altogether
    if events.empty or not {"node", "cause"} <= set(events.columns):
        spread = pd.DataFrame(columns=["step", "day", "kind", "node", "cause"])
    else:
        spread = events[events["kind"].isin(event_kinds.SPREAD)]
        spread = spread[["step", "kind", "node", "cause"]].copy()
        spread.insert(1, "day", [round(run.day(s), 2) for s in spread["step"]])
    note = "Every distress transition (step, node, cause), in order"
    if spread.empty:
        note = "No distress: no protocol crossed a distress threshold in this run"
    if len(spread) > SPREAD_ROWS:
        note += f"; the first {SPREAD_ROWS} of {len(spread)} (all are in events.parquet)"
    return Table("Spread of distress", spread.head(SPREAD_ROWS).astype(object), note + ".")


def chain_table(run: RunFolder) -> Table:
    """The origins, then each link of the chain of distress (sim.cascade), in order."""
    graph = run.graph
    origins = [] if graph is None else sorted(
        (d["origin_step"], n, d["origin_size"]) for n, d in graph.nodes(data=True)
        if d.get("origin"))
    listed = ", ".join(f"{n} at step {s} ({size:.0%} lost)" for s, n, size in origins)
    note = f"Origins: {listed}" if origins else "No origin: nothing hit the world from outside"
    links = run.events[run.events["kind"] == event_kinds.CONTAGION] if "kind" in run.events \
        else run.events
    if links.empty:
        frame = pd.DataFrame(columns=["since", "day", "node", "parent", "channel",
                                      "exposure_usd", "depth"])
        note += "; no distress spread from them"
    else:
        frame = links[["since", "node", "parent", "channel", "exposure_usd", "depth"]].copy()
        frame["since"] = frame["since"].astype(int)
        frame["depth"] = frame["depth"].astype(int)
        frame.insert(1, "day", [round(run.day(s), 2) for s in frame["since"]])
        frame["exposure_usd"] = [usd(v) for v in frame["exposure_usd"]]
        note += ("; each distress below began at `since` and was reached from `parent` through "
                 "the exposure of that edge (its largest `channel`)")
    return Table("Chain of distress", frame.astype(object), note + ".")


def price_figure(run: RunFolder) -> ReportFigure | None:
    """Traded off-chain (and, at finite depth, fundamental) vs pool vs oracle price per asset
    that has a pool or an oracle."""
    ts = run.timeseries
    pools: dict[str, list[str]] = {}
    for protocol in run.scenario.get("protocols", []):
        if protocol["kind"] in POOL_KINDS and columns.pool_price(protocol["name"]) in ts:
            pools.setdefault(protocol["tokens"][0], []).append(protocol["name"])
    oracles: dict[str, list[columns.Column]] = {}
    for column in columns.of_kind(ts.columns, columns.ORACLE):
        oracles.setdefault(column.asset, []).append(column)
    assets = [a["symbol"] for a in run.scenario["assets"]
              if a["symbol"] in pools or a["symbol"] in oracles][:MAX_PRICE_PANELS]
    if not assets:
        return None
    title = "Off-chain, pool and oracle prices"
    fig, axes = new_figure(title, len(assets), 1, sharex=True, height=PRICE_ROW_HEIGHT)
    days = run.days
    for k, (ax, asset) in enumerate(zip(axes, assets, strict=False)):
        ax.plot(days, ts[columns.price(asset)], color="black", linewidth=1.4,
                label="off-chain (traded)")
        if columns.fundamental(asset) in ts:
            ax.plot(days, ts[columns.fundamental(asset)], color="grey", linewidth=1.0,
                    linestyle="--", label="fundamental")
        for pool in pools.get(asset, []):
            ax.plot(days, ts[columns.pool_price(pool)], linestyle="-", linewidth=1.0,
                    alpha=0.85, label=f"pool {pool}")
        for column in oracles.get(asset, []):
            ax.step(days, ts[column.name], where="post", linestyle=":", linewidth=1.2,
                    label=f"oracle of {column.subject}")
        mark_shocks(ax, run.shocks, named=k == 0)
        label(ax, asset, TIME, "price (USD)")
        legend_beside(ax)
    draw_caption(fig, run.png_caption)
    return ReportFigure("prices", title, run.caption + " Dashed red lines: shocks.", fig)


def health_figure(run: RunFolder) -> ReportFigure | None:
    """Distribution of indebted positions' health factors at each snapshot moment."""
    health = run.health
    if health is None or health.empty:
        return None
    markets = list(dict.fromkeys(health["market"]))
    title = "Health factors of indebted positions before and after the shock"
    fig, axes = new_figure(title, len(markets), 1)
    for ax, market in zip(axes, markets, strict=True):
        rows = health[health["market"] == market]
        hf = rows["health_factor"].clip(upper=HF_CAP)
        bins = np.geomspace(max(hf.min(), 0.05), HF_CAP, 60)
        for moment in dict.fromkeys(rows["moment"]):
            values = hf[rows["moment"] == moment]
            step = int(rows.loc[rows["moment"] == moment, "step"].iloc[0])
            ax.hist(values, bins=bins, histtype="step", linewidth=1.5,
                    label=f"{moment} (day {run.day(step):.1f}, {len(values):,} positions)")
        ax.axvline(1.0, color=SHOCK_COLOR, linestyle="--", label="HF = 1: liquidatable below")
        ax.set_xscale("log")
        label(ax, f"market {market}", f"health factor (log scale; above {HF_CAP:g} drawn "
              f"at {HF_CAP:g})", "positions")
        legend_if_several(ax, loc="upper right")
    draw_caption(fig, run.caption)
    caption = (run.caption + " 'after shock' is taken once the shock reaches the oracles and "
               "before any liquidator acts.")
    return ReportFigure("health_factors", title, caption, fig)


def liquidation_figure(run: RunFolder) -> ReportFigure | None:
    """Liquidations per step; per market, the bad debt written off so far and the shortfall
    marked to market (what insolvent positions owe beyond their collateral now), in USD."""
    ts = run.timeseries
    bad = {c.subject: c.name for c in columns.of_kind(ts.columns, columns.BAD_DEBT_USD)}
    short = {c.subject: c.name for c in columns.of_kind(ts.columns, columns.SHORTFALL_USD)}
    markets = list(dict.fromkeys([*bad, *short]))
    if not markets:
        return None
    title = "Liquidations, bad debt and shortfall over time"
    fig, (top, bottom) = new_figure(title, 2, 1, sharex=True)
    days = run.days
    # one bar per step, drawn as a single filled outline (one artist, not one per step)
    edges = np.append(days - run.day(1), days[-1]) if len(days) else np.zeros(1)
    top.stairs(ts[columns.LIQUIDATIONS], edges, fill=True, color="#2e86c1", label="liquidations")
    mark_shocks(top, run.shocks)
    label(top, "Liquidations per step", TIME, "liquidations")
    legend_beside(top)
    palette = mpl.colormaps["tab10"]
    for k, market in enumerate(markets):
        colour = palette(k % 10)
        if market in bad:
            bottom.plot(days, ts[bad[market]], color=colour, linewidth=1.6,
                        label=f"{market}: bad debt (written off)")
        if market in short:
            bottom.plot(days, ts[short[market]], color=colour, linewidth=1.3, linestyle="--",
                        label=f"{market}: shortfall (marked to market)")
    mark_shocks(bottom, run.shocks, named=False)
    usd_axis(bottom)
    label(bottom, "Bad debt written off and shortfall marked to market (off-chain prices)",
          TIME, "USD")
    legend_beside(bottom)
    draw_caption(fig, run.png_caption)
    summary = run.summary
    caption = f"{run.caption} {summary.get('liquidations', 0):,} liquidations in the run."
    if "shortfall_peak_usd" in summary:
        caption += (
            f" Shortfall: sum over positions of max(0, debt - collateral at full value), at"
            f" off-chain prices, peak {usd(summary['shortfall_peak_usd'])}, end"
            f" {usd(summary['shortfall_end_usd'])}; bad debt (written off when a liquidation"
            f" empties a position) {usd(summary.get('bad_debt_usd', 0.0))}.")
    return ReportFigure("liquidations", title, caption, fig)


def graph_figure(run: RunFolder) -> ReportFigure | None:
    """The dependency graph just before the first origin, nodes placed by their place in the
    chain of distress (origins first), coloured by the day their distress began; the chain's
    links drawn in red."""
    graph = run.graph
    if graph is None or graph.number_of_nodes() == 0:
        return None
    depths = {n: d.get("depth", -1) for n, d in graph.nodes(data=True)}
    deepest = max(depths.values(), default=0)
    column = {n: (d if d >= 0 else deepest + 1) for n, d in depths.items()}
    positions = {}
    tallest = max(list(column.values()).count(x) for x in set(column.values()))
    for x in sorted(set(column.values())):
        members = sorted(n for n in graph if column[n] == x)
        gap = tallest / len(members)  # every column spread over the same height
        # a crowded column zig-zags, so neighbours (and their labels) do not overlap
        zigzag = GRAPH_ZIGZAG if len(members) > GRAPH_COLUMN else 0.0
        for k, node in enumerate(members):
            positions[node] = (x + zigzag * (-1) ** k, -(k - (len(members) - 1) / 2) * gap)
    title = "Dependency graph: where distress travelled and when"
    fig, (ax,) = new_figure(title, height=5.6)
    steps = {n: graph.nodes[n].get("distress_step", -1) for n in graph}
    hit = [s for s in steps.values() if s >= 0]
    norm = Normalize(vmin=run.day(min(hit)) if hit else 0.0,
                     vmax=run.day(max(hit)) if hit else 1.0)
    palette = mpl.colormaps["viridis"]
    colours = [palette(norm(run.day(steps[n]))) if steps[n] >= 0 else NEVER_COLOR
               for n in graph]
    weights = np.array([d.get("weight", 0.0) for _, _, d in graph.edges(data=True)])
    widths = 0.5 + 3.0 * np.log1p(weights) / max(np.log1p(weights).max(), 1.0) \
        if weights.size else []
    nx.draw_networkx_edges(graph, positions, ax=ax, width=widths, alpha=0.45,
                           edge_color="#5d6d7e", arrowsize=10, node_size=900,
                           connectionstyle="arc3,rad=0.08")
    chain = [(u, v) for u, v, d in graph.edges(data=True) if d.get("cascade")]
    nx.draw_networkx_edges(graph, positions, edgelist=chain, ax=ax, width=2.5,
                           edge_color=SHOCK_COLOR, arrowsize=14, node_size=900,
                           connectionstyle="arc3,rad=0.08")
    origins = [n for n in graph if graph.nodes[n].get("origin")]
    nx.draw_networkx_nodes(graph, positions, ax=ax, node_color=colours, node_size=900,
                           edgecolors=[SHOCK_COLOR if n in origins else "white" for n in graph],
                           linewidths=[3.0 if n in origins else 1.0 for n in graph])
    for ink in ("black", "white"):  # white on dark fills, black on light ones
        inked = [n for n, fill in zip(graph, colours, strict=True) if text_colour(fill) == ink]
        nx.draw_networkx_labels(graph, positions, ax=ax, font_size=6, font_color=ink,
                                labels={n: n.replace(":", ":\n") for n in inked})
    mapper = mpl.cm.ScalarMappable(norm=norm, cmap=palette)
    fig.colorbar(mapper, ax=ax, label="distress began (day)", shrink=0.8)
    ticks = sorted(set(column.values()))
    unreachable = deepest + 1
    ax.set_xticks(ticks, ["not reached" if t == unreachable else str(t) for t in ticks])
    ax.set_yticks([])
    ax.tick_params(axis="x", which="both", bottom=True, labelbottom=True)
    ax.set_xlim(min(ticks) - 0.6, max(ticks) + 0.6)
    label(ax, "Edge A -> B: B is exposed to A (width: exposure in USD, log)",
          "links in the chain of distress from an origin", "nodes at that depth")
    reached = len(hit)
    draw_caption(fig, run.caption)
    caption = (f"{run.caption} Red rings: origins; red edges: the chain of distress (each "
               f"node's link to the neighbour it was reached from); grey: never distressed; "
               f"{reached} of {graph.number_of_nodes()} nodes became distressed. Exposures "
               f"as they stood just before the first origin.")
    return ReportFigure("dependency_graph", title, caption, fig)


def systemic_figure(run: RunFolder) -> ReportFigure | None:
    """The systemic DebtRank per step: how exposed each day's network was to the run's
    origins - it shows a policy building up (or shedding) exposure before the shock."""
    ts = run.timeseries
    first = run.summary.get("first_origin_step")
    if columns.SYSTEMIC_DEBTRANK not in ts or first is None:
        return None
    title = "Systemic DebtRank: exposure of the network to the run's origins"
    fig, (ax,) = new_figure(title, height=3.2)
    ax.step(run.days, ts[columns.SYSTEMIC_DEBTRANK], where="post", color="#1f618d",
            linewidth=1.4)
    mark_shocks(ax, run.shocks)
    before = max(0, int(first) - 1)
    ax.axvline(run.day(before), color="#7d3c98", linestyle=":", linewidth=1.2)
    label(ax, "DebtRank of the origins, at the losses they take, on the exposures of the day "
          "(sampled every 6 h)",
          TIME, "DebtRank (share of value)")
    draw_caption(fig, run.png_caption)
    caption = (f"{run.caption} The summary's debtrank "
               f"({run.summary.get('debtrank', 0.0):.3f}) is this line at the dotted mark, "
               f"day {run.day(before):.2f}: the end of the step before the first origin.")
    return ReportFigure("systemic_debtrank", title, caption, fig)


def treasury_figure(run: RunFolder) -> ReportFigure | None:
    """Treasury NAV (at reference prices and at liquidation value) and its drawdown."""
    ts = run.timeseries
    nav_column = columns.TREASURY_NAV if columns.TREASURY_NAV in ts else columns.TREASURY_USD
    if nav_column not in ts:
        return None
    policy = run.scenario.get("treasury", {}).get("policy", {}).get("kind", "static")
    title = f"Treasury NAV and drawdown ({policy} policy)"
    fig, (top, bottom) = new_figure(title, 2, 1, sharex=True)
    days = run.days
    nav = ts[nav_column].to_numpy()
    top.plot(days, nav, color="#1f618d", linewidth=1.5, label="NAV at reference prices")
    if columns.TREASURY_NAV_LIQ in ts:
        top.plot(days, ts[columns.TREASURY_NAV_LIQ], color="#a04000", linewidth=1.2,
                 label="NAV at liquidation value (after selling into the pools)")
    mark_shocks(top, run.shocks)
    usd_axis(top)
    label(top, "Net asset value", TIME, "NAV (USD)")
    legend_beside(top)
    drawdown = drawdowns(nav) * 100
    bottom.fill_between(days, drawdown, color="#a93226", alpha=0.35, label="drawdown")
    bottom.plot(days, drawdown, color="#a93226", linewidth=1.0)
    mark_shocks(bottom, run.shocks, named=False)
    label(bottom, "Drawdown from the running peak", TIME, "drawdown (%)")
    legend_beside(bottom)
    draw_caption(fig, run.png_caption)
    caption = (f"{run.caption} Maximum drawdown "
               f"{run.summary.get('treasury_nav_max_drawdown', float('nan')) * 100:.1f} %.")
    return ReportFigure("treasury", title, caption, fig)


def liquidation_curve_figure(run: RunFolder) -> ReportFigure | None:
    """Liquidations at risk (`liquidation_curve.parquet`, sim.liquidation_curve): per market,
    the debt liquidatable against an instant drop of each collateral asset's oracle price,
    from the book at the start (solid) and just before the first shock (dashed)."""
    path = run.path / "liquidation_curve.parquet"
    curves = read_parquet(path) if path.exists() else None
    if curves is None or curves.empty:
        return None
    markets = list(dict.fromkeys(curves["market"]))
    title = "Liquidations at risk: debt liquidatable if one asset's price drops at once"
    fig, axes = new_figure(title, len(markets), 1)
    palette = mpl.colormaps["tab10"]
    styles = {"start": "-", "pre_shock": "--"}
    for ax, market in zip(axes, markets, strict=True):
        rows = curves[curves["market"] == market]
        assets = list(dict.fromkeys(rows["asset"]))
        for (snapshot, step), snap in rows.groupby(["snapshot", "step"], sort=False):
            for k, asset in enumerate(assets):
                line = snap[snap["asset"] == asset].sort_values("drop")
                if line.empty:
                    continue
                ax.plot(line["drop"] * 100, line["debt_liquidatable_usd"],
                        color=palette(k % 10), linestyle=styles.get(snapshot, ":"),
                        marker="o", markersize=2.5, linewidth=1.4,
                        label=f"{asset}, {snapshot.replace('_', '-')} (day "
                              f"{run.day(int(step)):.1f})")
        usd_axis(ax)
        label(ax, f"market {market}", "instant drop of the asset's oracle price (%)",
              "debt liquidatable (USD)")
        legend_beside(ax)
    caption = (f"{run.caption} Health factor < 1 by the market's own rule at its oracle "
               "prices, one asset dropped, every other price unchanged; a position's whole "
               "debt counts, those already liquidatable included (the 0 % point). An asset "
               "that positions also borrow makes them healthier as it falls.")
    draw_caption(fig, run.caption)
    return ReportFigure("liquidation_curve", title, caption, fig)
