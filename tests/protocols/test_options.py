import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import InvalidAmount
from protocols.options import black_scholes, implied_vol, strike_for_delta

spots = st.floats(1.0, 10_000.0)
moneyness = st.floats(0.5, 2.0)
rates = st.floats(-0.02, 0.15)
vols = st.floats(0.05, 2.0)
times = st.floats(1.0 / 365, 3.0)


# -- textbook values -------------------------------------------------------------------------
def test_hull_example_prices():
    # Hull ch. 15 example: S=42, K=40, r=0.1, sigma=0.2, T=0.5
    # d1 = (ln(42/40) + (0.1 + 0.02) * 0.5) / (0.2 * sqrt(0.5)) = (0.04879 + 0.06) / 0.14142
    #    = 0.7693, d2 = 0.6278; K e^-rT = 40 e^-0.05 = 38.049
    # c = 42 N(0.7693) - 38.049 N(0.6278) = 4.76, p = 38.049 N(-0.6278) - 42 N(-0.7693) = 0.81
    call = black_scholes(42.0, 40.0, 0.1, 0.2, 0.5)
    put = black_scholes(42.0, 40.0, 0.1, 0.2, 0.5, is_call=False)
    assert round(call.price, 2) == 4.76
    assert round(put.price, 2) == 0.81
    assert call.delta == pytest.approx(0.7791, abs=1e-4)  # N(0.7693)
    assert isinstance(call.price, float)


def test_hull_greeks_example():
    # Hull ch. 19 worked examples: S=49, K=50, r=0.05, sigma=0.2, T=20 weeks = 0.3846 y
    # d1 = (ln(49/50) + 0.07 * 0.3846) / (0.2 * 0.6202) = 0.0542
    # delta = N(0.0542) = 0.522, gamma = N'(d1)/(S sigma sqrt T) = 0.3984/(49*0.124) = 0.066,
    # vega = S sqrt T N'(d1) = 49 * 0.6202 * 0.3984 = 12.1, theta = -4.31 per year,
    # price 2.40 (Hull's $240,000 for 100,000 calls); put delta = N(d1) - 1 = -0.478
    call = black_scholes(49.0, 50.0, 0.05, 0.2, 20 / 52)
    assert round(call.price, 2) == 2.40
    assert round(call.delta, 3) == 0.522
    assert round(call.gamma, 3) == 0.066
    assert round(call.vega, 1) == 12.1
    assert round(call.theta, 2) == -4.31
    put = black_scholes(49.0, 50.0, 0.05, 0.2, 20 / 52, is_call=False)
    assert round(put.delta, 3) == -0.478
    assert put.gamma == call.gamma and put.vega == call.vega


def test_expiry_gives_intrinsic_value_and_step_delta():
    spot = np.array([90.0, 100.0, 110.0])
    call = black_scholes(spot, 100.0, 0.05, 0.5, 0.0)
    put = black_scholes(spot, 100.0, 0.05, 0.5, 0.0, is_call=False)
    np.testing.assert_array_equal(call.price, [0.0, 0.0, 10.0])
    np.testing.assert_array_equal(put.price, [10.0, 0.0, 0.0])
    np.testing.assert_array_equal(call.delta, [0.0, 0.0, 1.0])  # at the money: 0
    np.testing.assert_array_equal(put.delta, [-1.0, 0.0, 0.0])
    for greeks in (call, put):
        for g in (greeks.gamma, greeks.vega, greeks.theta):
            np.testing.assert_array_equal(g, 0.0)


def test_arrays_broadcast_including_is_call():
    g = black_scholes(np.array([[42.0], [49.0]]), 40.0, 0.1, 0.2, [0.5, 0.0], [True, False])
    assert g.price.shape == (2, 2)
    assert g.price[0, 0] == black_scholes(42.0, 40.0, 0.1, 0.2, 0.5).price
    assert g.price[1, 1] == 0.0  # expired put, S=49 > K=40
    assert g.price[1, 0] == black_scholes(49.0, 40.0, 0.1, 0.2, 0.5).price


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"vol": 0.0}, "vol"),
        ({"vol": -0.2}, "vol"),
        ({"spot": 0.0}, "spot"),
        ({"spot": np.array([1.0, -1.0])}, "spot"),
        ({"strike": 0.0}, "strike"),
        ({"t": -0.1}, "t"),
        ({"t": math.nan}, "t"),
        ({"rate": math.inf}, "rate"),
        ({"spot": "42"}, "spot"),
        ({"is_call": 1}, "is_call"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, name):
    args = {"spot": 42.0, "strike": 40.0, "rate": 0.1, "vol": 0.2, "t": 0.5} | kwargs
    with pytest.raises(InvalidAmount, match=f"^{name}:"):
        black_scholes(**args)


# -- identities and properties ---------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(s=spots, m=moneyness, r=rates, v=vols, t=times)
def test_put_call_parity_and_shared_greeks(s, m, r, v, t):
    k = s * m
    call = black_scholes(s, k, r, v, t)
    put = black_scholes(s, k, r, v, t, is_call=False)
    # c - p = S - K e^-rT (Hull 11.6); delta_c - delta_p = 1; gamma and vega equal;
    # theta_c - theta_p = -r K e^-rT (d/dt of the parity)
    assert call.price - put.price == pytest.approx(s - k * math.exp(-r * t), abs=1e-9 * s)
    assert call.delta - put.delta == pytest.approx(1.0, abs=1e-12)
    assert call.gamma == put.gamma and call.vega == put.vega
    assert call.theta - put.theta == pytest.approx(-r * k * math.exp(-r * t), abs=1e-9 * s)


