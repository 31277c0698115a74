"""Differential testing: the durable_rules path must agree with the plain-Python reference.

Hypothesis writes rules in the rule format (validated by ``Rule`` and ``check_rule``, as a
rule file would be; with ``applies_to``, ``past`` patterns, predecessor links and
``stricter`` / ``looser`` references) and schema-valid v2 cases (versions and deals that end,
rounds that supersede, grants with dates, a case date that leaves some of it in the future),
assessed on the case's date or an ``as_of``; ``assess`` (facts -> compiler -> durable_rules
-> assess, at every instant) and ``reference_eval`` (brute force over the case model) must
report the same current flags (rule, bound facts, severity, mitigations applied and pending),
history flags and windows, facts after the as-of date, rule and condition statuses. The
explicit tests below pin the silent failures docs/engine.md lists: type coercion, negation
order, many facts; and the reference's own fact table is checked against ``flatten`` at
every instant of every bundled case.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

import strategies as S
from policycheck import limits
from policycheck.evaluate import assess
from policycheck.errors import EngineError, RuleLoadError
from policycheck.model.rule import Rule
from policycheck.load.rules import LoadedRule, RulePack, check_rule, load_rules
from policycheck.io.reader import Document
from policycheck.model.vocabulary import FACT_TYPES, FieldSpec
from reference_eval import assess as reference_assess
from reference_eval import as_of_day, case_facts, day, facts_at, instants

_ORDERED = ("number", "int", "date")
NUMBERS = (0, 1, 2.5, 10, 10.0, 10.5, 700, 700000000, 1.0e16, 3.0e-05)
STRS = (*S.STRINGS, "Apache-2.0", "LicenseRef-x", "per 1,000 calls")
IDS = (*S.PARTY_IDS, *S.MODEL_IDS, "lic-0", "lic-0@1", "lic-0@2", "lic-1@1", "deal-0", "chg-0", "gen")
ITEMS = (*S.LIST_ITEMS, *S.MODEL_IDS)
# Fact types weighted towards the ones generated cases hold several of.
TYPES = ("licence_version", "licence_version", "party", "party", "model", "deal", "data_access_change", "case")
KINDS = ("model_licence", "terms_of_service", "data_licence", "api_terms")
LINKS = {"licence_version": "previous", "model": "previous_model"}   # predecessor links
AS_OF = (None, None, "2023-07-18", "2024-01-01", "2025-01-01")      # None: the case's own


# --------------------------------------------------------------------------- rule generator


def literal(spec: FieldSpec) -> st.SearchStrategy[Any]:
    kind = spec.kind
    if kind == "bool":
        return st.booleans()
    if kind == "enum":
        return st.sampled_from(spec.values)
    if kind == "int":
        return st.integers(0, 4)
    if kind == "number":
        return st.sampled_from(NUMBERS)
    if kind == "date":
        return st.sampled_from(S.DATES)
    if kind == "str":
        return st.sampled_from(STRS)
    if kind == "id":
        return st.sampled_from(IDS)
    raise AssertionError(kind)


def item(spec: FieldSpec) -> st.SearchStrategy[Any]:
    return st.sampled_from(spec.values) if spec.item == "enum" else st.sampled_from(ITEMS)


def _gap(op: str, spec: FieldSpec, other: FieldSpec, same_fact: bool, other_type: str, other_field: str) -> bool:
    if "list" in (spec.kind, other.kind):  # the compiler refuses references on list fields
        return True
    if ("same-fact-reference-to-optional-field" in S.KNOWN_ENGINE_GAPS and same_fact
            and other_field not in S.ALWAYS_PRESENT[other_type]):
        return True
    return ("join-order-test-on-optional-field" in S.KNOWN_ENGINE_GAPS and not same_fact and op != "eq"
            and other_field not in S.ALWAYS_PRESENT[other_type])


def _compatible(a: FieldSpec, b: FieldSpec, op: str) -> bool:
    if op in ("stricter", "looser"):
        return bool(a.scale) and a.scale == b.scale
    kinds = {a.kind, b.kind}
    ok = len(kinds) == 1 or kinds <= {"number", "int"} or kinds <= {"id", "str"}
    return ok and (op in ("eq", "ne") or a.kind in _ORDERED)


@st.composite
def field_test(draw: st.DrawFn, spec: FieldSpec, alias: str, name: str, visible: dict[str, str],
               negated: bool = False) -> Any:
    """The value of ``where[name]``: a literal (eq shorthand), an operator map, or a reference."""
    kind = spec.kind
    if draw(st.integers(0, 5)) == 0:  # a reference to a field of a visible fact (or this one)
        ref_ops = ("eq", "ne", "lt", "lte", "gt", "gte") + (("stricter", "looser") * 2 if spec.scale else ())
        op = draw(st.sampled_from(ref_ops))
        targets = [(a, f) for a, t in sorted(visible.items()) for f, s in FACT_TYPES[t].items()
                   if _compatible(spec, s, op) and not _gap(op, spec, s, a == alias, t, f)
                   and not (negated and op != "eq" and a != alias and f not in S.ALWAYS_PRESENT[t])]  # refused
        if targets:
            a, f = draw(st.sampled_from(targets))
            return {op: {"ref": f"{a}.{f}"}}
    if kind == "list":
        op = draw(st.sampled_from(("contains", "contains_any", "contains_all", "exists")))
        if op == "exists":
            return {"exists": draw(st.booleans())}
        if op == "contains":
            return {op: draw(item(spec))}
        return {op: draw(st.lists(item(spec), min_size=1, max_size=3, unique=True))}
    ops = ["eq", "ne", "in", "not_in", "exists"] + (["lt", "lte", "gt", "gte"] if kind in _ORDERED else [])
    chosen = draw(st.lists(st.sampled_from(ops), min_size=1, max_size=2, unique=True))
    if chosen == ["eq"] and draw(st.booleans()):
        return draw(literal(spec))  # shorthand: `field: value`
    out: dict[str, Any] = {}
    for op in chosen:
        if op == "exists":
            out[op] = draw(st.booleans())
        elif op in ("in", "not_in"):
            out[op] = draw(st.lists(literal(spec), min_size=1, max_size=3))
        else:
            out[op] = draw(literal(spec))
    return out


@st.composite
def where_map(draw: st.DrawFn, fact: str, alias: str, visible: dict[str, str], max_fields: int = 3,
              joins: bool = True, negated: bool = False) -> dict[str, Any]:
    vocab = FACT_TYPES[fact]
    if not joins:  # an any_of branch: the compiler refuses joins there, same-fact references only
        visible = {}
    names = draw(st.lists(st.sampled_from(sorted(vocab)), max_size=max_fields, unique=True))
    return {n: draw(field_test(vocab[n], alias, n, {**visible, alias: fact}, negated)) for n in names}


@st.composite
def pattern(draw: st.DrawFn, alias: str, visible: dict[str, str], fact: str | None = None,
            negated: bool = False) -> dict[str, Any]:
    fact = fact or draw(st.sampled_from(TYPES))
    p: dict[str, Any] = {"fact": fact, "as": alias, "where": draw(where_map(fact, alias, visible, negated=negated))}
    if draw(st.integers(0, 3)) == 0:
        p["any_of"] = draw(st.lists(where_map(fact, alias, visible, 2, joins=False), min_size=1, max_size=2))
    if not negated and draw(st.integers(0, 5)) == 0:
        p["past"] = True
    return p


@st.composite
def successor(draw: st.DrawFn, alias: str, before: dict[str, Any], visible: dict[str, str]) -> dict[str, Any]:
    """A pattern on the next version (or model) of ``before``'s fact: its predecessor link and
    now and then a trajectory test (``stricter`` / ``looser`` on a scale, an ordering on a number)."""
    fact = before["fact"]
    p = draw(pattern(alias, visible, fact))
    p["where"][LINKS[fact]] = {"ref": f"{before['as']}.id"}
    if draw(st.booleans()):
        scaled = sorted(n for n, spec in FACT_TYPES[fact].items() if spec.scale)
        name = draw(st.sampled_from([*scaled, "threshold_limit"] if fact == "licence_version" else scaled))
        op = draw(st.sampled_from(("lt", "gt")) if name == "threshold_limit" else st.sampled_from(("stricter", "looser")))
        p["where"][name] = {op: {"ref": f"{before['as']}.{name}"}}
    return p


SEVERITIES = ("info", "low", "medium", "high")


@st.composite
def rule_dicts(draw: st.DrawFn, rid: str) -> dict[str, Any]:
    visible: dict[str, str] = {}
    all_patterns: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 2))):
        first = all_patterns[0] if all_patterns else None
        if first is not None and first["fact"] in LINKS and draw(st.integers(0, 2)) == 0:
            p = draw(successor(f"a{i}", first, dict(visible)))
        else:
            p = draw(pattern(f"a{i}", dict(visible)))
        all_patterns.append(p)
        visible[p["as"]] = p["fact"]
    when: dict[str, Any] = {"all": all_patterns}
    shared: dict[str, str] = dict(visible)     # aliases bound in every alternative
    if draw(st.integers(0, 3)) == 0:
        same_alias = draw(st.booleans())
        alts = []
        fact = draw(st.sampled_from(TYPES)) if same_alias else None
        for k in range(2):
            alias = "b" if same_alias else f"b{k}"
            alts.append(draw(pattern(alias, dict(visible), fact)))
        when["any"] = alts
        if same_alias:
            shared["b"] = alts[0]["fact"]
    if draw(st.integers(0, 2)) == 0:
        when["none"] = [draw(pattern("n0", dict(shared), negated=True))]
    severity = draw(st.sampled_from(SEVERITIES[1:]))
    rule: dict[str, Any] = {
        "id": rid, "title": "Generated rule", "conditions": ["C1"], "severity": severity,
        "citation": {"source": "test", "section": "§0"}, "rationale": "Generated.", "message": "Generated flag.",
        "mitigation": "None.", "when": when,
    }
    mitigations = []
    for m in range(draw(st.integers(0, 2))):
        lower = SEVERITIES[: SEVERITIES.index(severity)]
        mw: dict[str, Any] = {}
        if draw(st.booleans()):
            on = draw(st.sampled_from(sorted(shared)))
            # a refinement may refer to patterns before its alias ("a0" < "a1" < "b" is pattern order)
            mw["on"] = [{"on": on, "where": draw(where_map(shared[on], on, {a: t for a, t in shared.items()
                                                                            if a < on or a == on}))}]
        if draw(st.booleans()) or not mw:
            group = draw(st.sampled_from(("all", "none")))
            mw[group] = [draw(pattern("x0" if group == "all" else "y0", dict(shared), negated=group == "none"))]
        mitigations.append({"id": f"m{m}", "description": "Generated mitigation.",
                            "severity": draw(st.sampled_from(lower)), "when": mw})
    if mitigations:
        rule["mitigated_by"] = mitigations
    if any(p["fact"] == "licence_version" for g in ("all", "any", "none") for p in when.get(g, [])) \
            and draw(st.integers(0, 2)) == 0:  # the loader refuses applies_to on a rule without such a pattern
        rule["applies_to"] = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
    return rule


def make_pack(rules: list[dict[str, Any]]) -> RulePack:
    """A pack of generated rules, validated and compiled exactly as rule files are."""
    loaded = []
    for data in rules:
        rule = Rule.model_validate(data)
        doc = Document(f"{rule.id}.yaml", data, {})
        compiled, problems = check_rule(rule, doc)
        # a rule durable cannot register is refused at load (docs/engine.md); compare only the rest
        if currently_in_test_context():  # refused at load, with a reason: compare only the rest
            assume(not any("error 113" in p.message for p in problems))
        assert compiled is not None, [p.render() for p in problems]
        loaded.append(LoadedRule(compiled, "generated", doc.file, 1, doc, json.dumps(data, sort_keys=True).encode()))
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()[:16]
    return RulePack(tuple(sorted(loaded, key=lambda r: r.id)), "gen-" + digest)


# --------------------------------------------------------------------------- comparison


_FACT_ITEMS = {"licence_version", "model", "deal", "data_access_change"}


def engine_view(pack: RulePack, case: Any, as_of: str | None = None) -> dict[str, Any]:
    try:
        result = assess([case], pack, as_of=as_of).cases[0]
    except EngineError as exc:
        # durable_rules refuses some wide three-valued patterns when registering them (error
        # 113, naming the rules): a known engine limit, left to the bounded-cost work (issue 12)
        if currently_in_test_context():
            assume("error code: 113" not in str(exc))
        raise
    flags = sorted((f.rule, tuple((e.alias, e.id) for e in f.evidence), f.severity,
                    tuple(sorted(m.id for m in (*f.mitigations, *f.escalations))), tuple(sorted(p.id for p in f.pending))) for f in result.flags)
    history = sorted((f.rule, tuple((e.alias, e.id) for e in f.evidence), f.severity, tuple(sorted(m.id for m in (*f.mitigations, *f.escalations))),
                      *(None if d is None else day(d) for d in (f.window.since, f.window.until)))  # 2023 -> 2023-01-01
                     for f in result.history)
    return {"flags": flags, "history": history, "status": {r.rule: r.status for r in result.rules},
            "conditions": {c.condition: c.status for c in result.conditions},
            "after_as_of": sorted((e.item, e.id) for e in result.after_as_of if e.item in _FACT_ITEMS)}


def reference_view(pack: RulePack, case: Any, as_of: str | None = None) -> dict[str, Any]:
    """The reference evaluator on the case model itself (not on flatten's facts)."""
    result = reference_assess([r.spec for r in pack.rules], case.case, as_of)
    flags = sorted((f.rule, f.facts, f.severity, f.mitigations, tuple(sorted(f.pending))) for f in result.flags())
    history = sorted((f.rule, f.facts, f.severity, f.mitigations, f.window.since if f.window else None,
                      f.window.until if f.window else None) for f in result.history())
    return {"flags": flags, "history": history, "status": {rid: o.status for rid, o in result.rules.items()},
            "conditions": result.conditions, "after_as_of": sorted(result.after_as_of)}


def assert_agree(rules: list[dict[str, Any]], case_data: dict[str, Any], as_of: str | None = None) -> dict[str, Any]:
    pack = make_pack(rules)
    case = S.load(case_data)
    engine, reference = engine_view(pack, case, as_of), reference_view(pack, case, as_of)
    if engine != reference:  # name only the rules that differ, with both sides
        diffs: dict[str, Any] = {}
        for rule in rules:
            rid = rule["id"]
            mine = ([f for f in engine["flags"] if f[0] == rid], [f for f in engine["history"] if f[0] == rid],
                    engine["status"].get(rid))
            ref = ([f for f in reference["flags"] if f[0] == rid], [f for f in reference["history"] if f[0] == rid],
                   reference["status"].get(rid))
            if mine != ref:
                diffs[rid] = {"rule": rule["when"], "mitigated_by": rule.get("mitigated_by"),
                              "applies_to": rule.get("applies_to"), "engine": mine, "reference": ref}
        for key in ("conditions", "after_as_of"):
            if engine[key] != reference[key]:
                diffs[key] = {"engine": engine[key], "reference": reference[key]}
        raise AssertionError(f"engine and reference differ (as_of {as_of}):\n" + json.dumps(diffs, indent=1, default=str))
    return engine


@st.composite
def rule_packs(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(rule_dicts(f"g{i}")) for i in range(draw(st.integers(1, 3)))]


@settings(max_examples=S.examples(2.5))
@given(rules=rule_packs(), case=S.cases(), as_of=st.sampled_from(AS_OF))
def test_engine_agrees_with_reference_on_generated_rules_and_cases(rules: list[dict[str, Any]],
                                                                   case: dict[str, Any], as_of: str | None) -> None:
    assert_agree(rules, case, as_of)


def _lv(where: dict[str, Any], alias: str = "v", past: bool = False) -> dict[str, Any]:
    """A licence_version pattern; ``past``: it may match versions no longer in force."""
    return {"fact": "licence_version", "as": alias, "where": where, **({"past": True} if past else {})}


def _rule(rid: str, when: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": rid, "title": "t", "conditions": ["C1"], "severity": "high",
            "citation": {"source": "test", "section": "§0"}, "rationale": "r", "message": "m", "mitigation": "m",
            "when": when, **extra}


def _case(versions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"schema_version": 2, "id": "c", "title": "t", "kind": ["licence"], "as_of": "2024-01-01",
            "summary": "s", "sources": [{"id": "s", "title": "s", "date": "unknown", "kind": "primary"}],
            "parties": [{"id": "acme", "name": "Acme"}],
            "licences": [{"id": "lic", "name": "L", "kind": "model_licence", "licensor": "acme", "versions": versions}], **extra}


def _version(name: str, date: str = "2024-01-01", **terms: Any) -> dict[str, Any]:
    return {"version": name, "date": date, "terms": terms}


# --------------------------------------------------------------------------- coercion


def test_strings_that_look_like_numbers_never_equal_other_strings_or_numbers() -> None:
    # five versions of one day: only the last is in force, the patterns look at all of them (past)
    rules = [_rule("ten-string", {"all": [_lv({"version": "10"}, past=True)]}),
             _rule("ten-in", {"all": [_lv({"version": {"in": ["10", "true"]}}, past=True)]}),
             _rule("limit-ten", {"all": [_lv({"threshold_limit": 10}, past=True)]}),
             _rule("limit-ten-float", {"all": [_lv({"threshold_limit": {"gte": 10.0, "lte": 10}}, past=True)]})]
    case = _case([_version(v, user_threshold={"metric": "users", "limit": limit, "above": "fee"})
                  for v, limit in (("10", 11), ("10.0", 10), ("1e1", 10.0), ("true", 1), ("010", 9.5))])
    found = assert_agree(rules, case)
    by_rule: dict[str, list[str]] = {}
    for rule, facts, *_ in found["flags"]:
        by_rule.setdefault(rule, []).append(facts[0][1])
    assert by_rule == {"ten-string": ["lic@1"], "ten-in": ["lic@1", "lic@4"], "limit-ten": ["lic@2", "lic@3"],
                       "limit-ten-float": ["lic@2", "lic@3"]}


@pytest.mark.parametrize("where, message", [
    ({"threshold_limit": "10"}, "expects number"),
    ({"version": 10}, "expects str"),
    ({"research_only": 1}, "expects bool"),
    ({"research_only": "true"}, "expects bool"),
    ({"seq": 1.0}, "expects int"),
    ({"seq": True}, "expects int"),
    ({"date": 2024}, "expects a date"),
    ({"weights_access": {"in": ["open_download", 1]}}, "expects one of"),
])
def test_literals_of_the_wrong_type_never_reach_the_engine(where: dict[str, Any], message: str) -> None:
    data = _rule("wrong-type", {"all": [_lv(where)]})
    rule = Rule.model_validate(data)
    compiled, problems = check_rule(rule, Document("wrong-type.yaml", data, {}))
    assert compiled is None
    assert any(message in p.message for p in problems), [p.message for p in problems]


# --------------------------------------------------------------------------- negation and order


NEGATION = [
    # the earliest licence of its licensor with an output ban: no earlier one of the licensor has one
    _rule("first-ban", {"all": [_lv({"output_training_ban": True})],
                        "none": [_lv({"output_training_ban": True, "licensor": {"eq": {"ref": "v.licensor"}},
                                      "date": {"lt": {"ref": "v.date"}}}, "w")]}),
    # a ban with no other licence of the licensor lacking it (a negated pattern never sees the bound fact)
    _rule("always-banned", {"all": [_lv({"output_training_ban": True})],
                            "none": [_lv({"output_training_ban": False, "licensor": {"ref": "v.licensor"}}, "w")]}),
    # the only licence of its licensor
    _rule("lonely", {"all": [_lv({})], "none": [_lv({"licensor": {"ref": "v.licensor"}}, "w")]}),
]


def _licence(lid: str, licensor: str, version: dict[str, Any]) -> dict[str, Any]:
    return {"id": lid, "name": lid.upper(), "kind": "model_licence", "licensor": licensor, "versions": [version]}


@pytest.mark.parametrize("seed", range(6))
def test_negation_does_not_depend_on_fact_order(seed: int) -> None:
    """Licences of one licensor, all in force (a none pattern sees only facts in force)."""
    base = _case([_version("1", "2023", output_training_ban="none")])
    base["parties"].append({"id": "beta", "name": "Beta"})
    base["licences"] = [_licence("a", "acme", _version("1", "2023", output_training_ban="none")),
                        _licence("b", "acme", _version("2", "2023-06", output_training_ban={"scope": "any_model"})),
                        _licence("c", "acme", _version("3", "2024", output_training_ban={"scope": "other_models"})),
                        _licence("other", "beta", _version("x", output_training_ban={"scope": "any_model"}))]
    shuffled = copy.deepcopy(base)
    random.Random(seed).shuffle(shuffled["licences"])
    first = assert_agree(NEGATION, base)
    assert first == assert_agree(NEGATION, shuffled)
    fired = {(rule, facts[0][1]) for rule, facts, *_ in first["flags"]}
    assert fired == {("first-ban", "b@1"), ("first-ban", "other@1"), ("always-banned", "other@1"),
                     ("lonely", "other@1")}
    assert first["history"] == [("lonely", (("v", "a@1"),), "high", (), "2023-01-01", "2023-06-01")]


# --------------------------------------------------------------------------- many facts


def test_many_facts_none_dropped() -> None:
    versions = [_version(str(i), f"{2000 + i // 12:04d}-{i % 12 + 1:02d}",
                         output_training_ban={"scope": "any_model"} if i % 3 == 0 else "none",
                         user_threshold={"metric": "users", "limit": float(i + 1), "above": "fee"})
                for i in range(150)]
    rules = [_rule("banned", {"all": [_lv({"output_training_ban": True})]}),
             _rule("big", {"all": [_lv({"threshold_limit": {"gt": 99}})]}),
             _rule("next", {"all": [_lv({}, "a"), _lv({"previous": {"ref": "a.id"},
                                                      "threshold_limit": {"gt": {"ref": "a.threshold_limit"}}},
                                                     "b")]})]
    # 150 versions on 150 dates exceed the default limits (100 versions, 60 dates, 1,000 facts
    # evaluated over the dates): raised here, since not dropping any of many facts is the point
    with limits.using(limits.DEFAULT.replace(versions=150, dates=160, evaluations=25_000)):
        found = assert_agree(rules, _case(versions))
    counts: dict[str, int] = {}
    for rule, *_ in found["flags"] + found["history"]:   # one version in force at a time: the rest is history
        counts[rule] = counts.get(rule, 0) + 1
    assert counts == {"banned": 50, "big": 51, "next": 149}
    assert sorted(f[0] for f in found["flags"]) == ["big", "next"]


# --------------------------------------------------------------------------- references to absent fields


def test_references_between_present_fields_agree() -> None:
    rules = [_rule("same-fact-lt", {"all": [_lv({"threshold_limit": {"lt": {"ref": "v.threshold_limit"}}})]}),
             _rule("raised", {"all": [_lv({}, "a"), _lv({"previous": {"ref": "a.id"},
                                                         "threshold_limit": {"ne": {"ref": "a.threshold_limit"}}},
                                                        "b")]})]
    case = _case([_version("1", user_threshold={"metric": "users", "limit": 5, "above": "fee"}),
                  _version("2", user_threshold={"metric": "users", "limit": 7, "above": "fee"})])
    found = assert_agree(rules, case)
    assert [f[0] for f in found["flags"]] == ["raised"]


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "gt"])
@pytest.mark.parametrize("terms", [{}, {"user_threshold": "none"}, {"user_threshold": "unknown"}])
def test_same_fact_reference_to_an_absent_field_does_not_match(op: str, terms: dict[str, Any]) -> None:
    """``{ref: v.other}`` where v lacks ``other`` (unstated, not applicable or unknown) never matches."""
    where = ({"version": {op: {"ref": "v.spdx"}}} if op in ("eq", "ne") else
             {"seq": {op: {"ref": "v.threshold_limit"}}})
    found = assert_agree([_rule("self-ref", {"all": [_lv(where)]})], _case([_version("1", **terms)]))
    assert found["flags"] == []


