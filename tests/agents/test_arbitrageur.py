"""Arbitrageur agents on a world built by `sim.assembly.build_world`: funding, closing a v2 gap
to the fee band in one step, the gas threshold, capping to holdings, competition, and the
books balancing over random price paths."""


import pytest

from agents.arbitrageur import Arbitrageur
from agents.trading import best_arbitrage
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


def host(protocols, gas_usd=0.0, seed=7):
    """The fake host on a WETH + three-stablecoin world at `PRICES` holding `protocols`,
    whose pools 'lp:0' funds; gas costs `gas_usd` per trade."""
    assets = [{"symbol": "WETH", "price": 2000.0}] + [
        {"symbol": s, "price": 1.0, "kind": "pegged"} for s in ("USDC", "DAI", "USDT")
    ]
    scenario = parse_scenario({"assets": assets, "protocols": protocols})
    world = build_world(scenario, list(PRICES.values()), ["lp:0"])
    return FakeHost(world, seed=seed, gas_usd=gas_usd)


def set_prices(world, **prices):
    world.set_prices([{**PRICES, **prices}[a] for a in world.assets])


def balances(world):
    return world.ledger.snapshot()["balances"]


def test_capital_is_split_equally_in_usd_across_assets():
    model = host([V2])
    arb = Arbitrageur(model, capital_usd=4e6, gas_units=150_000)
    assert arb.holder == f"arb:{arb.unique_id}"
    # 4e6 USD over 4 assets = 1e6 USD each: 500 WETH at 2000, 1e6 of each stablecoin
    assert model.world.ledger.balances_of(arb.holder) == {
        "WETH": 500.0,
        "USDC": 1e6,
        "DAI": 1e6,
        "USDT": 1e6,
    }


def test_one_step_closes_the_v2_and_v3_gaps_to_the_fee_band():
    model = host([V2, V3])
    Arbitrageur(model, capital_usd=40e6, gas_units=150_000)
    set_prices(model.world, WETH=1800.0)  # pools still at 2000: 11 % too high
    model.step()
    prices = {a: model.world.usd(a) for a in model.world.assets}
    gaps = {n: p.spot_price("WETH", "USDC") / 1800.0 - 1 for n, p in model.world.pools.items()}
    # both within the fee band: pool / reference - 1 <= 1 / 0.997 - 1 = 0.3009 % (up to the
    # 1e-7 relative precision of the v3 trade size, which stops on the paying side)
    assert all(0 < gap <= 0.003 / 0.997 + 1e-8 for gap in gaps.values())
    # v3 stops at the band's edge, where 0.997 * marginal price = 1800
    assert gaps["uni-v3"] == pytest.approx(0.003 / 0.997, abs=1e-8)
    # v2 keeps the fee in the reserves: with x = 2500 (sqrt(0.997 * 2000 / 1800) - 1) / 0.997
    # = 131.63 WETH sold, spot / 1800 = (2500 + 0.997 x) / (0.997 (2500 + x)) = 1.0028585
    x = 2500 * ((0.997 * 2000 / 1800) ** 0.5 - 1) / 0.997
    assert gaps["uni-v2"] == pytest.approx((2500 + 0.997 * x) / (0.997 * (2500 + x)) - 1, rel=1e-9)
    assert gaps["uni-v2"] == pytest.approx(0.0028585, abs=1e-7)
    assert all(best_arbitrage(pool, prices) is None for pool in model.world.pools.values())
    assert len(model.events) == 2
    assert {e["pool"] for e in model.events} == {"uni-v2", "uni-v3"}
    for event in model.events:
        assert event["kind"] == "arbitrage"
        assert event["token_in"] == "WETH" and event["profit_usd"] > 0
    model.world.ledger.check_conservation()


def test_the_v2_trade_is_the_closed_form_optimum():
    # 2500 WETH / 5e6 USDC, WETH at 1900 outside: x* = 2500 (sqrt(0.997 * 2000 / 1900) - 1)
    # / 0.997 = 61.2794097211 WETH sold (cf. the 1000-WETH pool of test_trading, scaled 2.5x).
    model = host([V2])
    arb = Arbitrageur(model, capital_usd=4e6, gas_units=150_000)
    set_prices(model.world, WETH=1900.0)
    model.step()
    (event,) = model.events
    assert event["amount_in"] == pytest.approx(2.5 * 24.51176388845415, rel=1e-12)
    assert event["profit_usd"] == pytest.approx(2.5 * 1138.145769511444, rel=1e-9)
    # The hedge on the off-chain market buys the WETH back at 1900: the inventory is
    # restored and the profit is kept in WETH.
    assert model.world.ledger.balance_of(arb.holder, "WETH") == pytest.approx(
        500.0 + event["profit_usd"] / 1900.0, rel=1e-12
    )
    assert model.world.ledger.balance_of(arb.holder, "USDC") == pytest.approx(1e6, rel=1e-15)


