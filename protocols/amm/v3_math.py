"""Uniswap v3 concentrated-liquidity math as pure float functions.

Units: a sqrt price is the plain float sqrt(price of token0 in token1) (the contracts use
Q64.96 fixed point: sqrt_price = sqrtPriceX96 / 2**96); liquidity L is a float such that
amount1 = L * d(sqrt_price) and amount0 = L * d(1 / sqrt_price); fees are fractions (0.003,
not pips). Float arithmetic replaces the contracts' directed integer rounding; otherwise every
formula is the contract's, cited per function (Uniswap/v3-core `contracts/libraries/`, v3-periphery
`LiquidityAmounts.sol`, and the v3 whitepaper, Adams et al. 2021, section 6).

The public functions validate their arguments; the `_`-prefixed kernels below them do not and are
shared with `protocols.amm.concentrated`, whose swap loop has already validated its inputs.
"""

import math
from numbers import Integral, Real

import numpy as np

from protocols.errors import InsufficientLiquidity, InvalidAmount
from protocols.validation import check_amount, check_fraction

#: TickMath.MIN_TICK / MAX_TICK: log base 1.0001 of 2**-128 and 2**128.
MIN_TICK = -887272
MAX_TICK = 887272
#: Fee tier -> tick spacing (UniswapV3Factory constructor, `feeAmountTickSpacing`; v3-sdk).
FEE_TICK_SPACING = {0.0001: 1, 0.0005: 10, 0.003: 60, 0.01: 200}

#: ln(sqrt(1.0001)). The float 1.0001 is off by 1e-17, which `1.0001 ** (tick / 2)` would
#: amplify to a 5e-12 relative error at the extreme ticks; exp(tick * ln(sqrt 1.0001)) stays
#: within 3e-15 of the exact value.
_LN_SQRT_BASE = math.log1p(1e-4) / 2


def _sqrt_price_at(tick: int) -> float:
    return math.exp(tick * _LN_SQRT_BASE)


def _check_tick(name: str, tick: int) -> int:
    if isinstance(tick, bool) or not isinstance(tick, Integral):
        raise InvalidAmount(f"{name}: must be an integer tick, got {tick!r}")
    if not MIN_TICK <= tick <= MAX_TICK:
        raise InvalidAmount(f"{name}: must lie in [{MIN_TICK}, {MAX_TICK}], got {tick}")
    return int(tick)


def tick_to_sqrt_price(tick: int) -> float:
    """sqrt(1.0001 ** tick): the sqrt price at a tick (whitepaper eq. 6.1-6.2;
    TickMath.getSqrtRatioAtTick). Ticks outside [MIN_TICK, MAX_TICK] raise InvalidAmount."""
    return _sqrt_price_at(_check_tick("tick", tick))


#: TickMath.MIN_SQRT_RATIO / MAX_SQRT_RATIO as floats (the sqrt prices of MIN_TICK / MAX_TICK).
MIN_SQRT_PRICE = tick_to_sqrt_price(MIN_TICK)
MAX_SQRT_PRICE = tick_to_sqrt_price(MAX_TICK)


def sqrt_price_to_tick(sqrt_price: float) -> int:
    """Greatest tick whose sqrt price is <= `sqrt_price` (TickMath.getTickAtSqrtRatio).

    Valid inputs are [MIN_SQRT_PRICE, MAX_SQRT_PRICE), as in the contract. The logarithm gives
    the tick up to float rounding; the forward function then settles boundary cases exactly.
    """
    sqrt_price = check_amount("sqrt_price", sqrt_price, allow_zero=False)
    if not MIN_SQRT_PRICE <= sqrt_price < MAX_SQRT_PRICE:
        raise InvalidAmount(
            f"sqrt_price: must lie in [MIN_SQRT_PRICE, MAX_SQRT_PRICE), got {sqrt_price!r}"
        )
    return _tick_at(sqrt_price)


