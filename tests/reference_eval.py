"""A reference evaluator of the rule language in plain Python (tests and benchmarks only).

It reads the case model (``policycheck.model.case.Case``: parties, models, licences and their
versions' terms, deals, data-access changes) directly, with its own table of which case-file
field gives each fact field and whether that field is known, ``unknown``, unstated or not
applicable (``case_facts`` below), and parsed rules (``policycheck.model.conditions.RuleSpec``,
what ``load.parse.parse_rule`` gives and every ``LoadedRule.spec`` holds), and computes by
brute-force search what the durable_rules path (flatten -> compiler -> engine -> assess)
should report on an as-of date: every current flag (rule, bound facts, severity, mitigations
applied and pending), every history flag with its window, the facts after the as-of date,
every rule status (with its missing fields) and every condition status. It imports neither
``policycheck.facts`` nor the compiler, the engine or ``evaluate``, so a silent failure in
any of them (a field flattened with the wrong status, a fact in force on the wrong dates, a
coerced comparison, order-dependent negation, a status miscounted) shows up as a difference.
From the model it reads the case model, the vocabulary's ``SCALES``, ``PREDECESSOR_LINKS`` and
field kinds (``FACT_TYPES``, to tell links from value comparisons)
and the typed rule language (``FieldTest`` / ``RefTest`` checks in ``Conjunction``s,
``PatternSpec``, ``RefinementSpec``, ``MitigationSpec``; the file's metadata from
``RuleSpec.rule``), never the raw ``where`` mappings, and it does not import ``load.rules``.

The semantics it encodes (the "precise evaluation semantics" of issue 9):

Time.
* For the as-of date D (the case's ``as_of`` unless given), a fact is *present* at an instant
  t when its start <= t: a licence version's ``date``, a deal's ``date``, a model's
  ``release_date`` (unknown or left out: always present), a data-access change's ``date``
  when effective or its ``announced`` date when only announced (unknown or left out: always
  present); parties and the case always. It is *live* (in force) at t when present and t is
  before its end: the earlier of a licence version's ``until`` and the next version's date;
  the earlier of a deal's ``until`` and the date of the first later deal listing it in
  ``supersedes`` (a version or round runs until its own end or its replacement, whichever
  comes first), except that an investment round (money flow ``investment``) ends only at its
  own ``until`` and carries, once superseded, the superseding deal's commercial terms;
  nothing else ends. Partial dates compare at the start of their period
  (2023 -> 2023-01-01).
* D gives the current flags and statuses; every start or end date (governance grants'
  included) before D gives a snapshot; a flag (rule and set of bound facts) found in some
  snapshot but not at D is a history flag, with the window of its last run of snapshots
  (``since``: that run's first instant; ``until``: the next instant, where it was gone).
* Each instant t sees the case as it stood then: facts not present at t are left out (at D
  they are listed as after the as-of date), and fact fields are derived from the facts
  present at t (so a version's ``until`` is the next version's date only once that version
  has started; a deal's, the first superseding round's that has). A deal's ``governance``
  (and ``has_governance_rights``, ``has_board_seat``) holds at t only the grants with
  ``since`` <= t < ``until``.

Matching, in each snapshot.
* A pattern matches facts of its type; a licence version only if its ``licence_kind`` is in
  the rule's ``applies_to``; and only facts live at the instant, unless the pattern is a
  predecessor (a positive pattern of the alternative has ``previous: {ref: P.id}`` or
  ``previous_model: {ref: P.id}``) or says ``past: true``. A mitigation's extra patterns and
  every ``none`` pattern need live facts.
* Tests are three-valued: on an unknown or unstated field a test is undecided; on a field
  that is not applicable (no value and no marker) every comparison is false; on known values
  it is true or false (typed: ``"10"`` never equals ``10``; strings and dates by code point).
  ``exists: true`` is true on a known field, ``exists: false`` on a not-applicable one; both
  are undecided on unknown / unstated. ``contains`` (``_any``, ``_all``) on a known list is
  true or false. A ``ref`` is false when either side is not applicable, else undecided when
  either side is unknown or unstated; ``stricter`` / ``looser`` compare ranks on the fields'
  ``SCALES``. ``where`` is an AND, ``any_of`` an OR (Kleene logic).
* The facts bound by one match are distinct; a ``none`` pattern only considers facts not
  bound by the match.
* A *present* combination: distinct facts in scope for each positive pattern whose links
  hold (true): the ``eq`` references of the pattern's ``where`` from an id field to another
  pattern's fact, such as ``previous: {ref: prev.id}`` or ``id: {ref: d.partner}``; they say
  which facts belong together. Every other reference to another fact (an ordering, ``ne``,
  ``stricter`` / ``looser``, ``eq`` between values) is a test like any other. A present
  combination fires when every positive test is true and no ``none`` pattern has a fact whose
  tests are true or undecided. It is *settled* when it fires, or a positive test is false, or
  a ``none`` fact definitely matches; else its unknown / unstated fields read by the rule
  (and those of undecided ``none`` facts) are missing.
* A *gap*: distinct facts in scope for each positive pattern whose links hold or are
  undecided (a side unknown or unstated, such as a model whose ``released_under`` is left
  out), at least one undecided. The rule would look at it but cannot say which fact is on the
  other side of the link, so a gap counts as present and is never settled; its missing fields
  are the unknown / unstated sides of its undecided links (nothing else).
* Each ``any`` alternative is a rule of its own; a set of facts flagged by several
  alternatives (or in several orders) is one flag: the first alternative, then the bindings
  that come first in input order, decide its aliases and mitigations.
* A mitigation applies when its refinements and extra patterns also match (definitely, and
  no fact matches its ``none`` patterns, true or undecided); it is *pending* when it does not
  apply but would if its undecided tests came out its way (those of its positive patterns
  true, those of its ``none`` patterns false): it cannot be decided because a fact is unknown.
  An escalation (``escalated_by``) applies the same way. The flag's severity is the highest of
  the rule's and the applied escalations', lowered to the lowest applied mitigation's.
* A rule with ``relationship: <deal alias>`` gives one flag per partner and developer of that
  deal: the most severe of its matches (ties: the latest deal, then the larger deal id).

Statuses (at D).
* Rule: ``fired`` (a current flag); ``not applicable`` (no present combination); ``clear``
  (every present combination settled); else ``not assessed``, with its missing fields (each
  in force or not: a field of a fact no longer live, reached as a predecessor).
* Condition: ``concern`` when one of its current flags is medium or high, ``watch`` when it
  has only low or info flags; ``not applicable`` when no rule of the condition has a present
  combination; ``not assessed`` when a rule of it is not assessed for a missing field of a
  live fact; else ``no concern found``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from policycheck.model import case as c
from policycheck.model.conditions import Check, Conjunction, PatternSpec, RefinementSpec, RefTest, RuleSpec
from policycheck.model.rule import CONDITIONS, SEVERITY_ORDER
from policycheck.model.vocabulary import FACT_TYPES, PREDECESSOR_LINKS, SCALES

Tri = bool | None          # three-valued: True, False, None (undecided)
_NOT_THERE = ("unknown", "unstated")


def day(date: str) -> str:
    """A partial date at the start of its period: 2023 -> 2023-01-01, 2023-07 -> 2023-07-01."""
    return date + "-01-01" if len(date) == 4 else date + "-01" if len(date) == 7 else date


def _known_date(raw: Any) -> str | None:
    return day(raw) if isinstance(raw, str) and raw != c.UNKNOWN else None


# --------------------------------------------------------------------------- facts, from the case model


@dataclass(frozen=True)
class Fact:
    """One entity of a case as the rules see it. A field is in exactly one of ``values``
    (known), ``unknown`` or ``unstated``, or in none of them (not applicable). ``start`` and
    ``end`` are days (None: always there / never ends); ``grants`` are a deal's governance
    rights with their own days (right, since, until)."""

    type: str
    id: str
    values: Mapping[str, Any]
    unknown: frozenset[str]
    unstated: frozenset[str]
    start: str | None = None
    end: str | None = None
    grants: tuple[tuple[str, str | None, str | None], ...] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.type, self.id

    def status(self, name: str) -> str:
        if name in self.values:
            return "known"
        if name in self.unknown:
            return "unknown"
        return "unstated" if name in self.unstated else "not applicable"

    def present(self, t: str) -> bool:
        return self.start is None or self.start <= t

    def live(self, t: str) -> bool:
        return self.present(t) and (self.end is None or t < self.end)

    def at(self, t: str) -> Fact:
        """The fact as it stands at ``t``: a deal's governance rights held then."""
        if self.grants is None:
            return self
        held = [r for r, since, until in self.grants if (since is None or since <= t) and (until is None or t < until)]
        rights = list(dict.fromkeys(held))                      # a right held twice is held
        return replace(self, values={**self.values, "governance": rights, "has_governance_rights": bool(rights),
                                     "has_board_seat": "board_seat" in rights})


