"""The run report's summary table: unit and meaning per key, grouped, aliases folded."""

from reports.summary_table import summary_table


def test_keys_carry_unit_and_meaning_by_group_and_aliases_are_only_named():
    summary = {"seed": 7, "treasury_end_usd": 5.0, "treasury_nav_end_usd": 5.0,
               "borrow_usage_mean:aave": 0.8, "bad_debt_usd": 1234.5, "made_up_key": 1}
    table = summary_table(summary)
    rows = table.frame.to_dict("records")
    assert [r["metric"] for r in rows] == ["bad_debt_usd", "borrow_usage_mean:aave",
                                           "treasury_nav_end_usd", "seed", "made_up_key"]
    assert [r["group"] for r in rows] == ["risk", "capital efficiency", "treasury", "run",
                                          "other"]
    assert [r["unit"] for r in rows] == ["USD", "share", "USD", "integer", ""]
    assert rows[0]["value"] == 1234.5 and "written off" in rows[0]["meaning"]
    assert rows[1]["meaning"] == "borrowed / borrowing power, one market, averaged over the run"
    assert "treasury_end_usd (= treasury_nav_end_usd)" in table.note
