"""Statuses on the assessment date: per rule, per condition and per item of the case.

A rule is ``fired``, ``clear`` (every fact combination it looks at is settled), ``not
assessed`` (some combination lacks facts) or ``not applicable`` (it looks at nothing in the
case). A condition is ``concern`` / ``watch`` by its flags, ``not applicable`` when none of
its rules applies, ``not assessed`` when a rule lacks facts of a term in force, else ``no
concern found``. Facts missing only on a predecessor (a superseded version a trajectory
rule compares with) leave that rule not assessed but do not make the condition so.
"""

from __future__ import annotations

import typing
import re
from collections.abc import Sequence

from policycheck.compile.ir import All, Compare, CompiledRule, Either, Ref, Test
from policycheck.evaluate.flags import missing_fact
from policycheck.evaluate.snapshot import RuleRun, Snapshot
from policycheck.facts import Fact
from policycheck.load.cases import LoadedCase
from policycheck.load.rules import LoadedRule
from policycheck.model.assessment import (
    ConditionResult, Flag, ItemCondition, ItemStatus, MissingFact, RuleResult, RuleStatus, Status, Window,
)
from policycheck.model.rule import CONDITIONS, SEVERITY_ORDER, Condition

def rule_result(lr: LoadedRule, compiled: CompiledRule, run: RuleRun, snap: Snapshot, loaded: LoadedCase,
                flagged: bool) -> RuleResult:
    status: RuleStatus
    if flagged:
        status = "fired"
    elif not run.present and not run.gaps:
        status = "not applicable"
    elif not run.incomplete and not run.gaps:
        status = "clear"
    else:
        status = "not assessed"
    missing = _missing(compiled, run, snap.facts, loaded) if status == "not assessed" else []
    return RuleResult(rule=lr.rule.id, conditions=[c for c in CONDITIONS if c in lr.rule.conditions],
                      status=status, missing=missing)


def _missing(compiled: CompiledRule, run: RuleRun, facts: list[Fact], loaded: LoadedCase) -> list[MissingFact]:
    """The unknown or unstated fields read by the alternative, of each combination left
    unsettled, and of facts a ``none`` pattern could not decide."""
    out: dict[tuple[str, str], MissingFact] = {}
    for _k, lacking in run.gaps:   # a link with an unknown or unstated side
        for index, name in lacking:
            out[(facts[index].key, name)] = missing_fact(facts[index], name, loaded)
    for k, combo in run.incomplete:
        alt = compiled.alternatives[k]
        for alias, index in zip(alt.aliases, combo):
            fact = facts[index]
            for name in sorted(alt.fields.get(alias, ())):
                if fact.status(name) in ("unknown", "unstated"):
                    out[(fact.key, name)] = missing_fact(fact, name, loaded)
        bound = {a: facts[i] for a, i in zip(alt.aliases, combo)}
        for pattern in alt.main.patterns:
            if not pattern.negated:
                continue
            alias = re.sub(r"_or[0-9]+$", "", pattern.alias)
            for fact in facts:
                if fact.type == pattern.fact and fact.live and _in_scope(pattern.scope, fact) \
                        and _linked(pattern.tests, fact, bound):
                    for name in sorted(alt.fields.get(alias, ())):
                        if fact.status(name) in ("unknown", "unstated"):
                            out[(fact.key, name)] = missing_fact(fact, name, loaded)
    return [out[key] for key in sorted(out)]


def _in_scope(scope: tuple[Test, ...], fact: Fact) -> bool:
    """Whether the pattern's scope admits ``fact`` (the licence kinds the rule applies to)."""
    kinds = {t.value for t in _leaves(scope) if isinstance(t, Compare) and t.field == "licence_kind"}
    return not kinds or fact.values.get("licence_kind") in kinds


def _leaves(tests: tuple[Test, ...]) -> list[Test]:
    out: list[Test] = []
    for t in tests:
        out += _leaves(t.items) if isinstance(t, (All, Either)) else [t]
    return out


def _linked(tests: tuple[Test, ...], fact: Fact, bound: dict[str, Fact]) -> bool:
    """Whether a `none` pattern's id links to the matched facts hold for ``fact`` (so it is a
    candidate whose unknown fields are worth listing); a link to a missing value might hold."""
    for t in tests:
        if isinstance(t, Ref) and not t.same and t.op == "eq" and not t.rank and t.alias in bound:
            mine, theirs = fact.values.get(t.field), bound[t.alias].values.get(t.other)
            if mine is not None and theirs is not None and mine != theirs:
                return False
    return True


def counts_as_assessed(result: RuleResult) -> bool:
    """Fired or clear; or not assessed only for want of facts on terms no longer in force."""
    if result.status in ("fired", "clear"):
        return True
    return result.status == "not assessed" and bool(result.missing) and all(not m.in_force for m in result.missing)


def conditions(flags: Sequence[Flag], outcomes: Sequence[RuleResult]) -> list[ConditionResult]:
    out = []
    cond: Condition
    for cond, name in CONDITIONS.items():  # type: ignore[assignment]  # CONDITIONS is keyed by Condition
        cflags = [f for f in flags if cond in f.conditions]
        rules = [o for o in outcomes if cond in o.conditions and o.status != "not applicable"]
        assessed = [o for o in rules if counts_as_assessed(o)]
        highest = max((f.severity for f in cflags), key=SEVERITY_ORDER.__getitem__, default=None)
        status = _status(bool(cflags), highest, bool(rules), len(assessed) == len(rules))
        out.append(ConditionResult(condition=cond, name=name, status=status, flags=len(cflags), highest=highest,
                                   rules_applicable=len(rules), rules_assessed=len(assessed),
                                   checked=sorted(o.rule for o in rules)))
    return out


