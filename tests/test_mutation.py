"""Mutation check of the bundled fixtures, per condition: every test a rule makes must be pinned.

Each bundled rule file is broken one condition at a time, the way a careless edit breaks it,
and at least one fixture naming the rule (its own ``<id>.test.yaml`` tests, or any bundled
fixture listing it in also_fires / not_fires) that passes against the real rule must fail
against the broken one. The mutants:

* every literal test in a ``when.all / any / none`` pattern's ``where`` and ``any_of``
  branches, and in every mitigation's ``on / all / none``: dropped, and flipped (a boolean
  negated, an enum swapped for another value of the field's vocabulary, an ordering negated
  and its bound made strict / non-strict, ``in`` <-> ``not_in``, one value taken out of a
  list of values, ``exists`` negated); every ``any_of`` branch dropped;
* every comparison with another fact's value (``{stricter: {ref: prev.commercial_use}}``,
  ``{lt: {ref: prev.threshold_limit}}``, a ``ne`` or an ``eq`` between non-id fields):
  dropped, and flipped (``stricter`` <-> ``looser``, an ordering negated, ``ne`` <-> ``eq``);
  links (``eq`` references from an id field, e.g. ``previous: {ref: prev.id}``) are kept;
* ``past: true`` dropped from a pattern, and ``applies_to`` dropped (back to the default,
  model licences only) where the rule names other kinds;
* every mitigation dropped, and its severity moved one step (staying below the rule's);
* the rule's severity moved one step up and down;
* the three whole-rule breaks: never fires (a ``none`` that every case satisfies), always
  fires (only the links between its facts remain) and unmitigated (``mitigated_by`` dropped).

Mutants are built from the rule file's raw YAML (a mutated copy is written to a temporary
rules folder and loaded with the ordinary loader), so nothing here depends on how rules
compile. A mutant the loader refuses is killed by the loader (the refusal is a real load
error, e.g. a rule severity lowered to its mitigation's).

Each mutant's fixtures run against a mini-pack: the mutant plus the rules the fixtures name,
with a digest of its own (the engine is cached by digest). An engine error on a mini-pack is
not a verdict on the fixtures but a bug in the engine adapter (the chunk planner once put more
than durable's 64 alpha nodes per fact in one chunk, error 303): it fails the test, with the
mutant and the fixture it ran, and is never retried on a smaller pack. Survivors a fixture cannot kill are
listed, with a one-line reason each, in ``mutation_survivors.yaml``; any other survivor fails
the test, and so does a listed survivor that is killed now (a stale entry).
"""

from __future__ import annotations

import copy
import functools
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from policycheck.errors import EngineError, PolicycheckError
from policycheck.io.reader import read_document
from policycheck.load.rules import LoadedRule, RulePack, bundled_rules_dir, load_rule_file, load_rules
from policycheck.model.vocabulary import FACT_TYPES
from policycheck.ruletest.fixtures import LoadedTest, Suite, load_suite, run_suite

PACK = load_rules()
TESTS = load_suite([bundled_rules_dir()]).tests
SURVIVORS_FILE = Path(__file__).with_name("mutation_survivors.yaml")
SEVERITIES = ("info", "low", "medium", "high")
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutant:
    rule: str
    field: str          # where in the rule file, e.g. "when.all[0].where.compute"
    mutation: str       # what changed, e.g. "in -> not_in"
    data: Any           # the mutated rule file

    def describe(self) -> str:
        return f"{self.rule}: {self.field}: {self.mutation}"


# --- building mutants ---------------------------------------------------------------------------

def _get(data: Any, path: Path_) -> Any:
    for key in path:
        data = data[key]
    return data


def _with(data: Any, path: Path_, change: Callable[[Any], None]) -> Any:
    """A deep copy of ``data`` with ``change`` applied to the node at ``path``."""
    out = copy.deepcopy(data)
    change(_get(out, path))
    return out


def _pop(index: int) -> Callable[[Any], None]:
    return lambda node: node.pop(index)


def _set(key: str, value: Any) -> Callable[[Any], None]:
    return lambda node: node.__setitem__(key, value)


def _fmt(path: Path_) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


def _is_ref(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"ref"}


