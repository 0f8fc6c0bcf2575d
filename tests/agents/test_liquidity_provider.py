"""Liquidity-provider agents on a world built by `sim.assembly.build_world`: flight exactly at
the threshold, once per episode, return after the calm steps, own flows not read as stress,
drains read as stress, `withdraw_share` moving exactly the fraction, and the books."""

import math

import pytest

from agents.arbitrageur import Arbitrageur
from agents.liquidity_provider import LiquidityProvider
from protocols.errors import InvalidAmount
from sim.assembly import build_world
from sim.scenario import parse_scenario
from tests.conftest import FakeHost

V2 = {"kind": "uniswap_v2", "name": "uni-v2", "tokens": ["WETH", "USDC"], "tvl_usd": 10e6}
V3 = {
    "kind": "uniswap_v3",
    "name": "uni-v3",
    "tokens": ["WETH", "USDC"],
    "fee": 0.003,
    "tvl_usd": 20e6,
}
CURVE = {"kind": "curve", "name": "3pool", "tokens": ["USDC", "DAI", "USDT"], "tvl_usd": 30e6}
PRICES = {"WETH": 2000.0, "USDC": 1.0, "DAI": 1.0, "USDT": 1.0}
BEHAVIOUR = {"flight_drawdown": 0.15, "flight_share": 0.3, "return_after": 5}


def host(protocols, seed=11):
    """The fake host on a WETH + three-stablecoin world at `PRICES` holding `protocols`,
    whose pools 'lp:a' and 'lp:b' fund in halves; gas costs 10 $ per trade (it matters only
    to the arbitrageurs some tests add)."""
    assets = [{"symbol": "WETH", "price": 2000.0}] + [
        {"symbol": s, "price": 1.0, "kind": "pegged"} for s in ("USDC", "DAI", "USDT")
    ]
    scenario = parse_scenario({"assets": assets, "protocols": protocols})
    world = build_world(scenario, list(PRICES.values()), ["lp:a", "lp:b"])
    return FakeHost(world, seed=seed, gas_usd=10.0)


def set_prices(world, **prices):
    world.set_prices([{**PRICES, **prices}[a] for a in world.assets])


def kinds(model):
    return [e["kind"] for e in model.events]


def v3_liquidity(pool, owner):
    """Summed liquidity of `owner`'s open positions, by range."""
    by_range = {}
    for position_id in pool.positions_of(owner):
        position = pool.position(position_id)
        band = (position.tick_lower, position.tick_upper)
        by_range[band] = by_range.get(band, 0.0) + position.liquidity
    return by_range


def test_flight_triggers_just_above_the_threshold_once_per_episode():
    model = host([V2])
    lp = LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    ledger, pool = model.world.ledger, model.world.pools["uni-v2"]
    held = ledger.balance_of("lp:a", pool.lp_token)
    # pool at 2000, WETH at 2000 / 1.149: pool price / reference - 1 = 14.9 %; the TVL per
    # LP token falls to (1 / 1.149 + 1) / 2 = 0.9352 of its peak, a 6.5 % drawdown: calm
    set_prices(model.world, WETH=2000.0 / 1.149)
    model.step()
    assert model.events == []
    assert lp.stress("uni-v2") == pytest.approx(0.149, rel=1e-12)
    # 15.1 % > 15 %: withdraw 30 % of the LP tokens
    set_prices(model.world, WETH=2000.0 / 1.151)
    model.step()
    (event,) = model.events
    assert event["kind"] == "lp_flight" and event["pool"] == "uni-v2"
    assert event["stress"] == pytest.approx(0.151, rel=1e-12)
    assert ledger.balance_of("lp:a", pool.lp_token) == pytest.approx(0.7 * held, rel=1e-15)
    # 30 % of lp:a's half of 2500 WETH / 5e6 USDC, valued at the reference prices
    assert event["value_usd"] == pytest.approx(0.15 * (2500 * 2000 / 1.151 + 5e6), rel=1e-12)
    assert ledger.balances_of("lp:a") == pytest.approx(
        {"WETH": 375.0, "USDC": 750_000.0, pool.lp_token: 0.7 * held}, rel=1e-12
    )
    # still stressed: no second flight
    set_prices(model.world, WETH=1500.0)
    model.step()
    assert kinds(model) == ["lp_flight"]
    assert ledger.balance_of("lp:a", pool.lp_token) == pytest.approx(0.7 * held, rel=1e-15)