@dataclass
class _Fields:
    type: str
    id: str
    values: dict[str, Any] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    unstated: set[str] = field(default_factory=set)

    def put(self, name: str, raw: Any) -> None:
        """A case-file value: None is unstated, "unknown" is unknown, anything else is known."""
        if raw is None:
            self.unstated.add(name)
        elif raw == c.UNKNOWN:
            self.unknown.add(name)
        else:
            self.values[name] = list(raw) if isinstance(raw, (list, tuple)) else raw

    def derived(self, name: str, raw: Any, value: Any) -> None:
        """A field computed from ``raw``: as unknown / unstated as ``raw`` is, else ``value``."""
        self.put(name, raw if raw is None or raw == c.UNKNOWN else value)

    def group(self, flag: str | None, raw: Any, model: builtins.type, parts: Mapping[str, str], none: str = "none") -> None:
        """A structured term (an object, ``none``, ``unknown`` or left out): ``flag`` says whether
        it is there; ``parts`` maps fact fields to the object's attributes, which are not
        applicable when the term is ``none``."""
        if isinstance(raw, model):
            if flag:
                self.values[flag] = True
            for name, attr in parts.items():
                self.put(name, getattr(raw, attr))
        elif raw == none:
            if flag:
                self.values[flag] = False
        else:
            for name in ([flag] if flag else []) + list(parts):
                self.put(name, raw)

    def done(self, start: str | None = None, end: str | None = None,
             grants: tuple[tuple[str, str | None, str | None], ...] | None = None) -> Fact:
        return Fact(self.type, self.id, {**self.values, "id": self.id}, frozenset(self.unknown),
                    frozenset(self.unstated), start, end, grants)


_PARTY = ("name", "roles", "supplies")
_MODEL = ("name", "developer", "release_date", "weights", "training_data", "training_code", "parameters_billions",
          "size_class", "frontier", "own_platform_data")
_TERMS = ("weights_access", "commercial_use", "research_only", "licensor_may_change_terms", "revocation",
          "remote_restriction", "must_use_latest_version", "hosted_service_restriction", "attribution_required",
          "naming_requirement", "restrictions_pass_to_derivatives", "distillation_counts_as_derivative",
          "osi_approved", "marketed_as_open", "terminates_on_ip_claim", "field_of_use_restrictions",
          "terms_depend_on_use", "exclusive")
