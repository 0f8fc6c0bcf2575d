"""Pool workers exit when their parent dies (issue 14, item 18): a `kill -9` of a sweep
run away from a terminal (no Ctrl-C reaches the group) left both workers blocked on the
pool's call queue, idle for good. Each test starts a real parent process, kills it with
SIGKILL and watches its worker processes go."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.experiments.conftest import AMM_SWEEP

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX re-parenting")

#: a parent that builds the project's pool, keeps one worker sleeping and one idle, prints
#: their pids and waits.
PARENT = """
import multiprocessing, sys, time
from experiments import executors
pool = executors._pool(2, multiprocessing.get_context(sys.argv[1]))
pool.submit(time.sleep, 60)
pool.submit(abs, 0).result()
while len(pool._processes) < 2:
    time.sleep(0.01)
print(*pool._processes, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    """A running process (an exited orphan may linger as a zombie where PID 1 does not
    reap it: that counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def survivors(pids: list[int], within_s: float) -> list[int]:
    deadline = time.monotonic() + within_s
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill_parent(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=5)


def clean_up(proc: subprocess.Popen) -> None:
    """Kill what a failed test leaves: the parent's session (it leads its own group)."""
    proc.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_pool_workers_exit_within_seconds_of_a_kill_9_of_their_parent(method):
    proc = subprocess.Popen([sys.executable, "-c", PARENT, method], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(alive(p) for p in workers)
        kill_parent(proc)
        assert survivors(workers, within_s=3.0) == []
    finally:
        clean_up(proc)


def test_a_killed_daosim_sweep_leaves_no_worker_behind(write, tmp_path):
    path = write("long.toml", AMM_SWEEP.replace("steps = 48", "steps = 2000"))
    proc = subprocess.Popen([sys.executable, "-m", "cli", "sweep", str(path), "--workers", "2",
                             "--out", str(tmp_path / "out"), "--no-progress"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 30
        while len(parent.children(recursive=True)) < 2:
            assert time.monotonic() < deadline, "the sweep started no workers"
            time.sleep(0.05)
        time.sleep(0.5)  # both at work on a run
        pids = [w.pid for w in parent.children(recursive=True)]
        kill_parent(proc)
        assert survivors(pids, within_s=3.0) == []
    finally:
        clean_up(proc)
