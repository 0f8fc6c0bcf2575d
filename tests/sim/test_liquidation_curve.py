"""Liquidation curves (sim.liquidation_curve): the debt liquidatable (Aave HF < 1 at the
market's oracle prices) for instant drops of one asset's price, over the whole book."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from protocols.errors import InvalidAmount
from protocols.lending import health_factor
from sim import liquidation_curve as lc
from sim.model import TreasuryModel
from sim.outputs import write_run
from sim.runner import run_scenario
from sim.scenario import parse_scenario
from tests.sim.test_model import small_world

# columns WETH, WBTC, USDC; oracle prices and Aave v3 liquidation thresholds
PRICES = np.array([2000.0, 30000.0, 1.0])
LTS = np.array([0.83, 0.78, 0.80])
WETH = 0


def book(rows):
    """(collateral, debt) arrays from [(collateral units, debt units), ...] rows."""
    return (np.array([r[0] for r in rows], dtype=float),
            np.array([r[1] for r in rows], dtype=float))


def curve(collateral, debt, asset=WETH, drops=lc.DROPS):
    out = lc.book_curve(collateral, debt, PRICES, PRICES, LTS, asset, drops)
    return {k: dict(zip(np.round(drops, 2).tolist(), v.tolist(), strict=True))
            for k, v in out.items()}


def test_the_curve_of_a_hand_computed_book_at_three_drops():
    # Weighted collateral (units x price x LT) against debt value, WETH dropped by d:
    # A: 10 WETH, owes 15,000 USDC: 16,600 (1 - d) < 15,000 from d > 9.64 %
    # B: 2 WETH + 1 WBTC, owes 25,000 USDC: 3,320 (1 - d) + 23,400 < 25,000 from d > 51.8 %
    # C: 1 WETH, owes 1,750 USDC: 1,660 < 1,750 - liquidatable already (HF 0.949)
    # D: no debt: never
    collateral, debt = book([
        ([10, 0, 0], [0, 0, 15_000]),
        ([2, 1, 0], [0, 0, 25_000]),
        ([1, 0, 0], [0, 0, 1_750]),
        ([5, 5, 0], [0, 0, 0]),
    ])
    c = curve(collateral, debt)
    # drop 0: C alone; its collateral 1 x 2,000
    assert c["positions_liquidatable"][0.0] == 1
    assert c["debt_liquidatable_usd"][0.0] == 1_750.0
    assert c["debt_newly_liquidatable_usd"][0.0] == 0.0
    assert c["collateral_at_risk_usd"][0.0] == 2_000.0
    # 5 %: A at 15,770 and B at 26,554 still above their debt; C's collateral 1 x 1,900
    assert c["positions_liquidatable"][0.05] == 1
    assert c["debt_liquidatable_usd"][0.05] == 1_750.0
    assert c["debt_newly_liquidatable_usd"][0.05] == 0.0
    assert c["collateral_at_risk_usd"][0.05] == pytest.approx(1_900.0, rel=1e-12)
    # 10 %: A (14,940 < 15,000) joins C; collateral 10 x 1,800 + 1 x 1,800
    assert c["positions_liquidatable"][0.1] == 2
    assert c["debt_liquidatable_usd"][0.1] == 16_750.0
    assert c["debt_newly_liquidatable_usd"][0.1] == 15_000.0
    assert c["collateral_at_risk_usd"][0.1] == pytest.approx(19_800.0, rel=1e-12)
    # 55 %: B (24,894 < 25,000) too; collateral 10 x 900 + (2 x 900 + 30,000) + 1 x 900
    assert c["positions_liquidatable"][0.55] == 3
    assert c["debt_liquidatable_usd"][0.55] == 41_750.0
    assert c["debt_newly_liquidatable_usd"][0.55] == 40_000.0
    assert c["collateral_at_risk_usd"][0.55] == pytest.approx(41_700.0, rel=1e-12)
    # WBTC dropped instead: B's 23,400 (1 - d) + 3,320 < 25,000 from d > 7.35 %
    w = curve(collateral, debt, asset=1)
    assert w["debt_newly_liquidatable_usd"][0.05] == 0.0
    assert w["debt_newly_liquidatable_usd"][0.1] == 25_000.0


def test_a_position_that_borrows_the_dropped_asset_gets_healthier():
    # 1 WBTC (23,400 weighted) against 12 WETH of debt (24,000): HF 0.975 now; a WETH drop of
    # d makes the debt 24,000 (1 - d), under 23,400 from d > 2.5 %. Its debt counts at the
    # dropped price while it is liquidatable.
    collateral, debt = book([([0, 1, 0], [12, 0, 0])])
    c = curve(collateral, debt)
    assert c["debt_liquidatable_usd"][0.0] == 24_000.0
    assert c["positions_liquidatable"][0.05] == 0
    assert c["debt_liquidatable_usd"][0.8] == 0.0


def test_drops_must_be_fractions_below_one():
    collateral, debt = book([([1, 0, 0], [0, 0, 100])])
    with pytest.raises(InvalidAmount, match="drops"):
        lc.book_curve(collateral, debt, PRICES, PRICES, LTS, WETH, np.array([0.5, 1.0]))


@settings(max_examples=60, deadline=None)
@given(
    collateral=hnp.arrays(float, (25, 3), elements=st.floats(0, 100)),
    debt=hnp.arrays(float, 25, elements=st.just(0.0) | st.floats(1e-3, 5e6)),
    prices=hnp.arrays(float, 3, elements=st.floats(0.01, 1e5)),
    lts=hnp.arrays(float, 3, elements=st.floats(0, 0.95)),
)
def test_the_curve_never_falls_with_the_drop_of_an_asset_nobody_borrows(
    collateral, debt, prices, lts
):
    # every position borrows asset 2 only; assets 0 and 1 are collateral only, so each
    # position's HF falls as they do and its debt value stays: a position once
    # liquidatable stays so at every larger drop
    debts = np.zeros((25, 3))
    debts[:, 2] = debt
    for asset in (0, 1):
        out = lc.book_curve(collateral, debts, prices, prices, lts, asset)
        for key in ("positions_liquidatable", "debt_liquidatable_usd",
                    "debt_newly_liquidatable_usd"):
            assert np.all(np.diff(out[key]) >= 0), key
        # the drop-0 row is the book as it stands
        hf = health_factor(collateral, debts, prices, lts)
        assert out["positions_liquidatable"][0] == np.sum(hf < 1)


def slow_curve(collateral, debt, prices, lts, asset, drops):
    """Position by position in plain Python, the prices dropped explicitly: the definition
    (HF = sum(units x price x LT) / sum(debt x price) < 1), in a loop."""
    collateral, debt = collateral.tolist(), debt.tolist()
    base, lts = prices.tolist(), lts.tolist()

    def hf(c, d, p):
        owed = sum(x * q for x, q in zip(d, p, strict=True))
        weighted = sum(x * q * t for x, q, t in zip(c, p, lts, strict=True))
        return weighted / owed if owed > 0 else math.inf

    already = [hf(c, d, base) < 1 for c, d in zip(collateral, debt, strict=True)]
    rows = []
    for drop in drops:
        p = list(base)
        p[asset] *= 1 - drop
        n = owed = new = held = 0.0
        for c, d, was in zip(collateral, debt, already, strict=True):
            if hf(c, d, p) < 1:
                value = sum(x * q for x, q in zip(d, p, strict=True))
                n, owed = n + 1, owed + value
                held += sum(x * q for x, q in zip(c, p, strict=True))
                new += 0.0 if was else value
        rows.append((n, owed, new, held))
    return np.array(rows)


def test_the_curve_of_a_large_random_book_equals_a_loop_over_positions():
    rng = np.random.default_rng(16)
    n, assets = 4000, 4
    prices = np.array([2000.0, 30000.0, 1.0, 5.0])
    lts = np.array([0.83, 0.78, 0.8, 0.65])
    collateral = rng.lognormal(0, 1, (n, assets)) * (rng.random((n, assets)) < 0.5)
    collateral /= prices / 1000  # about $1,000 a cell
    # debt in one or two assets, the dropped one included, near each position's limit
    debt = (rng.random((n, assets)) < 0.4) / prices
    limit = collateral @ (prices * lts)
    debt *= (limit * rng.uniform(0.5, 1.1, n) / np.maximum(debt @ prices, 1e-300))[:, None]
    drops = lc.DROPS
    for asset in range(assets):
        fast = lc.book_curve(collateral, debt, prices, prices, lts, asset, drops)
        slow = slow_curve(collateral, debt, prices, lts, asset, drops)
        assert fast["positions_liquidatable"].tolist() == slow[:, 0].tolist()
        for j, key in enumerate(("debt_liquidatable_usd", "debt_newly_liquidatable_usd",
                                 "collateral_at_risk_usd"), start=1):
            np.testing.assert_allclose(fast[key], slow[:, j], rtol=1e-9, atol=1e-6)
    assert slow[:, 0].max() > 100  # the book is not trivially safe


CRASH = {"kind": "crash", "step": 10, "asset": "ETH", "size": 0.3}


def test_the_market_curve_at_drop_zero_is_the_markets_own_liquidatable_set():
    raw = small_world(shocks=[CRASH])
    raw["agents"]["liquidators"]["count"] = 0  # leave the crashed book as it is
    model = TreasuryModel(parse_scenario(copy.deepcopy(raw)))
    for _ in range(10):
        model.step()
    market = model.world.markets["aave"]
    frame = lc.market_curves(market)
    assert set(frame["asset"]) == {"ETH"}  # the only collateral held
    at0 = frame[frame["drop"] == 0.0].iloc[0]
    liquidatable = market.liquidatable()
    assert len(liquidatable) > 0
    assert at0["positions_liquidatable"] == len(liquidatable)
    debt = (market.debt_scaled[liquidatable] @ np.array(
        [market.borrow_index(a) * market.oracles[a].price for a in market.assets])).sum()
    assert at0["debt_liquidatable_usd"] == pytest.approx(debt, rel=1e-12)


def test_every_run_folder_holds_the_curve_at_the_start_and_before_the_first_shock(tmp_path):
    config = parse_scenario(small_world(shocks=[CRASH]))
    result = run_scenario(config)
    out = write_run(tmp_path / "run", result, config)
    frame = pd.read_parquet(out / "liquidation_curve.parquet")
    assert list(frame.columns) == lc.COLUMNS
    # one market, one collateral asset (ETH), 17 drops, two snapshots
    assert len(frame) == 2 * 17
    snapshots = frame.groupby("snapshot")["step"].unique().to_dict()
    assert {k: v.tolist() for k, v in snapshots.items()} == {"start": [0], "pre_shock": [9]}
    start = frame[frame["snapshot"] == "start"]
    assert start["drop"].tolist() == pytest.approx(np.arange(17) * 0.05)
    # opened at HF median 1.3 (sigma 0.1) and all within LTV: none liquidatable as they
    # stand, most of the book by a 40 % drop (HF < 1 / 0.6 = 1.67 for nearly all)
    assert start["positions_liquidatable"].iloc[0] == 0
    assert start["positions_liquidatable"].iloc[8] > 180
    # a run without a shock has the start snapshot only
    calm = run_scenario(parse_scenario(small_world()))
    assert set(calm.liquidation_curve["snapshot"]) == {"start"}


def test_a_book_without_debt_has_no_curve_and_needs_no_price():
    # a market just listed: its feeds have no round yet (reading .price would raise)
    from protocols.ledger import Ledger
    from protocols.lending import LendingMarket
    from protocols.offchain import OffchainMarket
    from protocols.oracle import Oracle
    from tests.sim.test_capital import AAVE_CSV, ASSETS, PRICES, load_aave_params

    ledger = Ledger()
    for asset in ASSETS:
        ledger.create_token(asset, issuer="bank")
    oracles = {a: Oracle(a, OffchainMarket(PRICES[a])) for a in ASSETS}
    market = LendingMarket(ledger, "aave", load_aave_params(AAVE_CSV, ASSETS), oracles)
    assert lc.market_curves(market).empty
    market.open_position("alice")  # an empty position: still nothing to liquidate
    assert lc.market_curves(market).empty
    empty = lc.LiquidationCurves().frame()
    assert list(empty.columns) == lc.COLUMNS and empty.empty
    assert empty["step"].dtype == "int64" and empty["drop"].dtype == float
