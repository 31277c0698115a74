"""Assess cases on a date: run the engine at each instant, keep what is in force.

An assessment at ``as_of`` (default: each case's own) evaluates the facts in force that day
(current flags and statuses) and on every earlier day where something started or ended: a
flag found earlier but not on ``as_of`` is *history* (with the window it held), never
counted. What starts after ``as_of`` is listed, not assessed. The engine decides what
matches; this package groups matches into flags and statuses (``snapshot``, ``flags``,
``statuses``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from policycheck import __version__
from policycheck.compile import compile_pack
from policycheck.engine import Engine
from policycheck.engine import engine_for as _engine_for
from policycheck.errors import EngineError, InputError, Location, Problem
from policycheck.evaluate import flags as _flags
from policycheck.evaluate import snapshot as _snapshot
from policycheck.evaluate import statuses as _statuses
from policycheck.evaluate.flags import display, render_message
from policycheck.facts import day, flatten, instants, spans
from policycheck.facts.timeline import Span, is_date
from policycheck.io.reader import Path_
from policycheck.load.cases import LoadedCase
from policycheck.facts import Fact
from policycheck.load.rules import LoadedRule, RulePack
from policycheck.model.assessment import (
    Assessment, CaseAssessment, ConditionResult, Evidence, Flag, LaterEvent, PackInfo, Window,
)
from policycheck.model.rule import SEVERITY_ORDER

__all__ = ["Tally", "assess", "assess_case", "assess_each", "display", "engine_for", "render_message"]


def engine_for(pack: RulePack) -> Engine:
    """One engine per rule pack per process (the engine cannot free what it registered)."""
    return _engine_for(compile_pack(pack), pack.digest)


def assess(cases: Sequence[LoadedCase], pack: RulePack, as_of: str | None = None) -> Assessment:
    """Assess each case against the pack on ``as_of`` (YYYY-MM-DD; default: each case's own
    ``as_of``). Deterministic: same inputs give identical output."""
    if as_of is not None and not is_date(as_of):
        raise InputError([Problem(f"as-of date {as_of!r} is not a date (YYYY-MM-DD)")])
    engine = engine_for(pack)
    results = [assess_case(c, pack, engine, as_of) for c in sorted(cases, key=lambda c: (c.case.id, c.file))]
    return Assessment(tool="policycheck", version=__version__, rule_pack=PackInfo(digest=pack.digest, rules=len(pack.rules)),
                      summary=_overall(results), cases=results)


def assess_each(cases: Iterable[LoadedCase], pack: RulePack, as_of: str | None = None) -> Iterator[CaseAssessment]:
    """Assess cases one at a time, in the order given, as ``assess`` assesses each one (for runs
    that write case by case: nothing is kept between cases). ``assess`` sorts by case id
    first; a caller that wants the same order sorts ``cases`` the same way."""
    if as_of is not None and not is_date(as_of):
        raise InputError([Problem(f"as-of date {as_of!r} is not a date (YYYY-MM-DD)")])
    engine = engine_for(pack)
    for case in cases:
        yield assess_case(case, pack, engine, as_of)


class Tally:
    """The run's summary line built case by case: ``Tally().add(c)...text()`` equals the
    ``summary`` of ``assess`` over the same cases; ``not_assessed`` adds the files left out."""

    def __init__(self) -> None:
        self.cases = 0
        self.concern = 0
        self.by_severity = dict.fromkeys(("high", "medium", "low", "info"), 0)

    def add(self, case: CaseAssessment) -> None:
        self.cases += 1
        self.concern += any(c.status == "concern" for c in case.conditions)
        for f in case.flags:
            self.by_severity[f.severity] += 1

    def text(self, not_assessed: int = 0) -> str:
        n, flags = self.cases, sum(self.by_severity.values())
        if not flags:
            count = "no flags"
        else:
            parts = [f"{k} {s}" for s, k in self.by_severity.items() if k]
            count = f"{flags} flag{'s' if flags != 1 else ''} ({', '.join(parts)})"
        out = f"{n} case{'s' if n != 1 else ''}, {count}; {self.concern} with a concern"
        if not_assessed:
            out += f"; {not_assessed} file{'s' if not_assessed != 1 else ''} not assessed"
        return out


def _order(flags: list[Flag]) -> list[Flag]:
    return sorted(flags, key=lambda f: (-SEVERITY_ORDER[f.severity], f.rule, [e.id for e in f.evidence]))


def assess_case(loaded: LoadedCase, pack: RulePack, engine: Engine, as_of: str | None = None) -> CaseAssessment:
    case = loaded.case
    date = as_of or case.as_of
    at = day(date)
    compiled = compile_pack(pack)
    dated = spans(loaded)
    moments = instants([s for *_, s in dated], date)
    found: dict[str, dict[str, list[_Found]]] = {}   # instant -> fingerprint -> what to build the flag from
    snap = None
    for t in moments:
        try:
            snap = _snapshot.run(engine, compiled, flatten(loaded, t), t)
        except EngineError as exc:  # name the case (the engine names the rule and the fact)
            raise EngineError([Problem(f"engine error assessing case '{case.id}' on {t}: {p.message}",
                                       Location(loaded.file)) for p in exc.problems]) from None
        found[t] = {}
        for lr in pack.rules:
            for fired in snap.rules[lr.rule.id].fired:
                fp = _flags.fingerprint(case.id, lr.rule.id, _group_keys(lr, fired, snap.facts))
                group = found[t].setdefault(fp, [])
                if lr.rule.relationship is not None or not group:
                    group.append((lr, fired, snap.facts))
    assert snap is not None and snap.at == at
    runs = {lr.rule.id: (lr, comp, snap.rules[lr.rule.id]) for lr, comp in zip(pack.rules, compiled)}
    written: dict[str, str] = {at: date}   # a day as the case writes it (2021, not 2021-01-01)
    for _, _, _, span in dated:
        for d in (span.start, span.end):
            if d is not None and len(d) > len(written.get(day(d), "")):
                written[day(d)] = d
    current, history = _windows(found, moments, written, loaded)
    outcomes = [_statuses.rule_result(lr, comp, run, snap, loaded, any(f.rule == lr.rule.id for f in current))
                for lr, comp, run in runs.values()]
    conditions = _statuses.conditions(current, outcomes)
    windows = {f"{case.id}/{kind}/{fid}": Window(since=s.start, until=s.end) for kind, fid, _, s in dated}
    items = _statuses.items(loaded, snap, runs, current, windows)
    return CaseAssessment(case=case.id, title=case.title, file=loaded.file, as_of=date, case_as_of=case.as_of,
                          kinds=list(case.kind), summary=_case_summary(case.id, current, conditions, len(history)),
                          conditions=conditions, flags=current, history=history,
                          after_as_of=_after(loaded, dated, at), items=items, rules=outcomes)


_Found = tuple[LoadedRule, _snapshot.Fired, list[Fact]]


def _group_keys(lr: LoadedRule, fired: _snapshot.Fired, facts: list[Fact]) -> list[str]:
    """What identifies a flag: its facts; for a rule with ``relationship``, the partner and
    developer of that deal (one flag per relationship)."""
    alias = lr.rule.relationship
    if alias is not None and alias in fired.alt.aliases:
        deal = facts[fired.combo[fired.alt.aliases.index(alias)]]
        return [f"{deal.case_id}/relationship/{deal.values.get('partner')}~{deal.values.get('developer')}"]
    return [facts[i].key for i in fired.combo]


def _build_group(group: list[_Found], loaded: LoadedCase, fp: str) -> Flag:
    """One flag from the matches of one rule on one relationship: the most severe (then the
    latest deal), with the other deals as related evidence."""
    flags = [_flags.build(lr, fired, facts, loaded) for lr, fired, facts in group]
    if len(flags) == 1:
        return flags[0]
    alias = group[0][0].rule.relationship
    dates = {d.id: day(d.date) for d in loaded.case.deals}

    def deal_of(flag: Flag) -> tuple[str, str]:
        ev = next(e for e in flag.evidence if e.alias == alias)
        return dates.get(ev.id, "0000"), ev.id

    best = max(flags, key=lambda f: (SEVERITY_ORDER[f.severity], deal_of(f)))
    mine = {e.id for e in best.evidence if e.alias == alias}
    related: dict[str, Evidence] = {}
    for f in sorted(flags, key=deal_of):
        for e in f.evidence:
            if e.alias == alias and e.id not in mine and e.id not in related:
                related[e.id] = e
    return best.model_copy(update={"related": list(related.values()), "fingerprint": fp})


def _windows(found: dict[str, dict[str, list[_Found]]], moments: list[str], written: dict[str, str],
             loaded: LoadedCase) -> tuple[list[Flag], list[Flag]]:
    """Current flags (found on the last instant) and history flags (found before, not on it),
    each with the window of its last run of instants (dates as the case writes them). Each
    flag is rendered once, from the last instant of its run."""
    last = moments[-1]
    current, history = [], []
    seen = {fp for t in moments for fp in found[t]}
    for fp in sorted(seen):
        hits = [k for k, t in enumerate(moments) if fp in found[moments[k]]]
        end = hits[-1]
        start = end
        while start > 0 and start - 1 in hits:
            start -= 1
        flag = _build_group(found[moments[end]][fp], loaded, fp)
        if moments[end] == last:
            current.append(flag.model_copy(update={"window": Window(since=written.get(moments[start]))}))
        else:
            window = Window(since=written.get(moments[start]), until=written.get(moments[end + 1]))
            history.append(flag.model_copy(update={"window": window}))
    return _order(current), sorted(_order(history), key=lambda f: day(f.window.since or "0000"))


def _after(loaded: LoadedCase, dated: list[tuple[str, str, Path_, Span]], at: str) -> list[LaterEvent]:
    """What the case records as starting after the assessment date."""
    case = loaded.case
    titles: dict[tuple[str, str], str] = {}
    for lic in case.licences:
        for j, v in enumerate(lic.versions):
            titles[("licence_version", f"{lic.id}@{j + 1}")] = f"{lic.name}: {v.version}"
    titles |= {("model", m.id): m.name for m in case.models}
    titles |= {("deal", d.id): d.title for d in case.deals}
    titles |= {("data_access_change", ch.id): f"{ch.resource} ({ch.stage})" for ch in case.data_access_changes}
    out = []
    for kind, fid, path, span in dated:
        if span.start is not None and day(span.start) > at:
            title = titles.get((kind, fid))
            if title is None:   # a governance grant
                deal = next(d for d in case.deals if d.id == fid.split("#")[0])
                if day(deal.date) == day(span.start):
                    continue    # starts with its deal, which is listed
                grant = deal.governance[int(fid.split("#")[1])]  # type: ignore[index]
                title = f"{deal.title}: {getattr(grant, 'right', grant)} from {span.start}"
                kind = "governance"
            out.append(LaterEvent(item=kind, id=fid, title=title, date=span.start, file=loaded.file,
                                  line=loaded.document.line_of(path)))
    for i, d in enumerate(case.deals):
        for j, step in enumerate(d.regulatory):
            if day(step.date) > at:
                out.append(LaterEvent(item="regulatory", id=f"{d.id}#regulatory{j + 1}",
                                      title=f"{step.authority}: {step.action}", date=step.date, file=loaded.file,
                                      line=loaded.document.line_of(("deals", i, "regulatory", j))))
    return sorted(out, key=lambda e: (day(e.date), e.item, e.id))


def _count(flags: Sequence[Flag]) -> str:
    if not flags:
        return "no flags"
    parts = [f"{n} {s}" for s in ("high", "medium", "low", "info")
             if (n := sum(1 for f in flags if f.severity == s))]
    return f"{len(flags)} flag{'s' if len(flags) != 1 else ''} ({', '.join(parts)})"


def _case_summary(case_id: str, flags: list[Flag], conditions: list[ConditionResult], history: int) -> str:
    groups = []
    for status in ("concern", "watch", "no concern found", "not assessed", "not applicable"):
        names = [c.condition for c in conditions if c.status == status]
        if names:
            groups.append(f"{status}: {', '.join(names)}")
    past = f" (+{history} in history)" if history else ""
    return f"{case_id}: {_count(flags)}{past}; " + "; ".join(groups)


def _overall(results: list[CaseAssessment]) -> str:
    tally = Tally()
    for r in results:
        tally.add(r)
    return tally.text()
