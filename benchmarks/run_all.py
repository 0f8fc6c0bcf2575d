"""Run every protocol benchmark in turn: `make bench` (or `python -m benchmarks.run_all`).

Speed is a feature: these scripts print throughput figures for the closing notes; they are
not tests and assert nothing.
"""

import importlib

MODULES = (
    "benchmarks.amm_v2_bench",
    "benchmarks.amm_stableswap_bench",
    "benchmarks.amm_v3_bench",
    "benchmarks.lending_bench",
    "benchmarks.liquidator_bench",
    "benchmarks.options_bench",
    "benchmarks.model",
    "benchmarks.report_bench",
)


def main() -> None:
    for name in MODULES:
        print(f"== {name}")
        importlib.import_module(name).main()


if __name__ == "__main__":
    main()
