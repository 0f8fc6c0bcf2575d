"""The run explorer's data, prepared once when a run folder opens, so that a move of the time
slider only slices arrays (`dashboard.run_view` assigns the slices to its plots' sources).

- the dependency graph (graph.json, `sim.contagion.annotate`) with a fixed layout (networkx
  Kamada-Kawai from a seeded start: the same folder always draws the same picture), and a
  state matrix steps x nodes: healthy, origin (hit from outside, from its `origin_step`) or
  distressed (from the step its `distress` event was logged - what the run knew then -
  until a `recovered` event), with the cause the event gives;
- the events grouped by step (sorted once, sliced by offsets);
- the health-factor histogram of every step (health_steps.parquet, `sim.health.HF_EDGES`,
  summed over the markets); a folder written before it existed has only the snapshots of
  health.parquet: each step then shows the latest snapshot taken at or before it;
- prices (`price:`, `pool_price:`, `oracle:` columns), treasury NAV and runway, shocks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from protocols.errors import ConfigError

HEALTHY, ORIGIN, DISTRESSED = 0, 1, 2
STATES = ("healthy", "origin", "distressed")
#: the time-series column prefixes of the prices plot
PRICE_PREFIXES = ("price:", "pool_price:", "oracle:")
#: seed of the graph layout (any fixed number: the picture only has to be the same each time)
LAYOUT_SEED = 20


@dataclass
class RunData:
    """One run folder, ready to draw (module doc). Node arrays are in `nodes`' row order;
    per-step arrays have one row per step 0..`horizon`."""

    folder: Path
    horizon: int
    nodes: pd.DataFrame  # id, kind, value_usd, origin_step, x, y
    edges: pd.DataFrame  # source, target, weight, channels, xs, ys
    state: np.ndarray  # (steps, nodes) int8: HEALTHY / ORIGIN / DISTRESSED
    cause: np.ndarray  # (steps, nodes) object: the distress's cause, "" otherwise
    since: np.ndarray  # (steps, nodes) int: the step the node's state began
    timeseries: pd.DataFrame
    prices: list[str]  # the price columns
    shocks: pd.DataFrame  # step, label
    events: pd.DataFrame  # sorted by step
    offsets: np.ndarray  # events of step t: rows offsets[t]:offsets[t + 1]
    hf_labels: list[str]
    hf_low: np.ndarray  # (bins,)
    hf_positions: np.ndarray  # (steps, bins)
    hf_debt: np.ndarray  # (steps, bins) USD, NaN when unknown (snapshots)
    #: "steps" (health_steps.parquet) or "snapshots" (health.parquet) or "none"
    hf_source: str
    hf_note: list[str]  # per step, for snapshots: which snapshot is shown

    def states_at(self, step: int) -> pd.DataFrame:
        """The nodes' state at `step`: id, kind, value_usd, state, cause, since."""
        t = self.clamp(step)
        return pd.DataFrame({
            "id": self.nodes["id"], "kind": self.nodes["kind"],
            "value_usd": self.nodes["value_usd"],
            "state": np.array(STATES, dtype=object)[self.state[t]],
            "cause": self.cause[t], "since": self.since[t],
        })

    def events_at(self, step: int) -> pd.DataFrame:
        t = self.clamp(step)
        return self.events.iloc[self.offsets[t]:self.offsets[t + 1]]

    def clamp(self, step: int) -> int:
        return min(max(int(step), 0), self.horizon)


