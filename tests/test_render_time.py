"""Time, status and evidence in every output format (issue 9): the as-of date, history flags,
events after the as-of date, per-item status, ``not applicable``, the operative term's line,
quoted clauses, pending mitigations, and ``assess --explain`` / ``--as-of``.

The assessments here are built by hand, so these tests pin the renderers and the CLI wiring
without depending on how the evaluator computes the fields.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from review_support import run, write_rules

from policycheck.model.assessment import (
    AppliedMitigation, Assessment, CaseAssessment, CitationOut, ConditionResult, Evidence, EvidenceField, Flag,
    ItemCondition, ItemStatus, LaterEvent, MissingFact, PackInfo, PendingMitigation, Quote, RuleResult, Where, Window,
)
from policycheck.render import explain, html, junit, markdown, sarif
from policycheck.render.table import render_assessment

FILE = "cases/acme.yaml"
HOSTILE = '<b>x</b> | *y* [z](javascript:alert(1)) & "q"'
LONG_QUOTE = ("You will not use the Llama Materials or any output or results of the Llama Materials to improve any "
              "other large language model (excluding Llama 2 or derivative works thereof).")


def _field(name: str, value: Any, line: int | None, status: str = "known") -> EvidenceField:
    return EvidenceField(field=name, value=value, status=status, path=f"licences[0].versions[1].terms.{name}",  # type: ignore[arg-type]
                         line=line)


def _evidence(ident: str, fields: list[EvidenceField], line: int = 55, path: str = "licences[0].versions[1]",
              alias: str = "v") -> Evidence:
    return Evidence(alias=alias, fact="licence_version", id=ident, file=FILE, line=line, path=path, fields=fields,
                    sources=["licence-text"])


def _quote(text: str, *, ref: str = "§1.b.v", url: str | None = "https://example.org/llama-2?a=1&b=2",
           kind: str = "primary", basis: str | None = None, title: str = "Llama 2 Community License",
           line: int = 64) -> Quote:
    return Quote(fact="licence_version", id="acme@2", ref=ref, text=text, supports=["output_training_ban"],
                 source="licence-text", title=title, url=url, date="2023-07-18", kind=kind, basis=basis, file=FILE,
                 line=line)


def _flag(rule: str, *, severity: str = "high", base: str | None = None, operative_line: int | None = 61,
          fingerprint: str = "0123456789abcdef", window: Window | None = None, **extra: Any) -> Flag:
    fields = [_field("kind", "model_licence", 50), _field("output_training_ban", True, 61),
              _field("output_ban_scope", "other_models", 62)]
    operative = None if operative_line is None else Where(
        alias="v", fact="licence_version", id="acme@2", field="output_training_ban", file=FILE, line=operative_line,
        path="licences[0].versions[1].terms.output_training_ban")
    return Flag(rule=rule, title=f"Title of {rule}", family="licence-terms", severity=severity,  # type: ignore[arg-type]
                base_severity=base or severity, conditions=["C1", "C3"], message=f"Message of {rule}.",  # type: ignore[arg-type]
                citation=CitationOut(source="CMA FM Initial Report", section="§3.7.6",
                                     url="https://example.org/report"),
                rationale="Why.", mitigation="Drop it.", mitigated=bool(extra.get("mitigations")),
                mitigations=extra.pop("mitigations", []),
                evidence=[_evidence("acme@2", fields)], operative=operative, window=window or Window(since="2023-07-18"),
                fingerprint=fingerprint, **extra)


def _missing(field: str, line: int, *, in_force: bool = True, index: int = 1) -> MissingFact:
    return MissingFact(fact="licence_version", id=f"acme@{index + 1}", field=field, status="unstated", file=FILE,
                       line=line, case_path=f"licences[0].versions[{index}].terms.{field}", in_force=in_force)


def _conditions() -> list[ConditionResult]:
    return [
        ConditionResult(condition="C1", name="Access to inputs", status="concern", flags=1, highest="high",
                        rules_applicable=2, rules_assessed=1, checked=["ban-outputs", "revocable"]),
        ConditionResult(condition="C2", name="Contestability", status="no concern found", flags=0, highest=None,
                        rules_applicable=1, rules_assessed=1, checked=["family-exception"]),
        ConditionResult(condition="C3", name="Choice of models", status="not assessed", flags=1, highest="high",
                        rules_applicable=3, rules_assessed=1, checked=["ban-outputs", "revocable", "old-terms"]),
        ConditionResult(condition="C4", name="No leveraging", status="not applicable", flags=0, highest=None,
                        rules_applicable=0, rules_assessed=0, checked=[]),
        ConditionResult(condition="OTC", name="Open-then-closed licence risk", status="watch", flags=0,
                        highest=None, rules_applicable=1, rules_assessed=1, checked=["old-terms"]),
        ConditionResult(condition="JUR", name="Merger-control indicator (outside ch. 3)", status="not applicable",
                        flags=0, highest=None, rules_applicable=0, rules_assessed=0, checked=[]),
    ]


def _items() -> list[ItemStatus]:
    def conds(*statuses: str) -> list[ItemCondition]:
        return [ItemCondition(condition=c, status=s, flags=1 if s == "concern" else 0,  # type: ignore[arg-type]
                              highest="high" if s == "concern" else None)
                for c, s in zip(["C1", "C2", "C3", "C4", "OTC", "JUR"], statuses)]

    return [
        ItemStatus(item="licence", id="acme-licence@2", title="Acme licence v2", file=FILE, line=55, in_force=True,
                   window=Window(since="2023-07-18"),
                   conditions=conds("concern", "no concern found", "not assessed", "not applicable", "watch",
                                    "not applicable")),
        ItemStatus(item="licence", id="acme-licence@1", title="Acme licence v1", file=FILE, line=40, in_force=False,
                   window=Window(since="2023-02-24", until="2023-07-18"),
                   conditions=conds("not applicable", "not applicable", "not assessed", "not applicable",
                                    "not applicable", "not applicable")),
    ]


def make_case(*, case_as_of: str = "2024-01-01") -> CaseAssessment:
    pending = PendingMitigation(id="small-stake", description="The stake is below 15%.", severity="medium",
                                missing=[_missing("stake", 77)])
    current = _flag("ban-outputs", quotes=[_quote(LONG_QUOTE), _quote(HOSTILE, ref="news", url=None, kind="secondary",
                                                                          basis="reported", title="A press report",
                                                                          line=120)],
                    pending=[pending])
    applied = AppliedMitigation(id="competing-only", description="Only competing models.", severity="medium",
                                evidence=[_evidence("acme@2", [_field("output_ban_scope", "competing_models", 62)])])
    mitigated = _flag("revocable", severity="medium", base="high", operative_line=None, fingerprint="fedcba9876543210",
                      mitigations=[applied])
    history = _flag("old-terms", severity="low", operative_line=71, fingerprint="aaaaaaaaaaaaaaaa",
                    window=Window(since="2023-02-24", until="2023-07-18"))
    later = LaterEvent(item="licence_version", id="acme@3", title="Acme licence v3 (closed)", date="2025-06-01",
                       file=FILE, line=140)
    rules = [RuleResult(rule="ban-outputs", conditions=["C1", "C3"], status="fired"),
             RuleResult(rule="revocable", conditions=["C1", "C3"], status="fired"),
             RuleResult(rule="family-exception", conditions=["C2"], status="clear"),
             RuleResult(rule="old-terms", conditions=["C3", "OTC"], status="not assessed",
                        missing=[_missing("revocation", 88), _missing("notice", 45, in_force=False, index=0)]),
             RuleResult(rule="c4-rule", conditions=["C4"], status="not applicable")]
    return CaseAssessment(case="acme", title="Acme licences", file=FILE, as_of="2025-03-05", case_as_of=case_as_of,
                          kinds=["licence"], summary="acme: 2 flags", conditions=_conditions(),
                          flags=[current, mitigated], history=[history], after_as_of=[later], items=_items(),
                          rules=rules)


def make_assessment(**kwargs: Any) -> Assessment:
    return Assessment(tool="policycheck", version="0.0.0", rule_pack=PackInfo(digest="d" * 16, rules=5),
                      summary="1 case, 2 flags", cases=[make_case(**kwargs)])


def case_file(root: Path) -> None:
    """A stand-in for cases/acme.yaml under ``root``: each line the fixture points at names the
    field it is said to hold (check_sarif reads the startLine back)."""
    lines = [f"# line {i}" for i in range(1, 151)]
    for line, text in {50: "kind: model_licence", 55: "- version: '2'", 61: "output_training_ban: true",
                       62: "scope: other_models", 71: "output_training_ban: true"}.items():
        lines[line - 1] = text
    (root / "cases").mkdir(exist_ok=True)
    (root / FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture()
def result() -> Assessment:
    return make_assessment()


def _all(result: Assessment) -> dict[str, str]:
    return {"table": render_assessment(result), "markdown": markdown.render(result), "html": html.render(result),
            "sarif": sarif.render(result), "junit": junit.render(result)}


# --------------------------------------------------------------------------- the date assessed


def test_every_format_states_the_date_and_the_case_files_own(result):
    for fmt, text in _all(result).items():
        assert "2025-03-05" in text and "2024-01-01" in text, fmt
    out = _all(result)
    assert "(as of 2025-03-05; case file says 2024-01-01)" in out["table"].splitlines()[1]
    assert "as of 2025-03-05; case file says 2024-01-01" in out["markdown"]
    assert "as of 2025-03-05; case file says 2024-01-01" in out["html"]
    props = {p.get("name"): p.get("value") for p in ET.fromstring(out["junit"]).iter("property")}
    assert props["as_of"] == "2025-03-05" and props["case_as_of"] == "2024-01-01"
    case = json.loads(out["sarif"])["runs"][0]["properties"]["cases"][0]
    assert case["as_of"] == "2025-03-05" and case["case_as_of"] == "2024-01-01"


def test_same_date_says_nothing_about_the_case_file():
    same = make_assessment(case_as_of="2025-03-05")
    for fmt, text in _all(same).items():
        if fmt in ("table", "markdown", "html"):
            assert "as of 2025-03-05" in text and "case file says" not in text, fmt


# --------------------------------------------------------------------------- history


def test_table_history_is_its_own_section_with_its_window(result):
    text = render_assessment(result)
    current, history = text.split("History (")
    assert "old-terms" not in current  # not among the flags that count
    assert "never counted" in history.splitlines()[0]
    row = [line for line in history.splitlines() if "old-terms" in line][0]
    assert row.startswith("2023-02-24") and "low" in row
    assert "2023-07-18" in history.split("After the as-of date")[0]


def test_markdown_history_section(result):
    text = markdown.render(result)
    head, history = text.split("#### History")
    assert "old-terms" not in head.split("<a id=")[1]  # not with the current flags
    assert "- 2023-02-24 to 2023-07-18: LOW `old-terms`" in history
    assert "`cases/acme.yaml:71`" in history
    row = next(line for line in text.splitlines() if line.startswith("| [acme]"))
    assert row.endswith("| 2 + 1 history |")


def test_html_history_articles_are_marked_and_apart(result):
    from test_formats import check_html

    page = html.render(result)
    doc = check_html(page, result)
    (section,) = [s for s in doc.iter("section") if "history" in s.classes()]
    (article,) = [a for a in section.iter("article")]
    assert {"flag", "history"} <= article.classes()
    assert "2023-02-24 to 2023-07-18" in article.text() and "aaaaaaaaaaaaaaaa" in article.text()
    current = [a for a in doc.iter("article") if "history" not in a.classes()]
    assert all("old-terms" not in a.text() for a in current)


def test_sarif_history_is_informational_and_at_the_operative_line(result, tmp_path):
    from test_formats import SCHEMA_FILE, check_sarif
    import jsonschema

    case_file(tmp_path)
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    text = sarif.render(result, root=tmp_path)
    body = check_sarif(text, result, None, validator, root=tmp_path)
    results = body["runs"][0]["results"]
    (hist,) = [r for r in results if r["ruleId"] == "old-terms"]
    assert hist["kind"] == "informational" and hist["level"] == "none"
    assert hist["properties"]["history"] is True and hist["properties"]["window"] == {"since": "2023-02-24",
                                                                                      "until": "2023-07-18"}
    assert "security-severity" not in hist["properties"]
    assert hist["message"]["text"].startswith("History, not counted (term 2023-02-24 to 2023-07-18)")
    assert hist["locations"][0]["physicalLocation"]["region"]["startLine"] == 71
    assert [r["kind"] for r in results].count("fail") == len(result.flags()) == 2
    (ban,) = [r for r in results if r["ruleId"] == "ban-outputs"]
    assert ban["locations"][0]["physicalLocation"]["region"]["startLine"] == 61  # the operative term
    (rev,) = [r for r in results if r["ruleId"] == "revocable"]
    assert rev["locations"][0]["physicalLocation"]["region"]["startLine"] == 50  # no operative: first known field


def test_junit_history_is_never_a_failure(result):
    from test_formats import check_junit

    root = check_junit(junit.render(result), result)
    assert root.get("failures") == "2" and root.get("tests") == "5"
    tc = next(t for t in root.iter("testcase") if t.get("name") == "old-terms")
    assert tc.find("failure") is None
    assert "History, not counted (term 2023-02-24 to 2023-07-18)" in tc.find("system-out").text
    # A rule clear on the as-of date with flags in its history still passes.
    case = result.cases[0]
    rules = [r if r.rule != "old-terms" else r.model_copy(update={"status": "clear", "missing": []})
             for r in case.rules]
    clear = result.model_copy(update={"cases": [case.model_copy(update={"rules": rules})]})
    root = check_junit(junit.render(clear), clear)
    tc = next(t for t in root.iter("testcase") if t.get("name") == "old-terms")
    assert [c.tag for c in tc] == ["system-out"] and root.get("skipped") == "1" and root.get("failures") == "2"


def test_history_does_not_count_toward_fail_on(result):
    assert {f.rule for f in result.failing("info")} == {"ban-outputs", "revocable"}


# --------------------------------------------------------------------------- after the as-of date


def test_every_format_lists_events_after_the_as_of_date(result):
    out = _all(result)
    assert "- 2025-06-01 licence_version acme@3: Acme licence v3 (closed) (cases/acme.yaml:140)" in out["table"]
    assert "After the as-of date (" in out["table"] and "not assessed" in out["table"].split("After the as-of")[1]
    assert "- 2025-06-01: licence\\_version `acme@3` Acme licence v3 (closed) (`cases/acme.yaml:140`)" \
        in out["markdown"]
    assert "<h3>After the as-of date</h3>" in out["html"] and "<code>cases/acme.yaml:140</code>" in out["html"]
    suite_out = ET.fromstring(out["junit"]).find("testsuite").find("system-out").text
    assert "2025-06-01 licence_version acme@3: Acme licence v3 (closed) at cases/acme.yaml:140" in suite_out
    later = json.loads(out["sarif"])["runs"][0]["properties"]["cases"][0]["after_as_of"]
    assert later == [result.cases[0].after_as_of[0].model_dump(mode="json")]


# --------------------------------------------------------------------------- statuses


def test_not_applicable_is_distinct_from_not_assessed(result):
    out = _all(result)
    row = next(line for line in out["markdown"].splitlines() if line.startswith("| [acme]"))
    cells = [c.strip() for c in row.split(" | ")]
    assert cells[3] == "_not assessed_ (high, 1)" and cells[4] == "not applicable"
    assert '<td class="s-not-applicable" title="No leveraging">not applicable</td>' in out["html"]
    assert ".s-not-applicable {" in out["html"] and '<span class="s-not-applicable">' in out["html"]
    table = out["table"].splitlines()
    assert any(re.match(r"C4 No leveraging\s+not applicable\s", line) for line in table)
    assert any(re.match(r"C3 Choice of models\s+not assessed\s", line) for line in table)


def test_html_items_table(result):
    from test_formats import check_html

    doc = check_html(html.render(result), result)
    (items,) = [t for t in doc.iter("table") if "items" in t.classes()]
    head = [th.text() for th in next(items.iter("thead")).iter("th")]
    assert head == ["Item", "In force", "C1", "C2", "C3", "C4", "OTC", "JUR"]
    rows = list(next(items.iter("tbody")).iter("tr"))
    assert len(rows) == 2
    cells = list(rows[0].iter("td"))
    assert cells[0].text() == "in force since 2023-07-18"
    assert [sorted(c.classes()) for c in cells[1:]] == [["s-concern"], ["s-no-concern-found"], ["s-not-assessed"],
                                                        ["s-not-applicable"], ["s-watch"], ["s-not-applicable"]]
    assert cells[1].text().startswith("concern") and "high, 1 flag" in cells[1].text()
    assert list(rows[1].iter("td"))[0].text() == "2023-02-24 to 2023-07-18 (ended)"


def test_markdown_and_table_items(result):
    md = markdown.render(result).splitlines()
    start = md.index("| Item | In force | C1 | C2 | C3 | C4 | OTC | JUR |")
    assert md[start + 2] == ("| licence `acme-licence@2` | in force since 2023-07-18 | **concern** (high, 1) | "
                             "no concern found | _not assessed_ | not applicable | watch | not applicable |")
    text = render_assessment(result)
    line = next(x for x in text.splitlines() if x.startswith("licence acme-licence@2"))
    assert line.split() == ["licence", "acme-licence@2", "since", "2023-07-18", "concern", "ok", "?", "-", "watch", "-"]
    assert "ok = no concern found, ? = not assessed, - = not applicable" in text


def test_table_fits_100_columns(result):
    for text in (render_assessment(result), render_assessment(result, explain=True)):
        too_wide = [line for line in text.splitlines() if len(line) > 100]
        assert not too_wide, too_wide


# --------------------------------------------------------------------------- evidence


def test_location_is_the_operative_term_everywhere(result):
    out = _all(result)
    assert "Message of ban-outputs. [§3.7.6; line 61]" in out["table"]
    assert "   - Where: `cases/acme.yaml:61` (`licences[0].versions[1].terms.output_training_ban`)" in out["markdown"]
    assert "<dt>Where</dt><dd><code>cases/acme.yaml:61</code>" in out["html"]
    assert '<tr class="operative" title="operative term"><td><code>output_training_ban</code>' in out["html"]
    assert "  at cases/acme.yaml:61\n" in out["junit"]


def test_table_shows_a_short_quote_with_its_source_kind(result):
    text = render_assessment(result)
    assert '"You will not use the Llama Materials or any output or results of the Llama Mate…" (§1.b.v; primary)' \
        in " ".join(text.split())
    assert "(news; secondary, reported)" in " ".join(text.split())
    assert "derivative works thereof" not in text  # cut to about 80 characters


def test_markdown_quotes_in_full_with_link_and_escaped(result):
    text = markdown.render(result)
    assert (f"   - Quote §1.b.v: “{LONG_QUOTE}” ([Llama 2 Community License](https://example.org/llama-2?a=1&b=2), "
            "2023-07-18 (primary); `cases/acme.yaml:64`)") in text
    assert "<b>" not in text and "&lt;b&gt;x&lt;/b&gt; \\| \\*y\\* \\[z\\](javascript:alert(1))" in text
    assert "(A press report, 2023-07-18 (secondary, reported);" in text
    assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(javascript:", text)


def test_html_quotes_in_full_with_link_and_escaped(result):
    from test_formats import check_html

    page = html.render(result)
    doc = check_html(page, result)  # no live markup from case text
    quotes = [n for n in doc.iter("blockquote")]
    assert [q.text() for q in quotes] == [LONG_QUOTE, HOSTILE]
    links = [a.attrs["href"] for a in doc.iter("a")]
    assert "https://example.org/llama-2?a=1&b=2" in links
    assert "(secondary, reported)" in page and "<code>§1.b.v</code>" in page


def test_sarif_and_junit_carry_full_quotes(result):
    body = json.loads(sarif.render(result))
    ban = next(r for r in body["runs"][0]["results"] if r["ruleId"] == "ban-outputs")
    messages = [loc["message"]["text"] for loc in ban["relatedLocations"]]
    assert (f"Quoted clause §1.b.v: “{LONG_QUOTE}” (Llama 2 Community License, 2023-07-18 (primary) "
            "<https://example.org/llama-2?a=1&b=2>)") in messages
    quote_lines = [loc["physicalLocation"]["region"]["startLine"] for loc in ban["relatedLocations"]][1:]
    assert quote_lines == [64, 120]
    assert ban["properties"]["quotes"][0]["url"] == "https://example.org/llama-2?a=1&b=2"
    assert ban["properties"]["quotes"][1]["basis"] == "reported"
    assert f"quote §1.b.v: “{LONG_QUOTE}”" in ET.fromstring(junit.render(result)).find(".//failure").text


def test_pending_mitigation_as_severity_text_everywhere(result):
    want = "high; medium if the stake is below 15%"
    out = _all(result)
    assert f"Severity: {want} (not known: licence_version acme@2.stake (unstated))" in " ".join(out["table"].split())
    assert f"   - Severity: {want} (not known: `licence_version acme@2.stake (unstated)`)" in out["markdown"]
    assert f"<dt>Severity</dt><dd>{want} (not known:" in out["html"]
    ban = next(r for r in json.loads(out["sarif"])["runs"][0]["results"] if r["ruleId"] == "ban-outputs")
    assert ban["properties"]["severityText"] == want and ban["message"]["text"].endswith(f"Severity: {want}.")
    assert ban["properties"]["pending"][0]["missing"] == ["licences[0].versions[1].terms.stake"]
    assert f"[{want}] Message of ban-outputs." in out["junit"]


def test_pending_that_would_not_lower_the_severity_is_not_severity_text():
    case = make_case()
    flag = case.flags[0]
    same = flag.model_copy(update={"pending": [flag.pending[0].model_copy(update={"severity": "high"})]})
    result = make_assessment().model_copy(update={"cases": [case.model_copy(update={"flags": [same]})]})
    assert "medium if" not in render_assessment(result) and "medium if" not in markdown.render(result)
    assert "small-stake (would be high)" in explain.case_text(result.cases[0])  # --explain still lists it


def test_mitigation_clause_wording():
    from policycheck.render.parts import clause

    assert clause("The stake is below 15%.") == "the stake is below 15%"
    assert clause("CMA-style remedy applies.") == "CMA-style remedy applies"
    assert clause("OpenAI keeps   rival clouds.") == "OpenAI keeps rival clouds"


# --------------------------------------------------------------------------- --explain


def test_explain_text_lists_patterns_facts_mitigations_and_paths(result):
    text = explain.case_text(result.cases[0])
    assert text.startswith("Explain acme (as of 2025-03-05; case file says 2024-01-01)")
    assert "1. ban-outputs (C1, C3): high; medium if the stake is below 15%; term in force since 2023-07-18" in text
    assert ("Operative term: v.output_training_ban = yes (known) at cases/acme.yaml:61 "
            "(licences[0].versions[1].terms.output_training_ban)") in " ".join(text.split())
    assert "Pattern v: licence_version acme@2 at cases/acme.yaml:55 (licences[0].versions[1])" in text
    assert "output_training_ban = yes (known, line 61, licences[0].versions[1].terms.output_training_ban)" in text
    assert "Mitigation pending: small-stake (would be medium): The stake is below 15%." in text
    assert "needs licences[0].versions[1].terms.stake (unstated) at cases/acme.yaml:77" in text
    assert "Mitigation applied: competing-only (high -> medium): Only competing models." in text
    assert "History (" in text and "old-terms (C1, C3): low; term 2023-02-24 to 2023-07-18" in text
    flat = " ".join(text.split())
    assert ("C3 Choice of models: not assessed (1 flag, highest high); 3 rules checked: ban-outputs fired; "
            "revocable fired; old-terms not assessed") in flat
    assert "C4 No leveraging: not applicable; no rule of this condition applies to anything in the case" in flat
    paths = text.split("Not assessed: case-file paths to fill in")[1]
    assert "licences[0].versions[1].terms.revocation (unstated) at cases/acme.yaml:88" in paths
    assert ("licences[0].versions[0].terms.notice (unstated; a term no longer in force) at cases/acme.yaml:45"
            in paths)


def test_explain_json(result):
    data = json.loads(explain.render_json(result))
    plain = json.loads(result.to_json())
    (case,) = data["cases"]
    ex = case.pop("explain")
    assert data == plain  # the explanation is added; nothing else changes
    assert [f["rule"] for f in ex["flags"]] == ["ban-outputs", "revocable"]
    assert [f["rule"] for f in ex["history"]] == ["old-terms"] and ex["history"][0]["history"] is True
    ban = ex["flags"][0]
    assert ban["operative"]["line"] == 61 and ban["operative"]["value"] is True
    assert ban["location"] == {"file": FILE, "line": 61}
    assert ban["patterns"][0]["alias"] == "v" and ban["patterns"][0]["fields"][1]["line"] == 61
    assert ban["mitigations"]["pending"][0]["missing"][0]["case_path"] == "licences[0].versions[1].terms.stake"
    assert ban["severity_text"] == "high; medium if the stake is below 15%"
    assert ex["flags"][1]["mitigations"]["applied"][0]["id"] == "competing-only"
    c3 = next(c for c in ex["conditions"] if c["condition"] == "C3")
    assert c3["rules"] == [{"rule": "ban-outputs", "status": "fired"}, {"rule": "revocable", "status": "fired"},
                           {"rule": "old-terms", "status": "not assessed"}]
    (gap,) = ex["not_assessed"]
    assert [(m["case_path"], m["line"], m["in_force"]) for m in gap["fill_in"]] == [
        ("licences[0].versions[1].terms.revocation", 88, True), ("licences[0].versions[0].terms.notice", 45, False)]
    assert explain.render_json(result) == explain.render_json(result)  # stable


# --------------------------------------------------------------------------- CLI: --as-of and --explain


CASE_V2 = {"schema_version": 2, "id": "acme", "title": "Acme licence", "kind": ["licence"], "as_of": "2024-01-31",
           "summary": "A test case.",
           "sources": [{"id": "src", "title": "The licence", "date": "2023-01-01", "kind": "primary"}],
           "parties": [{"id": "acme", "name": "Acme AI", "roles": ["fm_developer"]}],
           "licences": [{"id": "acme-licence", "name": "Acme model licence", "kind": "model_licence",
                         "licensor": "acme",
                         "versions": [{"version": "1.0", "date": "2023-01-01", "terms": {"research_only": True}}]}]}


@pytest.fixture()
def cli(tmp_path, monkeypatch):
    """Run ``assess`` on a small case with the evaluator replaced by one that records the
    as-of date it was given and returns the hand-built assessment."""
    import policycheck.evaluate

    seen: list[str | None] = []

    def fake_assess_each(cases: Any, pack: Any, as_of: str | None = None) -> Any:
        # The CLI assesses case by case (evaluate.assess_each): one call per case file.
        seen.append(as_of)
        return iter(make_assessment().cases)

    monkeypatch.setattr(policycheck.evaluate, "assess_each", fake_assess_each)
    rules = write_rules(tmp_path)
    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASE_V2, indent=2) + "\n", encoding="utf-8")

    def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
        res = run(["assess", "--no-config", "--no-bundled", "--rules", rules, case, *args], env=env)
        res.seen = list(seen)
        seen.clear()
        return res

    return invoke


@pytest.mark.parametrize("value", ["2024-13-01", "2023-02-30", "２０２４-01-01", "2024/01/01", "24-01-01", "",
                                   "Today", "2024-1-1"])
def test_as_of_rejects_a_bad_date_in_one_line(cli, value):
    res = cli("--as-of", value)
    assert res.exit_code == 2 and res.seen == []
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --as-of {value!r}: "), lines
    assert res.stdout == ""


@pytest.mark.parametrize("value", ["2023-06-30", "2023-06", "2023"])
def test_as_of_passes_the_date_to_the_library(cli, value):
    res = cli("--as-of", value)
    assert res.exit_code == 0, res.stderr
    assert res.seen == [value]


def test_as_of_defaults_to_each_cases_own_date(cli):
    assert cli().seen == [None]


def test_as_of_today_uses_the_injected_clock(cli):
    res = cli("--as-of", "today", env={"POLICYCHECK_TODAY": "2023-06-01"})
    assert res.exit_code == 0, res.stderr
    assert res.seen == ["2023-06-01"]
    assert cli("--as-of", "today", "--today", "2022-12-31").seen == ["2022-12-31"]


@pytest.mark.parametrize("fmt", ["markdown", "sarif", "junit", "html"])
def test_explain_refuses_other_formats(cli, fmt):
    res = cli("--explain", "--format", fmt)
    assert res.exit_code == 2 and res.stdout == "" and res.seen == []
    assert res.stderr == f"error: --explain works with --format table, json or jsonl, not {fmt}\n"


def test_explain_table_and_json(cli):
    table = cli("--explain")
    assert table.exit_code == 0, table.stderr
    assert "\nExplain acme (as of 2025-03-05; case file says 2024-01-01)\n" in table.stdout
    assert "Not assessed: case-file paths to fill in" in table.stdout
    plain = cli()
    assert "Explain acme" not in plain.stdout and "(--explain lists the case-file fields to fill in)" in plain.stdout
    data = json.loads(cli("--explain", "--format", "json").stdout)
    assert data["cases"][0]["explain"]["not_assessed"][0]["rule"] == "old-terms"
    assert "explain" not in json.loads(cli("--format", "json").stdout)["cases"][0]


def test_help_documents_as_of_and_explain():
    res = run(["assess", "--help"])
    text = " ".join(res.stdout.split())
    assert "--as-of DATE|today" in text and "history" in text
    assert "--explain" in text and "table or json only" in text and "refuse" in text


def test_hostile_text_in_the_new_sections_is_escaped():
    from test_formats import check_html, check_junit

    evil = '<script>alert(1)</script> | **b** [x](javascript:alert(1)) & "q"'
    case = make_case()
    history = case.history[0].model_copy(update={"message": evil, "quotes": [_quote(evil, ref=evil, title=evil)]})
    later = case.after_as_of[0].model_copy(update={"title": evil})
    items = [case.items[0].model_copy(update={"title": evil})]
    result = make_assessment().model_copy(update={"cases": [case.model_copy(update={
        "history": [history], "after_as_of": [later], "items": items})]})
    page = html.render(result)
    doc = check_html(page, result)  # raises on a <script> element or a javascript: link
    assert doc.text().count(evil) >= 5  # history message, quote text, ref and title, event, item
    md = markdown.render(result)
    assert "<script" not in md and not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(javascript:", md)
    check_junit(junit.render(result), result)
    json.loads(sarif.render(result))
