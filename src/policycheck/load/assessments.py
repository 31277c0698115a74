"""Read an assessment JSON file (``assess --format json``) or a case file, for ``diff``."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from policycheck import limits
from policycheck.errors import CaseLoadError, InputError, Location, Problem
from policycheck.io.reader import document_from_bytes, read_bytes
from policycheck.io.schema_errors import problems_from
from policycheck.load.cases import LoadedCase, case_from_document
from policycheck.model.assessment import Assessment


def is_assessment(data: object) -> bool:
    """Whether parsed JSON/YAML data is a policycheck assessment (not a case file)."""
    return isinstance(data, dict) and data.get("tool") == "policycheck" and "cases" in data


def load_assessment_or_case(path: str | Path) -> Assessment | LoadedCase:
    """The assessment held in ``path``, or the case file at ``path``, validated. An assessment
    may be as large as ``limits.report_bytes`` (the tool wrote it); a case file keeps the
    ``file_bytes`` limit, and one over it is refused before it is parsed when it is not JSON."""
    name = str(path)
    try:
        raw = read_bytes(path, display=name, limit_key="report_bytes")
        case_limit = limits.current().file_bytes
        if len(raw) > case_limit and not raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            raise _too_large(name, case_limit)
        doc = document_from_bytes(raw, name)
    except InputError as exc:
        raise CaseLoadError(exc.problems) from None
    if len(raw) > case_limit and not is_assessment(doc.data):
        raise CaseLoadError(_too_large(name, case_limit).problems)
    if is_assessment(doc.data):
        try:
            return Assessment.read(doc.data)
        except ValidationError as exc:
            raise InputError(problems_from(exc, doc, Assessment)) from None
    return case_from_document(doc)


def _too_large(name: str, limit: int) -> InputError:
    return InputError([Problem(f"file is larger than {limit} bytes ({limits.hint('file_bytes')})", Location(name))])
