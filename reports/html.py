"""Write a report folder: `report.html` with every figure embedded (one file to mail or
attach) and the same figures as `figures/NAME.png` beside it (to paste into a forum post)."""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reports.figures import ReportFigure, house_style
from sim.outputs import atomic_write_text

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1040px; margin: 2em auto; padding: 0 1em;
       color: #1c2833; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: 0.5em 0; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border-bottom: 1px solid #d5d8dc; padding: 0.2em 0.7em; text-align: left; }
th { vertical-align: bottom; max-width: 11em; overflow-wrap: break-word; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } img { max-width: 100%; }
figcaption { font-size: 0.85em; color: #566573; }
.meta { color: #566573; }
"""


#: a column name longer than this may wrap (see `_header`)
HEADER_CHARS = 12


@dataclass(frozen=True)
class Table:
    heading: str
    frame: pd.DataFrame
    note: str = ""


def format_value(value: object) -> str:
    """A table cell: thousands separators for large numbers, 6 significant digits else."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return ""
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.6g}"
    return str(value)


def write_report(out_dir: str | Path, title: str, meta: Sequence[str], tables: Sequence[Table],
                 figures: Sequence[ReportFigure]) -> Path:
    """Write `report.html` and `figures/*.png` into `out_dir`; returns the HTML path. The
    first table is the summary the report opens with."""
    out = Path(out_dir)
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"]
    parts += [f"<p class='meta'>{_e(line)}</p>" for line in meta]
    parts += [_table(table) for table in tables[:1]]
    with house_style():
        for fig in figures:
            png = fig.png()
            (folder / f"{fig.name}.png").write_bytes(png)
            data = base64.b64encode(png).decode("ascii")
            parts.append(
                f"<figure id='fig-{fig.name}'><img src='data:image/png;base64,{data}' "
                f"alt='{_e(fig.title)}' data-file='figures/{fig.name}.png'>"
                f"<figcaption><b>{_e(fig.title)}.</b> {_e(fig.caption)} "
                f"(<a href='figures/{fig.name}.png'>PNG</a>)</figcaption></figure>")
    parts += [_table(table) for table in tables[1:]]
    parts.append("</body></html>")
    path = out / "report.html"
    atomic_write_text(path, "\n".join(parts))
    return path


def provenance_line(folder: Path) -> list[str]:
    """The report builders' provenance line, from the results folder's `provenance.json`
    (`sim.provenance`): version, commit (dirty or not) and scenario hash(es), 12 hex digits
    each; no line for a folder written before provenance existed."""
    try:
        record = json.loads((folder / "provenance.json").read_text())
    except (OSError, ValueError):
        return []
    commit = record.get("git_commit")
    code = f"commit {commit[:12]}{' (dirty)' if record.get('git_dirty') else ''}" \
        if commit else "no git checkout"
    hashes = ", ".join(f"{label} {sha[:12]}"
                       for label, sha in (record.get("scenario_sha256") or {}).items())
    return [f"daosim {record.get('daosim_version', 'unknown')}, {code}; scenario sha256 "
            f"{hashes or 'unknown'} (full record: provenance.json)"]


def _table(table: Table) -> str:
    head = "".join(f"<th>{_header(str(c))}</th>" for c in table.frame.columns)
    rows = []
    for record in table.frame.itertuples(index=False):
        cells = "".join(
            f"<td class='{'num' if _is_number(v) else 'text'}'>{_e(format_value(v))}</td>"
            for v in record
        )
        rows.append(f"<tr>{cells}</tr>")
    note = f"<p class='meta'>{_e(table.note)}</p>" if table.note else ""
    # a table wider than the page scrolls inside its box instead of widening the page
    return (f"<h2>{_e(table.heading)}</h2>{note}<div class='table-wrap'><table><thead><tr>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _header(name: str) -> str:
    """A long column name may break after its dots and underscores (`<wbr>`), so a header
    such as protocols_distressed_share takes two lines instead of a wide column."""
    if len(name) <= HEADER_CHARS:
        return _e(name)
    return re.sub(r"([._])", r"\1<wbr>", _e(name))


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _e(text: str) -> str:
    return html.escape(text, quote=True)
