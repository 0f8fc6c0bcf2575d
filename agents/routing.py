"""Best-route swaps through the simulated AMMs, with a slippage limit.

A route is a chain of up to `MAX_HOPS` pools (GOV -> ETH -> USDC through a GOV/ETH and an
ETH/USDC pool, as a DEX aggregator would route it). Every candidate route is quoted with the
pools' own `quote_exact_in` (exact, state untouched) and the one paying the most wins.

Slippage is measured against reference prices: 1 - (out x p_out) / (in x p_in), fees and
price impact included. For every route out(x)/x falls as x grows (each pool's output is
concave with out(0) = 0), so the best route's slippage rises with size and the largest
amount within a limit is found by bisection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocols.errors import DaosimError

MAX_HOPS = 2
#: Bisection steps for the largest amount within the slippage limit (2^-30 relative).
BISECTION_STEPS = 30

Hop = tuple[Any, str, str]  # (pool, token_in, token_out)


@dataclass(frozen=True, slots=True)
class Quote:
    route: tuple[Hop, ...]
    amount_in: float
    amount_out: float

    @property
    def pools(self) -> list[str]:
        return [pool.name for pool, _, _ in self.route]


class Router:
    """Routes over a fixed set of pools (`name -> pool`); routes are cached per pair."""

    def __init__(self, pools: Mapping[str, Any], max_hops: int = MAX_HOPS) -> None:
        self.pools = dict(pools)
        self.max_hops = max_hops
        self._routes: dict[tuple[str, str], list[tuple[Hop, ...]]] = {}

    def routes(self, token_in: str, token_out: str) -> list[tuple[Hop, ...]]:
        """Every loop-free chain of at most `max_hops` pools from token_in to token_out."""
        key = (token_in, token_out)
        if key not in self._routes:
            found: list[tuple[Hop, ...]] = []

            def walk(token: str, route: tuple[Hop, ...], seen: frozenset[str]) -> None:
                if len(route) == self.max_hops:
                    return
                for pool in self.pools.values():
                    if token not in pool.tokens or pool.name in {p.name for p, _, _ in route}:
                        continue
                    for nxt in pool.tokens:
                        if nxt == token or nxt in seen:
                            continue
                        hop_route = (*route, (pool, token, nxt))
                        if nxt == token_out:
                            found.append(hop_route)
                        else:
                            walk(nxt, hop_route, seen | {nxt})

            walk(token_in, (), frozenset({token_in}))
            self._routes[key] = found
        return self._routes[key]

    def quote(self, token_in: str, token_out: str, amount: float) -> Quote | None:
        """The best route's quote for selling `amount`; None without a route that fills it."""
        best = None
        for route in self.routes(token_in, token_out):
            out = quote_route(route, amount)
            if out is not None and (best is None or out > best.amount_out):
                best = Quote(route, amount, out)
        return best

    def quote_within(self, token_in: str, token_out: str, amount: float, price_in: float,
                     price_out: float, max_slippage: float) -> Quote | None:
        """The largest sale of at most `amount` whose slippage stays within `max_slippage`
        (None when no route exists or even a tiny sale exceeds it)."""
        full = self.quote(token_in, token_out, amount)
        if full is not None and slippage(full, price_in, price_out) <= max_slippage:
            return full
        lo, hi, best = 0.0, amount, None
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            q = self.quote(token_in, token_out, mid)
            if q is not None and slippage(q, price_in, price_out) <= max_slippage:
                lo, best = mid, q
            else:
                hi = mid
        return best

    def execute(self, holder: str, quote: Quote) -> float:
        """Swap along the quote's route for `holder`; returns the final amount received."""
        amount = quote.amount_in
        for pool, token_in, token_out in quote.route:
            amount = pool.swap_exact_in(holder, token_in, token_out, amount)
        return amount


def quote_route(route: tuple[Hop, ...], amount: float) -> float | None:
    for pool, token_in, token_out in route:
        try:
            amount = pool.quote_exact_in(token_in, token_out, amount)
        except DaosimError:  # drained, out of range liquidity, or a dust amount
            return None
        if not amount > 0:
            return None
    return amount


def slippage(quote: Quote, price_in: float, price_out: float) -> float:
    """Shortfall of the output's reference value against the input's: fees + impact."""
    return 1.0 - quote.amount_out * price_out / (quote.amount_in * price_in)
