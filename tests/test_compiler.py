"""The compiler: parsed rules -> engine-neutral engine rules -> durable_rules JSON patterns.

The shape tests pin the neutral form and the JSON durable_rules is given for each construct
(engine/durable_translate.py; engine/durable.py adds the sentinel, not us); the behaviour
tests run small rules through ``assess`` to show each shape means what the rule author wrote.

Every pattern starts with its type and its scope: a licence_version pattern tests the rule's
``applies_to`` kinds, and every pattern but a predecessor (reached through ``previous`` /
``previous_model``) or a ``past`` one needs a fact in force (``w__live``). Then come its tests;
``present`` / ``complete`` / refuters decide fired, clear, not assessed or not applicable
(three-valued: unknown and unstated fields are undecided, and a ``none`` pattern that might
match blocks the rule and leaves it not assessed).
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
from policycheck.model.assessment import CaseAssessment
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
KIND = {"licence_kind": "model_licence"}   # the rule's applies_to (default: model licences)
LIVE = {"$ex": {"w__live": 1}}             # the fact is in force at the instant evaluated
LVS = [LV, KIND, LIVE]                     # a licence_version pattern's type test and scope


def lv(*tests: Any) -> dict[str, Any]:
    """A licence_version pattern in force, of a kind the rule applies to, with ``tests``."""
    return {"$and": [*LVS, *tests]}


def live(fact: str, *tests: Any) -> dict[str, Any]:
    """A pattern on another fact type: its type, the Live scope, then ``tests``."""
    return {"$and": [{"t": fact}, LIVE, *tests]} if tests else {"$and": [{"t": fact}, LIVE]}


def unknown(field: str) -> dict[str, Any]:
    return {"$ex": {f"u__{field}": 1}}


def known(field: str) -> dict[str, Any]:
    return {"$nex": {f"u__{field}": 1}}


def absent(field: str) -> list[dict[str, Any]]:
    """Not applicable: no value and no unknown/unstated marker (``exists: false``), as the
    tests of an "and" (nested "and"s are merged into the pattern's)."""
    return [{"$nex": {field: 1}}, {"$nex": {f"u__{field}": 1}}]


def refuted(test: dict[str, Any], field: str) -> dict[str, Any]:
    """The complement of a comparison: a known value that fails it, or no such field at all."""
    return {"$or": [test, {"$and": absent(field)}]}


# --- shapes ---------------------------------------------------------------------------------------

def test_engine_rule_names_and_no_sentinel() -> None:
    compiled = compile_text(one_v("{osi_approved: false}"))
    # main, the two probes, and one refuter for the single refutable test (osi_approved != false)
    assert [r.name for r in compiled.engine_rules()] == ["r|0|main", "r|0|present", "r|0|complete", "r|0|refute:0"]
    assert engine_rule(compiled, "0|refute:0") == [("v", lv(refuted({"$neq": {"osi_approved": False}}, "osi_approved")),
                                                     False)]
    aliases = {p.alias for r in translate([compiled]) for p in r.patterns}
    assert aliases == {"v"}  # the sentinel pattern s__ is the adapter's job
    assert json.dumps([p.expression for r in translate([compiled]) for p in r.patterns]).count("__sentinel__") == 0


def test_eq() -> None:
    compiled = compile_text(one_v("{osi_approved: false, revocation: at_will}"))
    assert engine_rule(compiled, "0|main") == [("v", lv({"osi_approved": False}, {"revocation": "at_will"}), False)]


def test_id_field_travels_as_key() -> None:
    compiled = compile_text(one_v("{id: lic@1}"))
    assert engine_rule(compiled, "0|main") == [("v", lv({"key": "lic@1"}), False)]
    assert engine_rule(compiled, "0|complete") == [("v", lv(known("key")), False)]


@pytest.mark.parametrize(("where", "test"), [
    ("{revocation: {ne: at_will}}", {"$neq": {"revocation": "at_will"}}),
    ("{threshold_limit: {lt: 10}}", {"$lt": {"threshold_limit": 10}}),
    ("{threshold_limit: {lte: 1.5}}", {"$lte": {"threshold_limit": 1.5}}),
    ("{seq: {gt: 1}}", {"$gt": {"seq": 1}}),
    ("{date: {gte: '2023-07'}}", {"$gte": {"date": "2023-07"}}),
    ("{revocation: {in: [at_will, on_breach]}}",
     {"$or": [{"revocation": "at_will"}, {"revocation": "on_breach"}]}),
    ("{revocation: {in: [at_will]}}", {"revocation": "at_will"}),
    # an "and" inside the pattern's "and" is merged into it (durable refuses deep nesting)
    ("{revocation: {not_in: [at_will, on_breach]}}", [{"$neq": {"revocation": "at_will"}}, {"$neq": {"revocation": "on_breach"}}]),
    ("{field_of_use_restrictions: {contains: medical}}",
     {"$iany": {"field_of_use_restrictions": {"$i": "medical"}}}),
    # $or inside $iany is mis-registered by durable (docs/engine.md): $or of $iany instead
    ("{models: {contains_any: [a, b]}}", {"$or": [{"$iany": {"models": {"$i": "a"}}}, {"$iany": {"models": {"$i": "b"}}}]}),
    ("{models: {contains_all: [a, b]}}", [{"$iany": {"models": {"$i": "a"}}}, {"$iany": {"models": {"$i": "b"}}}]),
    ("{spdx: {exists: true}}", {"$ex": {"spdx": 1}}),
    # "known to have no value": no value and no unknown/unstated marker
    ("{spdx: {exists: false}}", absent("spdx")),
])
def test_operator_shapes(where: str, test: dict[str, Any] | list[dict[str, Any]]) -> None:
    compiled = compile_text(one_v(where))
    assert engine_rule(compiled, "0|main") == [("v", lv(*(test if isinstance(test, list) else [test])), False)]


def test_contains_any_on_party_roles() -> None:
    compiled = compile_text(one_v("{roles: {contains_any: [investor, cloud_provider]}}", fact="party"),
                            message="{v.name}")
    # no licence kind on a party pattern: applies_to scopes licence versions only
    assert engine_rule(compiled, "0|main") == [("v", live("party", {"$or": [
        {"$iany": {"roles": {"$i": "investor"}}}, {"$iany": {"roles": {"$i": "cloud_provider"}}}]}), False)]


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
    assert engine_rule(compiled, "0|main") == [("v", lv({"osi_approved": False}, {"$or": [
        {"revocation": "at_will"},
        {"$and": [{"licensor_may_change_terms": True}, {"has_aup": True}]}]}), False)]
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
    # when the referenced fact lacks it, so in every engine rule holding the join both patterns
    # carry an existence guard (the referenced pattern's comes before its scope). Neither
    # pattern is a predecessor (no `previous: {ref: old.id}`), so both must be in force.
    guard_old = {"$ex": {"seq": 1}}
    link = {"licence": {"old": "licence"}}
    seq = [{"$ex": {"seq": 1}}, {"$gt": {"seq": {"old": "seq"}}}]
    assert engine_rule(compiled, "0|main") == [
        ("old", {"$and": [LV, guard_old, KIND, LIVE, {"has_user_threshold": False}]}, False),
        ("new", lv(link, *seq, {"has_user_threshold": True}), False),
    ]
    # present: the same facts and the links that say which facts belong together (an id field
    # equal to another fact's); a value join (seq gt) is a test, refuted below
    assert engine_rule(compiled, "0|present") == [("old", {"$and": LVS}, False), ("new", lv(link), False)]
    # complete: present plus "every field read on the alias is known" (by its own pattern or
    # through a later pattern's join)
    reads = [known("has_user_threshold"), known("licence"), known("seq")]
    assert engine_rule(compiled, "0|complete") == [("old", lv(*reads), False), ("new", lv(link, *reads), False)]
    assert compiled.alternatives[0].aliases == ("old", "new")
    assert compiled.alternatives[0].types == {"old": "licence_version", "new": "licence_version"}


def test_a_value_join_is_refuted_on_known_values_or_a_missing_field() -> None:
    compiled = compile_text(JOIN, message="{new.version}")
    link = {"licence": {"old": "licence"}}
    assert [r.name for r in compiled.alternatives[0].refuters] == [f"r|0|refute:{n}" for n in range(5)]
    # old's own test
    assert engine_rule(compiled, "0|refute:0") == [
        ("old", lv(refuted({"$neq": {"has_user_threshold": False}}, "has_user_threshold")), False),
        ("new", lv(link), False)]
    # seq gt old.seq fails for certain: known values the other way (guarded against 311), ...
    assert engine_rule(compiled, "0|refute:1") == [
        ("old", {"$and": [LV, {"$ex": {"seq": 1}}, KIND, LIVE]}, False),
        ("new", lv(link, {"$ex": {"seq": 1}}, {"$lte": {"seq": {"old": "seq"}}}), False)]
    # ... or either side has no such field (one refuter each: a join cannot sit inside an "or")
    assert engine_rule(compiled, "0|refute:2") == [("old", {"$and": LVS}, False), ("new", lv(link, *absent("seq")), False)]
    assert engine_rule(compiled, "0|refute:3") == [("old", lv(*absent("seq")), False), ("new", lv(link), False)]
    assert engine_rule(compiled, "0|refute:4") == [
        ("old", {"$and": LVS}, False),
        ("new", lv(link, refuted({"$neq": {"has_user_threshold": True}}, "has_user_threshold")), False)]


def test_self_reference_is_not_a_join() -> None:
    compiled = compile_text(one_v("{date: {gt: {ref: v.announced}}}", fact="data_access_change"))
    # both fields must exist: durable matches a same-fact reference to an absent field when
    # another rule of the ruleset tests that field
    both = [{"$ex": {"date": 1}}, {"$ex": {"announced": 1}}]
    assert engine_rule(compiled, "0|main") == [
        ("v", live("data_access_change", *both, {"$gt": {"date": {"$m": "announced"}}}), False)]
    assert engine_rule(compiled, "0|present") == [("v", live("data_access_change"), False)]
    assert engine_rule(compiled, "0|complete") == [
        ("v", live("data_access_change", known("announced"), known("date")), False)]
    # refuted by the opposite comparison, or by either field being not applicable
    assert engine_rule(compiled, "0|refute:0") == [("v", live("data_access_change", {"$or": [
        {"$and": [*both, {"$lte": {"date": {"$m": "announced"}}}]},
        {"$and": absent("date")}, {"$and": absent("announced")}]}), False)]


def test_negation() -> None:
    body = one_v("{commercial_use: restricted}") + """  none:
    - fact: licence_version
      as: later
      where: {previous: {ref: v.id}}
"""
    compiled = compile_text(body)
    # the negated pattern keeps its scope (a version in force, of a kind the rule applies to);
    # its only test is a join, which stays strict when the pattern is relaxed
    # the matched field the negated pattern compares with (v.id) must be known, or the blocker
    # could not be decided
    assert engine_rule(compiled, "0|main") == [
        ("v", lv({"commercial_use": "restricted"}, known("key")), False),
        ("later", lv({"previous": {"v": "key"}}), True),
    ]
    # the negated pattern is not part of present: that counts what the rule looks at
    assert engine_rule(compiled, "0|present") == [("v", {"$and": LVS}, False)]
    # main:unlinked also fires when no version in force could block any matched fact at all
    # (whatever v.id is): none has a previous version, known or unknown
    (unlinked,) = compiled.alternatives[0].also
    assert engine_rule(compiled, "0|main:unlinked") == [
        ("v", lv({"commercial_use": "restricted"}), False),
        ("later", lv({"$or": [{"$ex": {"previous": 1}}, unknown("previous")]}), True),
    ]
    assert compiled.alternatives[0].aliases == ("v",)


def test_exists_reads_the_field() -> None:
    # exists: true is undecided on an unknown or unstated field (case format v2: an unknown
    # field no longer counts as "has a value"), so `complete` needs spdx known as well
    compiled = compile_text(one_v("{spdx: {exists: true}, osi_approved: false}"))
    assert engine_rule(compiled, "0|complete") == [("v", lv(known("osi_approved"), known("spdx")), False)]


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
        "m", lv({"licensor": {"p": "key"}}, {"output_training_ban": True}), False)
    assert engine_rule(compiled, "0|present")[1] == ("m", live("model", {"developer": {"p": "key"}}), False)


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
    assert engine_rule(compiled, "0|mit:narrow") == [
        ("v", lv({"output_training_ban": True}, {"output_ban_scope": "competing_models"}), False)]
    assert [(m, r.name) for m, r in compiled.alternatives[0].mitigations] == [("narrow", "r|0|mit:narrow")]
    # possible: the refinement relaxed to "true, or undecided because the field is unknown"
    assert engine_rule(compiled, "0|maybe:narrow") == [
        ("v", lv({"output_training_ban": True},
                 {"$or": [{"output_ban_scope": "competing_models"}, unknown("output_ban_scope")]}), False)]
    assert [(m, r.name) for m, r in compiled.alternatives[0].possible] == [("narrow", "r|0|maybe:narrow")]
    assert compiled.alternatives[0].mitigation_fields == {"narrow": {"v": {"output_ban_scope"}}}


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
          where: {developer: {ref: v.licensor}, weights: open_download}
