"""Output formats: every format for every bundled case, each checked by an independent parser
(SARIF against the official schema, JUnit by expat plus structural checks, HTML by a strict
tag-balancing parser, Markdown table shape); escaping of hostile text; determinism; and the
CI documentation's workflow, commands and Python API actually running."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from review_support import assess as assess_cli
from review_support import case_text, run, write_case, write_rules

from policycheck.evaluate import assess
from policycheck.model.assessment import Assessment
from policycheck.load.cases import iter_case_files, load_case
from policycheck.cli import ASSESS_FORMATS, main
from policycheck.render import html, junit, markdown, sarif
from policycheck.render.table import render_assessment
from policycheck.model.rule import CONDITIONS
from policycheck.load.rules import RulePack, load_rules

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
BUNDLED_CASES = sorted(str(p.relative_to(ROOT)) for p in iter_case_files([ROOT / "cases"]))
LEVELS = {"high": "error", "medium": "warning", "low": "note", "info": "note"}


# --------------------------------------------------------------------------- validators


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft4Validator  # the schema declares draft-04
    cls.check_schema(schema)
    return cls(schema)


def check_sarif(text: str, result: Assessment, pack: RulePack | None, validator: Any, root: Path = ROOT) -> dict:
    body = json.loads(text)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    assert body["version"] == "2.1.0"
    (run_,) = body["runs"]
    rules = run_["tool"]["driver"]["rules"]
    if pack is not None:
        assert [r["id"] for r in rules] == [r.id for r in pack.rules]
    for rd in rules:
        props = rd["properties"]
        assert rd["defaultConfiguration"]["level"] == LEVELS[props["severity"]]
        assert float(props["security-severity"]) > 0
        assert set(props["conditions"]) <= set(CONDITIONS) and props["conditions"]
        assert rd["shortDescription"]["text"] and rd["fullDescription"]["text"] and rd["help"]["text"]
        if "helpUri" in rd:
            assert re.match(r"^https?://", rd["helpUri"])
    flags = [(c, f) for c in result.cases for f in c.flags]
    history = [(c, f) for c in result.cases for f in c.history]
    failing = [r for r in run_["results"] if r["kind"] == "fail"]
    informational = [r for r in run_["results"] if r["kind"] != "fail"]
    assert len(failing) == len(flags) and len(informational) == len(history)
    for res, (case, flag) in zip(informational, history):  # history: shown, never a failure
        assert res["kind"] == "informational" and res["level"] == "none" and res["properties"]["history"] is True
        assert res["partialFingerprints"]["policycheck/v1"] == flag.fingerprint
    for res, (case, flag) in zip(failing + informational, flags + history):
        if flag.operative is not None and flag.operative.line:  # the operative term's line
            assert res["locations"][0]["physicalLocation"]["region"]["startLine"] == flag.operative.line
    for res, (case, flag) in zip(failing, flags):
        assert res["ruleId"] == flag.rule
        assert rules[res["ruleIndex"]]["id"] == flag.rule
        assert res["level"] == LEVELS[flag.severity]
        assert res["partialFingerprints"]["policycheck/v1"] == flag.fingerprint
        loc = res["locations"][0]["physicalLocation"]
        uri = loc["artifactLocation"]["uri"]
        if loc["artifactLocation"].get("uriBaseId") == "%SRCROOT%":
            assert not uri.startswith(("/", "..")) and (root / uri).is_file(), uri
            lines = (root / uri).read_text(encoding="utf-8").splitlines()
            line = loc["region"]["startLine"]
            # The line is one of the evidence fields' own lines (a field the rule tested).
            keys = {re.sub(r"\[\d+\]$", "", f.path).rsplit(".", 1)[-1]
                    for e in flag.evidence for f in e.fields if f.line == line}
            assert keys and any(k in lines[line - 1] for k in keys), (uri, line, keys)
        assert ("suppressions" in res) == flag.waived
    return body


def check_junit(text: str, result: Assessment) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))  # expat: well-formed or raises
    assert root.tag == "testsuites"
    suites = list(root)
    assert [s.tag for s in suites] == ["testsuite"] * len(result.cases)
    totals = {"tests": 0, "failures": 0, "skipped": 0, "errors": 0}
    for suite, case in zip(suites, result.cases):
        assert suite.get("name") == case.file and suite.get("id") == case.case
        cases = suite.findall("testcase")
        assert [c.tag for c in suite if c.tag not in ("properties", "system-out")] == ["testcase"] * len(cases)
        assert [c.get("name") for c in cases] == [r.rule for r in case.rules]
        counted = {"tests": len(cases), "errors": 0,
                   "failures": sum(1 for c in cases if c.find("failure") is not None),
                   "skipped": sum(1 for c in cases if c.find("skipped") is not None)}
        for key, value in counted.items():
            assert int(suite.get(key)) == value, key
            totals[key] += value
        flagged = {f.rule for f in case.flags}
        for tc, outcome in zip(cases, case.rules):
            assert tc.get("classname") and tc.get("file") == case.file and float(tc.get("time")) == 0
            children = [c.tag for c in tc if c.tag != "system-out"]
            assert len(children) <= 1
            earlier = [f for f in case.history if f.rule == outcome.rule]  # history: listed, never counted
            out = tc.find("system-out")
            assert (out is not None) == bool(earlier)
            assert all(f.fingerprint in out.text for f in earlier)
            rule_flags = [f for f in case.flags if f.rule == outcome.rule]
            if any(f.counts for f in rule_flags):
                assert children == ["failure"]
                failure = tc.find("failure")
                assert failure.get("type") in LEVELS and failure.get("message")
                assert all(f.fingerprint in failure.text for f in rule_flags)
            elif outcome.rule in flagged:
                assert children == ["skipped"]
            elif outcome.status == "not assessed":
                assert children == ["skipped"] and tc.find("skipped").get("message").startswith("not assessed")
            elif outcome.status == "not applicable":
                assert children == ["skipped"] and tc.find("skipped").get("message").startswith("not applicable")
            else:
                assert outcome.status == "clear" and children == []
    for key, value in totals.items():
        assert int(root.get(key)) == value
    return root


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Any] = field(default_factory=list)

    def iter(self, tag: str | None = None) -> Iterator[Node]:
        if tag is None or self.tag == tag:
            yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter(tag)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class StrictHTML(HTMLParser):
    """Builds a tree and fails on anything unbalanced, scripted or fetched from elsewhere."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.doctype = None

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        assert tag not in ("script", "iframe", "object", "embed", "img", "base"), tag
        assert not any(k.startswith("on") for k in a), a
        assert "src" not in a and "srcset" not in a
        if tag == "link":
            raise AssertionError("no external stylesheets or links")
        if "href" in a:
            assert a["href"].startswith(("#", "https://", "http://")), a["href"]
        node = Node(tag, a)
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in VOID, f"self-closing <{tag}/>"
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        assert tag not in VOID, f"</{tag}>"
        top = self.stack.pop()
        assert top.tag == tag, f"</{tag}> closes <{top.tag}>"

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def check_html(text: str, result: Assessment) -> Node:
    parser = StrictHTML()
    parser.feed(text)
    parser.close()
    assert parser.stack == [parser.root], [n.tag for n in parser.stack]
    assert parser.doctype == "DOCTYPE html"
    doc = parser.root
    (style,) = list(doc.iter("style"))
    css = style.text()
    assert "url(" not in css and "@import" not in css and "@media print" in css
    (matrix,) = [t for t in doc.iter("table") if "matrix" in t.classes()]
    head = [th.text() for th in next(matrix.iter("thead")).iter("th")]
    assert [h[: len(k)] for h, k in zip(head[1:], CONDITIONS)] == list(CONDITIONS)
    rows = list(next(matrix.iter("tbody")).iter("tr"))
    assert len(rows) == len(result.cases)
    for row, case in zip(rows, result.cases):
        (th,) = list(row.iter("th"))
        assert th.text() == case.case
        cells = list(row.iter("td"))[: len(CONDITIONS)]
        for td, cond in zip(cells, case.conditions):
            assert f"s-{cond.status.replace(' ', '-')}" in td.classes()
            assert td.text().startswith(cond.status)  # readable without colour
    sections = {n.attrs.get("id"): n for n in doc.iter("section")}
    for case in result.cases:
        sec = sections[f"case-{re.sub(r'[^a-z0-9_-]', '-', case.case.lower())}"]
        articles = [a for a in sec.iter("article") if "flag" in a.classes() and "history" not in a.classes()]
        assert len(articles) == len(case.flags)
        past = [a for a in sec.iter("article") if {"flag", "history"} <= a.classes()]
        assert [f.fingerprint in a.text() for a, f in zip(past, case.history)] == [True] * len(case.history)
        for art, flag in zip(articles, case.flags):
            assert f"sev-{flag.severity}" in art.classes()
            assert flag.message in art.text() and flag.citation.section in art.text()
            fields = [f for e in flag.evidence for f in e.fields]
            assert len(list(next(art.iter("tbody")).iter("tr"))) == max(len(fields), len(flag.evidence))
    return doc


