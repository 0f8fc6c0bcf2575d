"""Running sweeps: identical results on every executor, failures recorded, resumable
after a kill, and any run reproducible alone from its recorded seed."""

import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from experiments.store import WALL_CLOCK_COLUMNS
from experiments.sweep import run_sweep
from experiments.sweepfile import SobolSampleWarning, load_sweep, parse_sweep
from sim.runner import run_scenario
from sim.scenario import load_scenario
from tests.experiments.conftest import AMM, AMM_SWEEP

ROOT = Path(__file__).resolve().parents[2]


def deterministic(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "runs.parquet").drop(columns=list(WALL_CLOCK_COLUMNS))


def test_one_worker_two_workers_and_dask_give_identical_runs(write, tmp_path):
    sweep = load_sweep(write("tiny.toml", AMM_SWEEP))
    one = run_sweep(sweep, tmp_path / "one", workers=1, progress=False)
    run_sweep(sweep, tmp_path / "two", workers=2, progress=False)
    run_sweep(sweep, tmp_path / "dask", workers=2, scheduler="local", progress=False,
              dask_processes=False)
    first = deterministic(tmp_path / "one")
    assert len(first) == 8 and first["error"].isna().all()
    assert first["run_key"].is_unique and first["max_gas_gwei"].gt(0).all()
    for other in ("two", "dask"):
        pd.testing.assert_frame_equal(first, deterministic(tmp_path / other))
    # replicate k shares its seed across points, so the sigma axis changes the paths only
    # through sigma: the same replicate at different fees sees the same price path.
    assert first.groupby("replicate")["seed"].nunique().eq(1).all()
    assert one.ran == 8 and one.failed == 0 and "8 done, 0 failed" in one.summary
    assert (tmp_path / "one" / "points.parquet").exists()


def test_a_run_that_raises_is_recorded_and_the_sweep_completes(write, tmp_path):
    # Each axis value alone is valid on the base (48 steps, crash at 20), but 30 steps with
    # a crash at step 40 is not: that point's runs fail inside the worker.
    text = AMM_SWEEP.replace('"assets[ETH].sigma" = [0.5, 1.0]\n"protocols[univ2-ETH-USDC]'
                             '.fee" = [0.003, 0.01]', 'steps = [48, 30]\n"shocks[0].step" = [20, 40]')
    sweep = load_sweep(write("fails.toml", text))
    result = run_sweep(sweep, tmp_path / "out", workers=1, progress=False)
    runs = result.runs
    assert len(runs) == 8 and result.failed == 2
    failed = runs[runs["error"].notna()]
    assert set(failed["point"]) == {3}  # (steps 30, crash at 40): the last grid point
    assert failed["error"].str.contains(r"shocks\[0\]\.step: must be <= steps \(30\)").all()
    assert runs[runs["error"].isna()]["max_gas_gwei"].notna().all()
    assert "2 runs failed" in result.summary
    assert result.points.set_index("point").loc[3, "failed"] == 2


def test_killed_sweep_resumes_and_finishes_every_run_exactly_once(write, tmp_path):
    text = AMM_SWEEP.replace("steps = 48", "steps = 300").replace("replicates = 2",
                                                                  "replicates = 5")
    path = write("long.toml", text)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "sweep", str(path),
                             "--out", str(out), "--no-progress"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = out / "parts"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(parts.glob("*.json"))) < 4:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(parts.glob("*.json")))
    assert 4 <= finished < 20, "the sweep should have been killed part-way"
    assert not (out / "runs.parquet").exists()

    result = run_sweep(load_sweep(path), out, workers=1, progress=False)
    assert result.ran == 20 - finished
    runs = result.runs
    assert len(runs) == 20 and runs["run_key"].is_unique and runs["error"].isna().all()
    assert len(list(parts.glob("*.json"))) == 20 and not list(out.rglob("*.tmp"))
    # the runs of the killed process equal the same runs done afresh
    fresh = run_sweep(load_sweep(path), tmp_path / "fresh", workers=1, progress=False)
    pd.testing.assert_frame_equal(runs.drop(columns=list(WALL_CLOCK_COLUMNS)),
                                  fresh.runs.drop(columns=list(WALL_CLOCK_COLUMNS)))


def test_a_changed_sweep_refuses_the_old_folder(write, tmp_path):
    run_sweep(load_sweep(write("a.toml", AMM_SWEEP)), tmp_path / "out", progress=False)
    changed = load_sweep(write("b.toml", AMM_SWEEP.replace("seed = 11", "seed = 12")))
    with pytest.raises(Exception, match="different plan"):
        run_sweep(changed, tmp_path / "out", progress=False)


