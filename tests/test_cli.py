"""The command line through click's CliRunner: golden output, exit codes, error lines, commands.

Golden files (tests/golden/cli/) come from ``policycheck assess cases/licences/llama-2.yaml``
with the fixed test rule pack (tests/data/rules, ``--no-bundled``), so they do not change
when the bundled pack grows. Only ``.venv/bin/python tests/update_goldens.py`` rewrites them
(a test run never does); review the diff.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import jsonschema
import pytest
from click.testing import CliRunner, Result

from policycheck.load.rules import load_rules
from policycheck import __version__
from policycheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden" / "cli"
CASE = "cases/licences/llama-2.yaml"
TEST_RULES = "tests/data/rules"
BAD = "tests/data/cases/bad"


def _has_option(command: str, name: str) -> bool:
    return any(p.name == name for p in main.commands[command].params)


# A project configuration file (.policycheck.yaml / [tool.policycheck]) must not change these runs.
NO_CONFIG = ["--no-config"] if _has_option("assess", "no_config") else []
PACK = ["--no-bundled", "--rules", TEST_RULES]


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths in the output (and the golden files) are relative to the checkout."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("POLICYCHECK_TODAY", raising=False)


def run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def assess(*args: str) -> Result:
    return run("assess", *args, *NO_CONFIG)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    assert path.exists(), f"{path} is missing; run .venv/bin/python tests/update_goldens.py"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file (see module docstring)"


# --- assess: golden output ------------------------------------------------------------------------

def test_assess_table_golden() -> None:
    result = assess(CASE, *PACK)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    check_golden("llama-2.table.txt", result.stdout)


def test_assess_json_golden() -> None:
    result = assess(CASE, *PACK, "--format", "json")
    assert result.exit_code == 0, result.stderr
    check_golden("llama-2.json", result.stdout)


def test_golden_json_says_what_the_test_pack_should_find() -> None:
    """The golden JSON is not just whatever the code printed: check its meaning independently."""
    data = json.loads((GOLDEN / "llama-2.json").read_text())
    assert data["tool"] == "policycheck" and data["rule_pack"]["rules"] == 9
    (case,) = data["cases"]
    assert case["case"] == "llama-2" and case["file"] == CASE
    # LLaMA and Llama 2: two models under two licences, each licence of one version, both in
    # force on the case's date (LLaMA was never relicensed).
    got = sorted((f["rule"], tuple((e["alias"], e["id"]) for e in f["evidence"]), f["severity"], f["base_severity"],
                  f["mitigated"]) for f in case["flags"])
    assert got == [
        ("t-gatekeeper-developer", (("p", "meta"),), "info", "info", False),       # Meta leads in social media
        # each licence is the latest (only) version of itself, and neither allows commercial use freely
        ("t-latest-restricts-commercial", (("v", "llama-2-community-license@1"),), "low", "low", False),
        ("t-latest-restricts-commercial", (("v", "llama-research-licence@1"),), "low", "low", False),
        ("t-output-ban", (("v", "llama-2-community-license@1"),), "high", "high", False),
        # 700 million users: lowered by "only the largest" (500 million or more)
        ("t-user-threshold", (("v", "llama-2-community-license@1"),), "low", "medium", True),
    ]
    flags = {f["rule"]: f for f in case["flags"]}
    assert [f["rule"] for f in case["flags"]][0] == "t-output-ban"  # highest severity first
    assert flags["t-user-threshold"]["mitigations"][0]["id"] == "only-the-largest"
    # evidence points at the case file line of the tested value
    lines = (ROOT / CASE).read_text().splitlines()
    ban = {f["field"]: f for f in flags["t-output-ban"]["evidence"][0]["fields"]}["output_training_ban"]
    assert ban["status"] == "known" and ban["value"] is True
    assert lines[ban["line"] - 1].strip().startswith("output_training_ban:")
    status = {r["rule"]: r["status"] for r in case["rules"]}
    # LLaMA's research licence is in force beside Llama 2's (revocable on breach) and leaves
    # revocation unstated: the revocation rule is not assessed, on a term in force
    assert status["t-revocable-at-will"] == "not assessed" and status["t-exclusive-compute"] == "not applicable"
    assert status["t-closed-weights"] == "clear"
    missing = {(m["id"], m["field"], m["status"], m["in_force"]) for r in case["rules"] for m in r["missing"]}
    assert missing == {("llama-research-licence@1", "revocation", "unknown", True)}
    # a new licence is not a later version of the old one: the rules joining two versions of
    # one licence have nothing to join
    assert status["t-later-adds-output-ban"] == status["t-threshold-added"] == "not applicable"
    assert {c["condition"]: c["status"] for c in case["conditions"]} == {
        "C1": "concern", "C2": "not assessed", "C3": "concern", "C4": "watch", "OTC": "watch",
        "JUR": "not applicable"}


def test_golden_table_fits_a_100_column_terminal() -> None:
    text = (GOLDEN / "llama-2.table.txt").read_text()
    wide = [f"{len(line)}: {line}" for line in text.splitlines() if len(line) > 100]
    assert wide == [], "table output wider than 100 columns:\n" + "\n".join(wide)


def test_golden_table_shows_flags_conditions_and_gaps() -> None:
    text = (GOLDEN / "llama-2.table.txt").read_text()
    assert text.startswith("== llama-2: ")
    for needle in ("t-output-ban", "t-user-threshold", "C2 Contestability", "not assessed", "watch",
                   "Not assessed (1 rule lacks facts): t-revocable-at-will", "licence llama-research-licence",
                   "Summary: 1 case, 5 flags"):
        assert needle in text, needle


def test_json_is_stable_across_runs_and_equals_the_api() -> None:
    from policycheck import assess as api_assess
    from policycheck import load_case, load_rules

    first = assess(CASE, *PACK, "--format", "json").stdout
    assert assess(CASE, *PACK, "--format", "json").stdout == first
    api = api_assess(load_case(CASE), load_rules([TEST_RULES], bundled=False))
    assert api.to_json() == first
    # Both could agree and still be wrong: check the shared output against the case itself.
    (case,) = json.loads(first)["cases"]
    assert case["case"] == "llama-2" and case["file"] == CASE
    assert sorted((f["rule"], f["evidence"][0]["id"]) for f in case["flags"]) == [
        ("t-gatekeeper-developer", "meta"), ("t-latest-restricts-commercial", "llama-2-community-license@1"),
        ("t-latest-restricts-commercial", "llama-research-licence@1"), ("t-output-ban", "llama-2-community-license@1"),
        ("t-user-threshold", "llama-2-community-license@1")]
    assert json.loads(first)["summary"] == "1 case, 5 flags (1 high, 3 low, 1 info); 1 with a concern"


def test_assess_a_folder_and_several_files() -> None:
    import yaml

    folder = assess("cases/licences", *PACK, "--format", "json")
    assert folder.exit_code == 0, folder.stderr
    ids = [c["case"] for c in json.loads(folder.stdout)["cases"]]
    # every case file of the folder, by the id written in it (read with plain PyYAML), sorted
    on_disk = sorted(yaml.safe_load(p.read_text())["id"] for p in (ROOT / "cases" / "licences").glob("*.yaml"))
    assert len(on_disk) >= 2 and "llama-2" in on_disk
    assert ids == on_disk
    both = assess(CASE, "tests/data/cases/minimal.yaml", *PACK, "--format", "json")
    assert [c["case"] for c in json.loads(both.stdout)["cases"]] == ["llama-2", "minimal"]


def test_assess_bundled_cases_with_the_bundled_pack() -> None:
    from policycheck import load_case

    result = assess("cases/")
    assert result.exit_code == 0, result.stderr
    ids = sorted(load_case(p).case.id for p in (ROOT / "cases").rglob("*.yaml"))
    headings = [line.split(":")[0].removeprefix("== ") for line in result.stdout.splitlines() if line.startswith("== ")]
    assert headings == ids


# --- --fail-on ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("level", "code"), [("info", 1), ("low", 1), ("medium", 1), ("high", 1)])
def test_fail_on_reached(level: str, code: int) -> None:
    result = assess(CASE, *PACK, "--fail-on", level)
    assert result.exit_code == code
    assert result.stdout.startswith("== llama-2")  # the report is still printed


def one_rule_pack(tmp_path: Path, rule: str) -> list[str]:
    """Options for a pack holding only ``rule`` (a path under tests/data/rules)."""
    src = ROOT / TEST_RULES / rule
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / src.name).write_text(src.read_text())
    return ["--no-bundled", "--rules", str(tmp_path)]


@pytest.mark.parametrize(("level", "code"), [("info", 1), ("low", 1), ("medium", 0), ("high", 0)])
def test_fail_on_threshold_uses_the_mitigated_severity(tmp_path: Path, level: str, code: int) -> None:
    # t-user-threshold is medium, mitigated to low on Llama 2.
    result = assess(CASE, *one_rule_pack(tmp_path, "licence-terms/t-user-threshold.yaml"), "--fail-on", level)
    assert result.exit_code == code, result.stdout


def test_no_fail_on_means_exit_0_even_with_high_flags() -> None:
    assert assess(CASE, *PACK).exit_code == 0


def test_fail_on_with_no_flags(tmp_path: Path) -> None:
    # t-closed-weights is clear on Llama 2 (both models are gated).
    result = assess(CASE, *one_rule_pack(tmp_path, "licence-terms/t-closed-weights.yaml"), "--fail-on", "info")
    assert result.exit_code == 0, result.stdout
    assert "No flags." in result.stdout


# A licence whose first version says nothing known about an output ban and whose second has one
# (invented test data, like tests/data/cases/facts.yaml).
OUTPUT_BAN_ADDED = {
    "schema_version": 2, "id": "ban-added", "title": "A licence that later adds an output ban", "kind": ["licence"],
    "as_of": "2024-01-31", "summary": "Version 2 adds an output ban; version 1's is unknown.",
    "sources": [{"id": "s", "title": "Test data (invented)", "date": "2024", "kind": "primary"}],
    "parties": [{"id": "lab", "name": "Lab", "roles": ["fm_developer"]}],
    "licences": [{"id": "lic", "name": "Licence", "kind": "model_licence", "licensor": "lab", "versions": [
        {"version": "1", "date": "2023-01-01", "terms": {"output_training_ban": "unknown"}},
        {"version": "2", "date": "2023-06-01", "terms": {"output_training_ban": {"scope": "other_models"}}}]}]}


@pytest.mark.parametrize(("case", "rule"), [
    # version 1's output_training_ban is unknown: the trajectory rule to version 2 is not
    # assessed (its condition still counts as assessed: the gap is on a version no longer in force)
    ("ban-added.json", "otc/t-later-adds-output-ban.yaml"),
    # the licence version in force leaves revocation unstated: not assessed, and so is C2
    ("tests/data/cases/facts.yaml", "licence-terms/t-revocable-at-will.yaml"),
])
def test_fail_on_ignores_not_assessed_rules(tmp_path: Path, case: str, rule: str) -> None:
    if case == "ban-added.json":
        case = str(tmp_path / case)
        Path(case).write_text(json.dumps(OUTPUT_BAN_ADDED), encoding="utf-8")
    # a gap is reported, but it is not a flag
    result = assess(case, *one_rule_pack(tmp_path, rule), "--fail-on", "info")
    assert result.exit_code == 0, result.stdout
    assert f"Not assessed (1 rule lacks facts): {Path(rule).stem}" in result.stdout
    assert "No flags." in result.stdout


def test_fail_on_rejects_unknown_severity() -> None:
    result = assess(CASE, *PACK, "--fail-on", "critical")
    assert result.exit_code == 2 and result.stdout == ""


# --- bad input ------------------------------------------------------------------------------------

def error_lines(result: Result, reason: str | None = None) -> list[str]:
    """The ``error:`` lines of an exit-2 run. ``assess`` ends with one reason line
    ``policycheck: ...`` (``reason``: how it starts) and, for bad case files, still writes its
    report (the other files are assessed); ``validate`` prints only the error lines."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    if reason is not None:
        assert lines and lines[-1].startswith(f"policycheck: {reason}"), lines
        lines = lines[:-1]
    else:
        assert result.stdout == ""
    assert lines and all(line.startswith("error: ") for line in lines), lines
    return [line.removeprefix("error: ") for line in lines]


