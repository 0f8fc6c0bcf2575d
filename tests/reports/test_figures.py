"""Figures people can paste: every PNG names what made it, graph labels contrast with
their node, shock tags never print over each other or the legend, a sampled sweep is a
scatter (a grid one a heat map), and wide tables scroll inside their own box."""

import re
from dataclasses import replace

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection, QuadMesh

import daosim
from cli.main import main
from experiments.compare import MIN_PAIRS, compare
from experiments.sweep import run_sweep
from experiments.sweepfile import load_sweep
from reports import compare_report, run_report, sweep_report
from reports.figures import (
    NEVER_COLOR,
    draw_caption,
    house_style,
    legend_beside,
    mark_shocks,
    new_figure,
    shock_key,
    text_colour,
)
from reports.html import Table, _table
from tests.experiments.conftest import AMM, SHORT_BASELINE

SWEEP = f"""
name = "{{name}}"
base = "{AMM}"
design = "{{design}}"
replicates = 1
seed = 5
{{samples}}
[overrides]
steps = 24
shocks = [{{{{ kind = "crash", step = 10, asset = "ETH", size = 0.2 }}}}]

[axes]
"assets[ETH].sigma" = {{sigma}}
"protocols[univ2-ETH-USDC].fee" = {{fee}}
"""


def rendered(fig):
    """The figure laid out and drawn by Agg; its renderer, for window extents."""
    canvas = FigureCanvasAgg(fig)
    with house_style():
        canvas.draw()
    return canvas.get_renderer()


def caption_text(fig) -> str:
    return fig.get_supxlabel()


# -- the caption --------------------------------------------------------------------------

def test_caption_names_the_source_and_the_version_below_the_axes():
    fig, (ax,) = new_figure("t")
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x")
    long = "Scenario 'baseline', seed 42, 720 steps of 1 h. " + "word " * 40
    draw_caption(fig, long + "\nShocks (dashed red lines): 1 crash ETH (day 10).")
    text = caption_text(fig)
    assert text in [t.get_text() for t in fig.texts]  # drawn on the figure itself
    assert text.startswith("Scenario 'baseline', seed 42, 720 steps of 1 h.")
    assert text.endswith(f"[daosim\u00a0{daosim.__version__}]")
    assert "Shocks (dashed red lines): 1 crash ETH (day 10)." in text
    renderer = rendered(fig)
    label = fig.texts[-1]
    assert label.get_text() == text
    # the 250-character first line is wider than the 9-inch figure: it wraps once
    assert len(label._get_wrapped_text().splitlines()) == 3
    box = label.get_window_extent(renderer)
    axes_box = ax.get_tightbbox(renderer)  # with its tick labels and x label
    assert box.y1 <= axes_box.y0  # constrained layout made room below the axes
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1 and box.y0 >= 0  # inside the PNG


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    scenario = folder / "short.toml"
    scenario.write_text(SHORT_BASELINE)
    assert main(["run", str(scenario), "--out", str(folder / "out"), "--no-report"]) == 0
    return run_report.load_run(folder / "out")


def test_every_run_figure_carries_the_scenario_and_seed(run):
    stamp = f"Scenario 'baseline', seed {run.summary['seed']}, 72 steps of 1 h."
    for make in (run_report.price_figure, run_report.health_figure,
                 run_report.liquidation_figure, run_report.graph_figure,
                 run_report.systemic_figure, run_report.treasury_figure,
                 run_report.liquidation_curve_figure):
        figure = make(run)
        assert caption_text(figure.figure).startswith(stamp), figure.name
    # the time series explain their numbered shock tags: the short baseline's crash and gas
    # spike share step 24 (day 1), the exploit is at step 48 (day 2)
    key = ("Shocks (dashed red lines): 1 crash ETH + gas_spike (day 1); "
           "2 exploit univ2-GOV-ETH (day 2).")
    assert run.png_caption == f"{run.caption}\n{key}"
    assert key in caption_text(run_report.price_figure(run).figure)


# -- graph labels ---------------------------------------------------------------------------

@pytest.mark.parametrize(("fill", "ink"), [
    ("#000000", "white"), ("#ffffff", "black"), (NEVER_COLOR, "black"),
    (mpl.colormaps["viridis"](0.0), "white"),  # dark purple: luminance 0.012
    (mpl.colormaps["viridis"](1.0), "black"),  # yellow: luminance 0.83
    ("#c0392b", "white"),  # the shock red: luminance 0.13 < 0.179
    ("#808080", "black"),  # mid grey: luminance 0.216 > 0.179
])
def test_label_colour_follows_the_fill_luminance(fill, ink):
    assert text_colour(fill) == ink


