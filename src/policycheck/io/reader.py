"""Read a YAML or JSON document safely and remember where every value came from.

Case, rule, fixture and waiver files are all read here. The loader:
- refuses anchors/aliases, custom tags, duplicate keys and files over a size limit (hostile input);
- keeps YAML's surprising implicit types out: only true/false are booleans (not yes/no/on/off),
  dates stay strings (the schemas parse them), and ``1e3`` is a number;
- returns a map from each value's path (a tuple of keys and list indexes) to its line and column.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policycheck import limits
from policycheck.errors import InputError, Location, Problem
from policycheck.io import confine

try:  # the C loader is much faster; fall back silently where libyaml is missing
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_DEPTH = 40
EXCERPT = 40  # characters of an unknown key (or other text from a file) quoted in a message

Path_ = tuple[str | int, ...]

MAX_INT = 2**53  # integers stay exact in JSON and in the engine up to here
_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")
_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$")
# A digit before any exponent: "e3" and "E10" are text (float() would raise on them).
_FLOAT = re.compile(r"^[-+]?([0-9][0-9_]*(\.[0-9_]*)?|\.[0-9][0-9_]*)([eE][-+]?[0-9]+)?$")
_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))


@dataclass
class Document:
    """A parsed file: its data, the place of every value, and the file name used in errors."""

    file: str
    data: Any
    places: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    texts: dict[Path_, str] = field(default_factory=dict)   # a plain number or bool as written (1.10, not 1.1)
    _seen: set[int] = field(default_factory=set, repr=False, compare=False)
    _source: str = field(default="", repr=False, compare=False)   # the text, while it is built

    def location(self, path: Path_) -> Location:
        """The location of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.places:
                line, col = self.places[p]
                return Location(self.file, line, col, format_path(path))
            p = p[:-1]
        line, col = self.places.get((), (1, 1))
        return Location(self.file, line, col, format_path(path) or None)

    def line_of(self, path: Path_) -> int | None:
        return self.location(path).line


def excerpt(text: object, limit: int = EXCERPT) -> str:
    """At most ``limit`` characters of ``text`` for a message, control and invisible characters
    shown as ``\\xNN`` (so file content can neither flood a log nor forge a line of it)."""
    raw = str(text)
    cut = raw[:limit]
    return confine.shown(cut) + ("..." if len(raw) > limit else "")


def shown_tag(tag: str) -> str:
    """A YAML tag as the file spells it (``tag:yaml.org,2002:binary`` -> ``!!binary``), cut
    short and escaped like any other text from a file (at twice ``EXCERPT``: a tag's name is
    the part that says what was refused, and it comes last)."""
    short = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
    return excerpt(short, 2 * EXCERPT)


