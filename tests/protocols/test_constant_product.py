"""Constant-product AMM (Uniswap v2): the real contracts' test vectors, hand-checked numbers,
invariants (k, LP share value, conservation) and that refused calls change nothing.

Vectors: v2-core test/UniswapV2Pair.spec.ts (mint, getInputPrice swapTestCases, swap:token0/1),
v2-periphery test/UniswapV2Router01.spec.ts (addLiquidity, removeLiquidity,
swapTokensForExactTokens) and test/ExampleSwapToPrice.spec.ts. They are 18-decimal integers
(floored); floats must match them to ~1e-12 relative.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from protocols.amm.constant_product import (
    MINIMUM_LIQUIDITY,
    ConstantProductPool,
    _input_to_rate,
    amount_in_to_target_price,
    get_amount_in,
    get_amount_out,
    impermanent_loss,
    locked_liquidity,
    price_impact,
)
from protocols.errors import (
    InsufficientBalance,
    InsufficientLiquidity,
    InvalidAmount,
    LedgerError,
    SlippageExceeded,
    UnknownToken,
)
from protocols.ledger import Ledger

WEI = 1e-18
FUNDS = 1e6  # what "lp" and "trader" each start with, in both tokens
HYPOTHESIS = settings(max_examples=150, deadline=None)

reserves_st = st.floats(1.0, 1e6)
fees_st = st.floats(0.0, 0.01)


def make_pool(reserve0: float = 5.0, reserve1: float = 10.0, fee: float = 0.003):
    """A T0/T1 pool seeded by "lp" (0 reserves = empty pool); "trader" holds FUNDS of both."""
    ledger = Ledger()
    for token in ("T0", "T1"):
        ledger.create_token(token, issuer="mint")
        ledger.mint(token, "lp", FUNDS, by="mint")
        ledger.mint(token, "trader", FUNDS, by="mint")
    pool = ConstantProductPool(ledger, "pool", "T0", "T1", fee)
    if reserve0:
        pool.add_liquidity("lp", {"T0": reserve0, "T1": reserve1})
    return ledger, pool


def lp_share_value(ledger: Ledger, pool: ConstantProductPool) -> float:
    """sqrt(k)/supply: what one LP token is worth in "geometric" units; swaps only raise it."""
    return math.sqrt(pool.k) / ledger.total_supply(pool.lp_token)


# -- pure functions: hand-checked and real vectors ---------------------------------------------
def test_get_amount_out_hand_checked():
    # 1 in, reserves 10/10, fee 0.3 %: 0.997*1*10 / (10 + 0.997) = 9.97/10.997 = 0.906610893...
    assert get_amount_out(1.0, 10.0, 10.0, 0.003) == pytest.approx(9.97 / 10.997, rel=1e-15)
    assert get_amount_out(1.0, 10.0, 10.0, 0.003) == pytest.approx(0.906610893880149131, rel=1e-15)
    # fee 0: plain x*y = k, 1 in on 1/1 -> 1*1/(1+1) = 0.5; zero in -> zero out
    assert get_amount_out(1.0, 1.0, 1.0, 0.0) == 0.5
    assert get_amount_out(0.0, 1.0, 1.0) == 0.0


# UniswapV2Pair.spec.ts swapTestCases: [swapAmount, token0Amount, token1Amount, expectedOutput]
SWAP_TEST_CASES = [
    (1, 5, 10, 1662497915624478906),
    (1, 10, 5, 453305446940074565),
    (2, 5, 10, 2851015155847869602),
    (2, 10, 5, 831248957812239453),
    (1, 10, 10, 906610893880149131),
    (1, 100, 100, 987158034397061298),
    (1, 1000, 1000, 996006981039903216),
]


@pytest.mark.parametrize(
    ("amount_in", "reserve_in", "reserve_out", "expected_wei"), SWAP_TEST_CASES
)
def test_get_amount_out_matches_uniswap_v2_core_get_input_price(
    amount_in, reserve_in, reserve_out, expected_wei
):
    out = get_amount_out(float(amount_in), float(reserve_in), float(reserve_out))
    assert out == pytest.approx(expected_wei * WEI, rel=1e-12)


def test_get_amount_in_matches_router_swap_tokens_for_exact_tokens():
    # Router01 swapTokensForExactTokens: reserves 5/10, 1 out -> 557227237267357629 wei in
    # = 5*1 / ((10-1)*0.997) + 1 wei = 5/8.973.
    assert get_amount_in(1.0, 5.0, 10.0) == pytest.approx(5 / 8.973, rel=1e-15)
    assert get_amount_in(1.0, 5.0, 10.0) == pytest.approx(557227237267357629 * WEI, rel=1e-12)


@pytest.mark.parametrize("amount_out", [10.0, 10.5])
def test_get_amount_in_cannot_buy_the_whole_reserve(amount_out):
    with pytest.raises(InsufficientLiquidity, match="amount_out"):
        get_amount_in(amount_out, 5.0, 10.0)


@given(amount_in=st.floats(1e-6, 1e6), reserve_in=reserves_st, reserve_out=reserves_st, fee=fees_st)
@HYPOTHESIS
def test_get_amount_in_inverts_get_amount_out(amount_in, reserve_in, reserve_out, fee):
    out = get_amount_out(amount_in, reserve_in, reserve_out, fee)
    assume(out < reserve_out * (1 - 1e-6))  # far enough from draining the pool to invert
    assert get_amount_in(out, reserve_in, reserve_out, fee) == pytest.approx(amount_in, rel=1e-8)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: get_amount_out(-1.0, 10.0, 10.0), InvalidAmount, "amount_in"),
        (lambda: get_amount_out(math.nan, 10.0, 10.0), InvalidAmount, "amount_in"),
        (lambda: get_amount_out(True, 10.0, 10.0), InvalidAmount, "amount_in"),
        (lambda: get_amount_out(1.0, "10", 10.0), InvalidAmount, "reserve_in"),
        (lambda: get_amount_out(1.0, 0.0, 10.0), InsufficientLiquidity, "reserve_in"),
        (lambda: get_amount_out(1.0, 10.0, 0.0), InsufficientLiquidity, "reserve_out"),
        (lambda: get_amount_out(1.0, 10.0, 10.0, 1.0), InvalidAmount, "fee"),
        (lambda: get_amount_out(1.0, 10.0, 10.0, -0.1), InvalidAmount, "fee"),
        (lambda: get_amount_in(-1.0, 10.0, 10.0), InvalidAmount, "amount_out"),
        (lambda: amount_in_to_target_price(10.0, 10.0, 0.0), InvalidAmount, "target_price"),
        (lambda: amount_in_to_target_price(10.0, 10.0, math.inf), InvalidAmount, "target_price"),
        (lambda: price_impact(1.0, 10.0, 0.0), InsufficientLiquidity, "reserve_out"),
        (lambda: impermanent_loss(-0.5), InvalidAmount, "price_ratio"),
        (lambda: get_amount_out(np.array([1.0, -1.0]), 10.0, 10.0), InvalidAmount, "amount_in"),
        (lambda: get_amount_out(np.array([1.0, np.inf]), 10.0, 10.0), InvalidAmount, "finite"),
        (lambda: get_amount_out(np.array(["1"]), 10.0, 10.0), InvalidAmount, "numeric"),
        (
            lambda: get_amount_out(1.0, np.array([10.0, 0.0]), 10.0),
            InsufficientLiquidity,
            "reserve_in",
        ),
        (
            lambda: get_amount_in(np.array([1.0, 5.0]), 10.0, 5.0),
            InsufficientLiquidity,
            "amount_out",
        ),
        (lambda: amount_in_to_target_price(10.0, 10.0, np.array([1.0, 0.0])), InvalidAmount, "> 0"),
    ],
)
def test_pure_functions_reject_bad_inputs_naming_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


AMOUNTS = np.array([0.0, 0.5, 1.0, 2.0, 50.0])
RESERVES_IN = np.array([5.0, 10.0, 5.0, 10.0, 100.0])
RESERVES_OUT = np.array([10.0, 5.0, 10.0, 5.0, 100.0])
PRICES = np.array([0.5, 1.0, 2.0, 3.0, 0.9])  # arbitrage: some profitable, some not


@pytest.mark.parametrize(
    ("function", "arrays"),
    [
        (get_amount_out, (AMOUNTS, RESERVES_IN, RESERVES_OUT)),
        (get_amount_in, (AMOUNTS / 100, RESERVES_IN, RESERVES_OUT)),
        (price_impact, (AMOUNTS, RESERVES_IN, RESERVES_OUT)),
        (amount_in_to_target_price, (RESERVES_IN, RESERVES_OUT, PRICES)),
        (impermanent_loss, (PRICES,)),
    ],
)
def test_pure_functions_vectorize_like_their_scalar_versions(function, arrays):
    scalar = [function(*args) for args in zip(*arrays, strict=True)]
    np.testing.assert_allclose(function(*arrays), scalar, rtol=1e-15)


# -- arbitrage size --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reserve_in", "reserve_out", "target_price", "expected_in_wei", "expected_out_wei"),
    [
        # ExampleSwapToPrice.spec.ts, pool 10 token0 : 1000 token1.
        # "moves the price to 1:90": sell token0 valued at 90 token1.
        # x* = sqrt(10*1000/(90*0.997)) - 10/0.997 = 10.556701... - 10.030090... = 0.526682...
        (10.0, 1000.0, 90.0, 526682316179835569, 49890467170695440744),
        # "moves the price to 1:110": sell token1, valued at 1/110 token0.
        (1000.0, 10.0, 1 / 110, 47376582963642643588, 451039908682851138),
    ],
)
def test_amount_in_to_target_price_matches_example_swap_to_price(
    reserve_in, reserve_out, target_price, expected_in_wei, expected_out_wei
):
    amount_in = amount_in_to_target_price(reserve_in, reserve_out, target_price)
    assert amount_in == pytest.approx(expected_in_wei * WEI, rel=1e-12)
    out = get_amount_out(amount_in, reserve_in, reserve_out)
    assert out == pytest.approx(expected_out_wei * WEI, rel=1e-12)


@pytest.mark.parametrize("target_price", [99.7, 99.8, 100.0, 1e6])
def test_no_trade_when_the_first_unit_is_not_profitable(target_price):
    # pool 10:1000, fee 0.3 %: the first unit of token_in fetches 0.997*100 = 99.7 token_out.
    assert amount_in_to_target_price(10.0, 1000.0, target_price) == pytest.approx(0.0, abs=1e-12)


def arbitrage_case(reserve_in, reserve_out, fee, mispricing):
    """Target price `mispricing` times below the pool's fee-adjusted marginal rate."""
    g = 1 - fee
    target = g * reserve_out / reserve_in / mispricing
    return target, amount_in_to_target_price(reserve_in, reserve_out, target, fee)


