"""Distress: thresholds come from the scenario, transitions are exact, bad values named."""

import copy
import math

import pytest

from protocols.errors import ConfigError
from sim.distress import DistressMonitor
from sim.scenario import parse_scenario
from tests.sim.contagion_worlds import (  # noqa: F401
    distress_steps,
    pair,
    release_models,
    run,
)


def with_shocks(raw: dict, shocks: list[dict], **distress) -> dict:
    raw = copy.deepcopy(raw)
    raw["shocks"] = shocks
    raw["distress"] = {**raw.get("distress", {}), **distress}
    return raw


@pytest.mark.parametrize("k, min_steps", [(1, 1), (1, 3), (3, 3), (5, 3), (5, 1)])
def test_a_supplier_run_pins_utilization_and_distress_starts_after_k_steps(k, min_steps):
    # Suppliers of A pull everything at step 3: A's USDC cash is lent out to the last unit,
    # and with flat prices nobody repays - utilization stays at 100 % from step 3 on. The
    # longer of utilization_pinned_steps and min_steps applies, counted from step 3.
    raw = with_shocks(pair(), [{"kind": "liquidity_withdrawal", "step": 3,
                                "protocol": "market-a", "fraction": 1.0}],
                      utilization_pinned_steps=k, min_steps=min_steps)
    model = run(raw, steps=12)
    assert model.world.markets["market-a"].is_pinned("USDC")
    events = [e for e in model.events if e["kind"] == "distress" and e["node"] == "market-a"]
    wait = max(k, min_steps)
    assert [(e["step"], e["since"], e["cause"]) for e in events] == [
        (3 + wait - 1, 3, "utilization_pinned:USDC")]
    assert events[0]["value"] == wait  # the run of pinned steps
    model.world.ledger.check_conservation()


def test_thresholds_come_from_the_scenario():
    crash = [{"kind": "crash", "step": 10, "asset": "ETH", "size": 0.3}]
    loose = run(with_shocks(pair(), crash, pool_price_deviation=0.9), steps=12)
    tight = run(with_shocks(pair(), crash, pool_price_deviation=0.002), steps=12)
    assert "eth-usdc" not in distress_steps(loose)
    # The reference falls 30 % at step 10; the arbitrage leaves the pool 0.25 % off it,
    # inside its 0.3 % fee band (the liquidators sell off-chain, where depth is unlimited):
    # above a 0.2 % threshold from step 10, logged once it held 3 steps (step 12), not
    # under 90 %.
    first = [e for e in tight.events if e["kind"] == "distress" and e["node"] == "eth-usdc"]
    assert [(e["step"], e["since"], e["cause"]) for e in first] == [(12, 10, "price_deviation")]
    ts = tight.timeseries().set_index("step")
    off = abs(ts["pool_price:eth-usdc"] / ts["price:ETH"] - 1.0)
    assert off[9] == 0.0 and (off[10:12] > 0.002).all()
    # the monitor measures the pool's price of USDC in ETH against the reference ratio
    assert first[0]["value"] == pytest.approx(
        abs(ts["price:ETH"][12] / ts["pool_price:eth-usdc"][12] - 1.0))


def test_depeg_marks_the_issuer_and_it_recovers_only_back_inside_the_band():
    raw = with_shocks(pair(), [{"kind": "depeg", "step": 5, "asset": "DAI", "depth": 0.1,
                                "duration": 4, "recovery": 8}], depeg=0.02)
    model = run(raw, steps=30)
    off = abs(model.timeseries().set_index("step")["price:DAI"] - 1.0)
    # DAI leaves the 2 % band at step 5 (2.09 %) and stays out: logged at step 7 (3 steps).
    # It is back under 2 % at step 20 (1.73 %), but under the leave threshold of 1 %
    # (recover_ratio 0.5) only from step 23 (0.89 %): recovered at step 25, since 23.
    assert off[4] <= 0.02 < off[5] and (off[5:8] > 0.01).all()
    assert off[19] > 0.02 > off[20] and off[22] > 0.01 > off[23] and (off[23:26] < 0.01).all()
    spread = [(e["step"], e["kind"], e["since"], e["cause"]) for e in model.events
              if e.get("node") == "issuer:DAI" and e["kind"] in ("distress", "recovered")]
    assert spread == [(7, "distress", 5, "depeg"), (25, "recovered", 23, "depeg")]


def test_treasury_runway_floor_comes_from_the_scenario():
    raw = pair()
    raw["treasury"] = {"holdings": {"USDC": 6e6}, "opex_usd_per_month": 1e6}
    low = run(with_shocks(raw, [], runway_months_floor=12.0), steps=2)
    assert [(e["step"], e["node"], e["cause"]) for e in low.events
            if e["kind"] == "distress"] == [(0, "treasury", "runway")]
    assert low.summary()["nodes_distressed_at_start"] == 1
    assert low.summary()["nodes_distressed"] == 0  # pre-existing, not spread
    off = run(with_shocks(raw, [], runway_months_floor=0.0), steps=2)
    assert not [e for e in off.events if e["kind"] == "distress"]


