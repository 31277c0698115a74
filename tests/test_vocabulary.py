"""The fact vocabulary is derived from the case model: every fact field names the case field it
comes from, and a field copied from the case takes its kind and values from that field's
annotation, so the two cannot drift apart."""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from policycheck.cli import main
from policycheck.model import case as c
from policycheck.model import vocabulary as v
from policycheck.model.vocabulary import ALWAYS_PRESENT, FACT_TYPES, VocabularyError, build, export, resolve

from test_facts import FULL, facts_of


def test_every_fact_field_names_a_case_field_that_exists() -> None:
    for t, fields in FACT_TYPES.items():
        for name, spec in fields.items():
            assert spec.case_path, (t, name)
            resolve(spec.case_path)  # raises when the path is not in the case model


def test_derived_fields_say_so() -> None:
    lv, deal = FACT_TYPES["licence_version"], FACT_TYPES["deal"]
    assert lv["has_user_threshold"].derived and lv["seq"].derived and deal["has_board_seat"].derived
    assert not lv["aup_by_reference"].derived and not deal["staff_count"].derived


@pytest.mark.parametrize(("fact", "field", "path"), [
    ("licence_version", "threshold_limit", "licences[].versions[].terms.user_threshold.limit"),
    ("licence_version", "output_ban_scope", "licences[].versions[].terms.output_training_ban.scope"),
    ("licence_version", "aup_by_reference", "licences[].versions[].terms.acceptable_use_policy.incorporated_by_reference"),
    ("deal", "currency", "deals[].amount.currency"),
    ("data_access_change", "price_unit", "data_access_changes[].after.price.unit"),
    ("case", "kinds", "kind"),
])
def test_case_paths(fact: str, field: str, path: str) -> None:
    assert FACT_TYPES[fact][field].case_path == path


def test_kinds_come_from_the_annotations() -> None:
    lv, deal, party = FACT_TYPES["licence_version"], FACT_TYPES["deal"], FACT_TYPES["party"]
    assert (lv["threshold_limit"].kind, lv["osi_approved"].kind, lv["date"].kind) == ("number", "bool", "date")
    assert (lv["licensor"].kind, lv["licence_name"].kind, deal["staff_count"].kind) == ("id", "str", "int")
    assert (lv["models"].kind, lv["models"].item, lv["geographic_restrictions"].item) == ("list", "id", "str")
    assert party["roles"].values == c.PartyRole.__args__  # type: ignore[attr-defined]
    assert lv["commercial_use"].values == ("allowed", "restricted", "prohibited")  # order kept for messages
    assert deal["ip_rights"].values == ("exclusive", "non_exclusive", "none")  # a real "none" is a value
    assert deal["compute"].values == c.Exclusivity.__args__  # type: ignore[attr-defined]


def _set(data: dict[str, Any], case_path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    cursor: Any = out
    steps = [s.removesuffix("[]") for s in case_path.split(".")]
    for k, step in enumerate(case_path.split(".")[:-1]):
        cursor = cursor[steps[k]]
        if step.endswith("[]"):
            cursor = cursor[-1]
    cursor[steps[-1]] = value
    return out


ENUMS = [(t, n, s) for t, fs in FACT_TYPES.items() for n, s in fs.items() if s.values and not s.derived]


@pytest.mark.parametrize(("fact", "field", "spec"), ENUMS, ids=[f"{t}.{n}" for t, n, _ in ENUMS])
def test_enum_values_are_exactly_what_the_case_model_accepts(fact: str, field: str, spec: v.FieldSpec) -> None:
    wrap = (lambda x: [x]) if spec.kind == "list" else (lambda x: x)
    for value in spec.values:
        assert facts_of(_set(FULL, spec.case_path, wrap(value)))[fact].values[field] == wrap(value)
    with pytest.raises(ValidationError):
        c.Case.model_validate(_set(FULL, spec.case_path, wrap("not_a_" + spec.values[0])))


# --- a value added to the case model is in the vocabulary with no second edit ----------------------

class _Terms(c.Terms):
    pass


class _Threshold(c.UserThreshold):
    metric: Literal["monthly_active_users", "annual_revenue_usd", "users", "employees", "tokens"]


class _Terms2(_Terms):
    user_threshold: c.Unknowable[_Threshold] | Literal["none"] | None = None


class _Version(c.LicenceVersion):
    terms: _Terms2


class _Licence(c.Licence):
    versions: list[_Version]


class _Party(c.Party):
    leading_markets: c.Unknowable[list[Literal["cloud", "search", "quantum"]]] | None = None


class _Case(c.Case):
    licences: list[_Licence] = []
    parties: list[_Party] = []


def test_a_value_added_to_a_case_literal_is_a_fact_value() -> None:
    derived = build(root=_Case)
    assert derived["licence_version"]["threshold_metric"].values[-1] == "tokens"
    assert derived["party"]["leading_markets"].values == ("cloud", "search", "quantum")
    assert "tokens" not in FACT_TYPES["licence_version"]["threshold_metric"].values  # the real model is untouched


def test_the_live_vocabulary_follows_a_patched_case_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c, "Case", _Case)
    assert "tokens" in build()["licence_version"]["threshold_metric"].values


