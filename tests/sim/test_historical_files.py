"""Broken historical data files (issue 14, items 9a and 12): every problem reading one is a
`DataFormatError` (a `ConfigError`) naming the file, the reason and, for bad rows, their
1-based file line numbers (the header is line 1). The files are written into tmp_path and
read through `replay_paths`, as a historical scenario reads them, so these tests need no
shared data directory."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pytest

from cli.main import main as daosim
from protocols.errors import ConfigError
from sim.historical import DataFormatError, load_price_series, replay_paths
from sim.paths import generate_paths
from sim.scenario import parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
BLACK_THURSDAY = "eth_usdt_binance_1h_2020-03-08_2020-03-16.csv"
T0 = 1_583_625_600_000  # 2020-03-08 00:00 UTC in ms
HOUR = 3_600_000
HEADER = "open_time_ms,open,high,low,close,volume_base"


def klines(path: Path, closes: list[str], with_ohlc: bool = True) -> Path:
    """A Binance hourly file: row k (file line k + 2) opens at T0 + k hours with close
    closes[k] ("" for an empty field)."""
    if with_ohlc:
        rows = [HEADER] + [f"{T0 + k * HOUR},200,210,190,{c},5" for k, c in enumerate(closes)]
    else:
        rows = ["open_time_ms,close"] + [f"{T0 + k * HOUR},{c}" for k, c in enumerate(closes)]
    path.write_text("\n".join(rows) + "\n")
    return path


def refused(tmp_path: Path, name: str = "eth.csv") -> str:
    """The message of the error `replay_paths` raises reading tmp_path/name."""
    with pytest.raises(DataFormatError) as caught:
        replay_paths({"ETH": name}, 1.0, data_dir=tmp_path)
    assert isinstance(caught.value, ConfigError)
    return str(caught.value)


# -- 9a: files pandas cannot read ----------------------------------------------------------
def test_an_empty_file_is_refused_by_name(tmp_path):
    (tmp_path / "eth.csv").write_text("")
    assert refused(tmp_path) == f"{tmp_path / 'eth.csv'}: empty file, no CSV header"


def test_a_header_without_rows_is_refused_by_name(tmp_path):
    (tmp_path / "eth.csv").write_text(HEADER + "\n\n")
    assert refused(tmp_path) == f"{tmp_path / 'eth.csv'}: no data rows below the header"


@pytest.mark.parametrize("content, reason", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not CSV text (not UTF-8: byte 0x89 at offset 0)"),
    (gzip.compress(b"open_time_ms,close\n1,2\n", mtime=0),
     "not CSV text (not UTF-8: byte 0x8b at offset 1)"),
    (b"open_time_ms,close\n1583625600000,200\n1583629200000,201,7,8\n",
     "malformed CSV (Expected 2 fields in line 3, saw 4)"),
])
def test_binary_and_malformed_files_are_refused_by_name(tmp_path, content, reason):
    (tmp_path / "eth.csv").write_bytes(content)
    assert refused(tmp_path) == f"{tmp_path / 'eth.csv'}: {reason}"


def test_a_known_format_without_its_price_column_names_the_column(tmp_path):
    (tmp_path / "eth.csv").write_text(f"open_time_ms,open\n{T0},200\n{T0 + HOUR},201\n")
    assert refused(tmp_path) == (
        f"{tmp_path / 'eth.csv'}: no 'close' column (the Binance/FTX hourly klines format's "
        "price); it has ['open_time_ms', 'open']")


def test_bad_times_are_refused_with_their_line_numbers(tmp_path):
    path = tmp_path / "eth.csv"
    path.write_text("date,close\n2020-03-08,200\nsoon,201\n2020-03-10,202\n,203\n")
    assert refused(tmp_path) == (
        f"{path}: lines 3 and 5 (2 rows): date is missing or not a time")


# -- 12: missing, non-numeric and non-positive prices ---------------------------------------
def test_ten_empty_closes_are_refused_with_their_line_numbers(tmp_path):
    closes = [str(200 + k) for k in range(48)]
    closes[10:20] = [""] * 10  # file lines 12-21
    klines(tmp_path / "eth.csv", closes)
    assert refused(tmp_path) == (
        f"{tmp_path / 'eth.csv'}: lines 12-21 (10 rows): close is missing "
        "(an empty field, NaN or null)")
    # a close-only file was replayed as a flat line through the gap before
    klines(tmp_path / "flat.csv", closes, with_ohlc=False)
    assert "lines 12-21 (10 rows): close is missing" in refused(tmp_path, "flat.csv")


def test_scattered_gaps_name_the_first_ranges_and_count_the_rest(tmp_path):
    closes = [str(200 + k) for k in range(48)]
    for k in (0, 3, 4, 5, 9, 20, 30, 31):
        closes[k] = "NaN" if k % 2 else ""
    klines(tmp_path / "eth.csv", closes)
    assert refused(tmp_path).endswith(
        ": lines 2, 5-7, 11 and 2 more ranges (8 rows): close is missing "
        "(an empty field, NaN or null)")


def test_yahoo_null_rows_are_refused_not_dropped(tmp_path):
    path = tmp_path / "yahoo.csv"
    path.write_text("Date,Open,High,Low,Close\n2020-01-01,1,1,1,1.0\n"
                    "2020-01-02,null,null,null,null\n2020-01-03,2,2,2,2.0\n")
    message = refused(tmp_path, "yahoo.csv")
    assert message.startswith(f"{path}: line 3 (1 row): open is missing")
    with pytest.raises(DataFormatError, match=r"line 3 \(1 row\): close is missing"):
        load_price_series(path)


def test_non_numeric_and_non_positive_prices_are_refused_with_their_lines(tmp_path):
    closes = [str(200 + k) for k in range(24)]
    closes[4] = "2o4.5"
    klines(tmp_path / "eth.csv", closes)
    assert refused(tmp_path).endswith(": line 6 (1 row): close is not a number, e.g. '2o4.5'")
    closes[4], closes[7] = "-1.5", "0"
    klines(tmp_path / "eth.csv", closes)
    assert refused(tmp_path).endswith(": lines 6 and 9 (2 rows): close is not a price > 0")


def test_blank_lines_keep_the_line_numbers_of_the_rows_after_them(tmp_path):
    path = tmp_path / "eth.csv"
    path.write_text(f"open_time_ms,close\n{T0},200\n\n{T0 + HOUR},\n{T0 + 2 * HOUR},202\n")
    assert refused(tmp_path) == (
        f"{path}: line 4 (1 row): close is missing (an empty field, NaN or null)")


def test_a_clean_file_with_blank_lines_still_replays(tmp_path):
    path = tmp_path / "eth.csv"
    path.write_text(f"open_time_ms,close\n{T0},200\n\n{T0 + HOUR},210\n{T0 + 2 * HOUR},220\n\n")
    prices = replay_paths({"ETH": "eth.csv"}, 1.0, data_dir=tmp_path)
    np.testing.assert_array_equal(prices[:, 0], [200.0, 210.0, 220.0])


# -- the way a scenario and the CLI meet them -----------------------------------------------
def test_a_scenario_replaying_a_broken_file_is_refused_before_it_runs(tmp_path):
    closes = [str(200 + k) for k in range(216)]
    closes[99:109] = [""] * 10  # 12 Mar 03:00..12:00, file lines 101-110
    klines(tmp_path / BLACK_THURSDAY, closes)
    scenario = parse_scenario({
        "steps": 24, "market": {"process": "historical", "start": "2020-03-12 00:00"},
        "assets": [{"symbol": "ETH", "price": 200.0, "data": BLACK_THURSDAY},
                   {"symbol": "USDC", "kind": "pegged", "price": 1.0}],
    })
    with pytest.raises(DataFormatError, match=re.escape(
            f"{tmp_path / BLACK_THURSDAY}: lines 101-110 (10 rows): close is missing")):
        generate_paths(scenario, data_dir=str(tmp_path))


def test_daosim_run_reports_a_binary_data_file_in_one_line(tmp_path, capsys):
    (tmp_path / BLACK_THURSDAY).write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code = daosim(["run", str(SCENARIOS / "black_thursday_2020.toml"), "--steps", "48",
                   "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err == (f"daosim: {tmp_path / BLACK_THURSDAY}: not CSV text "
                   "(not UTF-8: byte 0x89 at offset 0)\n")
