"""Speed of the StableSwap pool and its invariant math.

Run from the repository root: `python -m benchmarks.amm_stableswap_bench`.
"""

import time

from protocols.amm.stableswap import StableSwapPool, get_D, get_y
from protocols.ledger import Ledger

COINS = ("DAI", "USDC", "USDT")
SWAPS = 20_000
CALLS = 20_000
# 3pool-like: A=2000, fee 1 bp, an imbalanced real-looking state (millions of each coin).
BALANCES = [71.8e6, 74.0e6, 70.0e6]


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>12,.0f} /s"


def bench_swaps() -> float:
    """swap_exact_in on a 3-coin pool, alternating DAI->USDC and USDC->DAI."""
    ledger = Ledger()
    for coin in COINS:
        ledger.create_token(coin, issuer="mint")
        ledger.mint(coin, "lp", 1e9, by="mint")
        ledger.mint(coin, "trader", 1e9, by="mint")
    pool = StableSwapPool(ledger, "curve3", COINS, 2000, fee=0.0001)
    pool.add_liquidity("lp", dict(zip(COINS, BALANCES, strict=True)))
    directions = [("DAI", "USDC"), ("USDC", "DAI")]
    start = time.perf_counter()
    for k in range(SWAPS):
        token_in, token_out = directions[k % 2]
        pool.swap_exact_in("trader", token_in, token_out, 10_000.0)
    return time.perf_counter() - start


def bench_get_D() -> float:
    start = time.perf_counter()
    for k in range(CALLS):
        get_D([BALANCES[0] + k, BALANCES[1], BALANCES[2]], 2000)
    return time.perf_counter() - start


def bench_get_y() -> float:
    start = time.perf_counter()
    for k in range(CALLS):
        get_y(0, 1, BALANCES[0] + 1_000.0 + k, BALANCES, 2000)
    return time.perf_counter() - start


def main() -> None:
    print(f"StableSwap 3-coin swap_exact_in ({SWAPS:,} alternating): {_rate(SWAPS, bench_swaps())}")
    print(f"StableSwap get_D (3 coins, validated):           {_rate(CALLS, bench_get_D())}")
    print(f"StableSwap get_y (3 coins, includes a get_D):    {_rate(CALLS, bench_get_y())}")


if __name__ == "__main__":
    main()
