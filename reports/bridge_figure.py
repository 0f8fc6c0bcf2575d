"""The bridge at work in a run's report: per bridge, its backing ratio and the wrapped
asset's price (off-chain and in each pool trading it) against the canonical's; the lending
markets listing the wrapped asset - liquidations of it as collateral and the bad debt
written off; the pools trading it - their value at off-chain prices, which is what their
LPs lose (`sim.columns`: `backing:`, `price:`, `pool_price:`, `bad_debt_usd:`,
`pool_tvl_usd:`)."""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import numpy as np

from agents import event_kinds
from reports.figures import (
    ReportFigure,
    draw_caption,
    label,
    legend_beside,
    mark_shocks,
    new_figure,
    usd,
    usd_axis,
)
from sim import columns


def bridge_figure(run: Any) -> ReportFigure | None:
    """None when the scenario has no bridge. `run` is a `reports.run_report.RunFolder`."""
    protocols = run.scenario.get("protocols", [])
    bridges = [p for p in protocols if p["kind"] == "bridge"]
    ts = run.timeseries
    if not bridges or columns.backing(bridges[0]["name"]) not in ts.columns:
        return None
    wrapped = {b["wrapped"]: b for b in bridges}
    markets = [p["name"] for p in protocols
               if p["kind"] == "aave" and wrapped.keys() & set(p["reserves"])]
    pools = [p for p in protocols if columns.pool_tvl_usd(p["name"]) in ts.columns]
    title = "Bridge backing, the wrapped asset's price, and where the loss went"
    fig, (top, mid, low, bottom) = new_figure(title, 4, 1, sharex=True)
    days, palette = run.days, mpl.colormaps["tab10"]
    for k, b in enumerate(bridges):
        top.plot(days, ts[columns.backing(b["name"])], color=palette(k % 10), linewidth=1.6,
                 label=f"{b['name']}: locked {b['canonical']} / {b['wrapped']} outstanding")
    top.set_ylim(bottom=0.0)
    mark_shocks(top, run.shocks)
    label(top, "Backing ratio", "", "ratio")
    legend_beside(top)

    for k, (symbol, b) in enumerate(wrapped.items()):
        mid.plot(days, ts[columns.price(b["canonical"])], color=palette(k % 10),
                 linestyle=":", linewidth=1.3, label=f"{b['canonical']} (canonical)")
        mid.plot(days, ts[columns.price(symbol)], color=palette(k % 10), linewidth=1.8,
                 label=f"{symbol} off-chain")
    for j, p in enumerate(pools):
        column = columns.pool_price(p["name"])
        if p["tokens"][0] in wrapped and column in ts.columns:
            mid.plot(days, ts[column], color=palette((len(wrapped) + j) % 10), linewidth=1.0,
                     linestyle="--", label=f"{p['tokens'][0]} in pool {p['name']}")
    for j, market in enumerate(markets):
        for symbol in wrapped:
            column = columns.oracle(market, symbol)
            if column in ts.columns:
                mid.plot(days, ts[column], color=palette((len(wrapped) + len(pools) + j) % 10),
                         linewidth=1.0, linestyle="-.", label=f"{symbol} feed of {market}")
    mark_shocks(mid, run.shocks, named=False)
    usd_axis(mid)
    label(mid, "Wrapped asset's price: backing x canonical", "", "USD")
    legend_beside(mid)

    seized = _wrapped_liquidations(run, set(wrapped))
    for k, market in enumerate(markets):
        colour = palette(k % 10)
        bad = columns.bad_debt_usd(market)
        if bad in ts.columns:
            low.plot(days, ts[bad], color=colour, linewidth=1.6, label=f"{market}: bad debt")
        sold = seized.get(market)
        if sold is not None:
            low.plot(days, sold, color=colour, linestyle="--", linewidth=1.3,
                     label=f"{market}: wrapped collateral seized (cumulative)")
    mark_shocks(low, run.shocks, named=False)
    usd_axis(low)
    label(low, "Lending markets listing the wrapped asset", "", "USD")
    legend_beside(low)

    for k, p in enumerate(pools):
        bottom.plot(days, ts[columns.pool_tvl_usd(p["name"])], color=palette(k % 10),
                    linewidth=1.6, label=f"{p['name']} ({'/'.join(p['tokens'])})")
    mark_shocks(bottom, run.shocks, named=False)
    usd_axis(bottom)
    label(bottom, "Pools trading the wrapped asset: value at off-chain prices (their LPs')",
          "time (days)", "USD")
    legend_beside(bottom)
    draw_caption(fig, run.png_caption)
    return ReportFigure("bridge", title, _caption(run, bridges, markets, pools, seized), fig)


def _wrapped_liquidations(run: Any, wrapped: set[str]) -> dict[str, np.ndarray]:
    """Market -> cumulative USD of wrapped collateral seized by liquidations, per step."""
    ev = run.events
    if ev.empty or "collateral_asset" not in ev.columns:
        return {}
    rows = ev[(ev["kind"] == event_kinds.LIQUIDATION) & ev["collateral_asset"].isin(wrapped)]
    steps = run.timeseries["step"].to_numpy()
    out = {}
    for market, group in rows.groupby("market", sort=True):
        per_step = group.groupby("step")["collateral_seized_usd"].sum()
        out[str(market)] = np.cumsum(per_step.reindex(steps, fill_value=0.0).to_numpy())
    return out


def _caption(run: Any, bridges: list[dict], markets: list[str], pools: list[dict],
             seized: dict[str, np.ndarray]) -> str:
    ts = run.timeseries
    parts = [run.caption]
    for b in bridges:
        backing = ts[columns.backing(b["name"])]
        price = ts[columns.price(b["wrapped"])]
        parts.append(
            f"{b['name']}: backing {backing.iloc[0]:.3f} at the start, {backing.min():.3f} at "
            f"its lowest; {b['wrapped']} from {usd(price.iloc[0])} to {usd(price.iloc[-1])} "
            f"(its fundamental is backing x {b['canonical']}'s price).")
    for market in markets:
        bad = ts[columns.bad_debt_usd(market)].iloc[-1] if columns.bad_debt_usd(
            market) in ts.columns else 0.0
        taken = seized[market][-1] if market in seized else 0.0
        parts.append(f"{market}: {usd(taken)} of wrapped collateral seized by liquidators, "
                     f"{usd(bad)} bad debt written off.")
    for p in pools:
        tvl = ts[columns.pool_tvl_usd(p["name"])]
        parts.append(f"Pool {p['name']}: worth {usd(tvl.iloc[0])} at the start, "
                     f"{usd(tvl.iloc[-1])} at the end.")
    return " ".join(parts)
