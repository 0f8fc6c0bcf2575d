"""Load and validate scenario files; every problem becomes one line naming its field.

`load_scenario(path)` reads TOML, validates it against `spec.Scenario`, checks the
cross-references between sections (`sim.checks`: pools name known assets, shocks name
known protocols) and raises a single `ConfigError` listing every problem as
`protocols[2].liquidation_threshold: must be <= 1, got 1.2` - never a traceback from inside.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from protocols.errors import ConfigError
from sim.checks import reference_problems
from sim.problems import describe, report
from spec import Scenario


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read, resolve (`extends`, `[overrides]`), override (dotted paths) and validate a
    scenario file."""
    raw = read_scenario(path)
    if overrides:
        raw = apply_overrides(raw, overrides)
    return parse_scenario(raw, source=str(path))


def read_scenario(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw scenario dict of a file, with its base file merged in.

    A file may start from another: `extends = "baseline.toml"` (relative to the file) takes
    the base's tables and deep-merges this file's over them (tables merge key by key; arrays
    and values replace), then applies this file's `[overrides]` table of dotted paths
    (`"protocols[aave-main].reserves.GOV.liquidation_threshold" = 0.5`), then adds this
    file's `[[append.LIST]]` items to those lists (e.g. a governance action to `shocks`). A
    governance proposal is usually such a diff, so it is written as one.
    """
    path = Path(path)
    raw = read_toml(path, "scenario")
    diff = raw.keys() & {"overrides", "append"} and raw.keys() <= PROPOSAL_KEYS
    if diff and "extends" not in raw:
        raise ConfigError(
            f"{path}: a proposal (changes to a baseline), not a whole scenario: check it with "
            f"`daosim check {path} --base BASELINE.toml`, run it with `daosim compare "
            f"BASELINE.toml {path}`"
        )
    base = raw.pop("extends", None)
    overrides = raw.pop("overrides", {})
    appends = raw.pop("append", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f"{path}: overrides: must be a table of dotted paths")
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: extends: must be a file name, got {base!r}")
        base_path = (path.parent / base).resolve()
        if base_path in _seen or base_path == path.resolve():
            raise ConfigError(f"{path}: extends: {base!r} extends itself (a cycle)")
        try:
            parent = read_scenario(base_path, (*_seen, path.resolve()))
        except ConfigError as exc:
            raise ConfigError(f"{path}: extends: {exc}") from None
        raw = deep_merge(parent, raw)
    raw = apply_overrides(raw, overrides, source=str(path)) if overrides else raw
    return apply_appends(raw, appends, source=str(path)) if appends else raw


#: the keys of a proposal file that is a diff on a baseline (not a scenario of its own)
PROPOSAL_KEYS = frozenset({"name", "description", "overrides", "append"})


def load_proposal(
    baseline: str | Path, proposal: str | Path, overrides: Mapping[str, Any] | None = None
) -> Scenario:
    """The scenario a proposal makes of its baseline (as `daosim compare` runs it), with
    `overrides` on top."""
    base_raw = read_scenario(baseline)
    parse_scenario(base_raw, source=str(baseline))
    _, raw = proposal_scenario(base_raw, proposal)
    return parse_scenario(apply_overrides(raw, overrides) if overrides else raw,
                          source=str(proposal))


def proposal_scenario(
    base_raw: Mapping[str, Any], proposal: str | Path,
    settings: Mapping[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The name and raw scenario of `proposal` on the baseline `base_raw`.

    A proposal file is either a diff - only `name`, `description`, `[overrides]` of dotted
    paths and `[[append.LIST]]` items - applied to the baseline, or a scenario of its own
    (`extends = "..."`, or a whole scenario with its `[[assets]]`). A file that is neither
    gets a message saying which it looks like and what is missing. `settings`: dotted-path
    overrides the comparison already applied to `base_raw` (a shorter horizon, moved
    shocks), applied to a proposal that is a scenario of its own as well.
    """
    proposal = Path(proposal)
    top = read_toml(proposal, "proposal")
    fields = sorted(set(top) - PROPOSAL_KEYS - {"extends"})
    if "extends" in top or (fields and "overrides" not in top and "append" not in top
                            and "assets" in top):
        raw = read_scenario(proposal)
        if settings:
            raw = apply_overrides(raw, settings, source="overrides")
        return str(raw.get("name", proposal.stem)), raw
    if fields:
        shown = ", ".join(fields)
        raise ConfigError(
            f"{proposal}: {shown}: a proposal changes its baseline through [overrides] "
            f"(e.g. \"{fields[0]}\" = ... under [overrides]) and [[append.LIST]]; top-level "
            "fields are only for a whole scenario (with its [[assets]], or extends = "
            "\"baseline.toml\")"
        )
    overrides, appends = top.get("overrides", {}), top.get("append", {})
    if not isinstance(overrides, dict) or not (overrides or appends):
        raise ConfigError(f"{proposal}: overrides: needs a table of dotted paths to change on "
                          "the baseline, or [[append.shocks]] (or make the file a scenario)")
    raw = apply_overrides(base_raw, overrides, source=str(proposal))
    return str(top.get("name", proposal.stem)), apply_appends(raw, appends, source=str(proposal))


def apply_appends(
    raw: Mapping[str, Any], appends: Mapping[str, Any], source: str = "scenario",
    _where: str = "append",
) -> dict[str, Any]:
    """Return a copy of `raw` with the items of `appends` (`[[append.shocks]]`: list name ->
    items, nested for lists inside tables: `[[append.agents.borrowers]]`) added at the end
    of those lists - how a proposal adds a governance action to a baseline's shocks without
    restating them."""
    if not isinstance(appends, Mapping):
        raise ConfigError(f"{source}: {_where}: must be a table of lists, e.g. [[append.shocks]]")
    result = dict(raw)
    for key, items in appends.items():
        where = f"{_where}.{key}"
        current = result.get(key)
        if isinstance(items, Mapping) and isinstance(current, Mapping | None):
            result[key] = apply_appends(current or {}, items, source, where)
        elif isinstance(items, list) and isinstance(current, list | None):
            result[key] = [*(current or []), *items]
        else:
            raise ConfigError(
                f"{source}: {where}: must add a list to a list (here {_kind(items)} to "
                f"{_kind(current)}), e.g. [[append.shocks]] or [[append.agents.borrowers]]"
            )
    return result


def _kind(value: Any) -> str:
    return ("a table" if isinstance(value, Mapping) else "a list" if isinstance(value, list)
            else f"the value {value!r}")


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is a ConfigError naming it."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a {what} TOML file") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read the {what} file (permission denied)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8, save the "
            f"{what} file as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`: tables merge recursively, anything else in `top` replaces."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_scenario(raw: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Validate a scenario given as a dict (parsed TOML)."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(report(source, [describe(e) for e in exc.errors()])) from None
    problems = list(reference_problems(scenario))
    if problems:
        raise ConfigError(report(source, problems))
    return scenario


def apply_overrides(
    raw: Mapping[str, Any], overrides: Mapping[str, Any], source: str | None = None
) -> dict[str, Any]:
    """Return a copy of `raw` with dotted paths set to new values.

    A list item is addressed by index (`protocols.2.fee`, `protocols[2].fee`) or by its
    `name` / `symbol` (`protocols.aave-main.close_factor`, `assets[USDC.e].sigma`; brackets
    keep dots inside a name). A missing list item is an error; a missing table key is
    created (the schema then says whether it is allowed).
    """
    import copy

    result = copy.deepcopy(dict(raw))
    prefix = f"{source}: " if source else ""
    for dotted, value in overrides.items():
        keys = split_path(dotted)
        node: Any = result
        for depth, key in enumerate(keys):
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                index = _list_index(node, key)
                if index is None:
                    raise ConfigError(f"{prefix}{dotted}: no list item {key!r} at {where}")
                key = index
            elif not isinstance(node, dict):
                raise ConfigError(f"{prefix}{dotted}: {where} is not a table")
            if depth == len(keys) - 1:
                node[key] = value
            else:
                if isinstance(node, dict) and key not in node:
                    node[key] = {}
                node = node[key]
    return result


def split_path(dotted: str) -> list[str]:
    """`protocols[aave.v3].reserves.GOV` -> ['protocols', 'aave.v3', 'reserves', 'GOV']."""
    keys: list[str] = []
    rest = dotted
    while rest:
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise ConfigError(f"{dotted}: unclosed '[' in the path")
            keys.append(rest[1:close])
            rest = rest[close + 1 :].removeprefix(".")
        else:
            cut = min((i for i in (rest.find("."), rest.find("[")) if i >= 0), default=len(rest))
            keys.append(rest[:cut])
            rest = rest[cut:].removeprefix(".")
    if not keys or any(k == "" for k in keys):
        raise ConfigError(f"{dotted}: not a dotted path")
    return keys


def _list_index(items: list[Any], key: str) -> int | None:
    if key.isdigit():
        return int(key) if int(key) < len(items) else None
    for index, item in enumerate(items):
        if isinstance(item, dict) and key in (item.get("name"), item.get("symbol")):
            return index
    return None
