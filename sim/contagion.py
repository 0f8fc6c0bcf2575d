"""The per-run contagion summary: where the shock started, how far distress spread, how fast,
and what it cost - flat scalar keys, so a sweep stores one row per run.

Shock origins (`shock_origins`, each kind's own in `sim.shocks`): a crash or depeg starts at
the asset's issuer node, an exploit or a liquidity withdrawal at the protocol, an oracle
freeze at the consumers whose feed froze; a gas spike has no node. Each origin's initial
distress for DebtRank is the shock's size (crash size, depeg depth, exploit or withdrawal
fraction; several shocks on one node combine as 1 - prod(1 - size)); a freeze destroys no
value by itself, so it enters DebtRank with 0.

Cascade depth is measured on the dependency graph at step 0 - the exposures that existed
before any shock, which is the network a policy is judged against and the one DebtRank runs
on: the depth of a distressed node is its hop distance from the nearest origin along edges
(A -> B: B exposed to A); the run's cascade depth is the largest depth among the nodes that
became distressed during the run. A node distressed with no path from any origin is counted
in `distressed_unreachable` (distress the step-0 graph does not explain). Nodes already
distressed at step 0 (e.g. a treasury whose runway starts below the floor) are reported
apart and left out of the cascade figures.

Keys: shock_origins, protocols_total, protocols_distressed, protocols_distressed_share,
nodes_distressed, nodes_distressed_at_start, distressed_unreachable, cascade_depth,
first_distress_step, last_distress_step, time_to_first_distress, time_to_last_distress
(steps after the first shock; None without distress - not NaN, so that two identical
runs compare equal), bad_debt_usd:<market>,
treasury_loss_usd, treasury_runway_months (when given), debtrank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from agents import event_kinds
from protocols.world import World
from sim import columns
from sim.debtrank import graph_debtrank
from sim.shocks import ShockSchedule, first_shock_step
from spec import Scenario


def shock_origins(scenario: Scenario, world: World) -> dict[str, float]:
    """Origin node -> initial distress of the scenario's shocks (sim.shocks)."""
    return ShockSchedule(scenario.shocks).origins(world)


def cascade_depths(graph: nx.DiGraph, origins: Sequence[str]) -> dict[str, int]:
    """Hop distance of every node reachable from the nearest origin (origins: 0)."""
    depths: dict[str, int] = {}
    frontier = [o for o in origins if o in graph]
    for o in frontier:
        depths[o] = 0
    hop = 0
    while frontier:
        hop += 1
        nxt = []
        for node in frontier:
            for succ in graph.successors(node):
                if succ not in depths:
                    depths[succ] = hop
                    nxt.append(succ)
        frontier = nxt
    return depths


def contagion_summary(
    scenario: Scenario,
    world: World,
    graph: nx.DiGraph,
    events: Sequence[Mapping[str, Any]],
    treasury_usd: Sequence[float],
    runway_months: float | None = None,
) -> dict[str, Any]:
    """The contagion figures of a finished run (module doc). `graph` is the step-0
    dependency graph, `treasury_usd` the treasury's value per step; `runway_months` is
    reported when given (the model leaves it to sim.treasury's summary figures)."""
    origins = shock_origins(scenario, world)
    depths = cascade_depths(graph, list(origins))
    first: dict[str, int] = {}
    for event in events:
        if event["kind"] == event_kinds.DISTRESS:
            first.setdefault(event["node"], int(event["step"]))
    at_start = {n for n, s in first.items() if s == 0}
    spread = {n: s for n, s in first.items() if s > 0}
    protocols = set(world.protocols)
    reached = [depths[n] for n in spread if n in depths]
    # A governance parameter change is a policy, not a shock: the clock starts at the stress.
    start = first_shock_step(scenario) or 0
    first_step = min(spread.values()) if spread else None
    last_step = max(spread.values()) if spread else None
    summary: dict[str, Any] = {
        "shock_origins": ",".join(sorted(origins)),
        "protocols_total": len(protocols),
        "protocols_distressed": len(protocols & set(spread)),
        "protocols_distressed_share": (
            len(protocols & set(spread)) / len(protocols) if protocols else 0.0
        ),
        "nodes_distressed": len(spread),
        "nodes_distressed_at_start": len(at_start),
        "distressed_unreachable": sum(1 for n in spread if n not in depths),
        "cascade_depth": max(reached) if reached else 0,
        "first_distress_step": first_step,
        "last_distress_step": last_step,
        "time_to_first_distress": first_step - start if first_step is not None else None,
        "time_to_last_distress": last_step - start if last_step is not None else None,
    }
    for name, market in world.markets.items():
        summary[columns.bad_debt_usd(name)] = math.fsum(
            v * world.usd(a) for a, v in market.bad_debt.items()
        )
    values = list(treasury_usd)
    summary["treasury_loss_usd"] = values[0] - values[-1] if values else 0.0
    if runway_months is not None:
        summary["treasury_runway_months"] = runway_months
    shock = {n: h for n, h in origins.items() if n in graph}
    summary["debtrank"] = graph_debtrank(graph, shock).debtrank if shock else 0.0
    return summary


def annotate(graph: nx.DiGraph, scenario: Scenario, world: World,
             events: Sequence[Mapping[str, Any]]) -> nx.DiGraph:
    """A copy of `graph` whose nodes carry `origin` (bool), `depth` (hops from the nearest
    origin, -1 if unreachable) and `distress_step` (first distress, -1 if never): what a
    report draws to show the spread."""
    out = graph.copy()
    origins = shock_origins(scenario, world)
    depths = cascade_depths(out, list(origins))
    first: dict[str, int] = {}
    for event in events:
        if event["kind"] == event_kinds.DISTRESS:
            first.setdefault(event["node"], int(event["step"]))
    for node in first:
        if node not in out:
            out.add_node(node, kind="agents", value_usd=0.0)
    for node, data in out.nodes(data=True):
        data["origin"] = node in origins
        data["depth"] = depths.get(node, -1)
        data["distress_step"] = first.get(node, -1)
    return out
