"""The contagion summary: origins, the causal chain, reach, timing, losses and DebtRank."""

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from cli.main import main
from protocols.errors import ConfigError
from sim.cascade import Cascade
from sim.contagion import contagion_summary
from sim.debtrank import graph_debtrank
from sim.historical import default_data_dir
from sim.model import TreasuryModel
from sim.origins import Origin, find_origins
from sim.outputs import from_node_link
from sim.runner import release
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
    assert with_edge["market-a"] == without["market-a"] == 10
    assert [e["since"] for e in composed.events
            if e["kind"] == "distress" and e["node"] == "market-a"] == [10]
    # With the edge, A's socialized loss cuts the aUSDC B holds; B's feed moves on a 20 %
    # deviation, its borrowers are under water at once and B is left with bad debt - in the
    # rounds of the same hour at the earliest (A writes off in one round, B's feed sees the
    # haircut in the next), never before A.
    assert with_edge["market-b"] >= 25
    assert composed.summary()["bad_debt_usd:market-b"] > 0
    assert composed.graph_before.has_edge("market-a", "market-b")
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
    # Two shocks hit one chain: ETH crashes (issuer:ETH, step 10) while market A's ETH feed
    # is frozen (market-a, step 5). A's distress comes through the ETH it holds, so the
    # chain runs issuer:ETH -> A -> B -> C: depth 3, not collapsed at the second origin.
    links = model.cascade.links
    assert [(links[n].parent, links[n].depth) for n in ("market-a", "market-b", "market-c")] \
        == [("issuer:ETH", 1), ("market-a", 2), ("market-b", 3)]
    assert summary["shock_origins"] == "issuer:ETH,market-a"
    assert summary["cascade_depth"] == 3
    assert summary["protocols_total"] == 5  # two pools, three markets
    # the spread, origins apart: A was hit (its feed froze at step 5) before its distress
    assert summary["protocols_distressed"] == 2
    assert summary["protocols_distressed_share"] == pytest.approx(0.4)
    assert summary["nodes_distressed"] == 2 and summary["distressed_unexplained"] == 0
    assert summary["first_distress_step"] == first["market-b"]
    assert summary["last_distress_step"] == first["market-c"]
    assert summary["first_origin_step"] == 5  # the freeze
    assert summary["time_to_first_distress"] == first["market-b"] - 5
    assert summary["time_to_last_distress"] == first["market-c"] - 5
    contagion = [e for e in model.events if e["kind"] == "contagion"]
    assert [(e["node"], e["parent"]) for e in contagion] == [
        ("market-a", "issuer:ETH"), ("market-b", "market-a"), ("market-c", "market-b")]
    # Cut the B -> C edge: C stays healthy and the chain stops one link earlier.
    short = run(chain("DAI"))
    assert "market-c" not in distress_steps(short)
    assert short.summary()["cascade_depth"] == 2
    assert short.summary()["protocols_distressed"] == 1


def hand_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for node in ("eth-usdc", "issuer:ETH", "market-a", "market-b", "usdc-dai"):
        graph.add_node(node, value_usd=100.0)
    graph.add_edge("issuer:ETH", "eth-usdc", weight=50.0, holdings_usd=50.0)
    graph.add_edge("eth-usdc", "market-a", weight=100.0, oracle_usd=60.0, liquidity_usd=40.0)
    graph.add_edge("market-a", "market-b", weight=25.0, collateral_usd=25.0)
    return graph


