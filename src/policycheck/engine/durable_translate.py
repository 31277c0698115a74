"""Write engine-neutral rules (``compile.ir``) and facts in durable_rules' JSON dialect.

Plain Python (durable_rules is not imported). What the dialect needs beyond a literal
translation, each a durable bug or limit described in docs/engine.md:

* the engine reserves a fact's ``id``: the vocabulary's ``id`` travels as ``key``;
* unknown and unstated fields are left out of the fact and marked ``u__<field>: 1``, so that
  every comparison on them is false and ``Known(f)`` is ``$nex u__f``;
* an ordering or ``ne`` join raises error 311 when the referenced fact lacks the field:
  in each engine rule that holds such a join, the referenced pattern requires the field to
  exist, and the joining pattern requires its own field (an engine rule without the join,
  such as ``present``, is not guarded, so a missing field never hides a fact from it);
* a same-fact reference matches an absent field when another rule of the ruleset tests
  that field: both fields must exist;
* ``$or`` inside ``$iany`` is mis-registered: ``contains_any`` is written as ``$or`` of ``$iany``;
* ``$iall`` is false on an empty list: a list field also travels as its length ``n__<field>``,
  and ``Lacks`` is "length 0, or every item differs";
* a scale comparison (``Ref.rank``) compares ``r__<field>``, the value's place on its scale,
  added to the fact for every scaled field it knows; a fact in force carries ``w__live: 1``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policycheck.compile import ir
from policycheck.engine.durable_json import EnginePattern, EngineRule
from policycheck.model.vocabulary import SCALES

_OPS = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
_TRUE: dict[str, Any] = {"$ex": {"t": 1}}  # every fact has a type


def engine_field(name: str) -> str:
    """The engine reserves ``id``; the vocabulary's ``id`` travels as ``key``."""
    return "key" if name == "id" else name


def unknown_marker(name: str) -> str:
    return "u__" + engine_field(name)


def rank_field(name: str) -> str:
    return "r__" + engine_field(name)


def length_field(name: str) -> str:
    return "n__" + engine_field(name)


LIVE = "w__live"


def engine_fact(fact_type: str, values: Mapping[str, Any], missing: Iterable[str], live: bool = True) -> dict[str, Any]:
    """A fact as durable_rules stores it: known values, a marker per unknown or unstated field,
    each list's length, each scaled value's place, and whether it is in force."""
    out: dict[str, Any] = {"t": fact_type}
    for name, value in values.items():
        out[engine_field(name)] = value
        if isinstance(value, list):
            out[length_field(name)] = len(value)
        scale = SCALES.get(name)
        if scale is not None and value in scale:
            out[rank_field(name)] = scale.index(value)
    for name in sorted(missing):
        out[unknown_marker(name)] = 1
    if live:
        out[LIVE] = 1
    return out


_TRANSLATED: dict[int, tuple[ir.CompiledRule, tuple[EngineRule, ...]]] = {}
_TRANSLATED_MAX = 20_000


def translate(rules: Iterable[ir.CompiledRule]) -> list[EngineRule]:
    """Every engine rule of ``rules``, in order, in durable's dialect (no sentinel: engine.durable
    adds it). Each compiled rule is translated once per process: the load-time checks and the
    engine build get the same engine rule objects (``durable_prepare`` keeps its work per object)."""
    out: list[EngineRule] = []
    for compiled in rules:
        hit = _TRANSLATED.get(id(compiled))
        if hit is None or hit[0] is not compiled:
            if len(_TRANSLATED) >= _TRANSLATED_MAX:
                _TRANSLATED.clear()
            hit = _TRANSLATED[id(compiled)] = (compiled, _translate(compiled))
        out += hit[1]
    return out


def _translate(compiled: ir.CompiledRule) -> tuple[EngineRule, ...]:
    out: list[EngineRule] = []
    for rule in compiled.engine_rules():
        # error 311 guards: the ordering, ``ne`` and scale joins of this engine rule (its
        # patterns' tests and refinements) make the referenced patterns require the field
        guards = _join_guards([*(p.tests for p in rule.patterns if not p.negated),
                               *(ref for p in rule.patterns if not p.negated for ref in p.refinements)])
        out.append(EngineRule(rule.name, tuple(_pattern(p, guards) for p in rule.patterns)))
    return tuple(out)


def _join_guards(conjunctions: Iterable[tuple[ir.Test, ...]]) -> dict[str, set[str]]:
    """alias -> engine fields that ordering or ``ne`` joins read from it (error 311, docs/engine.md)."""
    out: dict[str, set[str]] = {}
    for tests in conjunctions:
        for ref in _refs(tests):
            if not ref.same and (ref.op != "eq" or ref.rank):
                out.setdefault(ref.alias, set()).add(rank_field(ref.other) if ref.rank else engine_field(ref.other))
    return out


