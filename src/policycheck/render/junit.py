"""JUnit XML for CI test reports (GitLab, Jenkins, Azure DevOps, GitHub test-report actions).

One ``testsuite`` per case file and one ``testcase`` per rule of the pack in it:

- a rule with flags that count (not waived, not in the baseline) -> ``failure`` (type = highest
  severity); the body lists every flag of that rule with its place, citation and review state;
- a rule whose flags are all waived or in the baseline -> ``skipped`` with the waiver's reason;
- a rule that is not assessed (facts missing) -> ``skipped`` "not assessed: ...";
- a rule that does not apply to the case -> ``skipped`` "not applicable";
- a rule that was assessed and did not fire -> passed;
- flags on terms no longer in force on the as-of date (history) never make a failure or a
  skip: the testcase keeps the outcome of the rule on the as-of date and lists them in its
  ``system-out`` ("history, not counted"), so a CI report shows them without counting them.
  (A skipped entry would say the rule was not run, which is not true.)

Each suite's properties give the as-of date used and the case file's own; events dated after
the as-of date are listed in the suite's ``system-out``.

No timestamps or host names, so the output is byte-stable.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import IO

from policycheck.model.assessment import Assessment, CaseAssessment, FileError, Flag, RuleResult
from policycheck.model.rule import SEVERITY_ORDER
from policycheck.render import parts
from policycheck.render.stream import Head, Spool, Tail, render_with
from policycheck.render.terminal import encodable
from policycheck.review.waivers import describe

# Characters XML 1.0 cannot carry at all, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(value: object) -> str:
    return _INVALID_XML.sub("\ufffd", str(value))


def render(result: Assessment) -> str:
    return render_with(JunitWriter(), result)


class JunitWriter:
    """JUnit case by case: each case's suite goes to a spool as it arrives; the root element,
    whose attributes hold the totals, is written at the end. A file not assessed is a suite of
    its own with one errored testcase."""

    def begin(self, out: IO[str], head: Head) -> None:
        self.out, self.head = out, head
        self.suites = Spool()
        self.totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def problem(self, error: FileError) -> None:
        pass  # written after the case suites, at the end

    def _add(self, suite: ET.Element, counts: dict[str, int]) -> None:
        ET.indent(suite, space="  ", level=1)
        self.suites.write("\n  " + ET.tostring(suite, encoding="unicode"))
        for k in self.totals:
            self.totals[k] += counts[k]

    def case(self, case: CaseAssessment) -> None:
        case = encodable(case)   # a file name that is not UTF-8: its bytes shown as \xNN
        self._add(*_suite(case, self.head.rule_pack.digest))

    def end(self, tail: Tail) -> None:
        tail = encodable(tail)
        for error in tail.errors:
            self._add(*_error_suite(error))
        root = ET.Element("testsuites", {"name": "policycheck"})
        for k, v in self.totals.items():
            root.set(k, str(v))
        root.set("time", "0")
        self.out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        if self.suites.empty:
            self.suites.close()
            self.out.write(ET.tostring(root, encoding="unicode") + "\n")
            return
        open_tag = ET.tostring(root, encoding="unicode")
        assert open_tag.endswith(" />")
        self.out.write(open_tag[:-3] + ">")
        self.suites.copy_to(self.out)
        self.out.write("\n</testsuites>\n")


def _error_suite(error: FileError) -> tuple[ET.Element, dict[str, int]]:
    """A file that was not assessed: one testcase, errored, with every problem in its body."""
    suite = ET.Element("testsuite", {"name": clean(error.file), "id": clean(error.file)})
    tc = ET.SubElement(suite, "testcase", {"name": "case file", "classname": "policycheck.not-assessed",
                                           "file": clean(error.file), "time": "0"})
    first = error.problems[0].text if error.problems else f"{error.file}: not assessed"
    el = ET.SubElement(tc, "error", {"message": clean("not assessed: " + first), "type": "not assessed"})
    el.text = clean("\n".join(p.text for p in error.problems))
    counts = {"tests": 1, "failures": 0, "errors": 1, "skipped": 0}
    for k in ("tests", "failures", "errors", "skipped"):
        suite.set(k, str(counts[k]))
    suite.set("time", "0")
    return suite, counts


def _suite(case: CaseAssessment, digest: str) -> tuple[ET.Element, dict[str, int]]:
    suite = ET.Element("testsuite", {"name": clean(case.file), "id": clean(case.case)})
    props = ET.SubElement(suite, "properties")
    for name, value in [("case", case.case), ("title", case.title), ("as_of", case.as_of),
                        ("case_as_of", case.case_as_of), ("rule_pack", digest),
                        ("summary", case.summary), ("history", len(case.history)),
                        ("after_as_of", len(case.after_as_of))] + \
            [(f"condition.{c.condition}", c.status) for c in case.conditions]:
        ET.SubElement(props, "property", {"name": name, "value": clean(" ".join(str(value).split()))})
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    by_rule: dict[str, list[Flag]] = {}
    for f in case.flags:
        by_rule.setdefault(f.rule, []).append(f)
    past: dict[str, list[Flag]] = {}
    for f in case.history:
        past.setdefault(f.rule, []).append(f)
    for outcome in case.rules:
        tc = _testcase(case, outcome, by_rule.get(outcome.rule, []))
        earlier = past.pop(outcome.rule, [])
        if earlier:
            ET.SubElement(tc, "system-out").text = clean(_history(earlier))
        suite.append(tc)
        counts["tests"] += 1
        if tc.find("failure") is not None:
            counts["failures"] += 1
        elif tc.find("skipped") is not None:
            counts["skipped"] += 1
    notes = [_history(flags) for flags in past.values()]  # history of rules the run has no outcome for
    if case.after_as_of:
        notes.append(f"After the as-of date {case.as_of} ({parts.LATER_NOTE}):\n" + "\n".join(
            f"  {e.date} {e.item} {e.id}: {e.title} at {e.file}" + (f":{e.line}" if e.line else "")
            for e in case.after_as_of))
    if notes:
        ET.SubElement(suite, "system-out").text = clean("\n".join(notes))
    for k in ("tests", "failures", "errors", "skipped"):
        suite.set(k, str(counts[k]))
    suite.set("time", "0")
    return suite, counts


def _testcase(case: CaseAssessment, outcome: RuleResult, flags: list[Flag]) -> ET.Element:
    tc = ET.Element("testcase", {"name": clean(outcome.rule), "classname": clean(f"policycheck.{case.case}"),
                                 "file": clean(case.file), "time": "0"})
    if flags:
        counting = [f for f in flags if f.counts]
        if counting:
            top = max(counting, key=lambda f: SEVERITY_ORDER[f.severity])
            n = len(flags)
            message = f"{top.severity}: {top.message}" + (f" (+{n - 1} more)" if n > 1 else "")
            el = ET.SubElement(tc, "failure", {"message": clean(message), "type": top.severity})
            el.text = clean("\n".join(_describe(f) for f in flags))
        else:
            reasons = "; ".join(dict.fromkeys(describe(f) or "" for f in flags))
            el = ET.SubElement(tc, "skipped", {"message": clean(reasons)})
            el.text = clean("\n".join(_describe(f) for f in flags))
    elif outcome.status == "not assessed":
        missing = ", ".join(f"{m.case_path or m.id + '.' + m.field} ({m.status})" for m in outcome.missing)
        ET.SubElement(tc, "skipped", {"message": clean("not assessed" + (f": missing {missing}" if missing else ""))})
    elif outcome.status == "not applicable":
        ET.SubElement(tc, "skipped", {"message": "not applicable: the case has no facts this rule checks"})
    elif outcome.status == "fired":  # its flags are below --min-severity, so not shown
        ET.SubElement(tc, "skipped", {"message": "flags below --min-severity, not shown"})
    return tc


def _history(flags: list[Flag]) -> str:
    return "\n".join(f"History, not counted (term {f.window.text()}):\n" + _describe(f) for f in flags)


def _describe(flag: Flag) -> str:
    file, line = flag.location()
    where = f"{file}:{line}" if line else (file or "")
    out = [f"[{parts.severity(flag)}] {flag.message}", f"  at {where}",
             f"  conditions: {', '.join(flag.conditions)}",
             f"  source: {flag.citation.source} {flag.citation.section}"
             + (f" <{flag.citation.url}>" if flag.citation.url else ""),
             f"  fingerprint: {flag.fingerprint}"]
    if flag.mitigated or flag.escalations:
        out.append(f"  severity: {parts.adjusted(flag)}")
    if flag.related:
        out.append(f"  {parts.related(flag)}")
    for p in flag.pending:
        now, then = SEVERITY_ORDER[flag.severity], SEVERITY_ORDER[p.severity]
        if (then <= now) if p.raises else (then >= now):
            continue  # would not change it
        out.append(f"  pending: {p.severity} if {parts.clause(p.description)}; not known: "
                   + ", ".join(m.case_path or f"{m.fact} {m.id}.{m.field}" for m in p.missing))
    for q in flag.quotes:
        out.append(f"  quote {q.ref}: \u201c{' '.join(q.text.split())}\u201d ({parts.source(q)}"
                   + (f" <{q.url}>" if q.url else "") + ")")
    review = describe(flag)
    if review:
        out.append(f"  review: {review}")
    out.append(f"  to lower the concern: {flag.mitigation}")
    return "\n".join(out)
