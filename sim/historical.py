"""Historical prices: read the CSV formats of the shared data directory (see its README.md),
put a series on the simulation's step grid, and stack several assets into replay paths.

Data files never live in the repository. They are read from `default_data_dir()`:
$DAOSIM_DATA_DIR if set, else ../shared/data next to the repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from protocols.errors import ConfigError, DaosimError, InvalidAmount
from protocols.validation import check_amount
from sim.prices import Array, check_steps

DATA_DIR_ENV = "DAOSIM_DATA_DIR"


class MissingDataError(DaosimError):
    """A data file is missing, or a series does not cover the time span a run needs."""


class DataFormatError(DaosimError):
    """A CSV file is in none of the formats `load_price_series` knows."""


@dataclass(frozen=True)
class _Format:
    source: str
    time_column: str
    unit: str | None  # pandas epoch unit of time_column; None: date strings
    bar: pd.Timedelta | None  # candle length of OHLC files; None: point observations
    default_column: str


# Detected by the first time column present (lower-cased headers): CryptoDataDownload files
# have both `unix` and `date`, so `unix` is tried before Yahoo's `date`.
_FORMATS = (
    _Format("Binance/FTX hourly klines", "open_time_ms", "ms", pd.Timedelta(hours=1), "close"),
    _Format("CryptoDataDownload daily", "unix", "ms", pd.Timedelta(days=1), "close"),
    _Format("Chainlink oracle rounds", "updated_at_unix", "s", None, "steth_per_eth"),
    _Format("Uniswap v3 hourly pool state", "timestamp", "s", None, "usdt_per_usdc"),
    _Format("Yahoo Finance daily", "date", None, pd.Timedelta(days=1), "close"),
)
_BAR_END_COLUMNS = ("close", "adj close")


def default_data_dir() -> Path:
    """$DAOSIM_DATA_DIR if set, else ../shared/data relative to the repository root (the
    parent of the `sim` package directory)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return (Path(__file__).resolve().parent.parent / ".." / "shared" / "data").resolve()


