"""Read the tool's own JSON outputs back one record at a time, in memory that does not grow
with the file.

An assessment (``assess --format json``), its JSON Lines form (``--format jsonl``) and a
baseline (``--write-baseline``) can be far larger than any file a person writes: about 70 KB
of JSON per case, so 10,000 cases is some 700 MB. None of them is parsed whole:

- **JSON** (a document whose first line is ``{``, as every policycheck JSON output is, or any
  other layout of one JSON object): the top-level object is read key by key, and the items
  of its ``cases`` or ``flags`` list are handed over one by one (``Record``), whatever the
  layout; everything else in the document (``rule_pack``, ``summary``, ``errors``, ...) is the
  *shell*, read as it comes.
- **JSON Lines** (a first line that is one JSON object with a ``type``): one record per line;
  the ``summary`` line is the shell.

Memory holds one record, one piece of the file and what the caller keeps. One record, and one
value of the shell, may be at most ``limits.report_bytes`` bytes; the file as a whole is not
bounded by size (reading is linear in it, and a run of whitespace longer than a record is
refused). Every error is one located line (``file:line:col``); a record that fails its schema
is parsed again on its own to locate the problem inside it.

A file whose first character is not ``{`` is not one the tool wrote; it is read whole (as
YAML, up to ``limits.file_bytes``) by the caller.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from policycheck import limits
from policycheck.errors import InputError, Location, Problem
from policycheck.io.reader import Document, Path_, excerpt, format_path, parse_document, read_chunks, read_lines
from policycheck.io.schema_errors import problems_from

Format = Literal["json", "jsonl", "other"]
STREAMED = frozenset({"cases", "flags"})   # the lists of a JSON document read item by item
PIECE = 1 << 20
_WS = " \t\r\n"
_BOM = b"\xef\xbb\xbf"
_UNBOUNDED = 1 << 62    # a streamed file as a whole: no size limit (memory holds one record)


def record_limit() -> int:
    """The most bytes one record (or one value of the shell) may have."""
    return limits.current().report_bytes


def _hint() -> str:
    return limits.hint("report_bytes")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("numbers must be finite")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# Duplicate keys inside a record are not looked for (the last one wins, as in any JSON reader):
# a hook on every object would double the cost of reading, and a record is checked against its
# schema before it is used. Top-level keys are refused when given twice.
DECODER = json.JSONDecoder(parse_float=_finite, parse_constant=_refuse_constant)


@dataclass(frozen=True)
class Record:
    """One item of a streamed list (``key``: ``cases`` or ``flags``), or one line of JSON Lines
    (``key``: its ``type``), with where it starts and which bytes of the file hold it."""

    key: str
    index: int            # its place in its list (JSON), or among the lines of its type (JSON Lines)
    data: Any
    line: int
    column: int
    offset: int           # bytes: where it starts in the file
    size: int             # bytes it takes
    listed: bool = True   # an item of a list (JSON); False: a line (JSON Lines)

    def path(self) -> str:
        """The record's place, as error messages show it: ``cases[12]`` (JSON Lines: none)."""
        return f"{self.key}[{self.index}]" if self.listed else ""


@dataclass
class Stream:
    """The records of one policycheck output file, read once, in order (``records()``); the
    shell is complete when they are exhausted."""

    path: str | Path
    name: str
    format: Format
    shell: dict[str, Any] = field(default_factory=dict)
    places: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    lists: set[str] = field(default_factory=set)      # the streamed lists the document holds

    def records(self) -> Iterator[Record]:
        if self.format == "jsonl":
            return self._lines()
        return _JsonText(self).records()

    def shell_document(self) -> Document:
        """The shell as a Document (its keys located), for schema errors."""
        return Document(self.name, self.shell, dict(self.places))

    def _lines(self) -> Iterator[Record]:
        offset = 0
        counts: dict[str, int] = {}
        lines = read_lines(self.path, line_bytes=record_limit(), display=self.name, max_bytes=_UNBOUNDED,
                           limit_text=_hint(), line_text=_hint())
        for number, raw in lines:
            size = len(raw) + 1
            start, offset = offset, offset + size
            if not (raw.removeprefix(_BOM) if number == 1 else raw).strip():
                continue
            data = decode_line(raw, self.name, number)
            kind = data.get("type") if isinstance(data, dict) else None
            if not isinstance(kind, str):
                raise InputError([Problem("a JSON Lines record must be an object with a \"type\" (case, error or "
                                          "summary)", Location(self.name, number, 1))])
            if kind == "summary":
                self.shell = {k: v for k, v in data.items() if k != "type"}
                self.places = {(): (number, 1), **{(k,): (number, 1) for k in self.shell}}
                continue
            index = counts.get(kind, 0)
            counts[kind] = index + 1
            yield Record(kind, index, data, number, 1, start, size, listed=False)


