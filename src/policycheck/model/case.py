"""Case format v2: the pydantic models for a case file a reviewer writes.

A case describes one real arrangement: licences with a dated timeline of versions,
deals between firms, and changes to access to data. Every optional fact can be:
- absent (``null`` or left out): the case does not address it;
- ``unknown``: the author looked and the sources do not say;
- a value.
Absent and unknown both leave the rules that need the fact "not assessed"; neither
counts as a clean bill. Any fact may list ``sources`` (ids from the case's ``sources``).

Format v2 (``schema_version: 2``) adds time and evidence: a licence version may end
(``until``), a deal may end (``until``) or be restated by a later round (``supersedes``), a
governance right may end (``{right: board_observer, until: 2024-07}``), a data-access change
may be only ``announced``; amounts and sources can be ``reported`` (press) rather than
disclosed, and amounts "up to"; clauses say which terms they support (``supports``); a model
names the licence version it was released under (``released_under``). No field a rule reads
has a default of false, 0 or an empty list: left out means unstated. ``policycheck migrate``
rewrites v1 files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 2

UNKNOWN: Literal["unknown"] = "unknown"
T = TypeVar("T")
Unknown = Literal["unknown"]
Unknowable = Annotated[T | Unknown, Field(union_mode="left_to_right")]

_DATE = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")  # ASCII digits only
_ID = r"^[a-z0-9][a-z0-9._-]*$"


def check_date(value: str) -> str:
    """``value`` if it is an ASCII ISO date (YYYY-MM-DD, YYYY-MM or YYYY) on the calendar, else ValueError."""
    return _check_date(value)


def _check_date(value: str) -> str:
    m = _DATE.match(value)
    if not m:
        raise ValueError("expected a date as YYYY-MM-DD (or YYYY-MM, or YYYY when only the year is known)")
    month, day = m.group(2), m.group(3)
    if month and not 1 <= int(month) <= 12:
        raise ValueError(f"month {month} is out of range")
    if day:
        import datetime

        try:
            datetime.date(int(m.group(1)), int(month), int(day))
        except ValueError as exc:
            raise ValueError(f"not a calendar date: {exc}") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Shape:
    """What a plain string holds ("id" or "date"), for the fact vocabulary.

    Read from the annotation by ``model.vocabulary``; pydantic ignores it, so it changes neither
    validation nor the JSON schema.
    """

    kind: Literal["id", "date"]


Id = Annotated[str, Field(pattern=_ID, min_length=1, max_length=80), Shape("id")]
IsoDate = Annotated[str, Field(description="YYYY-MM-DD, or YYYY-MM / YYYY when only that is known"), Shape("date")]

PartyRole = Literal[
    "fm_developer", "cloud_provider", "chip_maker", "data_holder", "distributor", "investor", "licensee", "deployer",
    "input_supplier",
]
InputKind = Literal["alignment_data", "labelling_data", "training_data", "accelerators", "cloud_compute"]
Market = Literal[
    "cloud", "search", "productivity_software", "mobile", "app_store", "social_media", "online_advertising",
    "video_sharing", "ecommerce", "accelerators", "developer_platforms", "operating_systems", "q_and_a_platform",
]
Weights = Literal["open_download", "gated", "api_only", "closed"]
Disclosure = Literal["open", "documented", "undisclosed"]
SizeClass = Literal["small", "medium", "large", "frontier"]


class _Dated(_Strict):
    @field_validator("date", "release_date", "announced", "until", "since", check_fields=False)
    @classmethod
    def _date(cls, value: object) -> object:
        if isinstance(value, str) and value != UNKNOWN:
            return _check_date(value)
        return value


class Source(_Dated):
    """A document that supports facts in the case."""

    id: Id
    title: str = Field(min_length=1)
    url: str | None = Field(default=None, description="Web address of the source")
    path: str | None = Field(default=None, description="Repository and path, e.g. 'meta-llama/llama-models models/llama2/LICENSE'")
    date: Unknowable[IsoDate] = Field(description="Publication or version date of the source")
    kind: Literal["primary", "secondary"]
    basis: Literal["disclosed", "reported"] | None = Field(
        default=None, description="reported: a press report of facts the parties did not disclose")
    note: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://\S+$", value):
            raise ValueError("expected an http(s) URL")
        return value


class Clause(_Strict):
    """A short quoted clause, kept as evidence."""

    ref: str = Field(description="Where in the document, e.g. '§1(b)(v)'")
    text: str = Field(min_length=1, max_length=2000)
    source: Id
    supports: list[str] | None = Field(
        default=None, description="The terms this clause is evidence for, by their case-file field name "
        "(e.g. [output_training_ban]); flags on those terms quote it")


class LeadingMarket(_Strict):
    """A market where the party holds a leading position, with the sources that find it."""

    market: Market
    sources: list[Id] = Field(min_length=1, description="Sources that find the position: a designation, market "
                              "study, decision or market-share data")
    note: str | None = None


class Party(_Strict):
    id: Id
    name: str
    roles: Unknowable[list[PartyRole]] | None = None
    leading_markets: Unknowable[list[Market | LeadingMarket]] | None = Field(
        default=None, description="Markets where the party holds a leading position: a market name, or "
        "{market, sources} naming the sources that find it"
    )
    supplies: Unknowable[list[InputKind]] | None = Field(
        default=None, description="Inputs the party supplies to FM developers (for an input_supplier)")
    sources: list[Id] = Field(default_factory=list)

    def markets(self) -> list[str] | None | Unknown:
        """The leading markets as names (None: unstated)."""
        lm = self.leading_markets
        if lm is None or lm == UNKNOWN:
            return lm
        return [m if isinstance(m, str) else m.market for m in lm]


class ReleasedUnder(_Strict):
    """The licence version a model was released under: a licence id and one of its version names."""

    licence: Id
    version: str = Field(min_length=1)


class Model(_Dated):
    id: Id
    name: str
    developer: Id
    release_date: Unknowable[IsoDate] | None = None
    weights: Unknowable[Weights] | None = None
    training_data: Unknowable[Disclosure] | None = None
    training_code: Unknowable[Disclosure] | None = None
    parameters_billions: Unknowable[Annotated[float, Field(gt=0)]] | None = None
    size_class: Unknowable[SizeClass] | None = None
    frontier: Unknowable[bool] | None = None
    own_platform_data: Unknowable[list[Market]] | None = Field(
        default=None, description="Markets of the developer's own other platforms whose data trained the model")
    released_under: ReleasedUnder | None = None
    sources: list[Id] = Field(default_factory=list)


class TerritoryExclusion(_Strict):
    """A territory the terms exclude, with why (when known). A bare string in
    ``geographic_restrictions`` is the same with its basis unstated."""

    territory: str = Field(min_length=1)
    basis: Unknowable[Literal["legal_requirement", "licensor_choice"]] | None = Field(
        default=None, description="legal_requirement: the exclusion restates a law that binds the licensor "
        "(export controls, sanctions); licensor_choice: the licensor's own decision (where it offers the "
        "model or service)")


class UserThreshold(_Strict):
    metric: Literal["monthly_active_users", "annual_revenue_usd", "users", "employees"]
    limit: Annotated[float, Field(gt=0)]
    above: Literal["licensor_discretion", "separate_licence_required", "prohibited", "fee"]
    measured: Literal["at_release", "ongoing"] | None = Field(
        default=None, description="at_release: measured once, on the version's release date (a snapshot); "
        "ongoing: applies whenever the licensee crosses it")


class Royalty(_Strict):
    rate_pct: Unknowable[Annotated[float, Field(gt=0, le=100)]]
    metric: Literal["annual_revenue_usd", "monthly_active_users"]
    limit: Annotated[float, Field(ge=0)] = Field(description="Royalties are due above this level")


class OutputTrainingBan(_Strict):
    scope: Literal["competing_models", "foundation_models", "other_models", "any_model"] = Field(
        description="competing_models: outputs may not develop models that compete with the licensor; "
        "foundation_models: may not create or improve any foundation model; "
        "other_models: may not improve any other model; any_model: no training use at all"
    )
    exempts_licensor_family: Unknowable[bool] | None = Field(
        default=None, description="True when the ban excepts the licensor's own models and their derivatives"
    )


class AcceptableUsePolicy(_Strict):
    incorporated_by_reference: Unknowable[bool]
    licensor_may_update: Unknowable[bool] = Field(description="The licensor can change the policy unilaterally")


class Terms(_Strict):
    """The terms of one licence version. Leave out what the version does not address."""

    weights_access: Unknowable[Weights] | None = None
    commercial_use: Unknowable[Literal["allowed", "restricted", "prohibited"]] | None = None
    research_only: Unknowable[bool] | None = None
    user_threshold: Unknowable[UserThreshold] | Literal["none"] | None = None
    output_training_ban: Unknowable[OutputTrainingBan] | Literal["none"] | None = None
    acceptable_use_policy: Unknowable[AcceptableUsePolicy] | Literal["none"] | None = None
    licensor_may_change_terms: Unknowable[bool] | None = None
    revocation: Unknowable[Literal["at_will", "on_breach", "irrevocable"]] | None = None
    remote_restriction: Unknowable[bool] | None = None
    must_use_latest_version: Unknowable[bool] | None = None
    field_of_use_restrictions: Unknowable[list[str]] | None = None
    geographic_restrictions: Unknowable[list[str | TerritoryExclusion]] | None = None
    hosted_service_restriction: Unknowable[bool] | None = None
    attribution_required: Unknowable[bool] | None = None
    naming_requirement: Unknowable[bool] | None = None
    restrictions_pass_to_derivatives: Unknowable[bool] | None = None
    distillation_counts_as_derivative: Unknowable[bool] | None = None
    osi_approved: Unknowable[bool] | None = None
    marketed_as_open: Unknowable[bool] | None = None
    terminates_on_ip_claim: Unknowable[bool] | None = None
    royalty: Unknowable[Royalty] | Literal["none"] | None = None
    terms_depend_on_use: Unknowable[bool] | None = Field(
        default=None, description="Price or permissions differ by the licensee's use or identity")
    exclusive: Unknowable[bool] | None = Field(default=None, description="The licensee's rights are exclusive")


class LicenceVersion(_Dated):
    version: str = Field(min_length=1)
    date: IsoDate
    until: IsoDate | None = Field(default=None, description="Last in force before this date, when it ended "
                                  "without a later version (default: the next version's date)")
    spdx: str | None = Field(default=None, description="SPDX id or LicenseRef- name")
    terms: Terms
    clauses: list[Clause] = Field(default_factory=list)
    sources: list[Id] = Field(default_factory=list)


class Licence(_Strict):
    id: Id
    name: str
    kind: Literal["model_licence", "terms_of_service", "data_licence", "api_terms"]
    licensor: Id
    licensee: Id | None = Field(default=None, description="Party id, for a licence granted to one named party")
    models: Unknowable[list[Id]] | None = None
    versions: list[LicenceVersion] = Field(min_length=1, description="Oldest first")


class Money(_Strict):
    value: Annotated[float, Field(ge=0)]
    currency: Literal["USD", "GBP", "EUR"]
    basis: Literal["disclosed", "reported"] | None = Field(
        default=None, description="reported: the amount comes from press reports, not the parties")
    up_to: bool | None = Field(default=None, description="true: the amount is a ceiling ('up to')")
    flow: Literal["investment", "developer_spend", "licence_fee"] | None = Field(
        default=None, description="investment: the partner funds the developer; developer_spend: the developer "
        "commits to spend with the partner; licence_fee: the partner pays for a licence or access "
        "(default: read from the deal's forms)")


class StaffHire(_Strict):
    count: Unknowable[Annotated[int, Field(ge=0)]] = UNKNOWN
    key_staff: Unknowable[bool] = UNKNOWN
    with_licence: Unknowable[bool] = Field(default=UNKNOWN, description="Hired together with a licence instead of an acquisition")
    with_investment: Unknowable[bool] = Field(default=UNKNOWN, description="Hired together with an investment")


class RegulatoryStep(_Dated):
    authority: str
    date: IsoDate
    action: str
    outcome: str | None = None
    sources: list[Id] = Field(default_factory=list)


DealForm = Literal["equity", "convertible", "cloud_credits", "committed_cloud_spend",
                   "revenue_share", "commercial_partnership", "licence_fee"]
GovernanceRight = Literal["board_seat", "board_observer", "consultation_rights", "information_rights"]


class GovernanceGrant(_Dated):
    """A governance right with its own dates: ``{right: board_observer, until: 2024-07}``."""

    right: GovernanceRight
    since: IsoDate | None = Field(default=None, description="Held from this date (default: the deal's date)")
    until: IsoDate | None = Field(default=None, description="Given up on this date")

Exclusivity = Literal["exclusive", "preferred", "right_of_first_refusal", "non_exclusive", "none"]


class Deal(_Dated):
    """One dated agreement or investment round between a partner (investor, cloud provider,
    distributor) and an FM developer."""

    id: Id
    title: str
    date: IsoDate
    until: IsoDate | None = Field(default=None, description="The terms ended on this date")
    supersedes: list[Id] | None = Field(
        default=None, description="Earlier deals of the case whose terms this one replaces (they end on its date)")
    partner: Id
    developer: Id
    amount: Unknowable[Money] | None = None
    forms: Unknowable[list[DealForm]] | None = None
    stake_pct: Unknowable[Annotated[float, Field(ge=0, le=100)]] | None = None
    shares: Unknowable[Literal["voting", "non_voting"]] | None = None
    compute: Unknowable[Exclusivity] | None = None
    distribution: Unknowable[Exclusivity] | None = None
    api_exclusive_to_partner_cloud: Unknowable[bool] | None = None
    ip_rights: Unknowable[Literal["exclusive", "non_exclusive", "none"]] | None = None
    integration_into_partner_products: Unknowable[bool] | None = None
    governance: Unknowable[list[GovernanceRight | GovernanceGrant]] | None = None
    staff_hired: Unknowable[StaffHire] | Literal["none"] | None = None
    priority_accelerator_access: Unknowable[bool] | None = None
    partner_accelerators: Unknowable[bool] | None = Field(
        default=None, description="The developer trains or serves on the partner's own accelerators (e.g. Trainium, TPU)")
    compute_available_in_uk: Unknowable[bool] | None = Field(
        default=None, description="The compute the deal provides is available in the UK")
    developer_multihoming: Unknowable[bool] | None = Field(
        default=None, description="The developer also sources compute or distribution from rival providers"
    )
    regulatory: list[RegulatoryStep] = Field(default_factory=list)
    clauses: list[Clause] = Field(default_factory=list)
    sources: list[Id] = Field(default_factory=list)


class Price(_Strict):
    amount: Annotated[float, Field(ge=0)]
    currency: Literal["USD", "GBP", "EUR"]
    unit: str = Field(description="e.g. 'per 1,000 calls', 'per month'")


class PriceRow(_Strict):
    """One row of a price table: a tier's price for a use."""

    tier: str = Field(min_length=1)
    use: Literal["any", "ai"] = Field(description="ai: the price for use with or by AI models (e.g. LLM grounding)")
    amount: Annotated[float, Field(ge=0)]
    currency: Literal["USD", "GBP", "EUR"]
    unit: str


