"""Speed of whole runs: `python -m benchmarks.model`.

1. The baseline scenario (30 days hourly) at 1,000 / 10,000 / 100,000 borrower positions
   (the same aggregate book in smaller pieces): run time should grow at most linearly with
   the book (goals, `benchmarks.goals`: <= 1 s at 1,000, 100,000 within 10x of that).
2. `amm_arbitrage.toml` (one v2 ETH/USDC pool, GBM, one arbitrageur paying $20 gas), 100
   seeded runs in one process, against the same world written as a bare Mesa model and as
   plain numpy (100 runs side by side). The gap is what the framework costs: a ledger that
   checks every transfer, validated protocol calls, the event log, the time series and
   the oracle/gas/shock machinery that the bare model leaves out.
3. The liquidation curves (sim.liquidation_curve) of the baseline's book at 100,000
   positions: one snapshot (every market, every collateral asset, 17 drops) - a run takes
   two - and the per-step capital-efficiency columns (sim.capital).

A script, not a test: it prints figures for the issue notes and asserts nothing.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import mesa
import numpy as np

from sim.runner import run_scenario
from sim.scenario import load_scenario
from spec.scenario import Scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "experiments" / "scenarios"
RUNS = 100
STEPS = 720
DT = 1.0 / (365 * 24)
SIGMA, FEE, GAS_USD = 0.8, 0.003, 20.0
ETH0, USDC0 = 10_000.0, 20_000_000.0


def scaled_baseline(factor: int) -> Scenario:
    """The baseline with the same aggregate book cut into `factor` times more, smaller
    positions: the world stays economically the same, so timings isolate the per-position
    cost."""
    overrides: dict[str, object] = {}
    for k, c in enumerate(load_scenario(SCENARIOS / "baseline.toml").agents.borrowers):
        overrides[f"agents.borrowers[{k}].positions"] = c.positions * factor
        overrides[f"agents.borrowers[{k}].size_usd_median"] = c.size_usd_median / factor
    return load_scenario(SCENARIOS / "baseline.toml", overrides)


def baseline_scaling(factors: tuple[int, ...] = (1, 10, 100)) -> dict[int, float]:
    """Print and return the seconds of one baseline run per book size (positions -> s)."""
    print("baseline, 720 hourly steps:")
    previous = None
    timings: dict[int, float] = {}
    for factor in factors:
        config = scaled_baseline(factor)
        positions = sum(c.positions for c in config.agents.borrowers)
        started = time.perf_counter()
        result = run_scenario(config)
        elapsed = time.perf_counter() - started
        growth = "" if previous is None else f"  x{elapsed / previous:.1f} for x10 positions"
        print(f"  {positions:>7,} positions: {elapsed:6.2f} s  "
              f"({result.summary['liquidations']:,} liquidations){growth}")
        previous = timings[positions] = elapsed
    return timings


# -- the same tiny world three ways --------------------------------------------------------
def gbm_path(rng: np.random.Generator, runs: int = 1) -> np.ndarray:
    shocks = rng.standard_normal((STEPS, runs)) * SIGMA * math.sqrt(DT) - 0.5 * SIGMA**2 * DT
    return 2000.0 * np.exp(np.vstack([np.zeros((1, runs)), np.cumsum(shocks, axis=0)]))


class BareArbitrageur(mesa.Agent):
    """Closed-form v2 arbitrage (see protocols.amm.amount_in_to_target_price) on two floats."""

    def step(self) -> None:
        m = self.model
        price, g = m.path[m.t], 1.0 - FEE
        x, y = m.eth, m.usdc
        dy = (math.sqrt(g * x * y * price) - y) / g  # USDC in, when the pool's ETH is cheap
        if dy > 0:
            dx = g * dy * x / (y + g * dy)
            if dx * price - dy > GAS_USD:
                m.eth, m.usdc = x - dx, y + dy
            return
        dx = (math.sqrt(g * x * y / price) - x) / g  # ETH in, when the pool's ETH is dear
        if dx > 0:
            dy = g * dx * y / (x + g * dx)
            if dy - dx * price > GAS_USD:
                m.eth, m.usdc = x + dx, y - dy


class BareModel(mesa.Model):
    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.path = gbm_path(np.random.default_rng(seed))[:, 0]
        self.eth, self.usdc, self.t = ETH0, USDC0, 0
        BareArbitrageur(self)

    def step(self) -> None:
        self.t += 1
        self.agents.shuffle_do("step")


def numpy_runs(seed: int) -> np.ndarray:
    """All runs side by side: one vectorized step per hour."""
    path = gbm_path(np.random.default_rng(seed), RUNS)
    x, y, g = np.full(RUNS, ETH0), np.full(RUNS, USDC0), 1.0 - FEE
    for t in range(1, STEPS + 1):
        p = path[t]
        dy = np.maximum((np.sqrt(g * x * y * p) - y) / g, 0.0)
        dx_out = g * dy * x / (y + g * dy)
        buy = dx_out * p - dy > GAS_USD
        dx = np.maximum((np.sqrt(g * x * y / p) - x) / g, 0.0)
        dy_out = g * dx * y / (x + g * dx)
        sell = (dy_out - dx * p > GAS_USD) & ~buy
        x = np.where(buy, x - dx_out, np.where(sell, x + dx, x))
        y = np.where(buy, y + dy, np.where(sell, y - dy_out, y))
    return y / x


def arbitrage_overhead(runs: int = RUNS) -> dict[str, float]:
    """Print and return the seconds of `runs` seeded runs of amm_arbitrage.toml through
    daosim (`daosim`), as the bare Mesa model (`bare_mesa`) and of 100 runs as plain numpy
    (`numpy`)."""
    config = load_scenario(SCENARIOS / "amm_arbitrage.toml")
    run_scenario(config)  # warm caches and imports
    started = time.perf_counter()
    for seed in range(runs):
        run_scenario(config.model_copy(update={"seed": seed}))
    framework = time.perf_counter() - started

    started = time.perf_counter()
    for seed in range(runs):
        model = BareModel(seed)
        for _ in range(STEPS):
            model.step()
    bare = time.perf_counter() - started

    started = time.perf_counter()
    numpy_runs(0)
    plain = time.perf_counter() - started

    print(f"amm_arbitrage, {runs} runs x {STEPS} steps in one process:")
    print(f"  daosim      {framework:6.2f} s  ({framework / runs * 1e3:.1f} ms/run, "
          f"{framework / (runs * STEPS) * 1e6:.0f} us/step)  = {framework / bare:.1f}x bare Mesa")
    print(f"  bare Mesa   {bare:6.2f} s")
    print(f"  numpy       {plain:6.2f} s  ({RUNS} runs side by side)")
    return {"daosim": framework, "bare_mesa": bare, "numpy": plain}


def curve_cost(factor: int = 100, repeats: int = 5) -> None:
    """Time one liquidation-curve snapshot and one step's capital columns on the baseline's
    book cut into `factor` times more positions (as `baseline_scaling`)."""
    from sim.capital import book_figures
    from sim.liquidation_curve import LiquidationCurves
    from sim.model import TreasuryModel

    model = TreasuryModel(scaled_baseline(factor))
    positions = sum(m.n_positions for m in model.world.markets.values())
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        LiquidationCurves().take(model.world, "start", 0)
        timings.append(time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(repeats):
        for market in model.world.markets.values():
            book_figures(model.world, market)
    columns = (time.perf_counter() - started) / repeats
    print(f"liquidation curves at {positions:,} positions: {min(timings) * 1e3:.0f} ms per "
          f"snapshot (best of {repeats}); capital columns {columns * 1e3:.1f} ms per step")


def main() -> None:
    baseline_scaling()
    arbitrage_overhead()
    curve_cost()


if __name__ == "__main__":
    main()