def test_a_value_added_to_a_scaled_literal_must_be_placed_on_its_scale() -> None:
    """A trajectory rule compares places on a scale: a new value nobody placed is refused."""
    class Terms(c.Terms):
        revocation: c.Unknowable[Literal["at_will", "on_breach", "irrevocable", "on_notice"]] | None = None

    class Version(c.LicenceVersion):
        terms: Terms

    class Licence(c.Licence):
        versions: list[Version]

    class Case(c.Case):
        licences: list[Licence] = []

    with pytest.raises(VocabularyError, match="revocation: the scale"):
        build(root=Case)
    assert v.SCALES["revocation"] == ("irrevocable", "on_breach", "at_will")


def test_a_changed_kind_follows_too() -> None:
    class Terms(c.Terms):
        research_only: c.Unknowable[Literal["yes", "no"]] | None = None

    class Version(c.LicenceVersion):
        terms: Terms

    class Licence(c.Licence):
        versions: list[Version]

    class Case(c.Case):
        licences: list[Licence] = []

    spec = build(root=Case)["licence_version"]["research_only"]
    assert (spec.kind, spec.values) == ("enum", ("yes", "no"))


@pytest.mark.parametrize(("declaration", "message"), [
    (v.taken("deals[].amount", "a structure"), "holds fields \\(value, currency, basis, up_to, flow\\)"),
    (v.taken("deals[].staff_hired", "a structure or none"), "holds fields"),
    (v.taken("deals[].amout.value", "misspelt"), "no field 'amout'"),
    (v.taken("deals.amount", "a list stepped into without []"), "holds no fields"),
    (v.derived("bool", "deals[].nothing", "derived from nothing"), "no field 'nothing'"),
])
def test_a_declaration_that_does_not_fit_the_case_model_is_refused(declaration: Any, message: str) -> None:
    with pytest.raises(VocabularyError, match=message):
        build({"deal": {"x": declaration}})


def test_always_present_fields_are_the_required_ones() -> None:
    assert "roles" not in ALWAYS_PRESENT["party"]        # optional: left out is unstated
    assert "leading_markets" not in ALWAYS_PRESENT["party"]
    assert {"id", "seq", "licence_kind"} <= ALWAYS_PRESENT["licence_version"]
    assert "previous" not in ALWAYS_PRESENT["licence_version"]
    assert "spdx" not in ALWAYS_PRESENT["licence_version"]
    assert "threshold_metric" not in ALWAYS_PRESENT["licence_version"]  # required only inside user_threshold
    bare = {**FULL, "parties": [FULL["parties"][1], {"id": "lab", "name": "Lab"}],
            "models": [{"id": "m", "name": "M", "developer": "lab"}],
            "licences": [{"id": "lic", "name": "L", "kind": "model_licence", "licensor": "lab", "versions": [
                {"version": "1", "date": "2023", "terms": {}}]}],
            "deals": [{k: FULL["deals"][0][k] for k in ("id", "title", "date", "partner", "developer")}],
            "data_access_changes": [{"id": "x", "holder": "lab", "resource": "R", "date": "2023", "stage": "effective",
                                     "before": {}, "after": {}}]}
    for t, fact in facts_of(bare).items():
        assert set(fact.values) == ALWAYS_PRESENT[t], t


