"""The treasury's collateral safety buffer (agents.treasury_buffer), with hand-computed
numbers: a $100k USDC loan against ETH (liquidation threshold 0.8) opened at step 1 at
health factor 2.0 posts 2 x 100,000 / (0.8 x 2,000) = 125 ETH; ETH crashes at step 2.
HF = sum(coll x price x LT) / debt (Aave v3, GenericLogic.calculateUserAccountData)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.treasury_buffer import excess_units, repay_units, topup_units
from protocols.errors import ConfigError
from protocols.names import TREASURY
from sim.runner import run_scenario
from sim.scenario import load_scenario, parse_scenario
from tests.agents.test_allocator import events, model, world

ROOT = Path(__file__).resolve().parents[2]
ETH_RESERVE = {"ltv": 0.75, "liquidation_threshold": 0.8, "liquidation_bonus": 0.05}
LOAN = 100_000.0
POSTED = 2 * LOAN / (0.8 * 2000)  # 125 ETH


def buffered(eth: float, *, crash: float | None = None, floor: float | None = 1.5,
             ceiling: float | None = 2.5, **extra) -> dict:
    """The allocator test world with an ETH reserve, the treasury holding `eth` ETH, a
    $100k USDC loan against ETH at HF 2 and the band floor / 2.0 / ceiling."""
    policy = {"kind": "static", "borrow": {"USDC": LOAN}, "collateral": "ETH",
              "borrow_hf": 2.0}
    if floor is not None:
        policy["hf_floor"] = floor
    if ceiling is not None:
        policy["hf_ceiling"] = ceiling
    raw = world(policy, **extra)
    raw["steps"] = 4
    raw["protocols"][3]["reserves"]["ETH"] = ETH_RESERVE
    raw["treasury"]["holdings"]["ETH"] = eth
    if crash is not None:
        raw["shocks"] = [{"kind": "crash", "step": 2, "asset": "ETH", "size": crash}]
    return raw


def test_the_formulas_by_hand():
    # 125 ETH at $1,400 x 0.8 = $140,000 weighted against $100,000: HF 1.4.
    weighted = POSTED * 1400 * 0.8
    assert weighted / LOAN == pytest.approx(1.4)
    # top-up (2.0 x 100,000 - 140,000) / (1,400 x 0.8) = 60,000 / 1,120 = 53.571 ETH
    assert topup_units(weighted, LOAN, 2.0, 1400, 0.8) == pytest.approx(53.5714285714)
    assert (weighted + 53.5714285714 * 1400 * 0.8) / LOAN == pytest.approx(2.0)
    # repay 100,000 - 140,000 / 2 = 30,000 USDC: 140,000 / 70,000 = 2.0
    assert repay_units(weighted, LOAN, 2.0, 1.0) == pytest.approx(30_000)
    # at HF 4 (debt halved), withdraw (200,000 - 2 x 50,000) / (2,000 x 0.8) = 62.5 ETH
    assert excess_units(200_000, 50_000, 2.0, 2000, 0.8) == pytest.approx(62.5)
    assert topup_units(250_000, LOAN, 2.0, 1400, 0.8) == 0.0  # already above: nothing


def test_below_the_floor_the_free_collateral_is_topped_up_to_the_target():
    m = model(buffered(1000, crash=0.3))
    m.step()
    assert m.allocator.book.collateral == pytest.approx({"ETH": POSTED})
    assert m.allocator.debts.health_factor("aave") == pytest.approx(2.0)
    m.step()  # ETH 2,000 -> 1,400: HF 1.4 < 1.5
    (topup,) = events(m, "collateral_topup")
    assert topup["hf_before"] == pytest.approx(1.4, rel=1e-5)  # an hour of interest
    assert topup["amount"] == pytest.approx(53.5714285714, rel=1e-5)
    assert topup["usd"] == pytest.approx(topup["amount"] * 1400)
    assert topup["hf_after"] == pytest.approx(2.0, rel=1e-12)
    assert m.allocator.debts.health_factor("aave") == pytest.approx(2.0, rel=1e-12)
    assert not events(m, "debt_repaid_for_buffer")
    assert m.allocator.buffer.topped_up_usd == pytest.approx(75_000, rel=1e-5)
    m.run()  # back inside the band: nothing more
    assert len(events(m, "collateral_topup")) == 1
    summary = m.summary()
    assert summary["treasury_buffer_topup_usd"] == pytest.approx(75_000, rel=1e-5)
    assert summary["treasury_hf_min"] == pytest.approx(1.4, rel=1e-5)
    assert m.timeseries()["treasury_hf:aave"].iloc[2] == pytest.approx(2.0)
    m.world.ledger.check_conservation()


def test_without_free_collateral_debt_is_repaid_to_the_target():
    # All 125 ETH are posted at step 1: the keeper repays 30,000 USDC from the wallet.
    m = model(buffered(POSTED, crash=0.3))
    m.step()
    usdc = m.world.ledger.balance_of(TREASURY, "USDC")
    m.step()
    assert not events(m, "collateral_topup")
    (repay,) = events(m, "debt_repaid_for_buffer")
    assert repay["asset"] == "USDC"
    assert repay["amount"] == pytest.approx(30_000, rel=1e-4)
    assert repay["hf_after"] == pytest.approx(2.0, rel=1e-12)
    assert m.allocator.book.debt["USDC"] == pytest.approx(70_000, rel=1e-4)
    # the wallet paid it, and the gas in USDC (no ETH left): 200,000 x 10 gwei = 0.002 ETH
    # at $1,400
    assert usdc - m.world.ledger.balance_of(TREASURY, "USDC") == pytest.approx(
        repay["amount"] + 2.8, rel=1e-12)
    assert m.summary()["treasury_buffer_repaid_usd"] == pytest.approx(30_000, rel=1e-4)


def test_part_topped_up_the_rest_repaid():
    # 20 free ETH after the loan: posted at $1,400 x 0.8 = $22,400 weighted (HF 1.624),
    # then 100,000 - 162,400 / 2 = 18,800 USDC repaid.
    m = model(buffered(POSTED + 20, crash=0.3))
    m.run()
    (topup,) = events(m, "collateral_topup")
    (repay,) = events(m, "debt_repaid_for_buffer")
    assert topup["amount"] == pytest.approx(20, rel=1e-3)  # less the gas paid in ETH
    assert topup["hf_after"] == pytest.approx(1.624, rel=1e-3)
    assert repay["amount"] == pytest.approx(18_800, rel=2e-3)
    assert repay["hf_after"] == pytest.approx(2.0, rel=1e-12)


def test_inside_the_band_nothing_is_done():
    # ETH -20 %: HF 1.6, above the floor 1.5
    m = model(buffered(1000, crash=0.2))
    m.run()
    assert m.summary()["treasury_hf_min"] == pytest.approx(1.6, rel=1e-4)
    assert not [e for e in m.events if e["kind"] in (
        "collateral_topup", "debt_repaid_for_buffer", "collateral_withdrawn_for_buffer")]
    assert m.allocator.book.collateral == pytest.approx({"ETH": POSTED})


def test_without_the_floor_the_same_crash_is_left_alone():
    m = model(buffered(1000, crash=0.3, floor=None, ceiling=None))
    m.run()
    assert not events(m, "collateral_topup")
    assert m.summary()["treasury_hf_min"] == pytest.approx(1.4, rel=1e-4)


def test_above_the_ceiling_excess_collateral_comes_back():
    # A proposal repays half the loan at step 2: HF 4 > 2.5, and the keeper withdraws
    # (200,000 - 2 x 50,000) / (2,000 x 0.8) = 62.5 ETH to the wallet.
    raw = buffered(1000, actions=[{"kind": "repay", "asset": "USDC", "share": 0.5,
                                   "start": 2}])
    m = model(raw)
    m.step()
    eth = m.world.ledger.balance_of(TREASURY, "ETH")
    m.step()
    (back,) = events(m, "collateral_withdrawn_for_buffer")
    assert back["hf_before"] == pytest.approx(4.0, rel=1e-5)
    assert back["amount"] == pytest.approx(62.5, rel=1e-5)
    assert back["hf_after"] == pytest.approx(2.0, rel=1e-12)
    assert m.allocator.book.collateral["ETH"] == pytest.approx(62.5, rel=1e-5)
    assert m.world.ledger.balance_of(TREASURY, "ETH") - eth == pytest.approx(62.5, abs=0.01)
    assert m.summary()["treasury_buffer_withdrawn_usd"] == pytest.approx(125_000, rel=1e-5)
    m.world.ledger.check_conservation()


@pytest.mark.parametrize("policy, field", [
    ({"hf_floor": 2.0}, "hf_floor: must be below borrow_hf (2), got 2"),
    ({"hf_floor": 2.5, "borrow_hf": 2.2}, "hf_floor: must be below borrow_hf (2.2)"),
    ({"hf_floor": 1.0}, "hf_floor"),
    ({"hf_ceiling": 1.8}, "hf_ceiling: must be above borrow_hf (2), got 1.8"),
    ({"hf_ceiling": 2.0}, "hf_ceiling: must be above borrow_hf"),
])
def test_a_band_not_around_the_target_is_refused_naming_the_field(policy, field):
    with pytest.raises(ConfigError, match=field.replace("(", r"\(").replace(")", r"\)")):
        parse_scenario(world({"kind": "static", **policy}))


@pytest.fixture(scope="module")
def shipped():
    """The shipped pair cut after the second crash (step 148)."""
    return {name: run_scenario(load_scenario(
        ROOT / "experiments" / "scenarios" / f"{name}.toml", {"steps": 150})).summary
        for name in ("collateral_unbuffered", "collateral_buffer")}


def test_the_buffered_treasury_survives_the_crashes_the_unbuffered_one_does_not(shipped):
    bare, kept = shipped["collateral_unbuffered"], shipped["collateral_buffer"]
    assert bare["treasury_liquidated_usd"] > 2e6 and bare["treasury_hf_min"] < 1.0
    assert bare["treasury_buffer_topup_usd"] == bare["treasury_buffer_repaid_usd"] == 0.0
    assert kept["treasury_liquidated_usd"] == 0.0 and kept["treasury_hf_min"] > 1.0
    assert kept["treasury_buffer_topup_usd"] > 3e6 and kept["treasury_buffer_repaid_usd"] > 1e5