@given(reserve_in=reserves_st, reserve_out=reserves_st, fee=fees_st, mispricing=st.floats(1.05, 10))
@HYPOTHESIS
def test_arbitrage_size_maximises_profit(reserve_in, reserve_out, fee, mispricing):
    target, best = arbitrage_case(reserve_in, reserve_out, fee, mispricing)

    def profit(x):
        return get_amount_out(x, reserve_in, reserve_out, fee) - target * x

    assert best > 0
    assert profit(best) > profit(best * (1 + 1e-4))
    assert profit(best) > profit(best * (1 - 1e-4))


@given(reserve_in=reserves_st, reserve_out=reserves_st, fee=fees_st, mispricing=st.floats(1.05, 10))
@HYPOTHESIS
def test_after_the_arbitrage_the_target_sits_inside_the_no_arbitrage_band(
    reserve_in, reserve_out, fee, mispricing
):
    target, x = arbitrage_case(reserve_in, reserve_out, fee, mispricing)
    g = 1 - fee
    new_in = reserve_in + x
    new_out = reserve_out - get_amount_out(x, reserve_in, reserve_out, fee)
    # Exact: the trade's marginal rate at x*, g*R_out'/(R_in + g*x*), equals the target ...
    assert g * new_out / (reserve_in + g * x) == pytest.approx(target, rel=1e-9)
    # ... so the pool's fee-adjusted rate g*R_out'/R_in' is NOT the target: it is lower by
    # (R_in + g*x*)/(R_in + x*), the fee kept in the reserve ...
    rate_after = g * new_out / new_in
    assert rate_after == pytest.approx(target * (reserve_in + g * x) / new_in, rel=1e-9)
    # ... which leaves the target inside the no-arbitrage band [g*spot', spot'/g]
    # (Angeris et al. 2019): neither direction is profitable any more.
    spot_after = new_out / new_in
    assert g * spot_after <= target * (1 + 1e-12)
    assert target <= spot_after / g * (1 + 1e-12)


