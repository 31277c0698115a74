"""Compile validated rules into engine rules (durable_rules JSON patterns, via engine.py's types).

Each rule becomes, per alternative of its ``any`` list (a rule without ``any`` has one):
- ``main``: the rule itself; every match is a flag;
- ``present``: the same facts and joins with no value tests (which fact combinations the rule looks at);
- ``complete``: ``present`` plus "every field the rule reads is known" (not unknown, not unstated);
- one rule per mitigation: ``main`` plus the mitigation's patterns.
``present`` and ``complete`` counts decide whether a rule that did not fire was assessed.

Type checks happen here, against the vocabulary, so that durable_rules' type coercion
("10" == 10, true == 1) can never be reached by a rule: every literal has its field's type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policycheck.engine.durable import EnginePattern, EngineRule
from policycheck.errors import Problem, suggest
from policycheck.model.rule import SEVERITY_ORDER, Pattern, Refinement, Rule
from policycheck.io.reader import Document, Path_
from policycheck.model.vocabulary import ALWAYS_PRESENT, FACT_TYPES, FieldSpec

OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "contains_any", "contains_all", "exists")
_ENGINE_OP = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_ORDERED = ("number", "int", "date")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\}")


def engine_field(name: str) -> str:
    """The engine reserves ``id``; the vocabulary's ``id`` travels as ``key``."""
    return "key" if name == "id" else name


def unknown_marker(name: str) -> str:
    return "u__" + engine_field(name)


@dataclass
class Alternative:
    main: str
    present: str
    complete: str
    aliases: tuple[str, ...]                       # positive aliases in engine pattern order
    mitigations: dict[str, str] = field(default_factory=dict)   # engine name -> mitigation id
    refuters: list[str] = field(default_factory=list)           # engine names that settle "does not match"


@dataclass
class CompiledRule:
    rule: Rule
    alternatives: list[Alternative]
    engine_rules: list[EngineRule]
    fields: dict[str, set[str]]                    # alias -> fields the rule reads
    types: dict[str, str]                          # alias -> fact type


class _Ctx:
    def __init__(self, doc: Document, base: Path_) -> None:
        self.doc, self.base = doc, base
        self.problems: list[Problem] = []
        self.types: dict[str, str] = {}
        self.fields: dict[str, set[str]] = {}

    def fail(self, path: Path_, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(message, self.doc.location(self.base + path), hint))


