"""Pins for the durable_rules limits the load-time checks model (engine/durable_shape.py), and
for the adapter's per-chunk fact filtering (docs/engine.md).

Each limit is pinned on both sides: the largest shape the static model accepts registers and
runs in the real engine, and the first shape it refuses fails in the real engine the way the
model says (error 113, error 303, or a hang, the last in a child process with a timeout). A
durable_rules release that moved a limit would fail here, not in a user's CI.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from policycheck.engine import durable as adapter
from policycheck.engine.durable import Engine, EnginePattern as P, EngineRule
from policycheck.engine.durable_backend import DurableEngine, to_engine_fact
from policycheck.engine.durable_alpha import STACK, AlphaNet
from policycheck.engine.durable_prepare import edges
from policycheck.engine.durable_shape import EQ_SIBLINGS, SEQUENCE, _canonical, registration_problems, stack_depth
from policycheck.errors import EngineError
from policycheck.compile import compile_pack
from policycheck.facts import flatten
from policycheck.load.cases import load_cases
from policycheck.load.rules import load_rules

ROOT = Path(__file__).resolve().parents[1]


def typed(t: str, *tests: dict[str, Any]) -> dict[str, Any]:
    return {"$and": [{"t": t}, *tests]} if tests else {"t": t}


def nested_ors(n: int) -> dict[str, Any]:
    """A pattern with n two-way "or"s of equalities: 2 + 2n expression-sequence entries."""
    return typed("lv", *({"$or": [{"a": f"x{i}"}, {"b": f"y{i}"}]} for i in range(n)))


def test_sequence_limit_113_pinned_on_both_sides() -> None:
    ok, over = nested_ors((SEQUENCE - 1) // 2 - 1), nested_ors((SEQUENCE - 1) // 2)
    assert registration_problems("v", ok) == []
    assert "error 113" in registration_problems("v", over)[0]
    Engine([EngineRule("ok", (P("v", ok),))]).run([{"t": "lv", "a": "x0"}])
    with pytest.raises(EngineError, match="113"):
        Engine([EngineRule("over", (P("v", over),))])


def test_alpha_stack_303_pinned_on_both_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    """An "or" of n alternatives one fact passes all at once pushes n alpha nodes: 64 run, 65
    are refused when the pattern is checked and when the engine is built, naming the rule. With
    the planner's bound lifted, durable itself fails at 65 (error 303), and the error names the
    rule and the fact."""
    def wide(n: int) -> dict[str, Any]:
        return typed("lv", {"$or": [{"$gt": {"seq": i}} for i in range(n)]})

    assert stack_depth([wide(STACK)]) == STACK and stack_depth([wide(STACK + 1)]) == STACK + 1
    assert registration_problems("v", wide(STACK)) == []
    assert "error 303" in registration_problems("v", wide(STACK + 1))[0]
    assert len(Engine([EngineRule("at-once", (P("v", wide(STACK)),))]).run([{"t": "lv", "seq": 1000}])) == 1
    with pytest.raises(EngineError, match=r"rule 'too-wide': .*65 alpha nodes.*error 303"):
        Engine([EngineRule("too-wide", (P("v", wide(STACK + 1)),))])
    monkeypatch.setattr(adapter, "STACK", 10_000)
    engine = Engine([EngineRule("too-wide", (P("v", wide(STACK + 1)),))])
    with pytest.raises(EngineError) as caught:
        engine.run([{"t": "lv", "seq": 1000}], labels=["licence_version l@1"])
    text = str(caught.value)   # the runtime error names the rule and the fact
    assert "303" in text and "rule too-wide:" in text and "fact 0 (licence_version l@1)" in text


_HANG = """
import sys
from policycheck.engine.durable import Engine, EnginePattern as P, EngineRule
n = int(sys.argv[1])
Engine([EngineRule("r", (P("v", {"$and": [{"t": "lv"}, {"$or": [{"name": f"n{i}"} for i in range(n)]}]}),))])
print("registered")
"""


def test_sibling_equalities_hang_at_512_pinned_on_both_sides() -> None:
    """Registration hangs forever once 512 equality tests sit under one node (durable's
    512-slot table is probed without end); a child process, killed by the timeout."""
    wide = {"$and": [{"t": "lv"}, {"$or": [{"name": f"n{i}"} for i in range(EQ_SIBLINGS + 1)]}]}
    assert "hangs at 512" in registration_problems("v", wide)[0]
    ok = subprocess.run([sys.executable, "-c", _HANG, str(EQ_SIBLINGS)], capture_output=True, text=True, timeout=60)
    assert ok.stdout.strip() == "registered", ok.stderr
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", _HANG, "520"], capture_output=True, text=True, timeout=8)


def test_not_in_beyond_13_values_is_refused_before_durable_sees_it(tmp_path: Path) -> None:
    """The compiled refuter of not_in over n values needs 2n + 4 entries: 13 register, 14 are error 113."""
    from policycheck.engine.durable_translate import translate
    from policycheck.load.rules import load_rule_file
    from policycheck.errors import RuleLoadError

    head = (ROOT / "rules" / "licence-terms" / "gated-weights.yaml").read_text().split("when:")[0]
    head = head.replace("{v.weights_access}", "{v.spdx}")
    for n, good in ((13, True), (14, False)):
        path = tmp_path / f"n{n}" / "x" / "big-in.yaml"
        path.parent.mkdir(parents=True)
        vals = ", ".join(f'"n{i}"' for i in range(n))
        path.write_text(head.replace("id: gated-weights", "id: big-in") + "when:\n  all:\n    - fact: licence_version\n"
                        f"      as: v\n      where:\n        spdx: {{not_in: [{vals}]}}\n")
        if good:
            rule = load_rule_file(path, path.parents[1])
            from policycheck.compile import compile_rule

            Engine(translate([compile_rule(rule.spec)]))   # registers
        else:
            with pytest.raises(RuleLoadError, match="error 113"):
                load_rule_file(path, path.parents[1])


def test_filtering_facts_per_chunk_changes_no_match() -> None:
    """The adapter asserts into each chunk only the facts of the types its rules test, with only
    the fields they read; with everything asserted everywhere the matches are the same."""
    pack = load_rules([ROOT / "tests" / "data" / "rules"])
    compiled = compile_pack(pack)
    fast = DurableEngine(compiled)
    full = DurableEngine(compiled)
    inner: Engine = full._engine

    class Everything(frozenset[str]):
        def intersection(self, *others: Any) -> set[str]:  # type: ignore[override]
            return set(others[0])

    inner._chunk_types = [None] * len(inner._chunks)
    inner._chunk_fields = [Everything() for _ in inner._chunks]
    for lc in load_cases([ROOT / "cases"]):
        for at in sorted({lc.case.as_of, "2023-01-01", "2024-06-30"}):
            facts = flatten(lc, at)
            assert fast.run(facts) == full.run(facts), (lc.case.id, at)


def test_chunks_read_fewer_fields_than_facts_have() -> None:
    engine = Engine([EngineRule("r", (P("v", typed("lv", {"a": 1})),))])
    assert engine._chunk_types == [frozenset({"lv"})]
    assert {"a", "t"} <= engine._chunk_fields[0] and "b" not in engine._chunk_fields[0]
    assert engine.run([{"t": "lv", "a": 1, "b": 2}, {"t": "other", "a": 1}]) == \
        [adapter.Match("r", (("v", 0),))]


def test_durable_shape_is_plain_python() -> None:
    code = textwrap.dedent("""
        import sys
        import policycheck.engine.durable_shape, policycheck.engine.durable_checks
        from policycheck.load.rules import load_rules
        load_rules()
        print(json.dumps(sorted(m for m in sys.modules if "durable_rules" in m or m == "durable")))
    """)
    res = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, timeout=60)
    assert json.loads(res.stdout) == [], res.stderr


def test_an_or_whose_alternative_is_a_chain_starting_with_an_or_is_counted_not_a_crash() -> None:
    """Found by the differential suite: ``_children`` took the chain for an "or" and read its
    missing "$or" key (KeyError at load time). The chain's first test is what hangs under the
    node, so its alternatives count as siblings there."""
    chain = {"$and": [{"$or": [{"a": i} for i in range(EQ_SIBLINGS + 1)]}, {"b": 1}]}
    problems = registration_problems("x", {"$or": [chain, {"c": 2}]})
    assert any("side by side" in p for p in problems), problems
    assert registration_problems("x", {"$or": [{"$and": [{"$or": [{"a": 1}, {"a": 2}]}, {"b": 1}]}, {"c": 2}]}) == []


# --- durable's alpha stack (error 303), modelled by engine/durable_alpha.py --------------------

def _raw_303(rules: dict[str, Any], fact: dict[str, Any]) -> bool:
    """Whether durable itself (no adapter, no planner) refuses ``fact`` with error 303."""
    import durable_rules_engine as dre

    handle = dre.create_ruleset(f"raw303_{next(_RAW)}", json.dumps(rules))
    try:
        dre.assert_fact(handle, json.dumps({"id": "f1", "sid": "1", **fact}))
    except dre.error as exc:
        assert "303" in str(exc), exc
        return True
    return False


_RAW = iter(range(10**9))


def _joins(n: int) -> dict[str, Any]:
    return {f"r{i}": {"all": [{"d": {"t": "deal"}}, {"p": {"$and": [{"t": "party"}, {"key": {"d": "partner"}}]}}]}
            for i in range(n)}


def test_a_join_is_never_shared_so_65_equal_joins_overflow_one_ruleset() -> None:
    """The root cause of the 303 the mutation suite found: durable shares an alpha node between
    patterns that make the same literal test, but never a join (its value is another fact's):
    65 rules with the same join to a deal overflow the stack for every party fact, while 200
    rules with the same literal test use one node. The model counts the same."""
    party = {"t": "party", "key": "x"}
    assert not _raw_303(_joins(STACK), party) and _raw_303(_joins(STACK + 1), party)
    for n in (STACK, STACK + 1):
        net = AlphaNet()
        for body in _joins(n).values():
            for pattern in body["all"]:
                net.add(next(iter(pattern.values())))
        assert net.depth("party") == n and net.depth("deal") == 1
    same = {f"r{i}": {"all": [{"p": {"$and": [{"t": "party"}, {"key": "x"}]}}]} for i in range(200)}
    assert not _raw_303(same, party)
    assert stack_depth([{"$and": [{"t": "party"}, {"key": "x"}]}] * 200) <= 3


def test_an_or_pushes_its_join_point_once_per_alternative_that_holds() -> None:
    """Two "or"s in a chain: k alternatives, then m after the "or"'s join point: k + m - 1 slots
    (the model is exact here); 64 run in durable, 65 are error 303."""
    def chain(k: int, m: int) -> dict[str, Any]:
        return {"$and": [{"t": "lv"}, {"$or": [{"$gt": {"a": i}} for i in range(k)]},
                         {"$or": [{"$gt": {"b": i}} for i in range(m)]}]}

    fact = {"t": "lv", "a": 1000, "b": 1000}
    for k, m in ((40, 25), (40, 26), (10, 55), (10, 56)):
        depth = stack_depth([chain(k, m)])
        assert depth == k + m - 1, (k, m, depth)
        assert _raw_303({"r": {"all": [{"v": chain(k, m)}]}}, fact) == (depth > STACK)


def test_the_planner_splits_a_pack_of_joins_so_no_fact_overflows() -> None:
    """Rules like the bundled deal rules (a deal, its partner and its developer, each party a
    join): 45 of them, 90 party joins, would overflow one ruleset twice over. Every chunk the
    planner makes fits (one near the limit), and every rule matches without error."""
    def deal_rule(i: int) -> EngineRule:
        return EngineRule(f"deal-{i}", (P("d", typed("deal", {"n": i})),
                                        P("p", typed("party", {"key": {"d": "partner"}})),
                                        P("dev", typed("party", {"key": {"d": "developer"}}))))

    rules = [deal_rule(i) for i in range(45)]
    engine = Engine(rules)
    depths = [stack_depth([p.expression for i in group for p in rules[i].patterns]) for group in engine._plan_groups]
    assert max(depths) <= STACK and max(depths) >= STACK - 8, depths
    facts = [{"t": "party", "key": "a"}, {"t": "party", "key": "b"}]
    facts += [{"t": "deal", "n": i, "partner": "a", "developer": "b"} for i in range(45)]
    assert len(engine.run(facts)) == 45


def test_the_mutant_mini_pack_the_mutation_suite_found_assesses_without_error(tmp_path: Path) -> None:
    """The mini-pack of tests/test_mutation.py that failed with error 303 (exclusive-distribution
    with its distribution test dropped, plus the deal rules its fixtures name): every fixture
    of the mutant runs, and the ones the mutation does not break pass."""
    from policycheck.io.reader import read_document
    from policycheck.ruletest.fixtures import Suite, load_suite, run_suite

    names = ["api-exclusive-to-partner-cloud", "compute-tied-to-partner", "developer-can-use-rival-providers",
             "exclusive-distribution", "exclusive-ip-rights", "funding-enables-entry",
             "investor-with-leading-position", "partner-product-integration", "right-of-first-refusal-not-exclusivity"]
    for name in names:
        data = read_document(ROOT / "rules" / "deals" / f"{name}.yaml").data
        if name == "exclusive-distribution":
            del data["when"]["all"][0]["where"]["distribution"]
        (tmp_path / "deals").mkdir(exist_ok=True)
        (tmp_path / "deals" / f"{name}.yaml").write_text(json.dumps(data), encoding="utf-8")
    pack = load_rules([tmp_path], bundled=False)
    tests = [t for t in load_suite([ROOT / "rules"]).tests if t.rule == "exclusive-distribution"]
    results = run_suite(Suite(tests), pack)   # an EngineError here is the bug coming back
    assert len(results) == len(tests) >= 5
    assert any(not r.passed for r in results) and any(r.passed for r in results)


def test_every_chunk_of_the_bundled_pack_fits_the_alpha_stack() -> None:
    from policycheck.engine.durable_translate import translate

    rules = translate(compile_pack(load_rules()))
    engine = Engine(rules)
    for group in engine._plan_groups:
        assert stack_depth([p.expression for i in group for p in rules[i].patterns]) <= STACK


_FIELDS = ("a", "b", "c")
_VALUES = (0, 1, 2, "1", "x", True, -100)


def _random_test(rnd: random.Random) -> dict[str, Any]:
    field, kind = rnd.choice(_FIELDS), rnd.randrange(6)
    if kind == 0:
        return {field: rnd.choice(_VALUES)}
    if kind == 1:
        return {rnd.choice(["$neq", "$gt", "$lte"]): {field: rnd.randrange(4)}}
    if kind == 2:
        return {"$lt": {field: rnd.randrange(-50, 0)}}   # holds for a fact value of -100 only
    if kind == 3:
        return {rnd.choice(["$ex", "$nex"]): {field: 1}}
    if kind == 4:
        return {"$iany": {"xs": {"$i": rnd.choice("pq")}}}
    return {"$gt": {field: -1000}}                       # holds for every number


def _random_pattern(rnd: random.Random) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    for _ in range(rnd.randint(1, 3)):
        kind = rnd.randrange(5)
        if kind < 2:
            parts.append({"$or": [_random_test(rnd) for _ in range(rnd.randint(2, 20))]})
        elif kind < 4:
            parts.append(rnd.choice([{"key": {"d": "k"}}, {"a": {"d": "a"}}]))
        else:
            parts.append(_random_test(rnd))
    return typed("lv", *parts)


def test_the_alpha_stack_model_is_sound_on_random_rulesets(monkeypatch: pytest.MonkeyPatch) -> None:
    """150 random rulesets in the adapter's dialect (5 to 40 rules), each in one chunk (the
    planner's bound lifted), against random facts: wherever durable fails a fact with error
    303, the model said more than 64 slots; the model is never below durable, and the cheap
    bound (the network's links, ``durable_prepare.edges``) never below the model."""
    rnd = random.Random(303)
    over = failed = 0
    for _ in range(150):
        patterns = [_random_pattern(rnd) for _ in range(rnd.randint(5, 40))]
        rules = [EngineRule(f"r{i}", (P("d", typed("deal")), P("v", p))) for i, p in enumerate(patterns)]
        depth = stack_depth([typed("deal"), *patterns])
        assert 1 + sum(edges(_canonical(p)) for p in [typed("deal"), *patterns]) >= depth   # the cheap bound holds
        monkeypatch.setattr(adapter, "STACK", 10_000)
        engine = Engine(rules)
        monkeypatch.undo()
        assert len(engine._plan_groups) == 1
        over += depth > STACK
        facts = [{"t": "lv", "key": rnd.choice("kj"), "a": rnd.choice(_VALUES), "b": rnd.choice(_VALUES),
                  "xs": rnd.sample("pq", rnd.randint(0, 2))} for _ in range(3)]
        try:
            engine.run([{"t": "deal", "k": "k", "a": 1}, *facts])
        except EngineError as exc:
            assert "303" in str(exc), exc
            failed += 1
            assert depth > STACK, (depth, patterns, facts)
    assert over > failed > 0, (over, failed)   # the examples reach the limit and beyond


def test_an_or_of_array_tests_is_pinned_at_64_on_both_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    """``contains_any`` compiles to an "or" of ``$iany`` nodes (never shared): a fact whose list
    holds all n values pushes n of them. 64 run; 65 are refused by the planner and, with its
    bound lifted, fail in durable with error 303."""
    def pattern(n: int) -> dict[str, Any]:
        return typed("lv", {"$or": [{"$iany": {"xs": {"$i": f"v{i}"}}} for i in range(n)]})

    def fact(n: int) -> dict[str, Any]:
        return {"t": "lv", "xs": [f"v{i}" for i in range(n)]}

    assert stack_depth([pattern(STACK)]) == STACK
    assert len(Engine([EngineRule("r", (P("v", pattern(STACK)),))]).run([fact(STACK)])) == 1
    with pytest.raises(EngineError, match="error 303"):
        Engine([EngineRule("r", (P("v", pattern(STACK + 1)),))])
    monkeypatch.setattr(adapter, "STACK", 10_000)
    with pytest.raises(EngineError, match="303"):
        Engine([EngineRule("r", (P("v", pattern(STACK + 1)),))]).run([fact(STACK + 1)])


def test_a_chunk_given_the_same_facts_again_is_not_run_again_and_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The assessment engine remembers each chunk's matches by the exact facts it was given
    (a run on another date of a case with the same facts in a chunk skips that chunk). Over the
    case library at every date the engine is run on, the matches equal those of an engine that
    remembers nothing, and durable is asked to assert fewer facts."""
    from policycheck.engine.durable_translate import translate
    from policycheck.facts import instants, spans

    translated = translate(compile_pack(load_rules()))
    remembering = DurableEngine.from_engine_rules(translated)
    plain = Engine(translated)
    calls = {"n": 0}
    real = adapter._dre.assert_fact

    def counting(*args: Any) -> Any:
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(adapter._dre, "assert_fact", counting)
    asked = {"remembering": 0, "plain": 0}
    for lc in load_cases([ROOT / "cases"]):
        for at in instants([s for *_, s in spans(lc)], lc.case.as_of):
            facts = flatten(lc, at)
            calls["n"] = 0
            got = remembering.run(facts)
            asked["remembering"] += calls["n"]
            calls["n"] = 0
            want = plain.run([to_engine_fact(f) for f in facts], labels=[f"{f.type} {f.id}" for f in facts])
            asked["plain"] += calls["n"]
            assert got == want, (lc.case.id, at)
    assert asked["remembering"] < asked["plain"] * 0.8, asked
