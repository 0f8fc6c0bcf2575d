"""Shocks that act on protocols at run time: exploits, oracle freezes, gas spikes and
liquidity withdrawals. (Price crashes and depegs act on the exogenous paths instead: see
`sim.paths`.) Several may fire in one step; each fires in the step it names."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from protocols import names
from protocols.world import World
from spec import (
    Crash,
    DepegShock,
    Exploit,
    GasSpike,
    LiquidityWithdrawal,
    OracleFreeze,
    ParameterChange,
    Scenario,
    Shock,
)


class ShockSchedule:
    """Fires the scenario's run-time shocks and undoes the temporary ones when they end."""

    def __init__(self, shocks: Iterable[Shock]) -> None:
        self._shocks = [s for s in shocks if not isinstance(s, Crash | DepegShock)]
        self._gas_spikes: list[GasSpike] = [
            s for s in self._shocks if isinstance(s, GasSpike)
        ]

    def gas_multiplier(self, step: int) -> float:
        """Product of the gas spikes active during `step`."""
        multiplier = 1.0
        for spike in self._gas_spikes:
            if spike.step <= step < spike.step + spike.duration:
                multiplier *= spike.multiplier
        return multiplier

    def fire(
        self,
        step: int,
        world: World,
        withdraw_liquidity: Callable[[str, float], None],
        record: Callable[..., None],
    ) -> None:
        """Apply every shock that starts (or, for oracle freezes, ends) at `step`."""
        for shock in self._shocks:
            if isinstance(shock, OracleFreeze) and step == shock.step + shock.duration:
                for oracle in _oracles(world, shock):
                    oracle.unfreeze()
                record("shock_end", shock=shock.kind, node=shock.market or shock.asset)
            if shock.step != step:
                continue
            if isinstance(shock, Exploit):
                drained = drain(world, shock.protocol, shock.fraction)
                record("shock", shock=shock.kind, node=shock.protocol, amounts=drained)
            elif isinstance(shock, OracleFreeze):
                for oracle in _oracles(world, shock):
                    oracle.freeze()
                record("shock", shock=shock.kind, node=shock.market or shock.asset)
            elif isinstance(shock, LiquidityWithdrawal):
                withdraw_liquidity(shock.protocol, shock.fraction)
                record("shock", shock=shock.kind, node=shock.protocol, fraction=shock.fraction)
            elif isinstance(shock, ParameterChange):
                market = world.markets[shock.market]
                market.configure_reserve(shock.reserve, **shock.changes())
                record("shock", shock=shock.kind, node=shock.market, reserve=shock.reserve,
                       changes=shock.changes())
            elif isinstance(shock, GasSpike):
                record("shock", shock=shock.kind, node="gas", multiplier=shock.multiplier)


def drain(world: World, protocol: str, fraction: float) -> dict[str, float]:
    """Move `fraction` of every token `protocol` holds to the exploiter; return the amounts."""
    drained = {}
    for token, amount in world.ledger.balances_of(protocol).items():
        world.ledger.transfer(token, protocol, names.EXPLOITER, amount * fraction)
        drained[token] = amount * fraction
    return drained


def _oracles(world: World, shock: OracleFreeze) -> list:
    consumers = [shock.market] if shock.market else list(world.oracles)
    return [
        world.oracles[c][shock.asset] for c in consumers if shock.asset in world.oracles.get(c, {})
    ]


def first_shock_step(scenario: Scenario) -> int | None:
    """Step of the first shock that moves prices or balances (a governance parameter change
    is not a shock to markets), or None."""
    steps = [s.step for s in scenario.shocks if not isinstance(s, ParameterChange)]
    return min(steps) if steps else None
