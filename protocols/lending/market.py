"""An Aave v3 lending market on the shared ledger: reserves, positions, interest, liquidation.

Tokens and holders (`name` is the market's ledger holder id and token issuer)
- Receipt token of `asset`: f"{name}:a{asset}". NON-rebasing, cToken-like: the ledger holds
  SCALED amounts and one unit redeems `exchange_rate(asset)` (the liquidity index) of
  underlying (AToken.scaledBalanceOf * index = balanceOf). Any holder, including another
  protocol, can hold and price it.
- Cash: the market's own ledger balance of each underlying.
- Positions (borrowers) live in a `PositionBook` (protocols/lending/book.py):
  `collateral_scaled` and `debt_scaled` (positions x assets) and `owner`. Position
  collateral is held as receipt tokens by f"{name}:collateral" (escrow): per asset, the
  column sum of collateral_scaled is the escrow's balance. Debt is book-only, as Aave's
  variable debt tokens are not transferable: total debt = sum(debt_scaled) * borrow_index.
- Treasury (default f"{name}:treasury") receives the reserve-factor share of interest and
  the liquidation protocol fee, as receipt tokens.

Interest: `accrue(dt_years)` is ReserveLogic.updateState followed by updateInterestRates
for every reserve. Rates are a pure function of the current state (U = debt / (cash +
debt), Aave v3.0's "available liquidity + debt"), which is what Aave stores after every
action, so they are computed when needed rather than stored. Only variable-rate debt exists
(stable-rate borrowing is out of scope).

Liquidation (`liquidate`) lives in protocols/lending/liquidation.py, with the bad debt a
liquidation can leave: recorded cumulatively in `bad_debt[asset]`, removed from the book and
socialized at once across that asset's suppliers by cutting its liquidity index.

Accounting identity, per asset, after every operation (up to float rounding):

    receipt_supply * liquidity_index + interest_surplus == cash + total_debt

`interest_surplus[asset]` >= 0 is interest that borrowers paid and nobody is credited with:
the borrow index compounds (calculateCompoundedInterest) while the liquidity index grows
linearly at rate * U * (1 - RF) on a base that excludes the surplus itself, and the treasury
gets exactly RF times the debt increase (_accrueToTreasury). It grows only in `accrue`;
every other operation moves both sides by the same amount. A socialized deficit D removes D
from the debt and D from the claims, so before the cut the claims equal cash + borrows
(including D) - surplus: "deposits == cash + borrows + bad debt", with the bad debt kept in
`bad_debt`. Only if D exceeded every claim would the index reach 0 and the surplus absorb
the rest.

Prices are read from `oracles[asset].price` once per call, never from the caller. A refused
operation raises (a `LendingError` of protocols/lending/errors.py, or a ledger or amount
error) before changing anything. Each operation coerces its arguments, then runs the checks
that can refuse it, Aave's ValidationLogic, from protocols/lending/validation.py.
"""

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from numbers import Integral
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from protocols import names
from protocols.errors import ConfigError, InsufficientBalance, InvalidAmount
from protocols.ledger import Ledger
from protocols.lending._checks import nonnegative_array
from protocols.lending.book import PositionBook, sum_by
from protocols.lending.errors import LendingError, UnknownPosition, UnknownReserve
from protocols.lending.health import ratio_or_inf
from protocols.lending.liquidation import (
    LiquidationQuote,
    LiquidationResult,
    execute_liquidation_call,
    quote_liquidation,
)
from protocols.lending.params import ReserveParams
from protocols.lending.rates import compounded_interest, linear_interest, supply_rate
from protocols.lending.validation import (
    check_cash,
    check_holder,
    check_owner_balances,
    check_supply_cap,
    check_usable,
    validate_borrow,
    validate_hf_and_ltv,
    validate_open_positions,
    validate_repay,
)
from protocols.validation import check_amount, check_fraction

#: Relative float slack when a caller asks for a whole balance it computed as scaled * index.
DUST = 1e-12
#: A reserve counts as pinned (suppliers cannot withdraw) from this utilization on.
PINNED_UTILIZATION = 1.0 - 1e-12


