"""Tests of sim.paths: the round grid of the exogenous paths (`ExogenousPaths.rounds`) -
step rows as they always were, a Brownian bridge between them, shocks from the first round
of their step, and replays through each candle's high and low."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.historical import default_data_dir
from sim.paths import STREAMS, generate_paths, seed_streams
from sim.scenario import load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
DATA = default_data_dir()
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no data directory at {DATA}")
PROCESSES = ("gbm", "merton", "regime")


def raw(process: str = "gbm", **extra) -> dict:
    """Two correlated risky assets, a USD stablecoin and stETH pegged to ETH, an ETH crash
    at step 4 and a stETH depeg at step 6; the regime process switches often."""
    return {
        "seed": 7,
        "steps": 10,
        "market": {"process": process, "correlation": 0.6, "jump_intensity": 50.0,
                   "stress": {"p_enter": 0.3, "p_exit": 0.3}},
        "assets": [
            {"symbol": "ETH", "price": 2000.0, "sigma": 0.8},
            {"symbol": "BTC", "price": 30000.0, "sigma": 0.6},
            {"symbol": "USDC", "kind": "pegged", "price": 1.0},
            {"symbol": "stETH", "kind": "pegged", "peg_to": "ETH", "price": 1990.0},
        ],
        "shocks": [
            {"kind": "crash", "step": 4, "asset": "ETH", "size": 0.3},
            {"kind": "depeg", "step": 6, "asset": "stETH", "depth": 0.05, "duration": 2,
             "recovery": 1},
        ],
        **extra,
    }


def paths_of(process: str = "gbm", **extra):
    return generate_paths(parse_scenario(raw(process, **extra)))


#: The last step row of `raw(process)` computed by the code before rounds existed (commit
#: 45244f2): the step rows draw the same numbers from the same streams, whatever R.
BEFORE_ROUNDS = {
    "gbm": [1392.8123525851747, 30174.67432229772, 0.9997933498450041, 1367.5537435663107],
    "merton": [1395.795109532144, 30239.29445529002, 0.9997933498450041, 1370.4824083081226],
    "regime": [1362.1000689761643, 28964.524416446675, 0.9997933498450041, 1337.3984262724803],
}


@pytest.mark.parametrize("process", PROCESSES)
def test_step_rows_are_todays_and_do_not_depend_on_rounds(process):
    one = paths_of(process, rounds_per_step=1)
    assert one.prices[-1].tolist() == BEFORE_ROUNDS[process]  # bit for bit
    np.testing.assert_array_equal(one.rounds, one.prices)  # R = 1: the rounds are the steps
    for rounds in (3, 6):
        fine = paths_of(process, rounds_per_step=rounds)
        assert fine.rounds.shape == (10 * rounds + 1, 4) and fine.rounds_per_step == rounds
        np.testing.assert_array_equal(fine.prices, one.prices)
        np.testing.assert_array_equal(fine.rounds[::rounds], one.prices)
        assert np.shares_memory(fine.prices, fine.rounds)  # prices is the view rounds[::R]
        np.testing.assert_array_equal(fine.gas_gwei, one.gas_gwei)
        np.testing.assert_array_equal(fine.regime, one.regime)


def test_the_rounds_stream_is_appended_so_older_streams_keep_their_seeds():
    assert STREAMS[:4] == ("prices", "pegs", "gas", "model") and STREAMS[4] == "rounds"
    # SeedSequence children depend on their index only: "model" is what it was with 4 streams
    old = np.random.SeedSequence(7).spawn(4)[3]
    assert seed_streams(7)["model"].generate_state(4).tolist() == old.generate_state(4).tolist()


def test_same_seed_same_rounds_other_seed_other_rounds():
    first, second = paths_of(rounds_per_step=6), paths_of(rounds_per_step=6)
    np.testing.assert_array_equal(first.rounds, second.rounds)
    other = paths_of(rounds_per_step=6, seed=8)
    assert not np.array_equal(first.rounds[1:6, 0], other.rounds[1:6, 0])


def test_a_crash_hits_from_the_first_round_of_its_step():
    # Shocks draw nothing, so the crashed and the plain run share every draw: their ETH
    # ratio is 1 up to the end of step 3 (row 3 * 4 = 12) and 0.7 from round 1 of step 4
    # (row (4 - 1) * 4 + 1 = 13) on - so step row 4 (row 16) is crashed, as before rounds.
    crashed = paths_of(rounds_per_step=4)
    plain = paths_of(rounds_per_step=4, shocks=[])
    ratio = crashed.rounds[:, 0] / plain.rounds[:, 0]
    np.testing.assert_array_equal(ratio[:13], 1.0)
    np.testing.assert_allclose(ratio[13:], 0.7, rtol=1e-14)
    # stETH, pegged to ETH, falls with it in the same round
    steth = crashed.rounds[:, 3] / plain.rounds[:, 3]
    assert steth[12] == pytest.approx(1.0) and steth[13] == pytest.approx(0.7)


def test_pegged_assets_hold_each_steps_ratio_through_its_rounds():
    paths = paths_of(rounds_per_step=4)
    # stETH / ETH takes step 7's ratio at its first round (row 25) and holds it to the step
    # row 28, through the depeg that starts at step 6 (its target moves by steps); stETH
    # itself still moves with ETH's bridge inside the step.
    ratio = paths.rounds[:, 3] / paths.rounds[:, 0]
    np.testing.assert_allclose(ratio[25:29], ratio[28], rtol=1e-12)
    assert ratio[24] != ratio[25]
    usdc = paths.rounds[:, 2]
    np.testing.assert_array_equal(usdc[25:29], usdc[28])


def test_rounds_are_a_brownian_bridge_with_the_per_round_variance():
    # A GBM bridged by a Brownian bridge is, on the round grid, a GBM again: the log
    # increments over rounds are iid N((mu - sigma^2/2) dt / R, sigma^2 dt / R). With
    # 1500 steps x R = 6 = 9000 increments the sample variance has a relative standard
    # error sqrt(2 / 8999) = 1.5 %: it must be within 6 % (4 standard errors), and the
    # correlation of the two assets' increments (0.6) within 4 (1 - 0.36) / sqrt(9000)
    # = 0.027.
    scenario = parse_scenario(raw(steps=1500, rounds_per_step=6, shocks=[]))
    log = np.diff(np.log(generate_paths(scenario).rounds[:, :2]), axis=0)
    expected = np.array([0.8, 0.6]) ** 2 * scenario.dt_years / 6
    np.testing.assert_allclose(log.var(axis=0, ddof=1) / expected, 1.0, atol=0.06)
    assert np.corrcoef(log.T)[0, 1] == pytest.approx(0.6, abs=0.027)


def test_stress_steps_bridge_with_the_stress_volatility():
    # Regime process without jumps: rounds in stress steps move with sigma times the vol
    # multiplier (2.5), so their increments' variance is 6.25 times the calm steps'. Each
    # regime holds ~half of 3000 steps x 6 rounds, ~9000 increments: the ratio of two
    # sample variances has a relative standard error ~sqrt(2 / 9000 * 2) = 2.1 %, the
    # bound is 10 %.
    market = {"process": "regime", "stress": {"p_enter": 0.5, "p_exit": 0.5,
                                              "jump_intensity": 0.0}}
    paths = generate_paths(parse_scenario(raw(steps=3000, rounds_per_step=6, shocks=[],
                                              market=market)))
    log = np.diff(np.log(paths.rounds[:, 0]))
    stress = np.repeat(paths.regime[1:] == 1, 6)
    ratio = log[stress].var() / log[~stress].var()
    assert ratio == pytest.approx(6.25, rel=0.10)


@needs_data
def test_black_thursday_rounds_reach_the_86_dollar_low():
    # Step rows are the hourly closes (lowest 96.62, the 13 Mar 01:00 candle's close, at
    # 02:00 = step 50, as before rounds). The 13 Mar 02:00 candle (step 51) is bullish
    # (close 111.12 > open), so its path runs open -> low -> high -> close and the low 86.00
    # sits at 02:20 = round 2 of step 51, row 50 * 6 + 2 = 302, which the 10-minute
    # round grid of R = 6 hits exactly.
    scenario = load_scenario(SCENARIOS / "black_thursday_2020.toml",
                             {"steps": 96, "rounds_per_step": 6})
    paths = generate_paths(scenario)
    eth = paths.rounds[:, 0]
    assert eth.min() == 86.00 and eth.argmin() == 302
    assert paths.price("ETH").min() == 96.62 and paths.price("ETH").argmin() == 50
    # R = 1 (no rounds inside the step) keeps the close-only path
    one = generate_paths(load_scenario(SCENARIOS / "black_thursday_2020.toml",
                                       {"steps": 96, "rounds_per_step": 1}))
    assert one.rounds[:, 0].min() == 96.62
    np.testing.assert_array_equal(one.prices, paths.prices)


@needs_data
def test_a_depeg_on_a_replayed_peg_starts_at_round_one_of_its_step():
    # USDC's replayed ratio is multiplied by 1 - 0.1 from round 1 of step 5 (row 4 * 3 + 1
    # = 13) to the end of step 6 (row 18), then climbs back over one step (recovery 1:
    # half the gap during step 7, rows 19-21).
    base = {"steps": 12, "rounds_per_step": 3}
    plain = generate_paths(load_scenario(SCENARIOS / "usdc_depeg_2023.toml", base))
    depeg = {"start": 5, "duration": 2, "depth": 0.1, "recovery": 1}
    shocked = generate_paths(load_scenario(
        SCENARIOS / "usdc_depeg_2023.toml", {**base, "assets[USDC].depegs": [depeg]}))
    usdc = plain.assets.index("USDC")
    gap = 1 - shocked.rounds[:, usdc] / plain.rounds[:, usdc]
    expected = np.zeros(37)
    expected[13:19] = 0.1
    expected[19:22] = 0.05
    np.testing.assert_allclose(gap, expected, atol=1e-15)
