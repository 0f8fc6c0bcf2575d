"""A bridge in a run: its wrapped asset listed by a pool and a lending market, an exploit
that halves the backing repricing it everywhere, a bridged-collateral liquidation, the
dependency graph's edges, distress and origin at the bridge, and named config errors."""

import copy
from pathlib import Path

import pytest

from protocols import names
from protocols.errors import ConfigError
from sim.assembly import build_world
from sim.graph import dependency_graph
from sim.model import TreasuryModel
from sim.runner import release
from sim.scenario import load_scenario, parse_scenario
from sim.shocks import ExploitEffect
from spec import Exploit

#: ETH flat at $2,000 (sigma 0), madWETH bridged by "nomad", a v2 madWETH/USDC pool and a
#: market lending USDC against madWETH (LT 0.7, bonus 8 %).
RAW = {
    "name": "bridge_test", "seed": 3, "steps": 8, "step_hours": 1.0,
    "market": {"process": "gbm", "correlation": 0.0},
    "assets": [
        {"symbol": "ETH", "price": 2000.0, "sigma": 0.0},
        {"symbol": "USDC", "kind": "pegged", "price": 1.0, "peg_noise": 0.0},
    ],
    "protocols": [
        {"kind": "bridge", "name": "nomad", "canonical": "ETH", "wrapped": "madWETH",
         "delay_steps": 1},
        {"kind": "uniswap_v2", "name": "pool", "tokens": ["madWETH", "USDC"], "tvl_usd": 10e6},
        {"kind": "aave", "name": "moonwell", "reserves": {
            "madWETH": {"ltv": 0.6, "liquidation_threshold": 0.7, "liquidation_bonus": 0.08,
                        "borrowable": False},
            "USDC": {"initial_supply": 1e6}}},
    ],
    "agents": {"liquidity_providers": {"count": 1, "flight_drawdown": 0.99}},
    "shocks": [{"kind": "exploit", "step": 3, "protocol": "nomad", "fraction": 0.5}],
}


def scenario(**changes):
    raw = copy.deepcopy(RAW)
    for key, value in changes.items():
        raw[key] = value
    return parse_scenario(raw)


def world_with_position():
    """The world at step 0 and a position: 10 madWETH posted, 10,000 USDC borrowed."""
    world = build_world(scenario(shocks=[]), [2000.0, 1.0], ["lp:0"])
    market = world.markets["moonwell"]
    world.fund("bob", "madWETH", 10.0)
    pid = market.open_position("bob")
    market.deposit_collateral(pid, "madWETH", 10.0)
    market.borrow(pid, "USDC", 10_000.0)
    return world, market, pid


def exploit_half(world, step=1):
    events = []
    shock = Exploit(kind="exploit", step=step, protocol="nomad", fraction=0.5)
    ExploitEffect(shock).fire(step, world, lambda kind, **f: events.append((kind, f)), [])
    world.update_oracles(step)
    return events


def test_half_the_backing_drained_prices_the_wrapped_asset_at_half_the_canonical():
    world, _, _ = world_with_position()
    bridge = world.bridges["nomad"]
    locked = bridge.locked_amount
    assert bridge.backing == pytest.approx(1.0)
    assert world.usd("madWETH") == pytest.approx(2000.0)
    events = exploit_half(world)
    assert bridge.backing == pytest.approx(0.5)
    assert world.usd("madWETH") == pytest.approx(1000.0)  # 0.5 x $2,000
    assert world.ledger.balance_of(names.EXPLOITER, "ETH") == pytest.approx(locked / 2)
    assert events[0][1]["node"] == "nomad" and events[0][1]["amounts"] == {
        "ETH": pytest.approx(locked / 2)}
    assert bridge.paused
    assert world.oracles["moonwell"]["madWETH"].price == pytest.approx(1000.0)


def test_in_a_run_the_pool_is_arbitraged_to_the_backing_and_the_loss_reaches_the_market():
    model = TreasuryModel(scenario())
    try:
        model.run()
        ts = model.timeseries().set_index("step")
        assert ts.loc[2, "backing:nomad"] == pytest.approx(1.0)
        assert ts.loc[2, "price:madWETH"] == pytest.approx(2000.0)
        assert ts.loc[3, "backing:nomad"] == pytest.approx(0.5)
        assert ts.loc[3, "price:madWETH"] == pytest.approx(1000.0)
        # arbitrage brings the pool inside its 0.3 % fee band around $1,000 the same step
        assert ts.loc[3, "pool_price:pool"] == pytest.approx(1000.0, rel=0.004)
        # the LPs hold the loss: the pool was worth $10M; at $1,000 a v2 pool re-balanced by
        # arbitrage holds sqrt(1/2) of its value: 10M x sqrt(0.5) = $7.07M
        assert ts.loc[2, "pool_tvl_usd:pool"] == pytest.approx(10e6, rel=1e-3)
        assert ts.loc[3, "pool_tvl_usd:pool"] == pytest.approx(10e6 * 0.5 ** 0.5, rel=5e-3)
        assert "nomad" in model.cascade.origins
        distress = [e for e in model.events if e["kind"] == "distress"]
        assert {(e["node"], e["cause"]) for e in distress} >= {("nomad", "backing")}
    finally:
        release(model)


