"""Sobol designs with too few base samples (issue 14, item 16): below
`sweepfile.MIN_SOBOL_SAMPLES` loading the sweep warns, the summary says so, and the
summary shows each index with the half-width of its 95 % confidence interval."""

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from experiments.sweep import run_sweep
from experiments.sweepfile import MIN_SOBOL_SAMPLES, SobolSampleWarning, load_sweep
from tests.experiments.conftest import AMM

ROOT = Path(__file__).resolve().parents[2]
SIGMA = "assets[ETH].sigma"
FEE = "protocols[univ2-ETH-USDC].fee"

#: 8 base samples x (2 axes + 2) = 32 runs of the amm world, about a second.
SOBOL_8 = f"""
base = "{AMM}"
design = "sobol"
samples = 8
seed = 5

[overrides]
steps = 24
treasury = {{ holdings = {{ ETH = 1000, USDC = 1000000 }} }}

[axes]
"{SIGMA}" = {{ low = 0.2, high = 1.6 }}
"{FEE}" = {{ low = 0.001, high = 0.01, log = true }}
"""
WARNING = ("samples = 8: a sobol design needs samples >= 64; with fewer its indices are "
           "mostly noise (S1 < 0, S1 > ST, S1 > 1, intervals wider than the indices)")


def test_loading_a_sobol_design_below_the_minimum_warns(write):
    assert MIN_SOBOL_SAMPLES == 64
    with pytest.warns(SobolSampleWarning) as caught:
        load_sweep(write("s8.toml", SOBOL_8))
    assert [str(w.message) for w in caught] == [WARNING]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # at the minimum, and for Latin hypercubes: silent
        load_sweep(write("s64.toml", SOBOL_8.replace("samples = 8", "samples = 64")))
        load_sweep(write("lhs.toml", SOBOL_8.replace('"sobol"', '"lhs"')))


def test_the_summary_warns_and_shows_each_index_with_its_interval(write, tmp_path):
    with pytest.warns(SobolSampleWarning):
        sweep = load_sweep(write("s8.toml", SOBOL_8))
    result = run_sweep(sweep, tmp_path / "out", progress=False)
    lines = result.summary.splitlines()
    assert lines[1] == f"  warning: {WARNING}"
    assert (tmp_path / "out" / "summary.txt").read_text() == result.summary + "\n"
    # treasury_end_usd follows the ETH price, which only sigma moves: its true S1 and ST
    # are 1, but 8 samples give S1 = 1.544 +- 0.609 (an impossible share above 1)
    table = result.sensitivity.set_index(["metric", "parameter"])
    sigma = table.loc[("treasury_end_usd", SIGMA)]
    assert sigma[["S1", "S1_conf", "ST", "ST_conf"]].round(3).tolist() == [
        1.544, 0.609, 1.578, 0.395]
    heading = lines.index("Sobol indices (first-order S1, total ST; _conf: half-width of the "
                          "95 % bootstrap confidence interval):")
    assert lines[heading + 1].split() == ["metric", "parameter", "S1", "S1_conf", "ST",
                                          "ST_conf"]
    row = next(line.split() for line in lines[heading:]
               if line.split()[:2] == ["treasury_end_usd", SIGMA])
    assert row[2:] == ["1.544", "0.6086", "1.578", "0.3947"]


def test_daosim_sweep_prints_the_warning_on_stderr_and_in_the_summary(write, tmp_path):
    path = write("s8.toml", SOBOL_8)
    done = subprocess.run([sys.executable, "-m", "cli", "sweep", str(path), "--out",
                           str(tmp_path / "out"), "--no-progress", "--no-report"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0] == f"daosim: warning: {WARNING}"
    assert f"  warning: {WARNING}" in done.stdout.splitlines()
