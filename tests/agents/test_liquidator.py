"""Liquidator: a 30 % WETH crash, hand-checked Aave amounts, flash loans, gas, kept
collateral (a-tokens, a receipt token no route sells), one scan per step, bad arguments and
random crashes. Routes, the stop rule and the cost of a scan: test_liquidation_routes.py.

The world (`world_with`) is shared with test_liquidation_routes.py."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.liquidator import Liquidator
from protocols import names
from protocols.amm.constant_product import amount_in_to_target_price
from protocols.errors import InvalidAmount
from protocols.offchain import OffchainMarket
from sim.assembly import build_world
from sim.scenario import parse_scenario
from tests.conftest import FakeHost

LT, LTV, BONUS, PFEE = 0.825, 0.8, 0.05, 0.1
CRASH = 1400.0  # WETH 2000 -> 1400: -30 %


#: the step of the crash: `world_with` updates the oracles at it, and the liquidators act in it
CRASH_STEP = 1


def host(world, gas_usd=5.0):
    """The fake host at `CRASH_STEP`, where the model is when its liquidators act after that
    step's oracle update; 5 $ gas, which the hand-checked profits below assume."""
    return FakeHost(world, seed=1, gas_usd=gas_usd, steps=CRASH_STEP)


def scenario(weth_borrowable=False, usdc_collateral=False, pools=None, extra=()):
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
                *extra,
            ],
        }
    )


def world_with(positions, depth_usd=None, **kw):
    """World at 2000 $/WETH with `positions` = [(WETH collateral, HF after the crash)]
    opened by 'whale' (debt = coll x 1400 x LT / HF), then the crash: reference and oracles
    to 1400 and the pools arbitraged to 1400 by 'arb'. WETH's off-chain market has unlimited
    depth, or `depth_usd` (USD of net flow per 1 % move)."""
    world = build_world(scenario(**kw), [2000.0, 1.0, 1.0], ["lp"])
    if depth_usd is not None:
        finite_depth(world, "WETH", depth_usd)
    market = world.markets["aave"]
    coll = np.array([[c, 0.0] for c, _ in positions])
    debt = np.array([[0.0, c * CRASH * LT / hf] for c, hf in positions])
    world.fund("whale", "WETH", coll[:, 0].sum())
    market.open_positions(["whale"] * len(positions), coll, debt)
    world.reference["WETH"].set(CRASH)
    world.update_oracles(CRASH_STEP)
    for pool in world.pools.values():  # v2 pools of WETH against a 1 $ coin
        other = next(t for t in pool.tokens if t != "WETH")
        r = pool.reserves()
        sell = float(amount_in_to_target_price(r["WETH"], r[other], CRASH, pool.fee))
        world.fund("arb", "WETH", sell)
        pool.swap_exact_in("arb", "WETH", other, sell)
    return world, market


