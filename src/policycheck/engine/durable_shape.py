"""durable_rules' dialect as shapes: what the C core does with a pattern, in plain Python.

Shared by the adapter (``engine.durable``: how patterns are rewritten and chunked) and by the
load-time checks (``engine.durable_checks``: rules refused when the pack loads, so that no
rule can hang or fail the engine at assess time). Nothing here imports durable_rules.

``registration_problems`` models the C limits of durable_rules 2.0.28 (``rules.c``/``rete.h``,
checked by experiment and pinned in tests/test_engine_adapter.py):

* ``MAX_SEQUENCE_EXPRESSIONS`` = 32: each pattern's beta node holds an expression sequence to
  which every ``$and`` and ``$or`` (nested ones and those inside ``$iany`` included) adds two
  entries and every join to another pattern one; the 32nd is error 113 at registration;
* ``NEXT_BUCKET_LENGTH`` = 512: the equality tests under one alpha node live in a 512-slot
  open-addressing table that is probed without end once full: registration hangs forever at
  512 sibling tests (an ``in`` list of 512 values);
* other tests under one node live in a list that grows (300 side by side registered and
  ran valgrind-clean), so only equality siblings are bounded;
* the alpha stack holds 64 nodes per fact (``MAX_STACK_SIZE``): a pattern one fact can push more
  nodes of is error 303 at assess time (``durable_alpha`` models the network and bounds it; the
  adapter's chunk planner uses the same bound for whole rulesets).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from policycheck.engine.durable_alpha import STACK, AlphaNet
from policycheck.engine.durable_json import is_map

_SENTINEL_ALIAS, _SENTINEL_TYPE = "s__", "__sentinel__"
_ARITHMETIC = ("$add", "$sub", "$mul", "$div")
_GROUPS = ("$or", "$iany", "$iall")
_TRUE_JOIN = {"$neq": {"t": {_SENTINEL_ALIAS: "t"}}}  # facts never have the sentinel's type

SEQUENCE = 31      # expression-sequence entries per pattern (error 113 at 32)
EQ_SIBLINGS = 480  # equality tests under one node (hangs at 512)


def _references(expression: Any, found: set[str], value: bool = False) -> None:
    """Aliases named by join references: ``{"field": {"alias": "field"}}`` in value position."""
    if not is_map(expression):
        if isinstance(expression, list) and not value:
            for item in expression:
                _references(item, found)
        return
    for key, item in expression.items():
        if value:  # a compared value: a reference, arithmetic, or $m / $i (same fact or item)
            if not key.startswith("$"):
                found.add(key)
            elif key in _ARITHMETIC and is_map(item):
                for operand in item.values():
                    _references(operand, found, True)
        elif key in ("$and", "$or"):
            _references(item, found)
        elif key in ("$iany", "$iall") and is_map(item):
            for sub in item.values():
                _references(sub, found)
        elif key.startswith("$") and is_map(item):  # {"$gt": {"field": value}}
            for sub in item.values():
                _references(sub, found, True)
        elif not key.startswith("$"):  # {"field": value}
            _references(item, found, True)


def _type_of(expression: Any) -> str | None:
    """The fact type a pattern tests first (``{"t": X}`` alone or first in ``$and``), else None."""
    first = expression
    if len(expression) == 1 and isinstance(expression.get("$and"), list) and expression["$and"]:
        first = expression["$and"][0]
    fact_type = first.get("t") if is_map(first) and len(first) == 1 else None
    return fact_type if isinstance(fact_type, str) else None


def _refs(expression: Any) -> set[str]:
    found: set[str] = set()
    _references(expression, found)
    return found


def _shape_problems(expression: Any) -> list[str]:
    """durable reads only the first key of a test object and ignores the rest, silently."""
    if not is_map(expression) or len(expression) != 1:
        return [f"{json.dumps(expression, default=str)[:60]} must be an object with exactly one key"]
    ((key, value),) = expression.items()
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            return [f"{key} needs a non-empty list"]
        return [p for item in value for p in _shape_problems(item)]
    if key.startswith("$") and is_map(value) and len(value) != 1:
        return [f"{key} must test exactly one field, not {sorted(value)}"]
    if key in ("$iany", "$iall"):
        if not is_map(value):
            return [f"{key} needs an object"]
        inner = next(iter(value.values()))
        if _has_or(inner):  # createAlpha reads uninitialised memory (random error 102)
            return [f"$or inside {key} is mis-registered by durable_rules; write $or of {key} instead"]
        return _shape_problems(inner)
    return []


def _has_or(value: Any) -> bool:
    if is_map(value):
        return "$or" in value or any(_has_or(v) for v in value.values())
    return isinstance(value, list) and any(_has_or(v) for v in value)


def _rewrite(expression: Any) -> Any:
    """``{"$iany": {f: {"$or": [a, b]}}}`` -> ``{"$or": [{"$iany": {f: a}}, {"$iany": {f: b}}]}``."""
    if not is_map(expression) or len(expression) != 1:
        return expression
    ((key, value),) = expression.items()
    if key in ("$and", "$or") and isinstance(value, list):
        items = [_rewrite(item) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return expression   # nothing rewritten: the same object (callers reuse its JSON)
        return {key: items}
    if key == "$iany" and is_map(value) and len(value) == 1:
        ((field, inner),) = value.items()
        if is_map(inner) and len(inner) == 1 and isinstance(inner.get("$or"), list):
            return {"$or": [{"$iany": {field: item}} for item in inner["$or"]]}
    return expression


def _conjuncts(expression: Mapping[str, Any]) -> list[Any]:
    """The top-level tests of a pattern, with nested ``$and`` flattened."""
    if len(expression) == 1 and isinstance(expression.get("$and"), list):
        return [c for item in expression["$and"] for c in (_conjuncts(item) if is_map(item) else [item])]
    return [expression]


def _canonical(expression: Mapping[str, Any]) -> Mapping[str, Any]:
    """Reorder a pattern with joins so durable evaluates them: type test, joins, an always-true
    join, then the rest. The C beta evaluator stops at the end of the first nested group, so
    joins after a group are ignored, and a failing last join makes it read past the sequence."""
    rewritten = _rewrite(expression)
    parts = _conjuncts(rewritten)
    return _canonical_of(rewritten, parts, [bool(_refs(part)) for part in parts])


def _canonical_of(rewritten: Mapping[str, Any], parts: list[Any], joined: list[bool]) -> Mapping[str, Any]:
    """``_canonical`` from the rewritten pattern, its conjuncts and which of them hold a join."""
    joins = [part for part, j in zip(parts, joined) if j]
    if not joins:
        return rewritten
    head = [part for part in parts if _type_of(part) is not None][:1]  # keeps the type test first
    rest = [part for part in parts if part not in joins and part not in head]
    return {"$and": head + joins + [_TRUE_JOIN] + rest}


def _names_another(value: Any) -> bool:
    """A compared value that reads another pattern's fact (a join, or arithmetic on one):
    durable adds it to the pattern's beta expression sequence."""
    if not is_map(value):
        return False
    for key, item in value.items():
        if not key.startswith("$"):
            return True
        if key in _ARITHMETIC and is_map(item) and any(_names_another(v) for v in item.values()):
            return True
    return False


