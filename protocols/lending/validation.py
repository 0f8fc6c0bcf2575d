"""The checks that refuse a lending operation: Aave's ValidationLogic for `LendingMarket`.

Each `LendingMarket` operation coerces its own arguments (amounts, position ids, reserves)
and then calls these before it changes anything, as Aave's Pool calls ValidationLogic before
it touches storage; a refusal raises (protocols/lending/errors.py, or InsufficientBalance /
InsufficientLiquidity) and leaves the market as it was. Like a Solidity library handed the
Pool's reserve data, the functions take the market and read its private state (position
book, indices, risk parameters in force, prices); they change nothing. See `market` for the
token, sign and accounting conventions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from protocols.errors import InsufficientBalance, InsufficientLiquidity
from protocols.lending.errors import (
    CapExceeded,
    InsufficientCollateral,
    LendingError,
    NoDebt,
    ReserveDisabled,
)

#: The `LendingMarket` whose state these functions read: typed loosely because the market
#: links this library (as Aave's Pool links its libraries), never the other way round.
Market = Any


def check_holder(arg: str, holder: Any) -> None:
    """A ledger holder id: a non-empty string (the market's own name, its treasury, an owner)."""
    if not isinstance(holder, str) or not holder:
        raise LendingError(f"{arg}: must be a non-empty string, got {holder!r}")


def check_supply_cap(market: Market, i: int, amount: float) -> None:
    """ValidationLogic.validateSupply's cap (v3.1+): all claims on reserve `i`, treasury
    included, plus `amount` must stay <= the supply cap."""
    asset = market.assets[i]
    claims = market.total_supplied(asset)
    cap = market.reserves[asset].supply_cap
    if claims + amount > cap:
        raise CapExceeded(f"supply cap of {asset} is {float(cap)!r}: {float(claims)!r} supplied "
                          f"+ {float(amount)!r}")


def check_borrow_cap(market: Market, i: int, amount: float) -> None:
    """ValidationLogic.validateBorrow's cap: total debt of reserve `i` plus `amount` must stay
    <= the borrow cap. Without a cap (inf) nothing can exceed it, and the sum of every
    position's debt - the costly part of a borrow in a large book - is not taken."""
    asset = market.assets[i]
    cap = market.reserves[asset].borrow_cap
    if cap == math.inf:
        return
    debt = market.total_debt(asset)
    if debt + amount > cap:
        raise CapExceeded(f"borrow cap of {asset} is {float(cap)!r}: {float(debt)!r} borrowed "
                          f"+ {float(amount)!r}")


def check_cash(market: Market, asset: str, amount: float, incoming: float = 0.0) -> None:
    """The market's cash in `asset` (plus `incoming`, paid in by the same operation first)
    must cover `amount`, else InsufficientLiquidity. Aave has no ValidationLogic check for
    this: the transfer of underlying out of the aToken reverts the transaction instead."""
    cash = market.cash(asset)
    if cash + incoming < amount:
        raise InsufficientLiquidity(
            f"{market.name} holds {float(cash)!r} {asset} in cash, cannot pay out "
            f"{float(amount)!r} "
            f"(utilization {market.utilization(asset):.6f})"
        )


def check_usable(market: Market, collateral: Sequence[int], debt: Sequence[int]) -> None:
    """Refuse collateral in assets that cannot back a position (liquidation threshold in force
    0, cf. ValidationLogic.validateUseAsCollateral), debt in unborrowable ones
    (validateBorrow's BORROWING_NOT_ENABLED)."""
    for i in collateral:
        if market._lt[i] == 0:
            raise ReserveDisabled(f"asset: {market.assets[i]} is not usable as collateral")
    for i in debt:
        if not market.reserves[market.assets[i]].borrowable:
            raise ReserveDisabled(f"asset: borrowing {market.assets[i]} is disabled")


def validate_borrow(market: Market, pid: int, i: int, amount: float) -> None:
    """ValidationLogic.validateBorrow: borrowing enabled, borrow cap, cash, collateral with
    LTV > 0, health factor > 1 before, and debt + amount <= sum(collateral * LTV) in value."""
    asset = market.assets[i]
    check_usable(market, [], [i])
    check_borrow_cap(market, i, amount)
    check_cash(market, asset, amount)
    prices = market._prices()
    weighted, power, debt_value = market._account(pid, prices)
    if power <= 0:
        raise InsufficientCollateral(f"borrow: position {pid} has no collateral with LTV > 0")
    if not weighted > debt_value:
        raise InsufficientCollateral(
            f"borrow: position {pid} health factor {weighted / debt_value:.6f} is not > 1"
        )
    if debt_value + amount * prices[i] > power:
        raise InsufficientCollateral(
            f"borrow: amount {amount!r} {asset} would take position {pid}'s debt value to "
            f"{debt_value + amount * prices[i]!r}, above its borrowing power {power!r} (LTV)"
        )


def validate_hf_and_ltv(market: Market, pid: int, i: int, after: np.ndarray) -> None:
    """ValidationLogic.validateHFAndLtv, for a position with debt withdrawing collateral in
    reserve `i` down to the scaled collateral `after`: the health factor afterwards must stay
    >= 1, and a position holding zero-LTV collateral may only withdraw zero-LTV assets."""
    weighted, _, debt_value = market._account(pid, market._prices(), collateral=after)
    if weighted < debt_value:
        raise InsufficientCollateral(
            f"withdraw_collateral: position {pid} health factor would drop to "
            f"{weighted / debt_value:.6f} < 1"
        )
    zero_ltv = (after > 0) & (market._lt > 0) & (market._ltv == 0)
    if zero_ltv.any() and market._ltv[i] != 0:
        raise InsufficientCollateral(
            f"withdraw_collateral: position {pid} holds zero-LTV collateral "
            f"{market.assets[np.flatnonzero(zero_ltv)[0]]}; withdraw that first"
        )


def validate_repay(pid: int, asset: str, debt: float) -> None:
    """ValidationLogic.validateRepay's NO_DEBT_OF_SELECTED_TYPE: the position owes `asset`."""
    if debt == 0:
        raise NoDebt(f"repay: position {pid} owes no {asset}")


def validate_open_positions(
    market: Market,
    owners: np.ndarray,
    coll: np.ndarray,
    debt: np.ndarray,
    coll_total: np.ndarray,
    debt_total: np.ndarray,
) -> None:
    """validateSupply then validateBorrow for every row of `LendingMarket.open_positions`,
    vectorized: owners are holders, collateral usable and debt borrowable, every row's debt
    value within its borrowing power (collateral x LTV), and per asset the column totals
    (`coll_total`, `debt_total`) within the caps and the cash (collateral paid in counts)."""
    for owner in owners:
        check_holder("owners", owner)
    check_usable(market, np.flatnonzero(coll_total > 0), np.flatnonzero(debt_total > 0))
    prices = market._prices()
    power, debt_value = coll @ (prices * market._ltv), debt @ prices
    short = np.flatnonzero(debt_value > power)
    if short.size:
        k = short[0]
        raise InsufficientCollateral(
            f"debt_amounts: row {k} borrows {debt_value[k]!r} of value, above its "
            f"borrowing power (collateral x LTV) {power[k]!r}"
        )
    for i, asset in enumerate(market.assets):
        if coll_total[i] > 0:
            check_supply_cap(market, i, coll_total[i])
            market._scaled(i, coll_total[i])  # refuses a wiped-out reserve
        if debt_total[i] > 0:
            check_borrow_cap(market, i, debt_total[i])
            check_cash(market, asset, debt_total[i], incoming=coll_total[i])


def check_owner_balances(market: Market, names: np.ndarray, paid_in: np.ndarray) -> None:
    """Each owner `names[k]` holds the underlying its new positions pay in (`paid_in[k]`, per
    asset). No ValidationLogic counterpart (in Aave the transferFrom reverts); checked first
    here because `open_positions` changes the book before it moves any token."""
    for k, i in np.argwhere(paid_in > 0):
        held = market.ledger.balance_of(str(names[k]), market.assets[i])
        if held < paid_in[k, i]:
            raise InsufficientBalance(
                f"collateral_amounts: {names[k]!r} holds {held!r} {market.assets[i]}, "
                f"its positions need {paid_in[k, i]!r}"
            )
