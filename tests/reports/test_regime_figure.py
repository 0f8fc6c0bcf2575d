"""The shipped regime scenario end to end: the forecasts' columns, the true regime, the
policy's switches, and the report's regime figure; other runs' time series unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from cli.main import main
from reports import run_report
from reports.regime_figure import _realized_ahead, regime_figure
from sim import columns
from sim.paths import generate_paths
from sim.scenario import load_scenario
from sim.treasury import forecast_reporters

SCENARIO = "experiments/scenarios/regime_switching.toml"
STEPS = 240  # seed 12's first stress spell starts on day 6 (step 149)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("regime") / "out"
    assert main(["run", SCENARIO, "--out", str(out), "--set", f"steps={STEPS}",
                 "--no-report"]) == 0
    return run_report.load_run(out)


def test_columns_hold_the_true_regime_and_the_forecasts(run):
    ts = run.timeseries
    truth = generate_paths(load_scenario(SCENARIO, {"steps": STEPS})).regime
    assert ts[columns.MARKET_REGIME].tolist() == truth.tolist()
    for asset in ("ETH", "GOV"):
        prob = ts[columns.regime_prob(asset)].to_numpy()
        assert np.all((prob >= 0) & (prob <= 1))
        vol = ts[columns.vol_forecast(asset)].to_numpy()
        assert np.isnan(vol[0]) and np.all(vol[1:] > 0)
    assert ((ts[columns.regime_prob("ETH")] > 0.5) == (ts[columns.MARKET_REGIME] == 1))[
        1:].mean() > 0.9


def test_the_policy_de_risks_in_stress(run):
    switches = run.events[run.events["kind"] == "regime_switch"]
    assert switches["state"].iloc[0] == "stress"
    first = int(switches["step"].iloc[0])
    assert run.timeseries[columns.MARKET_REGIME].iloc[first] == 1
    assert switches["risky_share"].iloc[0] == 0.15
    assert switches["prob"].iloc[0] >= 0.5


def test_the_report_figure_shows_the_feature(run):
    figure = regime_figure(run)
    assert figure is not None and figure.name == "regime"
    assert "% of steps classified right" in figure.caption
    assert "the policy switched" in figure.caption


def test_runs_without_a_regime_market_or_policy_get_no_new_columns():
    baseline = load_scenario("experiments/scenarios/baseline.toml")
    assert forecast_reporters(baseline, np.zeros(1), ("ETH", "GOV")) == {}


def test_realized_ahead_by_hand():
    """Prices moving by e^0.01 then e^-0.01: every squared return is 1e-4, so the
    window's vol is 0.01 x sqrt(8760) = 0.9359 at each row with 24 returns ahead."""
    price = np.exp(np.cumsum(np.r_[0.0, np.tile([0.01, -0.01], 20)]))
    out = _realized_ahead(price, 8760.0)
    assert out[0] == pytest.approx(0.01 * np.sqrt(8760), rel=1e-9)
    assert np.isnan(out[-24:]).all() and not np.isnan(out[:-24]).any()
