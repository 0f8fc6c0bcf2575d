"""The what-if form, generated from the scenario schema (`spec`): which fields it offers, the
widget each gets, and how changed widgets become the dotted-path overrides of
`daosim run --set`.

A field's widget follows its pydantic type (a number an input box, a `Literal` a choice, a
bool a checkbox), its bounds and doc come from the model's constraints and `#:` comments (as
`daosim schema` and the JSON Schema show them), and its value is the scenario's. Bounds are
shown, not enforced by the widget: a value out of bounds is refused by the same validation as
the command line, with the same field-named message (`sim.scenario.parse_scenario`).
"""

from __future__ import annotations

import ast
import inspect
import math
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import annotated_types as at
from pydantic import BaseModel

from agents.policies import BUILTIN, resolve_policy
from spec import Scenario
from spec.json_schema import field_docs
from spec.protocols import Bridge, Curve, Lending, UniswapV2, UniswapV3
from spec.treasury import Policy

_BOUNDS = ((at.Gt, "gt", ">"), (at.Ge, "ge", ">="), (at.Lt, "lt", "<"), (at.Le, "le", "<="))
#: the off-chain depth of an asset or a bridge's wrapped token (`protocols.offchain`)
DEPTH_FIELDS = ("external_depth_usd", "external_half_life_hours")
POOLS = (UniswapV2, UniswapV3, Curve)
SECTIONS = ("Run", "Treasury policy", "Lending", "Shocks", "Market depth")


@dataclass(frozen=True)
class FieldSpec:
    """One field of the form. `path` addresses it as `--set` does (list items by name, shocks
    by index); `where` names it as validation errors do (list items by index)."""

    path: str
    where: str
    section: str
    group: str  # the row it is shown in: a reserve, a shock, a pool
    name: str
    kind: str  # "float", "int", "bool" or "choice"
    value: Any  # the scenario's value; None = unset (for a cap: no cap)
    optional: bool
    bounds: tuple[tuple[str, float], ...] = ()
    choices: tuple[Any, ...] = ()
    doc: str = ""
    #: the policy kinds that read this parameter (None: shown whatever the policy)
    kinds: frozenset[str] | None = None

    def bounds_text(self) -> str:
        signs = dict((attr, sign) for _, attr, sign in _BOUNDS)
        return ", ".join(f"{signs[attr]} {bound:g}" for attr, bound in self.bounds)

    def help(self) -> str:
        """The widget's tooltip: path, type and bounds, and the schema's doc."""
        text = f"{self.path}: {self.kind}"
        if self.bounds:
            text += f" ({self.bounds_text()})"
        if self.optional:
            text += "; empty = " + ("no cap" if "cap" in self.name else "unset (the default)")
        return f"{text}. {self.doc}".strip()


def shape(annotation: Any, metadata: list[Any]) -> tuple[str, bool, tuple, tuple] | None:
    """A field type as (widget kind, optional, bounds, choices); None for what the form does
    not offer (text, lists, tables, a number-or-matrix)."""
    meta = list(metadata)
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return None
        annotation = args[0]
    while typing.get_origin(annotation) is typing.Annotated:
        annotation, *extra = typing.get_args(annotation)
        meta += [m for e in extra for m in getattr(e, "metadata", [e])]
    choices: tuple[Any, ...] = ()
    if typing.get_origin(annotation) is typing.Literal:
        kind, choices = "choice", typing.get_args(annotation)
        if len(choices) < 2:
            return None  # a tag such as a shock's `kind`: nothing to choose
    elif annotation is bool:
        kind = "bool"
    elif annotation in (int, float):
        kind = annotation.__name__
    else:
        return None
    bounds = tuple((attr, float(getattr(m, attr))) for m in meta
                   for cls, attr, _ in _BOUNDS if isinstance(m, cls))
    return kind, optional, bounds, choices


def model_fields(model: BaseModel, path: str, where: str, section: str, group: str,
                 names: tuple[str, ...] | None = None,
                 kinds: Mapping[str, frozenset[str]] | None = None) -> Iterator[FieldSpec]:
    """The form's fields of one model instance (all its scalar fields, or `names`)."""
    cls = type(model)
    docs = field_docs(cls)
    for name, info in cls.model_fields.items():
        if names is not None and name not in names:
            continue
        found = shape(info.annotation, info.metadata)
        if found is None:
            continue
        kind, optional, bounds, choices = found
        value = getattr(model, name)
        if isinstance(value, float) and math.isinf(value):  # a cap's "no cap"
            value, optional = None, True
        yield FieldSpec(f"{path}.{name}", f"{where}.{name}", section, group, name, kind, value,
                        optional, bounds, choices, docs.get(name, ""),
                        kinds.get(name) if kinds is not None else None)