_LISTS = ("field_of_use_restrictions", "geographic_restrictions")
_DEAL = ("title", "date", "partner", "developer", "supersedes", "forms", "stake_pct", "compute", "distribution",
         "api_exclusive_to_partner_cloud", "ip_rights", "integration_into_partner_products",
         "priority_accelerator_access", "developer_multihoming", "shares", "partner_accelerators",
         "compute_available_in_uk")
_DEAL_TERMS = ("compute", "distribution", "api_exclusive_to_partner_cloud", "ip_rights",
               "integration_into_partner_products", "priority_accelerator_access", "developer_multihoming",
               "partner_accelerators", "compute_available_in_uk")
_CHANGE = ("holder", "resource", "date", "stage", "announced")


def as_of_day(case: c.Case, as_of: str | None = None) -> str:
    return day(as_of or case.as_of)


def case_facts(case: c.Case, as_of: str | None = None) -> list[Fact]:
    """Every fact of a case present on the as-of date (the case's own by default), in document
    order: the case, parties, models, licence versions (oldest first within a licence), deals,
    data-access changes, as the case stood on that date."""
    return facts_at(case, as_of_day(case, as_of))


def facts_at(case: c.Case, t: str) -> list[Fact]:
    """The facts present on day ``t``, derived from what the case records up to ``t``."""
    return [f.at(t) for f in _all_facts(case, t) if f.present(t)]


def later_events(case: c.Case, as_of: str | None = None) -> list[tuple[str, str]]:
    """(item, id) of every fact starting after the as-of date, in document order."""
    d = as_of_day(case, as_of)
    return [(f.type, f.id) for f in _all_facts(case, d) if not f.present(d)]


def _all_facts(case: c.Case, d: str) -> list[Fact]:
    out: list[Fact] = []
    f = _Fields("case", case.id)
    f.put("kinds", case.kind)
    f.put("as_of", case.as_of)
    out.append(f.done())
    for p in case.parties:
        f = _Fields("party", p.id)
        for name in _PARTY:
            f.put(name, getattr(p, name))
        lm = p.leading_markets
        f.put("leading_markets", lm if not isinstance(lm, list) else
              [x if isinstance(x, str) else x.market for x in lm])
        f.derived("holds_leading_position", lm, bool(lm))
        out.append(f.done())
    models = [m for m in case.models if (_known_date(m.release_date) or d) <= d]
    for m in case.models:
        out.append(_model(case, m, models))
    for lic in case.licences:
        present = [v for v in lic.versions if day(v.date) <= d]
        for n, v in enumerate(lic.versions, start=1):
            out.append(_version(lic, v, n, present))
    present_deals = [x for x in case.deals if day(x.date) <= d]
    for deal in case.deals:
        out.append(_deal(deal, present_deals))
    for ch in case.data_access_changes:
        out.append(_change(ch))
    return out


def _model(case: c.Case, m: c.Model, present: list[c.Model]) -> Fact:
    f = _Fields("model", m.id)
    for name in _MODEL:
        f.put(name, getattr(m, name))
    ru = m.released_under
    if ru is None:
        f.unstated.add("licence_version")
    else:
        lic = next(x for x in case.licences if x.id == ru.licence)
        n = next(i for i, v in enumerate(lic.versions, start=1) if v.version == ru.version)
        f.values["licence_version"] = f"{lic.id}@{n}"
    mine = _known_date(m.release_date)
    if mine is None:
        f.put("previous_model", m.release_date)            # unknown or unstated, as the release date is
    elif any(o.developer == m.developer and _known_date(o.release_date) is None for o in present):
        f.put("previous_model", c.UNKNOWN)                 # an undated model may stand between any two
    else:
        earlier = [(_known_date(o.release_date), i, o.id) for i, o in enumerate(present)
                   if o.id != m.id and o.developer == m.developer
                   and (_known_date(o.release_date) or mine) < mine]
        if earlier:                                         # the latest; on a tie the later-listed model
            f.values["previous_model"] = max(earlier)[2]
    return f.done(start=mine)


