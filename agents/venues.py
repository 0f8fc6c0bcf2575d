"""Where the treasury can put money besides holding tokens: one small class per kind of
venue, each with the same three operations.

- `mix(world)`: the USD shares of base assets an entry takes (the allocator buys them first);
- `enter(desk, usd)`: put about `usd` in - lending supply, v2/Curve LP add, a v3 range of
  +-`v3_width` around the pool's price, a vault deposit;
- `exit(desk, share, value_usd)`: take `share` of the holding out - lending withdraw (as
  far as the market's cash allows), LP remove, v3 burn + collect, a vault withdrawal request
  (paid at the epoch's end).
A venue is named by the token its holding is booked under (`protocols.names`): a receipt
`M:aASSET`, an LP token `P:LP`, vault shares `V:shares`, v3 positions `P:v3`. What a holding
is worth is the book's to say (`agents.treasury_book`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agents.ranges import RangeKeeper
from agents.treasury_desk import TreasuryDesk
from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.pool import Pool
from protocols.amm.v3_math import amounts_for_liquidity, tick_to_sqrt_price, ticks_around
from protocols.errors import DaosimError
from protocols.lending import LendingMarket
from protocols.vaults import OptionVault
from protocols.world import World


class Venue:
    """What every venue does alike: an entry fails as `venue_refused` and costs gas once."""

    #: the ledger token (or book key) the holding is booked under
    token: str

    @property
    def name(self) -> str:
        """The protocol, as events name it."""
        raise NotImplementedError

    def mix(self, world: World) -> dict[str, float]:
        raise NotImplementedError

    def enter(self, desk: TreasuryDesk, usd: float) -> None:
        try:
            entered = self._deposit(desk, usd)
        except DaosimError as exc:
            desk.fail("venue_refused", venue=self.name, error=str(exc))
            return
        if entered:
            desk.gas()
            desk.venue_event("enter", self.name, usd)

    def exit(self, desk: TreasuryDesk, share: float, value_usd: float) -> None:
        raise NotImplementedError

    def open(self, desk: TreasuryDesk, usd: float) -> None:
        """Hold `usd` here from the start: the base assets the venue takes are given to the
        treasury and deposited - the state before the run, so no trade, gas or event."""
        world = desk.world
        for asset, share in self.mix(world).items():
            world.fund(desk.holder, asset, usd * share / world.usd(asset))
        self._deposit(desk, usd)

    def _deposit(self, desk: TreasuryDesk, usd: float) -> bool:
        """Deposit about `usd`; False when there is too little to do anything."""
        raise NotImplementedError


@dataclass
class LendingVenue(Venue):
    market: LendingMarket
    asset: str
    token: str

    @property
    def name(self) -> str:
        return self.market.name

    def mix(self, world: World) -> dict[str, float]:
        return {self.asset: 1.0}

    def exit(self, desk: TreasuryDesk, share: float, value_usd: float) -> None:
        held = desk.world.ledger.balance_of(desk.holder, self.token)
        desk.withdraw(self.market, self.asset, held * self.market.exchange_rate(self.asset) * share)

    def _deposit(self, desk: TreasuryDesk, usd: float) -> bool:
        units = _affordable(desk, self.asset, usd)
        if units is None:
            return False
        self.market.supply(desk.holder, self.asset, units)
        return True


@dataclass
class PoolVenue(Venue):
    """A Uniswap v2 or Curve pool: liquidity as its fungible LP token."""

    pool: Pool
    token: str

    @property
    def name(self) -> str:
        return self.pool.name

    def mix(self, world: World) -> dict[str, float]:
        usd = {t: r * world.usd(t) for t, r in self.pool.reserves().items()}
        total = math.fsum(usd.values())
        return {t: v / total for t, v in usd.items()} if total > 0 else {}

    def exit(self, desk: TreasuryDesk, share: float, value_usd: float) -> None:
        lp = desk.world.ledger.balance_of(desk.holder, self.token) * share
        if lp > 0:
            try:
                self.pool.remove_liquidity(desk.holder, lp)
            except DaosimError as exc:
                desk.fail("market_illiquid", venue=self.name, error=str(exc))
                return
            desk.gas()
            desk.venue_event("exit", self.name, value_usd)

    def _deposit(self, desk: TreasuryDesk, usd: float) -> bool:
        amounts = _mixed(desk, self.mix(desk.world), usd)
        if amounts is None:
            return False
        self.pool.add_liquidity(desk.holder, amounts)
        return True


@dataclass
class RangeVenue(Venue):
    """A Uniswap v3 pool: one range of +-`width` around the pool's price at entry; its
    `keeper` (the allocator's, `agents.ranges`) tracks impermanent loss and re-centres."""

    pool: ConcentratedLiquidityPool
    width: float
    token: str
    keeper: RangeKeeper | None = None

    @property
    def name(self) -> str:
        return self.pool.name

    def mix(self, world: World) -> dict[str, float]:
        """The range's own split at the current price (one unit of liquidity)."""
        lower, upper = self._range()
        amount0, amount1 = amounts_for_liquidity(
            self.pool.sqrt_price, tick_to_sqrt_price(lower), tick_to_sqrt_price(upper), 1.0
        )
        token0, token1 = self.pool.tokens
        usd0, usd1 = amount0 * world.usd(token0), amount1 * world.usd(token1)
        return {token0: usd0 / (usd0 + usd1), token1: usd1 / (usd0 + usd1)}

    def exit(self, desk: TreasuryDesk, share: float, value_usd: float) -> None:
        for pid in self.pool.positions_of(desk.holder):
            liquidity = self.pool.position(pid).liquidity * share
            try:
                if liquidity > 0:
                    self.pool.burn(pid, liquidity)
                self.pool.collect(pid)
            except DaosimError as exc:
                desk.fail("market_illiquid", venue=self.name, error=str(exc))
                return
            desk.gas()
        desk.venue_event("exit", self.name, value_usd)

    def _deposit(self, desk: TreasuryDesk, usd: float) -> bool:
        amounts = _mixed(desk, self.mix(desk.world), usd)
        if amounts is None:
            return False
        lower, upper = self._range()
        token0, token1 = self.pool.tokens
        pid = self.pool.mint_for_amounts(desk.holder, lower, upper, amounts[token0],
                                         amounts[token1])
        if self.keeper is not None:
            self.keeper.register(pid)
        return True

    def keep(self, desk: TreasuryDesk) -> bool:
        """Re-centre by the keeper's rule; its gas and swap cost count in the desk's costs.
        True when a range moved."""
        done = self.keeper.step() if self.keeper is not None else []
        for outcome in done:
            desk.costs_usd["gas"] += outcome.gas_usd
            desk.costs_usd["slippage"] += outcome.swap_cost_usd
        return bool(done)

    def _range(self) -> tuple[int, int]:
        return ticks_around(self.pool.sqrt_price**2, self.width, self.pool.tick_spacing)


@dataclass
class VaultVenue(Venue):
    vault: OptionVault
    token: str

    @property
    def name(self) -> str:
        return self.vault.name

    def mix(self, world: World) -> dict[str, float]:
        return {self.vault.collateral: 1.0}

    def exit(self, desk: TreasuryDesk, share: float, value_usd: float) -> None:
        """A withdrawal request, paid at the epoch's end: recorded as `vault_queue` so the
        policy knows the money is not there yet."""
        vault, world = self.vault, desk.world
        shares = world.ledger.balance_of(desk.holder, self.token) * share
        if vault.queued_of(desk.holder) > 0 or shares <= 0:
            return  # already waiting for the epoch end
        vault.request_withdrawal(desk.holder, shares)
        desk.gas()
        desk.fail("vault_queue", venue=self.name, shares=shares,
                  value_usd=shares * vault.nav_per_share(desk.host.steps)
                  * world.usd(vault.collateral))

    def _deposit(self, desk: TreasuryDesk, usd: float) -> bool:
        units = _affordable(desk, self.vault.collateral, usd)
        if units is None:
            return False
        self.vault.deposit(desk.holder, units)
        return True


def venue_index(world: World, v3_width: float) -> dict[str, Venue]:
    """Every venue of the world, by the token its holding is booked under."""
    index: dict[str, Venue] = {}
    for market in world.markets.values():
        for asset in market.assets:
            index[market.receipt_token(asset)] = LendingVenue(
                market, asset, market.receipt_token(asset))
    for pool in world.pools.values():
        if pool.lp_token is not None:
            index[pool.lp_token] = PoolVenue(pool, pool.lp_token)
        elif isinstance(pool, ConcentratedLiquidityPool):
            token = names.v3_positions(pool.name)
            index[token] = RangeVenue(pool, v3_width, token)
    for vault in world.vaults.values():
        index[vault.shares] = VaultVenue(vault, vault.shares)
    return index


def fund_holding(world: World, holder: str, token: str, amount: float) -> None:
    """Give `holder` its starting `amount` of `token`: a base asset as is, a vault's shares
    ("<vault>:shares", in shares) as the collateral they cost at the first roll's price per
    share (1 with no shares yet), deposited - they are minted at the step-0 roll, as
    Ribbon mints a deposit's shares at the next roll. No trade, gas or event."""
    vault = next((v for v in world.vaults.values() if v.shares == token), None)
    if vault is None:
        world.fund(holder, token, amount)
        return
    collateral = amount * vault.nav_per_share(0)
    world.fund(holder, vault.collateral, collateral)
    vault.deposit(holder, collateral)


def _affordable(desk: TreasuryDesk, asset: str, usd: float) -> float | None:
    """Units of `asset` worth `usd` that the desk holds, or None below the minimum trade."""
    world = desk.world
    units = min(usd / world.usd(asset), world.ledger.balance_of(desk.holder, asset))
    return None if units * world.usd(asset) < desk.config.min_trade_usd else units


def _mixed(desk: TreasuryDesk, mix: dict[str, float], usd: float) -> dict[str, float] | None:
    """Token amounts for `usd` split by `mix`, as far as the desk holds them; None when a
    token is missing altogether."""
    world = desk.world
    amounts = {t: min(usd * s / world.usd(t), world.ledger.balance_of(desk.holder, t))
               for t, s in mix.items()}
    return None if min(amounts.values(), default=0.0) <= 0 else amounts