def compile_rule(rule: Rule, doc: Document) -> tuple[CompiledRule | None, list[Problem]]:
    ctx = _Ctx(doc, ())
    when = rule.when
    positives: list[tuple[str, Pattern, Path_]] = []
    for i, p in enumerate(when.all):
        positives.append((_alias(p), p, ("when", "all", i)))
    alts: list[list[tuple[str, Pattern, Path_]]] = [[]]
    if when.any:
        alts = [[(_alias(p), p, ("when", "any", i))] for i, p in enumerate(when.any)]
    negs = [(_alias(p), p, ("when", "none", i)) for i, p in enumerate(when.none)]

    seen: dict[str, Path_] = {}
    for alias, p, path in positives + [x for alt in alts for x in alt] + negs:
        if alias in seen and not (path[1] == "any" and seen[alias][1] == "any"):
            ctx.fail(path, f"alias '{alias}' is used twice; give one of the patterns another 'as'")
        seen.setdefault(alias, path)
        if p.fact not in FACT_TYPES:
            ctx.fail(path + ("fact",), f"unknown fact type '{p.fact}'", suggest(p.fact, FACT_TYPES))
        else:
            ctx.types[alias] = p.fact
            ctx.fields.setdefault(alias, set())
    if ctx.problems:
        return None, ctx.problems

    engine_rules: list[EngineRule] = []
    alternatives: list[Alternative] = []
    base_positive = [(a, p, path) for a, p, path in positives]
    for k, alt in enumerate(alts):
        for alias, p, _ in alt:  # alternatives of `any` may bind one alias to different fact types
            ctx.types[alias] = p.fact
        pos = base_positive + alt
        visible = [a for a, _, _ in pos]
        main, present, complete = [], [], []
        refuters: list[tuple[int, dict[str, Any]]] = []   # (pattern position, pattern that settles "no match")
        guards = _join_guards([*rule.when.all, *rule.when.any])
        for n, (alias, p, path) in enumerate(pos):
            earlier = visible[:n]
            tests, joins, known = _pattern_tests(ctx, alias, p.where, p.any_of, path, earlier)
            guard = [{"$ex": {engine_field(f): 1}} for f in sorted(guards.get(alias, ()))]
            tests, joins = guard + tests, guard + joins
            main.append(EnginePattern(alias, _and([{"t": p.fact}] + tests)))
            present.append(EnginePattern(alias, _and([{"t": p.fact}] + joins)))
            complete.append(EnginePattern(alias, _and([{"t": p.fact}] + joins + known)))
            for test in tests:
                opposite = complement(test) if test not in joins else None
                if opposite is not None:
                    refuters.append((n, _and([{"t": p.fact}] + joins + [opposite])))
        negated: list[EnginePattern] = []
        for alias, p, path in negs:
            tests, _, _ = _pattern_tests(ctx, alias, p.where, p.any_of, path, visible, record=False)
            negated.append(EnginePattern(alias, _and([{"t": p.fact}] + tests), negated=True))
        main += negated
        name = f"{rule.id}|{k}"
        alt_info = Alternative(f"{name}|main", f"{name}|present", f"{name}|complete", tuple(visible))
        engine_rules += [EngineRule(alt_info.main, tuple(main)), EngineRule(alt_info.present, tuple(present)),
                         EngineRule(alt_info.complete, tuple(complete))]
        # Refuters: a known field that contradicts one test, or a fact that a `none` pattern
        # forbids, settles that the rule does not match even when other fields are unknown.
        for r_i, (n, expr) in enumerate(refuters):
            patterns = list(present)
            patterns[n] = EnginePattern(patterns[n].alias, expr)
            alt_info.refuters.append(f"{name}|refute:{r_i}")
            engine_rules.append(EngineRule(alt_info.refuters[-1], tuple(patterns)))
        for r_i, neg in enumerate(negated):
            alt_info.refuters.append(f"{name}|refute:none:{r_i}")
            engine_rules.append(EngineRule(alt_info.refuters[-1],
                                           tuple(present) + (EnginePattern(neg.alias, neg.expression),)))
        for m_i, mit in enumerate(rule.mitigated_by):
            mpath: Path_ = ("mitigated_by", m_i)
            if SEVERITY_ORDER[mit.severity] >= SEVERITY_ORDER[rule.severity]:
                if k == 0:
                    ctx.fail(mpath + ("severity",), f"a mitigation must lower the severity below '{rule.severity}'")
            mguards = _join_guards([*mit.when.on, *mit.when.all])
            patterns = [EnginePattern(x.alias, _and([x.expression] + [{"$ex": {engine_field(f): 1}}
                                                                       for f in sorted(mguards[x.alias])]))
                        if x.alias in mguards and not x.negated else x for x in main]
            for r_i, ref in enumerate(mit.when.on):
                patterns = _refine(ctx, patterns, ref, mpath + ("when", "on", r_i), visible)
            mvisible = list(visible)
            extra: list[EnginePattern] = []
            for a_i, p in enumerate(mit.when.all):
                alias, path = _alias(p), mpath + ("when", "all", a_i)
                if not _declare(ctx, alias, p, path, mvisible + [a for a, _, _ in negs]):
                    continue
                tests, _, _ = _pattern_tests(ctx, alias, p.where, p.any_of, path, mvisible, record=False)
                extra.append(EnginePattern(alias, _and([{"t": p.fact}] + tests)))
                mvisible.append(alias)
            for a_i, p in enumerate(mit.when.none):
                alias, path = _alias(p), mpath + ("when", "none", a_i)
                if not _declare(ctx, alias, p, path, mvisible + [a for a, _, _ in negs]):
                    continue
                tests, _, _ = _pattern_tests(ctx, alias, p.where, p.any_of, path, mvisible, record=False)
                extra.append(EnginePattern(alias, _and([{"t": p.fact}] + tests), negated=True))
            positives_first = [x for x in patterns if not x.negated] + [x for x in extra if not x.negated]
            negatives = [x for x in patterns if x.negated] + [x for x in extra if x.negated]
            mname = f"{name}|mit:{mit.id}"
            alt_info.mitigations[mname] = mit.id
            engine_rules.append(EngineRule(mname, tuple(positives_first + negatives)))
        alternatives.append(alt_info)

    _negated_order_joins(ctx, [(p, ("when", "none", i)) for i, p in enumerate(when.none)]
                         + [(p, ("mitigated_by", m, "when", "none", i)) for m, mit in enumerate(rule.mitigated_by)
                            for i, p in enumerate(mit.when.none)])
    named = {a for a, _, _ in base_positive + [x for alt in alts for x in alt]}
    for alt in alts:  # a placeholder must name a field of its alias's fact type in every alternative
        for alias, p, _ in alt:
            ctx.types[alias] = p.fact
        _check_placeholders(ctx, rule.message, ("message",), named)
    ctx.problems = list(dict.fromkeys(ctx.problems))
    if ctx.problems:
        return None, ctx.problems
    return CompiledRule(rule, alternatives, engine_rules, ctx.fields, ctx.types), []


