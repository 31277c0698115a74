"""Parse a validated rule file (``model.rule.Rule``) once into the typed rule language.

``parse_rule`` checks every pattern, test, literal, reference and placeholder against the
fact vocabulary and turns the raw ``where`` / ``any_of`` / ``mitigated_by`` mappings into
``model.conditions`` nodes. Every literal gets its field's type here, so that no later stage
(and no engine) ever sees ``"10"`` compared with ``10``.

Problems are reported in the order the rule is read: the patterns of each ``any``
alternative in turn (``all``, that alternative's pattern, ``none``, then the mitigations),
then the message's placeholders; a problem found in several alternatives is reported once.
Limits of the engine (not of the language) are checked by ``engine.load_problems``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policycheck import limits
from policycheck.errors import Problem, suggest
from policycheck.io.reader import Document, Path_
from policycheck.model.conditions import (
    OPERATORS, ORDERING, REF_OPERATORS, SCALE_OPERATORS, Check, Conjunction, FieldTest, Loc, MitigationSpec, PatternSpec, RefTest,
    RefinementSpec, RuleSpec, WhenSpec,
)
from policycheck.model.rule import SEVERITY_ORDER, Pattern, Refinement, Rule
from policycheck.model.vocabulary import FACT_TYPES, FieldSpec

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\}")
_ORDERED = ("number", "int", "date")
_DATE = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")  # ASCII digits only


def alias_of(p: Pattern) -> str:
    """A pattern's alias: its ``as``, or its fact type."""
    return p.alias or p.fact


class _Ctx:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        self.types: dict[str, str] = {}

    def loc(self, path: Path_) -> Loc:
        where = self.doc.location(path)
        return Loc(file=where.file or self.doc.file, line=where.line, column=where.column, path=tuple(path))

    def fail(self, path: Path_, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(message, self.doc.location(path), hint))


def parse_rule(rule: Rule, doc: Document) -> tuple[RuleSpec | None, list[Problem]]:
    """The rule's typed conditions, or None and every problem found (each with its place)."""
    ctx = _Ctx(doc)
    when = rule.when
    positives = [(alias_of(p), p, ("when", "all", i)) for i, p in enumerate(when.all)]
    alts: list[list[tuple[str, Pattern, Path_]]] = [[]]
    if when.any:
        alts = [[(alias_of(p), p, ("when", "any", i))] for i, p in enumerate(when.any)]
    negs = [(alias_of(p), p, ("when", "none", i)) for i, p in enumerate(when.none)]

    seen: dict[str, Path_] = {}
    for alias, p, path in positives + [x for alt in alts for x in alt] + negs:
        if alias in seen and not (path[1] == "any" and seen[alias][1] == "any"):
            ctx.fail(path, f"alias '{alias}' is used twice; give one of the patterns another 'as'")
        seen.setdefault(alias, path)
        if p.fact not in FACT_TYPES:
            ctx.fail(path + ("fact",), f"unknown fact type '{p.fact}'", suggest(p.fact, FACT_TYPES))
        else:
            ctx.types[alias] = p.fact
    if ctx.problems:
        return None, ctx.problems

    all_specs: list[PatternSpec] = []
    any_specs: list[PatternSpec] = []
    none_specs: list[PatternSpec] = []
    mitigations: list[MitigationSpec] = []
    for k, alt in enumerate(alts):
        for alias, p, _ in alt:  # alternatives of `any` may bind one alias to different fact types
            ctx.types[alias] = p.fact
        pos = positives + alt
        visible = [a for a, _, _ in pos]
        parsed = [_pattern(ctx, alias, p, path, visible[:n]) for n, (alias, p, path) in enumerate(pos)]
        if k == 0:
            all_specs = parsed[: len(positives)]
        if alt:
            any_specs.append(parsed[-1])
        negated = [_pattern(ctx, alias, p, path, visible, negated=True) for alias, p, path in negs]
        mits = [_mitigation(ctx, rule, m_i, visible, [a for a, _, _ in negs], first=k == 0)
                for m_i in range(len(rule.mitigated_by))]
        mits += [_mitigation(ctx, rule, m_i, visible, [a for a, _, _ in negs], first=k == 0, raises=True)
                 for m_i in range(len(rule.escalated_by))]
        if k == 0:
            none_specs, mitigations = negated, mits

    every: list[tuple[str, Pattern, Path_]] = [*positives, *(x for alt in alts for x in alt)]
    _check_operative(ctx, rule, every)
    _check_adjustments(ctx, rule)
    if rule.relationship is not None:
        deals = [a for a, p, _ in positives if p.fact == "deal"]
        if rule.relationship not in deals:
            ctx.fail(("relationship",), f"'relationship' names a deal pattern of 'all'; '{rule.relationship}' is not one",
                     suggest(rule.relationship, deals))
    _check_applies_to(ctx, rule, [*every, *negs])
    named = {a for a, _, _ in positives + [x for alt in alts for x in alt]}
    for alt in alts:  # a placeholder must name a field of its alias's fact type in every alternative
        for alias, p, _ in alt:
            ctx.types[alias] = p.fact
        _check_placeholders(ctx, rule.message, ("message",), named)
    problems = list(dict.fromkeys(ctx.problems))
    if problems:
        return None, problems
    spec = RuleSpec(rule=rule, when=WhenSpec(all=tuple(all_specs), any=tuple(any_specs), none=tuple(none_specs)),
                    mitigations=tuple(mitigations), loc=ctx.loc(()))
    return spec, []