@settings(max_examples=200, deadline=None)
@given(s=spots, m=moneyness, r=rates, v=vols, t=times, call=st.booleans())
def test_black_scholes_pde_holds(s, m, r, v, t, call):
    # theta + r S delta + sigma^2 S^2 gamma / 2 = r V (Hull eq. 19.4)
    g = black_scholes(s, s * m, r, v, t, call)
    lhs = g.theta + r * s * g.delta + 0.5 * v * v * s * s * g.gamma
    assert lhs == pytest.approx(r * g.price, abs=1e-9 * s)


def test_greeks_match_finite_differences():
    s, k, r, v, t = np.meshgrid([80.0, 100.0, 125.0], [90.0, 110.0], 0.04, [0.3, 0.9], [0.1, 1.0])
    for call in (True, False):
        g = black_scholes(s, k, r, v, t, call)
        h = 1e-5 * s  # central differences: truncation O(h^2), rounding O(eps / h)
        hh = 1e-4 * s  # second difference: rounding O(eps / h^2) needs a wider step

        def price(call=call, **bump):
            a = {"spot": s, "strike": k, "rate": r, "vol": v, "t": t} | bump
            return black_scholes(is_call=call, **a).price

        delta = (price(spot=s + h) - price(spot=s - h)) / (2 * h)
        gamma = (price(spot=s + hh) - 2 * g.price + price(spot=s - hh)) / (hh * hh)
        vega = (price(vol=v + 1e-6) - price(vol=v - 1e-6)) / 2e-6
        theta = -(price(t=t + 1e-7) - price(t=t - 1e-7)) / 2e-7  # theta = -dV/dT
        np.testing.assert_allclose(g.delta, delta, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g.gamma, gamma, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(g.vega, vega, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(g.theta, theta, rtol=1e-5, atol=1e-5)


# -- strike for delta ------------------------------------------------------------------------
def test_strike_for_delta_hand_value():
    # S=100, r=0, sigma=0.5, T=1, delta 0.5: N^-1(0.5) = 0 -> K = 100 e^(0.125) = 113.3148
    assert strike_for_delta(100.0, 0.0, 0.5, 1.0, 0.5) == pytest.approx(113.31484530668263)
    # put delta -0.5 (or 0.5): same d1 = 0 -> same strike
    assert strike_for_delta(100.0, 0.0, 0.5, 1.0, -0.5, is_call=False) == pytest.approx(
        113.31484530668263
    )


@settings(max_examples=200, deadline=None)
@given(
    s=spots,
    r=rates,
    v=vols,
    t=times,
    d=st.floats(0.01, 0.99),
    call=st.booleans(),
    negative=st.booleans(),
)
def test_strike_for_delta_round_trip(s, r, v, t, d, call, negative):
    target = -d if (negative and not call) else d
    k = strike_for_delta(s, r, v, t, target, call)
    delta = black_scholes(s, k, r, v, t, call).delta
    assert abs(delta) == pytest.approx(d, abs=1e-9)


def test_strike_for_delta_is_vectorized_and_otm_for_small_deltas():
    k = strike_for_delta(2_000.0, 0.0, 0.8, 168 / 8_760, np.array([0.1, 0.1]), [True, False])
    assert k.shape == (2,)
    assert k[0] > 2_000.0 > k[1]  # 10-delta call above spot, 10-delta put below


@pytest.mark.parametrize(
    ("delta", "call"), [(0.0, True), (1.0, True), (-0.1, True), (1.2, False), (0.0, False)]
)
def test_strike_for_delta_rejects_impossible_deltas(delta, call):
    with pytest.raises(InvalidAmount, match="target_delta"):
        strike_for_delta(100.0, 0.0, 0.5, 1.0, delta, call)


def test_strike_for_delta_needs_time():
    with pytest.raises(InvalidAmount, match="^t:"):
        strike_for_delta(100.0, 0.0, 0.5, 0.0, 0.1)


# -- implied vol -----------------------------------------------------------------------------
def test_implied_vol_of_hull_example():
    assert implied_vol(4.759422392871532, 42.0, 40.0, 0.1, 0.5) == pytest.approx(0.2, rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(s=spots, m=st.floats(0.7, 1.4), r=rates, v=st.floats(0.05, 1.5), t=times, call=st.booleans())
def test_implied_vol_round_trip(s, m, r, v, t, call):
    k = s * m
    g = black_scholes(s, k, r, v, t, call)
    if g.vega < 1e-6 * s:  # price carries no information about vol (deep ITM/OTM, short T)
        return
    assert implied_vol(g.price, s, k, r, t, call) == pytest.approx(v, rel=1e-7)


@pytest.mark.parametrize(
    ("price", "call"), [(2.0, True), (42.0, True), (0.0, False), (38.1, False)]
)
def test_implied_vol_rejects_prices_outside_arbitrage_bounds(price, call):
    # call bounds (42 - 38.049, 42) = (3.951, 42); put bounds (0, 38.049)
    with pytest.raises(InvalidAmount, match="^price:"):
        implied_vol(price, 42.0, 40.0, 0.1, 0.5, call)
