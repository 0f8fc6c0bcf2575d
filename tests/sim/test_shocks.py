"""The exploit shock with `take`: what draining one side does to each kind of pool (hand-
checked prices, later quotes and swaps on the new state), the event it records, the checks
that refuse a `take` the protocol cannot give, and a whole run whose pool price column moves
at the exploit's step."""

import math

import pytest

from protocols import names
from protocols.amm import (
    ConcentratedLiquidityPool,
    ConstantProductPool,
    StableSwapPool,
    get_amount_out,
    get_dy,
    marginal_price,
)
from protocols.errors import ConfigError, InsufficientLiquidity
from protocols.ledger import Ledger
from protocols.world import World
from sim.scenario import load_scenario, parse_scenario
from sim.shocks import ExploitEffect, drain
from spec import Exploit

GOV, ETH = 1_000_000.0, 1_000.0  # x GOV and y ETH in the v2 pool: GOV at 1e-3 ETH


def world_with(*tokens: str) -> World:
    ledger = Ledger()
    for token in tokens:
        ledger.create_token(token, issuer="mint")
        ledger.mint(token, "lp", 1e12, by="mint")
        ledger.mint(token, "trader", 1e12, by="mint")
    return World(ledger=ledger, assets=tokens, reference={})


def v2_world() -> tuple[World, ConstantProductPool]:
    world = world_with("GOV", "ETH")
    pool = ConstantProductPool(world.ledger, "gov-eth", "GOV", "ETH", 0.003)
    pool.add_liquidity("lp", {"GOV": GOV, "ETH": ETH})
    world.pools["gov-eth"] = pool
    return world, pool


def exploit(**fields) -> Exploit:
    return Exploit(kind="exploit", step=3, protocol="gov-eth", fraction=0.5, **fields)


# -- constant product: the price follows the reserves -----------------------------------------
def test_draining_half_the_eth_side_halves_gov_price_in_a_v2_pool():
    # Spot price of GOV = y/x = 1000/1e6 = 1e-3 ETH; after 50 % of the ETH leaves,
    # (y/2)/x = 500/1e6 = 5e-4 ETH: half. GOV is untouched.
    world, pool = v2_world()
    assert pool.spot_price("GOV", "ETH") == pytest.approx(1e-3, rel=1e-15)
    taken = drain(world, "gov-eth", 0.5, ["ETH"])
    assert taken == {"ETH": 500.0}
    assert pool.reserves() == {"GOV": GOV, "ETH": 500.0}
    assert pool.spot_price("GOV", "ETH") == pytest.approx(5e-4, rel=1e-15)
    assert world.ledger.balance_of(names.EXPLOITER, "ETH") == 500.0
    # Later swaps price on the drained reserves: selling 1,000 GOV pays
    # 500 * 997 / (1e6 + 997) = 0.498003... ETH (v2's getAmountOut with k = 1e6 * 500).
    paid = pool.swap_exact_in("trader", "GOV", "ETH", 1_000.0)
    assert paid == pytest.approx(500 * 997 / (1e6 + 997), rel=1e-13)
    assert paid == pytest.approx(get_amount_out(1_000.0, GOV, 500.0, 0.003), rel=1e-15)
    world.ledger.check_conservation()


def test_without_take_every_token_goes_in_proportion_and_the_price_stays():
    # 30 % of both reserves: 300,000 GOV and 300 ETH leave; y/x is still 700/700,000 = 1e-3.
    world, pool = v2_world()
    taken = drain(world, "gov-eth", 0.3)
    assert taken == {"GOV": pytest.approx(300_000.0), "ETH": pytest.approx(300.0)}
    assert pool.spot_price("GOV", "ETH") == pytest.approx(1e-3, rel=1e-12)


def test_the_shock_event_records_only_the_taken_tokens():
    world, _ = v2_world()
    events = []
    effect = ExploitEffect(exploit(take=["ETH"]))
    for step in (2, 3, 4):  # fires at its own step only
        effect.fire(step, world, lambda kind, **f: events.append((kind, f)), [])
    assert events == [("shock", {"shock": "exploit", "node": "gov-eth", "amounts": {"ETH": 500.0}})]


