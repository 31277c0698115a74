"""pytest plugin: collects rule fixtures (``*.test.yaml``) as test items.

Registered as the ``policycheck`` ``pytest11`` entry point, so plain ``pytest`` picks it up.
A fixture file is collected when it lies under a rule folder: a folder named ``rules``, or
one given by the ``policycheck_rules`` ini option or ``--policycheck-rules DIR``. Each test
of the file becomes one item, with the test's sentence as its name::

    rules/licence-terms/output-training-ban.test.yaml::A licence that bars outputs ...

The rule pack a fixture runs against is every configured rule folder plus the rule folder
that holds the fixture, loaded once per session. A configured folder is collected wherever
it is: when pytest runs without paths (its invocation folder or ``testpaths``), configured
folders outside them are added to the run; with paths given, only those are collected. The
header line says which folders are configured and what became of each
(``policycheck: rule folders: ../shared-rules (outside the test paths: collected)``).
Disable with ``-p no:policycheck``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the plugin is imported by every pytest run: keep policycheck imports lazy
    from _pytest._code.code import TerminalRepr

    from policycheck.ruletest.fixtures import LoadedTest, TestResult
    from policycheck.load.rules import RulePack

_PACKS = pytest.StashKey[dict[tuple[Path, ...], Any]]()
_NOTES = pytest.StashKey[dict[Path, str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("policycheck", "policycheck rule fixtures")
    group.addoption("--policycheck-rules", action="append", default=[], metavar="DIR", dest="policycheck_rules",
                    help="Rule folder whose rules join the pack and whose fixtures are collected (repeatable).")
    parser.addini("policycheck_rules", type="paths", default=[],
                  help="Rule folders (relative to the ini file) whose rules form the pack for rule fixtures.")


def _configured(config: pytest.Config) -> list[Path]:
    dirs = [Path(p) for p in config.getini("policycheck_rules")]
    dirs += [Path(p) if Path(p).is_absolute() else Path(config.invocation_params.dir) / p
             for p in config.getoption("policycheck_rules")]
    out: list[Path] = []
    for d in dirs:
        resolved = d.resolve()
        if resolved not in out:
            out.append(resolved)
    return out


def _root(config: pytest.Config, path: Path) -> Path | None:
    """The rule folder holding the fixture file at ``path``, if it lies in one."""
    resolved = path.resolve()
    for d in _configured(config):
        if resolved.is_relative_to(d):
            return d
    for parent in resolved.parents:
        if parent.name == "rules":
            return parent
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    root = _root(parent.config, file_path)
    if root is None:
        return None
    from policycheck.load.rules import is_fixture

    if not is_fixture(file_path.resolve(), root):
        return None
    return RuleFixtureFile.from_parent(parent, path=file_path)


def _pack(config: pytest.Config, root: Path) -> RulePack:
    from policycheck.load.rules import load_rules

    folders = tuple(dict.fromkeys([*_configured(config), root]))
    packs = config.stash.setdefault(_PACKS, {})
    if folders not in packs:
        try:
            packs[folders] = load_rules(folders, bundled=False)
        except Exception as exc:  # remembered, so every file of this pack reports it
            packs[folders] = exc
    found = packs[folders]
    if isinstance(found, Exception):
        raise found
    return found  # type: ignore[no-any-return]


class RuleFixtureFile(pytest.File):
    """One ``*.test.yaml`` file: one item per test in it."""

    def collect(self) -> Iterator[RuleFixtureItem]:
        from policycheck.errors import PolicycheckError
        from policycheck.ruletest.fixtures import load_fixture_file

        root = _root(self.config, self.path)
        assert root is not None
        try:
            pack = _pack(self.config, root)
            tests = load_fixture_file(self.path)
        except PolicycheckError as exc:
            raise self.CollectError("\n".join(exc.lines())) from None
        seen: set[str] = set()
        for t in tests:
            name = t.name if t.name not in seen else f"{t.name} (line {t.line})"
            seen.add(name)
            yield RuleFixtureItem.from_parent(self, name=name, test=t, pack=pack)


class RuleFixtureFailed(Exception):
    """A fixture's expectation did not hold; carries the difference lines."""

    def __init__(self, result: TestResult) -> None:
        super().__init__("; ".join(result.failures))
        self.result = result


class RuleFixtureItem(pytest.Item):
    """One fixture test: assess its case with the pack and compare with ``expect``."""

    def __init__(self, *, test: LoadedTest, pack: RulePack, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test, self.pack = test, pack
        self.add_marker(pytest.mark.policycheck_fixture)

    def runtest(self) -> None:
        from policycheck.ruletest.fixtures import Suite, run_suite

        (result,) = run_suite(Suite([self.test]), self.pack)
        if not result.passed:
            raise RuleFixtureFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | TerminalRepr:
        from policycheck.errors import PolicycheckError

        t = self.test
        try:
            shown = self.path.relative_to(self.config.rootpath).as_posix()
        except ValueError:
            shown = t.file
        head = f"{shown}:{t.line}: [{t.rule}] {t.name}"
        if isinstance(excinfo.value, RuleFixtureFailed):
            return "\n".join([head, *(f"  {line}" for line in excinfo.value.result.failures)])
        if isinstance(excinfo.value, PolicycheckError):
            return "\n".join([head, *(f"  error: {line}" for line in excinfo.value.lines())])
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.test.line - 1, f"[{self.test.rule}] {self.test.name}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "policycheck_fixture: a rule fixture test collected from a *.test.yaml file")
    config.stash[_NOTES] = _add_outside_folders(config)


def _add_outside_folders(config: pytest.Config) -> dict[Path, str]:
    """Add the configured rule folders that the run would not reach to its paths (only when
    pytest chose the paths itself); say for each configured folder what became of it."""
    notes: dict[Path, str] = {}
    chosen = config.args_source != pytest.Config.ArgsSource.ARGS
    base = Path(config.invocation_params.dir)
    roots = [(base / arg.split("::", 1)[0]).resolve() for arg in config.args]
    for d in _configured(config):
        if not d.is_dir():
            notes[d] = "not a folder: nothing collected"
        elif any(d.is_relative_to(r) for r in roots):
            notes[d] = "collected"
        elif chosen:
            config.args.append(str(d))
            notes[d] = "outside the test paths: collected"
        else:
            notes[d] = "not under the paths given: not collected"
    return notes


def pytest_report_header(config: pytest.Config) -> list[str]:
    notes = config.stash.get(_NOTES, {})
    if not notes:
        return []
    root = Path(config.rootpath).resolve()

    def shown(d: Path) -> str:
        return str(d.relative_to(root)) if d.is_relative_to(root) else str(d)

    return ["policycheck: rule folders: " + ", ".join(f"{shown(d)} ({why})" for d, why in notes.items())]
