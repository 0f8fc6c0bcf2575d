"""The treasury as a contagion channel: its loan against GOV is liquidated like anyone's in a
GOV crash, and a short runway forces it to sell GOV (then other risk assets) into the pools.
Worlds from `tests.agents.test_allocator.world`: flat prices, a GOV/USDC v2 pool, an
ETH/USDC v2 pool, an Aave market lending USDC against GOV (LT 0.65, bonus 10 %)."""

from __future__ import annotations

import pytest

from agents.treasury_book import runway_months
from protocols.errors import ConfigError
from protocols.names import TREASURY
from sim.model import TreasuryModel
from sim.scenario import parse_scenario
from tests.agents.test_allocator import events, model, world

OPEX = 730_500.0  # USD a month = 1,000 USDC an hour at 1-hour steps


def gov_total(m: TreasuryModel) -> float:
    """The treasury's GOV: in its wallet plus posted in its Aave position."""
    book = m.allocator.book
    return m.world.ledger.balance_of(TREASURY, "GOV") + book.collateral.get("GOV", 0.0)


# -- 1. borrowing against GOV, liquidated like anyone ------------------------------------
def borrowing_world(crash: float = 0.5) -> dict:
    raw = world({"kind": "static", "borrow": {"USDC": 200_000}, "borrow_hf": 1.5})
    raw["agents"]["liquidators"] = {"count": 1, "capital_usd": 1e6}
    raw["agents"]["borrowers"] = [{  # a cohort beside it, liquidated in the same crash
        "market": "aave", "collateral": "GOV", "debt": "USDC", "positions": 20,
        "size_usd_median": 5_000, "size_usd_sigma": 0.1, "hf_median": 1.2, "hf_sigma": 0.02,
        "reaction_delay": 100}]
    raw["shocks"] = [{"kind": "crash", "step": 5, "asset": "GOV", "size": crash}]
    raw["steps"] = 8
    return raw


def test_the_treasurys_loan_against_gov_is_liquidated_in_a_gov_crash():
    m = model(borrowing_world())
    m.step()
    # collateral defaults to treasury.token (GOV): 1.5 x 200,000 / (0.65 x $2) GOV posted
    posted = 1.5 * 200_000 / (0.65 * 2.0)
    assert m.allocator.book.collateral == pytest.approx({"GOV": posted})
    for _ in range(3):
        m.step()
    assert not events(m, "liquidation")
    # the loan is a channel both ways on the graph: aave is owed by the treasury, the
    # treasury has its GOV posted in aave
    graph = m.dependency_graph()
    debt_usd = m.allocator.book.debt_usd["USDC"]
    assert graph.edges["treasury", "aave"]["credit_usd"] == pytest.approx(debt_usd, rel=1e-12)
    assert graph.edges["aave", "treasury"]["holdings_usd"] == pytest.approx(posted * 2.0)
    before, supply = gov_total(m), m.world.ledger.total_supply("GOV")
    m.step()  # the crash halves GOV: HF 1.5 x 0.5 = 0.75, below 0.95 -> close factor 1
    (liq,) = events(m, "liquidation", owner=TREASURY)
    pid = m.allocator.debts.positions["aave"]
    market = m.world.markets["aave"]
    others = [e for e in events(m, "liquidation") if e is not liq]
    assert others and all(e["owner"] == market.owner[e["pid"]] != TREASURY for e in others)
    assert all(e["owner"].startswith("borrowers:") for e in others)
    assert (liq["owner"], liq["market"], liq["pid"]) == (TREASURY, "aave", pid)
    assert liq["health_factor"] == pytest.approx(0.75, rel=1e-6)
    # all the debt (interest included) repaid, bonus 10 % at GOV = $1
    assert liq["debt_repaid"] == pytest.approx(200_000, rel=1e-6)
    assert liq["collateral_seized"] == pytest.approx(liq["debt_repaid"] * 1.1 / 1.0, rel=1e-9)
    assert liq["collateral_seized_usd"] == pytest.approx(liq["collateral_seized"] * 1.0)
    # the book is re-read from the market: collateral seized, debt gone
    book = m.allocator.book
    assert book.debt == {}
    assert book.collateral["GOV"] == pytest.approx(posted - liq["collateral_seized"], rel=1e-9)
    assert book.collateral["GOV"] == pytest.approx(float(market.collateral_of(pid)[0]))
    # GOV is conserved: what the treasury lost is what the liquidation took
    assert before - gov_total(m) == pytest.approx(liq["collateral_seized"], rel=1e-9)
    assert m.world.ledger.total_supply("GOV") == pytest.approx(supply, rel=1e-12)
    m.world.ledger.check_conservation()
    # the liquidation repaid the whole loan: the credit edge is gone with it
    assert "credit_usd" not in m.dependency_graph().edges.get(("treasury", "aave"), {}) or \
        m.dependency_graph().edges["treasury", "aave"]["credit_usd"] == 0.0
    summary = m.summary()
    assert summary["treasury_liquidated_usd"] == pytest.approx(liq["collateral_seized"] * 1.0)
    assert summary["treasury_liquidated_usd"] == pytest.approx(220_000, rel=1e-6)


