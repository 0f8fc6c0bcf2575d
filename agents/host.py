"""What an agent may use of the model it lives in: the declared host.

Agents are Mesa agents, so their host is a `mesa.Model` (Mesa registers them with it and
gives `steps`, `random` and `rng`); of the rest of the model they see only this. The
simulator's `sim.model.TreasuryModel` is one host; tests use one small fake
(`tests/conftest.py`), so an agent can be tested on a world of its own.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

import numpy as np

from protocols.world import World


class Host(Protocol):
    #: the protocols on one ledger, with reference prices and oracles
    world: World
    #: the current step (Mesa counts it)
    steps: int
    #: Mesa's seeded generators: `random` for orders and choices (`AgentSet.shuffle_do`
    #: uses it), `rng` for vectorized draws
    random: random.Random
    rng: np.random.Generator

    def gas_cost_usd(self, gas_units: float) -> float:
        """USD cost of `gas_units` at this step's gas price."""
        ...

    def record(self, kind: str, **fields: Any) -> None:
        """Append an event (`agents.event_kinds`) to the run's log."""
        ...
