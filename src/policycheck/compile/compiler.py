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

import itertools
from collections.abc import Callable, Iterable

from policycheck.compile.ir import _OPPOSITE
from policycheck.compile.ir import (
    All, Alternative, Compare, CompiledRule, Contains, EngineRule, Either, Exists, Known, Live, Missing, Pattern,
    Ref, Test, complement, is_join, relax, split_joins, split_joins_needing,
)
from policycheck.compile.gaps import gap_rules
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


def _linker(fact: str) -> Callable[[Ref], bool]:
    return lambda r: _is_link(r, fact)


def _copy(alias: str, k: int) -> str:
    """The alias of the k-th negated pattern a `none` pattern was split into (k > 0)."""
    return alias if k == 0 else f"{alias}_or{k}"


def _is_link(test: Test, fact: str) -> bool:
    """A join that says which facts belong together (an id equal to another fact's id field):
    it decides what the rule looks at. Any other reference to another pattern compares values
    and can fail on known values (it is refutable)."""
    return isinstance(test, Ref) and not test.same and test.op == "eq" and not test.rank \
        and FACT_TYPES[fact][test.field].kind == "id"


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
    plain: list[Pattern] = []     # main without "the fields `none` patterns compare with are known"
    present: list[Pattern] = []
    link_tests: dict[int, tuple[Ref, ...]] = {}
    complete: list[Pattern] = []
    refutable: list[tuple[int, Test]] = []   # (pattern position, the complement of one of its tests)
    types = {p.alias: p.fact for p in (*positives, *spec.when.none)}
    scopes = [_scope(spec, p, live=not (p.past or p.alias in before)) for p in positives]
    tests_of = [_tests(p.alias, p.where, p.any_of) for p in positives]
    for p in (*positives, *spec.when.none):
        for alias, f in _reads(p.alias, p.conjunctions()):
            fields.setdefault(alias, set()).add(f)
    # fields of matched facts a `none` pattern compares with: while one is unknown the blocker
    # cannot be decided, so the rule must not fire
    blocked_by = {(c.alias, c.other) for p in spec.when.none for c in p.joins()}
    for n, p in enumerate(positives):
        scope, tests = scopes[n], tests_of[n]
        links = tuple(t for t in tests if _is_link(t, p.fact))
        # every field read on this alias, by this pattern, a later one or a `none` pattern
        known = tuple(Known(f) for f in sorted(fields.get(p.alias, ())))
        decidable = tuple(Known(f) for a, f in sorted(blocked_by) if a == p.alias)
        main.append(Pattern(p.alias, p.fact, tests + decidable, scope=scope))
        plain.append(Pattern(p.alias, p.fact, tests, scope=scope))
        present.append(Pattern(p.alias, p.fact, links, scope=scope))
        link_tests[n] = tuple(t for t in links if isinstance(t, Ref))
        complete.append(Pattern(p.alias, p.fact, links + known, scope=scope))
        for test in tests:
            if _is_link(test, p.fact):
                continue
            if is_join(test) and isinstance(test, Ref):
                # a value join fails for certain on known values that fail it, or when either
                # side says it has no such field (one refuter each: no join inside an "or")
                refutable.append((n, Ref(test.field, _OPPOSITE[test.op], test.alias, test.other, False, test.rank)))
                refutable.append((n, Exists(test.field, False)))
                refutable.append((aliases.index(test.alias), Exists(test.other, False)))
                continue
            opposite = complement(test)
            if opposite is not None:
                refutable.append((n, opposite))
    negated: list[Pattern] = []      # blocks when a fact matches or might match
    strict_none: list[Pattern] = []  # a fact that definitely matches
    undecided: list[Pattern] = []    # a fact that might match: a field it tests is unknown
    unlinked: list[Pattern] = []     # any fact that might match whatever the matched facts' fields
    for p in spec.when.none:
        scope = _scope(spec, p, live=True)
        tests = _tests(p.alias, p.where, p.any_of)
        relaxed = tuple(relax(t, _linker(p.fact)) for t in tests)
        own = sorted(f for a, f in _reads(p.alias, p.conjunctions()) if a == p.alias)
        parts = list(enumerate(split_joins(relaxed)))
        negated += [Pattern(_copy(p.alias, k), p.fact, part, negated=True, role="none", scope=scope) for k, part in parts]
        strict_none.append(Pattern(p.alias, p.fact, tests, role="none", scope=scope))
        # a join to a matched fact's unknown field might hold for any candidate that has the
        # field at all (its own side known or unknown; not applicable cannot match)
        loose = tuple(relax(Exists(t.field, True) if isinstance(t, Ref) and (t.alias, t.other) in blocked_by else t,
                            _linker(p.fact)) for t in tests)
        unlinked += [Pattern(_copy(p.alias, k), p.fact, part, negated=True, role="none", scope=scope)
                     for k, part in enumerate(split_joins(loose))]
        if own:
            unsure = Either(tuple(Missing(f) for f in own)) if len(own) > 1 else Missing(own[0])
            undecided += [Pattern(_copy(p.alias, k), p.fact, (*part, unsure), negated=True, role="none", scope=scope)
                          for k, part in parts]
    main_rule = EngineRule(f"{name}|main", (*main, *negated))
    # When a matched fact's field a `none` pattern compares with is unknown, the rule still
    # fires if no fact could block it at all (no candidate, whatever that field's value).
    also = (EngineRule(f"{name}|main:unlinked", (*plain, *unlinked)),) if blocked_by else ()
    refuters: list[EngineRule] = []
    for r_i, (n, opposite) in enumerate(refutable):
        patterns = list(present)
        patterns[n] = Pattern(present[n].alias, present[n].fact, (*present[n].tests, opposite), scope=present[n].scope)
        refuters.append(EngineRule(f"{name}|refute:{r_i}", tuple(patterns)))
    for r_i, pos in enumerate(strict_none):
        refuters.append(EngineRule(f"{name}|refute:none:{r_i}", (*present, pos)))
    bases = [(main, negated, "")] + ([(plain, unlinked, ":unlinked")] if blocked_by else [])
    mitigations = tuple((m.id, r) for m in spec.mitigations for pos, neg, tag in bases
                        for r in _mitigation(spec, f"{name}|mit{tag}:{m.id}", m, pos, neg, relaxed=False))
    possible = tuple((m.id, r) for m in spec.mitigations for pos, neg, tag in bases
                     for r in _mitigation(spec, f"{name}|maybe{tag}:{m.id}", m, pos, neg, relaxed=True))
    mfields = {m.id: _mitigation_fields(m) for m in spec.mitigations}
    operative = _operative(spec, positives)
    return Alternative(k, aliases, types, {a: frozenset(f) for a, f in fields.items()},
                       main_rule, EngineRule(f"{name}|present", tuple(present)),
                       EngineRule(f"{name}|complete", (*complete, *undecided)), tuple(refuters), mitigations,
                       possible, mfields, operative, also, _branches(spec, name, positives, plain, negated, operative),
                       tuple((g.rule, g.missing) for g in gap_rules(name, present, link_tests)))


