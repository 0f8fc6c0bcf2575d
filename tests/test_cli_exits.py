"""How every `daosim` command ends when it cannot finish: a refused input exits 2 with the
error's one line, Ctrl-C exits 130 with one line saying what survived - never a traceback."""

from pathlib import Path

import pytest

import experiments.compare
import experiments.sweep
import reports.build
import sim.runner
import sim.scenario
from cli.main import main
from tests.experiments.conftest import AMM, AMM_SWEEP

RESUME = "run the same command again to finish the rest"


def ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


def one_line_on_stderr(capsys) -> str:
    """The message `main` printed on stderr, checked to be one line (after the newline that
    ends the terminal's ^C line) and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("\n") and err.endswith("\n") and err.count("\n") == 2, repr(err)
    return err.strip()


def test_ctrl_c_during_run_exits_130_saying_the_outputs_are_as_they_were(
        monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sim.runner, "run_scenario", ctrl_c)
    out = tmp_path / "run"
    assert main(["run", str(AMM), "--steps", "6", "--out", str(out)]) == 130
    assert one_line_on_stderr(capsys) == (
        f"interrupted: {out}/ is as it was (a run writes all its outputs at its end); run the "
        "command again")
    assert not out.exists() or not any(out.iterdir())


def test_ctrl_c_during_run_names_the_default_output_folder(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sim.runner, "run_scenario", ctrl_c)
    assert main(["run", str(AMM)]) == 130
    assert one_line_on_stderr(capsys) == (
        "interrupted: out/amm_arbitrage/ is as it was (a run writes all its outputs at its "
        "end); run the command again")


def test_ctrl_c_in_the_report_after_a_finished_run_says_how_to_write_the_report_again(
        monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(reports.build, "build_report", ctrl_c)
    out = tmp_path / "run"
    assert main(["run", str(AMM), "--steps", "6", "--out", str(out)]) == 130
    assert one_line_on_stderr(capsys) == (
        f"interrupted: the report in {out}/ may be incomplete; "
        f"`daosim report {out}` writes it again")
    assert (out / "summary.json").exists()  # the run's own outputs are complete


def test_ctrl_c_during_report_exits_130_with_the_command_that_writes_it_again(
        monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(reports.build, "build_report", ctrl_c)
    assert main(["report", str(tmp_path)]) == 130
    assert one_line_on_stderr(capsys) == (
        f"interrupted: the report in {tmp_path}/ may be incomplete; "
        f"`daosim report {tmp_path}` writes it again")
    copy = tmp_path / "copy"
    assert main(["report", str(tmp_path), "--out", str(copy)]) == 130
    assert one_line_on_stderr(capsys) == (
        f"interrupted: the report in {copy}/ may be incomplete; "
        f"`daosim report {tmp_path} --out {copy}` writes it again")


def test_ctrl_c_during_sweep_exits_130_keeping_the_finished_runs(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(experiments.sweep, "run_sweep", ctrl_c)
    path = tmp_path / "tiny.toml"
    path.write_text(AMM_SWEEP)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out), "--no-progress"]) == 130
    assert one_line_on_stderr(capsys) == (
        f"interrupted: finished runs are kept in {out}/; {RESUME}")


def test_ctrl_c_during_compare_exits_130_keeping_the_finished_runs(
        monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(experiments.compare, "compare", ctrl_c)
    base, proposal = Path("base.toml"), Path("fee.toml")
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(base), str(proposal), "--no-progress"]) == 130
    assert one_line_on_stderr(capsys) == (
        f"interrupted: finished runs are kept in out/compare/base-vs-fee/; {RESUME}")


@pytest.mark.parametrize("argv", [["check", str(AMM)], ["run", str(AMM)]])
def test_ctrl_c_before_anything_is_written_just_says_interrupted(monkeypatch, argv, capsys):
    monkeypatch.setattr(sim.scenario, "load_scenario", ctrl_c)
    assert main(argv) == 130
    assert one_line_on_stderr(capsys) == "interrupted"


def test_a_refused_report_folder_exits_2_with_the_reason(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"daosim: report: {tmp_path} holds no results of `daosim run`, `daosim sweep` "
        "or `daosim compare`\n")
    assert captured.out == ""


def test_a_user_policy_that_raises_exits_2_naming_the_policy_and_the_step(tmp_path, capsys):
    baseline = AMM.parent / "baseline.toml"
    policy = "tests.agents.test_allocator.FailingPolicy"  # raises KeyError at step 2
    argv = ["run", str(baseline), "--steps", "3", "--set", "shocks=[]",
            "--set", f"treasury.policy.kind={policy}", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"daosim: treasury.policy '{policy}' at step 2: decide raised KeyError: 'USDC'\n")
    assert captured.out == ""


def test_a_closed_pipe_ends_the_command_quietly():
    # `daosim schema | head -1` once head has left: the pipe's reader is gone before the
    # first write; no traceback, the shell's SIGPIPE code 141
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "cli", "schema"], cwd=root, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(root)})
    finally:
        os.close(write)
    assert done.returncode == 141
    assert done.stderr == ""
