"""Loading rule files: validation against the fact vocabulary, with file:line and a nearest name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policycheck import load_rules
from policycheck.errors import Problem, RuleLoadError
from policycheck.load.rules import RulePack, bundled_rules_dir, iter_rule_files

DATA_RULES = Path(__file__).resolve().parent / "data" / "rules"

HEAD = """id: {id}
title: A test rule
conditions: [C3]
severity: {severity}
citation: {{source: CMA FM Initial Report, section: "§3.7.6"}}
rationale: Why.
message: "{message}"
mitigation: What would help.
"""
HEAD_LINES = HEAD.count("\n")


def where_v(body: str, fact: str = "licence_version") -> str:
    """A rule body with one pattern ``v`` whose where-map is ``body`` (one line per test)."""
    lines = "".join(f"        {line}\n" for line in body.splitlines())
    return f"when:\n  all:\n    - fact: {fact}\n      as: v\n      where:\n{lines}"


WHERE_LINE = HEAD_LINES + 6  # the first line of ``where_v``'s body


def write_rule(folder: Path, rule_id: str, when: str, *, severity: str = "medium", message: str = "{v.version}",
               family: str = "fam", stem: str | None = None, extra: str = "") -> Path:
    path = folder / family / f"{stem or rule_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD.format(id=rule_id, severity=severity, message=message) + when + extra, encoding="utf-8")
    return path


def rule_problems(tmp_path: Path, when: str, **kw: str) -> tuple[Path, list[Problem]]:
    path = write_rule(tmp_path, kw.pop("rule_id", "r"), when, **kw)
    with pytest.raises(RuleLoadError) as info:
        load_rules([tmp_path], bundled=False)
    for p in info.value.problems:
        assert p.location.file == str(path), p.render()
    return path, list(info.value.problems)


def one(tmp_path: Path, when: str, **kw: str) -> Problem:
    _, found = rule_problems(tmp_path, when, **kw)
    assert len(found) == 1, [p.render() for p in found]
    return found[0]


# --- valid packs ----------------------------------------------------------------------------------

def test_bundled_pack_loads_and_is_the_checkout_rules_folder() -> None:
    pack = load_rules()
    assert isinstance(pack, RulePack) and pack.rules
    assert bundled_rules_dir().is_dir()
    assert {r.id for r in pack.rules} == {p.stem for p in iter_rule_files(bundled_rules_dir())}


def test_test_pack_loads_sorted_with_families() -> None:
    pack = load_rules([DATA_RULES], bundled=False)
    ids = [r.id for r in pack.rules]
    assert ids == sorted(ids) and len(ids) == 9
    fam = {r.id: r.family for r in pack.rules}
    assert fam["t-threshold-added"] == "otc" and fam["t-exclusive-compute"] == "deals"
    assert pack.by_id()["t-output-ban"].rule.severity == "high"


def test_extra_folder_adds_to_the_bundled_pack() -> None:
    bundled = {r.id for r in load_rules().rules}
    both = {r.id for r in load_rules([DATA_RULES]).rules}
    assert both == bundled | {r.id for r in load_rules([DATA_RULES], bundled=False).rules}


def test_digest_is_stable_and_tracks_file_bytes(tmp_path: Path) -> None:
    shutil.copytree(DATA_RULES, tmp_path / "rules")
    first = load_rules([tmp_path / "rules"], bundled=False).digest
    assert load_rules([tmp_path / "rules"], bundled=False).digest == first
    f = tmp_path / "rules" / "deals" / "t-exclusive-compute.yaml"
    f.write_text(f.read_text() + "# a comment changes the bytes\n")
    assert load_rules([tmp_path / "rules"], bundled=False).digest != first


def test_fixtures_hidden_and_underscore_files_are_not_rules(tmp_path: Path) -> None:
    write_rule(tmp_path, "good", where_v("osi_approved: false"))
    for name in ("fam/good.test.yaml", "fam/tests/case.yaml", ".git/x.yaml", "_drafts/y.yaml", "fam/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("not: a rule\n")
    assert [r.id for r in load_rules([tmp_path], bundled=False).rules] == ["good"]


def test_rule_at_the_folder_root_is_in_family_general(tmp_path: Path) -> None:
    write_rule(tmp_path, "top", where_v("osi_approved: false"), family=".")
    assert load_rules([tmp_path], bundled=False).rules[0].family == "general"


def test_a_single_rule_file_can_be_given(tmp_path: Path) -> None:
    path = write_rule(tmp_path, "solo", where_v("osi_approved: false"))
    assert [r.id for r in load_rules([path], bundled=False).rules] == ["solo"]


def test_missing_rules_folder(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError) as info:
        load_rules([tmp_path / "nope"], bundled=False)
    (p,) = info.value.problems
    assert p.location.file == str(tmp_path / "nope") and "no such rules folder" in p.message


# --- vocabulary errors ----------------------------------------------------------------------------

def test_unknown_fact_type(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("osi_approved: false", fact="licence_verison"))
    assert (p.location.line, p.location.column, p.location.path) == (HEAD_LINES + 3, 7, "when.all[0].fact")
    assert p.message == "unknown fact type 'licence_verison'" and p.suggestion == "licence_version"


def test_unknown_field(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("osi_aproved: true"))
    assert (p.location.line, p.location.column) == (WHERE_LINE, 9)
    assert p.location.path == "when.all[0].where.osi_aproved"
    assert p.message == "unknown field 'osi_aproved' of fact 'licence_version'" and p.suggestion == "osi_approved"


def test_unknown_operator(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("threshold_limit: {gtt: 10}"))
    assert p.location.line == WHERE_LINE and p.location.path == "when.all[0].where.threshold_limit.gtt"
    assert p.message == "unknown operator 'gtt'" and p.suggestion in ("gt", "gte")


def test_unknown_enum_value(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("output_ban_scope: competing_model"))
    assert p.location.line == WHERE_LINE
    assert "'competing_model' is not a value of 'output_ban_scope'" in p.message
    assert p.suggestion == "competing_models"


def test_unknown_enum_value_inside_in(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("revocation: {in: [at_will, on_breech]}"))
    assert p.suggestion == "on_breach"


def test_unknown_enum_value_inside_contains_any(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("roles: {contains_any: [investor, clod_provider]}", fact="party"), message="{v.name}")
    assert p.suggestion == "cloud_provider"


@pytest.mark.parametrize(("test", "fragment"), [
    ('threshold_limit: {gt: "10"}', "'threshold_limit' expects number, got '10'"),
    ("osi_approved: 1", "'osi_approved' expects bool, got 1"),
    ("osi_approved: yes", "'osi_approved' expects bool, got 'yes'"),
    ('osi_approved: "true"', "'osi_approved' expects bool, got 'true'"),
    ("seq: 1.5", "'seq' expects int, got 1.5"),
    ("seq: true", "'seq' expects int, got True"),
    ("threshold_limit: false", "'threshold_limit' expects number, got False"),
    ('date: {gt: "Feb 2023"}', "'date' expects a date YYYY-MM-DD, got 'Feb 2023'"),
    ("revocation: 3", "'revocation' expects one of: at_will, on_breach, irrevocable, got 3"),
    ("osi_approved: null", "'osi_approved' expects bool, got None"),
])
def test_literal_of_the_wrong_type(tmp_path: Path, test: str, fragment: str) -> None:
    # durable_rules would coerce ("10" == 10, true == 1): the compiler must refuse these.
    p = one(tmp_path, where_v(test))
    assert p.location.line == WHERE_LINE
    assert fragment in p.message


@pytest.mark.parametrize(("test", "fragment"), [
    ("models: x", "'models' is a list; use contains"),
    ("commercial_use: {contains: allowed}", "'contains' needs a list field"),
    ("osi_approved: {gt: true}", "'gt' needs a number or date field"),
    ("osi_approved: {exists: yes}", "exists takes true or false"),
    ("revocation: {in: at_will}", "'in' takes a non-empty list"),
    ("revocation: {in: []}", "'in' takes a non-empty list"),
    ("models: {contains_any: []}", "takes a non-empty list"),
    ("osi_approved: {}", "empty test"),
    ("osi_approved: {ref: v.threshold_limit}", "cannot compare bool with number"),
    ("revocation: {in: {ref: v.revocation}}", "cannot take a reference"),
    ("licence: {ref: licence}", "a reference is written {ref: alias.field}"),
])
def test_misused_operators(tmp_path: Path, test: str, fragment: str) -> None:
    p = one(tmp_path, where_v(test))
    assert p.location.line == WHERE_LINE
    assert fragment in p.message


JOIN = """when:
  all:
    - fact: licence_version
      as: old
      where:
        has_user_threshold: false
    - fact: licence_version
      as: new
      where:
        licence: {{ref: {target}}}
