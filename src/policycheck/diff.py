"""Compare two assessments: what a change to a case (or a licence update) did to the flags.

``policycheck diff OLD NEW`` takes two case files (both are assessed with the same rule
pack) or two assessment JSON files (``assess --format json``) and reports:

- flags added, removed, and whose severity was raised or lowered;
- conditions whose status changed (e.g. ``no concern found`` -> ``concern``);
- rules whose status changed without a flag changing (e.g. ``clear`` -> ``not assessed``);
- for case files, the **terms in force**: for each licence, its latest version in OLD against
  its latest version in NEW — the term values that changed, and which rules fire on one but
  not the other. This is what an update to a licence narrowed and what it widened, even
  when NEW keeps the old version in its timeline.

Each change has a direction: ``widened`` (a new or more severe concern), ``narrowed`` (a
concern resolved or less severe) or ``unclear`` (a flag disappeared because facts are now
missing). A *new concern* is an added flag of medium or high severity, a severity raised to
medium or high, or a condition that moved to ``concern``; ``diff`` exits 1 when it finds one.

Flags are matched by rule id and the identity (type and id) of the facts they matched, never
by message text. When OLD and NEW are different cases (their case ids differ, so fact ids
may too), flags left unmatched are then paired by rule id and fact types, in document order;
such pairs say ``matched_by: position``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from policycheck.load.assessments import StoredAssessment
from policycheck.model.assessment import Assessment, CaseAssessment, Flag, PackInfo, Status
from policycheck.model.rule import CONDITIONS, SEVERITY_ORDER, Severity

if TYPE_CHECKING:
    from policycheck.load.cases import LoadedCase
    from policycheck.load.rules import RulePack

Direction = Literal["widened", "narrowed", "unclear"]
_RANK: dict[str, int] = {"no concern found": 0, "watch": 1, "concern": 2}
_NO_INFO = frozenset({"unknown", "unstated"})
_QUIET_TERMS = frozenset({"id", "seq", "previous", "date", "version", "licence", "licence_name", "licensor", "models",
                          "spdx"})


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlagSide(_Out):
    severity: Severity
    message: str
    facts: list[str]
    file: str | None
    line: int | None
    fingerprint: str


class FlagChange(_Out):
    case: str
    rule: str
    title: str
    change: Literal["added", "removed", "severity raised", "severity lowered"]
    direction: Direction
    new_concern: bool
    old: FlagSide | None = None
    new: FlagSide | None = None
    matched_by: Literal["facts", "position"] | None = None
    note: str | None = None


class ConditionChange(_Out):
    case: str
    condition: str
    name: str
    old: Status
    new: Status
    direction: Direction
    new_concern: bool


class RuleChange(_Out):
    case: str
    rule: str
    old: str
    new: str


class CasePair(_Out):
    old: str | None
    new: str | None
    old_file: str | None
    new_file: str | None


class TermChange(_Out):
    field: str
    old: str
    new: str


class TermsInForce(_Out):
    """The latest version of one licence in OLD against its latest version in NEW."""

    case: str
    old_licence: str
    new_licence: str
    old_version: str
    new_version: str
    terms: list[TermChange]
    widened: list[str]      # rules firing on the new terms only (a new concern)
    narrowed: list[str]     # rules firing on the old terms only (a concern the update removed)
    raised: list[str]       # "rule: low -> high"
    lowered: list[str]
    unchanged: list[str]


class Diff(_Out):
    old: str
    new: str
    cases: list[CasePair]
    flags: list[FlagChange]
    conditions: list[ConditionChange]
    rules: list[RuleChange]
    terms_in_force: list[TermsInForce] = []
    unchanged_flags: int
    new_concerns: int
    notes: list[str]
    summary: str

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class Cases(Protocol):
    """One side's cases, read when needed (an assessment file is indexed, not held)."""

    rule_pack: PackInfo
    total: int                      # case records (an id given twice counts twice)

    def ids(self) -> list[str]: ...

    def get(self, case_id: str) -> CaseAssessment: ...

    def digest(self, case_id: str) -> str | None: ...

    def flag_count(self, case_id: str) -> int: ...

    def file_of(self, case_id: str) -> str: ...


