"""Mutation check of the bundled fixtures: every rule's fixtures must be able to fail.

Each bundled rule is broken in the ways a careless edit breaks a rule, and at least one of
its fixtures (a test of the rule, or one naming it in also_fires / not_fires) that passes
against the real pack must fail against the broken one:

* never fires: the rule can no longer match (a ``none`` pattern that every case satisfies);
  a firing fixture must notice;
* always fires: every value test is dropped, only the joins between its facts remain; a
  non-firing fixture whose facts exist must notice (one where the rule is merely "not
  applicable" cannot);
* unmitigated: ``mitigated_by`` is dropped; a fixture expecting a mitigated severity must notice.

Only the mutated rule's fixtures run, against the whole pack with that one rule replaced.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from policycheck.compile.compiler import compile_rule
from policycheck.ruletest.fixtures import LoadedTest, Suite, load_suite, run_suite
from policycheck.model.rule import Rule
from policycheck.load.rules import LoadedRule, RulePack, bundled_rules_dir, load_rules

PACK = load_rules()
TESTS = load_suite([bundled_rules_dir()]).tests


def _is_join(operand: Any, alias: str) -> bool:
    return isinstance(operand, dict) and set(operand) == {"ref"} and str(operand["ref"]).split(".")[0] != alias


def never_fires(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["when"]["none"] = [*out["when"].get("none", []), {"fact": "case", "as": "mutant_never"}]
    return out


def always_fires(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    when = out["when"]
    for group in ("all", "any"):
        for p in when.get(group, []):
            alias = p.get("as", p["fact"])
            kept = {}
            for name, spec in (p.get("where") or {}).items():
                if _is_join(spec, alias):
                    kept[name] = spec
                elif isinstance(spec, dict) and not (set(spec) == {"ref"}):
                    joins = {op: v for op, v in spec.items() if _is_join(v, alias)}
                    if joins:
                        kept[name] = joins
            p["where"] = kept
            p.pop("any_of", None)
    when.pop("none", None)
    return out


def unmitigated(data: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out.pop("mitigated_by", None)
    return out


MUTATIONS = {"never fires": never_fires, "always fires": always_fires, "unmitigated": unmitigated}


def _mutant_pack(lr: LoadedRule, kind: str) -> RulePack | None:
    """The pack with ``lr`` replaced by its mutant, or None when the mutation changes nothing."""
    data = lr.document.data
    mutated = MUTATIONS[kind](data)
    if Rule.model_validate(mutated) == lr.rule:
        return None
    compiled, problems = compile_rule(Rule.model_validate(mutated), lr.document)
    assert compiled is not None, [p.render() for p in problems]
    rules = tuple(LoadedRule(compiled, lr.family, lr.file, lr.line, lr.document) if r.id == lr.id else r
                  for r in PACK.rules)
    return RulePack(rules, f"{PACK.digest}-mutant-{lr.id}-{kind.replace(' ', '-')}")


def _tests_of(rule_id: str) -> list[LoadedTest]:
    return [t for t in TESTS if rule_id in (t.rule, *t.expect.also_fires, *t.expect.not_fires)]


def _cases() -> list[tuple[str, str]]:
    out = []
    for lr in PACK.rules:
        for kind in MUTATIONS:
            if _mutant_pack(lr, kind) is not None:
                out.append((lr.id, kind))
    return out


CASES = _cases()


@pytest.mark.parametrize("rule_id, kind", CASES, ids=[f"{r} {k}" for r, k in CASES])
def test_a_fixture_fails_when_the_rule_is_broken(rule_id: str, kind: str) -> None:
    lr = PACK.by_id()[rule_id]
    tests = _tests_of(rule_id)
    assert tests, f"rule {rule_id} has no fixture at all"
    baseline = run_suite(Suite(tests), PACK)
    healthy = [r.test for r in baseline if r.passed]
    assert healthy, f"none of the fixtures of {rule_id} passes against the real pack"
    mutant = _mutant_pack(lr, kind)
    assert mutant is not None
    killed = [r for r in run_suite(Suite(healthy), mutant) if not r.passed]
    assert killed, (f"no fixture of {rule_id} fails when the rule {kind}; add a fixture that "
                    + {"never fires": "expects it to fire (fires: true)",
                       "always fires": "expects it not to fire on facts it reads (fires: false, rule_status: clear)",
                       "unmitigated": "expects a mitigated flag (severity: <lower>, mitigated: true)"}[kind])


def test_every_bundled_rule_is_mutated() -> None:
    """Every rule gets the never-fires mutation, and every rule with value tests the always-fires one."""
    mutated = {(r, k) for r, k in CASES}
    assert {lr.id for lr in PACK.rules} == {r for r, k in mutated if k == "never fires"}
    with_mitigations = {lr.id for lr in PACK.rules if lr.rule.mitigated_by}
    assert with_mitigations == {r for r, k in mutated if k == "unmitigated"}
