"""`build_report(DIR)`: tell which kind of results a folder holds (a run, a sweep or a
comparison) from its files, and write that kind's report into it."""

from __future__ import annotations

from pathlib import Path

from protocols.errors import ConfigError
from reports.inputs import read_json

#: what each kind's report reads (a run's health.parquet and graph.json are optional)
FILES = {
    "run": ("summary.json", "scenario.json", "timeseries.parquet", "events.parquet"),
    "sweep": ("runs.parquet", "points.parquet"),
    "compare": ("runs.parquet", "comparison.csv"),
}


def kind_of(folder: str | Path, command: str = "report") -> str:
    """'run', 'sweep' or 'compare' (a sweep or comparison folder has a plan.json saying
    which); a clear error, starting with `command`, when the folder lacks what that kind's
    report reads."""
    path = Path(folder)
    if not path.is_dir():
        raise ConfigError(f"{command}: {path} is not a folder (give the output folder of "
                          "`daosim run`, `daosim sweep` or `daosim compare`)")
    plan = path / "plan.json"
    kind = read_json(plan).get("kind", "sweep") if plan.exists() else "run"
    if kind not in FILES:
        raise ConfigError(f"{command}: {plan}: unknown kind {kind!r} (a sweep or compare plan)")
    missing = [f for f in FILES[kind] if not (path / f).exists()]
    if kind == "run" and len(missing) == len(FILES["run"]):
        raise ConfigError(f"{command}: {path} holds no results of `daosim run`, `daosim sweep` "
                          "or `daosim compare`")
    if missing:
        hint = {"run": "run the scenario again with `daosim run --out` this folder",
                "sweep": "the sweep has not finished: run the same `daosim sweep` again",
                "compare": "the comparison has not finished: run the same `daosim compare` "
                           "again"}[kind]
        raise ConfigError(f"{command}: {path} looks like a {kind} folder but lacks "
                          f"{', '.join(missing)}; {hint}")
    return kind


def build_report(folder: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write `report.html` and `figures/` for the results in `folder` (into `out_dir` if
    given); returns the HTML file's path."""
    kind = kind_of(folder)
    if kind == "run":
        from reports.run_report import run_report as write
    elif kind == "sweep":
        from reports.sweep_report import sweep_report as write
    else:
        from reports.compare_report import compare_report as write
    return write(folder, out_dir)
