"""Tests of sim.historical against the real files in the shared data directory (values from
its README.md) and on synthetic series for the resampling rules."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from protocols.errors import ConfigError, DaosimError, InvalidAmount
from sim.historical import (
    DataFormatError,
    MissingDataError,
    candle_path,
    default_data_dir,
    load_candle_path,
    load_price_series,
    replay_paths,
    resample_to_steps,
    square_root_depth_usd,
)

DATA = default_data_dir()
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"no data directory at {DATA}")

ETH_BINANCE_2020 = "eth_usdt_binance_1h_2020-03-08_2020-03-16.csv"
ETH_BINANCE_2022 = "eth_usdt_binance_1h_2022-05-01_2022-07-11.csv"
ETH_FTX_2020 = "eth_usd_ftx_1h_2020-03-08_2020-03-16.csv"
ETH_YAHOO = "eth_usd_yahoo_daily_2020-01-01_2025-11-20.csv"
ETH_CDD = "eth_usdt_binance_daily_2017-08-17_2025-12-31.csv"
FTT_YAHOO = "ftt_usd_yahoo_daily_2021-12-15_2022-12-15.csv"
STETH_CHAINLINK = "steth_eth_chainlink_rounds_2022-01-29_2024-01-28.csv"
USDC_UNISWAP = "usdc_usdt_uniswapv3_1bp_pool_hourly_2023-03-08_2023-03-16.csv"
USDC_YAHOO = "usdc_usd_yahoo_daily_2020-01-01_2025-11-20.csv"


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# -- data directory ------------------------------------------------------------------------
def test_default_data_dir_is_shared_data_next_to_the_repo(monkeypatch):
    monkeypatch.delenv("DAOSIM_DATA_DIR", raising=False)
    repo = Path(sim.__file__).resolve().parent.parent
    assert default_data_dir() == (repo.parent / "shared" / "data").resolve()


def test_data_dir_env_var_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("DAOSIM_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path


# -- loading the real files ----------------------------------------------------------------
def test_binance_black_thursday_low():
    low = load_price_series(DATA / ETH_BINANCE_2020, "low")
    assert low.min() == 86.00 and low.idxmin() == utc("2020-03-13 02:00")
    assert len(low) == 216 and str(low.index.tz) == "UTC"
    assert load_price_series(DATA / ETH_BINANCE_2020, "open")[utc("2020-03-12 00:00")] == 194.61


def test_ftx_low_and_hourly_close_is_stamped_at_the_candle_end():
    assert load_price_series(DATA / ETH_FTX_2020, "low")[utc("2020-03-13 02:00")] == 87.69
    close = load_price_series(DATA / ETH_BINANCE_2020)
    # the 2020-03-13 02:00 candle closed at 111.12 at 03:00; the first close is at 01:00
    assert close[utc("2020-03-13 03:00")] == 111.12
    assert close.index[0] == utc("2020-03-08 01:00") and close.name == "close"


def test_uniswap_usdc_usdt_low():
    price = load_price_series(DATA / USDC_UNISWAP)
    assert price.idxmin() == utc("2023-03-11 08:00")
    assert round(price.min(), 5) == 0.87259


def test_chainlink_steth_eth_low():
    ratio = load_price_series(DATA / STETH_CHAINLINK)
    assert len(ratio) == 745
    assert round(ratio.min(), 5) == 0.93502
    assert ratio.idxmin() == utc("2022-06-18 09:09:38")


def test_yahoo_daily_open_at_day_start_close_at_day_end():
    # 12 Mar 2020: open 194.74, close 112.35 (README); the close is stamped 13 Mar 00:00.
    assert load_price_series(DATA / ETH_YAHOO, "open")[utc("2020-03-12")] == 194.74
    assert load_price_series(DATA / ETH_YAHOO)[utc("2020-03-13")] == 112.35


def test_capitalised_yahoo_header_and_cryptodatadownload():
    assert load_price_series(DATA / FTT_YAHOO, "Close")[utc("2022-11-08")] == 22.142197
    low = load_price_series(DATA / ETH_CDD, "Low")
    assert low[utc("2020-03-13")] == 86.0 and low[utc("2022-06-18")] == 881.56


def test_missing_file_names_the_file_and_the_data_directory():
    with pytest.raises(MissingDataError, match="no_such_file.csv.*data directory"):
        load_price_series(DATA / "no_such_file.csv")


def test_unknown_format_and_bad_columns(tmp_path):
    odd = tmp_path / "odd.csv"
    odd.write_text("when,price\n2020-01-01,1.0\n")
    with pytest.raises(DataFormatError, match="odd.csv"):
        load_price_series(odd)
    with pytest.raises(ConfigError, match="^column: 'vwap'"):
        load_price_series(DATA / ETH_YAHOO, "vwap")
    with pytest.raises(DataFormatError, match="lines 2-3060 .*symbol is not a number, e.g. 'ETH"):
        load_price_series(DATA / ETH_CDD, "symbol")


def test_rows_are_sorted_and_repeated_timestamps_keep_the_last(tmp_path):
    # (a `null` row is refused: tests/sim/test_historical_files.py)
    path = tmp_path / "yahoo.csv"
    path.write_text("Date,Close\n2020-01-02,2.0\n2020-01-01,1.0\n2020-01-02,3.0\n")
    series = load_price_series(path)
    assert list(series) == [1.0, 3.0]
    assert list(series.index) == [utc("2020-01-02"), utc("2020-01-03")]


# -- resampling ----------------------------------------------------------------------------
def test_daily_to_hourly_keeps_daily_closes_and_interpolates_log_linearly():
    daily = load_price_series(DATA / ETH_YAHOO)
    hourly = resample_to_steps(daily, 1.0, "2020-03-12", 72)
    assert hourly.shape == (73,)
    np.testing.assert_allclose(
        hourly[::24], daily[utc("2020-03-12") : utc("2020-03-15")], rtol=1e-12
    )
    # half way between closes 194.87 and 112.35: the geometric mean sqrt(194.87 * 112.35)
    assert hourly[12] == pytest.approx(np.sqrt(194.87 * 112.35), rel=1e-12)


def test_hourly_to_four_hourly_takes_the_last_value():
    hourly = load_price_series(DATA / ETH_BINANCE_2022)
    coarse = resample_to_steps(hourly, 4.0, "2022-06-18 00:00", 6)
    np.testing.assert_array_equal(
        coarse, hourly[utc("2022-06-18 00:00") : utc("2022-06-19 00:00")][::4]
    )


def test_chainlink_rounds_are_forward_filled():
    # The 18 Jun 09:09:38 round (0.93501933) holds until the 19 Jun 09:09:38 round.
    rounds = load_price_series(DATA / STETH_CHAINLINK)
    grid = resample_to_steps(rounds, 1.0, "2022-06-18 09:00", 25)
    assert grid[0] == rounds[rounds.index < utc("2022-06-18 09:00")].iloc[-1]
    assert np.all(grid[1:25] == 0.93501933)
    assert grid[25] == pytest.approx(0.9393873532734381)


def test_defaults_cover_the_whole_series_and_naive_start_is_utc():
    series = pd.Series([1.0, 2.0, 4.0], index=pd.date_range("2021-01-01", periods=3, freq="D"))
    # log-linear: 1 -> 2 over 24 h, at 6-hour steps: 2^(k/4)
    np.testing.assert_allclose(resample_to_steps(series, 6.0), 2 ** (np.arange(9) / 4), rtol=1e-12)
    assert resample_to_steps(series, 24.0, "2021-01-02").tolist() == pytest.approx([2.0, 4.0])


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((1.0, "2019-12-31", 5), MissingDataError, "data cover"),
        ((1.0, "2021-01-02", 1000), MissingDataError, "data cover"),
        ((1.0, "2021-01-04"), MissingDataError, "less than one step"),
        ((0.0,), InvalidAmount, "^step_hours"),
        ((1.0, "tomorrow-ish"), ConfigError, "^start"),
        ((1.0, None, 0), ConfigError, "^steps"),
    ],
)
def test_resample_rejects_grids_outside_the_data_and_bad_arguments(args, error, message):
    series = pd.Series([1.0, 2.0, 4.0], index=pd.date_range("2021-01-01", periods=3, freq="D"))
    with pytest.raises(error, match=message):
        resample_to_steps(series, *args)


@pytest.mark.parametrize(
    ("series", "error"),
    [
        ([1.0, 2.0], ConfigError),  # plain list
        (pd.Series([1.0, 2.0]), ConfigError),  # integer index
        (pd.Series([1.0, -2.0], index=pd.date_range("2021", periods=2, freq="D")), InvalidAmount),
        (pd.Series([2.0, 1.0], index=pd.DatetimeIndex(["2021-01-02", "2021-01-01"])), ConfigError),
    ],
)
def test_resample_rejects_bad_series(series, error):
    with pytest.raises(error, match="series"):
        resample_to_steps(series, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.floats(0.01, 1e5), min_size=2, max_size=20),
    step_hours=st.sampled_from([1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0]),
)
def test_coarse_resampling_keeps_observations_and_stays_between_neighbours(prices, step_hours):
    series = pd.Series(prices, index=pd.date_range("2022-01-01", periods=len(prices), freq="D"))
    grid = resample_to_steps(series, step_hours)
    per_day = int(24 / step_hours)
    assert grid.size == (len(prices) - 1) * per_day + 1
    np.testing.assert_allclose(grid[::per_day], prices, rtol=1e-12)
    for day, (a, b) in enumerate(zip(prices, prices[1:], strict=False)):
        between = grid[day * per_day : (day + 1) * per_day + 1]
        assert np.all(between >= min(a, b) * (1 - 1e-12)) and np.all(
            between <= max(a, b) * (1 + 1e-12)
        )



#: every price file of the data directory and its rows (README.md): none has a missing
#: time or price, so none relied on the dropping of empty rows that is now refused.
SHIPPED_ROWS = {
    "eth_usdt_binance_1h_2020-03-08_2020-03-16.csv": 216,
    "eth_usd_ftx_1h_2020-03-08_2020-03-16.csv": 216,
    "eth_usdt_binance_1h_2022-05-01_2022-07-11.csv": 1722,
    "eth_usd_ftx_1h_2022-05-01_2022-07-11.csv": 1722,
    "luna_usdt_binance_1h_2022-05-01_2022-05-13.csv": 289,
    "eth_usdt_binance_1h_2022-11-01_2022-11-30.csv": 720,
    STETH_CHAINLINK: 745,
    USDC_UNISWAP: 216,
    "ust_usd_yahoo_daily_2020-11-25_2022-10-09.csv": 684,
    FTT_YAHOO: 366,
    USDC_YAHOO: 2151,
    ETH_YAHOO: 2151,
    "btc_usd_yahoo_daily_2020-01-01_2025-11-20.csv": 2151,
    "steth_usd_yahoo_daily_2020-12-23_2025-11-20.csv": 1794,
    ETH_CDD: 3059,
    "btc_usdt_binance_daily_2017-08-17_2025-12-31.csv": 3059,
}


@pytest.mark.parametrize("name", sorted(SHIPPED_ROWS))
def test_every_shipped_price_file_loads_every_row(name):
    assert len(load_price_series(DATA / name)) == SHIPPED_ROWS[name]
    knots = load_candle_path(DATA / name)
    if knots is not None:  # 3 knots a candle after the first close: no candle was dropped
        assert len(knots) == 3 * (SHIPPED_ROWS[name] - 1) + 1


def test_ten_missing_black_thursday_closes_are_refused_not_bridged(tmp_path):
    # Emptying the closes of 12 Mar 2020 03:00-12:00 (file lines 101-110) used to replay
    # the gap silently: log-linear from 184.10 through the candle file, a flat 184.10 for a
    # close-only file.
    lines = (DATA / ETH_BINANCE_2020).read_text().splitlines()
    for k in range(100, 110):
        fields = lines[k].split(",")
        fields[5] = ""
        lines[k] = ",".join(fields)
    (tmp_path / ETH_BINANCE_2020).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"csv: lines 101-110 \(10 rows\): close is missing"):
        replay_paths({"ETH": ETH_BINANCE_2020}, 1.0, "2020-03-12 00:00", 16, tmp_path)

# -- candle paths and the round grid ---------------------------------------------------------
def _klines(tmp_path, rows: str) -> Path:
    path = tmp_path / "klines.csv"
    path.write_text("open_time_ms,open,high,low,close,volume_base\n" + rows)
    return path


def test_candle_path_goes_through_low_and_high_in_the_bar_model_order(tmp_path):
    # Candle 1 (00:00-01:00) is bullish: open 100, low 90, high 120, close 110. Candle 2
    # (01:00-02:00) is bearish: open 110, high 115, low 80, close 95. The path starts at the
    # first close (01:00); candle 2 runs from that close 110 to its high at 01:20, its low
    # at 01:40 and its close 95 at 02:00.
    t0 = 1_600_000_000_000 - 1_600_000_000_000 % 3_600_000  # a whole hour, in ms
    path = _klines(tmp_path, f"{t0},100,120,90,110,1\n{t0 + 3_600_000},110,115,80,95,1\n")
    knots = load_candle_path(path)
    start = pd.Timestamp(t0, unit="ms", tz="UTC")
    minutes = [(t - start) / pd.Timedelta(minutes=1) for t in knots.index]
    assert minutes == [60, 80, 100, 120] and knots.tolist() == [110, 115, 80, 95]
    # on the round grid of hourly steps with R = 6 (10 minutes) from the first close:
    grid = resample_to_steps(knots, 1.0, start + pd.Timedelta(hours=1), 1, 6, path=True)
    assert grid[[0, 2, 4, 6]].tolist() == [110, 115, 80, 95]  # knots hit exactly
    assert grid[1] == pytest.approx(np.sqrt(110 * 115), rel=1e-12)  # log-linear between
    assert grid[3] == pytest.approx(np.sqrt(115 * 80), rel=1e-12)
    # a file of one candle: the path is its close alone (it starts at the first close)
    one = candle_path(pd.DatetimeIndex([start]), np.array([[100.0, 120, 90, 110]]),
                      pd.Timedelta(hours=1))
    assert one.tolist() == [110] and one.index[0] == start + pd.Timedelta(hours=1)


def test_candle_path_after_a_gap_starts_at_the_candles_own_open_and_a_doji_is_bullish():
    hour = pd.Timedelta(hours=1)
    opened = pd.DatetimeIndex(["2021-01-01 00:00", "2021-01-01 01:00", "2021-01-01 03:00"],
                              tz="UTC")
    ohlc = np.array([[10.0, 11, 9, 10], [10, 12, 8, 10], [20, 21, 19, 20.5]])
    knots = candle_path(opened, ohlc, hour)
    # candle 2 is a doji (close == open): bullish, low 8 before high 12. Candle 3 follows a
    # missing hour: its open 20 at 03:00 is a knot of its own after candle 2's close at
    # 02:00, then low 19, high 21, close 20.5.
    assert knots.tolist() == [10, 8, 12, 10, 20, 19, 21, 20.5]
    assert knots.index[4] == pd.Timestamp("2021-01-01 03:00", tz="UTC")


def test_files_without_candles_and_other_columns_have_no_candle_path():
    assert load_candle_path(DATA / STETH_CHAINLINK) is None
    assert load_candle_path(DATA / USDC_UNISWAP) is None
    assert load_candle_path(DATA / ETH_BINANCE_2022, "open") is None
    assert load_candle_path(DATA / ETH_YAHOO, "adj close") is None


def test_daily_candles_sampled_hourly_pass_through_the_days_low_and_high():
    # CryptoDataDownload ETH, 13 Mar 2020: the close (stamped 14 Mar 00:00) is above the
    # open, so the day's low 86.0 sits at 08:00 (step 8 of an hourly grid from 13 Mar 00:00)
    # and its high at 16:00 (step 16); interpolating closes never went below them.
    day = load_price_series(DATA / ETH_CDD, "open")[utc("2020-03-13")]
    close = load_price_series(DATA / ETH_CDD)[utc("2020-03-14")]
    high = load_price_series(DATA / ETH_CDD, "high")[utc("2020-03-13")]
    assert close > day
    grid = replay_paths({"ETH": ETH_CDD}, 1.0, "2020-03-13", 24)[:, 0]
    assert grid[8] == 86.0 and grid[16] == high and grid[24] == close
    assert grid.min() == 86.0


def test_rounds_keep_the_step_rows_of_files_without_candles():
    # Chainlink rounds stay forward-filled on the round grid (an answer holds until the
    # next round); Uniswap's hourly pool samples, coarser than 10-minute rounds, are
    # log-linear inside the hour; the step rows (every 6th) are what R = 1 gives.
    files = {"stETH/ETH": STETH_CHAINLINK, "ETH": ETH_BINANCE_2022}
    steps = replay_paths(files, 1.0, "2022-06-18 09:00", 25)
    rounds = replay_paths(files, 1.0, "2022-06-18 09:00", 25, rounds_per_step=6)
    assert rounds.shape == (25 * 6 + 1, 2)
    np.testing.assert_array_equal(rounds[::6], steps)
    # the 18 Jun 09:09:38 round is seen from 09:10 (round 1 of step 1) to 19 Jun 09:00
    # (row 24 * 6 = 144); the 19 Jun 09:09 round from 09:10 (row 145), not at 10:00 as on
    # the step grid
    assert np.all(rounds[1:145, 0] == 0.93501933) and rounds[0, 0] != 0.93501933
    assert np.all(rounds[145:, 0] == pytest.approx(0.9393873532734381))
    usdc = load_price_series(DATA / USDC_UNISWAP)
    fine = resample_to_steps(usdc, 1.0, "2023-03-11 00:00", 12, 6)
    np.testing.assert_array_equal(fine[::6], resample_to_steps(usdc, 1.0, "2023-03-11 00:00", 12))
    hours = usdc[utc("2023-03-11 00:00") : utc("2023-03-11 01:00")].to_numpy()
    assert fine[3] == pytest.approx(np.sqrt(hours[0] * hours[1]), rel=1e-12)
    with pytest.raises(ConfigError, match="^rounds_per_step"):
        resample_to_steps(usdc, 1.0, None, 2, 0)


# -- replay --------------------------------------------------------------------------------
def test_replay_stacks_assets_on_one_grid_in_file_order():
    files = {"ETH": ETH_BINANCE_2022, "stETH/ETH": STETH_CHAINLINK, "USDC": USDC_YAHOO}
    paths = replay_paths(files, 1.0, "2022-06-01", 24 * 30)
    assert paths.shape == (24 * 30 + 1, 3)
    for column, file in enumerate(files.values()):
        # Hourly ETH candles sampled at their closes are the closes; the Chainlink rounds
        # have no candles; daily USDC candles follow their intra-day path (not the
        # interpolated closes they used to), which passes through each close at midnight.
        knots = load_candle_path(DATA / file)
        series = load_price_series(DATA / file) if column < 2 else knots
        expected = resample_to_steps(series, 1.0, "2022-06-01", 24 * 30, path=column == 2)
        np.testing.assert_array_equal(paths[:, column], expected)
    assert paths[:, 1].min() == 0.93501933  # the June 2022 stETH/ETH low is in the window
    closes = load_price_series(DATA / USDC_YAHOO)[utc("2022-06-01") : utc("2022-07-01")]
    np.testing.assert_array_equal(paths[::24, 2], closes.to_numpy())


def test_replay_defaults_to_the_common_span_and_takes_columns():
    paths = replay_paths(
        {"ETH": ETH_BINANCE_2022, "USDC": USDC_YAHOO}, 1.0, columns={"ETH": "open"}
    )
    eth_open = load_price_series(DATA / ETH_BINANCE_2022, "open")
    assert paths.shape == (len(eth_open), 2)
    np.testing.assert_array_equal(paths[:, 0], eth_open.to_numpy())


def test_replay_errors(tmp_path):
    with pytest.raises(MissingDataError, match=f"{tmp_path}.*eth.csv.*data directory"):
        replay_paths({"ETH": "eth.csv"}, 1.0, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="^files"):
        replay_paths({}, 1.0)
    with pytest.raises(ConfigError, match=r"^columns: assets \['BTC'\]"):
        replay_paths({"ETH": ETH_YAHOO}, 1.0, columns={"BTC": "close"})
    # disjoint windows (2020 and 2023) have no common grid
    with pytest.raises(MissingDataError):
        replay_paths({"ETH": ETH_BINANCE_2020, "USDC": USDC_UNISWAP}, 1.0)


def test_every_error_is_a_daosim_error():
    assert issubclass(MissingDataError, DaosimError) and issubclass(DataFormatError, DaosimError)


def test_square_root_depth_of_black_thursdays_binance_market():
    # 8-10 March 2020 on Binance ETH/USDT: mean daily volume ~ $272.2M, daily volatility of
    # log closes ~ 6.18 % (hourly std x sqrt(24)); the square-root law's 1 % flow is
    # V (0.01 / sigma)^2 = 272.2M x 0.0262 = $7.1M - the depth the replay ships with.
    depth = square_root_depth_usd(DATA / ETH_BINANCE_2020, "2020-03-08", "2020-03-11")
    assert depth == pytest.approx(7.14e6, rel=0.01)


def test_square_root_depth_reads_usd_volume_of_daily_files():
    # FTT, Yahoo daily, 7 Oct - 5 Nov 2022 (before the FTX collapse): ~ $62.8M a day at a
    # daily volatility of ~ 2.43 % -> 62.8M x (0.01 / 0.0243)^2 = $10.7M.
    depth = square_root_depth_usd(
        DATA / "ftt_usd_yahoo_daily_2021-12-15_2022-12-15.csv", "2022-10-07", "2022-11-06"
    )
    assert depth == pytest.approx(10.66e6, rel=0.01)
