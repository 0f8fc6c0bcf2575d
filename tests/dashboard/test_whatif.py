"""The what-if view: the form generated from the scenario schema (fields, values, bounds, the
override paths a change becomes), validation with the command line's own message, run
folders, the side-by-side table; and in the browser a refused value and two short runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("panel", reason="the dashboard extra is not installed")

import daosim  # noqa: E402
from agents.policies import BUILTIN  # noqa: E402
from dashboard.app import Dashboard  # noqa: E402
from dashboard.jobs import RUNNING, Job  # noqa: E402
from dashboard.side_by_side import difference_frame, headline_frame, series, shown  # noqa: E402
from dashboard.whatif import Form, WhatIf, next_folder, scenario_dict, slug, validate  # noqa: E402
from dashboard.whatif_form import field_errors, form_fields, overrides, policy_reads  # noqa: E402
from protocols.errors import ConfigError  # noqa: E402
from sim.scenario import apply_overrides, parse_scenario, read_scenario  # noqa: E402

BASELINE = Path("experiments/scenarios/baseline.toml").resolve()
GOV_LT = "protocols[aave].reserves.GOV.liquidation_threshold"
#: the baseline on a 48-step horizon with its shocks moved inside it (runs in ~1 s)
SHORT = {"steps": 48, "shocks[0].step": 10, "shocks[1].step": 10, "shocks[2].step": 20}


@pytest.fixture(scope="module")
def baseline():
    return daosim.load(BASELINE)


@pytest.fixture(scope="module")
def fields(baseline):
    return {spec.path: spec for spec in form_fields(baseline)}


@pytest.fixture(scope="module")
def short_toml(tmp_path_factory) -> Path:
    """A scenario file extending the baseline with the short horizon (how a user writes
    one)."""
    path = tmp_path_factory.mktemp("scenario") / "short.toml"
    lines = [f'extends = "{BASELINE}"', 'name = "short"', "[overrides]"]
    lines += [f'"{key}" = {value}' for key, value in SHORT.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    scenario = daosim.load(BASELINE, **SHORT)
    return daosim.run(scenario, out=tmp_path_factory.mktemp("runs") / "short")


def test_the_form_offers_the_baseline_fields_with_their_values_and_bounds(fields):
    gov = fields[GOV_LT]
    assert (gov.section, gov.group, gov.kind, gov.value) == ("Lending", "aave GOV", "float", 0.65)
    assert gov.where == "protocols[4].reserves.GOV.liquidation_threshold"
    assert gov.bounds == (("ge", 0.0), ("le", 1.0))
    assert fields["shocks[0].size"].value == 0.3
    assert fields["shocks[0].size"].bounds == (("gt", 0.0), ("lt", 1.0))
    assert (fields["shocks[2].step"].kind, fields["shocks[2].step"].value) == ("int", 400)
    assert fields["shocks[1].multiplier"].bounds == (("gt", 1.0), ("le", 1000.0))
    assert (fields["seed"].value, fields["steps"].value) == (7, 720)
    assert fields["treasury.policy.kind"].choices == tuple(sorted(BUILTIN))
    assert fields["protocols[univ3-ETH-USDC].fee"].choices == (0.0001, 0.0005, 0.003, 0.01)
    assert fields["protocols[univ2-GOV-ETH].tvl_usd"].value == 30e6
    assert fields["assets[GOV].external_depth_usd"].value == 3e5
    assert fields["assets[ETH].external_depth_usd"].value is None  # unlimited depth
    cap = fields["protocols[aave].reserves.ETH.supply_cap"]
    assert (cap.value, cap.optional) == (None, True)  # inf: no cap
    assert fields["protocols[aave].reserves.GOV.borrowable"].value is False
    assert "per 0.01 of off-chain log-price" in fields["assets[GOV].external_depth_usd"].doc
    # 5 reserves x 9 risk parameters, 2 per market, 7 shock numbers, 6 assets x 2 depths
    lending = [p for p, s in fields.items() if s.section == "Lending"]
    assert len(lending) == 5 * 9 + 2
    assert len([s for s in fields.values() if s.section == "Shocks"]) == 7
    assert len([p for p in fields if p.startswith("assets[")]) == 12
    assert {s.section for s in fields.values()} == {"Run", "Treasury policy", "Lending",
                                                   "Shocks", "Market depth"}


def test_every_path_addresses_its_field(baseline, fields):
    """Setting every field to its own value by its path gives back the same scenario, and
    setting it to another value changes that field only: the paths are right."""
    raw = read_scenario(BASELINE)
    same = {p: s.value for p, s in fields.items()}
    assert parse_scenario(apply_overrides(raw, same)) == baseline
    moved = parse_scenario(apply_overrides(raw, {GOV_LT: 0.6, "shocks[2].fraction": 0.25}))
    assert moved.protocols[4].reserves["GOV"].liquidation_threshold == 0.6
    assert moved.shocks[2].fraction == 0.25
    assert moved.protocols[4].reserves["ETH"] == baseline.protocols[4].reserves["ETH"]


@pytest.mark.parametrize("path", sorted(BASELINE.parent.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_gets_a_form_whose_paths_hold(path):
    scenario = daosim.load(path)
    specs = form_fields(scenario)
    assert len({s.path for s in specs}) == len(specs) > 20
    same = {s.path: s.value for s in specs}
    assert parse_scenario(apply_overrides(read_scenario(path), same)) == scenario


def test_policy_parameters_are_those_each_policy_reads():
    reads = policy_reads()
    cppi = sorted(name for name, kinds in reads.items() if "cppi" in kinds)
    assert cppi == ["assets", "every", "floor", "max_risky", "multiplier", "trigger"]
    assert not any("static" in kinds for kinds in reads.values())
    assert reads["target_vol"] == {"vol_target"}


def test_only_changed_widgets_become_overrides_with_their_paths(baseline):
    form = Form(baseline)
    assert form.overrides() == {}
    form.widgets[GOV_LT].value = 0.6
    form.widgets["steps"].value = 48
    form.widgets["treasury.policy.kind"].value = "cppi"
    form.widgets["assets[ETH].external_depth_usd"].value = 1e8
    found = form.overrides()
    assert found == {GOV_LT: 0.6, "steps": 48, "treasury.policy.kind": "cppi",
                     "assets[ETH].external_depth_usd": 1e8}
    assert type(found["steps"]) is int
    # a policy parameter shows only while a policy that reads it is chosen
    assert form.cells["treasury.policy.floor"].visible
    assert not form.cells["treasury.policy.target_vol"].visible
    form.reset()
    assert form.overrides() == {}
    # the pure mapping: a whole-number float for an int field is an int, an equal value no
    # change, a cleared optional field None (unset)
    values = {**{s.path: s.value for s in form.fields}, "steps": 48.0, GOV_LT: 0.65,
              "assets[GOV].external_depth_usd": None}
    assert overrides(form.fields, values) == {"steps": 48, "assets[GOV].external_depth_usd": None}


def test_an_invalid_value_is_refused_with_the_message_of_daosim_load(baseline, tmp_path):
    changes = {GOV_LT: 0.95, "shocks[0].size": 1.5}
    with pytest.raises(ConfigError) as cli:
        daosim.load(BASELINE, **changes)
    with pytest.raises(ConfigError) as form_check:
        validate(read_scenario(BASELINE), changes, str(BASELINE))
    assert str(form_check.value) == str(cli.value)
    assert field_errors(form_fields(baseline), str(cli.value)) == {
        GOV_LT: "liquidation_threshold * (1 + liquidation_bonus) must be <= 1, got 1.045",
        "shocks[0].size": "must be < 1.0, got 1.5"}
    # through the view's Run button: the page's message and the field's own line
    board = Dashboard(tmp_path / "out")
    whatif = WhatIf(BASELINE, read_scenario(BASELINE), baseline, board)
    whatif.form.widgets[GOV_LT].value = 0.95
    whatif.form.widgets["shocks[0].size"].value = 1.5
    board.guard(whatif.submit)()
    assert board.message.visible and board.message.object == str(cli.value)
    assert whatif.form.errors[GOV_LT].visible
    assert whatif.form.errors["shocks[0].size"].object == "must be < 1.0, got 1.5"
    assert whatif.job is None and not (tmp_path / "out").exists()


def test_a_failed_run_shows_its_error_in_the_page(baseline, tmp_path):
    """A run whose process refuses its folder (under a file) ends as failed, with the
    child's own message in the page and the buttons free again."""
    board = Dashboard(tmp_path / "out")
    whatif = WhatIf(BASELINE, read_scenario(BASELINE), baseline, board)
    (tmp_path / "a-file").write_text("not a folder")
    whatif.label = "short-1"
    whatif.job = Job(daosim.load(BASELINE, **SHORT), tmp_path / "a-file" / "short-1")
    whatif.run_button.disabled = True
    deadline = time.monotonic() + 60
    while whatif.poll() == RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert board.message.visible
    assert board.message.object.startswith("short-1: the run failed: --out ")
    assert "a-file is a file" in board.message.object
    assert whatif.job is None and not whatif.run_button.disabled


