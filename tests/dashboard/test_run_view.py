"""The run explorer: its data preparation on a real run (the baseline to step 420: the ETH
crash at 240 puts bad debt on aave, logged at 242; the GOV/ETH pool's exploit at 400 drains
it, logged at 402), the per-step health-factor histogram the simulator now writes, and the
page in a browser: moving the slider changes the nodes' states to the expected ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import daosim
from dashboard.run_data import DISTRESSED, HEALTHY, ORIGIN, load, node_states
from sim.health import HF_EDGES, hf_histogram
from sim.model import TreasuryModel
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "experiments" / "scenarios" / "baseline.toml"
STEPS = 420


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runview") / "baseline-420"
    daosim.run(BASELINE, steps=STEPS, out=out)
    return out


@pytest.fixture(scope="module")
def data(folder):
    return load(folder)


def state_of(data, step: int) -> dict[str, tuple[str, str, int]]:
    """node -> (state, cause, since) of the nodes not healthy at `step`."""
    frame = data.states_at(step)
    frame = frame[frame["state"] != "healthy"]
    return {r.id: (r.state, r.cause, int(r.since)) for r in frame.itertuples()}


def test_node_states_around_the_known_distress_steps(data):
    assert data.horizon == STEPS
    assert state_of(data, 239) == {}
    assert state_of(data, 241) == {"issuer:ETH": ("origin", "", 240)}
    at_242 = state_of(data, 242)
    assert at_242["aave"] == ("distressed", "bad_debt", 240)
    assert at_242["issuer:ETH"] == ("origin", "", 240)
    assert "univ2-GOV-ETH" not in state_of(data, 399)
    assert state_of(data, 400)["univ2-GOV-ETH"] == ("origin", "", 400)
    assert state_of(data, 401)["univ2-GOV-ETH"] == ("origin", "", 400)
    assert state_of(data, 402)["univ2-GOV-ETH"] == ("distressed", "tvl_drop", 400)


def test_node_states_agree_with_graph_json(data, folder):
    """Every node graph.json calls distressed is distressed at its distress event's step,
    with graph.json's `distress_step` as its since; an origin is one from `origin_step`."""
    import json

    nodes = {n["id"]: n for n in json.loads((folder / "graph.json").read_text())["nodes"]}
    events = data.events[data.events["kind"] == "distress"]
    checked = 0
    for j, node in enumerate(data.nodes["id"]):
        info = nodes[node]
        if info["origin"]:
            assert data.state[info["origin_step"] - 1, j] == HEALTHY
            assert data.state[info["origin_step"], j] != HEALTHY
        mine = events[events["node"] == node]
        if info["distress_step"] >= 0 and len(mine):
            logged = int(mine["step"].iloc[0])
            assert data.state[logged, j] == DISTRESSED
            assert data.since[logged, j] == info["distress_step"]
            assert data.state[logged - 1, j] != DISTRESSED
            checked += 1
    assert checked >= 2


def test_node_states_by_hand():
    """A: origin from 2, distressed 4 (tvl_drop); B: distressed 3..5 (shortfall, since 2),
    recovered at 6."""
    nodes = pd.DataFrame({"id": ["A", "B"], "origin_step": [2, -1]})
    events = pd.DataFrame({"step": [3, 4, 6], "kind": ["distress", "distress", "recovered"],
                           "node": ["B", "A", "B"], "cause": ["shortfall", "tvl_drop",
                                                              "shortfall"],
                           "since": [2, 4, 5]})
    state, cause, since = node_states(nodes, events, horizon=7)
    assert state[:, 0].tolist() == [HEALTHY, HEALTHY, ORIGIN, ORIGIN, DISTRESSED, DISTRESSED,
                                    DISTRESSED, DISTRESSED]
    assert state[:, 1].tolist() == [0, 0, 0, DISTRESSED, DISTRESSED, DISTRESSED, 0, 0]
    assert cause[:, 1].tolist() == ["", "", "", "shortfall", "shortfall", "shortfall", "", ""]
    assert cause[4, 0] == "tvl_drop" and since[4, 0] == 4 and since[2, 0] == 2
    assert since[3, 1] == 2 and since[6, 1] == 6


