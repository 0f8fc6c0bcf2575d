"""comparison.txt from hand-made tables: the headline (risk and capital efficiency), identical
metrics folded into one line, tails blanked below their run count."""

import numpy as np
import pandas as pd

from reports.compare_text import comparison_text, headline_lines, short, tails_shown

ABOUT = {"proposal": "lt50", "baseline": "base", "description": "GOV LT 0.65 -> 0.50",
         "changes": [{"line": "protocols[aave].reserves.GOV.liquidation_threshold: 0.65 -> 0.5"}],
         "root_seed": 7, "confidence": 0.95, "resolve": 0.1}


def row(metric, group, base, diff, low, high, status="changed", effect="", material=True,
        unit="USD", same_as=""):
    return {"metric": metric, "unit": unit, "direction": "lower", "group": group, "pairs": 8,
            "baseline_mean": base, "proposal_mean": base + diff, "diff_mean": diff,
            "ci_low": low, "ci_high": high, "half_width": (high - low) / 2,
            "interval": "BCa", "sd_diff": 1.0, "resolve_delta": 0.1 * base,
            "runs_needed": 12.0, "rel_change": diff / base if base else np.nan,
            "status": status, "judgement": effect or status, "effect": effect,
            "material": material, "same_as": same_as, "verdict": f"{metric}: verdict"}


TABLE = pd.DataFrame([
    row("bad_debt_usd", "risk", 200_000.0, -30_000.0, -45_000.0, -12_000.0, effect="better"),
    row("bad_debt_usd:aave", "risk", 200_000.0, -30_000.0, -45_000.0, -12_000.0,
        effect="better", same_as="bad_debt_usd"),
    row("liquidations", "risk", 100.0, 20.0, 12.0, 30.0, effect="trade-off", unit="count"),
    row("borrowing_power_usd_end", "capital efficiency", 5e6, -1e6, -1.2e6, -0.8e6,
        effect="worse"),
    row("debtrank", "contagion", 0.1, 0.0001, 0.00005, 0.0002, effect="worse",
        material=False, unit="share of value"),
    row("treasury_realized_vol", "treasury", 0.8, 0.001, -0.002, 0.003, status="unclear",
        material=False, unit="1/yr^0.5"),
    row("cascade_depth", "contagion", 1.0, 0.0, 0.0, 0.0, status="identical", material=False),
    row("max_gas_gwei", "risk", 80.0, 0.0, 0.0, 0.0, status="identical", material=False),
])
RUNS = pd.DataFrame({"variant": ["base"] * 8 + ["lt50"] * 8, "error": None,
                     "bad_debt_usd": np.arange(16.0) * 1000})


def test_the_headline_sets_risk_beside_capital_efficiency():
    lines = headline_lines(ABOUT, TABLE)
    assert lines[0] == "proposal 'lt50': GOV LT 0.65 -> 0.50"
    assert lines[2] == "  protocols[aave].reserves.GOV.liquidation_threshold: 0.65 -> 0.5"
    risk, capital = lines.index("  risk:"), lines.index("  capital efficiency:")
    risk_lines, capital_lines = lines[risk + 1:capital], lines[capital + 1:]
    # largest relative change first; the market equal to its total is folded into it
    assert [line.split()[0] for line in risk_lines] == ["liquidations", "bad_debt_usd"]
    assert risk_lines[1].split() == ["bad_debt_usd", "(all", "in", "aave)", "$200k", "->",
                                     "$170k", "-$30k", "[-$45k,", "-$12k]", "-15%", "better"]
    assert risk_lines[0].split()[-2:] == ["+20%", "trade-off"]
    assert capital_lines[0].split() == ["borrowing_power_usd_end", "$5M", "->", "$4M", "-$1M",
                                        "[-$1.2M,", "-$800k]", "-20%", "worse"]


def test_no_capital_efficiency_metrics_is_said():
    lines = headline_lines(ABOUT, TABLE[TABLE["group"] != "capital efficiency"])
    at = lines.index("  capital efficiency:")
    assert lines[at + 1] == "    no borrowing-power, borrowed or borrow-usage metrics in these runs"


def test_identical_metrics_fold_into_one_line_and_out_of_the_verdicts():
    text = comparison_text(ABOUT, TABLE, pd.DataFrame(), RUNS)
    assert "identical in every paired run (2): cascade_depth, max_gas_gwei" in text
    assert "unclear (the interval includes 0): treasury_realized_vol" in text
    assert "changed, but under the materiality rule: debtrank (+0.1%)" in text
    verdicts = text[text.index("verdicts:"):]
    assert "cascade_depth" not in verdicts and "debtrank: verdict" in verdicts
    table = text[text.index("judged metrics that differ"):text.index("verdicts:")]
    assert "cascade_depth" not in table and "max_gas_gwei" not in table
    assert text.count("cascade_depth") == 1


def test_tails_are_blank_below_their_run_count():
    tails = pd.DataFrame({"variant": ["base", "base"], "metric": ["bad_debt_usd"] * 2,
                          "runs": [8, 20], "mean": [1.0, 2.0], "p50": [1.0, 2.0],
                          "p95": [5.0, 6.0], "p99": [7.0, 8.0], "es95": [7.5, 8.5]})
    shown = tails_shown(tails, RUNS)
    assert shown["p95"].isna().tolist() == [True, False]
    assert shown["p99"].isna().all() and shown["es95"].tolist()[1] == 8.5
    assert shown["note"].tolist() == ["p95, p99, es95: too few runs", "p99: too few runs"]
    assert shown["worst"].tolist() == [7000.0, 7000.0]  # the worst baseline run, shown always
    text = comparison_text(ABOUT, TABLE, tails, RUNS)
    assert "p95 and es95 from 20, p99 from 100" in text


def test_short_numbers():
    assert [short(x, "USD", True) for x in (82_256, -2517, 9.59e6, 0.5, 1.2e9)] == [
        "+$82.3k", "-$2517", "+$9.59M", "+$0.5", "+$1.2B"]
    assert short(float("nan")) == "n/a" and short(12_000.0) == "12k"
