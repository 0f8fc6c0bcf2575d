"""The off-chain market's impact model (protocols.offchain), against hand calculations."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import InvalidAmount
from protocols.offchain import OffchainMarket


def test_unlimited_depth_trades_any_amount_at_the_fundamental():
    market = OffchainMarket(100.0)
    assert market.sell(1e9) == 1e11
    assert market.buy(5e3) == 50.0
    assert market.read() == 100.0 and market.impact == 0.0


def test_a_sale_pays_its_average_price_and_moves_the_price():
    # depth $1M per 1 %: k = 1e-8. Selling 1,000 units from $100: 1/P1 = 1/100 + 1e-8 * 1000
    # = 0.01001, so P1 = 99.9001; the USD received is ln(P0/P1)/k = ln(1.001)/1e-8 = 99,950.03
    # (between 1,000 x P1 and 1,000 x P0: the average price over its own impact).
    market = OffchainMarket(100.0, depth_usd=1e6)
    usd = market.sell(1_000.0)
    assert usd == pytest.approx(math.log(1.001) / 1e-8, rel=1e-12)
    assert market.read() == pytest.approx(1 / 0.01001, rel=1e-12)
    assert 1_000 * market.read() < usd < 1_000 * 100.0


def test_depth_usd_of_flow_moves_the_log_price_by_one_hundredth():
    market = OffchainMarket(2_000.0, depth_usd=5e6)
    market.buy(5e6)
    assert math.log(market.read() / 2_000.0) == pytest.approx(0.01, rel=1e-12)


def test_impact_decays_to_its_permanent_two_thirds_and_the_fundamental_moves_under_it():
    # kernel 2/3 + 1/3 * 2^(-t / 2 h): after one half-life 2/3 + 1/6 = 5/6 of the impact is
    # left, after a long time 2/3
    market = OffchainMarket(10.0, depth_usd=1e5, half_life_hours=2.0)
    market.sell(1_000.0)
    impact = market.impact
    market.decay(2.0)
    assert market.impact == pytest.approx(impact * 5 / 6, rel=1e-12)
    market.set(20.0)  # a new fundamental: the remaining impact carries over
    assert market.read() == pytest.approx(20.0 * math.exp(impact * 5 / 6), rel=1e-12)
    market.decay(1_000.0)
    assert market.impact == pytest.approx(impact * 2 / 3, rel=1e-12)


def test_quotes_change_nothing():
    market = OffchainMarket(10.0, depth_usd=1e5)
    market.quote_sell(1e4), market.quote_buy(1e4)
    assert market.impact == 0.0


@given(
    price=st.floats(1e-4, 1e6),
    depth=st.floats(1e3, 1e10),
    units=st.floats(0.0, 1e7),
)
def test_selling_then_buying_back_with_the_proceeds_restores_units_and_price(price, depth, units):
    # The impact is a function of net USD flow only, so a round trip returns to where it
    # started: no free lunch and no loss from the impact model itself (float rounding apart).
    market = OffchainMarket(price, depth_usd=depth)
    back = market.buy(market.sell(units))
    assert back == pytest.approx(units, rel=1e-9, abs=1e-12)
    assert market.impact == pytest.approx(0.0, abs=1e-9)
    assert market.read() > 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"price": 0.0}, "price"),
        ({"price": 1.0, "depth_usd": 0.0}, "depth_usd"),
        ({"price": 1.0, "depth_usd": -5.0}, "depth_usd"),
        ({"price": 1.0, "depth_usd": float("nan")}, "depth_usd"),
        ({"price": 1.0, "half_life_hours": 0.0}, "half_life_hours"),
        ({"price": 1.0, "half_life_hours": float("inf")}, "half_life_hours"),
    ],
)
def test_bad_parameters_name_the_field(kwargs, field):
    with pytest.raises(InvalidAmount, match=field):
        OffchainMarket(**kwargs)


def test_an_anchored_market_moves_with_its_anchors_impact():
    # stETH trades against ETH: selling ETH off-chain lowers stETH's traded price by the same
    # log impact, so stETH / ETH stays at the peg's ratio (0.98); stETH's own flow moves
    # only stETH.
    eth = OffchainMarket(2_000.0, depth_usd=1e6)
    steth = OffchainMarket(1_960.0, depth_usd=5e5, anchor=eth)
    eth.sell(500.0)
    assert eth.impact < 0
    assert steth.read() / eth.read() == pytest.approx(0.98, rel=1e-12)
    steth.sell(10.0)
    assert steth.read() / eth.read() < 0.98
