"""Baselines: write one, fail only on new flags, fingerprints independent of message text."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from review_support import assess, write_case, write_rules

from policycheck.review.baseline import BaselineFile

BAN = {"scope": "other_models"}


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, Path]:
    return {"rules": write_rules(tmp_path), "case": write_case(tmp_path), "dir": tmp_path}


def _write_baseline(env: dict[str, Path]) -> Path:
    path = env["dir"] / "baseline.json"
    res = assess(env["rules"], env["case"], "--write-baseline", path)
    assert res.exit_code == 0, res.stderr
    return path


def _rewrite_case(env: dict[str, Path], terms: dict, version: str = "1.0") -> None:
    write_case(env["dir"], versions=[{"version": version, "date": "2023-01-01", "terms": terms}])


def test_written_baseline_is_valid_sorted_and_deterministic(env):
    path = _write_baseline(env)
    first = path.read_text()
    body = json.loads(first)
    BaselineFile.model_validate(body)  # strict schema of the file it will be read with
    assert [(e["case"], e["rule"]) for e in body["flags"]] == [("acme", "gated"), ("acme", "research-only")]
    assert body["flags"][0]["facts"] == ["licence_version acme-licence@1"]
    _write_baseline(env)
    assert path.read_text() == first
    assert first.endswith("}\n")


def test_baseline_flags_do_not_fail_but_new_ones_do(env):
    baseline = _write_baseline(env)
    res = assess(env["rules"], env["case"], "--baseline", baseline, "--fail-on", "low")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "(baseline)" in res.stdout
    # The licence adds an output-training ban: a new high flag, the old two stay in the baseline.
    _rewrite_case(env, {"research_only": True, "weights_access": "gated", "output_training_ban": BAN})
    res = assess(env["rules"], env["case"], "--baseline", baseline, "--fail-on", "high", "--format", "json")
    assert res.exit_code == 1
    body = json.loads(res.stdout)
    states = {f["rule"]: f.get("baseline", False) for f in body["cases"][0]["flags"]}
    assert states == {"ban-outputs": False, "research-only": True, "gated": True}
    assert body["review"]["counted"] == 1 and body["review"]["in_baseline"] == 2


def test_fingerprint_ignores_message_text(env):
    baseline = _write_baseline(env)
    # A new version label changes every message but not the facts' identity.
    _rewrite_case(env, {"research_only": True, "weights_access": "gated", "output_training_ban": "none"},
                  version="1.0 (renamed)")
    res = assess(env["rules"], env["case"], "--baseline", baseline, "--fail-on", "low", "--format", "json")
    assert res.exit_code == 0
    flags = json.loads(res.stdout)["cases"][0]["flags"]
    assert all(f["baseline"] for f in flags) and all("renamed" in f["message"] for f in flags)


def test_assessment_json_works_as_a_baseline(env):
    out = env["dir"] / "assessment.json"
    assert assess(env["rules"], env["case"], "--format", "json", "-o", out).exit_code == 0
    # The same run without it fails (the test case has a medium and a low flag) ...
    assert assess(env["rules"], env["case"], "--fail-on", "low").exit_code == 1
    res = assess(env["rules"], env["case"], "--baseline", out, "--fail-on", "low")
    assert res.exit_code == 0, res.stderr  # ... so the assessment JSON is what held both flags back
    assert res.stdout.count("(baseline)") == 2


def test_resolved_baseline_entries_warn(env):
    baseline = _write_baseline(env)
    _rewrite_case(env, {"research_only": False, "weights_access": "gated", "output_training_ban": "none"})
    res = assess(env["rules"], env["case"], "--baseline", baseline, "--fail-on", "low")
    assert res.exit_code == 0
    assert re.fullmatch(r"warning: .*baseline\.json: 1 baseline entry no longer matches a flag \(fixed or changed\); "
                        r"rewrite the baseline with --write-baseline\n", res.stderr), res.stderr


def test_expired_waiver_fails_even_when_flag_is_in_baseline(env):
    baseline = _write_baseline(env)
    waivers = env["dir"] / "w.yaml"
    waivers.write_text("waivers:\n  - {rule: research-only, case: acme, reason: r, approver: a, expires: 2024-01-01}\n")
    ok = assess(env["rules"], env["case"], "--baseline", baseline, "--waivers", waivers, "--today", "2023-12-31",
                "--fail-on", "medium")
    assert ok.exit_code == 0
    late = assess(env["rules"], env["case"], "--baseline", baseline, "--waivers", waivers, "--today", "2024-01-02",
                  "--fail-on", "medium")
    assert late.exit_code == 1
    assert "expired on 2024-01-01" in late.stderr


def test_waived_flags_are_left_out_of_a_written_baseline(env):
    waivers = env["dir"] / "w.yaml"
    waivers.write_text("waivers:\n  - {rule: research-only, case: acme, reason: r, approver: a, expires: 2030-01-01}\n")
    path = env["dir"] / "b.json"
    assert assess(env["rules"], env["case"], "--waivers", waivers, "--today", "2024-01-01",
                  "--write-baseline", path).exit_code == 0
    assert [e["rule"] for e in json.loads(path.read_text())["flags"]] == ["gated"]


def test_baseline_state_in_sarif_and_junit(env):
    baseline = _write_baseline(env)
    _rewrite_case(env, {"research_only": True, "weights_access": "gated", "output_training_ban": BAN})
    sarif = json.loads(assess(env["rules"], env["case"], "--baseline", baseline, "--format", "sarif").stdout)
    states = {r["ruleId"]: r["baselineState"] for r in sarif["runs"][0]["results"]}
    assert states == {"ban-outputs": "new", "research-only": "unchanged", "gated": "unchanged"}
    junit = ET.fromstring(assess(env["rules"], env["case"], "--baseline", baseline, "--format", "junit").stdout)
    kinds = {tc.get("name"): [child.tag for child in tc] for tc in junit.iter("testcase")}
    assert kinds == {"ban-outputs": ["failure"], "research-only": ["skipped"], "gated": ["skipped"]}
    # Without --baseline, SARIF results carry no baselineState at all.
    plain = json.loads(assess(env["rules"], env["case"], "--format", "sarif").stdout)
    assert all("baselineState" not in r for r in plain["runs"][0]["results"])


@pytest.mark.parametrize(("text", "pattern"), [
    ('{"policycheck_baseline": 1, "rule_pack": "x", "flags": [{"case": "a", "rule": "b", "fingerprint": "zz", '
     '"severity": "high"}]}', r"baseline\.json:1:\d+: flags\[0\]\.fingerprint: invalid value 'zz'"),
    ('{"policycheck_baseline": 1, "rule_pack": "x", "flags": [], "extra": 1}',
     r"baseline\.json:1:\d+: extra: unknown field 'extra'"),
    ('{"something": "else"}', r"baseline\.json:1:1: not a policycheck baseline"),
])
def test_invalid_baseline_is_one_located_error(env, text, pattern):
    path = env["dir"] / "baseline.json"
    path.write_text(text)
    out = env["dir"] / "out.txt"
    res = assess(env["rules"], env["case"], "--baseline", path, "-o", out)
    assert res.exit_code == 2
    line, reason = res.stderr.splitlines()
    assert line.startswith("error: ") and re.search(pattern, line), line
    assert reason == f"policycheck: nothing assessed: 1 problem in {path}"
    assert not out.exists()


def test_write_baseline_failure_is_exit_2_and_leaves_nothing(env):
    target = env["dir"] / "missing-dir" / "baseline.json"
    res = assess(env["rules"], env["case"], "--write-baseline", target)
    assert res.exit_code == 2
    assert "cannot write" in res.stderr
    assert not target.parent.exists()
    assert not list(env["dir"].glob(".policycheck-*"))
