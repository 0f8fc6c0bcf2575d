"""Vector argument checks shared by the lending modules (the scalar ones live in
protocols.validation)."""

import numpy as np
from numpy.typing import ArrayLike

from protocols.errors import InvalidAmount


def nonnegative_array(name: str, value: ArrayLike) -> np.ndarray:
    """`value` as a float array if every element is finite and >= 0, else InvalidAmount."""
    a = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(a) & (a >= 0)):
        raise InvalidAmount(f"{name}: every element must be finite and >= 0, got {value!r}")
    return a