# -- price impact and impermanent loss -------------------------------------------------------
def test_price_impact_hand_checked_and_includes_the_fee():
    # 1 in on 10/10: execution 0.906610.../1, spot 1 -> impact 1 - 9.97/10.997 = 1.027/10.997
    assert price_impact(1.0, 10.0, 10.0) == pytest.approx(1.027 / 10.997, rel=1e-14)
    assert price_impact(0.0, 10.0, 10.0, 0.003) == pytest.approx(0.003, rel=1e-12)
    assert price_impact(0.0, 10.0, 10.0, 0.0) == 0.0
    curve = price_impact(np.linspace(0.0, 100.0, 50), 10.0, 10.0)
    assert (np.diff(curve) > 0).all()


@given(amount_in=st.floats(1e-6, 1e6), reserve_in=reserves_st, reserve_out=reserves_st, fee=fees_st)
@HYPOTHESIS
def test_price_impact_is_one_minus_execution_over_spot(amount_in, reserve_in, reserve_out, fee):
    execution = get_amount_out(amount_in, reserve_in, reserve_out, fee) / amount_in
    expected = 1 - execution / (reserve_out / reserve_in)
    impact = price_impact(amount_in, reserve_in, reserve_out, fee)
    assert impact == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(ratio=st.floats(1e-6, 1e6))
@HYPOTHESIS
def test_impermanent_loss_is_non_positive_and_symmetric(ratio):
    assert impermanent_loss(ratio) <= 0
    assert impermanent_loss(ratio) == pytest.approx(impermanent_loss(1 / ratio), abs=1e-12)


