"""A reference evaluator of the rule language in plain Python (tests and benchmarks only).

It reads the case model (``policycheck.model.case.Case``: parties, models, licences and their
versions' terms, deals, data-access changes) directly, with its own table of which case-file
field gives each fact field and whether that field is known, ``unknown``, unstated or not
applicable (``case_facts`` below), and parsed rules (``policycheck.model.conditions.RuleSpec``,
what ``load.parse.parse_rule`` gives and every ``LoadedRule.spec`` holds), and computes by
brute-force search what the durable_rules path (flatten -> compiler -> engine -> assess)
should report: every flag (rule, bound facts, severity, mitigations), every rule status and
every condition status. It imports neither ``policycheck.facts`` nor the compiler, the engine
or ``evaluate``, so a silent failure in any of them (a field flattened with the wrong
status, a dropped fact, a coerced comparison, order-dependent negation, a status miscounted)
shows up as a difference.

It reads only the typed rule language (``FieldTest`` / ``RefTest`` checks in ``Conjunction``s,
``PatternSpec``, ``RefinementSpec``, ``MitigationSpec``; the file's metadata from
``RuleSpec.rule``), never the raw ``where`` / ``any_of`` mappings of the rule file, and it does
not import ``load.rules`` (which imports the engine package).

The semantics it encodes (docs/writing-rules.md states them for rule authors):

* A fact field is known (a value), ``unknown`` (the case says so), unstated (the case leaves
  it out) or not applicable (e.g. the limit of a threshold that does not exist, the
  ``previous`` of a first version).
* A pattern matches one fact of its type; ``where`` is an AND of tests, ``any_of`` an OR of
  such maps. A field that is not known fails every test except ``exists: false``;
  comparisons are typed (``"10"`` never equals ``10``, ``true`` never equals ``1``); strings
  and dates compare by code point.
* ``{ref: alias.field}`` compares with a field of a fact bound earlier (or the same fact);
  if either side is absent the test fails.
* The facts bound by one match are distinct (one fact never fills two patterns), and a
  ``none`` pattern only considers facts that are not bound by the match.
* Each ``any`` alternative is a rule of its own; a set of facts flagged by several
  alternatives (or in several orders) is one flag: the first alternative, then the
  bindings that come first in input order, decide its aliases and mitigations.
* A rule that did not fire is "not applicable" when no combination of its facts (joined by
  its cross-fact ``where`` references) exists; "clear" when every such combination is
  settled; else "not assessed". A combination is settled when every field the rule reads
  on it is known, or when it is refuted: one known value fails one of the rule's tests (a
  test on lists, ``exists`` or a cross-fact reference refutes nothing; an ``any_of`` refutes
  when every branch has a test its known values fail), or another fact that a ``none``
  pattern forbids is there.
* A condition (README): ``concern`` when one of its flags is medium or high, ``watch`` when
  it has only low or info flags, ``no concern found`` when it has applicable rules and every
  one of them is fired or clear, else ``not assessed``.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policycheck.model import case as c
from policycheck.model.conditions import (
    Check, Conjunction, PatternSpec, RefinementSpec, RefTest, RuleSpec,
)
from policycheck.model.rule import CONDITIONS, SEVERITY_ORDER

_MISSING = object()


# --------------------------------------------------------------------------- facts, from the case model


@dataclass(frozen=True)
class Fact:
    """One entity of a case as the rules see it. A field is in exactly one of ``values``
    (known), ``unknown`` or ``unstated``, or in none of them (not applicable)."""

    type: str
    id: str
    values: Mapping[str, Any]
    unknown: frozenset[str]
    unstated: frozenset[str]

    def status(self, name: str) -> str:
        if name in self.values:
            return "known"
        if name in self.unknown:
            return "unknown"
        return "unstated" if name in self.unstated else "not applicable"


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

    def done(self) -> Fact:
        return Fact(self.type, self.id, {**self.values, "id": self.id}, frozenset(self.unknown),
                    frozenset(self.unstated))


_PARTY = ("name", "roles", "leading_markets")
_MODEL = ("name", "developer", "release_date", "weights", "training_data", "training_code", "parameters_billions",
          "size_class", "frontier")
_TERMS = ("weights_access", "commercial_use", "research_only", "licensor_may_change_terms", "revocation",
          "remote_restriction", "must_use_latest_version", "hosted_service_restriction", "attribution_required",
          "naming_requirement", "restrictions_pass_to_derivatives", "distillation_counts_as_derivative",
          "osi_approved", "marketed_as_open", "terminates_on_ip_claim", "field_of_use_restrictions",
          "geographic_restrictions")
_DEAL = ("title", "date", "partner", "developer", "forms", "stake_pct", "compute", "distribution",
         "api_exclusive_to_partner_cloud", "ip_rights", "integration_into_partner_products", "governance",
         "priority_accelerator_access", "developer_multihoming")
_CHANGE = ("holder", "resource", "date", "announced")


def case_facts(case: c.Case) -> list[Fact]:
    """Every fact of a case, in document order: the case, parties, models, licence versions
    (oldest first within a licence), deals, data-access changes."""
    out: list[Fact] = []
    f = _Fields("case", case.id)
    f.put("kinds", case.kind)
    f.put("as_of", case.as_of)
    out.append(f.done())
    for p in case.parties:
        f = _Fields("party", p.id)
        for name in _PARTY:
            f.put(name, getattr(p, name))
        f.derived("holds_leading_position", p.leading_markets, bool(p.leading_markets))
        out.append(f.done())
    for m in case.models:
        f = _Fields("model", m.id)
        for name in _MODEL:
            f.put(name, getattr(m, name))
        out.append(f.done())
    for lic in case.licences:
        for n, v in enumerate(lic.versions, start=1):
            out.append(_version(lic, v, n))
    for d in case.deals:
        out.append(_deal(d))
    for ch in case.data_access_changes:
        out.append(_change(ch))
    return out


def _version(lic: c.Licence, v: c.LicenceVersion, n: int) -> Fact:
    f = _Fields("licence_version", f"{lic.id}@{n}")
    f.values.update(licence=lic.id, licence_name=lic.name, licence_kind=lic.kind, licensor=lic.licensor,
                    models=list(lic.models), version=v.version, seq=n, date=v.date)
    if n > 1:
        f.values["previous"] = f"{lic.id}@{n - 1}"      # the first version has none: not applicable
    f.put("spdx", v.spdx)                               # left out: unstated, like any term
    t = v.terms
    for name in _TERMS:
        f.put(name, getattr(t, name))
    for name in ("field_of_use_restrictions", "geographic_restrictions"):
        raw = getattr(t, name)
        f.derived(f"has_{name}", raw, bool(raw))
    f.group("has_user_threshold", t.user_threshold, c.UserThreshold,
            {"threshold_metric": "metric", "threshold_limit": "limit", "threshold_above": "above"})
    f.group("output_training_ban", t.output_training_ban, c.OutputTrainingBan,
            {"output_ban_scope": "scope", "output_ban_exempts_licensor_family": "exempts_licensor_family"})
    f.group("has_aup", t.acceptable_use_policy, c.AcceptableUsePolicy,
            {"aup_by_reference": "incorporated_by_reference", "aup_unilateral_update": "licensor_may_update"})
    return f.done()


def _deal(d: c.Deal) -> Fact:
    f = _Fields("deal", d.id)
    for name in _DEAL:
        f.put(name, getattr(d, name))
    f.group(None, d.amount, c.Money, {"amount": "value", "currency": "currency"})
    f.derived("has_governance_rights", d.governance, bool(d.governance))
    f.derived("has_board_seat", d.governance, "board_seat" in (d.governance or ()))
    f.group("staff_hired", d.staff_hired, c.StaffHire,
            {"staff_count": "count", "key_staff_hired": "key_staff", "hire_with_licence": "with_licence"})
    return f.done()


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
            if side == "after":
                f.values["price_unit"] = price.unit
        else:  # unknown or left out: so is everything read from the price, the unit included
            f.put(f"free_{side}", price)
            f.put(f"price_{side}", price)
            if side == "after":
                f.put("price_unit", price)
        f.put(f"ai_training_ban_{side}", terms.ai_training_ban)
    lic = ch.after.exclusive_licensee
    if lic == "none":
        f.values["exclusive_after"] = False
    elif lic is None or lic == c.UNKNOWN:
        f.put("exclusive_after", lic)
        f.put("exclusive_licensee_after", lic)
    else:
        f.values.update(exclusive_after=True, exclusive_licensee_after=lic)
    return f.done()


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class RefFlag:
    rule: str
    facts: tuple[tuple[str, str], ...]   # (alias, fact id) in pattern order
    severity: str
    mitigations: tuple[str, ...]


@dataclass(frozen=True)
class RefOutcome:
    rule: str
    status: str
    flags: tuple[RefFlag, ...]


def _value(fact: Fact, name: str) -> Any:
    return fact.values.get(name, _MISSING)


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
    if left is _MISSING or right is _MISSING:
        return False
    if op == "eq":
        return _eq(left, right)
    if op == "ne":
        return _kind(left) == _kind(right) and not _eq(left, right)
    if _kind(left) != _kind(right) or _kind(left) not in ("number", "str"):
        return False
    return bool({"lt": left < right, "lte": left <= right, "gt": left > right, "gte": left >= right}[op])


def _test(fact: Fact, check: Check, alias: str, bound: Mapping[str, Fact]) -> bool:
    left = _value(fact, check.field)
    if isinstance(check, RefTest):
        target = fact if check.alias == alias else bound[check.alias]
        return _compare(check.op, left, _value(target, check.other))
    op, operand = check.op, check.value
    if op == "exists":
        return (left is not _MISSING) is bool(operand)
    if left is _MISSING:
        return False
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


def _is_join(check: Check, alias: str) -> bool:
    """A reference to a field of another pattern's fact (not of the pattern's own)."""
    return isinstance(check, RefTest) and check.alias != alias


def _holds(fact: Fact, conj: Conjunction, alias: str, bound: Mapping[str, Fact], joins_only: bool = False) -> bool:
    """Every check of the conjunction holds (only its cross-fact references, with ``joins_only``)."""
    return all(_test(fact, check, alias, bound) for check in conj.checks
               if not joins_only or _is_join(check, alias))


@dataclass(frozen=True)
class _Slot:
    """One pattern of an evaluated rule: its alias, fact type and tests."""

    alias: str
    fact: str
    conjunctions: tuple[Conjunction, ...]          # ANDed: the pattern's where, then refinements'
    disjunctions: tuple[tuple[Conjunction, ...], ...]  # each an OR of branches: pattern's any_of, refinements'

    def matches(self, fact: Fact, bound: Mapping[str, Fact]) -> bool:
        if fact.type != self.fact:
            return False
        if not all(_holds(fact, w, self.alias, bound) for w in self.conjunctions):
            return False
        return all(any(_holds(fact, b, self.alias, bound) for b in group) for group in self.disjunctions if group)

    def joins(self, fact: Fact, bound: Mapping[str, Fact]) -> bool:
        """Only the cross-fact references of the pattern's own ``where`` (the "present" probe)."""
        return fact.type == self.fact and _holds(fact, self.conjunctions[0], self.alias, bound, joins_only=True)

    def refutes(self, fact: Fact, bound: Mapping[str, Fact]) -> bool:
        """A known value of ``fact`` fails one of the pattern's own tests (on top of its joins)."""
        if not self.joins(fact, bound):
            return False
        own, branches = self.conjunctions[0], self.disjunctions[0]
        if any(_refuted(fact, check, self.alias) for check in own.checks):
            return True
        if branches and all(_refutable(branch) for branch in branches):
            return all(any(_refuted(fact, check, self.alias) for check in branch.checks) for branch in branches)
        return False

    def read(self) -> set[str]:
        """Fields of this slot's own fact the pattern reads with a value test."""
        names: set[str] = set()
        for conj in [*self.conjunctions, *(b for group in self.disjunctions for b in group)]:
            for check in conj.checks:
                if check.op != "exists":
                    names.add(check.field)
                if isinstance(check, RefTest) and check.alias == self.alias:
                    names.add(check.other)
        return names


