"""check_amount: the guard on every swap, transfer and liquidation."""

from fractions import Fraction

import numpy as np
import pytest

from protocols.errors import InvalidAmount
from protocols.validation import check_amount, check_fraction


@pytest.mark.parametrize("value", [True, False, "1", None, [1.0], complex(1, 0)])
def test_non_numbers_are_refused_by_name(value):
    with pytest.raises(InvalidAmount, match="amount: must be a number"):
        check_amount("amount", value)


@pytest.mark.parametrize("value,expected", [(3, 3.0), (2.5, 2.5), (np.float64(1.5), 1.5),
                                            (np.int64(7), 7.0), (Fraction(1, 4), 0.25)])
def test_real_numbers_become_floats(value, expected):
    out = check_amount("amount", value)
    assert type(out) is float and out == expected


@pytest.mark.parametrize("value,reason", [(-1.0, ">= 0"), (float("nan"), "finite"),
                                          (float("inf"), "finite"), (-0.5, ">= 0")])
def test_negative_and_non_finite_amounts_are_refused(value, reason):
    with pytest.raises(InvalidAmount, match=reason):
        check_amount("amount", value)


def test_zero_and_fractions():
    assert check_amount("a", 0) == 0.0
    with pytest.raises(InvalidAmount, match="> 0"):
        check_amount("a", 0.0, allow_zero=False)
    assert check_fraction("f", 1.0) == 1.0
    with pytest.raises(InvalidAmount, match="< 1"):
        check_fraction("f", 1.0, upper_open=True)