def _other_value(fact: str, name: str, value: Any) -> Any:
    """A different value of the same kind: another enum value, a shifted number, another string."""
    spec = FACT_TYPES[fact].get(name)
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if spec is not None and spec.values:
        others = [v for v in spec.values if v != value]
        if others:
            return others[0]
    return f"{value}-mutant"


_NEGATE = {"gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt", "in": "not_in", "not_in": "in", "ne": "eq"}
_REF_FLIP = {"stricter": "looser", "looser": "stricter", "gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt",
             "ne": "eq", "eq": "ne"}


def _is_link(fact: str, name: str, op: str, operand: Any, alias: str) -> bool:
    """An ``eq`` reference from an id field to another pattern's fact: it says which facts belong
    together (``previous: {ref: prev.id}``), it is not a test of a value."""
    spec = FACT_TYPES[fact].get(name)
    return (op == "eq" and _is_ref(operand) and str(operand["ref"]).split(".")[0] != alias
            and spec is not None and spec.kind == "id")
_STRICTNESS = {"gt": "gte", "gte": "gt", "lt": "lte", "lte": "lt"}


def _flips(fact: str, name: str, op: str, operand: Any) -> Iterator[tuple[str, str, Any]]:
    """(description, new operator, new operand) for every flip of one literal test."""
    if op == "eq":
        yield f"eq {operand!r} -> {_other_value(fact, name, operand)!r}", "eq", _other_value(fact, name, operand)
    if op == "ne":
        yield "ne -> eq", "eq", operand
    if op in ("gt", "gte", "lt", "lte"):
        yield f"{op} -> {_NEGATE[op]}", _NEGATE[op], operand
        yield f"{op} -> {_STRICTNESS[op]} (bound {operand!r})", _STRICTNESS[op], operand
    if op in ("in", "not_in"):
        yield f"{op} -> {_NEGATE[op]}", _NEGATE[op], operand
    if op in ("in", "not_in", "contains_any", "contains_all") and isinstance(operand, list):
        if len(operand) > 1:
            for v in operand:
                yield f"{op} without {v!r}", op, [x for x in operand if x != v]
        elif op.startswith("contains"):
            yield f"{op} {operand!r} -> {[_other_value(fact, name, operand[0])]!r}", op, [_other_value(fact, name, operand[0])]
    if op == "contains":
        yield f"contains {operand!r} -> {_other_value(fact, name, operand)!r}", op, _other_value(fact, name, operand)
    if op == "exists":
        yield f"exists {operand!r} -> {not operand!r}", op, not operand


def _test_mutants(rule: str, data: Any, path: Path_, fact: str, alias: str) -> Iterator[Mutant]:
    """Mutants of every test in the field map at ``path`` (a ``where`` or an ``any_of`` branch) of
    the pattern bound to ``alias``: literal tests and comparisons with a value of another fact."""
    for name, spec in list(_get(data, path).items()):
        explicit = isinstance(spec, dict) and not _is_ref(spec)
        ops: dict[str, Any] = spec if explicit else {"eq": spec}
        field = _fmt(path + (name,))
        for op, operand in ops.items():
            if _is_ref(operand):
                if not _is_link(fact, name, op, operand, alias):
                    yield from _ref_mutants(rule, data, path, name, op, operand, explicit, ops)
                continue

            def drop(node: dict[str, Any], name: str = name, op: str = op) -> None:
                if explicit and len(node[name]) > 1:
                    del node[name][op]
                else:
                    del node[name]

            yield Mutant(rule, field, f"drop {op} {operand!r}", _with(data, path, drop))
            for what, new_op, new_operand in _flips(fact, name, op, operand):
                def flip(node: dict[str, Any], name: str = name, op: str = op,
                         new_op: str = new_op, new_operand: Any = new_operand) -> None:
                    if not explicit and new_op == "eq":
                        node[name] = new_operand
                    else:
                        node[name] = {(new_op if k == op else k): (new_operand if k == op else v)
                                      for k, v in ops.items()}

                yield Mutant(rule, field, what, _with(data, path, flip))


def _ref_mutants(rule: str, data: Any, path: Path_, name: str, op: str, operand: Any, explicit: bool,
                 ops: dict[str, Any]) -> Iterator[Mutant]:
    """A comparison with another fact's value: dropped, and its operator flipped."""
    field = _fmt(path + (name,))

    def drop(node: dict[str, Any]) -> None:
        if explicit and len(node[name]) > 1:
            del node[name][op]
        else:
            del node[name]

    yield Mutant(rule, field, f"drop {op} {operand['ref']}", _with(data, path, drop))
    new_op = _REF_FLIP[op]

    def flip(node: dict[str, Any]) -> None:
        node[name] = {(new_op if k == op else k): v for k, v in ops.items()}

    yield Mutant(rule, field, f"{op} -> {new_op} {operand['ref']}", _with(data, path, flip))


