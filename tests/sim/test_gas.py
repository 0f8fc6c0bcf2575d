"""Tests of sim.gas: the volatility-driven gas path, the liquidation-load rise and USD cost,
their per-hour definition, and the baseline's gas spike."""

import math
from pathlib import Path

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
    hourly_abs_return,
    window_steps,
)
from sim.model import TreasuryModel
from sim.runner import release
from sim.scenario import parse_scenario, read_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"


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
    # 30 e^{0.02 * 50} = 30 e = 81.54845485377136; the default 0.003 gives 30 e^0.15 =
    # 34.855025...; no load leaves gas exactly as it was.
    assert gas_with_load(30.0, 50.0, 0.02) == pytest.approx(81.54845485377136, rel=1e-12)
    assert gas_with_load(30.0, 50.0) == pytest.approx(34.85502728184849, rel=1e-12)
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


# -- per hour, not per step -------------------------------------------------------------------
def test_window_steps_is_the_trailing_hour_in_steps():
    # round(1 / step_hours), at least 1: 4 steps of 15 min, 2 of 30 min, 1 at an hour or more.
    assert [window_steps(h) for h in (0.25, 0.5, 1.0, 4.0, 0.3)] == [4, 2, 1, 1, 3]


def test_hourly_abs_return_at_hourly_steps_is_the_step_return_exactly():
    # k = 1 and the span sqrt(1 * 1.0) = 1: the same floats as the former per-step input.
    prices = 2000.0 * np.exp(np.cumsum(rng(7).normal(0.0, 0.01, 200)))
    np.testing.assert_array_equal(hourly_abs_return(prices, 1.0), np.abs(np.diff(np.log(prices))))


def test_hourly_abs_return_at_15_minutes_is_the_hourly_return_at_whole_hours():
    # A 15-minute path; its every 4th row is the hourly path. Row 4j + 4 of the fine path looks
    # back 4 rows = 1 hour: the same |log return| as hourly row j + 1. Rows 1-3 look back to
    # row 0 only and are divided by sqrt(0.25 t): row 1 = |r_1| / 0.5.
    fine = 100.0 * np.exp(np.cumsum(np.concatenate(([0.0], rng(8).normal(0.0, 0.005, 400)))))
    hourly = fine[::4]
    fine_vol = hourly_abs_return(fine, 0.25)
    np.testing.assert_allclose(fine_vol[3::4], hourly_abs_return(hourly, 1.0), rtol=1e-12)
    assert fine_vol[0] == pytest.approx(abs(math.log(fine[1] / fine[0])) / 0.5, rel=1e-12)
    # A 4-hour step: its return / sqrt(4), the hourly volatility of a Brownian path.
    assert hourly_abs_return([100.0, 110.0], 4.0)[0] == pytest.approx(math.log(1.1) / 2, rel=1e-12)


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        (([100.0], 1.0), ConfigError, "prices"),
        (([100.0, 0.0], 1.0), InvalidAmount, "prices"),
        (([100.0, 101.0], 0.0), InvalidAmount, "step_hours"),
    ],
)
def test_hourly_abs_return_rejects_bad_arguments(args, error, name):
    with pytest.raises(error, match=f"^{name}"):
        hourly_abs_return(*args)


@pytest.mark.parametrize("step_hours", [1.0, 0.25])
def test_gas_noise_has_the_same_hourly_statistics_at_any_step_length(step_hours):
    # vol 0.5 and mean_reversion 0.1 per hour: sampled once an hour, log(gas / base) is an
    # AR(1) with a = 0.9 and stationary sd 0.5 whatever the step (per step it keeps
    # 0.9 ** step_hours = 0.974 at 15 min). N = 50 000 hours: SE of the sd ~ 0.5 * 0.0098,
    # of the hourly lag-1 autocorrelation ~ sqrt((1 - a^2) / N) = 0.0019 (as above); 4 SE.
    hours = 50_000
    per_hour = round(1 / step_hours)
    gas = gas_price_path(
        rng(3), hours * per_hour, vol=0.5, mean_reversion=0.1, market_vol=0.0,
        step_hours=step_hours,
    )
    y = np.log(gas[::per_hour] / 30.0)
    assert abs(y.std() - 0.5) < 4 * 0.5 * math.sqrt(1.81 / 0.19 / (2 * hours))
    assert abs(np.corrcoef(y[:-1], y[1:])[0, 1] - 0.9) < 4 * math.sqrt(0.19 / hours)
    if per_hour > 1:  # within the hour the steps keep 0.9 ** 0.25 = 0.97400 of the gap
        fine = np.log(gas / 30.0)
        assert abs(np.corrcoef(fine[:-1], fine[1:])[0, 1] - 0.9**0.25) < 0.002


def test_hourly_gas_path_is_unchanged_by_the_per_hour_form():
    # step_hours = 1 keeps (1 - theta) ** 1.0 = 0.9 exactly: the same path as the default.
    mv = np.abs(rng(9).normal(0.0, 0.02, 300))
    np.testing.assert_array_equal(
        gas_price_path(rng(4), 300, market_vol=mv, step_hours=1.0),
        gas_price_path(rng(4), 300, market_vol=mv),
    )


# -- the baseline's gas spike -------------------------------------------------------------------
def test_the_baseline_gas_spike_lifts_gas_over_the_crash():
    # baseline.toml: ETH falls 30 % at step 240 with a gas_spike x8 for steps 240-251. Its
    # vol_sensitivity of 2 turns the crash into e^(2 * 0.357) = 2x gas, well below the 2,000
    # gwei cap, so the spike shows in full. Same seed with and without the spike (the GOV
    # exploit at step 400 is left out, the run stops at 252): identical gas before 240; at
    # 240 no liquidation has happened yet (the load is the previous step's), so gas is
    # exactly 8x; later the runs' liquidation loads differ, and gas stays >= 3x higher (the
    # spikeless run liquidates faster at the end, raising its own gas).
    raw = read_scenario(SCENARIOS / "baseline.toml")
    raw["steps"] = 252
    raw["shocks"] = [s for s in raw["shocks"] if s["kind"] != "exploit"]
    spiked = TreasuryModel(parse_scenario(raw))
    raw["shocks"] = [s for s in raw["shocks"] if s["kind"] != "gas_spike"]
    plain = TreasuryModel(parse_scenario(raw))
    try:
        spiked.run()
        plain.run()
        with_spike = spiked.timeseries()["gas_gwei"].to_numpy()
        without = plain.timeseries()["gas_gwei"].to_numpy()
    finally:
        release(spiked)
        release(plain)
    np.testing.assert_array_equal(with_spike[:240], without[:240])
    assert with_spike[240] == pytest.approx(8.0 * without[240], rel=1e-12)
    assert with_spike[240:252].max() < 2000.0  # the cap never clips the spike
    ratio = with_spike[240:252] / without[240:252]
    assert ratio.min() >= 3.0 and np.median(ratio) >= 7.0
