"""Health factors of many positions at once: one matrix-vector product per side.

GenericLogic.calculateUserAccountData: HF = sum_a(coll_a * price_a * LT_a) /
sum_a(debt_a * price_a), and type(uint256).max (here inf) when the debt is zero. An asset
that is not usable as collateral simply has LT 0.
"""

import math

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
