"""Tests of the Uniswap v3 math (`protocols.amm.v3_math`) and the concentrated-liquidity pool.

Reference vectors come from Uniswap/v3-core test/TickMath.spec.ts, SqrtPriceMath.spec.ts,
SwapMath.spec.ts, test/__snapshots__/UniswapV3Pool.swaps.spec.ts.snap and v3-periphery
test/LiquidityAmounts.spec.ts, converted from Q64.96 (sqrt price = X96 / 2**96) and wei
(amount / 1e18, as `expandTo18Decimals`).
"""

import contextlib
import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.v3_math import (
    MAX_SQRT_PRICE,
    MAX_TICK,
    MIN_SQRT_PRICE,
    MIN_TICK,
    amounts_for_liquidity,
    compute_swap_step,
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
    impermanent_loss_v3,
    liquidity_for_amounts,
    sqrt_price_to_tick,
    tick_to_sqrt_price,
)
from protocols.errors import (
    InsufficientBalance,
    InsufficientLiquidity,
    InvalidAmount,
    SlippageExceeded,
    UnknownToken,
)
from protocols.ledger import Ledger

Q96 = 2**96
Q128 = 2**128
WAD = 10**18
FAST = settings(max_examples=100, deadline=None)


def x96(value: int) -> float:
    return value / Q96


# -- TickMath -----------------------------------------------------------------------------
def test_tick_zero_and_one():
    assert tick_to_sqrt_price(0) == 1.0
    assert tick_to_sqrt_price(1) == pytest.approx(math.sqrt(1.0001), rel=1e-15)
    assert tick_to_sqrt_price(-1) == pytest.approx(1 / math.sqrt(1.0001), rel=1e-15)


@pytest.mark.parametrize(
    ("tick", "ratio_x96", "rel"),
    [
        # TickMath.spec 'min tick', 'min tick +1', 'max tick - 1', 'max tick'. The contract
        # rounds up to an integer; at the min ticks that integer has 10 digits (2.3e-10).
        (MIN_TICK, 4295128739, 3e-10),
        (MIN_TICK + 1, 4295343490, 3e-10),
        (MAX_TICK - 1, 1461373636630004318706518188784493106690254656249, 1e-14),
        (MAX_TICK, 1461446703485210103287273052203988822378723970342, 1e-14),
    ],
)
def test_extreme_ticks_match_tickmath(tick, ratio_x96, rel):
    assert tick_to_sqrt_price(tick) == pytest.approx(x96(ratio_x96), rel=rel)


def test_min_max_sqrt_price_are_the_extreme_ticks():
    assert tick_to_sqrt_price(MIN_TICK) == MIN_SQRT_PRICE
    assert tick_to_sqrt_price(MAX_TICK) == MAX_SQRT_PRICE
    # 2**-64 and 2**64 are the TickMath design bounds (prices 2**-128 .. 2**128).
    assert pytest.approx(2**-64, rel=1e-4) == MIN_SQRT_PRICE
    assert pytest.approx(2**64, rel=1e-4) == MAX_SQRT_PRICE


@pytest.mark.parametrize("tick", [MIN_TICK - 1, MAX_TICK + 1, 1.5, True, "3", None])
def test_invalid_ticks_rejected(tick):
    with pytest.raises(InvalidAmount, match="tick"):
        tick_to_sqrt_price(tick)


@pytest.mark.parametrize(
    ("ratio_x96", "tick"),
    [
        # TickMath.spec '#getTickAtSqrtRatio' boundary vectors
        (4295128739, MIN_TICK),
        (4295343490, MIN_TICK + 1),
        (1461373636630004318706518188784493106690254656249, MAX_TICK - 1),
        (Q96, 0),
        (79228162514264337593543950336 + 1, 0),
    ],
)
def test_sqrt_price_to_tick_vectors(ratio_x96, tick):
    assert sqrt_price_to_tick(x96(ratio_x96)) == tick


def test_sqrt_price_to_tick_at_the_bounds():
    assert sqrt_price_to_tick(MIN_SQRT_PRICE) == MIN_TICK
    # 'ratio closest to max tick': the bound itself is excluded, as in the contract
    assert sqrt_price_to_tick(math.nextafter(MAX_SQRT_PRICE, 0)) == MAX_TICK - 1
    for bad in (MAX_SQRT_PRICE, math.nextafter(MIN_SQRT_PRICE, 0), 0.0, -1.0, math.nan, math.inf):
        with pytest.raises(InvalidAmount, match="sqrt_price"):
            sqrt_price_to_tick(bad)


@pytest.mark.parametrize(
    "price", ["1e12", "1e6", "0.015625", "0.125", "0.5", "1", "2", "8", "64", "1e-6", "1e-12"]
)
def test_sqrt_price_to_tick_matches_exact_log(price):
    # The TickMath.spec ratio list; reference floor(log_1.0001(price)) in 60-digit decimals.
    with localcontext() as context:
        context.prec = 60
        exact = math.floor(Decimal(price).ln() / Decimal("1.0001").ln())
    assert sqrt_price_to_tick(math.sqrt(float(price))) == exact


@FAST
@given(st.integers(MIN_TICK, MAX_TICK - 1))
def test_tick_round_trip(tick):
    assert sqrt_price_to_tick(tick_to_sqrt_price(tick)) == tick
    # a hair below a tick's price belongs to the tick below
    if tick > MIN_TICK:
        assert sqrt_price_to_tick(math.nextafter(tick_to_sqrt_price(tick), 0)) == tick - 1


@FAST
@given(st.floats(math.log(MIN_SQRT_PRICE), math.log(MAX_SQRT_PRICE)))
def test_sqrt_price_to_tick_brackets_the_price(log_sqrt):
    sqrt_price = min(max(math.exp(log_sqrt), MIN_SQRT_PRICE), math.nextafter(MAX_SQRT_PRICE, 0))
    tick = sqrt_price_to_tick(sqrt_price)
    assert tick_to_sqrt_price(tick) <= sqrt_price < tick_to_sqrt_price(tick + 1)


# -- SqrtPriceMath ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("liquidity", "amount", "zero_for_one", "expected_x96"),
    [
        # SqrtPriceMath.spec #getNextSqrtPriceFromInput 'input amount of 0.1 token1 / token0'
        (1.0, 0.1, False, 87150978765690771352898345369),  # 1 + 0.1/1 = 1.1
        (1.0, 0.1, True, 72025602285694852357767227579),  # 1*1 / (1 + 0.1*1) = 1/1.1
        # 'amountIn > type(uint96).max and zeroForOne = true': 10 / (10 + 2**100 / 1e18)
        (10.0, 2**100 / WAD, True, 624999999995069620),
    ],
)
def test_next_sqrt_price_from_input_vectors(liquidity, amount, zero_for_one, expected_x96):
    result = get_next_sqrt_price_from_input(1.0, liquidity, amount, zero_for_one)
    assert result == pytest.approx(x96(expected_x96), rel=1e-12)


@pytest.mark.parametrize(
    ("zero_for_one", "expected_x96"),
    [
        # SqrtPriceMath.spec #getNextSqrtPriceFromOutput 'output amount of 0.1 token1' (both)
        (False, 88031291682515930659493278152),  # token0 out: 1*1 / (1 - 0.1) = 1/0.9
        (True, 71305346262837903834189555302),  # token1 out: 1 - 0.1/1 = 0.9
    ],
)
def test_next_sqrt_price_from_output_vectors(zero_for_one, expected_x96):
    result = get_next_sqrt_price_from_output(1.0, 1.0, 0.1, zero_for_one)
    assert result == pytest.approx(x96(expected_x96), rel=1e-12)


@pytest.mark.parametrize(
    "function", [get_next_sqrt_price_from_input, get_next_sqrt_price_from_output]
)
@pytest.mark.parametrize("zero_for_one", [True, False])
def test_next_sqrt_price_zero_amount_returns_the_price(function, zero_for_one):
    assert function(1.0, 0.1, 0.0, zero_for_one) == 1.0


