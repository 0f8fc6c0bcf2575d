"""Comparisons: paired statistics on common seeds, proposals as override files."""

import numpy as np
import pandas as pd
import pytest

from experiments.compare import (
    MIN_PAIRS,
    bootstrap_ci,
    compare,
    load_arms,
    paired_table,
    report,
    verdict,
)
from protocols.errors import ConfigError
from tests.experiments.conftest import AMM, SHORT_BASELINE

ROOT = AMM.parents[2]


def test_a_scenario_compared_with_itself_shows_zero_difference(write, tmp_path):
    base = write("short.toml", SHORT_BASELINE)
    result = compare(base, base, 2, tmp_path / "out", progress=False, boot=500)
    table = result.table.set_index("metric")
    assert {"bad_debt_usd", "liquidations", "treasury_loss_usd"} <= set(table.index)
    assert (table["diff_mean"] == 0).all() and (table["pairs"] == 2).all()
    assert table[["ci_low", "ci_high"]].isna().all(axis=None)  # 2 pairs: too few for one
    assert table.loc["bad_debt_usd", "baseline_mean"] > 0  # the stress does bite
    assert table["verdict"].str.contains("identical in all 2 paired runs").all()
    assert (tmp_path / "out" / "comparison.csv").exists() and "verdicts:" in result.text


def test_a_proposal_override_file_runs_on_the_same_seeds(write, tmp_path):
    base = write("short.toml", SHORT_BASELINE)
    proposal = ROOT / "experiments" / "proposals" / "gov_lt_50.toml"
    result = compare(base, proposal, 2, tmp_path / "out", progress=False, boot=200)
    runs = result.runs
    assert list(runs["variant"].unique()) == ["baseline", "gov-lt-50"]
    assert runs.groupby("replicate")["seed"].nunique().eq(1).all()  # common seeds
    table = result.table.set_index("metric")
    assert table.loc["treasury_start_usd", "diff_mean"] == 0  # same start, same prices
    # the lower threshold, executed at step 48, liquidates GOV positions opened under 0.65
    assert table.loc["liquidations", "diff_mean"] > 0
    assert set(result.tails["variant"]) == {"baseline", "gov-lt-50"}


def test_proposal_files_are_validated_with_field_names(write):
    base = write("short.toml", SHORT_BASELINE)
    bad = write("bad.toml", '[overrides]\n"protocols[aave].reserves.GOV.liquidation_threshold" = 0.4\n')
    with pytest.raises(ConfigError, match=r"reserves.GOV.ltv: must be <= liquidation_threshold"):
        load_arms(base, bad)
    with pytest.raises(ConfigError, match="no list item 'nope'"):
        load_arms(base, write("b2.toml", '[overrides]\n"protocols[nope].fee" = 0.1\n'))
    with pytest.raises(ConfigError, match="overrides: needs a table"):
        load_arms(base, write("b3.toml", 'name = "empty"\n'))
    with pytest.raises(ConfigError, match="--runs: must be >= 1"):
        compare(base, base, 0, "unused")


def test_paired_statistics_by_hand():
    import pandas as pd

    # baseline 10..50; proposal 11..55: differences 1..5 (mean 3, 10 % of the baseline's 30).
    runs = pd.DataFrame({"point": [0] * 5 + [1] * 5, "replicate": [*range(5), *range(5)],
                         "bad_debt_usd": [10.0, 20, 30, 40, 50, 11, 22, 33, 44, 55],
                         "error": None})
    row = paired_table(runs, ["bad_debt_usd"], boot=2000, confidence=0.95, seed=1).iloc[0]
    assert (row["baseline_mean"], row["proposal_mean"], row["diff_mean"]) == (30.0, 33.0, 3.0)
    assert 1.0 <= row["ci_low"] < 3.0 < row["ci_high"] <= 5.0  # resampled means of {1..5}
    assert row["rel_change"] == pytest.approx(0.1)
    assert row["verdict"].startswith("bad_debt_usd: the proposal raises it by 3 (+10%)")
    assert row["verdict"].endswith("- worse")
    assert row["judgement"] == "worse"