class InMemory:
    """``Cases`` of an Assessment held in memory (the last case of an id given twice wins)."""

    def __init__(self, assessment: Assessment) -> None:
        self.rule_pack = assessment.rule_pack
        self.total = len(assessment.cases)
        self.by_id = {c.case: c for c in assessment.cases}

    def ids(self) -> list[str]:
        return list(self.by_id)

    def get(self, case_id: str) -> CaseAssessment:
        return self.by_id[case_id]

    def digest(self, case_id: str) -> str | None:
        return None

    def flag_count(self, case_id: str) -> int:
        return len(self.by_id[case_id].flags)

    def file_of(self, case_id: str) -> str:
        return self.by_id[case_id].file


@dataclass(frozen=True)
class Side:
    """One side of a diff: its assessment (in memory, or an indexed file: ``StoredAssessment``),
    and the loaded cases when it came from case files."""

    label: str
    assessment: Assessment | StoredAssessment
    cases: tuple[Any, ...] = ()  # LoadedCase, when known

    def source(self) -> Cases:
        return InMemory(self.assessment) if isinstance(self.assessment, Assessment) else self.assessment


def side(label: str, item: Assessment | StoredAssessment | LoadedCase, pack: RulePack) -> Side:
    """One side of a diff: an assessment read from a file, or a loaded case assessed with ``pack``."""
    if isinstance(item, (Assessment, StoredAssessment)):
        return Side(label, item)
    from policycheck.evaluate import assess

    return Side(label, assess([item], pack), (item,))


def diff(old: Side, new: Side) -> Diff:
    """What changed from ``old`` to ``new``. Cases are read one pair at a time; a pair whose
    content is the same on both sides (same digest) is counted, not read again."""
    a, b = old.source(), new.source()
    flags: list[FlagChange] = []
    conditions: list[ConditionChange] = []
    rules: list[RuleChange] = []
    terms: list[TermsInForce] = []
    cases: list[CasePair] = []
    unchanged = 0
    other_case = False
    for o_id, n_id in _pair_ids(a, b):
        cases.append(CasePair(old=o_id, new=n_id, old_file=a.file_of(o_id) if o_id is not None else None,
                              new_file=b.file_of(n_id) if n_id is not None else None))
        if o_id is not None and o_id == n_id and (d := a.digest(o_id)) is not None and d == b.digest(n_id):
            unchanged += a.flag_count(o_id)
            continue
        o = a.get(o_id) if o_id is not None else None
        n = b.get(n_id) if n_id is not None else None
        other_case = other_case or (o is not None and n is not None and o.case != n.case)
        f, u = _flag_changes(o, n)
        flags += f
        unchanged += u
        conditions += _condition_changes(o, n)
        rules += _rule_changes(o, n)
        terms += _terms_in_force(old, new, [(o, n)])
    notes = []
    if a.rule_pack.digest != b.rule_pack.digest:
        notes.append(f"the two sides were assessed with different rule packs ({a.rule_pack.digest} and "
                     f"{b.rule_pack.digest}): some changes may come from the rules, not the case")
    if any(c.matched_by == "position" for c in flags) or other_case:
        notes.append("the two sides are different cases; flags whose fact ids differ were paired by rule and "
                     "fact types in document order")
    flags.sort(key=_change_order)
    new_concerns = sum(1 for c in flags if c.new_concern) + sum(1 for c in conditions if c.new_concern)
    result = Diff(old=old.label, new=new.label, cases=cases, flags=flags, conditions=conditions, rules=rules,
                  terms_in_force=terms, unchanged_flags=unchanged, new_concerns=new_concerns, notes=notes, summary="")
    return result.model_copy(update={"summary": _summary(result)})


def _change_order(c: FlagChange) -> tuple[Any, ...]:
    side = c.new or c.old
    return (c.case, _DIR_ORDER[c.direction], _CHANGE_ORDER[c.change], -SEVERITY_ORDER[side.severity if side else "info"],
            c.rule, side.facts if side else [])


_DIR_ORDER = {"widened": 0, "narrowed": 1, "unclear": 2}
_CHANGE_ORDER = {"added": 0, "severity raised": 1, "removed": 2, "severity lowered": 3}


def _pair_ids(old: Cases, new: Cases) -> list[tuple[str | None, str | None]]:
    """The cases to compare: the one case of each side when each has one, else by case id."""
    if old.total == 1 and new.total == 1:
        return [(old.ids()[0], new.ids()[0])]
    a, b = set(old.ids()), set(new.ids())
    return [(k if k in a else None, k if k in b else None) for k in sorted(a | b)]


def _side(flag: Flag) -> FlagSide:
    file, line = flag.location()
    return FlagSide(severity=flag.severity, message=flag.message, facts=[f"{e.fact} {e.id}" for e in flag.evidence],
                    file=file, line=line, fingerprint=flag.fingerprint)


