"""Render one match as a Flag: message, evidence, the operative term, quoted clauses and
mitigations applied or pending. Presentation only: the engine decided what matched."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from policycheck.compile.ir import Alternative
from policycheck.evaluate.snapshot import Combo, Fired
from policycheck.facts import Fact
from policycheck.io.reader import Path_, format_path
from policycheck.load.cases import LoadedCase
from policycheck.load.parse import PLACEHOLDER
from policycheck.load.rules import LoadedRule
from policycheck.model import case as c
from policycheck.model.assessment import (
    AppliedMitigation, CitationOut, Evidence, EvidenceField, Flag, MissingFact, PendingMitigation, Quote, Where,
)
from policycheck.model.rule import CONDITIONS, SEVERITY_ORDER
from policycheck.model.vocabulary import FACT_TYPES

_ENUM_WORD = re.compile(r"^[a-z]+(_[a-z]+)+$")
_IDENTITY = frozenset({"id", "version", "date", "title", "name", "previous", "previous_model", "licence_version",
                       "licence", "licence_name", "licence_kind", "seq"})
_ITEM_PREFIX = {"licence_version": "licences[].versions[].terms.", "deal": "deals[].",
                "data_access_change": "data_access_changes[]."}


def fingerprint(case_id: str, rule_id: str, keys: Iterable[str]) -> str:
    return hashlib.sha256("\0".join([case_id, rule_id, *sorted(keys)]).encode()).hexdigest()[:16]


def build(lr: LoadedRule, fired: Fired, facts: list[Fact], loaded: LoadedCase) -> Flag:
    rule, alt, combo = lr.rule, fired.alt, fired.combo
    bound = dict(zip(alt.aliases, (facts[i] for i in combo)))
    placeholders = PLACEHOLDER.findall(rule.message)
    evidence = [_evidence(a, bound[a], _read_fields(alt, a, placeholders), loaded) for a in alt.aliases]
    mit_by_id = {m.id: m for m in (*rule.mitigated_by, *rule.escalated_by)}
    raising = {m.id for m in rule.escalated_by}
    applied: dict[str, AppliedMitigation] = {}
    for mid, idx in fired.applied:
        if mid not in applied:
            mit = mit_by_id[mid]
            extra = [_evidence(f"mitigation:{mid}", facts[i], (), loaded) for i in idx[len(alt.aliases):]]
            applied[mid] = AppliedMitigation(id=mid, description=mit.description, severity=mit.severity, evidence=extra)
    pending: dict[str, PendingMitigation] = {}
    for mid, idx in fired.pending:
        if mid not in pending and mid not in applied:
            mit = mit_by_id[mid]
            pending[mid] = PendingMitigation(id=mid, description=mit.description, severity=mit.severity,
                                             missing=_pending_missing(alt, mid, idx, facts, loaded),
                                             raises=mid in raising)
    lowered = {k: m for k, m in applied.items() if k not in raising}
    raised = {k: m for k, m in applied.items() if k in raising}
    severity = adjusted(rule.severity, [m.severity for m in raised.values()], [m.severity for m in lowered.values()])
    return Flag(rule=rule.id, title=rule.title, family=lr.family, severity=severity, base_severity=rule.severity,
                conditions=[k for k in CONDITIONS if k in rule.conditions], message=render_message(rule.message, bound),
                citation=CitationOut(source=rule.citation.source, section=rule.citation.section, url=rule.citation.url),
                rationale=" ".join(rule.rationale.split()), mitigation=" ".join(rule.mitigation.split()),
                mitigated=bool(lowered), mitigations=[lowered[k] for k in sorted(lowered)],
                escalations=[raised[k] for k in sorted(raised)],
                pending=[pending[k] for k in sorted(pending)], evidence=evidence,
                operative=_operative(alt, bound, loaded, fired.operative), quotes=_quotes(alt, bound, loaded),
                fingerprint=fingerprint(loaded.case.id, rule.id, (f.key for f in bound.values())))


def adjusted(base: str, raised: list[str], lowered: list[str]) -> Any:
    """A flag's severity: the highest applying escalation's (else the rule's), then lowered to the
    lowest applying mitigation's."""
    severity = max([base, *raised], key=SEVERITY_ORDER.__getitem__)
    return min([severity, *lowered], key=SEVERITY_ORDER.__getitem__)


def _pending_missing(alt: Alternative, mid: str, idx: Combo, facts: list[Fact], loaded: LoadedCase
                     ) -> list[MissingFact]:
    """The unknown or unstated fields the mitigation reads on the facts of its relaxed match."""
    fields = (alt.mitigation_fields or {}).get(mid, {})
    out: dict[tuple[str, str], MissingFact] = {}
    for fact in (facts[i] for i in idx):
        for alias, names in fields.items():
            for name in sorted(names):
                if name in FACT_TYPES[fact.type] and fact.status(name) in ("unknown", "unstated"):
                    out[(fact.key, name)] = missing_fact(fact, name, loaded)
    return [out[k] for k in sorted(out)]


def missing_fact(fact: Fact, name: str, loaded: LoadedCase) -> MissingFact:
    status = fact.status(name)
    assert status in ("unknown", "unstated")
    return MissingFact(fact=fact.type, id=fact.id, field=name, status=status, file=loaded.file,
                       line=line(loaded, fact, name), case_path=format_path(fact.origins.get(name, fact.path)),
                       in_force=fact.live)


def _operative(alt: Alternative, bound: dict[str, Fact], loaded: LoadedCase, branch: str | None) -> Where | None:
    if alt.operative is None or alt.operative[0] not in bound:
        return None
    alias, name = alt.operative[0], branch or alt.operative[1]
    fact = bound[alias]
    path = fact.origins.get(name, fact.path)
    return Where(alias=alias, fact=fact.type, id=fact.id, field=name, file=loaded.file,
                 line=loaded.document.line_of(path), path=format_path(path))


def term_names(fact_type: str, name: str) -> set[str]:
    """The case-file term names a fact field comes from, as a clause's ``supports`` names them:
    ``output_ban_scope`` -> output_training_ban; ``price_after`` -> price, after.price."""
    spec = FACT_TYPES[fact_type].get(name)
    prefix = _ITEM_PREFIX.get(fact_type)
    if spec is None or prefix is None or not spec.case_path.startswith(prefix):
        return set()
    steps = spec.case_path[len(prefix):].split(".")
    if steps[0] in ("before", "after") and len(steps) > 1:
        return {steps[1], f"{steps[0]}.{steps[1]}"}
    return {steps[0]}


def _quotes(alt: Alternative, bound: dict[str, Fact], loaded: LoadedCase) -> list[Quote]:
    sources = {s.id: s for s in loaded.case.sources}
    out: list[Quote] = []
    for alias, fact in bound.items():
        terms: set[str] = set()
        for name in alt.fields.get(alias, ()):
            if name not in _IDENTITY:
                terms |= term_names(fact.type, name)
        for k, clause in fact.clauses:
            supports = sorted(terms & set(clause.supports or ()))
            if supports:
                out.append(_quote(fact, k, clause, supports, sources[clause.source], loaded))
    return out


def _quote(fact: Fact, k: int, clause: c.Clause, supports: list[str], src: c.Source, loaded: LoadedCase) -> Quote:
    return Quote(fact=fact.type, id=fact.id, ref=clause.ref, text=" ".join(clause.text.split()), supports=supports,
                 source=src.id, title=src.title, url=src.url, location=src.path, date=src.date, kind=src.kind,
                 basis=src.basis, file=loaded.file, line=loaded.document.line_of(fact.clause_path + (k,)))


def _read_fields(alt: Alternative, alias: str, placeholders: list[tuple[str, str]]) -> tuple[str, ...]:
    """The fields the alternative that fired tests on ``alias`` first (where a reviewer should
    look), then those the message quotes."""
    tested = sorted(alt.fields.get(alias, ()))
    quoted = sorted({f for a, f in placeholders if a == alias} - set(tested))
    return tuple(tested + quoted)


def _evidence(alias: str, fact: Fact, names: Iterable[str], loaded: LoadedCase) -> Evidence:
    fields = [EvidenceField(field=n, value=fact.values.get(n), status=fact.status(n),
                            path=format_path(fact.origins.get(n, fact.path)), line=line(loaded, fact, n))
              for n in names]
    return Evidence(alias=alias, fact=fact.type, id=fact.id, file=loaded.file, line=loaded.document.line_of(fact.path),
                    path=format_path(fact.path), fields=fields, sources=list(fact.sources))


def line(loaded: LoadedCase, fact: Fact, name: str) -> int | None:
    path: Path_ = fact.origins.get(name, fact.path)
    return loaded.document.line_of(path)


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
        status = fact.status(name)
        return {"not applicable": "not applicable", "unstated": "not stated"}.get(status, "unknown")

    return " ".join(PLACEHOLDER.sub(sub, template).split())
