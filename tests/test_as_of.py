"""Assessing a case on a date: what is in force counts, what ended is history, what is later
is listed and ignored (issue 9, "as-of evaluation").

Microsoft-OpenAI is assessed in 2020, 2023, early 2024 and 2025; Meta's model family before and
after Llama 2 (18 July 2023: a second model under a second licence, LLaMA keeping its own); and
Stability AI's SD3 Medium licence before and after its relicensing (5 July 2024: a new version
of one licence). Every bundled case is then checked at several dates for the invariants: no current flag rests on a term not in force, nothing after the date is flagged,
and no condition reads "not assessed" with no rule applying.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from policycheck import assess, load_case, load_rules
from policycheck.cli import main
from policycheck.facts import day, flatten
from policycheck.model.assessment import CaseAssessment, Flag

ROOT = Path(__file__).resolve().parent.parent
MSFT = ROOT / "cases" / "deals" / "microsoft-openai.yaml"
LLAMA2 = ROOT / "cases" / "licences" / "llama-2.yaml"
SD3 = ROOT / "cases" / "licences" / "stability-sd3-licence.yaml"
CASES = sorted((ROOT / "cases").rglob("*.yaml"))


@pytest.fixture(scope="module")
def pack():  # type: ignore[no-untyped-def]
    return load_rules()


def at(path: Path, date: str | None, pack) -> CaseAssessment:  # type: ignore[no-untyped-def]
    return assess(load_case(path), pack, as_of=date).cases[0]


def on(flags: list[Flag], rule: str) -> set[str]:
    """The ids of the first fact each flag of ``rule`` rests on."""
    return {f.evidence[0].id for f in flags if f.rule == rule}


def test_microsoft_openai_in_2020_sees_only_the_2019_round(pack) -> None:  # type: ignore[no-untyped-def]
    result = at(MSFT, "2020-06-01", pack)
    assert result.as_of == "2020-06-01" and result.case_as_of == "2025-03-05"
    assert on(result.flags, "compute-tied-to-partner") == {"msft-openai-2019"}
    assert {e.id for f in result.flags for e in f.evidence if e.fact == "deal"} == {"msft-openai-2019"}
    assert result.history == []
    later = {e.id for e in result.after_as_of if e.item == "deal"}
    assert later == {"msft-openai-gpt3-licence-2020", "msft-openai-2021", "msft-openai-2023", "msft-openai-bing-2023",
                     "msft-openai-observer-2023", "msft-openai-2025"}
    assert any(e.item == "regulatory" and e.date == "2025-03-05" for e in result.after_as_of)


def test_microsoft_openai_in_2023_has_both_exclusive_compute_rounds_in_force(pack) -> None:  # type: ignore[no-untyped-def]
    result = at(MSFT, "2023-06-01", pack)
    # one relationship, one flag: carried by the latest round, the 2019 round as related evidence
    (flag,) = [f for f in result.flags if f.rule == "compute-tied-to-partner"]
    assert flag.evidence[0].id == "msft-openai-2023" and [e.id for e in flag.related] == ["msft-openai-2019"]
    assert flag.severity == "high"
    assert "msft-openai-2025" in {e.id for e in result.after_as_of}
    assert not on(result.flags, "governance-rights")        # the observer seat comes in November


def test_the_observer_seat_counts_while_held_and_is_history_after_july_2024(pack) -> None:  # type: ignore[no-untyped-def]
    held = at(MSFT, "2024-01-15", pack)
    assert on(held.flags, "governance-rights") == {"msft-openai-observer-2023"}
    after = at(MSFT, "2025-03-05", pack)
    assert not on(after.flags, "governance-rights")
    (seat,) = [f for f in after.history if f.rule == "governance-rights"]
    assert (seat.window.since, seat.window.until) == ("2023-11-29", "2024-07-09")


def test_microsoft_openai_in_2025_reports_the_replaced_exclusivity_as_history(pack) -> None:  # type: ignore[no-untyped-def]
    result = at(MSFT, None, pack)                       # the case's own as_of, 2025-03-05
    assert result.as_of == "2025-03-05"
    assert not on(result.flags, "compute-tied-to-partner") & {"msft-openai-2019", "msft-openai-2023"}
    (past,) = [f for f in result.history if f.rule == "compute-tied-to-partner"]   # one relationship
    assert past.evidence[0].id == "msft-openai-2023"
    assert (past.window.since, past.window.until) == ("2019-07-22", "2025-01-21")
    assert result.after_as_of == []
    # history never counts: the condition statuses come from the current flags alone
    for cond in result.conditions:
        assert cond.flags == sum(1 for f in result.flags if cond.condition in f.conditions)


def test_llama_before_july_2023_is_the_research_licence_in_force(pack) -> None:  # type: ignore[no-untyped-def]
    result = at(LLAMA2, "2023-05-01", pack)
    assert on(result.flags, "non-commercial-terms") == {"llama-research-licence@1"}
    assert {e.id for e in result.after_as_of} >= {"llama-2-community-license@1", "llama-2"}
    assert not [f for f in result.flags if f.family in ("licence-widening", "model-family")]
    assert not any(e.id in ("llama-2-community-license@1", "llama-2") for f in result.flags for e in f.evidence)


def test_llama_2_after_july_2023_widens_the_family_and_llama_keeps_its_licence(pack) -> None:  # type: ignore[no-untyped-def]
    """Two models under two licences: Llama 2 widens commercial use across Meta's family, and
    LLaMA, never relicensed, stays under its research licence (a current flag, not history)."""
    result = at(LLAMA2, "2023-09-18", pack)
    (widened,) = [f for f in result.flags if f.rule == "family-commercial-use-widened"]
    assert widened.severity == "info" and widened.window.since == "2023-07-18"
    assert {e.id for e in widened.evidence} >= {"llama", "llama-2", "llama-research-licence@1",
                                                "llama-2-community-license@1"}
    (kept,) = [f for f in result.flags if f.rule == "non-commercial-terms"]
    assert kept.evidence[0].id == "llama-research-licence@1" and kept.window.until is None
    assert result.history == []                         # nothing ended: Llama 2 is a new licence
    assert not [f for f in result.flags if f.family in ("licence-timeline", "licence-widening")]


def test_sd3_medium_after_july_2024_reads_as_a_widening_of_commercial_use(pack) -> None:  # type: ignore[no-untyped-def]
    """One licence, two versions: the non-commercial research licence of June 2024, replaced by
    the Community License (commercial use below US$1M revenue) on 5 July 2024."""
    before = at(SD3, "2024-06-20", pack)
    assert on(before.flags, "non-commercial-terms") == {"stability-sd3-medium-licence@1"}
    assert {e.id for e in before.after_as_of} == {"stability-sd3-medium-licence@2"}
    assert not [f for f in before.flags if f.family == "licence-widening"]
    result = at(SD3, "2024-07-05", pack)
    assert not on(result.flags, "non-commercial-terms")
    (old,) = [f for f in result.history if f.rule == "non-commercial-terms"]
    assert (old.window.since, old.window.until) == ("2024-06-12", "2024-07-05")
    widened = [f for f in result.flags if f.rule == "commercial-use-widened"]
    assert widened and widened[0].severity == "info"
    assert [e.id for e in widened[0].evidence] == ["stability-sd3-medium-licence@1", "stability-sd3-medium-licence@2"]
    narrowing = {f.rule for f in result.flags if f.family == "licence-timeline"}
    assert "commercial-use-withdrawn" not in narrowing
    assert "new-user-threshold" in narrowing            # a restriction the Community License added, flagged as such


def test_the_same_case_on_two_dates_gives_two_assessments(pack) -> None:  # type: ignore[no-untyped-def]
    early, late = at(SD3, "2024-06-20", pack), at(SD3, "2024-07-05", pack)
    assert early.as_of != late.as_of

    def prints(result: CaseAssessment, version: str) -> set[str]:
        return {f.fingerprint for f in result.flags if f.evidence[0].id == version}

    # The SD3 Medium licence changed between the dates: none of its findings carries over ...
    replaced = prints(early, "stability-sd3-medium-licence@1")
    assert replaced and replaced.isdisjoint({f.fingerprint for f in late.flags})
    assert prints(late, "stability-sd3-medium-licence@2")
    assert replaced <= {f.fingerprint for f in late.history}    # they are its history, same fingerprints
    # ... while SDXL's licence, in force on both dates, keeps the same findings.
    assert prints(early, "creativeml-openrail-pp-m@1") == prints(late, "creativeml-openrail-pp-m@1") != set()


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_no_current_flag_rests_on_a_term_not_in_force(path: Path, pack) -> None:  # type: ignore[no-untyped-def]
    loaded = load_case(path)
    dates = {loaded.case.as_of, "2019-12-31", "2023-03-01", "2023-08-01", "2024-06-01"}
    for date in sorted(dates):
        result = assess(loaded, pack, as_of=date).cases[0]
        facts = {(f.type, f.id): f for f in flatten(loaded, date)}
        for flag in result.flags:
            for ev in flag.evidence:
                if ev.alias.startswith("mitigation:"):
                    continue
                assert (ev.fact, ev.id) in facts, f"{date}: {flag.rule} rests on {ev.id}, which starts later"
            operative = flag.operative
            assert operative is not None, flag.rule
            assert facts[(operative.fact, operative.id)].live, f"{date}: {flag.rule} on a term not in force"
        for flag in result.history:
            assert flag.window.until is not None and day(flag.window.until) <= day(date)
        for cond in result.conditions:
            if cond.rules_applicable == 0:
                assert cond.status in ("not applicable", "concern", "watch"), (date, cond)
            if cond.status == "not assessed":
                assert cond.rules_applicable > 0


def test_as_of_today_uses_the_injected_clock(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["assess", str(LLAMA2), "--format", "json", "--as-of", "today", "--today", "2023-05-01"])
    assert out.exit_code == 0, out.output
    assert '"as_of": "2023-05-01"' in out.output
    assert "non-commercial-terms" in out.output


def test_a_bad_as_of_date_is_one_line_and_exit_2() -> None:
    out = CliRunner().invoke(main, ["assess", str(LLAMA2), "--as-of", "2023-13-01"])
    assert out.exit_code == 2
    assert out.output.count("\n") == 1 and "--as-of" in out.output
