"""Configuration: discovery by walking up, pyproject.toml and .policycheck.yaml, validation,
paths relative to the file, and command-line flags winning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from review_support import run, write_case, write_rules

from policycheck import cli
from policycheck.io.config import FORMATS, Config, Settings, discover, find_config, load_config, merge
from policycheck.errors import InputError


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a .git marker, the test rules under policy/rules and a case."""
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "policy").mkdir()
    write_rules(root / "policy")
    (root / "cases").mkdir()
    write_case(root / "cases")
    (root / "cases" / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def _yaml(root: Path, text: str) -> Path:
    path = root / ".policycheck.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_formats_match_the_cli():
    assert FORMATS == cli.ASSESS_FORMATS
    assert set(FORMATS) == set(Settings.model_fields["format"].annotation.__args__[0].__args__)


def test_no_config_found_gives_defaults(project):
    assert find_config() is None
    cfg = discover()
    assert cfg.file is None and cfg.settings == Settings()
    opts = merge(cfg)
    assert opts.format == "table" and opts.fail_on is None and opts.bundled and opts.rules == ()


def test_discovery_walks_up_and_stops_at_the_project_root(project, tmp_path):
    # A config above the project root (.git) is never used.
    (tmp_path / ".policycheck.yaml").write_text("fail_on: high\n")
    assert find_config(project / "cases" / "deep" / "er") is None
    cfg_path = _yaml(project, "fail_on: medium\n")
    assert find_config(project / "cases" / "deep" / "er") == cfg_path.resolve()


def test_yaml_is_preferred_to_pyproject_and_pyproject_needs_the_table(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config() is None
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.policycheck]\nfail_on = "low"\n')
    assert find_config() == (project / "pyproject.toml").resolve()
    assert discover().settings.fail_on == "low"
    _yaml(project, "fail_on: high\n")
    assert discover().settings.fail_on == "high"


def test_paths_are_relative_to_the_config_file(project, monkeypatch):
    _yaml(project, "rules: [policy/rules]\nwaivers: policy/waivers.yaml\nbaseline: policy/b.json\n")
    monkeypatch.chdir(project / "cases" / "deep")
    cfg = discover()
    assert [Path(p).resolve() for p in cfg.rules] == [(project / "policy" / "rules").resolve()]
    assert Path(cfg.waivers).resolve() == (project / "policy" / "waivers.yaml").resolve()
    assert Path(cfg.baseline).resolve() == (project / "policy" / "b.json").resolve()


def test_config_drives_assess_and_flags_win(project):
    _yaml(project, "rules: [policy/rules]\nbundled: false\nfail_on: low\nformat: json\n")
    res = run(["assess", "cases/case.yaml"])
    assert res.exit_code == 1  # fail_on low from the file; the test case has a low flag
    body = json.loads(res.stdout)  # format json from the file
    assert body["rule_pack"]["rules"] == 3  # only the file's rule folder (bundled: false)
    res = run(["assess", "cases/case.yaml", "--fail-on", "high", "--format", "markdown"])
    assert res.exit_code == 0
    assert res.stdout.startswith("## policycheck:")
    res = run(["assess", "cases/case.yaml", "--no-config", "--rules", "policy/rules", "--no-bundled"])
    assert res.exit_code == 0 and res.stdout.startswith("== acme")


def test_config_waivers_are_used(project):
    (project / "policy" / "waivers.yaml").write_text(
        "waivers:\n  - {rule: research-only, case: acme, reason: ok, approver: me, expires: 2030-01-01}\n")
    _yaml(project, "rules: [policy/rules]\nbundled: false\nfail_on: medium\nwaivers: policy/waivers.yaml\n")
    res = run(["assess", "cases/case.yaml", "--today", "2024-01-01"])
    assert res.exit_code == 0, res.stderr
    assert "(waived)" in res.stdout


def test_pyproject_config_and_explicit_config_file(project, tmp_path):
    (project / "pyproject.toml").write_text(
        '[tool.policycheck]\nrules = ["policy/rules"]\nbundled = false\nfail_on = "medium"\n')
    assert run(["assess", "cases/case.yaml"]).exit_code == 1
    other = tmp_path / "elsewhere.yaml"
    other.write_text(f"rules: [{project / 'policy' / 'rules'}]\nbundled: false\nfail_on: high\n")
    assert run(["assess", "cases/case.yaml", "--config", str(other)]).exit_code == 0


@pytest.mark.parametrize(("text", "pattern"), [
    ("fail-on: high\n", r"^error: \.policycheck\.yaml:1:1: fail-on: unknown field 'fail-on' \(did you mean 'fail_on'\?\)$"),
    ("rules: [x]\nfail_on: severe\n",
     r"^error: \.policycheck\.yaml:2:1: fail_on: invalid value 'severe'; expected one of: info, low, medium, high"),
    ("format: pdf\n", r"^error: \.policycheck\.yaml:1:1: format: invalid value 'pdf'; expected one of: table, json"),
    ("bundled: false\n", r"^error: \.policycheck\.yaml:1:1: .*'bundled: false' needs at least one folder in 'rules'"),
    ("rules: policy/rules\n", r"^error: \.policycheck\.yaml:1:1: rules: invalid value 'policy/rules'"),
    ("- a list\n", r"^error: \.policycheck\.yaml:1:1: the configuration must be a mapping$"),
])
def test_invalid_yaml_config_is_a_located_error(project, text, pattern):
    _yaml(project, text)
    res = run(["assess", "cases/case.yaml"])
    assert res.exit_code == 2
    line, reason = res.stderr.splitlines()
    assert re.match(pattern, line), line
    assert reason.startswith("policycheck: nothing assessed: 1 problem in ")
    assert res.stdout == ""


@pytest.mark.parametrize(("text", "pattern"), [
    ('[project]\nname = "x"\n\n[tool.policycheck]\nformat = "json"\nfail_on = "hihg"\n',
     r"^error: pyproject\.toml:6:1: fail_on: invalid value 'hihg'; expected one of: .* \(did you mean 'high'\?\)$"),
    ('[tool.policycheck]\nwaiver = "w.yaml"\n',
     r"^error: pyproject\.toml:2:1: waiver: unknown field 'waiver' \(did you mean 'waivers'\?\)$"),
    ('[tool.policycheck]\nfail_on = \n', r"^error: pyproject\.toml:2:\d+: invalid TOML: "),
])
def test_invalid_pyproject_config_is_a_located_error(project, text, pattern):
    (project / "pyproject.toml").write_text(text)
    res = run(["assess", "cases/case.yaml"])
    assert res.exit_code == 2
    line, reason = res.stderr.splitlines()
    assert re.match(pattern, line), line
    assert reason.startswith("policycheck: nothing assessed: 1 problem in ")


def test_explicit_pyproject_without_table_is_an_error(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(InputError, match=r"no \[tool\.policycheck\] table"):
        load_config(project / "pyproject.toml")


def test_merge_precedence():
    cfg = Config(Settings(rules=["a"], fail_on="low", format="html", waivers="w.yaml", baseline="b.json"),
                 Path("/p/.policycheck.yaml"))
    opts = merge(cfg, rules=("cli-rules",), fail_on="high", fmt="sarif", waivers="cli-w.yaml", baseline="cli-b.json",
                 no_bundled=True)
    assert (opts.rules, opts.fail_on, opts.format, opts.waivers, opts.baseline, opts.bundled) == \
        (("cli-rules",), "high", "sarif", "cli-w.yaml", "cli-b.json", False)
    kept = merge(cfg)
    assert (kept.fail_on, kept.format, kept.bundled) == ("low", "html", True)
    assert Path(kept.waivers).resolve() == Path("/p/w.yaml")
