"""The compiler: parsed rules -> engine-neutral engine rules -> durable_rules JSON patterns.

The shape tests pin the neutral form and the JSON durable_rules is given for each construct
(engine/durable_translate.py; engine/durable.py adds the sentinel, not us); the behaviour
tests run small rules through ``assess`` to show each shape means what the rule author wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policycheck import assess, load_case_text, load_rules
from policycheck.compile import compile_pack
from policycheck.compile.compiler import compile_rule
from policycheck.compile.ir import CompiledRule
from policycheck.engine.durable import Engine, EnginePattern
from policycheck.engine.durable_translate import translate
from policycheck.load.rules import check_rule
from policycheck.model.rule import Rule
from policycheck.io.reader import parse_document

HEAD = """id: r
title: A test rule
conditions: [C3]
severity: high
citation: {source: CMA FM Initial Report, section: "§3.7.6"}
rationale: Why.
message: "{message}"
mitigation: What would help.
"""


def compile_text(body: str, message: str = "{v.id}") -> CompiledRule:
    doc = parse_document(HEAD.replace("{message}", message) + body, "r.yaml")
    spec, problems = check_rule(Rule.model_validate(doc.data), doc)
    assert not problems, [p.render() for p in problems]
    assert spec is not None
    return compile_rule(spec)


def engine_rule(compiled: CompiledRule, suffix: str) -> list[tuple[str, Any, bool]]:
    (rule,) = [r for r in translate([compiled]) if r.name == f"r|{suffix}"]
    return [(p.alias, p.expression, p.negated) for p in rule.patterns]


def one_v(where: str, fact: str = "licence_version") -> str:
    return f"when:\n  all:\n    - fact: {fact}\n      as: v\n      where: {where}\n"


LV = {"t": "licence_version"}


# --- shapes ---------------------------------------------------------------------------------------

def test_engine_rule_names_and_no_sentinel() -> None:
    compiled = compile_text(one_v("{osi_approved: false}"))
    # main, the two probes, and one refuter for the single refutable test (osi_approved != false)
    assert [r.name for r in compiled.engine_rules()] == ["r|0|main", "r|0|present", "r|0|complete", "r|0|refute:0"]
    assert engine_rule(compiled, "0|refute:0") == [("v", {"$and": [LV, {"$neq": {"osi_approved": False}}]}, False)]
    aliases = {p.alias for r in translate([compiled]) for p in r.patterns}
    assert aliases == {"v"}  # the sentinel pattern s__ is the adapter's job
    assert json.dumps([p.expression for r in translate([compiled]) for p in r.patterns]).count("__sentinel__") == 0


def test_eq() -> None:
    compiled = compile_text(one_v("{osi_approved: false, revocation: at_will}"))
    assert engine_rule(compiled, "0|main") == [
        ("v", {"$and": [LV, {"osi_approved": False}, {"revocation": "at_will"}]}, False)]


def test_id_field_travels_as_key() -> None:
    compiled = compile_text(one_v("{id: lic@1}"))
    assert engine_rule(compiled, "0|main") == [("v", {"$and": [LV, {"key": "lic@1"}]}, False)]
    assert engine_rule(compiled, "0|complete") == [("v", {"$and": [LV, {"$nex": {"u__key": 1}}]}, False)]


@pytest.mark.parametrize(("where", "test"), [
    ("{revocation: {ne: at_will}}", {"$neq": {"revocation": "at_will"}}),
    ("{threshold_limit: {lt: 10}}", {"$lt": {"threshold_limit": 10}}),
    ("{threshold_limit: {lte: 1.5}}", {"$lte": {"threshold_limit": 1.5}}),
    ("{seq: {gt: 1}}", {"$gt": {"seq": 1}}),
    ("{date: {gte: '2023-07'}}", {"$gte": {"date": "2023-07"}}),
    ("{revocation: {in: [at_will, on_breach]}}",
     {"$or": [{"revocation": "at_will"}, {"revocation": "on_breach"}]}),
    ("{revocation: {in: [at_will]}}", {"revocation": "at_will"}),
    ("{revocation: {not_in: [at_will, on_breach]}}",
     {"$and": [{"$neq": {"revocation": "at_will"}}, {"$neq": {"revocation": "on_breach"}}]}),
    ("{field_of_use_restrictions: {contains: medical}}",
     {"$iany": {"field_of_use_restrictions": {"$i": "medical"}}}),
    # $or inside $iany is mis-registered by durable (docs/engine.md): $or of $iany instead
    ("{models: {contains_any: [a, b]}}", {"$or": [{"$iany": {"models": {"$i": "a"}}}, {"$iany": {"models": {"$i": "b"}}}]}),
    ("{models: {contains_all: [a, b]}}",
     {"$and": [{"$iany": {"models": {"$i": "a"}}}, {"$iany": {"models": {"$i": "b"}}}]}),
    ("{spdx: {exists: true}}", {"$ex": {"spdx": 1}}),
    ("{spdx: {exists: false}}", {"$nex": {"spdx": 1}}),
])
def test_operator_shapes(where: str, test: dict[str, Any]) -> None:
    compiled = compile_text(one_v(where))
    assert engine_rule(compiled, "0|main") == [("v", {"$and": [LV, test]}, False)]


def test_contains_any_on_party_roles() -> None:
    compiled = compile_text(one_v("{roles: {contains_any: [investor, cloud_provider]}}", fact="party"),
                            message="{v.name}")
    assert engine_rule(compiled, "0|main") == [("v", {"$and": [
        {"t": "party"}, {"$or": [{"$iany": {"roles": {"$i": "investor"}}},
                                 {"$iany": {"roles": {"$i": "cloud_provider"}}}]}]}, False)]


def test_any_of_inside_a_pattern() -> None:
    body = """when:
  all:
    - fact: licence_version
      as: v
      where: {osi_approved: false}
      any_of:
        - {revocation: at_will}
        - {licensor_may_change_terms: true, has_aup: true}