def test_a_shallow_crash_leaves_the_treasurys_loan_alone():
    m = model(borrowing_world(crash=0.2))  # HF 1.5 x 0.8 = 1.2
    m.run()
    assert not events(m, "liquidation", owner=TREASURY)
    assert events(m, "liquidation")  # the cohort's HF 1.2 x 0.8 < 1 are
    assert m.summary()["treasury_liquidated_usd"] == 0.0
    assert m.allocator.book.debt["USDC"] == pytest.approx(200_000, rel=1e-4)


def test_borrowed_usdc_pays_opex_and_counts_in_the_runway():
    # No USDC of its own: the 200k borrowed against GOV pays 1,000 USDC an hour.
    m = model(world({"kind": "static", "borrow": {"USDC": 200_000}},
                    opex_usd_per_month=OPEX, holdings={"ETH": 10, "GOV": 500_000}))
    m.step()  # step 1's opex comes before the loan: it sells ETH (2 % cushion)
    (swap,) = events(m, "rebalance", action="swap", reason="opex")
    left = swap["amount_out"] - 1_000
    assert 0 < left < 21
    assert m.world.ledger.balance_of(TREASURY, "USDC") == pytest.approx(200_000 + left)
    m.step()  # step 2's opex is paid from the borrowed USDC: nothing more is sold
    assert len(events(m, "rebalance", action="swap", reason="opex")) == 1
    assert m.world.ledger.balance_of(TREASURY, "USDC") == pytest.approx(199_000 + left)
    assert m.timeseries()["runway_months"].iloc[-1] == pytest.approx((199_000 + left) / OPEX)


# -- 2. forced selling --------------------------------------------------------------------
def forced_world(gov_pool_usd: float, gov: float = 500_000, eth: float = 500,
                 **forced) -> dict:
    raw = world(opex_usd_per_month=OPEX, holdings={"ETH": eth, "GOV": gov, "USDC": 100_000},
                forced_sale={"runway_floor_months": 1.0, "restore_months": 2.0, **forced})
    raw["protocols"][0]["tvl_usd"] = gov_pool_usd
    return raw


def v2_out(x_in: float, reserve_in: float, reserve_out: float) -> float:
    """UniswapV2Pair's output at the 0.3 % fee."""
    return reserve_out * 0.997 * x_in / (reserve_in + 0.997 * x_in)


