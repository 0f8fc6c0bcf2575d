"""Treasury metrics: liquidation value by quoting (state untouched), runway, drawdown,
realized volatility, exposures per protocol node, and the model's reporters and summary."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.names import TREASURY
from sim.treasury import (
    exposures,
    liquidation_value_usd,
    max_drawdown,
    realized_vol,
    runway_months,
)
from tests.agents.test_allocator import model, world


def test_liquidation_value_quotes_the_thin_pool_without_trading():
    # 500k GOV into 100k GOV / 200k USDC (v2, fee 0.3 %):
    # out = 0.997 x 500,000 x 200,000 / (100,000 + 0.997 x 500,000) = 166,583.3 USDC.
    # ETH: 500 into 50,000 ETH / 100M USDC: 0.997 x 500 x 1e8 / (50,000 + 498.5) = 987,257.
    m = model(world())
    allocator = m.allocator
    reserves = dict(m.world.pools["gov-usdc"].reserves())
    gov = 0.997 * 500_000 * 200_000 / (100_000 + 0.997 * 500_000)
    eth = 0.997 * 500 * 100e6 / (50_000 + 0.997 * 500)
    value = liquidation_value_usd(allocator.book, allocator.router, allocator.stables)
    assert value == pytest.approx(gov + eth + 1e6, rel=1e-9)
    assert value < allocator.book.nav_usd == pytest.approx(3e6)
    assert m.world.pools["gov-usdc"].reserves() == reserves  # quoting changes nothing


def test_liquidation_value_nets_debt_and_caps_deposits_at_cash():
    m = model(world({"kind": "static", "borrow": {"USDC": 100_000}}))
    m.step()
    book = m.allocator.book
    with_debt = liquidation_value_usd(book, m.allocator.router, m.allocator.stables)
    # collateral is sold with the free GOV: 500k GOV in all, and the debt is repaid
    gov = 0.997 * 500_000 * 200_000 / (100_000 + 0.997 * 500_000)
    usdc = book.free_units["USDC"]
    eth = book.free_units["ETH"]
    eth_usd = 0.997 * eth * 100e6 / (50_000 + 0.997 * eth)
    assert with_debt == pytest.approx(gov + eth_usd + usdc - 100_000, rel=1e-9)


def test_runway_is_stables_over_monthly_opex():
    m = model(world(holdings={"USDC": 600_000, "DAI": 300_000, "ETH": 10}))
    book = m.allocator.book
    assert runway_months(book, 150_000, m.allocator.stables) == pytest.approx(6.0)
    assert runway_months(book, 0, m.allocator.stables) == math.inf


def test_drawdown_and_realized_vol_hand_checked():
    assert max_drawdown([100, 120, 90, 130, 65]) == pytest.approx(0.5)
    assert max_drawdown([100, 101, 102]) == 0.0
    # log returns +-0.01 alternating: sample std = 0.01 x sqrt(n / (n - 1)), n = 10
    nav = np.exp(np.cumsum([0.0] + [0.01 if k % 2 == 0 else -0.01 for k in range(10)]))
    assert realized_vol(nav, 8760) == pytest.approx(0.01 * math.sqrt(10 / 9) * math.sqrt(8760))


@given(st.lists(st.floats(1.0, 1e9), min_size=1, max_size=50))
def test_drawdown_is_a_share_between_zero_and_one(values):
    dd = max_drawdown(values)
    assert 0.0 <= dd < 1.0
    peak = np.maximum.accumulate(values)
    assert dd == pytest.approx(float(np.max(1 - np.asarray(values) / peak)), abs=1e-12)


def test_exposures_per_protocol_node():
    m = model(world({"kind": "static", "borrow": {"USDC": 100_000}}))
    m.step()
    exp = exposures(m.world, TREASURY, m.steps)
    posted = 2 * 100_000 / (0.65 * 2.0)
    assert exp["aave"] == pytest.approx(posted * 2.0)
    assert exp["issuer:GOV"] == pytest.approx((500_000 - posted) * 2.0)
    assert exp["issuer:ETH"] == pytest.approx(m.world.ledger.balance_of(TREASURY, "ETH") * 2000)
    assert set(exp) == {"aave", "issuer:GOV", "issuer:ETH", "issuer:USDC"}


def test_model_reports_treasury_series_and_headlines():
    m = model(world({"kind": "calendar", "every": 12}, opex_usd_per_month=100_000))
    m.run()
    ts = m.timeseries()
    for column in ("treasury_nav_usd", "treasury_nav_liq_usd", "runway_months",
                   "treasury_debt_usd", "treasury_turnover_usd", "treasury_costs_usd"):
        assert column in ts and ts[column].notna().all()
    assert (ts["treasury_nav_liq_usd"] < ts["treasury_nav_usd"]).all()
    summary = m.summary()
    assert summary["treasury_nav_end_usd"] == pytest.approx(ts["treasury_nav_usd"].iloc[-1])
    assert summary["treasury_runway_months_min"] == pytest.approx(ts["runway_months"].min())
    assert summary["treasury_opex_paid_usd"] == pytest.approx(100_000 * 48 / 730.5)