def _key(flag: Flag) -> tuple[str, tuple[tuple[str, str], ...]]:
    return flag.rule, tuple((e.fact, e.id) for e in flag.evidence)


def _order(flag: Flag) -> tuple[Any, ...]:
    return tuple(e.line or 0 for e in flag.evidence), [e.id for e in flag.evidence]


def _is_concern(severity: str) -> bool:
    return SEVERITY_ORDER[severity] >= SEVERITY_ORDER["medium"]


def _flag_changes(o: CaseAssessment | None, n: CaseAssessment | None) -> tuple[list[FlagChange], int]:
    old_flags = list(o.flags) if o else []
    new_flags = list(n.flags) if n else []
    either = n or o
    case_id = either.case if either else ""
    matched: list[tuple[Flag, Flag, Literal["facts", "position"]]] = []
    new_by_key: dict[Any, list[Flag]] = {}
    for f in new_flags:
        new_by_key.setdefault(_key(f), []).append(f)
    left_old: list[Flag] = []
    for f in old_flags:
        bucket = new_by_key.get(_key(f))
        if bucket:
            matched.append((f, bucket.pop(0), "facts"))
        else:
            left_old.append(f)
    left_new = [f for bucket in new_by_key.values() for f in bucket]
    if o is not None and n is not None and o.case != n.case:
        groups_old: dict[Any, list[Flag]] = {}
        groups_new: dict[Any, list[Flag]] = {}
        for f in left_old:
            groups_old.setdefault((f.rule, tuple(e.fact for e in f.evidence)), []).append(f)
        for f in left_new:
            groups_new.setdefault((f.rule, tuple(e.fact for e in f.evidence)), []).append(f)
        for key, olds in groups_old.items():
            news = sorted(groups_new.get(key, []), key=_order)
            for a, b in zip(sorted(olds, key=_order), news):
                matched.append((a, b, "position"))
                left_old.remove(a)
                left_new.remove(b)
    changes: list[FlagChange] = []
    unchanged = 0
    for a, b, how in matched:
        if a.severity == b.severity:
            unchanged += 1
            continue
        raised = SEVERITY_ORDER[b.severity] > SEVERITY_ORDER[a.severity]
        changes.append(FlagChange(case=case_id, rule=b.rule, title=b.title,
                                  change="severity raised" if raised else "severity lowered",
                                  direction="widened" if raised else "narrowed",
                                  new_concern=raised and _is_concern(b.severity), old=_side(a), new=_side(b),
                                  matched_by=how))
    status_new = {r.rule: r.status for r in n.rules} if n else {}
    for f in left_new:
        changes.append(FlagChange(case=case_id, rule=f.rule, title=f.title, change="added", direction="widened",
                                  new_concern=_is_concern(f.severity), new=_side(f)))
    for f in left_old:
        now = status_new.get(f.rule)
        unclear = now == "not assessed"
        note = ("the rule is not assessed in NEW (facts it needs are unknown or missing)" if unclear
                else "the case is not in NEW" if n is None
                else "the rule is not in NEW's rule pack" if now is None else None)
        changes.append(FlagChange(case=case_id, rule=f.rule, title=f.title, change="removed",
                                  direction="unclear" if unclear else "narrowed", new_concern=False, old=_side(f),
                                  note=note))
    return changes, unchanged


def _condition_direction(old: str, new: str) -> Direction:
    if new == "concern":
        return "widened"
    if old == "concern" and new in _RANK:
        return "narrowed"
    if old in _RANK and new in _RANK:
        return "widened" if _RANK[new] > _RANK[old] else "narrowed"
    if old == "not assessed" and new == "watch":
        return "widened"
    return "unclear"


def _condition_changes(o: CaseAssessment | None, n: CaseAssessment | None) -> list[ConditionChange]:
    old: dict[str, Status] = {c.condition: c.status for c in o.conditions} if o else {}
    new: dict[str, Status] = {c.condition: c.status for c in n.conditions} if n else {}
    either = n or o
    case_id = either.case if either else ""
    out = []
    for cond, name in CONDITIONS.items():
        a, b = old.get(cond, "not assessed"), new.get(cond, "not assessed")
        if n is None or a == b:
            continue
        out.append(ConditionChange(case=case_id, condition=cond, name=name, old=a, new=b,
                                   direction=_condition_direction(a, b), new_concern=b == "concern"))
    return out


