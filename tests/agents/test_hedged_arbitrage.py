"""Arbitrage hedged on a finite-depth off-chain market (agents.trading.best_hedged_arbitrage):
the hedge moves the off-chain price, so the best trade is smaller and stops where the pool's
marginal rate meets the off-chain rate after the hedge."""

import math

import pytest

from agents.arbitrageur import Arbitrageur
from agents.trading import best_arbitrage, best_hedged_arbitrage
from protocols.offchain import OffchainMarket
from tests.agents.test_arbitrageur import V2, host, set_prices


def thin_weth(model, depth_usd):
    """Give WETH an off-chain market of `depth_usd` per 1 % at its current price."""
    world = model.world
    world.reference["WETH"] = OffchainMarket(world.usd("WETH"), depth_usd=depth_usd)
    return world


def test_unlimited_depth_is_the_plain_arbitrage():
    model = host([V2])
    set_prices(model.world, WETH=1800.0)
    pool = model.world.pools["uni-v2"]
    prices = {t: model.world.usd(t) for t in pool.tokens}
    assert best_hedged_arbitrage(pool, model.world) == best_arbitrage(pool, prices)


def test_a_thin_offchain_market_makes_the_trade_smaller_and_optimal():
    # v2 WETH/USDC pool, $10M at $2,000; off-chain WETH falls to $1,800 with $200k of depth
    # per 1 %. Unhedged, the arbitrage would sell ~$500k of WETH into the pool; hedging
    # that (buying the WETH back off-chain) would lift the off-chain price ~2.5 %, so the
    # best hedged trade stops earlier, where 0.997 x the pool's marginal USDC per WETH
    # equals the off-chain WETH price after the hedge.
    model = host([V2])
    set_prices(model.world, WETH=1800.0)
    world = thin_weth(model, 2e5)
    pool = world.pools["uni-v2"]
    plain = best_arbitrage(pool, {t: world.usd(t) for t in pool.tokens})
    hedged = best_hedged_arbitrage(pool, world)
    assert (hedged.token_in, hedged.token_out) == ("WETH", "USDC") == (
        plain.token_in, plain.token_out)
    assert 0 < hedged.amount_in < plain.amount_in

    def profit(x):  # USD value of the WETH bought back less the WETH sold
        out = pool.quote_exact_in("WETH", "USDC", x)
        return (world.quote_offchain("USDC", out, "WETH") - x) * world.usd("WETH")

    assert hedged.profit_usd == pytest.approx(profit(hedged.amount_in), rel=1e-9)
    # the first-order condition: the pool's marginal USDC per WETH at that size equals the
    # off-chain WETH price once the hedge has bought the output's worth of WETH
    h = 1e-4 * hedged.amount_in
    marginal = (pool.quote_exact_in("WETH", "USDC", hedged.amount_in + h)
                - pool.quote_exact_in("WETH", "USDC", hedged.amount_in - h)) / (2 * h)
    # buying WETH back with the output's USD lifts its log price by 0.01 per $200k of depth
    after = world.usd("WETH") * math.exp(0.01 * hedged.amount_out / 2e5)
    assert marginal == pytest.approx(after, rel=1e-7)
    # a local maximum: 1 % more or less pays less
    x = hedged.amount_in
    assert profit(x) > profit(0.99 * x) and profit(x) > profit(1.01 * x)
    # and the plain (unhedged) size loses part of that profit to its own impact
    assert profit(plain.amount_in) < profit(x)


def test_executed_hedge_leaves_pool_and_offchain_price_within_the_fee_band():
    model = host([V2])
    Arbitrageur(model, capital_usd=40e6, gas_units=0)
    set_prices(model.world, WETH=1800.0)
    world = thin_weth(model, 2e5)
    before = world.ledger.snapshot()["supply"]
    model.step()
    pool = world.pools["uni-v2"]
    offchain = world.usd("WETH")
    assert offchain > 1800.0  # the hedge bought WETH back off-chain and lifted its price
    # pool and off-chain end within the fee band of each other (the trade stopped where the
    # marginal rate, fee included, met the off-chain price after the hedge)
    assert 0 < pool.spot_price("WETH", "USDC") / offchain - 1 <= 0.003 / 0.997
    assert math.log(offchain / 1800.0) == pytest.approx(
        world.reference["WETH"].impact, rel=1e-12)
    world.ledger.check_conservation()
    assert world.ledger.snapshot()["supply"].keys() == before.keys()