"""
    compiled = compile_text(body)
    patterns = engine_rule(compiled, "0|mit:rival-exists")
    assert [(a, neg) for a, _, neg in patterns] == [("v", False), ("rival", False), ("closed", True), ("gate", True)]
    # a mitigation's extra pattern needs a fact in force; its `none` blocks it when a fact
    # matches or might match (relaxed), like the rule's own `none`
    assert patterns[1][1] == live("model", {"developer": {"v": "licensor"}}, {"weights": "open_download"})
    leading = {"holds_leading_position": True}
    assert patterns[3][1] == live("party", {"$or": [leading, unknown("holds_leading_position")]})
    # possible: the extra pattern's tests relaxed, its `none` strict (only a definite match
    # rules the mitigation out)
    maybe = engine_rule(compiled, "0|maybe:rival-exists")
    assert [(a, neg) for a, _, neg in maybe] == [("v", False), ("rival", False), ("closed", True), ("gate", True)]
    assert maybe[1][1] == live("model", {"developer": {"v": "licensor"}},
                               {"$or": [{"weights": "open_download"}, unknown("weights")]})
    assert maybe[3][1] == live("party", leading)
    assert maybe[2] == patterns[2]  # the rule's own `none` is the same in both


# --- scope: applies_to, Live, predecessors, past ------------------------------------------------

def test_applies_to_sets_the_licence_kinds_a_version_pattern_matches() -> None:
    one = compile_text("applies_to: [terms_of_service]\n" + one_v("{revocation: at_will}"))
    assert engine_rule(one, "0|main") == [
        ("v", {"$and": [LV, {"licence_kind": "terms_of_service"}, LIVE, {"revocation": "at_will"}]}, False)]
    two = compile_text("applies_to: [terms_of_service, data_licence]\n" + one_v("{revocation: at_will}"))
    kinds = {"$or": [{"licence_kind": "terms_of_service"}, {"licence_kind": "data_licence"}]}
    # the scope is in every engine rule of the alternative: present and the refuters too
    for suffix in ("main", "present", "complete", "refute:0"):
        assert engine_rule(two, f"0|{suffix}")[0][1]["$and"][:3] == [LV, kinds, LIVE], suffix


def test_applies_to_scopes_every_licence_version_pattern_and_nothing_else() -> None:
    body = """applies_to: [api_terms]
