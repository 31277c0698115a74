"""Flattening a case: a fact field whose case field (or any field on its way) is unknown or
absent is itself unknown or unstated, never "not applicable", so a rule testing it reads
"not assessed", never "clear".

The generic tests walk every case path in the vocabulary, so a new fact field is covered
without a new test.
"""

from __future__ import annotations

import copy
import json
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from policycheck import assess, load_rules
from policycheck.facts import Fact, flatten
from policycheck.io.reader import parse_document
from policycheck.load.cases import case_from_document
from policycheck.model.case import Case
from policycheck.model.vocabulary import FACT_TYPES

# One of everything, every optional object filled in.
FULL: dict[str, Any] = {
    "schema_version": 2, "id": "full", "title": "Full", "kind": ["licence", "deal", "data_access"],
    "as_of": "2024-01-31", "summary": "Every fact field known.",
    "sources": [{"id": "s", "title": "S", "date": "2024", "kind": "primary"}],
    "parties": [{"id": "lab", "name": "Lab", "roles": ["fm_developer"], "leading_markets": ["cloud"]},
                {"id": "big", "name": "Big", "roles": ["investor", "input_supplier"],
                 "leading_markets": [{"market": "search", "sources": ["s"]}], "supplies": ["accelerators"]}],
    "models": [{"id": "m0", "name": "M0", "developer": "lab", "release_date": "2022"},
               {"id": "m", "name": "M", "developer": "lab", "release_date": "2023-06", "weights": "gated",
                "training_data": "open", "training_code": "open", "parameters_billions": 7,
                "size_class": "small", "frontier": False, "own_platform_data": ["social_media"], "released_under": {"licence": "lic", "version": "2"}}],
    "licences": [{"id": "lic", "name": "L", "kind": "model_licence", "licensor": "lab", "licensee": "big", "models": ["m"],
                  "versions": [
        {"version": "1", "date": "2023-01-01", "terms": {"field_of_use_restrictions": [], "geographic_restrictions": []}},
        {"version": "2", "date": "2023-06-01", "until": "2024-06-01", "spdx": "Apache-2.0", "terms": {
            "weights_access": "gated", "commercial_use": "allowed", "research_only": False,
            "user_threshold": {"metric": "users", "limit": 10, "above": "fee", "measured": "at_release"},
            "royalty": {"rate_pct": 5, "metric": "annual_revenue_usd", "limit": 1000000},
            "terms_depend_on_use": True, "exclusive": False,
            "output_training_ban": {"scope": "any_model", "exempts_licensor_family": True},
            "acceptable_use_policy": {"incorporated_by_reference": True, "licensor_may_update": True},
            "licensor_may_change_terms": False, "revocation": "on_breach", "remote_restriction": False,
            "must_use_latest_version": False, "field_of_use_restrictions": ["medical"],
            "geographic_restrictions": [{"territory": "EU", "basis": "licensor_choice"}], "hosted_service_restriction": False, "attribution_required": True,
            "naming_requirement": False, "restrictions_pass_to_derivatives": True,
            "distillation_counts_as_derivative": False, "osi_approved": True, "marketed_as_open": True,
            "terminates_on_ip_claim": False}}]}],
    "deals": [{"id": "d0", "title": "D0", "date": "2022-06-01", "partner": "big", "developer": "lab"},
              {"id": "d", "title": "D", "date": "2023-02-01", "until": "2024-12-31", "supersedes": ["d0"],
               "partner": "big", "developer": "lab",
               "amount": {"value": 100, "currency": "GBP", "basis": "reported", "up_to": True, "flow": "investment"},
               "forms": ["equity"], "stake_pct": 10, "shares": "non_voting",
               "compute": "exclusive", "distribution": "none", "api_exclusive_to_partner_cloud": True,
               "ip_rights": "non_exclusive", "integration_into_partner_products": True,
               "governance": ["board_seat"], "staff_hired": {"count": 3, "key_staff": True, "with_licence": False,
                                                         "with_investment": True},
               "priority_accelerator_access": True, "partner_accelerators": True, "compute_available_in_uk": False,
               "developer_multihoming": False}],
    "data_access_changes": [{"id": "x", "holder": "lab", "resource": "API", "date": "2023-07-01",
                             "stage": "effective", "announced": "2023-06-01",
                             "before": {"price": {"amount": 1, "currency": "USD", "unit": "per call"}, "ai_training_ban": False,
                                        "exclusive_licensee": "none", "free_tier": "none"},
                             "after": {"price": {"amount": 2, "currency": "USD", "unit": "per call"}, "ai_training_ban": True,
                                       "exclusive_licensee": "big", "free_tier": {"limit": "100 calls a day"},
                                       "prices": [{"tier": "S1", "use": "ai", "amount": 5, "currency": "USD",
                                                   "unit": "per call"}],
                                       "terms_depend_on_use": True}}],
}


