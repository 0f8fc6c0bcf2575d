"""The cascade as a causal chain: which distressed neighbour preceded each new distress, and
through which exposure.

When a node becomes distressed (its first `distress` event; `since` is the step its cause
first held) its *parent* is the neighbour on the dependency graph, through an edge either
way, that was already in the chain: an origin hit at or before that step (`sim.origins`), or
a node whose own distress began no later and was linked first. Distress travels both ways
along an exposure A -> B (B exposed to A): B loses when A does (collateral, holdings, an
oracle reading A's pool), and a distressed B's forced sales - liquidations of A's token, a
treasury selling into A - hit A. Among the candidates the parent is the one the node's loss
is traced to - a lending market's bad debt to the issuer of the collateral it was written
off against (`blame`) - else the one joined by the largest exposure (edge `weight`, USD), on
the graph just before the first origin or on the graph of the step the distress was logged,
whichever is larger: exposures built after the shock count too. Within a step distress can
travel several links (rounds run inside it), so the nodes of one step are linked in passes,
nearest the chain first: a node joins once a neighbour has, which keeps the chain acyclic
and step length out of it. A node with no candidate is *unexplained* (distress the graph
does not connect to any origin). A node's depth is its parent's + 1. An origin whose shock
destroyed value (a crash, a drain: size > 0) is depth 0 from the step it was hit: its
distress is its own. An origin that destroyed nothing (a frozen feed, size 0) is depth 0
only when nothing reached it; reached through a parent, it continues the chain, so the run's
cascade depth - the longest chain from an origin - does not collapse when a crash travels
past a frozen feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import networkx as nx

from sim.graph import CHANNELS
from sim.origins import Origin


@dataclass(frozen=True)
class Link:
    """`node` became distressed at step `since` through `parent` (None: an origin, or
    unexplained when `depth` is None), over edge `edge` (source, target) whose largest
    channel was `channel` and whose exposure was `exposure_usd`."""

    node: str
    since: int
    parent: str | None
    depth: int | None
    edge: tuple[str, str] | None = None
    channel: str | None = None
    exposure_usd: float = 0.0


class Cascade:
    """Builds the chain as distress is logged (module doc)."""

    def __init__(self, origins: Mapping[str, Origin],
                 blame: Callable[[str], Mapping[str, float]] | None = None) -> None:
        self.origins = dict(origins)
        self._blame = blame or (lambda node: {})
        self.links: dict[str, Link] = {}
        self.before: nx.DiGraph | None = None  # the graph just before the first origin

    def observe(self, first_distress: Iterable[tuple[str, int]],
                graph_now: Callable[[], nx.DiGraph]) -> list[Link]:
        """Link every node in `first_distress` ((node, since) of nodes logged distressed for
        the first time this step); `graph_now()` is the graph as it stands (asked for only
        on a step with new distress). Returns the new links."""
        pending = sorted((since, node) for node, since in first_distress
                         if node not in self.links)
        if not pending:
            return []
        graphs = [g for g in (self.before, graph_now()) if g is not None]
        # hit by a shock that destroyed value: its own cause, whatever its neighbours did
        out = [Link(n, s, None, 0) for s, n in pending if self._hit(n, s, losing=True)]
        for link in out:
            self.links[link.node] = link
        pending = [(s, n) for s, n in pending if n not in self.links]
        while pending:
            waiting = {node for _, node in pending}
            found = [self._parent(node, since, graphs, waiting) for since, node in pending]
            found = [k for k in found if k.depth is not None]
            if not found:  # nobody reached: the origins among them were hit from outside
                found = [Link(n, s, None, 0) for s, n in pending if self._hit(n, s)]
                if not found:
                    found = [Link(n, s, None, None) for s, n in pending]  # unexplained
            for link in found:
                self.links[link.node] = link
            out += found
            pending = [(s, n) for s, n in pending if n not in self.links]
        return out

    def _hit(self, node: str, since: int, losing: bool = False) -> bool:
        """Whether `node` was hit as an origin by `since` (`losing`: with a loss > 0)."""
        origin = self.origins.get(node)
        return origin is not None and origin.step <= since and (origin.size > 0 or not losing)

    def _chained(self, node: str, since: int, waiting: set[str]) -> int | None:
        """`node`'s depth if it can be the parent of a distress that began at `since`: the
        depth of its own linked distress if that began no later, else 0 if it was hit as an
        origin by then - unless its own link is still being worked out (`waiting`)."""
        link = self.links.get(node)
        if link is not None:
            return link.depth if link.depth is not None and link.since <= since else None
        return 0 if node not in waiting and self._hit(node, since) else None

    def _parent(self, node: str, since: int, graphs: list[nx.DiGraph], waiting: set[str]
                ) -> Link:
        candidates = []
        blame = self._blame(node)
        for graph in graphs:
            if node not in graph:
                continue
            edges = [(p, node) for p in graph.predecessors(node)]
            edges += [(node, s) for s in graph.successors(node)]
            for edge in edges:
                other = edge[0] if edge[1] == node else edge[1]
                if self._chained(other, since, waiting) is not None:
                    data = graph.edges[edge]
                    candidates.append((-blame.get(other, 0.0), -float(data.get("weight", 0.0)),
                                       other, edge, data))
        if not candidates:
            return Link(node, since, None, None)
        # the loss traced to it, else the largest exposure; ties go to the first name
        _, weight, parent, edge, data = min(candidates, key=lambda c: c[:4])
        channel = max(CHANNELS, key=lambda c: data.get(c, 0.0))
        depth = self._chained(parent, since, waiting) + 1
        return Link(node, since, parent, depth, edge, channel, -weight)

    # -- the run's figures ---------------------------------------------------------------
    @property
    def depth(self) -> int:
        """The longest chain from an origin (0 without spread)."""
        return max((k.depth for k in self.links.values() if k.depth), default=0)

    def unexplained(self) -> list[str]:
        return sorted(n for n, k in self.links.items() if k.depth is None)

