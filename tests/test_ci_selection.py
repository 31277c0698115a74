"""Selection at run time (issue 11, item 6): ``--rule`` / ``--skip-rule`` (ids or globs),
``--family``, ``--condition`` (any case), ``--exclude`` for case paths, and the same keys in
the configuration. Rules selected out are not run and not listed; a name that matches nothing
is exit 2 with a suggestion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from review_support import BAN, RULES, assess, run, write_case, write_rules

from policycheck.load.rules import load_rules
from policycheck.load.select import select_rules



@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("select")
    rules = write_rules(d)
    cases = d / "cases"
    (cases / "drafts").mkdir(parents=True)
    write_case(cases, "acme.yaml", case_id="acme", versions=[BAN])
    write_case(cases / "drafts", "draft.yaml", case_id="draft")
    write_case(cases, "beta.draft.yaml", case_id="beta")
    return {"dir": d, "rules": rules, "cases": cases, "acme": cases / "acme.yaml",
            "pack": load_rules([rules], bundled=False)}


def _rules_run(res: Any) -> dict[str, list[str]]:
    data = json.loads(res.stdout)
    return {c["case"]: sorted(r["rule"] for r in c["rules"]) for c in data["cases"]}


@pytest.mark.parametrize(("args", "expected"), [
    (["--rule", "ban-outputs"], ["ban-outputs"]),
    (["--rule", "*-only", "--rule", "gated"], ["gated", "research-only"]),
    (["--skip-rule", "gat?d"], ["ban-outputs", "research-only"]),
    (["--rule", "*", "--skip-rule", "ban-*"], ["gated", "research-only"]),
    (["--condition", "otc"], ["gated"]),
    (["--condition", "C3", "--skip-rule", "research-only"], ["ban-outputs"]),
    (["--family", "review", "--condition", "C1"], ["ban-outputs"]),
])
def test_selected_rules_alone_are_run_and_listed(env, args, expected):
    res = assess(env["rules"], env["acme"], "--format", "json", *args)
    assert res.exit_code == 0, res.stderr
    assert _rules_run(res) == {"acme": expected}
    data = json.loads(res.stdout)
    assert {f["rule"] for f in data["cases"][0]["flags"]} <= set(expected)
    assert data["rule_pack"]["rules"] == len(expected)
    full = env["pack"]
    assert (data["rule_pack"]["digest"] == full.digest) == (len(expected) == len(full.rules))


def test_sarif_lists_only_the_rules_that_ran(env):
    res = assess(env["rules"], env["acme"], "--format", "sarif", "--rule", "gated")
    body = json.loads(res.stdout)
    assert [r["id"] for r in body["runs"][0]["tool"]["driver"]["rules"]] == ["gated"]


@pytest.mark.parametrize(("args", "message"), [
    (["--rule", "ban-output"], "--rule: rule id 'ban-output' matches no rule of the pack (did you mean 'ban-outputs'?)"),
    (["--skip-rule", "nope-*"], "--skip-rule: glob 'nope-*' matches no rule of the pack"),
    (["--family", "reveiw"], "--family: family 'reveiw' matches no rule of the pack (did you mean 'review'?)"),
    (["--condition", "C9"], "--condition: unknown condition 'C9'; expected one of: C1, C2, C3, C4, OTC"),
    (["--condition", "C2"], "--condition: condition 'C2' matches no rule of the pack"),
    (["--rule", "gated", "--skip-rule", "gated"], "--rule: the rule selection leaves no rule to run"),
])
def test_a_selection_that_matches_nothing_is_exit_2_with_a_suggestion(env, args, message):
    res = assess(env["rules"], env["acme"], *args)
    assert res.exit_code == 2 and res.stdout == ""
    first = res.stderr.splitlines()[0]
    assert first.startswith(f"error: {message}"), first
    assert res.stderr.splitlines()[-1].startswith("policycheck: nothing assessed: ")


def test_select_rules_keeps_the_pack_when_nothing_is_selected(env):
    assert select_rules(env["pack"]) is env["pack"]
    assert select_rules(env["pack"], rules=["*"]) is env["pack"]
    assert [r.id for r in select_rules(env["pack"], skip=["gated"]).rules] == ["ban-outputs", "research-only"]


@pytest.mark.parametrize(("patterns", "expected"), [
    ([], ["acme", "beta", "draft"]),
    (["drafts"], ["acme", "beta"]),
    (["*.draft.yaml"], ["acme", "draft"]),
    (["drafts", "*.draft.yaml"], ["acme"]),
])
def test_exclude_leaves_out_case_paths(env, patterns, expected):
    args = [a for p in patterns for a in ("--exclude", p)]
    res = assess(env["rules"], env["cases"], "--format", "json", *args)
    assert res.exit_code == 0, res.stderr
    assert [c["case"] for c in json.loads(res.stdout)["cases"]] == expected


def test_exclude_with_a_slash_is_a_path_from_the_working_directory(env, monkeypatch):
    monkeypatch.chdir(env["dir"])
    res = assess(env["rules"], "cases", "--format", "json", "--exclude", "cases/drafts/*")
    assert [c["case"] for c in json.loads(res.stdout)["cases"]] == ["acme", "beta"]


def test_everything_excluded_is_exit_2(env):
    res = assess(env["rules"], env["cases"], "--exclude", "*.yaml")
    assert res.exit_code == 2 and "no case files (.yaml, .yml, .json) found (3 excluded by --exclude)" in res.stderr


def test_the_same_keys_in_the_configuration(env, tmp_path, monkeypatch):
    write_rules(tmp_path)
    cases = tmp_path / "cases"
    (cases / "drafts").mkdir(parents=True)
    write_case(cases, "acme.yaml", case_id="acme", versions=[BAN])
    write_case(cases / "drafts", "d.yaml", case_id="draft")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".policycheck.yaml").write_text(
        "bundled: false\nrules: [rules]\nselect_rules: ['*']\nskip_rules: [gated]\nconditions: [c3, c1]\n"
        "exclude: [cases/drafts/*]\nmin_severity: high\nfamilies: [review]\n")
    monkeypatch.chdir(cases / "drafts")   # patterns with a / are relative to the configuration's folder
    res = run(["assess", "..", "--format", "json"])
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert [c["case"] for c in data["cases"]] == ["acme"]
    assert _rules_run(res) == {"acme": ["ban-outputs", "research-only"]}
    assert [f["severity"] for f in data["cases"][0]["flags"]] == ["high"]
    # the command line replaces the file's list
    cli = run(["assess", "..", "--format", "json", "--rule", "research-*"])
    assert _rules_run(cli) == {"acme": ["research-only"]}


def test_a_waiver_for_a_rule_not_run_is_not_stale(env, tmp_path):
    w = tmp_path / "w.yaml"
    w.write_text("waivers:\n  - {rule: gated, case: acme, reason: ok, approver: me, expires: 2999-01-01}\n")
    res = assess(env["rules"], env["acme"], "--waivers", w, "--rule", "ban-outputs")
    assert res.exit_code == 0 and "stale" not in res.stderr


def test_baseline_entries_of_rules_not_run_do_not_count_as_resolved(env, tmp_path):
    base = tmp_path / "b.json"
    assert assess(env["rules"], env["acme"], "--write-baseline", base).exit_code == 0
    res = assess(env["rules"], env["acme"], "--baseline", base, "--rule", "gated", "--format", "json")
    assert "no longer match" not in res.stderr
    assert json.loads(res.stdout)["review"]["baseline_resolved"] == 0


def test_the_test_rules_are_what_this_module_assumes() -> None:
    assert sorted(RULES) == ["ban-outputs", "gated", "research-only"]
