"""What a token is worth in USD, whoever issued it: base assets at reference prices, lending
receipt tokens through their market's exchange rate, LP tokens as a share of the pool's
reserves, vault shares at NAV per share.

Valuing receipt tokens through the issuing protocol's state is what makes losses travel:
when a market socializes bad debt its receipt tokens are worth less to every holder, and a
drained pool's LP tokens lose value at once.
"""

from __future__ import annotations

import math

from protocols.amm.concentrated import ConcentratedLiquidityPool
from sim.world import World


def token_price_usd(world: World, token: str, step: int) -> float:
    """USD value of one unit of `token` now (0 for tokens with no redeemable value)."""
    if token in world.reference:
        return world.usd(token)
    issuer, _, suffix = token.partition(":")
    if issuer in world.markets and suffix.startswith("a"):
        market = world.markets[issuer]
        asset = suffix[1:]
        return market.exchange_rate(asset) * world.usd(asset)
    if issuer in world.pools and suffix == "LP":
        supply = world.ledger.total_supply(token)
        if supply <= 0:
            return 0.0
        return pool_tvl_usd(world, issuer) / supply
    if issuer in world.vaults and suffix == "shares":
        vault = world.vaults[issuer]
        return vault.nav_per_share(step) * world.usd(vault.collateral)
    return 0.0


def pool_tvl_usd(world: World, name: str) -> float:
    """Reserves of pool `name` at reference prices."""
    pool = world.pools[name]
    return math.fsum(amount * world.usd(t) for t, amount in pool.reserves().items())


def holder_value_usd(world: World, holder: str, step: int) -> float:
    """Everything `holder` owns in the ledger, plus its Uniswap v3 positions, in USD."""
    total = math.fsum(
        amount * token_price_usd(world, token, step)
        for token, amount in world.ledger.balances_of(holder).items()
    )
    return total + v3_positions_usd(world, holder)


def v3_positions_usd(world: World, holder: str) -> float:
    total = 0.0
    for pool in world.pools.values():
        if isinstance(pool, ConcentratedLiquidityPool):
            token0, token1 = pool.tokens
            for pid in pool.positions_of(holder):
                amount0, amount1 = pool.position_value(pid)
                total += amount0 * world.usd(token0) + amount1 * world.usd(token1)
    return total
