"""Plain-text tables for a terminal of 100 columns (tabulate)."""

from __future__ import annotations

from tabulate import tabulate

from policycheck.assessment import Assessment, CaseAssessment, Flag

WIDTH = 100


def render_assessment(result: Assessment) -> str:
    parts = [_case(c) for c in result.cases]
    parts.append(f"Summary: {result.summary}")
    return "\n\n".join(parts) + "\n"


def _case(case: CaseAssessment) -> str:
    head = f"== {case.case}: {case.title}\n   {case.file} (as of {case.as_of})"
    cond_rows = [[f"{c.condition} {c.name}", c.status, c.flags, c.highest or "-",
                  f"{c.rules_assessed}/{c.rules_applicable}"] for c in case.conditions]
    conds = tabulate(cond_rows, headers=["Condition", "Status", "Flags", "Highest", "Rules assessed"],
                     tablefmt="simple")
    blocks = [head, conds]
    if case.flags:
        rows = [[f.severity + ("*" if f.mitigated else ""), f.rule, " ".join(f.conditions), _finding(f)]
                for f in case.flags]
        blocks.append(tabulate(rows, headers=["Severity", "Rule", "Conditions", "Finding"], tablefmt="simple",
                               maxcolwidths=[None, 30, 12, 46]))
        if any(f.mitigated for f in case.flags):
            blocks.append("* mitigated: " + "; ".join(
                f"{f.rule}: {', '.join(m.description for m in f.mitigations)} ({f.base_severity} -> {f.severity})"
                for f in case.flags if f.mitigated))
    else:
        blocks.append("No flags.")
    gaps = [r for r in case.rules if r.status == "not assessed"]
    if gaps:
        blocks.append(f"Not assessed ({len(gaps)} rules lack facts): " + ", ".join(r.rule for r in gaps))
    blocks.append(case.summary)
    return "\n\n".join(blocks)


def _finding(flag: Flag) -> str:
    lines = sorted({f"{e.file}:{e.line}" for e in flag.evidence for fl in e.fields[:1] if e.line})
    where = _first_line(flag)
    return f"{flag.message} [{flag.citation.section}; {where or ', '.join(lines)}]"


def _first_line(flag: Flag) -> str:
    """The case-file line of the first known field the rule tested (where a reviewer should look)."""
    for e in flag.evidence:
        for f in e.fields:
            if f.status == "known" and f.line and f.field not in ("id", "version", "date", "title", "name"):
                return f"line {f.line}"
    return ""


def render_rules(rows: list[list[str]]) -> str:
    return tabulate(rows, headers=["Id", "Severity", "Conditions", "Citation", "Title"], tablefmt="simple",
                    maxcolwidths=[28, None, 12, 22, 26]) + "\n"
