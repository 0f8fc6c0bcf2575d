"""The scenario fields of the market model: an asset's off-chain depth and impact half-life,
the liquidators' flash-loan fee and the exploit's `take` - their defaults, and that every
bad value is refused with a line naming the field."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ConfigError
from sim.scenario import parse_scenario
from spec.fields import MAX_USD

ASSETS = [{"symbol": "ETH", "price": 2000.0}, {"symbol": "GOV", "price": 5.0}]


def with_gov(**fields) -> dict:
    return {"assets": [ASSETS[0], ASSETS[1] | fields]}


def problems(raw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_scenario(raw)
    return [line.strip() for line in str(info.value).splitlines()[1:]]


def test_defaults_keep_todays_behaviour():
    s = parse_scenario({"assets": ASSETS})
    # unlimited off-chain depth; impact (were there any) halves in an hour
    assert [(a.external_depth_usd, a.external_half_life_hours) for a in s.assets] == [
        (None, 1.0), (None, 1.0)]
    # Aave v3's FLASHLOAN_PREMIUM_TOTAL: 5 bps of the amount borrowed
    assert s.agents.liquidators.flash_loan_fee == 0.0005
    exploit = parse_scenario({"assets": ASSETS, "protocols": [
        {"kind": "uniswap_v2", "name": "p", "tokens": ["GOV", "ETH"]}], "shocks": [
        {"kind": "exploit", "step": 1, "protocol": "p", "fraction": 0.5}]}).shocks[0]
    assert exploit.take is None


def test_set_values_are_kept():
    s = parse_scenario(with_gov(external_depth_usd=2e6, external_half_life_hours=0.25)
                       | {"agents": {"liquidators": {"flash_loan_fee": 0.0}}})
    assert (s.assets[1].external_depth_usd, s.assets[1].external_half_life_hours) == (2e6, 0.25)
    assert s.agents.liquidators.flash_loan_fee == 0.0  # a waived fee (Aave's flashBorrowers)
    assert parse_scenario(with_gov(external_depth_usd=3)).assets[1].external_depth_usd == 3.0


BAD_POSITIVE = [
    (0, "must be > 0.0, got 0"),
    (-1.5, "must be > 0.0, got -1.5"),
    (math.nan, "must be a finite number, got nan"),
    (math.inf, "must be a finite number, got inf"),
    (-math.inf, "must be a finite number, got -inf"),
    ("1e6", "must be a number, got '1e6'"),  # TOML's "1e6" is a string, not a depth
    (True, "must be a number, got True"),
    ([1.0], "must be a number, got [1.0]"),
]


@pytest.mark.parametrize("field", ["external_depth_usd", "external_half_life_hours"])
@pytest.mark.parametrize(("value", "reason"), BAD_POSITIVE)
def test_bad_depth_or_half_life_names_the_asset_field(field, value, reason):
    assert problems(with_gov(**{field: value})) == [f"assets[1].{field}: {reason}"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-0.001, "must be >= 0.0, got -0.001"),
        (1.5, "must be <= 1.0, got 1.5"),
        (math.nan, "must be a finite number, got nan"),
        (math.inf, "must be a finite number, got inf"),
        ("5bps", "must be a number, got '5bps'"),
        (False, "must be a number, got False"),
    ],
)
def test_bad_flash_loan_fee_names_the_field(value, reason):
    raw = {"assets": ASSETS, "agents": {"liquidators": {"flash_loan_fee": value}}}
    assert problems(raw) == [f"agents.liquidators.flash_loan_fee: {reason}"]


def test_every_bad_field_is_reported_at_once():
    raw = with_gov(external_depth_usd=math.nan, external_half_life_hours=0.0) | {
        "agents": {"liquidators": {"flash_loan_fee": 2.0}}}
    assert problems(raw) == [
        "assets[1].external_depth_usd: must be a finite number, got nan",
        "assets[1].external_half_life_hours: must be > 0.0, got 0.0",
        "agents.liquidators.flash_loan_fee: must be <= 1.0, got 2.0",
    ]


# -- property: parsing accepts exactly the finite positive numbers -----------------------------
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10**6, 10**12),
)


@settings(max_examples=200, deadline=None)
@given(depth=numbers, half_life=numbers)
def test_depth_and_half_life_parse_iff_finite_positive_and_feasible(depth, half_life):
    raw = with_gov(external_depth_usd=depth, external_half_life_hours=half_life)
    good = {"external_depth_usd": math.isfinite(depth) and 0 < depth <= MAX_USD,
            "external_half_life_hours": math.isfinite(half_life) and half_life > 0}
    if all(good.values()):
        asset = parse_scenario(raw).assets[1]
        assert (asset.external_depth_usd, asset.external_half_life_hours) == (depth, half_life)
        assert isinstance(asset.external_depth_usd, float)
    else:
        found = problems(raw)
        assert [line.split(":")[0] for line in found] == [
            f"assets[1].{name}" for name, ok in good.items() if not ok]