def test_next_sqrt_price_from_output_virtual_reserve_limits():
    # SqrtPriceMath.spec: price 20282409603651670423947251286016 (= 256 * 2**96), liquidity
    # 1024 wei. Virtual reserves: token0 = L/s = 4 wei, token1 = L*s = 262144 wei.
    sqrt_price, liquidity = x96(20282409603651670423947251286016), 1024 / WAD
    assert sqrt_price == 256.0
    for amount_out in (4 / WAD, 5 / WAD):  # 'fails if output amount is (greater than) exactly..'
        with pytest.raises(InsufficientLiquidity, match="amount"):
            get_next_sqrt_price_from_output(sqrt_price, liquidity, amount_out, False)
    # 'fails if output amount is (greater than) exactly the virtual reserves of token1': the
    # released contract requires sqrtPX96 > quotient (an early version returned price 0).
    for amount_out in (262144 / WAD, 262145 / WAD):
        with pytest.raises(InsufficientLiquidity, match="token1 reaches the virtual reserve"):
            get_next_sqrt_price_from_output(sqrt_price, liquidity, amount_out, True)
    # 'succeeds if output amount is just less than the virtual reserves of token1':
    # 256 - 262143 / 1024 = 2**-10, i.e. 77371252455336267181195264 / 2**96 (the float
    # 262143e-18 is off by an ulp, which the subtraction amplifies 2.6e5-fold).
    result = get_next_sqrt_price_from_output(sqrt_price, liquidity, 262143 / WAD, True)
    assert x96(77371252455336267181195264) == 2.0**-10
    assert result == pytest.approx(2.0**-10, rel=1e-10)


@pytest.mark.parametrize(
    "function", [get_next_sqrt_price_from_input, get_next_sqrt_price_from_output]
)
def test_next_sqrt_price_rejects_zero_price_or_liquidity(function):
    with pytest.raises(InvalidAmount, match="sqrt_price"):
        function(0.0, 1.0, 0.1, False)
    with pytest.raises(InvalidAmount, match="liquidity"):
        function(1.0, 0.0, 0.1, True)
    with pytest.raises(InvalidAmount, match="amount"):
        function(1.0, 1.0, -0.1, True)


def test_amount_deltas_vectors():
    # SqrtPriceMath.spec 'returns 0.1 amount1 for price of 1 to 1.21' (sqrt 1 -> 1.1, L = 1):
    # amount0 = 1 * (1.1 - 1) / (1.1 * 1) = 0.0909... (contract 90909090909090910 wei, rounded
    # up), amount1 = 1 * (1.1 - 1) = 0.1; order free.
    assert get_amount0_delta(1.1, 1.0, 1.0) == pytest.approx(90909090909090910 / WAD, rel=1e-15)
    assert get_amount0_delta(1.0, 1.1, 1.0) == get_amount0_delta(1.1, 1.0, 1.0)
    assert get_amount1_delta(1.0, 1.1, 1.0) == pytest.approx(0.1, rel=1e-15)
    assert get_amount1_delta(1.1, 1.0, 1.0) == get_amount1_delta(1.0, 1.1, 1.0)
    # 'returns 0 if liquidity is 0' / 'if prices are equal'
    assert get_amount0_delta(math.sqrt(2), 1.0, 0.0) == 0.0
    assert get_amount1_delta(1.0, math.sqrt(2), 0.0) == 0.0
    assert get_amount0_delta(1.0, 1.0, 5.0) == get_amount1_delta(1.0, 1.0, 5.0) == 0.0


@pytest.mark.parametrize("function", [get_amount0_delta, get_amount1_delta])
def test_amount_deltas_reject_bad_input(function):
    with pytest.raises(InvalidAmount, match="sqrt_a"):
        function(0.0, 1.0, 1.0)
    with pytest.raises(InvalidAmount, match="sqrt_b"):
        function(1.0, math.inf, 1.0)
    with pytest.raises(InvalidAmount, match="liquidity"):
        function(1.0, 2.0, -1.0)


# -- SwapMath -----------------------------------------------------------------------------
SQRT_1_01 = math.sqrt(1.01)


def test_swap_step_exact_in_capped_at_target():
    # SwapMath.spec 'exact amount in that gets capped at price target in one for zero':
    # price 1, target sqrt(101/100), L = 2, amount 1, fee 600 pips.
    sqrt_next, amount_in, amount_out, fee = compute_swap_step(1.0, SQRT_1_01, 2.0, 1.0, 0.0006)
    assert sqrt_next == SQRT_1_01
    assert amount_in == pytest.approx(9975124224178055 / WAD, rel=1e-12)  # 2 * (sqrt 1.01 - 1)
    assert fee == pytest.approx(5988667735148 / WAD, rel=1e-9)  # amount_in * 0.0006 / 0.9994
    assert amount_out == pytest.approx(9925619580021728 / WAD, rel=1e-12)
    assert amount_in + fee < 1.0
    assert sqrt_next < get_next_sqrt_price_from_input(1.0, 2.0, 1.0, False)


def test_swap_step_exact_out_capped_at_target():
    # 'exact amount out that gets capped at price target in one for zero': same, amount -1
    sqrt_next, amount_in, amount_out, fee = compute_swap_step(1.0, SQRT_1_01, 2.0, -1.0, 0.0006)
    assert sqrt_next == SQRT_1_01
    assert amount_in == pytest.approx(9975124224178055 / WAD, rel=1e-12)
    assert fee == pytest.approx(5988667735148 / WAD, rel=1e-9)
    assert amount_out == pytest.approx(9925619580021728 / WAD, rel=1e-12)
    assert amount_out < 1.0


def test_swap_step_exact_in_fully_spent():
    # 'exact amount in that is fully spent in one for zero': target sqrt(1000/100)
    sqrt_next, amount_in, amount_out, fee = compute_swap_step(1.0, math.sqrt(10), 2.0, 1.0, 0.0006)
    assert amount_in == pytest.approx(999400000000000000 / WAD, rel=1e-12)  # 1 * (1 - 0.0006)
    assert fee == pytest.approx(600000000000000 / WAD, rel=1e-9)
    # s' = 1 + 0.9994 / 2 = 1.4997; out = 2 * (1 - 1 / 1.4997) = 0.66639994665599786...
    assert amount_out == pytest.approx(666399946655997866 / WAD, rel=1e-12)
    assert amount_in + fee == pytest.approx(1.0, rel=1e-15)
    assert sqrt_next < math.sqrt(10)
    assert sqrt_next == get_next_sqrt_price_from_input(1.0, 2.0, 1.0 - fee, False)


def test_swap_step_exact_out_fully_received():
    # 'exact amount out that is fully received in one for zero': target sqrt(10000/100)
    sqrt_next, amount_in, amount_out, fee = compute_swap_step(1.0, 10.0, 2.0, -1.0, 0.0006)
    # 1 token0 out of L = 2 at s = 1: s' = 2 / (2 - 1) = 2, amount_in = 2 * (2 - 1) = 2
    assert amount_in == pytest.approx(2000000000000000000 / WAD, rel=1e-12)
    assert fee == pytest.approx(1200720432259356 / WAD, rel=1e-12)  # 2 * 0.0006 / 0.9994
    assert amount_out == 1.0
    assert sqrt_next == pytest.approx(2.0, rel=1e-15)
    assert sqrt_next == get_next_sqrt_price_from_output(1.0, 2.0, 1.0, False)


@pytest.mark.parametrize(
    ("ratio", "amount_remaining", "expected_wei"),
    [
        # 'handles intermediate insufficient liquidity in zero for one exact output case' and
        # '... one for zero ...': sqrt price 256, L = 1024 wei, fee 3000 pips. The contract's
        # integers round; the float amounts must lie within 1 wei of them.
        (1.1, -4, (26215, 0, 79)),  # in = L*25.6 = 26214.4 wei, out 0.36 wei, fee 78.9 wei
        (0.9, -263000, (1, 26214, 1)),  # in = L*(1/230.4 - 1/256) = 0.44 wei, out 26214.4 wei
    ],
)
def test_swap_step_intermediate_insufficient_liquidity(ratio, amount_remaining, expected_wei):
    sqrt_price = x96(20282409603651670423947251286016)
    target = sqrt_price * ratio
    sqrt_next, *amounts = compute_swap_step(
        sqrt_price, target, 1024 / WAD, amount_remaining / WAD, 0.003
    )
    assert sqrt_next == target
    for amount, expected in zip(amounts, expected_wei, strict=True):
        assert abs(amount * WAD - expected) <= 1


@pytest.mark.parametrize("zero_for_one", [True, False])
def test_swap_step_never_overshoots_the_target(zero_for_one):
    # An input one ulp short of reaching the target: the next price computed from it may round
    # past the target in floats (the contract's rounding rules this out); it must not.
    for k in range(200):
        sqrt_price, liquidity = 1 + k / 997, 0.1 + k / 7
        target = sqrt_price * (0.9 if zero_for_one else 1.1)
        to_target = (get_amount0_delta if zero_for_one else get_amount1_delta)(
            sqrt_price, target, liquidity
        )
        sqrt_next, *_ = compute_swap_step(
            sqrt_price, target, liquidity, math.nextafter(to_target, 0), 0.0
        )
        assert min(sqrt_price, target) <= sqrt_next <= max(sqrt_price, target)


