"""The conformance corpus: hand-written rules, cases and expected results (tests/conformance/).

Each corpus file holds ``entries``; an entry is a list of rules (the rule file format, with
the metadata a reviewer does not need filled in below), a case (merged over the file's
``case`` and a fixed header) and the expected outcome, written by hand from the rule
language's definition (issue 9's "precise evaluation semantics"): every current flag (rule,
bound facts by alias, severity, mitigations applied and pending), every history flag with its
window, the facts after the as-of date, the status of every rule of the entry, condition
statuses (a condition the entry does not name is "not applicable": no rule of it), and,
where the entry says, a rule's missing fields (in force or not). ``as_of`` assesses on that
date (the ``--as-of`` option) instead of the case's own ``as_of``.

Every entry runs through two independent paths and both must give the expectation:

* ``engine``: the durable path through the public API: the rules are written as rule files
  into a temporary folder, ``load_rules([folder], bundled=False)``, the case as a case file,
  ``load_case``, then ``policycheck.api.assess`` (with ``as_of`` when the entry gives one);
* ``reference``: tests/reference_eval.py on the case model and the loaded rules.

Entries in tests/conformance/known_gaps.yaml (``entry``, ``path``, ``reason``) are expected to
differ on that path; the test asserts they still do, so a fixed gap is noticed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from policycheck.api import assess
from policycheck.load.cases import load_case
from policycheck.load.rules import RulePack, load_rules
from policycheck.model.rule import CONDITIONS
from reference_eval import assess as reference_assess

CORPUS = Path(__file__).resolve().parent / "conformance"
Path_ = Literal["engine", "reference"]

HEADER: dict[str, Any] = {
    "schema_version": 2, "id": "conformance", "title": "Conformance case", "kind": ["licence", "deal", "data_access"],
    "as_of": "2025-01-01", "summary": "A hand-written conformance case.",
    "sources": [{"id": "s", "title": "Conformance", "date": "unknown", "kind": "primary"}],
    "parties": [{"id": "acme", "name": "Acme"}],
}
RULE_DEFAULTS: dict[str, Any] = {
    "title": "Conformance rule", "conditions": ["C1"], "severity": "high",
    "citation": {"source": "conformance", "section": "§0"}, "rationale": "Conformance.",
    "message": "Conformance flag.", "mitigation": "None.",
}


class ExpectedFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str
    facts: dict[str, str]
    severity: Literal["info", "low", "medium", "high"]
    mitigations: list[str] = []
    pending: list[str] = []


class ExpectedHistory(ExpectedFlag):
    """A flag found on an earlier instant and not on the as-of date, with its window."""

    since: str
    until: str


class ExpectedMissing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    field: str
    in_force: bool = True


class ExpectedEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: Literal["licence_version", "model", "deal", "data_access_change"]
    id: str


class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid")
    flags: list[ExpectedFlag]
    history: list[ExpectedHistory] = []
    after_as_of: list[ExpectedEvent] = []
    rules: dict[str, Literal["fired", "clear", "not assessed", "not applicable"]]
    conditions: dict[str, Literal["concern", "watch", "no concern found", "not assessed", "not applicable"]]
    missing: dict[str, list[ExpectedMissing]] | None = None   # compared only for the rules named


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    about: str = Field(min_length=10)   # the sentence the entry pins
    as_of: str | None = None            # assess on this date (the --as-of option), not the case's as_of
    rules: list[dict[str, Any]]
    case: dict[str, Any] = {}
    expect: Expected


class Gap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entry: str
    path: Path_
    reason: str


def _entries() -> list[tuple[str, Entry, dict[str, Any]]]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        if path.name == "known_gaps.yaml":
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(data) <= {"case", "entries"}, path.name
        for raw in data["entries"]:
            entry = Entry.model_validate(raw)
            case = {**copy.deepcopy(HEADER), **copy.deepcopy(data.get("case", {})), **copy.deepcopy(entry.case)}
            out.append((path.stem, entry, case))
    return out


ENTRIES = _entries()
GAPS = {(g.entry, g.path): g for g in (Gap.model_validate(x) for x in
                                       yaml.safe_load((CORPUS / "known_gaps.yaml").read_text())["gaps"] or [])}
_FACT_ITEMS = {"licence_version", "model", "deal", "data_access_change"}


def _rule_file(rule: dict[str, Any]) -> dict[str, Any]:
    return {**RULE_DEFAULTS, **rule}


def _load(entry: Entry, case: dict[str, Any], tmp: Path) -> tuple[RulePack, Any]:
    folder = tmp / "rules" / "conformance"
    folder.mkdir(parents=True)
    for rule in entry.rules:
        (folder / f"{rule['id']}.yaml").write_text(json.dumps(_rule_file(rule), indent=1), encoding="utf-8")
    (tmp / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    return load_rules([tmp / "rules"], bundled=False), load_case(tmp / "case.yaml")


def _view_engine(entry: Entry, pack: RulePack, loaded: Any) -> dict[str, Any]:
    (body,) = (assess(loaded, pack, as_of=entry.as_of) if entry.as_of else assess(loaded, pack)).cases
    flags = sorted((f.rule, tuple((e.alias, e.id) for e in f.evidence), f.severity,
                    tuple(sorted(m.id for m in (*f.mitigations, *f.escalations))), tuple(sorted(p.id for p in f.pending)))
                   for f in body.flags)
    history = sorted((f.rule, tuple((e.alias, e.id) for e in f.evidence), f.severity,
                      tuple(sorted(m.id for m in (*f.mitigations, *f.escalations))),
                      tuple(sorted(p.id for p in f.pending)), f.window.since, f.window.until) for f in body.history)
    return {"flags": flags, "history": history, "rules": {r.rule: r.status for r in body.rules},
            "conditions": {c.condition: c.status for c in body.conditions},
            "after_as_of": sorted((e.item, e.id) for e in body.after_as_of if e.item in _FACT_ITEMS),
            "missing": {r.rule: sorted((m.id, m.field, m.in_force) for m in r.missing) for r in body.rules}}


def _view_reference(entry: Entry, pack: RulePack, loaded: Any) -> dict[str, Any]:
    result = reference_assess([r.spec for r in pack.rules], loaded.case, entry.as_of)
    flags = sorted((f.rule, f.facts, f.severity, tuple(sorted(f.mitigations)), tuple(sorted(f.pending)))
                   for f in result.flags())
    history = sorted((f.rule, f.facts, f.severity, tuple(sorted(f.mitigations)), tuple(sorted(f.pending)),
                      f.window.since if f.window else None, f.window.until if f.window else None)
                     for f in result.history())
    return {"flags": flags, "history": history, "rules": {rid: o.status for rid, o in result.rules.items()},
            "conditions": result.conditions, "after_as_of": sorted(result.after_as_of),
            "missing": {rid: sorted((m.id, m.field, m.in_force) for m in o.missing) for rid, o in result.rules.items()}}


def _expected(entry: Entry) -> dict[str, Any]:
    e = entry.expect
    flags = sorted((f.rule, tuple(f.facts.items()), f.severity, tuple(sorted(f.mitigations)), tuple(sorted(f.pending)))
                   for f in e.flags)
    history = sorted((f.rule, tuple(f.facts.items()), f.severity, tuple(sorted(f.mitigations)),
                      tuple(sorted(f.pending)), f.since, f.until) for f in e.history)
    named = {c for r in entry.rules for c in _rule_file(r)["conditions"]}
    conds = {c: e.conditions.get(c, "not applicable") for c in CONDITIONS}
    assert named <= set(e.conditions), f"{entry.id}: expect a status for every condition its rules name"
    missing = {rule: sorted((m.id, m.field, m.in_force) for m in ms) for rule, ms in (e.missing or {}).items()}
    return {"flags": flags, "history": history, "rules": dict(e.rules), "conditions": conds,
            "after_as_of": sorted((x.item, x.id) for x in e.after_as_of), "missing": missing}


def test_the_corpus_is_big_enough_and_well_formed() -> None:
    ids = [e.id for _, e, _ in ENTRIES]
    assert 25 <= len(ids) <= 160, len(ids)
    assert len(set(ids)) == len(ids), "entry ids must be unique"
    for _, entry, _ in ENTRIES:
        assert set(entry.expect.rules) == {r["id"] for r in entry.rules}, f"{entry.id}: give every rule's status"
        for f in entry.expect.flags:
            assert entry.expect.rules[f.rule] == "fired", f"{entry.id}: {f.rule} has flags but is not 'fired'"
        for f in entry.expect.history:
            assert f.rule in entry.expect.rules, f"{entry.id}: history flag of an unknown rule {f.rule}"
            assert f.since < f.until, f"{entry.id}: {f.rule} window"
        for rule in entry.expect.missing or {}:
            assert entry.expect.rules.get(rule) == "not assessed", f"{entry.id}: missing fields of {rule}, not assessed"
    for entry_id, path in GAPS:
        assert entry_id in ids, f"known_gaps.yaml names no entry {entry_id}"
        assert GAPS[(entry_id, path)].reason.strip()


def test_the_corpus_covers_the_language() -> None:
    text = "\n".join(json.dumps(e.rules) for _, e, _ in ENTRIES)
    for needle in ('"eq"', '"ne"', '"lt"', '"gt"', '"gte"', '"in"', '"not_in"', '"contains"', '"contains_any"',
                   '"contains_all"', '"exists"', '"ref"', '"any"', '"any_of"', '"none"', '"mitigated_by"', '"on"',
                   '"stricter"', '"looser"', '"applies_to"', '"past"', '"previous_model"', '"licence_version"',
                   '"until"', '"governance"', '"geographic_restrictions_grew"', '"field_of_use_restrictions_added"'):
        assert needle in text, f"no conformance entry uses {needle}"
    statuses = {s for _, e, _ in ENTRIES for s in e.expect.rules.values()}
    assert statuses == {"fired", "clear", "not assessed", "not applicable"}
    conds = {s for _, e, _ in ENTRIES for s in e.expect.conditions.values()}
    assert conds == {"concern", "watch", "no concern found", "not assessed", "not applicable"}
    assert any(e.as_of for _, e, _ in ENTRIES), "no entry assesses on an --as-of date"
    assert any(e.expect.history for _, e, _ in ENTRIES) and any(e.expect.after_as_of for _, e, _ in ENTRIES)
    assert any(f.pending for _, e, _ in ENTRIES for f in e.expect.flags), "no entry has a pending mitigation"
    assert any(not m.in_force for _, e, _ in ENTRIES for ms in (e.expect.missing or {}).values() for m in ms)


@pytest.mark.parametrize("path", ["engine", "reference"])
@pytest.mark.parametrize("entry, case", [(e, c) for _, e, c in ENTRIES], ids=[f"{f}:{e.id}" for f, e, _ in ENTRIES])
def test_entry(entry: Entry, case: dict[str, Any], path: Path_, tmp_path: Path) -> None:
    pack, loaded = _load(entry, case, tmp_path)
    got = (_view_engine if path == "engine" else _view_reference)(entry, pack, loaded)
    want = _expected(entry)
    got["missing"] = {rule: got["missing"].get(rule, []) for rule in want["missing"]}
    gap = GAPS.get((entry.id, path))
    if gap is not None:
        assert got != want, f"{entry.id} now conforms on the {path} path: remove it from known_gaps.yaml ({gap.reason})"
        return
    assert got["flags"] == want["flags"], f"{entry.id} ({path}): flags"
    assert got["history"] == want["history"], f"{entry.id} ({path}): history flags"
    assert got["after_as_of"] == want["after_as_of"], f"{entry.id} ({path}): after the as-of date"
    assert got["rules"] == want["rules"], f"{entry.id} ({path}): rule statuses"
    assert got["conditions"] == want["conditions"], f"{entry.id} ({path}): condition statuses"
    assert got["missing"] == want["missing"], f"{entry.id} ({path}): missing fields"