def test_graph_labels_are_white_on_dark_nodes_and_black_on_light(run):
    figure = run_report.graph_figure(run).figure
    graph = run.graph
    labels = {t.get_text().replace(":\n", ":"): t.get_color() for t in figure.axes[0].texts}
    assert set(labels) == set(graph)
    hit = [n for n in graph if graph.nodes[n].get("distress_step", -1) >= 0]
    never = [n for n in graph if n not in hit]
    assert hit and never
    assert all(labels[n] == "black" for n in never)  # on the light grey NEVER_COLOR
    # the earliest distressed node sits at viridis' dark end
    first = min(hit, key=lambda n: graph.nodes[n]["distress_step"])
    assert labels[first] == "white"


# -- shock tags -----------------------------------------------------------------------------

def test_shock_tags_a_step_apart_stack_and_never_overlap_each_other_or_the_legend():
    fig, (ax,) = new_figure("t")
    days = np.arange(0, 30, 1 / 24)
    ax.plot(days, np.sin(days), label="a series with a long name")
    ax.plot(days, np.cos(days), label="another")
    shocks = [(10.0, "crash ETH"), (10.0 + 1 / 24, "exploit pool"), (10.0, "gas_spike"),
              (20.0, "depeg USDC")]
    mark_shocks(ax, shocks)
    legend_beside(ax)
    tags = [t for t in ax.texts if t.get_gid() == "shock-tag"]
    assert [t.get_text() for t in tags] == ["1", "2", "3"]  # day 10 shared, then 10.04, 20
    assert [t.get_position()[1] for t in tags] == pytest.approx([0.97, 0.88, 0.97])
    renderer = rendered(fig)
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in tags]
    assert not boxes[0].overlaps(boxes[1])
    legend = ax.get_legend().get_window_extent(renderer)
    plot_area = ax.get_window_extent(renderer)
    assert legend.x0 >= plot_area.x1  # beside the plotting area, not on it
    assert not any(legend.overlaps(b) for b in boxes)
    assert shock_key(shocks) == ("Shocks (dashed red lines): 1 crash ETH + gas_spike (day 10);"
                                 " 2 exploit pool (day 10.04); 3 depeg USDC (day 20).")


def test_lower_panels_draw_the_lines_without_tags():
    fig, (ax,) = new_figure("t")
    ax.plot([0, 30], [0, 1])
    mark_shocks(ax, [(10.0, "crash ETH")], named=False)
    assert len(ax.texts) == 0 and len(ax.lines) == 2


# -- sweeps by design -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweeps")
    designs = {
        "lhs": dict(design="lhs", samples="samples = 8", sigma="{ low = 0.4, high = 1.2 }",
                    fee="{ low = 0.001, high = 0.01 }"),
        "grid": dict(design="grid", samples="", sigma="[0.5, 1.0]", fee="[0.003, 0.01]"),
    }
    out = {}
    for name, fields in designs.items():
        file = folder / f"{name}.toml"
        file.write_text(SWEEP.format(name=name, **fields))
        run_sweep(load_sweep(file), folder / name, progress=False)
        out[name] = sweep_report.load_sweep(folder / name)
    return out


