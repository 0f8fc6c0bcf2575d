"""Shocks: what hits the world at a step. Their effects live in `sim.shocks`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from spec.fields import Cap, Fraction, Name, Strict, Symbol

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
    """`fraction` of `protocol`'s holdings is drained to an exploiter, at `step`.

    Without `take` every token it holds loses `fraction`, in proportion; with `take` only
    the listed tokens do - draining one side of a pool moves its price (`sim.shocks` says
    how each pool kind takes it). On a bridge, `fraction` of its locked canonical asset is
    taken, which cuts the wrapped asset's backing (`protocols.bridge`)."""

    kind: Literal["exploit"]
    step: Step
    protocol: Name
    fraction: Annotated[float, Field(gt=0.0, le=1.0)]
    #: tokens the attacker removes; None = every token the protocol holds, in proportion.
    take: Annotated[list[Symbol], Field(min_length=1)] | None = None


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
    supply_cap: Cap | None = None
    borrow_cap: Cap | None = None

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
