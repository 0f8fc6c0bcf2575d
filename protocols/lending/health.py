"""Health factors and shortfalls of many positions at once: one matrix-vector product per side.

GenericLogic.calculateUserAccountData: HF = sum_a(coll_a * price_a * LT_a) /
sum_a(debt_a * price_a), and type(uint256).max (here inf) when the debt is zero. An asset
that is not usable as collateral simply has LT 0.

Shortfall (`shortfalls`, `market_shortfall`): what a position's debt exceeds ALL its
collateral by, max(0, debt value - collateral value) - the debt that no liquidation can
recover any more, whether or not anyone has liquidated it yet. This is the standard
"insolvent amount" of DeFi risk monitoring: Gauntlet's risk dashboards call an account
insolvent when the total value of its debt exceeds the total value of its collateral and
sum debt minus collateral over the insolvent accounts (their Value at Risk is a quantile of
that sum; risk.gauntlet.network/faq), and Risk DAO's bad-debt dashboard adds up the same
per-account excess of debt over collateral, valued at market prices rather than the lending
platform's own price feed (Risk DAO, "Introducing the Bad Debt Dashboard", 2022). So here
too: collateral at full value (no liquidation threshold), interest indices applied, and the
prices are the caller's - off-chain prices, so that a frozen or lagging oracle cannot hide
an insolvent book.
"""

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from protocols.errors import InvalidAmount
from protocols.lending._checks import nonnegative_array


def health_factor(
    collateral: ArrayLike, debt: ArrayLike, prices: ArrayLike, liquidation_thresholds: ArrayLike
) -> float | np.ndarray:
    """HF of each position: `collateral`/`debt` are (positions x assets) (or (assets,))
    underlying amounts, `prices` and `liquidation_thresholds` are (assets,)."""
    collateral = nonnegative_array("collateral", collateral)
    debt = nonnegative_array("debt", debt)
    prices = nonnegative_array("prices", prices)
    lts = nonnegative_array("liquidation_thresholds", liquidation_thresholds)
    if np.any(lts > 1):
        raise InvalidAmount(f"liquidation_thresholds: must be <= 1, got {liquidation_thresholds!r}")
    hf = ratio_or_inf(collateral @ (prices * lts), debt @ prices)
    return hf if np.ndim(hf) else float(hf)


def ratio_or_inf(
    weighted_collateral: np.ndarray | float, debt_value: np.ndarray | float
) -> np.ndarray | float:
    """weighted_collateral / debt_value, inf where there is no debt (no numpy warning); for
    two floats (one position) a float, without the array machinery."""
    if isinstance(weighted_collateral, float) and isinstance(debt_value, float):
        return weighted_collateral / debt_value if debt_value > 0 else math.inf
    weighted_collateral = np.asarray(weighted_collateral, dtype=float)
    debt_value = np.asarray(debt_value, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(debt_value > 0, weighted_collateral / debt_value, np.inf)


def shortfalls(
    collateral: ArrayLike, debt: ArrayLike, prices: ArrayLike
) -> float | np.ndarray:
    """max(0, debt value - collateral value) of each position (module doc): `collateral`
    and `debt` are (positions x assets) (or (assets,)) underlying amounts, interest
    included; `prices` (assets,) in USD. Collateral counts at full value."""
    collateral = nonnegative_array("collateral", collateral)
    debt = nonnegative_array("debt", debt)
    prices = nonnegative_array("prices", prices)
    gap = np.maximum(debt @ prices - collateral @ prices, 0.0)
    return gap if gap.ndim else float(gap)


def market_shortfall(market: Any, prices: Mapping[str, float]) -> float:
    """Total shortfall of a lending market's book (module doc) at `prices` (USD per unit of
    each of `market.assets`; the caller's off-chain prices, never the market's oracles)."""
    missing = [a for a in market.assets if a not in prices]
    if missing:
        raise InvalidAmount(f"prices: no price for {missing[0]!r} of market {market.name}")
    p = nonnegative_array("prices", [prices[a] for a in market.assets])
    collateral, debt = position_values(market, p)
    return float(np.maximum(debt - collateral, 0.0).sum())


def position_values(
    market: Any, prices: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Collateral and debt value of every position of `market` (or of `rows`) at `prices`
    (market.assets order): scaled balances times the market's indices, as AToken /
    VariableDebtToken balanceOf - one matrix-vector product per side."""
    liquidity = np.array([market.exchange_rate(a) for a in market.assets])
    borrow = np.array([market.borrow_index(a) for a in market.assets])
    collateral, debt = market.collateral_scaled, market.debt_scaled
    if rows is not None:
        collateral, debt = collateral[rows], debt[rows]
    return collateral @ (liquidity * prices), debt @ (borrow * prices)
