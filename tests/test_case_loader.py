"""Loading case files: every kind of mistake gets one located line; and what facts a case yields.

Most bad inputs are made by editing one line of tests/data/cases/minimal.yaml, so each test
shows exactly which change causes which error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policycheck import load_case, load_case_text
from policycheck.load.cases import LoadedCase, iter_case_files
from policycheck.errors import CaseLoadError, Problem
from policycheck.facts import Fact, flatten

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "cases"
MINIMAL = (DATA / "minimal.yaml").read_text(encoding="utf-8")
BUNDLED_CASES = sorted((ROOT / "cases").rglob("*.yaml"))


def edit(old: str, new: str, text: str = MINIMAL) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once in the base case"
    return text.replace(old, new)


def problems(text: str, name: str = "case.yaml") -> list[Problem]:
    with pytest.raises(CaseLoadError) as info:
        load_case_text(text, name)
    return list(info.value.problems)


def one(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, [p.render() for p in found]
    return found[0]


def where(p: Problem) -> tuple[int | None, int | None, str | None]:
    return p.location.line, p.location.column, p.location.path


# --- good files -----------------------------------------------------------------------------------

def test_minimal_case_loads() -> None:
    loaded = load_case(DATA / "minimal.yaml")
    assert isinstance(loaded, LoadedCase)
    assert loaded.case.id == "minimal"
    assert loaded.file == str(DATA / "minimal.yaml")
    assert [v.version for v in loaded.case.licences[0].versions] == ["1.0", "2.0"]


def test_json_case_file_loads() -> None:
    loaded = load_case(DATA / "minimal.json")
    assert loaded.case.id == "minimal-json"
    assert loaded.case.kind == ["licence", "deal"]
    deal = loaded.case.deals[0]
    assert deal.amount is not None and deal.amount.value == 1.0e9  # type: ignore[union-attr]
    assert deal.staff_hired == "none"
    assert loaded.document.line_of(("deals", 0, "compute")) == 24


def test_json_and_yaml_of_the_same_data_give_the_same_case() -> None:
    data = json.loads((DATA / "minimal.json").read_text())
    yaml_like = load_case_text(json.dumps(data, indent=1), "a.json").case
    assert yaml_like == load_case(DATA / "minimal.json").case


def test_errors_in_json_are_located() -> None:
    text = (DATA / "minimal.json").read_text().replace('"compute": "exclusive"', '"compute": "exclusve"')
    (p,) = problems(text, "m.json")
    assert where(p) == (24, 7, "deals[0].compute")
    assert p.suggestion == "exclusive"


@pytest.mark.parametrize("path", BUNDLED_CASES, ids=lambda p: p.stem)
def test_bundled_cases_load(path: Path) -> None:
    assert load_case(path).case.schema_version == 2


def test_iter_case_files_sorts_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.json", "c.txt", ".hidden/x.yaml", "sub/d.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_case_files([tmp_path])]
    assert found == ["a.json", "b.yaml", "sub/d.yml"]


# --- syntax-level errors --------------------------------------------------------------------------

def test_bad_yaml_syntax_has_line_and_column() -> None:
    p = one(edit("roles: [fm_developer]", "roles: [fm_developer"))
    assert p.message == "invalid YAML: did not find expected ',' or ']'"
    assert (p.location.file, p.location.line, p.location.column) == ("case.yaml", 17, 7)


def test_bad_yaml_file_on_disk() -> None:
    with pytest.raises(CaseLoadError) as info:
        load_case(DATA / "bad" / "syntax.yaml")
    (p,) = info.value.problems
    assert p.render().startswith(f"{DATA / 'bad' / 'syntax.yaml'}:5:")
    assert "invalid YAML" in p.message


def test_duplicate_key() -> None:
    p = one(edit("kind: [licence]\n", "kind: [licence]\nkind: [deal]\n"))
    assert where(p) == (5, 1, "kind")
    assert p.message == "duplicate key 'kind'"


def test_anchor_and_alias_refused() -> None:
    text = edit("roles: [fm_developer]", "roles: &r [fm_developer]")
    text = edit("    weights: open_download", "    weights: open_download\n    sources: *r", text)
    p = one(text)
    assert where(p) == (22, 5, "models[0].sources")
    assert "anchors and aliases" in p.message


def test_python_tag_refused() -> None:
    p = one(edit("name: Acme AI", "name: !!python/object/apply:os.system [echo hi]"))
    assert where(p) == (15, 11, "parties[0].name")
    assert "unsupported YAML tag" in p.message


def test_non_utf8_file() -> None:
    with pytest.raises(CaseLoadError) as info:
        load_case(DATA / "bad" / "latin1.yaml")
    (p,) = info.value.problems
    assert "not valid UTF-8" in p.message


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing yet\n"])
def test_empty_file(text: str) -> None:
    assert one(text).message == "file is empty"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n", "---\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    assert one(text).message == "a case file must be a mapping at the top level"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaseLoadError) as info:
        load_case(tmp_path / "absent.yaml")
    assert "cannot read file" in info.value.problems[0].message


# --- schema errors --------------------------------------------------------------------------------

def test_unknown_top_level_key_suggests_the_right_one() -> None:
    p = one(edit("title: A minimal", "titel: A minimal"))
    assert where(p) == (3, 1, "titel")
    assert p.message == "unknown field 'titel'"
    assert p.suggestion == "title"
    assert p.render() == "case.yaml:3:1: titel: unknown field 'titel' (did you mean 'title'?)"


def test_unknown_nested_key_suggests_from_the_right_model() -> None:
    p = one(edit("osi_approved: true", "osi_aproved: true"))
    assert where(p) == (34, 11, "licences[0].versions[0].terms.osi_aproved")
    assert p.suggestion == "osi_approved"


def test_unknown_key_without_a_near_name_has_no_suggestion() -> None:
    p = one(edit("osi_approved: true", "zzzz: true"))
    assert p.message == "unknown field 'zzzz'" and p.suggestion is None


@pytest.mark.parametrize("value", ["yes", "no", "on", "1", "0", '"true"', "True-ish", "[true]"])
def test_osi_approved_accepts_only_true_false_unknown(value: str) -> None:
    p = one(edit("osi_approved: true", f"osi_approved: {value}"))
    assert where(p)[2] == "licences[0].versions[0].terms.osi_approved"
    assert where(p)[:2] == (34, 11)
    assert "true, false, unknown" in p.message


@pytest.mark.parametrize("value", ["true", "false", "unknown"])
def test_osi_approved_valid_values(value: str) -> None:
    loaded = load_case_text(edit("osi_approved: true", f"osi_approved: {value}"))
    want = {"true": True, "false": False, "unknown": "unknown"}[value]
    assert loaded.case.licences[0].versions[0].terms.osi_approved == want


def test_wrong_enum_value_suggests() -> None:
    p = one(edit("open_download", "open_downlaod"))
    assert where(p) == (21, 5, "models[0].weights")
    assert "open_download, gated, api_only, closed, unknown" in p.message
    assert p.suggestion == "open_download"


def test_number_constraint_is_explained_not_hidden_behind_unknown() -> None:
    # Unknowable[float > 0]: the error must say why -1 fails, not just "expected: unknown".
    p = one(edit("weights: open_download", "parameters_billions: -1"))
    assert where(p)[2] == "models[0].parameters_billions"
    assert "greater than 0" in p.message and "unknown" in p.message


def test_wrong_type_for_a_list() -> None:
    p = one(edit("kind: [licence]", "kind: licence"))
    assert where(p) == (4, 1, "kind")
    assert "expected a list (write it as a list: [licence])" in p.message


def test_string_for_a_number_is_refused_not_coerced() -> None:
    text = edit("osi_approved: true", 'user_threshold: {metric: users, limit: "100", above: fee}')
    p = one(text)
    assert where(p)[2] == "licences[0].versions[0].terms.user_threshold.limit"


def test_missing_required_field() -> None:
    p = one(edit("as_of: 2024-01-31\n", ""))
    assert where(p) == (1, 1, "as_of")
    assert p.message == "required field 'as_of' is missing"


def test_missing_nested_required_field_names_the_full_path() -> None:
    p = one(edit("    licensor: acme\n", ""))
    assert where(p)[2] == "licences[0].licensor"
    assert where(p)[0] == 23  # the licence's first line
    assert p.message == "required field 'licensor' is missing"


@pytest.mark.parametrize(("date", "fragment"), [
    ("2023-02-30", "not a calendar date"),
    ("2023-13-01", "month 13"),
    ("2023-00-10", "month 00"),
    ("2023-1-5", "YYYY-MM-DD"),
    ("01/02/2023", "YYYY-MM-DD"),
    ("yesterday", "YYYY-MM-DD"),
])
def test_bad_dates(date: str, fragment: str) -> None:
    p = one(edit("date: 2023-01-01", f"date: {date}"))
    assert where(p) == (30, 9, "licences[0].versions[0].date")
    assert fragment in p.message


def test_bad_as_of_date() -> None:
    p = one(edit("as_of: 2024-01-31", "as_of: 2023-02-29"))  # 2023 is not a leap year
    assert where(p) == (5, 1, "as_of") and "not a calendar date" in p.message


@pytest.mark.parametrize("date", ["2024-02-29", "2023-07", '"2023"'])
def test_partial_and_leap_dates_are_fine(date: str) -> None:
    assert load_case_text(edit("as_of: 2024-01-31", f"as_of: {date}")).case.as_of == date.strip('"')


def test_an_unquoted_year_is_a_number_not_a_date() -> None:
    p = one(edit("date: 2024-01-01", "date: 2024"))  # Unknowable[date]: the message must say why
    assert where(p) == (11, 5, "sources[0].date")
    assert "quote it: \"2024\"" in p.message and "unknown" in p.message


def test_bad_url() -> None:
    p = one(edit("https://example.org/licence", "example.org/licence"))
    assert where(p) == (10, 5, "sources[0].url") and "http(s) URL" in p.message


def test_bad_id_pattern() -> None:
    p = one(edit("id: acme-1", "id: Acme 1"))
    assert where(p)[2] == "models[0].id"


def test_schema_version_3_is_refused() -> None:
    p = one(edit("schema_version: 2", "schema_version: 3"))
    assert where(p) == (1, 1, "schema_version")
    assert "unsupported schema_version 3" in p.message and "version 2" in p.message


def test_schema_version_1_is_refused_with_the_migrate_command() -> None:
    p = one(edit("schema_version: 2", "schema_version: 1"))
    assert where(p) == (1, 1, "schema_version")
    assert p.message.startswith("case format v1; this policycheck reads version 2")
    assert "run 'policycheck migrate case.yaml'" in p.message


def test_schema_version_is_required() -> None:
    p = one(edit("schema_version: 2\n", ""))
    assert p.message == "required field 'schema_version' is missing"


def test_several_problems_in_one_file_give_one_line_each() -> None:
    with pytest.raises(CaseLoadError) as info:
        load_case(DATA / "bad" / "several-problems.yaml")
    lines = info.value.lines()
    name = str(DATA / "bad" / "several-problems.yaml")
    assert lines == [
        f"{name}:3:1: titel: unknown field 'titel' (did you mean 'title'?)",
        f"{name}:5:1: as_of: invalid value '2023-02-30': not a calendar date: day is out of range for month",
        f"{name}:23:11: licences[0].versions[0].terms.osi_approved: invalid value 'yes'; "
        "expected one of: true, false, unknown",
    ]
    assert str(info.value).splitlines() == lines


# --- cross-reference errors -----------------------------------------------------------------------

def test_unknown_party_reference_suggests() -> None:
    p = one(edit("developer: acme", "developer: acmee"))
    assert where(p) == (20, 5, "models[0].developer")
    assert p.message == "unknown party 'acmee'" and p.suggestion == "acme"


def test_unknown_licensor() -> None:
    p = one(edit("licensor: acme", "licensor: acne"))
    assert where(p)[2] == "licences[0].licensor" and p.suggestion == "acme"


def test_unknown_model_reference() -> None:
    p = one(edit("models: [acme-1]", "models: [acme-2]"))
    assert where(p)[2] == "licences[0].models[0]" and p.suggestion == "acme-1"


def test_unknown_source_reference_suggests() -> None:
    p = one(edit("sources: [src-a]", "sources: [src-b]"))
    assert where(p) == (31, 19, "licences[0].versions[0].sources[0]")
    assert p.message == "unknown source 'src-b'" and p.suggestion == "src-a"


def test_unknown_clause_source() -> None:
    text = edit("        sources: [src-a]\n",
                "        sources: [src-a]\n        clauses:\n          - {ref: s1, text: quoted, source: src-z}\n")
    p = one(text)
    assert where(p)[2] == "licences[0].versions[0].clauses[0].source"


def test_unknown_exclusive_licensee_in_data_change() -> None:
    text = MINIMAL + """data_access_changes:
  - id: ch
    holder: acme
    resource: API
    date: 2023-01-01
    stage: effective
    before: {price: free}
    after: {exclusive_licensee: acmee}
