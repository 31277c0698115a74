"""Waivers: accepted flags, each with a reason, an approver and an expiry date.

A waivers file (``--waivers FILE`` or ``waivers:`` in the configuration)::

    schema_version: 1
    waivers:
      - rule: output-training-ban          # a rule id of the pack in use
        case: llama-*                      # a case id, or a glob over case ids (* ? [...])
        fingerprint: 932b2ee377b4af88      # optional: only the flag with this fingerprint
        reason: Accepted for the 2024 pilot; legal review LR-112.
        approver: j.smith
        expires: 2024-12-31                # valid through this day

A waived flag stays in every output, marked as waived, and does not count toward
``--fail-on``. From the day after ``expires`` the flag counts again and the run warns.
A waiver that matches no flag of a case it names is stale and the run warns, so dead waivers
get removed. (A waiver naming only cases outside this run is left alone: a pre-commit hook
assesses just the changed files.)
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from policycheck.model.assessment import Assessment, CaseAssessment, Flag, StaleWaiver, WaiverRef
from policycheck.errors import InputError, Location, Problem, suggest
from policycheck.io.schema_errors import validate_document
from policycheck.io.reader import Document, read_document

from policycheck.review.fingerprint import FINGERPRINT


_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_day(value: object) -> object:
    """A calendar date written YYYY-MM-DD (YAML dates stay strings in policycheck's reader)."""
    if isinstance(value, str):
        try:
            if not _DAY.match(value):  # fromisoformat also takes 2029-W01-1 and non-ASCII digits
                raise ValueError
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("expected a calendar date as YYYY-MM-DD") from None
    return value


Day = Annotated[dt.date, BeforeValidator(parse_day)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class WaiverEntry(_Strict):
    rule: str = Field(min_length=1, description="Rule id")
    case: str = Field(min_length=1, description="Case id, or a glob over case ids")
    fingerprint: Annotated[str, Field(pattern=FINGERPRINT)] | None = Field(
        default=None, description="Only the flag with this fingerprint (see --format json)")
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1)
    expires: Day = Field(description="Last day the waiver applies (YYYY-MM-DD)")


class WaiverFile(_Strict):
    schema_version: Literal[1] = 1
    waivers: list[WaiverEntry]


@dataclass(frozen=True)
class Waiver:
    """One validated waiver and where it was written."""

    entry: WaiverEntry
    file: str
    line: int | None
    column: int | None
    index: int

    def matches(self, case_id: str, flag: Flag) -> bool:
        e = self.entry
        return (e.rule == flag.rule and fnmatch.fnmatchcase(case_id, e.case)
                and (e.fingerprint is None or e.fingerprint == flag.fingerprint))

    def expired(self, today: dt.date) -> bool:
        return today > self.entry.expires

    def location(self) -> Location:
        return Location(self.file, self.line, self.column, f"waivers[{self.index}]")

    def ref(self, today: dt.date) -> WaiverRef:
        e = self.entry
        return WaiverRef(file=self.file, line=self.line, rule=e.rule, case=e.case, fingerprint=e.fingerprint,
                         reason=" ".join(e.reason.split()), approver=e.approver, expires=e.expires.isoformat(),
                         expired=self.expired(today))


def load_waivers(path: str | Path, rule_ids: Sequence[str] | None = None) -> list[Waiver]:
    """Read and validate a waivers file; with ``rule_ids``, every waiver must name one of them."""
    doc = read_document(path)
    return waivers_from_document(doc, rule_ids)


def waivers_from_document(doc: Document, rule_ids: Sequence[str] | None = None) -> list[Waiver]:
    parsed = validate_document(doc, WaiverFile, "a waivers file", shape="with a 'waivers' list")
    out, problems = [], []
    for i, entry in enumerate(parsed.waivers):
        if rule_ids is not None and entry.rule not in rule_ids:
            problems.append(Problem(f"unknown rule '{entry.rule}'", doc.location(("waivers", i, "rule")),
                                    suggest(entry.rule, rule_ids)))
        loc = doc.location(("waivers", i))
        out.append(Waiver(entry, doc.file, loc.line, loc.column, i))
    if problems:
        raise InputError(problems)
    return out


@dataclass(frozen=True)
class WaiverOutcome:
    assessment: Assessment
    warnings: list[Problem]
    stale: list[StaleWaiver]


def apply_waivers(result: Assessment, waivers: Sequence[Waiver], today: dt.date) -> WaiverOutcome:
    """Mark each flag with the waiver covering it. The first unexpired matching waiver wins;
    when only expired ones match, the flag carries the (expired) waiver and still counts."""
    book = WaiverBook(waivers, today)
    cases = [book.case(case) for case in result.cases]
    warnings, stale = book.finish()
    return WaiverOutcome(result.model_copy(update={"cases": cases}), warnings, stale)


class WaiverBook:
    """``apply_waivers`` one case at a time: ``case()`` marks a case's flags, ``finish()`` gives
    the warnings and stale waivers of the whole run (it remembers case ids, not cases).
    ``rules``: the rule ids that ran (a waiver for a rule the run did not select is never stale)."""

    def __init__(self, waivers: Sequence[Waiver], today: dt.date, rules: Collection[str] | None = None) -> None:
        self.waivers, self.today, self.rules = list(waivers), today, rules
        self.used: dict[int, int] = {}
        self.re_raised: dict[int, int] = {}
        self.named = [False] * len(self.waivers)   # some case of the run matches the waiver's case glob

    def case(self, case: CaseAssessment) -> CaseAssessment:
        for w in self.waivers:
            if not self.named[w.index] and fnmatch.fnmatchcase(case.case, w.entry.case):
                self.named[w.index] = True
        flags = []
        for flag in case.flags:
            matching = [w for w in self.waivers if w.matches(case.case, flag)]
            for w in matching:
                self.used[w.index] = self.used.get(w.index, 0) + 1
            active = [w for w in matching if not w.expired(self.today)]
            chosen = active[0] if active else (matching[0] if matching else None)
            if chosen is not None and not active:
                self.re_raised[chosen.index] = self.re_raised.get(chosen.index, 0) + 1
            flags.append(flag.model_copy(update={"waiver": chosen.ref(self.today) if chosen else None}))
        return case.model_copy(update={"flags": flags})

    def finish(self) -> tuple[list[Problem], list[StaleWaiver]]:
        warnings: list[Problem] = []
        stale: list[StaleWaiver] = []
        today = self.today
        for w in self.waivers:
            e = w.entry
            if w.index in self.re_raised:
                n = self.re_raised[w.index]
                warnings.append(Problem(
                    f"waiver for rule '{e.rule}' on case '{e.case}' expired on {e.expires.isoformat()}; "
                    f"{n} flag{'s' if n != 1 else ''} re-raised (renew it with a new expiry date, or remove it)",
                    w.location()))
            elif (w.index not in self.used and self.named[w.index]
                  and (self.rules is None or e.rule in self.rules)):
                state = f" (expired on {e.expires.isoformat()})" if w.expired(today) else ""
                warnings.append(Problem(f"stale waiver: rule '{e.rule}' on case '{e.case}'"
                                        f"{' with fingerprint ' + e.fingerprint if e.fingerprint else ''} "
                                        f"matches no flag{state}; remove it", w.location()))
                stale.append(StaleWaiver(file=w.file, line=w.line, rule=e.rule, case=e.case,
                                         fingerprint=e.fingerprint, expires=e.expires.isoformat(),
                                         expired=w.expired(today)))
        return warnings, stale


def describe(flag: Flag) -> str | None:
    """The review state of a flag in words, for every output format (None when it has none)."""
    w = flag.waiver
    if w is not None and not w.expired:
        return f"waived until {w.expires} by {w.approver}: {w.reason}"
    parts = []
    if w is not None:
        parts.append(f"waiver expired on {w.expires} (was approved by {w.approver}: {w.reason}); counts again")
    if flag.baseline:
        parts.append("in baseline" + (" (ignored: its waiver expired)" if w is not None else ""))
    return "; ".join(parts) or None


def state(flag: Flag) -> str:
    """One word for a flag's review state: new, waived, expired (waiver) or baseline."""
    if flag.waived:
        return "waived"
    if flag.waiver is not None:
        return "expired"
    if flag.baseline:
        return "baseline"
    return "open"