class FreeTier(_Strict):
    limit: str = Field(min_length=1, description="e.g. '100 queries per minute, non-commercial use'")


class AccessTerms(_Strict):
    price: Unknowable[Price] | Literal["free"] | None = None
    free_tier: Unknowable[FreeTier] | Literal["none"] | None = None
    prices: list[PriceRow] | None = Field(default=None, description="The price table, by tier and use")
    terms_depend_on_use: Unknowable[bool] | None = Field(
        default=None, description="The terms treat AI or rival FM uses differently from other uses")
    ai_training_ban: Unknowable[bool] | None = None
    exclusive_licensee: Unknowable[Id] | Literal["none"] | None = None


class DataAccessChange(_Dated):
    id: Id
    holder: Id
    resource: str
    date: IsoDate = Field(description="Date the change takes effect (planned, when stage is announced)")
    stage: Literal["announced", "effective"] = Field(
        description="effective: in force from date; announced: announced, not yet in force on the case's date")
    announced: Unknowable[IsoDate] | None = None
    before: AccessTerms
    after: AccessTerms
    clauses: list[Clause] = Field(default_factory=list)
    sources: list[Id] = Field(default_factory=list)


class Case(_Dated):
    """A case file, format v2."""

    schema_version: Literal[2]
    id: Id
    title: str = Field(min_length=1)
    kind: list[Literal["licence", "deal", "data_access"]] = Field(min_length=1)
    as_of: IsoDate
    summary: str = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    parties: list[Party] = Field(default_factory=list)
    models: list[Model] = Field(default_factory=list)
    licences: list[Licence] = Field(default_factory=list)
    deals: list[Deal] = Field(default_factory=list)
    data_access_changes: list[DataAccessChange] = Field(default_factory=list)
    notes: str | None = None

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, value: str) -> str:
        return _check_date(value)
