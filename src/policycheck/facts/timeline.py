"""When each dated thing of a case is in force: spans, instants and the as-of date.

A span runs from ``start`` (inclusive) to ``end`` (exclusive); ``None`` is open. Dates are
compared as days: a partial date stands for the first day of its period (``2023`` is
2023-01-01, ``2023-07`` is 2023-07-01). A fact is *present* at an instant once its span has
started, and *live* while the span has not ended:

* a licence version: from its ``date`` until its ``until``, else the next version's date;
* a deal: from its ``date`` until its ``until``, else the date of the first later deal that
  ``supersedes`` it; an investment round (``facts.flow``) runs until its own ``until`` only:
  a superseding deal replaces its commercial terms from that deal's date (``terms_source``),
  but the money paid and the stake stay;
* a governance grant: from its ``since`` (else the deal's date) until its ``until`` (its own
  dates, whether or not the deal is still in force);
* a model: from its ``release_date`` (always present when the date is unknown);
* a data-access change: from its ``date`` (effective), or its ``announced`` date when it is
  only announced (always, when that date is unknown);
* parties and the case itself: always.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

from policycheck.facts.flow import amount_flow
from policycheck.model import case as c

_DAY = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")


def day(date: str) -> str:
    """A date at the start of its period: 2023 -> 2023-01-01, 2023-07 -> 2023-07-01."""
    if len(date) == 4:
        return date + "-01-01"
    if len(date) == 7:
        return date + "-01"
    return date


def is_date(text: str) -> bool:
    """An ASCII ISO date (YYYY-MM-DD, YYYY-MM or YYYY) that exists on the calendar."""
    if not _DAY.match(text):
        return False
    try:
        datetime.date.fromisoformat(day(text))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Span:
    start: str | None = None              # as written in the case (a partial date stays partial)
    end: str | None = None

    def present(self, at: str) -> bool:
        return self.start is None or day(self.start) <= at

    def live(self, at: str) -> bool:
        return self.present(at) and (self.end is None or at < day(self.end))


ALWAYS = Span()


def version_spans(lic: c.Licence) -> list[Span]:
    out = []
    for j, v in enumerate(lic.versions):
        nxt = lic.versions[j + 1].date if j + 1 < len(lic.versions) else None
        ends = [d for d in (v.until, nxt) if d is not None]
        out.append(Span(v.date, min(ends, key=day) if ends else None))
    return out


def deal_spans(case: c.Case) -> dict[str, Span]:
    superseded: dict[str, list[str]] = {}
    for d in case.deals:
        for sid in d.supersedes or ():
            superseded.setdefault(sid, []).append(d.date)
    out = {}
    for d in case.deals:
        replaced = () if amount_flow(d) == "investment" else superseded.get(d.id, ())
        ends = [x for x in (d.until, *replaced) if x is not None]
        out[d.id] = Span(d.date, min(ends, key=day) if ends else None)
    return out


def superseders(case: c.Case) -> dict[str, list[tuple[str, int]]]:
    """Deal id -> (day, index in ``case.deals``) of every deal that ``supersedes`` it."""
    out: dict[str, list[tuple[str, int]]] = {}
    for m, o in enumerate(case.deals):
        for sid in o.supersedes or ():
            out.setdefault(sid, []).append((day(o.date), m))
    return out


def terms_source(case: c.Case, n: int, at: str, later: dict[str, list[tuple[str, int]]]) -> int:
    """The index of the deal whose commercial terms ``case.deals[n]`` carries at ``at``: the
    deal itself, or, once deals that supersede it have started, the latest of them (followed
    on while that one is superseded in turn). ``later`` is ``superseders(case)``."""
    seen = {case.deals[n].id}
    while True:
        started = [e for e in later.get(case.deals[n].id, ()) if e[0] <= at and case.deals[e[1]].id not in seen]
        if not started:
            return n
        n = max(started)[1]
        seen.add(case.deals[n].id)


def grant_span(deal: c.Deal, grant: c.GovernanceRight | c.GovernanceGrant) -> Span:
    """A right's own dates: from its ``since`` (else the deal's date) until its ``until``."""
    if isinstance(grant, str):
        return Span(deal.date)
    return Span(grant.since or deal.date, grant.until)


def model_span(m: c.Model) -> Span:
    return Span(m.release_date) if isinstance(m.release_date, str) and m.release_date != c.UNKNOWN else ALWAYS


def change_span(ch: c.DataAccessChange) -> Span:
    """An effective change from its date; an announced one from its announcement (always
    there when the announcement date is unknown: the case records it as announced)."""
    if ch.stage == "announced":
        return Span(ch.announced) if isinstance(ch.announced, str) and ch.announced != c.UNKNOWN else ALWAYS
    return Span(ch.date)


def boundaries(spans: Iterable[Span]) -> set[str]:
    """Every day on which something starts or ends."""
    out: set[str] = set()
    for s in spans:
        out |= {day(d) for d in (s.start, s.end) if d is not None}
    return out


def instants(spans: Iterable[Span], as_of: str) -> list[str]:
    """The days to evaluate for an assessment at ``as_of``: every earlier day on which something
    started or ended, then ``as_of`` itself (last)."""
    at = day(as_of)
    return sorted(d for d in boundaries(spans) if d < at) + [at]


def workload(case: c.Case) -> tuple[int, int, int]:
    """(facts, dates, evaluations): how many facts the case flattens into, on how many dates
    the engine may evaluate it, and how many facts it evaluates over all those dates, for
    *any* assessment date (every day on which something starts or ends, and one more day
    after them, on which every fact is present). Linear in the size of the case (sorted starts
    and a running count), so limits can be checked before anything is evaluated."""
    starts: list[str | None] = [None]                      # the case fact
    starts += [None] * len(case.parties)
    spans: list[Span] = [model_span(m) for m in case.models]
    for lic in case.licences:
        spans += version_spans(lic)
    dspans = deal_spans(case)
    spans += [dspans[d.id] for d in case.deals]
    spans += [change_span(ch) for ch in case.data_access_changes]
    starts += [s.start for s in spans]
    grants = [grant_span(d, g) for d in case.deals for g in (d.governance if isinstance(d.governance, list) else ())]
    days = sorted(boundaries([*spans, *grants]))
    always = sum(1 for s in starts if s is None)
    begun = sorted(day(s) for s in starts if s is not None)
    evaluations, k = 0, 0
    for d in days:
        while k < len(begun) and begun[k] <= d:
            k += 1
        evaluations += always + k
    return len(starts), len(days) + 1, evaluations + len(starts)