def load_price_series(path: str | Path, column: str | None = None) -> pd.Series:
    """One column of a data file as a float Series on a UTC DatetimeIndex, sorted, one
    value per timestamp (the last if repeated), missing values (Yahoo's `null`) dropped.

    The format is detected from the header (column names are case-insensitive): Binance/FTX
    hourly klines, CryptoDataDownload daily, Chainlink rounds, Uniswap v3 hourly pool
    state, Yahoo daily. `column` defaults to close, or the file's derived price column
    (steth_per_eth, usdt_per_usdc). Timestamps say when a value was observed: a candle's
    close is stamped at the candle's END (open time + 1 h or 1 day) because that is when the
    price was that value; open/high/low/volume keep the candle's open time, oracle rounds
    their update time and pool samples their sample time. So the daily close of 12 Mar 2020
    sits at 2020-03-13 00:00 UTC, which keeps daily and hourly files aligned on one grid.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(
            f"{path}: data file not found. Put {path.name} in the data directory "
            f"{path.parent}, or point `daosim run --data-dir` or ${DATA_DIR_ENV} at the folder "
            f"that holds it (default {default_data_dir()})."
        )
    frame = pd.read_csv(path)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    fmt = next((f for f in _FORMATS if f.time_column in frame.columns), None)
    if fmt is None:
        raise DataFormatError(f"{path.name}: unknown format, header {list(frame.columns)}")
    name = fmt.default_column if column is None else column.strip().lower()
    if name not in frame.columns:
        raise ConfigError(f"column: {column!r} is not in {path.name}; it has {list(frame.columns)}")
    try:
        values = frame[name].astype(float).to_numpy()
    except ValueError:
        raise DataFormatError(f"{path.name}: column {name!r} is not numeric") from None

    times = pd.to_datetime(frame[fmt.time_column], unit=fmt.unit, utc=True)
    if fmt.bar is not None and name in _BAR_END_COLUMNS:
        times = times + fmt.bar
    series = pd.Series(values, index=pd.DatetimeIndex(times, name="time_utc"), name=name)
    series = series.dropna().sort_index(kind="stable")
    return series[~series.index.duplicated(keep="last")]


def resample_to_steps(
    series: pd.Series,
    step_hours: float,
    start: str | pd.Timestamp | None = None,
    steps: int | None = None,
) -> Array:
    """The series' prices at start + k * step_hours for k = 0..steps, shape (steps + 1,).

    - regular data coarser than the step (daily -> hourly): log-linear interpolation
      between neighbouring observations, i.e. a constant growth rate between them, so the
      observations themselves are kept exactly at the grid points that hit them;
    - everything else takes the last observation at or before each grid point: irregular
      data (Chainlink rounds: the answer holds until the next round) is forward-filled, and
      finer data (hourly -> 4 h) is sampled at its last value.
    A series is regular when every gap is a whole multiple of its smallest gap. start
    defaults to the first observation (naive timestamps are UTC) and steps to as many whole
    steps as the data cover; the grid must lie inside the data's span.
    """
    step = pd.Timedelta(hours=check_amount("step_hours", step_hours, allow_zero=False))
    index, values = _checked(series)
    start = index[0] if start is None else _utc(start)
    if steps is None:
        steps = (index[-1] - start) // step if start <= index[-1] else 0
        if steps < 1:
            raise MissingDataError(
                f"{series.name}: data cover {index[0]} to {index[-1]}, less than one step of "
                f"{step} from {start}"
            )
    steps = check_steps(steps)
    grid = pd.date_range(start, periods=steps + 1, freq=step)
    if grid[0] < index[0] or grid[-1] > index[-1]:
        raise MissingDataError(
            f"{series.name}: data cover {index[0]} to {index[-1]}, the run needs {grid[0]} to "
            f"{grid[-1]}"
        )
    observed, at = index.asi8, grid.as_unit("ns").asi8
    gaps = np.diff(observed)
    if gaps.size and np.all(gaps % gaps.min() == 0) and gaps.min() > step.value:
        return np.exp(np.interp(at - observed[0], observed - observed[0], np.log(values)))
    return values[np.searchsorted(observed, at, side="right") - 1]


#: Volume columns by unit: base-asset units (priced at the close) or USD.
_BASE_VOLUME, _USD_VOLUME = ("volume_base",), ("volume_quote_usd", "volume")


def square_root_depth_usd(
    path: str | Path, start: str | pd.Timestamp, end: str | pd.Timestamp
) -> float:
    """Off-chain depth (USD of net flow per 1 % move, `spec.Asset.external_depth_usd`)
    calibrated from a candle file's volume and volatility over [start, end).

    The square-root law of market impact, dP/P = Y sigma_d sqrt(Q / V_d) with Y ~ 1 (Toth
    et al. 2011, "Anomalous price impact and the critical nature of liquidity in financial
    markets", Physical Review X 1; shown to hold on Bitcoin by Donier and Bonart 2015, "A
    million metaorder analysis of market impact on the Bitcoin", Market Microstructure and
    Liquidity 1(2)), solved for the flow that moves the price 1 %:
    Q = V_d (0.01 / sigma_d)^2, with V_d the mean daily USD volume and sigma_d the daily
    volatility of log closes (hourly returns scaled by sqrt(24)). The linear impact model
    of `protocols.offchain` then agrees with the square-root law at that size. The file is
    one exchange's market, so the depth is that venue's, a lower bound for the whole."""
    path = Path(path)
    close = load_price_series(path)
    frame = pd.read_csv(path)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    column = next((c for c in _BASE_VOLUME + _USD_VOLUME if c in frame.columns), None)
    if column is None:
        raise DataFormatError(f"{path.name}: no volume column ({_BASE_VOLUME + _USD_VOLUME})")
    volume = frame[column].astype(float).to_numpy()
    if column in _BASE_VOLUME:
        volume = volume * frame["close"].astype(float).to_numpy()
    start, end = _utc(start), _utc(end)
    inside = (close.index > start) & (close.index <= end)  # closes are stamped at bar ends
    if inside.sum() < 3:
        raise MissingDataError(f"{path.name}: fewer than 3 candles between {start} and {end}")
    bar_days = (close.index[1] - close.index[0]) / pd.Timedelta(days=1)
    returns = np.diff(np.log(close[inside].to_numpy()))
    sigma_day = float(np.std(returns) / np.sqrt(bar_days))
    volume_day = float(np.mean(volume[inside]) / bar_days)
    return volume_day * (0.01 / sigma_day) ** 2


def replay_paths(
    files: Mapping[str, str | Path],
    step_hours: float,
    start: str | pd.Timestamp | None = None,
    steps: int | None = None,
    data_dir: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
) -> Array:
    """Historical prices of several assets on one step grid, shape (steps + 1, n_assets),
    columns in the order of `files` ({asset: file name in data_dir, or an absolute path}).
    columns picks a non-default column per asset. start defaults to the latest first
    observation and steps to the longest grid every series covers (see `resample_to_steps`).
    """
    if not files:
        raise ConfigError("files: name at least one asset's data file")
    columns = dict(columns or {})
    if unknown := sorted(set(columns) - set(files)):
        raise ConfigError(f"columns: assets {unknown} have no entry in files")
    root = default_data_dir() if data_dir is None else Path(data_dir)
    series = {
        asset: load_price_series(root / file, columns.get(asset)) for asset, file in files.items()
    }
    if start is None:
        start = max(s.index[0] for s in series.values())
    prices = []
    for asset, s in series.items():
        try:
            prices.append(resample_to_steps(s, step_hours, start, steps))
        except MissingDataError as exc:  # name the asset and file, not just the column
            raise MissingDataError(f"{asset} ({Path(files[asset]).name}): {exc}") from None
    rows = min(p.size for p in prices)
    return np.column_stack([p[:rows] for p in prices])


def _utc(time: str | pd.Timestamp) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(time)
    except (TypeError, ValueError):
        raise ConfigError(f"start: not a timestamp: {time!r}") from None
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def _checked(series: pd.Series) -> tuple[pd.DatetimeIndex, Array]:
    """A price series' UTC index and values: time-indexed, sorted, unique, finite, > 0."""
    if not isinstance(series, pd.Series) or not isinstance(series.index, pd.DatetimeIndex):
        raise ConfigError("series: expected a pandas Series on a DatetimeIndex")
    index = series.index if series.index.tz is not None else series.index.tz_localize("UTC")
    if series.empty or not index.is_monotonic_increasing or not index.is_unique:
        raise ConfigError(f"series {series.name!r}: index must be non-empty, sorted and unique")
    values = series.to_numpy(dtype=float)
    if not np.all(np.isfinite(values) & (values > 0)):
        raise InvalidAmount(f"series {series.name!r}: prices must be finite and > 0")
    return index.tz_convert("UTC").as_unit("ns"), values
