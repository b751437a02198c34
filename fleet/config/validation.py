"""A pydantic ``ValidationError`` as one clear line: the file, the dotted field
(``checks[1].pattern``), the line it was written on, and the fix.

``config_error_from_validation`` takes the first error; ``describe`` names a
value for a message.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic

from fleet.config.yamlfile import Loc, YamlDoc, dotted
from fleet.errors import ConfigError


def config_error_from_validation(
    exc: pydantic.ValidationError, file: str, doc: YamlDoc, *, model: object = None,
) -> ConfigError:
    """Turn the first error of ``exc`` into one ConfigError line.

    The field is the dotted path in the YAML (union tags that pydantic adds
    are dropped), the line comes from ``doc``, and the message says what to do.
    ``model`` (the type that was validated) lets an unknown-key message list the
    allowed keys. One exception to "first": when a key is missing and a sibling
    key is unknown (a typo), the unknown key is reported, as it names the fix.
    Returns the error; raises nothing.
    """
    errors = exc.errors()
    err = errors[0]
    if err["type"] == "missing":
        typos = [e for e in errors if e["type"] == "extra_forbidden"
                 and tuple(e["loc"][:-1]) == tuple(err["loc"][:-1])]
        err = typos[0] if typos else err
    loc = _data_loc(doc.data, tuple(err["loc"]), missing=err["type"] == "missing")
    message = _message(err, _allowed_keys(model, tuple(err["loc"])))
    return ConfigError(message, file=file, field=dotted(loc) or None, line=doc.nearest_line(loc))


def _data_loc(data: object, loc: Loc, *, missing: bool) -> Loc:
    """Follow ``loc`` through ``data``, dropping parts that are pydantic union tags."""
    out: list[str | int] = []
    current = data
    for i, part in enumerate(loc):
        inside = isinstance(current, Mapping) and part in current
        indexed = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if inside or indexed:
            current = current[part]  # type: ignore[index]
        elif not (missing and i == len(loc) - 1 and isinstance(current, Mapping)):
            continue  # a union tag such as 'contains' or 'list[str]', not a YAML key
        out.append(part)
    return tuple(out)


_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "list_type": "a list", "tuple_type": "a list", "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
}

_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"),
           "less_than": ("<", "lt"), "less_than_equal": ("<=", "le")}


def _message(err: Any, allowed: Sequence[str] | None) -> str:
    """Return the one-line message and fix for one pydantic error dict."""
    kind, ctx, got = err["type"], err.get("ctx") or {}, describe(err.get("input"))
    loc = err["loc"]
    if kind == "extra_forbidden":
        if not allowed:
            return f"unknown key {loc[-1]!r}"
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key {loc[-1]!r}; {guess}allowed keys: {', '.join(allowed)}"
    if kind == "missing":
        return f"required key missing; add '{loc[-1]}:'"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    bound = _BOUNDS.get(kind)
    if bound is not None:
        limit = ctx.get(bound[1])
        shown = f"{limit:g}" if isinstance(limit, float) else limit
        return f"expected a number {bound[0]} {shown}, got {got}"
    if kind == "string_too_short":
        return f"expected a non-empty string, got {got}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {got}"
    if kind == "union_tag_invalid":
        return f"unknown type {ctx.get('tag')!r}; allowed types: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "missing 'type:' key; say which kind of check this is"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{err['msg']}; got {got}"


def describe(value: object) -> str:
    """Describe a value for a message: ``'abc' (a string)``, ``nothing (null)``."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping", type(None): "nothing (null)"}
    kind = names.get(type(value), type(value).__name__)
    if value is None:
        return kind
    shown = repr(value)
    return f"{shown[:60]}{'…' if len(shown) > 60 else ''} ({kind})"


def _allowed_keys(model: object, loc: Loc) -> list[str] | None:
    """Return the field names of the model that owns the last key of ``loc``."""
    current: object = model
    for part in loc[:-1]:
        current = _step(current, part)
        if current is None:
            return None
    owner = _as_model(current)
    if owner is None:
        return None
    return sorted(info.alias or name for name, info in owner.model_fields.items())


def _as_model(tp: object) -> type[pydantic.BaseModel] | None:
    """Return ``tp`` as a pydantic model class if it is one (or ``Optional`` of one)."""
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        return tp
    if _is_union(tp):
        models = [m for m in map(_as_model, typing.get_args(tp)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def _step(tp: object, part: str | int) -> object:
    """Return the type found at ``part`` inside type ``tp`` (None if unknown)."""
    tp = _strip(tp)
    model = _as_model(tp)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_union(tp):
        for member in args:  # a discriminated-union tag names its member
            member_model = _as_model(member)
            if member_model is not None and _tag_of(member_model) == part:
                return member_model
        return next((t for a in args if (t := _step(a, part)) is not None), None)
    if origin in (list, tuple, Sequence) and isinstance(part, int) and args:
        return args[0]
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    return None


def _tag_of(model: type[pydantic.BaseModel]) -> object:
    """Return the ``type`` literal of a discriminated-union member, if any."""
    info = model.model_fields.get("type")
    args = typing.get_args(info.annotation) if info is not None else ()
    return args[0] if len(args) == 1 else None


def _strip(tp: object) -> object:
    """Remove ``Annotated[...]`` wrappers."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _is_union(tp: object) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)
