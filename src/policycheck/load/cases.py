"""Load case files: parse, validate against the Case schema, then check cross-references."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policycheck import limits
from policycheck.model.case import SCHEMA_VERSION, AccessTerms, Case, Deal, Terms
from policycheck.model.vocabulary import case_paths_by_field
from policycheck.errors import CaseLoadError, InputError, Problem, suggest
from policycheck.io import confine
from policycheck.io.schema_words import show
from policycheck.io.schema_errors import problems_from
from policycheck.io.reader import Document, Path_, parse_document, read_document

CASE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class LoadedCase:
    """A validated case and the document it came from (for file:line evidence)."""

    case: Case
    document: Document

    @property
    def file(self) -> str:
        return self.document.file


def load_case(path: str | Path) -> LoadedCase:
    """Load and validate one case file. Raises CaseLoadError listing every problem.

    The file is read safely (``io.reader.read_bytes``): only a regular file, within the size
    limit, not through a symbolic link that leaves the allowed roots; a ``RefusedPath`` from a
    folder walk raises the walk's reason."""
    try:
        doc = read_document(path)
    except InputError as exc:  # unreadable file or invalid YAML
        raise CaseLoadError(exc.problems) from None
    return case_from_document(doc)


def load_case_text(text: str, name: str = "<string>") -> LoadedCase:
    """Load a case held in memory (YAML or JSON text)."""
    try:
        doc = parse_document(text, name)
    except InputError as exc:
        raise CaseLoadError(exc.problems) from None
    return case_from_document(doc)


def case_from_document(doc: Document) -> LoadedCase:
    data = doc.data
    if not isinstance(data, dict):
        raise CaseLoadError([Problem("a case file must be a mapping at the top level", doc.location(()))])
    version = data.get("schema_version")
    if version == 1:
        raise CaseLoadError([Problem(
            f"case format v1; this policycheck reads version {SCHEMA_VERSION}: run 'policycheck migrate "
            f"{doc.file}' to rewrite it (comments are kept) and review the notes it prints",
            doc.location(("schema_version",)))])
    if version is not None and version != SCHEMA_VERSION:
        raise CaseLoadError([Problem(
            f"unsupported schema_version {show(version)}; this policycheck reads version {SCHEMA_VERSION}",
            doc.location(("schema_version",)))])
    too_big = size_problems(doc)
    if too_big:
        raise CaseLoadError(too_big)
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        raise CaseLoadError(problems_from(exc, doc, Case, aliases=case_paths_by_field())) from None
    problems = list(_reference_problems(case, doc))
    if problems:
        raise CaseLoadError(problems)
    problems = work_problems(case, doc)
    if problems:
        raise CaseLoadError(problems)
    return LoadedCase(case, doc)


# Top-level lists bounded by their own limits (and, all together, by ``facts``).
_OWN_LIMIT = {("parties",): "parties", ("deals",): "deals", ("licences",): None, ("models",): None,
              ("data_access_changes",): None}


