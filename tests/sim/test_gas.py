"""Tests of sim.gas: the volatility-driven gas path, the liquidation-load rise and USD cost."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ConfigError, InvalidAmount
from sim.gas import (
    BASE_GWEI,
    LIQUIDATION_GAS_UNITS,
    SWAP_GAS_UNITS,
    gas_cost_usd,
    gas_price_path,
    gas_with_load,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_noiseless_gas_is_base_times_exp_sensitivity_times_market_vol():
    # vol = 0: gas_t = 30 e^{20 * market_vol[t-1]}; a 10 % move gives 30 e^2 = 221.6716830.
    gas = gas_price_path(rng(), 3, vol=0.0, spike_sensitivity=20.0, market_vol=[0.0, 0.1, 0.0])
    np.testing.assert_allclose(gas, [30.0, 30.0, 221.67168296791950, 30.0], rtol=1e-12)


def test_gas_rises_with_market_volatility_on_common_random_numbers():
    steps = 500
    calm = gas_price_path(rng(1), steps, market_vol=np.zeros(steps))
    volatile_steps = np.abs(rng(2).normal(0.0, 0.02, steps))
    volatile = gas_price_path(rng(1), steps, market_vol=volatile_steps)
    np.testing.assert_allclose(volatile[1:] / calm[1:], np.exp(20.0 * volatile_steps), rtol=1e-12)
    assert volatile[0] == calm[0] == BASE_GWEI


def test_gas_noise_has_the_stated_stationary_sd_and_reversion():
    # log(gas / base) is AR(1) with a = 1 - 0.1 = 0.9 and stationary sd 0.5. SE of the
    # sample sd ~ 0.5 sqrt((1 + a^2) / (1 - a^2) / (2 N)) = 0.5 * 0.0098 at N = 50 000;
    # SE of the lag-1 autocorrelation ~ sqrt((1 - a^2) / N) = 0.0019.
    n = 50_000
    y = np.log(gas_price_path(rng(3), n, vol=0.5, mean_reversion=0.1, market_vol=0.0) / 30.0)
    assert abs(y.std() - 0.5) < 4 * 0.5 * math.sqrt(1.81 / 0.19 / (2 * n))
    lag1 = np.corrcoef(y[:-1], y[1:])[0, 1]
    assert abs(lag1 - 0.9) < 4 * math.sqrt(0.19 / n)


def test_gas_same_seed_same_path():
    mv = np.linspace(0, 0.05, 100)
    np.testing.assert_array_equal(
        gas_price_path(rng(5), 100, market_vol=mv), gas_price_path(rng(5), 100, market_vol=mv)
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"steps": 0}, ConfigError, "steps"),
        ({"base_gwei": 0.0}, InvalidAmount, "base_gwei"),
        ({"vol": -0.1}, InvalidAmount, "vol"),
        ({"mean_reversion": 0.0}, InvalidAmount, "mean_reversion"),
        ({"mean_reversion": 2.0}, InvalidAmount, "mean_reversion"),
        ({"spike_sensitivity": -1.0}, InvalidAmount, "spike_sensitivity"),
        ({"market_vol": np.zeros(9)}, ConfigError, "market_vol"),
        ({"market_vol": -np.ones(10)}, InvalidAmount, "market_vol"),
        ({"market_vol": "high"}, InvalidAmount, "market_vol"),
    ],
)
def test_gas_path_rejects_bad_arguments_and_draws_nothing(kwargs, error, name):
    generator = rng()
    before = generator.bit_generator.state
    args = {"steps": 10, "market_vol": np.zeros(10)} | kwargs
    with pytest.raises(error, match=f"^{name}"):
        gas_price_path(generator, args.pop("steps"), **args)
    assert generator.bit_generator.state == before


def test_gas_path_overflow_raises_instead_of_returning_inf():
    with pytest.raises(InvalidAmount, match="overflows"):
        gas_price_path(rng(), 3, spike_sensitivity=1e4, market_vol=np.ones(3))


def test_gas_with_load_by_hand():
    # 30 e^{0.02 * 50} = 30 e = 81.54845485377136; no load leaves gas exactly as it was.
    assert gas_with_load(30.0, 50.0) == pytest.approx(81.54845485377136, rel=1e-12)
    assert gas_with_load(30.0, 0.0, 0.5) == 30.0
    np.testing.assert_allclose(
        gas_with_load(np.array([10.0, 20.0]), np.array([0.0, 10.0]), 0.1),
        [10.0, 20.0 * math.e],
        rtol=1e-12,
    )


@settings(max_examples=100, deadline=None)
@given(
    gas=st.floats(0.1, 1e4),
    load=st.floats(0, 100),
    extra=st.floats(0.01, 100),
    sensitivity=st.floats(0.001, 1),
)
def test_more_load_never_costs_less_gas(gas, load, extra, sensitivity):
    low = gas_with_load(gas, load, sensitivity)
    assert gas <= low <= gas_with_load(gas, load + extra, sensitivity)


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((0.0, 1.0), InvalidAmount, "gas_gwei"),
        ((30.0, -1.0), InvalidAmount, "liquidation_load"),
        ((30.0, 1.0, -0.1), InvalidAmount, "sensitivity"),
        ((np.ones(2), np.ones(3)), ConfigError, "gas_gwei/liquidation_load"),
        ((30.0, 1e6, 1.0), InvalidAmount, "liquidation_load/sensitivity"),
        (("30", 1.0), InvalidAmount, "gas_gwei"),
    ],
)
def test_gas_with_load_rejects_bad_arguments(args, error, name):
    with pytest.raises(error, match=f"^{name}"):
        gas_with_load(*args)


def test_gas_cost_usd_by_hand():
    # 30 gwei * 1e-9 ETH/gwei * 400 000 gas = 0.012 ETH; at 2000 USD/ETH = 24 USD.
    assert gas_cost_usd(30.0, LIQUIDATION_GAS_UNITS, 2000.0) == pytest.approx(24.0, rel=1e-12)
    # a swap at 150 000 gas, 100 gwei, 1500 USD/ETH: 100e-9 * 150e3 * 1500 = 22.5 USD
    assert gas_cost_usd(100.0, SWAP_GAS_UNITS, 1500.0) == pytest.approx(22.5, rel=1e-12)
    np.testing.assert_allclose(
        gas_cost_usd(np.array([10.0, 20.0]), 100_000, np.array([1000.0, 3000.0])), [1.0, 6.0]
    )


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((-1.0, 1.0, 1.0), InvalidAmount, "gas_gwei"),
        ((1.0, -1.0, 1.0), InvalidAmount, "gas_units"),
        ((1.0, 1.0, np.nan), InvalidAmount, "eth_price"),
        ((np.ones(2), 1.0, np.ones(3)), ConfigError, "gas_gwei/gas_units/eth_price"),
    ],
)
def test_gas_cost_rejects_bad_arguments(args, error, name):
    with pytest.raises(error, match=f"^{name}"):
        gas_cost_usd(*args)


def test_scalar_gas_with_load_matches_the_array_form_and_never_overflows():
    from sim.gas import gas_with_load_scalar

    for gas, load, sens in [(30.0, 0, 0.02), (30.0, 10, 0.02), (12.5, 3, 0.5)]:
        assert gas_with_load_scalar(gas, load, sens) == pytest.approx(float(gas_with_load(gas, load, sens)), rel=1e-15)
    assert gas_with_load_scalar(30.0, 10, 0.02) == pytest.approx(30.0 * 1.2214027581601699)  # e^0.2
    assert math.isfinite(gas_with_load_scalar(30.0, 100_000, 0.02))
