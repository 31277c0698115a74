"""The review step: apply waivers and a baseline to an assessment and record what they did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence

from policycheck.errors import Location, Problem
from policycheck.model.assessment import Assessment, CaseAssessment, Review, StaleWaiver
from policycheck.review.baseline import mark_case
from policycheck.review.waivers import Waiver, WaiverBook, parse_day


def review(result: Assessment, *, today: dt.date, waivers: Sequence[Waiver] | None = None,
           waivers_file: str | None = None, baseline: frozenset[str] | None = None,
           baseline_file: str | None = None) -> tuple[Assessment, list[Problem]]:
    """Apply waivers and a baseline to an assessment and record what they did in ``review``.

    Returns the reviewed assessment and the warnings to show (expired and stale waivers,
    baseline entries that no longer match).
    """
    reviewer = Reviewer(today=today, waivers=waivers, waivers_file=waivers_file, baseline=baseline,
                        baseline_file=baseline_file)
    cases = [reviewer.case(c) for c in result.cases]
    summary, warnings = reviewer.finish()
    return result.model_copy(update={"cases": cases, "review": summary}), warnings


class Reviewer:
    """``review`` one case at a time, for runs that write case by case: ``case()`` returns the
    reviewed case, ``finish()`` the ``Review`` of the whole run and its warnings. It keeps
    counts and fingerprints, never cases. ``rules``: the rule ids the run selected (waivers
    and baseline entries for other rules are neither stale nor "no longer matching")."""

    def __init__(self, *, today: dt.date, waivers: Sequence[Waiver] | None = None, waivers_file: str | None = None,
                 baseline: frozenset[str] | None = None, baseline_file: str | None = None,
                 rules: Collection[str] | None = None) -> None:
        self.today, self.waivers_file, self.baseline, self.baseline_file = today, waivers_file, baseline, baseline_file
        self.book = WaiverBook(waivers, today, rules) if waivers is not None else None
        self.seen: set[str] = set()
        self.flags = self.waived = self.expired = self.in_baseline = self.counted = 0

    @property
    def active(self) -> bool:
        return self.book is not None or self.baseline is not None

    def case(self, case: CaseAssessment) -> CaseAssessment:
        if self.book is not None:
            case = self.book.case(case)
        if self.baseline is not None:
            case = mark_case(case, self.baseline, self.seen)
        for f in case.flags:
            self.flags += 1
            self.waived += f.waived
            self.expired += f.waiver is not None and f.waiver.expired
            self.in_baseline += f.baseline
            self.counted += f.counts
        return case

    def finish(self, baseline: frozenset[str] | None = None) -> tuple[Review, list[Problem]]:
        """The run's Review and warnings. ``baseline``: the entries that count as "no longer
        matching" when unmatched (default: all of them)."""
        warnings: list[Problem] = []
        stale: list[StaleWaiver] = []
        if self.book is not None:
            warnings, stale = self.book.finish()
        resolved = 0
        if self.baseline is not None:
            resolved = len((baseline if baseline is not None else self.baseline) - self.seen)
            if resolved:
                verb = "entries no longer match" if resolved != 1 else "entry no longer matches"
                warnings.append(Problem(f"{resolved} baseline {verb} a flag (fixed or changed); "
                                        "rewrite the baseline with --write-baseline",
                                        Location(self.baseline_file)))
        summary = Review(waivers=self.waivers_file, baseline=self.baseline_file, today=self.today.isoformat(),
                         flags=self.flags, waived=self.waived, expired=self.expired, in_baseline=self.in_baseline,
                         counted=self.counted, stale_waivers=stale, baseline_resolved=resolved)
        return summary, warnings


def today_from(value: str | None) -> dt.date:
    """The review date: ``value`` (YYYY-MM-DD, for tests and reproducible runs) or today's date
    in UTC, so whether a waiver has expired does not depend on the runner's time zone."""
    if not value:
        return dt.datetime.now(dt.timezone.utc).date()
    parsed = parse_day(value)
    assert isinstance(parsed, dt.date)
    return parsed
