"""BorrowerCohort: the opening distribution, the exact reaction delay, top-ups, repayments
and lever-ups restoring the target HF, refusals, and random price paths."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.borrowers import TRIGGER_HF, BorrowerCohort
from protocols.errors import ConfigError, InsufficientLiquidity
from sim.assembly import build_world
from sim.scenario import parse_scenario
from spec import BorrowerCohort as Spec
from tests.conftest import FakeHost

LT, LTV = 0.825, 0.8
FLOOR = LT / LTV  # 1.03125: the HF of a position borrowing its full LTV


def make_world(usdc_supply=2e9):
    scenario = parse_scenario(
        {
            "assets": [
                {"symbol": "WETH", "price": 2000.0},
                {"symbol": "USDC", "price": 1.0, "kind": "pegged"},
            ],
            "protocols": [
                {
                    "kind": "aave",
                    "name": "aave",
                    "reserves": {
                        "WETH": {"ltv": LTV, "liquidation_threshold": LT, "borrowable": False},
                        "USDC": {"initial_supply": usdc_supply},
                    },
                }
            ],
        }
    )
    return build_world(scenario, [2000.0, 1.0], [])


def cohort(n=50, world=None, seed=7, **spec):
    """A cohort of `n` positions; by default every position has 25 WETH and HF 1.6."""
    world = world or make_world()
    model = FakeHost(world, seed=seed)
    fields = {"size_usd_sigma": 0.0, "hf_sigma": 0.0} | spec
    agent = BorrowerCohort(
        model, Spec(market="aave", collateral="WETH", debt="USDC", positions=n, **fields)
    )
    return agent, model, world


def set_price(world, price, step=1):
    world.reference["WETH"].set(price)
    world.update_oracles(step)


def test_opening_distribution_matches_the_spec():
    agent, _, world = cohort(n=4000, size_usd_sigma=1.0, hf_sigma=0.2, seed=3)
    market = world.markets["aave"]
    hf = agent.health_factors()
    assert agent.holder == f"borrowers:{agent.unique_id}"
    assert np.median(hf) == pytest.approx(1.6, rel=0.02)  # s.e. of the median ~0.5 %
    assert np.log(hf).std() == pytest.approx(0.2, rel=0.1)
    assert hf.min() >= FLOOR
    assert hf == pytest.approx(agent.target_hf, rel=1e-12)
    assert hf == pytest.approx(market.health_factors()[agent.pids], rel=1e-12)
    size_usd = market.collateral_scaled[agent.pids, 0] * 2000.0
    assert np.median(size_usd) == pytest.approx(50_000.0, rel=0.06)  # s.e. ~2 %
    assert set(market.owner[agent.pids]) == {agent.holder}
    assert world.ledger.balance_of(agent.holder, "USDC") == pytest.approx(market.total_debt("USDC"))
    world.ledger.check_conservation()


def test_initial_hf_is_floored_at_lt_over_ltv():
    agent, _, _ = cohort(n=1000, hf_median=1.05, hf_sigma=0.2)
    hf = agent.health_factors()
    assert hf.min() >= FLOOR
    # log(1.03125/1.05)/0.2 = -0.09 sigma: ~46 % of the draws are floored.
    assert 0.35 < np.mean(hf < FLOOR * (1 + 1e-6)) < 0.57


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_reaction_delay_is_respected_exactly(delay):
    agent, model, world = cohort(n=20, topup_share=1.0, repay_share=0.0, reaction_delay=delay)
    weth_supply = world.ledger.total_supply("WETH")
    # HF 1.6 -> 1.6 x 1312.5/2000 = 1.05 < 1.1: below the trigger from now on.
    set_price(world, 1312.5)
    for step in range(1, delay + 1):
        agent.step()
        assert model.events == [] and agent.below.tolist() == [step] * 20
    agent.step()  # the (delay + 1)-th step below the trigger: every owner tops up
    (event,) = model.events
    # Top-up x = (1.6 D - W) / (p LT) = 25 (2000/1312.5 - 1) = 13.095238 WETH per position.
    assert event["topups"] == 20 and event["at_risk"] == 20
    assert event["topup_collateral"] == pytest.approx(20 * 25 * (2000 / 1312.5 - 1))
    assert agent.health_factors() == pytest.approx(1.6, rel=1e-12)
    assert world.ledger.total_supply("WETH") - weth_supply == pytest.approx(
        event["topup_collateral"]
    )  # outside money
    agent.step()
    assert agent.below.tolist() == [0] * 20 and len(model.events) == 1
    world.ledger.check_conservation()


def test_repay_restores_the_target_from_the_wallet():
    agent, model, world = cohort(n=10, repay_share=1.0, topup_share=0.0, reaction_delay=0)
    usdc_supply = world.ledger.total_supply("USDC")
    wallet = world.ledger.balance_of(agent.holder, "USDC")
    set_price(world, 1312.5)
    agent.step()
    (event,) = model.events
    # D = 25 x 2000 x 0.825 / 1.6 = 25781.25; repay y = D (1 - 1312.5/2000) = 8862.30.
    assert event["repays"] == 10
    assert event["repaid_debt"] == pytest.approx(10 * 25781.25 * (1 - 1312.5 / 2000))
    assert agent.health_factors() == pytest.approx(1.6, rel=1e-12)
    assert world.ledger.total_supply("USDC") == usdc_supply  # no outside money needed
    assert world.ledger.balance_of(agent.holder, "USDC") == pytest.approx(
        wallet - event["repaid_debt"]
    )
    world.ledger.check_conservation()


def test_repay_is_funded_from_outside_when_the_wallet_is_empty():
    agent, model, world = cohort(n=10, repay_share=1.0, topup_share=0.0, reaction_delay=0)
    wallet = world.ledger.balance_of(agent.holder, "USDC")
    world.ledger.transfer("USDC", agent.holder, "spent", wallet)
    usdc_supply = world.ledger.total_supply("USDC")
    set_price(world, 1312.5)
    agent.step()
    assert agent.health_factors() == pytest.approx(1.6, rel=1e-12)
    assert world.ledger.total_supply("USDC") - usdc_supply == pytest.approx(
        model.events[0]["repaid_debt"]
    )
    world.ledger.check_conservation()


def test_owners_decide_once_per_episode_in_the_configured_shares():
    n = 2000
    agent, model, world = cohort(n=n, topup_share=0.3, repay_share=0.2, reaction_delay=2)
    set_price(world, 1312.5)
    for _ in range(8):
        agent.step()
    (event,) = model.events  # only the 3rd step decides; passive owners stay passive
    for count, share in ((event["topups"], 0.3), (event["repays"], 0.2)):
        assert abs(count - n * share) < 4 * np.sqrt(n * share * (1 - share))
    acted = np.isclose(agent.health_factors(), 1.6, rtol=1e-9)
    assert acted.sum() == event["topups"] + event["repays"]
    assert np.all(agent.below[~acted] == 8)


def test_positions_above_leverup_hf_borrow_back_to_their_target():
    agent, model, world = cohort(n=500, hf_sigma=0.1, leverup_hf=2.5)
    target = agent.target_hf
    usdc_supply = world.ledger.total_supply("USDC")
    set_price(world, 2000 * 1.7)  # HF x 1.7: 1.6 -> 2.72
    before = agent.health_factors()
    lever = before > np.maximum(2.5, target * 1.01)
    assert 0 < lever.sum() < 500
    agent.step()
    (event,) = model.events
    assert event["leverups"] == lever.sum()
    after = agent.health_factors()
    assert after[lever] == pytest.approx(target[lever], rel=1e-12)
    assert after[~lever] == pytest.approx(before[~lever], rel=1e-12)
    assert world.ledger.total_supply("USDC") == usdc_supply  # borrowed from the market's cash
    world.ledger.check_conservation()


def test_drifts_within_the_rebalance_band_are_ignored():
    agent, model, world = cohort(n=20, hf_median=3.0, leverup_hf=2.5)  # born above leverup_hf
    set_price(world, 2000 * 1.008)  # HF 3.024: 0.8 % over target, inside the 1 % band
    agent.step()
    assert agent.health_factors() == pytest.approx(3.024) and model.events == []
    set_price(world, 2000 * 1.02, step=2)  # HF 3.06: 2 % over target
    agent.step()
    assert model.events[0]["leverups"] == 20
    assert agent.health_factors() == pytest.approx(3.0, rel=1e-12)


def test_no_cash_to_lever_up_is_skipped():
    agent, model, world = cohort(n=20, leverup_hf=1.5)
    market = world.markets["aave"]
    market.withdraw("suppliers:aave", "USDC", market.cash("USDC"))
    set_price(world, 4000.0)
    agent.step()
    assert model.events == []
    world.ledger.check_conservation()


@pytest.mark.parametrize(
    ("spec", "error", "names"),
    [
        ({"market": "nope"}, ConfigError, "market"),
        ({"collateral": "USDC"}, ConfigError, "collateral"),
        ({"debt": "WETH"}, ConfigError, "debt"),
        ({"topup_share": 0.7, "repay_share": 0.5}, ConfigError, "repay_share"),
    ],
)
def test_bad_specs_are_refused_and_change_nothing(spec, error, names):
    world = make_world()
    model = FakeHost(world, seed=7)
    before = world.ledger.snapshot()["balances"]
    fields = {"market": "aave", "collateral": "WETH", "debt": "USDC"} | spec
    with pytest.raises(error, match=names):
        BorrowerCohort(model, Spec(**fields))
    assert len(model.agents) == 0 and world.ledger.snapshot()["balances"] == before


def test_a_market_without_enough_cash_refuses_the_cohort_and_changes_nothing():
    world = make_world(usdc_supply=1e5)
    model = FakeHost(world, seed=7)

    def books():  # every non-zero balance and every supply
        ledger = world.ledger
        return {t: (ledger.holders(t), ledger.total_supply(t)) for t in ledger.tokens()}

    before = books()
    with pytest.raises(InsufficientLiquidity):
        BorrowerCohort(model, Spec(market="aave", collateral="WETH", debt="USDC"))
    assert len(model.agents) == 0 and world.markets["aave"].n_positions == 0
    assert books() == before


@settings(max_examples=60, deadline=None)
@given(
    moves=st.lists(st.floats(-0.15, 0.15), min_size=1, max_size=12),
    delay=st.integers(0, 3),
    topup=st.floats(0.0, 0.6),
    repay=st.floats(0.0, 0.4),
    seed=st.integers(0, 10),
)
def test_random_price_paths_keep_the_books(moves, delay, topup, repay, seed):
    agent, _, world = cohort(
        n=200, seed=seed, hf_sigma=0.25, size_usd_sigma=1.0, reaction_delay=delay,
        topup_share=topup, repay_share=repay, leverup_hf=2.0,
    )
    price = 2000.0
    below = np.zeros(200, dtype=int)
    for step, move in enumerate(moves, start=1):
        price *= np.exp(move)
        set_price(world, price, step)
        before = agent.health_factors()
        below = np.where(before < TRIGGER_HF, below + 1, 0)
        agent.step()
        assert np.array_equal(agent.below, below)
        after = agent.health_factors()
        # Every position either did nothing or went exactly to its target.
        unchanged = np.isclose(after, before, rtol=1e-12) | (np.isinf(after) & np.isinf(before))
        assert np.all(unchanged | np.isclose(after, agent.target_hf, rtol=1e-9))
        world.ledger.check_conservation()  # and no negative balance
