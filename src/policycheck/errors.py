"""The error hierarchy. Every error a user can cause is a PolicycheckError with a place.

Only the CLI turns these into one-line messages and exit codes; the library raises them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from policycheck.render.terminal import escape


@dataclass(frozen=True)
class Location:
    """Where an error is: file, 1-based line and column, and the field path inside the document."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def prefix(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class Problem:
    """One problem found in one place; an error may carry many (one line each)."""

    message: str
    location: Location = field(default_factory=Location)
    suggestion: str | None = None

    def render(self) -> str:
        """The problem as one line: ``FILE[:LINE[:COL]]: [PATH: ]MESSAGE``, with every newline,
        control character and undecodable file-name byte shown as a visible escape (a file
        name holding a newline cannot start a second ``error:`` line)."""
        text = f"{self.location.prefix()}: "
        if self.location.path:
            text += f"{self.location.path}: "
        text += self.message
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return escape(text, one_line=True)


class PolicycheckError(Exception):
    """Base of every error policycheck raises on purpose."""

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(p.render() for p in self.problems))

    def lines(self) -> list[str]:
        return [p.render() for p in self.problems]


class InputError(PolicycheckError):
    """A file a user wrote is malformed (bad YAML, schema violation, bad reference)."""


class CaseLoadError(InputError):
    """A case file could not be loaded."""


class RuleLoadError(InputError):
    """A rule file could not be loaded or fails validation against the fact vocabulary."""


class EngineError(PolicycheckError):
    """The rule engine failed or refused input; not the user's fault unless stated."""


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The nearest valid name, or None when nothing is close."""
    found = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return found[0] if found else None