def finite_depth(world, asset, depth_usd):
    """Give `asset` an off-chain market of finite depth (half-life 1 h) at its price: the
    scenario field is not in this branch's spec yet, so the market object is swapped and the
    feeds reading the old one re-pointed."""
    old = world.reference[asset]
    world.reference[asset] = new = OffchainMarket(old.read(), depth_usd)
    for feeds in world.oracles.values():
        for oracle in feeds.values():
            if oracle.source is old:
                oracle.source = new


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
    pool_before = world.pools["uni"].reserves()
    model = host(world, gas_usd=5.0)
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000)
    debts = market.debt_scaled[:, 1].copy()  # borrow index is 1: no interest accrued
    liq.step()
    events = model.events
    assert [e["kind"] for e in events] == ["liquidation"] * 3
    # Estimated profits (off-chain 1400 $/WETH, unlimited depth: no slippage; flash fee
    # 5 bp of the repayment; 5 $ gas):
    #   C: seize all 10 WETH, repay 10*1400/1.05 = 13333.33; fee 10*(0.05/1.05)*0.1 = 0.047619
    #      -> 9.952381*1400 - 13333.33*1.0005 - 5 = 13933.33 - 13340.00 - 5 = 588.33
    #   B: full close: repay 12833.33, seize 12833.33/1400*1.05 = 9.625, fee 0.045833
    #      -> 9.579167*1400 - 12833.33*1.0005 - 5 = 566.08
    #   A: half close: repay 5953.61, seize 4.465206, fee 0.021263 -> 259.94
    assert [e["pid"] for e in events] == [2, 1, 0]
    assert [e["profit_usd"] for e in events] == pytest.approx([588.333, 566.083, 259.936], abs=1e-3)
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
    for e in events:
        # Unlimited depth pays 1400 $ a WETH, and the 0.3 % pool fee alone costs more.
        assert (e["route"], e["pool"], e["received_a_token"]) == ("offchain", None, False)
        assert e["sold"] == pytest.approx(e["collateral_seized"] - e["protocol_fee"])
        assert e["flash_fee_usd"] == pytest.approx(0.0005 * e["debt_repaid"])
        assert e["debt_repaid_usd"] == pytest.approx(e["debt_repaid"])
    # D healthy and E unprofitable are untouched; the pool saw no trade.
    assert market.debt_scaled[3:, 1] == pytest.approx(debts[3:])
    assert market.liquidatable().tolist() == [4]
    assert world.pools["uni"].reserves() == pool_before
    # The flash loans are repaid from the sales even with capital at hand: the inventory
    # grew by the profits plus the gas (an accounting cost), 1414.35 + 15 = 1429.35 USDC.
    total = sum(e["profit_usd"] + 5.0 for e in events)
    assert world.ledger.balances_of(liq.holder) == pytest.approx({"USDC": 1e6 + total})
    world.ledger.check_conservation()


def test_without_capital_a_flash_loan_pays_and_the_lender_gets_5_bp():
    world, _ = world_with(BOOK)
    model = host(world)
    liq = Liquidator(model, capital_usd=0.0, gas_units=400_000)
    assert liq.flash_loan_fee == 0.0005  # Aave v3 FLASHLOAN_PREMIUM_TOTAL
    usdc_supply = world.ledger.total_supply("USDC")
    liq.step()
    assert [e["pid"] for e in model.events] == [2, 1, 0]  # as with 1M $ of capital
    repaid = sum(e["debt_repaid"] for e in model.events)  # 13333.33 + 12833.33 + 5953.61
    assert repaid == pytest.approx(32120.27, abs=0.01)
    # The premium, 0.0005 x 32120.27 = 16.06 USDC, is all that stays with the lender.
    assert world.ledger.balances_of(names.FLASH_LENDER) == pytest.approx({"USDC": 16.0601}, abs=1e-4)
    # The principal was minted and burned again: USDC's supply grew only by what the
    # off-chain market paid for the 23.975 WETH sold (1400 $ each, drawn from outside).
    sold = sum(e["sold"] for e in model.events)
    assert sold == pytest.approx(9.952381 + 9.579167 + 4.443943, abs=1e-5)
    assert world.ledger.total_supply("USDC") - usdc_supply == pytest.approx(1400 * sold)
    assert world.ledger.balance_of(names.OFFCHAIN, "WETH") == pytest.approx(sold)
    # What the liquidator keeps is its profit plus the gas it does not pay on the ledger.
    total = sum(e["profit_usd"] + 5.0 for e in model.events)
    assert world.ledger.balances_of(liq.holder) == pytest.approx({"USDC": total})
    assert total == pytest.approx(1429.35, abs=0.01)
    world.ledger.check_conservation()


def test_nothing_happens_when_gas_exceeds_the_profit():
    world, _ = world_with(BOOK)
    model = host(world, gas_usd=1_000.0)  # best profit ~593 $ before gas
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000)
    before = state(world)
    liq.step()
    assert model.events == []
    after = state(world)
    assert after[0] == before[0] and np.array_equal(after[1], before[1])


def test_gas_between_the_profits_keeps_only_the_positions_that_beat_it():
    world, _ = world_with(BOOK)
    model = host(world, gas_usd=400.0)  # C ~593 and B ~571 beat it, A ~265 does not
    Liquidator(model, capital_usd=0.0, gas_units=400_000).step()
    assert [e["pid"] for e in model.events] == [2, 1]


