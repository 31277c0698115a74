"""Regression tests for the durable_rules adapter (src/policycheck/engine/durable*.py).

Every durable_rules 2.0.28 bug the adapter works around is pinned twice where that is cheap:
once showing the adapter handles it, and (for the raw library, in a subprocess when it can
crash or exhaust memory) once showing the upstream behaviour is still there. Section numbers
refer to the field notes summarised in docs/engine.md (which maps every bug to its guard and
to the test here that pins it); ``#N`` are jruizgit/rules issues.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
import threading

import durable_rules_engine
import pytest

from policycheck.engine import durable as adapter
from policycheck.engine.durable import Engine, EnginePattern, EngineRule, Match, engine_version
from policycheck.errors import EngineError

P = EnginePattern


def rule(name: str, *patterns: EnginePattern) -> EngineRule:
    return EngineRule(name, tuple(patterns))


def typed(t: str, *tests: dict) -> dict:
    return {"$and": [{"t": t}, *tests]} if tests else {"t": t}


def raw(script: str) -> subprocess.CompletedProcess[str]:
    """Run raw durable_rules code in a child process (it may segfault or eat memory)."""
    prologue = "import resource\nresource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
    return subprocess.run(
        [sys.executable, "-c", prologue + textwrap.dedent(script)],
        capture_output=True, text=True, timeout=60,
    )


_RAW_IDS = itertools.count()


def raw_host_ruleset(rules: dict) -> tuple[adapter._QuietHost, str]:
    """A throwaway quiet Host (no threads) holding one plain durable ruleset."""
    host = adapter._QuietHost()
    name = f"raw_test_{next(_RAW_IDS)}"
    host.register_rulesets({name: rules})
    return host, name


NOFIRM = rule(
    "deal-without-firm",
    P("d", typed("deal")),
    P("nf", typed("firm", {"firm_id": {"d": "firm_id"}}), negated=True),
)
DEALS = [{"t": "deal", "n": n, "firm_id": f} for n, f in (("d1", "F1"), ("d2", "F2"), ("d3", "F9"))]
FIRMS = [{"t": "firm", "firm_id": "F1"}, {"t": "firm", "firm_id": "F2"}]


def labels(engine: Engine, facts: list[dict]) -> list[tuple[str, tuple]]:
    """Matches with fact indices replaced by the facts' own "n" labels (order-independent)."""
    return sorted((m.rule, tuple((a, facts[i].get("n")) for a, i in m.facts)) for m in engine.run(facts))


# --- 1. Host timer threads (section 2) ------------------------------------------------------------

def test_host_timer_threads_disabled() -> None:
    """Section 2 "Disable the Host's background threads": Host.__init__ starts two Timer loops."""
    before = threading.active_count()
    engines = [Engine([rule(f"r{i}", P("a", typed("deal")))]) for i in range(30)]
    assert [e.run([{"t": "deal"}]) for e in engines][0] == [Match("r0", (("a", 0),))]
    assert threading.active_count() == before
    host = adapter._HOST  # one process-wide Host holds every Engine's rulesets
    assert host is not None and all(rs._name in host._ruleset_directory for e in engines for rs in e._chunks)
    upstream = raw("import threading; from durable import engine; engine.Host(); print(threading.active_count())")
    assert int(upstream.stdout) > 1, "upstream Host no longer starts timer threads"


# --- 2. register_rulesets pops "run"; our own ruleset JSON (section 1) ------------------------------

def test_register_rulesets_pops_run_and_exponent_threshold_error_204() -> None:
    """Section 1: register_rulesets deletes "run" from the caller's dict, and json.dumps writes
    1e+16 in rule thresholds, which create_ruleset rejects with error 204. The adapter writes the
    ruleset JSON itself and never mutates the caller's rules."""
    definition = {"r": {"all": [{"a": {"t": "deal"}}], "run": lambda c: None}}
    raw_host_ruleset(definition)
    assert "run" not in definition["r"]
    with pytest.raises(durable_rules_engine.error, match="204"):
        durable_rules_engine.create_ruleset("raw_204", json.dumps({"r": {"all": [{"a": {"$gt": {"x": 1e16}}}]}}))

    expression = typed("deal", {"$gt": {"amount": 1e16}})
    snapshot = json.dumps(expression)
    engine = Engine([rule("huge", P("d", expression))])
    assert json.dumps(expression) == snapshot
    assert engine.run([{"t": "deal", "amount": 2e16}, {"t": "deal", "amount": 9e15}]) == [Match("huge", (("d", 0),))]


def test_collectors_are_per_engine_when_interleaved() -> None:
    """Section 2 "Collect results without globals": two Engines interleaved never share hits."""
    one = Engine([rule("same", P("a", typed("deal")))])
    two = Engine([rule("same", P("a", typed("firm")))])
    for _ in range(20):
        assert one.run([{"t": "firm"}, {"t": "deal"}]) == [Match("same", (("a", 1),))]
        assert two.run([{"t": "firm"}, {"t": "deal"}]) == [Match("same", (("a", 0),))]


# --- 3. negation without truth maintenance (section 3) ----------------------------------------------

