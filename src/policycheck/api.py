"""The public Python API, re-exported by ``policycheck``."""

from __future__ import annotations

from collections.abc import Iterable

from policycheck.evaluate import assess as _assess
from policycheck.model.assessment import Assessment
from policycheck.load.cases import LoadedCase, load_case, load_case_text
from policycheck.errors import PolicycheckError
from policycheck.load.rules import RulePack, load_rules

__all__ = ["Assessment", "LoadedCase", "PolicycheckError", "RulePack", "assess", "load_case", "load_case_text", "load_rules"]


def assess(cases: LoadedCase | Iterable[LoadedCase], rules: RulePack | None = None, *,
           as_of: str | None = None) -> Assessment:
    """Assess one or more loaded cases against ``rules`` (the bundled pack by default) on
    ``as_of`` (YYYY-MM-DD; default: each case's own ``as_of``)."""
    if isinstance(cases, LoadedCase):
        cases = [cases]
    return _assess(list(cases), rules if rules is not None else load_rules(), as_of=as_of)