def facts_of(data: dict[str, Any]) -> dict[str, Fact]:
    loaded = case_from_document(parse_document(json.dumps(data), "full.json"))
    out: dict[str, Fact] = {}
    for f in flatten(loaded):
        out[f.type] = f  # the last of each type: the one the edits below touch (it has a predecessor)
    return out


def status(fact: Fact, name: str) -> str:
    return fact.status(name)


def _steps(case_path: str) -> list[tuple[str, tuple[str | int, ...]]]:
    """Every prefix of ``case_path`` ending at a field, with its concrete path (the last item of each list)."""
    out: list[tuple[str, tuple[str | int, ...]]] = []
    generic, concrete = "", ()  # type: tuple[str, tuple[str | int, ...]]
    for step in case_path.split("."):
        name = step.removesuffix("[]")
        generic = f"{generic}.{name}" if generic else name
        concrete = concrete + (name,)
        out.append((generic, concrete))
        if step.endswith("[]"):
            generic, concrete = generic + "[]", concrete + (-1,)
    return out


def _field_steps() -> list[tuple[str, tuple[str | int, ...]]]:
    seen: dict[str, tuple[str | int, ...]] = {}
    for fields in FACT_TYPES.values():
        for spec in fields.values():
            for generic, concrete in _steps(spec.case_path):
                seen.setdefault(generic, concrete)
    return sorted(seen.items())


