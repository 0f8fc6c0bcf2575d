"""The allocator in the model: opex, slippage-limited rebalancing through thin pools,
borrowing against GOV, venues that refuse (a lending market at 100 % utilization, a vault's
withdrawal queue), conservation after every step and determinism."""

from __future__ import annotations

import copy
import math

import pytest

from agents.allocator import HOURS_PER_MONTH, Allocator
from agents.policies import Decision
from protocols.errors import PolicyError
from protocols.names import PAYEES, TREASURY
from sim.model import TreasuryModel
from sim.scenario import parse_scenario

GOV_RESERVE = {"ltv": 0.55, "liquidation_threshold": 0.65, "liquidation_bonus": 0.1,
               "borrowable": False}
USDC_RESERVE = {"ltv": 0.77, "liquidation_threshold": 0.8, "liquidation_bonus": 0.045,
                "initial_supply": 20e6}


def world(policy: dict | None = None, **treasury) -> dict:
    """Flat prices (no noise, no arbitrage) so every number is hand-checkable: a thin
    $400k GOV/USDC v2 pool, a deep ETH/USDC v2 pool, a USDC/DAI Curve pool, a lending market
    taking GOV as collateral, an ETH covered-call vault."""
    raw = {
        "name": "alloc", "seed": 5, "steps": 48,
        "gas": {"base_gwei": 10.0, "vol": 0.0, "vol_sensitivity": 0.0},
        "assets": [
            {"symbol": "ETH", "price": 2000.0, "sigma": 0.0},
            {"symbol": "GOV", "price": 2.0, "sigma": 0.0},
            {"symbol": "USDC", "price": 1.0, "kind": "pegged", "peg_noise": 0.0},
            {"symbol": "DAI", "price": 1.0, "kind": "pegged", "peg_noise": 0.0},
        ],
        "protocols": [
            {"kind": "uniswap_v2", "name": "gov-usdc", "tokens": ["GOV", "USDC"],
             "tvl_usd": 400e3},
            {"kind": "uniswap_v2", "name": "eth-usdc", "tokens": ["ETH", "USDC"],
             "tvl_usd": 200e6},
            {"kind": "curve", "name": "stables", "tokens": ["USDC", "DAI"], "tvl_usd": 100e6},
            {"kind": "aave", "name": "aave", "reserves": {"GOV": GOV_RESERVE,
                                                          "USDC": USDC_RESERVE}},
            {"kind": "option_vault", "name": "cc", "underlying": "ETH", "quote": "USDC",
             "epoch_days": 1, "deposits": 100},
        ],
        "agents": {"arbitrageurs": {"count": 0}, "liquidators": {"count": 0},
                   "liquidity_providers": {"count": 1}},
        "treasury": {"holdings": {"ETH": 500, "GOV": 500_000, "USDC": 1_000_000},
                     "max_slippage": 0.02, "min_trade_usd": 1000, **treasury},
    }
    if policy is not None:
        raw["treasury"]["policy"] = policy
    return raw


def model(raw: dict) -> TreasuryModel:
    return TreasuryModel(parse_scenario(raw))


def events(m: TreasuryModel, kind: str, **match) -> list[dict]:
    return [e for e in m.events if e["kind"] == kind
            and all(e.get(k) == v for k, v in match.items())]


def test_opex_draws_down_stables_and_runway_is_exact():
    # 730,500 USD a month = 1,000 USDC an hour; 48 hours -> 48,000 paid.
    m = model(world(opex_usd_per_month=730_500))
    assert m.allocator.opex_per_step_usd == pytest.approx(730_500 / HOURS_PER_MONTH)
    m.run()
    ledger = m.world.ledger
    assert ledger.balance_of(PAYEES, "USDC") == pytest.approx(48_000, rel=1e-12)
    assert ledger.balance_of(TREASURY, "USDC") == pytest.approx(952_000, rel=1e-12)
    ts = m.timeseries()
    # runway = stables / monthly opex: 1,000,000 / 730,500 at the start, 952,000 / 730,500
    assert ts["runway_months"].iloc[0] == pytest.approx(1_000_000 / 730_500, rel=1e-12)
    assert ts["runway_months"].iloc[-1] == pytest.approx(952_000 / 730_500, rel=1e-12)
    assert m.summary()["treasury_opex_paid_usd"] == pytest.approx(48_000, rel=1e-12)
    ledger.check_conservation()


