"""The contagion summary: origins, reach, depth, timing, losses and DebtRank of a run."""

import json
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from cli.main import main
from protocols.errors import ConfigError
from sim.contagion import cascade_depths, contagion_summary, shock_origins
from sim.debtrank import graph_debtrank
from sim.outputs import from_node_link
from sim.scenario import load_scenario, parse_scenario
from spec import Lending
from tests.sim.contagion_worlds import (  # noqa: F401
    chain,
    distress_steps,
    pair,
    release_models,
    run,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"


@pytest.fixture(scope="module")
def composed():
    return run(pair())


@pytest.fixture(scope="module")
def cut():
    return run(pair("USDC"))


def test_distress_reaches_b_only_through_the_receipt_token_edge(composed, cut):
    with_edge, without = distress_steps(composed), distress_steps(cut)
    # In both worlds A's borrowers are under water at the off-chain price from the crash
    # (step 10) while A's ETH feed is frozen: a shortfall, logged once it held 3 steps.
    assert with_edge["market-a"] == without["market-a"] == 12
    assert [e["since"] for e in composed.events
            if e["kind"] == "distress" and e["node"] == "market-a"] == [10]
    # With the edge, A's socialized loss cuts the aUSDC B holds; B's feed moves on a 20 %
    # deviation, its borrowers are under water at once and B is left with bad debt - in the
    # rounds of the same hour at the earliest (A writes off in one round, B's feed sees the
    # haircut in the next), never before A.
    assert with_edge["market-b"] >= 25
    assert composed.summary()["bad_debt_usd:market-b"] > 0
    assert composed.graph_start.has_edge("market-a", "market-b")
    # Without it (B's collateral is plain USDC) nothing reaches B.
    assert "market-b" not in without
    assert cut.summary()["bad_debt_usd:market-b"] == 0.0
    assert not [e for e in cut.events if e["kind"] == "liquidation" and e["market"] == "market-b"]
    for model in (composed, cut):
        model.world.ledger.check_conservation()


def test_liquidators_redeem_seized_receipt_tokens_at_their_issuer(composed):
    seized = [e for e in composed.events
              if e["kind"] == "liquidation" and e["market"] == "market-b"]
    assert seized and all(e["pool"] is None for e in seized)  # no pool trades aUSDC
    # What the liquidators hold of it afterwards is what market A's cash could not pay.
    ledger = composed.world.ledger
    held = sum(ledger.balance_of(f"liq:{a.unique_id}", "market-a:aUSDC")
               for a in composed.agents if getattr(a, "holder", "").startswith("liq:"))
    market = composed.world.markets["market-a"]
    assert held == 0.0 or market.cash("USDC") < held * market.exchange_rate("USDC")


def test_cascade_depth_and_reach_on_a_chain_of_three_protocols_are_exact():
    model = run(chain())
    first = distress_steps(model)
    summary = model.summary()
    assert set(first) == {"market-a", "market-b", "market-c"}
    # each after the one it is exposed to, or in the same step's later rounds
    assert first["market-a"] <= first["market-b"] <= first["market-c"]
    depths = cascade_depths(model.graph_start, list(shock_origins(model.config, model.world)))
    assert (depths["market-a"], depths["market-b"], depths["market-c"]) == (0, 1, 2)
    assert summary["cascade_depth"] == 2
    assert summary["protocols_total"] == 5  # two pools, three markets
    assert summary["protocols_distressed"] == 3
    assert summary["protocols_distressed_share"] == pytest.approx(0.6)
    assert summary["nodes_distressed"] == 3 and summary["distressed_unreachable"] == 0
    assert summary["first_distress_step"] == first["market-a"]
    assert summary["last_distress_step"] == first["market-c"]
    assert summary["time_to_first_distress"] == first["market-a"] - 5  # first shock: step 5
    assert summary["time_to_last_distress"] == first["market-c"] - 5
    # Cut the B -> C edge: C stays healthy and the cascade stops one hop earlier.
    short = run(chain("DAI"))
    assert "market-c" not in distress_steps(short)
    assert short.summary()["cascade_depth"] == 1
    assert short.summary()["protocols_distressed"] == 2


def test_summary_on_a_hand_graph_is_exact():
    raw = pair()
    raw["shocks"] = [
        {"kind": "exploit", "step": 4, "protocol": "eth-usdc", "fraction": 0.5},
        {"kind": "crash", "step": 6, "asset": "ETH", "size": 0.2},
        {"kind": "gas_spike", "step": 6},
    ]
    model = run(raw, steps=0)
    graph = nx.DiGraph()
    graph.add_node("eth-usdc", value_usd=100.0)
    graph.add_node("issuer:ETH", value_usd=100.0)
    graph.add_node("market-a", value_usd=100.0)
    graph.add_node("market-b", value_usd=100.0)
    graph.add_node("usdc-dai", value_usd=100.0)
    graph.add_edge("issuer:ETH", "eth-usdc", weight=50.0)
    graph.add_edge("eth-usdc", "market-a", weight=100.0)
    graph.add_edge("market-a", "market-b", weight=25.0)
    events = [
        {"step": 0, "kind": "distress", "node": "usdc-dai"},
        {"step": 4, "kind": "distress", "node": "eth-usdc"},
        {"step": 9, "kind": "distress", "node": "market-b"},
        {"step": 12, "kind": "recovered", "node": "market-b"},
        {"step": 15, "kind": "distress", "node": "market-b"},
    ]
    out = contagion_summary(model.config, model.world, graph, events, [100.0, 70.0, 80.0])
    assert out["shock_origins"] == "eth-usdc,issuer:ETH"
    assert out["protocols_distressed"] == 2 and out["protocols_total"] == 4
    assert out["nodes_distressed_at_start"] == 1  # usdc-dai, left out of the cascade
    assert out["cascade_depth"] == 2  # eth-usdc (0) -> market-a (1) -> market-b (2)
    assert (out["first_distress_step"], out["last_distress_step"]) == (4, 9)
    assert (out["time_to_first_distress"], out["time_to_last_distress"]) == (0, 5)
    assert out["treasury_loss_usd"] == 20.0
    # Origins: eth-usdc h=0.5, issuer:ETH h=0.2. issuer:ETH -> eth-usdc adds .5*.2 = .1;
    # eth-usdc (.5, then .6 but it propagates once, with .5) -> market-a: 1 * .5 = .5;
    # market-a -> market-b: .25 * .5 = .125. R = (.6+.2+.5+.125 - .5 - .2) / 5 = 0.145.
    assert out["debtrank"] == pytest.approx(0.145)
    assert out["debtrank"] == pytest.approx(
        graph_debtrank(graph, {"eth-usdc": 0.5, "issuer:ETH": 0.2}).debtrank)
    none = contagion_summary(model.config, model.world, graph, [], [1.0])
    assert none["nodes_distressed"] == 0 and none["first_distress_step"] is None


def test_shock_origins_and_sizes():
    raw = pair()
    raw["shocks"] = [
        {"kind": "crash", "step": 2, "asset": "ETH", "size": 0.5},
        {"kind": "crash", "step": 3, "asset": "ETH", "size": 0.5},
        {"kind": "depeg", "step": 2, "asset": "DAI", "depth": 0.1},
        {"kind": "liquidity_withdrawal", "step": 2, "protocol": "market-b", "fraction": 0.3},
        {"kind": "oracle_freeze", "step": 2, "asset": "ETH"},
        {"kind": "gas_spike", "step": 2},
    ]
    model = run(raw, steps=0)
    assert shock_origins(model.config, model.world) == pytest.approx({
        "issuer:ETH": 0.75,  # 1 - (1 - .5)(1 - .5)
        "issuer:DAI": 0.1,
        "market-b": 0.3,
        "market-a": 0.0,  # the only market with an ETH feed: frozen, no value destroyed
    })


def test_summary_is_flat_and_per_market_bad_debt_adds_up(composed, tmp_path):
    summary = composed.summary()
    assert all(isinstance(v, str | int | float | bool | None) for v in summary.values())
    per_market = [v for k, v in summary.items() if k.startswith("bad_debt_usd:")]
    assert len(per_market) == 2
    assert sum(per_market) == pytest.approx(summary["bad_debt_usd"])
    assert summary["debtrank"] > 0
    pd.DataFrame([summary]).to_parquet(tmp_path / "row.parquet")  # one sweep row


def test_composed_markets_scenario_runs_from_the_cli(tmp_path, capsys):
    path = SCENARIOS / "composed_markets.toml"
    scenario = load_scenario(path)
    assert any(":" in token for p in scenario.protocols if isinstance(p, Lending)
               for token in p.reserves)
    code = main(["run", str(path), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "protocols_distressed" in out and "cascade_depth" in out and "debtrank" in out
    assert "distress transitions" in out
    graph = from_node_link(json.loads((tmp_path / "graph.json").read_text()))
    assert graph.edges["aave-v3", "spark-b"]["collateral_usd"] > 0
    assert graph.nodes["aave-v3"]["origin"] and graph.nodes["aave-v3"]["depth"] == 0
    assert graph.nodes["spark-b"]["depth"] == 1
    events = pd.read_parquet(tmp_path / "events.parquet")
    distress = events[events["kind"] == "distress"].set_index("node")["step"]
    assert distress["aave-v3"] <= distress["spark-b"]  # same step: a later round
    assert graph.nodes["spark-b"]["distress_step"] == distress["spark-b"]
    summary = pd.read_parquet(tmp_path / "summary.parquet")
    assert summary.loc[0, "protocols_distressed"] == 2
    assert summary.loc[0, "bad_debt_usd:spark-b"] > 0


def test_a_dependency_cycle_is_rejected_with_the_field_named():
    raw = pair()
    raw["protocols"][2]["reserves"]["market-b:aDAI"] = {
        "ltv": 0.5, "liquidation_threshold": 0.6, "borrowable": False}
    with pytest.raises(ConfigError, match=r"protocols\[2\]\.reserves: dependency cycle "
                                        r"market-a -> market-b -> market-a"):
        parse_scenario(raw)


@pytest.mark.parametrize(
    "token, reserve, message",
    [
        ("market-z:aUSDC", {}, "'market-z:aUSDC' is neither an asset nor a token"),
        ("market-a:aDAI", {}, "'market-a' issues receipt tokens"),
        ("eth-usdc:shares", {}, "pool 'eth-usdc' issues eth-usdc:LP"),
        ("market-b:aDAI", {}, "a market cannot accept its own receipt token"),
        ("market-a:aUSDC", {"borrowable": True}, r"market-a:aUSDC\.borrowable: a protocol"),
        ("market-a:aUSDC", {"borrowable": False, "oracle": {"source": "twap",
                                                            "pool": "eth-usdc"}},
         r"oracle\.source: a protocol-issued token is priced from its issuer"),
    ],
)
def test_bad_composed_reserves_are_named(token, reserve, message):
    raw = pair()
    reserves = raw["protocols"][3]["reserves"]
    reserves.pop("market-a:aUSDC")
    reserves[token] = {"ltv": 0.5, "liquidation_threshold": 0.6, "borrowable": False, **reserve}
    raw["agents"]["borrowers"] = raw["agents"]["borrowers"][:1]
    with pytest.raises(ConfigError, match=rf"protocols\[3\]\.reserves\.{token}"):
        parse_scenario(raw)
    with pytest.raises(ConfigError, match=message):
        parse_scenario(raw)


def test_liquidators_redeem_seized_lp_tokens_at_their_pool():
    model = run(pair("eth-usdc:LP"), steps=0)
    world, ledger = model.world, model.world.ledger
    liquidator = next(a for a in model.agents if getattr(a, "holder", "").startswith("liq:"))
    pool = world.pools["eth-usdc"]
    world.fund(liquidator.holder, "eth-usdc:LP", 1000.0)
    units = ledger.balance_of(liquidator.holder, "eth-usdc:LP")
    share = units / ledger.total_supply("eth-usdc:LP")
    reserves = pool.reserves()
    before = {t: ledger.balance_of(liquidator.holder, t) for t in pool.tokens}
    liquidator._redeem()
    assert ledger.balance_of(liquidator.holder, "eth-usdc:LP") == 0.0
    for token in pool.tokens:  # UniswapV2Pair.burn: the pro-rata share of each reserve
        got = ledger.balance_of(liquidator.holder, token) - before[token]
        assert got == pytest.approx(share * reserves[token], rel=1e-9)
    ledger.check_conservation()
