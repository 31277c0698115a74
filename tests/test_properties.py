"""Property-based tests (hypothesis) of the engine path and the bundled rule pack.

* generated schema-valid cases never raise, and what comes out is self-consistent;
* the output does not depend on the order of facts, of cases or of rules;
* adding a restrictive licence term to the latest version never removes a flag (but one
  reporting a widening);
* adding a mitigating factor (what a rule's own ``mitigated_by`` asks for) never raises a
  severity;
* a widening between two versions never yields a flag from a rule tagged ``narrowing``;
* corrupted case files give exit 2 and one located ``error:`` line per problem, never a
  traceback.

Profiles are in tests/conftest.py (``HYPOTHESIS_PROFILE=long`` for a thorough local run).
"""

from __future__ import annotations

import copy
import functools
import json
import random
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import strategies as S
from policycheck.evaluate import assess, assess_case
from policycheck.model.assessment import Assessment, CaseAssessment
from policycheck.load.cases import LoadedCase, load_case
from policycheck.cli import main
from policycheck.compile import compile_pack
from policycheck.engine.durable_backend import DurableEngine
from policycheck.engine.durable_translate import translate
from policycheck.facts import Fact, flatten
from policycheck.ruletest.fixtures import load_suite
from policycheck.model.rule import SEVERITY_ORDER, Rule
from policycheck.load.rules import RulePack, bundled_rules_dir, load_rules
from policycheck.io.reader import parse_document

PACK = load_rules()
REPO = Path(__file__).resolve().parents[1]
CASE_FILES = sorted((REPO / "cases").rglob("*.yaml"))
SUITE = load_suite([bundled_rules_dir()])   # the bundled rules' fixtures, loaded once
FIXTURE_CASES = [t.case.document.data for t in SUITE.tests if t.case.file.endswith((".test.yaml", ".test.yml"))]
REAL_CASES = [load_case(p).document.data for p in CASE_FILES]


def test_the_seed_cases_are_all_there() -> None:
    """The strategies below fall back to generated cases alone when the seeds are missing, which
    would pass quietly: count the seeds against the files, read with plain PyYAML."""
    inline = [t for p in sorted((REPO / "rules").rglob("*.test.yaml"))
              for t in yaml.safe_load(p.read_text(encoding="utf-8"))["tests"] if "case" in t]
    assert len(FIXTURE_CASES) == len(inline) >= 60
    assert len(REAL_CASES) == len(CASE_FILES) >= 10
    assert {c["id"] for c in REAL_CASES} == {yaml.safe_load(p.read_text(encoding="utf-8"))["id"] for p in CASE_FILES}
    assert len(_firing_unmitigated_fixtures()) >= 5  # test_a_rules_own_mitigation_lowers_its_flag has cases


def _seeded_cases() -> st.SearchStrategy[dict[str, Any]]:
    """Generated cases, plus the fixtures' and the bundled case files' cases as they are."""
    known = [copy.deepcopy(c) for c in FIXTURE_CASES + REAL_CASES]
    return st.one_of(S.cases(), st.sampled_from(known).map(copy.deepcopy)) if known else S.cases()


def _view(result: CaseAssessment) -> dict[str, Any]:
    """An assessment as a reviewer compares it: which flags (by fingerprint), how severe, and
    every rule and condition status. Evidence paths and lines are left out (they move when
    entries are reordered)."""
    return {
        "flags": sorted((f.rule, f.fingerprint, f.severity, f.mitigated, tuple(m.id for m in f.mitigations), f.message)
                        for f in result.flags),
        "rules": {r.rule: r.status for r in result.rules},
        "conditions": {c.condition: c.status for c in result.conditions},
    }


_ASSESSED: dict[tuple[str, str, str | None], CaseAssessment] = {}


def _assess(data: dict[str, Any], pack: RulePack = PACK, as_of: str | None = None) -> CaseAssessment:
    """The case assessed with ``pack``; assessing is deterministic, so a case seen before (a
    seed drawn again, by this test or another) is assessed once. Callers only read the result."""
    key = (json.dumps(data, sort_keys=True, default=str), pack.digest, as_of)
    if key not in _ASSESSED:
        _ASSESSED[key] = assess([S.load(data)], pack, as_of).cases[0]
    return _ASSESSED[key]


# --------------------------------------------------------------------------- never raise


@settings(max_examples=S.examples(1.5))
@given(case=_seeded_cases())
def test_schema_valid_cases_never_raise_and_results_are_consistent(case: dict[str, Any]) -> None:
    loaded = S.load(case)
    result = assess([loaded], PACK)
    text = result.to_json()  # serialisable, and what it says reads back the same
    assert Assessment.model_validate_json(text).to_json() == text
    (ca,) = result.cases
    rules = PACK.by_id()
    fired = {f.rule for f in ca.flags}
    for outcome in ca.rules:
        assert (outcome.status == "fired") == (outcome.rule in fired)
    for flag in ca.flags:
        rule = rules[flag.rule].rule
        assert flag.base_severity == rule.severity
        # escalations raise at most to the highest applied one; mitigations only lower
        ceiling = max([SEVERITY_ORDER[flag.base_severity], *(SEVERITY_ORDER[m.severity] for m in flag.escalations)])
        assert SEVERITY_ORDER[flag.severity] <= ceiling
        assert flag.mitigated == bool(flag.mitigations)
        if not flag.escalations:
            assert flag.mitigated == (flag.severity != flag.base_severity or bool(flag.mitigations))
        if flag.mitigated:
            assert SEVERITY_ORDER[flag.severity] < ceiling
        assert "{" not in flag.message, flag.message  # every placeholder rendered
    facts = {f.id for f in flatten(loaded)}
    assert {e.id for f in ca.flags for e in f.evidence} <= facts


