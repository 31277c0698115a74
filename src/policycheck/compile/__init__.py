"""Compile parsed rules into engine-neutral engine rules (``compile.ir``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from policycheck.compile.compiler import compile_rule
from policycheck.compile.ir import CompiledRule

if TYPE_CHECKING:
    from policycheck.load.rules import RulePack
    from policycheck.model.conditions import RuleSpec

__all__ = ["CompiledRule", "compile_pack", "compile_rule", "compiled"]

_PACKS: dict[str, tuple[CompiledRule, ...]] = {}
_SPECS: dict[int, tuple[RuleSpec, CompiledRule]] = {}


def compiled(spec: RuleSpec) -> CompiledRule:
    """``compile_rule(spec)``, once per spec object (the load-time engine checks compile each
    rule; the pack compiles the same specs again)."""
    hit = _SPECS.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    out = compile_rule(spec)
    if len(_SPECS) > 20_000:
        _SPECS.clear()
    _SPECS[id(spec)] = (spec, out)
    return out


def compile_pack(pack: RulePack) -> tuple[CompiledRule, ...]:
    """The pack's rules compiled, in pack order (once per pack digest per process)."""
    found = _PACKS.get(pack.digest)
    if found is None or [c.rule_id for c in found] != [r.id for r in pack.rules]:
        found = _PACKS[pack.digest] = tuple(compiled(r.spec) for r in pack.rules)
    return found
