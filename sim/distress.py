"""Per-step distress of the dependency graph's nodes, with the scenario's thresholds.

A node is distressed while at least one of its causes holds (`Distress` documents
the thresholds):

- lending market: `bad_debt` (cumulative bad debt in USD above `bad_debt_usd`; bad debt is a
  realized, socialized loss, so it does not recover) or `utilization_pinned:<ASSET>` (a
  reserve at 100 % utilization for `utilization_pinned_steps` steps in a row: suppliers
  cannot withdraw);
- pool: `price_deviation` (a coin's pool price off its reference by more than
  `pool_price_deviation`) or `tvl_drop` (TVL below (1 - `pool_tvl_drop`) x the starting
  reserves valued at today's prices: liquidity withdrawn or drained, not a price move);
- vault: `nav_drop` (NAV per share, in the vault's collateral, below (1 - `vault_nav_drop`)
  x its peak);
- `issuer:<ASSET>` of a pegged asset: `depeg` (price off its peg by more than `depeg`);
- treasury: `drawdown` (value below (1 - `treasury_drawdown`) x its peak) or `runway`
  (stablecoins / monthly opex below `runway_months_floor` months).

`DistressMonitor.evaluate(step)` returns the transitions of this step - ("distress", node,
causes) when a node's first cause appears, ("recovered", node, causes it had) when its last
one clears - which the model records as events: the event log of the spread. The checks
are a few scalar reads per protocol, no graph rebuild, so they run every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from agents import event_kinds
from protocols import names
from protocols.errors import DaosimError
from protocols.lending.market import PINNED_UTILIZATION
from protocols.world import World
from spec import Scenario


@dataclass(frozen=True)
class Transition:
    kind: str  # event_kinds.DISTRESS or event_kinds.RECOVERED
    node: str
    cause: str  # the causes, comma-separated
    value: float  # the measured figure of the first cause


class DistressMonitor:
    """Evaluates every node's causes each step and reports transitions (module doc).

    `runway` and `value` give the treasury's runway (months) and value (USD) now (the model
    passes its allocator's, sim.treasury). `vault_nav(name)` gives a vault's NAV per share
    in its collateral (default: marked now; the model reuses the value its DataCollector
    just recorded)."""

    def __init__(
        self,
        world: World,
        scenario: Scenario,
        treasury: str,
        runway: Callable[[], float],
        value: Callable[[], float],
        vault_nav: Callable[[str], float] | None = None,
    ) -> None:
        self.world = world
        self.limits = scenario.distress
        self.treasury = treasury
        self._runway, self._value = runway, value
        self._vault_nav = vault_nav or (lambda name: world.vaults[name].nav_per_share(world.step))
        self._has_opex = scenario.treasury.opex_usd_per_month > 0
        self._pegged = [
            (a.symbol, a.peg_to) for a in scenario.assets if a.kind == "pegged"
        ]
        # borrowable reserves (the only ones that can be pinned) -> column, and run lengths
        self._pinned = {
            m: {a: i for i, a in enumerate(mk.assets) if mk.reserves[a].borrowable}
            for m, mk in world.markets.items()
        }
        self._runs = {m: dict.fromkeys(cols, 0) for m, cols in self._pinned.items()}
        self._reserves0 = {name: pool.reserves() for name, pool in world.pools.items()}
        self._nav_peak: dict[str, float] = {}
        self._treasury_peak = 0.0
        self.state: dict[str, tuple[str, ...]] = {}
        self.first_distress: dict[str, int] = {}

    def evaluate(self, step: int) -> list[Transition]:
        """Update every node's causes at `step`; return this step's transitions."""
        found: dict[str, list[tuple[str, float]]] = {}
        self._lending(found)
        self._pools(found)
        self._vaults(found)
        self._pegs(found)
        self._treasury(found)
        transitions = []
        for node in sorted(self.state.keys() | found.keys()):
            causes = found.get(node)
            before = self.state.get(node)
            if causes and not before:
                names = ",".join(c for c, _ in causes)
                transitions.append(Transition(event_kinds.DISTRESS, node, names, causes[0][1]))
                self.first_distress.setdefault(node, step)
            elif before and not causes:
                transitions.append(Transition(event_kinds.RECOVERED, node, ",".join(before), 0.0))
            if causes:
                self.state[node] = tuple(c for c, _ in causes)
            elif before:
                del self.state[node]
        return transitions

    # -- per kind ------------------------------------------------------------------------
    def _lending(self, found: dict[str, list[tuple[str, float]]]) -> None:
        world, limits = self.world, self.limits
        for name, market in world.markets.items():
            causes = []
            bad = math.fsum(v * world.usd(a) for a, v in market.bad_debt.items() if v > 0)
            if bad > limits.bad_debt_usd:
                causes.append(("bad_debt", bad))
            counts = self._pinned[name]
            if counts:
                # utilization = debt / (cash + debt) of every borrowable reserve at once
                debt = market.debt_scaled.sum(axis=0)
                for asset, i in counts.items():
                    owed = debt[i] * market.borrow_index(asset)
                    cash = world.ledger.balance_of(name, asset)
                    pinned = owed > 0 and owed / (cash + owed) >= PINNED_UTILIZATION
                    run = self._runs[name][asset] = self._runs[name][asset] + 1 if pinned else 0
                    if run >= limits.utilization_pinned_steps:
                        causes.append((f"utilization_pinned:{asset}", float(run)))
            if causes:
                found[name] = causes

    def _pools(self, found: dict[str, list[tuple[str, float]]]) -> None:
        world, limits = self.world, self.limits
        for name, pool in world.pools.items():
            causes = []
            quote = pool.tokens[0]
            worst = 0.0
            for base in pool.tokens[1:]:
                try:
                    spot = pool.spot_price(base, quote)
                except DaosimError:  # an emptied pool has no price: its TVL test catches it
                    continue
                worst = max(worst, abs(spot * world.usd(quote) / world.usd(base) - 1.0))
            if worst > limits.pool_price_deviation:
                causes.append(("price_deviation", worst))
            # Liquidity that left (withdrawn, drained), not price moves: TVL now against the
            # starting reserves valued at today's prices.
            start = math.fsum(r * world.usd(t) for t, r in self._reserves0[name].items())
            drop = 1.0 - world.pool_tvl_usd(name) / start if start > 0 else 0.0
            if drop > limits.pool_tvl_drop:
                causes.append(("tvl_drop", drop))
            if causes:
                found[name] = causes

    def _vaults(self, found: dict[str, list[tuple[str, float]]]) -> None:
        for name in self.world.vaults:
            nav = self._vault_nav(name)
            peak = max(self._nav_peak.get(name, nav), nav)
            self._nav_peak[name] = peak
            drop = 1.0 - nav / peak if peak > 0 else 0.0
            if drop > self.limits.vault_nav_drop:
                found[name] = [("nav_drop", drop)]

    def _pegs(self, found: dict[str, list[tuple[str, float]]]) -> None:
        world = self.world
        for symbol, peg in self._pegged:
            target = 1.0 if peg == "USD" else world.usd(peg)
            off = abs(world.usd(symbol) / target - 1.0)
            if off > self.limits.depeg:
                found[names.issuer(symbol)] = [("depeg", off)]

    def _treasury(self, found: dict[str, list[tuple[str, float]]]) -> None:
        value = self._value()
        self._treasury_peak = max(self._treasury_peak, value)
        causes = []
        peak = self._treasury_peak
        drawdown = 1.0 - value / peak if peak > 0 else 0.0
        if drawdown > self.limits.treasury_drawdown:
            causes.append(("drawdown", drawdown))
        if self._has_opex and self.limits.runway_months_floor > 0:
            runway = self._runway()
            if runway < self.limits.runway_months_floor:
                causes.append(("runway", runway))
        if causes:
            found[self.treasury] = causes
