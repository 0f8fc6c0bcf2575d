"""Scheduled treasury actions (`[[treasury.actions]]`, agents.treasury_actions): a tranche
sale through a thin pool sells what fits the slippage limit and reports the rest as
shortfall; a failed tranche is caught up; each other kind does what it says; bad actions
are refused naming the field; the same seed gives the same summary."""

from __future__ import annotations

import copy

import pytest

from protocols.errors import ConfigError
from protocols.names import TREASURY
from sim.model import TreasuryModel
from sim.scenario import parse_scenario
from tests.agents.test_allocator import events, world

WHALE = "whale"


def with_actions(*actions: dict, **treasury) -> dict:
    raw = world(**treasury)
    raw["agents"]["liquidity_providers"]["count"] = 0  # no LP flight moving the pools
    raw["treasury"]["actions"] = list(actions)
    return raw


def run(raw: dict) -> TreasuryModel:
    m = TreasuryModel(parse_scenario(raw))
    m.run()
    return m


def tranches(m: TreasuryModel, index: int = 0) -> list[dict]:
    return events(m, "treasury_action", index=index)


def test_four_week_sale_through_a_thin_pool_sells_what_fits_and_reports_the_shortfall():
    # 70,000 GOV ($140k at the flat $2) over four weeks of daily tranches (2,500 each) into
    # a pool holding 100k GOV / 200k USDC, no arbitrage. Tranche 1 is cut to the 2 % limit:
    # v2 pays 0.997 x R_out / (R_in + 0.997 x), value ratio 0.997 R_in / (R_in + 0.997 x)
    # = 0.98 at x = R_in (0.997 / 0.98 - 1) / 0.997 = 1,739.91 GOV. The pool then quotes
    # GOV 3.4 % below reference, so no later tranche fits: each wants more (catch-up) and
    # does nothing; the rest, (70,000 - x) x $2, is the shortfall.
    raw = with_actions({"kind": "sell", "asset": "GOV", "units": 70_000, "start": 1,
                        "steps": 28})
    raw["step_hours"], raw["steps"] = 24.0, 30
    m = run(raw)
    x = 100_000 * (0.997 / 0.98 - 1) / 0.997
    ts = tranches(m)
    assert [e["step"] for e in ts] == list(range(1, 29))
    assert ts[0]["wanted"] == pytest.approx(2_500) and ts[0]["done"] == pytest.approx(x)
    assert ts[1]["wanted"] == pytest.approx((70_000 - x) / 27)
    assert ts[-1]["wanted"] == pytest.approx(70_000 - x)
    assert all(e["done"] == 0 for e in ts[1:]) and ts[-1]["final"]
    assert ts[-1]["remaining"] == pytest.approx(70_000 - x)
    summary = m.summary()
    assert summary["actions_executed_usd"] == pytest.approx(2 * x)
    assert summary["actions_shortfall_usd"] == pytest.approx(2 * (70_000 - x))
    assert summary["actions_executed_usd"] + summary["actions_shortfall_usd"] == (
        pytest.approx(140_000, rel=1e-12))
    swaps = events(m, "rebalance", action="swap", reason="action")
    assert len(swaps) == 1
    assert swaps[0]["value_out_usd"] / swaps[0]["value_in_usd"] >= 0.98 - 1e-9
    ledger, pool = m.world.ledger, m.world.pools["gov-usdc"]
    sold = ts[0]["done"]  # x up to the desk's bisection of the slippage cut
    assert sold == pytest.approx(x, rel=1e-8)
    assert ledger.balance_of(TREASURY, "GOV") == pytest.approx(500_000 - sold, rel=1e-12)
    assert ledger.balance_of(TREASURY, "USDC") == pytest.approx(
        1_000_000 + swaps[0]["amount_out"], rel=1e-12)
    assert pool.reserves()["GOV"] == pytest.approx(100_000 + sold, rel=1e-12)
    failed = events(m, "allocator_failed", reason="slippage_limit")
    assert len(failed) == 28  # the cut first tranche and the 27 that found nothing
    ledger.check_conservation()


