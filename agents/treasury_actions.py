"""Scheduled treasury actions (`[[treasury.actions]]`, `spec.Action`): what a governance
proposal has the DAO do - sell, buy, deposit, withdraw, borrow, repay, provide or remove
liquidity - through the allocator's own primitives (the desk's swaps and withdrawals, the
venues' enter and exit, the debts' borrow and repay), as TWAP tranches.

When: each step, after opex and any forced sale and before the policy (`agents.allocator`),
so the policy sees the book the actions leave; actions run in the order listed.

How much: at the first step of its window an action fixes what it intends - units of its
asset (a `share` is taken of the holding then) or USD for a `usd` amount. At each step of
the window the tranche is (intended - done so far) / (steps left, this one included), so a
tranche that could not be filled (slippage limit, a market without cash, ...) is caught up
by the next ones. A tranche worth less than `min_trade_usd` is not tried (it waits for the
next one: the desk would refuse it). What is not done after the last step is the shortfall.

Prices: a tranche is valued at the reference (off-chain) price of its asset at the step it
is due, read before it trades - the price the slippage limit is measured against; provided
or removed liquidity by the change of the venue holding's value at that step's reference
prices (`agents.treasury_book`). `executed_usd` sums the tranches' done USD; `shortfall_usd`
sums each action's remainder after its last tranche, at that tranche's reference price; so
executed + shortfall is the intended value (each part at the price of its own step).

Event `treasury_action`, one per tranche: index (in `treasury.actions`), action (its kind),
asset, tranche (1-based), wanted and done (units of the asset; for provide/remove the
venue's: LP tokens or v3 liquidity, 0 while none is held), wanted_usd and done_usd,
done_total and done_total_usd (cumulative), remaining and remaining_usd (intended minus
done: the shortfall on the `final` tranche).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from agents import event_kinds
from agents.treasury_book import Book
from agents.treasury_debts import TreasuryDebts
from agents.treasury_desk import TreasuryDesk
from agents.venues import RangeVenue, Venue
from spec import Action


@dataclass
class Progress:
    """One action's account, in its measure (`Action.measure`)."""

    intended: float | None = None
    done: float = 0.0
    done_units: float = 0.0
    done_usd: float = 0.0
    tranches: int = 0


