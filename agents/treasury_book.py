"""What a holder (the treasury) owns, broken down into base assets, valued at reference.

Keys of the free portfolio are ledger tokens: base assets ("ETH"), lending deposits
("aave:aUSDC", underlying = balance x exchange rate, SupplyLogic), v2 / Curve LP tokens
(underlying = pro-rata reserves), vault shares ("vault:shares": NAV per share x shares, queued
shares and pending deposits included) and Uniswap v3 positions ("pool:v3", `position_value`).
Borrowing positions are kept apart: collateral (escrowed in the market) and debt.

Net deltas per base asset: free underlying + collateral - debt, except that a vault's
contribution to its underlying is its book delta (`OptionVault.greeks`: the short calls
offset part of the collateral), scaled by the holder's share of the vault. Gamma and vega
per underlying come from the vaults alone (spot, receipts and debt have none), scaled
likewise and converted from the vault's quote to USD: `gammas` in underlying units per 1 USD
move of the underlying (d delta / dS), `vegas` in USD per vol point (0.01 of vol), both
negative for a holder of short-option vaults (`protocols.vaults.BookGreeks`).

Exposure per protocol node (for the dependency graph): USD held in tokens issued by each
node (`Ledger.issuer_of`: a market for its receipts, a pool for its LP tokens, a vault for
its shares, `issuer:GOV` for a base asset), plus v3 positions under their pool and posted
collateral under its market.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from protocols import names
from protocols.amm.concentrated import ConcentratedLiquidityPool


@dataclass
class Book:
    values_usd: dict[str, float] = field(default_factory=dict)
    free_units: dict[str, float] = field(default_factory=dict)
    collateral: dict[str, float] = field(default_factory=dict)
    debt: dict[str, float] = field(default_factory=dict)
    deltas: dict[str, float] = field(default_factory=dict)
    #: per underlying, from vault shares: d delta / dS (units per USD) and USD per vol point
    gammas: dict[str, float] = field(default_factory=dict)
    vegas: dict[str, float] = field(default_factory=dict)
    #: per vault shares key: USD of shares queued for redemption at the next roll
    queued_usd: dict[str, float] = field(default_factory=dict)
    exposure_usd: dict[str, float] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)
    #: Lending receipts' underlying that their market cannot pay out now (cash short).
    locked_units: dict[str, float] = field(default_factory=dict)

    @property
    def free_usd(self) -> float:
        return math.fsum(self.values_usd.values())

    @property
    def collateral_usd(self) -> float:
        return math.fsum(u * self.prices[a] for a, u in self.collateral.items())

    @property
    def debt_usd(self) -> dict[str, float]:
        return {a: u * self.prices[a] for a, u in self.debt.items() if u > 0}

    @property
    def nav_usd(self) -> float:
        return self.free_usd + self.collateral_usd - math.fsum(self.debt_usd.values())

    def weights(self) -> dict[str, float]:
        total = self.free_usd
        if total <= 0:
            return {}
        return {k: v / total for k, v in self.values_usd.items() if v != 0}


def runway_months(book: Book, opex_usd_per_month: float, stables: Collection[str]) -> float:
    """Months of opex the holder's USD stablecoins (plain and redeemable deposits) pay; inf
    without opex. Borrowed stablecoins count (they are cash), posted collateral does not."""
    if opex_usd_per_month <= 0:
        return math.inf
    held = math.fsum(
        (book.free_units.get(s, 0.0) - book.locked_units.get(s, 0.0)) * book.prices[s]
        for s in stables
    )
    return max(held, 0.0) / opex_usd_per_month


TokenIndex = tuple[dict[str, Any], dict[str, Any]]


def token_index(world: Any) -> TokenIndex:
    """Receipt token -> (market, asset) and LP token -> pool: fixed once a world is built,
    so callers reading books every step build it once."""
    receipts = {m.receipt_token(a): (m, a) for m in world.markets.values() for a in m.assets}
    lp_pools = {p.lp_token: p for p in world.pools.values() if p.lp_token is not None}
    return receipts, lp_pools


def _add(target: dict[str, float], key: str, amount: float) -> None:
    target[key] = target.get(key, 0.0) + amount


def read_book(world: Any, holder: str, step: int,
              positions: Mapping[str, Iterable[int]] | None = None,
              index: TokenIndex | None = None) -> Book:
    """The holder's book now; changes nothing. `positions` (market -> position ids) spares
    the scan of every market's owners when the caller knows the holder's positions;
    `index` is `token_index(world)`, built here when not given."""
    ledger = world.ledger
    prices = {a: world.usd(a) for a in world.traded_assets}  # wrapped assets too
    book = Book(prices=prices)
    receipts, lp_pools = index or token_index(world)
    vault_delta: dict[str, float] = {}

    def free(key: str, units: dict[str, float], node: str) -> None:
        value = math.fsum(u * prices[a] for a, u in units.items())
        _add(book.values_usd, key, value)
        _add(book.exposure_usd, node, value)
        for a, u in units.items():
            _add(book.free_units, a, u)

    for token, amount in ledger.balances_of(holder).items():
        if amount == 0:
            continue
        if token in prices:
            free(token, {token: amount}, ledger.issuer_of(token))
        elif token in receipts:
            market, asset = receipts[token]
            units = amount * market.exchange_rate(asset)
            locked = max(0.0, units - market.cash(asset))
            if locked > 0:
                _add(book.locked_units, asset, locked)
            free(token, {asset: units}, market.name)
        elif token in lp_pools:
            pool = lp_pools[token]
            supply = ledger.total_supply(token)
            share = amount / supply if supply > 0 else 0.0
            free(token, {t: r * share for t, r in pool.reserves().items()}, pool.name)
    for vault in world.vaults.values():
        shares = ledger.balance_of(holder, vault.shares) + vault.queued_of(holder)
        pending = vault.pending_of(holder)
        if shares <= 0 and pending <= 0:
            continue
        supply = ledger.total_supply(vault.shares)
        units = shares * vault.nav_per_share(step) + pending
        free(vault.shares, {vault.collateral: units}, vault.name)
        if vault.queued_of(holder) > 0:
            book.queued_usd[vault.shares] = (vault.queued_of(holder) * vault.nav_per_share(step)
                                             * prices[vault.collateral])
        if supply > 0 and shares > 0:
            # The shares' delta is the book's (collateral + short options), not the plain
            # collateral's: replace the one by the other.
            greeks, share = vault.greeks(step), shares / supply
            plain = shares * vault.nav_per_share(step) if vault.is_call else 0.0
            _add(vault_delta, vault.underlying, share * greeks.delta - plain)
            quote_usd = prices[vault.quote]
            _add(book.gammas, vault.underlying, share * greeks.gamma / quote_usd)
            _add(book.vegas, vault.underlying, share * greeks.vega * quote_usd)
    for pool in world.pools.values():
        if isinstance(pool, ConcentratedLiquidityPool):
            pids = pool.positions_of(holder)
            if pids:
                token0, token1 = pool.tokens
                a0 = a1 = 0.0
                for pid in pids:
                    x0, x1 = pool.position_value(pid)
                    a0, a1 = a0 + x0, a1 + x1
                free(names.v3_positions(pool.name), {token0: a0, token1: a1}, pool.name)
    for market in world.markets.values():
        if positions is not None:
            pids: Iterable[int] = positions.get(market.name, ())
        elif market.n_positions:
            pids = (market.owner == holder).nonzero()[0]
        else:
            continue
        for pid in pids:
            coll, debt = market.collateral_of(int(pid)), market.debt_of(int(pid))
            for asset, c, d in zip(market.assets, coll, debt, strict=True):
                if c > 0:
                    _add(book.collateral, asset, float(c))
                    _add(book.exposure_usd, market.name, float(c) * prices[asset])
                if d > 0:
                    _add(book.debt, asset, float(d))

    deltas = dict(book.free_units)
    for source, sign in ((book.collateral, 1.0), (book.debt, -1.0), (vault_delta, 1.0)):
        for asset, units in source.items():
            deltas[asset] = deltas.get(asset, 0.0) + sign * units
    book.deltas = {a: d for a, d in deltas.items() if d != 0 and a in prices}
    return book