# --------------------------------------------------------------------------- order


_REORDERABLE = ("parties", "models", "licences", "deals", "data_access_changes", "sources")


@settings(max_examples=S.examples(1))
@given(case=_seeded_cases(), seed=st.integers(0, 2**16))
def test_output_does_not_depend_on_the_order_of_case_entries(case: dict[str, Any], seed: int) -> None:
    shuffled = copy.deepcopy(case)
    rng = random.Random(seed)
    for key in _REORDERABLE:
        if isinstance(shuffled.get(key), list):
            rng.shuffle(shuffled[key])
    assert _view(_assess(case)) == _view(_assess(shuffled))


@settings(max_examples=S.examples(0.5))
@given(cases=st.lists(_seeded_cases(), min_size=2, max_size=3), seed=st.integers(0, 2**16))
def test_output_does_not_depend_on_the_order_of_cases(cases: list[dict[str, Any]], seed: int) -> None:
    for i, c in enumerate(cases):
        c["id"] = f"case-{i}"
    loaded = [S.load(c, f"case-{i}.yaml") for i, c in enumerate(cases)]
    reordered = list(loaded)
    random.Random(seed).shuffle(reordered)
    assert assess(loaded, PACK).to_json() == assess(reordered, PACK).to_json()


_ORDERS: dict[tuple[int, int], DurableEngine] = {}


def _engine_in_order(seed: int, chunk: int) -> DurableEngine:
    """The pack's engine rules registered in another order and other chunk sizes (so other
    rules share each C ruleset); at most four per process, durable cannot free them."""
    key = (seed, chunk)
    if key not in _ORDERS:
        rules = translate(compile_pack(PACK))
        random.Random(key[0]).shuffle(rules)
        _ORDERS[key] = DurableEngine.from_engine_rules(rules, chunk_size=chunk)
    return _ORDERS[key]


# Rules with a same-fact reference to a field that may be absent hit a known durable bug whose
# outcome depends on the other rules of the C ruleset (strategies.KNOWN_ENGINE_GAPS; pinned by
# test_differential.py::test_same_fact_reference_to_an_absent_field_beside_another_rule).
_GAP_RULES = {r.id for r in PACK.rules if S.same_fact_references_to_optional_fields(r.rule)} \
    if "same-fact-reference-to-optional-field" in S.KNOWN_ENGINE_GAPS else set()


def _without_gap_rules(result: CaseAssessment) -> dict[str, Any]:
    view = _view(result)
    view["flags"] = [f for f in view["flags"] if f[0] not in _GAP_RULES]
    view["rules"] = {k: v for k, v in view["rules"].items() if k not in _GAP_RULES}
    if _GAP_RULES:
        del view["conditions"]
    return view


# Four orders of the engine rules, two registered in chunks of 7 rules, two of 40 (each engine
# costs a registration of the whole pack, and durable cannot free one).
_ORDER_CHUNKS = ((0, 7), (1, 40), (2, 40), (3, 7))


@settings(max_examples=S.examples(0.5))
@given(case=_seeded_cases(), order=st.sampled_from(_ORDER_CHUNKS))
def test_output_does_not_depend_on_the_order_of_rules(case: dict[str, Any], order: tuple[int, int]) -> None:
    loaded = S.load(case)
    reference = _assess(case)
    other = assess_case(loaded, PACK, _engine_in_order(*order))
    assert _without_gap_rules(other) == _without_gap_rules(reference)


def test_output_does_not_depend_on_the_order_of_rule_folders(tmp_path: Path) -> None:
    """The pack split over two folders, given in either order, assesses every case file identically."""
    halves = [tmp_path / "one", tmp_path / "two"]
    for i, lr in enumerate(PACK.rules):
        target = halves[i % 2] / lr.family / Path(lr.file).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(lr.file).read_bytes())
    forward, backward = load_rules(halves, bundled=False), load_rules(halves[::-1], bundled=False)
    assert [r.id for r in forward.rules] == [r.id for r in backward.rules] == [r.id for r in PACK.rules]
    cases = [load_case(p) for p in CASE_FILES]
    assert assess(cases, forward).to_json() == assess(cases, backward).to_json() == assess(cases, PACK).to_json()


# --------------------------------------------------------------------------- monotonicity

# Each edit makes one term of a licence version more restrictive, or returns None when the
# term is already as restrictive as the edit goes (or unknown).
Edit = Callable[[dict[str, Any]], "dict[str, Any] | None"]
_BOOL_RESTRICTIONS = ("research_only", "licensor_may_change_terms", "remote_restriction", "must_use_latest_version",
                      "hosted_service_restriction", "attribution_required", "naming_requirement",
                      "restrictions_pass_to_derivatives", "distillation_counts_as_derivative", "terminates_on_ip_claim")
_SCOPES = ("competing_models", "other_models", "any_model")
_COMMERCIAL = ("allowed", "restricted", "prohibited")
_REVOCATION = ("irrevocable", "on_breach", "at_will")


