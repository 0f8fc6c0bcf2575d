"""Tests of sim.prices: exact discretisation by hand, moments against standard errors,
validation (named argument, generator untouched), reproducibility."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ConfigError, DaosimError, InvalidAmount
from sim.prices import (
    Depeg,
    RegimeParams,
    brownian_bridge,
    gbm_paths,
    merton_paths,
    pegged_paths,
    regime_switching_paths,
)

HOUR = 1 / 8760


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def log_returns(paths: np.ndarray) -> np.ndarray:
    return np.diff(np.log(paths), axis=0)


def assert_within(estimate: float, expected: float, standard_error: float, k: float = 4.0):
    assert abs(estimate - expected) < k * standard_error, (estimate, expected, standard_error)


# -- GBM -----------------------------------------------------------------------------------
def test_gbm_is_the_exact_lognormal_step_with_cholesky_mixing():
    # Same seed -> same e; by hand for a 2x2 correlation rho: Z0 = e0,
    # Z1 = rho e0 + sqrt(1 - rho^2) e1, and log S_{t+1}/S_t = (mu - sigma^2/2) dt + sigma sqrt(dt) Z.
    mu, sigma, rho, dt = np.array([0.1, -0.2]), np.array([0.8, 0.5]), 0.6, 1 / 365
    paths = gbm_paths(rng(7), [100.0, 50.0], mu, sigma, [[1, rho], [rho, 1]], 5, dt)
    e = rng(7).standard_normal((5, 2))
    z = np.column_stack([e[:, 0], rho * e[:, 0] + math.sqrt(1 - rho**2) * e[:, 1]])
    expected = np.array([100.0, 50.0]) * np.exp(
        np.vstack([[0, 0], np.cumsum((mu - sigma**2 / 2) * dt + sigma * math.sqrt(dt) * z, 0)])
    )
    assert paths.shape == (6, 2)
    np.testing.assert_allclose(paths, expected, rtol=1e-12)


def test_gbm_without_volatility_grows_at_mu():
    # 100 e^{0.05 * 1 year} = 105.12710963760240
    paths = gbm_paths(rng(), 100.0, 0.05, 0.0, None, 8760, HOUR)
    assert paths[-1, 0] == pytest.approx(105.1271096376024, rel=1e-12)
    assert paths[0, 0] == 100.0


def test_gbm_moments_and_correlation_match_within_standard_errors():
    n, dt, rho = 20_000, 1 / 365, 0.6
    mu, sigma = np.array([0.3, -0.1]), np.array([0.9, 0.5])
    r = log_returns(gbm_paths(rng(1), [2000.0, 1.0], mu, sigma, rho, n, dt))
    step_sd = sigma * math.sqrt(dt)
    for i in range(2):
        # mean SE = sd / sqrt(n); sample-sd SE = sd / sqrt(2 n) for normal data
        assert_within(r[:, i].mean(), (mu[i] - sigma[i] ** 2 / 2) * dt, step_sd[i] / math.sqrt(n))
        assert_within(r[:, i].std(ddof=1), step_sd[i], step_sd[i] / math.sqrt(2 * n))
    # SE of a sample correlation ~ (1 - rho^2) / sqrt(n) = 0.0045
    assert_within(np.corrcoef(r.T)[0, 1], rho, (1 - rho**2) / math.sqrt(n))


def test_scalar_corr_is_the_common_pairwise_correlation():
    matrix = [[1, 0.3, 0.3], [0.3, 1, 0.3], [0.3, 0.3, 1]]
    a = gbm_paths(rng(3), [1, 2, 3], 0.0, 0.5, 0.3, 10, HOUR)
    b = gbm_paths(rng(3), [1, 2, 3], 0.0, 0.5, matrix, 10, HOUR)
    np.testing.assert_array_equal(a, b)


def test_perfectly_correlated_assets_move_together():
    # corr of ones is only semi-definite: no Cholesky factor, the symmetric root is used.
    paths = gbm_paths(rng(4), [1.0, 10.0], 0.1, 0.7, [[1, 1], [1, 1]], 100, HOUR)
    np.testing.assert_allclose(paths[:, 1], 10 * paths[:, 0], rtol=1e-12)


def test_same_seed_same_paths_other_seed_other_paths():
    args = ([100.0, 1.0], 0.0, [0.8, 0.1], 0.4, 50, HOUR)
    np.testing.assert_array_equal(gbm_paths(rng(9), *args), gbm_paths(rng(9), *args))
    assert not np.array_equal(gbm_paths(rng(9), *args), gbm_paths(rng(10), *args))


@pytest.mark.parametrize(
    ("corr", "error", "reason"),
    [
        ([[1, 0.5], [0.4, 1]], ConfigError, "symmetric"),
        ([[2, 0.5], [0.5, 1]], ConfigError, "diagonal"),
        ([[1, 0.5, 0.5], [0.5, 1, 0.5]], ConfigError, "shape"),
        ([[1, np.nan], [np.nan, 1]], ConfigError, "finite"),
        ("high", ConfigError, "matrix"),
        (-0.9, ConfigError, "semi-definite"),  # 3 assets: needs rho >= -1/2
    ],
)
def test_bad_correlation_is_rejected_by_name(corr, error, reason):
    n = 2 if reason in ("symmetric", "diagonal", "finite") else 3
    with pytest.raises(error, match=f"corr.*{reason}"):
        gbm_paths(rng(), [1.0] * n, 0.0, 0.5, corr, 10, HOUR)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"s0": [1.0, 0.0]}, InvalidAmount, "s0"),
        ({"s0": [1.0, -2.0]}, InvalidAmount, "s0"),
        ({"s0": [[1.0, 2.0]]}, ConfigError, "s0"),
        ({"s0": []}, ConfigError, "s0"),
        ({"s0": "100"}, ConfigError, "s0"),
        ({"sigma": True}, InvalidAmount, "sigma"),
        ({"mu": [0.1, 0.2, 0.3]}, ConfigError, "mu"),
        ({"mu": np.inf}, InvalidAmount, "mu"),
        ({"sigma": -0.1}, InvalidAmount, "sigma"),
        ({"steps": 0}, ConfigError, "steps"),
        ({"steps": 2.5}, ConfigError, "steps"),
        ({"steps": True}, ConfigError, "steps"),
        ({"dt": 0.0}, InvalidAmount, "dt"),
        ({"dt": -HOUR}, InvalidAmount, "dt"),
    ],
)
def test_bad_arguments_raise_named_errors_and_draw_nothing(kwargs, error, name):
    args = {"s0": [1.0, 2.0], "mu": 0.0, "sigma": 0.5, "corr": None, "steps": 10, "dt": HOUR}
    generator = rng()
    before = generator.bit_generator.state
    with pytest.raises(error, match=f"^{name}:"):
        gbm_paths(generator, **(args | kwargs))
    assert generator.bit_generator.state == before


def test_exploding_parameters_raise_instead_of_returning_inf():
    with pytest.raises(InvalidAmount, match="float range"):
        gbm_paths(rng(), 1.0, 1e6, 0.0, None, 10, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    s0=st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=4),
    mu=st.floats(-1, 1),
    sigma=st.floats(0, 2),
    steps=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_gbm_paths_are_positive_finite_and_start_at_s0(s0, mu, sigma, steps, seed):
    paths = gbm_paths(rng(seed), s0, mu, sigma, None, steps, HOUR)
    assert paths.shape == (steps + 1, len(s0))
    assert np.all(np.isfinite(paths) & (paths > 0))
    np.testing.assert_array_equal(paths[0], s0)


# -- Merton --------------------------------------------------------------------------------
def test_merton_without_jumps_is_gbm():
    args = ([3.0, 4.0], 0.1, 0.6, 0.5)
    a = merton_paths(rng(5), *args, 0.0, -0.1, 0.2, 30, HOUR)
    np.testing.assert_array_equal(a, gbm_paths(rng(5), *args, 30, HOUR))


def test_merton_compensated_mean_is_s0_exp_mu_t():
    # 20k independent paths to T = 1: E[S_T] = e^{0.1} = 1.1051709. Without the compensation
    # -lambda k (k = e^{-0.05 + 0.005} - 1 = -0.0440) the mean would be e^{0.1 + 0.880} = 2.66.
    n, lam, m, s = 20_000, 20.0, -0.05, 0.1
    final = merton_paths(rng(11), np.ones(n), 0.1, 0.3, None, lam, m, s, 50, 1 / 50)[-1]
    standard_error = final.std(ddof=1) / math.sqrt(n)
    assert_within(final.mean(), math.exp(0.1), standard_error)
    assert abs(math.exp(0.1 - lam * math.expm1(m + s**2 / 2)) - math.exp(0.1)) > 50 * standard_error


def test_merton_jump_count_is_poisson_lambda_t():
    # sigma = 0, jump_std = 0: each log-return is drift dt + N * jump_mean, so N is readable.
    # 200 assets x 1 year at lambda = 50/yr: E[total] = 10 000, Poisson SE = 100.
    lam, m, dt, steps, n = 50.0, -0.1, 0.01, 100, 200
    r = log_returns(merton_paths(rng(12), np.ones(n), 0.0, 0.0, None, lam, m, 0.0, steps, dt))
    drift = -lam * math.expm1(m) * dt  # mu - lambda k - 0 with k = e^m - 1
    counts = (r - drift) / m
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    assert counts.min() >= -1e-9
    assert_within(counts.sum(), lam * steps * dt * n, math.sqrt(lam * steps * dt * n))


@pytest.mark.parametrize(
    ("name", "value"), [("jump_intensity", -1.0), ("jump_std", -0.1), ("jump_mean", np.nan)]
)
def test_merton_rejects_bad_jump_parameters(name, value):
    args = {"jump_intensity": 1.0, "jump_mean": 0.0, "jump_std": 0.1} | {name: value}
    generator = rng()
    before = generator.bit_generator.state
    with pytest.raises(InvalidAmount, match=f"^{name}:"):
        merton_paths(generator, [1.0], 0.0, 0.5, None, steps=5, dt=HOUR, **args)
    assert generator.bit_generator.state == before


# -- regime switching ----------------------------------------------------------------------
CALM = RegimeParams(sigma=0.4, corr=0.2)
STRESS = RegimeParams(sigma=1.2, corr=0.9)


def test_regime_chain_statistics_vol_and_correlation():
    # p = 0.02, q = 0.08: stationary stress share p / (p + q) = 0.2. The chain's lag-1
    # autocorrelation is 1 - p - q = 0.9, so SE = sqrt(0.2 * 0.8 / N * 1.9 / 0.1) = 0.0039.
    n, dt = 200_000, 1 / 365
    paths, regimes = regime_switching_paths(
        rng(21), [1.0, 1.0], 0.0, CALM, STRESS, 0.02, 0.08, n, dt
    )
    assert paths.shape == (n + 1, 2) and regimes.shape == (n + 1,)
    assert set(np.unique(regimes)) == {0, 1}
    stress_share = regimes[1:].mean()
    assert_within(stress_share, 0.2, math.sqrt(0.2 * 0.8 / n * 1.9 / 0.1))
    r = log_returns(paths)
    for state, params in ((0, CALM), (1, STRESS)):
        rows = r[regimes[1:] == state]
        sd = params.sigma * math.sqrt(dt)
        assert_within(rows[:, 0].std(ddof=1), sd, sd / math.sqrt(2 * len(rows)))
        rho = params.corr
        assert_within(np.corrcoef(rows.T)[0, 1], rho, (1 - rho**2) / math.sqrt(len(rows)))


def test_jumps_happen_only_in_the_regime_that_has_them():
    # sigma = 0: a calm step is exactly mu dt; stress steps carry N * (-0.2), N ~ Poisson(1).
    calm, stress = RegimeParams(0.0), RegimeParams(0.0, jump_intensity=100.0, jump_mean=-0.2)
    dt = 0.01
    paths, regimes = regime_switching_paths(
        rng(22), [1.0], 0.0, calm, stress, 0.05, 0.05, 20_000, dt
    )
    r = log_returns(paths)[:, 0]
    in_stress = regimes[1:] == 1
    np.testing.assert_allclose(r[~in_stress], 0.0, atol=1e-15)
    counts = (r[in_stress] + 100.0 * math.expm1(-0.2) * dt) / -0.2
    expected = 100.0 * dt * in_stress.sum()
    assert_within(counts.sum(), expected, math.sqrt(expected))


def test_regime_mean_is_compensated_whatever_the_regime_path():
    # Given the regime path, independent assets have E[S_T] = e^{mu T} = e^{0.2}.
    n = 20_000
    calm, stress = (
        RegimeParams(0.3),
        RegimeParams(0.9, jump_intensity=30, jump_mean=-0.1, jump_std=0.1),
    )
    paths, regimes = regime_switching_paths(
        rng(23), np.ones(n), 0.2, calm, stress, 0.2, 0.2, 40, 1 / 40
    )
    assert 0 < regimes[1:].mean() < 1
    final = paths[-1]
    assert_within(final.mean(), math.exp(0.2), final.std(ddof=1) / math.sqrt(n))


def test_regime_chain_edge_cases_by_hand():
    run = lambda p, q, start: regime_switching_paths(  # noqa: E731
        rng(), [1.0], 0.0, CALM, STRESS, p, q, 6, HOUR, initial_regime=start
    )[1]
    np.testing.assert_array_equal(run(1.0, 1.0, 0), [0, 1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(run(0.0, 0.5, 0), [0] * 7)
    np.testing.assert_array_equal(run(0.5, 0.0, 1), [1] * 7)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"p_calm_to_stress": 1.5}, InvalidAmount, "p_calm_to_stress"),
        ({"p_stress_to_calm": -0.1}, InvalidAmount, "p_stress_to_calm"),
        ({"initial_regime": 2}, ConfigError, "initial_regime"),
        ({"stress": RegimeParams(sigma=0.5, corr=[[1.0]])}, ConfigError, "stress.corr"),
        ({"calm": RegimeParams(sigma=-1.0)}, InvalidAmount, "calm.sigma"),
        ({"calm": {"sigma": 0.5}}, ConfigError, "calm"),
    ],
)
def test_regime_rejects_bad_arguments(kwargs, error, name):
    args = {"s0": [1.0, 1.0], "mu": 0.0, "calm": CALM, "stress": STRESS, "steps": 5, "dt": HOUR}
    args |= {"p_calm_to_stress": 0.1, "p_stress_to_calm": 0.1} | kwargs
    generator = rng()
    before = generator.bit_generator.state
    with pytest.raises(error, match=f"^{name}"):
        regime_switching_paths(generator, **args)
    assert generator.bit_generator.state == before


# -- pegged --------------------------------------------------------------------------------
def test_depeg_profile_by_hand_with_instant_reversion():
    # theta = 1, no noise: price = peg (1 - gap). Start 3, duration 2 -> rows 3-4 at 0.9;
    # recovery 4 -> gap 0.1 * (9 - r) / 5 at rows 5..8 = 0.08, 0.06, 0.04, 0.02; row 9 back to 1.
    prices = pegged_paths(rng(), 10, 1.0, 0.0, 1.0, [Depeg(3, 2, 0.1, 4)])
    expected = [1, 1, 1, 0.9, 0.9, 0.92, 0.94, 0.96, 0.98, 1, 1]
    np.testing.assert_allclose(prices, expected, rtol=1e-12)


def test_price_approaches_the_depeg_target_at_the_mean_reversion_speed():
    # theta = 0.5, target log 0.9 on rows 1-3, 0 after: x1 = 0.5 L, x2 = 0.75 L, x3 = 0.875 L,
    # x4 = 0.4375 L with L = log 0.9.
    prices = pegged_paths(rng(), 4, 2.0, 0.0, 0.5, [Depeg(1, 3, 0.1)])
    big_l = math.log(0.9)
    np.testing.assert_allclose(
        prices, 2.0 * np.exp(np.array([0, 0.5, 0.75, 0.875, 0.4375]) * big_l), rtol=1e-12
    )


def test_a_depeg_at_row_zero_starts_the_path_depegged():
    # Row 0 is the target log 0.8 = L; target L on rows 0-1, then 0 (theta 0.5, no noise):
    # x1 = 0.5 L + 0.5 L = L, x2 = 0.5 L, x3 = 0.25 L.
    prices = pegged_paths(rng(), 3, 1.0, 0.0, 0.5, [Depeg(0, 2, 0.2)])
    np.testing.assert_allclose(prices, 0.8 ** np.array([1, 1, 0.5, 0.25]), rtol=1e-12)


def test_overlapping_depegs_take_the_deepest_target():
    prices = pegged_paths(rng(), 6, 1.0, 0.0, 1.0, [Depeg(1, 3, 0.05), Depeg(2, 1, 0.2)])
    np.testing.assert_allclose(prices, [1, 0.95, 0.8, 0.95, 1, 1, 1], rtol=1e-12)


def test_pegged_path_stays_in_band_and_has_the_stated_stationary_sd():
    # Stationary sd of the log deviation is noise_sigma. AR(1) with a = 0.8: SE of the sample
    # sd ~ sd * sqrt((1 + a^2) / (1 - a^2) / (2 N)) = 1.07 % at N = 20 000.
    n, noise = 20_000, 0.001
    x = np.log(pegged_paths(rng(31), n, 1.0, noise, 0.2))
    assert np.abs(x).max() < 6 * noise
    assert_within(x.std(), noise, noise * math.sqrt(1.64 / 0.36 / (2 * n)))


def test_pegged_path_reaches_the_depeg_depth_and_recovers():
    peg, depth = 1.0, 0.13
    prices = pegged_paths(rng(32), 300, peg, 0.0005, 0.2, [Depeg(100, 48, depth, 24)])
    assert np.all(np.abs(prices[:100] - peg) < 0.005)
    # after 30 steps at theta 0.2 the remaining gap to target is 0.8^30 = 0.1 % of it
    np.testing.assert_allclose(prices[130:148], peg * (1 - depth), rtol=0.005)
    assert prices.min() == pytest.approx(peg * (1 - depth), rel=0.005)
    assert np.all(np.abs(prices[220:] - peg) < 0.005)


def test_pegged_same_seed_same_path():
    args = (100, 1.0, 0.001, 0.3, [Depeg(10, 5, 0.2, 5)])
    np.testing.assert_array_equal(pegged_paths(rng(1), *args), pegged_paths(rng(1), *args))


@pytest.mark.parametrize(
    ("fields", "error", "name"),
    [
        ((0, 1, 0.0, 0), InvalidAmount, "Depeg.depth"),
        ((0, 1, 1.0, 0), InvalidAmount, "Depeg.depth"),
        ((0, 1, -0.1, 0), InvalidAmount, "Depeg.depth"),
        ((0, 0, 0.1, 0), ConfigError, "Depeg.duration"),
        ((-1, 1, 0.1, 0), ConfigError, "Depeg.start_step"),
        ((1.5, 1, 0.1, 0), ConfigError, "Depeg.start_step"),
        ((0, 1, 0.1, -2), ConfigError, "Depeg.recovery_steps"),
    ],
)
def test_depeg_rejects_bad_fields(fields, error, name):
    with pytest.raises(error, match=f"^{name}:"):
        Depeg(*fields)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"peg": 0.0}, InvalidAmount, "peg"),
        ({"noise_sigma": -0.01}, InvalidAmount, "noise_sigma"),
        ({"mean_reversion": 0.0}, InvalidAmount, "mean_reversion"),
        ({"mean_reversion": 1.5}, InvalidAmount, "mean_reversion"),
        ({"steps": 0}, ConfigError, "steps"),
        ({"depegs": [Depeg(11, 1, 0.1)]}, ConfigError, r"depegs\[0\].start_step"),
        ({"depegs": [(1, 1, 0.1)]}, ConfigError, r"depegs\[0\]"),
    ],
)
def test_pegged_rejects_bad_arguments(kwargs, error, name):
    generator = rng()
    before = generator.bit_generator.state
    with pytest.raises(error, match=f"^{name}"):
        pegged_paths(generator, **({"steps": 10} | kwargs))
    assert generator.bit_generator.state == before


@settings(max_examples=80, deadline=None)
@given(
    theta=st.floats(0.01, 1.0),
    episodes=st.lists(
        st.tuples(
            st.integers(0, 30), st.integers(1, 10), st.floats(0.001, 0.99), st.integers(0, 10)
        ),
        max_size=3,
    ),
)
def test_noiseless_pegged_price_stays_between_deepest_target_and_peg(theta, episodes):
    depegs = [Depeg(*e) for e in episodes]
    prices = pegged_paths(rng(), 30, 2.0, 0.0, theta, depegs)
    floor = 2.0 * (1 - max((d.depth for d in depegs), default=0.0))
    assert np.all(prices <= 2.0 * (1 + 1e-12)) and np.all(prices >= floor * (1 - 1e-12))


# -- rounds inside a step: the Brownian bridge ------------------------------------------------
def test_bridge_keeps_the_step_rows_exactly_and_interpolates_without_noise():
    steps = np.array([[100.0, 1.0], [121.0, 4.0], [110.0, 2.0]])
    fine = brownian_bridge(steps, 2)
    assert fine.shape == (5, 2)
    np.testing.assert_array_equal(fine[::2], steps)  # the step rows, bit for bit
    # round 1 of 2, no noise: the geometric mean of the step's end points
    np.testing.assert_allclose(fine[1], [110.0, 2.0], rtol=1e-14)
    np.testing.assert_allclose(fine[3], [np.sqrt(121 * 110), np.sqrt(8.0)], rtol=1e-14)
    np.testing.assert_array_equal(brownian_bridge(steps, 1), steps)  # R = 1: the steps


def test_bridge_hand_computed_with_given_normals():
    # one step from 1 to e^0.3, R = 3, sd 0.1, normals (1, -2, 0.5): walk W = 0.1 * (1, -1,
    # -0.5); X_k = 0.3 k / 3 + W_k - (k / 3) W_3 -> X_1 = 0.1 + 0.1 + 0.05 / 3,
    # X_2 = 0.2 - 0.1 + 0.1 / 3, X_3 = 0.3 (the end point itself).
    z = np.array([1.0, -2.0, 0.5]).reshape(1, 3, 1)
    fine = brownian_bridge([[1.0], [math.exp(0.3)]], 3, 0.1, z)[:, 0]
    np.testing.assert_allclose(np.log(fine), [0.0, 0.2 + 0.05 / 3, 0.1 + 0.1 / 3, 0.3],
                               atol=1e-14)


def test_bridge_conditional_variance_is_k_times_r_minus_k_over_r():
    # Between fixed end points the bridge's log deviation at round k has variance
    # sd^2 k (R - k) / R: for R = 4, (3/4, 1, 3/4) sd^2. 20000 steps: the sample variance's
    # relative standard error is sqrt(2 / 20000) = 1 %; 4 of them allowed.
    n, rounds, sd = 20_000, 4, 0.02
    z = rng(3).standard_normal((n, rounds, 1))
    fine = brownian_bridge(np.ones((n + 1, 1)), rounds, sd, z)[:, 0]
    deviations = np.log(fine[1:]).reshape(n, rounds)
    assert np.all(deviations[:, -1] == 0.0)
    variance = deviations[:, :-1].var(axis=0) / sd**2
    np.testing.assert_allclose(variance, [0.75, 1.0, 0.75], rtol=4 * math.sqrt(2 / n))


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (([[1.0], [2.0]], 0), "rounds"),
        (([[1.0], [2.0]], 2.0), "rounds"),
        (([[1.0], [-2.0]], 2), "paths"),
        (([1.0, 2.0], 2), "paths"),
        (([[1.0], [2.0]], 2, 0.1), "z"),
        (([[1.0], [2.0]], 2, [0.1, 0.2]), "round_sd"),
        (([[1.0], [2.0]], 2, 0.1, np.zeros((1, 3, 1))), "z"),
    ],
)
def test_bridge_rejects_bad_arguments(args, name):
    with pytest.raises(DaosimError, match=f"^{name}"):
        brownian_bridge(*args)


def test_every_error_is_a_daosim_error():
    with pytest.raises(DaosimError):
        pegged_paths(rng(), -1)