class _Tally:
    def __init__(self) -> None:
        self.sequence = 0
        self.eq_siblings = 0
        self.list_siblings = 0


def _first_op(expression: Any) -> str:
    """The operator of the first test a node's children see: ``$eq`` for a plain equality."""
    if not is_map(expression) or len(expression) != 1:
        return "?"
    ((key, value),) = expression.items()
    if key == "$and" and isinstance(value, list) and value:
        return _first_op(value[0])
    if key == "$or":
        return "$or"
    if key == "$eq" or not key.startswith("$"):
        return "$eq"
    return str(key)


def _eq_field(expression: Any) -> str | None:
    """The field of a plain equality with a literal (alternatives on one field exclude each other)."""
    if is_map(expression) and len(expression) == 1:
        ((key, value),) = expression.items()
        if key == "$eq" and is_map(value) and len(value) == 1:
            ((key, value),) = value.items()
        if not key.startswith("$") and not is_map(value):
            return str(key)
    return None


def _children(alternatives: list[Any], tally: _Tally) -> None:
    """Count the tests an ``$or`` hangs under one node (nested ``$or``s share the node)."""
    eq = other = 0
    stack = list(alternatives)
    while stack:
        item = stack.pop()
        op = _first_op(item)
        if op == "$or" and "$and" in item:  # a chain that starts with an "or": its first test hangs here
            stack.append(item["$and"][0])
        elif op == "$or":
            stack.extend(item["$or"])
        elif op == "$eq":
            eq += 1
        else:
            other += 1
    tally.eq_siblings = max(tally.eq_siblings, eq)
    tally.list_siblings = max(tally.list_siblings, other)