def test_a_latin_hypercube_sweep_is_drawn_as_a_scatter_of_its_points(sweeps):
    sweep = sweeps["lhs"]
    assert sweep.design == "lhs"
    figure = sweep_report.heatmap_figure(sweep)
    assert figure.name == "scatter"
    ax = figure.figure.axes[0]
    assert not [c for c in ax.collections if isinstance(c, QuadMesh)]
    (dots,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    x, y = sweep.params
    points = sweep.runs.groupby("point")[[x, y, sweep.metrics[0]]].mean()
    assert len(points) == 8
    assert np.allclose(dots.get_offsets(), points[[x, y]].to_numpy())
    assert np.allclose(dots.get_array(), points[sweep.metrics[0]].to_numpy())
    assert "Sweep 'lhs', lhs design: 8 runs" in caption_text(figure.figure)


def test_a_grid_sweep_keeps_its_heat_map(sweeps):
    sweep = sweeps["grid"]
    figure = sweep_report.heatmap_figure(sweep)
    assert figure.name == "heatmap"
    ax = figure.figure.axes[0]
    assert [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert not [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(ax.texts) == 4  # one annotated cell per grid point
    assert "Sweep 'grid', grid design: 4 runs" in caption_text(figure.figure)


def test_a_sweep_without_a_recorded_design_is_told_by_its_points(sweeps):
    # a grid's points are every combination of its axes' values (2 x 2 = 4 points); the
    # Latin hypercube's 8 points take 8 values on each axis, not 64 combinations
    for name in ("lhs", "grid"):
        sweep = sweeps[name]
        bare = sweep_report.SweepFolder(sweep.path, {}, sweep.runs, sweep.points, None,
                                        sweep.params)
        assert bare.design == name


# -- tables ---------------------------------------------------------------------------------

def test_parameter_paths_shorten_to_their_unique_tails():
    assert sweep_report.abbreviations([
        "treasury.holdings.GOV", "protocols[aave].reserves.GOV.liquidation_threshold",
        "shocks[2].fraction", "protocols[univ2-ETH-USDC].fee", "assets[ETH].sigma"]) == {
        "treasury.holdings.GOV": "holdings.GOV",
        "protocols[aave].reserves.GOV.liquidation_threshold": "GOV.liquidation_threshold",
        "shocks[2].fraction": "shocks[2].fraction",  # an index names nothing alone
        "protocols[univ2-ETH-USDC].fee": "univ2-ETH-USDC.fee",
        "assets[ETH].sigma": "ETH.sigma"}
    # two markets' GOV thresholds differ only in the market: both keep it
    both = ["protocols[aave].reserves.GOV.liquidation_threshold",
            "protocols[comp].reserves.GOV.liquidation_threshold"]
    assert sweep_report.abbreviations(both) == {
        both[0]: "aave.reserves.GOV.liquidation_threshold",
        both[1]: "comp.reserves.GOV.liquidation_threshold"}


def test_the_sweep_table_wraps_its_headers_and_scrolls_in_its_own_box(sweeps):
    sweep = sweeps["grid"]
    page = sweep_report.sweep_report(sweep.path).read_text()
    assert re.search(r"\.table-wrap \{ max-width: 100%; overflow-x: auto;", page)
    table = re.search(r"<h2>Summary: per-point means</h2>(.*?)</div>", page, re.S).group(1)
    assert "<div class='table-wrap'><table>" in table
    headers = re.findall(r"<th>(.*?)</th>", table)
    # the parameters by their short names (the note spells them out), then the metrics
    assert headers[:5] == ["point", "ETH.sigma", "univ2-ETH-USDC.<wbr>fee", "runs",
                           "failed"]
    assert ("parameters: ETH.sigma = assets[ETH].sigma; univ2-ETH-USDC.fee = "
            "protocols[univ2-ETH-USDC].fee") in table
    # a long metric name may break after its underscores, a short one stays whole
    assert "protocols_<wbr>distressed_<wbr>share" in headers
    assert "runs" in headers


def test_every_table_of_every_report_is_boxed():
    html = _table(Table("h", pd.DataFrame({"a_long_column_name": [1], "short_name": [2]})))
    assert html.startswith("<h2>h</h2><div class='table-wrap'><table>")
    assert "<th>a_<wbr>long_<wbr>column_<wbr>name</th><th>short_name</th>" in html
    assert html.endswith("</table></div>")


def test_compare_figures_carry_the_run_count(tmp_path):
    proposal = tmp_path / "vol.toml"
    proposal.write_text('name = "vol"\n[overrides]\n"assets[ETH].sigma" = 1.5\n')
    compare(AMM, proposal, MIN_PAIRS, tmp_path / "out", progress=False, resamples=200)
    cmp = compare_report.load_compare(tmp_path / "out")
    # the amm world's metrics barely move: a hand-made row gives the forest plot a point
    table = pd.DataFrame({"metric": ["bad_debt_usd"], "baseline_mean": [100.0],
                          "proposal_mean": [90.0], "diff_mean": [-10.0], "ci_low": [-15.0],
                          "ci_high": [-5.0], "verdict": ["bad_debt_usd: better"],
                          "pairs": [MIN_PAIRS]})
    drawn = [compare_report.difference_figure(replace(cmp, table=table)),
             compare_report.distribution_figure(cmp), compare_report.treasury_figure(cmp)]
    assert [f.name for f in drawn] == ["differences", "arm_distributions", "treasury"]
    for figure in drawn:
        assert caption_text(figure.figure).startswith(
            f"Proposal 'vol' against baseline 'amm_arbitrage': {MIN_PAIRS} paired runs"), \
            figure.name
