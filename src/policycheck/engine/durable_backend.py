"""The ``engine.Engine`` protocol on durable_rules: translate, register once, run per case."""

from __future__ import annotations

from collections.abc import Sequence

from policycheck.engine.durable_json import EngineRule

from policycheck.compile.ir import CompiledRule
from policycheck.engine import Match
from policycheck.engine.durable import Engine as _Durable
from policycheck.engine.durable_translate import engine_fact, translate
from policycheck.facts import Fact


class DurableEngine:
    """Compiled rules registered in durable_rules; ``run`` encodes a case's facts and evaluates them.
    A chunk of rules given the same facts as before (another date of the case) is not run again."""

    def __init__(self, rules: Sequence[CompiledRule], *, chunk_size: int = 40) -> None:
        self._engine = _Durable(translate(rules), chunk_size=chunk_size, remember=True)

    @classmethod
    def from_engine_rules(cls, rules: Sequence[EngineRule], *, chunk_size: int = 40) -> DurableEngine:
        """From rules already in durable's dialect (e.g. translated rules in another order)."""
        engine = cls.__new__(cls)
        engine._engine = _Durable(rules, chunk_size=chunk_size, remember=True)
        return engine

    def run(self, facts: Sequence[Fact]) -> list[Match]:
        """The matches; an EngineError names the rules and the fact (``type id``) it failed on."""
        return self._engine.run([to_engine_fact(f) for f in facts], labels=[f"{f.type} {f.id}" for f in facts])


def to_engine_fact(fact: Fact) -> dict[str, object]:
    return engine_fact(fact.type, fact.values, fact.unknown | fact.unstated, fact.live)
