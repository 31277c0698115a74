"""A pull-request comment: a case × condition summary table, then each case's flags with
citations and file:line. GitHub-flavoured Markdown; every piece of case text is escaped so a
case file cannot inject markup or HTML into the comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Iterator
from typing import IO

from policycheck.model.assessment import (
    Assessment, CaseAssessment, ConditionResult, FileError, Flag, ItemCondition, ItemStatus, Quote, Review, Status,
)
from policycheck.model.rule import CONDITIONS
from policycheck.render import parts
from policycheck.render.stream import Head, Spool, Tail, render_with
from policycheck.render.terminal import escape
from policycheck.review.waivers import describe, state

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# "@name" would notify a GitHub user and "#123" link an issue: a zero-width space after the
# sign keeps the text as written but not live.
_LIVE = re.compile(r"(@(?=\w)|#(?=\d))")
# "not assessed" (a rule applies but lacks facts) is italic; "not applicable" (no rule applies) plain.
_STATUS: dict[Status, str] = {"concern": "**concern**", "watch": "watch", "no concern found": "no concern found",
                              "not assessed": "_not assessed_", "not applicable": "not applicable"}


def text(value: object) -> str:
    """Plain text made inert in Markdown: one line, punctuation escaped, HTML characters as entities."""
    s = " ".join(escape(str(value)).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _LIVE.sub("\\1\u200b", _SPECIAL.sub(r"\\\1", s))


def code(value: object) -> str:
    """An inline code span that survives backticks in the value (controls made visible)."""
    s = " ".join(escape(str(value)).split())
    fence = "`"
    while fence in s:
        fence += "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def link(label: str, url: str | None) -> str:
    if url and re.match(r"^https?://[^\s<>()]+$", url):
        return f"[{text(label)}]({url})"
    return text(label)


LIMIT = 65_000   # characters: what a GitHub comment or job summary takes (with room to spare)


def render(result: Assessment, limit: int | None = None) -> str:
    """The Markdown report; with ``limit``, shortened to at most that many characters (see
    MarkdownWriter)."""
    return render_with(MarkdownWriter(limit), result)


def _block(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


_SEVERITY_RANK = {"high": 4, "medium": 3, "low": 2, "info": 1}


@dataclass
class _Entry:
    """What the writer keeps of a case: small strings; its full section is in the spool."""

    id: str
    anchor: str
    cells: str              # the matrix row after the case cell
    line: str               # the case as one list item
    size: int               # characters of its full section in the spool
    rank: tuple[int, int, int, str]   # worst first: highest open severity, open flags, concerns


class MarkdownWriter:
    """Markdown case by case: each case's full section goes to a spool as it arrives; the
    header, the case x condition matrix and the review (which come first) are written at the end.

    With ``limit`` (characters), a report that would be longer is shortened, saying what was
    cut: first the cases' details become one line each, worst cases keeping their details as
    long as they fit; then cases are listed by name only, worst first keeping their line;
    then the names that still do not fit are counted, not listed. Files not assessed are listed
    up to a quarter of the limit.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit or None

    def begin(self, out: IO[str], head: Head) -> None:
        self.out, self.head = out, head
        self.spool = Spool()
        self.entries: list[_Entry] = []

    def problem(self, error: FileError) -> None:
        pass  # listed at the end, under the matrix

    def case(self, case: CaseAssessment) -> None:
        section = _block(_case(case))
        self.spool.write(section)
        by: dict[str, ConditionResult] = {c.condition: c for c in case.conditions}
        cells = " | ".join(_cell(by.get(k)) for k in CONDITIONS) + f" | {_flag_count(case)} |"
        open_flags = [f for f in case.flags if f.counts]
        worst = max((_SEVERITY_RANK[f.severity] for f in open_flags), default=0)
        concerns = sum(1 for c in case.conditions if c.status == "concern")
        self.entries.append(_Entry(case.case, _anchor(case), cells,
                                   f"- {code(case.file)}: {text(case.summary)}", len(section),
                                   (-worst, -len(open_flags), -concerns, case.case)))

    def _row(self, e: _Entry, full: bool) -> str:
        name = f"[{text(e.id)}](#{e.anchor})" if full else text(e.id)
        return f"| {name} | {e.cells}\n"

    def end(self, tail: Tail) -> None:
        head = _block([f"## policycheck: {text(tail.summary)}", ""])
        matrix_top = _block(["| Case | " + " | ".join(CONDITIONS) + " | Flags |", "|" + "---|" * (len(CONDITIONS) + 2)])
        matrix_end = _block(["", "Cells: condition status (highest severity, number of flags).", ""])
        review = _block(_review(tail.review)) if tail.review is not None else ""
        errors = list(tail.errors)
        footer = (f"<sub>policycheck {text(self.head.version)} · rule pack {code(self.head.rule_pack.digest)} "
                  f"({self.head.rule_pack.rules} rules) · conditions: "
                  + "; ".join(f"{k} {text(v)}" for k, v in CONDITIONS.items()) + "</sub>\n")
        self.frame = (head, matrix_top, matrix_end, review, footer)
        level = {e.id: "full" for e in self.entries}
        shown_errors = len(errors)
        if self.limit is not None:
            level, shown_errors = self._fit(errors)
        for piece in self._pieces(level, errors, shown_errors):
            self.out.write(piece)

    def _pieces(self, level: dict[str, str], errors: list[FileError], shown_errors: int,
                sizes_only: bool = False) -> Iterator[str]:
        """The document in pieces (with ``sizes_only``, full sections are stand-ins of their size)."""
        entries = self.entries
        head, matrix_top, matrix_end, review, footer = self.frame
        yield head
        if not entries or any(level[e.id] in ("full", "line") for e in entries):
            yield matrix_top
            for e in entries:
                if level[e.id] in ("full", "line"):
                    yield self._row(e, level[e.id] == "full")
            yield matrix_end
        yield review
        yield _errors(errors, shown_errors)
        yield _cut_note(level, len(errors) - shown_errors, self.limit)
        if sizes_only:
            yield from (" " * e.size for e in entries if level[e.id] == "full")
        else:
            reader = self.spool.rewind()
            for e in entries:
                section = reader.read(e.size)
                if level[e.id] == "full":
                    yield section
            self.spool.close()
        lines = [e.line for e in entries if level[e.id] == "line"]
        if lines:
            yield _block(["#### Other cases, one line each" if len(lines) < len(entries) else "#### Cases", ""]
                         + lines + [""])
        yield _names(entries, level)
        yield footer

    def _fit(self, errors: list[FileError]) -> tuple[dict[str, str], int]:
        """Each case's level (full, line, name, hidden) and how many bad files to list, so the
        document stays within the limit: breadth first (every case one step up, worst first,
        before any case a second step)."""
        assert self.limit is not None
        limit, entries = self.limit, self.entries
        shown_errors = len(errors)
        while shown_errors and len(_errors(errors, shown_errors)) > limit // 4:
            shown_errors = shown_errors * 3 // 4

        def size(level: dict[str, str]) -> int:
            return sum(len(p) for p in self._pieces(level, errors, shown_errors, sizes_only=True))

        level = {e.id: "full" for e in entries}
        if size(level) <= limit:
            return level, shown_errors
        steps = ("hidden", "name", "line", "full")

        def cost(e: _Entry, lvl: str) -> int:
            return {"full": len(self._row(e, True)) + e.size, "line": len(self._row(e, False)) + len(e.line) + 1,
                    "name": len(code(e.id)) + 2, "hidden": 0}[lvl]

        level = {e.id: "hidden" for e in entries}
        budget = limit - size(level) - 400   # the cut note's counts and the headings may still grow
        total = 0
        worst_first = sorted(entries, key=lambda e: e.rank)
        for lower, higher in zip(steps, steps[1:]):
            for e in worst_first:
                extra = cost(e, higher) - cost(e, lower)
                if level[e.id] == lower and total + extra <= budget:
                    level[e.id] = higher
                    total += extra
            if any(v == lower for v in level.values()):
                break
        for e in reversed(worst_first):   # the budget is an estimate: step down until it fits
            if size(level) <= limit:
                break
            while level[e.id] != "hidden" and size(level) > limit:
                level[e.id] = steps[steps.index(level[e.id]) - 1]
        return level, shown_errors


