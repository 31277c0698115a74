"""Each engine rule as the adapter registers it, worked out once per process (plain Python).

The rule pack's load-time checks (``engine.durable_checks``) and the engine build
(``engine.durable``) need the same things of every engine rule: its problems, each pattern's
canonical form (``durable_shape._canonical``), the JSON durable is given, the fact type and
field names it reads, and how much of durable's alpha stack it needs alone. ``prepared`` works
them out on first use and keeps them for the rule object (engine rules are frozen; their
expressions are never changed after they are made): a pack loaded, checked and built in one
process - or a mini-pack built again from the same rules, as the mutation suite does - pays for
each rule once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policycheck.engine.durable_alpha import STACK, AlphaNet
from policycheck.engine.durable_json import EngineRule, is_map
from policycheck.engine.durable_shape import (
    _GROUPS, _SENTINEL_ALIAS, _SENTINEL_TYPE, _canonical_of, _conjuncts, _refs, _rewrite, _shape_problems, _type_of,
)

_ALIAS = re.compile(r"[a-z][a-z0-9_]*\Z")
_quote: Callable[[str], str] = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses
SENTINEL_EXPRESSION: Mapping[str, Any] = {"t": _SENTINEL_TYPE}


def encode(value: Any, keys: list[int] | None = None) -> str:
    """JSON the C parser reads correctly; counts object keys (outside arrays) into ``keys``."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is dict or (kind not in _SCALARS and is_map(value)):
        if keys is not None:
            keys[0] += len(value)
        parts = []
        for k, v in value.items():
            if type(k) is not str and not isinstance(k, str):
                raise ValueError(f"object keys must be strings: {list(value)!r}")
            parts.append(f"{_quote(k)}:{encode(v, keys)}")
        return "{" + ",".join(parts) + "}"
    if value is None or kind is bool:
        return "null" if value is None else "true" if value else "false"
    if kind is int or isinstance(value, int) and not isinstance(value, bool):
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"integer {value} does not fit in 64 bits")
        return str(int(value))
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"number {value} is not finite")
        mantissa, e, exponent = repr(float(value)).partition("e")
        return f"{mantissa}{'' if '.' in mantissa or not e else '.0'}{e}{exponent}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(item) for item in value) + "]"
    raise ValueError(f"value of type {type(value).__name__} is not JSON")


_SCALARS = frozenset({int, float, bool, list, tuple, type(None)})


@dataclass(frozen=True)
class PreparedPattern:
    canonical: Mapping[str, Any]   # as durable is given it (joins first, see durable_shape)
    text: str                      # '{"alias":...}' or '{"alias$not":...}'
    fact_type: str | None          # the type it tests first (None: untyped)
    names: frozenset[str]          # every string in it: the fields a fact needs for it, over-approximated


@dataclass(frozen=True)
class Prepared:
    problems: tuple[str, ...]      # why the adapter refuses the rule (empty: it can register it)
    patterns: tuple[PreparedPattern, ...]
    depth: int                     # alpha-stack slots one fact can need with the rule alone in a ruleset
    #                                (an upper bound; exact as durable_alpha bounds it when over STACK)


_CACHE: dict[int, tuple[EngineRule, Prepared]] = {}
_CACHE_MAX = 50_000


def prepared(rule: EngineRule) -> Prepared:
    """The rule's checks and registration form, once per rule object."""
    hit = _CACHE.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    problems, forms = _analyse(rule)
    patterns: tuple[PreparedPattern, ...] = ()
    depth = 0
    if not problems:
        patterns = tuple(forms)
        depth = 1 + sum(edges(p.canonical) for p in patterns)  # the sentinel's node, then the patterns'
        if depth > STACK:  # the cheap bound does not settle it: the network's own bound
            net = AlphaNet()
            net.add(SENTINEL_EXPRESSION)
            for p in patterns:
                net.add(p.canonical)
            depth = max([net.array_depth(), *(net.depth(t) for t in net.types() | {None})])
    out = Prepared(tuple(problems), patterns, depth)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[id(rule)] = (rule, out)
    return out


def edges(expression: Any) -> int:
    """How many parent-to-child links a pattern adds to the alpha network, at most. The entries
    on durable's stack at one moment are children of distinct nodes on one path (no cycles), so
    no fact can push more than the network has links: a cheap bound that settles most rules."""
    if not is_map(expression) or not expression:
        return 0
    key, value = next(iter(expression.items()))
    if key == "$and" and isinstance(value, list):
        return sum(edges(item) for item in value)
    if key == "$or" and isinstance(value, list):
        return sum(edges(item) + 1 for item in value)   # each alternative links to the $or's join point
    if key in ("$iany", "$iall") and is_map(value) and value:
        return 1 + edges(next(iter(value.values())))
    return 1


_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _names(text: str) -> frozenset[str]:
    """Every string in a pattern's JSON (keys and values), dotted paths also split into their parts."""
    found: set[str] = set()
    for token in _STRING.findall(text):
        value = json.loads(f'"{token}"') if "\\" in token else token
        found.add(value)
        found.update(value.split("."))
    return frozenset(found)


def check_rule(rule: EngineRule) -> list[str]:
    """Why the adapter cannot register ``rule`` as written (empty when it can)."""
    return _analyse(rule)[0]


def _analyse(rule: EngineRule) -> tuple[list[str], list[PreparedPattern]]:
    """The rule's problems and, pattern by pattern, its registration form (each expression is
    rewritten, split into its tests and searched for joins once, for the checks and the form)."""
    problems: list[str] = []
    forms: list[PreparedPattern] = []
    if not isinstance(rule.name, str) or not rule.name or not rule.name.isprintable():
        problems.append("the name must be a non-empty printable string")
    if not rule.patterns or rule.patterns[0].negated:
        problems.append("the first pattern must exist and not be negated")
    used: set[str] = set()
    positive: set[str] = set()
    for pattern in rule.patterns:
        alias, expression = pattern.alias, pattern.expression
        if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == _SENTINEL_ALIAS:
            problems.append(f"alias {alias!r} must match [a-z][a-z0-9_]* and not be {_SENTINEL_ALIAS!r}")
        elif alias in used:
            problems.append(f"alias {alias!r} is used twice")
        used.add(alias)
        try:
            if not is_map(expression):
                raise ValueError("the expression must be a mapping")
            raw = encode(expression)
        except ValueError as exc:
            problems.append(f"pattern {alias!r}: {exc}")
            continue
        rewritten = _rewrite(expression)
        problems += [f"pattern {alias!r}: {p}" for p in _shape_problems(rewritten)]
        parts = _conjuncts(rewritten)
        part_refs = [_refs(part) for part in parts]
        refs = set().union(*part_refs)
        problems += [f"pattern {alias!r} refers to {r!r}, not an earlier positive alias" for r in sorted(refs - positive)]
        if any(found and next(iter(part)) in _GROUPS for part, found in zip(parts, part_refs)):
            problems.append(f"pattern {alias!r}: durable_rules mis-evaluates joins inside $or/$iany/$iall; "
                            "split the rule into alternatives instead")
        if not pattern.negated:
            positive.add(alias)
        if not problems:
            canonical = _canonical_of(rewritten, parts, [bool(r) for r in part_refs])
            body = raw if canonical is expression else encode(canonical)
            forms.append(PreparedPattern(canonical, f'{{"{alias}{"$not" if pattern.negated else ""}":{body}}}',
                                         _type_of(canonical), _names(body)))
    return [f"rule {rule.name!r}: {p}" for p in problems], forms
