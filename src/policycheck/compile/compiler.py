"""Compile a parsed rule (``model.conditions.RuleSpec``) into engine-neutral engine rules.

Each rule becomes, per alternative of its ``any`` list (a rule without ``any`` has one):
- ``main``: the rule itself; every match is a flag;
- ``present``: the same facts and joins with no value tests (which fact combinations the rule looks at);
- ``complete``: ``present`` plus "every field the rule reads is known" (not unknown, not unstated);
- ``refuters``: ``present`` with one test replaced by its complement, or plus one ``none``
  pattern as a positive one: a match settles that the rule does not match;
- one rule per mitigation: ``main`` plus the mitigation's patterns.
``present`` and ``complete`` counts decide whether a rule that did not fire was assessed.

The rule was type-checked against the vocabulary when it was parsed (``load.parse``); this
stage only rewrites it. How an engine spells these tests is the engine's business.
"""

from __future__ import annotations

from collections.abc import Iterable

from policycheck.compile.ir import (
    All, Alternative, Compare, CompiledRule, Contains, EngineRule, Either, Exists, Known, Pattern, Ref, Test,
    complement, is_join,
)
from policycheck.model.conditions import Check, Conjunction, FieldTest, MitigationSpec, PatternSpec, RuleSpec

__all__ = ["CompiledRule", "compile_rule", "compile_rules"]


def compile_rules(specs: Iterable[RuleSpec]) -> tuple[CompiledRule, ...]:
    return tuple(compile_rule(s) for s in specs)


def compile_rule(spec: RuleSpec) -> CompiledRule:
    return CompiledRule(spec.id, tuple(_alternative(spec, k, pos) for k, pos in enumerate(spec.when.alternatives())))


def _alternative(spec: RuleSpec, k: int, positives: tuple[PatternSpec, ...]) -> Alternative:
    name = f"{spec.id}|{k}"
    aliases = tuple(p.alias for p in positives)
    fields: dict[str, set[str]] = {p.alias: set() for p in (*positives, *spec.when.none)}
    main: list[Pattern] = []
    present: list[Pattern] = []
    complete: list[Pattern] = []
    refutable: list[tuple[int, Test]] = []   # (pattern position, the complement of one of its tests)
    for n, p in enumerate(positives):
        tests = _tests(p.alias, p.where, p.any_of)
        joins = tuple(t for t in tests if is_join(t))
        read = _reads(p.alias, p.conjunctions())
        for alias, f in read:
            fields.setdefault(alias, set()).add(f)
        known = tuple(Known(f) for a, f in sorted(read) if a == p.alias)
        main.append(Pattern(p.alias, p.fact, tests))
        present.append(Pattern(p.alias, p.fact, joins))
        complete.append(Pattern(p.alias, p.fact, joins + known))
        for test in tests:
            opposite = None if is_join(test) else complement(test)
            if opposite is not None:
                refutable.append((n, opposite))
    negated = [Pattern(p.alias, p.fact, _tests(p.alias, p.where, p.any_of), negated=True, role="none")
               for p in spec.when.none]
    main_rule = EngineRule(f"{name}|main", (*main, *negated))
    refuters: list[EngineRule] = []
    for r_i, (n, opposite) in enumerate(refutable):
        patterns = list(present)
        patterns[n] = Pattern(present[n].alias, present[n].fact, (*present[n].tests, opposite))
        refuters.append(EngineRule(f"{name}|refute:{r_i}", tuple(patterns)))
    for r_i, neg in enumerate(negated):
        refuters.append(EngineRule(f"{name}|refute:none:{r_i}",
                                   (*present, Pattern(neg.alias, neg.fact, neg.tests, role="none"))))
    mitigations = tuple((m.id, _mitigation(f"{name}|mit:{m.id}", m, main, negated)) for m in spec.mitigations)
    types = {p.alias: p.fact for p in (*positives, *spec.when.none)}
    return Alternative(k, aliases, types, {a: frozenset(f) for a, f in fields.items()},
                       main_rule, EngineRule(f"{name}|present", tuple(present)),
                       EngineRule(f"{name}|complete", tuple(complete)), tuple(refuters), mitigations)


def _mitigation(name: str, mit: MitigationSpec, main: list[Pattern], negated: list[Pattern]) -> EngineRule:
    patterns = list(main)
    for ref in mit.on:
        tests = _tests(ref.on, ref.where, ref.any_of)
        patterns = [Pattern(p.alias, p.fact, p.tests, p.negated, p.role, (*p.refinements, tests))
                    if p.alias == ref.on and not p.negated else p for p in patterns]
    extra = [Pattern(p.alias, p.fact, _tests(p.alias, p.where, p.any_of), role="mitigation") for p in mit.all]
    extra_negated = [Pattern(p.alias, p.fact, _tests(p.alias, p.where, p.any_of), negated=True, role="mitigation")
                     for p in mit.none]
    return EngineRule(name, (*patterns, *extra, *negated, *extra_negated))


def _tests(alias: str, where: Conjunction, any_of: tuple[Conjunction, ...]) -> tuple[Test, ...]:
    tests = tuple(_test(alias, c) for c in where.checks)
    if any_of:
        branches = tuple(_conjunction(alias, b) for b in any_of)
        tests += (Either(branches),)
    return tests


def _conjunction(alias: str, conj: Conjunction) -> Test:
    tests = tuple(_test(alias, c) for c in conj.checks)
    return tests[0] if len(tests) == 1 else All(tests)


def _test(alias: str, check: Check) -> Test:
    if not isinstance(check, FieldTest):
        return Ref(check.field, check.op, check.alias, check.other, same=check.alias == alias)
    f, op, value = check.field, check.op, check.value
    if op == "exists":
        return Exists(f, bool(value))
    if op == "in":
        return _either(tuple(Compare(f, "eq", v) for v in value))
    if op == "not_in":
        return _all(tuple(Compare(f, "ne", v) for v in value))
    if op == "contains":
        return Contains(f, value)
    if op == "contains_any":
        return _either(tuple(Contains(f, v) for v in value))
    if op == "contains_all":
        return _all(tuple(Contains(f, v) for v in value))
    return Compare(f, op, value)


def _all(items: tuple[Test, ...]) -> Test:
    return items[0] if len(items) == 1 else All(items)


def _either(items: tuple[Test, ...]) -> Test:
    return items[0] if len(items) == 1 else Either(items)


def _reads(alias: str, conjunctions: Iterable[Conjunction]) -> set[tuple[str, str]]:
    """(alias, field) pairs whose values the tests read: ``exists`` reads none, a reference both sides."""
    out: set[tuple[str, str]] = set()
    for conj in conjunctions:
        for c in conj.checks:
            if isinstance(c, FieldTest):
                if c.reads:
                    out.add((alias, c.field))
            else:
                out |= {(alias, c.field), (c.alias, c.other)}
    return out