def _members(annotation: Any) -> list[Any]:
    """The members of a union, through Annotated and nested unions."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def _admits(generic: str, marker: str | None) -> bool:
    """Whether the case model lets the field at ``generic`` be ``unknown`` (or, for None, null)."""
    model: Any = Case
    members: list[Any] = []
    for step in generic.replace("[]", "").split("."):
        members = _members(model.model_fields[step].annotation)
        inner = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        inner += [i for m in members if typing.get_origin(m) is list for i in _members(typing.get_args(m)[0])
                  if isinstance(i, type) and issubclass(i, BaseModel)]
        model = inner[0] if inner else None
    wanted = type(None) if marker is None else typing.Literal["unknown"]
    return wanted in members


def _edit(data: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any] | None:
    """``data`` with the field at ``path`` set to ``value`` (deleted when ``value`` is None), or
    None when the case model does not allow that there."""
    out = copy.deepcopy(data)
    cursor: Any = out
    for seg in path[:-1]:
        cursor = cursor[seg]
    if value is None:
        del cursor[path[-1]]
    else:
        cursor[path[-1]] = value
    try:
        Case.model_validate(out)
    except ValidationError:
        return None
    return out


def _edits() -> list[tuple[str, tuple[str | int, ...], str | None, str]]:
    """(case path, concrete path, value, expected status) for every case field on the way to a
    fact field that the case model lets be ``unknown`` or absent."""
    out = []
    for generic, concrete in _field_steps():
        for marker, expected in (("unknown", "unknown"), (None, "unstated")):
            if _admits(generic, marker):
                assert _edit(FULL, concrete, marker) is not None, (generic, marker)
                out.append((generic, concrete, marker, expected))
    return out


EDITS = _edits()


def _fact_type(generic: str) -> list[str]:
    """Fact types with a field read from ``generic`` or below it."""
    return sorted(t for t, fields in FACT_TYPES.items()
                  if any(s.case_path == generic or s.case_path.startswith(generic + ".") for s in fields.values()))


def test_the_full_case_knows_every_fact_field_of_its_last_items() -> None:
    facts = facts_of(FULL)
    assert set(facts) == set(FACT_TYPES)
    for t, fields in FACT_TYPES.items():
        for name in fields:
            assert status(facts[t], name) == "known", (t, name)


@pytest.mark.parametrize(("generic", "concrete", "marker", "expected"), EDITS,
                         ids=[f"{g}={m or 'absent'}" for g, _, m, _ in EDITS])
def test_a_field_under_an_unknown_or_absent_case_field_is_unknown_or_unstated(
        generic: str, concrete: tuple[str | int, ...], marker: str | None, expected: str) -> None:
    edited = _edit(FULL, concrete, marker)
    assert edited is not None
    facts = facts_of(edited)
    affected = [(t, name) for t in _fact_type(generic) for name, s in FACT_TYPES[t].items()
                if s.case_path == generic or s.case_path.startswith(generic + ".")]
    assert affected
    wrong = [(t, name, status(facts[t], name)) for t, name in affected if status(facts[t], name) != expected
             and (t, name) not in FALLBACKS]
    assert not wrong, f"{generic} = {marker}: {wrong}"


# Derived fields that read a second case field when the first is missing: (fact, field) -> the
# concrete path of the second one. The test below removes both.
FALLBACKS: dict[tuple[str, str], tuple[str | int, ...]] = {
    ("deal", "amount_flow"): ("deals", -1, "forms"),                                # flow read from forms
    ("data_access_change", "use_dependent_after"): ("data_access_changes", -1, "after", "prices"),  # an ai price row
}


@pytest.mark.parametrize(("fact", "name"), sorted(FALLBACKS))
def test_a_derived_field_with_a_fallback_is_known_from_the_fallback_and_unstated_without_either(
        fact: str, name: str) -> None:
    spec = FACT_TYPES[fact][name]
    first = next(c for g, c in _field_steps() if g == spec.case_path)
    without_first = _edit(FULL, first, None)
    assert without_first is not None
    assert status(facts_of(without_first)[fact], name) == "known"
    without_both = _edit(without_first, FALLBACKS[(fact, name)], None)
    assert without_both is not None
    assert status(facts_of(without_both)[fact], name) == "unstated"


def test_the_edit_walk_covers_the_nested_objects() -> None:
    """The parametrised test above must reach the objects whose details hide below them."""
    edited = {(g, m) for g, _, m, _ in EDITS}
    for parent in ("data_access_changes[].after.price", "data_access_changes[].before.price",
                   "licences[].versions[].terms.user_threshold", "licences[].versions[].terms.output_training_ban",
                   "licences[].versions[].terms.acceptable_use_policy", "deals[].staff_hired", "deals[].amount",
                   "data_access_changes[].after.exclusive_licensee", "parties[].leading_markets"):
        assert (parent, "unknown") in edited and (parent, None) in edited, parent
    assert ("parties[].id", None) not in edited  # required: the model refuses the edit


# --- through the public API: price_unit when the price after is not known ------------------------

PRICE_UNIT_RULE = """id: t-unit
title: Price per call
conditions: [C1]
severity: low
citation: {source: CMA FM Initial Report, section: "§3.2.1"}
rationale: Test rule reading only the unit of the price after.
message: "{d.resource} is priced per call."
mitigation: None.
when:
  all:
    - fact: data_access_change
      as: d
      where:
        price_unit: per call
