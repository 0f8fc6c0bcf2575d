"""The scenario format's field reference, generated from the schema so it
cannot go stale.

`daosim schema` prints it: one line per field with its dotted path (as sweeps and
`--set` address it), type, bounds, default, and the first line of the section's docstring.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from spec.scenario import Scenario

_BOUNDS = ((at.Gt, "gt", ">"), (at.Ge, "ge", ">="), (at.Lt, "lt", "<"), (at.Le, "le", "<="))


def field_reference(model: type[BaseModel] = Scenario, prefix: str = "") -> Iterator[str]:
    """Lines `path  type [bounds] = default` for every field of `model`, depth first."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        yield f"{path:<48} {_describe(info)}"
        for sub, suffix in _submodels(info.annotation):
            doc = (sub.__doc__ or "").strip().splitlines()
            if doc and sub.__doc__ is not BaseModel.__doc__:
                yield f"{'':<4}# {path}{suffix}: {doc[0]}"
            yield from field_reference(sub, f"{path}{suffix}.")


def _describe(info: FieldInfo) -> str:
    text = _type_name(info.annotation)
    metadata = [*info.metadata, *_optional_metadata(info.annotation)]
    bounds = [f"{sign} {getattr(m, attr)}" for m in metadata
              for kind, attr, sign in _BOUNDS if isinstance(m, kind)]
    if any(getattr(m, "allow_inf_nan", None) is False for m in metadata):
        bounds.append("finite")
    if bounds:
        text += f" ({', '.join(bounds)})"
    if info.default is PydanticUndefined and info.default_factory is None:
        return text + "  required"
    default = info.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        return text
    if isinstance(default, list) and default and isinstance(default[0], BaseModel):
        default = [item.model_dump() for item in default]
    return f"{text} = {default!r}"


def _optional_metadata(annotation: object) -> list[object]:
    """The constraints of `X | None` when X is annotated (pydantic keeps them on X, not on
    the field)."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return []
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) != 1 or typing.get_origin(args[0]) is not typing.Annotated:
        return []
    return [m for info in typing.get_args(args[0])[1:] for m in getattr(info, "metadata", [info])]


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        optional = " (optional)" if type(None) in args else ""
        return " | ".join(dict.fromkeys(names)) + optional
    if origin is list:
        return f"list[{_type_name(args[0])}]"
    if origin is dict:
        return f"table of {_type_name(args[1])}"
    if isinstance(annotation, type):
        return "table" if issubclass(annotation, BaseModel) else annotation.__name__
    return str(annotation)


def _submodels(annotation: object) -> Iterator[tuple[type[BaseModel], str]]:
    """Models nested in a field's type, with the path suffix that reaches their fields."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        yield from _submodels(args[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            for sub, suffix in _submodels(arg):
                kind = sub.model_fields.get("kind")
                tag = typing.get_args(kind.annotation)[0] if kind else sub.__name__
                yield sub, f"<{tag}>{suffix}"
    elif origin is list:
        for sub, suffix in _submodels(args[0]):
            if suffix.startswith("<"):  # an item of a tagged union: name its kind
                tag, _, rest = suffix[1:].partition(">")
                yield sub, f"[kind={tag}]{rest}"
            else:
                yield sub, f"[]{suffix}"
    elif origin is dict:
        for sub, suffix in _submodels(args[1]):
            yield sub, f".<key>{suffix}"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, ""
