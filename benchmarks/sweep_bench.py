"""Sweep throughput: `python -m benchmarks.sweep_bench [--runs 200] [--steps 720]`.

Runs/second of one sweep of the baseline scenario (`--runs` replicates of one point, each
its own common-random-numbers seed) in this process (1 worker), on 2 local worker
processes and on a 2-worker Dask LocalCluster, each into a fresh results folder (so the
figures include writing every part file and consolidating runs.parquet). Parallel
efficiency = rate(2 workers) / (2 x rate(1 worker)); target >= 0.85 on an idle machine.
Start-up (worker processes, cluster) is included: it is part of what a user waits for.
Each worker process's resident set is printed after a quarter of the runs and at the end
(memory per worker should stay flat in the number of runs), and its CPU time over the
sweep's: a worker busy well under 100 % of the time waited for a core (a loaded machine)
or for work (the parent process too slow to feed it).

A script, not a test: it prints figures for the issue notes and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class WorkerMemory:
    """One worker process's resident set over a sweep (MiB)."""

    pid: int
    early_runs: int  # runs finished (by all workers) at the early sample
    early_mib: float
    end_runs: int
    end_mib: float
    peak_mib: float | None  # VmHWM
    cpu_s: float  # CPU seconds it used while watched: over the sweep's time, its core share

    @property
    def growth(self) -> float:
        """End over early resident set: 1.0 is flat."""
        return self.end_mib / self.early_mib


@dataclass(frozen=True)
class SweepFigures:
    runs: int
    elapsed_s: float
    failed: int
    workers: list[WorkerMemory]

    @property
    def rate(self) -> float:
        return self.runs / self.elapsed_s


def worker_memory(records: dict[str, dict[str, Any]], runs: int,
                  busy_share: float = 0.25) -> list[WorkerMemory]:
    """The workers among `benchmarks.rss_watch`'s records - the processes that did at least
    `busy_share` of the busiest one's CPU work (not a pool's parent or a Dask nanny) - with
    their resident set at the first sample once a quarter of the `runs` were done and at
    their last sample."""
    busiest = max((r.get("cpu_s", 0.0) for r in records.values()), default=0.0)
    found = []
    for pid, record in records.items():
        samples = record["samples"]
        if not samples or busiest <= 0 or record.get("cpu_s", 0.0) < busy_share * busiest:
            continue
        early = next((s for s in samples if s[0] >= runs / 4), samples[0])
        found.append(WorkerMemory(int(pid), early[0], early[1], samples[-1][0], samples[-1][1],
                                  record.get("peak_mib"), record.get("cpu_s", 0.0)))
    return sorted(found, key=lambda w: w.pid)


def measure(label: str, runs: int, steps: int, **execution: object) -> SweepFigures:
    """Run the sweep into a fresh folder, print and return its rate and the memory of its
    worker processes (watched from a separate process, `benchmarks.rss_watch`)."""
    with tempfile.TemporaryDirectory() as out:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.rss_watch", str(os.getpid()),
             str(Path(out) / "parts")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[1])
        try:
            started = time.perf_counter()
            result = run_plan(tasks(runs, steps), out, description={"kind": "bench"},
                              progress=False, **execution)  # type: ignore[arg-type]
            elapsed = time.perf_counter() - started
        finally:
            report, _ = watcher.communicate(b"")
    figures = SweepFigures(runs, elapsed, result.failed,
                           worker_memory(json.loads(report or b"{}"), runs))
    print(f"  {label:<28} {runs} runs in {elapsed:7.1f} s = {figures.rate:6.2f} runs/s"
          f"{f'  ({result.failed} failed)' if result.failed else ''}")
    for w in figures.workers:
        peak = f", peak {w.peak_mib:.0f}" if w.peak_mib else ""
        print(f"    worker {w.pid}: {w.early_mib:.0f} MiB when {w.early_runs} runs were done, "
              f"{w.end_mib:.0f} MiB at {w.end_runs} (x{w.growth:.3f}{peak}); "
              f"busy {w.cpu_s / elapsed:.0%} of the time")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=720)
    args = parser.parse_args(argv)
    print(f"sweep of the baseline, {args.steps} hourly steps:")
    one = measure("1 worker (in-process)", args.runs, args.steps, workers=1).rate
    two = measure("2 local worker processes", args.runs, args.steps, workers=2).rate
    dask = measure("Dask LocalCluster, 2 workers", args.runs, args.steps, workers=2,
                   scheduler="local").rate
    print(f"  parallel efficiency: local {two / (2 * one):.2f}, "
          f"Dask {dask / (2 * one):.2f} (target >= 0.85)")


if __name__ == "__main__":
    main()
