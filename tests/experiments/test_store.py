"""The results store: atomic parts, exact round trip, resume keys, plan fingerprint."""

import json

import pandas as pd
import pytest

from experiments.store import RunStore, runs_frame
from experiments.worker import RunOutcome, RunTask, flatten
from protocols.errors import ConfigError


def task(key: str, point: int, rep: int) -> RunTask:
    return RunTask(key=key, point=point, replicate=rep, seed=100 + rep, params={"a.b": point},
                   scenario={})


def test_parts_round_trip_exactly_and_consolidate_sorted(tmp_path):
    store = RunStore(tmp_path, "fp1", {"kind": "test"})
    third = 0.1 + 0.2  # 0.30000000000000004: must survive the JSON part exactly
    store.record(task("p1-r0", 1, 0), RunOutcome("p1-r0", {"x": third, "seed": 100, "n": 3},
                                                 None, 0.5))
    store.record(task("p0-r1", 0, 1), RunOutcome("p0-r1", None, "ValueError: boom", 0.1))
    store.record(task("p0-r0", 0, 0), RunOutcome("p0-r0", {"x": 1.5, "n": 2}, None, 0.2))
    assert store.done_keys() == {"p0-r0", "p0-r1", "p1-r0"}
    frame = store.consolidate(["a.b"])
    assert list(frame.columns) == ["run_key", "point", "replicate", "seed", "a.b", "x", "n",
                                   "error", "runtime_s"]
    assert list(frame["run_key"]) == ["p0-r0", "p0-r1", "p1-r0"]
    assert frame.loc[2, "x"] == third and frame.loc[2, "seed"] == 100
    assert frame.loc[1, "error"] == "ValueError: boom" and pd.isna(frame.loc[1, "x"])
    assert pd.read_parquet(tmp_path / "runs.parquet").equals(frame)
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_folder_holds_one_plan_and_stray_temp_files_are_cleaned(tmp_path):
    RunStore(tmp_path, "fp1", {})
    (tmp_path / "parts" / ".p0-r0.json.abc.tmp").write_text('{"half')
    store = RunStore(tmp_path, "fp1", {})
    assert store.done_keys() == set() and not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(ConfigError, match="different plan"):
        RunStore(tmp_path, "fp2", {})
    assert json.loads((tmp_path / "plan.json").read_text())["fingerprint"] == "fp1"


def test_flatten_keeps_scalars_and_flattens_nested_values():
    import numpy as np

    flat = flatten({"a": np.float64(1.5), "b": {"c": 2, "d": {"e": "x"}}, "f": [1, 2],
                    "g": None, "h": True})
    assert flat == {"a": 1.5, "b.c": 2, "b.d.e": "x", "f": "[1, 2]", "g": None, "h": True}
    assert type(flat["a"]) is float


def test_runs_frame_of_no_rows_has_the_id_columns():
    frame = runs_frame([], ["p"])
    assert list(frame.columns) == ["run_key", "point", "replicate", "seed", "p", "error",
                                   "runtime_s"]
