"""Per-step forecasts every treasury policy may read: the filtered probability of the stress
regime and next step's volatility, per risky asset of the treasury.

- Regime: Hamilton's filter (`agents.regime_filter`), O(1) per step. Its parameters are the
  scenario's own when the market process is `regime` and `regime_source = "market"` (the
  moments of a step's log return in each regime, `market_regimes`: a desk that calibrated on
  a long history); otherwise EM on the returns seen so far, first at step `warmup`, then
  every `refit_every` steps (warm-started from the last fit), NaN before the first fit.
- Volatility: GARCH(1,1) (Bollerslev 1986, "Generalized autoregressive conditional
  heteroskedasticity", J. Econometrics 31, 307-327) on zero-mean per-step log returns,
  s2_{t+1} = omega + alpha r_t^2 + beta s2_t, with variance targeting (Engle & Mezrich 1996,
  "GARCH for groups", Risk 9(8): omega = (1 - alpha - beta) x sample variance, so the fitted
  model's long-run variance is the sample's) and (alpha, beta) maximizing the Gaussian
  likelihood on a grid (`fit_garch`) - refit on the same schedule as the regime fit, the
  recursion updated online in between. Before the first fit: the RiskMetrics EWMA
  (`agents.policies.base`) with the policy's `half_life`. A full numerical optimizer per
  refit is not needed: the grid's likelihood surface is flat at its top, and a grid is the
  same on every machine.

Every step the allocator hands the forecaster that step's reference prices (`observe`, O(1));
the forecasts are computed when first asked for (`advance`), catching up step by step, and
refits happen at their scheduled steps whoever asks when - so a run gives the same numbers
whether its policy reads them or not, and a policy that never reads them costs nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from agents.policies.base import ewma_lambda
from agents.regime_filter import TwoRegime, fit_em, hamilton_step
from spec import Scenario

#: GARCH grid: alpha (reaction) and beta (persistence) values tried, alpha + beta < 1
GARCH_ALPHAS = np.linspace(0.01, 0.30, 30)
GARCH_BETAS = np.linspace(0.50, 0.99, 50)
MAX_PERSISTENCE = 0.999


@dataclass(frozen=True)
class Garch:
    """GARCH(1,1) per-step parameters."""

    omega: float
    alpha: float
    beta: float

    def step(self, s2: float, r: float) -> float:
        """Next step's variance from this step's variance `s2` and return `r`."""
        return self.omega + self.alpha * r * r + self.beta * s2


def garch_path(returns: np.ndarray, omega: np.ndarray, alpha: np.ndarray, beta: np.ndarray,
               s2_first: float) -> tuple[np.ndarray, np.ndarray]:
    """For each parameter triple (arrays of one shape): the Gaussian log-likelihood of
    `returns` (constants dropped) with s2_1 = `s2_first`, and s2_{T+1}, the forecast after
    the last return."""
    s2 = np.full(np.shape(alpha), s2_first, dtype=float)
    loglik = np.zeros_like(s2)
    for r in returns.tolist():
        loglik -= 0.5 * (np.log(s2) + r * r / s2)
        s2 = omega + alpha * r * r + beta * s2
    return loglik, s2


def fit_garch(returns: np.ndarray) -> tuple[Garch, float] | None:
    """GARCH(1,1) with variance targeting, (alpha, beta) the grid point of highest
    likelihood: (model, s2_{T+1}). None without returns that differ from 0."""
    r = np.asarray(returns, dtype=float)
    var = float(np.mean(r * r))
    if r.size < 2 or not var > 0:
        return None
    alpha, beta = np.meshgrid(GARCH_ALPHAS, GARCH_BETAS, indexing="ij")
    keep = alpha + beta < MAX_PERSISTENCE
    alpha, beta = alpha[keep], beta[keep]
    omega = (1.0 - alpha - beta) * var
    loglik, s2 = garch_path(r, omega, alpha, beta, var)
    best = int(np.argmax(loglik))
    return Garch(float(omega[best]), float(alpha[best]), float(beta[best])), float(s2[best])


def market_regimes(scenario: Scenario) -> dict[str, TwoRegime]:
    """The per-step two-regime model of each risky asset of a `regime` market (empty for
    other processes): a step's log return in each regime has mean (mu - lambda k -
    sigma^2 / 2) dt + lambda dt m and variance sigma^2 dt + lambda dt (m^2 + s^2) (the
    compensated Merton step of `sim.prices.regime_switching_paths`, jumps of mean m and
    standard deviation s at yearly rate lambda, k = e^{m + s^2/2} - 1), the stress regime's
    sigma times `vol_multiplier` and its jumps at `jump_intensity`."""
    market = scenario.market
    if market.process != "regime":
        return {}
    stress, dt = market.stress, scenario.dt_years
    m, s = market.jump_mean, market.jump_std
    out = {}
    for asset in scenario.assets:
        if asset.kind != "risky":
            continue
        moments = []
        for sigma, rate in ((asset.sigma, 0.0), (asset.sigma * stress.vol_multiplier,
                                                  stress.jump_intensity)):
            drift = asset.mu - rate * math.expm1(m + 0.5 * s * s) - 0.5 * sigma * sigma
            moments.append((drift * dt + rate * dt * m,
                            math.sqrt(sigma * sigma * dt + rate * dt * (m * m + s * s))))
        if min(sd for _, sd in moments) > 0:
            out[asset.symbol] = TwoRegime((moments[0][0], moments[1][0]),
                                          (moments[0][1], moments[1][1]),
                                          stress.p_enter, stress.p_exit)
    return out


class _AssetForecast:
    """One asset's filter and variance recursion."""

    def __init__(self, given: TwoRegime | None) -> None:
        self.given = given
        self.model = given
        self.prob = math.nan if given is None else given.stationary
        self.garch: Garch | None = None
        self.s2 = math.nan