def test_a_failed_tranche_is_caught_up_by_the_later_ones():
    # Sell 300 ETH in 4 hourly tranches through a $200M ETH/USDC pool. Before step 1 a whale
    # dumps 5,000 ETH (10 % of the pool), so tranche 1 (75 ETH) would sell > 2 % below the
    # $2,000 reference and is refused; the whale buys back before step 2, and the other
    # three tranches sell (300 - 0) / 3 = 100 ETH each.
    raw = with_actions({"kind": "sell", "asset": "ETH", "units": 300, "start": 1, "steps": 4})
    m = TreasuryModel(parse_scenario(raw))
    pool, world_ = m.world.pools["eth-usdc"], m.world
    world_.fund(WHALE, "ETH", 5_000)
    usdc = pool.swap_exact_in(WHALE, "ETH", "USDC", 5_000)
    m.step()
    pool.swap_exact_in(WHALE, "USDC", "ETH", usdc)
    m.run()
    ts = tranches(m)
    assert [e["wanted"] for e in ts] == pytest.approx([75, 100, 100, 100])
    assert [e["done"] for e in ts] == pytest.approx([0, 100, 100, 100])
    assert events(m, "allocator_failed", reason="slippage_limit", step=1)
    summary = m.summary()
    assert summary["actions_executed_usd"] == pytest.approx(600_000)
    assert summary["actions_shortfall_usd"] == 0
    # 500 ETH held, 300 sold, gas (200k units at 10 gwei = 0.002 ETH per swap) paid in ETH
    assert world_.ledger.balance_of(TREASURY, "ETH") == pytest.approx(200 - 3 * 0.002)
    world_.ledger.check_conservation()


def test_usd_amounts_and_shares_become_units_at_the_right_price():
    # Sell $20,000 of ETH in 2 tranches ($10,000 = 5 ETH each at $2,000) and a quarter of
    # the DAI held (none: nothing to do, no shortfall).
    raw = with_actions({"kind": "sell", "asset": "ETH", "usd": 20_000, "start": 2, "steps": 2},
                       {"kind": "sell", "asset": "GOV", "share": 0.01, "start": 1})
    m = run(raw)
    eth = tranches(m, 0)
    assert [e["done"] for e in eth] == pytest.approx([5, 5])
    assert [e["done_usd"] for e in eth] == pytest.approx([10_000, 10_000])
    gov = tranches(m, 1)  # 1 % of 500k GOV = 5,000 GOV: more than the 1,739.9 that fit
    assert gov[0]["wanted"] == pytest.approx(5_000)
    assert gov[0]["done"] == pytest.approx(100_000 * (0.997 / 0.98 - 1) / 0.997)
    assert m.summary()["actions_shortfall_usd"] == pytest.approx(
        2 * (5_000 - gov[0]["done"]))


def test_buy_deposit_withdraw():
    m = run(with_actions(
        {"kind": "buy", "asset": "ETH", "units": 10, "start": 1},
        {"kind": "deposit", "asset": "USDC", "venue": "aave", "units": 100_000, "start": 2},
        {"kind": "withdraw", "asset": "USDC", "venue": "aave", "share": 0.25, "start": 3},
    ))
    ledger, market = m.world.ledger, m.world.markets["aave"]
    buy, deposit, withdraw = (tranches(m, i)[0] for i in range(3))
    assert buy["done"] == pytest.approx(10, rel=1e-9)
    swap = events(m, "rebalance", action="swap", reason="action")[0]
    assert swap["sell"] == "USDC" and swap["amount_out"] == pytest.approx(10, rel=1e-9)
    # 500 + 10 bought - 3 gas payments (swap, supply, withdraw) of 0.002 ETH
    assert ledger.balance_of(TREASURY, "ETH") == pytest.approx(510 - 3 * 0.002)
    assert deposit["done"] == pytest.approx(100_000)
    assert withdraw["done"] == pytest.approx(25_000, rel=1e-6)  # interest accrues a little
    assert market.balance_of(TREASURY, "USDC") == pytest.approx(75_000, rel=1e-6)
    assert ledger.balance_of(TREASURY, "USDC") == pytest.approx(
        1_000_000 - swap["amount_in"] - 100_000 + withdraw["done"], rel=1e-12)
    ledger.check_conservation()