def test_swap_step_with_zero_liquidity_jumps_to_the_target():
    assert compute_swap_step(1.0, 0.5, 0.0, 3.0, 0.003) == (0.5, 0.0, 0.0, 0.0)
    assert compute_swap_step(1.0, 2.0, 0.0, -3.0, 0.003) == (2.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sqrt_price": 0.0}, "sqrt_price"),
        ({"sqrt_target": -1.0}, "sqrt_target"),
        ({"liquidity": -1.0}, "liquidity"),
        ({"amount_remaining": math.nan}, "amount_remaining"),
        ({"amount_remaining": "1"}, "amount_remaining"),
        ({"fee": 1.0}, "fee"),
    ],
)
def test_swap_step_rejects_bad_input(kwargs, match):
    args = {"sqrt_price": 1.0, "sqrt_target": 2.0, "liquidity": 1.0, "amount_remaining": 1.0}
    args["fee"] = 0.003
    args.update(kwargs)
    with pytest.raises(InvalidAmount, match=match):
        compute_swap_step(**args)


@FAST
@given(
    st.floats(0.1, 10),
    st.floats(0.5, 2),
    st.floats(1e-3, 1e6),
    st.floats(1e-6, 10),
    st.sampled_from([0.0, 0.0001, 0.0005, 0.003, 0.01]),
    st.booleans(),
)
def test_swap_step_invariants(sqrt_price, ratio, liquidity, fraction, fee, exact_in):
    # amounts relative to L: a trade of 1e-9 L moves the sqrt price by few ulps only
    target, amount = sqrt_price * ratio, fraction * liquidity
    remaining = amount if exact_in else -amount
    sqrt_next, amount_in, amount_out, fee_amount = compute_swap_step(
        sqrt_price, target, liquidity, remaining, fee
    )
    assert min(sqrt_price, target) <= sqrt_next <= max(sqrt_price, target)
    assert amount_in >= 0 and amount_out >= 0
    if exact_in:
        assert amount_in + fee_amount <= amount * (1 + 1e-12)
    else:
        assert amount_out <= amount
    if sqrt_next != target:  # the amount is used up
        used = amount_in + fee_amount if exact_in else amount_out
        assert used == pytest.approx(amount, rel=1e-9)


# Dust: one ulp of sqrt price at 2.5 is 2**-51 = 4.44e-16. On L = 1e24 that ulp is worth
# L * 2**-51 = 4.44e8 token1, or L * 2**-51 / (2.5 * 2.5) = 7.1e7 token0: floats cannot move
# the price by less, where the contract's Q64.96 price moves by 2**-96.
DUST_L, ULP_AT_2_5 = 1e24, 2.0**-51


def test_swap_step_dust_input_is_all_fee():
    # 1e-9 token0 in, 0.997e-9 after the fee, cannot pay for one ulp of price. The float
    # L*s / (L + a*s) rounds one ulp down all the same, which booked in 7.1e7, out 4.4e8 and a
    # fee of -7.1e7. SwapMath.computeSwapStep rounds the price so that amountIn <=
    # amountRemainingLessFee, and keeps what is left as fee: here all of it.
    step = compute_swap_step(2.5, 1.25, DUST_L, 1e-9, 0.003)
    assert step == (2.5, 0.0, 0.0, 1e-9)


def test_swap_step_dust_output_moves_the_price_one_ulp_and_pays_for_it():
    # 1e-9 token1 out: s - 1e-9 / L rounds back to 2.5, which paid 0 for it. The contract
    # rounds the price to move at least as far as the output needs (getNextSqrtPriceFromOutput):
    # in floats one ulp, 2.5 - 2**-51, which costs L * 2**-51 / (2.5 * (2.5 - 2**-51))
    # = 71,054,273.576 token0 plus the fee; the output is capped at the 1e-9 asked.
    sqrt_next, amount_in, amount_out, fee = compute_swap_step(2.5, 1.25, DUST_L, -1e-9, 0.003)
    assert sqrt_next == 2.5 - ULP_AT_2_5
    assert amount_in == pytest.approx(71054273.576, rel=1e-11)
    assert amount_in == pytest.approx(DUST_L * ULP_AT_2_5 / (2.5 * sqrt_next), rel=1e-15)
    assert amount_out == 1e-9
    assert fee == pytest.approx(amount_in * 0.003 / 0.997, rel=1e-15)


def exact_step(sqrt_price, liquidity, amount, zero_for_one, exact_in):
    """Exact-math counterpart of a step that stops short of its target, without the float
    cancellation of a price difference: the output for net input `amount`, or the input for
    output `amount` (constant product on the virtual reserves, whitepaper eqs. 6.13-6.16)."""
    s, big_l = sqrt_price, liquidity
    if exact_in:
        if zero_for_one:  # s' = L s / (L + a s): out1 = L (s - s')
            return amount * s * s / (1 + amount * s / big_l)
        return amount / (s * (s + amount / big_l))  # s' = s + a / L: out0 = L (1/s - 1/s')
    if zero_for_one:  # s' = s - b / L: in0 = L (1/s' - 1/s)
        return amount / (s * (s - amount / big_l))
    return amount * s * s / (1 - amount * s / big_l)  # s' = L s / (L - b s): in1 = L (s' - s)


@FAST
@given(
    sqrt_price=st.floats(0.01, 100),
    ratio=st.sampled_from([0.5, 0.99, 1.01, 2.0]),
    liquidity=st.floats(1e3, 1e24),
    fraction=st.floats(1e-22, 1e-6),
    fee=st.sampled_from([0.0, 0.0005, 0.003, 0.01]),
    exact_in=st.booleans(),
)
# found by hypothesis: L*s / (L - b*s) rounded an ulp below the start, a step backwards
@example(sqrt_price=0.01, ratio=1.01, liquidity=1.5140817179000776e16, fraction=1e-22, fee=0.0,
         exact_in=False)
def test_swap_step_dust_never_books_a_negative_fee_or_pays_beyond_the_exact_math(
    sqrt_price, ratio, liquidity, fraction, fee, exact_in
):
    # amounts down to 1e-22 of the input token's virtual reserve: far below one float ulp
    target = sqrt_price * ratio
    zero_for_one = ratio < 1
    amount = fraction * liquidity * (1 / sqrt_price if zero_for_one else sqrt_price)
    sqrt_next, amount_in, amount_out, fee_amount = compute_swap_step(
        sqrt_price, target, liquidity, amount if exact_in else -amount, fee
    )
    assert min(sqrt_price, target) <= sqrt_next <= max(sqrt_price, target)
    assert amount_in >= 0 and amount_out >= 0 and fee_amount >= 0
    if exact_in:
        assert amount_in + fee_amount <= amount * (1 + 1e-12)
        exact_out = exact_step(sqrt_price, liquidity, amount * (1 - fee), zero_for_one, True)
        assert amount_out <= exact_out * (1 + 1e-12)
    else:
        assert amount_out <= amount
        if sqrt_next != target:  # filled: it paid at least the exact input, fee aside
            exact_in_needed = exact_step(sqrt_price, liquidity, amount, zero_for_one, False)
            assert amount_out == amount
            assert amount_in >= exact_in_needed * (1 - 1e-12)


# -- LiquidityAmounts ---------------------------------------------------------------------
SQRT_LOW, SQRT_HIGH = math.sqrt(100 / 110), math.sqrt(110 / 100)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        # LiquidityAmounts.spec: range [100/110, 110/100], amounts (100, 200) wei; the contract
        # floors. Inside at 1: min(100*1*1.0488/0.0488, 200/(1-0.9535)) = 2148.8 -> 2148.
        (1.0, 2148),
        (99 / 100, 1938),
        (111 / 100, 2097),  # above the range: 200 / (1.0488 - 0.9535) = 2097.6
    ],
)
def test_liquidity_for_amounts_vectors(price, expected):
    liquidity = liquidity_for_amounts(math.sqrt(price), SQRT_LOW, SQRT_HIGH, 100.0, 200.0)
    assert math.floor(liquidity) == expected


def test_amounts_for_liquidity_cases():
    # range sqrt [0.9, 1.1], L = 1: below it only token0 = (1.1 - 0.9) / (0.9 * 1.1),
    # above it only token1 = 1.1 - 0.9, inside at s = 1 both: (0.1 / 1.1, 0.1)
    assert amounts_for_liquidity(0.5, 0.9, 1.1, 1.0) == pytest.approx((0.2 / 0.99, 0.0))
    assert amounts_for_liquidity(0.9, 0.9, 1.1, 1.0) == pytest.approx((0.2 / 0.99, 0.0))
    assert amounts_for_liquidity(1.0, 1.1, 0.9, 1.0) == pytest.approx((0.1 / 1.1, 0.1))
    assert amounts_for_liquidity(1.1, 0.9, 1.1, 1.0) == pytest.approx((0.0, 0.2))
    assert amounts_for_liquidity(3.0, 0.9, 1.1, 1.0) == pytest.approx((0.0, 0.2))


