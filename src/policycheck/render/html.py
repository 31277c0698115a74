"""One self-contained HTML report: no network, no JavaScript, readable when printed.

A matrix of cases × conditions coloured by status (the status is also written in each cell,
so the page reads the same in black and white), then each case's flags with their evidence
(fact, field, value, file:line), citations and review state. Every value is escaped; links
are only written for http(s) addresses.
"""

from __future__ import annotations

import re
from html import escape
from typing import IO

from policycheck.model.assessment import (
    Assessment, CaseAssessment, ConditionResult, FileError, Flag, ItemCondition, ItemStatus, LaterEvent, Quote,
    Review,
)
from policycheck.model.rule import CONDITIONS
from policycheck.render import parts
from policycheck.render.stream import Head, Spool, Tail, render_with
from policycheck.render.terminal import encodable
from policycheck.review.waivers import describe, state

_CSS = """
:root { --concern: #f8d0cc; --watch: #fdecc0; --clear: #d4edda; --unknown: #e9ecef; --none: #fff; --ink: #1b1f23; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       max-width: 1100px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #ccc; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid #bbb; padding: .35rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; }
table.matrix td { text-align: center; white-space: nowrap; }
.s-concern { background: var(--concern); font-weight: 600; }
.s-watch { background: var(--watch); }
.s-no-concern-found { background: var(--clear); }
.s-not-assessed { background: var(--unknown); color: #555; font-style: italic; }
.s-not-applicable { background: var(--none); color: #777; }
.legend span { display: inline-block; padding: .1rem .5rem; margin-right: .4rem; border: 1px solid #bbb; }
.flag { border: 1px solid #bbb; border-left: 6px solid #888; padding: .6rem .8rem; margin: .8rem 0;
        break-inside: avoid; page-break-inside: avoid; }
.flag.sev-high { border-left-color: #b3261e; } .flag.sev-medium { border-left-color: #c77700; }
.flag.sev-low { border-left-color: #3f6fb5; } .flag.sev-info { border-left-color: #777; }
.flag.st-waived, .flag.st-baseline { opacity: .8; border-style: dashed; }
.badge { display: inline-block; padding: 0 .45rem; border: 1px solid currentColor; border-radius: 3px;
         font-size: .8rem; font-weight: 700; text-transform: uppercase; margin-right: .3rem; }
.review { background: #fff7e0; padding: .3rem .5rem; border: 1px solid #e0c060; }
.review.st-expired { background: #fde2e0; border-color: #b3261e; }
dl { display: grid; grid-template-columns: 11rem 1fr; gap: .2rem .8rem; margin: .4rem 0; }
dt { font-weight: 600; } dd { margin: 0; }
.meta, footer { color: #555; font-size: .9rem; }
table.evidence, table.items, table.later { font-size: .88rem; }
table.items td { white-space: nowrap; }
blockquote { margin: .2rem 0; padding: .1rem .6rem; border-left: 3px solid #bbb; color: #333; }
.quote { margin: 0 0 .5rem; } .quote cite { font-style: normal; color: #555; font-size: .88rem; }
.flag.history { border-left-color: #bbb; border-style: dotted; background: #fafafa; }
.window { font-weight: 600; }
table.evidence tr.operative td { font-weight: 600; background: #fff7e0; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
  a[href^="http"]::after { content: " <" attr(href) ">"; font-size: .8em; word-break: break-all; }
  section.case { break-before: page; page-break-before: always; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
}
"""


def e(value: object) -> str:
    return escape(str(value), quote=True)


def _href(url: str | None) -> str | None:
    return url if url and re.match(r"^https?://[^\s\"'<>]+$", url) else None


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", value.lower())


def _status_class(status: str) -> str:
    return "s-" + status.replace(" ", "-")


def render(result: Assessment) -> str:
    return render_with(HtmlWriter(), result)


