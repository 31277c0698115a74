"""The rule catalogue: `policycheck rules` as a table, JSON or Markdown (docs/rules.md).

The Markdown catalogue takes chapter 3 of the report section by section: for each section, the
mechanisms it describes with the rules that encode them or the reason none does, then the
rules whose citation names the section. The mechanisms live in a hand-written coverage file
(docs/coverage.yaml; shape documented at its top), loaded here.

Sections. A citation's ``section`` is a list of report sections separated by ``;`` (or
``,``), each written ``§3.x``, ``§3.x.y`` or with a lettered point, ``§3.3.1(c)``. A rule is
listed under every section its citation names: ``§3.3.1(c); §3.8`` puts it under §3.3.1
(with the point shown) and under §3.8. Only citations whose source is the coverage file's
``report`` are report sections; a rule citing another source (CMA2, a CMA decision) is listed
under "Rules outside chapter 3", by source.

Matching (``policycheck rules --section S``): a cited section matches S when S's numbers and
points are a prefix of the cited ones, compared part by part: 3.3 matches 3.3.1 and
3.3.1(c); 3.3.1 matches 3.3.1(c) but not 3.3.10.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policycheck.errors import InputError, Location, Problem, suggest
from policycheck.io.reader import Document, Path_, read_document
from policycheck.io.schema_errors import validate_document
from policycheck.load.rules import LoadedRule, RulePack
from policycheck.model.rule import CONDITIONS

DEFAULT_REPORT = "CMA FM Initial Report"
CHECKOUT_COVERAGE = Path(__file__).resolve().parents[3] / "docs" / "coverage.yaml"

# One cited section: "§3.3.1(c)", "§3.2.1(a)(ii)".
SECTION = re.compile(r"§\s?(?P<numbers>\d+(?:\.\d+)*)(?P<items>(?:\([a-z]+\))*)")
_STRICT_PART = re.compile(r"§\d+(?:\.\d+)*(?:\([a-z]\))?(?:\((?:i|ii|iii|iv|v|vi|vii|viii|ix|x)\))?")
_QUERY = re.compile(r"§?\s*(?P<numbers>\d+(?:\.\d+)*)(?P<items>(?:\([a-z]+\))*)")
_ITEM = re.compile(r"\(([a-z]+)\)")


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True, order=True)
class SectionRef:
    """A report section as numbers and lettered points: §3.3.1(c) is ((3, 3, 1), ("c",))."""

    numbers: tuple[int, ...]
    items: tuple[str, ...] = ()

    @property
    def parts(self) -> tuple[int | str, ...]:
        return (*self.numbers, *self.items)

    def text(self) -> str:
        return "§" + ".".join(map(str, self.numbers)) + "".join(f"({i})" for i in self.items)

    def section(self) -> SectionRef:
        """The numbered section, without its points."""
        return SectionRef(self.numbers)

    def within(self, query: SectionRef) -> bool:
        """True when this section is ``query`` or lies inside it (part by part)."""
        mine, theirs = self.parts, query.parts
        return mine[:len(theirs)] == theirs


def parse_section(text: str) -> SectionRef | None:
    """``"§3.3.1(c)"`` (or ``"3.3.1(c)"``) as a SectionRef; None when it is not a section number."""
    m = _QUERY.fullmatch(text.strip())
    if m is None:
        return None
    return SectionRef(tuple(int(n) for n in m["numbers"].split(".")), tuple(_ITEM.findall(m["items"])))


def citation_parts(section: str) -> list[str]:
    """The parts of a citation's section text: ``"§3.3.1(c); §3.8"`` -> ``["§3.3.1(c)", "§3.8"]``."""
    return [p.strip() for p in re.split(r"[;,]", section) if p.strip()]


def well_formed(part: str) -> bool:
    """True for ``§3``, ``§3.7.6``, ``§3.3.1(c)``, ``§3.2.1(a)(ii)``: how a report section is written."""
    return _STRICT_PART.fullmatch(part) is not None


def cited_sections(section: str) -> list[SectionRef]:
    """Every section a citation's section text names, in order (parts that are not section
    numbers are skipped)."""
    out: list[SectionRef] = []
    for part in citation_parts(section):
        m = SECTION.match(part)
        if m is not None:
            ref = SectionRef(tuple(int(n) for n in m["numbers"].split(".")), tuple(_ITEM.findall(m["items"])))
            if ref not in out:
                out.append(ref)
    return out


