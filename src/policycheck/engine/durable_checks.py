"""Rules the durable_rules engine cannot run correctly, refused when the rule pack loads.

Plain Python (durable_rules is not imported), called through ``engine.load_problems``.
Each refusal is a durable bug described in docs/engine.md:

* a join to another pattern inside ``any_of``: the C join evaluator ignores or misreads
  joins inside ``$or``;
* a reference from or to a list field: error 312;
* an ordering or ``ne`` join from a ``none`` pattern to a field not every fact of the other
  type has: error 311, and guarding the field on the positive side would change when the
  rule fires (fields in ``ALWAYS_PRESENT`` are safe);
* a ``none`` or mitigation pattern that compares two of its own fields inside ``any_of``, or
  whose three-valued ("true or undecided") form has more alternatives than durable
  registers: each test becomes "holds, or its field is unknown", and durable expands the
  "or"s (error 113 at registration; at most ``RELAXED_BUDGET`` alternatives).
"""

from __future__ import annotations

from collections.abc import Iterable

from policycheck.errors import Problem
from policycheck.model.conditions import Conjunction, FieldTest, PatternSpec, RefTest, RuleSpec
from policycheck.model.vocabulary import ALWAYS_PRESENT, FACT_TYPES


def load_problems(spec: RuleSpec) -> list[Problem]:
    problems: list[Problem] = []
    for positives in spec.when.alternatives():
        types = {p.alias: p.fact for p in (*positives, *spec.when.none)}
        for p in (*positives, *spec.when.none):
            problems += _conjunctions(p.alias, p.fact, p.where, p.any_of, types)
        for mit in spec.mitigations:
            mtypes = dict(types)
            for ref in mit.on:
                if ref.on in mtypes:
                    problems += _conjunctions(ref.on, mtypes[ref.on], ref.where, ref.any_of, mtypes)
            for p in (*mit.all, *mit.none):
                mtypes[p.alias] = p.fact
                problems += _conjunctions(p.alias, p.fact, p.where, p.any_of, mtypes)
    for p in (*spec.when.none, *(q for mit in spec.mitigations for q in mit.all), *(q for mit in spec.mitigations for q in mit.none)):
        problems += _deep_relaxed(p)
    for positives in spec.when.alternatives():
        types = {p.alias: p.fact for p in positives}
        problems += _negated_order_joins(spec.when.none, types)
        for mit in spec.mitigations:
            problems += _negated_order_joins(mit.none, {**types, **{p.alias: p.fact for p in mit.all}})
    if not problems:
        problems = registration(spec)
    return list(dict.fromkeys(problems))


def registration(spec: RuleSpec) -> list[Problem]:
    """The rule compiled and written in durable's dialect as the adapter registers it, checked
    against the C limits (``durable_shape.registration_problems``: error 113, the hang at 512
    sibling tests, error 303): such a rule is refused here, when the pack loads, instead of
    hanging or failing at assess time. Each problem is located at the rule pattern it comes from."""
    from policycheck.compile import compiled
    from policycheck.engine.durable_alpha import STACK
    from policycheck.engine.durable_prepare import prepared
    from policycheck.engine.durable_shape import shape_limits, stack_depth, stack_problems
    from policycheck.engine.durable_translate import translate

    places = {p.alias: p.loc for p in (*spec.when.all, *spec.when.any, *spec.when.none)}
    for mit in spec.mitigations:
        for p in (*mit.all, *mit.none):
            places.setdefault(p.alias, p.loc)
    out: list[Problem] = []
    for rule in translate([compiled(spec)]):
        prep = prepared(rule)   # the engine build reuses this work (once per rule per process)
        out += [Problem(f"the engine cannot run this rule: {why}", spec.loc.location()) for why in prep.problems]
        found = len(out)
        for pattern, form in zip(rule.patterns, prep.patterns):
            alias = pattern.alias.split("_or")[0]
            why = shape_limits(alias, form.canonical)
            if prep.depth > STACK:  # locate the overflow at the pattern when one alone overflows
                why += stack_problems(alias, stack_depth([pattern.expression]))
            out += [Problem(f"the engine cannot run this rule: {w}", places.get(alias, spec.loc).location()) for w in why]
        if prep.depth > STACK and len(out) == found:  # each pattern fits, but not all of them together
            out.append(Problem(f"the engine cannot run this rule: its patterns let one fact push {prep.depth} alpha "
                               f"nodes at once; durable_rules holds {STACK} (error 303); split it into several rules",
                               spec.loc.location()))
    return list(dict.fromkeys(out))


