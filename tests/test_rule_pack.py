"""The bundled rule pack as a whole: size, metadata, fixtures, catalogue and changelog.

Rule fixtures also run one by one through the pytest plugin; here they are checked as a
set: every rule must have at least one passing fixture that makes it fire and one that
makes it not fire, so no rule can ship untested on either side.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from review_support import bundled_fixture_names, bundled_rule_ids

from policycheck.cli import main
from policycheck.ruletest.fixtures import load_suite, run_suite
from policycheck.render.catalogue import render
from policycheck.load.rules import RulePack, bundled_rules_dir, load_rules

if TYPE_CHECKING:  # imported by name, pytest would try to collect the TestResult class
    from policycheck.ruletest.fixtures import TestResult

ROOT = Path(__file__).resolve().parents[1]
REPORT_URL = "https://www.gov.uk/government/publications/ai-foundation-models-initial-report"
# The rule families and the fewest rules each must hold. Issue 9 added licence-widening
# (a version loosening the one before, reported as such) and model-family (a developer's
# models compared release by release: a view with few rules of its own).
FAMILY_SIZES = {"licence-terms": 5, "licence-timeline": 5, "licence-widening": 5, "deals": 5, "data-access": 5,
                "model-family": 2, "jurisdiction": 2}
FAMILIES = set(FAMILY_SIZES)


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_rules()


@pytest.fixture(scope="module")
def results(pack: RulePack) -> list[TestResult]:
    return run_suite(load_suite([bundled_rules_dir()]), pack)


def test_the_pack_has_at_least_thirty_rules_in_its_families(pack: RulePack) -> None:
    assert len(pack.rules) >= 30
    assert {r.family for r in pack.rules} == FAMILIES
    # The loader drops no rule file: the pack is exactly the files on disk, by name.
    assert [r.id for r in pack.rules] == bundled_rule_ids()
    assert {p.name for p in (ROOT / "rules").iterdir() if p.is_dir()} == FAMILIES


def test_the_suite_runs_every_fixture_on_disk(results: list[TestResult]) -> None:
    """The checks over ``results`` below are vacuous if the loader drops tests; count them
    against the fixture files read with plain PyYAML."""
    on_disk = bundled_fixture_names()
    assert len(on_disk) >= 2 * len(bundled_rule_ids())
    shown = sorted((Path(r.test.file).resolve().relative_to((ROOT / "rules").resolve()).as_posix(), r.test.name)
                   for r in results)
    assert shown == sorted(on_disk)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_has_rules(pack: RulePack, family: str) -> None:
    assert sum(r.family == family for r in pack.rules) >= FAMILY_SIZES[family]


def test_every_rule_cites_the_report_with_a_paragraph_rationale_and_mitigation(pack: RulePack) -> None:
    problems = []
    for r in pack.rules:
        cit = r.rule.citation
        if r.family == "jurisdiction":   # merger-control indicators cite the CMA's guidance or a decision
            if "JUR" not in r.rule.conditions or not cit.url or not cit.url.startswith("https://www.gov.uk/"):
                problems.append(f"{r.id}: a jurisdiction rule has condition JUR and cites a CMA source on gov.uk")
        else:
            if cit.source != "CMA FM Initial Report" or cit.url != REPORT_URL:
                problems.append(f"{r.id}: citation must be the CMA FM Initial Report with its URL")
            if not re.fullmatch(r"§3(\.\d+)*(\([a-z]\))?(; §3(\.\d+)*(\([a-z]\))?)*", cit.section):
                problems.append(f"{r.id}: section {cit.section!r} is not a chapter 3 section like '§3.7.6' or '§3.3.1(c)'")
        if not cit.paragraph or len(cit.paragraph.split()) < 12:
            problems.append(f"{r.id}: citation.paragraph must say what the cited text says")
        if len(r.rule.rationale.split()) < 30 or len(r.rule.mitigation.split()) < 6:
            problems.append(f"{r.id}: rationale or mitigation too thin")
    assert not problems, "\n".join(problems)


def test_every_rationale_argues_the_severities_it_assigns(pack: RulePack) -> None:
    """A rationale must name the rule's severity, and every severity a mitigation lowers it to."""
    problems = []
    for r in pack.rules:
        text = r.rule.rationale.lower()
        for severity in {r.rule.severity} | {m.severity for m in (*r.rule.mitigated_by, *r.rule.escalated_by)}:
            if not re.search(rf"\b{severity}\b", text):
                problems.append(f"{r.id}: the rationale does not argue severity '{severity}'")
    assert not problems, "\n".join(problems)


def test_every_fixture_passes(results: list[TestResult]) -> None:
    failed = [r.describe() for r in results if not r.passed]
    assert not failed, "\n".join(failed)


def test_every_rule_has_a_passing_firing_and_non_firing_fixture(pack: RulePack, results: list[TestResult]) -> None:
    sides: dict[str, set[bool]] = defaultdict(set)
    for r in results:
        if r.passed:
            sides[r.test.rule].add(r.test.expect.fires)
    missing = [f"{rule.id}: {'no firing' if True not in sides[rule.id] else 'no non-firing'} fixture"
               for rule in pack.rules if sides[rule.id] != {True, False}]
    assert not missing, "\n".join(missing)


def test_fixture_names_are_full_sentences(results: list[TestResult]) -> None:
    bad = [r.test.name for r in results
           if not (r.test.name[:1].isupper() and len(r.test.name.split()) >= 6)]
    assert not bad, "fixture names should read as sentences (capitalised, six words or more):\n" + "\n".join(bad)


def test_docs_rules_md_is_the_generated_catalogue(pack: RulePack) -> None:
    generated = CliRunner().invoke(main, ["rules", "--format", "markdown"])
    assert generated.exit_code == 0, generated.output
    assert generated.output == render(pack, "markdown")
    checked_in = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert checked_in == generated.output, (
        "docs/rules.md is out of date; regenerate with: policycheck rules --format markdown > docs/rules.md"
    )


def test_the_catalogue_lists_every_rule_with_its_citation_and_rationale(pack: RulePack) -> None:
    text = render(pack, "markdown")
    for r in pack.rules:
        assert f"### {r.id}\n" in text
        assert r.rule.citation.section in text
        assert " ".join(r.rule.rationale.split()) in text


def test_the_changelog_names_every_rule(pack: RulePack) -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    missing = [r.id for r in pack.rules if f"`{r.id}`" not in changelog]
    assert not missing, f"CHANGELOG.md does not name: {', '.join(missing)}"
