"""daosim's Python API: the names a notebook or script needs, and nothing internal.

    import daosim

    run = daosim.run("experiments/scenarios/baseline.toml", seed=3)
    run.summary["bad_debt_usd"], run.timeseries, run.events, run.graph

    cmp = daosim.compare("experiments/scenarios/baseline.toml",
                         "experiments/proposals/gov_lt_50.toml", runs=10)
    print(cmp.headline)

Everything else in the project's packages (`sim`, `agents`, `protocols`, `experiments`,
`reports`, `cli`) is internal and may change between versions; these names follow the
CHANGELOG.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: the one place the version is written (pyproject.toml reads it from here)
__version__ = "0.4.0"

#: each public name and the module it lives in; imported on first use, so `import daosim`
#: and `daosim --version` stay instant (the simulator loads with the first run)
_HOMES = {"load": "daosim.api", "run": "daosim.api", "compare": "daosim.api",
          "sweep": "daosim.api", "open": "daosim.api", "query": "experiments.query",
          "Run": "daosim.results",
          "Comparison": "daosim.results", "Sweep": "daosim.results",
          "ConfigError": "protocols.errors", "DaosimError": "protocols.errors",
          "Scenario": "spec"}

__all__ = ["Comparison", "ConfigError", "DaosimError", "Run", "Scenario", "Sweep",
           "__version__", "compare", "load", "open", "query", "run", "sweep"]

if TYPE_CHECKING:
    from daosim.api import compare, load, open, run, sweep
    from daosim.results import Comparison, Run, Sweep
    from experiments.query import query
    from protocols.errors import ConfigError, DaosimError
    from spec import Scenario


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'daosim' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
