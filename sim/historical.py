"""Historical prices: read the CSV formats of the shared data directory (see its README.md),
put a series on the simulation's round grid (`rounds_per_step` points per step), and stack
several assets into replay paths.

Inside a candle the price is not known, only its open, high, low and close. When a file has
them and the replayed column is the close, the price between two closes follows a path
through the candle's low and high (`candle_path`), so that intra-candle extremes reach the
run (Black Thursday's 86.00 low on Binance, whose lowest hourly close is 96.62).

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


class DataFormatError(ConfigError):
    """A data file cannot be read as a price series: empty, not CSV text, in none of the
    formats `load_price_series` knows, without its price column, or with rows whose time or
    price is missing or invalid. The message names the file and, for rows, their lines."""


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
#: columns that hold prices, so must be > 0 (besides each format's default column).
_PRICE_COLUMNS = ("open", "high", "low", "close", "adj close")
#: line ranges named in a message about bad rows; the rest are counted.
_SHOWN_RANGES = 3


def default_data_dir() -> Path:
    """$DAOSIM_DATA_DIR if set, else the nearest `shared/data` beside the repository or one of
    the folders above it (../shared/data for a checkout next to it; a clone made deeper in
    the same tree finds the same folder), else ../shared/data, which then does not exist and
    is reported by name where a file is needed."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    repo = Path(__file__).resolve().parent.parent
    for folder in repo.parents:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return (repo / ".." / "shared" / "data").resolve()