def test_a_short_runway_sells_gov_first_back_to_the_restore_level():
    # Deep GOV pool ($40M: 10M GOV / 20M USDC), 5M GOV held. Step 1 pays 1,000 USDC of
    # opex: runway 99,000 / 730,500 = 0.136 < 1 month, so the treasury raises
    # (2 - 0.136) x 730,500 = 1,362,000 USDC - all from GOV, within 10 % slippage.
    m = model(forced_world(40e6, gov=5e6))
    m.step()
    (sale,) = events(m, "forced_sale")
    want = 2 * OPEX - 99_000
    assert sale["asset"] == "GOV" and sale["actor"] == TREASURY
    assert sale["usd"] == pytest.approx(want, rel=1e-9)
    # x GOV with v2_out(x) = want: x = want x 10M / (0.997 x (20M - want))
    assert sale["amount"] == pytest.approx(want * 10e6 / (0.997 * (20e6 - want)), rel=1e-9)
    assert sale["runway_before"] == pytest.approx(99_000 / OPEX)
    assert sale["runway_after"] == pytest.approx(2.0, rel=1e-9)
    (swap,) = events(m, "rebalance", reason="forced_sale")
    assert 0.02 < swap["slippage"] <= 0.1  # beyond a rebalancer's 2 %, within the limit
    assert m.world.ledger.balance_of(TREASURY, "ETH") == pytest.approx(500 - 0.002)  # gas
    m.step()  # runway 2 - 1/730.5 months: above the floor, nothing more is sold
    assert len(events(m, "forced_sale")) == 1
    assert m.summary()["treasury_forced_sales_usd"] == pytest.approx(want, rel=1e-9)
    m.world.ledger.check_conservation()


def test_a_thin_gov_pool_fills_to_the_slippage_limit_and_the_rest_comes_from_eth():
    # $400k GOV pool (100k GOV / 200k USDC): the largest sale within 10 % below $2 sells
    # x with v2_out(x) = 1.8 x: x = (0.997 x 200k / 1.8 - 100k) / 0.997 = 10,810 GOV.
    m = model(forced_world(400e3, eth=1_000))
    m.step()
    gov, eth = events(m, "forced_sale")
    x = (0.997 * 200e3 / 1.8 - 100e3) / 0.997
    assert gov["asset"] == "GOV" and gov["amount"] == pytest.approx(x, rel=1e-6)
    assert gov["usd"] == pytest.approx(1.8 * x, rel=1e-6)
    # ETH (the next risk asset) then covers the rest through the deep ETH pool
    assert eth["asset"] == "ETH" and eth["runway_before"] == pytest.approx(gov["runway_after"])
    assert eth["runway_after"] == pytest.approx(2.0, rel=1e-9)
    summary = m.summary()
    assert summary["treasury_forced_sales_usd"] == pytest.approx(gov["usd"] + eth["usd"])
    assert summary["treasury_forced_sales_usd"] == pytest.approx(2 * OPEX - 99_000, rel=1e-9)
    cut = events(m, "allocator_failed", reason="slippage_limit")
    assert cut and cut[0]["max_slippage"] == 0.1


@pytest.mark.parametrize("arbitrage", [False, True])
def test_a_sale_that_cannot_fill_is_retried_next_step(arbitrage):
    # Nothing but GOV to sell, into a $400k pool at a 5 % limit: step 1 sells what fits
    # (x with v2_out(x) = 0.95 x 2 x), leaving the pool 9 % below reference. Without an
    # arbitrageur nothing fits at steps 2 and 3 (recorded, runway still short); with one
    # the pool is bought back during the rounds and each step sells again.
    raw = forced_world(400e3, max_slippage=0.05)
    raw["treasury"]["holdings"] = {"GOV": 500_000, "USDC": 100_000}
    if arbitrage:
        raw["agents"]["arbitrageurs"] = {"count": 1, "capital_usd": 5e6}
    m = model(raw)
    for _ in range(3):
        m.step()
    sales = events(m, "forced_sale")
    assert sales[0]["amount"] == pytest.approx((0.997 * 200e3 / 1.9 - 100e3) / 0.997, rel=1e-6)
    cut = [e["step"] for e in events(m, "allocator_failed", reason="slippage_limit",
                                     sell="GOV")]
    assert cut == [1, 2, 3]  # every step tried again
    assert [s["step"] for s in sales] == ([1, 2, 3] if arbitrage else [1])
    for sale in sales:
        assert sale["runway_before"] < sale["runway_after"] < 1.0
    swaps = events(m, "rebalance", reason="forced_sale")
    assert all(s["slippage"] <= 0.05 + 1e-9 for s in swaps)
    assert runway_months(m.allocator.book, OPEX, m.allocator.stables) < 1.0