"""


def test_reference_to_an_undefined_alias_suggests(tmp_path: Path) -> None:
    p = one(tmp_path, JOIN.format(target="olf.licence"), message="{new.version}")
    assert (p.location.line, p.location.path) == (HEAD_LINES + 10, "when.all[1].where.licence")
    assert p.message == "unknown alias 'olf'" and p.suggestion == "old"


def test_reference_to_an_unknown_field_suggests(tmp_path: Path) -> None:
    p = one(tmp_path, JOIN.format(target="old.licnce"), message="{new.version}")
    assert p.message == "unknown field 'licnce' of fact 'licence_version'" and p.suggestion == "licence"


def test_reference_to_a_later_alias(tmp_path: Path) -> None:
    when = """when:
  all:
    - fact: licence_version
      as: old
      where:
        licence: {ref: new.licence}
    - fact: licence_version
      as: new
"""
    p = one(tmp_path, when, message="{old.version}")
    assert (p.location.line, p.location.path) == (HEAD_LINES + 6, "when.all[0].where.licence")
    assert "'new' is matched after 'old'" in p.message


def test_negated_pattern_cannot_be_referred_to(tmp_path: Path) -> None:
    when = """when:
  all:
    - fact: licence_version
      as: v
  none:
    - fact: licence_version
      as: later
      where:
        previous: {ref: v.id}
