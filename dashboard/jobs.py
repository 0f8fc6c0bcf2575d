"""Runs started from the page, each in its own process so the page stays live: a `Job`
reports its progress (steps done) and, at its end, the run folder or the one-line reason it
failed. The run is the command line's (`daosim.run` with `out`), so its folder is a run
folder like any other, and the same scenario and seed give the same results."""

from __future__ import annotations

import multiprocessing as mp
import traceback
from pathlib import Path
from typing import Any

from protocols.errors import DaosimError
from spec import Scenario

#: "spawn", not "fork": the server's threads (Tornado's loop) must not be copied mid-flight
CONTEXT = mp.get_context("spawn")
RUNNING, DONE, FAILED = "running", "done", "failed"


class Job:
    """One scenario run into `folder`, in a background process."""

    def __init__(self, scenario: Scenario, folder: Path, data_dir: str | None = None) -> None:
        self.folder = Path(folder)
        self.horizon = int(scenario.steps)
        self._done = CONTEXT.Value("i", 0)
        self._outcome = CONTEXT.Queue(maxsize=1)
        self._process = CONTEXT.Process(
            target=_work, args=(scenario.model_dump(mode="json"), str(self.folder), data_dir,
                                self._done, self._outcome), daemon=True)
        self.state = RUNNING
        self.error: str | None = None
        self._process.start()

    @property
    def progress(self) -> float:
        """The share of the horizon simulated (1.0 once the folder is written)."""
        return 1.0 if self.state == DONE else self._done.value / max(self.horizon, 1)

    def poll(self) -> str:
        """The job's state, after collecting its outcome if it has one."""
        if self.state == RUNNING and not self._outcome.empty():
            kind, message = self._outcome.get()
            self.state, self.error = kind, message
            self._process.join(timeout=5)
        elif self.state == RUNNING and not self._process.is_alive():
            self.state = FAILED
            self.error = f"the run's process ended unexpectedly (exit code " \
                         f"{self._process.exitcode})"
        return self.state

    def cancel(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        if self.state == RUNNING:
            self.state, self.error = FAILED, "cancelled"


def _work(raw: dict[str, Any], folder: str, data_dir: str | None, done: Any,
          outcome: Any) -> None:
    """The child process: validate, run with progress, write the folder, say how it went."""
    try:
        from daosim.api import run
        from sim.scenario import parse_scenario

        def progress(steps: int, _horizon: int) -> None:
            done.value = steps

        run(parse_scenario(raw, source="what-if"), out=folder, data_dir=data_dir,
            progress=progress)
        outcome.put((DONE, None))
    except DaosimError as exc:
        outcome.put((FAILED, str(exc)))
    except Exception as exc:  # noqa: BLE001 - the page shows it instead of a dead process
        traceback.print_exc()
        outcome.put((FAILED, f"internal error ({type(exc).__name__}: {exc})"))