class Forecaster:
    """The forecasts of `assets` (module doc); `horizon` is the run's last step."""

    def __init__(self, assets: tuple[str, ...], steps_per_year: float, horizon: int, *,
                 given: Mapping[str, TwoRegime], refit_every: int, warmup: int,
                 half_life: float) -> None:
        self.assets = assets
        self.steps_per_year = steps_per_year
        self.refit_every, self.warmup = refit_every, warmup
        self.lam = ewma_lambda(half_life)
        self.prices = np.full((horizon + 1, len(assets)), np.nan)
        self.returns = np.full((horizon + 1, len(assets)), np.nan)  # row t: r_t
        self.state = [_AssetForecast(given.get(a)) for a in assets]
        self.done = 0  # steps whose return has been processed

    def observe(self, step: int, prices: Mapping[str, float]) -> None:
        """Record the reference prices of `step` (called once per step, before `advance`)."""
        self.prices[step] = [prices[a] for a in self.assets]

    def regime_prob(self, step: int) -> dict[str, float]:
        """P(stress | returns through `step`) per asset (NaN before a model exists)."""
        self.advance(step)
        return {a: s.prob for a, s in zip(self.assets, self.state, strict=True)}

    def vol_forecast(self, step: int) -> dict[str, float]:
        """Forecast volatility of step + 1's log return per asset, annualized (NaN before
        two returns)."""
        self.advance(step)
        return {a: math.sqrt(s.s2 * self.steps_per_year)
                for a, s in zip(self.assets, self.state, strict=True)}

    def advance(self, step: int) -> None:
        """Process the returns of steps done + 1 .. step."""
        while self.done < step:
            t = self.done = self.done + 1
            r_t = np.log(self.prices[t] / self.prices[t - 1])
            self.returns[t] = r_t
            refit = t >= self.warmup and (t - self.warmup) % self.refit_every == 0
            for k, state in enumerate(self.state):
                self._step(state, float(r_t[k]), t, k, refit)

    def _step(self, state: _AssetForecast, r: float, t: int, k: int, refit: bool) -> None:
        """Take in r_t: at a refit step the fits, whose recursions end at step t, else one
        step of the filter and of the variance recursion."""
        if not math.isfinite(r):
            return
        vol_done = prob_done = False
        if refit:
            seen = self.returns[1 : t + 1, k]
            seen = seen[np.isfinite(seen)]
            fitted = fit_garch(seen)
            if fitted is not None:
                (state.garch, state.s2), vol_done = fitted, True
            em = fit_em(seen, state.model) if state.given is None else None
            if em is not None:
                (state.model, state.prob), prob_done = em, True
        if not vol_done:
            if state.garch is not None:
                state.s2 = state.garch.step(state.s2, r)
            elif math.isnan(state.s2):
                state.s2 = r * r
            else:
                state.s2 = self.lam * state.s2 + (1.0 - self.lam) * r * r
        if not prob_done and state.model is not None:
            state.prob, _ = hamilton_step(state.prob, r, state.model)


class Lazy(Mapping[str, float]):
    """A mapping computed on first use (the view's forecasts: a policy that does not read
    them does not pay for them)."""

    def __init__(self, compute: Callable[[], Mapping[str, float]]) -> None:
        self._compute = compute
        self._value: Mapping[str, float] | None = None

    def _get(self) -> Mapping[str, float]:
        if self._value is None:
            self._value = self._compute()
        return self._value

    def __getitem__(self, key: str) -> float:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return f"Lazy({dict(self._get())!r})"
