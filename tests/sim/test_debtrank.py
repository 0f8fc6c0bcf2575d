"""DebtRank (Battiston et al. 2012) against hand-computed values and its invariants."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import DaosimError
from sim.debtrank import debtrank, graph_debtrank, impact_matrix

# Four nodes; exposure[i, j] = what j has at stake in i. 1 and 2 are exposed to each other.
EXPOSURE = np.array([
    [0.0, 30.0, 0.0, 0.0],
    [0.0, 0.0, 80.0, 20.0],
    [0.0, 50.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0],
])
EQUITY = np.array([100.0, 60.0, 100.0, 40.0])


def test_impact_matrix_is_exposure_over_the_exposed_nodes_equity_capped_at_one():
    w = impact_matrix(EXPOSURE, EQUITY)
    assert w[0, 1] == pytest.approx(0.5)  # 30 / 60
    assert w[1, 2] == pytest.approx(0.8)  # 80 / 100
    assert w[2, 1] == pytest.approx(50 / 60)
    assert w[1, 3] == pytest.approx(0.5)  # 20 / 40
    assert impact_matrix([[0, 500.0], [0, 0]], [1.0, 100.0])[0, 1] == 1.0  # capped
    assert impact_matrix([[0, 1.0], [0, 0]], [1.0, 0.0])[0, 1] == 1.0  # no equity: wiped out


def test_four_node_network_with_a_cycle_gives_the_hand_value():
    # t1: h = (.6, 0, 0, 0), node 0 distressed.  t2: h1 = .5 * .6 = .3.
    # t3: h2 = .8 * .3 = .24, h3 = .5 * .3 = .15 (node 1 now inactive).
    # t4: h1 = .3 + (50/60) * .24 = .5 - node 1 absorbs the loss but never re-propagates.
    # R = (.6*100 + .5*60 + .24*100 + .15*40)/300 - .6*100/300 = 60/300 = 0.2.
    result = debtrank(impact_matrix(EXPOSURE, EQUITY), [0.6, 0, 0, 0], EQUITY)
    np.testing.assert_allclose(result.h, [0.6, 0.5, 0.24, 0.15])
    assert result.debtrank == pytest.approx(0.2)
    assert result.rounds == 3


def test_three_node_chain_gives_the_hand_value():
    # A -> B (B has 50 of its 100 in A), B -> C (C has 200 in B, above its 100: W = 1).
    exposure = [[0, 50.0, 0], [0, 0, 200.0], [0, 0, 0]]
    result = debtrank(impact_matrix(exposure, [100.0, 100.0, 100.0]), [1, 0, 0], [2, 1, 1])
    np.testing.assert_allclose(result.h, [1.0, 0.5, 0.5])
    assert result.debtrank == pytest.approx(0.25)  # .5*.25 + .5*.25


def test_graph_form_matches_the_matrix_form():
    graph = nx.DiGraph()
    names = ["a", "b", "c", "d"]
    for name, value in zip(names, EQUITY, strict=True):
        graph.add_node(name, value_usd=float(value))
    for i, j in zip(*np.nonzero(EXPOSURE), strict=True):
        graph.add_edge(names[i], names[j], weight=float(EXPOSURE[i, j]))
    result = graph_debtrank(graph, {"a": 0.6})
    assert result.debtrank == pytest.approx(0.2)
    with pytest.raises(DaosimError, match="shock: unknown nodes"):
        graph_debtrank(graph, {"zz": 0.5})


@pytest.mark.parametrize(
    "shock, value, message",
    [([1.5, 0, 0, 0], EQUITY, "shock"), ([0.5, 0, 0, 0], -EQUITY, "value"),
     ([0.5, 0], EQUITY, "impact, value")],
)
def test_bad_inputs_are_named(shock, value, message):
    with pytest.raises(DaosimError, match=f"^{message}"):
        debtrank(impact_matrix(EXPOSURE, EQUITY), shock, value)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 6),
    data=st.data(),
)
def test_debtrank_is_bounded_and_distress_only_grows(n, data):
    floats = st.floats(0.0, 100.0, allow_nan=False)
    exposure = np.array(data.draw(st.lists(floats, min_size=n * n, max_size=n * n))).reshape(n, n)
    equity = np.array(data.draw(st.lists(st.floats(1.0, 100.0), min_size=n, max_size=n)))
    shock = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    result = debtrank(impact_matrix(exposure, equity), shock, equity)
    shares = equity / equity.sum()
    assert (result.h >= shock - 1e-12).all() and (result.h <= 1.0).all()
    assert -1e-12 <= result.debtrank <= 1.0 - shock @ shares + 1e-12
    assert result.rounds <= n  # every node propagates at most once
    # Without exposures nothing spreads.
    assert debtrank(impact_matrix(np.zeros((n, n)), equity), shock, equity).debtrank == 0.0
