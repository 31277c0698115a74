"""The engine-neutral compiled form of a rule: engine rules as patterns of plain tests.

An engine (``policycheck.engine``) matches ``EngineRule`` patterns against facts and reports
which facts each rule matched; it translates these nodes into its own dialect and knows
how to encode facts. Nothing here knows any engine's syntax.

Tests on the pattern's own fact:

* ``Compare(field, op, value)``: the field is present and ``field <op> value``;
* ``Contains(field, value)``: the list field holds ``value``;
* ``Exists(field, present)``: the field has a value (``present``), or the fact says it has
  none (not applicable: no value and not unknown or unstated); both fail on an unknown field;
* ``Known(field)``: the field is not unknown and not unstated (the fact says what it is);
* ``Missing(field)``: the field is unknown or unstated (the complement of ``Known``);
* ``Lacks(field, value)``: the list field is known and does not hold ``value``;
* ``Live()``: the fact is in force at the instant evaluated;
* ``Ref(field, op, alias, other)``: ``field <op> alias.other``; ``alias`` is the pattern's
  own alias for a same-fact comparison (``same``), else an earlier positive pattern (a join);
  ``rank`` compares the two values' places on their field's scale (``vocabulary.SCALES``);
* ``All(items)`` / ``Either(items)``: and / or (``All(())`` is always true).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["rule", "none", "mitigation"]
CompareOp = Literal["eq", "ne", "lt", "lte", "gt", "gte"]
_OPPOSITE: dict[str, CompareOp] = {"eq": "ne", "ne": "eq", "lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}


@dataclass(frozen=True)
class Compare:
    field: str
    op: CompareOp
    value: Any


@dataclass(frozen=True)
class Contains:
    field: str
    value: Any


@dataclass(frozen=True)
class Exists:
    field: str
    present: bool = True


@dataclass(frozen=True)
class Known:
    field: str


@dataclass(frozen=True)
class Missing:
    field: str


@dataclass(frozen=True)
class Lacks:
    field: str
    value: Any


@dataclass(frozen=True)
class Live:
    pass


@dataclass(frozen=True)
class Ref:
    field: str
    op: CompareOp
    alias: str
    other: str
    same: bool = False          # a comparison of two fields of the pattern's own fact
    rank: bool = False          # compare places on the field's scale, not the values


@dataclass(frozen=True)
class All:
    items: tuple[Test, ...]


@dataclass(frozen=True)
class Either:
    items: tuple[Test, ...]


Test = Compare | Contains | Exists | Known | Missing | Lacks | Live | Ref | All | Either


@dataclass(frozen=True)
class Pattern:
    """Matches one fact of type ``fact``, bound to ``alias``, that passes every test.

    ``role`` says where the pattern comes from: the rule's own positive patterns
    (``when.all`` and an ``any`` pattern), one of its ``none`` patterns (negated, or positive
    in a refuter), or a mitigation's ``all`` / ``none``; ``refinements`` are the conjunctions
    a mitigation's ``on`` adds to a rule pattern, in order. ``scope`` holds the tests every
    engine rule of the alternative keeps (the fact is in force; a licence kind the rule
    applies to): a fact out of scope is not looked at at all.
    """

    alias: str
    fact: str
    tests: tuple[Test, ...] = ()
    scope: tuple[Test, ...] = ()
    negated: bool = False
    role: Role = "rule"
    refinements: tuple[tuple[Test, ...], ...] = ()


@dataclass(frozen=True)
class EngineRule:
    """Matches when every positive pattern matches a fact and no negated pattern does."""

    name: str
    patterns: tuple[Pattern, ...]


@dataclass(frozen=True)
class Alternative:
    """One alternative of a rule (``all`` plus one ``any`` pattern) and its engine rules.

    ``main`` matches are flags; ``present`` (the facts and joins, no value tests) and
    ``complete`` (``present`` plus every field read is known, and no ``none`` pattern left
    undecided by an unknown field) decide whether a rule that did not fire was assessed; a
    ``refuters`` match settles "does not match" although some field is unknown; a
    ``mitigations`` match applies that mitigation to the flag, and a ``possible`` match of a
    mitigation that did not apply shows it as pending (it would apply but for unknown fields).
    """

    index: int
    aliases: tuple[str, ...]                       # positive aliases, in pattern order
    types: dict[str, str]                          # alias -> fact type, in this alternative
    fields: dict[str, frozenset[str]]              # alias -> fields this alternative reads
    main: EngineRule
    present: EngineRule
    complete: EngineRule
    refuters: tuple[EngineRule, ...] = ()
    mitigations: tuple[tuple[str, EngineRule], ...] = ()   # (mitigation id, engine rule)
    possible: tuple[tuple[str, EngineRule], ...] = ()      # (mitigation id, relaxed engine rule)
    mitigation_fields: dict[str, dict[str, frozenset[str]]] | None = None  # mitigation id -> alias -> fields
    operative: tuple[str, str] | None = None               # (alias, field) a flag points at
    also: tuple[EngineRule, ...] = ()                      # more rules whose matches are flags too
    branches: tuple[tuple[str, EngineRule], ...] = ()      # (operative field, main with one any_of branch)
    gaps: tuple[tuple[EngineRule, tuple[tuple[str, str], ...]], ...] = ()  # (gap rule, (alias, field) it lacks)

    def engine_rules(self) -> tuple[EngineRule, ...]:
        return (self.main, *self.also, self.present, self.complete, *self.refuters,
                *(r for _, r in self.mitigations), *(r for _, r in self.possible), *(r for _, r in self.branches),
                *(r for r, _ in self.gaps))


@dataclass(frozen=True)
class CompiledRule:
    rule_id: str
    alternatives: tuple[Alternative, ...]

    def engine_rules(self) -> tuple[EngineRule, ...]:
        return tuple(r for alt in self.alternatives for r in alt.engine_rules())


def is_join(test: Test) -> bool:
    """A reference to another pattern's fact."""
    return isinstance(test, Ref) and not test.same


