"""Turn engine matches into flags, rule outcomes and condition statuses.

The engine decides what matches; this module only groups matches, applies the
mitigations the engine matched, renders messages and counts.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from policycheck import __version__
from policycheck.model.assessment import (
    AppliedMitigation, Assessment, CaseAssessment, CitationOut, ConditionResult, Evidence, EvidenceField,
    Flag, MissingFact, PackInfo, RuleResult, RuleStatus, Status,
)
from policycheck.load.cases import LoadedCase
from policycheck.compile import compile_pack
from policycheck.compile.ir import Alternative, CompiledRule
from policycheck.engine import Engine, Match
from policycheck.engine import engine_for as _engine_for
from policycheck.facts import Fact, flatten
from policycheck.load.parse import PLACEHOLDER
from policycheck.model.rule import CONDITIONS, SEVERITY_ORDER, Condition
from policycheck.load.rules import LoadedRule, RulePack
from policycheck.io.reader import format_path

_ENUM_WORD = re.compile(r"^[a-z]+(_[a-z]+)+$")


def engine_for(pack: RulePack) -> Engine:
    """One engine per rule pack per process (the engine cannot free what it registered)."""
    return _engine_for(compile_pack(pack), pack.digest)


def assess(cases: Sequence[LoadedCase], pack: RulePack) -> Assessment:
    """Assess each case against the pack. Deterministic: same inputs give identical output."""
    engine = engine_for(pack)
    results = [assess_case(c, pack, engine) for c in sorted(cases, key=lambda c: (c.case.id, c.file))]
    return Assessment(tool="policycheck", version=__version__, rule_pack=PackInfo(digest=pack.digest, rules=len(pack.rules)),
                      summary=_overall(results), cases=results)


def assess_case(loaded: LoadedCase, pack: RulePack, engine: Engine) -> CaseAssessment:
    facts = flatten(loaded)
    matches = engine.run(facts)
    by_name: dict[str, list[Match]] = defaultdict(list)
    for m in matches:
        by_name[m.rule].append(m)
    flags: list[Flag] = []
    outcomes: list[RuleResult] = []
    for lr, compiled in zip(pack.rules, compile_pack(pack)):
        rule_flags, outcome = _rule(lr, compiled, by_name, facts, loaded)
        flags += rule_flags
        outcomes.append(outcome)
    flags.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.rule, [e.id for e in f.evidence]))
    conditions = _conditions(flags, outcomes)
    case = loaded.case
    return CaseAssessment(case=case.id, title=case.title, file=loaded.file, as_of=case.as_of, kinds=list(case.kind),
                          summary=_case_summary(case.id, flags, conditions), conditions=conditions, flags=flags,
                          rules=outcomes)


def _combos(matches: Iterable[Match], width: int | None = None) -> set[tuple[int, ...]]:
    return {tuple(i for _, i in m.facts[:width]) for m in matches}


_Hits = list[tuple[str, tuple[int, ...]]]


def _rule(lr: LoadedRule, compiled: CompiledRule, by_name: dict[str, list[Match]], facts: list[Fact],
          loaded: LoadedCase) -> tuple[list[Flag], RuleResult]:
    rule = lr.rule
    fired: dict[frozenset[int], tuple[Alternative, tuple[int, ...], _Hits]] = {}
    present_total = 0
    incomplete: set[tuple[int, tuple[int, ...]]] = set()
    alternatives = compiled.alternatives
    for alt in alternatives:
        mit_hits: dict[tuple[int, ...], _Hits] = defaultdict(list)
        for mid, engine_rule in alt.mitigations:
            for m in by_name.get(engine_rule.name, []):
                idx = tuple(i for _, i in m.facts)
                mit_hits[idx[: len(alt.aliases)]].append((mid, idx))
        for combo in sorted(_combos(by_name.get(alt.main.name, []))):
            fired.setdefault(frozenset(combo), (alt, combo, mit_hits.get(combo, [])))
        present = _combos(by_name.get(alt.present.name, []))
        settled = _combos(by_name.get(alt.complete.name, []))
        for refuter in alt.refuters:
            settled |= _combos(by_name.get(refuter.name, []), len(alt.aliases))
        present_total += len(present)
        incomplete |= {(alt.index, c) for c in present - settled}
    flags = [_flag(lr, alt, combo, mits, facts, loaded) for alt, combo, mits in
             sorted(fired.values(), key=lambda v: v[1])]
    status: RuleStatus
    if flags:
        status = "fired"
    elif present_total == 0:
        status = "not applicable"
    elif not incomplete:
        status = "clear"
    else:
        status = "not assessed"
    missing = _missing(alternatives, incomplete, facts, loaded) if status == "not assessed" else []
    return flags, RuleResult(rule=rule.id, conditions=[c for c in CONDITIONS if c in rule.conditions], status=status, missing=missing)


def _missing(alternatives: Sequence[Alternative], incomplete: set[tuple[int, tuple[int, ...]]], facts: list[Fact],
             loaded: LoadedCase) -> list[MissingFact]:
    """The unknown or unstated fields, read by the alternative, of each combination left unsettled."""
    out: dict[tuple[str, str], MissingFact] = {}
    for k, combo in incomplete:
        alt = alternatives[k]
        for alias, index in zip(alt.aliases, combo):
            fact = facts[index]
            for name in sorted(alt.fields.get(alias, ())):
                status = fact.status(name)
                if status in ("unknown", "unstated"):
                    out[(fact.key, name)] = MissingFact(fact=fact.type, id=fact.id, field=name, status=status,
                                                        file=loaded.file, line=_line(loaded, fact, name))
    return [out[k] for k in sorted(out)]


def _flag(lr: LoadedRule, alt: Alternative, combo: tuple[int, ...], mits: _Hits, facts: list[Fact],
          loaded: LoadedCase) -> Flag:
    rule = lr.rule
    aliases = alt.aliases
    bound = dict(zip(aliases, (facts[i] for i in combo)))
    placeholders = PLACEHOLDER.findall(rule.message)
    evidence = [_evidence(alias, bound[alias], _read_fields(alt, alias, placeholders), loaded) for alias in aliases]
    applied: dict[str, AppliedMitigation] = {}
    mit_by_id = {m.id: m for m in rule.mitigated_by}
    for mid, idx in sorted(mits):
        if mid in applied:
            continue
        mit = mit_by_id[mid]
        extra = [_evidence(f"mitigation:{mid}", facts[i], (), loaded) for i in idx[len(aliases):]]
        applied[mid] = AppliedMitigation(id=mid, description=mit.description, severity=mit.severity, evidence=extra)
    severity = min([rule.severity] + [m.severity for m in applied.values()], key=SEVERITY_ORDER.__getitem__)
    keys = sorted(bound[a].key for a in aliases)
    fingerprint = hashlib.sha256("\0".join([loaded.case.id, rule.id] + keys).encode()).hexdigest()[:16]
    return Flag(rule=rule.id, title=rule.title, family=lr.family, severity=severity, base_severity=rule.severity,
                conditions=[c for c in CONDITIONS if c in rule.conditions], message=render_message(rule.message, bound),
                citation=CitationOut(source=rule.citation.source, section=rule.citation.section, url=rule.citation.url),
                rationale=" ".join(rule.rationale.split()), mitigation=" ".join(rule.mitigation.split()),
                mitigated=bool(applied), mitigations=[applied[k] for k in sorted(applied)], evidence=evidence,
                fingerprint=fingerprint)


def _read_fields(alt: Alternative, alias: str, placeholders: list[tuple[str, str]]) -> tuple[str, ...]:
    """The fields the alternative that fired tests on ``alias`` first (where a reviewer should
    look), then those the message quotes."""
    tested = sorted(alt.fields.get(alias, ()))
    quoted = sorted({f for a, f in placeholders if a == alias} - set(tested))
    return tuple(tested + quoted)


def _evidence(alias: str, fact: Fact, names: Iterable[str], loaded: LoadedCase) -> Evidence:
    fields = [EvidenceField(field=n, value=fact.values.get(n), status=fact.status(n),
                            path=format_path(fact.origins.get(n, fact.path)), line=_line(loaded, fact, n))
              for n in names]
    return Evidence(alias=alias, fact=fact.type, id=fact.id, file=loaded.file, line=loaded.document.line_of(fact.path),
                    path=format_path(fact.path), fields=fields, sources=list(fact.sources))


def _line(loaded: LoadedCase, fact: Fact, name: str) -> int | None:
    return loaded.document.line_of(fact.origins.get(name, fact.path))


def display(value: Any) -> str:
    """A value as a reviewer reads it: 700,000,000 not 700000000.0; yes/no; lists comma-separated."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(display(v) for v in value) or "none"
    text = str(value)
    if _ENUM_WORD.match(text):  # enum values read as words: other_models -> other models
        return text.replace("_", " ")
    return text


