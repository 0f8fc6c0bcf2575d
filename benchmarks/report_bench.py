"""How long a run report takes to draw: the baseline run (30 days hourly, 1,000 positions)
once, then each of its figures and the whole `build_report` (PNG rendering included).
`python -m benchmarks.report_bench`."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from reports import run_report
from reports.build import build_report
from reports.figures import house_style
from sim.outputs import write_run
from sim.runner import run_scenario
from sim.scenario import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "experiments" / "scenarios" / "baseline.toml"
FIGURES = (run_report.price_figure, run_report.health_figure, run_report.liquidation_figure,
           run_report.graph_figure, run_report.treasury_figure)


def main() -> None:
    scenario = load_scenario(BASELINE)
    with tempfile.TemporaryDirectory() as folder:
        write_run(folder, run_scenario(scenario, graph=True), scenario)
        run = run_report.load_run(folder)
        with house_style():
            for make in FIGURES:
                started = time.perf_counter()
                make(run).png()
                print(f"{make.__name__:<20} {time.perf_counter() - started:6.2f} s")
        best = min(_timed(lambda: build_report(folder)) for _ in range(3))
        print(f"{'build_report (best of 3)':<20} {best:6.2f} s")


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