def test_borrow_then_repay():
    # Borrow 50,000 USDC against GOV at borrow_hf 2: post 2 x 50,000 / (0.65 x $2) GOV.
    m = run(with_actions(
        {"kind": "borrow", "asset": "USDC", "units": 50_000, "start": 1},
        {"kind": "repay", "asset": "USDC", "share": 1.0, "start": 3},
    ))
    ledger, market = m.world.ledger, m.world.markets["aave"]
    borrow, repay = tranches(m, 0)[0], tranches(m, 1)[0]
    assert borrow["done"] == pytest.approx(50_000)
    assert events(m, "treasury_borrow")[0]["collateral_posted"] == pytest.approx(
        2 * 50_000 / (0.65 * 2.0))
    assert repay["done"] == pytest.approx(50_000, rel=1e-4)  # the debt with 2 h of interest
    pid = m.allocator.debts.positions["aave"]
    assert not market.debt_of(pid).any() and not market.collateral_of(pid).any()
    assert ledger.balance_of(TREASURY, "GOV") == pytest.approx(500_000)  # collateral back
    assert m.summary()["actions_shortfall_usd"] == pytest.approx(0, abs=1e-6)
    ledger.check_conservation()


def test_provide_then_remove_liquidity():
    # $20,000 into the GOV/USDC pool at its 1:1 value mix: 5,000 GOV + 10,000 USDC, an LP
    # holding worth $20,000; removed whole two steps later.
    m = run(with_actions(
        {"kind": "provide", "asset": "gov-usdc:LP", "usd": 20_000, "start": 1},
        {"kind": "remove", "asset": "gov-usdc:LP", "share": 1.0, "start": 3},
    ))
    ledger = m.world.ledger
    provide, remove = tranches(m, 0)[0], tranches(m, 1)[0]
    assert provide["done_usd"] == pytest.approx(20_000, rel=1e-9)
    lp = provide["done"]
    assert lp > 0 and remove["wanted"] == pytest.approx(lp) and remove["done"] == pytest.approx(lp)
    assert remove["done_usd"] == pytest.approx(20_000, rel=1e-9)
    assert ledger.balance_of(TREASURY, "gov-usdc:LP") == pytest.approx(0, abs=1e-9)
    assert ledger.balance_of(TREASURY, "GOV") == pytest.approx(500_000, rel=1e-12)
    assert ledger.balance_of(TREASURY, "USDC") == pytest.approx(1_000_000, rel=1e-12)
    ledger.check_conservation()