def complement(test: Test) -> Test | None:
    """The test that holds exactly when ``test`` fails on a fact whose fields are known.

    Unknown and unstated fields are absent from facts, and every comparison on an absent
    field is false: a complement matches a known value that fails the test, or a field the fact
    says it does not have (not applicable: no value and no unknown marker), on which the test
    is false for certain. ``exists: true`` and ``exists: false`` are each other's complement
    (both fail on an unknown field), as are ``Contains`` and ``Lacks``. Joins have no
    complement here (the compiler gives each value join its own refuters).
    """
    if isinstance(test, Compare):
        return Either((Compare(test.field, _OPPOSITE[test.op], test.value), Exists(test.field, False)))
    if isinstance(test, Exists):
        return Exists(test.field, not test.present)
    if isinstance(test, Contains):
        return Either((Lacks(test.field, test.value), Exists(test.field, False)))
    if isinstance(test, Lacks):
        return Either((Contains(test.field, test.value), Exists(test.field, False)))
    if isinstance(test, Ref):
        if not test.same:
            return None
        return Either((Ref(test.field, _OPPOSITE[test.op], test.alias, test.other, test.same, test.rank),
                       Exists(test.field, False), Exists(test.other, False)))
    if isinstance(test, All):
        if not test.items:
            return None
        parts = [complement(t) for t in test.items]
        return None if any(p is None for p in parts) else Either(tuple(p for p in parts if p is not None))
    if isinstance(test, Either):
        parts = [complement(t) for t in test.items]
        if any(p is None for p in parts):
            return None
        return _factored(tuple(p for p in parts if p is not None))
    return None


def _factored(parts: tuple[Test, ...]) -> Test:
    """``All(parts)``, with a branch every part shares taken out: All(A1 or N, A2 or N) is
    (A1 and A2) or N. The complement of ``contains_any`` over n values would otherwise be an
    "and" of n "or"s, which the engine expands to 2^n alternatives (the engine refuses it)."""
    if len(parts) > 1 and all(isinstance(p, Either) for p in parts):
        shared = [x for x in parts[0].items if all(x in p.items for p in parts)]  # type: ignore[union-attr]
        if shared:
            rests = []
            for p in parts:
                rest = tuple(x for x in p.items if x not in shared)  # type: ignore[union-attr]
                if not rest:
                    return Either(tuple(shared))
                rests.append(rest[0] if len(rest) == 1 else Either(rest))
            return Either((All(tuple(rests)), *shared))
    return All(parts)


def fields_of(test: Test) -> set[str]:
    """The pattern's own fields a test reads (not the other side of a join)."""
    if isinstance(test, (Compare, Contains, Exists, Known, Missing, Lacks, Ref)):
        return {test.field} if not isinstance(test, Ref) else ({test.field, test.other} if test.same else {test.field})
    if isinstance(test, (All, Either)):
        return set().union(*(fields_of(t) for t in test.items)) if test.items else set()
    return set()


def split_joins(tests: tuple[Test, ...]) -> list[tuple[Test, ...]]:
    """Conjunctions without a join inside an "or": each top-level ``Either`` holding a join is
    expanded into one conjunction per branch (for a negated pattern, "no fact matches A or B"
    is "no fact matches A" and "no fact matches B")."""
    return [tests for tests, _ in split_joins_needing(tests)]


def split_joins_needing(tests: tuple[Test, ...]) -> list[tuple[tuple[Test, ...], tuple[tuple[str, str], ...]]]:
    """``split_joins``, with what each conjunction needs of the other patterns: a branch that
    takes "this side of the join is unknown" needs the other side to exist or be unknown (a
    comparison with a field the other fact does not have can never hold)."""
    out: list[tuple[tuple[Test, ...], tuple[tuple[str, str], ...]]] = [((), ())]
    for t in tests:
        if isinstance(t, Either) and any(is_join(x) for x in t.items):
            join = next(x for x in t.items if isinstance(x, Ref) and is_join(x))
            out = [((*o, x), (*n, *(((join.alias, join.other),) if isinstance(x, Missing) else ())))
                   for o, n in out for x in t.items]
        else:
            out = [((*o, t), n) for o, n in out]
    return out


def relax(test: Test, link: Callable[[Ref], bool] = lambda r: False) -> Test:
    """The test that holds when ``test`` holds or cannot be decided because a field it reads is
    unknown or unstated (three-valued "true or undecided"). A join becomes "the join holds, or
    this fact's field is unknown" (``split_joins`` turns that into separate patterns: the
    engine cannot hold a join inside an "or"); a ``link`` (an id equal to another fact's id
    field, always known) stays as it is."""
    if isinstance(test, (Compare, Contains, Exists, Lacks)):
        return Either((test, Missing(test.field)))
    if isinstance(test, Ref):
        if is_join(test):
            return test if link(test) else Either((test, Missing(test.field)))
        missing = tuple(Missing(f) for f in sorted(fields_of(test)))
        return Either((test, *missing))
    if isinstance(test, All):
        return All(tuple(relax(t, link) for t in test.items))
    if isinstance(test, Either):
        return Either(tuple(relax(t, link) for t in test.items))
    return test
