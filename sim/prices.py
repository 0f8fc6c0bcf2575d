"""Exogenous reference prices: correlated GBM, Merton jump diffusion, two-regime Markov
switching, and pegged assets (stablecoins, liquid-staking tokens) with depeg episodes.

Paths are generated once per run. Row 0 is the initial state and row t the state at the end
of step t, so risky paths have shape (steps + 1, n_assets) and pegged paths (steps + 1,).
Drift, volatility and jump intensity are yearly and `dt` is the step length in years; the
mean-reverting (OU) processes are defined on the step grid, so their parameters are per step.
All randomness comes from the caller's `numpy.random.Generator`, and every argument is
checked before the first draw: a rejected call leaves the generator untouched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike, NDArray

from protocols.errors import ConfigError, InvalidAmount
from protocols.validation import check_amount, check_fraction

Array = NDArray[np.float64]

# Rounding slack allowed when checking that a correlation matrix is symmetric, has a unit
# diagonal and is positive semi-definite.
CORR_TOLERANCE = 1e-10


# -- argument checks shared with sim.gas ---------------------------------------------------
def check_steps(steps: int, name: str = "steps") -> int:
    """Return `steps` if it is an integer >= 1 (`name` names it in the error)."""
    if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
        raise ConfigError(f"{name}: must be an integer >= 1, got {steps!r}")
    return int(steps)


def check_array(
    name: str,
    value: ArrayLike,
    shape: tuple[int, ...] | None = None,
    *,
    lower: float | None = None,
    strict: bool = False,
) -> Array:
    """`value` as a float array, checked finite and >= `lower` (> `lower` with `strict`).
    With `shape`, value must be a scalar (broadcast) or an array of exactly that shape."""
    array = _numbers(value)
    if array is None:
        raise InvalidAmount(f"{name}: must be a number or an array of numbers, got {value!r}")
    shape = array.shape if shape is None else shape
    if array.ndim and array.shape != shape:
        raise ConfigError(f"{name}: expected a scalar or shape {shape}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidAmount(f"{name}: must be finite, got {value!r}")
    if lower is not None and np.any(array <= lower if strict else array < lower):
        raise InvalidAmount(f"{name}: must be {'>' if strict else '>='} {lower}, got {value!r}")
    return np.broadcast_to(array, shape).copy()


def _numbers(value: object) -> Array | None:
    """`value` as a float array if it is a (nested sequence of) real numbers, else None;
    booleans and numeric strings are refused like `check_amount` refuses them."""
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nesting
        return None
    return array.astype(float) if array.dtype.kind in "iuf" else None


def _check_s0(s0: ArrayLike) -> Array:
    """Initial prices as a 1-D array (a scalar is one asset), each finite and > 0."""
    array = _numbers(s0)
    if array is None or array.ndim > 1 or array.size == 0:
        raise ConfigError(f"s0: expected a positive price or a 1-D array of them, got {s0!r}")
    return check_array("s0", np.atleast_1d(array), (array.size,), lower=0.0, strict=True)


def correlation_factor(corr: ArrayLike | float | None, n: int, name: str = "corr") -> Array | None:
    """A factor L with L L^T = corr (Cholesky; the symmetric square root when corr is only
    semi-definite, e.g. perfectly correlated assets). None means independent assets.

    A scalar corr is the common correlation of every pair. Checks: shape (n, n), symmetric,
    unit diagonal, positive semi-definite.
    """
    if corr is None:
        return None
    matrix = _numbers(corr)
    if matrix is None:
        raise ConfigError(f"{name}: must be a number or an n x n matrix, got {corr!r}")
    if matrix.ndim == 0:
        matrix = np.full((n, n), float(matrix))
        np.fill_diagonal(matrix, 1.0)
    if matrix.shape != (n, n):
        raise ConfigError(f"{name}: expected shape ({n}, {n}) for {n} assets, got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ConfigError(f"{name}: entries must be finite")
    if not np.allclose(matrix, matrix.T, rtol=0.0, atol=CORR_TOLERANCE):
        raise ConfigError(f"{name}: must be symmetric")
    if not np.allclose(np.diag(matrix), 1.0, rtol=0.0, atol=CORR_TOLERANCE):
        raise ConfigError(f"{name}: diagonal must be 1, got {np.diag(matrix)}")
    eigenvalues, vectors = np.linalg.eigh(matrix)
    if eigenvalues[0] < -CORR_TOLERANCE:
        raise ConfigError(
            f"{name}: not positive semi-definite (smallest eigenvalue {eigenvalues[0]:.3g})"
        )
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))


# -- shared building blocks ----------------------------------------------------------------
def _mix(e: Array, factor: Array | None) -> Array:
    """Z = L e for each row e of independent standard normals: correlation L L^T."""
    return e if factor is None else e @ factor.T


def _jump_sums(rng: np.random.Generator, rate: Array, mean: Array, std: Array) -> Array:
    """Sum of the log-jumps in each step: N ~ Poisson(rate) jumps, each N(mean, std^2), so
    the sum given N is exactly N(N mean, N std^2) (Merton 1976, J. Financ. Econ. 3, 125)."""
    counts = rng.poisson(rate)
    return counts * mean + np.sqrt(counts) * std * rng.standard_normal(counts.shape)


def _merton_drift(mu: Array, sigma: Array, rate: Array, mean: Array, std: Array) -> Array:
    """mu - lambda k - sigma^2 / 2 with k = E[e^Y] - 1 = exp(mean + std^2 / 2) - 1: the
    compensated log drift that makes E[S_t] = S_0 e^{mu t} (Merton 1976: E[dS/S] = mu dt)."""
    return mu - rate * np.expm1(mean + 0.5 * std**2) - 0.5 * sigma**2


def _prices(s0: Array, log_returns: Array) -> Array:
    """S_t = S_0 exp(sum of log-returns up to t), with row 0 = S_0."""
    log_paths = np.vstack([np.zeros((1, s0.size)), np.cumsum(log_returns, axis=0)])
    with np.errstate(over="ignore"):
        paths = s0 * np.exp(log_paths)
    if not np.all(np.isfinite(paths) & (paths > 0)):
        raise InvalidAmount(
            "mu/sigma/dt: the price paths leave the float range; reduce drift, volatility, "
            "jumps or horizon"
        )
    return paths


def ar1(inputs: Array, keep: float, x0: float) -> Array:
    """x_0 = x0, x_t = keep * x_{t-1} + inputs[t-1]; returns (len(inputs) + 1,) values.

    With keep = e^{-kappa} this is the exact one-step transition of an Ornstein-Uhlenbeck
    process (Gillespie 1996, Phys. Rev. E 54, 2084) when `inputs` carries
    (1 - keep) * target + Gaussian noise; it runs as one linear filter, not a Python loop.
    """
    from scipy.signal import lfilter  # 0.4 s to import: validating a scenario never needs it

    tail, _ = lfilter([1.0], [1.0, -keep], inputs, zi=[keep * x0])
    return np.concatenate(([x0], tail))


# -- risky assets --------------------------------------------------------------------------
def gbm_paths(
    rng: np.random.Generator,
    s0: ArrayLike,
    mu: ArrayLike,
    sigma: ArrayLike,
    corr: ArrayLike | float | None,
    steps: int,
    dt: float,
) -> Array:
    """Correlated geometric Brownian motion, exact log-normal discretisation:
    S_{t+1} = S_t exp((mu - sigma^2/2) dt + sigma sqrt(dt) Z), Z = L e, L L^T = corr
    (Glasserman 2003, Monte Carlo Methods in Financial Engineering, section 3.2.3).

    s0: initial prices (n,); mu, sigma: yearly, scalar or (n,); corr: (n, n), a scalar
    common correlation, or None for independent assets. Returns (steps + 1, n).
    """
    s0 = _check_s0(s0)
    n = s0.size
    mu = check_array("mu", mu, (n,))
    sigma = check_array("sigma", sigma, (n,), lower=0.0)
    factor = correlation_factor(corr, n)
    steps = check_steps(steps)
    dt = check_amount("dt", dt, allow_zero=False)
    z = _mix(rng.standard_normal((steps, n)), factor)
    return _prices(s0, (mu - 0.5 * sigma**2) * dt + sigma * math.sqrt(dt) * z)


def merton_paths(
    rng: np.random.Generator,
    s0: ArrayLike,
    mu: ArrayLike,
    sigma: ArrayLike,
    corr: ArrayLike | float | None,
    jump_intensity: ArrayLike,
    jump_mean: ArrayLike,
    jump_std: ArrayLike,
    steps: int,
    dt: float,
) -> Array:
    """Merton (1976) jump diffusion: the GBM of `gbm_paths` plus, per step and asset,
    Poisson(jump_intensity dt) independent jumps with log-size N(jump_mean, jump_std^2).
    The drift is compensated, mu - lambda k - sigma^2/2 with k = exp(jump_mean +
    jump_std^2/2) - 1, so E[S_t] = S_0 e^{mu t} exactly, also on the discrete grid.

    jump_intensity: jumps per year. With jump_intensity 0 the result equals `gbm_paths`
    for the same generator state. Returns (steps + 1, n).
    """
    s0 = _check_s0(s0)
    n = s0.size
    mu = check_array("mu", mu, (n,))
    sigma = check_array("sigma", sigma, (n,), lower=0.0)
    factor = correlation_factor(corr, n)
    rate = check_array("jump_intensity", jump_intensity, (n,), lower=0.0)
    mean = check_array("jump_mean", jump_mean, (n,))
    std = check_array("jump_std", jump_std, (n,), lower=0.0)
    steps = check_steps(steps)
    dt = check_amount("dt", dt, allow_zero=False)
    z = _mix(rng.standard_normal((steps, n)), factor)
    jumps = _jump_sums(rng, np.broadcast_to(rate * dt, (steps, n)), mean, std)
    drift = _merton_drift(mu, sigma, rate, mean, std)
    return _prices(s0, drift * dt + sigma * math.sqrt(dt) * z + jumps)


@dataclass(frozen=True)
class RegimeParams:
    """One market regime: yearly volatility, correlation and Merton jumps per asset
    (each a scalar or one value per asset; corr as in `gbm_paths`)."""

    sigma: ArrayLike
    corr: ArrayLike | float | None = None
    jump_intensity: ArrayLike = 0.0
    jump_mean: ArrayLike = 0.0
    jump_std: ArrayLike = 0.0


@dataclass(frozen=True)
class _Regime:
    sigma: Array
    factor: Array | None
    rate: Array
    mean: Array
    std: Array


def _check_regime(name: str, params: RegimeParams, n: int) -> _Regime:
    if not isinstance(params, RegimeParams):
        raise ConfigError(f"{name}: expected RegimeParams, got {params!r}")
    return _Regime(
        sigma=check_array(f"{name}.sigma", params.sigma, (n,), lower=0.0),
        factor=correlation_factor(params.corr, n, f"{name}.corr"),
        rate=check_array(f"{name}.jump_intensity", params.jump_intensity, (n,), lower=0.0),
        mean=check_array(f"{name}.jump_mean", params.jump_mean, (n,)),
        std=check_array(f"{name}.jump_std", params.jump_std, (n,), lower=0.0),
    )


def _markov_chain(uniforms: Array, p_enter: float, p_exit: float, initial: int) -> NDArray:
    """Two-state chain: from calm (0) enter stress (1) with probability p_enter per step,
    leave stress with p_exit. Returns len(uniforms) + 1 states, the first `initial`."""
    states = np.empty(uniforms.size + 1, dtype=np.int8)
    state = states[0] = initial
    for t, u in enumerate(uniforms.tolist(), start=1):
        state = (0 if u < p_exit else 1) if state else (1 if u < p_enter else 0)
        states[t] = state
    return states


def regime_switching_paths(
    rng: np.random.Generator,
    s0: ArrayLike,
    mu: ArrayLike,
    calm: RegimeParams,
    stress: RegimeParams,
    p_calm_to_stress: float,
    p_stress_to_calm: float,
    steps: int,
    dt: float,
    initial_regime: int = 0,
) -> tuple[Array, NDArray[np.int8]]:
    """Hamilton (1989, Econometrica 57, 357) style Markov-switching market: a two-state
    chain (0 calm, 1 stress) with per-step transition matrix [[1 - p, p], [q, 1 - q]],
    p = p_calm_to_stress, q = p_stress_to_calm (stationary share of stress p / (p + q)).
    Within a step prices move as in `merton_paths` with that step's regime parameters; the
    drift mu is shared and compensated per regime, so E[S_t] = S_0 e^{mu t} whatever the
    regime path. The chain is the one Python loop (path-dependent); prices are vectorized.

    Returns (paths (steps + 1, n), regimes (steps + 1,) int8): regimes[t] is the regime of
    step t (the move from row t - 1 to row t); regimes[0] = initial_regime.
    """
    s0 = _check_s0(s0)
    n = s0.size
    mu = check_array("mu", mu, (n,))
    calm_, stress_ = _check_regime("calm", calm, n), _check_regime("stress", stress, n)
    p_enter = check_fraction("p_calm_to_stress", p_calm_to_stress)
    p_exit = check_fraction("p_stress_to_calm", p_stress_to_calm)
    steps = check_steps(steps)
    dt = check_amount("dt", dt, allow_zero=False)
    if isinstance(initial_regime, bool) or initial_regime not in (0, 1):
        raise ConfigError(f"initial_regime: must be 0 (calm) or 1 (stress), got {initial_regime!r}")

    states = _markov_chain(rng.random(steps), p_enter, p_exit, int(initial_regime))
    in_stress = states[1:, None].astype(bool)

    def per_step(calm_value: Array, stress_value: Array) -> Array:
        return np.where(in_stress, stress_value, calm_value)

    e = rng.standard_normal((steps, n))
    z = per_step(_mix(e, calm_.factor), _mix(e, stress_.factor))
    sigma = per_step(calm_.sigma, stress_.sigma)
    rate = per_step(calm_.rate, stress_.rate)
    mean = per_step(calm_.mean, stress_.mean)
    std = per_step(calm_.std, stress_.std)
    jumps = _jump_sums(rng, rate * dt, mean, std)
    drift = _merton_drift(mu, sigma, rate, mean, std)
    return _prices(s0, drift * dt + sigma * math.sqrt(dt) * z + jumps), states


# -- within a step ---------------------------------------------------------------------
def brownian_bridge(
    paths: ArrayLike, rounds: int, round_sd: ArrayLike = 0.0, z: ArrayLike | None = None
) -> Array:
    """Prices at `rounds` rounds inside every step, given the step rows `paths` (steps + 1, n):
    between rows t - 1 and t the log price is a Brownian bridge, X_k = x_{t-1} + (k / R)
    (x_t - x_{t-1}) + W_k - (k / R) W_R with W a random walk of R steps of standard deviation
    round_sd (Glasserman 2003, Monte Carlo Methods in Financial Engineering, section 3.1:
    conditional on both ends, Var X_k = round_sd^2 k (R - k) / R). If the step rows are the
    exact discretisation of a diffusion with per-step variance R round_sd^2, the rounds are
    its exact discretisation on the finer grid (the bridge does not depend on the drift).
    round_sd: per asset (n,) or per step and asset (steps, n); z: (steps, R, n) standard
    normals (correlated across assets as the caller wants), None with round_sd 0 (log-linear
    interpolation). Returns (steps * R + 1, n); row t * R is paths[t], exactly.
    """
    rows = check_array("paths", paths, lower=0.0, strict=True)
    if rows.ndim != 2 or rows.shape[0] < 2:
        raise ConfigError(f"paths: expected shape (steps + 1, n), got {rows.shape}")
    rounds = check_steps(rounds, "rounds")
    steps, n = rows.shape[0] - 1, rows.shape[1]
    sd = check_array("round_sd", round_sd, lower=0.0)
    if sd.shape not in ((), (n,), (steps, n)):
        raise ConfigError(f"round_sd: expected a scalar, ({n},) or ({steps}, {n}), got {sd.shape}")
    out = np.empty((steps * rounds + 1, n))
    out[::rounds] = rows
    if rounds == 1:
        return out
    k = (np.arange(1, rounds) / rounds)[None, :, None]
    log = np.log(rows)
    interior = log[:-1, None, :] + k * (log[1:, None, :] - log[:-1, None, :])
    if z is not None:
        walk = np.cumsum(check_array("z", z, (steps, rounds, n)), axis=1)
        walk *= np.broadcast_to(sd, (steps, n))[:, None, :]
        interior += walk[:, :-1, :] - k * walk[:, -1:, :]
    elif np.any(sd > 0):
        raise ConfigError("z: needed when round_sd > 0")
    out[1:].reshape(steps, rounds, n)[:, :-1, :] = np.exp(interior)
    return out


# -- pegged assets -------------------------------------------------------------------------
@dataclass(frozen=True)
class Depeg:
    """A depeg episode: from row `start_step` the target price is peg * (1 - depth) for
    `duration` steps, then it climbs back linearly, reaching the peg `recovery_steps` steps
    later (recovery_steps = 0: straight back). The price follows the target at the
    process's mean-reversion speed."""

    start_step: int
    duration: int
    depth: float
    recovery_steps: int = 0

    def __post_init__(self) -> None:
        for field, least in (("start_step", 0), ("duration", 1), ("recovery_steps", 0)):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < least:
                raise ConfigError(f"Depeg.{field}: must be an integer >= {least}, got {value!r}")
        depth = check_fraction("Depeg.depth", self.depth, upper_open=True)
        if depth == 0:
            raise InvalidAmount("Depeg.depth: must be > 0, got 0.0")

    def gap(self, rows: NDArray[np.int64]) -> Array:
        """Target shortfall below the peg, as a fraction of the peg, at each row."""
        end = self.start_step + self.duration
        ramp = (end + self.recovery_steps - rows) / (self.recovery_steps + 1)
        share = np.where(rows < end, 1.0, np.where(rows < end + self.recovery_steps, ramp, 0.0))
        return self.depth * np.where(rows >= self.start_step, share, 0.0)


