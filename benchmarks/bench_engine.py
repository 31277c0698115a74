"""Throughput of policycheck.engine.durable.Engine against a naive pure-Python evaluation loop.

Plain script (not a pytest test):

    PYTHONPATH=src .venv/bin/python benchmarks/bench_engine.py [--cases 1000]

Workload as in the durable field notes, section 4 (see docs/engine.md): 50 rules (35 filters, 10 deal/firm joins,
5 negations) and synthetic cases of 100 facts (20 firms, 80 deals). Both evaluators are run
on the same cases in the same process; their results are compared on every case first.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from policycheck.engine.durable import Engine, EnginePattern, EngineRule, Match, engine_version

Fact = dict[str, Any]
SECTORS = ("cloud", "chips", "models", "data", "apps")


def build_rules(scale: float) -> tuple[list[EngineRule], list[Callable[[list[Fact]], list[Match]]]]:
    """The same 50 rules twice: as EngineRules and as naive Python evaluators.

    ``scale`` multiplies every amount threshold: 1 gives a dense workload (~600 matches per
    case), 1000 a sparse one (~100 matches per case, closer to real policy checks)."""
    rules: list[EngineRule] = []
    naive: list[Callable[[list[Fact]], list[Match]]] = []

    def deal_filter(name: str, threshold: float, sector: str) -> None:
        expr = {"$and": [{"t": "deal"}, {"$gt": {"amount": threshold}}, {"sector": sector}]}
        rules.append(EngineRule(name, (EnginePattern("d", expr),)))

        def run(facts: list[Fact]) -> list[Match]:
            return [Match(name, (("d", i),)) for i, f in enumerate(facts)
                    if f["t"] == "deal" and f["amount"] > threshold and f["sector"] == sector]
        naive.append(run)

    def join(name: str, threshold: float, size: int, negated: bool) -> None:
        deal = {"$and": [{"t": "deal"}, {"$gt": {"amount": threshold}}]}
        firm = {"$and": [{"t": "firm"}, {"firm_id": {"d": "firm_id"}}, {"$gt": {"size": size}}]}
        rules.append(EngineRule(name, (EnginePattern("d", deal), EnginePattern("f", firm, negated))))

        def run(facts: list[Fact]) -> list[Match]:
            out = []
            for i, d in enumerate(facts):
                if d["t"] != "deal" or not d["amount"] > threshold:
                    continue
                firms = [j for j, f in enumerate(facts)
                         if f["t"] == "firm" and f["firm_id"] == d["firm_id"] and f["size"] > size]
                if negated:
                    out += [Match(name, (("d", i),))] if not firms else []
                else:
                    out += [Match(name, (("d", i), ("f", j))) for j in firms]
            return out
        naive.append(run)

    for i in range(35):
        deal_filter(f"filter-{i:02}", scale * 10.0 ** (3 + i % 7), SECTORS[i % len(SECTORS)])
    for i in range(10):
        join(f"join-{i:02}", scale * 10.0 ** (4 + i % 5), 50 * (i % 4), negated=False)
    for i in range(5):
        join(f"absent-{i:02}", scale * 10.0 ** (5 + i), 900, negated=True)
    return rules, naive


def make_case(rng: random.Random) -> list[Fact]:
    firms: list[Fact] = [{"t": "firm", "firm_id": f"F{i}", "size": rng.randrange(1000)} for i in range(20)]
    deals: list[Fact] = [
        {"t": "deal", "firm_id": f"F{rng.randrange(25)}", "sector": rng.choice(SECTORS),
         "amount": rng.choice([float(rng.randrange(10**6)), 10.0 ** rng.randrange(2, 12)])}
        for _ in range(80)
    ]
    facts = firms + deals
    rng.shuffle(facts)
    return facts


def naive_run(evaluators: list[Callable[[list[Fact]], list[Match]]], facts: list[Fact]) -> list[Match]:
    return sorted({m for run in evaluators for m in run(facts)}, key=lambda m: (m.rule, m.facts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="sparse cases (default 1000)")
    parser.add_argument("--dense-cases", type=int, default=300, help="dense cases (default 300)")
    parser.add_argument("--chunk-size", type=int, default=40, help="Engine chunk_size (default 40)")
    args = parser.parse_args()
    rng = random.Random(20240901)
    all_cases = [make_case(rng) for _ in range(max(args.cases, args.dense_cases))]
    print(f"durable-rules {engine_version()}; cases of 100 facts (20 firms, 80 deals); "
          f"50 rules (35 filters, 10 joins, 5 negations); chunk_size {args.chunk_size}")
    worst = 0
    for label, scale, count in (("sparse", 1000.0, args.cases), ("dense", 1.0, args.dense_cases)):
        cases = all_cases[:count]
        rules, evaluators = build_rules(scale)
        start = time.perf_counter()
        engine = Engine(rules, chunk_size=args.chunk_size)
        register_ms = (time.perf_counter() - start) * 1000

        start = time.perf_counter()
        got = [engine.run(facts) for facts in cases]
        engine_s = time.perf_counter() - start
        start = time.perf_counter()
        expected = [naive_run(evaluators, facts) for facts in cases]
        naive_s = time.perf_counter() - start
        if got != expected:
            print(f"{label}: MISMATCH between Engine and the naive evaluation", file=sys.stderr)
            worst = 1
        matches = sum(map(len, expected)) / count
        engine_rate, naive_rate = count / engine_s, count / naive_s
        print(f"\n{label}: {count} cases, {matches:.0f} matches per case; {len(engine._chunks)} C rulesets registered "
              f"in {register_ms:.1f} ms; results {'identical' if got == expected else 'DIFFERENT'}")
        print(f"  engine: {engine_rate:7.1f} cases/s ({1000 * engine_s / count:6.2f} ms/case)")
        print(f"  naive : {naive_rate:7.1f} cases/s ({1000 * naive_s / count:6.2f} ms/case)")
        print(f"  ratio engine/naive: {engine_rate / naive_rate:.2f}x")
    return worst


if __name__ == "__main__":
    sys.exit(main())
