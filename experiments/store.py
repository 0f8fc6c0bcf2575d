"""The results folder of a sweep or comparison, safe to kill at any moment.

Layout of OUT/:
- `plan.json`: the sweep's fingerprint (hash of every task) - a folder holds one plan;
- `parts/KEY.json`: one finished run's row, written to a temporary name and renamed, so
  a part file is either whole or absent; its presence is what "finished" means;
- `timeseries/KEY.parquet`, `events/KEY.parquet`: the run's time series and events
  (`sim.outputs.events_frame`), each with a leading `run_key` column, when asked for
  (a sweep's default, always for a comparison); written before its part file, so a part
  file still means the run is whole. `pd.read_parquet(OUT / "timeseries")` reads them all
  as one table; `experiments.query` puts SQL views over them;
- `runs.parquet`: every part consolidated, one row per run key, sorted by (point,
  replicate), written to a temporary file and renamed over the old one.

Restarting with the same plan skips the keys with a part file; a parent or worker killed
mid-write leaves at most a stray temporary file, removed on the next open. JSON parts keep
floats exact (repr round-trips), so runs.parquet does not depend on which process or
executor ran which run. Its one wall-clock column is `runtime_s`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.worker import RunOutcome, RunTask
from protocols.errors import ConfigError
from sim.outputs import atomic_write_text, write_parquet

ID_COLUMNS = ("run_key", "point", "replicate", "seed")
WALL_CLOCK_COLUMNS = ("runtime_s",)
#: summary keys that repeat an id column (the scenario's seed is the run's seed).
_SHADOWED = frozenset({"seed"})


class RunStore:
    """Part files of finished runs, and their consolidation into `runs.parquet`."""

    def __init__(self, out_dir: str | Path, fingerprint: str, description: dict[str, Any]):
        self.out = Path(out_dir)
        self.parts = self.out / "parts"
        self.series = self.out / "timeseries"
        self.events = self.out / "events"
        self.parts.mkdir(parents=True, exist_ok=True)
        plan = self.out / "plan.json"
        if plan.exists():
            recorded = json.loads(plan.read_text()).get("fingerprint")
            if recorded != fingerprint:
                raise ConfigError(
                    f"--out {self.out}: holds the results of a different plan (the sweep "
                    "file, its base scenario or the run count changed); choose a new --out "
                    "or remove the folder")
        else:
            atomic_write_text(plan, json.dumps({"fingerprint": fingerprint, **description},
                                          indent=2, default=str))
        for folder in (self.out, self.parts, self.series, self.events):
            for stray in folder.glob(".*.tmp") if folder.exists() else ():
                stray.unlink(missing_ok=True)

    def done_keys(self) -> set[str]:
        return {p.stem for p in self.parts.glob("*.json")}

    def record(self, task: RunTask, outcome: RunOutcome) -> dict[str, Any]:
        """Write one finished run (time series and events first, then its part file) and
        return its row."""
        row: dict[str, Any] = {"run_key": task.key, "point": task.point,
                               "replicate": task.replicate, "seed": task.seed, **task.params}
        for key, value in (outcome.metrics or {}).items():
            if key not in _SHADOWED and key not in row:
                row[key] = value
        row["error"] = outcome.error
        row["runtime_s"] = outcome.runtime_s
        for folder, table in ((self.series, outcome.timeseries),
                              (self.events, outcome.events)):
            if table is not None:
                folder.mkdir(exist_ok=True)
                frame = table.reset_index(drop=isinstance(table.index, pd.RangeIndex))
                frame.insert(0, "run_key", task.key)
                write_parquet(folder / f"{task.key}.parquet", frame)
        atomic_write_text(self.parts / f"{task.key}.json", json.dumps(row, allow_nan=True))
        return row

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.parts.glob("*.json"))]

    def consolidate(self, column_order: Sequence[str] = ()) -> pd.DataFrame:
        """Gather every part into `runs.parquet` (atomically) and return it."""
        frame = runs_frame(self.rows(), column_order)
        write_parquet(self.out / "runs.parquet", frame)
        return frame


def runs_frame(rows: Iterable[dict[str, Any]], column_order: Sequence[str] = ()) -> pd.DataFrame:
    """Rows as a table: id columns, `column_order` (the parameters), metrics in first-seen
    order, then `error` and `runtime_s`; sorted by (point, replicate)."""
    rows = sorted(rows, key=lambda r: (r["point"], r["replicate"]))
    columns: dict[str, None] = dict.fromkeys([*ID_COLUMNS, *column_order])
    for row in rows:
        columns.update(dict.fromkeys(k for k in row if k not in ("error", "runtime_s")))
    columns.update(dict.fromkeys(["error", "runtime_s"]))
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    frame["error"] = frame["error"].astype("string")
    return frame