def format_path(path: Path_) -> str:
    """('licences', 0, 'versions', 1, 'terms') -> 'licences[0].versions[1].terms'.
    Keys are shown as ``excerpt`` shows them (a hostile key is cut short and escaped)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + excerpt(part)
    return out


def read_bytes(path: str | os.PathLike[str], *, display: str | None = None, max_bytes: int | None = None,
               roots: confine.Roots | None = None, limit_key: str = "file_bytes") -> bytes:
    """The bytes of a regular file, safely: a path refused by a folder walk, a symbolic link
    that leads outside the allowed roots, and anything but a regular file (FIFO, device,
    socket, folder, dangling link, loop) are refused with a located error and never opened;
    the size is checked before reading and at most ``max_bytes`` + 1 bytes are read
    (default: the limit ``limit_key`` in effect, ``limits.current().file_bytes`` unless told)."""
    name = display or confine.shown(path)
    limit: int = max_bytes if max_bytes is not None else getattr(limits.current(), limit_key)
    raw = b"".join(read_chunks(path, display=name, max_bytes=limit, roots=roots, limit_key=limit_key))
    if len(raw) > limit:
        raise InputError([Problem(f"file is larger than {limit} bytes ({limits.hint(limit_key)})", Location(name))])
    return raw


def read_chunks(path: str | os.PathLike[str], *, display: str | None = None, max_bytes: int | None = None,
                roots: confine.Roots | None = None, limit_key: str = "file_bytes", chunk: int = 1 << 20,
                limit_text: str | None = None, start: int = 0) -> Iterator[bytes]:
    """The bytes of a regular file in pieces of at most ``chunk`` bytes, refused and bounded as
    ``read_bytes`` says: the file is checked (and opened) before the first piece, and at most
    ``max_bytes`` + 1 bytes are read in all (the caller sees a file grown past the limit while
    it was read by the total; ``read_bytes`` refuses it). ``limit_text``: how to raise the
    limit, for the message (default ``limits.hint(limit_key)``); ``start``: the byte to start at."""
    name = display or confine.shown(path)
    if isinstance(path, confine.RefusedPath):
        raise InputError([path.problem])

    def fail(message: str) -> InputError:
        return InputError([Problem(message, Location(name))])

    limit: int = max_bytes if max_bytes is not None else getattr(limits.current(), limit_key)
    why = confine.named_problem(path, roots, what="file")
    if why is not None:
        raise fail(why)
    try:
        st = os.stat(path)
    except OSError as exc:
        broken = confine.link_problem(path) if os.path.islink(path) else None
        raise fail(broken or f"cannot read file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise fail(f"{confine.kind_of(st.st_mode)}, not a regular file; not read")
    if st.st_size > limit:
        raise fail(f"file is larger than {limit} bytes ({limit_text or limits.hint(limit_key)})")
    return _chunks(path, fail, limit, chunk, start)


def _chunks(path: str | os.PathLike[str], fail: Callable[[str], InputError], limit: int, chunk: int,
            start: int = 0) -> _Pieces:
    """``read_chunks`` once the path is checked: the file is opened now (not at the first
    ``next``), so an unreadable file fails where ``read_chunks`` is called."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(confine.real(path), flags)
    except OSError as exc:
        raise fail(f"cannot read file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)  # what was opened, not what was looked at (it may have been swapped)
        if not stat.S_ISREG(st.st_mode):
            raise fail(f"{confine.kind_of(st.st_mode)}, not a regular file; not read")
        if start:
            os.lseek(fd, start, os.SEEK_SET)
    except OSError as exc:
        os.close(fd)
        raise fail(f"cannot read file: {exc.strerror or exc}") from None
    except BaseException:
        os.close(fd)
        raise
    return _Pieces(fd, fail, limit, chunk)


class _Pieces:
    """The pieces of an open file; the file is closed at its end, on ``close()``, or when the
    iterator is dropped (a reader that stops early leaves no descriptor open)."""

    def __init__(self, fd: int, fail: Callable[[str], InputError], limit: int, chunk: int) -> None:
        self.fd: int | None = fd
        self.fail, self.left, self.chunk = fail, limit + 1, chunk

    def __iter__(self) -> _Pieces:
        return self

    def __next__(self) -> bytes:
        if self.fd is None or self.left <= 0:
            self.close()
            raise StopIteration
        try:
            piece = os.read(self.fd, min(self.left, self.chunk))
        except OSError as exc:
            self.close()
            raise self.fail(f"cannot read file: {exc.strerror or exc}") from None
        if not piece:
            self.close()
            raise StopIteration
        self.left -= len(piece)
        return piece

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self) -> None:
        self.close()


