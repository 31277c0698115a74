"""Terminal styling for the table: colour by severity and status, and the width to wrap to.

The renderers never look at the environment; the CLI decides (``colour_wanted``,
``terminal_width``) and hands a ``Style`` and a width to the table writer. Colour is ANSI SGR
only (no cursor movement), so a log that keeps it still reads.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

_RESET = "\x1b[0m"
_SEVERITY = {"high": "\x1b[1;31m", "medium": "\x1b[33m", "low": "\x1b[36m", "info": "\x1b[2m"}
_STATUS = {"concern": "\x1b[1;31m", "watch": "\x1b[33m", "no concern found": "\x1b[32m",
           "not assessed": "\x1b[2;3m", "not applicable": "\x1b[2m"}
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 72, 160, 100


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
