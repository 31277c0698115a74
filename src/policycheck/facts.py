"""Flatten a case into typed facts (the vocabulary in ``vocabulary.py``).

Each fact remembers, for every field, the path in the case file it came from, so a flag
can point at file:line. A field is either known (in ``values``), explicitly ``unknown``,
``unstated`` (the case does not address it), or not applicable (absent from all three,
e.g. the limit of a threshold that does not exist).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from policycheck.model import case as c
from policycheck.load.cases import LoadedCase
from policycheck.io.reader import Path_
from policycheck.model.assessment import FieldStatus
from policycheck.model.vocabulary import FACT_TYPES


@dataclass(frozen=True)
class Fact:
    type: str
    id: str
    case_id: str
    file: str
    path: Path_
    values: Mapping[str, Any]
    unknown: frozenset[str]
    unstated: frozenset[str]
    origins: Mapping[str, Path_]
    sources: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Stable identity across runs: case id, fact type and entity id."""
        return f"{self.case_id}/{self.type}/{self.id}"

    def status(self, name: str) -> FieldStatus:
        """known, unknown (the case says ``unknown``), unstated (left out) or not applicable."""
        if name in self.values:
            return "known"
        if name in self.unknown:
            return "unknown"
        if name in self.unstated:
            return "unstated"
        return "not applicable"


@dataclass
class _Builder:
    type: str
    id: str
    path: Path_
    values: dict[str, Any] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    unstated: set[str] = field(default_factory=set)
    origins: dict[str, Path_] = field(default_factory=dict)

    def put(self, name: str, value: Any, path: Path_) -> None:
        assert name in FACT_TYPES[self.type], f"{self.type}.{name} is not in the vocabulary"
        self.origins[name] = path
        if value is None:
            self.unstated.add(name)
        elif isinstance(value, str) and value == c.UNKNOWN:
            self.unknown.add(name)
        else:
            self.values[name] = list(value) if isinstance(value, (list, tuple)) else value

    def put_all(self, names: tuple[str, ...], marker: Any, path: Path_) -> None:
        for name in names:
            self.put(name, marker, path)

    def done(self, loaded: LoadedCase, sources: list[str] | tuple[str, ...] = ()) -> Fact:
        self.values["id"] = self.id
        self.origins.setdefault("id", self.path)
        return Fact(self.type, self.id, loaded.case.id, loaded.file, self.path, dict(self.values),
                    frozenset(self.unknown), frozenset(self.unstated), dict(self.origins), tuple(sources))


def _copy(b: _Builder, obj: BaseModel, names: tuple[str, ...], path: Path_, rename: Mapping[str, str] | None = None) -> None:
    for name in names:
        b.put((rename or {}).get(name, name), getattr(obj, name), path + (name,))


def flatten(loaded: LoadedCase) -> list[Fact]:
    """All facts of one case, in document order."""
    case = loaded.case
    facts: list[Fact] = []
    b = _Builder("case", case.id, ())
    b.put("kinds", case.kind, ("kind",))
    b.put("as_of", case.as_of, ("as_of",))
    facts.append(b.done(loaded))
    for i, p in enumerate(case.parties):
        path = ("parties", i)
        b = _Builder("party", p.id, path)
        b.put("name", p.name, path + ("name",))
        b.put("roles", p.roles, path + ("roles",))
        b.put("leading_markets", p.leading_markets, path + ("leading_markets",))
        lm = p.leading_markets
        b.put("holds_leading_position", lm if lm in (None, c.UNKNOWN) else bool(lm), path + ("leading_markets",))
        facts.append(b.done(loaded, p.sources))
    for i, m in enumerate(case.models):
        path = ("models", i)
        b = _Builder("model", m.id, path)
        _copy(b, m, ("name", "developer", "release_date", "weights", "training_data", "training_code",
                     "parameters_billions", "size_class", "frontier"), path)
        facts.append(b.done(loaded, m.sources))
    for i, lic in enumerate(case.licences):
        for j, v in enumerate(lic.versions):
            facts.append(_licence_version(loaded, lic, v, i, j))
    for i, d in enumerate(case.deals):
        facts.append(_deal(loaded, d, ("deals", i)))
    for i, ch in enumerate(case.data_access_changes):
        facts.append(_data_change(loaded, ch, ("data_access_changes", i)))
    return facts


_TERMS_PLAIN = ("weights_access", "commercial_use", "research_only", "licensor_may_change_terms", "revocation",
                "remote_restriction", "must_use_latest_version", "hosted_service_restriction", "attribution_required",
                "naming_requirement", "restrictions_pass_to_derivatives", "distillation_counts_as_derivative",
                "osi_approved", "marketed_as_open", "terminates_on_ip_claim")


