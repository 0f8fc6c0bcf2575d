"""The contract between the allocator and a policy: what a policy sees and what it returns.

A policy is any class with one decision method, `decide(view) -> Decision | Mapping | None`:

- `view` is a read-only `TreasuryView` of the treasury at this step (NAV, current weights,
  reference prices and their history, net deltas, debts, last step's failures);
- the answer is target weights over the treasury's free portfolio (keys are ledger tokens:
  base assets `"ETH"`, lending deposits `"aave:aUSDC"`, v2 LP tokens `"univ2-GOV-ETH:LP"`,
  vault shares `"eth-covered-call:shares"`; a key left out means "hold none"), optionally
  target debts (USD per borrowed asset) and events to log; `None` means "no trade".
  An answer naming a key that is no asset or venue token, a NaN or negative target, or an
  exception raised by a user policy stops the run with a `PolicyError` naming the policy and
  the step (`agents.allocator.Allocator.decide`).

The estimators here (EWMA variance and covariance, RiskMetrics 1996 technical document,
section 5.2: sigma^2_t = sum_k (1 - lambda) lambda^k r^2_{t-k}, lambda = 2^(-1/half_life))
are shared by the volatility-aware policies.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from protocols.errors import ConfigError, PolicyError

#: Returns older than this many half-lives weigh < 2^-6 = 1.6 % and are dropped.
EWMA_HALF_LIVES = 6


@dataclass(frozen=True)
class TreasuryView:
    """What a policy may read. Arrays are read-only views (policies cannot mutate them).

    `values_usd` / `weights` cover the free portfolio (everything the treasury holds
    outside its borrowing position); `nav_usd` is net (free + collateral - debt).
    `price_history[k]` holds the reference USD prices of `assets` at step k (rows 0..step).
    `deltas` are net exposures in underlying units per base asset (holdings, receipts'
    underlying, vault books via their Greeks, collateral, minus debt). `gammas` (underlying
    units per 1 USD move, d delta / dS) and `vegas` (USD per vol point) per underlying come
    from vault shares (the holder's share of `OptionVault.greeks`); spot has none: an asset
    absent there has gamma and vega 0. `queued_usd`: vault shares (by key, USD) waiting
    for the next roll to be redeemed - still held and still exposed until then.
    `regime_prob` (filtered probability of the stress regime, Hamilton's filter) and
    `vol_forecast` (next step's volatility, GARCH(1,1), annualized) cover the treasury's
    non-stable assets (`agents.forecast`); NaN before their first estimate."""

    step: int
    steps_per_year: float
    nav_usd: float
    initial_nav_usd: float
    free_usd: float
    values_usd: Mapping[str, float]
    weights: Mapping[str, float]
    initial_weights: Mapping[str, float]
    prices: Mapping[str, float]
    assets: tuple[str, ...]
    price_history: np.ndarray
    nav_history: np.ndarray
    deltas: Mapping[str, float]
    debt_usd: Mapping[str, float]
    stables: frozenset[str]
    safe_asset: str
    failures: tuple[Mapping[str, Any], ...] = ()
    gammas: Mapping[str, float] = field(default_factory=dict)
    vegas: Mapping[str, float] = field(default_factory=dict)
    queued_usd: Mapping[str, float] = field(default_factory=dict)
    regime_prob: Mapping[str, float] = field(default_factory=dict)
    vol_forecast: Mapping[str, float] = field(default_factory=dict)

    def log_returns(self, assets: list[str] | tuple[str, ...], lookback: int) -> np.ndarray:
        """(k x len(assets)) log returns of the last k <= lookback steps."""
        cols = [self.assets.index(a) for a in assets]
        start = max(0, self.step - lookback)
        prices = self.price_history[start : self.step + 1, cols]
        if prices.shape[0] < 2:
            return np.empty((0, len(cols)))
        return np.diff(np.log(prices), axis=0)


@dataclass(frozen=True)
class Decision:
    """Targets for the allocator: weights over the free portfolio (None: keep), debts in
    USD per borrowed asset (None: keep), and events to record as (kind, fields)."""

    weights: Mapping[str, float] | None = None
    debt_usd: Mapping[str, float] | None = None
    events: tuple[tuple[str, dict[str, Any]], ...] = field(default=())


@runtime_checkable
class Policy(Protocol):
    def decide(self, view: TreasuryView) -> Decision | Mapping[str, float] | None: ...


def as_decision(answer: Any, where: str = "decide") -> Decision:
    """Normalize a policy's answer (Decision, weight mapping or None), checking its weights
    and debts: a PolicyError prefixed by `where` (the policy and the step) when the
    allocator cannot act on it. NaN or negative debts are refused too: read as 0 they would
    repay every debt."""
    if answer is None:
        return Decision()
    if isinstance(answer, Mapping):
        answer = Decision(weights=dict(answer))
    if not isinstance(answer, Decision):
        raise PolicyError(f"{where}: must return a Decision, a mapping of weights or None, "
                          f"got {type(answer).__name__}")
    for name, targets in (("weight", answer.weights), ("debt", answer.debt_usd)):
        for key, value in (targets or {}).items():
            number = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not number or not math.isfinite(value) or value < 0:
                raise PolicyError(f"{where}: {name} of {key!r} must be a finite number >= 0, "
                                  f"got {value!r}")
    if answer.weights is not None:
        total = math.fsum(answer.weights.values())
        if total > 1 + 1e-6:
            raise PolicyError(f"{where}: weights must sum to <= 1, got {total:g}")
    return answer


def ewma_lambda(half_life: float) -> float:
    """Decay per step of an EWMA with the given half-life in steps."""
    return 0.5 ** (1.0 / half_life)


def ewma_cov(returns: np.ndarray, half_life: float) -> np.ndarray:
    """EWMA covariance (per step, zero mean as in RiskMetrics) of (k x n) returns, newest last;
    weights normalized to sum to one over the window."""
    k = returns.shape[0]
    if k == 0:
        return np.full((returns.shape[1], returns.shape[1]), np.nan)
    lam = ewma_lambda(half_life)
    w = lam ** np.arange(k - 1, -1, -1, dtype=float)
    w /= w.sum()
    return (returns * w[:, None]).T @ returns


def lookback(half_life: float) -> int:
    return max(2, math.ceil(EWMA_HALF_LIVES * half_life))


def risky_sleeve(view: TreasuryView, assets: list[str] | tuple[str, ...]) -> list[str]:
    """The policy's risky assets: `assets` if given, else the base assets held at the start
    that are not USD stables."""
    if assets:
        return list(assets)
    return [k for k, w in view.initial_weights.items()
            if w > 0 and k in view.assets and k not in view.stables]


def sleeve_targets(
    view: TreasuryView, risky: dict[str, float], safe_share: float
) -> dict[str, float]:
    """Weights putting `risky` (shares of the sleeve) and `safe_share` of the sleeve in the
    safe asset, where the sleeve is what the policy's own keys hold now: other keys (venue
    deposits the policy does not manage) keep their current weights."""
    managed = set(risky) | {view.safe_asset}
    others = {k: w for k, w in view.weights.items() if k not in managed and w > 0}
    sleeve = max(0.0, 1.0 - math.fsum(others.values()))
    targets = dict(others)
    for k, w in risky.items():
        targets[k] = targets.get(k, 0.0) + w * sleeve
    targets[view.safe_asset] = targets.get(view.safe_asset, 0.0) + safe_share * sleeve
    return targets


def check_positive(name: str, value: Any, *, upper: float | None = None,
                   allow_zero: bool = False) -> float:
    """`value` as a float > 0 (>= 0 with allow_zero, <= upper if given) or a ConfigError
    naming `name` - the same message the scenario schema gives."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name}: must be a number, got {value!r}")
    if allow_zero and value < 0:
        raise ConfigError(f"{name}: must be >= 0, got {value!r}")
    if not allow_zero and value <= 0:
        raise ConfigError(f"{name}: must be > 0, got {value!r}")
    if upper is not None and value > upper:
        raise ConfigError(f"{name}: must be <= {upper}, got {value!r}")
    return float(value)
