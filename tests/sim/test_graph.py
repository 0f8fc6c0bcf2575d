"""The dependency graph: derived from ledger and protocol state, exportable."""

import json
from pathlib import Path

import networkx as nx
import pytest

from sim.graph import CHANNELS, dependency_graph
from sim.model import TreasuryModel
from sim.outputs import from_node_link, write_graph
from sim.runner import release
from sim.scenario import load_scenario
from tests.sim.contagion_worlds import (  # noqa: F401
    chain,
    cohort,
    pair,
    release_models,
    run,
)

BASELINE = Path(__file__).resolve().parents[2] / "experiments" / "scenarios" / "baseline.toml"


@pytest.fixture(scope="module")
def baseline_graph() -> nx.DiGraph:
    model = TreasuryModel(load_scenario(BASELINE))
    try:
        return model.dependency_graph()
    finally:
        release(model)


def test_baseline_graph_has_the_expected_nodes(baseline_graph):
    kinds = dict(baseline_graph.nodes(data="kind"))
    assert {n for n, k in kinds.items() if k == "pool"} == {
        "univ2-GOV-ETH", "univ3-ETH-USDC", "curve-3pool", "curve-steth"}
    assert {n for n, k in kinds.items() if k == "lending"} == {"aave"}
    assert {n for n, k in kinds.items() if k == "vault"} == {"eth-covered-call"}
    assert {n for n, k in kinds.items() if k == "issuer"} == {
        f"issuer:{a}" for a in ("ETH", "GOV", "stETH", "USDC", "USDT", "DAI")}
    assert kinds["treasury"] == "treasury"
    for group in ("liquidity_providers", "arbitrageurs", "liquidators", "suppliers:aave",
                  "borrowers:aave", "depositors:eth-covered-call", "options-desk"):
        assert kinds[group] == "agents", group
    # Protocol sub-accounts and cohort wallets are folded into their nodes.
    assert not any(n.startswith(("aave:", "lp:", "liq:", "arb:")) for n in kinds)
    assert not [n for n in kinds if n.startswith("borrowers:") and n != "borrowers:aave"]


def test_baseline_graph_has_the_expected_edges(baseline_graph):
    g = baseline_graph
    # The treasury holds 12M GOV at $5 and 8,000 ETH at $2,000 (baseline.toml).
    assert g.edges["issuer:GOV", "treasury"]["holdings_usd"] == pytest.approx(60e6)
    assert g.edges["issuer:ETH", "treasury"]["holdings_usd"] == pytest.approx(16e6)
    assert g.edges["issuer:USDC", "treasury"]["holdings_usd"] == pytest.approx(10e6)
    # Aave's GOV feed is the 24h TWAP of the GOV/ETH pool: oracle dependence, valued at the
    # GOV collateral the market holds - which is also the collateral edge from GOV's issuer.
    gov = g.edges["issuer:GOV", "aave"]["collateral_usd"]
    assert gov > 0
    assert g.edges["univ2-GOV-ETH", "aave"]["oracle_usd"] == pytest.approx(gov)
    # Seized stETH is sold into curve-steth, ETH into the ETH pools: liquidity dependence.
    steth = g.edges["issuer:stETH", "aave"]["collateral_usd"]
    assert g.edges["curve-steth", "aave"]["liquidity_usd"] == pytest.approx(
        steth + g.edges["issuer:ETH", "aave"]["collateral_usd"])
    assert g.edges["univ3-ETH-USDC", "aave"]["oracle_usd"] == 0.0
    # No borrower posts stablecoins, so the 3pool is no liquidity venue of Aave's.
    assert not g.has_edge("curve-3pool", "aave")
    # Receipt tokens: suppliers hold aTokens, the collateral escrow is the borrowers'.
    assert g.edges["aave", "suppliers:aave"]["holdings_usd"] == pytest.approx(
        60_000 * 2000.0 + 80e6 + 20e6)
    assert g.edges["aave", "borrowers:aave"]["holdings_usd"] == pytest.approx(
        gov + steth + g.edges["issuer:ETH", "aave"]["collateral_usd"])
    assert g.edges["eth-covered-call", "depositors:eth-covered-call"]["holdings_usd"] == (
        pytest.approx(5000 * 2000.0))
    for a, b, data in g.edges(data=True):
        assert a != b
        assert data["weight"] == pytest.approx(sum(data[c] for c in CHANNELS))