def _walk(expression: Any, tally: _Tally) -> None:
    """Fill ``tally``: expression-sequence entries and sibling tests under one node."""
    if not is_map(expression) or len(expression) != 1:
        return
    ((key, value),) = expression.items()
    if key in ("$and", "$or") and isinstance(value, list):
        tally.sequence += 2
        for item in value:
            _walk(item, tally)
        if key == "$or":
            _children(value, tally)
    elif key in ("$iany", "$iall") and is_map(value) and len(value) == 1:
        _walk(next(iter(value.values())), tally)
    elif key.startswith("$") and is_map(value):
        if any(_names_another(v) for v in value.values()):
            tally.sequence += 1
    elif _names_another(value):
        tally.sequence += 1


def stack_depth(expressions: list[Mapping[str, Any]]) -> int:
    """The most alpha-stack slots one fact can use in a ruleset of these patterns (as the adapter
    registers them, after the sentinel pattern): at most ``STACK`` (64), else error 303."""
    net = AlphaNet()
    net.add({"t": _SENTINEL_TYPE})
    for expression in expressions:
        net.add(_canonical(expression))
    return max([net.array_depth(), *(net.depth(t) for t in net.types() | {None})])


def registration_problems(alias: str, expression: Mapping[str, Any]) -> list[str]:
    """Why durable_rules could not register or run a pattern (as the adapter writes it): error
    113, a hang, or error 303 (empty when it can)."""
    return shape_limits(alias, _canonical(expression)) + stack_problems(alias, stack_depth([expression]))


def shape_limits(alias: str, canonical: Mapping[str, Any]) -> list[str]:
    """Error 113 and the hang at 512 siblings, for a pattern in its canonical form."""
    tally = _Tally()
    _walk(canonical, tally)
    out = []
    if tally.sequence > SEQUENCE:
        out.append(f"pattern '{alias}' needs {tally.sequence} engine expressions, more than the {SEQUENCE} durable_rules "
                   "holds per pattern (error 113); use fewer 'or' groups or values in it")
    if tally.eq_siblings > EQ_SIBLINGS:
        out.append(f"pattern '{alias}' tests {tally.eq_siblings} values side by side; durable_rules hangs at 512 "
                   f"(at most {EQ_SIBLINGS})")
    return out


def stack_problems(alias: str, depth: int) -> list[str]:
    """Error 303 for a pattern that alone lets one fact push ``depth`` alpha nodes."""
    if depth <= STACK:
        return []
    return [f"pattern '{alias}' lets one fact push {depth} alpha nodes at once; durable_rules holds {STACK} "
            "(error 303); use fewer alternatives ('any_of' branches, 'in' or 'contains_any' values) in it"]
