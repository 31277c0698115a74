"""Writers: every output format written case by case, in memory that does not grow with the run.

A writer gets ``begin(out, head)`` once, then ``problem(error)`` for each file that could not
be assessed and ``case(case)`` for each assessed case (in the order they are to appear), then
``end(tail)``. It writes text to ``out`` (a file, stdout, a StringIO); it never prints and
never picks exit codes (the CLI does).

Formats whose document puts end-of-run data first (the Markdown and HTML summary matrix,
the JUnit totals, SARIF's notifications and run properties, which sort before its results)
write the per-case parts to a *spool* (a temporary file, in memory while small) as cases
arrive, keep only a line or two per case in memory, and assemble the document at ``end``.
The bytes are exactly those of the whole-document renderers (``render(result)``, which run a
writer over an Assessment), so the API, the CLI and the goldens agree.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

from policycheck.model.assessment import Assessment, CaseAssessment, FileError, PackInfo, Review

if TYPE_CHECKING:
    from policycheck.load.rules import RulePack

SPOOL_IN_MEMORY = 1 << 20   # bytes a spool keeps in memory before it moves to a temporary file


@dataclass(frozen=True)
class Head:
    """What every writer knows before the first case."""

    tool: str
    version: str
    rule_pack: PackInfo
    pack: RulePack | None = None
    baseline: bool = False          # a baseline is in use (SARIF marks results new / unchanged)


@dataclass(frozen=True)
class Tail:
    """What every writer knows only at the end of the run."""

    summary: str
    review: Review | None = None
    errors: Sequence[FileError] = field(default_factory=tuple)


class Writer(Protocol):
    def begin(self, out: IO[str], head: Head) -> None: ...

    def problem(self, error: FileError) -> None: ...

    def case(self, case: CaseAssessment) -> None: ...

    def end(self, tail: Tail) -> None: ...


def head_of(result: Assessment, pack: RulePack | None = None) -> Head:
    return Head(result.tool, result.version, result.rule_pack, pack,
                baseline=result.review is not None and result.review.baseline is not None)


def tail_of(result: Assessment) -> Tail:
    return Tail(result.summary, result.review, tuple(result.errors))


def render_with(writer: Writer, result: Assessment, pack: RulePack | None = None) -> str:
    """A whole Assessment through a writer, as one string (what ``render(result)`` returns)."""
    out = io.StringIO()
    writer.begin(out, head_of(result, pack))
    for error in result.errors:
        writer.problem(error)
    for case in result.cases:
        writer.case(case)
    writer.end(tail_of(result))
    return out.getvalue()


class Spool:
    """Text written now and copied out later: in memory while small, then a temporary file
    (deleted when closed, and by the OS if the process dies)."""

    def __init__(self) -> None:
        self._file: IO[str] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed in copy_to/close
            max_size=SPOOL_IN_MEMORY, mode="w+", encoding="utf-8", newline="")
        self.empty = True

    def write(self, text: str) -> None:
        if text:
            self.empty = False
            self._file.write(text)

    def rewind(self) -> IO[str]:
        """The spool for reading from the start (``read(n)`` reads n characters)."""
        self._file.flush()
        self._file.seek(0)
        return self._file

    def copy_to(self, out: IO[str]) -> None:
        self._file.flush()
        self._file.seek(0)
        shutil.copyfileobj(self._file, out, 1 << 16)
        self.close()

    def close(self) -> None:
        self._file.close()


def dump(value: Any) -> str:
    """Stable JSON as every policycheck JSON output writes it (sorted keys, two-space indent)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def indent(text: str, depth: int) -> str:
    """``text`` (a dump) as it appears ``depth`` levels deep in a larger dump."""
    return text.replace("\n", "\n" + "  " * depth)


class JsonList:
    """One list of a JSON document, written item by item (to a spool by default, or straight to
    ``target``): ``depth`` is the nesting level of the list's items in the whole document (as
    ``json.dumps(indent=2)`` lays it out)."""

    def __init__(self, depth: int, target: IO[str] | None = None) -> None:
        self.depth = depth
        self.spool = Spool() if target is None else None
        self.target: IO[str] | Spool = target if target is not None else self.spool  # type: ignore[assignment]
        self.count = 0

    def add(self, value: Any) -> None:
        self.add_text(dump(value))

    def add_text(self, dumped: str) -> None:
        """An item already dumped with ``dump``."""
        pad = "  " * self.depth
        self.target.write(("," if self.count else "") + "\n" + pad + indent(dumped, self.depth))
        self.count += 1

    def write_to(self, out: IO[str]) -> None:
        """The list as ``json.dumps`` writes it in place: ``[]`` or ``[\\n  item,\\n  item\\n]``."""
        if self.spool is None:
            raise ValueError("a list written straight to its target is closed with close()")
        if not self.count:
            out.write("[]")
            self.spool.close()
            return
        out.write("[")
        self.spool.copy_to(out)
        out.write("\n" + "  " * (self.depth - 1) + "]")

    def append_list(self, other: JsonList) -> None:
        """Add the items of ``other`` (a spooled list of the same depth) after this one's."""
        if other.spool is None or self.spool is None:
            raise ValueError("only spooled lists can be joined")
        if other.count:
            if self.count:
                self.spool.write(",")
            other.spool.copy_to(self.spool)  # type: ignore[arg-type]
            self.spool.empty = False
            self.count += other.count
        else:
            other.spool.close()

    def open(self) -> None:
        """Start a list written straight to its target."""
        self.target.write("[")

    def close(self) -> None:
        """End a list written straight to its target."""
        self.target.write("]" if not self.count else "\n" + "  " * (self.depth - 1) + "]")


def splice(skeleton: Any, lists: dict[str, JsonList], out: IO[str]) -> None:
    """Write ``dump(skeleton) + "\\n"`` with each placeholder string (a key of ``lists``, used as
    a value in ``skeleton``) replaced by its list: the bytes ``json.dumps`` gives for the whole
    document, without ever holding the lists in memory."""
    text = dump(skeleton) + "\n"
    for piece, name in _pieces(text, lists):
        out.write(piece)
        if name is not None:
            lists[name].write_to(out)


def _pieces(text: str, lists: dict[str, JsonList]) -> Iterator[tuple[str, str | None]]:
    marks = sorted((text.index(json.dumps(name)), name) for name in lists)
    at = 0
    for pos, name in marks:
        yield text[at:pos], name
        at = pos + len(json.dumps(name))
    yield text[at:], None
