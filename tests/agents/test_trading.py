"""Optimal arbitrage sizing: hand-checked optima for v2 and v3, the first-order condition for
StableSwap, the no-trade fee band, maximality at the returned amount for all three pool kinds,
the best of every ordered pair of an n-coin pool, capping to a budget, empty pools."""

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.trading import Trade, best_arbitrage, capped
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.constant_product import ConstantProductPool
from protocols.amm.stableswap import StableSwapPool, get_y, marginal_price
from protocols.errors import InsufficientLiquidity, InvalidAmount
from protocols.ledger import Ledger

FAST = settings(max_examples=150, deadline=None)
SQRT_2000 = math.sqrt(2000.0)
#: v3 test range: ticks 69960..81960 = prices ~1095..~3650 around the initial 2000 (tick 76012)
WIDE = (69960, 81960)


def ledger_with(*tokens: str) -> Ledger:
    ledger = Ledger()
    for token in tokens:
        ledger.create_token(token, issuer="mint")
        ledger.mint(token, "lp", 1e12, by="mint")
    return ledger


def v2_pool(weth: float = 1000.0, usdc: float = 2e6, fee: float = 0.003) -> ConstantProductPool:
    pool = ConstantProductPool(ledger_with("WETH", "USDC"), "v2", "WETH", "USDC", fee)
    pool.add_liquidity("lp", {"WETH": weth, "USDC": usdc})
    return pool


def v3_pool(liquidity: float = 1e5, ranges=(WIDE,)) -> ConcentratedLiquidityPool:
    ledger = ledger_with("WETH", "USDC")
    pool = ConcentratedLiquidityPool(ledger, "v3", "WETH", "USDC", 0.003, 60, SQRT_2000)
    for lower, upper in ranges:
        pool.mint("lp", lower, upper, liquidity)
    return pool


def curve_pool(balances=(1e6, 1e6, 1e6), amp: float = 200.0, fee: float = 0.0004):
    tokens = ("USDC", "DAI", "USDT")[: len(balances)]
    pool = StableSwapPool(ledger_with(*tokens), "crv", tokens, amp, fee=fee)
    pool.add_liquidity("lp", dict(zip(tokens, balances, strict=True)))
    return pool


def profit(trade: Trade, amount_in: float) -> float:
    out = trade.pool.quote_exact_in(trade.token_in, trade.token_out, amount_in)
    return out * trade.price_out - amount_in * trade.price_in


def assert_maximum(trade: Trade) -> None:
    """Profit at the amount beats 0.1 % less and 0.1 % more (where the pool can fill it), up
    to the quotes' float rounding (1e-13 of the trade's notional)."""
    here = profit(trade, trade.amount_in)
    noise = 1e-13 * trade.amount_out * trade.price_out
    assert here == pytest.approx(trade.profit_usd, rel=1e-12)
    assert here > 0
    assert here >= profit(trade, trade.amount_in * 0.999) - noise
    with contextlib.suppress(InsufficientLiquidity):  # the optimum may be the last unit
        assert here >= profit(trade, trade.amount_in * 1.001) - noise


# -- Uniswap v2: closed form ---------------------------------------------------------------
def test_v2_hand_checked_optimum():
    # 1000 WETH / 2e6 USDC (spot 2000), fee 0.3 %, WETH worth 1900 outside: sell WETH.
    # x* = R_in (sqrt(g R_out / (R_in P)) - 1) / g = 1000 (sqrt(0.997*2000/1900) - 1) / 0.997
    #    = 1000 * (1.0244381... - 1) / 0.997 = 24.51176388845 WETH
    # out = R_out g x / (R_in + g x) = 2e6 * 24.43822859 / 1024.43822859 = 47710.497157574 USDC
    # profit = 47710.497157574 - 1900 * 24.51176388845 = 1138.1457695 USD
    trade = best_arbitrage(v2_pool(), {"WETH": 1900.0, "USDC": 1.0})
    assert (trade.token_in, trade.token_out) == ("WETH", "USDC")
    assert trade.amount_in == pytest.approx(24.51176388845415, rel=1e-12)
    assert trade.amount_out == pytest.approx(47710.49715757433, rel=1e-12)
    assert trade.profit_usd == pytest.approx(1138.145769511444, rel=1e-9)
    assert_maximum(trade)


