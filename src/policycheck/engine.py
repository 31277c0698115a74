"""The only door to durable_rules 2.0.28 (unmaintained, C core): a defensive adapter.

Rules are compiled once per Engine and registered into one process-wide Host; every
``run`` evaluates one case in a fresh, isolated session. Each durable bug handled here
(sections of ``docs/durable-rules.md``; upstream issues as jruizgit/rules#N) and pinned
by a test in ``tests/test_engine_adapter.py``:

* Host timer threads: one lazily created Host whose ``_run()`` does nothing (s.2).
* ``register_rulesets`` pops ``run`` and ``json.dumps`` writes ``1e+16`` (error 204): the ruleset
  JSON is written here and actions are passed separately, never inside a caller's dict (s.1).
* Negation has no truth maintenance: every rule starts with the sentinel pattern ``s__`` and the
  sentinel fact is asserted last, so nothing fires before all facts are in (s.3).
* ``delete_state`` frees uninitialised memory if no action completed: an internal rule on the
  sentinel alone always fires; a session that could not be drained is leaked, never deleted (s.2).
* 1,024 live sessions per ruleset, not thread-safe (#291, #306): one fresh sid per run, deleted
  after every chunk, everything behind one process-wide lock (s.2, s.5).
* ``assert_facts`` batches drop facts silently and ids clash on a 32-bit hash (#376): facts go in
  one at a time with ids ``f0, f1, ...``; "not handled" (#286) is ignored, "observed" is an error.
* Exponent floats (``1e+16``, ``3e-05``) are rejected (204) or dropped: numbers are written with a
  decimal point in the mantissa (``1.0e+16``); NaN/inf and integers beyond 64 bits are refused.
* Type coercion (``"10" == 10``, ``true == 1``, strings vs numbers) happens in the C comparison and
  is NOT fixed here: the compiler must type-check literals (s.1, s.5).
* Action exceptions are swallowed into ``state["exception"]`` (#305): actions only append to a
  list and the drained state is checked after every chunk.
* Error 108 (256 rules behind one first pattern, #140), error 303 (64 alpha tests matched by one
  fact, #312) and the hang at 513 sibling tests: at most ``chunk_size`` rules (<= 50) and about
  60 distinct alpha branches per registered ruleset.
* Events are consumed by one rule (#190): only facts are asserted, never ``post``.
* ``pri`` is an unsigned short and equal-priority order is unspecified: results are sorted.
* More than ~250 properties per fact gives error 302: facts with more than 200 keys are refused.
* ``dist`` (#83): (A, B) and (B, A) both fire for two slots of one type; callers dedupe.
* Rulesets cannot be deleted (#137, #136, #371): build each Engine once per process and reuse it.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import durable_rules_engine as _dre
from durable import engine as _durable

from policycheck.errors import EngineError, Problem

__all__ = ["Engine", "EnginePattern", "EngineRule", "Match", "engine_version"]

_SENTINEL_ALIAS = "s__"
_SENTINEL_TYPE = "__sentinel__"
_ALWAYS = "__always"
_ALIAS = re.compile(r"[a-z][a-z0-9_]*\Z")
_MAX_CHUNK = 50
_ALPHA_BUDGET = 60  # the C alpha stack holds 64 nodes (error 303)
_MAX_KEYS = 200  # the C parser stops at ~254 properties (error 302)
_INT64 = 2**63
_LOGICAL = {"$and", "$or"}
_ARITHMETIC = {"$add", "$sub", "$mul", "$div"}


@dataclass(frozen=True)
class EnginePattern:
    alias: str
    expression: dict
    negated: bool = False


@dataclass(frozen=True)
class EngineRule:
    name: str
    patterns: tuple[EnginePattern, ...]


@dataclass(frozen=True)
class Match:
    rule: str
    facts: tuple[tuple[str, int], ...]


def engine_version() -> str:
    """The installed durable-rules version, e.g. ``"2.0.28"``."""
    return metadata.version("durable_rules")


class _QuietHost(_durable.Host):
    """A Host without the dispatcher/timer threads; actions run inside our own drain call."""

    def _run(self) -> None:
        pass

    def register_json(self, name: str, text: str, actions: dict[str, Any]) -> _durable.Ruleset:
        if name in self._ruleset_directory:
            raise EngineError(f"ruleset {name} already registered")
        ruleset = _durable.Ruleset.__new__(_durable.Ruleset)
        ruleset._name, ruleset._host, ruleset._definition = name, self, None
        ruleset._actions = {rule: _durable.Promise(fn) for rule, fn in actions.items()}
        ruleset._handle = _dre.create_ruleset(name, text)
        self._ruleset_directory[name] = ruleset
        self._ruleset_list.append(ruleset)
        return ruleset


_LOCK = threading.RLock()
_HOST: _QuietHost | None = None
_ENGINE_IDS = itertools.count()
_SIDS = itertools.count()


def _host() -> _QuietHost:
    global _HOST
    with _LOCK:
        if _HOST is None:
            _HOST = _QuietHost()
        return _HOST


def _encode(value: Any, keys: list[int] | None = None) -> str:
    """JSON the C parser reads correctly; counts object keys outside arrays into ``keys``."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError(f"integer {value} does not fit in 64 bits")
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"number {value} is not finite")
        text = repr(float(value))
        mantissa, e, exponent = text.partition("e")
        if e and "." not in mantissa:
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        if keys is not None:
            keys[0] += len(value)
        parts = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"key {key!r} is not a string")
            parts.append(f"{json.dumps(key, ensure_ascii=False)}:{_encode(item, keys)}")
        return "{" + ",".join(parts) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    raise ValueError(f"value of type {type(value).__name__} is not JSON")