def test_hf_histogram_by_hand():
    """Bins are [low, high): 1.0 is not liquidatable, 0.9999 is; 3 and 7 share the top bin;
    no debt (HF inf) is not counted."""
    hf = np.array([0.3, 0.9999, 1.0, 1.04, 1.05, 2.5, 3.0, 7.0, np.inf])
    debt = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 0.0])
    counts, owed = hf_histogram(hf, debt)
    low = HF_EDGES[:-1]
    assert dict(zip(low[counts > 0].tolist(), counts[counts > 0].tolist(), strict=True)) == {
        0.0: 1, 0.95: 1, 1.0: 2, 1.05: 1, 2.0: 1, 3.0: 2}
    assert owed[low == 1.0].item() == 70.0 and owed[low == 3.0].item() == 150.0
    assert owed.sum() == debt.sum()


def test_per_step_histogram_counts_every_indebted_position():
    """After 6 steps of the baseline, the last histogram is the book's: as many positions
    as health_factors() has finite, and their debt at the oracle prices."""
    model = TreasuryModel(load_scenario(BASELINE, {"steps": 6, "shocks": []}))
    model.run()
    frame = model.health.steps_frame()
    assert sorted(frame["step"].unique()) == list(range(7))
    assert (frame.groupby(["step", "market"]).size() == len(HF_EDGES) - 1).all()
    for name, market in model.world.markets.items():
        hf = market.health_factors()
        last = frame[(frame["step"] == 6) & (frame["market"] == name)]
        assert last["positions"].sum() == np.isfinite(hf).sum() > 0
        prices = np.array([market.oracles[a].price * market.borrow_index(a)
                           for a in market.assets])
        debt = market.debt_scaled @ prices
        assert last["debt_usd"].sum() == pytest.approx(debt.sum(), rel=1e-12)
        below = last.loc[last["hf_high"] <= 1.0, "positions"].sum()
        assert below == (hf < 1.0).sum()


def test_the_step_histogram_matches_the_before_shock_snapshot(data, folder):
    """Two outputs, one book: health.parquet's 'before shock' snapshot (step 239) binned
    is the histogram health_steps.parquet holds for step 239."""
    snaps = pd.read_parquet(folder / "health.parquet")
    before = snaps[snaps["moment"] == "before shock"]
    assert set(before["step"]) == {239}
    counts, _ = hf_histogram(before["health_factor"].to_numpy(), np.zeros(len(before)))
    assert data.hf_source == "steps"
    assert data.hf_positions[239].tolist() == counts.tolist()
    assert data.hf_positions[242][HF_EDGES[:-1] < 1.0].sum() > 0  # the crash's wake


def test_an_older_folder_falls_back_to_the_snapshots(folder, tmp_path):
    from dashboard.app import Dashboard
    from dashboard.run_view import RunExplorer

    old = tmp_path / "old-run"
    shutil.copytree(folder, old)
    (old / "health_steps.parquet").unlink()
    data = load(old)
    assert data.hf_source == "snapshots"
    snaps = pd.read_parquet(old / "health.parquet")
    assert data.hf_positions[100].sum() == 0 and "no snapshot" in data.hf_note[100]
    assert data.hf_positions[239].sum() == (snaps["moment"] == "before shock").sum()
    assert data.hf_positions[300].sum() == (snaps["moment"] == "after shock").sum()
    assert "'after shock' of step 240" in data.hf_note[300]
    assert np.isnan(data.hf_debt[300]).all()
    explorer = RunExplorer(data, Dashboard(tmp_path / "out"))
    alerts = [o for o in explorer.layout.select(lambda o: "daosim-hf-fallback"
                                                in getattr(o, "css_classes", []))]
    assert len(alerts) == 1 and "health_steps.parquet" in alerts[0].object


def test_the_layout_is_the_same_every_time(data, folder):
    again = load(folder)
    assert again.nodes[["x", "y"]].equals(data.nodes[["x", "y"]])
    assert np.isfinite(data.nodes[["x", "y"]].to_numpy()).all()


