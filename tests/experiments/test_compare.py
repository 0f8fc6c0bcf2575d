"""Comparisons: paired statistics on common seeds, proposals as override files."""

import numpy as np
import pandas as pd
import pytest

from experiments.compare import MIN_PAIRS, compare, load_arms, paired_table
from experiments.paired import verdict
from protocols.errors import ConfigError
from reports.compare_text import comparison_text, write_comparison_text
from tests.experiments.conftest import AMM, SHORT_BASELINE

ROOT = AMM.parents[2]


def test_a_scenario_compared_with_itself_shows_zero_difference(write, tmp_path):
    base = write("short.toml", SHORT_BASELINE)
    result = compare(base, base, 2, tmp_path / "out", progress=False, resamples=500)
    table = result.table.set_index("metric")
    assert {"bad_debt_usd", "liquidations", "treasury_loss_usd"} <= set(table.index)
    assert (table["diff_mean"] == 0).all() and (table["pairs"] == 2).all()
    assert table[["ci_low", "ci_high"]].isna().all(axis=None)  # 2 pairs: too few for one
    assert table.loc["bad_debt_usd", "baseline_mean"] > 0  # the stress does bite
    assert table["verdict"].str.contains("identical in all 2 paired runs").all()
    assert (table["status"] == "identical").all()
    text = write_comparison_text(tmp_path / "out")
    assert (tmp_path / "out" / "comparison.csv").exists() and "verdicts:" in text
    assert "nothing: the two scenarios resolve to the same values" in text


def test_a_proposal_override_file_runs_on_the_same_seeds(write, tmp_path):
    base = write("short.toml", SHORT_BASELINE)
    proposal = ROOT / "experiments" / "proposals" / "gov_lt_50.toml"
    result = compare(base, proposal, 2, tmp_path / "out", progress=False, resamples=200)
    runs = result.runs
    assert list(runs["variant"].unique()) == ["baseline", "gov-lt-50"]
    assert runs.groupby("replicate")["seed"].nunique().eq(1).all()  # common seeds
    assert (runs.groupby("replicate")["treasury_start_usd"].nunique() == 1).all()
    table = result.table.set_index("metric")
    # aliases and descriptive keys are not judged
    assert not {"treasury_start_usd", "treasury_end_usd", "protocols_total"} & set(table.index)
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
    row = paired_table(runs, ["bad_debt_usd"], resamples=2000, confidence=0.95, seed=1).iloc[0]
    assert (row["baseline_mean"], row["proposal_mean"], row["diff_mean"]) == (30.0, 33.0, 3.0)
    assert 1.0 <= row["ci_low"] < 3.0 < row["ci_high"] <= 5.0  # resampled means of {1..5}
    assert row["interval"] == "BCa" and row["status"] == "changed"
    assert row["rel_change"] == pytest.approx(0.1)
    assert row["verdict"].startswith("bad_debt_usd: the proposal raises it by 3 (+10%)")
    assert row["verdict"].endswith("- worse")
    assert row["judgement"] == "worse"


def test_fewer_pairs_than_the_minimum_get_no_interval_and_no_verdict():
    # one pair: the bootstrap "interval" was the difference itself, width 0, with a verdict
    runs = pd.DataFrame({"point": [0, 1], "replicate": [0, 0], "bad_debt_usd": [10.0, 15.0],
                         "error": None})
    row = paired_table(runs, ["bad_debt_usd"], resamples=2000, confidence=0.95, seed=1).iloc[0]
    assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert row["judgement"] == "too few pairs" and row["status"] == "no interval"
    assert row["interval"] == f"none (fewer than {MIN_PAIRS} pairs)"
    assert row["verdict"] == ("bad_debt_usd: mean difference 5 over 1 paired runs; no 95% "
                              f"interval (it needs at least {MIN_PAIRS} pairs)")
    text = comparison_text({"proposal": "prop", "baseline": "base"}, pd.DataFrame([row]),
                           pd.DataFrame(), runs)
    assert "none judged: 1 paired runs give no intervals" in text