def ticks_around(price: float, width: float, spacing: int) -> tuple[int, int]:
    """(tick_lower, tick_upper) of the range +-`width` around `price` (token1 per token0),
    rounded outward to multiples of `spacing`, as a position must be (Tick.checkTicks):
    how liquidity providers and the treasury place a band around the current price."""
    lower = sqrt_price_to_tick(math.sqrt(price * (1 - width))) // spacing * spacing
    upper = -(-sqrt_price_to_tick(math.sqrt(price * (1 + width))) // spacing) * spacing
    return lower, upper


def _tick_at(sqrt_price: float) -> int:
    tick = min(max(math.floor(math.log(sqrt_price) / _LN_SQRT_BASE), MIN_TICK), MAX_TICK - 1)
    while tick > MIN_TICK and _sqrt_price_at(tick) > sqrt_price:
        tick -= 1
    while tick < MAX_TICK - 1 and _sqrt_price_at(tick + 1) <= sqrt_price:
        tick += 1
    return tick


# -- SqrtPriceMath ------------------------------------------------------------------------
def get_amount0_delta(sqrt_a: float, sqrt_b: float, liquidity: float) -> float:
    """Token0 between two sqrt prices: L * (sb - sa) / (sa * sb), argument order free
    (SqrtPriceMath.getAmount0Delta; whitepaper eq. 6.16)."""
    sqrt_a = check_amount("sqrt_a", sqrt_a, allow_zero=False)
    sqrt_b = check_amount("sqrt_b", sqrt_b, allow_zero=False)
    return _amount0(sqrt_a, sqrt_b, check_amount("liquidity", liquidity))


def get_amount1_delta(sqrt_a: float, sqrt_b: float, liquidity: float) -> float:
    """Token1 between two sqrt prices: L * (sb - sa), argument order free
    (SqrtPriceMath.getAmount1Delta; whitepaper eq. 6.14)."""
    sqrt_a = check_amount("sqrt_a", sqrt_a, allow_zero=False)
    sqrt_b = check_amount("sqrt_b", sqrt_b, allow_zero=False)
    return _amount1(sqrt_a, sqrt_b, check_amount("liquidity", liquidity))


def _amount0(sqrt_a: float, sqrt_b: float, liquidity: float) -> float:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    return liquidity * (sqrt_b - sqrt_a) / sqrt_b / sqrt_a


def _amount1(sqrt_a: float, sqrt_b: float, liquidity: float) -> float:
    return liquidity * abs(sqrt_b - sqrt_a)


def get_next_sqrt_price_from_input(
    sqrt_price: float, liquidity: float, amount_in: float, zero_for_one: bool
) -> float:
    """Sqrt price after adding `amount_in` to the virtual reserves (SqrtPriceMath.
    getNextSqrtPriceFromInput): token0 in gives L*s / (L + amount*s), token1 in s + amount/L."""
    sqrt_price, liquidity, amount_in = _check_next_price_args(sqrt_price, liquidity, amount_in)
    return _next_from_input(sqrt_price, liquidity, amount_in, zero_for_one)


def get_next_sqrt_price_from_output(
    sqrt_price: float, liquidity: float, amount_out: float, zero_for_one: bool
) -> float:
    """Sqrt price after removing `amount_out` from the virtual reserves (SqrtPriceMath.
    getNextSqrtPriceFromOutput): token1 out gives s - amount/L, token0 out L*s / (L - amount*s).

    Asking for all of a virtual reserve or more raises InsufficientLiquidity, as the contract
    reverts: `require(sqrtPX96 > quotient)` for token1 and `require(numerator1 > product)` for
    token0 (getNextSqrtPriceFromAmount1RoundingDown / getNextSqrtPriceFromAmount0RoundingUp);
    0 is no price.
    """
    sqrt_price, liquidity, amount_out = _check_next_price_args(sqrt_price, liquidity, amount_out)
    return _next_from_output(sqrt_price, liquidity, amount_out, zero_for_one)


def _check_next_price_args(
    sqrt_price: float, liquidity: float, amount: float
) -> tuple[float, float, float]:
    return (
        check_amount("sqrt_price", sqrt_price, allow_zero=False),
        check_amount("liquidity", liquidity, allow_zero=False),
        check_amount("amount", amount),
    )


def _next_from_input(sqrt_price: float, liquidity: float, amount: float, zero_for_one: bool):
    if amount == 0:  # the contract short-circuits: the formula need not return s exactly
        return sqrt_price
    if zero_for_one:
        return liquidity * sqrt_price / (liquidity + amount * sqrt_price)
    return sqrt_price + amount / liquidity


def _next_from_output(sqrt_price: float, liquidity: float, amount: float, zero_for_one: bool):
    if amount == 0:
        return sqrt_price
    if zero_for_one:
        quotient = amount / liquidity
        if quotient >= sqrt_price:
            raise InsufficientLiquidity(
                f"amount: {amount!r} token1 reaches the virtual reserve {liquidity * sqrt_price!r}"
            )
        return sqrt_price - quotient
    denominator = liquidity - amount * sqrt_price
    if denominator <= 0:
        raise InsufficientLiquidity(
            f"amount: {amount!r} token0 reaches the virtual reserve {liquidity / sqrt_price!r}"
        )
    return liquidity * sqrt_price / denominator


# -- SwapMath -----------------------------------------------------------------------------
def compute_swap_step(
    sqrt_price: float,
    sqrt_target: float,
    liquidity: float,
    amount_remaining: float,
    fee: float,
) -> tuple[float, float, float, float]:
    """One swap step inside a single liquidity range (SwapMath.computeSwapStep).

    Returns (sqrt_next, amount_in, amount_out, fee_amount). The direction is token0 in when
    sqrt_target <= sqrt_price. A positive `amount_remaining` is an exact input (fee included),
    a negative one an exact output, as in the contract. The step stops at `sqrt_target` or where
    the amount runs out; an exact-input step that stops short keeps the whole remainder of
    `amount_remaining` as fee, which is how rounding dust reaches LPs in the contract. The
    price is rounded in the contract's directions, so the fee is never negative and no step
    pays out more than its input buys: an input too small to move the float price by one ulp
    is all fee, and an output that small costs one ulp of price.
    """
    sqrt_price = check_amount("sqrt_price", sqrt_price, allow_zero=False)
    sqrt_target = check_amount("sqrt_target", sqrt_target, allow_zero=False)
    liquidity = check_amount("liquidity", liquidity)
    if (
        isinstance(amount_remaining, bool)
        or not isinstance(amount_remaining, Real)
        or not math.isfinite(amount_remaining)
    ):
        raise InvalidAmount(f"amount_remaining: must be a finite number, got {amount_remaining!r}")
    fee = check_fraction("fee", fee, upper_open=True)
    return _swap_step(sqrt_price, sqrt_target, liquidity, float(amount_remaining), fee)


def _swap_step(
    sqrt_price: float, sqrt_target: float, liquidity: float, amount_remaining: float, fee: float
) -> tuple[float, float, float, float]:
    zero_for_one = sqrt_price >= sqrt_target
    exact_in = amount_remaining >= 0
    delta_in = _amount0 if zero_for_one else _amount1
    delta_out = _amount1 if zero_for_one else _amount0

    if exact_in:
        remaining_less_fee = amount_remaining * (1 - fee)
        amount_in = delta_in(sqrt_price, sqrt_target, liquidity)
        if remaining_less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:
            sqrt_next = _next_from_input(sqrt_price, liquidity, remaining_less_fee, zero_for_one)
    else:
        amount_out = delta_out(sqrt_price, sqrt_target, liquidity)
        if -amount_remaining >= amount_out:
            sqrt_next = sqrt_target
        else:
            sqrt_next = _next_from_output(sqrt_price, liquidity, -amount_remaining, zero_for_one)
    # Float rounding may not overshoot the target nor step back past the start (the
    # contract's rounding guarantees both): L*s / (L - b*s) for a dust b can round to an ulp
    # below s.
    if zero_for_one:
        sqrt_next = min(max(sqrt_next, sqrt_target), sqrt_price)
    else:
        sqrt_next = max(min(sqrt_next, sqrt_target), sqrt_price)

    # The amounts follow from the price, so the price must be rounded as the contract rounds
    # it, else a float price one ulp off pays for it: on a deep pool an ulp is worth far more
    # than a dust amount. An input may move the price no further than it pays for
    # (amountIn <= amountRemainingLessFee, so the fee is >= 0: getNextSqrtPriceFromInput
    # rounds towards the start); an output moves it at least as far as it takes
    # (getNextSqrtPriceFromOutput rounds away). Float prices are within an ulp or two.
    if exact_in:
        if sqrt_next != sqrt_target:
            amount_in = delta_in(sqrt_price, sqrt_next, liquidity)
            while amount_in > remaining_less_fee:
                sqrt_next = math.nextafter(sqrt_next, sqrt_price)
                amount_in = delta_in(sqrt_price, sqrt_next, liquidity)
        amount_out = delta_out(sqrt_price, sqrt_next, liquidity)
    else:
        if sqrt_next != sqrt_target:
            amount_out = delta_out(sqrt_price, sqrt_next, liquidity)
            while amount_out < -amount_remaining and sqrt_next != sqrt_target:
                sqrt_next = math.nextafter(sqrt_next, sqrt_target)
                amount_out = delta_out(sqrt_price, sqrt_next, liquidity)
        amount_in = delta_in(sqrt_price, sqrt_next, liquidity)
        amount_out = min(amount_out, -amount_remaining)

    if exact_in and sqrt_next != sqrt_target:
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = amount_in * fee / (1 - fee)
    return sqrt_next, amount_in, amount_out, fee_amount


# -- LiquidityAmounts (v3-periphery) ------------------------------------------------------
def liquidity_for_amounts(
    sqrt_price: float, sqrt_a: float, sqrt_b: float, amount0: float, amount1: float
) -> float:
    """Most liquidity that `amount0` and `amount1` can fund on [sqrt_a, sqrt_b] at `sqrt_price`
    (LiquidityAmounts.getLiquidityForAmounts; whitepaper eqs. 6.29-6.30)."""
    sqrt_price = check_amount("sqrt_price", sqrt_price, allow_zero=False)
    sqrt_a, sqrt_b = _check_range(sqrt_a, sqrt_b)
    amount0 = check_amount("amount0", amount0)
    amount1 = check_amount("amount1", amount1)
    if sqrt_price <= sqrt_a:
        return amount0 * sqrt_a * sqrt_b / (sqrt_b - sqrt_a)
    if sqrt_price < sqrt_b:
        liquidity0 = amount0 * sqrt_price * sqrt_b / (sqrt_b - sqrt_price)
        return min(liquidity0, amount1 / (sqrt_price - sqrt_a))
    return amount1 / (sqrt_b - sqrt_a)


def amounts_for_liquidity(
    sqrt_price: float, sqrt_a: float, sqrt_b: float, liquidity: float
) -> tuple[float, float]:
    """Token amounts that `liquidity` on [sqrt_a, sqrt_b] holds at `sqrt_price`
    (LiquidityAmounts.getAmountsForLiquidity): the price clamped into the range gives all
    three cases (only token0 below, only token1 above, both inside)."""
    sqrt_price = check_amount("sqrt_price", sqrt_price, allow_zero=False)
    sqrt_a, sqrt_b = _check_range(sqrt_a, sqrt_b)
    return _amounts_for_liquidity(sqrt_price, sqrt_a, sqrt_b, check_amount("liquidity", liquidity))


def _amounts_for_liquidity(
    sqrt_price: float, sqrt_a: float, sqrt_b: float, liquidity: float
) -> tuple[float, float]:
    clamped = min(max(sqrt_price, sqrt_a), sqrt_b)
    return _amount0(clamped, sqrt_b, liquidity), _amount1(sqrt_a, clamped, liquidity)


def _check_range(sqrt_a: float, sqrt_b: float) -> tuple[float, float]:
    sqrt_a = check_amount("sqrt_a", sqrt_a, allow_zero=False)
    sqrt_b = check_amount("sqrt_b", sqrt_b, allow_zero=False)
    if sqrt_a == sqrt_b:
        raise InvalidAmount(f"sqrt_b: the range is empty (sqrt_a == sqrt_b == {sqrt_a!r})")
    return min(sqrt_a, sqrt_b), max(sqrt_a, sqrt_b)


def impermanent_loss_v3(
    sqrt_price_initial: float, sqrt_price: float | np.ndarray, sqrt_a: float, sqrt_b: float
) -> float | np.ndarray:
    """Value of a range position over the value of holding its initial tokens, minus one (<= 0).

    Both are valued in token1 at `sqrt_price` (scalar or array, e.g. a price grid) and exclude
    fees; liquidity cancels out. For the full range this tends to the v2 loss 2*sqrt(r)/(1+r) - 1
    (whitepaper section 2: a v3 position is a v2 position on virtual reserves).
    """
    sqrt_price_initial = check_amount("sqrt_price_initial", sqrt_price_initial, allow_zero=False)
    sqrt_a, sqrt_b = _check_range(sqrt_a, sqrt_b)
    now = np.asarray(sqrt_price, dtype=float)
    if not np.all(np.isfinite(now) & (now > 0)):
        raise InvalidAmount(f"sqrt_price: must be finite and > 0, got {sqrt_price!r}")
    held0, held1 = _amounts_for_liquidity(sqrt_price_initial, sqrt_a, sqrt_b, 1.0)
    clamped = np.clip(now, sqrt_a, sqrt_b)
    price = now * now
    value_lp = (sqrt_b - clamped) / (clamped * sqrt_b) * price + (clamped - sqrt_a)
    value_held = held0 * price + held1
    loss = value_lp / value_held - 1
    return float(loss) if loss.ndim == 0 else loss