def _references(expression: Any, found: set[str]) -> None:
    """Collect the aliases named by join references (``{"field": {"alias": "field"}}``)."""
    if not isinstance(expression, Mapping):
        return
    for key, value in expression.items():
        if key in _LOGICAL and isinstance(value, list):
            for item in value:
                _references(item, found)
        elif key in ("$iany", "$iall") and isinstance(value, Mapping):
            for item in value.values():
                _references(item, found)
        elif key.startswith("$") and isinstance(value, Mapping):  # {"$gt": {"field": value}}
            for item in value.values():
                _value_references(item, found)
        elif not key.startswith("$"):  # {"field": value}
            _value_references(value, found)


def _value_references(value: Any, found: set[str]) -> None:
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        if not key.startswith("$"):
            found.add(key)
        elif key in _ARITHMETIC and isinstance(item, Mapping):  # {"$mul": {"$l": .., "$r": ..}}
            for operand in item.values():
                _value_references(operand, found)


def _width(expression: Any) -> int:
    """Alpha branches of one expression: ``$or`` alternatives multiply through ``$and``."""
    width = 1
    if isinstance(expression, Mapping):
        for key, value in expression.items():
            if key == "$or" and isinstance(value, list):
                width *= max(1, sum(_width(item) for item in value))
            elif key == "$and" and isinstance(value, list):
                for item in value:
                    width *= _width(item)
    return min(width, _ALPHA_BUDGET + 1)


def _check_rule(rule: EngineRule) -> list[str]:
    problems: list[str] = []
    if not isinstance(rule.name, str) or not rule.name or not rule.name.isprintable():
        problems.append("name must be a non-empty printable string")
    if not rule.patterns or rule.patterns[0].negated:
        problems.append("the first pattern must exist and not be negated")
    seen: set[str] = set()
    for pattern in rule.patterns:
        alias = pattern.alias
        if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == _SENTINEL_ALIAS:
            problems.append(f"alias {alias!r} must match [a-z][a-z0-9_]* and not be {_SENTINEL_ALIAS!r}")
        elif alias in seen:
            problems.append(f"alias {alias!r} is used twice")
        if not isinstance(pattern.expression, Mapping):
            problems.append(f"pattern {alias!r}: the expression must be a mapping")
            continue
        refs: set[str] = set()
        _references(pattern.expression, refs)
        for ref in sorted(refs - seen):
            problems.append(f"pattern {alias!r} refers to {ref!r}, which is not an earlier positive alias")
        try:
            _encode(pattern.expression)
        except ValueError as exc:
            problems.append(f"pattern {alias!r}: {exc}")
        if not pattern.negated:
            seen.add(alias)
    return [f"rule {rule.name!r}: {p}" for p in problems]


