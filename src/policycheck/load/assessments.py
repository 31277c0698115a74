"""Read an assessment the tool wrote (``assess --format json`` or ``--format jsonl``), or a case
file, for ``diff`` and ``--baseline``.

An assessment is read as a stream (``load.records``): each case is parsed and checked against
the schema as it comes, then dropped. What is kept is an index (``StoredAssessment``): for each
case its id, where its bytes are in the file, a digest of its content and its number of flags,
so ``diff`` reads again only the cases whose content differs between the two sides, and memory
holds a few cases whatever the file's size. The first read checks only what the index needs
(``IndexedCase``); a case is checked against the whole schema when ``diff`` reads it to compare
it (a case whose content is the same on both sides is counted, never used, so not checked).
A case file keeps the ``file_bytes`` limit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from policycheck.errors import CaseLoadError, InputError, Location, Problem
from policycheck.io.reader import read_document
from policycheck.io.schema_errors import problems_from
from policycheck.load.cases import LoadedCase, case_from_document
from policycheck.load.records import Record, Stream, located, open_stream, parse, read_record
from policycheck.model.assessment import Assessment, CaseAssessment, FileError, PackInfo

M = TypeVar("M", bound=BaseModel)
MAX_PROBLEMS = 50    # schema problems reported from one file before the rest are summed up


def is_assessment(data: object) -> bool:
    """Whether parsed JSON/YAML data is a policycheck assessment (not a case file)."""
    return isinstance(data, dict) and data.get("tool") == "policycheck" and "cases" in data


@dataclass(frozen=True)
class StoredCase:
    """Where one case of an assessment file is, and what it holds (not the case itself)."""

    id: str
    file: str
    record: Record
    digest: str       # of its content: two cases with the same digest have the same content
    flags: int


@dataclass
class StoredAssessment:
    """An assessment file read once and indexed: its head, and each case by id (the last one of
    an id that appears twice, as a mapping of the cases would keep)."""

    path: str | Path
    name: str
    format: str
    tool: str = "policycheck"
    version: str = ""
    rule_pack: PackInfo = field(default_factory=lambda: PackInfo(digest="", rules=0))
    summary: str = ""
    cases: dict[str, StoredCase] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)            # case ids, in the file's order
    total: int = 0                                            # case records (an id given twice counts twice)

    def ids(self) -> list[str]:
        return list(self.order)

    def file_of(self, case_id: str) -> str:
        return self.cases[case_id].file

    def get(self, case_id: str) -> CaseAssessment:
        """The case ``case_id``, read again from the file and checked as on the first read."""
        stored = self.cases[case_id]
        text = read_record(self.path, self.name, stored.record)
        data = case_data(parse(text, self.name, stored.record.line, stored.record.column))
        if digest(data) != stored.digest:
            raise InputError([Problem("file changed while it was read; read it again",
                                      Location(self.name, stored.record.line, stored.record.column))])
        return validated_case(data, stored.record, self.name, lambda: text)

    def digest(self, case_id: str) -> str:
        return self.cases[case_id].digest

    def flag_count(self, case_id: str) -> int:
        return self.cases[case_id].flags


def digest(data: Any) -> str:
    """A digest of one case's parsed data: equal digests mean equal data, keys in the same order
    (both writers sort them). ``pickle.dumps`` (only ever dumped, never loaded) is a faithful
    encoding of JSON values at half the cost of ``json.dumps``, and unlike ``marshal`` it does
    not depend on who else holds the values; data that differs only in its key order or in how
    its values are shared differs here (the case is then compared in full, never skipped
    wrongly)."""
    return hashlib.blake2b(pickle.dumps(data, protocol=5), digest_size=16).hexdigest()


def case_data(data: Any) -> Any:
    """A case record as ``Assessment.read`` takes it: no ``explain`` block, no JSON Lines ``type``."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k not in ("explain", "type")}
    return data


def validated_case(data: Any, record: Record, name: str, text: Callable[[], str]) -> CaseAssessment:
    """One case record checked against the schema; problems located in the file (``text``: the
    record's text, read again only when it fails)."""
    return validated(CaseAssessment, data, record, name, text)


def validated(model: type[M], data: Any, record: Record, name: str, text: Callable[[], str]) -> M:
    """``data`` (one record) as ``model``; problems located in the file."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(located(exc, record, name, model, text, data)) from None


class _Lean(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class IndexedCase(_Lean):
    """What the index of an assessment needs of a case (the rest is checked when it is read)."""

    case: str
    file: str
    flags: list[Any]


def scan_cases(stream: Stream, on_case: Callable[[Record, M, Any], None], model: type[M]) -> dict[str, Any]:
    """Read every case of an assessment ``stream``, each checked as ``model`` (``CaseAssessment``,
    or a model of the part the caller needs) and handed to ``on_case(record, case, data)``; then
    the head (``tool``, ``rule_pack``, ...), checked. A file that is not an assessment is told so,
    and nothing else about it."""
    problems: list[Problem] = []
    for record in _case_records(stream):
        data = case_data(record.data)
        if len(problems) >= MAX_PROBLEMS:
            continue   # enough said; the rest is read only to know what kind of file it is
        try:
            case = validated(model, data, record, stream.name, record_text(stream, record))
        except InputError as exc:
            problems += exc.problems
            continue
        on_case(record, case, data)
    shell = stream.shell
    if not _looks_like_assessment(stream):
        raise not_ours(stream)
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])
    check_head(stream)
    return shell


def record_text(stream: Stream, record: Record) -> Callable[[], str]:
    """How to read ``record``'s text again (only when an error needs its lines)."""
    return lambda: read_record(stream.path, stream.name, record)