"""
    compiled = compile_text(body)
    assert engine_rule(compiled, "0|main") == [("v", {"$and": [LV, {"osi_approved": False}, {"$or": [
        {"revocation": "at_will"},
        {"$and": [{"licensor_may_change_terms": True}, {"has_aup": True}]}]}]}, False)]
    assert compiled.alternatives[0].fields["v"] == {"osi_approved", "revocation", "licensor_may_change_terms", "has_aup"}


JOIN = """when:
  all:
    - fact: licence_version
      as: old
      where: {has_user_threshold: false}
    - fact: licence_version
      as: new
      where:
        licence: {ref: old.licence}
        seq: {gt: {ref: old.seq}}
        has_user_threshold: true
"""


def test_join_main_present_complete() -> None:
    compiled = compile_text(JOIN, message="{new.version}")
    # An ordering join (seq gt old.seq) needs the field on both sides: durable raises error 311
    # when the referenced fact lacks it, so both patterns carry an existence guard.
    guard_old = {"$ex": {"seq": 1}}
    join = [{"licence": {"old": "licence"}}, {"$and": [{"$ex": {"seq": 1}}, {"$gt": {"seq": {"old": "seq"}}}]}]
    assert engine_rule(compiled, "0|main") == [
        ("old", {"$and": [LV, guard_old, {"has_user_threshold": False}]}, False),
        ("new", {"$and": [LV, *join, {"has_user_threshold": True}]}, False),
    ]
    # present: the same facts and joins, no value tests
    assert engine_rule(compiled, "0|present") == [("old", {"$and": [LV, guard_old]}, False),
                                                  ("new", {"$and": [LV, *join]}, False)]
    # complete: present plus "every field this pattern reads is known"
    assert engine_rule(compiled, "0|complete") == [
        ("old", {"$and": [LV, guard_old, {"$nex": {"u__has_user_threshold": 1}}]}, False),
        ("new", {"$and": [LV, *join, {"$nex": {"u__has_user_threshold": 1}}, {"$nex": {"u__licence": 1}},
                          {"$nex": {"u__seq": 1}}]}, False),
    ]
    assert compiled.alternatives[0].aliases == ("old", "new")
    assert compiled.alternatives[0].types == {"old": "licence_version", "new": "licence_version"}


def test_self_reference_is_not_a_join() -> None:
    compiled = compile_text(one_v("{date: {gt: {ref: v.announced}}}", fact="data_access_change"))
    # both fields must exist: durable matches a same-fact reference to an absent field when
    # another rule of the ruleset tests that field
    assert engine_rule(compiled, "0|main") == [
        ("v", {"$and": [{"t": "data_access_change"}, {"$and": [{"$ex": {"date": 1}}, {"$ex": {"announced": 1}},
                                                                {"$gt": {"date": {"$m": "announced"}}}]}]}, False)]
    assert engine_rule(compiled, "0|present") == [("v", {"t": "data_access_change"}, False)]
    assert engine_rule(compiled, "0|complete") == [("v", {"$and": [
        {"t": "data_access_change"}, {"$nex": {"u__announced": 1}}, {"$nex": {"u__date": 1}}]}, False)]


def test_negation() -> None:
    body = one_v("{commercial_use: restricted}") + """  none:
    - fact: licence_version
      as: later
      where: {previous: {ref: v.id}}