def _status(flagged: bool, highest: str | None, applies: bool, all_assessed: bool) -> Status:
    """concern: a medium or high flag; watch: a low one. Info flags are notes (balancing points,
    widening): they never make a condition watch or concern."""
    if highest in ("medium", "high"):
        return "concern"
    if flagged and highest == "low":
        return "watch"
    if not applies:
        return "not applicable"
    return "no concern found" if all_assessed else "not assessed"


def items(loaded: LoadedCase, snap: Snapshot, runs: dict[str, tuple[LoadedRule, CompiledRule, RuleRun]],
          flags: Sequence[Flag], windows: dict[str, Window]) -> list[ItemStatus]:
    """Each licence, model, deal and data-access change with its status per condition on the
    assessment date (from the live facts that belong to it)."""
    case = loaded.case
    listed: list[tuple[str, str, str, tuple[str | int, ...], set[str]]] = []
    for i, lic in enumerate(case.licences):
        keys = {f"{case.id}/licence_version/{lic.id}@{j + 1}" for j in range(len(lic.versions))}
        listed.append(("licence", lic.id, lic.name, ("licences", i), keys))
    for i, m in enumerate(case.models):
        listed.append(("model", m.id, m.name, ("models", i), {f"{case.id}/model/{m.id}"}))
    for i, d in enumerate(case.deals):
        listed.append(("deal", d.id, d.title, ("deals", i), {f"{case.id}/deal/{d.id}"}))
    for i, ch in enumerate(case.data_access_changes):
        listed.append(("data_access_change", ch.id, ch.resource, ("data_access_changes", i),
                       {f"{case.id}/data_access_change/{ch.id}"}))
    live = {f.key for f in snap.facts if f.live}
    # Indexes built once (linear in flags and matches; per item and condition they were quadratic):
    # fact key -> positions of the flags whose evidence names it; per condition, fact key ->
    # whether every combination of a rule that reads it is settled.
    flags_of: dict[str, set[int]] = {}
    for n, f in enumerate(flags):
        for e in (*f.evidence, *f.related):
            flags_of.setdefault(f"{case.id}/{e.fact}/{e.id}", set()).add(n)
    settled_of: dict[str, dict[str, bool]] = {cond: {} for cond in CONDITIONS}
    for lr, compiled, run in runs.values():
        for k, combo in run.present:
            unsettled: bool | None = None
            for rcond in lr.rule.conditions:
                seen = settled_of[rcond]
                for i in combo:
                    key = snap.facts[i].key
                    if key not in live:  # an item's status reads only its facts in force
                        continue
                    if unsettled is None:
                        unsettled = (k, combo) in run.incomplete and _lacks_live(compiled, k, combo, snap)
                    seen[key] = seen.get(key, True) and not unsettled
        for _k, lacking in run.gaps:   # the item whose link is undecided is not assessed by the rule
            for index, _name in lacking:
                key = snap.facts[index].key
                if key in live:
                    for rcond in lr.rule.conditions:
                        settled_of[rcond][key] = False
    out = []
    for kind, item_id, title, path, keys in listed:
        mine = keys & live
        hit = set().union(*(flags_of.get(key, set()) for key in mine)) if mine else set()
        iflags = [f for n, f in enumerate(flags) if n in hit]
        conds = []
        for cond in typing.cast("list[Condition]", list(CONDITIONS)):
            cflags = [f for f in iflags if cond in f.conditions]
            highest = max((f.severity for f in cflags), key=SEVERITY_ORDER.__getitem__, default=None)
            touched = [settled_of[cond][key] for key in mine if key in settled_of[cond]]
            applies, settled = bool(touched), all(touched)
            conds.append(ItemCondition(condition=cond, status=_status(bool(cflags), highest, applies, settled),
                                       flags=len(cflags), highest=highest))
        window = next((windows[k] for k in sorted(mine) if k in windows), None)
        out.append(ItemStatus(item=kind, id=item_id, title=title, file=loaded.file,
                              line=loaded.document.line_of(path), in_force=bool(mine),
                              window=window or _item_window(keys, windows), conditions=conds))
    return out


def _lacks_live(compiled: CompiledRule, k: int, combo: tuple[int, ...], snap: Snapshot) -> bool:
    """Whether an unsettled combination lacks facts of a term in force (not only of predecessors)."""
    alt = compiled.alternatives[k]
    lacking = [snap.facts[i] for a, i in zip(alt.aliases, combo)
               if any(snap.facts[i].status(n) in ("unknown", "unstated") for n in alt.fields.get(a, ()))]
    return not lacking or any(f.live for f in lacking)


def _item_window(keys: set[str], windows: dict[str, Window]) -> Window:
    found = [windows[k] for k in sorted(keys) if k in windows]
    if not found:
        return Window()
    return Window(since=min((w.since for w in found if w.since), default=None),
                  until=max((w.until for w in found if w.until), default=None))
