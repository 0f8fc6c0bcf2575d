"""Shock cost by counterfactual (`sim.counterfactual`, `daosim run --counterfactual`): zero
without shocks, the difference of two separate runs with one, and common random numbers -
the run without shocks shares every draw the shocks do not cause."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents.borrowers import BorrowerCohort
from cli.main import main
from sim.counterfactual import NOT_OUTCOMES, run_counterfactual, shock_cost, without_shocks
from sim.model import TreasuryModel
from sim.paths import generate_paths
from sim.runner import run_scenario
from sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
CRASH = {"kind": "crash", "step": 24, "asset": "ETH", "size": 0.3}


def short_baseline(**overrides):
    return load_scenario(SCENARIOS / "baseline.toml", {"steps": 72, **overrides})


def outcome_keys(summary):
    return {k for k, v in summary.items() if k not in NOT_OUTCOMES
            and isinstance(v, int | float) and not isinstance(v, bool)}


def test_a_scenario_without_shocks_costs_exactly_zero_on_every_key():
    result, calm, calm_config = run_counterfactual(short_baseline(shocks=[]))
    costs = {k: v for k, v in result.summary.items() if k.startswith("shock_cost_")}
    assert set(costs) == {f"shock_cost_{k}" for k in outcome_keys(calm.summary)}
    assert len(costs) > 30
    assert all(v == 0 for v in costs.values()), {k: v for k, v in costs.items() if v != 0}
    assert not calm_config.shocks
    # integer keys stay integers
    assert isinstance(result.summary["shock_cost_liquidations"], int)


def test_a_crash_costs_the_difference_of_two_separate_runs():
    config = short_baseline(shocks=[CRASH])
    result, _, _ = run_counterfactual(config)
    shocked, calm = run_scenario(config), run_scenario(short_baseline(shocks=[]))
    for key in ("bad_debt_usd", "treasury_loss_usd", "liquidations", "treasury_end_usd"):
        expected = shocked.summary[key] - calm.summary[key]
        assert result.summary[f"shock_cost_{key}"] == pytest.approx(expected, rel=1e-12), key
    # measured: bad debt $0.66M and $6.7M more treasury loss from a 30 % ETH crash in 72 h
    assert result.summary["shock_cost_bad_debt_usd"] > 1e5
    assert result.summary["shock_cost_treasury_loss_usd"] > 1e6
    assert result.summary["shock_cost_treasury_end_usd"] == pytest.approx(
        -result.summary["shock_cost_treasury_loss_usd"])
    # before the crash step both runs are the same world, draw for draw (but for the
    # DebtRank of the shock's origins, which a run without shocks does not have)
    before = slice(0, CRASH["step"])
    drop = ["systemic_debtrank"]
    pd.testing.assert_frame_equal(shocked.timeseries.iloc[before].drop(columns=drop),
                                  calm.timeseries.iloc[before].drop(columns=drop))


def test_removing_shocks_shifts_no_random_stream():
    """After a run with a crash (which makes borrowers react and liquidations happen) and
    one without, the model's generators are in the same state: the draws consumed do not
    depend on what the shock did. Before borrowers' draws were keyed per position, the
    numpy generator drifted apart with the first extra reaction."""
    config = short_baseline(shocks=[CRASH, {"kind": "gas_spike", "step": 24}])
    states = []
    for c in (config, without_shocks(config)):
        model = TreasuryModel(c)
        model.run()
        states.append((model.random.getstate(), model.rng.bit_generator.state,
                       len(model.events)))
    assert states[0][2] != states[1][2]  # the shock did change what happened
    assert states[0][0] == states[1][0]
    assert states[0][1] == states[1][1]


def test_exogenous_paths_differ_only_by_the_crash():
    config = short_baseline(shocks=[CRASH])
    shocked, calm = generate_paths(config), generate_paths(without_shocks(config))
    eth = shocked.assets.index("ETH")
    rounds = config.rounds_per_step
    first = (CRASH["step"] - 1) * rounds + 1  # the crash hits its step's first round on
    ratio = shocked.rounds[:, eth] / calm.rounds[:, eth]
    np.testing.assert_array_equal(ratio[:first], 1.0)
    np.testing.assert_allclose(ratio[first:], 0.7, rtol=1e-12)
    for k, asset in enumerate(shocked.assets):
        if asset not in ("ETH", "stETH"):  # stETH is pegged to ETH
            np.testing.assert_array_equal(shocked.rounds[:, k], calm.rounds[:, k])
    np.testing.assert_array_equal(shocked.gas_gwei[:CRASH["step"]],
                                  calm.gas_gwei[:CRASH["step"]])


def test_a_positions_reaction_draw_does_not_depend_on_who_else_reacts():
    model = TreasuryModel(short_baseline(shocks=[]))
    cohort = next(iter(model.agents_by_type[BorrowerCohort]))
    everyone = cohort.uniforms(np.arange(1000))
    np.testing.assert_array_equal(cohort.uniforms(np.array([3, 7, 999])), everyone[[3, 7, 999]])
    assert cohort.uniforms(np.array([], dtype=int)).size == 0
    assert abs(everyone.mean() - 0.5) < 0.03  # s.e. 0.009
    model.steps += 1
    assert not np.array_equal(cohort.uniforms(np.arange(1000)), everyone)


@pytest.mark.parametrize("shocked, calm, expected", [
    (3, 1, 2),
    (1.5, 2.0, -0.5),
    (math.inf, math.inf, 0.0),  # an infinite runway in both runs: the shock cost nothing
    (math.inf, 10.0, math.inf),
    (10.0, math.inf, -math.inf),
    (math.nan, 1.0, None),
    (1.0, None, None),
])
def test_shock_cost_of_one_key(shocked, calm, expected):
    assert shock_cost({"k": shocked}, {"k": calm}) == {"shock_cost_k": expected}


def test_shock_cost_skips_identity_clock_text_and_flags():
    summary = {"scenario": "x", "seed": 1, "steps": 2, "runtime_s": 0.5, "flag": True,
               "daosim_version": "0.1.0", "scenario_sha256": "ab", "missing_in_calm": 4.0}
    assert shock_cost(summary, {}) == {"shock_cost_missing_in_calm": None}


def test_run_counterfactual_cli_writes_both_runs(tmp_path, capsys):
    out = tmp_path / "run"
    amm = SCENARIOS / "amm_arbitrage.toml"
    assert main(["run", str(amm), "--steps", "48", "--set", f"shocks=[{_toml(CRASH)}]",
                 "--counterfactual", "--out", str(out), "--no-report"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    calm = json.loads((out / "counterfactual" / "summary.json").read_text())
    assert json.loads((out / "counterfactual" / "scenario.json").read_text())["shocks"] == []
    assert summary["shock_cost_treasury_loss_usd"] == pytest.approx(
        summary["treasury_loss_usd"] - calm["treasury_loss_usd"], rel=1e-12)
    table = pd.read_parquet(out / "summary.parquet")
    assert table["shock_cost_max_gas_gwei"].iloc[0] == summary["shock_cost_max_gas_gwei"]
    assert "shock cost (the same seed without its 1 shock(s)" in capsys.readouterr().out


def _toml(table):
    return "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + "}"
