"""The example notebooks run end to end (nbclient, short settings) and are committed stripped.

Each notebook's first code cell, tagged `parameters`, is replaced by short settings; the
kernel runs in the repository root (the notebooks name scenario files relative to it) and
imports this checkout's packages (PYTHONPATH), with matplotlib's headless inline backend.
"""

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import daosim
from examples.strip_outputs import strip, text
from sim.historical import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
INLINE = "module://matplotlib_inline.backend_inline"
#: what a notebook may import: the public API and the libraries a user has anyway
PUBLIC = {"daosim", "pandas", "seaborn", "matplotlib", "networkx", "numpy", "os", "pathlib"}


def execute(name: str, parameters: str, monkeypatch) -> tuple[nbformat.NotebookNode, float]:
    """Run examples/NAME with its parameters cell replaced; (executed notebook, seconds)."""
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    first = next(c for c in notebook.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", [])
    first.source = parameters
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    # Jupyter's own inline backend: Agg-rendered, headless, and it is what turns a figure
    # into the cell's image/png output (plain "Agg" would show nothing)
    monkeypatch.setenv("MPLBACKEND", INLINE)
    start = time.perf_counter()
    NotebookClient(notebook, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return notebook, time.perf_counter() - start


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]


def shown(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or displayed as text."""
    parts = []
    for out in outputs(notebook):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
        parts.append(out.get("data", {}).get("text/html", ""))
    return "\n".join(parts)


def clean(notebook: nbformat.NotebookNode) -> int:
    """The number of figures; fails on an error or anything written to stderr."""
    found = outputs(notebook)
    assert not [o for o in found if o.output_type == "error"]
    assert not [o.text for o in found if o.get("name") == "stderr"]
    return sum("image/png" in o.get("data", {}) for o in found)


def test_the_proposal_analysis_runs_and_shows_the_verdict(tmp_path, monkeypatch):
    out = tmp_path / "proposal"
    notebook, seconds = execute("proposal_analysis.ipynb", (
        "RUNS = 5\nSTEPS = 168\nWORKERS = 1\n"
        f"OUT = {str(out)!r}\n"
        'BASELINE = "experiments/scenarios/baseline.toml"\n'
        'PROPOSAL = "experiments/proposals/gov_lt_50.toml"\n'), monkeypatch)
    print(f"proposal_analysis.ipynb: {seconds:.1f} s")
    assert clean(notebook) == 2  # the distributions and the paired differences
    assert (out / "distributions.png").stat().st_size > 10_000
    text_shown = shown(notebook)
    # the comparison the notebook made is in its folder; its headline is what it showed
    cmp = daosim.open(out / "compare")
    assert (cmp.baseline, cmp.proposal, len(cmp.runs)) == ("baseline", "gov-lt-50", 10)
    assert cmp.headline in text_shown
    # both arms were shortened with the proposal (step 48) still before the crash
    assert cmp.about["settings"] == {"steps": 168, "shocks[0].step": 56, "shocks[1].step": 56,
                                     "shocks[2].step": 93}
    assert "both arms run with: steps = 168, shocks[0].step = 56" in cmp.headline
    # the threshold cut liquidates GOV positions at once: a clear change in every pair
    rows = cmp.table.set_index("metric")
    assert rows.loc["positions_liquidated", "status"] == "changed"
    assert (cmp.differences("positions_liquidated") > 0).all()
    assert f"- {cmp.verdict('positions_liquidated')}" in text_shown
    assert "same table: True" in text_shown


@pytest.mark.skipif(not default_data_dir().is_dir(),
                    reason=f"no data directory at {default_data_dir()} (the replay reads it)")
def test_the_contagion_walkthrough_follows_the_black_thursday_cascade(tmp_path, monkeypatch):
    out = tmp_path / "contagion"
    notebook, seconds = execute("contagion_walkthrough.ipynb", (
        'SCENARIO = "experiments/scenarios/black_thursday_2020.toml"\n'
        'WHAT_IF = "experiments/scenarios/black_thursday_2020_delayed_oracle.toml"\n'
        f"SEED = None\nSTEPS = None\nOUT = {str(out)!r}\n"), monkeypatch)
    print(f"contagion_walkthrough.ipynb: {seconds:.1f} s")
    assert clean(notebook) >= 3  # the graph, the time series, the what-if
    run = daosim.open(out / "run")
    distress = run.events[run.events["kind"] == "distress"]
    assert list(distress["node"]) == ["treasury"]
    text_shown = shown(notebook)
    # the events table and the chain the notebook printed: ETH's fall -> the treasury
    assert "drawdown" in text_shown and "distress" in text_shown
    assert "issuer:ETH (origin, step 35) -> treasury" in text_shown
    assert (out / "graph.png").exists() and (out / "timeline.png").exists()


def test_strip_removes_outputs_and_counts_and_keeps_the_source():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("print(1)", execution_count=3, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="1\n")],
            metadata={"tags": ["parameters"], "execution": {"iopub.status.busy": "x"}})])
    stripped = strip(json.loads(nbformat.writes(notebook)))
    code = stripped["cells"][1]
    assert (code["outputs"], code["execution_count"]) == ([], None)
    assert code["metadata"] == {"tags": ["parameters"]} and "".join(code["source"]) == "print(1)"
    assert "".join(stripped["cells"][0]["source"]) == "# title"
    nbformat.validate(nbformat.reads(text(stripped), as_version=4))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebooks_are_stripped_and_valid(path):
    raw = path.read_text(encoding="utf-8")
    notebook = json.loads(raw)
    assert raw == text(strip(json.loads(raw))), \
        f"{path.name} has outputs: python examples/strip_outputs.py {path.relative_to(ROOT)}"
    nbformat.validate(nbformat.reads(raw, as_version=4))
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code[0]["metadata"].get("tags") == ["parameters"]
    # public names only: a notebook is what a user may copy
    source = "\n".join("".join(c["source"]) for c in code)
    imported = set(re.findall(r"^\s*(?:from|import)\s+(\w+)", source, flags=re.MULTILINE))
    assert imported <= PUBLIC, f"{path.name} imports {imported - PUBLIC}"


def test_both_examples_are_tested():
    assert [p.name for p in NOTEBOOKS] == ["contagion_walkthrough.ipynb",
                                           "proposal_analysis.ipynb"]
