"""Evidence at the operative term, with the quoted clause, in every format (issue 9, item 6).

On every bundled case: each flag points at the line of the term that made it fire (the
line names that term's case-file key, never ``kind:``), SARIF ``startLine`` is that line,
and each clause the case quotes in support of a flagged term appears on the flag in the
table (a short quote), Markdown, HTML and SARIF (in full).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from policycheck import assess, load_case, load_rules
from policycheck.cli import main
from policycheck.model.assessment import Flag

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "cases").rglob("*.yaml"))


@pytest.fixture(scope="module")
def pack():  # type: ignore[no-untyped-def]
    return load_rules()


def _render(path: Path, fmt: str) -> str:
    out = CliRunner().invoke(main, ["assess", str(path), "--format", fmt])
    assert out.exit_code in (0, 1), out.output
    return out.output


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("|", " ")).strip()


def _key(path: str) -> str:
    """The last key of a formatted path: licences[0].versions[1].terms.output_training_ban -> output_training_ban."""
    return re.sub(r"\[\d+\]", "", path).rsplit(".", 1)[-1]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_flag_points_at_its_operative_term(path: Path, pack) -> None:  # type: ignore[no-untyped-def]
    result = assess(load_case(path), pack).cases[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    for flag in [*result.flags, *result.history]:
        where = flag.operative
        assert where is not None and where.line is not None, flag.rule
        assert flag.location()[1] == where.line
        text = lines[where.line - 1]
        assert _key(where.path) in text, f"{flag.rule}: line {where.line} is {text!r}, not {where.path}"
        assert not re.match(r"\s*kind:", text), flag.rule


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_sarif_start_line_is_the_operative_line(path: Path, pack) -> None:  # type: ignore[no-untyped-def]
    result = assess(load_case(path), pack).cases[0]
    sarif = json.loads(_render(path, "sarif"))
    lines = {(r["ruleId"], r["partialFingerprints"].get("policycheck/v1")):
             r["locations"][0]["physicalLocation"]["region"]["startLine"]
             for r in sarif["runs"][0]["results"]}
    for flag in result.flags:
        key = (flag.rule, flag.fingerprint)
        assert key in lines, key
        assert flag.operative is not None and lines[key] == flag.operative.line


def _quoted(flags: list[Flag]) -> list[tuple[Flag, str]]:
    return [(f, q.text) for f in flags for q in f.quotes]


def test_a_quoted_clause_appears_on_the_flags_it_supports_in_every_format(pack) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for path in CASES:
        quoted = _quoted(assess(load_case(path), pack).cases[0].flags)
        if not quoted:
            continue
        table = _squash(_render(path, "table"))
        markdown = _squash(_render(path, "markdown"))
        page = _squash(html.unescape(_render(path, "html")))
        sarif = json.loads(_render(path, "sarif"))
        by_flag: dict[tuple[str, str], list[str]] = {}
        for r in sarif["runs"][0]["results"]:
            by_flag.setdefault((r["ruleId"], r["partialFingerprints"]["policycheck/v1"]), []).append(json.dumps(r))
        for flag, text in quoted:
            words = _squash(text)
            head = words[:40].rsplit(" ", 1)[0]
            assert head in table, (path.stem, flag.rule, head)
            assert words in markdown.replace("\\", ""), (path.stem, flag.rule, words)
            assert words in page, (path.stem, flag.rule, words)
            assert any(json.dumps(text)[1:-1] in r for r in by_flag[(flag.rule, flag.fingerprint)]), (flag.rule, words)
            checked += 1
    assert checked >= 10


def test_the_library_quotes_clauses_on_flags(pack) -> None:  # type: ignore[no-untyped-def]
    """Not vacuous: most cases with flags carry at least one quote, and quotes say where they are from."""
    quotes = [q for p in CASES for f in assess(load_case(p), pack).cases[0].flags for q in f.quotes]
    assert len(quotes) >= 10
    assert all(q.title and q.date and q.kind in ("primary", "secondary") for q in quotes)
    assert any(q.url for q in quotes)


def test_a_clause_supports_only_the_terms_it_names(pack) -> None:  # type: ignore[no-untyped-def]
    result = assess(load_case(ROOT / "cases" / "licences" / "llama-2.yaml"), pack).cases[0]
    by_rule = {f.rule: f for f in result.flags}
    ban = by_rule["output-training-ban"]
    assert any("improve any other large language model" in q.text for q in ban.quotes)
    assert all("output_training_ban" in q.supports for q in ban.quotes)
    aup = by_rule["aup-unilateral-update"]
    assert not any("improve any other large language model" in q.text for q in aup.quotes)


BRANCH_CASE = """schema_version: 2
id: branch
title: Branch test
kind: [data_access]
as_of: 2024-06-01
summary: A data holder that is also an FM developer changes its API terms.
sources: [{{id: s, title: Invented, date: unknown, kind: primary}}]
parties: [{{id: acme, name: Acme Data, roles: [data_holder, fm_developer]}}]
data_access_changes:
  - id: c1
    holder: acme
    resource: Acme API
    date: 2024-01-01
    stage: effective
    before: {before}
    after: {after}
"""


@pytest.mark.parametrize(("before", "after", "field"), [
    ("{price: {amount: 1, currency: USD, unit: per call}, ai_training_ban: false}",
     "{price: {amount: 2, currency: USD, unit: per call}, ai_training_ban: false}", "price_rose"),
    ("{price: {amount: 1, currency: USD, unit: per call}, ai_training_ban: false}",
     "{price: {amount: 1, currency: USD, unit: per call}, ai_training_ban: true}", "ai_training_ban_after"),
])
def test_a_flag_points_at_the_term_of_the_any_of_branch_that_matched(pack, before: str, after: str,  # type: ignore[no-untyped-def]
                                                                      field: str) -> None:
    from policycheck import load_case_text

    text = BRANCH_CASE.format(before=before, after=after)
    result = assess(load_case_text(text, "branch.yaml"), pack).cases[0]
    (flag,) = [f for f in result.flags if f.rule == "data-holder-in-fms-restricts-access"]
    assert flag.operative is not None and flag.operative.field == field
    line = text.splitlines()[flag.operative.line - 1]
    assert ("price" if field == "price_rose" else "ai_training_ban") in line and "after" in line


def test_missing_facts_list_only_facts_the_rule_can_read() -> None:
    """A not-assessed rule's fields to fill in never include a `none` candidate outside the
    rule's applies_to (a terms-of-service version for a model-licence rule)."""
    data = ROOT / "tests" / "data" / "scope-missing"
    own = load_rules([data / "rules"], bundled=False)
    (rule,) = assess(load_case(data / "case.yaml"), own).cases[0].rules
    assert rule.status == "not assessed"
    assert [(m.id, m.field) for m in rule.missing] == [("m@1", "osi_approved")]


def test_a_message_says_not_stated_for_a_left_out_field_and_unknown_for_an_unknown_one() -> None:
    """A placeholder on a field the case leaves out reads "not stated", one the case records as
    ``unknown`` reads "unknown", one the fact does not have reads "not applicable": the three
    say different things to a reviewer (issue 9: nothing omitted reads as something else)."""
    from policycheck.evaluate.flags import render_message
    from policycheck.facts import Fact

    fact = Fact("deal", "d", "case", "f.yaml", ("deals", 0), {"title": "T"}, frozenset({"stake_pct"}),
                frozenset({"shares"}), {})
    text = render_message("{d.title}: stake {d.stake_pct}; shares {d.shares}; until {d.until}.", {"d": fact})
    assert text == "T: stake unknown; shares not stated; until not applicable."
