"""Capital efficiency (sim.capital): borrowing power = collateral x off-chain price x LTV,
borrowed, borrow usage - per market, at the start, the end and on average over the run."""

import copy

import numpy as np
import pandas as pd
import pytest

from protocols.ledger import Ledger
from protocols.lending import LendingMarket, load_aave_params
from protocols.offchain import OffchainMarket
from protocols.oracle import Oracle
from protocols.world import World
from sim import capital, columns
from sim.historical import default_data_dir
from sim.model import TreasuryModel
from sim.scenario import parse_scenario
from tests.sim.test_model import small_world

AAVE_CSV = default_data_dir() / "aave_v3_ethereum_risk_params_2023-10-31.csv"
if not AAVE_CSV.is_file():  # a clone without the shared data folder beside it
    pytest.skip(f"no Aave parameter file at {AAVE_CSV}", allow_module_level=True)
ASSETS = ("WETH", "WBTC", "USDC")
#: off-chain prices; the oracles read the same markets
PRICES = {"WETH": 2000.0, "WBTC": 30000.0, "USDC": 1.0}


def two_position_world(oracle_prices: dict[str, float] | None = None):
    """A real Aave v3 market (the 2023-10-31 Ethereum parameters: WETH LTV 0.805, WBTC LTV
    0.73, USDC LTV 0.77) with two positions:
    P0: 10 WETH + 0.5 WBTC, borrows 15,000 USDC; P1: 2 WETH + 1 WBTC, borrows 20,000 USDC."""
    ledger = Ledger()
    reference = {a: OffchainMarket(p) for a, p in PRICES.items()}
    for asset in ASSETS:
        ledger.create_token(asset, issuer="bank")
    oracles = {}
    for asset in ASSETS:
        oracle = Oracle(asset, reference[asset])
        oracle.update(0)
        oracles[asset] = oracle
    market = LendingMarket(ledger, "aave", load_aave_params(AAVE_CSV, ASSETS), oracles)
    ledger.mint("USDC", "lp", 1e6, by="bank")
    market.supply("lp", "USDC", 1e6)
    for owner in ("alice", "bob"):
        ledger.mint("WETH", owner, 10.0, by="bank")
        ledger.mint("WBTC", owner, 1.0, by="bank")
    market.open_positions(["alice", "bob"], [[10.0, 0.5, 0.0], [2.0, 1.0, 0.0]],
                          [[0.0, 0.0, 15_000.0], [0.0, 0.0, 20_000.0]])
    world = World(ledger, ASSETS, reference, markets={"aave": market},
                  oracles={"aave": oracles})
    return world, market


def test_borrowing_power_borrowed_and_usage_of_a_two_position_book():
    world, market = two_position_world()
    power, borrowed = capital.book_figures(world, market)
    # P0: 10 x 2,000 x 0.805 = 16,100 + 0.5 x 30,000 x 0.73 = 10,950 -> 27,050
    # P1:  2 x 2,000 x 0.805 =  3,220 + 1.0 x 30,000 x 0.73 = 21,900 -> 25,120
    # borrowing power 52,170; borrowed 15,000 + 20,000 = 35,000;
    # usage 35,000 / 52,170 = 0.670884...
    assert power == pytest.approx(52_170.0, rel=1e-12)
    assert borrowed == pytest.approx(35_000.0, rel=1e-12)
    assert capital.usage(borrowed, power) == pytest.approx(35_000 / 52_170, rel=1e-12)
    # Aave's availableBorrows (borrowing power less debt, per position) in the market's own
    # terms, at the same prices: 27,050 - 15,000 and 25,120 - 20,000.
    assert market.borrowing_power().tolist() == pytest.approx([12_050.0, 5_120.0], rel=1e-12)


