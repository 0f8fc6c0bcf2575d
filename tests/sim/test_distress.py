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


@pytest.mark.parametrize("k", [1, 3, 5])
def test_a_supplier_run_pins_utilization_and_distress_starts_after_k_steps(k):
    # Suppliers of A pull everything at step 3: A's USDC cash is lent out to the last unit,
    # and with flat prices nobody repays - utilization stays at 100 % from step 3 on.
    raw = with_shocks(pair(), [{"kind": "liquidity_withdrawal", "step": 3,
                                "protocol": "market-a", "fraction": 1.0}],
                      utilization_pinned_steps=k)
    model = run(raw, steps=12)
    assert model.world.markets["market-a"].is_pinned("USDC")
    events = [e for e in model.events if e["kind"] == "distress" and e["node"] == "market-a"]
    assert [(e["step"], e["cause"]) for e in events] == [(3 + k - 1, "utilization_pinned:USDC")]
    assert events[0]["value"] == k
    model.world.ledger.check_conservation()


def test_thresholds_come_from_the_scenario():
    crash = [{"kind": "crash", "step": 10, "asset": "ETH", "size": 0.3}]
    loose = run(with_shocks(pair(), crash, pool_price_deviation=0.9), steps=12)
    tight = run(with_shocks(pair(), crash, pool_price_deviation=0.002), steps=12)
    assert "eth-usdc" not in distress_steps(loose)
    # The reference falls 30 % at step 10; the arbitrage leaves the pool 0.25 % off it,
    # inside its 0.3 % fee band (the liquidators sell off-chain, where depth is unlimited):
    # distressed under a 0.2 % threshold, not under 90 %.
    first = [e for e in tight.events if e["kind"] == "distress" and e["node"] == "eth-usdc"]
    assert first and first[0]["step"] == 10 and first[0]["cause"] == "price_deviation"
    ts = tight.timeseries().set_index("step")
    off = abs(ts["pool_price:eth-usdc"] / ts["price:ETH"] - 1.0)
    flagged = {e["step"] for e in tight.events
               if e["kind"] == "distress" and e["node"] == "eth-usdc"}
    assert flagged <= set(off.index[off > 0.002])


def test_depeg_marks_the_issuer_and_it_recovers_with_the_peg():
    raw = with_shocks(pair(), [{"kind": "depeg", "step": 5, "asset": "DAI", "depth": 0.1,
                                "duration": 4, "recovery": 8}], depeg=0.02)
    model = run(raw, steps=30)
    ts = model.timeseries().set_index("step")
    off = (abs(ts["price:DAI"] - 1.0) > 0.02).astype(int)
    expected_in = [s for s in off.index[1:] if off[s] and not off[s - 1]]
    expected_out = [s for s in off.index[1:] if off[s - 1] and not off[s]]
    got_in = [e["step"] for e in model.events
              if e["kind"] == "distress" and e["node"] == "issuer:DAI"]
    got_out = [e["step"] for e in model.events
               if e["kind"] == "recovered" and e["node"] == "issuer:DAI"]
    assert got_in == expected_in and len(got_in) == 1
    assert got_out == expected_out and got_out[0] > got_in[0]
    assert [e["cause"] for e in model.events if e.get("node") == "issuer:DAI"] == [
        "depeg", "depeg"]


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


def test_bad_debt_distress_is_reported_when_it_first_appears():
    model = run(pair(), steps=40)
    ts = model.timeseries().set_index("step")
    first_bad = int(ts.index[ts["bad_debt:market-a:USDC"] > 0][0])
    assert distress_steps(model)["market-a"] == first_bad == 25  # the unfreeze step


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("depeg", 1.5, "distress.depeg: must be < 1"),
        ("depeg", 0.0, "distress.depeg: must be > 0"),
        ("utilization_pinned_steps", 0, "distress.utilization_pinned_steps: must be >= 1"),
        ("utilization_pinned_steps", 2.5, "distress.utilization_pinned_steps: must be an"),
        ("bad_debt_usd", -1.0, "distress.bad_debt_usd: must be >= 0"),
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


def test_vault_nav_drop_is_measured_from_its_peak():
    model = run(with_vault(), steps=0)
    navs = iter([1.0, 1.02, 0.95, 0.9, 0.93, 0.97])
    monitor = DistressMonitor(model.world, model.config, "treasury", runway=lambda: math.inf,
                              value=lambda: 0.0, vault_nav=lambda name: next(navs))
    changes = [monitor.evaluate(step) for step in range(6)]
    vault = [(step, c.kind, round(c.value, 6)) for step, cs in enumerate(changes) for c in cs
             if c.node == "eth-cc"]
    # Peak 1.02; 0.9 is 11.8 % below it (> 10 %), 0.93 still 8.8 % -> recovered.
    assert vault == [(3, "distress", round(1 - 0.9 / 1.02, 6)), (4, "recovered", 0.0)]
    assert monitor.first_distress["eth-cc"] == 3


def test_the_model_reads_the_vault_nav_it_collected():
    raw = with_vault()
    raw["assets"][0]["sigma"] = 0.8
    model = run(raw, steps=30)
    vault = model.world.vaults["eth-cc"]
    assert model._collected_vault_nav("eth-cc") == pytest.approx(vault.nav_per_share(30))
