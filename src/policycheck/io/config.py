"""Project configuration: ``.policycheck.yaml`` or ``[tool.policycheck]`` in ``pyproject.toml``.

Found by walking up from the working directory; in each folder ``.policycheck.yaml`` (or
``.yml``) is tried before ``pyproject.toml``, and a ``pyproject.toml`` without a
``[tool.policycheck]`` table does not count. The walk stops at the first folder holding a
``.git`` entry (the project root). Paths in the file are relative to the file's folder::

    # .policycheck.yaml                  # pyproject.toml
    rules: [policy/rules]                # [tool.policycheck]
    bundled: true                        # rules = ["policy/rules"]
    fail_on: medium                      # fail_on = "medium"
    waivers: policy/waivers.yaml         # waivers = "policy/waivers.yaml"
    baseline: policy/baseline.json       # baseline = "policy/baseline.json"
    format: table                        # format = "table"
    limits: {versions: 200}              # [tool.policycheck.limits] versions = 200
    select_rules: ["output-*"]           # select_rules = ["output-*"]     (--rule)
    skip_rules: [gated-weights]          # skip_rules = ["gated-weights"]  (--skip-rule)
    families: [licence-terms]            # families = ["licence-terms"]    (--family)
    conditions: [C3]                     # conditions = ["C3"]             (--condition)
    exclude: ["drafts/*"]                # exclude = ["drafts/*"]          (--exclude; with a /: from this folder)
    min_severity: low                    # min_severity = "low"            (--min-severity)
    markdown_limit: 65000                # markdown_limit = 65000          (--markdown-limit; 0: no limit)

Command-line options win over the file; ``--rules`` given on the command line replaces
the file's ``rules`` list. ``limits`` changes the limits of ``policycheck.limits`` (each
documented there and in docs/security.md).

The paths in the file (``rules``, ``waivers``, ``baseline``) must resolve, symbolic links
followed, inside the file's folder or the repository (or a folder in ``POLICYCHECK_ALLOW``):
the file may come from an untrusted pull request, and must not make the tool read, say,
``/etc/shadow`` as a waivers file (``io.confine``).
"""

from __future__ import annotations

import os
import posixpath
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policycheck import limits as _limits
from policycheck.errors import InputError, Location, Problem
from policycheck.model.rule import Severity
from policycheck.io import confine
from policycheck.io.schema_errors import validate_document
from policycheck.io.reader import Document, read_bytes, read_document

FORMATS = ("table", "json", "jsonl", "markdown", "sarif", "junit", "html", "github")
Format = Literal["table", "json", "jsonl", "markdown", "sarif", "junit", "html", "github"]
YAML_NAMES = (".policycheck.yaml", ".policycheck.yml")
PYPROJECT = "pyproject.toml"
TABLE = "tool.policycheck"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    rules: list[str] = Field(default_factory=list, description="Extra rule folders")
    bundled: bool = Field(default=True, description="Use the bundled rule pack as well")
    fail_on: Severity | None = None
    waivers: str | None = None
    baseline: str | None = None
    format: Format | None = None
    limits: dict[str, int] = Field(default_factory=dict, description="Limits to change (policycheck.limits)")
    select_rules: list[str] = Field(default_factory=list, description="Run only these rule ids or globs (--rule)")
    skip_rules: list[str] = Field(default_factory=list, description="Do not run these rule ids or globs (--skip-rule)")
    families: list[str] = Field(default_factory=list, description="Run only the rules of these families (--family)")
    conditions: list[str] = Field(default_factory=list, description="Run only rules tagged with these (--condition)")
    exclude: list[str] = Field(default_factory=list, description="Case paths to leave out, as globs (--exclude)")
    min_severity: Severity | None = Field(default=None, description="Show only flags at or above (--min-severity)")
    markdown_limit: int | None = Field(default=None, ge=0, description="Markdown size limit in characters; 0: none")

    @model_validator(mode="after")
    def _some_rules(self) -> Settings:
        if not self.bundled and not self.rules:
            raise ValueError("'bundled: false' needs at least one folder in 'rules'")
        return self