def size_problems(doc: Document) -> list[Problem]:
    """The case's lists against the limits (``limits.current()``): parties, deals, versions per
    licence, facts in all, and every other list; checked before the schema, so that a huge
    case costs no more than reading it."""
    lim = limits.current()
    data = doc.data
    out: list[Problem] = []

    def count(key: str) -> int:
        value = data.get(key)
        return len(value) if isinstance(value, list) else 0

    for key, name in (("parties", "parties"), ("deals", "deals")):
        n = count(key)
        if n > getattr(lim, name):
            out.append(Problem(f"{n:,} {key}; {limits.hint(name)}", doc.location((key,))))
    versions = 0
    licences = data.get("licences")
    for i, lic in enumerate(licences if isinstance(licences, list) else ()):
        vs = lic.get("versions") if isinstance(lic, dict) else None
        if isinstance(vs, list):
            versions += len(vs)
            if len(vs) > lim.versions:
                out.append(Problem(f"{len(vs):,} versions of one licence; {limits.hint('versions')}",
                                   doc.location(("licences", i, "versions"))))
    facts = 1 + count("parties") + count("models") + versions + count("deals") + count("data_access_changes")
    if facts > lim.facts:
        out.append(Problem(f"{facts:,} facts in one case (parties, models, licence versions, deals and data-access "
                           f"changes); {limits.hint('facts')}", doc.location(())))
    stack: list[tuple[Path_, Any]] = [((), data)]
    while stack:  # every other list, depth first (iterative: no recursion on hostile nesting)
        path, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((path + (k,), v) for k, v in node.items())
        elif isinstance(node, list):
            own = path in _OWN_LIMIT or (len(path) == 3 and path[0] == "licences" and path[2] == "versions")
            if not own and len(node) > lim.list_items:
                out.append(Problem(f"a list of {len(node):,} items; {limits.hint('list_items')}", doc.location(path)))
                continue
            stack.extend((path + (i,), v) for i, v in enumerate(node))
    return sorted(out, key=lambda p: (p.location.line or 0, p.location.column or 0))


def work_problems(case: Case, doc: Document) -> list[Problem]:
    """The engine's work for the case against the limits: the dates it is evaluated on and the
    facts evaluated over all of them (``facts.timeline.workload``, for any assessment date)."""
    from policycheck.facts.timeline import workload  # facts imports this module

    lim = limits.current()
    _, dates, evaluations = workload(case)
    out = []
    if dates > lim.dates:
        out.append(Problem(f"{dates:,} dates on which something starts or ends; each is evaluated separately; "
                           f"{limits.hint('dates')}", doc.location(())))
    if evaluations > lim.evaluations:
        out.append(Problem(f"{evaluations:,} fact evaluations over the case's dates (the facts present on each date, "
                           f"added up); {limits.hint('evaluations')}", doc.location(())))
    return out


def load_cases(paths: Iterable[str | Path]) -> list[LoadedCase]:
    """Load every case file named or found under a folder in ``paths`` (a file named twice is
    loaded once). Raises CaseLoadError listing every problem of every file, and a case id used
    by two files (a baseline or waiver names a case by its id, so a copy would hide behind it)."""
    loaded: list[LoadedCase] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for f in iter_case_files(paths):
        key = confine.real(f)  # never raises (a link loop is refused when it is read)
        if key in seen and not isinstance(f, confine.RefusedPath):
            continue
        seen.add(key)
        try:
            loaded.append(load_case(f))
        except CaseLoadError as exc:
            problems.extend(exc.problems)
    problems.extend(_duplicate_case_ids(loaded))
    if problems:
        raise CaseLoadError(problems)
    return loaded


def _duplicate_case_ids(cases: list[LoadedCase]) -> Iterator[Problem]:
    first: dict[str, LoadedCase] = {}
    for lc in cases:
        earlier = first.setdefault(lc.case.id, lc)
        if earlier is not lc:
            there = earlier.document.location(("id",))
            yield Problem(f"duplicate case id '{lc.case.id}' (also the id of {there.prefix()}); "
                          "every case file needs its own id", lc.document.location(("id",)))


def iter_case_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named on the command line, and case files found (sorted) under folders.

    A folder is walked safely (``io.confine.walk``): entries it cannot use (FIFOs, devices,
    sockets, dangling links, link loops, links leading outside the allowed roots, folders
    named ``x.yaml``, folders it cannot read) come out as ``confine.RefusedPath`` items in
    their place, which ``load_case`` refuses with their reason. A folder reached through a
    symbolic link that leaves the allowed roots is one refused item."""
    for raw in paths:
        entries, _ = _scan(raw if isinstance(raw, Path) else Path(raw))
        yield from entries


def scan_case_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Problem]]:
    """The case files to read under ``paths`` (as ``iter_case_files``, without refused
    entries) and, separately, every entry refused, with its reason (for a "keep going" run
    that reports them and goes on)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        entries, refused = _scan(raw if isinstance(raw, Path) else Path(raw))
        files += [e for e in entries if not isinstance(e, confine.RefusedPath)]
        problems += refused
    return files, problems