# -- StableSwap: the invariant is recomputed from the ledger ----------------------------------
def test_draining_one_coin_of_a_curve_pool_makes_it_dear_there():
    # 2-coin pool at 1e6/1e6, A = 100: balanced, so each coin trades at 1. Half the USDC
    # leaves: 5e5 USDC vs 1e6 DAI, the scarce USDC now costs more than 1 DAI, exactly the
    # StableSwap marginal price at the new balances; a swap pays get_dy on them.
    world = world_with("USDC", "DAI")
    pool = StableSwapPool(world.ledger, "crv", ("USDC", "DAI"), 100.0, fee=0.0004)
    pool.add_liquidity("lp", {"USDC": 1e6, "DAI": 1e6})
    world.pools["crv"] = pool
    assert pool.spot_price("USDC", "DAI") == pytest.approx(1.0, rel=1e-12)
    assert drain(world, "crv", 0.5, ["USDC"]) == {"USDC": 5e5}
    after = [5e5, 1e6]
    price = pool.spot_price("USDC", "DAI")
    assert price == pytest.approx(marginal_price(0, 1, after, 100.0), rel=1e-12)
    assert 1.0 < price < 2.0  # dearer, yet far below the constant-product 1e6/5e5 = 2
    out = pool.swap_exact_in("trader", "DAI", "USDC", 1_000.0)
    assert out == pytest.approx(get_dy(1, 0, 1_000.0, after, 100.0, 0.0004), rel=1e-12)
    world.ledger.check_conservation()


# -- concentrated liquidity: the price is the pool's state, the balance only pays ------------
def test_draining_one_side_of_a_v3_pool_leaves_its_price_and_refuses_what_it_cannot_pay():
    world = world_with("WETH", "USDC")
    pool = ConcentratedLiquidityPool(world.ledger, "v3", "WETH", "USDC", 0.003, 60,
                                     math.sqrt(2000.0))
    pool.mint("lp", -887220, 887220, 1e5)  # full range: ~2,236 WETH and ~4.47M USDC
    world.pools["v3"] = pool
    price, usdc = pool.spot_price("WETH", "USDC"), pool.reserves()["USDC"]
    drain(world, "v3", 0.5, ["USDC"])
    left = pool.reserves()["USDC"]
    assert left == pytest.approx(usdc / 2, rel=1e-15)
    assert pool.spot_price("WETH", "USDC") == price  # slot0 does not read balances
    # Full range, L = 1e5 at sqrt price 44.72: x = L/sqrtP = 2,236 WETH, y = L*sqrtP = 4.47M
    # USDC, 2.24M of it left. Selling a WETH pays y - L^2/(x + 0.997a): for a = 3,000 that
    # is 4.47M - 1e10/5,227 = 2.56M > 2.24M, which the quote and the swap alike refuse
    # (as the contract's transfer would revert); for a = 1 it is ~0.997 * 2,000.
    with pytest.raises(InsufficientLiquidity, match="cannot pay"):
        pool.quote_exact_in("WETH", "USDC", 3_000.0)
    with pytest.raises(InsufficientLiquidity, match="cannot pay"):
        pool.swap_exact_in("trader", "WETH", "USDC", 3_000.0)
    with pytest.raises(InsufficientLiquidity, match="cannot pay"):
        pool.quote_exact_out("WETH", "USDC", left * 1.01)
    # The small sale still fills on the unchanged curve, exactly as quoted.
    quoted = pool.quote_exact_in("WETH", "USDC", 1.0)
    assert quoted == pytest.approx(0.997 * 2000.0, rel=1e-3)
    assert pool.swap_exact_in("trader", "WETH", "USDC", 1.0) == quoted
    world.ledger.check_conservation()


# -- checks ------------------------------------------------------------------------------------
ASSETS = [
    {"symbol": "ETH", "price": 2000.0, "sigma": 0.0},
    {"symbol": "GOV", "price": 5.0, "sigma": 0.0},
    {"symbol": "USDC", "price": 1.0, "kind": "pegged"},
]
PROTOCOLS = [
    {"kind": "uniswap_v2", "name": "gov-eth", "tokens": ["GOV", "ETH"]},
    {"kind": "uniswap_v3", "name": "v3", "tokens": ["ETH", "USDC"]},
    {"kind": "aave", "name": "aave", "reserves": {"ETH": {}, "USDC": {}}},
    {"kind": "option_vault", "name": "vault", "underlying": "ETH", "quote": "USDC"},
]


def problems(**shock) -> list[str]:
    raw = {"assets": ASSETS, "protocols": PROTOCOLS,
           "shocks": [{"kind": "exploit", "step": 1, "fraction": 0.5} | shock]}
    with pytest.raises(ConfigError) as info:
        parse_scenario(raw)
    return [line.strip() for line in str(info.value).splitlines()[1:]]


