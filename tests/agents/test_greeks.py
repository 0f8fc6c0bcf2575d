"""Greeks in the treasury book (issue 19): the book's delta, gamma and vega with a covered-call
vault, vault shares as holdings, the delta hedge with gamma / vega budgets, and the implied
vol that follows realized vol. Black-Scholes values are computed here from the formula."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from agents import event_kinds
from agents.policies.base import TreasuryView
from agents.policies.hedging import DeltaHedge
from agents.treasury_book import read_book
from protocols import names
from protocols.errors import ConfigError
from sim import columns
from sim.model import TreasuryModel
from sim.scenario import load_scenario
from sim.vault_vol import IV_FLOOR, RealizedVolIV

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "experiments" / "scenarios"
CRASH = SCENARIOS / "covered_call_crash.toml"
HEDGED = SCENARIOS / "covered_call_crash_hedged.toml"
#: N^-1(0.1): the vault writes 10-delta calls
Z10 = -1.2815515655446004


def short(path: Path, steps: int) -> TreasuryModel:
    """The scenario's first `steps` steps, before its shocks."""
    return TreasuryModel(load_scenario(path, {"steps": steps, "shocks": []}))


def n_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def n_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@pytest.fixture(scope="module")
def crash_model() -> TreasuryModel:
    return short(CRASH, 24)


# -- the book ------------------------------------------------------------------------------

def test_the_book_of_spot_plus_a_covered_call_position_by_hand(crash_model):
    """Step 0, after the first roll: S = 2000, sigma = 0.7 x 1.1 = 0.77, T = 168 h / 8760 h,
    K the 10-delta strike S exp(-N^-1(0.1) sigma sqrt T + sigma^2 T / 2). The treasury holds
    2,500 ETH and 7,500 of the vault's 12,500 shares (the depositors hold 5,000): 60 % of the
    vault's book, whose 12,500 ETH carry 12,500 short calls and the premium they earned."""
    world = crash_model.world
    vault = world.vaults["eth-covered-call"]
    s, sigma, t = 2000.0, 0.77, 168 / 8760
    sqrt_t = math.sqrt(t)
    strike = s * math.exp(-Z10 * sigma * sqrt_t + 0.5 * sigma**2 * t)
    assert vault.epoch.strike == pytest.approx(strike, rel=1e-12)
    d1 = (math.log(s / strike) + 0.5 * sigma**2 * t) / (sigma * sqrt_t)
    assert n_cdf(d1) == pytest.approx(0.1, rel=1e-12)
    call = s * n_cdf(d1) - strike * n_cdf(d1 - sigma * sqrt_t)  # r = 0
    n, share = 12_500.0, 7_500.0 / 12_500.0
    held = n + n * call / s  # ETH in the vault: deposits + premium (paid in ETH)
    book = read_book(world, names.TREASURY, 0)
    # delta: spot 1 each, the vault's share x (its ETH - n N(d1))
    assert book.deltas["ETH"] == pytest.approx(2_500 + share * (held - n * 0.1), rel=1e-9)
    assert book.deltas["ETH"] == pytest.approx(9_286.2505, abs=1e-3)
    gamma = -share * n * n_pdf(d1) / (s * sigma * sqrt_t)
    vega = -share * n * s * n_pdf(d1) * sqrt_t / 100.0
    assert book.gammas == {"ETH": pytest.approx(gamma, rel=1e-9)}
    assert book.vegas == {"ETH": pytest.approx(vega, rel=1e-9)}
    assert gamma == pytest.approx(-6.1718, abs=1e-4) and vega == pytest.approx(-3645.58, abs=0.01)
    # the shares are worth the vault's NAV: 60 % of (held - n C / S) ETH
    assert book.values_usd[vault.shares] == pytest.approx(share * (held - n * call / s) * s)


def test_holdings_of_vault_shares_are_deposited_and_minted_at_the_first_roll(crash_model):
    ledger = crash_model.world.ledger
    assert ledger.balance_of(names.TREASURY, "eth-covered-call:shares") == pytest.approx(7_500.0)
    assert ledger.balance_of(names.TREASURY, "ETH") == 2_500.0  # the spot, untouched
    assert ledger.total_supply("eth-covered-call:shares") == pytest.approx(12_500.0)
    # a static policy keeps them: the initial weights name the shares
    assert crash_model.allocator.initial_weights["eth-covered-call:shares"] == pytest.approx(
        15e6 / 50e6)