def test_opex_sells_other_stables_then_assets_when_the_opex_token_runs_out():
    # 5,000 USDC held, 10,000 USDC due per hour: step 1 sells 5,000 x 1.02 = 5,100 DAI
    # (the cushion covers the Curve fee); step 2 needs ~9,900 more: the last 6,900 DAI,
    # then ETH for the rest.
    m = model(world(opex_usd_per_month=7_305_000,
                    holdings={"USDC": 5_000, "DAI": 12_000, "ETH": 100}))
    m.step()
    swaps = events(m, "rebalance", action="swap", reason="opex")
    assert [s["sell"] for s in swaps] == ["DAI"]
    assert m.world.ledger.balance_of(PAYEES, "USDC") == pytest.approx(10_000)
    m.step()
    swaps = events(m, "rebalance", action="swap", reason="opex")
    assert [s["sell"] for s in swaps] == ["DAI", "DAI", "ETH"]
    assert swaps[0]["amount_in"] == pytest.approx(5_100)
    assert m.world.ledger.balance_of(TREASURY, "DAI") == 0.0
    assert m.world.ledger.balance_of(PAYEES, "USDC") == pytest.approx(20_000)
    assert not events(m, "allocator_failed")
    m.world.ledger.check_conservation()


def test_opex_shortfall_is_recorded_when_nothing_is_left():
    m = model(world(opex_usd_per_month=7_305_000, holdings={"USDC": 15_000}))
    m.step()
    m.step()
    failed = events(m, "allocator_failed", reason="opex_shortfall")
    assert len(failed) == 1 and failed[0]["shortfall_usd"] == pytest.approx(5_000)
    assert m.allocator.opex_shortfall_usd == pytest.approx(5_000)


def test_rebalance_through_a_thin_pool_respects_the_slippage_limit():
    # Sell all 500k GOV ($1M at reference) into a pool holding 100k GOV / 200k USDC.
    # Uniswap v2 with fee f = 0.003: selling x pays 0.997 x R_out / (R_in + 0.997 x), so the
    # value ratio out / (x p) = 0.997 R_in / (R_in + 0.997 x). At slippage s = 2 %:
    # x = R_in (0.997 / 0.98 - 1) / 0.997 = 100,000 x 0.017347 = 1,739.9 GOV.
    m = model(world({"kind": "calendar", "every": 1,
                     "weights": {"ETH": 0.5, "USDC": 0.5}}))
    m.step()
    swap = events(m, "rebalance", action="swap", sell="GOV")[0]
    expected = 100_000 * (0.997 / 0.98 - 1) / 0.997
    assert swap["amount_in"] == pytest.approx(expected, rel=1e-6)
    assert swap["slippage"] <= 0.02 + 1e-12
    assert swap["slippage"] == pytest.approx(0.02, abs=1e-6)
    partial = events(m, "allocator_failed", reason="slippage_limit", sell="GOV")
    assert partial and partial[0]["filled"] == pytest.approx(expected, rel=1e-6)
    assert m.world.ledger.balance_of(TREASURY, "GOV") == pytest.approx(500_000 - expected)
    m.world.ledger.check_conservation()


def test_the_policy_sees_last_steps_failures_in_a_read_only_view():
    m = model(world({"kind": "calendar", "every": 1,
                     "weights": {"ETH": 0.5, "USDC": 0.5}}))
    m.step()
    view = m.allocator.view(m.steps)
    assert [f["reason"] for f in view.failures] == ["slippage_limit"]
    assert view.failures[0]["sell"] == "GOV"
    with pytest.raises(ValueError, match="read-only"):
        view.price_history[0, 0] = 1.0
    assert view.price_history.shape == (2, 4)


