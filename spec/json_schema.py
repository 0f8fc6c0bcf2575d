"""The JSON Schema of a scenario file as written, for editors: a TOML language server (Taplo /
"Even Better TOML", tombi) with it completes field names, shows each field's doc on hover
and marks errors while typing. `daosim schema --json` prints it.

Pydantic generates it from `spec.Scenario`; on top of the model it says what a FILE may hold
(`sim.scenario.read_scenario`): `extends = "base.toml"` (the file then holds only the fields
it changes, so `assets` is not required; every other required field sits inside an array
item, and arrays replace rather than merge, so those stay required - tests/test_json_schema.py
checks this), `[overrides]` (dotted path -> value) and `[[append.LIST]]` (items added to a
list), and a proposal file (only name, description, overrides, append:
`sim.scenario.PROPOSAL_KEYS`).
Protocols and shocks are chosen by `kind` through `if`/`then` rather than pydantic's
`oneOf`, so an editor reports the field the user got wrong, not "matches none of 5".
Field docs are the models' `#:` comments, copied into `description`.

Draft 2020-12, what pydantic writes (`$defs`, keywords beside `$ref`); Taplo 0.9.3 and
tombi 1.9 check it (README, "Editor support").

Knowingly looser than loading the file (`daosim check` has the last word):
- cross-references (`sim.checks`: a pool naming an unknown asset, a shock naming an unknown
  protocol, a policy that cannot be imported) and the models' `model_validator`s (e.g. a
  reserve's ltv <= liquidation_threshold, the removed `distress.bad_debt_usd`);
- `[overrides]` takes any dotted path and value (checked once applied, by loading), and a
  file that `extends` another is checked field by field, not as the scenario they make;
- TOML's `nan` passes a number field without bounds (pydantic refuses every NaN), and
  `inf` defaults (a reserve's caps) are left out: JSON has no infinity.
"""

from __future__ import annotations

import ast
import copy
import inspect
import math
import textwrap
import typing
from typing import Any

from pydantic import BaseModel

from spec.scenario import Scenario

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:daosim:scenario"
#: the top-level keys of a proposal: a diff on a baseline (`sim.scenario.PROPOSAL_KEYS`)
PROPOSAL_KEYS = ("append", "description", "name", "overrides")


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario (or proposal) TOML file, as a JSON-ready dict."""
    schema = Scenario.model_json_schema()
    _describe_fields(schema)
    _drop_nonfinite_defaults(schema)
    schema = _kind_conditionals(schema)
    required = schema.pop("required")
    properties = schema["properties"]
    properties["extends"] = {
        "type": "string", "minLength": 1, "title": "Extends",
        "description": "A scenario file this one starts from (relative to this file): its "
                       "tables merge key by key under this file's, arrays and values are "
                       "replaced; this file then holds only what it changes.",
    }
    properties["overrides"] = {
        "type": "object", "title": "Overrides", "additionalProperties": True,
        "propertyNames": {"minLength": 1},
        "description": "Dotted paths set after `extends` is merged, e.g. "
                       "\"protocols[aave].reserves.GOV.liquidation_threshold\" = 0.5 (a list "
                       "item by index or by its name / symbol).",
    }
    properties["append"] = _append_schema(schema)
    # `additionalProperties: true` in these tests is standard JSON Schema's default, spelled
    # out for tombi, whose strict mode reads a missing one as false
    is_diff = {"anyOf": [_open({"required": ["overrides"]}), _open({"required": ["append"]})],
               "propertyNames": {"enum": list(PROPOSAL_KEYS)}, "additionalProperties": True}
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        **schema,
        "title": "daosim scenario",
        "description": "A daosim scenario file: a whole scenario, one that `extends` another "
                       "and holds only what it changes, or a governance proposal (only name, "
                       "description, [overrides] and [[append.LIST]]). `daosim schema` lists "
                       "every field; `daosim check FILE` is the full check.",
        # a whole scenario needs its assets; a file extending another, or a proposal, not
        "if": _open({"anyOf": [_open({"required": ["extends"]}), is_diff]}),
        "else": _open({"required": required}),
    }


def _open(test: dict[str, Any]) -> dict[str, Any]:
    return {**test, "additionalProperties": True}


def _models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from `model`'s fields, by class name (pydantic's `$defs` keys)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(annotation: object) -> None:
        if (isinstance(annotation, type) and issubclass(annotation, BaseModel)
                and annotation.__name__ not in found):
            found[annotation.__name__] = annotation
            for info in annotation.model_fields.values():
                visit(info.annotation)
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(model)
    return found


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The `#:` comment above each field in the model's source, as one line of text."""
    try:
        lines = textwrap.dedent(inspect.getsource(model)).splitlines()
    except (OSError, TypeError):  # no source (a frozen build): no descriptions
        return {}
    docs = {}
    for node in ast.parse("\n".join(lines)).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above: list[str] = []
            row = node.lineno - 2
            while row >= 0 and lines[row].strip().startswith("#:"):
                above.insert(0, lines[row].strip()[2:].strip())
                row -= 1
            if above:
                docs[node.target.id] = " ".join(above)
    return docs


