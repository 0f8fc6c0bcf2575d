"""Every benchmark in turn, then issue 17's goals table: `make bench` (or
`python -m benchmarks.run_all`; `--quick` for a smoke check of the goals).

Speed is a feature: these scripts print throughput figures for the closing notes; they are
not tests and assert nothing. The protocol micro-benchmarks come first (about 30 s); the
whole-run figures (`benchmarks.model`'s amm_arbitrage overhead and baseline scaling, and
`benchmarks.sweep_bench`) are measured by `benchmarks.goals`, which ends with one
"measured / goal" line per goal. `python -m benchmarks.model` adds the 10,000-position
baseline and the liquidation-curve costs.
"""

import argparse
import importlib
import subprocess
import sys

MODULES = (
    "benchmarks.amm_v2_bench",
    "benchmarks.amm_stableswap_bench",
    "benchmarks.amm_v3_bench",
    "benchmarks.lending_bench",
    "benchmarks.liquidator_bench",
    "benchmarks.options_bench",
    "benchmarks.report_bench",
    "benchmarks.dashboard",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="goals as a smoke check only")
    args = parser.parse_args(argv)
    for name in MODULES:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main()
    print("== benchmarks.goals", flush=True)
    # a fresh process: the sweep's worker pool forks it, and it must hold no threads or
    # memory left by the benchmarks above
    subprocess.run([sys.executable, "-m", "benchmarks.goals", *(["--quick"] if args.quick
                                                                 else [])], check=True)


if __name__ == "__main__":
    main()