def test_a_clear_change_without_a_good_direction_is_changed_not_unclear():
    d = np.array([1.0, 1.2, 0.9, 1.1, 1.0])
    assert verdict("price_end", d, 0.95, 1.1, 1.0, 0.95)[:3] == ("changed", "changed", "")
    assert verdict("price_end", d - 1.0, -0.05, 0.1, 1.0, 0.95)[:2] == ("unclear", "unclear")
    assert verdict("bad_debt_usd", d * 1e-5, 0.9e-5, 1.1e-5, 1.0, 0.95)[1] == "negligible"
    assert verdict("bad_debt_usd", d * 0, 0.0, 0.0, 1.0, 0.95)[:2] == ("identical", "identical")


def test_verdicts_take_their_direction_from_the_catalogue():
    up, down = np.array([1.0, 3.0]), np.array([-2.0, -4.0])
    # more insolvent debt is worse, whether or not anyone wrote it off
    assert verdict("shortfall_peak_usd", up, 1.0, 3.0, 100.0,
                   0.95)[3].endswith("raises it by 2 (+2%) (95% CI 1 to 3) - worse")
    assert verdict("treasury_nav_end_usd", down, -4.0, -2.0, 100.0,
                   0.95)[3].endswith("lowers it by 3 (-3%) (95% CI -4 to -2) - worse")
    assert verdict("treasury_runway_months_min", up, 1.0, 3.0, 10.0, 0.95)[1:3] == (
        "better", "better")
    # more liquidations is neither: it can be what keeps bad debt down
    status, judged, effect, text = verdict("liquidations", up, 1.0, 3.0, 100.0, 0.95)
    assert (status, judged, effect) == ("changed", "changed", "trade-off")
    assert text.endswith("- trade-off")
    # a per-market key takes its pattern's direction; a name is no direction
    assert verdict("bad_debt_usd:aave", down, -4.0, -2.0, 100.0, 0.95)[2] == "better"
    assert verdict("loss_of_something", up, 1.0, 3.0, 100.0, 0.95)[2:] == (
        "", "loss_of_something: the proposal raises it by 2 (+2%) (95% CI 1 to 3) - "
        "direction not catalogued")


def test_aliases_and_info_keys_are_out_of_the_verdicts():
    runs = pd.DataFrame({"point": [0] * 5 + [1] * 5, "replicate": [*range(5), *range(5)],
                         "treasury_end_usd": np.arange(10.0), "protocols_total": 6,
                         "treasury_nav_end_usd": np.arange(10.0), "error": None})
    table = paired_table(runs, ["treasury_end_usd", "protocols_total", "treasury_nav_end_usd"],
                         confidence=0.95, seed=3, resamples=500)
    assert list(table["metric"]) == ["treasury_nav_end_usd"]
    row = table.iloc[0]
    # a constant difference of 5 is its own interval, not a bootstrap of one value
    assert (row["ci_low"], row["ci_high"], row["effect"]) == (5.0, 5.0, "better")
    assert row["interval"] == "exact (the same difference in every pair)"
    assert (row["unit"], row["direction"], row["group"]) == ("USD", "higher", "treasury")


def test_cli_compare_prints_the_table_and_writes_it(write, tmp_path, capsys):
    from cli.main import main

    base = write("amm.toml", f'extends = "{AMM}"\nsteps = 24\n')
    proposal = write("fee.toml", '[overrides]\n"protocols[univ2-ETH-USDC].fee" = 0.01\n')
    out = tmp_path / "cmp"
    assert main(["compare", str(base), str(proposal), "--runs", "2", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "compare 'fee' against 'amm_arbitrage': 2 paired runs" in printed
    # the headline names the changed field with both resolved values
    assert "  protocols[univ2-ETH-USDC].fee: 0.003 -> 0.01\n" in printed
    assert printed.index("what it changes") < printed.index("material changes")
    assert "verdicts:" in printed and (out / "comparison.csv").exists()
    assert (out / "comparison.txt").read_text() in printed
    assert main(["compare", str(base), str(tmp_path / "missing.toml")]) == 2
    assert "proposal file not found" in capsys.readouterr().err
    # --set: a field of both arms, recorded and said in the headline
    assert main(["compare", str(base), str(proposal), "--runs", "1", "--out",
                 str(tmp_path / "short"), "--no-progress", "--set", "steps=6"]) == 0
    assert "both arms run with: steps = 6\n" in capsys.readouterr().out
    assert len(pd.read_parquet(tmp_path / "short" / "timeseries")) == 2 * 7


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
