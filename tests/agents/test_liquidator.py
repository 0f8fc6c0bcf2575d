"""Liquidator: a 30 % WETH crash, hand-checked Aave amounts, the AMM impact of the sales,
gas, capital limits, a-tokens when the market lacks cash, rounds, and random crashes."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.liquidator import Liquidator
from protocols.amm.constant_product import amount_in_to_target_price, get_amount_out
from protocols.errors import ConfigError, InvalidAmount
from sim.assembly import build_world
from sim.scenario import parse_scenario
from tests.conftest import FakeHost

LT, LTV, BONUS, PFEE = 0.825, 0.8, 0.05, 0.1
CRASH = 1400.0  # WETH 2000 -> 1400: -30 %


#: the step of the crash: `world_with` updates the oracles at it, and the liquidators act in it
CRASH_STEP = 1


def host(world, gas_usd=5.0, on_refresh=None):
    """The fake host at `CRASH_STEP`, where the model is when its liquidators act after that
    step's oracle update, so a refresh re-runs the oracles at the same step; 5 $ gas, which
    the hand-checked profits below assume."""
    return FakeHost(world, seed=1, gas_usd=gas_usd, steps=CRASH_STEP, on_refresh=on_refresh)


def scenario(weth_borrowable=False, usdc_collateral=False, pools=None):
    usdc = {"initial_supply": 5e6}
    if usdc_collateral:
        usdc |= {"ltv": 0.8, "liquidation_threshold": 0.85}
    if pools is None:
        pools = [{"kind": "uniswap_v2", "name": "uni", "tokens": ["WETH", "USDC"], "tvl_usd": 20e6}]
    return parse_scenario(
        {
            "assets": [
                {"symbol": "WETH", "price": 2000.0},
                {"symbol": "USDC", "price": 1.0, "kind": "pegged"},
                {"symbol": "DAI", "price": 1.0, "kind": "pegged"},
            ],
            "protocols": [
                *pools,
                {
                    "kind": "aave",
                    "name": "aave",
                    "reserves": {
                        "WETH": {
                            "ltv": LTV,
                            "liquidation_threshold": LT,
                            "liquidation_bonus": BONUS,
                            "liquidation_protocol_fee": PFEE,
                            "borrowable": weth_borrowable,
                        },
                        "USDC": usdc,
                    },
                },
            ],
        }
    )


def world_with(positions, **kw):
    """World at 2000 $/WETH with `positions` = [(WETH collateral, HF after the crash)]
    opened by 'whale' (debt = coll x 1400 x LT / HF), then the crash: reference and oracles
    to 1400 and the pool arbitraged to 1400 by 'arb'."""
    world = build_world(scenario(**kw), [2000.0, 1.0, 1.0], ["lp"])
    market = world.markets["aave"]
    coll = np.array([[c, 0.0] for c, _ in positions])
    debt = np.array([[0.0, c * CRASH * LT / hf] for c, hf in positions])
    world.fund("whale", "WETH", coll[:, 0].sum())
    market.open_positions(["whale"] * len(positions), coll, debt)
    world.reference["WETH"].set(CRASH)
    world.update_oracles(CRASH_STEP)
    if "uni" in world.pools:
        pool = world.pools["uni"]
        r = pool.reserves()
        sell = float(amount_in_to_target_price(r["WETH"], r["USDC"], CRASH, pool.fee))
        world.fund("arb", "WETH", sell)
        pool.swap_exact_in("arb", "WETH", "USDC", sell)
    return world, market


def state(world):
    return world.ledger.snapshot()["balances"], world.markets["aave"].debt_scaled.copy()


# Positions (WETH collateral, HF after the crash):
#   A HF 0.97 > 0.95: close factor 0.5;  B HF 0.90 and C HF 0.80: close factor 1;
#   D HF 1.2 healthy;  E 0.01 WETH at HF 0.9: profit ~0.6 $ < 5 $ gas.
BOOK = [(10.0, 0.97), (10.0, 0.90), (10.0, 0.80), (10.0, 1.2), (0.01, 0.90)]


def test_capital_is_split_over_borrowable_assets_at_reference_prices():
    world, _ = world_with(BOOK)
    liq = Liquidator(host(world), capital_usd=1e6, gas_units=400_000)
    assert liq.holder == f"liq:{liq.unique_id}"
    assert world.ledger.balances_of(liq.holder) == {"USDC": 1e6}  # WETH is not borrowable

    world, _ = world_with(BOOK, weth_borrowable=True)
    liq = Liquidator(host(world), capital_usd=1e6, gas_units=400_000)
    assert world.ledger.balances_of(liq.holder) == pytest.approx({"USDC": 5e5, "WETH": 5e5 / 1400})


def test_crash_liquidates_exactly_the_profitable_positions_with_aave_amounts():
    world, market = world_with(BOOK)
    pool = world.pools["uni"]
    reserves_before = pool.reserves()
    model = host(world, gas_usd=5.0)
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000, max_rounds=3)
    debts = market.debt_scaled[:, 1].copy()  # borrow index is 1: no interest accrued
    liq.step()
    events = model.events
    assert [e["kind"] for e in events] == ["liquidation"] * 3
    # Estimated profits (reference 1400, before slippage, minus 5 $ gas):
    #   C: seize all 10 WETH, repay 10*1400/1.05 = 13333.33; fee 10*(0.05/1.05)*0.1 = 0.047619
    #      -> 9.952381*1400 - 13333.33 - 5 = 595.0
    #   B: full close: repay 12833.33, seize 12833.33/1400*1.05 = 9.625, fee 0.045833
    #      -> 9.579167*1400 - 12833.33 - 5 = 572.5
    #   A: half close: repay 5953.61, seize 4.465206, fee 0.021263 -> 262.9
    assert [e["pid"] for e in events] == [2, 1, 0]
    c, b, a = events
    assert c["debt_repaid"] == pytest.approx(10 * 1400 / 1.05)
    assert c["collateral_seized"] == pytest.approx(10.0)
    assert c["protocol_fee"] == pytest.approx(10 * (0.05 / 1.05) * 0.1)
    assert c["bad_debt"] == pytest.approx(debts[2] - 10 * 1400 / 1.05)  # USDC at 1 $
    assert b["debt_repaid"] == pytest.approx(debts[1])  # HF 0.90 <= 0.95: close factor 1
    assert b["collateral_seized"] == pytest.approx(debts[1] / 1400 * 1.05)
    assert b["bad_debt"] == 0
    assert a["debt_repaid"] == pytest.approx(0.5 * debts[0])  # HF 0.97 > 0.95: close factor 0.5
    assert a["collateral_seized"] == pytest.approx(0.5 * debts[0] / 1400 * 1.05)
    assert [e["health_factor"] for e in events] == pytest.approx([0.80, 0.90, 0.97])
    # D healthy and E unprofitable are untouched; nothing liquidatable and profitable is left.
    assert market.debt_scaled[3:, 1] == pytest.approx(debts[3:])
    assert market.liquidatable().tolist() == [4]
    assert model.refreshes == 1  # round 2 re-scanned after a refresh and found nothing

    # The AMM: each sale is get_amount_out on the reserves the previous one left.
    weth, usdc = reserves_before["WETH"], reserves_before["USDC"]
    for e in events:
        sold = e["collateral_seized"] - e["protocol_fee"]
        assert e["sold"] == pytest.approx(sold) and e["pool"] == "uni"
        out = get_amount_out(sold, weth, usdc, 0.003)
        assert e["profit_usd"] == pytest.approx(out - e["debt_repaid"] - 5.0)
        assert e["profit_usd"] > 0
        weth, usdc = weth + sold, usdc - out
    assert pool.reserves() == pytest.approx({"WETH": weth, "USDC": usdc}, rel=1e-12)
    assert pool.spot_price("WETH", "USDC") == pytest.approx(usdc / weth, rel=1e-12)
    # ~24 WETH into ~5970: the price falls by about (1 - 24/5994)^2 - 1 = -0.8 %.
    assert usdc / weth < reserves_before["USDC"] / reserves_before["WETH"] * 0.993
    # The liquidator sold all it seized and keeps USDC only.
    assert set(world.ledger.balances_of(liq.holder)) == {"USDC"}
    world.ledger.check_conservation()


def test_nothing_happens_when_gas_exceeds_the_profit():
    world, _ = world_with(BOOK)
    model = host(world, gas_usd=1_000.0)  # best profit ~595 $
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000)
    before = state(world)
    liq.step()
    assert model.events == [] and model.refreshes == 0
    after = state(world)
    assert after[0] == before[0] and np.array_equal(after[1], before[1])


def test_gas_between_the_profits_keeps_only_the_positions_that_beat_it():
    world, _ = world_with(BOOK)
    model = host(world, gas_usd=400.0)  # C ~595 and B ~572 beat it, A ~263 does not
    Liquidator(model, capital_usd=1e6, gas_units=400_000).step()
    assert [e["pid"] for e in model.events] == [2, 1]


def test_capital_caps_the_repayment_and_never_overdraws():
    world, market = world_with(BOOK)
    model = host(world)
    liq = Liquidator(model, capital_usd=3_000.0, gas_units=400_000, max_rounds=1)
    liq.step()
    first = model.events[0]
    # Best candidate C wanted 13333 USDC; the liquidator had 3000: it covers 3000 exactly and
    # seizes 3000/1400*1.05 WETH.
    assert (first["pid"], first["debt_repaid"]) == (2, pytest.approx(3000.0))
    assert first["collateral_seized"] == pytest.approx(3000 / 1400 * 1.05)
    # It then liquidates the next ones with the USDC its sale brought back.
    assert len(model.events) >= 2
    assert all(e["profit_usd"] > 0 for e in model.events)
    world.ledger.check_conservation()


def test_without_capital_the_round_stops_at_the_first_candidate(monkeypatch):
    world, _ = world_with(BOOK)
    model = host(world)
    liq = Liquidator(model, capital_usd=0.0, gas_units=400_000)
    calls = []
    obtain = liq._obtain
    monkeypatch.setattr(liq, "_obtain", lambda *a: calls.append(a) or obtain(*a))
    before = state(world)
    liq.step()
    # Three candidates beat gas, all owe USDC: once USDC cannot be had, the round ends.
    assert len(calls) == 1 and model.events == []
    assert state(world)[0] == before[0]


def test_a_world_without_markets_is_a_no_op():
    world = build_world(parse_scenario({"assets": [{"symbol": "WETH", "price": 2.0}]}), [2.0], [])
    model = host(world)
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000)
    liq.step()
    assert model.events == [] and world.ledger.balances_of(liq.holder) == {}


def test_inventory_is_sold_for_the_debt_asset_when_short():
    world, _ = world_with(BOOK[:1])
    model = host(world)
    liq = Liquidator(model, capital_usd=0.0, gas_units=400_000, max_rounds=1)
    world.fund(liq.holder, "WETH", 5.0)  # A needs 5953.6 USDC ~ 4.25 WETH
    liq.step()
    (event,) = model.events
    assert event["debt_repaid"] == pytest.approx(0.5 * 10 * CRASH * LT / 0.97)
    weth_left = world.ledger.balance_of(liq.holder, "WETH")
    assert weth_left < 1.0  # sold ~4.3 WETH (2 % cushion) for USDC, then sold the seized WETH
    world.ledger.check_conservation()


def test_market_without_cash_pays_in_a_tokens_which_are_redeemed_later():
    world, market = world_with(BOOK[:2], weth_borrowable=True, usdc_collateral=True)
    # 'drainer' borrows all WETH cash (the positions' collateral) against USDC.
    cash = market.cash("WETH")
    world.fund("drainer", "USDC", 1e6)
    (pid,) = market.open_positions(["drainer"], [[0.0, 1e6]], [[cash, 0.0]])
    model = host(world)
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000, max_rounds=1)
    pool_before = world.pools["uni"].reserves()
    liq.step()
    assert [e["received_a_token"] for e in model.events] == [True, True]
    assert [e["pool"] for e in model.events] == [None, None]
    assert world.pools["uni"].reserves() == pool_before  # nothing sold
    received = sum(e["collateral_seized"] - e["protocol_fee"] for e in model.events)
    assert market.balance_of(liq.holder, "WETH") == pytest.approx(received)
    world.ledger.check_conservation()

    market.repay(pid, "WETH", cash)  # cash is back
    liq.step()
    assert market.balance_of(liq.holder, "WETH") == 0
    assert world.ledger.balance_of(liq.holder, "WETH") == pytest.approx(
        5e5 / 1400 + received
    )  # capital WETH + redeemed collateral
    world.ledger.check_conservation()


def test_rounds_rescan_after_refreshing_prices():
    world, market = world_with([(10.0, 0.97), (10.0, 1.01)])

    def deeper_crash():  # stands for a TWAP oracle that sees the sales
        world.reference["WETH"].set(CRASH * 0.98)

    model = host(world, on_refresh=deeper_crash)
    Liquidator(model, capital_usd=1e6, gas_units=400_000, max_rounds=3).step()
    # Round 1: only pid 0 (HF 0.97). Refresh: HF of pid 1 -> 1.01 * 0.98 = 0.99. Round 2:
    # pid 1. Round 3 finds nothing (pid 0 was lifted to HF 1.03 by round 1, then 1.01 x 0.98).
    assert [e["pid"] for e in model.events] == [0, 1]
    assert model.refreshes == 2
    assert model.events[1]["health_factor"] == pytest.approx(1.01 * 0.98)


def test_max_rounds_bounds_the_rescans():
    world, _ = world_with([(10.0, 0.97), (10.0, 1.01)])
    model = host(world, on_refresh=lambda: world.reference["WETH"].set(CRASH * 0.98))
    Liquidator(model, capital_usd=1e6, gas_units=400_000, max_rounds=1).step()
    assert [e["pid"] for e in model.events] == [0] and model.refreshes == 0


def test_sale_goes_to_the_pool_paying_most_debt_asset_or_stablecoin():
    pools = [
        {"kind": "uniswap_v2", "name": "shallow", "tokens": ["WETH", "USDC"], "tvl_usd": 1e6},
        {"kind": "uniswap_v2", "name": "deep", "tokens": ["WETH", "DAI"], "tvl_usd": 50e6},
    ]
    world, _ = world_with(BOOK[:1], pools=pools)
    # Without DAI as a stablecoin only the shallow USDC pool is a route.
    model = host(world)
    Liquidator(model, capital_usd=1e6, gas_units=400_000, max_rounds=1).step()
    assert model.events[0]["pool"] == "shallow"

    world, _ = world_with(BOOK[:1], pools=pools)
    model = host(world)
    liq = Liquidator(model, 1e6, 400_000, max_rounds=1, stables=frozenset({"DAI"}))
    liq.step()
    assert model.events[0]["pool"] == "deep"
    assert world.ledger.balance_of(liq.holder, "DAI") > 0


def test_collateral_without_any_pool_is_kept_at_reference_value():
    world, _ = world_with(BOOK[:1], pools=[])
    model = host(world)
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000)
    liq.step()
    (event,) = model.events
    kept = event["collateral_seized"] - event["protocol_fee"]
    assert event["pool"] is None and event["sold"] == 0
    assert world.ledger.balance_of(liq.holder, "WETH") == pytest.approx(kept)
    assert event["profit_usd"] == pytest.approx(kept * CRASH - event["debt_repaid"] - 5.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"capital_usd": -1.0, "gas_units": 1}, InvalidAmount, "capital_usd"),
        ({"capital_usd": 1.0, "gas_units": float("nan")}, InvalidAmount, "gas_units"),
        ({"capital_usd": 1.0, "gas_units": 1, "max_rounds": 0}, ConfigError, "max_rounds"),
        ({"capital_usd": 1.0, "gas_units": 1, "stables": {"XYZ"}}, ConfigError, "stables"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(kwargs, error, names):
    world, _ = world_with(BOOK)
    model = host(world)
    before = state(world)
    with pytest.raises(error, match=names):
        Liquidator(model, **kwargs)
    assert len(model.agents) == 0
    assert state(world)[0] == before[0]


@settings(max_examples=100, deadline=None)
@given(
    hfs=st.lists(st.floats(0.73, 1.3), min_size=1, max_size=8),  # HF before >= LT/LTV
    crash=st.floats(0.0, 0.3),
    gas=st.floats(0.0, 300.0),
    capital=st.floats(1e3, 1e5),
)
def test_random_crashes_keep_the_books_and_the_aave_rules(hfs, crash, gas, capital):
    world, market = world_with([(10.0, hf) for hf in hfs])
    world.reference["WETH"].set(CRASH * (1 - crash))
    world.update_oracles(CRASH_STEP)
    model = host(world, gas_usd=gas)
    liq = Liquidator(model, capital_usd=capital, gas_units=400_000, max_rounds=5)
    debt = market.debt_scaled[:, 1].copy()
    liq.step()
    world.ledger.check_conservation()  # also: no negative balance anywhere
    for e in model.events:
        pid, hf = e["pid"], e["health_factor"]
        assert hf < 1
        close = 0.5 if hf > 0.95 else 1.0
        assert e["debt_repaid"] <= close * debt[pid] * (1 + 1e-12)
        assert e["profit_usd"] > 0
        debt[pid] -= e["debt_repaid"] + e["bad_debt"]
        if e["bad_debt"]:
            assert not market.collateral_scaled[pid].any()
    assert market.debt_scaled[:, 1] == pytest.approx(np.maximum(debt, 0), abs=1e-6)
    if capital > 2e4 * len(hfs):  # ample capital: one step leaves nothing worth doing
        model.events.clear()
        liq.step()
        assert model.events == []
