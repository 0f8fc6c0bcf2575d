"""One browser session's page: an "open" box, a message line and a tab per view.

Every view module exposes `view(target, dashboard) -> Panel object`; a view that produces a
new run (a what-if, a sweep point run again) hands its folder to `Dashboard.open_run`, which
shows it in a run explorer tab. Every callback goes through `Dashboard.guard`, so a refused
input is a message in the page, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn

from daosim import __version__
from protocols.errors import ConfigError, DaosimError

log = logging.getLogger("daosim.dashboard")
#: the page's title, shown in the browser's tab and in the header
TITLE = f"daosim {__version__}"


class Dashboard:
    """The page of one session. `out`: the folder new runs (what-ifs, re-runs) are written
    under."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.message = pn.pane.Alert("", alert_type="danger", visible=False,
                                     css_classes=["daosim-message"], sizing_mode="stretch_width")
        self.path_box = pn.widgets.TextInput(label="Open a run, sweep or comparison folder, "
                                             "or a scenario file", placeholder="out/baseline",
                                             sizing_mode="stretch_width")
        opener = pn.widgets.Button(label="Open", color="primary", align="end")
        opener.on_click(self.guard(lambda _: self.open(self.path_box.value.strip())))
        self.tabs = pn.Tabs(dynamic=True, sizing_mode="stretch_width")
        self.page = pn.template.BootstrapTemplate(
            title=TITLE, main=[pn.Row(self.path_box, opener, sizing_mode="stretch_width"),
                               self.message, self.tabs])

    def open(self, target: str | Path) -> None:
        """Show `target`: a run, sweep or comparison folder, or a scenario file (its what-if
        form); a clear message in the page for anything else."""
        self.clear()
        if not str(target):
            raise ConfigError("open: give a folder or a scenario file")
        kind = target_kind(target)
        if kind == "scenario":
            from dashboard import whatif

            self.show(f"What-if: {Path(target).stem}", whatif.view(Path(target), self))
        elif kind == "run":
            self.open_run(Path(target))
        else:
            from dashboard import sweep_view

            self.show(f"{kind.capitalize()}: {Path(target).name}",
                      sweep_view.view(Path(target), self))

    def open_run(self, folder: Path) -> None:
        """Show a run folder in a run explorer tab, with a button that opens its scenario's
        what-if form (the run's own scenario.json, seed included)."""
        from dashboard import run_view, whatif

        what_if = pn.widgets.Button(label="What-if on this run's scenario",
                                    css_classes=["daosim-run-whatif"])
        what_if.on_click(self.guard(lambda _: self.show(
            f"What-if: {folder.name}", whatif.view(folder / "scenario.json", self))))
        self.show(f"Run: {folder.name}", pn.Column(what_if, run_view.view(folder, self),
                                                    sizing_mode="stretch_width"))

    def show(self, title: str, content: Any) -> None:
        """Add `content` as a tab named `title` (replacing a tab of that name) and select
        it."""
        names = list(self.tabs._names)
        if title in names:
            self.tabs[names.index(title)] = (title, content)
            self.tabs.active = names.index(title)
        else:
            self.tabs.append((title, content))
            self.tabs.active = len(self.tabs) - 1

    def error(self, text: str) -> None:
        self.message.object = text
        self.message.visible = True

    def clear(self) -> None:
        self.message.visible = False

    def guard(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """`callback` with its refusals shown as the page's message: a `DaosimError`'s own
        line, or for a bug its one-line summary (the traceback goes to the server's log)."""

        @functools.wraps(callback)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except DaosimError as exc:
                self.error(str(exc))
            except Exception as exc:  # noqa: BLE001 - a page must survive any bug
                log.error("dashboard: %s", traceback.format_exc())
                self.error(f"internal error ({type(exc).__name__}: {exc}); the server's log "
                           "has the details")
            return None

        return guarded


def target_kind(target: str | Path) -> str:
    """'scenario' (a .toml or .json scenario file), or the folder's kind: 'run', 'sweep' or
    'compare'; a `ConfigError` saying what `target` is not."""
    from reports.build import kind_of

    path = Path(target)
    if path.is_file():
        if path.suffix.lower() not in (".toml", ".json"):
            raise ConfigError(f"dashboard: {path} is neither a scenario file (.toml) nor an "
                              "output folder of `daosim run`, `sweep` or `compare`")
        return "scenario"
    if not path.exists():
        raise ConfigError(f"dashboard: {path} does not exist")
    return kind_of(path, command="dashboard")


def page(target: str | Path | None, out: Path) -> Any:
    """A new session's page, opened on `target` (a refusal is shown in the page)."""
    board = Dashboard(out)
    if target is not None:
        board.path_box.value = str(target)
        board.guard(board.open)(target)
    return board.page
