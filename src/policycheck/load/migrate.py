"""Rewrite case format v1 text as v2, keeping comments, key order and layout.

The rewrite is a set of small text edits placed from the YAML node marks; nothing is
round-tripped through a YAML dumper, so every comment, blank line, quote and flow or block
style stays as written. What changes (v1 defaults that v2 requires to be written):

- ``schema_version: 1`` becomes ``2``;
- a licence without ``kind`` gets ``kind: model_licence`` (the v1 default);
- an ``amount`` (deals) or ``price`` (data-access changes) mapping without ``currency``
  gets ``currency: USD`` (the v1 default);
- a data-access change gets ``stage: effective`` (v1 recorded only changes in force).

Three v1 defaults are *not* written, because v2 reads an omitted field as unstated and the
v1 default (false or an empty list) was never a fact: a note is returned for each place
that relied on one (``output_training_ban`` without ``exempts_licensor_family``, a party
without ``roles``, a licence without ``models``), for the author to state the fact when a
source gives it.

Besides case files, ``migrate_text`` migrates the inline cases of a file with no
``schema_version`` whose top level has ``tests:`` (a rule fixture file: every
``tests[].case``) or ``case:`` / ``entries:`` (the conformance corpus: ``case`` and every
``entries[].case``). Those inline cases carry no version of their own (the fixture runner
fills it in), so a fixture file is never "already v2": it is migrated when something is
missing, and its notes are given on every run.

The rewritten text is parsed again and must equal the original data plus the additions;
otherwise ``MigrateError`` is raised and nothing should be written.
"""

from __future__ import annotations

import codecs
import copy
import dataclasses
import difflib
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from policycheck.errors import InputError, Location, Problem
from policycheck.io.reader import Path_, format_path, parse_document, read_document

FROM_VERSION, TO_VERSION = 1, 2

Status = Literal["migrated", "unchanged", "already v2"]
FileKind = Literal["case", "fixtures"]


class MigrateError(InputError):
    """A file migrate cannot rewrite (an unknown version, a layout it cannot edit safely)."""


class NotACaseFile(MigrateError):
    """Neither a case file (no schema_version) nor a fixture file (no tests/entries/case)."""


@dataclass(frozen=True)
class Note:
    """A place whose meaning changed: v1 read an omitted field as a default, v2 as unstated."""

    file: str
    line: int                              # in the migrated text
    path: str
    message: str
    source_line: int = 0                   # in the text as it was before migration

    def render(self, *, before: bool = False) -> str:
        """``file:line: path message``; ``before``: the line in the unmigrated text."""
        return f"{self.file}:{self.source_line if before else self.line}: {self.path} {self.message}"


@dataclass(frozen=True)
class MigrateResult:
    """The migrated text (the input itself when nothing changed) and the notes for the author."""

    text: str
    notes: tuple[Note, ...] = ()
    status: Status = "unchanged"
    kind: FileKind = "case"
    original: str = ""

    @property
    def changed(self) -> bool:
        return self.status == "migrated"

    def diff(self, label: str) -> str:
        """A unified diff of the change (empty when nothing changed)."""
        return "".join(difflib.unified_diff(self.original.splitlines(keepends=True), self.text.splitlines(keepends=True),
                                            fromfile=f"a/{label}", tofile=f"b/{label}"))


_UNSTATED = "now unstated — state it if the source says so"
_NOTES = {
    "exempts_licensor_family": f"was read as false in v1; {_UNSTATED}",
    "roles": f"was read as [] (no roles) in v1; {_UNSTATED}",
    "models": f"was read as [] (no models) in v1; {_UNSTATED}",
}


@dataclass
class _Edit:
    index: int
    text: str
    order: int
    delete: int = 0


@dataclass
class _Run:
    text: str
    name: str
    json: bool
    newline: str
    edits: list[_Edit] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    places: list[int] = field(default_factory=list)
    expected: Any = None

    def edit(self, index: int, text: str, delete: int = 0) -> None:
        self.edits.append(_Edit(index, text, len(self.edits), delete))

    def pair(self, key: str, value: str) -> str:
        return f'"{key}": "{value}"' if self.json else f"{key}: {value}"

    def note(self, node: yaml.Node, path: Path_, key: str) -> None:
        self.places.append(node.start_mark.index)
        line = node.start_mark.line + 1
        self.notes.append(Note(self.name, line, format_path(path + (key,)), _NOTES[key], line))

    def final_notes(self) -> tuple[Note, ...]:
        """The notes with their lines in the migrated text (lines the edits inserted before them added)."""
        out = []
        for note, at in zip(self.notes, self.places):
            added = sum(e.text.count("\n") - self.text.count("\n", e.index, e.index + e.delete)
                        for e in self.edits if e.index <= at)
            out.append(dataclasses.replace(note, line=note.line + added))
        return tuple(sorted(out, key=lambda n: n.line))