when:
  all:
    - fact: party
      as: p
  none:
    - fact: licence_version
      as: v
      where: {licensor: {ref: p.id}}
mitigated_by:
  - id: m
    description: d
    severity: low
    when:
      all:
        - fact: licence_version
          as: w
          where: {licensor: {ref: p.id}}
"""
    compiled = compile_text(body, message="{p.id}")
    api = {"licence_kind": "api_terms"}
    assert engine_rule(compiled, "0|main") == [
        ("p", live("party", known("key")), False), ("v", {"$and": [LV, api, LIVE, {"licensor": {"p": "key"}}]}, True)]
    assert engine_rule(compiled, "0|mit:m")[1] == ("w", {"$and": [LV, api, LIVE, {"licensor": {"p": "key"}}]}, False)


PREVIOUS = """when:
  all:
    - fact: licence_version
      as: prev
      where: {commercial_use: allowed}
    - fact: licence_version
      as: cur
      where: {previous: {ref: prev.id}, commercial_use: restricted}
"""


def test_a_predecessor_reached_through_previous_need_not_be_in_force() -> None:
    compiled = compile_text(PREVIOUS, message="{cur.id}")
    assert engine_rule(compiled, "0|main") == [
        ("prev", {"$and": [LV, KIND, {"commercial_use": "allowed"}]}, False),
        ("cur", lv({"previous": {"prev": "key"}}, {"commercial_use": "restricted"}), False),
    ]
    for suffix in ("present", "complete", "refute:0", "refute:1"):
        prev, cur = engine_rule(compiled, f"0|{suffix}")
        assert LIVE not in prev[1]["$and"] and LIVE in cur[1]["$and"], suffix


def test_a_predecessor_reached_through_previous_model_need_not_be_in_force() -> None:
    body = """when:
  all:
    - fact: model
      as: old
      where: {weights: open_download}
    - fact: model
      as: new
      where: {previous_model: {ref: old.id}, weights: closed}
