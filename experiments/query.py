"""SQL over an output folder's Parquet files, with DuckDB (https://duckdb.org).

`connect(folder)` opens an in-memory DuckDB database holding one view per table the folder
has:

- `runs`: one row per run (`runs.parquet` of a sweep or comparison; a run folder's
  `summary.parquet`, its one row);
- `points`: one row per design point with the metrics' means (`points.parquet`, sweeps);
- `timeseries`: one row per run and step (a run folder's `timeseries.parquet`; every
  `timeseries/KEY.parquet` of a sweep or comparison, whose `run_key` joins `runs`);
- `events`: one row per event, likewise (`events.parquet`, `events/KEY.parquet`).

A view is SQL, not data: DuckDB reads the Parquet files itself when a query runs, only the
columns and row groups the query needs, so "p99 of shortfall by policy over 2,000 runs"
never holds the runs in pandas. Per-run files are read with `union_by_name`, so runs whose
columns differ (a run without events, a scenario with an extra market) still stack, the
missing columns as NULL. A table the folder lacks (a sweep run with `timeseries = false`
keeps no time series) has no view, and naming it says which views there are.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd

from protocols.errors import ConfigError

#: the views, in the order they are listed
VIEWS = ("runs", "points", "timeseries", "events")
#: a run folder's file behind each view (`sim.outputs`)
_RUN_FILES = {"runs": "summary.parquet", "timeseries": "timeseries.parquet",
              "events": "events.parquet"}
#: a sweep's or comparison's table files (`experiments.sweep`) and per-run folders
#: (`experiments.store`)
_PLAN_FILES = {"runs": "runs.parquet", "points": "points.parquet"}
_PLAN_FOLDERS = {"timeseries": "timeseries", "events": "events"}


def folder_kind(folder: str | Path) -> str:
    """'run', 'sweep' or 'compare', by the rule of `reports.build.kind_of` (a sweep or
    comparison folder has a plan.json saying which), without its demand for every file
    a report reads: a query needs only the files it names."""
    path = Path(folder)
    if not path.is_dir():
        raise ConfigError(f"query: {path} is not a folder (give the output folder of "
                          "`daosim run`, `daosim sweep` or `daosim compare`)")
    plan = path / "plan.json"
    if plan.exists():
        try:
            kind = json.loads(plan.read_text()).get("kind", "sweep")
        except (ValueError, AttributeError) as exc:
            raise ConfigError(f"query: {plan} is not a daosim plan ({exc})") from None
        if kind not in ("sweep", "compare"):
            raise ConfigError(f"query: {plan}: unknown kind {kind!r} (a sweep or compare "
                              "plan)")
        return str(kind)
    if any((path / name).exists() for name in _RUN_FILES.values()):
        return "run"
    raise ConfigError(f"query: {path} holds no results of `daosim run`, `daosim sweep` or "
                      "`daosim compare` (no plan.json, summary.parquet or "
                      "timeseries.parquet)")


def view_files(folder: str | Path) -> dict[str, list[Path]]:
    """The Parquet files behind each view the folder has (views without files omitted)."""
    path = Path(folder)
    found: dict[str, list[Path]] = {}
    if folder_kind(path) == "run":
        for view, name in _RUN_FILES.items():
            if (path / name).exists():
                found[view] = [path / name]
        return found
    for view, name in _PLAN_FILES.items():
        if (path / name).exists():
            found[view] = [path / name]
    for view, name in _PLAN_FOLDERS.items():
        # part files are written atomically under hidden temporary names: `*.parquet`
        # sees whole files only
        files = sorted((path / name).glob("*.parquet"))
        if files:
            found[view] = files
    return {view: found[view] for view in VIEWS if view in found}


def connect(folder: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view over each of the folder's tables
    (module docstring); close it when done (or use it in a `with` block)."""
    files = view_files(folder)
    con = duckdb.connect(":memory:")
    try:
        for view, paths in files.items():
            listed = ", ".join(_literal(p) for p in paths)
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{listed}], "
                        "union_by_name = true)")
    except duckdb.Error as exc:
        con.close()
        raise ConfigError(f"query: {folder}: cannot read its Parquet files: "
                          f"{_first_line(exc)}") from None
    return con


def query(folder: str | Path, sql: str) -> pd.DataFrame:
    """The result of `sql` over the folder's views as a DataFrame (only the result is
    loaded). A failing query is a one-line ConfigError with DuckDB's message; naming a
    table or function that does not exist also lists the folder's views."""
    with connect(folder) as con:
        try:
            return con.execute(sql).df()
        except duckdb.CatalogException as exc:
            have = views(con)
            hint = ""
            if "timeseries" not in have and folder_kind(folder) == "sweep":
                hint = (" (a sweep keeps its runs' time series and events unless its sweep "
                        "file sets timeseries = false)")
            raise ConfigError(f"query: {folder} has the views {', '.join(have) or 'none'}"
                              f"{hint}; {_first_line(exc)}") from None
        except duckdb.Error as exc:
            raise ConfigError(f"query: {_message(exc)}") from None


def describe(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Each view's columns and DuckDB types (`DESCRIBE`), in `VIEWS` order."""
    with connect(folder) as con:
        return {view: con.execute(f"DESCRIBE {view}").df()[["column_name", "column_type"]]
                for view in views(con)}


def views(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The views of a `connect` connection, in `VIEWS` order."""
    names = {row[0] for row in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    return [v for v in VIEWS if v in names]


def _literal(path: Path) -> str:
    """`path` as an SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def _first_line(exc: BaseException) -> str:
    """DuckDB's first line (a catalog error's next line guesses among DuckDB's own
    tables - "Did you mean pg_enum?" - so the views are listed instead)."""
    return _lines(exc)[0]


def _message(exc: BaseException) -> str:
    """DuckDB's message on one line (a binder error's second line names the columns
    meant: "Candidate bindings: ...")."""
    return "; ".join(_lines(exc))


def _lines(exc: BaseException) -> list[str]:
    """DuckDB's lines up to its echo of the query (`LINE 1:` and a caret under the
    fault, which need the line breaks a one-line message loses)."""
    head = str(exc).split("\n\n")[0]
    return [line.strip() for line in head.splitlines() if line.strip()] or [
        type(exc).__name__]
