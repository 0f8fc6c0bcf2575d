"""The exported JSON Schema of scenario files (`spec.json_schema`, `daosim schema --json`):
every shipped scenario and proposal passes it, and it refuses what loading refuses, on the
field at fault."""

import copy
import json
import tomllib
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from cli.main import main
from protocols.errors import ConfigError
from sim.scenario import (
    PROPOSAL_KEYS,
    deep_merge,
    parse_scenario,
    proposal_scenario,
    read_scenario,
)
from spec.json_schema import scenario_json_schema

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "experiments" / "scenarios").glob("*.toml"))
PROPOSALS = sorted((ROOT / "experiments" / "proposals").glob("*.toml"))
SCHEMA = scenario_json_schema()
VALIDATOR = Draft202012Validator(SCHEMA)


def errors(instance: dict) -> set[tuple[tuple, str]]:
    """(path to the field, failed keyword) of every error the schema reports."""
    return {(tuple(e.absolute_path), e.validator) for e in VALIDATOR.iter_errors(instance)}


def baseline() -> dict:
    return tomllib.loads((ROOT / "experiments/scenarios/baseline.toml").read_text())


def test_the_schema_is_a_valid_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == Draft202012Validator.META_SCHEMA["$id"]
    json.dumps(SCHEMA, allow_nan=False)  # no inf/nan defaults: JSON has none


def test_there_are_shipped_files_to_check():
    assert len(SCENARIOS) >= 14 and len(PROPOSALS) >= 3


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_validates_as_written_and_resolved(path):
    assert errors(tomllib.loads(path.read_text())) == set()
    assert errors(read_scenario(path)) == set()


@pytest.mark.parametrize("path", PROPOSALS, ids=lambda p: p.name)
def test_every_shipped_proposal_validates_as_written_and_on_the_baseline(path):
    assert errors(tomllib.loads(path.read_text())) == set()
    _, resolved = proposal_scenario(read_scenario(ROOT / "experiments/scenarios/baseline.toml"),
                                    path)
    assert errors(resolved) == set()


def _set(raw: dict, path: tuple, value) -> dict:
    raw = copy.deepcopy(raw)
    node = raw
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    node[path[-1]] = value
    return raw


def _aave(raw: dict) -> int:
    return next(i for i, p in enumerate(raw["protocols"]) if p["kind"] == "aave")


