"""Calibration across the pack (issue 10): a small, non-exclusive, non-voting minority stake by
a leading firm in a multi-homing developer comes out clearly lower than Microsoft-OpenAI.

The small stake is an invented fixture (tests/data/calibration/); Microsoft-OpenAI is the
bundled real case. "Clearly lower": its worst flag is at most low, and no condition is a
concern, while Microsoft-OpenAI has high flags and a C4 concern.
"""

from __future__ import annotations

from pathlib import Path

from policycheck.api import assess
from policycheck.load.cases import load_case
from policycheck.load.rules import load_rules
from policycheck.model.rule import SEVERITY_ORDER

ROOT = Path(__file__).resolve().parents[1]


def _worst(path: Path) -> tuple[int, dict[str, str]]:
    (case,) = assess([load_case(path)], load_rules()).cases
    worst = max((SEVERITY_ORDER[f.severity] for f in case.flags), default=-1)
    return worst, {c.condition: c.status for c in case.conditions}


def test_a_small_passive_minority_stake_is_clearly_lower_than_microsoft_openai() -> None:
    small, small_conditions = _worst(ROOT / "tests/data/calibration/small-minority-stake.yaml")
    big, big_conditions = _worst(ROOT / "cases/deals/microsoft-openai.yaml")
    assert big == SEVERITY_ORDER["high"]
    assert big_conditions["C4"] == "concern"
    assert small <= SEVERITY_ORDER["low"]
    assert "concern" not in small_conditions.values()
    assert big - small >= 2
