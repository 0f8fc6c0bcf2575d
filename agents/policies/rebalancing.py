"""Weight-keeping policies: buy-and-hold, calendar and threshold (band) rebalancing.

Calendar and band rebalancing are the two classic rules for keeping a portfolio near its
strategic weights (e.g. Daryanani 2008, "Opportunistic rebalancing", J. Financial Planning:
a trade happens when any weight leaves a +-band around its target; the calendar rule trades
every N periods whatever the drift). Targets default to the treasury's weights at the start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agents.policies.base import Decision, TreasuryView, check_positive
from protocols.errors import ConfigError


def _check_weights(weights: Mapping[str, float] | None) -> dict[str, float] | None:
    if not weights:
        return None
    for key, w in weights.items():
        check_positive(f"weights.{key}", w, upper=1.0, allow_zero=True)
    total = math.fsum(weights.values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"weights: must sum to 1, got {total:g}")
    return dict(weights)


class Static:
    """Buy-and-hold: never trades (opex is still paid, selling what it must)."""

    @classmethod
    def from_spec(cls, spec: Any) -> Static:
        return cls()

    def decide(self, view: TreasuryView) -> None:
        return None


class Calendar:
    """Rebalance to `weights` (default: the initial weights) every `every` steps."""

    def __init__(self, weights: Mapping[str, float] | None = None, every: int = 168) -> None:
        self.weights = _check_weights(weights)
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"every: must be an integer >= 1, got {every!r}")
        self.every = every

    @classmethod
    def from_spec(cls, spec: Any) -> Calendar:
        return cls(spec.weights or None, spec.every)

    def decide(self, view: TreasuryView) -> Mapping[str, float] | None:
        if view.step % self.every:
            return None
        return self.weights or dict(view.initial_weights)


class Threshold:
    """Rebalance to `weights` when any weight is more than `band` (absolute) off target."""

    def __init__(self, weights: Mapping[str, float] | None = None, band: float = 0.05) -> None:
        self.weights = _check_weights(weights)
        self.band = check_positive("band", band, upper=1.0)

    @classmethod
    def from_spec(cls, spec: Any) -> Threshold:
        return cls(spec.weights or None, spec.band)

    def decide(self, view: TreasuryView) -> Decision | None:
        target = self.weights or dict(view.initial_weights)
        keys = set(target) | set(view.weights)
        drift = max(abs(view.weights.get(k, 0.0) - target.get(k, 0.0)) for k in keys)
        if drift <= self.band:
            return None
        return Decision(weights=target)
