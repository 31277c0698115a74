"""Engine isolation through the public API: nothing leaks between assessments, cases or threads,
fact order does not matter, and long runs do not hit durable_rules' 1,024-session cap."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from policycheck import assess, load_case, load_case_text, load_rules
from policycheck.evaluate import engine_for
from policycheck.model.assessment import CaseAssessment
from policycheck.load.cases import LoadedCase
from policycheck.load.rules import RulePack
from policycheck.io.reader import read_document

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
LLAMA2 = ROOT / "cases" / "licences" / "llama-2.yaml"
SD3 = ROOT / "cases" / "licences" / "stability-sd3-licence.yaml"
MSFT = ROOT / "cases" / "deals" / "microsoft-openai.yaml"
CASE_FILES = [LLAMA2, SD3, MSFT, DATA / "cases" / "facts.yaml", DATA / "cases" / "minimal.json"]


@pytest.fixture(scope="module")
def test_pack() -> RulePack:
    return load_rules([DATA / "rules"], bundled=False)


@pytest.fixture(scope="module")
def full_pack() -> RulePack:
    """The bundled pack plus the test pack: the most rules, so the most chances to leak."""
    return load_rules([DATA / "rules"])


@pytest.fixture(scope="module")
def cases() -> dict[str, LoadedCase]:
    return {p.stem: load_case(p) for p in CASE_FILES}


def solo(case: LoadedCase, pack: RulePack) -> str:
    return assess(case, pack).to_json()


def test_same_case_twice_is_byte_identical(cases: dict[str, LoadedCase], full_pack: RulePack) -> None:
    for case in cases.values():
        first = solo(case, full_pack)
        assert solo(case, full_pack) == first
        assert solo(load_case(case.file), full_pack) == first  # a fresh load too


def test_the_test_pack_fires_on_llama_2(cases: dict[str, LoadedCase], test_pack: RulePack) -> None:
    """Guard for the tests below: they compare flags, so there must be some, of every kind,
    joins between two versions of one licence included (the SD3 Medium licence's)."""
    result = assess(cases["llama-2"], test_pack).cases[0]
    status = {r.rule: r.status for r in result.rules}
    assert status == {
        "t-closed-weights": "clear", "t-exclusive-compute": "not applicable", "t-gatekeeper-developer": "fired",
        # two licences of one version each (the family view): no pair of versions to join
        "t-later-adds-output-ban": "not applicable", "t-latest-restricts-commercial": "fired",
        # LLaMA's research licence stays in force beside Llama 2's, and its revocation is unstated
        "t-output-ban": "fired", "t-revocable-at-will": "not assessed", "t-threshold-added": "not applicable",
        "t-user-threshold": "fired",
    }
    sd3 = assess(cases["stability-sd3-licence"], test_pack).cases[0]
    status = {r.rule: r.status for r in sd3.rules}
    # the Community License (July 2024) added a user threshold the June 2024 version did not have
    assert status["t-threshold-added"] == "fired" and status["t-later-adds-output-ban"] == "clear"
    assert {f.rule for f in sd3.history} >= {"t-output-ban"}   # the June 2024 version's, ended


def test_alternating_cases_do_not_leak(cases: dict[str, LoadedCase], full_pack: RulePack) -> None:
    baseline = {name: solo(c, full_pack) for name, c in cases.items()}
    order = list(cases) * 3
    random.Random(7).shuffle(order)
    for name in order:
        assert solo(cases[name], full_pack) == baseline[name], name


def test_cases_assessed_together_equal_cases_assessed_alone(cases: dict[str, LoadedCase], full_pack: RulePack) -> None:
    together = assess(list(cases.values()), full_pack)
    assert [c.case for c in together.cases] == sorted(c.case.id for c in cases.values())
    for result in together.cases:
        (alone,) = assess(next(c for c in cases.values() if c.case.id == result.case), full_pack).cases
        assert result == alone


def test_a_quiet_case_after_a_busy_one(cases: dict[str, LoadedCase], test_pack: RulePack) -> None:
    quiet = load_case(DATA / "cases" / "minimal.yaml")
    before = solo(quiet, test_pack)
    assert len(assess(cases["llama-2"], test_pack).cases[0].flags) == 5
    assert solo(quiet, test_pack) == before
    assert [f.rule for f in assess(quiet, test_pack).cases[0].flags] == ["t-latest-restricts-commercial"]


def test_different_packs_in_one_process_stay_apart(cases: dict[str, LoadedCase], test_pack: RulePack,
                                                  full_pack: RulePack) -> None:
    small = solo(cases["llama-2"], test_pack)
    big = assess(cases["llama-2"], full_pack).cases[0]
    assert {f.rule for f in big.flags} >= {f.rule for f in assess(cases["llama-2"], test_pack).cases[0].flags}
    assert solo(cases["llama-2"], test_pack) == small


def test_engine_is_compiled_once_per_pack(test_pack: RulePack) -> None:
    assert engine_for(test_pack) is engine_for(test_pack)
    again = load_rules([DATA / "rules"], bundled=False)
    assert again.digest == test_pack.digest and engine_for(again) is engine_for(test_pack)


# --- fact order -----------------------------------------------------------------------------------

SHUFFLED = ("sources", "parties", "models", "licences", "deals", "data_access_changes")


def shuffled(path: Path, seed: int) -> LoadedCase:
    """The same case with its entity lists in another order (licence versions keep theirs)."""
    data: dict[str, Any] = read_document(path).data
    rng = random.Random(seed)
    for key in SHUFFLED:
        if isinstance(data.get(key), list):
            rng.shuffle(data[key])
    for deal in data.get("deals", []):
        rng.shuffle(deal.get("sources", []))
    return load_case_text(json.dumps(data), f"shuffled-{seed}.json")


def _flag_meaning(flags: list[Any]) -> list[Any]:
    return sorted(
        (f.rule, f.severity, f.message, f.mitigated, tuple((e.alias, e.fact, e.id) for e in f.evidence),
         tuple(m.id for m in f.mitigations), f.fingerprint, f.window.since, f.window.until)
        for f in flags)


def meaning(result: CaseAssessment) -> dict[str, Any]:
    """Everything but file positions: current and history flags with their bound facts and
    windows, rule and condition outcomes."""
    rules = {r.rule: (r.status, sorted((m.id, m.field, m.status) for m in r.missing)) for r in result.rules}
    return {"flags": _flag_meaning(result.flags), "history": _flag_meaning(result.history), "rules": rules,
            "conditions": [c.model_dump() for c in result.conditions], "summary": result.summary}


@pytest.mark.parametrize("path", [LLAMA2, MSFT, DATA / "cases" / "facts.yaml"], ids=lambda p: p.stem)
def test_shuffled_fact_order_gives_identical_flags(path: Path, full_pack: RulePack) -> None:
    expected = meaning(assess(load_case(path), full_pack).cases[0])
    for seed in range(6):
        assert meaning(assess(shuffled(path, seed), full_pack).cases[0]) == expected, seed


def test_shuffled_versions_of_many_licences(test_pack: RulePack) -> None:
    """Negation (no later version) over several licences must not depend on which version came first."""
    licences = "".join(f"""
  - id: lic-{n}
    name: Licence {n}
    kind: model_licence
    licensor: lab
    versions:
      - {{version: a, date: 2023-01-0{n}, terms: {{user_threshold: none, commercial_use: prohibited}}}}
      - {{version: b, date: 2023-02-0{n}, terms: {{user_threshold: {{metric: users, limit: 10, above: fee}},
           commercial_use: restricted}}}}
      - {{version: c, date: 2023-03-0{n}, terms: {{commercial_use: {"allowed" if n % 2 else "restricted"}}}}}
""" for n in range(1, 6))
    text = f"""schema_version: 2
id: many
title: Many licences
kind: [licence]
as_of: 2024-01-01
summary: Five licences with three versions each.
sources: [{{id: s, title: S, date: 2024-01-01, kind: primary}}]
parties: [{{id: lab, name: Lab}}]
licences:{licences}"""
    base = load_case_text(text, "many.yaml")
    expected = meaning(assess(base, test_pack).cases[0])
    latest = sorted(f[4] for f in expected["flags"] if f[0] == "t-latest-restricts-commercial")
    assert latest == [(("v", "licence_version", f"lic-{n}@3"),) for n in (2, 4)]
    # version b adds the threshold; c (in force on the as-of date) leaves it unstated, so the
    # flag on a -> b is history, held from b's date until c's
    added = sorted((f[4][1][2], f[7], f[8]) for f in expected["history"] if f[0] == "t-threshold-added")
    assert added == [(f"lic-{n}@2", f"2023-02-0{n}", f"2023-03-0{n}") for n in range(1, 6)]
    assert not [f for f in expected["flags"] if f[0] == "t-threshold-added"]
    data = json.loads(json.dumps(base.document.data))
    for seed in range(5):
        random.Random(seed).shuffle(data["licences"])
        got = meaning(assess(load_case_text(json.dumps(data), "many.json"), test_pack).cases[0])
        assert got == expected, seed


# --- long runs and threads ------------------------------------------------------------------------

def test_1100_assessments_in_one_process(cases: dict[str, LoadedCase], test_pack: RulePack) -> None:
    """durable_rules keeps at most 1,024 live sessions per ruleset; the adapter must free each one."""
    case = cases["llama-2"]
    first = solo(case, test_pack)
    for i in range(1100):
        result = assess(case, test_pack)
        if i % 275 == 0:
            assert result.to_json() == first, i
    assert result.to_json() == first


def test_threads_get_the_same_results_as_one_thread(cases: dict[str, LoadedCase], full_pack: RulePack) -> None:
    baseline = {name: solo(c, full_pack) for name, c in cases.items()}
    errors: list[str] = []

    def work(names: list[str]) -> None:
        try:
            for name in names * 5:
                if solo(cases[name], full_pack) != baseline[name]:
                    errors.append(name)
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(repr(exc))

    names = list(cases)
    threads = [threading.Thread(target=work, args=(names[i:] + names[:i],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


_PROBE = ("import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
          "print(sorted(m for m in sys.modules if m.split('.')[0] in ('durable', 'durable_rules_engine')))")


def _engine_modules_after(code: str) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _PROBE.format(code=code)], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("code", [
    "from policycheck import load_rules; load_rules()",
    "from policycheck.cli import main; main(['rules'])",
    "from policycheck.cli import main; main(['lint'])",
    "from policycheck.cli import main; main(['schema'])",
])
def test_loading_rules_does_not_import_the_engine(code: str) -> None:
    """Loading (and refusing) rules is plain Python: durable_rules' C extension is imported only
    when something is assessed, so `rules`, `lint` and `schema` never load it."""
    assert _engine_modules_after(code) == "[]"


def test_the_import_probe_sees_the_engine_when_assessing() -> None:
    found = _engine_modules_after(f"from policycheck import assess, load_case, load_rules; "
                                  f"assess([load_case({str(LLAMA2)!r})], load_rules())")
    assert "durable_rules_engine" in found and "durable.engine" in found
