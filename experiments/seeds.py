"""Every run's seed from one root seed, with common random numbers.

A sweep's or comparison's root seed is the entropy of a `numpy.random.SeedSequence`; the
seed of replicate k is drawn from the child `SeedSequence(root, spawn_key=(0, k))`. It
does not depend on the point, so replicate k sees the same exogenous paths (prices, gas,
agent order) at every point of a sweep and in both arms of a comparison: differences
between points are then the parameters' effect, not noise (common random numbers, Law &
Kelton, *Simulation Modeling and Analysis*, ch. 11). The seed is a plain int recorded
with the run, so `daosim run SCENARIO --seed S` reproduces any single run.
"""

from __future__ import annotations

import numpy as np

#: spawn-key branches of the root: run seeds, design sampling, bootstrap resampling.
RUNS, DESIGN, BOOTSTRAP = 0, 1, 2


def run_seed(root: int, replicate: int, point: int | None = None) -> int:
    """The scenario seed of (point, replicate); `point=None` (the default) gives common
    random numbers: the same seed for replicate k at every point."""
    if root < 0 or replicate < 0 or (point is not None and point < 0):
        raise ValueError("seeds: root, replicate and point must be >= 0")
    key = (RUNS, replicate) if point is None else (RUNS, replicate, point)
    state = np.random.SeedSequence(root, spawn_key=key).generate_state(1, dtype=np.uint32)
    return int(state[0])


def stream(root: int, branch: int) -> np.random.SeedSequence:
    """An independent seed sequence for a non-run use of the root (design, bootstrap)."""
    return np.random.SeedSequence(root, spawn_key=(branch,))


def int_seed(root: int, branch: int) -> int:
    """`stream(root, branch)` as one 32-bit int, for libraries that take an int seed."""
    return int(stream(root, branch).generate_state(1, dtype=np.uint32)[0])