def test_liquidity_amounts_reject_empty_range_and_bad_amounts():
    with pytest.raises(InvalidAmount, match="sqrt_b"):
        liquidity_for_amounts(1.0, 1.1, 1.1, 1.0, 1.0)
    with pytest.raises(InvalidAmount, match="amount0"):
        liquidity_for_amounts(1.0, 0.9, 1.1, -1.0, 1.0)
    with pytest.raises(InvalidAmount, match="liquidity"):
        amounts_for_liquidity(1.0, 0.9, 1.1, math.inf)


AMOUNTS = st.one_of(st.just(0.0), st.floats(1e-6, 1e6))


@FAST
@given(st.floats(0.5, 2.0), st.floats(0.6, 1.0), st.floats(1.0, 1.7), AMOUNTS, AMOUNTS)
def test_liquidity_amounts_round_trip(sqrt_price, sqrt_a, sqrt_b, amount0, amount1):
    if sqrt_a == sqrt_b:
        return
    liquidity = liquidity_for_amounts(sqrt_price, sqrt_a, sqrt_b, amount0, amount1)
    need0, need1 = amounts_for_liquidity(sqrt_price, sqrt_a, sqrt_b, liquidity)
    assert need0 <= amount0 * (1 + 1e-12) and need1 <= amount1 * (1 + 1e-12)
    # the binding token is used in full
    used = [need0 / amount0 if amount0 else 0.0, need1 / amount1 if amount1 else 0.0]
    if liquidity > 0:
        assert max(used) == pytest.approx(1.0, rel=1e-9)


# -- impermanent loss ---------------------------------------------------------------------
def test_impermanent_loss_full_range_is_v2():
    ratios = np.array([0.25, 0.5, 0.9, 1.0, 1.21, 2.0, 4.0])
    loss = impermanent_loss_v3(1.0, np.sqrt(ratios), MIN_SQRT_PRICE, MAX_SQRT_PRICE)
    np.testing.assert_allclose(loss, 2 * np.sqrt(ratios) / (1 + ratios) - 1, atol=1e-12)
    assert loss.shape == ratios.shape


def test_impermanent_loss_concentrated_hand_computed():
    # range sqrt [0.9, 1.1], start at price 1 with L = 1: holds 0.1/1.1 token0 + 0.1 token1.
    # At price 1.21 (top of range) the LP holds 0.2 token1; holding is worth
    # 0.1/1.1 * 1.21 + 0.1 = 0.21, so the loss is 0.2 / 0.21 - 1 = -1/21 (v2: -0.45 %).
    assert impermanent_loss_v3(1.0, 1.1, 0.9, 1.1) == pytest.approx(-1 / 21, rel=1e-12)
    # at price 4 (out of range) still 0.2 token1 against 0.1/1.1 * 4 + 0.1
    assert impermanent_loss_v3(1.0, 2.0, 0.9, 1.1) == pytest.approx(0.2 / (0.4 / 1.1 + 0.1) - 1)
    assert impermanent_loss_v3(1.0, 1.0, 0.9, 1.1) == 0.0


def test_impermanent_loss_rejects_bad_prices():
    with pytest.raises(InvalidAmount, match="sqrt_price"):
        impermanent_loss_v3(1.0, np.array([1.0, -1.0]), 0.9, 1.1)
    with pytest.raises(InvalidAmount, match="sqrt_price_initial"):
        impermanent_loss_v3(0.0, 1.0, 0.9, 1.1)


# -- the pool: fixtures -------------------------------------------------------------------
T0, T1 = "T0", "T1"
BIG = 1e12


def make_pool(fee=0.003, spacing=60, sqrt_price=1.0, positions=(), funds=BIG):
    ledger = Ledger()
    for token in (T0, T1):
        ledger.create_token(token, "issuer")
        for holder in ("lp", "lp2", "trader"):
            ledger.mint(token, holder, funds, by="issuer")
    pool = ConcentratedLiquidityPool(ledger, "v3", T0, T1, fee, spacing, sqrt_price)
    ids = [pool.mint("lp", lower, upper, liquidity) for lower, upper, liquidity in positions]
    return ledger, pool, ids


def snapshot(ledger, pool, ids):
    """Everything a rejected call must leave untouched."""
    return (
        {h: ledger.balances_of(h) for h in ledger.all_holders()},
        (pool.sqrt_price, pool.tick, pool.liquidity, pool.fee_growth_global),
        pool.initialized_ticks(),
        {i: pool.position(i) for i in ids},
    )


def active_liquidity(pool, ids):
    """Brute force: the liquidity of the positions whose range holds the current tick."""
    positions = [pool.position(i) for i in ids]
    return sum(p.liquidity for p in positions if p.tick_lower <= pool.tick < p.tick_upper)


# -- the pool: UniswapV3Pool.swaps.spec vectors -------------------------------------------
# Pool setups of the snapshot, 2e18 liquidity per position; 'max range' is getMin/MaxTick.
FULL = (-887220, 887220, 2.0)
SWAP_POOLS = {
    # 'medium fee, 1:1 price, 2e18 max range liquidity' (and 10:1, 1:10 prices)
    "medium": (0.003, 60, 1.0, [FULL]),
    "medium 10:1": (0.003, 60, math.sqrt(10), [FULL]),
    "medium 1:10": (0.003, 60, math.sqrt(0.1), [FULL]),
    # 'medium fee, 1:1 price, 0 liquidity, all liquidity around current price'
    "medium gap": (0.003, 60, 1.0, [(-887220, -60, 2.0), (60, 887220, 2.0)]),
    # 'medium fee, 1:1 price, additional liquidity around current price'
    "medium extra": (0.003, 60, 1.0, [FULL, (-887220, -60, 2.0), (60, 887220, 2.0)]),
    # 'low fee, 1:1 price, 2e18 max range liquidity', 'high fee, ...'
    "low": (0.0005, 10, 1.0, [(-887270, 887270, 2.0)]),
    "high": (0.01, 200, 1.0, [(-887200, 887200, 2.0)]),
    # 'low fee, large liquidity around current price (stable swap)'
    "low stable": (0.0005, 10, 1.0, [(-10, 10, 2.0)]),
    # 'medium fee, token1 liquidity only'
    "token1 only": (0.003, 60, 1.0, [(-120000, 0, 2.0)]),
}

# (pool, swap, amount0Delta, amount1Delta, tickAfter) from the snapshot, in wei. A swap is
# ("in", zero_for_one, amount) | ("out", zero_for_one, amount) | ("to", zero_for_one, price).
SWAP_VECTORS = [
    ("medium", ("in", True, 1), 10**18, -665331998665331998, -8090),
    ("medium", ("in", False, 1), -665331998665331998, 10**18, 8089),
    ("medium", ("out", True, 1), 2006018054162487463, -(10**18), -13864),
    ("medium", ("out", False, 1), -(10**18), 2006018054162487463, 13863),
    ("medium", ("to", True, 0.4), 1165774985123750584, -735088935932648267, -9164),
    ("medium", ("to", False, 2.5), -735088935932648267, 1165774985123750584, 9163),
    ("medium gap", ("in", True, 1), 10**18, -662011820624678025, -8130),
    ("medium gap", ("in", False, 1), -662011820624678025, 10**18, 8129),
    ("medium gap", ("out", True, 1), 2024171064311638316, -(10**18), -13984),
    ("medium gap", ("to", True, 0.4), 1159748196632793863, -729098226020826705, -9164),
    ("medium extra", ("in", True, 1), 10**18, -795933705287758544, -4476),
    ("medium extra", ("out", True, 1), 1342022152495072924, -(10**18), -5794),
    ("medium extra", ("out", False, 1), -(10**18), 1342022152495072924, 5793),
    ("medium extra", ("to", True, 0.4), 2325523181756544449, -1464187161953474971, -9164),
    ("medium 10:1", ("in", True, 1), 10**18, -3869747612262812754, 4098),
    ("medium 10:1", ("in", False, 1), -86123526743846551, 10**18, 25954),
    ("medium 10:1", ("out", True, 1), 119138326055954425, -(10**18), 19584),
    ("medium 10:1", ("to", True, 2.5), 634358607857247610, -3162277660168379331, 9163),
    ("medium 10:1", ("to", True, 0.4), 2537434431428990438, -5059644256269406930, -9164),
    ("medium 1:10", ("in", True, 1), 10**18, -86123526743846551, -25955),
    ("medium 1:10", ("in", False, 1), -3869747612262812753, 10**18, -4099),
    ("medium 1:10", ("to", False, 0.4), -3162277660168379331, 634358607857247611, -9164),
    ("low", ("in", True, 1), 10**18, -666444407401233536, -8107),
    ("low", ("out", True, 1), 2001000500250125077, -(10**18), -13864),
    ("low", ("to", True, 0.4), 1162859089713235953, -735088935932648266, -9164),
    ("high", ("in", True, 1), 10**18, -662207357859531772, -8043),
    ("high", ("out", False, 1), -(10**18), 2020202020202020203, 13863),
    ("high", ("to", False, 2.5), -735088935932648267, 1174017838553918518, 9163),
    ("low stable", ("to", True, 0.4), 1000700370186095, -999700069986002, -9164),
    ("low stable", ("to", False, 2.5), -999700069986002, 1000700370186095, 9163),
    ("token1 only", ("in", True, 1), 10**18, -665331998665331998, -8090),
    ("token1 only", ("out", True, 1), 2006018054162487463, -(10**18), -13864),
    ("token1 only", ("to", True, 0.4), 1165774985123750584, -735088935932648267, -9164),
    ("token1 only", ("to", False, 2.5), 0, 0, 9163),
]


