"""Hand-written expectations for every bundled case, checked apart from the golden bytes.

tests/expectations/<case id>.yaml says, for one case file, what a reviewer reading the case
and the rules expects (written by hand, not copied from output):

* ``flags``: flags that must appear: rule, severity, bound fact ids (in pattern order) and,
  when given, the applied mitigations; ``exhaustive: true`` means no other flag may appear;
* ``absent``: rules that must not fire;
* ``rules``: rule statuses (fired / clear / not assessed / not applicable);
* ``conditions``: condition statuses (not applicable: no rule of the condition applies);
* ``history``: flags on terms no longer in force on the case's as_of, with their window
  (``exhaustive`` covers them too);
* ``after_as_of``: ids of what the case records after its as_of.

Only clear-cut facts go here (the pack will be recalibrated): a golden can be regenerated
by accident, these cannot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from policycheck.api import assess
from policycheck.load.cases import iter_case_files, load_case
from policycheck.load.rules import RulePack, load_rules
from policycheck.model.assessment import CaseAssessment

ROOT = Path(__file__).resolve().parents[1]
EXPECTATIONS = ROOT / "tests" / "expectations"
Status = Literal["fired", "clear", "not assessed", "not applicable"]
CondStatus = Literal["concern", "watch", "no concern found", "not assessed", "not applicable"]


class ExpectedFlag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str
    severity: Literal["info", "low", "medium", "high"]
    facts: list[str]
    mitigations: list[str] | None = None


class ExpectedHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str
    facts: list[str]
    since: str
    until: str


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case: str
    file: str
    exhaustive: bool = False
    flags: list[ExpectedFlag] = []
    history: list[ExpectedHistory] = []
    after_as_of: list[str] = []
    absent: list[str] = []
    rules: dict[str, Status] = {}
    conditions: dict[Literal["C1", "C2", "C3", "C4", "OTC"], CondStatus] = {}


def _load(path: Path) -> Expectation:
    return Expectation.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


FILES = sorted(EXPECTATIONS.glob("*.yaml"))


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_rules()


def _assessed(exp: Expectation, pack: RulePack) -> CaseAssessment:
    (body,) = assess(load_case(ROOT / exp.file), pack).cases
    assert body.case == exp.case
    return body


def _seen(body: CaseAssessment) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    return [(f.rule, f.severity, tuple(e.id for e in f.evidence), tuple(m.id for m in f.mitigations))
            for f in body.flags]


def test_every_bundled_case_has_an_expectation_file() -> None:
    files = {_load(p).file for p in FILES}
    cases = {str(p.relative_to(ROOT)) for p in iter_case_files([ROOT / "cases"])}
    assert files == cases
    for path in FILES:
        assert path.stem == _load(path).case, f"{path.name} must be named after its case id"


def test_expectations_name_only_rules_the_pack_has(pack: RulePack) -> None:
    ids = set(pack.by_id())
    for path in FILES:
        exp = _load(path)
        named = {f.rule for f in exp.flags} | {h.rule for h in exp.history} | set(exp.absent) | set(exp.rules)
        assert named <= ids, f"{path.name}: unknown rules {sorted(named - ids)}"
        assert not {f.rule for f in exp.flags} & set(exp.absent), f"{path.name}: a rule both expected and absent"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_expected_flags_appear(path: Path, pack: RulePack) -> None:
    exp = _load(path)
    body = _assessed(exp, pack)
    seen = _seen(body)
    for want in exp.flags:
        hits = [s for s in seen if s[0] == want.rule and list(s[2]) == want.facts]
        assert hits, f"{exp.case}: expected {want.rule} on {want.facts}; flags: {seen}"
        assert len(hits) == 1, f"{exp.case}: {want.rule} on {want.facts} flagged {len(hits)} times"
        (rule, severity, _, mitigations) = hits[0]
        assert severity == want.severity, f"{exp.case}: {rule} on {want.facts} is {severity}, expected {want.severity}"
        if want.mitigations is not None:
            assert list(mitigations) == sorted(want.mitigations), f"{exp.case}: {rule} mitigations {mitigations}"
    if exp.exhaustive:
        expected = sorted((f.rule, tuple(f.facts)) for f in exp.flags)
        assert sorted((s[0], s[2]) for s in seen) == expected, f"{exp.case}: unexpected flags"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_expected_history_and_later_events(path: Path, pack: RulePack) -> None:
    exp = _load(path)
    body = _assessed(exp, pack)
    past = [(f.rule, [e.id for e in f.evidence], f.window.since, f.window.until) for f in body.history]
    for want in exp.history:
        assert (want.rule, want.facts, want.since, want.until) in past, f"{exp.case}: expected history {want}; {past}"
    if exp.exhaustive:
        assert sorted((r, tuple(f)) for r, f, _, _ in past) == sorted((h.rule, tuple(h.facts)) for h in exp.history)
    current = {(f.rule, f.fingerprint) for f in body.flags}
    assert not current & {(f.rule, f.fingerprint) for f in body.history}, "a flag both current and history"
    assert sorted(e.id for e in body.after_as_of) == sorted(exp.after_as_of), f"{exp.case}: after as_of"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_absent_rules_do_not_fire(path: Path, pack: RulePack) -> None:
    exp = _load(path)
    fired = {f.rule for f in _assessed(exp, pack).flags}
    assert not fired & set(exp.absent), f"{exp.case}: fired but must not: {sorted(fired & set(exp.absent))}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_rule_and_condition_statuses(path: Path, pack: RulePack) -> None:
    exp = _load(path)
    body = _assessed(exp, pack)
    rules = {r.rule: r.status for r in body.rules}
    for rule in {f.rule for f in exp.flags}:
        assert rules[rule] == "fired"
    for rule in exp.absent:
        assert rules[rule] != "fired"
    got = {rule: rules[rule] for rule in exp.rules}
    assert got == exp.rules, f"{exp.case}: rule statuses"
    conditions = {c.condition: c.status for c in body.conditions}
    assert {c: conditions[c] for c in exp.conditions} == exp.conditions, f"{exp.case}: condition statuses"


def test_the_clear_cut_anchors_hold(pack: RulePack) -> None:
    """The two facts issue 8 names, spelled out so they cannot be edited away with a file."""
    llama2 = _assessed(_load(EXPECTATIONS / "llama-2.yaml"), pack)
    assert ("output-training-ban", "high") in {(f.rule, f.severity) for f in llama2.flags}
    assert _assessed(_load(EXPECTATIONS / "gpt-j.yaml"), pack).flags == []


def _parse_only(data: Any) -> Expectation:
    return Expectation.model_validate(data)


def test_an_expectation_file_with_a_typo_is_refused() -> None:
    with pytest.raises(ValueError):
        _parse_only({"case": "x", "file": "f", "flag": []})
    with pytest.raises(ValueError):
        _parse_only({"case": "x", "file": "f", "rules": {"r": "cleared"}})
