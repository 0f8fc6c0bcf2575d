"""A run's summary as a table a reader can use on its own: every key with its value, its unit
and a one-line meaning from the metric catalogue (`sim.metrics`), grouped (risk, capital
efficiency, treasury, contagion, run), old alias names left out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from reports.html import Table
from sim import metrics

#: the order groups are shown in: what a proposal is judged by first, the run's identity last
GROUPS = ("risk", "capital efficiency", "treasury", "contagion", "run")


def summary_table(summary: Mapping[str, Any]) -> Table:
    """The summary's keys by group (then by name), each with unit and meaning; aliases are
    named in the note; a key the catalogue does not know is listed last, unexplained."""
    rows, aliases = [], []
    for key in sorted(summary):
        metric = metrics.lookup(key)
        if metric is not None and metric.alias_of:
            aliases.append(f"{key} (= {metric.alias_of})")
            continue
        group = metric.group if metric else "other"
        order = GROUPS.index(group) if group in GROUPS else len(GROUPS)
        rows.append((order, key, {
            "group": group, "metric": key, "value": summary[key],
            "unit": metric.unit if metric else "",
            "meaning": metric.meaning if metric else ""}))
    rows.sort(key=lambda r: r[:2])
    frame = pd.DataFrame([r[2] for r in rows], columns=["group", "metric", "value", "unit",
                                                        "meaning"]).astype(object)
    note = ("Units and meanings from the metric catalogue (sim/metrics.py; the README's "
            "\"Summary keys\" gives the long form). USD at the off-chain reference price of "
            "the step each figure is taken")
    if aliases:
        note += f". Old names kept for one version, not shown: {', '.join(aliases)}"
    return Table("Summary", frame, note + ".")
