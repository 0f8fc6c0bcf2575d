"""Delta hedging: keep the treasury's net delta to one asset (its governance token or ETH)
inside a band around a target, and its option Greeks within budgets.

Net delta (units of the asset, from the view) counts plain holdings, the underlying of
receipts and LP tokens, option-vault books through their Black-Scholes deltas (a covered-call
vault is long its underlying and short calls: `OptionVault.greeks`), collateral, minus debt.
As a share of NAV: d = delta x price / NAV. When |d - target_delta| > delta_band, the policy
moves d back to the target: it sells (or buys) the asset against the safe asset; with
`hedge_with = "borrow"`, a hedge that would need a negative holding borrows the asset against
the treasury's collateral and sells it (a short), and repays that debt first when the delta
must rise again.

Option budgets (both off by default), over every underlying the vaults held write on:
- gamma: sum |Gamma_a| x S_a^2 / 100 / NAV, the change of the delta share of NAV for a 1 %
  move ("dollar gamma" per 1 %: Hull, Options, Futures and Other Derivatives, ch. 19);
- vega: sum |Vega_a| / NAV, the share of NAV a 1 vol-point move costs.
Spot cannot offset gamma or vega, and the vault's shares are its only option position, so
when either exceeds `gamma_budget` / `vega_budget` the policy cuts every vault holding by
the same factor budget / exposure (both Greeks are linear in shares held). On-chain that is
a withdrawal request (Ribbon's `initiateWithdraw`): the shares stay in the vault, and
exposed, until the epoch's roll, where they are redeemed at the roll's price per share
(`protocols.vaults`); one request at a time - while shares are queued the budget waits for
the next epoch's Greeks. Meanwhile the delta is hedged with spot, and the redeemed collateral
(a call vault pays its underlying) is hedged the step it arrives. Buying the calls back on an
options venue, or selling shares on a secondary market, is not modelled.
"""

from __future__ import annotations

import math
from typing import Any

from agents import event_kinds
from agents.policies.base import Decision, TreasuryView, check_positive
from protocols import names
from protocols.errors import ConfigError


class DeltaHedge:
    def __init__(self, hedge_asset: str = "ETH", target_delta: float = 0.0,
                 delta_band: float = 0.05, hedge_with: str = "sell",
                 gamma_budget: float | None = None, vega_budget: float | None = None) -> None:
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
        self.gamma_budget = (None if gamma_budget is None
                             else check_positive("gamma_budget", gamma_budget, allow_zero=True))
        self.vega_budget = (None if vega_budget is None
                            else check_positive("vega_budget", vega_budget, allow_zero=True))

    @classmethod
    def from_spec(cls, spec: Any) -> DeltaHedge:
        return cls(spec.hedge_asset, spec.target_delta, spec.delta_band, spec.hedge_with,
                   spec.gamma_budget, spec.vega_budget)

    def delta_share(self, view: TreasuryView) -> float:
        """Net delta to the hedge asset as a share of NAV."""
        if view.nav_usd <= 0:
            return 0.0
        units = view.deltas.get(self.hedge_asset, 0.0)
        return units * view.prices[self.hedge_asset] / view.nav_usd

    @staticmethod
    def gamma_share(view: TreasuryView) -> float:
        """Sum over underlyings of |gamma| x S^2 / 100, as a share of NAV (module doc)."""
        if view.nav_usd <= 0:
            return 0.0
        return math.fsum(abs(g) * view.prices[a] ** 2 / 100.0
                         for a, g in view.gammas.items()) / view.nav_usd

    @staticmethod
    def vega_share(view: TreasuryView) -> float:
        """Sum over underlyings of |vega| (USD per vol point), as a share of NAV."""
        if view.nav_usd <= 0:
            return 0.0
        return math.fsum(abs(v) for v in view.vegas.values()) / view.nav_usd

    def option_keep(self, view: TreasuryView) -> float:
        """The share of its vault holdings the book may keep within the budgets (1: all)."""
        keep = 1.0
        for budget, exposure in ((self.gamma_budget, self.gamma_share(view)),
                                 (self.vega_budget, self.vega_share(view))):
            if budget is not None and exposure > budget:
                keep = min(keep, budget / exposure)
        return keep

    def decide(self, view: TreasuryView) -> Decision | None:
        asset = self.hedge_asset
        if view.nav_usd <= 0 or view.free_usd <= 0:
            return None
        weights = dict(view.weights)
        events: tuple[tuple[str, dict[str, Any]], ...] = ()
        keep = self.option_keep(view)
        vaults = [k for k in weights if (n := names.parse(k)) and n.kind == names.SHARES]
        cut = keep < 1.0 and bool(vaults) and not any(v > 0 for v in view.queued_usd.values())
        if cut:
            for key in vaults:
                weights[key] *= keep
            events = ((event_kinds.GREEKS_BUDGET, {
                "gamma_share": self.gamma_share(view), "vega_share": self.vega_share(view),
                "keep": keep, "vaults": ",".join(sorted(vaults))}),)
        excess = self.delta_share(view) - self.target_delta
        hedge = abs(excess) > self.delta_band
        if not hedge and not cut:
            return None
        debt = view.debt_usd.get(asset, 0.0)
        new_debt = debt
        if hedge:
            change_usd = -excess * view.nav_usd  # USD of the asset to buy (< 0: sell)
            if change_usd > 0 and debt > 0:  # delta too low: repay the short first
                repaid = min(debt, change_usd)
                new_debt, change_usd = debt - repaid, change_usd - repaid
            held = view.weights.get(asset, 0.0) * view.free_usd
            wanted = held + change_usd
            if wanted < 0:
                if self.hedge_with == "borrow":
                    new_debt += -wanted
                wanted = 0.0
            weights[asset] = wanted / view.free_usd
        # What was sold (or bought) is taken from (or put in) the safe asset; debts taken
        # or repaid change the free portfolio, which the allocator re-reads after borrowing.
        others = sum(w for k, w in weights.items() if k != view.safe_asset)
        weights[view.safe_asset] = max(0.0, 1.0 - others)
        total = sum(weights.values())
        if total > 1.0:
            weights = {k: w / total for k, w in weights.items()}
        debts = None if new_debt == debt else {**view.debt_usd, asset: new_debt}
        return Decision(weights=weights, debt_usd=debts, events=events)