# --------------------------------------------------------------------------- engine gaps the compiler closes
# Each test below is a rule shape durable_rules mis-evaluates or crashes on unless the compiler
# guards it (existence tests beside same-fact references and ordering joins) or refuses it.


def _change(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": 2, "id": "c", "title": "t", "kind": ["data_access"], "as_of": "2024-01-01",
            "summary": "s", "sources": [{"id": "s", "title": "s", "date": "unknown", "kind": "primary"}],
            "parties": [{"id": "acme", "name": "Acme"}],
            "data_access_changes": [{"id": "chg", "holder": "acme", "resource": "API", "date": "2023",
                                     "stage": "effective",
                                     "before": before, "after": after}]}


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "gte"])
def test_same_fact_reference_to_an_absent_field_beside_another_rule(op: str) -> None:
    rules = [_rule("other", {"all": [{"fact": "data_access_change", "as": "d", "where": {"free_after": False}}]}),
             _rule("same-fact", {"all": [{"fact": "data_access_change", "as": "d",
                                          "where": {"price_after": {op: {"ref": "d.price_before"}}}}]})]
    found = assert_agree(rules, _change({}, {"price": "free"}))  # price_before unstated
    assert found["status"]["same-fact"] == "not assessed"


@pytest.mark.parametrize("op", ["ne", "lt", "gte"])
def test_join_reference_to_an_absent_field_does_not_crash(op: str) -> None:
    """``{ne: {ref: a.threshold_limit}}`` where a has no threshold."""
    rules = [_rule("changed", {"all": [_lv({}, "a"), _lv({"previous": {"ref": "a.id"},
                                                          "threshold_limit": {op: {"ref": "a.threshold_limit"}}},
                                                         "b")]})]
    case = _case([_version("1", user_threshold="none"),
                  _version("2", user_threshold={"metric": "users", "limit": 5, "above": "fee"})])
    assert assert_agree(rules, case)["flags"] == []