class HtmlWriter:
    """HTML case by case: the matrix rows and the case sections go to two spools as cases
    arrive; the page head (with the run's summary) is written at the end."""

    def begin(self, out: IO[str], head: Head) -> None:
        self.out, self.head = out, head
        self.rows, self.sections = Spool(), Spool()

    def problem(self, error: FileError) -> None:
        pass  # a section of its own, at the end

    def case(self, case: CaseAssessment) -> None:
        case = encodable(case)   # a file name that is not UTF-8: its bytes shown as \xNN
        self.rows.write(_matrix_row(case) + "\n")
        self.sections.write("\n".join(_case(case)) + "\n")

    def end(self, tail: Tail) -> None:
        tail = encodable(tail)
        out = self.out
        summary, version, pack = tail.summary, self.head.version, self.head.rule_pack
        out.write("\n".join(["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                             '<meta name="viewport" content="width=device-width, initial-scale=1">',
                             f"<title>policycheck assessment: {e(summary)}</title>", f"<style>{_CSS}</style>",
                             "</head>", "<body>", "<header>", "<h1>policycheck assessment</h1>",
                             f'<p class="summary">{e(summary)}</p>',
                             f'<p class="meta">policycheck {e(version)} · rule pack <code>{e(pack.digest)}</code> '
                             f"({pack.rules} rules)</p>", "</header>", "<main>"]) + "\n")
        out.write("\n".join(_matrix_head()) + "\n")
        self.rows.copy_to(out)
        out.write("\n".join(_matrix_foot()) + "\n")
        if tail.review is not None:
            out.write("\n".join(_review(tail.review)) + "\n")
        if tail.errors:
            out.write("\n".join(_errors(list(tail.errors))) + "\n")
        self.sections.copy_to(out)
        out.write("\n".join(["</main>", '<footer><p>Conditions from the CMA, <i>AI Foundation Models: Initial '
                             "Report</i> (2023), chapter 3. Each flag cites the report section it rests on and the "
                             "case-file line it was found at.</p></footer>", "</body>", "</html>", ""]))


def _errors(errors: list[FileError]) -> list[str]:
    out = ['<section id="not-assessed">', f"<h2>Files not assessed ({len(errors)})</h2>", "<ul>"]
    for err in errors:
        out.append(f"<li><code>{e(err.file)}</code><ul>"
                   + "".join(f"<li><code>{e(p.text)}</code></li>" for p in err.problems) + "</ul></li>")
    return out + ["</ul>", "</section>"]


def _cell(c: ConditionResult | ItemCondition) -> str:
    detail = f"<br><small>{e(c.highest)}, {c.flags} flag{'s' if c.flags != 1 else ''}</small>" if c.flags else ""
    title = f' title="{e(c.name)}"' if isinstance(c, ConditionResult) else ""
    return f'<td class="{_status_class(c.status)}"{title}>{e(c.status)}{detail}</td>'


def _matrix_head() -> list[str]:
    out = ['<section id="matrix">', "<h2>Conditions by case</h2>", '<table class="matrix">',
           "<caption>Status of each CMA condition for each case</caption>", "<thead><tr>",
           '<th scope="col">Case</th>']
    out += [f'<th scope="col" title="{e(name)}">{e(cid)}<br><small>{e(name)}</small></th>'
            for cid, name in CONDITIONS.items()]
    return out + ['<th scope="col">Flags</th>', "</tr></thead>", "<tbody>"]


def _matrix_row(case: CaseAssessment) -> str:
    by = {c.condition: c for c in case.conditions}
    cells = "".join(_cell(by[k]) if k in by else "<td></td>" for k in CONDITIONS)
    history = f"<br><small>+ {len(case.history)} history</small>" if case.history else ""
    return (f'<tr><th scope="row"><a href="#case-{e(_slug(case.case))}">{e(case.case)}</a></th>{cells}'
            f"<td>{len(case.flags)}{history}</td></tr>")


def _matrix_foot() -> list[str]:
    return ["</tbody>", "</table>", '<p class="legend">'
            + "".join(f'<span class="{_status_class(s)}">{e(s)}</span>'
                      for s in ("concern", "watch", "no concern found", "not assessed", "not applicable"))
            + "</p>", "</section>"]