def migrate_text(text: str, name: str = "<string>") -> MigrateResult:
    """Migrate one v1 case file (or the inline cases of a fixture file) held in memory.

    Raises InputError (with a place) when the text is not valid YAML/JSON, and MigrateError
    when it is neither a case file nor a fixture file, or has a schema_version other than 1
    or 2. A case file already at v2 comes back unchanged, with status "already v2".
    """
    doc = parse_document(text, name)  # the project's safe reader: its errors, its refusals
    if not isinstance(doc.data, dict):
        raise NotACaseFile([Problem("a case file must be a mapping at the top level", doc.location(()))])
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # the pure-Python loader: marks count characters
    assert isinstance(root, yaml.MappingNode)
    run = _Run(text, name, json=bool(root.flow_style), newline="\r\n" if "\r\n" in text else "\n",
               expected=copy.deepcopy(doc.data))
    data: dict[str, Any] = doc.data
    if "schema_version" in data:
        version = data["schema_version"]
        if type(version) is int and version == TO_VERSION:
            return MigrateResult(text, (), "already v2", "case", text)
        if type(version) is not int or version != FROM_VERSION:
            raise MigrateError([Problem(f"unsupported schema_version {version!r}; migrate rewrites version "
                                        f"{FROM_VERSION} as {TO_VERSION}", doc.location(("schema_version",)))])
        scalar = _value(root, "schema_version")
        assert scalar is not None
        run.edit(scalar.start_mark.index, str(TO_VERSION), scalar.end_mark.index - scalar.start_mark.index)
        run.expected["schema_version"] = TO_VERSION
        _case(run, root, run.expected, ())
        kind: FileKind = "case"
    elif any(k in data for k in ("tests", "entries", "case")):
        kind = "fixtures"
        for node, expected, path in _inline_cases(root, run.expected):  # none: only case_file tests
            _case(run, node, expected, path)
    else:
        raise NotACaseFile([Problem("not a case file (no schema_version) nor a rule fixture file (no tests)",
                                    doc.location(()))])
    out = _apply(text, run.edits)
    if out != text:
        _verify(out, name, run.expected)
    return MigrateResult(out, run.final_notes(), "migrated" if out != text else "unchanged", kind, text)


# --- what to change ---------------------------------------------------------------------------


def _inline_cases(root: yaml.MappingNode, data: dict[str, Any]) -> Iterator[tuple[yaml.MappingNode, dict[str, Any], Path_]]:
    top = _value(root, "case")
    if isinstance(top, yaml.MappingNode) and isinstance(data.get("case"), dict):
        yield top, data["case"], ("case",)
    for group in ("tests", "entries"):
        seq = _value(root, group)
        if not isinstance(seq, yaml.SequenceNode):
            continue
        for i, item in enumerate(seq.value):
            node = _value(item, "case") if isinstance(item, yaml.MappingNode) else None
            if isinstance(node, yaml.MappingNode) and isinstance(data[group][i].get("case"), dict):
                yield node, data[group][i]["case"], (group, i, "case")


def _case(run: _Run, node: yaml.MappingNode, data: dict[str, Any], path: Path_) -> None:
    for i, party in _items(node, "parties"):
        if _value(party, "roles") is None:
            run.note(party, path + ("parties", i), "roles")
    for i, lic in _items(node, "licences"):
        here = path + ("licences", i)
        if _value(lic, "kind") is None:
            _insert(run, lic, ("name", "id"), "kind", "model_licence")
            data["licences"][i]["kind"] = "model_licence"
        if _value(lic, "models") is None:
            run.note(lic, here, "models")
        for j, version in _items(lic, "versions"):
            terms = _value(version, "terms")
            ban = _value(terms, "output_training_ban") if isinstance(terms, yaml.MappingNode) else None
            if isinstance(ban, yaml.MappingNode) and _value(ban, "exempts_licensor_family") is None:
                run.note(ban, here + ("versions", j, "terms", "output_training_ban"), "exempts_licensor_family")
    for i, deal in _items(node, "deals"):
        amount = _value(deal, "amount")
        if isinstance(amount, yaml.MappingNode) and _value(amount, "currency") is None:
            _insert(run, amount, ("value",), "currency", "USD")
            data["deals"][i]["amount"]["currency"] = "USD"
    for i, change in _items(node, "data_access_changes"):
        if _value(change, "stage") is None:
            _insert(run, change, ("date", "resource", "holder", "id"), "stage", "effective")
            data["data_access_changes"][i]["stage"] = "effective"
        for side in ("before", "after"):
            terms = _value(change, side)
            price = _value(terms, "price") if isinstance(terms, yaml.MappingNode) else None
            if isinstance(price, yaml.MappingNode) and _value(price, "currency") is None:
                _insert(run, price, ("amount",), "currency", "USD")
                data["data_access_changes"][i][side]["price"]["currency"] = "USD"


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _items(node: yaml.MappingNode, key: str) -> Iterator[tuple[int, yaml.MappingNode]]:
    seq = _value(node, key)
    if isinstance(seq, yaml.SequenceNode):
        for i, item in enumerate(seq.value):
            if isinstance(item, yaml.MappingNode):
                yield i, item


