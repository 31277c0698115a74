"""The pytest plugin: rule fixtures collected as test items, in a user's project and in ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from review_support import bundled_fixture_names

from test_lint import BOTH, CLEAR_CASE, OK, dump, fixture, lv, rule

REPO = Path(__file__).resolve().parents[1]
OTHER = rule("no-commercial", {"all": [lv({"commercial_use": "prohibited"})]})


def make_pack(pytester: pytest.Pytester, folder: str = "rules", tests: dict | None = None) -> Path:
    root = pytester.path / folder / "fam"
    root.mkdir(parents=True)
    (root / "research-only.yaml").write_text(dump(OK))
    (root / "research-only.test.yaml").write_text(dump(tests or fixture(*BOTH)))
    return root


def test_fixtures_under_a_rules_folder_are_collected_with_readable_ids(pytester: pytest.Pytester) -> None:
    make_pack(pytester)
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "rules/fam/research-only.test.yaml::A research-only licence is flagged by the rule",
        "rules/fam/research-only.test.yaml::A licence open to commercial use is not flagged",
        "2 tests collected*",
    ])


def test_passing_and_failing_fixtures_report_the_difference(pytester: pytest.Pytester) -> None:
    wrong = ("A licence open to commercial use is wrongly expected to fire", CLEAR_CASE, {"fires": True})
    path = make_pack(pytester, tests=fixture(*BOTH, wrong)) / "research-only.test.yaml"
    result = pytester.runpytest("-rf")
    result.assert_outcomes(passed=2, failed=1)
    line = next(i for i, x in enumerate(path.read_text().splitlines(), 1) if "wrongly expected" in x)
    result.stdout.fnmatch_lines([
        f"rules/fam/research-only.test.yaml:{line}: [[]research-only] A licence open to commercial use is wrongly*",
        "*expected research-only to fire, it did not (rule status: clear)",
        "FAILED rules/fam/research-only.test.yaml::A licence open to commercial use is wrongly expected to fire*",
    ])
    assert "Traceback" not in result.stdout.str()


def test_k_selects_fixture_items_by_sentence(pytester: pytest.Pytester) -> None:
    make_pack(pytester)
    pytester.runpytest("-k", "commercial").assert_outcomes(passed=1, deselected=1)


def test_a_folder_not_named_rules_needs_the_option(pytester: pytest.Pytester) -> None:
    make_pack(pytester, "my-pack")
    assert pytester.runpytest().ret == pytest.ExitCode.NO_TESTS_COLLECTED
    pytester.runpytest("--policycheck-rules", "my-pack", "my-pack").assert_outcomes(passed=2)


def test_the_ini_option_names_rule_folders_and_forms_the_pack(pytester: pytest.Pytester) -> None:
    """A fixture naming a rule from another configured folder passes only with that folder configured."""
    tests = fixture(BOTH[0], (BOTH[1][0], BOTH[1][1], {"fires": False, "not_fires": ["no-commercial"]}))
    make_pack(pytester, "my-pack", tests)
    other = pytester.path / "shared-rules" / "fam"
    other.mkdir(parents=True)
    (other / "no-commercial.yaml").write_text(dump(OTHER))
    pytester.makeini("[pytest]\npolicycheck_rules = my-pack\n")
    result = pytester.runpytest("my-pack")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*unknown rule id(s): no-commercial*"])
    pytester.makeini("[pytest]\npolicycheck_rules =\n    my-pack\n    shared-rules\n")
    pytester.runpytest("my-pack").assert_outcomes(passed=2)


def test_a_broken_fixture_file_is_a_located_collection_error(pytester: pytest.Pytester) -> None:
    root = make_pack(pytester)
    (root / "research-only.test.yaml").write_text("tests:\n  - name: too short\n    case: {}\n    expect: {fires: 1}\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*rules/fam/research-only.test.yaml:2:5: tests[[]0].name: invalid value 'too short'*",
                                 "*rules/fam/research-only.test.yaml:4:14: tests[[]0].expect.fires: invalid value 1*"])
    assert "Traceback" not in result.stdout.str()


def test_a_rule_that_does_not_load_is_reported_for_its_fixtures(pytester: pytest.Pytester) -> None:
    root = make_pack(pytester)
    (root / "broken.yaml").write_text(dump(rule("broken", {"all": [lv({"seq": "one"})]})))
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*rules/fam/broken.yaml:*'seq' expects int*"])
    assert result.ret != 0


def test_duplicate_test_names_get_distinct_ids(pytester: pytest.Pytester) -> None:
    make_pack(pytester, tests=fixture(*BOTH, BOTH[0]))
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*::A research-only licence is flagged by the rule",
                                 "*::A research-only licence is flagged by the rule (line *)"])


def test_the_projects_own_run_collects_each_bundled_fixture_once() -> None:
    """Our pyproject adds rules/ to testpaths and policycheck_rules; each fixture is one item."""
    # Expected items from the fixture files read with plain PyYAML (the plugin itself collects
    # through policycheck's fixture loader, so the loader cannot vouch for it).
    names = bundled_fixture_names()
    assert len(names) == len(set(names)) >= 60  # bundled test names are unique: no "(line N)" suffixes
    expected = {f"rules/{file}::{name}" for file, name in names}
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "rules"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    items = [x for x in out.stdout.splitlines() if "::" in x]
    assert len(items) == len(set(items)), "a fixture collected twice"
    assert set(items) == expected, out.stdout[-2000:]
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'testpaths = ["tests", "rules"]' in pyproject and 'policycheck_rules = ["rules"]' in pyproject
