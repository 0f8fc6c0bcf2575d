"""Memory of a sweep's processes over its runs: `python -m benchmarks.rss_watch PID PARTS`.

Started by `benchmarks.sweep_bench` as a separate process, so that watching adds no thread
to the sweep's process (a thread there would change its pool's start method from fork to
forkserver, see `experiments.executors._context`). Every `INTERVAL_S` it records, for
process PID and each of its descendants, the resident set size together with the number
of finished runs (part files in PARTS); when its stdin closes it prints one JSON object,
pid -> {"cmd", "cpu_s" (CPU seconds while watched), "peak_mib" (VmHWM),
"samples": [[runs_done, rss_mib], ...]}.

A script, not a test: it asserts nothing.
"""

from __future__ import annotations

import json
import os
import select
import sys
from pathlib import Path
from typing import Any

import psutil

INTERVAL_S = 0.5


def _peak_mib(pid: int) -> float | None:
    """The process's peak resident set (Linux's VmHWM); None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def watch(pid: int, parts: Path, interval_s: float = INTERVAL_S) -> dict[int, dict[str, Any]]:
    """Sample until stdin closes (or PID ends); return the per-process records."""
    root = psutil.Process(pid)
    me = os.getpid()
    seen: dict[int, dict[str, Any]] = {}
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], interval_s)
        if ready and not sys.stdin.buffer.read1(1):
            break
        done = sum(1 for _ in parts.glob("*.json")) if parts.is_dir() else 0
        try:
            processes = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for proc in processes:
            if proc.pid == me:
                continue
            try:
                with proc.oneshot():
                    rss = proc.memory_info().rss / 2**20
                    cpu = sum(proc.cpu_times()[:2])
                    record = seen.setdefault(proc.pid, {
                        "cmd": " ".join(proc.cmdline())[:100], "cpu0": cpu, "samples": []})
            except psutil.Error:
                continue
            record["cpu_s"] = round(cpu - record["cpu0"], 2)
            record["peak_mib"] = _peak_mib(proc.pid) or record.get("peak_mib")
            record["samples"].append([done, round(rss, 1)])
    return seen


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    records = watch(int(args[0]), Path(args[1]))
    json.dump({str(k): v for k, v in records.items()}, sys.stdout)


if __name__ == "__main__":
    main()
