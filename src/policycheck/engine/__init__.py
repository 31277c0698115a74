"""The rule engine behind a small protocol.

``compile`` produces engine-neutral engine rules (``compile.ir``); an engine matches them
against a case's facts. The only engine is durable_rules (``engine.durable*`` modules, the
only code that knows its dialect and its bugs, see docs/engine.md). Importing this package
does not import durable_rules: ``engine_for`` loads it on first use, and ``load_problems``
(rules the engine cannot run, refused when the rule pack is loaded) is plain Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from policycheck.compile.ir import CompiledRule
    from policycheck.errors import Problem
    from policycheck.facts import Fact
    from policycheck.model.conditions import RuleSpec

__all__ = ["Engine", "Match", "engine_for", "load_problems"]


@dataclass(frozen=True)
class Match:
    """One match of one engine rule: the index of the fact bound to each positive alias."""

    rule: str
    facts: tuple[tuple[str, int], ...]


class Engine(Protocol):
    def run(self, facts: Sequence[Fact]) -> list[Match]:
        """Every match of every engine rule against exactly ``facts``, sorted by (rule, facts)."""
        ...


_ENGINES: dict[str, Engine] = {}


def engine_for(rules: Sequence[CompiledRule], key: str) -> Engine:
    """One engine per rule pack (``key``: its digest) per process: durable_rules cannot free rulesets."""
    engine = _ENGINES.get(key)
    if engine is None:
        from policycheck.engine.durable_backend import DurableEngine

        engine = _ENGINES[key] = DurableEngine(rules)
    return engine


def load_problems(spec: RuleSpec) -> list[Problem]:
    """Why the engine cannot run a parsed rule (empty when it can); no engine is imported."""
    from policycheck.engine.durable_checks import load_problems as durable_problems

    return durable_problems(spec)
