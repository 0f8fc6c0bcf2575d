"""A lock-and-mint bridge: a canonical asset locked on its home chain, a wrapped asset minted
against it on another chain (Nomad's madWETH, Multichain's anyUSDC, Wormhole's whETH).

Mechanics (all on the one ledger; both chains are the same simulated world):
- `lock(holder, amount, step)`: the canonical asset leaves `holder` at once into the
  bridge's in-flight account `<bridge>:transit`; `delay_steps` later (`process`) it moves
  to `<bridge>:locked` and `amount` wrapped is minted to `holder` (Nomad's optimistic
  window: a message is processed 30 minutes after it is relayed);
- `burn(holder, amount, step)`: the wrapped asset leaves `holder` at once into transit;
  `delay_steps` later it is burned and the canonical asset released from the lock. The
  release pays `amount x min(1, backing)`: after an exploit every redeemer gets the same
  pro-rata share of what is left, so a redemption leaves the backing unchanged (there is no
  run to be first in). With `halt_on_exploit`, as Nomad did, the bridge is paused by the
  exploit and no new transfer starts (`BridgePaused`); those in flight still complete;
- `backing` = locked canonical / outstanding wrapped (its whole supply, burns in flight
  included, as their release is still owed): 1
  while every wrapped unit is redeemable, cut by an exploit that drains the lock
  (`sim.shocks`: the exploiter takes `fraction` of `<bridge>:locked`);
- `mint_backed(holder, amount)`: wrapped supply that existed before the run (or outside it:
  the off-chain market's inventory) brought into the simulation with its share of the
  backing - `amount x backing` canonical is minted by its outside issuer into the lock -
  so the backing ratio is unchanged and every token stays conserved.

The wrapped asset's fundamental price is `backing x` the canonical's (`fundamental_price`):
the off-chain market reprices it at once, arbitrage carries that into pools, and oracles
reading the reference carry it into lending markets (`protocols.world.World.set_prices`).

No Mesa and no randomness. Nomad's pause and its later pro-rata recovery: Nomad, "Nomad
Bridge Hack: Root Cause Analysis" (medium.com/nomad-xyz-blog, 6 Aug 2022) and "Nomad Bridge
Relaunch" (Dec 2022: holders of madAssets redeem a pro-rata share of the recovered funds).
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols import names
from protocols.errors import ConfigError, DaosimError
from protocols.ledger import Ledger
from protocols.validation import check_amount

#: a bridge's sub-accounts (`names.sub_account`)
LOCKED, TRANSIT = "locked", "transit"


class BridgePaused(DaosimError):
    """A transfer started on a bridge its exploit has paused."""


@dataclass(frozen=True)
class Transfer:
    """One crossing in flight: `direction` "mint" (canonical locked, wrapped to come) or
    "release" (wrapped burned, canonical to come), completing at step `due`."""

    holder: str
    amount: float
    direction: str
    due: int


class Bridge:
    """See the module doc. The wrapped token is created here, issued by the bridge."""

    def __init__(self, ledger: Ledger, name: str, canonical: str, wrapped: str,
                 delay_steps: int = 1, halt_on_exploit: bool = True) -> None:
        if isinstance(delay_steps, bool) or not isinstance(delay_steps, int) or delay_steps < 0:
            raise ConfigError(f"delay_steps: must be an integer >= 0, got {delay_steps!r}")
        if not ledger.has_token(canonical):
            raise ConfigError(f"canonical: unknown asset {canonical!r}")
        if ledger.has_token(wrapped):
            raise ConfigError(f"wrapped: {wrapped!r} already exists")
        self.ledger, self.name = ledger, name
        self.canonical, self.wrapped = canonical, wrapped
        self.delay_steps, self.halt_on_exploit = delay_steps, halt_on_exploit
        self.locked = names.sub_account(name, LOCKED)
        self.transit = names.sub_account(name, TRANSIT)
        self.paused = False
        self.pending: list[Transfer] = []
        ledger.create_token(wrapped, issuer=name)

    # -- state ----------------------------------------------------------------------------
    @property
    def locked_amount(self) -> float:
        return self.ledger.balance_of(self.locked, self.canonical)

    @property
    def outstanding(self) -> float:
        """Wrapped supply, burns in flight included: their release is still owed from the
        lock (a lock in flight is not: its canonical waits in transit, unminted)."""
        return self.ledger.total_supply(self.wrapped)

    @property
    def backing(self) -> float:
        """Locked canonical per outstanding wrapped unit (1 with nothing outstanding)."""
        out = self.outstanding
        return self.locked_amount / out if out > 0 else 1.0

    def fundamental_price(self, canonical_price: float) -> float:
        """What one wrapped unit is worth: its redeemable share of the lock."""
        return min(1.0, self.backing) * canonical_price

    # -- transfers ------------------------------------------------------------------------
    def lock(self, holder: str, amount: float, step: int) -> Transfer:
        """Start a crossing canonical -> wrapped; it completes at `step + delay_steps`."""
        return self._start(holder, amount, step, self.canonical, "mint")

    def burn(self, holder: str, amount: float, step: int) -> Transfer:
        """Start a crossing wrapped -> canonical; it completes at `step + delay_steps`."""
        return self._start(holder, amount, step, self.wrapped, "release")

    def _start(self, holder: str, amount: float, step: int, token: str,
               direction: str) -> Transfer:
        amount = check_amount("amount", amount, allow_zero=False)
        if self.paused:
            raise BridgePaused(f"{self.name}: paused since its exploit; no transfer starts")
        self.ledger.transfer(token, holder, self.transit, amount)
        transfer = Transfer(holder, amount, direction, step + self.delay_steps)
        self.pending.append(transfer)
        return transfer

    def process(self, step: int) -> list[tuple[Transfer, float]]:
        """Complete every transfer due by `step`, in the order they started; returns each
        with the amount delivered (wrapped minted, or canonical released)."""
        done = []
        due = [t for t in self.pending if t.due <= step]
        self.pending = [t for t in self.pending if t.due > step]
        for t in due:
            if t.direction == "mint":
                self.ledger.transfer(self.canonical, self.transit, self.locked,
                                     self._in_transit(self.canonical, t.amount))
                self.ledger.mint(self.wrapped, t.holder, t.amount, by=self.name)
                done.append((t, t.amount))
            else:
                payout = min(t.amount * min(1.0, self.backing), self.locked_amount)
                self.ledger.burn(self.wrapped, self.transit,
                                 self._in_transit(self.wrapped, t.amount), by=self.name)
                if payout > 0:
                    self.ledger.transfer(self.canonical, self.locked, t.holder, payout)
                done.append((t, payout))
        return done

    def _in_transit(self, token: str, amount: float) -> float:
        """`amount`, or what transit holds if float rounding of the sum left it a hair
        short (transfers in and out in another order round differently)."""
        return min(amount, self.ledger.balance_of(self.transit, token))

    def mint_backed(self, holder: str, amount: float) -> None:
        """Bring `amount` pre-existing wrapped into the simulation (module doc)."""
        amount = check_amount("amount", amount)
        backing = min(1.0, self.backing)
        if backing * amount > 0:
            self.ledger.mint(self.canonical, self.locked, backing * amount,
                             by=names.issuer(self.canonical))
        self.ledger.mint(self.wrapped, holder, amount, by=self.name)

    def exploited(self) -> None:
        """The lock was drained (`sim.shocks`): pause if the bridge halts on an exploit."""
        if self.halt_on_exploit:
            self.paused = True