def _rule_changes(o: CaseAssessment | None, n: CaseAssessment | None) -> list[RuleChange]:
    if o is None or n is None:
        return []
    old = {r.rule: r.status for r in o.rules}
    new = {r.rule: r.status for r in n.rules}
    out = []
    for rule in sorted(set(old) | set(new)):
        a, b = old.get(rule, "not in pack"), new.get(rule, "not in pack")
        if a != b and "fired" not in (a, b):
            out.append(RuleChange(case=n.case, rule=rule, old=a, new=b))
    return out


def _terms_in_force(old: Side, new: Side, pairs: list[tuple[CaseAssessment | None, CaseAssessment | None]]
                    ) -> list[TermsInForce]:
    if not old.cases or not new.cases:
        return []
    from policycheck.evaluate import display
    from policycheck.facts import flatten

    out: list[TermsInForce] = []
    loaded_old = {lc.case.id: lc for lc in old.cases}
    loaded_new = {lc.case.id: lc for lc in new.cases}
    for o, n in pairs:
        if o is None or n is None or o.case not in loaded_old or n.case not in loaded_new:
            continue
        latest_old = _latest_versions(flatten(loaded_old[o.case]))
        latest_new = _latest_versions(flatten(loaded_new[n.case]))
        for lic_old, lic_new in _pair_licences(latest_old, latest_new):
            fo, fn = latest_old[lic_old], latest_new[lic_new]
            terms = []
            for name in sorted((set(fo.values) | fo.unknown | fo.unstated | set(fn.values) | fn.unknown
                                | fn.unstated) - _QUIET_TERMS):
                a, b = _term(fo, name, display), _term(fn, name, display)
                if a != b and not {a, b} <= _NO_INFO:
                    terms.append(TermChange(field=name, old=a, new=b))
            ro = {f.rule: f for f in o.flags if any(e.id == fo.id and e.fact == "licence_version" for e in f.evidence)}
            rn = {f.rule: f for f in n.flags if any(e.id == fn.id and e.fact == "licence_version" for e in f.evidence)}
            raised, lowered, same = [], [], []
            for rule in sorted(set(ro) & set(rn)):
                a_sev, b_sev = ro[rule].severity, rn[rule].severity
                if SEVERITY_ORDER[b_sev] > SEVERITY_ORDER[a_sev]:
                    raised.append(f"{rule}: {a_sev} -> {b_sev}")
                elif SEVERITY_ORDER[b_sev] < SEVERITY_ORDER[a_sev]:
                    lowered.append(f"{rule}: {a_sev} -> {b_sev}")
                else:
                    same.append(rule)
            out.append(TermsInForce(case=n.case, old_licence=lic_old, new_licence=lic_new,
                                    old_version=str(fo.values.get("version", fo.id)),
                                    new_version=str(fn.values.get("version", fn.id)), terms=terms,
                                    widened=sorted(set(rn) - set(ro)), narrowed=sorted(set(ro) - set(rn)),
                                    raised=raised, lowered=lowered, unchanged=same))
    return out


def _latest_versions(facts: Sequence[Any]) -> dict[str, Any]:
    """Each licence's version in force on the case's as_of (the latest one present otherwise)."""
    latest: dict[str, Any] = {}
    for f in sorted(facts, key=lambda f: f.live):   # versions in force last, so they win
        if f.type == "licence_version":
            lic = f.values.get("licence")
            if lic is not None and (lic not in latest or f.live and not latest[lic].live
                                    or f.values.get("seq", 0) > latest[lic].values.get("seq", 0)):
                latest[lic] = f
    return latest


def _pair_licences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    if len(old) == 1 and len(new) == 1:
        return [(next(iter(old)), next(iter(new)))]
    return [(k, k) for k in sorted(set(old) & set(new))]


def _term(fact: Any, name: str, display: Any) -> str:
    status = fact.status(name)
    return str(display(fact.values[name])) if status == "known" else str(status)


def _summary(d: Diff) -> str:
    counts = {k: sum(1 for c in d.flags if c.change == k)
              for k in ("added", "removed", "severity raised", "severity lowered")}
    parts = [f"{v} {k}" for k, v in counts.items() if v]
    flags = (", ".join(parts) if parts else "no flag changes") + f" ({d.unchanged_flags} unchanged)"
    cond = f"{len(d.conditions)} condition status change{'s' if len(d.conditions) != 1 else ''}"
    concerns = f"{d.new_concerns} new concern{'s' if d.new_concerns != 1 else ''}"
    return f"flags: {flags}; {cond}; {concerns}"
