"""Volatility-aware policies: volatility targeting and risk parity.

- Volatility targeting (Moreira & Muir 2017, "Volatility-managed portfolios", J. Finance
  72(4)): hold w = min(target_vol / sigma_hat, max_risky) of the sleeve in the risky basket,
  the rest in the safe asset, where sigma_hat is the EWMA volatility of the basket's returns
  (RiskMetrics, half-life in steps), annualized.
- Risk parity (Maillard, Roncalli & Teiletche 2010, "The properties of equally weighted risk
  contribution portfolios", J. Portfolio Management 36(4)): `inverse_vol` sets
  w_i proportional to 1/sigma_i; `erc` solves w_i (Sigma w)_i = w' Sigma w / n, via Newton's
  method on the convex problem min 1/2 y'Sigma y - (1/n) sum log y_i, w = y / sum y
  (Spinu 2013, "An algorithm for computing risk parity weights").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.policies.base import (
    Decision,
    TreasuryView,
    check_positive,
    ewma_cov,
    lookback,
    risky_sleeve,
    sleeve_targets,
)
from protocols.errors import ConfigError


def basket_mix(view: TreasuryView, risky: list[str]) -> dict[str, float]:
    """Relative weights inside the risky basket: the initial ones (equal if none held)."""
    held = {a: view.initial_weights.get(a, 0.0) for a in risky}
    total = sum(held.values())
    if total <= 0:
        return {a: 1.0 / len(risky) for a in risky}
    return {a: w / total for a, w in held.items()}


class VolTarget:
    """Scale the risky basket so its estimated volatility tracks `target_vol` (yearly)."""

    def __init__(self, target_vol: float = 0.3, half_life: float = 168.0,
                 max_risky: float = 1.0, band: float = 0.05,
                 assets: list[str] | None = None) -> None:
        self.target_vol = check_positive("target_vol", target_vol)
        self.half_life = check_positive("half_life", half_life)
        self.max_risky = check_positive("max_risky", max_risky, upper=1.0)
        self.band = check_positive("band", band, upper=1.0)
        self.assets = list(assets or [])

    @classmethod
    def from_spec(cls, spec: Any) -> VolTarget:
        return cls(spec.target_vol, spec.half_life, spec.max_risky, spec.band, spec.assets)

    def risky_share(self, view: TreasuryView, risky: list[str]) -> float | None:
        """Target share of the sleeve in the basket, None before two returns exist."""
        mix = basket_mix(view, risky)
        returns = view.log_returns(risky, lookback(self.half_life))
        if returns.shape[0] < 2:
            return None
        basket = returns @ np.array([mix[a] for a in risky])
        var = float(ewma_cov(basket.reshape(-1, 1), self.half_life)[0, 0]) * view.steps_per_year
        if var <= 0:
            return self.max_risky
        return min(self.target_vol / var**0.5, self.max_risky)

    def decide(self, view: TreasuryView) -> Decision | None:
        risky = risky_sleeve(view, self.assets)
        if not risky:
            return None
        share = self.risky_share(view, risky)
        if share is None:
            return None
        mix = basket_mix(view, risky)
        targets = sleeve_targets(view, {a: share * m for a, m in mix.items()}, 1.0 - share)
        now = sum(view.weights.get(a, 0.0) for a in risky)
        wanted = sum(targets[a] for a in risky)
        if abs(now - wanted) <= self.band:
            return None
        return Decision(weights=targets)


class RiskParity:
    """Split `risky_share` of the sleeve over the risky assets by inverse vol or ERC."""

    def __init__(self, method: str = "inverse_vol", half_life: float = 168.0,
                 risky_share: float | None = None, band: float = 0.05,
                 assets: list[str] | None = None) -> None:
        if method not in ("inverse_vol", "erc"):
            raise ConfigError(f"method: must be 'inverse_vol' or 'erc', got {method!r}")
        self.method = method
        self.half_life = check_positive("half_life", half_life)
        self.risky_share = (None if risky_share is None
                            else check_positive("risky_share", risky_share, upper=1.0,
                                                allow_zero=True))
        self.band = check_positive("band", band, upper=1.0)
        self.assets = list(assets or [])

    @classmethod
    def from_spec(cls, spec: Any) -> RiskParity:
        return cls(spec.method, spec.half_life, spec.risky_share, spec.band, spec.assets)

    def decide(self, view: TreasuryView) -> Decision | None:
        risky = risky_sleeve(view, self.assets)
        returns = view.log_returns(risky, lookback(self.half_life)) if risky else None
        if returns is None or returns.shape[0] < 2:
            return None
        cov = ewma_cov(returns, self.half_life)
        if np.any(np.diag(cov) <= 0):
            return None
        w = inverse_vol_weights(cov) if self.method == "inverse_vol" else erc_weights(cov)
        share = self.risky_share
        if share is None:
            share = sum(view.initial_weights.get(a, 0.0) for a in risky)
        targets = sleeve_targets(view, dict(zip(risky, share * w, strict=True)), 1.0 - share)
        drift = max(abs(view.weights.get(k, 0.0) - t) for k, t in targets.items())
        if drift <= self.band:
            return None
        return Decision(weights=targets)


def inverse_vol_weights(cov: np.ndarray) -> np.ndarray:
    """w_i = (1/sigma_i) / sum_j (1/sigma_j)."""
    inv = 1.0 / np.sqrt(np.diag(cov))
    return inv / inv.sum()


def erc_weights(cov: np.ndarray, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """Equal-risk-contribution weights (long only) by Newton's method (Spinu 2013)."""
    n = cov.shape[0]
    b = np.full(n, 1.0 / n)
    y = 1.0 / np.sqrt(np.diag(cov))
    y *= 1.0 / np.sqrt(y @ cov @ y)  # start on the unit-variance scale
    for _ in range(max_iter):
        grad = cov @ y - b / y
        hess = cov + np.diag(b / y**2)
        step = np.linalg.solve(hess, grad)
        # Damped so y stays positive (the log barrier's domain).
        t = 1.0
        while np.any(y - t * step <= 0):
            t *= 0.5
        y = y - t * step
        if np.max(np.abs(grad)) < tol:
            break
    return y / y.sum()
