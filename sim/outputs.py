"""Write a run's outputs: `timeseries.parquet`, `events.parquet`, `summary.parquet`, a
human-readable `summary.json`, the resolved `scenario.json` (what ran, for reports and
re-runs), `health.parquet` and `graph.json` when the run has them. Every file is written
to a temporary name in the same folder and renamed into place, so a reader never sees half
a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from sim.runner import RunResult
    from sim.schema import Scenario


def write_run(out_dir: str | Path, result: RunResult, scenario: Scenario) -> Path:
    """Write the files of one run of `scenario` into `out_dir` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(out / "timeseries.parquet", result.timeseries)
    write_parquet(out / "events.parquet", events_frame(result.events))
    write_parquet(out / "summary.parquet", pd.DataFrame([result.summary]))
    atomic_write_text(out / "summary.json", json.dumps(result.summary, indent=2, default=str))
    atomic_write_text(out / "scenario.json", scenario.model_dump_json(indent=2))
    if result.health is not None:
        write_parquet(out / "health.parquet", result.health)
    if result.graph is not None:
        from sim.graph import write_graph

        write_graph(result.graph, out / "graph.json")
    return out


def events_frame(events: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Events as a table: `step`, `kind`, then each event's own fields. Columns that mix
    types across event kinds are stored as text so Parquet can hold them."""
    frame = pd.DataFrame(list(events), columns=None if events else ["step", "kind"])
    for column in frame.columns:
        if frame[column].dtype == object:
            values = frame[column].dropna()
            if values.map(type).nunique() > 1 or values.map(lambda v: isinstance(v, dict)).any():
                frame[column] = frame[column].map(
                    lambda v: None if v is None else json.dumps(v, default=str)
                    if isinstance(v, dict | list) else str(v)
                )
    return frame


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    _atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def atomic_write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: Path(tmp).write_text(text))


def _atomic(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
