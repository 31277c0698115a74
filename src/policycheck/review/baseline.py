"""Baselines: accept today's flags so that only new ones fail the run.

``policycheck assess --write-baseline FILE`` records the fingerprint of every flag (case id +
rule id + the identity of the facts it matched; never the message text). ``--baseline FILE``
then marks flags found in it as ``baseline``; they stay in the output but do not count toward
``--fail-on``. A full assessment (``--format json`` or ``--format jsonl``) is accepted as a
baseline too. Every kind is read as a stream (``read_baseline``): the tool can always read
back what it wrote, at any number of cases.

Flags under an unexpired waiver are left out of a written baseline (their waiver governs
them), and a flag whose waiver has expired counts even when it is in the baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policycheck.errors import InputError, Location, Problem
from policycheck.io.reader import Document, read_document
from policycheck.io.schema_errors import problems_from
from policycheck.load.assessments import MAX_PROBLEMS, case_data, check_head, record_text, scan_cases, validated
from policycheck.load.records import Record, Stream, located, open_stream
from policycheck.model.assessment import Assessment, CaseAssessment
from policycheck.model.rule import Severity
from policycheck.review.fingerprint import FINGERPRINT

FORMAT_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BaselineEntry(_Strict):
    case: str
    rule: str
    fingerprint: Annotated[str, Field(pattern=FINGERPRINT)]
    severity: Severity
    facts: list[str] = Field(default_factory=list, description="The facts the flag matched, for people reading the file")


class BaselineFile(_Strict):
    policycheck_baseline: Literal[1]
    rule_pack: str
    flags: list[BaselineEntry]


def baseline_json(result: Assessment) -> str:
    """The baseline of an assessment, as stable JSON (sorted, one trailing newline)."""
    return baseline_text([e for c in result.cases for e in baseline_entries(c)], result.rule_pack.digest)


def baseline_entries(case: CaseAssessment) -> list[dict[str, object]]:
    """The baseline entries of one case (its flags, except those under an unexpired waiver)."""
    return [{"case": case.case, "rule": f.rule, "fingerprint": f.fingerprint, "severity": f.severity,
             "facts": [f"{e.fact} {e.id}" for e in f.evidence]} for f in case.flags if not f.waived]


def baseline_text(entries: list[dict[str, object]], digest: str) -> str:
    """A baseline file from entries (``baseline_entries``), sorted by case, rule and fingerprint."""
    ordered = sorted(entries, key=lambda e: (str(e["case"]), str(e["rule"]), str(e["fingerprint"])))
    body = {"policycheck_baseline": FORMAT_VERSION, "rule_pack": digest, "flags": ordered}
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_baseline(path: str | Path) -> frozenset[str]:
    """The fingerprints in a baseline file, or in an assessment (JSON or JSON Lines) used as one."""
    return frozenset(read_baseline(path))


def baseline_rules(path: str | Path) -> dict[str, str]:
    """Fingerprint -> rule id of every entry of a baseline file (or assessment), so a run that
    selects rules can leave the other rules' entries out of "no longer match"."""
    return read_baseline(path)


def read_baseline(path: str | Path) -> dict[str, str]:
    """Fingerprint -> rule id of every flag a baseline accepts, read as a stream: memory holds
    one entry (or one case) of the file and the fingerprints. A JSON file (a ``--write-baseline``
    file, an assessment from ``--format json``) and JSON Lines (``--format jsonl``) may be of any
    size (one record at most ``limits.report_bytes``); anything else is read whole as YAML, up to
    ``limits.file_bytes``."""
    name = str(path)
    stream = open_stream(path, name)
    if stream.format == "other":
        out = _from_document(read_document(path, display=name))
    elif stream.format == "jsonl":
        out = {}
        scan_cases(stream, lambda record, case, data: out.update(_accepted(case)), BaselineCase)
    else:
        out = _from_json(stream)
    return out


