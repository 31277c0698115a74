"""Pydantic's validation errors in the project's own words.

``io.schema_errors`` groups the errors of one value; this module says what went wrong with it
as an author of a case, rule, fixture, waiver or configuration file would put it, with a hint
where one helps::

    invalid value 1.0: expected text (a number here; quote it: "1.0")
    invalid value 'yes': expected a mapping with scope (e.g. {scope: competing_models}) or one of: unknown, none
    invalid value 'licence': expected a list (write it as a list: [licence])

No pydantic wording ("Input should be ...", "Value error, ...") and no Python class name ever
comes out: a nested model is described from its fields (``describe_model``), and an error type
this module does not know is "not a valid value here".
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from policycheck.io.reader import excerpt
from policycheck.model.case import Shape

_CHOICE = re.compile(r"'([^']*)'|\"([^\"]*)\"|([-+]?[0-9][0-9.]*|True|False|None)")
DATE_TEXT = "a date in quotes, e.g. \"2024-01-31\""
_PLAIN = re.compile(r"^[A-Za-z0-9_.@/-]+$")
_NUMBER = re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$")
SHOWN_FIELDS = 4      # required fields a model description names before "..."
EXAMPLE_FIELDS = 3    # a model with more required fields than this gets no "e.g." example
EXAMPLE_CHARS = 90

# What an error type says the value should have been.
_KINDS: dict[str, str] = {
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "decimal_type": "a number", "decimal_parsing": "a number",
    "list_type": "a list", "tuple_type": "a list", "set_type": "a list", "frozen_set_type": "a list",
    "iterable_type": "a list", "dict_type": "a mapping", "mapping_type": "a mapping",
    "date_type": "a date as YYYY-MM-DD", "date_parsing": "a date as YYYY-MM-DD",
    "date_from_datetime_parsing": "a date as YYYY-MM-DD", "date_from_datetime_inexact": "a date as YYYY-MM-DD",
    "datetime_type": "a date and time", "datetime_parsing": "a date and time", "none_required": "nothing (null)",
}
_MODELS = ("model_type", "model_attributes_type", "dataclass_type", "dataclass_exact_type")
_BOOLS = ("bool_type", "bool_parsing")

# Patterns of the models, said in words (any other pattern is quoted as it is).
PATTERN_WORDS: dict[str, str] = {
    r"^[a-z0-9][a-z0-9._-]*$": "an id: lower-case letters, digits, '.', '_' and '-', starting with a letter or digit",
    r"^[a-z0-9][a-z0-9-]*$": "an id: lower-case letters, digits and '-', starting with a letter or digit",
    r"^[a-z][a-z0-9_]*$": "a name: lower-case letters, digits and '_', starting with a letter",
    r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$": "alias or alias.field (lower-case letters, digits and '_')",
    r"^[0-9a-f]{16}$": "a fingerprint: 16 hex digits, as --format json prints it",
    r"^§\d+(\.\d+){1,2}$": "a report section such as §3.3.1",
}


@dataclass
class Said:
    """What the errors of one value say: the kinds it should have been (``kinds``), the words it
    could have been (``words``), and why a value of the right kind is still wrong (``reasons``)."""

    kinds: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def message(value: Any, group: Sequence[ErrorDetails], models: dict[str, type[BaseModel]],
            annotations: Sequence[Any] = (), *, what: str = "value", written: str | None = None
            ) -> tuple[str, list[str]]:
    """The message for a value and its errors, and the words it could have been (for "did you
    mean"). ``models``: the models a class name in an error may name; ``annotations``: what the
    field is declared as (for a date field's wording); ``what``: "value", or "key" for a
    mapping's key; ``written``: a plain scalar's text as the file has it (``1.10``, read as 1.1)."""
    said = Said()
    for err in group:
        _read(err, value, models, said)
    words = list(dict.fromkeys(said.words))
    kinds = list(dict.fromkeys(said.kinds))
    if is_date_field(annotations) and "text" in kinds:
        kinds[kinds.index("text")] = DATE_TEXT
    if said.reasons:
        why = " / ".join(dict.fromkeys(said.reasons))
        if isinstance(value, (dict, list)) and not kinds and not words:
            return why, words      # a check of the whole mapping: the reason says it all
        return f"invalid {what} {show(value)}: {why}" + (f" (or one of: {', '.join(words)})" if words else ""), words
    if not kinds:
        if words:
            extra = _hints(value, [])
            return (f"invalid {what} {show(value)}; expected one of: {', '.join(words)}"
                    + (f" ({'; '.join(extra)})" if extra else "")), words
        return f"invalid {what} {show(value)}: not a valid value here", words
    text = "expected " + " or ".join(kinds) + (f" or one of: {', '.join(words)}" if words else "")
    hints = list(dict.fromkeys(_hints(value, kinds, written)))
    shown = excerpt(written) if written is not None and isinstance(value, (bool, int, float)) else show(value)
    return f"invalid {what} {shown}: {text}" + (f" ({'; '.join(hints)})" if hints else ""), words


def _read(err: ErrorDetails, value: Any, models: dict[str, type[BaseModel]], said: Said) -> None:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "literal_error" or kind == "enum":
        said.words += choices(str(ctx.get("expected", "")))
    elif kind in _BOOLS:
        said.words += ["true", "false"]
    elif kind in _MODELS:
        model = models.get(str(ctx.get("class_name", "")))
        said.kinds.append(describe_model(model) if model is not None else "a mapping")
    elif kind in _KINDS:
        said.kinds.append(_KINDS[kind])
    else:
        said.reasons.append(reason(kind, ctx, err.get("input", value)))


def choices(expected: str) -> list[str]:
    """The words of a choice as pydantic lists them (``'a', 'b' or 1``), as a file spells them."""
    spelled = {"True": "true", "False": "false", "None": "null"}
    return [a or b or spelled.get(c, c) for a, b, c in _CHOICE.findall(expected)]


def reason(kind: str, ctx: dict[str, Any], value: Any) -> str:
    """Why a value of the right kind is wrong (a constraint it breaks), in the project's words."""
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        return str(error) if error is not None and str(error) else "not a valid value here"
    if kind == "string_too_short":
        n = int(ctx.get("min_length", 1))
        return "must not be empty" if n <= 1 else f"too short: at least {n} characters"
    if kind == "string_too_long":
        return f"too long: {len(value) if isinstance(value, str) else '?'} characters, at most {ctx.get('max_length')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return "expected " + PATTERN_WORDS.get(pattern, f"text of the form {pattern}")
    if kind == "too_short":
        n = int(ctx.get("min_length", 1))
        return "must not be empty: give at least one item" if n <= 1 else f"too few items: at least {n}"
    if kind == "too_long":
        return f"too many items: {ctx.get('actual_length', '?')}, at most {ctx.get('max_length')}"
    bounds = {"greater_than": ("gt", "must be greater than"), "greater_than_equal": ("ge", "must be at least"),
              "less_than": ("lt", "must be less than"), "less_than_equal": ("le", "must be at most"),
              "multiple_of": ("multiple_of", "must be a multiple of")}
    if kind in bounds:
        key, words = bounds[kind]
        return f"{words} {_number(ctx.get(key))}"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "int_from_float":
        return "expected a whole number"
    if kind in ("int_parsing_size", "float_parsing_size"):
        return "the number is too large"
    if kind == "string_unicode":
        return "expected text (valid Unicode)"
    return "not a valid value here"


def _number(x: Any) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _hints(value: Any, kinds: Sequence[str], written: str | None = None) -> list[str]:
    """What the file holds instead, and how to write what was expected (quoting the text as
    ``written`` when the file has it)."""
    wants_text = any(k in ("text", DATE_TEXT) for k in kinds)
    wants_date = any(k.startswith("a date as") for k in kinds)
    wants_number = any(k in ("a number", "a whole number") for k in kinds)
    wants_list = "a list" in kinds
    wants_mapping = any(k.startswith("a mapping") for k in kinds)
    out: list[str] = []
    if wants_text and isinstance(value, (bool, int, float, dt.date, dt.time)):
        here = ("true/false" if isinstance(value, bool) else "a number" if isinstance(value, (int, float))
                else "a date or time")
        as_written = excerpt(written) if written is not None and not isinstance(value, (dt.date, dt.time)) \
            else _yaml(value)
        out.append(f"{here} here; quote it: \"{as_written}\"")
    elif wants_date and isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append("a number here")
    elif wants_number and isinstance(value, str) and _NUMBER.match(value.strip()):
        out.append(f"text here; write the number without quotes: {excerpt(value.strip())}")
    elif wants_number and isinstance(value, bool):
        out.append("true/false here, not a number")
    elif wants_number and isinstance(value, float) and "a whole number" in kinds:
        out.append(f"{_yaml(value)} has a fraction")
    if wants_list and not isinstance(value, list) and value is not None:
        out.append(f"write it as a list: [{_yaml(value)}]")
    elif wants_mapping and isinstance(value, list):
        out.append("a list here; write one mapping")
    if not wants_list and isinstance(value, list) and not wants_mapping:
        out.append("a list here; give one value")
    return out


def _yaml(value: Any) -> str:
    """A short value as it would be written in a YAML file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return excerpt(repr(value))
    if isinstance(value, (dt.date, dt.time)):   # TOML has dates and times (a configuration file)
        return value.isoformat()
    if isinstance(value, str):
        return excerpt(value) if _PLAIN.match(value) else excerpt('"' + value.replace('"', '\\"') + '"')
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[...]"
    return "..."


def show(value: Any) -> str:
    """A value as a message quotes it: short, escaped (it may come from any file)."""
    if isinstance(value, dict):
        return "(a mapping)"
    if isinstance(value, list):
        return "(a list)"
    if value is None or isinstance(value, (bool, dt.date, dt.time)):
        return _yaml(value)
    return excerpt(repr(value))


def describe_model(model: type[BaseModel]) -> str:
    """A nested model, said from its fields: its required fields and an example
    (``a mapping with scope (e.g. {scope: competing_models})``), or, when every field is
    optional, some of its fields (``a mapping of fields such as weights_access, ...``)."""
    fields = [(info.alias or name, info) for name, info in model.model_fields.items()]
    required = [(name, info) for name, info in fields if info.is_required()]
    if not required:
        names = [name for name, _ in fields]
        more = ", ..." if len(names) > SHOWN_FIELDS else ""
        return "a mapping of fields such as " + ", ".join(names[:SHOWN_FIELDS]) + more
    names = [name for name, _ in required]
    text = "a mapping with " + ", ".join(names[:SHOWN_FIELDS]) + (", ..." if len(names) > SHOWN_FIELDS else "")
    if len(required) <= EXAMPLE_FIELDS:
        example = "{" + ", ".join(f"{name}: {example_of(info.annotation)}" for name, info in required) + "}"
        if len(example) <= EXAMPLE_CHARS:
            text += f" (e.g. {example})"
    return text


def example_of(annotation: Any) -> str:
    """A value of ``annotation`` as an example in a message (``...`` for free text)."""
    choices = [a for a in members(annotation) if a is not type(None)]
    concrete = [a for a in choices if literal_values(a) != ["unknown"]] or choices
    first = concrete[0] if concrete else Any
    values = literal_values(first)
    if values:
        return str(values[0])
    if first is bool:
        return "true"
    if first in (int, float):
        return "1"
    origin = typing.get_origin(first)
    if origin in (list, tuple, set, frozenset):
        return "[...]"
    if origin is dict or (isinstance(first, type) and issubclass(first, BaseModel)):
        return "{...}"
    return "..."


def literal_values(annotation: Any) -> list[Any]:
    return list(typing.get_args(annotation)) if typing.get_origin(annotation) is Literal else []


def members(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, with ``Annotated`` and unions flattened."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return members(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in members(arg)]
    return [annotation]


def metadata(annotation: Any) -> list[Any]:
    """Every ``Annotated`` metadata item anywhere in the alternatives of ``annotation``."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *meta = typing.get_args(annotation)
        return list(meta) + metadata(inner)
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in metadata(arg)]
    return []


def is_date_field(annotations: Iterable[Any]) -> bool:
    return any(isinstance(m, Shape) and m.kind == "date" for a in annotations for m in metadata(a))


@functools.lru_cache(maxsize=64)
def models_of(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from ``root`` through its fields, by class name (do not change
    the mapping: it is cached)."""
    found: dict[str, type[BaseModel]] = {}
    todo = [root]
    while todo:
        model = todo.pop()
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for info in model.model_fields.values():
            todo += [m for m in nested(info.annotation) if m.__name__ not in found]
    return found


def nested(annotation: Any) -> list[type[BaseModel]]:
    """The models inside an annotation (in unions, lists and mapping values too)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in nested(arg)]


def annotations_at(root: type[BaseModel], path: Sequence[str | int]) -> list[Any]:
    """What the value at ``path`` (keys and list indexes) inside ``root`` is declared as."""
    current: list[Any] = [root]
    for seg in path:
        nxt: list[Any] = []
        for ann in (m for a in current for m in members(a)):
            origin = typing.get_origin(ann)
            if isinstance(seg, str) and isinstance(ann, type) and issubclass(ann, BaseModel):
                info = ann.model_fields.get(seg) or next(
                    (i for i in ann.model_fields.values() if i.alias == seg), None)
                if info is not None:
                    nxt.append(_with_metadata(info.annotation, info.metadata))
            elif isinstance(seg, int) and origin in (list, tuple, set, frozenset):
                nxt += list(typing.get_args(ann)[:1])
            elif isinstance(seg, str) and origin is dict:
                nxt += list(typing.get_args(ann)[1:2])
        current = nxt
        if not current:
            return []
    return current


def _with_metadata(annotation: Any, meta: list[Any]) -> Any:
    return Annotated[(annotation, *meta)] if meta else annotation
