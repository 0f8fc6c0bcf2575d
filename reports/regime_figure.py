"""The run report's regime figure: what the treasury's forecasts saw (`agents.forecast`).

Top: each asset's filtered probability of the stress regime (`regime_prob:ASSET`), the
true regime of a `regime` market shaded (`market_regime`), the `regime` policy's threshold
and its switches (events `regime_switch`). Bottom: the GARCH(1,1) forecast of next step's
volatility (`vol_forecast:ASSET`) against the realized volatility of the 24 steps after it.
Only for runs that recorded the columns (a `regime` market or policy).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents import event_kinds
from reports.figures import ReportFigure, draw_caption, label, legend_beside, new_figure
from sim import columns

#: steps of the realized-volatility window drawn against the forecast
REALIZED_WINDOW = 24
STRESS_COLOR = "#f5b7b1"
TIME = "time (days)"


def regime_figure(run: Any) -> ReportFigure | None:
    """The figure (module doc) of a run folder (`reports.run_report.RunFolder`)."""
    ts = run.timeseries
    probs = columns.of_kind(ts.columns, columns.REGIME_PROB)
    if not probs:
        return None
    days = run.days
    truth = (ts[columns.MARKET_REGIME].to_numpy()
             if columns.MARKET_REGIME in ts else None)
    policy = run.scenario.get("treasury", {}).get("policy", {})
    title = "Regime filter and volatility forecast"
    fig, (top, bottom) = new_figure(title, 2, 1, sharex=True)
    notes = []
    if truth is not None:
        _shade(top, days, truth)
        _shade(bottom, days, truth)
    for col in probs:
        prob = ts[col.name].to_numpy(dtype=float)
        top.plot(days, prob, linewidth=1.2, label=f"P(stress) {col.subject}")
        if truth is not None:
            seen = np.isfinite(prob[1:])
            hits = (prob[1:][seen] > 0.5) == (truth[1:][seen] == 1)
            if hits.size:
                notes.append(f"{col.subject}: {hits.mean() * 100:.1f} % of steps classified "
                             "right by P(stress) > 0.5")
    if policy.get("kind") == "regime":
        threshold = policy.get("regime_threshold", 0.5)
        exit_ = policy.get("regime_exit") or threshold / 2
        top.axhline(threshold, color="#7b241c", linestyle="--", linewidth=0.9,
                    label=f"de-risk at {threshold:g}")
        top.axhline(exit_, color="#1e8449", linestyle=":", linewidth=0.9,
                    label=f"re-risk at {exit_:g}")
    switches = _switches(run)
    for step, state in switches:
        top.axvline(run.day(step), color="#7b241c" if state == "stress" else "#1e8449",
                    linewidth=0.8, alpha=0.7)
    if switches:
        notes.append(f"the policy switched {len(switches)} times (vertical lines: red "
                     "de-risk, green re-risk)")
    top.set_ylim(-0.02, 1.02)
    label(top, "Filtered probability of the stress regime (true stress shaded)", "",
          "probability")
    legend_beside(top)
    steps_per_year = 365.25 * 24.0 / run.scenario["step_hours"]
    for col in columns.of_kind(ts.columns, columns.VOL_FORECAST):
        forecast = ts[col.name].to_numpy(dtype=float) * 100
        line, = bottom.plot(days, forecast, linewidth=1.2, label=f"forecast {col.subject}")
        price = columns.price(col.subject)
        if price in ts:
            realized = _realized_ahead(ts[price].to_numpy(dtype=float), steps_per_year) * 100
            bottom.plot(days, realized, linewidth=0.9, linestyle="--", color=line.get_color(),
                        label=f"realized {col.subject}, next {REALIZED_WINDOW} steps")
    label(bottom, "Volatility: GARCH(1,1) forecast vs realized", TIME, "yearly vol (%)")
    legend_beside(bottom)
    draw_caption(fig, run.png_caption)
    caption = f"{run.caption} " + ("; ".join(notes) + "." if notes else "")
    return ReportFigure("regime", title, caption.strip(), fig)


def _shade(ax: Any, days: np.ndarray, truth: np.ndarray) -> None:
    """Shade the steps of the stress regime (row t: the step ending at day t)."""
    stress = truth == 1
    if stress.any():
        ax.fill_between(days, 0, 1, where=stress, step="pre", color=STRESS_COLOR, alpha=0.6,
                        transform=ax.get_xaxis_transform(), label="true stress regime")


def _switches(run: Any) -> list[tuple[int, str]]:
    events = run.events
    if events is None or events.empty or "kind" not in events:
        return []
    rows = events[events["kind"] == event_kinds.REGIME_SWITCH]
    return [(int(s), str(state)) for s, state in zip(rows["step"], rows["state"], strict=True)]


def _realized_ahead(price: np.ndarray, steps_per_year: float) -> np.ndarray:
    """At row t, the annualized standard deviation (about 0) of the log returns of steps
    t + 1 .. t + REALIZED_WINDOW: what the forecast made at t is about."""
    returns = np.diff(np.log(price))
    out = np.full(price.size, math.nan)
    for t in range(price.size - REALIZED_WINDOW):
        window = returns[t : t + REALIZED_WINDOW]
        out[t] = math.sqrt(float(np.mean(window * window)) * steps_per_year)
    return out