def test_fewer_pairs_than_the_minimum_get_no_interval_and_no_verdict():
    # one pair: the bootstrap "interval" was the difference itself, width 0, with a verdict
    runs = pd.DataFrame({"point": [0, 1], "replicate": [0, 0], "bad_debt_usd": [10.0, 15.0],
                         "error": None})
    row = paired_table(runs, ["bad_debt_usd"], boot=2000, confidence=0.95, seed=1).iloc[0]
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert row["judgement"] == "too few pairs"
    assert row["verdict"] == ("bad_debt_usd: mean difference 5 over 1 paired runs; no 95% "
                              f"interval (it needs at least {MIN_PAIRS} pairs)")
    text = report("base", "prop", pd.DataFrame([row]), pd.DataFrame(), runs, 7, 0.95)
    assert "only 1 paired runs: no confidence intervals and no verdicts" in text


def test_a_clear_change_without_a_good_direction_is_changed_not_unclear():
    d = np.array([1.0, 1.2, 0.9, 1.1, 1.0])
    assert verdict("price_end", d, 0.95, 1.1, 1.0, 0.95)[0] == "changed"
    assert verdict("price_end", d - 1.0, -0.05, 0.1, 1.0, 0.95)[0] == "unclear"
    assert verdict("bad_debt_usd", d * 1e-5, 0.9e-5, 1.1e-5, 1.0, 0.95)[0] == "negligible"
    assert verdict("bad_debt_usd", d * 0, 0.0, 0.0, 1.0, 0.95)[0] == "identical"


def test_bootstrap_interval_is_seeded_and_verdicts_read_plainly():
    d = np.array([-1.0, 0.5, 2.0, -0.3])
    idx = np.random.default_rng(0).integers(0, 4, size=(1000, 4))
    assert bootstrap_ci(d, idx, 0.9) == bootstrap_ci(d, idx, 0.9)
    low, high = bootstrap_ci(d, idx, 0.9)
    assert low < 0 < high
    assert "no clear change" in verdict("bad_debt_usd", d, low, high, 5.0, 0.9)[1]
    # more insolvent debt is worse, whether or not anyone wrote it off
    assert verdict("shortfall_peak_usd", np.array([1.0, 3.0]), 1.0, 3.0, 100.0,
                   0.95)[1].endswith("raises it by 2 (+2%) (95% CI 1 to 3) - worse")
    assert verdict("treasury_end_usd", np.array([-2.0, -4.0]), -4.0, -2.0, 100.0,
                   0.95)[1].endswith("lowers it by 3 (-3%) (95% CI -4 to -2) - worse")


def test_cli_compare_prints_the_table_and_writes_it(write, tmp_path, capsys):
    from cli.main import main

    base = write("amm.toml", f'extends = "{AMM}"\nsteps = 24\n')
    proposal = write("fee.toml", '[overrides]\n"protocols[univ2-ETH-USDC].fee" = 0.01\n')
    out = tmp_path / "cmp"
    assert main(["compare", str(base), str(proposal), "--runs", "2", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "compare 'fee' against 'amm_arbitrage': 2 paired runs" in printed
    assert "verdicts:" in printed and (out / "comparison.csv").exists()
    assert main(["compare", str(base), str(tmp_path / "missing.toml")]) == 2
    assert "proposal file not found" in capsys.readouterr().err


@pytest.mark.parametrize(("file", "path", "value"), [
    ("gov_lt_50.toml", ("shocks", -1, "liquidation_threshold"), 0.5),
    ("vol_target_40.toml", ("treasury", "policy", "target_vol"), 0.4),
    ("diversify_treasury.toml", ("treasury", "actions", 0, "units"), 4_000_000),
])
def test_each_shipped_proposal_is_a_valid_diff_on_the_baseline(file, path, value):
    (_, base), (name, proposal) = load_arms(ROOT / "experiments" / "scenarios" / "baseline.toml",
                                            ROOT / "experiments" / "proposals" / file)
    changed = proposal
    for key in path:
        changed = changed[key]
    assert changed == value and proposal != base and name != "baseline"
