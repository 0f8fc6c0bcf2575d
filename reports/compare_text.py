"""`comparison.txt` and the HTML report's headline: what the proposal is and changes, then
the few metrics that changed materially, risk and capital efficiency side by side, then the
rest folded by status (changed / unclear / identical), the full table and the tails.

Reads only what `experiments.compare.compare` wrote (`comparison.csv`, `comparison.json`,
`tails.csv`, `runs.parquet`), so a folder's text and HTML say the same thing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.paired import MATERIAL, MIN_PAIRS, RESOLVE, num
from experiments.tails import min_runs, with_losses
from reports.inputs import read_csv, read_json, read_parquet
from sim import metrics
from sim.outputs import atomic_write_text

#: the headline's two sides: what can go wrong, and what borrowers get
RISK_GROUPS = ("risk", "treasury", "contagion")
TAIL_COLUMNS = {"p95": 0.95, "p99": 0.99, "es95": 0.95}


def short(x: float, unit: str = "", sign: bool = False) -> str:
    """3-4 significant digits, k/M/B for large values, `$` for USD: a headline number."""
    if not math.isfinite(x):
        return "n/a"
    plus = "+" if sign and x > 0 else ""
    minus, x = ("-", -x) if x < 0 else ("", x)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= max(size, 1e4):
            body = f"{x / size:.3g}{suffix}"
            break
    else:
        body = f"{x:.4g}"
    return f"{plus}{minus}{'$' if unit == 'USD' else ''}{body}"


def headline_row(row: pd.Series) -> dict[str, str]:
    """One material metric as cells: metric, base -> proposal, difference with its
    interval, relative change, and better / worse / trade-off."""
    unit = row["unit"] if isinstance(row.get("unit"), str) else ""
    rel = row["rel_change"]
    return {"metric": row["metric"] + row.get("markets", ""),
            "means": f"{short(row['baseline_mean'], unit)} -> {short(row['proposal_mean'], unit)}",
            "difference": (f"{short(row['diff_mean'], unit, True)} "
                           f"[{short(row['ci_low'], unit, True)}, "
                           f"{short(row['ci_high'], unit, True)}]"),
            "change": f"{rel * 100:+.3g}%" if math.isfinite(rel) else "from 0",
            "effect": row["effect"] if isinstance(row.get("effect"), str) else ""}


def sides(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Material rows by side (risk; capital efficiency), ordered by group (market risk, the
    treasury, contagion) and then by the size of the change; a per-market row equal to its
    all-market total in every run is left out and its market named on the total's line."""
    if table.empty:
        return {"risk": table, "capital efficiency": table}
    # a column of empty strings reads back from the CSV as NaN floats
    same_as = table["same_as"].astype(object).where(table["same_as"].notna(), "").astype(str)
    material = table[table["material"].astype(bool) & (same_as == "")]
    markets = {total: m.rpartition(":")[2] for m, total in zip(table["metric"], same_as,
                                                                strict=True) if total}
    material = material.assign(
        markets=[f" (all in {markets[m]})" if m in markets else "" for m in material["metric"]],
        rank=[RISK_GROUPS.index(g) if g in RISK_GROUPS else 0 for g in material["group"]],
        size=-material["rel_change"].abs().fillna(np.inf))
    order = material.sort_values(["rank", "size"], kind="stable").drop(columns=["rank", "size"])
    capital = order["group"] == "capital efficiency"
    return {"risk": order[~capital & order["group"].isin(RISK_GROUPS)],
            "capital efficiency": order[capital]}


def proposal_lines(about: dict[str, Any]) -> list[str]:
    """The proposal's name and description, and what it changes (resolved diff)."""
    said = about.get("description") or "(no description)"
    lines = [f"proposal {about.get('proposal', '?')!r}: {said}",
             f"what it changes against {about.get('baseline', '?')!r} (resolved scenario "
             "diff):"]
    changes = about.get("changes", [])
    lines += ([f"  {c['line']}" for c in changes]
              or ["  nothing: the two scenarios resolve to the same values"])
    settings = about.get("settings") or {}
    if settings:
        lines.append("both arms run with: " + ", ".join(f"{k} = {v!r}"
                                                        for k, v in settings.items()))
    return lines