"""
    p = one(edit("kind: [licence]", "kind: [licence, data_access]", text))
    assert where(p)[2] == "data_access_changes[0].after.exclusive_licensee" and p.suggestion == "acme"


def test_duplicate_ids() -> None:
    text = edit("  - id: acme-1\n", "  - id: acme-1\n    name: X\n    developer: acme\n  - id: acme-1\n")
    p = one(text)
    assert where(p) == (21, 5, "models[1].id")
    assert p.message == "duplicate model id 'acme-1'"


def test_licence_versions_out_of_order() -> None:
    p = one(edit("date: 2023-06-01", "date: 2022-06-01"))
    assert where(p) == (36, 9, "licences[0].versions[1].date")
    assert "oldest first" in p.message


def test_several_reference_problems_are_all_reported() -> None:
    text = edit("developer: acme", "developer: acmee")
    text = edit("sources: [src-a]", "sources: [src-b]", text)
    text = edit("date: 2023-06-01", "date: 2022-06-01", text)
    assert [where(p)[2] for p in problems(text)] == [
        "licences[0].versions[0].sources[0]", "models[0].developer", "licences[0].versions[1].date",
    ]


# --- facts: unknown vs absent vs none vs false -----------------------------------------------------

@pytest.fixture(scope="module")
def facts() -> dict[str, Fact]:
    return {f.id: f for f in flatten(load_case(DATA / "facts.yaml"))}


def status(fact: Fact, name: str) -> str:
    states = [s for s, hit in (("known", name in fact.values), ("unknown", name in fact.unknown),
                               ("unstated", name in fact.unstated)) if hit]
    assert len(states) <= 1, f"{name} is {states}"
    return states[0] if states else "not applicable"


def test_fact_order_and_types(facts: dict[str, Fact]) -> None:
    assert [(f.type, f.id) for f in facts.values()] == [
        ("case", "facts"), ("party", "lab"), ("party", "quiet"), ("party", "vague"),
        ("licence_version", "lic@1"), ("licence_version", "lic@2"), ("data_access_change", "api-change"),
    ]
    assert all(f.case_id == "facts" and f.values["id"] == f.id for f in facts.values())


def test_unknown_is_unknown(facts: dict[str, Fact]) -> None:
    v1 = facts["lic@1"]
    assert status(v1, "osi_approved") == "unknown"
    assert "osi_approved" not in v1.values


def test_absent_is_unstated(facts: dict[str, Fact]) -> None:
    assert status(facts["lic@1"], "revocation") == "unstated"
    assert status(facts["lic@1"], "has_aup") == "unstated"


def test_false_is_known_false(facts: dict[str, Fact]) -> None:
    assert facts["lic@2"].values["osi_approved"] is False


def test_none_is_known_false_and_its_details_are_not_applicable(facts: dict[str, Fact]) -> None:
    v1 = facts["lic@1"]
    assert v1.values["output_training_ban"] is False
    assert status(v1, "output_ban_scope") == "not applicable"
    assert status(v1, "output_ban_exempts_licensor_family") == "not applicable"
    assert facts["lic@2"].values["has_aup"] is False
    assert status(facts["lic@2"], "aup_by_reference") == "not applicable"


def test_unknown_structure_makes_every_derived_field_unknown(facts: dict[str, Fact]) -> None:
    v1 = facts["lic@1"]
    for name in ("has_user_threshold", "threshold_metric", "threshold_limit", "threshold_above"):
        assert status(v1, name) == "unknown", name


def test_structure_is_flattened(facts: dict[str, Fact]) -> None:
    v2 = facts["lic@2"].values
    assert (v2["has_user_threshold"], v2["threshold_metric"], v2["threshold_limit"], v2["threshold_above"]) == (
        True, "annual_revenue_usd", 1e6, "fee")
    assert (v2["output_training_ban"], v2["output_ban_scope"]) == (True, "competing_models")
    # case format v2: a left-out exempts_licensor_family is unstated, not false (issue 9, item 5)
    assert status(facts["lic@2"], "output_ban_exempts_licensor_family") == "unstated"


def test_empty_list_is_known_and_false(facts: dict[str, Fact]) -> None:
    v1, lab = facts["lic@1"], facts["lab"]
    assert v1.values["field_of_use_restrictions"] == [] and v1.values["has_field_of_use_restrictions"] is False
    assert facts["lic@2"].values["has_field_of_use_restrictions"] is True
    assert lab.values["leading_markets"] == [] and lab.values["holds_leading_position"] is False


def test_leading_position_absent_vs_unknown(facts: dict[str, Fact]) -> None:
    assert status(facts["quiet"], "holds_leading_position") == "unstated"
    assert status(facts["vague"], "holds_leading_position") == "unknown"
    assert status(facts["vague"], "leading_markets") == "unknown"


def test_version_timeline_fields(facts: dict[str, Fact]) -> None:
    v1, v2 = facts["lic@1"], facts["lic@2"]
    assert (v1.values["seq"], v2.values["seq"]) == (1, 2)
    assert v2.values["previous"] == "lic@1"
    assert status(v1, "previous") == "not applicable"
    assert v1.values["licence"] == v2.values["licence"] == "lic"


def test_data_access_change_prices(facts: dict[str, Fact]) -> None:
    ch = facts["api-change"]
    assert (ch.values["free_before"], ch.values["price_before"]) == (True, 0)
    after = (ch.values["free_after"], ch.values["price_after"], ch.values["price_unit"])
    assert after == (False, 0.5, "per 1,000 calls")
    assert status(ch, "ai_training_ban_after") == "unknown"
    assert ch.values["ai_training_ban_before"] is False
    assert status(ch, "announced") == "unstated"
    assert (ch.values["exclusive_after"], ch.values["exclusive_licensee_after"]) == (True, "lab")


def test_origins_point_at_the_case_file_lines(facts: dict[str, Fact]) -> None:
    loaded = load_case(DATA / "facts.yaml")
    v2 = facts["lic@2"]
    assert v2.origins["threshold_limit"] == ("licences", 0, "versions", 1, "terms", "user_threshold", "limit")
    assert loaded.document.line_of(v2.origins["threshold_limit"]) == 44
    assert loaded.document.line_of(facts["lic@1"].origins["osi_approved"]) == 32


def test_every_flattened_field_is_in_the_vocabulary() -> None:
    from policycheck.model.vocabulary import FACT_TYPES

    for path in BUNDLED_CASES + [DATA / "facts.yaml", DATA / "minimal.json"]:
        for fact in flatten(load_case(path)):
            names = set(fact.values) | fact.unknown | fact.unstated
            assert names <= set(FACT_TYPES[fact.type]), (path, fact.type, names - set(FACT_TYPES[fact.type]))


# --- many files: a case id names one case ---------------------------------------------------------

def _two_files_with_one_id(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "a.yaml", tmp_path / "sub" / "b.yaml"
    second.parent.mkdir()
    first.write_text(MINIMAL, encoding="utf-8")
    second.write_text("# a copy, edited\n\n" + edit("title: A minimal licence case", "title: A copy"), encoding="utf-8")
    return first, second


def test_two_files_with_the_same_case_id_are_refused_naming_both_id_lines(tmp_path: Path) -> None:
    from policycheck.load.cases import load_cases

    first, second = _two_files_with_one_id(tmp_path)
    with pytest.raises(CaseLoadError) as info:
        load_cases([tmp_path])
    (p,) = info.value.problems
    id_line = MINIMAL.splitlines().index("id: minimal") + 1
    assert (p.location.file, p.location.line, p.location.path) == (str(second), id_line + 2, "id")
    assert "duplicate case id 'minimal'" in p.message
    assert f"{first}:{id_line}" in p.render()


def test_load_cases_reports_every_file_problem_and_the_duplicate_together(tmp_path: Path) -> None:
    from policycheck.load.cases import load_cases

    _two_files_with_one_id(tmp_path)
    (tmp_path / "c.yaml").write_text(edit("title: A minimal licence case", "titel: x"), encoding="utf-8")
    with pytest.raises(CaseLoadError) as info:
        load_cases([tmp_path])
    messages = [p.message for p in info.value.problems]
    assert any("duplicate case id 'minimal'" in m for m in messages)
    assert any("unknown field 'titel'" in m for m in messages)


def test_load_cases_loads_distinct_cases_in_order_and_a_file_named_twice_once(tmp_path: Path) -> None:
    from policycheck.load.cases import load_cases

    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(MINIMAL, encoding="utf-8")
    b.write_text(edit("id: minimal", "id: other"), encoding="utf-8")
    assert [c.case.id for c in load_cases([tmp_path])] == ["minimal", "other"]
    assert [c.case.id for c in load_cases([b, a, tmp_path])] == ["other", "minimal"]


@pytest.mark.parametrize("command", [["validate"], ["assess", "--no-config"]])
def test_the_cli_refuses_two_files_with_one_case_id(tmp_path: Path, command: list[str]) -> None:
    from click.testing import CliRunner

    from policycheck.cli import main

    first, second = _two_files_with_one_id(tmp_path)
    result = CliRunner().invoke(main, [*command, str(tmp_path)])
    assert result.exit_code == 2, result.output
    id_line = MINIMAL.splitlines().index("id: minimal") + 1
    (line,) = [x for x in result.stderr.splitlines() if "duplicate case id" in x]
    assert line.startswith(f"error: {second}:{id_line + 2}:")
    assert f"{first}:{id_line}" in line


# --- a fact field's name written in a case file points at the case field ------------------------

TERMS_LINE = "          osi_approved: true"


@pytest.mark.parametrize(("old", "added", "hint"), [
    (TERMS_LINE, "          aup_by_reference: true", "acceptable_use_policy.incorporated_by_reference"),
    (TERMS_LINE, "          threshold_limit: 5", "user_threshold.limit"),
    (TERMS_LINE, "          has_user_threshold: true", "user_threshold"),
    ("        date: 2023-01-01", "        has_aup: true", "terms.acceptable_use_policy"),
    ("    licensor: acme", "    licence_name: x", "name"),
])
def test_a_fact_name_in_a_case_file_suggests_the_case_path(old: str, added: str, hint: str) -> None:
    text = edit(old + "\n", old + "\n" + added + "\n")
    p = one(text)
    name = added.split(":")[0].strip()
    assert p.message.startswith(f"unknown field '{name}'")
    assert p.suggestion == hint
    assert p.location.line == text.splitlines().index(added) + 1
    assert p.render().endswith(f"(did you mean '{hint}'?)")


def test_a_fact_name_where_no_case_field_of_it_lives_gets_the_usual_hint() -> None:
    p = one(edit(TERMS_LINE, TERMS_LINE + "\n          price_unit: per call"))
    assert p.message == "unknown field 'price_unit'"
    assert p.suggestion is None or "." not in p.suggestion
    near = one(edit(TERMS_LINE, TERMS_LINE + "\n          osi_aproved: true"))
    assert (near.message, near.suggestion) == ("unknown field 'osi_aproved'", "osi_approved")


def test_alias_targets_are_relative_to_where_the_name_was_written() -> None:
    from policycheck.io.schema_errors import alias_target, generic_path

    aliases = {"x": ["a[].b.c", "d.e"]}
    assert generic_path(("a", 0, "b")) == "a[].b"
    assert alias_target("x", ("a", 3), aliases) == "b.c"
    assert alias_target("x", (), aliases) == "a[].b.c"
    assert alias_target("x", ("d",), aliases) == "e"
    assert alias_target("x", ("a", 0, "b", "c"), aliases) is None
    assert alias_target("y", ("a", 0), aliases) is None


@pytest.mark.parametrize("date", ["２０２４-０１-０１", "٢٠٢٤-٠١-٠١", "2024-0１-01"])
def test_dates_take_ascii_digits_only(date: str) -> None:
    from policycheck.errors import CaseLoadError

    text = (DATA / "minimal.yaml").read_text(encoding="utf-8")
    import re as _re

    changed = _re.sub(r"(?m)^as_of: .*$", f'as_of: "{date}"', text, count=1)
    assert changed != text
    with pytest.raises(CaseLoadError) as info:
        load_case_text(changed, "d.yaml")
    assert any(p.location.path == "as_of" and "YYYY-MM-DD" in p.message for p in info.value.problems), info.value.lines()
