"""Reports of a run, a sweep and a comparison, rendered from small real runs: every figure
is in the HTML, titled and labelled; the summary tables say what the results files say."""

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli.main import main
from experiments.compare import MIN_PAIRS, compare
from experiments.sweep import run_sweep
from experiments.sweepfile import SobolSampleWarning, load_sweep
from protocols.errors import ConfigError
from reports import compare_report, run_report, sweep_report
from reports.build import build_report, kind_of
from reports.figures import usd
from reports.html import format_value
from tests.experiments.conftest import SHORT_BASELINE
from tests.experiments.test_sobol_samples import SIGMA, SOBOL_8, WARNING

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"


@pytest.fixture(scope="module")
def short_baseline(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenarios") / "short.toml"
    path.write_text(SHORT_BASELINE)
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, short_baseline):
    out = tmp_path_factory.mktemp("run")
    assert main(["run", str(short_baseline), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory, short_baseline):
    folder = tmp_path_factory.mktemp("sweep")
    file = folder / "sweep.toml"
    file.write_text(f"""
name = "tiny"
base = "{short_baseline}"
replicates = 2
seed = 3
[overrides]
steps = 36
"shocks[2].step" = 30
[axes]
"treasury.holdings.GOV" = [4e6, 12e6]
"protocols[aave].reserves.GOV.liquidation_threshold" = [0.6, 0.7]
""")
    run_sweep(load_sweep(file), folder / "out", progress=False)
    return folder / "out"


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory, short_baseline):
    folder = tmp_path_factory.mktemp("compare")
    proposal = folder / "lt50.toml"
    # as experiments/proposals/gov_lt_50.toml: executed on open positions at step 48 (set in
    # the reserve from step 0 it would only open smaller loans: nothing material to show)
    proposal.write_text('name = "lt50"\n[[append.shocks]]\nkind = "parameter_change"\n'
                        'step = 48\nmarket = "aave"\nreserve = "GOV"\nltv = 0.4\n'
                        'liquidation_threshold = 0.5\n')
    compare(short_baseline, proposal, MIN_PAIRS, folder / "out", progress=False, resamples=200)
    return folder / "out"


def html_of(folder: Path) -> str:
    return (folder / "report.html").read_text()


