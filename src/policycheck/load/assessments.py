"""Read an assessment JSON file (``assess --format json``) or a case file, for ``diff``."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from policycheck.errors import CaseLoadError, InputError
from policycheck.io.reader import read_document
from policycheck.io.schema_errors import problems_from
from policycheck.load.cases import LoadedCase, case_from_document
from policycheck.model.assessment import Assessment


def is_assessment(data: object) -> bool:
    """Whether parsed JSON/YAML data is a policycheck assessment (not a case file)."""
    return isinstance(data, dict) and data.get("tool") == "policycheck" and "cases" in data


def load_assessment_or_case(path: str | Path) -> Assessment | LoadedCase:
    """The assessment held in ``path``, or the case file at ``path``, validated."""
    try:
        doc = read_document(path)
    except InputError as exc:
        raise CaseLoadError(exc.problems) from None
    if is_assessment(doc.data):
        try:
            return Assessment.read(doc.data)
        except ValidationError as exc:
            raise InputError(problems_from(exc, doc, Assessment)) from None
    return case_from_document(doc)