def _errors(errors: list[FileError], shown: int) -> str:
    if not errors:
        return ""
    lines = [f"### Files not assessed ({len(errors)})", ""]
    for err in errors[:shown]:
        where = err.file + (f":{err.line}" if err.line else "") + (f":{err.column}" if err.line and err.column else "")
        more = f" (+{len(err.problems) - 1} more)" if len(err.problems) > 1 else ""
        lines.append(f"- {code(where)}: {text(err.message)}{more}")
    if shown < len(errors):
        lines.append(f"- and {len(errors) - shown} more files (the run's error lines list them all)")
    return _block(lines + [""])


def _cut_note(level: dict[str, str], errors_cut: int, limit: int | None) -> str:
    counts = {k: sum(1 for v in level.values() if v == k) for k in ("line", "name", "hidden")}
    if not any(counts.values()) and not errors_cut:
        return ""
    cut = []
    if counts["line"]:
        cut.append(f"{counts['line']} case{'s' if counts['line'] != 1 else ''} shown in one line each")
    if counts["name"]:
        cut.append(f"{counts['name']} listed by name only")
    if counts["hidden"]:
        cut.append(f"{counts['hidden']} not listed")
    if errors_cut:
        cut.append(f"{errors_cut} files not assessed not listed")
    return _block([f"**Shortened to fit {limit:,} characters** (`--markdown-limit`): " + "; ".join(cut)
                   + ". The cases with the most severe open flags keep their details; the HTML, JSON or SARIF "
                   "report has everything.", ""])


