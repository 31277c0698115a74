"""Compile a parsed rule (``model.conditions.RuleSpec``) into engine-neutral engine rules.

Each rule becomes, per alternative of its ``any`` list (a rule without ``any`` has one):
- ``main``: the rule itself; every match is a flag;
- ``present``: the same facts and joins with no value tests (which fact combinations the rule looks at);
- ``complete``: ``present`` plus "every field the rule reads is known" (not unknown, not unstated)
  and "no ``none`` pattern is left undecided by an unknown field";
- ``refuters``: ``present`` with one test replaced by its complement, or plus one ``none``
  pattern as a positive one: a match settles that the rule does not match;
- per mitigation: ``main`` plus the mitigation's patterns (it applies), and the same with the
  mitigation's tests relaxed to "true or undecided" (``possible``: it is pending).
``present`` and ``complete`` counts decide whether a rule that did not fire was assessed.

Every pattern keeps its *scope* in every engine rule: the fact is in force at the instant
evaluated (unless the pattern is ``past`` or a predecessor reached through ``previous``), and
a licence_version is of a kind the rule ``applies_to``. ``none`` patterns are three-valued:
a fact that might match (a tested field unknown) blocks the rule from firing and leaves it
not assessed. ``stricter`` / ``looser`` become comparisons of places on the field's scale.

The rule was type-checked against the vocabulary when it was parsed (``load.parse``); this
stage only rewrites it. How an engine spells these tests is the engine's business.
"""

from __future__ import annotations

from collections.abc import Iterable

from policycheck.compile.ir import _OPPOSITE
from policycheck.compile.ir import (
    All, Alternative, Compare, CompiledRule, Contains, EngineRule, Either, Exists, Known, Live, Missing, Pattern,
    Ref, Test, complement, is_join, relax,
)
from policycheck.model.conditions import Check, Conjunction, FieldTest, MitigationSpec, PatternSpec, RefTest, RuleSpec
from policycheck.model.vocabulary import FACT_TYPES, PREDECESSOR_LINKS

__all__ = ["CompiledRule", "compile_rule", "compile_rules"]

_SCALE_OPS = {"stricter": "gt", "looser": "lt"}


def compile_rules(specs: Iterable[RuleSpec]) -> tuple[CompiledRule, ...]:
    return tuple(compile_rule(s) for s in specs)


def compile_rule(spec: RuleSpec) -> CompiledRule:
    return CompiledRule(spec.id, tuple(_alternative(spec, k, pos) for k, pos in enumerate(spec.when.alternatives())))


def predecessors(positives: Iterable[PatternSpec]) -> set[str]:
    """Aliases another positive pattern reaches through a predecessor link (``previous: {ref: a.id}``)."""
    out: set[str] = set()
    for p in positives:
        for c in p.checks():
            if isinstance(c, RefTest) and c.op == "eq" and c.other == "id" and c.alias != p.alias \
                    and (p.fact, c.field) in PREDECESSOR_LINKS:
                out.add(c.alias)
    return out


def _is_link(test: Test, fact: str) -> bool:
    """A join that says which facts belong together (an id equal to another fact's id field):
    it decides what the rule looks at. Any other reference to another pattern compares values
    and can fail on known values (it is refutable)."""
    return isinstance(test, Ref) and not test.same and test.op == "eq" and not test.rank \
        and FACT_TYPES[fact][test.field].kind == "id"


def _complement_join(test: Test) -> Test | None:
    """The opposite comparison of a value join; like every comparison it holds only on known
    values, so it refutes only what is known not to match."""
    if isinstance(test, Ref):
        return Ref(test.field, _OPPOSITE[test.op], test.alias, test.other, False, test.rank)
    return None


def _scope(spec: RuleSpec, p: PatternSpec, live: bool) -> tuple[Test, ...]:
    tests: list[Test] = []
    if p.fact == "licence_version":
        tests.append(_either(tuple(Compare("licence_kind", "eq", k) for k in spec.rule.applies_to)))
    if live:
        tests.append(Live())
    return tuple(tests)


