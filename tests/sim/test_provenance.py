"""Provenance (`sim.provenance`): the scenario hash is `sha256sum scenario.json`, the
version comes from one place, git is optional, and every output folder has a record."""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pandas as pd

import daosim
from cli.main import main
from sim import provenance
from sim.outputs import write_run
from sim.runner import run_scenario
from sim.scenario import load_scenario
from tests.experiments.conftest import AMM, AMM_SWEEP

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_scenario_hash_is_sha256sum_of_the_run_folders_scenario_json(tmp_path):
    config = load_scenario(AMM, {"steps": 12})
    result = run_scenario(config)
    out = write_run(tmp_path / "run", result, config)
    digest = hashlib.sha256((out / "scenario.json").read_bytes()).hexdigest()
    assert result.summary["scenario_sha256"] == digest
    assert json.loads((out / "summary.json").read_text())["scenario_sha256"] == digest
    assert pd.read_parquet(out / "summary.parquet")["scenario_sha256"].iloc[0] == digest
    record = json.loads((out / "provenance.json").read_text())
    assert record["scenario_sha256"] == {config.name: digest}
    assert record["daosim_version"] == result.summary["daosim_version"] == daosim.__version__
    assert set(record["libraries"]) >= {"numpy", "pandas", "mesa", "scipy", "networkx"}
    assert record["python"].count(".") == 2 and record["platform"]
    # another seed is another scenario
    other = load_scenario(AMM, {"steps": 12, "seed": config.seed + 1})
    assert provenance.scenario_sha256(other) != digest


def test_the_version_is_written_once_in_daosim_and_read_everywhere(monkeypatch):
    assert PYPROJECT["name"] == provenance.DISTRIBUTION
    assert "version" not in PYPROJECT and PYPROJECT["dynamic"] == ["version"]
    assert provenance.daosim_version() == daosim.__version__
    assert metadata.version("daosim") == daosim.__version__  # the installed wheel's too
    monkeypatch.setattr(provenance, "VERSION_FILE", Path("/nonexistent/__init__.py"))
    assert provenance.daosim_version() == "unknown"


def test_git_state_of_a_checkout_and_of_no_checkout(tmp_path, monkeypatch):
    assert provenance.git_state(tmp_path) == (None, None)  # not a checkout
    if shutil.which("git") is not None:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                              capture_output=True, text=True)
        if head.returncode == 0:
            commit, dirty = provenance.git_state(ROOT)
            assert commit == head.stdout.strip() and re.fullmatch("[0-9a-f]{40}", commit)
            assert isinstance(dirty, bool)
        # a folder inside a checkout is not the checkout's top: no commit claimed for it
        assert provenance.git_state(ROOT / "sim") == (None, None)
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all: still no failure
    assert provenance.git_state(ROOT) == (None, None)


def test_sweep_and_compare_folders_record_provenance(tmp_path, capsys):
    sweep_file = tmp_path / "tiny.toml"
    sweep_file.write_text(AMM_SWEEP)
    out = tmp_path / "sweep"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--no-progress",
                 "--no-report"]) == 0
    record = json.loads((out / "provenance.json").read_text())
    plan = json.loads((out / "plan.json").read_text())
    assert plan["provenance"]["scenario_sha256"] == record["scenario_sha256"]
    assert set(record["scenario_sha256"]) == {"base"}
    assert record["command"] == sys.argv  # the process's command line (here pytest's)
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs["scenario_sha256"].nunique() == len(runs)  # each run's seed and point differ
    assert (runs["daosim_version"] == daosim.__version__).all()

    proposal = tmp_path / "proposal.toml"
    proposal.write_text('name = "fee"\n[overrides]\n"protocols[univ2-ETH-USDC].fee" = 0.01\n')
    cmp = tmp_path / "cmp"
    assert main(["compare", str(AMM), str(proposal), "--runs", "2", "--out", str(cmp),
                 "--no-progress", "--no-report"]) == 0
    record = json.loads((cmp / "provenance.json").read_text())
    assert set(record["scenario_sha256"]) == {"baseline", "proposal"}
    assert json.loads((cmp / "plan.json").read_text())["provenance"]["scenario_sha256"] == \
        record["scenario_sha256"]


def test_reports_show_a_provenance_line(tmp_path):
    from reports.html import provenance_line

    assert provenance_line(tmp_path) == []
    (tmp_path / "provenance.json").write_text(json.dumps(
        {"daosim_version": "0.1.0", "git_commit": "a" * 40, "git_dirty": True,
         "scenario_sha256": {"baseline": "b" * 64}}))
    assert provenance_line(tmp_path) == [
        f"daosim 0.1.0, commit {'a' * 12} (dirty); scenario sha256 baseline {'b' * 12} "
        "(full record: provenance.json)"]


def test_a_run_report_carries_the_line(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(AMM), "--steps", "6", "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    digest = hashlib.sha256((out / "scenario.json").read_bytes()).hexdigest()
    name = json.loads((out / "scenario.json").read_text())["name"]
    assert f"scenario sha256 {name} {digest[:12]}" in html
