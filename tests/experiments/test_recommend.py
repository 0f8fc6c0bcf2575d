"""`daosim recommend`: the feasible point with the best objective, the Pareto frontier, an
infeasible budget, unknown metrics, exit codes, and the frontier figure of the report."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli.main import main
from experiments.recommend import pareto_frontier, recommend, text
from protocols.errors import ConfigError
from tests.experiments.conftest import AMM_SWEEP

NAN = float("nan")
#: point -> (lt, bad debt per replicate, borrow usage per replicate, errors)
POINTS = {
    0: (0.5, [0, 0, 10], [100, 100, 100]),  # p95 = 0 + 0.9 * 10 = 9; mean 100
    1: (0.6, [0, 10, 20], [150, 150, 150]),  # p95 = 10 + 0.9 * 10 = 19; mean 150
    2: (0.7, [10, 30, 50], [140, 140, 140]),  # p95 48, mean 140: dominated by point 1
    3: (0.8, [20, 60, 100], [200, 210, 220]),  # p95 = 60 + 0.9 * 40 = 96; mean 210
    4: (0.4, [5, 5, NAN], [90, 90, NAN]),  # the third run failed: p95 5, mean 90, R = 2
}


def runs_table() -> pd.DataFrame:
    rows = []
    for point, (lt, risk, objective) in POINTS.items():
        for rep, (r, o) in enumerate(zip(risk, objective, strict=True)):
            failed = np.isnan(r)
            rows.append({"run_key": f"p{point}-r{rep}", "point": point, "replicate": rep,
                         "seed": rep, "lt": lt, "scenario": "s", "bad_debt_usd": r,
                         "borrow_usage": o, "error": "RuntimeError: x" if failed else None,
                         "runtime_s": 0.1})
    frame = pd.DataFrame(rows)
    frame["error"] = frame["error"].astype("string")
    return frame


def pick(budget, **kwargs):
    return recommend(runs_table(), ["lt"], risk="bad_debt_usd", maximize="borrow_usage",
                     budget=budget, **kwargs)


def test_recommend_picks_the_best_feasible_point_and_the_hand_derived_frontier():
    rec = pick(50)
    table = rec.table.set_index("point")
    assert table["risk_q"].to_dict() == pytest.approx({0: 9, 1: 19, 2: 48, 3: 96, 4: 5})
    assert table["objective_mean"].to_dict() == pytest.approx(
        {0: 100, 1: 150, 2: 140, 3: 210, 4: 90})
    assert table["replicates"].to_dict() == {0: 3, 1: 3, 2: 3, 3: 3, 4: 2}
    assert rec.pick == 1 and rec.row(1)["lt"] == 0.6
    assert list(rec.frontier["point"]) == [4, 0, 1, 3]  # by increasing risk; 2 is dominated
    assert pick(100).pick == 3
    assert pick(19).pick == 1  # the budget is inclusive
    assert pick(18.9).pick == 0
    # the median instead of the p95: point 3's median is 60
    assert pick(60, quantile=0.5).pick == 3


def test_a_quantile_from_too_few_replicates_is_flagged():
    # 2 runs (point 4) are too few for a p95 (20) and for a median (2 are enough)
    assert "caution: 2 replicates per point; a p95 rests on at least one run beyond it " \
        "only from 20" in text(pick(50))
    assert "caution" not in text(pick(60, quantile=0.5))


def test_no_feasible_point_names_the_least_risky():
    rec = pick(1)
    assert rec.pick is None and rec.least_risky == 4


def test_an_unknown_metric_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"--risk bad_dbt: not a metric of this sweep; "
                                          r"known metrics: bad_debt_usd, borrow_usage"):
        recommend(runs_table(), ["lt"], risk="bad_dbt", maximize="borrow_usage", budget=1)
    with pytest.raises(ConfigError, match="--maximize lt: not a metric"):  # a parameter
        recommend(runs_table(), ["lt"], risk="bad_debt_usd", maximize="lt", budget=1)
    with pytest.raises(ConfigError, match="--quantile"):
        pick(1, quantile=1.5)


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12))
def test_the_frontier_is_exactly_the_undominated_points(pairs):
    risk = np.array([p[0] for p in pairs], float)
    objective = np.array([p[1] for p in pairs], float)
    front = pareto_frontier(risk, objective)
    for i in range(len(pairs)):
        dominated = any(risk[j] <= risk[i] and objective[j] >= objective[i]
                        and (risk[j] < risk[i] or objective[j] > objective[i])
                        for j in range(len(pairs)))
        assert front[i] == (not dominated)


def sweep_folder(tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    runs_table().to_parquet(folder / "runs.parquet", index=False)
    (folder / "plan.json").write_text(json.dumps({"kind": "sweep", "axes": ["lt"]}))
    return folder


def test_cli_exit_codes(tmp_path, capsys):
    folder = sweep_folder(tmp_path)
    args = ["recommend", str(folder), "--risk", "bad_debt_usd", "--maximize", "borrow_usage"]
    assert main([*args, "--budget", "50"]) == 0
    out = capsys.readouterr().out
    assert "recommended: point 1  lt = 0.6; bad_debt_usd p95 19, mean borrow_usage 150 " \
           "(3 replicates)" in out
    assert "Pareto frontier (4 of 5 points" in out
    saved = json.loads((folder / "recommendation.json").read_text())
    assert saved["pick"]["point"] == 1 and saved["frontier"] == [4, 0, 1, 3]
    assert main([*args, "--budget", "1"]) == 3  # ran, but no point is within the budget
    out = capsys.readouterr().out
    assert "no point is feasible" in out and "The least risky is point 4 (p95 5)" in out
    assert json.loads((folder / "recommendation.json").read_text())["pick"] is None
    assert main(["recommend", str(folder), "--risk", "nope", "--maximize", "borrow_usage",
                 "--budget", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "known metrics: bad_debt_usd, borrow_usage" in err
    assert main(["recommend", str(tmp_path), "--risk", "x", "--maximize", "y",
                 "--budget", "1"]) == 2
    assert "not a sweep's results folder" in capsys.readouterr().err


def test_the_sweep_report_draws_the_frontier(tmp_path, capsys):
    sweep_file = tmp_path / "tiny.toml"
    sweep_file.write_text(AMM_SWEEP)
    out = tmp_path / "sweep"
    assert main(["sweep", str(sweep_file), "--out", str(out), "--no-progress",
                 "--no-report"]) == 0
    assert main(["recommend", str(out), "--risk", "treasury_max_drawdown", "--budget", "1",
                 "--maximize", "treasury_end_usd"]) == 0
    assert main(["report", str(out)]) == 0
    assert (out / "figures" / "frontier.png").stat().st_size > 10_000
    html = (out / "report.html").read_text()
    assert "id='fig-frontier'" in html and "is the feasible point with the highest" in html
