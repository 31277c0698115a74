"""The typed rule language: a rule's ``when`` / ``where`` / ``mitigated_by`` after parsing.

A rule file is first validated as ``model.rule.Rule`` (the file format: ``where`` is still a
raw mapping there). ``load.parse`` then parses it, once, against the fact vocabulary into
the models below; every later stage (compiler, lint, coverage, the reference evaluator in
the tests) reads these and never looks at the raw mappings again.

    where: {commercial_use: {stricter: {ref: prev.commercial_use}}, seq: {gt: 1}, licence: {ref: prev.licence}}

becomes three checks on the pattern's fact::

    RefTest(field="commercial_use", op="stricter", alias="prev", other="commercial_use")
    FieldTest(field="seq", op="gt", value=1)
    RefTest(field="licence", op="eq", alias="prev", other="licence")

Every node carries ``loc``: the place in the rule file it was parsed from, so an error or a
lint finding about it points at the right line.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from policycheck.errors import Location
from policycheck.model.rule import Rule, Severity

Op = Literal["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "contains_any", "contains_all",
             "exists", "stricter", "looser"]
RefOp = Literal["eq", "ne", "lt", "lte", "gt", "gte", "stricter", "looser"]
OPERATORS: tuple[str, ...] = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "contains_any",
                              "contains_all", "exists", "stricter", "looser")
REF_OPERATORS: tuple[str, ...] = ("eq", "ne", "lt", "lte", "gt", "gte", "stricter", "looser")
SCALE_OPERATORS: tuple[str, ...] = ("stricter", "looser")   # places on a field's scale (vocabulary.SCALES)
ORDERING: tuple[str, ...] = ("lt", "lte", "gt", "gte")


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Loc(_Node):
    """Where a node was written: the rule file, 1-based line and column, and the field path."""

    file: str
    line: int | None = None
    column: int | None = None
    path: tuple[str | int, ...] = ()

    def location(self) -> Location:
        """The place as an error reports it (what ``Document.location`` gives for ``path``)."""
        text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path).lstrip(".")
        return Location(self.file, self.line, self.column, text or None)


class FieldTest(_Node):
    """A test of one field of the pattern's own fact against a literal.

    ``value`` is typed by the field's kind: a scalar for eq/ne/lt/lte/gt/gte, a non-empty
    list of scalars for in/not_in/contains_any/contains_all, one item for ``contains``, and
    a bool for ``exists``.
    """

    kind: Literal["field"] = "field"
    field: str
    op: Op
    value: Any
    loc: Loc

    @property
    def reads(self) -> bool:
        """Whether the test needs to know the field: every test does (``exists`` too: an unknown
        field may or may not have a value)."""
        return True


class RefTest(_Node):
    """A comparison of a field of the pattern's fact with a field of a fact bound earlier
    (``alias``), or of the same fact when ``alias`` is the pattern's own alias."""

    kind: Literal["ref"] = "ref"
    field: str
    op: RefOp
    alias: str
    other: str
    loc: Loc


Check = FieldTest | RefTest


class Conjunction(_Node):
    """An AND of checks (one ``where`` map, or one ``any_of`` branch)."""

    checks: tuple[Check, ...] = ()
    loc: Loc


class PatternSpec(_Node):
    """Matches one fact of type ``fact`` bound to ``alias``: ``where`` AND (any ``any_of`` branch).

    ``negated`` patterns (a rule's or a mitigation's ``none``) match when no such fact exists.
    ``past`` patterns may match a fact no longer in force (the rule file's ``past: true``);
    so may a predecessor (a pattern another one reaches through ``previous``).
    """

    fact: str
    alias: str
    where: Conjunction
    any_of: tuple[Conjunction, ...] = ()
    negated: bool = False
    past: bool = False
    loc: Loc

    def conjunctions(self) -> tuple[Conjunction, ...]:
        return (self.where, *self.any_of)

    def checks(self) -> tuple[Check, ...]:
        return tuple(c for conj in self.conjunctions() for c in conj.checks)

    def joins(self) -> tuple[RefTest, ...]:
        """References to other patterns (not to the pattern's own fact)."""
        return tuple(c for c in self.checks() if isinstance(c, RefTest) and c.alias != self.alias)


class RefinementSpec(_Node):
    """More checks on a fact the rule already matched (a mitigation's ``on: <alias>``)."""

    on: str
    where: Conjunction
    any_of: tuple[Conjunction, ...] = ()
    loc: Loc

    def conjunctions(self) -> tuple[Conjunction, ...]:
        return (self.where, *self.any_of)

    def checks(self) -> tuple[Check, ...]:
        return tuple(c for conj in self.conjunctions() for c in conj.checks)


class MitigationSpec(_Node):
    id: str
    description: str
    severity: Severity
    raises: bool = False                  # an escalation (``escalated_by``): raises the severity
    on: tuple[RefinementSpec, ...] = ()
    all: tuple[PatternSpec, ...] = ()
    none: tuple[PatternSpec, ...] = ()
    loc: Loc


class WhenSpec(_Node):
    all: tuple[PatternSpec, ...]
    any: tuple[PatternSpec, ...] = ()
    none: tuple[PatternSpec, ...] = ()

    def alternatives(self) -> tuple[tuple[PatternSpec, ...], ...]:
        """The positive patterns of each alternative: ``all`` plus one ``any`` pattern (or ``all`` alone)."""
        if not self.any:
            return (self.all,)
        return tuple((*self.all, p) for p in self.any)


class RuleSpec(_Node):
    """A parsed rule: the file's metadata (``rule``) and its typed conditions."""

    rule: Rule
    when: WhenSpec
    mitigations: tuple[MitigationSpec, ...] = ()
    loc: Loc

    @property
    def id(self) -> str:
        return self.rule.id
