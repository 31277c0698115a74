"""Where the tool may read: allowed roots, safe folder walks and the kind of each entry.

Case files, fixtures and configuration arrive in pull requests from people the reviewer does
not control (docs/security.md), so a symbolic link in them may point anywhere on the runner.
Every path read from a file or found by a folder walk must *resolve* (symbolic links followed)
inside an allowed root:

* the repository: the nearest folder at or above the working directory holding ``.git``;
* the folder of the configuration file in effect (found the same way);
* the folder the bundled rule pack ships in;
* every folder (or file) named on the command line, once it is itself allowed (below);
* folders listed in the ``POLICYCHECK_ALLOW`` environment variable (separated by ``:``), for
  a trusted runner that keeps shared cases or rules elsewhere. The configuration file cannot
  widen the roots: it is untrusted input too.

A path named directly (on the command line, or a folder given to a library function) is
allowed when no symbolic link on it leads outside its own folder, the repository or the
allowed folders: ``cases/x.yaml -> /etc/shadow`` is refused, ``/srv/cases/x.yaml`` is read.
The filesystem root is never walked.

Only regular files are read. A folder walk reports, with its reason, every entry it cannot use
(FIFOs, sockets and devices, dangling links, link loops, links leading outside the roots,
folders named like a case file, folders it cannot read) instead of skipping it silently; entries
whose names start with ``.`` are skipped on purpose (``.git`` and the like).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PosixPath

from policycheck.errors import Location, Problem

ALLOW_ENV = "POLICYCHECK_ALLOW"
_CONFIG_NAMES = (".policycheck.yaml", ".policycheck.yml", "pyproject.toml")


def real(path: str | os.PathLike[str]) -> Path:
    """The path with every symbolic link resolved (never raises on loops or missing targets)."""
    return Path(os.path.realpath(path))


def inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def shown(path: str | os.PathLike[str]) -> str:
    """A path as text for messages: bytes that are not UTF-8 and control characters escaped
    (a file name can never forge a line of output)."""
    text = os.fspath(path)
    if text.isprintable():  # no control, format (bidi), surrogate or unassigned character
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:          # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0 or ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _repository(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _config_folder(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if any((folder / name).is_file() for name in _CONFIG_NAMES):
            return folder
        if (folder / ".git").exists():
            return None
    return None


def bundled_pack_dir() -> Path | None:
    """Where the bundled rule pack ships: inside the wheel (``policycheck/_bundled_rules``) or
    the source checkout's ``rules/``; None when neither is there. Found here, not through
    ``load.rules`` (a later stage, which itself reads through this module)."""
    packaged = resources.files("policycheck") / "_bundled_rules"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "rules"
    return checkout if checkout.is_dir() else None


def _bundled() -> list[Path]:
    found = bundled_pack_dir()
    if found is None:  # pragma: no cover - an installation without its rule pack
        return []
    pack = real(found)
    # a source checkout: the bundled fixtures name the checkout's cases (../../cases/...)
    return [pack.parent] if (pack.parent / "cases").is_dir() else [pack]


def env_roots() -> list[Path]:
    value = os.environ.get(ALLOW_ENV, "")
    return [real(p) for p in value.split(os.pathsep) if p.strip()]


_CACHE: dict[tuple[str, str], tuple[Path, ...]] = {}


def project_roots(start: str | os.PathLike[str] | None = None) -> list[Path]:
    """The roots that do not depend on the paths named: repository, configuration folder,
    bundled pack and ``POLICYCHECK_ALLOW`` (all resolved; cached per folder and variable)."""
    here = real(start or os.getcwd())
    key = (str(here), os.environ.get(ALLOW_ENV, ""))
    cached = _CACHE.get(key)
    if cached is None:
        found = [p for p in (_repository(here), _config_folder(here)) if p is not None]
        cached = tuple(dict.fromkeys([*(real(f) for f in found), *_bundled(), *env_roots()]))
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = cached
    return list(cached)


def through_link(path: str | os.PathLike[str]) -> bool:
    """Whether resolving ``path`` follows a symbolic link anywhere on it."""
    return real(path) != Path(os.path.normpath(os.path.abspath(path)))


@dataclass(frozen=True)
class Roots:
    """Allowed roots (resolved folders, or files)."""

    folders: tuple[Path, ...]

    @classmethod
    def default(cls, *named: str | os.PathLike[str]) -> Roots:
        """The project's roots and the given paths' own (resolved) folders."""
        extra = [real(n) for n in named]
        return cls(tuple(dict.fromkeys([*project_roots(), *extra])))

    def allows(self, target: Path) -> bool:
        return any(inside(target, root) for root in self.folders)

    def with_(self, *more: Path) -> Roots:
        return Roots(tuple(dict.fromkeys([*self.folders, *more])))


def named_problem(path: str | os.PathLike[str], roots: Roots | None = None, *, what: str = "path") -> str | None:
    """Why a path named directly may not be read (None when it may): a symbolic link on it
    leads outside its own folder, the repository and the allowed folders."""
    if not through_link(path):
        return None
    target = real(path)
    parent = real(Path(os.path.abspath(path)).parent)
    allowed = (roots or Roots.default()).with_(parent)
    if allowed.allows(target):
        return None
    return (f"this {what} is reached through a symbolic link that leads outside the repository and the allowed "
            f"folders; not read (add the target's folder to {ALLOW_ENV} to allow it)")


def is_filesystem_root(path: str | os.PathLike[str]) -> bool:
    p = real(path)
    return p == Path(p.anchor)


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def link_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a symbolic link cannot be followed: dangling, or a loop (None when it can)."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop; not read"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "dangling symbolic link (its target does not exist); not read"
        return f"cannot follow the symbolic link: {exc.strerror or exc}"
    return None


class RefusedPath(PosixPath):
    """A path a folder walk found but may not read, with the reason (a ``Problem``).

    Loaders that receive one raise its problem instead of opening it, so a walk's findings
    reach the user through the same error list as every other problem."""

    problem: Problem

    @classmethod
    def of(cls, path: str | os.PathLike[str], message: str) -> RefusedPath:
        out = cls(path)
        out.problem = Problem(message, Location(shown(path)))
        return out


@dataclass
class Walk:
    """What a walk found: the files to read (in order) and the entries refused, with reasons."""

    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    refused: list[RefusedPath] = field(default_factory=list)

    def refuse(self, path: Path, message: str) -> None:
        r = RefusedPath.of(path, message)
        self.refused.append(r)
        self.problems.append(r.problem)

    def entries(self) -> list[Path]:
        """Files and refused entries together, sorted by path (a refused entry is a RefusedPath)."""
        return sorted([*self.files, *self.refused], key=lambda p: os.fsencode(p))


Skip = Callable[[tuple[str, ...]], bool]


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part.startswith(".") for part in parts)


def walk(folder: str | os.PathLike[str], suffixes: Sequence[str], *, roots: Roots | None = None,
         skip: Skip = _hidden, max_entries: int | None = None, what: str = "case file") -> Walk:
    """The files under ``folder`` whose names end with one of ``suffixes``, sorted, and every
    entry that looks like one but cannot be read, with its reason. Symbolic links are followed
    only while they stay inside ``roots`` (default: the project's roots and ``folder``);
    a folder is entered once (links back to a folder being walked are loops)."""
    from policycheck import limits

    top = Path(folder)
    budget = max_entries if max_entries is not None else limits.current().files
    allowed = (roots or Roots.default()).with_(real(top))
    out = Walk()
    seen: set[tuple[int, int]] = set()
    count = 0

    def matches(name: str) -> bool:
        return name.endswith(tuple(suffixes))

    def visit(here: Path, rel: tuple[str, ...], chain: frozenset[tuple[int, int]]) -> bool:
        nonlocal count
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            out.refuse(here, f"cannot read this folder: {exc.strerror or exc}; its files are not assessed")
            return True
        for entry in entries:
            parts = rel + (entry.name,)
            if skip(parts):
                continue
            count += 1
            if count > budget:
                out.refuse(top, f"more than {budget:,} entries under this folder; the rest are not read "
                                f"({limits.hint('files')})")
                return False
            path = here / entry.name
            try:
                is_link = entry.is_symlink()
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as exc:
                out.refuse(path, f"cannot read this entry: {exc.strerror or exc}")
                continue
            if is_link:
                broken = link_problem(path)
                if broken is not None:
                    if matches(entry.name) or "." not in entry.name:
                        out.refuse(path, broken)
                    continue
                target = real(path)
                try:
                    st = os.stat(path)
                except OSError as exc:  # pragma: no cover - vanished between the two calls
                    out.refuse(path, f"cannot read this entry: {exc.strerror or exc}")
                    continue
                if not allowed.allows(target):
                    if matches(entry.name) or stat.S_ISDIR(st.st_mode):
                        out.refuse(path, "symbolic link leads outside the repository and the allowed folders; not read "
                                         f"(add the target's folder to {ALLOW_ENV} to allow it)")
                    continue
                mode = st.st_mode
            if stat.S_ISDIR(mode):
                try:
                    st = os.stat(path)
                except OSError as exc:  # pragma: no cover - vanished meanwhile
                    out.refuse(path, f"cannot read this folder: {exc.strerror or exc}")
                    continue
                key = (st.st_dev, st.st_ino)
                if key in chain:
                    out.refuse(path, "symbolic link loop (leads back to a folder being walked); not followed")
                    continue
                if matches(entry.name):
                    out.refuse(path, f"a folder named like a {what}; its files are walked, the folder itself is not "
                                     "a file")
                if key in seen:
                    continue
                seen.add(key)
                if not visit(path, parts, chain | {key}):
                    return False
            elif matches(entry.name):
                if stat.S_ISREG(mode):
                    out.files.append(path)
                else:
                    out.refuse(path, f"{kind_of(mode)}, not a regular file; not read")
        return True

    try:
        st = os.stat(top)
    except OSError as exc:
        out.refuse(top, f"cannot read this folder: {exc.strerror or exc}")
        return out
    seen.add((st.st_dev, st.st_ino))
    visit(top, (), frozenset({(st.st_dev, st.st_ino)}))
    return out


def describe(path: str | os.PathLike[str]) -> str | None:
    """Why a named path cannot be read as a file (None: it is a regular file, or absent)."""
    try:
        os.lstat(path)
    except OSError:
        return None
    broken = link_problem(path)
    if broken is not None:
        return broken
    mode = os.stat(path).st_mode
    return None if stat.S_ISREG(mode) else f"{kind_of(mode)}, not a regular file; not read"


def dedupe(paths: Iterable[Path]) -> list[Path]:
    """Paths in order, each resolved target once."""
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths:
        key = real(p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


__all__ = ["ALLOW_ENV", "RefusedPath", "Roots", "Walk", "describe", "inside", "is_filesystem_root", "kind_of",
           "named_problem", "project_roots", "real", "shown", "walk"]
