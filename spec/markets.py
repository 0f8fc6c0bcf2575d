"""Assets and the exogenous processes that move their reference prices and gas."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from spec.fields import Fraction, NonNegative, Positive, PositiveFinite, Strict, Symbol


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
    price: Positive
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
    external_depth_usd: PositiveFinite | None = None
    #: hours for the off-chain price impact to decay by half.
    external_half_life_hours: PositiveFinite = 1.0


class Regime(Strict):
    """The stress regime of the two-regime process, relative to calm: vol multiplied,
    jumps more frequent, correlations raised to `correlation`."""

    vol_multiplier: Annotated[float, Field(ge=1.0)] = 2.5
    jump_intensity: NonNegative = 12.0
    correlation: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.9
    p_enter: Fraction = 0.002
    p_exit: Fraction = 0.05


class Market(Strict):
    """How reference prices move: `gbm`, `merton` (jump diffusion), `regime`
    (calm/stress Markov switching) or `historical` (replay the assets' `data` files)."""

    process: Literal["gbm", "merton", "regime", "historical"] = "gbm"
    correlation: Annotated[float, Field(ge=-1.0, le=1.0)] | list[list[float]] = 0.5
    jump_intensity: NonNegative = 4.0
    jump_mean: float = -0.04
    jump_std: NonNegative = 0.06
    stress: Regime = Regime()
    start: str | None = None


class Gas(Strict):
    """Gas price in gwei: log mean-reverting around `base_gwei`, rising with market
    volatility and with the previous step's liquidation load, capped at `max_gwei` (the
    fee at which users give up rather than bid higher)."""

    base_gwei: Positive = 30.0
    max_gwei: Positive = 2000.0
    vol: NonNegative = 0.5
    mean_reversion: NonNegative = 0.1
    vol_sensitivity: NonNegative = 20.0
    load_sensitivity: NonNegative = 0.02
