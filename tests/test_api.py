"""The public API (`daosim`): what a notebook gets back, the same fresh and reopened."""

import subprocess
import sys

import pandas as pd
import pytest

import daosim
from cli.main import main
from daosim import ConfigError
from sim.runner import run_scenario
from sim.scenario import load_scenario
from tests.experiments.conftest import AMM, AMM_SWEEP

PROPOSAL = """
name = "buy-eth"
description = "Hold 2,000 ETH"
[overrides]
"treasury.holdings.ETH" = 2000
"""


def test_every_public_name_resolves_and_nothing_else_is_exported():
    assert sorted(daosim.__all__) == sorted(["__version__", *daosim._HOMES])
    for name in daosim.__all__:
        assert getattr(daosim, name) is not None
    assert {"run", "Run", "__version__"} <= set(dir(daosim))
    with pytest.raises(AttributeError, match="no attribute 'run_scenario'"):
        daosim.run_scenario  # noqa: B018 - internal names are not re-exported


def test_the_version_from_python_and_from_the_command_line(capsys):
    major, minor, patch = daosim.__version__.split(".")
    assert all(part.isdigit() for part in (major, minor, patch))
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"daosim {daosim.__version__}\n"
    # importing daosim for its version loads no simulator
    code = ("import sys, daosim; print(daosim.__version__, "
            "sorted({'pandas', 'mesa', 'sim'} & set(sys.modules)))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout
    assert shown == f"{daosim.__version__} []\n"


def test_load_applies_overrides_by_dotted_path_and_names_a_bad_field():
    scenario = daosim.load(AMM, steps=12, **{"assets[ETH].sigma": 0.5})
    assert (scenario.steps, scenario.assets[0].sigma) == (12, 0.5)
    with pytest.raises(ConfigError, match=r"steps: must be >= 1, got -3"):
        daosim.load(AMM, steps=-3)
    with pytest.raises(ConfigError, match="no_such_field"):
        daosim.load(AMM, no_such_field=1)
    with pytest.raises(ConfigError, match="scenario: expected a file path, got int"):
        daosim.load(7)


def test_a_run_is_the_runners_result_and_reads_back_the_same(tmp_path):
    config = load_scenario(AMM, {"steps": 24})
    direct = run_scenario(config, graph=True)
    run = daosim.run(AMM, steps=24, out=tmp_path / "run")
    assert run.scenario == config
    assert {k: v for k, v in run.summary.items() if k != "runtime_s"} == \
        {k: v for k, v in direct.summary.items() if k != "runtime_s"}
    pd.testing.assert_frame_equal(run.timeseries, direct.timeseries)
    assert len(run.events) == len(direct.events)
    assert list(run.events.columns[:2]) == ["step", "kind"]
    assert run.graph.nodes == direct.graph.nodes
    assert repr(run) == (f"Run(scenario='amm_arbitrage', seed={config.seed}, steps=24, "
                         f"events={len(direct.events)}, folder='{tmp_path / 'run'}')")

    again = daosim.open(tmp_path / "run")
    assert isinstance(again, daosim.Run) and again.folder == tmp_path / "run"
    assert again.scenario == run.scenario
    assert again.summary == run.summary
    pd.testing.assert_frame_equal(again.timeseries, run.timeseries)
    pd.testing.assert_frame_equal(again.events, run.events, check_dtype=False)
    assert sorted(again.graph.nodes) == sorted(run.graph.nodes)
    assert again.report() == tmp_path / "run" / "report.html"


def test_a_scenario_object_runs_with_its_changes_validated_again():
    scenario = daosim.load(AMM, steps=12)
    run = daosim.run(scenario, seed=5)
    assert (run.scenario.seed, len(run.timeseries)) == (5, 13)
    assert run.folder is None
    with pytest.raises(ConfigError, match="report: this run was kept in memory only"):
        run.report()
    with pytest.raises(ConfigError, match="query: this run was kept in memory only"):
        run.query("SELECT 1")
    with pytest.raises(ConfigError, match=r"steps: must be >= 1, got 0"):
        daosim.run(scenario, steps=0)
    with pytest.raises(ConfigError, match="expected a scenario file's path or a Scenario"):
        daosim.run({"name": "x"})


def test_a_counterfactual_run_keeps_the_calm_run_beside_it(tmp_path):
    run = daosim.run(AMM, steps=30, out=tmp_path / "cf", counterfactual=True)
    calm = run.counterfactual
    assert calm is not None and calm.scenario.shocks == []
    key = "liquidation_volume_usd"
    assert run.summary[f"shock_cost_{key}"] == run.summary[key] - calm.summary[key]
    assert daosim.open(tmp_path / "cf").counterfactual.summary == calm.summary


def test_a_comparison_judges_paired_differences_and_reopens(tmp_path):
    proposal = tmp_path / "fee.toml"
    proposal.write_text(PROPOSAL)
    base = tmp_path / "base.toml"
    base.write_text(f'extends = "{AMM}"\nsteps = 24\n')
    cmp = daosim.compare(base, proposal, runs=5, out=tmp_path / "cmp", progress=False)
    assert isinstance(cmp, daosim.Comparison)
    assert (cmp.baseline, cmp.proposal) == ("amm_arbitrage", "buy-eth")
    assert cmp.about["description"] == "Hold 2,000 ETH"
    row = cmp.table.set_index("metric").loc["treasury_nav_end_usd"]
    diffs = cmp.differences("treasury_nav_end_usd")
    assert list(diffs.index) == [0, 1, 2, 3, 4]
    assert diffs.mean() == pytest.approx(row["diff_mean"], rel=1e-12)
    assert cmp.verdict("treasury_nav_end_usd") == row["verdict"]
    assert cmp.text.startswith("compare 'buy-eth' against 'amm_arbitrage': 5 paired runs")
    assert f"  {row['verdict']}" in cmp.text.splitlines()
    assert cmp.headline.startswith("proposal 'buy-eth': Hold 2,000 ETH\n")
    assert cmp.headline in cmp.text and "verdicts:" not in cmp.headline
    series = cmp.timeseries()
    assert sorted(series["run_key"].unique())[:2] == ["baseline-r0000", "baseline-r0001"]
    assert len(series) == 10 * 25
    with pytest.raises(ConfigError, match="'nope' is not a judged metric"):
        cmp.verdict("nope")
    with pytest.raises(ConfigError, match="no metric 'nope' in runs"):
        cmp.differences("nope")
    again = daosim.open(tmp_path / "cmp")
    pd.testing.assert_frame_equal(again.table, cmp.table)
    assert again.text == cmp.text


def test_a_sweep_runs_into_its_folder_and_reopens(tmp_path):
    (tmp_path / "tiny.toml").write_text(AMM_SWEEP)
    sweep = daosim.sweep(tmp_path / "tiny.toml", out=tmp_path / "sw", progress=False)
    assert isinstance(sweep, daosim.Sweep) and sweep.name == "tiny"
    assert len(sweep.runs) == 8 and len(sweep.points) == 4
    assert sweep.summary.startswith("sweep 'tiny': grid design, 4 points x 2 replicates")
    assert sweep.about["kind"] == "sweep"
    again = daosim.open(tmp_path / "sw")
    pd.testing.assert_frame_equal(again.runs, sweep.runs)
    assert again.summary == sweep.summary
    # SQL over the folder: every run's 48 steps + step 0 are kept
    assert sweep.query("SELECT count(*) AS n FROM timeseries")["n"].item() == 8 * 49
    lowest = daosim.query(tmp_path / "sw", "SELECT run_key, min(\"price:ETH\") AS low "
                          "FROM timeseries GROUP BY run_key ORDER BY run_key")
    assert list(lowest["run_key"]) == list(sweep.runs["run_key"])
    by_pandas = sweep.timeseries().groupby("run_key")["price:ETH"].min()
    assert list(lowest["low"]) == list(by_pandas)


def test_open_refuses_what_is_not_an_output_folder(tmp_path):
    with pytest.raises(ConfigError, match="^open: .* holds no results of `daosim run`"):
        daosim.open(tmp_path)
    with pytest.raises(ConfigError, match="^open: .* is not a folder"):
        daosim.open(tmp_path / "missing")


def test_overrides_set_both_arms_under_the_proposals_own_changes(tmp_path):
    proposal = tmp_path / "buy.toml"
    proposal.write_text(PROPOSAL)
    whole = tmp_path / "whole.toml"  # a proposal that is a scenario of its own
    whole.write_text(f'extends = "{AMM}"\nname = "sigma"\n[overrides]\n"assets[ETH].sigma" = 0.4\n')
    settings = {"steps": 12, "treasury.holdings.ETH": 10}
    cmp = daosim.compare(AMM, proposal, runs=2, out=tmp_path / "a", overrides=settings,
                         progress=False)
    series = cmp.timeseries()
    assert series.groupby("run_key").size().tolist() == [13] * 4
    assert cmp.about["settings"] == settings
    assert "both arms run with: steps = 12, treasury.holdings.ETH = 10" in cmp.headline
    # the proposal's own change wins over the common setting of the same field
    assert [c["path"] for c in cmp.about["changes"]] == ["treasury.holdings.ETH"]
    assert cmp.about["changes"][0]["proposal"] == 2000
    other = daosim.compare(AMM, whole, runs=1, out=tmp_path / "b", overrides={"steps": 6},
                           progress=False)
    assert other.timeseries().groupby("run_key").size().tolist() == [7, 7]
    with pytest.raises(ConfigError, match="steps: must be >= 1, got 0"):
        daosim.compare(AMM, proposal, runs=1, out=tmp_path / "c", overrides={"steps": 0})
