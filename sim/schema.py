"""The scenario schema: what a scenario TOML file may say, with documented defaults.

Pydantic models, strict about unknown fields (a typo is an error, not a silent default).
Cross-references between sections (a pool naming an unknown asset, a shock naming an
unknown protocol) are checked in `sim.scenario`, which also turns validation errors into
one line per problem: `protocols[2].liquidation_threshold: must be <= 1, got 1.2`.

Units: prices in USD, amounts in whole tokens, drifts, volatilities, jump intensities and
interest rates per year, fees as fractions, times in steps unless a field name says `_days`
or `_hours`. The mean-reverting processes (pegs, gas) are defined on the step grid:
`mean_reversion` is the share of the gap to the target closed per step, and `peg_noise` /
`gas.vol` the long-run standard deviation of the log deviation.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Symbol = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9._-]{0,31}$")]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
#: An asset symbol or a protocol-issued token (`aave-a:aUSDC`, `univ2-ETH-USDC:LP`): see
#: sim.composition.
Token = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(:[A-Za-z0-9._:-]{1,96})?$")
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- assets and exogenous processes -------------------------------------------------------
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


# -- protocols ---------------------------------------------------------------------------
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
    tvl_usd: Positive = 10e6


class V3Range(Strict):
    """A band of liquidity: +-`width` around the initial price holding `share` of TVL."""

    width: Annotated[float, Field(gt=0.0, lt=1.0)]
    share: Annotated[float, Field(gt=0.0, le=1.0)]


class UniswapV3(Strict):
    kind: Literal["uniswap_v3"]
    name: Name
    tokens: Annotated[list[Symbol], Field(min_length=2, max_length=2)]
    fee: Literal[0.0001, 0.0005, 0.003, 0.01] = 0.0005
    tvl_usd: Positive = 50e6
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
    tvl_usd: Positive = 100e6


class RateModel(Strict):
    """Aave v3 two-slope (`kinked`) or Compound v2 `jump` rate model, yearly fractions.

    For `jump`, `slope1` is the multiplier (the slope below the kink), `slope2` the jump
    multiplier and `optimal` the kink."""

    model: Literal["kinked", "jump"] = "kinked"
    base: NonNegative = 0.0
    slope1: NonNegative = 0.04
    slope2: NonNegative = 0.75
    optimal: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8


class Reserve(Strict):
    """One asset of a lending market, with Aave v3's risk parameters."""

    ltv: Fraction = 0.0
    liquidation_threshold: Fraction = 0.0
    liquidation_bonus: Fraction = 0.05
    liquidation_protocol_fee: Fraction = 0.1
    reserve_factor: Fraction = 0.1
    supply_cap: Positive = float("inf")
    borrow_cap: Positive = float("inf")
    borrowable: bool = True
    rate: RateModel = RateModel()
    initial_supply: NonNegative = 0.0
    oracle: OracleSpec = OracleSpec()

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
    deposits: NonNegative = 0.0
    vol_premium: Annotated[float, Field(ge=-0.9, le=5.0)] = 0.1


Protocol = Annotated[
    UniswapV2 | UniswapV3 | Curve | Lending | OptionVault, Field(discriminator="kind")
]
PROTOCOL_KINDS = ("uniswap_v2", "uniswap_v3", "curve", "aave", "option_vault")


# -- agents ------------------------------------------------------------------------------
class Arbitrageurs(Strict):
    count: Annotated[int, Field(ge=0)] = 2
    capital_usd: NonNegative = 5e6
    gas_units: Annotated[int, Field(ge=0)] = 150_000


class Liquidators(Strict):
    count: Annotated[int, Field(ge=0)] = 3
    capital_usd: NonNegative = 20e6
    gas_units: Annotated[int, Field(ge=0)] = 400_000
    max_rounds: Annotated[int, Field(ge=1, le=20)] = 3


class LiquidityProviders(Strict):
    count: Annotated[int, Field(ge=0)] = 3
    flight_drawdown: Fraction = 0.15
    flight_share: Fraction = 0.3
    return_after: Annotated[int, Field(ge=1)] = 72


