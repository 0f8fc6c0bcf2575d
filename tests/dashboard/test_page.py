"""The page itself: it opens with nothing from the network, and refuses a bad target in the
page (a folder that is no daosim output) with the same message as the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.app import target_kind
from protocols.errors import ConfigError


def test_the_empty_page_loads_everything_from_this_machine(serve, page):
    page.page.goto(serve())
    page.page.wait_for_selector("text=Open a run, sweep or comparison folder")
    page.shot("empty")
    assert len(page.requested) > 5  # scripts and styles, all served by the app itself


def test_a_folder_that_is_not_an_output_is_refused_in_the_page(serve, page, tmp_path):
    stranger = tmp_path / "holiday-photos"
    stranger.mkdir()
    (stranger / "beach.jpg").write_bytes(b"\xff\xd8")
    page.page.goto(serve())
    page.page.fill("input[placeholder='out/baseline']", str(stranger))
    page.page.click("button:has-text('Open')")
    alert = page.page.wait_for_selector(".daosim-message >> text=holds no results")
    assert "daosim run" in alert.inner_text()
    page.shot("not-an-output")


@pytest.mark.parametrize("name, made, message", [
    ("missing", None, "does not exist"),
    ("notes.txt", "file", "neither a scenario file"),
    ("empty", "dir", "holds no results"),
])
def test_target_kind_names_what_the_target_is_not(tmp_path, name, made, message):
    path = tmp_path / name
    if made == "file":
        path.write_text("hello")
    elif made == "dir":
        path.mkdir()
    with pytest.raises(ConfigError, match=message):
        target_kind(path)


def test_a_scenario_that_fails_validation_is_refused_in_the_page(tmp_path):
    from daosim import load
    from dashboard.app import Dashboard

    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "{}"\nsteps = -5\n'.format(
        Path(__file__).resolve().parents[2] / "experiments" / "scenarios" / "baseline.toml"))
    with pytest.raises(ConfigError) as refused:
        load(bad)
    board = Dashboard(tmp_path / "out")
    board.guard(board.open)(bad)
    assert board.message.visible
    assert board.message.object == str(refused.value)  # the command line's message, as is
    assert "steps" in board.message.object
    assert len(board.tabs) == 0
