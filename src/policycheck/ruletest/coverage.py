"""Fixture coverage of a rule pack: does every rule have a firing and a non-firing fixture?

A fixture test *fires* for its rule when it expects ``fires: true`` and is *non-firing*
when it expects ``fires: false``. A rule is covered when it has at least one of each:
one proves the rule can fire, the other that it can stay quiet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policycheck.ruletest.fixtures import LoadedTest
from policycheck.model.rule import CONDITIONS
from policycheck.load.rules import RulePack


@dataclass(frozen=True)
class RuleCoverage:
    rule: str
    conditions: tuple[str, ...]
    firing: int          # fixture tests expecting the rule to fire
    non_firing: int      # fixture tests expecting it not to fire

    @property
    def covered(self) -> bool:
        return self.firing > 0 and self.non_firing > 0


@dataclass(frozen=True)
class ConditionCoverage:
    condition: str
    rules: int           # rules that list the condition
    covered: int         # of those, rules with a firing and a non-firing fixture


@dataclass(frozen=True)
class Coverage:
    rules: tuple[RuleCoverage, ...]
    conditions: tuple[ConditionCoverage, ...]

    @property
    def covered(self) -> int:
        return sum(1 for r in self.rules if r.covered)

    @property
    def percent(self) -> float:
        """Percentage of rules with both kinds of fixture (100 for an empty pack)."""
        return 100.0 * self.covered / len(self.rules) if self.rules else 100.0

    def to_dict(self) -> dict[str, object]:
        return {
            "percent": round(self.percent, 1),
            "covered": self.covered,
            "total": len(self.rules),
            "rules": [{"rule": r.rule, "conditions": list(r.conditions), "firing": r.firing,
                       "non_firing": r.non_firing, "covered": r.covered} for r in self.rules],
            "conditions": [{"condition": c.condition, "rules": c.rules, "covered": c.covered} for c in self.conditions],
        }


def coverage(pack: RulePack, tests: Sequence[LoadedTest]) -> Coverage:
    """Coverage of ``pack`` by ``tests`` (tests naming rules outside the pack are ignored)."""
    per_rule = []
    for lr in pack.rules:
        mine = [t for t in tests if t.rule == lr.id]
        conds = tuple(c for c in CONDITIONS if c in lr.rule.conditions)
        per_rule.append(RuleCoverage(lr.id, conds, sum(1 for t in mine if t.expect.fires),
                                     sum(1 for t in mine if not t.expect.fires)))
    per_cond = []
    for cond in CONDITIONS:
        listing = [r for r in per_rule if cond in r.conditions]
        per_cond.append(ConditionCoverage(cond, len(listing), sum(1 for r in listing if r.covered)))
    return Coverage(tuple(per_rule), tuple(per_cond))


def render_text(cov: Coverage) -> list[str]:
    """Human-readable coverage lines: one per rule, one per condition, then the total."""
    width = max((len(r.rule) for r in cov.rules), default=4)
    lines = ["rule coverage (fixtures expecting the rule to fire / not to fire):"]
    for r in cov.rules:
        verdict = "ok" if r.covered else "MISSING " + " and ".join(
            k for k, n in (("a firing fixture", r.firing), ("a non-firing fixture", r.non_firing)) if n == 0)
        lines.append(f"  {r.rule:<{width}}  firing: {r.firing}  non-firing: {r.non_firing}  {verdict}")
    lines.append("condition coverage (rules with both kinds of fixture / rules listing the condition):")
    for c in cov.conditions:
        lines.append(f"  {c.condition:<3} {CONDITIONS[c.condition]:<30} {c.covered}/{c.rules} rules")
    lines.append(f"coverage: {cov.percent:.1f}% ({cov.covered} of {len(cov.rules)} rules have a firing "
                 "and a non-firing fixture)")
    return lines