def test_forced_selling_is_off_by_default():
    m = model(world(opex_usd_per_month=OPEX, holdings={"ETH": 500, "GOV": 500_000,
                                                       "USDC": 100_000}))
    for _ in range(4):
        m.step()
    assert m.config.treasury.forced_sale.runway_floor_months == 0
    assert not events(m, "forced_sale")
    assert m.summary()["treasury_forced_sales_usd"] == 0.0


@pytest.mark.parametrize(("forced", "treasury", "message"), [
    ({"runway_floor_months": 6, "restore_months": 6}, {},
     "treasury.forced_sale.restore_months: must be above runway_floor_months (6), got 6"),
    ({"runway_floor_months": 6, "restore_months": 3}, {},
     "restore_months: must be above runway_floor_months (6), got 3"),
    ({"runway_floor_months": -1}, {},
     "treasury.forced_sale.runway_floor_months: must be >= 0"),
    ({"max_slippage": 1.5}, {}, "treasury.forced_sale.max_slippage: must be < 1"),
    ({"runway_floor_months": 3}, {"token": "DAO"},
     "treasury.token: unknown asset 'DAO' (forced_sale sells the DAO's own token first)"),
])
def test_bad_forced_sale_config_names_the_field(forced, treasury, message):
    raw = world(forced_sale=forced, **treasury)
    with pytest.raises(ConfigError) as info:
        parse_scenario(raw)
    assert message in str(info.value)


def test_an_unknown_token_is_fine_while_nothing_uses_it():
    config = parse_scenario(world(token="DAO"))
    assert config.treasury.token == "DAO"
    with pytest.raises(ConfigError, match="treasury.token: unknown asset 'DAO'"):
        parse_scenario(world({"kind": "static", "borrow": {"USDC": 1e5}}, token="DAO"))


# -- 4. venues held from the start ---------------------------------------------------------
def test_venues_held_from_the_start_are_deposited_before_step_1_without_a_trade():
    m = model(world({"kind": "static"}, venues={"aave:aUSDC": 300_000,
                                               "gov-usdc:LP": 100_000}))
    ledger, book = m.world.ledger, m.allocator.book
    # 300k USDC supplied at exchange rate 1; the LP holds 100k / 500k of the pool's
    # value (its 400k plus the 100k added), GOV and USDC half each at flat prices
    assert ledger.balance_of(TREASURY, "aave:aUSDC") == pytest.approx(300_000)
    assert book.values_usd["aave:aUSDC"] == pytest.approx(300_000)
    assert book.values_usd["gov-usdc:LP"] == pytest.approx(100_000, rel=1e-9)
    pool = m.world.pools["gov-usdc"].reserves()
    assert pool == pytest.approx({"GOV": 125_000, "USDC": 250_000})
    # the holdings are untouched, nothing was traded, no gas paid
    assert ledger.balance_of(TREASURY, "USDC") == pytest.approx(1_000_000)
    assert ledger.balance_of(TREASURY, "GOV") == pytest.approx(500_000)
    assert m.allocator.initial_nav_usd == pytest.approx(3_000_000 + 400_000, rel=1e-9)
    assert not [e for e in m.events if e["kind"] == "rebalance"]
    assert m.allocator.costs_usd["gas"] == 0.0
    m.run()  # static holds them to the end
    assert ledger.balance_of(TREASURY, "aave:aUSDC") > 0
    m.world.ledger.check_conservation()


def test_an_unknown_venue_is_named():
    with pytest.raises(ConfigError, match=r"treasury\.venues\.aave:aDAI: not a venue token"):
        model(world({"kind": "static"}, venues={"aave:aDAI": 1e5}))