def test_v2_other_direction_buys_the_cheap_token():
    # WETH worth 2100 outside: sell USDC; target 1/2100 WETH per USDC, reserves swap roles:
    # x* = 2e6 (sqrt(0.997 * 1000 * 2100 / 2e6) - 1) / 0.997 = 2e6 * 0.0231763... / 0.997
    trade = best_arbitrage(v2_pool(), {"WETH": 2100.0, "USDC": 1.0})
    assert (trade.token_in, trade.token_out) == ("USDC", "WETH")
    expected = 2e6 * (math.sqrt(0.997 * 1000 * 2100 / 2e6) - 1) / 0.997
    assert trade.amount_in == pytest.approx(expected, rel=1e-12)
    assert 46_000 < trade.amount_in < 47_000
    assert_maximum(trade)


@pytest.mark.parametrize("weth_usd", [1994.01, 2000.0, 2006.0])
def test_v2_no_trade_inside_the_fee_band(weth_usd):
    # The band is [g * 2000, 2000 / g] = [1994, 2006.018]: the first unit never pays.
    assert best_arbitrage(v2_pool(), {"WETH": weth_usd, "USDC": 1.0}) is None


def test_v2_trade_just_outside_the_fee_band():
    assert best_arbitrage(v2_pool(), {"WETH": 1993.9, "USDC": 1.0}).token_in == "WETH"
    assert best_arbitrage(v2_pool(), {"WETH": 2006.1, "USDC": 1.0}).token_in == "USDC"


# -- Uniswap v3: the optimum moves the price to target / (1 - fee) -------------------------
def test_v3_hand_checked_optimum_in_range():
    # One range, L = 1e5, spot 2000, WETH worth 1900: the marginal rate 0.997 * P' reaches
    # 1900 at sqrt P' = sqrt(1900 / 0.997) = 43.6545204011; the input (fee included) is
    # L (1/sqrt P' - 1/sqrt P) / 0.997 = 1e5 * 0.000546455404 / 0.997 = 54.809970303 WETH
    # and pays L (sqrt P - sqrt P') = 1e5 * 1.0668391 = 106683.914885 USDC.
    pool = v3_pool()
    trade = best_arbitrage(pool, {"WETH": 1900.0, "USDC": 1.0})
    assert (trade.token_in, trade.token_out) == ("WETH", "USDC")
    assert trade.amount_in == pytest.approx(54.80997030300784, rel=1e-6)
    assert trade.amount_out == pytest.approx(106683.91488464622, rel=1e-6)
    assert trade.profit_usd == pytest.approx(2544.97130893133, rel=1e-10)
    assert_maximum(trade)
    pool.ledger.mint("WETH", "arb", trade.amount_in, by="mint")
    pool.swap_exact_in("arb", "WETH", "USDC", trade.amount_in)
    assert pool.sqrt_price == pytest.approx(43.654520401149334, rel=1e-8)


def test_v3_other_direction():
    # WETH worth 2100: sell USDC until 0.997 / P' = 1/2100, sqrt P' = sqrt(2093.7) = 45.7569667;
    # input L (sqrt P' - sqrt P) / 0.997 = 1e5 * 1.03560713 / 0.997 = 103872.330259 USDC.
    trade = best_arbitrage(v3_pool(), {"WETH": 2100.0, "USDC": 1.0})
    assert (trade.token_in, trade.token_out) == ("USDC", "WETH")
    assert trade.amount_in == pytest.approx(103872.33025932073, rel=1e-6)
    assert trade.amount_out == pytest.approx(50.608423471933115, rel=1e-6)
    assert_maximum(trade)