def _pattern_mutants(rule: str, data: Any, path: Path_, fact: str, alias: str | None = None) -> Iterator[Mutant]:
    pattern = _get(data, path)
    alias = alias or pattern.get("as", pattern.get("fact"))
    if "where" in pattern:
        yield from _test_mutants(rule, data, path + ("where",), fact, alias)
    if pattern.get("past"):
        yield Mutant(rule, _fmt(path + ("past",)), "drop past", _with(data, path, lambda node: node.pop("past")))
    for b in range(len(pattern.get("any_of", []))):
        yield from _test_mutants(rule, data, path + ("any_of", b), fact, alias)
        yield Mutant(rule, _fmt(path + ("any_of", b)), "drop branch",
                     _with(data, path + ("any_of",), _pop(b)))


def _severity_mutants(rule: str, data: Any, path: Path_, ceiling: int) -> Iterator[Mutant]:
    """The severity at ``path`` one step up and down, staying below ``ceiling`` (an index)."""
    here = SEVERITIES.index(_get(data, path[:-1])[path[-1]])
    for step in (1, -1):
        to = here + step
        if 0 <= to < ceiling:
            yield Mutant(rule, _fmt(path), f"{SEVERITIES[here]} -> {SEVERITIES[to]}",
                         _with(data, path[:-1], _set(str(path[-1]), SEVERITIES[to])))


def _lowered_with_mitigations(rule: str, data: Any) -> Iterator[Mutant]:
    """The rule's severity one step down where a mitigation sits at that step: the mitigations are
    lowered with it, so the mutant loads (the plain lowering is refused by the loader)."""
    to = SEVERITIES.index(data["severity"]) - 1
    mitigations = data.get("mitigated_by", [])
    if to < 1 or all(SEVERITIES.index(m["severity"]) < to for m in mitigations):
        return
    out = copy.deepcopy(data)
    out["severity"] = SEVERITIES[to]
    for m in out["mitigated_by"]:
        m["severity"] = SEVERITIES[min(SEVERITIES.index(m["severity"]), to - 1)]
    yield Mutant(rule, "severity", f"{data['severity']} -> {SEVERITIES[to]} (mitigations lowered below it)", out)


def _never_fires(data: Any) -> Any:
    out = copy.deepcopy(data)
    out["when"]["none"] = [*out["when"].get("none", []), {"fact": "case", "as": "mutant_never"}]
    return out


def _always_fires(data: Any) -> Any:
    out = copy.deepcopy(data)
    when = out["when"]
    for group in ("all", "any"):
        for p in when.get(group, []):
            alias = p.get("as", p["fact"])
            kept: dict[str, Any] = {}
            for name, spec in (p.get("where") or {}).items():
                ops = spec if isinstance(spec, dict) and not _is_ref(spec) else {"eq": spec}
                links = {op: v for op, v in ops.items() if _is_link(p["fact"], name, op, v, alias)}
                if links:
                    kept[name] = links["eq"] if ops is not spec else links
            p["where"] = kept
            p.pop("any_of", None)
    when.pop("none", None)
    return out


