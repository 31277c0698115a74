"""Turn pydantic validation errors into located, one-line Problems with suggestions, in the
project's words (``io.schema_words``: never pydantic's wording or a class name)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from policycheck.errors import InputError, Problem, suggest
from policycheck.io.reader import Document, Path_, excerpt, format_path
from policycheck.io.schema_words import annotations_at, message, models_of, nested

_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")
_TYPE_TAGS = {"bool", "str", "int", "float", "list", "dict", "none", "function-after", "function-before", "function-wrap"}


M = TypeVar("M", bound=BaseModel)


def validate_document(doc: Document, model: type[M], what: str, *, shape: str = "",
                      error: type[InputError] = InputError) -> M:
    """``doc`` validated as ``model``; every problem located in the file, raised as ``error``.

    A document that is not a mapping gives "<what> must be a mapping <shape>", e.g.
    "a rule file must be a mapping with id, title, when, ...".
    """
    if not isinstance(doc.data, dict):
        raise error([Problem(f"{what} must be a mapping" + (f" {shape}" if shape else ""), doc.location(()))])
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise error(problems_from(exc, doc, model)) from None


Aliases = Mapping[str, Sequence[str]]


def problems_from(exc: ValidationError, doc: Document, root: type[BaseModel], *,
                  aliases: Aliases | None = None) -> list[Problem]:
    """One Problem per offending data path, located in ``doc``.

    ``aliases`` maps a name a user may write by mistake to the field paths it stands for, in
    ``a[].b.c`` form from ``root`` (e.g. the fact field ``aup_by_reference`` ->
    ``licences[].versions[].terms.acceptable_use_policy.incorporated_by_reference``); an
    unknown field of that name is then pointed at the path, relative to where it was written.
    """
    grouped: dict[Path_, list[tuple[int, ErrorDetails, Path_]]] = {}
    keys: dict[Path_, list[ErrorDetails]] = {}
    for err in exc.errors(include_url=False):
        path, depth = _data_path(err["loc"], doc.data, err["type"])
        if "[key]" in err["loc"]:  # a mapping's key is refused (e.g. an unknown condition)
            keys.setdefault(path, []).append(err)
            continue
        grouped.setdefault(path[: _owner_len(path, depth)], []).append((depth, err, path))
    # A union reports one error per member; where one member got deeper into the data,
    # the errors at its ancestors (the other members) are noise.
    paths = [k for k in grouped]
    for key in paths:
        if any(len(o) > len(key) and o[: len(key)] == key for o in paths):
            del grouped[key]
    problems = []
    for _key, errs in grouped.items():
        deepest = max(d for d, _, _ in errs)
        chosen = [(e, p) for d, e, p in errs if d == deepest]
        err, path = chosen[0]
        problems.append(_problem(err, path, doc, root, [e for e, _ in chosen], aliases or {}))
    for at, key_errors in keys.items():
        name = at[-1] if at else None
        text, words = message(name, key_errors, models_of(root), what="key")
        problems.append(Problem(text, doc.location(at), _suggest(name, words)))
    problems.sort(key=lambda p: (p.location.line or 0, p.location.column or 0, p.message))
    unique: list[Problem] = []
    for p in problems:
        if not unique or unique[-1].render() != p.render():
            unique.append(p)
    return unique


def _owner_len(path: Path_, depth: int) -> int:
    return len(path) if depth >= len(path) else depth


def _data_path(loc: tuple[Any, ...], data: Any, kind: str) -> tuple[Path_, int]:
    """Strip pydantic's union/type tags from ``loc``; also return how many segments exist in the data."""
    out: list[str | int] = []
    depth = 0
    cursor: Any = data
    present = True
    for i, seg in enumerate(loc):
        last = i == len(loc) - 1
        if present and isinstance(cursor, dict) and isinstance(seg, str) and seg in cursor:
            out.append(seg)
            cursor = cursor[seg]
            depth += 1
        elif present and isinstance(cursor, list) and isinstance(seg, int) and 0 <= seg < len(cursor):
            out.append(seg)
            cursor = cursor[seg]
            depth += 1
        elif isinstance(seg, str) and _FIELD.match(seg) and seg not in _TYPE_TAGS and (last or kind == "missing"):
            out.append(seg)
            present = False
        elif isinstance(seg, int):
            out.append(seg)
            present = False
    return tuple(out), depth


def _problem(err: ErrorDetails, path: Path_, doc: Document, root: type[BaseModel], group: list[ErrorDetails],
             aliases: Aliases) -> Problem:
    kind = err["type"]
    loc = doc.location(path)
    field = format_path(path) or "(document)"
    if kind == "extra_forbidden":
        name = str(path[-1])
        target = alias_target(name, path[:-1], aliases)
        if target is not None:
            return Problem(f"unknown field '{excerpt(name)}' (rules use that name; a case file nests it)", loc, target)
        hint = suggest(name, fields_at(root, path[:-1])) if len(name) <= 100 else None
        return Problem(f"unknown field '{excerpt(name)}'", loc, hint)
    if kind == "missing":
        return Problem(f"required field '{path[-1]}' is missing", _replace_path(loc, field))
    value = err.get("input")
    text, words = message(value, group, models_of(root), annotations_at(root, path), written=doc.texts.get(path))
    return Problem(text, loc, _suggest(value, words))


def _suggest(value: object, words: list[str]) -> str | None:
    return suggest(value, words) if words and isinstance(value, str) and len(value) <= 100 else None


def _replace_path(loc: Any, field: str) -> Any:
    from dataclasses import replace

    return replace(loc, path=field)


def generic_path(path: Path_) -> str:
    """``("licences", 0, "versions", 1, "terms")`` -> ``"licences[].versions[].terms"``."""
    out = ""
    for seg in path:
        out += "[]" if isinstance(seg, int) else ("." if out else "") + seg
    return out


def alias_target(name: str, parent: Path_, aliases: Aliases) -> str | None:
    """The path, relative to ``parent``, that ``name`` stands for there (None when none does)."""
    here = generic_path(parent)
    prefix = here + "." if here else ""
    found = sorted(p[len(prefix):] for p in aliases.get(name, ()) if p.startswith(prefix) and len(p) > len(prefix))
    return found[0] if found else None


def fields_at(root: type[BaseModel], path: Path_) -> list[str]:
    """Field names valid at ``path`` inside ``root`` (used for 'did you mean')."""
    models: list[type[BaseModel]] = [root]
    for seg in path:
        nxt: list[type[BaseModel]] = []
        for m in models:
            if isinstance(seg, int):
                nxt.append(m)
                continue
            info = m.model_fields.get(seg)
            if info is not None:
                nxt.extend(nested(info.annotation))
        models = nxt
        if not models:
            return []
    names: list[str] = []
    for m in models:
        names.extend(m.model_fields)
    return names
