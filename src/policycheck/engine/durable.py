"""The only door to durable_rules 2.0.28 (unmaintained, C core): a defensive adapter.

Rules are compiled once per Engine into one process-wide Host; every ``run`` evaluates one
case in a fresh, isolated session. Durable bugs handled here (sections of docs/engine.md,
jruizgit/rules issues as #N), each pinned by a test in tests/test_engine_adapter.py:

* Host timer threads (s.2): one lazily created Host whose ``_run()`` does nothing.
* ``register_rulesets`` pops ``run``; ``json.dumps`` writes ``1e+16`` (error 204) (s.1): the ruleset
  JSON is written here from fresh strings; a caller's dicts are never handed to durable.
* No truth maintenance for negation (s.3): every rule starts with the sentinel pattern ``s__``
  and the sentinel fact is asserted last, so nothing fires before all facts are in.
* ``delete_state`` frees uninitialised memory unless an action completed (s.2): an internal rule
  on the sentinel alone always fires; a session that could not be drained is leaked, not freed.
* 1,024 live sessions per ruleset; not thread-safe (#291, #306): a fresh sid per run, deleted
  after every chunk, and every call into durable behind one process-wide lock.
* ``assert_facts`` batches drop facts silently; ids clash on a 32-bit hash (#376): facts go in
  one at a time as ``f0, f1, ...``; "not handled" (#286) is ignored, "observed" is an error.
* Exponent floats (``1e+16``, ``3e-05``) are rejected or dropped (s.5): numbers are written as
  ``1.0e+16``; NaN, inf and integers beyond 64 bits are refused; bools stay bools.
* Type coercion (s.1) is NOT fixed: ``true == 1 == "true"``, fact ``10`` equals literal ``"10"``,
  strings compare with numbers, and whether fact ``"10"`` equals literal ``10`` depends on the
  other rules in the C ruleset. The compiler must keep literals and facts type-correct.
* Action exceptions are swallowed into ``state["exception"]`` (#305): durable's Python action layer
  is bypassed; the adapter drains the C action queue itself (``start_action_for_state`` /
  ``complete_and_start_action``), appends to an instance list, raises EngineError on any failure
  and still checks the session state for ``exception``.
* Error 108 (256 rules behind one first pattern, #140; its bounds check can pass silently and
  write out of bounds), error 303 (64 alpha branches matched by one fact, #312) and the hang at
  513 sibling tests: at most ``chunk_size`` (<= 50) rules and 60 branches per fact type per chunk.
* Events are consumed by one rule (#190): only facts are asserted, never ``post``.
* ``pri`` is an unsigned short and equal-priority order is unspecified: results are sorted.
* More than ~254 properties per fact gives error 302: facts with over 200 keys are refused.
* ``dist`` (#83): (A, B) and (B, A) both fire for two slots of one type; callers dedupe.
* Rulesets cannot be deleted (#137, #136, #371): build each Engine once per process and reuse
  it; ``delete_ruleset`` is never called.

Found while integrating (not in the original field notes; pinned by tests, valgrind-checked):

* The C join evaluator stops at the end of a pattern's first nested group (joins written after
  an ``$and``/``$or``/``$iany`` are silently ignored) and, when the last join is false, reads past
  the expression sequence (a segfault seen in a test run): joins are moved first and closed by
  an always-true join on the sentinel; joins inside ``$or``/``$iany``/``$iall`` are refused.
* A test object with several keys is read by its first key only: refused.
* ``$or`` inside ``$iany``/``$iall`` reads uninitialised memory at registration (random error 102):
  ``$iany`` of ``$or`` is rewritten to ``$or`` of ``$iany``; anything else is refused.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any

import durable_rules_engine as _dre
from durable import engine as _durable

from policycheck.engine import Match
from policycheck.engine.durable_json import EnginePattern, EngineRule
from policycheck.engine.durable_shape import (  # plain Python, shared with the load-time checks
    _ALPHA_BUDGET, _ARITHMETIC, _GROUPS, _SENTINEL_ALIAS, _SENTINEL_TYPE, _TRUE_JOIN, _canonical, _conjuncts,
    _has_or, _references, _refs, _rewrite, _shape_problems, _type_of, _width, registration_problems,
)
from policycheck.errors import EngineError, Problem

__all__ = ["Engine", "EnginePattern", "EngineRule", "Match", "engine_version"]

_ALWAYS = "__always"
_SENTINEL_PATTERN = f'{{"{_SENTINEL_ALIAS}":{{"t":"{_SENTINEL_TYPE}"}}}}'
_ALIAS = re.compile(r"[a-z][a-z0-9_]*\Z")
_MAX_CHUNK = 50
_MAX_KEYS = 200  # the C parser refuses more than 254 properties (error 302)
_MAX_FACTS = 200_000  # ids f0..f199999 and s__ are checked free of 32-bit hash clashes (#376)
_quote: Callable[[str], str] = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses


def engine_version() -> str:
    """The installed durable-rules version, e.g. ``"2.0.28"``."""
    return metadata.version("durable_rules")


class _QuietHost(_durable.Host):  # type: ignore[misc]  # durable ships no type information
    """A Host without dispatcher/timer threads: nothing ever runs outside ``Engine.run``."""

    def _run(self) -> None:
        pass

    def register_json(self, name: str, text: str) -> _durable.Ruleset:
        """Like ``register_rulesets``, but from JSON we wrote; actions are drained by us."""
        if name in self._ruleset_directory:
            raise EngineError(f"ruleset {name} already registered")
        ruleset = _durable.Ruleset.__new__(_durable.Ruleset)
        ruleset._name, ruleset._host, ruleset._definition, ruleset._actions = name, self, None, {}
        ruleset._handle = _dre.create_ruleset(name, text)
        self._ruleset_directory[name] = ruleset
        self._ruleset_list.append(ruleset)
        return ruleset


_LOCK = threading.RLock()  # durable is not thread-safe: every call into it holds this lock
_HOST: _QuietHost | None = None  # created lazily by the first Engine
_ENGINE_IDS = itertools.count()
_SIDS = itertools.count()


def _encode(value: Any, keys: list[int] | None = None) -> str:
    """JSON the C parser reads correctly; counts object keys (outside arrays) into ``keys``."""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, Mapping):
        if keys is not None:
            keys[0] += len(value)
        if not all(isinstance(key, str) for key in value):
            raise ValueError(f"object keys must be strings: {list(value)!r}")
        return "{" + ",".join(f"{_quote(k)}:{_encode(v, keys)}" for k, v in value.items()) + "}"
    if value is None or isinstance(value, bool):
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"integer {value} does not fit in 64 bits")
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"number {value} is not finite")
        mantissa, e, exponent = repr(float(value)).partition("e")
        return f"{mantissa}{'' if '.' in mantissa or not e else '.0'}{e}{exponent}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    raise ValueError(f"value of type {type(value).__name__} is not JSON")


def _fits(counts: Counter[str | None]) -> bool:
    """Branches of untyped patterns (None) are pushed for facts of every type."""
    untyped = counts.get(None, 0)
    return all(n + (0 if t is None else untyped) <= _ALPHA_BUDGET for t, n in counts.items())


def _check_rule(rule: EngineRule) -> list[str]:
    problems: list[str] = []
    if not isinstance(rule.name, str) or not rule.name or not rule.name.isprintable():
        problems.append("the name must be a non-empty printable string")
    if not rule.patterns or rule.patterns[0].negated:
        problems.append("the first pattern must exist and not be negated")
    used: set[str] = set()
    positive: set[str] = set()
    for pattern in rule.patterns:
        alias = pattern.alias
        if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == _SENTINEL_ALIAS:
            problems.append(f"alias {alias!r} must match [a-z][a-z0-9_]* and not be {_SENTINEL_ALIAS!r}")
        elif alias in used:
            problems.append(f"alias {alias!r} is used twice")
        used.add(alias)
        try:
            if not isinstance(pattern.expression, Mapping):
                raise ValueError("the expression must be a mapping")
            _encode(pattern.expression)
        except ValueError as exc:
            problems.append(f"pattern {alias!r}: {exc}")
            continue
        problems += [f"pattern {alias!r}: {p}" for p in _shape_problems(_rewrite(pattern.expression))]
        refs = _refs(pattern.expression)
        problems += [f"pattern {alias!r} refers to {r!r}, not an earlier positive alias" for r in sorted(refs - positive)]
        if refs and any(_refs(part) and next(iter(part)) in _GROUPS for part in _conjuncts(pattern.expression)):
            problems.append(f"pattern {alias!r}: durable_rules mis-evaluates joins inside $or/$iany/$iall; "
                            "split the rule into alternatives instead")
        if not pattern.negated:
            positive.add(alias)
    return [f"rule {rule.name!r}: {p}" for p in problems]


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
        self._hits: list[tuple[int, dict[str, Any]]] = []
        global _HOST
        with _LOCK:
            if _HOST is None:
                _HOST = _QuietHost()
            self._prefix = f"pc{next(_ENGINE_IDS)}"
            plan = self._plan(chunk_size)
            self._plan_groups = plan
            self._chunks = [self._register(_HOST, n, group) for n, group in enumerate(plan)]
        # The fact types each chunk's patterns test (None: some pattern is untyped, so every
        # fact goes in). A fact of another type matches no pattern of the chunk (#286: not
        # stored), so it is not asserted there at all: a case's cost per chunk is the facts
        # the chunk can use, not every fact of the case.
        self._chunk_types = [self._types(group) for group in plan]
        # The field names each chunk's patterns can read: every string of its rules (keys and
        # values, and each part of a dotted path), an over-approximation. A fact goes into a
        # chunk with only those fields: the C parser and matcher cost grows with a fact's size,
        # and a licence version has about a hundred fields of which a chunk reads a few.
        self._chunk_fields = [frozenset({"t"}).union(*(_names(_canonical(p.expression)) for i in group
                                                       for p in self._rules[i].patterns)) for group in plan]

    def _types(self, group: list[int]) -> frozenset[str] | None:
        types: set[str] = set()
        for index in group:
            for p in self._rules[index].patterns:
                fact_type = _type_of(_canonical(p.expression))
                if fact_type is None:
                    return None
                types.add(fact_type)
        return frozenset(types)

    def _plan(self, chunk_size: int) -> list[list[int]]:
        """Groups of rule indices: <= chunk_size rules and, per fact type, <= _ALPHA_BUDGET
        distinct alpha branches (a fact pushes every matching branch of its type at once)."""
        groups: list[list[int]] = []
        seen: set[str] = set()
        counts: Counter[str | None] = Counter()
        for index, rule in enumerate(self._rules):
            exprs = [_canonical(p.expression) for p in rule.patterns]
            branches = {_encode(e): (_type_of(e), _width(e)) for e in exprs}
            trial = Counter(counts)
            for text, (fact_type, width) in branches.items():
                trial[fact_type] += 0 if text in seen else width
            if not groups or len(groups[-1]) >= chunk_size or not _fits(trial):
                groups.append([])
                seen, trial = set(), Counter()
                for fact_type, width in branches.values():
                    trial[fact_type] += width
            groups[-1].append(index)
            seen.update(branches)
            counts = trial
        return groups

    def _register(self, host: _QuietHost, number: int, group: list[int]) -> _durable.Ruleset:
        bodies = {_ALWAYS: f'{{"all":[{_SENTINEL_PATTERN}]}}'}
        for index in group:
            patterns = [_SENTINEL_PATTERN] + [
                f'{{"{p.alias}{"$not" if p.negated else ""}":{_encode(_canonical(p.expression))}}}'
                for p in self._rules[index].patterns
            ]
            bodies[f"r{index}"] = '{"all":[' + ",".join(patterns) + "]}"
        text = "{" + ",".join(f'"{name}":{body}' for name, body in bodies.items()) + "}"
        try:
            return host.register_json(f"{self._prefix}_{number}", text)
        except (_dre.error, MemoryError) as exc:
            names = [self._rules[i].name for i in group]
            raise EngineError(f"durable_rules rejected the rules {names}: {exc}") from exc

    def _blame(self, number: int, exc: EngineError, types: list[str], labels: Sequence[str] | None) -> str:
        """The error of chunk ``number`` with the rules it holds that read the case's facts
        (one of them failed; a rule alone in its chunk is named alone) and the fact's label."""
        rules: list[str] = []
        for index in self._plan_groups[number]:
            rule = self._rules[index]
            if any(_type_of(_canonical(p.expression)) in (None, *types) for p in rule.patterns):
                name = rule.name.split("|")[0]
                if name not in rules:
                    rules.append(name)
        message = "; ".join(p.message for p in exc.problems)
        if labels is not None:
            message = re.sub(r"\bfact (\d+)\b", lambda m: f"fact {m.group(1)} ({labels[int(m.group(1))]})"
                             if int(m.group(1)) < len(labels) else m.group(0), message)
        shown = ", ".join(rules[:5]) + (f" and {len(rules) - 5} more" if len(rules) > 5 else "")
        return f"{'rule' if len(rules) == 1 else 'one of the rules'} {shown}: {message}"

    def _collect(self, action: str, frame: dict[str, Any]) -> None:
        """The only thing an action does: remember (rule index, matched facts by alias)."""
        if action != _ALWAYS:
            self._hits.append((int(action[1:]), frame))

    def run(self, facts: Sequence[Mapping[str, Any]], labels: Sequence[str] | None = None) -> list[Match]:
        """All matches of all rules against exactly ``facts``, sorted by (rule, facts).

        An EngineError names the rules of the chunk that failed (the rule id before the first
        ``|`` of an engine rule's name) and the fact, by ``labels[i]`` when given."""
        facts = list(facts)
        if len(facts) > _MAX_FACTS:
            raise EngineError(f"{len(facts)} facts in one case; at most {_MAX_FACTS} are supported")
        members = [_fact_members(i, fact) for i, fact in enumerate(facts)]
        with _LOCK:
            sid = str(next(_SIDS))
            self._hits = []
            for number, (ruleset, types, fields) in enumerate(zip(self._chunks, self._chunk_types, self._chunk_fields)):
                mine = [i for i, fact in enumerate(facts) if types is None or fact["t"] in types]
                if not mine:  # every rule needs a fact for its first (positive) pattern: no fact, no match
                    continue
                payloads = [f'{{"id":"f{i}","sid":"{sid}",'
                            + ",".join([members[i][k] for k in sorted(fields.intersection(members[i]))]) + "}"
                            for i in mine]
                try:
                    _run_chunk(ruleset, payloads, sid, self._collect, mine)
                except EngineError as exc:
                    raise EngineError(self._blame(number, exc, [facts[i]["t"] for i in mine], labels)) from exc
            hits, self._hits = self._hits, []
        found: set[tuple[int, tuple[int, ...]]] = set()
        for index, frame in hits:
            try:
                found.add((index, tuple(int(frame[a]["id"][1:]) for a in self._positive[index])))
            except (KeyError, TypeError, ValueError) as exc:
                raise EngineError(f"unexpected match payload for rule {self._rules[index].name!r}") from exc
        matches = [Match(self._rules[i].name, tuple(zip(self._positive[i], ids))) for i, ids in found]
        return sorted(matches, key=lambda m: (m.rule, m.facts))


