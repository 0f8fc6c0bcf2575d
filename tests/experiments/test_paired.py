"""Paired statistics: the BCa interval is scipy's with the comparison's seed, its fallbacks
say what they are, runs-needed is the normal-approximation formula, and "material" is the
interval excluding 0 and a change of at least 1 % of the baseline."""

import math
import zlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.paired import MATERIAL, MIN_PAIRS, paired_interval, paired_table, runs_needed
from experiments.proposal_diff import resolved_diff
from experiments.tails import min_runs
from sim.scenario import apply_appends, apply_overrides, read_scenario
from tests.experiments.conftest import BASELINE

D = np.array([3.1, -0.4, 2.2, 5.0, 1.7, 0.9, 4.4, 2.8])


def test_the_interval_is_scipys_bca_with_the_same_seed():
    low, high, method = paired_interval(D, 0.95, [11, 22], resamples=4000)
    ref = stats.bootstrap((D,), np.mean, n_resamples=4000, method="BCa",
                          rng=np.random.default_rng([11, 22])).confidence_interval
    assert method == "BCa" and (low, high) == (ref.low, ref.high)
    # and it is not the percentile interval: BCa shifts it for the skew of these differences
    pct = stats.bootstrap((D,), np.mean, n_resamples=4000, method="percentile",
                          rng=np.random.default_rng([11, 22])).confidence_interval
    assert (low, high) != (pct.low, pct.high)
    assert low < D.mean() < high and 0.9 < low < 1.6 and 3.0 < high < 3.6  # mean 2.4625
    assert paired_interval(D, 0.95, [11, 22], 4000) == (low, high, method)  # seeded


def test_paired_table_seeds_each_metric_from_the_comparisons_seed():
    runs = pd.DataFrame({"point": [0] * 8 + [1] * 8, "replicate": [*range(8), *range(8)],
                         "bad_debt_usd": np.r_[np.full(8, 10.0), 10.0 + D], "error": None})
    row = paired_table(runs, ["bad_debt_usd"], confidence=0.95, seed=5, resamples=999).iloc[0]
    d = (10.0 + D) - 10.0  # the differences as the table computes them (rounded)
    low, high, _ = paired_interval(d, 0.95, [5, zlib.crc32(b"bad_debt_usd")], 999)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-12)
    assert row["half_width"] == pytest.approx((high - low) / 2)
    assert row["sd_diff"] == pytest.approx(D.std(ddof=1))
    assert 0.9 < low < 1.6 and 3.0 < high < 3.6
    # runs to resolve 10 % of the baseline mean (10): ((1.95996 + 0.84162) * sd / 1)^2
    assert row["resolve_delta"] == 1.0
    assert row["runs_needed"] == math.ceil((2.801585 * D.std(ddof=1)) ** 2)


def test_degenerate_cases_fall_back_and_say_so():
    assert paired_interval(np.full(8, 2.5), 0.95, 1) == (
        2.5, 2.5, "exact (the same difference in every pair)")
    low, high, method = paired_interval(D[:MIN_PAIRS - 1], 0.95, 1)
    assert math.isnan(low) and math.isnan(high)
    assert method == f"none (fewer than {MIN_PAIRS} pairs)"
    # differences so small that the jackknife's cubed deviations underflow: BCa's
    # acceleration is 0/0, so the percentile interval of the same resamples is given
    tiny = np.r_[np.zeros(7), 1e-200]
    with np.errstate(all="ignore"), pytest.warns(stats.DegenerateDataWarning):
        bca = stats.bootstrap((tiny,), np.mean, method="BCa", n_resamples=999,
                              rng=np.random.default_rng(1)).confidence_interval
    assert math.isnan(bca.low)
    low, high, method = paired_interval(tiny, 0.95, 1, resamples=999)
    assert method == "percentile (BCa degenerate)" and low == 0.0 < high <= 1e-200