"""
    compiled = compile_text(body, message="{new.id}")
    assert engine_rule(compiled, "0|main") == [
        ("old", {"$and": [{"t": "model"}, {"weights": "open_download"}]}, False),
        ("new", live("model", {"previous_model": {"old": "key"}}, {"weights": "closed"}), False),
    ]


def test_only_a_link_to_the_id_makes_a_predecessor() -> None:
    # a reference to another field of the earlier version (or the reverse link) is an ordinary join
    body = """when:
  all:
    - fact: licence_version
      as: a
    - fact: licence_version
      as: b
      where: {previous: {ref: a.version}}
    - fact: licence_version
      as: c
      where: {id: {ref: b.previous}}
"""
    compiled = compile_text(body, message="{a.id}")
    assert [LIVE in p[1]["$and"] for p in engine_rule(compiled, "0|main")] == [True, True, True]


def test_past_patterns_need_not_be_in_force_and_none_patterns_must_be() -> None:
    body = """when:
  all:
    - fact: licence_version
      as: v
      past: true
      where: {commercial_use: allowed}
  none:
    - fact: licence_version
      as: w
      where: {licence: {ref: v.licence}, commercial_use: prohibited}
"""
    compiled = compile_text(body)
    main = engine_rule(compiled, "0|main")
    assert main[0] == ("v", {"$and": [LV, KIND, {"commercial_use": "allowed"}, known("licence")]}, False)
    # `none` looks at what is in force: its scope has Live
    assert main[1] == ("w", lv({"licence": {"v": "licence"}},
                               {"$or": [{"commercial_use": "prohibited"}, unknown("commercial_use")]}), True)


def test_past_on_a_none_pattern_is_refused() -> None:
    body = "when:\n  all:\n    - fact: party\n      as: v\n  none:\n    - fact: licence_version\n" \
           "      as: w\n      past: true\n"
    doc = parse_document(HEAD.replace("{message}", "{v.id}") + body, "r.yaml")
    spec, problems = check_rule(Rule.model_validate(doc.data), doc)
    assert spec is None
    assert [(p.location.path, p.message) for p in problems] == [
        ("when.none[0].past", "'past' is for positive patterns; a 'none' pattern looks at terms in force")]


# --- scales: stricter / looser ---------------------------------------------------------------------

@pytest.mark.parametrize(("op", "engine_op", "opposite"), [("stricter", "$gt", "$lte"), ("looser", "$lt", "$gte")])
def test_stricter_and_looser_compare_places_on_the_scale(op: str, engine_op: str, opposite: str) -> None:
    body = f"""when:
  all:
    - fact: licence_version
      as: prev
    - fact: licence_version
      as: cur
      where:
        previous: {{ref: prev.id}}
        commercial_use: {{{op}: {{ref: prev.commercial_use}}}}
"""
    compiled = compile_text(body, message="{cur.id}")
    # the rank travels as r__<field>; an ordering join to a field the other fact lacks raises
    # durable error 311, so the referenced pattern requires r__commercial_use too (its guard
    # comes first), and the joining side requires its own. prev is a predecessor: no Live.
    guard = {"$ex": {"r__commercial_use": 1}}
    link = {"previous": {"prev": "key"}}
    assert engine_rule(compiled, "0|main") == [
        ("prev", {"$and": [LV, guard, KIND]}, False),
        ("cur", lv(link, guard, {engine_op: {"r__commercial_use": {"prev": "r__commercial_use"}}}), False),
    ]
    # a scale comparison is a value join: present keeps only the link ...
    assert engine_rule(compiled, "0|present") == [("prev", {"$and": [LV, KIND]}, False), ("cur", lv(link), False)]
    # ... and it is refuted by the opposite order on known values, or a side with no value
    assert engine_rule(compiled, "0|refute:0") == [
        ("prev", {"$and": [LV, guard, KIND]}, False),
        ("cur", lv(link, guard, {opposite: {"r__commercial_use": {"prev": "r__commercial_use"}}}), False),
    ]
    assert engine_rule(compiled, "0|refute:1") == [("prev", {"$and": [LV, KIND]}, False),
                                                   ("cur", lv(link, *absent("commercial_use")), False)]
    assert engine_rule(compiled, "0|refute:2") == [("prev", {"$and": [LV, KIND, *absent("commercial_use")]}, False),
                                                   ("cur", lv(link), False)]
    # complete: both sides of the comparison known
    assert engine_rule(compiled, "0|complete") == [
        ("prev", {"$and": [LV, KIND, known("commercial_use"), known("key")]}, False),
        ("cur", lv(link, known("commercial_use"), known("previous")), False)]
    assert compiled.alternatives[0].fields == {"prev": {"id", "commercial_use"}, "cur": {"previous", "commercial_use"}}


def test_a_same_fact_scale_comparison_is_guarded_like_any_self_reference() -> None:
    compiled = compile_text(one_v("{compute: {stricter: {ref: v.distribution}}}", fact="deal"))
    both = [{"$ex": {"r__compute": 1}}, {"$ex": {"r__distribution": 1}}]
    assert engine_rule(compiled, "0|main") == [
        ("v", live("deal", *both, {"$gt": {"r__compute": {"$m": "r__distribution"}}}), False)]
    # a same-fact comparison is not a join: present does not keep it, and it has a complement
    assert engine_rule(compiled, "0|present") == [("v", live("deal"), False)]
    assert engine_rule(compiled, "0|refute:0") == [("v", live("deal", {"$or": [
        {"$and": [*both, {"$lte": {"r__compute": {"$m": "r__distribution"}}}]},
        {"$and": absent("compute")}, {"$and": absent("distribution")}]}), False)]


# --- refuters: complements settle "does not match" --------------------------------------------------

def lacks(field: str, value: str) -> list[dict[str, Any]]:
    """``contains`` refuted: the known list is empty or every item differs (durable's $iall is
    false on an empty list, so the length travels as n__<field>), or there is no list at all."""
    return [{f"n__{field}": 0}, {"$iall": {field: {"$neq": {"$i": value}}}}, {"$and": absent(field)}]


@pytest.mark.parametrize(("where", "complement"), [
    # contains is refuted by Lacks, or by the field being not applicable
    ("{field_of_use_restrictions: {contains: medical}}", [{"$or": lacks("field_of_use_restrictions", "medical")}]),
    # contains_all is refuted when one item is lacking (an "or" of "or"s, merged) ...
    ("{models: {contains_all: [a, b]}}", [{"$or": [*lacks("models", "a"), *lacks("models", "b")]}]),
    # ... contains_any when every item is: one "or" (the shared "no list" branch and the length
    # taken out of the "and", which would otherwise expand to 2^n alternatives: error 113)
    ("{models: {contains_any: [a, b]}}",
     [{"$or": [{"n__models": 0}, {"$and": [{"$iall": {"models": {"$neq": {"$i": "a"}}}},
                                           {"$iall": {"models": {"$neq": {"$i": "b"}}}}]}, {"$and": absent("models")}]}]),
    # exists: true and exists: false are each other's complement (both fail on an unknown field)
    ("{spdx: {exists: true}}", absent("spdx")),
    ("{spdx: {exists: false}}", [{"$ex": {"spdx": 1}}]),
    ("{revocation: {in: [at_will, on_breach]}}",
     [refuted({"$and": [{"$neq": {"revocation": "at_will"}}, {"$neq": {"revocation": "on_breach"}}]}, "revocation")]),
])
def test_each_test_is_refuted_by_its_complement(where: str, complement: list[dict[str, Any]]) -> None:
    compiled = compile_text(one_v(where))
    assert engine_rule(compiled, "0|refute:0") == [("v", lv(*complement), False)]


def test_a_link_has_no_refuter() -> None:
    # licence: {ref: old.licence} says which versions belong together: every refuter keeps it,
    # and none refutes it (the five refuters are for the value tests, see above)
    compiled = compile_text(JOIN, message="{new.version}")
    assert len(compiled.alternatives[0].refuters) == 5
    for r in compiled.alternatives[0].refuters:
        (_, new, _) = engine_rule(compiled, r.name.removeprefix("r|"))[1]
        assert {"licence": {"old": "licence"}} in new["$and"], r.name


# --- three-valued none -----------------------------------------------------------------------------

NONE_RULE = one_v("{commercial_use: restricted}") + """  none:
    - fact: party
      as: p
      where: {id: {ref: v.licensor}, holds_leading_position: true}
