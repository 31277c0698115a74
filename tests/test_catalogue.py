"""The rule catalogue (`policycheck rules`, docs/rules.md): rules grouped by report section,
the coverage file's mechanisms (encoded, not encoded with a reason, not yet encoded), section
matching for `--section`, and the table fitted to the terminal. Small temporary packs and
coverage files throughout; the bundled ones only for their shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from policycheck.cli import main
from policycheck.errors import InputError
from policycheck.load.rules import RulePack, load_rules
from policycheck.render.catalogue import (
    SectionError,
    SectionRef,
    cited_sections,
    load_coverage,
    parse_section,
    render,
    select,
)


def rule(rid: str, section: str, *, source: str = "CMA FM Initial Report", title: str = "A test rule",
         conditions: tuple[str, ...] = ("C3",)) -> dict[str, Any]:
    return {"id": rid, "title": title, "conditions": list(conditions), "severity": "medium",
            "citation": {"source": source, "section": section},
            "rationale": f"Why {rid} matters.", "message": "{v.version} is flagged.", "mitigation": "Drop it.",
            "when": {"all": [{"fact": "licence_version", "as": "v", "where": {"research_only": True}}]}}


RULES = {
    "compute-tie": rule("compute-tie", "§3.3.1(c); §3.8", title="Compute is tied to the partner"),
    "chip-access": rule("chip-access", "§3.3(c)"),
    "fine-tune": rule("fine-tune", "§3.3.10"),  # a section the coverage file does not list
    "output-ban": rule("output-ban", "§3.7.6; §3.2.3"),
    "governance": rule("governance", "¶4.30", source="CMA2 Mergers guidance", conditions=("JUR",)),
}

COVERAGE: dict[str, Any] = {
    "report": "CMA FM Initial Report",
    "sections": [
        {"section": "§3.2.3", "title": "Alignment", "mechanisms": [
            {"mechanism": "Terms bar using outputs to build rival models.", "rules": ["output-ban"]},
            {"mechanism": "A market for labelled data.", "todo": "A rule on stakes in data suppliers."}]},
        {"section": "§3.2.5", "title": "Synthetic data", "mechanisms": [
            {"mechanism": "Model collapse when training on generated data.",
             "reason": "A technical risk; no arrangement to flag."}]},
        {"section": "§3.3", "title": "Compute", "items": ["a", "b", "c"], "mechanisms": [
            {"mechanism": "A GPU shortage.", "rules": ["chip-access"]}]},
        {"section": "§3.3.1", "title": "Pre-training", "items": ["a", "b", "c"], "mechanisms": [
            {"mechanism": "Partnerships tie compute to one cloud.", "rules": ["compute-tie"],
             "note": "Exclusivity is weighed by the same rule."}]},
        {"section": "§3.4", "title": "Technical expertise", "mechanisms": [
            {"mechanism": "Scarce skills.", "reason": "The labour market, not an arrangement.",
             "related": ["governance"]}]},
        {"section": "§3.7.6", "title": "Open source", "mechanisms": [
            {"mechanism": "Licence terms restrict open models.", "rules": ["output-ban"]}]},
        {"section": "§3.8", "title": "Conclusion"},
    ],
}


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_pack(root: Path, rules: dict[str, dict[str, Any]]) -> Path:
    folder = root / "rules" / "fam"
    folder.mkdir(parents=True, exist_ok=True)
    for rid, data in rules.items():
        (folder / f"{rid}.yaml").write_text(dump(data), encoding="utf-8")
    return root / "rules"


def write_coverage(root: Path, data: dict[str, Any]) -> Path:
    path = root / "coverage.yaml"
    path.write_text(dump(data), encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    rules = write_pack(tmp_path, RULES)
    cov = write_coverage(tmp_path, COVERAGE)
    return {"rules": rules, "coverage": cov, "pack": load_rules([rules], bundled=False),
            "cov": load_coverage(cov)}


def cli(env: dict[str, Any], *args: str, columns: int = 100) -> Any:
    return CliRunner().invoke(main, ["rules", "--no-bundled", "--rules", str(env["rules"]),
                                     "--coverage", str(env["coverage"]), *args], env={"COLUMNS": str(columns)})


def ids(pack: RulePack, cov: Any, query: str) -> list[str]:
    return [r.id for r in select(pack, cov, query)[1]]


# --------------------------------------------------------------------------- sections


@pytest.mark.parametrize("cited, query, matches", [
    ("§3.3.1", "3.3", True),
    ("§3.3.1(c)", "3.3", True),
    ("§3.3.1(c)", "3.3.1", True),
    ("§3.3.1(c)", "§3.3.1(c)", True),
    ("§3.3.10", "3.3.1", False),
    ("§3.3.1", "3.3.10", False),
    ("§3.3.1(d)", "3.3.1(c)", False),
    ("§3.3.1", "3.3.1(c)", False),
    ("§3.2.1(a)(ii)", "3.2.1(a)", True),
    ("§3.8", "3", True),
])
def test_a_cited_section_matches_a_query_when_the_query_is_a_part_by_part_prefix_of_it(
        cited: str, query: str, matches: bool) -> None:
    ref, q = parse_section(cited), parse_section(query)
    assert ref is not None and q is not None
    assert ref.within(q) is matches


def test_a_citation_names_its_sections_separated_by_semicolons_or_commas_and_skips_other_text() -> None:
    assert cited_sections("§3.3.1(c); §3.8, §3.2.1(a)(ii); paragraph 4") == [
        SectionRef((3, 3, 1), ("c",)), SectionRef((3, 8)), SectionRef((3, 2, 1), ("a", "ii"))]
    assert parse_section("three") is None and parse_section("§3.3.1(c)") == SectionRef((3, 3, 1), ("c",))


def test_selecting_a_section_finds_the_rules_citing_it_or_a_part_of_it(env: dict[str, Any]) -> None:
    pack, cov = env["pack"], env["cov"]
    assert ids(pack, cov, "3.3") == ["chip-access", "compute-tie", "fine-tune"]
    assert ids(pack, cov, "3.3.1") == ["compute-tie"]
    assert ids(pack, cov, "3.3.1(c)") == ["compute-tie"]
    assert ids(pack, cov, "3.8") == ["compute-tie"]
    assert ids(pack, cov, "3.2.5") == []  # listed in the coverage file, cited by no rule
    with pytest.raises(SectionError):  # another source's paragraph is not a report section
        select(pack, cov, "4.30")
    with pytest.raises(SectionError) as caught:
        select(pack, cov, "3.3.2")
    assert caught.value.line.endswith("does not list it (did you mean §3.3.1?)")


# --------------------------------------------------------------------------- markdown


def test_the_catalogue_lists_a_rule_under_every_section_its_citation_names(env: dict[str, Any]) -> None:
    text = render(env["pack"], "markdown", coverage=env["cov"])
    pre_training = text.split("### §3.3.1 Pre-training")[1].split("\n### ")[0]
    conclusion = text.split("### §3.8 Conclusion")[1].split("\n### ")[0]
    alignment = text.split("### §3.2.3 Alignment")[1].split("\n### ")[0]
    assert "[`compute-tie`](#compute-tie)" in pre_training and "§3.3.1(c); §3.8" in pre_training
    assert "[`compute-tie`](#compute-tie)" in conclusion
    assert "[`output-ban`](#output-ban)" in alignment
    assert text.count("### compute-tie\n") == 1  # described once, in full


def test_each_section_shows_encoded_mechanisms_and_the_reason_for_those_not_encoded(env: dict[str, Any]) -> None:
    text = render(env["pack"], "markdown", coverage=env["cov"])
    assert "| Partnerships tie compute to one cloud. | [`compute-tie`](#compute-tie). Exclusivity is weighed" in text
    assert "| Model collapse when training on generated data. | *Not encoded*: A technical risk" in text
    assert "*Not encoded*: The labour market, not an arrangement. See [`governance`](#governance)." in text
    assert "| A market for labelled data. | *Not yet encoded*: A rule on stakes in data suppliers. |" in text
    assert "No rule cites §3.2.5." in text
    summary = text.split("## Coverage of chapter 3")[1].split("<a id=")[0]
    assert "| [§3.2.3 Alignment](#s3-2-3) | 1 | 0 | 1 | 1 |" in summary


def test_rules_citing_another_source_are_grouped_by_family_outside_chapter_3(tmp_path: Path) -> None:
    rules = {**RULES, "staff-hired": rule("staff-hired", "§4", source="CMA decision Microsoft/Inflection",
                                          conditions=("JUR",))}
    folder = write_pack(tmp_path, {k: v for k, v in rules.items() if k not in ("governance", "staff-hired")})
    juris = tmp_path / "rules" / "jurisdiction"
    juris.mkdir()
    for rid in ("governance", "staff-hired"):
        (juris / f"{rid}.yaml").write_text(dump(rules[rid]), encoding="utf-8")
    text = render(load_rules([folder], bundled=False), "markdown",
                  coverage=load_coverage(write_coverage(tmp_path, COVERAGE)))
    outside = text.split("## Rules outside chapter 3")[1].split("\n## ")[0]
    assert outside.count("### ") == 1 and "### jurisdiction (outside chapter 3)" in outside
    assert "[`governance`](#governance)" in outside and "CMA2 Mergers guidance ¶4.30" in outside
    assert "CMA decision Microsoft/Inflection §4" in outside and "JUR" in outside
    assert "staff-hired" not in text.split("## Coverage of chapter 3")[1].split("## Rules outside")[0]


def test_rules_citing_a_section_the_coverage_file_does_not_list_are_listed_as_gaps(env: dict[str, Any]) -> None:
    text = render(env["pack"], "markdown", coverage=env["cov"])
    gaps = text.split("## Coverage gaps")[1].split("\n## ")[0]
    assert "| [`fine-tune`](#fine-tune) | §3.3.10 |" in gaps
    assert "no entry of" in gaps and "[`fine-tune`](#fine-tune)" in gaps.split("no entry of")[1]
    assert "A rule on stakes in data suppliers." in gaps


def test_a_coverage_entry_naming_a_rule_the_pack_lacks_fails_generation_with_its_line(
        env: dict[str, Any], tmp_path: Path) -> None:
    data = yaml.safe_load(dump(COVERAGE))
    data["sections"][3]["mechanisms"][0]["rules"] = ["compute-ties"]
    (tmp_path / "bad").mkdir()
    bad = write_coverage(tmp_path / "bad", data)
    with pytest.raises(InputError) as caught:
        render(env["pack"], "markdown", coverage=load_coverage(bad))
    [line] = caught.value.lines()
    assert "no rule 'compute-ties'" in line and "did you mean 'compute-tie'" in line
    assert line.startswith(f"{bad}:{bad.read_text().splitlines().index('    - compute-ties') + 1}:")
    result = CliRunner().invoke(main, ["rules", "--format", "markdown", "--no-bundled", "--rules", str(env["rules"]),
                                       "--coverage", str(bad)])
    assert result.exit_code == 2 and "no rule 'compute-ties'" in result.output


@pytest.mark.parametrize("entry, words", [
    ({"mechanism": "Both.", "rules": ["compute-tie"], "reason": "And a reason."}, "not rules and reason"),
    ({"mechanism": "Neither."}, "exactly one of"),
    ({"mechanism": "Related with rules.", "rules": ["compute-tie"], "related": ["governance"]}, "'related' goes"),
])
def test_a_coverage_entry_gives_exactly_one_of_rules_reason_or_todo(tmp_path: Path, entry: dict[str, Any],
                                                                      words: str) -> None:
    path = write_coverage(tmp_path, {"report": "R", "sections": [{"section": "§3.4", "title": "T",
                                                                   "mechanisms": [entry]}]})
    with pytest.raises(InputError, match=words):
        load_coverage(path)


def test_without_mechanisms_the_catalogue_still_groups_rules_by_section(env: dict[str, Any]) -> None:
    result = CliRunner().invoke(main, ["rules", "--format", "markdown", "--no-bundled", "--rules", str(env["rules"])])
    assert result.exit_code == 0, result.output
    assert "What the report describes" not in result.output  # the bundled mechanisms name bundled rules
    assert "[`compute-tie`](#compute-tie)" in result.output.split("### §3.3.1 ")[1].split("\n### ")[0]


# --------------------------------------------------------------------------- the command


def test_rules_section_filters_the_table_and_shows_what_the_section_describes(env: dict[str, Any]) -> None:
    result = cli(env, "--section", "3.3")
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.output.splitlines() if line[:1].isalpha() and "  " in line]
    assert listed[1:] == ["chip-access", "compute-tie", "fine-tune"]  # after the header row
    assert "3 of 5 rules cite §3.3" in result.output
    assert "§3.3.1 Pre-training: what the section describes" in result.output
    assert "encoded by compute-tie" in result.output
    only = cli(env, "--section", "3.3.1")
    assert "compute-tie" in only.output and "fine-tune" not in only.output


def test_a_listed_section_no_rule_cites_shows_its_reasons_instead_of_rules(env: dict[str, Any]) -> None:
    result = cli(env, "--section", "§3.2.5")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 of 5 rules cite §3.2.5")
    assert "[not encoded: A technical risk; no arrangement to flag.]" in " ".join(result.output.split())


@pytest.mark.parametrize("query, words", [
    ("3.3.2", "error: --section §3.3.2: no rule cites it and"),
    ("3.9", "(did you mean §3.8?)"),
    ("abc", "error: --section 'abc' is not a section number"),
])
def test_an_unknown_or_malformed_section_exits_2_with_one_line(env: dict[str, Any], query: str, words: str) -> None:
    result = cli(env, "--section", query)
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1 and words in result.output


def test_rules_json_gives_the_cited_sections_and_honours_the_section_filter(env: dict[str, Any]) -> None:
    import json

    body = json.loads(cli(env, "--format", "json").output)
    assert {r["id"]: r["sections"] for r in body}["compute-tie"] == ["§3.3.1(c)", "§3.8"]
    assert {r["id"]: r["sections"] for r in body}["governance"] == []
    assert [r["id"] for r in json.loads(cli(env, "--format", "json", "--section", "3.8").output)] == ["compute-tie"]


LONG = {"leading-licensor-terms-depend-on-licensee": rule(
            "leading-licensor-terms-depend-on-licensee", "§3.7.6; §3.2.3; §3.3.1(c)",
            title="A title long enough that it cannot fit on one line of a narrow terminal next to the id"),
        "short": rule("short", "§3.8", title="Short")}


@pytest.mark.parametrize("columns", [80, 100, 140])
def test_the_rules_table_fits_the_terminal_width_and_keeps_every_title_word(tmp_path: Path, columns: int) -> None:
    env = {"rules": write_pack(tmp_path, LONG), "coverage": write_coverage(tmp_path, COVERAGE)}
    result = cli(env, columns=columns)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= columns
    words = " ".join(lines).split()
    assert all(w in words for w in LONG["short"]["title"].split() + LONG[next(iter(LONG))]["title"].split())
    assert all(w in words for w in ["§3.7.6;", "§3.2.3;", "§3.3.1(c)"])
    assert lines[-1] == "2 rules"


def test_a_wide_terminal_gets_one_row_per_rule_and_a_narrow_one_a_title_line_under_each(tmp_path: Path) -> None:
    env = {"rules": write_pack(tmp_path, LONG), "coverage": write_coverage(tmp_path, COVERAGE)}
    wide = cli(env, columns=200).output.splitlines()
    assert wide[0].split() == ["Id", "Severity", "Conditions", "Citation", "Title"]
    assert any(line.startswith("short ") and line.endswith("Short") for line in wide)
    narrow = cli(env, columns=100).output.splitlines()
    assert narrow[1].strip() == "Title"
    assert narrow[narrow.index(next(x for x in narrow if x.startswith("short "))) + 1] == "    Short"


# --------------------------------------------------------------------------- the bundled coverage file


def test_the_bundled_coverage_file_lists_every_section_of_chapter_3_from_3_2_to_3_8() -> None:
    cov = load_coverage()
    listed = {s.section for s in cov.sections}
    expected = {"§3.2", *(f"§3.2.{i}" for i in range(1, 6)), "§3.3", *(f"§3.3.{i}" for i in range(1, 4)), "§3.4",
                "§3.5", "§3.6", "§3.6.1", "§3.6.2", "§3.7", *(f"§3.7.{i}" for i in range(1, 7)), "§3.8"}
    assert expected <= listed
    assert all(s.mechanisms or s.note for s in cov.sections), "every section says what it describes or why not"


def test_the_bundled_coverage_file_names_only_rules_the_bundled_pack_has() -> None:
    problems = load_coverage().problems(load_rules())
    assert not problems, "reconcile docs/coverage.yaml with the rule pack:\n" + "\n".join(p.render() for p in problems)