def test_below_minimum_trade_nothing_happens():
    m = model(world({"kind": "calendar", "every": 1}))  # already at its initial weights
    m.step()
    assert not events(m, "rebalance")
    assert m.allocator.turnover_usd == 0.0


def test_rebalance_hits_targets_through_deep_pools_and_pays_gas():
    # ETH 1M, GOV 1M, USDC 1M at start; target ETH 0.2 / USDC 0.8 of the free portfolio:
    # GOV can only partly go (thin pool), ETH goes to ~20 % of the pre-trade $3M.
    m = model(world({"kind": "calendar", "every": 1,
                     "weights": {"ETH": 0.2, "USDC": 0.8}}))
    m.step()
    eth = m.world.ledger.balance_of(TREASURY, "ETH")
    assert eth * 2000 + m.allocator.costs_usd["gas"] == pytest.approx(0.2 * 3e6, rel=1e-9)
    sold = events(m, "rebalance", action="swap", sell="ETH")[0]
    # 200 ETH into a 50,000 ETH pool: fee 0.3 % plus impact 0.997 x 200 / 50,000 ~ 0.4 %
    assert sold["slippage"] == pytest.approx(1 - 0.997 * 50_000 / (50_000 + 0.997 * 200))
    # gas: 10 gwei x 200,000 units x $2000 = $4 per hop, paid in ETH to gas-fees
    assert sold["gas_usd"] == pytest.approx(4.0)
    assert m.world.ledger.balance_of("gas-fees", "ETH") > 0
    assert m.allocator.costs_usd["gas"] == pytest.approx(4.0 * 2)  # two swaps
    m.world.ledger.check_conservation()


@pytest.mark.parametrize(("safe", "holdings"), [
    ("USDC", {"ETH": 500, "USDC": 1_000_000}),  # ETH sold down to its target, none
    ("ETH", {"ETH": 500}),  # USDC bought with all of the safe asset, ETH
])
def test_selling_all_of_a_holding_never_sends_more_than_it_holds(safe, holdings):
    # Issue 14, #13: all 500 ETH are to go, an amount got as USD / price: at $1900.12,
    # 500 x 1900.12 / 1900.12 = 500.00000000000006, one ulp more than held; the ledger
    # refused it and the whole sale was lost as a `no_route` failure.
    raw = world({"kind": "calendar", "every": 1, "weights": {"USDC": 1.0}, "safe_asset": safe},
                holdings=holdings)
    raw["assets"][0]["price"] = price = 1900.12
    assert 500 * price / price > 500
    m = model(raw)
    m.step()
    assert not events(m, "allocator_failed")
    (swap,) = events(m, "rebalance", action="swap")
    assert (swap["sell"], swap["amount_in"]) == ("ETH", 500.0)
    # v2 out = 0.997 x in x R_USDC / (R_ETH + 0.997 x in), the pool's $200M split evenly
    r_eth, r_usdc = 100e6 / price, 100e6
    assert swap["amount_out"] == pytest.approx(0.997 * 500 * r_usdc / (r_eth + 0.997 * 500),
                                               rel=1e-12)
    assert m.world.ledger.balance_of(TREASURY, "ETH") == 0.0
    m.world.ledger.check_conservation()


def test_borrowing_against_gov_at_the_target_health_factor():
    # Borrow $100k USDC against GOV at HF 2: collateral = 2 x 100,000 / (0.65 x $2)
    # = 153,846.15 GOV posted.
    m = model(world({"kind": "static", "borrow": {"USDC": 100_000}, "collateral": "GOV",
                     "borrow_hf": 2.0}))
    m.step()
    book = m.allocator.book
    assert book.debt == pytest.approx({"USDC": 100_000})
    assert book.collateral == pytest.approx({"GOV": 2 * 100_000 / (0.65 * 2.0)})
    borrow = events(m, "treasury_borrow")[0]
    assert borrow["health_factor"] == pytest.approx(2.0)
    # NAV is unchanged by borrowing (up to gas): free + collateral - debt
    assert book.nav_usd == pytest.approx(m.allocator.initial_nav_usd, abs=20)
    assert book.exposure_usd["aave"] == pytest.approx(153_846.15 * 2, rel=1e-6)
    m.run()  # nothing else happens: the debt target is applied once
    assert len(events(m, "treasury_borrow")) == 1
    m.world.ledger.check_conservation()