_OPPOSITE = {"$lt": "$gte", "$lte": "$gt", "$gt": "$lte", "$gte": "$lt"}


def _join_guards(patterns: list[Pattern] | list[Pattern | Refinement]) -> dict[str, set[str]]:
    """Fields that ``patterns`` compare with an ordering or ``ne`` join to another pattern, per alias.

    durable_rules raises error 311 when such a join reads a field the fact lacks, so the
    referenced pattern itself requires the field to exist (a missing field fails every
    test anyway, so this changes no result). Joins from the rule's own patterns guard the
    rule; joins from a mitigation's patterns guard only that mitigation's engine rule.
    A ``none`` pattern may not make such a join (see ``_negated_order_joins``): guarding the
    positive side would change when the rule fires.
    """
    out: dict[str, set[str]] = {}
    for p in patterns:
        own = p.on if isinstance(p, Refinement) else _alias(p)
        for where in [p.where, *p.any_of]:
            for spec in where.values():
                if not isinstance(spec, dict) or "ref" in spec:
                    continue
                for op, operand in spec.items():
                    if op != "eq" and isinstance(operand, dict) and isinstance(operand.get("ref"), str) \
                            and operand["ref"].count(".") == 1:
                        other, name = operand["ref"].split(".")
                        if other != own:
                            out.setdefault(other, set()).add(name)
    return out


def _negated_order_joins(ctx: _Ctx, patterns: list[tuple[Pattern, Path_]]) -> None:
    """Refuse ``ne``/``lt``/... joins from a ``none`` pattern to another pattern.

    durable_rules crashes (error 311) when such a join reads a field the other fact lacks, and
    guarding that field on the positive side would stop the rule from firing when it is absent.
    Fields every fact of the type has (``ALWAYS_PRESENT``: ids, dates, ``seq``) are safe.
    """
    for p, path in patterns:
        own = _alias(p)
        for key, where in [("where", p.where), *((("any_of", i), w) for i, w in enumerate(p.any_of))]:
            for name, spec in where.items():
                if not isinstance(spec, dict) or "ref" in spec:
                    continue
                for op, operand in spec.items():
                    ref = operand.get("ref") if isinstance(operand, dict) else None
                    if op == "eq" or not isinstance(ref, str) or ref.count(".") != 1:
                        continue
                    other, field_name = ref.split(".")
                    if other != own and field_name not in ALWAYS_PRESENT.get(ctx.types.get(other, ""), ()):
                        where_path = (key,) if isinstance(key, str) else key
                        ctx.fail(path + where_path + (name, op),
                                 f"a 'none' pattern can compare with '{op}' only fields every fact has "
                                 f"(such as id, date or seq), not '{ref}'; use eq")


