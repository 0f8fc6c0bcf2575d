"""A whole scenario: its sections, the distress thresholds, and the figures derived from
them that several layers use."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from spec.agents import Agents
from spec.fields import Name, NonNegative, Strict
from spec.markets import Asset, Gas, Market
from spec.protocols import Protocol
from spec.shocks import Shock
from spec.treasury import Treasury


class Distress(Strict):
    """When a node of the dependency graph counts as distressed, and recovered (sim.distress).

    Each cause has an enter threshold (the fields below) and a leave threshold,
    `recover_ratio` x enter (for the runway floor, where lower is worse, floor /
    `recover_ratio`); a distress is logged once a cause has held `min_steps` steps in a row,
    a recovery once every figure has been back inside its leave threshold `min_steps` steps
    in a row. Durations are
    counted in steps, as every step-counted field is: 3 steps are 3 hours at the default
    `step_hours` = 1, 12 hours at 4. Shares are strict fractions, in (0, 1)."""

    #: cumulative bad debt (USD, now) above this share of the market's supply (cash +
    #: outstanding debt, USD, now). 0.1 %: Aave v3 keeps a reserve factor of 10-20 % of the
    #: interest (USDC 0.10, WETH 0.15, WBTC 0.20: aave_v3_ethereum_risk_params_2023-10-31 in
    #: ../shared/data), about 0.2-0.8 % of supply a year at 3-5 % borrow rates and
    #: 50-80 % utilization; bad debt above 0.1 % of supply takes months of that income, a
    #: loss governance must cover - while $28 in a $96M market (3e-7) is dust. Bad debt is
    #: realized and socialized: once logged it never recovers.
    bad_debt_share: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.001
    #: shortfall (what insolvent positions' debt exceeds their collateral by, marked to the
    #: off-chain prices: sim.shortfall, the step's peak over its rounds) above this share of
    #: the market's supply. 0.1 %, as `bad_debt_share`: it is the bad debt the market would
    #: book if those positions were closed at these prices.
    shortfall_share: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.001
    #: steps a reserve must stay at 100 % utilization (suppliers cannot withdraw) before it
    #: is a cause; it leaves when the reserve is no longer pinned (100 % is a state, not a
    #: level with room for a band). With `min_steps` the longer of the two applies, counted
    #: from the first pinned step. 3: borrowers paying the rate above the kink for 3 hours
    #: without repaying is a run on the reserve, not one block's spike.
    utilization_pinned_steps: Annotated[int, Field(ge=1)] = 3
    #: a pool's price of a coin off its reference price by more than this fraction. 5 %:
    #: arbitrage keeps a pool inside its fee band, at most 1 % (Uniswap v3's widest tier,
    #: uniswap_v3_fee_tiers.csv); five times that is a pool nobody can arbitrage back.
    pool_price_deviation: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    #: share of a pool's invariant liquidity gone since the start (`Pool.total_liquidity`:
    #: v2 sqrt(x*y), Curve D, v3 the positions' L): withdrawn or drained, not a price move
    #: (impermanent loss leaves it). 50 %: half the depth gone doubles every trade's impact.
    pool_tvl_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    #: a vault's NAV per share, in its collateral, below its peak by more than this
    #: fraction. 10 %: a loss in the vault's own collateral that many epochs of option
    #: premiums would take to earn back.
    vault_nav_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    #: a pegged asset off its peg by more than this fraction (its issuer node). 2 %: USDC's
    #: daily close stayed within 1.9 % of $1 on 99 % of days in 2020-2025
    #: (usdc_usd_yahoo_daily in ../shared/data; median 0.01 %).
    depeg: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.02
    #: the treasury's value below its peak by more than this fraction. 30 %: close to a
    #: third of the treasury gone, a loss that forces its budget to change.
    treasury_drawdown: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3
    #: months of opex the treasury's USD stablecoins cover, below which it is distressed
    #: (0 disables the test). 12: the usual floor of DAO treasury policies.
    runway_months_floor: NonNegative = 12.0
    #: a cause leaves only when its figure is back below recover_ratio x its enter threshold
    #: (a depeg under 1 %, a pool within 2.5 %): 0.5 puts the band between "beyond normal"
    #: and "back to normal" for each default above, so noise around a threshold (arbitrage
    #: within its fee band, a peg's wobble) cannot flip a node back and forth. 1 = no band.
    recover_ratio: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    #: steps a cause must hold before a distress is logged (the event carries `since`, the
    #: first step it held), and steps every figure must be back inside its leave threshold
    #: before a recovery is. 3: a figure that survives three hourly steps - three oracle
    #: heartbeats, many arbitrage rounds - is the market's state, not a sampling artifact.
    #: Causes holding at the first step are logged there: the starting state stood before
    #: the run, and there is no earlier step to wait on.
    min_steps: Annotated[int, Field(ge=1)] = 3
    #: An asset whose reference price falls more than `origin_drop` below its peak of the
    #: trailing `origin_window_hours` hours is a contagion origin (sim.origins): 20 % in a
    #: day is 3.5 daily standard deviations of a token with yearly volatility 1.1, and
    #: 5.4 of ETH's 0.7 - a crash, not noise; Black Thursday took 43 % from ETH in 24 h.
    origin_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    origin_window_hours: Annotated[float, Field(gt=0.0)] = 24.0

    @model_validator(mode="before")
    @classmethod
    def _removed_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and "bad_debt_usd" in data:
            raise ValueError(
                "bad_debt_usd: removed: bad debt is now measured against the market's size; "
                "set bad_debt_share (a share of the market's supply, default 0.001) instead"
            )
        return data


#: Rounds per step (see the Scenario docstring for how it was chosen).
DEFAULT_ROUNDS_PER_STEP = 6


class Scenario(Strict):
    """`rounds_per_step`: rounds inside a step at which the off-chain price, the oracles, the
    arbitrageurs and the liquidators move (the exogenous path has a point per round,
    `sim.paths.ExogenousPaths.rounds`); borrowers, liquidity providers and the allocator
    act once per step. A strict integer >= 1 (1 = one round per step)."""

    name: Name = "scenario"
    description: str = ""
    #: a signed 64-bit integer: the outputs store it as Parquet int64
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    steps: Annotated[int, Field(ge=1, le=10_000_000)] = 720
    step_hours: Annotated[float, Field(gt=0.0, le=24.0 * 30)] = 1.0
    rounds_per_step: Annotated[int, Field(ge=1, strict=True)] = DEFAULT_ROUNDS_PER_STEP
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

    @property
    def steps_per_year(self) -> float:
        return 365.0 * 24.0 / self.step_hours

    @property
    def usd_stables(self) -> frozenset[str]:
        """The USD stablecoins: pegged assets whose peg is "USD" - what runway is counted
        in, and what the treasury sells into."""
        return frozenset(a.symbol for a in self.assets if a.kind == "pegged" and a.peg_to == "USD")
