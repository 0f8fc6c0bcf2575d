"""Shortfall marked to market (`shortfall_usd:MARKET`, `shortfall_peak_usd`,
`shortfall_end_usd`): what insolvent positions owe beyond their collateral, every step, at
off-chain prices - beside `bad_debt_usd`, which only counts debt written off."""

import numpy as np
import pytest

from sim import columns
from tests.sim.test_model import run, small_world

SHORTFALL = columns.shortfall_usd("aave")
CRASH = {"kind": "crash", "step": 10, "asset": "ETH", "size": 0.45}


@pytest.fixture(scope="module")
def stranded():
    """small_world (200 ETH-collateral, USDC-debt positions at HF median 1.3, sigma 0.1;
    flat prices) with a 45 % ETH crash at step 10 and NO liquidators; borrowers react after
    100 steps, i.e. never within the 48."""
    raw = small_world(shocks=[CRASH])
    raw["agents"]["liquidators"]["count"] = 0
    return run(raw)


def test_positions_left_insolvent_show_a_shortfall_to_the_end_while_bad_debt_stays_zero(
    stranded,
):
    # A position's debt/collateral value is LT / HF = 0.83 / HF. ETH at 0.55 x its price
    # makes that 0.83 / (0.55 HF): debt exceeds the collateral for every position opened at
    # HF < 0.83 / 0.55 = 1.509, P = Phi(ln(1.509 / 1.3) / 0.1) = Phi(1.49) = 93 % of 200
    # (~186). Nobody liquidates and nobody repays, prices stay flat after the crash, and
    # USDC interest only adds to the debt: those positions stay insolvent to the end, so the
    # shortfall at the last step is > 0 - while no debt was ever written off.
    summary = stranded.summary()
    ts = stranded.timeseries().set_index("step")
    assert summary["liquidations"] == 0
    assert summary["bad_debt_usd"] == 0.0
    assert summary["shortfall_end_usd"] > 0
    # Before the crash every position has HF > 1 > 0.83: debt < collateral, shortfall 0.
    assert (ts.loc[0:9, SHORTFALL] == 0.0).all()
    assert ts.loc[10, SHORTFALL] > 0
    # Interest on the USDC debt, and ETH (collateral only, never borrowed) earns nothing:
    # the shortfall only grows after the crash, so its peak is the last step.
    assert (np.diff(ts.loc[10:, SHORTFALL]) > 0).all()
    assert summary["shortfall_peak_usd"] == summary["shortfall_end_usd"] == ts[SHORTFALL].iloc[-1]
    assert summary["shortfall_end_usd:aave"] == summary["shortfall_end_usd"]

    # The same figure from the book, position by position, at the reference price:
    market = stranded.world.markets["aave"]
    eth, usdc = market.assets.index("ETH"), market.assets.index("USDC")
    collateral = market.collateral_scaled[:, eth] * market.exchange_rate("ETH")
    debt = market.debt_scaled[:, usdc] * market.borrow_index("USDC")
    price = stranded.world.usd("ETH")
    assert price == pytest.approx(2000.0 * 0.55)
    gap = debt - collateral * price
    assert summary["shortfall_end_usd"] == pytest.approx(np.maximum(gap, 0.0).sum(), rel=1e-12)
    # debt > collateral at full value <=> HF = collateral * 0.83 / debt < 0.83 (the oracle
    # reads the reference price here): the same positions, found through the health factors
    insolvent = np.flatnonzero(gap > 0)
    assert insolvent.tolist() == np.flatnonzero(market.health_factors() < 0.83).tolist()
    assert 170 <= insolvent.size <= 198  # ~186 by the lognormal estimate above


def test_a_frozen_oracle_does_not_hide_the_shortfall(stranded):
    # ETH's feed freezes at 2000 from step 5 to step 24; the crash to 1100 comes at step 10.
    # Every health factor still reads pre-crash, so liquidators (here present) do nothing
    # until step 25 - yet the shortfall, valued at off-chain prices, is there from step 10,
    # equal to the run with no liquidators at all (same seed, same book, nobody acts).
    raw = small_world(shocks=[
        {"kind": "oracle_freeze", "step": 5, "asset": "ETH", "market": "aave", "duration": 20},
        CRASH,
    ])
    frozen = run(raw)
    ts = frozen.timeseries().set_index("step")
    stuck = stranded.timeseries().set_index("step")
    assert (ts.loc[10:24, columns.oracle("aave", "ETH")] == 2000.0).all()
    assert (ts.loc[:24, columns.LIQUIDATIONS] == 0).all()
    assert ts.loc[10, SHORTFALL] > 0
    np.testing.assert_allclose(ts.loc[:24, SHORTFALL], stuck.loc[:24, SHORTFALL], rtol=1e-12)
    # Once the feed is live, liquidations write debt off: bad debt appears and the
    # shortfall falls below its peak (the written-off debt leaves the book).
    summary = frozen.summary()
    assert summary["bad_debt_usd"] > 0
    assert summary["shortfall_end_usd"] < summary["shortfall_peak_usd"] == pytest.approx(
        ts.loc[24, SHORTFALL])


def test_a_calm_run_reports_zero_shortfall_under_every_key():
    # flat prices, no shock: every position keeps HF > 1, so debt < collateral throughout
    model = run(small_world(steps=6))
    summary = model.summary()
    ts = model.timeseries()
    assert (ts[SHORTFALL] == 0.0).all()
    shortfall_keys = {k: v for k, v in summary.items() if k.startswith("shortfall_")}
    assert shortfall_keys == {"shortfall_peak_usd": 0.0, "shortfall_end_usd": 0.0,
                              "shortfall_peak_usd:aave": 0.0, "shortfall_end_usd:aave": 0.0}


def test_the_peak_sees_insolvency_before_liquidators_write_it_off(stranded):
    # The same 45 % crash with liquidators present: they close the insolvent positions in
    # the crash's first round, writing the uncovered debt off. The shortfall is taken as the
    # prices move, before anyone acts, so the step's peak holds the stranded book's
    # insolvency of that instant: the no-liquidator run's shortfall at step 10 - the same
    # book at the same prices, which ends the step an hour of USDC interest higher (its
    # step-end value is its peak) - and bad debt appears beside it, not instead of it.
    model = run(small_world(shocks=[CRASH]))
    ts = model.timeseries().set_index("step")
    stuck = stranded.timeseries().set_index("step")
    assert model.summary()["bad_debt_usd"] > 0
    assert ts.loc[10, SHORTFALL] == pytest.approx(stuck.loc[10, SHORTFALL], rel=1e-5)
    assert 0 < ts.loc[10, SHORTFALL] <= stuck.loc[10, SHORTFALL]