def read_lines(path: str | os.PathLike[str], *, line_bytes: int, display: str | None = None,
               max_bytes: int | None = None, roots: confine.Roots | None = None, limit_key: str = "file_bytes",
               limit_text: str | None = None, line_text: str = "") -> Iterator[tuple[int, bytes]]:
    """The lines of a regular file, read as ``read_chunks`` reads it, one at a time with their
    1-based numbers, without the line feed that ends them (a carriage return before it is
    kept): memory holds one line (at most ``line_bytes`` bytes; a longer one is refused at its
    line, ``line_text`` saying how to raise the bound) and one piece of the file, whatever the
    file's size. A file over ``max_bytes`` is refused."""
    name = display or confine.shown(path)
    limit: int = max_bytes if max_bytes is not None else getattr(limits.current(), limit_key)
    pieces = read_chunks(path, display=name, max_bytes=limit, roots=roots, limit_key=limit_key,
                         limit_text=limit_text)
    return _lines(pieces, name, limit, line_bytes, limit_text or limits.hint(limit_key), line_text)


def _lines(pieces: Iterator[bytes], name: str, limit: int, line_bytes: int, hint: str,
           line_text: str) -> Iterator[tuple[int, bytes]]:
    number, total = 1, 0
    partial: list[bytes] = []
    held = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            raise InputError([Problem(f"file is larger than {limit} bytes ({hint})", Location(name))])
        at = 0
        while True:
            end = piece.find(b"\n", at)
            if end < 0:
                rest = piece[at:]
                held += len(rest)
                if held > line_bytes:
                    raise _long_line(name, number, line_bytes, line_text)
                if rest:
                    partial.append(rest)
                break
            if held + end - at > line_bytes:
                raise _long_line(name, number, line_bytes, line_text)
            line = b"".join(partial) + piece[at:end] if partial else piece[at:end]
            partial, held = [], 0
            yield number, line
            number += 1
            at = end + 1
    if partial:
        yield number, b"".join(partial)


def _long_line(name: str, number: int, line_bytes: int, line_text: str) -> InputError:
    how = f" ({line_text})" if line_text else ""
    return InputError([Problem(f"line is longer than {line_bytes} bytes{how}", Location(name, number, 1))])


def read_document(path: str | os.PathLike[str], *, display: str | None = None, max_bytes: int | None = None,
                  roots: confine.Roots | None = None, raw: bytes | None = None,
                  limit_key: str = "file_bytes") -> Document:
    """Read a YAML (or JSON) file into a Document, raising InputError with a place (the file
    is read by ``read_bytes``; ``raw``: bytes already read that way)."""
    name = display or str(path)
    if raw is None:
        raw = read_bytes(path, display=name, max_bytes=max_bytes, roots=roots, limit_key=limit_key)
    return document_from_bytes(raw, name)


def document_from_bytes(raw: bytes, name: str) -> Document:
    """Decode (UTF-8, an optional BOM) and parse bytes read from the file ``name``."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        data = bytes(exc.object)  # the bytes after any BOM; exc.start counts from there
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1  # in bytes
        raise InputError([Problem(f"file is not valid UTF-8 (byte {exc.start})", Location(name, line, column))]) from None
    return parse_document(text, name)


def parse_document(text: str, file: str = "<string>") -> Document:
    """Parse YAML/JSON text into a Document."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no file can hold it as UTF-8
        before = text[: exc.start]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        raise InputError([Problem(f"text is not valid Unicode (a lone surrogate at character {exc.start})",
                                  Location(file, line, col))]) from None
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = f"invalid YAML: {excerpt(exc.problem or exc.context or 'syntax error', 120)}"
        if mark is None:
            raise InputError([Problem(msg, Location(file))]) from None
        raise InputError([Problem(msg, Location(file, mark.line + 1, mark.column + 1))]) from None
    except yaml.reader.ReaderError as exc:  # a control or non-printable character
        before = text[: max(exc.position, 0)]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        raise InputError([Problem(f"invalid YAML: character {char!r} is not allowed", Location(file, line, col))]) from None
    except yaml.YAMLError as exc:
        message = " ".join(str(exc).split())
        raise InputError([Problem(f"invalid YAML: {excerpt(message, 120)}", Location(file))]) from None
    doc = Document(file, None)
    if node is None:
        raise InputError([Problem("file is empty", Location(file, 1, 1))])
    doc._source = text
    doc.data = _build(node, (), doc, 0)
    doc._seen.clear()
    doc._source = ""
    return doc


