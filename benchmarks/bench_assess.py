"""Corpus-scale speed of `assess`, as ratios against baselines measured in the same run.

Plain script (not a pytest test; the machines are shared and noisy, so no timed tests):

    .venv/bin/python benchmarks/bench_assess.py [--copies 20]

Corpus: every bundled case file, loaded ``--copies`` times (each copy a distinct case id).
Reported, per case:
- floor:      load + flatten only (what any evaluator must pay);
- engine:     policycheck's product path: flatten + durable_rules engine + flags/statuses;
- reference:  the pure-Python reference evaluator of the rule language (tests/reference_eval.py),
              a stand-in for hand-written Python rules;
- cold start: loading and compiling the bundled pack, and registering it in the engine (once per process).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from policycheck.compile import compile_pack  # noqa: E402
from policycheck.evaluate import assess_case, engine_for  # noqa: E402
from policycheck.load.cases import LoadedCase, case_from_document, iter_case_files, load_case  # noqa: E402
from policycheck.facts import flatten  # noqa: E402
from policycheck.load.rules import load_rules  # noqa: E402
from policycheck.io.reader import Document  # noqa: E402
from reference_eval import evaluate  # noqa: E402


def corpus(copies: int) -> list[LoadedCase]:
    out = []
    for path in iter_case_files([ROOT / "cases"]):
        base = load_case(path)
        for i in range(copies):
            data = dict(base.document.data, id=f"{base.case.id}-{i}")
            out.append(case_from_document(Document(base.file, data, base.document.places)))
    return out


def timed(fn, rounds: int = 3) -> float:
    best = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best.append(time.perf_counter() - start)
    return statistics.median(best)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()

    start = time.perf_counter()
    pack = load_rules()
    engine = engine_for(pack)
    cold = time.perf_counter() - start
    cases = corpus(args.copies)
    rules = [r.spec for r in pack.rules]
    n = len(cases)

    floor = timed(lambda: [flatten(c) for c in cases])
    product = timed(lambda: [assess_case(c, pack, engine) for c in cases])
    reference = timed(lambda: [evaluate(rules, flatten(c)) for c in cases])

    print(f"corpus: {n} cases ({n // args.copies} files x {args.copies}), {len(pack.rules)} rules, "
          f"{sum(len(c.engine_rules()) for c in compile_pack(pack))} engine rules")
    print(f"cold start (load + compile + register pack): {cold * 1000:.0f} ms")
    for name, secs in (("floor (load+flatten)", floor), ("engine (product path)", product),
                       ("reference (pure Python)", reference)):
        print(f"{name:26s} {n / secs:8.0f} cases/s  {secs / n * 1000:7.2f} ms/case  x{secs / floor:6.1f} floor")
    print(f"engine / reference time ratio: {product / reference:.2f}")


if __name__ == "__main__":
    main()
