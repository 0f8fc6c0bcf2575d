"""Option vaults in the style of Ribbon Theta Vaults: covered calls and cash-secured puts.

A vault sells one series of European options per epoch on all its collateral and earns the
premium. Mechanics follow Ribbon v2 (RibbonThetaVault, VaultLifecycle.rollover, ShareMath)
with Opyn oTokens as the options, simplified where noted:

- `kind="call"`: collateral is the underlying; one contract per underlying held; premium is
  paid in the underlying (Ribbon's ETH call vault earns ETH); an in-the-money contract pays
  (S - K) / S underlying at expiry (oTokens cash-settle in the collateral asset).
- `kind="put"`: collateral is the quote (stablecoin); contracts = quote held / strike;
  premium in quote; an in-the-money contract pays K - S quote.

Ledger ids: shares `f"{name}:shares"`, options `f"{name}:option"` (one token per contract,
minted to the buyer at the roll, burnt at settlement, so whoever holds them is paid);
holders `name` (active collateral and premium), `f"{name}:pending"` (deposits waiting for
the next roll) and `f"{name}:queue"` (shares waiting to be redeemed).

Roll rule (Ribbon VaultLifecycle.rollover / ShareMath.pricePerShare): at the roll, after the
expiring options are settled, price per share = active collateral / share supply (1.0 when
there are no shares). Queued shares are burnt and paid at that price; pending deposits then
join the active collateral and get shares at that same price (so they share neither the
old epoch's gains nor its losses). Unlike Ribbon, shares and withdrawals are delivered at the
roll instead of being claimed later, and there are no management/performance fees.
Premiums are sold at the Black-Scholes price, so NAV per share is continuous across a roll.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from protocols import names
from protocols.errors import ConfigError, DaosimError, InsufficientLiquidity, InvalidAmount
from protocols.ledger import Ledger
from protocols.options import Greeks, black_scholes, strike_for_delta
from protocols.validation import check_amount, check_fraction


class PriceFeed(Protocol):
    @property
    def price(self) -> float: ...


@dataclass(frozen=True)
class Epoch:
    """The options written at a roll: they expire at step `expiry`."""

    start: int
    expiry: int
    strike: float
    implied_vol: float


class _RollPlan(NamedTuple):
    """What `OptionVault.roll` will do, computed before it changes anything."""

    payouts: dict[str, float]  # settlement of the expiring options, per holder
    price_per_share: float
    redeemed: dict[str, float]  # collateral per owner of queued shares
    pending: float  # deposits admitted at this roll
    strike: float  # of the options written (NaN when none are)
    contracts: float
    premium: float  # in collateral, paid by the buyer


class BookGreeks(NamedTuple):
    """Sensitivities of the vault's book (collateral + short options), valued in quote.

    delta: quote value change per 1 quote move of the underlying, i.e. in underlying units
    (a call vault is long its underlying and short calls; a put vault is short puts, which
    is long delta); gamma: d(delta)/dS (negative: the vault is short options); vega: quote
    value change per vol point (0.01 of vol), negative.
    """

    delta: float
    gamma: float
    vega: float


def _check_step(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidAmount(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return value


def _check_holder(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidAmount(f"{name}: must be a non-empty string, got {value!r}")
    return value


class OptionVault:
    """Covered-call (`kind="call"`) or cash-secured-put (`kind="put"`) vault; see module doc.

    `oracle` is anything with a `.price` (underlying in quote); `rate` is the yearly
    risk-free rate used to price the options; `epoch_steps` / `steps_per_year` is the tenor.
    """

    def __init__(
        self,
        ledger: Ledger,
        name: str,
        underlying: str,
        quote: str,
        oracle: PriceFeed,
        kind: str = "call",
        epoch_steps: int = 168,
        target_delta: float = 0.10,
        steps_per_year: float = 8760,
        rate: float = 0.0,
    ) -> None:
        name = _check_holder("name", name)
        ledger.total_supply(underlying)  # UnknownToken if absent
        ledger.total_supply(quote)
        if underlying == quote:
            raise ConfigError(f"quote: must differ from underlying, both are {quote!r}")
        if kind not in ("call", "put"):
            raise ConfigError(f"kind: must be 'call' or 'put', got {kind!r}")
        self.epoch_steps = _check_step("epoch_steps", epoch_steps, minimum=1)
        self.target_delta = check_fraction("target_delta", target_delta, upper_open=True)
        if self.target_delta == 0.0:
            raise InvalidAmount("target_delta: must be > 0, got 0.0")
        self.steps_per_year = check_amount("steps_per_year", steps_per_year, allow_zero=False)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate):
            raise InvalidAmount(f"rate: must be a finite number, got {rate!r}")
        self.shares = names.vault_shares(name)
        self.option = names.vault_option(name)
        for token in (self.shares, self.option):
            if ledger.has_token(token):
                raise ConfigError(f"name: token {token!r} already exists")
        ledger.create_token(self.shares, name)
        ledger.create_token(self.option, name)

        self.ledger = ledger
        self.name = name
        self.underlying = underlying
        self.quote = quote
        self.oracle = oracle
        self.kind = kind
        self.rate = float(rate)
        self.collateral = underlying if kind == "call" else quote
        self.pending_holder = f"{name}:pending"
        self.queue = f"{name}:queue"
        self.epoch: Epoch | None = None
        self._pending: dict[str, float] = {}  # owner -> collateral waiting for the roll
        self._queued: dict[str, float] = {}  # owner -> shares waiting for the roll

    # -- reads ----------------------------------------------------------------------------
    @property
    def is_call(self) -> bool:
        return self.kind == "call"

    @property
    def contracts(self) -> float:
        """Options outstanding (underlying units), read from the ledger."""
        return self.ledger.total_supply(self.option)

    def pending_of(self, owner: str) -> float:
        return self._pending.get(owner, 0.0)

    def queued_of(self, owner: str) -> float:
        return self._queued.get(owner, 0.0)

    def step_due(self, step: int) -> bool:
        """True when the simulator should `roll`: no open epoch, or the open one expired."""
        step = _check_step("step", step)
        return self.epoch is None or step >= self.epoch.expiry

    def nav(self, step: int) -> float:
        """Active collateral minus the short options marked to Black-Scholes, in collateral.

        The mark uses the current oracle price, the time left to expiry (0 once expired:
        intrinsic value) and the epoch's implied vol. Pending deposits are not included.
        """
        step = _check_step("step", step)
        held = self.ledger.balance_of(self.name, self.collateral)
        if self.epoch is None or self.contracts == 0.0:
            return held
        spot = self._spot()
        return held - self.contracts * self._in_collateral(self._option(spot, step).price, spot)

    def nav_per_share(self, step: int) -> float:
        """NAV per outstanding share (queued shares still count); 1.0 with no shares."""
        supply = self.ledger.total_supply(self.shares)
        return self.nav(step) / supply if supply > 0.0 else 1.0

    def greeks(self, step: int) -> BookGreeks:
        """Delta, gamma and vega of collateral + short options; see `BookGreeks`."""
        step = _check_step("step", step)
        long_delta = self.ledger.balance_of(self.name, self.underlying) if self.is_call else 0.0
        if self.epoch is None or self.contracts == 0.0:
            return BookGreeks(long_delta, 0.0, 0.0)
        g = self._option(self._spot(), step)
        n = self.contracts
        return BookGreeks(long_delta - n * g.delta, -n * g.gamma, -n * g.vega / 100.0)

    # -- writes ---------------------------------------------------------------------------
    def deposit(self, owner: str, amount: float) -> None:
        """Queue `amount` collateral for the next roll, where it gets shares."""
        owner = _check_holder("owner", owner)
        amount = check_amount("amount", amount, allow_zero=False)
        self.ledger.transfer(self.collateral, owner, self.pending_holder, amount)
        self._pending[owner] = self._pending.get(owner, 0.0) + amount

    def request_withdrawal(self, owner: str, shares: float) -> None:
        """Move `shares` to the queue; they are redeemed at the next roll's price per share."""
        owner = _check_holder("owner", owner)
        shares = check_amount("shares", shares, allow_zero=False)
        self.ledger.transfer(self.shares, owner, self.queue, shares)
        self._queued[owner] = self._queued.get(owner, 0.0) + shares

    def settle(self, step: int) -> float:
        """Settle the expired epoch at the oracle price; return the collateral paid out.

        Every holder of `f"{name}:option"` is paid and its options burnt (Opyn
        Controller.redeem): calls max(S - K, 0) / S underlying, puts max(K - S, 0) quote per
        contract, pro rata if the vault cannot cover it all (only after an exploit drained it).
        """
        step = _check_step("step", step)
        self._require_expired(step)
        payouts = self._payouts(self._spot())
        self._pay_settlement(payouts)
        return math.fsum(payouts.values())

    def roll(self, step: int, implied_vol: float, buyer: str) -> Epoch | None:
        """Close the expired epoch (if any) and write the next one; return it.

        Order: settle expiring options, redeem queued shares and admit pending deposits at
        the settled price per share, then write options on all active collateral at the
        `target_delta` strike; `buyer` pays the premium into the vault (it must hold it
        before the roll) and receives the option tokens. Returns None (no epoch opens) when
        there is no collateral to write on. Nothing changes if any check fails.
        """
        step = _check_step("step", step)
        vol = check_amount("implied_vol", implied_vol, allow_zero=False)
        buyer = _check_holder("buyer", buyer)
        if buyer in (self.name, self.pending_holder, self.queue):
            raise InvalidAmount(f"buyer: the vault cannot buy its own options ({buyer!r})")
        if self.epoch is not None:
            self._require_expired(step)

        # Plan everything first, so that a refused call changes nothing.
        plan = self._plan(vol)
        price_per_share, pending, contracts = plan.price_per_share, plan.pending, plan.contracts
        epoch = (Epoch(step, step + self.epoch_steps, plan.strike, vol) if contracts > 0.0
                 else None)

        # Execute: the premium first, as it is the only transfer that can be refused.
        if plan.premium > 0.0:
            self.ledger.transfer(self.collateral, buyer, self.name, plan.premium)
        if self.epoch is not None:
            self._pay_settlement(plan.payouts)
        # One burn of the whole queue: per-owner records and the ledger sum in different
        # orders, so they may differ by an ulp; the ledger is the truth.
        self.ledger.burn(
            self.shares, self.queue, self.ledger.balance_of(self.queue, self.shares), by=self.name
        )
        for owner, amount in plan.redeemed.items():
            self._pay(owner, amount)
        self._queued.clear()
        if pending > 0.0:
            self.ledger.transfer(self.collateral, self.pending_holder, self.name, pending)
            for owner, amount in self._pending.items():
                self.ledger.mint(self.shares, owner, amount / price_per_share, by=self.name)
        self._pending.clear()
        if contracts > 0.0:
            self.ledger.mint(self.option, buyer, contracts, by=self.name)
        self.epoch = epoch
        return epoch

    def premium_due(self, implied_vol: float) -> float:
        """The premium, in collateral, that `roll` would charge its buyer now: a buyer that
        stands for the whole off-chain options market funds itself with it first."""
        return self._plan(check_amount("implied_vol", implied_vol, allow_zero=False)).premium

    def _plan(self, vol: float) -> _RollPlan:
        """What a roll now would do: settle, redeem, admit pending deposits, and write."""
        payouts = self._payouts(self._spot()) if self.epoch is not None else {}
        held = self.ledger.balance_of(self.name, self.collateral) - math.fsum(payouts.values())
        supply = self.ledger.total_supply(self.shares)
        pending = self.ledger.balance_of(self.pending_holder, self.collateral)
        if supply > 0.0 and held <= 0.0 and pending > 0.0:
            raise InsufficientLiquidity(
                f"roll: {self.name} has no collateral behind its {supply!r} shares, "
                "so pending deposits cannot be priced (Ribbon reverts too)"
            )
        price_per_share = max(held, 0.0) / supply if supply > 0.0 else 1.0
        redeemed = {owner: shares * price_per_share for owner, shares in self._queued.items()}
        active = max(held - math.fsum(redeemed.values()), 0.0) + pending
        strike, contracts, premium = math.nan, 0.0, 0.0
        if active > 0.0:
            spot = self._spot()
            tenor = self.epoch_steps / self.steps_per_year
            strike = float(
                strike_for_delta(spot, self.rate, vol, tenor, self.target_delta, self.is_call)
            )
            value = black_scholes(spot, strike, self.rate, vol, tenor, self.is_call).price
            contracts = active if self.is_call else active / strike
            premium = contracts * self._in_collateral(value, spot)
        return _RollPlan(payouts, price_per_share, redeemed, pending, strike, contracts, premium)

    # -- internals ------------------------------------------------------------------------
    def _spot(self) -> float:
        return check_amount("oracle price", self.oracle.price, allow_zero=False)

    def _in_collateral(self, quote_value: float, spot: float) -> float:
        """A per-contract value in quote, expressed in the collateral asset."""
        return quote_value / spot if self.is_call else quote_value

    def _option(self, spot: float, step: int) -> Greeks:
        epoch = self.epoch
        remaining = max(epoch.expiry - step, 0) / self.steps_per_year
        return black_scholes(
            spot, epoch.strike, self.rate, epoch.implied_vol, remaining, self.is_call
        )

    def _require_expired(self, step: int) -> None:
        if self.epoch is None:
            raise DaosimError(f"settle: {self.name} has no open epoch")
        if step < self.epoch.expiry:
            raise DaosimError(
                f"step: {self.name}'s epoch expires at step {self.epoch.expiry}, got {step}"
            )

    def _payouts(self, spot: float) -> dict[str, float]:
        """What each option holder is owed at settlement price `spot`, in collateral."""
        strike = self.epoch.strike
        intrinsic = max(spot - strike, 0.0) if self.is_call else max(strike - spot, 0.0)
        per_contract = self._in_collateral(intrinsic, spot)
        owed = {h: n * per_contract for h, n in self.ledger.holders(self.option).items()}
        held = self.ledger.balance_of(self.name, self.collateral)
        total = math.fsum(owed.values())
        scale = min(1.0, held / total) if total > 0.0 else 1.0
        return {h: amount * scale for h, amount in owed.items()}

    def _pay_settlement(self, payouts: dict[str, float]) -> None:
        for holder, n in self.ledger.holders(self.option).items():
            self.ledger.burn(self.option, holder, n, by=self.name)
            self._pay(holder, payouts[holder])
        self.epoch = None

    def _pay(self, to: str, amount: float) -> None:
        # min(): a sum of float products may exceed the balance by an ulp or two.
        amount = min(amount, self.ledger.balance_of(self.name, self.collateral))
        if amount > 0.0:
            self.ledger.transfer(self.collateral, self.name, to, amount)
