"""Pins for the durable_rules limits the load-time checks model (engine/durable_shape.py), and
for the adapter's per-chunk fact filtering (docs/engine.md).

Each limit is pinned on both sides: the largest shape the static model accepts registers and
runs in the real engine, and the first shape it refuses fails in the real engine the way the
model says (error 113, error 303, or a hang, the last in a child process with a timeout). A
durable_rules release that moved a limit would fail here, not in a user's CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from policycheck.engine import durable as adapter
from policycheck.engine.durable import Engine, EnginePattern as P, EngineRule
from policycheck.engine.durable_backend import DurableEngine
from policycheck.engine.durable_shape import AT_ONCE, EQ_SIBLINGS, SEQUENCE, registration_problems
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


def test_alpha_stack_303_pinned_on_both_sides() -> None:
    def wide(n: int) -> dict[str, Any]:
        return typed("lv", {"$or": [{"$gt": {"seq": i}} for i in range(n)]})

    assert registration_problems("v", wide(AT_ONCE)) == []
    assert "error 303" in registration_problems("v", wide(65))[0]
    assert len(Engine([EngineRule("at-once", (P("v", wide(AT_ONCE)),))]).run([{"t": "lv", "seq": 1000}])) == 1
    engine = Engine([EngineRule("too-wide", (P("v", wide(65)),))])
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