def test_join_eq_reference_to_an_absent_field_does_not_match() -> None:
    rules = [_rule("same-limit", {"all": [_lv({}, "a"), _lv({"previous": {"ref": "a.id"},
                                                             "threshold_limit": {"ref": "a.threshold_limit"}}, "b")]})]
    case = _case([_version("1", user_threshold="none"),
                  _version("2", user_threshold={"metric": "users", "limit": 5, "above": "fee"})])
    assert assert_agree(rules, case)["flags"] == []


def test_references_between_list_fields_are_refused_when_the_rule_loads() -> None:
    """durable raises error 312 on a reference between two list fields; the compiler refuses it."""
    rule = _rule("same-lists", {"all": [_lv({}, "w"), _lv({"field_of_use_restrictions":
                                                          {"eq": {"ref": "w.geographic_restrictions"}}})]})
    compiled, problems = check_rule(Rule.model_validate(rule), Document("same-lists.yaml", rule, {}))
    assert compiled is None
    assert "cannot compare list fields by reference" in problems[0].message


def test_a_join_inside_any_of_is_refused_when_the_rule_loads(tmp_path: Path) -> None:
    """durable_rules mis-evaluates joins inside $or; the compiler refuses them with a file:line."""
    folder = tmp_path / "rules" / "family"
    folder.mkdir(parents=True)
    rule = _rule("join-in-any-of", {"all": [_lv({}, "a"), {"fact": "licence_version", "as": "b", "any_of": [
        {"previous": {"ref": "a.id"}}, {"research_only": True}]}]})
    (folder / "join-in-any-of.yaml").write_text(json.dumps(rule))
    with pytest.raises(RuleLoadError) as err:
        load_rules([tmp_path / "rules"], bundled=False)
    assert err.value.lines()[0].startswith(f"{folder / 'join-in-any-of.yaml'}:1:")
    assert "any_of" in err.value.lines()[0]


