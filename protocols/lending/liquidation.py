"""Liquidation of an unhealthy position: Aave's LiquidationLogic for `LendingMarket`.

`LendingMarket.liquidate` delegates to `execute_liquidation_call`, and
`LendingMarket.quote_liquidation` to `quote_liquidation` (the same checks and amounts,
nothing changed). Like a Solidity library working on the Pool's storage, these functions
read and change the market's private state (its position book and indices) and reuse its
checks and the cash check of `validation`; see `market` for the token, sign and accounting
conventions.

Bad debt: when a liquidation leaves a position with debt but no collateral in any asset, the
remaining debt is bad debt (Aave v3.3 calls it a "deficit"). It is recorded cumulatively in
`bad_debt[asset]` and in the LiquidationResult, removed from the book, and socialized AT
ONCE across that asset's suppliers: the liquidity index is cut by deficit / (receipt supply
* index), so every holder of the receipt token - other protocols and the collateral of other
positions included - redeems less. (Aave v3.3 instead parks the deficit until governance
covers it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from protocols.errors import InsufficientBalance
from protocols.lending.errors import NotLiquidatable
from protocols.lending.health import ratio_or_inf
from protocols.lending.validation import check_cash
from protocols.validation import check_amount

#: The `LendingMarket` whose state these functions work on: typed loosely because the market
#: links this library (as Aave's Pool links its libraries), never the other way round.
Market = Any


@dataclass(frozen=True)
class LiquidationResult:
    """What one liquidation did, in underlying units. `collateral_seized` is everything taken
    from the position, protocol fee included; the liquidator got the rest."""

    pid: int
    collateral_asset: str
    debt_asset: str
    health_factor: float
    debt_repaid: float
    collateral_seized: float
    protocol_fee: float
    bad_debt: dict[str, float] = field(default_factory=dict)

    @property
    def liquidator_collateral(self) -> float:
        return self.collateral_seized - self.protocol_fee


@dataclass(frozen=True)
class LiquidationQuote:
    """What a liquidation would do now (`quote_liquidation`), in underlying units: the
    position's health factor, the cover after the close factor, the amounts of
    `liquidation_amounts`, and the collateral balance and debt they were taken from."""

    pid: int
    health_factor: float
    debt_to_cover: float
    debt_repaid: float
    collateral_seized: float
    protocol_fee: float
    collateral_balance: float
    debt: float

    @property
    def liquidator_collateral(self) -> float:
        return self.collateral_seized - self.protocol_fee


def liquidation_amounts(
    debt_to_cover: ArrayLike,
    collateral_balance: ArrayLike,
    debt_price: ArrayLike,
    collateral_price: ArrayLike,
    liquidation_bonus: float,
    protocol_fee: float,
) -> tuple[Any, Any, Any]:
    """(collateral seized, debt repaid, protocol fee) of a liquidation, vectorized.

    LiquidationLogic._calculateAvailableCollateralToLiquidate (v3.0-v3.2): seize
    debt * debt_price / collateral_price * (1 + bonus); if that exceeds the balance, seize
    the whole balance and repay only balance * collateral_price / debt_price / (1 + bonus).
    The protocol fee is `protocol_fee` of the bonus part, seized - seized / (1 + bonus).
    `debt_to_cover` must already be capped by the close factor.
    """
    grow = 1.0 + liquidation_bonus
    if all(isinstance(x, float) for x in (debt_to_cover, collateral_balance, debt_price,
                                          collateral_price)):  # one position: plain floats
        wanted = debt_to_cover * debt_price / collateral_price * grow
        if wanted > collateral_balance:
            seized = collateral_balance
            repaid = collateral_balance * collateral_price / debt_price / grow
        else:
            seized, repaid = wanted, debt_to_cover
        return seized, repaid, (seized - seized / grow) * protocol_fee
    wanted = np.asarray(debt_to_cover) * debt_price / collateral_price * grow
    capped = wanted > collateral_balance
    seized = np.where(capped, collateral_balance, wanted)
    repaid = np.where(
        capped, np.asarray(collateral_balance) * collateral_price / debt_price / grow, debt_to_cover
    )
    fee = (seized - seized / grow) * protocol_fee
    return seized, repaid, fee


def quote_liquidation(
    market: Market,
    pid: int,
    collateral_asset: str,
    debt_asset: str,
    debt_to_cover: float | None = None,
) -> LiquidationQuote:
    """The amounts `execute_liquidation_call` would use now for `debt_to_cover` (None: as
    much as the close factor allows), changing nothing; NotLiquidatable where it would
    refuse the position. A liquidator prices its sale with it before it liquidates.

    LiquidationLogic.executeLiquidationCall (v3.0-v3.2): only when HF < 1; the close factor
    is `close_factor` while HF > `close_factor_hf_threshold`, else 1 (_calculateDebt);
    amounts by `liquidation_amounts`.
    """
    pid, c, d = market._pid(pid), market._col(collateral_asset), market._col(debt_asset)
    if debt_to_cover is not None:
        debt_to_cover = check_amount("debt_to_cover", debt_to_cover, allow_zero=False)
    prices = market._prices()
    weighted, _, debt_value = market._account(pid, prices)
    hf = float(ratio_or_inf(weighted, debt_value))
    if not hf < 1.0:
        raise NotLiquidatable(f"liquidate: position {pid} health factor {hf!r} is not < 1")
    balance = float(market._book.collateral_scaled[pid, c] * market._liquidity_index[c])
    debt = float(market._book.debt_scaled[pid, d] * market._borrow_index[d])
    if balance == 0:
        raise NotLiquidatable(f"liquidate: position {pid} has no {collateral_asset} collateral")
    if debt == 0:
        raise NotLiquidatable(f"liquidate: position {pid} owes no {debt_asset}")
    close_factor = market.close_factor if hf > market.close_factor_hf_threshold else 1.0
    cover = debt * close_factor
    if debt_to_cover is not None:
        cover = min(debt_to_cover, cover)
    params = market.reserves[collateral_asset]
    seized, repaid, fee = (
        float(x)
        for x in liquidation_amounts(
            cover,
            balance,
            prices[d],
            prices[c],
            params.liquidation_bonus,
            params.liquidation_protocol_fee,
        )
    )
    return LiquidationQuote(pid, hf, cover, repaid, seized, fee, balance, debt)


def execute_liquidation_call(
    market: Market,
    liquidator: str,
    pid: int,
    collateral_asset: str,
    debt_asset: str,
    debt_to_cover: float,
    receive_a_token: bool = False,
) -> LiquidationResult:
    """Repay part of an unhealthy position's debt for its collateral plus a bonus.

    LiquidationLogic.executeLiquidationCall (v3.0-v3.2): the checks and amounts of
    `quote_liquidation` (HF < 1, close factor, `liquidation_amounts`); the protocol fee
    goes to the treasury as receipt tokens; the liquidator receives the rest of the seized
    collateral as underlying (needs cash, paid before the repayment comes in) or, with
    `receive_a_token`, as receipt tokens. A position left with debt and no collateral has
    its debt written off and socialized (module doc).
    """
    pid, c, d = market._pid(pid), market._col(collateral_asset), market._col(debt_asset)
    quote = quote_liquidation(
        market, pid, collateral_asset, debt_asset,
        check_amount("debt_to_cover", debt_to_cover, allow_zero=False),
    )  # fmt: skip
    hf, balance, debt = quote.health_factor, quote.collateral_balance, quote.debt
    seized, repaid, fee = quote.collateral_seized, quote.debt_repaid, quote.protocol_fee
    payout = seized - fee
    if not receive_a_token:
        check_cash(market, collateral_asset, payout)
    incoming = payout if (c == d and not receive_a_token) else 0.0
    held = market.ledger.balance_of(liquidator, debt_asset)
    if held + incoming < repaid:
        raise InsufficientBalance(
            f"liquidate: {liquidator!r} holds {held!r} {debt_asset}, needs {repaid!r}"
        )

    index = market._liquidity_index[c]
    scaled_balance = market._book.collateral_scaled[pid, c]
    scaled_seized = scaled_balance if seized == balance else seized / index
    market._book.set_collateral(pid, c, max(scaled_balance - scaled_seized, 0.0))
    market._reduce_debt(pid, d, repaid, debt)
    token = market.receipt_token(collateral_asset)
    scaled_fee = fee / index
    scaled_out = market._from_escrow(token, scaled_seized - scaled_fee)
    if receive_a_token:
        market.ledger.transfer(token, market.escrow, liquidator, scaled_out)
    else:
        market.ledger.burn(token, market.escrow, scaled_out, by=market.name)
        market.ledger.transfer(collateral_asset, market.name, liquidator, payout)
    if scaled_fee > 0:
        scaled_fee = market._from_escrow(token, scaled_fee)
        market.ledger.transfer(token, market.escrow, market.treasury, scaled_fee)
    market.ledger.transfer(debt_asset, liquidator, market.name, repaid)
    return LiquidationResult(
        pid, collateral_asset, debt_asset, hf, repaid, seized, fee, _write_off(market, pid)
    )


def _write_off(market: Market, pid: int) -> dict[str, float]:
    """Bad debt of a position with no collateral left: book it, socialize it."""
    book = market._book
    if book.collateral_scaled[pid].any() or not book.debt_scaled[pid].any():
        return {}
    written_off = {}
    for i in np.flatnonzero(book.debt_scaled[pid]):
        asset = market.assets[i]
        deficit = float(book.debt_scaled[pid, i] * market._borrow_index[i])
        book.set_debt(pid, i, 0.0)
        claims = market.total_supplied(asset)
        cut = min(deficit, claims)
        if claims > 0:
            market._liquidity_index[i] *= 1.0 - cut / claims
            market._changes += 1
        market.interest_surplus[asset] -= deficit - cut
        market.bad_debt[asset] += deficit
        written_off[asset] = deficit
    return written_off