@pytest.mark.parametrize("action, message", [
    ({"kind": "sell", "asset": "GOV", "start": 1},
     "treasury.actions[0].units: a sell needs exactly one of units, usd, share"),
    ({"kind": "sell", "asset": "GOV", "units": 1, "share": 0.5, "start": 1},
     "treasury.actions[0].share: give exactly one of units, usd, share"),
    ({"kind": "buy", "asset": "ETH", "share": 0.5, "start": 1},
     "treasury.actions[0].share: a buy is sized by units or usd"),
    ({"kind": "sell", "asset": "GOV", "units": 1, "start": 0},
     "treasury.actions[0].start: must be >= 1, got 0"),
    ({"kind": "sell", "asset": "GOV", "units": -1, "start": 1},
     "treasury.actions[0].units: must be > 0.0, got -1"),
    ({"kind": "sell", "asset": "GOV", "share": 1.5, "start": 1},
     "treasury.actions[0].share: must be <= 1.0, got 1.5"),
    ({"kind": "swap", "asset": "GOV", "units": 1, "start": 1},
     "treasury.actions[0].kind: must be one of"),
    ({"kind": "sell", "asset": "BTC", "units": 1, "start": 1},
     "treasury.actions[0].asset: unknown asset 'BTC'"),
    ({"kind": "sell", "asset": "GOV", "into": "BTC", "units": 1, "start": 1},
     "treasury.actions[0].into: unknown asset 'BTC'"),
    ({"kind": "sell", "asset": "USDC", "units": 1, "start": 1},
     "treasury.actions[0].into: defaults to the safe asset 'USDC', the asset itself"),
    ({"kind": "sell", "asset": "GOV", "units": 1, "start": 40, "steps": 10},
     "treasury.actions[0].steps: the window (start 40, 10 steps) ends at step 49, after the "
     "run's last step 48"),
    ({"kind": "deposit", "asset": "USDC", "units": 1, "start": 1},
     "treasury.actions[0].venue: a deposit needs the lending market's name"),
    ({"kind": "deposit", "asset": "USDC", "venue": "gov-usdc", "units": 1, "start": 1},
     "treasury.actions[0].venue: no lending market named 'gov-usdc'"),
    ({"kind": "deposit", "asset": "ETH", "venue": "aave", "units": 1, "start": 1},
     "treasury.actions[0].asset: aave does not list 'ETH'"),
    ({"kind": "borrow", "asset": "GOV", "units": 1, "start": 1},
     "treasury.actions[0].asset: no lending market lends GOV against collateral 'GOV'"),
    ({"kind": "borrow", "asset": "USDC", "collateral": "ETH", "units": 1, "start": 1},
     "treasury.actions[0].asset: no lending market lends USDC against collateral 'ETH'"),
    ({"kind": "sell", "asset": "GOV", "venue": "aave", "units": 1, "start": 1},
     "treasury.actions[0].venue: not used by a sell"),
    ({"kind": "provide", "asset": "GOV", "usd": 1, "start": 1},
     "treasury.actions[0].asset: a provide or remove names a pool's venue token"),
    ({"kind": "provide", "asset": "aave:aUSDC", "usd": 1, "start": 1},
     "treasury.actions[0].asset: 'aave:aUSDC' is not a pool's venue token"),
    ({"kind": "provide", "asset": "gov-usdc:LP", "share": 0.5, "start": 1},
     "treasury.actions[0].share: a provide is sized by usd"),
])
def test_a_bad_action_is_refused_naming_the_field(action, message):
    with pytest.raises(ConfigError) as info:
        parse_scenario(with_actions(action))
    assert message in str(info.value)


def test_a_policy_that_would_trade_the_actions_back_is_refused():
    raw = with_actions({"kind": "sell", "asset": "GOV", "units": 1e4, "start": 1})
    raw["treasury"]["policy"] = {"kind": "calendar"}
    with pytest.raises(ConfigError, match="treasury.policy.weights: a calendar policy without "
                                          "weights rebalances to the initial holdings"):
        parse_scenario(raw)
    raw["treasury"]["policy"]["weights"] = {"GOV": 0.4, "USDC": 0.6}
    parse_scenario(raw)


def test_same_seed_same_summary_with_a_moving_market():
    raw = with_actions({"kind": "sell", "asset": "GOV", "usd": 200_000, "start": 2,
                        "steps": 20},
                       {"kind": "buy", "asset": "ETH", "units": 20, "start": 5, "steps": 10})
    for asset in raw["assets"][:2]:
        asset["sigma"] = 0.8
    raw["agents"]["arbitrageurs"] = {"count": 1}
    first, second = run(copy.deepcopy(raw)), run(copy.deepcopy(raw))
    a, b = first.summary(), second.summary()
    a.pop("runtime_s", None), b.pop("runtime_s", None)
    assert a == b
    assert a["actions_executed_usd"] > 0
    assert tranches(first) == tranches(second)
    first.world.ledger.check_conservation()