def material_rule(about: dict[str, Any], pairs: int) -> str:
    level = f"{about.get('confidence', 0.95):.0%}"
    return (f"material changes over {pairs} paired runs (the {level} interval of the paired "
            f"difference excludes 0, and the change is >= {about.get('material', MATERIAL):.0%}"
            " of the baseline mean, or any clear change from a baseline of 0):")


def side_cells(table: pd.DataFrame) -> dict[str, list[dict[str, str]]]:
    """Each side's material metrics as headline cells; an empty side says why in `metric`."""
    caps = (table["group"] == "capital efficiency").any() if len(table) else False
    cells = {}
    for side, rows in sides(table).items():
        cells[side] = [headline_row(r) for _, r in rows.iterrows()]
        if not cells[side]:
            why = ("no borrowing-power, borrowed or borrow-usage metrics in these runs"
                   if side == "capital efficiency" and not caps else "no material change")
            cells[side] = [{"metric": why}]
    return cells


def headline_lines(about: dict[str, Any], table: pd.DataFrame) -> list[str]:
    """The report's opening: proposal, description, resolved diff, material changes."""
    pairs = int(table["pairs"].max()) if len(table) else 0
    lines = [*proposal_lines(about), "", material_rule(about, pairs)]
    if pairs < about.get("min_pairs", MIN_PAIRS):
        return [*lines, f"  none judged: {pairs} paired runs give no intervals (they need at "
                        f"least {MIN_PAIRS}; use --runs 20 or more)"]
    keys = ("metric", "means", "difference", "change", "effect")
    for side, cells in side_cells(table).items():
        widths = {k: max(len(c.get(k, "")) for c in cells) for k in keys}
        lines.append(f"  {side}:")
        lines += ["    " + "  ".join(c.get(k, "").ljust(widths[k]) for k in keys).rstrip()
                  for c in cells]
    return lines


def headline_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The material metrics as a table (side, metric, means, difference [interval], change,
    verdict) for the HTML report."""
    rows = [{"side": side, **{k: c.get(k, "") for k in
                              ("metric", "means", "difference", "change", "effect")}}
            for side, cells in side_cells(table).items() for c in cells]
    return pd.DataFrame(rows).rename(columns={
        "means": "baseline -> proposal (means)", "difference": "paired difference [interval]",
        "effect": "verdict"})


def folded_lines(about: dict[str, Any], table: pd.DataFrame) -> list[str]:
    """Everything not in the headline, one line per status."""
    if table.empty:
        return []
    status = table["status"]
    small = table[(status == "changed") & ~table["material"].astype(bool)]
    lines = []
    for label, rows in (("changed, but under the materiality rule", small),
                        ("unclear (the interval includes 0)", table[status == "unclear"]),
                        ("no interval (too few pairs)", table[status == "no interval"])):
        if len(rows):
            lines.append(f"{label}: " + ", ".join(
                f"{m} ({r * 100:+.2g}%)" if math.isfinite(r) and label.startswith("changed")
                else m for m, r in zip(rows["metric"], rows["rel_change"], strict=True)))
    same = table[status == "identical"]
    if len(same):
        lines.append(f"identical in every paired run ({len(same)}): "
                     + ", ".join(same["metric"]))
    fallback = table[~table["interval"].isin(["BCa"]) & (status != "identical")]
    if len(fallback):
        lines.append("intervals not by BCa: " + "; ".join(
            f"{m}: {how}" for m, how in zip(fallback["metric"], fallback["interval"],
                                           strict=True)))
    aliases = [k for k, m in metrics.CATALOGUE.items() if m.alias_of]
    lines.append(f"not judged: old names {', '.join(aliases)} (the same as their "
                 "treasury_nav_* keys) and descriptive keys (the catalogue's `info`, e.g. "
                 "protocols_total, first_origin_step)")
    return lines


def judged_table(table: pd.DataFrame, resolve: float = RESOLVE) -> pd.DataFrame:
    """The non-identical rows with what a reader needs: unit, direction, means, difference,
    interval and its half-width, the runs that would resolve a `resolve` change, verdict."""
    rows = table[table["status"] != "identical"]
    return pd.DataFrame({
        "metric": rows["metric"], "unit": rows["unit"], "direction": rows["direction"],
        "baseline_mean": rows["baseline_mean"], "proposal_mean": rows["proposal_mean"],
        "diff_mean": rows["diff_mean"], "ci_low": rows["ci_low"], "ci_high": rows["ci_high"],
        "half_width": rows["half_width"],
        f"runs_for_{resolve:.0%}": rows["runs_needed"].clip(lower=MIN_PAIRS),
        "status": rows["status"],
        "verdict": [_verdict(e, j) for e, j in zip(rows["effect"], rows["judgement"],
                                                    strict=True)],
    })


def _verdict(effect: object, judgement: str) -> str:
    """better / worse / trade-off, `, negligible` when the clear change is tiny; else the
    judgement (unclear, too few pairs)."""
    if not (isinstance(effect, str) and effect):
        return judgement
    return f"{effect}, negligible" if judgement == "negligible" else effect


def tails_shown(tails: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Each arm's loss tails with their run count; a quantile with fewer runs than
    `experiments.tails.min_runs` asks for is blanked (NaN) and named in `note`."""
    if tails.empty:
        return tails
    ok = with_losses(runs)
    ok = ok[ok["error"].isna()] if "error" in ok else ok
    shown = tails[["variant", "metric", "runs", "mean"]].copy()
    shown["worst"] = [float(ok.loc[ok["variant"] == v, m].max()) if m in ok else math.nan
                      for v, m in zip(tails["variant"], tails["metric"], strict=True)]
    hidden = []
    for column, q in TAIL_COLUMNS.items():
        enough = tails["runs"] >= min_runs(q)
        shown[column] = tails[column].where(enough)
        hidden.append(np.where(enough, "", column))
    shown["note"] = [", ".join(c for c in cols if c) + ": too few runs" if any(cols) else ""
                     for cols in zip(*hidden, strict=True)]
    return shown


