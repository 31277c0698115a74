"""Plain-text tables for a terminal of 100 columns (tabulate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from tabulate import tabulate

from policycheck.model.assessment import Assessment, CaseAssessment, FileError, Flag, ItemStatus, Status
from policycheck.model.rule import CONDITIONS, SEVERITY_ORDER
from policycheck.render import parts as words
from policycheck.render.stream import Head, Tail, render_with
from policycheck.render.terminal import MIN_WIDTH, PLAIN, Style, escape, escaped, wrap
from policycheck.review.waivers import describe, state

WIDTH = 100
_REVIEW_TAG = {"waived": " (waived)", "expired": " (waiver expired)", "baseline": " (baseline)"}
# Item cells are narrow: one short word per status, explained under the table.
_ITEM_CELL: dict[Status, str] = {"concern": "concern", "watch": "watch", "no concern found": "ok",
                                 "not assessed": "?", "not applicable": "-"}


def render_assessment(result: Assessment, *, explain: bool = False) -> str:
    """The assessment as text for a 100-column terminal; ``explain`` adds each case's
    explanation (render/explain.py) after its table."""
    return render_with(TableWriter(explain=explain), result)


VIEWS = ("full", "summary")


@dataclass(frozen=True)
class Look:
    width: int = WIDTH
    style: Style = PLAIN


class TableWriter:
    """The table case by case (each case's block is written as soon as it is assessed).

    - ``view="summary"``: one line per case, worst first (highest open severity, then number
      of open flags, then conditions of concern), written at the end;
    - ``quiet``: only the flags that fail the run (``fail_on``: counted flags at or above it),
      one ``file:line: severity rule (case): message`` line each, then the summary;
    - ``width`` wraps the free text and the Finding column; ``style`` colours severities and statuses.
    """

    def __init__(self, *, explain: bool = False, view: str = "full", quiet: bool = False,
                 fail_on: str | None = None, width: int = WIDTH, style: Style = PLAIN) -> None:
        self.explain, self.view, self.quiet, self.fail_on = explain, view, quiet, fail_on
        self.look = Look(max(MIN_WIDTH, width), style)

    def begin(self, out: IO[str], head: Head) -> None:
        self.out = out
        self.blocks = 0
        self.lines: list[tuple[tuple[int, int, int, str], str]] = []

    def problem(self, error: FileError) -> None:
        pass  # listed before the summary

    def _write(self, block: str) -> None:
        # Each block ends its own last line, so the cursor waits at the start of a line between
        # cases: a progress bar drawn there (stderr, same terminal) and erased never touches the
        # table's text.
        self.out.write(("\n" if self.blocks else "") + block + "\n")
        self.blocks += 1
        self.out.flush()

    def case(self, case: CaseAssessment) -> None:
        case = escaped(case)   # case text reaches the terminal with its controls made visible
        if self.quiet:
            for f in case.flags:
                if self.fail_on is not None and f.counts and SEVERITY_ORDER[f.severity] >= SEVERITY_ORDER[self.fail_on]:
                    self.out.write(_failing_line(case, f, self.look) + "\n")
                    self.out.flush()
        elif self.view == "summary":
            open_flags = [f for f in case.flags if f.counts]
            worst = max((SEVERITY_ORDER[f.severity] for f in open_flags), default=-1)
            concerns = sum(1 for c in case.conditions if c.status == "concern")
            label = max(open_flags, key=lambda f: SEVERITY_ORDER[f.severity]).severity if open_flags else "-"
            line = f"{label:<7} {' '.join(case.summary.split())}"   # one line per case, never wrapped
            if label != "-":
                line = self.look.style.severity(label) + line[len(label):]
            self.lines.append(((-worst, -len(open_flags), -concerns, case.case), line))
        else:
            self._write(_case(case, self.explain, self.look))

    def end(self, tail: Tail) -> None:
        look = self.look
        tail = escaped(tail)
        if self.view == "summary" and not self.quiet:
            self._write("\n".join(line for _, line in sorted(self.lines)))
        if tail.errors and not self.quiet:
            self._write(_errors(list(tail.errors), look))
        if self.quiet:
            self.out.write(_wrap(f"Summary: {tail.summary}", look.width) + "\n")
            return
        self._write(_wrap(f"Summary: {tail.summary}", look.width))
        if tail.review is not None:  # waivers / baseline in use (review workflows)
            r = tail.review
            self._write(_wrap(f"Review: {r.counted} of {r.flags} flags count toward --fail-on ({r.waived} waived, "
                              f"{r.expired} with an expired waiver, {r.in_baseline} in the baseline)", look.width))


def _failing_line(case: CaseAssessment, flag: Flag, look: Look) -> str:
    file, line = flag.location()
    where = f"{file}:{line}" if line else (file or case.file)
    return (f"{where}: {look.style.severity(flag.severity)} {flag.rule} ({case.case}): "
            + " ".join(flag.message.split()))


def _errors(errors: list[FileError], look: Look) -> str:
    lines = [look.style.bold(f"Files not assessed ({len(errors)}):")]
    for err in errors:
        for p in err.problems:
            lines += wrap(f"- {escape(p.text)}", look.width, indent="    ", break_long=False)
    return "\n".join(lines)


def _wrap(text: str, width: int = WIDTH) -> str:
    """Free text wrapped to the terminal width, continuation lines indented."""
    return "\n".join(wrap(text, width, indent="  "))


def _cell(text: str, width: int) -> str:
    """A table cell wrapped to ``width`` columns (its own line breaks kept)."""
    return "\n".join(wrap(text, width))


def _rule_width(flags: list[Flag], width: int) -> int:
    """The Rule column: 28 columns, wider (up to ``width - 62``, so the Finding keeps 46) when
    a rule id needs it, so ids are not split at their hyphens."""
    longest = max((len(f.rule) for f in flags), default=0)
    return max(28, min(longest, width - 62))


def _case(case: CaseAssessment, explain: bool = False, look: Look = Look()) -> str:
    width, style = look.width, look.style
    head = style.bold(_wrap(f"== {case.case}: {case.title}", width)) + "\n" + "\n".join(
        "   " + line for line in wrap(f"{case.file} ({words.as_of(case)})", width - 3, indent="  ", break_long=False))
    cond_rows = [[f"{c.condition} {c.name}", style.status(c.status), c.flags,
                  style.severity(c.highest) if c.highest else "-",
                  f"{c.rules_assessed}/{c.rules_applicable}"] for c in case.conditions]
    narrow = {"maxcolwidths": [max(14, width - 60), None, None, None, 8]} if width < WIDTH else {}
    conds = tabulate(cond_rows, headers=["Condition", "Status", "Flags", "Highest", "Rules assessed"],
                     tablefmt="simple", **narrow)  # type: ignore[arg-type]
    blocks = [head, conds]
    if case.flags:
        # Severity 8 + rule 28 (up to width - 62) + finding (width - 16 - rule) + two 2-space gaps
        # = width - 4 columns at most.
        rule_width = _rule_width(case.flags, width)
        rows = [[style.severity(f.severity + ("*" if f.mitigated or f.escalations else ""), f.severity),
                 _cell(f"{f.rule}\n({' '.join(f.conditions)})" + _REVIEW_TAG.get(state(f), "").replace(" (", "\n("),
                       rule_width),
                 _cell(_finding(f), width - 16 - rule_width)] for f in case.flags]
        blocks.append(tabulate(rows, headers=["Severity", "Rule (conditions)", "Finding"], tablefmt="simple"))
        if any(f.mitigated or f.escalations for f in case.flags):
            blocks.append(_wrap("* severity adjusted: " + "; ".join(
                f"{f.rule}: {words.adjusted(f)}" for f in case.flags if f.mitigated or f.escalations), width))
        if any(f.related for f in case.flags):
            blocks.append(_wrap("Relationships: " + "; ".join(
                f"{f.rule}: {words.related(f)}" for f in case.flags if f.related), width))
        reviewed = [f for f in case.flags if describe(f)]
        if reviewed:
            blocks.append(_wrap("Review: " + "; ".join(f"{f.rule}: {describe(f)}" for f in reviewed), width))
    else:
        blocks.append("No flags.")
    if case.history:
        blocks.append(_history(case, width))
    if case.after_as_of:
        blocks.append(_later(case, width))
    if case.items:
        blocks.append(_items(case.items, look))
    gaps = [r for r in case.rules if r.status == "not assessed"]
    if gaps:
        lack = "1 rule lacks" if len(gaps) == 1 else f"{len(gaps)} rules lack"
        hint = "" if explain else " (--explain lists the case-file fields to fill in)"
        blocks.append(_wrap(f"Not assessed ({lack} facts): " + ", ".join(r.rule for r in gaps) + hint, width))
    blocks.append(_wrap(case.summary, width))
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


def _history(case: CaseAssessment, width: int = WIDTH) -> str:
    # When 10 + severity 10 (its header and tabulate's padding) + rule 24 + finding 48 + three
    # 2-space gaps = 98 columns at most (at 100).
    rows = [[_cell(f.window.text(), 10), f.severity, _cell(f"{f.rule}\n({' '.join(f.conditions)})", 24),
             _cell(_finding(f), width - 52)] for f in case.history]
    return _wrap(f"History ({words.HISTORY_NOTE}):", width) + "\n" + tabulate(
        rows, headers=["When", "Severity", "Rule (conditions)", "Finding"], tablefmt="simple")


def _later(case: CaseAssessment, width: int = WIDTH) -> str:
    lines = [_wrap(f"After the as-of date ({words.LATER_NOTE}):", width)]
    for ev in case.after_as_of:
        where = f"{ev.file}:{ev.line}" if ev.line else ev.file
        lines += wrap(f"- {ev.date} {ev.item} {ev.id}: {ev.title} ({where})", width, indent="    ",
                      break_long=False)
    return "\n".join(lines)


def _items(items: list[ItemStatus], look: Look = Look()) -> str:
    # The status columns take what their words need (tabulate gives a header two columns more
    # than its text); "In force" up to 19 columns (down to 10 on a narrow terminal) and "Item"
    # the rest, so the table fits the width.
    by_item: list[dict[str, Status]] = [{c.condition: c.status for c in it.conditions} for it in items]
    status_width = sum(max([len(k) + 2] + [len(_ITEM_CELL[by[k]]) for by in by_item if k in by]) for k in CONDITIONS)
    fixed = status_width + 2 * (len(CONDITIONS) + 1)
    since_width = min(19, max(len(_since(it)) for it in items))
    item_width = look.width - fixed - since_width
    if item_width < 16:
        since_width = max(10, since_width - (16 - item_width))
        item_width = max(8, look.width - fixed - since_width)
    rows = []
    for it, by in zip(items, by_item):
        cells = [look.style.status(by[k]).replace(by[k], _ITEM_CELL[by[k]]) if k in by else "" for k in CONDITIONS]
        rows.append([_cell(f"{it.item} {it.id}", item_width), _cell(_since(it), since_width), *cells])
    table = tabulate(rows, headers=["Item", "In force", *CONDITIONS], tablefmt="simple")
    return table + "\n" + _wrap("Items: concern, watch, ok = no concern found, ? = not assessed, - = not applicable.",
                                 look.width)


def _since(item: ItemStatus) -> str:
    """The "In force" cell: "since 2023-07-18", "2023-02-24 to 2023-07-18 (ended)"."""
    if item.in_force and item.window.until is None:
        return f"since {item.window.since}" if item.window.since else "yes"
    return words.item_window(item)


def render_rules(rows: list[list[str]]) -> str:
    # 36 + 8 + 12 + 16 + 18 + four 2-space gaps = 98 columns at most.
    return tabulate(rows, headers=["Id", "Severity", "Conditions", "Citation", "Title"], tablefmt="simple",
                    maxcolwidths=[36, 8, 12, 16, 18]) + "\n"
