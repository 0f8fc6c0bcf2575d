"""Where liquidators sell and how much a scan costs: the best route (off-chain market or
pool, directly or through another token), halved covers when slippage eats the bonus, sales
that move the off-chain price the oracles read, the stop at the first candidate no size
makes profitable, and rounds in which nothing changed doing no work.

The world is test_liquidator.py's: WETH crashes 2000 -> 1400, positions opened at given
health factors; "uni" is a 20M $ WETH/USDC Uniswap v2 pool arbitraged to the crash price."""

import math

import pytest

from agents.liquidator import Liquidator
from protocols.amm.constant_product import get_amount_out
from tests.agents.test_liquidator import BOOK, CRASH, CRASH_STEP, host, world_with

# Position A of BOOK (HF 0.97, close factor 0.5): repay 5953.61 USDC (+ 2.98 flash fee),
# receive 4.443943 WETH, worth 6221.52 $ at 1400.
A_SOLD, A_REPAID = 4.443943299, 5953.608247


def spy(monkeypatch, owner, name):
    """Record the arguments of every call to `owner.name`, calling through."""
    calls = []
    real = getattr(owner, name)

    def recorded(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, recorded)
    return calls


def test_a_deep_offchain_market_beats_a_thin_pool_and_a_thin_one_loses_to_the_pool():
    # Off-chain depth 1e9 $ per 1 %: selling 6221.52 $ moves the log price by 6.2e-8 and
    # costs ~0.0002 $; the pool (0.3 % fee, priced ~1403.5 after the arbitrage) pays
    # 6213.88 USDC. Off-chain wins: profit 6221.52 - 5953.61 x 1.0005 - 5 = 259.94.
    world, _ = world_with(BOOK[:1], depth_usd=1e9)
    pool_before = world.pools["uni"].reserves()
    model = host(world)
    Liquidator(model, capital_usd=0.0, gas_units=400_000).step()
    (event,) = model.events
    assert (event["route"], event["pool"]) == ("offchain", None)
    assert event["profit_usd"] == pytest.approx(259.94, abs=0.01)
    assert world.pools["uni"].reserves() == pool_before
    assert world.reference["WETH"].impact == pytest.approx(-1e-11 * 6221.52, rel=1e-6)

    # Depth 1e3 $: the same sale fetches log1p(1e-5 x 6221.52) / 1e-5 = 6035.65 $ off-chain,
    # 178 $ less than the pool's 6213.88: the pool wins, and the off-chain price is untouched.
    world, _ = world_with(BOOK[:1], depth_usd=1e3)
    r = world.pools["uni"].reserves()
    out = get_amount_out(A_SOLD, r["WETH"], r["USDC"], 0.003)
    assert out == pytest.approx(6213.88, abs=0.01)
    model = host(world)
    Liquidator(model, capital_usd=0.0, gas_units=400_000).step()
    (event,) = model.events
    assert (event["route"], event["pool"], event["sold"]) == ("pool", "uni", pytest.approx(A_SOLD))
    out = get_amount_out(event["sold"], r["WETH"], r["USDC"], 0.003)
    assert event["profit_usd"] == pytest.approx(out - event["debt_repaid"] * 1.0005 - 5.0)
    assert event["profit_usd"] == pytest.approx(252.29, abs=0.01)  # 7.65 $ less than off-chain
    assert world.pools["uni"].reserves() == pytest.approx(
        {"WETH": r["WETH"] + event["sold"], "USDC": r["USDC"] - out}
    )
    assert world.reference["WETH"].impact == 0.0


def test_a_pool_against_another_token_is_followed_by_an_offchain_sale_of_that_token():
    # Only a 50M $ WETH/DAI pool besides a thin off-chain WETH market: WETH -> DAI in the
    # pool, then DAI -> USDC off-chain (unlimited depth, 1:1) repays the USDC flash loan.
    pools = [{"kind": "uniswap_v2", "name": "weth-dai", "tokens": ["WETH", "DAI"],
              "tvl_usd": 50e6}]
    world, _ = world_with(BOOK[:1], depth_usd=1e3, pools=pools)
    r = world.pools["weth-dai"].reserves()
    dai = get_amount_out(A_SOLD, r["WETH"], r["DAI"], 0.003)  # ~6214 vs 6035.65 off-chain
    model = host(world)
    liq = Liquidator(model, capital_usd=0.0, gas_units=400_000)
    liq.step()
    (event,) = model.events
    assert (event["route"], event["pool"]) == ("pool", "weth-dai")
    assert event["profit_usd"] == pytest.approx(dai - A_REPAID * 1.0005 - 5.0, abs=1e-5)
    # The DAI was sold: the liquidator keeps USDC only, its profit plus the gas.
    assert world.ledger.balances_of(liq.holder) == pytest.approx(
        {"USDC": event["profit_usd"] + 5.0}
    )
    world.ledger.check_conservation()


