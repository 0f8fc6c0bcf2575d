"""The sweep and comparison explorer: heat map cells and scatter points are the points'
means, a point's runs (and a failed run's error) are listed, a run re-run alone reproduces its
stored row exactly, and the comparison's paired differences are the ones its table judged;
in a real browser, a click on a heat map cell lists that point's runs."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import pandas as pd
import pytest

import daosim
from daosim.api import open_comparison, open_run, open_sweep
from dashboard import sweep_data as data
from dashboard.app import Dashboard
from dashboard.sweep_compare import CompareExplorer
from dashboard.sweep_rerun import rerun_scenario
from dashboard.sweep_view import SweepExplorer, view
from experiments.store import ID_COLUMNS, WALL_CLOCK_COLUMNS
from experiments.worker import flatten
from protocols.errors import ConfigError
from sim import provenance
from tests.experiments.conftest import AMM, BASELINE, SHORT_BASELINE

ROOT = Path(__file__).resolve().parents[2]
GOV = "treasury.holdings.GOV"
LT = "protocols[aave].reserves.GOV.liquidation_threshold"
#: the smoke sweep, smaller: 72 baseline steps, 2 x 2 points x 2 replicates (~3 s)
GRID = f"""
name = "grid"
base = "{BASELINE}"
replicates = 2
seed = 2026
[overrides]
steps = 72
"shocks[0].step" = 24
"shocks[1].step" = 24
"shocks[2].step" = 48
[axes]
"{GOV}" = [4e6, 12e6]
"{LT}" = [0.6, 0.7]
"""
#: 3 LHS points of the 48-step amm world; with seed 0 point 0 draws 33 steps with its crash
#: at step 37, which no scenario may have, so its run fails inside the worker
LHS = f"""
name = "lhs"
base = "{AMM}"
design = "lhs"
samples = 3
seed = 0
[overrides]
steps = 48
shocks = [{{ kind = "crash", step = 20, asset = "ETH", size = 0.2 }}]
[axes]
steps = {{ low = 30, high = 50, integer = true }}
"shocks[0].step" = {{ low = 20, high = 40, integer = true }}
"""


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sweeps")
    made = {}
    for name, text in (("grid", GRID), ("lhs", LHS)):
        (root / f"{name}.toml").write_text(text)
        daosim.sweep(root / f"{name}.toml", out=root / name, progress=False)
        made[name] = root / name
    (root / "short.toml").write_text(SHORT_BASELINE)
    daosim.compare(root / "short.toml", ROOT / "experiments" / "proposals" / "gov_lt_50.toml",
                   runs=5, out=root / "compare", progress=False)
    made["compare"] = root / "compare"
    return made


@pytest.fixture
def board(tmp_path) -> Dashboard:
    return Dashboard(tmp_path / "out")


def test_heat_map_cells_are_the_points_means(folders, board):
    sweep = open_sweep(folders["grid"])
    explorer = SweepExplorer(sweep, board)
    assert explorer.metric.value == "bad_debt_usd"  # the headline metric
    assert (explorer.x.value, explorer.y.value) == (GOV, LT)
    points = sweep.points.set_index("point")
    source = explorer.source.data
    assert explorer.figure.x_range.factors == ["4e+06", "1.2e+07"]
    assert explorer.figure.y_range.factors == ["0.6", "0.7"]
    assert len(source["mean"]) == 4
    runs = sweep.runs
    for i, ids in enumerate(explorer.cells["points"]):
        (point,) = ids  # two parameters: every cell is one point
        assert source["mean"][i] == points.loc[point, "bad_debt_usd"]
        assert source["x_label"][i] == data.value_text(points.loc[point, GOV])
        # the point's mean is the mean over its runs in runs.parquet
        assert points.loc[point, "bad_debt_usd"] == pytest.approx(
            runs.loc[runs["point"] == point, "bad_debt_usd"].mean(), rel=1e-12)
    assert max(source["mean"]) > 0  # the stress does bite: the colours say something
    assert explorer.colours.high == max(source["mean"])
    assert [name for name, _ in explorer.hover.tooltips] == [
        GOV, LT, "bad_debt_usd", "runs", "failed", "points"]
    assert "averaged" not in explorer.note.object  # two parameters: nothing held or averaged
    explorer.metric.value = "liquidations"  # a new metric: new data, the same figure
    assert list(explorer.source.data["mean"]) == [
        points.loc[p[0], "liquidations"] for p in explorer.cells["points"]]
    explorer.source.selected.indices = [3]  # what a click on the last cell does
    listed = explorer.runs_table.value
    assert list(listed["point"]) == [explorer.cells["points"].iloc[3][0]] * 2
    assert list(listed["replicate"]) == [0, 1] and (listed["error"] == "").all()
    assert "Runs of point" in explorer.runs_title.object and not board.message.visible


def test_a_third_parameter_is_held_or_averaged_by_hand():
    points = pd.DataFrame({"point": range(8), "a": [1, 1, 1, 1, 2, 2, 2, 2],
                           "b": [10, 10, 20, 20] * 2, "c": [0.5, 0.9] * 4,
                           "m": [1.0, 3.0, 5.0, 7.0, 2.0, 4.0, float("nan"), 8.0],
                           "runs": [2] * 8, "failed": [0] * 6 + [2, 0]})
    held = data.grid_cells(points, "a", "b", "m", {"c": "0.9"}).set_index(["a", "b"])
    assert held.loc[(1, 20), "mean"] == 7.0 and held.loc[(1, 20), "points"] == [3]
    averaged = data.grid_cells(points, "a", "b", "m", {"c": data.AVERAGE}).set_index(
        ["a", "b"])
    assert averaged.loc[(1, 10), "mean"] == 2.0  # (1 + 3) / 2
    assert averaged.loc[(2, 20), "mean"] == 8.0  # point 6 failed every run: left out
    assert averaged.loc[(2, 20), "points"] == [6, 7]
    assert averaged.loc[(2, 20), "runs"] == 4 and averaged.loc[(2, 20), "failed"] == 2
    with pytest.raises(ConfigError, match="no point of the sweep"):
        data.grid_cells(points, "a", "b", "m", {"c": "0.7"})


def test_scatter_of_a_latin_hypercube_and_a_failed_runs_error(folders, board):
    sweep = open_sweep(folders["lhs"])
    explorer = SweepExplorer(sweep, board)
    assert not explorer.grid and explorer.others.objects == []
    source = explorer.source.data
    assert list(source["x"]) == list(sweep.points["steps"].astype(float))
    assert list(source["y"]) == list(sweep.points["shocks[0].step"].astype(float))
    assert list(sweep.points["steps"]) == [33, 41, 46]
    assert math.isnan(source["mean"][0]) and source["failed"][0] == 1  # drawn grey
    explorer.source.selected.indices = [0]
    listed = explorer.runs_table.value
    assert listed["error"].iloc[0].startswith("ConfigError")
    assert "shocks[0].step: must be <= steps (33)" in listed["error"].iloc[0]
    explorer.runs_table.selection = [0]
    assert explorer.run_error.visible and "p00000-r0000 failed" in explorer.run_error.object


def test_a_rerun_rebuilds_the_runs_scenario_and_reproduces_its_row(folders, board):
    sweep = open_sweep(folders["grid"])
    row = sweep.runs.iloc[5]
    scenario = rerun_scenario(sweep, row["run_key"])
    assert scenario.seed == row["seed"]
    assert provenance.scenario_sha256(scenario) == row["scenario_sha256"]
    opened: list[Path] = []

    def run_explorer(folder: Path) -> None:  # as on a branch without dashboard.run_view
        opened.append(folder)
        raise ImportError("No module named 'dashboard.run_view'")

    board.open_run = run_explorer
    explorer = SweepExplorer(sweep, board)
    explorer.show_runs([int(row["point"])])
    explorer.runs_table.selection = [int(row["replicate"])]
    job = explorer.start_rerun()
    deadline = time.monotonic() + 60
    while job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        board.guard(explorer.rerun.poll)()  # as the periodic callback calls it
    assert job.state == "done", job.error
    assert opened == [board.out / "reruns" / f"grid-{row['run_key']}"]
    assert board.message.visible and "run explorer is not available" in board.message.object
    summary = flatten(open_run(job.folder).summary)
    skip = {*ID_COLUMNS, *WALL_CLOCK_COLUMNS, "error", GOV, LT}
    compared = [c for c in sweep.runs.columns if c not in skip]
    assert len(compared) > 40
    for column in compared:  # the same scenario and seed: the same numbers, exactly
        assert summary[column] == row[column] or (
            pd.isna(summary[column]) and pd.isna(row[column])), column


def test_a_rerun_refuses_a_changed_or_missing_sweep_file(folders):
    sweep = open_sweep(folders["grid"])
    changed = dataclasses.replace(sweep, about={**sweep.about, "fingerprint": "0" * 64})
    with pytest.raises(ConfigError, match="changed since"):
        rerun_scenario(changed, "p00000-r0000")
    gone = dataclasses.replace(sweep, about={**sweep.about, "source": "/nowhere/grid.toml"})
    with pytest.raises(ConfigError, match="is not there any more"):
        rerun_scenario(gone, "p00000-r0000")
    with pytest.raises(ConfigError, match="no run 'p00009-r0000'"):
        rerun_scenario(sweep, "p00009-r0000")


def test_the_comparisons_paired_differences(folders, board):
    comparison = open_comparison(folders["compare"])
    explorer = CompareExplorer(comparison, board)
    assert explorer.metric.value == "bad_debt_usd"
    explorer.judged.selection = [list(explorer.judged.value["metric"]).index("liquidations")]
    assert explorer.metric.value == "liquidations"
    diffs = comparison.differences("liquidations")
    assert list(explorer.source.data["difference"]) == list(diffs.astype(float))
    assert len(diffs) == 5 and (diffs > 0).all()  # the lower threshold liquidates more
    row = comparison.table.set_index("metric").loc["liquidations"]
    assert explorer.mean.location == row["diff_mean"] == diffs.mean()
    assert explorer.band.visible and (explorer.band.left, explorer.band.right) == (
        row["ci_low"], row["ci_high"])
    assert explorer.verdict.object == row["verdict"]


def test_an_unfinished_sweep_is_refused_before_the_view(folders, tmp_path, board):
    half = tmp_path / "half"
    half.mkdir()
    for name in ("plan.json", "runs.parquet"):
        (half / name).write_bytes((folders["grid"] / name).read_bytes())
    with pytest.raises(ConfigError, match="the sweep has not finished"):
        view(half, board)


# -- in a real browser ----------------------------------------------------------------------
#: the page coordinates of a heat map cell's centre, from the figure's own scales
CELL_CENTRE = """([x, y]) => {
  const seen = new Set();
  let plot = null;
  const walk = (v) => {
    if (!v || seen.has(v) || plot) return;
    seen.add(v);
    if (v.frame && v.model.type === "Figure") { plot = v; return; }
    for (const name of ["child_views", "children_views"]) {
      let kids = null;
      try { kids = v[name]; } catch (e) { kids = null; }
      if (kids && typeof kids[Symbol.iterator] === "function") for (const k of kids) walk(k);
    }
  };
  for (const root of Object.values(Bokeh.index)) walk(root);
  const frame = plot.frame, box = plot.el.getBoundingClientRect();
  return [box.left + frame.x_scale.compute(frame.x_range.synthetic(x)),
          box.top + frame.y_scale.compute(frame.y_range.synthetic(y))];
}"""


def test_clicking_a_heat_map_cell_lists_its_runs_and_reruns_one(folders, serve, page, tmp_path):
    page.page.goto(serve(folders["grid"]))
    page.page.wait_for_selector(".daosim-sweep >> text=Heat map")
    page.page.wait_for_function("() => Object.keys(window.Bokeh?.index ?? {}).length > 0")
    x, y = page.page.evaluate(CELL_CENTRE, ["1.2e+07", "0.6"])
    page.page.mouse.click(x, y)
    page.page.wait_for_selector(".daosim-runs-title >> text=Runs of point 2")
    rows = page.page.locator(".daosim-runs .tabulator-row")
    rows.first.wait_for()
    assert rows.count() == 2
    assert "p00002-r0000" in rows.first.inner_text()
    page.shot("sweep-cell-clicked")
    rows.first.click()  # select the run, then run it again in a background process
    page.page.click(".daosim-rerun button")
    page.page.wait_for_selector(".daosim-rerun-status >> text=done")
    assert (tmp_path / "dashboard-out" / "reruns" / "grid-p00002-r0000" /
            "summary.json").exists()
    page.shot("sweep-run-rerun")


def test_clicking_a_judged_metric_shows_its_differences(folders, serve, page):
    page.page.goto(serve(folders["compare"]))
    page.page.wait_for_selector(".daosim-verdict >> text=bad_debt_usd")
    page.page.locator(".daosim-judged .tabulator-cell[tabulator-field=metric]").get_by_text(
        "liquidations", exact=True).click()
    # comparison.csv's verdict and interval of the metric clicked (5 pairs: 77.4 .. 90)
    page.page.wait_for_selector(".daosim-verdict >> text=liquidations: the proposal raises it")
    page.page.wait_for_selector(".daosim-diff-stats >> text=interval 77.4 .. 90")
    page.shot("comparison-liquidations")


def test_a_one_parameter_grid_is_one_row_of_cells(tmp_path, board):
    text = LHS.replace('design = "lhs"\nsamples = 3\n', "").split("[axes]")[0]
    (tmp_path / "one.toml").write_text(text + '[axes]\n"assets[ETH].sigma" = [0.5, 1.0]\n')
    sweep = daosim.sweep(tmp_path / "one.toml", out=tmp_path / "one", progress=False)
    explorer = SweepExplorer(sweep, board)
    assert explorer.y.value is None and explorer.figure.y_range.factors == ["all"]
    assert list(explorer.source.data["mean"]) == list(sweep.points[explorer.metric.value])