def test_impermanent_loss_matches_a_fee_less_pool_arbitraged_to_the_new_price():
    ledger, pool = make_pool(100.0, 100.0, fee=0.0)
    # T0 goes from 1 to 4 T1. Arbitrageur sells T1, valued at 1/4 T0:
    # x* = 100*(sqrt(100/(100*0.25)) - 1) = 100 -> pool 50 T0 : 200 T1, price 4.
    x = amount_in_to_target_price(100.0, 100.0, 0.25, 0.0)
    assert x == pytest.approx(100.0, rel=1e-15)
    pool.swap_exact_in("trader", "T1", "T0", x)
    assert pool.spot_price("T0", "T1") == pytest.approx(4.0, rel=1e-15)
    r = pool.reserves()
    lp_value = r["T0"] * 4 + r["T1"]  # 50*4 + 200 = 400 T1
    hold_value = 100.0 * 4 + 100.0  # 500 T1
    assert lp_value / hold_value - 1 == pytest.approx(impermanent_loss(4.0), rel=1e-12)
    assert impermanent_loss(4.0) == pytest.approx(-0.2, rel=1e-15)  # 2*2/(1+4) - 1


# -- pool: liquidity -------------------------------------------------------------------------
def test_first_mint_matches_uniswap_v2_pair_mint():
    # UniswapV2Pair.spec.ts "mint": 1 token0 + 4 token1 -> sqrt(4) = 2 LP, 1000 wei locked.
    ledger, pool = make_pool(0.0)
    minted = pool.add_liquidity("lp", {"T0": 1.0, "T1": 4.0})
    assert minted == pytest.approx(2.0 - MINIMUM_LIQUIDITY, rel=1e-15)
    assert pool.lp_token == "pool:LP"
    assert ledger.issuer_of("pool:LP") == "pool"
    assert ledger.total_supply("pool:LP") == pytest.approx(2.0, rel=1e-15)
    assert ledger.balance_of("pool:locked", "pool:LP") == MINIMUM_LIQUIDITY
    assert pool.reserves() == {"T0": 1.0, "T1": 4.0}
    assert pool.k == 4.0
    assert pool.tokens == ("T0", "T1")
    ledger.check_conservation()


def test_remove_liquidity_matches_router01_remove_liquidity():
    # Router01 "removeLiquidity": pool 1:4, burn 2 LP - 1000 wei -> 1e18-500 and 4e18-2000 wei
    # out, the locked 1000 wei LP keep 500 and 2000 wei in the pool.
    ledger, pool = make_pool(1.0, 4.0)
    payout = pool.remove_liquidity("lp", 2.0 - MINIMUM_LIQUIDITY)
    assert payout["T0"] == pytest.approx(1.0 - 500 * WEI, abs=1.2e-16)  # float step at 1
    assert payout["T1"] == pytest.approx(4.0 - 2000 * WEI, abs=4.5e-16)  # float step at 4
    assert pool.reserves()["T0"] == pytest.approx(500 * WEI, abs=1.2e-16)
    assert pool.reserves()["T1"] == pytest.approx(2000 * WEI, abs=4.5e-16)
    assert ledger.balance_of("lp", "pool:LP") == 0.0
    assert ledger.balance_of("lp", "T0") == FUNDS - 1.0 + payout["T0"]
    ledger.check_conservation()


@pytest.mark.parametrize(
    ("offered", "taken"),
    [
        # pool 1:4 -> quote(0.5 T0) = 0.5*4/1 = 2 T1 <= 10: take 0.5 T0 + 2 T1
        ({"T0": 0.5, "T1": 10.0}, (0.5, 2.0)),
        # quote(5 T0) = 20 T1 > 2: take quote(2 T1) = 2*1/4 = 0.5 T0 + 2 T1
        ({"T0": 5.0, "T1": 2.0}, (0.5, 2.0)),
    ],
)
def test_later_deposits_take_the_router_optimal_ratio(offered, taken):
    ledger, pool = make_pool(1.0, 4.0)
    minted = pool.add_liquidity("trader", offered)
    # min(0.5*2/1, 2*2/4) = 1 LP
    assert minted == pytest.approx(1.0, rel=1e-15)
    assert ledger.balance_of("trader", "pool:LP") == minted
    assert pool.reserves() == {"T0": 1.0 + taken[0], "T1": 4.0 + taken[1]}
    assert ledger.balance_of("trader", "T0") == FUNDS - taken[0]
    assert ledger.balance_of("trader", "T1") == FUNDS - taken[1]
    ledger.check_conservation()


def test_donation_before_the_first_mint_goes_to_the_first_lp():
    # As in the pair: stored reserves are 0 before the first mint, so it counts the balances.
    ledger, pool = make_pool(0.0)
    ledger.transfer("T0", "trader", "pool", 3.0)
    minted = pool.add_liquidity("lp", {"T0": 1.0, "T1": 4.0})
    # sqrt(4 * 4) = 4 less the lock: two float steps of 4 (2 * 2**-50), more than 1e-15
    assert minted == 4.0 - 2.0**-49


def test_donation_moves_the_price_and_enriches_lps():
    ledger, pool = make_pool(5.0, 10.0)
    before = lp_share_value(ledger, pool)
    ledger.transfer("T1", "trader", "pool", 10.0)  # pool is now 5:20
    assert pool.spot_price("T0", "T1") == 4.0
    assert lp_share_value(ledger, pool) > before
    payout = pool.remove_liquidity("lp", ledger.balance_of("lp", "pool:LP"))
    assert payout["T1"] == pytest.approx(20.0, rel=1e-12)


