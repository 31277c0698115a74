"""Waivers: validation, matching, expiry with a fixed clock, stale waivers, and visibility in
every output format."""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from review_support import assess, write_case, write_rules

from policycheck.evaluate import assess as run_assess
from policycheck.load.cases import load_case
from policycheck.errors import InputError
from policycheck.load.rules import load_rules
from policycheck.review.apply import review
from policycheck.review.waivers import apply_waivers, load_waivers

# research-only (medium) and gated (low) fire on the default test case.
WAIVERS = """\
schema_version: 1
waivers:
  - rule: research-only
    case: acme
    reason: Accepted for the pilot (LR-112).
    approver: j.smith
    expires: 2024-06-30
"""


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, Path]:
    rules = write_rules(tmp_path)
    case = write_case(tmp_path)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(WAIVERS, encoding="utf-8")
    return {"rules": rules, "case": case, "waivers": waivers, "dir": tmp_path}


def _json(env: dict[str, Path], today: str, waivers: Path | None = None) -> dict:
    res = assess(env["rules"], env["case"], "--format", "json", "--waivers", waivers or env["waivers"],
                 "--today", today)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def _flag(body: dict, rule: str) -> dict:
    return next(f for c in body["cases"] for f in c["flags"] if f["rule"] == rule)


def test_without_waiver_the_medium_flag_fails_the_run(env):
    res = assess(env["rules"], env["case"], "--fail-on", "medium")
    assert res.exit_code == 1


def test_waived_flag_does_not_fail_the_run_and_stays_visible(env):
    res = assess(env["rules"], env["case"], "--fail-on", "medium", "--waivers", env["waivers"], "--today", "2024-01-01")
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    assert "research-only" in res.stdout and "(waived)" in res.stdout
    body = _json(env, "2024-01-01")
    flag = _flag(body, "research-only")
    assert flag["waiver"]["approver"] == "j.smith"
    assert flag["waiver"]["expired"] is False
    assert flag["waiver"]["line"] == 3
    assert "waiver" not in _flag(body, "gated")
    assert body["review"]["waived"] == 1 and body["review"]["counted"] == 1


def test_waived_flag_still_fails_on_lower_unwaived_flags(env):
    # The gated flag (low) is not waived: --fail-on low still fails.
    res = assess(env["rules"], env["case"], "--fail-on", "low", "--waivers", env["waivers"], "--today", "2024-01-01")
    assert res.exit_code == 1


@pytest.mark.parametrize(("today", "expired"), [("2024-06-30", False), ("2024-07-01", True), ("2031-01-01", True)])
def test_expiry_is_inclusive_of_the_expiry_day(env, today, expired):
    res = assess(env["rules"], env["case"], "--fail-on", "medium", "--waivers", env["waivers"], "--today", today)
    assert res.exit_code == (1 if expired else 0)
    warning = [line for line in res.stderr.splitlines() if "expired" in line]
    if expired:
        assert len(warning) == 1
        assert re.match(r"^warning: .*waivers\.yaml:3:5: waivers\[0\]: waiver for rule 'research-only' on case "
                        r"'acme' expired on 2024-06-30; 1 flag re-raised", warning[0]), warning
    else:
        assert warning == []
    assert _flag(_json(env, today), "research-only")["waiver"]["expired"] is expired


def test_expired_waiver_is_visible_in_every_format(env):
    args = ("--waivers", env["waivers"], "--today", "2025-01-01")
    table = assess(env["rules"], env["case"], *args).stdout
    assert "(waiver expired)" in table
    md = assess(env["rules"], env["case"], "--format", "markdown", *args).stdout
    assert "waiver expired" in md
    html = assess(env["rules"], env["case"], "--format", "html", *args).stdout
    assert "waiver expired" in html
    sarif = json.loads(assess(env["rules"], env["case"], "--format", "sarif", *args).stdout)
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "research-only")
    assert "suppressions" not in result
    assert result["properties"]["waiver"]["expired"] is True
    notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("expired" in n["message"]["text"] for n in notes)
    junit = ET.fromstring(assess(env["rules"], env["case"], "--format", "junit", *args).stdout)
    tc = junit.find(".//testcase[@name='research-only']")
    assert tc is not None and tc.find("failure") is not None and tc.find("skipped") is None
    assert "waiver expired" in (tc.find("failure").text or "")


