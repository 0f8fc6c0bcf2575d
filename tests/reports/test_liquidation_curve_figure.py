"""The run report's liquidations-at-risk figure, drawn from `liquidation_curve.parquet`."""

import numpy as np
import pandas as pd

from reports import run_report
from sim.outputs import write_run
from sim.runner import run_scenario
from sim.scenario import parse_scenario
from tests.sim.test_model import small_world


def test_the_figure_draws_each_assets_curve_at_both_snapshots_and_is_skipped_without_it(
    tmp_path,
):
    config = parse_scenario(small_world(
        shocks=[{"kind": "crash", "step": 10, "asset": "ETH", "size": 0.3}]))
    folder = write_run(tmp_path / "run", run_scenario(config), config)
    run = run_report.load_run(folder)
    figure = run_report.liquidation_curve_figure(run)
    (ax,) = figure.figure.axes
    assert figure.name == "liquidation_curve"
    assert ax.get_title() == "market aave" and ax.get_xlabel() and ax.get_ylabel()
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["ETH, start (day 0.0)", "ETH, pre-shock (day 0.4)"]
    curves = pd.read_parquet(folder / "liquidation_curve.parquet")
    start = curves[curves["snapshot"] == "start"]
    x, y = ax.get_lines()[0].get_data()
    assert np.allclose(x, start["drop"] * 100) and np.allclose(y, start["debt_liquidatable_usd"])
    assert "Scenario 'small', seed 3" in figure.caption
    (folder / "liquidation_curve.parquet").unlink()
    assert run_report.liquidation_curve_figure(run) is None
