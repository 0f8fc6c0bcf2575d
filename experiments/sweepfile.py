"""Read and validate a sweep file; every problem is one line naming its field.

A sweep file is TOML:

    name = "gov_exposure"             # optional, default: the file name
    base = "../scenarios/baseline.toml"  # scenario file, relative to this file
    design = "grid"                   # grid | lhs | sobol
    replicates = 4                    # runs per point (seeds shared across points)
    seed = 2026                       # root seed of every run seed and of the design
    samples = 64                      # lhs: points; sobol: base samples N (power of 2,
                                      # >= 64 or loading warns: see MIN_SOBOL_SAMPLES)
    timeseries = true                 # keep each run's time series and events
                                      # (timeseries/, events/: `daosim query`); false
                                      # saves the disk of a huge sweep

    [overrides]                       # dotted paths fixed for every run
    steps = 72

    [axes]                            # dotted paths varied: a list (grid) ...
    "treasury.holdings.GOV" = [4e6, 12e6]
    # ... or a range (lhs / sobol): { low = 0.4, high = 1.2, log = false, integer = false }
    "assets[ETH].sigma" = { low = 0.4, high = 1.2 }

Axes may also be written as nested tables (`[axes.treasury.holdings] GOV = [...]`).
Before anything runs, each axis value (both ends of a range) is applied alone to the base
scenario and validated, so a misspelt path or an impossible value fails here, not after
an hour of runs: `axes.treasury.holdings.GOV = -1: ... must be >= 0.0, got -1`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocols.errors import ConfigError
from sim.scenario import apply_overrides, parse_scenario, read_scenario, read_toml, split_path

_RANGE_KEYS = frozenset({"low", "high", "log", "integer"})
#: managed by the sweep itself, so not an axis or an override.
_RESERVED = frozenset({"seed"})
#: Base samples N below which a sobol design warns. Saltelli's estimators converge like
#: 1/sqrt(N), and SALib's examples use N = 1024. Measured on the Ishigami function (3
#: inputs, known indices; 20 design seeds each): N = 8 gives indices off by 0.37 (median
#: of the worst per design; up to 0.97) with 95 % intervals +-0.75 wide, as wide as an
#: index's whole 0..1 range; N = 64 is the smallest power of 2 where the median error is
#: near 0.1 and intervals about +-0.3, enough to tell a dominant input from a negligible
#: one. Ranking inputs of similar weight needs N of 512 or more (intervals +-0.1). The
#: bound warns rather than refuses: a short trial sweep is legitimate.
MIN_SOBOL_SAMPLES = 64


class SobolSampleWarning(UserWarning):
    """A sobol design has fewer than `MIN_SOBOL_SAMPLES` base samples."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    base: str
    design: Literal["grid", "lhs", "sobol"] = "grid"
    replicates: int = Field(default=1, ge=1, le=100_000)
    seed: int = Field(default=0, ge=0)
    samples: int | None = Field(default=None, ge=1, le=1_000_000)
    common_random_numbers: bool = True
    timeseries: bool = True
    overrides: dict[str, Any] = {}
    axes: dict[str, Any]


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: float
    high: float
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class Axis:
    """One varied parameter: `values` (grid) or a `low`..`high` range (lhs, sobol)."""

    path: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    def from_unit(self, u: float) -> float | int:
        """The parameter value at position `u` in [0, 1] of the range (log-uniform if
        `log`), rounded if `integer`."""
        assert self.low is not None and self.high is not None
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return round(value) if self.integer else value


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the resolved base scenario dict and the design to run on it."""

    name: str
    source: Path
    base_path: Path
    base: dict[str, Any]  # raw scenario dict, `extends` resolved, fixed overrides applied
    overrides: dict[str, Any]
    axes: tuple[Axis, ...]
    design: str
    replicates: int
    seed: int
    samples: int | None
    common_random_numbers: bool = True
    timeseries: bool = True
    description: str = field(default="")


def load_sweep(path: str | Path) -> Sweep:
    """Read, validate and resolve a sweep file (see the module docstring for the format)."""
    path = Path(path)
    raw = read_toml(path, "sweep")
    return parse_sweep(raw, source=path)


def parse_sweep(raw: dict[str, Any], source: Path) -> Sweep:
    """Validate a parsed sweep file whose relative paths are relative to `source`."""
    try:
        spec = _Spec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_report(source, [_describe(e) for e in exc.errors()])) from None
    problems: list[str] = []
    axes = list(_axes(spec.axes, problems))
    problems += _design_problems(spec, axes)
    for key in spec.overrides:
        if _is_reserved(key):
            problems.append(f"overrides.{key}: set `seed` at the top of the sweep file")
    if problems:
        raise ConfigError(_report(source, problems))

    base_path = (source.parent / spec.base).resolve()
    try:
        base = read_scenario(base_path)
    except ConfigError as exc:
        raise ConfigError(_report(source, [f"base: {_indent(exc)}"])) from None
    try:
        base = apply_overrides(base, spec.overrides, source="overrides")
        parse_scenario(base, source="overrides")
    except ConfigError as exc:
        raise ConfigError(_report(source, [_indent(exc)])) from None
    problems = list(_axis_value_problems(base, axes))
    if problems:
        raise ConfigError(_report(source, problems))
    if note := sample_warning(spec.design, spec.samples):
        warnings.warn(note, SobolSampleWarning, stacklevel=3)  # before an hour of runs
    return Sweep(
        name=spec.name or source.stem, source=source, base_path=base_path, base=base,
        overrides=dict(spec.overrides), axes=tuple(axes), design=spec.design,
        replicates=spec.replicates, seed=spec.seed, samples=spec.samples,
        common_random_numbers=spec.common_random_numbers, timeseries=spec.timeseries,
        description=spec.description,
    )


def _axes(node: dict[str, Any], problems: list[str], prefix: str = "") -> list[Axis]:
    """Flatten `[axes]` (quoted dotted keys or nested tables) into Axis objects."""
    axes: list[Axis] = []
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        where = f"axes.{path}"
        if isinstance(value, dict) and value and not (set(value) & _RANGE_KEYS):
            axes += _axes(value, problems, path)
            continue
        try:
            split_path(path)
        except ConfigError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if _is_reserved(path):
            problems.append(f"{where}: seeds are set by the sweep (`seed`, `replicates`), "
                            "not an axis")
        elif isinstance(value, list):
            if not value:
                problems.append(f"{where}: needs at least one value")
            elif len({repr(v) for v in value}) != len(value):
                problems.append(f"{where}: a value is listed twice")
            else:
                axes.append(Axis(path, values=tuple(value)))
        elif isinstance(value, dict):
            try:
                r = _Range.model_validate(value)
            except ValidationError as exc:
                problems += [f"{where}.{_describe(e)}" for e in exc.errors()]
                continue
            if not (math.isfinite(r.low) and math.isfinite(r.high)) or r.high <= r.low:
                problems.append(f"{where}: needs finite low < high, got {r.low}..{r.high}")
            elif r.log and r.low <= 0:
                problems.append(f"{where}.low: a log range needs low > 0, got {r.low}")
            else:
                axes.append(Axis(path, low=r.low, high=r.high, log=r.log, integer=r.integer))
        else:
            problems.append(f"{where}: must be a list of values (grid) or a range "
                            f"{{ low = .., high = .. }} (lhs, sobol), got {value!r}")
    return axes


def _design_problems(spec: _Spec, axes: list[Axis]) -> list[str]:
    problems: list[str] = []
    if not spec.axes:
        problems.append("axes: needs at least one axis")
    for axis in axes:
        if spec.design == "grid" and axis.values is None:
            problems.append(f"axes.{axis.path}: a grid design needs a list of values; "
                            "ranges belong to lhs or sobol designs")
        if spec.design != "grid" and axis.values is not None:
            problems.append(f"axes.{axis.path}: a {spec.design} design needs a range "
                            "{ low = .., high = .. }, not a list")
    if spec.design == "grid" and spec.samples is not None:
        problems.append("samples: only lhs and sobol designs take samples "
                        "(a grid runs every combination)")
    if spec.design != "grid" and spec.samples is None:
        problems.append(f"samples: is required for a {spec.design} design")
    if spec.design == "sobol" and spec.samples and spec.samples & (spec.samples - 1):
        problems.append(f"samples: a sobol design needs a power of 2 (Sobol' sequences "
                        f"balance only then), got {spec.samples}")
    return problems


def sample_warning(design: str, samples: int | None) -> str | None:
    """Why a sobol design's indices will be unreliable, or None (see MIN_SOBOL_SAMPLES)."""
    if design != "sobol" or samples is None or samples >= MIN_SOBOL_SAMPLES:
        return None
    return (f"samples = {samples}: a sobol design needs samples >= {MIN_SOBOL_SAMPLES}; "
            "with fewer its indices are mostly noise (S1 < 0, S1 > ST, S1 > 1, intervals "
            "wider than the indices)")


def _axis_value_problems(base: dict[str, Any], axes: list[Axis]) -> list[str]:
    """Each axis value applied alone to the base must give a valid scenario."""
    problems: list[str] = []
    for axis in axes:
        values = axis.values if axis.values is not None else (
            axis.from_unit(0.0), axis.from_unit(1.0))
        for value in values:
            where = f"axes.{axis.path} = {value!r}"
            try:
                parse_scenario(apply_overrides(base, {axis.path: value}), source=where)
            except ConfigError as exc:
                problems.append(_indent(exc))
    return problems


def _is_reserved(path: str) -> bool:
    try:
        return split_path(path)[0] in _RESERVED
    except ConfigError:
        return False


def _indent(exc: Exception) -> str:
    return str(exc).replace("\n", "\n  ")


def _report(source: Path, problems: list[str]) -> str:
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{source}: {len(problems)} {noun}:\n" + "\n".join(f"  {p}" for p in problems)


def _describe(error: dict[str, Any]) -> str:
    path = ".".join(str(p) for p in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "missing":
        return f"{path}: is required"
    if kind == "extra_forbidden":
        return f"{path}: unknown field (check its spelling against the documented format)"
    return f"{path}: {error['msg']}, got {error.get('input')!r}"
