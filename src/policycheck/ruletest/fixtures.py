"""Rule fixtures: sentence-named tests beside the rules, and a runner that checks them.

A fixture file is ``<rule id>.test.yaml`` next to the rule (or any ``*.test.yaml`` under a
``tests`` folder of a rules directory)::

    rule: output-training-ban            # default: the file name without .test.yaml
    tests:
      - name: A licence that bars outputs for training rivals is flagged under C3
        case:                            # a minimal case: schema_version, id, title, kind,
          licences: [...]                # as_of, summary and sources are filled in if absent
                                         # (as_of: the latest start date in the case, so
                                         # everything it records is assessed)
        expect:
          fires: true                    # the fixture's rule fires (true) or not (false)
          severity: high                 # optional: the flag's (effective) severity
          mitigated: false               # optional
          rule_status: clear             # optional: fired | clear | not assessed | not applicable
          conditions: {C3: concern}      # optional condition statuses
          also_fires: [other-rule]       # optional
          not_fires: [other-rule]        # optional
      - name: ...
        case_file: ../../cases/licences/llama-2.yaml   # or a real case (path relative to this file)
        as_of: 2023-09-18                # optional: assess on this date (default: the case's as_of)
        expect: {fires: true, history: [non-commercial-terms]}   # history: rules among the history flags
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policycheck.evaluate import assess
from policycheck.model.case import check_date
from policycheck.facts.timeline import day, is_date
from policycheck.model.assessment import CaseAssessment
from policycheck.load.cases import LoadedCase, case_from_document, load_case
from policycheck.errors import InputError, Location, PolicycheckError, Problem
from policycheck.model.rule import Condition, Severity
from policycheck.load.rules import RulePack, is_fixture
from policycheck.io import confine
from policycheck.io.schema_errors import validate_document
from policycheck.io.reader import Document, excerpt, read_document

FIXTURE_SUFFIXES = (".test.yaml", ".test.yml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Expect(_Strict):
    fires: bool
    severity: Severity | None = None
    mitigated: bool | None = None
    rule_status: Literal["fired", "clear", "not assessed", "not applicable"] | None = None
    conditions: dict[Condition, Literal["concern", "watch", "no concern found", "not assessed", "not applicable"]] = \
        Field(default_factory=dict)
    history: list[str] = Field(default_factory=list, description="Rules expected among the history flags")
    also_fires: list[str] = Field(default_factory=list)
    not_fires: list[str] = Field(default_factory=list)


class FixtureTest(_Strict):
    name: str = Field(min_length=10, description="A full sentence saying what is tested")
    case: dict[str, Any] | None = None
    case_file: str | None = None
    as_of: str | None = Field(default=None, description="Assess on this date instead of the case's as_of")
    expect: Expect

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, value: str | None) -> str | None:
        return None if value is None else check_date(value)

    @model_validator(mode="after")
    def _one_case(self) -> FixtureTest:
        if (self.case is None) == (self.case_file is None):
            raise ValueError("give exactly one of 'case' (inline) or 'case_file'")
        return self


class FixtureFile(_Strict):
    rule: str | None = None
    tests: list[FixtureTest] = Field(min_length=1)


@dataclass(frozen=True)
class LoadedTest:
    rule: str
    name: str
    file: str
    line: int
    expect: Expect
    case: LoadedCase
    as_of: str | None = None


@dataclass(frozen=True)
class TestResult:
    test: LoadedTest
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    def describe(self) -> str:
        return f"{self.test.file}:{self.test.line}: [{self.test.rule}] {self.test.name}: " + "; ".join(self.failures)


@dataclass
class Suite:
    tests: list[LoadedTest] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


_DEFAULTS = {"schema_version": 2, "as_of": "2024-01-01",
             "sources": [{"id": "fixture", "title": "Test fixture (invented data)", "date": "unknown", "kind": "primary"}]}


def _fixture_like(path: Path, root: Path) -> bool:
    try:
        return is_fixture(path, root)
    except ValueError:  # pragma: no cover - not under root
        return False


def iter_fixture_files(folders: Iterable[str | Path]) -> list[Path]:
    """The fixture files under ``folders`` (sorted), walked safely (``io.confine.walk``):
    fixture-like entries that cannot be read come out as ``confine.RefusedPath`` items
    (``load_fixture_file`` raises their reason)."""
    out: list[Path] = []
    for folder in folders:
        root = Path(folder)
        if root.is_file() or confine.is_filesystem_root(root):
            out.append(root)  # the rule loader refuses the filesystem root with its reason
            continue
        found = confine.walk(root, (".yaml", ".yml"), what="fixture file")
        out += [p for p in found.entries() if _fixture_like(p, root)]
    return out


def load_fixture_file(path: Path, roots: confine.Roots | None = None) -> list[LoadedTest]:
    """The tests of one fixture file. A ``case_file`` must resolve inside ``roots`` (default:
    the project's roots and the fixture's folder; ``load_suite`` adds the rules folder)."""
    if confine.is_filesystem_root(path):
        raise InputError([Problem("refusing to walk the filesystem root for fixtures; name the rules folder",
                                  Location(confine.shown(path)))])
    doc = read_document(path)
    ff = validate_document(doc, FixtureFile, "a fixture file", shape="with 'tests'")
    rule = ff.rule or path.name.split(".test.")[0]
    tests: list[LoadedTest] = []
    problems: list[Problem] = []
    for i, t in enumerate(ff.tests):
        line = doc.line_of(("tests", i, "name")) or 1
        try:
            case = _fixture_case(t, doc, path, i, roots)
        except PolicycheckError as exc:
            problems.extend(exc.problems)
            continue
        tests.append(LoadedTest(rule, t.name, str(path), line, t.expect, case, t.as_of))
    if problems:
        raise InputError(problems)
    return tests


def _fixture_case(t: FixtureTest, doc: Document, path: Path, i: int, roots: confine.Roots | None = None) -> LoadedCase:
    if t.case_file is not None:
        return _case_file(t.case_file, doc, path, i, roots)
    data = copy.deepcopy(t.case or {})
    slug = "fixture-" + str(i + 1)
    data.setdefault("as_of", _latest_start(data) or _DEFAULTS["as_of"])
    for key, value in _DEFAULTS.items():
        data.setdefault(key, copy.deepcopy(value))
    data.setdefault("id", slug)
    data.setdefault("title", t.name)
    data.setdefault("summary", t.name)
    data.setdefault("kind", [k for k, present in (("licence", "licences"), ("deal", "deals"),
                                                  ("data_access", "data_access_changes")) if data.get(present)] or ["licence"])
    # Locate the inline case's errors inside the fixture file: re-root the place map.
    base = ("tests", i, "case")
    places = {p[len(base):]: v for p, v in doc.places.items() if p[: len(base)] == base}
    sub = Document(doc.file, data, places)
    return case_from_document(sub)


def _case_file(name: str, doc: Document, path: Path, i: int, roots: confine.Roots | None) -> LoadedCase:
    """A fixture's ``case_file``, confined: it must resolve (links followed) inside the allowed
    roots, and be a regular file; the refusal never reads or shows the target."""
    where = doc.location(("tests", i, "case_file"))
    target = path.parent / name
    allowed = (roots or confine.Roots.default()).with_(confine.real(path.parent))
    if not allowed.allows(confine.real(target)):
        raise InputError([Problem(f"case_file '{excerpt(name)}' leads outside the rules folder and the repository; "
                                  f"not read (a fixture names a case inside them; {confine.ALLOW_ENV} lists more "
                                  "allowed folders)", where)])
    if not os.path.lexists(target):
        raise InputError([Problem(f"case_file '{excerpt(name)}' not found", where)])
    why = confine.describe(target)
    if why is not None:
        raise InputError([Problem(f"case_file '{excerpt(name)}': {why}", where)])
    return load_case(target)


_STARTS = ("date", "release_date", "announced", "since")


def _latest_start(data: Any) -> str | None:
    """The latest date at which something in an inline case starts (ISO dates compare as text
    once padded to a day)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _STARTS and isinstance(value, str) and is_date(value):
                    found.append(day(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in data.items() if k != "sources"} if isinstance(data, dict) else data)
    return max(found) if found else None