def _licence_version(loaded: LoadedCase, lic: c.Licence, v: c.LicenceVersion, i: int, j: int) -> Fact:
    path = ("licences", i, "versions", j)
    b = _Builder("licence_version", f"{lic.id}@{j + 1}", path)
    lpath = ("licences", i)
    b.put("licence", lic.id, lpath + ("id",))
    b.put("licence_name", lic.name, lpath + ("name",))
    b.put("licence_kind", lic.kind, lpath + ("kind",))
    b.put("licensor", lic.licensor, lpath + ("licensor",))
    b.put("models", lic.models, lpath + ("models",))
    b.put("version", v.version, path + ("version",))
    b.put("seq", j + 1, path)
    b.put("date", v.date, path + ("date",))
    if j > 0:
        b.put("previous", f"{lic.id}@{j}", ("licences", i, "versions", j - 1))
    b.put("spdx", v.spdx, path + ("spdx",))  # absent: unstated, like every other field
    t, tpath = v.terms, path + ("terms",)
    _copy(b, t, _TERMS_PLAIN, tpath)

    ut, utp = t.user_threshold, tpath + ("user_threshold",)
    names = ("has_user_threshold", "threshold_metric", "threshold_limit", "threshold_above")
    if isinstance(ut, c.UserThreshold):
        b.put("has_user_threshold", True, utp)
        _copy(b, ut, ("metric", "limit", "above"), utp,
              {"metric": "threshold_metric", "limit": "threshold_limit", "above": "threshold_above"})
    elif ut == "none":
        b.put("has_user_threshold", False, utp)
    else:
        b.put_all(names, ut, utp)

    ob, obp = t.output_training_ban, tpath + ("output_training_ban",)
    if isinstance(ob, c.OutputTrainingBan):
        b.put("output_training_ban", True, obp)
        _copy(b, ob, ("scope", "exempts_licensor_family"), obp,
              {"scope": "output_ban_scope", "exempts_licensor_family": "output_ban_exempts_licensor_family"})
    elif ob == "none":
        b.put("output_training_ban", False, obp)
    else:
        b.put_all(("output_training_ban", "output_ban_scope", "output_ban_exempts_licensor_family"), ob, obp)

    aup, ap = t.acceptable_use_policy, tpath + ("acceptable_use_policy",)
    if isinstance(aup, c.AcceptableUsePolicy):
        b.put("has_aup", True, ap)
        _copy(b, aup, ("incorporated_by_reference", "licensor_may_update"), ap,
              {"incorporated_by_reference": "aup_by_reference", "licensor_may_update": "aup_unilateral_update"})
    elif aup == "none":
        b.put("has_aup", False, ap)
    else:
        b.put_all(("has_aup", "aup_by_reference", "aup_unilateral_update"), aup, ap)

    for name in ("field_of_use_restrictions", "geographic_restrictions"):
        value, p = getattr(t, name), tpath + (name,)
        b.put(name, value, p)
        b.put("has_" + name, value if value in (None, c.UNKNOWN) else bool(value), p)
    return b.done(loaded, v.sources)


def _deal(loaded: LoadedCase, d: c.Deal, path: Path_) -> Fact:
    b = _Builder("deal", d.id, path)
    _copy(b, d, ("title", "date", "partner", "developer", "forms", "stake_pct", "compute", "distribution",
                 "api_exclusive_to_partner_cloud", "ip_rights", "integration_into_partner_products", "governance",
                 "priority_accelerator_access", "developer_multihoming"), path)
    amount = d.amount
    if isinstance(amount, c.Money):
        b.put("amount", amount.value, path + ("amount", "value"))
        b.put("currency", amount.currency, path + ("amount", "currency"))
    else:
        b.put_all(("amount", "currency"), amount, path + ("amount",))
    gov = d.governance
    b.put("has_governance_rights", gov if gov in (None, c.UNKNOWN) else bool(gov), path + ("governance",))
    b.put("has_board_seat", gov if gov in (None, c.UNKNOWN) else "board_seat" in gov, path + ("governance",))
    staff, sp = d.staff_hired, path + ("staff_hired",)
    if isinstance(staff, c.StaffHire):
        b.put("staff_hired", True, sp)
        _copy(b, staff, ("count", "key_staff", "with_licence"), sp,
              {"count": "staff_count", "key_staff": "key_staff_hired", "with_licence": "hire_with_licence"})
    elif staff == "none":
        b.put("staff_hired", False, sp)
    else:
        b.put_all(("staff_hired", "staff_count", "key_staff_hired", "hire_with_licence"), staff, sp)
    return b.done(loaded, d.sources)


def _data_change(loaded: LoadedCase, ch: c.DataAccessChange, path: Path_) -> Fact:
    b = _Builder("data_access_change", ch.id, path)
    _copy(b, ch, ("holder", "resource", "date", "announced"), path)
    for side in ("before", "after"):
        terms: c.AccessTerms = getattr(ch, side)
        p = path + (side, "price")
        price = terms.price
        if price == "free":
            b.put(f"free_{side}", True, p)
            b.put(f"price_{side}", 0, p)
        elif isinstance(price, c.Price):
            b.put(f"free_{side}", price.amount == 0, p)
            b.put(f"price_{side}", price.amount, p + ("amount",))
            if side == "after":
                b.put("price_unit", price.unit, p + ("unit",))
        else:  # unknown or absent: so is everything read from it, the unit included
            b.put_all((f"free_{side}", f"price_{side}") + (("price_unit",) if side == "after" else ()), price, p)
        b.put(f"ai_training_ban_{side}", terms.ai_training_ban, path + (side, "ai_training_ban"))
    lic, lp = ch.after.exclusive_licensee, path + ("after", "exclusive_licensee")
    if lic == "none":
        b.put("exclusive_after", False, lp)
    elif lic in (None, c.UNKNOWN):
        b.put_all(("exclusive_after", "exclusive_licensee_after"), lic, lp)
    else:
        b.put("exclusive_after", True, lp)
        b.put("exclusive_licensee_after", lic, lp)
    return b.done(loaded, ch.sources)
