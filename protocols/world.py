"""The world agents act on: the protocols of a run on one ledger, the oracles they read, the
off-chain reference prices, and what every token is worth.

It holds no behaviour beyond valuing tokens and bringing money in from outside: agents act
on it, the model advances it (`set_prices`, `update_oracles`), `sim.assembly` builds it
from a scenario. No Mesa and no randomness, like the rest of `protocols/`, so every layer
above may read it.

Base tokens are minted by an outside issuer (`names.issuer(asset)`), standing for the rest
of the world's supply; every other token is issued by a protocol and valued through that
protocol's state: a lending receipt through its market's exchange rate, an LP token as a
share of its pool's reserves, vault shares at NAV per share. That is what makes losses
travel: when a market socializes bad debt its receipt tokens are worth less to every
holder, and a drained pool's LP tokens lose value at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.amm.pool import Pool
from protocols.bridge import Bridge
from protocols.errors import ConfigError
from protocols.ledger import Ledger
from protocols.lending import LendingMarket
from protocols.offchain import OffchainMarket
from protocols.oracle import Oracle
from protocols.vaults import OptionVault


@dataclass
class World:
    ledger: Ledger
    assets: tuple[str, ...]
    #: each base asset's off-chain market (fundamental and traded price, finite or
    #: unlimited depth)
    reference: dict[str, OffchainMarket]
    pools: dict[str, Pool] = field(default_factory=dict)
    markets: dict[str, LendingMarket] = field(default_factory=dict)
    vaults: dict[str, OptionVault] = field(default_factory=dict)
    #: lock-and-mint bridges; each wrapped asset has an off-chain market in `reference`
    #: whose fundamental is its backing x the canonical's (`set_prices`)
    bridges: dict[str, Bridge] = field(default_factory=dict)
    #: oracles by consumer (market or vault name), then asset
    oracles: dict[str, dict[str, Oracle]] = field(default_factory=dict)
    #: consumer -> asset -> pool name, for oracles that read a pool's TWAP (the graph's
    #: oracle-dependence edges)
    oracle_pools: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the step the world was last advanced to (`update_oracles`): vault shares are valued
    #: at this step when a composed token is priced
    step: int = 0

    @property
    def protocols(self) -> dict[str, Any]:
        return {**self.pools, **self.markets, **self.vaults, **self.bridges}

    @property
    def traded_assets(self) -> tuple[str, ...]:
        """Every symbol with an off-chain market: the base assets, then wrapped assets."""
        return self.assets + tuple(b.wrapped for b in self.bridges.values())

    # -- valuation ----------------------------------------------------------------------
    def usd(self, asset: str) -> float:
        """Traded off-chain price of `asset` in USD; a protocol-issued token (a lending
        receipt or LP token used as collateral elsewhere) is valued through its issuer's
        state (`token_usd`). KeyError for a name that is neither."""
        source = self.reference.get(asset)
        if source is not None:
            return source.read()
        if not self.ledger.has_token(asset) or self.ledger.issuer_of(asset) not in self.protocols:
            raise KeyError(asset)
        return self.token_usd(asset, self.step)

    def token_usd(self, token: str, step: int) -> float:
        """USD value of one unit of `token` at `step` (0 for tokens with no redeemable
        value, such as an option contract)."""
        if token in self.reference:
            return self.usd(token)
        name = names.parse(token)
        if name is None:
            return 0.0
        if name.kind == names.RECEIPT and name.issuer in self.markets:
            return self.markets[name.issuer].exchange_rate(name.asset) * self.usd(name.asset)
        if name.kind == names.LP and name.issuer in self.pools:
            supply = self.ledger.total_supply(token)
            if supply <= 0:
                return 0.0
            return self.pool_tvl_usd(name.issuer) / supply
        if name.kind == names.SHARES and name.issuer in self.vaults:
            vault = self.vaults[name.issuer]
            return vault.nav_per_share(step) * self.usd(vault.collateral)
        return 0.0

    def pool_tvl_usd(self, name: str) -> float:
        """Reserves of pool `name` at reference prices."""
        pool = self.pools[name]
        return math.fsum(amount * self.usd(t) for t, amount in pool.reserves().items())

    def holder_usd(self, holder: str, step: int) -> float:
        """Everything `holder` owns in the ledger, plus its Uniswap v3 positions, in USD."""
        total = math.fsum(
            amount * self.token_usd(token, step)
            for token, amount in self.ledger.balances_of(holder).items()
        )
        return total + self.v3_positions_usd(holder)

    def v3_positions_usd(self, holder: str) -> float:
        total = 0.0
        for pool in self.pools.values():
            if isinstance(pool, ConcentratedLiquidityPool):
                token0, token1 = pool.tokens
                for pid in pool.positions_of(holder):
                    amount0, amount1 = pool.position_value(pid)
                    total += amount0 * self.usd(token0) + amount1 * self.usd(token1)
        return total

    # -- money from outside -------------------------------------------------------------
    def fund(self, holder: str, asset: str, amount: float) -> None:
        """Give `holder` new `asset` from outside the simulated protocols. A protocol-issued
        token is obtained the way a user would: its underlying comes from outside and is
        deposited into the issuer (supply to the market, add balanced pool liquidity), so
        the issuer's books stay whole. The amount received then matches `amount` up to
        float rounding (a pool mints at least it)."""
        owner = self.ledger.issuer_of(asset)
        if owner in self.bridges:  # wrapped: brought in with its share of the lock
            self.bridges[owner].mint_backed(holder, amount)
            return
        if asset in self.reference:
            self.ledger.mint(asset, holder, amount, by=names.issuer(asset))
            return
        if owner in self.markets:
            market = self.markets[owner]
            underlying = names.parse(asset).asset
            paid = amount * market.exchange_rate(underlying)
            self.fund(holder, underlying, paid)
            market.supply(holder, underlying, paid)
        elif owner in self.pools:
            pool = self.pools[owner]
            share = amount / self.ledger.total_supply(asset) * (1.0 + 1e-9)
            amounts = {t: r * share for t, r in pool.reserves().items()}
            for token, part in amounts.items():
                self.fund(holder, token, part)
            pool.add_liquidity(holder, amounts)
        else:
            raise ConfigError(f"fund: cannot obtain {asset!r} from outside the simulation")

    def quote_offchain(self, sell: str, amount: float, buy: str) -> float:
        """Amount of `buy` that selling `amount` of `sell` off-chain would receive now: the
        sale and the purchase each pay the average price over their own impact
        (`protocols.offchain`). Changes nothing."""
        if sell == buy:
            return amount
        return self.reference[buy].quote_buy(self.reference[sell].quote_sell(amount))

    def trade_offchain(self, holder: str, sell: str, amount: float, buy: str) -> float:
        """Swap `amount` of `sell` for `buy` on the off-chain markets: `sell` is sold for USD
        and the USD spent on `buy`, each moving its market's traded price by its impact
        (unlimited depth: at the reference prices, moving nothing). The off-chain side stands
        for the rest of the world's liquidity and draws new `buy` from outside when its own
        inventory runs short. Returns the amount of `buy` received."""
        if sell == buy:
            return amount
        usd = self.reference[sell].sell(amount)
        bought = self.reference[buy].buy(usd)
        self.ledger.transfer(sell, holder, names.OFFCHAIN, amount)
        held = self.ledger.balance_of(names.OFFCHAIN, buy)
        if held < bought:
            self.fund(names.OFFCHAIN, buy, bought - held)
            bought = min(bought, self.ledger.balance_of(names.OFFCHAIN, buy))  # float rounding
        self.ledger.transfer(buy, names.OFFCHAIN, holder, bought)
        return bought

    # -- advancing ----------------------------------------------------------------------
    def set_prices(self, prices: Any) -> None:
        """Write one row of fundamental prices (in `assets` order); impacts carry over."""
        values = prices.tolist() if hasattr(prices, "tolist") else prices  # floats at once
        for asset, price in zip(self.assets, values, strict=True):
            self.reference[asset].set(float(price))
        self.reprice_wrapped()

    def reprice_wrapped(self) -> None:
        """Set each wrapped asset's fundamental to its backing x the canonical's."""
        for bridge in self.bridges.values():
            canonical = self.reference[bridge.canonical].fundamental
            self.reference[bridge.wrapped].set(bridge.fundamental_price(canonical))

    def decay_impact(self, hours: float) -> None:
        """Let every off-chain market's impact relax for `hours`."""
        for market in self.reference.values():
            market.decay(hours)

    def update_oracles(self, step: int, clock: int | None = None) -> None:
        """Advance the world to `step` and every feed to `clock` (the model's round clock,
        `step` when there is one round per step)."""
        self.step = step
        clock = step if clock is None else clock
        for feeds in self.oracles.values():
            for oracle in feeds.values():
                oracle.update(clock)