"""


def test_none_blocks_on_a_fact_that_matches_or_might() -> None:
    compiled = compile_text(NONE_RULE)
    leading = {"$or": [{"holds_leading_position": True}, unknown("holds_leading_position")]}
    link = {"key": {"v": "licensor"}}
    # main: the none pattern is relaxed (true, or undecided on an unknown field); its link to
    # the matched fact stays strict, and the field it links to (v.licensor) must be known
    assert engine_rule(compiled, "0|main") == [
        ("v", lv({"commercial_use": "restricted"}, known("licensor")), False),
        ("p", live("party", link, leading), True),
    ]
    # main:unlinked: with v.licensor unknown the rule still fires if no party in force could
    # block anything (none has a leading position, known or unknown)
    assert engine_rule(compiled, "0|main:unlinked") == [
        ("v", lv({"commercial_use": "restricted"}), False),
        ("p", live("party", {"$or": [{"$ex": {"key": 1}}, unknown("key")]}, leading), True),
    ]
    # complete: the combination is settled only if no candidate is left undecided, i.e. no
    # fact that might match has one of the tested fields unknown
    assert engine_rule(compiled, "0|complete") == [
        ("v", lv(known("commercial_use"), known("licensor")), False),
        ("p", live("party", link, leading, {"$or": [unknown("holds_leading_position"), unknown("key")]}), True),
    ]
    # a fact that definitely matches the none pattern settles the rule (refute:none)
    assert engine_rule(compiled, "0|refute:none:0") == [
        ("v", {"$and": LVS}, False),
        ("p", live("party", link, {"holds_leading_position": True}), False),
    ]


def test_none_reads_its_fields_and_keeps_its_alias_out_of_the_flag() -> None:
    alt = compile_text(NONE_RULE).alternatives[0]
    assert alt.aliases == ("v",)
    assert alt.types == {"v": "licence_version", "p": "party"}
    assert alt.fields["p"] == {"id", "holds_leading_position"}


# --- operative term -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "operative"), [
    (one_v("{commercial_use: restricted, revocation: at_will}"), ("v", "revocation")),
    ("operative: v.commercial_use\n" + one_v("{commercial_use: restricted, revocation: at_will}"),
     ("v", "commercial_use")),
    # links between facts are not terms: the last field tested that is not a link
    (PREVIOUS.replace("{previous: {ref: prev.id}, commercial_use: restricted}",
                      "{commercial_use: restricted, previous: {ref: prev.id}}"), ("cur", "commercial_use")),
    # a last pattern with only links: the pattern before it
    (PREVIOUS + """    - fact: party
      as: p
      where: {id: {ref: cur.licensor}}
""", ("cur", "commercial_use")),
    # a comparison with the earlier version is a term (the value that made it fire)
    (JOIN.replace("        has_user_threshold: true\n", ""), ("new", "seq")),
    (one_v("{}"), None),
])
def test_the_operative_term(body: str, operative: tuple[str, str] | None) -> None:
    compiled = compile_text(body, message="{v.id}" if "as: v\n" in body else "x")
    assert compiled.alternatives[0].operative == operative


def test_an_operative_term_outside_an_alternative_falls_back_to_the_default() -> None:
    body = """operative: m.weights
when:
  all:
    - fact: party
      as: p
  any:
    - fact: model
      as: m
      where: {developer: {ref: p.id}, weights: closed, frontier: true}
    - fact: licence_version
      as: x
      where: {licensor: {ref: p.id}, revocation: at_will}
