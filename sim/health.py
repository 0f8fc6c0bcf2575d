"""Health-factor snapshots of every lending market's book, taken at the moments a report
compares: just before the first shock, right after it reaches the oracles (before any
liquidator acts), and at the end of the run. Without shocks: the start and the end.

Only positions with debt are kept (a position without debt has HF = inf and cannot be
liquidated); a snapshot is one vectorized `health_factors()` call per market.

Every step's book as a histogram too (`health_steps.parquet`, the dashboard's health-factor
distribution at a step): at the end of every step (and at step 0, the configured book) the
indebted positions of each market counted, with their debt in USD at the market's oracle
prices, into the fixed bins `HF_EDGES` - [low, high), so HF = 1.0 is in the first bin that
cannot be liquidated (Aave v3 liquidates below 1). Fine bins around 1, where liquidations
start, coarse above 1.5. One `health_factors()` call and two `bincount`s per market a step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from protocols.world import World

BEFORE, AFTER, END, START = "before shock", "after shock", "end of run", "start"
COLUMNS = ["moment", "step", "market", "position", "health_factor"]
#: bin edges of the per-step histogram (module doc); the last bin is [3, inf)
HF_EDGES = np.array([0.0, 0.5, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.35, 1.5, 2.0, 3.0,
                     np.inf])
STEP_COLUMNS = ["step", "market", "hf_low", "hf_high", "positions", "debt_usd"]


def hf_histogram(hf: np.ndarray, debt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions and their debt (USD) per bin of `HF_EDGES` ([low, high)) of health factors
    `hf` >= 0 owing `debt`; an infinite HF (no debt) is not counted. The whole book at once,
    no copy of its indebted rows: an inf lands past the last bin, which is dropped."""
    bins = len(HF_EDGES) - 1
    where = np.searchsorted(HF_EDGES, hf, side="right") - 1
    return (np.bincount(where, minlength=bins + 1)[:bins],
            np.bincount(where, weights=debt, minlength=bins + 1)[:bins].astype(float))


class HealthSnapshots:
    """Collects the snapshots of one run; `frame()` is the table `health.parquet` holds."""

    def __init__(self, world: World | None = None) -> None:
        self._parts: list[pd.DataFrame] = []
        #: per-step histograms: (step, market, positions per bin, debt USD per bin)
        self._steps: list[tuple[int, str, np.ndarray, np.ndarray]] = []
        if world is not None:
            self.take_step(world, 0)

    def take_step(self, world: World, step: int) -> None:
        """Every market's indebted positions counted into `HF_EDGES` at `step` (module
        doc)."""
        for name, market in world.markets.items():
            hf = market.health_factors()
            prices = np.array([market.oracles[a].price * market.borrow_index(a)
                               for a in market.assets])
            self._steps.append((step, name, *hf_histogram(hf, market.debt_scaled @ prices)))

    def steps_frame(self) -> pd.DataFrame:
        """The per-step histograms, long form (`STEP_COLUMNS`): one row per step, market and
        bin, empty bins included (a fixed shape: the dashboard pivots it without gaps)."""
        bins = len(HF_EDGES) - 1
        rows = len(self._steps)
        return pd.DataFrame({
            "step": np.repeat([s[0] for s in self._steps], bins).astype("int64"),
            "market": np.repeat(np.array([s[1] for s in self._steps], dtype=object), bins),
            "hf_low": np.tile(HF_EDGES[:-1], rows),
            "hf_high": np.tile(HF_EDGES[1:], rows),
            "positions": np.concatenate([s[2] for s in self._steps] or [[]]).astype("int64"),
            "debt_usd": np.concatenate([s[3] for s in self._steps] or [[]]).astype(float),
        })

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
