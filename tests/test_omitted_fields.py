"""Nothing omitted reads as false (issue 9, item 5), over the whole case model.

For every bundled case in ``cases/`` and every optional case-model field the case sets, the
field is deleted from the case file's data (a key dropped from its mapping, as an author who
left it out would) and the case assessed again. No rule may go from ``fired`` or ``not
assessed`` to ``clear``: a left-out field is unstated, never a default of false, 0 or an empty
list that settles a rule.

"Optional" is read from the case model (``model/case.py``), not listed here: a field with a
default of None (or ``unknown``) that the file sets. Fields whose default is an empty
collection (``sources``, ``clauses``, ``regulatory`` and the case's own lists of parties,
models, ...) are lists of entries rather than facts, and are left in place; so are fields no
fact is built from (a source's ``url``, the case's ``notes``: no fact field's case path is,
contains or lies within them, per ``vocabulary.by_case_path``). The walk follows the data: a
mapping is matched to the case-model class among its field's annotation whose fields hold its
keys, a list's items to the list's item type.

One test per entry of a case (a party, model, licence, deal or data change, or the case's own
fields), so that each stays well under 20 s on two cores (the Microsoft-OpenAI case, with its
many dated rounds, takes a quarter of a second per assessment); the rule pack is loaded once,
the engine compiled once for it (``evaluate.engine_for`` caches by digest), and each case's
statuses with nothing left out are computed once.
"""

from __future__ import annotations

import copy
import functools
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from policycheck.evaluate import assess
from policycheck.io.reader import Document, Path_, format_path, read_document
from policycheck.load.cases import LoadedCase, case_from_document
from policycheck.load.rules import load_rules
from policycheck.model import case as c
from policycheck.model.vocabulary import by_case_path

PACK = load_rules()
REPO = Path(__file__).resolve().parents[1]
CASE_FILES = sorted((REPO / "cases").rglob("*.yaml"))
SETTLED_FROM = ("fired", "not assessed")
READ_PATHS = tuple(p for p in by_case_path() if p)


# --- walking the case model along the data ------------------------------------------------------

def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The case-model classes an annotation can hold (through unions, Annotated, lists)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return out
    if origin in (typing.Union, types.UnionType, typing.Annotated, list):
        args = typing.get_args(annotation)
        for arg in args[:1] if origin is typing.Annotated else args:
            out += [m for m in _models_in(arg) if m not in out]
    return out


def _model_for(value: dict[str, Any], candidates: list[type[BaseModel]]) -> type[BaseModel] | None:
    fitting = [m for m in candidates if set(value) <= set(m.model_fields)]
    return fitting[0] if len(fitting) == 1 else None


def _omissible(info: Any) -> bool:
    """Optional with a default of None or ``unknown`` (not a required field, not an empty collection)."""
    return not info.is_required() and info.default_factory is None and info.default in (None, c.UNKNOWN)


def optional_paths(data: Any, model: type[BaseModel] = c.Case, path: Path_ = ()) -> Iterator[Path_]:
    """Every path (in ``data``) of an optional case-model field the data sets, outermost first."""
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        info = model.model_fields.get(key)
        assert info is not None, f"{format_path(path + (key,))}: not a field of {model.__name__}"
        if _omissible(info):
            yield path + (key,)
        inner = _models_in(info.annotation)
        if isinstance(value, dict):
            sub = _model_for(value, inner)
            if sub is not None:
                yield from optional_paths(value, sub, path + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict) and (sub := _model_for(item, inner)) is not None:
                    yield from optional_paths(item, sub, path + (key, i))


def _generic(path: Path_) -> str:
    """``("deals", 3, "amount", "value")`` -> ``"deals[].amount.value"`` (a vocabulary case path)."""
    return re.sub(r"\.\[", "[", ".".join("[]" if isinstance(k, int) else str(k) for k in path))


def is_read(path: Path_) -> bool:
    """Some fact field is built from this field, from one inside it, or from one it lies in."""
    g = _generic(path)
    return any(g == r or g.startswith((r + ".", r + "[")) or r.startswith((g + ".", g + "[")) for r in READ_PATHS)


def omissions(data: Any) -> list[Path_]:
    return [p for p in optional_paths(data) if is_read(p)]


def without(data: Any, path: Path_) -> Any:
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _statuses(loaded: LoadedCase) -> dict[str, str]:
    return {r.rule: r.status for r in assess([loaded], PACK).cases[0].rules}


def _load(doc: Document, data: Any) -> LoadedCase:
    return case_from_document(Document(doc.file, data, dict(doc.places)))


# --- the property ---------------------------------------------------------------------------------

@functools.cache
def _baseline(case_file: Path) -> tuple[Document, dict[str, str]]:
    doc = read_document(case_file)
    return doc, _statuses(_load(doc, doc.data))


def _entry(path: Path_) -> str:
    """The case entry a path belongs to: ``deals[3]``, or ``case`` for the case's own fields."""
    return f"{path[0]}[{path[1]}]" if len(path) > 1 and isinstance(path[1], int) else "case"


