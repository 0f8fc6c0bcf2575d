"""Hamilton's filter for a two-regime (calm / stress) Gaussian model of per-step log returns,
and its parameters by EM.

The model (Hamilton 1989, "A new approach to the economic analysis of nonstationary time
series and the business cycle", Econometrica 57(2), 357-384; Hamilton 1994, *Time Series
Analysis*, ch. 22.4): the regime s_t in {0 calm, 1 stress} is a Markov chain with
P(s_t = 1 | s_{t-1} = 0) = p (`p_enter`) and P(s_t = 0 | s_{t-1} = 1) = q (`p_exit`), and
r_t | s_t = j ~ N(mu_j, sigma_j^2). With xi_t = P(s_t = 1 | r_1..r_t) the filter is, per step,

    predict:  pi_t = p (1 - xi_{t-1}) + (1 - q) xi_{t-1}
    update:   xi_t = pi_t f_1(r_t) / (pi_t f_1(r_t) + (1 - pi_t) f_0(r_t))
    log-likelihood += log(pi_t f_1(r_t) + (1 - pi_t) f_0(r_t))

f_j the N(mu_j, sigma_j^2) density (Hamilton 1994, eqs. 22.4.5-22.4.8): O(1) per step. The
densities are taken in logs and shifted by their maximum, so a 30 % crash in a model whose
calm sigma is 0.7 % per step (a 40-sigma move) gives 1, not 0 / 0.

Parameters by EM (Hamilton 1990, "Analysis of time series subject to changes in regime",
J. Econometrics 45, 39-70): the E step smooths the filtered probabilities backwards (Kim
1994, J. Econometrics 60, 1-22: xi_{t|T} = xi_{t|t} sum_k P_jk xi_{t+1|T}(k) / xi_{t+1|t}(k));
the M step sets p, q to the expected transitions over the expected time spent in the regime.
The regimes are labelled so that stress is the higher-volatility one (the likelihood does
not know which is which).

The fitted model switches variance, not mean - the restricted model of Hamilton (1994,
ch. 22) and Kim & Nelson (1999, *State-space models with regime switching*): a
volatility filter that lets each regime have its own mean is the mixture whose likelihood
is unbounded (Kiefer & Wolfowitz 1956): one regime takes a single crash return as its mean
with a vanishing sigma, the ordinary market becomes the "higher-volatility" regime, and the
filter reads stress at every step after the crash. So the M step
- gives both regimes one mean, the precision-weighted mean sum_t w_t r_t / sum_t w_t with
  w_t = g0_t / sigma_0^2 + g1_t / sigma_1^2 at the current sigmas (a conditional
  maximization step, which keeps EM's monotone ascent: Meng & Rubin 1993, Biometrika 80);
- sets each variance by Hamilton's (1991, "A quasi-Bayesian approach to estimating
  parameters for mixtures of normal distributions", J. Business & Economic Statistics 9(1),
  27-39) posterior mode, sigma_j^2 = (c v + sum_t g_jt (r_t - mu)^2) / (c + sum_t g_jt): an
  inverse-gamma prior worth c = `PRIOR_RETURNS` returns of variance v. A regime holding one
  return then has a variance of at least c v / (c + 1), so the likelihood is bounded and no
  regime collapses onto a point, while a regime of hundreds of returns barely feels the
  prior. v is a robust variance, (1.4826 x median absolute deviation)^2 (Rousseeuw & Croux
  1993, JASA 88): the sample variance would put the prior where one crash return puts it
  (a single -35 % return in 168 hourly ones of sd 0.7 % inflates it ~15 fold).
EM climbs the posterior (likelihood plus log prior), and stops on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from protocols.errors import ConfigError

#: the weight of Hamilton's (1991) variance prior in EM, in returns (module doc)
PRIOR_RETURNS = 2.0
#: 1.4826 x the median absolute deviation is the standard deviation of a normal sample
MAD_TO_SD = 1.4826
#: transition probabilities are kept in [P_MIN, 1 - P_MIN] by EM (a 0 is absorbing)
P_MIN = 1e-6
#: fewer returns than this give no fit
MIN_RETURNS = 20
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class TwoRegime:
    """Per-step parameters: means and standard deviations of the log return in calm (0) and
    stress (1), and the chain's per-step transition probabilities."""

    mu: tuple[float, float]
    sigma: tuple[float, float]
    p_enter: float
    p_exit: float

    def __post_init__(self) -> None:
        for name, value in (("sigma", self.sigma), ("mu", self.mu)):
            if len(value) != 2 or not all(math.isfinite(v) for v in value):
                raise ConfigError(f"{name}: expected two finite numbers, got {value!r}")
        if min(self.sigma) <= 0:
            raise ConfigError(f"sigma: must be > 0, got {self.sigma!r}")
        for name in ("p_enter", "p_exit"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}: must be in [0, 1], got {value!r}")

    @property
    def stationary(self) -> float:
        """Long-run share of stress, p / (p + q) (1/2 when the chain never moves)."""
        total = self.p_enter + self.p_exit
        return self.p_enter / total if total > 0 else 0.5


def hamilton_step(prob: float, r: float, model: TwoRegime) -> tuple[float, float]:
    """One step of the filter: (xi_t, log f(r_t | r_1..r_{t-1})) from xi_{t-1} = `prob`."""
    pi = model.p_enter * (1.0 - prob) + (1.0 - model.p_exit) * prob
    (m0, m1), (s0, s1) = model.mu, model.sigma
    a0 = -0.5 * ((r - m0) / s0) ** 2 - math.log(s0)
    a1 = -0.5 * ((r - m1) / s1) ** 2 - math.log(s1)
    top = max(a0, a1)
    w0 = (1.0 - pi) * math.exp(a0 - top)
    w1 = pi * math.exp(a1 - top)
    total = w0 + w1
    return w1 / total, math.log(total) + top - _LOG_SQRT_2PI