def complement(test: dict[str, Any]) -> dict[str, Any] | None:
    """The test that holds exactly when ``test`` fails on a fact whose fields are known.

    Unknown and unstated fields are absent from engine facts, and every comparison on an
    absent field is false, so a complement can only match on known values. Tests on lists
    and existence tests have no safe complement here (durable's ``$iall`` is false on an
    empty list); they return None and leave the rule "not assessed" when other fields are unknown.
    """
    if len(test) != 1:
        return None
    (op, body), = test.items()
    if op == "$and":
        guards = [t for t in body if set(t) == {"$ex"}]
        rest = [t for t in body if set(t) != {"$ex"}]
        if guards and rest:  # existence guards stay; only the guarded test is negated
            negated = complement(_and(rest))
            return None if negated is None else _and(guards + [negated])
        parts = [complement(t) for t in body]
        return None if any(p is None for p in parts) else _or(parts)  # type: ignore[arg-type]
    if op == "$or":
        parts = [complement(t) for t in body]
        return None if any(p is None for p in parts) else _and(parts)  # type: ignore[arg-type]
    if op == "$neq":
        return dict(body)
    if op in _OPPOSITE:
        return {_OPPOSITE[op]: body}
    if op.startswith("$"):
        return None
    if isinstance(body, dict) and set(body) != {"$m"}:
        return None  # a join to another pattern
    return {"$neq": {op: body}}


def _alias(p: Pattern) -> str:
    return p.alias or p.fact


def _declare(ctx: _Ctx, alias: str, p: Pattern, path: Path_, taken: list[str]) -> bool:
    if alias in taken:
        ctx.fail(path + ("as",), f"alias '{alias}' is already used by the rule; choose another 'as'")
        return False
    if p.fact not in FACT_TYPES:
        ctx.fail(path + ("fact",), f"unknown fact type '{p.fact}'", suggest(p.fact, FACT_TYPES))
        return False
    ctx.types[alias] = p.fact
    return True


def _refine(ctx: _Ctx, patterns: list[EnginePattern], ref: Refinement, path: Path_, visible: list[str]) -> list[EnginePattern]:
    if ref.on not in visible:
        ctx.fail(path + ("on",), f"unknown alias '{ref.on}'", suggest(ref.on, visible))
        return patterns
    out = []
    for pat in patterns:
        if pat.alias == ref.on and not pat.negated:
            earlier = visible[: visible.index(ref.on)]
            tests, _, _ = _pattern_tests(ctx, ref.on, ref.where, ref.any_of, path, earlier, record=False)
            pat = EnginePattern(pat.alias, _and([pat.expression] + tests))
        out.append(pat)
    return out


def _and(tests: list[dict[str, Any]]) -> dict[str, Any]:
    return tests[0] if len(tests) == 1 else {"$and": tests}


