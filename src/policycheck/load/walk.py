"""The case files of a run: paths named on the command line, folders walked, ``--exclude``.

``case_paths(paths, exclude)`` lists the files to assess, in the order they are named (a
folder's files sorted, hidden ones skipped, as ``iter_case_files``), each file once, ``-``
for standard input. Exclusion patterns:

- a pattern without ``/`` (``*.draft.yaml``, ``drafts``) matches any one component of the
  path: the file name or a folder name;
- a pattern with ``/`` (``cases/drafts/*``) matches the whole path, made absolute (``*``
  also matches ``/``); ``merge`` makes configuration patterns relative to the configuration
  file's folder and command-line ones relative to the working directory.

Exclusions apply to files named on the command line too, so a pre-commit hook (which names
the changed files) honours the configuration's ``exclude``.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from policycheck.load.cases import iter_case_files

STDIN = "-"


@dataclass
class Walk:
    """The files to read, as the walk gave them (a path the walk refuses to read stays the
    walk's object, so loading it reports the walk's reason), and how many were excluded."""

    files: list[str | Path] = field(default_factory=list)
    excluded: int = 0


def excluded(path: str, patterns: Sequence[str]) -> bool:
    if not patterns:
        return False
    parts = PurePosixPath(Path(path).as_posix()).parts
    absolute: str | None = None
    for pattern in patterns:
        if "/" in pattern:
            if absolute is None:
                absolute = Path(os.path.abspath(path)).as_posix()
            if fnmatch.fnmatchcase(absolute, pattern) or fnmatch.fnmatchcase(absolute, pattern.rstrip("/") + "/*"):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def case_paths(paths: Sequence[str], exclude: Sequence[str] = ()) -> Walk:
    """The files to assess (see the module docstring), as the strings shown in messages."""
    walk = Walk()
    seen: set[str] = set()
    for raw in paths:
        if raw == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                walk.files.append(STDIN)
            continue
        for f in iter_case_files([raw]):
            name = str(f)
            key = os.path.realpath(name)
            if key in seen:
                continue
            seen.add(key)
            if excluded(name, exclude):
                walk.excluded += 1
                continue
            walk.files.append(f)
    return walk
