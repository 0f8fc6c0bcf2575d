"""`daosim query`: a table for reading, CSV for piping, the views listed without SQL, and
refusals as one line with exit 2."""

import io

import pandas as pd

from cli.main import main
from cli.query import table
from tests.experiments.test_query import hand_folder

P99 = ('SELECT "treasury.policy.kind" AS policy, quantile_cont(shortfall_peak_usd, 0.99) '
       "AS p99 FROM runs GROUP BY policy ORDER BY p99 DESC")


def test_query_prints_every_row_as_a_table(tmp_path, capsys):
    folder = hand_folder(tmp_path)
    assert main(["query", str(folder), P99]) == 0
    # hand-checked in tests/experiments/test_query.py: cppi 19.4, static 9.76
    assert capsys.readouterr().out.splitlines() == [
        "policy  p99", "  cppi 19.4", "static 9.76"]
    assert main(["query", str(folder), "SELECT * FROM timeseries ORDER BY run_key, step"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + 9  # the header and all nine rows, NULL where a run lacks a column
    assert lines[1].split() == ["c0", "0", "100", "1"]
    assert lines[4].split() == ["s0", "0", "100", "NULL"]


def test_csv_keeps_full_precision_for_piping(tmp_path, capsys):
    folder = hand_folder(tmp_path)
    assert main(["query", "--csv", str(folder), "SELECT 1 / 3 AS third, 'a,b' AS text"]) == 0
    out = capsys.readouterr().out
    assert out == 'third,text\n0.3333333333333333,"a,b"\n'
    assert main(["query", str(folder), P99, "--csv"]) == 0
    back = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert back.to_dict("list") == {"policy": ["cppi", "static"], "p99": [19.4, 9.76]}


def test_without_sql_it_lists_the_views_and_their_columns(tmp_path, capsys):
    assert main(["query", str(hand_folder(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "runs (5 columns)\n  run_key               VARCHAR\n" in out
    assert "  treasury.policy.kind  VARCHAR\n  shortfall_peak_usd    DOUBLE\n" in out
    assert [line for line in out.splitlines() if not line.startswith(" ")] == [
        "runs (5 columns)", "points (2 columns)", "timeseries (4 columns)"]


def test_refusals_are_one_line_with_exit_2(tmp_path, capsys):
    folder = hand_folder(tmp_path)
    assert main(["query", str(folder), "SELECT * FROM events"]) == 2
    err = capsys.readouterr().err
    assert err == (f"daosim: query: {folder} has the views runs, points, timeseries; "
                   "Catalog Error: Table with name events does not exist!\n")
    assert main(["query", str(tmp_path / "nowhere"), "SELECT 1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_table_numbers_are_readable():
    frame = pd.DataFrame({"usd": [1234567.891, 0.000123456, float("nan")], "n": [1, 2, 3]})
    assert table(frame).splitlines() == ["        usd  n", "  1,234,568  1",
                                         "0.000123456  2", "       NULL  3"]
    assert table(frame.iloc[:0]) == "usd n\n(0 rows)"