def render_message(template: str, bound: dict[str, Fact]) -> str:
    def sub(m: Any) -> str:
        fact = bound.get(m.group(1))
        if fact is None:
            return "unknown"
        name = m.group(2)
        if name in fact.values:
            return display(fact.values[name])
        return "not applicable" if fact.status(name) == "not applicable" else "unknown"

    return " ".join(PLACEHOLDER.sub(sub, template).split())


def _conditions(flags: list[Flag], outcomes: list[RuleResult]) -> list[ConditionResult]:
    out = []
    cond: Condition
    for cond, name in CONDITIONS.items():  # type: ignore[assignment]  # CONDITIONS is keyed by Condition
        status: Status
        cflags = [f for f in flags if cond in f.conditions]
        rules = [o for o in outcomes if cond in o.conditions and o.status != "not applicable"]
        assessed = [o for o in rules if o.status in ("fired", "clear")]
        highest = max((f.severity for f in cflags), key=SEVERITY_ORDER.__getitem__, default=None)
        if highest in ("medium", "high"):
            status = "concern"
        elif cflags:
            status = "watch"
        elif rules and len(assessed) == len(rules):
            status = "no concern found"
        else:
            status = "not assessed"
        out.append(ConditionResult(condition=cond, name=name, status=status, flags=len(cflags), highest=highest,
                                   rules_applicable=len(rules), rules_assessed=len(assessed)))
    return out


def _count(flags: Sequence[Flag]) -> str:
    if not flags:
        return "no flags"
    parts = [f"{n} {s}" for s in ("high", "medium", "low", "info")
             if (n := sum(1 for f in flags if f.severity == s))]
    return f"{len(flags)} flag{'s' if len(flags) != 1 else ''} ({', '.join(parts)})"


def _case_summary(case_id: str, flags: list[Flag], conditions: list[ConditionResult]) -> str:
    groups = []
    for status in ("concern", "watch", "no concern found", "not assessed"):
        names = [c.condition for c in conditions if c.status == status]
        if names:
            groups.append(f"{status}: {', '.join(names)}")
    return f"{case_id}: {_count(flags)}; " + "; ".join(groups)


def _overall(results: list[CaseAssessment]) -> str:
    flags = [f for r in results for f in r.flags]
    concern = sum(1 for r in results if any(c.status == "concern" for c in r.conditions))
    n = len(results)
    return f"{n} case{'s' if n != 1 else ''}, {_count(flags)}; {concern} with a concern"
