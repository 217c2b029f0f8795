"""Say what pydantic found wrong in an operator's words and in TOML's vocabulary.

Pydantic's messages speak Python ("Input should be a valid dictionary or instance
of ImapSettings"); an operator editing maild.toml needs "expected a table, got an
array", and for a typo the key they probably meant.
"""

from __future__ import annotations

__all__ = ["describe_value", "explain", "format_path"]

import datetime as dt
import difflib
import re
import types
from collections.abc import Mapping
from typing import Final, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from maild.config.credentials import SECRET_SLOTS
from maild.config.locate import Loc
from maild.config.settings import Settings, shown

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_INTERNAL_KEYS: Final = frozenset(SECRET_SLOTS)  # filled by the loader, never by the file

_EXPECTED: Final[Mapping[str, str]] = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "an array",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "mapping_type": "a table",
}


def format_path(loc: Loc) -> str:
    """Write a location as the operator would in TOML: ``mailboxes."a.b".imap.folders[1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else '"' + _escape(part) + '"'
            out += f".{key}" if out else key
    return out


def _escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')


def describe_value(value: object) -> str:
    """Name a value's TOML type, showing short scalars but never a table's contents."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"{'integer' if isinstance(value, int) else 'float'} {value}"
    if isinstance(value, str):
        return f"string {shown(value)}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return "a date/time"
    return type(value).__name__


def explain(error: ErrorDetails) -> tuple[Loc, str]:
    """Turn one pydantic error into (TOML location, plain-English message)."""
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx", {})
    value = error.get("input")
    if loc and loc[-1] == "[key]":  # a mailbox name: the location is the table itself
        loc = loc[:-1]
    if kind == "value_error":
        return loc, str(ctx.get("error", error["msg"]))
    if kind == "extra_forbidden":
        return loc, _unknown_key(loc)
    if kind == "missing":
        return loc, f"missing required key {shown(str(loc[-1]))}"
    if kind in _EXPECTED:
        return loc, f"expected {_EXPECTED[kind]}, got {describe_value(value)}"
    return loc, _constraint(kind, ctx, value) or str(error["msg"])


def _constraint(kind: str, ctx: Mapping[str, object], value: object) -> str | None:
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        text = f"expected one of {', '.join(map(repr, allowed))}, got {describe_value(value)}"
        if isinstance(value, str):
            text += _did_you_mean(value, allowed)
        return text
    bounds = {
        "greater_than": f"must be greater than {_number(ctx.get('gt'))}",
        "greater_than_equal": f"must be at least {_number(ctx.get('ge'))}",
        "less_than": f"must be less than {_number(ctx.get('lt'))}",
        "less_than_equal": f"must be at most {_number(ctx.get('le'))}",
        "finite_number": "must be a finite number",
    }
    if kind in bounds:
        return f"{bounds[kind]}, got {describe_value(value)}"
    if kind in {"too_short", "string_too_short"}:
        return "must not be empty"
    return None


def _number(bound: object) -> str:
    # A float field reports its bound as 0.0; operators wrote (and read) 0.
    return str(int(bound)) if isinstance(bound, float) and bound.is_integer() else str(bound)


def _did_you_mean(word: str, choices: list[str]) -> str:
    by_lower = {choice.lower(): choice for choice in choices}  # "TLS" should find "tls"
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""


def _unknown_key(loc: Loc) -> str:
    key = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown key {shown(key)}"
    known = [name for name in model.model_fields if name not in _INTERNAL_KEYS]
    hint = _did_you_mean(key, known) or f" (allowed here: {', '.join(known)})"
    return f"unknown key {shown(key)}{hint}"


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """Find the settings model whose table is at ``loc``, to list its keys."""
    current: object = Settings
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in {dict, Mapping}:
            current = get_args(current)[1]
        else:
            return None
        if get_origin(current) in {Union, types.UnionType}:
            current = next(arg for arg in get_args(current) if arg is not type(None))
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None