def check_markdown(text: str, result: Assessment) -> None:
    lines = text.splitlines()
    start = lines.index("| Case | " + " | ".join(CONDITIONS) + " | Flags |")
    table = lines[start: start + 2 + len(result.cases)]
    assert table[1] == "|" + "---|" * (len(CONDITIONS) + 2)
    for row, case in zip(table[2:], result.cases):
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert len(cells) == len(CONDITIONS) + 2, row
        assert f"[{markdown.text(case.case)}]" in cells[0]
        for cell, cond in zip(cells[1:], case.conditions):
            assert cond.status in cell
        assert cells[-1].strip().startswith(str(len(case.flags)))
    for case in result.cases:
        for flag in case.flags:
            file, line = flag.location()
            assert f"`{file}:{line}`" in text
            assert f"`{flag.rule}`" in text and flag.fingerprint in text
            if flag.citation.url:
                assert f"]({flag.citation.url})" in text


# --------------------------------------------------------------------------- every bundled case


@pytest.fixture(scope="module")
def bundled() -> RulePack:
    return load_rules()


def test_there_are_bundled_cases():
    assert len(BUNDLED_CASES) >= 10


@pytest.mark.parametrize("case_file", BUNDLED_CASES)
def test_every_format_for_every_bundled_case(case_file, bundled, sarif_validator, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = assess([load_case(case_file)], bundled)
    check_sarif(sarif.render(result, bundled), result, bundled, sarif_validator)
    check_junit(junit.render(result), result)
    check_html(html.render(result), result)
    check_markdown(markdown.render(result), result)
    # The case id as written in the file (plain PyYAML), not as the assessment carries it.
    case_id = yaml.safe_load((ROOT / case_file).read_text(encoding="utf-8"))["id"]
    assert json.loads(result.to_json())["cases"][0]["case"] == case_id
    assert render_assessment(result).startswith(f"== {case_id}: ")


@pytest.mark.parametrize("fmt", ASSESS_FORMATS)
def test_cli_all_bundled_cases_each_format_deterministic(fmt, bundled, sarif_validator, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    out = tmp_path / f"report.{fmt}"
    # Markdown without its size limit here (the whole library is over 65,000 characters);
    # tests/test_ci_outputs.py checks the limit.
    unlimited = ["--markdown-limit", "0"] if fmt == "markdown" else []
    first = run(["assess", "--no-config", "cases/", "--format", fmt, "-o", out, *unlimited])
    assert first.exit_code == 0, first.stderr
    second = run(["assess", "--no-config", "cases/", "--format", fmt, *unlimited])
    assert out.read_text(encoding="utf-8") == second.stdout  # -o writes exactly what stdout shows
    result = Assessment.model_validate_json(run(["assess", "--no-config", "cases/", "--format", "json"]).stdout)
    assert len(result.cases) == len(BUNDLED_CASES)
    on_disk = sorted(yaml.safe_load((ROOT / c).read_text(encoding="utf-8"))["id"] for c in BUNDLED_CASES)
    assert [c.case for c in result.cases] == on_disk

    def check_json(text: str) -> None:
        assert [c.case for c in Assessment.model_validate_json(text).cases] == on_disk

    def check_table(text: str) -> None:  # one "== <id>: <title>" heading per case, in order
        assert text.endswith("\n")
        assert [line.split(":")[0].removeprefix("== ") for line in text.splitlines() if line.startswith("== ")] == on_disk

    def check_jsonl(text: str) -> None:  # one object per line: the cases in order, then the summary
        lines = [json.loads(line) for line in text.splitlines()]
        assert [d["case"] for d in lines[:-1]] == on_disk and {d["type"] for d in lines[:-1]} == {"case"}
        assert lines[-1]["type"] == "summary" and lines[-1]["summary"] == result.summary

    def check_github(text: str) -> None:  # one annotation per flag that counts, at its file:line
        counted = [f for c in result.cases for f in c.flags if f.counts]
        assert len(text.splitlines()) == len(counted)
        for line, flag in zip(text.splitlines(), counted):
            file, where = flag.location()
            assert line.startswith(f"::{ {'high': 'error', 'medium': 'warning'}.get(flag.severity, 'notice')} "
                                   f"file={file},line={where},"), line

    checks = {"sarif": lambda t: check_sarif(t, result, bundled, sarif_validator), "junit": lambda t: check_junit(t, result),
              "html": lambda t: check_html(t, result), "markdown": lambda t: check_markdown(t, result),
              "json": check_json, "table": check_table, "jsonl": check_jsonl, "github": check_github}
    checks[fmt](second.stdout)


def test_json_without_review_has_no_review_keys(bundled, monkeypatch):
    """Goldens written before waivers/baselines existed must stay byte-identical."""
    monkeypatch.chdir(ROOT)
    result = assess([load_case(c) for c in BUNDLED_CASES], bundled)
    text = result.to_json()
    assert '"waiver"' not in text and '"baseline"' not in text and '"review"' not in text
    assert Assessment.model_validate_json(text).to_json() == text  # round trip


# --------------------------------------------------------------------------- hostile text


HOSTILE = '<script>alert(1)</script> | **bold** [x](javascript:alert(1)) & "q" `tick`'


def test_hostile_case_text_is_escaped_everywhere(tmp_path, sarif_validator):
    rules = write_rules(tmp_path)
    path = tmp_path / "evil.yaml"
    text = case_text("evil", [{"version": HOSTILE, "date": "2023-01-01",
                               "terms": {"research_only": True, "weights_access": "gated"}}], title=HOSTILE)
    path.write_text(text + "\n", encoding="utf-8")
    pack = load_rules([rules], bundled=False)
    result = assess([load_case(path)], pack)
    assert any(HOSTILE in f.message for f in result.flags())
    page = html.render(result)
    doc = check_html(page, result)  # raises on any <script> element or on* attribute
    assert HOSTILE in doc.text()  # shown as text, exactly
    md = markdown.render(result)
    check_markdown(md, result)
    assert "<script" not in md
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(javascript:", md)  # no live javascript: link
    check_junit(junit.render(result), result)
    check_sarif(sarif.render(result, pack, root=tmp_path), result, pack, sarif_validator, root=tmp_path)


def test_control_characters_do_not_break_junit(tmp_path):
    rules = write_rules(tmp_path)
    path = tmp_path / "ctl.yaml"
    path.write_text(case_text("ctl", [{"version": "v\u0001\u0008", "date": "2023-01-01",
                                       "terms": {"research_only": True}}]), encoding="utf-8")
    result = assess([load_case(path)], load_rules([rules], bundled=False))
    check_junit(junit.render(result), result)


# --------------------------------------------------------------------------- SARIF details


def test_sarif_paths_relative_to_root_or_file_uris(tmp_path):
    base = tmp_path / "repo"
    base.mkdir()
    assert sarif.artifact("cases/a b.yaml", base) == {"uri": "cases/a%20b.yaml", "uriBaseId": "%SRCROOT%"}
    assert sarif.artifact("./cases/../cases/x.yaml", base) == {"uri": "cases/x.yaml", "uriBaseId": "%SRCROOT%"}
    assert sarif.artifact(str(base / "cases" / "x.yaml"), base) == {"uri": "cases/x.yaml", "uriBaseId": "%SRCROOT%"}
    outside = sarif.artifact(str(tmp_path / "other.yaml"), base)
    assert outside == {"uri": (tmp_path / "other.yaml").as_uri()}
    assert sarif.artifact("../other.yaml", base)["uri"].startswith("file:///")


def test_sarif_rule_metadata_and_severity(tmp_path, sarif_validator):
    rules = write_rules(tmp_path)
    case = write_case(tmp_path, versions=[{"version": "1", "date": "2023-01-01",
                                           "terms": {"output_training_ban": {"scope": "competing_models"}}}])
    res = assess_cli(rules, case, "--format", "sarif")
    pack = load_rules([rules], bundled=False)
    result = assess([load_case(case)], pack)
    body = json.loads(res.stdout)
    check_sarif(res.stdout, result, pack, sarif_validator, root=Path.cwd())
    rd = {r["id"]: r for r in body["runs"][0]["tool"]["driver"]["rules"]}
    ban = rd["ban-outputs"]
    assert ban["name"] == "BanOutputs" and ban["helpUri"] == "https://example.org/report"
    assert ban["properties"]["security-severity"] == "8.0" and ban["defaultConfiguration"]["level"] == "error"
    assert "Drop the ban." in ban["help"]["text"] and "Test report §1" in ban["help"]["text"]
    assert rd["gated"]["properties"]["security-severity"] == "3.0"
    (result_,) = body["runs"][0]["results"]
    # Mitigated to medium: the result's level follows the flag, the rule's default the base severity.
    assert result_["level"] == "warning" and result_["properties"]["baseSeverity"] == "high"


# --------------------------------------------------------------------------- docs and hooks


def _blocks(lang: str) -> list[str]:
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _policycheck_commands(workflow: dict) -> list[str]:
    """The policycheck commands of a workflow's ``run:`` steps (a folded ``>-`` block is one line)."""
    cmds = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                if line.strip().startswith("policycheck "):
                    cmds.append(line.strip())
    return cmds


def test_ci_workflow_is_valid_and_its_commands_run(tmp_path, sarif_validator, bundled, monkeypatch):
    """The documented job: one assess run writes the annotations, SARIF and the summary
    (tests/test_ci_workflow.py runs the whole job on good and broken case folders)."""
    workflow = yaml.safe_load(_blocks("yaml")[0])
    job = workflow["jobs"]["assess"]
    assert job["permissions"]["security-events"] == "write"
    uses = [s.get("uses", "") for s in job["steps"]]
    assert "actions/checkout@v4" in uses and any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    sarif_file = upload["with"]["sarif_file"]
    assert "always()" in upload["if"]
    monkeypatch.chdir(ROOT)
    commands = _policycheck_commands(workflow)
    (assess_cmd,) = [c for c in commands if c.startswith("policycheck assess")]
    argv = shlex.split(assess_cmd)[1:]
    assert f"sarif:{sarif_file}" in argv and "--format" in argv and argv[argv.index("--format") + 1] == "github"
    for i, a in enumerate(argv):
        if a == "-o":
            fmt, name = argv[i + 1].split(":", 1)
            argv[i + 1] = f"{fmt}:{tmp_path / name}"
    res = run(argv[:1] + ["--no-config"] + argv[1:])
    assert res.exit_code in (0, 1), (assess_cmd, res.stderr)  # 1 only from --fail-on
    assert all(line.startswith("::") for line in res.stdout.splitlines())
    produced = tmp_path / sarif_file
    result = Assessment.model_validate_json(run(["assess", "--no-config", "cases/", "--format", "json"]).stdout)
    check_sarif(produced.read_text(encoding="utf-8"), result, bundled, sarif_validator)


def test_ci_diff_job_parses():
    block = next(b for b in _blocks("yaml") if b.lstrip().startswith("licence-diff:"))
    job = yaml.safe_load(block)["licence-diff"]
    assert job["steps"][0]["with"]["fetch-depth"] == 0
    script = job["steps"][-1]["run"]
    assert "policycheck diff" in script and "exit $status" in script


def test_ci_config_examples_are_valid(tmp_path):
    from policycheck.io.config import load_config

    yaml_example = next(b for b in _blocks("yaml") if b.startswith("# .policycheck.yaml"))
    (tmp_path / ".policycheck.yaml").write_text(yaml_example)
    assert load_config(tmp_path / ".policycheck.yaml").settings.fail_on == "medium"
    (toml_example,) = _blocks("toml")
    (tmp_path / "pyproject.toml").write_text(toml_example)
    assert load_config(tmp_path / "pyproject.toml").settings.waivers == "policy/waivers.yaml"
    waiver_example = next(b for b in _blocks("yaml") if b.startswith("schema_version: 1\nwaivers:"))
    (tmp_path / "w.yaml").write_text(waiver_example)
    from policycheck.review.waivers import load_waivers

    (w,) = load_waivers(tmp_path / "w.yaml", ["output-training-ban"])
    assert w.entry.expires.isoformat() == "2024-12-31"


def test_ci_python_api_examples_run(tmp_path, monkeypatch, capsys):
    first, second = _blocks("python")
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {}
    exec(compile(first, "docs/ci.md", "exec"), namespace)  # noqa: S102 - our own documentation
    out = capsys.readouterr().out
    assert "llama-2:" in out and "output-training-ban" in out and "llama-2.yaml:" in out
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "waivers.yaml").write_text(
        "waivers:\n  - {rule: output-training-ban, case: llama-2, reason: ok, approver: me, expires: 2999-01-01}\n")
    exec(compile(second, "docs/ci.md", "exec"), namespace)  # noqa: S102
    assert all(f.rule != "output-training-ban" for f in namespace["blocking"])
    # Not vacuously: everything else at medium or above still blocks (counted from the flags here).
    medium_up = {f.fingerprint for f in namespace["result"].flags()
                 if f.severity in ("medium", "high") and f.rule != "output-training-ban"}
    assert medium_up and {f.fingerprint for f in namespace["blocking"]} == medium_up
    assert "**waived**" in namespace["comment"]


def test_pre_commit_hooks():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    by_id = {h["id"]: h for h in hooks}
    assert set(by_id) == {"policycheck-validate", "policycheck-assess"}
    for hook in hooks:
        assert {"id", "name", "entry", "language", "files"} <= set(hook)
        assert hook["language"] == "python"
        argv = shlex.split(hook["entry"]) + list(hook.get("args", []))
        assert argv[0] == "policycheck" and argv[1] in main.commands
        files = re.compile(hook["files"])
        assert files.search("cases/licences/llama-2.yaml") and files.search("legal/cases/x.yml")
        assert not files.search("rules/licence-terms/gated-weights.yaml")


def test_pre_commit_hooks_run_on_a_case(monkeypatch):
    """pre-commit appends the changed file names to entry + args; run the hooks that way."""
    monkeypatch.chdir(ROOT)
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    validate = hooks["policycheck-validate"]
    argv = shlex.split(validate["entry"])[1:] + ["cases/licences/llama-2.yaml"]
    assert run(argv).exit_code == 0
    assess_hook = hooks["policycheck-assess"]
    argv = shlex.split(assess_hook["entry"])[1:] + ["--no-config"] + assess_hook["args"] + ["cases/licences/llama-2.yaml"]
    res = run(argv)
    assert res.exit_code == 1  # llama-2 has medium-or-higher flags
    # quiet: one line per failing flag, then the summary; the reason line on stderr
    *flags, summary = res.stdout.splitlines()
    assert flags and all(line.startswith("cases/licences/llama-2.yaml:") for line in flags)
    assert summary.startswith("Summary: 1 case, ")
    assert res.stderr.splitlines()[-1].startswith(f"policycheck: {len(flags)} flag")