def test_a_world_without_markets_is_a_no_op():
    world = build_world(parse_scenario({"assets": [{"symbol": "WETH", "price": 2.0}]}), [2.0], [])
    model = host(world)
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000)
    liq.step()
    assert model.events == [] and world.ledger.balances_of(liq.holder) == {}


def test_each_step_is_one_scan_and_sees_what_the_oracles_say_next():
    world, _ = world_with([(10.0, 0.97), (10.0, 1.01)])
    model = host(world)
    liq = Liquidator(model, capital_usd=0.0, gas_units=400_000)
    liq.step()
    assert [e["pid"] for e in model.events] == [0]
    liq.step()  # same prices, same book: nothing new
    assert [e["pid"] for e in model.events] == [0]
    # The model moves the price and updates the oracles before the next round: pid 1's HF
    # 1.01 -> 1.01 x 0.98 = 0.99. Pid 0 was lifted to ~1.074 by its liquidation, x 0.98 = 1.05.
    world.reference["WETH"].set(CRASH * 0.98)
    world.update_oracles(CRASH_STEP + 1)
    liq.step()
    assert [e["pid"] for e in model.events] == [0, 1]
    assert model.events[1]["health_factor"] == pytest.approx(1.01 * 0.98)


def test_market_without_cash_pays_in_a_tokens_kept_and_redeemed_later():
    world, market = world_with(BOOK[:2], weth_borrowable=True, usdc_collateral=True)
    # 'drainer' borrows all WETH cash (the positions' collateral) against USDC.
    cash = market.cash("WETH")
    world.fund("drainer", "USDC", 1e6)
    (pid,) = market.open_positions(["drainer"], [[0.0, 1e6]], [[cash, 0.0]])
    model = host(world)
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000)
    pool_before = world.pools["uni"].reserves()
    liq.step()
    # a-tokens cannot be sold within the call, so no flash loan: the 5e5 USDC of inventory
    # repays (5953.61 + 12833.33) and the collateral is kept.
    assert [e["received_a_token"] for e in model.events] == [True, True]
    assert [(e["route"], e["pool"], e["sold"]) for e in model.events] == [("kept", None, 0.0)] * 2
    assert [e["flash_fee_usd"] for e in model.events] == [0.0, 0.0]
    assert world.pools["uni"].reserves() == pool_before  # nothing sold
    received = sum(e["collateral_seized"] - e["protocol_fee"] for e in model.events)
    assert market.balance_of(liq.holder, "WETH") == pytest.approx(received)
    repaid = sum(e["debt_repaid"] for e in model.events)
    assert world.ledger.balance_of(liq.holder, "USDC") == pytest.approx(5e5 - repaid)
    world.ledger.check_conservation()

    market.repay(pid, "WETH", cash)  # cash is back
    liq.step()
    assert market.balance_of(liq.holder, "WETH") == 0
    assert world.ledger.balance_of(liq.holder, "WETH") == pytest.approx(
        5e5 / 1400 + received
    )  # capital WETH + redeemed collateral
    world.ledger.check_conservation()


RECEIPT = {"ltv": LTV, "liquidation_threshold": LT, "liquidation_bonus": BONUS,
           "liquidation_protocol_fee": PFEE, "borrowable": False}