def _case_records(stream: Stream) -> Iterator[Record]:
    for record in stream.records():
        if record.key in ("cases", "case"):
            yield record
        elif stream.format == "jsonl" and record.key != "error":
            raise InputError([Problem(f"unknown JSON Lines record type '{record.key}' (case, error or summary)",
                                      Location(stream.name, record.line, 1, "type"))])


def _looks_like_assessment(stream: Stream) -> bool:
    if stream.format == "jsonl":
        return stream.shell.get("tool") == "policycheck"
    return stream.shell.get("tool") == "policycheck" and "cases" in stream.lists


def not_ours(stream: Stream) -> InputError:
    what = ("a policycheck assessment in JSON Lines (written by --format jsonl) ends with a summary line "
            "with \"tool\": \"policycheck\"" if stream.format == "jsonl"
            else "not a policycheck assessment (written by --format json or --format jsonl)")
    return InputError([Problem(what, Location(stream.name, 1, 1))])


def check_head(stream: Stream) -> None:
    """The assessment's head (everything but its cases) against the schema."""
    shell = stream.shell
    if stream.format == "jsonl":
        head = {k: v for k, v in shell.items() if k in ("tool", "version", "rule_pack", "summary", "review")}
        head["cases"] = []
    else:
        head = {**shell, "cases": []}
    doc = stream.shell_document()
    doc.data = head
    try:
        Assessment.read(head)
    except ValidationError as exc:
        raise InputError(problems_from(exc, doc, Assessment)) from None


def index_assessment(stream: Stream) -> StoredAssessment:
    """Read an assessment file once: its head and an index of its cases (``StoredAssessment``)."""
    out = StoredAssessment(stream.path, stream.name, stream.format)

    def keep(record: Record, case: IndexedCase, data: Any) -> None:
        if case.case in out.cases:
            out.order.remove(case.case)
        where = dataclasses.replace(record, data=None)   # where it is, not what it holds
        out.cases[case.case] = StoredCase(case.case, case.file, where, digest(data), len(case.flags))
        out.order.append(case.case)
        out.total += 1

    shell = scan_cases(stream, keep, IndexedCase)
    out.tool, out.version, out.summary = str(shell["tool"]), str(shell["version"]), str(shell["summary"])
    out.rule_pack = PackInfo.model_validate(shell["rule_pack"])
    return out


def load_assessment_or_case(path: str | Path) -> StoredAssessment | LoadedCase:
    """The assessment held in ``path`` (JSON or JSON Lines, as an index: ``StoredAssessment``), or
    the case file at ``path``, validated. An assessment may be of any size (one case at most
    ``limits.report_bytes``); a case file keeps the ``file_bytes`` limit."""
    name = str(path)
    try:
        stream = open_stream(path, name)
        if stream.format != "other":
            try:
                return index_assessment(stream)
            except InputError as exc:
                if not _maybe_a_case(exc, stream):
                    raise
        doc = read_document(path, display=name)   # a case file (YAML, or JSON): the file_bytes limit
    except InputError as exc:
        raise CaseLoadError(exc.problems) from None
    return case_from_document(doc)


def _maybe_a_case(exc: InputError, stream: Stream) -> bool:
    """Whether a file that failed to read as an assessment may be a case file: it is JSON that
    is not an assessment, or text that is not JSON at all (a YAML flow mapping starts with
    ``{`` too)."""
    if stream.format != "json" or len(exc.problems) != 1:
        return False
    message = exc.problems[0].message
    return message == not_ours(stream).problems[0].message or message.startswith("invalid JSON")


def load_assessment(path: str | Path) -> Assessment:
    """A whole assessment file in memory (for tests and small files; ``diff`` and ``--baseline``
    use the index and never hold every case)."""
    stream = open_stream(path, str(path))
    cases: list[CaseAssessment] = []
    errors: list[FileError] = []
    shell = scan_cases(stream, lambda record, case, data: cases.append(case), CaseAssessment)
    if isinstance(shell.get("errors"), list):
        errors = [FileError.model_validate(e) for e in shell["errors"]]
    head = {k: v for k, v in shell.items() if k in ("tool", "version", "rule_pack", "summary", "review")}
    return Assessment.read({**head, "cases": [], "errors": errors}).model_copy(update={"cases": cases})


__all__ = ["StoredAssessment", "StoredCase", "case_data", "check_head", "digest", "index_assessment", "is_assessment",
           "load_assessment", "load_assessment_or_case", "record_text", "scan_cases", "validated_case"]
