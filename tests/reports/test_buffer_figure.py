"""The run report's treasury health-factor figure (reports.buffer_figure): drawn from a real
short run of the shipped collateral_buffer scenario, with the band's lines and a marker per
top-up and repayment at the health factor the keeper acted at; absent without a loan."""

from pathlib import Path

import pytest

from cli.main import main
from reports.buffer_figure import buffer_figure
from reports.run_report import load_run

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"


@pytest.fixture(scope="module")
def buffer_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("buffer")
    assert main(["run", str(SCENARIOS / "collateral_buffer.toml"), "--steps", "150",
                 "--out", str(out)]) == 0
    return out


def test_the_report_shows_the_band_and_every_act_of_the_keeper(buffer_run):
    assert (buffer_run / "figures" / "treasury_health.png").read_bytes()[:4] == b"\x89PNG"
    assert "id='fig-treasury_health'" in (buffer_run / "report.html").read_text()
    run = load_run(buffer_run)
    figure = buffer_figure(run)
    (ax,) = figure.figure.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"floor 1.5", "target 2", "ceiling 2.5", "1: liquidatable"} <= set(lines)
    assert lines["floor 1.5"].get_ydata()[0] == 1.5
    events = run.events
    acts = {kind: events[events["kind"] == kind] for kind in
            ("collateral_topup", "debt_repaid_for_buffer")}
    markers = {c.get_label(): c.get_offsets() for c in ax.collections if c.get_label()}
    topups = markers["collateral topped up (at the HF before)"]
    assert len(topups) == len(acts["collateral_topup"]) == 2
    assert list(topups[:, 1]) == pytest.approx(list(acts["collateral_topup"]["hf_before"]))
    assert len(markers["debt repaid (at the HF before)"]) == 1
    assert "liquidated $0" in figure.caption and "Lowest health factor 1.19" in figure.caption


def test_no_figure_for_a_treasury_that_never_borrowed(buffer_run, tmp_path):
    run = load_run(buffer_run)
    hf = [c for c in run.timeseries.columns if c.startswith("treasury_hf:")]
    assert hf == ["treasury_hf:aave"]
    run.timeseries[hf[0]] = float("inf")
    assert buffer_figure(run) is None