def omission_violations(case_file: Path, entry: str | None = None) -> tuple[list[str], int]:
    """Rules going from fired / not assessed to clear, or from anything to not applicable, when
    one field (of ``entry``, or of any entry) is left out, as readable lines; and how many
    omissions were tried. (A rule that looked at a fact must still look at it when one of its
    fields is unstated: "not applicable" would say the case has nothing for it.)"""
    doc, before = _baseline(case_file)
    found: list[str] = []
    paths = [p for p in omissions(doc.data) if entry is None or _entry(p) == entry]
    for p in paths:
        after = _statuses(_load(doc, without(doc.data, p)))
        for rule, status in before.items():
            if (status in SETTLED_FROM and after[rule] == "clear") or \
                    (status != "not applicable" and after[rule] == "not applicable"):
                found.append(f"{case_file.name}: without {format_path(p)}: {rule} {status} -> {after[rule]}")
    return found, len(paths)


def _entries() -> list[tuple[Path, str]]:
    return [(p, e) for p in CASE_FILES for e in dict.fromkeys(_entry(q) for q in omissions(read_document(p).data))]


def test_the_cases_are_there_and_set_optional_fields() -> None:
    """Without cases, or with a walk that finds nothing, the property below proves nothing."""
    assert len(CASE_FILES) >= 10
    counts = {p.name: len(omissions(read_document(p).data)) for p in CASE_FILES}
    assert all(n > 0 for n in counts.values()), counts
    assert sum(counts.values()) >= 200, counts


def test_the_walk_reaches_nested_terms_and_list_items() -> None:
    doc = read_document(REPO / "cases" / "licences" / "llama-2.yaml")   # LLaMA's licence, then Llama 2's
    found = {format_path(p) for p in omissions(doc.data)}
    assert "licences[1].versions[0].terms.user_threshold" in found
    assert "licences[1].versions[0].terms.user_threshold.measured" in found
    assert "licences[1].versions[0].terms.output_training_ban.exempts_licensor_family" in found
    assert "models[0].weights" in found
    assert "licences[0].versions[0].terms.commercial_use" in found
    assert not any(f.endswith((".sources", ".clauses", "versions")) for f in found)
    assert not any(f.startswith("sources") or f == "notes" for f in found)   # no fact is built from them
    assert is_read(("deals", 0, "until")) and is_read(("deals", 0, "governance", 1, "until"))
    assert is_read(("licences", 0, "versions", 1, "until")) and is_read(("models", 0, "released_under"))
    assert not is_read(("sources", 0, "url")) and not is_read(("notes",))


def _found(case: str) -> set[str]:
    return {format_path(p) for p in omissions(read_document(REPO / "cases" / case).data)}


def test_the_walk_reaches_the_v2_fields() -> None:
    """The rule pack v2 fields: deal shares, the flow of the money, the partner's accelerators,
    staff hired with an investment, leading markets in their {market, sources} form, price tables
    and free tiers of data access terms, and royalties."""
    deals = _found("deals/amazon-anthropic.yaml")
    assert {"deals[0].shares", "deals[0].amount.flow", "deals[0].partner_accelerators"} <= deals
    assert "parties[0].leading_markets[0].note" in deals   # the mapping form's item is walked into
    assert "deals[0].staff_hired.with_investment" in _found("deals/meta-scale-ai.yaml")
    data = _found("data/bing-search-api.yaml")
    assert {"data_access_changes[0].after.prices", "data_access_changes[0].after.free_tier"} <= data
    assert "licences[0].versions[0].terms.royalty" in _found("licences/meta-llama-3-family.yaml")
    assert is_read(("data_access_changes", 0, "after", "prices", 1, "amount"))
    assert is_read(("parties", 0, "leading_markets", 0, "market"))


def test_the_check_catches_a_field_that_defaults_to_false(tmp_path: Path) -> None:
    """A rule that reads a field whose omission settles it would be caught: simulate one by a
    'default' (the field replaced with false instead of deleted) and see the check report it."""
    doc = read_document(REPO / "cases" / "licences" / "llama-2.yaml")
    p = ("licences", 1, "versions", 0, "terms", "output_training_ban")   # the Llama 2 Community License
    before = _statuses(_load(doc, doc.data))
    data = copy.deepcopy(doc.data)
    for licence in data["licences"]:   # what a default would say, for every version (LLaMA's is recorded
        for version in licence["versions"]:   # unknown, which alone keeps the rule not assessed)
            version["terms"]["output_training_ban"] = "none"
    after = _statuses(_load(doc, data))
    assert before["output-training-ban"] == "fired" and after["output-training-ban"] == "clear"
    deleted = _statuses(_load(doc, without(doc.data, p)))
    assert deleted["output-training-ban"] != "clear"


@pytest.mark.parametrize(("case_file", "entry"), _entries(),
                         ids=lambda x: x.relative_to(REPO / "cases").as_posix() if isinstance(x, Path) else x)
def test_leaving_out_a_field_never_clears_a_rule(case_file: Path, entry: str) -> None:
    found, tried = omission_violations(case_file, entry)
    assert tried > 0
    assert not found, "\n".join(found)