def _version(lic: c.Licence, v: c.LicenceVersion, n: int, present: list[c.LicenceVersion]) -> Fact:
    f = _Fields("licence_version", f"{lic.id}@{n}")
    f.values.update(licence=lic.id, licence_name=lic.name, licence_kind=lic.kind, licensor=lic.licensor,
                    version=v.version, seq=n, date=v.date)
    f.put("licensee", lic.licensee)
    f.put("models", lic.models)
    nxt = present[n] if n < len(present) else None
    ends = [x for x in (v.until, None if nxt is None else nxt.date) if x is not None]
    until = min(ends, key=day) if ends else None
    if until is not None:
        f.values["until"] = until                           # in force to the end: not applicable
    prev = lic.versions[n - 2] if n > 1 else None
    if prev is not None:
        f.values["previous"] = f"{lic.id}@{n - 1}"           # the first version has none: not applicable
    f.put("spdx", v.spdx)
    t = v.terms
    for name in _TERMS:
        f.put(name, getattr(t, name))
    territories = _territories(t.geographic_restrictions)
    f.put("geographic_restrictions", territories)
    if isinstance(t.geographic_restrictions, list):
        if t.geographic_restrictions:
            bases = [getattr(x, "basis", None) for x in t.geographic_restrictions]
            f.put("geographic_restrictions_by_law",
                  False if "licensor_choice" in bases else True if set(bases) == {"legal_requirement"}
                  else c.UNKNOWN if c.UNKNOWN in bases else None)
    else:
        f.put("geographic_restrictions_by_law", t.geographic_restrictions)
    for name in _LISTS:
        raw = getattr(t, name)
        raw = _territories(raw) if name == "geographic_restrictions" else raw
        f.derived(f"has_{name}", raw, bool(raw))
        if prev is not None:
            before = getattr(prev.terms, name)
            before = _territories(before) if name == "geographic_restrictions" else before
            raws = (raw, before)
            if c.UNKNOWN in raws:
                f.unknown |= {f"{name}_added", f"{name}_grew"}
            elif None in raws:
                f.unstated |= {f"{name}_added", f"{name}_grew"}
            else:
                added = [x for x in raw if x not in before]
                f.values[f"{name}_added"] = added
                f.values[f"{name}_grew"] = bool(added)
    f.group("has_user_threshold", t.user_threshold, c.UserThreshold,
            {"threshold_metric": "metric", "threshold_limit": "limit", "threshold_above": "above",
             "threshold_measured": "measured"})
    f.group("has_royalty", t.royalty, c.Royalty,
            {"royalty_rate_pct": "rate_pct", "royalty_metric": "metric", "royalty_limit": "limit"})
    f.group("output_training_ban", t.output_training_ban, c.OutputTrainingBan,
            {"output_ban_scope": "scope", "output_ban_exempts_licensor_family": "exempts_licensor_family"})
    f.group("has_aup", t.acceptable_use_policy, c.AcceptableUsePolicy,
            {"aup_by_reference": "incorporated_by_reference", "aup_unilateral_update": "licensor_may_update"})
    return f.done(start=day(v.date), end=None if until is None else day(until))


def _territories(raw: Any) -> Any:
    """The territories a ``geographic_restrictions`` list names (a string, or a mapping's territory)."""
    return [getattr(x, "territory", x) for x in raw] if isinstance(raw, list) else raw


def _deal(d: c.Deal, present: list[c.Deal]) -> Fact:
    f = _Fields("deal", d.id)
    investment = _flow(d) == "investment"
    source = _terms_source(d, present) if investment else d
    for name in _DEAL:
        f.put(name, getattr(source if name in _DEAL_TERMS else d, name))
    superseders = [] if investment else [e.date for e in present if d.id in (e.supersedes or ())]
    ends = [x for x in (d.until, *superseders) if x is not None]
    until = min(ends, key=day) if ends else None
    if until is not None:
        f.values["until"] = until
    f.group(None, d.amount, c.Money, {"amount": "value", "currency": "currency", "amount_basis": "basis",
                                      "amount_up_to": "up_to"})
    flow = _flow(d)
    f.put("amount_flow", flow)
    if flow == "investment":
        f.put("invested_to_date", _invested(d, present))
    elif flow is None or flow == c.UNKNOWN:
        f.put("invested_to_date", flow)
    grants = None
    if isinstance(d.governance, list):
        grants = tuple((g, None, None) if isinstance(g, str) else
                       (g.right, None if g.since is None else day(g.since), None if g.until is None else day(g.until))
                       for g in d.governance)
    else:
        for name in ("governance", "has_governance_rights", "has_board_seat"):
            f.put(name, d.governance)
    f.group("staff_hired", d.staff_hired, c.StaffHire,
            {"staff_count": "count", "key_staff_hired": "key_staff", "hire_with_licence": "with_licence",
             "hire_with_investment": "with_investment"})
    return f.done(start=day(d.date), end=None if until is None else day(until), grants=grants)


def _terms_source(d: c.Deal, present: list[c.Deal]) -> c.Deal:
    """An investment round's terms: its own until a present deal supersedes it, then the
    latest such deal's (followed on through that deal's own superseders)."""
    seen = {d.id}
    while True:
        later = [e for e in present if d.id in (e.supersedes or ()) and e.id not in seen]
        if not later:
            return d
        d = max(later, key=lambda e: (day(e.date), present.index(e)))
        seen.add(d.id)


def _flow(d: c.Deal) -> Any:
    """Money flow: stated, else from the forms (equity/convertible/credits: investment)."""
    if isinstance(d.amount, c.Money) and d.amount.flow is not None:
        return d.amount.flow
    if d.forms is None or d.forms == c.UNKNOWN or not d.forms:
        return d.forms if d.forms == c.UNKNOWN else None
    forms = set(d.forms)
    if forms & {"equity", "convertible", "cloud_credits"}:
        return "investment"
    return {frozenset({"committed_cloud_spend"}): "developer_spend",
            frozenset({"licence_fee"}): "licence_fee"}.get(frozenset(forms))


def _invested(d: c.Deal, present: list[c.Deal]) -> Any:
    if not isinstance(d.amount, c.Money):
        return d.amount
    mine = [o for o in present if o.partner == d.partner and o.developer == d.developer
            and day(o.date) <= day(d.date) and (o is d or _flow(o) == "investment")]
    if any(not isinstance(o.amount, c.Money) for o in mine):
        return c.UNKNOWN if any(o.amount == c.UNKNOWN for o in mine) else None
    return sum(o.amount.value for o in mine if isinstance(o.amount, c.Money) and o.amount.currency == d.amount.currency)


def _rose(before: Any, after: Any) -> Any:
    if before is None or after is None:
        return None
    if before == c.UNKNOWN or after == c.UNKNOWN:
        return c.UNKNOWN
    after_amount = 0 if after == "free" else after.amount
    if before == "free" or before.amount == 0:
        return after_amount > 0
    if after == "free":
        return False
    if before.unit.strip().lower() != after.unit.strip().lower() or before.currency != after.currency:
        return c.UNKNOWN
    return after.amount > before.amount


