"""The Assessment: what ``policycheck assess`` reports, as pydantic models.

Renderers turn it into tables, JSON and other formats; they never compute anything in it.
Its JSON (``Assessment.to_json()``) is the ``--format json`` output and is byte-stable.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from policycheck.rule import Condition, Severity

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


class Assessment(_Out):
    tool: str
    version: str
    rule_pack: PackInfo
    summary: str
    cases: list[CaseAssessment]

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