def _scan(p: Path) -> tuple[list[Path], list[Problem]]:
    if isinstance(p, confine.RefusedPath):
        return [p], [p.problem]
    why = confine.named_problem(p, what="folder" if p.is_dir() else "file")
    if why is not None:
        refused = confine.RefusedPath.of(p, why)
        return [refused], [refused.problem]
    if p.is_dir():
        if confine.is_filesystem_root(p):
            refused = confine.RefusedPath.of(p, "refusing to walk the filesystem root; name the folder that holds "
                                                "the case files")
            return [refused], [refused.problem]
        found = confine.walk(p, CASE_SUFFIXES)
        return found.entries(), found.problems
    broken = confine.describe(p)
    if broken is not None:
        refused = confine.RefusedPath.of(p, broken)
        return [refused], [refused.problem]
    return [p], []


def _reference_problems(case: Case, doc: Document) -> Iterator[Problem]:
    """Ids must be unique and every reference must point at something declared in the case."""
    source_ids = _unique(doc, [(("sources", i, "id"), s.id) for i, s in enumerate(case.sources)], "source")
    party_ids = _unique(doc, [(("parties", i, "id"), p.id) for i, p in enumerate(case.parties)], "party")
    model_ids = _unique(doc, [(("models", i, "id"), m.id) for i, m in enumerate(case.models)], "model")
    yield from source_ids[1]
    yield from party_ids[1]
    yield from model_ids[1]
    yield from _unique(doc, [(("licences", i, "id"), x.id) for i, x in enumerate(case.licences)], "licence")[1]
    yield from _unique(doc, [(("deals", i, "id"), x.id) for i, x in enumerate(case.deals)], "deal")[1]
    yield from _unique(doc, [(("data_access_changes", i, "id"), x.id)
                             for i, x in enumerate(case.data_access_changes)], "data access change")[1]
    sources, parties, models = source_ids[0], party_ids[0], model_ids[0]

    def ref(path: Path_, value: str, known: set[str], what: str) -> Iterator[Problem]:
        if value not in known:
            yield Problem(f"unknown {what} '{value}'", doc.location(path), suggest(value, known))

    for path, value in _source_refs(doc.data):
        yield from ref(path, value, sources, "source")
    for i, m in enumerate(case.models):
        yield from ref(("models", i, "developer"), m.developer, parties, "party")
    for i, lic in enumerate(case.licences):
        yield from ref(("licences", i, "licensor"), lic.licensor, parties, "party")
        if lic.licensee is not None:
            yield from ref(("licences", i, "licensee"), lic.licensee, parties, "party")
        for j, mid in enumerate(lic.models if isinstance(lic.models, list) else ()):
            yield from ref(("licences", i, "models", j), mid, models, "model")
        dates = [v.date for v in lic.versions]
        for j in range(1, len(dates)):
            if dates[j] < dates[j - 1]:
                yield Problem("licence versions must be listed oldest first",
                              doc.location(("licences", i, "versions", j, "date")))
        for j, v in enumerate(lic.versions):
            yield from _until(doc, ("licences", i, "versions", j), v.date, v.until)
            for k, clause in enumerate(v.clauses):
                yield from _supports(doc, ("licences", i, "versions", j, "clauses", k), clause.supports, _TERM_NAMES)
    licences = {lic.id: lic for lic in case.licences}
    for i, m in enumerate(case.models):
        ru = m.released_under
        if ru is None:
            continue
        found = licences.get(ru.licence)
        if found is None:
            yield from ref(("models", i, "released_under", "licence"), ru.licence, set(licences), "licence")
        elif ru.version not in {v.version for v in found.versions}:
            names = [v.version for v in found.versions]
            yield Problem(f"licence '{found.id}' has no version '{ru.version}'",
                          doc.location(("models", i, "released_under", "version")), suggest(ru.version, names))
    deal_dates = {d.id: d.date for d in case.deals}
    for i, deal in enumerate(case.deals):
        yield from ref(("deals", i, "partner"), deal.partner, parties, "party")
        yield from ref(("deals", i, "developer"), deal.developer, parties, "party")
        yield from _until(doc, ("deals", i), deal.date, deal.until)
        for j, sid in enumerate(deal.supersedes or ()):
            here = ("deals", i, "supersedes", j)
            if sid == deal.id:
                yield Problem("a deal cannot supersede itself", doc.location(here))
            elif sid not in deal_dates:
                yield from ref(here, sid, set(deal_dates), "deal")
            elif _day(deal_dates[sid]) > _day(deal.date):
                yield Problem(f"deal '{sid}' is dated after this one; only an earlier deal can be superseded",
                              doc.location(here))
        for j, grant in enumerate(deal.governance if isinstance(deal.governance, list) else ()):
            if not isinstance(grant, str):
                yield from _until(doc, ("deals", i, "governance", j), grant.since or deal.date, grant.until)
        for k, clause in enumerate(deal.clauses):
            yield from _supports(doc, ("deals", i, "clauses", k), clause.supports, _DEAL_NAMES)
    for i, ch in enumerate(case.data_access_changes):
        yield from ref(("data_access_changes", i, "holder"), ch.holder, parties, "party")
        for side in ("before", "after"):
            lic = getattr(ch, side).exclusive_licensee
            if lic not in (None, "none", "unknown"):
                yield from ref(("data_access_changes", i, side, "exclusive_licensee"), lic, parties, "party")
        for k, clause in enumerate(ch.clauses):
            yield from _supports(doc, ("data_access_changes", i, "clauses", k), clause.supports, _CHANGE_NAMES)