def _restrict(terms: dict[str, Any], name: str, rng: random.Random) -> dict[str, Any] | None:
    """``terms`` with the term ``name`` made more restrictive, or None if it cannot be."""
    t = copy.deepcopy(terms)
    cur = t.get(name)
    if name in _BOOL_RESTRICTIONS:
        if cur is True:
            return None
        t[name] = True
    elif name == "output_training_ban":
        if isinstance(cur, dict):
            i = _SCOPES.index(cur["scope"])
            if i == len(_SCOPES) - 1:
                return None
            t[name] = {**cur, "scope": _SCOPES[rng.randrange(i + 1, len(_SCOPES))]}
        else:
            t[name] = {"scope": rng.choice(_SCOPES)}
    elif name in ("commercial_use", "revocation"):
        scale = _COMMERCIAL if name == "commercial_use" else _REVOCATION
        i = scale.index(cur) if cur in scale else -1
        if i == len(scale) - 1:
            return None
        t[name] = scale[rng.randrange(i + 1, len(scale))]
    elif name in ("field_of_use_restrictions", "geographic_restrictions"):
        items = cur if isinstance(cur, list) else []
        extra = [x for x in ("medical", "military", "EU", "CN") if x not in items]
        if not extra:
            return None
        t[name] = items + [rng.choice(extra)]
    elif name == "user_threshold":
        if isinstance(cur, dict):
            return None
        t[name] = {"metric": "monthly_active_users", "limit": 700000000, "above": "licensor_discretion"}
    elif name == "acceptable_use_policy":
        if isinstance(cur, dict):
            return None
        t[name] = {"incorporated_by_reference": True, "licensor_may_update": True}
    else:
        raise AssertionError(name)
    return t


RESTRICTIONS = (*_BOOL_RESTRICTIONS, "output_training_ban", "commercial_use", "revocation",
                "field_of_use_restrictions", "geographic_restrictions", "user_threshold", "acceptable_use_policy")


def _flags(result: CaseAssessment, leave_out: frozenset[str] = frozenset()) -> dict[str, str]:
    return {f.fingerprint: f"{f.rule} ({f.severity})" for f in result.flags if f.rule not in leave_out}


# Rules that report a version loosening the one before (tag ``widening``, issue 9): making the
# latest version more restrictive may take back the loosening they report, so their flags
# may go. Every other flag must stay.
WIDENING_RULES = frozenset(r.id for r in PACK.rules if "widening" in r.rule.tags)


# Per rule, the licence-version aliases a model-family rule compares as the earlier side (the
# terms of the earlier model, another licence): making that licence's latest version more
# restrictive may take back the narrowing the rule reports, as a widening would.
_EARLIER_TERMS = {r.rule.id: {p.alias for alt in r.spec.when.alternatives() for p in alt
                                   if p.fact == "licence_version" and p.past}
                  for r in PACK.rules if "model-family" in r.rule.tags}


def _as_earlier(result: CaseAssessment, version: str) -> set[str]:
    """Fingerprints of family flags that bind ``version`` as the earlier model's terms."""
    return {f.fingerprint for f in result.flags
            if any(e.id == version and e.alias in _EARLIER_TERMS.get(f.rule, ()) for e in f.evidence)}


def _licence_cases() -> st.SearchStrategy[dict[str, Any]]:
    """Generated cases with licences (and models, which model-family rules read with them) but
    no deals or data-access changes: no rule reads those with licence terms (checked below), so
    they cannot change what a licence edit does, and they cost instants to assess. The seeds
    keep whatever they hold."""
    seeds = [copy.deepcopy(c) for c in FIXTURE_CASES + REAL_CASES if c.get("licences")]
    return st.one_of(S.cases(min_licences=1, max_deals=0, max_changes=0), st.sampled_from(seeds).map(copy.deepcopy))


def _fields_read_of(rule: Rule, alias: str) -> set[str]:
    """The fields a rule tests on the fact bound to ``alias``: its pattern's ``where`` and
    ``any_of``, and the refinements of its mitigations and escalations ``on`` that alias."""
    fields: set[str] = set()
    for p in (*rule.when.all, *rule.when.any, *rule.when.none):
        if (p.alias or p.fact) == alias:
            fields |= set(p.where) | {k for branch in p.any_of for k in branch}
    for m in (*rule.mitigated_by, *rule.escalated_by):
        for r in m.when.on:
            if r.on == alias:
                fields |= set(r.where) | {k for branch in r.any_of for k in branch}
    return fields


def test_no_rule_reads_model_licence_terms_with_deals_or_data_changes() -> None:
    """What _licence_cases leaves out is irrelevant to licence edits only while this holds: a rule
    that reads licence versions together with deals or data changes (data-licence-to-leading-firm:
    a data licence is a licence) applies to no model licence and tests none of the terms the
    licence edits below change, so no edit can remove or add one of its flags."""
    for lr in PACK.rules:
        rule = lr.rule
        patterns = [*rule.when.all, *rule.when.any, *rule.when.none]
        for m in (*rule.mitigated_by, *rule.escalated_by):
            patterns += [*m.when.all, *m.when.none]
        facts = {p.fact for p in patterns}
        if not ("licence_version" in facts and facts & {"deal", "data_access_change"}):
            continue
        assert "model_licence" not in rule.applies_to, rule.id
        read: set[str] = set()
        for p in patterns:
            if p.fact == "licence_version":
                read |= _fields_read_of(rule, p.alias or p.fact) | set(p.where) | {k for b in p.any_of for k in b}
        assert read and not read & set(RESTRICTIONS), (rule.id, sorted(read & set(RESTRICTIONS)))