def _pattern(ctx: _Ctx, alias: str, p: Pattern, path: Path_, earlier: list[str], negated: bool = False) -> PatternSpec:
    where, any_of = _conditions(ctx, alias, p.where, p.any_of, path, earlier)
    if p.past and negated:
        ctx.fail(path + ("past",), "'past' is for positive patterns; a 'none' pattern looks at terms in force")
    return PatternSpec(fact=p.fact, alias=alias, where=where, any_of=any_of, negated=negated, past=p.past,
                       loc=ctx.loc(path))


def _conditions(ctx: _Ctx, alias: str, where: Mapping[str, Any], any_of: list[dict[str, Any]], path: Path_,
                earlier: list[str]) -> tuple[Conjunction, tuple[Conjunction, ...]]:
    main = _where(ctx, alias, where, path + ("where",), earlier)
    if len(any_of) > limits.current().any_of:  # engine error 303 at 64 branches matched at once (docs/engine.md)
        ctx.fail(path + ("any_of",), f"any_of has {len(any_of)} branches; {limits.hint('any_of')} (the engine fails "
                 "when one fact matches 64 branches at once); split the rule, or use 'in' for values of one field")
    branches = tuple(_where(ctx, alias, branch, path + ("any_of", i), earlier) for i, branch in enumerate(any_of))
    return main, branches


def _check_adjustments(ctx: _Ctx, rule: Rule) -> None:
    """Mitigation and escalation ids are unique across both lists."""
    seen: set[str] = set()
    for key in ("mitigated_by", "escalated_by"):
        for i, m in enumerate(getattr(rule, key)):
            if m.id in seen:
                ctx.fail((key, i, "id"), f"'{m.id}' is used twice; mitigations and escalations need distinct ids")
            seen.add(m.id)


def _mitigation(ctx: _Ctx, rule: Rule, m_i: int, visible: list[str], negated: list[str], first: bool,
                raises: bool = False) -> MitigationSpec:
    key = "escalated_by" if raises else "mitigated_by"
    mit = (rule.escalated_by if raises else rule.mitigated_by)[m_i]
    mpath: Path_ = (key, m_i)
    if first and not raises and SEVERITY_ORDER[mit.severity] >= SEVERITY_ORDER[rule.severity]:
        ctx.fail(mpath + ("severity",), f"a mitigation must lower the severity below '{rule.severity}'")
    if first and raises and SEVERITY_ORDER[mit.severity] <= SEVERITY_ORDER[rule.severity]:
        ctx.fail(mpath + ("severity",), f"an escalation must raise the severity above '{rule.severity}'")
    on = [r for r_i, ref in enumerate(mit.when.on)
          if (r := _refinement(ctx, ref, mpath + ("when", "on", r_i), visible)) is not None]
    mvisible = list(visible)
    groups: dict[str, list[PatternSpec]] = {"all": [], "none": []}
    for group in ("all", "none"):
        for a_i, p in enumerate(getattr(mit.when, group)):
            alias, path = alias_of(p), mpath + ("when", group, a_i)
            if not _declare(ctx, alias, p, path, mvisible + negated):
                continue
            groups[group].append(_pattern(ctx, alias, p, path, mvisible, negated=group == "none"))
            if group == "all":
                mvisible.append(alias)
    return MitigationSpec(id=mit.id, description=mit.description, severity=mit.severity, raises=raises, on=tuple(on),
                          all=tuple(groups["all"]), none=tuple(groups["none"]), loc=ctx.loc(mpath))