def _conjunctions(alias: str, fact: str, where: Conjunction, any_of: tuple[Conjunction, ...],
                  types: dict[str, str]) -> list[Problem]:
    problems = _list_refs(fact, where.checks, types)
    for branch in any_of:
        problems += _list_refs(fact, branch.checks, types)
        joins = [c for c in branch.checks if isinstance(c, RefTest) and c.alias != alias and not _lists(fact, c, types)]
        if joins:  # durable_rules ignores or misreads joins inside $or (docs/engine.md)
            problems.append(Problem("a reference to another pattern cannot sit inside any_of; put the join in 'where' "
                                    "or use the rule-level 'any'", branch.loc.location()))
    return problems


def _lists(fact: str, ref: RefTest, types: dict[str, str]) -> tuple[str, str] | None:
    mine = FACT_TYPES[fact][ref.field].kind
    theirs = FACT_TYPES[types.get(ref.alias, fact)][ref.other].kind
    return (mine, theirs) if "list" in (mine, theirs) else None


def _list_refs(fact: str, checks: Iterable[object], types: dict[str, str]) -> list[Problem]:
    out = []
    for c in checks:
        if isinstance(c, RefTest) and (kinds := _lists(fact, c, types)) is not None:  # durable error 312
            out.append(Problem(f"cannot compare list fields by reference ('{kinds[0]}' with '{kinds[1]}')",
                               c.loc.location()))
    return out


RELAXED_BUDGET = 48


def _alternatives(checks: Iterable[object]) -> int:
    """How many "or" alternatives the relaxed form of a conjunction of checks expands to."""
    n = 1
    for c in checks:
        if isinstance(c, RefTest):
            n *= 1 if c.op == "eq" and c.other == "id" else 2
        elif isinstance(c, FieldTest):
            size = len(c.value) if c.op in ("in", "not_in", "contains_any", "contains_all") else 1
            n *= {"in": size + 1, "contains_any": size + 1}.get(c.op, 2 ** size)
    return n


def _deep_relaxed(p: PatternSpec) -> list[Problem]:
    """A pattern the compiler relaxes that durable cannot register (error 113)."""
    width = _alternatives(p.where.checks) * (sum(_alternatives(b.checks) for b in p.any_of) or 1) \
        * max(1, len({c.field for c in p.checks()}))
    if width > RELAXED_BUDGET:
        return [Problem(f"this 'none' or mitigation pattern has too many tests for the engine to decide it when "
                        f"fields are unknown ({width} alternatives, at most {RELAXED_BUDGET}; durable_rules error "
                        "113); split it into several patterns or rules", p.loc.location())]
    return [Problem("a 'none' or mitigation pattern cannot compare two of its own fields inside any_of "
                    "(durable_rules error 113); move the comparison to 'where' or split the rule",
                    branch.loc.location())
            for branch in p.any_of if any(isinstance(c, RefTest) and c.alias == p.alias for c in branch.checks)][:1]


def _negated_order_joins(patterns: Iterable[PatternSpec], types: dict[str, str]) -> list[Problem]:
    """``ne``/``lt``/... joins from a ``none`` pattern to a field not every fact has (error 311)."""
    out = []
    for p in patterns:
        for c in p.checks():
            if not isinstance(c, RefTest) or c.op == "eq" or c.alias == p.alias:
                continue
            if c.other not in ALWAYS_PRESENT.get(types.get(c.alias, ""), ()):
                out.append(Problem(f"a 'none' pattern can compare with '{c.op}' only fields every fact has "
                                   f"(such as id, date or seq), not '{c.alias}.{c.other}'; use eq", c.loc.location()))
    return out
