"""Profit-maximising arbitrage of an AMM pool against external (reference) USD prices.

Selling x of token_in pays out(x) of token_out, worth out(x)*p_out - x*p_in at external
prices. For every pool out(x) is concave (the marginal price falls as the trade walks the
curve), so the profit has one maximum, where the marginal rate d(out)/d(in) equals
p_in/p_out. The rate of the first unit is (1 - fee) * spot price (fee excluded), so no trade
pays while the pool is within the fee band of the reference (Angeris et al. 2019, "An
analysis of Uniswap markets", arXiv:1911.03380, section on optimal arbitrage; the same
first-order condition holds for any concave trading function).

Each pool finds that point itself (`Pool.quote_to_rate` at p_in/p_out: v2's closed form,
StableSwap's Brent solve on its exact marginal rate, v3's swap to the price limit
p_in/p_out/(1 - fee)), so the arbitrage never switches on the pool's kind. One case is left
here: a v3 quote to a price reads the positions, not the balance an exploit may have
drained, so when the swap would pay out more than the pool holds, the best amount is
searched on the pool's own exact quotes (which refuse what the balance cannot pay).

Profits are in USD at the given prices, before gas.

When the arbitrage is hedged on off-chain markets of finite depth (`protocols.offchain`),
the hedge moves the off-chain prices too, so the best trade is smaller: profit (in
token_in kept) = hedge(out(x)) - x is maximal where the pool's marginal rate equals the
off-chain marginal rate after the hedge, P_in'/P_out' (`best_hedged_arbitrage`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import permutations
from typing import Any

from scipy.optimize import brentq

from protocols.amm.pool import Pool
from protocols.amm.solve import root_from_below
from protocols.errors import InsufficientLiquidity
from protocols.validation import check_amount
from protocols.world import World

#: Relative step of the central difference quote(x +- h): quotes are exact to ~1e-16
#: relative, so the rate is good to ~1e-12 while the O(h^2) truncation stays negligible.
DIFF_STEP = 1e-4
#: Smallest relative edge of the first unit's rate over the external rate worth solving
#: for. Closing an edge e moves about e x depth of volume for a profit of order e^2 x depth:
#: at 1e-7, under $0.01 even for a $300M StableSwap pool at A 2000 (depth ~ A x TVL / 4),
#: far below any gas cost - while a pool just arbitraged sits at the band's edge, where
#: float rounding leaves such edges every round.
MIN_EDGE = 1e-7
#: A quote above the pool's balance by more than float rounding means a drained pool; a
#: swap that runs off the pool's last liquidity is trimmed by this much to stay inside it.
DRAINED_RTOL = 1e-9
#: How far a hedged trade's profit may exceed the unhedged best's by float rounding alone
#: (the unhedged amount is Brent's root to 1e-7, where the profit is flat: ~1e-14 of it).
HEDGE_BOUND_RTOL = 1e-9


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
            try:
                amount_out = pool.quote_exact_in(token_in, token_out, amount_in)
            except InsufficientLiquidity:
                # The limit lies past the pool's last liquidity and the swap uses it all
                # (v3): stay a hair inside, so a swap without a price limit fills.
                amount_in *= 1.0 - DRAINED_RTOL
                amount_out = pool.quote_exact_in(token_in, token_out, amount_in)
            profit = amount_out * price_out - amount_in * price_in
            if profit > 0 and (best is None or profit > best.profit_usd):
                best = Trade(
                    token_in, token_out, amount_in, amount_out, profit, pool, price_in, price_out
                )
    except InsufficientLiquidity:  # an empty or drained pool: nothing to trade against
        return None
    return best


def best_hedged_arbitrage(pool: Pool, world: World, floor_usd: float = 0.0) -> Trade | None:
    """The most profitable swap in `pool` when its output is sold, and its input bought
    back, on `world`'s off-chain markets, whose finite depth moves their prices (module
    doc); `best_arbitrage` at the traded prices when the hedge cannot move their ratio
    (unlimited depth, or a pegged asset hedged against its own anchor).

    The direction is the unhedged best's; the size solves rho = P_in'(rho) / P_out'(rho)
    for the pool rate rho reached by the swap (`Pool.quote_to_rate`), P' being the
    off-chain prices after hedging that swap. The gap rho - P_in'/P_out' rises with rho (a
    higher rate is a smaller trade, a smaller hedge): negative at the unhedged target
    P_in/P_out, positive at the first unit's rate, so Brent brackets its one root.
    Profit is the hedge's proceeds in token_in less the input, in USD at today's price.

    None also when even the unhedged best earns no more than `floor_usd` (a trader's gas):
    the hedge only costs - its sale pays less than the reference price, its purchase more -
    so no hedged size can earn more, and the costly solve is skipped."""
    prices = {t: world.usd(t) for t in pool.tokens}
    plain = best_arbitrage(pool, prices)
    if plain is None:
        return None
    if floor_usd > 0 and plain.profit_usd * (1.0 + HEDGE_BOUND_RTOL) <= floor_usd:
        return None
    sell_off, buy_off = world.reference[plain.token_out], world.reference[plain.token_in]
    # d log(P_in / P_out) per USD hedged: buying token_in lifts it, selling token_out sinks
    # it - unless one trades against the other's market (stETH against ETH), which then
    # moves with it and cancels that part.
    spread = buy_off.impact_per_usd + sell_off.impact_per_usd
    if buy_off.anchor is sell_off:
        spread -= sell_off.impact_per_usd
    if sell_off.anchor is buy_off:
        spread -= buy_off.impact_per_usd
    if spread == 0:
        return plain
    token_in, token_out = plain.token_in, plain.token_out
    reserve_out = pool.reserves()[token_out]
    log_ratio = math.log(plain.price_in / plain.price_out)

    def gap(log_rate: float) -> float:
        _, amount_out = pool.quote_to_rate(token_in, token_out, math.exp(log_rate))
        return log_rate - log_ratio - spread * sell_off.quote_sell(amount_out)

    low = log_ratio
    high = math.log((1.0 - pool.fee) * pool.spot_price(token_in, token_out))
    if not high > low or gap(low) >= 0:
        return plain  # float rounding at the edge of the band, or a drained pool's quote
    rate = math.exp(brentq(gap, low, high, xtol=1e-12, rtol=1e-9))
    amount_in, _ = pool.quote_to_rate(token_in, token_out, rate)
    if amount_in <= 0:
        return None
    try:  # the swap's own quote, which its execution pays exactly
        amount_out = pool.quote_exact_in(token_in, token_out, amount_in)
    except InsufficientLiquidity:
        return None
    if amount_out > reserve_out:
        return None
    back = world.quote_offchain(token_out, amount_out, token_in)
    profit = (back - amount_in) * plain.price_in
    if profit <= 0:
        return None
    return replace(plain, amount_in=amount_in, amount_out=amount_out, profit_usd=profit)


#: A memo of `remembered_hedged_arbitrage`: pool name -> (the state it was last solved in,
#: the answer, its price level, the floor it was solved for). One per model, shared by its
#: traders and dropped with them: an answer holds its pool, so a memo keyed by the pool
#: itself would keep every pool of every run alive.
Memo = dict[str, tuple[Any, "Trade | None", float, float]]


def remembered_hedged_arbitrage(pool: Pool, world: World, memo: Memo, floor_usd: float = 0.0
                                 ) -> Trade | None:
    """`best_hedged_arbitrage`, solved once per state of the pool and of its tokens' off-chain
    prices: the answer is a function of exactly these (the pool's state, which changes only
    with its ledger balances, and the traded prices), so a repeated question - the next
    arbitrageur of the round, the next quiet round - costs a lookup in `memo` instead of a
    solve. Where no hedge can move the pair's prices (every token's own depth unlimited),
    the trade's amounts depend on the prices' ratios alone and its profit is proportional
    to their level: a pool whose prices all moved together (stETH with ETH) is answered
    from the last solve, rescaled. With `floor_usd`, as `best_hedged_arbitrage`: None may
    also mean no trade earning more than it; such an answer serves any floor as high."""
    prices = tuple([world.usd(t) for t in pool.tokens])
    scalable = not any([world.reference[t].impact_per_usd for t in pool.tokens])
    level = prices[0] if scalable else 1.0
    state = (
        world.ledger.writes_of(pool.name),  # every change of a pool moves its balances
        tuple(p / level for p in prices) if scalable else prices,
    )
    floor_usd = 0.0 if scalable else floor_usd  # unmovable prices: no hedged solve to skip
    known = memo.get(pool.name)
    if known is not None and known[0] == state and (known[1] is not None
                                                    or known[3] <= floor_usd):
        trade, solved_level = known[1], known[2]
        if trade is None or solved_level == level:
            return trade
        scale = level / solved_level
        return replace(trade, profit_usd=trade.profit_usd * scale,
                       price_in=trade.price_in * scale, price_out=trade.price_out * scale)
    trade = best_hedged_arbitrage(pool, world, floor_usd)
    memo[pool.name] = (state, trade, level, floor_usd)
    return trade


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
    amount being where the marginal rate falls to p_in/p_out (module doc)."""
    reserves = pool.reserves()
    for token_in, token_out in permutations(pool.tokens, 2):
        target = price_usd[token_in] / price_usd[token_out]  # token_out per token_in
        if (1.0 - pool.fee) * pool.spot_price(token_in, token_out) <= target * (1 + MIN_EDGE):
            continue  # no edge worth solving for (a pool just arbitraged sits at the band)
        amount_in, amount_out = pool.quote_to_rate(token_in, token_out, target)
        if amount_in > 0 and amount_out > reserves[token_out] * (1.0 + DRAINED_RTOL):
            amount_in = _quoted_input(pool, token_in, token_out, target)
        if amount_in > 0:
            yield token_in, token_out, amount_in


def _quoted_input(pool: Pool, token_in: str, token_out: str, target: float) -> float:
    """Brent on d(out)/d(in) from central differences of the pool's own quote; amounts the
    pool cannot fill or pay from its balance count as rate 0."""
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

    return root_from_below(excess, reserve_out / target)
