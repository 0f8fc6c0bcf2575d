"""Regime switching: de-risk when the filtered probability of the stress regime is high.

The risky basket (its initial mix, as `vol_target`'s) holds `max_risky` of the sleeve in
calm and `stress_risky` in stress, the rest in the safe asset. The basket's stress
probability is the mix-weighted mean of the view's `regime_prob` (Hamilton's filter,
`agents.forecast`). The policy enters stress when it reaches `regime_threshold` and leaves
when it falls to `regime_exit` (default: half the threshold) - a hysteresis band, because
inside a stress spell the filter's probability dips whenever a few returns come out small
(a stress return of 2.5 calm sigmas lands within one calm sigma about 30 % of the time),
and each crossing of a single threshold would move the whole sleeve twice, paying slippage
and gas both ways. The decision is Ang & Bekaert's (2002, "International asset allocation
with regime shifts", Rev. Financial Studies 15(4)) regime-dependent allocation reduced to
two states and a switch.
"""

from __future__ import annotations

import math
from typing import Any

from agents.event_kinds import REGIME_SWITCH
from agents.policies.base import (
    Decision,
    TreasuryView,
    check_positive,
    risky_sleeve,
    sleeve_targets,
)
from agents.policies.volatility import basket_mix
from protocols.errors import ConfigError


class RegimeSwitch:
    """Hold `max_risky` of the sleeve in the risky basket, `stress_risky` in stress."""

    def __init__(self, regime_threshold: float = 0.5, regime_exit: float | None = None,
                 max_risky: float = 1.0, stress_risky: float = 0.0, band: float = 0.05,
                 assets: list[str] | None = None) -> None:
        self.threshold = check_positive("regime_threshold", regime_threshold, upper=1.0)
        if self.threshold >= 1.0:
            raise ConfigError(f"regime_threshold: must be < 1, got {regime_threshold!r}")
        self.exit = (self.threshold / 2 if regime_exit is None
                     else check_positive("regime_exit", regime_exit, upper=1.0))
        if self.exit >= self.threshold:
            raise ConfigError(f"regime_exit: must be below regime_threshold "
                              f"({self.threshold:g}), got {regime_exit!r}")
        self.max_risky = check_positive("max_risky", max_risky, upper=1.0)
        self.stress_risky = check_positive("stress_risky", stress_risky, upper=1.0,
                                           allow_zero=True)
        if self.stress_risky >= self.max_risky:
            raise ConfigError(f"stress_risky: must be below max_risky ({self.max_risky:g}), "
                              f"got {stress_risky!r}: the policy would never de-risk")
        self.band = check_positive("band", band, upper=1.0)
        self.assets = list(assets or [])
        self.stressed = False

    @classmethod
    def from_spec(cls, spec: Any) -> RegimeSwitch:
        return cls(spec.regime_threshold, spec.regime_exit, spec.max_risky, spec.stress_risky,
                   spec.band, spec.assets)

    @staticmethod
    def stress_prob(view: TreasuryView, mix: dict[str, float]) -> float:
        """The basket's stress probability (NaN until every asset of it has one)."""
        return math.fsum(w * view.regime_prob.get(a, math.nan) for a, w in mix.items())

    def decide(self, view: TreasuryView) -> Decision | None:
        risky = risky_sleeve(view, self.assets)
        if not risky:
            return None
        mix = basket_mix(view, risky)
        prob = self.stress_prob(view, mix)
        if math.isnan(prob):
            return None
        events = ()
        entering = not self.stressed and prob >= self.threshold
        leaving = self.stressed and prob <= self.exit
        if entering or leaving:
            self.stressed = entering
            share = self.stress_risky if self.stressed else self.max_risky
            events = ((REGIME_SWITCH, {"prob": prob, "risky_share": share,
                                       "state": "stress" if self.stressed else "calm"}),)
        share = self.stress_risky if self.stressed else self.max_risky
        targets = sleeve_targets(view, {a: share * m for a, m in mix.items()}, 1.0 - share)
        now = math.fsum(view.weights.get(a, 0.0) for a in risky)
        wanted = math.fsum(targets[a] for a in risky)
        if abs(now - wanted) <= self.band and not events:
            return None
        return Decision(weights=targets, events=events)