def test_negation_order_bug_sentinel_asserted_last() -> None:
    """Section 3 "Negation has no truth maintenance": deals before firms fire d1, d2, d3 in plain
    durable_rules; with the sentinel first and asserted last only d3 (firm F9 missing) fires."""
    host, name = raw_host_ruleset(
        {"r": {"all": [{"d": {"t": "deal"}}, {"nf$not": {"$and": [{"t": "firm"}, {"firm_id": {"d": "firm_id"}}]}}],
               "run": lambda c: fired.append(c.d.n)}}
    )
    fired: list[str] = []
    for fact in DEALS + FIRMS:
        host.assert_fact(name, dict(fact, sid="1"))
    assert sorted(fired) == ["d1", "d2", "d3"], "upstream negation bug changed"

    engine = Engine([NOFIRM])
    expected = [("deal-without-firm", (("d", "d3"),))]
    for order in itertools.permutations(DEALS + FIRMS):
        assert labels(engine, list(order)) == expected


# --- 4. delete_state crash (section 2) ---------------------------------------------------------------

def test_delete_state_crash_always_rule() -> None:
    """Section 2 "delete_state crash": deleting a session that never completed an action frees
    uninitialised memory. The adapter's internal always-firing rule makes it safe."""
    crash = raw(
        """
        from durable import engine
        class Q(engine.Host):
            def _run(self): pass
        h = Q()
        h.register_rulesets({"p": {"r": {"all": [{"a": {"t": "deal"}}], "run": lambda c: None}}})
        try:
            h.assert_fact("p", {"t": "firm", "sid": "1"})
        except engine.MessageNotHandledException:
            pass
        h.delete_state("p", "1")
        print("survived")
        """
    )
    assert crash.returncode != 0 and "survived" not in crash.stdout, "upstream delete_state crash is fixed?"

    engine = Engine([NOFIRM, rule("big", P("d", typed("deal", {"$gt": {"amount": 10}})))])
    for _ in range(200):
        assert engine.run([]) == []
        assert engine.run([{"t": "firm", "firm_id": "F1"}, {"t": "other"}]) == []


# --- 5. sessions and threads (sections 2 and 5) -----------------------------------------------------

def test_session_cap_1024_not_hit() -> None:
    """Section 2 "Sessions": the 1,025th live sid raises MemoryError. One sid per run, deleted."""
    cap = raw(
        """
        import durable_rules_engine as dre
        h = dre.create_ruleset("cap", '{"r": {"all": [{"a": {"t": "deal"}}]}}')
        for i in range(1100):
            try:
                dre.assert_fact(h, '{"t": "deal", "id": "x", "sid": "%d"}' % i)
            except MemoryError:
                print(i)
                break
        """
    )
    assert cap.stdout.strip() == "1024", "upstream session cap changed"

    engine = Engine([rule("deal", P("d", typed("deal")))])
    for _ in range(2000):
        assert engine.run([{"t": "deal"}]) == [Match("deal", (("d", 0),))]