def _change(ch: c.DataAccessChange) -> Fact:
    f = _Fields("data_access_change", ch.id)
    for name in _CHANGE:
        f.put(name, getattr(ch, name))
    for side in ("before", "after"):
        terms: c.AccessTerms = getattr(ch, side)
        price = terms.price
        if price == "free":
            f.values.update({f"free_{side}": True, f"price_{side}": 0})
        elif isinstance(price, c.Price):
            f.values.update({f"free_{side}": price.amount == 0, f"price_{side}": price.amount})
            f.values["price_unit" if side == "after" else "price_unit_before"] = price.unit
        else:  # unknown or left out: so is everything read from the price, the unit included
            f.put(f"free_{side}", price)
            f.put(f"price_{side}", price)
            f.put("price_unit" if side == "after" else "price_unit_before", price)
        f.put(f"ai_training_ban_{side}", terms.ai_training_ban)
        f.group(f"free_tier_{side}", terms.free_tier, c.FreeTier,
                {"free_tier_limit_after": "limit"} if side == "after" else {})
    f.put("price_rose", _rose(ch.before.price, ch.after.price))
    rows = ch.after.prices
    ai = None if rows is None else any(r.use == "ai" for r in rows)
    f.put("ai_use_priced_after", ai)
    f.put("use_dependent_after", True if ai else ch.after.terms_depend_on_use)
    lic = ch.after.exclusive_licensee
    if lic == "none":
        f.values["exclusive_after"] = False
    elif lic is None or lic == c.UNKNOWN:
        f.put("exclusive_after", lic)
        f.put("exclusive_licensee_after", lic)
    else:
        f.values.update(exclusive_after=True, exclusive_licensee_after=lic)
    start = day(ch.date) if ch.stage == "effective" else _known_date(ch.announced)
    return f.done(start=start)


def instants(facts: Sequence[Fact], d: str) -> list[str]:
    """Every start or end day before ``d`` (governance grants' included), in order."""
    days: set[str] = set()
    for f in facts:
        days |= {x for x in (f.start, f.end) if x is not None}
        for _, since, until in f.grants or ():
            days |= {x for x in (since, until) if x is not None}
    return sorted(x for x in days if x < d)


# --------------------------------------------------------------------------- three-valued tests


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    return type(v).__name__


