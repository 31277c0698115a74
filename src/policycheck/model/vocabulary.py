"""The fact vocabulary: every fact type rules can match and every field it carries.

This is the contract between case files and rules. ``facts.py`` produces exactly these
fields; rule validation checks every pattern against them, so a misspelt field or enum
value fails when a rule is loaded instead of silently never matching.

The vocabulary is derived from the case model (``model/case.py``), not restated: every fact
field names the case-file field it comes from (its ``case_path``, e.g.
``licences[].versions[].terms.acceptable_use_policy.incorporated_by_reference``), and a
field ``taken`` from the case reads its kind, enum values and list item kind from that
field's annotation. So a value added to a case-model ``Literal`` is a fact value at once.
Fields ``derived`` from a case field (``has_user_threshold``, ``seq``, ...) state their kind.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from policycheck.model import case as c

Kind = typing.Literal["str", "id", "date", "number", "int", "bool", "enum", "list"]


@dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    doc: str
    values: tuple[str, ...] = ()          # allowed values of an enum, or of a list's items
    item: Kind | None = None              # item kind of a list ("enum", "str" or "id")
    case_path: str = ""                   # the case-file field it comes from, e.g. "deals[].amount.value"
    derived: bool = False                 # computed from case_path (e.g. a bool "is it there"), not copied
    scale: tuple[str, ...] = ()           # an enum's values from least to most restrictive (SCALES)


class VocabularyError(Exception):
    """A vocabulary declaration does not fit the case model (a programming error)."""


def _enum(lit: object) -> tuple[str, ...]:
    return tuple(str(v) for v in typing.get_args(lit))


# --- reading the case model -----------------------------------------------------------------------

# Union members that say "no value" rather than being one: absent, unknown, and the "none" /
# "free" words that stand for an object that does not exist.
_SENTINELS = frozenset({"unknown", "none", "free"})


@dataclass(frozen=True)
class _Resolved:
    annotation: Any                       # the field's value type, Annotated/None/unknown stripped
    shape: str | None                     # c.Shape marker ("id", "date") when there is one
    always: bool                          # every step is required: never absent, unknown or "none"


def _is_sentinel(arg: Any) -> bool:
    return typing.get_origin(arg) is typing.Literal and len(typing.get_args(arg)) == 1 \
        and typing.get_args(arg)[0] in _SENTINELS


def _shape_of(metadata: list[Any] | tuple[Any, ...]) -> str | None:
    for m in metadata:
        if isinstance(m, c.Shape):
            return m.kind
        if isinstance(m, FieldInfo):
            found = _shape_of(m.metadata)
            if found:
                return found
    return None


def _strip(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> tuple[list[Any], str | None, bool]:
    """The value members of ``annotation`` (sentinels removed), its Shape marker, and whether
    no sentinel or None was found."""
    shape = _shape_of(metadata)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(annotation)
        members, inner_shape, always = _strip(inner, meta)
        return members, inner_shape or shape, always
    if origin in (typing.Union, types.UnionType):
        members, always = [], True
        for arg in typing.get_args(annotation):
            if arg is type(None) or _is_sentinel(arg):
                always = False
                continue
            sub, sub_shape, sub_always = _strip(arg)
            members.extend(sub)
            shape = shape or sub_shape
            always = always and sub_always
        return members, shape, always
    return [annotation], shape, True


def _models(members: list[Any]) -> list[type[BaseModel]]:
    return [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]


def resolve(path: str, root: type[BaseModel] | None = None) -> _Resolved:
    """The case-model field at ``path`` (``a[].b.c``: ``[]`` steps into a list's items) in
    ``root`` (the case model, ``case.Case``, looked up when called)."""
    model: type[BaseModel] | None = root or c.Case
    always = True
    members: list[Any] = []
    shape: str | None = None
    for k, step in enumerate(path.split(".")):
        name, many = (step[:-2], True) if step.endswith("[]") else (step, False)
        if model is None or name not in model.model_fields:
            raise VocabularyError(f"{path}: no field '{name}' here")
        info = model.model_fields[name]
        members, shape, step_always = _strip(info.annotation, info.metadata)
        always = always and step_always
        if many:
            lists = [m for m in members if typing.get_origin(m) is list]
            if len(lists) != 1:
                raise VocabularyError(f"{path}: '{name}' is not a list")
            members, shape, _ = _strip(typing.get_args(lists[0])[0])
        last = k == len(path.split(".")) - 1
        found = _models(members)
        model = found[0] if len(found) == 1 else None
        if not last and model is None:
            raise VocabularyError(f"{path}: '{name}' holds no fields")
    if len(members) != 1:
        raise VocabularyError(f"{path}: expected one value type, found {members}")
    return _Resolved(members[0], shape, always)


def _kind(annotation: Any, shape: str | None) -> tuple[Kind, tuple[str, ...]]:
    if typing.get_origin(annotation) is typing.Literal:
        return "enum", _enum(annotation)
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "int", ()
    if annotation is float:
        return "number", ()
    if annotation is str:
        return typing.cast(Kind, shape or "str"), ()
    raise VocabularyError(f"no fact kind for {annotation!r}")


def spec_from(path: str, doc: str, root: type[BaseModel] | None = None) -> FieldSpec:
    """A fact field copied from the case field at ``path``: kind and values from its annotation."""
    r = resolve(path, root)
    if isinstance(r.annotation, type) and issubclass(r.annotation, BaseModel):
        raise VocabularyError(f"{path}: holds fields ({', '.join(r.annotation.model_fields)}); "
                              "copy one of them, or declare the fact field derived")
    if typing.get_origin(r.annotation) is list:
        members, shape, _ = _strip(typing.get_args(r.annotation)[0])
        if len(members) != 1:
            raise VocabularyError(f"{path}: list items of more than one type")
        item, values = _kind(members[0], shape)
        if item not in ("enum", "str", "id"):
            raise VocabularyError(f"{path}: lists of {item} are not facts")
        return FieldSpec("list", doc, values, item, path)
    kind, values = _kind(r.annotation, r.shape)
    return FieldSpec(kind, doc, values, None, path)


# --- the declarations -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Taken:
    path: str
    doc: str


@dataclass(frozen=True)
class _Derived:
    kind: Kind
    path: str
    doc: str
    always: bool = False                  # facts.py sets it on every fact (e.g. a position)
    like: str | None = None               # a case path whose values (or list items) it shares
    decided: bool = False                 # facts.py always decides it: a value or absent, never unknown/unstated


def taken(path: str, doc: str) -> _Taken:
    return _Taken(path, doc)


def derived(kind: Kind, path: str, doc: str, *, always: bool = False, like: str | None = None,
            decided: bool = False) -> _Derived:
    return _Derived(kind, path, doc, always, like, decided)


# Links from a fact to its predecessor (the previous version of a licence, the previous model of
# a developer's family): a rule pattern reached through one may match a term no longer in force.
PREDECESSOR_LINKS: frozenset[tuple[str, str]] = frozenset({("licence_version", "previous"),
                                                          ("model", "previous_model")})

# Ordered scales, least restrictive first, declared once: a rule compares two facts' values on
# a scale with ``stricter`` / ``looser`` (a trajectory), and the vocabulary checks every scale
# lists exactly the field's values. Keyed by fact field name (the same scale on every fact type).
SCALES: dict[str, tuple[str, ...]] = {
    "commercial_use": ("allowed", "restricted", "prohibited"),
    "weights_access": ("open_download", "gated", "api_only", "closed"),
    "weights": ("open_download", "gated", "api_only", "closed"),
    "revocation": ("irrevocable", "on_breach", "at_will"),
    "output_ban_scope": ("competing_models", "foundation_models", "other_models", "any_model"),
    "threshold_above": ("fee", "separate_licence_required", "licensor_discretion", "prohibited"),
    "training_data": ("open", "documented", "undisclosed"),
    "training_code": ("open", "documented", "undisclosed"),
    "compute": ("none", "non_exclusive", "right_of_first_refusal", "preferred", "exclusive"),
    "distribution": ("none", "non_exclusive", "right_of_first_refusal", "preferred", "exclusive"),
    "ip_rights": ("none", "non_exclusive", "exclusive"),
}


Declarations = Mapping[str, Mapping[str, "_Taken | _Derived"]]

_P, _M, _L, _V, _T = "parties[]", "models[]", "licences[]", "licences[].versions[]", "licences[].versions[].terms"
_UT, _OB, _AUP = f"{_T}.user_threshold", f"{_T}.output_training_ban", f"{_T}.acceptable_use_policy"
_D, _X = "deals[]", "data_access_changes[]"

DECLARATIONS: Declarations = {
    "case": {
        "id": taken("id", "Case id"),
        "kinds": taken("kind", "What the case covers"),
        "as_of": taken("as_of", "Date the case describes"),
    },
    "party": {
        "id": taken(f"{_P}.id", "Party id (stable across case files)"),
        "name": taken(f"{_P}.name", "Name"),
        "roles": taken(f"{_P}.roles", "Roles the party plays"),
        "leading_markets": derived("list", f"{_P}.leading_markets", "Markets where the party holds a leading position "
                                   "(the market names, with or without their sources)", like=f"{_P}.leading_markets"),
        "holds_leading_position": derived("bool", f"{_P}.leading_markets", "True when leading_markets is not empty"),
        "supplies": taken(f"{_P}.supplies", "Inputs the party supplies to FM developers"),
    },
    "model": {
        "id": taken(f"{_M}.id", "Model id"),
        "name": taken(f"{_M}.name", "Name"),
        "developer": taken(f"{_M}.developer", "Party id of the developer"),
        "release_date": taken(f"{_M}.release_date", "Release date"),
        "weights": taken(f"{_M}.weights", "How the weights can be obtained"),
        "training_data": taken(f"{_M}.training_data", "Disclosure of training data"),
        "training_code": taken(f"{_M}.training_code", "Disclosure of training code"),
        "parameters_billions": taken(f"{_M}.parameters_billions", "Size in billions of parameters"),
        "size_class": taken(f"{_M}.size_class", "Size class"),
        "frontier": taken(f"{_M}.frontier", "A model at the performance frontier"),
        "own_platform_data": taken(f"{_M}.own_platform_data",
                                   "Markets of the developer's own other platforms whose data trained the model"),
        "licence_version": derived("id", f"{_M}.released_under",
                                   "Id of the licence version ('<licence>@<n>') the model was released under"),
        "previous_model": derived("id", f"{_M}.release_date",
                                  "Id of the same developer's model released most recently before this one "
                                  "(the family sequence; absent for the first; unknown when its own release date, or that "
                                  "of another model of the family, is unknown)"),
    },
    "licence_version": {
        "id": derived("id", _V, "'<licence id>@<n>', n counting versions from 1", always=True),
        "licence": taken(f"{_L}.id", "Licence id (shared by all versions of one licence)"),
        "licence_name": taken(f"{_L}.name", "Name of the licence (shared by all versions of one licence)"),
        "licence_kind": taken(f"{_L}.kind", "Kind of licence"),
        "licensor": taken(f"{_L}.licensor", "Party id of the licensor"),
        "licensee": taken(f"{_L}.licensee", "Party id of the licensee, for a licence granted to one named party"),
        "version": taken(f"{_V}.version", "Version name"),
        "seq": derived("int", _V, "Position in the licence's timeline, from 1", always=True),
        "date": taken(f"{_V}.date", "Date the version took effect"),
        "until": derived("date", _V, "Date the version stops being in force: the earlier of its own 'until' and "
                         "the next version's date, once that version has started (absent otherwise)"),
        "previous": derived("id", _V, "Id of the previous version of the same licence (absent for the first)",
                           decided=True),
        "spdx": taken(f"{_V}.spdx", "SPDX id or LicenseRef- name"),
        "models": taken(f"{_L}.models", "Model ids the licence covers"),
        "weights_access": taken(f"{_T}.weights_access", "How the weights can be obtained under this version"),
        "commercial_use": taken(f"{_T}.commercial_use", "Commercial use"),
        "research_only": taken(f"{_T}.research_only", "Use limited to research"),
        "has_user_threshold": derived("bool", _UT, "A user or revenue threshold applies"),
        "threshold_metric": taken(f"{_UT}.metric", "What the threshold counts"),
        "threshold_limit": taken(f"{_UT}.limit", "The threshold's limit"),
        "threshold_above": taken(f"{_UT}.above", "What applies above the threshold"),
        "threshold_measured": taken(f"{_UT}.measured", "at_release (a snapshot on the release date) or ongoing"),
        "has_royalty": derived("bool", f"{_T}.royalty", "A royalty or revenue share is due above a threshold"),
        "royalty_rate_pct": taken(f"{_T}.royalty.rate_pct", "Royalty rate, in per cent"),
        "royalty_metric": taken(f"{_T}.royalty.metric", "What the royalty threshold counts"),
        "royalty_limit": taken(f"{_T}.royalty.limit", "Royalties are due above this level"),
        "terms_depend_on_use": taken(f"{_T}.terms_depend_on_use",
                                     "Price or permissions differ by the licensee's use or identity"),
        "exclusive": taken(f"{_T}.exclusive", "The licensee's rights are exclusive"),
        "output_training_ban": derived("bool", _OB, "Outputs may not be used to train or improve other models"),
        "output_ban_scope": taken(f"{_OB}.scope", "Which models the output ban protects against"),
        "output_ban_exempts_licensor_family": taken(f"{_OB}.exempts_licensor_family",
                                                    "The output ban excepts the licensor's own model family"),
        "has_aup": derived("bool", _AUP, "An acceptable-use policy applies"),
        "aup_by_reference": taken(f"{_AUP}.incorporated_by_reference",
                                  "The acceptable-use policy is incorporated by reference"),
        "aup_unilateral_update": taken(f"{_AUP}.licensor_may_update",
                                       "The licensor can change the acceptable-use policy unilaterally"),
        "licensor_may_change_terms": taken(f"{_T}.licensor_may_change_terms",
                                           "The licensor can change the licence terms unilaterally"),
        "revocation": taken(f"{_T}.revocation", "When the licensor can revoke"),
        "remote_restriction": taken(f"{_T}.remote_restriction", "The licensor reserves a right to restrict use remotely"),
        "must_use_latest_version": taken(f"{_T}.must_use_latest_version", "Licensees must move to the latest version"),
        "has_field_of_use_restrictions": derived("bool", f"{_T}.field_of_use_restrictions",
                                                 "Field-of-use restrictions apply"),
        "field_of_use_restrictions": taken(f"{_T}.field_of_use_restrictions", "Restricted fields of use"),
        "field_of_use_restrictions_added": derived(
            "list", f"{_T}.field_of_use_restrictions", "Fields of use restricted here and not in the previous "
            "version (absent for the first version; unknown when either list is)",
            like=f"{_T}.field_of_use_restrictions"),
        "field_of_use_restrictions_grew": derived("bool", f"{_T}.field_of_use_restrictions", "The list holds an item the previous version's did not "
                             "(absent for the first version; unknown when either list is)"),
        "has_geographic_restrictions": derived("bool", f"{_T}.geographic_restrictions", "Geographic restrictions apply"),
        "geographic_restrictions": derived("list", f"{_T}.geographic_restrictions",
                                           "Excluded territories (the texts; of a mapping, its territory)",
                                           like=f"{_T}.geographic_restrictions"),
        "geographic_restrictions_by_law": derived(
            "bool", f"{_T}.geographic_restrictions", "Every excluded territory is excluded because a law binding "
            "the licensor requires it (export controls, sanctions): false when one is the licensor's choice; "
            "unknown or unstated when a basis is, and none is the licensor's choice; absent with no exclusions"),
        "geographic_restrictions_added": derived(
            "list", f"{_T}.geographic_restrictions", "Territories excluded here and not in the previous version "
            "(absent for the first version; unknown when either list is)", like=f"{_T}.geographic_restrictions"),
        "geographic_restrictions_grew": derived("bool", f"{_T}.geographic_restrictions", "The list holds an item the previous version's did not "
                             "(absent for the first version; unknown when either list is)"),
        "hosted_service_restriction": taken(f"{_T}.hosted_service_restriction",
                                            "Offering the model as a hosted service is restricted"),
        "attribution_required": taken(f"{_T}.attribution_required", "Attribution is required"),
        "naming_requirement": taken(f"{_T}.naming_requirement",
                                    "Derivatives must carry the licensor's naming or branding"),
        "restrictions_pass_to_derivatives": taken(f"{_T}.restrictions_pass_to_derivatives",
                                                  "Use restrictions must be passed on to derivatives"),
        "distillation_counts_as_derivative": taken(f"{_T}.distillation_counts_as_derivative",
                                                   "Models distilled from outputs count as derivatives"),
        "osi_approved": taken(f"{_T}.osi_approved", "The licence is OSI-approved"),
        "marketed_as_open": taken(f"{_T}.marketed_as_open", "The licensor markets the model or licence as open"),
        "terminates_on_ip_claim": taken(f"{_T}.terminates_on_ip_claim",
                                        "The licence ends if the licensee sues the licensor over IP"),
    },
    "deal": {
        "id": taken(f"{_D}.id", "Deal id"),
        "title": taken(f"{_D}.title", "Title"),
        "date": taken(f"{_D}.date", "Date of the agreement or round"),
        "until": derived("date", _D, "Date the terms end: the earlier of the deal's 'until' and the date of the "
                         "first later deal that supersedes it, once made (absent otherwise)"),
        "supersedes": taken(f"{_D}.supersedes", "Ids of earlier deals whose terms this one replaces"),
        "partner": taken(f"{_D}.partner", "Party id of the investor, cloud provider or distributor"),
        "developer": taken(f"{_D}.developer", "Party id of the FM developer"),
        "amount": taken(f"{_D}.amount.value", "Amount"),
        "currency": taken(f"{_D}.amount.currency", "Currency of the amount"),
        "amount_basis": taken(f"{_D}.amount.basis", "disclosed by the parties, or reported by the press"),
        "amount_up_to": taken(f"{_D}.amount.up_to", "The amount is a ceiling ('up to')"),
        "amount_flow": derived("enum", f"{_D}.amount.flow", "investment (the partner funds the developer), "
                               "developer_spend or licence_fee; when the case leaves it out, read from forms "
                               "(equity, convertible or cloud_credits: investment; only committed_cloud_spend: "
                               "developer_spend; only licence_fee: licence_fee)", like=f"{_D}.amount.flow"),
        "invested_to_date": derived("number", f"{_D}.amount", "Sum of the amounts the partner has invested in the "
                                    "developer in this deal and its earlier deals in force (amount_flow "
                                    "investment, same currency); unknown when one of them is"),
        "forms": taken(f"{_D}.forms", "Forms of consideration"),
        "stake_pct": taken(f"{_D}.stake_pct", "Stake acquired, in percent"),
        "shares": taken(f"{_D}.shares", "voting or non_voting shares"),
        "compute": taken(f"{_D}.compute", "Exclusivity of compute supply"),
        "distribution": taken(f"{_D}.distribution", "Exclusivity of distribution"),
        "api_exclusive_to_partner_cloud": taken(f"{_D}.api_exclusive_to_partner_cloud",
                                                "The developer's API is offered only on the partner's cloud"),
        "ip_rights": taken(f"{_D}.ip_rights", "Rights the partner gets in the developer's IP"),
        "integration_into_partner_products": taken(f"{_D}.integration_into_partner_products",
                                                   "The model is integrated into the partner's products"),
        "governance": derived("list", f"{_D}.governance", "Governance rights the partner holds on the assessment "
                              "date (rights given up by then are left out)", like=f"{_D}.governance"),
        "has_governance_rights": derived("bool", f"{_D}.governance", "True when governance is not empty"),
        "has_board_seat": derived("bool", f"{_D}.governance", "True when governance includes board_seat"),
        "staff_hired": derived("bool", f"{_D}.staff_hired", "The partner hired the developer's staff"),
        "staff_count": taken(f"{_D}.staff_hired.count", "Number of staff hired"),
        "key_staff_hired": taken(f"{_D}.staff_hired.key_staff", "Key staff were hired"),
        "hire_with_licence": taken(f"{_D}.staff_hired.with_licence",
                                   "Staff were hired together with a licence instead of an acquisition"),
        "hire_with_investment": taken(f"{_D}.staff_hired.with_investment", "Staff were hired together with an investment"),
        "priority_accelerator_access": taken(f"{_D}.priority_accelerator_access", "Priority access to scarce accelerators"),
        "partner_accelerators": taken(f"{_D}.partner_accelerators",
                                      "The developer trains or serves on the partner's own accelerators"),
        "compute_available_in_uk": taken(f"{_D}.compute_available_in_uk", "The compute is available in the UK"),
        "developer_multihoming": taken(f"{_D}.developer_multihoming", "The developer also uses rival providers"),
    },
    "data_access_change": {
        "id": taken(f"{_X}.id", "Change id"),
        "holder": taken(f"{_X}.holder", "Party id of the data holder"),
        "resource": taken(f"{_X}.resource", "The data resource or API"),
        "date": taken(f"{_X}.date", "Date the change takes effect"),
        "stage": taken(f"{_X}.stage", "announced (planned) or effective"),
        "announced": taken(f"{_X}.announced", "Date the change was announced"),
        "free_before": derived("bool", f"{_X}.before.price", "Access was free before"),
        "free_after": derived("bool", f"{_X}.after.price", "Access is free after"),
        "price_before": taken(f"{_X}.before.price.amount", "Price before (0 when free)"),
        "price_after": taken(f"{_X}.after.price.amount", "Price after (0 when free)"),
        "price_unit": taken(f"{_X}.after.price.unit", "Unit of the price after"),
        "price_unit_before": taken(f"{_X}.before.price.unit", "Unit of the price before"),
        "price_rose": derived("bool", f"{_X}.after.price", "The price rose: free to paid, or a higher amount in the "
                              "same unit and currency (unknown when the units or currencies differ)"),
        "free_tier_before": derived("bool", f"{_X}.before.free_tier", "A free tier existed before"),
        "free_tier_after": derived("bool", f"{_X}.after.free_tier", "A free tier remains after"),
        "free_tier_limit_after": taken(f"{_X}.after.free_tier.limit", "The free tier's limit after"),
        "ai_use_priced_after": derived("bool", f"{_X}.after.prices", "The price table after has a price for AI use"),
        "use_dependent_after": derived("bool", f"{_X}.after.terms_depend_on_use", "The terms after treat AI or rival "
                                       "FM uses differently (stated, or a price for AI use)"),
        "ai_training_ban_before": taken(f"{_X}.before.ai_training_ban", "AI training was barred before"),
        "ai_training_ban_after": taken(f"{_X}.after.ai_training_ban", "AI training is barred after"),
        "exclusive_after": derived("bool", f"{_X}.after.exclusive_licensee",
                                   "An exclusive licensee holds the data after the change"),
        "exclusive_licensee_after": taken(f"{_X}.after.exclusive_licensee",
                                          "Party id of the exclusive licensee after the change"),
    },
}


def build(declarations: Declarations = DECLARATIONS, root: type[BaseModel] | None = None) -> dict[str, dict[str, FieldSpec]]:
    """The vocabulary: each declaration resolved against the case model ``root``."""
    out: dict[str, dict[str, FieldSpec]] = {}
    for fact, fields in declarations.items():
        out[fact] = {}
        for name, d in fields.items():
            if isinstance(d, _Taken):
                out[fact][name] = spec_from(d.path, d.doc, root)
            else:
                resolve(d.path, root)  # the field it is derived from must exist
                values: tuple[str, ...] = ()
                item: Kind | None = None
                if d.like is not None:
                    values, item = _like(d.like, root)
                    if d.kind != "list":
                        item = None
                out[fact][name] = FieldSpec(d.kind, d.doc, values, item, d.path, derived=True)
        for name, spec in out[fact].items():
            if name in SCALES:
                if spec.kind != "enum" or set(SCALES[name]) != set(spec.values) or len(set(SCALES[name])) != len(SCALES[name]):
                    raise VocabularyError(f"{fact}.{name}: the scale {SCALES[name]} does not list the values {spec.values}")
                out[fact][name] = FieldSpec(spec.kind, spec.doc, spec.values, spec.item, spec.case_path, spec.derived,
                                            SCALES[name])
    return out


def _like(path: str, root: type[BaseModel] | None) -> tuple[tuple[str, ...], Kind | None]:
    """The item kind and values of the list at ``path``; for a list of an enum or of models whose
    first field is that enum (governance grants, leading markets with sources), the enum's values.
    For an enum field, its values."""
    r = resolve(path, root)
    if typing.get_origin(r.annotation) is typing.Literal:   # an enum field's values
        return _enum(r.annotation), None
    if typing.get_origin(r.annotation) is not list:
        raise VocabularyError(f"{path}: not a list")
    members, shape, _ = _strip(typing.get_args(r.annotation)[0])
    values: list[str] = []
    kinds: set[Kind] = set()
    for m in members:
        if isinstance(m, type) and issubclass(m, BaseModel):
            first = next(iter(m.model_fields.values()))   # a grant's right, a leading market's market
            inner, ishape, _ = _strip(first.annotation)
            m, shape = inner[0], ishape
        kind, vals = _kind(m, shape)
        kinds.add(kind)
        values += [v for v in vals if v not in values]
    if len(kinds) != 1:
        raise VocabularyError(f"{path}: list items of more than one kind")
    return tuple(values), kinds.pop()


def always_present(declarations: Declarations = DECLARATIONS, root: type[BaseModel] | None = None) -> dict[str, frozenset[str]]:
    """Fields every fact of a type carries: copied from a required case field (never absent,
    ``unknown`` or ``none`` on the way), or derived and declared ``always``."""
    return {
        fact: frozenset(name for name, d in fields.items()
                        if (d.always if isinstance(d, _Derived) else resolve(d.path, root).always))
        for fact, fields in declarations.items()
    }


def may_be_missing(declarations: Declarations = DECLARATIONS, root: type[BaseModel] | None = None
                   ) -> dict[str, frozenset[str]]:
    """Fields a fact of a type may carry as unknown or unstated: neither always present nor a
    derived field the facts stage always decides (a value, or absent)."""
    always = always_present(declarations, root)
    return {
        fact: frozenset(name for name, d in fields.items()
                        if name not in always[fact] and not (isinstance(d, _Derived) and d.decided))
        for fact, fields in declarations.items()
    }


FACT_TYPES: dict[str, dict[str, FieldSpec]] = build()

# Fields facts.py sets on every fact of the type (the case schema requires them).
ALWAYS_PRESENT: dict[str, frozenset[str]] = always_present()

# Fields that may be unknown or unstated on a fact (a link through one may be undecided).
MAY_BE_MISSING: dict[str, frozenset[str]] = may_be_missing()


def by_case_path(vocabulary: Mapping[str, Mapping[str, FieldSpec]] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Case path -> the (fact type, field) pairs read from it (several for derived fields)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for fact, fields in (FACT_TYPES if vocabulary is None else vocabulary).items():
        for name, spec in fields.items():
            out.setdefault(spec.case_path, []).append((fact, name))
    return out


def case_paths_by_field() -> dict[str, tuple[str, ...]]:
    """Each fact field name -> the case paths it is read from (for "did you mean" when a case
    file uses a fact field's name, e.g. ``aup_by_reference`` under ``terms:``)."""
    out: dict[str, set[str]] = {}
    for fields in FACT_TYPES.values():
        for name, spec in fields.items():
            out.setdefault(name, set()).add(spec.case_path)
    return {name: tuple(sorted(paths)) for name, paths in sorted(out.items())}


def export() -> dict[str, dict[str, dict[str, object]]]:
    """The vocabulary as plain data (for `policycheck facts` and editors)."""
    return {
        t: {name: {"kind": s.kind, "doc": s.doc, **({"values": list(s.values)} if s.values else {}),
                   **({"scale": list(s.scale)} if s.scale else {}),
                   **({"item": s.item} if s.item else {}), "case_path": s.case_path,
                   **({"derived": True} if s.derived else {})}
            for name, s in fields.items()}
        for t, fields in FACT_TYPES.items()
    }
