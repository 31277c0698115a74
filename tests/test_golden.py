"""Golden assessments: every bundled case file, assessed with the bundled rule pack.

For each case file under ``cases/`` this assesses that single case with the bundled pack
and compares ``Assessment.to_json()`` byte for byte with ``tests/golden/cases/<case id>.json``.
A difference means a rule, a case file or the assessment format changed what a reviewer
would read: look at the diff, and if the new result is right, regenerate the goldens and say
in CHANGELOG.md which goldens changed and why.

Regenerate (rewrite every golden, and delete goldens whose case file is gone) with::

    POLICYCHECK_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py

Case files are loaded by their path relative to the repository root, so the ``file`` fields
in the goldens do not depend on where the checkout lives. The goldens embed the rule pack's
digest and the tool version, so any rule edit or version bump changes them all; that is
deliberate: a golden records which pack produced it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policycheck.evaluate import assess
from policycheck.load.cases import iter_case_files, load_case
from policycheck.load.rules import RulePack, load_rules

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"
GOLDEN = ROOT / "tests" / "golden" / "cases"
UPDATE = os.environ.get("POLICYCHECK_UPDATE_GOLDEN") == "1"

CASE_FILES = [p.relative_to(ROOT) for p in iter_case_files([CASES])]


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_rules()


@pytest.fixture()
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_there_are_bundled_cases_to_assess() -> None:
    assert len(CASE_FILES) >= 14, f"expected at least 14 bundled case files, found {len(CASE_FILES)}"


@pytest.mark.parametrize("rel", CASE_FILES, ids=[str(p) for p in CASE_FILES])
def test_case_assessment_matches_golden(rel: Path, pack: RulePack, at_root: None) -> None:
    loaded = load_case(rel)
    text = assess([loaded], pack).to_json()
    golden = GOLDEN / f"{loaded.case.id}.json"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        return
    assert golden.is_file(), (
        f"no golden for case '{loaded.case.id}' ({rel}); create it with POLICYCHECK_UPDATE_GOLDEN=1"
    )
    expected = golden.read_text(encoding="utf-8")
    assert text == expected, (
        f"assessment of {rel} differs from {golden.relative_to(ROOT)}; if the change is intended, "
        "regenerate with POLICYCHECK_UPDATE_GOLDEN=1 and record it in CHANGELOG.md"
    )


def test_every_golden_belongs_to_a_bundled_case(at_root: None) -> None:
    ids = {load_case(rel).case.id for rel in CASE_FILES}
    goldens = sorted(GOLDEN.glob("*.json"))
    if UPDATE:
        for stale in (g for g in goldens if g.stem not in ids):
            stale.unlink()
        return
    stale = [g.name for g in goldens if g.stem not in ids]
    assert not stale, f"goldens without a case file: {stale}; delete them or regenerate"
    assert {g.stem for g in goldens} == ids
