"""The treasury's trading desk: how the allocator's parts act on the world, and the record of
what they did and what they could not do.

Swaps go through the simulated AMMs on the best route (`agents.routing`), at most
`max_slippage` below reference value (a larger order is cut to what fits) and never below
`min_trade_usd`; each swap hop or venue action costs `gas_units` at the step's gas price,
paid to `gas-fees` in ETH (or the safe asset when it holds no ETH) so the treasury's NAV
bears it. What cannot be done is recorded as `allocator_failed` (reason: slippage_limit,
no_route, market_illiquid, venue_refused, vault_queue, borrow_refused, opex_shortfall) and
kept in `failures` for the policy to see next step; trades and venue moves as `rebalance`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from agents import event_kinds
from agents.host import Host
from agents.routing import Quote, Router, slippage
from protocols import names
from protocols.errors import DaosimError, InsufficientLiquidity
from protocols.lending import LendingMarket
from protocols.world import World
from spec import Treasury

#: Extra sold when raising a shortfall, covering fees and impact so one swap suffices.
RAISE_CUSHION = 0.02
#: Bisection steps sizing a sale to its proceeds (2^-40 relative).
SIZING_STEPS = 40


class TreasuryDesk:
    """Trades, gas and the failure log of `holder`, within the limits of `config`."""

    def __init__(self, host: Host, holder: str, config: Treasury, safe: str,
                 stables: Collection[str]) -> None:
        self.host = host
        self.holder = holder
        self.config = config
        self.safe = safe
        self.stables = stables
        self.router = Router(host.world.pools)
        self.costs_usd = {"gas": 0.0, "slippage": 0.0}
        self.turnover_usd = 0.0
        #: units the last successful swap sold (a swap may be cut to its slippage limit)
        self.last_sold = 0.0
        #: this step's failures (the allocator hands them to the policy next step)
        self.failures: list[dict[str, Any]] = []

    @property
    def world(self) -> World:
        return self.host.world

    # -- swaps ---------------------------------------------------------------------------
    def swap(self, sell: str, buy: str, amount: float, reason: str,
             max_slippage: float | None = None) -> float:
        """Sell up to `amount` of `sell` for `buy` on the best route within the slippage
        limit (`max_slippage`, default the treasury's); returns what was bought (0 when
        nothing could be done - recorded)."""
        world = self.world
        limit = self.config.max_slippage if max_slippage is None else max_slippage
        if amount <= 0:
            return 0.0
        p_in, p_out = world.usd(sell), world.usd(buy)
        if not self.router.routes(sell, buy):
            self.fail("no_route", sell=sell, buy=buy, amount=amount)
            return 0.0
        quote = self.router.quote_within(sell, buy, amount, p_in, p_out, limit)
        if quote is None or quote.amount_in * p_in < self.config.min_trade_usd:
            self.fail("slippage_limit", sell=sell, buy=buy, amount=amount,
                      max_slippage=limit)
            return 0.0
        if quote.amount_in < amount * (1 - 1e-9):
            self.fail("slippage_limit", sell=sell, buy=buy, amount=amount,
                      filled=quote.amount_in, max_slippage=limit)
        try:
            out = self.router.execute(self.holder, quote)
        except (InsufficientLiquidity, DaosimError) as exc:
            self.fail("no_route", sell=sell, buy=buy, amount=amount, error=str(exc))
            return 0.0
        self.last_sold = quote.amount_in
        gas = self.gas(len(quote.route))
        self._trade_event(quote, out, p_in, p_out, gas, reason)
        return out

    def amount_for(self, sell: str, buy: str, want: float, held: float) -> float:
        """The least of `sell` (at most `held`) whose best-route quote pays `want` units of
        `buy`: all of `held` when even that pays less. Proceeds grow with the amount sold, so
        bisection finds it (on exact quotes; nothing is traded)."""
        router = self.router

        def proceeds(amount: float) -> float:
            quote = router.quote(sell, buy, amount)
            return quote.amount_out if quote is not None else 0.0

        if held <= 0 or proceeds(held) <= want:
            return max(held, 0.0)
        lo, hi = 0.0, held
        for _ in range(SIZING_STEPS):
            mid = 0.5 * (lo + hi)
            if proceeds(mid) < want:
                lo = mid
            else:
                hi = mid
        return hi

    def obtain(self, token: str, amount: float, reason: str) -> None:
        """Try to hold `amount` more of `token`: its lending deposit, then stables, then
        other assets by falling USD value, sold through the pools."""
        world, ledger = self.world, self.world.ledger
        target = ledger.balance_of(self.holder, token) + amount
        for market in world.markets.values():
            if token in market.assets and ledger.balance_of(self.holder,
                                                           market.receipt_token(token)) > 0:
                need = target - ledger.balance_of(self.holder, token)
                if need > 0:
                    self.withdraw(market, token, need)
        balances = ledger.balances_of(self.holder)
        candidates = sorted(
            ((a not in self.stables, -balances[a] * world.usd(a), a)
             for a in balances if a in world.reference and a != token and balances[a] > 0),
        )
        for _, _, asset in candidates:
            need = target - ledger.balance_of(self.holder, token)
            if need <= 0:
                return
            sell = min(need * world.usd(token) / world.usd(asset) * (1 + RAISE_CUSHION),
                       ledger.balance_of(self.holder, asset))
            self.swap(asset, token, sell, reason)

    def withdraw(self, market: LendingMarket, asset: str, units: float) -> None:
        """Redeem up to `units` of the treasury's `asset` deposit in `market`, as far as the
        market's cash allows (the rest is recorded as market_illiquid)."""
        world = self.world
        available = min(units, market.cash(asset),
                        world.ledger.balance_of(self.holder, market.receipt_token(asset))
                        * market.exchange_rate(asset))
        if available < units * (1 - 1e-9):
            self.fail("market_illiquid", venue=market.name, asset=asset, wanted=units,
                      available=available, utilization=market.utilization(asset))
        if available > 0:
            try:
                market.withdraw(self.holder, asset, available)
            except DaosimError as exc:
                self.fail("market_illiquid", venue=market.name, asset=asset, error=str(exc))
                return
            self.gas()
            self.venue_event("exit", market.name, available * world.usd(asset))

    # -- costs and records ---------------------------------------------------------------
    def gas(self, actions: int = 1) -> float:
        """Pay `actions` x gas_units at this step's gas price: in ETH if held, else in the
        safe asset; returns the USD cost."""
        usd = float(self.host.gas_cost_usd(self.config.gas_units * actions))
        if usd <= 0:
            return 0.0
        world, ledger = self.world, self.world.ledger
        for token in ("ETH", self.safe):
            if token in world.reference:
                units = usd / world.usd(token)
                if ledger.balance_of(self.holder, token) >= units:
                    ledger.transfer(token, self.holder, names.GAS_SINK, units)
                    break
        self.costs_usd["gas"] += usd
        return usd

    def fail(self, reason: str, **fields: Any) -> None:
        entry = {"reason": reason, **fields}
        self.failures.append(entry)
        self.host.record(event_kinds.ALLOCATOR_FAILED, actor=self.holder, **entry)

    def venue_event(self, action: str, venue: str, value_usd: float) -> None:
        self.host.record(event_kinds.REBALANCE, actor=self.holder, action=action, venue=venue,
                         value_usd=value_usd)

    def _trade_event(self, quote: Quote, out: float, p_in: float, p_out: float, gas: float,
                     reason: str) -> None:
        sell, buy = quote.route[0][1], quote.route[-1][2]
        value_in, value_out = quote.amount_in * p_in, out * p_out
        self.turnover_usd += value_in
        self.costs_usd["slippage"] += value_in - value_out
        self.host.record(
            event_kinds.REBALANCE, actor=self.holder, action="swap", reason=reason, sell=sell,
            buy=buy,
            amount_in=quote.amount_in, amount_out=out, value_in_usd=value_in,
            value_out_usd=value_out, slippage=slippage(Quote(quote.route, quote.amount_in, out),
                                                      p_in, p_out),
            pools="/".join(quote.pools), gas_usd=gas,
        )
