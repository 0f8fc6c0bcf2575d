"""The protocols of a scenario: Uniswap v2 / v3 and Curve pools, Aave lending markets and
option vaults, each with the real protocol's parameters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from spec.fields import (
    Cap,
    Fraction,
    Name,
    NonNegative,
    Positive,
    PositiveUsd,
    Strict,
    Symbol,
    Units,
)


class OracleSpec(Strict):
    """A Chainlink-style feed (`reference`) or a pool TWAP (`twap`, reading `pool`)."""

    source: Literal["reference", "twap"] = "reference"
    pool: str | None = None
    window: Annotated[int, Field(ge=1)] = 24
    heartbeat: Annotated[int, Field(ge=1)] = 24
    deviation: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.005
    latency: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _twap_needs_pool(self) -> OracleSpec:
        if self.source == "twap" and not self.pool:
            raise ValueError("pool: a twap oracle must name the pool it reads")
        return self


class UniswapV2(Strict):
    kind: Literal["uniswap_v2"]
    name: Name
    tokens: Annotated[list[Symbol], Field(min_length=2, max_length=2)]
    fee: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.003
    tvl_usd: PositiveUsd = 10e6


class V3Range(Strict):
    """A band of liquidity: +-`width` around the initial price holding `share` of TVL."""

    width: Annotated[float, Field(gt=0.0, lt=1.0)]
    share: Annotated[float, Field(gt=0.0, le=1.0)]


class UniswapV3(Strict):
    kind: Literal["uniswap_v3"]
    name: Name
    tokens: Annotated[list[Symbol], Field(min_length=2, max_length=2)]
    fee: Literal[0.0001, 0.0005, 0.003, 0.01] = 0.0005
    tvl_usd: PositiveUsd = 50e6
    ranges: list[V3Range] = [V3Range(width=0.5, share=0.3), V3Range(width=0.1, share=0.7)]

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> UniswapV3:
        total = sum(r.share for r in self.ranges)
        if self.ranges and abs(total - 1.0) > 1e-9:
            raise ValueError(f"ranges: shares must sum to 1, got {total:g}")
        return self


class Curve(Strict):
    kind: Literal["curve"]
    name: Name
    tokens: Annotated[list[Symbol], Field(min_length=2, max_length=8)]
    amp: Annotated[float, Field(ge=1.0, le=1e6)] = 2000.0
    fee: Annotated[float, Field(ge=0.0, le=0.05)] = 0.0001
    admin_fee: Fraction = 0.5
    tvl_usd: PositiveUsd = 100e6


class RateModel(Strict):
    """Aave v3 two-slope (`kinked`) or Compound v2 `jump` rate model, yearly fractions.

    For `jump`, `slope1` is the multiplier (the slope below the kink), `slope2` the jump
    multiplier and `optimal` the kink."""

    model: Literal["kinked", "jump"] = "kinked"
    base: NonNegative = 0.0
    slope1: NonNegative = 0.04
    slope2: NonNegative = 0.75
    optimal: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8


#: the reserve fields whose default, inf, means "no cap"
_CAPS = ("supply_cap", "borrow_cap")


class Reserve(Strict):
    """One asset of a lending market, with Aave v3's risk parameters."""

    ltv: Fraction = 0.0
    liquidation_threshold: Fraction = 0.0
    liquidation_bonus: Fraction = 0.05
    liquidation_protocol_fee: Fraction = 0.1
    reserve_factor: Fraction = 0.1
    supply_cap: Cap = float("inf")
    borrow_cap: Cap = float("inf")
    borrowable: bool = True
    rate: RateModel = RateModel()
    initial_supply: Units = 0.0
    oracle: OracleSpec = OracleSpec()

    @model_validator(mode="before")
    @classmethod
    def _uncapped_from_json(cls, data: Any) -> Any:
        # JSON has no infinity: a run folder's scenario.json writes an uncapped reserve's
        # cap as null, and reading it back must give the same scenario (`daosim.open`)
        if isinstance(data, dict) and any(data.get(k, 0) is None for k in _CAPS):
            data = {k: float("inf") if k in _CAPS and v is None else v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _aave_parameter_rules(self) -> Reserve:
        # PoolConfigurator.configureReserveAsCollateral: ltv <= LT and LT * (1 + bonus) <= 1.
        if self.ltv > self.liquidation_threshold:
            raise ValueError(
                f"ltv: must be <= liquidation_threshold ({self.liquidation_threshold}), "
                f"got {self.ltv}"
            )
        if self.liquidation_threshold * (1 + self.liquidation_bonus) > 1:
            raise ValueError(
                "liquidation_threshold: liquidation_threshold * (1 + liquidation_bonus) must "
                f"be <= 1, got {self.liquidation_threshold * (1 + self.liquidation_bonus):g}"
            )
        return self


class Lending(Strict):
    kind: Literal["aave"]
    name: Name
    reserves: Annotated[dict[str, Reserve], Field(min_length=1)]
    close_factor: Fraction = 0.5
    close_factor_hf_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95


class OptionVault(Strict):
    kind: Literal["option_vault"]
    name: Name
    underlying: Symbol
    quote: Symbol
    option: Literal["call", "put"] = "call"
    epoch_days: Positive = 7.0
    target_delta: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    deposits: Units = 0.0
    vol_premium: Annotated[float, Field(ge=-0.9, le=5.0)] = 0.1
    #: Half-life (days) of the EWMA realized vol the options are priced off at each roll
    #: (`sim.vault_vol`): RiskMetrics' daily decay 0.94 is a half-life of 11.2 days.
    iv_half_life_days: Positive = 11.2


class Bridge(Strict):
    """A lock-and-mint bridge (`protocols.bridge`): `canonical` (a scenario asset) locked on
    its home chain, `wrapped` (a new symbol, e.g. "madWETH") minted against it on the other
    chain, each transfer completing `delay_steps` steps after it starts. Pools and lending
    markets list `wrapped` like any asset; it trades off-chain at its backing (locked /
    wrapped supply) times the canonical price, with `external_depth_usd` (None: unlimited)
    and `external_half_life_hours` as an asset's. `halt_on_exploit`: an exploit pauses the
    bridge (no new transfers start), as Nomad paused its bridge on 2 Aug 2022."""

    kind: Literal["bridge"]
    name: Name
    canonical: Symbol
    wrapped: Symbol
    delay_steps: Annotated[int, Field(ge=0)] = 1
    external_depth_usd: PositiveUsd | None = None
    external_half_life_hours: Positive = 1.0
    halt_on_exploit: bool = True

    @model_validator(mode="after")
    def _wrapped_is_new(self) -> Bridge:
        if self.wrapped == self.canonical:
            raise ValueError(f"wrapped: must differ from canonical {self.canonical!r}")
        return self


Protocol = Annotated[
    UniswapV2 | UniswapV3 | Curve | Lending | OptionVault | Bridge, Field(discriminator="kind")
]
PROTOCOL_KINDS = ("uniswap_v2", "uniswap_v3", "curve", "aave", "option_vault", "bridge")