def test_v3_optimum_across_initialized_ticks():
    # A narrow band (ticks 75360..76560, prices ~1884..~2124) on top of the wide one: the
    # 10 % move crosses the narrow band's lower tick; after the swap the price is still
    # exactly where the marginal rate equals the external price.
    pool = v3_pool(ranges=(WIDE, (75360, 76560)))
    trade = best_arbitrage(pool, {"WETH": 1800.0, "USDC": 1.0})
    assert_maximum(trade)
    pool.ledger.mint("WETH", "arb", trade.amount_in, by="mint")
    pool.swap_exact_in("arb", "WETH", "USDC", trade.amount_in)
    assert pool.tick < 75360
    assert pool.spot_price("WETH", "USDC") * 0.997 == pytest.approx(1800.0, rel=1e-8)


def test_v3_price_beyond_all_liquidity_takes_everything_the_pool_can_fill():
    # WETH worth 500 outside, below the range's lower end (~1095): the best trade sells WETH
    # until the range is exhausted, i.e. buys (nearly) all the USDC the position holds.
    pool = v3_pool()
    usdc_in_range = pool.reserves()["USDC"]
    trade = best_arbitrage(pool, {"WETH": 500.0, "USDC": 1.0})
    assert trade.amount_out == pytest.approx(usdc_in_range, rel=1e-3)
    assert trade.amount_out <= usdc_in_range
    with pytest.raises(InsufficientLiquidity):
        pool.quote_exact_in("WETH", "USDC", trade.amount_in * 1.001)
    assert_maximum(trade)


def test_v3_no_trade_inside_the_fee_band():
    pool = v3_pool()
    for weth_usd in (2000 * 0.9971, 2000.0, 2000 / 0.9971):
        assert best_arbitrage(pool, {"WETH": weth_usd, "USDC": 1.0}) is None


def test_v3_drained_pool_is_not_quoted_beyond_its_balance():
    # An exploit took 99 % of the pool's USDC: the positions still quote the full curve, but
    # the trade may not ask for more USDC than the pool holds.
    pool = v3_pool()
    left = pool.reserves()["USDC"] * 0.01
    pool.ledger.transfer("USDC", "v3", "exploiter", pool.reserves()["USDC"] - left)
    trade = best_arbitrage(pool, {"WETH": 1000.0, "USDC": 1.0})
    assert trade.amount_out <= left
    assert trade.amount_out == pytest.approx(left, rel=1e-3)


# -- Curve StableSwap: the marginal rate condition, every ordered pair ---------------------
def test_stableswap_optimum_meets_the_first_order_condition():
    # USDC worth 0.99 outside: sell USDC. At the optimum x, (1 - fee) times the marginal price
    # at the post-trade balances (same D) equals 0.99.
    pool = curve_pool(balances=(1e6, 1e6))
    trade = best_arbitrage(pool, {"USDC": 0.99, "DAI": 1.0})
    assert (trade.token_in, trade.token_out) == ("USDC", "DAI")
    after = [1e6 + trade.amount_in, get_y(0, 1, 1e6 + trade.amount_in, [1e6, 1e6], 200.0)]
    assert 0.9996 * marginal_price(0, 1, after, 200.0) == pytest.approx(0.99, rel=1e-8)
    assert trade.amount_out == pytest.approx(0.9996 * (1e6 - after[1]), rel=1e-12)
    assert_maximum(trade)


def test_stableswap_picks_the_best_ordered_pair():
    # Balanced pool, USDC 0.98 / DAI 1.00 / USDT 1.01 outside: selling USDC for USDT has the
    # widest gap. Brute force over each pair's amounts never beats the returned trade.
    pool = curve_pool()
    prices = {"USDC": 0.98, "DAI": 1.0, "USDT": 1.01}
    trade = best_arbitrage(pool, prices)
    assert (trade.token_in, trade.token_out) == ("USDC", "USDT")
    assert_maximum(trade)
    for token_in in pool.tokens:
        for token_out in pool.tokens:
            if token_in == token_out:
                continue
            for k in range(1, 200):
                amount = k * 1e4
                out = pool.quote_exact_in(token_in, token_out, amount)
                assert out * prices[token_out] - amount * prices[token_in] <= trade.profit_usd