def test_waived_flag_is_visible_in_every_format(env):
    args = ("--waivers", env["waivers"], "--today", "2024-01-01")
    md = assess(env["rules"], env["case"], "--format", "markdown", *args).stdout
    assert "**waived**" in md and "j.smith" in md
    html = assess(env["rules"], env["case"], "--format", "html", *args).stdout
    assert 'class="flag sev-medium st-waived"' in html and "Accepted for the pilot (LR-112)." in html
    sarif = json.loads(assess(env["rules"], env["case"], "--format", "sarif", *args).stdout)
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "research-only")
    (sup,) = result["suppressions"]
    assert sup["kind"] == "external" and sup["status"] == "accepted"
    assert "Accepted for the pilot (LR-112)." in sup["justification"]
    other = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "gated")
    assert "suppressions" not in other
    junit = ET.fromstring(assess(env["rules"], env["case"], "--format", "junit", *args).stdout)
    tc = junit.find(".//testcase[@name='research-only']")
    assert tc.find("failure") is None
    assert tc.find("skipped").get("message").startswith("waived until 2024-06-30 by j.smith")


def test_stale_waiver_warns_but_out_of_run_case_does_not(env):
    env["waivers"].write_text(WAIVERS + (
        "  - rule: ban-outputs\n"
        "    case: acme\n"
        "    reason: No ban any more.\n"
        "    approver: a.b\n"
        "    expires: 2030-01-01\n"
        "  - rule: ban-outputs\n"
        "    case: other-case\n"
        "    reason: Another case, not in this run.\n"
        "    approver: a.b\n"
        "    expires: 2030-01-01\n"), encoding="utf-8")
    res = assess(env["rules"], env["case"], "--waivers", env["waivers"], "--today", "2024-01-01")
    assert res.exit_code == 0
    lines = res.stderr.splitlines()
    assert len(lines) == 1, lines
    assert re.match(r"^warning: .*waivers\.yaml:8:5: waivers\[1\]: stale waiver: rule 'ban-outputs' on case 'acme' "
                    r"matches no flag; remove it$", lines[0])
    body = _json(env, "2024-01-01")
    assert [(s["rule"], s["case"], s["line"]) for s in body["review"]["stale_waivers"]] == [("ban-outputs", "acme", 8)]


def test_glob_and_fingerprint_scope_a_waiver(env, tmp_path):
    fp = _flag(_json(env, "2024-01-01"), "gated")["fingerprint"]
    waivers = tmp_path / "w2.yaml"
    waivers.write_text(textwrap.dedent(f"""\
        waivers:
          - {{rule: gated, case: "ac*", fingerprint: "{fp}", reason: ok, approver: me, expires: 2030-01-01}}
          - {{rule: research-only, case: "acme", fingerprint: "0000000000000000", reason: x, approver: me,
              expires: 2030-01-01}}
        """), encoding="utf-8")
    body = _json(env, "2024-01-01", waivers)
    assert _flag(body, "gated")["waiver"]["case"] == "ac*"
    assert "waiver" not in _flag(body, "research-only")
    assert [s["line"] for s in body["review"]["stale_waivers"]] == [3]


def test_first_unexpired_waiver_wins_over_an_expired_one(env, tmp_path):
    waivers = tmp_path / "w3.yaml"
    waivers.write_text(textwrap.dedent("""\
        waivers:
          - {rule: research-only, case: acme, reason: old, approver: a, expires: 2020-01-01}
          - {rule: research-only, case: acme, reason: renewed, approver: b, expires: 2030-01-01}
        """), encoding="utf-8")
    res = assess(env["rules"], env["case"], "--fail-on", "medium", "--waivers", waivers, "--today", "2024-01-01")
    assert res.exit_code == 0
    assert "renewed" in res.stdout
    assert res.stderr == ""  # the expired one matched a flag (not stale) and re-raised nothing


def test_clock_from_environment_variable(env):
    res = assess(env["rules"], env["case"], "--fail-on", "medium", "--waivers", env["waivers"],
                 env={"POLICYCHECK_TODAY": "2099-01-01"})
    assert res.exit_code == 1
    assert "expired on 2024-06-30" in res.stderr


def test_bad_clock_is_a_usage_error(env):
    res = assess(env["rules"], env["case"], "--waivers", env["waivers"], "--today", "2024-13-01")
    assert res.exit_code == 2
    assert "--today" in res.stderr


