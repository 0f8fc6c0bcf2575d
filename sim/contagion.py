"""The per-run contagion summary: where the stress started, how far distress spread along
which chain, how fast, and what it cost - flat scalar keys, so a sweep stores one row per run.

Origins (`sim.origins`) are the nodes hit from outside: declared shocks and the price falls
and peg breaks of the exogenous paths, so a historical replay has them too. The spread is
every other node that became distressed (`sim.distress`) during the run; nodes distressed at
step 0 without being hit (a treasury whose runway starts below the floor) are reported apart.
The chain (`sim.cascade`) links each distressed node to the distressed neighbour that preceded
it; `cascade_depth` is its longest path from an origin.

DebtRank (Battiston et al. 2012, `sim.debtrank`) runs on the dependency graph *just before the
first origin* - the exposures the policy built up to then, not those of step 0 - from the
origins' actual losses (`Origin.size`). The time series carries the same figure per step
(`systemic_debtrank`): how exposed the network of that step is to the run's origins.

Keys: shock_origins, first_origin_step, protocols_total, protocols_distressed (the spread:
origins apart), protocols_distressed_share, nodes_distressed, nodes_distressed_at_start,
distressed_unexplained, cascade_depth, first_distress_step, last_distress_step,
time_to_first_distress, time_to_last_distress (steps after the first origin; None without
spread - not NaN, so that two identical runs compare equal), bad_debt_usd:<market>,
treasury_loss_usd, treasury_runway_months (when given), debtrank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from protocols.world import World
from sim import columns
from sim.cascade import Cascade, Link
from sim.debtrank import graph_debtrank
from sim.origins import Origin


def origins_debtrank(graph: nx.DiGraph, origins: Mapping[str, Origin]) -> float:
    """DebtRank on `graph` of the origins at their losses (0 without an origin on it)."""
    shock = {n: o.size for n, o in origins.items() if n in graph and o.size > 0}
    return graph_debtrank(graph, shock).debtrank if shock else 0.0


def contagion_summary(
    world: World,
    cascade: Cascade,
    graph_before: nx.DiGraph,
    treasury_usd: Sequence[float],
    clock_start: int,
    runway_months: float | None = None,
) -> dict[str, Any]:
    """The contagion figures of a finished run (module doc). `graph_before` is the graph
    just before the first origin, `treasury_usd` the treasury's NAV per step,
    `clock_start` the step the times count from (the first origin, else the first shock);
    `runway_months` is reported when given."""
    origins = cascade.origins
    links = cascade.links
    spread = {n: k.since for n, k in links.items() if k.since > 0 and not _hit(n, k, origins)}
    at_start = [n for n, k in links.items() if k.since == 0 and not _hit(n, k, origins)]
    protocols = set(world.protocols)
    first_step = min(spread.values()) if spread else None
    last_step = max(spread.values()) if spread else None
    summary: dict[str, Any] = {
        "shock_origins": ",".join(sorted(origins)),
        "first_origin_step": min((o.step for o in origins.values()), default=None),
        "protocols_total": len(protocols),
        "protocols_distressed": len(protocols & set(spread)),
        "protocols_distressed_share": (
            len(protocols & set(spread)) / len(protocols) if protocols else 0.0
        ),
        "nodes_distressed": len(spread),
        "nodes_distressed_at_start": len(at_start),
        "distressed_unexplained": sum(1 for n in spread if links[n].depth is None),
        "cascade_depth": cascade.depth,
        "first_distress_step": first_step,
        "last_distress_step": last_step,
        "time_to_first_distress": first_step - clock_start if first_step is not None else None,
        "time_to_last_distress": last_step - clock_start if last_step is not None else None,
    }
    for name, market in world.markets.items():
        summary[columns.bad_debt_usd(name)] = math.fsum(
            v * world.usd(a) for a, v in market.bad_debt.items()
        )
    values = list(treasury_usd)
    summary["treasury_loss_usd"] = values[0] - values[-1] if values else 0.0
    if runway_months is not None:
        summary["treasury_runway_months"] = runway_months
    summary["debtrank"] = origins_debtrank(graph_before, origins)
    return summary


def _hit(node: str, link: Link, origins: Mapping[str, Origin]) -> bool:
    """Whether `node` was hit as an origin before its distress began (then its distress is
    the origin's, not spread, even when the chain reached it too)."""
    return node in origins and origins[node].step <= link.since


def annotate(graph: nx.DiGraph, cascade: Cascade) -> nx.DiGraph:
    """A copy of `graph` (the graph before the first origin) for graph.json and the report: nodes
    carry `origin` (bool), `origin_step` and `origin_size` (-1 / 0 when not one), `depth`
    (in the chain: 0 for an origin, -1 if never distressed or unexplained), `distress_step`
    (when its first distress began, -1 if never), `parent` and `channel` (how it was
    reached, "" if not); edges carry `cascade` (True on the chain's links; a link over an
    exposure built after the first origin is added with that exposure)."""
    out = graph.copy()
    for _, _, data in out.edges(data=True):
        data["cascade"] = False
    for link in cascade.links.values():
        if link.node not in out:
            out.add_node(link.node, kind="agents", value_usd=0.0)
        if link.edge is not None:
            if not out.has_edge(*link.edge):
                out.add_edge(*link.edge, weight=link.exposure_usd,
                             **{link.channel: link.exposure_usd})
            out.edges[link.edge]["cascade"] = True
    for node, data in out.nodes(data=True):
        origin = cascade.origins.get(node)
        link = cascade.links.get(node)
        data["origin"] = origin is not None
        data["origin_step"] = origin.step if origin else -1
        data["origin_size"] = origin.size if origin else 0.0
        depth = link.depth if link is not None else (0 if origin else None)
        data["depth"] = -1 if depth is None else depth
        data["distress_step"] = link.since if link is not None else -1
        data["parent"] = link.parent or "" if link is not None else ""
        data["channel"] = link.channel or "" if link is not None else ""
    return out
