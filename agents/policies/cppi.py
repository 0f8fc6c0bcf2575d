"""Constant proportion portfolio insurance (Black & Jones 1987, "Simplifying portfolio
insurance", J. Portfolio Management 14(1); Perold & Sharpe 1988, "Dynamic strategies for
asset allocation", Financial Analysts J. 44(1)).

Floor F = floor x initial NAV; cushion C = NAV - F; risky exposure E = m x C, clipped to
[0, max_risky x sleeve]. Rebalanced every `every` steps (schedule) and whenever the exposure
is off target by more than `trigger` x NAV. With continuous trading NAV never falls below F;
a price gap larger than 1/m between rebalances breaches it - reported as a `floor_breach`
event (once per breach episode, with the gap in USD), after which the policy holds only the
safe asset (the cushion is gone).
"""

from __future__ import annotations

from typing import Any

from agents.policies.base import (
    Decision,
    TreasuryView,
    check_positive,
    risky_sleeve,
    sleeve_targets,
)
from agents.policies.volatility import basket_mix
from protocols.errors import ConfigError


class CPPI:
    def __init__(self, floor: float = 0.8, multiplier: float = 3.0, every: int = 168,
                 trigger: float = 0.05, max_risky: float = 1.0,
                 assets: list[str] | None = None) -> None:
        self.floor = check_positive("floor", floor)
        if self.floor >= 1:
            raise ConfigError(f"floor: must be < 1 (a share of the initial NAV), got {floor!r}")
        self.multiplier = check_positive("multiplier", multiplier)
        if self.multiplier < 1:
            raise ConfigError(f"multiplier: must be >= 1, got {multiplier!r}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"every: must be an integer >= 1, got {every!r}")
        self.every = every
        self.trigger = check_positive("trigger", trigger, upper=1.0, allow_zero=True)
        self.max_risky = check_positive("max_risky", max_risky, upper=1.0)
        self.assets = list(assets or [])
        self.breached = False

    @classmethod
    def from_spec(cls, spec: Any) -> CPPI:
        return cls(spec.floor, spec.multiplier, spec.every, spec.trigger, spec.max_risky,
                   spec.assets)

    def floor_usd(self, view: TreasuryView) -> float:
        return self.floor * view.initial_nav_usd

    def decide(self, view: TreasuryView) -> Decision | None:
        risky = risky_sleeve(view, self.assets)
        if not risky or view.free_usd <= 0:
            return None
        floor = self.floor_usd(view)
        cushion = view.nav_usd - floor
        events: tuple = ()
        if cushion < 0 and not self.breached:
            events = (("floor_breach", {"floor_usd": floor, "nav_usd": view.nav_usd,
                                        "gap_usd": -cushion}),)
        self.breached = cushion < 0
        others = sum(w for k, w in view.weights.items()
                     if k not in risky and k != view.safe_asset and w > 0)
        sleeve_usd = view.free_usd * max(0.0, 1.0 - others)
        if sleeve_usd <= 0:
            return Decision(events=events) if events else None
        exposure = min(max(self.multiplier * cushion, 0.0), self.max_risky * sleeve_usd)
        now = view.free_usd * sum(view.weights.get(a, 0.0) for a in risky)
        due = view.step % self.every == 0 or abs(now - exposure) > self.trigger * view.nav_usd
        if not due or (abs(now - exposure) < 1e-12 * view.nav_usd):
            return Decision(events=events) if events else None
        share = exposure / sleeve_usd
        mix = basket_mix(view, risky)
        targets = sleeve_targets(view, {a: share * m for a, m in mix.items()}, 1.0 - share)
        return Decision(weights=targets, events=events)
