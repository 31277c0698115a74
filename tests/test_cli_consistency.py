"""One CLI (issue 11, items 7 and 8): `-V`, `-o`/`--format` on the information commands,
`--rules DIR` and `--bundled/--no-bundled` on every command that takes rules, the
configuration read by `validate` and `rules`, and the release pins of docs/ci.md."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from policycheck import __version__
from policycheck.cli import main
from policycheck.load.rules import load_rules
from test_lint import BOTH, OK, fixture, write_pack

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "licences" / "llama-2.yaml"
TEST_RULES = ROOT / "tests" / "data" / "rules"
RULE_COMMANDS = ("assess", "diff", "rules", "test", "lint")


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (its own repository root, so the configuration search stops there) with
    one good case, a broken draft, and the test rule pack under policy/rules."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "cases" / "drafts").mkdir(parents=True)
    shutil.copy(CASE, tmp_path / "cases" / "llama-2.yaml")
    (tmp_path / "cases" / "drafts" / "broken.yaml").write_text("schema_version: 2\nparties: 7\n")
    shutil.copytree(TEST_RULES, tmp_path / "policy" / "rules")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ids(output: str) -> set[str]:
    return {r["id"] for r in json.loads(output)}


# --------------------------------------------------------------------------- -V / --version

def test_version_and_its_short_alias_print_the_bundled_rule_pack_digest() -> None:
    long, short = run("--version"), run("-V")
    assert long.exit_code == short.exit_code == 0
    assert long.output == short.output
    digest = load_rules().digest
    assert long.output == f"policycheck, version {__version__} (rule pack {digest})\n"
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    assert "-V, --version" in run("--help").output


# --------------------------------------------------------------------------- -o and --format

def test_validate_writes_text_or_json_to_a_file(project: Path) -> None:
    out = project / "valid.txt"
    res = run("validate", "cases/llama-2.yaml", "--no-config", "-o", str(out))
    assert res.exit_code == 0 and res.output == ""
    assert out.read_text() == "1 case file valid\n"
    both = run("validate", "cases/llama-2.yaml", "--no-config", "-o", "json:valid.json")
    assert both.output == "1 case file valid\n"
    body = json.loads((project / "valid.json").read_text())
    assert body == {"valid": 1, "excluded": 0, "files": [{"file": "cases/llama-2.yaml", "case": "llama-2"}]}
    assert run("validate", "cases/llama-2.yaml", "--no-config", "--format", "json").output == \
        (project / "valid.json").read_text()


def test_a_failed_validate_writes_no_file_and_leaves_no_temporary(project: Path) -> None:
    out = project / "valid.txt"
    res = run("validate", "cases", "--no-config", "-o", str(out))
    assert res.exit_code == 2 and "cases/drafts/broken.yaml" in res.output
    assert not out.exists() and not list(project.glob(".policycheck-*.tmp"))


def test_rules_schema_and_facts_take_o_and_format(project: Path) -> None:
    res = run("rules", "--no-config", "--format", "json", "-o", "rules.json", "-o", "markdown:rules.md")
    assert res.exit_code == 0 and res.output == ""
    assert ids((project / "rules.json").read_text()) == {r.id for r in load_rules().rules}
    assert (project / "rules.md").read_text() == run("rules", "--no-config", "--format", "markdown").output

    assert run("schema", "-o", "s.json").output == ""
    as_json = json.loads((project / "s.json").read_text())
    assert as_json["title"].startswith("policycheck case file v")
    assert yaml.safe_load(run("schema", "--format", "yaml").output) == as_json

    table = run("facts", "--format", "table", "incorporated_by_reference", "-o", "facts.txt")
    assert table.exit_code == 0 and table.output == ""
    text = (project / "facts.txt").read_text()
    assert "acceptable_use_policy.incorporated_by_reference" in text
    assert text == run("facts", "--format", "table", "incorporated_by_reference").output


def test_two_outputs_on_stdout_are_a_usage_error(project: Path) -> None:
    res = run("facts", "-o", "table:-")
    assert res.exit_code == 2 and "two outputs on stdout" in res.output


# --------------------------------------------------------------------------- --rules / --bundled

def test_every_rule_command_has_the_same_rules_and_bundled_options() -> None:
    for name in RULE_COMMANDS:
        help_text = run(name, "--help").output
        assert "--rules DIR" in help_text, name
        assert "--bundled / --no-bundled" in help_text, name
        assert "--with-bundled" not in help_text, name  # a hidden alias, kept for scripts
        opt = next(p for p in main.commands[name].params if p.name == "bundled")
        assert opt.default is None, name    # not given: --bundled (or the configuration's 'bundled')


def test_rules_dir_means_the_same_on_rules_and_lint(project: Path) -> None:
    bundled = {r.id for r in load_rules().rules}
    mine = ids(run("rules", "--no-config", "--no-bundled", "--rules", "policy/rules", "--format", "json").output)
    assert mine and not mine & bundled
    added = ids(run("rules", "--no-config", "--rules", "policy/rules", "--format", "json").output)
    assert added == mine | bundled
    assert ids(run("rules", "--no-config", "--rules", "policy/rules", "--with-bundled", "--format",
                   "json").output) == added

    def lint_rules(*args: str) -> int:
        res = run("lint", "--format", "json", *args)
        return int(json.loads(res.output)["rules"])

    assert lint_rules("policy/rules") == lint_rules("--rules", "policy/rules", "--no-bundled") == len(mine)
    assert lint_rules("--rules", "policy/rules") == len(mine) + len(bundled)


def test_test_takes_rules_dir_as_assess_does_and_positional_folders_as_before(tmp_path: Path) -> None:
    bundled_id = sorted(r.id for r in load_rules().rules)[0]
    mine = {**OK, "id": "zz-local-research"}   # an id no bundled rule or fixture name contains
    pack = write_pack(tmp_path / "rules", {"zz-local-research": mine}, {"zz-local-research": fixture(
        BOTH[0], (BOTH[1][0], BOTH[1][1], {"fires": False, "not_fires": [bundled_id]}))})
    alone = run("test", str(pack))
    assert alone.exit_code == 1 and f"unknown rule id(s): {bundled_id}" in alone.output
    assert run("test", "--rules", str(pack), "--no-bundled").output == alone.output
    with_rules = run("test", "--rules", str(pack), "-k", "zz-local")
    assert with_rules.exit_code == 0 and with_rules.output == "2 passed, 0 failed\n"
    for spelling in ("--bundled", "--with-bundled"):
        assert run("test", str(pack), spelling, "-k", "zz-local").output == with_rules.output


def test_contradictory_or_empty_rule_choices_are_usage_errors(tmp_path: Path) -> None:
    clash = run("lint", str(TEST_RULES), "--with-bundled", "--no-bundled")
    assert clash.exit_code == 2 and "--with-bundled and --no-bundled contradict" in clash.output
    for name in ("test", "lint", "rules"):
        empty = run(name, "--no-bundled", *(["--no-config"] if name == "rules" else []))
        assert empty.exit_code == 2 and "--no-bundled needs at least one" in empty.output, name


# --------------------------------------------------------------------------- configuration

def test_rules_reads_the_configuration_and_the_command_line_wins(project: Path) -> None:
    (project / ".policycheck.yaml").write_text("rules: [policy/rules]\nbundled: false\n")
    mine = ids(run("rules", "--no-bundled", "--rules", "policy/rules", "--format", "json").output)
    assert ids(run("rules", "--format", "json").output) == mine
    assert ids(run("rules", "--bundled", "--format", "json").output) == mine | {r.id for r in load_rules().rules}
    assert ids(run("rules", "--no-config", "--format", "json").output) == {r.id for r in load_rules().rules}


def test_validate_reads_the_configuration(project: Path) -> None:
    (project / ".policycheck.yaml").write_text("exclude: [drafts]\n")
    res = run("validate", "cases")
    assert res.exit_code == 0 and res.output == "1 case file valid\n"
    assert run("validate", "cases", "--no-config").exit_code == 2
    (project / ".policycheck.yaml").write_text("exclude: [drafts]\nfail-on: high\n")
    bad = run("validate", "cases")
    assert bad.exit_code == 2 and ".policycheck.yaml:2" in bad.output and "fail_on" in bad.output


# --------------------------------------------------------------------------- release pins (item 8)

CI_DOC = ROOT / "docs" / "ci.md"
SHA = re.compile(r"[0-9a-f]{40}")
TAG = re.compile(r"v\d+\.\d+\.\d+")


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)


def pins() -> list[tuple[str, str]]:
    """Each (ref, its line) pinned in docs/ci.md: ``rev:`` in YAML blocks and ``policycheck @ git+...@REF``."""
    text = CI_DOC.read_text(encoding="utf-8")
    found: list[tuple[str, str]] = []
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            m = re.match(r"\s*rev:\s*(\S+)", line)
            if m:
                found.append((m.group(1).strip("'\""), line))
    for line in text.splitlines():
        found += [(ref, line) for ref in re.findall(r"policycheck @ git\+\S+?@([^\s\"`]+)", line)]
    return found


def test_every_pin_in_ci_md_is_a_tag_or_a_commit_marked_as_such() -> None:
    found = pins()
    assert len(found) >= 2   # the pre-commit rev and the pip install pin
    tags = set(git("tag").stdout.split())
    for ref, line in found:
        if ref in tags:
            assert TAG.fullmatch(ref), line
            continue
        assert SHA.fullmatch(ref), f"{ref!r} is neither a tag of this repository nor a full commit id: {line}"
        context = CI_DOC.read_text(encoding="utf-8").split(line, 1)[1][:200]
        assert "a commit" in line + context, f"commit pin not marked as a commit: {line}"
        # a shallow clone (CI may make one) holds only its tip: a pinned commit is resolved only in full history
        if git("rev-parse", "--is-shallow-repository").stdout.strip() == "false":
            assert git("cat-file", "-e", f"{ref}^{{commit}}").returncode == 0, f"{ref} is not a commit here"


def test_tags_follow_the_documented_version_convention() -> None:
    text = CI_DOC.read_text(encoding="utf-8")
    assert "`vX.Y.Z`" in text and "## Versions and releases" in text
    for tag in git("tag", "--list", "v*").stdout.split():
        assert TAG.fullmatch(tag), f"tag {tag} does not follow vX.Y.Z"
    assert f"policycheck, version {__version__} (rule pack " in text


# --------------------------------------------------------------------------- pytest plugin

def _pack_at(folder: Path) -> None:
    write_pack(folder, {"research-only": OK}, {"research-only": fixture(*BOTH)})


def test_the_plugin_collects_a_configured_folder_outside_the_project(pytester: pytest.Pytester,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    project = pytester.path / "project"
    (project / "tests").mkdir(parents=True)
    _pack_at(pytester.path / "shared-rules")          # beside the project, not under it
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\npolicycheck_rules = ../shared-rules\n")
    monkeypatch.chdir(project)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    shared = (pytester.path / "shared-rules").resolve()
    result.stdout.fnmatch_lines([f"policycheck: rule folders: {shared} (outside the test paths: collected)"])
    # Paths given on the command line are the run: the folder is not added, and the header says so.
    given = pytester.runpytest("tests")
    assert given.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    given.stdout.fnmatch_lines([f"policycheck: rule folders: {shared} (not under the paths given: not collected)"])


def test_the_plugin_header_names_a_missing_folder(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npolicycheck_rules = no-such-rules\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["policycheck: rule folders: no-such-rules (not a folder: nothing collected)"])
