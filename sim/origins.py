"""Where a run's stress starts: the origins of its contagion, declared or replayed alike.

An origin is a dependency-graph node hit from outside the simulated economy, at a step, with
an initial distress in [0, 1] (what DebtRank starts from):

- **a price fall**: an asset whose exogenous reference price (`sim.paths`: the fundamental,
  before any simulated trade's impact) falls more than `distress.origin_drop` below its peak
  of the trailing `distress.origin_window_hours` makes its issuer node (`issuer:ETH`) an
  origin in the step of the round it crosses. Its distress is the deepest fall below that
  peak over the rest of the run. A trailing window, not the run's peak: a slow drift of a
  volatile token over a month is not a shock, a crash within a day is (Black Thursday: ETH
  -43 % in 24 h; GOV's 1.1 yearly volatility is 5.8 % a day, so a 20 % day is 3.5 standard
  deviations);
- **a peg break**: a pegged asset more than `distress.depeg` off its peg (1 USD, or its
  anchor asset's reference price) makes its issuer an origin when it crosses; its distress
  is the deepest deviation over the rest of the run;
- **a declared shock** (`sim.shocks`, each kind's `origins`): a crash or depeg at its step
  (its distress is measured on the path as above: what the asset actually lost), an exploit
  or a liquidity withdrawal at the protocol with its fraction, an oracle freeze at every
  consumer whose feed froze with 0 (it destroys no value by itself).

So historical replays, whose moves come from data rather than from declared shocks, have
origins too. Falls the simulated flows cause (liquidators dumping GOV into a thin market)
are not origins: they are the spread, and depend on the policy; the origins of a scenario and
seed are the same whatever the treasury does. One origin per node: its earliest step; on an
issuer the largest measured fall; on a protocol several shocks combine as 1 - prod(1 - size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from protocols import names
from sim.paths import ExogenousPaths
from sim.shocks import effect
from spec import Crash, DepegShock, Scenario

if TYPE_CHECKING:
    from protocols.world import World

#: the cause of an origin found on the price path rather than declared
PRICE_DROP, OFF_PEG = "price_drop", "off_peg"


@dataclass(frozen=True)
class Origin:
    """A node hit from outside at `step` with initial distress `size`; `cause` is the shock
    kind, or "price_drop" / "off_peg" for a move found on the price path."""

    node: str
    step: int
    size: float
    cause: str


def find_origins(scenario: Scenario, paths: ExogenousPaths, world: World) -> dict[str, Origin]:
    """Every origin of the run (module doc), by node; `world` says where a declared shock
    starts (which consumers read a frozen feed)."""
    found: dict[str, list[Origin]] = {}
    # declared first: on a tie of steps the origin keeps the shock's kind as its cause
    for origin in _declared_origins(scenario, paths, world) + _price_origins(scenario, paths):
        found.setdefault(origin.node, []).append(origin)
    merged = {}
    for node, hits in found.items():
        if node.startswith(names.issuer("")):
            size = max(o.size for o in hits)
        else:
            size = 1.0 - math.prod(1.0 - o.size for o in hits)
        first = min(hits, key=lambda o: o.step)
        merged[node] = Origin(node, first.step, min(1.0, max(0.0, size)), first.cause)
    return dict(sorted(merged.items()))


def _step_of(row: int, rounds_per_step: int) -> int:
    """The step that round row `row` belongs to (row 0: the initial state, step 0)."""
    return 0 if row == 0 else (row - 1) // rounds_per_step + 1


def _first_row(step: int, rounds_per_step: int) -> int:
    """The first round row of `step` (sim.paths.ExogenousPaths)."""
    return max(0, (step - 1) * rounds_per_step + 1)


def _trailing_peak(path: np.ndarray, window: int) -> np.ndarray:
    """max(path[r - window .. r]) for every row r (fewer rows at the start)."""
    padded = np.concatenate([np.full(window, path[0]), path])
    views = np.lib.stride_tricks.sliding_window_view(padded, window + 1)
    return views.max(axis=1)


def _window_rounds(scenario: Scenario, rounds_per_step: int) -> int:
    """Rounds in the trailing window a fall is measured over (at least one)."""
    hours = scenario.distress.origin_window_hours
    return max(1, math.ceil(hours * rounds_per_step / scenario.step_hours))


def _anchor(paths: ExogenousPaths, peg_to: str) -> np.ndarray:
    if peg_to == "USD":
        return np.ones(paths.rounds.shape[0])
    return paths.rounds[:, paths.assets.index(peg_to)]


def _price_origins(scenario: Scenario, paths: ExogenousPaths) -> list[Origin]:
    limits, R = scenario.distress, paths.rounds_per_step
    window = _window_rounds(scenario, R)
    out = []
    for asset in scenario.assets:
        path = paths.rounds[:, paths.assets.index(asset.symbol)]
        if asset.kind == "pegged":
            off = np.abs(path / _anchor(paths, asset.peg_to) - 1.0)
            rows = np.flatnonzero(off > limits.depeg)
            if rows.size:
                r = int(rows[0])
                out.append(Origin(names.issuer(asset.symbol), _step_of(r, R),
                                  float(off[r:].max()), OFF_PEG))
            continue
        peak = _trailing_peak(path, window)
        rows = np.flatnonzero(path < (1.0 - limits.origin_drop) * peak)
        if rows.size:
            r = int(rows[0])
            out.append(Origin(names.issuer(asset.symbol), _step_of(r, R),
                              float(1.0 - path[r:].min() / peak[r]), PRICE_DROP))
    return out


def _declared_origins(scenario: Scenario, paths: ExogenousPaths, world: World) -> list[Origin]:
    R = paths.rounds_per_step
    window = _window_rounds(scenario, R)
    out = []
    for shock in scenario.shocks:
        if isinstance(shock, Crash | DepegShock):
            # what the asset actually lost from the shock's step on, measured on its path
            asset = next(a for a in scenario.assets if a.symbol == shock.asset)
            path = paths.rounds[:, paths.assets.index(shock.asset)]
            start = _first_row(shock.step, R)
            if isinstance(shock, Crash):
                before = path[max(0, start - window):start]
                size = 1.0 - path[start:].min() / before.max()
            else:
                off = np.abs(path / _anchor(paths, asset.peg_to) - 1.0)
                size = off[start:].max()
            out.append(Origin(names.issuer(shock.asset), shock.step, float(size), shock.kind))
            continue
        for node, size in effect(shock).origins(world).items():
            out.append(Origin(node, shock.step, size, shock.kind))
    return out
