"""Wording every format shares for time, pending mitigations and quotes, so the table,
Markdown, HTML, SARIF and JUnit outputs say the same thing in the same words."""

from __future__ import annotations

from policycheck.model.assessment import CaseAssessment, Flag, ItemStatus, Quote
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


def severity(flag: Flag) -> str:
    """The flag's severity, with what it would be if a pending mitigation's facts were known:
    "high; medium if the stake is below 15%". A pending mitigation that would not lower the
    severity says nothing about it and is left out here (``--explain`` lists every one)."""
    lower = [p for p in flag.pending if SEVERITY_ORDER[p.severity] < SEVERITY_ORDER[flag.severity]]
    return "; ".join([flag.severity] + [f"{p.severity} if {clause(p.description)}" for p in lower])


def missing(flag: Flag) -> list[str]:
    """The facts the pending mitigations that would lower the severity wait for, as
    "fact id.field (status)"."""
    seen = dict.fromkeys(f"{m.fact} {m.id}.{m.field} ({m.status})" for p in flag.pending for m in p.missing
                         if SEVERITY_ORDER[p.severity] < SEVERITY_ORDER[flag.severity])
    return list(seen)


def lowers(flag: Flag) -> bool:
    """Whether some pending mitigation would lower the flag's severity."""
    return any(SEVERITY_ORDER[p.severity] < SEVERITY_ORDER[flag.severity] for p in flag.pending)


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