BAD = [
    ("waivers:\n  - {rule: research-only, case: acme, reason: r, approver: a, expires: 2030-01-01, approvr: x}\n",
     r"^error: .*bad\.yaml:2:\d+: waivers\[0\]\.approvr: unknown field 'approvr' \(did you mean 'approver'\?\)$"),
    ("waivers:\n  - rule: research-only\n    case: acme\n    reason: r\n    approver: a\n    expires: 2030-02-30\n",
     r"^error: .*bad\.yaml:6:5: waivers\[0\]\.expires: invalid value '2030-02-30': expected a calendar date"),
    ("waivers:\n  - rule: research-only\n    case: acme\n    approver: a\n    expires: 2030-01-01\n",
     r"^error: .*bad\.yaml:2:\d+: waivers\[0\]\.reason: required field 'reason' is missing$"),
    ("waivers:\n  - rule: research-onyl\n    case: acme\n    reason: r\n    approver: a\n    expires: 2030-01-01\n",
     r"^error: .*bad\.yaml:2:5: waivers\[0\]\.rule: unknown rule 'research-onyl' \(did you mean 'research-only'\?\)$"),
    ("waivers:\n  - {rule: gated, case: acme, fingerprint: XYZ, reason: r, approver: a, expires: 2030-01-01}\n",
     r"^error: .*bad\.yaml:2:\d+: waivers\[0\]\.fingerprint: invalid value 'XYZ'"),
    ("- just a list\n", r"^error: .*bad\.yaml:1:1: a waivers file must be a mapping"),
    ("waivers: [\n", r"^error: .*bad\.yaml:\d+:\d+: invalid YAML"),
]


@pytest.mark.parametrize(("text", "pattern"), BAD)
def test_invalid_waivers_file_is_one_located_line_and_writes_nothing(env, text, pattern):
    bad = env["dir"] / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    out = env["dir"] / "report.sarif"
    res = assess(env["rules"], env["case"], "--waivers", bad, "--format", "sarif", "-o", out)
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 2, lines   # the error, then the reason line
    assert re.match(pattern, lines[0]), lines[0]
    assert lines[1] == "policycheck: nothing assessed: 1 problem in " + str(bad)
    assert not out.exists()
    assert res.stdout == ""


def test_library_api_with_injected_clock(env):
    pack = load_rules([env["rules"]], bundled=False)
    result = run_assess([load_case(env["case"])], pack)
    waivers = load_waivers(env["waivers"], [r.id for r in pack.rules])
    before = apply_waivers(result, waivers, dt.date(2024, 6, 30))
    after = apply_waivers(result, waivers, dt.date(2024, 7, 1))
    flag_before = next(f for f in before.assessment.flags() if f.rule == "research-only")
    flag_after = next(f for f in after.assessment.flags() if f.rule == "research-only")
    assert flag_before.waived and not flag_before.counts
    assert not flag_after.waived and flag_after.counts
    assert before.warnings == [] and len(after.warnings) == 1
    assert before.assessment.failing("medium") == []
    assert [f.rule for f in after.assessment.failing("medium")] == ["research-only"]
    reviewed, _ = review(result, today=dt.date(2024, 1, 1), waivers=waivers, waivers_file="w.yaml")
    assert reviewed.review is not None and reviewed.review.today == "2024-01-01"
    assert {f.rule: f.waived for f in reviewed.flags()} == {"research-only": True, "gated": False}
    # The original assessment is untouched (models are frozen; review returns a copy); the
    # check is not vacuous: the two test flags are there, and neither carries a waiver.
    assert sorted(f.rule for f in result.flags()) == ["gated", "research-only"]
    assert all(f.waiver is None for f in result.flags())


def test_unknown_rule_check_is_skipped_without_a_pack(env, tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("waivers:\n  - {rule: nope, case: acme, reason: r, approver: a, expires: 2030-01-01}\n")
    assert len(load_waivers(path)) == 1
    with pytest.raises(InputError):
        load_waivers(path, ["gated"])


@pytest.mark.parametrize("text", ["2029-W01-1", "２０２４-０１-３１", "٢٠٢٤-٠١-٣١", "2024-1-31", "20240131"])
def test_waiver_expiry_takes_only_iso_dates_in_ascii_digits(text: str) -> None:
    from policycheck.review.waivers import parse_day

    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day(text)


def test_the_default_review_date_is_todays_date_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt
    import time

    from policycheck.review.apply import today_from

    for tz in ("Pacific/Kiritimati", "Etc/GMT+12"):  # UTC+14 and UTC-12: a day apart from each other
        monkeypatch.setenv("TZ", tz)
        time.tzset()
        assert today_from(None) == dt.datetime.now(dt.timezone.utc).date()
    monkeypatch.delenv("TZ")
    time.tzset()