def test_borrowing_power_reads_off_chain_prices_and_the_ltv_in_force():
    world, market = two_position_world()
    world.reference["WETH"].set(1000.0)  # the oracle has not updated: still 2,000
    market.configure_reserve("WBTC", ltv=0.5)
    power, borrowed = capital.book_figures(world, market)
    # WETH 12 x 1,000 x 0.805 = 9,660; WBTC 1.5 x 30,000 x 0.5 = 22,500
    assert power == pytest.approx(9_660.0 + 22_500.0, rel=1e-12)
    assert borrowed == pytest.approx(35_000.0, rel=1e-12)
    assert capital.usage(0.0, 0.0) == 0.0
    assert capital.usage(1.0, 0.0) == float("inf")


def test_summary_figures_total_markets_and_take_start_end_and_mean():
    ts = pd.DataFrame({
        "step": [0, 1, 2, 3],
        columns.borrowing_power_usd("a"): [100.0, 100.0, 50.0, 50.0],
        columns.borrowed_usd("a"): [60.0, 60.0, 60.0, 40.0],
        columns.borrowing_power_usd("b"): [10.0, 10.0, 10.0, 10.0],
        columns.borrowed_usd("b"): [0.0, 5.0, 5.0, 5.0],
    })
    f = capital.summary_figures(ts)
    assert f["borrowing_power_usd_start"] == 110.0
    assert f["borrowing_power_usd_end"] == 60.0
    assert f["borrowing_power_usd_mean"] == 85.0  # (110 + 110 + 60 + 60) / 4
    assert f["borrowed_usd_mean"] == 58.75  # (60 + 65 + 65 + 45) / 4
    assert f["borrow_usage_start"] == pytest.approx(60 / 110)
    assert f["borrow_usage_end"] == pytest.approx(45 / 60)
    assert f["borrow_usage_mean:a"] == pytest.approx(55.0 / 75.0)  # mean borrowed / mean power
    assert f["borrowing_power_usd_end:b"] == 10.0 and f["borrowed_usd_start:b"] == 0.0
    assert capital.summary_figures(pd.DataFrame({"step": [0]})) == {}


def test_a_lower_ltv_at_step_10_cuts_end_and_mean_borrowing_power_in_proportion():
    # small_world: flat prices, 200 ETH-collateral USDC-debt positions, borrowers that do
    # not react within the run, LT unchanged so nothing becomes liquidatable.
    raw = small_world(shocks=[{"kind": "parameter_change", "step": 10, "market": "aave",
                               "reserve": "ETH", "ltv": 0.7}])
    model = TreasuryModel(parse_scenario(copy.deepcopy(raw)))
    market = model.world.markets["aave"]
    eth = market.assets.index("ETH")
    eth_units = market.collateral_scaled[:, eth].sum() * market.exchange_rate("ETH")
    model.run()
    f = model.summary()
    assert f["liquidations"] == 0
    start = f["borrowing_power_usd_start"]
    # the book at step 0 valued by hand: all its ETH x $2,000 x 0.805 (no other collateral)
    assert start == pytest.approx(eth_units * 2000.0 * 0.805, rel=1e-12)
    # ETH is not borrowed, so its liquidity index stays 1 and its price is flat: the
    # collateral is the same and only the LTV moved, 0.805 -> 0.7.
    assert f["borrowing_power_usd_end"] == pytest.approx(start * 0.7 / 0.805, rel=1e-12)
    # rows 0-9 (collected before the change fires at step 10) at the old LTV, rows 10-48 at
    # the new: (10 x start + 39 x end) / 49
    assert f["borrowing_power_usd_mean"] == pytest.approx(
        (10 * start + 39 * start * 0.7 / 0.805) / 49, rel=1e-12)
    assert f["borrowing_power_usd_start:aave"] == start  # one market: total = its figure
    # USDC interest only adds to the debt; usage rises with it and with the lower LTV
    assert f["borrowed_usd_end"] > f["borrowed_usd_start"] > 0
    assert f["borrow_usage_end"] > f["borrow_usage_start"] * 0.805 / 0.7
    ts = model.timeseries()
    assert np.allclose(ts[columns.borrowing_power_usd("aave")].iloc[10:], start * 0.7 / 0.805,
                       rtol=1e-12)
