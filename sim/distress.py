"""Per-step distress of the dependency graph's nodes, with the scenario's thresholds.

Each node has causes, each a figure measured every step against an enter threshold
(`Distress` documents them, their units and defaults):

- lending market: `bad_debt` (cumulative bad debt, USD, as a share of the market's supply:
  cash + outstanding debt, USD; realized and socialized, so once logged it never recovers),
  `shortfall` (insolvent positions' debt beyond their collateral, marked to the off-chain
  prices, `sim.shortfall`, the step's peak over its rounds, as a share of supply) or
  `utilization_pinned:<ASSET>` (a reserve at 100 % utilization, suppliers cannot withdraw;
  the figure is the run of pinned steps);
- pool: `price_deviation` (a coin's pool price off its reference) or `tvl_drop` (1 - the
  pool's invariant liquidity now / at the start, `Pool.total_liquidity`: v2 sqrt(x*y),
  Curve D, v3 the positions' L - withdrawn or drained, while a price move, which only
  shifts the reserves along the curve, leaves it at 0: impermanent loss is not a drop);
- vault: `nav_drop` (NAV per share, in the vault's collateral, below its peak);
- `issuer:<ASSET>` of a pegged asset: `depeg` (price off its peg);
- bridge: `backing` (1 - locked canonical / outstanding wrapped, above the `depeg`
  threshold: the wrapped asset is off its peg to the canonical by that much);
- treasury: `drawdown` (value below its peak) or `runway` (stablecoins / monthly opex in
  months, below the floor).

Hysteresis and debounce (`CauseTracker`): a cause holds from the step its figure passes
the enter threshold until it is back inside the leave threshold (`recover_ratio` x enter;
floor / `recover_ratio` for the runway); a distress is logged when some cause has held
`min_steps` steps in a row (the pinned reserve: `utilization_pinned_steps` if longer), at
that step - nothing is known earlier - with `since`, the step the cause first held; a
recovery when every figure has been inside its leave threshold `min_steps` steps in a row,
with `since`, the first of those steps. A flicker shorter than `min_steps` is never
logged. Causes holding at the first evaluation (the configured world, which stood before
the run) are logged at once.

`DistressMonitor.evaluate(step)` returns the step's transitions, which the model records
as `distress` / `recovered` events (node, cause, value, since): the event log of the
spread. The checks are a few scalar reads per protocol, no graph rebuild, so they run
every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from agents import event_kinds
from protocols import names
from protocols.errors import DaosimError
from protocols.lending.market import PINNED_UTILIZATION
from protocols.world import World
from sim.shortfall import ShortfallMeter
from spec import Scenario


@dataclass(frozen=True)
class Transition:
    kind: str  # event_kinds.DISTRESS or event_kinds.RECOVERED
    node: str
    cause: str  # the causes, comma-separated
    value: float  # distress: the figure of the first cause (its unit); recovered: 0
    #: distress: the step its cause first held; recovered: the first step of the clear run
    since: int


class Reading(NamedTuple):
    """One cause's figure at a step: beyond its enter threshold (`enter`), back inside its
    leave threshold (`clear`); `steps`: the duration it must hold (default `min_steps`);
    `latch`: once logged, it never clears (bad debt). A tuple: every node makes a few
    every step."""

    cause: str
    value: float
    enter: bool
    clear: bool
    steps: int = 0
    latch: bool = False


def above(cause: str, value: float, enter: float, ratio: float, **kw: Any) -> Reading:
    """A figure where higher is worse: enters above `enter`, clears below ratio x enter."""
    return Reading(cause, value, value > enter, value < ratio * enter, **kw)


def below(cause: str, value: float, floor: float, ratio: float) -> Reading:
    """A figure where lower is worse: enters below `floor`, clears above floor / ratio."""
    return Reading(cause, value, value < floor, value > floor / ratio)


@dataclass
class _Node:
    held: dict[str, int] = field(default_factory=dict)  # cause -> step it first held
    distressed: bool = False
    latched: bool = False
    had: list[str] = field(default_factory=list)  # causes held in the current distress
    clear_since: int | None = None


class CauseTracker:
    """Turns each step's readings per node into logged transitions (module doc)."""

    def __init__(self, min_steps: int) -> None:
        self.min_steps = min_steps
        self._nodes: dict[str, _Node] = {}
        self._order: list[str] = []  # every node seen, sorted
        self._first: int | None = None
        self.first_distress: dict[str, int] = {}  # node -> `since` of its first distress

    def distressed(self) -> dict[str, tuple[str, ...]]:
        """Nodes logged as distressed now, with the causes held in their distress."""
        return {n: tuple(s.had) for n, s in self._nodes.items() if s.distressed}

    def update(self, step: int, readings: dict[str, list[Reading]]) -> list[Transition]:
        if self._first is None:
            self._first = step
        transitions = []
        if readings.keys() != self._nodes.keys():  # the same nodes step after step, usually
            self._order = sorted(readings.keys() | self._nodes.keys())
        nodes = self._nodes
        for node in self._order:
            found = readings.get(node, [])
            state = nodes.get(node)
            if state is None:
                state = nodes[node] = _Node()
            elif not (state.distressed or state.held or any(r.enter for r in found)):
                continue  # calm and nothing entering: nothing to change (the usual case)
            change = self._step(step, node, state, found)
            if change is not None:
                transitions.append(change)
        return transitions

    def _step(self, step: int, node: str, state: _Node, found: list[Reading]) -> Transition | None:
        held, initial = state.held, step == self._first
        measured = {r.cause for r in found}
        for cause in [c for c in held if c not in measured]:
            del held[cause]  # no longer measured (e.g. a reserve no longer borrowable)
        ready = []
        for r in found:
            if r.cause in held:
                if r.clear and not (r.latch and state.latched):
                    del held[r.cause]
                    continue
            elif r.enter:
                held[r.cause] = step
            else:
                continue
            if initial or step - held[r.cause] + 1 >= max(self.min_steps, r.steps):
                ready.append(r)
                state.latched |= r.latch
        if not state.distressed:
            if not ready:
                return None
            since = min(held[r.cause] for r in ready)
            state.distressed, state.had, state.clear_since = True, [r.cause for r in ready], None
            self.first_distress.setdefault(node, since)
            return Transition(event_kinds.DISTRESS, node, ",".join(state.had), ready[0].value,
                              since)
        state.had += [c for c in held if c not in state.had]
        if state.latched or not all(r.clear for r in found):
            state.clear_since = None
            return None
        if state.clear_since is None:
            state.clear_since = step
        if step - state.clear_since + 1 < self.min_steps:
            return None
        change = Transition(event_kinds.RECOVERED, node, ",".join(state.had), 0.0,
                            state.clear_since)
        state.distressed, state.had, state.clear_since = False, [], None
        return change