def test_delta_hedge_shorts_eth_by_borrowing_against_gov():
    # Net ETH delta 1/3 of a $3M NAV; target -10 % +- 2 %: sell the 500 ETH and borrow
    # $300k = 150 ETH against GOV (posted at HF 2: 2 x 300,000 / (0.65 x $2) = 230,769 GOV),
    # selling it too. Afterwards the net delta is -150 ETH = -10 % of NAV (less costs).
    raw = world({"kind": "delta_hedge", "hedge_asset": "ETH", "target_delta": -0.1,
                 "delta_band": 0.02, "hedge_with": "borrow"})
    raw["protocols"][3]["reserves"]["ETH"] = {
        "ltv": 0.8, "liquidation_threshold": 0.83, "liquidation_bonus": 0.05,
        "initial_supply": 10_000}
    m = model(raw)
    m.step()
    book = m.allocator.book
    assert book.debt["ETH"] == pytest.approx(150, rel=1e-9)
    assert book.collateral["GOV"] == pytest.approx(2 * 300_000 / (0.65 * 2.0), rel=1e-9)
    assert m.world.ledger.balance_of(TREASURY, "ETH") == pytest.approx(0, abs=0.01)
    share = book.deltas["ETH"] * 2000 / book.nav_usd
    assert share == pytest.approx(-0.1, abs=0.003)
    assert book.nav_usd == pytest.approx(3e6, rel=0.01)  # minus fees and impact
    m.step()  # inside the band now: no further trade
    assert len(events(m, "treasury_borrow")) == 1
    m.world.ledger.check_conservation()


def test_lending_market_at_full_utilization_refuses_the_withdrawal():
    # Deposit USDC into aave, then borrowers take all its cash: the treasury's exit fails.
    m = model(world({"kind": "calendar", "every": 1000,
                     "weights": {"ETH": 0.4, "GOV": 0.3, "aave:aUSDC": 0.3}}))
    m.allocator.apply(Decision(weights={"ETH": 1 / 3, "GOV": 1 / 3, "aave:aUSDC": 1 / 3}))
    market = m.world.markets["aave"]
    assert m.world.ledger.balance_of(TREASURY, "aave:aUSDC") > 0
    assert events(m, "rebalance", action="enter", venue="aave")
    # a whale borrows every last USDC of cash
    whale = market.open_position("whale")
    m.world.fund("whale", "GOV", 1e9)
    market.deposit_collateral(whale, "GOV", 1e9)
    market.borrow(whale, "USDC", market.cash("USDC"))
    assert market.utilization("USDC") == pytest.approx(1.0)
    m.allocator.apply(Decision(weights={"ETH": 0.5, "GOV": 0.5}))
    failed = events(m, "allocator_failed", reason="market_illiquid")
    assert failed and failed[0]["utilization"] == pytest.approx(1.0)
    assert m.world.ledger.balance_of(TREASURY, "aave:aUSDC") > 0  # still stuck in there
    m.world.ledger.check_conservation()


def test_vault_withdrawal_waits_for_the_epoch_end():
    m = model(world() | {"steps": 72})
    m.allocator.apply(Decision(weights={"cc:shares": 0.2, "GOV": 1 / 3, "USDC": 1 - 0.2 - 1 / 3}))
    vault = m.world.vaults["cc"]
    assert vault.pending_of(TREASURY) * 2000 == pytest.approx(0.2 * 3e6, abs=8)  # gas in ETH
    for _ in range(25):  # a one-day epoch rolls: the deposit becomes shares
        m.step()
    shares = m.world.ledger.balance_of(TREASURY, "cc:shares")
    assert shares > 0
    m.allocator.apply(Decision(weights={"GOV": 0.5, "USDC": 0.5}))
    queued = events(m, "allocator_failed", reason="vault_queue")
    assert queued and queued[0]["shares"] == pytest.approx(shares)
    assert vault.queued_of(TREASURY) == pytest.approx(shares)
    for _ in range(24):
        m.step()
    assert vault.queued_of(TREASURY) == 0.0
    assert m.world.ledger.balance_of(TREASURY, "cc:shares") == 0.0
    m.world.ledger.check_conservation()