_TERM_NAMES = tuple(Terms.model_fields)
_DEAL_NAMES = tuple(n for n in Deal.model_fields if n not in ("id", "title", "clauses", "sources", "regulatory"))
_CHANGE_NAMES = tuple(AccessTerms.model_fields) + tuple(f"{side}.{n}" for side in ("before", "after")
                                                          for n in AccessTerms.model_fields)


def _day(date: str) -> str:
    """A partial date at the start of its period, for ordering: 2023 -> 2023-01-01."""
    return (date + "-01-01")[:10] if len(date) == 4 else (date + "-01")[:10] if len(date) == 7 else date


def _until(doc: Document, path: Path_, start: str, until: str | None) -> Iterator[Problem]:
    if until is not None and _day(until) <= _day(start):
        yield Problem(f"'until' ({until}) must be after the start date ({start})", doc.location(path + ("until",)))


def _supports(doc: Document, path: Path_, names: list[str] | None, allowed: tuple[str, ...]) -> Iterator[Problem]:
    for j, name in enumerate(names or ()):
        if name not in allowed:
            yield Problem(f"a clause here cannot support '{name}': not a term of this item",
                          doc.location(path + ("supports", j)), suggest(name, allowed))


def _unique(doc: Document, items: list[tuple[Path_, str]], what: str) -> tuple[set[str], list[Problem]]:
    seen: set[str] = set()
    problems = []
    for path, value in items:
        if value in seen:
            problems.append(Problem(f"duplicate {what} id '{value}'", doc.location(path)))
        seen.add(value)
    return seen, problems


def _source_refs(data: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str]]:
    """Every place that names a source: ``sources: [ids]`` lists and clauses' ``source``."""
    if isinstance(data, dict):
        for key, value in data.items():
            here = path + (key,)
            if key == "sources" and path != () and isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, str):
                        yield here + (i,), item
            elif key == "source" and isinstance(value, str):
                yield here, value
            else:
                yield from _source_refs(value, here)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _source_refs(value, path + (i,))