def test_a_bridged_collateral_position_is_liquidated_when_the_backing_halves():
    world, market, pid = world_with_position()
    # HF = 10 madWETH x $2,000 x 0.7 / $10,000 = 1.4
    assert market.health_factor_of(pid) == pytest.approx(1.4)
    exploit_half(world)
    # HF = 10 x $1,000 x 0.7 / $10,000 = 0.7: below 0.95, so the whole debt may be covered
    assert market.health_factor_of(pid) == pytest.approx(0.7)
    world.fund("liq", "USDC", 20_000.0)
    result = market.liquidate("liq", pid, "madWETH", "USDC", 10_000.0)
    # covering $10,000 would take $10,800 of collateral; only $10,000 is there, so all
    # 10 madWETH go for 10,000 / 1.08 = 9,259.26 USDC and the remaining 740.74 is bad debt
    assert result.collateral_seized == pytest.approx(10.0)
    # the protocol's 10 % of the bonus part: 0.1 x (10 - 10 / 1.08) madWETH
    assert result.protocol_fee == pytest.approx(0.1 * (10.0 - 10.0 / 1.08))
    assert result.debt_repaid == pytest.approx(10_000.0 / 1.08)
    assert result.bad_debt["USDC"] == pytest.approx(10_000.0 - 10_000.0 / 1.08)
    assert market.debt_of(pid).sum() == pytest.approx(0.0, abs=1e-9)


def test_the_graph_has_the_bridge_between_the_canonical_issuer_and_what_lists_its_token():
    world, _, _ = world_with_position()
    graph = dependency_graph(world)
    bridge = world.bridges["nomad"]
    assert graph.nodes["nomad"]["kind"] == "bridge"
    assert graph.nodes["nomad"]["value_usd"] == pytest.approx(bridge.locked_amount * 2000.0)
    # the lock is the bridge's exposure to ETH
    assert graph.edges["issuer:ETH", "nomad"]["holdings_usd"] == pytest.approx(
        bridge.locked_amount * 2000.0)
    # the pool holds half its $10M in madWETH; the market holds bob's 10 madWETH as collateral
    assert graph.edges["nomad", "pool"]["holdings_usd"] == pytest.approx(5e6, rel=1e-6)
    assert graph.edges["nomad", "moonwell"]["collateral_usd"] == pytest.approx(20_000.0)
    assert graph.edges["pool", "moonwell"]["liquidity_usd"] == pytest.approx(20_000.0)
    assert not graph.has_edge("issuer:madWETH", "pool")  # no outside issuer of it


def test_a_wrapped_asset_can_be_held_by_the_treasury_and_is_in_its_book():
    model = TreasuryModel(scenario(treasury={"holdings": {"madWETH": 5.0, "USDC": 1e5}}))
    try:
        assert model.allocator.book.values_usd["madWETH"] == pytest.approx(10_000.0)
        model.run()
        assert model.allocator.book.values_usd["madWETH"] == pytest.approx(5_000.0)
    finally:
        release(model)


def bridge_with(**fields):
    return [{**RAW["protocols"][0], **fields}, *RAW["protocols"][1:]]


@pytest.mark.parametrize(("changes", "message"), [
    ({"protocols": bridge_with(canonical="XYZ")}, "protocols[0].canonical: unknown asset 'XYZ'"),
    ({"protocols": bridge_with(delay_steps=-1)}, "protocols[0].delay_steps: must be >= 0"),
    ({"protocols": bridge_with(wrapped="USDC")},
     "protocols[0].wrapped: 'USDC' is already an asset"),
    ({"protocols": bridge_with(wrapped="ETH")}, "protocols[0].wrapped: must differ"),
    ({"shocks": [{"kind": "exploit", "step": 3, "protocol": "nomad", "fraction": 1.5}]},
     "shocks[0].fraction: must be <= 1"),
    ({"shocks": [{"kind": "crash", "step": 3, "asset": "madWETH", "size": 0.5}]},
     "shocks[0].asset: 'madWETH' is a bridge's wrapped asset"),
    ({"shocks": [{"kind": "exploit", "step": 3, "protocol": "nomad", "fraction": 0.5,
                  "take": ["USDC"]}]}, "shocks[0].take[0]: nomad holds no 'USDC'"),
])
def test_bad_bridge_config_is_named(changes, message):
    with pytest.raises(ConfigError) as error:
        scenario(**changes)
    assert message in str(error.value)


def test_a_borrowable_wrapped_reserve_is_refused():
    protocols = copy.deepcopy(RAW["protocols"])
    protocols[2]["reserves"]["madWETH"]["borrowable"] = True
    with pytest.raises(ConfigError, match=r"protocols\[2\].reserves.madWETH.borrowable"):
        scenario(protocols=protocols)


def test_the_nomad_scenario_carries_the_loss_from_the_bridge_to_the_market_and_the_pool():
    path = Path(__file__).resolve().parents[2] / "experiments/scenarios/nomad_bridge_2022.toml"
    model = TreasuryModel(load_scenario(path))
    try:
        model.run()
        ts = model.timeseries().set_index("step")
        # three drains 0.5, 0.7, 0.694 leave 0.5 x 0.3 x 0.306 = 0.0459 of the lock
        assert ts.loc[21, "backing:nomad"] == pytest.approx(1.0)
        assert ts.loc[24, "backing:nomad"] == pytest.approx(0.0459)
        assert ts.loc[24, "price:madWETH"] == pytest.approx(0.0459 * ts.loc[24, "price:ETH"])
        # the market's stale feed (72 h heartbeat) hides the loss until step 72
        feed = ts["oracle:moonwell-artemis:madWETH"]
        assert feed.loc[71] == feed.loc[1] and feed.loc[72] < 0.05 * feed.loc[1]
        assert ts.loc[71, "bad_debt_usd:moonwell-artemis"] == 0.0
        assert ts.loc[96, "bad_debt_usd:moonwell-artemis"] > 5e6
        tvl = ts["pool_tvl_usd:stellaswap-madWETH-FRAX"]
        assert tvl.loc[96] < 0.2 * tvl.loc[0]
        links = model.cascade.links
        assert links["moonwell-artemis"].parent == "nomad"
        assert set(model.cascade.origins) == {"nomad"}
    finally:
        release(model)