def policy_reads() -> dict[str, frozenset[str]]:
    """Which built-in policies read each `treasury.policy` parameter: the `spec.NAME` their
    `from_spec` uses (read from its source, so a new policy's parameters appear by
    themselves)."""
    reads: dict[str, set[str]] = {}
    for kind in BUILTIN:
        source = inspect.getsource(resolve_policy(kind).from_spec)
        tree = ast.parse(inspect.cleandoc("\n" + source) if source[0] == " " else source)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "spec" and node.attr in Policy.model_fields):
                reads.setdefault(node.attr, set()).add(kind)
    return {name: frozenset(kinds) for name, kinds in reads.items()}


def form_fields(scenario: Scenario) -> list[FieldSpec]:
    """Every field the form offers for `scenario`, section by section: seed and horizon; the
    treasury policy (its kind and the parameters the built-in policies read); each lending
    market's close factor and each reserve's risk parameters; each shock's numbers; the
    pools' depth (TVL, fee, amplification) and the assets' and bridges' off-chain depth."""
    fields = list(model_fields(scenario, "", "", "Run", "run", ("seed", "steps")))
    fields = [replace(f, path=f.name, where=f.name) for f in fields]
    policy = scenario.treasury.policy
    kinds = tuple(sorted(BUILTIN)) + (() if policy.kind in BUILTIN else (policy.kind,))
    fields.append(FieldSpec("treasury.policy.kind", "treasury.policy.kind", "Treasury policy",
                            "policy", "kind", "choice", policy.kind, False, (), kinds,
                            _first_line(Policy.__doc__)))
    reads = policy_reads()
    fields += model_fields(policy, "treasury.policy", "treasury.policy", "Treasury policy",
                           "policy", tuple(reads), reads)
    for index, protocol in enumerate(scenario.protocols):
        path, where = f"protocols[{protocol.name}]", f"protocols[{index}]"
        if isinstance(protocol, Lending):
            fields += model_fields(protocol, path, where, "Lending", protocol.name)
            for symbol, reserve in protocol.reserves.items():
                fields += model_fields(reserve, f"{path}.reserves.{symbol}",
                                       f"{where}.reserves.{symbol}", "Lending",
                                       f"{protocol.name} {symbol}")
        elif isinstance(protocol, POOLS):
            fields += model_fields(protocol, path, where, "Market depth", protocol.name)
        elif isinstance(protocol, Bridge):
            fields += model_fields(protocol, path, where, "Market depth", protocol.name,
                                   DEPTH_FIELDS)
    for index, asset in enumerate(scenario.assets):
        fields += model_fields(asset, f"assets[{asset.symbol}]", f"assets[{index}]",
                               "Market depth", f"{asset.symbol} off-chain", DEPTH_FIELDS)
    for index, shock in enumerate(scenario.shocks):
        subject = getattr(shock, "asset", None) or getattr(shock, "protocol", None) or ""
        fields += model_fields(shock, f"shocks[{index}]", f"shocks[{index}]", "Shocks",
                               f"shocks[{index}] {shock.kind} {subject}".rstrip())
    return fields


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n\n")[0].replace("\n", " ")


def coerce(spec: FieldSpec, value: Any) -> Any:
    """A widget's value as the scenario field takes it (an int field gets an int)."""
    if value is None or value == "":
        return None
    if spec.kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def changed(spec: FieldSpec, value: Any) -> bool:
    value = coerce(spec, value)
    if value is None or spec.value is None:
        return value is not spec.value
    if spec.kind in ("int", "float") and not isinstance(value, bool):
        return not math.isclose(float(value), float(spec.value), rel_tol=1e-12, abs_tol=0.0)
    return value != spec.value


def overrides(fields: list[FieldSpec], values: Mapping[str, Any]) -> dict[str, Any]:
    """The dotted-path overrides of the fields whose value the user changed (only those)."""
    return {spec.path: coerce(spec, values[spec.path]) for spec in fields
            if spec.path in values and changed(spec, values[spec.path])}


def field_errors(fields: list[FieldSpec], message: str) -> dict[str, str]:
    """The problems of a validation message (`  where: reason` lines, as
    `sim.problems.report` writes them) by the path of the form's field they name."""
    by_where = {spec.where: spec.path for spec in fields}
    found: dict[str, str] = {}
    for line in message.splitlines():
        where, sep, reason = line.strip().partition(": ")
        if sep and where in by_where:
            found[by_where[where]] = reason
    return found


__all__ = ["SECTIONS", "FieldSpec", "changed", "coerce", "field_errors",
           "form_fields", "overrides", "policy_reads", "shape"]
