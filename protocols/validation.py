"""Argument checks shared by every protocol: fail early, name the argument, change nothing."""

import math
from numbers import Real

from protocols.errors import InvalidAmount


def check_amount(name: str, value: float, *, allow_zero: bool = True) -> float:
    """Return `value` as a float if it is a finite, non-negative real number, else raise.

    Booleans and strings are rejected: they are almost always a caller's mistake.
    """
    kind = type(value)
    if kind is float and 0.0 < value < math.inf:  # the usual case, decided in one test
        return value
    # The exact-type test first: `isinstance(x, Real)` is an ABC check, and this function
    # guards every swap, transfer and liquidation.
    if kind is not float and kind is not int and (kind is bool or not isinstance(value, Real)):
        raise InvalidAmount(f"{name}: must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidAmount(f"{name}: must be finite, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidAmount(f"{name}: must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return value


def check_fraction(name: str, value: float, *, upper_open: bool = False) -> float:
    """Return `value` if it lies in [0, 1] (or [0, 1) with `upper_open`), else raise."""
    value = check_amount(name, value)
    if value > 1 or (upper_open and value == 1):
        raise InvalidAmount(f"{name}: must be {'< 1' if upper_open else '<= 1'}, got {value}")
    return value