def comparison_text(about: dict[str, Any], table: pd.DataFrame, tails: pd.DataFrame,
                    runs: pd.DataFrame) -> str:
    """The whole of `comparison.txt`."""
    failed = int(runs["error"].notna().sum()) if "error" in runs else 0
    pairs = int(table["pairs"].max()) if len(table) else 0
    lines = [f"compare {about.get('proposal')!r} against {about.get('baseline')!r}: {pairs} "
             f"paired runs (common seeds from root {about.get('root_seed')})"
             f"{f', {failed} runs failed' if failed else ''}", ""]
    lines += headline_lines(about, table)
    lines += ["", *folded_lines(about, table)]
    resolve = float(about.get("resolve", RESOLVE))
    judged = judged_table(table, resolve)
    if len(judged):
        level = f"{about.get('confidence', 0.95):.0%}"
        lines += ["", f"judged metrics that differ (half_width: of the {level} interval; "
                  f"runs_for_{resolve:.0%}: paired runs that would resolve a change of "
                  f"{resolve:.0%} of the baseline mean with 80 % power, "
                  f"((z_0.975 + z_0.8) sd(d) / delta)^2, at least {MIN_PAIRS}):",
                  judged.to_string(index=False, float_format=num)]
    shown = tails_shown(tails, runs)
    if len(shown):
        lines += ["", "tail losses per arm (VaR-style quantiles over runs; a q-quantile is "
                  "shown from 1/(1-q) runs, one run beyond it: p95 and es95 from "
                  f"{min_runs(0.95)}, p99 from {min_runs(0.99)}):",
                  shown.to_string(index=False, float_format=num, na_rep="-")]
    verdicts = table.loc[table["status"] != "identical", "verdict"] if len(table) else []
    lines += ["", "verdicts:"] + [f"  {v}" for v in verdicts]
    return "\n".join(lines)


def write_comparison_text(folder: str | Path) -> str:
    """Write `comparison.txt` from a comparison folder's files; returns the text."""
    path = Path(folder)
    about_file = path / "comparison.json"
    about = read_json(about_file) if about_file.exists() else {}
    tails_file = path / "tails.csv"
    text = comparison_text(about, read_csv(path / "comparison.csv"),
                           read_csv(tails_file) if tails_file.exists() else pd.DataFrame(),
                           read_parquet(path / "runs.parquet"))
    atomic_write_text(path / "comparison.txt", text + "\n")
    return text
