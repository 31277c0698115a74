"""SARIF 2.1.0 for code-scanning tools (GitHub code scanning, Azure DevOps, IDE viewers).

- one reportingDescriptor per rule of the pack: title, rationale, help (mitigation and
  citation), helpUri (the citation's address), severity as ``level`` and as a numeric
  ``security-severity``, conditions and tags;
- one result per flag, located at the case file (a relative URI under ``%SRCROOT%``) and the
  line of the flag's operative term (``Flag.location()``); every fact in the flag and every
  clause it quotes is a related location (a quote's full text, reference and source link are
  in its message and in the result's ``quotes`` property); pending mitigations are in
  ``pending`` and in the message ("high; medium if ...");
- a flag on a term no longer in force on the as-of date (history) is a result of ``kind:
  informational`` and ``level: none`` (SARIF allows no other level for a kind other than
  ``fail``), with ``history: true`` and its ``window``; it is never a failure;
- ``partialFingerprints`` carry the flag fingerprint, so code scanning tracks a flag across runs;
- a waived flag carries ``suppressions`` (external, accepted, with the justification), a flag
  in the baseline ``baselineState: unchanged`` and others ``new`` (only when a baseline is used);
- stale and expired waivers are tool execution notifications.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import quote

from policycheck.model.assessment import Assessment, CaseAssessment, FileError, Flag, Quote
from policycheck.model.rule import CONDITIONS
from policycheck.load.rules import LoadedRule, RulePack
from policycheck.render import parts
from policycheck.render.stream import Head, JsonList, Tail, render_with, splice
from policycheck.render.terminal import encodable

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"high": "8.0", "medium": "5.0", "low": "3.0", "info": "1.0"}
FINGERPRINT_KEY = "policycheck/v1"
SRCROOT = "%SRCROOT%"
_QUOTE_KEYS = ("ref", "text", "title", "url", "location", "date", "kind", "basis", "source", "supports")


def render(result: Assessment, pack: RulePack | None = None, *, root: str | Path | None = None) -> str:
    """SARIF JSON (sorted keys, stable). ``root`` is the folder case paths are made relative to
    (the working directory by default)."""
    return render_with(SarifWriter(root=root), result, pack)


class SarifWriter:
    """SARIF case by case. Results and per-case properties go to spools as cases arrive; the
    notifications and summary (which sort before them) are written at the end. Without a
    rule pack the rule descriptors come from the flags seen, so results are kept until then."""

    def __init__(self, *, root: str | Path | None = None) -> None:
        self.base = Path(root) if root is not None else Path.cwd()

    def begin(self, out: IO[str], head: Head) -> None:
        self.out, self.head = out, head
        self.index = {r.id: i for i, r in enumerate(head.pack.rules)} if head.pack is not None else None
        self.results, self.history, self.cases = JsonList(4), JsonList(4), JsonList(5)
        self.held: list[tuple[str, Flag, bool]] = []      # without a pack: (case, flag, history)
        self.first: dict[str, Flag] = {}                   # without a pack: first flag of each rule
        self.first_history: dict[str, Flag] = {}
        self.expired: dict[tuple[str, int | None], int] = {}

    def problem(self, error: FileError) -> None:
        pass  # tool execution notifications, written at the end

    def case(self, case: CaseAssessment) -> None:
        case = encodable(case)   # a file name that is not UTF-8: its bytes shown as \xNN
        for f in case.flags:
            if f.waiver is not None and f.waiver.expired:
                key = (f.waiver.file, f.waiver.line)
                self.expired[key] = self.expired.get(key, 0) + 1
        if self.index is None:
            for f in case.flags:
                self.first.setdefault(f.rule, f)
            for f in case.history:
                self.first_history.setdefault(f.rule, f)
            self.held += [(case.case, f, False) for f in case.flags] + [(case.case, f, True) for f in case.history]
        else:
            self._write_results(case.case, case.flags, case.history, self.index)
        self.cases.add(_case_properties(case))

    def _write_results(self, case_id: str, flags: list[Flag], history: list[Flag], index: dict[str, int]) -> None:
        for flag in flags:
            self.results.add(_result(case_id, flag, index, self.base, self.head.baseline))
        for flag in history:
            self.history.add(_result(case_id, flag, index, self.base, False, history=True))

    def end(self, tail: Tail) -> None:
        tail = encodable(tail)
        if self.head.pack is not None:
            descriptors = [_descriptor(r) for r in self.head.pack.rules]
        else:
            seen = {**self.first_history, **self.first}
            descriptors = [_descriptor_from_flag(seen[k]) for k in sorted(seen)]
            index = {d["id"]: i for i, d in enumerate(descriptors)}
            for case_id, flag, past in self.held:
                if past:
                    self.history.add(_result(case_id, flag, index, self.base, False, history=True))
                else:
                    self.results.add(_result(case_id, flag, index, self.base, self.head.baseline))
        self.results.append_list(self.history)
        run: dict[str, Any] = {
            "tool": {"driver": {
                "name": "policycheck", "version": self.head.version, "semanticVersion": self.head.version,
                "rules": descriptors,
                "properties": {"rulePack": self.head.rule_pack.digest, "rules": self.head.rule_pack.rules},
            }},
            "originalUriBaseIds": {SRCROOT: {"description": {"text": "The folder policycheck ran in (repository root)."}}},
            "columnKind": "unicodeCodePoints",
            "invocations": [_invocation(tail, self.expired, self.base)],
            "results": "\0results\0",
            "properties": {"summary": tail.summary, "cases": "\0cases\0"},
        }
        body = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
        splice(body, {"\0results\0": self.results, "\0cases\0": self.cases}, self.out)


def _descriptors(result: Assessment, pack: RulePack | None) -> list[dict[str, Any]]:
    if pack is not None:
        return [_descriptor(r) for r in pack.rules]
    # Without the pack, describe the rules from the flags (rules that never fired are left out).
    seen: dict[str, Flag] = {}
    for f in result.flags() + [f for c in result.cases for f in c.history]:
        seen.setdefault(f.rule, f)
    return [_descriptor_from_flag(seen[k]) for k in sorted(seen)]


def _help(mitigation: str, citation: str, url: str | None) -> dict[str, str]:
    text = f"What would lower the concern: {mitigation}\nSource: {citation}" + (f" <{url}>" if url else "")
    cite = f"[{citation}]({url})" if url else citation
    return {"text": text, "markdown": f"**What would lower the concern.** {mitigation}\n\n**Source.** {cite}"}


def _descriptor(lr: LoadedRule) -> dict[str, Any]:
    r = lr.rule
    conditions = [c for c in CONDITIONS if c in r.conditions]
    cite = r.citation.text()
    d: dict[str, Any] = {
        "id": r.id,
        "name": _pascal(r.id),
        "shortDescription": {"text": r.title},
        "fullDescription": {"text": " ".join(r.rationale.split())},
        "help": _help(" ".join(r.mitigation.split()), cite, r.citation.url),
        "defaultConfiguration": {"level": LEVEL[r.severity]},
        "properties": {
            "conditions": conditions, "severity": r.severity, "security-severity": SECURITY_SEVERITY[r.severity],
            "family": lr.family, "citation": cite,
            "tags": sorted({"policycheck", "competition", lr.family, *conditions, *r.tags}),
        },
    }
    if r.citation.url:
        d["helpUri"] = r.citation.url
    return d


def _descriptor_from_flag(f: Flag) -> dict[str, Any]:
    cite = f"{f.citation.source} {f.citation.section}"
    d: dict[str, Any] = {
        "id": f.rule, "name": _pascal(f.rule), "shortDescription": {"text": f.title},
        "fullDescription": {"text": f.rationale}, "help": _help(f.mitigation, cite, f.citation.url),
        "defaultConfiguration": {"level": LEVEL[f.base_severity]},
        "properties": {"conditions": list(f.conditions), "severity": f.base_severity,
                       "security-severity": SECURITY_SEVERITY[f.base_severity], "family": f.family, "citation": cite,
                       "tags": sorted({"policycheck", "competition", f.family, *f.conditions})},
    }
    if f.citation.url:
        d["helpUri"] = f.citation.url
    return d


def _pascal(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in rule_id.replace("_", "-").split("-") if part)


def artifact(file: str, base: Path) -> dict[str, Any]:
    """An artifactLocation: a relative URI under %SRCROOT% when the file is under ``base``, else a file: URI."""
    p = Path(file)
    if p.is_absolute():
        try:
            p = p.relative_to(base.resolve())
        except ValueError:
            return {"uri": p.as_uri()}
    rel = posixpath.normpath(PurePosixPath(*p.parts).as_posix()) if p.parts else file
    if rel.startswith("../") or rel == "..":
        return {"uri": (base / p).resolve().as_uri()}
    return {"uri": quote(rel, safe="/-._~"), "uriBaseId": SRCROOT}


def _location(file: str, line: int | None, base: Path, message: str | None = None, ident: int | None = None
              ) -> dict[str, Any]:
    loc: dict[str, Any] = {"physicalLocation": {"artifactLocation": artifact(file, base)}}
    if line:
        loc["physicalLocation"]["region"] = {"startLine": line}
    if message:
        loc["message"] = {"text": message}
    if ident is not None:
        loc["id"] = ident
    return loc


def _case_properties(c: CaseAssessment) -> dict[str, Any]:
    return {"case": c.case, "file": c.file, "summary": c.summary, "as_of": c.as_of, "case_as_of": c.case_as_of,
            "conditions": {k.condition: k.status for k in c.conditions}, "history": len(c.history),
            "after_as_of": [e.model_dump(mode="json") for e in c.after_as_of],
            "items": [{"item": i.item, "id": i.id, "in_force": i.in_force, "window": i.window.model_dump(mode="json"),
                       "conditions": {k.condition: k.status for k in i.conditions}} for i in c.items]}


def _quote_text(q: Quote) -> str:
    url = f" <{q.url}>" if q.url else ""
    return f"Quoted clause {q.ref}: \u201c{' '.join(q.text.split())}\u201d ({parts.source(q)}{url})"


def _result(case_id: str, flag: Flag, index: dict[str, int], base: Path, baseline_used: bool,
            history: bool = False) -> dict[str, Any]:
    file, line = flag.location()
    cite = f"{flag.citation.source} {flag.citation.section}"
    text = f"{flag.message} ({', '.join(flag.conditions)}; {cite})"
    if parts.lowers(flag):
        text += f" Severity: {parts.severity(flag)}."
    if history:
        text = f"History, not counted (term {flag.window.text()}): {text}"
    res: dict[str, Any] = {
        "ruleId": flag.rule,
        "level": "none" if history else LEVEL[flag.severity],
        "kind": "informational" if history else "fail",
        "message": {"text": text},
        "locations": [_location(file or "", line, base)] if file else [],
        "partialFingerprints": {FINGERPRINT_KEY: flag.fingerprint},
        "properties": {
            "case": case_id, "severity": flag.severity, "baseSeverity": flag.base_severity,
            "security-severity": SECURITY_SEVERITY[flag.severity], "conditions": list(flag.conditions),
            "citation": cite, "facts": [f"{e.fact} {e.id}" for e in flag.evidence],
            "mitigations": [m.description for m in flag.mitigations],
            "escalations": [m.description for m in flag.escalations],
            "related": [f"{e.fact} {e.id}" for e in flag.related],
            "window": flag.window.model_dump(mode="json"),
        },
    }
    if history:  # informational: no security-severity, so no tool ranks it as an alert
        res["properties"]["history"] = True
        del res["properties"]["security-severity"]
    if flag.operative is not None:
        res["properties"]["operative"] = {"fact": flag.operative.fact, "id": flag.operative.id,
                                          "field": flag.operative.field, "path": flag.operative.path}
    if flag.pending:
        res["properties"]["severityText"] = parts.severity(flag)
        res["properties"]["pending"] = [
            {"id": p.id, "description": p.description, "severity": p.severity, "raises": p.raises,
             "missing": [m.case_path or f"{m.fact} {m.id}.{m.field}" for m in p.missing]} for p in flag.pending]
    if flag.quotes:
        res["properties"]["quotes"] = [
            {k: v for k, v in q.model_dump(mode="json").items() if k in _QUOTE_KEYS and v is not None}
            for q in flag.quotes]
    if flag.rule in index:
        res["ruleIndex"] = index[flag.rule]
    related = [_location(e.file, e.line, base, f"{e.fact} {e.id} ({e.path})", i)
               for i, e in enumerate(flag.evidence)]
    related += [_location(q.file, q.line, base, _quote_text(q), len(flag.evidence) + i)
                for i, q in enumerate(flag.quotes)]
    if related:
        res["relatedLocations"] = related
    w = flag.waiver
    if w is not None:
        res["properties"]["waiver"] = {"file": w.file, "line": w.line, "reason": w.reason, "approver": w.approver,
                                       "expires": w.expires, "expired": w.expired}
    if flag.waived and w is not None:
        sup: dict[str, Any] = {
            "kind": "external", "status": "accepted",
            "justification": f"{w.reason} (approved by {w.approver}; expires {w.expires})",
            "properties": {"approver": w.approver, "expires": w.expires},
        }
        sup["location"] = _location(w.file, w.line, base)
        res["suppressions"] = [sup]
    if baseline_used:
        res["baselineState"] = "unchanged" if flag.baseline else "new"
    return res


def _invocation(tail: Tail, expired: dict[tuple[str, int | None], int], base: Path) -> dict[str, Any]:
    notes: list[dict[str, Any]] = []
    for error in tail.errors:
        for p in error.problems:
            loc = _location(error.file, p.line, base)
            if p.line and p.column:
                loc["physicalLocation"]["region"]["startColumn"] = p.column
            notes.append({"level": "error", "message": {"text": f"not assessed: {p.text}"}, "locations": [loc],
                          "properties": {"file": error.file, **({"path": p.path} if p.path else {})}})
    r = tail.review
    if r is not None:
        for (file, line), n in sorted(expired.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            notes.append({"level": "warning", "message": {"text": f"waiver expired; {n} flag(s) re-raised"},
                          "locations": [_location(file, line, base)]})
        for s in r.stale_waivers:
            notes.append({"level": "warning",
                          "message": {"text": f"stale waiver: rule '{s.rule}' on case '{s.case}' matches no flag"},
                          "locations": [_location(s.file, s.line, base)]})
    inv: dict[str, Any] = {"executionSuccessful": not tail.errors}
    if notes:
        inv["toolExecutionNotifications"] = notes
    return inv
