"""The what-if view of a scenario: a form of the fields that matter most (`whatif_form`),
"Run" validating exactly as `daosim run --set` / `daosim check` do and running in a background
process (`dashboard.jobs.Job`) with a progress bar, the run's headline summary, and two of the
runs made side by side (`side_by_side`).

A refusal is the command line's field-named message, in the page's message line and under
the widget of each field it names - never a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import panel as pn

from dashboard.jobs import DONE, FAILED, RUNNING, Job
from dashboard.side_by_side import SideBySide, headline_frame, summary_of
from dashboard.whatif_form import SECTIONS, FieldSpec, field_errors, form_fields, overrides
from protocols.errors import ConfigError
from sim.runner import check_buildable
from sim.scenario import apply_overrides, parse_scenario, read_scenario
from spec import Scenario

#: how often the page asks a running job how far it is (ms)
POLL_MS = 250
#: sections shown folded at first (long lists a what-if rarely starts from)
FOLDED = ("Market depth",)


def scenario_dict(path: Path) -> dict[str, Any]:
    """The raw scenario of a .toml file (with `extends` resolved) or of a run folder's
    scenario.json."""
    if path.suffix.lower() != ".json":
        return read_scenario(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the scenario: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: not a scenario (a JSON object of its fields)")
    return raw


def validate(raw: Mapping[str, Any], changes: Mapping[str, Any], source: str,
             data_dir: str | None = None) -> Scenario:
    """The scenario with `changes`, checked as `daosim check SOURCE --set ...` checks it:
    the overrides applied and validated as `daosim.load` does (the same message, word for
    word), then its world built at step 0 (`sim.runner.check_buildable`)."""
    scenario = parse_scenario(apply_overrides(raw, changes) if changes else raw, source=source)
    check_buildable(scenario, data_dir=data_dir, source=source)
    return scenario


def next_folder(out: Path, stem: str, tag: str = "") -> Path:
    """A new folder `out/STEM-N` (or `out/STEM-base`, `-base-2`, ...), made now so that no
    other run takes it."""
    out.mkdir(parents=True, exist_ok=True)
    for n in range(1, 100_000):
        name = f"{stem}-{tag}" if tag and n == 1 else f"{stem}-{tag}-{n}" if tag \
            else f"{stem}-{n}"
        try:
            (out / name).mkdir()
        except FileExistsError:
            continue
        return out / name
    raise ConfigError(f"dashboard: {out} holds too many runs of {stem}; clear some out")


def slug(path: str) -> str:
    """A CSS class for the widget of a field path (tests and styles find it by that)."""
    return "whatif-" + re.sub(r"[^A-Za-z0-9_-]+", "-", path).strip("-")


def widget(spec: FieldSpec) -> Any:
    """The widget of a field: its type's input, the scenario's value, bounds and doc as
    its tooltip."""
    common = {"label": spec.name, "description": spec.help(), "width": 175,
              "css_classes": [slug(spec.path)]}
    if spec.kind == "choice":
        return pn.widgets.Select(options=list(spec.choices), value=spec.value, **common)
    if spec.kind == "bool":
        return pn.widgets.Checkbox(value=bool(spec.value), align="end", **{
            k: v for k, v in common.items() if k != "description"})
    placeholder = "none" if spec.optional else spec.bounds_text()
    if spec.kind == "int":
        return pn.widgets.IntInput(value=spec.value, placeholder=placeholder, **common)
    magnitude = abs(spec.value) if spec.value else 1.0
    step = 0.01 if magnitude <= 1 else 10 ** max(0, len(str(int(magnitude))) - 2)
    return pn.widgets.FloatInput(value=spec.value, step=step, placeholder=placeholder,
                                 **common)


class Form:
    """The form's widgets by field path, each with an error line under it, in one card per
    section; a policy parameter is shown only while a policy that reads it is chosen."""

    def __init__(self, scenario: Scenario) -> None:
        self.fields = form_fields(scenario)
        self.widgets = {spec.path: widget(spec) for spec in self.fields}
        self.errors = {spec.path: pn.pane.Markdown("", visible=False, width=175, margin=(0, 5),
                                                   css_classes=["whatif-error"],
                                                   styles={"color": "#b00020"})
                       for spec in self.fields}
        self.cells = {spec.path: pn.Column(self.widgets[spec.path], self.errors[spec.path],
                                           margin=0) for spec in self.fields}
        kind = self.widgets["treasury.policy.kind"]
        kind.param.watch(lambda event: self.show_policy(event.new), "value")
        self.show_policy(kind.value)
        self.cards = [self._card(section) for section in SECTIONS
                      if any(spec.section == section for spec in self.fields)]

    def _card(self, section: str) -> Any:
        groups: dict[str, list[FieldSpec]] = {}
        for spec in self.fields:
            if spec.section == section:
                groups.setdefault(spec.group, []).append(spec)
        rows = [pn.Column(pn.pane.Markdown(f"**{group}**", margin=(0, 5)),
                          pn.FlexBox(*(self.cells[s.path] for s in specs)), margin=0)
                for group, specs in groups.items()]
        return pn.Card(*rows, title=section, collapsed=section in FOLDED,
                       sizing_mode="stretch_width")

    def show_policy(self, kind: str) -> None:
        for spec in self.fields:
            if spec.kinds is not None:
                self.cells[spec.path].visible = kind in spec.kinds

    def values(self) -> dict[str, Any]:
        return {path: w.value for path, w in self.widgets.items()}

    def overrides(self) -> dict[str, Any]:
        """The overrides of the fields changed from the scenario's values."""
        return overrides(self.fields, self.values())

    def show_errors(self, message: str) -> dict[str, str]:
        """Each problem of `message` under the widget of the field it names."""
        self.clear_errors()
        found = field_errors(self.fields, message)
        for path, reason in found.items():
            self.errors[path].object = reason
            self.errors[path].visible = True
        return found

    def clear_errors(self) -> None:
        for pane in self.errors.values():
            pane.visible = False

    def reset(self) -> None:
        for spec in self.fields:
            self.widgets[spec.path].value = spec.value
        self.clear_errors()


