"""Speed work never changes a result: two shipped scenarios must reproduce, bit for bit, the
summary, time series and event log recorded before the optimisations of issue 17.

`amm_arbitrage` exercises the framework's per-step machinery (one v2 pool, an arbitrageur,
the time series, distress, the treasury columns); `baseline` everything the hot loops touch
(StableSwap and v3 arbitrage with finite off-chain depth, liquidation scans and sales,
borrower reactions, LPs, a vault, oracles, the systemic DebtRank samples).

The fingerprints are of this platform's floats: another BLAS, CPU or numpy/scipy release may
round differently, so they are compared only under the library versions they were recorded
with (the test says so when it skips). A change meant to alter results (a modelling change,
never a speed change) records them again: `python -m tests.sim.test_bit_identical`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy

from sim.runner import run_scenario
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("bit_identical.json")
SCENARIOS = ("amm_arbitrage", "baseline")
#: summary keys that legitimately differ between two runs of the same scenario and seed
VOLATILE = {"runtime_s", "daosim_version"}


def versions() -> dict[str, str]:
    return {"numpy": np.__version__, "scipy": scipy.__version__}


def fingerprint(name: str) -> dict[str, Any]:
    """Summary (floats as their exact repr), and sha256 of each time-series column's bytes
    and of the event log's JSON."""
    result = run_scenario(load_scenario(ROOT / "experiments" / "scenarios" / f"{name}.toml"))
    summary = {k: repr(v) for k, v in sorted(result.summary.items()) if k not in VOLATILE}
    columns = {}
    for column in result.timeseries.columns:
        values = result.timeseries[column].to_numpy()
        columns[column] = f"{values.dtype}:{hashlib.sha256(values.tobytes()).hexdigest()[:16]}"
    events = json.dumps(result.events, sort_keys=True, default=repr)
    return {"summary": summary, "timeseries": columns,
            "events": hashlib.sha256(events.encode()).hexdigest()[:16]}


def recorded() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text())


def changed(now: dict[str, str], then: dict[str, str]) -> dict[str, tuple[Any, Any]]:
    """Summary keys whose exact repr differs: (recorded, now), a missing key as None."""
    return {k: (then.get(k), now.get(k)) for k in now.keys() | then.keys()
            if then.get(k) != now.get(k)}


@pytest.mark.parametrize("name", SCENARIOS)
def test_results_are_bit_identical_to_the_recorded_ones(name: str) -> None:
    golden = recorded()
    if golden["versions"] != versions():
        pytest.skip(f"recorded under {golden['versions']}, running {versions()}: floats may "
                    "round differently")
    now, then = fingerprint(name), golden["runs"][name]
    keys = changed(now["summary"], then["summary"])
    assert not keys, f"{name}: summary keys changed (recorded, now): {keys}"
    columns = [c for c in now["timeseries"] if now["timeseries"][c] != then["timeseries"].get(c)]
    assert not columns and now["timeseries"].keys() == then["timeseries"].keys(), (
        f"{name}: time-series columns changed: {columns}")
    assert now["events"] == then["events"], f"{name}: the event log changed"


def test_the_comparison_sees_one_ulp_and_a_missing_key() -> None:
    """A bad debt one ulp off is a change, and so is a key that disappeared."""
    then = recorded()["runs"]["baseline"]["summary"]
    value = float(then["bad_debt_usd"])
    assert value > 0  # the recorded run liquidates into bad debt: there is something to see
    now = {**then, "bad_debt_usd": repr(float(np.nextafter(value, np.inf)))}
    assert set(changed(now, then)) == {"bad_debt_usd"}
    del now["bad_debt_usd"], now["liquidations"]
    assert changed(now, then)["liquidations"] == (then["liquidations"], None)
    assert changed(dict(then), then) == {}


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(
        {"versions": versions(), "runs": {n: fingerprint(n) for n in SCENARIOS}}, indent=1,
        sort_keys=True) + "\n")
    print(f"recorded {', '.join(SCENARIOS)} in {GOLDEN}")