"""
    compiled = compile_text(body, message="{p.id}")
    assert [a.operative for a in compiled.alternatives] == [("m", "weights"), ("x", "revocation")]


def test_compiled_rules_are_accepted_by_durable_rules() -> None:
    pack = load_rules([Path(__file__).parent / "data" / "rules"], bundled=False)
    rules = translate(compile_pack(pack))
    assert all(isinstance(p, EnginePattern) for r in rules for p in r.patterns)
    Engine(rules)  # registers the rulesets; raises EngineError if durable refuses any


# --- behaviour of the compiled patterns -----------------------------------------------------------

# lic@1 is superseded by lic@2 on 2023-06-01: at as_of only lic@2, other-lic@1, tos@1 and data@1
# are in force. tos and data are not model licences: a rule looks at them only if it says so.
CASE = """schema_version: 2
id: c
title: Compiler behaviour
kind: [licence, data_access]
as_of: 2024-01-01
summary: Facts for the compiler's behaviour tests.
sources: [{id: s, title: S, date: 2024-01-01, kind: primary}]
parties:
  - {id: lab, name: Lab, roles: [fm_developer, distributor], leading_markets: [search]}
  - {id: other, name: Other, roles: [investor], leading_markets: unknown}
licences:
  - id: lic
    name: Licence
    kind: model_licence
    licensor: lab
    versions:
      - version: v1
        date: 2023-01-01
        terms: {commercial_use: allowed, revocation: on_breach, field_of_use_restrictions: [medical, legal],
                weights_access: open_download}
      - version: v2
        date: 2023-06-01
        terms: {commercial_use: restricted, revocation: at_will, osi_approved: unknown,
                field_of_use_restrictions: [military], weights_access: unknown}
  - id: other-lic
    name: Other licence
    kind: model_licence
    licensor: other
    versions:
      - version: o1
        date: 2023-03-01
        terms: {commercial_use: restricted, revocation: irrevocable, field_of_use_restrictions: [legal]}
  - id: tos
    name: Terms of service
    kind: terms_of_service
    licensor: lab
    versions:
      - version: t1
        date: 2023-03-01
        terms: {revocation: at_will}
  - id: data
    name: Data licence
    kind: data_licence
    licensor: other
    versions:
      - version: d1
        date: 2023-03-01
        terms: {revocation: at_will}
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


def run(tmp_path: Path, body: str, message: str = "{v.id}") -> CaseAssessment:
    """CASE assessed with the one rule ``body`` (the message makes each flag's text its bound ids)."""
    folder = tmp_path / "rules" / "fam"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "r.yaml").write_text(HEAD.replace("{message}", message) + body)
    return assess(load_case_text(CASE, "c.yaml"), load_rules([tmp_path / "rules"], bundled=False)).cases[0]


def fired(tmp_path: Path, body: str, message: str = "{v.id}") -> list[str]:
    """The (sorted) messages of the current flags: the terms in force on the as-of date."""
    return sorted(f.message for f in run(tmp_path, body, message).flags)


def ever_fired(tmp_path: Path, body: str, message: str = "{v.id}") -> list[str]:
    """Current and history flags: what the rule matched at some instant."""
    result = run(tmp_path, body, message)
    return sorted(f.message for f in [*result.flags, *result.history])


def rule_status(result: CaseAssessment) -> str:
    (outcome,) = result.rules
    return outcome.status


# Each operator is a test on one fact; whether it matched is read over every instant, so
# lic@1 (superseded on as_of, a history flag) still shows what the operator matches.
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
    ("{weights_access: {ne: closed}}", "licence_version", ["lic@1"]),
])
def test_operators_behave(tmp_path: Path, where: str, fact: str, expected: list[str]) -> None:
    assert ever_fired(tmp_path, one_v(where, fact)) == expected


# --- scope ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("applies_to", "expected"), [
    ("", ["lic@2"]),                                      # default: model licences only
    ("applies_to: [terms_of_service]\n", ["tos@1"]),
    ("applies_to: [data_licence, terms_of_service]\n", ["data@1", "tos@1"]),
    ("applies_to: [model_licence, data_licence]\n", ["data@1", "lic@2"]),
])
def test_applies_to_decides_which_licence_kinds_are_looked_at(tmp_path: Path, applies_to: str,
                                                              expected: list[str]) -> None:
    assert fired(tmp_path, applies_to + one_v("{revocation: at_will}")) == expected


def test_a_rule_for_a_kind_the_case_lacks_is_not_applicable(tmp_path: Path) -> None:
    result = run(tmp_path, "applies_to: [api_terms]\n" + one_v("{revocation: at_will}"))
    assert result.flags == [] and result.history == []
    assert rule_status(result) == "not applicable"
    (c3,) = [c for c in result.conditions if c.condition == "C3"]
    assert (c3.status, c3.rules_applicable) == ("not applicable", 0)


def test_a_data_licence_with_unknown_terms_does_not_leave_a_model_licence_rule_not_assessed(tmp_path: Path) -> None:
    # the data licence leaves osi_approved unstated; a default rule never looks at it, and the
    # model licences in force settle it (lic@2: revocation at_will is not irrevocable)
    body = one_v("{revocation: irrevocable, osi_approved: false}")
    result = run(tmp_path, body)
    assert result.flags == []
    # other-lic@1 is irrevocable with osi_approved unstated: undecided
    assert rule_status(result) == "not assessed"
    assert {(m.id, m.field) for m in result.rules[0].missing} == {("other-lic@1", "osi_approved")}
    # the same test on data licences: data@1 is at_will, so refuted, and the rule is clear
    assert rule_status(run(tmp_path, "applies_to: [data_licence]\n" + body)) == "clear"


def test_a_superseded_version_is_history_not_current(tmp_path: Path) -> None:
    result = run(tmp_path, one_v("{commercial_use: allowed}"))
    assert result.flags == []
    (flag,) = result.history
    assert flag.message == "lic@1"
    assert (flag.window.since, flag.window.until) == ("2023-01-01", "2023-06-01")
    # history never counts: the rule is judged on the terms in force (lic@2 and other-lic@1 are
    # restricted: refuted)
    assert rule_status(result) == "clear"


