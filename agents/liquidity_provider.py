"""Liquidity providers: the pools' depth, which flees under stress and comes back when calm.

Their flight is a contagion channel: a thinner pool moves further under the liquidators'
collateral sales, which feeds back into pool-TWAP oracles and health factors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa

from agents import event_kinds
from agents.host import Host
from agents.ranges import RangeKeeper, RecentreRule
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.pool import Pool
from protocols.amm.v3_math import liquidity_for_amounts, tick_to_sqrt_price
from protocols.errors import InsufficientLiquidity, InvalidAmount
from protocols.validation import check_amount, check_fraction

#: What was taken out of a pool, to put back: token amounts by v3 range (tick_lower,
#: tick_upper), or under None for a v2 / Curve pool.
Withdrawn = dict[tuple[int, int] | None, dict[str, float]]


@dataclass
class _Watch:
    """Per-pool state: running peak of the value per liquidity unit, consecutive calm steps,
    and what a flight took out (None when not in flight)."""

    peak: float = 0.0
    calm: int = 0
    away: Withdrawn | None = None


class LiquidityProvider(mesa.Agent):
    """One of the `lp_holders` that `sim.assembly.build_world` seeded every pool with.

    Each step, per pool, stress = max(|price of token0 in token k in the pool / the same
    ratio of reference prices - 1| over the other tokens k, drawdown of the pool's TVL in USD
    per unit of liquidity from its running peak). Per unit of liquidity (LP tokens for v2 /
    Curve, the positions' summed liquidity for v3) so that liquidity flows, this LP's own
    flight included, are not read as stress while price moves and drains are; otherwise a
    flight would sustain itself. A pool that cannot price (an emptied reserve) has stress inf.

    When stress exceeds `flight_drawdown` and it is not already away from the pool, it
    withdraws `flight_share` of its liquidity there (v2 / Curve: remove_liquidity of that
    share of its LP tokens; v3: burn that share of every position and collect, fees
    included), once per stress episode. After `return_after` consecutive calm steps it puts
    the withdrawn tokens back: v2 / Curve at the pool's current ratio, v3 into the same
    ranges (a new position each); what the current ratio cannot use stays in its wallet.

    Its v3 positions are kept by one `agents.ranges.RangeKeeper` per pool, which tracks
    their impermanent loss and, when `rule` is active, re-centres them (after the flight
    and return of the step) at `recentre_gas_units` each.
    """

    def __init__(
        self,
        model: Host,
        holder: str,
        flight_drawdown: float,
        flight_share: float,
        return_after: int,
        rule: RecentreRule | None = None,
        recentre_gas_units: float = 0.0,
    ) -> None:
        flight_drawdown = check_fraction("flight_drawdown", flight_drawdown)
        flight_share = check_fraction("flight_share", flight_share)
        return_after = check_amount("return_after", return_after)
        super().__init__(model)
        self.holder = holder
        self.flight_drawdown, self.flight_share = flight_drawdown, flight_share
        self.return_after = return_after
        self._watch = {
            name: _Watch(peak=self._unit_value(pool) or 0.0)
            for name, pool in model.world.pools.items()
        }
        rule = rule or RecentreRule()
        self.keepers = {
            name: RangeKeeper(model, pool, holder, rule, recentre_gas_units)
            for name, pool in model.world.pools.items()
            if isinstance(pool, ConcentratedLiquidityPool)
        }

    # -- behaviour ------------------------------------------------------------------------
    def step(self) -> None:
        for name, watch in self._watch.items():
            stress = self.stress(name)
            if stress > self.flight_drawdown:
                watch.calm = 0
                if watch.away is None:
                    self._flee(name, stress)
            else:
                watch.calm += 1
                if watch.away is not None and watch.calm >= self.return_after:
                    self._return(name)
        for keeper in self.keepers.values():
            keeper.step()

    def stress(self, pool_name: str) -> float:
        """This step's stress of a pool (see the class docstring); updates the running peak."""
        pool, watch = self._pool(pool_name), self._watch[pool_name]
        value = self._unit_value(pool)
        drawdown = 0.0
        if value is not None:
            watch.peak = max(watch.peak, value)
            drawdown = 1.0 - value / watch.peak if watch.peak > 0 else 0.0
        return max(self._price_deviation(pool), drawdown)

    def withdraw_share(self, pool_name: str, fraction: float) -> dict[str, float]:
        """Withdraw `fraction` of this LP's liquidity in a pool for good (the scenario's
        "liquidity_withdrawal" shock); returns the tokens received, fees included."""
        fraction = check_fraction("fraction", fraction)
        received = _total(self._withdraw(pool_name, fraction))
        if received:
            self._record(event_kinds.LP_WITHDRAWAL, pool_name, received, fraction=fraction)
        return received

    # -- flight and return ----------------------------------------------------------------
    def _flee(self, name: str, stress: float) -> None:
        # Marked away even when nothing came out (no liquidity there, or the pool cannot
        # pay): one attempt per episode, so a failed exit is not retried every step.
        withdrawn = self._watch[name].away = self._withdraw(name, self.flight_share)
        if withdrawn:
            self._record(event_kinds.LP_FLIGHT, name, _total(withdrawn), stress=stress)

    def _return(self, name: str) -> None:
        pool, watch = self._pool(name), self._watch[name]
        withdrawn, watch.away = watch.away, None
        if not withdrawn:
            return
        before = self._wallet(pool)
        for band, amounts in withdrawn.items():
            wallet = self._wallet(pool)
            held = {t: min(a, wallet[t]) for t, a in amounts.items()}
            if band is None:
                deposit = _at_pool_ratio(held, pool.reserves())
                if min(deposit.values()) > 0:
                    pool.add_liquidity(self.holder, deposit)
            else:
                self._mint(pool, band, held)
        after = self._wallet(pool)
        self._record(event_kinds.LP_RETURN, name, {t: before[t] - after[t] for t in pool.tokens})

    def _withdraw(self, name: str, fraction: float) -> Withdrawn:
        """Take `fraction` of this LP's liquidity out of a pool; {} when it holds none or the
        pool cannot pay (drained of a token: the exit reverts, as on chain)."""
        pool = self._pool(name)
        if fraction == 0:
            return {}
        if not isinstance(pool, ConcentratedLiquidityPool):
            lp_amount = fraction * self.model.world.ledger.balance_of(self.holder, pool.lp_token)
            try:
                return {None: pool.remove_liquidity(self.holder, lp_amount)} if lp_amount else {}
            except InsufficientLiquidity:
                return {}
        withdrawn: Withdrawn = {}
        for position_id in pool.positions_of(self.holder):
            position = pool.position(position_id)
            if position.liquidity > 0:
                pool.burn(position_id, fraction * position.liquidity)
            try:
                amounts = pool.collect(position_id)  # closes an emptied position
            except InsufficientLiquidity:  # the burned tokens stay owed to the position
                continue
            band = withdrawn.setdefault((position.tick_lower, position.tick_upper), {})
            for token, amount in zip(pool.tokens, amounts, strict=True):
                band[token] = band.get(token, 0.0) + amount
        return withdrawn

    def _mint(
        self, pool: ConcentratedLiquidityPool, band: tuple[int, int], held: dict[str, float]
    ) -> None:
        """Open a position in `band` with what `held` funds at the current price, if any."""
        amount0, amount1 = (held[t] for t in pool.tokens)
        sqrt_lower, sqrt_upper = (tick_to_sqrt_price(t) for t in band)
        if liquidity_for_amounts(pool.sqrt_price, sqrt_lower, sqrt_upper, amount0, amount1) > 0:
            position_id = pool.mint_for_amounts(self.holder, *band, amount0, amount1)
            self.keepers[pool.name].register(position_id)

    # -- reads ----------------------------------------------------------------------------
    def _price_deviation(self, pool: Pool) -> float:
        world = self.model.world
        base = pool.tokens[0]
        try:
            return max(
                abs(pool.spot_price(base, quote) * world.usd(quote) / world.usd(base) - 1.0)
                for quote in pool.tokens[1:]
            )
        except InsufficientLiquidity:
            return math.inf

    def _unit_value(self, pool: Pool) -> float | None:
        """Pool TVL in USD per unit of liquidity; None while the pool has no liquidity."""
        world = self.model.world
        tvl = sum(amount * world.usd(token) for token, amount in pool.reserves().items())
        if isinstance(pool, ConcentratedLiquidityPool):
            units = sum(t.liquidity_gross for t in pool.initialized_ticks().values()) / 2
        else:
            units = world.ledger.total_supply(pool.lp_token)
        return tvl / units if units > 0 else None

    def _wallet(self, pool: Pool) -> dict[str, float]:
        return {t: self.model.world.ledger.balance_of(self.holder, t) for t in pool.tokens}

    def _pool(self, name: str) -> Pool:
        try:
            return self.model.world.pools[name]
        except KeyError:
            raise InvalidAmount(f"pool_name: the world has no pool {name!r}") from None

    def _record(self, kind: str, pool: str, amounts: dict[str, float], **fields) -> None:
        world = self.model.world
        value = sum(amount * world.usd(token) for token, amount in amounts.items())
        self.model.record(kind, actor=self.holder, pool=pool, value_usd=value, **fields)


def _at_pool_ratio(amounts: dict[str, float], reserves: dict[str, float]) -> dict[str, float]:
    """The largest deposit in the pool's current proportions that `amounts` covers."""
    share = min(amounts[t] / reserves[t] for t in reserves)
    return {t: min(share * r, amounts[t]) for t, r in reserves.items()}


def _total(withdrawn: Withdrawn) -> dict[str, float]:
    total: dict[str, float] = {}
    for amounts in withdrawn.values():
        for token, amount in amounts.items():
            total[token] = total.get(token, 0.0) + amount
    return total