@pytest.mark.parametrize(
    ("shock", "expected"),
    [
        ({"protocol": "gov-eth", "take": ["USDC"]},
         "shocks[0].take[0]: gov-eth holds no 'USDC' (it holds GOV, ETH)"),
        ({"protocol": "gov-eth", "take": ["ETH", "WBTC"]},
         "shocks[0].take[1]: gov-eth holds no 'WBTC' (it holds GOV, ETH)"),
        ({"protocol": "gov-eth", "take": ["ETH", "ETH"]}, "shocks[0].take[1]: 'ETH' is listed twice"),
        ({"protocol": "gov-eth", "take": []}, "shocks[0].take: list should have at least 1 item"),
        ({"protocol": "gov-eth", "take": "ETH"}, "shocks[0].take: must be a list, got 'ETH'"),
        ({"protocol": "gov-eth", "take": [3]}, "shocks[0].take[0]: must be text, got 3"),
        ({"protocol": "aave", "take": ["GOV"]}, "shocks[0].take[0]: aave holds no 'GOV' (it holds ETH, USDC)"),
        # a call vault holds its underlying only
        ({"protocol": "vault", "take": ["USDC"]}, "shocks[0].take[0]: vault holds no 'USDC' (it holds ETH)"),
        # an emptied v2 side has no price (reserve 0): refused, with or without take
        ({"protocol": "gov-eth", "fraction": 1.0, "take": ["ETH"]},
         "shocks[0].fraction: 1 would leave pool gov-eth without ETH, and then it has no price"),
        ({"protocol": "gov-eth", "fraction": 1.0},
         "shocks[0].fraction: 1 would leave pool gov-eth without GOV, ETH"),
    ],
)
def test_a_take_the_protocol_cannot_give_is_refused_naming_the_field(shock, expected):
    found = problems(**shock)
    assert any(line.startswith(expected) for line in found), found


def test_takes_every_protocol_kind_can_give_are_accepted():
    for protocol, take, fraction in [("gov-eth", ["ETH"], 0.99), ("v3", ["USDC"], 1.0),
                                     ("aave", ["USDC", "ETH"], 0.5), ("vault", ["ETH"], 1.0)]:
        raw = {"assets": ASSETS, "protocols": PROTOCOLS, "shocks": [
            {"kind": "exploit", "step": 1, "protocol": protocol, "fraction": fraction,
             "take": take}]}
        assert parse_scenario(raw).shocks[0].take == take


# -- a whole run -------------------------------------------------------------------------------
DRAIN_TOML = """
name = "drain-one-side"
seed = 1
steps = 6

[gas]
base_gwei = 1.0
vol = 0.0
vol_sensitivity = 0.0

[[assets]]
symbol = "ETH"
price = 2000.0
sigma = 0.0

[[assets]]
symbol = "GOV"
price = 5.0
sigma = 0.0

[[protocols]]
kind = "uniswap_v2"
name = "gov-eth"
tokens = ["GOV", "ETH"]
tvl_usd = 10e6

# Nobody trades the pool back: the column shows the drain itself.
[agents.arbitrageurs]
count = 0
[agents.liquidators]
count = 0
[agents.liquidity_providers]
count = 0

[[shocks]]
kind = "exploit"
step = 4
protocol = "gov-eth"
fraction = 0.5
take = ["ETH"]
"""


def test_a_one_sided_exploit_moves_the_pool_price_column_at_its_step(tmp_path):
    # Flat prices (sigma 0), GOV at $5: the pool opens at GOV = 5/2000 ETH, so its
    # `pool_price` column (GOV's pool price in USD) reads 5. Draining half its ETH halves it
    # at step 4 - (y/2)/x * 2000 = 2.5 - and, with no one trading, it stays there; the
    # reference price of GOV does not move (nothing trades off-chain).
    from sim.model import TreasuryModel

    path = tmp_path / "drain.toml"
    path.write_text(DRAIN_TOML)
    model = TreasuryModel(load_scenario(path))
    model.run()
    ts = model.timeseries().set_index("step")
    column = ts["pool_price:gov-eth"]
    assert column.loc[1:3].tolist() == pytest.approx([5.0] * 3, rel=1e-12)
    assert column.loc[4:6].tolist() == pytest.approx([2.5] * 3, rel=1e-12)
    assert ts["price:GOV"].tolist() == pytest.approx([5.0] * len(ts), rel=1e-12)
    shock = next(e for e in model.events if e.get("shock") == "exploit")
    # $10M TVL, half of it ETH: 5e6 / 2000 = 2,500 ETH in the pool, half of it taken
    assert shock["step"] == 4 and shock["amounts"] == {"ETH": pytest.approx(1_250.0, rel=1e-12)}
    model.world.ledger.check_conservation()
