"""The project's question on its shipped experiment: on dao_token_stress the treasury's policy
changes how far the crash spreads - the bad debt and insolvency left in the lending market,
the DAO's own loan liquidated, and the exposures DebtRank is measured on.

Paired on common seeds (the sweep's: root 2026, replicates 0..7), each policy against
static: threshold rebalancing buys GOV after the crash and delta hedging sells only ETH
(unlimited depth) and keeps its GOV off the market, and both leave less; volatility targeting
sells GOV into the thin market while the TWAP is still catching up, and risk parity sells
GOV for ETH before the crash, and both leave more. The scenario's crash is at step 100 and
the bad debt is booked within two days of it: 150 steps keep the figures of the full 336 at
under half the cost, ~20 s for the 40 runs on one core.
"""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from agents.policies import BUILTIN as POLICIES
from cli.main import main
from experiments.seeds import run_seed
from experiments.sweep import plan
from experiments.sweepfile import load_sweep
from sim.runner import run_scenario
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "experiments" / "scenarios" / "dao_token_stress.toml"
SWEEP = ROOT / "experiments" / "sweeps" / "policy_contagion.toml"
BUILTIN = list(POLICIES)  # every built-in policy
SEEDS = [run_seed(2026, k) for k in range(8)]
STEPS = 150


def paired_interval(diffs: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of paired differences."""
    n = len(diffs)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * diffs.std(ddof=1) / math.sqrt(n)
    return diffs.mean() - half, diffs.mean() + half


def test_paired_interval_matches_a_hand_computed_case():
    # mean 2, sample sd sqrt(2/3) = 0.8165, n 4, t(0.975, 3) = 3.1824: 2 -+ 1.2992
    low, high = paired_interval(np.array([1.0, 2.0, 3.0, 2.0]))
    assert low == pytest.approx(0.70077, abs=1e-5)
    assert high == pytest.approx(3.29923, abs=1e-5)


@pytest.fixture(scope="module")
def summaries() -> dict[str, list[dict]]:
    """The summaries of each policy, one per common seed."""
    return {kind: [run_scenario(load_scenario(
                SCENARIO, {"treasury.policy.kind": kind, "seed": seed, "steps": STEPS}
            )).summary for seed in SEEDS]
            for kind in ("static", "threshold", "vol_target", "risk_parity", "delta_hedge")}


@pytest.fixture(scope="module")
def losses(summaries) -> dict[str, np.ndarray]:
    """bad_debt_usd + shortfall_peak_usd per policy, one entry per common seed."""
    return {kind: np.array([_loss(s) for s in runs]) for kind, runs in summaries.items()}


def _loss(summary: dict) -> float:
    return summary["bad_debt_usd"] + summary["shortfall_peak_usd"]


def test_debtrank_is_measured_on_the_exposures_each_policy_built(summaries):
    # the same origins (the same paths) on every seed, a different network before them
    # (a policy that did not trade before the crash may leave static's network as it was)
    for k in range(len(SEEDS)):
        assert len({runs[k]["shock_origins"] for runs in summaries.values()}) == 1
        assert len({runs[k]["debtrank"] for runs in summaries.values()}) >= 3
    # risk parity sold GOV for ETH before the crash: less exposure to the GOV origin
    static = np.array([s["debtrank"] for s in summaries["static"]])
    parity = np.array([s["debtrank"] for s in summaries["risk_parity"]])
    assert (parity < static).all()


def test_the_treasurys_loan_against_gov_is_a_channel_the_policy_moves(summaries):
    liquidated = {k: np.array([s["treasury_liquidated_usd"] for s in runs])
                  for k, runs in summaries.items()}
    assert (liquidated["static"] > 0).sum() >= len(SEEDS) // 2
    # selling GOV for ETH before the crash leaves the DAO's own loan deeper under water
    low, _ = paired_interval(liquidated["risk_parity"] - liquidated["static"])
    assert low > 0


def test_the_stress_bites_under_every_seed(losses):
    # the crash alone leaves bad debt and insolvency on every path, whatever the policy
    assert (losses["static"] > 100_000).all()


@pytest.mark.parametrize("kind, sign", [("threshold", -1), ("delta_hedge", -1),
                                        ("vol_target", 1), ("risk_parity", 1)])
def test_policy_changes_bad_debt_plus_shortfall_with_a_paired_interval_excluding_zero(
    losses, kind, sign
):
    low, high = paired_interval(losses[kind] - losses["static"])
    if sign > 0:
        assert low > 0, f"{kind} - static: [{low:,.0f}, {high:,.0f}] should be above 0"
    else:
        assert high < 0, f"{kind} - static: [{low:,.0f}, {high:,.0f}] should be below 0"


def test_the_scenario_and_each_policy_of_the_sweep_pass_daosim_check(capsys):
    assert main(["check", str(SCENARIO)]) == 0
    assert "valid scenario 'dao_token_stress' (336 steps)" in capsys.readouterr().out
    for kind in BUILTIN:  # builds the world and the policy at step 0
        assert main(["check", str(SCENARIO), "--set", f'treasury.policy.kind="{kind}"']) == 0


def test_the_sweep_runs_every_builtin_policy_on_common_seeds():
    sweep = load_sweep(SWEEP)
    assert sweep.base_path == SCENARIO
    assert [a.path for a in sweep.axes] == ["treasury.policy.kind"]
    assert sorted(sweep.axes[0].values) == sorted(BUILTIN)
    assert sweep.replicates >= 12 and sweep.common_random_numbers
    tasks = plan(sweep)
    assert len(tasks) == len(BUILTIN) * sweep.replicates
    seeds = {}
    for task in tasks:
        seeds.setdefault(task.replicate, set()).add(task.seed)
    assert all(len(s) == 1 for s in seeds.values())  # replicate k: one seed, every policy
    assert len({next(iter(s)) for s in seeds.values()}) == sweep.replicates
    assert [t.seed for t in tasks[:8]] == SEEDS  # the test's seeds are the sweep's first 8