class WhatIf:
    """The view: form, Run / Run base / Reset, progress, the latest summary, side by side."""

    def __init__(self, path: Path, raw: dict[str, Any], scenario: Scenario, board: Any) -> None:
        self.path, self.raw, self.board = path, raw, board
        self.source = str(path)
        self.stem = scenario.name if path.suffix.lower() == ".json" else path.stem
        self.form = Form(scenario)
        self.job: Job | None = None
        self.label = ""
        self.runs: dict[str, Path] = {}
        self._poller: Any = None
        self.run_button = pn.widgets.Button(label="Run what-if", color="primary",
                                            css_classes=["whatif-run"])
        self.base_button = pn.widgets.Button(label="Run base scenario", color="default",
                                             css_classes=["whatif-base"])
        reset = pn.widgets.Button(label="Reset form", color="light")
        self.run_button.on_click(board.guard(lambda _: self.submit()))
        self.base_button.on_click(board.guard(lambda _: self.submit(base=True)))
        reset.on_click(board.guard(lambda _: self.form.reset()))
        self.progress = pn.indicators.Progress(value=0, max=100, visible=False, width=400,
                                               css_classes=["whatif-progress"])
        self.status = pn.pane.Markdown(
            f"Change fields of **{scenario.name}** (seed {scenario.seed}, {scenario.steps} "
            "steps) and run; only the changed fields become overrides. Hover a field's (?) "
            "for its path, bounds and meaning.", css_classes=["whatif-status"])
        self.summary = pn.widgets.Tabulator(headline_frame({}), disabled=True, show_index=False,
                                            formatters={"value": "plaintext"},
                                            visible=False, sizing_mode="stretch_width",
                                            css_classes=["whatif-summary"])
        self.side = SideBySide()
        self.layout = pn.Column(
            self.status, pn.Row(self.run_button, self.base_button, reset, self.progress),
            self.summary, *self.form.cards, self.side.layout, sizing_mode="stretch_width")

    def submit(self, base: bool = False) -> None:
        """Validate (a refusal shown in the page and under its fields), then start the run
        into a new folder under the page's output folder."""
        if self.job is not None:
            raise ConfigError(f"a run is under way ({self.label}); wait for it to finish")
        self.board.clear()
        self.form.clear_errors()
        changes = {} if base else self.form.overrides()
        try:
            scenario = validate(self.raw, changes, self.source)
        except ConfigError as exc:
            found = self.form.show_errors(str(exc))
            self.status.object = (f"Not run: {len(found)} field(s) marked below." if found
                                  else "Not run: see the message above.")
            raise
        folder = next_folder(self.board.out, self.stem, "base" if base else "")
        self.label = folder.name
        self.job = Job(scenario, folder)
        shown = ", ".join(f"`{k}` = {v}" for k, v in changes.items()) or "no changes"
        self.status.object = f"Running **{self.label}** ({shown}) into `{folder}` ..."
        self.progress.value, self.progress.visible = 0, True
        self.run_button.disabled = self.base_button.disabled = True
        self._poller = pn.state.add_periodic_callback(self.board.guard(self.poll), POLL_MS)

    def poll(self) -> str:
        """Move the progress bar; at the job's end show its summary or its error."""
        job = self.job
        if job is None:
            return DONE
        state = job.poll()
        self.progress.value = int(round(100 * job.progress))
        if state == RUNNING:
            return state
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self.job = None
        self.run_button.disabled = self.base_button.disabled = False
        self.progress.visible = False
        if state == FAILED:
            self.status.object = f"**{self.label}** failed: {job.error}"
            self.board.error(f"{self.label}: the run failed: {job.error}")
        else:
            self.finished(self.label, job.folder)
        return state

    def finished(self, label: str, folder: Path) -> None:
        """Show a finished run's summary, add it to the side by side, and open it in the run
        explorer."""
        summary = summary_of(folder)
        self.summary.value = headline_frame(summary)
        self.summary.visible = True
        self.status.object = (f"**{label}** done: {summary.get('steps')} steps, seed "
                              f"{summary.get('seed')}; outputs in `{folder}`.")
        self.runs[label] = folder
        self.side.update(self.runs, latest=label)
        self.board.guard(self.board.open_run)(folder)


def view(scenario: Path, board: Any) -> Any:
    """The what-if view of a scenario file (.toml) or a run folder's scenario.json; a
    scenario that does not validate is refused with the command line's message."""
    path = Path(scenario)
    raw = scenario_dict(path)
    parsed = parse_scenario(raw, source=str(path))
    return WhatIf(path, raw, parsed, board).layout
