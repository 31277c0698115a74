"""Flatten a case into typed facts (the vocabulary in ``vocabulary.py``) at one instant.

``flatten(loaded, at)`` gives the facts *present* on day ``at`` (default: the case's as_of):
what has started by then (``timeline``), each marked ``live`` while still in force. Values
that change with time (the governance rights a deal holds) are taken at ``at``.

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

from policycheck.facts import timeline as tl
from policycheck.facts.flow import TERMS, amount_flow
from policycheck.facts.timeline import Span
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
    span: Span = tl.ALWAYS
    live: bool = True                     # in force at the instant the facts were built for
    clauses: tuple[tuple[int, c.Clause], ...] = ()   # (index in the item's clauses, clause)
    clause_path: Path_ = ()               # where the item's clauses are (for their lines)

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

    def done(self, loaded: LoadedCase, sources: list[str] | tuple[str, ...] = (), span: Span = tl.ALWAYS,
             at: str = "", clauses: list[c.Clause] | None = None, clause_path: Path_ = ()) -> Fact:
        self.values["id"] = self.id
        self.origins.setdefault("id", self.path)
        return Fact(self.type, self.id, loaded.case.id, loaded.file, self.path, dict(self.values),
                    frozenset(self.unknown), frozenset(self.unstated), dict(self.origins), tuple(sources),
                    span, span.live(at) if at else True, tuple(enumerate(clauses or ())), clause_path)


def _copy(b: _Builder, obj: BaseModel, names: tuple[str, ...], path: Path_, rename: Mapping[str, str] | None = None) -> None:
    for name in names:
        b.put((rename or {}).get(name, name), getattr(obj, name), path + (name,))


def flatten(loaded: LoadedCase, at: str | None = None) -> list[Fact]:
    """The facts present on day ``at`` (default: the case's as_of), in document order."""
    case = loaded.case
    now = tl.day(at or case.as_of)
    facts: list[Fact] = []
    b = _Builder("case", case.id, ())
    b.put("kinds", case.kind, ("kind",))
    b.put("as_of", case.as_of, ("as_of",))
    facts.append(b.done(loaded, at=now))
    for i, p in enumerate(case.parties):
        path = ("parties", i)
        b = _Builder("party", p.id, path)
        b.put("name", p.name, path + ("name",))
        b.put("roles", p.roles, path + ("roles",))
        lm = p.markets()
        b.put("leading_markets", lm, path + ("leading_markets",))
        b.put("holds_leading_position", lm if lm in (None, c.UNKNOWN) else bool(lm), path + ("leading_markets",))
        b.put("supplies", p.supplies, path + ("supplies",))
        facts.append(b.done(loaded, p.sources, at=now))
    previous = _previous_models(case)
    versions = _version_ids(case)
    for i, m in enumerate(case.models):
        span = tl.model_span(m)
        if span.present(now):
            facts.append(_model(loaded, m, i, previous, span, now, versions))
    for i, lic in enumerate(case.licences):
        for j, (v, span) in enumerate(zip(lic.versions, tl.version_spans(lic))):
            if span.present(now):
                facts.append(_licence_version(loaded, lic, v, i, j, span, now))
    spans = tl.deal_spans(case)
    present = [d for d in case.deals if spans[d.id].present(now)]
    invested = _invested(present)
    later = tl.superseders(case)
    superseded_on: dict[str, list[str]] = {}   # deal id -> dates of the later deals that supersede it
    for o in case.deals:
        for sid in o.supersedes or ():
            superseded_on.setdefault(sid, []).append(o.date)
    for i, d in enumerate(case.deals):
        if spans[d.id].present(now):
            facts.append(_deal(loaded, d, ("deals", i), spans[d.id], now, invested, superseded_on, later))
    for i, ch in enumerate(case.data_access_changes):
        span = tl.change_span(ch)
        if span.present(now):
            facts.append(_data_change(loaded, ch, ("data_access_changes", i), span, now))
    return facts


def spans(loaded: LoadedCase) -> list[tuple[str, str, Path_, Span]]:
    """(fact type, id, case path, span) of every dated fact of the case, whatever the instant."""
    case = loaded.case
    out: list[tuple[str, str, Path_, Span]] = []
    for i, m in enumerate(case.models):
        out.append(("model", m.id, ("models", i), tl.model_span(m)))
    for i, lic in enumerate(case.licences):
        for j, span in enumerate(tl.version_spans(lic)):
            out.append(("licence_version", f"{lic.id}@{j + 1}", ("licences", i, "versions", j), span))
    dspans = tl.deal_spans(case)
    for i, d in enumerate(case.deals):
        out.append(("deal", d.id, ("deals", i), dspans[d.id]))
        for k, g in enumerate(d.governance if isinstance(d.governance, list) else ()):
            out.append(("governance", f"{d.id}#{k}", ("deals", i, "governance", k), tl.grant_span(d, g)))
    for i, ch in enumerate(case.data_access_changes):
        out.append(("data_access_change", ch.id, ("data_access_changes", i), tl.change_span(ch)))
    return out


def _previous_models(case: c.Case) -> dict[str, str | None]:
    """Each model's predecessor in its developer's family: the model released most recently
    before it (ties: the one listed later). None: a first model, or an unknown release date.
    ``unknown`` for every dated model of a developer that also has an undated one, which may
    stand between any two of them.
    Sorted per developer (n log n; every pair of models would be quadratic)."""
    out: dict[str, str | None] = {}
    family: dict[str, list[tuple[str, int, c.Model]]] = {}
    undated: set[str] = set()   # developers with a model whose place in the family is not known
    for n, m in enumerate(case.models):
        if isinstance(m.release_date, str) and m.release_date != c.UNKNOWN:
            family.setdefault(m.developer, []).append((tl.day(m.release_date), n, m))
        else:
            undated.add(m.developer)
    for developer, dated in family.items():
        if developer in undated:   # it may stand between any two of them: no predecessor is known
            for _, _, m in dated:
                out[m.id] = c.UNKNOWN
            continue
        dated.sort(key=lambda e: (e[0], e[1]))
        before: str | None = None        # the last model of the earlier release days
        k = 0
        while k < len(dated):
            end = k
            while end < len(dated) and dated[end][0] == dated[k][0]:
                end += 1
            for _, _, m in dated[k:end]:
                out[m.id] = before
            before = dated[end - 1][2].id
            k = end
    return out


def _version_ids(case: c.Case) -> dict[tuple[str, str], str]:
    """(licence id, version name) -> the licence version's fact id (the first version of that name)."""
    out: dict[tuple[str, str], str] = {}
    for lic in case.licences:
        for n, v in enumerate(lic.versions):
            out.setdefault((lic.id, v.version), f"{lic.id}@{n + 1}")
    return out


def _model(loaded: LoadedCase, m: c.Model, i: int, previous: dict[str, str | None], span: Span, now: str,
           versions: dict[tuple[str, str], str]) -> Fact:
    path = ("models", i)
    b = _Builder("model", m.id, path)
    _copy(b, m, ("name", "developer", "release_date", "weights", "training_data", "training_code",
                 "parameters_billions", "size_class", "frontier", "own_platform_data"), path)
    ru = m.released_under
    if ru is None:
        b.put("licence_version", None, path + ("released_under",))
    else:
        b.put("licence_version", versions[(ru.licence, ru.version)], path + ("released_under",))
    if m.id not in previous:   # release date unknown or left out: so is its place in the family
        b.put("previous_model", m.release_date, path + ("release_date",))
    elif previous[m.id] is not None:
        b.put("previous_model", previous[m.id], path + ("release_date",))
    return b.done(loaded, m.sources, span, now)


_TERMS_PLAIN = ("weights_access", "commercial_use", "research_only", "licensor_may_change_terms", "revocation",
                "remote_restriction", "must_use_latest_version", "hosted_service_restriction", "attribution_required",
                "naming_requirement", "restrictions_pass_to_derivatives", "distillation_counts_as_derivative",
                "osi_approved", "marketed_as_open", "terminates_on_ip_claim", "terms_depend_on_use", "exclusive")


def _licence_version(loaded: LoadedCase, lic: c.Licence, v: c.LicenceVersion, i: int, j: int, span: Span,
                     now: str) -> Fact:
    path = ("licences", i, "versions", j)
    b = _Builder("licence_version", f"{lic.id}@{j + 1}", path)
    lpath = ("licences", i)
    b.put("licence", lic.id, lpath + ("id",))
    b.put("licence_name", lic.name, lpath + ("name",))
    b.put("licence_kind", lic.kind, lpath + ("kind",))
    b.put("licensor", lic.licensor, lpath + ("licensor",))
    b.put("licensee", lic.licensee, lpath + ("licensee",))
    b.put("models", lic.models, lpath + ("models",))
    b.put("version", v.version, path + ("version",))
    b.put("seq", j + 1, path)
    b.put("date", v.date, path + ("date",))
    nxt = lic.versions[j + 1] if j + 1 < len(lic.versions) else None
    known_end = [d for d in (v.until, nxt.date if nxt is not None and tl.day(nxt.date) <= now else None) if d]
    if known_end:   # an end the case states, or a successor already in force by `now`
        end = min(known_end, key=tl.day)
        b.put("until", end, path + ("until",) if end == v.until else ("licences", i, "versions", j + 1, "date"))
    if j > 0:
        b.put("previous", f"{lic.id}@{j}", ("licences", i, "versions", j - 1))
    b.put("spdx", v.spdx, path + ("spdx",))  # absent: unstated, like every other field
    t, tpath = v.terms, path + ("terms",)
    _copy(b, t, _TERMS_PLAIN, tpath)

    ut, utp = t.user_threshold, tpath + ("user_threshold",)
    names = ("has_user_threshold", "threshold_metric", "threshold_limit", "threshold_above", "threshold_measured")
    if isinstance(ut, c.UserThreshold):
        b.put("has_user_threshold", True, utp)
        _copy(b, ut, ("metric", "limit", "above", "measured"), utp,
              {"metric": "threshold_metric", "limit": "threshold_limit", "above": "threshold_above",
               "measured": "threshold_measured"})
    elif ut == "none":
        b.put("has_user_threshold", False, utp)
    else:
        b.put_all(names, ut, utp)

    ry, ryp = t.royalty, tpath + ("royalty",)
    if isinstance(ry, c.Royalty):
        b.put("has_royalty", True, ryp)
        _copy(b, ry, ("rate_pct", "metric", "limit"), ryp,
              {"rate_pct": "royalty_rate_pct", "metric": "royalty_metric", "limit": "royalty_limit"})
    elif ry == "none":
        b.put("has_royalty", False, ryp)
    else:
        b.put_all(("has_royalty", "royalty_rate_pct", "royalty_metric", "royalty_limit"), ry, ryp)

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

    gp = tpath + ("geographic_restrictions",)
    if isinstance(t.geographic_restrictions, list) and t.geographic_restrictions:
        b.put("geographic_restrictions_by_law", _by_law(t.geographic_restrictions), gp)
    elif not isinstance(t.geographic_restrictions, list):
        b.put("geographic_restrictions_by_law", t.geographic_restrictions, gp)
    for name in ("field_of_use_restrictions", "geographic_restrictions"):
        value, p = _items(getattr(t, name)), tpath + (name,)
        b.put(name, value, p)
        b.put("has_" + name, value if value in (None, c.UNKNOWN) else bool(value), p)
        if j > 0:
            before = _items(getattr(lic.versions[j - 1].terms, name))
            if isinstance(value, list) and isinstance(before, list):
                earlier = set(before)   # a set: long lists must not cost their product
                added = [x for x in value if x not in earlier]
                b.put(name + "_added", added, p)
                b.put(name + "_grew", bool(added), p)
            else:  # unknown when either list is unknown, else unstated
                gap = c.UNKNOWN if c.UNKNOWN in (value, before) else None
                b.put_all((name + "_added", name + "_grew"), gap, p)
    return b.done(loaded, v.sources, span, now, v.clauses, path + ("clauses",))




def _items(value: Any) -> Any:
    """A restriction list as the texts it lists (a territory exclusion's ``territory``)."""
    if not isinstance(value, list):
        return value
    return [x.territory if isinstance(x, c.TerritoryExclusion) else x for x in value]


def _by_law(exclusions: list[str | c.TerritoryExclusion]) -> Any:
    """True when every exclusion restates a law binding the licensor; False when one is the
    licensor's choice; else unknown (a basis recorded unknown) or None (one left out)."""
    bases = [x.basis if isinstance(x, c.TerritoryExclusion) else None for x in exclusions]
    if "licensor_choice" in bases:
        return False
    if all(b == "legal_requirement" for b in bases):
        return True
    return c.UNKNOWN if c.UNKNOWN in bases else None


def _invested_to_date(d: c.Deal, present: list[c.Deal]) -> Any:
    """The sum of the relationship's investments in force, up to and including ``d``
    (the definition; ``_invested`` computes it for every deal at once)."""
    if not isinstance(d.amount, c.Money):
        return d.amount
    total = 0.0
    for o in present:
        if (o.partner, o.developer) != (d.partner, d.developer) or tl.day(o.date) > tl.day(d.date):
            continue
        if amount_flow(o) != "investment" and o is not d:
            continue
        if not isinstance(o.amount, c.Money):
            return c.UNKNOWN if o.amount == c.UNKNOWN else None
        if o.amount.currency == d.amount.currency:
            total += o.amount.value
    return total


def _invested(present: list[c.Deal]) -> dict[int, Any]:
    """``_invested_to_date`` of every investment deal in ``present`` (keyed by ``id()``), in
    n log n: per relationship, the deals sorted by day with running totals per currency and
    the first (in ``present`` order) investment whose amount is not stated as money."""
    out: dict[int, Any] = {}
    groups: dict[tuple[str, str], list[tuple[str, int, c.Deal]]] = {}
    for n, d in enumerate(present):
        groups.setdefault((d.partner, d.developer), []).append((tl.day(d.date), n, d))
    for deals in groups.values():
        deals.sort(key=lambda e: (e[0], e[1]))
        totals: dict[str, float] = {}
        poison: tuple[int, Any] | None = None     # (position in present, unknown-or-None)
        k = 0
        while k < len(deals):
            end = k
            while end < len(deals) and deals[end][0] == deals[k][0]:
                end += 1
            block = deals[k:end]
            for _, n, o in block:
                if amount_flow(o) != "investment":
                    continue
                if isinstance(o.amount, c.Money):
                    totals[o.amount.currency] = totals.get(o.amount.currency, 0.0) + o.amount.value
                elif poison is None or n < poison[0]:
                    poison = (n, c.UNKNOWN if o.amount == c.UNKNOWN else None)
            for _, n, d in block:
                if not isinstance(d.amount, c.Money):
                    out[id(d)] = d.amount
                else:
                    out[id(d)] = poison[1] if poison is not None else totals.get(d.amount.currency, 0.0)
            k = end
    return out


def _deal(loaded: LoadedCase, d: c.Deal, path: Path_, span: Span, now: str, invested: dict[int, Any],
          superseded_on: dict[str, list[str]], later: dict[str, list[tuple[str, int]]]) -> Fact:
    case = loaded.case
    b = _Builder("deal", d.id, path)
    _copy(b, d, ("title", "date", "partner", "developer", "forms", "stake_pct", "shares", "supersedes"), path)
    flow = amount_flow(d)
    n = tl.terms_source(case, int(path[1]), now, later) if flow == "investment" else int(path[1])
    _copy(b, case.deals[n], TERMS, ("deals", n))   # a superseded investment round: the superseding deal's terms
    b.put("amount_flow", flow, path + (("amount", "flow") if isinstance(d.amount, c.Money) and d.amount.flow
                                       else ("forms",)))
    if flow == "investment":
        b.put("invested_to_date", invested[id(d)], path + ("amount",))
    elif flow in (None, c.UNKNOWN):  # whether it is an investment is not known: nor is the total
        b.put("invested_to_date", flow, path + ("amount",))
    replaced = () if flow == "investment" else superseded_on.get(d.id, ())  # an investment stays made
    ends = [x for x in (d.until, *(o for o in replaced if tl.day(o) <= now)) if x is not None]
    if ends:        # an end the deal states, or a superseding round already made by `now`
        b.put("until", min(ends, key=tl.day), path + ("until",))
    amount = d.amount
    if isinstance(amount, c.Money):
        b.put("amount", amount.value, path + ("amount", "value"))
        b.put("currency", amount.currency, path + ("amount", "currency"))
        b.put("amount_basis", amount.basis, path + ("amount", "basis"))
        b.put("amount_up_to", amount.up_to, path + ("amount", "up_to"))
    else:
        b.put_all(("amount", "currency", "amount_basis", "amount_up_to"), amount, path + ("amount",))
    gov: Any = d.governance
    if isinstance(d.governance, list):   # the rights held at the instant
        held = [g if isinstance(g, str) else g.right for g in d.governance if tl.grant_span(d, g).live(now)]
        gov = list(dict.fromkeys(held))
    b.put("governance", gov, path + ("governance",))
    b.put("has_governance_rights", gov if gov in (None, c.UNKNOWN) else bool(gov), path + ("governance",))
    b.put("has_board_seat", gov if gov in (None, c.UNKNOWN) else "board_seat" in gov, path + ("governance",))
    staff, sp = d.staff_hired, path + ("staff_hired",)
    if isinstance(staff, c.StaffHire):
        b.put("staff_hired", True, sp)
        _copy(b, staff, ("count", "key_staff", "with_licence", "with_investment"), sp,
              {"count": "staff_count", "key_staff": "key_staff_hired", "with_licence": "hire_with_licence",
               "with_investment": "hire_with_investment"})
    elif staff == "none":
        b.put("staff_hired", False, sp)
    else:
        b.put_all(("staff_hired", "staff_count", "key_staff_hired", "hire_with_licence", "hire_with_investment"),
                  staff, sp)
    return b.done(loaded, d.sources, span, now, d.clauses, path + ("clauses",))


def _price_rose(before: Any, after: Any) -> Any:
    """True: free to paid, or a higher amount in the same unit and currency; unknown when the
    prices cannot be compared (different units or currencies) or one is unknown; None when
    one is unstated."""
    if before is None or after is None:
        return None
    if c.UNKNOWN in (before, after):
        return c.UNKNOWN
    paid_after = isinstance(after, c.Price) and after.amount > 0
    if before == "free" or (isinstance(before, c.Price) and before.amount == 0):
        return paid_after
    if after == "free":
        return False
    assert isinstance(before, c.Price) and isinstance(after, c.Price)
    if (before.unit.strip().lower(), before.currency) != (after.unit.strip().lower(), after.currency):
        return c.UNKNOWN
    return after.amount > before.amount


def _data_change(loaded: LoadedCase, ch: c.DataAccessChange, path: Path_, span: Span, now: str) -> Fact:
    b = _Builder("data_access_change", ch.id, path)
    _copy(b, ch, ("holder", "resource", "date", "announced", "stage"), path)
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
            b.put("price_unit" if side == "after" else "price_unit_before", price.unit, p + ("unit",))
        else:  # unknown or absent: so is everything read from it, the unit included
            b.put_all((f"free_{side}", f"price_{side}", "price_unit" if side == "after" else "price_unit_before"),
                      price, p)
        b.put(f"ai_training_ban_{side}", terms.ai_training_ban, path + (side, "ai_training_ban"))
        ft, fp = terms.free_tier, path + (side, "free_tier")
        if isinstance(ft, c.FreeTier):
            b.put(f"free_tier_{side}", True, fp)
            if side == "after":
                b.put("free_tier_limit_after", ft.limit, fp + ("limit",))
        elif ft == "none":
            b.put(f"free_tier_{side}", False, fp)
        else:
            b.put_all((f"free_tier_{side}",) + (("free_tier_limit_after",) if side == "after" else ()), ft, fp)
    b.put("price_rose", _price_rose(ch.before.price, ch.after.price), path + ("after", "price"))
    after = ch.after
    rows, rp = after.prices, path + ("after", "prices")
    ai_rows = None if rows is None else any(r.use == "ai" for r in rows)
    b.put("ai_use_priced_after", ai_rows, rp)
    dep, dp = after.terms_depend_on_use, path + ("after", "terms_depend_on_use")
    if ai_rows:
        b.put("use_dependent_after", True, rp)
    else:
        b.put("use_dependent_after", dep, dp)
    lic, lp = ch.after.exclusive_licensee, path + ("after", "exclusive_licensee")
    if lic == "none":
        b.put("exclusive_after", False, lp)
    elif lic in (None, c.UNKNOWN):
        b.put_all(("exclusive_after", "exclusive_licensee_after"), lic, lp)
    else:
        b.put("exclusive_after", True, lp)
        b.put("exclusive_licensee_after", lic, lp)
    return b.done(loaded, ch.sources, span, now, ch.clauses, path + ("clauses",))