def test_a_run_folder_scenario_opens_with_its_values(short_run):
    raw = scenario_dict(short_run.folder / "scenario.json")
    specs = {s.path: s for s in form_fields(parse_scenario(raw))}
    assert (specs["steps"].value, specs["shocks[2].step"].value) == (48, 20)
    assert specs["protocols[aave].reserves.ETH.supply_cap"].value is None  # null: no cap


def test_new_folders_never_overwrite(tmp_path):
    names = [next_folder(tmp_path, "baseline").name for _ in range(2)]
    names += [next_folder(tmp_path, "baseline", "base").name for _ in range(2)]
    assert names == ["baseline-1", "baseline-2", "baseline-base", "baseline-base-2"]


def test_summary_and_series_of_a_run_folder(short_run):
    data = series(short_run.folder)
    assert data["step"][0] == 0 and data["step"][-1] == 48
    assert data["bad_debt_usd:"][-1] == pytest.approx(short_run.summary["bad_debt_usd"])
    assert data["treasury_nav_usd"][0] == 88e6
    frame = headline_frame(short_run.summary)
    row = frame[frame["metric"] == "bad_debt_usd"].iloc[0]
    assert (row["unit"], row["value"]) == ("USD", shown(short_run.summary["bad_debt_usd"]))


def test_the_difference_table_judges_by_the_metric_catalogue():
    a = {"bad_debt_usd": 100.0, "treasury_nav_end_usd": 10.0, "liquidations": 3, "seed": 7,
         "treasury_runway_months_min": 5.0}
    b = {"bad_debt_usd": 40.0, "treasury_nav_end_usd": 5.0, "liquidations": 9, "seed": 7,
         "treasury_runway_months_min": 5.0}
    rows = difference_frame(a, b).set_index("metric")
    assert rows.loc["bad_debt_usd", ["B - A", "better", "verdict"]].tolist() == \
        ["-60", "lower", "better"]
    assert rows.loc["treasury_nav_end_usd", ["B - A", "verdict"]].tolist() == ["-5", "worse"]
    assert rows.loc["liquidations", ["B - A", "verdict"]].tolist() == ["6", ""]  # tradeoff
    assert rows.loc["treasury_runway_months_min", "verdict"] == "same"
    assert rows.loc["seed", "unit"] == "integer"
    assert "shortfall_peak_usd" not in rows.index  # in neither run


