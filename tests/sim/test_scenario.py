"""Scenario files: valid ones load with defaults; every invalid one names its field."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ConfigError
from sim.scenario import (
    apply_appends,
    apply_overrides,
    load_scenario,
    parse_scenario,
    split_path,
)
from spec.scenario import DEFAULT_ROUNDS_PER_STEP

ASSETS = [
    {"symbol": "ETH", "price": 2000.0, "sigma": 0.8},
    {"symbol": "USDC", "price": 1.0, "kind": "pegged"},
]
AAVE = {
    "kind": "aave",
    "name": "aave",
    "reserves": {
        "ETH": {"ltv": 0.805, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05},
        "USDC": {"ltv": 0.77, "liquidation_threshold": 0.8, "liquidation_bonus": 0.045},
    },
}


def scenario(**extra):
    return {"assets": ASSETS, "protocols": [AAVE], **extra}


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_scenario(raw)
    return [line.strip() for line in str(info.value).splitlines()[1:]]


def test_minimal_scenario_gets_documented_defaults():
    s = parse_scenario({"assets": [{"symbol": "ETH", "price": 2000}]})
    assert (s.steps, s.step_hours, s.seed, s.market.process) == (720, 1.0, 0, "gbm")
    assert s.dt_years == pytest.approx(1 / 8760)
    assert s.rounds_per_step == DEFAULT_ROUNDS_PER_STEP
    assert parse_scenario({"assets": ASSETS, "rounds_per_step": 1}).rounds_per_step == 1
    assert s.agents.liquidators.flash_loan_fee == 0.0005  # Aave v3: 5 bps


def test_the_issue_example_error_text():
    bad = dict(AAVE, reserves={"ETH": {"ltv": 0.8, "liquidation_threshold": 1.2}})
    raw = {"assets": ASSETS, "protocols": [AAVE, AAVE | {"name": "b"}, bad | {"name": "c"}]}
    assert problems(raw) == ["protocols[2].reserves.ETH.liquidation_threshold: must be <= 1.0, got 1.2"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (scenario(steps="abc"), "steps: must be an integer, got 'abc'"),
        (scenario(steps=0), "steps: must be >= 1, got 0"),
        (scenario(colour="red"), "colour: unknown field"),
        (scenario(protocols=[{"kind": "bogus", "name": "x"}]), "protocols[0]: unknown kind 'bogus'"),
        (
            scenario(protocols=[{"kind": "curve", "name": "c", "tokens": ["USDC", "XYZ"]}]),
            "protocols[0].tokens[1]: unknown asset 'XYZ'",
        ),
        (
            scenario(protocols=[AAVE | {"reserves": {"ETH": {"ltv": 0.9, "liquidation_threshold": 0.8}}}]),
            "protocols[0].reserves.ETH.ltv: must be <= liquidation_threshold (0.8), got 0.9",
        ),
        (
            scenario(protocols=[AAVE | {"reserves": {"ETH": {"oracle": {"source": "twap"}}}}]),
            "protocols[0].reserves.ETH.oracle.pool: a twap oracle must name the pool it reads",
        ),
        (
            scenario(shocks=[{"kind": "crash", "step": 10, "asset": "ETH", "size": 1.5}]),
            "shocks[0].size: must be < 1.0, got 1.5",
        ),
        (
            scenario(shocks=[{"kind": "exploit", "step": 5, "protocol": "nope", "fraction": 0.5}]),
            "shocks[0].protocol: unknown protocol 'nope'",
        ),
        (
            scenario(shocks=[{"kind": "gas_spike", "step": 9999}]),
            "shocks[0].step: must be <= steps (720), got 9999",
        ),
        (
            scenario(agents={"borrowers": [{"market": "aave", "collateral": "ETH", "debt": "DAI"}]}),
            "agents.borrowers[0].debt: 'DAI' cannot be borrowed in aave",
        ),
        (scenario(treasury={"holdings": {"GOV": 1.0}}), "treasury.holdings.GOV: unknown asset 'GOV'"),
        (
            scenario(treasury={"holdings": {"ETH": -1.0}}),
            "treasury.holdings.ETH: must be >= 0.0, got -1.0",
        ),
        (scenario(market={"correlation": [[1.0, 0.5]]}), "market.correlation: must be a 1x1"),
        # rounds_per_step is a strict integer >= 1: no bool, no float, not 0 or negative
        (scenario(rounds_per_step=0), "rounds_per_step: must be >= 1, got 0"),
        (scenario(rounds_per_step=-2), "rounds_per_step: must be >= 1, got -2"),
        (scenario(rounds_per_step=True), "rounds_per_step: must be an integer, got True"),
        (scenario(rounds_per_step=2.0), "rounds_per_step: must be an integer, got 2.0"),
        (scenario(rounds_per_step=2.5), "rounds_per_step: must be an integer, got 2.5"),
        (scenario(rounds_per_step="6"), "rounds_per_step: must be an integer, got '6'"),
    ],
)
def test_invalid_scenarios_name_the_field_and_reason(raw, expected):
    found = problems(raw)
    assert any(line.startswith(expected) for line in found), found


def test_all_problems_are_reported_at_once():
    raw = scenario(steps=-1, seed=-3, shocks=[{"kind": "gas_spike", "step": 1, "multiplier": 0.5}])
    assert len(problems(raw)) == 3


def test_file_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("steps = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(broken)


def test_overrides_by_dotted_path(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('steps = 100\n[[assets]]\nsymbol = "ETH"\nprice = 2000.0\n')
    s = load_scenario(path, {"steps": 48, "assets[0].sigma": 0.3, "market.process": "merton"})
    assert (s.steps, s.assets[0].sigma, s.market.process) == (48, 0.3, "merton")
    with pytest.raises(ConfigError, match="assets.5.sigma: no list item '5'"):
        apply_overrides({"assets": []}, {"assets.5.sigma": 1.0})


# Fuzz: any mutation of a valid scenario either validates or raises ConfigError - never
# another exception type - and each reported line names a field.
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=5), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
paths = st.sampled_from([
    "steps", "seed", "step_hours", "assets[0].price", "assets[1].kind", "assets[0].sigma",
    "protocols[0].reserves.ETH.ltv", "protocols[0].close_factor", "protocols[0].kind",
    "market.process", "market.correlation", "gas.base_gwei", "treasury.holdings",
    "agents.liquidators.count", "shocks", "distress.depeg", "protocols[0].reserves",
])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(paths, leaves, min_size=1, max_size=3))
def test_fuzzed_scenarios_fail_only_with_field_named_errors(overrides):
    try:
        parse_scenario(apply_overrides(scenario(), overrides))
    except ConfigError as exc:
        for line in str(exc).split("\n")[1:]:  # not splitlines: keys may hold \x1e etc.
            assert ": " in line.strip()


def test_overrides_address_list_items_by_name_or_symbol():
    raw = {"assets": [{"symbol": "ETH"}, {"symbol": "USDC.e"}],
           "protocols": [{"name": "aave-main", "reserves": {"GOV": {"ltv": 0.5}}}]}
    out = apply_overrides(raw, {
        "protocols.aave-main.reserves.GOV.liquidation_threshold": 0.5,
        "assets[USDC.e].sigma": 0.01,
        "assets.ETH.sigma": 0.7,
    })
    assert out["protocols"][0]["reserves"]["GOV"] == {"ltv": 0.5, "liquidation_threshold": 0.5}
    assert out["assets"] == [{"symbol": "ETH", "sigma": 0.7}, {"symbol": "USDC.e", "sigma": 0.01}]
    assert raw["assets"][0] == {"symbol": "ETH"}  # the input is not modified
    with pytest.raises(ConfigError, match=r"protocols.compound.fee: no list item 'compound'"):
        apply_overrides(raw, {"protocols.compound.fee": 0.1})
    with pytest.raises(ConfigError, match="unclosed"):
        apply_overrides(raw, {"assets[ETH.sigma": 0.1})


def test_split_path():
    assert split_path("protocols[aave.v3].reserves.GOV") == ["protocols", "aave.v3", "reserves", "GOV"]
    assert split_path("assets[0].sigma") == ["assets", "0", "sigma"]
    with pytest.raises(ConfigError, match="not a dotted path"):
        split_path("a..b")


def test_extends_merges_tables_and_applies_the_files_overrides(tmp_path):
    (tmp_path / "base.toml").write_text(
        'name = "base"\nsteps = 100\n[market]\nprocess = "gbm"\ncorrelation = 0.3\n'
        '[[assets]]\nsymbol = "ETH"\nprice = 2000.0\n'
    )
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.toml"
    child.write_text(
        'extends = "../base.toml"\nname = "child"\n[market]\nprocess = "merton"\n'
        '[overrides]\n"assets.ETH.sigma" = 0.25\n'
    )
    s = load_scenario(child, {"steps": 10})
    assert (s.name, s.steps, s.market.process, s.market.correlation) == ("child", 10, "merton", 0.3)
    assert s.assets[0].sigma == 0.25
    # a cycle and a missing base are named, not a RecursionError or a traceback
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_scenario(tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text('extends = "nowhere.toml"\n')
    with pytest.raises(ConfigError, match=r"c.toml: extends: .*nowhere.toml: scenario file not found"):
        load_scenario(tmp_path / "c.toml")


def test_parameter_changes_are_checked_against_the_reserve_they_change():
    change = {"kind": "parameter_change", "step": 5, "market": "aave", "reserve": "ETH"}
    ok = parse_scenario(scenario(shocks=[{**change, "liquidation_threshold": 0.85}]))
    assert ok.shocks[0].changes() == {"liquidation_threshold": 0.85}
    assert problems(scenario(shocks=[
        {**change, "ltv": 0.85},                                   # above the LT of 0.83
        {**change, "reserve": "GOV", "ltv": 0.1},
        {**change, "market": "nowhere", "ltv": 0.1},
        {**change},
    ])) == [
        "shocks[0].ltv: must be <= liquidation_threshold (0.83), got 0.85",
        "shocks[1].reserve: 'GOV' is not a reserve of aave",
        "shocks[2].market: unknown protocol 'nowhere'",
        "shocks[3]: names no parameter to change",
    ]
    assert problems(scenario(shocks=[{**change, "liquidation_threshold": 1.5}])) == [
        "shocks[0].liquidation_threshold: must be <= 1.0, got 1.5"
    ]


def test_a_file_can_append_to_its_bases_lists(tmp_path):
    (tmp_path / "base.toml").write_text(
        '[[assets]]\nsymbol = "ETH"\nprice = 2000.0\n'
        '[[shocks]]\nkind = "gas_spike"\nstep = 3\n'
    )
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n[[append.shocks]]\nkind = "crash"\nstep = 9\n'
                     'asset = "ETH"\nsize = 0.2\n')
    assert [s.kind for s in load_scenario(child).shocks] == ["gas_spike", "crash"]
    child.write_text('extends = "base.toml"\n[append]\nshocks = 3\n')
    with pytest.raises(ConfigError, match="append.shocks: must add a list to a list"):
        load_scenario(child)


def test_appends_reach_lists_inside_tables(tmp_path):
    # [[append.agents.borrowers]] used to say "append.agents: must add a list to a list"
    base = scenario(agents={"borrowers": [
        {"market": "aave", "collateral": "ETH", "debt": "USDC", "positions": 10}]})
    raw = apply_appends(base, {"agents": {"borrowers": [
        {"market": "aave", "collateral": "USDC", "debt": "ETH", "positions": 3}]}})
    assert [c.positions for c in parse_scenario(raw).agents.borrowers] == [10, 3]
    # a list inside a table the base does not set yet is created
    raw = apply_appends(scenario(), {"agents": {"borrowers": [
        {"market": "aave", "collateral": "ETH", "debt": "USDC"}]}})
    assert len(parse_scenario(raw).agents.borrowers) == 1
    with pytest.raises(ConfigError, match=r"append.agents.borrowers: must add a list to a list "
                                          r"\(here the value 3 to a list\)"):
        apply_appends(base, {"agents": {"borrowers": 3}})