def test_shortfall_is_seen_at_the_crash_and_bad_debt_when_written_off():
    model = run(pair(), steps=27)
    ts = model.timeseries().set_index("step")
    # A's ETH feed is frozen from step 5: the 70 % crash at step 10 leaves its borrowers
    # insolvent at the off-chain price (shortfall, 19.6 % of A's supply) until the feed
    # unfreezes at step 25 and they are written off. B holds A's receipt token: A's haircut
    # leaves B bad debt at step 25.
    assert ts["shortfall_usd:market-a"][9] == 0 < ts["shortfall_usd:market-a"][10]
    first_bad = int(ts.index[ts["bad_debt:market-b:DAI"] > 0][0])
    assert first_bad == 25
    spread = {e["node"]: e for e in model.events if e["kind"] == "distress"}
    assert (spread["market-a"]["step"], spread["market-a"]["since"]) == (12, 10)
    assert spread["market-a"]["cause"] == "shortfall"
    assert spread["market-a"]["value"] == pytest.approx(0.1963, abs=1e-4)
    assert (spread["market-b"]["step"], spread["market-b"]["since"]) == (27, 25)
    assert spread["market-b"]["cause"] == "bad_debt"
    # the figure is bad debt (USD) over supply (cash + debt, USD), both at step 27
    b = model.world.markets["market-b"]
    supply = sum((b.cash(a) + b.total_debt(a)) * model.world.usd(a) for a in b.assets)
    assert spread["market-b"]["value"] == pytest.approx(ts["bad_debt_usd:market-b"][27] / supply)
    assert not [e for e in model.events if e["kind"] == "recovered"]  # bad debt stays


def test_28_usd_of_bad_debt_in_a_96m_market_is_no_distress():
    model = run(pair(), steps=0)
    market = model.world.markets["market-a"]
    supply = sum((market.cash(a) + market.total_debt(a)) * model.world.usd(a)
                 for a in market.assets)
    market.bad_debt["USDC"] = 28.0 * 96e6 / supply  # $28 for every $96M of supply
    monitor = DistressMonitor(model.world, model.config, "treasury", runway=lambda: math.inf,
                              value=lambda: 1.0)
    assert [c for step in range(5) for c in monitor.evaluate(step)] == []
    market.bad_debt["USDC"] = 0.0011 * supply  # 0.11 % of supply: above the 0.1 % default
    changes = [(step, c.kind, c.node, c.cause, c.since)
               for step in range(5, 10) for c in monitor.evaluate(step)]
    assert changes == [(7, "distress", "market-a", "bad_debt", 5)]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("depeg", 1.5, "distress.depeg: must be < 1"),
        ("depeg", 0.0, "distress.depeg: must be > 0"),
        ("utilization_pinned_steps", 0, "distress.utilization_pinned_steps: must be >= 1"),
        ("utilization_pinned_steps", 2.5, "distress.utilization_pinned_steps: must be an"),
        ("bad_debt_usd", 1000.0, "distress.bad_debt_usd: removed: bad debt is now measured "
                                 "against the market's size; set bad_debt_share"),
        ("bad_debt_share", 0.0, "distress.bad_debt_share: must be > 0"),
        ("shortfall_share", 1.0, "distress.shortfall_share: must be < 1"),
        ("recover_ratio", 1.5, "distress.recover_ratio: must be <= 1"),
        ("min_steps", 0, "distress.min_steps: must be >= 1"),
        ("pool_tvl_drop", "half", "distress.pool_tvl_drop: must be a number"),
        ("runway_months_floor", -3, "distress.runway_months_floor: must be >= 0"),
        ("tvl_drop", 0.5, "distress.tvl_drop: unknown field"),
    ],
)
def test_bad_thresholds_are_rejected_with_the_field_named(field, value, message):
    raw = pair()
    raw["distress"] = {field: value}
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_scenario(raw)


def test_same_seed_same_distress_log():
    a, b = run(pair()), run(pair())
    assert [e for e in a.events if e["kind"] in ("distress", "recovered")] == [
        e for e in b.events if e["kind"] in ("distress", "recovered")]


def with_vault() -> dict:
    raw = pair()
    raw["protocols"].append({"kind": "option_vault", "name": "eth-cc", "underlying": "ETH",
                             "quote": "USDC", "deposits": 1000})
    return raw


@pytest.mark.parametrize("navs, expected", [
    # Peak 1.02; 0.9 is 11.8 % below it (> 10 %) at step 3; 0.93 (8.8 %) and 0.96 (5.9 %)
    # stay above the 5 % leave threshold: logged at step 5, since 3. 0.97 (4.9 %) is inside
    # it from step 6: recovered at step 8, since 6.
    ([1.0, 1.02, 0.95, 0.9, 0.93, 0.96, 0.97, 0.99, 0.99, 1.0],
     [(5, "distress", 3, round(1 - 0.96 / 1.02, 6)), (8, "recovered", 6, 0.0)]),
    # the same dip back inside 5 % after two steps: a flicker, never logged
    ([1.0, 1.02, 0.95, 0.9, 0.93, 0.97, 0.99, 0.99, 1.0, 1.0], []),
])
def test_vault_nav_drop_is_measured_from_its_peak(navs, expected):
    model = run(with_vault(), steps=0)
    navs = iter(navs)
    monitor = DistressMonitor(model.world, model.config, "treasury", runway=lambda: math.inf,
                              value=lambda: 0.0, vault_nav=lambda name: next(navs))
    changes = [monitor.evaluate(step) for step in range(10)]
    vault = [(step, c.kind, c.since, round(c.value, 6)) for step, cs in enumerate(changes)
             for c in cs if c.node == "eth-cc"]
    assert vault == expected
    assert monitor.first_distress.get("eth-cc") == (3 if expected else None)


def test_the_model_reads_the_vault_nav_it_collected():
    raw = with_vault()
    raw["assets"][0]["sigma"] = 0.8
    model = run(raw, steps=30)
    vault = model.world.vaults["eth-cc"]
    assert model._collected_vault_nav("eth-cc") == pytest.approx(vault.nav_per_share(30))
