"""`daosim dashboard` on the command line: what it refuses before serving (a target that is
no daosim output, a port in use, a missing extra) exits 2 with one line naming the problem,
and a good target is served on this machine."""

from __future__ import annotations

import builtins
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from cli.main import main
from dashboard.serve import wait_listening
from tests.dashboard.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "experiments" / "scenarios" / "baseline.toml"


def refused(capsys, *argv: str) -> str:
    assert main(["dashboard", *argv, "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err.strip()


def test_a_port_in_use_is_refused_naming_the_port(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert refused(capsys, str(BASELINE), "--port", str(port)) == (
            f"daosim: --port {port}: already in use by another program; choose another, "
            f"e.g. --port {port + 1}")


def test_a_port_out_of_range_is_refused(capsys):
    assert refused(capsys, "--port", "70000") == "daosim: --port 70000: not a port number " \
                                                 "(1-65535)"


def test_a_folder_that_is_no_output_is_refused_before_serving(tmp_path, capsys):
    (tmp_path / "notes.md").write_text("hello")
    assert refused(capsys, str(tmp_path), "--port", str(free_port())) == (
        f"daosim: dashboard: {tmp_path} holds no results of `daosim run`, `daosim sweep` or "
        "`daosim compare`")


def test_an_unfinished_sweep_folder_says_how_to_finish_it(tmp_path, capsys):
    (tmp_path / "plan.json").write_text('{"kind": "sweep"}')
    message = refused(capsys, str(tmp_path), "--port", str(free_port()))
    assert "looks like a sweep folder but lacks" in message
    assert "run the same `daosim sweep` again" in message


def test_without_the_extra_it_says_how_to_install_it(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_panel(name, *args, **kwargs):
        if name == "panel" or name.startswith("panel."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_panel)
    assert refused(capsys, str(BASELINE), "--port", str(free_port())) == (
        "daosim: dashboard: needs the dashboard extra: pip install 'daosim[dashboard]'")


def test_the_command_serves_the_page_on_localhost(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "dashboard", str(BASELINE), "--port", str(port),
         "--no-browser", "--out", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        wait_listening(port, seconds=60)
        with urllib.request.urlopen(f"http://localhost:{port}/", timeout=30) as answer:
            html = answer.read().decode()
        assert answer.status == 200
        assert "<title>daosim" in html
        assert "https://" not in html.replace("https://github.com", "")
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0
    assert f"dashboard: http://localhost:{port}/" in output
    assert output.rstrip().endswith("dashboard: stopped")
    assert "Traceback" not in output


@pytest.mark.parametrize("argv", [["--help"]])
def test_help_names_the_extra(argv, capsys):
    with pytest.raises(SystemExit):
        main(["dashboard", *argv])
    assert "daosim[dashboard]" in capsys.readouterr().out
