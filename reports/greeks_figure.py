"""The treasury's option Greeks over time, with the hedge at work (run report figure).

Reads the `treasury_delta|gamma|vega:ASSET` columns (sim.columns) and shows them in the
units `delta_hedge` budgets them in (agents.policies.hedging), as shares of NAV: the delta
share (delta x S / NAV), the dollar gamma per 1 % move (|gamma| x S^2 / 100 / NAV) and the
vega (|vega| / NAV, per vol point). Marked on them: the treasury's policy swaps of the asset
(sells down, buys up), its vault withdrawal requests (`vault_queue`), and the budgets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from agents import event_kinds
from reports.figures import (
    ReportFigure,
    draw_caption,
    label,
    legend_beside,
    mark_shocks,
    new_figure,
)
from sim import columns

#: a `reports.run_report.RunFolder` (not imported: run_report imports this module)
RunFolder = Any

TIME = "time (days)"
PALETTE = ("#1f618d", "#a04000", "#117a65", "#7d3c98")


def greeks_figure(run: RunFolder) -> ReportFigure | None:
    """Delta, gamma and vega of the treasury per asset (None without Greek columns)."""
    ts = run.timeseries
    assets = [c.subject for c in columns.of_kind(ts.columns, columns.TREASURY_DELTA)]
    if not assets or columns.TREASURY_NAV not in ts:
        return None
    policy = run.scenario.get("treasury", {}).get("policy", {})
    title = f"Treasury Greeks as shares of NAV ({policy.get('kind', 'static')} policy)"
    fig, (top, middle, bottom) = new_figure(title, 3, 1, sharex=True)
    days = run.days
    with np.errstate(divide="ignore", invalid="ignore"):
        nav = ts[columns.TREASURY_NAV].to_numpy(dtype=float)
        for k, asset in enumerate(assets):
            colour = PALETTE[k % len(PALETTE)]
            price = ts[columns.price(asset)].to_numpy(dtype=float)
            series = {
                top: ts[columns.treasury_greek(columns.TREASURY_DELTA, asset)] * price / nav,
                middle: np.abs(ts[columns.treasury_greek(columns.TREASURY_GAMMA, asset)])
                * price**2 / 100.0 / nav,
                bottom: np.abs(ts[columns.treasury_greek(columns.TREASURY_VEGA, asset)]) / nav,
            }
            for ax, values in series.items():
                ax.plot(days, np.asarray(values, dtype=float) * 100, color=colour,
                        linewidth=1.3, label=asset)
            _mark_trades(run, top, asset, colour)
    if policy.get("kind") == "delta_hedge":
        target = policy.get("target_delta", 0.0) * 100
        top.axhline(target, color="#566573", linestyle="--", linewidth=0.9,
                    label=f"target {target:g} % +- {policy.get('delta_band', 0.05) * 100:g} %")
    for ax, key in ((middle, "gamma_budget"), (bottom, "vega_budget")):
        if policy.get(key) is not None:
            ax.axhline(policy[key] * 100, color="#a93226", linestyle="--", linewidth=0.9,
                       label=f"{key.replace('_', ' ')} {policy[key] * 100:g} %")
    _mark_withdrawals(run, (top, middle, bottom))
    label(top, "Delta: value change for a move of the asset, share of NAV", TIME, "delta (%)")
    label(middle, "Dollar gamma: delta-share change per 1 % move", TIME, "|gamma| (% of NAV)")
    label(bottom, "Vega: value change per vol point", TIME, "|vega| (% of NAV)")
    for i, ax in enumerate((top, middle, bottom)):
        mark_shocks(ax, run.shocks, named=i == 0)
        legend_beside(ax)
    draw_caption(fig, run.png_caption)
    caption = (f"{run.caption} Delta counts spot, vault shares through the vault's "
               "Black-Scholes book delta, collateral and debt; gamma and vega come from the "
               "vault shares (the treasury's share of the vault's short options). Triangles: "
               "the policy's swaps of the asset (down: sells, up: buys); dotted lines: vault "
               "withdrawal requests, paid at the epoch's roll.")
    return ReportFigure("treasury_greeks", title, caption, fig)


def _mark_trades(run: RunFolder, ax: Axes, asset: str, colour: str) -> None:
    events = run.events
    if events.empty or not {"reason", "sell", "buy"} <= set(events.columns):
        return
    swaps = events[(events["kind"] == event_kinds.REBALANCE) & (events["reason"] == "policy")]
    for side, marker, name in (("sell", "v", "sells"), ("buy", "^", "buys")):
        steps = swaps.loc[swaps[side] == asset, "step"].to_numpy(dtype=float)
        if steps.size:
            y = np.interp(steps, run.timeseries["step"].to_numpy(dtype=float),
                          ax.lines[-1].get_ydata())  # the asset's delta line just drawn
            ax.scatter([run.day(s) for s in steps], y, marker=marker, s=22, color=colour,
                       edgecolor="black", linewidth=0.4, zorder=3, label=f"{name} of {asset}")


def _mark_withdrawals(run: RunFolder, axes: tuple[Axes, ...]) -> None:
    events = run.events
    if events.empty or "reason" not in events.columns:
        return
    queued = events[(events["kind"] == event_kinds.ALLOCATOR_FAILED)
                    & (events["reason"] == "vault_queue")]
    for i, step in enumerate(queued["step"].to_numpy(dtype=float)):
        for ax in axes:
            ax.axvline(run.day(step), color="#7d3c98", linestyle=":", linewidth=1.0,
                       label="vault withdrawal request" if i == 0 else None)