# --------------------------------------------------------------------------- order, on generated rules


def _unordered(view: dict[str, Any]) -> dict[str, Any]:
    """Flags as sets of fact ids (which alias a fact fills may follow file order by design)."""
    return {"flags": sorted((rule, tuple(sorted(i for _, i in facts)), *rest) for rule, facts, *rest in view["flags"]),
            "history": sorted((rule, tuple(sorted(i for _, i in facts)), *rest) for rule, facts, *rest in view["history"]),
            "status": view["status"], "conditions": view["conditions"]}


@settings(max_examples=S.examples(1))
@given(rules=rule_packs(), case=S.cases(), seed=st.integers(0, 2**16))
def test_generated_rules_do_not_depend_on_the_order_of_case_entries(rules: list[dict[str, Any]],
                                                                     case: dict[str, Any], seed: int) -> None:
    shuffled = copy.deepcopy(case)
    rng = random.Random(seed)
    for key in ("parties", "models", "licences", "deals", "data_access_changes"):
        if key in shuffled:
            rng.shuffle(shuffled[key])
    pack = make_pack(rules)
    assert _unordered(engine_view(pack, S.load(case))) == _unordered(engine_view(pack, S.load(shuffled)))


def test_an_ordering_join_from_a_mitigation_guards_only_the_mitigation() -> None:
    """A mitigation comparing with a field the main fact lacks does not stop the rule firing."""
    rules = [_rule("g", {"all": [_lv({}, "a0", past=True)]}, mitigated_by=[{
        "id": "m0", "description": "d", "severity": "low",
        "when": {"all": [_lv({"threshold_limit": {"ne": {"ref": "a0.threshold_limit"}}}, "x0")]}}])]
    found = assert_agree(rules, _case([_version("1", user_threshold="none"), _version("2")]))
    assert [f[0] for f in found["flags"]] == ["g", "g"]


