"""The scenario schema: what a scenario TOML file may say, with documented defaults - the
bottom layer, pure pydantic data that every other layer may read.

Pydantic models, strict about unknown fields (a typo is an error, not a silent default).
Cross-references between sections (a pool naming an unknown asset, a shock naming an
unknown protocol, a policy that cannot be imported) are checked in `sim.scenario`, which
also turns validation errors into one line per problem:
`protocols[2].liquidation_threshold: must be <= 1, got 1.2`.

Units: prices in USD, amounts in whole tokens, drifts, volatilities, jump intensities and
interest rates per year, fees as fractions, times in steps unless a field name says `_days`
or `_hours`. Pegs mean-revert on the step grid: an asset's `mean_reversion` is the share
of the gap to the target closed per step. Gas is defined per hour (`gas.mean_reversion` is
the share closed per hour, its volatility and load links look at the trailing hour), so it
does not depend on `step_hours`. `peg_noise` / `gas.vol` are the long-run standard
deviations of the log deviation.
"""

from spec.agents import Agents, Arbitrageurs, BorrowerCohort, Liquidators, LiquidityProviders
from spec.markets import Asset, Depeg, Gas, Market, Regime
from spec.protocols import (
    PROTOCOL_KINDS,
    Bridge,
    Curve,
    Lending,
    OptionVault,
    OracleSpec,
    Protocol,
    RateModel,
    Reserve,
    UniswapV2,
    UniswapV3,
    V3Range,
)
from spec.scenario import Distress, Scenario
from spec.shocks import (
    SHOCK_KINDS,
    Crash,
    DepegShock,
    Exploit,
    GasSpike,
    LiquidityWithdrawal,
    OracleFreeze,
    ParameterChange,
    Shock,
)
from spec.treasury import Action, ForcedSale, Policy, Treasury

__all__ = [
    "PROTOCOL_KINDS", "SHOCK_KINDS", "Action", "Agents", "Arbitrageurs", "Asset", "BorrowerCohort",
    "Bridge",
    "Crash", "Curve", "Depeg", "DepegShock", "Distress", "Exploit", "ForcedSale", "Gas",
    "GasSpike", "Lending", "Liquidators", "LiquidityProviders", "LiquidityWithdrawal", "Market",
    "OptionVault", "OracleFreeze", "OracleSpec", "ParameterChange", "Policy", "Protocol",
    "RateModel", "Regime", "Reserve", "Scenario", "Shock", "Treasury", "UniswapV2",
    "UniswapV3", "V3Range",
]