def decode_line(raw: bytes, name: str, number: int) -> Any:
    """One line of JSON Lines, parsed strictly (see ``parse``)."""
    try:
        text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(f"file is not valid UTF-8 (byte {exc.start} of the line)",
                                  Location(name, number, exc.start + 1))]) from None
    return parse(text, name, number, 1)


def parse(text: str, name: str, line: int = 1, column: int = 1) -> Any:
    """``text`` as one JSON value, strictly: no NaN or Infinity, nothing after it; an error is
    located in the file (``text`` starts at ``line``:``column``)."""
    try:
        value, end = DECODER.raw_decode(text, _skip(text, 0))
    except json.JSONDecodeError as exc:
        raise InputError([Problem(f"invalid JSON: {exc.msg}", _shift(Location(name, exc.lineno, exc.colno),
                                                                     line, column))]) from None
    except (ValueError, RecursionError) as exc:
        raise InputError([Problem(_value_error(exc), Location(name, line, column))]) from None
    end = _skip(text, end)
    if end < len(text):
        before = text[:end]
        at = Location(name, before.count("\n") + 1, end - (before.rfind("\n") + 1) + 1)
        raise InputError([Problem("invalid JSON: extra data after the value", _shift(at, line, column))])
    return value


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WS:
        at += 1
    return at