# --- where and how to write it ----------------------------------------------------------------


def _insert(run: _Run, node: yaml.MappingNode, after: tuple[str, ...], key: str, value: str) -> None:
    """Add ``key: value`` to the mapping, after the first of ``after`` it has (else last)."""
    pairs: list[tuple[yaml.Node, yaml.Node]] = node.value
    keys = [k.value if isinstance(k, yaml.ScalarNode) else None for k, _ in pairs]
    at = next((keys.index(a) for a in after if a in keys), len(pairs) - 1)
    text = run.pair(key, value)
    if not pairs:  # an empty flow mapping: {}
        run.edit(node.start_mark.index + 1, text)
        return
    key_node, value_node = pairs[at]
    end = _content_end(run.text, value_node)
    if node.flow_style:
        following = pairs[at + 1][0].start_mark if at + 1 < len(pairs) else node.end_mark
        own_line = run.text[_line_start(run.text, key_node.start_mark.index):key_node.start_mark.index].strip() == ""
        if following.line > value_node.end_mark.line and own_line:  # one pair a line (JSON, long flow mappings)
            eol = run.text.find("\n", end)  # after the pair's comma and comment, which stay on its line
            line = " " * key_node.start_mark.column + text
            if run.text[end:eol].lstrip().startswith(","):
                run.edit(eol + 1, line + "," + run.newline)
            else:  # the last pair: it gains a comma
                run.edit(end, ",")
                run.edit(eol + 1, line + run.newline)
        else:
            run.edit(end, ", " + text)
        return
    indent = " " * pairs[0][0].start_mark.column
    eol = run.text.find("\n", end)
    if eol == -1:  # the last line of a file without a final newline
        run.edit(len(run.text), run.newline + indent + text)
    else:
        run.edit(eol + 1, indent + text + run.newline)


def _content_end(text: str, node: yaml.Node) -> int:
    """The index just after the last character of a value: the deepest last scalar or flow
    collection (a block collection's own end mark lies past trailing comments and blanks)."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    end: int = node.end_mark.index
    return len(text[:end].rstrip())


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _apply(text: str, edits: list[_Edit]) -> str:
    for e in sorted(edits, key=lambda e: (e.index, e.order), reverse=True):
        text = text[: e.index] + e.text + text[e.index + e.delete:]
    return text


def _verify(out: str, name: str, expected: Any) -> None:
    try:
        got = parse_document(out, name).data
    except InputError as exc:
        got = exc
    if got != expected:
        raise MigrateError([Problem("cannot migrate this layout safely (the rewritten text does not read back as "
                                    "the v1 data plus the v2 fields); nothing was changed — migrate it by hand",
                                    Location(name))])


# --- files --------------------------------------------------------------------------------------


def migrate_file(path: str | Path) -> MigrateResult:
    """Migrate the file at ``path`` in memory (nothing is written; see ``write_file``)."""
    read_document(path)  # the reader's checks and their located errors: readable, size, UTF-8, YAML
    raw = Path(path).read_bytes()
    return migrate_text(raw.decode("utf-8-sig"), str(path))


def write_file(path: str | Path, text: str) -> None:
    """Replace the file at ``path`` with ``text`` atomically (a temporary file in the same folder,
    then os.replace), keeping its permission bits, line endings as given, and a UTF-8 BOM it had."""
    target = Path(path)
    tmp: str | None = None
    try:
        old = target.read_bytes()
        mode = stat.S_IMODE(target.stat().st_mode)
        body = (codecs.BOM_UTF8 if old.startswith(codecs.BOM_UTF8) else b"") + text.encode("utf-8")
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".migrate")
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise InputError([Problem(f"cannot write: {exc.strerror or exc}", Location(str(path)))]) from None
