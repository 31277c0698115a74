"""A pull-request comment: a case × condition summary table, then each case's flags with
citations and file:line. GitHub-flavoured Markdown; every piece of case text is escaped so a
case file cannot inject markup or HTML into the comment.
"""

from __future__ import annotations

import re

from policycheck.model.assessment import Assessment, CaseAssessment, ConditionResult, Flag
from policycheck.model.rule import CONDITIONS
from policycheck.review.waivers import describe, state

_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_STATUS = {"concern": "**concern**", "watch": "watch", "no concern found": "no concern found",
           "not assessed": "_not assessed_"}


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


def _cell(c: ConditionResult) -> str:
    out = _STATUS[c.status]
    if c.flags:
        out += f" ({c.highest}, {c.flags})"
    return out


def _matrix(result: Assessment) -> list[str]:
    head = "| Case | " + " | ".join(CONDITIONS) + " | Flags |"
    rows = [head, "|" + "---|" * (len(CONDITIONS) + 2)]
    for case in result.cases:
        by = {c.condition: c for c in case.conditions}
        cells = [_cell(by[k]) if k in by else "" for k in CONDITIONS]
        rows.append(f"| [{text(case.case)}](#{_anchor(case)}) | " + " | ".join(cells) + f" | {_flag_count(case)} |")
    return rows + ["", "Cells: condition status (highest severity, number of flags).", ""]


def _flag_count(case: CaseAssessment) -> str:
    if not case.flags:
        return "0"
    extra = []
    for word in ("waived", "expired", "baseline"):
        n = sum(1 for f in case.flags if state(f) == word)
        if n:
            extra.append(f"{n} {'waiver expired' if word == 'expired' else word}")
    return str(len(case.flags)) + (f" ({', '.join(extra)})" if extra else "")


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
             f"{code(case.file)} · as of {text(case.as_of)} · {text(case.summary)}", ""]
    for i, flag in enumerate(case.flags, 1):
        lines += _flag(i, flag)
    gaps = [r for r in case.rules if r.status == "not assessed"]
    if gaps:
        lines.append(f"<details><summary>Not assessed: {len(gaps)} rule{'s' if len(gaps) != 1 else ''} "
                     "lack facts</summary>")
        lines.append("")
        for r in gaps:
            missing = ", ".join(f"{code(m.id + '.' + m.field)} ({m.status}, line {m.line})" for m in r.missing)
            lines.append(f"- {code(r.rule)}" + (f": {missing}" if missing else ""))
        lines += ["", "</details>", ""]
    if not case.flags and not gaps:
        lines += ["No flags.", ""]
    return lines


def _flag(i: int, flag: Flag) -> list[str]:
    st = state(flag)
    label = {"waived": " · **waived**", "expired": " · **waiver expired**", "baseline": " · baseline"}.get(st, "")
    sev = f"**{flag.severity.upper()}**" if st in ("open", "expired") else flag.severity.upper()
    file, line = flag.location()
    where = code(f"{file}:{line}" if line else file or "")
    lines = [f"{i}. {sev}{label} {code(flag.rule)} ({', '.join(flag.conditions)}): {text(flag.message)}",
             f"   - Where: {where}",
             f"   - Source: {link(flag.citation.source + ' ' + flag.citation.section, flag.citation.url)}"]
    if flag.mitigated:
        lines.append(f"   - Mitigated {flag.base_severity} → {flag.severity}: "
                     + "; ".join(text(m.description) for m in flag.mitigations))
    review = describe(flag)
    if review:
        lines.append(f"   - Review: {text(review)}")
    lines += [f"   - Why: {text(flag.rationale)}", f"   - What would lower the concern: {text(flag.mitigation)}",
              f"   - Fingerprint: {code(flag.fingerprint)}", ""]
    return lines
