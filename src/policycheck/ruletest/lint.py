"""Lint a rule pack: mistakes that load fine but make a rule wrong, dead or untested.

Each finding is ``file:line: code: message``. The codes:

==================== ======================================================================
load-error           the rule or its folder does not load (schema, unknown field or enum
                     value, bad reference, ...): every load problem is one finding
duplicate-id         two rule files declare the same id
empty-field          title, message, rationale, mitigation or a citation part is blank
todo-text            TODO / TBD / FIXME / XXX left in a text a reader sees
legal-conclusion     a title, message, rationale, mitigation or mitigation/escalation
                     description uses conclusion wording (LEGAL_CONCLUSIONS), e.g.
                     "forecloses", "raises rivals' costs", "is a merger", "unlawful"
citation-section     the citation's section names no section number (e.g. "§3.7.6"); or,
                     for a report citation, a part not written §3.x, §3.x.y or §3.x.y(c),
                     or a chapter 3 section or lettered point the coverage file
                     (docs/coverage.yaml) does not list
placeholder-syntax   braces in the message that are not a ``{alias.field}`` placeholder
placeholder-unbound  a placeholder's alias is bound only by some ``any`` alternatives
placeholder-unfilled a placeholder whose field the pattern makes absent or not applicable
never-matches        a pattern, ``any_of`` branch or ``none`` pattern can never match
                     (contradictory tests on one field, e.g. gt 10 and lt 5)
dead-mitigation      a mitigation can never apply to a flag of its rule
fixture-error        a fixture file does not load
unknown-rule         a fixture names a rule that is not in the pack
duplicate-test       two tests in one fixture file share a name
no-fixture           a rule has no fixture test
no-firing-fixture    a rule has no fixture expecting it to fire
no-non-firing-fixture a rule has no fixture expecting it not to fire
==================== ======================================================================

Rules raise issues for review; they do not reach legal conclusions. The ``legal-conclusion``
check looks for the phrases in ``LEGAL_CONCLUSIONS`` (case-insensitive, whole words; a
trailing ``*`` takes any ending, so ``foreclos*`` finds "foreclose", "forecloses",
"foreclosure"). There is no exception for quotations: a rule that reports what a source says
paraphrases it ("may shut out competition" rather than "forecloses"), and keeps the source's
exact words for ``citation.paragraph``, which is not checked.

The contradiction check reasons about literal tests on one field of one fact (eq, ne, in,
not_in, lt, lte, gt, gte, exists); tests that compare two facts are taken as satisfiable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policycheck.load.parse import PLACEHOLDER
from policycheck.errors import PolicycheckError, Problem, suggest
from policycheck.ruletest.fixtures import LoadedTest, iter_fixture_files, load_fixture_file
from policycheck.model.conditions import Check, Conjunction, FieldTest, PatternSpec
from policycheck.load.rules import LoadedRule, iter_rule_files, load_rule_file
from policycheck.io.reader import Path_, format_path
from policycheck.model.vocabulary import FACT_TYPES, FieldSpec
from policycheck.render.catalogue import Coverage, citation_parts, load_coverage, parse_section, well_formed


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    code: str
    message: str

    def render(self) -> str:
        return f"{self.file}:{self.line}: {self.code}: {self.message}"


@dataclass
class LintReport:
    findings: list[Finding]
    rules: int
    tests: int

    @property
    def clean(self) -> bool:
        return not self.findings


# Fields that exist only when another field of the same fact has a given value (facts.py):
# (fact type, field) -> (gate field, test, value). Checked against flatten() by tests/test_lint.py.
GATES: dict[tuple[str, str], tuple[str, str, Any]] = {
    **{("licence_version", f): ("has_user_threshold", "eq", True)
       for f in ("threshold_metric", "threshold_limit", "threshold_above")},
    **{("licence_version", f): ("output_training_ban", "eq", True)
       for f in ("output_ban_scope", "output_ban_exempts_licensor_family")},
    **{("licence_version", f): ("has_aup", "eq", True) for f in ("aup_by_reference", "aup_unilateral_update")},
    ("licence_version", "previous"): ("seq", "gt", 1),
    **{("deal", f): ("staff_hired", "eq", True) for f in ("staff_count", "key_staff_hired", "hire_with_licence",
                                                                 "hire_with_investment")},
    ("data_access_change", "exclusive_licensee_after"): ("exclusive_after", "eq", True),
}

_TODO = re.compile(r"\b(TODO|TBD|FIXME|XXX)\b")

# Conclusion wording a rule must not use, with what to write instead. Whole words, any case;
# an apostrophe may be ' or ’ or left out; a trailing * takes any ending.
LEGAL_CONCLUSIONS: tuple[tuple[str, str], ...] = (
    ("raising rivals' costs", "say which input costs more, for whom"),
    ("raises rivals' costs", "say which input costs more, for whom"),
    ("raise rivals' costs", "say which input costs more, for whom"),
    ("foreclos*", "say who loses access to what, as the source puts it"),
    ("incentive to foreclose is built in", "say what the arrangement lets a party do, marked 'Inference:'"),
    ("built-in incentive", "say what the arrangement lets a party do, marked 'Inference:'"),
    ("built in incentive", "say what the arrangement lets a party do, marked 'Inference:'"),
    ("treat the arrangement as a merger", "name the jurisdiction indicator a reviewer would look at (CMA2)"),
    ("is a merger", "name the jurisdiction indicator a reviewer would look at (CMA2)"),
    ("anticompetitive", "name the condition (C1-C4) at issue and why"),
    ("anti-competitive", "name the condition (C1-C4) at issue and why"),
    ("anti competitive", "name the condition (C1-C4) at issue and why"),
    ("abus*", "describe the conduct; for harmful use of a model say 'misuse'"),
    ("illegal*", "describe the issue for review, not its legal status"),
    ("unlawful*", "describe the issue for review, not its legal status"),
    ("infring*", "describe the issue for review; for IP say 'copyright claims'"),
    ("breach of competition law", "describe the issue for review, not its legal status"),
    ("notify the authority", "say what a reviewer would look at, not what the parties must do"),
    ("notify the competition authority", "say what a reviewer would look at, not what the parties must do"),
    ("notify the CMA", "say what a reviewer would look at, not what the parties must do"),
    ("must be notified", "say what a reviewer would look at, not what the parties must do"),
)


def _phrase_pattern(phrase: str) -> str:
    body = ""
    for ch in phrase.rstrip("*"):
        body += "['\u2019]?" if ch == "'" else r"\s+" if ch == " " else re.escape(ch)
    return r"(?<!\w)" + body + (r"\w*" if phrase.endswith("*") else r"(?!\w)")


_CONCLUSIONS = [(re.compile(_phrase_pattern(p), re.IGNORECASE), p, hint) for p, hint in LEGAL_CONCLUSIONS]
# Texts a reader of a flag sees as the rule's own words (the citation is the source's).
_CONCLUSION_FIELDS = {"title", "message", "rationale", "mitigation", "description"}


def conclusion_phrases(text: str) -> list[tuple[str, str]]:
    """(the words as written, hint) for each conclusion phrase in ``text``, in order of appearance."""
    found: list[tuple[int, int, str, str]] = []
    for pattern, _, hint in _CONCLUSIONS:
        found += [(m.start(), -m.end(), " ".join(m.group(0).split()), hint) for m in pattern.finditer(text)]
    out: list[tuple[str, str]] = []
    end = -1
    for start, neg_end, words, hint in sorted(found):  # a phrase inside a longer one counts once
        if -neg_end <= end:
            continue
        end = max(end, -neg_end)
        if all(words.lower() != w.lower() for w, _ in out):
            out.append((words, hint))
    return out
_BRACES = re.compile(r"\{[^{}]*\}")


# --------------------------------------------------------------------------- constraints


@dataclass
class _FieldState:
    """What the literal tests of one pattern require of one field."""

    spec: FieldSpec
    tests: list[str] = field(default_factory=list)
    allowed: set[Any] | None = None
    excluded: set[Any] = field(default_factory=set)
    lower: tuple[Any, bool] | None = None   # (value, inclusive)
    upper: tuple[Any, bool] | None = None
    needs_value: bool = False
    absent: bool = False
    self_contradiction: str | None = None

    def copy(self) -> _FieldState:
        return _FieldState(self.spec, list(self.tests), None if self.allowed is None else set(self.allowed),
                           set(self.excluded), self.lower, self.upper, self.needs_value, self.absent,
                           self.self_contradiction)

    def domain(self) -> set[Any] | None:
        if self.spec.kind == "bool":
            return {True, False}
        if self.spec.kind == "enum" and self.spec.values:
            return set(self.spec.values)
        return None

    def add(self, check: Check, alias: str) -> None:
        op, name = check.op, check.field
        if not isinstance(check, FieldTest):
            self.tests.append(f"{op} {{ref: {check.alias}.{check.other}}}")
            self.needs_value = True
            if (check.alias, check.other) == (alias, name) and op in ("ne", "lt", "gt"):
                self.self_contradiction = f"'{name}' cannot be {op} itself"
            return
        operand = check.value
        self.tests.append(f"{op} {_show(operand)}")
        if op == "exists":
            if operand:
                self.needs_value = True
            else:
                self.absent = True
            return
        self.needs_value = True
        if op == "eq":
            self.allowed = {operand} if self.allowed is None else self.allowed & {operand}
        elif op == "in":
            self.allowed = set(operand) if self.allowed is None else self.allowed & set(operand)
        elif op == "ne":
            self.excluded.add(operand)
        elif op == "not_in":
            self.excluded |= set(operand)
        elif op in ("gt", "gte"):
            bound = (operand, op == "gte")
            if self.lower is None or _tighter_lower(bound, self.lower):
                self.lower = bound
        elif op in ("lt", "lte"):
            bound = (operand, op == "lte")
            if self.upper is None or _tighter_upper(bound, self.upper):
                self.upper = bound

    def _in_bounds(self, value: Any) -> bool:
        if self.lower is not None:
            lo, inclusive = self.lower
            if value < lo or (value == lo and not inclusive):
                return False
        if self.upper is not None:
            hi, inclusive = self.upper
            if value > hi or (value == hi and not inclusive):
                return False
        return True

    def candidates(self) -> set[Any] | None:
        """The values the tests leave possible, when that set is finite."""
        pool = self.allowed if self.allowed is not None else self.domain()
        if pool is None:
            return None
        return {v for v in pool if v not in self.excluded and self._in_bounds(v)}

    def contradiction(self) -> str | None:
        if self.self_contradiction:
            return self.self_contradiction
        if self.absent and self.needs_value:
            return "'exists: false' leaves no value for the other tests"
        found = self.candidates()
        if found is not None and not found:
            return "no value passes every test"
        if self.lower is not None and self.upper is not None:
            (lo, lo_in), (hi, hi_in) = self.lower, self.upper
            if lo > hi or (lo == hi and not (lo_in and hi_in)):
                return "the bounds leave an empty range"
            if self.spec.kind == "int":
                first = math.floor(lo) if lo_in and float(lo).is_integer() else math.floor(lo) + 1
                last = math.ceil(hi) if hi_in and float(hi).is_integer() else math.ceil(hi) - 1
                if first > last:
                    return "no whole number lies between the bounds"
            if lo == hi and lo in self.excluded:
                return "the only value the bounds allow is excluded"
        return None


def _tighter_lower(new: tuple[Any, bool], old: tuple[Any, bool]) -> bool:
    return new[0] > old[0] or (new[0] == old[0] and not new[1])


def _tighter_upper(new: tuple[Any, bool], old: tuple[Any, bool]) -> bool:
    return new[0] < old[0] or (new[0] == old[0] and not new[1])


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


_State = dict[str, _FieldState]


def _apply(state: _State, fact: str, alias: str, where: Conjunction) -> _State:
    out = {k: v.copy() for k, v in state.items()}
    vocab = FACT_TYPES[fact]
    for check in where.checks:
        out.setdefault(check.field, _FieldState(vocab[check.field])).add(check, alias)
    return out


def _why(state: _State) -> str | None:
    for name in sorted(state):
        reason = state[name].contradiction()
        if reason:
            return f"{name}: {' and '.join(state[name].tests)} ({reason})"
    return None


def _states(fact: str, alias: str, where: Conjunction, any_of: Sequence[Conjunction],
            base: _State | None = None) -> tuple[list[_State], list[tuple[Path_, str]]]:
    """Satisfiable states of one pattern, and the contradictions found (relative paths)."""
    state = _apply(base or {}, fact, alias, where)
    why = _why(state)
    if why:
        return [], [((), why)]
    if not any_of:
        return [state], []
    live: list[_State] = []
    dead: list[tuple[Path_, str]] = []
    for i, branch in enumerate(any_of):
        s = _apply(state, fact, alias, branch)
        reason = _why(s)
        if reason:
            dead.append((("any_of", i), reason))
        else:
            live.append(s)
    if not live:
        return [], [((), "every any_of branch contradicts 'where': " + "; ".join(r for _, r in dead))]
    return live, dead


# --------------------------------------------------------------------------- rule checks


class _RuleLint:
    def __init__(self, lr: LoadedRule, coverage: Coverage | None = None) -> None:
        self.lr, self.rule, self.spec = lr, lr.rule, lr.spec
        self.coverage = coverage
        self.findings: list[Finding] = []

    def add(self, path: Path_, code: str, message: str) -> None:
        line = self.lr.document.line_of(path) or self.lr.line
        self.findings.append(Finding(self.lr.file, line, code, message))

    def run(self) -> list[Finding]:
        self.texts()
        states = self.patterns()
        self.placeholders(states)
        self.mitigations(states)
        return self.findings

    def texts(self) -> None:
        rule = self.rule
        texts: dict[Path_, str] = {("title",): rule.title, ("message",): rule.message, ("rationale",): rule.rationale,
                                   ("mitigation",): rule.mitigation, ("citation", "source"): rule.citation.source,
                                   ("citation", "section"): rule.citation.section}
        if rule.citation.paragraph is not None:
            texts[("citation", "paragraph")] = rule.citation.paragraph
        for i, m in enumerate(rule.mitigated_by):
            texts[("mitigated_by", i, "description")] = m.description
        for i, m in enumerate(rule.escalated_by):
            texts[("escalated_by", i, "description")] = m.description
        for path, text in texts.items():
            if not text.strip():
                self.add(path, "empty-field", f"'{format_path(path)}' is blank")
            elif (todo := _TODO.search(text)) is not None:
                self.add(path, "todo-text", f"'{format_path(path)}' still says '{todo.group(1)}'")
            elif path[-1] in _CONCLUSION_FIELDS and (found := conclusion_phrases(text)):
                words = ", ".join(f'"{w}"' for w, _ in found)
                hints = "; ".join(dict.fromkeys(h for _, h in found))
                self.add(path, "legal-conclusion", f"'{format_path(path)}' states a legal conclusion ({words}): "
                                                   f"{hints}")
        if rule.citation.section.strip() and not re.search(r"\d", rule.citation.section):
            self.add(("citation", "section"), "citation-section",
                     f"citation section '{rule.citation.section}' names no section number (e.g. '§3.7.6')")
        elif self.coverage is not None and self.coverage.is_report(rule.citation.source):
            self.report_sections()

    def report_sections(self) -> None:
        """Each part of a report citation is written §3.x(.y)(c), and a chapter 3 part is a section
        (and lettered point) the coverage file lists."""
        assert self.coverage is not None
        cov, where = self.coverage, ("citation", "section")
        for part in citation_parts(self.rule.citation.section):
            ref = parse_section(part)
            if not well_formed(part) or ref is None:
                self.add(where, "citation-section", f"citation section '{part}' is not written like '§3.7.6' or "
                                                    "'§3.3.1(c)' (separate sections with '; ')")
                continue
            if ref.numbers[0] != 3 or not cov.sections or cov.lists(ref):
                continue
            listed = cov.find(ref)
            if listed is None:
                near = suggest(ref.section().text(), [s.section for s in cov.sections])
                self.add(where, "citation-section", f"citation section '{part}': {ref.section().text()} is not a "
                                                    f"section of chapter 3 that {cov.file} lists"
                                                    + (f" (did you mean '{near}'?)" if near else ""))
            else:
                points = ", ".join(f"({i})" for i in listed.items) or "none"
                self.add(where, "citation-section", f"citation section '{part}': {listed.section} has no lettered "
                                                    f"point ({ref.items[0]}) in {cov.file} (points: {points})")

    def patterns(self) -> dict[str, list[tuple[Path_, list[_State]]]]:
        """Check every pattern; return alias -> [(pattern path, satisfiable states)]."""
        when = self.spec.when
        bound: dict[str, list[tuple[Path_, list[_State]]]] = {}
        for group in ("all", "any", "none"):
            p: PatternSpec
            for i, p in enumerate(getattr(when, group)):
                path: Path_ = ("when", group, i)
                states, dead = _states(p.fact, p.alias, p.where, p.any_of)
                for rel, why in dead:
                    where = format_path(path + rel)
                    if group == "none":
                        what = f"{where} can never match, so it excludes nothing"
                    elif rel:
                        what = f"{where} can never match; the branch is dead"
                    elif group == "any":
                        what = f"{where} can never match; this alternative never fires"
                    else:
                        what = f"{where} can never match, so the rule never fires"
                    self.add(path + rel, "never-matches", f"{what}: {why}")
                if group != "none":
                    bound.setdefault(p.alias, []).append((path, states))
        return bound

    def placeholders(self, bound: dict[str, list[tuple[Path_, list[_State]]]]) -> None:
        rule = self.rule
        for text in _BRACES.findall(rule.message):
            if not PLACEHOLDER.fullmatch(text):
                self.add(("message",), "placeholder-syntax",
                         f"'{text}' is not a placeholder; write {{alias.field}} in lower case")
        alternatives = [p.alias for p in self.spec.when.any]
        in_all = {p.alias for p in self.spec.when.all}
        named = {p.alias for p in [*self.spec.when.all, *self.spec.when.any]}
        for alias, name in dict.fromkeys(PLACEHOLDER.findall(rule.message)):
            ph = f"{{{alias}.{name}}}"
            if alias not in named:
                continue  # the loader reports unknown aliases
            if alias not in in_all and alternatives and any(a != alias for a in alternatives):
                missing = [f"when.any[{i}]" for i, a in enumerate(alternatives) if a != alias]
                self.add(("message",), "placeholder-unbound",
                         f"placeholder {ph}: alias '{alias}' is not bound by {', '.join(missing)}, "
                         "so flags from there print 'unknown'")
                continue
            for path, states in bound.get(alias, []):
                reason = self._unfilled(self._fact_at(path), name, states)
                if reason:
                    self.add(("message",), "placeholder-unfilled",
                             f"placeholder {ph} is never filled: {reason} ({format_path(path)})")

    @staticmethod
    def _unfilled(fact: str, name: str, states: list[_State]) -> str | None:
        if not states:
            return None
        if all(s.get(name) is not None and s[name].absent for s in states):
            return f"the pattern requires '{name}' to be absent"
        gate = GATES.get((fact, name))
        if gate is None:
            return None
        gfield, op, value = gate
        for s in states:
            fs = s.get(gfield)
            if fs is None:
                return None
            if op == "eq":
                found = fs.candidates()
                if found is None or value in found:
                    return None
            else:  # gt
                found = fs.candidates()
                if found is not None:
                    if any(v > value for v in found):
                        return None
                elif fs.upper is None or fs.upper[0] > value:
                    return None
        return f"'{name}' applies only when {gfield} {op} {_show(value)}, which the pattern excludes"

    def _fact_at(self, path: Path_) -> str:
        group, index = str(path[1]), int(path[2])
        pattern: PatternSpec = getattr(self.spec.when, group)[index]
        return pattern.fact

    def mitigations(self, bound: dict[str, list[tuple[Path_, list[_State]]]]) -> None:
        n_mit = len(self.rule.mitigated_by)
        for m_i, mit in enumerate(self.spec.mitigations):
            mpath: Path_ = ("escalated_by", m_i - n_mit) if mit.raises else ("mitigated_by", m_i)
            for r_i, ref in enumerate(mit.on):
                targets = bound.get(ref.on, [])
                reasons: list[str] = []
                live = False
                for path, states in targets:
                    fact = self._fact_at(path)
                    for s in states:
                        ok, dead = _states(fact, ref.on, ref.where, ref.any_of, base=s)
                        if ok:
                            live = True
                        reasons += [why for _, why in dead]
                if targets and not live:
                    self.add(mpath + ("when", "on", r_i), "dead-mitigation",
                             f"mitigation '{mit.id}' can never apply: its test on '{ref.on}' contradicts the rule's "
                             f"pattern: {reasons[0] if reasons else 'no satisfiable pattern'}")
            for group in ("all", "none"):
                for a_i, p in enumerate(getattr(mit, group)):
                    _, dead = _states(p.fact, p.alias, p.where, p.any_of)
                    for rel, why in dead:
                        path = mpath + ("when", group, a_i) + rel
                        if group == "none":
                            self.add(path, "never-matches", f"{format_path(path)} can never match, so it excludes "
                                                            f"nothing: {why}")
                        elif rel:
                            self.add(path, "never-matches", f"{format_path(path)} can never match; the branch is "
                                                            f"dead: {why}")
                        else:
                            self.add(path, "dead-mitigation", f"mitigation '{mit.id}' can never apply: "
                                                              f"{format_path(path)} never matches: {why}")


# --------------------------------------------------------------------------- the pack


def _problem_finding(p: Problem, code: str, fallback: str) -> Finding:
    where = p.location
    message = (f"{where.path}: " if where.path else "") + p.message
    if p.suggestion:
        message += f" (did you mean '{p.suggestion}'?)"
    return Finding(where.file or fallback, where.line or 1, code, message)


def unique_folders(folders: Iterable[str | Path]) -> list[Path]:
    """The folders in order, each once (by resolved path)."""
    seen: set[Path] = set()
    out: list[Path] = []
    for f in folders:
        key = Path(f).resolve()
        if key not in seen:
            seen.add(key)
            out.append(Path(f))
    return out


def lint(folders: Sequence[str | Path], coverage: Coverage | str | Path | None = None) -> LintReport:
    """Lint the rules and fixtures under ``folders`` (together, one pack). Report citations are
    checked against ``coverage`` (a Coverage, or a coverage file; the bundled one by default)."""
    roots = unique_folders(folders)
    findings: list[Finding] = []
    cov: Coverage | None = None
    try:
        cov = coverage if isinstance(coverage, Coverage) else load_coverage(coverage)
    except PolicycheckError as exc:
        findings += [_problem_finding(p, "load-error", str(coverage or "coverage file")) for p in exc.problems]
    rules: list[LoadedRule] = []
    broken: set[str] = set()
    for root in roots:
        try:
            files = iter_rule_files(root)
        except PolicycheckError as exc:
            findings += [_problem_finding(p, "load-error", str(root)) for p in exc.problems]
            continue
        for path in files:
            try:
                rules.append(load_rule_file(path, root))
            except PolicycheckError as exc:
                broken.add(path.stem)
                findings += [_problem_finding(p, "load-error", str(path)) for p in exc.problems]
    seen: dict[str, LoadedRule] = {}
    for lr in rules:
        if lr.id in seen:
            findings.append(Finding(lr.file, lr.line, "duplicate-id",
                                    f"rule id '{lr.id}' is also declared in {seen[lr.id].file}:{seen[lr.id].line}"))
        else:
            seen[lr.id] = lr
        findings += _RuleLint(lr, cov).run()

    tests: list[LoadedTest] = []
    for path in iter_fixture_files(roots):
        try:
            loaded = load_fixture_file(path)
        except PolicycheckError as exc:
            broken.add(path.name.split(".test.")[0])
            findings += [_problem_finding(p, "fixture-error", str(path)) for p in exc.problems]
            continue
        names: dict[str, int] = {}
        for t in loaded:
            if t.name in names:
                findings.append(Finding(t.file, t.line, "duplicate-test",
                                        f"test name also used at line {names[t.name]}; names must be unique"))
            names.setdefault(t.name, t.line)
            for rid in dict.fromkeys([t.rule, *t.expect.also_fires, *t.expect.not_fires]):
                if rid not in seen and rid not in broken:
                    findings.append(Finding(t.file, t.line, "unknown-rule", f"the test names rule '{rid}', which is "
                                                                            "not in the pack"))
        tests += loaded
    for rid, lr in seen.items():
        mine = [t for t in tests if t.rule == rid]
        if not mine:
            findings.append(Finding(lr.file, lr.line, "no-fixture",
                                    f"rule '{rid}' has no fixture; add {Path(lr.file).with_suffix('.test.yaml').name}"))
            continue
        if not any(t.expect.fires for t in mine):
            findings.append(Finding(lr.file, lr.line, "no-firing-fixture",
                                    f"no fixture expects rule '{rid}' to fire (fires: true)"))
        if all(t.expect.fires for t in mine):
            findings.append(Finding(lr.file, lr.line, "no-non-firing-fixture",
                                    f"no fixture expects rule '{rid}' not to fire (fires: false)"))
    return LintReport(sorted(set(findings)), len(rules), len(tests))