def load(folder: str | Path) -> RunData:
    """Read and prepare a run folder (module doc); a `ConfigError` when it lacks a file
    the explorer needs."""
    folder = Path(folder)
    for name in ("timeseries.parquet", "events.parquet"):
        if not (folder / name).exists():
            raise ConfigError(f"run explorer: {folder} has no {name}; is it the output "
                              "folder of `daosim run`?")
    timeseries = pd.read_parquet(folder / "timeseries.parquet")
    if "step" not in timeseries:
        timeseries = timeseries.assign(step=np.arange(len(timeseries)))
    horizon = int(timeseries["step"].max())
    events = pd.read_parquet(folder / "events.parquet")
    events = events[(events["step"] >= 0) & (events["step"] <= horizon)]
    events = events.sort_values("step", kind="stable").reset_index(drop=True)
    offsets = np.searchsorted(events["step"].to_numpy(), np.arange(horizon + 2), side="left")
    graph = _graph(folder)
    nodes, edges = _layout(graph)
    state, cause, since = node_states(nodes, events, horizon)
    hf = _health(folder, horizon)
    return RunData(
        folder, horizon, nodes, edges, state, cause, since, timeseries,
        [c for c in timeseries.columns if c.startswith(PRICE_PREFIXES)],
        shock_marks(folder, events), events, offsets, *hf,
    )


def _graph(folder: Path) -> nx.DiGraph:
    from sim.outputs import from_node_link

    path = folder / "graph.json"
    if not path.exists():
        return nx.DiGraph()
    return from_node_link(json.loads(path.read_text()))


def _layout(graph: nx.DiGraph) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Nodes and edges with positions: Kamada-Kawai on the undirected graph (edge weights
    ignored: a few large exposures would crush the rest into a point), started from a seeded
    random layout - deterministic, and a leaf stays near its neighbour where a spring
    layout throws it to the edge."""
    ids = sorted(graph.nodes)
    pos = {}
    if ids:
        plain = nx.Graph()
        plain.add_nodes_from(ids)
        plain.add_edges_from(sorted(graph.to_undirected().edges()))
        start = nx.random_layout(plain, seed=LAYOUT_SEED)
        pos = nx.kamada_kawai_layout(plain, pos=start, weight=None)
    nodes = pd.DataFrame({
        "id": ids,
        "kind": [str(graph.nodes[n].get("kind", "")) for n in ids],
        "value_usd": [float(graph.nodes[n].get("value_usd") or 0.0) for n in ids],
        "origin_step": [int(graph.nodes[n].get("origin_step", -1)) for n in ids],
        "x": [float(pos[n][0]) for n in ids], "y": [float(pos[n][1]) for n in ids],
    })
    rows = []
    for a, b, data in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1])):
        channels = ", ".join(f"{k.removesuffix('_usd')} ${v:,.0f}" for k, v in data.items()
                             if k.endswith("_usd") and isinstance(v, int | float) and v > 0)
        rows.append({"source": a, "target": b, "weight": float(data.get("weight") or 0.0),
                     "channels": channels, "xs": [pos[a][0], pos[b][0]],
                     "ys": [pos[a][1], pos[b][1]]})
    edges = pd.DataFrame(rows, columns=["source", "target", "weight", "channels", "xs", "ys"])
    return nodes, edges


def node_states(nodes: pd.DataFrame, events: pd.DataFrame,
                horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (steps x nodes) state, cause and since matrices (module doc): a node is an
    origin from its `origin_step`, distressed from a `distress` event's step until a
    `recovered` event's step (distress shows over origin: the ring marks the origin)."""
    steps, n = horizon + 1, len(nodes)
    state = np.zeros((steps, n), dtype=np.int8)
    cause = np.full((steps, n), "", dtype=object)
    since = np.zeros((steps, n), dtype=np.int64)
    column = {node: j for j, node in enumerate(nodes["id"])}
    for j, start in enumerate(nodes["origin_step"]):
        if 0 <= start <= horizon:
            state[start:, j] = ORIGIN
            since[start:, j] = start
    if "node" not in events:
        return state, cause, since
    changes = events[events["kind"].isin(("distress", "recovered"))]
    for node, rows in changes.groupby("node", sort=False):
        j = column.get(node)
        if j is None:
            continue
        marks = list(zip(rows["step"].astype(int), rows["kind"],
                         rows.get("cause", pd.Series("", index=rows.index)).fillna(""),
                         rows.get("since", rows["step"]).fillna(rows["step"]).astype(int),
                         strict=True))
        for k, (step, kind, why, began) in enumerate(marks):
            end = marks[k + 1][0] if k + 1 < len(marks) else steps
            if kind == "distress":
                state[step:end, j], cause[step:end, j] = DISTRESSED, why
                since[step:end, j] = began
            else:  # recovered: back to what it was without the distress
                origin = nodes["origin_step"].iat[j]
                hit = (origin >= 0) & (np.arange(step, end) >= origin)
                state[step:end, j] = np.where(hit, ORIGIN, HEALTHY)
                since[step:end, j] = np.where(hit, np.maximum(origin, step), step)
    return state, cause, since