@dataclass
class _Chunk:
    ruleset: _durable.Ruleset
    rules: list[int]


class Engine:
    """Compiled rules, registered once; ``run`` evaluates one case in an isolated session."""

    def __init__(self, rules: Sequence[EngineRule], *, chunk_size: int = 40) -> None:
        if not isinstance(chunk_size, int) or not 1 <= chunk_size <= _MAX_CHUNK:
            raise EngineError(f"chunk_size must be between 1 and {_MAX_CHUNK}, not {chunk_size!r}")
        self._rules = list(rules)
        problems = [p for rule in self._rules for p in _check_rule(rule)]
        names = [rule.name for rule in self._rules]
        problems += [f"rule {n!r} is defined twice" for n in sorted({n for n in names if names.count(n) > 1})]
        if problems:
            raise EngineError([Problem(p) for p in problems])
        self._positive = [tuple(p.alias for p in r.patterns if not p.negated) for r in self._rules]
        self._hits: list[tuple[int, dict]] = []
        with _LOCK:
            self._prefix = f"pc{next(_ENGINE_IDS)}"
            self._chunks = [self._register(i, group) for i, group in enumerate(self._plan(chunk_size))]

    def _plan(self, chunk_size: int) -> list[list[int]]:
        groups: list[list[int]] = []
        seen: set[str] = set()
        budget = 0
        for index, rule in enumerate(self._rules):
            exprs = {_encode(p.expression): _width(p.expression) for p in rule.patterns}
            extra = sum(w for text, w in exprs.items() if text not in seen)
            if not groups or len(groups[-1]) >= chunk_size or budget + extra > _ALPHA_BUDGET:
                groups.append([])
                seen, budget = set(), 0
                extra = sum(exprs.values())
            groups[-1].append(index)
            seen.update(exprs)
            budget += extra
        return groups

    def _register(self, number: int, group: list[int]) -> _Chunk:
        sentinel = f'{{"{_SENTINEL_ALIAS}":{{"t":"{_SENTINEL_TYPE}"}}}}'
        bodies = {_ALWAYS: f'{{"all":[{sentinel}]}}'}
        actions: dict[str, Any] = {_ALWAYS: _always}
        for index in group:
            patterns = [sentinel] + [
                f'{{"{p.alias}{"$not" if p.negated else ""}":{_encode(p.expression)}}}'
                for p in self._rules[index].patterns
            ]
            bodies[f"r{index}"] = '{"all":[' + ",".join(patterns) + "]}"
            actions[f"r{index}"] = self._action(index)
        text = "{" + ",".join(f'"{name}":{body}' for name, body in bodies.items()) + "}"
        try:
            return _Chunk(_host().register_json(f"{self._prefix}_{number}", text, actions), group)
        except _dre.error as exc:
            names = [self._rules[i].name for i in group]
            raise EngineError(f"durable_rules rejected rules {names}: {exc}") from exc

    def _action(self, index: int) -> Any:
        def action(c: Any) -> None:
            self._collect(index, c)

        return action

    def _collect(self, index: int, c: Any) -> None:
        self._hits.append((index, c._m))

    def run(self, facts: Sequence[Mapping[str, Any]]) -> list[Match]:
        """All matches of all rules against exactly ``facts``, sorted by (rule, facts)."""
        bodies = [_fact_body(i, fact) for i, fact in enumerate(facts)]
        with _LOCK:
            sid = str(next(_SIDS))
            payloads = [f'{{"id":"f{i}","sid":"{sid}",{body}' for i, body in enumerate(bodies)]
            self._hits = []
            for chunk in self._chunks:
                _run_chunk(chunk.ruleset, payloads, sid)
            hits, self._hits = self._hits, []
        found: set[Match] = set()
        for index, message in hits:
            try:
                pairs = tuple((a, int(message[a]["id"][1:])) for a in self._positive[index])
            except (KeyError, TypeError, ValueError) as exc:
                raise EngineError(f"unexpected match payload for rule {self._rules[index].name!r}") from exc
            found.add(Match(self._rules[index].name, pairs))
        return sorted(found, key=lambda m: (m.rule, m.facts))


