"""Plain-text tables for a terminal of 100 columns (tabulate)."""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from policycheck.model.assessment import Assessment, CaseAssessment, Flag
from policycheck.review.waivers import describe, state

WIDTH = 100
_REVIEW_TAG = {"waived": " (waived)", "expired": " (waiver expired)", "baseline": " (baseline)"}


def render_assessment(result: Assessment) -> str:
    parts = [_case(c) for c in result.cases]
    parts.append(_wrap(f"Summary: {result.summary}"))
    if result.review is not None:  # waivers / baseline in use (review workflows)
        r = result.review
        parts.append(_wrap(f"Review: {r.counted} of {r.flags} flags count toward --fail-on ({r.waived} waived, "
                           f"{r.expired} with an expired waiver, {r.in_baseline} in the baseline)"))
    return "\n\n".join(parts) + "\n"


def _wrap(text: str) -> str:
    """Free text wrapped to the terminal width, continuation lines indented."""
    return textwrap.fill(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False)


def _case(case: CaseAssessment) -> str:
    head = _wrap(f"== {case.case}: {case.title}") + f"\n   {case.file} (as of {case.as_of})"
    cond_rows = [[f"{c.condition} {c.name}", c.status, c.flags, c.highest or "-",
                  f"{c.rules_assessed}/{c.rules_applicable}"] for c in case.conditions]
    conds = tabulate(cond_rows, headers=["Condition", "Status", "Flags", "Highest", "Rules assessed"],
                     tablefmt="simple")
    blocks = [head, conds]
    if case.flags:
        # Severity 10 + rule 28 + finding 56 + two 2-space gaps = 98 columns at most.
        rows = [[f.severity + ("*" if f.mitigated else ""),
                 f"{f.rule}\n({' '.join(f.conditions)})" + _REVIEW_TAG.get(state(f), "").replace(" (", "\n("),
                 _finding(f)] for f in case.flags]
        blocks.append(tabulate(rows, headers=["Severity", "Rule (conditions)", "Finding"], tablefmt="simple",
                               maxcolwidths=[10, 28, 56]))
        if any(f.mitigated for f in case.flags):
            blocks.append(_wrap("* mitigated: " + "; ".join(
                f"{f.rule}: {', '.join(m.description for m in f.mitigations)} ({f.base_severity} -> {f.severity})"
                for f in case.flags if f.mitigated)))
        reviewed = [f for f in case.flags if describe(f)]
        if reviewed:
            blocks.append(_wrap("Review: " + "; ".join(f"{f.rule}: {describe(f)}" for f in reviewed)))
    else:
        blocks.append("No flags.")
    gaps = [r for r in case.rules if r.status == "not assessed"]
    if gaps:
        blocks.append(_wrap(f"Not assessed ({len(gaps)} rules lack facts): " + ", ".join(r.rule for r in gaps)))
    blocks.append(_wrap(case.summary))
    return "\n\n".join(blocks)


def _finding(flag: Flag) -> str:
    _, line = flag.location()
    where = f"; line {line}" if line else ""
    return f"{flag.message} [{flag.citation.section}{where}]"


def render_rules(rows: list[list[str]]) -> str:
    # 36 + 8 + 12 + 16 + 18 + four 2-space gaps = 98 columns at most.
    return tabulate(rows, headers=["Id", "Severity", "Conditions", "Citation", "Title"], tablefmt="simple",
                    maxcolwidths=[36, 8, 12, 16, 18]) + "\n"
