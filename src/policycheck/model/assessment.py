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

Status = Literal["concern", "watch", "no concern found", "not assessed", "not applicable"]
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


class Window(_Out):
    """When something was in force: from ``since`` (None: from the start of the record) until
    ``until`` (None: still in force on the assessment date)."""

    since: str | None = None
    until: str | None = None

    def text(self) -> str:
        if self.until is None:
            return f"in force since {self.since}" if self.since else "in force"
        return f"{self.since or '?'} to {self.until}"


class Where(_Out):
    """The operative term of a flag: the case-file field whose value made the rule fire."""

    alias: str
    fact: str
    id: str
    field: str
    file: str
    line: int | None
    path: str


class Quote(_Out):
    """A clause the case author quoted, on a flag whose operative term it supports."""

    fact: str
    id: str
    ref: str
    text: str
    supports: list[str]
    source: str
    title: str
    url: str | None = None
    location: str | None = None          # a source's repository path, when it has one
    date: str
    kind: str                             # primary | secondary
    basis: str | None = None              # disclosed | reported (press), when the source says
    file: str
    line: int | None

    def label(self) -> str:
        """primary, secondary, or "secondary, reported"."""
        return self.kind + (f", {self.basis}" if self.basis else "")


class CitationOut(_Out):
    source: str
    section: str
    url: str | None = None


class AppliedMitigation(_Out):
    id: str
    description: str
    severity: Severity
    evidence: list[Evidence]


class MissingFact(_Out):
    fact: str
    id: str
    field: str
    status: FieldStatus
    file: str
    line: int | None
    case_path: str = ""                   # where to fill it in, e.g. licences[0].versions[1].terms.revocation
    in_force: bool = True                 # False: a field of a term no longer in force (a predecessor)


class PendingMitigation(_Out):
    """A mitigation (or an escalation, ``raises``) that would apply but for facts the case leaves
    unknown or unstated."""

    id: str
    description: str
    severity: Severity
    missing: list[MissingFact]
    raises: bool = False


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
    escalations: list[AppliedMitigation] = []   # escalations (``escalated_by``) that applied
    pending: list[PendingMitigation] = []
    evidence: list[Evidence]
    related: list[Evidence] = []          # the relationship's other deals that match the rule too
    operative: Where | None = None
    quotes: list[Quote] = []
    window: Window = Window()
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
        """Where a reviewer should look: the operative term's file and line; failing that the
        first known field the rule tested (identity fields such as id, version and date come
        last), else the fact's line."""
        if self.operative is not None and self.operative.line:
            return self.operative.file, self.operative.line
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
    checked: list[str] = []               # the rules that apply to something in the case


class LaterEvent(_Out):
    """Something the case records that starts after the assessment date (listed, not assessed)."""

    item: str                             # licence_version | deal | data_access_change | model | regulatory
    id: str
    title: str
    date: str
    file: str
    line: int | None


class ItemCondition(_Out):
    condition: Condition
    status: Status
    flags: int
    highest: Severity | None


class ItemStatus(_Out):
    """The status of one item of the case (a licence, model, deal or data-access change) on the
    assessment date, per condition."""

    item: str                             # licence | model | deal | data_access_change
    id: str
    title: str
    file: str
    line: int | None
    in_force: bool
    window: Window
    conditions: list[ItemCondition]


class CaseAssessment(_Out):
    case: str
    title: str
    file: str
    as_of: str                            # the date the assessment used
    case_as_of: str                       # the case file's own as_of
    kinds: list[str]
    summary: str
    conditions: list[ConditionResult]
    flags: list[Flag]                     # on terms in force on as_of: these count
    history: list[Flag] = []              # on terms no longer in force: never counted
    after_as_of: list[LaterEvent] = []
    items: list[ItemStatus] = []
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


class FileProblem(_Out):
    """One problem of a file that was not assessed, as policycheck reports it."""

    line: int | None = None
    column: int | None = None
    path: str | None = None               # the field path inside the document
    message: str
    text: str                             # the whole located line: file:line:col: path: message


class FileError(_Out):
    """A case file the run could not assess (unreadable, invalid YAML, a schema error, a case id
    another file already uses); the other files were assessed all the same."""

    file: str
    problems: list[FileProblem]

    @property
    def line(self) -> int | None:
        return self.problems[0].line if self.problems else None

    @property
    def column(self) -> int | None:
        return self.problems[0].column if self.problems else None

    @property
    def message(self) -> str:
        """The first problem's message (with its field path), for one-line listings."""
        if not self.problems:
            return "not assessed"
        p = self.problems[0]
        return (f"{p.path}: " if p.path else "") + p.message


class Assessment(_Out):
    tool: str
    version: str
    rule_pack: PackInfo
    summary: str
    cases: list[CaseAssessment]
    review: Review | None = None
    errors: list[FileError] = []          # files not assessed (left out of the JSON when none)

    @model_serializer(mode="wrap")
    def _omit_unset_review(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.review is None:
            data.pop("review", None)
        if not self.errors:
            data.pop("errors", None)
        return data

    @classmethod
    def read(cls, data: Any) -> Assessment:
        """An assessment from its JSON data, also as written with ``--explain`` (whose per-case
        ``explain`` block is a rendering of the rest and is dropped)."""
        if isinstance(data, dict) and isinstance(data.get("cases"), list):
            data = {**data, "cases": [{k: v for k, v in c.items() if k != "explain"} if isinstance(c, dict) else c
                                      for c in data["cases"]]}
        return cls.model_validate(data)

    def flags(self) -> list[Flag]:
        """The flags on terms in force on the assessment date (history flags are not included)."""
        return [f for c in self.cases for f in c.flags]

    def failing(self, fail_on: Severity) -> list[Flag]:
        """Flags that count toward ``--fail-on`` (see Flag.counts) at or above ``fail_on``."""
        limit = SEVERITY_ORDER[fail_on]
        return [f for f in self.flags() if f.counts and SEVERITY_ORDER[f.severity] >= limit]

    def to_json(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
