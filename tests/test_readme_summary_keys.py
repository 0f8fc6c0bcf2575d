"""The README's table of summary keys, the metric catalogue (`sim/metrics.py`) and a real
run's summary agree: every key a run has is catalogued and listed in the README, every README
row is a catalogue row with the same unit, so a key added, renamed or removed cannot leave
either table behind."""

import re
from pathlib import Path

import pytest

from sim import metrics
from sim.runner import run_scenario
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def summary_keys(file: str, **overrides: object) -> set[str]:
    """A short run's summary keys, each market's name replaced by `<market>`."""
    scenario = load_scenario(ROOT / "experiments" / "scenarios" / file,
                             {"steps": 48, **overrides})
    markets = {p.name for p in scenario.protocols if p.kind == "aave"}
    keys = set()
    for key in run_scenario(scenario).summary:
        stem, _, market = key.rpartition(":")
        keys.add(f"{stem}:{metrics.MARKET}" if market in markets else key)
    return keys


def readme_rows() -> dict[str, str]:
    """key -> unit of each row of the README's "Summary keys" table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Summary keys"):]
    section = section[:section.index("\n## ", 4)]
    return dict(re.findall(r"^\| `([^`]+)` \| ([^|]*?) \|", section, re.M))


@pytest.fixture(scope="module")
def composed_keys():
    return summary_keys("composed_markets.toml")


def test_the_readme_lists_every_summary_key_and_no_other(composed_keys):
    listed = set(readme_rows())
    assert composed_keys - listed == set(), "summary keys missing from the README's table"
    assert listed - composed_keys == set(), "README rows for keys a summary does not have"


def test_the_readme_and_the_catalogue_agree_on_keys_and_units():
    rows = readme_rows()
    assert len(rows) > 40
    missing = {k for k in rows if k not in metrics.CATALOGUE}
    assert missing == set(), "README rows the metric catalogue (sim/metrics.py) lacks"
    units = {k: (u, metrics.CATALOGUE[k].unit) for k, u in rows.items()
             if u != metrics.CATALOGUE[k].unit}
    assert units == {}, "README unit != catalogue unit"


@pytest.mark.parametrize("file", ["baseline.toml", "composed_markets.toml"])
def test_every_key_of_a_real_run_is_in_the_catalogue(file, composed_keys):
    # the baseline's shocks moved into a short window, so the contagion keys are filled in
    keys = composed_keys if file == "composed_markets.toml" else summary_keys(
        file, **{"shocks[0].step": 12, "shocks[1].step": 12, "shocks[2].step": 24})
    assert metrics.uncatalogued(keys) == [], "add these keys to sim/metrics.py"


def test_patterns_aliases_and_directions():
    assert metrics.lookup("bad_debt_usd:aave-main").key == "bad_debt_usd:<market>"
    assert metrics.direction("shortfall_peak_usd:aave") == "lower"
    # a shock's cost on a metric has that metric's unit and direction
    cost = metrics.lookup("shock_cost_treasury_nav_end_usd")
    assert (cost.unit, cost.direction, cost.group) == ("USD", "higher", "treasury")
    assert metrics.direction("shock_cost_debtrank") == "lower"
    assert metrics.lookup("shock_cost_nonsense") is None
    assert metrics.lookup("nonsense:aave") is None
    for old, new in [("treasury_start_usd", "treasury_nav_start_usd"),
                     ("treasury_end_usd", "treasury_nav_end_usd"),
                     ("treasury_max_drawdown", "treasury_nav_max_drawdown"),
                     ("shock_cost_treasury_end_usd", "shock_cost_treasury_nav_end_usd")]:
        assert metrics.is_alias(old) and metrics.canonical(old) == new
        assert metrics.lookup(new).unit == metrics.lookup(old).unit
        assert not metrics.is_alias(new)
    # direction is declared, not read from the name: more liquidations is a trade-off
    assert metrics.direction("liquidations") == "tradeoff"
    assert metrics.direction("treasury_turnover_usd") == "tradeoff"
    assert {metrics.direction(k) for k in ("seed", "steps", "scenario", "protocols_total",
                                           "runtime_s")} == {"info"}
    assert metrics.group("borrowing_power_usd_end") == "capital efficiency"
    assert metrics.group("shock_cost_borrow_usage_end:aave") == "capital efficiency"


def test_every_row_is_well_formed():
    for key, m in metrics.CATALOGUE.items():
        assert m.key == key and m.unit and m.meaning and "\n" not in m.meaning
        assert m.direction in {"lower", "higher", "tradeoff", "info"}
        if m.alias_of:
            assert m.alias_of in metrics.CATALOGUE and not metrics.is_alias(m.alias_of)