def _alternative(spec: RuleSpec, k: int, positives: tuple[PatternSpec, ...]) -> Alternative:
    name = f"{spec.id}|{k}"
    aliases = tuple(p.alias for p in positives)
    before = predecessors(positives)
    fields: dict[str, set[str]] = {p.alias: set() for p in (*positives, *spec.when.none)}
    main: list[Pattern] = []
    present: list[Pattern] = []
    complete: list[Pattern] = []
    refutable: list[tuple[int, Test]] = []   # (pattern position, the complement of one of its tests)
    types = {p.alias: p.fact for p in (*positives, *spec.when.none)}
    scopes = [_scope(spec, p, live=not (p.past or p.alias in before)) for p in positives]
    tests_of = [_tests(p.alias, p.where, p.any_of) for p in positives]
    for p in positives:
        for alias, f in _reads(p.alias, p.conjunctions()):
            fields.setdefault(alias, set()).add(f)
    for n, p in enumerate(positives):
        scope, tests = scopes[n], tests_of[n]
        links = tuple(t for t in tests if _is_link(t, p.fact))
        # every field read on this alias, by this pattern or by a later one's reference to it
        known = tuple(Known(f) for f in sorted(fields.get(p.alias, ())))
        main.append(Pattern(p.alias, p.fact, tests, scope=scope))
        present.append(Pattern(p.alias, p.fact, links, scope=scope))
        complete.append(Pattern(p.alias, p.fact, links + known, scope=scope))
        for test in tests:
            if _is_link(test, p.fact):
                continue
            opposite = _complement_join(test) if is_join(test) else complement(test)
            if opposite is not None:
                refutable.append((n, opposite))
    negated: list[Pattern] = []      # blocks when a fact matches or might match
    strict_none: list[Pattern] = []  # a fact that definitely matches
    undecided: list[Pattern] = []    # a fact that might match: a field it tests is unknown
    for p in spec.when.none:
        scope = _scope(spec, p, live=True)
        tests = _tests(p.alias, p.where, p.any_of)
        relaxed = tuple(relax(t) for t in tests)
        for alias, f in _reads(p.alias, p.conjunctions()):
            fields.setdefault(alias, set()).add(f)
        own = sorted(f for a, f in _reads(p.alias, p.conjunctions()) if a == p.alias)
        negated.append(Pattern(p.alias, p.fact, relaxed, negated=True, role="none", scope=scope))
        strict_none.append(Pattern(p.alias, p.fact, tests, role="none", scope=scope))
        if own:
            unsure = Either(tuple(Missing(f) for f in own)) if len(own) > 1 else Missing(own[0])
            undecided.append(Pattern(p.alias, p.fact, (*relaxed, unsure), negated=True, role="none", scope=scope))
    main_rule = EngineRule(f"{name}|main", (*main, *negated))
    refuters: list[EngineRule] = []
    for r_i, (n, opposite) in enumerate(refutable):
        patterns = list(present)
        patterns[n] = Pattern(present[n].alias, present[n].fact, (*present[n].tests, opposite), scope=present[n].scope)
        refuters.append(EngineRule(f"{name}|refute:{r_i}", tuple(patterns)))
    for r_i, pos in enumerate(strict_none):
        refuters.append(EngineRule(f"{name}|refute:none:{r_i}", (*present, pos)))
    mitigations = tuple((m.id, _mitigation(spec, f"{name}|mit:{m.id}", m, main, negated, relaxed=False))
                        for m in spec.mitigations)
    possible = tuple((m.id, _mitigation(spec, f"{name}|maybe:{m.id}", m, main, negated, relaxed=True))
                     for m in spec.mitigations)
    mfields = {m.id: _mitigation_fields(m) for m in spec.mitigations}
    return Alternative(k, aliases, types, {a: frozenset(f) for a, f in fields.items()},
                       main_rule, EngineRule(f"{name}|present", tuple(present)),
                       EngineRule(f"{name}|complete", (*complete, *undecided)), tuple(refuters), mitigations,
                       possible, mfields, _operative(spec, positives))


