"""The `daosim` command line: run, check, schema, field overrides, and its place as the top
layer."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import main
from cli.run import parse_assignment
from protocols.errors import ConfigError
from spec import Scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "experiments" / "scenarios"


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


def test_the_printed_summary_has_units_and_no_key_twice(tmp_path, capsys):
    out = tmp_path / "run"
    shocks = [a for i, step in enumerate((2, 2, 4)) for a in ("--set", f"shocks[{i}].step={step}")]
    assert main(["run", str(SCENARIOS / "baseline.toml"), "--steps", "6", "--out", str(out),
                 "--no-report", *shocks]) == 0
    summary = json.loads((out / "summary.json").read_text())
    lines = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()
             if line.startswith("  ") and line.split()[0] in summary}
    assert lines["bad_debt_usd"][-1] == "USD" and lines["max_gas_gwei"][-1] == "gwei"
    assert lines["borrow_usage_start"] == [f"{summary['borrow_usage_start']:,.2f}", "share"]
    # the aliases and the one market's copies of the totals are not printed again
    assert not {"treasury_end_usd", "treasury_start_usd", "bad_debt_usd:aave"} & set(lines)
    assert summary["bad_debt_usd:aave"] == summary["bad_debt_usd"]


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


def test_the_parser_loads_without_the_simulator_so_help_stays_fast():
    # a fresh interpreter: this test session has imported everything already
    code = ("import sys; from cli.main import build_parser; build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'mesa', 'pandas', 'numpy', 'agents', 'sim', 'experiments', 'reports'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    assert done.stdout == "[]\n"


def test_only_the_cli_and_the_tests_import_the_cli():
    # the command line is the top layer: nothing below it may reach up into it
    importers = []
    for package in ("protocols", "agents", "sim", "experiments", "reports", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                if any(name == "cli" or name.startswith("cli.") for name in names):
                    importers.append(str(path.relative_to(ROOT)))
    assert importers == []