def _names(expression: Any) -> set[str]:
    """Every string in a pattern (keys and values), dotted paths also split into their parts."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.add(value)
            found.update(value.split("."))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(expression)
    return found


def _fact_members(index: int, fact: Mapping[str, Any]) -> dict[str, str]:
    """The fact's members, key -> '"key":json' (a chunk's payload joins the members it reads)."""
    _check_fact(index, fact)
    keys = [len(fact)]
    try:
        members = {key: f"{_quote(key)}:{_encode(value, keys)}" for key, value in fact.items()}
    except ValueError as exc:
        raise EngineError(f"fact {index}: {exc}") from exc
    if keys[0] > _MAX_KEYS:
        raise EngineError(f"fact {index}: {keys[0]} keys (nested included); at most {_MAX_KEYS} are supported")
    return members


def _check_fact(index: int, fact: Mapping[str, Any]) -> None:
    if not isinstance(fact, Mapping):
        raise EngineError(f"fact {index}: must be a mapping, not {type(fact).__name__}")
    if not isinstance(fact.get("t"), str) or fact["t"] == _SENTINEL_TYPE:
        raise EngineError(f"fact {index}: 't' must be a fact type string other than {_SENTINEL_TYPE!r}")
    reserved = sorted(str(k) for k in fact if k in ("id", "sid") or str(k).startswith("$"))
    if reserved:
        raise EngineError(f"fact {index}: keys {reserved} are reserved by the engine")
    if not all(isinstance(key, str) for key in fact):
        raise EngineError(f"fact {index}: object keys must be strings: {list(fact)!r}")


_Collect = Callable[[str, dict[str, Any]], None]


def _run_chunk(ruleset: _durable.Ruleset, payloads: list[str], sid: str, collect: _Collect,
               numbers: Sequence[int] | None = None) -> None:
    """Assert each fact singly, then the sentinel; drain the actions; free the session.
    ``numbers``: each payload's index among the case's facts (for error messages)."""
    pending: BaseException | None = None
    try:
        for position, payload in enumerate(payloads):
            index = numbers[position] if numbers is not None else position
            try:
                code = _dre.assert_fact(ruleset._handle, payload)[0]
            except (_dre.error, MemoryError, UnicodeError) as exc:
                raise EngineError(f"fact {index}: durable_rules refused it: {exc}") from exc
            if code == 2:
                raise EngineError(f"fact {index}: durable_rules says it was already observed")
            if code not in (0, 1):  # 1: matched no pattern (#286), not stored
                raise EngineError(f"fact {index}: unexpected durable_rules result code {code}")
    except BaseException as exc:  # re-raised once the session is closed
        pending = exc
    problem = _finish(ruleset, sid, collect)
    if pending is not None:
        raise pending
    if problem:
        raise EngineError(problem)


def _finish(ruleset: _durable.Ruleset, sid: str, collect: _Collect) -> str | None:
    """Assert the sentinel, drain every queued action, and delete the session - but only once
    an action has completed (the always rule guarantees one), else it is leaked, not freed."""
    handle, completed, problem = ruleset._handle, 0, None
    try:
        sentinel = f'{{"id":"{_SENTINEL_ALIAS}","sid":"{sid}","t":"{_SENTINEL_TYPE}"}}'
        code, state_handle = _dre.assert_fact(handle, sentinel)
        started = _dre.start_action_for_state(handle, state_handle) if code == 0 else None
        if started is None:
            return f"durable_rules fired nothing for the sentinel (code {code}); session {sid} leaked"
        state, messages = json.loads(started[0]), started[1]
        if state.get("exception"):
            problem = f"durable_rules reports an action failure: {state['exception']}"
        while messages:
            try:
                for action, frame in json.loads(messages).items():
                    collect(action, frame)
            except Exception as exc:  # keep draining so the session can be freed
                problem = problem or f"collecting a match failed: {exc!r}"
            messages = _dre.complete_and_start_action(handle, state_handle)
            completed += 1
    except Exception as exc:  # reported below; the session is freed only if that is safe
        problem = f"durable_rules failed while firing rules: {exc}"
    if not completed:
        return f"{problem or 'no action completed'}; session {sid} leaked"
    _dre.delete_state(handle, sid)
    return problem
