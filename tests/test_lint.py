"""`policycheck lint`: each finding code on a small broken pack, the bundled pack clean, and
the not-applicable table (lint.GATES) checked against what facts.py really produces."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings

import strategies as S
from policycheck.cli import main
from policycheck.facts import flatten
from policycheck.ruletest.lint import GATES, LEGAL_CONCLUSIONS, Finding, lint
from policycheck.load.rules import bundled_rules_dir

_FINDING = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<code>[a-z-]+): (?P<message>.+)$")


def rule(rid: str, when: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": rid, "title": "A test rule", "conditions": ["C3"], "severity": "high",
            "citation": {"source": "CMA FM Initial Report", "section": "§3.7.6"},
            "rationale": "Why it matters.", "message": "{v.version} is flagged.", "mitigation": "Drop it.",
            "when": when, **extra}


def lv(where: dict[str, Any] | None = None, alias: str = "v", **extra: Any) -> dict[str, Any]:
    return {"fact": "licence_version", "as": alias, "where": where or {}, **extra}


GOOD_CASE = {"parties": [{"id": "acme", "name": "Acme"}],
             "licences": [{"id": "lic", "name": "L", "kind": "model_licence", "licensor": "acme",
                           "versions": [{"version": "1", "date": "2024-01-01", "terms": {"research_only": True}}]}]}
CLEAR_CASE = {"parties": [{"id": "acme", "name": "Acme"}],
              "licences": [{"id": "lic", "name": "L", "kind": "model_licence", "licensor": "acme",
                            "versions": [{"version": "1", "date": "2024-01-01", "terms": {"research_only": False}}]}]}


def fixture(*tests: tuple[str, dict[str, Any], dict[str, Any]], rule_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"tests": [{"name": n, "case": c, "expect": e} for n, c, e in tests]}
    if rule_id:
        out["rule"] = rule_id
    return out


BOTH = (("A research-only licence is flagged by the rule", GOOD_CASE, {"fires": True}),
        ("A licence open to commercial use is not flagged", CLEAR_CASE, {"fires": False}))


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # the reader refuses anchors; write shared data twice
        return True


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_NoAliases, sort_keys=False, allow_unicode=True)


def write_pack(root: Path, rules: dict[str, dict[str, Any]], fixtures: dict[str, dict[str, Any]] | None = None,
               family: str = "fam") -> Path:
    folder = root / family
    folder.mkdir(parents=True, exist_ok=True)
    for rid, data in rules.items():
        (folder / f"{rid}.yaml").write_text(dump(data))
    for rid, data in (fixtures or {}).items():
        (folder / f"{rid}.test.yaml").write_text(dump(data))
    return root


def findings(root: Path | list[Path], rules: dict[str, dict[str, Any]] | None = None,
             tests: dict[str, dict[str, Any]] | None = None) -> list[Finding]:
    if rules is not None:
        assert isinstance(root, Path)
        write_pack(root, rules, tests if tests is not None else {rid: fixture(*BOTH) for rid in rules})
    return lint([root] if isinstance(root, Path) else root).findings


def codes(found: list[Finding]) -> list[str]:
    return [f.code for f in found]


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


OK = rule("research-only", {"all": [lv({"research_only": True})]})


def test_a_well_formed_rule_with_both_fixtures_is_clean(tmp_path: Path) -> None:
    assert findings(tmp_path, {"research-only": OK}) == []


def test_the_bundled_pack_is_lint_clean() -> None:
    report = lint([bundled_rules_dir()])
    assert report.rules > 0 and report.tests > 0
    assert [f.render() for f in report.findings] == []


# --------------------------------------------------------------------------- rule texts


@pytest.mark.parametrize("field, value, code", [
    ("rationale", "   ", "empty-field"),
    ("title", "TODO write a title", "todo-text"),
    ("mitigation", "TBD", "todo-text"),
])
def test_blank_and_placeholder_texts(tmp_path: Path, field: str, value: str, code: str) -> None:
    found = findings(tmp_path, {"research-only": {**OK, field: value}})
    assert codes(found) == [code]
    assert found[0].line == line_of(tmp_path / "fam" / "research-only.yaml", f"{field}:")


def test_a_blank_citation_part_and_a_section_without_a_number(tmp_path: Path) -> None:
    data = {**OK, "citation": {"source": " ", "section": "the report"}}
    found = findings(tmp_path, {"research-only": data})
    assert sorted(codes(found)) == ["citation-section", "empty-field"]
    assert any("citation.source" in f.message for f in found)


# --------------------------------------------------------------------------- legal conclusions


def _instance(phrase: str) -> str:
    """A text using ``phrase`` as written in LEGAL_CONCLUSIONS (``foreclos*`` -> ``forecloses``)."""
    return phrase[:-1] + "es" if phrase.endswith("*") else phrase


@pytest.mark.parametrize("phrase", [p for p, _ in LEGAL_CONCLUSIONS])
def test_every_listed_conclusion_phrase_in_a_rationale_is_a_legal_conclusion_finding(tmp_path: Path,
                                                                                      phrase: str) -> None:
    data = {**OK, "rationale": f"Why it matters: the arrangement {_instance(phrase)} here."}
    found = findings(tmp_path, {"research-only": data})
    assert codes(found) == ["legal-conclusion"]
    assert found[0].line == line_of(tmp_path / "fam" / "research-only.yaml", "rationale:")


@pytest.mark.parametrize("field, text, words", [
    ("title", "Partner forecloses rival developers", '"forecloses"'),
    ("message", "{v.version} RAISES RIVALS’ COSTS.", '"RAISES RIVALS’ COSTS"'),
    ("message", "{v.version} raises rivals costs.", '"raises rivals costs"'),
    ("rationale", "An Anti-Competitive tie; the incentive to foreclose is built in.",
     '"Anti-Competitive", "incentive to foreclose is built in"'),
    ("mitigation", "Notify the competition authority and treat the arrangement as a merger.",
     '"Notify the competition authority", "treat the arrangement as a merger"'),
    ("mitigation", "The deal must be\n  notified.", '"must be notified"'),
])
def test_conclusion_wording_is_found_in_any_case_across_line_breaks_and_with_either_apostrophe(
        tmp_path: Path, field: str, text: str, words: str) -> None:
    found = findings(tmp_path, {"research-only": {**OK, field: text}})
    assert codes(found) == ["legal-conclusion"]
    assert f"'{field}' states a legal conclusion ({words})" in found[0].message


def test_conclusion_wording_in_a_mitigation_description_is_found_but_the_cited_paragraph_is_not_checked(
        tmp_path: Path) -> None:
    data = {**OK, "citation": {"source": "CMA FM Initial Report", "section": "§3.7.6",
                               "paragraph": "The FTC says firms may foreclose competition."},
            "mitigated_by": [{"id": "small", "description": "Small deals are not unlawful.", "severity": "low",
                              "when": {"on": [{"on": "v", "where": {"seq": 1}}]}}]}
    found = findings(tmp_path, {"research-only": data})
    assert codes(found) == ["legal-conclusion"]
    assert "'mitigated_by[0].description'" in found[0].message and '"unlawful"' in found[0].message


@pytest.mark.parametrize("text", [
    "The CMA's mergers guidance (CMA2) is the source; the licensee is notified by email.",
    "It disabuses no one; a merger of two datasets is not at issue; the court was not involved.",
    "Competitive pressure falls (C2), and rivals' costs of compute rise.",
])
def test_words_that_only_contain_or_resemble_a_conclusion_phrase_are_not_flagged(tmp_path: Path, text: str) -> None:
    assert findings(tmp_path, {"research-only": {**OK, "rationale": text}}) == []


# --------------------------------------------------------------------------- report sections


COVERAGE = {"report": "CMA FM Initial Report",
            "sections": [{"section": "§3.3.1", "title": "Pre-training", "items": ["a", "b", "c"]},
                         {"section": "§3.4", "title": "Technical expertise"},
                         {"section": "§3.7.6", "title": "Open source"},
                         {"section": "§3.8", "title": "Conclusion"}]}


def cited(tmp_path: Path, section: str, source: str = "CMA FM Initial Report") -> list[Finding]:
    cov = tmp_path / "coverage.yaml"
    cov.write_text(dump(COVERAGE))
    data = {**OK, "citation": {"source": source, "section": section}}
    write_pack(tmp_path / "pack", {"research-only": data}, {"research-only": fixture(*BOTH)})
    return lint([tmp_path / "pack"], coverage=cov).findings


@pytest.mark.parametrize("section, words", [
    ("§3.9", "§3.9 is not a section of chapter 3 that"),
    ("§3.7.6; §3.7.7", "§3.7.7 is not a section of chapter 3 that"),
    ("§3.3.1(d)", "§3.3.1 has no lettered point (d)"),
    ("§3.4(a)", "§3.4 has no lettered point (a)"),
    ("3.7.6", "'3.7.6' is not written like '§3.7.6'"),
    ("§3.7.6 and §3.8", "'§3.7.6 and §3.8' is not written like"),
    ("§3.3.1 (c)", "'§3.3.1 (c)' is not written like"),
])
def test_a_report_citation_must_name_a_listed_chapter_3_section_written_as_a_section_number(
        tmp_path: Path, section: str, words: str) -> None:
    found = cited(tmp_path, section)
    assert codes(found) == ["citation-section"]
    assert words in found[0].message


def test_a_misnumbered_section_gets_the_nearest_listed_one(tmp_path: Path) -> None:
    assert "(did you mean '§3.8'?)" in cited(tmp_path, "§3.9")[0].message


@pytest.mark.parametrize("section, source", [
    ("§3.3.1(c); §3.8", "CMA FM Initial Report"),
    ("§3.3.1(a)(ii), §3.4", "cma fm  initial report"),
    ("§2.1", "CMA FM Initial Report"),  # another chapter of the report: not in the coverage file's scope
    ("¶4.30", "CMA2 Mergers guidance"),  # another source: only 'names a section number' applies
])
def test_well_formed_listed_sections_and_other_sources_are_accepted(tmp_path: Path, section: str,
                                                                   source: str) -> None:
    assert cited(tmp_path, section, source) == []


def test_a_coverage_file_that_does_not_load_is_a_load_error(tmp_path: Path) -> None:
    bad = tmp_path / "coverage.yaml"
    bad.write_text("report: R\nsections:\n  - section: '3.4'\n    title: T\n")
    write_pack(tmp_path / "pack", {"research-only": OK}, {"research-only": fixture(*BOTH)})
    found = lint([tmp_path / "pack"], coverage=bad).findings
    assert codes(found) == ["load-error"] and found[0].file == str(bad)


# --------------------------------------------------------------------------- placeholders


def test_placeholder_syntax(tmp_path: Path) -> None:
    found = findings(tmp_path, {"research-only": {**OK, "message": "{v.Version} and {v} are not placeholders"}})
    assert codes(found) == ["placeholder-syntax", "placeholder-syntax"]


def test_a_placeholder_bound_by_only_some_alternatives(tmp_path: Path) -> None:
    data = rule("alt", {"all": [lv({}, "lic")], "any": [lv({"research_only": True}, "v"),
                                                        lv({"commercial_use": "prohibited"}, "w")]},
                message="{lic.version}: {v.version} is research-only")
    data["when"]["any"][1]["where"]["licence"] = {"ref": "lic.licence"}
    found = findings(tmp_path, {"alt": data})
    assert codes(found) == ["placeholder-unbound"]
    assert "when.any[1]" in found[0].message


@pytest.mark.parametrize("where, placeholder", [
    ({"has_user_threshold": False}, "{v.threshold_limit}"),
    ({"output_training_ban": False}, "{v.output_ban_scope}"),
    ({"seq": 1}, "{v.previous}"),
    ({"seq": {"lte": 1}}, "{v.previous}"),
    ({"spdx": {"exists": False}}, "{v.spdx}"),
])
def test_a_placeholder_the_pattern_makes_not_applicable(tmp_path: Path, where: dict[str, Any], placeholder: str) -> None:
    data = rule("na", {"all": [lv({"research_only": True, **where})]}, message=f"{placeholder} is shown")
    found = findings(tmp_path, {"na": data})
    assert codes(found) == ["placeholder-unfilled"]
    assert placeholder in found[0].message


@pytest.mark.parametrize("where, placeholder", [
    ({"has_user_threshold": True}, "{v.threshold_limit}"),
    ({}, "{v.threshold_limit}"),
    ({"seq": {"gt": 1}}, "{v.previous}"),
    ({"spdx": {"exists": True}}, "{v.spdx}"),
])
def test_a_placeholder_that_can_be_filled_is_fine(tmp_path: Path, where: dict[str, Any], placeholder: str) -> None:
    data = rule("na", {"all": [lv({"research_only": True, **where})]}, message=f"{placeholder} is shown")
    assert findings(tmp_path, {"na": data}) == []


@settings(max_examples=S.examples(1))
@given(case=S.cases())
def test_the_not_applicable_table_matches_the_facts(case: dict[str, Any]) -> None:
    """lint.GATES says when a field exists at all; facts.py must agree (else lint lies)."""
    for fact in flatten(S.load(case)):
        for (ftype, name), (gate, op, value) in GATES.items():
            if fact.type != ftype or gate not in fact.values:
                continue
            g = fact.values[gate]
            applicable = g == value if op == "eq" else g > value
            present = name in fact.values or name in fact.unknown or name in fact.unstated
            if name == "spdx":
                continue
            assert present == applicable, (fact.type, fact.id, name, gate, g)


# --------------------------------------------------------------------------- never matches


@pytest.mark.parametrize("where, words", [
    ({"seq": {"gt": 10, "lt": 5}}, "seq: gt 10 and lt 5"),
    ({"seq": {"gt": 1, "lt": 2}}, "no whole number"),
    ({"threshold_limit": {"gte": 10, "lt": 10}}, "empty range"),
    ({"commercial_use": {"eq": "allowed", "in": ["restricted", "prohibited"]}}, "no value passes"),
    ({"research_only": {"ne": True, "not_in": [False]}}, "no value passes"),
    ({"revocation": {"not_in": ["at_will", "on_breach", "irrevocable"]}}, "no value passes"),
    ({"spdx": {"exists": False, "eq": "MIT"}}, "exists: false"),
    ({"date": {"gt": "2024-01-01", "lt": "2023"}}, "empty range"),
    ({"seq": {"lt": {"ref": "v.seq"}}}, "cannot be lt itself"),
])
def test_contradictory_tests_never_match(tmp_path: Path, where: dict[str, Any], words: str) -> None:
    data = rule("never", {"all": [lv(where)]})
    found = findings(tmp_path, {"never": data})
    assert codes(found) == ["never-matches"]
    assert words in found[0].message and "the rule never fires" in found[0].message
    assert found[0].line == line_of(tmp_path / "fam" / "never.yaml", "- fact: licence_version")


@pytest.mark.parametrize("where", [
    {"seq": {"gt": 1, "lt": 3}},
    {"threshold_limit": {"gt": 1, "lt": 2}},
    {"commercial_use": {"in": ["allowed", "restricted"], "ne": "allowed"}},
    {"research_only": {"ne": True}},
    {"date": {"gte": "2023", "lte": "2023-12-31"}},
])
def test_satisfiable_tests_are_not_reported(tmp_path: Path, where: dict[str, Any]) -> None:
    assert findings(tmp_path, {"fine": rule("fine", {"all": [lv(where)]})}) == []


def test_an_any_of_branch_that_contradicts_where(tmp_path: Path) -> None:
    data = rule("branch", {"all": [lv({"commercial_use": "allowed"},
                                      any_of=[{"commercial_use": "prohibited"}, {"research_only": True}])]})
    found = findings(tmp_path, {"branch": data})
    assert codes(found) == ["never-matches"]
    assert "any_of[0]" in found[0].message and "branch is dead" in found[0].message


def test_every_any_of_branch_contradicting_where_kills_the_rule(tmp_path: Path) -> None:
    data = rule("all-dead", {"all": [lv({"commercial_use": "allowed"}, any_of=[{"commercial_use": "prohibited"},
                                                                                {"commercial_use": "restricted"}])]})
    found = findings(tmp_path, {"all-dead": data})
    assert codes(found) == ["never-matches"] and "every any_of branch" in found[0].message


def test_an_impossible_alternative_and_a_vacuous_none(tmp_path: Path) -> None:
    data = rule("alts", {"all": [lv({"research_only": True})],
                         "any": [lv({"seq": {"gt": 3, "lt": 2}}, "w"), lv({"seq": 1}, "w")],
                         "none": [lv({"research_only": {"eq": True, "ne": True}}, "n")]})
    found = findings(tmp_path, {"alts": data})
    assert codes(found) == ["never-matches", "never-matches"]
    assert "this alternative never fires" in found[0].message
    assert "excludes nothing" in found[1].message


def test_a_mitigation_that_contradicts_its_rule(tmp_path: Path) -> None:
    data = rule("ban", {"all": [lv({"output_training_ban": True, "output_ban_scope": "any_model"})]},
                mitigated_by=[{"id": "narrow", "description": "Only competing models.", "severity": "medium",
                               "when": {"on": [{"on": "v", "where": {"output_ban_scope": "competing_models"}}]}},
                              {"id": "fine", "description": "Licensor family exempt.", "severity": "low",
                               "when": {"on": [{"on": "v", "where": {"output_ban_exempts_licensor_family": True}}]}}])
    ban = {"parties": [{"id": "acme", "name": "Acme"}],
           "licences": [{"id": "lic", "name": "L", "kind": "model_licence", "licensor": "acme", "versions": [
               {"version": "1", "date": "2024-01-01", "terms": {"output_training_ban": {"scope": "any_model"}}}]}]}
    tests = fixture(("An output ban on any model is flagged high", ban, {"fires": True}),
                    ("A licence without an output ban is not flagged", CLEAR_CASE, {"fires": False}))
    found = findings(tmp_path, {"ban": data}, {"ban": tests})
    assert codes(found) == ["dead-mitigation"]
    assert "'narrow'" in found[0].message


# --------------------------------------------------------------------------- pack and fixtures


def test_load_errors_are_findings_and_do_not_hide_other_rules(tmp_path: Path) -> None:
    bad = rule("bad-enum", {"all": [lv({"commercial_use": "alowed"})]})
    found = findings(tmp_path, {"bad-enum": bad, "research-only": OK})
    assert codes(found) == ["load-error"]
    assert "did you mean 'allowed'" in found[0].message
    assert found[0].line == line_of(tmp_path / "fam" / "bad-enum.yaml", "commercial_use")


def test_duplicate_ids_across_folders(tmp_path: Path) -> None:
    one = write_pack(tmp_path / "one", {"research-only": OK}, {"research-only": fixture(*BOTH)})
    two = write_pack(tmp_path / "two", {"research-only": OK}, {}, family="other")
    found = findings([one, two])
    assert codes(found) == ["duplicate-id"]
    assert str(one / "fam" / "research-only.yaml") in found[0].message


@pytest.mark.parametrize("tests, expected", [
    ({}, ["no-fixture"]),
    ({"research-only": fixture(BOTH[0])}, ["no-non-firing-fixture"]),
    ({"research-only": fixture(BOTH[1])}, ["no-firing-fixture"]),
    ({"research-only": fixture(*BOTH, ("A second test with the same name as the first one", GOOD_CASE,
                                       {"fires": True, "not_fires": ["no-such-rule"]}))}, ["unknown-rule"]),
    ({"research-only": fixture(*BOTH, BOTH[0])}, ["duplicate-test"]),
    ({"orphan": fixture(*BOTH), "research-only": fixture(*BOTH)}, ["unknown-rule", "unknown-rule"]),
    ({"research-only": {"tests": [{"name": "short", "case": GOOD_CASE, "expect": {"fires": True}}]}},
     ["fixture-error", "no-fixture"]),
])
def test_fixture_findings(tmp_path: Path, tests: dict[str, dict[str, Any]], expected: list[str]) -> None:
    assert sorted(codes(findings(tmp_path, {"research-only": OK}, tests))) == sorted(expected)


# --------------------------------------------------------------------------- the command


def test_lint_command_lines_and_exit_codes(tmp_path: Path) -> None:
    write_pack(tmp_path / "clean", {"research-only": OK}, {"research-only": fixture(*BOTH)})
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "clean")])
    assert result.exit_code == 0, result.output
    assert result.output == "no findings (1 rules, 2 fixture tests)\n"

    write_pack(tmp_path / "dirty", {"research-only": {**OK, "rationale": "TODO"},
                                    "never": rule("never", {"all": [lv({"seq": {"gt": 2, "lt": 1}})]})},
               {"research-only": fixture(*BOTH)})
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "dirty")])
    assert result.exit_code == 1
    *lines, summary = result.output.splitlines()
    assert summary == "3 findings (2 rules, 2 fixture tests)"
    parsed = [_FINDING.match(line) for line in lines]
    assert all(parsed), lines
    assert sorted(m["code"] for m in parsed if m) == ["never-matches", "no-fixture", "todo-text"]


def test_lint_command_json_and_bad_folder(tmp_path: Path) -> None:
    write_pack(tmp_path, {"research-only": OK})
    result = CliRunner().invoke(main, ["lint", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert [f["code"] for f in body["findings"]] == ["no-fixture"] and body["rules"] == 1
    missing = CliRunner().invoke(main, ["lint", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_lint_defaults_to_the_bundled_pack_once() -> None:
    default = CliRunner().invoke(main, ["lint"])
    twice = CliRunner().invoke(main, ["lint", str(bundled_rules_dir()), str(bundled_rules_dir())])
    assert default.output.splitlines()[-1] == twice.output.splitlines()[-1]
    assert "duplicate-id" not in twice.output