def test_stableswap_no_trade_inside_the_fee_band():
    # fee 4 bp; the widest gap, USDC -> USDT, is 0.99985 / 1.0002 = 1 - 3.5 bp
    pool = curve_pool()
    assert best_arbitrage(pool, {"USDC": 1.0, "DAI": 1.0, "USDT": 1.0}) is None
    assert best_arbitrage(pool, {"USDC": 0.99985, "DAI": 1.0, "USDT": 1.0002}) is None


# -- maximality for all three kinds --------------------------------------------------------
@FAST
@given(
    kind=st.sampled_from(["v2", "v3", "curve"]),
    ratio=st.floats(0.5, 2.0),
    depth=st.floats(0.1, 100.0),
)
def test_returned_amount_is_a_profit_maximum(kind, ratio, depth):
    if kind == "v2":
        pool, prices = v2_pool(1000 * depth, 2e6 * depth), {"WETH": 2000 * ratio, "USDC": 1.0}
    elif kind == "v3":
        pool = v3_pool(1e5 * depth, ranges=(WIDE, (75360, 76560)))
        prices = {"WETH": 2000 * ratio, "USDC": 1.0}
    else:
        pool = curve_pool((1e6 * depth, 1e6 * depth, 1e6))
        prices = {"USDC": ratio**0.1, "DAI": 1.0, "USDT": 1.0}
    trade = best_arbitrage(pool, prices)
    if trade is None:  # then no first unit pays: every pair is inside the fee band
        for a in pool.tokens:
            for b in set(pool.tokens) - {a}:
                first_rate = (1 - pool.fee) * pool.spot_price(a, b)
                assert first_rate <= prices[a] / prices[b] * (1 + 1e-9)
    else:
        assert_maximum(trade)


# -- capping, empty pools, bad input -------------------------------------------------------
def test_capped_requotes_a_smaller_trade():
    pool = v2_pool()
    trade = best_arbitrage(pool, {"WETH": 1900.0, "USDC": 1.0})
    assert capped(trade, 100.0) is trade
    small = capped(trade, 10.0)
    assert small.amount_in == 10.0
    assert small.amount_out == pool.quote_exact_in("WETH", "USDC", 10.0)
    # 10 WETH pay 2e6 * 9.97 / 1009.97 = 19743.16 USDC, worth 19000 outside: profit 743.16
    assert small.profit_usd == pytest.approx(2e6 * 9.97 / 1009.97 - 19000.0, rel=1e-12)
    assert 0 < small.profit_usd < trade.profit_usd
    assert capped(trade, 0.0) is None
    with pytest.raises(InvalidAmount, match="budget_in"):
        capped(trade, -1.0)


def test_empty_pools_offer_no_trade():
    prices = {"WETH": 1900.0, "USDC": 1.0, "DAI": 1.0}
    ledger = ledger_with("WETH", "USDC", "DAI")
    assert best_arbitrage(ConstantProductPool(ledger, "a", "WETH", "USDC"), prices) is None
    assert best_arbitrage(StableSwapPool(ledger, "b", ("USDC", "DAI"), 100.0), prices) is None
    v3 = ConcentratedLiquidityPool(ledger, "c", "WETH", "USDC", 0.003, 60, SQRT_2000)
    assert best_arbitrage(v3, prices) is None


def test_missing_or_bad_prices_are_named():
    with pytest.raises(InvalidAmount, match=r"price_usd\['USDC'\]"):
        best_arbitrage(v2_pool(), {"WETH": 1900.0})
    with pytest.raises(InvalidAmount, match=r"price_usd\['WETH'\]"):
        best_arbitrage(v2_pool(), {"WETH": 0.0, "USDC": 1.0})
