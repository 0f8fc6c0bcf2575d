"""Interest-rate models and index growth of a lending market (Aave v3, Compound v2).

Rates are yearly fractions and every function accepts numpy arrays and broadcasts (a
scalar in gives a float out). Only variable-rate debt is modelled: Aave's stable-rate
borrowing (deprecated and disabled on every v3 market) is out of scope, so the "overall
borrow rate" of the strategy is simply the variable rate.
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from protocols.errors import InvalidAmount
from protocols.lending._checks import nonnegative_array
from protocols.validation import check_amount, check_fraction

#: MathUtils.SECONDS_PER_YEAR: 365 days, leap years ignored.
SECONDS_PER_YEAR = 365 * 24 * 3600


def kinked_borrow_rate(
    utilization: ArrayLike, base: float, slope1: float, slope2: float, optimal: float
) -> float | np.ndarray:
    """Aave v3 variable borrow rate with one kink at the optimal usage ratio U*.

    DefaultReserveInterestRateStrategy.calculateInterestRates:
    U <= U*: base + slope1 * U / U*;  U > U*: base + slope1 + slope2 * (U - U*) / (1 - U*).
    """
    u = _utilization(utilization)
    base, slope1, slope2 = _rates(base=base, slope1=slope1, slope2=slope2)
    optimal = _positive_fraction("optimal", optimal, upper_open=True)
    below = base + slope1 * u / optimal
    above = base + slope1 + slope2 * (u - optimal) / (1.0 - optimal)
    return _out(np.where(u > optimal, above, below))


def jump_rate(
    utilization: ArrayLike, base: float, multiplier: float, jump_multiplier: float, kink: float
) -> float | np.ndarray:
    """Compound v2 borrow rate (BaseJumpRateModelV2.getBorrowRateInternal), per year.

    U <= kink: base + multiplier * U;  U > kink: base + multiplier * kink +
    jump_multiplier * (U - kink). `multiplier` is the slope (multiplierPerBlock *
    blocksPerYear); note that the contract's constructor argument `multiplierPerYear` is the
    rate AT the kink, so `multiplier = multiplierPerYear / kink`. The kink lies in (0, 1]:
    updateJumpRateModelInternal divides by it (0 reverts), and a utilization never passes 1.
    """
    u = _utilization(utilization)
    base, multiplier, jump_multiplier = _rates(
        base=base, multiplier=multiplier, jump_multiplier=jump_multiplier
    )
    kink = _positive_fraction("kink", kink, upper_open=False)
    normal = base + multiplier * np.minimum(u, kink)
    return _out(normal + jump_multiplier * np.maximum(u - kink, 0.0))


def supply_rate(
    utilization: ArrayLike, borrow_rate: ArrayLike, reserve_factor: ArrayLike
) -> float | np.ndarray:
    """Rate earned by suppliers: borrow_rate * U * (1 - RF).

    Aave v3: liquidityRate = overallBorrowRate.rayMul(supplyUsageRatio).percentMul(1 - RF)
    (no unbacked/portal liquidity here); Compound v2 BaseJumpRateModelV2.getSupplyRate is
    the same product.
    """
    u = _utilization(utilization)
    rate = nonnegative_array("borrow_rate", borrow_rate)
    rf = np.asarray(reserve_factor, dtype=float)
    if not np.all((rf >= 0) & (rf <= 1)):
        raise InvalidAmount(f"reserve_factor: must lie in [0, 1], got {reserve_factor!r}")
    return _out(rate * u * (1.0 - rf))


def compounded_interest(rate: ArrayLike, dt_years: float) -> float | np.ndarray:
    """Borrow-index growth factor over `dt_years` (MathUtils.calculateCompoundedInterest).

    The contract's binomial expansion of (1 + r/SPY)^n to three terms, with n the elapsed
    seconds and x = r/SPY the per-second rate: 1 + n x + n(n-1)/2 x^2 + n(n-1)(n-2)/6 x^3
    (n-1, n-2 floored at 0 as in the contract). For r*dt = y this is about
    1 + y + y^2/2 + y^3/6, slightly below e^y: Aave's known under-charge.
    """
    rate = nonnegative_array("rate", rate)
    n = check_amount("dt_years", dt_years) * SECONDS_PER_YEAR
    x = rate / SECONDS_PER_YEAR
    n1, n2 = max(n - 1.0, 0.0), max(n - 2.0, 0.0)
    return _out(1.0 + n * x + n * n1 * x * x / 2.0 + n * n1 * n2 * x * x * x / 6.0)


def linear_interest(rate: ArrayLike, dt_years: float) -> float | np.ndarray:
    """Liquidity-index growth factor 1 + rate * dt (MathUtils.calculateLinearInterest)."""
    rate = nonnegative_array("rate", rate)
    return _out(1.0 + rate * check_amount("dt_years", dt_years))


class RateModel(Protocol):
    """What a reserve needs from its interest-rate strategy."""

    def borrow_rate(self, utilization: ArrayLike) -> float | np.ndarray: ...


@dataclass(frozen=True)
class KinkedRate:
    """Aave v3 DefaultReserveInterestRateStrategy parameters (yearly fractions)."""

    base: float
    slope1: float
    slope2: float
    optimal: float

    def __post_init__(self) -> None:
        _rates(base=self.base, slope1=self.slope1, slope2=self.slope2)
        _positive_fraction("optimal", self.optimal, upper_open=True)

    def borrow_rate(self, utilization: ArrayLike) -> float | np.ndarray:
        return kinked_borrow_rate(utilization, self.base, self.slope1, self.slope2, self.optimal)


@dataclass(frozen=True)
class JumpRate:
    """Compound v2 JumpRateModelV2 parameters, per year (`multiplier` is the slope)."""

    base: float
    multiplier: float
    jump_multiplier: float
    kink: float

    def __post_init__(self) -> None:
        _rates(base=self.base, multiplier=self.multiplier, jump_multiplier=self.jump_multiplier)
        _positive_fraction("kink", self.kink, upper_open=False)

    def borrow_rate(self, utilization: ArrayLike) -> float | np.ndarray:
        return jump_rate(utilization, self.base, self.multiplier, self.jump_multiplier, self.kink)


def _utilization(value: ArrayLike) -> np.ndarray:
    u = np.asarray(value, dtype=float)
    if not np.all((u >= 0) & (u <= 1)):  # also rejects nan
        raise InvalidAmount(f"utilization: must lie in [0, 1], got {value!r}")
    return u


def _rates(**rates: float) -> tuple[float, ...]:
    return tuple(check_amount(name, value) for name, value in rates.items())


def _positive_fraction(name: str, value: float, *, upper_open: bool) -> float:
    """A kink: in (0, 1) for Aave's U* (the rate divides by U* and by 1 - U*), (0, 1] for
    Compound's kink (it divides by the kink only)."""
    value = check_fraction(name, value, upper_open=upper_open)
    if value == 0:
        raise InvalidAmount(f"{name}: must be > 0, got {value}")
    return value


def _out(a: np.ndarray) -> float | np.ndarray:
    return a if a.ndim else float(a)
