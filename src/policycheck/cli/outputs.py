"""Where a run's reports go: ``-o/--output [FORMAT:]FILE`` specs, atomic output files, the
progress bar, and signals (Ctrl-C exits 130, SIGTERM 143, and no temporary file is left).

Output files are written atomically: a temporary file ``.policycheck-*.tmp`` in the target's
folder receives the report as it is written, case by case, and replaces the target only when
the run completes (``os.replace``). A new file gets the permissions the umask allows (0666 &
~umask), an existing file keeps its own. A target that exists and is not a regular file (a
directory, a device, a FIFO, a socket, a symbolic link) is refused before anything runs. On an
error, Ctrl-C or SIGTERM the temporary files are removed and the targets are left as they were.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

import click

STDOUT = "-"


@dataclass(frozen=True)
class OutputSpec:
    fmt: str
    target: str          # a path, or "-" for stdout


def parse_outputs(values: Sequence[str], main_format: str, formats: Sequence[str]) -> list[OutputSpec]:
    """The outputs of a run from ``-o`` values: ``FILE`` sends the ``--format`` output to FILE
    instead of stdout; ``FORMAT:FILE`` adds an output (``FORMAT:-`` is stdout). Without a bare
    FILE the ``--format`` output goes to stdout. Raises click.UsageError for two outputs on
    stdout, two bare FILEs or one file named twice."""
    bare: list[str] = []
    extra: list[OutputSpec] = []
    for value in values:
        head, sep, rest = value.partition(":")
        if sep and head.lower() in formats and rest:
            extra.append(OutputSpec(head.lower(), rest))
        elif sep and head.lower() in formats:
            raise click.UsageError(f"-o {value!r}: give a file after '{head}:' ('{head}:-' for stdout)")
        else:
            bare.append(value)
    if len(bare) > 1:
        raise click.UsageError(f"-o given {len(bare)} plain files ({', '.join(bare)}); only one can take the "
                               "--format output: name the others FORMAT:FILE")
    specs = [OutputSpec(main_format, bare[0] if bare else STDOUT)] + extra
    on_stdout = [s for s in specs if s.target == STDOUT]
    if len(on_stdout) > 1:
        raise click.UsageError("two outputs on stdout (" + ", ".join(s.fmt for s in on_stdout)
                               + "): send all but one to files, e.g. -o sarif:report.sarif")
    seen: dict[str, str] = {}
    for s in specs:
        if s.target == STDOUT:
            continue
        key = os.path.abspath(s.target)
        if key in seen:
            raise click.UsageError(f"-o {s.target!r} is named twice ({seen[key]} and {s.fmt})")
        seen[key] = s.fmt
    return specs


def umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicFile:
    """An output file written through a temporary file in the same folder. ``commit()``
    renames it over the target; ``discard()`` removes it. Raises OSError (with a reason) for a
    target that cannot be written."""

    def __init__(self, target: str) -> None:
        self.target = target
        path = Path(target)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            mode = 0o666 & ~umask()
        else:
            if stat.S_ISLNK(st.st_mode):
                raise OSError("is a symbolic link; write to the file it points to instead")
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"is {_kind(st.st_mode)}, not a regular file")
            mode = stat.S_IMODE(st.st_mode)
        fd, self.tmp = tempfile.mkstemp(dir=str(path.parent) if str(path.parent) else ".", prefix=".policycheck-",
                                        suffix=".tmp")
        _LIVE.add(self.tmp)
        try:
            os.fchmod(fd, mode)
            self.handle: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="")
        except BaseException:   # Ctrl-C may land after fdopen took the fd (it is then closed with
            try:                 # the file object): closing it again must not mask the interrupt
                os.close(fd)
            except OSError:
                pass
            self.discard()
            raise

    def commit(self) -> None:
        self.handle.close()
        os.replace(self.tmp, self.target)
        _LIVE.discard(self.tmp)

    def discard(self) -> None:
        """Remove the temporary file (a no-op after ``commit``)."""
        try:
            handle = getattr(self, "handle", None)
            if handle is not None and not handle.closed:
                handle.close()
        finally:
            if self.tmp in _LIVE:
                Path(self.tmp).unlink(missing_ok=True)
                _LIVE.discard(self.tmp)


_LIVE: set[str] = set()   # temporary files not yet committed or removed (for signal handlers)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


class Terminated(BaseException):
    """SIGTERM (or SIGHUP) arrived: unwind like Ctrl-C, removing temporary files on the way."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def signals_unwind() -> Iterator[None]:
    """While the run writes: SIGTERM and SIGHUP raise Terminated (so ``finally`` blocks remove
    temporary files); afterwards the previous handlers are back."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous: dict[signal.Signals, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                previous[sig] = signal.signal(sig, handler)
            except (ValueError, OSError):  # not the main thread, or no such signal
                pass
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Progress:
    """A one-line progress bar on stderr: only on a terminal, only once the run has taken more
    than ``after`` seconds (POLICYCHECK_PROGRESS_AFTER overrides, for tests), redrawn at most
    ten times a second, and erased before anything else is written to the terminal."""

    def __init__(self, enabled: bool, stream: IO[str] | None = None, after: float | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        env = os.environ.get("POLICYCHECK_PROGRESS_AFTER")
        self.after = after if after is not None else (float(env) if env else 1.0)
        self.enabled = enabled
        self.start = time.monotonic()
        self.drawn = False
        self.last = 0.0
        self.total = 0
        self.label = ""

    def stage(self, label: str, total: int) -> None:
        self.label, self.total = label, total

    def update(self, done: int, name: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.after or (self.drawn and now - self.last < 0.1 and done < self.total):
            return
        self.last = now
        width = max(20, min(100, _columns(self.stream)) - 1)
        total = max(self.total, 1)
        bar_width = 24
        filled = bar_width * min(done, total) // total
        line = f"{self.label} [{'#' * filled}{'.' * (bar_width - filled)}] {done}/{self.total} {name}"
        self.stream.write("\r" + line[:width] + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False


def _columns(stream: IO[str]) -> int:
    """The terminal's width (COLUMNS when set, else the terminal's own, else 80)."""
    if os.environ.get("COLUMNS", "").isdigit() and int(os.environ["COLUMNS"]) > 0:
        return int(os.environ["COLUMNS"])
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


class Console:
    """stdout for streamed reports: erases the progress bar before each write."""

    def __init__(self, stream: IO[str], progress: Progress) -> None:
        self.stream, self.progress = stream, progress

    def write(self, text: str) -> int:
        self.progress.clear()
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False
