"""Fuzz: the shipped scenario, sweep and proposal files, mutated the way a hostile newcomer
would (wrong types, NaN and inf, extremes, missing and unknown keys, duplicated list items,
other encodings), through the command line in-process. The only outcomes allowed are
success or exit 2 with one message naming a field or the file - never a traceback."""

import json
import math
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.main import main
from experiments.sweepfile import load_sweep
from protocols.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "experiments" / "scenarios").glob("*.toml"))
SWEEPS = sorted((ROOT / "experiments" / "sweeps").glob("*.toml"))
PROPOSALS = sorted((ROOT / "experiments" / "proposals").glob("*.toml"))
BASELINE = ROOT / "experiments" / "scenarios" / "baseline.toml"
#: whole scenarios (no `extends`) that run without the historical data folder; `mutated`
#: shortens them
RUNNABLE = [ROOT / "experiments" / "scenarios" / f"{name}.toml"
            for name in ("baseline", "amm_arbitrage", "composed_markets")]

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e-300, 1e300, 2**63, "", "ETH", "1e6", "aave", [], {}, [[1.0]]]),
    st.text(max_size=6), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "kind", "name", "ETH"]), st.integers(-2, 2),
                    max_size=2),
)


SCALES = [0, -1, 1e-12, 1e-3, 0.5, 2, 1e3, 1e12, 1e300, math.inf, math.nan]


def toml_value(value: Any) -> str:
    """`value` as a TOML literal (inline tables and arrays for nested data)."""
    if value is None:
        return '""'  # TOML has no null: the nearest hostile thing is an empty string
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
                if math.isinf(value) else repr(value))
    if isinstance(value, int | str):
        return json.dumps(value) if isinstance(value, str) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}"
                           for k, v in value.items()) + "}"


def toml_text(raw: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(key)} = {toml_value(value)}\n" for key, value in raw.items())


def leaves(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path into `node` (tables by key, lists by index), the node itself first."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += leaves(value, (*path, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, files: list[Path], short: bool = False) -> tuple[Path, str | bytes]:
    """A shipped file and a hostile variant of its text (or bytes); `short`: 3 steps, with
    every shock moved inside them, so that a run is quick."""
    path = draw(st.sampled_from(files))
    raw = tomllib.loads(path.read_text())
    if short:
        raw["steps"] = 3
        for shock in raw.get("shocks", []):
            shock["step"] = min(shock["step"], 3)
    for key in ("extends", "base"):  # keep relative references working from a temp folder
        if isinstance(raw.get(key), str):
            raw[key] = str((path.parent / raw[key]).resolve())
    how = draw(st.sampled_from(["set", "set", "scale", "scale", "scale", "delete", "unknown",
                                "duplicate", "encoding"]))
    if how == "encoding":
        text = toml_text(raw)
        return path, draw(st.sampled_from([text.encode("utf-16"), text.encode("utf-32"),
                                           b"\x00\xff" + text.encode(), text.encode()[:57]]))
    where = draw(st.sampled_from(leaves(raw)[1:]))
    *parents, last = where
    node = raw
    for key in parents:
        node = node[key]
    if how == "set":
        node[last] = draw(VALUES)
    elif how == "scale" and isinstance(node[last], int | float) and not isinstance(
            node[last], bool):
        # a plausible number made extreme: the type is right, the size is not
        node[last] = node[last] * draw(st.sampled_from(SCALES))
    elif how == "delete":
        del node[last]
    elif how == "unknown" and isinstance(node[last], dict):
        node[last]["surprise"] = draw(VALUES)
    elif how == "duplicate" and isinstance(node[last], list) and node[last]:
        node[last].append(node[last][0])
    return path, toml_text(raw)


def write(tmp_path: Path, content: str | bytes) -> Path:
    target = tmp_path / "fuzzed.toml"
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return target


def only_success_or_a_named_refusal(argv: list[str], capsys) -> None:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2:
        first = err.removeprefix("daosim: ").splitlines()[0]
        assert err.startswith("daosim: ") and ": " in first, err


#: derandomized: the same few hundred examples on every run, so CI is repeatable
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(case=mutated(SCENARIOS))
def test_check_of_a_mutated_scenario(tmp_path, capsys, case):
    _, content = case
    only_success_or_a_named_refusal(["check", str(write(tmp_path, content))], capsys)


@settings(FUZZ, max_examples=60)
@given(case=mutated(RUNNABLE, short=True))
def test_a_short_run_of_a_mutated_scenario(tmp_path, capsys, case):
    _, content = case
    only_success_or_a_named_refusal(
        ["run", str(write(tmp_path, content)), "--no-report", "--out", str(tmp_path / "out")],
        capsys)


@settings(FUZZ, max_examples=100)
@given(case=mutated(PROPOSALS))
def test_check_of_a_mutated_proposal(tmp_path, capsys, case):
    _, content = case
    only_success_or_a_named_refusal(
        ["check", str(write(tmp_path, content)), "--base", str(BASELINE)], capsys)


@settings(FUZZ, max_examples=150)
@given(case=mutated(SWEEPS))
def test_a_mutated_sweep_file_loads_or_names_its_field(tmp_path, case):
    _, content = case
    try:
        load_sweep(write(tmp_path, content))
    except ConfigError as exc:
        assert ": " in str(exc).splitlines()[0]