def _same_source(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


# --------------------------------------------------------------------------- the coverage file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Mechanism(_Strict):
    mechanism: str = Field(min_length=1, description="What the report describes, in a sentence")
    rules: list[str] = Field(default_factory=list, description="The rules that encode it")
    reason: str | None = Field(default=None, description="Why it is deliberately not encoded")
    todo: str | None = Field(default=None, description="Not encoded yet: the work planned")
    related: list[str] = Field(default_factory=list, description="Rules elsewhere on the subject (with reason/todo)")
    note: str | None = None

    @model_validator(mode="after")
    def _one_status(self) -> Mechanism:
        given = [name for name, value in (("rules", self.rules), ("reason", self.reason), ("todo", self.todo))
                 if value]
        if len(given) != 1:
            raise ValueError("give exactly one of 'rules' (a non-empty list), 'reason' or 'todo'"
                             + (f", not {' and '.join(given)}" if given else ""))
        if self.related and self.rules:
            raise ValueError("'related' goes with 'reason' or 'todo'; list encoding rules under 'rules'")
        return self

    @property
    def status(self) -> str:
        return "encoded" if self.rules else "not encoded" if self.reason else "not yet encoded"


class Section(_Strict):
    section: str = Field(pattern=r"^§\d+(\.\d+){1,2}$", description="e.g. '§3.3.1'")
    title: str = Field(min_length=1)
    items: list[str] = Field(default_factory=list, description="Lettered points a citation may name, e.g. [a, b, c]")
    note: str | None = None
    mechanisms: list[Mechanism] = Field(default_factory=list)

    @property
    def ref(self) -> SectionRef:
        ref = parse_section(self.section)
        assert ref is not None  # the pattern guarantees it
        return ref


class CoverageFile(_Strict):
    report: str = Field(min_length=1, description="The citation source these sections belong to")
    sections: list[Section] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> CoverageFile:
        seen: set[str] = set()
        for s in self.sections:
            if s.section in seen:
                raise ValueError(f"section {s.section} is listed twice")
            seen.add(s.section)
        return self


@dataclass
class Coverage:
    """The coverage file, loaded: the report's sections and what each one's mechanisms map to."""

    file: str
    report: str = DEFAULT_REPORT
    sections: list[Section] = field(default_factory=list)
    document: Document | None = None

    def is_report(self, source: str) -> bool:
        return _same_source(source, self.report)

    def find(self, ref: SectionRef) -> Section | None:
        """The listed section a cited section belongs to (its numbered section), if listed."""
        for s in self.sections:
            if s.ref.numbers == ref.numbers:
                return s
        return None

    def lists(self, ref: SectionRef) -> bool:
        """True when the file lists the section and, for a point such as (c), the point."""
        found = self.find(ref)
        if found is None:
            return False
        return not ref.items or ref.items[0] in found.items

    def names(self) -> set[str]:
        """Every rule id an entry names (rules and related)."""
        return {rid for s in self.sections for m in s.mechanisms for rid in (*m.rules, *m.related)}

    def without_mechanisms(self) -> Coverage:
        """The section list only: for a pack the mechanisms were not written for (--no-bundled)."""
        return Coverage(self.file, self.report, [s.model_copy(update={"mechanisms": []}) for s in self.sections])

    def problems(self, pack: RulePack) -> list[Problem]:
        """An entry naming a rule id the pack does not have, located in the coverage file."""
        ids = {r.id for r in pack.rules}
        out: list[Problem] = []
        for s_i, s in enumerate(self.sections):
            for m_i, m in enumerate(s.mechanisms):
                for key in ("rules", "related"):
                    for r_i, rid in enumerate(getattr(m, key)):
                        if rid not in ids:
                            path: Path_ = ("sections", s_i, "mechanisms", m_i, key, r_i)
                            where = self.document.location(path) if self.document else Location(self.file)
                            out.append(Problem(f"{s.section}: no rule '{rid}' in the rule pack", where,
                                               suggest(rid, ids)))
        return out

    def check(self, pack: RulePack) -> None:
        """Raise InputError when an entry names a rule id the pack does not have."""
        problems = self.problems(pack)
        if problems:
            raise InputError(problems)


def default_coverage_file() -> tuple[Path | None, str]:
    """The bundled coverage file (inside the wheel, or the checkout's docs/coverage.yaml) and
    the name errors and docs/rules.md give it; (None, name) when this installation has none."""
    packaged = resources.files("policycheck") / "_coverage.yaml"
    if packaged.is_file():
        return Path(str(packaged)), "policycheck/_coverage.yaml"
    if CHECKOUT_COVERAGE.is_file():
        return CHECKOUT_COVERAGE, "docs/coverage.yaml"
    return None, "docs/coverage.yaml"


def load_coverage(path: str | Path | None = None) -> Coverage:
    """Load a coverage file (the bundled one by default; an empty Coverage when there is none)."""
    display: str
    if path is None:
        found, display = default_coverage_file()
        if found is None:
            return Coverage(display)
        path = found
    else:
        display = str(path)
    doc = read_document(path, display=display)
    data = validate_document(doc, CoverageFile, "a coverage file", shape="with 'report' and 'sections'")
    return Coverage(display, data.report, list(data.sections), doc)


# --------------------------------------------------------------------------- selection


def report_refs(r: LoadedRule, coverage: Coverage) -> list[SectionRef]:
    """The report sections a rule's citation names (none when it cites another source)."""
    cit = r.rule.citation
    return cited_sections(cit.section) if coverage.is_report(cit.source) else []


def known_sections(pack: RulePack, coverage: Coverage) -> list[str]:
    """Every section (and lettered point) a rule cites or the coverage file lists, as text."""
    refs: set[SectionRef] = set()
    for r in pack.rules:
        for ref in report_refs(r, coverage):
            refs.add(ref)
            refs.add(ref.section())
    for s in coverage.sections:
        refs.add(s.ref)
        refs.update(SectionRef(s.ref.numbers, (i,)) for i in s.items)
    return [ref.text() for ref in sorted(refs)]


class SectionError(InputError):
    """A --section that is not a section number, or one nothing cites or lists (one line)."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__([Problem(message, suggestion=suggestion)])
        self.line = message + (f" (did you mean {suggestion}?)" if suggestion else "")


def select(pack: RulePack, coverage: Coverage, query: str) -> tuple[SectionRef, list[LoadedRule]]:
    """The rules citing section ``query`` or a part of it. Raises SectionError when ``query`` is
    not a section number, or when no rule cites it and the coverage file does not list it."""
    ref = parse_section(query)
    if ref is None:
        raise SectionError(f"--section '{query}' is not a section number; write it like 3.3.1 or §3.3.1(c)")
    rules = [r for r in pack.rules if any(c.within(ref) for c in report_refs(r, coverage))]
    listed = any(s.ref.within(ref) for s in coverage.sections) or coverage.lists(ref)
    if not rules and not listed:
        known = known_sections(pack, coverage)
        hint = suggest(ref.text(), known)
        raise SectionError(f"--section {ref.text()}: no rule cites it and {coverage.file} does not list it", hint)
    return ref, rules


def _sections_for(coverage: Coverage, ref: SectionRef | None) -> list[Section]:
    if ref is None:
        return list(coverage.sections)
    return [s for s in coverage.sections if s.ref.within(ref) or (ref.within(s.ref) and s.ref.numbers == ref.numbers)]


# --------------------------------------------------------------------------- entry point


def _conds(conds: Sequence[str]) -> list[str]:
    return [c for c in CONDITIONS if c in conds]


def _cited(r: LoadedRule, coverage: Coverage) -> str:
    """The citation as the table shows it: the sections for the report, source and section otherwise."""
    cit = r.rule.citation
    return cit.section if coverage.is_report(cit.source) else cit.text()


def render(pack: RulePack, fmt: str, *, coverage: Coverage | None = None, section: str | None = None,
           width: int | None = None) -> str:
    """The catalogue in ``fmt`` (table, json or markdown), of the rules citing ``section`` when
    given. ``coverage`` defaults to the bundled coverage file; its rule ids are checked against
    ``pack`` (InputError) whenever its mechanisms are shown (markdown, or a table of a section)."""
    cov = coverage if coverage is not None else load_coverage()
    ref: SectionRef | None = None
    rules = list(pack.rules)
    if section is not None:
        ref, rules = select(pack, cov, section)
    if fmt == "markdown" or (fmt == "table" and ref is not None):
        cov.check(pack)
    if fmt == "json":
        body = [{"id": r.id, "family": r.family, "title": r.rule.title, "severity": r.rule.severity,
                 "conditions": _conds(r.rule.conditions), "citation": r.rule.citation.model_dump(mode="json"),
                 "sections": [s.text() for s in report_refs(r, cov)],
                 "rationale": " ".join(r.rule.rationale.split()), "mitigation": " ".join(r.rule.mitigation.split())}
                for r in rules]
        return json.dumps(body, indent=2, sort_keys=True) + "\n"
    if fmt == "markdown":
        return markdown(pack, cov, ref, rules)
    return table(pack, cov, ref, rules, width)


# --------------------------------------------------------------------------- the table


def table(pack: RulePack, coverage: Coverage, ref: SectionRef | None, rules: list[LoadedRule],
          width: int | None = None) -> str:
    """The rules, fitted to ``width`` (the terminal's; 100 when unknown): one row per rule when
    the title column gets at least 40 characters, otherwise one line per rule (id, severity,
    conditions, cited sections) with the title indented on the lines below."""
    total = width or shutil.get_terminal_size((100, 24)).columns
    total = max(60, min(total, 200))
    headers = ["Id", "Severity", "Conditions", "Citation", "Title"]
    rows = [[r.id, r.rule.severity, " ".join(_conds(r.rule.conditions)), _cited(r, coverage), r.rule.title]
            for r in rules]
    widths = [max([len(headers[i]), *(len(row[i]) for row in rows)]) for i in range(5)]
    fixed = sum(widths[:3]) + 2 * 3
    cite_w = min(widths[3], 15)  # two sections a line: "§3.7.6; §3.2.3;"
    title_w = total - fixed - cite_w - 2 * 2
    out: list[str] = []
    if rows and title_w >= min(40, widths[4]):
        widths = [*widths[:3], cite_w, min(widths[4], title_w)]
        out = [_line(headers, widths), _line(["-" * w for w in widths], widths)]
        for row in rows:
            cells = [textwrap.wrap(text, w, break_on_hyphens=False) or [""] for text, w in zip(row, widths)]
            out += [_line([c[k] if k < len(c) else "" for c in cells], widths)
                    for k in range(max(len(c) for c in cells))]
    elif rows:
        widths = [*widths[:3], max(9, min(widths[3], total - fixed))]  # 9: "§3.3.1(c)"
        out = [_line(headers[:4], widths), "    Title", _line(["-" * w for w in widths], widths)]
        for row in rows:
            cites = textwrap.wrap(row[3], widths[3], break_on_hyphens=False, break_long_words=False) or [""]
            out += [_line([*row[:3], cites[0]], widths)] + [_line(["", "", "", c], widths) for c in cites[1:]]
            out += textwrap.wrap(row[4], total - 4, initial_indent="    ", subsequent_indent="    ")
    lines = list(out)
    if ref is None:
        lines += ["", _n(len(rules), "rule")]
    else:
        lines += ["", f"{len(rules)} of {_n(len(pack.rules), 'rule')} cite{'s' if len(rules) == 1 else ''} {ref.text()}"]
        lines += _coverage_lines(coverage, ref, total)
    return "\n".join(lines).lstrip("\n") + "\n"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()


def _coverage_lines(coverage: Coverage, ref: SectionRef, width: int) -> list[str]:
    lines: list[str] = []
    for s in _sections_for(coverage, ref):
        if not s.mechanisms:
            continue
        lines += ["", f"{s.section} {s.title}: what the section describes ({coverage.file})"]
        for m in s.mechanisms:
            what = " ".join(m.mechanism.split())
            if m.rules:
                tail = f"encoded by {', '.join(m.rules)}"
            elif m.reason:
                tail = f"not encoded: {' '.join(m.reason.split())}"
            else:
                tail = f"not yet encoded: {' '.join((m.todo or '').split())}"
            if m.related:
                tail += f"; see {', '.join(m.related)}"
            lines += textwrap.wrap(f"{what} [{tail}]", width=width, initial_indent="- ", subsequent_indent="  ",
                                   break_on_hyphens=False)
    return lines


# --------------------------------------------------------------------------- markdown


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _anchor(ref: SectionRef) -> str:
    return "s" + "-".join(map(str, ref.numbers))


def _link(rid: str, ids: set[str]) -> str:
    return f"[`{rid}`](#{rid})" if rid in ids else f"`{rid}`"


def _cite_link(r: LoadedRule) -> str:
    cit = r.rule.citation
    return f"[{cit.text()}]({cit.url})" if cit.url else cit.text()


def _rule_table(rules: Iterable[LoadedRule], cite: str = "Cites", full: bool = False) -> list[str]:
    lines = [f"| Id | Title | Severity | Conditions | {cite} |", "|---|---|---|---|---|"]
    for r in rules:
        cited = _cite_link(r) if full else r.rule.citation.section
        lines.append(f"| [`{r.id}`](#{r.id}) | {_cell(r.rule.title)} | {r.rule.severity} "
                     f"| {' '.join(_conds(r.rule.conditions))} | {_cell(cited)} |")
    return lines + [""]


def _mechanism_row(m: Mechanism, ids: set[str]) -> str:
    if m.rules:
        what = ", ".join(_link(rid, ids) for rid in m.rules)
        if m.note:
            what += f". {_flat(m.note)}"
    elif m.reason:
        what = f"*Not encoded*: {_flat(m.reason)}"
    else:
        what = f"*Not yet encoded*: {_flat(m.todo or '')}"
    if m.related:
        what += " See " + ", ".join(_link(rid, ids) for rid in m.related) + "."
    return f"| {_cell(m.mechanism)} | {_cell(what)} |"


@dataclass
class _Index:
    """Which rules cite which listed section, and what falls outside the coverage file."""

    by_section: dict[str, list[LoadedRule]]
    unlisted: list[tuple[LoadedRule, str]]
    other_sources: dict[str, list[LoadedRule]]  # by family
    unnamed: list[LoadedRule]


def _index(rules: Sequence[LoadedRule], coverage: Coverage) -> _Index:
    by_section: dict[str, list[LoadedRule]] = {s.section: [] for s in coverage.sections}
    unlisted: list[tuple[LoadedRule, str]] = []
    other: dict[str, list[LoadedRule]] = {}
    named = coverage.names()
    for r in rules:
        if not coverage.is_report(r.rule.citation.source):
            other.setdefault(r.family, []).append(r)
            continue
        refs = report_refs(r, coverage)
        if not refs:
            unlisted.append((r, r.rule.citation.section))
        for ref in refs:
            found = coverage.find(ref)
            if found is None or not coverage.lists(ref):
                unlisted.append((r, ref.text()))
            if found is not None and r not in by_section[found.section]:
                by_section[found.section].append(r)
    unnamed = [r for r in rules if coverage.is_report(r.rule.citation.source) and r.id not in named]
    return _Index(by_section, unlisted, other, unnamed)


def markdown(pack: RulePack, coverage: Coverage | None = None, ref: SectionRef | None = None,
             rules: Sequence[LoadedRule] | None = None) -> str:
    """The catalogue as Markdown (docs/rules.md): chapter 3 section by section (mechanisms, then
    the rules citing the section), rules outside chapter 3, coverage gaps, then each rule in full.
    With ``ref``, only the sections inside it and the rules citing it."""
    cov = coverage if coverage is not None else load_coverage()
    chosen = list(pack.rules) if rules is None else list(rules)
    ids = {r.id for r in pack.rules}
    sections = _sections_for(cov, ref)
    idx = _index(chosen, cov)
    by_family: dict[str, list[LoadedRule]] = {}
    for r in chosen:
        by_family.setdefault(r.family, []).append(r)

    scope = f" citing {ref.text()}" if ref is not None else ""
    command = "policycheck rules --format markdown" + (f" --section {ref.text()}" if ref is not None
                                                       else " > docs/rules.md")
    lines = ["# Rule catalogue" + (f": {ref.text()}" if ref is not None else ""), "",
             f"Generated by `{command}` from the rule pack and `{cov.file}`; do not edit by hand.", "",
             f"{_n(len(chosen), 'rule')}{scope} in {len(by_family)} famil{'y' if len(by_family) == 1 else 'ies'}. "
             "Conditions: "
             + "; ".join(f"**{k}** {v}" for k, v in CONDITIONS.items()) + ".", "",
             "Each rule cites the section of the CMA's *AI Foundation Models: Initial Report* (2023) it "
             "encodes, or the public source it comes from, says what that source says, and argues its "
             "severity. A mitigation lowers the severity of a flag and is named on the flag.", "",
             "**How this catalogue is arranged.** [Coverage of chapter 3](#coverage-of-chapter-3) takes the "
             "report section by section: the mechanisms the section describes, each with the rules that "
             "encode it or the reason it is deliberately not encoded, then the rules whose citation names the "
             "section. A rule is listed under every section its citation names (a citation of §3.3.1(c) "
             "lists it under §3.3.1), so one rule may appear under several sections; it is described once, "
             f"under its family. The mechanisms and reasons come from `{cov.file}`.", ""]

    # Summary of chapter 3.
    lines += ["## Coverage of chapter 3", ""]
    if not sections:
        lines += [f"`{cov.file}` lists no sections.", ""]
    else:
        lines += ["| Section | Encoded | Not encoded | Not yet encoded | Rules citing it |", "|---|---|---|---|---|"]
        for s in sections:
            counts = {k: sum(1 for m in s.mechanisms if m.status == k)
                      for k in ("encoded", "not encoded", "not yet encoded")}
            lines.append(f"| [{s.section} {_cell(s.title)}](#{_anchor(s.ref)}) | {counts['encoded']} "
                         f"| {counts['not encoded']} | {counts['not yet encoded']} | {len(idx.by_section[s.section])} |")
        lines.append("")
    for s in sections:
        lines += [f'<a id="{_anchor(s.ref)}"></a>', "", f"### {s.section} {s.title}", ""]
        if s.note:
            lines += [_flat(s.note), ""]
        if s.mechanisms:
            lines += ["| What the report describes | Encoded by |", "|---|---|"]
            lines += [_mechanism_row(m, ids) for m in s.mechanisms]
            lines.append("")
        cited = idx.by_section[s.section]
        if cited:
            lines += [f"Rules citing {s.section}:", ""] + _rule_table(cited)
        elif s.mechanisms:
            lines += [f"No rule cites {s.section}.", ""]

    if idx.other_sources:
        lines += ["## Rules outside chapter 3", "",
                  "Rules citing a source other than the report (for example the CMA's merger guidance, CMA2, "
                  "for merger-jurisdiction indicators), by family.", ""]
        for family in sorted(idx.other_sources):
            lines += [f"### {family} (outside chapter 3)", ""] + _rule_table(idx.other_sources[family], "Source",
                                                                              full=True)

    gaps = bool(idx.unlisted or idx.unnamed or any(m.todo for s in sections for m in s.mechanisms))
    if gaps:
        lines += ["## Coverage gaps", ""]
        todo = [(s, m) for s in sections for m in s.mechanisms if m.todo]
        if todo:
            lines += ["Mechanisms not yet encoded:", "", "| Section | What the report describes | Planned |",
                      "|---|---|---|"]
            lines += [f"| [{s.section}](#{_anchor(s.ref)}) | {_cell(m.mechanism)} | {_cell(m.todo or '')} |"
                      for s, m in todo]
            lines.append("")
        if idx.unlisted:
            lines += [f"Rules citing a section (or lettered point) `{cov.file}` does not list:", "",
                      "| Rule | Section |", "|---|---|"]
            lines += [f"| [`{r.id}`](#{r.id}) | {_cell(text)} |" for r, text in idx.unlisted]
            lines.append("")
        if idx.unnamed:
            lines += [f"Rules citing the report that no entry of `{cov.file}` names: "
                      + ", ".join(f"[`{r.id}`](#{r.id})" for r in idx.unnamed) + ".", ""]

    # Families, then each rule in full.
    lines += ["## Rules by family", "", "| Family | Rules |", "|---|---|"]
    lines += [f'| [{family}](#family-{family}) | {", ".join(f"[`{r.id}`](#{r.id})" for r in fam_rules)} |'
              for family, fam_rules in sorted(by_family.items())]
    lines.append("")
    for family in sorted(by_family):
        lines += [f'<a id="family-{family}"></a>', "", f"## {family}", ""]
        for r in by_family[family]:
            lines += _rule_in_full(r, cov)
    return "\n".join(lines)


def _rule_in_full(r: LoadedRule, coverage: Coverage) -> list[str]:
    rule, cit = r.rule, r.rule.citation
    conds = ", ".join(f"{c} {CONDITIONS[c]}" for c in _conds(rule.conditions))
    lines = [f"### {r.id}", "", f"**{rule.title}.** Conditions: {conds}. Severity: **{rule.severity}**.", ""]
    report = f"**Source.** {_cite_link(r)}" + (f": {_flat(cit.paragraph)}" if cit.paragraph else ".")
    lines += [report, "", f"**Rationale.** {_flat(rule.rationale)}", "",
              f"**What would lower the concern.** {_flat(rule.mitigation)}", ""]
    if rule.escalated_by:
        lines += ["**Escalations the rule applies.**", ""]
        lines += [f"- `{m.id}` (to *{m.severity}*): {_flat(m.description)}" for m in rule.escalated_by]
        lines.append("")
    if rule.mitigated_by:
        lines += ["**Mitigations the rule applies.**", ""]
        lines += [f"- `{m.id}` (to *{m.severity}*): {_flat(m.description)}" for m in rule.mitigated_by]
        lines.append("")
    if rule.relationship:
        lines += ["**One flag per relationship.** Matches on deals between the same partner and developer are "
                  "one flag, with the other rounds as evidence.", ""]
    return lines