def _names(entries: list[_Entry], level: dict[str, str]) -> str:
    names = [code(e.id) for e in entries if level[e.id] == "name"]
    hidden = sum(1 for e in entries if level[e.id] == "hidden")
    if not names and not hidden:
        return ""
    body = ", ".join(names) + (f" and {hidden} more cases" if hidden and names else f"{hidden} cases" if hidden else "")
    return _block([f"Not shown here: {body}.", ""])


def _cell(c: ConditionResult | ItemCondition | None) -> str:
    if c is None:
        return ""
    out = _STATUS[c.status]
    if c.flags:
        out += f" ({c.highest}, {c.flags})"
    return out


def _flag_count(case: CaseAssessment) -> str:
    if not case.flags:
        return "0" + (f" + {len(case.history)} history" if case.history else "")
    extra = []
    for word in ("waived", "expired", "baseline"):
        n = sum(1 for f in case.flags if state(f) == word)
        if n:
            extra.append(f"{n} {'waiver expired' if word == 'expired' else word}")
    out = str(len(case.flags)) + (f" ({', '.join(extra)})" if extra else "")
    return out + (f" + {len(case.history)} history" if case.history else "")


def _anchor(case: CaseAssessment) -> str:
    return "case-" + re.sub(r"[^a-z0-9-]", "-", case.case.lower())


def _review(r: Review) -> list[str]:
    parts = [f"{r.counted} of {r.flags} flags count toward `--fail-on`"]
    if r.waivers is not None:
        parts.append(f"{r.waived} waived and {r.expired} with an expired waiver (waivers {code(r.waivers)}, "
                     f"checked on {r.today})")
    if r.baseline is not None:
        parts.append(f"{r.in_baseline} in the baseline {code(r.baseline)}")
    lines = ["**Review:** " + "; ".join(parts) + ".", ""]
    if r.stale_waivers:
        lines.append("Stale waivers (they match no flag; remove them):")
        lines += [f"- {code(s.file + ':' + str(s.line or ''))} rule {code(s.rule)} on case {code(s.case)}"
                  f"{' (expired ' + s.expires + ')' if s.expired else ''}" for s in r.stale_waivers]
        lines.append("")
    if r.baseline_resolved:
        lines += [f"{r.baseline_resolved} baseline entries no longer match a flag.", ""]
    return lines


