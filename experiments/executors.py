"""Where runs execute: in this process, a local process pool, or a Dask cluster.

All three call `experiments.worker.execute` on the same tasks and hand each outcome to
the caller's `on_done` in the parent (which writes it), so results do not depend on the
executor, and a cluster's workers need no access to the results folder. Submission is
windowed (a few tasks per worker in flight): an interrupt loses at most those.

- `workers=1`, no scheduler: in-process, no pickling, simplest to debug;
- `workers=N`: `concurrent.futures.ProcessPoolExecutor` with an explicit start method
  (Mesa switches the default to spawn on import; see `_context`). A worker that dies
  (killed, out of memory) breaks the pool: the pool is rebuilt and the runs that were in
  flight are retried once, then recorded as failed. A worker whose parent dies exits
  within `PARENT_CHECK_S` (see `_exit_with_parent`);
- `scheduler="local"`: a Dask `LocalCluster` of N single-threaded worker processes;
  `scheduler="tcp://host:port"`: an existing Dask cluster (its workers need `daosim`
  installed). Dask retries runs on lost workers itself and reports `KilledWorker` after.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess
from typing import Any

from experiments.worker import RunOutcome, RunTask, execute
from protocols.errors import ConfigError

OnDone = Callable[[RunTask, RunOutcome], None]
#: tasks in flight per worker: enough to keep workers busy, few enough to lose on Ctrl-C.
WINDOW_PER_WORKER = 2
#: seconds between a pool worker's checks that its parent is alive.
PARENT_CHECK_S = 0.25


def run_tasks(tasks: Iterable[RunTask], on_done: OnDone, *, workers: int = 1,
              scheduler: str | None = None, dask_processes: bool = True) -> None:
    """Execute every task, calling `on_done(task, outcome)` in this process as each
    finishes (in completion order)."""
    if workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {workers}")
    if scheduler is not None:
        _run_dask(tasks, on_done, workers, scheduler, dask_processes)
    elif workers == 1:
        for task in tasks:
            on_done(task, execute(task))
    else:
        _run_pool(tasks, on_done, workers)


def _context() -> Any:
    """Fork on Linux when this process has no other threads: workers inherit the imported
    simulator and start at once (importing Mesa, SciPy and pandas costs seconds per
    worker). Otherwise forkserver (preloading the simulator once) or spawn."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform == "linux" and "fork" in methods and threading.active_count() == 1:
        import sim.runner  # noqa: F401 - imported before forking, so children have it

        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["experiments.worker", "sim.runner"])
        return ctx
    return multiprocessing.get_context("spawn")


def _pool(workers: int, context: Any = None) -> ProcessPoolExecutor:
    """The local pool: `workers` processes started by `context` (default `_context()`)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=context or _context(),
                               initializer=_init_worker)


def _init_worker() -> None:
    """Workers leave Ctrl-C to the parent, which stops submitting and shuts the pool, and
    exit when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent,
                     args=(os.getppid(), multiprocessing.parent_process()), daemon=True,
                     name="exit-with-parent").start()


def _exit_with_parent(ppid: int, parent: BaseProcess | None) -> None:
    """Exit this worker once the process that started the pool is gone. A worker waits on
    the pool's call queue, whose pipe it holds open itself, so it never sees the parent's
    end close: after a `kill -9` of the parent it waited idle for good. Two signs, as
    start methods differ: an orphan is re-parented (to init or a subreaper), which changes
    its parent pid (fork, spawn); a forkserver worker's parent pid is the server's, which
    outlives the sweep while its workers live, so the worker also watches multiprocessing's
    parent sentinel, a pipe end that only the parent holds open (spawn, forkserver).
    Polling works on every POSIX system, unlike Linux's PR_SET_PDEATHSIG, which also fires
    when the thread that started the worker ends."""
    while os.getppid() == ppid and (parent is None or parent.is_alive()):
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _run_pool(tasks: Iterable[RunTask], on_done: OnDone, workers: int) -> None:
    """Windowed submission to a process pool. When a worker dies, every run in flight is
    a suspect: each is retried alone in a fresh pool, so a run that kills its worker
    again is the culprit and is recorded as failed, while the innocent ones finish."""
    pending: Iterator[RunTask] = iter(tasks)
    requeued: list[RunTask] = []  # never started: submission hit a broken pool
    suspects: list[RunTask] = []  # were running when a worker died
    window = workers * WINDOW_PER_WORKER
    while True:
        pool = _pool(workers)
        in_flight: dict[Future[RunOutcome], RunTask] = {}
        isolating = broken = False  # isolating: one suspect runs alone
        try:
            while True:
                while not broken and not isolating and len(in_flight) < window:
                    alone = bool(suspects)
                    if alone and in_flight:
                        break  # a suspect runs alone: let the others finish first
                    task = (suspects.pop(0) if alone
                            else requeued.pop(0) if requeued else next(pending, None))
                    if task is None:
                        break
                    try:
                        future = pool.submit(execute, task)
                    except BrokenProcessPool:
                        broken = True
                        (suspects if alone else requeued).insert(0, task)
                        break
                    isolating = alone
                    in_flight[future] = task
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    task = in_flight.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if isolating:
                            outcome = RunOutcome(task.key, None, "WorkerDied: its worker "
                                                 "process died twice while running it "
                                                 "(killed, or out of memory)", 0.0)
                        else:
                            suspects.append(task)
                            continue
                    on_done(task, outcome)
                isolating = isolating and bool(in_flight)
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)
        if not broken:
            return
def _run_dask(tasks: Iterable[RunTask], on_done: OnDone, workers: int, scheduler: str,
              processes: bool) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ConfigError("--scheduler: needs `dask[distributed]` installed") from None
    cluster = None
    if scheduler == "local":
        import dask

        # Dask workers sample the running task's stack every 10 ms for the dashboard's
        # profile (this cluster has no dashboard): it took 15-20 % of a baseline run's
        # time and grew each worker's memory through the sweep (benchmarks.sweep_bench).
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                   processes=processes, dashboard_address=None)
        client = Client(cluster)
    elif scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(f"--scheduler: cannot reach {scheduler}: {exc}") from None
    else:
        raise ConfigError(f"--scheduler: expected 'local' or tcp://host:port, got {scheduler!r}")
    try:
        pending = iter(tasks)
        window = max(workers, _dask_threads(client)) * WINDOW_PER_WORKER
        by_future: dict[Any, RunTask] = {}
        completed = as_completed()
        for task in _take(pending, window):
            future = client.submit(execute, task, pure=False)
            by_future[future] = task
            completed.add(future)
        for future in completed:
            task = by_future.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: record, go on
                outcome = RunOutcome(task.key, None, f"{type(exc).__name__}: {exc}", 0.0)
            future.release()
            on_done(task, outcome)
            for nxt in _take(pending, 1):
                new = client.submit(execute, nxt, pure=False)
                by_future[new] = nxt
                completed.add(new)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_threads(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - only sizes the window
        return 1


def _take(items: Iterator[RunTask], n: int) -> list[RunTask]:
    out: list[RunTask] = []
    for _ in range(n):
        item = next(items, None)
        if item is None:
            break
        out.append(item)
    return out
