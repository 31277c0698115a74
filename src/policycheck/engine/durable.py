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
  write out of bounds): at most ``chunk_size`` (<= 50) rules per chunk. Error 303 (#312): one
  fact may push at most 64 alpha nodes in a ruleset, and joins are never shared between
  patterns; the planner bounds every fact type of every chunk with ``durable_alpha``'s model of
  the network (docs/engine.md, "Error 303"), and refuses a rule too big alone.
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

import hashlib
import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any

import durable_rules_engine as _dre
from durable import engine as _durable

from policycheck.engine import Match
from policycheck.engine.durable_json import EnginePattern, EngineRule
from policycheck.engine.durable_shape import _SENTINEL_ALIAS, _SENTINEL_TYPE  # plain Python, shared with the load-time checks
from policycheck.engine.durable_alpha import STACK, AlphaNet
from policycheck.engine.durable_prepare import SENTINEL_EXPRESSION, _quote, prepared
from policycheck.engine.durable_prepare import encode as _encode
from policycheck.errors import EngineError, Problem

__all__ = ["Engine", "EnginePattern", "EngineRule", "Match", "engine_version"]

_ALWAYS = "__always"
_SENTINEL_PATTERN = f'{{"{_SENTINEL_ALIAS}":{{"t":"{_SENTINEL_TYPE}"}}}}'
_MAX_CHUNK = 50
_MAX_KEYS = 200  # the C parser refuses more than 254 properties (error 302)
_MAX_FACTS = 200_000  # ids f0..f199999 and s__ are checked free of 32-bit hash clashes (#376)


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


def _stack_fits(net: AlphaNet, types: set[str | None]) -> bool:
    """No fact of the types a rule's patterns test (all types, for an untyped pattern) can
    overflow durable's alpha stack in ``net``."""
    checked = net.types() | {None} if None in types else types
    return all(net.depth(t) <= STACK for t in checked)


class Engine:
    """Compiled rules, registered once; ``run`` evaluates one case in an isolated session."""

    def __init__(self, rules: Sequence[EngineRule], *, chunk_size: int = 40, remember: bool = False) -> None:
        if not isinstance(chunk_size, int) or not 1 <= chunk_size <= _MAX_CHUNK:
            raise EngineError(f"chunk_size must be between 1 and {_MAX_CHUNK}, not {chunk_size!r}")
        self._rules = list(rules)
        self._prepared = [prepared(rule) for rule in self._rules]  # checks and JSON, once per rule per process
        problems = [p for prep in self._prepared for p in prep.problems]
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
        self._chunk_fields = [frozenset({"t"}).union(*(p.names for i in group for p in self._prepared[i].patterns))
                              for group in plan]
        self._shapes: dict[tuple[int, tuple[str, ...]], list[str]] = {}
        # ``remember``: the matches of a chunk are a function of the facts it is given (a fresh
        # session each time, durable deterministic): an assessment runs the engine on every date
        # of a case, and a chunk whose facts did not change between two dates is not run again.
        # Off by default, so that a caller repeating a run exercises durable every time.
        self._remember = remember
        self._done: dict[bytes, list[tuple[int, dict[str, Any]]]] = {}

    def _types(self, group: list[int]) -> frozenset[str] | None:
        types = {p.fact_type for index in group for p in self._prepared[index].patterns}
        return None if None in types else frozenset(t for t in types if t is not None)

    def _plan(self, chunk_size: int) -> list[list[int]]:
        """Groups of rule indices: <= chunk_size rules, and no fact can overflow durable's alpha
        stack in any group (``durable_alpha``: the network durable builds, bounded per fact
        type; error 303 otherwise). A rule too big for a group of its own is refused here."""
        groups: list[list[int]] = []
        net = AlphaNet()
        # rules testing the same fact types side by side: a fact goes only into the chunks
        # that test its type, so the fewer chunks a type is spread over, the fewer asserts
        order = sorted(range(len(self._rules)), key=lambda i: sorted(
            "" if p.fact_type is None else p.fact_type for p in self._prepared[i].patterns))
        for index in order:
            rule, prep = self._rules[index], self._prepared[index]
            if prep.depth > STACK:
                raise EngineError(f"rule {rule.name!r}: one fact can push {prep.depth} alpha nodes at once, more than "
                                  f"the {STACK} durable_rules holds (error 303); split the rule")
            types = {p.fact_type for p in prep.patterns}
            if groups and len(groups[-1]) < chunk_size:
                for p in prep.patterns:
                    net.add(p.canonical)
                if _stack_fits(net, types):
                    groups[-1].append(index)
                    continue
            net = AlphaNet()
            net.add(SENTINEL_EXPRESSION)
            for p in prep.patterns:
                net.add(p.canonical)
            groups.append([index])
        return groups

    def _register(self, host: _QuietHost, number: int, group: list[int]) -> _durable.Ruleset:
        bodies = {_ALWAYS: f'{{"all":[{_SENTINEL_PATTERN}]}}'}
        for index in group:
            patterns = [_SENTINEL_PATTERN, *(p.text for p in self._prepared[index].patterns)]
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
            if any(p.fact_type in (None, *types) for p in self._prepared[index].patterns):
                name = rule.name.split("|")[0]
                if name not in rules:
                    rules.append(name)
        message = "; ".join(p.message for p in exc.problems)
        if labels is not None:
            message = re.sub(r"\bfact (\d+)\b", lambda m: f"fact {m.group(1)} ({labels[int(m.group(1))]})"
                             if int(m.group(1)) < len(labels) else m.group(0), message)
        shown = ", ".join(rules[:5]) + (f" and {len(rules) - 5} more" if len(rules) > 5 else "")
        return f"{'rule' if len(rules) == 1 else 'one of the rules'} {shown}: {message}"

    def _read(self, number: int, keys: tuple[str, ...]) -> list[str]:
        """The keys, of a fact with ``keys``, that chunk ``number`` reads, sorted (kept per shape)."""
        found = self._shapes.get((number, keys))
        if found is None:
            if len(self._shapes) > 100_000:
                self._shapes.clear()
            found = self._shapes[(number, keys)] = sorted(self._chunk_fields[number].intersection(keys))
        return found

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
        shapes = [tuple(m) for m in members]   # a fact's keys: facts of one type mostly share them
        by_type: dict[str, list[int]] = {}
        for i, fact in enumerate(facts):
            by_type.setdefault(fact["t"], []).append(i)
        with _LOCK:
            sid = str(next(_SIDS))
            self._hits = []
            for number, (ruleset, types) in enumerate(zip(self._chunks, self._chunk_types)):
                mine = list(range(len(facts))) if types is None else \
                    sorted(i for t in types.intersection(by_type) for i in by_type[t])
                if not mine:  # every rule needs a fact for its first (positive) pattern: no fact, no match
                    continue
                bodies = [",".join([members[i][k] for k in self._read(number, shapes[i])]) for i in mine]
                key = _digest(number, mine, bodies) if self._remember else b""
                done = self._done.get(key) if self._remember else None
                if done is not None:  # this chunk saw exactly these facts before (another date of the case)
                    self._hits += done
                    continue
                tail = f'","sid":"{sid}",'
                payloads = ['{"id":"f' + str(i) + tail + body + "}" for i, body in zip(mine, bodies)]
                before = len(self._hits)
                try:
                    _run_chunk(ruleset, payloads, sid, self._collect, mine,
                               {f"f{i}": text for i, text in zip(mine, payloads)})
                except EngineError as exc:
                    raise EngineError(self._blame(number, exc, [facts[i]["t"] for i in mine], labels)) from exc
                if self._remember:
                    if len(self._done) >= _DONE_MAX:
                        self._done.clear()
                    self._done[key] = self._hits[before:]
            hits, self._hits = self._hits, []
        found: set[tuple[int, tuple[int, ...]]] = set()
        for index, frame in hits:
            try:
                found.add((index, tuple(int(frame[a]["id"][1:]) for a in self._positive[index])))
            except (KeyError, TypeError, ValueError) as exc:
                raise EngineError(f"unexpected match payload for rule {self._rules[index].name!r}") from exc
        matches = [Match(self._rules[i].name, tuple(zip(self._positive[i], ids))) for i, ids in found]
        return sorted(matches, key=lambda m: (m.rule, m.facts))


_DONE_MAX = 4096  # chunk runs remembered per engine (each a 32-byte key and its few matches)


def _digest(number: int, numbers: Sequence[int], bodies: Sequence[str]) -> bytes:
    """A key for chunk ``number`` given facts ``numbers`` with these payload bodies (BLAKE2b:
    two different inputs never meet in practice)."""
    h = hashlib.blake2b(digest_size=32)
    h.update(f"{number}|{','.join(map(str, numbers))}|".encode())
    for body in bodies:
        h.update(body.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.digest()


_KEYS: dict[str, str] = {}  # a fact key -> '"key":' (the vocabulary's keys, written once)


def _fact_members(index: int, fact: Mapping[str, Any]) -> dict[str, str]:
    """The fact's members, key -> '"key":json' (a chunk's payload joins the members it reads)."""
    _check_fact(index, fact)
    keys = [len(fact)]
    members: dict[str, str] = {}
    try:
        for key, value in fact.items():
            head = _KEYS.get(key)
            if head is None:
                head = _quote(key) + ":"
                if len(_KEYS) < 10_000:
                    _KEYS[key] = head
            kind = type(value)  # the common scalars written here; everything else by _encode
            if kind is str:
                members[key] = head + _quote(value)
            elif kind is int and -(2**63) <= value < 2**63:
                members[key] = head + str(value)
            elif kind is bool:
                members[key] = head + ("true" if value else "false")
            else:
                members[key] = head + _encode(value, keys)
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
               numbers: Sequence[int] | None = None, known: Mapping[str, str] | None = None) -> None:
    """Assert each fact singly, then the sentinel; drain the actions; free the session.
    ``numbers``: each payload's index among the case's facts (for error messages); ``known``:
    the payloads by fact id, to read match frames without parsing them (``_read_frames``)."""
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
    problem = _finish(ruleset, sid, collect, known)
    if pending is not None:
        raise pending
    if problem:
        raise EngineError(problem)


def _finish(ruleset: _durable.Ruleset, sid: str, collect: _Collect, known: Mapping[str, str] | None = None) -> str | None:
    """Assert the sentinel, drain every queued action, and delete the session - but only once
    an action has completed (the always rule guarantees one), else it is leaked, not freed."""
    handle, completed, problem = ruleset._handle, 0, None
    try:
        sentinel = f'{{"id":"{_SENTINEL_ALIAS}","sid":"{sid}","t":"{_SENTINEL_TYPE}"}}'
        texts = {**known, _SENTINEL_ALIAS: sentinel} if known is not None else None
        code, state_handle = _dre.assert_fact(handle, sentinel)
        started = _dre.start_action_for_state(handle, state_handle) if code == 0 else None
        if started is None:
            return f"durable_rules fired nothing for the sentinel (code {code}); session {sid} leaked"
        state, messages = json.loads(started[0]), started[1]
        if state.get("exception"):
            problem = f"durable_rules reports an action failure: {state['exception']}"
        while messages:
            try:
                for action, frame in _read_frames(messages, texts):
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


_SLOW_READS = [0]  # frames read by json.loads because the quick reading did not verify (tests watch it)
_FACT_HEAD = ':{"id":"'


def _read_frames(messages: str, texts: Mapping[str, str] | None) -> list[tuple[str, dict[str, Any]]]:
    """The (action, {alias: {"id": fact id}}) pairs of a batch of match frames.

    durable hands each matched fact back as the very text the adapter asserted, so a frame
    ``{"r3":{"d":{"id":"f2",...},"p":{"id":"f0",...}}}`` is read by checking, at each alias,
    that the asserted text of the fact it names follows (``texts``: text by fact id) and
    skipping it: no JSON parse of every fact of every match (for a case at the limits that was
    most of the engine's time). Anything else - a text that differs, another shape - is parsed
    with ``json.loads``, which gives the same pairs."""
    if texts is not None:
        try:
            return _quick_frames(messages, texts)
        except (ValueError, IndexError):
            pass
    _SLOW_READS[0] += 1
    return [(action, {alias: {"id": fact["id"]} for alias, fact in frame.items()})
            for action, frame in json.loads(messages).items()]


def _quick_frames(messages: str, texts: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if not messages.startswith('{"'):
        raise ValueError("not a frame batch")
    pos = 1
    while True:
        end = messages.index('"', pos + 1)           # action names and aliases hold no quote
        action = messages[pos + 1:end]
        if not messages.startswith(':{"', end + 1):
            raise ValueError("not a frame")
        pos = end + 3
        frame: dict[str, Any] = {}
        while True:
            end = messages.index('"', pos + 1)
            alias = messages[pos + 1:end]
            if not messages.startswith(_FACT_HEAD, end + 1):
                raise ValueError("not a fact")
            start = end + 2                           # the fact's text starts at its "{"
            close = messages.index('"', start + 7)
            fact_id = messages[start + 7:close]
            text = texts.get(fact_id)
            if text is None or not messages.startswith(text, start):
                raise ValueError("not the asserted text")
            frame[alias] = {"id": fact_id}
            pos = start + len(text)
            mark = messages[pos]
            if mark == "}":
                break
            if mark != ",":
                raise ValueError("not a frame")
            pos += 1
        out.append((action, frame))
        pos += 1
        mark = messages[pos]
        if mark == "}" and pos + 1 == len(messages):
            return out
        if mark != ",":
            raise ValueError("not a frame batch")
        pos += 1