def test_return_after_the_calm_steps_restores_the_liquidity():
    model = host([V2])
    LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    ledger, pool = model.world.ledger, model.world.pools["uni-v2"]
    held = ledger.balance_of("lp:a", pool.lp_token)
    set_prices(model.world, WETH=1600.0)
    model.step()
    assert kinds(model) == ["lp_flight"]
    set_prices(model.world, WETH=1990.0)  # 0.5 % off, TVL per share back within 0.25 %: calm
    for _ in range(4):
        model.step()
    assert kinds(model) == ["lp_flight"]
    model.step()  # the 5th calm step
    assert kinds(model) == ["lp_flight", "lp_return"]
    # no trade moved the pool, so the withdrawn tokens go back exactly at the pool's ratio
    assert ledger.balance_of("lp:a", pool.lp_token) == pytest.approx(held, rel=1e-12)
    assert ledger.balance_of("lp:a", "WETH") == pytest.approx(0.0, abs=1e-9)
    assert ledger.balance_of("lp:a", "USDC") == pytest.approx(0.0, abs=1e-6)
    assert model.events[1]["value_usd"] == pytest.approx(0.15 * (2500 * 1990 + 5e6), rel=1e-9)
    for _ in range(10):
        model.step()
    assert kinds(model) == ["lp_flight", "lp_return"]
    ledger.check_conservation()


def test_a_new_stress_resets_the_calm_count():
    model = host([V2])
    LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    for weth in (1600, 2000, 2000, 2000, 2000, 1600, 2000, 2000, 2000, 2000):
        set_prices(model.world, WETH=float(weth))
        model.step()
    assert kinds(model) == ["lp_flight"]  # 4 calm steps, stress, 4 calm steps
    model.step()
    assert kinds(model) == ["lp_flight", "lp_return"]


def test_own_withdrawal_is_not_stress_but_a_drain_is():
    model = host([V2])
    lp = LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    other = LiquidityProvider(model, "lp:b", **BEHAVIOUR)
    lp.withdraw_share("uni-v2", 1.0)
    other.withdraw_share("uni-v2", 0.5)  # 75 % of the pool gone, value per LP token unchanged
    assert lp.stress("uni-v2") == pytest.approx(0.0, abs=1e-12)
    # an exploit takes 20 % of both reserves: price unchanged, 20 % drawdown per LP token
    ledger, pool = model.world.ledger, model.world.pools["uni-v2"]
    for token, reserve in pool.reserves().items():
        ledger.transfer(token, "uni-v2", "exploiter", 0.2 * reserve)
    assert lp.stress("uni-v2") == pytest.approx(0.2, rel=1e-9)
    model.step()
    assert [(e["kind"], e["actor"]) for e in model.events] == [
        ("lp_withdrawal", "lp:a"),
        ("lp_withdrawal", "lp:b"),
        ("lp_flight", "lp:b"),  # lp:a holds nothing there any more
    ]


def test_a_pool_drained_of_a_token_is_unpriceable_and_cannot_be_left():
    model = host([V2])
    lp = LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    ledger, pool = model.world.ledger, model.world.pools["uni-v2"]
    ledger.transfer("USDC", "uni-v2", "exploiter", pool.reserves()["USDC"])
    assert lp.stress("uni-v2") == math.inf
    before = ledger.snapshot()["balances"]
    model.step()  # remove_liquidity would pay no USDC: refused, as on chain
    assert model.events == []
    assert ledger.snapshot()["balances"] == before


def test_curve_return_deposits_at_the_current_ratio():
    model = host([CURVE])
    LiquidityProvider(model, "lp:a", flight_drawdown=0.01, flight_share=0.5, return_after=2)
    world, pool = model.world, model.world.pools["3pool"]
    set_prices(world, DAI=0.97)  # USDC / DAI in the pool ~1, outside 1 / 0.97: 3.1 % off
    model.step()
    assert kinds(model) == ["lp_flight"]
    world.fund("trader", "DAI", 8e6)  # a trader dumps DAI: the pool is now DAI-heavy
    pool.swap_exact_in("trader", "DAI", "USDC", 4e6)
    pool.swap_exact_in("trader", "DAI", "USDT", 4e6)
    set_prices(world, DAI=0.998)  # pool and reference agree within 1 % again
    model.step()
    reserves = pool.reserves()
    wallet = world.ledger.balances_of("lp:a")
    model.step()  # the 2nd calm step: return
    assert kinds(model) == ["lp_flight", "lp_return"]
    deposit = {t: wallet[t] - world.ledger.balance_of("lp:a", t) for t in pool.tokens}
    shares = [deposit[t] / reserves[t] for t in pool.tokens]
    assert shares == pytest.approx([shares[0]] * 3, rel=1e-12)
    # DAI, of which the pool now holds most, limits the deposit; the other coins partly stay
    assert world.ledger.balance_of("lp:a", "DAI") == pytest.approx(0.0, abs=1e-6)
    assert world.ledger.balance_of("lp:a", "USDC") > 0.1 * wallet["USDC"]


def test_a_drained_v3_pool_is_left_at_most_once_per_episode():
    # 99 % of the pool's tokens stolen: the drawdown triggers flight; the burns succeed but
    # the pool cannot pay the collect, so the tokens stay owed and no second burn follows.
    model = host([V3])
    LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    ledger, pool = model.world.ledger, model.world.pools["uni-v3"]
    before, wallet = v3_liquidity(pool, "lp:a"), ledger.balances_of("lp:a")
    for token, reserve in pool.reserves().items():
        ledger.transfer(token, "uni-v3", "exploiter", 0.99 * reserve)
    for _ in range(3):
        model.step()
    assert model.events == []
    assert v3_liquidity(pool, "lp:a") == pytest.approx(
        {band: 0.7 * liq for band, liq in before.items()}, rel=1e-12
    )
    assert ledger.balances_of("lp:a") == wallet  # what build_world's ranges did not take
    ledger.check_conservation()


