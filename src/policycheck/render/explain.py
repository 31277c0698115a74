"""``assess --explain``: why each flag fired and what the assessment could not decide.

Per flag: the operative term, every pattern that matched (alias, fact type, id) with each fact
field read (file:line, value, status), the mitigations applied and those pending with the
facts they wait for. Per condition: the rules checked and their status. Per rule not assessed:
the case-file paths to fill in. Flags on terms no longer in force (history) are explained too,
with their window.

Two views of the same content, both pure functions of the assessment: text for the table
format (100 columns) and a JSON-ready dict, added to each case under ``"explain"`` by
``render_json``.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from policycheck.model.assessment import (
    Assessment, CaseAssessment, ConditionResult, Evidence, EvidenceField, Flag, MissingFact, PendingMitigation, Where,
)
from policycheck.render import parts

WIDTH = 100


# --------------------------------------------------------------------------- text


def case_text(case: CaseAssessment) -> str:
    """The explanation of one case, as plain text wrapped to 100 columns."""
    out: list[str] = [_fill(0, f"Explain {case.case} ({parts.as_of(case)})")]
    if case.flags:
        out.append("")
        out.append("Flags")
        for i, flag in enumerate(case.flags, 1):
            out += _flag_text(i, flag)
    if case.history:
        out += ["", _fill(0, f"History ({parts.HISTORY_NOTE})")]
        for i, flag in enumerate(case.history, 1):
            out += _flag_text(i, flag)
    out += ["", "Conditions"]
    for cond in case.conditions:
        out += _condition_text(cond, case)
    gaps = [r for r in case.rules if r.status == "not assessed"]
    if gaps:
        out += ["", "Not assessed: case-file paths to fill in"]
        for r in gaps:
            out.append(_fill(2, f"{r.rule}:"))
            if not r.missing:
                out.append(_fill(4, "(no missing field recorded)"))
            out += [_fill(4, _missing_text(m)) for m in r.missing]
    return "\n".join(out)


def _fill(indent: int, text: str) -> str:
    pad = " " * indent
    return textwrap.fill(text, WIDTH, initial_indent=pad, subsequent_indent=pad + "  ", break_on_hyphens=False,
                         break_long_words=False)


def _at(file: str | None, line: int | None) -> str:
    return f"{file}:{line}" if line else (file or "?")


def _flag_text(i: int, flag: Flag) -> list[str]:
    head = f"{i}. {flag.rule} ({', '.join(flag.conditions)}): {parts.severity(flag)}"
    if flag.window.since or flag.window.until:
        head += f"; term {flag.window.text()}"
    out = [_fill(2, head)]
    if flag.operative is not None:
        out.append(_fill(5, "Operative term: " + _where_text(flag.operative, flag.evidence)))
    else:
        file, line = flag.location()
        out.append(_fill(5, f"Operative term: not named; located at {_at(file, line)}"))
    for ev in flag.evidence:
        out += _evidence_text(ev, 5)
    for ev in flag.related:
        out.append(_fill(5, f"Same relationship: {ev.fact} {ev.id} at {_at(ev.file, ev.line)} ({ev.path})"))
    for m in flag.escalations:
        out.append(_fill(5, f"Escalation applied: {m.id} ({flag.base_severity} -> {m.severity}): {m.description}"))
        for ev in m.evidence:
            out += _evidence_text(ev, 7)
    for m in flag.mitigations:
        out.append(_fill(5, f"Mitigation applied: {m.id} ({flag.base_severity} -> {m.severity}): {m.description}"))
        for ev in m.evidence:
            out += _evidence_text(ev, 7)
    for p in flag.pending:
        out += _pending_text(p)
    if not flag.mitigations and not flag.pending and not flag.escalations:
        out.append(_fill(5, "Mitigations: none applied, none pending"))
    return out


def _operative_field(where: Where, evidence: list[Evidence]) -> EvidenceField | None:
    for ev in evidence:
        if ev.alias == where.alias and ev.id == where.id:
            for f in ev.fields:
                if f.field == where.field:
                    return f
    return None


def _where_text(where: Where, evidence: list[Evidence]) -> str:
    f = _operative_field(where, evidence)
    value = f" = {_value(f.value)} ({f.status})" if f is not None else ""
    return f"{where.alias}.{where.field}{value} at {_at(where.file, where.line)} ({where.path})"


def _evidence_text(ev: Evidence, indent: int) -> list[str]:
    out = [_fill(indent, f"Pattern {ev.alias}: {ev.fact} {ev.id} at {_at(ev.file, ev.line)} ({ev.path})")]
    for f in ev.fields:
        where = [f"line {f.line}"] if f.line else []
        if f.status == "known":
            text = f"{f.field} = {_value(f.value)} ({', '.join(['known', *where, f.path])})"
        else:
            text = f"{f.field}: {f.status} ({', '.join([*where, f.path])})"
        out.append(_fill(indent + 2, text))
    return out


def _pending_text(p: PendingMitigation) -> list[str]:
    kind = "Escalation" if p.raises else "Mitigation"
    out = [_fill(5, f"{kind} pending: {p.id} (would be {p.severity}): {p.description}")]
    out += [_fill(7, "needs " + _missing_text(m)) for m in p.missing]
    return out


def _missing_text(m: MissingFact) -> str:
    path = m.case_path or f"{m.fact} {m.id}.{m.field}"
    tail = "" if m.in_force else "; a term no longer in force"
    return f"{path} ({m.status}{tail}) at {_at(m.file, m.line)}"


def _condition_text(cond: ConditionResult, case: CaseAssessment) -> list[str]:
    status = {r.rule: r.status for r in case.rules}
    detail = f" ({cond.flags} flag{'s' if cond.flags != 1 else ''}, highest {cond.highest})" if cond.flags else ""
    if not cond.checked:
        why = "no rule of this condition applies to anything in the case" if cond.status == "not applicable" \
            else "no rule checked"
        return [_fill(2, f"{cond.condition} {cond.name}: {cond.status}{detail}; {why}")]
    checked = "; ".join(f"{r} {status.get(r, 'not run')}" for r in cond.checked)
    n = len(cond.checked)
    return [_fill(2, f"{cond.condition} {cond.name}: {cond.status}{detail}; {n} rule{'s' if n != 1 else ''} "
                     f"checked: {checked}")]


def _value(value: object) -> str:
    from policycheck.evaluate import display

    return display(value)


# --------------------------------------------------------------------------- JSON


def case_dict(case: CaseAssessment) -> dict[str, Any]:
    """The explanation of one case as JSON-ready data (the ``"explain"`` key of ``--explain
    --format json``)."""
    status = {r.rule: r.status for r in case.rules}
    return {
        "as_of": case.as_of,
        "case_as_of": case.case_as_of,
        "flags": [_flag_dict(f, history=False) for f in case.flags],
        "history": [_flag_dict(f, history=True) for f in case.history],
        "conditions": [{"condition": c.condition, "name": c.name, "status": c.status,
                        "rules": [{"rule": r, "status": status.get(r, "not run")} for r in c.checked]}
                       for c in case.conditions],
        "not_assessed": [{"rule": r.rule, "fill_in": [_missing_dict(m) for m in r.missing]}
                         for r in case.rules if r.status == "not assessed"],
    }


def _flag_dict(flag: Flag, *, history: bool) -> dict[str, Any]:
    file, line = flag.location()
    return {
        "rule": flag.rule,
        "fingerprint": flag.fingerprint,
        "history": history,
        "window": flag.window.model_dump(mode="json"),
        "severity": flag.severity,
        "base_severity": flag.base_severity,
        "severity_text": parts.severity(flag),
        "location": {"file": file, "line": line},
        "operative": _operative_dict(flag),
        "patterns": [_evidence_dict(ev) for ev in flag.evidence],
        "mitigations": {
            "applied": [{"id": m.id, "description": m.description, "severity": m.severity,
                         "patterns": [_evidence_dict(ev) for ev in m.evidence]} for m in flag.mitigations],
            "pending": [{"id": p.id, "description": p.description, "severity": p.severity,
                         "missing": [_missing_dict(m) for m in p.missing]} for p in flag.pending if not p.raises],
        },
        "escalations": {
            "applied": [{"id": m.id, "description": m.description, "severity": m.severity,
                         "patterns": [_evidence_dict(ev) for ev in m.evidence]} for m in flag.escalations],
            "pending": [{"id": p.id, "description": p.description, "severity": p.severity,
                         "missing": [_missing_dict(m) for m in p.missing]} for p in flag.pending if p.raises],
        },
        "related": [_evidence_dict(ev) for ev in flag.related],
    }


def _operative_dict(flag: Flag) -> dict[str, Any] | None:
    if flag.operative is None:
        return None
    data = flag.operative.model_dump(mode="json")
    f = _operative_field(flag.operative, flag.evidence)
    data["value"] = f.model_dump(mode="json")["value"] if f is not None else None
    data["status"] = f.status if f is not None else None
    return data


def _evidence_dict(ev: Evidence) -> dict[str, Any]:
    return {"alias": ev.alias, "fact": ev.fact, "id": ev.id, "file": ev.file, "line": ev.line, "path": ev.path,
            "fields": [dict(f.model_dump(mode="json"), file=ev.file) for f in ev.fields]}


def _missing_dict(m: MissingFact) -> dict[str, Any]:
    return {"case_path": m.case_path, "file": m.file, "line": m.line, "fact": m.fact, "id": m.id, "field": m.field,
            "status": m.status, "in_force": m.in_force}


def render_json(result: Assessment) -> str:
    """The assessment JSON with each case's explanation under ``"explain"`` (sorted keys, stable).

    Not an ``Assessment`` any more: readers that validate an assessment (``--baseline``,
    ``diff``) want the plain ``--format json`` output.
    """
    data = result.model_dump(mode="json")
    for out, case in zip(data["cases"], result.cases):
        out["explain"] = case_dict(case)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
