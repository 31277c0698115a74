"""One instant: run the engine on the facts present that day and read its matches.

For each rule and alternative the engine reports ``main`` matches (flags), ``present`` and
``complete`` matches and refuter matches (was the rule assessed?), and mitigation matches
(applied, and ``possible``: pending). This module turns them into per-rule outcomes, with the
fact combinations each rule looked at (for per-item statuses) and the facts it lacked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from policycheck.compile.ir import Alternative, CompiledRule
from policycheck.engine import Engine, Match
from policycheck.facts import Fact

Combo = tuple[int, ...]                   # fact indices bound to an alternative's positive aliases


@dataclass(frozen=True)
class Fired:
    """One flag before rendering: the alternative, its facts, mitigations applied and pending."""

    alt: Alternative
    combo: Combo
    applied: tuple[tuple[str, Combo], ...]        # (mitigation id, all facts of its match)
    pending: tuple[tuple[str, Combo], ...]        # (mitigation id, facts of its relaxed match)
    operative: str | None = None                  # the field of the any_of branch that matched


@dataclass
class RuleRun:
    """What one rule did at one instant."""

    fired: list[Fired] = field(default_factory=list)
    present: set[tuple[int, Combo]] = field(default_factory=set)       # (alternative, combo)
    incomplete: set[tuple[int, Combo]] = field(default_factory=set)    # present and not settled
    # (alternative, ((fact index, field), ...)): a combination the rule would look at but for a
    # link with an unknown or unstated side (compile.gaps); never settled
    gaps: set[tuple[int, tuple[tuple[int, str], ...]]] = field(default_factory=set)


@dataclass
class Snapshot:
    at: str
    facts: list[Fact]
    rules: dict[str, RuleRun]


def _combos(matches: Iterable[Match], width: int | None = None) -> set[Combo]:
    return {tuple(i for _, i in m.facts[:width]) for m in matches}


def run(engine: Engine, compiled: Iterable[CompiledRule], facts: list[Fact], at: str) -> Snapshot:
    by_name: dict[str, list[Match]] = defaultdict(list)
    for m in engine.run(facts):
        by_name[m.rule].append(m)
    return Snapshot(at, facts, {c.rule_id: _rule(c, by_name) for c in compiled})


def _mitigation_hits(alt: Alternative, pairs: Iterable[tuple[str, object]], by_name: dict[str, list[Match]]
                     ) -> dict[Combo, list[tuple[str, Combo]]]:
    hits: dict[Combo, list[tuple[str, Combo]]] = defaultdict(list)
    for mid, engine_rule in pairs:
        for m in by_name.get(engine_rule.name, []):  # type: ignore[attr-defined]
            idx = tuple(i for _, i in m.facts)
            hits[idx[: len(alt.aliases)]].append((mid, idx))
    return hits


def _rule(compiled: CompiledRule, by_name: dict[str, list[Match]]) -> RuleRun:
    out = RuleRun()
    seen: set[frozenset[int]] = set()
    for alt in compiled.alternatives:
        applied = _mitigation_hits(alt, alt.mitigations, by_name)
        possible = _mitigation_hits(alt, alt.possible, by_name)
        hits = [m for r in (alt.main, *alt.also) for m in by_name.get(r.name, [])]
        for combo in sorted(_combos(hits)):
            if frozenset(combo) in seen:   # the same facts matched by two alternatives: one flag
                continue
            seen.add(frozenset(combo))
            done = {mid for mid, _ in applied.get(combo, [])}
            pend = tuple(sorted((mid, idx) for mid, idx in possible.get(combo, []) if mid not in done))
            branch = next((f for f, r in alt.branches if combo in _combos(by_name.get(r.name, []))), None)
            out.fired.append(Fired(alt, combo, tuple(sorted(applied.get(combo, []))), pend, branch))
        present = _combos(by_name.get(alt.present.name, []))
        settled = _combos(by_name.get(alt.complete.name, []))
        for refuter in alt.refuters:
            settled |= _combos(by_name.get(refuter.name, []), len(alt.aliases))
        out.present |= {(alt.index, c) for c in present}
        out.incomplete |= {(alt.index, c) for c in present - settled}
        for engine_rule, missing in alt.gaps:
            for m in by_name.get(engine_rule.name, []):
                bound = dict(m.facts)
                out.gaps.add((alt.index, tuple(sorted((bound[a], f) for a, f in missing))))
    return out