def test_collateral_no_route_sells_is_kept_and_redeemed_at_its_issuer():
    # Market 'lend' takes aave's WETH receipt as collateral: no pool trades it and it has no
    # off-chain market, so it is kept, paid for from inventory, and withdrawn from aave.
    lend = {"kind": "aave", "name": "lend",
            "reserves": {"aave:aWETH": RECEIPT, "USDC": {"initial_supply": 5e6}}}
    world = build_world(scenario(extra=[lend]), [2000.0, 1.0, 1.0], ["lp"])
    market = world.markets["lend"]
    world.fund("whale", "aave:aWETH", 10.0)  # 10 WETH supplied to aave (index 1)
    market.open_positions(["whale"], [[10.0, 0.0]], [[0.0, 10 * CRASH * LT / 0.9]])
    world.reference["WETH"].set(CRASH)
    world.update_oracles(CRASH_STEP)
    model = host(world)
    liq = Liquidator(model, capital_usd=1e6, gas_units=400_000)  # 1e6 USDC
    liq.step()
    (event,) = model.events
    # As B above: repay 12833.33 USDC, receive 9.579167 aWETH worth 1400 $ each (aave's
    # index is 1); no flash loan: 13410.83 - 12833.33 - 5 = 572.50.
    assert (event["route"], event["pool"], event["sold"]) == ("kept", None, 0.0)
    assert event["flash_fee_usd"] == 0.0
    assert event["profit_usd"] == pytest.approx(572.50, abs=0.01)
    kept = event["collateral_seized"] - event["protocol_fee"]
    assert kept == pytest.approx(9.579167, abs=1e-6)
    assert world.ledger.balances_of(liq.holder) == pytest.approx(
        {"USDC": 1e6 - event["debt_repaid"], "aave:aWETH": kept}
    )
    liq.step()  # the next scan first redeems the receipt for WETH at aave
    assert world.ledger.balances_of(liq.holder) == pytest.approx(
        {"USDC": 1e6 - event["debt_repaid"], "WETH": kept}
    )
    world.ledger.check_conservation()


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"capital_usd": -1.0, "gas_units": 1}, "capital_usd"),
        ({"capital_usd": 1.0, "gas_units": float("nan")}, "gas_units"),
        ({"capital_usd": 1.0, "gas_units": 1, "flash_loan_fee": 1.5}, "flash_loan_fee"),
        ({"capital_usd": 1.0, "gas_units": 1, "flash_loan_fee": math.nan}, "flash_loan_fee"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(kwargs, names):
    world, _ = world_with(BOOK)
    model = host(world)
    before = state(world)
    with pytest.raises(InvalidAmount, match=names):
        Liquidator(model, **kwargs)
    assert len(model.agents) == 0
    assert state(world)[0] == before[0]


@settings(max_examples=100, deadline=None)
@given(
    hfs=st.lists(st.floats(0.73, 1.3), min_size=1, max_size=8),  # HF before >= LT/LTV
    crash=st.floats(0.0, 0.3),
    gas=st.floats(0.0, 300.0),
    capital=st.floats(0.0, 1e5),
    depth=st.one_of(st.none(), st.floats(1e3, 1e8)),
)
def test_random_crashes_keep_the_books_and_the_aave_rules(hfs, crash, gas, capital, depth):
    world, market = world_with([(10.0, hf) for hf in hfs], depth_usd=depth)
    world.reference["WETH"].set(CRASH * (1 - crash))
    world.update_oracles(CRASH_STEP)
    model = host(world, gas_usd=gas)
    liq = Liquidator(model, capital_usd=capital, gas_units=400_000)
    debt = market.debt_scaled[:, 1].copy()
    counts = []
    for _ in range(2):
        liq.step()
        world.ledger.check_conservation()  # every token, and no negative balance anywhere
        counts.append(len(model.events))
    if depth is None:  # no slippage: the estimate is exact, one scan does all that pays
        assert counts[0] == counts[1]
    premiums = 0.0
    for e in model.events:
        pid, hf = e["pid"], e["health_factor"]
        assert hf < 1
        close = 0.5 if hf > 0.95 else 1.0
        assert e["debt_repaid"] <= close * debt[pid] * (1 + 1e-12)
        assert e["profit_usd"] > 0
        assert e["route"] in {"pool", "offchain"}  # WETH is always sellable
        assert e["flash_fee_usd"] == pytest.approx(0.0005 * e["debt_repaid"])
        premiums += e["flash_fee_usd"]
        debt[pid] -= e["debt_repaid"] + e["bad_debt"]
        if e["bad_debt"]:
            assert not market.collateral_scaled[pid].any()
    assert market.debt_scaled[:, 1] == pytest.approx(np.maximum(debt, 0), abs=1e-6)
    assert world.ledger.balance_of(names.FLASH_LENDER, "USDC") == pytest.approx(premiums)