def test_a_step_shows_its_events_and_states(data, tmp_path):
    from dashboard.app import Dashboard
    from dashboard.run_view import RunExplorer

    explorer = RunExplorer(data, Dashboard(tmp_path / "out"))
    explorer.show(242)
    assert 'data-node="aave" data-cause="bad_debt"' in explorer.states.object
    assert explorer.nodes.data["state"][data.nodes["id"].tolist().index("aave")] == "distressed"
    kinds = data.events_at(242)["kind"].value_counts()
    assert f'{kinds["distress"]} distress' in explorer.counts.object
    assert len(explorer.table.value) == kinds.sum()
    assert all(c.location == 242 for c in explorer.cursors)


# -- in a browser ------------------------------------------------------------------------
def go_to(page, step: int, horizon: int) -> None:
    """Move the slider to `step` as a user does: a click on its track near the step when it
    is far (a click on the handle itself does not move it), then the arrow keys, each
    waited for until the page shows its step."""
    label = page.locator(".daosim-step-number")
    now = int(label.get_attribute("data-step"))
    if abs(step - now) > 20:
        track = page.locator(".daosim-step-slider .noUi-base").first.bounding_box()
        page.mouse.click(track["x"] + track["width"] * step / horizon,
                         track["y"] + track["height"] / 2)
        page.wait_for_selector(f'.daosim-step-number:not([data-step="{now}"])')
        now = int(label.get_attribute("data-step"))
        assert abs(step - now) <= 3, f"a click meant for step {step} gave {now}"
    handle = page.locator(".daosim-step-slider .noUi-handle").first
    while now != step:
        handle.focus()
        page.keyboard.press("ArrowRight" if now < step else "ArrowLeft")
        now += 1 if now < step else -1
        page.wait_for_selector(f'.daosim-step-number[data-step="{now}"]')
    page.wait_for_selector(f'.daosim-node-counts >> text="Nodes at step {step}:"')


def node_rows(page) -> dict[str, tuple[str, str]]:
    return {node: (cls.split()[-1], cause) for node, cls, cause in page.locator(
        "tr.node-state").evaluate_all(
        "(rows) => rows.map(r => [r.dataset.node, r.className, r.dataset.cause])")}


def test_moving_the_slider_changes_the_node_states(serve, page, folder):
    page.page.goto(serve(folder))
    page.page.wait_for_selector(".daosim-graph canvas")
    page.page.wait_for_selector('.daosim-step-number[data-step="0"]')
    assert node_rows(page.page) == {}
    go_to(page.page, 241, STEPS)
    assert node_rows(page.page) == {"issuer:ETH": ("origin", "")}
    page.shot("run-step-241")
    go_to(page.page, 242, STEPS)
    rows = node_rows(page.page)
    assert rows["aave"] == ("distressed", "bad_debt") and rows["issuer:ETH"][0] == "origin"
    assert page.page.locator('.daosim-kinds .kind[data-kind="distress"]').count() == 1
    page.shot("run-step-242")
    go_to(page.page, 402, STEPS)
    assert node_rows(page.page)["univ2-GOV-ETH"] == ("distressed", "tvl_drop")
    page.shot("run-step-402")


def test_a_run_without_a_lending_market_says_so(tmp_path):
    # amm_arbitrage has pools and arbitrageurs only: its health_steps.parquet has no rows
    folder = tmp_path / "amm"
    daosim.run(ROOT / "experiments" / "scenarios" / "amm_arbitrage.toml", steps=12, out=folder)
    assert pd.read_parquet(folder / "health_steps.parquet").empty
    data = load(folder)
    assert data.hf_source == "none" and data.hf_positions.shape == (13, 13)
    assert data.hf_positions.sum() == 0
    assert data.hf_note[5] == "this run has no lending market"


def test_a_run_opens_a_what_if_on_its_own_scenario(serve, page, folder):
    page.page.goto(serve(folder))
    page.page.click(".daosim-run-whatif button")
    page.page.get_by_text(f"What-if: {folder.name}", exact=True).wait_for()
    steps = page.page.locator(".whatif-steps input")
    steps.wait_for()
    assert steps.input_value() == str(STEPS)  # the run's own horizon, not the file's 720
    page.shot("run-what-if")
