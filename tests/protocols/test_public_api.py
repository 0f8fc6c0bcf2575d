"""The documented public surface: importable where the docs say, positional signatures as
documented, units as documented (floats, fees as fractions, plain-float sqrt prices)."""

import math

import numpy as np
import pytest


def test_amm_formulas_are_importable_from_protocols_amm_with_documented_signatures():
    from protocols.amm import (
        compute_swap_step,
        get_amount0_delta,
        get_amount1_delta,
        get_amount_in,
        get_amount_out,
        get_D,
        get_dy,
        get_next_sqrt_price_from_input,
        get_y,
        sqrt_price_to_tick,
        tick_to_sqrt_price,
    )

    # Uniswap v2-core UniswapV2Pair.spec.ts swap case [1, 5, 10, 1662497915624478906].
    assert get_amount_out(1.0, 5.0, 10.0, 0.003) == pytest.approx(1.662497915624478906, rel=1e-12)
    assert get_amount_in(get_amount_out(1.0, 5.0, 10.0), 5.0, 10.0) == pytest.approx(1.0)
    # A balanced StableSwap pool has D == sum of balances; get_y inverts get_D.
    balances = [1e6, 1e6, 1e6]
    assert get_D(balances, 2000) == pytest.approx(3e6, rel=1e-15)
    y = get_y(0, 1, 1.1e6, balances, 2000)
    assert get_D([1.1e6, y, 1e6], 2000) == pytest.approx(3e6, rel=1e-12)
    assert 0 < get_dy(0, 1, 1000.0, balances, 2000, 0.0001) < 1000.0
    # v3: plain-float sqrt prices; tick 1 is sqrt(1.0001); L * dsqrt amounts.
    assert tick_to_sqrt_price(0) == 1.0
    assert tick_to_sqrt_price(1) == pytest.approx(math.sqrt(1.0001), rel=1e-15)
    assert sqrt_price_to_tick(tick_to_sqrt_price(-887272)) == -887272
    assert get_amount1_delta(1.0, 2.0, 10.0) == pytest.approx(10.0)
    assert get_amount0_delta(1.0, 2.0, 10.0) == pytest.approx(5.0)
    assert get_next_sqrt_price_from_input(1.0, 10.0, 10.0, False) == pytest.approx(2.0)
    sqrt_next, amount_in, amount_out, fee = compute_swap_step(1.0, 2.0, 10.0, 100.0, 0.003)
    assert (sqrt_next, amount_in, amount_out) == (2.0, pytest.approx(10.0), pytest.approx(5.0))
    assert fee == pytest.approx(10.0 * 0.003 / 0.997)


def test_lending_helpers_are_importable_from_protocols_lending_and_vectorized():
    from protocols.lending import health_factor, jump_rate, kinked_borrow_rate, supply_rate

    # HF = (10 ETH * 2000 * 0.83) / (8000 USDC * 1) = 2.075; no debt -> inf.
    hf = health_factor(
        np.array([[10.0, 0.0], [1.0, 0.0]]),
        np.array([[0.0, 8000.0], [0.0, 0.0]]),
        np.array([2000.0, 1.0]),
        np.array([0.83, 0.8]),
    )
    assert hf[0] == pytest.approx(2.075) and math.isinf(hf[1])
    u = np.array([0.0, 0.8, 0.9])
    # WETH strategy (U* 0.80, slope1 0.028, slope2 0.80): 0, 0.028, 0.028 + 0.8 * 0.5 = 0.428.
    assert kinked_borrow_rate(u, 0.0, 0.028, 0.8, 0.8) == pytest.approx([0.0, 0.028, 0.428])
    assert supply_rate(0.5, 0.1, 0.2) == pytest.approx(0.04)
    assert jump_rate(np.array([0.5, 0.9]), 0.0, 0.1, 1.0, 0.8) == pytest.approx([0.05, 0.18])


def test_black_scholes_is_importable_from_protocols_options():
    from protocols.options import black_scholes

    # Hull's example: S=42, K=40, r=0.1, sigma=0.2, T=0.5 -> call 4.76, put 0.81.
    assert black_scholes(42.0, 40.0, 0.1, 0.2, 0.5).price == pytest.approx(4.76, abs=0.005)
    assert black_scholes(42.0, 40.0, 0.1, 0.2, 0.5, is_call=False).price == pytest.approx(0.81, abs=0.005)