mitigated_by:
  - id: m
    description: d
    severity: low
    when:
      on:
        - on: later
          where: {osi_approved: true}
"""
    p = one(tmp_path, when)
    assert p.location.path == "mitigated_by[0].when.on[0].on" and p.message == "unknown alias 'later'"


def test_alias_used_twice(tmp_path: Path) -> None:
    when = "when:\n  all:\n    - fact: licence_version\n      as: v\n    - fact: model\n      as: v\n"
    p = one(tmp_path, when)
    assert p.location.path == "when.all[1]" and "alias 'v' is used twice" in p.message


def test_placeholder_names_an_unknown_alias(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("osi_approved: false"), message="{w.version} is bad")
    assert (p.location.line, p.location.path) == (7, "message")
    assert p.message == "placeholder '{w.version}' names unknown alias 'w'"


def test_placeholder_names_an_unknown_field(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("osi_approved: false"), message="{v.verison} is bad")
    assert p.message == "placeholder '{v.verison}': unknown field 'verison'" and p.suggestion == "version"


def test_placeholder_cannot_name_a_negated_alias(tmp_path: Path) -> None:
    when = where_v("osi_approved: false") + "  none:\n    - fact: model\n      as: m\n"
    p = one(tmp_path, when, message="{m.name}")
    assert "unknown alias 'm'" in p.message


def test_id_must_equal_the_file_stem(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("osi_approved: false"), rule_id="other-name", stem="r")
    assert (p.location.line, p.location.path) == (1, "id")
    assert p.message == "rule id 'other-name' must equal the file name 'r'"


def test_duplicate_ids_across_folders(tmp_path: Path) -> None:
    first = write_rule(tmp_path / "a", "same", where_v("osi_approved: false"), family="one")
    second = write_rule(tmp_path / "b", "same", where_v("osi_approved: true"), family="two")
    with pytest.raises(RuleLoadError) as info:
        load_rules([tmp_path / "a", tmp_path / "b"], bundled=False)
    (p,) = info.value.problems
    assert (p.location.file, p.location.line) == (str(second), 1)
    assert p.message == f"duplicate rule id 'same' (also in {first})"


def test_duplicate_id_with_the_bundled_pack(tmp_path: Path) -> None:
    bundled_id = load_rules().rules[0].id
    write_rule(tmp_path, bundled_id, where_v("osi_approved: false"))
    with pytest.raises(RuleLoadError) as info:
        load_rules([tmp_path])
    assert f"duplicate rule id '{bundled_id}'" in info.value.problems[0].message


MITIGATION = """mitigated_by:
  - id: m
    description: d
    severity: {severity}
    when:
      on:
        - on: v
          where: {{revocation: irrevocable}}
