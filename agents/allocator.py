"""The DAO treasury's allocator: pays opex, asks its policy for targets, trades toward them.

The treasury's assets live in the ledger under one holder (`protocols.names.TREASURY`). Each step
(step 10 of the model) the allocator

1. pays the operating spend pro rata (`opex_usd_per_month` x step_hours / 730.5 h, in
   `opex_token`, to `opex:payees`), raising the opex token when short: withdrawing its
   lending deposit, then selling other stables, then other assets (largest first);
2. shows the policy a read-only `TreasuryView` and normalizes its answer (`Decision`);
3. moves debts toward the policy's targets (borrowing against its `collateral`, e.g. its
   own GOV - a real and risky DAO practice - at health factor `borrow_hf`, or repaying);
4. trades the free portfolio toward the target weights: leaves venues it holds too much of
   (lending withdraw, v2/Curve LP remove, v3 burn + collect, vault withdrawal request),
   sells base assets it holds too much of for the safe asset, buys those it lacks with it,
   then enters venues (lending supply, LP add, a v3 range of +-`v3_width` around the
   price, vault deposit).

Swaps go through the simulated AMMs on the best route (`agents.routing`), at most
`max_slippage` below reference value (a larger order is cut to what fits) and never below
`min_trade_usd`; each swap hop or venue action costs `gas_units` at the step's gas price,
paid to `gas-fees` in ETH (or the safe asset when it holds no ETH) so the treasury's NAV
bears it. What cannot be done is recorded as `allocator_failed` (reason: slippage_limit,
no_route, market_illiquid, vault_queue, borrow_refused, opex_shortfall) and shown to the
policy next step; trades as `rebalance`, opex as costs in `costs()`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import mesa
import numpy as np

from agents import event_kinds
from agents.host import Host
from agents.policies import as_decision, make_policy
from agents.policies.base import Decision, TreasuryView
from agents.routing import Quote, Router, slippage
from agents.treasury_book import Book, read_book, token_index
from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.v3_math import amounts_for_liquidity, tick_to_sqrt_price, ticks_around
from protocols.errors import DaosimError, InsufficientLiquidity
from spec import Treasury

#: Average month in hours (365.25 days / 12).
HOURS_PER_MONTH = 365.25 * 24.0 / 12.0
#: Extra sold when raising a shortfall, covering fees and impact so one swap suffices.
RAISE_CUSHION = 0.02


class Allocator(mesa.Agent):
    """Applies `config.policy` to the holdings of `holder`; see the module doc.

    `stables` are the world's USD stablecoins, `step_hours` the length of a step (opex is
    paid per step), `steps_per_year` annualizes for the policies, and `horizon` is the run's
    last step (the price and NAV histories policies read are that long).
    """

    def __init__(self, model: Host, holder: str, config: Treasury, *,
                 stables: frozenset[str], step_hours: float, steps_per_year: float,
                 horizon: int) -> None:
        super().__init__(model)
        world = model.world
        self.holder = holder
        self.config = config
        self.policy = make_policy(config.policy)
        self.router = Router(world.pools)
        self.stables = stables
        self.safe = config.policy.safe_asset or config.opex_token
        #: What holdings are sold into when valuing them at liquidation.
        self.exit_assets = [self.safe] if self.safe in self.stables else sorted(self.stables)
        self.steps_per_year = steps_per_year
        self.opex_per_step_usd = config.opex_usd_per_month * step_hours / HOURS_PER_MONTH
        self.assets = tuple(world.assets)
        self.price_history = np.full((horizon + 1, len(self.assets)), np.nan)
        self.nav_history = np.full(horizon + 1, np.nan)
        self._positions: dict[str, int] = {}  # market -> the treasury's borrowing position
        self._failures: list[dict[str, Any]] = []
        self._last_failures: tuple[dict[str, Any], ...] = ()
        self._pending_debt = dict(config.policy.borrow) or None
        self.costs_usd = {"gas": 0.0, "slippage": 0.0}
        self.turnover_usd = 0.0
        self.opex_paid_usd = 0.0
        self.opex_shortfall_usd = 0.0
        self._index = token_index(world)
        self.book = read_book(world, holder, 0, self._positions_map(), self._index)
        self.initial_nav_usd = self.book.nav_usd
        self.initial_weights = self.book.weights()
        self._record_history(0)
        #: A scenario without a treasury (no holdings, no spend) has nothing to decide.
        self.idle = self.initial_nav_usd == 0 and self.opex_per_step_usd == 0

    # -- the step ------------------------------------------------------------------------
    def step(self) -> None:
        if self.idle:
            return
        t = self.model.steps
        self._failures = []
        if self.opex_per_step_usd > 0:
            self._pay_opex()
        self.book = self.read_book()
        self.price_history[t] = [self.book.prices[a] for a in self.assets]
        decision = as_decision(self.policy.decide(self.view(t)), "treasury.policy.decide")
        for kind, fields in decision.events:
            self.model.record(kind, actor=self.holder, **fields)
        if decision.debt_usd is None and self._pending_debt is not None:
            decision = Decision(decision.weights, self._pending_debt)
        self._pending_debt = None
        if decision.weights is not None or decision.debt_usd is not None:
            self.apply(decision)
        self._record_history(t)
        self._last_failures = tuple(self._failures)

    def view(self, step: int) -> TreasuryView:
        book = self.book
        history = self.price_history[: step + 1]
        history.flags.writeable = False  # a view: the allocator's own array stays writable
        navs = self.nav_history[: step + 1]
        navs.flags.writeable = False
        return TreasuryView(
            step=step, steps_per_year=self.steps_per_year, nav_usd=book.nav_usd,
            initial_nav_usd=self.initial_nav_usd, free_usd=book.free_usd,
            values_usd=dict(book.values_usd), weights=book.weights(),
            initial_weights=dict(self.initial_weights), prices=dict(book.prices),
            assets=self.assets, price_history=history, nav_history=navs,
            deltas=dict(book.deltas), debt_usd=book.debt_usd, stables=self.stables,
            safe_asset=self.safe, failures=self._last_failures,
        )

    def _record_history(self, step: int) -> None:
        self.price_history[step] = [self.book.prices[a] for a in self.assets]
        self.nav_history[step] = self.book.nav_usd

    # -- opex ----------------------------------------------------------------------------
    def _pay_opex(self) -> None:
        world, token = self.model.world, self.config.opex_token
        price = world.usd(token)
        due = self.opex_per_step_usd / price
        held = world.ledger.balance_of(self.holder, token)
        if held < due:
            self._raise(token, due - held, "opex")
            held = world.ledger.balance_of(self.holder, token)
        paid = min(due, held)
        if paid > 0:
            world.ledger.transfer(token, self.holder, names.PAYEES, paid)
            self.opex_paid_usd += paid * price
        if paid < due * (1 - 1e-12):
            short = (due - paid) * price
            self.opex_shortfall_usd += short
            self._fail("opex_shortfall", token=token, shortfall_usd=short)

    def _raise(self, token: str, amount: float, reason: str) -> None:
        """Try to hold `amount` more of `token`: its lending deposit, then stables, then
        other assets by falling USD value, sold through the pools."""
        world, ledger = self.model.world, self.model.world.ledger
        target = ledger.balance_of(self.holder, token) + amount
        for market in world.markets.values():
            if token in market.assets and ledger.balance_of(self.holder,
                                                           market.receipt_token(token)) > 0:
                need = target - ledger.balance_of(self.holder, token)
                if need > 0:
                    self._withdraw(market, token, need)
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
            self._swap(asset, token, sell, reason)

    # -- debts ---------------------------------------------------------------------------
    def _adjust_debts(self, targets: Mapping[str, float]) -> None:
        world = self.model.world
        collateral = self.config.policy.collateral
        current = self.book.debt_usd
        for asset in sorted(set(targets) | set(current)):
            wanted = max(0.0, float(targets.get(asset, current.get(asset, 0.0))))
            gap_usd = wanted - current.get(asset, 0.0)
            if abs(gap_usd) < max(self.config.min_trade_usd, 1e-9):
                continue
            market = self._market_for(asset, collateral)
            if market is None:
                self._fail("borrow_refused", asset=asset, reason_detail="no market")
                continue
            if gap_usd > 0:
                self._borrow(market, asset, collateral, gap_usd / world.usd(asset))
            else:
                self._repay(market, asset, -gap_usd / world.usd(asset))

    def _market_for(self, asset: str, collateral: str) -> Any:
        for market in self.model.world.markets.values():
            if (asset in market.assets and collateral in market.assets
                    and market.reserves[asset].borrowable
                    and market.reserves[collateral].liquidation_threshold > 0):
                return market
        return None

    def _borrow(self, market: Any, asset: str, collateral: str, amount: float) -> None:
        """Borrow `amount` of `asset`, first posting collateral so the position's health
        factor (oracle prices, Aave's definition) stays at `borrow_hf`."""
        world, ledger = self.model.world, self.model.world.ledger
        if market.name not in self._positions:
            self._positions[market.name] = market.open_position(self.holder)
        pid = self._positions[market.name]
        i_c = market.assets.index(collateral)
        p_c, p_a = market.oracles[collateral].price, market.oracles[asset].price
        lt = market.reserves[collateral].liquidation_threshold
        debt_value = float(market.debt_of(pid) @ [market.oracles[a].price for a in market.assets])
        posted = float(market.collateral_of(pid)[i_c])
        needed = self.config.policy.borrow_hf * (debt_value + amount * p_a) / (lt * p_c)
        top_up = min(max(0.0, needed - posted), ledger.balance_of(self.holder, collateral))
        if top_up > 0:
            market.deposit_collateral(pid, collateral, top_up)
            self._gas()
            posted += top_up
        # What the posted collateral supports at the target health factor.
        room = (posted * p_c * lt / self.config.policy.borrow_hf - debt_value) / p_a
        amount = min(amount, room, market.cash(asset))
        if amount * world.usd(asset) < self.config.min_trade_usd:
            why = "market_illiquid" if market.cash(asset) * p_a < room * p_a else "borrow_refused"
            self._fail(why, market=market.name, asset=asset, wanted=amount)
            return
        try:
            market.borrow(pid, asset, amount)
        except DaosimError as exc:
            self._fail("borrow_refused", market=market.name, asset=asset, error=str(exc))
            return
        self._gas()
        self.model.record(event_kinds.TREASURY_BORROW, actor=self.holder, market=market.name,
                          asset=asset, amount=amount, collateral=collateral,
                          collateral_posted=posted, health_factor=market.health_factor_of(pid))

    def _repay(self, market: Any, asset: str, amount: float) -> None:
        ledger = self.model.world.ledger
        pid = self._positions.get(market.name)
        if pid is None:
            return
        held = ledger.balance_of(self.holder, asset)
        if held < amount:
            self._raise(asset, amount - held, "repay")
            held = ledger.balance_of(self.holder, asset)
        pay = min(amount, held)
        if pay <= 0:
            return
        repaid = market.repay(pid, asset, pay)
        self._gas()
        self.model.record(event_kinds.TREASURY_REPAY, actor=self.holder, market=market.name,
                          asset=asset, amount=repaid)
        if not market.debt_of(pid).any():  # closed: take the collateral back
            for a, c in zip(market.assets, market.collateral_of(pid), strict=True):
                if c > 0:
                    try:
                        market.withdraw_collateral(pid, a, float(c))
                    except DaosimError as exc:
                        self._fail("market_illiquid", market=market.name, asset=a, error=str(exc))

    # -- rebalancing ---------------------------------------------------------------------
    def _rebalance(self, weights: Mapping[str, float], free_before: float) -> None:
        """Trade the free portfolio toward `weights` x `free_before` USD per key; whatever a
        debt change added or removed lands in the safe asset."""
        world = self.model.world
        book = self.read_book()
        free_now = book.free_usd
        minimum = self.config.min_trade_usd
        targets = {k: w * free_before for k, w in weights.items() if k != self.safe}
        for key in book.values_usd:  # held but not named: sell
            if key != self.safe:
                targets.setdefault(key, 0.0)
        targets[self.safe] = max(0.0, free_now - math.fsum(targets.values()))

        # 1. leave venues held above target
        venues = self._venue_index()
        for key, target in targets.items():
            excess = book.values_usd.get(key, 0.0) - target
            if key in venues and excess > minimum:
                self._exit(key, venues[key], excess / book.values_usd[key], excess)
        # 2. base assets needed: targets of base keys plus what venue entries will take
        need: dict[str, float] = {}
        entries: dict[str, float] = {}
        for key, target in targets.items():
            if key in self.assets:
                need[key] = need.get(key, 0.0) + target
            elif key in venues:
                gap = target - book.values_usd.get(key, 0.0)
                if gap > minimum:
                    entries[key] = gap
                    for asset, share in self._venue_mix(venues[key]).items():
                        need[asset] = need.get(asset, 0.0) + gap * share
        balances = world.ledger.balances_of(self.holder)
        held = {a: balances.get(a, 0.0) * world.usd(a) for a in self.assets}
        for asset in self.assets:  # sells first: they fund the buys
            excess = held[asset] - need.get(asset, 0.0)
            if asset != self.safe and excess > minimum:
                self._swap(asset, self.safe, excess / world.usd(asset), "policy")
        spare = world.ledger.balance_of(self.holder, self.safe) * world.usd(self.safe)
        budget = spare - need.get(self.safe, 0.0)
        wants = {a: need.get(a, 0.0) - held[a] for a in self.assets
                 if a != self.safe and need.get(a, 0.0) - held[a] > minimum}
        total = math.fsum(wants.values())
        scale = min(1.0, max(0.0, budget) / total) if total > 0 else 0.0
        for asset, usd in wants.items():
            if usd * scale > minimum:
                self._swap(self.safe, asset, usd * scale / world.usd(self.safe), "policy")
        # 3. enter venues held below target
        for key, usd in entries.items():
            self._enter(key, venues[key], usd)

    def _venue_index(self) -> dict[str, tuple[str, Any, str | None]]:
        """Venue token -> (kind, protocol, asset) for every venue of the world."""
        world = self.model.world
        index: dict[str, tuple[str, Any, str | None]] = {}
        for market in world.markets.values():
            for asset in market.assets:
                index[market.receipt_token(asset)] = ("lending", market, asset)
        for pool in world.pools.values():
            if pool.lp_token is not None:
                index[pool.lp_token] = ("lp", pool, None)
            elif isinstance(pool, ConcentratedLiquidityPool):
                index[names.v3_positions(pool.name)] = ("v3", pool, None)
        for vault in world.vaults.values():
            index[vault.shares] = ("vault", vault, vault.collateral)
        return index

    def _venue_mix(self, venue: tuple[str, Any, str | None]) -> dict[str, float]:
        """USD shares of base assets a venue deposit takes."""
        kind, protocol, asset = venue
        if kind == "v3":  # the range's own split at the current price (one unit of L)
            lower, upper = self._v3_range(protocol)
            amount0, amount1 = amounts_for_liquidity(
                protocol.sqrt_price, tick_to_sqrt_price(lower), tick_to_sqrt_price(upper), 1.0
            )
            token0, token1 = protocol.tokens
            usd0, usd1 = amount0 * self.model.world.usd(token0), amount1 * self.model.world.usd(
                token1)
            return {token0: usd0 / (usd0 + usd1), token1: usd1 / (usd0 + usd1)}
        if kind == "lp":
            reserves = protocol.reserves()
            usd = {t: r * self.model.world.usd(t) for t, r in reserves.items()}
            total = math.fsum(usd.values())
            return {t: v / total for t, v in usd.items()} if total > 0 else {}
        return {asset: 1.0}

    def _exit(self, key: str, venue: tuple[str, Any, str | None], share: float,
              value_usd: float) -> None:
        kind, protocol, asset = venue
        world, ledger = self.model.world, self.model.world.ledger
        share = min(1.0, share)
        if kind == "lending":
            units = ledger.balance_of(self.holder, key) * protocol.exchange_rate(asset) * share
            self._withdraw(protocol, asset, units)
        elif kind == "lp":
            lp = ledger.balance_of(self.holder, key) * share
            if lp > 0:
                try:
                    protocol.remove_liquidity(self.holder, lp)
                except DaosimError as exc:
                    self._fail("market_illiquid", venue=protocol.name, error=str(exc))
                    return
                self._gas()
                self._venue_event("exit", protocol.name, value_usd)
        elif kind == "v3":
            for pid in protocol.positions_of(self.holder):
                liquidity = protocol.position(pid).liquidity * share
                try:
                    if liquidity > 0:
                        protocol.burn(pid, liquidity)
                    protocol.collect(pid)
                except DaosimError as exc:
                    self._fail("market_illiquid", venue=protocol.name, error=str(exc))
                    return
                self._gas()
            self._venue_event("exit", protocol.name, value_usd)
        elif kind == "vault":
            shares = ledger.balance_of(self.holder, key) * share
            if protocol.queued_of(self.holder) > 0 or shares <= 0:
                return  # already waiting for the epoch end
            protocol.request_withdrawal(self.holder, shares)
            self._gas()
            self._fail("vault_queue", venue=protocol.name, shares=shares,
                       value_usd=shares * protocol.nav_per_share(self.model.steps)
                       * world.usd(protocol.collateral))

    def _withdraw(self, market: Any, asset: str, units: float) -> None:
        world = self.model.world
        available = min(units, market.cash(asset),
                        world.ledger.balance_of(self.holder, market.receipt_token(asset))
                        * market.exchange_rate(asset))
        if available < units * (1 - 1e-9):
            self._fail("market_illiquid", venue=market.name, asset=asset, wanted=units,
                       available=available, utilization=market.utilization(asset))
        if available > 0:
            try:
                market.withdraw(self.holder, asset, available)
            except DaosimError as exc:
                self._fail("market_illiquid", venue=market.name, asset=asset, error=str(exc))
                return
            self._gas()
            self._venue_event("exit", market.name, available * world.usd(asset))

    def _enter(self, key: str, venue: tuple[str, Any, str | None], usd: float) -> None:
        kind, protocol, asset = venue
        world, ledger = self.model.world, self.model.world.ledger
        try:
            if kind == "lending":
                units = min(usd / world.usd(asset), ledger.balance_of(self.holder, asset))
                if units * world.usd(asset) < self.config.min_trade_usd:
                    return
                protocol.supply(self.holder, asset, units)
            elif kind == "vault":
                units = min(usd / world.usd(asset), ledger.balance_of(self.holder, asset))
                if units * world.usd(asset) < self.config.min_trade_usd:
                    return
                protocol.deposit(self.holder, units)
            else:
                mix = self._venue_mix(venue)
                amounts = {t: min(usd * s / world.usd(t), ledger.balance_of(self.holder, t))
                           for t, s in mix.items()}
                if min(amounts.values(), default=0.0) <= 0:
                    return
                if kind == "v3":
                    lower, upper = self._v3_range(protocol)
                    token0, token1 = protocol.tokens
                    protocol.mint_for_amounts(self.holder, lower, upper, amounts[token0],
                                              amounts[token1])
                else:
                    protocol.add_liquidity(self.holder, amounts)
        except DaosimError as exc:
            self._fail("venue_refused", venue=protocol.name, error=str(exc))
            return
        self._gas()
        self._venue_event("enter", protocol.name, usd)

    def _v3_range(self, pool: ConcentratedLiquidityPool) -> tuple[int, int]:
        """Ticks of +-`v3_width` around the pool's price, rounded outward to the spacing
        (as the world seeds its LPs' bands)."""
        return ticks_around(pool.sqrt_price**2, self.config.policy.v3_width, pool.tick_spacing)

    def _venue_event(self, action: str, venue: str, value_usd: float) -> None:
        self.model.record(event_kinds.REBALANCE, actor=self.holder, action=action, venue=venue,
                          value_usd=value_usd)

    # -- swaps ---------------------------------------------------------------------------
    def _swap(self, sell: str, buy: str, amount: float, reason: str) -> float:
        """Sell up to `amount` of `sell` for `buy` on the best route within the slippage
        limit; returns what was bought (0 when nothing could be done - recorded)."""
        world = self.model.world
        if amount <= 0:
            return 0.0
        p_in, p_out = world.usd(sell), world.usd(buy)
        if not self.router.routes(sell, buy):
            self._fail("no_route", sell=sell, buy=buy, amount=amount)
            return 0.0
        quote = self.router.quote_within(sell, buy, amount, p_in, p_out, self.config.max_slippage)
        if quote is None or quote.amount_in * p_in < self.config.min_trade_usd:
            self._fail("slippage_limit", sell=sell, buy=buy, amount=amount,
                       max_slippage=self.config.max_slippage)
            return 0.0
        if quote.amount_in < amount * (1 - 1e-9):
            self._fail("slippage_limit", sell=sell, buy=buy, amount=amount,
                       filled=quote.amount_in, max_slippage=self.config.max_slippage)
        try:
            out = self.router.execute(self.holder, quote)
        except (InsufficientLiquidity, DaosimError) as exc:
            self._fail("no_route", sell=sell, buy=buy, amount=amount, error=str(exc))
            return 0.0
        gas = self._gas(len(quote.route))
        self._trade_event(quote, out, p_in, p_out, gas, reason)
        return out

    def _trade_event(self, quote: Quote, out: float, p_in: float, p_out: float, gas: float,
                     reason: str) -> None:
        sell, buy = quote.route[0][1], quote.route[-1][2]
        value_in, value_out = quote.amount_in * p_in, out * p_out
        self.turnover_usd += value_in
        self.costs_usd["slippage"] += value_in - value_out
        self.model.record(
            event_kinds.REBALANCE, actor=self.holder, action="swap", reason=reason, sell=sell,
            buy=buy,
            amount_in=quote.amount_in, amount_out=out, value_in_usd=value_in,
            value_out_usd=value_out, slippage=slippage(Quote(quote.route, quote.amount_in, out),
                                                      p_in, p_out),
            pools="/".join(quote.pools), gas_usd=gas,
        )

    def _gas(self, actions: int = 1) -> float:
        """Pay `actions` x gas_units at this step's gas price: in ETH if held, else in the
        safe asset; returns the USD cost."""
        usd = float(self.model.gas_cost_usd(self.config.gas_units * actions))
        if usd <= 0:
            return 0.0
        world, ledger = self.model.world, self.model.world.ledger
        for token in ("ETH", self.safe):
            if token in world.reference:
                units = usd / world.usd(token)
                if ledger.balance_of(self.holder, token) >= units:
                    ledger.transfer(token, self.holder, names.GAS_SINK, units)
                    break
        self.costs_usd["gas"] += usd
        return usd

    def _fail(self, reason: str, **fields: Any) -> None:
        entry = {"reason": reason, **fields}
        self._failures.append(entry)
        self.model.record(event_kinds.ALLOCATOR_FAILED, actor=self.holder, **entry)

    def apply(self, decision: Decision) -> None:
        """Move debts, then the free portfolio, toward `decision`'s targets (weights are of
        the free portfolio before the debt change) and re-read the book."""
        free_before = self.book.free_usd
        if decision.debt_usd is not None:
            self._adjust_debts(decision.debt_usd)
        if decision.weights is not None:
            self._rebalance(decision.weights, free_before)
        self.book = self.read_book()

    def read_book(self) -> Book:
        """The treasury's book now (`agents.treasury_book`)."""
        return read_book(self.model.world, self.holder, self.model.steps,
                         self._positions_map(), self._index)

    def _positions_map(self) -> dict[str, list[int]]:
        return {market: [pid] for market, pid in self._positions.items()}
