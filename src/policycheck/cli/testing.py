"""`policycheck test` and `policycheck lint` (rule unit tests and rule lint)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from policycheck.cli.common import EXIT_FLAGGED, EXIT_OK, Fail, guard, rules_option

EXIT_FAILED = EXIT_FLAGGED  # a failing rule test or a lint finding


def _folders(dirs: Sequence[str], rules_dirs: Sequence[str], bundled: bool | None) -> list[Path]:
    """The rule folders of the pack, each once. ``--rules DIR`` means what it means on assess
    (a folder added to the bundled pack unless --no-bundled); folders given positionally keep
    their old meaning, the pack under test alone unless --bundled; with neither, the bundled pack."""
    from policycheck.ruletest.lint import unique_folders
    from policycheck.load.rules import bundled_rules_dir

    chosen = [Path(d) for d in (*dirs, *rules_dirs)]
    if bundled is None:
        bundled = not dirs or bool(rules_dirs)
    if not bundled and not chosen:
        raise click.UsageError("--no-bundled needs at least one rule folder (RULES_DIR or --rules DIR)")
    if bundled:
        chosen.insert(0, _relative(bundled_rules_dir()))
    return unique_folders(chosen)


def _relative(path: Path) -> Path:
    """``path`` relative to the working directory when it lies inside it (shorter file:line output)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


_DIRS = click.argument("dirs", nargs=-1, type=click.Path(exists=True, file_okay=False), metavar="[RULES_DIR]...")


@click.command(name="test")
@_DIRS
@click.option("-k", "pattern", metavar="PATTERN", default=None,
              help="Run only tests whose rule id or name contains PATTERN (case-insensitive).")
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Report, per rule, firing and non-firing fixtures, and per condition the rules covered.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Exit 1 when fewer than PCT% of rules have both a firing and a non-firing fixture.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="Also print a line for every passing test.")
@rules_option
def test_cmd(dirs: tuple[str, ...], pattern: str | None, show_coverage: bool, min_coverage: float | None,
             fmt: str, verbose: bool, rules_dirs: tuple[str, ...], bundled: bool | None) -> None:
    """Run the rule fixtures (*.test.yaml) of a rule pack.

    The pack is the rules under RULES_DIR alone (add --bundled for fixtures that name bundled
    rules), or the bundled pack and each --rules DIR, as for assess (default: the bundled
    pack; --no-bundled: the --rules folders alone). Prints one line per
    failing test, "file:line: [rule] name: expected ..., got ...", then "N passed, N failed".
    Exit 0 when every test passes, 1 when one fails (or coverage is below --min-coverage),
    2 on bad input.

    \b
    Example:
        policycheck test
        policycheck test my-rules/ -k "output ban" --coverage --min-coverage 100
        policycheck test --rules my-rules/            # my rules and the bundled pack
    """
    from policycheck.ruletest.coverage import coverage, render_text
    from policycheck.ruletest.fixtures import load_suite, run_suite
    from policycheck.load.rules import load_rules

    folders = _folders(dirs, rules_dirs, bundled)
    pack = guard(lambda: load_rules(folders, bundled=False))
    suite = guard(lambda: load_suite(folders, pattern))
    if not suite.tests:
        raise Fail([f"{', '.join(map(str, folders))}: no fixture tests found"
               + (f" matching -k '{pattern}'" if pattern else " (write <rule id>.test.yaml beside each rule)")])
    results = guard(lambda: run_suite(suite, pack))
    failed = [r for r in results if not r.passed]
    cov = coverage(pack, suite.tests) if show_coverage or min_coverage is not None else None
    below = cov is not None and min_coverage is not None and cov.percent + 1e-9 < min_coverage
    if fmt == "json":
        body: dict[str, Any] = {
            "passed": len(results) - len(failed),
            "failed": len(failed),
            "tests": [{"file": r.test.file, "line": r.test.line, "rule": r.test.rule, "name": r.test.name,
                       "passed": r.passed, "failures": list(r.failures)} for r in results],
            "coverage": cov.to_dict() if cov is not None else None,
            "min_coverage": min_coverage,
        }
        click.echo(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        for r in results:
            if not r.passed:
                click.echo(r.test.file + f":{r.test.line}: [{r.test.rule}] {r.test.name}: " + "; ".join(r.failures))
            elif verbose:
                click.echo(f"{r.test.file}:{r.test.line}: [{r.test.rule}] {r.test.name}: ok")
        if cov is not None:
            for line in render_text(cov):
                click.echo(line)
            if below:
                click.echo(f"coverage {cov.percent:.1f}% is below --min-coverage {min_coverage:g}%")
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    click.get_current_context().exit(EXIT_FAILED if failed or below else EXIT_OK)


@click.command(name="lint")
@_DIRS
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@rules_option
def lint_cmd(dirs: tuple[str, ...], fmt: str, rules_dirs: tuple[str, ...], bundled: bool | None) -> None:
    """Lint a rule pack: load errors, duplicate ids, blank citations, unfilled placeholders,
    patterns that can never match, and rules without firing and non-firing fixtures.

    The rule folders are chosen as for `policycheck test` (RULES_DIR alone, or the bundled
    pack and each --rules DIR). Prints one "file:line: code: message" line per finding. Exit 0 when clean, 1 with findings,
    2 on bad input or usage.

    \b
    Example:
        policycheck lint
        policycheck lint my-rules/
    """
    from policycheck.ruletest.lint import lint

    report = lint(_folders(dirs, rules_dirs, bundled))
    if fmt == "json":
        body = {"rules": report.rules, "tests": report.tests,
                "findings": [{"file": f.file, "line": f.line, "code": f.code, "message": f.message}
                             for f in report.findings]}
        click.echo(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False))
    else:
        for f in report.findings:
            click.echo(f.render())
        n = len(report.findings)
        summary = f"{n} finding{'s' if n != 1 else ''}" if n else "no findings"
        click.echo(f"{summary} ({report.rules} rules, {report.tests} fixture tests)")
    click.get_current_context().exit(EXIT_FAILED if report.findings else EXIT_OK)


COMMANDS: list[click.Command] = [test_cmd, lint_cmd]