@settings(max_examples=S.examples(1.5))
@given(case=_licence_cases(), term=st.sampled_from(RESTRICTIONS), pick=st.integers(0, 50), seed=st.integers(0, 99))
def test_adding_a_restrictive_term_to_the_latest_version_never_removes_a_flag(
        case: dict[str, Any], term: str, pick: int, seed: int) -> None:
    licences = case["licences"]
    licence = licences[pick % len(licences)]
    versions = licence["versions"]
    restricted = _restrict(versions[-1]["terms"], term, random.Random(seed))
    assume(restricted is not None)
    edited = f"{licence['id']}@{len(versions)}"
    result = _assess(case)
    before = {fp: rule for fp, rule in _flags(result, WIDENING_RULES).items() if fp not in _as_earlier(result, edited)}
    versions[-1]["terms"] = restricted
    after = _flags(_assess(case))
    lost = {fp: rule for fp, rule in before.items() if fp not in after}
    assert not lost, f"making '{term}' more restrictive removed {sorted(lost.values())}"


def _satisfying(ops: dict[str, Any]) -> tuple[bool, Any]:
    """A literal that passes every test in ``ops``, if one is easy to name."""
    value: Any = None
    found = False
    for op, operand in ops.items():
        if isinstance(operand, dict):  # a reference
            return False, None
        if op == "eq":
            value, found = operand, True
        elif op == "in":
            value, found = operand[0], True
        elif op in ("gte", "lte"):
            value, found = operand, True
        elif op == "gt":
            value, found = operand + 1, True
        elif op == "lt":
            value, found = (operand / 2 if operand > 0 else operand - 1), True
        else:
            return False, None
    return found, value


MitigationEdit = tuple[str, list[tuple[str, dict[str, Any]]]]   # (mitigation id, [(alias, field -> value)])


