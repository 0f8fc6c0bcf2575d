"""Shortfall marked to market, round by round: what each lending market's insolvent
positions' debt exceeds their collateral by (`protocols.lending.health`), at the traded
off-chain prices of every round, so that a crash inside a step is seen at its worst and the
figure does not depend on how often steps sample it.

Valuing every position every round would cost the whole book each round. A screen keeps
quiet rounds cheap and stays exact: at a full valuation the meter keeps the positions whose
collateral is worth less than SCREEN times their debt. A position outside that set cannot
be insolvent until some price has moved SCREEN times more than another since (collateral
falls at most by the smallest price ratio, debt rises at most by the largest), so while
max/min of the price ratios stays below SCREEN and the book is unchanged (the market's
`version`), valuing the set is the whole answer. Otherwise the meter values the whole book
again and re-screens.
"""

from __future__ import annotations

import numpy as np

from protocols.lending import LendingMarket
from protocols.lending.health import position_values
from protocols.world import World

#: Collateral-to-debt ratio under which a position is watched every round (see module doc).
SCREEN = 1.5


class ShortfallMeter:
    """Per market: the largest shortfall seen in the current step's rounds, and the shortfall
    now."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._watch: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}  # rows, prices, version
        self._peak: dict[str, float] = {}

    def start_step(self) -> None:
        """Forget the last step's peaks; value every book (before the step's rounds)."""
        self._peak = {name: self._full(name) for name in self.world.markets}

    def observe(self) -> None:
        """Value every market at this round's prices and keep the step's peak."""
        for name, market in self.world.markets.items():
            rows, base, version = self._watch[name]
            prices = self._prices(market)
            ratios = prices / base
            if market.version != version or ratios.max() >= SCREEN * ratios.min():
                value = self._full(name)
            elif rows.size:
                value = _shortfall(market, prices, rows)
            else:
                continue  # nobody near insolvency: 0, and the peak is at least that
            self._peak[name] = max(self._peak.get(name, 0.0), value)

    def now(self, name: str) -> float:
        """The shortfall of market `name` at today's prices and book."""
        return self._full(name)

    def step_peak(self, name: str) -> float:
        """The largest shortfall of market `name` in this step's rounds and now."""
        return max(self._peak.get(name, 0.0), self.now(name))

    def _full(self, name: str) -> float:
        market = self.world.markets[name]
        prices = self._prices(market)
        collateral, debt = position_values(market, prices)
        self._watch[name] = (
            np.flatnonzero(collateral < SCREEN * debt), prices, market.version
        )
        return float(np.maximum(debt - collateral, 0.0).sum())

    def _prices(self, market: LendingMarket) -> np.ndarray:
        return np.array([self.world.usd(a) for a in market.assets])


def _shortfall(market: LendingMarket, prices: np.ndarray, rows: np.ndarray) -> float:
    collateral, debt = position_values(market, prices, rows)
    return float(np.maximum(debt - collateral, 0.0).sum())