@pytest.mark.parametrize(("setup", "swap", "delta0", "delta1", "tick_after"), SWAP_VECTORS)
def test_swap_matches_v3_core_snapshot(setup, swap, delta0, delta1, tick_after):
    fee, spacing, sqrt_price, positions = SWAP_POOLS[setup]
    ledger, pool, _ = make_pool(fee, spacing, sqrt_price, positions)
    kind, zero_for_one, value = swap
    if kind == "to":  # swapToLowerPrice / swapToHigherPrice: a huge amount up to a limit
        result = pool.swap("trader", zero_for_one, 1e30, math.sqrt(value))
        assert pool.sqrt_price == math.sqrt(value)
    else:
        result = pool.swap("trader", zero_for_one, value if kind == "in" else -value)
    assert result == pytest.approx((delta0 / WAD, delta1 / WAD), rel=1e-12, abs=1e-18)
    assert pool.tick == tick_after
    assert pool.reserves() == pytest.approx(
        dict(zip((T0, T1), np.add(_minted(setup), result), strict=True)), rel=1e-12
    )
    ledger.check_conservation()


def _minted(setup):
    _, _, sqrt_price, positions = SWAP_POOLS[setup]
    totals = np.zeros(2)
    for lower, upper, liquidity in positions:
        totals += amounts_for_liquidity(
            sqrt_price, tick_to_sqrt_price(lower), tick_to_sqrt_price(upper), liquidity
        )
    return totals


@pytest.mark.parametrize(
    ("setup", "before0", "before1"),
    [
        # amount0Before / amount1Before of the snapshot: what the positions' mint took in
        ("medium gap",
         1994009290088178439, 1994009290088178439),
        ("medium 10:1", 632455532033675867, 6324555320336758664),
        ("medium 1:10", 6324555320336758664, 632455532033675867),
        ("low stable", 999700069986003, 999700069986003),
        ("token1 only", 0, 1995041008271423675),
    ],
)  # fmt: skip
def test_mint_amounts_match_v3_core_snapshot(setup, before0, before1):
    fee, spacing, sqrt_price, positions = SWAP_POOLS[setup]
    _, pool, _ = make_pool(fee, spacing, sqrt_price, positions)
    assert pool.reserves() == pytest.approx({T0: before0 / WAD, T1: before1 / WAD}, rel=1e-12)


@pytest.mark.parametrize(
    ("setup", "swap", "growth0_x128"),
    [
        # feeGrowthGlobal0X128Delta: fee per unit of liquidity, here 1 * 0.003 / 2 = 0.0015
        ("medium", ("in", 1.0),
         510423550381407695195061911147652317),
        ("medium", ("out", 1.0),
         1023918857334819954209013958517557896),
        ("medium extra", ("in", 1.0),
         256749882580179971840679703106063897),
    ],
)  # fmt: skip
def test_fee_growth_matches_v3_core_snapshot(setup, swap, growth0_x128):
    fee, spacing, sqrt_price, positions = SWAP_POOLS[setup]
    _, pool, _ = make_pool(fee, spacing, sqrt_price, positions)
    kind, amount = swap
    pool.swap("trader", True, amount if kind == "in" else -amount)
    assert pool.fee_growth_global == pytest.approx((growth0_x128 / Q128, 0.0), rel=1e-9)


# -- the pool: swap behaviour -------------------------------------------------------------
@FAST
@given(
    st.floats(1.0, 1e6),
    st.floats(0.8, 1.25),
    st.floats(1e-6, 0.2),
    st.sampled_from([0.0001, 0.0005, 0.003, 0.01]),
    st.booleans(),
)
def test_swap_in_one_range_is_constant_product_on_virtual_reserves(
    liquidity, sqrt_price, fraction, fee, zero_for_one
):
    # Whitepaper sec. 2/6: within a range, x = L / s and y = L * s trade like a v2 pool.
    _, pool, _ = make_pool(fee, 1, sqrt_price, [(-60000, 60000, liquidity)])
    x, y = liquidity / sqrt_price, liquidity * sqrt_price
    reserve_in, reserve_out = (x, y) if zero_for_one else (y, x)
    amount_in = fraction * reserve_in  # stays inside [-60000, 60000): prices 0.0025 .. 403
    expected = reserve_out - x * y / (reserve_in + amount_in * (1 - fee))
    token_in, token_out = (T0, T1) if zero_for_one else (T1, T0)
    assert pool.quote_exact_in(token_in, token_out, amount_in) == pytest.approx(expected, rel=1e-9)
    out = pool.swap_exact_in("trader", token_in, token_out, amount_in)
    assert out == pytest.approx(expected, rel=1e-9)
    assert pool.liquidity == liquidity


# in range at tick 0: 500 + 300; a gap from -1800 to -1200; nothing beyond -3000 and 2400
THREE_RANGES = [(-1200, 1200, 500.0), (-600, 300, 300.0), (120, 2400, 400.0), (-3000, -1800, 200.0)]


@FAST
@given(st.floats(1e-4, 8.0), st.booleans(), st.sampled_from([0.0005, 0.003, 0.01]))
def test_swap_then_reverse_never_profits(amount, zero_for_one, fee):
    ledger, pool, _ = make_pool(fee, 60, 1.0, THREE_RANGES)
    token_in, token_out = (T0, T1) if zero_for_one else (T1, T0)
    try:
        out = pool.swap_exact_in("trader", token_in, token_out, amount)
    except InsufficientLiquidity:
        return
    back = pool.swap_exact_in("trader", token_out, token_in, out)
    assert back < amount
    ledger.check_conservation()


def test_crossing_ticks_tracks_active_liquidity_and_fee_growth_outside():
    ledger, pool, ids = make_pool(0.003, 60, 1.0, THREE_RANGES)
    assert pool.liquidity == active_liquidity(pool, ids) == 800.0
    seen = set()
    # down across -600, -1200 and the gap into [-3000, -1800), then up to (300, 1200)
    for zero_for_one, steps in ((True, 6), (False, 12)):
        for _ in range(steps):
            pool.swap_exact_in("trader", *((T0, T1) if zero_for_one else (T1, T0)), 8.0)
            assert pool.liquidity == pytest.approx(active_liquidity(pool, ids), rel=1e-12)
            seen.add(round(pool.liquidity, 9))
    assert {200.0, 500.0, 800.0, 1200.0, 900.0} <= seen
    ticks = pool.initialized_ticks()
    assert list(ticks) == [-3000, -1800, -1200, -600, 120, 300, 1200, 2400]
    # liquidity_net: +L at a lower tick, -L at an upper one
    nets = [t.liquidity_net for t in ticks.values()]
    assert nets == [200, -200, 500, 300, 400, -300, -500, -400]
    # fee growth outside a tick is a part of the global growth: 0 <= outside <= global
    growth0, growth1 = pool.fee_growth_global
    for tick, info in ticks.items():
        assert 0 <= info.fee_growth_outside0 <= growth0 * (1 + 1e-12), tick
        assert 0 <= info.fee_growth_outside1 <= growth1 * (1 + 1e-12), tick
    ledger.check_conservation()


