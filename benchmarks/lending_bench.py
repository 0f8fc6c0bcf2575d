"""Speed of the lending market's full-book scans: 100,000 positions x 5 assets.

Run from the repository root: `python -m benchmarks.lending_bench` (target: < 5 ms per scan).
"""

import dataclasses
import math
import statistics
import time
from types import SimpleNamespace

import numpy as np

from protocols.ledger import Ledger
from protocols.lending import LendingMarket, load_aave_params
from sim.historical import default_data_dir

AAVE_CSV = default_data_dir() / "aave_v3_ethereum_risk_params_2023-10-31.csv"
ASSETS = ("WETH", "WBTC", "USDC", "USDT", "DAI")
PRICES = (1816.85, 34814.14, 1.0, 1.0, 1.0)  # the snapshot's oracle answers, rounded
POSITIONS = 100_000
COHORTS = 20
REPEATS = 200


def build_market(seed: int = 0) -> tuple[LendingMarket, dict]:
    """A market with uncapped real WETH/WBTC/USDC/USDT/DAI reserves and 100k random positions
    held by a few cohort owners, each borrowing 10-95 % of its LTV allowance."""
    rng = np.random.default_rng(seed)
    params = {
        symbol: dataclasses.replace(p, supply_cap=math.inf, borrow_cap=math.inf)
        for symbol, p in load_aave_params(AAVE_CSV, ASSETS).items()
    }
    ledger = Ledger()
    for asset in ASSETS:
        ledger.create_token(asset, issuer="bank")
        for holder in ["lp"] + [f"cohort{k}" for k in range(COHORTS)]:
            ledger.mint(asset, holder, 1e12, by="bank")
    oracles = {a: SimpleNamespace(price=p) for a, p in zip(ASSETS, PRICES, strict=True)}
    market = LendingMarket(ledger, "aave", params, oracles)
    for asset in ASSETS:
        market.supply("lp", asset, 1e10 / oracles[asset].price)

    prices = np.array(PRICES)
    ltv = np.array([params[a].ltv for a in ASSETS])
    value = rng.lognormal(np.log(20_000), 1.0, POSITIONS)
    weights = rng.dirichlet(np.ones(2), POSITIONS)
    collateral = np.zeros((POSITIONS, len(ASSETS)))
    collateral[:, 0] = value * weights[:, 0] / prices[0]  # WETH
    collateral[:, 1] = value * weights[:, 1] / prices[1]  # WBTC
    power = collateral @ (prices * ltv)
    debt = np.zeros_like(collateral)
    stable = rng.integers(2, 5, POSITIONS)  # each position borrows one stablecoin
    debt[np.arange(POSITIONS), stable] = power * rng.uniform(0.1, 0.95, POSITIONS) / prices[stable]
    owners = [f"cohort{k % COHORTS}" for k in range(POSITIONS)]
    market.open_positions(owners, collateral, debt)
    return market, oracles


def time_ms(fn, repeats: int = REPEATS) -> float:
    """Median wall time of `fn()` in milliseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return 1000 * statistics.median(samples)


def main() -> None:
    start = time.perf_counter()
    market, oracles = build_market()
    print(
        f"open_positions: {POSITIONS:,} positions x {len(ASSETS)} assets "
        f"in {1000 * (time.perf_counter() - start):.0f} ms (incl. market set-up)"
    )
    oracles["WETH"].price *= 0.75  # a crash, so the scan finds something
    print(f"health_factors():  {time_ms(market.health_factors):6.2f} ms per scan")
    print(
        f"liquidatable():    {time_ms(market.liquidatable):6.2f} ms per scan "
        f"({market.liquidatable().size:,} positions below HF 1)"
    )
    print(f"borrowing_power(): {time_ms(market.borrowing_power):6.2f} ms per scan")
    print(f"accrue(1 h):       {time_ms(lambda: market.accrue(1 / 8760)):6.2f} ms per step")


if __name__ == "__main__":
    main()
