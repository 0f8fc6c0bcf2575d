"""Sobol indices recover the Ishigami function's analytic values."""

import math

import numpy as np
import pandas as pd
import pytest

from experiments import design
from experiments.sensitivity import sobol_indices, sweep_indices
from experiments.sweepfile import Axis


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[list[float], list[float]]:
    # Analytic partial variances for x_i ~ U(-pi, pi) (Ishigami & Homma 1990; Saltelli et
    # al. 2008, *Global Sensitivity Analysis: The Primer*, sec. 4.7):
    pi4, pi8 = math.pi**4, math.pi**8
    v1 = 0.5 * (1 + b * pi4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return [v1 / v, v2 / v, 0.0], [(v1 + v13) / v, v2 / v, v13 / v]


def test_analytic_values_are_the_published_ones():
    s1, st = ishigami_indices()
    assert s1[:2] == pytest.approx([0.3139, 0.4424], abs=1e-4)
    assert st == pytest.approx([0.5576, 0.4424, 0.2437], abs=1e-4)


def test_ishigami_first_order_and_total_indices_are_recovered():
    unit = design.saltelli_unit(3, 4096, seed=3)
    y = ishigami(-math.pi + 2 * math.pi * unit)
    table = sobol_indices(["x1", "x2", "x3"], y, seed=1)
    s1, st = ishigami_indices()
    assert table["S1"].to_numpy() == pytest.approx(s1, abs=0.03)
    assert table["ST"].to_numpy() == pytest.approx(st, abs=0.03)
    assert (table["S1_conf"] > 0).all() and (table["S1_conf"] < 0.1).all()


def test_constant_output_has_zero_indices_and_bad_shapes_are_refused():
    table = sobol_indices(["a", "b"], np.ones(4 * 4), seed=0)
    assert (table[["S1", "ST"]].to_numpy() == 0).all()
    with pytest.raises(ValueError, match=r"N \* \(D \+ 2\)"):
        sobol_indices(["a", "b"], np.ones(7), seed=0)
    with pytest.raises(ValueError, match="finite"):
        sobol_indices(["a", "b"], np.array([1.0, np.nan, 2, 3]), seed=0)


def test_sweep_indices_average_replicates_and_skip_metrics_with_failed_points():
    axes = (Axis("x1", low=-math.pi, high=math.pi), Axis("x2", low=-math.pi, high=math.pi),
            Axis("x3", low=-math.pi, high=math.pi))
    unit = design.saltelli_unit(3, 1024, seed=2)
    y = ishigami(-math.pi + 2 * math.pi * unit)
    n = len(y)
    noise = np.where(np.arange(2 * n) % 2, 0.5, -0.5)  # cancels in each point's mean
    runs = pd.DataFrame({"point": np.repeat(np.arange(n), 2), "good": np.repeat(y, 2) + noise,
                         "broken": np.r_[np.nan, np.ones(2 * n - 1)]})
    table = sweep_indices(runs, axes, n, ["good", "broken"], seed=0)
    assert set(table["metric"]) == {"good"}
    assert table["ST"].to_numpy() == pytest.approx(ishigami_indices()[1], abs=0.06)