def test_the_greek_columns_carry_the_book(crash_model):
    crash_model.run()
    ts = crash_model.timeseries()
    book = crash_model.allocator.book
    for kind, values in ((columns.TREASURY_DELTA, book.deltas),
                         (columns.TREASURY_GAMMA, book.gammas),
                         (columns.TREASURY_VEGA, book.vegas)):
        column = columns.treasury_greek(kind, "ETH")
        assert ts[column].iloc[-1] == values.get("ETH", 0.0)
    assert ts[columns.treasury_greek(columns.TREASURY_GAMMA, "ETH")].iloc[0] == 0.0  # pending
    assert ts[columns.treasury_greek(columns.TREASURY_GAMMA, "ETH")].iloc[1] < 0.0


# -- the hedge -----------------------------------------------------------------------------

def view(**fields) -> TreasuryView:
    """NAV $10M: 2,000 ETH spot at $2,000 ($4M), vault shares worth $3M whose book delta is
    1,350 ETH (1,500 ETH less 1,500 short 10-delta calls), $3M USDC."""
    values = {"ETH": 4e6, "v:shares": 3e6, "USDC": 3e6}
    base = dict(
        step=5, steps_per_year=8760.0, nav_usd=10e6, initial_nav_usd=10e6, free_usd=10e6,
        values_usd=values, weights={k: v / 10e6 for k, v in values.items()},
        initial_weights={}, prices={"ETH": 2000.0, "USDC": 1.0}, assets=("ETH", "USDC"),
        price_history=np.zeros((6, 2)), nav_history=np.zeros(6),
        deltas={"ETH": 2_000 + 1_350, "USDC": 3e6}, debt_usd={}, stables=frozenset({"USDC"}),
        safe_asset="USDC", gammas={"ETH": -5.0}, vegas={"ETH": -3_000.0})
    return TreasuryView(**(base | fields))


def test_the_hedge_brings_the_book_delta_to_target_counting_the_vault():
    """Before: 3,350 ETH = $6.7M = 67 % of NAV. Target 30 %: sell $3.7M of ETH, keeping
    $0.3M = 150 ETH; after: 150 + 1,350 = 1,500 ETH = $3M = 30 %. The vault is kept."""
    policy = DeltaHedge("ETH", target_delta=0.3, delta_band=0.05)
    v = view()
    assert policy.delta_share(v) == pytest.approx(0.67)
    decision = policy.decide(v)
    assert decision.weights["ETH"] == pytest.approx(0.03)
    assert decision.weights["v:shares"] == pytest.approx(0.3)
    assert decision.weights["USDC"] == pytest.approx(0.67)
    after = decision.weights["ETH"] * 10e6 / 2000 + 1_350
    assert after == pytest.approx(1_500.0)
    assert after * 2000 / 10e6 == pytest.approx(0.3)
    assert not decision.events


def test_a_gamma_budget_cuts_the_vault_shares_by_budget_over_exposure():
    """Dollar gamma |-5| x 2000^2 / 100 = $200k = 2 % of NAV; vega $3k = 0.03 %. Budget
    0.5 %: keep 0.25 of the shares ($0.75M of $3M); the delta is inside its band."""
    policy = DeltaHedge("ETH", target_delta=0.67, delta_band=0.05, gamma_budget=0.005,
                        vega_budget=0.001)
    v = view()
    assert policy.gamma_share(v) == pytest.approx(0.02)
    assert policy.vega_share(v) == pytest.approx(0.0003)
    decision = policy.decide(v)
    assert decision.weights["v:shares"] == pytest.approx(0.3 * 0.25)
    assert decision.weights["ETH"] == pytest.approx(0.4)  # no hedge trade
    assert decision.weights["USDC"] == pytest.approx(1 - 0.4 - 0.075)
    [(kind, fields)] = decision.events
    assert kind == event_kinds.GREEKS_BUDGET and fields["keep"] == pytest.approx(0.25)
    # vega binding instead: 0.03 % against 0.01 % keeps a third
    tight = DeltaHedge("ETH", target_delta=0.67, vega_budget=0.0001)
    assert tight.decide(v).weights["v:shares"] == pytest.approx(0.1)
    # shares already queued for the roll: no second request, and no trade at all
    assert policy.decide(view(queued_usd={"v:shares": 1e6})) is None


