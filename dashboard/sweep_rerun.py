"""Run one run of a sweep again, alone, into a run folder the run explorer opens.

The scenario is rebuilt as the sweep built it: the sweep file read again
(`experiments.sweepfile.load_sweep`), its tasks planned again (`experiments.sweep.plan`) and
the task's scenario made by the worker's own `experiments.worker.task_scenario` - nothing is
reimplemented here. Two checks make "the same run" a fact rather than a hope: the plan's
fingerprint must equal the one in the folder's plan.json (the sweep file and its base
scenario have not changed since), and the rebuilt scenario's sha256 must equal the run's
recorded `scenario_sha256`. Same scenario and seed, so the re-run's summary is the row's.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn

from daosim.results import Sweep
from dashboard.jobs import DONE, FAILED, Job
from protocols.errors import ConfigError
from sim import provenance
from spec import Scenario

#: how often the page asks the job how far it is (ms)
POLL_MS = 250


def rerun_scenario(sweep: Sweep, run_key: str) -> Scenario:
    """The exact scenario (with its seed) the sweep ran as `run_key`; a `ConfigError` when
    the sweep file is gone or changed, or the rebuilt scenario is not the recorded one."""
    from experiments.sweep import fingerprint, plan
    from experiments.sweepfile import load_sweep
    from experiments.worker import task_scenario

    about = sweep.about
    source = Path(str(about.get("source", "")))
    if not about.get("source") or not source.is_file():
        raise ConfigError(f"re-run: the sweep file {source} (plan.json's `source`) is not "
                          "there any more; the run cannot be rebuilt without it")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short sobol design's warning: said at sweep time
        tasks = plan(load_sweep(source))
    if fingerprint(tasks) != about.get("fingerprint"):
        raise ConfigError(f"re-run: {source} or its base scenario changed since "
                          f"{sweep.folder} was made (the plan's fingerprint differs); the "
                          "stored runs are no longer what it would run")
    task = next((t for t in tasks if t.key == run_key), None)
    if task is None:
        raise ConfigError(f"re-run: the sweep has no run {run_key!r}")
    scenario = task_scenario(task)
    row = sweep.runs[sweep.runs["run_key"] == run_key]
    recorded = row["scenario_sha256"].iloc[0] if "scenario_sha256" in row and len(row) else None
    if isinstance(recorded, str) and recorded != provenance.scenario_sha256(scenario):
        raise ConfigError(f"re-run: the rebuilt scenario of {run_key} is not the one the "
                          "sweep recorded (scenario_sha256 differs)")
    return scenario


def rerun_folder(out: Path, sweep_name: str, run_key: str) -> Path:
    """Where a re-run goes: OUT/reruns/SWEEP-KEY (a run folder: a later re-run replaces
    it)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{sweep_name}-{run_key}")
    return Path(out) / "reruns" / safe


class ReRun:
    """A "re-run" button, a progress bar and a status line; the run goes to a `Job`, and
    `opened(folder)` is called when its folder is written."""

    def __init__(self, opened: Callable[[Path], None], guard: Callable[..., Any]) -> None:
        self.opened = opened
        self.button = pn.widgets.Button(label="Re-run the selected run in the run explorer",
                                        color="primary", disabled=True,
                                        css_classes=["daosim-rerun"])
        self.progress = pn.indicators.Progress(value=0, max=100, visible=False, width=300)
        self.status = pn.pane.Markdown("", css_classes=["daosim-rerun-status"])
        self.job: Job | None = None
        self._poller: Any = None
        self._guard = guard
        self.panel = pn.Row(self.button, self.progress, self.status)

    def start(self, scenario: Scenario, folder: Path) -> Job:
        """Start the run (one at a time) and poll it until it ends."""
        if self.job is not None and self.job.state == "running":
            raise ConfigError("re-run: a run is still going; wait for it to finish")
        self.job = Job(scenario, folder)
        self.button.disabled = True
        self.progress.value, self.progress.visible = 0, True
        self.status.object = f"running {scenario.steps} steps into `{folder}` ..."
        self._poller = pn.state.add_periodic_callback(self._guard(self.poll), period=POLL_MS)
        return self.job

    def poll(self) -> None:
        job = self.job
        if job is None:
            return
        state = job.poll()
        self.progress.value = int(round(100 * job.progress))
        if state == "running":
            return
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self.button.disabled = False
        self.progress.visible = False
        if state == FAILED:
            raise ConfigError(f"re-run failed: {job.error}")
        if state == DONE:
            self.status.object = f"done: `{job.folder}`"
            self.opened(job.folder)