def test_the_chain_and_the_summary_on_a_hand_graph_are_exact():
    model = run(pair(), steps=0)
    graph = hand_graph()
    later = hand_graph()  # an exposure built after the first origin: market-b -> market-c
    later.add_edge("market-b", "market-c", weight=7.0, holdings_usd=7.0)
    cascade = Cascade({"eth-usdc": Origin("eth-usdc", 4, 0.5, "exploit"),
                       "issuer:ETH": Origin("issuer:ETH", 6, 0.2, "crash")})
    cascade.before = graph
    cascade.observe([("usdc-dai", 0)], lambda: graph)  # distressed at start
    cascade.observe([("eth-usdc", 4)], lambda: graph)  # hit: an origin
    cascade.observe([("market-a", 7)], lambda: graph)
    # B, C and D began in the same step: C is reached through B (in the step's rounds) over
    # an exposure built after the first origin; D is connected to nothing
    new = cascade.observe([("market-d", 9), ("market-c", 9), ("market-b", 9)], lambda: later)
    assert [(k.node, k.parent, k.depth, k.channel) for k in new] == [
        ("market-b", "market-a", 2, "collateral_usd"), ("market-c", "market-b", 3, "holdings_usd"),
        ("market-d", None, None, None)]
    links = cascade.links
    assert (links["market-a"].parent, links["market-a"].edge) == ("eth-usdc",
                                                                  ("eth-usdc", "market-a"))
    assert links["market-a"].channel == "oracle_usd" and links["market-a"].exposure_usd == 100
    # a repeated distress (after a recovery) is no new link
    assert cascade.observe([("market-b", 15)], lambda: graph) == []
    out = contagion_summary(model.world, cascade, graph, [100.0, 70.0, 80.0], clock_start=4)
    assert out["shock_origins"] == "eth-usdc,issuer:ETH" and out["first_origin_step"] == 4
    # the spread: market-a and market-b (eth-usdc is an origin, usdc-dai was distressed
    # at start, market-c and market-d are no protocols of this world)
    assert out["protocols_distressed"] == 2 and out["protocols_total"] == 4
    assert out["nodes_distressed"] == 4 and out["distressed_unexplained"] == 1
    assert out["nodes_distressed_at_start"] == 1
    assert out["cascade_depth"] == 3  # eth-usdc (0) -> market-a -> market-b -> market-c
    assert (out["first_distress_step"], out["last_distress_step"]) == (7, 9)
    assert (out["time_to_first_distress"], out["time_to_last_distress"]) == (3, 5)
    assert out["treasury_loss_usd"] == 20.0
    # Origins: eth-usdc h=0.5, issuer:ETH h=0.2. issuer:ETH -> eth-usdc adds .5*.2 = .1;
    # eth-usdc (.5, then .6 but it propagates once, with .5) -> market-a: 1 * .5 = .5;
    # market-a -> market-b: .25 * .5 = .125. R = (.6+.2+.5+.125 - .5 - .2) / 5 = 0.145.
    assert out["debtrank"] == pytest.approx(0.145)
    assert out["debtrank"] == pytest.approx(
        graph_debtrank(graph, {"eth-usdc": 0.5, "issuer:ETH": 0.2}).debtrank)
    none = contagion_summary(model.world, Cascade({}), graph, [1.0], clock_start=0)
    assert none["nodes_distressed"] == 0 and none["first_distress_step"] is None
    assert none["debtrank"] == 0.0 and none["shock_origins"] == ""


def test_an_origin_that_lost_value_is_its_own_cause_and_a_frozen_feed_is_not():
    graph = nx.DiGraph()
    graph.add_edge("aave", "pool", weight=5e6, liquidity_usd=5e6)
    graph.add_edge("aave", "market", weight=5e6, collateral_usd=5e6)
    origins = {"issuer:ETH": Origin("issuer:ETH", 10, 0.3, "crash"),
               "pool": Origin("pool", 40, 0.5, "exploit"),
               "market": Origin("market", 5, 0.0, "oracle_freeze")}
    graph.add_edge("issuer:ETH", "aave", weight=9e6, collateral_usd=9e6)
    cascade = Cascade(origins)
    cascade.observe([("aave", 12)], lambda: graph)
    # the drained pool's distress at its exploit is the exploit's, though aave came first
    (pool,) = cascade.observe([("pool", 40)], lambda: graph)
    assert (pool.parent, pool.depth) == (None, 0)
    # the frozen market destroyed nothing itself: the crash reached it through aave
    (market,) = cascade.observe([("market", 41)], lambda: graph)
    assert (market.parent, market.depth) == ("aave", 2)
    assert cascade.depth == 2


