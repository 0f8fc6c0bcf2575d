"""Speed of the concentrated-liquidity (Uniswap v3) pool.

A 0.3 % pool with 20 nested positions (ranges +-300 .. +-6000 ticks, 40 initialized ticks).
Small swaps stay inside the current range; large ones cross several initialized ticks.

Run from the repository root: `python -m benchmarks.amm_v3_bench`.
"""

import time
from bisect import bisect_left

from protocols.amm.concentrated import ConcentratedLiquidityPool
from protocols.ledger import Ledger

SWAPS = 20_000
SMALL, LARGE = 1.0, 3_000.0  # token0 then token1 in, alternating; LARGE crosses ~10 ticks


def build_pool() -> tuple[Ledger, ConcentratedLiquidityPool]:
    ledger = Ledger()
    for token in ("WETH", "USDC"):
        ledger.create_token(token, issuer="mint")
        ledger.mint(token, "lp", 1e12, by="mint")
        ledger.mint(token, "trader", 1e12, by="mint")
    pool = ConcentratedLiquidityPool(ledger, "uni-v3", "WETH", "USDC", fee=0.003, tick_spacing=60)
    for k in range(1, 21):
        pool.mint("lp", -300 * k, 300 * k, 1_000.0)
    return ledger, pool


def bench_swaps(amount: float) -> tuple[float, float]:
    """Seconds for SWAPS swap_exact_in calls alternating the direction, and the mean number of
    initialized ticks crossed per swap."""
    _, pool = build_pool()
    ticks = list(pool.initialized_ticks())
    crossed = 0
    start = time.perf_counter()
    for k in range(SWAPS):
        before = pool.tick
        if k % 2:
            pool.swap_exact_in("trader", "USDC", "WETH", amount)
        else:
            pool.swap_exact_in("trader", "WETH", "USDC", amount)
        crossed += abs(bisect_left(ticks, pool.tick + 1) - bisect_left(ticks, before + 1))
    return time.perf_counter() - start, crossed / SWAPS


def bench_quotes(amount: float) -> float:
    _, pool = build_pool()
    start = time.perf_counter()
    for _ in range(SWAPS):
        pool.quote_exact_in("WETH", "USDC", amount)
    return time.perf_counter() - start


def main() -> None:
    for label, amount in (("in range", SMALL), ("crossing", LARGE)):
        seconds, crossed = bench_swaps(amount)
        print(
            f"v3 swap_exact_in {label:>8} ({SWAPS:,}, {crossed:4.1f} ticks crossed/swap): "
            f"{SWAPS / seconds:>10,.0f} /s"
        )
    for label, amount in (("in range", SMALL), ("crossing", LARGE)):
        print(
            f"v3 quote_exact_in {label:>8} ({SWAPS:,}):                        "
            f"{SWAPS / bench_quotes(amount):>10,.0f} /s"
        )


if __name__ == "__main__":
    main()