def test_swap_through_an_empty_gap_pays_no_fees_and_keeps_liquidity_zero():
    ledger, pool, ids = make_pool(0.003, 60, 1.0, [(-887220, -60, 2.0), (60, 887220, 2.0)])
    assert pool.liquidity == 0.0
    pool.swap("trader", False, 1e30, tick_to_sqrt_price(30))  # into the gap, no liquidity
    assert (pool.tick, pool.liquidity, pool.fee_growth_global) == (30, 0.0, (0.0, 0.0))
    pool.swap_exact_in("trader", T1, T0, 0.5)  # crosses 60: enters the upper range
    pool.swap_exact_in("trader", T0, T1, 0.7)  # back through the gap into the lower range
    assert pool.tick < -60
    assert pool.liquidity == active_liquidity(pool, ids) == 2.0
    ledger.check_conservation()


def test_price_limit_fills_partially_and_bounds_the_price():
    ledger, pool, _ = make_pool(0.003, 60, 1.0, [(-600, 600, 10.0)], funds=100.0)
    limit = tick_to_sqrt_price(-100)
    amount0, amount1 = pool.swap("trader", True, 1000.0, limit)
    assert pool.sqrt_price == limit and pool.tick == -100
    # token0 needed to move L = 10 from s = 1 to the limit, plus the fee
    assert amount0 == pytest.approx(10 * (1 / limit - 1) / (1 - 0.003), rel=1e-12)
    assert amount1 == pytest.approx(-10 * (1 - limit), rel=1e-12)
    assert 100.0 - ledger.balance_of("trader", T0) == pytest.approx(amount0, rel=1e-12)


def test_swap_exact_out_pays_exactly_and_charges_the_input():
    ledger, pool, _ = make_pool(0.003, 60, 1.0, THREE_RANGES, funds=100.0)
    paid = pool.swap_exact_out("trader", T0, T1, 2.5)
    assert ledger.balance_of("trader", T1) == 102.5
    assert ledger.balance_of("trader", T0) == 100.0 - paid
    # selling what was paid buys back (about) the same: exact-in and exact-out agree
    _, pool2, _ = make_pool(0.003, 60, 1.0, THREE_RANGES)
    assert pool2.swap_exact_in("trader", T0, T1, paid) == pytest.approx(2.5, rel=1e-9)


def test_quote_changes_nothing_and_matches_the_swap():
    ledger, pool, ids = make_pool(0.003, 60, 1.0, THREE_RANGES)
    before = snapshot(ledger, pool, ids)
    quote = pool.quote_exact_in(T0, T1, 45.0)  # crosses -600, -1200 and the gap
    assert snapshot(ledger, pool, ids) == before
    assert pool.swap_exact_in("trader", T0, T1, 45.0) == quote
    assert pool.tick < -1800


def test_spot_price():
    _, pool, _ = make_pool(sqrt_price=math.sqrt(2500.0))
    assert pool.spot_price(T0, T1) == pytest.approx(2500.0)
    assert pool.spot_price(T1, T0) == pytest.approx(1 / 2500.0)
    with pytest.raises(UnknownToken, match="base"):
        pool.spot_price("T2", T1)
    with pytest.raises(InvalidAmount, match="quote"):
        pool.spot_price(T0, T0)


# -- the pool: positions and fees ---------------------------------------------------------
def test_fees_accrue_only_in_range_and_pro_rata():
    ledger, pool, _ = make_pool(0.003, 60, 1.0, [])
    a = pool.mint("lp", -600, 600, 1.0)
    b = pool.mint("lp2", -600, 600, 3.0)
    above = pool.mint("lp", 1200, 2400, 5.0)
    below = pool.mint("lp2", -2400, -1200, 2.0)
    for _ in range(5):  # small swaps both ways stay inside (-600, 600)
        pool.swap_exact_in("trader", T0, T1, 0.05)
        pool.swap_exact_in("trader", T1, T0, 0.05)
    fees = {}
    for pid in (a, b, above, below):
        principal = pool.burn(pid, pool.position(pid).liquidity)
        fees[pid] = np.subtract(pool.collect(pid), principal)
    # every fee went to a and b, split 1 : 3; total = 5 * 0.05 * 0.003 per token
    np.testing.assert_allclose(fees[a] + fees[b], [0.00075, 0.00075], rtol=1e-9)
    np.testing.assert_allclose(fees[b], 3 * fees[a], rtol=1e-9)
    np.testing.assert_allclose(fees[above], 0.0, atol=1e-15)
    np.testing.assert_allclose(fees[below], 0.0, atol=1e-15)
    ledger.check_conservation()


def test_new_ticks_count_past_growth_below_them():
    # Tick.spec 'assumes all growth happens below ticks lte current tick': a tick initialized
    # at or below the current tick starts with fee growth outside = global, one above at 0.
    _, pool, _ = make_pool(0.003, 1, 1.0, [(-6000, 6000, 1.0)])
    pool.swap_exact_in("trader", T0, T1, 0.1)
    pool.swap_exact_in("trader", T1, T0, 0.05)
    tick = pool.tick
    pool.mint("lp", tick, tick + 100, 1.0)
    pool.mint("lp", tick - 100, tick - 50, 1.0)
    ticks = pool.initialized_ticks()
    for below in (tick, tick - 50, tick - 100):
        outside = (ticks[below].fee_growth_outside0, ticks[below].fee_growth_outside1)
        assert outside == pool.fee_growth_global != (0.0, 0.0)
    assert (ticks[tick + 100].fee_growth_outside0, ticks[tick + 100].fee_growth_outside1) == (0, 0)


def test_fees_are_conserved_across_tick_crossings():
    # Every fee paid ends with some position: sum of collected fees = fee * inputs, also when
    # swaps cross ticks and leave ranges (Tick.cross flips fee growth outside).
    ledger, pool, ids = make_pool(0.01, 60, 1.0, THREE_RANGES)
    paid = np.zeros(2)
    for amount in (30.0, 25.0, 10.0):  # down past -600 and -1200, up past 120 and 300
        pool.swap_exact_in("trader", T0, T1, amount)
        pool.swap_exact_in("trader", T1, T0, 2 * amount)
        paid += [amount * 0.01, 2 * amount * 0.01]
    fees = np.zeros(2)
    for pid in ids:
        principal = pool.burn(pid, pool.position(pid).liquidity)
        fees += np.subtract(pool.collect(pid), principal)
    np.testing.assert_allclose(fees, paid, rtol=1e-9)
    ledger.check_conservation()


def test_fees_at_range_boundaries():
    # Ranges meeting at tick 0 with the price exactly there: [0, 600) is in range, [-600, 0)
    # is not (Tick.getFeeGrowthInside: tick >= lower is inside, tick >= upper is above).
    ledger, pool, _ = make_pool(0.003, 60, 1.0, [(-6000, 6000, 1.0)])
    pool.swap_exact_in("trader", T1, T0, 0.05)  # some fee history first
    pool.swap("trader", True, 1e9, 1.0)  # back down to price 1 exactly, no tick there yet
    assert pool.tick == 0
    ids = [1, pool.mint("lp", 0, 600, 3.0), pool.mint("lp", -600, 0, 2.0)]  # wide, up, down

    def values():  # valued at a fixed price, a position changes by its fees only
        return np.array([pool.position_value(pid, 1.0) for pid in ids])

    start = values()
    pool.swap_exact_in("trader", T1, T0, 0.04)  # up inside [0, 600): fee 0.04 * 0.003 in T1
    earned = values() - start
    np.testing.assert_allclose(earned[:, 1], 1.2e-4 * np.array([1, 3, 0]) / 4, rtol=1e-9)
    np.testing.assert_allclose(earned[:, 0], 0.0, atol=1e-15)

    pool.swap("trader", True, 1e9, 1.0)  # down to price 1 again: now crosses tick 0
    assert pool.tick == -1
    start = values()
    pool.swap_exact_in("trader", T0, T1, 0.04)  # down inside [-600, 0): fee in T0
    earned = values() - start
    np.testing.assert_allclose(earned[:, 0], 1.2e-4 * np.array([1, 0, 2]) / 3, rtol=1e-9)
    np.testing.assert_allclose(earned[:, 1], 0.0, atol=1e-15)
    ledger.check_conservation()


def test_rounding_never_makes_fees_negative():
    # Found by random search: for a position below the price, (g - outside_lower) and
    # (g - outside_upper) round differently as g grows, so its fee growth inside dips by an ulp.
    # Owed fees must stay >= 0, else collecting would try to transfer a negative amount.
    # (Searched again when swap steps began rounding the price as the contract does: the dip
    # here is -3.4e-21 in token1.)
    _, pool, _ = make_pool(0.003, 60, 1.0, [(-6000, 6000, 94.28688552527424)])
    pool.mint("lp", -1140, -1020, 59.896034145034896)
    pool.swap_exact_in("trader", T1, T0, 0.828508553709822)
    pool.swap_exact_in("trader", T0, T1, 0.599216167827022)
    below = pool.mint("lp", -1200, -1140, 83.19333733023292)
    pool.swap_exact_in("trader", T1, T0, 3.425177863719544)
    pool.swap_exact_in("trader", T1, T0, 2.014684737667687)
    assert pool.collect(below) == (0.0, 0.0)