def _refs(tests: Iterable[ir.Test]) -> Iterable[ir.Ref]:
    for t in tests:
        if isinstance(t, ir.Ref):
            yield t
        elif isinstance(t, (ir.All, ir.Either)):
            yield from _refs(t.items)


def _exists(fields: Iterable[str]) -> list[dict[str, Any]]:
    return [{"$ex": {f: 1}} for f in sorted(fields)]


def _pattern(p: ir.Pattern, guards: dict[str, set[str]]) -> EnginePattern:
    guarded = not p.negated
    expression = _and([{"t": p.fact}, *(_exists(guards.get(p.alias, ())) if guarded else ()),
                       *(_test(t) for t in p.scope), *(_test(t) for t in p.tests)])
    for refinement in p.refinements:
        expression = _and([expression, *(_test(t) for t in refinement)])
    return EnginePattern(p.alias, expression, p.negated)


def _and(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """An "and", nested "and"s merged into it (durable refuses deep nesting: error 113)."""
    flat: list[dict[str, Any]] = []
    for t in tests:
        flat += t["$and"] if set(t) == {"$and"} else [t]
    if not flat:
        return _TRUE
    return flat[0] if len(flat) == 1 else {"$and": flat}


def _or(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """An "or", nested "or"s merged into it (error 113, as for ``_and``)."""
    flat: list[dict[str, Any]] = []
    for t in tests:
        flat += t["$or"] if set(t) == {"$or"} else [t]
    return flat[0] if len(flat) == 1 else {"$or": flat}


def _test(test: ir.Test) -> dict[str, Any]:
    if isinstance(test, ir.Compare):
        ef = engine_field(test.field)
        return {ef: test.value} if test.op == "eq" else {_OPS[test.op]: {ef: test.value}}
    if isinstance(test, ir.Contains):
        return {"$iany": {engine_field(test.field): {"$i": test.value}}}
    if isinstance(test, ir.Exists):
        if test.present:
            return {"$ex": {engine_field(test.field): 1}}
        return _and([{"$nex": {engine_field(test.field): 1}}, {"$nex": {unknown_marker(test.field): 1}}])
    if isinstance(test, ir.Known):
        return {"$nex": {unknown_marker(test.field): 1}}
    if isinstance(test, ir.Missing):
        return {"$ex": {unknown_marker(test.field): 1}}
    if isinstance(test, ir.Live):
        return {"$ex": {LIVE: 1}}
    if isinstance(test, ir.Lacks):
        ef = engine_field(test.field)
        return {"$or": [{length_field(test.field): 0}, {"$iall": {ef: {"$neq": {"$i": test.value}}}}]}
    if isinstance(test, ir.Ref):
        return _ref(test)
    if isinstance(test, ir.All):
        return _and(_lacks_merged(test.items))
    return _or([_test(t) for t in test.items])


def _lacks_merged(items: tuple[ir.Test, ...]) -> list[dict[str, Any]]:
    """The tests of an "and", its ``Lacks`` on one field written as one "or": "length 0, or
    every item differs from each value" (an "and" of n "or"s would expand to 2^n alternatives,
    durable_rules error 113)."""
    by_field: dict[str, list[ir.Lacks]] = {}
    for t in items:
        if isinstance(t, ir.Lacks):
            by_field.setdefault(t.field, []).append(t)
    out: list[dict[str, Any]] = []
    done: set[str] = set()
    for t in items:
        if isinstance(t, ir.Lacks) and len(by_field[t.field]) > 1:
            if t.field not in done:
                done.add(t.field)
                ef = engine_field(t.field)
                out.append({"$or": [{length_field(t.field): 0},
                                    _and([{"$iall": {ef: {"$neq": {"$i": x.value}}}} for x in by_field[t.field]])]})
        else:
            out.append(_test(t))
    return out


def _ref(ref: ir.Ref) -> dict[str, Any]:
    name = rank_field if ref.rank else engine_field
    ef, other = name(ref.field), name(ref.other)
    right = {"$m": other} if ref.same else {ref.alias: other}
    expression = {ef: right} if ref.op == "eq" else {_OPS[ref.op]: {ef: right}}
    if ref.same:
        # durable matches a same-fact reference to an absent field when another rule of the
        # ruleset tests that field: both fields must exist (docs/engine.md).
        return _and([{"$ex": {ef: 1}}, {"$ex": {other: 1}}, expression])
    if ref.op != "eq" or ref.rank:
        # error 311 on an ordering join to a field the other fact lacks; the other side's
        # field is guarded in its own pattern (_join_guards, docs/engine.md).
        return _and([{"$ex": {ef: 1}}, expression])
    return expression