def test_the_shape_markers_stay_out_of_the_json_schema() -> None:
    assert "Shape" not in json.dumps(c.Case.model_json_schema())


# --- policycheck facts ------------------------------------------------------------------------------

def test_export_has_the_case_path_of_every_field() -> None:
    data = export()
    for t, fields in FACT_TYPES.items():
        for name, spec in fields.items():
            assert data[t][name]["case_path"] == spec.case_path
            assert data[t][name].get("derived", False) is spec.derived


def test_facts_json_carries_case_paths() -> None:
    result = CliRunner().invoke(main, ["facts"])
    assert result.exit_code == 0
    aup = json.loads(result.stdout)["licence_version"]["aup_by_reference"]
    assert aup["case_path"] == "licences[].versions[].terms.acceptable_use_policy.incorporated_by_reference"


def test_facts_finds_the_fact_field_for_a_case_path() -> None:
    """Someone who writes the case file's words in a rule can look up the fact's name."""
    result = CliRunner().invoke(main, ["facts", "acceptable_use_policy.incorporated_by_reference"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"licence_version": {"aup_by_reference": export()["licence_version"]["aup_by_reference"]}}
    table = CliRunner().invoke(main, ["facts", "--format", "table", "incorporated_by_reference"])
    assert table.exit_code == 0
    (line,) = table.stdout.splitlines()
    assert line.split() == ["licence_version.aup_by_reference", "bool", "<-",
                            "licences[].versions[].terms.acceptable_use_policy.incorporated_by_reference"]


def test_facts_table_lists_every_field_with_its_source() -> None:
    result = CliRunner().invoke(main, ["facts", "--format", "table"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == sum(len(f) for f in FACT_TYPES.values())
    (seat,) = [x for x in lines if x.startswith("deal.has_board_seat ")]
    assert "<- derived from deals[].governance" in seat
    (scope,) = [x for x in lines if x.startswith("licence_version.output_ban_scope ")]
    assert scope.endswith("[competing_models, foundation_models, other_models, any_model]")


def test_facts_search_without_a_match_is_an_error() -> None:
    result = CliRunner().invoke(main, ["facts", "no_such_thing"])
    assert result.exit_code == 2
    assert "no fact field or case path matches no_such_thing" in result.stderr


def test_decided_fields_are_never_missing_on_any_bundled_case() -> None:
    """A derived field declared ``decided`` (the facts stage gives it a value or leaves it
    absent) is never unknown or unstated; links through it get no gap rules (compile.gaps), so
    a builder that started marking it unknown would silently lose "not assessed"."""
    from pathlib import Path

    from policycheck.facts import flatten
    from policycheck.load.cases import load_case

    decided = {(t, n) for t, fields in v.DECLARATIONS.items() for n, d in fields.items()
               if isinstance(d, v._Derived) and d.decided}
    assert ("licence_version", "previous") in decided
    seen = 0
    for path in sorted((Path(__file__).resolve().parents[1] / "cases").rglob("*.yaml")):
        for fact in flatten(load_case(path)):
            for t, n in decided:
                if fact.type == t:
                    seen += 1
                    assert n not in fact.unknown and n not in fact.unstated, (path.name, fact.id, n)
    assert seen >= 20   # licence versions of the bundled cases


def test_may_be_missing_is_what_is_neither_always_present_nor_decided() -> None:
    assert "licence_version" in v.MAY_BE_MISSING["model"]       # released_under left out
    assert "previous_model" in v.MAY_BE_MISSING["model"]        # an undated model in the family
    assert "previous" not in v.MAY_BE_MISSING["licence_version"]   # decided: absent for the first only
    assert "developer" not in v.MAY_BE_MISSING["model"]          # required
    for t, fields in v.MAY_BE_MISSING.items():
        assert not fields & ALWAYS_PRESENT[t], t