class DistressMonitor:
    """Measures every node's causes each step and reports the transitions (module doc).

    `runway` and `value` give the treasury's runway (months) and value (USD) now (the model
    passes its allocator's, sim.treasury). `vault_nav(name)` gives a vault's NAV per share
    in its collateral and `shortfall(name)` a market's shortfall (USD) this step (defaults:
    marked now; the model reuses the values its time series just recorded)."""

    def __init__(
        self,
        world: World,
        scenario: Scenario,
        treasury: str,
        runway: Callable[[], float],
        value: Callable[[], float],
        vault_nav: Callable[[str], float] | None = None,
        shortfall: Callable[[str], float] | None = None,
    ) -> None:
        self.world = world
        self.limits = scenario.distress
        self.treasury = treasury
        self._runway, self._value = runway, value
        self._vault_nav = vault_nav or (lambda name: world.vaults[name].nav_per_share(world.step))
        self._shortfall = shortfall or ShortfallMeter(world).now
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
        self._liquidity0 = {name: pool.total_liquidity() for name, pool in world.pools.items()}
        self._nav_peak: dict[str, float] = {}
        self._treasury_peak = 0.0
        self.tracker = CauseTracker(self.limits.min_steps)

    @property
    def first_distress(self) -> dict[str, int]:
        """Node -> the step its first logged distress first held (its `since`)."""
        return self.tracker.first_distress

    @property
    def state(self) -> dict[str, tuple[str, ...]]:
        """Nodes logged as distressed now -> the causes held in their distress."""
        return self.tracker.distressed()

    def evaluate(self, step: int) -> list[Transition]:
        """Measure every node's causes at `step`; return this step's transitions."""
        return self.tracker.update(step, self.measure())

    def measure(self) -> dict[str, list[Reading]]:
        """Every node's readings now. Once per step: it advances the pinned runs and peaks."""
        found: dict[str, list[Reading]] = {}
        self._lending(found)
        self._pools(found)
        self._vaults(found)
        self._pegs(found)
        self._bridges(found)
        self._treasury(found)
        return found

    # -- per kind ------------------------------------------------------------------------
    def _lending(self, found: dict[str, list[Reading]]) -> None:
        world, limits = self.world, self.limits
        ratio = limits.recover_ratio
        for name, market in world.markets.items():
            supply = math.fsum((market.cash(a) + market.total_debt(a)) * world.usd(a)
                               for a in market.assets)
            bad = math.fsum(v * world.usd(a) for a, v in market.bad_debt.items() if v > 0)
            causes = [
                above("bad_debt", _share(bad, supply), limits.bad_debt_share, ratio, latch=True),
                above("shortfall", _share(self._shortfall(name), supply), limits.shortfall_share,
                      ratio),
            ]
            counts = self._pinned[name]
            if counts:
                # utilization = debt / (cash + debt) of every borrowable reserve at once
                debt = market.debt_scaled.sum(axis=0)
                for asset, i in counts.items():
                    owed = debt[i] * market.borrow_index(asset)
                    cash = world.ledger.balance_of(name, asset)
                    pinned = owed > 0 and owed / (cash + owed) >= PINNED_UTILIZATION
                    run = self._runs[name][asset] = self._runs[name][asset] + 1 if pinned else 0
                    causes.append(Reading(f"utilization_pinned:{asset}", float(run), pinned,
                                          not pinned, steps=limits.utilization_pinned_steps))
            found[name] = causes

    def _pools(self, found: dict[str, list[Reading]]) -> None:
        world, limits = self.world, self.limits
        for name, pool in world.pools.items():
            quote = pool.tokens[0]
            worst = 0.0
            for base in pool.tokens[1:]:
                try:
                    spot = pool.spot_price(base, quote)
                except DaosimError:  # an emptied pool has no price: its liquidity test catches it
                    continue
                worst = max(worst, abs(spot * world.usd(quote) / world.usd(base) - 1.0))
            start = self._liquidity0[name]
            try:
                now = pool.total_liquidity()
            except DaosimError:  # a coin drained to 0 leaves Curve's D undefined: all gone
                now = 0.0
            drop = 1.0 - now / start if start > 0 else 0.0
            found[name] = [
                above("price_deviation", worst, limits.pool_price_deviation, limits.recover_ratio),
                above("tvl_drop", drop, limits.pool_tvl_drop, limits.recover_ratio),
            ]

    def _vaults(self, found: dict[str, list[Reading]]) -> None:
        for name in self.world.vaults:
            nav = self._vault_nav(name)
            peak = max(self._nav_peak.get(name, nav), nav)
            self._nav_peak[name] = peak
            drop = 1.0 - nav / peak if peak > 0 else 0.0
            found[name] = [above("nav_drop", drop, self.limits.vault_nav_drop,
                                 self.limits.recover_ratio)]

    def _pegs(self, found: dict[str, list[Reading]]) -> None:
        world = self.world
        for symbol, peg in self._pegged:
            target = 1.0 if peg == "USD" else world.usd(peg)
            off = abs(world.usd(symbol) / target - 1.0)
            found[names.issuer(symbol)] = [
                above("depeg", off, self.limits.depeg, self.limits.recover_ratio)]

    def _bridges(self, found: dict[str, list[Reading]]) -> None:
        for name, bridge in self.world.bridges.items():
            gap = max(0.0, 1.0 - bridge.backing)
            found[name] = [above("backing", gap, self.limits.depeg, self.limits.recover_ratio)]

    def _treasury(self, found: dict[str, list[Reading]]) -> None:
        limits = self.limits
        value = self._value()
        self._treasury_peak = max(self._treasury_peak, value)
        peak = self._treasury_peak
        drawdown = 1.0 - value / peak if peak > 0 else 0.0
        causes = [above("drawdown", drawdown, limits.treasury_drawdown, limits.recover_ratio)]
        if self._has_opex and limits.runway_months_floor > 0:
            causes.append(below("runway", self._runway(), limits.runway_months_floor,
                                limits.recover_ratio))
        found[self.treasury] = causes


def _share(usd: float, supply: float) -> float:
    """`usd` as a share of a market's supply; any loss in an emptied market is all of it."""
    if supply > 0:
        return usd / supply
    return math.inf if usd > 0 else 0.0
