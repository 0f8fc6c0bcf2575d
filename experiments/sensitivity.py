"""First-order and total Sobol indices of each metric over a Sobol (Saltelli) design.

S1_i is the share of a metric's variance explained by parameter i alone; ST_i the share
it is involved in, interactions included (Sobol' 2001; estimators of Saltelli et al.
2010 for S1 and Jansen 1999 for ST, as implemented in SALib 1.6 `analyze.sobol`, with
bootstrap confidence intervals). The model output at a point is the mean over its
replicates: with common random numbers that keeps the seed noise out of the comparison
between points, so the indices describe the parameters, not the noise.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from experiments.sweepfile import Axis


def sobol_indices(names: Sequence[str], outputs: np.ndarray, seed: int,
                  confidence: float = 0.95) -> pd.DataFrame:
    """Indices of one output vector laid out as `design.saltelli_unit` produced it
    (N * (D + 2) values): columns parameter, S1, S1_conf, ST, ST_conf (conf = half-width
    of the `confidence` bootstrap interval)."""
    from SALib.analyze import sobol as salib_sobol

    d = len(names)
    y = np.asarray(outputs, dtype=float)
    if y.ndim != 1 or y.size == 0 or y.size % (d + 2):
        raise ValueError(f"outputs: need N * (D + 2) = N * {d + 2} values, got {y.size}")
    if not np.all(np.isfinite(y)):
        raise ValueError("outputs: every point needs a finite value (a run failed?)")
    problem = {"num_vars": d, "names": list(names), "bounds": [[0.0, 1.0]] * d}
    if np.ptp(y) == 0:
        zeros = np.zeros(d)
        return pd.DataFrame({"parameter": list(names), "S1": zeros, "S1_conf": zeros,
                             "ST": zeros, "ST_conf": zeros})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = salib_sobol.analyze(problem, y, calc_second_order=False,
                                     conf_level=confidence, seed=seed)
    return pd.DataFrame({"parameter": list(names), "S1": result["S1"],
                         "S1_conf": result["S1_conf"], "ST": result["ST"],
                         "ST_conf": result["ST_conf"]})


def sweep_indices(runs: pd.DataFrame, axes: Sequence[Axis], points: int, metrics: Sequence[str],
                  seed: int) -> pd.DataFrame:
    """Indices of each metric of a finished Sobol sweep (`points` = N * (D + 2));
    a metric with a failed run gets no row (the estimator needs every point)."""
    names = [a.path for a in axes]
    grouped = runs.groupby("point")[list(metrics)]
    # A point with any failed replicate has no value: averaging the survivors would mix
    # seed sets across points and break the common-random-numbers comparison.
    means = grouped.mean().where(grouped.count().eq(grouped.size(), axis=0))
    means = means.reindex(range(points))
    tables = []
    for metric in metrics:
        if metric not in means:
            continue
        y = means[metric].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):
            continue
        tables.append(sobol_indices(names, y, seed).assign(metric=metric))
    if not tables:
        return pd.DataFrame(columns=["metric", "parameter", "S1", "S1_conf", "ST", "ST_conf"])
    table = pd.concat(tables, ignore_index=True)
    return table[["metric", "parameter", "S1", "S1_conf", "ST", "ST_conf"]]
