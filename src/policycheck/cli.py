"""The command line: a thin click layer over the library.

Only this module turns PolicycheckError into one-line messages and exit codes:
0 ok, 1 a flag at or above --fail-on, 2 bad input or usage.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from policycheck import __version__

EXIT_OK, EXIT_FLAGGED, EXIT_INPUT = 0, 1, 2
SEVERITIES = ("info", "low", "medium", "high")


class _Fail(click.ClickException):
    exit_code = EXIT_INPUT

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)

    def show(self, file: Any = None) -> None:
        for line in self.lines:
            click.echo(f"error: {line}", err=True)


def _guard(fn: Callable[[], Any]) -> Any:
    from policycheck.errors import PolicycheckError

    try:
        return fn()
    except PolicycheckError as exc:
        raise _Fail(exc.lines()) from None


def _write(text: str, output: str | None) -> None:
    """Write all output at once; a file is replaced atomically, never half-written."""
    if output is None or output == "-":
        click.echo(text, nl=False)
        return
    target = Path(output)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".policycheck-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _Fail([f"{output}: cannot write: {exc.strerror or exc}"]) from None


def _rules_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--rules", "rules_dirs", multiple=True, type=click.Path(), metavar="DIR",
                      help="Extra rule folder (repeatable); added to the bundled pack.")(fn)
    fn = click.option("--no-bundled", is_flag=True, help="Use only the --rules folders, not the bundled pack.")(fn)
    return fn


def _load_pack(rules_dirs: Sequence[str], no_bundled: bool) -> Any:
    from policycheck.rule_loader import load_rules

    if no_bundled and not rules_dirs:
        raise click.UsageError("--no-bundled needs at least one --rules DIR")
    return _guard(lambda: load_rules(rules_dirs, bundled=not no_bundled))


def _load_cases(paths: Sequence[str]) -> list[Any]:
    from policycheck.case_loader import iter_case_files, load_case
    from policycheck.errors import PolicycheckError

    cases, errors = [], []
    files = list(iter_case_files(paths))
    if not files:
        raise _Fail([f"{', '.join(paths)}: no case files (.yaml, .yml, .json) found"])
    for f in files:
        try:
            cases.append(load_case(f))
        except PolicycheckError as exc:
            errors.extend(exc.lines())
    if errors:
        raise _Fail(errors)
    return cases


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="policycheck")
def main() -> None:
    """Assess AI model licences, partnerships and data-access changes against the CMA's
    AI Foundation Models report (chapter 3): conditions C1-C4 and open-then-closed risks.
    """


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
              help="Exit 1 when any flag is at or above this severity.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE instead of stdout.")
@_rules_option
def assess(paths: tuple[str, ...], fmt: str, fail_on: str | None, output: str | None,
           rules_dirs: tuple[str, ...], no_bundled: bool) -> None:
    """Assess case files (or folders of them) and print the flagged assessment.

    \b
    Example:
        policycheck assess cases/
        policycheck assess cases/licences/llama-2.yaml --format json --fail-on high
    """
    from policycheck.assess import assess as run_assess
    from policycheck.rule import SEVERITY_ORDER

    pack = _load_pack(rules_dirs, no_bundled)
    cases = _load_cases(paths)
    result = _guard(lambda: run_assess(cases, pack))
    if fmt == "json":
        text = result.to_json()
    else:
        from policycheck.render.table import render_assessment

        text = render_assessment(result)
    _write(text, output)
    if fail_on is not None:
        limit = SEVERITY_ORDER[fail_on]
        if any(SEVERITY_ORDER[f.severity] >= limit for c in result.cases for f in c.flags):
            sys.exit(EXIT_FLAGGED)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def validate(paths: tuple[str, ...]) -> None:
    """Check case files against the case format; print one line per problem.

    \b
    Example:
        policycheck validate cases/
    """
    cases = _load_cases(paths)
    click.echo(f"{len(cases)} case file{'s' if len(cases) != 1 else ''} valid")


@main.command(name="rules")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@_rules_option
def rules_cmd(fmt: str, rules_dirs: tuple[str, ...], no_bundled: bool) -> None:
    """List the rules: id, severity, conditions, citation and title.

    \b
    Example:
        policycheck rules
        policycheck rules --format markdown > docs/rules.md
    """
    from policycheck.render import catalogue

    pack = _load_pack(rules_dirs, no_bundled)
    click.echo(catalogue.render(pack, fmt), nl=False)


@main.command()
def schema() -> None:
    """Print the JSON Schema of the case format (for editors and CI validation).

    \b
    Example:
        policycheck schema > case.schema.json
    """
    import json

    from policycheck.case import Case

    body = Case.model_json_schema()
    body["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    body["title"] = "policycheck case file v1"
    click.echo(json.dumps(body, indent=2, sort_keys=True))


@main.command()
def facts() -> None:
    """Print the fact vocabulary rules can use: fact types, fields, kinds and allowed values.

    \b
    Example:
        policycheck facts | less
    """
    import json

    from policycheck.vocabulary import export

    click.echo(json.dumps(export(), indent=2, sort_keys=True))


def _register() -> None:
    from policycheck.commands import review, testing

    for module in (testing, review):
        for command in module.COMMANDS:
            main.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
