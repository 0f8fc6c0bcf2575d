"""What every report figure shares: a titled matplotlib `Figure` with a caption, drawn
without pyplot (no global figure registry, so reports can be built inside long-running
processes and tests), in one house style.

Every figure has a title, axes with labels and units, a legend where it shows more than one
series, and a caption naming the scenario and its seed or run count: users paste these
into governance forum posts, where a figure travels without its page.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

#: seaborn's white-grid look at a size that reads well at forum width.
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.8)}
WIDTH = 9.0  # inches; at DPI this is 990 px
ROW_HEIGHT = 3.0
DPI = 110
SHOCK_COLOR = "#c0392b"
NEVER_COLOR = "#d5d8dc"


@dataclass(frozen=True)
class ReportFigure:
    name: str  # file stem and HTML anchor
    title: str
    caption: str
    figure: Figure

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()


@contextmanager
def house_style() -> Iterator[None]:
    """Apply the house style while figures are created and rendered."""
    with mpl.rc_context(STYLE):
        yield


def new_figure(title: str, rows: int = 1, cols: int = 1, *, sharex: bool = False,
               height: float = ROW_HEIGHT) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure with `rows` x `cols` axes and a bold title."""
    figure = Figure(figsize=(WIDTH, height * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, cols, sharex=sharex, squeeze=False)
    figure.suptitle(title, fontweight="bold")
    return figure, list(np.ravel(axes))


def label(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def legend_if_several(ax: Axes, **kwargs: object) -> None:
    """A legend only when the axes show more than one labelled series."""
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) > 1:
        ax.legend(fontsize="small", **kwargs)


def mark_shocks(ax: Axes, shocks: Sequence[tuple[float, str]], *, named: bool = True) -> None:
    """Dashed red vertical lines at the shocks' times (x in the axes' units), each `named`
    by a small label along its top (left out on the lower panels of a stack)."""
    at: dict[float, list[str]] = {}
    for x, text in shocks:  # shocks at the same time share one line and one label
        at.setdefault(x, []).append(text)
    for x, texts in at.items():
        ax.axvline(x, color=SHOCK_COLOR, linestyle="--", linewidth=1.0, alpha=0.8)
        if named:
            ax.text(x, 0.98, f" {' + '.join(texts)}", transform=ax.get_xaxis_transform(),
                    rotation=90, va="top", ha="right", fontsize="x-small", color=SHOCK_COLOR)


def usd_axis(ax: Axes, axis: str = "y") -> None:
    """Tick labels as $12.3M / $450k instead of matplotlib's 1e7 offset."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _: usd(v)))


def usd(value: float) -> str:
    """-1234567 -> "-$1.23M": three significant digits and a k/M/B suffix."""
    return ("-" if value < 0 else "") + "$" + compact(abs(value))


def compact(value: float) -> str:
    """4000000.0 -> 4M, 0.65 -> 0.65: three significant digits that fit a tick label."""
    size = abs(value)
    for bound, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= bound:
            return f"{value / bound:.3g}{suffix}"
    return f"{value:.3g}"


def boxes(ax: Axes, groups: Sequence[np.ndarray], labels: Sequence[str],
          colours: Sequence[str]) -> None:
    """One box per group (quartiles, 1.5 IQR whiskers) with its runs as jittered dots.
    matplotlib's own boxplot: seaborn 0.13's passes an argument matplotlib 3.11 deprecates."""
    at = np.arange(1, len(groups) + 1)
    parts = ax.boxplot([np.asarray(g, dtype=float) for g in groups], positions=at,
                       widths=0.6, patch_artist=True, showfliers=False,
                       medianprops={"color": "black"})
    for patch, colour in zip(parts["boxes"], colours, strict=True):
        patch.set(facecolor=colour, alpha=0.55)
    jitter = np.random.default_rng(0)  # fixed: the same data give the same picture
    for x, g in zip(at, groups, strict=True):
        ax.scatter(x + jitter.uniform(-0.12, 0.12, len(g)), g, s=5, color="black", alpha=0.5)
    ax.set_xticks(at, labels)


def hide_unused(axes: Sequence[Axes], used: int) -> None:
    for ax in axes[used:]:
        ax.set_visible(False)
