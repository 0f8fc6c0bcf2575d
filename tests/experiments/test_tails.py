"""Tail figures: hand-checked quantiles and expected shortfall."""

import numpy as np
import pandas as pd
import pytest

from experiments.tails import loss_metrics, tail_table, with_losses


def test_quantiles_and_expected_shortfall_of_1_to_100():
    runs = pd.DataFrame({"point": 0, "bad_debt_usd": np.arange(1.0, 101.0), "error": None})
    row = tail_table(runs, by="point").iloc[0]
    # numpy's linear quantile: position q * (n - 1); p95 -> 94.05 -> 95 + 0.05 = 95.05,
    # p99 -> 98.01 -> 99.01; ES95 = mean of {96..100} = 98; median 50.5.
    assert (row["runs"], row["mean"], row["p50"]) == (100, 50.5, 50.5)
    assert row["p95"] == pytest.approx(95.05) and row["p99"] == pytest.approx(99.01)
    assert row["es95"] == pytest.approx(98.0)


def test_treasury_loss_is_derived_and_failed_runs_are_left_out():
    runs = pd.DataFrame({"variant": ["a", "a", "b"], "treasury_start_usd": [10.0, 10.0, 10.0],
                         "treasury_end_usd": [7.0, 9.0, 1.0], "bad_debt_usd": [0.0, 2.0, 5.0],
                         "liquidations": [1, 2, 3], "error": [None, None, "Boom: x"]})
    assert list(with_losses(runs)["treasury_loss_usd"]) == [3.0, 1.0, 9.0]
    assert loss_metrics(list(with_losses(runs).columns)) == ["bad_debt_usd", "treasury_loss_usd"]
    table = tail_table(runs, by="variant")
    assert set(table["variant"]) == {"a"}
    loss = table.set_index("metric").loc["treasury_loss_usd"]
    assert (loss["runs"], loss["mean"], loss["p50"]) == (2, 2.0, 2.0)


def test_the_shortfall_totals_are_loss_metrics_but_not_the_per_market_keys_or_opex():
    # the run summary's names: totals end in _usd; per-market keys end in ":MARKET" (their
    # tails would repeat the total's for one market); an unpaid opex is the treasury's own
    # figure, not a lending loss
    names = ["liquidations", "bad_debt_usd", "shortfall_peak_usd", "shortfall_end_usd",
             "shortfall_peak_usd:aave", "shortfall_end_usd:aave", "treasury_opex_shortfall_usd",
             "bad_debt_usd:aave", "treasury_loss_usd"]
    assert loss_metrics(names) == ["bad_debt_usd", "shortfall_peak_usd", "shortfall_end_usd",
                                   "treasury_loss_usd"]