def _value_error(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply"
    return f"invalid JSON: {excerpt(str(exc), 120)}"


def _shift(at: Location, line: int, column: int) -> Location:
    """A location inside a record, as a location in the file (the record starts at line:column)."""
    if at.line is None:
        return dataclasses.replace(at, line=line, column=column)
    col = at.column if at.line > 1 or at.column is None else at.column + column - 1
    return dataclasses.replace(at, line=at.line + line - 1, column=col)


def located(exc: ValidationError, record: Record, name: str, model: type[BaseModel],
            text: Callable[[], str], data: Any = None) -> list[Problem]:
    """``exc`` (``data``, the record's data as validated, by default ``record.data``, failed
    ``model``) as problems located in the file: the record's text (``text()``) is parsed again
    on its own to find each problem's line."""
    data = record.data if data is None else data
    try:
        doc = parse_document(text(), name)
    except InputError:
        doc = Document(name, data)
    doc.data = data
    out = []
    prefix = record.path()
    for p in problems_from(exc, doc, model):
        path = ".".join(x for x in (prefix, p.location.path or "") if x).replace(".[", "[") or None
        out.append(dataclasses.replace(p, location=dataclasses.replace(
            _shift(p.location, record.line, record.column), path=path)))
    return out


def sniff(path: str | Path, name: str) -> Format:
    """Which kind of file ``path`` is, from its first line that is not blank: ``{`` alone (or any
    object that is not one line of JSON Lines) is JSON, an object with a ``type`` is JSON Lines,
    anything else is not a JSON output of the tool."""
    first = next(iter(read_chunks(path, display=name, max_bytes=_UNBOUNDED, chunk=PIECE, limit_text=_hint())), b"")
    if not first.removeprefix(_BOM).lstrip().startswith(b"{"):
        return "other"   # decided by the first piece; a line of it is never read whole
    try:
        for number, raw in read_lines(path, line_bytes=record_limit(), display=name, max_bytes=_UNBOUNDED,
                                      limit_text=_hint()):
            stripped = (raw.removeprefix(_BOM) if number == 1 else raw).strip()
            if not stripped:
                continue
            if not stripped.startswith(b"{"):
                return "other"
            if stripped == b"{":
                return "json"
            try:
                data = json.loads(stripped)
            except (ValueError, RecursionError):
                return "json"
            return "jsonl" if isinstance(data, dict) and isinstance(data.get("type"), str) else "json"
    except InputError as exc:
        if any("line is longer" in p.message for p in exc.problems):
            return "json"   # one very long line: compact JSON, read as a stream
        raise
    return "other"


def open_stream(path: str | Path, name: str) -> Stream:
    """The records of the policycheck output at ``path`` (see ``sniff`` for the kinds)."""
    return Stream(path, name, sniff(path, name))


def read_record(path: str | Path, name: str, record: Record) -> str:
    """The text of ``record`` read again from the file (for ``diff``, which keeps only where
    each case is)."""
    raw = b""
    for piece in read_chunks(path, display=name, max_bytes=_UNBOUNDED, chunk=record.size, start=record.offset):
        raw += piece
        if len(raw) >= record.size:
            break
    raw = raw[:record.size]
    try:
        return raw.decode("utf-8-sig" if record.offset == 0 else "utf-8")
    except UnicodeDecodeError:
        raise InputError([Problem("file changed while it was read", Location(name, record.line))]) from None


class _JsonText:
    """The text of a JSON file, decoded piece by piece, with the line, column and byte offset
    of any place in what is held."""

    def __init__(self, stream: Stream) -> None:
        self.stream, self.name = stream, stream.name
        self.limit = record_limit()
        self.pieces = read_chunks(stream.path, display=stream.name, max_bytes=_UNBOUNDED, chunk=PIECE,
                                  limit_text=_hint())
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.read = 0             # bytes read from the file so far
        self.base = 0             # characters dropped from the front of buf
        self.line, self.line_start, self.mark = 1, 0, 0      # line number at buf[mark]; its start (absolute)
        self.bytes_at, self.bmark = 0, 0                     # byte offset of buf[bmark]

    # -- holding text -------------------------------------------------------------------------
    def fill(self, want: int = PIECE) -> bool:
        """Read at least ``want`` more characters (fewer at the end of the file). False at the end."""
        if self.eof:
            return False
        got = 0
        while got < want:
            piece = next(self.pieces, None)
            try:
                text = self.decoder.decode(piece or b"", final=piece is None)
            except UnicodeDecodeError as exc:
                self.where(len(self.buf))
                line = self.line + (piece or b"")[: exc.start].count(b"\n")
                raise InputError([Problem(f"file is not valid UTF-8 (byte {self.read + exc.start})",
                                          Location(self.name, line))]) from None
            if self.read == 0 and text.startswith("\ufeff"):
                text = text[1:]
                self.bytes_at = 3
            self.read += len(piece or b"")
            self.buf += text
            got += len(text)
            if piece is None:
                self.eof = True
                break
        return got > 0

    def where(self, at: int) -> tuple[int, int]:
        """Line and column of buf[at] (at >= every place asked about before)."""
        found = self.buf.count("\n", self.mark, at)
        if found:
            self.line += found
            self.line_start = self.base + self.buf.rfind("\n", self.mark, at) + 1
        self.mark = at
        return self.line, self.base + at - self.line_start + 1

    def byte(self, at: int) -> int:
        """The byte offset in the file of buf[at] (at >= every place asked about before)."""
        chunk = self.buf[self.bmark:at]
        self.bytes_at += len(chunk) if chunk.isascii() else len(chunk.encode("utf-8"))
        self.bmark = at
        return self.bytes_at

    def compact(self) -> None:
        if self.pos > 2 * PIECE:
            self.where(self.pos)
            self.byte(self.pos)
            self.base += self.pos
            self.buf = self.buf[self.pos:]
            self.mark -= self.pos
            self.bmark -= self.pos
            self.pos = 0

    def fail(self, message: str, at: int | None = None) -> InputError:
        line, col = self.where(self.pos if at is None else at)
        return InputError([Problem(message, Location(self.name, line, col))])

    # -- tokens -------------------------------------------------------------------------------
    def skip_ws(self) -> str:
        """Skip whitespace; the next character ('' at the end of the file)."""
        start = self.base + self.pos
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.base + self.pos - start > self.limit:
                raise self.fail(f"more than {self.limit} bytes of blank space ({_hint()})", self.pos)
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            self.compact()
            if not self.fill():
                return ""

    def expect(self, chars: str, what: str) -> str:
        char = self.skip_ws()
        if not char or char not in chars:
            found = f"'{excerpt(char)}'" if char else "the end of the file"
            raise self.fail(f"invalid JSON: expected {what}, found {found}")
        self.pos += 1
        return char

    def value(self) -> tuple[Any, int, int]:
        """The next JSON value: (value, start, end) in buf."""
        self.skip_ws()
        start = self.pos
        while True:
            try:
                value, end = DECODER.raw_decode(self.buf, start)
            except json.JSONDecodeError as exc:
                if self._more(start, exc):
                    continue
                raise self.fail(f"invalid JSON: {exc.msg}", exc.pos) from None
            except (ValueError, RecursionError) as exc:
                raise self.fail(_value_error(exc), start) from None
            if end == len(self.buf) and not self.eof:   # a number may go on in the next piece
                self.fill()
                continue
            if end - start > self.limit:
                raise self.fail(f"one value is larger than {self.limit} bytes ({_hint()})", start)
            self.pos = end
            return value, start, end

    def _more(self, start: int, exc: json.JSONDecodeError) -> bool:
        """Whether a value that failed to parse may only be cut off by the end of what is held
        (then more is read: True)."""
        held = len(self.buf) - start
        if self.eof:
            return False
        cut = exc.pos >= len(self.buf) - 8 or exc.msg.startswith("Unterminated string")
        if not cut:
            return False
        if held > self.limit:
            raise self.fail(f"one value is larger than {self.limit} bytes ({_hint()})", start)
        self.fill(max(held, PIECE))
        return True

    # -- the document -------------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        stream = self.stream
        self.fill()
        self.expect("{", "'{' (a JSON object)")
        stream.places[()] = (1, 1)
        first = True
        shell = 0
        while True:
            if self.skip_ws() == "}":
                self.pos += 1
                break
            if not first:
                self.expect(",", "',' or '}'")
            first = False
            key, start, _ = self.value()
            if not isinstance(key, str):
                raise self.fail("invalid JSON: expected a key (a string)", start)
            place = self.where(start)
            if key in stream.shell or key in stream.lists:
                raise self.fail(f"duplicate key '{excerpt(key)}'", start)
            stream.places[(key,)] = place
            self.expect(":", "':'")
            if key in STREAMED and self.skip_ws() == "[":
                self.pos += 1
                stream.lists.add(key)
                yield from self._items(key)
            else:
                stream.shell[key], start, end = self.value()
                shell += end - start
                if shell > self.limit:
                    raise self.fail(f"the document outside its lists is larger than {self.limit} bytes ({_hint()})",
                                    start)
            self.compact()
        if self.skip_ws():
            raise self.fail("invalid JSON: extra data after the document")

    def _items(self, key: str) -> Iterator[Record]:
        index = 0
        while True:
            if self.skip_ws() == "]":
                self.pos += 1
                return
            if index:
                self.expect(",", "',' or ']'")
            data, start, end = self.value()
            line, col = self.where(start)
            offset = self.byte(start)
            size = self.byte(end) - offset
            yield Record(key, index, data, line, col, offset, size)
            index += 1
            self.compact()


__all__ = ["Record", "Stream", "decode_line", "format_path", "located", "open_stream", "parse", "read_record",
           "record_limit", "sniff"]
