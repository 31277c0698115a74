"""The review step: apply waivers and a baseline to an assessment and record what they did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from policycheck.errors import Location, Problem
from policycheck.model.assessment import Assessment, Review, StaleWaiver
from policycheck.review.baseline import apply_baseline
from policycheck.review.waivers import Waiver, apply_waivers, parse_day


def review(result: Assessment, *, today: dt.date, waivers: Sequence[Waiver] | None = None,
           waivers_file: str | None = None, baseline: frozenset[str] | None = None,
           baseline_file: str | None = None) -> tuple[Assessment, list[Problem]]:
    """Apply waivers and a baseline to an assessment and record what they did in ``review``.

    Returns the reviewed assessment and the warnings to show (expired and stale waivers,
    baseline entries that no longer match).
    """
    warnings: list[Problem] = []
    stale: list[StaleWaiver] = []
    if waivers is not None:
        outcome = apply_waivers(result, waivers, today)
        result, warnings, stale = outcome.assessment, list(outcome.warnings), outcome.stale
    resolved = 0
    if baseline is not None:
        result, resolved = apply_baseline(result, baseline)
        if resolved:
            verb = "entries no longer match" if resolved != 1 else "entry no longer matches"
            warnings.append(Problem(f"{resolved} baseline {verb} a flag (fixed or changed); "
                                    "rewrite the baseline with --write-baseline",
                                    Location(baseline_file)))
    flags = result.flags()
    summary = Review(waivers=waivers_file, baseline=baseline_file, today=today.isoformat(), flags=len(flags),
                     waived=sum(1 for f in flags if f.waived),
                     expired=sum(1 for f in flags if f.waiver is not None and f.waiver.expired),
                     in_baseline=sum(1 for f in flags if f.baseline), counted=sum(1 for f in flags if f.counts),
                     stale_waivers=stale, baseline_resolved=resolved)
    return result.model_copy(update={"review": summary}), warnings


def today_from(value: str | None) -> dt.date:
    """The review date: ``value`` (YYYY-MM-DD, for tests and reproducible runs) or today's date
    in UTC, so whether a waiver has expired does not depend on the runner's time zone."""
    if not value:
        return dt.datetime.now(dt.timezone.utc).date()
    parsed = parse_day(value)
    assert isinstance(parsed, dt.date)
    return parsed
