"""Shared by every test package: `FakeHost`, the one stand-in for the model an agent lives in.

Agents see their model only through `agents.host.Host`, so an agent test needs no simulator:
`FakeHost` implements that protocol on a world the test builds, with a fixed gas price and a
plain event log, so hand-checked numbers are not moved by the simulator's price paths, gas
model or step order. `tests/agents/test_host.py` checks that it and `sim.model.TreasuryModel`
both offer every name the protocol declares, so the fake cannot drift from the model.
"""

from __future__ import annotations

from typing import Any

import mesa

from protocols.world import World


class FakeHost(mesa.Model):
    """`agents.host.Host` on a given world, plus the few knobs agent tests need.

    - `seed` is required, so every test is reproducible (without one Mesa seeds at random).
    - `gas_usd`: what any `gas_cost_usd` call costs; tests set a threshold rather than a gas
      model, and may change it between steps.
    - `steps`: where Mesa's step count starts. A test that calls an agent's own `step()` on a
      world whose oracles it updated at step t starts the host at t, where the model is when
      its agents act.
    - `events`: what `record` appended, in the model's form.
    """

    def __init__(
        self,
        world: World,
        *,
        seed: int,
        gas_usd: float = 0.0,
        steps: int = 0,
    ) -> None:
        super().__init__(seed=seed)
        self.world = world
        self.gas_usd = gas_usd
        self.steps = steps
        self.events: list[dict[str, Any]] = []

    def gas_cost_usd(self, gas_units: float) -> float:
        """The fixed `gas_usd`, whatever the gas units: tests price a trade, not a gas market."""
        return self.gas_usd

    def record(self, kind: str, **fields: Any) -> None:
        """Append the event as `sim.model.TreasuryModel.record` does, stamped with the step."""
        self.events.append({"step": self.steps, "kind": kind, **fields})

    def step(self) -> None:
        """Every agent steps once, in an order shuffled with the host's seeded `random`, as
        Mesa's examples do (Mesa has counted the step before this runs)."""
        self.agents.shuffle_do("step")
