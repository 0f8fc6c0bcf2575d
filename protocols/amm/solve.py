"""Root finding for trade sizes: the largest amount at which a decreasing marginal condition
still holds, found by Brent's method and never past the paying side."""

from __future__ import annotations

from collections.abc import Callable

from scipy.optimize import brentq

#: Brent's relative tolerance on the amount: a profit is flat at its maximum, so this leaves
#: ~1e-14 of it on the table, and each digit less saves an evaluation or two.
AMOUNT_RTOL = 1e-7


def root_from_below(excess: Callable[[float], float], upper: float) -> float:
    """Largest evaluated x with excess(x) >= 0, for `excess` decreasing on [0, upper] from
    >= 0 to < 0: Brent's method, keeping the bracket end on the paying side (so the amount
    returned is one the pool can fill)."""
    paying = 0.0

    def tracked(x: float) -> float:
        nonlocal paying
        value = excess(x)
        if value >= 0 and x > paying:
            paying = x
        return value

    brentq(tracked, 0.0, upper, xtol=upper * 1e-15, rtol=AMOUNT_RTOL)
    return paying
