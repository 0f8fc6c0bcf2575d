"""Market microstructure in whole runs: finite off-chain depth lets the agents' own trades
move the price everyone reads, an exploit that takes one side of a pool moves prices through
arbitrage, and every token stays conserved round after round."""

import numpy as np
import pytest

from agents.arbitrageur import Arbitrageur
from agents.liquidator import Liquidator
from sim.model import TreasuryModel
from sim.runner import release, run_scenario
from sim.scenario import parse_scenario

STATIC = {"kind": "static"}
#: Rebalance to 20 % GOV / 80 % USDC every day: sells most of the treasury's GOV.
SELL_GOV = {"kind": "calendar", "weights": {"GOV": 0.2, "USDC": 0.8}, "every": 24}


def gov_world(policy, depth=None, steps=96, shocks=(), seed=1, **extra):
    """ETH, GOV (optionally thin off-chain) and USDC; a $30M GOV/ETH and a $100M ETH/USDC v2
    pool; a treasury of 4M GOV ($20M) and $1M USDC that may trade 20 % below reference."""
    gov = {"symbol": "GOV", "price": 5.0, "sigma": 1.1}
    if depth is not None:
        gov["external_depth_usd"] = depth
    return parse_scenario({
        "seed": seed, "steps": steps, "shocks": list(shocks), **extra,
        "assets": [{"symbol": "ETH", "price": 2000.0, "sigma": 0.7}, gov,
                   {"symbol": "USDC", "price": 1.0, "kind": "pegged"}],
        "protocols": [
            {"kind": "uniswap_v2", "name": "gov-eth", "tokens": ["GOV", "ETH"], "tvl_usd": 30e6},
            {"kind": "uniswap_v2", "name": "eth-usdc", "tokens": ["ETH", "USDC"],
             "tvl_usd": 100e6},
        ],
        "agents": {"liquidity_providers": {"count": 1}},
        "treasury": {"holdings": {"GOV": 4e6, "USDC": 1e6}, "policy": policy,
                     "max_slippage": 0.2},
    })


def gov_path(scenario):
    return run_scenario(scenario).timeseries["price:GOV"].to_numpy()


def test_a_treasury_selling_gov_into_a_thin_market_lowers_its_price():
    # The treasury sells ~$10M of GOV into the GOV/ETH pool; arbitrageurs buy it back there
    # and sell it off-chain. With $300k of depth per 1 %, that flow pushes GOV's off-chain
    # log price down by tens of percent, two thirds of which never decays: the run ends
    # well below the static treasury's GOV on the same seed (same fundamental path).
    static, selling = gov_path(gov_world(STATIC, 3e5)), gov_path(gov_world(SELL_GOV, 3e5))
    assert selling[-1] < 0.95 * static[-1]
    # With unlimited depth nothing the agents do moves the off-chain price: the GOV path is
    # the fundamental one, bit for bit, whatever the treasury does.
    np.testing.assert_array_equal(gov_path(gov_world(STATIC)), gov_path(gov_world(SELL_GOV)))


def test_draining_the_eth_side_of_the_gov_pool_crashes_gov_offchain():
    # Half the pool's ETH goes to the exploiter at step 10: GOV is worth half as much ETH in
    # the pool, arbitrageurs buy the cheap GOV there and sell it off-chain, and with finite
    # depth that flow leaves GOV's off-chain price lower than in the same run without the
    # exploit; with unlimited depth it cannot move it at all.
    exploit = {"kind": "exploit", "step": 10, "protocol": "gov-eth", "fraction": 0.5,
               "take": ["ETH"]}
    for depth, moved in ((3e5, True), (None, False)):
        calm = gov_path(gov_world(STATIC, depth, steps=24))
        hit = gov_path(gov_world(STATIC, depth, steps=24, shocks=[exploit]))
        np.testing.assert_array_equal(calm[:10], hit[:10])
        if moved:
            assert hit[10] < 0.97 * calm[10]
        else:
            np.testing.assert_array_equal(calm, hit)


class _CheckedModel(TreasuryModel):
    """Checks that every ledger token is conserved after each agent type acts."""

    checked = 0

    def _do(self, agent_type):
        super()._do(agent_type)
        self.world.ledger.check_conservation()
        if agent_type in (Arbitrageur, Liquidator):
            _CheckedModel.checked += 1


def test_every_token_is_conserved_after_every_round():
    # Finite depth on GOV, an ETH crash that makes positions liquidatable, and a one-sided
    # exploit: tokens move through pools, off-chain markets, flash loans and write-offs.
    scenario = gov_world(
        SELL_GOV, 3e5, steps=12, rounds_per_step=3,
        shocks=[{"kind": "crash", "step": 4, "asset": "ETH", "size": 0.4},
                {"kind": "exploit", "step": 6, "protocol": "gov-eth", "fraction": 0.3,
                 "take": ["ETH"]}],
    )
    raw = scenario.model_dump()
    raw["protocols"].append({
        "kind": "aave", "name": "aave",
        "reserves": {
            "ETH": {"ltv": 0.8, "liquidation_threshold": 0.83, "initial_supply": 1000},
            "USDC": {"ltv": 0.77, "liquidation_threshold": 0.8, "initial_supply": 20e6},
        },
    })
    raw["agents"]["borrowers"] = [{"market": "aave", "collateral": "ETH", "debt": "USDC",
                                   "positions": 200, "hf_median": 1.3}]
    _CheckedModel.checked = 0
    model = _CheckedModel(parse_scenario(raw))
    try:
        model.run()
        liquidated = sum(e["kind"] == "liquidation" for e in model.events)
    finally:
        release(model)
    assert _CheckedModel.checked == 12 * 3 * 2  # steps x rounds x (arbitrage, liquidation)
    assert liquidated > 0


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_rounds_per_step_must_be_a_positive_integer(value):
    from protocols.errors import ConfigError

    with pytest.raises(ConfigError, match="rounds_per_step"):
        gov_world(STATIC, rounds_per_step=value)