# -- pool: swaps -----------------------------------------------------------------------------
def test_swap_token0_matches_uniswap_v2_pair_spec():
    # "swap:token0": pool 5:10, 1 token0 in -> 1662497915624478906 wei token1 out,
    # reserves 6 : 10 - out. Hand: 0.997*10/(5 + 0.997) = 9.97/5.997 = 1.66249791562...
    ledger, pool = make_pool(5.0, 10.0)
    k_before = pool.k
    assert pool.quote_exact_in("T0", "T1", 1.0) == pytest.approx(9.97 / 5.997, rel=1e-15)
    out = pool.swap_exact_in("trader", "T0", "T1", 1.0)
    assert out == pytest.approx(1662497915624478906 * WEI, rel=1e-12)
    assert pool.reserves() == {"T0": 6.0, "T1": 10.0 - out}
    assert ledger.balance_of("trader", "T0") == FUNDS - 1.0
    assert ledger.balance_of("trader", "T1") == FUNDS + out
    assert pool.k > k_before
    ledger.check_conservation()


def test_swap_token1_matches_uniswap_v2_pair_spec():
    # "swap:token1": 1 token1 in -> 453305446940074565 wei token0 = 0.997*5/10.997
    ledger, pool = make_pool(5.0, 10.0)
    out = pool.swap_exact_in("trader", "T1", "T0", 1.0)
    assert out == pytest.approx(453305446940074565 * WEI, rel=1e-12)
    assert pool.reserves() == {"T0": 5.0 - out, "T1": 11.0}


def test_swap_exact_out_matches_router01_swap_tokens_for_exact_tokens():
    ledger, pool = make_pool(5.0, 10.0)
    paid = pool.swap_exact_out("trader", "T0", "T1", 1.0)
    assert paid == pytest.approx(557227237267357629 * WEI, rel=1e-12)
    assert pool.reserves() == {"T0": 5.0 + paid, "T1": 9.0}
    assert ledger.balance_of("trader", "T1") == FUNDS + 1.0


def test_slippage_limits_are_inclusive():
    ledger, pool = make_pool(5.0, 10.0)
    out = pool.quote_exact_in("T0", "T1", 1.0)
    assert pool.swap_exact_in("trader", "T0", "T1", 1.0, min_amount_out=out) == out
    ledger, pool = make_pool(5.0, 10.0)
    cost = get_amount_in(1.0, 5.0, 10.0)
    assert pool.swap_exact_out("trader", "T0", "T1", 1.0, max_amount_in=cost) == cost


def test_spot_price_is_reserve_ratio_without_fee():
    ledger, pool = make_pool(5.0, 10.0)
    assert pool.spot_price("T0", "T1") == 2.0
    assert pool.spot_price("T1", "T0") == 0.5


def test_empty_and_drained_pools_refuse_clearly():
    ledger, pool = make_pool(0.0)
    for call in (
        lambda: pool.spot_price("T0", "T1"),
        lambda: pool.quote_exact_in("T0", "T1", 1.0),
        lambda: pool.swap_exact_out("trader", "T0", "T1", 1.0),
    ):
        with pytest.raises(InsufficientLiquidity, match="no liquidity"):
            call()
    # An exploit drains every T1: swaps, deposits and (as on chain) exits are all refused.
    ledger, pool = make_pool(5.0, 10.0)
    ledger.transfer("T1", "pool", "attacker", 10.0)
    before = ledger.snapshot()
    with pytest.raises(InsufficientLiquidity, match="no liquidity"):
        pool.swap_exact_in("trader", "T0", "T1", 1.0)
    with pytest.raises(InsufficientLiquidity, match="holds no T1"):
        pool.add_liquidity("trader", {"T0": 1.0, "T1": 1.0})
    with pytest.raises(InsufficientLiquidity, match="nothing"):
        pool.remove_liquidity("lp", 1.0)
    assert ledger.snapshot() == before