NOT_ASSESSED = "1 file not assessed: "


@pytest.mark.parametrize("command", ["assess", "validate"])
def test_bad_case_file_gives_located_error_lines(command: str) -> None:
    path = f"{BAD}/several-problems.yaml"
    args = [path, *PACK] if command == "assess" else [path]
    result = assess(*args) if command == "assess" else run("validate", *args)
    assert error_lines(result, NOT_ASSESSED + path if command == "assess" else None) == [
        f"{path}:3:1: titel: unknown field 'titel' (did you mean 'title'?)",
        f"{path}:5:1: as_of: invalid value '2023-02-30': not a calendar date: day is out of range for month",
        f"{path}:23:11: licences[0].versions[0].terms.osi_approved: invalid value 'yes'; "
        "expected one of: true, false, unknown",
    ]


def test_every_bad_file_in_a_folder_is_reported() -> None:
    lines = error_lines(run("validate", BAD))
    files = sorted({line.split(":")[0] for line in lines})
    assert files == sorted(f"{BAD}/{p.name}" for p in (ROOT / BAD).iterdir())
    for line in lines:
        parts = line.split(":")
        assert parts[1].isdigit() and parts[2].isdigit(), line  # file:line:col


def test_bad_yaml_syntax_on_the_command_line() -> None:
    (line,) = error_lines(assess(f"{BAD}/syntax.yaml", *PACK), NOT_ASSESSED)
    assert line.startswith(f"{BAD}/syntax.yaml:5:") and "invalid YAML" in line