def test_past_matches_a_version_no_longer_in_force(tmp_path: Path) -> None:
    body = "when:\n  all:\n    - fact: licence_version\n      as: v\n      past: true\n" \
           "      where: {commercial_use: allowed}\n"
    assert fired(tmp_path, body) == ["lic@1"]


TRAJECTORY = """when:
  all:
    - fact: licence_version
      as: old
      where: {commercial_use: allowed}
    - fact: licence_version
      as: new
      where: {LINK, commercial_use: restricted}
"""


@pytest.mark.parametrize(("link", "expected"), [
    # a predecessor reached through `previous` need not be in force
    ("previous: {ref: old.id}", ["lic@1->lic@2"]),
    # a join on licence and seq does not make a predecessor: lic@1 and lic@2 are never in
    # force together, so this never matches, not even in history
    ("licence: {ref: old.licence}, seq: {gt: {ref: old.seq}}", []),
])
def test_only_a_predecessor_link_reaches_a_superseded_version(tmp_path: Path, link: str,
                                                              expected: list[str]) -> None:
    assert ever_fired(tmp_path, TRAJECTORY.replace("LINK", link), "{old.id}->{new.id}") == expected


def test_join_binds_versions_of_the_same_licence_only(tmp_path: Path) -> None:
    body = """when:
  all:
    - fact: licence_version
      as: old
      past: true
      where: {commercial_use: allowed}
    - fact: licence_version
      as: new
      where: {licence: {ref: old.licence}, seq: {gt: {ref: old.seq}}, commercial_use: restricted}
"""
    # other-lic@1 is restricted too, but belongs to another licence (old is `past`: lic@1 is
    # superseded on the as-of date)
    assert fired(tmp_path, body, "{old.id}->{new.id}") == ["lic@1->lic@2"]


# --- scales ---------------------------------------------------------------------------------------

def scale_rule(field: str, op: str) -> str:
    return f"""when:
  all:
    - fact: licence_version
      as: old
    - fact: licence_version
      as: new
      where: {{previous: {{ref: old.id}}, {field}: {{{op}: {{ref: old.{field}}}}}}}
"""


@pytest.mark.parametrize(("field", "op", "expected", "status"), [
    ("commercial_use", "stricter", ["lic@1->lic@2"], "fired"),   # allowed -> restricted
    ("commercial_use", "looser", [], "clear"),                   # refuted on known values
    ("revocation", "stricter", ["lic@1->lic@2"], "fired"),       # on_breach -> at_will
    ("revocation", "looser", [], "clear"),
])
def test_stricter_and_looser_follow_the_scale(tmp_path: Path, field: str, op: str, expected: list[str],
                                              status: str) -> None:
    result = run(tmp_path, scale_rule(field, op), "{old.id}->{new.id}")
    assert sorted(f.message for f in result.flags) == expected
    assert rule_status(result) == status


def test_a_scale_comparison_with_an_unknown_side_is_not_assessed(tmp_path: Path) -> None:
    # lic@2's weights_access is unknown: it has no r__weights_access, the guards keep durable
    # from raising error 311 on the ordering join, and the pair is looked at but undecided
    for op in ("stricter", "looser"):
        result = run(tmp_path, scale_rule("weights_access", op), "{old.id}->{new.id}")
        assert result.flags == [] and result.history == [], op
        assert rule_status(result) == "not assessed", op
        assert [(m.id, m.field, m.status) for m in result.rules[0].missing] == [("lic@2", "weights_access", "unknown")]


# --- refutation: a settled rule is clear, not "not assessed" ------------------------------------------

@pytest.mark.parametrize(("where", "status"), [
    # lic@2: [military] lacks medical; other-lic@1: [legal] lacks it. The lists are known, so
    # Lacks refutes both although osi_approved is unknown (lic@2) or unstated (other-lic@1)
    ("{field_of_use_restrictions: {contains: medical}, osi_approved: true}", "clear"),
    # lic@2 has military: only osi_approved could decide, and it is unknown
    ("{field_of_use_restrictions: {contains: military}, osi_approved: true}", "not assessed"),
    ("{field_of_use_restrictions: {contains_any: [medical, sport]}, osi_approved: true}", "clear"),
    ("{field_of_use_restrictions: {contains_all: [legal, military]}, osi_approved: true}", "clear"),
])
def test_a_list_test_can_refute(tmp_path: Path, where: str, status: str) -> None:
    result = run(tmp_path, one_v(where))
    assert result.flags == []
    assert rule_status(result) == status


@pytest.mark.parametrize(("where", "status"), [
    # lic@2 has a previous version: exists: false is refuted by its complement exists: true
    ("{licence: lic, previous: {exists: false}, osi_approved: true}", "clear"),
    # other-lic@1 has none (not applicable): exists: true is refuted by exists: false
    ("{licence: other-lic, previous: {exists: true}, osi_approved: true}", "clear"),
    # spdx is unstated everywhere: neither exists: true nor exists: false can be decided
    ("{spdx: {exists: true}}", "not assessed"),
    ("{spdx: {exists: false}}", "not assessed"),
])
def test_exists_true_and_false_refute_each_other(tmp_path: Path, where: str, status: str) -> None:
    result = run(tmp_path, one_v(where))
    assert result.flags == []
    assert rule_status(result) == status


# --- three-valued none -------------------------------------------------------------------------------

def test_an_undecided_none_candidate_blocks_and_leaves_the_rule_not_assessed(tmp_path: Path) -> None:
    # other-lic@1's licensor (other) has an unknown leading position: it might match the none
    # pattern, so the rule does not fire on it and is not assessed; lab holds a leading
    # position (search), which definitely blocks lic@2
    result = run(tmp_path, NONE_RULE)
    assert result.flags == []
    assert rule_status(result) == "not assessed"
    assert {(m.fact, m.id, m.field, m.status) for m in result.rules[0].missing} == {
        ("party", "other", "holds_leading_position", "unknown")}