def test_a_receipt_token_accepted_elsewhere_is_an_edge_and_only_then():
    composed = graph_at_start(pair())
    edge = composed.edges["market-a", "market-b"]
    # B holds, as its cash, exactly the aUSDC its borrowers posted: owed to them, so it is
    # the collateral channel, not B's own holding
    assert edge["holdings_usd"] == 0.0 and edge["collateral_usd"] > 1e6
    plain = graph_at_start(pair("USDC"))
    assert not plain.has_edge("market-a", "market-b")
    assert plain.edges["issuer:USDC", "market-b"]["collateral_usd"] == pytest.approx(
        edge["collateral_usd"], rel=1e-6)


def graph_at_start(raw: dict) -> nx.DiGraph:
    return run(raw, steps=0).dependency_graph()


def test_the_graph_follows_the_ledger_at_any_step():
    model = run(pair(), steps=0)
    assert not model.dependency_graph().has_edge("market-a", "treasury")
    # The treasury supplies USDC to market A: the edge appears with the receipt's value.
    model.world.fund("treasury", "USDC", 1e6)
    model.world.markets["market-a"].supply("treasury", "USDC", 1e6)
    graph = model.dependency_graph()
    assert graph.edges["market-a", "treasury"]["holdings_usd"] == pytest.approx(1e6)
    # A's bad debt (steps 25+) is socialized: the treasury's exposure is re-read from A's
    # index.
    for _ in range(40):
        model.step()
    market = model.world.markets["market-a"]
    assert market.exchange_rate("USDC") < 0.9
    held = model.world.ledger.balance_of("treasury", "market-a:aUSDC")
    after = model.dependency_graph().edges["market-a", "treasury"]["holdings_usd"]
    assert after == pytest.approx(held * market.exchange_rate("USDC"), rel=1e-9)
    assert after < 0.9e6


def test_export_round_trips(tmp_path, baseline_graph):
    write_graph(baseline_graph, tmp_path / "graph.json")
    back = from_node_link(json.loads((tmp_path / "graph.json").read_text()))
    assert set(back.nodes) == set(baseline_graph.nodes)
    assert set(back.edges) == set(baseline_graph.edges)
    assert back.edges["issuer:GOV", "treasury"] == baseline_graph.edges["issuer:GOV", "treasury"]
    write_graph(baseline_graph, tmp_path / "graph.graphml")
    xml = nx.read_graphml(tmp_path / "graph.graphml")
    assert set(xml.edges) == set(baseline_graph.edges)
    assert float(xml.edges["issuer:GOV", "treasury"]["holdings_usd"]) == pytest.approx(60e6)


def test_graph_of_a_bare_world_is_built_from_the_world_alone():
    model = run(pair(), steps=0)
    graph = dependency_graph(model.world)  # no cohort grouping: wallets stay separate
    assert graph.has_edge("market-a", "borrowers:market-a")  # the collateral escrow
    assert "treasury" in graph


@pytest.mark.parametrize("pool", ["eth-usdc", "usdc-dai"])
def test_an_lp_token_accepted_as_collateral_is_bought_from_its_pool_and_is_an_edge(pool):
    model = run(pair(f"{pool}:LP"), steps=0)
    world = model.world
    lp = f"{pool}:LP"
    # The cohort's LP tokens were minted by the pool against coins brought from outside:
    # the pool's reserves grew by what its LP supply grew (all at the initial 40M TVL/unit).
    supply = world.ledger.total_supply(lp)
    tvl = sum(r * world.usd(t) for t, r in world.pools[pool].reserves().items())
    assert world.usd(lp) == pytest.approx(tvl / supply)
    held = world.ledger.balance_of("market-b", lp)
    assert tvl == pytest.approx(40e6 + held * world.usd(lp), rel=1e-6)
    edge = model.dependency_graph().edges[pool, "market-b"]
    assert edge["collateral_usd"] == pytest.approx(held * world.usd(lp))
    assert edge["holdings_usd"] == 0.0  # B's cash of its reserve: owed to its depositors
    world.ledger.check_conservation()