def _describe_fields(schema: dict[str, Any]) -> None:
    """Each field's `#:` doc as its `description` (what editors show on hover)."""
    for name, model in _models(Scenario).items():
        target = schema if model is Scenario else schema["$defs"].get(name)
        if target is None:
            continue
        for field, doc in field_docs(model).items():
            prop = target["properties"].get(field)
            if prop is not None and "description" not in prop:
                prop["description"] = doc


def _drop_nonfinite_defaults(node: Any) -> None:
    if isinstance(node, dict):
        default = node.get("default")
        if isinstance(default, float) and not math.isfinite(default):
            del node["default"]
            note = f"Default: {default} (TOML `{default}`)."
            node["description"] = f"{node['description']} {note}" if "description" in node \
                else note
        for value in node.values():
            _drop_nonfinite_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_nonfinite_defaults(value)


def _kind_conditionals(node: Any) -> Any:
    """Pydantic's discriminated `oneOf` as `kind` enum + one `if kind == X then X's schema`
    per kind: a wrong field in a shock is reported on that field."""
    if isinstance(node, list):
        return [_kind_conditionals(value) for value in node]
    if not isinstance(node, dict):
        return node
    node = {key: _kind_conditionals(value) for key, value in node.items()}
    if "discriminator" not in node:
        return node
    tag, mapping = node["discriminator"]["propertyName"], node["discriminator"]["mapping"]
    kinds = sorted(mapping)
    return {
        "type": "object",
        "required": [tag],
        "properties": {tag: {"enum": kinds, "description": f"one of {', '.join(kinds)}"}},
        "additionalProperties": True,  # each kind's own schema (below) refuses the rest
        "allOf": [{"if": _open({"properties": {tag: {"const": kind}}, "required": [tag]}),
                   "then": {"$ref": mapping[kind]}} for kind in kinds],
    }


def _append_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`[[append.LIST]]`: items added at the end of a list reached through tables (as
    `sim.scenario.apply_appends` walks), typed as that list's items."""
    defs = schema["$defs"]

    def lists(node: dict[str, Any]) -> dict[str, Any] | None:
        if "$ref" in node:
            return lists(defs[node["$ref"].rsplit("/", 1)[1]])
        if node.get("type") == "array":
            return {"type": "array", "items": copy.deepcopy(node.get("items", {})),
                    "description": "items added at the end of this list"}
        inner = {name: found for name, prop in node.get("properties", {}).items()
                 if (found := lists(prop)) is not None}
        if isinstance(node.get("additionalProperties"), dict):
            values = lists(node["additionalProperties"])
            if values is not None:
                return {"type": "object", "additionalProperties": values}
        if not inner:
            return None
        return {"type": "object", "properties": inner, "additionalProperties": False}

    found = lists({"properties": schema["properties"]})
    assert found is not None  # a scenario has lists (assets, protocols, shocks)
    return {**found, "title": "Append",
            "description": "Items added at the end of lists after `extends` and `[overrides]`, "
                           "e.g. [[append.shocks]] or [[append.treasury.actions]]."}
