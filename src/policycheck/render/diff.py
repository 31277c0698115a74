"""Render a Diff (``policycheck diff``) as a table for a terminal, Markdown or JSON."""

from __future__ import annotations

import textwrap

from tabulate import tabulate

from policycheck.diff import Diff, FlagChange, TermsInForce
from policycheck.render.markdown import code, text

_HEAD = {"widened": "Concerns widened (new or more severe)", "narrowed": "Concerns narrowed (resolved or less severe)",
         "unclear": "Unclear (flags gone because facts are now missing)"}


def _flag_line(c: FlagChange) -> tuple[str, str, str]:
    side = c.new or c.old
    if c.change in ("severity raised", "severity lowered"):
        assert c.old is not None and c.new is not None
        sev = f"{c.old.severity} -> {c.new.severity}"
    else:
        sev = side.severity if side else ""
    where = f"{side.file}:{side.line}" if side and side.line else (side.file or "" if side else "")
    return sev, (side.message if side else ""), where


def render(d: Diff, fmt: str) -> str:
    if fmt == "json":
        return d.to_json()
    if fmt == "markdown":
        return _markdown(d)
    return _table(d)


def _table(d: Diff) -> str:
    out = [f"policycheck diff {d.old} -> {d.new}", ""]
    for o_n in d.cases:
        out.append(f"case: {o_n.old or '(none)'} ({o_n.old_file or '-'}) -> {o_n.new or '(none)'} ({o_n.new_file or '-'})")
    out.append("")
    for direction in ("widened", "narrowed", "unclear"):
        rows = []
        for c in d.flags:
            if c.direction != direction:
                continue
            sev, msg, where = _flag_line(c)
            rows.append([c.change + (" *" if c.new_concern else ""), sev, _wrap(c.rule, 26),
                         _wrap(msg + (f" [{where}]" if where else "") + (f" ({c.note})" if c.note else ""), 48)])
        if rows:
            out += [_HEAD[direction] + ":", tabulate(rows, headers=["Change", "Severity", "Rule", "Finding"],
                                                     tablefmt="simple", disable_numparse=True), ""]
    if d.conditions:
        rows = [[c.case, f"{c.condition} {c.name}", c.old, c.new, c.direction + (" *" if c.new_concern else "")]
                for c in d.conditions]
        out += ["Conditions:", tabulate(rows, headers=["Case", "Condition", "Old", "New", "Direction"],
                                        tablefmt="simple", disable_numparse=True), ""]
    if d.rules:
        rows = [[r.case, r.rule, r.old, r.new] for r in d.rules]
        out += ["Rule status (no flag changed):", tabulate(rows, headers=["Case", "Rule", "Old", "New"],
                                                           tablefmt="simple", disable_numparse=True), ""]
    for t in d.terms_in_force:
        out += _terms_text(t)
    out += ["* new concern (diff exits 1)" if d.new_concerns else "", *[_wrap(f"note: {n}", 100) for n in d.notes],
            f"Summary: {d.summary}"]
    return "\n".join(line for line in out if line is not None).replace("\n\n\n", "\n\n") + "\n"


def _wrap(value: str, width: int) -> str:
    return "\n".join(textwrap.wrap(value, width, break_on_hyphens=False)) or value


def _terms_text(t: TermsInForce) -> list[str]:
    out = [_wrap(f"Terms in force: {t.old_licence} \"{t.old_version}\" -> {t.new_licence} \"{t.new_version}\"", 100)]
    if t.terms:
        out.append(tabulate([[x.field, _wrap(x.old, 30), _wrap(x.new, 30)] for x in t.terms],
                            headers=["Term", "Old", "New"], tablefmt="simple", disable_numparse=True))
    for label, items in (("concerns widened, terms narrowed (rules now firing)", t.widened),
                         ("concerns narrowed, terms widened (rules no longer firing)", t.narrowed),
                         ("severity raised", t.raised), ("severity lowered", t.lowered),
                         ("unchanged", t.unchanged)):
        if items:
            out.append(_wrap(f"  {label}: {', '.join(items)}", 100).replace("\n", "\n    "))
    return out + [""]


def _markdown(d: Diff) -> str:
    out = [f"## policycheck diff: {text(d.summary)}", "",
           f"{code(d.old)} → {code(d.new)}" + ("; **new concerns found**" if d.new_concerns else ""), ""]
    for direction in ("widened", "narrowed", "unclear"):
        items = [c for c in d.flags if c.direction == direction]
        if not items:
            continue
        out += [f"### {_HEAD[direction]}", "", "| Change | Severity | Rule | Finding | Where |", "|---|---|---|---|---|"]
        for c in items:
            sev, msg, where = _flag_line(c)
            change = f"**{c.change}**" if c.new_concern else c.change
            out.append(f"| {change} | {text(sev)} | {code(c.rule)} | {text(msg)}"
                       + (f" _({text(c.note)})_" if c.note else "") + f" | {code(where) if where else ''} |")
        out.append("")
    if d.conditions:
        out += ["### Conditions", "", "| Case | Condition | Old | New | Direction |", "|---|---|---|---|---|"]
        out += [f"| {code(c.case)} | {c.condition} {text(c.name)} | {text(c.old)} | "
                f"{'**' + text(c.new) + '**' if c.new_concern else text(c.new)} | {c.direction} |" for c in d.conditions]
        out.append("")
    if d.rules:
        out += ["<details><summary>Rule status changes without a flag change</summary>", "",
                "| Case | Rule | Old | New |", "|---|---|---|---|"]
        out += [f"| {code(r.case)} | {code(r.rule)} | {text(r.old)} | {text(r.new)} |" for r in d.rules]
        out += ["", "</details>", ""]
    for t in d.terms_in_force:
        out += [f"### Terms in force: {text(t.old_version)} → {text(t.new_version)}", ""]
        if t.terms:
            out += ["| Term | Old | New |", "|---|---|---|"]
            out += [f"| {code(x.field)} | {text(x.old)} | {text(x.new)} |" for x in t.terms]
            out.append("")
        for label, names in (("Concerns widened, terms narrowed (rules now firing)", t.widened),
                             ("Concerns narrowed, terms widened (rules no longer firing)", t.narrowed),
                             ("Severity raised", t.raised), ("Severity lowered", t.lowered), ("Unchanged", t.unchanged)):
            if names:
                out.append(f"- {label}: " + ", ".join(code(i) for i in names))
        out.append("")
    out += [f"_Note: {text(n)}_" for n in d.notes]
    return "\n".join(out).rstrip("\n") + "\n"
