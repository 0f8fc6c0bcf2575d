"""The sweep report's frontier figure, drawn from `recommendation.json` (`daosim recommend`):
every point's risk quantile against its objective, the Pareto frontier, the budget and the
recommended point."""

from __future__ import annotations

from pathlib import Path

from reports.figures import (
    ReportFigure,
    draw_caption,
    label,
    legend_if_several,
    new_figure,
    usd_axis,
)
from reports.inputs import read_json
from sim import metrics


def frontier_figure(folder: Path, caption: str, png_caption: str) -> ReportFigure | None:
    """Risk quantile (x) vs mean objective (y) of every sweep point; None without a
    `recommendation.json` in `folder`. `caption` opens the report's caption, `png_caption`
    is drawn into the PNG."""
    path = folder / "recommendation.json"
    if not path.exists():
        return None
    rec = read_json(path)
    points = rec["points"]
    q = f"p{rec['quantile'] * 100:g}"
    title = f"Risk budget and frontier: {q} {rec['risk']} vs mean {rec['maximize']}"
    fig, (ax,) = new_figure(title)
    ax.scatter([p["risk_q"] for p in points], [p["objective_mean"] for p in points],
               s=18, color="#aab7b8", label="sweep points", zorder=2)
    front = sorted((p for p in points if p["frontier"]), key=lambda p: p["risk_q"])
    ax.plot([p["risk_q"] for p in front], [p["objective_mean"] for p in front], "-o",
            color="#2e86c1", markersize=4, label="Pareto frontier", zorder=3)
    for p in front:
        ax.annotate(f"{p['point']}", (p["risk_q"], p["objective_mean"]), fontsize=8,
                    xytext=(4, -10), textcoords="offset points")
    ax.axvline(rec["budget"], color="#c0392b", linestyle="--",
               label=f"budget {rec['budget']:,.6g}")
    pick = rec.get("pick")
    if pick is not None:
        ax.scatter([pick["risk_q"]], [pick["objective_mean"]], s=140, marker="*",
                   color="#f39c12", edgecolor="black", zorder=4,
                   label=f"recommended: point {pick['point']}")
    label(ax, "", f"{q} of {rec['risk']} over replicates (lower is safer)",
          f"mean {rec['maximize']}")
    for axis, metric in (("x", rec["risk"]), ("y", rec["maximize"])):
        if (found := metrics.lookup(metric)) is not None and found.unit == "USD":
            usd_axis(ax, axis)
    legend_if_several(ax, loc="best")
    draw_caption(fig, png_caption)
    chosen = (f"Point {pick['point']} is the feasible point with the highest mean "
              f"{rec['maximize']}" if pick is not None else
              f"No point's {q} is within the budget")
    params = ", ".join(f"{k} = {pick[k]}" for k in rec["params"]) if pick else ""
    return ReportFigure(
        "frontier", title,
        f"{caption} Each dot is a sweep point: x the {q} of {rec['risk']} over its "
        f"replicates, y the mean of {rec['maximize']}; frontier points are numbered. {chosen}"
        + (f" ({params})." if params else ".") + " From recommendation.json "
        "(daosim recommend).", fig)
