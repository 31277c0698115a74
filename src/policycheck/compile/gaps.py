"""Gap rules: fact combinations a rule would look at but for an undecided link.

A link (``id: {ref: later.licence_version}``) says which facts belong together. When one side
of it is unknown or unstated (a model whose ``released_under`` is left out, a model whose place
in its family is unknown), no fact can be said to be on the other side, so the ``present``
rule finds no combination there and the rule could read ``clear`` or ``not applicable`` about
facts it never looked at. A gap rule finds those combinations: ``present`` with one or more of
its links replaced by "this side is unknown or unstated" (and the other side not absent: a
field a fact does not have cannot be joined whatever the value). Every way of choosing, over
the links whose sides may be missing (``vocabulary.MAY_BE_MISSING``), is one engine rule, as
the engine cannot hold a join inside an "or". A gap match is never settled: the rule is not
assessed there, for want of the missing side.

The facts on the far side of a replaced link are bound to any fact in scope; only the missing
fields (``Gap.missing``: alias and field) say what the rule lacked.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from policycheck.compile.ir import EngineRule, Either, Exists, Missing, Pattern, Ref, Test
from policycheck.model.vocabulary import ALWAYS_PRESENT, MAY_BE_MISSING

__all__ = ["Gap", "gap_rules"]


@dataclass(frozen=True)
class Gap:
    """One gap engine rule and the (alias, field) pairs its matches lack."""

    rule: EngineRule
    missing: tuple[tuple[str, str], ...]


# one way of treating a link: keep it, or take one side as missing
_Way = tuple[str, str] | None   # (alias, field) taken as missing; None: the link holds


def gap_rules(name: str, present: list[Pattern], is_link: dict[int, tuple[Ref, ...]]) -> tuple[Gap, ...]:
    """The gap rules of an alternative whose ``present`` patterns are ``present``; ``is_link``
    gives, per pattern position, its link tests (as they appear in that pattern's tests)."""
    types = {p.alias: p.fact for p in present}
    slots: list[tuple[int, Ref, list[_Way]]] = []
    for n, links in sorted(is_link.items()):
        own = present[n]
        for link in links:
            ways: list[_Way] = [None]
            if link.field in MAY_BE_MISSING.get(own.fact, frozenset()):
                ways.append((own.alias, link.field))
            if link.other in MAY_BE_MISSING.get(types.get(link.alias, ""), frozenset()):
                ways.append((link.alias, link.other))
            if len(ways) > 1:
                slots.append((n, link, ways))
    out: list[Gap] = []
    for k, choice in enumerate(itertools.product(*(ways for _, _, ways in slots))):
        if all(w is None for w in choice):
            continue   # every link holds: that is the present rule
        dropped: dict[int, set[Ref]] = {}
        extra: dict[str, list[Test]] = {}
        missing: list[tuple[str, str]] = []
        for (n, link, _), way in zip(slots, choice):
            if way is None:
                continue
            dropped.setdefault(n, set()).add(link)
            alias, field = way
            other = (link.alias, link.other) if alias == present[n].alias else (present[n].alias, link.field)
            extra.setdefault(alias, []).append(Missing(field))
            if other[1] not in ALWAYS_PRESENT.get(types[other[0]], frozenset()):
                extra.setdefault(other[0], []).append(Either((Exists(other[1], True), Missing(other[1]))))
            missing.append(way)
        patterns = tuple(
            Pattern(p.alias, p.fact,
                    tuple(t for t in p.tests if t not in dropped.get(i, set())) + tuple(extra.get(p.alias, ())),
                    scope=p.scope)
            for i, p in enumerate(present))
        out.append(Gap(EngineRule(f"{name}|gap:{k}", patterns), tuple(sorted(set(missing)))))
    return tuple(out)
