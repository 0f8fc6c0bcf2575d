"""Managed concentrated liquidity in a whole run (`sim.ranges`): the shipped
managed_liquidity scenario re-centres the treasury's and the LPs' ranges, its outputs agree
with its events, the treasury's range holds the price except while out of range for less
than its `v3_recentre_after`, and with the rules off nothing moves while the IL is still
reported. The figure is drawn from the run folder."""

from pathlib import Path

import numpy as np
import pytest

from agents import event_kinds
from protocols import names
from reports.liquidity_figure import liquidity_figure
from reports.run_report import load_run
from sim import columns
from sim.outputs import write_run
from sim.runner import run_scenario
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "experiments" / "scenarios" / "managed_liquidity.toml"
POOL = "univ3-ETH-USDC"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(SCENARIO)


@pytest.fixture(scope="module")
def managed(scenario):
    return run_scenario(scenario)


def recentres(result, actor=None):
    return [e for e in result.events if e["kind"] == event_kinds.RECENTRE
            and (actor is None or e["actor"] == actor)]


def test_the_treasury_and_the_lps_recentre_and_the_summary_counts_the_events(managed):
    summary, events = managed.summary, recentres(managed)
    assert len(recentres(managed, names.TREASURY)) >= 3
    assert {e["actor"] for e in events} >= {"lp:0", "lp:1", "lp:2"}
    assert summary["recentres"] == len(events)
    assert summary["recentre_cost_usd"] == pytest.approx(
        sum(e["swap_cost_usd"] + e["gas_usd"] for e in events), rel=1e-12)
    for e in events:
        assert e["swap_cost_usd"] > 0 and e["gas_usd"] > 0
        assert (e["tick_upper"] - e["tick_lower"]) == (e["tick_upper_old"]
                                                        - e["tick_lower_old"])
        assert e["tick_lower"] % 10 == 0  # the 0.05 % tier's spacing
    ts = managed.timeseries
    assert summary["treasury_il_usd"] == ts[columns.il_usd(names.TREASURY)].iloc[-1] < 0
    assert summary["lp_il_usd"] == ts[columns.il_usd("liquidity_providers")].iloc[-1] < 0
    # fees earned: the loss without them is larger
    assert summary["treasury_il_ex_fees_usd"] < summary["treasury_il_usd"]
    assert summary["lp_il_ex_fees_usd"] < summary["lp_il_usd"]
    # the treasury's costs include its re-centrings' gas and swap cost
    mine = recentres(managed, names.TREASURY)
    assert summary["treasury_gas_usd"] >= sum(e["gas_usd"] for e in mine)


def test_the_treasury_range_is_left_only_for_fewer_steps_than_the_rule_allows(managed):
    ts = managed.timeseries
    price = ts[columns.pool_price(POOL)].to_numpy()
    low, high = (ts[columns.range_low(POOL)].to_numpy(), ts[columns.range_high(POOL)].to_numpy())
    outside = (price < low) | (price > high)
    run = longest = 0
    for out in outside:
        run = run + 1 if out else 0
        longest = max(longest, run)
    assert outside.any() and longest < 6  # v3_recentre_after = 6
    assert np.all(high > low)


def test_with_the_rules_off_nothing_moves_and_the_loss_is_still_reported():
    scenario = load_scenario(SCENARIO, overrides={
        "treasury.policy.v3_recentre_after": 0, "agents.liquidity_providers.recentre_after": 0,
        "agents.liquidity_providers.recentre_band": 0.0, "steps": 240})
    result = run_scenario(scenario)
    assert recentres(result) == [] and result.summary["recentres"] == 0
    ts = result.timeseries
    # the range opened at step 0, in USDC per ETH (its USD bound moves with USDC's peg)
    in_usdc = ts[columns.range_low(POOL)] / ts[columns.price("USDC")]
    assert np.allclose(in_usdc, in_usdc.iloc[0], rtol=1e-12, atol=0)
    assert result.summary["treasury_il_usd"] != 0.0


def test_the_report_draws_the_ranges_and_the_loss(managed, scenario, tmp_path):
    write_run(tmp_path, managed, scenario)
    figure = liquidity_figure(load_run(tmp_path))
    assert figure is not None and figure.name == "liquidity"
    assert f"{len(recentres(managed))} re-centrings" in figure.caption
