"""Sweep throughput: `python -m benchmarks.sweep_bench [--runs 200] [--steps 720]`.

Runs/second of one sweep of the baseline scenario (`--runs` replicates of one point, each
its own common-random-numbers seed) in this process (1 worker), on 2 local worker
processes and on a 2-worker Dask LocalCluster, each into a fresh results folder (so the
figures include writing every part file and consolidating runs.parquet). Parallel
efficiency = rate(2 workers) / (2 x rate(1 worker)); target >= 0.85 on an idle machine.
Start-up (worker processes, cluster) is included: it is part of what a user waits for.

A script, not a test: it prints figures for the issue notes and asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from experiments import seeds
from experiments.sweep import run_plan
from experiments.worker import RunTask
from sim.scenario import read_scenario

BASELINE = Path(__file__).resolve().parents[1] / "experiments" / "scenarios" / "baseline.toml"


def tasks(runs: int, steps: int) -> list[RunTask]:
    raw = read_scenario(BASELINE)
    overrides: dict[str, object] = {}
    if steps != raw["steps"]:
        # keep every shock inside the shorter window, at the same relative time
        overrides = {"steps": steps, **{f"shocks[{i}].step": max(1, s["step"] * steps
                                                                  // raw["steps"])
                                        for i, s in enumerate(raw.get("shocks", []))}}
    return [RunTask(key=f"r{k:05d}", point=0, replicate=k, seed=seeds.run_seed(2026, k),
                    params={}, scenario=raw, overrides=overrides) for k in range(runs)]


def measure(label: str, runs: int, steps: int, **execution: object) -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = run_plan(tasks(runs, steps), out, description={"kind": "bench"},
                          progress=False, **execution)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
    rate = runs / elapsed
    print(f"  {label:<28} {runs} runs in {elapsed:7.1f} s = {rate:6.2f} runs/s"
          f"{f'  ({result.failed} failed)' if result.failed else ''}")
    return rate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=720)
    args = parser.parse_args(argv)
    print(f"sweep of the baseline, {args.steps} hourly steps:")
    one = measure("1 worker (in-process)", args.runs, args.steps, workers=1)
    two = measure("2 local worker processes", args.runs, args.steps, workers=2)
    dask = measure("Dask LocalCluster, 2 workers", args.runs, args.steps, workers=2,
                   scheduler="local")
    print(f"  parallel efficiency: local {two / (2 * one):.2f}, "
          f"Dask {dask / (2 * one):.2f} (target >= 0.85)")


if __name__ == "__main__":
    main()