def test_a_definite_none_blocker_makes_the_rule_clear(tmp_path: Path) -> None:
    body = NONE_RULE.replace("{commercial_use: restricted}", "{commercial_use: restricted, licensor: lab}")
    result = run(tmp_path, body)
    assert result.flags == []
    assert rule_status(result) == "clear"


def test_a_none_pattern_with_no_candidate_lets_the_rule_fire(tmp_path: Path) -> None:
    # neither licensor is a cloud provider, and both role lists are known (Lacks refutes)
    body = NONE_RULE.replace("holds_leading_position: true", "roles: {contains: cloud_provider}")
    assert fired(tmp_path, body) == ["lic@2", "other-lic@1"]


def test_negation_with_join_finds_latest_versions(tmp_path: Path) -> None:
    body = one_v("{commercial_use: {exists: true}}") + """  none:
    - fact: licence_version
      as: later
      where: {previous: {ref: v.id}}
"""
    assert fired(tmp_path, body) == ["lic@2", "other-lic@1"]


# --- mitigations applied and pending ----------------------------------------------------------------

def mitigated(where: str) -> str:
    return one_v("{commercial_use: restricted}") + f"""mitigated_by:
  - id: m
    description: Would lower it.
    severity: low
    when:
      on:
        - on: v
          where: {where}
"""


def test_a_mitigation_with_an_unknown_field_is_pending(tmp_path: Path) -> None:
    result = run(tmp_path, mitigated("{osi_approved: true}"))
    by_id = {f.message: f for f in result.flags}
    assert sorted(by_id) == ["lic@2", "other-lic@1"]
    for fid, status in (("lic@2", "unknown"), ("other-lic@1", "unstated")):
        flag = by_id[fid]
        assert (flag.severity, flag.mitigated, flag.mitigations) == ("high", False, [])
        (pending,) = flag.pending
        assert (pending.id, pending.severity) == ("m", "low")
        assert [(x.id, x.field, x.status) for x in pending.missing] == [(fid, "osi_approved", status)]


def test_a_mitigation_that_applies_or_fails_is_not_pending(tmp_path: Path) -> None:
    result = run(tmp_path, mitigated("{revocation: irrevocable}"))
    by_id = {f.message: f for f in result.flags}
    # other-lic@1 is irrevocable: applied; lic@2 is at_will: definitely not
    assert (by_id["other-lic@1"].severity, [m.id for m in by_id["other-lic@1"].mitigations]) == ("low", ["m"])
    assert (by_id["lic@2"].severity, by_id["lic@2"].mitigations) == ("high", [])
    assert by_id["other-lic@1"].pending == by_id["lic@2"].pending == []


def test_a_mitigation_pattern_with_an_unknown_field_is_pending(tmp_path: Path) -> None:
    body = one_v("{commercial_use: restricted}") + """mitigated_by:
  - id: m
    description: The licensor has no leading position.
    severity: low
    when:
      all:
        - fact: party
          as: p
          where: {id: {ref: v.licensor}, holds_leading_position: false}
"""
    by_id = {f.message: f for f in run(tmp_path, body).flags}
    # lab leads in search: the mitigation fails; other's position is unknown: pending
    assert by_id["lic@2"].pending == []
    (pending,) = by_id["other-lic@1"].pending
    assert [(x.id, x.field) for x in pending.missing] == [("other", "holds_leading_position")]


# --- operative term --------------------------------------------------------------------------------

@pytest.mark.parametrize(("operative", "field"), [
    ("", "revocation"),                          # default: the last field tested on the last pattern
    ("operative: v.commercial_use\n", "commercial_use"),
])
def test_a_flag_points_at_its_operative_term(tmp_path: Path, operative: str, field: str) -> None:
    result = run(tmp_path, operative + one_v("{commercial_use: restricted, revocation: at_will}"))
    (flag,) = result.flags
    assert flag.operative is not None
    assert (flag.operative.alias, flag.operative.id, flag.operative.field) == ("v", "lic@2", field)
    assert flag.operative.path == f"licences[0].versions[1].terms.{field}"
    assert flag.operative.line == CASE.splitlines().index("        date: 2023-06-01") + 2


@pytest.mark.parametrize(("operative", "fields"), [
    # the default and `operative: v` point at the term of the any_of branch that matched ...
    ("", {"lic@2": "revocation", "other-lic@1": "field_of_use_restrictions"}),
    ("operative: v\n", {"lic@2": "revocation", "other-lic@1": "field_of_use_restrictions"}),
    # ... a named field wins
    ("operative: v.commercial_use\n", {"lic@2": "commercial_use", "other-lic@1": "commercial_use"}),
])
def test_the_operative_term_of_an_any_of_branch(tmp_path: Path, operative: str, fields: dict[str, str]) -> None:
    body = operative + """when:
  all:
    - fact: licence_version
      as: v
      where: {commercial_use: restricted}
      any_of:
        - {revocation: at_will}
        - {field_of_use_restrictions: {contains: legal}}
"""
    flags = run(tmp_path, body).flags
    assert {f.message: f.operative.field for f in flags if f.operative is not None} == fields
    assert len(flags) == 2


def test_a_trajectory_flag_points_at_the_later_version(tmp_path: Path) -> None:
    (flag,) = run(tmp_path, scale_rule("commercial_use", "stricter"), "{old.id}->{new.id}").flags
    assert flag.operative is not None
    assert (flag.operative.alias, flag.operative.id, flag.operative.field) == ("new", "lic@2", "commercial_use")


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
      past: true
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
    for dialect in ("$", "u__", "w__", "r__", "n__", "'key'", "__sentinel__"):
        assert dialect not in text, dialect
    # the translation adds durable's dialect: id travels as key, guards for error 311
    assert '"key"' in json.dumps([p.expression for r in translate([compiled]) for p in r.patterns])