# -- refused calls change nothing ------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda p: p.swap_exact_in("nobody", "T0", "T1", 1.0), InsufficientBalance, "nobody"),
        (lambda p: p.swap_exact_in("trader", "T0", "T1", 0.0), InvalidAmount, "amount_in"),
        (lambda p: p.swap_exact_in("trader", "T0", "T1", -1.0), InvalidAmount, "amount_in"),
        (lambda p: p.swap_exact_in("trader", "T0", "T1", math.nan), InvalidAmount, "amount_in"),
        (lambda p: p.swap_exact_in("trader", "T0", "T1", 1.0, 1.7), SlippageExceeded, "min_amount"),
        (lambda p: p.swap_exact_in("trader", "T0", "T1", 1.0, -1.0), InvalidAmount, "min_amount"),
        (lambda p: p.swap_exact_in("trader", "T0", "T0", 1.0), InvalidAmount, "token_out"),
        (lambda p: p.swap_exact_in("trader", "DAI", "T1", 1.0), UnknownToken, "token_in"),
        (lambda p: p.swap_exact_in("trader", "T0", "DAI", 1.0), UnknownToken, "token_out"),
        (lambda p: p.swap_exact_in("trader", "T0", "T1", 1e7), InsufficientBalance, "trader"),
        (
            lambda p: p.swap_exact_out("trader", "T0", "T1", 10.0),
            InsufficientLiquidity,
            "amount_out",
        ),
        (
            lambda p: p.swap_exact_out("trader", "T0", "T1", 1.0, 0.5),
            SlippageExceeded,
            "max_amount",
        ),
        (
            lambda p: p.swap_exact_out("trader", "T0", "T1", 1.0, math.nan),
            InvalidAmount,
            "max_amount",
        ),
        (lambda p: p.swap_exact_out("trader", "T0", "T1", 0.0), InvalidAmount, "amount_out"),
        (lambda p: p.swap_exact_out("nobody", "T0", "T1", 1.0), InsufficientBalance, "nobody"),
        (lambda p: p.spot_price("T0", "DAI"), UnknownToken, "quote"),
        (lambda p: p.quote_exact_in("T1", "T1", 1.0), InvalidAmount, "token_out"),
        (lambda p: p.add_liquidity("lp", {"T0": 1.0}), InvalidAmount, "amounts"),
        (
            lambda p: p.add_liquidity("lp", {"T0": 1.0, "T1": 1.0, "X": 1.0}),
            InvalidAmount,
            "amounts",
        ),
        (lambda p: p.add_liquidity("lp", [1.0, 2.0]), InvalidAmount, "amounts"),
        (lambda p: p.add_liquidity("lp", {"T0": -1.0, "T1": 1.0}), InvalidAmount, "amounts"),
        (lambda p: p.add_liquidity("lp", {"T0": 0.0, "T1": 1.0}), InsufficientLiquidity, "no LP"),
        # has all the T0 but lacks the T1: the T0 must not move either
        (lambda p: p.add_liquidity("poor", {"T0": 1.0, "T1": 2.0}), InsufficientBalance, "T1"),
        (lambda p: p.remove_liquidity("lp", 100.0), InsufficientBalance, "lp_amount"),
        (lambda p: p.remove_liquidity("lp", 0.0), InvalidAmount, "lp_amount"),
        (lambda p: p.remove_liquidity("trader", 1.0), InsufficientBalance, "trader"),
    ],
)
def test_refused_pool_calls_raise_clearly_and_change_nothing(call, error, message):
    ledger, pool = make_pool(5.0, 10.0)
    ledger.transfer("T0", "trader", "poor", 1.0)
    ledger.transfer("T1", "trader", "poor", 1.0)
    before = ledger.snapshot()
    with pytest.raises(error, match=message):
        call(pool)
    assert ledger.snapshot() == before


@pytest.mark.parametrize(
    ("reserve0", "reserve1", "locked"),
    [
        (1.0, 4.0, MINIMUM_LIQUIDITY),  # sqrt 2: 1e-15 is 2.25 float steps of 2, kept
        (8.0, 8.0, 2 * 2.0**-49),  # sqrt 8 in [8, 16): 1e-15 is 0.56 of the step 2**-49
        (500.0, 1000.0, 2 * 2.0**-43),  # sqrt 707.1 in [512, 1024): step 2**-43
        (1e6, 1e6, 2 * 2.0**-33),  # sqrt 1e6 in [2**19, 2**20): step 2**-33
    ],
)
def test_the_first_lp_never_holds_the_whole_supply(reserve0, reserve1, locked):
    # UniswapV2Pair.mint locks MINIMUM_LIQUIDITY for good. A float supply cannot hold 1e-15
    # next to a first mint above ~8: the first LP owned all of it and its exit emptied the
    # pool to 0/0. The lock is two float steps there, which the supply does hold exactly.
    ledger, pool = make_pool(reserve0, reserve1)
    minted = ledger.balance_of("lp", "pool:LP")
    assert locked_liquidity(math.sqrt(reserve0 * reserve1)) == locked
    assert ledger.balance_of("pool:locked", "pool:LP") == locked
    assert ledger.total_supply("pool:LP") - minted == pytest.approx(locked, rel=0.15)
    pool.remove_liquidity("lp", minted)
    left = pool.reserves()
    assert left["T0"] > 0 and left["T1"] > 0
    assert ledger.total_supply("pool:LP") == pytest.approx(locked, rel=0.15)
    ledger.check_conservation()