def _mitigation(spec: RuleSpec, name: str, mit: MitigationSpec, main: list[Pattern], negated: list[Pattern],
                relaxed: bool) -> list[EngineRule]:
    """The rule plus the mitigation's patterns; ``relaxed``: its tests also pass when undecided.

    A relaxed join ("holds, or this field is unknown") cannot sit inside an "or" in the
    engine, so a relaxed rule may become several engine rules, one per way of choosing.
    """
    def loosen(t: Test, fact: str) -> Test:
        return relax(t, _linker(fact)) if relaxed else t

    patterns = list(main)
    for ref in mit.on:
        fact = next(p.fact for p in main if p.alias == ref.on)
        tests = tuple(loosen(t, fact) for t in _tests(ref.on, ref.where, ref.any_of))
        patterns = [Pattern(p.alias, p.fact, p.tests, p.scope, p.negated, p.role, (*p.refinements, tests))
                    if p.alias == ref.on and not p.negated else p for p in patterns]
    extra = [Pattern(p.alias, p.fact, tuple(loosen(t, p.fact) for t in _tests(p.alias, p.where, p.any_of)),
                     role="mitigation", scope=_scope(spec, p, live=not p.past)) for p in mit.all]
    # A mitigation's `none` applies only when no fact might match (relaxed negation); it is
    # possible unless some fact definitely matches (strict negation).
    extra_negated: list[Pattern] = []
    for p in mit.none:
        tests = _tests(p.alias, p.where, p.any_of)
        parts = [tests] if relaxed else split_joins(tuple(relax(t, _linker(p.fact)) for t in tests))
        extra_negated += [Pattern(_copy(p.alias, k), p.fact, part, negated=True, role="mitigation",
                                  scope=_scope(spec, p, live=True)) for k, part in enumerate(parts)]
    choices: list[list[tuple[Pattern, tuple[tuple[str, str], ...]]]] = []
    for pat in (*patterns, *extra):
        if pat.negated:
            choices.append([(pat, ())])
            continue
        variants = itertools.product(split_joins_needing(pat.tests),
                                     *(split_joins_needing(r) for r in pat.refinements))
        choices.append([(Pattern(pat.alias, pat.fact, v[0][0], pat.scope, pat.negated, pat.role,
                                 tuple(r for r, _ in v[1:])), tuple(x for _, n in v for x in n)) for v in variants])
    out = []
    for k, combo in enumerate(itertools.product(*choices)):
        needs = {x for _, n in combo for x in n}
        patterns_k = [Pattern(p.alias, p.fact, p.tests + tuple(Either((Exists(f, True), Missing(f)))
                                                              for a, f in sorted(needs) if a == p.alias),
                              p.scope, p.negated, p.role, p.refinements) for p, _ in combo]
        out.append(EngineRule(name if k == 0 else f"{name}#{k}", (*patterns_k, *negated, *extra_negated)))
    return out