def test_non_utf8_case_file() -> None:
    (line,) = error_lines(assess(f"{BAD}/latin1.yaml", *PACK), NOT_ASSESSED)
    assert line == f"{BAD}/latin1.yaml:3:12: file is not valid UTF-8 (byte 39)"


def test_unknown_reference_has_a_suggestion() -> None:
    (line,) = error_lines(assess(f"{BAD}/unknown-party.yaml", *PACK), NOT_ASSESSED)
    assert line == f"{BAD}/unknown-party.yaml:18:5: models[0].developer: unknown party 'metta' (did you mean 'meta'?)"


def test_one_bad_file_among_good_ones_fails_the_run_after_assessing_the_others() -> None:
    result = assess(CASE, f"{BAD}/unknown-party.yaml", *PACK)
    lines = error_lines(result, f"{NOT_ASSESSED}{BAD}/unknown-party.yaml")
    assert len(lines) == 1
    assert result.stdout.startswith("== llama-2")  # the good file is assessed and reported
    assert "Files not assessed (1):" in result.stdout


def test_fail_fast_writes_no_output_when_input_is_bad(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    error_lines(assess(f"{BAD}/several-problems.yaml", CASE, *PACK, "--format", "json", "-o", str(out),
                       "--fail-fast"), "stopped at the first file not assessed (--fail-fast)")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_input_still_writes_the_report_listing_it(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("previous\n")
    error_lines(assess(f"{BAD}/syntax.yaml", *PACK, "--format", "json", "-o", str(out)), NOT_ASSESSED)
    data = json.loads(out.read_text())
    assert data["cases"] == [] and [e["file"] for e in data["errors"]] == [f"{BAD}/syntax.yaml"]
    assert data["summary"] == "0 cases, no flags; 0 with a concern; 1 file not assessed"


def test_existing_output_file_is_left_alone_when_the_run_stops_early(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("previous\n")
    error_lines(assess(CASE, "--no-bundled", "--rules", str(tmp_path / "missing"), "-o", str(out)),
                "nothing assessed: 1 problem in ")
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_output_file_holds_exactly_the_stdout_output(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = assess(CASE, *PACK, "--format", "json", "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_text() == assess(CASE, *PACK, "--format", "json").stdout


def test_output_file_is_written_before_fail_on_exits(tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    assert assess(CASE, *PACK, "--fail-on", "high", "-o", str(out)).exit_code == 1
    assert out.read_text().startswith("== llama-2")


def test_bad_rule_folder_gives_located_errors(tmp_path: Path) -> None:
    rule = tmp_path / "fam" / "bad-rule.yaml"
    rule.parent.mkdir()
    rule.write_text((ROOT / TEST_RULES / "licence-terms" / "t-closed-weights.yaml").read_text()
                    .replace("id: t-closed-weights", "id: bad-rule").replace("weights: closed", "weigths: closed"))
    (line,) = error_lines(assess(CASE, "--no-bundled", "--rules", str(tmp_path)), f"nothing assessed: 1 problem in {rule}")
    assert line.startswith(f"{rule}:16:9: when.all[0].where.weigths: unknown field 'weigths' of fact 'model'")
    assert line.endswith("(did you mean 'weights'?)")


def test_missing_case_path() -> None:
    (line,) = error_lines(assess("no/such/case.yaml", *PACK), NOT_ASSESSED + "no/such/case.yaml")
    assert line.startswith("no/such/case.yaml: cannot read file")


def test_folder_without_case_files(tmp_path: Path) -> None:
    (line,) = error_lines(assess(str(tmp_path), *PACK), "nothing assessed: no case files")
    assert "no case files" in line


def test_no_bundled_needs_rules() -> None:
    result = assess(CASE, "--no-bundled")
    assert result.exit_code == 2 and result.stdout == "" and "--rules" in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run("assess").exit_code == 2
    assert run("assess", CASE, "--format", "yaml").exit_code == 2
    assert run("no-such-command").exit_code == 2


# --- other commands -------------------------------------------------------------------------------

def test_validate_good_files() -> None:
    result = run("validate", CASE, "tests/data/cases/minimal.json")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == "2 case files valid\n"


def test_validate_bundled_cases() -> None:
    result = run("validate", "cases/")
    n = len([p for p in (ROOT / "cases").rglob("*") if p.suffix in (".yaml", ".yml", ".json")])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{n} case files valid\n"


def test_rules_table() -> None:
    result = run("rules", *PACK)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["Id", "Severity", "Conditions", "Citation"]
    body = result.stdout
    for rule_id, severity in [("t-output-ban", "high"), ("t-gatekeeper-developer", "info"),
                              ("t-exclusive-compute", "medium")]:
        row = next(line for line in lines if line.startswith(rule_id))
        assert row.split()[1] == severity
    assert "§3.7.6" in body and body.rstrip().endswith("9 rules")
    assert all(len(line) <= 100 for line in lines)


def test_rules_lists_the_bundled_pack_by_default() -> None:
    # The expected ids come from the rule files on disk, not from load_rules (which the command uses).
    from review_support import bundled_rule_ids

    ids = bundled_rule_ids()
    assert len(ids) >= 30
    result = run("rules")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    for rule_id in ids:  # long ids wrap inside the column: match the start of the row
        assert any(line.startswith(rule_id[:20]) for line in lines), rule_id
    assert lines[-1] == f"{len(ids)} rules"


def test_schema_is_valid_json_schema_that_accepts_the_bundled_cases() -> None:
    from policycheck.io.reader import read_document

    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "policycheck case file v2"
    assert schema["properties"]["schema_version"]["const"] == 2
    validator_cls = jsonschema.validators.validator_for(schema)
    assert validator_cls is jsonschema.Draft202012Validator
    validator_cls.check_schema(schema)
    validator = validator_cls(schema)
    paths = sorted((ROOT / "cases").rglob("*.yaml")) + [ROOT / "tests/data/cases/minimal.json",
                                                          ROOT / "tests/data/cases/facts.yaml"]
    assert len(paths) >= 12  # the loop below is not vacuous
    for path in paths:
        errors = [e.message for e in validator.iter_errors(read_document(path).data)]
        assert errors == [], (path, errors)


def test_schema_rejects_what_the_loader_rejects() -> None:
    from policycheck.io.reader import read_document

    schema = json.loads(run("schema").stdout)
    validator = jsonschema.Draft202012Validator(schema)
    data = read_document(ROOT / "tests/data/cases/minimal.yaml").data
    for mutate in (
        lambda d: d.update(titel="x"),                                                   # unknown key
        lambda d: d["licences"][0]["versions"][0]["terms"].update(osi_approved="yes"),   # not a boolean
        lambda d: d.pop("as_of"),                                                        # missing field
        lambda d: d.update(schema_version=1),                                            # wrong version
        lambda d: d["licences"][0].pop("kind"),                                          # v2: kind required
        lambda d: d["models"][0].update(weights="open_downlaod"),                        # bad enum value
    ):
        bad = json.loads(json.dumps(data))
        mutate(bad)
        assert list(validator.iter_errors(bad)), mutate


def test_facts_lists_the_vocabulary() -> None:
    from policycheck.model.vocabulary import FACT_TYPES

    result = run("facts")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    # The fact types the rule language documents, written out (not read back from FACT_TYPES,
    # which is what the command prints).
    assert set(data) == {"case", "party", "model", "licence_version", "deal", "data_access_change"}
    assert set(data) == set(FACT_TYPES)
    assert data["licence_version"]["osi_approved"]["kind"] == "bool"
    assert "competing_models" in data["licence_version"]["output_ban_scope"]["values"]


def _commands(group: click.Group) -> list[tuple[str, click.Command]]:
    return sorted(group.commands.items())


@pytest.mark.parametrize("name", [n for n, _ in _commands(main)])
def test_every_command_help_has_an_example(name: str) -> None:
    result = run(name, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout or "Examples:" in result.stdout, result.stdout
    example = result.stdout.split("Example", 1)[1]
    assert f"policycheck {name}" in example


def test_top_level_help_lists_the_core_commands() -> None:
    result = run("--help")
    assert result.exit_code == 0
    # The names in the "Commands:" list (a bare substring test would match the description's words).
    section = result.stdout.split("\nCommands:\n", 1)[1]
    listed = {line.split()[0] for line in section.splitlines() if line.startswith("  ") and line.strip()}
    assert {"assess", "validate", "rules", "schema", "facts", "test", "lint", "diff"} <= listed
    assert listed == set(main.commands)  # so test_every_command_help_has_an_example covers them all


def test_version_via_python_dash_m() -> None:
    proc = subprocess.run([sys.executable, "-m", "policycheck", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"policycheck, version {__version__} (rule pack {load_rules().digest})"


def test_python_dash_m_reports_errors_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "policycheck", "validate", f"{BAD}/syntax.yaml"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"error: {BAD}/syntax.yaml:5:") and "Traceback" not in proc.stderr
