"""Issue 17's speed goals, measured in one run: `python -m benchmarks.goals [--quick]
[--only arbitrage|baseline|sweep]` (the end of `make bench`).

One line per goal: the measured figure, the goal and their ratio, oriented so that a
ratio <= 1 means the goal is met (for "at least" goals the ratio is goal / measured):

- amm_arbitrage, 100 runs x 720 steps: daosim time / the same model in bare Mesa, goal 2x;
- baseline at 1,000 positions: seconds (best of 3), goal 1 s;
- baseline at 100,000 positions: its time / the 1,000-position time, goal 10x, and its peak
  memory, goal 1 GiB (each book size runs in a fresh process, so that only that run's own
  allocations count: `ru_maxrss` of the child);
- a sweep of 200 baseline runs: rate on 2 local workers / rate on 1, goal at least 1.8
  (the 1-worker rate is measured on 50 runs: a run's cost does not depend on how many
  follow it, and it saves 7 minutes); each worker's resident set after the sweep over the
  same after a quarter of its runs, goal 1.05 (flat, up to allocator noise); Dask
  LocalCluster (2 workers) time / the local pool's, goal 1.10.

Timings are noisy on a shared 2-core machine: the load average is printed before and
after. `--quick` is a smoke check (fewer and shorter runs, 10,000 positions instead of
100,000): its figures are not the goals'. A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("arbitrage", "baseline", "sweep")
GIB_MIB = 1024.0


@dataclass(frozen=True)
class Goal:
    """One goal of issue 17: `measured` against `goal` (same unit)."""

    label: str
    measured: float
    goal: float
    unit: str  # "x", "s", "MiB"
    at_least: bool = False  # the goal is a floor (speed-up), not a ceiling

    @property
    def ratio(self) -> float:
        """<= 1 when met: measured / goal for a ceiling, goal / measured for a floor."""
        if self.at_least:
            return self.goal / self.measured if self.measured > 0 else float("inf")
        return self.measured / self.goal

    @property
    def met(self) -> bool:
        return self.ratio <= 1.0

    def line(self) -> str:
        """e.g. `amm_arbitrage vs bare Mesa     13.50x / 2x     = 6.75  NOT MET`."""
        sign = ">=" if self.at_least else "<="
        measured = f"{_figure(self.measured)}{self.unit}"
        goal = f"{sign} {_figure(self.goal)}{self.unit}"
        return (f"{self.label:<46} {measured:>9} / {goal:<12} = {self.ratio:5.2f}  "
                f"{'met' if self.met else 'NOT MET'}")


def _figure(value: float) -> str:
    """Three significant figures, no exponent for the sizes seen here."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def table(goals: list[Goal], load: tuple[str, str]) -> str:
    """The closing table (ratio <= 1: met) with the load average before and after."""
    lines = ["issue 17 goals (ratio <= 1 means met; floors are shown as goal / measured):"]
    lines += [f"  {g.line()}" for g in goals]
    lines.append(f"  load average (1, 5, 15 min) before {load[0]}, after {load[1]}; "
                 f"{os.cpu_count()} cores")
    return "\n".join(lines)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# -- the goals ------------------------------------------------------------------------------
def arbitrage(quick: bool) -> list[Goal]:
    from benchmarks.model import RUNS, arbitrage_overhead

    runs = 10 if quick else RUNS
    times = arbitrage_overhead(runs)
    return [Goal(f"amm_arbitrage {runs} x 720: daosim / bare Mesa",
                 times["daosim"] / times["bare_mesa"], 2.0, "x")]


def baseline_child(factor: int, repeats: int) -> dict[str, float]:
    """In this (fresh) process: a 1,000-position warm-up run when `factor` > 1 (lazy imports
    and first-call costs belong to neither size), then `repeats` timed runs of the baseline
    at `factor` x its book; the best time and this process's peak resident set."""
    from benchmarks.model import scaled_baseline
    from sim.runner import run_scenario

    if factor > 1:
        run_scenario(scaled_baseline(1))
    config = scaled_baseline(factor)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run_scenario(config)
        timings.append(time.perf_counter() - started)
    return {"positions": sum(c.positions for c in config.agents.borrowers),
            "seconds": min(timings),
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _in_child(factor: int, repeats: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-m", "benchmarks.goals", "--child-baseline",
                           str(factor), str(repeats)], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline(quick: bool) -> list[Goal]:
    repeats = 1 if quick else 3
    small = _in_child(1, repeats)
    large_factor = 10 if quick else 100
    large = _in_child(large_factor, 1)
    print("baseline, 720 hourly steps, each size in a fresh process:")
    for figures in (small, large):
        print(f"  {figures['positions']:>7,} positions: {figures['seconds']:6.2f} s, "
              f"peak resident set {figures['peak_mib']:.0f} MiB")
    size = f"{large['positions'] / 1000:,.0f}k"
    return [
        Goal(f"baseline 1k positions: seconds (best of {repeats})", small["seconds"], 1.0,
             " s"),
        Goal(f"baseline {size} / 1k positions: time", large["seconds"] / small["seconds"],
             10.0, "x"),
        Goal(f"baseline {size} positions: peak memory", large["peak_mib"], GIB_MIB, " MiB"),
    ]


def sweep(quick: bool) -> list[Goal]:
    from benchmarks.sweep_bench import measure

    runs, one_runs, steps = (8, 4, 168) if quick else (200, 50, 720)
    print(f"sweep of the baseline, {steps} hourly steps:")
    one = measure("1 worker (in-process)", one_runs, steps, workers=1)
    # the local pool before Dask: Dask leaves a thread behind, and a process with threads
    # starts its pool by forkserver instead of fork (experiments.executors._context)
    two = measure("2 local worker processes", runs, steps, workers=2)
    dask = measure("Dask LocalCluster, 2 workers", runs, steps, workers=2, scheduler="local")
    growth = max((w.growth for w in [*two.workers, *dask.workers]), default=float("nan"))
    return [
        Goal(f"sweep {runs}: 2 local workers / 1 worker (rate)", two.rate / one.rate, 1.8,
             "x", at_least=True),
        Goal("sweep: worker memory at end / at 1/4 of runs", growth, 1.05, "x"),
        Goal("sweep: Dask LocalCluster / local pool (time)", two.rate / dask.rate, 1.10, "x"),
    ]


MEASURES = {"arbitrage": arbitrage, "baseline": baseline, "sweep": sweep}


def main(argv: list[str] | None = None) -> list[Goal]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke check: fewer, shorter runs (not the goals' figures)")
    parser.add_argument("--only", choices=GROUPS, action="append",
                        help="measure only these goals (repeatable)")
    parser.add_argument("--child-baseline", nargs=2, type=int, metavar=("FACTOR", "REPEATS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_baseline:
        print(json.dumps(baseline_child(*args.child_baseline)))
        return []
    before = _load()
    goals: list[Goal] = []
    for name in args.only or GROUPS:
        goals += MEASURES[name](args.quick)
    print(table(goals, (before, _load())))
    return goals


if __name__ == "__main__":
    main()
