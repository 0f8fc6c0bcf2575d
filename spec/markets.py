"""Assets and the exogenous processes that move their reference prices and gas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from spec.fields import Fraction, NonNegative, Positive, PositiveUsd, Price, Strict, Symbol


class Depeg(Strict):
    """A depeg episode of a pegged asset: the ratio to its peg falls by `depth` over
    `duration` steps, then recovers linearly over `recovery` steps."""

    start: Annotated[int, Field(ge=0)]
    duration: Annotated[int, Field(ge=1)] = 24
    depth: Fraction = 0.1
    recovery: Annotated[int, Field(ge=0)] = 48


class Asset(Strict):
    """A token and its off-chain reference price process.

    `kind = "risky"` follows the market process (GBM by default) with drift `mu` and
    volatility `sigma`; `kind = "pegged"` tracks `peg_to` ("USD" or another asset's symbol,
    e.g. a staked-ETH token pegged to ETH) with mean-reverting noise and optional depegs.
    `data` names a CSV (in the data directory) replayed when the market process is
    "historical" (`column` picks a column other than the file's price column): a risky
    asset's file holds its USD price, a pegged asset's its ratio to `peg_to` (stETH in ETH,
    USDC in USDT taken as USD), and the asset's depegs deepen that replayed ratio. With data,
    `price` is informational: the replay starts from the file's value.

    The path above is the asset's *fundamental* price. Off-chain (CEX) trades move the
    traded price away from it: `external_depth_usd` is the USD of net off-chain flow that
    moves the asset's off-chain log-price by 0.01 (about 1 %) - left out (None), depth is
    unlimited and no trade moves the price; `external_half_life_hours` is the time, in hours
    (not steps), in which that impact decays by half. Both must be finite numbers > 0.
    """

    symbol: Symbol
    price: Price
    kind: Literal["risky", "pegged"] = "risky"
    mu: float = 0.0
    sigma: NonNegative = 0.6
    peg_to: str = "USD"
    peg_noise: NonNegative = 0.0005
    mean_reversion: NonNegative = 0.2
    depegs: list[Depeg] = []
    data: str | None = None
    column: str | None = None
    #: USD of net off-chain flow per 0.01 of off-chain log-price move; None = unlimited depth.
    external_depth_usd: PositiveUsd | None = None
    #: hours for the off-chain price impact to decay by half.
    external_half_life_hours: Positive = 1.0


class Regime(Strict):
    """The stress regime of the two-regime process, relative to calm: vol multiplied,
    jumps more frequent, correlations raised to `correlation`."""

    vol_multiplier: Annotated[float, Field(ge=1.0)] = 2.5
    jump_intensity: NonNegative = 12.0
    correlation: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.9
    p_enter: Fraction = 0.002
    p_exit: Fraction = 0.05


def _one_message(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """One message for the field, not one per union branch (pydantic names its branches,
    `constrained-float` and `list[list[float]]`, which mean nothing to a user)."""
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(
            f"must be a number in [-1, 1] or a matrix (a list of rows of numbers), got {value!r}"
        ) from None


#: one pairwise correlation for every pair of risky assets, or their whole matrix
#: (checked against the assets in `sim.checks`)
Correlation = Annotated[
    Annotated[float, Field(ge=-1.0, le=1.0)] | list[list[float]], WrapValidator(_one_message)
]


class Market(Strict):
    """How reference prices move: `gbm`, `merton` (jump diffusion), `regime`
    (calm/stress Markov switching) or `historical` (replay the assets' `data` files)."""

    process: Literal["gbm", "merton", "regime", "historical"] = "gbm"
    correlation: Correlation = 0.5
    jump_intensity: NonNegative = 4.0
    jump_mean: float = -0.04
    jump_std: NonNegative = 0.06
    stress: Regime = Regime()
    start: str | None = None


class Gas(Strict):
    """Gas price in gwei (sim.gas): log mean-reverting around `base_gwei`, rising with
    market volatility and with the liquidation load of the trailing hour, capped at
    `max_gwei` (the fee at which users give up rather than bid higher). Rates are per hour,
    so results do not depend on `step_hours`.

    - `vol`: stationary standard deviation of log gas around the base (calm noise).
    - `mean_reversion`: share of the noise's gap to 0 closed per hour (per step
      1 - (1 - mean_reversion) ** step_hours).
    - `vol_sensitivity`: log gas rises by this times the ETH absolute log return over the
      trailing hour (per sqrt(hour) at longer steps).
    - `load_sensitivity`: log gas rises by this per liquidation per hour in the trailing hour.

    Where the defaults come from (Black Thursday, the one calibrated episode, sets its own
    values: experiments/scenarios/black_thursday_2020.toml):
    - base_gwei 30: mid-range of mainnet's calm level since 2021 - average gas "in the 15-30
      gwei range since the end of May" 2021 (Coin Metrics, State of the Network, July 2021);
      7-day median ~20 gwei after the Merge and a 43.6 gwei 10-month high in April 2023
      (Glassnode).
    - max_gwei 2000: the highest hourly average reported, 19 May 2021, when gas "suddenly
      spiked from under 100 GWEI to over 2,000 GWEI in less than two hours" (Coin Metrics).
    - vol 0.5, mean_reversion 0.1 (half-life 6.6 h): assumptions, not fitted - of the order
      of mainnet's intraday cycle (busiest 13:00-18:00 UTC, quietest 21:00-23:00 UTC:
      Flipside Crypto; Coin Metrics' base fee by hour of the week) and its bursts.
    - vol_sensitivity 20: not fitted; a 10 % hourly move multiplies gas by e^2 = 7.4, the
      order of the crash-day rises reported since 2020 (~6x Black Thursday's daily mean,
      Glassnode; tenfold to 318 gwei on 8 Nov 2022, FTX; over 20x on 19 May 2021, Coin
      Metrics), for scenarios where it is the only crash-to-gas link. Where a `gas_spike`
      shock carries a crash's congestion, Black Thursday calibrates the link at 2.
    - load_sensitivity 0.003: a liquidation's own gas lifts an EIP-1559 base fee by at
      most e^(400k / (8 x 15M)) = e^0.0033 (a 15M gas target, BASE_FEE_MAX_CHANGE_DENOMINATOR
      = 8), so 500 liquidations in an hour multiply gas by e^1.5 = 4.5. Bots bidding against
      each other for the same liquidation (priority gas auctions: Daian et al. 2020, "Flash
      Boys 2.0", IEEE S&P) raise the price further; a scenario that replays a crash's
      congestion with a `gas_spike` shock counts that there (Black Thursday: 0.0005).
    """

    base_gwei: Positive = 30.0
    max_gwei: Positive = 2000.0
    vol: NonNegative = 0.5
    mean_reversion: NonNegative = 0.1
    vol_sensitivity: NonNegative = 20.0
    load_sensitivity: NonNegative = 0.003
