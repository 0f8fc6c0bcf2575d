"""The goals table's arithmetic (benchmarks.goals, benchmarks.sweep_bench): pure helpers
on hand-made figures. No timing is asserted anywhere in the suite."""

import math

from benchmarks.goals import Goal, table
from benchmarks.sweep_bench import worker_memory


def test_a_ceiling_goal_is_measured_over_goal() -> None:
    goal = Goal("amm_arbitrage vs bare Mesa", 13.5, 2.0, "x")
    assert goal.ratio == 6.75
    assert not goal.met
    assert goal.line().split() == ["amm_arbitrage", "vs", "bare", "Mesa", "13.5x", "/",
                                   "<=", "2x", "=", "6.75", "NOT", "MET"]


def test_a_floor_goal_is_goal_over_measured() -> None:
    # 2 workers at 1.9x one worker beat the 1.8x floor: 1.8 / 1.9 = 0.947
    goal = Goal("sweep: 2 workers / 1", 1.9, 1.8, "x", at_least=True)
    assert math.isclose(goal.ratio, 1.8 / 1.9)
    assert goal.met
    assert ">= 1.8x" in goal.line() and goal.line().endswith("0.95  met")
    assert Goal("stalled", 0.0, 1.8, "x", at_least=True).ratio == math.inf


def test_a_goal_met_exactly_counts_as_met() -> None:
    assert Goal("peak memory", 1024.0, 1024.0, " MiB").met
    assert "1,024 MiB" in Goal("peak memory", 1024.0, 1024.0, " MiB").line()


def test_the_table_lists_every_goal_and_the_load() -> None:
    text = table([Goal("a", 1.0, 2.0, "x"), Goal("b", 3.0, 2.0, "x")], ("1.00", "2.00"))
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[1].endswith("0.50  met") and lines[2].endswith("1.50  NOT MET")
    assert "before 1.00, after 2.00" in lines[3]


def test_worker_memory_keeps_the_busy_processes_and_samples_a_quarter_in() -> None:
    records = {
        "10": {"cpu_s": 0.4, "peak_mib": 300.0, "samples": [[0, 300.0], [200, 300.0]]},  # parent
        "11": {"cpu_s": 100.0, "peak_mib": 212.0,
               "samples": [[0, 150.0], [30, 190.0], [50, 200.0], [120, 205.0], [199, 210.0]]},
        "12": {"cpu_s": 98.0, "peak_mib": None, "samples": [[60, 180.0], [198, 180.0]]},
    }
    found = worker_memory(records, runs=200)
    assert [w.pid for w in found] == [11, 12]
    first, second = found
    assert (first.early_runs, first.early_mib, first.end_runs, first.end_mib) == (50, 200.0,
                                                                                  199, 210.0)
    assert first.growth == 1.05 and first.peak_mib == 212.0 and first.cpu_s == 100.0
    # a worker first seen after the quarter mark is measured from its first sample
    assert (second.early_runs, second.growth) == (60, 1.0)
    assert worker_memory({}, runs=200) == []