def _mitigation(spec: RuleSpec, name: str, mit: MitigationSpec, main: list[Pattern], negated: list[Pattern],
                relaxed: bool) -> EngineRule:
    """The rule plus the mitigation's patterns; ``relaxed``: its tests also pass when undecided."""
    loosen = (lambda t: relax(t)) if relaxed else (lambda t: t)
    patterns = list(main)
    for ref in mit.on:
        tests = tuple(loosen(t) for t in _tests(ref.on, ref.where, ref.any_of))
        patterns = [Pattern(p.alias, p.fact, p.tests, p.scope, p.negated, p.role, (*p.refinements, tests))
                    if p.alias == ref.on and not p.negated else p for p in patterns]
    extra = [Pattern(p.alias, p.fact, tuple(loosen(t) for t in _tests(p.alias, p.where, p.any_of)),
                     role="mitigation", scope=_scope(spec, p, live=not p.past)) for p in mit.all]
    # A mitigation's `none` applies only when no fact might match (relaxed negation); it is
    # possible unless some fact definitely matches (strict negation).
    extra_negated = [Pattern(p.alias, p.fact, tuple((t if relaxed else relax(t)) for t in _tests(p.alias, p.where, p.any_of)),
                             negated=True, role="mitigation", scope=_scope(spec, p, live=True)) for p in mit.none]
    return EngineRule(name, (*patterns, *extra, *negated, *extra_negated))


def _mitigation_fields(mit: MitigationSpec) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for ref in mit.on:
        for alias, f in _reads(ref.on, ref.conjunctions()):
            out.setdefault(alias, set()).add(f)
    for p in mit.all:
        for alias, f in _reads(p.alias, p.conjunctions()):
            out.setdefault(alias, set()).add(f)
    return {a: frozenset(f) for a, f in out.items()}


def _operative(spec: RuleSpec, positives: tuple[PatternSpec, ...]) -> tuple[str, str] | None:
    """The term a flag points at: the rule's ``operative`` when its alias is in this
    alternative, else the last field tested on the last pattern that tests a term (links
    between facts, ``previous: {ref: prev.id}`` and the like, are not terms)."""
    aliases = {p.alias for p in positives}
    if spec.rule.operative:
        alias, fname = spec.rule.operative.split(".")
        if alias in aliases:
            return alias, fname
    for p in reversed(positives):
        vocab = FACT_TYPES[p.fact]
        terms = [c.field for c in p.checks()
                 if not (isinstance(c, RefTest) and c.alias != p.alias and vocab[c.field].kind == "id")]
        if terms:
            return p.alias, terms[-1]
    return None


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
        if check.op in _SCALE_OPS:
            return Ref(check.field, _SCALE_OPS[check.op], check.alias, check.other,  # type: ignore[arg-type]
                       same=check.alias == alias, rank=True)
        return Ref(check.field, check.op, check.alias, check.other, same=check.alias == alias)  # type: ignore[arg-type]
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
    return Compare(f, op, value)  # type: ignore[arg-type]


def _all(items: tuple[Test, ...]) -> Test:
    return items[0] if len(items) == 1 else All(items)


def _either(items: tuple[Test, ...]) -> Test:
    return items[0] if len(items) == 1 else Either(items)


def _reads(alias: str, conjunctions: Iterable[Conjunction]) -> set[tuple[str, str]]:
    """(alias, field) pairs whose values the tests read (``exists`` too), a reference both sides."""
    out: set[tuple[str, str]] = set()
    for conj in conjunctions:
        for c in conj.checks:
            if isinstance(c, FieldTest):
                out.add((alias, c.field))
            else:
                out |= {(alias, c.field), (c.alias, c.other)}
    return out
