"""Experimental designs: which parameter points a sweep runs.

- grid: every combination of the axes' value lists (`itertools.product`, first axis
  slowest), for questions about a few named settings;
- lhs: a Latin hypercube of `samples` points (McKay, Beckman & Conover 1979, via
  `scipy.stats.qmc.LatinHypercube`), for covering a range evenly with few runs;
- sobol: Saltelli's scheme for first-order and total Sobol indices (Saltelli et al.
  2010, *Comput. Phys. Commun.* 181:259; SALib's `sample.sobol` without second-order
  terms): N * (D + 2) points in a fixed order that `experiments.sensitivity` relies on.

Every design is a pure function of the sweep file (its root seed seeds the sampling), so
the same file always gives the same points.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy.stats import qmc

from experiments import seeds
from experiments.sweepfile import Axis, Sweep


def points(sweep: Sweep) -> list[dict[str, Any]]:
    """The sweep's parameter points, in order: one {dotted path: value} dict each."""
    if sweep.design == "grid":
        return grid(sweep.axes)
    assert sweep.samples is not None
    if sweep.design == "lhs":
        return lhs(sweep.axes, sweep.samples, seeds.int_seed(sweep.seed, seeds.DESIGN))
    return saltelli(sweep.axes, sweep.samples, seeds.int_seed(sweep.seed, seeds.DESIGN))


def grid(axes: tuple[Axis, ...]) -> list[dict[str, Any]]:
    """Every combination of the axes' values."""
    paths = [a.path for a in axes]
    return [dict(zip(paths, combo, strict=True))
            for combo in itertools.product(*(a.values or () for a in axes))]


def lhs(axes: tuple[Axis, ...], samples: int, seed: int) -> list[dict[str, Any]]:
    """`samples` Latin-hypercube points over the axes' ranges."""
    unit = qmc.LatinHypercube(d=len(axes), seed=np.random.default_rng(seed)).random(samples)
    return _from_unit(axes, unit)


def saltelli(axes: tuple[Axis, ...], samples: int, seed: int) -> list[dict[str, Any]]:
    """Saltelli's N * (D + 2) points (rows A, AB_1..AB_D, B per base sample)."""
    return _from_unit(axes, saltelli_unit(len(axes), samples, seed))


def saltelli_unit(dims: int, samples: int, seed: int) -> np.ndarray:
    """The Saltelli design on the unit cube, in SALib's row order (needed by its
    `analyze.sobol`)."""
    from SALib.sample import sobol as salib_sobol

    problem = {"num_vars": dims, "names": [f"x{i}" for i in range(dims)],
               "bounds": [[0.0, 1.0]] * dims}
    return salib_sobol.sample(problem, samples, calc_second_order=False, seed=seed)


def _from_unit(axes: tuple[Axis, ...], unit: np.ndarray) -> list[dict[str, Any]]:
    return [{a.path: a.from_unit(float(u)) for a, u in zip(axes, row, strict=True)}
            for row in unit]
