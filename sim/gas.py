"""Gas prices: an exogenous log-OU path that rises with market volatility, the endogenous
rise with the liquidation load, and the USD cost of a transaction.

Every rate is per HOUR, so a run at step_hours = 0.25 with 4x the steps gives, sampled once
an hour, the same gas statistics as an hourly run (and an hourly run the same numbers as
before this was so): the noise's mean reversion per hour (per step (1 - theta) **
step_hours of the gap is kept), the volatility link on the absolute return over the trailing
hour (`hourly_abs_return`), the load in liquidations per hour over the trailing hour
(`window_steps`, counted by the model). `gas_spike` shocks multiply gas for a number of
steps (durations in the spec count steps).

Calibration. The one episode with published gas figures at hand is Black Thursday (12-13
March 2020): ~10 gwei on 11 Mar; daily averages 78 and 85 gwei on 12 and 13 Mar (ConsenSys,
"How Ethereum Performed During the Global Market Shocks of the Coronavirus Pandemic", Alethio
data); the day's mean up 6x and 80-200 gwei paid (Glassnode's March 2020 insight report on
Maker); hourly averages over 100 gwei at the peak (news report of 13 Mar 2020); the gas spike
in MakerDAO's post-mortem ("The Market Collapse of March 12-13, 2020", blog.makerdao.com).
experiments/scenarios/black_thursday_2020.toml is calibrated on them (peak hour over the
11 Mar median within 4-10x) and says where each of its values comes from; the defaults in
`spec.Gas` say where theirs come from. A liquidation (Aave/Compound liquidationCall plus
collateral transfer) costs about 300k-500k gas, a single AMM swap about 150k.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from protocols.errors import ConfigError, InvalidAmount
from protocols.validation import check_amount, check_fraction
from sim.prices import Array, ar1, check_array, check_steps

BASE_GWEI = 30.0
LIQUIDATION_GAS_UNITS = 400_000
SWAP_GAS_UNITS = 150_000
GWEI = 1e-9  # ETH per gwei
#: exp(700) ~ 1e304: beyond it a float overflows.
MAX_EXPONENT = 700.0


def window_steps(step_hours: float) -> int:
    """Steps in the trailing hour the volatility link and the load look back over: the
    whole number of steps nearest one hour, at least one (1 at hourly or longer steps, 4
    at 15 minutes)."""
    return max(1, round(1.0 / step_hours))


def hourly_abs_return(prices: ArrayLike, step_hours: float = 1.0) -> Array:
    """The volatility link's input per step, shape (len(prices) - 1,): the absolute log
    return over the trailing hour, |log(S_t / S_{t-k})| with k = `window_steps`, divided by
    sqrt(hours spanned) so that it is a per-hour figure at any step length. Sampled once an
    hour it has the same distribution at every step_hours <= 1 (it is then the hourly
    return itself); at hourly steps it is exactly |log(S_t / S_{t-1})|. The first k - 1
    steps look back to row 0 only (their span is shorter). Longer steps divide their
    return by sqrt(step_hours) (the hourly volatility of a Brownian path)."""
    prices = check_array("prices", prices, lower=0.0, strict=True)
    if prices.ndim != 1 or prices.size < 2:
        raise ConfigError(f"prices: expected one path of at least 2 rows, got shape {prices.shape}")
    logs = np.log(prices)
    step_hours = check_amount("step_hours", step_hours, allow_zero=False)
    k = window_steps(step_hours)
    rows = np.arange(1, logs.size)
    back = np.maximum(rows - k, 0)
    return np.abs(logs[rows] - logs[back]) / np.sqrt((rows - back) * step_hours)


def gas_price_path(
    rng: np.random.Generator,
    steps: int,
    *,
    base_gwei: float = BASE_GWEI,
    vol: float = 0.5,
    mean_reversion: float = 0.1,
    spike_sensitivity: float = 20.0,
    market_vol: ArrayLike,
    step_hours: float = 1.0,
) -> Array:
    """Gas price in gwei per row, shape (steps + 1,); row t is the gas paid during step t.

    log gas_t = log base_gwei + spike_sensitivity * market_vol[t - 1] + y_t, where y is an
    Ornstein-Uhlenbeck noise (exact step, `sim.prices.ar1`) with stationary standard
    deviation `vol` that closes `mean_reversion` of its gap to 0 per HOUR: per step it keeps
    (1 - mean_reversion) ** step_hours of it, so that sampled once an hour y is the same
    AR(1) at any step length; y_0 = 0, so row 0 is base_gwei. market_vol (steps,) is a
    per-hour volatility measure - `hourly_abs_return` of the ETH path (gas jumps in the
    volatile hour and falls back after it), or a rolling realised vol per sqrt(hour) (a
    persistent rise). With sensitivity 20 a 10 % hourly move multiplies gas by e^2 = 7.4.
    """
    steps = check_steps(steps)
    base_gwei = check_amount("base_gwei", base_gwei, allow_zero=False)
    vol = check_amount("vol", vol)
    theta = check_fraction("mean_reversion", mean_reversion)
    if theta == 0:
        raise InvalidAmount("mean_reversion: must be > 0 (0 would be a random walk), got 0.0")
    spike_sensitivity = check_amount("spike_sensitivity", spike_sensitivity)
    market_vol = check_array("market_vol", market_vol, (steps,), lower=0.0)
    step_hours = check_amount("step_hours", step_hours, allow_zero=False)

    keep = (1.0 - theta) ** step_hours
    noise = ar1(vol * math.sqrt(1.0 - keep**2) * rng.standard_normal(steps), keep, 0.0)
    spikes = spike_sensitivity * np.concatenate(([0.0], market_vol))
    with np.errstate(over="ignore"):
        gas = base_gwei * np.exp(noise + spikes)
    return _finite_gas(gas, "vol/spike_sensitivity/market_vol")


def gas_with_load(
    gas_gwei: ArrayLike, liquidation_load: ArrayLike, sensitivity: float = 0.003
) -> Array:
    """The step's gas after liquidations compete for block space: gas * e^(sensitivity *
    load). Exponential like EIP-1559's base fee, which compounds by up to 12.5 % per full
    block (EIP-1559, BASE_FEE_MAX_CHANGE_DENOMINATOR = 8). The load's unit is the caller's;
    the model passes liquidations per hour over the trailing hour, so that the rise does
    not depend on the step length (the default sensitivity, spec.Gas's: each liquidation in
    the last hour costs 0.3 % more gas). Scalars or arrays (broadcast)."""
    gas = check_array("gas_gwei", gas_gwei, lower=0.0, strict=True)
    load = check_array("liquidation_load", liquidation_load, lower=0.0)
    _check_broadcast(gas_gwei=gas, liquidation_load=load)
    sensitivity = check_amount("sensitivity", sensitivity)
    with np.errstate(over="ignore"):
        return _finite_gas(gas * np.exp(sensitivity * load), "liquidation_load/sensitivity")


def gas_with_load_scalar(gas_gwei: float, liquidation_load: float, sensitivity: float) -> float:
    """`gas_with_load` for one validated step (the model's hot path): no array checks, and
    the exponent is capped where floats would overflow (callers cap gas at `max_gwei`)."""
    return gas_gwei * math.exp(min(sensitivity * liquidation_load, MAX_EXPONENT))


def gas_cost_usd(gas_gwei: ArrayLike, gas_units: ArrayLike, eth_price: ArrayLike) -> Array:
    """USD cost of a transaction: gas_gwei * 1e-9 ETH/gwei * gas_units * eth_price (USD/ETH).
    Scalars or arrays (broadcast)."""
    gas = check_array("gas_gwei", gas_gwei, lower=0.0)
    units = check_array("gas_units", gas_units, lower=0.0)
    price = check_array("eth_price", eth_price, lower=0.0)
    _check_broadcast(gas_gwei=gas, gas_units=units, eth_price=price)
    return gas * GWEI * units * price


def _check_broadcast(**arrays: Array) -> None:
    try:
        np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {a.shape}" for name, a in arrays.items())
        raise ConfigError(f"{'/'.join(arrays)}: shapes do not broadcast ({shapes})") from None


def _finite_gas(gas: Array, culprits: str) -> Array:
    if not np.all(np.isfinite(gas)):
        raise InvalidAmount(f"{culprits}: gas price overflows; reduce them")
    return gas
