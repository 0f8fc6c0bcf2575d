"""The `daosim` command line: run, check, schema and field overrides."""

import json
from pathlib import Path

import pytest

from cli.main import main
from cli.run import parse_assignment
from protocols.errors import ConfigError
from sim.schema import Scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "experiments" / "scenarios"


def test_run_writes_outputs_and_applies_overrides(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(SCENARIOS / "amm_arbitrage.toml"), "--steps", "24", "--seed", "5",
                 "--set", "agents.arbitrageurs.capital_usd=1e6", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["steps"], summary["seed"]) == (24, 5)
    for name in ("timeseries.parquet", "events.parquet", "summary.parquet"):
        assert (out / name).stat().st_size > 0
    assert "scenario 'amm_arbitrage', seed 5, 24 steps" in capsys.readouterr().out


def test_bad_overrides_and_files_exit_2_with_a_field_named_message(tmp_path, capsys):
    scenario = str(SCENARIOS / "amm_arbitrage.toml")
    assert main(["run", scenario, "--set", "assets.ETH.sigma=-1", "--out", str(tmp_path)]) == 2
    assert "assets[0].sigma: must be >= 0.0, got -1" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "missing.toml")]) == 2
    assert "scenario file not found" in capsys.readouterr().err


def test_parse_assignment_reads_toml_literals():
    assert parse_assignment("a.b=0.5") == ("a.b", 0.5)
    assert parse_assignment("x = [1, 2]") == ("x", [1, 2])
    assert parse_assignment("market.process=merton") == ("market.process", "merton")
    assert parse_assignment("flag=true") == ("flag", True)
    with pytest.raises(ConfigError, match="expected PATH=VALUE"):
        parse_assignment("nothing")


def test_schema_lists_every_top_level_field_with_bounds_and_defaults(capsys):
    assert main(["schema"]) == 0
    text = capsys.readouterr().out
    paths = {line.split()[0] for line in text.splitlines() if not line.startswith(" ")}
    assert set(Scenario.model_fields) <= paths
    assert "protocols[kind=aave].reserves.<key>.liquidation_threshold" in paths
    line = next(x for x in text.splitlines() if x.startswith("steps "))
    assert "int (>= 1, <= 10000000) = 720" in line
