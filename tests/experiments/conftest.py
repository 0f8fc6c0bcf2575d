"""Tiny sweeps for the experiments tests: the amm_arbitrage world (one pool, one
arbitrageur, ~20 ms a run) and a 72-step baseline whose shocks fall inside the window."""

from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
AMM = SCENARIOS / "amm_arbitrage.toml"
BASELINE = SCENARIOS / "baseline.toml"

#: a 48-step amm world with an ETH crash at step 20: 2 x 2 points x 2 replicates.
AMM_SWEEP = f"""
name = "tiny"
base = "{AMM}"
replicates = 2
seed = 11

[overrides]
steps = 48
shocks = [{{ kind = "crash", step = 20, asset = "ETH", size = 0.2 }}]

[axes]
"assets[ETH].sigma" = [0.5, 1.0]
"protocols[univ2-ETH-USDC].fee" = [0.003, 0.01]
"""

SHORT_BASELINE = f"""
extends = "{BASELINE}"
steps = 72

[overrides]
"shocks[0].step" = 24
"shocks[1].step" = 24
"shocks[2].step" = 48
"""


@pytest.fixture
def write(tmp_path):
    """write(name, text) -> path of a file in the test's folder."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write