def test_threads_crash_291_306_lock() -> None:
    """#291, #306 and section 5 "Threads": durable is not thread-safe; run() holds a process lock."""
    engine = Engine([NOFIRM, rule("firm", P("f", typed("firm")))])
    other = Engine([rule("deal", P("d", typed("deal")))])
    facts = DEALS + FIRMS
    expected = engine.run(facts)
    results: list[bool] = []

    def work(e: Engine) -> None:
        reference = e.run(facts)
        results.append(all(e.run(facts) == reference for _ in range(150)) and (e is not engine or reference == expected))

    threads = [threading.Thread(target=work, args=(engine if i % 2 else other,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 4


# --- 6. one fact at a time, simple ids (section 2) --------------------------------------------------

def test_assert_facts_batch_drops_facts_5000_distinct() -> None:
    """Section 2 "assert_facts traps" and #376 (32-bit id hash clashes): a batch silently stops at a
    fact the parser rejects; the adapter asserts 5,000 facts singly with ids f0..f4999."""
    host, name = raw_host_ruleset({"r": {"all": [{"a": {"t": "deal"}}], "run": lambda c: seen.append(c.a.n)}})
    seen: list[int] = []
    host.assert_facts(name, [{"t": "deal", "sid": "1", "n": 0}, {"t": "deal", "sid": "1", "n": 1, "x": 1e16},
                             {"t": "deal", "sid": "1", "n": 2}])
    assert seen == [0], "upstream batch behaviour changed"

    engine = Engine([rule("all", P("d", typed("deal")))])
    facts = [{"t": "deal", "n": i, "x": i * 1e12} for i in range(5000)]
    assert [m.facts for m in engine.run(facts)] == [(("d", i),) for i in range(5000)]


def test_message_not_handled_286_ignored_and_observed_is_error() -> None:
    """#286: a fact matching no pattern raises MessageNotHandledException upstream; the adapter
    ignores it. "Already observed" (code 2) becomes an EngineError naming the fact index."""
    engine = Engine([rule("deal", P("d", typed("deal")))])
    assert engine.run([{"t": "nothing"}, {"t": "deal"}]) == [Match("deal", (("d", 1),))]
    chunk = engine._chunks[0]
    payload = '{"id":"f0","sid":"dup","t":"deal"}'
    with pytest.raises(EngineError, match="fact 1: .*already observed"):
        adapter._run_chunk(chunk, [payload, payload], "dup", engine._collect)
    assert engine.run([{"t": "deal"}]) == [Match("deal", (("d", 0),))]


# --- 7. numbers (section 5 "Numbers") ---------------------------------------------------------------

def test_exponent_floats_rejected_by_c_parser_204() -> None:
    """Section 5 "Numbers": the C parser rejects 1e+16 / 3e-05 (error 204); the adapter writes
    1.0e+16. NaN/inf and integers beyond 64 bits are refused; bools stay JSON booleans."""
    with pytest.raises(durable_rules_engine.error, match="204"):
        durable_rules_engine.assert_fact(engine_ruleset_handle(), '{"t": "deal", "sid": "x", "v": 1e+16}')

    engine = Engine([
        rule("above-1e16", P("d", typed("deal", {"$gt": {"v": 1e16}}))),
        rule("below-1e-4", P("d", typed("deal", {"$lt": {"v": 1e-4}}))),
        rule("above-1e299", P("d", typed("deal", {"$gt": {"v": 1e299}}))),
    ])
    facts = [{"t": "deal", "v": v} for v in (1e16, 3e-05, 1.5e300, 2e16, 5.0, -1e-300)]
    got = {(m.rule, m.facts[0][1]) for m in engine.run(facts)}
    assert got == {("above-1e16", 2), ("above-1e16", 3), ("below-1e-4", 1), ("below-1e-4", 5), ("above-1e299", 2)}
    for bad in (math.nan, math.inf, -math.inf, 2**64):
        with pytest.raises(EngineError, match="fact 1"):
            engine.run([{"t": "deal"}, {"t": "deal", "v": {"nested": [bad]}}])
    assert adapter._encode({"b": True, "n": None, "f": 1e16, "g": 3e-05}) == '{"b":true,"n":null,"f":1.0e+16,"g":3.0e-05}'


def test_strings_round_trip_quotes_unicode() -> None:
    """Section 5 "Numbers" (last item): strings with quotes, backslashes, newlines or Unicode
    round-trip; the adapter writes them with json.dumps(ensure_ascii=False) on both sides."""
    odd = 'Ä "q" \\ back\nslash ✓ 模型'
    engine = Engine([rule("odd", P("d", typed("deal", {"name": odd})))])
    assert engine.run([{"t": "deal", "name": odd}, {"t": "deal", "name": odd[:-1]}]) == [Match("odd", (("d", 0),))]


def engine_ruleset_handle() -> int:
    return Engine([rule("x", P("d", typed("deal")))])._chunks[0]._handle


# --- 8. type coercion (section 1 table) -------------------------------------------------------------

def test_type_coercion_still_happens() -> None:
    """Section 1 "equality": the C core coerces types when comparing ("10" == 10, true == 1).
    Not fixable in the adapter; pinned so the compiler's typed validation stays necessary.
    Measured: the coercion is asymmetric and even depends on the other rules sharing the
    C ruleset (fact "10" vs literal 10 matches only when a literal "10" is registered first)."""
    def matching(literal: object, values: list[object], field: str = "v", op: str | None = None) -> list[int]:
        test = {op: {field: literal}} if op else {field: literal}
        engine = Engine([rule("r", P("d", typed("deal", test)))])
        return [m.facts[0][1] for m in engine.run([{"t": "deal", field: v} for v in values])]

    values: list[object] = [True, 1, "true", "1", False, 0, 1.0, 10, "10"]
    assert matching(True, values) == [0, 1, 2, 6]        # true == 1 == "true" == 1.0
    assert matching(1, values) == [0, 1, 6]
    assert matching(False, values) == [4, 5]             # false == 0
    assert matching("10", values) == [7, 8]              # int fact 10 == literal "10"
    assert matching(10, values) == [7]                   # ... but not the other way round, alone
    assert matching(1e16, ["x", 5], op="$gt") == [0]     # a string is "greater" than any number

    mixed = Engine([rule("eq-str", P("d", typed("deal", {"v": "10"}))), rule("eq-int", P("d", typed("deal", {"v": 10})))])
    assert [m.rule for m in mixed.run([{"t": "deal", "v": "10"}])] == ["eq-int", "eq-str"]


# --- 9. swallowed action exceptions (#305) ----------------------------------------------------------

def test_action_exception_swallowed_305(monkeypatch: pytest.MonkeyPatch) -> None:
    """#305 / section 2 "Actions": durable's action runner stores exceptions (even SystemExit) in
    state["exception"] and returns normally. The adapter drains the C action queue itself: a
    failing collector becomes an EngineError, the session is still freed, the Engine keeps working."""
    def boom(c: object) -> None:
        raise SystemExit("action broke")

    host, name = raw_host_ruleset({"r": {"all": [{"a": {"t": "deal"}}], "run": boom}})
    host.assert_fact(name, {"t": "deal", "sid": "1"})
    assert "action broke" in host.get_state(name, "1")["exception"], "upstream swallowing changed"

    engine = Engine([rule("deal", P("d", typed("deal")))])

    def failing(action: str, frame: dict) -> None:
        raise RuntimeError("collector broke")

    monkeypatch.setattr(engine, "_collect", failing)
    for _ in range(1100):  # each failure still frees its session: no MemoryError at 1,024
        with pytest.raises(EngineError, match="collector broke"):
            engine.run([{"t": "deal"}])
    monkeypatch.undo()
    assert engine.run([{"t": "deal"}]) == [Match("deal", (("d", 0),))]


def test_error_mid_case_still_frees_session_303(monkeypatch: pytest.MonkeyPatch) -> None:
    """Section 2 "delete_state crash" after "a batch that raised" + #312: when durable refuses a
    fact mid-case (here error 303 from a rule too wide for durable's alpha stack, registered with
    the planner's bound lifted), the adapter still asserts the sentinel, drains and deletes the
    session: 1,100 failing runs neither crash nor hit the cap."""
    monkeypatch.setattr(adapter, "STACK", 10_000)
    wide = typed("deal", {"$or": [{"$gt": {f"v{i}": 0}} for i in range(70)]})
    engine = Engine([rule("wide", P("d", wide)), rule("firm", P("f", typed("firm")))])
    bad = [{"t": "firm"}, {"t": "deal", **{f"v{i}": 1 for i in range(70)}}]
    for _ in range(1100):
        with pytest.raises(EngineError, match="fact 1: .*303"):
            engine.run(bad)
    assert engine.run([{"t": "firm"}]) == [Match("firm", (("f", 0),))]


# --- 10. limits per C ruleset (section 5) -----------------------------------------------------------

def test_chunking_error_108_identical_first_pattern_140() -> None:
    """#140 / section 5 "Limits": 257 rules behind an identical first pattern give error 108.
    Measured: the check reads one slot past a fixed-size list, so in a process with a different
    heap layout it can pass silently and write out of bounds; hence the subprocess here and
    the hard chunk_size limit (<= 50) in the adapter."""
    limit = raw(
        """
        import json, durable_rules_engine as dre
        rules = {"r%d" % i: {"all": [{"a": {"t": "deal"}}]} for i in range(257)}
        try:
            dre.create_ruleset("raw_108", json.dumps(rules))
        except dre.error as exc:
            print(exc)
        """
    )
    assert "error code: 108" in limit.stdout, "upstream rule limit changed"
    engine = Engine([rule(f"same-{i:03}", P("d", typed("deal"))) for i in range(300)])
    assert len(engine._chunks) == 8
    assert [m.rule for m in engine.run([{"t": "deal"}])] == [f"same-{i:03}" for i in range(300)]


def test_chunking_error_303_alpha_stack_312() -> None:
    """#312 / section 5 "Limits": one fact matching more than 64 alpha tests gives error 303 (the
    alpha stack); 40 rules of two distinct patterns (80 tests) must be split further."""
    definition = {f"r{i}": {"all": [{"a": typed("deal", {"$gt": {"v": i}})}]} for i in range(65)}
    handle = durable_rules_engine.create_ruleset("raw_303", json.dumps(definition))
    with pytest.raises(durable_rules_engine.error, match="303"):
        durable_rules_engine.assert_fact(handle, '{"t": "deal", "v": 1000, "sid": "1"}')

    rules = [rule(f"r{i:02}", P("a", typed("deal", {"$gt": {"v": i}})), P("b", typed("deal", {"$lt": {"w": 100 + i}})))
             for i in range(40)]
    engine = Engine(rules)
    assert len(engine._chunks) >= 2
    got = engine.run([{"t": "deal", "v": 1000, "w": 0}, {"t": "deal", "v": 1000, "w": 0}])
    assert [m.rule for m in got] == [r.name for r in rules for _ in range(2)]
    with pytest.raises(EngineError, match="chunk_size"):
        Engine(rules, chunk_size=51)


# --- 11. events vs facts (#190) ---------------------------------------------------------------------

def test_events_fire_one_rule_190() -> None:
    """#190 / section 2 "Facts vs events": a posted event fires one rule; facts fire every rule."""
    host, name = raw_host_ruleset({
        "r1": {"all": [{"a": {"t": "deal"}}], "run": lambda c: fired.append(1)},
        "r2": {"all": [{"a": {"t": "deal"}}], "run": lambda c: fired.append(2)},
    })
    fired: list[int] = []
    host.post(name, {"t": "deal", "sid": "1"})
    assert len(fired) == 1, "upstream event consumption changed"
    engine = Engine([rule("r1", P("a", typed("deal"))), rule("r2", P("b", typed("deal")))])
    assert engine.run([{"t": "deal"}]) == [Match("r1", (("a", 0),)), Match("r2", (("b", 0),))]


# --- 12. priority / firing order (#190, section 1 "pri") --------------------------------------------

def test_equal_priority_order_not_guaranteed_sorted() -> None:
    """Section 1 "pri" and #190: firing order is unspecified; results are identical for 50
    shuffled fact orders (compared through the facts' labels) and for repeated runs."""
    engine = Engine([NOFIRM, rule("pair", P("d", typed("deal")), P("f", typed("firm", {"firm_id": {"d": "firm_id"}})))])
    facts = [dict(f, n=f.get("n", f["firm_id"])) for f in DEALS + FIRMS]
    reference = labels(engine, facts)
    assert len(reference) == 3
    rng = random.Random(7)
    for _ in range(50):
        shuffled = facts[:]
        rng.shuffle(shuffled)
        assert labels(engine, shuffled) == reference
        result = engine.run(shuffled)
        assert result == sorted(result, key=lambda m: (m.rule, m.facts)) == engine.run(shuffled)


# --- 13. property limit 302 (section 3) -------------------------------------------------------------

def test_property_limit_302() -> None:
    """Section 3: objects with more than about 250 properties (nested included) give error 302.
    The adapter refuses facts with more than 200 keys, naming the fact index."""
    with pytest.raises(durable_rules_engine.error, match="302"):
        fact = {"t": "deal", "sid": "1", **{f"k{i}": i for i in range(260)}}
        durable_rules_engine.assert_fact(engine_ruleset_handle(), json.dumps(fact))
    engine = Engine([rule("deal", P("d", typed("deal")))])
    ok = {"t": "deal", "o": {f"k{i}": i for i in range(197)}, "list": [{"a": i} for i in range(300)]}
    assert engine.run([ok]) == [Match("deal", (("d", 0),))]
    with pytest.raises(EngineError, match="fact 1: 201 keys"):
        engine.run([ok, {"t": "deal", "o": {"p": {f"k{i}": i for i in range(198)}}}])


# --- 14. dist (#83) ---------------------------------------------------------------------------------

def test_dist_both_orders_fire_83() -> None:
    """#83 / section 1 "dist": with two slots of one type (A, B) and (B, A) both fire, (A, A) never;
    callers that want unordered pairs must dedupe."""
    engine = Engine([rule("pair", P("x", typed("deal")), P("y", typed("deal")))])
    got = engine.run([{"t": "deal"}, {"t": "deal"}])
    assert got == [Match("pair", (("x", 0), ("y", 1))), Match("pair", (("x", 1), ("y", 0)))]


# --- 15. joins, arrays, nested paths, negation with join (section 3) --------------------------------

def test_joins_iany_nested_paths_and_not_with_join() -> None:
    """Section 3 "Arrays and nested objects" and section 1 join references."""
    engine = Engine([
        rule("tagged", P("d", typed("deal", {"$iany": {"tags": {"$i": "ai"}}}))),
        rule("big-pay", P("d", typed("deal", {"$iany": {"pay": {"$gt": {"$i.amt": 100}}}}))),
        rule("score", P("d", typed("deal", {"$gte": {"info.score": 5}}))),
        rule("invests", P("dev", typed("firm")), P("d", typed("deal", {"investor": {"dev": "name"}}))),
        rule("later", P("a", typed("deal")), P("b", typed("deal", {"$gt": {"date": {"a": "date"}}}))),
        rule("orphan", P("d", typed("deal")), P("f", typed("firm", {"name": {"d": "investor"}}), negated=True)),
    ])
    facts = [
        {"t": "firm", "name": "Dev"},
        {"t": "deal", "investor": "Dev", "date": "2024-01-01", "tags": ["x", "ai"], "info": {"score": 7}},
        {"t": "deal", "investor": "Nobody", "date": "2024-02-01", "pay": [{"amt": 5}, {"amt": 500}]},
    ]
    assert engine.run(facts) == [
        Match("big-pay", (("d", 2),)),
        Match("invests", (("dev", 0), ("d", 1))),
        Match("later", (("a", 1), ("b", 2))),
        Match("orphan", (("d", 2),)),
        Match("score", (("d", 1),)),
        Match("tagged", (("d", 1),)),
    ]


# --- 16. rulesets leak (#137, #136) -----------------------------------------------------------------

def test_rulesets_never_deleted_137(monkeypatch: pytest.MonkeyPatch) -> None:
    """#137 / #136: rulesets cannot be freed safely; the adapter never calls delete_ruleset."""
    def forbidden(*args: object) -> None:
        raise AssertionError("delete_ruleset called")

    monkeypatch.setattr(durable_rules_engine, "delete_ruleset", forbidden)
    engine = Engine([NOFIRM])
    assert len(engine.run(DEALS + FIRMS)) == 1
    del engine


# --- 17. bugs found while integrating (not in the field notes) ----------------------------------------

def test_join_after_nested_group_is_ignored() -> None:
    """Found here, not in the field notes (docs/engine.md): the C beta evaluator (reduceExpressionSequence) stops at
    the end of the first nested group, so a join written after any $and/$or/$iany group of the same
    pattern is silently ignored (cross-product matches). The adapter moves joins first."""
    group = {"$and": [{"$neq": {"seq": 5}}, {"$neq": {"seq": 6}}]}
    new = {"$and": [{"t": "lv"}, group, {"licence": {"old": "licence"}}]}
    host, name = raw_host_ruleset({"r": {"all": [{"old": {"t": "lv"}}, {"new": new}],
                                         "run": lambda c: pairs.append((c.old.n, c.new.n))}})
    pairs: list[tuple[int, int]] = []
    facts = [{"t": "lv", "licence": "a", "seq": 1, "n": 0}, {"t": "lv", "licence": "b", "seq": 2, "n": 1}]
    for fact in facts:
        host.assert_fact(name, dict(fact, sid="1"))
    assert sorted(pairs) == [(0, 1), (1, 0)], "upstream nested-group bug changed"

    for before in (group, {"$or": [{"seq": 1}, {"seq": 2}]}, {"$iany": {"tags": {"$i": "x"}}}):
        engine = Engine([rule("r", P("old", typed("lv")), P("new", typed("lv", before, {"licence": {"old": "licence"}})))])
        assert engine.run([dict(f, tags=["x"]) for f in facts]) == []
        together = [dict(facts[0], tags=["x"]), dict(facts[0], tags=["x"], seq=2)]
        assert [m.facts for m in engine.run(together)] == [(("old", 0), ("new", 1)), (("old", 1), ("new", 0))]


def test_multi_key_test_objects_ignore_all_but_first_key() -> None:
    """Found here: durable reads only the first key of a test object, so {"t": "deal", "amount": 5}
    also matches amount 6. The adapter refuses such objects (write one test per object)."""
    host, name = raw_host_ruleset({"r": {"all": [{"d": {"t": "deal", "amount": 5}}], "run": lambda c: seen.append(c.d.amount)}})
    seen: list[int] = []
    host.assert_fact(name, {"t": "deal", "amount": 6, "sid": "1"})
    assert seen == [6], "upstream multi-key behaviour changed"
    for expression in ({"t": "deal", "amount": 5}, typed("deal", {"$gt": {"a": 1, "b": 1}})):
        with pytest.raises(EngineError, match="exactly one"):
            Engine([rule("r", P("d", expression))])


def test_joins_inside_or_and_or_inside_iall_are_refused() -> None:
    """Found here: joins inside $or/$iany/$iall are evaluated by the same broken sequence walk, and
    $or inside $iany/$iall makes createAlpha read uninitialised memory (random error 102 at
    registration). The adapter rewrites $iany-of-$or to $or-of-$iany and refuses the rest."""
    in_or = typed("lv", {"$or": [{"licence": {"old": "licence"}}, {"seq": 1}]})
    with pytest.raises(EngineError, match="joins inside"):
        Engine([rule("r", P("old", typed("lv")), P("new", in_or))])
    with pytest.raises(EngineError, match=r"\$or inside \$iall"):
        Engine([rule("r", P("v", typed("party", {"$iall": {"roles": {"$or": [{"$i": "a"}, {"$i": "b"}]}}})))])
    engine = Engine([rule("r", P("v", typed("party", {"$iany": {"roles": {"$or": [{"$i": "a"}, {"$i": "b"}]}}})))])
    facts = [{"t": "party", "roles": r} for r in (["a"], ["x", "b"], ["x"], [])]
    assert [m.facts for m in engine.run(facts)] == [(("v", 0),), (("v", 1),)]


VALGRIND_SCRIPT = """
import json, durable_rules_engine as dre
from policycheck.engine.durable import Engine, EngineRule, EnginePattern as P
new = {"$and": [{"t": "lv"}, {"$gt": {"seq": {"old": "seq"}}}]}
iany = {"$and": [{"t": "lv"}, {"$iany": {"roles": {"$or": [{"$i": "a"}, {"$i": "b"}]}}}]}
facts = [{"t": "lv", "seq": 1, "roles": ["a"]}, {"t": "lv", "seq": 2, "roles": []}, {"t": "lv", "seq": 1, "roles": []}]
engine = Engine([EngineRule("j", (P("old", {"t": "lv"}), P("new", new))), EngineRule("i", (P("v", iany),))])
print(len(engine.run(facts)), "ADAPTER-DONE", flush=True)
dre.create_ruleset("raw_i", json.dumps({"r": {"all": [{"v": iany}]}}))
h = dre.create_ruleset("raw_j", json.dumps({"r": {"all": [{"old": {"t": "lv"}}, {"new": new}]}}))
for i, f in enumerate(facts):
    dre.assert_fact(h, json.dumps(dict(f, id="f%d" % i, sid="1")))
print("RAW-DONE", flush=True)
"""


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_last_join_out_of_bounds_read_and_iany_or_uninitialised_valgrind() -> None:
    """Found here: when the LAST join of a pattern is false, reduceExpressionSequence skips the
    sequence's OP_END and reads past the node pool until a byte happens to equal OP_END (a
    segfault in an earlier full test run); $or inside $iany reads uninitialised memory in
    createAlpha. Under valgrind the adapter's use is clean and the raw use is not (the pin)."""
    env = dict(os.environ, PYTHONMALLOC="malloc", PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        ["valgrind", "-q", "--log-fd=1", sys.executable, "-u", "-c", VALGRIND_SCRIPT],
        capture_output=True, text=True, timeout=300, env=env,
    ).stdout
    adapter_part, _, raw_part = out.partition("ADAPTER-DONE")
    assert "RAW-DONE" in raw_part, out[-2000:]

    def durable_errors(text: str) -> list[str]:  # valgrind separates reports by an empty "==PID== " line
        blocks = re.split(r"==\d+== *\n", text)
        return [b.strip() for b in blocks if "durable_rules_engine" in b and ("Invalid" in b or "uninit" in b)]

    assert durable_errors(adapter_part) == []
    found = " ".join(durable_errors(raw_part))
    # The uninitialised read in createAlpha is reported every time. The stray read of the last
    # join lands wherever the heap layout puts the bytes after the node pool: valgrind reports it
    # only when that is outside a live block, which depends on the process's environment (it is
    # reported when this test runs alone, not always inside the full suite), so it cannot be
    # required here. The adapter's guard for it is pinned by the join tests above and by the
    # adapter part of this run being clean.
    assert "uninitialised" in found, "upstream memory bugs changed?"


# --- validation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([rule("a", P("x", typed("deal"))), rule("a", P("x", typed("deal")))], "defined twice"),
        ([rule("a", P("X", typed("deal")))], "alias 'X'"),
        ([rule("a", P("s__", typed("deal")))], "alias 's__'"),
        ([rule("a", P("x", typed("deal")), P("x", typed("deal")))], "used twice"),
        ([rule("a", P("x", typed("deal"), negated=True))], "first pattern"),
        ([rule("a")], "first pattern"),
        ([rule("a", P("x", typed("deal", {"f": {"y": "g"}})), P("y", typed("deal")))], "refers to 'y'"),
        ([rule("a", P("x", typed("deal")), P("n", typed("deal"), negated=True),
               P("y", typed("deal", {"$gt": {"f": {"$mul": {"$l": {"n": "g"}, "$r": 2}}}})))], "refers to 'n'"),
        ([rule("a", P("x", typed("deal", {"$gt": {"v": math.nan}})))], "not finite"),
        ([rule("", P("x", typed("deal")))], "printable"),
    ],
)
def test_rule_validation(rules: list[EngineRule], message: str) -> None:
    with pytest.raises(EngineError, match=message):
        Engine(rules)


@pytest.mark.parametrize(
    ("fact", "message"),
    [
        ({"t": "deal", "id": 1}, "reserved"),
        ({"t": "deal", "sid": "1"}, "reserved"),
        ({"t": "deal", "$s": 1}, "reserved"),
        ({"n": 1}, "'t'"),
        ({"t": "__sentinel__"}, "'t'"),
        ({"t": "deal", "v": object()}, "not JSON"),
    ],
)
def test_fact_validation(fact: dict, message: str) -> None:
    engine = Engine([rule("deal", P("d", typed("deal")))])
    with pytest.raises(EngineError, match=f"fact 1: .*{message}"):
        engine.run([{"t": "deal"}, fact])
    assert engine.run([{"t": "deal"}]) == [Match("deal", (("d", 0),))]


def test_engine_version() -> None:
    """pyproject pins durable-rules==2.0.28; every pin above was measured against it."""
    assert engine_version() == "2.0.28"


# --- 18. what the translation (durable_translate) and the load-time checks (durable_checks) handle --

from policycheck.compile import ir  # noqa: E402
from policycheck.engine.durable_backend import DurableEngine  # noqa: E402
from policycheck.engine.durable_translate import engine_fact, translate  # noqa: E402


def _compiled(name: str, *rules: ir.EngineRule) -> ir.CompiledRule:
    """A one-alternative compiled rule whose main rule is ``rules[0]`` (present/complete reuse it)."""
    main = rules[0]
    alt = ir.Alternative(0, tuple(p.alias for p in main.patterns if not p.negated), {}, {}, main,
                         ir.EngineRule(name + "|present", main.patterns), ir.EngineRule(name + "|complete", main.patterns),
                         tuple(rules[1:]))
    return ir.CompiledRule(name, (alt,))


def test_ordering_join_to_an_absent_field_error_311_is_guarded() -> None:
    """Raw durable raises error 311 (and leaks the session) when an ordering join reads a field the
    referenced fact lacks; the translation makes the referenced pattern require the field."""
    raw = rule("j", P("a", {"t": "x"}), P("b", typed("y", {"$gt": {"n": {"a": "n"}}})))
    with pytest.raises(EngineError, match="311"):
        Engine([raw]).run([{"t": "x"}, {"t": "y", "n": 2}])
    main = ir.EngineRule("g|main", (ir.Pattern("a", "x"), ir.Pattern("b", "y", (ir.Ref("n", "gt", "a", "n"),))))
    (translated, *_) = translate([_compiled("g", main)])
    assert translated.patterns[0].expression == {"$and": [{"t": "x"}, {"$ex": {"n": 1}}]}
    assert Engine([translated]).run([{"t": "x"}, {"t": "y", "n": 2}]) == []
    assert Engine([translated]).run([{"t": "x", "n": 1}, {"t": "y", "n": 2}]) == [Match("g|main", (("a", 0), ("b", 1)))]


def test_same_fact_reference_to_an_absent_field_is_guarded() -> None:
    """Raw durable matches ``n > $m.m`` on a fact without ``m``; the translation requires both fields."""
    raw = rule("s", P("a", typed("x", {"$gt": {"n": {"$m": "m"}}})))
    assert Engine([raw]).run([{"t": "x", "n": 2}]) == [Match("s", (("a", 0),))]
    main = ir.EngineRule("s|main", (ir.Pattern("a", "x", (ir.Ref("n", "gt", "a", "m", same=True),)),))
    (translated, *_) = translate([_compiled("s", main)])
    assert Engine([translated]).run([{"t": "x", "n": 2}]) == []
    assert Engine([translated]).run([{"t": "x", "n": 2, "m": 1}]) == [Match("s|main", (("a", 0),))]


def test_contains_any_is_written_as_or_of_iany() -> None:
    """$or inside $iany is mis-registered (random error 102): the translation never writes it."""
    test = ir.Either((ir.Contains("roles", "a"), ir.Contains("roles", "b")))
    (translated, *_) = translate([_compiled("c", ir.EngineRule("c|main", (ir.Pattern("v", "party", (test,)),)))])
    assert translated.patterns[0].expression == {"$and": [{"t": "party"}, {"$or": [
        {"$iany": {"roles": {"$i": "a"}}}, {"$iany": {"roles": {"$i": "b"}}}]}]}


def test_fact_encoding_id_as_key_and_unknown_markers() -> None:
    """durable reserves ``id`` (the vocabulary's travels as ``key``); unknown and unstated fields
    are absent, with a ``u__`` marker that ``Known`` tests."""
    assert engine_fact("party", {"id": "lab", "name": "Lab"}, {"roles", "id"}) == {
        "t": "party", "key": "lab", "name": "Lab", "u__key": 1, "u__roles": 1, "w__live": 1}
    assert "w__live" not in engine_fact("party", {"id": "lab"}, (), live=False)
    known = ir.EngineRule("k|main", (ir.Pattern("v", "party", (ir.Known("roles"), ir.Compare("id", "eq", "lab"))),))
    (translated, *_) = translate([_compiled("k", known)])
    assert translated.patterns[0].expression == {"$and": [{"t": "party"}, {"$nex": {"u__roles": 1}}, {"key": "lab"}]}
    engine = Engine([translated])
    assert engine.run([engine_fact("party", {"id": "lab"}, ()), engine_fact("party", {"id": "lab"}, {"roles"})]) \
        == [Match("k|main", (("v", 0),))]


def test_the_durable_engine_runs_policycheck_facts() -> None:
    from policycheck.facts import Fact

    main = ir.EngineRule("f|main", (ir.Pattern("v", "party", (ir.Compare("id", "eq", "lab"),)),))
    engine = DurableEngine([_compiled("f", main)])
    facts = [Fact(type="party", id="lab", case_id="c", file="c.yaml", path=(), values={"id": "lab"},
                  unknown=frozenset(), unstated=frozenset(), origins={})]
    assert [m for m in engine.run(facts) if m.rule == "f|main"] == [Match("f|main", (("v", 0),))]


def test_iall_on_an_empty_list_is_false_so_lacks_reads_the_length() -> None:
    """Raw durable: ``$iall`` over ``[]`` is false, so "every item differs" misses an empty list.
    ``Lacks`` is written as "length 0, or every item differs" over ``n__<field>``, and an
    unknown list (no value, a ``u__`` marker) lacks nothing."""
    raw = rule("r", P("a", typed("party", {"$iall": {"roles": {"$neq": {"$i": "x"}}}})))
    assert Engine([raw]).run([{"t": "party", "roles": []}]) == []
    lacks = ir.EngineRule("l|main", (ir.Pattern("v", "party", (ir.Lacks("roles", "x"),)),))
    (translated, *_) = translate([_compiled("l", lacks)])
    engine = Engine([translated])
    facts = [engine_fact("party", {"roles": []}, ()), engine_fact("party", {"roles": ["y"]}, ()),
             engine_fact("party", {"roles": ["x", "y"]}, ()), engine_fact("party", {}, {"roles"})]
    assert facts[0]["n__roles"] == 0
    assert [m.facts[0][1] for m in engine.run(facts)] == [0, 1]


def test_exists_false_does_not_match_an_unknown_field() -> None:
    """Raw ``$nex`` matches a field left out because it is unknown; ``Exists(f, False)`` also
    requires no ``u__`` marker, so only a field the fact says it lacks matches."""
    raw = rule("n", P("a", typed("party", {"$nex": {"roles": 1}})))
    assert Engine([raw]).run([engine_fact("party", {}, {"roles"})]) == [Match("n", (("a", 0),))]
    absent = ir.EngineRule("e|main", (ir.Pattern("v", "party", (ir.Exists("roles", False),)),))
    (translated, *_) = translate([_compiled("e", absent)])
    engine = Engine([translated])
    assert [m.facts[0][1] for m in engine.run([engine_fact("party", {}, {"roles"}), engine_fact("party", {}, ())])] == [1]


def test_scale_comparisons_join_on_places_and_are_guarded_against_error_311() -> None:
    """A ``stricter`` join compares the values' places on their scale (``r__<field>``, added to
    every fact that knows a scaled value); the referenced pattern requires its place, so a fact
    with an unknown value never reaches the join (error 311 otherwise)."""
    ref = ir.Ref("commercial_use", "gt", "prev", "commercial_use", rank=True)
    main = ir.EngineRule("k|main", (ir.Pattern("prev", "licence_version"), ir.Pattern("cur", "licence_version", (ref,))))
    (translated, *_) = translate([_compiled("k", main)])
    assert translated.patterns[0].expression == {"$and": [{"t": "licence_version"}, {"$ex": {"r__commercial_use": 1}}]}
    engine = Engine([translated])
    allowed, prohibited = ({"commercial_use": v} for v in ("allowed", "prohibited"))
    facts = [engine_fact("licence_version", allowed, ()), engine_fact("licence_version", prohibited, ()),
             engine_fact("licence_version", {}, {"commercial_use"})]
    assert (facts[0]["r__commercial_use"], facts[1]["r__commercial_use"]) == (0, 2)
    assert [tuple(i for _, i in m.facts) for m in engine.run(facts)] == [(0, 1)]


def test_live_is_a_marker_on_facts_in_force() -> None:
    live = ir.EngineRule("w|main", (ir.Pattern("v", "party", scope=(ir.Live(),)),))
    (translated, *_) = translate([_compiled("w", live)])
    engine = Engine([translated])
    assert [m.facts[0][1] for m in engine.run([engine_fact("party", {}, (), live=False),
                                               engine_fact("party", {}, ())])] == [1]
