"""Rate models and index growth against hand numbers and Aave's own integer (ray) math."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import InvalidAmount
from protocols.lending import (
    SECONDS_PER_YEAR,
    JumpRate,
    KinkedRate,
    compounded_interest,
    jump_rate,
    kinked_borrow_rate,
    linear_interest,
    supply_rate,
)

# Aave v3 Ethereum WETH strategy (data/README section 2): U* 0.80, base 0, slope1 0.028, slope2 0.80.
WETH = {"base": 0.0, "slope1": 0.028, "slope2": 0.80, "optimal": 0.80}
# Compound v2 cUSDC JumpRateModelV2 constructor: base 0, multiplierPerYear 0.1 (rate AT the
# kink), jumpMultiplierPerYear 1.09, kink 0.8 -> slope multiplier = 0.1 / 0.8 = 0.125.
CUSDC = {"base": 0.0, "multiplier": 0.125, "jump_multiplier": 1.09, "kink": 0.8}

RAY = 10**27


def ray_mul(a: int, b: int) -> int:
    """WadRayMath.rayMul: half-up rounding."""
    return (a * b + RAY // 2) // RAY


def ray_compounded(rate_ray: int, seconds: int) -> int:
    """MathUtils.calculateCompoundedInterest, transcribed in integer arithmetic."""
    if seconds == 0:
        return RAY
    exp_minus_one = seconds - 1
    exp_minus_two = seconds - 2 if seconds > 2 else 0
    base_power_two = ray_mul(rate_ray, rate_ray) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    base_power_three = ray_mul(base_power_two, rate_ray) // SECONDS_PER_YEAR
    second = seconds * exp_minus_one * base_power_two // 2
    third = seconds * exp_minus_one * exp_minus_two * base_power_three // 6
    return RAY + rate_ray * seconds // SECONDS_PER_YEAR + second + third


@pytest.mark.parametrize(
    ("u", "expected"),
    [
        (0.0, 0.0),
        (0.4, 0.014),  # 0.028 * 0.4 / 0.8
        (0.8, 0.028),  # at the kink: base + slope1
        (0.9, 0.428),  # 0.028 + 0.80 * (0.9 - 0.8) / (1 - 0.8) = 0.028 + 0.4
        (1.0, 0.828),  # 0.028 + 0.80
    ],
)
def test_kinked_rate_weth_by_hand(u, expected):
    assert kinked_borrow_rate(u, **WETH) == pytest.approx(expected, abs=1e-15)
    assert KinkedRate(**WETH).borrow_rate(u) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    ("u", "expected"),
    [
        (0.0, 0.0),
        (0.8, 0.1),  # 0.125 * 0.8: the constructor's multiplierPerYear
        (0.9, 0.209),  # 0.1 + 1.09 * (0.9 - 0.8)
    ],
)
def test_jump_rate_cusdc_by_hand(u, expected):
    assert jump_rate(u, **CUSDC) == pytest.approx(expected, abs=1e-15)
    assert JumpRate(**CUSDC).borrow_rate(u) == pytest.approx(expected, abs=1e-15)


def test_jump_rate_kink_of_one_never_jumps():
    # kink = 1 (a 1e18 mantissa) is a valid JumpRateModelV2: U <= 1 stays on the first slope,
    # 0.01 + 0.125 * 0.9 = 0.1225 at U = 0.9, 0.135 at U = 1, whatever the jump multiplier.
    model = JumpRate(base=0.01, multiplier=0.125, jump_multiplier=5.0, kink=1.0)
    assert model.borrow_rate(0.9) == pytest.approx(0.1225, abs=1e-15)
    assert model.borrow_rate(1.0) == pytest.approx(0.135, abs=1e-15)


def test_supply_rate_by_hand():
    # WETH at U = 0.9: 0.428 * 0.9 * (1 - 0.15) = 0.32742
    assert supply_rate(0.9, 0.428, 0.15) == pytest.approx(0.32742, abs=1e-15)
    assert supply_rate(0.0, 0.3, 0.15) == 0.0


def test_rates_broadcast_over_arrays():
    u = np.array([0.0, 0.8, 0.9])
    assert np.allclose(kinked_borrow_rate(u, **WETH), [0.0, 0.028, 0.428])
    assert np.allclose(jump_rate(u, **CUSDC), [0.0, 0.1, 0.209])
    assert np.allclose(
        supply_rate(u, [0.0, 0.028, 0.428], [0.1, 0.1, 0.15]), [0.0, 0.028 * 0.8 * 0.9, 0.32742]
    )
    assert isinstance(kinked_borrow_rate(0.5, **WETH), float)


@pytest.mark.parametrize(
    ("rate", "seconds"),
    [(0.1, 3600), (0.8, 86400), (0.03, 1), (0.03, 2), (0.5, 12), (3.0, 7 * 86400)],
)
def test_compounded_interest_matches_the_contract(rate, seconds):
    # The float version of the same 3-term binomial the contract evaluates in ray integers;
    # up to a week, the contract's integer truncation stays below 1e-10.
    expected = ray_compounded(round(rate * RAY), seconds) / RAY
    got = compounded_interest(rate, seconds / SECONDS_PER_YEAR)
    assert got == pytest.approx(expected, rel=1e-10)


def test_compounded_interest_over_a_year_differs_only_by_integer_truncation():
    # basePowerThree = rayMul(r^2/SPY^2, r) / SPY truncates to an integer number of ray
    # units (3 instead of 3.98 at 5 %), so over a whole year the contract's third term is
    # 25 % short: 1.0512657 on-chain vs 1.0512708 in floats; the float is the exact formula.
    y = 0.05
    exact = 1 + y + y * y / 2 * (1 - 1 / SECONDS_PER_YEAR) + y**3 / 6 * (1 - 1 / SECONDS_PER_YEAR)
    assert compounded_interest(y, 1.0) == pytest.approx(exact, rel=1e-9)
    assert ray_compounded(round(y * RAY), SECONDS_PER_YEAR) / RAY == pytest.approx(exact, rel=1e-5)


def test_compounded_interest_hour_by_hand():
    # r = 10 %, one hour: y = 0.1 / 8760; n = 3600 s;
    # 1 + y + y^2/2 * (3599/3600) + y^3/6 * (3599 * 3598 / 3600^2)
    y = 0.1 / 8760
    expected = 1 + y + y * y / 2 * 3599 / 3600 + y**3 / 6 * 3599 * 3598 / 3600**2
    assert compounded_interest(0.1, 1 / 8760) == pytest.approx(expected, rel=1e-15)
    assert compounded_interest(0.1, 0.0) == 1.0


def test_hourly_compounding_over_a_year_is_exp():
    # An hourly 3-term binomial is (1 + r/SPY)^3600 up to a 4th term ~ (r/8760)^4/24, so
    # 8760 of them are (1 + r/SPY)^SPY = e^r * (1 - r^2 / (2 SPY) + ...): 1e-8 below e^r at 80 %.
    r = np.array([0.05, 0.8])
    year = compounded_interest(r, 1 / 8760) ** 8760
    assert np.allclose(year, np.exp(SECONDS_PER_YEAR * np.log1p(r / SECONDS_PER_YEAR)), rtol=1e-11)
    assert np.allclose(year, np.exp(r), rtol=2e-8, atol=0)


def test_linear_interest_by_hand():
    assert linear_interest(0.0224, 1.0) == pytest.approx(1.0224)
    assert linear_interest(0.0224, 0.5) == pytest.approx(1.0112)


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: kinked_borrow_rate(1.2, **WETH), "utilization"),
        (lambda: kinked_borrow_rate(-0.1, **WETH), "utilization"),
        (lambda: kinked_borrow_rate(math.nan, **WETH), "utilization"),
        (lambda: kinked_borrow_rate(0.5, 0.0, -0.1, 0.8, 0.8), "slope1"),
        (lambda: kinked_borrow_rate(0.5, 0.0, 0.1, 0.8, 1.0), "optimal"),
        (lambda: kinked_borrow_rate(0.5, 0.0, 0.1, 0.8, 0.0), "optimal"),
        (lambda: jump_rate(0.5, 0.0, 0.1, 1.0, 1.5), "kink"),
        (lambda: jump_rate(0.5, 0.0, 0.1, 1.0, 0.0), "kink: must be > 0"),
        (lambda: jump_rate(0.5, 0.0, 0.1, 1.0, -0.2), "kink"),
        (lambda: supply_rate(0.5, 0.1, 1.5), "reserve_factor"),
        (lambda: supply_rate(0.5, -0.1, 0.1), "borrow_rate"),
        (lambda: compounded_interest(0.1, -1.0), "dt_years"),
        (lambda: compounded_interest(math.inf, 1.0), "rate"),
        (lambda: KinkedRate(base=0.0, slope1=0.1, slope2=0.5, optimal=1.0), "optimal"),
        (lambda: JumpRate(base=-0.01, multiplier=0.1, jump_multiplier=1.0, kink=0.8), "base"),
        (lambda: JumpRate(base=0.0, multiplier=0.1, jump_multiplier=1.0, kink=0.0), "kink: must"),
        (lambda: JumpRate(base=0.0, multiplier=0.1, jump_multiplier=1.0, kink=1.01), "kink: must"),
    ],
)
def test_bad_inputs_are_refused_by_name(call, word):
    with pytest.raises(InvalidAmount, match=word):
        call()


@settings(max_examples=100, deadline=None)
@given(
    u=st.lists(st.floats(0, 1), min_size=2, max_size=2),
    base=st.floats(0, 0.1),
    slope1=st.floats(0, 0.5),
    slope2=st.floats(0, 3),
    optimal=st.floats(0.01, 0.99),
)
def test_kinked_rate_is_monotone_and_continuous(u, base, slope1, slope2, optimal):
    lo, hi = sorted(u)
    assert (
        kinked_borrow_rate(lo, base, slope1, slope2, optimal)
        <= kinked_borrow_rate(hi, base, slope1, slope2, optimal) + 1e-15
    )
    at_kink = kinked_borrow_rate(optimal, base, slope1, slope2, optimal)
    assert at_kink == pytest.approx(base + slope1, abs=1e-12)
    above = kinked_borrow_rate(min(optimal + 1e-9, 1.0), base, slope1, slope2, optimal)
    assert above - at_kink <= 1e-9 * slope2 / (1 - optimal) + 1e-12
