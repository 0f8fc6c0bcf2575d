"""Health-factor snapshots of every lending market's book, taken at the moments a report
compares: just before the first shock, right after it reaches the oracles (before any
liquidator acts), and at the end of the run. Without shocks: the start and the end.

Only positions with debt are kept (a position without debt has HF = inf and cannot be
liquidated); a snapshot is one vectorized `health_factors()` call per market.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from protocols.world import World

BEFORE, AFTER, END, START = "before shock", "after shock", "end of run", "start"
COLUMNS = ["moment", "step", "market", "position", "health_factor"]


class HealthSnapshots:
    """Collects the snapshots of one run; `frame()` is the table `health.parquet` holds."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def take(self, world: World, moment: str, step: int) -> None:
        for name, market in world.markets.items():
            hf = market.health_factors()
            indebted = np.flatnonzero(np.isfinite(hf))
            self._parts.append(pd.DataFrame({
                "moment": moment, "step": step, "market": name,
                "position": indebted, "health_factor": hf[indebted],
            }))

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=COLUMNS)
        return pd.concat(self._parts, ignore_index=True)