"""


@pytest.fixture(scope="module")
def unit_pack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("rules") / "fam"
    folder.mkdir()
    (folder / "t-unit.yaml").write_text(PRICE_UNIT_RULE, encoding="utf-8")
    return load_rules([folder.parent], bundled=False)


def _price_after(price: Any) -> Any:
    from policycheck import load_case_text

    data = copy.deepcopy(FULL)
    after = data["data_access_changes"][0]["after"]
    if price is None:
        del after["price"]
    else:
        after["price"] = price
    return load_case_text(json.dumps(data), "case.json")


@pytest.mark.parametrize(("price", "field_status"), [("unknown", "unknown"), (None, "unstated")])
def test_a_rule_on_price_unit_is_not_assessed_when_the_price_after_is_not_known(
        unit_pack: Any, price: Any, field_status: str) -> None:
    result = assess(_price_after(price), unit_pack).cases[0]
    (rule,) = result.rules
    assert rule.status == "not assessed"
    assert [(m.field, m.status) for m in rule.missing] == [("price_unit", field_status)]


def test_a_rule_on_price_unit_reads_a_known_unit(unit_pack: Any) -> None:
    fired = assess(_price_after({"amount": 2, "currency": "USD", "unit": "per call"}), unit_pack).cases[0]
    clear = assess(_price_after({"amount": 2, "currency": "USD", "unit": "per month"}), unit_pack).cases[0]
    assert [r.status for r in fired.rules] == ["fired"]
    assert [r.status for r in clear.rules] == ["clear"]


def test_free_access_has_no_unit() -> None:
    ch = facts_of({**FULL, "data_access_changes": [
        {**FULL["data_access_changes"][0], "after": {"price": "free"}}]})["data_access_change"]
    assert ch.values["free_after"] is True
    assert status(ch, "price_unit") == "not applicable"



# Supersession: an investment stays made when its round's terms are replaced.
def _rounds() -> dict[str, Any]:
    deal = {"partner": "big", "developer": "lab", "developer_multihoming": False}
    return {
        "schema_version": 2, "id": "rounds", "title": "Rounds", "kind": ["deal"], "as_of": "2025-06-01",
        "summary": "Two investment rounds and a later deal that replaces their terms.",
        "sources": [{"id": "s", "title": "S", "date": "2024", "kind": "primary"}],
        "parties": [{"id": "lab", "name": "Lab", "roles": ["fm_developer"]},
                    {"id": "big", "name": "Big", "roles": ["investor"], "leading_markets": ["cloud"]}],
        "deals": [
            {**deal, "id": "r1", "title": "R1", "date": "2020-01-01", "compute": "exclusive",
             "amount": {"value": 1e9, "currency": "USD", "flow": "investment"}},
            {**deal, "id": "spend", "title": "Spend", "date": "2021-01-01", "compute": "exclusive",
             "amount": {"value": 5e8, "currency": "USD", "flow": "developer_spend"}},
            {**deal, "id": "r2", "title": "R2", "date": "2023-01-01", "compute": "exclusive",
             "amount": {"value": 1e10, "currency": "USD", "flow": "investment"}},
            {**deal, "id": "new", "title": "New terms", "date": "2025-01-01", "compute": "right_of_first_refusal",
             "supersedes": ["r1", "spend", "r2"]},
        ]}


def _deals(data: dict[str, Any]) -> dict[str, Fact]:
    loaded = case_from_document(parse_document(json.dumps(data), "rounds.json"))
    return {f.id: f for f in flatten(loaded) if f.type == "deal"}


def test_a_superseded_investment_round_stays_in_force_with_the_superseding_terms() -> None:
    facts = _deals(_rounds())
    r2 = facts["r2"]
    assert "until" not in r2.values                      # the money and the stake stay
    assert r2.values["compute"] == "right_of_first_refusal"  # the terms are the new deal's
    assert r2.values["invested_to_date"] == 1.1e10         # both rounds, superseded or not
    assert r2.values["amount"] == 1e10
    # a deal that is not an investment ends when it is superseded
    assert facts["spend"].values["until"] == "2025-01-01"


def test_before_the_superseding_deal_a_round_keeps_its_own_terms() -> None:
    data = _rounds()
    data["as_of"] = "2024-06-01"
    facts = _deals(data)
    assert facts["r2"].values["compute"] == "exclusive"
    assert "new" not in facts
