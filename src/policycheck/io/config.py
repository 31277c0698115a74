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

Command-line options win over the file; ``--rules`` given on the command line replaces
the file's ``rules`` list.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policycheck.errors import InputError, Location, Problem
from policycheck.model.rule import Severity
from policycheck.io.schema_errors import validate_document
from policycheck.io.reader import MAX_BYTES, Document, read_document

FORMATS = ("table", "json", "markdown", "sarif", "junit", "html")
Format = Literal["table", "json", "markdown", "sarif", "junit", "html"]
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
    return Config(settings, p.resolve())


_HEADER = re.compile(r"^\s*\[\s*tool\s*\.\s*policycheck\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_-]+|\"[^\"]*\")\s*=")
_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _has_table(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
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
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_BYTES:
            raise InputError([Problem(f"file is larger than {MAX_BYTES} bytes", Location(name))])
        text = raw.decode("utf-8")
    except OSError as exc:
        raise InputError([Problem(f"cannot read file: {exc.strerror or exc}", Location(name))]) from None
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


def merge(config: Config, *, rules: tuple[str, ...] = (), no_bundled: bool = False, fail_on: str | None = None,
          waivers: str | None = None, baseline: str | None = None, fmt: str | None = None) -> Options:
    s = config.settings
    return Options(
        rules=tuple(rules) if rules else tuple(config.rules),
        bundled=False if no_bundled else s.bundled,
        fail_on=fail_on or s.fail_on,  # type: ignore[arg-type]
        waivers=waivers if waivers is not None else config.waivers,
        baseline=baseline if baseline is not None else config.baseline,
        format=fmt or s.format or "table",
    )
