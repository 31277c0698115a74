"""Keep going (issue 11, item 2): a folder with good and broken files assesses every good case,
reports every bad one (one located ``error:`` line per problem, as found), lists the bad files
in every output, writes all outputs and exits 2 with one reason line. ``--fail-fast`` stops at
the first bad file and writes nothing.

One run writes every format (module fixture), so the checks below cost one assessment."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from review_support import assess, write_case, write_rules

FORMATS = ("json", "jsonl", "markdown", "sarif", "junit", "html", "github")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("keepgoing")
    rules = write_rules(d)
    cases = d / "cases"
    cases.mkdir()
    write_case(cases, "a-good.yaml", case_id="alpha")
    write_case(cases, "b-good.yaml", case_id="beta")
    (cases / "c-bad-yaml.yaml").write_text("schema_version: 2\nid: [unclosed\n")
    (cases / "d-schema.yaml").write_text(
        write_case(d, "tmp.yaml", case_id="delta").read_text().replace('"title"', '"titel"'))
    write_case(cases, "e-dup.yaml", case_id="alpha")   # the later file with an id already used
    out = d / "out"
    out.mkdir()
    args = [a for fmt in FORMATS for a in ("-o", f"{fmt}:{out / ('report.' + fmt)}")]
    res = assess(rules, cases, *args)
    return {"res": res, "out": out, "cases": cases, "rules": rules,
            "bad": [str(cases / n) for n in ("c-bad-yaml.yaml", "d-schema.yaml", "e-dup.yaml")]}


def read(broken: dict[str, Any], fmt: str) -> str:
    return (broken["out"] / f"report.{fmt}").read_text(encoding="utf-8")


def test_every_good_case_is_assessed_and_the_run_exits_2(broken):
    res = broken["res"]
    assert res.exit_code == 2
    assert [line.split(":")[0] for line in res.stdout.splitlines() if line.startswith("== ")] == ["== alpha", "== beta"]
    *errors, reason = res.stderr.splitlines()
    assert reason == "policycheck: 3 files not assessed: " + ", ".join(broken["bad"])
    assert all(line.startswith("error: ") for line in errors)
    files = [line.removeprefix("error: ").split(":")[0] for line in errors]
    assert sorted(set(files)) == broken["bad"]  # every bad file, each with a located line
    for line in errors:
        _, lineno, col, *_ = line.removeprefix("error: ").split(":")
        assert lineno.isdigit() and col.isdigit(), line
    dup = next(line for line in errors if "e-dup.yaml" in line)
    assert "duplicate case id 'alpha'" in dup and "a-good.yaml" in dup


def test_the_table_lists_the_bad_files_before_the_summary(broken):
    out = broken["res"].stdout
    assert "Files not assessed (3):" in out
    assert out.rstrip().splitlines()[-1].endswith("3 files not assessed")


def test_json_has_an_errors_list(broken):
    data = json.loads(read(broken, "json"))
    assert [c["case"] for c in data["cases"]] == ["alpha", "beta"]
    assert [e["file"] for e in data["errors"]] == broken["bad"]
    for e in data["errors"]:
        assert e["problems"] and all(p["line"] for p in e["problems"])
        assert all(p["text"].startswith(e["file"] + ":") for p in e["problems"])


def test_jsonl_has_error_lines_then_cases_then_the_summary(broken):
    lines = [json.loads(line) for line in read(broken, "jsonl").splitlines()]
    assert [d["type"] for d in lines] == ["error"] * 3 + ["case"] * 2 + ["summary"]
    assert lines[-1]["errors"] == 3 and lines[-1]["cases"] == 2


def test_sarif_has_an_error_notification_per_problem_with_its_location(broken):
    body = json.loads(read(broken, "sarif"))
    (inv,) = body["runs"][0]["invocations"]
    assert inv["executionSuccessful"] is False
    notes = inv["toolExecutionNotifications"]
    assert notes and all(n["level"] == "error" for n in notes)
    located = {n["properties"]["file"] for n in notes}
    assert located == set(broken["bad"])
    for n in notes:
        region = n["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
    from test_formats import SCHEMA_FILE  # the official schema
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert not list(jsonschema.Draft4Validator(schema).iter_errors(body))


def test_junit_has_an_errored_testcase_per_bad_file(broken):
    root = ET.fromstring(read(broken, "junit"))
    assert root.get("errors") == "3"
    errored = [tc for tc in root.iter("testcase") if tc.find("error") is not None]
    assert sorted(tc.get("file") for tc in errored) == broken["bad"]
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in root.iter("testsuite"))


def test_markdown_and_html_have_a_files_not_assessed_section(broken):
    md = read(broken, "markdown")
    assert "### Files not assessed (3)" in md
    page = read(broken, "html")
    assert "<h2>Files not assessed (3)</h2>" in page
    for f in broken["bad"]:
        assert f in md and f in page


def test_github_annotates_each_problem_at_its_line(broken):
    lines = read(broken, "github").splitlines()
    errors = [line for line in lines if "title=policycheck%3A file not assessed" in line]
    assert {line.split("file=")[1].split(",")[0] for line in errors} == set(broken["bad"])
    assert all(",line=" in line and ",col=" in line for line in errors)


def test_fail_fast_stops_at_the_first_bad_file_and_writes_nothing(broken, tmp_path):
    out = tmp_path / "r.sarif"
    res = assess(broken["rules"], broken["cases"], "-o", f"sarif:{out}", "--fail-fast")
    assert res.exit_code == 2 and res.stdout == ""
    *errors, reason = res.stderr.splitlines()
    assert reason == f"policycheck: stopped at the first file not assessed (--fail-fast): {broken['bad'][0]}"
    assert errors and all(broken["bad"][0] in line for line in errors)
    assert list(tmp_path.iterdir()) == []


def test_a_file_named_twice_is_assessed_once(broken):
    good = broken["cases"] / "a-good.yaml"
    res = assess(broken["rules"], good, good, "--format", "json")
    assert res.exit_code == 0 and [c["case"] for c in json.loads(res.stdout)["cases"]] == ["alpha"]


def test_stdin_is_one_case(broken):
    text = (broken["cases"] / "a-good.yaml").read_text()
    from click.testing import CliRunner
    from policycheck.cli import main

    res = CliRunner().invoke(main, ["assess", "--no-config", "--no-bundled", "--rules", str(broken["rules"]), "-",
                                    "--format", "json"], input=text)
    assert res.exit_code == 0, res.stderr
    (case,) = json.loads(res.stdout)["cases"]
    assert case["case"] == "alpha" and case["file"] == "<stdin>"
    bad = CliRunner().invoke(main, ["assess", "--no-config", "--no-bundled", "--rules", str(broken["rules"]), "-"],
                             input="id: [\n")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: <stdin>:")
    assert bad.stderr.splitlines()[-1] == "policycheck: 1 file not assessed: <stdin>"


def test_write_baseline_keeps_the_good_cases(broken, tmp_path):
    base = tmp_path / "baseline.json"
    res = assess(broken["rules"], broken["cases"], "--write-baseline", base)
    assert res.exit_code == 2
    assert {e["case"] for e in json.loads(base.read_text())["flags"]} == {"alpha", "beta"}


def test_an_unreadable_rule_pack_still_stops_everything(broken, tmp_path):
    out = tmp_path / "r.json"
    res = assess(tmp_path / "no-rules", broken["cases"], "-o", f"json:{out}")
    assert res.exit_code == 2 and res.stdout == "" and not out.exists()
    assert res.stderr.splitlines()[-1].startswith("policycheck: nothing assessed: 1 problem in ")


