"""The implied volatility option vaults sell at: realized volatility plus a premium.

Each step, after the rounds, every vault's tracker reads the vault's own oracle price (the
underlying in its quote) and updates an EWMA of squared log returns (RiskMetrics 1996
technical document, section 5.2.1):

    var_t = lambda var_{t-1} + (1 - lambda) r_t^2 x steps_per_year,  lambda = 2^(-1/h),

with h = `iv_half_life_days` in steps, started at var_0 = sigma^2 (the asset's model
volatility: a prior before any return is seen). At each roll the options are priced at

    IV = max(sqrt(var_t), IV_FLOOR) x (1 + vol_premium).

Why: option markets price implied variance above subsequently realized variance on average
(the variance risk premium, negative for most assets: Carr & Wu 2009, "Variance Risk
Premiums", Review of Financial Studies 22(3):1311-1341), and implied vol moves with
realized vol - after a crash the vault sells dearer options. On-chain realistic: Ribbon's
Theta Vaults priced premiums off `VolOracle` (ribbon-finance/rvol,
contracts/core/VolOracle.sol), the annualized standard deviation of periodic Uniswap TWAP
log returns over a window; this is the exponentially weighted version of that estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

#: IV floor before the premium (the constant rule's 5 %): a path of flat prices gives no
#: vol, yet nobody writes options for free.
IV_FLOOR = 0.05


class RealizedVolIV:
    """EWMA realized volatility of `price()` and the implied vol derived from it."""

    def __init__(self, price: Callable[[], float], *, prior_vol: float, half_life_steps: float,
                 steps_per_year: float, vol_premium: float) -> None:
        if not half_life_steps > 0 or not steps_per_year > 0 or not prior_vol >= 0:
            raise ValueError("half_life_steps, steps_per_year > 0 and prior_vol >= 0 required, "
                             f"got {half_life_steps!r}, {steps_per_year!r}, {prior_vol!r}")
        self._price = price
        self.decay = 0.5 ** (1.0 / half_life_steps)
        self.steps_per_year = float(steps_per_year)
        self.vol_premium = float(vol_premium)
        self.variance = float(prior_vol) ** 2
        self._last = float(price())

    @property
    def realized_vol(self) -> float:
        """Yearly EWMA realized volatility so far."""
        return math.sqrt(self.variance)

    def observe(self) -> None:
        """Fold in the log return since the last observation (one step)."""
        now = float(self._price())
        r = math.log(now / self._last)
        self.variance = self.decay * self.variance + (1.0 - self.decay) * r * r \
            * self.steps_per_year
        self._last = now

    def implied_vol(self) -> float:
        """The vol a roll now prices its options at (see the module doc)."""
        return max(self.realized_vol, IV_FLOOR) * (1.0 + self.vol_premium)


def trackers(world: Any, config: Any) -> dict[str, RealizedVolIV]:
    """One tracker per vault of `world`, from its spec in scenario `config`."""
    sigma = {a.symbol: a.sigma for a in config.assets}
    out = {}
    for spec in config.protocols:
        if spec.name in world.vaults:
            vault = world.vaults[spec.name]
            out[spec.name] = RealizedVolIV(
                lambda v=vault: v.oracle.price, prior_vol=sigma[spec.underlying],
                half_life_steps=spec.iv_half_life_days * 24.0 / config.step_hours,
                steps_per_year=config.steps_per_year, vol_premium=spec.vol_premium)
    return out
