"""Speed of one liquidator scan on a 100,000-position market:
`python -m benchmarks.liquidator_bench`.

The model calls `Liquidator.step()` once per round, several rounds per step, so a scan in
which nothing can be liquidated must cost almost nothing. Figures, each per scan:
1. quiet: nothing changed since the last scan (the cached table is reused);
2. new oracle round, every position healthy: one health-factor computation, no quote;
3. new oracle round, thousands of positions below HF 1 that cannot pay gas: the table and
   its estimates, no quote;
4. a crash: the liquidations themselves, per liquidation (flash loan, re-pricing, the
   market's liquidation, the sale, the event), with off-chain depth unlimited and finite.

A script, not a test: it prints figures for the issue notes and asserts nothing.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from typing import Any

import mesa
import numpy as np

from agents.liquidator import Liquidator
from protocols.offchain import OffchainMarket
from sim.assembly import build_world
from sim.scenario import parse_scenario

POSITIONS = 100_000
PRICE, LT = 2000.0, 0.825
REPEATS = 200


class Host(mesa.Model):
    """`agents.host.Host` with a fixed gas cost and a counted event log."""

    def __init__(self, world: Any, gas_usd: float) -> None:
        super().__init__(seed=0)
        self.world, self.gas_usd, self.events = world, gas_usd, 0

    def gas_cost_usd(self, gas_units: float) -> float:
        return self.gas_usd

    def record(self, kind: str, **fields: Any) -> None:
        self.events += 1


def build(depth_usd: float | None = None) -> tuple[Any, Any]:
    """WETH/USDC world: a 200M $ v2 pool, an Aave market with 100k WETH-backed USDC loans
    (lognormal sizes around 20k $, health factors 1.1 x exp(0.2 |z|) >= 1.1 at 2000 $)."""
    scenario = parse_scenario({
        "assets": [{"symbol": "WETH", "price": PRICE},
                   {"symbol": "USDC", "price": 1.0, "kind": "pegged"}],
        "protocols": [
            {"kind": "uniswap_v2", "name": "uni", "tokens": ["WETH", "USDC"], "tvl_usd": 200e6},
            {"kind": "aave", "name": "aave", "reserves": {
                "WETH": {"ltv": 0.8, "liquidation_threshold": LT, "liquidation_bonus": 0.05,
                         "borrowable": False},
                "USDC": {"initial_supply": 5e9}}},
        ],
    })
    world = build_world(scenario, [PRICE, 1.0], ["lp"])
    if depth_usd is not None:  # a finite off-chain market, the feeds re-pointed to it
        old = world.reference["WETH"]
        world.reference["WETH"] = new = OffchainMarket(PRICE, depth_usd)
        for feeds in world.oracles.values():
            for oracle in feeds.values():
                if oracle.source is old:
                    oracle.source = new
    rng = np.random.default_rng(0)
    weth = rng.lognormal(np.log(20_000), 1.0, POSITIONS) / PRICE
    hf = 1.1 * np.exp(0.2 * np.abs(rng.standard_normal(POSITIONS)))
    world.fund("whales", "WETH", float(weth.sum()) * (1 + 1e-9))  # summed per owner: rounding
    world.markets["aave"].open_positions(
        ["whales"] * POSITIONS,
        np.column_stack([weth, np.zeros(POSITIONS)]),
        np.column_stack([np.zeros(POSITIONS), weth * PRICE * LT / hf]),
    )
    world.update_oracles(1)
    return world, world.markets["aave"]


def per_scan_ms(liq: Liquidator, before=None, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        started = time.perf_counter()
        liq.step()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def new_round(world: Any, prices: list[float], clock: Iterator[int]) -> Any:
    """A callable that sets the next of `prices` (cycling) and runs the oracles' next round
    at the next step of `clock`."""
    cycle = itertools.cycle(prices)

    def advance() -> None:
        world.reference["WETH"].set(next(cycle))
        world.update_oracles(next(clock))

    return advance


def main() -> None:
    world, market = build()
    liq = Liquidator(Host(world, gas_usd=5.0), capital_usd=0.0, gas_units=400_000)
    liq.step()
    print(f"liquidator scan, {POSITIONS:,} positions in one market:")
    print(f"  quiet round (nothing changed):          {1e3 * per_scan_ms(liq):8.1f} us")
    # 2000 <-> 2014: a 0.7 % move, past the feeds' 0.5 % deviation, every position healthy.
    clock = itertools.count(2)
    healthy = per_scan_ms(liq, new_round(world, [PRICE * 1.007, PRICE], clock))
    print(f"  new oracle round, all healthy:           {healthy:8.2f} ms")

    # Down 15 %: thousands of positions below HF 1, none worth 1e9 $ of gas.
    liq.model.gas_usd = 1e9
    down = [PRICE * 0.85 * 1.007, PRICE * 0.85]
    new_round(world, down, clock)()
    below = int((market.health_factors() < 1).sum())
    dust = per_scan_ms(liq, new_round(world, down, clock))
    print(f"  new oracle round, {below:,} below HF 1 that cannot pay gas: {dust:6.2f} ms")

    for depth in (None, 2e8, 2e7):
        world, market = build(depth)
        host = Host(world, gas_usd=5.0)
        liq = Liquidator(host, capital_usd=0.0, gas_units=400_000)
        world.reference["WETH"].set(PRICE * 0.85)
        world.update_oracles(2)
        started = time.perf_counter()
        liq.step()
        elapsed = time.perf_counter() - started
        label = "unlimited" if depth is None else f"{depth:.0e} $"
        print(f"  crash -15 %, off-chain depth {label:>9}: {host.events:,} liquidations in "
              f"{elapsed:.2f} s ({1e6 * elapsed / max(host.events, 1):.0f} us each), "
              f"WETH off-chain {world.usd('WETH'):,.0f} $")


if __name__ == "__main__":
    main()
