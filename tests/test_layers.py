"""The package's shape: imports point only downwards through the layers, and no module
imports itself back through others. Every import statement counts - at module level, inside
a function, under `if TYPE_CHECKING` - because each is a dependency a reader must follow."""

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: bottom to top (README, "Layout"): a module may import its own layer and those below.
LAYERS = ("spec", "protocols", "agents", "sim", "experiments", "reports", "daosim", "dashboard", "cli")
#: modules longer than this are a port of one contract (README, "Layout")
CONTRACT_PORTS = {
    "protocols.amm.concentrated": "UniswapV3Pool",
    "protocols.amm.stableswap": "Curve StableSwap3Pool",
    "protocols.lending.market": "Aave v3 Pool",
}
MAX_LINES = 450


def module_files() -> dict[str, Path]:
    files = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The project modules `name` imports, resolved as Python does (`from a import b` is
    module a.b when that is a module, else a)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in modules and t != name}
    return found


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    files = module_files()
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        graph.add_edges_from((name, target) for target in imports_of(name, path, set(files)))
    return graph


def layer(module: str) -> int:
    return LAYERS.index(module.partition(".")[0])


def test_the_walk_sees_the_whole_package(graph):
    assert {m.partition(".")[0] for m in graph} == set(LAYERS)
    assert graph.number_of_nodes() > 80 and graph.number_of_edges() > 200
    assert graph.has_edge("sim.model", "agents.allocator")  # a known import is found


def test_imports_never_point_to_a_higher_layer(graph):
    upward = sorted(f"{a} -> {b}" for a, b in graph.edges if layer(b) > layer(a))
    assert upward == []


def test_no_module_imports_itself_back_through_others(graph):
    circles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert circles == []


def test_modules_are_short_unless_they_port_one_contract():
    long = {name: sum(1 for _ in path.open()) for name, path in module_files().items()}
    long = {name: n for name, n in long.items() if n > MAX_LINES}
    assert set(long) <= set(CONTRACT_PORTS), long