def _literal_values(where: dict[str, Any], any_of: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Literal values passing ``where`` and one ``any_of`` branch (the first that has them), or None."""
    branches = any_of or [{}]
    for branch in branches:
        values: dict[str, Any] = {}
        tests = {**where, **branch}
        for name, spec in tests.items():
            ok, value = _satisfying(spec if isinstance(spec, dict) and "ref" not in spec else {"eq": spec})
            if not ok:
                break
            values[name] = value
        else:
            return values
    return None


def _mitigation_edits(rule: Rule) -> list[MitigationEdit]:
    """What each of the rule's mitigations asks of the facts the rule binds, as literal values
    (every refinement ``on`` a bound alias, with one ``any_of`` branch), for the mitigations that
    are only such refinements (no ``all`` / ``none`` patterns of their own)."""
    out: list[MitigationEdit] = []
    for mit in rule.mitigated_by:
        if mit.when.all or mit.when.none or not mit.when.on:
            continue
        wanted = [(ref.on, _literal_values(ref.where, ref.any_of)) for ref in mit.when.on]
        if all(values is not None for _, values in wanted):
            out.append((mit.id, [(alias, values) for alias, values in wanted if values is not None]))
    return out


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _drop_board_seat(entity: dict[str, Any], value: Any) -> bool:
    """No board seat: drop it, whether a bare right or a grant ``{right: board_seat, since, until}``."""
    if value is not False:
        return False
    entity["governance"] = [g for g in entity.get("governance") or []
                            if g != "board_seat" and not (isinstance(g, dict) and g.get("right") == "board_seat")] \
        if isinstance(entity.get("governance"), list) else []
    return True


def _set_in(key: str, field: str, make: Callable[[Any], Any]) -> Callable[[dict[str, Any], Any], bool]:
    """A setter of ``entity[key][field]`` (``key`` a mapping of the entry, e.g. ``after``)."""
    def setter(entity: dict[str, Any], value: Any) -> bool:
        inner = entity.get(key)
        if not isinstance(inner, dict):
            return False
        made = make(value)
        if made is None:
            return False
        inner[field] = made
        return True
    return setter


def _put(entity: dict[str, Any], key: str, value: Any, when: bool) -> bool:
    """``entity[key] = value`` if ``when``; whether it was set."""
    if when:
        entity[key] = value
    return when


def _investment(entity: dict[str, Any], value: Any) -> bool:
    """This round's amount as an investment of ``value`` US dollars (checked afterwards: the total
    to date also counts the relationship's earlier rounds)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        return False
    amount = entity.get("amount")
    entity["amount"] = {**(amount if isinstance(amount, dict) else {}), "value": value, "currency": "USD",
                        "flow": "investment"}
    return True


def _territories_by_law(version: dict[str, Any], value: Any) -> bool:
    """Every listed territory excluded as a legal requirement (True) or by choice (False)."""
    listed = version.get("terms", {}).get("geographic_restrictions")
    if not isinstance(listed, list) or not listed or not isinstance(value, bool):
        return False
    basis = "legal_requirement" if value else "licensor_choice"
    version["terms"]["geographic_restrictions"] = [
        {"territory": x["territory"] if isinstance(x, dict) else x, "basis": basis} for x in listed]
    return True


# Derived fields (facts/build.py computes them from another entry or from a value of another
# shape): how to give them a value, on the case entry the fact is built from. Every edit is
# checked afterwards by rebuilding the facts (_apply_mitigation), so a setter may be partial.
_DERIVED: dict[tuple[str, str], Callable[[dict[str, Any], Any], bool]] = {
    ("deal", "has_board_seat"): _drop_board_seat,
    ("deal", "has_governance_rights"): lambda d, v: _put(d, "governance", [], v is False),
    ("deal", "invested_to_date"): _investment,
    ("licence_version", "geographic_restrictions_by_law"): _territories_by_law,
    ("party", "holds_leading_position"): lambda p, v: _put(p, "leading_markets", [], v is False),
    ("data_access_change", "free_before"): _set_in("before", "price", lambda v: "free" if v is True else None),
    ("data_access_change", "free_tier_after"): _set_in(
        "after", "free_tier", lambda v: {"limit": "a free tier (property edit)"} if v is True else "none" if v is False else None),
    ("data_access_change", "ai_training_ban_before"): _set_in("before", "ai_training_ban", lambda v: v),
    ("data_access_change", "ai_training_ban_after"): _set_in("after", "ai_training_ban", lambda v: v),
}


def _set_field(new: dict[str, Any], fact: Fact, name: str, value: Any) -> bool:
    """Set the case field ``fact``'s field ``name`` is built from to ``value`` (False: no way to)."""
    derived = _DERIVED.get((fact.type, name))
    if derived is not None:
        return derived(_get(new, fact.path), value)
    path = fact.origins.get(name)
    if path is None:
        return False
    try:
        parent, key = _get(new, path[:-1]), path[-1]
    except (KeyError, IndexError, TypeError):
        return False
    if not isinstance(parent, dict):
        return False
    if name in fact.values and parent.get(key) != fact.values[name]:  # derived from this entry, not a copy of it
        return False
    parent[key] = value
    return True


def _apply_mitigation(data: dict[str, Any], wanted: list[tuple[Fact, dict[str, Any]]],
                      as_of: str | None = None) -> dict[str, Any] | None:
    """The case with each fact's fields set to the values wanted, where they come from, or None
    when a field cannot be set that way, the result is not a valid case, or a rebuilt fact does
    not hold the value (a derived field that the edit did not move)."""
    new = copy.deepcopy(data)
    for fact, values in wanted:
        for name, value in values.items():
            if not _set_field(new, fact, name, value):
                return None
    try:
        rebuilt = {(f.type, f.id): f for f in flatten(S.load(new), as_of)}
    except Exception:
        return None
    for fact, values in wanted:
        now = rebuilt.get((fact.type, fact.id))
        if now is None or any(now.values.get(n) != v for n, v in values.items()):
            return None
    return new


def _wanted(edit: MitigationEdit, evidence: Any, facts: dict[tuple[str, str], Fact]) -> list[tuple[Fact, dict[str, Any]]] | None:
    """The mitigation's values on the facts a flag's evidence binds to its aliases (None: one is not bound)."""
    out = []
    for alias, values in edit[1]:
        ev = next((e for e in evidence if e.alias == alias), None)
        if ev is None:
            return None
        out.append((facts[(ev.fact, ev.id)], values))
    return out


def _mitigate_first(data: dict[str, Any], result: CaseAssessment) -> tuple[dict[str, Any], Any, str] | None:
    """Apply the first applicable unmet mitigation of a flag in ``result``: (new case, flag, mitigation id)."""
    facts = {(f.type, f.id): f for f in flatten(S.load(data))}
    rules = PACK.by_id()
    for flag in result.flags:
        applied = {m.id for m in flag.mitigations}
        for edit in _mitigation_edits(rules[flag.rule].rule):
            if edit[0] in applied:
                continue
            wanted = _wanted(edit, flag.evidence, facts)
            new = None if wanted is None else _apply_mitigation(data, wanted)
            if new is not None:
                return new, flag, edit[0]
    return None


def _severities(result: CaseAssessment) -> dict[str, int]:
    return {f.fingerprint: SEVERITY_ORDER[f.severity] for f in result.flags}


def _pack_of(rule_ids: set[str], folder: Path) -> RulePack:
    """The bundled rules ``rule_ids`` alone, as a pack of their own."""
    for lr in PACK.rules:
        if lr.rule.id in rule_ids:
            target = folder / lr.family / Path(lr.file).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(Path(lr.file).read_bytes())
    return load_rules([folder], bundled=False)


# Only the flags of rules with a mitigation edit can be mitigated (_mitigate_first skips the
# others), and a rule's flags do not depend on the other rules of the pack: this smaller pack
# finds the cases with such a flag several times faster than the whole pack. Every assessment
# the properties compare is still made with the whole pack.
MITIGABLE_PACK = _pack_of({r.id for r in PACK.rules if _mitigation_edits(r.rule)},
                          Path(tempfile.mkdtemp(prefix="policycheck-mitigable-")))


def _has_mitigable_flag(data: dict[str, Any]) -> bool:
    return _mitigate_first(data, _assess(data, MITIGABLE_PACK)) is not None


def _mitigable_cases() -> st.SearchStrategy[dict[str, Any]]:
    """Generated cases rich in deals, and the fixture and bundled cases with a flag that a
    mitigation of its rule can lower. The generated cases hold no licences: a generated licence
    is slow to draw and almost never gives a flag a mitigation edit can lower (about 1 in 150),
    while deals alone give one about 1 in 6; the seeds bring the licence rules' mitigations."""
    seeds = [copy.deepcopy(c) for c in FIXTURE_CASES + REAL_CASES if _has_mitigable_flag(c)]
    return st.one_of(S.cases(max_deals=3, max_licences=0, max_changes=0), st.sampled_from(seeds).map(copy.deepcopy))


def test_the_mitigable_pack_finds_what_the_whole_pack_finds() -> None:
    """The shortcut above agrees with the whole pack (the bundled cases and every tenth fixture
    case: the same first mitigable flag either way)."""
    for data in REAL_CASES + FIXTURE_CASES[::10]:
        small, whole = _mitigate_first(data, _assess(data, MITIGABLE_PACK)), _mitigate_first(data, _assess(data))
        assert (small is None) == (whole is None), data["id"]
        if small is not None and whole is not None:
            assert (small[0], small[1].fingerprint, small[2]) == (whole[0], whole[1].fingerprint, whole[2]), data["id"]


@settings(max_examples=S.examples(1))
@given(case=_mitigable_cases())
def test_adding_a_mitigating_factor_never_raises_a_severity(case: dict[str, Any]) -> None:
    """Applying what a rule's ``mitigated_by`` asks for never makes that rule's flags more severe.

    The same edit may well aggravate another rule (a version that restricts commercial use
    instead of prohibiting it mitigates commercial-use-withdrawn, and makes a user threshold
    added in the next version a new restriction for new-user-threshold), so other rules'
    flags are not compared.
    """
    assume(_has_mitigable_flag(case))   # a quick look first; the whole pack decides below
    before = _assess(case)
    found = _mitigate_first(case, before)
    assume(found is not None)
    assert found is not None
    mitigated, flag, mid = found
    after = [f for f in _assess(mitigated).flags if f.rule == flag.rule]
    old = {f.fingerprint: f for f in before.flags if f.rule == flag.rule}
    what = f"{flag.rule}/{mid}"
    for f in after:
        if f.fingerprint in old:
            assert SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER[old[f.fingerprint].severity], what
        else:
            assert SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER[flag.severity], f"{what} created {f.message}"
    target = next((f for f in after if f.fingerprint == flag.fingerprint), None)
    if target is not None and not target.related:
        # the edit may remove the flag altogether; if not, the mitigation applies. A relationship's
        # flag (``relationship:``) is carried by its most severe round: mitigating one round
        # leaves another round's terms in place, so only "never more severe" holds for it.
        assert mid in {m.id for m in target.mitigations}, what


def _lowering_edits(rule_id: str, loaded: LoadedCase, as_of: str | None) -> tuple[int, int]:
    """(edits applied, edits that kept the rule's unmitigated flag and lowered it) for the
    rule's own mitigation edits on ``loaded`` assessed on ``as_of`` (the fixture's date, else
    the case's); asserts that every kept flag is mitigated and lower."""
    before = assess([loaded], PACK, as_of).cases[0]
    mine = [f for f in before.flags if f.rule == rule_id and not f.mitigated]
    assert mine, "the fixture's flag is expected to fire unmitigated"
    applied = lowered = 0
    facts = {(f.type, f.id): f for f in flatten(loaded, as_of)}
    for edit in _mitigation_edits(PACK.by_id()[rule_id].rule):
        mid = edit[0]
        wanted = _wanted(edit, mine[0].evidence, facts)
        assert wanted is not None, f"{mid}: the flag binds every alias its rule's mitigations refine"
        new = _apply_mitigation(loaded.document.data, wanted, as_of)
        if new is None:
            continue
        applied += 1
        flag = {f.fingerprint: f for f in _assess(new, as_of=as_of).flags}.get(mine[0].fingerprint)
        if flag is not None and not flag.related:  # the edit may also remove the flag; if it stays, it is
            assert mid in {m.id for m in flag.mitigations}   # mitigated and lower (a relationship's
            # flag is carried by its most severe round, which another round may still be)
            assert SEVERITY_ORDER[flag.severity] < SEVERITY_ORDER[mine[0].severity]
            lowered += 1
    return applied, lowered


@functools.cache
def _firing_unmitigated_fixtures() -> list[tuple[str, str, Any, str | None]]:
    out = []
    for t in SUITE.tests:
        rule = PACK.by_id().get(t.rule)
        if rule is None or not t.expect.fires or not _mitigation_edits(rule.rule):
            continue
        # the fixture must say its flag is unmitigated: ``mitigated: false``, or the rule's own
        # severity with nothing said about mitigation (a lower one is mitigated; a higher one is
        # escalated, which is also min'ed with a mitigation, but an escalated flag here is a
        # relationship's total over rounds, which no edit of one fact can mitigate)
        if not (t.expect.mitigated is False
                or (t.expect.mitigated is None and t.expect.severity == rule.rule.severity)):
            continue
        if t.expect.severity is not None and t.expect.severity != rule.rule.severity:
            continue
        out.append((t.rule, t.name, t.case, t.as_of))
    return out


@pytest.mark.parametrize("rule_id, name, loaded, as_of", _firing_unmitigated_fixtures(),
                         ids=[f"{r}: {n[:50]}" for r, n, _, _ in _firing_unmitigated_fixtures()])
def test_a_rules_own_mitigation_lowers_its_flag(rule_id: str, name: str, loaded: LoadedCase, as_of: str | None) -> None:
    """The mitigation edit the property uses really mitigates (so the property is not vacuous)."""
    applied, _ = _lowering_edits(rule_id, loaded, as_of)
    assert applied, "no mitigation of the rule could be applied to its own firing fixture"


def test_every_mitigable_rule_has_a_fixture_whose_flag_the_edit_lowers() -> None:
    """An edit that only ever removes a rule's flag leaves the property's severity comparison
    (and the check above) with nothing to compare for that rule: for every rule with such
    fixtures, one edit on one of them must keep the flag and lower it."""
    lowered: dict[str, int] = {}
    for rule_id, _, loaded, as_of in _firing_unmitigated_fixtures():
        lowered[rule_id] = lowered.get(rule_id, 0) + _lowering_edits(rule_id, loaded, as_of)[1]
    assert len(lowered) >= 5
    assert not [r for r, n in lowered.items() if n == 0], lowered


# --------------------------------------------------------------------------- widening


def _widen(terms: dict[str, Any], name: str) -> dict[str, Any] | None:
    """``terms`` with the term ``name`` made less restrictive (a known value only), or None."""
    t = copy.deepcopy(terms)
    cur = t.get(name)
    if name in _BOOL_RESTRICTIONS:
        if cur is not True:
            return None
        t[name] = False
    elif name == "output_training_ban":
        if not isinstance(cur, dict):
            return None
        i = _SCOPES.index(cur["scope"])
        t[name] = {**cur, "scope": _SCOPES[i - 1]} if i else "none"
    elif name in ("commercial_use", "revocation", "weights_access"):
        scale = {"commercial_use": _COMMERCIAL, "revocation": _REVOCATION,
                 "weights_access": ("open_download", "gated", "api_only", "closed")}[name]
        if cur not in scale or scale.index(cur) == 0:
            return None
        t[name] = scale[scale.index(cur) - 1]
    elif name in ("field_of_use_restrictions", "geographic_restrictions"):
        if not isinstance(cur, list) or not cur:
            return None
        t[name] = cur[1:]
    elif name in ("user_threshold", "acceptable_use_policy"):
        if not isinstance(cur, dict):
            return None
        t[name] = "none"
    else:
        raise AssertionError(name)
    return t


WIDENINGS = (*RESTRICTIONS, "weights_access")


def narrowing_rules(pack: RulePack) -> set[str]:
    return {r.id for r in pack.rules if "narrowing" in r.rule.tags}


def narrowing_flags_on_widening(pack: RulePack, terms: dict[str, Any], edits: list[str]) -> tuple[list[str], bool]:
    """Flags of ``narrowing`` rules on a licence whose second version widens the first;
    and whether the second version differs from the first at all."""
    rng = random.Random(0)
    for name in edits:  # make the first version restrictive where the edits will widen it
        if name != "weights_access":
            terms = _restrict(terms, name, rng) or terms
        elif terms.get(name) in (None, "unknown", "open_download"):
            terms = {**terms, name: "gated"}
    later = terms
    for name in edits:
        later = _widen(later, name) or later
    # as_of is the second version's date: the second version is in force, the first is not,
    # and there are two instants to assess (not three)
    case = {"schema_version": 2, "id": "widening", "title": "Widening", "kind": ["licence"], "as_of": "2024-01-01",
            "summary": "A licence whose second version widens the first.",
            "sources": [{"id": "s", "title": "s", "date": "unknown", "kind": "primary"}],
            "parties": [{"id": "acme", "name": "Acme"}],
            "licences": [{"id": "lic", "name": "Lic", "kind": "model_licence", "licensor": "acme", "versions": [
                {"version": "1", "date": "2023-01-01", "terms": terms},
                {"version": "2", "date": "2024-01-01", "terms": later}]}]}
    names = narrowing_rules(pack)
    flags = [f"{f.rule}: {f.message}" for f in _assess(case, pack).flags if f.rule in names]
    return flags, later != terms


# The property reads only the flags of narrowing rules, and a rule's flags do not depend on the
# other rules of the pack (test_output_does_not_depend_on_the_order_of_rules): assessing with
# the narrowing rules alone gives the same flags in a third of the time.
NARROWING_PACK = _pack_of(narrowing_rules(PACK), Path(tempfile.mkdtemp(prefix="policycheck-narrowing-")))


@settings(max_examples=S.examples(2))
@given(terms=S.terms(), edits=st.lists(st.sampled_from(WIDENINGS), min_size=1, max_size=4))
def test_a_widening_between_versions_never_yields_a_narrowing_flag(terms: dict[str, Any], edits: list[str]) -> None:
    flags, changed = narrowing_flags_on_widening(NARROWING_PACK, terms, edits)
    assume(changed)
    assert not flags, flags


def test_the_pack_tags_its_narrowing_rules() -> None:
    """The widening property runs over rules tagged ``narrowing``; without any it proves nothing."""
    assert narrowing_rules(PACK), "no bundled rule is tagged 'narrowing' (tag the licence-timeline rules that " \
                                  "flag a version narrowing the one before)"
    assert narrowing_rules(NARROWING_PACK) == narrowing_rules(PACK) == {r.id for r in NARROWING_PACK.rules}


def test_the_widening_check_catches_a_rule_that_fires_on_widening(tmp_path: Path) -> None:
    """A deliberately wrong narrowing rule (fires when commercial use *becomes* allowed) is caught."""
    folder = tmp_path / "rules" / "licence-timeline"
    folder.mkdir(parents=True)
    (folder / "wrong-way-round.yaml").write_text(yaml.safe_dump({
        "id": "wrong-way-round", "title": "Wrong way round", "conditions": ["OTC"], "severity": "high",
        "citation": {"source": "test", "section": "§0"}, "rationale": "r", "message": "m", "mitigation": "m",
        "tags": ["narrowing"],
        "when": {"all": [{"fact": "licence_version", "as": "prev", "where": {"commercial_use": "prohibited"}},
                         {"fact": "licence_version", "as": "cur",
                          "where": {"previous": {"ref": "prev.id"}, "commercial_use": {"ne": "prohibited"}}}]}}))
    pack = load_rules([tmp_path / "rules"], bundled=False)
    flags, changed = narrowing_flags_on_widening(pack, {"commercial_use": "prohibited"}, ["commercial_use"])
    assert changed and flags == ["wrong-way-round: m"]


# --------------------------------------------------------------------------- corrupted files

_LOCATED = re.compile(r"^error: [^:\n]+\.yaml:\d+(:\d+)?: \S")
_WORKDIR = Path(tempfile.mkdtemp(prefix="policycheck-corrupt-"))
_BASES = [p.read_text(encoding="utf-8") for p in CASE_FILES] + [
    yaml.safe_dump(c, sort_keys=False, allow_unicode=True) for c in FIXTURE_CASES[:10]]


def _run(text: str, command: str = "validate") -> Any:
    path = _WORKDIR / "corrupted.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, [command, str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{type(result.exception).__name__}: {result.exception}"
    assert "Traceback" not in result.output
    return result


_NOT_ASSESSED = re.compile(r"^policycheck: 1 file not assessed: .*corrupted\.yaml$")


def _assert_clean_error(result: Any) -> list[str]:
    assert result.exit_code == 2, result.output
    lines: list[str] = result.stderr.splitlines()
    if lines and _NOT_ASSESSED.match(lines[-1]):   # assess ends with a count of the files it could not read
        lines = lines[:-1]
    assert lines, "exit 2 without a message"
    bad = [line for line in lines if not _LOCATED.match(line)]
    assert not bad, f"lines without file:line: {bad}"
    assert len(lines) == len(set(lines)), "a problem reported twice"
    return lines


_INSERTS = ("\x00", ":", "- ", "\t", "{", "]", "'", "&a ", "*a", "!!python/object ", "\n  x: 1", "<<: {}", "é", "\u2028",
            '"""', "? ", "%YAML 1.1\n", "---\n", "...\n", "key: [", "@", "`")


def test_a_control_character_gives_one_located_line() -> None:
    _assert_clean_error(_run("schema_version: 2\nid: x\x00\n"))


@st.composite
def text_mutations(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_BASES))
    for _ in range(draw(st.integers(1, 3))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        kind = draw(st.sampled_from(("delete", "insert", "swap-lines", "duplicate-line")))
        if kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)):]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from(_INSERTS)) + text[i:]
        else:
            lines = text.split("\n")
            a, b = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if kind == "swap-lines":
                lines[a], lines[b] = lines[b], lines[a]
            else:
                lines.insert(a, lines[b])
            text = "\n".join(lines)
    return text


