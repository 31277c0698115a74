"""The fact vocabulary: every fact type rules can match and every field it carries.

This is the contract between case files and rules. ``facts.py`` produces exactly these
fields; rule validation checks every pattern against them, so a misspelt field or enum
value fails when a rule is loaded instead of silently never matching.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from policycheck.model import case as c

Kind = typing.Literal["str", "id", "date", "number", "int", "bool", "enum", "list"]


@dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    doc: str
    values: tuple[str, ...] = ()          # allowed values of an enum, or of a list's items
    item: Kind | None = None              # item kind of a list ("enum", "str" or "id")


def _enum(lit: object) -> tuple[str, ...]:
    return tuple(str(v) for v in typing.get_args(lit))


def _f(kind: Kind, doc: str, lit: object = None, item: Kind | None = None) -> FieldSpec:
    return FieldSpec(kind, doc, _enum(lit) if lit is not None else (), item)


EXCLUSIVITY = c.Exclusivity
FORMS = c.DealForm
GOVERNANCE = c.GovernanceRight

FACT_TYPES: dict[str, dict[str, FieldSpec]] = {
    "case": {
        "id": _f("id", "Case id"),
        "kinds": _f("list", "What the case covers", typing.Literal["licence", "deal", "data_access"], "enum"),
        "as_of": _f("date", "Date the case describes"),
    },
    "party": {
        "id": _f("id", "Party id (stable across case files)"),
        "name": _f("str", "Name"),
        "roles": _f("list", "Roles the party plays", c.PartyRole, "enum"),
        "leading_markets": _f("list", "Markets where the party holds a leading position", c.Market, "enum"),
        "holds_leading_position": _f("bool", "True when leading_markets is not empty"),
    },
    "model": {
        "id": _f("id", "Model id"),
        "name": _f("str", "Name"),
        "developer": _f("id", "Party id of the developer"),
        "release_date": _f("date", "Release date"),
        "weights": _f("enum", "How the weights can be obtained", c.Weights),
        "training_data": _f("enum", "Disclosure of training data", c.Disclosure),
        "training_code": _f("enum", "Disclosure of training code", c.Disclosure),
        "parameters_billions": _f("number", "Size in billions of parameters"),
        "size_class": _f("enum", "Size class", c.SizeClass),
        "frontier": _f("bool", "A model at the performance frontier"),
    },
    "licence_version": {
        "id": _f("id", "'<licence id>@<n>', n counting versions from 1"),
        "licence": _f("id", "Licence id (shared by all versions of one licence)"),
        "licence_name": _f("str", "Name of the licence (shared by all versions of one licence)"),
        "licence_kind": _f("enum", "Kind of licence", typing.Literal["model_licence", "terms_of_service", "data_licence", "api_terms"]),
        "licensor": _f("id", "Party id of the licensor"),
        "version": _f("str", "Version name"),
        "seq": _f("int", "Position in the licence's timeline, from 1"),
        "date": _f("date", "Date the version took effect"),
        "previous": _f("id", "Id of the previous version of the same licence (absent for the first)"),
        "spdx": _f("str", "SPDX id or LicenseRef- name"),
        "models": _f("list", "Model ids the licence covers", None, "id"),
        "weights_access": _f("enum", "How the weights can be obtained under this version", c.Weights),
        "commercial_use": _f("enum", "Commercial use", typing.Literal["allowed", "restricted", "prohibited"]),
        "research_only": _f("bool", "Use limited to research"),
        "has_user_threshold": _f("bool", "A user or revenue threshold applies"),
        "threshold_metric": _f("enum", "What the threshold counts", typing.Literal["monthly_active_users", "annual_revenue_usd", "users", "employees"]),
        "threshold_limit": _f("number", "The threshold's limit"),
        "threshold_above": _f("enum", "What applies above the threshold", typing.Literal["licensor_discretion", "separate_licence_required", "prohibited", "fee"]),
        "output_training_ban": _f("bool", "Outputs may not be used to train or improve other models"),
        "output_ban_scope": _f("enum", "Which models the output ban protects against", typing.Literal["competing_models", "other_models", "any_model"]),
        "output_ban_exempts_licensor_family": _f("bool", "The output ban excepts the licensor's own model family"),
        "has_aup": _f("bool", "An acceptable-use policy applies"),
        "aup_by_reference": _f("bool", "The acceptable-use policy is incorporated by reference"),
        "aup_unilateral_update": _f("bool", "The licensor can change the acceptable-use policy unilaterally"),
        "licensor_may_change_terms": _f("bool", "The licensor can change the licence terms unilaterally"),
        "revocation": _f("enum", "When the licensor can revoke", typing.Literal["at_will", "on_breach", "irrevocable"]),
        "remote_restriction": _f("bool", "The licensor reserves a right to restrict use remotely"),
        "must_use_latest_version": _f("bool", "Licensees must move to the latest version"),
        "has_field_of_use_restrictions": _f("bool", "Field-of-use restrictions apply"),
        "field_of_use_restrictions": _f("list", "Restricted fields of use", None, "str"),
        "has_geographic_restrictions": _f("bool", "Geographic restrictions apply"),
        "geographic_restrictions": _f("list", "Excluded territories", None, "str"),
        "hosted_service_restriction": _f("bool", "Offering the model as a hosted service is restricted"),
        "attribution_required": _f("bool", "Attribution is required"),
        "naming_requirement": _f("bool", "Derivatives must carry the licensor's naming or branding"),
        "restrictions_pass_to_derivatives": _f("bool", "Use restrictions must be passed on to derivatives"),
        "distillation_counts_as_derivative": _f("bool", "Models distilled from outputs count as derivatives"),
        "osi_approved": _f("bool", "The licence is OSI-approved"),
        "marketed_as_open": _f("bool", "The licensor markets the model or licence as open"),
        "terminates_on_ip_claim": _f("bool", "The licence ends if the licensee sues the licensor over IP"),
    },
    "deal": {
        "id": _f("id", "Deal id"),
        "title": _f("str", "Title"),
        "date": _f("date", "Date of the agreement or round"),
        "partner": _f("id", "Party id of the investor, cloud provider or distributor"),
        "developer": _f("id", "Party id of the FM developer"),
        "amount": _f("number", "Amount"),
        "currency": _f("enum", "Currency of the amount", typing.Literal["USD", "GBP", "EUR"]),
        "forms": _f("list", "Forms of consideration", FORMS, "enum"),
        "stake_pct": _f("number", "Stake acquired, in percent"),
        "compute": _f("enum", "Exclusivity of compute supply", EXCLUSIVITY),
        "distribution": _f("enum", "Exclusivity of distribution", EXCLUSIVITY),
        "api_exclusive_to_partner_cloud": _f("bool", "The developer's API is offered only on the partner's cloud"),
        "ip_rights": _f("enum", "Rights the partner gets in the developer's IP", typing.Literal["exclusive", "non_exclusive", "none"]),
        "integration_into_partner_products": _f("bool", "The model is integrated into the partner's products"),
        "governance": _f("list", "Governance rights the partner gets", GOVERNANCE, "enum"),
        "has_governance_rights": _f("bool", "True when governance is not empty"),
        "has_board_seat": _f("bool", "True when governance includes board_seat"),
        "staff_hired": _f("bool", "The partner hired the developer's staff"),
        "staff_count": _f("int", "Number of staff hired"),
        "key_staff_hired": _f("bool", "Key staff were hired"),
        "hire_with_licence": _f("bool", "Staff were hired together with a licence instead of an acquisition"),
        "priority_accelerator_access": _f("bool", "Priority access to scarce accelerators"),
        "developer_multihoming": _f("bool", "The developer also uses rival providers"),
    },
    "data_access_change": {
        "id": _f("id", "Change id"),
        "holder": _f("id", "Party id of the data holder"),
        "resource": _f("str", "The data resource or API"),
        "date": _f("date", "Date the change took effect"),
        "announced": _f("date", "Date the change was announced"),
        "free_before": _f("bool", "Access was free before"),
        "free_after": _f("bool", "Access is free after"),
        "price_before": _f("number", "Price before (0 when free)"),
        "price_after": _f("number", "Price after (0 when free)"),
        "price_unit": _f("str", "Unit of the price after"),
        "ai_training_ban_before": _f("bool", "AI training was barred before"),
        "ai_training_ban_after": _f("bool", "AI training is barred after"),
        "exclusive_after": _f("bool", "An exclusive licensee holds the data after the change"),
        "exclusive_licensee_after": _f("id", "Party id of the exclusive licensee after the change"),
    },
}


# Fields facts.py sets on every fact of the type (the case schema requires them).
ALWAYS_PRESENT: dict[str, frozenset[str]] = {
    "case": frozenset({"id", "kinds", "as_of"}),
    "party": frozenset({"id", "name", "roles"}),
    "model": frozenset({"id", "name", "developer"}),
    "licence_version": frozenset({"id", "licence", "licence_name", "licence_kind", "licensor", "models", "version",
                                  "seq", "date"}),
    "deal": frozenset({"id", "title", "date", "partner", "developer"}),
    "data_access_change": frozenset({"id", "holder", "resource", "date"}),
}


def export() -> dict[str, dict[str, dict[str, object]]]:
    """The vocabulary as plain data (for `policycheck facts` and editors)."""
    return {
        t: {name: {"kind": s.kind, "doc": s.doc, **({"values": list(s.values)} if s.values else {}),
                   **({"item": s.item} if s.item else {})}
            for name, s in fields.items()}
        for t, fields in FACT_TYPES.items()
    }