def test_any_run_can_be_rerun_alone_from_its_recorded_seed_and_parameters(write, tmp_path):
    path = write("tiny.toml", AMM_SWEEP)
    result = run_sweep(load_sweep(path), tmp_path / "out", progress=False)
    row = result.runs.iloc[5]
    sweep = parse_sweep(tomllib.loads(AMM_SWEEP), source=path)
    overrides = {**sweep.overrides, "seed": int(row["seed"]),
                 **{a.path: row[a.path] for a in sweep.axes}}
    alone = run_scenario(load_scenario(AMM, overrides)).summary
    for metric in ("liquidations", "max_gas_gwei", "treasury_end_usd", "bad_debt_usd"):
        assert alone[metric] == row[metric]
    first = result.runs.iloc[0]
    assert f"--seed {int(first['seed'])} --set steps=48" in result.summary


def test_cli_sweep_prints_the_summary(write, tmp_path, capsys):
    from cli.main import main

    path = write("tiny.toml", AMM_SWEEP)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "sweep 'tiny': grid design, 4 points x 2 replicates = 8 runs" in printed
    assert "re-run one run alone" in printed
    bad = write("bad.toml", AMM_SWEEP.replace("replicates = 2", "replicates = -1"))
    assert main(["sweep", str(bad)]) == 2
    assert "replicates: Input should be greater than or equal to 1" in capsys.readouterr().err


def test_rerun_hint_values_are_toml_that_the_run_command_reads_back():
    from cli.run import parse_assignment
    from experiments.sweep import _toml

    value = [{"kind": "crash", "step": 20, "size": 0.2, "on": True, "note": 'a "b"'}]
    assert parse_assignment(f"shocks={_toml(value)}") == ("shocks", value)
    assert parse_assignment(f"x={_toml(4e6)}") == ("x", 4e6)


def test_a_run_that_kills_its_worker_is_recorded_and_the_others_finish(monkeypatch):
    import multiprocessing

    import sim.runner
    from experiments import executors
    from experiments.executors import run_tasks
    from experiments.worker import RunTask

    real = sim.runner.run_scenario

    def deadly(config, **kwargs):  # forked workers inherit this patched function
        if config.seed == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(config, **kwargs)

    monkeypatch.setattr(sim.runner, "run_scenario", deadly)
    monkeypatch.setattr(executors, "_context", lambda: multiprocessing.get_context("fork"))
    raw = tomllib.loads(AMM.read_text())
    tasks = [RunTask(key=f"r{k}", point=0, replicate=k, seed=k, params={}, scenario=raw,
                     overrides={"steps": 24}) for k in range(8)]
    outcomes = {}
    run_tasks(tasks, lambda t, o: outcomes.setdefault(t.key, []).append(o), workers=2)
    assert sorted(outcomes) == [f"r{k}" for k in range(8)]
    assert all(len(v) == 1 for v in outcomes.values())  # every run recorded exactly once
    assert outcomes["r3"][0].error.startswith("WorkerDied")
    assert all(o[0].error is None for k, o in outcomes.items() if k != "r3")


SOBOL_SWEEP = f"""
base = "{AMM}"
design = "sobol"
samples = 8
seed = 5
timeseries = true

[overrides]
steps = 24
treasury = {{ holdings = {{ ETH = 1000, USDC = 1000000 }} }}

[axes]
"assets[ETH].sigma" = {{ low = 0.2, high = 1.6 }}
"protocols[univ2-ETH-USDC].fee" = {{ low = 0.001, high = 0.01, log = true }}
"""


def test_sobol_sweep_writes_indices_and_per_run_time_series(write, tmp_path):
    with pytest.warns(SobolSampleWarning, match="samples = 8"):  # a small trial, knowingly
        sweep = load_sweep(write("sobol.toml", SOBOL_SWEEP))
    result = run_sweep(sweep, tmp_path / "out", progress=False)
    runs = result.runs
    assert len(runs) == 8 * (2 + 2) and runs["error"].isna().all()
    assert runs["protocols[univ2-ETH-USDC].fee"].between(0.001, 0.01).all()
    table = result.sensitivity.set_index(["metric", "parameter"])
    sigma = table.loc[("treasury_end_usd", "assets[ETH].sigma")]
    fee = table.loc[("treasury_end_usd", "protocols[univ2-ETH-USDC].fee")]
    # the treasury's value follows the ETH reference price, which only sigma moves (the
    # pool fee changes trading, not the reference): the fee explains nothing of it
    assert sigma["ST"] > 0.5 and abs(fee["ST"]) < 0.05
    assert (tmp_path / "out" / "sensitivity.parquet").exists()
    series = pd.read_parquet(tmp_path / "out" / "timeseries")
    assert series.columns[0] == "run_key" and "index" not in series
    assert set(series["run_key"]) == set(runs["run_key"])
    assert len(series) == len(runs) * 25  # steps 0..24
