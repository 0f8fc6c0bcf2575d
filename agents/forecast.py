"""Per-step forecasts every treasury policy may read: the filtered probability of the stress
regime and next step's volatility, per risky asset of the treasury.

- Regime: Hamilton's filter (`agents.regime_filter`), O(1) per step. Its parameters are the
  scenario's own when the market process is `regime` and `regime_source = "market"` (the
  moments of a step's log return in each regime, `market_regimes`: a desk that calibrated on
  a long history); otherwise EM on the returns seen so far, first at step `warmup`, then
  every `refit_every` steps (warm-started from the last fit), NaN before the first fit.
- Volatility: GARCH(1,1) (Bollerslev 1986, "Generalized autoregressive conditional
  heteroskedasticity", J. Econometrics 31, 307-327) on zero-mean per-step log returns,
  s2_{t+1} = omega + alpha r_t^2 + beta s2_t, all of (omega, alpha, beta) and the degrees of
  freedom nu by maximum likelihood with Student-t innovations (Bollerslev 1987, "A
  conditionally heteroskedastic time series model for speculative prices and rates of
  return", Rev. Economics and Statistics 69(3), 542-547), stationarity alpha + beta <=
  `MAX_PERSISTENCE` enforced (`fit_garch`) - refit on the same schedule as the regime fit,
  the recursion updated online in between (O(1) a step). Before the first fit: the
  RiskMetrics EWMA (`agents.policies.base`) with the policy's `half_life`.
  Why not variance targeting (omega = (1 - alpha - beta) x sample variance, Engle & Mezrich
  1996) with a Gaussian likelihood: one crash return in a week of hourly ones inflates the
  sample variance ~15 fold, targeting makes that the long-run variance, and the Gaussian
  likelihood, which charges a 50-sigma return 1250 log units, then prefers the smallest
  alpha and beta so that every step sits at it - a flat forecast of 2.6 a year for ETH
  moving at 0.7. Targeting is only as good as the sample variance, which converges slowly
  under heavy tails (Francq, Horvath & Zakoian 2011, "Merits and drawbacks of variance
  targeting in GARCH models", J. Financial Econometrics 9(4), 619-656); the t likelihood
  charges the crash logarithmically, so the fit follows the ordinary returns, and the crash
  enters where GARCH puts it: a spike of alpha r^2 that decays at beta toward the long-run
  variance of the ordinary market.
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
from agents.regime_filter import TwoRegime, fit_em, hamilton_step, robust_variance
from spec import Scenario

#: the most persistent GARCH fitted, alpha + beta (1 would be an integrated, non-stationary
#: model with no long-run variance to return to)
MAX_PERSISTENCE = 0.999
#: degrees of freedom of the t innovations searched (a unit-variance t needs nu > 2; 3 keeps
#: a margin from that edge, 200 is as good as normal)
NU_BOUNDS = (3.0, 200.0)


@dataclass(frozen=True)
class Garch:
    """GARCH(1,1) per-step parameters (nu: the t innovations' degrees of freedom)."""

    omega: float
    alpha: float
    beta: float
    nu: float = math.inf

    def step(self, s2: float, r: float) -> float:
        """Next step's variance from this step's variance `s2` and return `r`."""
        return self.omega + self.alpha * r * r + self.beta * s2

    @property
    def long_run(self) -> float:
        """omega / (1 - alpha - beta), the variance the forecast decays to."""
        return self.omega / (1.0 - self.alpha - self.beta)


def garch_variances(returns: np.ndarray, model: Garch, s2_first: float) -> np.ndarray:
    """s2_1 .. s2_{T+1} of `model` on `returns` from s2_1 = `s2_first`: the recursion is a
    first-order linear filter of omega + alpha r_t^2, run in C by `scipy.signal.lfilter`."""
    from scipy.signal import lfilter  # 0.4 s to import: validating a scenario never needs it

    x = model.omega + model.alpha * np.square(returns)
    rest = lfilter([1.0], [1.0, -model.beta], x, zi=[model.beta * s2_first])[0]
    return np.r_[s2_first, rest]


def t_loglik(returns: np.ndarray, s2: np.ndarray, nu: float) -> float:
    """Log-likelihood of `returns` with variances `s2` under unit-variance Student-t
    innovations of `nu` degrees of freedom (Bollerslev 1987)."""
    const = (math.lgamma(0.5 * (nu + 1)) - math.lgamma(0.5 * nu)
             - 0.5 * math.log(math.pi * (nu - 2.0)))
    z2 = np.square(returns) / s2
    return float(returns.size * const - 0.5 * np.sum(np.log(s2))
                 - 0.5 * (nu + 1) * np.sum(np.log1p(z2 / (nu - 2.0))))


def fit_garch(returns: np.ndarray) -> tuple[Garch, float] | None:
    """Student-t maximum-likelihood GARCH(1,1) (module doc): (model, s2_{T+1}), the
    recursion started at the model's long-run variance. None with fewer than 2 returns or
    none that differ from 0.

    The search (L-BFGS-B, bounded) runs over (alpha / (alpha + beta), alpha + beta,
    log of the long-run variance over the returns' robust variance, nu), a box in which
    every point is stationary; it starts from alpha 0.1, beta 0.85, the robust variance and
    nu 6."""
    from scipy.optimize import minimize

    r = np.asarray(returns, dtype=float)
    if r.size < 2 or not float(np.mean(r * r)) > 0:
        return None
    r2 = r * r
    v0 = robust_variance(r)
    v0 = v0 if v0 > 0 else float(np.mean(r2))

    def model_of(x: np.ndarray) -> Garch:
        share, persistence, log_v, nu = (float(v) for v in x)
        return Garch(math.exp(log_v) * v0 * (1.0 - persistence), share * persistence,
                     (1.0 - share) * persistence, nu)

    def cost(x: np.ndarray) -> float:
        model = model_of(x)
        s2 = garch_variances(r, model, model.long_run)[:-1]
        return -t_loglik(r, s2, model.nu) / r.size

    start = np.array([0.1 / 0.95, 0.95, 0.0, 6.0])
    bounds = [(0.0, 1.0), (0.0, MAX_PERSISTENCE), (-6.0, 6.0), NU_BOUNDS]
    found = minimize(cost, start, method="L-BFGS-B", bounds=bounds)
    model = model_of(found.x)
    return model, float(garch_variances(r, model, model.long_run)[-1])


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
