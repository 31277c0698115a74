"""`policycheck test`: fixtures of a rule pack, failure lines, -k, coverage and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from review_support import bundled_fixture_names

from policycheck.cli import main
from policycheck.ruletest.fixtures import load_suite
from policycheck.load.rules import bundled_rules_dir
from test_lint import BOTH, CLEAR_CASE, OK, dump, fixture, line_of, lv, rule, write_pack

_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, ["test", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def summary(result: Any) -> tuple[int, int]:
    last = result.output.splitlines()[-1]
    m = _SUMMARY.match(last)
    assert m, f"last line {last!r} is not 'N passed, N failed'"
    return int(m[1]), int(m[2])


COMMERCIAL = rule("no-commercial", {"all": [lv({"commercial_use": "prohibited"})]},
                  conditions=["C3", "OTC"], message="{v.version} prohibits commercial use")


def commercial_case(value: str) -> dict[str, Any]:
    return {"parties": [{"id": "acme", "name": "Acme"}],
            "licences": [{"id": "lic", "name": "L", "kind": "model_licence", "licensor": "acme",
                          "versions": [{"version": "1", "date": "2024-01-01", "terms": {"commercial_use": value}}]}]}


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    return write_pack(tmp_path / "rules", {"research-only": OK, "no-commercial": COMMERCIAL},
                      {"research-only": fixture(*BOTH),
                       "no-commercial": fixture(
                           ("A licence that prohibits commercial use is flagged", commercial_case("prohibited"),
                            {"fires": True, "severity": "high", "conditions": {"C3": "concern"}}),
                           ("A licence that allows commercial use is clear", commercial_case("allowed"),
                            {"fires": False, "rule_status": "clear", "not_fires": ["research-only"]}))})


def test_a_passing_pack(pack: Path) -> None:
    result = run(str(pack))
    assert result.exit_code == 0
    assert result.output == "4 passed, 0 failed\n"


def test_a_failing_test_prints_file_line_rule_name_and_difference(pack: Path) -> None:
    path = pack / "fam" / "research-only.test.yaml"
    wrong = fixture(BOTH[0], ("A licence open to commercial use is wrongly expected to fire", CLEAR_CASE,
                              {"fires": True, "severity": "low"}))
    path.write_text(dump(wrong))
    result = run(str(pack))
    assert result.exit_code == 1
    line = line_of(path, "wrongly expected")
    assert result.output.splitlines()[0] == (
        f"{path}:{line}: [research-only] A licence open to commercial use is wrongly expected to fire: "
        "expected research-only to fire, it did not (rule status: clear)")
    assert summary(result) == (3, 1)
    assert len(result.output.splitlines()) == 2


def test_wrong_severity_and_condition_are_reported(pack: Path) -> None:
    path = pack / "fam" / "no-commercial.test.yaml"
    path.write_text(dump(fixture(("A licence that prohibits commercial use is flagged", commercial_case("prohibited"),
                                  {"fires": True, "severity": "medium", "conditions": {"OTC": "watch"}}))))
    result = run(str(pack))
    assert result.exit_code == 1
    failing = result.output.splitlines()[0]
    assert failing.endswith("expected severity medium, got high; expected OTC 'watch', got 'concern'")


def test_k_selects_tests_by_rule_or_name(pack: Path) -> None:
    assert summary(run(str(pack), "-k", "no-commercial")) == (2, 0)
    assert summary(run(str(pack), "-k", "RESEARCH-ONLY licence")) == (1, 0)
    none = run(str(pack), "-k", "no such test")
    assert none.exit_code == 2 and "no fixture tests found matching -k 'no such test'" in none.output


def test_a_fixture_naming_an_unknown_rule_fails(pack: Path) -> None:
    (pack / "fam" / "ghost.test.yaml").write_text(dump(fixture(BOTH[0])))
    result = run(str(pack))
    assert result.exit_code == 1
    assert "[ghost] A research-only licence is flagged by the rule: unknown rule id(s): ghost" in result.output
    assert summary(result) == (4, 1)


def test_coverage_report_and_threshold(pack: Path) -> None:
    (pack / "fam" / "no-commercial.test.yaml").write_text(dump(fixture(
        ("A licence that prohibits commercial use is flagged", commercial_case("prohibited"), {"fires": True}))))
    result = run(str(pack), "--coverage")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "  no-commercial  firing: 1  non-firing: 0  MISSING a non-firing fixture" in lines
    assert "  research-only  firing: 1  non-firing: 1  ok" in lines
    assert any(re.match(r"^  C3 .* 1/2 rules$", x) for x in lines)
    assert any(re.match(r"^  OTC .* 0/1 rules$", x) for x in lines)
    assert any(re.match(r"^  C1 .* 0/0 rules$", x) for x in lines)
    assert "coverage: 50.0% (1 of 2 rules have a firing and a non-firing fixture)" in lines
    assert summary(result) == (3, 0)

    below = run(str(pack), "--min-coverage", "100")
    assert below.exit_code == 1
    assert "coverage 50.0% is below --min-coverage 100%" in below.output
    assert summary(below) == (3, 0)
    assert run(str(pack), "--min-coverage", "50").exit_code == 0


def test_json_format(pack: Path) -> None:
    result = run(str(pack), "--format", "json", "--coverage")
    body = json.loads(result.output)
    assert (body["passed"], body["failed"]) == (4, 0)
    assert {t["rule"] for t in body["tests"]} == {"research-only", "no-commercial"}
    assert body["coverage"]["percent"] == 100.0


@pytest.mark.parametrize("broken, message", [
    ("tests: [{name: too short, case: {}, expect: {fires: true}}]", "tests[0].name"),
    ("tests:\n  - name: A fixture with a key that is not part of the format\n    case: {}\n    expect: {fire: true}\n",
     "unknown field 'fire'"),
    ("tests: [\n", "invalid YAML"),
])
def test_bad_fixture_files_exit_2_with_located_errors(pack: Path, broken: str, message: str) -> None:
    path = pack / "fam" / "research-only.test.yaml"
    path.write_text(broken)
    result = run(str(pack))
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}:") and message in result.output
    assert "passed" not in result.output


def test_a_rule_that_does_not_load_exits_2(pack: Path) -> None:
    (pack / "fam" / "bad.yaml").write_text(dump(rule("bad", {"all": [lv({"seq": "one"})]})))
    result = run(str(pack))
    assert result.exit_code == 2
    assert f"error: {pack / 'fam' / 'bad.yaml'}:" in result.output and "'seq' expects int" in result.output


def test_with_bundled_adds_the_bundled_rules(tmp_path: Path) -> None:
    # Only the C3 rule here: rules that join the bundled pack take part in the condition
    # statuses its fixtures expect (an OTC rule firing on "commercial use prohibited" would
    # turn a bundled fixture's expected "OTC: not assessed" into a concern).
    bundled = load_suite([bundled_rules_dir()]).tests
    some_bundled = bundled[0].rule
    pack = write_pack(tmp_path / "rules", {"research-only": OK}, {"research-only": fixture(
        BOTH[0], (BOTH[1][0], BOTH[1][1], {"fires": False, "not_fires": [some_bundled]}))})
    alone = run(str(pack))
    assert alone.exit_code == 1 and f"unknown rule id(s): {some_bundled}" in alone.output
    together = run(str(pack), "--with-bundled")
    # Every test passes once the bundled rules join (ours and the bundled pack's), and each
    # bundled fixture on disk (read with plain PyYAML) runs once beside our two.
    assert together.exit_code == 0, together.output
    assert summary(together) == (len(bundled_fixture_names()) + 2, 0)


def test_the_bundled_pack_is_the_default_and_loaded_once() -> None:
    n = len(bundled_fixture_names())  # counted from the files, not by the loader the command uses
    assert n == len(load_suite([bundled_rules_dir()]).tests)
    default = run()
    assert sum(summary(default)) == n
    again = run(str(bundled_rules_dir()), str(bundled_rules_dir()), "--with-bundled")
    assert summary(again) == summary(default)


def test_the_bundled_pack_passes_with_full_coverage() -> None:
    result = run("--coverage", "--min-coverage", "100")
    assert result.exit_code == 0, result.output
