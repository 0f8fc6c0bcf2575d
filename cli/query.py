"""`daosim query FOLDER "SQL"`: SQL over a run, sweep or comparison folder (DuckDB).

Argument parsing and terminal output only; the views and their files are in
`experiments.query`.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas loads with the query, not with `daosim --help`
    import pandas as pd


def add_query(commands: Any) -> None:
    """Register `daosim query FOLDER [SQL] [--csv]`."""
    query = commands.add_parser(
        "query", help="SQL over a run, sweep or comparison folder (views runs, points, "
                      "timeseries, events)",
        description="Runs SQL (DuckDB's dialect) over the folder's Parquet files as the "
                    "views runs (one row per run), points (a sweep's per-point means), "
                    "timeseries (one row per run and step) and events (one row per event); "
                    "per-run rows carry run_key, which joins them to runs. Prints every row "
                    "of the result. Without SQL, lists the folder's views and their "
                    "columns. Column names with dots or brackets need double quotes: "
                    "\"treasury.policy.kind\".")
    query.add_argument("folder", type=Path, help="the --out folder of run, sweep or compare")
    query.add_argument("sql", nargs="?", default=None,
                       help="the query, e.g. \"SELECT count(*) FROM runs\" (omit it to list "
                            "the views)")
    query.add_argument("--csv", action="store_true",
                       help="print the result as CSV (full precision, for piping)")
    query.set_defaults(handler=_query)


def _query(args: argparse.Namespace) -> int:
    from experiments.query import describe, query

    if args.sql is None:
        for view, columns in describe(args.folder).items():
            print(f"{view} ({len(columns)} columns)")
            width = int(columns["column_name"].str.len().max())
            for name, kind in columns.itertuples(index=False):
                print(f"  {name:<{width}}  {kind}")
        return 0
    result = query(args.folder, args.sql)
    if args.csv:
        result.to_csv(sys.stdout, index=False)
    else:
        print(table(result))
    return 0


def table(frame: pd.DataFrame) -> str:
    """Every row and column of `frame`, floats readable: six significant digits, whole
    numbers from 100,000 up, thousands separated."""
    import pandas as pd

    if frame.empty:
        return " ".join(str(c) for c in frame.columns) + "\n(0 rows)"
    floats = {c: _float for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}
    return frame.to_string(index=False, formatters=floats, na_rep="NULL")


def _float(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NULL"
    value = float(value)
    if math.isfinite(value) and abs(value) >= 1e5:
        return f"{value:,.0f}"
    return f"{value:,.6g}"