"""
    compiled = compile_text(body)
    assert engine_rule(compiled, "0|main") == [
        ("v", {"$and": [LV, {"commercial_use": "restricted"}]}, False),
        ("later", {"$and": [LV, {"previous": {"v": "key"}}]}, True),
    ]
    # the negated pattern is not part of present/complete: those count what the rule looks at
    assert engine_rule(compiled, "0|present") == [("v", LV, False)]
    assert compiled.alternatives[0].aliases == ("v",)


def test_exists_does_not_require_the_field_to_be_known() -> None:
    compiled = compile_text(one_v("{spdx: {exists: true}, osi_approved: false}"))
    assert engine_rule(compiled, "0|complete") == [("v", {"$and": [LV, {"$nex": {"u__osi_approved": 1}}]}, False)]


def test_any_alternatives_compile_separately() -> None:
    body = """when:
  all:
    - fact: party
      as: p
      where: {holds_leading_position: true}
  any:
    - fact: model
      as: m
      where: {developer: {ref: p.id}, weights: closed}
    - fact: licence_version
      as: m
      where: {licensor: {ref: p.id}, output_training_ban: true}
"""
    compiled = compile_text(body, message="{p.name}")
    assert [a.main.name for a in compiled.alternatives] == ["r|0|main", "r|1|main"]
    # fields and types are per alternative: alias m is a model in one, a licence version in the other
    assert [a.types["m"] for a in compiled.alternatives] == ["model", "licence_version"]
    assert [a.fields["m"] for a in compiled.alternatives] == [{"developer", "weights"},
                                                              {"licensor", "output_training_ban"}]
    assert engine_rule(compiled, "1|main")[1] == (
        "m", {"$and": [LV, {"licensor": {"p": "key"}}, {"output_training_ban": True}]}, False)
    model_join = {"$and": [{"t": "model"}, {"developer": {"p": "key"}}]}
    assert engine_rule(compiled, "0|present")[1] == ("m", model_join, False)


def test_placeholders_are_checked_against_every_alternative() -> None:
    body = """when:
  all:
    - fact: party
      as: p
  any:
    - fact: model
      as: m
      where: {developer: {ref: p.id}}
    - fact: licence_version
      as: m
      where: {licensor: {ref: p.id}}
"""
    doc = parse_document(HEAD.replace("{message}", "{m.weights}") + body, "r.yaml")
    spec, problems = check_rule(Rule.model_validate(doc.data), doc)
    assert spec is None
    assert [(p.message, p.suggestion) for p in problems] == [
        ("placeholder '{m.weights}': unknown field 'weights'", "weights_access")]


def test_mitigation_refines_the_main_pattern() -> None:
    body = one_v("{output_training_ban: true}") + """mitigated_by:
  - id: narrow
    description: Only competing models.
    severity: medium
    when:
      on:
        - on: v
          where: {output_ban_scope: competing_models}
"""
    compiled = compile_text(body)
    main = {"$and": [LV, {"output_training_ban": True}]}
    assert engine_rule(compiled, "0|mit:narrow") == [
        ("v", {"$and": [main, {"output_ban_scope": "competing_models"}]}, False)]
    assert [(m, r.name) for m, r in compiled.alternatives[0].mitigations] == [("narrow", "r|0|mit:narrow")]


def test_mitigation_with_extra_patterns_puts_negations_last() -> None:
    body = one_v("{output_training_ban: true}") + """  none:
    - fact: model
      as: closed
      where: {weights: closed}