def test_position_value_equals_burn_and_collect():
    ledger, pool, ids = make_pool(0.003, 60, 1.0, THREE_RANGES)
    pool.swap_exact_in("trader", T0, T1, 3.0)
    pool.swap_exact_in("trader", T1, T0, 1.0)
    for pid in ids:
        value = pool.position_value(pid)
        pool.burn(pid, pool.position(pid).liquidity / 2)
        assert pool.position_value(pid) == pytest.approx(value, rel=1e-12)
        pool.burn(pid, pool.position(pid).liquidity)
        assert pool.collect(pid) == pytest.approx(value, rel=1e-12, abs=1e-15)
    # valued at another price, a position is just its liquidity's amounts there
    pid = pool.mint("lp", -600, 600, 2.0)
    expected = amounts_for_liquidity(1.5, tick_to_sqrt_price(-600), tick_to_sqrt_price(600), 2.0)
    assert pool.position_value(pid, 1.5) == pytest.approx(expected)


def test_burn_all_and_collect_returns_tokens_and_fees_leaving_dust():
    ledger, pool, ids = make_pool(0.003, 60, 1.0, THREE_RANGES)
    volume = 0.0
    for amount in (3.0, 5.0, 1.0, 7.5, 0.25):
        volume += pool.swap_exact_in("trader", T0, T1, amount)
        volume += pool.swap_exact_in("trader", T1, T0, amount)
    for pid in ids:
        value = pool.position_value(pid)  # tokens plus fees
        pool.burn(pid, pool.position(pid).liquidity)
        assert pool.collect(pid) == pytest.approx(value, rel=1e-12)
        with pytest.raises(InvalidAmount, match="position_id"):
            pool.position(pid)  # closed
    assert pool.initialized_ticks() == {}
    assert pool.liquidity == 0.0
    assert max(pool.reserves().values()) <= 1e-13 * volume
    ledger.check_conservation()


def test_float_dust_short_payout_pays_the_balance():
    ledger, pool, ids = make_pool(0.003, 60, 1.0, [(-600, 600, 10.0)], funds=100.0)
    pool.swap_exact_in("trader", T0, T1, 0.1)
    claim = pool.position_value(ids[0])
    pool.burn(ids[0], 10.0)
    ledger.transfer(T1, "v3", "dust", 1e-13)  # far below DUST_RTOL * supply (3e-10)
    assert pool.collect(ids[0]) == pytest.approx((claim[0], claim[1] - 1e-13), rel=1e-12)
    assert pool.reserves() == {T0: pytest.approx(0, abs=1e-15), T1: 0.0}


def test_drained_pool_refuses_payouts_and_changes_nothing():
    ledger, pool, ids = make_pool(0.003, 60, 1.0, [(-600, 600, 10.0)], funds=100.0)
    closed = pool.mint("lp2", -600, 600, 5.0)
    pool.burn(closed, 5.0)
    ledger.transfer(T1, "v3", "thief", 0.9 * ledger.balance_of("v3", T1))  # an exploit
    before = snapshot(ledger, pool, [*ids, closed])
    with pytest.raises(InsufficientLiquidity, match="cannot pay"):
        pool.collect(closed)
    with pytest.raises(InsufficientLiquidity, match="cannot pay"):
        pool.swap_exact_in("trader", T0, T1, 0.2)
    assert snapshot(ledger, pool, [*ids, closed]) == before


@FAST
@given(st.floats(0.5, 2.0), st.integers(-20, 0), st.integers(1, 20), AMOUNTS, AMOUNTS)
def test_mint_for_amounts_never_overdraws(sqrt_price, lower, width, amount0, amount1):
    # an owner holding exactly the maxima can always mint: float rounding may not ask more
    ledger, pool, _ = make_pool(0.003, 60, sqrt_price, [], funds=0.0)
    ledger.mint(T0, "owner", amount0, by="issuer")
    ledger.mint(T1, "owner", amount1, by="issuer")
    try:
        pool.mint_for_amounts("owner", lower * 600, (lower + width) * 600, amount0, amount1)
    except InvalidAmount:  # these amounts fund no liquidity on this range
        return
    assert min(ledger.balance_of("owner", T0), ledger.balance_of("owner", T1)) >= 0
    ledger.check_conservation()


def test_mint_for_amounts_spends_at_most_the_maxima():
    ledger, pool, _ = make_pool(0.003, 60, 1.3, [], funds=100.0)
    pid = pool.mint_for_amounts("lp", -600, 6000, 100.0, 100.0)
    spent = (100.0 - ledger.balance_of("lp", T0), 100.0 - ledger.balance_of("lp", T1))
    assert max(spent) == pytest.approx(100.0, rel=1e-12)
    assert min(spent) <= 100.0 and spent[0] >= 0 and spent[1] >= 0
    assert pool.position(pid).liquidity == pytest.approx(
        liquidity_for_amounts(1.3, tick_to_sqrt_price(-600), tick_to_sqrt_price(6000), 100, 100)
    )
    # a range above the price takes token0 only; one below it token1 only
    before = ledger.balances_of("lp2")
    pool.mint_for_amounts("lp2", 6000, 6600, 1.0, 1.0)
    assert ledger.balance_of("lp2", T1) == before[T1]
    with pytest.raises(InvalidAmount, match="amount0_max"):
        pool.mint_for_amounts("lp2", 6000, 6600, 0.0, 5.0)



def test_positions_of_lists_an_owners_open_positions_until_they_close():
    ledger, pool, _ = make_pool(0.003, 60, 1.0, [], funds=100.0)
    first = pool.mint_for_amounts("lp", -600, 600, 10.0, 10.0)
    second = pool.mint_for_amounts("lp", -1200, 1200, 10.0, 10.0)
    assert pool.positions_of("lp") == [first, second]
    assert pool.positions_of("nobody") == []
    pool.burn(first, pool.position(first).liquidity)
    pool.collect(first)
    assert pool.positions_of("lp") == [second]


def test_quote_to_price_is_the_swap_that_lands_on_the_target_price():
    # One range around price 1 with L = 1e6. Selling T0 down to price 0.81 (sqrt 0.9) takes
    # net input L (1/0.9 - 1) = 111,111.1 T0 plus the fee, and pays L (1 - 0.9) = 100,000 T1.
    ledger, pool, _ = make_pool(0.003, 60, 1.0, [(-6000, 6000, 1e6)])
    amount_in, amount_out = pool.quote_to_price(T0, T1, 0.81)
    assert amount_in == pytest.approx(1e6 * (1 / 0.9 - 1) / 0.997, rel=1e-12)
    assert amount_out == pytest.approx(1e5, rel=1e-12)
    assert pool.quote_to_price(T0, T1, 1.5) == (0.0, 0.0)  # already below 1.5
    # Buying T0 (selling T1) up to price 1.21: token1 per token0 -> T0 price in T1 units.
    amount_in1, _ = pool.quote_to_price(T1, T0, 1 / 1.21)
    assert amount_in1 == pytest.approx(1e6 * (1.1 - 1) / 0.997, rel=1e-12)
    pool.swap_exact_in("trader", T0, T1, amount_in)
    assert pool.spot_price(T0, T1) == pytest.approx(0.81, rel=1e-12)

def test_dust_swaps_on_a_deep_pool_pay_nothing_for_nothing():
    # Full range, L = 1e24 at sqrt price 2.5 (DUST_L above): 4e23 T0 and 2.5e24 T1.
    ledger, pool, _ = make_pool(0.003, 60, 2.5, [(-887220, 887220, DUST_L)], funds=1e25)
    # 1e-9 T0 in: was paid 4.44e8 T1, with fee growth -7.1e7 / L; now it is all fee.
    assert pool.swap_exact_in("trader", T0, T1, 1e-9) == 0.0
    assert pool.fee_growth_global == (1e-9 / DUST_L, 0.0)
    assert pool.sqrt_price == 2.5
    # 1e-9 T1 out: was free; now it pays for one ulp of price, 7.1e7 T0 plus the fee.
    paid = pool.swap_exact_out("trader", T0, T1, 1e-9)
    assert paid == pytest.approx(71054273.576 / 0.997, rel=1e-11)
    assert pool.sqrt_price == 2.5 - ULP_AT_2_5
    assert pool.fee_growth_global[0] == pytest.approx(paid * 0.003 / DUST_L, rel=1e-12)
    ledger.check_conservation()


