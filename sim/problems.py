"""Validation problems as one line each, naming the field the way a user writes it:
`protocols[2].liquidation_threshold: must be <= 1, got 1.2`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from spec import PROTOCOL_KINDS, SHOCK_KINDS

_UNION_TAGS = frozenset(PROTOCOL_KINDS + SHOCK_KINDS)
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def report(source: str, problems: list[str]) -> str:
    """Every problem of `source`, one per line, under a count."""
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{source}: {len(problems)} {noun}:\n" + "\n".join(f"  {p}" for p in problems)


def field_path(loc: Iterable[Any]) -> str:
    """pydantic's error location as a dotted path with list indices in brackets."""
    parts: list[str] = []
    previous: Any = None
    for item in loc:
        if isinstance(item, int):
            parts[-1] = f"{parts[-1]}[{item}]" if parts else f"[{item}]"
        elif item in _UNION_TAGS and isinstance(previous, int):
            pass  # pydantic's discriminated-union branch name is not part of the user's path
        else:
            parts.append(str(item))
        previous = item
    return ".".join(parts)


def describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as `path: reason`."""
    path = field_path(error["loc"])
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in _BOUNDS:
        key, symbol = _BOUNDS[kind]
        reason = f"must be {symbol} {ctx[key]}, got {value!r}"
    elif kind == "missing":
        reason = "is required"
    elif kind == "extra_forbidden":
        reason = "unknown field (check its spelling against the documented schema)"
    elif kind == "union_tag_invalid":
        reason = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    elif kind == "union_tag_not_found":
        reason = "needs a 'kind' field"
    elif kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        wanted = "an integer" if kind.startswith("int") else "a number"
        reason = f"must be {wanted}, got {value!r}"
    elif kind == "finite_number":
        reason = f"must be a finite number, got {value!r}"
    elif kind == "list_type":
        reason = f"must be a list, got {value!r}"
    elif kind == "string_type":
        reason = f"must be text, got {value!r}"
    elif kind in ("dict_type", "model_type", "model_attributes_type"):
        reason = f"must be a table, got {value!r}"
    elif kind == "bool_type":
        reason = f"must be true or false, got {value!r}"
    elif kind == "literal_error":
        reason = f"must be one of {ctx.get('expected')}, got {value!r}"
    elif kind == "string_pattern_mismatch":
        reason = f"{value!r} is not a valid name (letters, digits, '.', '_', '-')"
    elif kind in ("too_short", "too_long"):
        reason = f"{error['msg'].lower()}"
    elif kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        field, sep, rest = message.partition(": ")
        if sep and field.isidentifier():
            path, reason = f"{path}.{field}" if path else field, rest
        else:
            reason = message
    else:
        reason = f"{error['msg']}, got {value!r}"
    return f"{path or '(top level)'}: {reason}"
