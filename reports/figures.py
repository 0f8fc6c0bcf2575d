"""What every report figure shares: a titled matplotlib `Figure` with a caption, drawn
without pyplot (no global figure registry, so reports can be built inside long-running
processes and tests), in one house style.

Every figure has a title, axes with labels and units, a legend where it shows more than one
series, and a caption naming the scenario and its seed or run count: users paste these
into governance forum posts, where a figure travels without its page.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.provenance import daosim_version

#: seaborn's white-grid look at a size that reads well at forum width.
STYLE = {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=0.8)}
WIDTH = 9.0  # inches; at DPI this is 990 px
ROW_HEIGHT = 3.0
DPI = 110
SHOCK_COLOR = "#c0392b"
NEVER_COLOR = "#d5d8dc"
CAPTION_COLOR = "#566573"
#: shock tags closer than this share of the x axis are stacked in separate rows (a tag
#: is ~15 px wide; a full-width panel's axes are ~750 px)
SHOCK_TAG_GAP = 0.04
SHOCK_TAG_ROW = 0.09  # vertical distance between rows of shock tags, axes fraction
LEGEND_CHARS = 36  # a label beside the axes wraps at this many characters


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


def draw_caption(fig: Figure, text: str) -> None:
    """Draw `text` (what made the figure: scenario and seed, or sweep and run count) and the
    daosim version along the figure's bottom edge, so a PNG pasted on its own says where
    it came from. It takes the figure's supxlabel slot, which constrained layout makes room
    for, and wraps (matplotlib measures each word) at the figure's right edge."""
    made = f"daosim\u00a0{daosim_version()}"  # no break
    fig.supxlabel(f"{text.strip()}  [{made}]".strip(), x=0.01, ha="left", fontsize="small",
                  color=CAPTION_COLOR, wrap=True)


def text_colour(fill: object) -> str:
    """'white' on a dark fill, 'black' on a light one: whichever contrasts more with the
    fill's WCAG 2 relative luminance L (black wins when (L + 0.05) / 0.05 > 1.05 / (L +
    0.05), i.e. L > 0.179). https://www.w3.org/TR/WCAG21/#dfn-relative-luminance"""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in to_rgb(fill))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.179 else "white"


def label(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def legend_if_several(ax: Axes, **kwargs: object) -> None:
    """A legend only when the axes show more than one labelled series."""
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) > 1:
        ax.legend(fontsize="small", **kwargs)


def shock_groups(shocks: Sequence[tuple[float, str]]) -> list[tuple[float, str]]:
    """Shocks at the same time joined into one (x, "a + b"), in time order: tag k + 1 in
    the figures is the k-th of these."""
    at: dict[float, list[str]] = {}
    for x, text in shocks:
        at.setdefault(x, []).append(text)
    return [(x, " + ".join(at[x])) for x in sorted(at)]


def legend_beside(ax: Axes) -> None:
    """A legend (when the axes show more than one series) right of the plotting area, so it
    never covers the data or the shock tags; long labels wrap at LEGEND_CHARS to keep the
    plotting area wide."""
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) > 1:
        ax.legend(handles, [textwrap.fill(t, LEGEND_CHARS) for t in labels], fontsize="small",
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def mark_shocks(ax: Axes, shocks: Sequence[tuple[float, str]], *, named: bool = True) -> None:
    """Dashed red vertical lines at the shocks' times (x in the axes' units), each `named`
    by a numbered tag at its top (left out on the lower panels of a stack) that
    `shock_key` explains. Tags closer than SHOCK_TAG_GAP of the x span go in lower rows,
    so shocks a step apart never print over each other."""
    groups = shock_groups(shocks)
    for x, _ in groups:
        ax.axvline(x, color=SHOCK_COLOR, linestyle="--", linewidth=1.0, alpha=0.8)
    if not named or not groups:
        return
    low, high = ax.get_xlim()
    gap = SHOCK_TAG_GAP * abs(high - low)
    rows: list[float] = []  # the x of the last tag in each row
    for k, (x, _) in enumerate(groups):
        row = next((r for r, last in enumerate(rows) if x - last >= gap), len(rows))
        rows[row:row + 1] = [x]
        ax.text(x, 0.97 - row * SHOCK_TAG_ROW, str(k + 1), transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize="x-small", fontweight="bold",
                color=SHOCK_COLOR, gid="shock-tag", zorder=5,
                bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white",
                      "edgecolor": SHOCK_COLOR, "linewidth": 0.8})


def shock_key(shocks: Sequence[tuple[float, str]], unit: str = "day") -> str:
    """The key to `mark_shocks`' numbered tags, for the figure's caption."""
    groups = shock_groups(shocks)
    if not groups:
        return ""
    return "Shocks (dashed red lines): " + "; ".join(
        f"{k + 1} {text} ({unit} {x:.4g})" for k, (x, text) in enumerate(groups)) + "."


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
