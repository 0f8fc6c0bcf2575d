"""Strip a notebook's outputs and execution counts, so that git keeps only its source.

    .venv/bin/python examples/strip_outputs.py examples/*.ipynb

Run it before committing a notebook; `tests/test_examples.py` checks that the committed
notebooks were stripped (and reuses `strip`). Written with `json` alone, as nbformat writes
notebooks (indent 1, sorted keys), so it needs no extra package.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: cell metadata that records a run (nbclient's timings, collapsed/scrolled views)
RUN_METADATA = ("execution", "collapsed", "scrolled")


def strip(notebook: dict[str, Any]) -> dict[str, Any]:
    """`notebook` (as JSON) without outputs, execution counts or per-run cell metadata."""
    for cell in notebook["cells"]:
        for key in RUN_METADATA:
            cell.get("metadata", {}).pop(key, None)
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return notebook


def text(notebook: dict[str, Any]) -> str:
    """The notebook file's text, as nbformat writes it."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(paths: list[str]) -> int:
    for name in paths:
        path = Path(name)
        before = path.read_text(encoding="utf-8")
        after = text(strip(json.loads(before)))
        if after != before:
            path.write_text(after, encoding="utf-8")
            print(f"stripped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