def _declare(ctx: _Ctx, alias: str, p: Pattern, path: Path_, taken: list[str]) -> bool:
    if alias in taken:
        ctx.fail(path + ("as",), f"alias '{alias}' is already used by the rule; choose another 'as'")
        return False
    if p.fact not in FACT_TYPES:
        ctx.fail(path + ("fact",), f"unknown fact type '{p.fact}'", suggest(p.fact, FACT_TYPES))
        return False
    ctx.types[alias] = p.fact
    return True


def _refinement(ctx: _Ctx, ref: Refinement, path: Path_, visible: list[str]) -> RefinementSpec | None:
    if ref.on not in visible:
        ctx.fail(path + ("on",), f"unknown alias '{ref.on}'", suggest(ref.on, visible))
        return None
    earlier = visible[: visible.index(ref.on)]
    where, any_of = _conditions(ctx, ref.on, ref.where, ref.any_of, path, earlier)
    return RefinementSpec(on=ref.on, where=where, any_of=any_of, loc=ctx.loc(path))


def _field_for_case_path(vocab: Mapping[str, FieldSpec], name: str) -> str | None:
    """The fact field read from the case path ``name`` ends with (``a.b`` or ``terms.a.b``), if exactly one is."""
    if "." not in name:
        return None
    found = sorted(f for f, spec in vocab.items() if not spec.derived
                   and (spec.case_path == name or spec.case_path.endswith("." + name)))
    return found[0] if len(found) == 1 else None


def _where(ctx: _Ctx, alias: str, where: Mapping[str, Any], path: Path_, earlier: list[str]) -> Conjunction:
    ftype = ctx.types[alias]
    vocab = FACT_TYPES[ftype]
    checks: list[Check] = []
    for name, spec_value in where.items():
        fpath = path + (name,)
        spec = vocab.get(name)
        if spec is None:
            by_path = _field_for_case_path(vocab, name)
            if by_path is not None:  # a case-file path such as acceptable_use_policy.incorporated_by_reference
                ctx.fail(fpath, f"unknown field '{name}' of fact '{ftype}' (that is a case-file path; rules use "
                         "the fact's field name)", by_path)
            else:
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
            check = _check(ctx, alias, name, spec, op, operand, opath, earlier)
            if check is not None:
                checks.append(check)
    return Conjunction(checks=tuple(checks), loc=ctx.loc(path))


def _check(ctx: _Ctx, alias: str, name: str, spec: FieldSpec, op: str, operand: Any, path: Path_,
           earlier: list[str]) -> Check | None:
    if op in SCALE_OPERATORS and not (isinstance(operand, dict) and set(operand) == {"ref"}):
        ctx.fail(path, f"'{op}' compares with another fact's field: write {{{op}: {{ref: alias.{name}}}}}")
        return None
    if isinstance(operand, dict) and set(operand) == {"ref"}:
        if op not in REF_OPERATORS:
            ctx.fail(path, f"operator '{op}' cannot take a reference")
            return None
        target = _ref(ctx, alias, spec, op, operand["ref"], path, earlier)
        if target is None:
            return None
        return RefTest(field=name, op=op, alias=target[0], other=target[1], loc=ctx.loc(path))  # type: ignore[arg-type]
    value: Any = operand
    if op == "exists":
        if not isinstance(operand, bool):
            ctx.fail(path, "exists takes true or false")
            return None
    elif op in ("eq", "ne"):
        if spec.kind == "list":
            ctx.fail(path, f"'{name}' is a list; use contains, contains_any or contains_all")
            return None
        if not _literal_ok(ctx, spec, name, operand, path):
            return None
    elif op in ORDERING:
        if spec.kind not in _ORDERED:
            ctx.fail(path, f"'{op}' needs a number or date field; '{name}' is {spec.kind}")
            return None
        if not _literal_ok(ctx, spec, name, operand, path):
            return None
    elif isinstance(operand, list) and len(operand) > limits.current().in_values:  # the engine hangs at 512 (docs/engine.md)
        ctx.fail(path, f"'{op}' lists {len(operand)} values; {limits.hint('in_values')} (the engine hangs on 512 "
                 "or more); split the list over several rules, or add a field that classifies the value")
        return None
    elif op in ("in", "not_in"):
        if spec.kind == "list" or not isinstance(operand, list) or not operand:
            ctx.fail(path, f"'{op}' takes a non-empty list of values for a scalar field")
            return None
        if not all(_literal_ok(ctx, spec, name, v, path + (i,)) for i, v in enumerate(operand)):
            return None
        value = tuple(operand)
    else:  # contains / contains_any / contains_all on list fields
        if spec.kind != "list":
            ctx.fail(path, f"'{op}' needs a list field; '{name}' is {spec.kind} (use eq or in)")
            return None
        values = [operand] if op == "contains" else operand
        if not isinstance(values, list) or not values:
            ctx.fail(path, f"'{op}' takes a non-empty list of values")
            return None
        item = FieldSpec(spec.item or "str", spec.doc, spec.values)
        if not all(_literal_ok(ctx, item, name, v, path) for v in values):
            return None
        value = operand if op == "contains" else tuple(operand)
    return FieldTest(field=name, op=op, value=value, loc=ctx.loc(path))  # type: ignore[arg-type]


