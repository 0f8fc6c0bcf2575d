"""Throughput of the constant-product AMM: ledger-backed swaps and the pure swap formula.

Run from the repository root: `python -m benchmarks.amm_v2_bench`.
"""

import time

import numpy as np

from protocols.amm.constant_product import ConstantProductPool, get_amount_out
from protocols.ledger import Ledger

SWAPS = 100_000
VECTOR_SIZE = 1_000_000


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>14,.0f}/s  ({seconds * 1e6 / count:.2f} us each)"


def bench_pool_swaps() -> float:
    """`swap_exact_in` alternating T0->T1 and T1->T0 on a deep pool; returns seconds."""
    ledger = Ledger()
    for token in ("T0", "T1"):
        ledger.create_token(token, issuer="mint")
        ledger.mint(token, "lp", 1e7, by="mint")
        ledger.mint(token, "trader", 1e7, by="mint")
    pool = ConstantProductPool(ledger, "pool", "T0", "T1")
    pool.add_liquidity("lp", {"T0": 1e6, "T1": 1e6})
    swap = pool.swap_exact_in
    start = time.perf_counter()
    for _ in range(SWAPS // 2):
        swap("trader", "T0", "T1", 10.0)
        swap("trader", "T1", "T0", 10.0)
    seconds = time.perf_counter() - start
    ledger.check_conservation()
    return seconds


def bench_scalar_formula() -> float:
    start = time.perf_counter()
    for i in range(SWAPS):
        get_amount_out(1.0 + i, 1e6, 2e6)
    return time.perf_counter() - start


def bench_vector_formula() -> float:
    amounts = np.linspace(1.0, 1e5, VECTOR_SIZE)
    reserves_in = np.full(VECTOR_SIZE, 1e6)
    reserves_out = np.full(VECTOR_SIZE, 2e6)
    start = time.perf_counter()
    get_amount_out(amounts, reserves_in, reserves_out)
    return time.perf_counter() - start


def main() -> None:
    print(f"ConstantProductPool.swap_exact_in  {_rate(SWAPS, bench_pool_swaps())}")
    print(f"get_amount_out, scalar calls      {_rate(SWAPS, bench_scalar_formula())}")
    print(f"get_amount_out, 1e6-element array {_rate(VECTOR_SIZE, bench_vector_formula())}")


if __name__ == "__main__":
    main()