class BorrowerCohort(Strict):
    """Positions opened at step 0 in `market`: collateral and debt assets, an initial
    health-factor distribution (lognormal around `hf_median`) and reaction behaviour."""

    market: Name
    collateral: Token
    debt: Symbol
    positions: Annotated[int, Field(ge=1, le=10_000_000)] = 500
    size_usd_median: Positive = 50_000.0
    size_usd_sigma: NonNegative = 1.0
    hf_median: Annotated[float, Field(gt=1.0)] = 1.6
    hf_sigma: NonNegative = 0.2
    reaction_delay: Annotated[int, Field(ge=0)] = 6
    topup_share: Fraction = 0.3
    repay_share: Fraction = 0.2
    leverup_hf: Annotated[float, Field(gt=1.0)] = 2.5


class Agents(Strict):
    arbitrageurs: Arbitrageurs = Arbitrageurs()
    liquidators: Liquidators = Liquidators()
    liquidity_providers: LiquidityProviders = LiquidityProviders()
    borrowers: list[BorrowerCohort] = []


# -- treasury ----------------------------------------------------------------------------
class Policy(Strict):
    """The treasury's allocation policy (`agents.policies`): a built-in `kind` (static,
    calendar, threshold, vol_target, cppi, risk_parity, delta_hedge) or a dotted path to any
    class with a `decide(view)` method, built with `params` as keyword arguments.

    Parameters are flat so sweeps address them as `treasury.policy.target_vol`; each policy
    reads the ones it needs. `weights` (target shares of the free portfolio, keys: assets or
    venue tokens such as "aave:aUSDC") default to the initial holdings; `assets` (the risky
    sleeve) default to the non-stable assets held at the start; `safe_asset` defaults to
    `opex_token`. Steps: `every`, `half_life`. `floor`, `band`, `trigger`, `delta_band`,
    `target_delta` and `max_risky` are shares of NAV; `target_vol` is yearly. `borrow` asks
    for debts (USD per asset) against `collateral`, kept at health factor `borrow_hf`.
    A "<v3 pool>:v3" weight is held as one range of +-`v3_width` around the pool's price.
    """

    kind: str = "static"
    weights: dict[str, Fraction] = {}
    assets: list[Symbol] = []
    safe_asset: Symbol | None = None
    every: Annotated[int, Field(ge=1)] = 168
    band: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    target_vol: Positive = 0.3
    half_life: Positive = 168.0
    max_risky: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    floor: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.8
    multiplier: Annotated[float, Field(ge=1.0)] = 3.0
    trigger: Fraction = 0.05
    method: Literal["inverse_vol", "erc"] = "inverse_vol"
    risky_share: Fraction | None = None
    hedge_asset: Symbol = "ETH"
    target_delta: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0
    delta_band: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05
    hedge_with: Literal["sell", "borrow"] = "sell"
    borrow: dict[str, NonNegative] = {}
    collateral: Symbol = "GOV"
    borrow_hf: Annotated[float, Field(gt=1.0)] = 2.0
    v3_width: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    params: dict[str, object] = {}

    @model_validator(mode="after")
    def _kind_importable(self) -> Policy:
        from agents.policies import BUILTIN, resolve_policy

        try:
            resolve_policy(self.kind)
        except ValueError as exc:
            raise ValueError(f"kind: {exc}") from None
        if self.params and self.kind in BUILTIN:
            raise ValueError("params: only a dotted-path (user) policy takes params")
        if self.weights and abs(sum(self.weights.values()) - 1.0) > 1e-6:
            raise ValueError(f"weights: must sum to 1, got {sum(self.weights.values()):g}")
        return self


class Treasury(Strict):
    """The DAO's holdings (whole tokens) and monthly operating spend (USD, in `opex_token`,
    paid every step pro rata to `opex:payees`), its allocation `policy`, and the limits of
    the allocator's trades: `max_slippage` (execution below reference value, fees included),
    `min_trade_usd` and `gas_units` per swap hop or venue action."""

    holdings: dict[str, NonNegative] = {}
    opex_usd_per_month: NonNegative = 0.0
    opex_token: Symbol = "USDC"
    policy: Policy = Policy()
    max_slippage: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.02
    min_trade_usd: NonNegative = 10_000.0
    gas_units: Annotated[int, Field(ge=0)] = 200_000


# -- shocks ------------------------------------------------------------------------------
#: Shocks fire in the step they name; step 0 is the initial state, so shocks start at 1.
Step = Annotated[int, Field(ge=1)]


class Crash(Strict):
    """The reference price of `asset` drops by `size` at `step` (and stays down)."""

    kind: Literal["crash"]
    step: Step
    asset: Symbol
    size: Annotated[float, Field(gt=0.0, lt=1.0)]


