"""What a proposal changes, as the diff of the two resolved scenarios.

Both arms are validated and dumped with every default filled in, so the diff shows what the
simulation will actually run differently - a proposal file that restates a default changes
nothing and is shown as nothing, and a whole-scenario proposal (`extends = ...`) is
compared field by field. Paths are spelled as `[overrides]` spells them
(`protocols[aave].reserves.GOV.liquidation_threshold`): list items with a `name` or `symbol`
by it, others (shocks) by index; items only in the proposal are listed whole as appended.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.scenario import parse_scenario

#: the proposal's own identity, not a change to the world
_IDENTITY = ("name", "description")


@dataclass(frozen=True)
class Change:
    path: str
    base: Any  # None: the item is new (appended)
    proposal: Any  # None: the item is gone (removed)
    kind: str = "changed"  # changed | appended | removed

    def line(self) -> str:
        """`path: base -> proposal`, or `appended path: k=v ...` for a new list item."""
        if self.kind == "appended":
            return f"appended {self.path}: {describe(self.proposal)}"
        if self.kind == "removed":
            return f"removed {self.path}: {describe(self.base)}"
        return f"{self.path}: {describe(self.base)} -> {describe(self.proposal)}"


def resolved_diff(base_raw: Mapping[str, Any], prop_raw: Mapping[str, Any]) -> list[Change]:
    """The fields whose resolved values differ between the baseline and the proposal."""
    base = parse_scenario(base_raw).model_dump(mode="json")
    prop = parse_scenario(prop_raw).model_dump(mode="json")
    for key in _IDENTITY:
        base.pop(key, None)
        prop.pop(key, None)
    return list(_diff(base, prop, ""))


def describe(value: Any) -> str:
    """A value in one short line; a table (a list item) as its set fields `k=v`."""
    if isinstance(value, Mapping):
        return " ".join(f"{k}={describe(v)}" for k, v in value.items()
                        if v is not None and v != {} and v != [])
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e4 and value.is_integer() else f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    return str(value)


def _diff(base: Any, prop: Any, path: str):
    if isinstance(base, Mapping) and isinstance(prop, Mapping):
        for key in [*base, *(k for k in prop if k not in base)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in prop:
                yield Change(where, base[key], None, "removed")
            elif key not in base:
                yield Change(where, None, prop[key], "appended")
            else:
                yield from _diff(base[key], prop[key], where)
    elif isinstance(base, list) and isinstance(prop, list) and _items(base + prop):
        named = _named(base) and _named(prop)
        ids_b = [_id(x, i, named) for i, x in enumerate(base)]
        ids_p = [_id(x, i, named) for i, x in enumerate(prop)]
        for ident, item in zip(ids_b, base, strict=True):
            where = f"{path}[{ident}]"
            if ident in ids_p:
                yield from _diff(item, prop[ids_p.index(ident)], where)
            else:
                yield Change(where, item, None, "removed")
        for ident, item in zip(ids_p, prop, strict=True):
            if ident not in ids_b:
                yield Change(f"{path}[{ident}]", None, item, "appended")
    elif base != prop:
        yield Change(path, base, prop)


def _items(values: list[Any]) -> bool:
    return bool(values) and all(isinstance(v, Mapping) for v in values)


def _named(items: list[Any]) -> bool:
    ids = [_name(x) for x in items]
    return all(i is not None for i in ids) and len(set(ids)) == len(ids)


def _name(item: Mapping[str, Any]) -> str | None:
    return item.get("name") or item.get("symbol")


def _id(item: Mapping[str, Any], index: int, named: bool) -> str:
    return str(_name(item)) if named else str(index)