def test_after_the_first_lp_leaves_the_lock_keeps_its_share_and_the_price():
    # Pool 500:1000, first mint sqrt(500000) = 707.1 LP of which 2**-42 are locked (two float
    # steps of 707.1). The exit burns a share 1 - 2**-42/707.1 = 1 - 3.2e-16, which rounds to
    # 1 - 3 * 2**-53: 3 float steps of each reserve stay, 3 * 2**-44 T0 and 3 * 2**-43 T1
    # (the lock's exact share is 1.61e-13 T0 : 3.22e-13 T1), at the price of 2 T1 per T0.
    ledger, pool = make_pool(500.0, 1000.0)
    payout = pool.remove_liquidity("lp", ledger.balance_of("lp", "pool:LP"))
    assert pool.reserves() == {"T0": 3 * 2.0**-44, "T1": 3 * 2.0**-43}
    assert payout == {"T0": 500.0 - 3 * 2.0**-44, "T1": 1000.0 - 3 * 2.0**-43}
    assert ledger.total_supply("pool:LP") == 2.0**-42
    assert pool.spot_price("T0", "T1") == 2.0
    # As on chain, the next deposit is not a first mint: it takes the pool's ratio, 1 T0 and
    # 2 T1, and mints 1 * 2**-42 / (3 * 2**-44) = 4/3 LP.
    assert pool.add_liquidity("lp", {"T0": 1.0, "T1": 4.0}) == pytest.approx(4 / 3, rel=1e-15)
    assert pool.reserves() == pytest.approx({"T0": 1.0, "T1": 2.0}, rel=1e-12)
    ledger.check_conservation()


def test_no_exit_empties_a_reserve_once_later_deposits_round_the_lock_away():
    # Four LPs of 25e6 : 25e6 each, as a scenario seeds a pool. The first mint locks 2**-27
    # (two float steps of 25e6); with a supply of 1e8 the step is 2**-26, and the first LP's
    # exit rounds 75e6 + 2**-27 to even: the lock is gone and the last LP held the whole float
    # supply, whose burn emptied the pool. The pair never pays a whole balance: the last
    # float step of each reserve, 2**-28, stays.
    ledger = Ledger()
    for token in ("T0", "T1"):
        ledger.create_token(token, issuer="mint")
    pool = ConstantProductPool(ledger, "pool", "T0", "T1")
    holders = [f"lp:{i}" for i in range(4)]
    for holder in holders:
        for token in ("T0", "T1"):
            ledger.mint(token, holder, 25e6, by="mint")
        pool.add_liquidity(holder, {"T0": 25e6, "T1": 25e6})
    for holder in holders:
        pool.remove_liquidity(holder, ledger.balance_of(holder, "pool:LP"))
    assert pool.reserves() == {"T0": 2.0**-28, "T1": 2.0**-28}
    assert pool.spot_price("T0", "T1") == 1.0
    assert ledger.balance_of("lp:3", "T0") == 25e6 - 2.0**-28
    ledger.check_conservation()


def test_a_swap_that_would_drain_the_pool_in_floats_is_refused():
    # 1e17 in on 1:1: R_in + g*a rounds to g*a, so the float output equals the whole reserve.
    ledger, pool = make_pool(1.0, 1.0)
    ledger.mint("T0", "whale", 1e17, by="mint")
    before = ledger.snapshot()
    with pytest.raises(InsufficientLiquidity, match="drain"):
        pool.swap_exact_in("whale", "T0", "T1", 1e17)
    assert ledger.snapshot() == before


@pytest.mark.parametrize(
    ("tokens", "fee", "error", "message"),
    [
        (("T0", "DAI"), 0.003, UnknownToken, "DAI"),
        (("T0", "T0"), 0.003, InvalidAmount, "token1"),
        (("T0", "T1"), 1.0, InvalidAmount, "fee"),
        (("T0", "T1"), "0.3%", InvalidAmount, "fee"),
    ],
)
def test_constructor_rejects_bad_pools_and_changes_nothing(tokens, fee, error, message):
    ledger, _ = make_pool(0.0)
    before = ledger.snapshot()
    with pytest.raises(error, match=message):
        ConstantProductPool(ledger, "other", *tokens, fee)
    assert ledger.snapshot() == before


def test_two_pools_cannot_share_a_name():
    ledger, _ = make_pool(0.0)
    with pytest.raises(LedgerError, match="already exists"):
        ConstantProductPool(ledger, "pool", "T1", "T0")


# -- properties ------------------------------------------------------------------------------
def swap_checking_k(pool, exact_in: bool, token_in: str, token_out: str, amount: float) -> float:
    """Swap as "trader" and check k grew by its real-number factor (R_in + a)/(R_in + g*a) >= 1.

    The shrunken reserve carries float rounding relative to its size *before* the trade, so
    the tolerance scales with how far it shrank (at fee 0, k may drop by those few ulps).
    """
    before, k_before = pool.reserves(), pool.k
    if exact_in:
        amount_in = amount
        result = pool.swap_exact_in("trader", token_in, token_out, amount)
    else:
        amount_in = result = pool.swap_exact_out("trader", token_in, token_out, amount)
    g = 1 - pool.fee
    growth = (before[token_in] + amount_in) / (before[token_in] + g * amount_in)
    rounding = 1e-15 * (1 + before[token_out] / pool.reserves()[token_out])
    assert pool.k / k_before == pytest.approx(growth, rel=rounding)
    assert pool.k >= k_before * (1 - rounding)
    return result


