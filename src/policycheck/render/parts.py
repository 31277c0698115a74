"""Wording every format shares for time, pending mitigations and quotes, so the table,
Markdown, HTML, SARIF and JUnit outputs say the same thing in the same words."""

from __future__ import annotations

from policycheck.model.assessment import CaseAssessment, Flag, ItemStatus, PendingMitigation, Quote
from policycheck.model.rule import SEVERITY_ORDER

HISTORY_NOTE = "flags on terms no longer in force on the as-of date; never counted"
LATER_NOTE = "recorded in the case but dated after the as-of date; not assessed"
QUOTE_LIMIT = 80


def as_of(case: CaseAssessment) -> str:
    """"as of 2025-03-05", adding "; case file says 2024-01-01" when the run used another date."""
    if case.case_as_of and case.case_as_of != case.as_of:
        return f"as of {case.as_of}; case file says {case.case_as_of}"
    return f"as of {case.as_of}"


def clause(description: str) -> str:
    """A mitigation's description as the tail of "medium if ...": no final full stop, and a
    leading capital lowered unless the word is an acronym or a name with capitals inside."""
    s = " ".join(description.split()).rstrip(".")
    first = s.split(" ", 1)[0]
    if first[:1].isupper() and first[1:].islower():
        s = s[:1].lower() + s[1:]
    return s


def _changes(flag: Flag) -> list[PendingMitigation]:
    """Pending mitigations that would lower the severity and pending escalations that would
    raise it (the others say nothing about it)."""
    now = SEVERITY_ORDER[flag.severity]
    return [p for p in flag.pending
            if (SEVERITY_ORDER[p.severity] > now if p.raises else SEVERITY_ORDER[p.severity] < now)]


def severity(flag: Flag) -> str:
    """The flag's severity, with what it would be if a pending adjustment's facts were known:
    "high; medium if the stake is below 15%", "medium; high if the stake is 25% or more". A
    pending one that would not change the severity is left out here (``--explain`` lists
    every one)."""
    return "; ".join([flag.severity] + [f"{p.severity} if {clause(p.description)}" for p in _changes(flag)])


def missing(flag: Flag) -> list[str]:
    """The facts the pending adjustments that would change the severity wait for, as
    "fact id.field (status)"."""
    seen = dict.fromkeys(f"{m.fact} {m.id}.{m.field} ({m.status})" for p in _changes(flag) for m in p.missing)
    return list(seen)


def lowers(flag: Flag) -> bool:
    """Whether some pending mitigation (or escalation) would change the flag's severity."""
    return bool(_changes(flag))


def adjusted(flag: Flag) -> str | None:
    """How the severity came about when escalations or mitigations applied: "medium -> high
    (US$1bn or more invested); then -> low (...)"; None when neither applied."""
    if not flag.escalations and not flag.mitigations:
        return None
    words = []
    if flag.escalations:
        words.append("raised by: " + "; ".join(clause(m.description) for m in flag.escalations))
    if flag.mitigations:
        words.append("lowered by: " + "; ".join(clause(m.description) for m in flag.mitigations))
    return f"{flag.base_severity} -> {flag.severity}, " + ", ".join(words)


def related(flag: Flag) -> str | None:
    """The relationship's other deals that match the rule too: "also: deal a (line 12), ..."."""
    if not flag.related:
        return None
    return "other deals of the relationship: " + ", ".join(
        f"{e.id}" + (f" (line {e.line})" if e.line else "") for e in flag.related)


def short_quote(quote: Quote, limit: int = QUOTE_LIMIT) -> str:
    """The quoted clause on one line, cut to ``limit`` characters with an ellipsis."""
    s = " ".join(quote.text.split())
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s


def source(quote: Quote) -> str:
    """The source of a quote in words: "Llama 2 Community License, 2023-07-18 (primary)"."""
    return f"{quote.title}, {quote.date} ({quote.label()})"


def item_window(item: ItemStatus) -> str:
    """When an item is (or was) in force, in words."""
    if item.in_force:
        return item.window.text()
    if item.window.until is None:
        return "not in force"
    return f"{item.window.text()} (ended)"