def mutants_of(lr: LoadedRule) -> list[Mutant]:
    data = read_document(Path(lr.file)).data
    rule = lr.id
    when = data["when"]
    facts = {p.get("as", p["fact"]): p["fact"] for g in ("all", "any", "none") for p in when.get(g, [])}
    out: list[Mutant] = []
    for group in ("all", "any", "none"):
        for i, p in enumerate(when.get(group, [])):
            out += _pattern_mutants(rule, data, ("when", group, i), p["fact"])
    severity = SEVERITIES.index(data["severity"])
    for j, m in enumerate(data.get("mitigated_by", [])):
        base: Path_ = ("mitigated_by", j)
        label = f"mitigated_by[{m['id']}]"
        out.append(Mutant(rule, label, "drop mitigation", _with(data, ("mitigated_by",), _pop(j))))
        out += [Mutant(rule, label + ".severity", s.mutation, s.data)
                for s in _severity_mutants(rule, data, base + ("severity",), severity)]
        conditions: list[Mutant] = []
        for k, r in enumerate(m["when"].get("on", [])):
            conditions += _pattern_mutants(rule, data, base + ("when", "on", k), facts[r["on"]], r["on"])
        for group in ("all", "none"):
            for k, p in enumerate(m["when"].get(group, [])):
                conditions += _pattern_mutants(rule, data, base + ("when", group, k), p["fact"])
        out += [Mutant(rule, label + c.field.removeprefix(_fmt(base)), c.mutation, c.data) for c in conditions]
    if data.get("applies_to") and data["applies_to"] != ["model_licence"]:
        out.append(Mutant(rule, "applies_to", f"{data['applies_to']} -> default [model_licence]",
                          {k: v for k, v in data.items() if k != "applies_to"}))
    out += _severity_mutants(rule, data, ("severity",), len(SEVERITIES))
    out += _lowered_with_mitigations(rule, data)
    out.append(Mutant(rule, "when", "never fires", _never_fires(data)))
    always = _always_fires(data)
    if always != data:
        out.append(Mutant(rule, "when", "always fires", always))
    if data.get("mitigated_by"):
        out.append(Mutant(rule, "mitigated_by", "unmitigated", {k: v for k, v in data.items() if k != "mitigated_by"}))
    return out


# --- running them -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    killed_by: str | None       # the fixture that failed, or "loader: <error>"

    @property
    def survived(self) -> bool:
        return self.killed_by is None


def _tests_of(rule_id: str) -> list[LoadedTest]:
    return [t for t in TESTS if rule_id in (t.rule, *t.expect.also_fires, *t.expect.not_fires)]


def _mini_pack(replacement: LoadedRule, tests: list[LoadedTest], digest: str) -> RulePack:
    named = {replacement.id} | {r for t in tests for r in (t.rule, *t.expect.also_fires, *t.expect.not_fires)}
    rules = [replacement if r.id == replacement.id else r for r in PACK.rules if r.id in named]
    return RulePack(tuple(rules), digest)


def _load(data: Any, lr: LoadedRule, folder: Path) -> LoadedRule:
    path = folder / lr.family / f"{lr.id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")   # JSON is YAML, and dumps fast
    return load_rule_file(path, folder)


@dataclass(frozen=True)
class RuleRun:
    rule: str
    healthy: tuple[LoadedTest, ...]     # the rule's fixtures that pass on its own mini-pack
    roundtrip_equal: bool               # the unmutated file, dumped and reloaded, is the same rule
    outcomes: tuple[Outcome, ...]


def _passes(test: LoadedTest, pack: RulePack, mutant: Mutant) -> bool:
    """Whether ``test`` passes on ``pack``; an engine error fails the run, naming the mutant."""
    try:
        return run_suite(Suite([test]), pack)[0].passed
    except EngineError as exc:
        raise AssertionError(f"engine error on mutant {mutant.describe()} | {test.file}:{test.line}: {exc}") from exc


def _run_rule(lr: LoadedRule, folder: Path) -> RuleRun:
    tests = _tests_of(lr.id)
    original = read_document(Path(lr.file)).data
    reloaded = _load(original, lr, folder)
    baseline = _mini_pack(reloaded, tests, f"{PACK.digest}-mutation-{lr.id}-baseline")
    healthy = tuple(r.test for r in run_suite(Suite(tests), baseline) if r.passed)
    outcomes: list[Outcome] = []
    order = list(healthy)
    for n, mutant in enumerate(mutants_of(lr)):
        try:
            loaded = _load(mutant.data, lr, folder)
        except PolicycheckError as exc:
            outcomes.append(Outcome(mutant, "loader: " + "; ".join(p.message for p in exc.problems)))
            continue
        if loaded.rule == lr.rule:
            raise AssertionError(f"mutant {mutant.describe()} does not change the rule")
        digest = f"{PACK.digest}-mutation-{lr.id}-{n}"
        pack = _mini_pack(loaded, tests, digest)
        killer = next((t for t in order if not _passes(t, pack, mutant)), None)
        if killer is not None:  # the fixture that killed one mutant often kills the next: try it first
            order.remove(killer)
            order.insert(0, killer)
        outcomes.append(Outcome(mutant, None if killer is None else f"{killer.file}:{killer.line}"))
    return RuleRun(lr.id, healthy, reloaded.rule == lr.rule, tuple(outcomes))


