"""Terminal styling for the table: colour by severity and status, and the width to wrap to.

The renderers never look at the environment; the CLI decides (``colour_wanted``,
``terminal_width``) and hands a ``Style`` and a width to the table writer. Colour is ANSI SGR
only (no cursor movement), so a log that keeps it still reads.

Text from case files, rule packs and file names is escaped before it is printed (``escape``,
``escaped``): control characters, bidi overrides and undecodable file-name bytes appear as
visible escapes (``\\x1b``, ``\\u202e``, ``\\xff``), so a case cannot move the cursor, forge a
line, hide a link (OSC 8) or reorder what the reader sees. ``encodable`` does the least of it
(undecodable file-name bytes only) for the formats that escape the rest themselves.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any, TypeVar

_RESET = "\x1b[0m"
_SEVERITY = {"high": "\x1b[1;31m", "medium": "\x1b[33m", "low": "\x1b[36m", "info": "\x1b[2m"}
_STATUS = {"concern": "\x1b[1;31m", "watch": "\x1b[33m", "no concern found": "\x1b[32m",
           "not assessed": "\x1b[2;3m", "not applicable": "\x1b[2m"}
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 72, 160, 100

# C0 and C1 controls (ESC, BEL, CSI ...), DEL, bidi marks, overrides and isolates, and
# surrogates (a file name that is not UTF-8 decodes to U+DC80..U+DCFF).
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE_TEXT = re.compile(f"[{_UNSAFE}]")
_UNSAFE_LINE = re.compile(f"[\t\n{_UNSAFE}]")
M = TypeVar("M")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:       # an undecodable byte of a file name: show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str, *, one_line: bool = False) -> str:
    """``text`` safe to print on a terminal: every control character, bidi override and
    surrogate shown as a visible escape (``\\x1b``, ``\\u202e``; an undecodable file-name byte
    as ``\\xff``). Newlines and tabs are kept unless ``one_line`` (error lines)."""
    return (_UNSAFE_LINE if one_line else _UNSAFE_TEXT).sub(_visible, text)


def escaped(value: M) -> M:
    """A copy of ``value`` (a pydantic model, dataclass, list, tuple, dict or string) with every
    string escaped by ``escape``; the terminal renderers apply it to case data before formatting."""
    return _walk(value, _UNSAFE_TEXT)  # type: ignore[no-any-return]


def encodable(value: M) -> M:
    """A copy of ``value`` (as ``escaped``) whose strings can be written as UTF-8: only the
    surrogates of a file name that is not UTF-8 are replaced (``bad\\xff.yaml``), everything
    else is kept for the renderers that escape it their own way (JSON, XML, HTML)."""
    return _walk(value, _SURROGATE)  # type: ignore[no-any-return]


_SURROGATE = re.compile("[\ud800-\udfff]")


def _walk(value: Any, unsafe: re.Pattern[str]) -> Any:
    from pydantic import BaseModel

    if isinstance(value, str):
        return unsafe.sub(_visible, value) if unsafe.search(value) else value
    if isinstance(value, BaseModel):
        update = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = _walk(old, unsafe)
            if new is not old:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = _walk(old, unsafe)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, (list, tuple)):
        items = [_walk(v, unsafe) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        new_dict = {k: _walk(v, unsafe) for k, v in value.items()}
        return value if all(new_dict[k] is v for k, v in value.items()) else new_dict
    return value


@dataclass(frozen=True)
class Style:
    colour: bool = False

    def _paint(self, code: str | None, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.colour and code and text else text

    def severity(self, text: str, severity: str | None = None) -> str:
        """``text`` in the colour of ``severity`` (default: ``text`` is the severity word)."""
        return self._paint(_SEVERITY.get(severity or text.rstrip("*")), text)

    def status(self, text: str) -> str:
        return self._paint(_STATUS.get(text), text)

    def bold(self, text: str) -> str:
        return self._paint("\x1b[1m", text)

    def dim(self, text: str) -> str:
        return self._paint("\x1b[2m", text)


PLAIN = Style()


def colour_wanted(stream: IO[str], *, no_color: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    """Colour for ``stream``: only on a terminal, never with ``--no-color`` or ``NO_COLOR`` set
    to anything non-empty (https://no-color.org), nor with ``TERM=dumb``."""
    env = os.environ if environ is None else environ
    if no_color or env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width(stream: IO[str]) -> int:
    """The width to wrap the table to: the terminal's (between 72 and 160 columns) when
    ``stream`` is a terminal, else 100 (files, pipes and CI logs get the same layout)."""
    try:
        if not stream.isatty():
            return DEFAULT_WIDTH
    except (AttributeError, ValueError):
        return DEFAULT_WIDTH
    columns = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return max(MIN_WIDTH, min(MAX_WIDTH, columns))


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide (CJK) characters two, combining marks none.
    ANSI colour codes are not counted."""
    plain = _SGR.sub("", text)
    if plain.isascii():
        return len(plain)
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in plain)


_SGR = re.compile("\x1b\\[[0-9;]*m")


def _head(word: str, room: int) -> tuple[str, str]:
    """The start of ``word`` that fits in ``room`` columns (after its last hyphen that fits, if
    that keeps at least a third of the room; at least one character) and the rest."""
    used, fit = 0, 0
    for ch in word:
        w = display_width(ch)
        if used + w > room:
            break
        used, fit = used + w, fit + 1
    fit = max(fit, 1)
    cut = word.rfind("-", 0, fit)
    if cut + 1 >= max(1, room // 3) and cut + 1 < len(word):
        fit = cut + 1
    return word[:fit], word[fit:]


def wrap(text: str, width: int, *, indent: str = "", break_long: bool = True) -> list[str]:
    """``text`` wrapped to ``width`` terminal columns, each paragraph (``\\n``) on its own
    lines: a word is never split at its hyphens unless it is longer than a line (then after a
    hyphen where one fits, else at the width; ``break_long=False`` keeps it whole). Every line
    but the first starts with ``indent``. Wide characters count two columns."""
    out: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            while word:
                lead = indent if out else ""
                sep = " " if line else ""
                room = width - display_width(lead + line + sep)
                if display_width(word) <= room:
                    line, word = line + sep + word, ""
                elif line:
                    out.append(lead + line)
                    line = ""
                elif not break_long:
                    line, word = word, ""
                else:
                    head, word = _head(word, room)
                    out.append(lead + head)
        out.append((indent if out else "") + line)
    return out