def _review(r: Review) -> list[str]:
    items = [f"<li>{r.counted} of {r.flags} flags count toward <code>--fail-on</code></li>"]
    if r.waivers is not None:
        items.append(f"<li>{r.waived} waived, {r.expired} with an expired waiver (waivers "
                     f"<code>{e(r.waivers)}</code>, checked on {e(r.today)})</li>")
    if r.baseline is not None:
        items.append(f"<li>{r.in_baseline} in the baseline <code>{e(r.baseline)}</code>"
                     + (f"; {r.baseline_resolved} baseline entries no longer match" if r.baseline_resolved else "")
                     + "</li>")
    for s in r.stale_waivers:
        items.append(f"<li>Stale waiver <code>{e(s.file)}:{e(s.line or '')}</code>: rule <code>{e(s.rule)}</code> "
                     f"on case <code>{e(s.case)}</code> matches no flag{' (expired)' if s.expired else ''}</li>")
    return ['<section id="review">', "<h2>Review</h2>", "<ul>", *items, "</ul>", "</section>"]


def _case(case: CaseAssessment) -> list[str]:
    out = [f'<section class="case" id="case-{e(_slug(case.case))}">',
           f"<h2><code>{e(case.case)}</code>: {e(case.title)}</h2>",
           f'<p class="meta"><code>{e(case.file)}</code> · {e(parts.as_of(case))} · {e(", ".join(case.kinds))}</p>',
           f"<p>{e(case.summary)}</p>"]
    if not case.flags:
        out.append("<p>No flags.</p>")
    for flag in case.flags:
        out += _flag(flag)
    if case.history:
        out += ['<section class="history">', "<h3>History</h3>",
                f'<p class="meta">{e(parts.HISTORY_NOTE.capitalize())}.</p>']
        for flag in case.history:
            out += _flag(flag, history=True)
        out.append("</section>")
    if case.after_as_of:
        out += _later(case.after_as_of)
    if case.items:
        out += _items(case.items)
    gaps = [r for r in case.rules if r.status == "not assessed"]
    if gaps:
        lack = "1 rule lacks" if len(gaps) == 1 else f"{len(gaps)} rules lack"
        out += [f"<h3>Not assessed ({lack} facts)</h3>", "<ul>"]
        for r in gaps:
            missing = ", ".join(f"<code>{e(m.case_path or m.id + '.' + m.field)}</code> ({e(m.status)}"
                                + ("" if m.in_force else ", no longer in force") + f", line {e(m.line)})"
                                for m in r.missing)
            out.append(f"<li><code>{e(r.rule)}</code>{': ' + missing if missing else ''}</li>")
        out.append("</ul>")
    out.append("</section>")
    return out


def _later(events: list[LaterEvent]) -> list[str]:
    out = ["<h3>After the as-of date</h3>", f'<p class="meta">{e(parts.LATER_NOTE.capitalize())}.</p>',
           '<table class="later">',
           "<thead><tr><th>Date</th><th>Item</th><th>Id</th><th>Title</th><th>Where</th></tr></thead>", "<tbody>"]
    for ev in events:
        out.append(f"<tr><td>{e(ev.date)}</td><td>{e(ev.item)}</td><td><code>{e(ev.id)}</code></td>"
                   f"<td>{e(ev.title)}</td><td><code>{e(ev.file)}{':' + e(ev.line) if ev.line else ''}</code></td></tr>")
    return out + ["</tbody>", "</table>"]


def _items(items: list[ItemStatus]) -> list[str]:
    out = ["<h3>Items</h3>", '<table class="items">', "<caption>Status of each item on the as-of date</caption>",
           '<thead><tr><th scope="col">Item</th><th scope="col">In force</th>']
    out += [f'<th scope="col">{e(cid)}</th>' for cid in CONDITIONS]
    out += ["</tr></thead>", "<tbody>"]
    for it in items:
        by: dict[str, ItemCondition] = {c.condition: c for c in it.conditions}
        where = f"<code>{e(it.file)}{':' + e(it.line) if it.line else ''}</code>"
        out.append(f'<tr><th scope="row">{e(it.item)} <code>{e(it.id)}</code><br><small>{e(it.title)} · {where}'
                   f"</small></th><td>{e(parts.item_window(it))}</td>"
                   + "".join(_cell(by[k]) if k in by else "<td></td>" for k in CONDITIONS) + "</tr>")
    return out + ["</tbody>", "</table>"]


