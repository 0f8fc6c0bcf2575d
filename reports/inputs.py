"""Reading a results folder's files for a report: a file that cannot be read (truncated,
corrupt, not what its name says) is a `ConfigError` naming it, not a traceback from
pyarrow or json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from protocols.errors import ConfigError

T = TypeVar("T")


def read_json(path: Path) -> Any:
    return _read(path, lambda: json.loads(path.read_text()))


def read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file, or a folder of them read as one table."""
    return _read(path, lambda: pd.read_parquet(path))


def read_csv(path: Path) -> pd.DataFrame:
    return _read(path, lambda: pd.read_csv(path))


def _read(path: Path, read: Callable[[], T]) -> T:
    try:
        return read()
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        # pyarrow's ArrowInvalid, json's JSONDecodeError and pandas' EmptyDataError are
        # ValueErrors; a missing or unreadable file is an OSError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"report: cannot read {path}: {reason} (the file is damaged or "
                          "not the one this command wrote; write the results again)") from None
