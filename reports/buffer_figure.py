"""The run report's figure of the treasury's loans: each market's health factor over time
(`treasury_hf:MARKET`), the collateral buffer's band (`policy.hf_floor`, `borrow_hf`,
`policy.hf_ceiling`, agents.treasury_buffer), the keeper's top-ups, repayments and
withdrawals at the HF they acted at, and liquidations of the treasury."""

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
    usd,
)
from sim import columns

#: health factors above this are drawn at it (a loan with tiny debt has HF ~ 1e6)
HF_CAP = 5.0
TIME = "time (days)"
#: event kind -> (legend label, marker, colour)
MARKERS = {
    event_kinds.COLLATERAL_TOPUP: ("collateral topped up", "^", "#1e8449"),
    event_kinds.DEBT_REPAID_FOR_BUFFER: ("debt repaid", "s", "#7d3c98"),
    event_kinds.COLLATERAL_WITHDRAWN_FOR_BUFFER: ("collateral withdrawn", "v", "#b9770e"),
    event_kinds.LIQUIDATION: ("liquidated", "x", "#c0392b"),
}


def buffer_figure(run: Any) -> ReportFigure | None:
    """One panel per market where the treasury ever owed something (`run`: a
    reports.run_report.RunFolder); None when it never borrowed."""
    ts = run.timeseries
    found = [c for c in columns.of_kind(ts.columns, columns.TREASURY_HF)
             if np.isfinite(ts[c.name].to_numpy(dtype=float)).any()]
    if not found:
        return None
    policy = run.scenario.get("treasury", {}).get("policy", {})
    band = {"floor": policy.get("hf_floor"), "target": policy.get("borrow_hf", 2.0),
            "ceiling": policy.get("hf_ceiling")}
    title = "Treasury health factor and its collateral buffer"
    fig, axes = new_figure(title, len(found), 1)
    acted = _acts(run)
    for ax, column in zip(axes, found, strict=True):
        hf = ts[column.name].to_numpy(dtype=float)
        ax.plot(run.days, np.where(np.isfinite(hf), np.minimum(hf, HF_CAP), np.nan),
                color="#1f618d", linewidth=1.4, label="health factor (end of step)")
        for name, style in (("ceiling", ":"), ("target", "--"), ("floor", ":")):
            if band[name] is not None:
                ax.axhline(band[name], color="#566573", linestyle=style, linewidth=1.0,
                           label=f"{name} {band[name]:g}")
        ax.axhline(1.0, color="#c0392b", linewidth=0.8, label="1: liquidatable")
        for kind, (text, marker, colour) in MARKERS.items():
            rows = [(d, h) for m, k, d, h, _ in acted if m == column.subject and k == kind]
            if rows:
                days, hfs = zip(*rows, strict=True)
                ax.scatter(days, np.minimum(hfs, HF_CAP), marker=marker, color=colour, s=36,
                           zorder=4, label=f"{text} (at the HF before)")
        ax.set_ylim(0.0, HF_CAP)
        ax.set_xlim(run.days[0], run.days[-1])  # a repaid or liquidated loan's HF is inf
        mark_shocks(ax, run.shocks)
        label(ax, f"Market {column.subject}", TIME, "health factor (oracle prices)")
        legend_beside(ax)
    draw_caption(fig, run.png_caption)
    totals = {k: sum(u for _, kind, _, _, u in acted if kind == k) for k in MARKERS}
    s = run.summary
    caption = (f"{run.caption} Lowest health factor {s.get('treasury_hf_min', float('nan')):.2f}"
               f"; topped up {usd(totals[event_kinds.COLLATERAL_TOPUP])}, repaid "
               f"{usd(totals[event_kinds.DEBT_REPAID_FOR_BUFFER])}, withdrawn "
               f"{usd(totals[event_kinds.COLLATERAL_WITHDRAWN_FOR_BUFFER])}, liquidated "
               f"{usd(totals[event_kinds.LIQUIDATION])} (USD). Health factors above "
               f"{HF_CAP:g} are drawn at {HF_CAP:g}.")
    return ReportFigure("treasury_health", title, caption, fig)


def _acts(run: Any) -> list[tuple[str, str, float, float, float]]:
    """(market, kind, day, HF before, USD) of the buffer's acts and the treasury's
    liquidations, from the event log."""
    events = run.events
    if events.empty or "kind" not in events:
        return []
    out = []
    for row in events[events["kind"].isin(list(MARKERS))].to_dict("records"):
        if row["kind"] == event_kinds.LIQUIDATION:
            if row.get("owner") != names.TREASURY:
                continue
            hf, value = row["health_factor"], row["collateral_seized_usd"]
        else:
            hf, value = row["hf_before"], row["usd"]
        out.append((row["market"], row["kind"], run.day(row["step"]), float(hf), float(value)))
    return out
