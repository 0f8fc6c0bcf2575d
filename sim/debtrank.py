"""DebtRank: the analytic counterpart of the simulated cascade.

Battiston, Puliga, Kaushik, Tasca, Caldarelli (2012), "DebtRank: Too Central to Fail?
Financial Networks, the FED and Systemic Risk", Scientific Reports 2:541,
doi:10.1038/srep00541. With A_ij the amount node j has invested in (is exposed to) node i
and E_j the capital of j, the impact of i on j is W_ij = min(1, A_ij / E_j). Each node has a
distress level h_i in [0, 1] and a state s_i in {U(ndistressed), D(istressed),
I(nactive)}. Starting from an initial shock h(1) (the nodes hit get state D):

    h_j(t) = min(1, h_j(t-1) + sum_{i: s_i(t-1) = D} W_ij h_i(t-1))
    s_j(t) = D if h_j(t) > 0 and s_j(t-1) != I;  I if s_j(t-1) = D;  else s_j(t-1)

so each node propagates its distress exactly once (no reverberation along cycles). After
the last step T (no node in D), the DebtRank of the shock is the value-weighted distress it
induced beyond the initial one:

    R = sum_j h_j(T) v_j - sum_j h_j(1) v_j,    v_j = economic value share (sum 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike

from protocols.errors import DaosimError

UNDISTRESSED, DISTRESSED, INACTIVE = 0, 1, 2


@dataclass(frozen=True)
class DebtRankResult:
    """`debtrank` R, the final distress `h` per node, `rounds` of propagation taken."""

    debtrank: float
    h: np.ndarray
    rounds: int


def impact_matrix(exposure: ArrayLike, equity: ArrayLike) -> np.ndarray:
    """W_ij = min(1, exposure_ij / equity_j); a node without equity (<= 0) is wiped out by
    any exposure (W = 1 where exposure > 0)."""
    exposure = np.asarray(exposure, dtype=float)
    equity = np.asarray(equity, dtype=float)
    n = equity.shape[0]
    if exposure.shape != (n, n):
        raise DaosimError(f"exposure: must be {n}x{n} (one row and column per node), "
                          f"got {exposure.shape}")
    if (exposure < 0).any() or not np.isfinite(exposure).all():
        raise DaosimError("exposure: entries must be finite and >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(equity > 0, exposure / np.where(equity > 0, equity, 1.0), np.inf)
    w = np.where(exposure > 0, np.minimum(w, 1.0), 0.0)
    np.fill_diagonal(w, 0.0)
    return w


def debtrank(impact: ArrayLike, shock: ArrayLike, value: ArrayLike) -> DebtRankResult:
    """Run the S/D/I dynamics on impact matrix `impact` (W_ij: impact of i on j) from the
    initial distress `shock` (h(1), in [0, 1]) with economic values `value` (normalized
    here to shares)."""
    w = np.asarray(impact, dtype=float)
    h = np.asarray(shock, dtype=float).copy()
    v = np.asarray(value, dtype=float)
    n = h.shape[0]
    if w.shape != (n, n) or v.shape != (n,):
        raise DaosimError(f"impact, value: must be {n}x{n} and {n} long for {n} shocked nodes")
    if ((h < 0) | (h > 1)).any():
        raise DaosimError("shock: distress levels must lie in [0, 1]")
    if (v < 0).any() or not np.isfinite(v).all():
        raise DaosimError("value: economic values must be finite and >= 0")
    total = v.sum()
    shares = v / total if total > 0 else np.zeros(n)
    state = np.where(h > 0, DISTRESSED, UNDISTRESSED)
    initial = h.copy()
    rounds = 0
    while (state == DISTRESSED).any():
        active = state == DISTRESSED
        h_new = np.minimum(1.0, h + (h * active) @ w)
        state = np.where(active, INACTIVE,
                         np.where((h_new > 0) & (state != INACTIVE), DISTRESSED, state))
        h = h_new
        rounds += 1
    return DebtRankResult(float(h @ shares - initial @ shares), h, rounds)


def graph_debtrank(
    graph: nx.DiGraph,
    shock: Mapping[str, float],
    *,
    exposure: str = "weight",
    equity: str = "value_usd",
    nodes: Sequence[str] | None = None,
) -> DebtRankResult:
    """DebtRank of `shock` (node -> initial distress) on a dependency graph whose edge
    A -> B carries B's exposure to A in attribute `exposure` and whose nodes carry their
    value in `equity` (used both as the loss buffer E_j and the economic weight v_j)."""
    order = list(graph.nodes) if nodes is None else list(nodes)
    unknown = sorted(set(shock) - set(order))
    if unknown:
        raise DaosimError(f"shock: unknown nodes {unknown}")
    a = nx.to_numpy_array(graph, nodelist=order, weight=exposure)
    values = np.array([float(graph.nodes[n].get(equity, 0.0)) for n in order])
    h0 = np.array([float(shock.get(n, 0.0)) for n in order])
    return debtrank(impact_matrix(a, values), h0, values)