def _place(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _fail(doc: Document, node: yaml.Node, path: Path_, message: str) -> InputError:
    line, col = _place(node)
    return InputError([Problem(message, Location(doc.file, line, col, format_path(path) or None))])


def _build(node: yaml.Node, path: Path_, doc: Document, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise _fail(doc, node, path, f"nesting deeper than {MAX_DEPTH} levels")
    doc.places.setdefault(path, _place(node))
    if id(node) in doc._seen:  # the composer hands back the same node for an alias
        # The node's mark is the anchor's; a mapping value's alias is reported at its key.
        line, col = doc.places[path] if path and isinstance(path[-1], str) else _place(node)
        raise InputError([Problem("YAML anchors and aliases are not allowed",
                                  Location(doc.file, line, col, format_path(path) or None))])
    doc._seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        if node.tag not in (_TAG + "map",):
            raise _fail(doc, node, path, f"unsupported YAML tag {shown_tag(node.tag)}")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise _fail(doc, key_node, path, "YAML merge keys (<<) are not allowed")
            if not isinstance(key_node, yaml.ScalarNode):
                raise _fail(doc, key_node, path, "mapping keys must be plain strings")
            key = str(key_node.value)
            if key in out:
                raise _fail(doc, key_node, path + (key,), f"duplicate key '{excerpt(key)}'")
            doc.places[path + (key,)] = _place(key_node)
            out[key] = _build(value_node, path + (key,), doc, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _TAG + "seq":
            raise _fail(doc, node, path, f"unsupported YAML tag {shown_tag(node.tag)}")
        return [_build(item, path + (i,), doc, depth + 1) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node, path, doc)


def _tagged(node: yaml.ScalarNode, doc: Document) -> bool:
    """Whether the scalar carries an explicit tag (``!!str 123``): its node starts at the ``!``
    (marks count characters, with the C loader and the pure-Python one alike)."""
    at = node.start_mark.index
    return doc._source[at:at + 1] == "!"


def _scalar(node: yaml.ScalarNode, path: Path_, doc: Document) -> Any:
    value: str = node.value
    tag = node.tag
    if tag not in _PLAIN_TAGS:
        raise _fail(doc, node, path, f"unsupported YAML tag {shown_tag(tag)}")
    if node.style in ("'", '"', "|", ">") or (tag == _TAG + "str" and _tagged(node, doc)):
        return value   # quoted, a block, or an explicit !!str: text as written
    if tag == _TAG + "null":
        return None
    if value in ("true", "True", "TRUE"):
        doc.texts[path] = value
        return True
    if value in ("false", "False", "FALSE"):
        doc.texts[path] = value
        return False
    if _INT.match(value) or _FLOAT.match(value):
        doc.texts[path] = value
    if _INT.match(value):
        number = int(value.replace("_", ""))
        if abs(number) > MAX_INT:
            raise _fail(doc, node, path, f"number {value} is too large (the limit is {MAX_INT:,})")
        return number
    if _LEADING_ZERO.match(value):
        return value  # YAML 1.1 would read 010 as octal 8; keep it a string for the schema to reject
    if _FLOAT.match(value) and any(ch.isdigit() for ch in value):
        real = float(value.replace("_", ""))
        if real != real or real in (float("inf"), float("-inf")):
            raise _fail(doc, node, path, "numbers must be finite")
        if abs(real) > MAX_INT:
            raise _fail(doc, node, path, f"number {value} is too large (the limit is {MAX_INT:,})")
        return real
    if tag == _TAG + "float" and value.lower() in (".inf", "-.inf", "+.inf", ".nan"):
        raise _fail(doc, node, path, "numbers must be finite")
    return value


def walk_paths(data: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every (path, value) pair in a parsed document, depth first."""
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk_paths(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from walk_paths(value, path + (i,))