class TreasuryActions:
    """Runs `actions` for the desk's holder (see the module doc); `venues` are the
    allocator's (`agents.venues.venue_index`), `read_book` re-reads the holder's book."""

    def __init__(self, desk: TreasuryDesk, debts: TreasuryDebts, venues: Mapping[str, Venue],
                 actions: Sequence[Action], read_book: Callable[[], Book]) -> None:
        self.desk = desk
        self.debts = debts
        self.venues = venues
        self.actions = tuple(actions)
        self.read_book = read_book
        self.progress = [Progress() for _ in self.actions]
        #: USD done over all tranches, and left undone after the windows (module doc)
        self.executed_usd = 0.0
        self.shortfall_usd = 0.0

    def step(self, t: int) -> bool:
        """Run the tranches due at step `t`; True when any was due."""
        due = False
        for i, action in enumerate(self.actions):
            if action.start <= t <= action.end:
                self._tranche(i, action, t)
                due = True
        return due

    def _tranche(self, i: int, action: Action, t: int) -> None:
        progress = self.progress[i]
        if progress.intended is None:
            progress.intended = (action.usd if action.usd is not None
                                 else action.units if action.units is not None
                                 else action.share * self._held(action))
        price = self._price(action)
        left = action.end - t + 1
        want = max(0.0, (progress.intended - progress.done) / left)
        by_usd = action.measure == "usd"
        want_usd = want if by_usd else want * price
        want_units = (want / price if price > 0 else 0.0) if by_usd else want
        done_units = done_usd = 0.0
        if want_usd >= max(self.desk.config.min_trade_usd, 1e-9):
            done_units, done_usd = getattr(self, f"_{action.kind}")(action, want_units,
                                                                    want_usd, price)
        progress.tranches += 1
        progress.done += done_usd if by_usd else done_units
        progress.done_units += done_units
        progress.done_usd += done_usd
        self.executed_usd += done_usd
        remaining = max(0.0, progress.intended - progress.done)
        remaining_usd = remaining if by_usd else remaining * price
        if left == 1:
            self.shortfall_usd += remaining_usd
        self.desk.host.record(
            event_kinds.TREASURY_ACTION, actor=self.desk.holder, index=i, action=action.kind,
            asset=action.asset, tranche=progress.tranches, wanted=want_units,
            wanted_usd=want_usd, done=done_units, done_usd=done_usd,
            done_total=progress.done_units, done_total_usd=progress.done_usd,
            remaining=(remaining / price if price > 0 else 0.0) if by_usd else remaining,
            remaining_usd=remaining_usd, final=left == 1)

    # -- what there is -------------------------------------------------------------------
    def _held(self, action: Action) -> float:
        """The holding a `share` is of (see `spec.Action`)."""
        world, holder = self.desk.world, self.desk.holder
        if action.kind == "withdraw":
            return world.markets[action.venue].balance_of(holder, action.asset)
        if action.kind == "repay":
            markets = [action.venue] if action.venue else sorted(self.debts.positions)
            return sum(self.debts.debt(m, action.asset) for m in markets)
        if action.kind == "remove":
            return self._venue_units(self.venues[action.asset])
        return world.ledger.balance_of(holder, action.asset)

    def _price(self, action: Action) -> float:
        """USD per unit at reference now (a venue: its holding's value per venue unit)."""
        if action.kind not in ("provide", "remove"):
            return self.desk.world.usd(action.asset)
        units = self._venue_units(self.venues[action.asset])
        return self._venue_usd(action.asset) / units if units > 0 else 0.0

    def _venue_units(self, venue: Venue) -> float:
        """LP tokens held, or the liquidity of the holder's v3 positions."""
        holder = self.desk.holder
        if isinstance(venue, RangeVenue):
            return sum(venue.pool.position(pid).liquidity
                       for pid in venue.pool.positions_of(holder))
        return self.desk.world.ledger.balance_of(holder, venue.token)

    def _venue_usd(self, token: str) -> float:
        return self.read_book().values_usd.get(token, 0.0)

    # -- the kinds: each returns (units done, USD done) ----------------------------------
    def _sell(self, action: Action, units: float, usd: float,
              price: float) -> tuple[float, float]:
        desk = self.desk
        amount = min(units, desk.world.ledger.balance_of(desk.holder, action.asset))
        out = desk.swap(action.asset, action.into or desk.safe, amount, "action",
                        action.max_slippage)
        sold = desk.last_sold if out > 0 else 0.0
        return sold, sold * price

    def _buy(self, action: Action, units: float, usd: float,
             price: float) -> tuple[float, float]:
        desk = self.desk
        pay = action.with_ or desk.safe
        amount = desk.amount_for(pay, action.asset, units,
                                 desk.world.ledger.balance_of(desk.holder, pay))
        bought = desk.swap(pay, action.asset, amount, "action", action.max_slippage)
        return bought, bought * price

    def _deposit(self, action: Action, units: float, usd: float,
                 price: float) -> tuple[float, float]:
        market = self.desk.world.markets[action.venue]
        before = market.balance_of(self.desk.holder, action.asset)
        self.venues[market.receipt_token(action.asset)].enter(self.desk, units * price)
        done = market.balance_of(self.desk.holder, action.asset) - before
        return done, done * price

    def _withdraw(self, action: Action, units: float, usd: float,
                  price: float) -> tuple[float, float]:
        market = self.desk.world.markets[action.venue]
        before = market.balance_of(self.desk.holder, action.asset)
        self.desk.withdraw(market, action.asset, min(units, before))
        done = before - market.balance_of(self.desk.holder, action.asset)
        return done, done * price

    def _borrow(self, action: Action, units: float, usd: float,
                price: float) -> tuple[float, float]:
        done = self.debts.borrow(action.asset, units, action.venue, action.collateral)
        return done, done * price

    def _repay(self, action: Action, units: float, usd: float,
               price: float) -> tuple[float, float]:
        done = self.debts.repay(action.asset, units, action.venue)
        return done, done * price

    def _provide(self, action: Action, units: float, usd: float,
                 price: float) -> tuple[float, float]:
        venue = self.venues[action.asset]
        units_before, usd_before = self._venue_units(venue), self._venue_usd(action.asset)
        venue.enter(self.desk, usd)
        return (self._venue_units(venue) - units_before,
                self._venue_usd(action.asset) - usd_before)

    def _remove(self, action: Action, units: float, usd: float,
                price: float) -> tuple[float, float]:
        venue = self.venues[action.asset]
        units_before, usd_before = self._venue_units(venue), self._venue_usd(action.asset)
        if units_before <= 0:
            return 0.0, 0.0
        share = min(1.0, units / units_before)
        venue.exit(self.desk, share, usd_before * share)
        return (units_before - self._venue_units(venue),
                usd_before - self._venue_usd(action.asset))