@functools.cache
def runs() -> tuple[RuleRun, ...]:
    with tempfile.TemporaryDirectory(prefix="policycheck-mutants-") as tmp:
        return tuple(_run_rule(lr, Path(tmp)) for lr in PACK.rules)


def _allowed() -> list[dict[str, str]]:
    entries = yaml.safe_load(SURVIVORS_FILE.read_text(encoding="utf-8")) or []
    assert isinstance(entries, list)
    for e in entries:
        assert isinstance(e, dict) and set(e) == {"rule", "field", "mutation", "reason"}, e
        assert e["reason"].strip() and "\n" not in e["reason"].strip(), f"one-line reason needed: {e}"
    return entries


def _key(rule: str, field: str, mutation: str) -> str:
    return f"{rule}: {field}: {mutation}"


# --- the tests ----------------------------------------------------------------------------------

def test_every_rule_has_healthy_fixtures_and_round_trips() -> None:
    """The mutation harness itself: a dumped and reloaded rule is unchanged, and fixtures pass on it."""
    problems = [f"{r.rule}: reloaded rule differs from the bundled one" for r in runs() if not r.roundtrip_equal]
    problems += [f"{r.rule}: no fixture passes against its mini-pack" for r in runs() if not r.healthy]
    assert not problems, "\n".join(problems)


def test_every_condition_of_every_rule_is_mutated() -> None:
    """Every rule gets the whole-rule mutants, one per severity step, and one per mitigation."""
    by_rule = {r.rule: {(o.mutant.field, o.mutant.mutation) for o in r.outcomes} for r in runs()}
    assert set(by_rule) == {lr.id for lr in PACK.rules}
    for lr in PACK.rules:
        kinds = by_rule[lr.id]
        assert ("when", "never fires") in kinds, lr.id
        assert any(f == "severity" for f, _ in kinds), lr.id
        for m in lr.rule.mitigated_by:
            assert (f"mitigated_by[{m.id}]", "drop mitigation") in kinds, (lr.id, m.id)
        if lr.rule.mitigated_by:
            assert ("mitigated_by", "unmitigated") in kinds, lr.id
        literal = [f for f, m in kinds if m.startswith("drop ") and m != "drop mitigation" and m != "drop branch"]
        assert literal, f"{lr.id}: no literal test was mutated"


def test_no_mutant_survives_the_fixtures_unexplained() -> None:
    allowed = {_key(e["rule"], e["field"], e["mutation"]) for e in _allowed()}
    survivors = [o.mutant.describe() for r in runs() for o in r.outcomes if o.survived]
    unexplained = [s for s in survivors if s not in allowed]
    total = sum(len(r.outcomes) for r in runs())
    assert not unexplained, (f"{len(unexplained)} of {total} mutants survive every fixture of their rule "
                             "(rule: field: mutation); add a fixture that kills each, or list it with a reason "
                             f"in {SURVIVORS_FILE.name}:\n" + "\n".join(unexplained))


def test_every_allowed_survivor_still_survives() -> None:
    survivors = {o.mutant.describe() for r in runs() for o in r.outcomes if o.survived}
    stale = [_key(e["rule"], e["field"], e["mutation"]) for e in _allowed()
             if _key(e["rule"], e["field"], e["mutation"]) not in survivors]
    assert not stale, f"stale entries in {SURVIVORS_FILE.name} (these mutants are killed now):\n" + "\n".join(stale)


@pytest.mark.parametrize("kind", ["never fires", "always fires", "unmitigated"])
def test_the_whole_rule_breaks_are_killed(kind: str) -> None:
    """The three whole-rule breaks are never allowed to survive (they are not listable)."""
    survivors = [o.mutant.describe() for r in runs() for o in r.outcomes
                 if o.mutant.mutation == kind and o.survived]
    assert not survivors, "\n".join(survivors)


def test_loader_kills_are_genuine_load_errors() -> None:
    """A mutant counted as killed by the loader was refused with a message, not by a crash."""
    refused = [o for r in runs() for o in r.outcomes if o.killed_by and o.killed_by.startswith("loader: ")]
    assert all(len(o.killed_by or "") > len("loader: ") for o in refused)
