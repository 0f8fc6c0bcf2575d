"""The README's "Python API" section runs as written: its Python blocks are executed in
order, in one namespace, from a folder laid out like the repository (so its relative paths
hold and its outputs land in the test's folder)."""

import contextlib
import io
import re
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]


def api_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_section_has_the_blocks_a_notebook_user_copies():
    code = "\n".join(api_blocks())
    for call in ("daosim.run(", "daosim.load(", "daosim.compare(", "daosim.open(", ".report()",
                 "cmp.differences(", "sns."):
        assert call in code


def test_the_python_api_section_runs_as_written(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in api_blocks():
            exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    out = printed.getvalue()
    import daosim

    run, cmp = namespace["run"], namespace["cmp"]
    # what the comments in the README say the lines print
    assert f"Run(scenario='baseline', seed=7, steps=720, events={len(run.events)})" in out
    assert "steps: must be >= 1, got -1" in out
    assert isinstance(cmp, daosim.Comparison) and len(cmp.runs) == 12
    assert out.count(cmp.verdict("bad_debt_usd")) >= 1
    assert (tmp_path / "out/notebook/gov-lt-50/report.html").is_file()
    assert len(namespace["differences"]) == 6
    assert namespace["differences"].mean() == pytest.approx(
        cmp.table.set_index("metric").at["bad_debt_usd", "diff_mean"])