@settings(max_examples=S.examples(4))
@given(text=text_mutations())
def test_randomly_corrupted_case_text_gives_a_clean_error_or_passes(text: str) -> None:
    result = _run(text)
    if result.exit_code != 0:
        _assert_clean_error(result)
    else:  # still a valid case: says so, and nothing else
        assert (result.stdout, result.stderr) == ("1 case file valid\n", "")


def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, path + (i,))
    return out


def _exists(data: Any, path: tuple[Any, ...]) -> bool:
    try:
        _get(data, path)
    except (KeyError, IndexError, TypeError):
        return False
    return True


@st.composite
def structural_mutations(draw: st.DrawFn) -> tuple[str, list[tuple[Any, ...]]]:
    """A case with keys renamed (``zz_<key>``) or values of another shape; and the paths of
    the renamed keys that survive the later mutations."""
    data = copy.deepcopy(draw(st.sampled_from(REAL_CASES + FIXTURE_CASES)))
    renamed: list[tuple[Any, ...]] = []
    touched: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p and not any(p[: len(t)] == t or t[: len(p)] == p for t in touched)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        touched.append(path)
        parent, key = _get(data, path[:-1]), path[-1]
        if isinstance(parent, dict) and draw(st.booleans()):
            parent[f"zz_{key}"] = parent.pop(key)
            renamed.append(path[:-1] + (f"zz_{key}",))
            touched.append(renamed[-1])
        else:
            value = parent[key]
            parent[key] = [] if isinstance(value, dict) else {"zz_x": 1} if isinstance(value, list) else {"zz_y": [1]}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True), [p for p in renamed if _exists(data, p)]


@settings(max_examples=S.examples(3))
@given(mutation=structural_mutations())
def test_renamed_keys_and_wrong_shapes_give_one_located_line_each(mutation: tuple[str, list[tuple[Any, ...]]]) -> None:
    text, renamed = mutation
    lines = _assert_clean_error(_run(text))
    doc = parse_document(text, "corrupted.yaml")
    if any("unsupported schema_version" in x for x in lines):
        return  # another format version: nothing else in the file can be read against this schema
    for path in renamed:  # each renamed key is reported once, on its own line
        line = doc.places[path][0]
        hits = [x for x in lines if f"unknown field '{path[-1]}'" in x and f".yaml:{line}:" in x]
        assert len(hits) == 1, (path, line, lines)


@settings(max_examples=S.examples(0.25))
@given(text=text_mutations())
def test_corrupted_case_text_through_assess_is_clean_too(text: str) -> None:
    result = _run(text, "assess")
    if result.exit_code not in (0, 1):
        _assert_clean_error(result)
    else:  # still a valid case: its report is printed
        assert result.stdout.startswith("== "), result.output