_NEGATE = {"eq": "ne", "ne": "eq", "lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}


def _refutable(conj: Conjunction) -> bool:
    """Every test of the branch has a complement (exists and the list tests have none)."""
    return bool(conj.checks) and all(check.op in _NEGATE or check.op in ("in", "not_in") for check in conj.checks)


def _refuted(fact: Fact, check: Check, alias: str) -> bool:
    """Known values show the test fails: the complement of the test holds."""
    if isinstance(check, RefTest):
        if check.alias != alias:
            return False  # a join refutes nothing
        return _compare(_NEGATE[check.op], _value(fact, check.field), _value(fact, check.other))
    left = _value(fact, check.field)
    if left is _MISSING:
        return False
    op, operand = check.op, check.value
    if op in _NEGATE:
        return _compare(_NEGATE[op], left, operand)
    if op == "in":
        return all(_kind(left) == _kind(v) and not _eq(left, v) for v in operand)
    if op == "not_in":
        return any(_eq(left, v) for v in operand)
    return False  # exists, contains, contains_any, contains_all


def _slot(p: PatternSpec) -> _Slot:
    return _Slot(p.alias, p.fact, (p.where,), (p.any_of,))


def _assignments(slots: Sequence[_Slot], facts: Sequence[Fact], test: str = "matches"
                 ) -> Iterator[tuple[int, ...]]:
    """Every tuple of distinct fact indices that fills ``slots`` in order."""
    def extend(prefix: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        if len(prefix) == len(slots):
            yield prefix
            return
        slot = slots[len(prefix)]
        bound = {slots[i].alias: facts[j] for i, j in enumerate(prefix)}
        for j, fact in enumerate(facts):
            if j in prefix:
                continue
            if getattr(slot, test)(fact, bound):
                yield from extend(prefix + (j,))
    yield from extend(())


def _excluded(negatives: Sequence[_Slot], slots: Sequence[_Slot], combo: tuple[int, ...], facts: Sequence[Fact]) -> bool:
    bound = {s.alias: facts[j] for s, j in zip(slots, combo)}
    return any(neg.matches(fact, bound) for neg in negatives for j, fact in enumerate(facts) if j not in combo)


def _matches(slots: Sequence[_Slot], negatives: Sequence[_Slot], facts: Sequence[Fact]) -> set[tuple[int, ...]]:
    return {c for c in _assignments(slots, facts) if not _excluded(negatives, slots, c, facts)}


def _refined(slots: Sequence[_Slot], ref: RefinementSpec) -> list[_Slot]:
    return [_Slot(s.alias, s.fact, s.conjunctions + (ref.where,), s.disjunctions + (ref.any_of,))
            if s.alias == ref.on else s for s in slots]


def _refuted_combo(slots: Sequence[_Slot], negatives: Sequence[_Slot], combo: tuple[int, ...],
                   facts: Sequence[Fact]) -> bool:
    """Known values settle that these facts do not match: one fact fails one of its pattern's
    tests (with the joins that bind it), or another fact matches a ``none`` pattern."""
    earlier: dict[str, Fact] = {}
    for slot, j in zip(slots, combo):
        if slot.refutes(facts[j], earlier):
            return True
        earlier[slot.alias] = facts[j]
    return _excluded(negatives, slots, combo, facts)


def evaluate_rule(spec: RuleSpec, facts: Sequence[Fact]) -> RefOutcome:
    """Flags and status of one parsed rule over one case's facts."""
    rule, when = spec.rule, spec.when
    base = [_slot(p) for p in when.all]
    alternatives = [[*base, _slot(p)] for p in when.any] or [base]
    negatives = [_slot(p) for p in when.none]
    fired: dict[frozenset[int], tuple[list[_Slot], tuple[int, ...], list[str]]] = {}
    present_total = 0
    incomplete = False
    for slots in alternatives:
        hits: dict[str, set[tuple[int, ...]]] = {}
        for mit in spec.mitigations:
            mslots = list(slots)
            for ref in mit.on:
                mslots = _refined(mslots, ref)
            extra = [_slot(p) for p in mit.all]
            found = _matches(mslots + extra, negatives + [_slot(p) for p in mit.none], facts)
            hits[mit.id] = {c[: len(slots)] for c in found}
        for combo in sorted(_matches(slots, negatives, facts)):
            mits = sorted(mid for mid, combos in hits.items() if combo in combos)
            fired.setdefault(frozenset(combo), (slots, combo, mits))
        for combo in _assignments(slots, facts, "joins"):
            present_total += 1
            complete = not any(slot.read() & (facts[j].unknown | facts[j].unstated) for slot, j in zip(slots, combo))
            if not complete and not _refuted_combo(slots, negatives, combo, facts):
                incomplete = True
    flags = []
    by_id = {m.id: m for m in spec.mitigations}
    for slots, combo, mits in sorted(fired.values(), key=lambda v: v[1]):
        severity = min([rule.severity, *(by_id[m].severity for m in mits)], key=SEVERITY_ORDER.__getitem__)
        flags.append(RefFlag(rule.id, tuple((s.alias, facts[j].id) for s, j in zip(slots, combo)), severity,
                             tuple(mits)))
    if flags:
        status = "fired"
    elif present_total == 0:
        status = "not applicable"
    elif not incomplete:
        status = "clear"
    else:
        status = "not assessed"
    return RefOutcome(rule.id, status, tuple(flags))


def evaluate(rules: Sequence[RuleSpec], case: c.Case | Sequence[Fact]) -> dict[str, RefOutcome]:
    """Outcomes of every parsed rule, by rule id, over a case (or facts already taken from one)."""
    facts = case_facts(case) if isinstance(case, c.Case) else case
    return {r.id: evaluate_rule(r, facts) for r in sorted(rules, key=lambda r: r.id)}


def conditions(rules: Sequence[RuleSpec], outcomes: Mapping[str, RefOutcome]) -> dict[str, str]:
    """The status of every condition (README): concern / watch / no concern found / not assessed."""
    out: dict[str, str] = {}
    for cond in CONDITIONS:
        mine = [r for r in rules if cond in r.rule.conditions]
        severities = {f.severity for r in mine for f in outcomes[r.id].flags}
        applicable = [outcomes[r.id].status for r in mine if outcomes[r.id].status != "not applicable"]
        if severities & {"medium", "high"}:
            out[cond] = "concern"
        elif severities:
            out[cond] = "watch"
        elif applicable and all(s in ("fired", "clear") for s in applicable):
            out[cond] = "no concern found"
        else:
            out[cond] = "not assessed"
    return out