def test_v3_range_enter_and_exit():
    raw = world({"kind": "static", "v3_width": 0.1})
    raw["protocols"].append({"kind": "uniswap_v3", "name": "v3", "tokens": ["ETH", "DAI"],
                             "tvl_usd": 50e6})
    raw["treasury"]["holdings"] = {"ETH": 500, "DAI": 1_000_000}
    m = model(raw)
    pool = m.world.pools["v3"]
    m.allocator.apply(Decision(weights={"v3:v3": 0.5, "ETH": 0.25, "DAI": 0.25}))
    (pid,) = pool.positions_of(TREASURY)
    position = pool.position(pid)
    # +-10 % around 2000 DAI/ETH, ticks rounded outward to the 10-tick spacing
    assert 1.0001 ** position.tick_lower == pytest.approx(1800, rel=1e-3)
    assert 1.0001 ** position.tick_upper == pytest.approx(2200, rel=1e-3)
    assert position.tick_lower <= math.log(1800) / math.log(1.0001)
    value = m.allocator.book.values_usd["v3:v3"]
    assert value == pytest.approx(0.5 * 2e6, rel=2e-3)  # swaps cost fees and impact
    assert m.allocator.book.exposure_usd["v3"] == pytest.approx(value)
    m.allocator.apply(Decision(weights={"ETH": 0.5, "DAI": 0.5}))
    assert pool.positions_of(TREASURY) == []
    assert m.allocator.book.nav_usd == pytest.approx(2e6, rel=1e-3)
    m.world.ledger.check_conservation()


@pytest.mark.parametrize("policy", [
    {"kind": "calendar", "every": 6, "weights": {"ETH": 0.3, "GOV": 0.2, "USDC": 0.3,
                                                 "aave:aUSDC": 0.1, "cc:shares": 0.1}},
    {"kind": "vol_target", "target_vol": 0.2, "half_life": 12, "band": 0.01},
    {"kind": "cppi", "floor": 0.9, "multiplier": 5, "every": 4},
    {"kind": "risk_parity", "method": "erc", "half_life": 12, "band": 0.01},
    {"kind": "delta_hedge", "hedge_asset": "GOV", "delta_band": 0.02, "hedge_with": "sell"},
    {"kind": "threshold", "band": 0.01, "borrow": {"USDC": 200_000}},
])
def test_conservation_after_every_step_with_a_moving_market(policy):
    raw = world(policy, opex_usd_per_month=500_000)
    raw["assets"][0]["sigma"] = 1.2
    raw["assets"][1]["sigma"] = 1.5
    raw["agents"]["arbitrageurs"] = {"count": 1, "capital_usd": 5e6}
    raw["shocks"] = [{"kind": "crash", "step": 20, "asset": "ETH", "size": 0.3}]
    m = model(raw)
    for _ in range(raw["steps"]):
        m.step()
        m.world.ledger.check_conservation()
        assert m.world.ledger.balance_of(TREASURY, "USDC") >= 0
    summary = m.summary()
    assert summary["treasury_opex_paid_usd"] == pytest.approx(
        500_000 * 48 / HOURS_PER_MONTH, rel=1e-9)
    assert summary["treasury_nav_liq_end_usd"] <= summary["treasury_nav_end_usd"] + 1e-6


def test_same_seed_same_results():
    raw = world({"kind": "vol_target", "target_vol": 0.2, "half_life": 12, "band": 0.01})
    raw["assets"][0]["sigma"] = 1.0
    a, b = model(copy.deepcopy(raw)), model(copy.deepcopy(raw))
    a.run()
    b.run()
    assert a.summary() | {"runtime_s": 0} == b.summary() | {"runtime_s": 0}
    assert a.events == b.events


