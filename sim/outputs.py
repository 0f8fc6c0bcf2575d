"""A run's results and the files they are written to: `timeseries.parquet`,
`events.parquet`, `summary.parquet`, a human-readable `summary.json`, the resolved
`scenario.json` (what ran, for reports and re-runs), `provenance.json` (`sim.provenance`:
which code made it), `health.parquet`, `health_steps.parquet`, `liquidation_curve.parquet`
and `graph.json` when the run has them; with a counterfactual, the run without shocks in
`counterfactual/` (the same files).

Every output file of the project - a run's, a sweep's, a report - is written by
`atomic_write`: to a hidden temporary name in the same folder, flushed to disk, then renamed
into place, so a reader (or a resumed sweep) never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd

from sim import provenance
from sim.folders import file_mode, replaceable_run_folder, staged
from spec import Scenario


@dataclass(frozen=True)
class RunResult:
    """What one run gives back (`sim.runner.run_scenario`)."""

    summary: dict[str, Any]
    timeseries: pd.DataFrame
    events: list[dict[str, Any]]
    #: the step-0 dependency graph annotated with the spread (sim.contagion.annotate), when
    #: asked for with `graph=True`
    graph: nx.DiGraph | None = None
    #: health factors of indebted positions before/after the first shock (sim.health)
    health: pd.DataFrame | None = None
    #: liquidations at risk at the start and before the first shock (sim.liquidation_curve)
    liquidation_curve: pd.DataFrame | None = None
    #: per-step histogram of every market's indebted positions' health factors, with their
    #: debt (sim.health.HF_EDGES): `health_steps.parquet`
    health_steps: pd.DataFrame | None = None


#: the subfolder of a run folder holding its counterfactual run (the run without shocks)
COUNTERFACTUAL = "counterfactual"


def write_run(out_dir: str | Path, result: RunResult, scenario: Scenario,
              counterfactual: tuple[RunResult, Scenario] | None = None) -> Path:
    """Write the files of one run of `scenario` into `out_dir`, and its counterfactual
    run's into `out_dir/counterfactual/`: all of them or none (they are written into a
    hidden folder beside it, which then replaces it, earlier outputs of a run included; a
    folder of other files is refused)."""
    out = replaceable_run_folder(out_dir)
    with staged(out) as stage:
        _write_run_files(stage, result, scenario)
        if counterfactual is not None:
            (stage / COUNTERFACTUAL).mkdir(mode=file_mode(folder=True))
            _write_run_files(stage / COUNTERFACTUAL, *counterfactual)
    return out


def _write_run_files(out: Path, result: RunResult, scenario: Scenario) -> None:
    write_parquet(out / "timeseries.parquet", result.timeseries)
    write_parquet(out / "events.parquet", events_frame(result.events))
    write_parquet(out / "summary.parquet", pd.DataFrame([result.summary]))
    atomic_write_text(out / "summary.json", json.dumps(result.summary, indent=2, default=str))
    data = provenance.scenario_bytes(scenario)
    atomic_write(out / "scenario.json", lambda tmp: Path(tmp).write_bytes(data))
    write_provenance(out, {scenario.name: provenance.scenario_sha256(scenario)})
    if result.health is not None:
        write_parquet(out / "health.parquet", result.health)
    if result.liquidation_curve is not None:
        write_parquet(out / "liquidation_curve.parquet", result.liquidation_curve)
    if result.health_steps is not None:
        write_parquet(out / "health_steps.parquet", result.health_steps)
    if result.graph is not None:
        write_graph(result.graph, out / "graph.json")


def events_frame(events: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Events as a table: `step`, `kind`, then each event's own fields. Columns that mix
    types across event kinds are stored as text so Parquet can hold them."""
    frame = pd.DataFrame(list(events), columns=None if events else ["step", "kind"])
    for column in frame.columns:
        if frame[column].dtype == object:
            values = frame[column].dropna()
            if values.map(type).nunique() > 1 or values.map(lambda v: isinstance(v, dict)).any():
                frame[column] = frame[column].map(
                    lambda v: None if v is None else json.dumps(v, default=str)
                    if isinstance(v, dict | list) else str(v)
                )
    return frame


# -- atomic files ------------------------------------------------------------------------
def atomic_write(path: Path, write: Callable[[str], Any]) -> None:
    """Call `write(tmp)` on a hidden temporary file in `path`'s folder, fsync it, then
    rename it to `path`; on any failure (Ctrl-C included) the temporary file is removed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, file_mode())  # mkstemp's 0600 would keep a shared report private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_provenance(folder: Path, scenarios: dict[str, str]) -> None:
    """`folder/provenance.json`: `sim.provenance.record` for the scenarios (label -> sha256)
    the folder's results come from."""
    atomic_write_text(folder / "provenance.json",
                      json.dumps(provenance.record(scenarios), indent=2))


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


# -- the dependency graph --------------------------------------------------------------
def write_graph(graph: nx.DiGraph, path: str | Path) -> Path:
    """Write `graph` as GraphML (`.graphml`) or node-link JSON (anything else, e.g.
    `graph.json`), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".graphml":
        text = "\n".join(nx.generate_graphml(_scalar_attributes(graph)))
    else:
        text = json.dumps(to_node_link(graph), indent=1, default=_json_default)
    atomic_write_text(path, text)
    return path


def to_node_link(graph: nx.DiGraph) -> dict[str, Any]:
    """Node-link dict (`nodes`, `links` with `source`/`target`), stable across networkx
    versions (3.4 renamed the `link` keyword)."""
    return {
        "directed": True,
        "multigraph": False,
        "graph": dict(graph.graph),
        "nodes": [{"id": n, **data} for n, data in graph.nodes(data=True)],
        "links": [{"source": a, "target": b, **data} for a, b, data in graph.edges(data=True)],
    }


def from_node_link(data: Mapping[str, Any]) -> nx.DiGraph:
    graph = nx.DiGraph(**data.get("graph", {}))
    for node in data["nodes"]:
        attrs = {k: v for k, v in node.items() if k != "id"}
        graph.add_node(node["id"], **attrs)
    for link in data["links"]:
        attrs = {k: v for k, v in link.items() if k not in ("source", "target")}
        graph.add_edge(link["source"], link["target"], **attrs)
    return graph


def _scalar_attributes(graph: nx.DiGraph) -> nx.DiGraph:
    """GraphML holds str/int/float/bool only: drop None, stringify anything else."""
    out = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        out.add_node(node, **_scalars(data))
    for a, b, data in graph.edges(data=True):
        out.add_edge(a, b, **_scalars(data))
    return out


def _scalars(data: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        out[key] = value if isinstance(value, str | int | float | bool) else str(value)
    return out


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)
