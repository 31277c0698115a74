"""A pull-request comment: a case × condition summary table, then each case's flags with
citations and file:line. GitHub-flavoured Markdown; every piece of case text is escaped so a
case file cannot inject markup or HTML into the comment.
"""

from __future__ import annotations

import re

from policycheck.model.assessment import (
    Assessment, CaseAssessment, ConditionResult, Flag, ItemCondition, ItemStatus, Quote, Status,
)
from policycheck.model.rule import CONDITIONS
from policycheck.render import parts
from policycheck.review.waivers import describe, state

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
# "not assessed" (a rule applies but lacks facts) is italic; "not applicable" (no rule applies) plain.
_STATUS: dict[Status, str] = {"concern": "**concern**", "watch": "watch", "no concern found": "no concern found",
                              "not assessed": "_not assessed_", "not applicable": "not applicable"}


def text(value: object) -> str:
    """Plain text made inert in Markdown: one line, punctuation escaped, HTML characters as entities."""
    s = " ".join(str(value).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", s)


def code(value: object) -> str:
    """An inline code span that survives backticks in the value."""
    s = " ".join(str(value).split())
    fence = "`"
    while fence in s:
        fence += "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def link(label: str, url: str | None) -> str:
    if url and re.match(r"^https?://[^\s<>()]+$", url):
        return f"[{text(label)}]({url})"
    return text(label)


def render(result: Assessment) -> str:
    lines = [f"## policycheck: {text(result.summary)}", ""]
    lines += _matrix(result)
    if result.review is not None:
        lines += _review(result)
    for case in result.cases:
        lines += _case(case)
    lines += [f"<sub>policycheck {text(result.version)} · rule pack {code(result.rule_pack.digest)} "
              f"({result.rule_pack.rules} rules) · conditions: "
              + "; ".join(f"{k} {text(v)}" for k, v in CONDITIONS.items()) + "</sub>", ""]
    return "\n".join(lines)


def _cell(c: ConditionResult | ItemCondition | None) -> str:
    if c is None:
        return ""
    out = _STATUS[c.status]
    if c.flags:
        out += f" ({c.highest}, {c.flags})"
    return out


def _matrix(result: Assessment) -> list[str]:
    head = "| Case | " + " | ".join(CONDITIONS) + " | Flags |"
    rows = [head, "|" + "---|" * (len(CONDITIONS) + 2)]
    for case in result.cases:
        by: dict[str, ConditionResult] = {c.condition: c for c in case.conditions}
        cells = [_cell(by.get(k)) for k in CONDITIONS]
        rows.append(f"| [{text(case.case)}](#{_anchor(case)}) | " + " | ".join(cells) + f" | {_flag_count(case)} |")
    return rows + ["", "Cells: condition status (highest severity, number of flags).", ""]


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


def _review(result: Assessment) -> list[str]:
    r = result.review
    assert r is not None
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