def _eq(a: Any, b: Any) -> bool:
    if _kind(a) != _kind(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return _eq(left, right)
    if op == "ne":
        return _kind(left) == _kind(right) and not _eq(left, right)
    if _kind(left) != _kind(right) or _kind(left) not in ("number", "str"):
        return False
    return bool({"lt": left < right, "lte": left <= right, "gt": left > right, "gte": left >= right}[op])


def _on_scale(op: str, name: str, left: Any, other: str, right: Any) -> bool:
    mine, theirs = SCALES.get(name, ()), SCALES.get(other, ())
    if left not in mine or right not in theirs:
        return False
    return mine.index(left) > theirs.index(right) if op == "stricter" else mine.index(left) < theirs.index(right)


def _test(fact: Fact, check: Check, alias: str, bound: Mapping[str, Fact]) -> Tri:
    if isinstance(check, RefTest):
        target = fact if check.alias == alias else bound[check.alias]
        sides = (fact.status(check.field), target.status(check.other))
        if "not applicable" in sides:
            return False
        if sides != ("known", "known"):
            return None
        left, right = fact.values[check.field], target.values[check.other]
        if check.op in ("stricter", "looser"):
            return _on_scale(check.op, check.field, left, check.other, right)
        return _compare(check.op, left, right)
    status = fact.status(check.field)
    op, operand = check.op, check.value
    if status in _NOT_THERE:
        return None
    if op == "exists":
        return (status == "known") is bool(operand)
    if status == "not applicable":
        return False
    left = fact.values[check.field]
    if op in ("eq", "ne", "lt", "lte", "gt", "gte"):
        return _compare(op, left, operand)
    if op == "in":
        return any(_eq(left, v) for v in operand)
    if op == "not_in":
        return all(_kind(left) == _kind(v) and not _eq(left, v) for v in operand)
    if not isinstance(left, list):
        return False
    if op == "contains":
        return any(_eq(item, operand) for item in left)
    if op == "contains_any":
        return any(_eq(item, v) for item in left for v in operand)
    if op == "contains_all":
        return all(any(_eq(item, v) for item in left) for v in operand)
    raise AssertionError(f"unknown operator {op}")


def _and(values: Iterator[Tri] | Sequence[Tri]) -> Tri:
    out: Tri = True
    for v in values:
        if v is False:
            return False
        if v is None:
            out = None
    return out


def _or(values: Iterator[Tri] | Sequence[Tri]) -> Tri:
    out: Tri = False
    for v in values:
        if v is True:
            return True
        if v is None:
            out = None
    return out


def _conj(fact: Fact, conj: Conjunction, alias: str, bound: Mapping[str, Fact]) -> Tri:
    return _and(_test(fact, check, alias, bound) for check in conj.checks)


@dataclass(frozen=True)
class _Slot:
    """One pattern of an evaluated rule: its alias, fact type, tests and scope."""

    alias: str
    fact: str
    conjunctions: tuple[Conjunction, ...]              # ANDed: the pattern's where, then refinements'
    disjunctions: tuple[tuple[Conjunction, ...], ...]  # each an OR of branches: pattern's any_of, refinements'
    kinds: frozenset[str]                              # the rule's applies_to (licence versions only)
    past: bool = False                                 # may match a fact no longer in force

    def in_scope(self, fact: Fact, t: str) -> bool:
        if fact.type != self.fact:
            return False
        if fact.type == "licence_version" and fact.values["licence_kind"] not in self.kinds:
            return False
        return self.past or fact.live(t)

    def value(self, fact: Fact, bound: Mapping[str, Fact]) -> Tri:
        return _and([*(_conj(fact, w, self.alias, bound) for w in self.conjunctions),
                     *(_or([_conj(fact, b, self.alias, bound) for b in group]) for group in self.disjunctions if group)])

    def link_checks(self) -> list[RefTest]:
        """The links of the pattern's own ``where``: ``eq`` references from an id field to
        another pattern's fact."""
        return [check for check in self.conjunctions[0].checks
                if isinstance(check, RefTest) and check.alias != self.alias and check.op == "eq"
                and FACT_TYPES[self.fact][check.field].kind == "id"]

    def links(self, fact: Fact, bound: Mapping[str, Fact]) -> bool:
        """The links hold (the "present" probe)."""
        return all(_test(fact, check, self.alias, bound) is True for check in self.link_checks())

    def undecided_links(self, fact: Fact, bound: Mapping[str, Fact]) -> list[tuple[str, str]] | None:
        """None when a link fails; else the (alias, field) sides, unknown or unstated, of the
        links that are undecided (empty: every link holds)."""
        out: list[tuple[str, str]] = []
        for check in self.link_checks():
            value = _test(fact, check, self.alias, bound)
            if value is False:
                return None
            if value is None:
                target = bound[check.alias]
                out += [(self.alias, check.field)] if fact.status(check.field) in _NOT_THERE else []
                out += [(check.alias, check.other)] if target.status(check.other) in _NOT_THERE else []
        return out

    def reads(self) -> dict[str, set[str]]:
        """Fields the pattern's tests read, by alias (a reference reads both sides)."""
        out: dict[str, set[str]] = {self.alias: set()}
        for conj in [*self.conjunctions, *(b for group in self.disjunctions for b in group)]:
            for check in conj.checks:
                out[self.alias].add(check.field)
                if isinstance(check, RefTest):
                    out.setdefault(check.alias, set()).add(check.other)
        return out


def _predecessors(patterns: Sequence[PatternSpec]) -> set[str]:
    """Aliases reached through ``previous`` / ``previous_model`` from a positive pattern."""
    return {check.alias for p in patterns for check in p.where.checks
            if isinstance(check, RefTest) and check.op == "eq" and check.other == "id"
            and (p.fact, check.field) in PREDECESSOR_LINKS and check.alias != p.alias}


def _slot(p: PatternSpec, kinds: frozenset[str], past: bool = False) -> _Slot:
    return _Slot(p.alias, p.fact, (p.where,), (p.any_of,), kinds, past or bool(getattr(p, "past", False)))


def _refined(slots: Sequence[_Slot], ref: RefinementSpec) -> list[_Slot]:
    return [replace(s, conjunctions=s.conjunctions + (ref.where,), disjunctions=s.disjunctions + (ref.any_of,))
            if s.alias == ref.on else s for s in slots]


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class RefWindow:
    since: str
    until: str


@dataclass(frozen=True)
class RefFlag:
    rule: str
    facts: tuple[tuple[str, str], ...]   # (alias, fact id) in pattern order
    severity: str
    mitigations: tuple[str, ...]
    pending: tuple[str, ...] = ()
    window: RefWindow | None = None      # history flags only


@dataclass(frozen=True)
class RefMissing:
    fact: str
    id: str
    field: str
    status: str                          # unknown | unstated
    in_force: bool


@dataclass(frozen=True)
class RefOutcome:
    rule: str
    status: str
    flags: tuple[RefFlag, ...]
    history: tuple[RefFlag, ...] = ()
    missing: tuple[RefMissing, ...] = ()
    present: int = 0                     # present combinations and gaps at D
    blocking: bool = False               # a missing field of a fact in force leaves the rule not assessed


@dataclass(frozen=True)
class RefAssessment:
    as_of: str
    rules: dict[str, RefOutcome]
    conditions: dict[str, str]
    after_as_of: tuple[tuple[str, str], ...]

    def flags(self) -> list[RefFlag]:
        return [f for o in self.rules.values() for f in o.flags]

    def history(self) -> list[RefFlag]:
        return [f for o in self.rules.values() for f in o.history]


@dataclass
class _Snapshot:
    """One rule at one instant."""

    flags: dict[frozenset[tuple[str, str]], RefFlag]
    present: int
    unsettled: int
    missing: dict[tuple[int, str], str]      # (fact index, field) -> status, of unsettled combinations
    blocking: bool


def _candidates(slot: _Slot, facts: Sequence[Fact], t: str) -> list[int]:
    return [j for j, f in enumerate(facts) if slot.in_scope(f, t)]


def _present(slots: Sequence[_Slot], cands: Sequence[Sequence[int]], facts: Sequence[Fact]
             ) -> Iterator[tuple[int, ...]]:
    """Every tuple of distinct facts in scope whose links hold, in input order."""
    def extend(prefix: tuple[int, ...], bound: dict[str, Fact]) -> Iterator[tuple[int, ...]]:
        if len(prefix) == len(slots):
            yield prefix
            return
        slot = slots[len(prefix)]
        for j in cands[len(prefix)]:
            if j not in prefix and slot.links(facts[j], bound):
                yield from extend(prefix + (j,), {**bound, slot.alias: facts[j]})
    yield from extend((), {})


def _gaps(slots: Sequence[_Slot], cands: Sequence[Sequence[int]], facts: Sequence[Fact]
          ) -> Iterator[tuple[tuple[int, ...], list[tuple[str, str]]]]:
    """Tuples of distinct facts in scope whose links hold or are undecided, at least one
    undecided (a *gap*), with the unknown or unstated sides of the undecided links."""
    def extend(prefix: tuple[int, ...], bound: dict[str, Fact], lacking: list[tuple[str, str]]
               ) -> Iterator[tuple[tuple[int, ...], list[tuple[str, str]]]]:
        if len(prefix) == len(slots):
            if lacking:
                yield prefix, lacking
            return
        slot = slots[len(prefix)]
        for j in cands[len(prefix)]:
            if j in prefix:
                continue
            here = slot.undecided_links(facts[j], bound)
            if here is not None:
                yield from extend(prefix + (j,), {**bound, slot.alias: facts[j]}, lacking + here)
    yield from extend((), {}, [])


def _extensions(slots: Sequence[_Slot], cands: Sequence[Sequence[int]], facts: Sequence[Fact], taken: tuple[int, ...],
                bound: dict[str, Fact]) -> Iterator[tuple[tuple[int, ...], Tri, dict[str, Fact]]]:
    """Distinct facts (not in ``taken``) for ``slots`` that do not fail them: (facts, value, bound)."""
    def extend(prefix: tuple[int, ...], value: Tri, bound: dict[str, Fact]
               ) -> Iterator[tuple[tuple[int, ...], Tri, dict[str, Fact]]]:
        if len(prefix) == len(slots):
            yield prefix, value, bound
            return
        slot = slots[len(prefix)]
        for j in cands[len(prefix)]:
            if j in prefix or j in taken:
                continue
            here = {**bound, slot.alias: facts[j]}
            v = _and([value, slot.value(facts[j], here)])
            if v is not False:
                yield from extend(prefix + (j,), v, here)
    yield from extend((), True, bound)


def _none_values(negatives: Sequence[_Slot], cands: Sequence[Sequence[int]], facts: Sequence[Fact],
                 taken: Sequence[int], bound: Mapping[str, Fact]) -> list[tuple[_Slot, int, Tri]]:
    return [(neg, j, neg.value(facts[j], bound)) for neg, js in zip(negatives, cands) for j in js if j not in taken]


def _mitigation(mit: Any, slots: Sequence[_Slot], combo: tuple[int, ...], facts: Sequence[Fact], t: str,
                kinds: frozenset[str]) -> str | None:
    """``applied``, ``pending`` or None for one mitigation on one flagged combination."""
    refined = list(slots)
    for ref in mit.on:
        refined = _refined(refined, ref)
    bound = {s.alias: facts[j] for s, j in zip(refined, combo)}
    value = _and([s.value(facts[j], bound) for s, j in zip(refined, combo)])
    if value is False:
        return None
    extras = [_slot(p, kinds) for p in mit.all]
    negs = [_slot(p, kinds) for p in mit.none]
    extra_cands = [_candidates(s, facts, t) for s in extras]
    neg_cands = [_candidates(s, facts, t) for s in negs]
    best: str | None = None
    for ext, v, here in _extensions(extras, extra_cands, facts, combo, dict(bound)):
        v = _and([value, v])
        nones = [nv for _, _, nv in _none_values(negs, neg_cands, facts, combo + ext, here)]
        if v is False or True in nones:
            continue  # fails, or a fact its none pattern forbids is there
        if v is True and None not in nones:
            return "applied"
        best = "pending"  # would apply if the undecided tests came out its way
    return best


def _snapshot(spec: RuleSpec, facts: Sequence[Fact], t: str) -> _Snapshot:
    rule, when = spec.rule, spec.when
    kinds = frozenset(rule.applies_to)
    fired: dict[frozenset[tuple[str, str]], RefFlag] = {}
    present_total = unsettled = gap_total = 0
    missing: dict[tuple[int, str], str] = {}
    blocking = False
    by_id = {m.id: m for m in spec.mitigations}
    for positives in when.alternatives():
        back = _predecessors(positives)
        slots = [_slot(p, kinds, past=p.alias in back) for p in positives]
        negatives = [_slot(p, kinds) for p in when.none]
        cands = [_candidates(s, facts, t) for s in slots]
        neg_cands = [_candidates(s, facts, t) for s in negatives]
        reads: dict[str, set[str]] = {}
        for s in [*slots, *negatives]:
            for alias, names in s.reads().items():
                reads.setdefault(alias, set()).update(names)
        for combo in _present(slots, cands, facts):
            present_total += 1
            bound = {s.alias: facts[j] for s, j in zip(slots, combo)}
            value = _and([s.value(facts[j], bound) for s, j in zip(slots, combo)])
            if value is False:
                continue
            nones = _none_values(negatives, neg_cands, facts, combo, bound)
            if any(v is True for _, _, v in nones):
                continue
            undecided = [(neg, j) for neg, j, v in nones if v is None]
            if value is True and not undecided:
                key = frozenset(facts[j].key for j in combo)
                if key not in fired:
                    states = {m.id: _mitigation(m, slots, combo, facts, t, kinds) for m in spec.mitigations}
                    applied = sorted(m for m, s in states.items() if s == "applied")
                    pending = sorted(m for m, s in states.items() if s == "pending")
                    up = [by_id[m].severity for m in applied if by_id[m].raises]
                    down = [by_id[m].severity for m in applied if not by_id[m].raises]
                    severity = min([max([rule.severity, *up], key=SEVERITY_ORDER.__getitem__), *down],
                                   key=SEVERITY_ORDER.__getitem__)
                    fired[key] = RefFlag(rule.id, tuple((s.alias, facts[j].id) for s, j in zip(slots, combo)),
                                         severity, tuple(applied), tuple(pending))
                continue
            unsettled += 1
            gaps = [(j, name) for s, j in zip(slots, combo) for name in sorted(reads.get(s.alias, ()))
                    if facts[j].status(name) in _NOT_THERE]
            gaps += [(j, name) for neg, j in undecided for name in sorted(reads.get(neg.alias, ()))
                     if facts[j].status(name) in _NOT_THERE]
            for j, name in gaps:
                missing[(j, name)] = facts[j].status(name)
            blocking = blocking or any(facts[j].live(t) for j, _ in gaps)
        for combo, lacking in _gaps(slots, cands, facts):
            gap_total += 1
            where = {s.alias: j for s, j in zip(slots, combo)}
            for alias, name in lacking:
                missing[(where[alias], name)] = facts[where[alias]].status(name)
                blocking = blocking or facts[where[alias]].live(t)
    if rule.relationship is not None:
        fired = _by_relationship(rule.relationship, fired, facts)
    return _Snapshot(fired, present_total + gap_total, unsettled + gap_total, missing, blocking)


def _by_relationship(alias: str, fired: dict[frozenset[tuple[str, str]], RefFlag], facts: Sequence[Fact]
                     ) -> dict[frozenset[tuple[str, str]], RefFlag]:
    """One flag per partner-developer relationship: the most severe match, then the latest deal."""
    deals = {f.id: f for f in facts if f.type == "deal"}
    out: dict[frozenset[tuple[str, str]], RefFlag] = {}
    for flag in fired.values():
        deal = deals[dict(flag.facts)[alias]]
        key = frozenset({("relationship", f"{deal.values['partner']}~{deal.values['developer']}")})
        rank = (SEVERITY_ORDER[flag.severity], day(deal.values["date"]), deal.id)
        held = out.get(key)
        if held is None:
            out[key] = flag
            continue
        other = deals[dict(held.facts)[alias]]
        if rank > (SEVERITY_ORDER[held.severity], day(other.values["date"]), other.id):
            out[key] = flag
    return out


def evaluate_rule(spec: RuleSpec, case: c.Case, as_of: str | None = None) -> RefOutcome:
    """Flags, history and status of one parsed rule over one case on the as-of date."""
    d = as_of_day(case, as_of)
    now = facts_at(case, d)
    current = _snapshot(spec, now, d)
    seen: dict[frozenset[tuple[str, str]], list[tuple[int, RefFlag]]] = {}
    times = instants(now, d)
    for i, t in enumerate(times):
        snap = _snapshot(spec, facts_at(case, t), t)
        for key, flag in snap.flags.items():
            if key not in current.flags:
                seen.setdefault(key, []).append((i, flag))
    history = []
    for runs in seen.values():
        last, flag = runs[-1]
        first = last
        while first - 1 >= 0 and any(i == first - 1 for i, _ in runs):
            first -= 1
        until = times[last + 1] if last + 1 < len(times) else d
        history.append(replace(flag, window=RefWindow(times[first], until)))
    flags = tuple(sorted(current.flags.values(), key=lambda f: f.facts))
    if flags:
        status = "fired"
    elif current.present == 0:
        status = "not applicable"
    elif not current.unsettled:
        status = "clear"
    else:
        status = "not assessed"
    missing = tuple(RefMissing(now[j].type, now[j].id, name, st, now[j].live(d))
                    for (j, name), st in sorted(current.missing.items(), key=lambda kv: (now[kv[0][0]].key, kv[0][1])))
    return RefOutcome(spec.id, status, flags, tuple(sorted(history, key=lambda f: (f.facts, f.window.since if f.window else ""))),
                      missing if status == "not assessed" else (), current.present,
                      current.blocking and status == "not assessed")


def evaluate(rules: Sequence[RuleSpec], case: c.Case, as_of: str | None = None) -> dict[str, RefOutcome]:
    """Outcomes of every parsed rule, by rule id, over a case on the as-of date."""
    return {r.id: evaluate_rule(r, case, as_of) for r in sorted(rules, key=lambda r: r.id)}


def conditions(rules: Sequence[RuleSpec], outcomes: Mapping[str, RefOutcome]) -> dict[str, str]:
    """The status of every condition: concern / watch / not applicable / not assessed / no concern found."""
    out: dict[str, str] = {}
    for cond in CONDITIONS:
        mine = [outcomes[r.id] for r in rules if cond in r.rule.conditions]
        severities = {f.severity for o in mine for f in o.flags}
        if severities & {"medium", "high"}:
            out[cond] = "concern"
        elif "low" in severities:          # info flags are notes: never watch
            out[cond] = "watch"
        elif all(o.present == 0 for o in mine):
            out[cond] = "not applicable"
        elif any(o.blocking for o in mine):
            out[cond] = "not assessed"
        else:
            out[cond] = "no concern found"
    return out


def assess(rules: Sequence[RuleSpec], case: c.Case, as_of: str | None = None) -> RefAssessment:
    """Everything the reference says about one case on the as-of date."""
    outcomes = evaluate(rules, case, as_of)
    return RefAssessment(as_of_day(case, as_of), outcomes, conditions(rules, outcomes),
                         tuple(later_events(case, as_of)))