def pegged_paths(
    rng: np.random.Generator,
    steps: int,
    peg: float = 1.0,
    noise_sigma: float = 0.0005,
    mean_reversion: float = 0.2,
    depegs: Sequence[Depeg] = (),
) -> Array:
    """Price of an asset held near `peg` (a stablecoin in USD, stETH in ETH).

    The log deviation x = log(price / peg) is an Ornstein-Uhlenbeck process pulled toward a
    target d: x_t = x_{t-1} + theta (d_t - x_{t-1}) + noise (exact OU step, see `ar1`), with
    theta = mean_reversion = share of the gap closed per step, in (0, 1]. Outside depegs
    d = 0; a `Depeg` sets d = log(1 - gap) (deepest gap wins where episodes overlap).
    noise_sigma is the stationary standard deviation of x around d (per-step innovation
    noise_sigma sqrt(1 - (1 - theta)^2)), so without depegs the price stays within a few
    noise_sigma of the peg. Row 0 is the target itself (the peg unless a depeg starts at 0).
    Returns (steps + 1,).
    """
    steps = check_steps(steps)
    peg = check_amount("peg", peg, allow_zero=False)
    noise_sigma = check_amount("noise_sigma", noise_sigma)
    theta = check_fraction("mean_reversion", mean_reversion)
    if theta == 0:
        raise InvalidAmount("mean_reversion: must be > 0 (0 would be a random walk), got 0.0")
    for i, depeg in enumerate(depegs):
        if not isinstance(depeg, Depeg):
            raise ConfigError(f"depegs[{i}]: expected a Depeg, got {depeg!r}")
        if depeg.start_step > steps:
            raise ConfigError(
                f"depegs[{i}].start_step: {depeg.start_step} is after the last step ({steps})"
            )

    rows = np.arange(steps + 1)
    gap = np.max([d.gap(rows) for d in depegs], axis=0) if depegs else np.zeros(steps + 1)
    target = np.log1p(-gap)
    keep = 1.0 - theta
    noise = noise_sigma * math.sqrt(1.0 - keep**2) * rng.standard_normal(steps)
    return peg * np.exp(ar1(theta * target[1:] + noise, keep, target[0]))