@pytest.mark.parametrize("spec", [V2, CURVE])
def test_withdraw_share_moves_exactly_the_fraction_v2_curve(spec):
    model = host([spec])
    lp = LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    ledger, pool = model.world.ledger, model.world.pools[spec["name"]]
    held, supply = ledger.balance_of("lp:a", pool.lp_token), ledger.total_supply(pool.lp_token)
    reserves = pool.reserves()
    received = lp.withdraw_share(spec["name"], 0.25)
    assert ledger.balance_of("lp:a", pool.lp_token) == pytest.approx(0.75 * held, rel=1e-15)
    for token, reserve in reserves.items():
        assert received[token] == pytest.approx(0.25 * held / supply * reserve, rel=1e-12)
        assert ledger.balance_of("lp:a", token) == pytest.approx(received[token], rel=1e-12)
    (event,) = model.events
    assert event["kind"] == "lp_withdrawal" and event["fraction"] == 0.25


def test_withdraw_share_moves_exactly_the_fraction_v3():
    model = host([V3])
    lp = LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    pool = model.world.pools["uni-v3"]
    before = v3_liquidity(pool, "lp:a")
    assert len(before) == 2  # the scenario's two default bands
    expected = [0.0, 0.0]
    for position_id in pool.positions_of("lp:a"):
        value = pool.position_value(position_id)  # no swaps yet: no fees
        expected = [e + 0.4 * v for e, v in zip(expected, value, strict=True)]
    received = lp.withdraw_share("uni-v3", 0.4)
    after = v3_liquidity(pool, "lp:a")
    assert after == pytest.approx({band: 0.6 * liq for band, liq in before.items()}, rel=1e-12)
    assert [received["WETH"], received["USDC"]] == pytest.approx(expected, rel=1e-12)
    lp.withdraw_share("uni-v3", 1.0)
    assert v3_liquidity(pool, "lp:a") == {}


def test_v3_flight_and_return_into_the_same_ranges():
    model = host([V3])
    LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    pool = model.world.pools["uni-v3"]
    before = v3_liquidity(pool, "lp:a")
    set_prices(model.world, WETH=1700.0)
    model.step()
    assert kinds(model) == ["lp_flight"]
    assert v3_liquidity(pool, "lp:a") == pytest.approx(
        {band: 0.7 * liq for band, liq in before.items()}, rel=1e-12
    )
    set_prices(model.world, WETH=2000.0)
    for _ in range(5):
        model.step()
    assert kinds(model) == ["lp_flight", "lp_return"]
    # same price as when it left: the same tokens buy back the same liquidity per band
    assert v3_liquidity(pool, "lp:a") == pytest.approx(before, rel=1e-9)
    model.world.ledger.check_conservation()


def test_markets_with_arbitrageurs_keep_the_books():
    model = host([V2, V3, CURVE], seed=4)
    Arbitrageur.create_agents(model, 2, capital_usd=20e6, gas_units=150_000)
    lps = [LiquidityProvider(model, h, 0.05, 0.5, 3) for h in ("lp:a", "lp:b")]
    rng, weth = model.rng, 2000.0
    for step in range(80):
        weth *= float(rng.lognormal(-0.002 if step < 40 else 0.004, 0.02))
        pegs = 1.0 + rng.normal(0.0, 0.001, 3)
        set_prices(model.world, WETH=weth, USDC=pegs[0], DAI=pegs[1], USDT=pegs[2])
        model.step()
        model.world.ledger.check_conservation()
        for lp in lps:
            assert min(model.world.ledger.balances_of(lp.holder).values(), default=0.0) >= 0
    assert {"arbitrage", "lp_flight", "lp_return"} <= set(kinds(model))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({**BEHAVIOUR, "flight_share": 1.5}, "flight_share"),
        ({**BEHAVIOUR, "flight_drawdown": -0.1}, "flight_drawdown"),
        ({**BEHAVIOUR, "return_after": float("inf")}, "return_after"),
    ],
)
def test_bad_arguments_are_refused(kwargs, name):
    model = host([V2])
    with pytest.raises(InvalidAmount, match=name):
        LiquidityProvider(model, "lp:a", **kwargs)
    assert len(model.agents) == 0


def test_bad_withdrawals_are_refused_and_change_nothing():
    model = host([V2])
    lp = LiquidityProvider(model, "lp:a", **BEHAVIOUR)
    before = model.world.ledger.snapshot()["balances"]
    with pytest.raises(InvalidAmount, match="fraction"):
        lp.withdraw_share("uni-v2", 1.5)
    with pytest.raises(InvalidAmount, match="pool_name"):
        lp.withdraw_share("nope", 0.5)
    assert model.world.ledger.snapshot()["balances"] == before
    assert lp.withdraw_share("uni-v2", 0.0) == {}
    assert model.events == []