def test_the_hedged_scenario_holds_its_delta_and_budget_after_the_roll():
    """Step 1: the spot ETH is sold and 57 % of the shares are queued (gamma 0.47 % of NAV
    against a 0.2 % budget), but until the roll the vault's delta cannot be sold. At the
    roll (step 168) the redeemed ETH is sold the same step: the delta share falls from ~29 %
    to ~11.5 %, which is all the vault's (no spot left to sell), and gamma stays in budget."""
    model = short(HEDGED, 200)
    model.run()
    ts = model.timeseries()
    share = (ts[columns.treasury_greek(columns.TREASURY_DELTA, "ETH")] * ts["price:ETH"]
             / ts[columns.TREASURY_NAV])
    assert share.iloc[0] == pytest.approx(0.4)  # 7,500 + 2,500 ETH pending / held
    assert share.iloc[100] > 0.25 and share.iloc[167] > 0.25  # the shares wait for the roll
    assert 0.1 < share.iloc[168] < 0.12
    assert model.world.ledger.balance_of(names.TREASURY, "ETH") == 0.0
    gamma = (ts[columns.treasury_greek(columns.TREASURY_GAMMA, "ETH")].abs()
             * ts["price:ETH"] ** 2 / 100 / ts[columns.TREASURY_NAV])
    # 0.46 % at step 1; after the roll 43 % of the shares are left (keep 0.43): 0.22 %, cut
    # again (keep 0.93) - that request waits for the next roll while the calls near the money
    assert gamma.iloc[1] == pytest.approx(0.004645, abs=1e-6)
    assert gamma.iloc[168] == pytest.approx(0.002163, abs=1e-6)
    kinds = [e["kind"] for e in model.events if e.get("actor") == names.TREASURY]
    assert kinds.count(event_kinds.GREEKS_BUDGET) == 2


# -- implied vol ---------------------------------------------------------------------------

def test_implied_vol_follows_ewma_realized_vol_on_a_hand_path():
    """Half-life 1 step (lambda 1/2), 4 steps a year, prior 0.5, premium 10 %:
    var1 = 0.5 x 0.25 + 0.5 x ln(1.1)^2 x 4; var2 = 0.5 var1 + 0.5 ln(0.9)^2 x 4;
    a flat step halves it."""
    path = iter([100.0, 110.0, 99.0, 99.0])
    price = {"now": next(path)}
    iv = RealizedVolIV(lambda: price["now"], prior_vol=0.5, half_life_steps=1.0,
                       steps_per_year=4.0, vol_premium=0.1)
    assert iv.implied_vol() == pytest.approx(0.55)
    price["now"] = next(path)
    iv.observe()
    var1 = 0.125 + 2.0 * math.log(1.1) ** 2
    assert iv.realized_vol == pytest.approx(math.sqrt(var1))
    price["now"] = next(path)
    iv.observe()
    var2 = 0.5 * var1 + 2.0 * math.log(0.9) ** 2
    assert iv.realized_vol == pytest.approx(math.sqrt(var2))
    assert iv.implied_vol() == pytest.approx(math.sqrt(var2) * 1.1)
    price["now"] = next(path)
    iv.observe()
    assert iv.variance == pytest.approx(var2 / 2)
    calm = RealizedVolIV(lambda: 1.0, prior_vol=0.0, half_life_steps=5.0, steps_per_year=1.0,
                         vol_premium=0.2)
    assert calm.implied_vol() == pytest.approx(IV_FLOOR * 1.2)  # the floor


def test_vault_rolls_record_the_iv_of_the_rule():
    model = short(CRASH, 170)
    model.run()
    rolls = [e for e in model.events if e["kind"] == event_kinds.VAULT_ROLL]
    assert [e["step"] for e in rolls] == [0, 168]
    assert rolls[0]["iv"] == pytest.approx(0.77) and rolls[0]["realized_vol"] == 0.7
    assert rolls[1]["iv"] == pytest.approx(rolls[1]["realized_vol"] * 1.1)
    assert rolls[1]["realized_vol"] != 0.7


# -- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"treasury.holdings": {"nope:shares": 1.0}},
     "treasury.holdings.nope:shares: unknown asset 'nope:shares'"),
    ({"treasury.holdings": {"aave:aUSDC": 1.0}},
     "treasury.holdings.aave:aUSDC: a venue token; hold it in USD with "
     "treasury.venues.aave:aUSDC"),
    ({"treasury.policy.gamma_budget": -0.1}, "treasury.policy.gamma_budget"),
    ({"treasury.policy.vega_budget": -1}, "treasury.policy.vega_budget"),
    ({"protocols[eth-covered-call].iv_half_life_days": 0}, "iv_half_life_days"),
])
def test_bad_greek_input_is_refused_naming_the_field(overrides, message):
    with pytest.raises(ConfigError, match=None) as err:
        load_scenario(CRASH, overrides)
    assert message in str(err.value)


def test_the_policy_refuses_a_negative_budget_by_name():
    with pytest.raises(ConfigError, match="gamma_budget: must be >= 0"):
        DeltaHedge(gamma_budget=-0.01)
    with pytest.raises(ConfigError, match="vega_budget: must be a number"):
        DeltaHedge(vega_budget=float("nan"))