def _pattern_tests(ctx: _Ctx, alias: str, where: Mapping[str, Any], any_of: list[Mapping[str, Any]], path: Path_,
                   earlier: list[str], record: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(all tests, join tests only, known-field tests) for one pattern."""
    tests, joins, read = _where(ctx, alias, where, path + ("where",), earlier)
    if any_of:
        branches = []
        for i, branch in enumerate(any_of):
            b_tests, b_joins, b_read = _where(ctx, alias, branch, path + ("any_of", i), earlier)
            if b_joins:  # durable_rules ignores or misreads joins inside $or (see engine.py)
                ctx.fail(path + ("any_of", i), "a reference to another pattern cannot sit inside any_of; "
                         "put the join in 'where' or use the rule-level 'any'")
            branches.append(_and(b_tests) if b_tests else {"$ex": {"t": 1}})
            read |= b_read
        tests.append({"$or": branches})
    known: list[dict[str, Any]] = []
    for a, f in sorted(read):
        if record:
            ctx.fields.setdefault(a, set()).add(f)
        if a == alias:
            known.append({"$nex": {unknown_marker(f): 1}})
    return tests, joins, known


def _where(ctx: _Ctx, alias: str, where: Mapping[str, Any], path: Path_, earlier: list[str]
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[tuple[str, str]]]:
    ftype = ctx.types[alias]
    vocab = FACT_TYPES[ftype]
    tests: list[dict[str, Any]] = []
    joins: list[dict[str, Any]] = []
    read: set[tuple[str, str]] = set()
    for name, spec_value in where.items():
        fpath = path + (name,)
        spec = vocab.get(name)
        if spec is None:
            ctx.fail(fpath, f"unknown field '{name}' of fact '{ftype}'", suggest(name, vocab))
            continue
        ops = spec_value if isinstance(spec_value, dict) and "ref" not in spec_value else {"eq": spec_value}
        if not ops:
            ctx.fail(fpath, "empty test; write a value or an operator such as {gt: 10}")
        for op, operand in ops.items():
            opath = fpath + (op,) if ops is spec_value else fpath
            if op not in OPERATORS:
                ctx.fail(opath, f"unknown operator '{op}'", suggest(op, OPERATORS))
                continue
            test, is_join, refs = _test(ctx, alias, name, spec, op, operand, opath, earlier)
            if test is None:
                continue
            tests.append(test)
            if is_join:
                joins.append(test)
            if op != "exists":
                read.add((alias, name))
            read |= refs
    return tests, joins, read


def _test(ctx: _Ctx, alias: str, name: str, spec: FieldSpec, op: str, operand: Any, path: Path_, earlier: list[str]
          ) -> tuple[dict[str, Any] | None, bool, set[tuple[str, str]]]:
    ef = engine_field(name)
    if isinstance(operand, dict) and set(operand) == {"ref"}:
        if op not in ("eq", "ne", "lt", "lte", "gt", "gte"):
            ctx.fail(path, f"operator '{op}' cannot take a reference")
            return None, False, set()
        target = _ref(ctx, alias, spec, op, operand["ref"], path, earlier)
        if target is None:
            return None, False, set()
        other_alias, other_field = target
        right = {"$m": engine_field(other_field)} if other_alias == alias else {other_alias: engine_field(other_field)}
        expr = {ef: right} if op == "eq" else {_ENGINE_OP[op]: {ef: right}}
        if other_alias == alias:
            # durable matches a same-fact reference to an absent field when another rule of the
            # ruleset tests that field: both fields must exist.
            expr = _and([{"$ex": {ef: 1}}, {"$ex": {engine_field(other_field): 1}}, expr])
        elif op != "eq":
            # durable raises error 311 on an ordering join to a field the other fact lacks; the
            # other side's field is guarded in its own pattern (see _join_guards).
            expr = _and([{"$ex": {ef: 1}}, expr])
        return expr, other_alias != alias, {(other_alias, other_field)}
    if op == "exists":
        if not isinstance(operand, bool):
            ctx.fail(path, "exists takes true or false")
            return None, False, set()
        return ({"$ex": {ef: 1}} if operand else {"$nex": {ef: 1}}), False, set()
    if op in ("eq", "ne"):
        if spec.kind == "list":
            ctx.fail(path, f"'{name}' is a list; use contains, contains_any or contains_all")
            return None, False, set()
        if not _literal_ok(ctx, spec, name, operand, path):
            return None, False, set()
        return ({ef: operand} if op == "eq" else {"$neq": {ef: operand}}), False, set()
    if op in ("lt", "lte", "gt", "gte"):
        if spec.kind not in _ORDERED:
            ctx.fail(path, f"'{op}' needs a number or date field; '{name}' is {spec.kind}")
            return None, False, set()
        if not _literal_ok(ctx, spec, name, operand, path):
            return None, False, set()
        return {_ENGINE_OP[op]: {ef: operand}}, False, set()
    if op in ("in", "not_in"):
        if spec.kind == "list" or not isinstance(operand, list) or not operand:
            ctx.fail(path, f"'{op}' takes a non-empty list of values for a scalar field")
            return None, False, set()
        if not all(_literal_ok(ctx, spec, name, v, path + (i,)) for i, v in enumerate(operand)):
            return None, False, set()
        if op == "in":
            return _or([{ef: v} for v in operand]), False, set()
        return _and([{"$neq": {ef: v}} for v in operand]), False, set()
    # contains / contains_any / contains_all on list fields
    if spec.kind != "list":
        ctx.fail(path, f"'{op}' needs a list field; '{name}' is {spec.kind} (use eq or in)")
        return None, False, set()
    values = [operand] if op == "contains" else operand
    if not isinstance(values, list) or not values:
        ctx.fail(path, f"'{op}' takes a non-empty list of values")
        return None, False, set()
    item = FieldSpec(spec.item or "str", spec.doc, spec.values)
    if not all(_literal_ok(ctx, item, name, v, path) for v in values):
        return None, False, set()
    if op == "contains_all":
        return _and([{"$iany": {ef: {"$i": v}}} for v in values]), False, set()
    return {"$iany": {ef: _or([{"$i": v} for v in values])}}, False, set()


def _or(tests: list[dict[str, Any]]) -> dict[str, Any]:
    return tests[0] if len(tests) == 1 else {"$or": tests}


def _ref(ctx: _Ctx, alias: str, spec: FieldSpec, op: str, ref: Any, path: Path_, earlier: list[str]) -> tuple[str, str] | None:
    if not isinstance(ref, str) or ref.count(".") != 1:
        ctx.fail(path, "a reference is written {ref: alias.field}")
        return None
    other, fname = ref.split(".")
    if other != alias and other not in earlier:
        known = earlier + [alias]
        hint = suggest(other, known)
        if other in ctx.types:
            ctx.fail(path, f"'{other}' is matched after '{alias}'; refer only to patterns listed earlier")
        else:
            ctx.fail(path, f"unknown alias '{other}'", hint)
        return None
    vocab = FACT_TYPES[ctx.types[other]]
    other_spec = vocab.get(fname)
    if other_spec is None:
        ctx.fail(path, f"unknown field '{fname}' of fact '{ctx.types[other]}'", suggest(fname, vocab))
        return None
    if "list" in (spec.kind, other_spec.kind):  # durable error 312 on list-to-list references
        ctx.fail(path, f"cannot compare list fields by reference ('{spec.kind}' with '{other_spec.kind}')")
        return None
    kinds = {spec.kind, other_spec.kind}
    compatible = len(kinds) == 1 or kinds <= {"number", "int"} or kinds <= {"id", "str"}
    if not compatible or (op in _ENGINE_OP and op != "ne" and spec.kind not in _ORDERED):
        ctx.fail(path, f"cannot compare {spec.kind} with {other_spec.kind} using '{op}'")
        return None
    return other, fname


def _literal_ok(ctx: _Ctx, spec: FieldSpec, name: str, value: Any, path: Path_) -> bool:
    kind = spec.kind
    ok = {
        "bool": isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "date": isinstance(value, str) and bool(_DATE.match(value)),
        "enum": isinstance(value, str),
        "str": isinstance(value, str),
        "id": isinstance(value, str),
    }.get(kind, False)
    if not ok:
        want = {"date": "a date YYYY-MM-DD", "enum": "one of: " + ", ".join(spec.values)}.get(kind, kind)
        ctx.fail(path, f"'{name}' expects {want}, got {value!r}")
        return False
    if kind == "enum" and spec.values and value not in spec.values:
        ctx.fail(path, f"'{value}' is not a value of '{name}' (one of: {', '.join(spec.values)})", suggest(value, spec.values))
        return False
    return True


def _check_placeholders(ctx: _Ctx, text: str, path: Path_, aliases: set[str]) -> None:
    for alias, fname in PLACEHOLDER.findall(text):
        if alias not in aliases:
            ctx.fail(path, f"placeholder '{{{alias}.{fname}}}' names unknown alias '{alias}'", suggest(alias, aliases))
        elif fname not in FACT_TYPES[ctx.types[alias]]:
            ctx.fail(path, f"placeholder '{{{alias}.{fname}}}': unknown field '{fname}'",
                     suggest(fname, FACT_TYPES[ctx.types[alias]]))
