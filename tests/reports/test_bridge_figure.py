"""The run report's bridge figure: backing, the wrapped asset's price, the lending market's
loss and the pool's value, drawn from the run's time series and events."""

import numpy as np

from reports import run_report
from reports.bridge_figure import bridge_figure
from sim.outputs import write_run
from sim.runner import run_scenario
from sim.scenario import parse_scenario
from tests.sim.test_bridge import RAW, scenario
from tests.sim.test_model import small_world


def test_the_figure_draws_the_backing_the_prices_the_market_and_the_pool(tmp_path):
    config = scenario(agents={**RAW["agents"], "borrowers": [
        {"market": "moonwell", "collateral": "madWETH", "debt": "USDC", "positions": 20,
         "size_usd_median": 20_000, "hf_median": 1.3, "hf_sigma": 0.05}]})
    folder = write_run(tmp_path / "run", run_scenario(config), config)
    run = run_report.load_run(folder)
    figure = bridge_figure(run)
    assert figure.name == "bridge"
    backing, prices, market, pool = figure.figure.axes[:4]
    _, y = backing.get_lines()[0].get_data()
    assert np.allclose(y[:3], 1.0) and np.allclose(y[3:], 0.5)
    labels = [line.get_label() for line in prices.get_lines()]
    assert labels[:3] == ["ETH (canonical)", "madWETH off-chain", "madWETH in pool pool"]
    assert "madWETH feed of moonwell" in labels
    _, wrapped = prices.get_lines()[1].get_data()
    assert np.allclose(wrapped[3:], 1000.0)
    assert [line.get_label() for line in market.get_lines()
            if not line.get_label().startswith("_")] == [
        "moonwell: bad debt", "moonwell: wrapped collateral seized (cumulative)"]
    _, seized = market.get_lines()[1].get_data()
    assert seized[2] == 0.0 and seized[-1] > 0  # liquidations start with the exploit
    assert "nomad: backing 1.000 at the start, 0.500 at its lowest" in figure.caption
    assert "madWETH from $2k to $1k" in figure.caption
    assert "Pool pool: worth $10M at the start" in figure.caption
    report = run_report.run_report(folder)
    assert (report.parent / "figures" / "bridge.png").exists()
    assert "Bridge backing, the wrapped asset&#x27;s price" in report.read_text() or (
        "Bridge backing, the wrapped asset's price" in report.read_text())


def test_no_bridge_no_figure(tmp_path):
    config = parse_scenario(small_world())
    folder = write_run(tmp_path / "run", run_scenario(config), config)
    assert bridge_figure(run_report.load_run(folder)) is None