class _Lean(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class _Waiver(_Lean):
    expired: bool


class _Flag(_Lean):
    rule: str
    fingerprint: Annotated[str, Field(pattern=FINGERPRINT)]
    waiver: _Waiver | None = None

    @property
    def waived(self) -> bool:
        return self.waiver is not None and not self.waiver.expired


class BaselineCase(_Lean):
    """What a baseline reads of one case of an assessment: its flags' rules, fingerprints and
    waivers (the rest of the case is not used, so not checked)."""

    case: str
    flags: list[_Flag]


def _accepted(case: BaselineCase) -> dict[str, str]:
    """The flags of an assessed case that a baseline made from it accepts (not under a waiver)."""
    return {f.fingerprint: f.rule for f in case.flags if not f.waived}


def _from_json(stream: Stream) -> dict[str, str]:
    entries: dict[str, str] = {}
    assessed: dict[str, str] = {}
    problems: list[Problem] = []
    for record in stream.records():
        if len(problems) >= MAX_PROBLEMS:
            continue   # enough said; the rest is read only to know what kind of file it is
        try:
            if record.key == "flags":
                entry = _entry(stream, record)
                entries[entry.fingerprint] = entry.rule
            else:
                data = case_data(record.data)
                assessed.update(_accepted(validated(BaselineCase, data, record, stream.name,
                                                    record_text(stream, record))))
        except InputError as exc:
            problems += exc.problems
    shell = stream.shell
    if shell.get("tool") == "policycheck" and "cases" in stream.lists:
        if problems:
            raise InputError(problems[:MAX_PROBLEMS])
        check_head(stream)
        return assessed
    if "policycheck_baseline" not in shell:
        raise InputError([Problem(NOT_A_BASELINE, Location(stream.name, 1, 1))])
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])
    doc = stream.shell_document()
    doc.data = {**shell, **{k: [] for k in stream.lists}}
    try:
        BaselineFile.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(problems_from(exc, doc, BaselineFile)) from None
    return entries


def _entry(stream: Stream, record: Record) -> BaselineEntry:
    try:
        return BaselineEntry.model_validate(record.data)
    except ValidationError as exc:
        raise InputError(located(exc, record, stream.name, BaselineEntry, record_text(stream, record))) from None


def _from_document(doc: Document) -> dict[str, str]:
    """``read_baseline`` of a file read whole (YAML)."""
    accepted = fingerprints_from_document(doc)
    data = doc.data
    out: dict[str, str] = {}
    if isinstance(data, dict) and data.get("tool") == "policycheck" and isinstance(data.get("cases"), list):
        for c in data["cases"]:
            for f in (c.get("flags") or []) if isinstance(c, dict) else []:
                if isinstance(f, dict) and f.get("fingerprint") in accepted:
                    out[f["fingerprint"]] = str(f.get("rule"))
    elif isinstance(data, dict) and isinstance(data.get("flags"), list):
        for e in data["flags"]:
            if isinstance(e, dict) and e.get("fingerprint") in accepted:
                out[e["fingerprint"]] = str(e.get("rule"))
    return out


NOT_A_BASELINE = ("not a policycheck baseline (written by --write-baseline) or assessment (written by --format json "
                  "or --format jsonl)")


def fingerprints_from_document(doc: Document) -> frozenset[str]:
    """The fingerprints of a baseline or assessment already parsed whole (a YAML file)."""
    data = doc.data
    if isinstance(data, dict) and data.get("tool") == "policycheck" and "cases" in data:
        try:
            result = Assessment.read(data)
        except ValidationError as exc:
            raise InputError(problems_from(exc, doc, Assessment)) from None
        return frozenset(f.fingerprint for f in result.flags() if not f.waived)
    if not isinstance(data, dict) or "policycheck_baseline" not in data:
        raise InputError([Problem(NOT_A_BASELINE, doc.location(()))])
    try:
        parsed = BaselineFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from(exc, doc, BaselineFile)) from None
    return frozenset(e.fingerprint for e in parsed.flags)


def apply_baseline(result: Assessment, fingerprints: frozenset[str]) -> tuple[Assessment, int]:
    """Mark flags found in the baseline. Also returns how many baseline entries matched no flag."""
    seen: set[str] = set()
    cases = [mark_case(case, fingerprints, seen) for case in result.cases]
    return result.model_copy(update={"cases": cases}), len(fingerprints - seen)


def mark_case(case: CaseAssessment, fingerprints: frozenset[str], seen: set[str]) -> CaseAssessment:
    """``apply_baseline`` for one case; adds the fingerprints it matched to ``seen``."""
    flags = []
    for flag in case.flags:
        hit = flag.fingerprint in fingerprints
        if hit:
            seen.add(flag.fingerprint)
        flags.append(flag.model_copy(update={"baseline": hit}))
    return case.model_copy(update={"flags": flags})