def test_nothing_happens_when_profit_is_below_gas():
    model = host([V2])
    Arbitrageur(model, capital_usd=4e6, gas_units=150_000)
    set_prices(model.world, WETH=1990.0)
    profit = best_arbitrage(model.world.pools["uni-v2"], {"WETH": 1990.0, "USDC": 1.0}).profit_usd
    assert 0 < profit < 100  # a 0.5 % gap on a 10M pool: a small prize
    model.gas_usd = profit * 1.001
    before = balances(model.world)
    model.step()
    assert model.events == []
    assert balances(model.world) == before
    model.gas_usd = profit * 0.999
    model.step()
    assert len(model.events) == 1
    assert model.events[0]["gas_usd"] == model.gas_usd


def test_trades_are_capped_to_holdings():
    model = host([V2])
    arb = Arbitrageur(model, capital_usd=80_000.0, gas_units=150_000)  # holds 10 WETH
    set_prices(model.world, WETH=1800.0)
    model.step()
    (event,) = model.events
    assert event["amount_in"] == 10.0
    # 10 WETH into 2500 / 5e6: out = 5e6 * 9.97 / 2509.97 = 19860.796 USDC, worth 1800 more
    assert event["amount_out"] == pytest.approx(5e6 * 9.97 / 2509.97, rel=1e-12)
    assert event["profit_usd"] == pytest.approx(5e6 * 9.97 / 2509.97 - 18000.0, rel=1e-9)
    # Hedged off-chain: the USDC bought WETH back at 1800, so it holds 19860.796 / 1800.
    held = model.world.ledger.balance_of(arb.holder, "WETH")
    assert held == pytest.approx(5e6 * 9.97 / 2509.97 / 1800.0, rel=1e-12)
    model.step()  # the next step it sells its (restored) inventory again, still capped
    assert len(model.events) == 2 and model.events[1]["amount_in"] == pytest.approx(held)


def test_competitors_the_first_to_act_takes_the_opportunity():
    model = host([V2, V3, CURVE], seed=3)
    Arbitrageur.create_agents(model, 3, capital_usd=40e6, gas_units=150_000)
    set_prices(model.world, WETH=1800.0)
    model.step()
    by_pool = {}
    for event in model.events:
        by_pool.setdefault(event["pool"], []).append(event["actor"])
    assert set(by_pool) == {"uni-v2", "uni-v3"}
    assert all(len(agents) == 1 for agents in by_pool.values())


def test_same_seed_same_events():
    def run(seed):
        model = host([V2, V3, CURVE], seed=seed)
        Arbitrageur.create_agents(model, 2, capital_usd=10e6, gas_units=150_000)
        for step in range(20):
            weth = 2000.0 * (1 + 0.03 * ((step * 7) % 5 - 2))
            set_prices(model.world, WETH=weth, DAI=1.0 + 0.001 * (step % 3 - 1))
            model.step()
        return model.events

    assert run(5) == run(5)
    assert len(run(5)) > 20


def test_random_price_paths_keep_the_books():
    model = host([V2, V3, CURVE], gas_usd=20.0)
    arbs = Arbitrageur.create_agents(model, 2, capital_usd=5e6, gas_units=150_000)
    rng = model.rng
    weth = 2000.0
    for _ in range(60):
        weth *= float(rng.lognormal(0.0, 0.03))
        pegs = 1.0 + rng.normal(0.0, 0.002, 3)
        set_prices(model.world, WETH=weth, USDC=pegs[0], DAI=pegs[1], USDT=pegs[2])
        model.step()
        model.world.ledger.check_conservation()
        for arb in arbs:
            assert min(model.world.ledger.balances_of(arb.holder).values(), default=0.0) >= 0
    assert all(e["profit_usd"] > 20.0 for e in model.events)
    assert {e["pool"] for e in model.events} == {"uni-v2", "uni-v3", "3pool"}


@pytest.mark.parametrize(
    "kwargs, name",
    [({"capital_usd": -1.0, "gas_units": 1}, "capital_usd"), ({"capital_usd": 1.0, "gas_units": float("nan")}, "gas_units")],
)
def test_bad_arguments_are_refused_and_change_nothing(kwargs, name):
    model = host([V2])
    before = balances(model.world)
    with pytest.raises(InvalidAmount, match=name):
        Arbitrageur(model, **kwargs)
    assert balances(model.world) == before
    assert len(model.agents) == 0
