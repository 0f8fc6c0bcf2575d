"""Delta hedging: keep the treasury's net delta to one asset (its governance token or ETH)
inside a band around a target.

Net delta (units of the asset, from the view) counts plain holdings, the underlying of
receipts and LP tokens, option-vault books through their Black-Scholes deltas (a covered-call
vault is long its underlying and short calls: `OptionVault.greeks`), collateral, minus debt.
As a share of NAV: d = delta x price / NAV. When |d - target_delta| > delta_band, the policy
moves d back to the target: it sells (or buys) the asset against the safe asset; with
`hedge_with = "borrow"`, a hedge that would need a negative holding borrows the asset against
the treasury's collateral and sells it (a short), and repays that debt first when the delta
must rise again.
"""

from __future__ import annotations

from typing import Any

from agents.policies.base import Decision, TreasuryView, check_positive
from protocols.errors import ConfigError


class DeltaHedge:
    def __init__(self, hedge_asset: str = "ETH", target_delta: float = 0.0,
                 delta_band: float = 0.05, hedge_with: str = "sell") -> None:
        if not isinstance(hedge_asset, str) or not hedge_asset:
            raise ConfigError(f"hedge_asset: must be an asset symbol, got {hedge_asset!r}")
        self.hedge_asset = hedge_asset
        if isinstance(target_delta, bool) or not isinstance(target_delta, int | float) or not (
            -1.0 <= target_delta <= 1.0
        ):
            raise ConfigError(f"target_delta: must be a share of NAV in [-1, 1], "
                              f"got {target_delta!r}")
        self.target_delta = float(target_delta)
        self.delta_band = check_positive("delta_band", delta_band, upper=1.0)
        if hedge_with not in ("sell", "borrow"):
            raise ConfigError(f"hedge_with: must be 'sell' or 'borrow', got {hedge_with!r}")
        self.hedge_with = hedge_with

    @classmethod
    def from_spec(cls, spec: Any) -> DeltaHedge:
        return cls(spec.hedge_asset, spec.target_delta, spec.delta_band, spec.hedge_with)

    def delta_share(self, view: TreasuryView) -> float:
        """Net delta to the hedge asset as a share of NAV."""
        if view.nav_usd <= 0:
            return 0.0
        units = view.deltas.get(self.hedge_asset, 0.0)
        return units * view.prices[self.hedge_asset] / view.nav_usd

    def decide(self, view: TreasuryView) -> Decision | None:
        asset = self.hedge_asset
        if view.nav_usd <= 0 or view.free_usd <= 0:
            return None
        excess = self.delta_share(view) - self.target_delta
        if abs(excess) <= self.delta_band:
            return None
        change_usd = -excess * view.nav_usd  # USD of the asset to buy (< 0: sell)
        debt = view.debt_usd.get(asset, 0.0)
        new_debt = debt
        if change_usd > 0 and debt > 0:  # delta too low: repay the short first
            repaid = min(debt, change_usd)
            new_debt, change_usd = debt - repaid, change_usd - repaid
        held = view.weights.get(asset, 0.0) * view.free_usd
        wanted = held + change_usd
        if wanted < 0:
            if self.hedge_with == "borrow":
                new_debt += -wanted
            wanted = 0.0
        weights = dict(view.weights)
        weights[asset] = wanted / view.free_usd
        # What was sold (or bought) is taken from (or put in) the safe asset; debts taken
        # or repaid change the free portfolio, which the allocator re-reads after borrowing.
        others = sum(w for k, w in weights.items() if k != view.safe_asset)
        weights[view.safe_asset] = max(0.0, 1.0 - others)
        total = sum(weights.values())
        if total > 1.0:
            weights = {k: w / total for k, w in weights.items()}
        debts = None if new_debt == debt else {**view.debt_usd, asset: new_debt}
        return Decision(weights=weights, debt_usd=debts)