mitigated_by:
  - id: rival-exists
    description: A rival open model exists.
    severity: low
    when:
      none:
        - fact: party
          as: gate
          where: {holds_leading_position: true}
      all:
        - fact: model
          as: rival
          where: {developer: {ref: v.licensor}}
"""
    compiled = compile_text(body)
    patterns = engine_rule(compiled, "0|mit:rival-exists")
    assert [(a, neg) for a, _, neg in patterns] == [("v", False), ("rival", False), ("closed", True), ("gate", True)]
    assert patterns[1][1] == {"$and": [{"t": "model"}, {"developer": {"v": "licensor"}}]}


def test_compiled_rules_are_accepted_by_durable_rules() -> None:
    pack = load_rules([Path(__file__).parent / "data" / "rules"], bundled=False)
    rules = translate(compile_pack(pack))
    assert all(isinstance(p, EnginePattern) for r in rules for p in r.patterns)
    Engine(rules)  # registers the rulesets; raises EngineError if durable refuses any


# --- behaviour of the compiled patterns -----------------------------------------------------------

CASE = """schema_version: 2
id: c
title: Compiler behaviour
kind: [licence, data_access]
as_of: 2024-01-01
summary: Facts for the compiler's behaviour tests.
sources: [{id: s, title: S, date: 2024-01-01, kind: primary}]
parties:
  - {id: lab, name: Lab, roles: [fm_developer, distributor], leading_markets: [search]}
  - {id: other, name: Other, roles: [investor]}
licences:
  - id: lic
    name: Licence
    kind: model_licence
    licensor: lab
    versions:
      - version: v1
        date: 2023-01-01
        terms: {commercial_use: allowed, revocation: on_breach, field_of_use_restrictions: [medical, legal]}
      - version: v2
        date: 2023-06-01
        terms: {commercial_use: restricted, revocation: at_will, osi_approved: unknown}
  - id: other-lic
    name: Other licence
    kind: model_licence
    licensor: other
    versions:
      - version: o1
        date: 2023-03-01
        terms: {commercial_use: restricted, revocation: irrevocable}
data_access_changes:
  - id: ch
    holder: lab
    resource: API
    date: 2023-07-01
    stage: effective
    announced: 2023-04-01
    before: {price: free}
    after: {price: {amount: 1, currency: USD, unit: per call}}
"""


def fired(tmp_path: Path, body: str, message: str = "{v.id}") -> list[str]:
    """The (sorted) messages of the flags the rule raises on CASE; tests make the message the bound ids."""
    folder = tmp_path / "rules" / "fam"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "r.yaml").write_text(HEAD.replace("{message}", message) + body)
    result = assess(load_case_text(CASE, "c.yaml"), load_rules([tmp_path / "rules"], bundled=False))
    return sorted(f.message for f in result.cases[0].flags)


@pytest.mark.parametrize(("where", "fact", "expected"), [
    ("{revocation: {ne: at_will}}", "licence_version", ["lic@1", "other-lic@1"]),
    ("{revocation: {not_in: [at_will, irrevocable]}}", "licence_version", ["lic@1"]),
    ("{commercial_use: {in: [restricted]}}", "licence_version", ["lic@2", "other-lic@1"]),
    ("{previous: {exists: true}}", "licence_version", ["lic@2"]),
    ("{previous: {exists: false}}", "licence_version", ["lic@1", "other-lic@1"]),
    ("{field_of_use_restrictions: {contains_all: [legal, medical]}}", "licence_version", ["lic@1"]),
    ("{field_of_use_restrictions: {contains_all: [legal, sport]}}", "licence_version", []),
    ("{roles: {contains: investor}}", "party", ["other"]),
    ("{roles: {contains_any: [investor, distributor]}}", "party", ["lab", "other"]),
    ("{date: {gt: {ref: v.announced}}}", "data_access_change", ["ch"]),
    ("{date: {lt: {ref: v.announced}}}", "data_access_change", []),
    ("{date: {gte: '2023-03-01'}}", "licence_version", ["lic@2", "other-lic@1"]),
    ("{price_after: {gt: 0.5}, free_before: true}", "data_access_change", ["ch"]),
    # unknown is not "not true": ne/not_in do not match an unknown field
    ("{osi_approved: {ne: true}}", "licence_version", []),
])
def test_operators_behave(tmp_path: Path, where: str, fact: str, expected: list[str]) -> None:
    assert fired(tmp_path, one_v(where, fact)) == expected


def test_join_binds_versions_of_the_same_licence_only(tmp_path: Path) -> None:
    body = """when:
  all:
    - fact: licence_version
      as: old
      where: {commercial_use: allowed}
    - fact: licence_version
      as: new
      where: {licence: {ref: old.licence}, seq: {gt: {ref: old.seq}}, commercial_use: restricted}