def test_allocator_is_created_with_the_treasury():
    m = model(world())
    assert isinstance(m.allocator, Allocator)
    assert m.allocator.initial_nav_usd == pytest.approx(500 * 2000 + 500_000 * 2 + 1e6)
    assert m.allocator.initial_weights == pytest.approx({"ETH": 1 / 3, "GOV": 1 / 3,
                                                          "USDC": 1 / 3})


@pytest.mark.parametrize("name", ["baseline", "policy_calendar", "policy_vol_target",
                                  "policy_cppi", "policy_delta_hedge"])
def test_shipped_policy_scenarios_run_and_conserve(name):
    from pathlib import Path

    from sim.scenario import load_scenario

    path = Path(__file__).parents[2] / "experiments" / "scenarios" / f"{name}.toml"
    config = load_scenario(path, {"steps": 30, "shocks": []})
    m = TreasuryModel(config)
    m.run()
    m.world.ledger.check_conservation()
    assert config.treasury.opex_usd_per_month == 500_000
    assert m.summary()["treasury_opex_paid_usd"] == pytest.approx(500_000 * 30 / HOURS_PER_MONTH)


# -- what a user policy may answer (issue 14, #11) ---------------------------------------
class TypoPolicy:
    """Names an asset that does not exist: read literally, "hold none" of everything else."""

    def decide(self, view):
        return {"ETHH": 0.5, "USDC": 0.5}


class FailingPolicy:
    """A user policy whose own code breaks at step 2."""

    def decide(self, view):
        if view.step == 2:
            return {"ETH": 1.0}[view.safe_asset]  # KeyError: 'USDC'
        return None


class NaNPolicy:
    """Answers a NaN weight (e.g. a volatility estimate of too short a history)."""

    def decide(self, view):
        return {"ETH": math.nan, "USDC": 0.5}


class NaNDebtPolicy:
    """Answers a NaN debt target: read as 0, it would repay every debt."""

    def decide(self, view):
        return Decision(debt_usd={"USDC": math.nan})


def user(name: str) -> dict:
    return {"kind": f"tests.agents.test_allocator.{name}"}


HOLDINGS = {"ETH": 500, "GOV": 500_000, "USDC": 1_000_000}


def test_a_user_policy_naming_an_unknown_key_is_refused_before_any_trade():
    m = model(world(user("TypoPolicy")))
    with pytest.raises(PolicyError) as info:
        m.step()
    message = str(info.value)
    assert "treasury.policy 'tests.agents.test_allocator.TypoPolicy' at step 1" in message
    assert "unknown keys ['ETHH']" in message
    # what it could have said: the assets and the venue tokens of this world
    assert "assets ['DAI', 'ETH', 'GOV', 'USDC']" in message
    assert "'aave:aUSDC'" in message and "'cc:shares'" in message and "'stables:LP'" in message
    # nothing was sold (the bug sold all 500 ETH and what GOV the thin pool took)
    assert m.world.ledger.balances_of(TREASURY) == pytest.approx(HOLDINGS)
    assert not events(m, "rebalance")
    assert m.allocator.turnover_usd == 0.0


def test_an_exception_in_a_user_policy_names_the_policy_and_the_step():
    m = model(world(user("FailingPolicy")))
    m.step()  # step 1: holds
    with pytest.raises(PolicyError) as info:
        m.step()
    assert str(info.value) == (
        "treasury.policy 'tests.agents.test_allocator.FailingPolicy' at step 2: decide raised "
        "KeyError: 'USDC'")
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize(("name", "message"), [
    ("NaNPolicy", "weight of 'ETH' must be a finite number >= 0, got nan"),
    ("NaNDebtPolicy", "debt of 'USDC' must be a finite number >= 0, got nan"),
])
def test_a_non_finite_target_is_refused_naming_the_policy_and_the_step(name, message):
    m = model(world(user(name)))
    with pytest.raises(PolicyError) as info:
        m.step()
    assert str(info.value) == (
        f"treasury.policy 'tests.agents.test_allocator.{name}' at step 1: {message}")
    assert m.world.ledger.balances_of(TREASURY) == pytest.approx(HOLDINGS)
