"""Profit-maximising arbitrage of an AMM pool against external (reference) USD prices.

Selling x of token_in pays out(x) of token_out, worth out(x)*p_out - x*p_in at external
prices. For all three pool kinds out(x) is concave (the marginal price falls as the trade
walks the curve), so the profit has one maximum, where the marginal rate d(out)/d(in)
equals p_in/p_out. The rate of the first unit is (1 - fee) * spot price (fee excluded), so
no trade pays while the pool is within the fee band of the reference (Angeris et al. 2019,
"An analysis of Uniswap markets", arXiv:1911.03380, section on optimal arbitrage; the same
first-order condition holds for any concave trading function).

- Uniswap v2: the closed form `amount_in_to_target_price` (exact).
- Curve StableSwap: Brent's method on the exact marginal rate (1 - fee) * marginal price
  at the post-trade balances (the fee is a share of the output, 3pool `exchange`).
- Uniswap v3 (and any other pool with the shared interface): Brent's method on the marginal
  rate from central differences of `quote_exact_in`; amounts the pool cannot fill count as
  rate 0. Within a range the optimum moves the price to p_in/p_out / (1 - fee).

Profits are in USD at the given prices, before gas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import permutations

from scipy.optimize import brentq

from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.constant_product import ConstantProductPool, amount_in_to_target_price
from protocols.amm.stableswap import StableSwapPool, _get_D, _marginal_price, _solve_y
from protocols.errors import InsufficientLiquidity
from protocols.validation import check_amount

Pool = ConstantProductPool | StableSwapPool | ConcentratedLiquidityPool

#: Relative step of the central difference quote(x +- h): quotes are exact to ~1e-16
#: relative, so the rate is good to ~1e-12 while the O(h^2) truncation stays negligible.
DIFF_STEP = 1e-4
#: A v3 quote above the pool's balance by more than float rounding means a drained pool.
DRAINED_RTOL = 1e-9
#: Brent's relative tolerance on the amount: the profit is flat at its maximum, so this
#: leaves ~1e-14 of it on the table, and each digit less saves an evaluation or two.
AMOUNT_RTOL = 1e-7


@dataclass(frozen=True, slots=True)
class Trade:
    """A swap of `amount_in` token_in for `amount_out` token_out in `pool`, and its profit
    in USD at the external prices `price_in` / `price_out` it was sized with (before gas)."""

    token_in: str
    token_out: str
    amount_in: float
    amount_out: float
    profit_usd: float
    pool: Pool = field(repr=False, compare=False)
    price_in: float
    price_out: float


def best_arbitrage(pool: Pool, price_usd: Mapping[str, float]) -> Trade | None:
    """The most profitable single swap in `pool` at external prices `price_usd` (every
    ordered token pair is tried), or None when no trade pays before gas."""
    prices = {
        t: check_amount(f"price_usd[{t!r}]", price_usd.get(t), allow_zero=False)
        for t in pool.tokens
    }
    best = None
    try:
        for token_in, token_out, amount_in in _optimal_inputs(pool, prices):
            price_in, price_out = prices[token_in], prices[token_out]
            amount_out = pool.quote_exact_in(token_in, token_out, amount_in)
            profit = amount_out * price_out - amount_in * price_in
            if profit > 0 and (best is None or profit > best.profit_usd):
                best = Trade(
                    token_in, token_out, amount_in, amount_out, profit, pool, price_in, price_out
                )
    except InsufficientLiquidity:  # an empty or drained pool: nothing to trade against
        return None
    return best


def capped(trade: Trade, budget_in: float) -> Trade | None:
    """`trade` scaled down to `budget_in` of token_in and re-quoted (profit is concave and 0
    at 0, so a smaller trade still pays); None when the budget buys nothing profitable."""
    budget_in = check_amount("budget_in", budget_in)
    if trade.amount_in <= budget_in:
        return trade
    if budget_in == 0:
        return None
    amount_out = trade.pool.quote_exact_in(trade.token_in, trade.token_out, budget_in)
    profit = amount_out * trade.price_out - budget_in * trade.price_in
    if profit <= 0:
        return None
    return replace(trade, amount_in=budget_in, amount_out=amount_out, profit_usd=profit)


def _optimal_inputs(pool: Pool, price_usd: Mapping[str, float]) -> Iterator[tuple[str, str, float]]:
    """(token_in, token_out, amount_in) for every ordered pair whose first unit pays, the
    amount being where the marginal rate falls to p_in/p_out."""
    if isinstance(pool, ConstantProductPool):
        reserves = pool.reserves()
    elif isinstance(pool, StableSwapPool):
        balances = list(pool.reserves().values())
        invariant = _get_D(balances, pool.amp)  # InsufficientLiquidity if one coin ran out
        if invariant == 0:  # no deposits yet
            return
    for (i, token_in), (j, token_out) in permutations(enumerate(pool.tokens), 2):
        target = price_usd[token_in] / price_usd[token_out]  # token_out per token_in
        if isinstance(pool, ConstantProductPool):
            amount_in = float(
                amount_in_to_target_price(reserves[token_in], reserves[token_out], target, pool.fee)
            )
        elif isinstance(pool, StableSwapPool):
            amount_in = _stableswap_input(pool, i, j, balances, invariant, target)
        else:
            amount_in = _v3_input(pool, token_in, token_out, target)
        if amount_in > 0:
            yield token_in, token_out, amount_in


def _stableswap_input(
    pool: StableSwapPool, i: int, j: int, balances: list[float], invariant: float, target: float
) -> float:
    """Brent on the exact rate (1 - fee) * marginal price after selling x of coin i: the
    derivative of 3pool `get_dy`, whose fee is a fixed share of the output. Uses the pool
    module's unchecked kernels (the ones its `exchange` runs) on balances it just read."""
    amp, keep = pool.amp, 1.0 - pool.fee
    first_rate = keep * _marginal_price(i, j, balances, amp, invariant)
    if first_rate <= target:
        return 0.0

    def excess(x: float) -> float:
        if x == 0:
            return first_rate - target
        after = list(balances)
        after[i] += x
        after[j] = _solve_y(j, after, amp, invariant)
        return keep * _marginal_price(i, j, after, amp, invariant) - target

    # Beyond this the profit is negative, hence falling: out < reserve_out, so out*p_out < x*p_in.
    return _root_from_below(excess, balances[j] / target)


