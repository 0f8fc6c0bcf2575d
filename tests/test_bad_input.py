"""Bad input through the command line: every refusal is exit 2 with one message naming the
field or the file, never a traceback, and nothing is left half-written (issue 14)."""

import os
import stat
from pathlib import Path

import pytest

from cli.main import main
from sim.folders import locked

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "experiments" / "scenarios" / "baseline.toml")
AMM = str(ROOT / "experiments" / "scenarios" / "amm_arbitrage.toml")
PROPOSAL = str(ROOT / "experiments" / "proposals" / "gov_lt_50.toml")
SMOKE = str(ROOT / "experiments" / "sweeps" / "smoke.toml")


def refused(argv: list[str], capsys) -> str:
    """Run `daosim argv`, expect exit 2, return its one message."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("daosim: "), err
    return err.removeprefix("daosim: ").strip()


# -- files that are not scenario files ----------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\x00\x01binary", "not UTF-8 text (byte 0)"),
    ('name = "x"\n'.encode("utf-16"), "not UTF-8 text (byte 0)"),
])
def test_undecodable_files_get_a_message(tmp_path, capsys, content, message):
    path = tmp_path / "s.toml"
    path.write_bytes(content)
    for argv in (["check", str(path)], ["run", str(path)], ["sweep", str(path)],
                 ["compare", BASELINE, str(path)]):
        assert message in refused(argv, capsys)


def test_a_folder_given_as_a_file(tmp_path, capsys):
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    assert refused(["check", str(folder)], capsys) == (
        f"{folder}: is a folder, expected a scenario TOML file")


# -- check refuses what run cannot do ------------------------------------------------------

@pytest.mark.parametrize("override, line", [
    ("step_hours=500", "protocols[5].epoch_days: an epoch must last at least one step "
                       "(step_hours = 500), got 7 days"),
    ('protocols[1].name="univ2-GOV-ETH"', "protocols[1].name: duplicate protocol name "
                                          "'univ2-GOV-ETH'"),
    ("assets[ETH].sigma=true", "assets[0].sigma: must be a number, got True"),
    ("assets[ETH].price=inf", "assets[0].price: must be a finite number, got inf"),
    ("assets[ETH].price=1e-300", "assets[0].price: must be >= 1e-09, got 1e-300"),
    ("assets[ETH].price=1e308", "assets[0].price: must be <= 1000000000.0, got 1e+308"),
    ("protocols[0].tvl_usd=inf", "protocols[0].tvl_usd: must be a finite number, got inf"),
    ("treasury.holdings.GOV=inf", "treasury.holdings.GOV: must be a finite number, got inf"),
    ("treasury.holdings.GOV=1e300", "treasury.holdings.GOV: must be <= 1000000000000000.0, "
                                    "got 1e+300"),
    ("agents.borrowers[0].size_usd_median=1e15", "agents.borrowers[0].size_usd_median: must be "
                                                 "<= 10000000000000.0, got 1000000000000000.0"),
    ("seed=9223372036854775808", "seed: must be <= 9223372036854775807, got "
                                 "9223372036854775808"),
    ("market.correlation=1.5", "market.correlation: must be a number in [-1, 1] or a matrix "
                               "(a list of rows of numbers), got 1.5"),
])
def test_check_refuses_with_one_line_naming_the_field(capsys, override, line):
    assert refused(["check", BASELINE, "--set", override], capsys).splitlines() == [
        f"{BASELINE}: 1 problem:", f"  {line}"]


def test_check_builds_the_world_so_a_book_the_market_cannot_lend_is_refused(capsys):
    message = refused(["check", BASELINE, "--set", "agents.borrowers[0].size_usd_median=1e9"],
                      capsys)
    assert message.startswith(f"{BASELINE}: agents.borrowers[0]: cannot open its positions at "
                              "step 0: aave holds 80000000.0 USDC in cash, cannot pay out ")
    assert "np.float64" not in message


def test_a_proposal_is_checked_against_its_base(tmp_path, capsys):
    assert main(["check", PROPOSAL, "--base", BASELINE]) == 0
    assert "valid proposal on" in capsys.readouterr().out
    assert refused(["check", PROPOSAL], capsys) == (
        f"{PROPOSAL}: a proposal (changes to a baseline), not a whole scenario: check it with "
        f"`daosim check {PROPOSAL} --base BASELINE.toml`, run it with `daosim compare "
        f"BASELINE.toml {PROPOSAL}`")
    mixed = tmp_path / "mixed.toml"
    mixed.write_text('steps = 48\n[overrides]\n"treasury.holdings.GOV" = 1e6\n')
    assert refused(["check", str(mixed), "--base", BASELINE], capsys).startswith(
        f"{mixed}: steps: a proposal changes its baseline through [overrides]")
    assert refused(["compare", BASELINE, str(mixed)], capsys).startswith(f"{mixed}: steps: ")


# -- compare ---------------------------------------------------------------------------------

def test_compare_refuses_a_negative_seed_before_any_run(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert refused(["compare", BASELINE, PROPOSAL, "--seed", "-5", "--out", str(out)],
                   capsys) == "--seed: must be >= 0, got -5"
    assert not out.exists()


# -- output folders ---------------------------------------------------------------------------

def bad_outs(tmp_path: Path) -> list[tuple[str, str]]:
    afile = tmp_path / "afile"
    afile.write_text("mine")
    return [(str(afile), f"{afile}: is a file, not a folder; choose a folder"),
            (str(afile / "sub"), f"{afile / 'sub'}: {afile} is a file, so no folder can be made "
                                 "under it"),
            ("/dev/null", "/dev/null: is a file, not a folder; choose a folder")]


def test_run_refuses_a_bad_out_before_running(tmp_path, capsys):
    for out, message in bad_outs(tmp_path):
        assert refused(["run", AMM, "--steps", "2", "--out", out], capsys) == f"--out {message}"
    assert (tmp_path / "afile").read_text() == "mine"
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep me")
    assert "holds other files (not a run's outputs)" in refused(
        ["run", AMM, "--steps", "2", "--out", str(theirs)], capsys)
    assert (theirs / "notes.txt").read_text() == "keep me"


def test_sweep_compare_and_report_refuse_a_bad_out(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", AMM, "--steps", "2", "--out", str(run), "--no-report"]) == 0
    for out, message in bad_outs(tmp_path):
        for argv in (["sweep", SMOKE], ["compare", BASELINE, PROPOSAL], ["report", str(run)]):
            assert refused([*argv, "--out", out], capsys) == f"--out {message}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_an_unwritable_out_is_refused(tmp_path, capsys):
    locked_dir = tmp_path / "ro"
    locked_dir.mkdir(mode=0o500)
    assert refused(["run", AMM, "--steps", "2", "--out", str(locked_dir / "x")], capsys) == (
        f"--out {locked_dir / 'x'}: cannot make this folder (permission denied)")


def test_a_failed_write_leaves_the_earlier_outputs_and_no_half_folder(tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "run"
    assert main(["run", AMM, "--steps", "2", "--out", str(out), "--no-report"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import sim.outputs

    def broken(*args, **kwargs):
        raise OverflowError("Python int too large to convert to C long")

    monkeypatch.setattr(sim.outputs, "write_graph", broken)
    with pytest.raises(OverflowError):
        main(["run", AMM, "--steps", "3", "--out", str(out), "--no-report"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no hidden stage left


def test_outputs_respect_the_umask(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        out = tmp_path / "run"
        assert main(["run", AMM, "--steps", "2", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*")}
    assert modes["summary.json"] == modes["report.html"] == 0o644, modes
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_a_second_sweep_into_a_locked_folder_says_who_holds_it(tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    with locked(out):
        message = refused(["sweep", SMOKE, "--out", str(out), "--no-progress"], capsys)
    assert message == (f"--out {out}: daosim (pid {os.getpid()}) is writing into this folder; "
                       "wait for it to finish, or choose another --out")
    assert sorted(p.name for p in out.iterdir()) == [".lock"]  # no plan, no runs


def test_workers_0_is_refused_before_the_folder_is_made(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert refused(["sweep", SMOKE, "--workers", "0", "--out", str(out)], capsys) == (
        "--workers: must be >= 1, got 0")
    assert not out.exists()


# -- damaged results given to report -----------------------------------------------------------

@pytest.mark.parametrize("name, content", [
    ("timeseries.parquet", b"PAR1 not really"),
    ("summary.json", b'{"truncated": '),
    ("events.parquet", b""),
])
def test_report_names_a_damaged_file(tmp_path, capsys, name, content):
    out = tmp_path / "run"
    assert main(["run", AMM, "--steps", "2", "--out", str(out), "--no-report"]) == 0
    (out / name).write_bytes(content)
    message = refused(["report", str(out)], capsys)
    assert message.startswith(f"report: cannot read {out / name}: ")
    assert message.endswith("(the file is damaged or not the one this command wrote; write "
                            "the results again)")
