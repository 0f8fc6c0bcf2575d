"""Provenance: which code, which libraries and which scenario bytes made an output folder.

Every output folder (run, sweep, comparison) gets a `provenance.json` (`record`); a run's
summary carries the two deterministic parts, `daosim_version` and `scenario_sha256`
(`summary_keys`), so that two identical runs still have identical summaries - the git dirty
flag, the command line and the clock live in `provenance.json` only.

The scenario hash is the sha256 of exactly the bytes of the run folder's `scenario.json`
(`scenario_bytes`: the validated scenario as `model_dump_json(indent=2)`, UTF-8), so
`sha256sum OUT/scenario.json` gives it back.
"""

from __future__ import annotations

import hashlib
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from spec import Scenario

#: the distribution name in pyproject.toml ([project] name)
DISTRIBUTION = "daosim"
#: libraries whose versions decide results, reported beside daosim's own
LIBRARIES = ("numpy", "pandas", "mesa", "scipy", "networkx", "pydantic", "pyarrow")
#: the checkout (or site-packages folder) the package is imported from
ROOT = Path(__file__).resolve().parents[1]
#: where `daosim.__version__` is written
VERSION_FILE = ROOT / "daosim" / "__init__.py"
#: seconds a `git` call may take before provenance says "unknown" instead of waiting
GIT_TIMEOUT_S = 5.0


def scenario_bytes(scenario: Scenario) -> bytes:
    """The resolved scenario as written to a run folder's `scenario.json`."""
    return scenario.model_dump_json(indent=2).encode("utf-8")


def scenario_sha256(scenario: Scenario) -> str:
    """sha256 (hex) of `scenario_bytes(scenario)`: what `sha256sum scenario.json` prints."""
    return hashlib.sha256(scenario_bytes(scenario)).hexdigest()


def daosim_version() -> str:
    """`daosim.__version__`, read from its file (the one place it is written; pyproject.toml
    reads it from there too), which sits beside this package in a checkout and in an
    installed wheel alike; "unknown" when it cannot be read. Read, not imported: `daosim` is
    the layer above this one."""
    try:
        text = VERSION_FILE.read_text()
    except OSError:
        return "unknown"
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    return found.group(1) if found else "unknown"


def summary_keys(scenario: Scenario) -> dict[str, str]:
    """The provenance a run's summary carries: deterministic, so identical runs agree."""
    return {"daosim_version": daosim_version(), "scenario_sha256": scenario_sha256(scenario)}


def git_state(root: Path = ROOT) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout whose top folder is `root`; (None, None) when
    `root` is not the top of a checkout (an installed package inside someone else's
    repository), git is missing or it fails - provenance never fails a run."""
    def git(*args: str) -> str:
        return subprocess.run(("git", "-C", str(root), *args), capture_output=True, text=True,
                              check=True, timeout=GIT_TIMEOUT_S).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root.resolve():
            return None, None
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit, dirty


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries in LIBRARIES (None when one is missing)."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def record(scenarios: dict[str, str] | None = None) -> dict[str, Any]:
    """The provenance of an output folder made now by this process; `scenarios` maps a
    label (the run's scenario, a sweep's base, a comparison's arms) to its sha256."""
    commit, dirty = git_state()
    return {
        "daosim_version": daosim_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "libraries": library_versions(),
        "platform": platform.platform(),
        "command": list(sys.argv),
        "scenario_sha256": dict(scenarios or {}),
        "written_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