"""


@pytest.mark.parametrize("severity", ["medium", "high"])
def test_mitigation_must_lower_the_severity(tmp_path: Path, severity: str) -> None:
    p = one(tmp_path, where_v("osi_approved: false"), extra=MITIGATION.format(severity=severity))
    assert p.location.path == "mitigated_by[0].severity"
    assert p.location.line == HEAD_LINES + 7 + 3
    assert p.message == "a mitigation must lower the severity below 'medium'"


def test_lower_mitigation_is_fine(tmp_path: Path) -> None:
    write_rule(tmp_path, "r", where_v("osi_approved: false"), extra=MITIGATION.format(severity="low"))
    assert load_rules([tmp_path], bundled=False).rules[0].rule.mitigated_by[0].severity == "low"


def test_mitigation_fields_are_validated(tmp_path: Path) -> None:
    extra = MITIGATION.format(severity="low").replace("revocation: irrevocable", "revocaton: irrevocable")
    p = one(tmp_path, where_v("osi_approved: false"), extra=extra)
    assert p.location.path == "mitigated_by[0].when.on[0].where.revocaton" and p.suggestion == "revocation"


def test_empty_mitigation_when_is_refused(tmp_path: Path) -> None:
    extra = "mitigated_by:\n  - id: m\n    description: d\n    severity: low\n    when: {}\n"
    p = one(tmp_path, where_v("osi_approved: false"), extra=extra)
    assert "at least one of 'on', 'all' or 'none'" in p.message


# --- rule schema errors ---------------------------------------------------------------------------

def test_unknown_rule_key_suggests(tmp_path: Path) -> None:
    p = one(tmp_path, "severty: high\n" + where_v("osi_approved: false"))
    assert (p.location.line, p.location.path) == (HEAD_LINES + 1, "severty")
    assert p.suggestion == "severity"


def test_bad_severity(tmp_path: Path) -> None:
    _, found = rule_problems(tmp_path, where_v("osi_approved: false"), severity="critical")
    assert [(p.location.line, p.location.path) for p in found] == [(4, "severity")]
    assert "info, low, medium, high" in found[0].message


def test_bad_condition(tmp_path: Path) -> None:
    path = write_rule(tmp_path, "r", where_v("osi_approved: false"))
    path.write_text(path.read_text().replace("conditions: [C3]", "conditions: [C5]"))
    with pytest.raises(RuleLoadError) as info:
        load_rules([tmp_path], bundled=False)
    (p,) = info.value.problems
    assert p.location.path == "conditions[0]" and "C1, C2, C3, C4, OTC" in p.message


def test_missing_when(tmp_path: Path) -> None:
    p = one(tmp_path, "")
    assert p.message == "required field 'when' is missing"


def test_rule_yaml_syntax_error(tmp_path: Path) -> None:
    p = one(tmp_path, "when: [\n")
    assert p.message.startswith("invalid YAML") and p.location.line is not None


def test_rule_file_that_is_a_list(tmp_path: Path) -> None:
    path = tmp_path / "fam" / "r.yaml"
    path.parent.mkdir()
    path.write_text("- id: r\n")
    with pytest.raises(RuleLoadError) as info:
        load_rules([tmp_path], bundled=False)
    assert "must be a mapping" in info.value.problems[0].message


def test_several_problems_in_one_rule_give_one_line_each(tmp_path: Path) -> None:
    _, found = rule_problems(tmp_path, where_v('osi_aproved: true\nrevocation: at_wil\nthreshold_limit: "5"'))
    assert [(p.location.line, p.location.path, p.suggestion) for p in found] == [
        (WHERE_LINE, "when.all[0].where.osi_aproved", "osi_approved"),
        (WHERE_LINE + 1, "when.all[0].where.revocation", "at_will"),
        (WHERE_LINE + 2, "when.all[0].where.threshold_limit", None),
    ]


def test_problems_in_several_files_are_all_reported(tmp_path: Path) -> None:
    write_rule(tmp_path, "a", where_v("osi_aproved: true"))
    write_rule(tmp_path, "b", where_v("osi_approved: false"), family="other", message="{x.id}")
    write_rule(tmp_path, "c", where_v("osi_approved: false"))
    with pytest.raises(RuleLoadError) as info:
        load_rules([tmp_path], bundled=False)
    assert sorted(Path(p.location.file or "").stem for p in info.value.problems) == ["a", "b"]


# --- rules the engine cannot run (engine/durable_checks.py, docs/engine.md) -----------------------

def test_list_to_list_reference_is_refused_error_312(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("field_of_use_restrictions: {ref: v.models}"))
    assert p.location.path == "when.all[0].where.field_of_use_restrictions"
    assert p.message == "cannot compare list fields by reference ('list' with 'list')"


def test_join_inside_any_of_is_refused(tmp_path: Path) -> None:
    when = JOIN.format(target="old.licence").replace("        licence: {ref: old.licence}\n", "        seq: 2\n") + \
        "      any_of:\n        - {licence: {ref: old.licence}}\n        - {seq: 2}\n"
    p = one(tmp_path, when, message="{new.version}")
    assert p.location.path == "when.all[1].any_of[0]"
    assert p.message.startswith("a reference to another pattern cannot sit inside any_of")


def test_ordering_join_from_a_none_pattern_is_refused_unless_always_present(tmp_path: Path) -> None:
    base = where_v("osi_approved: false") + "  none:\n    - fact: licence_version\n      as: later\n      where:\n"
    p = one(tmp_path, base + "        threshold_limit: {gt: {ref: v.threshold_limit}}\n")
    assert p.location.path == "when.none[0].where.threshold_limit.gt"
    assert p.message == ("a 'none' pattern can compare with 'gt' only fields every fact has (such as id, date or seq), "
                         "not 'v.threshold_limit'; use eq")
    write_rule(tmp_path, "r", base + "        seq: {gt: {ref: v.seq}}\n")
    assert [r.id for r in load_rules([tmp_path], bundled=False).rules] == ["r"]


def test_loaded_rules_keep_their_bytes_and_spec(tmp_path: Path) -> None:
    path = write_rule(tmp_path, "r", where_v("osi_approved: false"))
    (lr,) = load_rules([tmp_path], bundled=False).rules
    assert lr.data == path.read_bytes()
    assert [c.field for p in lr.spec.when.all for c in p.checks()] == ["osi_approved"]


@pytest.mark.parametrize("written, field", [
    ("acceptable_use_policy.incorporated_by_reference", "aup_by_reference"),
    ("terms.user_threshold.limit", "threshold_limit"),
    ("output_training_ban.scope", "output_ban_scope"),
])
def test_a_case_file_path_in_a_rule_suggests_the_fact_field(tmp_path: Path, written: str, field: str) -> None:
    p = one(tmp_path, where_v(f"{written}: true"))
    assert p.location.line == WHERE_LINE
    assert "that is a case-file path" in p.message
    assert p.suggestion == field


def test_a_misspelt_field_without_dots_still_gets_the_nearest_field_name(tmp_path: Path) -> None:
    p = one(tmp_path, where_v("aup_by_refrence: true"))
    assert "case-file path" not in p.message
    assert p.suggestion == "aup_by_reference"
