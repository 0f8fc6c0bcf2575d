"""Shortfall marked to market, round by round: what each lending market's insolvent
positions' debt exceeds their collateral by (`protocols.lending.health`), at the traded
off-chain prices of every round - as the prices move, before liquidators turn it into bad
debt, and as the round ends - so that a crash inside a step is seen at its worst and the
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

from typing import NamedTuple

import numpy as np

from protocols.lending import LendingMarket
from protocols.lending.health import position_values
from protocols.world import World

#: Collateral-to-debt ratio under which a position is watched every round (see module doc):
#: a fifth above insolvency - about the liquidatable positions of a 0.83 threshold - so the
#: watched set stays small, while a 20 % move of one price against another inside a step
#: (a crash) sends the meter back to the whole book.
SCREEN = 1.2


class _Watch(NamedTuple):
    """What a full valuation leaves for the next rounds: the watched positions' collateral
    and debt per asset (balances times indices, fixed while `version` is), and the prices
    they were screened at."""

    collateral: np.ndarray
    debt: np.ndarray
    prices: np.ndarray
    version: int


class ShortfallMeter:
    """Per market: the largest shortfall seen in the current step's rounds, and the shortfall
    now."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._watch: dict[str, _Watch] = {}
        self._peak: dict[str, float] = {}
        self._seen: dict[str, tuple[int, bytes]] = {}  # (version, prices) of the last look

    def start_step(self) -> None:
        """Forget the last step's peaks (the book as the step starts is the last one's end,
        counted there)."""
        self._peak = {}

    def observe(self) -> None:
        """Value every market at this round's prices and keep the step's peak."""
        for name, market in self.world.markets.items():
            watch = self._watch.get(name)
            if watch is None:
                self._peak[name] = max(self._peak.get(name, 0.0), self._full(name))
                continue
            prices = self._prices(market)
            seen = (market.version, prices.tobytes())
            if self._seen.get(name) == seen:
                continue  # nothing moved since the last look: the same value, already kept
            self._seen[name] = seen
            ratios = prices / watch.prices
            if market.version != watch.version or ratios.max() >= SCREEN * ratios.min():
                value = self._full(name)
            elif watch.debt.size:
                gap = watch.debt @ prices - watch.collateral @ prices
                value = float(np.maximum(gap, 0.0).sum())
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
        rows = np.flatnonzero(collateral < SCREEN * debt)
        liquidity = np.array([market.exchange_rate(a) for a in market.assets])
        borrow = np.array([market.borrow_index(a) for a in market.assets])
        self._watch[name] = _Watch(
            np.take(market.collateral_scaled, rows, axis=0) * liquidity,
            np.take(market.debt_scaled, rows, axis=0) * borrow,
            prices,
            market.version,
        )
        return float(np.maximum(debt - collateral, 0.0).sum())

    def _prices(self, market: LendingMarket) -> np.ndarray:
        return np.array([self.world.usd(a) for a in market.assets])