def test_an_ordering_join_from_a_none_pattern_is_refused_when_the_rule_loads() -> None:
    rule = _rule("n", {"all": [_lv({}, "a0")],
                       "none": [_lv({"threshold_limit": {"gt": {"ref": "a0.threshold_limit"}}}, "n0")]})
    compiled, problems = check_rule(Rule.model_validate(rule), Document("n.yaml", rule, {}))
    assert compiled is None
    assert "'none' pattern can compare with 'gt' only fields every fact has" in problems[0].message
    ok = _rule("n", {"all": [_lv({}, "a0")], "none": [_lv({"seq": {"gt": {"ref": "a0.seq"}}}, "n0")]})
    assert check_rule(Rule.model_validate(ok), Document("n.yaml", ok, {}))[0] is not None


# --------------------------------------------------------------------------- the reference's own fact mapping


def _statuses(facts: Any, at: str) -> list[tuple[str, str, bool, dict[str, Any]]]:
    """Each fact's type, id, whether it is in force at ``at``, and every field's status and value."""
    out = []
    for f in facts:
        fields: dict[str, tuple[Any, ...]] = {}
        for name in FACT_TYPES[f.type]:
            if name in f.values:
                fields[name] = ("known", f.values[name])
            else:
                fields[name] = ("unknown",) if name in f.unknown else ("unstated",) if name in f.unstated else ("n/a",)
        live = f.live(at) if callable(f.live) else f.live
        out.append((f.type, f.id, live, fields))
    return out