def test_a_cover_that_loses_money_is_halved_until_it_pays_and_the_sale_moves_the_price():
    # C (HF 0.8): repay 13333.33 for 9.952381 WETH. Off-chain depth 1e3 $, no pool.
    #   whole: 13933.33 $ of WETH fetch log1p(0.139333)/1e-5 = 13044.33 < 13340.00 + 5;
    #   half:  6966.67 $ fetch 6734.71; 6734.71 - 6666.67 x 1.0005 - 5 = 59.71 > 0.
    world, _ = world_with(BOOK[2:3], depth_usd=1e3, pools=[])
    model = host(world)
    Liquidator(model, capital_usd=0.0, gas_units=400_000).step()
    (event,) = model.events
    assert event["route"] == "offchain"
    assert event["debt_repaid"] == pytest.approx(13333.333 / 2, abs=1e-3)
    assert event["collateral_seized"] == pytest.approx(5.0)  # 6666.67 / 1400 x 1.05
    assert event["profit_usd"] == pytest.approx(59.71, abs=0.01)
    # The sale pushed the off-chain log price down by 1e-5 x 6734.71: 1400 -> 1308.82.
    assert world.reference["WETH"].impact == pytest.approx(-0.0673471, rel=1e-5)
    assert world.usd("WETH") == pytest.approx(1308.82, abs=0.01)


def test_offchain_sales_lower_the_price_the_oracles_read_and_the_next_round_cascades():
    # Depth 2e4 $ (k = 5e-7 per $): C, B and A sell 23.975491 WETH off-chain, 33565.69 $ at
    # 1400. Back to back they move the price as one sale would (1/P1 = 1/P0 + k x): impact
    # -log1p(5e-7 x 33565.69) = -0.016644, beyond the feeds' 0.5 % deviation threshold. The
    # next round's oracle update takes D2 (HF 1.01 at 1400) to 1.01 x exp(impact) = 0.9933.
    world, market = world_with([*BOOK[:3], (10.0, 1.01)], depth_usd=2e4, pools=[])
    model = host(world)
    liq = Liquidator(model, capital_usd=0.0, gas_units=400_000)
    liq.step()
    assert [e["pid"] for e in model.events] == [2, 1, 0]
    # Each sale's USD, paid over its own impact, is its proceeds; they add up to the impact.
    usd = [e["profit_usd"] + e["debt_repaid"] * 1.0005 + 5.0 for e in model.events]
    impact = world.reference["WETH"].impact
    assert impact == pytest.approx(-5e-7 * sum(usd), rel=1e-9)
    assert impact == pytest.approx(-0.016644, abs=1e-6)
    prices = [u / e["sold"] for u, e in zip(usd, model.events, strict=True)]
    assert prices[0] > prices[1] > prices[2]  # each sale starts where the last left it
    assert market.liquidatable().tolist() == []  # the oracles have not updated yet
    world.update_oracles(CRASH_STEP + 1)
    liq.step()
    assert [e["pid"] for e in model.events] == [2, 1, 0, 3]
    assert model.events[3]["health_factor"] == pytest.approx(1.01 * math.exp(impact))


def test_the_scan_stops_at_the_first_candidate_no_size_makes_profitable(monkeypatch):
    # Depth 1e3 $, no pool, 100 $ gas. C, estimated 593.33 - 100 > 0, is priced exactly:
    #   whole 13044.33 - 13340.00 - 100 < 0;  half 6734.71 - 6670.00 - 100 = -35.3;
    #   quarter (2.488 WETH, 3483.33 $) 3424.04 - 3335.00 - 100 = -11.0;  an eighth cannot
    #   beat gas even without slippage (593.33 / 8 = 74.2 < 100): 3 quotes, then given up.
    # B and A, same market, collateral and debt and no larger, are not priced at all (A
    # would lose too: 6035.65 - 5956.58 - 100 < 0 whole, 3063.36 - 2978.29 - 100 < 0 half).
    world, _ = world_with(BOOK, depth_usd=1e3, pools=[])
    model = host(world, gas_usd=100.0)
    liq = Liquidator(model, capital_usd=0.0, gas_units=400_000)
    tried = spy(monkeypatch, liq, "_liquidate")
    quotes = spy(monkeypatch, world, "quote_offchain")
    liq.step()
    assert model.events == []
    assert [args[1] for args in tried] == [2]
    assert [args[1] for args in quotes] == pytest.approx([9.952381, 4.976190, 2.488095], abs=1e-6)
    # The next round, nothing having changed, prices C alone again: 3 quotes, not 3 x 3.
    liq.step()
    assert len(tried) == 2 and len(quotes) == 6


def test_a_round_in_which_nobody_can_be_liquidated_costs_no_quote(monkeypatch):
    # D (HF 1.2) is healthy; E (0.01 WETH, HF 0.9) is liquidatable but its ~0.6 $ cannot
    # beat 5 $ of gas, so it is dropped on the estimate, before any quote.
    world, market = world_with([BOOK[3], BOOK[4]])
    model = host(world)
    liq = Liquidator(model, capital_usd=0.0, gas_units=400_000)
    scans = spy(monkeypatch, market, "health_factors")
    quotes = spy(monkeypatch, world, "quote_offchain")
    quotes += spy(monkeypatch, world.pools["uni"], "quote_exact_in")
    tried = spy(monkeypatch, liq, "_liquidate")
    liq.step()
    assert (len(scans), len(quotes), len(tried), model.events) == (1, 0, 0, [])
    for _ in range(5):  # same book, indices and oracle prices: the table is reused
        liq.step()
    assert (len(scans), len(quotes), len(tried)) == (1, 0, 0)
    market.accrue(1 / 8760)  # the indices move: one new health-factor computation
    liq.step()
    world.reference["WETH"].set(CRASH * 1.01)  # and so does a new oracle round
    world.update_oracles(CRASH_STEP + 1)
    liq.step()
    assert (len(scans), len(quotes), len(tried)) == (3, 0, 0)
