"""Where a liquidator turns seized collateral into the debt asset it owes, and the flash loan
that lends it that debt asset for the length of one liquidation.

Sale routes for `amount` of collateral C into debt asset D, each quoted exactly (pools'
`quote_exact_in`, `World.quote_offchain`: nothing changes) before anything trades:
- "pool": swap C in any pool that trades it against some token Y; when Y is not D, Y is then
  sold for D off-chain (both must have an off-chain market);
- "offchain": sell C for D on the off-chain markets (`World.trade_offchain`), through their
  finite depth, so the sale moves C's traded price - the price oracles read.
The best route is the one paying the most D. Collateral that no route can sell (a lending
receipt or an LP token accepted as collateral, with no pool for it) is "kept" by the
liquidator: see `agents.liquidator`.

Flash loan (Aave v3 FlashLoanLogic.executeFlashLoanSimple): `amount` is lent for one call and
`amount + premium` must come back, premium = amount.percentMul(flashLoanPremiumTotal); the
Aave v3 markets set FLASHLOAN_PREMIUM_TOTAL to 0.0005e4, 5 bps (aave-v3-deploy's market
configs, `FlashLoanPremiums.total`; Pool.initialize starts at 9 bps). On the ledger the
principal is minted by the asset's outside issuer (`names.issuer`, as `World.fund` brings
base assets in) and burned at repayment, and the premium is paid to `names.FLASH_LENDER`, so
every token stays conserved. Only base assets (those with an off-chain market) are lent.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from protocols import names
from protocols.errors import DaosimError, InsufficientBalance
from protocols.world import World

POOL, OFFCHAIN, KEPT = "pool", "offchain", "kept"
#: Aave v3's flash-loan premium (module doc): 5 bps of the amount.
AAVE_V3_FLASH_LOAN_FEE = 0.0005


class Sale(NamedTuple):
    """A quoted sale: `route` POOL or OFFCHAIN, the pool and the token `via` it pays (POOL
    only), and the debt asset `out` it yields."""

    route: str
    pool: Any
    via: str | None
    out: float


class SaleRoutes:
    """The routes of one world; the pools that can take each (collateral, debt) pair are
    listed once (the world's pools are fixed when it is built)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._pools: dict[tuple[str, str], list[tuple[Any, str]]] = {}

    def pools_for(self, asset: str, debt: str) -> list[tuple[Any, str]]:
        """(pool, Y) for every pool trading `asset` against a token Y that is `debt` or can
        be sold for it off-chain."""
        key = (asset, debt)
        if key not in self._pools:
            reference = self.world.reference
            self._pools[key] = [
                (pool, via)
                for pool in self.world.pools.values()
                if asset in pool.tokens
                for via in pool.tokens
                if via != asset and (via == debt or (via in reference and debt in reference))
            ]
        return self._pools[key]

    def sellable(self, asset: str, debt: str) -> bool:
        """Some route can turn `asset` into `debt`."""
        reference = self.world.reference
        offchain = asset in reference and debt in reference
        return asset != debt and (offchain or bool(self.pools_for(asset, debt)))

    def best(self, asset: str, amount: float, debt: str) -> Sale | None:
        """The route paying the most `debt` for `amount` of `asset`, by exact quotes; None
        when no route fills it (a drained pool, liquidity out of range)."""
        world = self.world
        best = None
        if asset in world.reference and debt in world.reference:
            best = Sale(OFFCHAIN, None, None, world.quote_offchain(asset, amount, debt))
        for pool, via in self.pools_for(asset, debt):
            try:
                got = pool.quote_exact_in(asset, via, amount)
            except DaosimError:
                continue
            if not got > 0:
                continue
            out = got if via == debt else world.quote_offchain(via, got, debt)
            if best is None or out > best.out:
                best = Sale(POOL, pool, via, out)
        return best

    def execute(self, holder: str, sale: Sale, asset: str, amount: float, debt: str) -> float:
        """Sell `amount` of `asset` for `debt` along `sale`'s route; returns the debt asset
        received (what the quote said, for the same amount on the same state)."""
        if sale.route == OFFCHAIN:
            return self.world.trade_offchain(holder, asset, amount, debt)
        got = sale.pool.swap_exact_in(holder, asset, sale.via, amount)
        return got if sale.via == debt else self.world.trade_offchain(holder, sale.via, got, debt)


# -- flash loans ---------------------------------------------------------------------------
def flash_borrow(world: World, holder: str, asset: str, amount: float) -> None:
    """Lend `amount` of base asset `asset` to `holder` for one liquidation (module doc)."""
    world.ledger.mint(asset, holder, amount, by=names.issuer(asset))


def flash_repay(world: World, holder: str, asset: str, amount: float, premium: float) -> None:
    """Take back the principal `amount` (burned) and the `premium` (to the flash lender)."""
    held = world.ledger.balance_of(holder, asset)
    if held < amount + premium:
        raise InsufficientBalance(
            f"flash loan: {holder!r} holds {held!r} {asset}, owes {amount + premium!r}"
        )
    world.ledger.burn(asset, holder, amount, by=names.issuer(asset))
    if premium > 0:
        world.ledger.transfer(asset, holder, names.FLASH_LENDER, premium)