BAD = {
    "unknown top-level field": (lambda r: _set(r, ("stepz",), 5), (), "additionalProperties"),
    "negative steps": (lambda r: _set(r, ("steps",), -5), ("steps",), "minimum"),
    "text where a number goes": (lambda r: _set(r, ("assets", 0, "price"), "2000"),
                                 ("assets", 0, "price"), "type"),
    "a boolean for an integer": (lambda r: _set(r, ("seed",), True), ("seed",), "type"),
    "unknown protocol kind": (lambda r: _set(r, ("protocols", 0, "kind"), "aave_v9"),
                              ("protocols", 0, "kind"), "enum"),
    "unknown field in a shock": (lambda r: _set(r, ("shocks", 0, "sizee"), 1),
                                 ("shocks", 0), "additionalProperties"),
    "a lending field out of bounds": (
        lambda r: _set(r, ("protocols", _aave(r), "close_factor"), 1.5),
        ("protocols", "AAVE", "close_factor"), "maximum"),
    "unknown field in a nested table": (lambda r: _set(r, ("distress", "depegg"), 0.1),
                                        ("distress",), "additionalProperties"),
    "a policy share above 1": (lambda r: _set(r, ("treasury", "policy"), {"band": 2}),
                               ("treasury", "policy", "band"), "maximum"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_files_are_refused_on_the_field_where_loading_refuses_them(case):
    mutate, path, keyword = BAD[case]
    raw = mutate(baseline())
    path = tuple(_aave(raw) if key == "AAVE" else key for key in path)
    assert errors(raw) == {(path, keyword)}
    with pytest.raises(ConfigError):
        parse_scenario(raw)


def test_a_whole_scenario_needs_assets_a_file_that_extends_or_a_proposal_does_not():
    assert errors({"steps": 24}) == {((), "required")}
    assert errors({"extends": "baseline.toml", "steps": 24}) == set()
    assert errors({"extends": 3}) == {(("extends",), "type")}
    proposal = {"name": "p", "overrides": {"treasury.policy.kind": "cppi"}}
    assert errors(proposal) == set()
    # top-level fields make it a scenario again, which needs its assets (as
    # sim.scenario.proposal_scenario refuses it)
    assert errors({**proposal, "steps": 24}) == {((), "required")}
    assert errors({**proposal, "overides": {}}) == {((), "required"),
                                                   ((), "additionalProperties")}


def test_the_proposal_shape_is_sim_scenarios():
    assert set(SCHEMA["if"]["anyOf"][1]["propertyNames"]["enum"]) == PROPOSAL_KEYS


def test_required_fields_below_the_top_are_all_inside_array_items():
    """A file that `extends` another holds only what it changes: tables merge, so a table
    with a required field would wrongly demand it. Arrays replace (deep_merge), so the
    required fields of array items stay right."""
    assert deep_merge({"a": [1, 2], "t": {"x": 1}}, {"a": [3], "t": {"y": 2}}) == {
        "a": [3], "t": {"x": 1, "y": 2}}
    defs = SCHEMA["$defs"]
    found, seen = [], set()

    def walk(node, where):
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                walk(defs[name], f"{where}->{name}")
        if node.get("required") and where:
            found.append(where)
        for key, sub in node.get("properties", {}).items():
            walk(sub, f"{where}.{key}")
        walk(node.get("additionalProperties"), f"{where}.<key>")
        for sub in node.get("anyOf", []):
            walk(sub, where)

    walk({"properties": SCHEMA["properties"]}, "")
    assert seen >= {"Treasury", "Policy", "Distress", "Market", "Agents"}  # walked through
    assert found == []
    # and items do carry required fields (what stays checked in an extending file)
    assert defs["Asset"]["required"] == ["symbol", "price"]


def test_appended_items_are_typed_as_the_list_they_join():
    base = {"extends": "baseline.toml"}
    assert errors({**base, "append": {"treasury": {"actions": [
        {"kind": "sell", "asset": "GOV", "into": "USDC", "units": 1e6, "start": 24}]}}}) == set()
    assert errors({**base, "append": {"shocks": [{"kind": "crash", "step": 1}]}}) == {
        (("append", "shocks", 0), "required")}
    # a value is not a list: apply_appends refuses it
    assert errors({**base, "append": {"steps": [1]}}) == {(("append",), "additionalProperties")}


def test_field_docs_show_on_hover():
    distress = SCHEMA["$defs"]["Distress"]["properties"]
    assert distress["depeg"]["description"].startswith("a pegged asset off its peg by more")
    assert SCHEMA["properties"]["seed"]["description"].startswith("a signed 64-bit integer")
    caps = SCHEMA["$defs"]["Reserve"]["properties"]["supply_cap"]
    assert "default" not in caps and "inf" in caps["description"]


def test_the_cli_prints_the_schema_as_sorted_json(tmp_path, capsys):
    assert main(["schema", "--json"]) == 0
    text = capsys.readouterr().out
    assert json.loads(text) == SCHEMA
    assert text == json.dumps(SCHEMA, indent=2, sort_keys=True) + "\n"
    out = tmp_path / "scenario.schema.json"
    assert main(["schema", "--json", "--out", str(out)]) == 0
    assert out.read_text() == text
    assert main(["schema", "--out", str(out)]) == 2
    assert "--out: only with --json" in capsys.readouterr().err


def test_the_committed_schema_that_editors_read_is_current(capsys):
    """`.taplo.toml` points editors at scenario.schema.json; after a change in spec/,
    regenerate it: `daosim schema --json --out scenario.schema.json`."""
    committed = (ROOT / "scenario.schema.json").read_text()
    assert committed == json.dumps(SCHEMA, indent=2, sort_keys=True) + "\n"
    assert 'path = "scenario.schema.json"' in (ROOT / ".taplo.toml").read_text()