def shock_marks(folder: Path, events: pd.DataFrame) -> pd.DataFrame:
    """`step`, `label` of every scheduled shock: the scenario's `shocks` (scenario.json; a
    price crash is in the price paths and logs no event), else the `shock` events."""
    path = folder / "scenario.json"
    shocks = json.loads(path.read_text()).get("shocks") or [] if path.exists() else []
    if not shocks:
        rows = events[events["kind"] == "shock"]
        shocks = [{"step": int(s), "kind": "shock"} for s in rows["step"]]
    labels = []
    for shock in shocks:
        where = next((str(shock[k]) for k in ("asset", "protocol", "pool", "market", "bridge")
                      if isinstance(shock.get(k), str)), "")
        labels.append(f"{shock.get('kind', 'shock')} {where}".strip())
    return pd.DataFrame({"step": [int(s.get("step", 0)) for s in shocks], "label": labels})


def hf_bin_labels(low: np.ndarray, high: np.ndarray) -> list[str]:
    return [f">= {lo:g}" if math.isinf(hi) else f"{lo:g}-{hi:g}" for lo, hi in zip(low, high,
                                                                                 strict=True)]


def _health(folder: Path, horizon: int) -> tuple[Any, ...]:
    """(labels, low, positions, debt, source, notes) of the HF histogram per step (module
    doc): summed over markets from health_steps.parquet, else the latest snapshot."""
    from sim.health import HF_EDGES, hf_histogram

    steps = horizon + 1
    low, high = HF_EDGES[:-1], HF_EDGES[1:]
    bins = len(low)
    path = folder / "health_steps.parquet"
    if path.exists():
        frame = pd.read_parquet(path)
        frame = frame[frame["step"] <= horizon]
        if frame.empty:
            notes = ["this run has no lending market"] * steps
            return (hf_bin_labels(low, high), low, np.zeros((steps, bins)),
                    np.zeros((steps, bins)), "none", notes)
        low, high = np.unique(frame["hf_low"]), np.unique(frame["hf_high"])
        which = np.searchsorted(low, frame["hf_low"].to_numpy())
        step = frame["step"].to_numpy()
        positions = np.zeros((steps, len(low)))
        debt = np.zeros((steps, len(low)))
        np.add.at(positions, (step, which), frame["positions"].to_numpy())
        np.add.at(debt, (step, which), frame["debt_usd"].to_numpy())
        return (hf_bin_labels(low, high), low, positions, debt, "steps", [""] * steps)
    positions = np.zeros((steps, bins))
    debt = np.full((steps, bins), np.nan)
    path = folder / "health.parquet"
    snaps = pd.read_parquet(path) if path.exists() else None
    if snaps is None or snaps.empty:
        notes = ["no health factors in this folder"] * steps
        return (hf_bin_labels(low, high), low, positions, debt, "none", notes)
    notes = ["no snapshot at or before this step"] * steps
    order = snaps[["moment", "step"]].drop_duplicates().sort_values("step", kind="stable")
    for moment, step in order.itertuples(index=False):
        hf = snaps.loc[(snaps["moment"] == moment) & (snaps["step"] == step),
                       "health_factor"].to_numpy()
        counts, _ = hf_histogram(hf, np.zeros_like(hf))
        start = max(int(step), 0)
        positions[start:] = counts
        notes[start:] = [f"snapshot '{moment}' of step {step}"] * (steps - start)
    return (hf_bin_labels(low, high), low, positions, debt, "snapshots", notes)
