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

from policycheck.engine import load_problems
from policycheck.errors import InputError, Location, Problem, RuleLoadError
from policycheck.load.parse import parse_rule
from policycheck.model.conditions import RuleSpec
from policycheck.model.rule import Rule
from policycheck.io.schema_errors import validate_document
from policycheck.io.reader import Document, read_document

RULE_SUFFIXES = (".yaml", ".yml")


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


def iter_rule_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise RuleLoadError([Problem("no such rules folder", Location(str(folder)))])
    return sorted(p for p in folder.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file()
                  and not is_fixture(p, folder) and not any(s.startswith((".", "_")) for s in p.relative_to(folder).parts))


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
    doc = read_document(path, display=display)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleLoadError([Problem(f"cannot read file: {exc.strerror or exc}", Location(display))]) from None
    rule = validate_document(doc, Rule, "a rule file", shape="with id, title, when, ...",
                             error=RuleLoadError)
    if rule.id != path.stem:
        raise RuleLoadError([Problem(f"rule id '{rule.id}' must equal the file name '{path.stem}'", doc.location(("id",)))])
    spec, problems = check_rule(rule, doc)
    if spec is None:
        raise RuleLoadError(problems)
    family = path.parent.name if root is None or path.parent != root else "general"
    return LoadedRule(spec, family, display, doc.line_of(("id",)) or 1, doc, data)


def check_rule(rule: Rule, doc: Document) -> tuple[RuleSpec | None, list[Problem]]:
    """Parse a validated rule and check the engine can run it: the spec, or None and the problems."""
    spec, problems = parse_rule(rule, doc)
    if spec is not None:
        problems = load_problems(spec)
    return (spec, []) if spec is not None and not problems else (None, problems)