@dataclass(frozen=True)
class Config:
    """Settings and the file they came from (``file`` is None when no configuration was found)."""

    settings: Settings = field(default_factory=Settings)
    file: Path | None = None

    def resolve(self, value: str | None) -> str | None:
        """A path from the file, made relative to the file's folder (shown relative to the cwd)."""
        if value is None or self.file is None:
            return value
        p = Path(value)
        if not p.is_absolute():
            p = self.file.parent / p
        return _display(p)

    @property
    def rules(self) -> list[str]:
        return [r for r in (self.resolve(x) for x in self.settings.rules) if r is not None]

    @property
    def waivers(self) -> str | None:
        return self.resolve(self.settings.waivers)

    @property
    def baseline(self) -> str | None:
        return self.resolve(self.settings.baseline)

    @property
    def limits(self) -> _limits.Limits:
        """The limits in effect under this configuration (the defaults where it sets none)."""
        return _limits.from_mapping(self.settings.limits)


def _display(p: Path) -> str:
    try:
        rel = os.path.relpath(p)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(p)
    return rel if not rel.startswith("..") else str(p.resolve())


def find_config(start: str | Path | None = None) -> Path | None:
    """The nearest configuration file at or above ``start`` (the cwd by default)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        for name in YAML_NAMES:
            if (folder / name).is_file():
                return folder / name
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_table(pyproject):
            return pyproject
        if (folder / ".git").exists():
            return None
    return None


def discover(start: str | Path | None = None) -> Config:
    """The configuration in effect for ``start`` (empty when none is found)."""
    found = find_config(start)
    return load_config(found) if found is not None else Config()


def load_config(path: str | Path) -> Config:
    """Read and validate one configuration file (YAML, or a pyproject.toml's [tool.policycheck])."""
    p = Path(path)
    doc = _toml_document(p) if p.suffix == ".toml" else read_document(p, display=_display(p))
    settings = validate_document(doc, Settings, "the configuration")
    problems = [Problem(f"limits.{confine.shown(key)}: {why}", doc.location(("limits", key)))
                for key, why in _limits.problems(settings.limits)]
    problems += _path_problems(settings, doc, p)
    if problems:
        raise InputError(problems)
    return Config(settings, p.resolve())


def _path_problems(settings: Settings, doc: Document, path: Path) -> list[Problem]:
    """The file's paths that resolve outside its folder, the repository and POLICYCHECK_ALLOW."""
    folder = Path(os.path.abspath(path)).parent
    roots = confine.Roots.default().with_(confine.real(folder))
    named: list[tuple[tuple[str | int, ...], str]] = [(("rules", i), r) for i, r in enumerate(settings.rules)]
    named += [((key,), value) for key in ("waivers", "baseline") if (value := getattr(settings, key)) is not None]
    out = []
    for where, value in named:
        target = Path(value) if Path(value).is_absolute() else folder / value
        if confine.is_filesystem_root(target) or not roots.allows(confine.real(target)):
            out.append(Problem(f"'{confine.shown(value)[:80]}' is outside this file's folder and the repository; the "
                               f"configuration may only name files inside them (a trusted runner can list more folders "
                               f"in {confine.ALLOW_ENV}, or pass the path on the command line)", doc.location(where)))
    return out


_HEADER = re.compile(r"^\s*\[\s*tool\s*\.\s*policycheck\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_-]+|\"[^\"]*\")\s*=")
_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _has_table(path: Path) -> bool:
    try:
        text = read_bytes(path).decode("utf-8")
    except (InputError, UnicodeDecodeError):
        return False
    return any(_HEADER.match(line) for line in text.splitlines()) or "policycheck" in _tool_keys(text)


def _tool_keys(text: str) -> dict[str, object]:
    try:
        tool = tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError:
        return {}
    return tool if isinstance(tool, dict) else {}


def _toml_document(path: Path) -> Document:
    """The [tool.policycheck] table as a Document, with each key's line for error messages."""
    name = _display(path)
    raw = read_bytes(path, display=name)  # a regular file, within the size limit, confined
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(f"file is not valid UTF-8 (byte {exc.start})", Location(name))]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS.search(str(exc))
        msg = _TOML_POS.sub("", str(exc)).strip()
        loc = Location(name, int(m.group(1)), int(m.group(2))) if m else Location(name)
        raise InputError([Problem(f"invalid TOML: {msg}", loc)]) from None
    table = data.get("tool", {}).get("policycheck") if isinstance(data.get("tool"), dict) else None
    if table is None:
        raise InputError([Problem(f"no [{TABLE}] table in this file", Location(name))])
    doc = Document(name, table)
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is not None:
        doc.places[()] = (start + 1, 1)
        for i in range(start + 1, len(lines)):
            if _ANY_HEADER.match(lines[i]):
                break
            m = _KEY.match(lines[i])
            if m:
                key = m.group(2).strip('"')
                doc.places.setdefault((key,), (i + 1, len(m.group(1)) + 1))
    return doc