def _mitigation_fields(mit: MitigationSpec) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for ref in mit.on:
        for alias, f in _reads(ref.on, ref.conjunctions()):
            out.setdefault(alias, set()).add(f)
    for p in mit.all:
        for alias, f in _reads(p.alias, p.conjunctions()):
            out.setdefault(alias, set()).add(f)
    return {a: frozenset(f) for a, f in out.items()}


def _terms(p: PatternSpec, checks: Iterable[Check]) -> list[str]:
    """The fields ``checks`` test on ``p``'s fact that are terms (links between facts,
    ``previous: {ref: prev.id}`` and the like, are not)."""
    vocab = FACT_TYPES[p.fact]
    return [c.field for c in checks if not (isinstance(c, RefTest) and c.alias != p.alias and vocab[c.field].kind == "id")]


def _operative(spec: RuleSpec, positives: tuple[PatternSpec, ...]) -> tuple[str, str] | None:
    """The term a flag points at: the rule's ``operative`` (``alias.field``, or ``alias`` for
    that pattern's last term) when its alias is in this alternative, else the last field
    tested on the last pattern that tests a term."""
    named = spec.rule.operative.split(".") if spec.rule.operative else []
    for p in positives:
        if named and p.alias == named[0]:
            if len(named) == 2:
                return p.alias, named[1]
            terms = _terms(p, p.checks())
            return (p.alias, terms[-1]) if terms else None
    for p in reversed(positives):
        terms = _terms(p, p.checks())
        if terms:
            return p.alias, terms[-1]
    return None


def _branches(spec: RuleSpec, name: str, positives: tuple[PatternSpec, ...], main: list[Pattern],
              negated: list[Pattern], operative: tuple[str, str] | None) -> tuple[tuple[str, EngineRule], ...]:
    """When the operative term's pattern has ``any_of`` branches: per branch, the main rule
    with only that branch, and the term it points at (the named field when the branch or the
    pattern's ``where`` tests it, else the branch's last term), so a flag points at the term
    of the branch that matched."""
    if operative is None:
        return ()
    n, p = next((n, p) for n, p in enumerate(positives) if p.alias == operative[0])
    if not p.any_of:
        return ()
    named = operative[1] if spec.rule.operative and "." in spec.rule.operative else None
    where = _tests(p.alias, p.where, ())
    out = []
    for b, branch in enumerate(p.any_of):
        terms = _terms(p, branch.checks)
        field = named if named in (*_terms(p, p.where.checks), *terms) else (terms[-1] if terms else operative[1])
        patterns = list(main)
        patterns[n] = Pattern(p.alias, p.fact, (*where, _conjunction(p.alias, branch)), scope=main[n].scope)
        out.append((field, EngineRule(f"{name}|branch:{b}", (*patterns, *negated))))
    return tuple(out)


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
