"""Load rule files from folders: parse and validate them, keeping each file's bytes for the digest.

Each rule is parsed once into the typed rule language (``load.parse``); a rule the engine
cannot run is refused here too (``engine.load_problems``, plain Python: loading never
imports the engine). Compiling happens later (``compile``).

Rule files are ``<family>/<id>.yaml`` under a rules folder; files ending in ``.test.yaml``
and anything under a ``tests`` folder are fixtures, not rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from policycheck import limits
from policycheck.engine import load_problems
from policycheck.errors import InputError, Location, Problem, RuleLoadError
from policycheck.load.parse import parse_rule
from policycheck.model.conditions import RuleSpec
from policycheck.model.rule import Rule
from policycheck.io import confine
from policycheck.io.schema_errors import validate_document
from policycheck.io.reader import Document, read_bytes, read_document
from policycheck.limits import Limits

RULE_SUFFIXES = (".yaml", ".yml")
_PARSED: dict[tuple[str, str, bytes, Limits], LoadedRule] = {}  # (file, family, bytes, limits) -> the rule
_PARSED_MAX = 4096   # a process that loads many packs (tests, a server) keeps at most this many


@dataclass(frozen=True)
class LoadedRule:
    spec: RuleSpec
    family: str
    file: str
    line: int
    document: Document
    data: bytes = b""             # the file's bytes, for the pack digest

    @property
    def rule(self) -> Rule:
        return self.spec.rule

    @property
    def id(self) -> str:
        return self.spec.rule.id


@dataclass(frozen=True)
class RulePack:
    rules: tuple[LoadedRule, ...]
    digest: str                   # sha256 of the rule files' bytes, in id order

    def by_id(self) -> dict[str, LoadedRule]:
        return {r.id: r for r in self.rules}


def bundled_rules_dir() -> Path:
    """The rule pack shipped with policycheck (inside the wheel, or the source checkout's rules/)."""
    packaged = resources.files("policycheck") / "_bundled_rules"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[3] / "rules"
    if checkout.is_dir():
        return checkout
    raise RuleLoadError("the bundled rule pack is missing from this installation; pass --rules DIR")


def is_fixture(path: Path, root: Path) -> bool:
    rel = path.relative_to(root)
    return path.name.endswith((".test.yaml", ".test.yml")) or "tests" in rel.parts[:-1]


def _not_a_rule(parts: tuple[str, ...]) -> bool:
    """Walk filter: hidden and ``_`` entries, fixtures and ``tests`` folders are not rules."""
    return any(s.startswith((".", "_")) for s in parts) or parts[-1].endswith((".test.yaml", ".test.yml")) \
        or "tests" in parts


def check_rules_folder(folder: Path) -> None:
    """Refuse a rules folder the tool must not walk: the filesystem root, or one reached
    through a symbolic link that leaves the allowed roots (``io.confine``)."""
    shown = confine.shown(folder)
    if confine.is_filesystem_root(folder):
        raise RuleLoadError([Problem("refusing to walk the filesystem root as a rules folder; name the folder that "
                                     "holds the rule files", Location(shown))])
    why = confine.named_problem(folder, what="rules folder" if folder.is_dir() else "rule file")
    if why is not None:
        raise RuleLoadError([Problem(why, Location(shown))])


def iter_rule_files(folder: Path) -> list[Path]:
    """The rule files under ``folder`` (sorted), walked safely (``io.confine.walk``): entries
    that cannot be read are returned as ``confine.RefusedPath`` items (``load_rule_file``
    raises their reason). Raises RuleLoadError for a folder that does not exist or may not be
    walked (``check_rules_folder``)."""
    check_rules_folder(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        broken = confine.describe(folder)
        raise RuleLoadError([Problem(broken or "no such rules folder", Location(confine.shown(folder)))])
    return confine.walk(folder, RULE_SUFFIXES, skip=_not_a_rule, what="rule file").entries()


def load_rules(folders: Sequence[str | Path] = (), *, bundled: bool = True) -> RulePack:
    """Load the bundled pack (unless ``bundled`` is False) plus every rule under ``folders``."""
    roots = ([bundled_rules_dir()] if bundled else []) + [Path(f) for f in folders]
    problems: list[Problem] = []
    loaded: list[LoadedRule] = []
    seen: dict[str, LoadedRule] = {}
    hasher = hashlib.sha256()
    for root in roots:
        try:
            files = iter_rule_files(root)
        except RuleLoadError as exc:
            problems.extend(exc.problems)
            continue
        for path in files:
            try:
                rule = load_rule_file(path, root)
            except InputError as exc:
                problems.extend(exc.problems)
                continue
            if rule.id in seen:
                problems.append(Problem(f"duplicate rule id '{rule.id}' (also in {seen[rule.id].file})",
                                        Location(rule.file, rule.line, 1, "id")))
                continue
            seen[rule.id] = rule
            loaded.append(rule)
    if problems:
        raise RuleLoadError(problems)
    loaded.sort(key=lambda r: r.id)
    for r in loaded:
        hasher.update(r.id.encode() + b"\0" + r.data + b"\0")
    return RulePack(tuple(loaded), hasher.hexdigest()[:16])


def load_rule_file(path: Path, root: Path | None = None) -> LoadedRule:
    display = str(path)
    data = read_bytes(path, display=display, roots=confine.Roots.default(root) if root is not None else None)
    family = path.parent.name if root is None or path.parent != root else "general"
    key = (display, family, data, limits.current())  # rule checks read the limits in effect
    if key in _PARSED:  # parsing and checking are a function of the bytes: read again, parsed once
        return _PARSED[key]
    doc = read_document(path, display=display, raw=data)  # the bytes parsed are the bytes digested
    rule = validate_document(doc, Rule, "a rule file", shape="with id, title, when, ...",
                             error=RuleLoadError)
    if rule.id != path.stem:
        raise RuleLoadError([Problem(f"rule id '{rule.id}' must equal the file name '{path.stem}'", doc.location(("id",)))])
    spec, problems = check_rule(rule, doc)
    if spec is None:
        raise RuleLoadError(problems)
    loaded = LoadedRule(spec, family, display, doc.line_of(("id",)) or 1, doc, data)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = loaded
    return loaded


def check_rule(rule: Rule, doc: Document) -> tuple[RuleSpec | None, list[Problem]]:
    """Parse a validated rule and check the engine can run it: the spec, or None and the problems."""
    spec, problems = parse_rule(rule, doc)
    if spec is not None:
        problems = load_problems(spec)
    return (spec, []) if spec is not None and not problems else (None, problems)