# -- the treasury's lending positions (its own node, not the borrowers') ------------------
def treasury_borrowing() -> dict:
    """tests/agents/test_allocator's world (GOV $2, Aave LT 0.65 on GOV, lending USDC), the
    treasury borrowing $100k USDC against GOV at HF 2, beside a cohort doing the same."""
    from tests.agents.test_allocator import world

    raw = world({"kind": "static", "borrow": {"USDC": 100_000}, "borrow_hf": 2.0})
    raw["agents"]["borrowers"] = [cohort("aave", "GOV", "USDC", 40, 20_000, 1.6, 0.1)]
    return raw


def test_the_treasurys_position_is_its_own_channel_both_ways():
    model = run(treasury_borrowing(), steps=1)
    world, market = model.world, model.world.markets["aave"]
    g = model.dependency_graph()
    pid = model.allocator.debts.positions["aave"]
    # hand-checked: $100k debt, 2 x 100,000 / (0.65 x $2) GOV posted at $2
    posted_usd = 2 * 100_000 / (0.65 * 2.0) * 2.0
    assert g.edges["treasury", "aave"]["credit_usd"] == pytest.approx(100_000, rel=1e-12)
    assert g.edges["aave", "treasury"]["holdings_usd"] == pytest.approx(posted_usd, rel=1e-9)
    assert g.edges["treasury", "aave"]["weight"] == pytest.approx(100_000, rel=1e-12)
    # the cohort's positions are the borrowers' group's: the escrow minus the treasury's
    gov = market.assets.index("GOV")
    escrow_usd = world.ledger.balance_of(market.escrow, "aave:aGOV") * world.token_usd(
        "aave:aGOV", model.steps)
    rows = [p for p in range(market.n_positions) if p != pid]
    cohort_usd = sum(float(market.collateral_of(p)[gov]) for p in rows) * world.usd("GOV")
    assert g.edges["aave", "borrowers:aave"]["holdings_usd"] == pytest.approx(cohort_usd)
    assert g.edges["aave", "borrowers:aave"]["holdings_usd"] == pytest.approx(
        escrow_usd - posted_usd, rel=1e-9)
    # the market's debt is owed by its borrowers' nodes, all of it
    owed = {a: b for a, b, c in g.in_edges("aave", data="credit_usd") if c}
    assert set(owed) == {"treasury", "borrowers:aave"}
    total = sum(market.total_debt(a) * world.usd(a) for a in market.assets)
    assert sum(g.edges[a, "aave"]["credit_usd"] for a in owed) == pytest.approx(total,
                                                                                rel=1e-12)
    assert g.nodes["treasury"]["value_usd"] == pytest.approx(
        sum(d["holdings_usd"] for _, _, d in g.in_edges("treasury", data=True)))
    for _, _, data in g.edges(data=True):
        assert data["weight"] == pytest.approx(sum(data[c] for c in CHANNELS))


def test_credit_sums_to_every_markets_debt():
    model = run(chain(), steps=0)
    g, world = model.dependency_graph(), model.world
    for name, market in world.markets.items():
        credit = sum(d for _, _, d in g.in_edges(name, data="credit_usd") if d)
        total = sum(market.total_debt(a) * world.usd(a) for a in market.assets)
        assert total > 0 and credit == pytest.approx(total, rel=1e-12)
        # the treasury borrows nothing here: all of it is the market's borrowers'
        assert g.edges[f"borrowers:{name}", name]["credit_usd"] == pytest.approx(credit)