def _always(c: Any) -> None:
    """Internal rule on the sentinel alone: guarantees one completed action per session."""


def _fact_body(index: int, fact: Mapping[str, Any]) -> str:
    """The fact's JSON without its opening brace (id and sid are prepended per run)."""
    where = f"fact {index}"
    if not isinstance(fact, Mapping):
        raise EngineError(f"{where}: must be a mapping, not {type(fact).__name__}")
    if not isinstance(fact.get("t"), str) or fact["t"] == _SENTINEL_TYPE:
        raise EngineError(f"{where}: 't' must be a fact type string other than {_SENTINEL_TYPE!r}")
    bad = sorted(str(k) for k in fact if k in ("id", "sid") or str(k).startswith("$"))
    if bad:
        raise EngineError(f"{where}: keys {bad} are reserved by the engine")
    keys = [0]
    try:
        text = _encode(fact, keys)
    except ValueError as exc:
        raise EngineError(f"{where}: {exc}") from exc
    if keys[0] > _MAX_KEYS:
        raise EngineError(f"{where}: {keys[0]} keys (nested included); at most {_MAX_KEYS} are supported")
    return text[1:]


def _run_chunk(ruleset: _durable.Ruleset, payloads: list[str], sid: str) -> None:
    """Assert each fact, then the sentinel; drain the actions; free the session when safe."""
    pending: BaseException | None = None
    try:
        for index, payload in enumerate(payloads):
            try:
                code = _dre.assert_fact(ruleset._handle, payload)[0]
            except (_dre.error, MemoryError, UnicodeError) as exc:
                raise EngineError(f"fact {index}: durable_rules refused it: {exc}") from exc
            if code == 2:
                raise EngineError(f"fact {index}: durable_rules says it was already observed")
            if code not in (0, 1):  # 1: matched no pattern (#286), not stored
                raise EngineError(f"fact {index}: unexpected durable_rules result code {code}")
    except BaseException as exc:  # noqa: BLE001 - re-raised after the session is closed
        pending = exc
    problem = _finish(ruleset, sid)
    if pending is not None:
        raise pending
    if problem:
        raise EngineError(problem)


def _finish(ruleset: _durable.Ruleset, sid: str) -> str | None:
    """Assert the sentinel and drain; delete the session only if an action completed."""
    outcome: list[tuple[Any, Any]] = []
    sentinel = f'{{"id":"{_SENTINEL_ALIAS}","sid":"{sid}","t":"{_SENTINEL_TYPE}"}}'
    try:
        code, state_handle = _dre.assert_fact(ruleset._handle, sentinel)
        if code != 0:
            return f"sentinel fact not accepted (code {code}); session {sid} leaked"
        ruleset.do_actions(state_handle, lambda error, state: outcome.append((error, state)))
    except Exception as exc:  # noqa: BLE001 - reported, session deliberately leaked
        return f"durable_rules failed while firing rules: {exc}; session {sid} leaked"
    if not outcome or outcome[0][0] is not None or not isinstance(outcome[0][1], dict):
        return f"durable_rules did not complete the actions ({outcome!r}); session {sid} leaked"
    ruleset.delete_state(sid)
    exception = outcome[0][1].get("exception")
    return f"a rule action failed inside durable_rules: {exception}" if exception else None