def _facts_agree(loaded: Any) -> None:
    """The reference's facts equal flatten's on the as-of date and on every earlier instant."""
    from policycheck.facts import flatten

    at = as_of_day(loaded.case)
    for t in [*instants(case_facts(loaded.case), at), at]:
        mine, theirs = _statuses(facts_at(loaded.case, t), t), _statuses(flatten(loaded, t), t)
        if mine != theirs:
            assert [f[:2] for f in mine] == [f[:2] for f in theirs], f"facts present at {t}"
            diffs = [f"{a[1]}: live {a[2]} vs {b[2]}" if a[2] != b[2] else f"{a[1]}.{k}: {a[3][k]} vs {b[3][k]}"
                     for a, b in zip(mine, theirs) if a != b
                     for k in (["-"] if a[2] != b[2] else [k for k in a[3] if a[3][k] != b[3][k]])]
            raise AssertionError(f"facts at {t} (reference vs flatten):\n" + "\n".join(diffs))


BUNDLED = sorted((Path(__file__).resolve().parents[1] / "cases").rglob("*.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_reference_facts_agree_with_flatten_on_bundled_cases(path: Path) -> None:
    from policycheck.load.cases import load_case

    _facts_agree(load_case(path))


@settings(max_examples=S.examples(1))
@given(case=S.cases())
def test_reference_facts_agree_with_flatten_on_generated_cases(case: dict[str, Any]) -> None:
    _facts_agree(S.load(case))


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_pack_on_bundled_cases_agrees_with_the_reference(path: Path) -> None:
    from policycheck.load.cases import load_case

    pack = load_rules()
    loaded = load_case(path)
    assert engine_view(pack, loaded) == reference_view(pack, loaded)