def _case(case: CaseAssessment) -> list[str]:
    lines = [f'<a id="{_anchor(case)}"></a>', "", f"### {code(case.case)}: {text(case.title)}", "",
             f"{code(case.file)} · {text(parts.as_of(case))} · {text(case.summary)}", ""]
    for i, flag in enumerate(case.flags, 1):
        lines += _flag(i, flag)
    gaps = [r for r in case.rules if r.status == "not assessed"]
    if not case.flags and not gaps:
        lines += ["No flags.", ""]
    if case.history:
        lines += _history(case)
    if case.after_as_of:
        lines += [f"#### After the as-of date ({text(parts.LATER_NOTE)})", ""]
        for ev in case.after_as_of:
            where = code(f"{ev.file}:{ev.line}" if ev.line else ev.file)
            lines.append(f"- {text(ev.date)}: {text(ev.item)} {code(ev.id)} {text(ev.title)} ({where})")
        lines.append("")
    if case.items:
        lines += _items(case.items)
    if gaps:
        lack = "1 rule lacks" if len(gaps) == 1 else f"{len(gaps)} rules lack"
        lines += [f"<details><summary>Not assessed: {lack} facts</summary>", ""]
        for r in gaps:
            missing = ", ".join(f"{code(m.case_path or m.id + '.' + m.field)} ({m.status}"
                                + ("" if m.in_force else ", no longer in force") + f", line {m.line})"
                                for m in r.missing)
            lines.append(f"- {code(r.rule)}" + (f": {missing}" if missing else ""))
        lines += ["", "</details>", ""]
    return lines


def _history(case: CaseAssessment) -> list[str]:
    lines = [f"#### History ({text(parts.HISTORY_NOTE)})", ""]
    for flag in case.history:
        file, line = flag.location()
        where = code(f"{file}:{line}" if line else file or "")
        lines.append(f"- {text(flag.window.text())}: {flag.severity.upper()} {code(flag.rule)} "
                     f"({', '.join(flag.conditions)}): {text(flag.message)} · {where} · {code(flag.fingerprint)}")
        lines += [f"  - {_quote(q)}" for q in flag.quotes]
    return lines + [""]


def _items(items: list[ItemStatus]) -> list[str]:
    lines = [f"<details><summary>Items: status of each item on the as-of date ({len(items)})</summary>", "",
             "| Item | In force | " + " | ".join(CONDITIONS) + " |", "|" + "---|" * (len(CONDITIONS) + 2)]
    for it in items:
        by: dict[str, ItemCondition] = {c.condition: c for c in it.conditions}
        cells = [_cell(by.get(k)) for k in CONDITIONS]
        lines.append(f"| {text(it.item)} {code(it.id)} | {text(parts.item_window(it))} | " + " | ".join(cells) + " |")
    return lines + ["", "</details>", ""]


def _quote(q: Quote) -> str:
    """A quoted clause in full, with its reference and a link to its source."""
    src = link(q.title, q.url) + f", {text(q.date)} ({text(q.label())})"
    if q.location:
        src += f", {code(q.location)}"
    where = code(f"{q.file}:{q.line}" if q.line else q.file)
    return f"Quote {text(q.ref)}: “{text(q.text)}” ({src}; {where})"


def _flag(i: int, flag: Flag) -> list[str]:
    st = state(flag)
    label = {"waived": " · **waived**", "expired": " · **waiver expired**", "baseline": " · baseline"}.get(st, "")
    sev = f"**{flag.severity.upper()}**" if st in ("open", "expired") else flag.severity.upper()
    file, line = flag.location()
    where = code(f"{file}:{line}" if line else file or "")
    if flag.operative is not None:
        where += f" ({code(flag.operative.path)})"
    if flag.window.since:
        where += f", {text(flag.window.text())}"
    lines = [f"{i}. {sev}{label} {code(flag.rule)} ({', '.join(flag.conditions)}): {text(flag.message)}"]
    if parts.lowers(flag):
        lines.append(f"   - Severity: {text(parts.severity(flag))} (not known: "
                     + ", ".join(code(m) for m in parts.missing(flag)) + ")")
    lines += [f"   - Where: {where}",
              f"   - Source: {link(flag.citation.source + ' ' + flag.citation.section, flag.citation.url)}"]
    lines += [f"   - {_quote(q)}" for q in flag.quotes]
    if flag.mitigated or flag.escalations:
        lines.append(f"   - Severity: {text(parts.adjusted(flag) or '')}")
    if flag.related:
        lines.append(f"   - Relationship: {text(parts.related(flag) or '')}")
    review = describe(flag)
    if review:
        lines.append(f"   - Review: {text(review)}")
    lines += [f"   - Why: {text(flag.rationale)}", f"   - What would lower the concern: {text(flag.mitigation)}",
              f"   - Fingerprint: {code(flag.fingerprint)}", ""]
    return lines