def _quote(q: Quote) -> str:
    url = _href(q.url)
    title = f'<a href="{e(url)}">{e(q.title)}</a>' if url else e(q.title)
    where = f"<code>{e(q.file)}{':' + e(q.line) if q.line else ''}</code>"
    location = f" · <code>{e(q.location)}</code>" if q.location else ""
    return (f'<div class="quote"><blockquote>{e(q.text)}</blockquote><cite><code>{e(q.ref)}</code> · {title}, '
            f"{e(q.date)} ({e(q.label())}){location} · {where}</cite></div>")


def _flag(flag: Flag, history: bool = False) -> list[str]:
    st = state(flag)
    file, line = flag.location()
    cite = e(f"{flag.citation.source} {flag.citation.section}")
    url = _href(flag.citation.url)
    cite_html = f'<a href="{e(url)}">{cite}</a>' if url else cite
    label = {"waived": "waived", "expired": "waiver expired", "baseline": "baseline"}.get(st)
    kind = "flag history" if history else "flag"
    out = [f'<article class="{kind} sev-{e(flag.severity)} st-{e(st)}">',
           f'<h3><span class="badge">{e(flag.severity)}</span>'
           + (f'<span class="badge">{e(label)}</span>' if label else "")
           + ('<span class="badge">history</span>' if history else "")
           + f"<code>{e(flag.rule)}</code> {e(flag.title)}</h3>",
           f'<p class="message">{e(flag.message)}</p>']
    review = describe(flag)
    if review:
        out.append(f'<p class="review st-{e(st)}">{e(review)}</p>')
    term = f" (<code>{e(flag.operative.path)}</code>)" if flag.operative is not None else ""
    out += ["<dl>", f"<dt>Conditions</dt><dd>{e(', '.join(flag.conditions))}</dd>"]
    if parts.lowers(flag):
        out.append(f"<dt>Severity</dt><dd>{e(parts.severity(flag))} (not known: "
                   + ", ".join(f"<code>{e(m)}</code>" for m in parts.missing(flag)) + ")</dd>")
    if history or flag.window.since:
        out.append(f'<dt>Term</dt><dd class="window">{e(flag.window.text())}</dd>')
    out += [f"<dt>Where</dt><dd><code>{e(file or '')}{':' + e(line) if line else ''}</code>{term}</dd>",
            f"<dt>Source</dt><dd>{cite_html}</dd>"]
    if flag.quotes:
        out.append("<dt>Quoted</dt><dd>" + "".join(_quote(q) for q in flag.quotes) + "</dd>")
    out.append(f"<dt>Why</dt><dd>{e(flag.rationale)}</dd>")
    if flag.mitigated or flag.escalations:
        out.append(f"<dt>Severity</dt><dd>{e(parts.adjusted(flag) or '')}</dd>")
    if flag.related:
        out.append(f"<dt>Relationship</dt><dd>{e(parts.related(flag) or '')}</dd>")
    out += [f"<dt>What would lower it</dt><dd>{e(flag.mitigation)}</dd>",
            f"<dt>Fingerprint</dt><dd><code>{e(flag.fingerprint)}</code></dd>", "</dl>",
            '<table class="evidence">', "<thead><tr><th>Fact</th><th>Field</th><th>Value</th><th>Status</th>"
            "<th>Line</th></tr></thead>", "<tbody>"]
    for ev in flag.evidence:
        rows = ev.fields or []
        head = f'<th scope="rowgroup" rowspan="{max(len(rows), 1)}">{e(ev.fact)} <code>{e(ev.id)}</code></th>'
        if not rows:
            out.append(f"<tr>{head}<td></td><td></td><td></td><td>{e(ev.line or '')}</td></tr>")
        for i, f in enumerate(rows):
            op = flag.operative
            mark = ' class="operative" title="operative term"' if op is not None and (op.alias, op.id, op.field) == (
                ev.alias, ev.id, f.field) else ""
            out.append(f"<tr{mark}>{head if i == 0 else ''}<td><code>{e(f.field)}</code></td><td>{e(_value(f.value))}</td>"
                       f"<td>{e(f.status)}</td><td>{e(f.line or '')}</td></tr>")
    out += ["</tbody>", "</table>", "</article>"]
    return out


def _value(value: object) -> str:
    from policycheck.evaluate import display

    return display(value) if value is not None else ""