def filter_path(returns: np.ndarray, model: TwoRegime,
                prior: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """The filter over `returns` from xi_0 = `prior` (default: the stationary share):
    (predicted pi_t, filtered xi_t, log-likelihood)."""
    prob = model.stationary if prior is None else prior
    p, stay = model.p_enter, 1.0 - model.p_exit
    predicted, filtered = [], []
    loglik = 0.0
    for r in returns.tolist():
        predicted.append(p * (1.0 - prob) + stay * prob)
        prob, ll = hamilton_step(prob, r, model)
        filtered.append(prob)
        loglik += ll
    return np.array(predicted), np.array(filtered), loglik


def smooth(predicted: np.ndarray, filtered: np.ndarray, model: TwoRegime) -> np.ndarray:
    """Kim's (1994) smoother: P(s_t = 1 | r_1..r_T) for every t."""
    p, q = model.p_enter, model.p_exit
    pred, filt = predicted.tolist(), filtered.tolist()
    out = [0.0] * len(filt)
    g1 = out[-1] = filt[-1]
    for t in range(len(filt) - 2, -1, -1):
        ratio1 = g1 / max(pred[t + 1], 1e-300)
        ratio0 = (1.0 - g1) / max(1.0 - pred[t + 1], 1e-300)
        x1 = filt[t] * (q * ratio0 + (1.0 - q) * ratio1)
        x0 = (1.0 - filt[t]) * ((1.0 - p) * ratio0 + p * ratio1)
        g1 = out[t] = x1 / (x0 + x1) if x0 + x1 > 0 else filt[t]
    return np.array(out)


def robust_variance(returns: np.ndarray) -> float:
    """(1.4826 x the median absolute deviation from the median)^2, the variance of the
    ordinary returns that a few crash returns do not move (the sample variance if more than
    half the returns are equal)."""
    r = np.asarray(returns, dtype=float)
    mad = float(np.median(np.abs(r - np.median(r))))
    return (MAD_TO_SD * mad) ** 2 if mad > 0 else float(np.var(r))


def initial_guess(returns: np.ndarray) -> TwoRegime:
    """A start for EM: both means the sample mean, sigmas 1x and 2.5x the robust sd (the
    sample's would start both regimes above a crash-inflated sd), a stress spell entered
    every 50 steps on average and left after 10."""
    mean, sd = float(np.mean(returns)), math.sqrt(robust_variance(returns))
    return TwoRegime((mean, mean), (sd, 2.5 * sd), 0.02, 0.1)


def log_prior(model: TwoRegime, v: float) -> float:
    """Log of Hamilton's (1991) variance prior (module doc), constants dropped."""
    return sum(-0.5 * PRIOR_RETURNS * (math.log(s * s) + v / (s * s)) for s in model.sigma)


def fit_em(returns: np.ndarray, start: TwoRegime | None = None, iterations: int = 30,
           tol: float = 1e-7) -> tuple[TwoRegime, float] | None:
    """EM estimate of the two-regime model on `returns` with one mean and Hamilton's
    variance prior (see the module doc), from `start` (default `initial_guess`; its means
    are replaced by their precision-weighted mean), stopping when the log posterior gains
    < tol per return: (model, filtered xi_T at the fitted parameters). None with fewer than
    MIN_RETURNS returns or none that differ."""
    r = np.asarray(returns, dtype=float)
    if r.size < MIN_RETURNS or not float(np.var(r)) > 0:
        return None
    v = robust_variance(r)
    model = start or initial_guess(r)
    w0, w1 = (model.sigma[0] ** -2, model.sigma[1] ** -2)
    mu = (w0 * model.mu[0] + w1 * model.mu[1]) / (w0 + w1)
    model = TwoRegime((mu, mu), model.sigma, model.p_enter, model.p_exit)
    last = -math.inf
    for _ in range(iterations):
        predicted, filtered, loglik = filter_path(r, model)
        objective = loglik + log_prior(model, v)
        if objective - last < tol * r.size:
            break
        last = objective
        g1 = smooth(predicted, filtered, model)
        g0 = 1.0 - g1
        # expected transitions 0 -> 1 and 1 -> 0 (t = 1..T-1)
        ratio1 = g1[1:] / np.maximum(predicted[1:], 1e-300)
        ratio0 = g0[1:] / np.maximum(1.0 - predicted[1:], 1e-300)
        enter = (1.0 - filtered[:-1]) * model.p_enter * ratio1
        leave = filtered[:-1] * model.p_exit * ratio0
        p = float(enter.sum()) / max(float(g0[:-1].sum()), 1e-300)
        q = float(leave.sum()) / max(float(g1[:-1].sum()), 1e-300)
        w = g0 / model.sigma[0] ** 2 + g1 / model.sigma[1] ** 2
        mu = float(w @ r) / float(w.sum())
        e2 = (r - mu) ** 2
        sigmas = [math.sqrt((PRIOR_RETURNS * v + float(g @ e2)) / (PRIOR_RETURNS + float(g.sum())))
                  for g in (g0, g1)]
        model = TwoRegime((mu, mu), (sigmas[0], sigmas[1]),
                          float(np.clip(p, P_MIN, 1 - P_MIN)),
                          float(np.clip(q, P_MIN, 1 - P_MIN)))
    if model.sigma[0] > model.sigma[1]:  # stress is the high-volatility regime
        model = TwoRegime(model.mu[::-1], model.sigma[::-1], model.p_exit, model.p_enter)
    _, filtered, _ = filter_path(r, model)
    return model, float(filtered[-1])