def _ref(ctx: _Ctx, alias: str, spec: FieldSpec, op: str, ref: Any, path: Path_, earlier: list[str]
         ) -> tuple[str, str] | None:
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
    if op in SCALE_OPERATORS:
        if not spec.scale:
            scaled = ", ".join(sorted(f for f, s in FACT_TYPES[ctx.types[alias]].items() if s.scale))
            ctx.fail(path, f"'{op}' needs a field with an ordered scale (on '{ctx.types[alias]}': {scaled or 'none'})")
            return None
        if other_spec.scale != spec.scale:
            ctx.fail(path, f"'{other}.{fname}' is not on the same scale as this field")
            return None
        return other, fname
    if "list" in (spec.kind, other_spec.kind):
        return other, fname  # whether lists compare by reference is the engine's call (engine.load_problems)
    kinds = {spec.kind, other_spec.kind}
    compatible = len(kinds) == 1 or kinds <= {"number", "int"} or kinds <= {"id", "str"}
    if not compatible or (op in ORDERING and spec.kind not in _ORDERED):
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
        ctx.fail(path, f"'{value}' is not a value of '{name}' (one of: {', '.join(spec.values)})",
                 suggest(value, spec.values))
        return False
    return True


def _check_operative(ctx: _Ctx, rule: Rule, positives: list[tuple[str, Pattern, Path_]]) -> None:
    if rule.operative is None:
        return
    alias, _, fname = rule.operative.partition(".")
    facts = {a: p.fact for a, p, _ in positives}
    if alias not in facts:
        ctx.fail(("operative",), f"operative names unknown alias '{alias}' (a positive pattern's alias)",
                 suggest(alias, facts))
    elif fname and fname not in FACT_TYPES[facts[alias]]:
        ctx.fail(("operative",), f"operative: unknown field '{fname}' of fact '{facts[alias]}'",
                 suggest(fname, FACT_TYPES[facts[alias]]))


def _check_applies_to(ctx: _Ctx, rule: Rule, patterns: list[tuple[str, Pattern, Path_]]) -> None:
    if "applies_to" in rule.model_fields_set and not any(p.fact == "licence_version" for _, p, _ in patterns):
        ctx.fail(("applies_to",), "applies_to says which licence kinds licence_version patterns match; "
                 "this rule has no licence_version pattern")


def _check_placeholders(ctx: _Ctx, text: str, path: Path_, aliases: set[str]) -> None:
    for alias, fname in PLACEHOLDER.findall(text):
        if alias not in aliases:
            ctx.fail(path, f"placeholder '{{{alias}.{fname}}}' names unknown alias '{alias}'", suggest(alias, aliases))
        elif fname not in FACT_TYPES[ctx.types[alias]]:
            ctx.fail(path, f"placeholder '{{{alias}.{fname}}}': unknown field '{fname}'",
                     suggest(fname, FACT_TYPES[ctx.types[alias]]))