@dataclass(frozen=True)
class Options:
    """The options in effect for one run: command-line values where given, else the configuration's."""

    rules: tuple[str, ...]
    bundled: bool
    fail_on: Severity | None
    waivers: str | None
    baseline: str | None
    format: str
    limits: _limits.Limits = _limits.DEFAULT   # apply with policycheck.limits.use(options.limits)
    select_rules: tuple[str, ...] = ()
    skip_rules: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()          # patterns with a "/" made absolute (config: its folder; else the cwd)
    min_severity: Severity | None = None
    markdown_limit: int | None = None


def merge(config: Config, *, rules: tuple[str, ...] = (), bundled: bool | None = None, no_bundled: bool = False,
          fail_on: str | None = None,
          waivers: str | None = None, baseline: str | None = None, fmt: str | None = None,
          select_rules: tuple[str, ...] = (), skip_rules: tuple[str, ...] = (), families: tuple[str, ...] = (),
          conditions: tuple[str, ...] = (), exclude: tuple[str, ...] = (), min_severity: str | None = None,
          markdown_limit: int | None = None) -> Options:
    """The options in effect. ``bundled`` (``--bundled/--no-bundled``; None: not given) wins over
    the file's ``bundled``; ``no_bundled=True`` is the older spelling of ``bundled=False``.
    ``fail_on="none"`` turns a configured threshold off; each list option given on the command
    line replaces the file's list."""
    s = config.settings
    base = config.file.parent if config.file is not None else Path.cwd()
    patterns = (tuple(_anchor(p, Path.cwd()) for p in exclude) if exclude
                else tuple(_anchor(p, base) for p in s.exclude))
    return Options(
        rules=tuple(rules) if rules else tuple(config.rules),
        bundled=False if no_bundled else (s.bundled if bundled is None else bundled),
        fail_on=None if fail_on == "none" else (fail_on or s.fail_on),  # type: ignore[arg-type]
        waivers=waivers if waivers is not None else config.waivers,
        baseline=baseline if baseline is not None else config.baseline,
        format=fmt or s.format or "table",
        limits=config.limits,
        select_rules=tuple(select_rules) or tuple(s.select_rules),
        skip_rules=tuple(skip_rules) or tuple(s.skip_rules),
        families=tuple(families) or tuple(s.families),
        conditions=tuple(conditions) or tuple(s.conditions),
        exclude=patterns,
        min_severity=(min_severity or s.min_severity),  # type: ignore[arg-type]
        markdown_limit=markdown_limit if markdown_limit is not None else s.markdown_limit,
    )


def _anchor(pattern: str, base: Path) -> str:
    """An --exclude pattern with a "/" as an absolute pattern (relative to ``base``); others
    match any one path component and stay as they are."""
    if "/" not in pattern.strip("/"):
        return pattern.strip("/")
    p = pattern.rstrip("/")
    return posixpath.normpath(p if p.startswith("/") else (base.resolve() / p).as_posix())