def test_runs_needed_by_hand():
    # z_0.975 + z_0.8 = 1.959964 + 0.841621 = 2.801585; sd 10, delta 5: (5.60317)^2 = 31.4
    assert runs_needed(10.0, 5.0) == 32
    assert runs_needed(10.0, -5.0) == 32  # the size of the difference, either way
    assert runs_needed(1.0, 1.0) == 8  # 7.85 rounded up
    assert runs_needed(10.0, 5.0, power=0.9) == 43  # (1.959964 + 1.281552)^2 * 4 = 42.03
    assert math.isnan(runs_needed(1.0, 0.0)) and math.isnan(runs_needed(math.nan, 1.0))


def test_material_needs_a_clear_change_of_at_least_the_threshold():
    base = np.array([100.0, 110, 90, 105, 95, 100])
    cols = {"bad_debt_usd": base + [2.0, 2.1, 1.9, 2.0, 2.2, 1.8],  # +2 %: clear, material
            "shortfall_peak_usd": base + [0.5, 0.6, 0.4, 0.5, 0.5, 0.5],  # +0.5 %: clear, small
            "treasury_loss_usd": base + [3.0, -3.0, 2.0, -2.0, 1.0, -1.0],  # unclear
            "liquidations": np.r_[0.0, 0, 0, 0, 0, 1]}  # from a zero baseline: unclear
    runs = pd.DataFrame({"point": [0] * 6 + [1] * 6, "replicate": [*range(6), *range(6)],
                         **{k: np.r_[base if k != "liquidations" else np.zeros(6), v]
                            for k, v in cols.items()}, "error": None})
    table = paired_table(runs, list(cols), confidence=0.95, seed=2, resamples=999)
    got = table.set_index("metric")[["status", "material"]].to_dict("index")
    assert got["bad_debt_usd"] == {"status": "changed", "material": True}
    assert got["shortfall_peak_usd"] == {"status": "changed", "material": False}
    assert got["treasury_loss_usd"]["status"] == "unclear"
    assert got["liquidations"] == {"status": "unclear", "material": False}
    assert MATERIAL == 0.01


def test_a_market_equal_to_its_total_names_it():
    runs = pd.DataFrame({"point": [0] * 5 + [1] * 5, "replicate": [*range(5), *range(5)],
                         "bad_debt_usd": np.arange(10.0), "bad_debt_usd:aave": np.arange(10.0),
                         "shortfall_peak_usd": np.arange(10.0),
                         "shortfall_peak_usd:aave": np.r_[np.arange(9.0), 0.0], "error": None})
    table = paired_table(runs, list(runs.columns[2:-1]), confidence=0.95, seed=1,
                         resamples=200).set_index("metric")
    assert table.loc["bad_debt_usd:aave", "same_as"] == "bad_debt_usd"
    assert table.loc["shortfall_peak_usd:aave", "same_as"] == ""
    assert table.loc["bad_debt_usd", "same_as"] == ""


def test_tail_run_counts():
    assert (min_runs(0.95), min_runs(0.99), min_runs(0.5)) == (20, 100, 2)


def test_the_resolved_diff_names_each_changed_field_with_both_values():
    base = read_scenario(BASELINE)
    prop = apply_overrides(base, {"protocols[aave].reserves.GOV.ltv": 0.45,
                                  "treasury.policy.kind": "vol_target",
                                  "treasury.policy.target_vol": 0.3,
                                  "treasury.policy.half_life": 72,
                                  "name": "renamed"})  # its identity is not a change
    prop = apply_appends(prop, {"shocks": [{"kind": "crash", "step": 300, "asset": "GOV",
                                            "size": 0.2}]})
    lines = [c.line() for c in resolved_diff(base, prop)]
    assert lines == [
        "protocols[aave].reserves.GOV.ltv: 0.55 -> 0.45",
        "treasury.policy.kind: static -> vol_target",
        # target_vol 0.3 is the default: the same resolved value is no change
        "treasury.policy.half_life: 168 -> 72",
        "appended shocks[3]: kind=crash step=300 asset=GOV size=0.2",
    ]
