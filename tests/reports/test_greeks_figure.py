"""The run report's Greeks figure: the treasury's delta, gamma and vega as shares of NAV,
with the hedge's swaps and vault withdrawal requests marked."""

from pathlib import Path

import numpy as np

from reports import run_report
from reports.greeks_figure import greeks_figure
from sim.outputs import write_run
from sim.runner import run_scenario
from sim.scenario import load_scenario

HEDGED = (Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
          / "covered_call_crash_hedged.toml")


def test_the_figure_shows_the_greeks_in_budget_units_and_the_hedge(tmp_path):
    config = load_scenario(HEDGED, {"steps": 30, "shocks": []})
    folder = write_run(tmp_path / "run", run_scenario(config), config)
    run = run_report.load_run(folder)
    figure = greeks_figure(run)
    top, middle, bottom = figure.figure.axes[:3]
    assert figure.name == "treasury_greeks"
    ts = run.timeseries
    delta = ts["treasury_delta:ETH"] * ts["price:ETH"] / ts["treasury_nav_usd"] * 100
    assert np.allclose(top.get_lines()[0].get_ydata(), delta)
    assert np.allclose(middle.get_lines()[0].get_ydata(), ts["treasury_gamma:ETH"].abs()
                       * ts["price:ETH"] ** 2 / ts["treasury_nav_usd"])
    labels = {line.get_label() for ax in (top, middle, bottom) for line in ax.get_lines()}
    assert {"target 10 % +- 2 %", "gamma budget 0.2 %", "vega budget 0.01 %",
            "vault withdrawal request"} <= labels
    assert "sells of ETH" in [c.get_label() for c in top.collections]
    run_report.run_report(folder)
    assert (folder / "figures" / "treasury_greeks.png").exists()
    # a run without Greek columns has no such figure
    bare = ts.drop(columns=[c for c in ts.columns if c.startswith("treasury_delta:")])
    assert greeks_figure(run_report.RunFolder(**{**vars(run), "timeseries": bare})) is None