# -- in the browser -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(short_toml, tmp_path_factory):
    """The dashboard opened on the short scenario, one server for the module's tests."""
    from dashboard.serve import server
    from tests.dashboard.conftest import free_port

    out = tmp_path_factory.mktemp("dashboard-out")
    port = free_port()
    running = server(short_toml, out, port, threaded=True)
    yield f"http://localhost:{port}/", out
    running.stop()


def fill(page, path: str, value: object) -> None:
    box = page.page.locator(f".{slug(path)} input")
    box.fill(str(value))
    box.press("Tab")


def wait_for_run(page, folder: Path, seconds: float = 60) -> None:
    """Until the job has written `folder` and the page has opened it in a run explorer tab
    of its own, then back on the what-if tab."""
    deadline = time.monotonic() + seconds
    while not (folder / "summary.json").exists():
        assert time.monotonic() < deadline, f"{folder} was not written"
        time.sleep(0.2)
    page.page.get_by_text(f"Run: {folder.name}", exact=True).wait_for()
    page.page.get_by_text("What-if: short", exact=True).click()


def test_an_invalid_value_shows_the_field_error_in_the_page(served, page):
    url, _ = served
    page.page.goto(url)
    fill(page, GOV_LT, 0.95)
    page.page.click(".whatif-run button")
    alert = page.page.wait_for_selector(".daosim-message >> text=1 problem")
    expected = "liquidation_threshold * (1 + liquidation_bonus) must be <= 1, got 1.045"
    assert f"protocols[4].reserves.GOV.liquidation_threshold: {expected}" in alert.inner_text()
    beside = page.page.wait_for_selector(f".whatif-error >> text={expected}")
    assert beside.is_visible()
    beside.scroll_into_view_if_needed()
    page.shot("whatif-refused")


def test_a_short_what_if_runs_and_shows_its_summary_and_differences(served, page):
    url, out = served
    page.page.goto(url)
    page.page.click(".whatif-base button")
    wait_for_run(page, out / "short-base")
    base = daosim.open(out / "short-base").summary
    page.page.wait_for_selector(f".whatif-summary >> text={shown(base['bad_debt_usd'])}")
    fill(page, "shocks[0].size", 0.45)  # a deeper ETH crash
    page.page.click(".whatif-run button")
    wait_for_run(page, out / "short-1")
    what_if = daosim.open(out / "short-1")
    assert what_if.scenario.shocks[0].size == 0.45
    assert what_if.summary["bad_debt_usd"] > base["bad_debt_usd"]
    assert what_if.scenario.seed == base["seed"]
    page.page.wait_for_selector(".whatif-status >> text=short-1 done")
    differences = page.page.wait_for_selector(".whatif-differences >> text=bad_debt_usd")
    assert differences.is_visible()
    delta = what_if.summary["bad_debt_usd"] - base["bad_debt_usd"]
    page.page.wait_for_selector(f".whatif-differences >> text={shown(delta)}")
    page.page.wait_for_selector(".whatif-differences >> text=worse")
    page.page.locator(".whatif-differences").scroll_into_view_if_needed()
    page.shot("whatif-side-by-side")
