"""Differential testing: the durable_rules path must agree with the plain-Python reference.

Hypothesis writes rules in the rule format (validated by ``Rule`` and ``check_rule``, as a
rule file would be) and schema-valid cases; ``assess`` (compiler -> durable_rules -> assess)
and ``reference_eval`` (brute force over the facts) must report the same flags (rule, bound
facts, severity, mitigations) and the same rule statuses. The explicit tests below pin the
silent failures docs/engine.md lists: type coercion, negation order, many facts.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
from policycheck.evaluate import assess
from policycheck.errors import RuleLoadError
from policycheck.model.rule import Rule
from policycheck.load.rules import LoadedRule, RulePack, check_rule, load_rules
from policycheck.io.reader import Document
from policycheck.model.vocabulary import FACT_TYPES, FieldSpec
from reference_eval import conditions as ref_conditions
from reference_eval import case_facts, evaluate

_ORDERED = ("number", "int", "date")
NUMBERS = (0, 1, 2.5, 10, 10.0, 10.5, 700, 700000000, 1.0e16, 3.0e-05)
STRS = (*S.STRINGS, "Apache-2.0", "LicenseRef-x", "per 1,000 calls")
IDS = (*S.PARTY_IDS, *S.MODEL_IDS, "lic-0", "lic-0@1", "lic-0@2", "lic-1@1", "deal-0", "chg-0", "gen")
ITEMS = (*S.LIST_ITEMS, *S.MODEL_IDS)
# Fact types weighted towards the ones generated cases hold several of.
TYPES = ("licence_version", "licence_version", "party", "party", "model", "deal", "data_access_change", "case")


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
    kinds = {a.kind, b.kind}
    ok = len(kinds) == 1 or kinds <= {"number", "int"} or kinds <= {"id", "str"}
    return ok and (op in ("eq", "ne") or a.kind in _ORDERED)


@st.composite
def field_test(draw: st.DrawFn, spec: FieldSpec, alias: str, name: str, visible: dict[str, str],
               negated: bool = False) -> Any:
    """The value of ``where[name]``: a literal (eq shorthand), an operator map, or a reference."""
    kind = spec.kind
    if draw(st.integers(0, 5)) == 0:  # a reference to a field of a visible fact (or this one)
        op = draw(st.sampled_from(("eq", "ne", "lt", "lte", "gt", "gte")))
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
    return p


SEVERITIES = ("info", "low", "medium", "high")


@st.composite
def rule_dicts(draw: st.DrawFn, rid: str) -> dict[str, Any]:
    visible: dict[str, str] = {}
    all_patterns = []
    for i in range(draw(st.integers(1, 2))):
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
    return rule


def make_pack(rules: list[dict[str, Any]]) -> RulePack:
    """A pack of generated rules, validated and compiled exactly as rule files are."""
    loaded = []
    for data in rules:
        rule = Rule.model_validate(data)
        doc = Document(f"{rule.id}.yaml", data, {})
        compiled, problems = check_rule(rule, doc)
        assert compiled is not None, [p.render() for p in problems]
        loaded.append(LoadedRule(compiled, "generated", doc.file, 1, doc, json.dumps(data, sort_keys=True).encode()))
    digest = hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()[:16]
    return RulePack(tuple(sorted(loaded, key=lambda r: r.id)), "gen-" + digest)


# --------------------------------------------------------------------------- comparison


def engine_view(pack: RulePack, case: Any) -> dict[str, Any]:
    result = assess([case], pack).cases[0]
    flags = sorted((f.rule, tuple((e.alias, e.id) for e in f.evidence), f.severity,
                    tuple(m.id for m in f.mitigations)) for f in result.flags)
    return {"flags": flags, "status": {r.rule: r.status for r in result.rules},
            "conditions": {c.condition: c.status for c in result.conditions}}


def reference_view(pack: RulePack, case: Any) -> dict[str, Any]:
    """The reference evaluator on the case model itself (not on flatten's facts)."""
    rules = [r.spec for r in pack.rules]
    outcomes = evaluate(rules, case.case)
    flags = sorted((f.rule, f.facts, f.severity, f.mitigations) for o in outcomes.values() for f in o.flags)
    return {"flags": flags, "status": {rid: o.status for rid, o in outcomes.items()},
            "conditions": ref_conditions(rules, outcomes)}


def assert_agree(rules: list[dict[str, Any]], case_data: dict[str, Any]) -> dict[str, Any]:
    pack = make_pack(rules)
    case = S.load(case_data)
    engine, reference = engine_view(pack, case), reference_view(pack, case)
    if engine != reference:  # name only the rules that differ, with both sides
        diffs = {}
        for rule in rules:
            rid = rule["id"]
            mine = [f for f in engine["flags"] if f[0] == rid], engine["status"].get(rid)
            ref = [f for f in reference["flags"] if f[0] == rid], reference["status"].get(rid)
            if mine != ref:
                diffs[rid] = {"rule": rule["when"], "mitigated_by": rule.get("mitigated_by"),
                              "engine": mine, "reference": ref}
        if engine["conditions"] != reference["conditions"]:
            diffs["conditions"] = {"engine": engine["conditions"], "reference": reference["conditions"]}
        raise AssertionError("engine and reference differ:\n" + json.dumps(diffs, indent=1, default=str))
    return engine


@st.composite
def rule_packs(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [draw(rule_dicts(f"g{i}")) for i in range(draw(st.integers(1, 3)))]


@settings(max_examples=S.examples(2.5))
@given(rules=rule_packs(), case=S.cases())
def test_engine_agrees_with_reference_on_generated_rules_and_cases(rules: list[dict[str, Any]],
                                                                   case: dict[str, Any]) -> None:
    assert_agree(rules, case)


def _lv(where: dict[str, Any], alias: str = "v") -> dict[str, Any]:
    return {"fact": "licence_version", "as": alias, "where": where}


def _rule(rid: str, when: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": rid, "title": "t", "conditions": ["C1"], "severity": "high",
            "citation": {"source": "test", "section": "§0"}, "rationale": "r", "message": "m", "mitigation": "m",
            "when": when, **extra}


def _case(versions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"schema_version": 1, "id": "c", "title": "t", "kind": ["licence"], "as_of": "2024-01-01",
            "summary": "s", "sources": [{"id": "s", "title": "s", "date": "unknown", "kind": "primary"}],
            "parties": [{"id": "acme", "name": "Acme"}],
            "licences": [{"id": "lic", "name": "L", "licensor": "acme", "versions": versions}], **extra}


def _version(name: str, date: str = "2024-01-01", **terms: Any) -> dict[str, Any]:
    return {"version": name, "date": date, "terms": terms}


# --------------------------------------------------------------------------- coercion


def test_strings_that_look_like_numbers_never_equal_other_strings_or_numbers() -> None:
    rules = [_rule("ten-string", {"all": [_lv({"version": "10"})]}),
             _rule("ten-in", {"all": [_lv({"version": {"in": ["10", "true"]}})]}),
             _rule("limit-ten", {"all": [_lv({"threshold_limit": 10})]}),
             _rule("limit-ten-float", {"all": [_lv({"threshold_limit": {"gte": 10.0, "lte": 10}})]})]
    case = _case([_version(v, user_threshold={"metric": "users", "limit": limit, "above": "fee"})
                  for v, limit in (("10", 11), ("10.0", 10), ("1e1", 10.0), ("true", 1), ("010", 9.5))])
    found = assert_agree(rules, case)
    by_rule: dict[str, list[str]] = {}
    for rule, facts, _, _ in found["flags"]:
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
    # the earliest version with an output ban: no earlier version of the same licence has one
    _rule("first-ban", {"all": [_lv({"output_training_ban": True})],
                        "none": [_lv({"output_training_ban": True, "licence": {"eq": {"ref": "v.licence"}},
                                      "seq": {"lt": {"ref": "v.seq"}}}, "w")]}),
    # a ban with no other version lacking it (a negated pattern never sees the bound fact)
    _rule("always-banned", {"all": [_lv({"output_training_ban": True})],
                            "none": [_lv({"output_training_ban": False, "licence": {"ref": "v.licence"}}, "w")]}),
    # the only version of its licence
    _rule("lonely", {"all": [_lv({})], "none": [_lv({"licence": {"ref": "v.licence"}}, "w")]}),
]


@pytest.mark.parametrize("seed", range(6))
def test_negation_does_not_depend_on_fact_order(seed: int) -> None:
    versions = [_version("1", "2023", output_training_ban="none"),
                _version("2", "2023-06", output_training_ban={"scope": "any_model"}),
                _version("3", "2024", output_training_ban={"scope": "other_models"})]
    base = _case(versions)
    base["licences"].append({"id": "other", "name": "O", "licensor": "acme",
                             "versions": [_version("x", output_training_ban={"scope": "any_model"})]})
    shuffled = copy.deepcopy(base)
    random.Random(seed).shuffle(shuffled["licences"])
    first = assert_agree(NEGATION, base)
    assert first == assert_agree(NEGATION, shuffled)
    fired = {(rule, facts[0][1]) for rule, facts, _, _ in first["flags"]}
    assert fired == {("first-ban", "lic@2"), ("first-ban", "other@1"), ("always-banned", "other@1"),
                     ("lonely", "other@1")}


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
    found = assert_agree(rules, _case(versions))
    counts: dict[str, int] = {}
    for rule, *_ in found["flags"]:
        counts[rule] = counts.get(rule, 0) + 1
    assert counts == {"banned": 50, "big": 51, "next": 149}


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
    return {"schema_version": 1, "id": "c", "title": "t", "kind": ["data_access"], "as_of": "2024-01-01",
            "summary": "s", "sources": [{"id": "s", "title": "s", "date": "unknown", "kind": "primary"}],
            "parties": [{"id": "acme", "name": "Acme"}],
            "data_access_changes": [{"id": "chg", "holder": "acme", "resource": "API", "date": "2023",
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
    return {"flags": sorted((rule, tuple(sorted(i for _, i in facts)), sev, mits)
                            for rule, facts, sev, mits in view["flags"]), "status": view["status"]}


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
    rules = [_rule("g", {"all": [_lv({}, "a0")]}, mitigated_by=[{
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


def _statuses(facts: Any) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for f in facts:
        fields = {}
        for name in FACT_TYPES[f.type]:
            if name in f.values:
                fields[name] = ("known", f.values[name])
            else:
                fields[name] = ("unknown",) if name in f.unknown else ("unstated",) if name in f.unstated else ("n/a",)
        out.append((f.type, f.id, fields))
    return out


BUNDLED = sorted((Path(__file__).resolve().parents[1] / "cases").rglob("*.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_reference_facts_agree_with_flatten_on_bundled_cases(path: Path) -> None:
    from policycheck.facts import flatten
    from policycheck.load.cases import load_case

    loaded = load_case(path)
    assert _statuses(case_facts(loaded.case)) == _statuses(flatten(loaded))


@settings(max_examples=S.examples(1))
@given(case=S.cases())
def test_reference_facts_agree_with_flatten_on_generated_cases(case: dict[str, Any]) -> None:
    from policycheck.facts import flatten

    loaded = S.load(case)
    assert _statuses(case_facts(loaded.case)) == _statuses(flatten(loaded))


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_pack_on_bundled_cases_agrees_with_the_reference(path: Path) -> None:
    from policycheck.load.cases import load_case

    pack = load_rules()
    loaded = load_case(path)
    assert engine_view(pack, loaded) == reference_view(pack, loaded)