class LendingMarket:
    """Reserves (one per asset) plus a book of borrower positions; see the module doc."""

    def __init__(
        self,
        ledger: Ledger,
        name: str,
        reserves: Mapping[str, ReserveParams],
        oracles: Mapping[str, Any],
        close_factor: float = 0.5,
        close_factor_hf_threshold: float = 0.95,
        treasury: str | None = None,
    ) -> None:
        check_holder("name", name)
        if not reserves:
            raise ConfigError("reserves: need at least one asset")
        for asset, params in reserves.items():
            if not isinstance(params, ReserveParams):
                raise ConfigError(f"reserves[{asset!r}]: must be a ReserveParams, got {params!r}")
            ledger.total_supply(asset)  # UnknownToken if the underlying was never created
            receipt = names.receipt(name, asset)
            if ledger.has_token(receipt):
                raise ConfigError(f"name: receipt token {receipt} already exists")
        if set(oracles) != set(reserves):
            raise ConfigError(
                f"oracles: need one per reserve {sorted(reserves)}, got {sorted(oracles)}"
            )
        for asset, oracle in oracles.items():
            # dir(), not hasattr(): hasattr would read the price, and a feed may not have
            # an answer yet.
            if "price" not in dir(oracle):
                raise ConfigError(f"oracles[{asset!r}]: has no .price attribute")
        for arg, value in (
            ("close_factor", close_factor),
            ("close_factor_hf_threshold", close_factor_hf_threshold),
        ):
            if check_fraction(arg, value) == 0:
                raise ConfigError(f"{arg}: must be > 0")
        treasury = names.sub_account(name, "treasury") if treasury is None else treasury
        check_holder("treasury", treasury)

        self.ledger = ledger
        self.name = name
        self.assets: tuple[str, ...] = tuple(reserves)
        self.reserves = dict(reserves)
        self.oracles = dict(oracles)
        self.close_factor = float(close_factor)
        self.close_factor_hf_threshold = float(close_factor_hf_threshold)
        self.treasury = treasury
        self.escrow = names.sub_account(name, "collateral")
        self.bad_debt: dict[str, float] = dict.fromkeys(self.assets, 0.0)
        self.interest_surplus: dict[str, float] = dict.fromkeys(self.assets, 0.0)

        params = [self.reserves[a] for a in self.assets]
        self._column = {asset: i for i, asset in enumerate(self.assets)}
        self._lt = np.array([p.liquidation_threshold * p.usable_as_collateral for p in params])
        self._ltv = np.array([p.ltv * p.usable_as_collateral for p in params])
        self._reserve_factor = np.array([p.reserve_factor for p in params])
        self._liquidity_index = np.ones(len(params))
        self._borrow_index = np.ones(len(params))
        self._book = PositionBook(len(params))
        self._changes = 0  # index and parameter changes; the book counts its own
        self._checked_prices: tuple[tuple[float, ...], np.ndarray] | None = None  # _prices
        for asset in self.assets:
            ledger.create_token(self.receipt_token(asset), issuer=name)

    # -- governance ------------------------------------------------------------------------
    def configure_reserve(self, asset: str, **changes: Any) -> ReserveParams:
        """Change `asset`'s risk parameters now, for every open position - as Aave v3's
        PoolConfigurator does (`configureReserveAsCollateral(asset, ltv, liquidationThreshold,
        liquidationBonus)`, `setReserveFactor`, `setLiquidationProtocolFee`, `setSupplyCap`,
        `setBorrowCap`). A lower threshold lowers health factors at once: that is how a
        governance proposal reaches positions opened under the old one. The new parameters
        pass the same checks as at listing, or nothing changes."""
        i = self._col(asset)
        known = {f.name for f in fields(ReserveParams)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"{unknown[0]}: not a reserve parameter (one of {sorted(known)})")
        params = replace(self.reserves[asset], **changes)  # re-validated in __post_init__
        self.reserves[asset] = params
        self._lt[i] = params.liquidation_threshold * params.usable_as_collateral
        self._ltv[i] = params.ltv * params.usable_as_collateral
        self._reserve_factor[i] = params.reserve_factor
        self._changes += 1
        return params

    # -- reserve reads -----------------------------------------------------------------
    def receipt_token(self, asset: str) -> str:
        self._col(asset)
        return names.receipt(self.name, asset)

    def exchange_rate(self, asset: str) -> float:
        """Underlying redeemable per receipt token: the liquidity index."""
        return float(self._liquidity_index[self._col(asset)])

    def borrow_index(self, asset: str) -> float:
        return float(self._borrow_index[self._col(asset)])

    def cash(self, asset: str) -> float:
        self._col(asset)
        return self.ledger.balance_of(self.name, asset)

    def total_debt(self, asset: str) -> float:
        i = self._col(asset)
        return float(self._book.debt_scaled[:, i].sum() * self._borrow_index[i])

    def total_supplied(self, asset: str) -> float:
        """All receipt-token claims, in underlying (aToken.totalSupply)."""
        i = self._col(asset)
        return self.ledger.total_supply(self.receipt_token(asset)) * self._liquidity_index[i]

    def balance_of(self, holder: str, asset: str) -> float:
        """Underlying `holder` can redeem with its receipt tokens (aToken.balanceOf)."""
        i = self._col(asset)
        return self.ledger.balance_of(holder, self.receipt_token(asset)) * self._liquidity_index[i]

    def utilization(self, asset: str) -> float:
        """total debt / (cash + total debt), 0 without debt."""
        return float(_utilization(self.cash(asset), self.total_debt(asset)))

    def is_pinned(self, asset: str) -> bool:
        """Utilization at 100 %: suppliers cannot withdraw."""
        return self.utilization(asset) >= PINNED_UTILIZATION

    def rates(self, asset: str) -> tuple[float, float]:
        """(borrow rate, supply rate) per year at the current utilization."""
        i = self._col(asset)
        u = self.utilization(asset)
        borrow = float(self.reserves[asset].rate_model.borrow_rate(u))
        return borrow, float(supply_rate(u, borrow, self._reserve_factor[i]))

    # -- book reads (vectorized over positions) -----------------------------------------
    @property
    def version(self) -> int:
        """Grows with every change of the book, an index or a risk parameter: with the same
        version and the same oracle prices, every health factor is what it was."""
        return self._book.version + self._changes

    @property
    def n_positions(self) -> int:
        return self._book.count

    @property
    def collateral_scaled(self) -> np.ndarray:
        return self._book.collateral_scaled

    @property
    def debt_scaled(self) -> np.ndarray:
        return self._book.debt_scaled

    @property
    def owner(self) -> np.ndarray:
        return self._book.owner

    def collateral_of(self, pid: int) -> np.ndarray:
        """Underlying collateral of a position, per asset."""
        return self._book.collateral_scaled[self._pid(pid)] * self._liquidity_index

    def debt_of(self, pid: int) -> np.ndarray:
        """Debt of a position, per asset, interest included."""
        return self._book.debt_scaled[self._pid(pid)] * self._borrow_index

    def health_factors(self) -> np.ndarray:
        """HF of every position (inf without debt): two matrix-vector products."""
        prices = self._prices()
        book = self._book
        return ratio_or_inf(
            book.collateral_scaled @ (self._liquidity_index * prices * self._lt),
            book.debt_scaled @ (self._borrow_index * prices),
        )

    def health_factor_of(self, pid: int) -> float:
        weighted, _, debt_value = self._account(self._pid(pid), self._prices())
        return float(ratio_or_inf(weighted, debt_value))

    def liquidatable(self) -> np.ndarray:
        """Ids of the positions with HF < 1."""
        return np.flatnonzero(self.health_factors() < 1.0)

    def borrowing_power(self) -> np.ndarray:
        """Value each position can still borrow, in oracle units
        (GenericLogic.calculateAvailableBorrows: collateral * LTV - debt, floored at 0)."""
        prices = self._prices()
        book = self._book
        power = book.collateral_scaled @ (self._liquidity_index * prices * self._ltv)
        return np.maximum(power - book.debt_scaled @ (self._borrow_index * prices), 0.0)

    def snapshot(self) -> dict[str, Any]:
        """For tests and checks: compare state before and after an operation.

        Plain copies that compare with ==: the book ("collateral_scaled" and "debt_scaled",
        one list per position, and "owner"), then per asset "liquidity_index",
        "borrow_index", "bad_debt", "interest_surplus" and the "liquidation_threshold" and
        "ltv" in force (0 where the asset cannot back a position), which only
        `configure_reserve` changes. The tokens are in `ledger.snapshot()`.
        """

        def per_asset(values: np.ndarray) -> dict[str, float]:
            return dict(zip(self.assets, values.tolist(), strict=True))

        return {
            **self._book.snapshot(),
            "liquidity_index": per_asset(self._liquidity_index),
            "borrow_index": per_asset(self._borrow_index),
            "bad_debt": dict(self.bad_debt),
            "interest_surplus": dict(self.interest_surplus),
            "liquidation_threshold": per_asset(self._lt),
            "ltv": per_asset(self._ltv),
        }

    # -- suppliers ------------------------------------------------------------------------
    def supply(self, owner: str, asset: str, amount: float) -> float:
        """Deposit underlying, mint amount / index receipt tokens to `owner`; returns them.

        SupplyLogic.executeSupply; supply cap as ValidationLogic.validateSupply (v3.1+:
        all claims, treasury included, plus the amount <= cap; `validation.check_supply_cap`).
        """
        i = self._col(asset)
        amount = check_amount("amount", amount, allow_zero=False)
        check_supply_cap(self, i, amount)
        scaled = self._scaled(i, amount)
        self.ledger.transfer(asset, owner, self.name, amount)
        self.ledger.mint(self.receipt_token(asset), owner, scaled, by=self.name)
        return scaled

    def withdraw(self, owner: str, asset: str, amount: float) -> float:
        """Burn receipt tokens worth `amount` underlying and pay it out of cash; returns the
        scaled amount burned (SupplyLogic.executeWithdraw)."""
        i = self._col(asset)
        amount = check_amount("amount", amount, allow_zero=False)
        token = self.receipt_token(asset)
        held = self.ledger.balance_of(owner, token)
        scaled = _take(held, self._scaled(i, amount), f"withdraw: {owner!r} holds {held!r} {token}")
        check_cash(self, asset, amount)
        self.ledger.burn(token, owner, scaled, by=self.name)
        self.ledger.transfer(asset, self.name, owner, amount)
        return scaled

    # -- positions --------------------------------------------------------------------------
    def open_position(self, owner: str) -> int:
        """A new, empty position of `owner`; returns its id."""
        check_holder("owner", owner)
        return self._book.open(owner)

    def open_positions(
        self, owners: Sequence[str], collateral_amounts: ArrayLike, debt_amounts: ArrayLike
    ) -> np.ndarray:
        """Open n positions at once (row k: `owners[k]` deposits collateral_amounts[k] and
        borrows debt_amounts[k], both (n x assets) underlying); returns their ids.

        Same rules as deposit_collateral then borrow on each row, checked vectorized
        (`validation.validate_open_positions`, `validation.check_owner_balances`): every
        row within its LTV, caps, cash and the owners' balances (summed per owner) - all
        before anything changes. Ledger moves are aggregated per owner and asset.
        """
        owners = np.asarray(owners, dtype=object).reshape(-1)
        shape = (len(owners), len(self.assets))
        coll = nonnegative_array("collateral_amounts", collateral_amounts)
        debt = nonnegative_array("debt_amounts", debt_amounts)
        if coll.shape != shape or debt.shape != shape:
            raise InvalidAmount(
                f"collateral_amounts, debt_amounts: must both have shape {shape}, got "
                f"{coll.shape} and {debt.shape}"
            )
        coll_total, debt_total = coll.sum(axis=0), debt.sum(axis=0)
        validate_open_positions(self, owners, coll, debt, coll_total, debt_total)
        names, inverse = np.unique(owners.astype(str), return_inverse=True)
        paid_in = sum_by(inverse, coll, len(names))
        check_owner_balances(self, names, paid_in)

        scaled = coll / self._liquidity_index
        pids = self._book.append(owners, scaled, debt / self._borrow_index)
        for k, i in np.argwhere(paid_in > 0):
            self.ledger.transfer(self.assets[i], str(names[k]), self.name, paid_in[k, i])
        for i in np.flatnonzero(coll_total > 0):
            token = self.receipt_token(self.assets[i])
            self.ledger.mint(token, self.escrow, scaled[:, i].sum(), by=self.name)
        borrowed = sum_by(inverse, debt, len(names))
        for k, i in np.argwhere(borrowed > 0):
            self.ledger.transfer(self.assets[i], self.name, str(names[k]), borrowed[k, i])
        return pids

    def deposit_collateral(self, pid: int, asset: str, amount: float) -> float:
        """Add collateral to a position, paid in underlying by its owner; returns the scaled
        receipt tokens credited (held by the escrow)."""
        pid, i = self._pid(pid), self._col(asset)
        amount = check_amount("amount", amount, allow_zero=False)
        check_usable(self, [i], [])
        check_supply_cap(self, i, amount)
        scaled = self._scaled(i, amount)
        self.ledger.transfer(asset, self._book.owner[pid], self.name, amount)
        self.ledger.mint(self.receipt_token(asset), self.escrow, scaled, by=self.name)
        self._book.add_collateral(pid, i, scaled)
        return scaled

    def withdraw_collateral(self, pid: int, asset: str, amount: float) -> float:
        """Pay collateral back to the position's owner; returns the scaled amount removed.

        ValidationLogic.validateHFAndLtv (`validation.validate_hf_and_ltv`): with debt, the
        health factor afterwards must stay >= 1, and a position holding zero-LTV collateral
        may only withdraw zero-LTV assets.
        """
        pid, i = self._pid(pid), self._col(asset)
        amount = check_amount("amount", amount, allow_zero=False)
        held = self._book.collateral_scaled[pid, i]
        scaled = _take(
            held,
            self._scaled(i, amount),
            f"withdraw_collateral: position {pid} holds {held!r} scaled {asset}",
        )
        check_cash(self, asset, amount)
        after = self._book.collateral_scaled[pid].copy()
        after[i] = held - scaled
        if self._book.debt_scaled[pid].any():
            validate_hf_and_ltv(self, pid, i, after)
        self._book.set_collateral(pid, i, after[i])
        token = self.receipt_token(asset)
        self.ledger.burn(token, self.escrow, self._from_escrow(token, scaled), by=self.name)
        self.ledger.transfer(asset, self.name, self._book.owner[pid], amount)
        return scaled

    def borrow(self, pid: int, asset: str, amount: float) -> float:
        """Lend `amount` of cash to the position's owner; returns the scaled debt added.

        ValidationLogic.validateBorrow (`validation.validate_borrow`): borrowing enabled,
        borrow cap, collateral with LTV > 0, health factor > 1 before, and debt + amount <=
        sum(collateral * LTV) in value. InsufficientLiquidity when cash < amount.
        """
        pid, i = self._pid(pid), self._col(asset)
        amount = check_amount("amount", amount, allow_zero=False)
        validate_borrow(self, pid, i, amount)
        scaled = amount / self._borrow_index[i]
        self._book.add_debt(pid, i, scaled)
        self.ledger.transfer(asset, self.name, self._book.owner[pid], amount)
        return float(scaled)

    def repay(self, pid: int, asset: str, amount: float, payer: str | None = None) -> float:
        """Repay up to `amount` of a position's debt (capped at the debt) from `payer`
        (default: the owner); returns what was repaid (BorrowLogic.executeRepay)."""
        pid, i = self._pid(pid), self._col(asset)
        amount = check_amount("amount", amount, allow_zero=False)
        payer = self._book.owner[pid] if payer is None else payer
        debt = float(self._book.debt_scaled[pid, i] * self._borrow_index[i])
        validate_repay(pid, asset, debt)
        repaid = min(amount, debt)
        self.ledger.transfer(asset, payer, self.name, repaid)
        self._reduce_debt(pid, i, repaid, debt)
        return repaid

    # -- liquidation --------------------------------------------------------------------------
    def quote_liquidation(
        self,
        pid: int,
        collateral_asset: str,
        debt_asset: str,
        debt_to_cover: float | None = None,
    ) -> LiquidationQuote:
        """What `liquidate` would repay and seize now (None: the most the close factor
        allows), changing nothing: see `protocols.lending.liquidation.quote_liquidation`."""
        return quote_liquidation(self, pid, collateral_asset, debt_asset, debt_to_cover)

    def liquidate(
        self,
        liquidator: str,
        pid: int,
        collateral_asset: str,
        debt_asset: str,
        debt_to_cover: float,
        receive_a_token: bool = False,
    ) -> LiquidationResult:
        """Repay part of an unhealthy position's debt for its collateral plus a bonus
        (LiquidationLogic.executeLiquidationCall): see
        `protocols.lending.liquidation.execute_liquidation_call` for the rules."""
        return execute_liquidation_call(
            self, liquidator, pid, collateral_asset, debt_asset, debt_to_cover, receive_a_token
        )

    # -- interest -----------------------------------------------------------------------------
    def accrue(self, dt_years: float) -> None:
        """Advance every reserve by `dt_years` (ReserveLogic.updateState, then the rates
        follow the new utilization as in updateInterestRates).

        Borrow index *= calculateCompoundedInterest(borrow rate) when there is debt;
        liquidity index *= calculateLinearInterest(supply rate); the treasury is minted
        RF x (increase of total debt) / NEW liquidity index receipt tokens (_accrueToTreasury).
        """
        dt = check_amount("dt_years", dt_years)
        supply = np.array([self.ledger.total_supply(self.receipt_token(a)) for a in self.assets])
        cash = np.array([self.ledger.balance_of(self.name, a) for a in self.assets])
        debt_scaled = self._book.debt_scaled.sum(axis=0)
        u = _utilization(cash, debt_scaled * self._borrow_index)
        borrow = np.array(
            [self.reserves[a].rate_model.borrow_rate(u[i]) for i, a in enumerate(self.assets)],
            dtype=float,
        )
        old_l, old_b = self._liquidity_index, self._borrow_index
        new_l = old_l * linear_interest(supply_rate(u, borrow, self._reserve_factor), dt)
        new_b = np.where(debt_scaled > 0, old_b * compounded_interest(borrow, dt), old_b)
        interest = debt_scaled * (new_b - old_b)
        to_treasury = np.where(new_l > 0, interest * self._reserve_factor, 0.0)
        surplus = interest - supply * (new_l - old_l) - to_treasury
        self._liquidity_index, self._borrow_index = new_l, new_b
        self._changes += 1
        for i, asset in enumerate(self.assets):
            self.interest_surplus[asset] += float(surplus[i])
            if to_treasury[i] > 0:
                self.ledger.mint(
                    self.receipt_token(asset),
                    self.treasury,
                    float(to_treasury[i] / new_l[i]),
                    by=self.name,
                )

    # -- internals --------------------------------------------------------------------------
    def _col(self, asset: str) -> int:
        try:
            return self._column[asset]
        except (KeyError, TypeError):
            raise UnknownReserve(
                f"asset: {asset!r} is not a reserve of {self.name} (reserves: {self.assets})"
            ) from None

    def _pid(self, pid: int) -> int:
        count = self._book.count
        if isinstance(pid, bool) or not isinstance(pid, Integral) or not 0 <= pid < count:
            raise UnknownPosition(f"pid: no position {pid!r} in {self.name} ({count} open)")
        return int(pid)

    def _prices(self) -> np.ndarray:
        """The oracles' answers per reserve, checked; read-only, shared by every read until
        an answer changes (a round's quotes, validations and health factors all read it)."""
        answers = tuple(self.oracles[a].price for a in self.assets)
        cached = self._checked_prices
        if cached is not None and cached[0] == answers:
            return cached[1]
        prices = np.array(answers, dtype=float)
        good = np.isfinite(prices) & (prices > 0)
        if not good.all():
            bad = np.flatnonzero(~good)
            asset, price = self.assets[bad[0]], prices[bad[0]]
            raise InvalidAmount(f"oracles[{asset!r}].price: must be finite and > 0, got {price}")
        prices.flags.writeable = False
        self._checked_prices = (answers, prices)
        return prices

    def _account(
        self, pid: int, prices: np.ndarray, collateral: np.ndarray | None = None
    ) -> tuple[float, float, float]:
        """(sum coll*price*LT, sum coll*price*LTV, sum debt*price) of one position
        (GenericLogic.calculateUserAccountData), optionally with other collateral."""
        book = self._book
        scaled = book.collateral_scaled[pid] if collateral is None else collateral
        value = scaled * self._liquidity_index * prices
        debt_value = book.debt_scaled[pid] @ (self._borrow_index * prices)
        return float(value @ self._lt), float(value @ self._ltv), float(debt_value)

    def _scaled(self, i: int, amount: float) -> float:
        index = self._liquidity_index[i]
        if index <= 0:
            raise LendingError(f"{self.assets[i]}: reserve wiped out by bad debt (index 0)")
        return float(amount / index)

    def _reduce_debt(self, pid: int, i: int, repaid: float, debt: float) -> None:
        remaining = self._book.debt_scaled[pid, i] - repaid / self._borrow_index[i]
        self._book.set_debt(pid, i, 0.0 if repaid >= debt else max(remaining, 0.0))

    def _from_escrow(self, token: str, scaled: float) -> float:
        """`scaled`, trimmed to the escrow balance: the running ledger sum and the book's
        column sum can differ by float rounding."""
        return min(float(scaled), self.ledger.balance_of(self.escrow, token))


def _utilization(cash: ArrayLike, debt: ArrayLike) -> np.ndarray:
    cash, debt = np.asarray(cash, dtype=float), np.asarray(debt, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(debt > 0, debt / (cash + debt), 0.0)


def _take(held: float, wanted: float, what: str) -> float:
    """`wanted`, or all of `held` when asking for it cost a few ulps; else refuse."""
    if wanted <= held:
        return float(wanted)
    if wanted <= held * (1.0 + DUST):
        return float(held)
    raise InsufficientBalance(f"{what}, cannot take {wanted!r}")
