"""Rule format v1: the pydantic models of a rule file (one rule per YAML file).

    id: output-training-ban            # equals the file stem
    title: ...
    conditions: [C3, OTC]
    severity: high                      # info | low | medium | high
    citation: {source: CMA FM Initial Report, section: "§3.7.6", url: ...}
    rationale: why the report sees a concern, and why this severity
    message: "{v.version} of {v.licence} bars ..."   # {alias.field} placeholders
    mitigation: what would lower the concern
    applies_to: [model_licence]         # licence kinds its licence_version patterns match (default)
    operative: v.output_training_ban    # the term that fires it: flags point here (default: last tested)
    when:
      all:  [ {fact: licence_version, as: v, where: {output_training_ban: true}} ]
      any:  [ pattern, pattern ]        # at least one must also match (each is an alternative)
      none: [ pattern ]                 # no fact may match (may refer to aliases in `all`)
    mitigated_by:
      - id: licensor-family-exception
        description: ...
        severity: low                   # the flag's severity when this mitigation applies
        when: {on: v, where: {...}} | {all: [...], none: [...]}
    escalated_by:                       # the same shape; severity above the rule's (bands)
      - {id: large-stake, description: ..., severity: high, when: {on: [{on: d, where: {stake_pct: {gte: 25}}}]}}
    relationship: d                     # a deal alias: one flag per partner-developer relationship
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["info", "low", "medium", "high"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3}
Condition = Literal["C1", "C2", "C3", "C4", "OTC", "JUR"]
CONDITIONS: dict[str, str] = {
    "C1": "Access to inputs",
    "C2": "Contestability",
    "C3": "Choice of models",
    "C4": "No leveraging",
    "OTC": "Open-then-closed licence risk",
    "JUR": "Merger-control indicator (outside ch. 3)",
}
LicenceKind = Literal["model_licence", "terms_of_service", "data_licence", "api_terms"]
Alias = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=30)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


_WEB_URL = re.compile(r"^https?://[^\s<>()\[\]\"'`]+$")


class Citation(_Strict):
    source: str = Field(min_length=1, description="e.g. 'CMA FM Initial Report'")
    section: str = Field(min_length=1, description="e.g. '§3.7.6'")
    url: str | None = None
    paragraph: str | None = Field(default=None, description="What the cited text says, in a sentence")

    @field_validator("url")
    @classmethod
    def _web_address(cls, url: str | None) -> str | None:
        """Only an http(s) address without spaces, quotes, brackets or angle brackets: the URL
        becomes a link in SARIF, HTML and the Markdown catalogue (no ``javascript:``)."""
        if url is not None and not _WEB_URL.match(url):
            raise ValueError("must be an http:// or https:// address (no spaces, quotes, brackets or <>)")
        return url

    def text(self) -> str:
        return f"{self.source} {self.section}"


class Pattern(_Strict):
    """Matches one fact of type ``fact``; ``where`` is an AND of field tests, ``any_of`` an OR of such maps."""

    fact: str
    alias: Alias | None = Field(default=None, alias="as")
    where: dict[str, Any] = Field(default_factory=dict)
    any_of: list[dict[str, Any]] = Field(default_factory=list)
    past: bool = Field(default=False, description="May match a term no longer in force (a predecessor "
                       "reached through `previous` may anyway)")


class Refinement(_Strict):
    """More tests on a fact already matched by the rule (``on: <alias>``)."""

    on: Alias
    where: dict[str, Any] = Field(default_factory=dict)
    any_of: list[dict[str, Any]] = Field(default_factory=list)


class When(_Strict):
    all: list[Pattern] = Field(min_length=1)
    any: list[Pattern] = Field(default_factory=list)
    none: list[Pattern] = Field(default_factory=list)


class MitigationWhen(_Strict):
    on: list[Refinement] = Field(default_factory=list)
    all: list[Pattern] = Field(default_factory=list)
    none: list[Pattern] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> MitigationWhen:
        if not (self.on or self.all or self.none):
            raise ValueError("a mitigation needs at least one of 'on', 'all' or 'none'")
        return self


class Mitigation(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    description: str = Field(min_length=1)
    severity: Severity
    when: MitigationWhen


class Rule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)]
    title: str = Field(min_length=1)
    conditions: list[Condition] = Field(min_length=1)
    severity: Severity
    citation: Citation
    rationale: str = Field(min_length=1)
    message: str = Field(min_length=1)
    mitigation: str = Field(min_length=1, description="What would lower the concern")
    tags: list[str] = Field(default_factory=list)
    applies_to: list[LicenceKind] = Field(
        default_factory=lambda: list[LicenceKind](["model_licence"]),
        description="Kinds of licence the rule's licence_version patterns match (default: model licences only)")
    operative: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")] | None = Field(
        default=None, description="alias.field of the term that makes the rule fire, or alias for that pattern's "
        "last term (of the any_of branch that matched); flags point at its line (default: the last field tested "
        "on the last pattern)")
    when: When
    mitigated_by: list[Mitigation] = Field(default_factory=list)
    escalated_by: list[Mitigation] = Field(
        default_factory=list, description="Facts that raise the severity (bands): the flag takes the highest "
        "applying escalation's severity, then mitigations lower it")
    relationship: Alias | None = Field(
        default=None, description="Alias of a deal pattern: matches on deals with the same partner and developer "
        "are one flag (one relationship, its rounds as evidence)")
