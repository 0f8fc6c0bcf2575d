"""SQL over output folders (`experiments.query`): aggregates checked by hand on a folder
built by hand, a real sweep's kept time series and events, and the refusals."""

import json
from pathlib import Path

import pandas as pd
import pytest

from experiments.query import connect, describe, query, view_files
from experiments.sweep import plan, run_sweep
from experiments.sweepfile import load_sweep
from protocols.errors import ConfigError
from sim.outputs import events_frame, write_run
from sim.runner import run_scenario
from sim.scenario import apply_overrides, load_scenario, parse_scenario
from tests.experiments.conftest import AMM, AMM_SWEEP

#: shortfall_peak_usd of five runs per policy
SHORTFALLS = {"static": [1.0, 2.0, 3.0, 4.0, 10.0], "cppi": [0.0, 0.0, 5.0, 5.0, 20.0]}


def hand_folder(root: Path, *, series: bool = True) -> Path:
    """A sweep folder as `daosim sweep` leaves it: plan.json, runs.parquet (2 policies x 5
    runs), points.parquet, and the time series of three runs - s0 and s1 (static) and c0
    (cppi, with an extra `price:GOV` column) - but no events."""
    out = root / "hand"
    (out / "timeseries").mkdir(parents=True)
    (out / "plan.json").write_text(json.dumps({"kind": "sweep", "fingerprint": "x"}))
    rows = [{"run_key": f"{policy[0]}{k}", "point": p, "replicate": k,
             "treasury.policy.kind": policy, "shortfall_peak_usd": value}
            for p, (policy, values) in enumerate(SHORTFALLS.items())
            for k, value in enumerate(values)]
    pd.DataFrame(rows).to_parquet(out / "runs.parquet", index=False)
    pd.DataFrame({"point": [0, 1], "treasury.policy.kind": ["static", "cppi"]}).to_parquet(
        out / "points.parquet", index=False)
    if not series:
        (out / "timeseries").rmdir()
        return out
    tables = {"s0": {"treasury_usd": [100.0, 90.0, 80.0]},
              "s1": {"treasury_usd": [100.0, 50.0, 70.0]},
              "c0": {"treasury_usd": [100.0, 100.0, 100.0], "price:GOV": [1.0, 2.0, 3.0]}}
    for key, columns in tables.items():
        frame = pd.DataFrame({"run_key": key, "step": [0, 1, 2], **columns})
        frame.to_parquet(out / "timeseries" / f"{key}.parquet", index=False)
    # a temporary file a killed writer left: not a whole file, not read
    (out / "timeseries" / ".x9.parquet.abc.tmp").write_text("half a file")
    return out


def test_quantiles_by_policy_match_the_hand_computed_ones(tmp_path):
    folder = hand_folder(tmp_path)
    result = query(folder, 'SELECT "treasury.policy.kind" AS policy, count(*) AS runs, '
                           "quantile_cont(shortfall_peak_usd, 0.5) AS p50, "
                           "quantile_cont(shortfall_peak_usd, 0.9) AS p90, "
                           "quantile_cont(shortfall_peak_usd, 0.99) AS p99 "
                           "FROM runs GROUP BY policy ORDER BY policy")
    # quantile_cont interpolates between order statistics at rank q * (n - 1):
    # static 1 2 3 4 10: p50 = 3; p90 at rank 3.6 = 4 + 0.6 * (10 - 4) = 7.6;
    #   p99 at rank 3.96 = 4 + 0.96 * 6 = 9.76
    # cppi 0 0 5 5 20:   p50 = 5; p90 = 5 + 0.6 * (20 - 5) = 14; p99 = 5 + 0.96 * 15 = 19.4
    assert list(result["policy"]) == ["cppi", "static"]
    assert list(result["runs"]) == [5, 5]
    assert result["p50"].tolist() == pytest.approx([5.0, 3.0])
    assert result["p90"].tolist() == pytest.approx([14.0, 7.6])
    assert result["p99"].tolist() == pytest.approx([19.4, 9.76])


def test_a_timeseries_aggregate_joins_runs_and_unions_differing_columns(tmp_path):
    folder = hand_folder(tmp_path)
    result = query(folder, 'SELECT r."treasury.policy.kind" AS policy, '
                           "avg(low) AS mean_low, count(*) AS runs FROM ("
                           "  SELECT run_key, min(treasury_usd) AS low FROM timeseries "
                           "  GROUP BY run_key) t JOIN runs r USING (run_key) "
                           "GROUP BY policy ORDER BY policy")
    # lowest treasury per run: s0 80, s1 50, c0 100; static's mean (80 + 50) / 2 = 65
    assert result.to_dict("list") == {"policy": ["cppi", "static"], "mean_low": [100.0, 65.0],
                                      "runs": [1, 2]}
    # c0's extra column is NULL in the other runs' rows: 9 rows, 3 prices summing to 6
    counts = query(folder, 'SELECT count(*) AS n, count("price:GOV") AS priced, '
                           'sum("price:GOV") AS total FROM timeseries')
    assert counts.iloc[0].tolist() == [9, 3, 6.0]


