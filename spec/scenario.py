"""A whole scenario: its sections, the distress thresholds, and the figures derived from
them that several layers use."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from spec.agents import Agents
from spec.fields import Name, NonNegative, Strict, Usd
from spec.markets import Asset, Gas, Market
from spec.protocols import Protocol
from spec.shocks import Shock
from spec.treasury import Treasury


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

    bad_debt_usd: Usd = 0.0
    utilization_pinned_steps: Annotated[int, Field(ge=1)] = 3
    pool_price_deviation: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    pool_tvl_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    vault_nav_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    depeg: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.02
    treasury_drawdown: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.3
    runway_months_floor: NonNegative = 12.0
    #: An asset whose reference price falls more than `origin_drop` below its peak of the
    #: trailing `origin_window_hours` hours is a contagion origin (sim.origins): 20 % in a
    #: day is 3.5 daily standard deviations of a token with yearly volatility 1.1, and
    #: 5.4 of ETH's 0.7 - a crash, not noise; Black Thursday took 43 % from ETH in 24 h.
    origin_drop: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2
    origin_window_hours: Annotated[float, Field(gt=0.0)] = 24.0


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
