"""Forced selling: when its runway runs short the treasury sells risk assets into the market,
its own token first - how a DAO's bills become selling pressure on its token (the other way
it transmits stress is a loan against the token being liquidated, `agents.treasury_debts`).

Each step, after opex and before the policy (`agents.allocator`), while the runway
(`agents.treasury_book.runway_months`: months of opex the USD stablecoins pay) is below
`forced_sale.runway_floor_months`, the allocator sells, for the runway's stablecoin (the
opex token, else the safe asset, else the first USD stablecoin by name), enough to bring
the runway back to `forced_sale.restore_months`:
1. the DAO's own `token` first, then the other risk assets held in the wallet (base assets
   that are no USD stablecoin), largest USD value first;
2. each sale is sized so that the best route's quote pays what is missing (bisection on the
   exact quotes), and the desk cuts it to `forced_sale.max_slippage` below reference value
   (fees and impact included); what one asset cannot fill passes to the next;
3. what none can fill waits: the runway stays below the floor and the next step sells again.
Lending deposits, LP tokens, vault shares and posted collateral are left to the policy (the
stablecoin deposits the market can pay out already count in the runway).

Event `forced_sale` (one per sale): actor, asset, amount (units sold), usd (stablecoin
received, at its reference price before the sale), runway_before and runway_after (months).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from agents import event_kinds
from agents.treasury_book import Book, runway_months
from agents.treasury_desk import TreasuryDesk


class ForcedSeller:
    """Restores the runway of `desk`'s holder by selling risk assets (see the module doc).
    `read_book` re-reads the holder's book after a sale."""

    def __init__(self, desk: TreasuryDesk, *, opex_usd_per_month: float,
                 stables: Collection[str], read_book: Callable[[], Book]) -> None:
        config = desk.config
        self.desk = desk
        self.spec = config.forced_sale
        self.token = config.token
        self.opex_usd_per_month = opex_usd_per_month
        self.stables = frozenset(stables)
        self.read_book = read_book
        candidates = (config.opex_token, desk.safe, *sorted(self.stables))
        self.into = next((s for s in candidates if s in self.stables), None)
        self.sold_usd = 0.0

    @property
    def active(self) -> bool:
        return (self.spec.runway_floor_months > 0 and self.opex_usd_per_month > 0
                and self.into is not None)

    def runway(self, book: Book) -> float:
        return runway_months(book, self.opex_usd_per_month, self.stables)

    def step(self, book: Book) -> Book:
        """Sell as far as needed and possible; returns the book afterwards (`book` itself
        when nothing was sold)."""
        if not self.active or self.runway(book) >= self.spec.runway_floor_months:
            return book
        desk, world = self.desk, self.desk.world
        ledger = world.ledger
        balances = ledger.balances_of(desk.holder)
        risky = sorted(
            (a for a, units in balances.items()
             if units > 0 and a in world.reference and a not in self.stables),
            key=lambda a: (a != self.token, -balances[a] * world.usd(a), a),
        )
        minimum = desk.config.min_trade_usd
        for asset in risky:
            before = self.runway(book)
            missing_usd = (self.spec.restore_months - before) * self.opex_usd_per_month
            if missing_usd < max(minimum, 1e-9):
                break
            price_out = world.usd(self.into)
            amount = self.size(asset, missing_usd / price_out, ledger.balance_of(desk.holder,
                                                                                  asset))
            if amount * world.usd(asset) < minimum:
                continue
            out = desk.swap(asset, self.into, amount, "forced_sale", self.spec.max_slippage)
            if out <= 0:
                continue
            sold = desk.last_sold
            book = self.read_book()
            self.sold_usd += out * price_out
            desk.host.record(event_kinds.FORCED_SALE, actor=desk.holder, asset=asset,
                             amount=sold, usd=out * price_out, runway_before=before,
                             runway_after=self.runway(book))
        return book

    def size(self, asset: str, want: float, held: float) -> float:
        """The least of `asset` (at most `held`) whose best-route quote pays `want` units of
        the runway's stablecoin (`TreasuryDesk.amount_for`)."""
        return self.desk.amount_for(asset, self.into, want, held)