def test_a_markets_bad_debt_is_traced_to_the_collateral_it_was_written_off_against():
    graph = nx.DiGraph()
    graph.add_edge("issuer:ETH", "aave", weight=24e6, collateral_usd=24e6)
    graph.add_edge("issuer:GOV", "aave", weight=11e6, collateral_usd=11e6)
    origins = {n: Origin(n, 100, 0.3, "crash") for n in ("issuer:ETH", "issuer:GOV")}
    by_exposure = Cascade(origins)
    by_exposure.observe([("aave", 100)], lambda: graph)
    assert by_exposure.links["aave"].parent == "issuer:ETH"  # the larger exposure
    losses = {"aave": {"issuer:GOV": 3e5, "issuer:ETH": 1e3}}
    by_loss = Cascade(origins, blame=lambda node: losses.get(node, {}))
    (link,) = by_loss.observe([("aave", 100)], lambda: graph)
    assert (link.parent, link.channel, link.exposure_usd) == ("issuer:GOV", "collateral_usd",
                                                               11e6)


def test_origins_are_declared_shocks_and_the_paths_own_falls():
    raw = pair()
    raw["shocks"] = [
        {"kind": "crash", "step": 2, "asset": "ETH", "size": 0.5},
        {"kind": "crash", "step": 3, "asset": "ETH", "size": 0.5},
        {"kind": "depeg", "step": 2, "asset": "DAI", "depth": 0.1},
        {"kind": "liquidity_withdrawal", "step": 2, "protocol": "market-b", "fraction": 0.3},
        {"kind": "exploit", "step": 4, "protocol": "market-b", "fraction": 0.5},
        {"kind": "oracle_freeze", "step": 2, "asset": "ETH"},
        {"kind": "gas_spike", "step": 2},
    ]
    model = run(raw, steps=0)
    origins = find_origins(model.config, model.paths, model.world)
    # ETH (no noise) loses 1 - (1 - .5)(1 - .5) = 75 % from its step-1 price: measured on
    # the path, so two crashes on one asset are one fall, not two shocks combined
    assert origins["issuer:ETH"] == Origin("issuer:ETH", 2, pytest.approx(0.75), "crash")
    assert origins["issuer:DAI"].size == pytest.approx(0.1, abs=1e-3)  # the depeg's trough
    # on a protocol, declared fractions combine: 1 - .7 x .5
    assert origins["market-b"] == Origin("market-b", 2, pytest.approx(0.65),
                                         "liquidity_withdrawal")
    # the only market with an ETH feed: frozen, no value destroyed
    assert origins["market-a"] == Origin("market-a", 2, 0.0, "oracle_freeze")
    assert set(origins) == {"issuer:ETH", "issuer:DAI", "market-b", "market-a"}


def test_a_fall_on_the_path_is_an_origin_at_the_round_it_crosses():
    raw = pair()
    raw["shocks"] = []
    raw["rounds_per_step"] = 4
    raw["assets"][0]["depegs"] = []
    model = run(raw, steps=0)
    paths = model.paths
    eth = paths.assets.index("ETH")
    # a replayed-like fall with no declared shock: -10 % per round from round 2 of step 3
    rows = np.arange(paths.rounds.shape[0])
    paths.rounds[:, eth] = 2000.0 * 0.9 ** np.clip(rows - 9, 0, 4)
    origins = find_origins(model.config, paths, model.world)
    # rows 10..13 (step 3, rounds 2-4 and step 4, round 1); 0.9^3 = .729 is the first
    # below .8 of the day's peak: row 12, step 3
    assert origins == {"issuer:ETH": Origin("issuer:ETH", 3, pytest.approx(1 - 0.9 ** 4),
                                            "price_drop")}
    # a fall spread over more than the window is no origin: -19 % a day for ever
    slow = 2000.0 * 0.81 ** (rows / (24 * 4))
    paths.rounds[:, eth] = slow
    assert find_origins(model.config, paths, model.world) == {}


