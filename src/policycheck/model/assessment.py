"""The Assessment: what ``policycheck assess`` reports, as pydantic models.

Renderers turn it into tables, JSON and other formats; they never compute anything in it.
Its JSON (``Assessment.to_json()``) is the ``--format json`` output and is byte-stable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer

from policycheck.model.rule import SEVERITY_ORDER, Condition, Severity

Status = Literal["concern", "watch", "no concern found", "not assessed"]
FieldStatus = Literal["known", "unknown", "unstated", "not applicable"]
RuleStatus = Literal["fired", "clear", "not assessed", "not applicable"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvidenceField(_Out):
    field: str
    value: Any = None
    status: FieldStatus
    path: str
    line: int | None


class Evidence(_Out):
    alias: str
    fact: str
    id: str
    file: str
    line: int | None
    path: str
    fields: list[EvidenceField]
    sources: list[str]


class CitationOut(_Out):
    source: str
    section: str
    url: str | None = None


class AppliedMitigation(_Out):
    id: str
    description: str
    severity: Severity
    evidence: list[Evidence]


class WaiverRef(_Out):
    """The waiver (from a ``--waivers`` file) that matched a flag. An expired one does not waive it."""

    file: str
    line: int | None
    rule: str
    case: str
    fingerprint: str | None = None
    reason: str
    approver: str
    expires: str
    expired: bool


_IDENTITY_FIELDS = frozenset({"id", "version", "date", "title", "name"})


class Flag(_Out):
    rule: str
    title: str
    family: str
    severity: Severity
    base_severity: Severity
    conditions: list[Condition]
    message: str
    citation: CitationOut
    rationale: str
    mitigation: str
    mitigated: bool
    mitigations: list[AppliedMitigation]
    evidence: list[Evidence]
    fingerprint: str
    # Review state (waivers, baselines). Left out of the JSON while unset, so an assessment
    # made without --waivers/--baseline serialises exactly as before these fields existed.
    waiver: WaiverRef | None = None
    baseline: bool = False

    @model_serializer(mode="wrap")
    def _omit_unset_review(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.waiver is None:
            data.pop("waiver", None)
        if not self.baseline:
            data.pop("baseline", None)
        return data

    @property
    def waived(self) -> bool:
        """A waiver that has not expired covers this flag."""
        return self.waiver is not None and not self.waiver.expired

    @property
    def counts(self) -> bool:
        """Whether the flag counts toward ``--fail-on``: not waived and not in the baseline.

        A flag whose waiver has expired always counts, even when it is also in the baseline.
        """
        if self.waiver is not None and self.waiver.expired:
            return True
        return not self.waived and not self.baseline

    def location(self) -> tuple[str | None, int | None]:
        """Where a reviewer should look: the case file and the line of the first known field the
        rule tested (identity fields such as id, version and date come last), else the fact's line."""
        if not self.evidence:
            return None, None
        tests: tuple[Callable[[EvidenceField], bool], ...] = (
            lambda f: f.status == "known" and f.field not in _IDENTITY_FIELDS,
            lambda f: f.field not in _IDENTITY_FIELDS, lambda f: True)
        for wanted in tests:
            for e in self.evidence:
                for f in e.fields:
                    if f.line and wanted(f):
                        return e.file, f.line
        first = self.evidence[0]
        return first.file, first.line


class MissingFact(_Out):
    fact: str
    id: str
    field: str
    status: FieldStatus
    file: str
    line: int | None


class RuleResult(_Out):
    rule: str
    conditions: list[Condition]
    status: RuleStatus
    missing: list[MissingFact] = []


class ConditionResult(_Out):
    condition: Condition
    name: str
    status: Status
    flags: int
    highest: Severity | None
    rules_applicable: int
    rules_assessed: int


class CaseAssessment(_Out):
    case: str
    title: str
    file: str
    as_of: str
    kinds: list[str]
    summary: str
    conditions: list[ConditionResult]
    flags: list[Flag]
    rules: list[RuleResult]


class PackInfo(_Out):
    digest: str
    rules: int


class StaleWaiver(_Out):
    """A waiver that matched no flag in this run."""

    file: str
    line: int | None
    rule: str
    case: str
    fingerprint: str | None = None
    expires: str
    expired: bool


class Review(_Out):
    """What waivers and a baseline did to this assessment (present only when either was used)."""

    waivers: str | None = None
    baseline: str | None = None
    today: str
    flags: int
    waived: int
    expired: int
    in_baseline: int
    counted: int
    stale_waivers: list[StaleWaiver] = []
    baseline_resolved: int = 0


class Assessment(_Out):
    tool: str
    version: str
    rule_pack: PackInfo
    summary: str
    cases: list[CaseAssessment]
    review: Review | None = None

    @model_serializer(mode="wrap")
    def _omit_unset_review(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.review is None:
            data.pop("review", None)
        return data

    def flags(self) -> list[Flag]:
        return [f for c in self.cases for f in c.flags]

    def failing(self, fail_on: Severity) -> list[Flag]:
        """Flags that count toward ``--fail-on`` (see Flag.counts) at or above ``fail_on``."""
        limit = SEVERITY_ORDER[fail_on]
        return [f for f in self.flags() if f.counts and SEVERITY_ORDER[f.severity] >= limit]

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