@settings(max_examples=50, deadline=None)
@given(
    sqrt_price=st.floats(0.1, 10),
    liquidity=st.floats(1e6, 1e24),
    swaps=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.floats(1e-21, 1e-6)), min_size=1, max_size=8
    ),
)
def test_dust_swaps_keep_fee_growth_rising_and_pay_at_most_the_exact_math(
    sqrt_price, liquidity, swaps
):
    # Amounts are fractions of the virtual reserve they are taken from; none leaves the range.
    ledger, pool, _ = make_pool(0.003, 60, sqrt_price, [(-887220, 887220, liquidity)], funds=1e26)
    for exact_in, zero_for_one, fraction in swaps:
        s, growth, reserves = pool.sqrt_price, pool.fee_growth_global, pool.reserves()
        pair = (T0, T1) if zero_for_one else (T1, T0)
        if exact_in:
            amount = fraction * liquidity * (1 / s if zero_for_one else s)
            out = pool.swap_exact_in("trader", *pair, amount)
            exact_out = exact_step(s, liquidity, amount * 0.997, zero_for_one, True)
            assert out <= exact_out * (1 + 1e-12)
        else:
            out = fraction * liquidity * (s if zero_for_one else 1 / s)
            paid = pool.swap_exact_out("trader", *pair, out)
            exact_in_needed = exact_step(s, liquidity, out, zero_for_one, False)
            assert paid * 0.997 >= exact_in_needed * (1 - 1e-12)
        assert out <= reserves[pair[1]]
        assert pool.fee_growth_global[0] >= growth[0]
        assert pool.fee_growth_global[1] >= growth[1]
        ledger.check_conservation()


# -- the pool: conservation under random operations ---------------------------------------
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("mint"), st.integers(-20, 19), st.integers(1, 10), st.floats(1, 500)),
        st.tuples(st.just("in"), st.booleans(), st.floats(1e-6, 5)),
        st.tuples(st.just("out"), st.booleans(), st.floats(1e-6, 2)),
        st.tuples(st.just("burn"), st.integers(0, 40), st.sampled_from([0.3, 1.0])),
        st.tuples(st.just("collect"), st.integers(0, 40)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_random_operations_conserve_and_stay_solvent(ops):
    ledger, pool, ids = make_pool(0.003, 60, 1.0, [(-1200, 1200, 100.0)])
    for op in ops:
        kind = op[0]
        if kind == "mint":
            _, lower, width, liquidity = op
            owner = ("lp", "lp2")[len(ids) % 2]
            ids.append(pool.mint(owner, lower * 60, (lower + width) * 60, liquidity))
        elif kind in ("in", "out"):
            _, zero_for_one, amount = op
            pair = (T0, T1) if zero_for_one else (T1, T0)
            swap = pool.swap_exact_in if kind == "in" else pool.swap_exact_out
            with contextlib.suppress(InsufficientLiquidity):
                swap("trader", *pair, amount)
        elif ids:
            pid = ids[op[1] % len(ids)]
            if kind == "burn" and pool.position(pid).liquidity > 0:
                pool.burn(pid, pool.position(pid).liquidity * op[2])
            elif kind == "collect":
                pool.collect(pid)
                if not _is_open(pool, pid):
                    ids.remove(pid)
        ledger.check_conservation()
        assert pool.liquidity == pytest.approx(active_liquidity(pool, ids), rel=1e-9, abs=1e-12)
        # the pool holds exactly what its positions are worth (owed tokens and fees included)
        owed = np.sum([pool.position_value(i) for i in ids], axis=0) if ids else np.zeros(2)
        reserves = pool.reserves()
        assert [reserves[T0], reserves[T1]] == pytest.approx(owed, rel=1e-9, abs=1e-9)


def _is_open(pool, pid):
    try:
        pool.position(pid)
    except InvalidAmount:
        return False
    return True


# -- the pool: rejected calls change nothing ----------------------------------------------
REJECTED = [
    (lambda p: p.mint("lp", -601, 600, 1.0), InvalidAmount, "tick_lower"),
    (lambda p: p.mint("lp", -600, 601, 1.0), InvalidAmount, "tick_upper"),
    (lambda p: p.mint("lp", 600, 600, 1.0), InvalidAmount, "tick_lower"),
    (lambda p: p.mint("lp", MIN_TICK - 8, 600, 1.0), InvalidAmount, "tick_lower"),
    (lambda p: p.mint("lp", -600, 600.0, 1.0), InvalidAmount, "tick_upper"),
    (lambda p: p.mint("lp", -600, 600, 0.0), InvalidAmount, "liquidity"),
    (lambda p: p.mint("lp", -600, 600, math.nan), InvalidAmount, "liquidity"),
    (lambda p: p.mint("poor", -600, 600, 1.0), InsufficientBalance, "liquidity"),
    (lambda p: p.mint("half", -600, 600, 1.0), InsufficientBalance, "T1"),
    (lambda p: p.mint_for_amounts("lp", -600, 600, -1.0, 1.0), InvalidAmount, "amount0_max"),
    (lambda p: p.burn(1, 11.0), InvalidAmount, "liquidity"),
    (lambda p: p.burn(1, 0.0), InvalidAmount, "liquidity"),
    (lambda p: p.burn(99, 1.0), InvalidAmount, "position_id"),
    (lambda p: p.collect("1"), InvalidAmount, "position_id"),
    (lambda p: p.position_value(1, -1.0), InvalidAmount, "sqrt_price"),
    (lambda p: p.swap_exact_in("trader", T0, T1, 0.1, 1.0), SlippageExceeded, "min_amount_out"),
    (lambda p: p.swap_exact_in("poor", T0, T1, 0.1), InsufficientBalance, "amount_in"),
    (lambda p: p.swap_exact_in("trader", T0, T1, 0.0), InvalidAmount, "amount_in"),
    (lambda p: p.swap_exact_in("trader", T0, T1, 1e6), InsufficientLiquidity, "amount"),
    (lambda p: p.swap_exact_in("trader", "T2", T1, 1.0), UnknownToken, "token_in"),
    (lambda p: p.swap_exact_in("trader", T0, T0, 1.0), InvalidAmount, "token_out"),
    (lambda p: p.swap_exact_out("trader", T0, T1, 0.1, 0.05), SlippageExceeded, "max_amount_in"),
    (lambda p: p.swap_exact_out("trader", T0, T1, 1.0, -1.0), InvalidAmount, "max_amount_in"),
    (lambda p: p.swap_exact_out("trader", T0, T1, 5.0), InsufficientLiquidity, "amount"),
    (lambda p: p.quote_exact_in(T1, "T2", 1.0), UnknownToken, "token_out"),
    (lambda p: p.swap("trader", True, 1.0, 1.5), InvalidAmount, "sqrt_price_limit"),
    (lambda p: p.swap("trader", False, 1.0, 0.5), InvalidAmount, "sqrt_price_limit"),
    (lambda p: p.swap("trader", True, 1.0, MIN_SQRT_PRICE), InvalidAmount, "sqrt_price_limit"),
    (lambda p: p.swap("trader", 1, 1.0), InvalidAmount, "zero_for_one"),
    (lambda p: p.swap("trader", True, 0.0), InvalidAmount, "amount_specified"),
]


@pytest.mark.parametrize(("call", "error", "match"), REJECTED)
def test_rejected_calls_change_nothing(call, error, match):
    ledger, pool, ids = make_pool(0.003, 60, 1.0, [(-600, 600, 10.0)])
    ledger.mint(T0, "half", 10.0, by="issuer")  # enough token0, no token1
    pool.swap_exact_in("trader", T0, T1, 0.1)  # some fee growth and a moved price
    before = snapshot(ledger, pool, ids)
    with pytest.raises(error, match=match):
        call(pool)
    assert snapshot(ledger, pool, ids) == before


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"token1": "T0"}, InvalidAmount, "token1"),
        ({"token1": "T9"}, UnknownToken, "T9"),
        ({"fee": 1.0}, InvalidAmount, "fee"),
        ({"tick_spacing": 0}, InvalidAmount, "tick_spacing"),
        ({"tick_spacing": 16384}, InvalidAmount, "tick_spacing"),
        ({"sqrt_price": MAX_SQRT_PRICE}, InvalidAmount, "sqrt_price"),
        ({"sqrt_price": 0.0}, InvalidAmount, "sqrt_price"),
        ({"name": ""}, InvalidAmount, "name"),
    ],
)
def test_constructor_rejects_bad_parameters(kwargs, error, match):
    ledger, _, _ = make_pool()
    args = {"ledger": ledger, "name": "v3b", "token0": T0, "token1": T1} | kwargs
    with pytest.raises(error, match=match):
        ConcentratedLiquidityPool(**args)
