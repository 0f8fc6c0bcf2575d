"""Health factors and shortfalls by hand, and reserve parameters (validation and the real
Aave CSV)."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ConfigError, InvalidAmount
from protocols.lending import (
    KinkedRate,
    ReserveParams,
    health_factor,
    load_aave_params,
    shortfalls,
)
from protocols.lending.health import ratio_or_inf
from sim.historical import default_data_dir

AAVE_CSV = default_data_dir() / "aave_v3_ethereum_risk_params_2023-10-31.csv"
needs_aave_csv = pytest.mark.skipif(not AAVE_CSV.is_file(), reason=f"no file at {AAVE_CSV}")
RATE = KinkedRate(base=0.0, slope1=0.028, slope2=0.8, optimal=0.8)


def test_health_factor_two_collaterals_one_debt_by_hand():
    # assets (WETH, USDC); prices (2000, 1); LTs (0.83, 0.80)
    # row 0: 10 WETH + 5000 USDC collateral, 10300 USDC debt:
    #        (10 * 2000 * 0.83 + 5000 * 1 * 0.80) / 10300 = (16600 + 4000) / 10300 = 2.0
    # row 1: 1 WETH collateral, 1 WETH debt: 2000 * 0.83 / 2000 = 0.83
    # row 2: collateral but no debt: inf (GenericLogic returns type(uint256).max)
    coll = [[10.0, 5000.0], [1.0, 0.0], [3.0, 0.0]]
    debt = [[0.0, 10300.0], [1.0, 0.0], [0.0, 0.0]]
    hf = health_factor(coll, debt, [2000.0, 1.0], [0.83, 0.80])
    assert hf == pytest.approx([2.0, 0.83, math.inf])
    assert health_factor([10.0, 5000.0], [0.0, 10300.0], [2000.0, 1.0], [0.83, 0.80]) == 2.0


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (([[-1.0, 0.0]], [[0.0, 1.0]], [1.0, 1.0], [0.8, 0.8]), "collateral"),
        (([[1.0, 0.0]], [[0.0, math.nan]], [1.0, 1.0], [0.8, 0.8]), "debt"),
        (([[1.0, 0.0]], [[0.0, 1.0]], [1.0, math.inf], [0.8, 0.8]), "prices"),
        (([[1.0, 0.0]], [[0.0, 1.0]], [1.0, 1.0], [0.8, 1.2]), "liquidation_thresholds"),
    ],
)
def test_health_factor_refuses_bad_input(args, word):
    with pytest.raises(InvalidAmount, match=word):
        health_factor(*args)


def test_shortfall_is_debt_over_full_collateral_value_by_hand():
    # assets (WETH, USDC) at (2000, 1) USD
    # row 0: 1 WETH ($2000) against 1500 USDC: solvent, shortfall 0
    # row 1: 0.5 WETH ($1000) against 1200 USDC: 1200 - 1000 = 200
    # row 2: 0.1 WETH + 300 USDC ($500) against 0.3 WETH ($600): 600 - 500 = 100
    # row 3: 1 WETH ($2000) against 1900 USDC: HF = 2000 * 0.83 / 1900 = 0.87 < 1, so
    #        liquidatable, but the collateral at FULL value still covers the debt: 0
    coll = [[1.0, 0.0], [0.5, 0.0], [0.1, 300.0], [1.0, 0.0]]
    debt = [[0.0, 1500.0], [0.0, 1200.0], [0.3, 0.0], [0.0, 1900.0]]
    prices = [2000.0, 1.0]
    assert shortfalls(coll, debt, prices) == pytest.approx([0.0, 200.0, 100.0, 0.0])
    assert health_factor(coll[3], debt[3], prices, [0.83, 0.8]) == pytest.approx(0.87368, rel=1e-4)
    assert shortfalls(coll[1], debt[1], prices) == pytest.approx(200.0)  # one position: a float
    # ETH halves: row 0 becomes 1500 - 1000 = 500, row 3 1900 - 1000 = 900, row 1
    # 1200 - 500 = 700, row 2 (0.3 - 0.1) * 1000 - 300 = -100 -> 0 (its debt fell too)
    assert shortfalls(coll, debt, [1000.0, 1.0]) == pytest.approx([500.0, 700.0, 0.0, 900.0])


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (([[-1.0, 0.0]], [[0.0, 1.0]], [1.0, 1.0]), "collateral"),
        (([[1.0, 0.0]], [[0.0, math.inf]], [1.0, 1.0]), "debt"),
        (([[1.0, 0.0]], [[0.0, 1.0]], [math.nan, 1.0]), "prices"),
    ],
)
def test_shortfall_refuses_bad_input(args, word):
    with pytest.raises(InvalidAmount, match=word):
        shortfalls(*args)


@settings(max_examples=100, deadline=None)
@given(
    coll=st.lists(st.floats(0, 1e6), min_size=3, max_size=3),
    debt=st.lists(st.floats(0, 1e6), min_size=3, max_size=3),
    prices=st.lists(st.floats(1e-3, 1e5), min_size=3, max_size=3),
    scale=st.floats(0.1, 10),
)
def test_health_factor_is_a_ratio_of_values(coll, debt, prices, scale):
    lts = np.array([0.83, 0.8, 0.0])
    hf = health_factor(coll, debt, prices, lts)
    value = np.dot(debt, prices)
    if value == 0:
        assert hf == math.inf
    else:
        assert hf == pytest.approx(np.dot(np.multiply(coll, prices), lts) / value)
        # scaling every price by the same factor leaves the HF unchanged
        assert health_factor(coll, debt, np.multiply(prices, scale), lts) == pytest.approx(hf)


def params(**changes) -> ReserveParams:
    base = {
        "ltv": 0.805,
        "liquidation_threshold": 0.83,
        "liquidation_bonus": 0.05,
        "reserve_factor": 0.15,
        "rate_model": RATE,
    }
    return ReserveParams(**(base | changes))


@pytest.mark.parametrize(
    ("changes", "error", "word"),
    [
        ({"ltv": 0.9}, ConfigError, "ltv"),  # ltv > LT
        ({"ltv": -0.1}, InvalidAmount, "ltv"),
        ({"liquidation_threshold": 1.1}, InvalidAmount, "liquidation_threshold"),
        ({"liquidation_bonus": 0.25}, ConfigError, "liquidation_bonus"),  # 0.83 * 1.25 > 1
        ({"liquidation_bonus": 0.0}, ConfigError, "liquidation_bonus"),  # LT > 0 needs a bonus
        ({"reserve_factor": 1.5}, InvalidAmount, "reserve_factor"),
        ({"liquidation_protocol_fee": -0.1}, InvalidAmount, "liquidation_protocol_fee"),
        ({"supply_cap": -1.0}, InvalidAmount, "supply_cap"),
        ({"borrow_cap": math.nan}, InvalidAmount, "borrow_cap"),
        (
            {"ltv": 0.0, "liquidation_threshold": 0.0, "liquidation_bonus": 0.0},
            ConfigError,
            "usable_as_collateral",
        ),
        ({"rate_model": 0.05}, ConfigError, "rate_model"),
    ],
)
def test_reserve_params_validation_names_the_field(changes, error, word):
    with pytest.raises(error, match=word):
        params(**changes)


def test_reserve_params_are_frozen_and_accept_edge_values():
    p = params(ltv=0.83, supply_cap=0.0, borrow_cap=math.inf)  # ltv == LT is allowed
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.ltv = 0.5  # type: ignore[misc]
    gho_like = params(
        ltv=0.0, liquidation_threshold=0.0, liquidation_bonus=0.0, usable_as_collateral=False
    )
    assert gho_like.liquidation_threshold == 0.0


@needs_aave_csv
def test_load_real_aave_weth_usdc_rows():
    loaded = load_aave_params(AAVE_CSV, ["WETH", "USDC"])
    assert list(loaded) == ["WETH", "USDC"]
    weth, usdc = loaded["WETH"], loaded["USDC"]
    assert (weth.ltv, weth.liquidation_threshold, weth.liquidation_bonus) == (0.805, 0.83, 0.05)
    assert (weth.reserve_factor, weth.liquidation_protocol_fee) == (0.15, 0.1)
    assert (weth.supply_cap, weth.borrow_cap) == (1_800_000, 1_400_000)
    assert weth.rate_model == KinkedRate(base=0.0, slope1=0.028, slope2=0.8, optimal=0.8)
    assert (usdc.ltv, usdc.liquidation_threshold, usdc.liquidation_bonus) == (0.77, 0.8, 0.045)
    assert usdc.rate_model == KinkedRate(base=0.0, slope1=0.035, slope2=0.6, optimal=0.9)
    assert weth.borrowable and weth.usable_as_collateral


@needs_aave_csv
def test_load_refuses_missing_symbols_and_invalid_rows():
    with pytest.raises(ConfigError, match="DOGE"):
        load_aave_params(AAVE_CSV, ["WETH", "DOGE"])
    # GHO's strategy row has optimalUsageRatio 0: not a kinked model we can evaluate
    with pytest.raises(ConfigError, match="GHO.*optimal"):
        load_aave_params(AAVE_CSV, ["GHO"])
    with pytest.raises(ConfigError, match="missing column"):
        ReserveParams.from_aave_csv_row({"symbol": "X", "ltv": "0.5"})


def test_ratio_or_inf_of_two_floats_is_the_array_answer_as_a_float():
    # One position (a liquidation quote) skips the array machinery: 0.825 x 1400 / 1155 = 1.0
    # with debt, inf without, as the array path says.
    assert ratio_or_inf(1155.0, 1155.0) == 1.0 and type(ratio_or_inf(1155.0, 1155.0)) is float
    assert ratio_or_inf(1155.0, 0.0) == math.inf
    arrays = ratio_or_inf(np.array([1155.0, 1155.0, 3.0]), np.array([1155.0, 0.0, 7.0]))
    assert arrays.tolist() == [1.0, math.inf, 3.0 / 7.0]
    assert ratio_or_inf(3.0, 7.0) == arrays[2]
