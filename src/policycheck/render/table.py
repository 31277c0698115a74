"""Plain-text tables for a terminal of 100 columns (tabulate)."""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from policycheck.model.assessment import Assessment, CaseAssessment, Flag, ItemStatus, Status
from policycheck.model.rule import CONDITIONS
from policycheck.render import parts as words
from policycheck.review.waivers import describe, state

WIDTH = 100
_REVIEW_TAG = {"waived": " (waived)", "expired": " (waiver expired)", "baseline": " (baseline)"}
# Item cells are narrow: one short word per status, explained under the table.
_ITEM_CELL: dict[Status, str] = {"concern": "concern", "watch": "watch", "no concern found": "ok",
                                 "not assessed": "?", "not applicable": "-"}


def render_assessment(result: Assessment, *, explain: bool = False) -> str:
    """The assessment as text for a 100-column terminal; ``explain`` adds each case's
    explanation (render/explain.py) after its table."""
    parts = [_case(c, explain) for c in result.cases]
    parts.append(_wrap(f"Summary: {result.summary}"))
    if result.review is not None:  # waivers / baseline in use (review workflows)
        r = result.review
        parts.append(_wrap(f"Review: {r.counted} of {r.flags} flags count toward --fail-on ({r.waived} waived, "
                           f"{r.expired} with an expired waiver, {r.in_baseline} in the baseline)"))
    return "\n\n".join(parts) + "\n"


def _wrap(text: str) -> str:
    """Free text wrapped to the terminal width, continuation lines indented."""
    return textwrap.fill(text, WIDTH, subsequent_indent="  ", break_on_hyphens=False)


def _case(case: CaseAssessment, explain: bool = False) -> str:
    head = _wrap(f"== {case.case}: {case.title}") + "\n" + textwrap.fill(
        f"{case.file} ({words.as_of(case)})", WIDTH, initial_indent="   ", subsequent_indent="     ",
        break_on_hyphens=False, break_long_words=False)
    cond_rows = [[f"{c.condition} {c.name}", c.status, c.flags, c.highest or "-",
                  f"{c.rules_assessed}/{c.rules_applicable}"] for c in case.conditions]
    conds = tabulate(cond_rows, headers=["Condition", "Status", "Flags", "Highest", "Rules assessed"],
                     tablefmt="simple")
    blocks = [head, conds]
    if case.flags:
        # Severity 10 + rule 28 + finding 56 + two 2-space gaps = 98 columns at most.
        rows = [[f.severity + ("*" if f.mitigated or f.escalations else ""),
                 f"{f.rule}\n({' '.join(f.conditions)})" + _REVIEW_TAG.get(state(f), "").replace(" (", "\n("),
                 _finding(f)] for f in case.flags]
        blocks.append(tabulate(rows, headers=["Severity", "Rule (conditions)", "Finding"], tablefmt="simple",
                               maxcolwidths=[10, 28, 56]))
        if any(f.mitigated or f.escalations for f in case.flags):
            blocks.append(_wrap("* severity adjusted: " + "; ".join(
                f"{f.rule}: {words.adjusted(f)}" for f in case.flags if f.mitigated or f.escalations)))
        if any(f.related for f in case.flags):
            blocks.append(_wrap("Relationships: " + "; ".join(
                f"{f.rule}: {words.related(f)}" for f in case.flags if f.related)))
        reviewed = [f for f in case.flags if describe(f)]
        if reviewed:
            blocks.append(_wrap("Review: " + "; ".join(f"{f.rule}: {describe(f)}" for f in reviewed)))
    else:
        blocks.append("No flags.")
    if case.history:
        blocks.append(_history(case))
    if case.after_as_of:
        blocks.append(_later(case))
    if case.items:
        blocks.append(_items(case.items))
    gaps = [r for r in case.rules if r.status == "not assessed"]
    if gaps:
        lack = "1 rule lacks" if len(gaps) == 1 else f"{len(gaps)} rules lack"
        hint = "" if explain else " (--explain lists the case-file fields to fill in)"
        blocks.append(_wrap(f"Not assessed ({lack} facts): " + ", ".join(r.rule for r in gaps) + hint))
    blocks.append(_wrap(case.summary))
    if explain:
        from policycheck.render.explain import case_text

        blocks.append(case_text(case))
    return "\n\n".join(blocks)


def _finding(flag: Flag) -> str:
    _, line = flag.location()
    where = f"; line {line}" if line else ""
    text = f"{flag.message} [{flag.citation.section}{where}]"
    if words.lowers(flag):
        text += f"\nSeverity: {words.severity(flag)} (not known: {', '.join(words.missing(flag))})"
    for q in flag.quotes:
        text += f'\n"{words.short_quote(q)}" ({q.ref}; {q.label()})'
    return text


def _history(case: CaseAssessment) -> str:
    # When 10 + severity 10 (its header and tabulate's padding) + rule 24 + finding 48 + three
    # 2-space gaps = 98 columns at most.
    rows = [[f.window.text(), f.severity, f"{f.rule}\n({' '.join(f.conditions)})", _finding(f)] for f in case.history]
    return _wrap(f"History ({words.HISTORY_NOTE}):") + "\n" + tabulate(
        rows, headers=["When", "Severity", "Rule (conditions)", "Finding"], tablefmt="simple",
        maxcolwidths=[10, 8, 24, 48])


def _later(case: CaseAssessment) -> str:
    lines = [_wrap(f"After the as-of date ({words.LATER_NOTE}):")]
    for ev in case.after_as_of:
        where = f"{ev.file}:{ev.line}" if ev.line else ev.file
        lines.append(textwrap.fill(f"- {ev.date} {ev.item} {ev.id}: {ev.title} ({where})", WIDTH,
                                   subsequent_indent="    ", break_on_hyphens=False, break_long_words=False))
    return "\n".join(lines)


def _items(items: list[ItemStatus]) -> str:
    # Item 32 + in force 19 + five conditions 7 (OTC: 3) + six 2-space gaps = 98 columns at most.
    rows = []
    for it in items:
        by: dict[str, Status] = {c.condition: c.status for c in it.conditions}
        cells = [_ITEM_CELL[by[k]] if k in by else "" for k in CONDITIONS]
        rows.append([f"{it.item} {it.id}", _since(it), *cells])
    table = tabulate(rows, headers=["Item", "In force", *CONDITIONS], tablefmt="simple",
                     maxcolwidths=[32, 19] + [7] * len(CONDITIONS))
    return table + "\n" + _wrap("Items: concern, watch, ok = no concern found, ? = not assessed, - = not applicable.")


def _since(item: ItemStatus) -> str:
    """The "In force" cell: "since 2023-07-18", "2023-02-24 to 2023-07-18 (ended)"."""
    if item.in_force and item.window.until is None:
        return f"since {item.window.since}" if item.window.since else "yes"
    return words.item_window(item)


def render_rules(rows: list[list[str]]) -> str:
    # 36 + 8 + 12 + 16 + 18 + four 2-space gaps = 98 columns at most.
    return tabulate(rows, headers=["Id", "Severity", "Conditions", "Citation", "Title"], tablefmt="simple",
                    maxcolwidths=[36, 8, 12, 16, 18]) + "\n"