def load_price_series(path: str | Path, column: str | None = None) -> pd.Series:
    """One column of a data file as a float Series on a UTC DatetimeIndex, sorted, one
    value per timestamp (the last if repeated). A row without a time or value (an empty
    field, NaN, Yahoo's `null`) is refused, naming its file line, not dropped: dropping it
    would bridge the gap silently (ten missing hours replayed as one flat price).

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
    frame, fmt = _read(path)
    name = _column(path, frame, fmt, column)
    values = _numeric(path, frame, name, positive=name in (*_PRICE_COLUMNS, fmt.default_column))
    times = _times(path, frame, fmt)
    if fmt.bar is not None and name in _BAR_END_COLUMNS:
        times = times + fmt.bar
    series = pd.Series(values, index=pd.DatetimeIndex(times, name="time_utc"), name=name)
    series = series.sort_index(kind="stable")
    return series[~series.index.duplicated(keep="last")]


def load_candle_path(path: str | Path, column: str | None = None) -> pd.Series | None:
    """The intra-candle path of a candle file's close (`candle_path`), or None when the file
    is not a candle file with open, high, low and close (Chainlink rounds, Uniswap pool
    state) or `column` is not its close (another column is replayed as its own series).
    Rows missing any of the four prices (Yahoo's `null`) are refused by line, repeated
    candles keep the last."""
    path = Path(path)
    frame, fmt = _read(path)
    name = _column(path, frame, fmt, column)
    if fmt.bar is None or name != "close" or not {"open", "high", "low"} <= set(frame.columns):
        return None
    ohlc = np.column_stack([_numeric(path, frame, c, positive=True)
                            for c in ("open", "high", "low", "close")])
    opened = _times(path, frame, fmt)
    candles = pd.DataFrame(ohlc, index=pd.DatetimeIndex(opened), columns=["o", "h", "l", "c"])
    candles = candles.sort_index(kind="stable")
    candles = candles[~candles.index.duplicated(keep="last")]
    return candle_path(candles.index, candles.to_numpy(), fmt.bar)


def candle_path(opened: pd.DatetimeIndex, ohlc: Array, bar: pd.Timedelta) -> pd.Series:
    """Knots of a piecewise log-linear price path through candles: for the candle that opens
    at T, the price is at T the previous close (its own open after a gap or for the first
    candle), at T + bar/3 and T + 2 bar/3 the candle's two extremes, and at T + bar its close.
    Order rule: a bullish candle (close >= open) goes open -> low -> high -> close, a bearish
    one open -> high -> low -> close - the bar model of the MetaTrader 4 strategy tester,
    which builds the ticks inside a bar from its OHLC the same way (MetaQuotes, "Strategy
    Tester: Modes of Modeling during Testing", www.mql5.com/en/articles/1511; MetaTrader 5
    Help, "Generation of Ticks"): the close is approached from the far side of the bar, so
    both extremes are visited and a falling candle has its low late, next to its close.

    The path starts at the first candle's close (as the close series does, so both cover
    the same span). ohlc: (n, 4) open, high, low, close per candle, in `opened` order
    (sorted, unique). Returns the knots as a Series on a UTC DatetimeIndex.
    """
    opened = pd.DatetimeIndex(opened).as_unit("ns")
    start, step = opened.asi8, bar.value
    o, hi, lo, c = (np.asarray(ohlc, dtype=float)[:, k] for k in range(4))
    bullish = c >= o
    after_gap = np.ones(start.size, dtype=bool)
    after_gap[1:] = start[1:] != start[:-1] + step
    times = np.column_stack([start, start + step // 3, start + 2 * step // 3, start + step])
    values = np.column_stack([o, np.where(bullish, lo, hi), np.where(bullish, hi, lo), c])
    keep = np.ones(times.shape, dtype=bool)
    keep[:, 0] = after_gap  # a candle that follows its neighbour starts at its close knot
    keep[0, :3] = False  # the path starts at the first close
    index = pd.DatetimeIndex(times[keep], tz="UTC", name="time_utc")
    return pd.Series(values[keep], index=index, name="close")


def _read(path: Path) -> tuple[pd.DataFrame, _Format]:
    """A data file's rows (lower-cased headers) and its detected format. Blank lines are
    dropped after parsing, so that the frame's index + 2 stays each row's file line."""
    if not path.is_file():
        raise MissingDataError(
            f"{path}: data file not found. Put {path.name} in the data directory "
            f"{path.parent}, or point `daosim run --data-dir` or ${DATA_DIR_ENV} at the folder "
            f"that holds it (default {default_data_dir()})."
        )
    try:
        frame = pd.read_csv(path, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise DataFormatError(f"{path}: empty file, no CSV header") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not CSV text (not UTF-8: byte "
                              f"{exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except pd.errors.ParserError as exc:
        reason = str(exc).split("C error: ")[-1].strip().rstrip(".")
        raise DataFormatError(f"{path}: malformed CSV ({reason})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    frame = frame.dropna(how="all")
    if frame.empty:
        raise DataFormatError(f"{path}: no data rows below the header")
    fmt = next((f for f in _FORMATS if f.time_column in frame.columns), None)
    if fmt is None:
        raise DataFormatError(f"{path.name}: unknown format, header {list(frame.columns)}")
    return frame, fmt


def _column(path: Path, frame: pd.DataFrame, fmt: _Format, column: str | None) -> str:
    name = fmt.default_column if column is None else column.strip().lower()
    if name in frame.columns:
        return name
    if column is None:  # the file, not the scenario, is wrong
        raise DataFormatError(f"{path}: no {name!r} column (the {fmt.source} format's price); "
                              f"it has {list(frame.columns)}")
    raise ConfigError(f"column: {column!r} is not in {path.name}; it has {list(frame.columns)}")


def _times(path: Path, frame: pd.DataFrame, fmt: _Format) -> pd.Series:
    """The time column as UTC timestamps; rows without a readable time are refused."""
    raw = frame[fmt.time_column]
    try:
        if fmt.unit is None:
            times = pd.to_datetime(raw, utc=True, errors="coerce")
        else:
            times = pd.to_datetime(pd.to_numeric(raw, errors="coerce"), unit=fmt.unit, utc=True)
    except (ValueError, OverflowError) as exc:  # e.g. an epoch beyond pandas' range
        raise DataFormatError(f"{path}: {fmt.time_column}: {exc}") from None
    _refuse(path, frame, times.isna(), f"{fmt.time_column} is missing or not a time")
    return times


def _numeric(path: Path, frame: pd.DataFrame, name: str, positive: bool = False) -> Array:
    """A column as floats; rows with no value, a non-number or (`positive`: a price) a value
    that is not finite and > 0 are refused by file line."""
    raw = frame[name]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    missing = raw.isna()
    _refuse(path, frame, missing, f"{name} is missing (an empty field, NaN or null)")
    text = values.isna() & ~missing
    example = f", e.g. {raw[text].iloc[0]!r}" if text.any() else ""
    _refuse(path, frame, text, f"{name} is not a number{example}")
    if positive:
        _refuse(path, frame, ~(np.isfinite(values) & (values > 0)), f"{name} is not a price > 0")
    return values.to_numpy()


def _refuse(path: Path, frame: pd.DataFrame, bad: pd.Series, reason: str) -> None:
    """Raise if any row is `bad`, naming the first few runs of file lines (1-based, the
    header is line 1) and how many rows."""
    if not bad.any():
        return
    lines = frame.index[bad.to_numpy()].to_numpy() + 2
    breaks = np.flatnonzero(np.diff(lines) != 1) + 1
    runs = [f"{r[0]}-{r[-1]}" if r.size > 1 else f"{r[0]}" for r in np.split(lines, breaks)]
    shown = runs[:_SHOWN_RANGES]
    if len(runs) > _SHOWN_RANGES:
        shown[-1] += f" and {len(runs) - _SHOWN_RANGES} more ranges"
    elif len(runs) > 1:
        shown[-2:] = [f"{shown[-2]} and {shown[-1]}"]
    noun = "line" if lines.size == 1 else "lines"
    rows = "1 row" if lines.size == 1 else f"{lines.size} rows"
    raise DataFormatError(f"{path}: {noun} {', '.join(shown)} ({rows}): {reason}")


def resample_to_steps(
    series: pd.Series,
    step_hours: float,
    start: str | pd.Timestamp | None = None,
    steps: int | None = None,
    rounds_per_step: int = 1,
    *,
    path: bool = False,
) -> Array:
    """The series' prices at start + j * step_hours / R for j = 0..steps * R (R =
    rounds_per_step): shape (steps * R + 1,), row t * R is step t (R = 1: the step grid).

    - `path` (the knots of `candle_path`): log-linear between knots, always;
    - regular data coarser than the grid (daily -> hourly): log-linear interpolation
      between neighbouring observations, i.e. a constant growth rate between them;
    - everything else takes the last observation at or before each grid point: irregular
      data (Chainlink rounds: the answer holds until the next round) is forward-filled, and
      finer data (hourly -> 4 h) is sampled at its last value.
    Grid points that hit an observation take it exactly. A series is regular when every gap
    is a whole multiple of its smallest gap; the round grid chooses its rule by the round
    length, but the step rows (every R-th) are always what the step grid gives (R = 1), so
    rounds never change a replay's step rows. start defaults to the first observation
    (naive timestamps are UTC) and steps to as many whole steps as the data cover; the grid
    must lie inside the data's span.
    """
    step = pd.Timedelta(hours=check_amount("step_hours", step_hours, allow_zero=False))
    rounds = check_steps(rounds_per_step, "rounds_per_step")
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
    regular = bool(gaps.size) and bool(np.all(gaps % gaps.min() == 0))
    on_steps = _at(observed, values, at, path or (regular and gaps.min() > step.value))
    if rounds == 1:
        return on_steps
    j = np.arange(steps * rounds + 1)
    fine = at[0] + (j // rounds) * step.value + (j % rounds) * step.value // rounds
    interpolate = path or (regular and gaps.min() * rounds > step.value)
    on_rounds = _at(observed, values, fine, interpolate)
    on_rounds[::rounds] = on_steps
    return on_rounds


def _at(observed: np.ndarray, values: Array, at: np.ndarray, log_linear: bool) -> Array:
    """Values at times `at` (int ns): log-linear between observations, or the last at or
    before; an observation's own time gives it exactly."""
    last = np.searchsorted(observed, at, side="right") - 1
    if not log_linear:
        return values[last]
    out = np.exp(np.interp(at - observed[0], observed - observed[0], np.log(values)))
    hit = observed[last] == at
    out[hit] = values[last[hit]]
    return out


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
    frame, _ = _read(path)
    column = next((c for c in _BASE_VOLUME + _USD_VOLUME if c in frame.columns), None)
    if column is None:
        raise DataFormatError(f"{path.name}: no volume column ({_BASE_VOLUME + _USD_VOLUME})")
    volume = _numeric(path, frame, column)
    if column in _BASE_VOLUME:
        volume = volume * _numeric(path, frame, "close", positive=True)
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
    rounds_per_step: int = 1,
) -> Array:
    """Historical prices of several assets on one round grid, shape (steps * R + 1, n_assets)
    with R = rounds_per_step (row t * R is step t), columns in the order of `files` ({asset:
    file name in data_dir, or an absolute path}). columns picks a non-default column per
    asset. A candle file replayed at its close follows its intra-candle path
    (`load_candle_path`); other series are resampled by `resample_to_steps`' rules. start
    defaults to the latest first observation and steps to the longest grid every series
    covers.
    """
    if not files:
        raise ConfigError("files: name at least one asset's data file")
    columns = dict(columns or {})
    if unknown := sorted(set(columns) - set(files)):
        raise ConfigError(f"columns: assets {unknown} have no entry in files")
    root = default_data_dir() if data_dir is None else Path(data_dir)
    series: dict[str, tuple[pd.Series, bool]] = {}
    for asset, file in files.items():
        knots = load_candle_path(root / file, columns.get(asset))
        plain = load_price_series(root / file, columns.get(asset)) if knots is None else knots
        series[asset] = (plain, knots is not None)
    if start is None:
        start = max(s.index[0] for s, _ in series.values())
    prices = []
    for asset, (s, path) in series.items():
        try:
            prices.append(resample_to_steps(s, step_hours, start, steps, rounds_per_step,
                                            path=path))
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
