"""Compile parsed rules into engine-neutral engine rules (``compile.ir``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from policycheck.compile.compiler import compile_rule
from policycheck.compile.ir import CompiledRule

if TYPE_CHECKING:
    from policycheck.load.rules import RulePack

__all__ = ["CompiledRule", "compile_pack", "compile_rule"]

_PACKS: dict[str, tuple[CompiledRule, ...]] = {}


def compile_pack(pack: RulePack) -> tuple[CompiledRule, ...]:
    """The pack's rules compiled, in pack order (once per pack digest per process)."""
    compiled = _PACKS.get(pack.digest)
    if compiled is None or [c.rule_id for c in compiled] != [r.id for r in pack.rules]:
        compiled = _PACKS[pack.digest] = tuple(compile_rule(r.spec) for r in pack.rules)
    return compiled