def test_views_are_lazy_and_only_those_with_files_exist(tmp_path):
    folder = hand_folder(tmp_path)
    assert list(view_files(folder)) == ["runs", "points", "timeseries"]
    with connect(folder) as con:
        kinds = dict(con.execute("SELECT table_name, table_type FROM "
                                 "information_schema.tables").fetchall())
    assert kinds == {"runs": "VIEW", "points": "VIEW", "timeseries": "VIEW"}
    # a view reads its files when queried: a run finished after `connect` is seen
    with connect(folder) as con:
        pd.DataFrame({"run_key": ["s0"], "shortfall_peak_usd": [7.0]}).to_parquet(
            folder / "runs.parquet", index=False)
        assert con.execute("SELECT sum(shortfall_peak_usd) FROM runs").fetchone()[0] == 7.0
    assert list(describe(folder)["timeseries"]["column_name"]) == [
        "run_key", "step", "treasury_usd", "price:GOV"]


def test_refusals_are_one_line_and_name_the_folder_or_the_views(tmp_path):
    folder = hand_folder(tmp_path)
    with pytest.raises(ConfigError) as err:
        query(folder, "SELECT count(*) FROM events")
    assert str(err.value) == (f"query: {folder} has the views runs, points, timeseries; "
                              "Catalog Error: Table with name events does not exist!")
    with pytest.raises(ConfigError, match=r"^query: Binder Error: Referenced column "
                                          r"\"shortfall\" not found .*Candidate bindings: "
                                          r"\"shortfall_peak_usd\"") as err:
        query(folder, "SELECT shortfall FROM runs")
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r'^query: Parser Error: syntax error at or near '
                                          r'"SELEC"$'):
        query(folder, "SELEC 1")
    bare = hand_folder(tmp_path / "bare", series=False)
    with pytest.raises(ConfigError, match=r"has the views runs, points \(a sweep keeps its "
                                          r"runs' time series and events unless its sweep "
                                          r"file sets timeseries = false\); Catalog Error"):
        query(bare, "SELECT * FROM timeseries")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty holds no results of `daosim run`"):
        query(tmp_path / "empty", "SELECT 1")
    with pytest.raises(ConfigError, match=r"nowhere is not a folder"):
        connect(tmp_path / "nowhere")
    (folder / "plan.json").write_text('{"kind": "recommend"}')
    with pytest.raises(ConfigError, match=r"plan.json: unknown kind 'recommend'"):
        query(folder, "SELECT 1")


def test_a_run_folder_is_one_run(tmp_path):
    scenario = load_scenario(AMM, {"steps": 24, "seed": 3})
    result = run_scenario(scenario)
    folder = write_run(tmp_path / "run", result, scenario)
    row = query(folder, "SELECT count(*) AS n, any_value(steps) AS steps, "
                        "any_value(seed) AS seed FROM runs").iloc[0]
    assert row.tolist() == [1, 24, 3]
    assert query(folder, "SELECT count(*) AS n FROM timeseries")["n"][0] == 25  # steps 0..24
    kinds = query(folder, "SELECT kind, count(*) AS n FROM events GROUP BY kind")
    expected = pd.Series([e["kind"] for e in result.events]).value_counts()
    assert dict(zip(kinds["kind"], kinds["n"], strict=True)) == expected.to_dict()
    assert "points" not in describe(folder)


def test_a_sweep_keeps_every_runs_time_series_and_events_for_sql(write, tmp_path):
    sweep = load_sweep(write("tiny.toml", AMM_SWEEP))
    assert sweep.timeseries  # the default
    out = tmp_path / "out"
    run_sweep(sweep, out, workers=2, progress=False)
    # 2 x 2 points x 2 replicates = 8 runs of 48 steps: rows for steps 0..48
    assert query(out, "SELECT count(*) AS n FROM timeseries")["n"][0] == 8 * 49
    per_run = query(out, "SELECT run_key, count(*) AS n, min(step) AS first, "
                         "max(step) AS last FROM events GROUP BY run_key ORDER BY run_key")
    # every run's arbitrageur trades (the amm world logs no event for a price crash)
    assert per_run["run_key"].tolist() == sorted(p.stem for p in (out / "parts").iterdir())
    assert per_run["n"].gt(0).all()
    assert per_run["first"].ge(1).all() and per_run["last"].le(48).all()
    # a run's kept events are the events of that run made alone from its task
    task = plan(sweep)[5]
    config = parse_scenario(apply_overrides(task.scenario, {**task.overrides,
                                                            "seed": task.seed}))
    alone = events_frame(run_scenario(config).events)
    kept = pd.read_parquet(out / "events" / f"{task.key}.parquet")
    assert list(kept.columns) == ["run_key", *alone.columns]
    assert (kept["run_key"] == task.key).all()
    pd.testing.assert_frame_equal(kept.drop(columns="run_key"), alone)
    # and events join back to their point's parameters
    joined = query(out, 'SELECT r."assets[ETH].sigma" AS sigma, count(*) AS n FROM events e '
                        "JOIN runs r USING (run_key) WHERE e.kind = 'arbitrage' "
                        "GROUP BY sigma ORDER BY sigma")
    direct = query(out, "SELECT count(*) AS n FROM events WHERE kind = 'arbitrage'")["n"][0]
    assert joined["sigma"].tolist() == [0.5, 1.0] and joined["n"].sum() == direct > 0


def test_timeseries_false_keeps_neither(write, tmp_path):
    text = AMM_SWEEP.replace("seed = 11\n", "seed = 11\ntimeseries = false\n")
    text = text.replace("steps = 48", "steps = 24")
    text = text.replace("step = 20", "step = 10")
    sweep = load_sweep(write("lean.toml", text))
    run_sweep(sweep, tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out" / "timeseries").exists()
    assert not (tmp_path / "out" / "events").exists()
    assert list(describe(tmp_path / "out")) == ["runs", "points"]
