"""Baselines: accept today's flags so that only new ones fail the run.

``policycheck assess --write-baseline FILE`` records the fingerprint of every flag (case id +
rule id + the identity of the facts it matched; never the message text). ``--baseline FILE``
then marks flags found in it as ``baseline``; they stay in the output but do not count toward
``--fail-on``. A full assessment JSON (``--format json``) is accepted as a baseline too.

Flags under an unexpired waiver are left out of a written baseline (their waiver governs
them), and a flag whose waiver has expired counts even when it is in the baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policycheck.model.assessment import Assessment, CaseAssessment
from policycheck.errors import InputError, Problem
from policycheck.model.rule import Severity
from policycheck.io.schema_errors import problems_from
from policycheck.io.reader import Document, read_document
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
    """The fingerprints in a baseline file, or in an assessment JSON used as one."""
    return fingerprints_from_document(read_document(path, limit_key="report_bytes"))


def fingerprints_from_document(doc: Document) -> frozenset[str]:
    data = doc.data
    if isinstance(data, dict) and data.get("tool") == "policycheck" and "cases" in data:
        try:
            result = Assessment.read(data)
        except ValidationError as exc:
            raise InputError(problems_from(exc, doc, Assessment)) from None
        return frozenset(f.fingerprint for f in result.flags() if not f.waived)
    if not isinstance(data, dict) or "policycheck_baseline" not in data:
        raise InputError([Problem("not a policycheck baseline (written by --write-baseline) or assessment JSON "
                                  "(written by --format json)", doc.location(()))])
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


def baseline_rules(path: str | Path) -> dict[str, str]:
    """Fingerprint -> rule id of every entry of a baseline file (or assessment JSON), so a run
    that selects rules can leave the other rules' entries out of "no longer match"."""
    data = read_document(path, limit_key="report_bytes").data
    out: dict[str, str] = {}
    if isinstance(data, dict) and data.get("tool") == "policycheck" and isinstance(data.get("cases"), list):
        for c in data["cases"]:
            for f in (c.get("flags") or []) if isinstance(c, dict) else []:
                if isinstance(f, dict) and isinstance(f.get("fingerprint"), str):
                    out[f["fingerprint"]] = str(f.get("rule"))
    elif isinstance(data, dict) and isinstance(data.get("flags"), list):
        for e in data["flags"]:
            if isinstance(e, dict) and isinstance(e.get("fingerprint"), str):
                out[e["fingerprint"]] = str(e.get("rule"))
    return out