"""
    # other-lic@1 is restricted too, but belongs to another licence
    assert fired(tmp_path, body, "{old.id}->{new.id}") == ["lic@1->lic@2"]


# A rule whose two `any` alternatives bind alias x to different fact types.
TWO_TYPE_ALTERNATIVES = """when:
  all:
    - fact: party
      as: p
      where: {roles: {contains: fm_developer}}
  any:
    - fact: licence_version
      as: x
      where: {licensor: {ref: p.id}, revocation: at_will}
    - fact: data_access_change
      as: x
      where: {holder: {ref: p.id}, free_before: true}
"""


def test_any_alternatives_of_different_fact_types_both_fire(tmp_path: Path) -> None:
    body = TWO_TYPE_ALTERNATIVES
    assert fired(tmp_path, body, "{x.id}") == ["ch", "lic@2"]


def test_join_written_after_a_group_test_still_joins(tmp_path: Path) -> None:
    # durable's beta evaluator used to stop at the end of the first nested group ($or from `in`),
    # so a join written after it was ignored and versions of other licences matched too.
    body = """when:
  all:
    - fact: licence_version
      as: old
      where: {commercial_use: allowed}
    - fact: licence_version
      as: new
      where:
        commercial_use: {in: [restricted, prohibited]}
        licence: {ref: old.licence}
"""
    assert fired(tmp_path, body, "{old.id}->{new.id}") == ["lic@1->lic@2"]


def test_contains_any_alongside_other_tests(tmp_path: Path) -> None:
    body = one_v("{roles: {contains_any: [investor, distributor]}, holds_leading_position: true}", "party")
    assert fired(tmp_path, body) == ["lab"]


def test_negation_with_join_finds_latest_versions(tmp_path: Path) -> None:
    body = one_v("{commercial_use: {exists: true}}") + """  none:
    - fact: licence_version
      as: later
      where: {previous: {ref: v.id}}
"""
    assert fired(tmp_path, body) == ["lic@2", "other-lic@1"]


def test_evidence_lists_only_the_fields_of_the_alternative_that_fired(tmp_path: Path) -> None:
    # Two `any` alternatives bind alias x to different fact types; a flag's evidence must
    # list the fields its own alternative tests, not those of the other fact type.
    body = TWO_TYPE_ALTERNATIVES
    folder = tmp_path / "rules" / "fam"
    folder.mkdir(parents=True)
    (folder / "r.yaml").write_text(HEAD.replace("{message}", "{x.id}") + body)
    result = assess(load_case_text(CASE, "c.yaml"), load_rules([tmp_path / "rules"], bundled=False))
    evidence = {f.message: {e.alias: (e.fact, [x.field for x in e.fields]) for e in f.evidence}
                for f in result.cases[0].flags}
    # the tested fields, sorted, then the one the message quotes
    assert evidence["lic@2"]["x"] == ("licence_version", ["licensor", "revocation", "id"])
    assert evidence["ch"]["x"] == ("data_access_change", ["free_before", "holder", "id"])
    assert evidence["ch"]["p"] == evidence["lic@2"]["p"] == ("party", ["id", "roles"])


def test_the_neutral_form_speaks_no_engine_dialect() -> None:
    body = JOIN + """  none:
    - fact: licence_version
      as: later
      where: {previous: {ref: new.id}}
"""
    compiled = compile_text(body, message="{new.version}")
    text = repr(compiled)
    for dialect in ("$", "u__", "'key'", "__sentinel__"):
        assert dialect not in text, dialect
    # the translation adds durable's dialect: id travels as key, guards for error 311
    assert '"key"' in json.dumps([p.expression for r in translate([compiled]) for p in r.patterns])
