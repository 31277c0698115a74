"""Rule selection at run time: ``--rule``, ``--skip-rule``, ``--family`` and ``--condition``.

``select_rules(pack, ...)`` returns the pack holding only the selected rules (a pack of its
own, with its own digest, so the engine and every output see exactly the rules that ran):

- ``rules``: keep the rules whose id matches one of these ids or globs (``*``, ``?``, ``[...]``);
- ``families``: keep the rules of one of these families (the rule file's folder name);
- ``conditions``: keep the rules tagged with one of these conditions (C1-C4, OTC; any case);
- ``skip``: then drop the rules whose id matches one of these ids or globs.

Kinds combine with *and* (``--family deals --condition C1``: deal rules tagged C1); values of
one kind with *or*. An id, glob, family or condition that matches no rule of the pack is an
error (with the nearest valid name), and so is a selection that leaves no rule: a typo must
never turn into a run that checks nothing.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Sequence

from policycheck.errors import InputError, Location, Problem, suggest
from policycheck.load.rules import RulePack
from policycheck.model.rule import CONDITIONS

_GLOB = frozenset("*?[")


def _matches(rule_id: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(rule_id, pattern) if _GLOB & set(pattern) else rule_id == pattern


def _nothing(what: str, value: str, candidates: Sequence[str], option: str) -> Problem:
    return Problem(f"{what} '{value}' matches no rule of the pack", Location(option), suggest(value, candidates))


def select_rules(pack: RulePack, *, rules: Sequence[str] = (), skip: Sequence[str] = (),
                 families: Sequence[str] = (), conditions: Sequence[str] = ()) -> RulePack:
    """The pack with only the selected rules (the pack itself when nothing is selected or skipped).
    Raises InputError naming every id, glob, family or condition that matches nothing."""
    if not (rules or skip or families or conditions):
        return pack
    ids = [r.id for r in pack.rules]
    known_families = sorted({r.family for r in pack.rules})
    problems: list[Problem] = []
    for option, values in (("--rule", rules), ("--skip-rule", skip)):
        for value in values:
            if not any(_matches(i, value) for i in ids):
                kind = "glob" if _GLOB & set(value) else "rule id"
                problems.append(_nothing(kind, value, ids, option))
    for value in families:
        if value.lower() not in {f.lower() for f in known_families}:
            problems.append(_nothing("family", value, known_families, "--family"))
    wanted_conditions = set()
    for value in conditions:
        name = next((c for c in CONDITIONS if c.lower() == value.lower()), None)
        if name is None:
            problems.append(Problem(f"unknown condition '{value}'; expected one of: {', '.join(CONDITIONS)}",
                                    Location("--condition"), suggest(value.upper(), CONDITIONS)))
        elif not any(name in r.rule.conditions for r in pack.rules):
            problems.append(_nothing("condition", value, list(CONDITIONS), "--condition"))
        else:
            wanted_conditions.add(name)
    if problems:
        raise InputError(problems)
    lowered = {f.lower() for f in families}
    kept = [r for r in pack.rules
            if (not rules or any(_matches(r.id, p) for p in rules))
            and (not families or r.family.lower() in lowered)
            and (not conditions or wanted_conditions & set(r.rule.conditions))
            and not any(_matches(r.id, p) for p in skip)]
    if not kept:
        raise InputError([Problem("the rule selection leaves no rule to run (check --rule, --skip-rule, "
                                  "--family and --condition)", Location("--rule"))])
    if len(kept) == len(pack.rules):
        return pack
    hasher = hashlib.sha256()
    for r in kept:   # as load_rules digests a pack: the rules' ids and bytes, in id order
        hasher.update(r.id.encode() + b"\0" + r.data + b"\0")
    return RulePack(tuple(kept), hasher.hexdigest()[:16])