def load_suite(folders: Sequence[str | Path], pattern: str | None = None) -> Suite:
    suite = Suite()
    problems: list[Problem] = []
    roots = confine.Roots.default(*folders)
    for f in iter_fixture_files(folders):
        suite.files.append(str(f))
        try:
            tests = load_fixture_file(f, roots)
        except PolicycheckError as exc:
            problems.extend(exc.problems)
            continue
        suite.tests += [t for t in tests if pattern is None or pattern.lower() in f"{t.rule} {t.name}".lower()]
    if problems:
        raise InputError(problems)
    return suite


def check(test: LoadedTest, result: CaseAssessment) -> tuple[str, ...]:
    """The differences between what the test expects and what the assessment says."""
    e = test.expect
    failures: list[str] = []
    fired = {f.rule for f in result.flags}
    mine = [f for f in result.flags if f.rule == test.rule]
    if e.fires and not mine:
        status = next((r.status for r in result.rules if r.rule == test.rule), "unknown rule")
        failures.append(f"expected {test.rule} to fire, it did not (rule status: {status})")
    if not e.fires and mine:
        failures.append(f"expected {test.rule} not to fire, it fired: {mine[0].message}")
    if mine and e.severity and all(f.severity != e.severity for f in mine):
        failures.append(f"expected severity {e.severity}, got {', '.join(sorted({f.severity for f in mine}))}")
    if mine and e.mitigated is not None and all(f.mitigated != e.mitigated for f in mine):
        failures.append(f"expected mitigated={str(e.mitigated).lower()}, got {str(mine[0].mitigated).lower()}")
    if e.rule_status:
        status = next((r.status for r in result.rules if r.rule == test.rule), "unknown rule")
        if status != e.rule_status:
            failures.append(f"expected rule status '{e.rule_status}', got '{status}'")
    conds = {c.condition: c.status for c in result.conditions}
    for cond, want in sorted(e.conditions.items()):
        if conds.get(cond) != want:
            failures.append(f"expected {cond} '{want}', got '{conds.get(cond)}'")
    for other in e.also_fires:
        if other not in fired:
            failures.append(f"expected {other} to fire too, it did not")
    for other in e.not_fires:
        if other in fired:
            failures.append(f"expected {other} not to fire, it fired")
    past = {f.rule for f in result.history}
    for other in e.history:
        if other not in past:
            failures.append(f"expected {other} among the history flags, it is not")
    return tuple(failures)


def run_suite(suite: Suite, pack: RulePack) -> list[TestResult]:
    ids = {r.id for r in pack.rules}
    results: list[TestResult] = []
    for t in suite.tests:
        unknown = [r for r in [t.rule, *t.expect.also_fires, *t.expect.not_fires] if r not in ids]
        if unknown:
            results.append(TestResult(t, (f"unknown rule id(s): {', '.join(unknown)}",)))
            continue
        assessment = assess([t.case], pack, as_of=t.as_of).cases[0]
        results.append(TestResult(t, check(t, assessment)))
    return results


__all__ = ["Expect", "FixtureFile", "LoadedTest", "Suite", "TestResult", "check", "load_suite", "run_suite"]
