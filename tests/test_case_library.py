"""The bundled case library (cases/): sourced, and calibrated as issue 10 asks.

* every ``leading_markets`` entry is a mapping that names a source of the case (a leading
  position is a finding someone made: a designation, market study, decision or share data);
* every source has a title, a date, a kind and a URL or repository path;
* no relationship (partner and developer) gets more than one flag per rule, now or in history;
* every rule family fires on at least two bundled cases.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from policycheck.api import assess
from policycheck.load.cases import iter_case_files, load_case
from policycheck.load.rules import load_rules
from policycheck.model import case as c

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted(iter_case_files([ROOT / "cases"]))
IDS = [p.stem for p in CASES]


@pytest.fixture(scope="module")
def assessed() -> dict[str, object]:
    pack = load_rules()
    result = assess([load_case(p) for p in CASES], pack)
    return {ca.file: ca for ca in result.cases}


@pytest.mark.parametrize("path", CASES, ids=IDS)
def test_every_leading_market_names_a_source_of_the_case(path: Path) -> None:
    case = load_case(path).case
    sources = {s.id for s in case.sources}
    for p in case.parties:
        if not isinstance(p.leading_markets, list):
            continue
        for entry in p.leading_markets:
            assert isinstance(entry, c.LeadingMarket), f"{p.id}: '{entry}' has no source (write {{market, sources}})"
            assert set(entry.sources) <= sources


@pytest.mark.parametrize("path", CASES, ids=IDS)
def test_every_source_is_described_and_locatable(path: Path) -> None:
    for s in load_case(path).case.sources:
        assert s.title.strip() and s.date and s.kind in ("primary", "secondary")
        assert s.url or s.path, f"{s.id}: neither a URL nor a repository path"


def test_no_relationship_gets_more_than_one_flag_per_rule(assessed: dict[str, object]) -> None:
    for ca in assessed.values():
        deals = {d.id: (d.partner, d.developer) for d in load_case(ROOT / ca.file).case.deals}  # type: ignore[attr-defined]
        for group in (ca.flags, ca.history):  # type: ignore[attr-defined]
            seen: Counter[tuple[str, tuple[str, str]]] = Counter()
            for f in group:
                pairs = {deals[e.id] for e in f.evidence if e.fact == "deal"}
                for pair in pairs:
                    seen[(f.rule, pair)] += 1
            over = [k for k, n in seen.items() if n > 1]
            assert not over, f"{ca.file}: {over}"  # type: ignore[attr-defined]


def test_every_rule_family_fires_on_at_least_two_real_cases(assessed: dict[str, object]) -> None:
    families: dict[str, set[str]] = {}
    for lr in load_rules().rules:
        families.setdefault(lr.family, set())
    for ca in assessed.values():
        for f in [*ca.flags, *ca.history]:  # type: ignore[attr-defined]
            families[f.family].add(ca.case)  # type: ignore[attr-defined]
    thin = {fam: sorted(cases) for fam, cases in families.items() if len(cases) < 2}
    assert not thin, f"families with fewer than two real cases: {thin}"
