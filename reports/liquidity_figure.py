"""The run report's managed-liquidity figure: the pool price with the treasury's v3 range
around it (its re-centrings marked), and the impermanent loss of the treasury and of the
liquidity providers over time (`sim.ranges`, `agents.ranges`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents import event_kinds
from protocols import names
from reports.figures import (
    ReportFigure,
    draw_caption,
    label,
    legend_beside,
    mark_shocks,
    new_figure,
    usd_axis,
)
from sim import columns

TIME = "time (days)"
LPS = names.AGENT_GROUPS[names.LIQUIDITY_PROVIDER]


def liquidity_figure(run: Any) -> ReportFigure | None:
    """One price panel per v3 pool the treasury holds a range in, then the IL panel; None
    for a run where the treasury holds no v3 range and nothing was re-centred."""
    ts, events = run.timeseries, run.events
    pools = [c.subject for c in columns.of_kind(ts.columns, columns.RANGE_LOW)]
    recentres = (events[events["kind"] == event_kinds.RECENTRE]
                 if "kind" in events else events.iloc[0:0])
    if not pools and recentres.empty:
        return None
    title = "Managed concentrated liquidity: ranges, re-centrings and impermanent loss"
    fig, axes = new_figure(title, len(pools) + 1, 1, sharex=True)
    days = run.days
    for ax, pool in zip(axes, pools, strict=False):
        price = ts[columns.pool_price(pool)].to_numpy()
        low = ts[columns.range_low(pool)].to_numpy()
        high = ts[columns.range_high(pool)].to_numpy()
        ax.fill_between(days, low, high, step="post", color="#aed6f1", alpha=0.6,
                        label="treasury's range")
        ax.plot(days, price, color="#1f618d", linewidth=1.2, label="pool price")
        mine = recentres[(recentres["pool"] == pool) & (recentres["actor"] == names.TREASURY)]
        steps = mine["step"].to_numpy(dtype=int)
        ax.plot([run.day(s) for s in steps], price[np.searchsorted(ts["step"], steps)], "v",
                color="#a04000", markersize=7, label=f"treasury re-centred ({len(steps)})")
        others = recentres[(recentres["pool"] == pool) & (recentres["actor"] != names.TREASURY)]
        if not others.empty:
            lp_steps = others["step"].to_numpy(dtype=int)
            ax.plot([run.day(s) for s in lp_steps],
                    price[np.searchsorted(ts["step"], lp_steps)], "|", color="#7d3c98",
                    markersize=10, label=f"an LP re-centred ({len(lp_steps)})")
        mark_shocks(ax, run.shocks)
        usd_axis(ax)
        label(ax, f"pool {pool}: price of its first token and the treasury's range", TIME,
              "USD")
        legend_beside(ax)
    bottom = axes[-1]
    styles = {names.TREASURY: "#a04000", LPS: "#7d3c98"}
    for holder, colour in styles.items():
        if columns.il_usd(holder) in ts:
            bottom.plot(days, ts[columns.il_usd(holder)], color=colour, linewidth=1.4,
                        label=f"{holder.replace('_', ' ')}, fees included")
            bottom.plot(days, ts[columns.il_ex_fees_usd(holder)], color=colour, linewidth=1.0,
                        linestyle="--", label=f"{holder.replace('_', ' ')}, fees excluded")
    bottom.axhline(0.0, color="#566573", linewidth=0.8)
    mark_shocks(bottom, run.shocks, named=False)
    usd_axis(bottom)
    label(bottom, "Impermanent loss: value of the v3 positions minus holding what was put in",
          TIME, "USD (< 0: a loss)")
    legend_beside(bottom)
    draw_caption(fig, run.png_caption)
    s = run.summary
    caption = (f"{run.caption} {len(recentres)} re-centrings cost "
               f"${s.get('recentre_cost_usd', 0.0):,.0f} in swap fees, price impact and gas. "
               f"Impermanent loss at the end: treasury ${s.get('treasury_il_usd', 0.0):,.0f} "
               f"(${s.get('treasury_il_ex_fees_usd', 0.0):,.0f} without fees), liquidity "
               f"providers ${s.get('lp_il_usd', 0.0):,.0f} "
               f"(${s.get('lp_il_ex_fees_usd', 0.0):,.0f}). A re-centred position keeps "
               "the basis of the one it replaced, so its costs count as loss.")
    return ReportFigure("liquidity", title, caption, fig)