def first_table(html: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def as_number(text: str) -> float:
    return float(text.replace(",", ""))


def assert_labelled(figure):
    """A title, and every axes (colour bars aside) titled with both axes labelled."""
    assert figure.figure.get_suptitle() == figure.title != ""
    assert figure.caption
    drawn = [ax for ax in figure.figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert drawn
    for ax in drawn:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), figure.name


def assert_every_figure_in_html(folder: Path, expected: set[str]):
    html = html_of(folder)
    files = {p.stem for p in (folder / "figures").glob("*.png")}
    assert files == expected
    for name in files:
        assert f"id='fig-{name}'" in html
        assert f"data-file='figures/{name}.png'" in html
        assert (folder / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert html.count("data:image/png;base64,") == len(files)


# -- a run -------------------------------------------------------------------------------

def test_run_report_holds_every_figure_and_opens_with_the_runs_summary(run_dir):
    assert kind_of(run_dir) == "run"
    assert_every_figure_in_html(run_dir, {"prices", "health_factors", "liquidations",
                                          "dependency_graph", "systemic_debtrank",
                                          "treasury", "liquidation_curve"})
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = first_table(html_of(run_dir))
    aliases = {"treasury_start_usd", "treasury_end_usd", "treasury_max_drawdown"}
    assert sorted(r[1] for r in rows) == sorted(summary.keys() - aliases)
    assert all(r[3] for r in rows), "every key has its unit"
    for _, key, shown, *_ in rows:
        value = summary[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            assert shown == ("" if value is None else str(value)), key
        else:
            assert as_number(shown) == pytest.approx(value, rel=1e-5, abs=0.006), key
    last = pd.read_parquet(run_dir / "timeseries.parquet").iloc[-1]
    bad_debt = last[[c for c in last.index if c.startswith("bad_debt_usd:")]].sum()
    assert bad_debt == pytest.approx(summary["bad_debt_usd"], rel=1e-12) and bad_debt > 0
    events = pd.read_parquet(run_dir / "events.parquet")
    liquidations = {r[1]: r[2] for r in rows}["liquidations"]
    assert as_number(liquidations) == (events["kind"] == "liquidation").sum() > 0


def test_run_figures_are_titled_and_labelled(run_dir):
    run = run_report.load_run(run_dir)
    for make in (run_report.price_figure, run_report.health_figure,
                 run_report.liquidation_figure, run_report.graph_figure,
                 run_report.systemic_figure, run_report.treasury_figure):
        assert_labelled(make(run))
    assert f"Scenario 'baseline', seed {run.summary['seed']}, 72 steps of 1 h." in \
        run_report.price_figure(run).caption


def test_run_price_figure_draws_the_fundamental_under_a_thin_market(run_dir):
    # The baseline's GOV trades off-chain at finite depth: its panel draws the traded price
    # and, dashed, the exogenous fundamental the impact moved it from; ETH (unlimited depth)
    # has no separate fundamental.
    run = run_report.load_run(run_dir)
    axes = {ax.get_title(): ax for ax in run_report.price_figure(run).figure.axes}
    gov = {line.get_label(): line for line in axes["GOV"].get_lines()}
    assert np.array_equal(gov["fundamental"].get_ydata(), run.timeseries["fundamental:GOV"])
    assert np.array_equal(gov["off-chain (traded)"].get_ydata(), run.timeseries["price:GOV"])
    assert "fundamental" not in {line.get_label() for line in axes["ETH"].get_lines()}


def test_run_liquidation_figure_draws_shortfall_beside_bad_debt(run_dir):
    run = run_report.load_run(run_dir)
    figure = run_report.liquidation_figure(run)
    bottom = figure.figure.axes[1]
    lines = {line.get_label(): line for line in bottom.get_lines()
             if not line.get_label().startswith("_")}  # shock markers are unlabelled
    # the short baseline has one lending market, "aave": one series of each kind
    assert set(lines) == {"aave: bad debt (written off)", "aave: shortfall (marked to market)"}
    ts = run.timeseries
    bad, short = lines["aave: bad debt (written off)"], lines["aave: shortfall (marked to market)"]
    assert np.array_equal(bad.get_ydata(), ts["bad_debt_usd:aave"])
    assert np.array_equal(short.get_ydata(), ts["shortfall_usd:aave"])
    assert short.get_linestyle() == "--" and bad.get_color() == short.get_color()
    assert [t.get_text() for t in bottom.get_legend().get_texts()] == list(lines)
    # the summary's peak and end are the column's largest and last values (one market)
    summary = run.summary
    assert summary["shortfall_peak_usd"] == ts["shortfall_usd:aave"].max()
    assert summary["shortfall_end_usd"] == ts["shortfall_usd:aave"].iloc[-1]
    assert f"peak {usd(summary['shortfall_peak_usd'])}" in figure.caption
    rows = {r[1]: r[2] for r in first_table(html_of(run_dir))}
    for key in ("shortfall_peak_usd", "shortfall_end_usd", "shortfall_peak_usd:aave",
                "shortfall_end_usd:aave"):
        assert as_number(rows[key]) == pytest.approx(summary[key], rel=1e-5, abs=0.006)


def test_a_calm_run_still_renders_with_zero_shortfall_and_bad_debt(tmp_path):
    # The baseline with no shocks, 6 hourly steps: positions open at HF > 1 and going
    # insolvent needs ETH -17 % (LT 0.83), GOV -35 % (0.65) or stETH/ETH -19 % (0.81) -
    # with hourly volatility ~0.75 % (ETH), ~1.2 % (GOV) and a 0.2 % peg noise that does
    # not happen in 6 hours: no shortfall, no liquidation, no bad debt.
    scenario = tmp_path / "calm.toml"
    scenario.write_text(f'extends = "{SCENARIOS / "baseline.toml"}"\nsteps = 6\n'
                        "[overrides]\nshocks = []\n")
    out = tmp_path / "calm"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shortfall_peak_usd"] == summary["shortfall_end_usd"] == 0.0
    assert summary["bad_debt_usd"] == 0.0 and summary["liquidations"] == 0
    run = run_report.load_run(out)
    figure = run_report.liquidation_figure(run)
    assert_labelled(figure)
    for line in figure.figure.axes[1].get_lines():
        assert not np.any(line.get_ydata())
    assert "id='fig-liquidations'" in html_of(out)
    assert "No distress: no protocol crossed a distress threshold in this run." in html_of(out)


def test_run_spread_table_lists_the_distress_transitions(run_dir):
    run = run_report.load_run(run_dir)
    events = run.events
    transitions = events[events["kind"].isin(["distress", "recovered"])]
    table = run_report.spread_table(run).frame
    assert len(table) == min(len(transitions), run_report.SPREAD_ROWS) > 0
    assert list(table["node"]) == list(transitions["node"])[:len(table)]
    assert list(table["day"]) == [round(s / 24, 2) for s in table["step"]]


def test_health_snapshots_bracket_the_shock(run_dir):
    health = pd.read_parquet(run_dir / "health.parquet")
    steps = health.groupby("moment")["step"].first().to_dict()
    assert steps == {"before shock": 23, "after shock": 24, "end of run": 72}
    before = health[health["moment"] == "before shock"]["health_factor"]
    after = health[health["moment"] == "after shock"]["health_factor"]
    assert len(before) == len(after)  # nobody acted between the two pictures
    assert after.median() < before.median()  # the crash lowers every ETH-backed HF
    assert (after < 1).mean() > (before < 1).mean()


def test_run_without_report_and_a_report_rebuilt_elsewhere(tmp_path, run_dir):
    out = tmp_path / "bare"
    assert main(["run", str(SCENARIOS / "amm_arbitrage.toml"), "--steps", "6", "--out",
                 str(out), "--no-report"]) == 0
    assert not (out / "report.html").exists()
    assert main(["report", str(run_dir), "--out", str(tmp_path / "copy")]) == 0
    assert (tmp_path / "copy" / "report.html").exists()


# -- a sweep -----------------------------------------------------------------------------

def test_sweep_report_heat_maps_distributions_and_point_table(sweep_dir):
    path = sweep_report.sweep_report(sweep_dir)
    assert path == sweep_dir / "report.html"
    assert kind_of(sweep_dir) == "sweep"
    assert_every_figure_in_html(sweep_dir, {"heatmap", "distributions"})
    sweep = sweep_report.load_sweep(sweep_dir)
    assert sweep.params == ["treasury.holdings.GOV",
                            "protocols[aave].reserves.GOV.liquidation_threshold"]
    for make in (sweep_report.heatmap_figure, sweep_report.distribution_figure):
        assert_labelled(make(sweep))
    points = pd.read_parquet(sweep_dir / "points.parquet")
    rows = first_table(html_of(sweep_dir))
    assert len(rows) == len(points) == 4
    shown = [[as_number(c) for c in row[:4]] for row in rows]
    expected = points[["point", *sweep.params, "runs"]].to_numpy(dtype=float)
    assert np.allclose(shown, expected)


def test_sweep_heat_map_cells_are_the_point_means(sweep_dir):
    sweep = sweep_report.load_sweep(sweep_dir)
    heat = sweep_report.heatmap_figure(sweep).figure.axes[0]
    cells = sorted(t.get_text() for t in heat.texts)
    metric = sweep.metrics[0]
    means = sweep.points[metric]
    assert cells == sorted(f"{v:.3g}" for v in means)


def test_sobol_bars_show_each_parameters_indices():
    table = pd.DataFrame({"metric": ["bad_debt_usd"] * 2, "parameter": ["a", "b"],
                          "S1": [0.6, 0.1], "S1_conf": [0.05, 0.02],
                          "ST": [0.7, 0.3], "ST_conf": [0.06, 0.03]})
    runs = pd.DataFrame({"run_key": ["k"], "point": [0], "replicate": [0], "seed": [1],
                         "a": [0.1], "b": [0.2], "scenario": ["s"], "bad_debt_usd": [1.0],
                         "error": [None]})
    sweep = sweep_report.SweepFolder(Path("x"), {"name": "s", "design": "sobol"}, runs,
                                     runs, table, ["a", "b"])
    figure = sweep_report.sobol_figure(sweep)
    assert_labelled(figure)
    bars = figure.figure.axes[0].patches
    assert sorted(b.get_width() for b in bars) == [0.1, 0.3, 0.6, 0.7]



def test_sobol_report_tables_each_index_with_its_interval_and_warns_of_few_samples(tmp_path):
    file = tmp_path / "s8.toml"
    file.write_text(SOBOL_8)
    with pytest.warns(SobolSampleWarning):
        sweep = load_sweep(file)
    run_sweep(sweep, tmp_path / "out", progress=False)
    page = html_of(sweep_report.sweep_report(tmp_path / "out").parent)
    assert f"<p class='meta'>Warning: {html.escape(WARNING)}.</p>" in page
    table = re.search(r"<h2>Sobol indices with 95 % confidence intervals</h2>(.*?)</table>",
                      page, re.S).group(1)
    assert html.escape(WARNING) in table  # the table's note says it again
    assert re.findall(r"<th>(.*?)</th>", table) == ["metric", "parameter", "S1", "S1_conf",
                                                     "ST", "ST_conf"]
    rows = first_table(table)
    # the figure's metrics (the first five headline ones), two parameters each
    assert sorted({r[0] for r in rows}) == ["bad_debt_usd", "cascade_depth",
                                            "protocols_distressed_share",
                                            "shortfall_peak_usd", "treasury_loss_usd"]
    assert len(rows) == 10
    loss = next(r for r in rows if r[:2] == ["treasury_loss_usd", html.escape(SIGMA)])
    assert loss[2:] == ["1.54436", "0.60863", "1.57811", "0.394689"]  # S1 > 1: noise

# -- a comparison ------------------------------------------------------------------------

def test_compare_report_differences_arms_and_nav(compare_dir):
    assert kind_of(compare_dir) == "compare"
    build_report(compare_dir)
    assert_every_figure_in_html(compare_dir, {"differences", "arm_distributions", "treasury"})
    cmp = compare_report.load_compare(compare_dir)
    assert cmp.arms == ["baseline", "lt50"]
    for make in (compare_report.difference_figure, compare_report.distribution_figure,
                 compare_report.treasury_figure):
        assert_labelled(make(cmp))
    table = pd.read_csv(compare_dir / "comparison.csv")
    html = html_of(compare_dir)
    # the headline opens the report: what the proposal changes, then the material metrics
    assert html.index("appended shocks[3]: kind=parameter_change step=48 market=aave "
                      "reserve=GOV ltv=0.4 liquidation_threshold=0.5") < html.index(
        "Headline: what changed materially") < html.index("<figure")
    headline = first_table(html)
    material = table[table["material"] & table["same_as"].isna()]
    shown = [r[1] for r in headline if r[0] == "risk"]
    assert sorted(shown) == sorted(material.loc[material["group"] != "capital efficiency",
                                                "metric"]) != []
    # GOV's LTV cut at step 48 lowers what the market lends after it: risk beside its cost
    capital = [r[1].split(" (")[0] for r in headline if r[0] == "capital efficiency"]
    assert "borrowing_power_usd_end" in capital
    assert sorted(capital) == sorted(material.loc[material["group"] == "capital efficiency",
                                                  "metric"])
    # the full table after the figures: every metric that differs; identical ones in its note
    body = re.findall(r"<tbody>(.*?)</tbody>", html, re.S)[1]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
            for r in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    differ = table[table["status"] != "identical"]
    assert [r[0] for r in rows] == list(differ["metric"])
    for row, (_, expected) in zip(rows, differ.iterrows(), strict=True):
        assert as_number(row[3]) == pytest.approx(expected["baseline_mean"], rel=1e-5, abs=0.006)
        assert as_number(row[5]) == pytest.approx(expected["diff_mean"], rel=1e-5, abs=0.006)
    same = table.loc[table["status"] == "identical", "metric"]
    assert f"identical in every paired run ({len(same)}): {', '.join(same)}" in html


def test_compare_difference_points_are_relative_to_the_baseline(compare_dir):
    cmp = compare_report.load_compare(compare_dir)
    figure = compare_report.difference_figure(cmp)
    ax = figure.figure.axes[0]
    shown = [label.get_text() for label in ax.get_yticklabels()]
    table = cmp.table.set_index("metric")
    changed = [m for m in table.index if not table.loc[m, "verdict"].endswith("paired runs")]
    # a market's copy of its total (one market here) is drawn once, as the total
    copies = [m for m in changed if isinstance(table.loc[m, "same_as"], str)]
    assert "borrowing_power_usd_end:aave" in copies and "borrowing_power_usd_end" in shown
    assert shown == [m for m in changed if table.loc[m, "baseline_mean"] != 0
                     and m not in copies] != []
    assert f"{len(copies)} per-market metrics equal to their all-market total" in figure.caption
    points = np.concatenate([line.get_xdata() for line in ax.lines if len(line.get_xdata())])
    for metric in shown:
        row = table.loc[metric]
        assert np.isclose(points, 100 * row["diff_mean"] / abs(row["baseline_mean"])).any()


# -- errors and helpers ------------------------------------------------------------------

def test_folders_that_hold_no_results_get_a_clear_error(tmp_path, sweep_dir):
    with pytest.raises(ConfigError, match="is not a folder"):
        build_report(tmp_path / "missing")
    with pytest.raises(ConfigError, match="holds no results"):
        build_report(tmp_path)
    broken = tmp_path / "half"
    broken.mkdir()
    (broken / "plan.json").write_text((sweep_dir / "plan.json").read_text())
    (broken / "runs.parquet").write_bytes((sweep_dir / "runs.parquet").read_bytes())
    with pytest.raises(ConfigError, match="lacks points.parquet.*has not finished"):
        build_report(broken)
    assert main(["report", str(tmp_path)]) == 2


@pytest.mark.parametrize(("value", "text"), [
    (1_234_567.891, "1,234,567.89"), (999.5, "999.5"), (0.0123456789, "0.0123457"),
    (7, "7"), (12345, "12,345"), (np.int64(3), "3"), (np.float64(0.5), "0.5"),
    (float("nan"), ""), (None, ""), (True, "True"), ("aave", "aave"),
])
def test_table_cells(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (1_234_567, "$1.23M"), (-2500, "-$2.5k"), (3.2e9, "$3.2B"), (12.5, "$12.5"), (0, "$0"),
])
def test_usd_ticks(value, text):
    assert usd(value) == text