@given(
    reserve0=reserves_st,
    reserve1=reserves_st,
    fee=fees_st,
    amount=st.floats(1e-9, 1e5),
    zero_for_one=st.booleans(),
)
@HYPOTHESIS
def test_swaps_grow_k_by_the_fee_and_round_trips_never_profit(
    reserve0, reserve1, fee, amount, zero_for_one
):
    ledger, pool = make_pool(reserve0, reserve1, fee)
    token_in, token_out = ("T0", "T1") if zero_for_one else ("T1", "T0")
    out = swap_checking_k(pool, True, token_in, token_out, amount)
    back = swap_checking_k(pool, True, token_out, token_in, out)
    assert back <= amount * (1 + 1e-12)
    if fee >= 1e-4:
        assert back < amount
    ledger.check_conservation()


@given(
    reserve0=reserves_st,
    reserve1=reserves_st,
    fee=fees_st,
    deposit0=st.floats(1e-3, 1e5),
    deposit1=st.floats(1e-3, 1e5),
)
@HYPOTHESIS
def test_add_then_remove_never_returns_more_than_was_put_in(
    reserve0, reserve1, fee, deposit0, deposit1
):
    ledger, pool = make_pool(reserve0, reserve1, fee)
    ledger.mint("T0", "alice", deposit0, by="mint")
    ledger.mint("T1", "alice", deposit1, by="mint")
    pool.remove_liquidity("alice", pool.add_liquidity("alice", {"T0": deposit0, "T1": deposit1}))
    for token, deposit in zip(pool.tokens, (deposit0, deposit1), strict=True):
        # the router takes the pool ratio, so equal in reals; never more beyond float rounding
        assert ledger.balance_of("alice", token) <= deposit * (1 + 1e-12)
        assert ledger.balance_of("alice", token) == pytest.approx(deposit, rel=1e-9)
    ledger.check_conservation()


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["in01", "in10", "out01", "out10", "add", "remove", "donate"]),
        st.floats(1e-6, 1e3),
        st.floats(0.01, 0.99),  # never the whole LP balance: see the full-exit test
    ),
    min_size=5,
    max_size=25,
)


@given(fee=fees_st, operations=OPERATIONS)
# Found by hypothesis: a pool drained to 0.05 % of its liquidity, then swapped through at
# fee 0 - each swap shrinks a reserve ~10^4-fold, and k carries its ulps at the old size.
@example(fee=0.0, operations=[("in01", 1.0, 0.5), ("remove", 1.0, 0.96875),
                              ("remove", 1.0, 0.984375), ("in01", 891.0, 0.5),
                              ("in10", 221.0, 0.5)])
@HYPOTHESIS
def test_random_sequences_conserve_tokens_and_never_cheapen_lp_shares(fee, operations):
    ledger, pool = make_pool(100.0, 300.0, fee)
    share_value = lp_share_value(ledger, pool)
    for kind, amount, fraction in operations:
        before = ledger.snapshot()
        reserves = pool.reserves()
        try:
            if kind in ("in01", "in10", "out01", "out10"):
                path = ("T0", "T1") if kind.endswith("01") else ("T1", "T0")
                swap_checking_k(pool, kind.startswith("in"), *path, amount)
            elif kind == "add":
                pool.add_liquidity("trader", {"T0": amount, "T1": amount * fraction * 10})
            elif kind == "remove":
                pool.remove_liquidity("lp", fraction * ledger.balance_of("lp", "pool:LP"))
            else:
                ledger.transfer("T0", "trader", "pool", amount)
        except (InsufficientLiquidity, InsufficientBalance):
            # buying a whole reserve, emptying the pool, or an exact-out the trader cannot
            # afford (near a drained reserve the price is astronomical): refused unchanged
            assert ledger.snapshot() == before
            continue
        ledger.check_conservation()
        new_value = lp_share_value(ledger, pool)
        # Float rounding only: the few ulps of each reserve, relative to its size before the
        # operation (as in swap_checking_k), on top of a fixed 1e-9.
        shrink = max(reserves[t] / r for t, r in pool.reserves().items() if r > 0)
        assert new_value >= share_value * (1 - 1e-9 - 1e-15 * shrink)
        share_value = new_value


@given(
    reserve_in=st.floats(1e-6, 1e15), reserve_out=st.floats(1e-6, 1e15),
    rate=st.floats(1e-9, 1e9), fee=st.sampled_from([0.0, 0.0005, 0.003, 0.01]),
)
def test_the_pools_scalar_input_to_rate_is_the_public_formula_bit_for_bit(
    reserve_in: float, reserve_out: float, rate: float, fee: float
) -> None:
    """The pool sizes arbitrage with a float kernel; it must give exactly the numpy formula."""
    expected = float(amount_in_to_target_price(reserve_in, reserve_out, rate, fee))
    assert _input_to_rate(reserve_in, reserve_out, rate, 1.0 - fee) == expected