class DepegShock(Strict):
    kind: Literal["depeg"]
    step: Step
    asset: Symbol
    depth: Annotated[float, Field(gt=0.0, lt=1.0)]
    duration: Annotated[int, Field(ge=1)] = 24
    recovery: Annotated[int, Field(ge=0)] = 48


class Exploit(Strict):
    """`fraction` of every reserve `protocol` holds is drained to an exploiter."""

    kind: Literal["exploit"]
    step: Step
    protocol: Name
    fraction: Annotated[float, Field(gt=0.0, le=1.0)]


class OracleFreeze(Strict):
    kind: Literal["oracle_freeze"]
    step: Step
    asset: Symbol
    market: Name | None = None
    duration: Annotated[int, Field(ge=1)] = 24


class GasSpike(Strict):
    kind: Literal["gas_spike"]
    step: Step
    multiplier: Annotated[float, Field(gt=1.0, le=1000.0)] = 10.0
    duration: Annotated[int, Field(ge=1)] = 12


class LiquidityWithdrawal(Strict):
    """Liquidity providers pull `fraction` of their liquidity from `protocol`."""

    kind: Literal["liquidity_withdrawal"]
    step: Step
    protocol: Name
    fraction: Annotated[float, Field(gt=0.0, le=1.0)]


class ParameterChange(Strict):
    """Governance changes a lending reserve's risk parameters at `step`, for every open
    position at once (Aave v3 PoolConfigurator). This is how a proposal such as "lower GOV's
    liquidation threshold" reaches positions opened under the old rules; set in the
    scenario's reserve instead, positions would open against the new rules from the start.
    Parameters left out keep their value."""

    kind: Literal["parameter_change"]
    step: Step
    market: Name
    reserve: str
    ltv: Fraction | None = None
    liquidation_threshold: Fraction | None = None
    liquidation_bonus: Fraction | None = None
    liquidation_protocol_fee: Fraction | None = None
    reserve_factor: Fraction | None = None
    supply_cap: Positive | None = None
    borrow_cap: Positive | None = None

    def changes(self) -> dict[str, float]:
        """The parameters this change sets."""
        return self.model_dump(exclude={"kind", "step", "market", "reserve"}, exclude_none=True)


Shock = Annotated[
    Crash | DepegShock | Exploit | OracleFreeze | GasSpike | LiquidityWithdrawal
    | ParameterChange,
    Field(discriminator="kind"),
]
SHOCK_KINDS = (
    "crash", "depeg", "exploit", "oracle_freeze", "gas_spike", "liquidity_withdrawal",
    "parameter_change",
)


# -- distress ----------------------------------------------------------------------------
class Distress(Strict):
    """When a node of the dependency graph counts as distressed (sim.distress): a lending
    market with bad debt above `bad_debt_usd` or a reserve at 100 % utilization for
    `utilization_pinned_steps` steps in a row; a pool whose price is off the reference by
    more than `pool_price_deviation` or whose TVL fell by `pool_tvl_drop` against its
    starting reserves at today's prices (liquidity withdrawn or drained); a vault whose NAV
    per share (in its collateral) fell by `vault_nav_drop` from its peak; a pegged asset
    off its peg by more than `depeg` (its issuer node); the treasury in a drawdown deeper
    than `treasury_drawdown` from its peak, or with a runway below `runway_months_floor`
    months (0 disables the runway test)."""

    bad_debt_usd: NonNegative = 0.0
    utilization_pinned_steps: Annotated[int, Field(ge=1)] = 3
    pool_price_deviation: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    pool_tvl_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    vault_nav_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    depeg: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.02
    treasury_drawdown: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3
    runway_months_floor: NonNegative = 12.0


class Scenario(Strict):
    name: Name = "scenario"
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    steps: Annotated[int, Field(ge=1, le=10_000_000)] = 720
    step_hours: Annotated[float, Field(gt=0.0, le=24.0 * 30)] = 1.0
    market: Market = Market()
    gas: Gas = Gas()
    assets: Annotated[list[Asset], Field(min_length=1)]
    protocols: list[Protocol] = []
    agents: Agents = Agents()
    treasury: Treasury = Treasury()
    shocks: list[Shock] = []
    distress: Distress = Distress()

    @property
    def dt_years(self) -> float:
        return self.step_hours / (365.0 * 24.0)
