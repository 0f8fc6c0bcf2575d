"""The README's table of summary keys lists exactly the keys a run's summary has, so a key
added, renamed or removed cannot leave the table behind."""

import re
from pathlib import Path

from sim.runner import run_scenario
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_lists_every_summary_key_and_no_other():
    scenario = load_scenario(ROOT / "experiments" / "scenarios" / "composed_markets.toml",
                             {"steps": 48})
    summary = run_scenario(scenario).summary
    markets = {p.name for p in scenario.protocols if p.kind == "aave"}
    keys = set()
    for key in summary:
        stem, _, market = key.rpartition(":")
        keys.add(f"{stem}:<market>" if market in markets else key)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Summary keys"):]
    section = section[:section.index("\n## ", 4)]
    listed = set(re.findall(r"^\| `([^`]+)` \|", section, re.M))
    assert keys - listed == set(), "summary keys missing from the README's table"
    assert listed - keys == set(), "README rows for keys a summary does not have"