@pytest.mark.parametrize(
    "shock, message",
    [
        ({"kind": "depeg", "step": 2, "asset": "ETH", "depth": 0.1},
         r"shocks\[0\]\.asset: a depeg moves a pegged asset off its peg; ETH is risky"),
        ({"kind": "oracle_freeze", "step": 2, "asset": "DAI", "market": "market-a"},
         r"shocks\[0\]\.asset: market 'market-a' reads no oracle of 'DAI' \(its reserves: "
         r"ETH, USDC\): freezing it changes nothing"),
        ({"kind": "oracle_freeze", "step": 2, "asset": "DAI"},
         r"shocks\[0\]\.asset: no protocol reads an oracle of 'DAI'"),
    ],
)
def test_a_shock_that_changes_nothing_is_refused(shock, message):
    raw = pair()
    raw["protocols"] = raw["protocols"][:3]  # without market B, nothing reads DAI
    raw["agents"]["borrowers"] = raw["agents"]["borrowers"][:1]
    raw["shocks"] = [shock]
    with pytest.raises(ConfigError, match=message):
        parse_scenario(raw)


@pytest.mark.skipif(not default_data_dir().is_dir(), reason="no data directory")
def test_black_thursday_has_an_origin_a_chain_and_a_debtrank():
    scenario = load_scenario(SCENARIOS / "black_thursday_2020.toml").model_copy(
        update={"steps": 60})
    model = TreasuryModel(scenario)
    model.run()
    summary = model.summary()
    assert summary["shock_origins"] == "issuer:ETH"  # no declared crash: the data's own
    assert model.cascade.origins["issuer:ETH"].cause == "price_drop"
    assert summary["cascade_depth"] >= 1 and summary["debtrank"] > 0
    # the treasury's ETH: a 30 % drawdown from its peak, reached from the crash's origin
    assert model.cascade.links["treasury"].parent == "issuer:ETH"
    release(model)


def test_systemic_debtrank_is_the_summary_figure_just_before_the_first_origin():
    model = run(chain())
    ts = model.timeseries().set_index("step")["systemic_debtrank"]
    summary = model.summary()
    assert summary["first_origin_step"] == 5
    assert ts[4] == pytest.approx(summary["debtrank"]) and summary["debtrank"] > 0
    # sampled every 6 hours (hourly steps) and at the step before the first origin, held
    # in between: it changes only at those steps
    changes = ts.index[ts.diff().fillna(1.0) != 0].tolist()
    assert set(changes) <= {0, 4, *range(6, model.config.steps + 1, 6)}
    assert ts[5] == ts[4] and ts[3] == ts[0] and len(changes) > 3
    assert (ts >= 0).all() and (ts <= 1).all()


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
    # aave-v3's feed froze (an origin) and the ETH crash reached it: the chain runs on
    # through it, issuer:ETH -> aave-v3 -> spark-b
    nodes = graph.nodes
    assert nodes["aave-v3"]["origin"] and nodes["aave-v3"]["parent"] == "issuer:ETH"
    assert (nodes["aave-v3"]["depth"], nodes["spark-b"]["depth"]) == (1, 2)
    assert nodes["spark-b"]["parent"] == "aave-v3" and nodes["issuer:ETH"]["depth"] == 0
    assert graph.edges["aave-v3", "spark-b"]["cascade"]
    assert graph.edges["issuer:ETH", "aave-v3"]["cascade"]  # the ETH aave-v3 holds
    assert sum(d["cascade"] for _, _, d in graph.edges(data=True)) == 2
    events = pd.read_parquet(tmp_path / "events.parquet")
    distress = events[events["kind"] == "distress"].set_index("node")["since"]
    assert distress["aave-v3"] <= distress["spark-b"]  # same step: a later round
    assert graph.nodes["spark-b"]["distress_step"] == distress["spark-b"]
    summary = pd.read_parquet(tmp_path / "summary.parquet")
    assert summary.loc[0, "protocols_distressed"] == 1  # spark-b: aave-v3 is an origin
    assert summary.loc[0, "cascade_depth"] == 2
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
