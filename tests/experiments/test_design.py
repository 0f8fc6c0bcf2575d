"""Designs: grid order, Latin-hypercube strata, Saltelli layout, determinism."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments import design
from experiments.sweepfile import Axis


def test_grid_is_the_full_product_first_axis_slowest():
    axes = (Axis("a", values=(1, 2)), Axis("b", values=("x", "y", "z")))
    points = design.grid(axes)
    assert len(points) == 6
    assert points[:4] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
                          {"a": 2, "b": "x"}]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 2**32 - 1))
def test_lhs_puts_one_point_in_each_stratum_of_each_axis(n, seed):
    axes = (Axis("a", low=0.0, high=10.0), Axis("b", low=1.0, high=100.0, log=True))
    points = design.lhs(axes, n, seed)
    assert points == design.lhs(axes, n, seed)  # same seed, same points
    a = np.array([p["a"] for p in points]) / 10.0
    b = np.log(np.array([p["b"] for p in points])) / math.log(100.0)
    for u in (a, b):
        assert sorted(np.floor(u * n).astype(int)) == list(range(n))


def test_saltelli_layout_is_n_times_d_plus_2_rows_of_a_abi_b():
    unit = design.saltelli_unit(3, 8, seed=5)
    assert unit.shape == (8 * 5, 3)
    rows = unit.reshape(8, 5, 3)  # per base sample: A, AB_1, AB_2, AB_3, B
    a, b = rows[:, 0], rows[:, 4]
    for i in range(3):
        ab = rows[:, 1 + i]
        assert np.array_equal(ab[:, i], b[:, i])  # column i from B
        others = [j for j in range(3) if j != i]
        assert np.array_equal(ab[:, others], a[:, others])  # the rest from A
    assert np.array_equal(unit, design.saltelli_unit(3, 8, seed=5))