def _v3_input(
    pool: ConcentratedLiquidityPool, token_in: str, token_out: str, target: float
) -> float:
    """Exact: sell until the marginal rate (1 - fee) * price equals `target`, i.e. swap to
    the price limit target / (1 - fee) (`quote_to_price`). A v3 quote reads the positions,
    not the balance an exploit may have drained: when it would pay more than the pool
    holds, search for the best amount the balance can pay instead."""
    amount_in, amount_out = pool.quote_to_price(token_in, token_out, target / (1.0 - pool.fee))
    if amount_in == 0:
        return 0.0
    if amount_out > pool.reserves()[token_out] * (1.0 + DRAINED_RTOL):
        return _quoted_input(pool, token_in, token_out, target)
    try:
        pool.quote_exact_in(token_in, token_out, amount_in)
    except InsufficientLiquidity:
        # The target lies past the last liquidity and the swap uses it all: stay a hair
        # inside, so a swap without a price limit fills instead of running off the edge.
        return amount_in * (1.0 - DRAINED_RTOL)
    return amount_in


def _quoted_input(pool: Pool, token_in: str, token_out: str, target: float) -> float:
    """Brent on d(out)/d(in) from central differences of the pool's own quote; amounts the
    pool cannot fill, or whose output exceeds its balance (a v3 quote reads the positions,
    not the balance an exploit may have drained), count as rate 0."""
    first_rate = (1.0 - pool.fee) * pool.spot_price(token_in, token_out)
    reserve_out = pool.reserves()[token_out]
    if first_rate <= target or reserve_out == 0:
        return 0.0

    def excess(x: float) -> float:
        if x == 0:
            return first_rate - target
        h = DIFF_STEP * x
        try:
            above = pool.quote_exact_in(token_in, token_out, x + h)
            below = pool.quote_exact_in(token_in, token_out, x - h)
        except InsufficientLiquidity:
            return -target
        return (above - below) / (2.0 * h) - target if above <= reserve_out else -target

    return _root_from_below(excess, reserve_out / target)




def _root_from_below(excess: Callable[[float], float], upper: float) -> float:
    """Largest evaluated x with excess(x) >= 0, for `excess` decreasing on [0, upper] from
    >= 0 to < 0: Brent's method, keeping the bracket end on the paying side (so the amount
    returned is one the pool can fill)."""
    paying = 0.0

    def tracked(x: float) -> float:
        nonlocal paying
        value = excess(x)
        if value >= 0 and x > paying:
            paying = x
        return value

    brentq(tracked, 0.0, upper, xtol=upper * 1e-15, rtol=AMOUNT_RTOL)
    return paying
